// Several user types (README "Several user types") from the browser: j-toker and ng-token-auth
// with two named configurations and angular-token with two user types each sign in as a User and as an Admin
// with the same e-mail (two passwords) in one page. Each type's token works on its own mount
// only: the one the library holds is refused on the other type's routes and on /api/me, and the
// other type's token, kept aside, is still good where it belongs.

import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { apiCalls, apiGet, openPage, suite, waitFor } from './harness.mjs';

// Users and Admins: no confirmation, so both sign in at once; Admins need 12 characters.
const env = (adminMount) => ({
  TOKER_CONFIRMABLE: 'false',
  TOKER_USER_TYPES: `[{name = "Admin", mount_path = "${adminMount}", password_length = [12, 128]}]`,
});

const USER_PASSWORD = 'user-secret';
const ADMIN_PASSWORD = 'admin-secret-long';

describe('j-toker, two configurations (User at /auth, Admin at /admin_auth)', () => {
  const s = suite('user-types-j-toker', { env: env('/admin_auth') });
  const email = `jt-types-${process.pid}@example.com`;
  const jt = {
    stored: (e) => e.page.evaluate(() => window.stored()),
    get: (e, path) => e.page.evaluate((p) => window.get(p), path),
    call: (e, method, arg) => e.page.evaluate(([m, a]) => window.settle($.auth[m](a)), [method, arg]),
  };
  const headersOf = (h) => ({ 'access-token': h['access-token'], client: h.client, uid: h.uid });
  let userToken;
  let adminToken;

  s.step('the page loads both configurations', async (e) => {
    await openPage(e, '/j-toker-types.html');
    await waitFor('configure() to settle', () => e.page.evaluate(() => window.validation.state !== 'pending'));
    assert.equal(await jt.stored(e), null);
  });

  s.step('one address signs up as a User and as an Admin, with the Admin rules', async (e) => {
    const user = await jt.call(e, 'emailSignUp', { email, password: USER_PASSWORD, password_confirmation: USER_PASSWORD });
    assert.equal(user.ok, true, JSON.stringify(user.value));
    const short = await jt.call(e, 'emailSignUp', { email, password: USER_PASSWORD, password_confirmation: USER_PASSWORD, config: 'admin' });
    assert.equal(short.ok, false, 'an Admin password needs 12 characters');
    const admin = await jt.call(e, 'emailSignUp', { email, password: ADMIN_PASSWORD, password_confirmation: ADMIN_PASSWORD, config: 'admin' });
    assert.equal(admin.ok, true, JSON.stringify(admin.value));
    const calls = (await apiCalls(e)).filter((c) => c.method === 'POST');
    assert.deepEqual(calls.map((c) => [c.path, c.status]), [['/auth', 200], ['/admin_auth', 422], ['/admin_auth', 200]]);
  });

  s.step('signed in as the User (default configuration): its token works at /auth and /api/me only', async (e) => {
    const wrong = await jt.call(e, 'emailSignIn', { email, password: ADMIN_PASSWORD });
    assert.equal(wrong.ok, false, 'the Admin password does not open the User');
    const r = await jt.call(e, 'emailSignIn', { email, password: USER_PASSWORD });
    assert.equal(r.ok, true, JSON.stringify(r.value));
    assert.equal((await jt.get(e, '/api/me')).status, 200);
    assert.equal((await jt.get(e, '/auth/validate_token')).status, 200);
    assert.equal((await jt.get(e, '/admin_auth/validate_token')).status, 401);
    userToken = headersOf(await jt.stored(e));
  });

  s.step('signed in as the Admin (config: admin): its own token, refused at /auth and /api/me', async (e) => {
    const wrong = await jt.call(e, 'emailSignIn', { email, password: USER_PASSWORD, config: 'admin' });
    assert.equal(wrong.ok, false, 'the User password does not open the Admin');
    const r = await jt.call(e, 'emailSignIn', { email, password: ADMIN_PASSWORD, config: 'admin' });
    assert.equal(r.ok, true, JSON.stringify(r.value));
    const last = (await apiCalls(e)).filter((c) => c.method === 'POST').at(-1);
    assert.equal(last.path, '/admin_auth/sign_in');
    adminToken = headersOf(await jt.stored(e));
    assert.notEqual(adminToken.client, userToken.client);
    assert.equal((await jt.get(e, '/api/me')).status, 401);
    assert.equal((await jt.get(e, '/auth/validate_token')).status, 401);
    assert.equal((await jt.get(e, '/admin_auth/validate_token')).status, 200);
  });

  s.step('the User token kept aside still works at home and still not at /admin_auth', async (e) => {
    assert.equal((await apiGet(e, '/admin_auth/validate_token', userToken)).status, 401);
    const home = await apiGet(e, '/auth/validate_token', userToken);
    assert.equal(home.status, 200);
    assert.equal(home.body.data.email, email);
  });
});

describe('ng-token-auth, two configurations (User at /auth, Admin at /admin_auth)', () => {
  const s = suite('user-types-ng-token-auth', { env: env('/admin_auth') });
  const email = `ng-types-${process.pid}@example.com`;
  const ng = {
    stored: (e) => e.page.evaluate(() => window.stored()),
    get: (e, path) => e.page.evaluate((p) => window.get(p), path),
    call: (e, method, ...args) =>
      e.page.evaluate(([m, a]) => window.ng(() => window.$auth[m].apply(window.$auth, a)), [method, args]),
  };
  const headersOf = (h) => ({ 'access-token': h['access-token'], client: h.client, uid: h.uid });
  let adminToken;

  s.step('the page loads both configurations', async (e) => {
    await openPage(e, '/ng-token-auth-types.html');
  });

  s.step('one address registers as a User and as an Admin (config: admin)', async (e) => {
    const user = await ng.call(e, 'submitRegistration', { email, password: USER_PASSWORD, password_confirmation: USER_PASSWORD });
    assert.equal(user.ok, true, JSON.stringify(user.value));
    const admin = await ng.call(e, 'submitRegistration',
      { email, password: ADMIN_PASSWORD, password_confirmation: ADMIN_PASSWORD }, { config: 'admin' });
    assert.equal(admin.ok, true, JSON.stringify(admin.value));
    const calls = (await apiCalls(e)).filter((c) => c.method === 'POST');
    assert.deepEqual(calls.map((c) => [c.path, c.status]), [['/auth', 200], ['/admin_auth', 200]]);
  });

  s.step('signed in as the Admin: its token is refused at /auth and /api/me', async (e) => {
    const r = await ng.call(e, 'submitLogin', { email, password: ADMIN_PASSWORD }, { config: 'admin' });
    assert.equal(r.ok, true, JSON.stringify(r.value));
    assert.equal((await apiCalls(e)).at(-1).path, '/admin_auth/sign_in');
    adminToken = headersOf(await ng.stored(e));
    assert.equal((await ng.get(e, '/admin_auth/validate_token')).status, 200);
    assert.equal((await ng.get(e, '/api/me')).status, 401);
  });

  s.step('signed in as the User: its own token; the Admin one kept aside still works at home only', async (e) => {
    const r = await ng.call(e, 'submitLogin', { email, password: USER_PASSWORD }, { config: 'default' });
    assert.equal(r.ok, true, JSON.stringify(r.value));
    assert.equal((await apiCalls(e)).at(-1).path, '/auth/sign_in');
    const user = headersOf(await ng.stored(e));
    assert.notEqual(user.client, adminToken.client);
    assert.equal((await ng.get(e, '/api/me')).status, 200);
    assert.equal((await ng.get(e, '/admin_auth/validate_token')).status, 401);
    assert.equal((await apiGet(e, '/auth/validate_token', adminToken)).status, 401);
    assert.equal((await apiGet(e, '/admin_auth/validate_token', adminToken)).status, 200);
  });
});

describe('angular-token, two user types (User at /auth, ADMIN at /admin/auth)', () => {
  const s = suite('user-types-angular-token', { env: env('/admin/auth') });
  const email = `at-types-${process.pid}@example.com`;
  const at = {
    stored: (e) => e.page.evaluate(() => window.stored()),
    get: (e, path) => e.page.evaluate((p) => window.get(p), path),
    call: (e, method, arg) => e.page.evaluate(([m, a]) => window.call(m, a), [method, arg]),
  };
  const headersOf = (h) => ({ 'access-token': h.accessToken, client: h.client, uid: h.uid });
  let userToken;
  let adminToken;

  s.step('the page boots with its user types', async (e) => {
    await openPage(e, '/angular-token-types.html');
    assert.equal(await at.stored(e), null);
  });

  s.step('one address registers as a User and as an ADMIN', async (e) => {
    const user = await at.call(e, 'registerAccount', { login: email, password: USER_PASSWORD, passwordConfirmation: USER_PASSWORD });
    assert.equal(user.ok, true, JSON.stringify(user.value));
    const admin = await at.call(e, 'registerAccount', {
      login: email, password: ADMIN_PASSWORD, passwordConfirmation: ADMIN_PASSWORD, userType: 'ADMIN',
    });
    assert.equal(admin.ok, true, JSON.stringify(admin.value));
    const calls = (await apiCalls(e)).filter((c) => c.method === 'POST');
    assert.deepEqual(calls.map((c) => [c.path, c.status]), [['/auth', 200], ['/admin/auth', 200]]);
  });

  s.step('signed in as the ADMIN: its token works at /admin/auth only', async (e) => {
    const r = await at.call(e, 'signIn', { login: email, password: ADMIN_PASSWORD, userType: 'ADMIN' });
    assert.equal(r.ok, true, JSON.stringify(r.value));
    assert.equal((await apiCalls(e)).at(-1).path, '/admin/auth/sign_in');
    adminToken = headersOf(await at.stored(e));
    const v = await at.call(e, 'validateToken');
    assert.equal(v.ok, true, JSON.stringify(v.value));
    assert.equal((await apiCalls(e)).at(-1).path, '/admin/auth/validate_token');
    assert.equal((await at.get(e, '/api/me')).status, 401);
    assert.equal((await at.get(e, '/auth/validate_token')).status, 401);
  });

  s.step('signed in as the User: its own token, refused at /admin/auth', async (e) => {
    const wrong = await at.call(e, 'signIn', { login: email, password: ADMIN_PASSWORD });
    assert.equal(wrong.ok, false, 'the ADMIN password does not open the User');
    const r = await at.call(e, 'signIn', { login: email, password: USER_PASSWORD });
    assert.equal(r.ok, true, JSON.stringify(r.value));
    assert.equal((await apiCalls(e)).at(-1).path, '/auth/sign_in');
    userToken = headersOf(await at.stored(e));
    assert.notEqual(userToken.client, adminToken.client);
    assert.equal((await at.get(e, '/api/me')).status, 200);
    assert.equal((await at.get(e, '/admin/auth/validate_token')).status, 401);
  });

  s.step('the ADMIN token kept aside still works at home and still not at /auth', async (e) => {
    assert.equal((await apiGet(e, '/auth/validate_token', adminToken)).status, 401);
    assert.equal((await apiGet(e, '/api/me', adminToken)).status, 401);
    assert.equal((await apiGet(e, '/admin/auth/validate_token', adminToken)).status, 200);
  });
});
