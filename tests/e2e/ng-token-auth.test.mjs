// ng-token-auth 0.0.30 (AngularJS 1.8.3, angular-cookie 4.1.0) in headless Chromium against the
// toker binary, cross-origin. The docs/clients.md §9.3 scenario through $auth; app requests go through
// $http, whose interceptor (ng-token-auth's) adds and stores the auth headers. OAuth goes through
// the real mock provider (tests/oauth/provider.mjs), configured in toker as `github`.

import assert from 'node:assert/strict';
import { describe } from 'node:test';
import {
  apiCalls, apiGet, assertCallbackBoundToBrowser, assertFormPostSignIn, firstLink, posterProfile, navigationsSince, openPage, openedPopup, sleep, suite, waitFor, waitForReady, burstInsideWindow } from './harness.mjs';

// Preflights: ng-token-auth adds `If-Modified-Since` to every $http request, so Chromium
// preflights each one despite toker's Access-Control-Max-Age (see j-toker.test.mjs).

const WINDOW_S = 2; // batch_request_buffer_throttle for this run
const AFTER_WINDOW_MS = WINDOW_S * 1000 + 300;

const ng = {
  stored: (e) => e.page.evaluate(() => window.stored()),
  get: (e, path) => e.page.evaluate((p) => window.get(p), path),
  user: (e) => e.page.evaluate(() => JSON.parse(JSON.stringify(window.$auth.user))),
  events: (e) => e.page.evaluate(() => window.events.slice()),
  validation: async (e) => {
    await waitFor('validateUser() to settle', () => e.page.evaluate(() => window.validation.state !== 'pending'));
    return e.page.evaluate(() => window.validation);
  },
  // Calls $auth[method](...args) inside a digest and settles its promise into {ok, value}.
  call: (e, method, ...args) =>
    e.page.evaluate(([m, a]) => window.ng(() => window.$auth[m].apply(window.$auth, a)), [method, args]),
};

// The GitHub profile the provider hands out (toker's github preset: uid = id).
const OCTOCAT = {
  id: 5151, login: 'ng-octocat', name: 'Angie Octocat', email: 'ng-octocat@example.com', email_verified: true,
  avatar_url: 'https://avatars.example/ng-octocat.png',
};

const authHeaders = (h) => ({ 'access-token': h['access-token'], client: h.client, uid: h.uid });

// ng-token-auth stores `{}` after a response without auth headers when it holds none (its
// expiry check passes 0 >= 0), so "no token" is "no access-token", not "nothing stored".
function assertNoToken(h, message) {
  assert.equal(h?.['access-token'], undefined, `${message}: ${JSON.stringify(h)}`);
}

function assertFiveHeaders(h, uid) {
  assert.ok(h, 'ng-token-auth stored credentials');
  assert.match(h['access-token'], /^[A-Za-z0-9_-]{22}$/);
  assert.match(h.client, /^[A-Za-z0-9_-]{22}$/);
  assert.equal(h.uid, uid);
  assert.equal(h['token-type'], 'Bearer');
  assert.match(h.expiry, /^\d{10}$/);
}

describe('ng-token-auth, batch_response = "omit" (toker default)', () => {
  const s = suite('ng-token-auth', {
    oauth: true,
    env: {
      TOKER_BATCH_REQUEST_BUFFER_THROTTLE: String(WINDOW_S),
      TOKER_ACCOUNT_UPDATE_ATTRIBUTES: '["name"]',
    },
  });
  const email = `ngtokenauth-${process.pid}@example.com`;
  const passwords = ['first-secret', 'second-secret', 'third-secret'];
  let signedIn;

  s.step('page loads: validateUser finds no credentials and makes no request', async (e) => {
    await openPage(e, '/ng-token-auth.html');
    const v = await ng.validation(e);
    assert.deepEqual(v, { state: 'rejected', reason: { reason: 'unauthorized', errors: ['No credentials'] } });
    assert.equal((await apiCalls(e)).length, 0);
  });

  s.step('sign up: submitRegistration posts JSON with confirm_success_url, no token until confirmed', async (e) => {
    const r = await ng.call(e, 'submitRegistration', { email, password: passwords[0], password_confirmation: passwords[0] });
    assert.equal(r.ok, true, JSON.stringify(r.value));
    assert.equal(r.value.data.status, 'success');
    assert.equal(r.value.data.data.email, email);
    const [call] = (await apiCalls(e)).filter((c) => c.method === 'POST' && c.path === '/auth');
    assert.match(call.reqHeaders['content-type'], /^application\/json/);
    const body = JSON.parse(call.postData);
    assert.equal(body.confirm_success_url, `${e.origin}/ng-token-auth.html`);
    assert.equal(body.config_name, 'default');
    assertNoToken(await ng.stored(e), 'an unconfirmed user gets no token');
    assert.ok((await ng.events(e)).includes('auth:registration-email-success'));
  });

  s.step('sign in before confirming: rejected, auth:login-error carries the confirmation message', async (e) => {
    const r = await ng.call(e, 'submitLogin', { email, password: passwords[0] });
    assert.equal(r.ok, false);
    assert.deepEqual(r.value, { reason: 'unauthorized', errors: ['Invalid credentials'] });
    const call = (await apiCalls(e)).find((c) => c.path === '/auth/sign_in');
    assert.equal(call.status, 401);
    assert.ok((await ng.events(e)).includes('auth:login-error'));
    assertNoToken(await ng.stored(e), 'no token stored');
  });

  s.step('confirm: the mailed link lands on the page with account_confirmation_success=true', async (e) => {
    const mail = await e.mail.next({ to: email, subject: 'Confirmation instructions' });
    const link = firstLink(mail.text);
    assert.ok(link.startsWith(`${e.api}/auth/confirmation?`), link);
    await e.page.goto(link);
    await waitForReady(e);
    const landed = new URL(e.page.url());
    assert.equal(landed.origin + landed.pathname, `${e.origin}/ng-token-auth.html`);
    assert.equal(landed.searchParams.get('account_confirmation_success'), 'true');
    // devise_token_auth 1.x: confirming does not sign in (docs/clients.md headline 9).
    assert.equal((await ng.validation(e)).state, 'rejected');
    assertNoToken(await ng.stored(e), 'no token stored');
  });

  s.step('sign in: submitLogin stores the five headers of the response and the user', async (e) => {
    await openPage(e, '/ng-token-auth.html');
    await ng.validation(e);
    const r = await ng.call(e, 'submitLogin', { email, password: passwords[0] });
    assert.equal(r.ok, true, JSON.stringify(r.value));
    assert.equal(r.value.email, email);
    const stored = await ng.stored(e);
    assertFiveHeaders(stored, email);
    const call = (await apiCalls(e)).find((c) => c.path === '/auth/sign_in' && c.status === 200);
    assert.match(call.reqHeaders['content-type'], /^application\/json/);
    for (const k of ['access-token', 'client', 'uid', 'expiry', 'token-type']) {
      assert.equal(stored[k], call.resHeaders[k], `stored ${k} is the response's`);
    }
    const user = await ng.user(e);
    assert.equal(user.email, email);
    assert.equal(user.signedIn, true);
    assert.ok((await ng.events(e)).includes('auth:login-success'));
    signedIn = stored;
  });

  s.step('validate on reload: validateUser validates the stored token with the server', async (e) => {
    await e.page.reload();
    await waitForReady(e);
    const v = await ng.validation(e);
    assert.equal(v.state, 'resolved', JSON.stringify(v));
    assert.equal(v.user.email, email);
    assert.ok((await ng.events(e)).includes('auth:validation-success'));
    const calls = (await apiCalls(e)).filter((c) => c.path === '/auth/validate_token');
    assert.equal(calls.length, 1);
    assert.equal(calls[0].status, 200);
    assert.equal(calls[0].reqHeaders['access-token'], signedIn['access-token']);
    assert.equal(calls[0].resHeaders['access-token'], undefined, 'a batch response right after sign-in');
    assert.deepEqual(await ng.stored(e), signedIn);
  });

  s.step('protected requests: $http to /api/me rotates the token after each batch window', async (e) => {
    let before = await ng.stored(e);
    for (let i = 0; i < 2; i++) {
      await sleep(AFTER_WINDOW_MS);
      const r = await ng.get(e, '/api/me');
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.data.email, email);
      const now = await ng.stored(e);
      assertFiveHeaders(now, email);
      assert.notEqual(now['access-token'], before['access-token'], 'the token rotated');
      assert.equal(now.client, before.client);
      assert.ok(Number(now.expiry) >= Number(before.expiry));
      const last = (await apiCalls(e)).filter((c) => c.path === '/api/me').at(-1);
      assert.equal(last.reqHeaders['access-token'], before['access-token'], 'sent the stored token');
      before = now;
    }
  });

  s.step('burst: 6 concurrent requests inside the batch window, then more: no 401, still signed in', async (e) => {
    await burstInsideWindow(e, ng, { afterWindowMs: AFTER_WINDOW_MS, token: (t) => t['access-token'] });
    assert.equal(await e.page.evaluate(() => !!window.$auth.userIsAuthenticated()), true);
  });

  s.step('account update: updateAccount sets name and ng-token-auth merges the response into the user', async (e) => {
    const r = await ng.call(e, 'updateAccount', { name: 'Angie Token' });
    assert.equal(r.ok, true, JSON.stringify(r.value));
    assert.equal(r.value.data.data.name, 'Angie Token');
    assert.equal((await ng.user(e)).name, 'Angie Token');
    assert.ok((await ng.events(e)).includes('auth:account-update-success'));
    assertFiveHeaders(await ng.stored(e), email);
    assert.equal((await ng.get(e, '/api/me')).body.data.name, 'Angie Token');
  });

  s.step('password change: updatePassword with current_password; the old password stops working', async (e) => {
    const r = await ng.call(e, 'updatePassword', {
      current_password: passwords[0], password: passwords[1], password_confirmation: passwords[1],
    });
    assert.equal(r.ok, true, JSON.stringify(r.value));
    assert.equal(r.value.data.success, true);
    assert.ok((await ng.events(e)).includes('auth:password-change-success'));
    assert.equal((await ng.get(e, '/api/me')).status, 200, 'still signed in');
    const old = await fetch(`${e.api}/auth/sign_in`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: passwords[0] }),
    });
    assert.equal(old.status, 401);
  });

  s.step('forgot password: requestPasswordReset mails a reset link back to this page', async (e) => {
    const r = await ng.call(e, 'requestPasswordReset', { email });
    assert.equal(r.ok, true, JSON.stringify(r.value));
    const call = (await apiCalls(e)).find((c) => c.method === 'POST' && c.path === '/auth/password');
    assert.equal(JSON.parse(call.postData).redirect_url, `${e.origin}/ng-token-auth.html`);
    assert.ok((await ng.events(e)).includes('auth:password-reset-request-success'));
  });

  s.step('reset link: lands signed in on a new device, auth:password-reset-confirm-success fires', async (e) => {
    const before = await ng.stored(e);
    const mail = await e.mail.next({ to: email, subject: 'Reset password instructions' });
    const link = firstLink(mail.text);
    assert.ok(link.startsWith(`${e.api}/auth/password/edit?`), link);
    await e.page.goto(link);
    await waitForReady(e);
    const v = await ng.validation(e);
    assert.equal(v.state, 'resolved', JSON.stringify(v));
    const landed = new URL(e.page.url());
    assert.equal(landed.origin + landed.pathname, `${e.origin}/ng-token-auth.html`);
    assert.equal(landed.searchParams.get('reset_password'), 'true', 'toker redirected with reset_password=true');
    const stored = await ng.stored(e);
    assertFiveHeaders(stored, email);
    assert.notEqual(stored.client, before.client, 'the link signed in a new device');
    assert.equal(stored.client, landed.searchParams.get('client_id'), 'taken from the legacy client_id');
    assert.ok((await ng.events(e)).includes('auth:password-reset-confirm-success'));
    assert.equal(await e.page.evaluate(() => window.$auth.mustResetPassword), 'true');
  });

  s.step('new password: updatePassword without current_password after the reset link', async (e) => {
    const r = await ng.call(e, 'updatePassword', { password: passwords[2], password_confirmation: passwords[2] });
    assert.equal(r.ok, true, JSON.stringify(r.value));
    assert.equal(await e.page.evaluate(() => window.$auth.mustResetPassword), false);
  });

  s.step('sign in with the new password (the previous one is refused)', async (e) => {
    const bad = await ng.call(e, 'submitLogin', { email, password: passwords[1] });
    assert.equal(bad.ok, false);
    assert.deepEqual(bad.value, { reason: 'unauthorized', errors: ['Invalid credentials'] });
    assertNoToken(await ng.stored(e), 'ng-token-auth clears storage on a failed sign-in');
    const r = await ng.call(e, 'submitLogin', { email, password: passwords[2] });
    assert.equal(r.ok, true, JSON.stringify(r.value));
    assertFiveHeaders(await ng.stored(e), email);
  });

  s.step('OAuth popup: authenticate opens /auth/github?auth_origin_url&extra&omniauth_window_type=newWindow, the provider approves, the popup delivers token and user', async (e) => {
    await e.oauth.setProfile(OCTOCAT);
    e.oauth.answer = 'approve';
    await openPage(e, '/ng-token-auth.html?window=newWindow');
    assert.equal((await ng.validation(e)).state, 'resolved');
    const before = await ng.stored(e);
    const href = await e.page.evaluate(() => location.href);
    const nav0 = e.navigations.length;
    let pending;
    const { popup, url } = await openedPopup(e, () => {
      pending = ng.call(e, 'authenticate', 'github', { params: { extra: 'x y' } });
    });
    assert.equal(url, `${e.api}/auth/github?auth_origin_url=${encodeURIComponent(href)}&extra=x%20y&omniauth_window_type=newWindow`);
    const r = await pending;
    assert.equal(r.ok, true, JSON.stringify(r.value));
    const hops = await navigationsSince(e, nav0, 'popup');
    assert.deepEqual(hops.map((n) => [n.url.split('?')[0], n.status]), [
      [`${e.api}/auth/github`, 302], [`${e.oauth.consentUrl}/authorize`, 302], [`${e.oauth.url}/authorize`, 302],
      [`${e.api}/omniauth/github/callback`, 200],
    ]);
    await waitFor('the popup to close itself', () => popup.isClosed());
    assert.equal(r.value.email, OCTOCAT.email);
    assert.equal(r.value.uid, String(OCTOCAT.id));
    assert.equal(r.value.provider, 'github');
    assert.equal(r.value.signedIn, true);
    const stored = await ng.stored(e);
    assertFiveHeaders(stored, String(OCTOCAT.id));
    assert.equal(stored['access-token'], r.value.auth_token, 'the token of the message');
    assert.equal(stored.client, r.value.client_id);
    assert.notEqual(stored.client, before.client, 'a new session replaced the password one');
    const server = await apiGet(e, '/auth/validate_token', authHeaders(stored));
    assert.equal(server.status, 200);
    assert.equal(server.body.data.provider, 'github');
    const events = await ng.events(e);
    for (const ev of ['auth:login-success', 'auth:oauth-registration']) assert.ok(events.includes(ev), ev);
    const me = await ng.get(e, '/api/me');
    assert.equal(me.status, 200);
    assert.equal(me.body.data.email, OCTOCAT.email);
  });

  s.step('OAuth inAppBrowser (Cordova): no opener; on loadstop ng-token-auth runs requestCredentials() in toker\'s page through executeScript and signs in with what it returns', async (e) => {
    await e.oauth.setProfile(OCTOCAT);
    e.oauth.answer = 'approve';
    let inApp = null;
    if (!e.iabExposed) {
      e.iabExposed = true;
      // Cordova's executeScript runs the code in the in-app browser's page, whatever its origin.
      await e.page.exposeFunction('iabExecute', async (code) => {
        try { return await inApp.evaluate(code); } catch { return null; }
      });
      await e.page.exposeFunction('iabClose', async () => { await inApp.close(); });
    }
    await openPage(e, '/ng-token-auth.html?window=inAppBrowser');
    // authenticate() while the page's validateUser() is still pending returns that promise and
    // opens nothing: wait for it, as the popup step above does.
    assert.equal((await ng.validation(e)).state, 'resolved');
    const before = await ng.stored(e);
    const href = await e.page.evaluate(() => location.href);
    let pending;
    const { popup, url } = await openedPopup(e, () => {
      pending = ng.call(e, 'authenticate', 'github');
    });
    inApp = popup;
    assert.equal(url, `${e.api}/auth/github?auth_origin_url=${encodeURIComponent(href)}&omniauth_window_type=inAppBrowser`);
    assert.equal(await popup.evaluate(() => window.opener), null, 'an in-app browser has no opener');
    // Cordova fires loadstop when each page has loaded: before toker's page there is nothing to
    // hand over, on it requestCredentials() answers.
    await popup.waitForURL((u) => u.pathname === '/omniauth/github/callback', { waitUntil: 'load' });
    const listening = await e.page.evaluate(() => window.iab.fire('loadstop'));
    assert.equal(listening, 1, 'ng-token-auth listens for loadstop');
    const r = await pending;
    assert.equal(r.ok, true, JSON.stringify(r.value));
    assert.equal(r.value.uid, String(OCTOCAT.id));
    assert.equal(r.value.provider, 'github');
    await waitFor('ng-token-auth to close the in-app browser', () => popup.isClosed());
    const stored = await ng.stored(e);
    assertFiveHeaders(stored, String(OCTOCAT.id));
    assert.equal(stored['access-token'], r.value.auth_token);
    assert.notEqual(stored.client, before.client, 'a new session');
    const server = await apiGet(e, '/auth/validate_token', authHeaders(stored));
    assert.equal(server.status, 200);
    assert.equal(server.body.data.provider, 'github');
    const me = await ng.get(e, '/api/me');
    assert.equal(me.status, 200);
    // The steps below sign in through popups again (once the page's validateUser() is done).
    await openPage(e, '/ng-token-auth.html?window=newWindow');
    assert.equal((await ng.validation(e)).state, 'resolved');
  });

  s.step('OAuth form_post provider: the provider\'s page posts code and state to the callback, the request phase\'s cookie rides along, the popup delivers token and user', async (e) => {
    const poster = posterProfile('ng');
    await e.oauth.setProfile(poster);
    let pending;
    await assertFormPostSignIn(e, () => { pending = ng.call(e, 'authenticate', 'formpost'); });
    const r = await pending;
    assert.equal(r.ok, true, JSON.stringify(r.value));
    assert.equal(r.value.uid, poster.sub);
    assert.equal(r.value.provider, 'formpost');
    const stored = await ng.stored(e);
    assertFiveHeaders(stored, poster.sub);
    const server = await apiGet(e, '/auth/validate_token', authHeaders(stored));
    assert.equal(server.status, 200);
    assert.equal(server.body.data.email, poster.email);
  });

  s.step('OAuth login CSRF: a callback link opened in another browser shows the authFailure page; in the browser that started the sign-in it signs in', async (e) => {
    await e.oauth.setProfile(OCTOCAT);
    let pending;
    await assertCallbackBoundToBrowser(e, () => { pending = ng.call(e, 'authenticate', 'github'); });
    const r = await pending;
    assert.equal(r.ok, true, JSON.stringify(r.value));
    assertFiveHeaders(await ng.stored(e), String(OCTOCAT.id));
  });

  s.step('OAuth popup, the user denies at the provider: authenticate rejects with the error, auth:login-error; ng-token-auth drops its session', async (e) => {
    e.oauth.answer = 'deny';
    const before = await ng.stored(e);
    const nav0 = e.navigations.length;
    let pending;
    const { popup } = await openedPopup(e, () => { pending = ng.call(e, 'authenticate', 'github'); });
    const r = await pending;
    assert.equal(r.ok, false);
    assert.deepEqual(r.value, { reason: 'unauthorized', errors: ['access_denied'] });
    const callback = (await navigationsSince(e, nav0, 'popup')).at(-1);
    assert.equal(callback.url.split('?')[0], `${e.api}/omniauth/github/callback`);
    assert.equal(new URL(callback.url).searchParams.get('error'), 'access_denied');
    await waitFor('the popup to close itself', () => popup.isClosed());
    assert.ok((await ng.events(e)).includes('auth:login-error'));
    // ng-token-auth's rejectDfd invalidates its tokens on any failed sign-in: the user is signed
    // out locally, while the session itself stays valid on the server.
    assertNoToken(await ng.stored(e), 'ng-token-auth cleared its storage');
    assert.equal((await ng.user(e)).signedIn, undefined);
    assert.equal((await apiGet(e, '/auth/validate_token', authHeaders(before))).status, 200);
    e.oauth.answer = 'approve';
  });

  s.step('OAuth popup closed early: authenticate rejects with "User canceled login", auth:window-closed', async (e) => {
    e.oauth.answer = 'hold';
    let pending;
    const { popup } = await openedPopup(e, () => { pending = ng.call(e, 'authenticate', 'github'); });
    await popup.waitForURL(`${e.oauth.consentUrl}/authorize?**`);
    await popup.close();
    const r = await pending;
    assert.equal(r.ok, false);
    assert.deepEqual(r.value, { reason: 'unauthorized', errors: ['User canceled login'] });
    assert.ok((await ng.events(e)).includes('auth:window-closed'));
    assertNoToken(await ng.stored(e), 'nothing stored');
    e.oauth.answer = 'approve';
  });

  s.step('OAuth sameWindow (ng-token-auth\'s default): toker redirects back with auth_token&blank&client_id&config&expiry&uid, validateUser signs in', async (e) => {
    await openPage(e, '/ng-token-auth.html');
    assert.equal((await ng.validation(e)).state, 'rejected', 'signed out by the failed popup sign-ins');
    const href = await e.page.evaluate(() => location.href);
    const nav0 = e.navigations.length;
    // (not ready until the page that comes back is: this one stays up during the redirects)
    await e.page.evaluate(() => { window.ready = false; setTimeout(() => window.$auth.authenticate('github'), 0); });
    await waitFor('the page to come back from the provider', async () =>
      (await navigationsSince(e, nav0, 'main')).some((n) => n.url.startsWith(`${e.origin}/`)));
    await waitForReady(e);
    const hops = await navigationsSince(e, nav0, 'main');
    assert.equal(hops[0].url, `${e.api}/auth/github?auth_origin_url=${encodeURIComponent(href)}&omniauth_window_type=sameWindow`);
    assert.deepEqual(hops.map((n) => [n.url.split('?')[0], n.status]), [
      [`${e.api}/auth/github`, 302], [`${e.oauth.consentUrl}/authorize`, 302], [`${e.oauth.url}/authorize`, 302],
      [`${e.api}/omniauth/github/callback`, 302], [`${e.origin}/ng-token-auth.html`, 200],
    ]);
    const back = new URL(hops[3].location);
    assert.equal(back.origin + back.pathname, `${e.origin}/ng-token-auth.html`);
    assert.deepEqual([...back.searchParams.keys()], ['auth_token', 'blank', 'client_id', 'config', 'expiry', 'uid'],
      'a returning user: no oauth_registration');
    assert.equal(back.searchParams.get('blank'), 'true');
    assert.equal(back.searchParams.get('uid'), String(OCTOCAT.id));
    const v = await ng.validation(e);
    assert.equal(v.state, 'resolved', JSON.stringify(v));
    assert.equal(v.user.uid, String(OCTOCAT.id));
    assert.equal(v.user.provider, 'github');
    const validate = (await apiCalls(e)).filter((c) => c.path === '/auth/validate_token').at(-1);
    assert.equal(validate.status, 200);
    assert.equal(validate.reqHeaders['access-token'], back.searchParams.get('auth_token'), 'validated the token of the redirect');
    const stored = await ng.stored(e);
    assertFiveHeaders(stored, String(OCTOCAT.id));
    assert.equal(stored.client, back.searchParams.get('client_id'));
    assert.ok((await ng.events(e)).includes('auth:validation-success'));
  });

  s.step('sign out: signOut clears storage and the old token is dead on the server', async (e) => {
    const old = await ng.stored(e);
    assert.equal((await apiGet(e, '/auth/validate_token', authHeaders(old))).status, 200, 'live before');
    const r = await ng.call(e, 'signOut');
    assert.equal(r.ok, true, JSON.stringify(r.value));
    assertNoToken(await ng.stored(e), 'no token stored');
    assert.equal((await ng.user(e)).signedIn, undefined);
    assert.ok((await ng.events(e)).includes('auth:logout-success'));
    const after = await apiGet(e, '/api/me', authHeaders(old));
    assert.equal(after.status, 401);
    assert.equal(after.headers.get('access-token'), null);
  });

  s.step('account delete: destroyAccount removes the account; signing in again is refused', async (e) => {
    assert.equal((await ng.call(e, 'submitLogin', { email, password: passwords[2] })).ok, true);
    const creds = await ng.stored(e);
    const r = await ng.call(e, 'destroyAccount');
    assert.equal(r.ok, true, JSON.stringify(r.value));
    assertNoToken(await ng.stored(e), 'no token stored');
    assert.ok((await ng.events(e)).includes('auth:account-destroy-success'));
    const del = (await apiCalls(e)).find((c) => c.method === 'DELETE' && c.path === '/auth');
    assert.equal(del.status, 200);
    assert.equal((await apiGet(e, '/api/me', authHeaders(creds))).status, 401);
    assert.equal((await ng.call(e, 'submitLogin', { email, password: passwords[2] })).ok, false);
  });

  s.step('the page had no uncaught errors', async (e) => {
    assert.deepEqual(e.pageErrors, []);
  });
});
