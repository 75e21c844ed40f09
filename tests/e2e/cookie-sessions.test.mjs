// Cookie sessions for static apps (docs/decisions.md D15), with real origins: toker on
// api.example.test, two registered apps on a.example.test and b.example.test (same site as
// toker, so the session cookie is SameSite=Lax), and two hostile pages: evil.example.test (same
// site, not registered: the browser sends the cookie, toker must refuse) and evil.test (another
// site: the browser keeps the cookie to itself). The apps are the Backbone tutorial's client
// (pages/backbone-session.html): jQuery, underscore and Backbone from npm, a Session model on
// `/session`, credentialed requests, `_csrf` sent back as X-CSRF-Token.

import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { suite, waitFor } from './harness.mjs';

const PASSWORD = 'secret123';

/** Opens `page` of the app on `host` in a new tab of the same browser. */
async function openApp(e, host, appId) {
  const page = await e.context.newPage();
  page.on('pageerror', (err) => e.pageErrors.push(`${host}: ${err}`));
  page.on('console', (m) => e.console.push(`[${host}] console.${m.type()}: ${m.text()}`));
  await page.goto(`${e.originOf(host)}/backbone-session.html${appId ? `?app=${appId}` : ''}`);
  await waitFor(`${host} to be ready`, () => page.evaluate(() => window.ready === true));
  return page;
}

const getAuth = (page) => page.evaluate(() => window.getAuth());
const login = (page, creds) => page.evaluate((c) => window.login(c), creds);
const logout = (page) => page.evaluate(() => window.logout());

/** `toker apps add`, answering the new app's id. */
async function addApp(e, name, origin) {
  const r = await e.toker.cli(['apps', 'add', '--name', name, '--origin', origin, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const app = JSON.parse(r.stdout);
  assert.ok(app.id, r.stdout);
  return app.id;
}

describe('Backbone apps on two origins share one toker session; hostile pages get nothing', () => {
  const s = suite('cookie-sessions', {
    hosts: { api: 'api.example.test', page: 'a.example.test' },
    env: {
      TOKER_CONFIRMABLE: 'false',
      TOKER_SESSION_ENABLED: 'true',
      TOKER_CSRF_TOKENS: 'true',
    },
  });
  const email = `backbone-${process.pid}@example.com`;
  const apps = {};
  let a;
  let b;

  s.step('register the two apps from the command line; no restart', async (e) => {
    apps.a = await addApp(e, 'App A', e.originOf('a.example.test'));
    apps.b = await addApp(e, 'App B', e.originOf('b.example.test'));
    const list = await e.toker.cli(['apps', 'list', '--json']);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(JSON.parse(list.stdout).map((x) => x.id).sort(), [apps.a, apps.b].sort());
    // An account to sign in with (token mode, as any frontend would create it).
    const res = await fetch(`${e.api}/auth`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: e.origin },
      body: JSON.stringify({ email, password: PASSWORD, password_confirmation: PASSWORD }),
    });
    assert.equal(res.status, 200, await res.text());
  });

  s.step('app A: signed out at first, with a CSRF token', async (e) => {
    a = await openApp(e, 'a.example.test', apps.a);
    const r = await getAuth(a);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.auth, false);
    assert.match(r.body._csrf, /^\S{16,}$/);
  });

  s.step('app A: the tutorial\'s login signs in across origins, the cookie is HttpOnly and SameSite', async (e) => {
    const r = await login(a, { username: email, password: PASSWORD });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.auth, true);
    assert.equal(r.model.username, email);
    assert.ok(r.model.id);
    const cookies = await e.context.cookies(e.api);
    assert.equal(cookies.length >= 1, true, JSON.stringify(cookies));
    const session = cookies.find((c) => /session/i.test(c.name));
    assert.ok(session, JSON.stringify(cookies));
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Lax');
    assert.equal(await a.evaluate(() => document.cookie), '', 'app A cannot read toker\'s cookie');
  });

  s.step('app A after a reload: still signed in', async () => {
    await a.reload();
    await waitFor('app A to be ready', () => a.evaluate(() => window.ready === true));
    const r = await getAuth(a);
    assert.equal(r.body.auth, true, JSON.stringify(r.body));
    assert.equal(r.body.username, email);
  });

  s.step('app B on another origin: signed in by the same session, no second sign-in', async (e) => {
    b = await openApp(e, 'b.example.test', apps.b);
    const r = await getAuth(b);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.auth, true);
    assert.equal(r.body.username, email);
  });

  s.step('a registered app\'s id from an origin that is not its own is refused', async (e) => {
    // App A's id, sent from app B's origin.
    const page = await openApp(e, 'b.example.test', apps.a);
    const r = await getAuth(page);
    assert.notEqual(r.body?.auth, true, JSON.stringify(r));
    await page.close();
  });

  s.step('evil.example.test (same site, not registered): cannot read the session nor change the account', async (e) => {
    const evil = await e.context.newPage();
    await evil.goto(`${e.originOf('evil.example.test')}/blank`);
    const api = e.api;
    const outcome = await evil.evaluate(async ({ api, appId }) => {
      const read = await fetch(`${api}/session`, { credentials: 'include', headers: { Authorization: `Session ${appId}` } })
        .then(async (r) => ({ status: r.status, body: await r.text() }), (err) => ({ error: String(err) }));
      const plain = await fetch(`${api}/session`, { credentials: 'include' })
        .then(async (r) => ({ status: r.status, body: await r.text() }), (err) => ({ error: String(err) }));
      // A request a form could send (no preflight): text/plain JSON, the tutorial's "JSON padding".
      const signOut = await fetch(`${api}/session`, {
        method: 'POST', credentials: 'include', mode: 'no-cors',
        headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ username: 'mallory@example.com', password: 'x' }),
      }).then((r) => ({ type: r.type }), (err) => ({ error: String(err) }));
      const rename = await fetch(`${api}/auth`, {
        method: 'PUT', credentials: 'include',
        headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'pwned' }),
      }).then(async (r) => ({ status: r.status }), (err) => ({ error: String(err) }));
      return { read, plain, signOut, rename };
    }, { api, appId: apps.a });
    assert.ok(outcome.read.error, `the session was readable: ${JSON.stringify(outcome.read)}`);
    assert.ok(outcome.plain.error, `the session was readable: ${JSON.stringify(outcome.plain)}`);
    assert.ok(outcome.rename.error, `the account change was let through: ${JSON.stringify(outcome.rename)}`);
    // An auto-submitted form (urlencoded, top-level POST) to the session resource.
    await evil.setContent(`<form method="POST" action="${api}/session">
      <input name="username" value="mallory@example.com"><input name="password" value="mallory-pass">
      </form><script>document.forms[0].submit()</script>`);
    await evil.waitForURL(`${api}/session`);
    const formStatus = await evil.evaluate(() => document.body.innerText);
    assert.doesNotMatch(formStatus, /"auth":\s*true/, formStatus);
    await evil.close();
    // Nothing changed: app A is still signed in as the user, under the user's name.
    const r = await getAuth(a);
    assert.equal(r.body.auth, true, JSON.stringify(r.body));
    assert.equal(r.body.username, email);
    assert.notEqual(r.body.name, 'pwned');
    const refused = e.toker.requests().filter((q) => q.path === '/session' && q.method === 'POST');
    assert.ok(refused.length >= 1, JSON.stringify(e.toker.requests().slice(-10)));
    assert.deepEqual(refused.filter((q) => q.status < 400), [], 'toker refused the forged posts');
  });

  s.step('evil.test (another site): its credentialed request carries no session', async (e) => {
    const evil = await e.context.newPage();
    await evil.goto(`${e.originOf('evil.test')}/blank`);
    const read = await evil.evaluate(async (api) =>
      fetch(`${api}/session`, { credentials: 'include' }).then(async (r) => ({ status: r.status, body: await r.text() }), (err) => ({ error: String(err) })), e.api);
    assert.ok(read.error, JSON.stringify(read));
    await evil.close();
  });

  s.step('app A signs out: app B is signed out too', async () => {
    const r = await logout(a);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.model.auth, false);
    assert.match(r.model._csrf, /^\S{16,}$/, 'a fresh token to sign in again');
    assert.equal((await getAuth(a)).body.auth, false);
    assert.equal((await getAuth(b)).body.auth, false);
  });

  s.step('app A signs in again with the fresh CSRF token', async () => {
    const r = await login(a, { username: email, password: PASSWORD });
    assert.equal(r.body.auth, true, JSON.stringify(r.body));
    assert.equal((await getAuth(b)).body.auth, true);
  });

  s.step('the pages had no uncaught errors', async (e) => {
    assert.deepEqual(e.pageErrors, []);
  });
});
