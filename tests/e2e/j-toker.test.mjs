// j-toker 0.0.10-beta3 (jQuery 3.7.1) in headless Chromium against the toker binary, cross-origin.
// The docs/clients.md §9.3 scenario through j-toker's own API; app requests are plain `$.ajax`, to
// which j-toker's global beforeSend adds the auth headers. OAuth goes through the real mock
// provider (tests/oauth/provider.mjs), configured in toker as `github`.

import assert from 'node:assert/strict';
import { describe } from 'node:test';
import {
  OAUTH_CLIENT_ID, apiCalls, assertCallbackBoundToBrowser, assertFormPostSignIn, posterProfile, apiGet, firstLink, navigationsSince, openPage, openedPopup, sleep, suite, waitFor, waitForReady, burstInsideWindow } from './harness.mjs';

// Preflights: Chromium sends an OPTIONS before every j-toker request that carries credentials,
// although toker answers preflights with `Access-Control-Max-Age: 7200`. Not toker's doing:
// j-toker adds `If-Modified-Since: Mon, 26 Jul 1997 …` (an IE cache-buster) to those requests,
// a conditional header turns the request's cache mode into "no-store" (Fetch spec, HTTP-network-
// or-cache fetch), and Chromium then bypasses its preflight cache as well. Checked with a bare
// server: with If-Modified-Since every fetch is preflighted, without it only the first, whether
// or not the preflight 204 carries `Cache-Control: no-store`. ng-token-auth (which adds the
// header to every $http call) shows the same; angular-token, which does not send it, gets one
// preflight per URL for a whole run (asserted in angular-token.test.mjs).

const WINDOW_S = 2; // batch_request_buffer_throttle for these runs
// The app's own API: an upstream behind toker's gateway (docs/decisions.md D14) in the main run.
const PROTECTED = '/app/me';
const AFTER_WINDOW_MS = WINDOW_S * 1000 + 300;

const jt = {
  stored: (e) => e.page.evaluate(() => window.stored()),
  get: (e, path) => e.page.evaluate((p) => window.get(p), path),
  user: (e) => e.page.evaluate(() => Object.assign({}, $.auth.user)),
  events: (e) => e.page.evaluate(() => window.events.slice()),
  validation: async (e) => {
    await waitFor('j-toker configure() to settle', () =>
      e.page.evaluate(() => window.validation.state !== 'pending'));
    return e.page.evaluate(() => window.validation);
  },
  // Calls $.auth[method](arg) in the page and settles its promise into {ok, value}.
  call: (e, method, arg) =>
    e.page.evaluate(([m, a]) => window.settle($.auth[m](a)), [method, arg]),
};

// The GitHub profile the provider hands out (toker's github preset: uid = id).
const OCTOCAT = {
  id: 4242, login: 'jt-octocat', name: 'Jay Octocat', email: 'jt-octocat@example.com', email_verified: true,
  avatar_url: 'https://avatars.example/jt-octocat.png',
};

const authHeaders = (h) => ({ 'access-token': h['access-token'], client: h.client, uid: h.uid });

function assertFiveHeaders(h, uid) {
  assert.ok(h, 'j-toker stored credentials');
  assert.match(h['access-token'], /^[A-Za-z0-9_-]{22}$/);
  assert.match(h.client, /^[A-Za-z0-9_-]{22}$/);
  assert.equal(h.uid, uid);
  assert.equal(h['token-type'], 'Bearer');
  assert.match(h.expiry, /^\d{10}$/);
}

describe('j-toker, batch_response = "omit" (toker default)', () => {
  const s = suite('j-toker', {
    oauth: true,
    app: 'gateway',
    env: {
      TOKER_BATCH_REQUEST_BUFFER_THROTTLE: String(WINDOW_S),
      TOKER_ACCOUNT_UPDATE_ATTRIBUTES: '["name"]',
    },
  });
  const email = `jtoker-${process.pid}@example.com`;
  const passwords = ['first-secret', 'second-secret', 'third-secret'];
  let signedIn; // the credentials after sign-in

  s.step('page loads: configure() finds no token and makes no request', async (e) => {
    await openPage(e, '/j-toker.html');
    const v = await jt.validation(e);
    assert.deepEqual(v, { state: 'rejected', reason: 'Cannot validate token; no token found.' });
    assert.equal((await apiCalls(e)).length, 0);
  });

  s.step('sign up: emailSignUp posts a form with confirm_success_url, no token until confirmed', async (e) => {
    const r = await jt.call(e, 'emailSignUp', { email, password: passwords[0], password_confirmation: passwords[0] });
    assert.equal(r.ok, true, JSON.stringify(r.value));
    assert.equal(r.value.status, 'success');
    assert.equal(r.value.data.email, email);
    const [call] = (await apiCalls(e)).filter((c) => c.method === 'POST' && c.path === '/auth');
    assert.equal(call.status, 200);
    assert.match(call.reqHeaders['content-type'], /^application\/x-www-form-urlencoded/);
    const form = new URLSearchParams(call.postData);
    assert.equal(form.get('email'), email);
    assert.equal(form.get('confirm_success_url'), `${e.origin}/j-toker.html`);
    assert.equal(await jt.stored(e), null, 'an unconfirmed user gets no token');
    assert.ok((await jt.events(e)).includes('auth.emailRegistration.success'));
  });

  s.step('sign in before confirming: rejected with the confirmation message', async (e) => {
    const r = await jt.call(e, 'emailSignIn', { email, password: passwords[0] });
    assert.equal(r.ok, false);
    assert.equal(r.value.reason, 'Invalid credentials.');
    assert.deepEqual(r.value.data.errors, [
      `A confirmation email was sent to your account at '${email}'. You must follow the instructions in the email before your account can be activated`,
    ]);
    assert.equal(await jt.stored(e), null);
  });

  s.step('confirm: the mailed link lands on the page with account_confirmation_success=true', async (e) => {
    const mail = await e.mail.next({ to: email, subject: 'Confirmation instructions' });
    const link = firstLink(mail.text);
    assert.ok(link.startsWith(`${e.api}/auth/confirmation?`), link);
    await e.page.goto(link);
    await waitForReady(e);
    const landed = new URL(e.page.url());
    assert.equal(landed.origin + landed.pathname, `${e.origin}/j-toker.html`);
    assert.equal(landed.searchParams.get('account_confirmation_success'), 'true');
    // devise_token_auth 1.x: confirming does not sign in (docs/clients.md headline 9).
    assert.equal((await jt.validation(e)).state, 'rejected');
    assert.equal(await jt.stored(e), null);
  });

  s.step('sign in: emailSignIn stores the five headers of the response and the user', async (e) => {
    await openPage(e, '/j-toker.html');
    const r = await jt.call(e, 'emailSignIn', { email, password: passwords[0] });
    assert.equal(r.ok, true, JSON.stringify(r.value));
    const stored = await jt.stored(e);
    assertFiveHeaders(stored, email);
    const call = (await apiCalls(e)).find((c) => c.path === '/auth/sign_in' && c.status === 200);
    for (const k of ['access-token', 'client', 'uid', 'expiry', 'token-type']) {
      assert.equal(stored[k], call.resHeaders[k], `stored ${k} is the response's`);
    }
    const user = await jt.user(e);
    assert.equal(user.email, email);
    assert.equal(user.signedIn, true);
    const events = await jt.events(e);
    for (const ev of ['auth.emailSignIn.success', 'auth.signIn.success', 'auth.validation.success']) {
      assert.ok(events.includes(ev), ev);
    }
    signedIn = stored;
  });

  s.step('validate on reload: configure() validates the stored token with the server', async (e) => {
    await e.page.reload();
    await waitForReady(e);
    const v = await jt.validation(e);
    assert.equal(v.state, 'resolved', JSON.stringify(v));
    assert.equal(v.user.email, email);
    const calls = (await apiCalls(e)).filter((c) => c.path === '/auth/validate_token');
    assert.equal(calls.length, 1);
    assert.equal(calls[0].status, 200);
    assert.equal(calls[0].reqHeaders['access-token'], signedIn['access-token']);
    // Right after sign-in this is a batch request: no new token, j-toker keeps its own (D1).
    assert.equal(calls[0].resHeaders['access-token'], undefined);
    assert.deepEqual(await jt.stored(e), signedIn);
  });

  s.step('protected requests: $.ajax to the app behind the gateway rotates the token after each batch window', async (e) => {
    let before = await jt.stored(e);
    for (let i = 0; i < 2; i++) {
      await sleep(AFTER_WINDOW_MS);
      const r = await jt.get(e, PROTECTED);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.data.email, email);
      const now = await jt.stored(e);
      assertFiveHeaders(now, email);
      assert.notEqual(now['access-token'], before['access-token'], 'the token rotated');
      assert.equal(now.client, before.client);
      assert.ok(Number(now.expiry) >= Number(before.expiry));
      const last = (await apiCalls(e)).filter((c) => c.path === PROTECTED).at(-1);
      assert.equal(last.reqHeaders['access-token'], before['access-token'], 'sent the stored token');
      // The app got the user from toker, never the token.
      const seen = e.upstream.requests.at(-1);
      assert.equal(seen.headers['x-toker-uid'], email);
      assert.equal(seen.headers['access-token'], undefined);
      assert.equal(seen.claims.uid, email);
      before = now;
    }
    assert.deepEqual(e.upstream.problems, []);
  });

  s.step('burst: 6 concurrent requests inside the batch window, then more: no 401, still signed in', async (e) => {
    await burstInsideWindow(e, jt, { afterWindowMs: AFTER_WINDOW_MS, token: (t) => t['access-token'], path: PROTECTED });
    assert.equal((await jt.user(e)).signedIn, true);
  });

  s.step('account update: updateAccount sets name and j-toker takes the user from the response', async (e) => {
    const r = await jt.call(e, 'updateAccount', { name: 'Jay Toker' });
    assert.equal(r.ok, true, JSON.stringify(r.value));
    assert.equal(r.value.data.name, 'Jay Toker');
    assert.equal((await jt.user(e)).name, 'Jay Toker');
    const me = await jt.get(e, '/api/me');
    assert.equal(me.body.data.name, 'Jay Toker');
  });

  s.step('password change: updatePassword with current_password; the old password stops working', async (e) => {
    const r = await jt.call(e, 'updatePassword', {
      current_password: passwords[0], password: passwords[1], password_confirmation: passwords[1],
    });
    assert.equal(r.ok, true, JSON.stringify(r.value));
    assert.equal(r.value.success, true);
    assert.equal((await jt.get(e, '/api/me')).status, 200, 'still signed in');
    const old = await fetch(`${e.api}/auth/sign_in`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: passwords[0] }),
    });
    assert.equal(old.status, 401);
  });

  s.step('forgot password: requestPasswordReset mails a reset link back to this page', async (e) => {
    const r = await jt.call(e, 'requestPasswordReset', { email });
    assert.equal(r.ok, true, JSON.stringify(r.value));
    const call = (await apiCalls(e)).find((c) => c.method === 'POST' && c.path === '/auth/password');
    assert.equal(new URLSearchParams(call.postData).get('redirect_url'), `${e.origin}/j-toker.html`);
    assert.ok((await jt.events(e)).includes('auth.passwordResetRequest.success'));
  });

  s.step('reset link: lands signed in on a new device, auth.passwordResetConfirm.success fires', async (e) => {
    const before = await jt.stored(e);
    const mail = await e.mail.next({ to: email, subject: 'Reset password instructions' });
    const link = firstLink(mail.text);
    assert.ok(link.startsWith(`${e.api}/auth/password/edit?`), link);
    await e.page.goto(link);
    // toker redirects with the credentials; j-toker stores them and reloads without them.
    await waitFor('j-toker to strip the credentials from the URL', async () => {
      const u = new URL(e.page.url());
      return u.origin === e.origin && !u.searchParams.has('access-token') && !u.searchParams.has('token');
    });
    await waitForReady(e);
    const v = await jt.validation(e);
    assert.equal(v.state, 'resolved', JSON.stringify(v));
    const landed = new URL(e.page.url());
    assert.ok(landed.searchParams.has('reset_password_token'), 'j-toker leaves reset_password_token');
    for (const k of ['client_id', 'uid', 'expiry', 'reset_password', 'config']) assert.ok(!landed.searchParams.has(k), k);
    const stored = await jt.stored(e);
    assertFiveHeaders(stored, email);
    assert.notEqual(stored.client, before.client, 'the link signed in a new device');
    assert.ok((await jt.events(e)).includes('auth.passwordResetConfirm.success'));
    assert.equal(await e.page.evaluate(() => $.auth.mustResetPassword), true);
  });

  s.step('new password: updatePassword without current_password after the reset link', async (e) => {
    const r = await jt.call(e, 'updatePassword', { password: passwords[2], password_confirmation: passwords[2] });
    assert.equal(r.ok, true, JSON.stringify(r.value));
    assert.ok((await jt.events(e)).includes('auth.passwordUpdate.success'));
  });

  s.step('sign in with the new password (the previous one is refused)', async (e) => {
    const bad = await jt.call(e, 'emailSignIn', { email, password: passwords[1] });
    assert.equal(bad.ok, false);
    assert.equal(bad.value.reason, 'Invalid credentials.');
    const r = await jt.call(e, 'emailSignIn', { email, password: passwords[2] });
    assert.equal(r.ok, true, JSON.stringify(r.value));
    assertFiveHeaders(await jt.stored(e), email);
  });

  s.step('OAuth popup: oAuthSignIn opens /auth/github?auth_origin_url&config_name&omniauth_window_type=newWindow&extra, the provider approves, the popup delivers token and user', async (e) => {
    await e.oauth.setProfile(OCTOCAT);
    e.oauth.answer = 'approve';
    const before = await jt.stored(e);
    const href = await e.page.evaluate(() => location.href);
    const nav0 = e.navigations.length;
    let pending;
    const { popup, url } = await openedPopup(e, () => {
      pending = jt.call(e, 'oAuthSignIn', { provider: 'github', params: { extra: 'x y' } });
    });
    assert.equal(url, `${e.api}/auth/github?auth_origin_url=${encodeURIComponent(href)}&config_name=default`
      + '&omniauth_window_type=newWindow&extra=x%20y');
    const r = await pending;
    assert.equal(r.ok, true, JSON.stringify(r.value));
    // The popup went toker → the user's consent → the provider → toker's callback page, which
    // answered j-toker's requestCredentials and closed itself.
    const hops = await navigationsSince(e, nav0, 'popup');
    assert.deepEqual(hops.map((n) => [n.url.split('?')[0], n.status]), [
      [`${e.api}/auth/github`, 302], [`${e.oauth.consentUrl}/authorize`, 302], [`${e.oauth.url}/authorize`, 302],
      [`${e.api}/omniauth/github/callback`, 200],
    ]);
    const authorize = new URL(hops[2].url).searchParams;
    assert.equal(authorize.get('client_id'), OAUTH_CLIENT_ID);
    assert.equal(authorize.get('redirect_uri'), `${e.api}/omniauth/github/callback`);
    await waitFor('the popup to close itself', () => popup.isClosed());
    assert.equal(r.value.email, OCTOCAT.email);
    assert.equal(r.value.uid, String(OCTOCAT.id));
    assert.equal(r.value.provider, 'github');
    assert.equal(r.value.signedIn, true);
    const stored = await jt.stored(e);
    assertFiveHeaders(stored, String(OCTOCAT.id));
    assert.notEqual(stored.client, before.client, 'a new session replaced the password one');
    assert.equal(stored['access-token'], r.value['access-token'], 'the token of the message');
    const server = await apiGet(e, '/auth/validate_token', authHeaders(stored));
    assert.equal(server.status, 200);
    assert.equal(server.body.data.provider, 'github');
    assert.equal(server.body.data.email, OCTOCAT.email);
    assert.equal((await jt.user(e)).email, OCTOCAT.email);
    const events = await jt.events(e);
    for (const ev of ['auth.oAuthSignIn.success', 'auth.signIn.success']) assert.ok(events.includes(ev), ev);
    const me = await jt.get(e, '/api/me');
    assert.equal(me.status, 200);
    assert.equal(me.body.data.email, OCTOCAT.email);
  });

  s.step('OAuth popup, the user denies at the provider: oAuthSignIn rejects (j-toker drops the error text), the session stays', async (e) => {
    e.oauth.answer = 'deny';
    const before = await jt.stored(e);
    const nav0 = e.navigations.length;
    let pending;
    const { popup } = await openedPopup(e, () => { pending = jt.call(e, 'oAuthSignIn', { provider: 'github' }); });
    const r = await pending;
    assert.equal(r.ok, false);
    // toker's page posts {message: 'authFailure', error: 'access_denied'}; j-toker's rejectPromise
    // parses `data.responseText` (there is none in a message), so the reason is all it reports.
    assert.deepEqual(r.value, { reason: 'OAuth authentication failed.', data: {} });
    const callback = (await navigationsSince(e, nav0, 'popup')).at(-1);
    assert.equal(callback.url.split('?')[0], `${e.api}/omniauth/github/callback`);
    assert.equal(new URL(callback.url).searchParams.get('error'), 'access_denied');
    assert.equal(callback.status, 200);
    await waitFor('the popup to close itself', () => popup.isClosed());
    assert.deepEqual(await jt.stored(e), before);
    assert.ok((await jt.events(e)).includes('auth.oAuthSignIn.error'));
    e.oauth.answer = 'approve';
  });

  s.step('OAuth popup closed early: oAuthSignIn rejects with j-toker\'s "window was closed" reason', async (e) => {
    e.oauth.answer = 'hold';
    const before = await jt.stored(e);
    let pending;
    const { popup } = await openedPopup(e, () => { pending = jt.call(e, 'oAuthSignIn', { provider: 'github' }); });
    await popup.waitForURL(`${e.oauth.consentUrl}/authorize?**`);
    await popup.close();
    const r = await pending;
    assert.equal(r.ok, false);
    assert.deepEqual(r.value, { reason: 'OAuth window was closed bofore registration was completed.', data: {} });
    assert.deepEqual(await jt.stored(e), before);
    e.oauth.answer = 'approve';
  });

  s.step('OAuth form_post provider: the provider\'s page posts code and state to the callback, the request phase\'s cookie rides along, the popup delivers token and user', async (e) => {
    const poster = posterProfile('jt');
    await e.oauth.setProfile(poster);
    let pending;
    await assertFormPostSignIn(e, () => { pending = jt.call(e, 'oAuthSignIn', { provider: 'formpost' }); });
    const r = await pending;
    assert.equal(r.ok, true, JSON.stringify(r.value));
    assert.equal(r.value.uid, poster.sub);
    assert.equal(r.value.provider, 'formpost');
    assert.equal(r.value.email, poster.email);
    const server = await apiGet(e, '/auth/validate_token', authHeaders(await jt.stored(e)));
    assert.equal(server.status, 200);
    assert.equal(server.body.data.uid, poster.sub);
  });

  s.step('OAuth login CSRF: a callback link opened in another browser shows the authFailure page; in the browser that started the sign-in it signs in', async (e) => {
    await e.oauth.setProfile(OCTOCAT);
    let pending;
    await assertCallbackBoundToBrowser(e, () => { pending = jt.call(e, 'oAuthSignIn', { provider: 'github' }); });
    const r = await pending;
    assert.equal(r.ok, true, JSON.stringify(r.value));
    assert.equal(r.value.uid, String(OCTOCAT.id));
    assertFiveHeaders(await jt.stored(e), String(OCTOCAT.id));
  });

  s.step('OAuth sameWindow: j-toker has none; forceHardRedirect still asks for newWindow, so the browser stays on toker\'s page', async (e) => {
    await openPage(e, '/j-toker.html?hard=1');
    assert.equal((await jt.validation(e)).state, 'resolved');
    const before = await jt.stored(e);
    const nav0 = e.navigations.length;
    await e.page.evaluate(() => { setTimeout(() => $.auth.oAuthSignIn({ provider: 'github' }), 0); });
    await e.page.waitForURL(`${e.api}/omniauth/github/callback?**`);
    const start = (await navigationsSince(e, nav0, 'main'))[0];
    assert.equal(start.url.split('?')[0], `${e.api}/auth/github`);
    assert.equal(new URL(start.url).searchParams.get('omniauth_window_type'), 'newWindow',
      'j-toker has no way to ask for sameWindow');
    // With no opener to answer, toker's page (as devise_token_auth's) just stays.
    await sleep(1500);
    assert.equal(new URL(e.page.url()).origin, e.api);
    await openPage(e, '/j-toker.html');
    assert.equal((await jt.validation(e)).state, 'resolved');
    // (validating on load may have rotated the token: same session, maybe a newer token)
    const after = await jt.stored(e);
    assert.equal(after.client, before.client, 'the app never received the new credentials');
    assert.equal(after.uid, before.uid);
  });

  s.step('sign out: signOut clears storage and the old token is dead on the server', async (e) => {
    const old = await jt.stored(e);
    assert.equal((await apiGet(e, '/auth/validate_token', authHeaders(old))).status, 200, 'live before');
    const r = await jt.call(e, 'signOut');
    assert.equal(r.ok, true, JSON.stringify(r.value));
    assert.equal(await jt.stored(e), null);
    assert.equal((await jt.user(e)).signedIn, undefined);
    const after = await apiGet(e, PROTECTED, authHeaders(old));
    assert.equal(after.status, 401);
    assert.deepEqual(after.body, { errors: ['You need to sign in or sign up before continuing.'] });
    assert.equal(after.headers.get('access-token'), null);
    assert.ok((await jt.events(e)).includes('auth.signOut.success'));
  });

  s.step('account delete: destroyAccount removes the account; signing in again is refused', async (e) => {
    assert.equal((await jt.call(e, 'emailSignIn', { email, password: passwords[2] })).ok, true);
    const creds = await jt.stored(e);
    const r = await jt.call(e, 'destroyAccount');
    assert.equal(r.ok, true, JSON.stringify(r.value));
    assert.equal(await jt.stored(e), null);
    assert.ok((await jt.events(e)).includes('auth.destroyAccount.success'));
    assert.equal((await apiGet(e, '/api/me', authHeaders(creds))).status, 401);
    const again = await jt.call(e, 'emailSignIn', { email, password: passwords[2] });
    assert.equal(again.ok, false);
  });

  s.step('the page had no uncaught errors', async (e) => {
    assert.deepEqual(e.pageErrors, []);
  });
});

describe('j-toker, batch_response = "blank" (devise_token_auth\'s behaviour, docs/decisions.md D1)', () => {
  const s = suite('j-toker-blank', {
    env: { TOKER_BATCH_REQUEST_BUFFER_THROTTLE: String(WINDOW_S), TOKER_BATCH_RESPONSE: 'blank', TOKER_CONFIRMABLE: 'false' },
  });
  const email = `jtoker-blank-${process.pid}@example.com`;

  s.step('sign up and sign in', async (e) => {
    await openPage(e, '/j-toker.html');
    assert.equal((await jt.call(e, 'emailSignUp', { email, password: 'secret123', password_confirmation: 'secret123' })).ok, true);
    const r = await jt.call(e, 'emailSignIn', { email, password: 'secret123' });
    assert.equal(r.ok, true, JSON.stringify(r.value));
    assertFiveHeaders(await jt.stored(e), email);
  });

  s.step('burst inside the batch window: j-toker stores the blank access-token', async (e) => {
    await sleep(AFTER_WINDOW_MS);
    assert.equal((await jt.get(e, '/api/me')).status, 200); // rotates; the window starts now
    const burst = await e.page.evaluate(() => Promise.all([1, 2, 3].map(() => window.get('/api/me'))));
    assert.deepEqual(burst.map((r) => r.status), [200, 200, 200], 'the burst itself succeeds');
    const last = (await apiCalls(e)).filter((c) => c.path === '/api/me').at(-1);
    assert.equal(last.resHeaders['access-token'].trim(), '', 'a batch response carries a blank access-token');
    const stored = await jt.stored(e);
    assert.equal(stored['access-token'], '', 'j-toker stored the blank (j-toker#42)');
    assert.equal(stored.expiry, '');
  });

  s.step('the next request gets 401 and the reload signs the user out: what devise_token_auth users hit', async (e) => {
    const r = await jt.get(e, '/api/me');
    assert.equal(r.status, 401);
    await e.page.reload();
    await waitForReady(e);
    assert.deepEqual(await jt.validation(e), { state: 'rejected', reason: 'Cannot validate token; token rejected by server.' });
    assert.equal(await jt.stored(e), null);
  });
});
