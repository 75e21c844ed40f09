// The e2e harness: for one test file, a real toker binary (fresh SQLite file, SMTP to aiosmtpd,
// optionally a real OAuth2 provider), a static server for the test pages on a different origin,
// and Debian's Chromium driven by playwright-core. `suite()` wires it into node:test: start in
// `before`, stop in `after`, and `step()` keeps a screenshot, the browser console and the toker log under artifacts/ when a
// step fails.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { AppUpstream, Caddy, Envoy, Nginx, Traefik, gatewayRoutes } from './upstreams.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PAGES = path.join(HERE, 'pages');
const OAUTH_DIR = path.join(HERE, '..', 'oauth');
const NODE_MODULES = path.join(HERE, 'node_modules');
// Bundles the suite builds itself (esbuild), served under /build/; not committed.
export const BUILD = path.join(HERE, 'build');
const ARTIFACTS = path.join(HERE, 'artifacts');

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const TOKER_BIN =
  process.env.TOKER_BIN ||
  path.join(process.env.CARGO_TARGET_DIR || path.join(os.homedir(), '.cache/toker-target'), 'debug/toker');

// Without the background-networking flags Chromium keeps dialling out to Google's services,
// which a machine without internet access refuses, many connections at a time. playwright-core adds --headless and its own fresh --user-data-dir.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// If this process dies without running `after` (a signal, a closed stdout), the servers it
// started must not outlive it.
const children = new Set();
process.on('exit', () => { for (const c of children) c.kill(); });
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => process.exit(128 + os.constants.signals[sig]));
}
function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function freePort() {
  const srv = net.createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

async function waitFor(what, check, timeoutMs = 10_000, everyMs = 25) {
  const started = Date.now();
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

async function waitForPort(port, child, name) {
  await waitFor(`${name} on port ${port}`, () => {
    if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode}`);
    return new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
  }, 15_000, 50);
}

// ---- mail: aiosmtpd with a Maildir ------------------------------------------------------------

function decodeQuotedPrintable(s) {
  const bytes = [];
  const soft = s.replace(/=\r?\n/g, '');
  for (let i = 0; i < soft.length; i++) {
    if (soft[i] === '=' && /^[0-9A-Fa-f]{2}$/.test(soft.slice(i + 1, i + 3))) {
      bytes.push(parseInt(soft.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(soft[i], 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

function decodePart(headers, body) {
  const enc = (/^content-transfer-encoding:\s*(\S+)/im.exec(headers)?.[1] || '').toLowerCase();
  if (enc === 'quoted-printable') return decodeQuotedPrintable(body);
  if (enc === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  return body;
}

/** Parses what toker sends: a single part or multipart/alternative of text/plain + text/html. */
export function parseMail(raw) {
  const split = (s) => {
    const i = s.search(/\r?\n\r?\n/);
    return i < 0 ? [s, ''] : [s.slice(0, i), s.slice(i).replace(/^\r?\n\r?\n/, '')];
  };
  const [head, body] = split(raw);
  const unfolded = head.replace(/\r?\n[ \t]+/g, ' ');
  const header = (name) => new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(unfolded)?.[1]?.trim() ?? '';
  let text = '';
  let html = '';
  const boundary = /boundary="?([^";]+)"?/i.exec(header('content-type'))?.[1];
  if (boundary) {
    for (const part of body.split(`--${boundary}`).slice(1)) {
      if (part.startsWith('--')) break;
      const [ph, pb] = split(part.replace(/^\r?\n/, ''));
      const decoded = decodePart(ph, pb);
      if (/content-type:\s*text\/plain/i.test(ph)) text = decoded;
      else if (/content-type:\s*text\/html/i.test(ph)) html = decoded;
    }
  } else {
    text = decodePart(unfolded, body);
  }
  return { to: header('to'), subject: header('subject'), text, html };
}

/** The first http(s) URL in a text body. */
export function firstLink(text) {
  const m = /https?:\/\/\S+/.exec(text);
  if (!m) throw new Error(`no link in mail:\n${text}`);
  return m[0];
}

class MailSink {
  constructor(dir, child, port) {
    this.dir = dir;
    this.child = child;
    this.port = port;
    this.seen = new Set();
  }

  static async start(tmp) {
    const port = await freePort();
    const dir = path.join(tmp, 'maildir');
    const child = track(spawn('python3', ['-m', 'aiosmtpd', '-n', '-l', `127.0.0.1:${port}`, '-c', 'aiosmtpd.handlers.Mailbox', dir], {
      stdio: ['ignore', 'ignore', 'pipe'],
    }));
    let err = '';
    child.stderr.on('data', (d) => { err += d; });
    try {
      await waitForPort(port, child, 'aiosmtpd');
    } catch (e) {
      throw new Error(`${e.message} (is aiosmtpd installed? pip install aiosmtpd)\n${err}`);
    }
    return new MailSink(dir, child, port);
  }

  all() {
    const dir = path.join(this.dir, 'new');
    if (!fs.existsSync(dir)) return [];
    return fs.readdirSync(dir).map((f) => ({ file: f, ...parseMail(fs.readFileSync(path.join(dir, f), 'utf8')) }));
  }

  /** Waits for a message not returned before, to `to` with this subject. */
  async next({ to, subject }, timeoutMs = 10_000) {
    const msg = await waitFor(`mail "${subject}" to ${to}`, () =>
      this.all().find((m) => !this.seen.has(m.file) && m.to.includes(to) && m.subject === subject), timeoutMs, 50);
    this.seen.add(msg.file);
    return msg;
  }

  stop() {
    this.child.kill();
  }
}

// ---- toker ------------------------------------------------------------------------------------

class Toker {
  constructor(child, port, logFile, host) {
    this.child = child;
    this.port = port;
    this.url = `http://${host}:${port}`;
    this.logFile = logFile;
    this.log = '';
  }

  static async start({ tmp, env, pageOrigin, smtpPort, host = '127.0.0.1' }) {
    if (!fs.existsSync(TOKER_BIN)) {
      throw new Error(`${TOKER_BIN} is missing: build it with CARGO_TARGET_DIR=$HOME/.cache/toker-target cargo build`);
    }
    // public_url goes into mailed links, so toker's port is chosen before it starts.
    const port = await freePort();
    const db = path.join(tmp, 'toker.db');
    const childEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('TOKER_')) childEnv[k] = v;
    Object.assign(childEnv, {
      NO_COLOR: '1',
      RUST_LOG: 'info',
      TOKER_BIND: `127.0.0.1:${port}`,
      TOKER_PUBLIC_URL: `http://${host}:${port}`,
      TOKER_DATABASE_URL: `sqlite://${db}?mode=rwc`,
      TOKER_PASSWORD_COST: '4',
      TOKER_CORS_ORIGINS: JSON.stringify([pageOrigin]),
      TOKER_CONFIRMABLE: 'true',
      TOKER_DEFAULT_CONFIRM_SUCCESS_URL: `${pageOrigin}/confirmed`,
      TOKER_MAIL_TRANSPORT: 'smtp',
      TOKER_SMTP_HOST: '127.0.0.1',
      TOKER_SMTP_PORT: String(smtpPort),
      TOKER_SMTP_TLS: 'none',
      ...env,
    });
    const logFile = path.join(tmp, 'toker.log');
    const child = track(spawn(TOKER_BIN, ['serve'], { cwd: tmp, env: childEnv, stdio: ['ignore', 'ignore', 'pipe'] }));
    const toker = new Toker(child, port, logFile, host);
    toker.env = childEnv;
    toker.cwd = tmp;
    const out = fs.createWriteStream(logFile);
    child.stderr.on('data', (d) => { toker.log += d; out.write(d); });
    const m = await waitFor('toker to listen', () => {
      if (child.exitCode !== null) throw new Error(`toker exited with code ${child.exitCode}:\n${toker.log}`);
      return /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(toker.log);
    }, 20_000, 25);
    if (Number(m[1]) !== port) throw new Error(`toker listens on ${m[1]}, expected ${port}`);
    return toker;
  }

  /** Runs `toker <args>` (an admin command) against this server's settings: {code, stdout, stderr}. */
  async cli(args, input = '') {
    const child = spawn(TOKER_BIN, args, { cwd: this.cwd, env: this.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.stdin.end(input);
    const [code] = await once(child, 'close');
    return { code, stdout, stderr };
  }

  /** The requests toker logged so far: {method, path, status}. */
  requests() {
    return [...this.log.matchAll(/ method=(\S+) path=("[^"]*"|\S+) status=(\d+)/g)].map((m) => ({
      method: m[1], path: m[2].replace(/^"|"$/g, ''), status: Number(m[3]),
    }));
  }

  stop() {
    this.child.kill();
  }
}

// ---- OAuth: tests/oauth/provider.mjs (oauth2-mock-server) -----------------------------------

/** The client toker is registered as at the provider (the provider checks the id, not the secret). */
export const OAUTH_CLIENT_ID = 'toker-e2e';

/**
 * The real mock OAuth2 / OpenID Connect provider the Rust tests use (see the comment at the top of
 * tests/oauth/provider.mjs), configured in toker as `github` (the GitHub preset with its URLs
 * pointed here, as tests/api/omniauth.rs does), so the libraries' own `github` calls work
 * unchanged.
 *
 * The mock's /authorize approves at once and has no consent screen, so toker's authorize_url is a
 * small "consent" server in front of it, answering as the user would, per sign-in, as the test
 * sets `answer`: `approve` sends the browser on to the mock's /authorize (which issues the code),
 * `deny` is the user refusing (RFC 6749 §4.1.2.1: back to redirect_uri with error=access_denied
 * and the state), `hold` is the login page the user never answers (so a test can close the popup
 * early), and `leak` approves behind the browser's back: the consent server takes the callback
 * link the provider would send the browser to (`leaked`) and shows the login page instead, so a
 * test can open that link elsewhere (login CSRF). (A Playwright route cannot do this: routes do
 * not see requests reached by a redirect.)
 *
 * toker also knows the provider as `formpost`, an OpenID Connect provider with
 * response_mode=form_post: the provider answers its authorization with a page that posts code
 * and state to toker's callback (Apple's way).
 */
class OAuthProvider {
  constructor(child) {
    this.child = child;
    this.url = null;
    this.log = '';
    this.answer = 'approve';
    this.leaked = null;
  }

  static async start() {
    const script = path.join(OAUTH_DIR, 'provider.mjs');
    if (!fs.existsSync(path.join(OAUTH_DIR, 'node_modules', 'oauth2-mock-server', 'package.json'))) {
      throw new Error(`the OAuth provider is not installed: (cd ${OAUTH_DIR} && npm ci)`);
    }
    // --exit-on-stdin-eof: it exits with this process even if `after` never runs.
    const child = track(spawn(process.execPath, [script, '0', '--exit-on-stdin-eof'], {
      cwd: OAUTH_DIR, env: { ...process.env, OAUTH_PROVIDER_LOG: '1' }, stdio: ['pipe', 'pipe', 'pipe'],
    }));
    const provider = new OAuthProvider(child);
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { provider.log += d; });
    try {
      const m = await waitFor('the OAuth provider to listen', () => {
        if (child.exitCode !== null) throw new Error(`provider.mjs exited with code ${child.exitCode}:\n${provider.log}`);
        return /^listening (http:\/\/127\.0\.0\.1:\d+)$/m.exec(out);
      }, 20_000, 25);
      provider.url = m[1];
      provider.consent = await provider.startConsent();
    } catch (err) {
      provider.stop();
      throw err;
    }
    provider.consentUrl = `http://127.0.0.1:${provider.consent.address().port}`;
    return provider;
  }

  startConsent() {
    const server = http.createServer(async (req, res) => {
      const url = new URL(req.url, 'http://x');
      if (url.pathname === '/favicon.ico') {
        res.writeHead(204);
        res.end();
        return;
      }
      if (url.pathname !== '/authorize') {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('not found');
        return;
      }
      this.log += `[consent] ${this.answer} ${req.url}\n`;
      if (this.answer === 'approve') {
        res.writeHead(302, { location: `${this.url}/authorize${url.search}` });
        res.end();
      } else if (this.answer === 'leak') {
        const approved = await fetch(`${this.url}/authorize${url.search}`, { redirect: 'manual' });
        this.leaked = approved.headers.get('location');
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end('<!DOCTYPE html><title>Sign in to the provider</title><h1>Sign in to the provider</h1>');
      } else if (this.answer === 'deny') {
        const back = new URL(url.searchParams.get('redirect_uri'));
        back.searchParams.set('error', 'access_denied');
        back.searchParams.set('error_description', 'The user has denied your application access.');
        if (url.searchParams.has('state')) back.searchParams.set('state', url.searchParams.get('state'));
        res.writeHead(302, { location: back.href });
        res.end();
      } else {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end('<!DOCTYPE html><title>Sign in to the provider</title><h1>Sign in to the provider</h1>');
      }
    });
    server.listen(0, '127.0.0.1');
    return once(server, 'listening').then(() => server);
  }

  /** toker's settings for the `github` and `formpost` providers here. */
  tokerEnv() {
    return {
      TOKER_SECRET_KEY: 'the e2e suite signs its OAuth states with this key',
      TOKER_OAUTH__GITHUB__CLIENT_ID: OAUTH_CLIENT_ID,
      TOKER_OAUTH__GITHUB__CLIENT_SECRET: 'e2e-secret',
      TOKER_OAUTH__GITHUB__AUTHORIZE_URL: `${this.consentUrl}/authorize`,
      TOKER_OAUTH__GITHUB__TOKEN_URL: `${this.url}/token`,
      TOKER_OAUTH__GITHUB__USERINFO_URL: `${this.url}/user`,
      TOKER_OAUTH__GITHUB__EMAILS_URL: `${this.url}/user/emails`,
      TOKER_OAUTH__FORMPOST__CLIENT_ID: OAUTH_CLIENT_ID,
      TOKER_OAUTH__FORMPOST__CLIENT_SECRET: 'e2e-secret',
      TOKER_OAUTH__FORMPOST__ISSUER: this.url,
      TOKER_OAUTH__FORMPOST__AUTHORIZE_URL: `${this.consentUrl}/authorize`,
      TOKER_OAUTH__FORMPOST__RESPONSE_MODE: 'form_post',
    };
  }

  /** The GitHub profile (`GET /user`) of the next logins. */
  async setProfile(profile) {
    const res = await fetch(`${this.url}/__profile`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(profile),
    });
    if (!res.ok) throw new Error(`POST /__profile: ${res.status} ${await res.text()}`);
  }

  stop() {
    this.consent?.closeAllConnections?.();
    this.consent?.close();
    this.child.kill();
  }
}

// ---- pages ------------------------------------------------------------------------------------

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css' };

async function startPageServer(getConfig, aliases = {}) {
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/config.js') {
      res.writeHead(200, { 'content-type': TYPES['.js'], 'cache-control': 'no-store' });
      res.end(`window.TOKER = ${JSON.stringify(getConfig())};\n`);
      return;
    }
    if (url.pathname === '/favicon.ico') {
      res.writeHead(204);
      res.end();
      return;
    }
    let file;
    if (url.pathname.startsWith('/node_modules/')) {
      file = path.join(NODE_MODULES, path.normalize(url.pathname.slice('/node_modules/'.length)));
      if (!file.startsWith(NODE_MODULES + path.sep)) file = null;
    } else if (url.pathname.startsWith('/build/')) {
      file = path.join(BUILD, path.normalize(url.pathname.slice('/build/'.length)));
      if (!file.startsWith(BUILD + path.sep)) file = null;
    } else if (Object.hasOwn(aliases, url.pathname)) {
      // A page the app serves under another path too (angular-token's /oauth_callback).
      file = path.join(PAGES, aliases[url.pathname]);
    } else {
      // Every other path (the confirm/reset landing pages too) is a page from pages/.
      const name = path.basename(url.pathname) || 'index.html';
      file = path.join(PAGES, name.endsWith('.html') ? name : `${name}.html`);
    }
    try {
      const body = await fsp.readFile(file);
      res.writeHead(200, { 'content-type': TYPES[path.extname(file)] || 'application/octet-stream', 'cache-control': 'no-store' });
      res.end(body);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

// ---- the environment --------------------------------------------------------------------------

/**
 * Starts aiosmtpd, the page server, toker (settings: `env`, on top of the defaults above) and a
 * Chromium page. `config` is handed to the page as `window.TOKER` (plus `api`, toker's URL).
 * `oauth: true` also starts the OAuth provider and configures it in toker as `github`
 * (`e.oauth`, an OAuthProvider: `url`, `consentUrl`, `answer`, `setProfile()`). `pageAliases`
 * maps more paths to files of pages/ (`{'/oauth_callback': 'angular-token.html'}`).
 */
export async function startEnv({ env = {}, config = {}, oauth = false, pageAliases = {}, app, hosts } = {}) {
  const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'toker-e2e-'));
  const e = {
    tmp, console: [], pageErrors: [], apiCalls: [], pendingCalls: [], navigations: [], pendingNavigations: [], popups: [], closers: [],
  };
  try {
    e.mail = await MailSink.start(tmp);
    e.closers.push(() => e.mail.stop());
    if (oauth) {
      const provider = await OAuthProvider.start();
      e.closers.push(() => provider.stop());
      e.oauth = provider;
      env = { ...provider.tokerEnv(), ...env };
    }
    e.pages = await startPageServer(() => ({ api: e.api, ...config }), pageAliases);
    e.closers.push(() => new Promise((r) => { e.pages.closeAllConnections?.(); e.pages.close(r); }));
    // `hosts: {api, page}`: names under .test that Chromium resolves to 127.0.0.1, so that
    // toker and the pages are on the sites a test needs; `e.originOf(host)` is the page
    // server under another name (another app, a hostile page).
    e.originOf = (host) => `http://${host}:${e.pages.address().port}`;
    e.origin = e.originOf(hosts?.page ?? '127.0.0.1');
    // `app: 'gateway'`: the app behind toker's gateway at /app; `app: 'nginx'`, `'caddy'` or `'envoy'`:
    // behind that proxy, which asks toker's forward-auth endpoint, and the page talks to it only;
    // `'traefik'`: Traefik in front of toker's gateway; `'traefik-forward'`: Traefik's forwardAuth.
    if (app) {
      e.upstream = await AppUpstream.start();
      e.closers.push(() => e.upstream.stop());
      env = app === 'gateway' || app === 'traefik'
        ? { TOKER_GATEWAY__ROUTES: gatewayRoutes(e.upstream), ...env }
        : { TOKER_GATEWAY__FORWARD_AUTH: 'true', ...env };
      // Traefik in front: its X-Forwarded-* are believed.
      if (app.startsWith('traefik')) env = { TOKER_TRUSTED_PROXIES: '["127.0.0.1"]', ...env };
      e.upstream.audiences.add('e2e-app');
    }
    e.toker = await Toker.start({ tmp, env, pageOrigin: e.origin, smtpPort: e.mail.port, host: hosts?.api });
    e.closers.push(() => e.toker.stop());
    e.api = e.toker.url;
    if (app) e.upstream.jwksUrl = `${e.toker.url}/.well-known/jwks.json`;
    if (app === 'nginx' || app === 'caddy' || app === 'envoy') {
      const Proxy = { nginx: Nginx, caddy: Caddy, envoy: Envoy }[app];
      e.proxy = await Proxy.start({
        dir: path.join(tmp, app), port: await freePort(), tokerPort: e.toker.port, appPort: new URL(e.upstream.url).port, waitForPort,
      });
      e.closers.push(() => e.proxy.stop());
      e.api = e.proxy.url;
      e.upstream.audiences.add(e.proxy.url);
      e.forwardAuth = true;
    }
    if (app === 'traefik' || app === 'traefik-forward') {
      e.proxy = await Traefik.start({
        mode: app === 'traefik' ? 'gateway' : 'forward',
        dir: path.join(tmp, app), port: await freePort(), tokerPort: e.toker.port, appPort: new URL(e.upstream.url).port, pageOrigin: e.origin, waitForPort,
      });
      e.closers.push(() => e.proxy.stop());
      e.api = e.proxy.url;
      e.upstream.audiences.add(e.proxy.url);
      e.forwardAuth = app === 'traefik-forward';
    }
    const args = hosts ? [...CHROMIUM_ARGS, '--host-resolver-rules=MAP *.test 127.0.0.1'] : CHROMIUM_ARGS;
    e.browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args });
    e.closers.push(() => e.browser.close());
    e.context = await e.browser.newContext();
    e.page = await e.context.newPage();
    const log = (line) => e.console.push(`${new Date().toISOString()} ${line}`);
    e.page.on('console', (m) => log(`console.${m.type()}: ${m.text()}`));
    e.page.on('pageerror', (err) => { e.pageErrors.push(String(err)); log(`pageerror: ${err.stack || err}`); });
    e.page.on('requestfailed', (r) => log(`requestfailed: ${r.method()} ${r.url()} ${r.failure()?.errorText}`));
    e.page.on('framenavigated', (f) => { if (f === e.page.mainFrame()) log(`navigated: ${f.url()}`); });
    // Popups (OAuth): their console goes to the same log, marked.
    e.context.on('page', (p) => {
      if (p === e.page) return;
      e.popups.push(p);
      log(`popup opened: ${p.url()}`);
      p.on('console', (m) => log(`[popup] console.${m.type()}: ${m.text()}`));
      p.on('pageerror', (err) => log(`[popup] pageerror: ${err.stack || err}`));
      p.on('close', () => log('popup closed'));
    });
    // Every document request of every page (the main page and popups), redirects included:
    // {page: 'main' | 'popup', method, url, status, location}.
    e.context.on('request', (req) => {
      if (!req.isNavigationRequest()) return;
      let kind = 'popup'; // a popup's first request comes before its frame exists
      try { kind = req.frame().page() === e.page ? 'main' : 'popup'; } catch { /* kept */ }
      const nav = { page: kind, method: req.method(), url: req.url(), status: null, location: null };
      e.navigations.push(nav);
      log(`[${nav.page}] ${nav.method} ${nav.url}`);
      e.pendingNavigations.push(req.response().then(async (res) => {
        if (!res) return;
        nav.status = res.status();
        nav.location = await res.headerValue('location');
      }).catch(() => {}));
    });
    // Every response from toker the page received, with both sides' headers (preflights are
    // handled by Chromium's network service and do not show up here).
    e.page.on('response', (res) => {
      if (!res.url().startsWith(e.api)) return;
      const req = res.request();
      e.pendingCalls.push((async () => {
        const call = {
          method: req.method(), url: res.url(), path: new URL(res.url()).pathname, status: res.status(),
          postData: req.postData(), reqHeaders: await req.allHeaders(), resHeaders: await res.allHeaders(),
        };
        e.apiCalls.push(call);
      })().catch(() => {}));
    });
  } catch (err) {
    await stopEnv(e);
    throw err;
  }
  return e;
}

export async function stopEnv(e) {
  for (const close of (e.closers || []).reverse()) {
    try { await close(); } catch { /* already gone */ }
  }
  if (e.tmp && !process.env.E2E_KEEP_TMP) await fsp.rm(e.tmp, { recursive: true, force: true });
}

function slug(s) {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 80);
}

async function keepArtifacts(e, label, stepName) {
  if (!e) return;
  const dir = path.join(ARTIFACTS, label);
  await fsp.mkdir(dir, { recursive: true });
  const base = path.join(dir, slug(stepName));
  try {
    if (e.page && !e.page.isClosed()) await e.page.screenshot({ path: `${base}.png`, fullPage: true });
  } catch (err) {
    e.console.push(`(screenshot failed: ${err})`);
  }
  await fsp.writeFile(`${base}.console.log`, `${e.page?.url?.() ?? ''}\n${e.console.join('\n')}\n`);
  if (e.toker) await fsp.writeFile(`${base}.toker.log`, e.toker.log);
  if (e.upstream) await fsp.writeFile(`${base}.app.log`, `${e.upstream.problems.join('\n')}\n${e.upstream.requests.map((r) => `${r.method} ${r.url}`).join('\n')}\n`);
  if (e.proxy) await fsp.writeFile(`${base}.proxy.log`, `${e.proxy.log}\n${e.proxy.errors()}`);
  if (e.oauth) await fsp.writeFile(`${base}.oauth-provider.log`, e.oauth.log);
  for (const [i, p] of (e.popups || []).entries()) {
    if (p.isClosed()) continue;
    try { await p.screenshot({ path: `${base}.popup-${i}.png` }); } catch { /* closed meanwhile */ }
  }
}

/**
 * One file's environment and its steps. Each `step` is its own `test()`, run in order; once a
 * step fails, the later ones fail at once ("an earlier step failed") rather than running against
 * a state the scenario did not reach.
 */
export function suite(label, opts) {
  const s = { env: null, failed: null };
  before(async () => { s.env = await startEnv(opts); });
  after(async () => { if (s.env) await stopEnv(s.env); });
  s.step = (name, fn) =>
    test(name, async () => {
      if (s.failed) throw new Error(`not run: an earlier step failed (${s.failed})`);
      try {
        await fn(s.env);
      } catch (err) {
        s.failed = name;
        await keepArtifacts(s.env, label, name);
        throw err;
      }
    });
  return s;
}

// ---- helpers the test files share ------------------------------------------------------------

/** Loads a page and waits until its script has set `window.ready`. */
export async function openPage(e, pathAndQuery) {
  await e.page.goto(`${e.origin}${pathAndQuery}`);
  await waitForReady(e);
}

/** Waits for `window.ready`, across the page reloads j-toker and the redirects do by themselves. */
export async function waitForReady(e, timeoutMs = 10_000) {
  await waitFor(`${e.page.url()} to be ready`, async () => {
    try {
      return await e.page.evaluate(() => window.ready === true);
    } catch {
      return false; // the page navigated while we asked
    }
  }, timeoutMs, 25);
}

/** The toker responses the page received so far (see startEnv), oldest first. */
export async function apiCalls(e) {
  await Promise.all(e.pendingCalls);
  return e.apiCalls;
}

/**
 * Runs `start` (which makes the page open a popup, e.g. an OAuth sign-in) and returns the popup
 * and the URL it was opened with (the first document request of the popup, before redirects).
 */
export async function openedPopup(e, start) {
  const before = e.navigations.length;
  const [popup] = await Promise.all([e.page.waitForEvent('popup', { timeout: 10_000 }), start()]);
  const first = await waitFor('the popup\'s first request', () =>
    e.navigations.slice(before).find((n) => n.page === 'popup'));
  return { popup, url: first.url };
}

/** The document requests since index `from` of e.navigations (see startEnv), of `page` if given. */
export async function navigationsSince(e, from, page) {
  // Each status arrives with its response; a request that never got one settles as null.
  await Promise.race([Promise.all(e.pendingNavigations), sleep(5000)]);
  return e.navigations.slice(from).filter((n) => !page || n.page === page);
}

// ---- OAuth steps the libraries share ---------------------------------------------------------

/** The OpenID Connect profile the `formpost` provider hands out for `label` (toker's uid: sub). */
export function posterProfile(label) {
  return { sub: `${label}-poster`, email: `${label}-poster@example.com`, email_verified: true, name: 'Pat Poster' };
}

/** The cookies binding OAuth sign-ins to this browser (docs/decisions.md D6) it holds now. */
export async function bindingCookies(e) {
  return (await e.context.cookies(e.api)).filter((c) => /^(__Host-)?toker_oauth_/.test(c.name));
}

/**
 * Runs `start`, a form_post sign-in in a popup, and checks its way through the popup: toker's
 * request phase, the consent page, the provider's page, and that page's POST of code and state to
 * toker's callback, which answered with the credentials page. The request phase's cookie rode
 * along (no csrf_detected) and the callback removed it. Returns the popup.
 */
export async function assertFormPostSignIn(e, start) {
  const nav0 = e.navigations.length;
  const cookiesBefore = await bindingCookies(e);
  const { popup } = await openedPopup(e, start);
  await waitFor('the popup to close itself', () => popup.isClosed());
  const hops = await navigationsSince(e, nav0, 'popup');
  assert.deepEqual(hops.map((n) => [n.method, n.url.split('?')[0], n.status]), [
    ['GET', `${e.api}/auth/formpost`, 302], ['GET', `${e.oauth.consentUrl}/authorize`, 302],
    ['GET', `${e.oauth.url}/authorize`, 200], ['POST', `${e.api}/omniauth/formpost/callback`, 200],
  ]);
  assert.equal(new URL(hops[0].url).searchParams.get('omniauth_window_type'), 'newWindow');
  assert.equal(new URL(hops[2].url).searchParams.get('response_mode'), 'form_post');
  assert.deepEqual(await bindingCookies(e), cookiesBefore, 'the callback removed its cookie');
  return popup;
}

/**
 * Login CSRF (docs/decisions.md D6). With the provider answering `leak`, `start` begins a popup
 * sign-in; its callback link is opened in a second browser (a context with its own cookies),
 * which must get toker's authFailure page, and then in the popup, whose browser started the
 * sign-in, which must sign in. Returns the popup.
 */
export async function assertCallbackBoundToBrowser(e, start) {
  e.oauth.answer = 'leak';
  e.oauth.leaked = null;
  try {
    const before = new Set((await bindingCookies(e)).map((c) => c.name));
    const { popup } = await openedPopup(e, start);
    const link = await waitFor('the callback link', () => e.oauth.leaked);
    assert.ok(link.startsWith(`${e.api}/omniauth/github/callback?`), link);
    const [cookie, ...more] = (await bindingCookies(e)).filter((c) => !before.has(c.name));
    assert.deepEqual(more, [], 'one cookie for the one sign-in under way');
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Lax');
    assert.ok(cookie.expires > Date.now() / 1000 && cookie.expires < Date.now() / 1000 + 700, 'short-lived');
    const other = await e.browser.newContext();
    try {
      const page = await other.newPage();
      const res = await page.goto(link);
      assert.equal(res.status(), 200);
      assert.equal(await res.headerValue('location'), null);
      assert.deepEqual(await page.evaluate(() => window.requestCredentials()),
        { error: 'csrf_detected', message: 'authFailure' });
      await page.waitForFunction(() => document.getElementById('text').textContent === 'csrf_detected');
    } finally {
      await other.close();
    }
    // The page of the right browser answers the opener's poll and closes itself.
    await popup.goto(link).catch((err) => { if (!popup.isClosed()) throw err; });
    await waitFor('the popup to close itself', () => popup.isClosed());
    return popup;
  } finally {
    e.oauth.answer = 'approve';
  }
}

/** A plain Node request to toker carrying the given auth headers (for server-side checks only). */
export async function apiGet(e, pathname, headers = {}) {
  const res = await fetch(`${e.api}${pathname}`, { headers });
  return { status: res.status, body: await res.json().catch(() => null), headers: res.headers };
}

/**
 * The burst every rotating library goes through: one request after the batch window rotates,
 * six concurrent ones inside the window are batch requests that leave the stored token alone,
 * three more follow, and after the window rotation resumes; nothing is refused. `lib` is the
 * test file's driver (`get`, `stored`), `token` reads the access token out of what it stores.
 */
export async function burstInsideWindow(e, lib, { afterWindowMs, token, path: target = '/api/me' }) {
  await sleep(afterWindowMs);
  assert.equal((await lib.get(e, target)).status, 200); // rotates; the window starts now
  const rotated = await lib.stored(e);
  const burst = await e.page.evaluate((p) => Promise.all([1, 2, 3, 4, 5, 6].map(() => window.get(p))), target);
  assert.deepEqual(burst.map((r) => r.status), [200, 200, 200, 200, 200, 200]);
  assert.deepEqual(await lib.stored(e), rotated, 'batch responses leave the stored token alone');
  for (let i = 0; i < 3; i++) assert.equal((await lib.get(e, target)).status, 200);
  await sleep(afterWindowMs);
  assert.equal((await lib.get(e, target)).status, 200);
  const after = await lib.stored(e);
  assert.notEqual(token(after), token(rotated), 'rotation resumed after the window');
  const me = (await apiCalls(e)).filter((c) => c.path === target);
  assert.deepEqual(me.filter((c) => c.status !== 200), [], 'no request failed');
  // Through forward-auth, toker sees the checks at its forward-auth endpoint instead (Envoy
  // appends the client's path to it).
  const checked = (p) => (e.forwardAuth ? p === '/auth/forward' || p.startsWith('/auth/forward/') : p === target);
  assert.deepEqual(e.toker.requests().filter((r) => r.method === 'GET' && checked(r.path) && r.status !== 200), [], 'toker answered no 401');
  if (e.upstream) assert.deepEqual(e.upstream.problems, [], 'the app accepted every assertion');
}

export { waitFor };
