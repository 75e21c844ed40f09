// The redux-token-auth page's bundle (docs/clients.md §9.2): the npm-published redux-token-auth 0.19.0
// (CommonJS, so it needs a bundler) and what an app wires it with, put on `window` for the page.
// Built by build-redux-token-auth.mjs; the library and the page share this one axios, which is
// the one redux-token-auth configures through axios.defaults.headers.common.
import * as reduxTokenAuth from 'redux-token-auth';
import { generateAuthActions, reduxTokenAuthReducer } from 'redux-token-auth';
import { applyMiddleware, combineReducers, createStore } from 'redux';
import thunk from 'redux-thunk';
import axios from 'axios';

Object.assign(window, {
  // Everything the package exports, by name: what an app can reach at all (less `default`, which
  // esbuild's CommonJS interop adds as the whole exports object).
  reduxTokenAuthExports: Object.keys(reduxTokenAuth).filter((k) => k !== 'default').sort(),
  generateAuthActions,
  reduxTokenAuthReducer,
  createStore,
  combineReducers,
  applyMiddleware,
  thunk,
  axios,
});
