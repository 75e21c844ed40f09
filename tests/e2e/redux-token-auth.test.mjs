// redux-token-auth 0.19.0 (bundled with esbuild: redux-thunk 2.4.2, axios 0.16.2, react 15.7.0,
// react-redux 5.1.2) in headless Chromium against the toker binary, cross-origin. The docs/clients.md
// §9.3 scenario through the library's own thunks (registerUser, signInUser, verifyCredentials,
// signOutUser); app requests go through the axios whose default headers the library sets.
//
// redux-token-auth needs `change_headers_on_each_request = false` (docs/clients.md headline 2): it
// reads auth headers only from the sign-up, sign-in and validate responses. The second suite below
// shows what happens with rotation on. The steps the library has no API for are named tests that
// prove the absence, from the generated actions and from the library's published code.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildReduxTokenAuth } from './build-redux-token-auth.mjs';
import { apiCalls, apiGet, firstLink, openPage, sleep, suite, waitFor, waitForReady } from './harness.mjs';

// The page loads /build/redux-token-auth.js: build it before any environment starts.
await buildReduxTokenAuth();

const HERE = path.dirname(fileURLToPath(import.meta.url));
const LIB_DIST = path.join(HERE, 'node_modules', 'redux-token-auth', 'dist');

const WINDOW_S = 2; // batch_request_buffer_throttle for these runs
const AFTER_WINDOW_MS = WINDOW_S * 1000 + 300;

const T = (name) => `redux-token-auth/${name}`;

const rta = {
  stored: (e) => e.page.evaluate(() => window.stored()),
  axiosDefaults: (e) => e.page.evaluate(() => window.axiosDefaults()),
  user: (e) => e.page.evaluate(() => window.currentUser()),
  log: (e) => e.page.evaluate(() => window.actionsLog.slice()),
  get: (e, p) => e.page.evaluate((x) => window.get(x), p),
  // Dispatches actions[name](arg) and settles it into {ok, value}.
  dispatch: (e, name, arg) => e.page.evaluate(([n, a]) => window.dispatch(n, a), [name, arg]),
  // verifyCredentials(store) returns nothing: wait for the verification it started, if any, to
  // finish. Resolves to 'none', 'succeeded' or 'failed'.
  verification: async (e) => {
    await waitFor('verifyCredentials to settle', () => e.page.evaluate(() => {
      const log = window.actionsLog;
      return !log.includes('redux-token-auth/VERIFY_TOKEN_REQUEST_SENT') ||
        log.includes('redux-token-auth/VERIFY_TOKEN_REQUEST_SUCCEEDED') ||
        log.includes('redux-token-auth/VERIFY_TOKEN_REQUEST_FAILED');
    }));
    const log = await rta.log(e);
    if (!log.includes(T('VERIFY_TOKEN_REQUEST_SENT'))) return 'none';
    return log.includes(T('VERIFY_TOKEN_REQUEST_SUCCEEDED')) ? 'succeeded' : 'failed';
  },
};

/** Loads the app page and waits for the verifyCredentials it runs at start to settle. */
async function openApp(e, query = '') {
  await openPage(e, `/redux-token-auth.html${query}`);
  return rta.verification(e);
}

const authHeaders = (h) => ({ 'access-token': h['access-token'], client: h.client, uid: h.uid });
const FIVE = ['access-token', 'token-type', 'client', 'expiry', 'uid'];

function assertFiveHeaders(h, uid) {
  assert.ok(h, 'redux-token-auth stored credentials');
  assert.match(h['access-token'], /^[A-Za-z0-9_-]{22}$/);
  assert.match(h.client, /^[A-Za-z0-9_-]{22}$/);
  assert.equal(h.uid, uid);
  assert.equal(h['token-type'], 'Bearer');
  assert.match(h.expiry, /^\d{10}$/);
}

async function signOutDirect(e, creds) {
  const res = await fetch(`${e.api}/auth/sign_out`, { method: 'DELETE', headers: authHeaders(creds) });
  return { status: res.status, body: await res.json().catch(() => null) };
}

// ---- what the published library can do at all ----------------------------------------------
//
// Every HTTP request redux-token-auth 0.19.0 can make, read from its published dist/: the axios
// calls (method and URL relative to `authUrl`). A step needs one of these or the library cannot
// do it.

const GENERATED_ACTIONS = ['registerUser', 'signInUser', 'signOutUser', 'verifyCredentials', 'verifyToken'];
const LIBRARY_REQUESTS = [
  'POST {authUrl}', 'GET {authUrl}/validate_token', 'POST {authUrl}/sign_in', 'DELETE {authUrl}/sign_out',
];

function distSources() {
  const out = {};
  const walk = (dir) => {
    for (const f of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, f.name);
      if (f.isDirectory()) walk(p);
      else if (f.name.endsWith('.js')) out[path.relative(LIB_DIST, p)] = fs.readFileSync(p, 'utf8');
    }
  };
  walk(LIB_DIST);
  return out;
}

function libraryRequests() {
  const requests = [];
  for (const [file, src] of Object.entries(distSources())) {
    // Only the `axios_1.default({method, url, ...})` form occurs; any other way to send would
    // show up as a call on axios that this does not recognise.
    const calls = [...src.matchAll(/axios_1\.default\(\{\s*method:\s*'(\w+)',\s*url:\s*authUrl(?:\s*\+\s*"([^"]*)")?\s*,/g)];
    requests.push(...calls.map((m) => `${m[1]} {authUrl}${m[2] ?? ''}`));
    const other = src.match(/axios_1\.default(?:\.(?:get|post|put|patch|delete|head|request)\s*\(|\s*\()/g) ?? [];
    assert.equal(other.length, calls.length, `${file}: every axios call is a recognised request`);
  }
  return requests;
}

/**
 * Proves redux-token-auth 0.19.0 cannot do a step: the generated actions are the five above (none
 * for this step), the package exports nothing else that sends requests, and no request the
 * library can make is the one the step needs (`needs`, as "METHOD {authUrl}/path").
 */
async function assertLibraryLacks(e, needs) {
  assert.deepEqual(await e.page.evaluate(() => Object.keys(window.actions).sort()), GENERATED_ACTIONS);
  assert.deepEqual(await e.page.evaluate(() => window.reduxTokenAuthExports),
    ['generateAuthActions', 'generateRequireSignInWrapper', 'reduxTokenAuthReducer']);
  const requests = libraryRequests();
  assert.deepEqual([...requests].sort(), [...LIBRARY_REQUESTS].sort());
  for (const n of needs) assert.ok(!requests.includes(n), `the library sends no ${n}`);
}

describe('redux-token-auth, change_headers_on_each_request = false (its requirement)', () => {
  const s = suite('redux-token-auth', {
    env: {
      TOKER_CHANGE_HEADERS_ON_EACH_REQUEST: 'false',
      TOKER_BATCH_REQUEST_BUFFER_THROTTLE: String(WINDOW_S),
      TOKER_SIGN_UP_ATTRIBUTES: '["name"]',
    },
  });
  const email = `rta-${process.pid}@example.com`;
  const password = 'first-secret';
  let signedIn; // the credentials after sign-in

  s.step('page loads: nothing stored, verifyCredentials makes no request', async (e) => {
    assert.equal(await openApp(e), 'none');
    assert.equal(await rta.stored(e), null);
    assert.deepEqual(await rta.user(e), { isSignedIn: false, isLoading: false, attributes: {} });
    assert.deepEqual(await e.page.evaluate(() => Object.keys(window.actions).sort()), GENERATED_ACTIONS);
    assert.equal((await apiCalls(e)).length, 0);
  });

  s.step('sign up: registerUser posts JSON without confirm_success_url; unconfirmed, so no token', async (e) => {
    const r = await rta.dispatch(e, 'registerUser', { email, password, passwordConfirmation: password, fullName: 'Redux User' });
    assert.equal(r.ok, true, JSON.stringify(r.value));
    const [call] = (await apiCalls(e)).filter((c) => c.method === 'POST' && c.path === '/auth');
    assert.equal(call.status, 200);
    assert.match(call.reqHeaders['content-type'], /^application\/json/);
    // userRegistrationAttributes maps fullName -> name; no confirm_success_url (docs/clients.md §6),
    // so toker uses default_confirm_success_url.
    assert.deepEqual(JSON.parse(call.postData), { email, password, password_confirmation: password, name: 'Redux User' });
    assert.equal(call.resHeaders['access-token'], undefined, 'an unconfirmed user gets no token');
    // The library's quirks (docs/clients.md §6): it reports signed in regardless and stores the
    // missing headers as the string "undefined".
    const user = await rta.user(e);
    assert.equal(user.isSignedIn, true);
    assert.deepEqual(user.attributes, { email, uid: email, fullName: 'Redux User' });
    assert.deepEqual(await rta.stored(e), Object.fromEntries(FIVE.map((k) => [k, 'undefined'])));
  });

  s.step('sign in before confirming: signInUser rejects with 401 and the confirmation message', async (e) => {
    const r = await rta.dispatch(e, 'signInUser', { email, password });
    assert.equal(r.ok, false);
    assert.equal(r.value.status, 401);
    assert.deepEqual(r.value.body.errors, [
      `A confirmation email was sent to your account at '${email}'. You must follow the instructions in the email before your account can be activated`,
    ]);
    assert.equal((await rta.user(e)).isSignedIn, false);
  });

  s.step('confirm: the mailed link lands on default_confirm_success_url; the app\'s verifyCredentials is then refused', async (e) => {
    const mail = await e.mail.next({ to: email, subject: 'Confirmation instructions' });
    const link = firstLink(mail.text);
    assert.ok(link.startsWith(`${e.api}/auth/confirmation?`), link);
    // registerUser sent no confirm_success_url, so toker redirects to default_confirm_success_url
    // (the harness's `<page origin>/confirmed`); redux-token-auth reads nothing from that URL.
    await e.page.goto(link);
    const landed = new URL(e.page.url());
    assert.equal(landed.origin + landed.pathname, `${e.origin}/confirmed`);
    assert.deepEqual(Object.fromEntries(landed.searchParams), { account_confirmation_success: 'true' });
    // devise_token_auth 1.x: confirming does not sign in (docs/clients.md headline 9). Back in the
    // app, verifyCredentials sends the "undefined" stored at sign-up and is refused.
    assert.equal(await openApp(e), 'failed');
    const v = (await apiCalls(e)).filter((c) => c.path === '/auth/validate_token').at(-1);
    assert.equal(v.status, 401);
    assert.deepEqual(Object.fromEntries(new URL(v.url).searchParams), { 'access-token': 'undefined', client: 'undefined', uid: 'undefined' });
    assert.equal((await rta.user(e)).isSignedIn, false);
  });

  s.step('sign in: a wrong password is refused with 401 and nothing is stored', async (e) => {
    const before = await rta.stored(e);
    const r = await rta.dispatch(e, 'signInUser', { email, password: 'wrong-password' });
    assert.equal(r.ok, false);
    assert.equal(r.value.status, 401);
    assert.deepEqual(r.value.body, { success: false, errors: ['Invalid login credentials. Please try again.'] });
    assert.equal((await rta.user(e)).isSignedIn, false);
    assert.deepEqual(await rta.stored(e), before);
    assert.ok((await rta.log(e)).includes(T('SIGNIN_REQUEST_FAILED')));
  });

  s.step('sign in: signInUser puts the five response headers in localStorage and axios defaults', async (e) => {
    const r = await rta.dispatch(e, 'signInUser', { email, password });
    assert.equal(r.ok, true, JSON.stringify(r.value));
    const call = (await apiCalls(e)).find((c) => c.path === '/auth/sign_in' && c.status === 200);
    assert.match(call.reqHeaders['content-type'], /^application\/json/);
    assert.deepEqual(JSON.parse(call.postData), { email, password });
    const stored = await rta.stored(e);
    assertFiveHeaders(stored, email);
    for (const k of FIVE) assert.equal(stored[k], call.resHeaders[k], `stored ${k} is the response's`);
    assert.deepEqual(await rta.axiosDefaults(e), stored);
    const user = await rta.user(e);
    assert.equal(user.isSignedIn, true);
    assert.deepEqual(user.attributes, { email, uid: email, fullName: 'Redux User' });
    signedIn = stored;
  });

  s.step('validate on reload: verifyCredentials sends GET validate_token?access-token&client&uid, no auth headers', async (e) => {
    await e.page.reload();
    await waitForReady(e);
    assert.equal(await rta.verification(e), 'succeeded');
    const calls = (await apiCalls(e)).filter((c) => c.path === '/auth/validate_token' && c.status === 200);
    assert.equal(calls.length, 1);
    const [call] = calls;
    assert.equal(call.method, 'GET');
    const q = new URL(call.url).searchParams;
    assert.deepEqual(Object.fromEntries(q), authHeaders(signedIn), 'credentials in the query string');
    for (const k of FIVE) assert.equal(call.reqHeaders[k], undefined, `a fresh page sends no ${k} header`);
    // Rotation off: toker echoes the same token, which the library stores again.
    assert.equal(call.resHeaders['access-token'], signedIn['access-token']);
    assert.deepEqual(await rta.stored(e), signedIn);
    assert.deepEqual(await rta.axiosDefaults(e), signedIn);
    const user = await rta.user(e);
    assert.equal(user.isSignedIn, true);
    assert.deepEqual(user.attributes, { email, uid: email, fullName: 'Redux User' });
  });

  s.step('protected requests: axios GET /api/me carries the stored token; the token does not rotate', async (e) => {
    for (let i = 0; i < 2; i++) {
      await sleep(AFTER_WINDOW_MS);
      const r = await rta.get(e, '/api/me');
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.data.email, email);
      const last = (await apiCalls(e)).filter((c) => c.path === '/api/me').at(-1);
      for (const k of FIVE) assert.equal(last.reqHeaders[k], signedIn[k], `sent the stored ${k}`);
      assert.equal(last.resHeaders['access-token'], signedIn['access-token'], 'the same token comes back');
      assert.equal(last.resHeaders.expiry, signedIn.expiry, 'expiry does not slide');
      assert.deepEqual(await rta.stored(e), signedIn);
    }
  });

  s.step('rotation on each request: redux-token-auth lacks it — nothing reads app responses\' headers', async (e) => {
    // The library copies headers only inside registerUser, signInUser and verifyToken; it
    // installs no axios interceptor, so a rotated token in an app response would be dropped
    // (the suite below shows the 401 that follows).
    assert.deepEqual(await e.page.evaluate(() => [
      window.axios.interceptors.request.handlers.length, window.axios.interceptors.response.handlers.length,
    ]), [0, 0]);
    for (const [file, src] of Object.entries(distSources())) assert.ok(!/interceptors/.test(src), `${file} uses no interceptors`);
    const setters = Object.entries(distSources()).flatMap(([file, src]) =>
      [...src.matchAll(/auth_1\.setAuthHeaders\(/g)].map(() => file));
    assert.deepEqual(setters, ['actions.js', 'actions.js', 'actions.js'], 'headers are taken in three places only');
  });

  s.step('burst: 6 concurrent requests, then more: no 401, the same token throughout', async (e) => {
    await sleep(AFTER_WINDOW_MS);
    const burst = await e.page.evaluate(() => Promise.all([1, 2, 3, 4, 5, 6].map(() => window.get('/api/me'))));
    assert.deepEqual(burst.map((r) => r.status), [200, 200, 200, 200, 200, 200]);
    for (let i = 0; i < 3; i++) assert.equal((await rta.get(e, '/api/me')).status, 200);
    await sleep(AFTER_WINDOW_MS);
    assert.equal((await rta.get(e, '/api/me')).status, 200);
    const me = (await apiCalls(e)).filter((c) => c.path === '/api/me');
    assert.equal(me.length, 2 + 6 + 3 + 1);
    assert.deepEqual(me.filter((c) => c.status !== 200), [], 'no request failed');
    assert.deepEqual(me.filter((c) => c.reqHeaders['access-token'] !== signedIn['access-token']), [], 'every request sent the one token');
    assert.deepEqual(e.toker.requests().filter((r) => r.method === 'GET' && r.path === '/api/me' && r.status !== 200), [], 'toker answered no 401');
    assert.deepEqual(await rta.stored(e), signedIn);
    assert.equal((await rta.user(e)).isSignedIn, true);
  });

  s.step('account update (PUT /auth): redux-token-auth 0.19.0 lacks it — no action, no such request', async (e) => {
    await assertLibraryLacks(e, ['PUT {authUrl}', 'PATCH {authUrl}']);
  });

  s.step('password change (PUT /auth/password): redux-token-auth 0.19.0 lacks it — no action, no such request', async (e) => {
    await assertLibraryLacks(e, ['PUT {authUrl}/password', 'PATCH {authUrl}/password']);
  });

  s.step('password reset (POST /auth/password, mailed link): redux-token-auth 0.19.0 lacks it — no action, no such request, no redirect handling', async (e) => {
    await assertLibraryLacks(e, ['POST {authUrl}/password', 'GET {authUrl}/password/edit']);
    // Landing from a reset link means reading credentials from the URL; the library never looks.
    for (const [file, src] of Object.entries(distSources())) assert.ok(!/location|URLSearchParams/.test(src), `${file} never reads the URL`);
  });

  s.step('OAuth popup (GET /auth/:provider, newWindow): redux-token-auth 0.19.0 lacks it — no action, no window, no postMessage', async (e) => {
    await assertLibraryLacks(e, ['GET {authUrl}/github']);
    for (const [file, src] of Object.entries(distSources())) {
      assert.ok(!/window\.open|postMessage|addEventListener/.test(src), `${file} opens no window and takes no message`);
    }
  });

  s.step('OAuth sameWindow (redirect back with auth_token/client_id): redux-token-auth 0.19.0 lacks it — the credentials in the URL are ignored', async (e) => {
    await assertLibraryLacks(e, ['GET {authUrl}/github']);
    // Land on the app the way a sameWindow OAuth redirect does, with real credentials of a new
    // device in the query string: the library neither reads nor validates them.
    const signIn = await fetch(`${e.api}/auth/sign_in`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }),
    });
    assert.equal(signIn.status, 200);
    const h = signIn.headers;
    const q = new URLSearchParams({
      auth_token: h.get('access-token'), client_id: h.get('client'), uid: h.get('uid'), expiry: h.get('expiry'), blank: 'true',
    });
    const before = (await apiCalls(e)).length;
    assert.equal(await openApp(e, `?verify=0&${q}`), 'none');
    assert.equal((await apiCalls(e)).length, before, 'no request');
    assert.deepEqual(await rta.stored(e), signedIn, 'the stored credentials are untouched');
    assert.deepEqual(await rta.axiosDefaults(e), {});
    assert.equal((await rta.user(e)).isSignedIn, false);
    assert.equal((await signOutDirect(e, { 'access-token': h.get('access-token'), client: h.get('client'), uid: h.get('uid') })).status, 200);
  });

  s.step('sign out: signOutUser sends DELETE sign_out with the JSON body (no auth headers on a fresh page)', async (e) => {
    // ?verify=0: an app that has not verified yet, so axios carries no auth headers and the body
    // is the only place the credentials are (docs/decisions.md D10).
    assert.equal(await openApp(e, '?verify=0'), 'none');
    assert.deepEqual(await rta.axiosDefaults(e), {});
    assert.equal((await apiGet(e, '/auth/validate_token', authHeaders(signedIn))).status, 200, 'live before');
    const r = await rta.dispatch(e, 'signOutUser');
    assert.equal(r.ok, true, JSON.stringify(r.value));
    const call = (await apiCalls(e)).filter((c) => c.method === 'DELETE' && c.path === '/auth/sign_out').at(-1);
    assert.equal(call.status, 200);
    assert.match(call.reqHeaders['content-type'], /^application\/json/);
    assert.deepEqual(JSON.parse(call.postData), authHeaders(signedIn));
    for (const k of FIVE) assert.equal(call.reqHeaders[k], undefined, `no ${k} header`);
    assert.equal(await rta.stored(e), null, 'localStorage cleared');
    assert.deepEqual(await rta.axiosDefaults(e), {});
    assert.ok((await rta.log(e)).includes(T('SIGNOUT_REQUEST_SUCCEEDED')));
  });

  s.step('signed out: the old token is dead on the server, a second sign-out gets 404', async (e) => {
    const me = await apiGet(e, '/api/me', authHeaders(signedIn));
    assert.equal(me.status, 401);
    assert.equal(me.headers.get('access-token'), null);
    assert.equal((await apiGet(e, '/auth/validate_token', authHeaders(signedIn))).status, 401);
    assert.deepEqual(await signOutDirect(e, signedIn),
      { status: 404, body: { success: false, errors: ['User was not found or was not logged in.'] } });
    // The library's own second sign-out (nothing stored any more) is refused the same way.
    const r = await rta.dispatch(e, 'signOutUser');
    assert.equal(r.ok, false);
    assert.deepEqual(r.value, { status: 404, body: { success: false, errors: ['User was not found or was not logged in.'] } });
    assert.ok((await rta.log(e)).includes(T('SIGNOUT_REQUEST_FAILED')));
  });

  s.step('account delete (DELETE /auth): redux-token-auth 0.19.0 lacks it — no action, no such request', async (e) => {
    await assertLibraryLacks(e, ['DELETE {authUrl}']);
  });

  s.step('the page had no uncaught errors', async (e) => {
    assert.deepEqual(e.pageErrors, []);
  });
});

// toker (docs/decisions.md D3) accepts the previous token until expiry, and answers a request that
// presents a superseded token within RACE_GRACE_MS (src/tokens.rs) of the last touch as a batch
// request, as it would a sibling that lost a race. So a client that never picks up rotated tokens
// keeps working while its requests come less than that apart, and breaks once two gaps are longer:
// the first lets toker rotate from the previous token (pushing the client's token two back), the
// second outlasts the batch window in which a two-back token is still accepted.
const RACE_GRACE_MS = 5_000;

describe('redux-token-auth, change_headers_on_each_request = true (toker\'s default): why it must be off', () => {
  const s = suite('redux-token-auth-rotation', {
    env: { TOKER_BATCH_REQUEST_BUFFER_THROTTLE: String(WINDOW_S), TOKER_CONFIRMABLE: 'false' },
  });
  const email = `rta-rotation-${process.pid}@example.com`;
  let signedIn;
  const seen = []; // the tokens toker handed out on /api/me

  const lastMe = async (e) => (await apiCalls(e)).filter((c) => c.path === '/api/me').at(-1);

  s.step('sign up and sign in', async (e) => {
    assert.equal(await openApp(e), 'none');
    const up = await rta.dispatch(e, 'registerUser', { email, password: 'secret123', passwordConfirmation: 'secret123' });
    assert.equal(up.ok, true, JSON.stringify(up.value));
    const r = await rta.dispatch(e, 'signInUser', { email, password: 'secret123' });
    assert.equal(r.ok, true, JSON.stringify(r.value));
    signedIn = await rta.stored(e);
    assertFiveHeaders(signedIn, email);
  });

  s.step('a request after the batch window: toker rotates, the library keeps sending the old token', async (e) => {
    await sleep(AFTER_WINDOW_MS);
    assert.equal((await rta.get(e, '/api/me')).status, 200);
    const call = await lastMe(e);
    assert.equal(call.reqHeaders['access-token'], signedIn['access-token']);
    assert.match(call.resHeaders['access-token'], /^[A-Za-z0-9_-]{22}$/);
    assert.notEqual(call.resHeaders['access-token'], signedIn['access-token'], 'toker rotated');
    seen.push(call.resHeaders['access-token']);
    assert.deepEqual(await rta.stored(e), signedIn, 'the library dropped the new token');
    assert.deepEqual(await rta.axiosDefaults(e), signedIn);
  });

  s.step('a request after a longer pause: the old token is still the previous one; toker rotates again', async (e) => {
    await sleep(RACE_GRACE_MS + 300);
    assert.equal((await rta.get(e, '/api/me')).status, 200);
    const call = await lastMe(e);
    assert.equal(call.reqHeaders['access-token'], signedIn['access-token']);
    assert.match(call.resHeaders['access-token'], /^[A-Za-z0-9_-]{22}$/);
    assert.ok(![signedIn['access-token'], ...seen].includes(call.resHeaders['access-token']), 'a new token');
    assert.deepEqual(await rta.stored(e), signedIn, 'the library dropped it too');
  });

  s.step('the next request after the batch window gets 401: the token it sends was rotated away', async (e) => {
    await sleep(AFTER_WINDOW_MS);
    const r = await rta.get(e, '/api/me');
    assert.equal(r.status, 401);
    assert.equal((await lastMe(e)).reqHeaders['access-token'], signedIn['access-token']);
    assert.equal((await rta.user(e)).isSignedIn, true, 'the library still believes it is signed in');
  });

  s.step('reload: verifyCredentials sends the stale token and fails; sign-out then gets 404', async (e) => {
    await e.page.reload();
    await waitForReady(e);
    assert.equal(await rta.verification(e), 'failed');
    const v = (await apiCalls(e)).filter((c) => c.path === '/auth/validate_token').at(-1);
    assert.equal(v.status, 401);
    assert.equal(new URL(v.url).searchParams.get('access-token'), signedIn['access-token']);
    assert.equal((await rta.user(e)).isSignedIn, false);
    assert.deepEqual(await rta.stored(e), signedIn, 'a failed verification leaves storage alone');
    const r = await rta.dispatch(e, 'signOutUser');
    assert.equal(r.ok, false);
    assert.equal(r.value.status, 404);
    assert.deepEqual(await rta.stored(e), signedIn, 'a failed sign-out leaves storage alone');
  });

  s.step('the page had no uncaught errors', async (e) => {
    assert.deepEqual(e.pageErrors, []);
  });
});
