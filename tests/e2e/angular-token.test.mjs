// angular-token 7.0.1 (Angular 7.2.16 UMD bundles, JIT, rxjs 6.5.5) in headless Chromium against
// the toker binary, cross-origin. The docs/clients.md §9.3 scenario through AngularTokenService; app
// requests go through HttpClient, whose interceptor (angular-token's) adds and stores the auth
// headers. OAuth goes through the real mock provider (tests/oauth/provider.mjs), configured in
// toker as `github`. Settings: apiBase = oAuthBase = toker, updatePasswordPath 'auth/password'.

import assert from 'node:assert/strict';
import { describe } from 'node:test';
import {
  apiCalls, apiGet, assertCallbackBoundToBrowser, assertFormPostSignIn, firstLink, posterProfile, navigationsSince, openPage, openedPopup, sleep, suite, waitFor, waitForReady, burstInsideWindow } from './harness.mjs';

const WINDOW_S = 2; // batch_request_buffer_throttle for this run
const AFTER_WINDOW_MS = WINDOW_S * 1000 + 300;

const at = {
  stored: (e) => e.page.evaluate(() => window.stored()),
  get: (e, path) => e.page.evaluate((p) => window.get(p), path),
  request: (e, method, path, body) => e.page.evaluate(([m, p, b]) => window.request(m, p, b), [method, path, body]),
  // The service's view: its in-memory auth data (which the interceptor sends) and user.
  authData: (e) => e.page.evaluate(() => {
    const d = window.tokenService.currentAuthData;
    return d ? JSON.parse(JSON.stringify(d)) : null;
  }),
  user: (e) => e.page.evaluate(() => {
    const u = window.tokenService.currentUserData;
    return u ? JSON.parse(JSON.stringify(u)) : null;
  }),
  signedIn: (e) => e.page.evaluate(() => window.tokenService.userSignedIn()),
  // Calls tokenService[method](arg) in the page and settles its Observable into {ok, value}.
  call: (e, method, arg) => e.page.evaluate(([m, a]) => window.call(m, a), [method, arg]),
  oauth: (e) => e.page.evaluate(() => JSON.parse(JSON.stringify(window.oauth))),
  // What reached Angular's ErrorHandler since the page loaded (see the page).
  appErrors: (e) => e.page.evaluate(() => window.appErrors.slice()),
};

// signIn subscribes to its own request with no error callback, so every refused sign-in also
// reaches Angular's ErrorHandler (an app sees "ERROR HttpErrorResponse" in the console).
const refusedSignIn = (e) => ({ name: 'HttpErrorResponse', status: 401, url: `${e.api}/auth/sign_in` });

// The GitHub profile the provider hands out (toker's github preset: uid = id).
const OCTOCAT = {
  id: 7007, login: 'at-octocat', name: 'Anne Octocat', email: 'at-octocat@example.com', email_verified: true,
  avatar_url: 'https://avatars.example/at-octocat.png',
};

const authHeaders = (h) => ({ 'access-token': h.accessToken, client: h.client, uid: h.uid });

function assertFive(h, uid) {
  assert.ok(h, 'angular-token stored credentials');
  assert.match(h.accessToken, /^[A-Za-z0-9_-]{22}$/);
  assert.match(h.client, /^[A-Za-z0-9_-]{22}$/);
  assert.equal(h.uid, uid);
  assert.equal(h.tokenType, 'Bearer');
  assert.match(String(h.expiry), /^\d{10}$/);
}

// The app's own API: an upstream behind toker's gateway (docs/decisions.md D14).
const PROTECTED = '/app/me';

describe('angular-token, batch_response = "omit" (toker default)', () => {
  const s = suite('angular-token', {
    oauth: true,
    app: 'gateway',
    // angular-token's auth_origin_url is <origin>/oauth_callback: the app itself, at that route.
    pageAliases: { '/oauth_callback': 'angular-token.html' },
    env: {
      TOKER_BATCH_REQUEST_BUFFER_THROTTLE: String(WINDOW_S),
      TOKER_ACCOUNT_UPDATE_ATTRIBUTES: '["name"]',
    },
  });
  const email = `angulartoken-${process.pid}@example.com`;
  const passwords = ['first-secret', 'second-secret', 'third-secret'];
  let signedIn;

  s.step('page loads: the Angular 7 app bootstraps, angular-token finds no credentials and makes no request', async (e) => {
    await openPage(e, '/angular-token.html');
    assert.equal(await at.signedIn(e), false);
    assert.equal(await at.stored(e), null);
    assert.equal(await e.page.evaluate(() => window.tokenService.apiBase), e.api);
    assert.equal((await apiCalls(e)).length, 0);
  });

  s.step('sign up: registerAccount posts JSON {email, password, password_confirmation, confirm_success_url}, no token until confirmed', async (e) => {
    const r = await at.call(e, 'registerAccount', { login: email, password: passwords[0], passwordConfirmation: passwords[0] });
    assert.equal(r.ok, true, JSON.stringify(r.value));
    assert.equal(r.value.status, 'success');
    assert.equal(r.value.data.email, email);
    const [call] = (await apiCalls(e)).filter((c) => c.method === 'POST' && c.path === '/auth');
    assert.equal(call.status, 200);
    assert.match(call.reqHeaders['content-type'], /^application\/json/);
    assert.deepEqual(JSON.parse(call.postData), {
      email, password: passwords[0], password_confirmation: passwords[0], confirm_success_url: `${e.origin}/angular-token.html`,
    });
    assert.equal(await at.stored(e), null, 'an unconfirmed user gets no token');
    assert.equal(await at.signedIn(e), false);
  });

  s.step('sign in before confirming: signIn errors with 401 and the confirmation message', async (e) => {
    const r = await at.call(e, 'signIn', { login: email, password: passwords[0] });
    assert.equal(r.ok, false);
    assert.equal(r.value.status, 401);
    assert.deepEqual(r.value.error.errors, [
      `A confirmation email was sent to your account at '${email}'. You must follow the instructions in the email before your account can be activated`,
    ]);
    assert.equal(await at.stored(e), null);
    assert.deepEqual(await at.appErrors(e), [refusedSignIn(e)]);
  });

  s.step('confirm: the mailed link lands on the page with account_confirmation_success=true, not signed in', async (e) => {
    const mail = await e.mail.next({ to: email, subject: 'Confirmation instructions' });
    const link = firstLink(mail.text);
    assert.ok(link.startsWith(`${e.api}/auth/confirmation?`), link);
    await e.page.goto(link);
    await waitForReady(e);
    const landed = new URL(e.page.url());
    assert.equal(landed.origin + landed.pathname, `${e.origin}/angular-token.html`);
    assert.equal(landed.searchParams.get('account_confirmation_success'), 'true');
    // devise_token_auth 1.x: confirming does not sign in (docs/clients.md headline 9).
    assert.equal(await at.signedIn(e), false);
    assert.equal(await at.stored(e), null);
  });

  s.step('sign in: a bad password is refused; signIn stores the five headers in localStorage and currentUserData = body.data', async (e) => {
    await openPage(e, '/angular-token.html');
    const bad = await at.call(e, 'signIn', { login: email, password: 'wrong-password' });
    assert.equal(bad.ok, false);
    assert.equal(bad.value.status, 401);
    assert.deepEqual(bad.value.error.errors, ['Invalid login credentials. Please try again.']);
    assert.equal(await at.stored(e), null);
    assert.deepEqual(await at.appErrors(e), [refusedSignIn(e)]);
    const r = await at.call(e, 'signIn', { login: email, password: passwords[0] });
    assert.equal(r.ok, true, JSON.stringify(r.value));
    assert.equal(r.value.status, 200);
    const call = (await apiCalls(e)).find((c) => c.path === '/auth/sign_in' && c.status === 200);
    assert.deepEqual(JSON.parse(call.postData), { email, password: passwords[0] });
    assert.match(call.reqHeaders['content-type'], /^application\/json/);
    const stored = await at.stored(e);
    assertFive(stored, email);
    const names = { accessToken: 'access-token', client: 'client', uid: 'uid', expiry: 'expiry', tokenType: 'token-type' };
    for (const [k, header] of Object.entries(names)) assert.equal(stored[k], call.resHeaders[header], `stored ${k} is the response's`);
    assert.equal((await at.user(e)).email, email);
    assert.equal(await at.signedIn(e), true);
    signedIn = stored;
  });

  s.step('validate on reload: signed in from localStorage; validateToken sends the stored token, currentUserData = body.data', async (e) => {
    await e.page.reload();
    await waitForReady(e);
    assert.equal(await at.signedIn(e), true, 'from storage, without a request');
    assert.equal(await at.user(e), null);
    assert.equal((await apiCalls(e)).filter((c) => c.path === '/auth/validate_token').length, 0, 'angular-token does not validate by itself');
    const r = await at.call(e, 'validateToken');
    assert.equal(r.ok, true, JSON.stringify(r.value));
    assert.equal(r.value.data.email, email);
    assert.equal((await at.user(e)).email, email);
    const calls = (await apiCalls(e)).filter((c) => c.path === '/auth/validate_token');
    assert.equal(calls.length, 1);
    assert.equal(calls[0].reqHeaders['access-token'], signedIn.accessToken);
    assert.equal(calls[0].resHeaders['access-token'], undefined, 'a batch response right after sign-in');
    assert.deepEqual(await at.stored(e), signedIn);
  });

  s.step('protected requests: HttpClient GET to the app behind the gateway rotates the token after each batch window', async (e) => {
    let before = await at.stored(e);
    for (let i = 0; i < 2; i++) {
      await sleep(AFTER_WINDOW_MS);
      const r = await at.get(e, PROTECTED);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.data.email, email);
      const now = await at.stored(e);
      assertFive(now, email);
      assert.notEqual(now.accessToken, before.accessToken, 'the token rotated');
      assert.equal(now.client, before.client);
      assert.ok(now.expiry >= before.expiry, 'angular-token compares expiry strings');
      const last = (await apiCalls(e)).filter((c) => c.path === PROTECTED).at(-1);
      assert.equal(last.reqHeaders['access-token'], before.accessToken, 'sent the stored token');
      assert.equal(last.reqHeaders['token-type'], 'Bearer');
      const seen = e.upstream.requests.at(-1);
      assert.equal(seen.headers['x-toker-email'], email);
      assert.equal(seen.headers['access-token'], undefined);
      before = now;
    }
    assert.deepEqual(e.upstream.problems, []);
  });

  s.step('burst: 6 concurrent requests inside the batch window, then more: no 401, still signed in', async (e) => {
    await burstInsideWindow(e, at, { afterWindowMs: AFTER_WINDOW_MS, token: (t) => t.accessToken, path: PROTECTED });
    assert.equal(await at.signedIn(e), true);
  });

  s.step('account update: angular-token has no updateAccount; PUT /auth {name} through its HttpClient interceptor', async (e) => {
    const api = await e.page.evaluate(() => Object.keys(Object.getPrototypeOf(window.tokenService)).filter((k) => /account/i.test(k)));
    assert.deepEqual(api.sort(), ['deleteAccount', 'registerAccount'], 'no account update in angular-token 7.0.1');
    const before = await at.stored(e);
    const r = await at.request(e, 'PUT', '/auth', { name: 'Anne Token' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.data.name, 'Anne Token');
    const call = (await apiCalls(e)).find((c) => c.method === 'PUT' && c.path === '/auth');
    assert.equal(call.reqHeaders['access-token'], before.accessToken, 'the interceptor added the stored token');
    assert.equal((await at.get(e, '/api/me')).body.data.name, 'Anne Token');
  });

  s.step('password change: updatePassword puts {current_password, password, password_confirmation} to auth/password; the old password stops working', async (e) => {
    const r = await at.call(e, 'updatePassword', {
      passwordCurrent: passwords[0], password: passwords[1], passwordConfirmation: passwords[1],
    });
    assert.equal(r.ok, true, JSON.stringify(r.value));
    assert.equal(r.value.success, true);
    const call = (await apiCalls(e)).find((c) => c.method === 'PUT' && c.path === '/auth/password');
    assert.deepEqual(JSON.parse(call.postData), {
      current_password: passwords[0], password: passwords[1], password_confirmation: passwords[1],
    });
    assert.equal((await at.get(e, '/api/me')).status, 200, 'still signed in');
    const old = await fetch(`${e.api}/auth/sign_in`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: passwords[0] }),
    });
    assert.equal(old.status, 401);
  });

  s.step('forgot password: resetPassword posts {email, redirect_url} and a reset link is mailed', async (e) => {
    const r = await at.call(e, 'resetPassword', { login: email });
    assert.equal(r.ok, true, JSON.stringify(r.value));
    assert.equal(r.value.success, true);
    const call = (await apiCalls(e)).find((c) => c.method === 'POST' && c.path === '/auth/password');
    assert.deepEqual(JSON.parse(call.postData), { email, redirect_url: `${e.origin}/angular-token.html` });
  });

  s.step('reset link: angular-token reads token/client_id/expiry/uid from the landing URL (in memory only in 7.0.1; no reset flag)', async (e) => {
    const before = await at.stored(e);
    const mail = await e.mail.next({ to: email, subject: 'Reset password instructions' });
    const link = firstLink(mail.text);
    assert.ok(link.startsWith(`${e.api}/auth/password/edit?`), link);
    // The interceptor prefers storage when its expiry string is >= the URL's (docs/clients.md §5):
    // the link's token must be at least a second younger than the stored one.
    await sleep(1100);
    await e.page.goto(link);
    await waitForReady(e);
    const landed = new URL(e.page.url());
    assert.equal(landed.origin + landed.pathname, `${e.origin}/angular-token.html`);
    assert.equal(landed.searchParams.get('reset_password'), 'true');
    const data = await at.authData(e);
    assert.equal(data.accessToken, landed.searchParams.get('token'), 'the legacy token param');
    assert.equal(data.client, landed.searchParams.get('client_id'), 'the legacy client_id param');
    assert.equal(data.uid, email);
    assert.ok(data.expiry > before.expiry);
    assert.notEqual(data.client, before.client, 'the link signed in a new device');
    assert.deepEqual(await at.stored(e), before, 'angular-token 7.0.1 keeps URL credentials in memory only');
    assert.equal(await e.page.evaluate(() => 'mustResetPassword' in window.tokenService), false, 'no reset flag');
    const v = await at.call(e, 'validateToken');
    assert.equal(v.ok, true, JSON.stringify(v.value));
    const call = (await apiCalls(e)).filter((c) => c.path === '/auth/validate_token').at(-1);
    assert.equal(call.reqHeaders['access-token'], data.accessToken, 'validated the token of the link');
  });

  s.step('new password: updatePassword without current_password after the reset link', async (e) => {
    const data = await at.authData(e);
    const r = await at.call(e, 'updatePassword', { password: passwords[2], passwordConfirmation: passwords[2] });
    assert.equal(r.ok, true, JSON.stringify(r.value));
    const call = (await apiCalls(e)).filter((c) => c.method === 'PUT' && c.path === '/auth/password').at(-1);
    assert.deepEqual(JSON.parse(call.postData), { password: passwords[2], password_confirmation: passwords[2] });
    assert.equal(call.reqHeaders['access-token'], data.accessToken, 'sent with the token of the link');
  });

  s.step('sign in with the new password (the previous one is refused)', async (e) => {
    const errorsBefore = (await at.appErrors(e)).length;
    const bad = await at.call(e, 'signIn', { login: email, password: passwords[1] });
    assert.equal(bad.ok, false);
    assert.equal(bad.value.status, 401);
    assert.deepEqual((await at.appErrors(e)).slice(errorsBefore), [refusedSignIn(e)]);
    const r = await at.call(e, 'signIn', { login: email, password: passwords[2] });
    assert.equal(r.ok, true, JSON.stringify(r.value));
    assertFive(await at.stored(e), email);
    assert.equal((await at.user(e)).email, email);
  });

  s.step('OAuth popup: signInOAuth opens /auth/github?omniauth_window_type=newWindow&auth_origin_url=<origin>/oauth_callback, the provider approves, the popup delivers the token', async (e) => {
    await e.oauth.setProfile(OCTOCAT);
    e.oauth.answer = 'approve';
    const before = await at.stored(e);
    const nav0 = e.navigations.length;
    const { popup, url } = await openedPopup(e, () => e.page.evaluate(() => window.startOAuth()));
    assert.equal(url, `${e.api}/auth/github?omniauth_window_type=newWindow&auth_origin_url=${encodeURIComponent(`${e.origin}/oauth_callback`)}`);
    await waitFor('the credentials message', async () => (await at.oauth(e)).messages.length > 0);
    const hops = await navigationsSince(e, nav0, 'popup');
    assert.deepEqual(hops.map((n) => [n.url.split('?')[0], n.status]), [
      [`${e.api}/auth/github`, 302], [`${e.oauth.consentUrl}/authorize`, 302], [`${e.oauth.url}/authorize`, 302],
      [`${e.api}/omniauth/github/callback`, 200],
    ]);
    await waitFor('the popup to close itself', () => popup.isClosed());
    // The Observable's first value is the raw message.
    const { messages, errors } = await at.oauth(e);
    assert.deepEqual(errors, []);
    const [m] = messages;
    assert.equal(m.message, 'deliverCredentials');
    assert.equal(m.uid, String(OCTOCAT.id));
    assert.equal(m.email, OCTOCAT.email);
    const stored = await at.stored(e);
    assertFive(stored, String(OCTOCAT.id));
    assert.equal(stored.accessToken, m.auth_token);
    assert.equal(stored.client, m.client_id);
    assert.equal(stored.expiry, String(m.expiry));
    assert.notEqual(stored.client, before.client, 'a new session replaced the password one');
    // angular-token takes only the credentials from the message; the app validates for the user.
    assert.equal((await at.user(e)).email, email, 'currentUserData is still the previous user');
    const v = await at.call(e, 'validateToken');
    assert.equal(v.ok, true, JSON.stringify(v.value));
    assert.equal((await at.user(e)).provider, 'github');
    assert.equal((await at.user(e)).email, OCTOCAT.email);
    const server = await apiGet(e, '/auth/validate_token', authHeaders(stored));
    assert.equal(server.status, 200);
    assert.equal(server.body.data.uid, String(OCTOCAT.id));
  });

  s.step('OAuth form_post provider: the provider\'s page posts code and state to the callback, the request phase\'s cookie rides along, the popup delivers the token', async (e) => {
    const poster = posterProfile('at');
    await e.oauth.setProfile(poster);
    await assertFormPostSignIn(e, () => e.page.evaluate(() => window.startOAuth('formpost')));
    const { messages: [m], errors } = await at.oauth(e);
    assert.deepEqual(errors, []);
    assert.equal(m.message, 'deliverCredentials');
    assert.equal(m.uid, poster.sub);
    assert.equal(m.provider, 'formpost');
    const stored = await at.stored(e);
    assertFive(stored, poster.sub);
    assert.equal(stored.accessToken, m.auth_token);
    const server = await apiGet(e, '/auth/validate_token', authHeaders(stored));
    assert.equal(server.status, 200);
    assert.equal(server.body.data.email, poster.email);
  });

  s.step('OAuth login CSRF: a callback link opened in another browser shows the authFailure page; in the browser that started the sign-in it signs in', async (e) => {
    await e.oauth.setProfile(OCTOCAT);
    await assertCallbackBoundToBrowser(e, () => e.page.evaluate(() => window.startOAuth()));
    await waitFor('the credentials message', async () => (await at.oauth(e)).messages.length > 0);
    const { messages: [m] } = await at.oauth(e);
    assert.equal(m.message, 'deliverCredentials');
    assert.equal(m.uid, String(OCTOCAT.id));
    assertFive(await at.stored(e), String(OCTOCAT.id));
  });

  s.step('OAuth popup, the user denies at the provider: signInOAuth emits the authFailure message, nothing stored', async (e) => {
    e.oauth.answer = 'deny';
    const before = await at.stored(e);
    const nav0 = e.navigations.length;
    const { popup } = await openedPopup(e, () => e.page.evaluate(() => window.startOAuth()));
    await waitFor('the failure message', async () => (await at.oauth(e)).messages.length > 0);
    const { messages, errors, completed } = await at.oauth(e);
    assert.deepEqual(messages, [{ message: 'authFailure', error: 'access_denied' }]);
    assert.deepEqual(errors, [], 'reported as a value, not as an error');
    assert.equal(completed, false);
    const callback = (await navigationsSince(e, nav0, 'popup')).at(-1);
    assert.equal(callback.url.split('?')[0], `${e.api}/omniauth/github/callback`);
    assert.equal(new URL(callback.url).searchParams.get('error'), 'access_denied');
    await waitFor('the popup to close itself', () => popup.isClosed());
    assert.deepEqual(await at.stored(e), before);
    e.oauth.answer = 'approve';
  });

  s.step('OAuth popup closed early: angular-token reports nothing (no value, no error, no completion), nothing stored', async (e) => {
    e.oauth.answer = 'hold';
    const before = await at.stored(e);
    const { popup } = await openedPopup(e, () => e.page.evaluate(() => window.startOAuth()));
    await popup.waitForURL(`${e.oauth.consentUrl}/authorize?**`);
    await popup.close();
    await sleep(1500); // three of angular-token's 500 ms polls
    assert.deepEqual(await at.oauth(e), { messages: [], errors: [], completed: false });
    assert.deepEqual(await at.stored(e), before);
    e.oauth.answer = 'approve';
  });

  s.step('OAuth sameWindow (oAuthWindowType sameWindow): toker redirects to /oauth_callback?auth_token&blank&client_id&config&expiry&uid, processOAuthCallback signs in', async (e) => {
    await openPage(e, '/angular-token.html?oauth=sameWindow');
    const before = await at.stored(e);
    const nav0 = e.navigations.length;
    // (not ready until the page that comes back is: this one stays up during the redirects)
    await e.page.evaluate(() => { window.ready = false; setTimeout(() => window.startOAuth(), 0); });
    await waitFor('the app to come back from the provider', async () =>
      (await navigationsSince(e, nav0, 'main')).some((n) => n.url.startsWith(`${e.origin}/`)));
    await waitForReady(e);
    await waitFor('processOAuthCallback', () => e.page.evaluate(() => window.oauthCallbackProcessed === true));
    const hops = await navigationsSince(e, nav0, 'main');
    const callbackUrl = `${e.origin}/oauth_callback`;
    assert.equal(hops[0].url, `${e.api}/auth/github?omniauth_window_type=sameWindow&auth_origin_url=${encodeURIComponent(callbackUrl)}`);
    assert.deepEqual(hops.map((n) => [n.url.split('?')[0], n.status]), [
      [`${e.api}/auth/github`, 302], [`${e.oauth.consentUrl}/authorize`, 302], [`${e.oauth.url}/authorize`, 302],
      [`${e.api}/omniauth/github/callback`, 302], [callbackUrl, 200],
    ]);
    const back = new URL(hops[3].location);
    assert.equal(back.origin + back.pathname, callbackUrl);
    assert.deepEqual([...back.searchParams.keys()], ['auth_token', 'blank', 'client_id', 'config', 'expiry', 'uid'],
      'a returning user: no oauth_registration');
    assert.equal(back.searchParams.get('blank'), 'true');
    assert.equal(back.searchParams.get('uid'), String(OCTOCAT.id));
    const data = await at.authData(e);
    assert.equal(data.accessToken, back.searchParams.get('auth_token'));
    assert.equal(data.client, back.searchParams.get('client_id'));
    assert.equal(data.expiry, back.searchParams.get('expiry'));
    assert.ok(data.expiry > before.expiry, 'younger than the stored session, so the interceptor keeps it');
    assert.deepEqual(await at.stored(e), before, 'in memory only (7.0.1)');
    const v = await at.call(e, 'validateToken');
    assert.equal(v.ok, true, JSON.stringify(v.value));
    assert.equal(v.value.data.uid, String(OCTOCAT.id));
    assert.equal((await at.user(e)).provider, 'github');
    const validate = (await apiCalls(e)).filter((c) => c.path === '/auth/validate_token').at(-1);
    assert.equal(validate.reqHeaders['access-token'], data.accessToken, 'validated the token of the redirect');
    // The first rotation after the batch window is what persists the session.
    await sleep(AFTER_WINDOW_MS);
    assert.equal((await at.get(e, '/api/me')).status, 200);
    const stored = await at.stored(e);
    assertFive(stored, String(OCTOCAT.id));
    assert.equal(stored.client, data.client);
  });

  s.step('sign out: signOut clears storage, the old token is dead on the server, a second signOut gets 404', async (e) => {
    const old = await at.stored(e);
    assert.equal((await apiGet(e, '/auth/validate_token', authHeaders(old))).status, 200, 'live before');
    const r = await at.call(e, 'signOut');
    assert.equal(r.ok, true, JSON.stringify(r.value));
    assert.equal(r.value.success, true);
    assert.equal(await at.stored(e), null);
    assert.equal(await at.signedIn(e), false);
    assert.equal(await at.user(e), null);
    const after = await apiGet(e, '/api/me', authHeaders(old));
    assert.equal(after.status, 401);
    assert.equal(after.headers.get('access-token'), null);
    const again = await at.call(e, 'signOut');
    assert.equal(again.ok, false);
    assert.equal(again.value.status, 404);
    assert.deepEqual(again.value.error.errors, ['User was not found or was not logged in.']);
  });

  s.step('account delete: deleteAccount removes the account (angular-token keeps the dead credentials); signing in again is refused', async (e) => {
    assert.equal((await at.call(e, 'signIn', { login: email, password: passwords[2] })).ok, true);
    const creds = await at.stored(e);
    const r = await at.call(e, 'deleteAccount');
    assert.equal(r.ok, true, JSON.stringify(r.value));
    assert.equal(r.value.status, 'success');
    const del = (await apiCalls(e)).find((c) => c.method === 'DELETE' && c.path === '/auth');
    assert.equal(del.status, 200);
    assert.equal(del.reqHeaders['access-token'], creds.accessToken);
    assert.equal((await at.stored(e)).client, creds.client, 'deleteAccount does not clear storage');
    assert.equal((await apiGet(e, '/api/me', authHeaders(creds))).status, 401);
    assert.equal((await at.call(e, 'signIn', { login: email, password: passwords[2] })).ok, false);
  });

  s.step('CORS: Chromium caches toker\'s preflights (Access-Control-Max-Age 7200): one OPTIONS per URL for the whole run', async (e) => {
    // angular-token sends no If-Modified-Since, so its requests may use the preflight cache
    // (toker's `Cache-Control: no-store` on the 204 does not stop that). j-toker and
    // ng-token-auth add `If-Modified-Since`, which turns the request's cache mode into no-store
    // (Fetch spec) and makes Chromium preflight every one of them: see j-toker.test.mjs.
    const preflights = {};
    for (const r of e.toker.requests().filter((r) => r.method === 'OPTIONS')) preflights[r.path] = (preflights[r.path] || 0) + 1;
    assert.ok(Object.keys(preflights).length >= 5, JSON.stringify(preflights));
    assert.deepEqual(Object.values(preflights).filter((n) => n !== 1), [], JSON.stringify(preflights));
    const gets = e.toker.requests().filter((r) => r.method === 'GET' && r.path === PROTECTED).length;
    assert.ok(gets > 10, `${gets} GET ${PROTECTED}`);
    assert.equal(preflights[PROTECTED], 1, 'the gateway route answers preflights like toker\'s own');
    assert.equal(preflights['/api/me'], 1);
  });

  s.step('no uncaught errors; Angular\'s ErrorHandler got only angular-token\'s own (the refused signIn)', async (e) => {
    assert.deepEqual(e.pageErrors, []);
    // Since the last page load (the sameWindow step): the refused sign-in after the delete.
    assert.deepEqual(await at.appErrors(e), [refusedSignIn(e)]);
  });
});
