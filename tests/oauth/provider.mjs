// A real OAuth2 / OpenID Connect provider for toker's integration tests, built on
// oauth2-mock-server 9.3.0 (OAuth2Issuer + OAuth2Service + its requestHandler), with an RS256 key.
//
//   node tests/oauth/provider.mjs <port> [--exit-on-stdin-eof]
//
// Listens on 127.0.0.1:<port> (0 = any free port) and prints exactly one line to stdout when ready:
// `listening http://127.0.0.1:<actual port>`. The issuer is that URL (no trailing slash). With
// `--exit-on-stdin-eof` the process exits when its stdin closes, so it cannot outlive a test
// process that dies without killing it. `OAUTH_PROVIDER_LOG=1` logs every request to stderr.
//
// What oauth2-mock-server 9.3.0 does on its own (read in dist/oauth2-server-*.mjs, and checked by
// hand against a bare OAuth2Server):
//   * Authorization codes are NOT validated at all: POST /token with grant_type=authorization_code
//     accepts any `code` string, a code it never issued included, any number of times. Neither
//     redirect_uri, client_id nor client_secret is checked.
//   * PKCE is only half enforced: /authorize stores {code_challenge, method} per code (method
//     defaults to `plain`; plain and S256 are supported), and /token checks it ONLY IF the request
//     carries a `code_verifier` (a wrong verifier gives 400, and the stored challenge is then
//     deleted). A token request that simply omits `code_verifier` is accepted even though a
//     challenge was sent (a PKCE downgrade), and so is a second exchange of the same code without
//     a verifier.
//   * /userinfo answers 200 {"sub":"johndoe"} whatever the Authorization header says (none, or
//     `Bearer forged`); every token carries sub "johndoe".
//   * Its own errors are 400 application/problem+json, not RFC 6749 `{"error": ...}` bodies.
//
// What this launcher adds, so that it behaves like a real provider:
//   * Codes are single-use and must have been issued by /authorize: an unknown or already-exchanged
//     code gets 400 {"error":"invalid_grant"} (the first exchange attempt consumes the code, even
//     a failed one). redirect_uri and client_id (form field or HTTP Basic) must equal those sent
//     to /authorize.
//   * PKCE is enforced: if /authorize got a code_challenge, /token must carry a code_verifier with
//     BASE64URL(SHA-256(code_verifier)) == code_challenge (S256; plain: equal), else
//     invalid_grant; a code_verifier for a code issued without a challenge is rejected too.
//   * /userinfo, GET /user and GET /user/emails accept only access tokens this process issued
//     from /token (and not yet expired); anything else is 401.
//   * The user is a settable profile, captured when /authorize issues a code (= "the login").
//
// HTTP interface (besides /.well-known/openid-configuration, /authorize, /token, /userinfo,
// /jwks, /revoke, /introspect, /endsession of oauth2-mock-server):
//   POST /__profile           JSON object: the profile for the NEXT logins (replaces, not merges).
//                             Answers 200 with the profile.
//   POST /__id_token          {"client_id": "...", "nonce"?: "...", "claims"?: {...}} ->
//                             {"id_token": "<valid RS256 JWT for that audience>"}
//   POST /__expired_id_token  same body -> {"id_token": "<same, but exp one hour in the past>"}
//   GET  /user                GitHub-style: the profile JSON, for `Authorization: Bearer <token>`
//                             (or `token <token>`) of an issued access token; else 401.
//   GET  /user/emails         [{"email": profile.email, "primary": true,
//                               "verified": profile.email_verified === true}] ([] without email).
//   /userinfo answers exactly the profile JSON captured at login. id_tokens (and access tokens)
//   carry sub (profile.sub, else String(profile.id), else profile.login) and, where set in the
//   profile, email, email_verified, name, preferred_username, picture; aud = client_id,
//   iss = issuer.

import { createServer } from 'node:http';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { Events, OAuth2Issuer, OAuth2Service } from 'oauth2-mock-server';

const args = process.argv.slice(2);
const portArg = args.find((a) => !a.startsWith('--'));
const port = Number(portArg);
if (portArg === undefined || !Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write('usage: node provider.mjs <port> [--exit-on-stdin-eof]\n');
  process.exit(2);
}
const LOG = Boolean(process.env.OAUTH_PROVIDER_LOG);
const TOKEN_TTL = 3600;

const DEFAULT_PROFILE = {
  sub: 'johndoe',
  email: 'johndoe@example.com',
  email_verified: true,
  name: 'John Doe',
  preferred_username: 'johndoe',
  picture: 'https://example.com/johndoe.png',
  login: 'johndoe',
  id: 1,
  avatar_url: 'https://example.com/johndoe.png',
};

let profile = { ...DEFAULT_PROFILE };
/** code -> {clientId, redirectUri, challenge, method, profile, used} */
const codes = new Map();
/** access token -> {profile, expiresAt (ms)} */
const accessTokens = new Map();
/** refresh token -> profile */
const refreshTokens = new Map();

const issuer = new OAuth2Issuer();
await issuer.keys.generate('RS256');
const service = new OAuth2Service(issuer);

// ---------------------------------------------------------------- helpers

const clone = (v) => JSON.parse(JSON.stringify(v));

function subjectOf(p) {
  if (typeof p.sub === 'string' && p.sub !== '') return p.sub;
  if (p.id !== undefined && p.id !== null) return String(p.id);
  if (typeof p.login === 'string') return p.login;
  return 'johndoe';
}

/** The OIDC claims an id_token carries for a profile. */
function identityClaims(p) {
  const claims = { sub: subjectOf(p) };
  for (const k of ['email', 'email_verified', 'name', 'preferred_username', 'picture']) {
    if (p[k] !== undefined && p[k] !== null) claims[k] = p[k];
  }
  return claims;
}

function sendJson(res, status, body, headers = {}) {
  const content = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(content),
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(content);
}

function oauthError(res, status, error, description, headers) {
  sendJson(res, status, { error, error_description: description }, headers);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Parses a form or JSON body like oauth2-mock-server does; undefined if neither / malformed. */
function parseBody(req, raw) {
  const type = req.headers['content-type'] ?? '';
  const text = raw.toString('utf8');
  if (type.includes('application/x-www-form-urlencoded')) {
    return Object.fromEntries(new URLSearchParams(text));
  }
  if (type.includes('application/json')) {
    try {
      return JSON.parse(text);
    } catch {
      return undefined;
    }
  }
  return undefined;
}

const isObject = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);

/** HTTP Basic client credentials (RFC 6749 §2.3.1: form-urlencoded id and secret). */
function basicClientId(req) {
  const m = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  if (!m) return undefined;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  const id = i === -1 ? decoded : decoded.slice(0, i);
  try {
    return decodeURIComponent(id.replace(/\+/g, ' '));
  } catch {
    return id;
  }
}

/** The access token of `Authorization: Bearer <t>` (or GitHub's `token <t>`), if issued & live. */
function grantOf(req) {
  const m = /^(?:Bearer|token)\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  if (!m) return undefined;
  const grant = accessTokens.get(m[1]);
  if (grant === undefined || grant.expiresAt < Date.now()) return undefined;
  return grant;
}

/** A request oauth2-mock-server's handler can read again: same method, url, headers, body. */
function replay(req, raw, extra) {
  const copy = Readable.from(raw.length > 0 ? [raw] : []);
  copy.method = req.method;
  copy.url = req.url;
  copy.headers = req.headers;
  copy.socket = req.socket;
  return Object.assign(copy, extra);
}

function s256(verifier) {
  return createHash('sha256').update(verifier, 'utf8').digest('base64url');
}

async function signIdToken(clientId, p, { expired = false, nonce, claims } = {}) {
  return issuer.buildToken({
    expiresIn: TOKEN_TTL,
    scopesOrTransform: (_header, payload) => {
      Object.assign(payload, identityClaims(p), { aud: clientId });
      if (nonce !== undefined) payload.nonce = nonce;
      if (expired) {
        const now = Math.floor(Date.now() / 1000);
        payload.iat = now - 2 * TOKEN_TTL;
        payload.nbf = now - 2 * TOKEN_TTL;
        payload.exp = now - TOKEN_TTL;
      }
      if (isObject(claims)) Object.assign(payload, claims);
    },
  });
}

// ---------------------------------------------------------------- oauth2-mock-server hooks

service.on(Events.BeforeWellKnownOpenIdConfiguration, (response) => {
  Object.assign(response.body, {
    scopes_supported: ['openid', 'email', 'profile'],
    claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nonce', 'email', 'email_verified',
      'name', 'preferred_username', 'picture'],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
  });
  response.body.grant_types_supported = [...new Set([...response.body.grant_types_supported, 'refresh_token'])];
});

// /authorize: remember who logged in, and the PKCE challenge, for the code being handed out.
service.on(Events.BeforeAuthorizeRedirect, (redirect, req) => {
  const code = redirect.url.searchParams.get('code');
  if (code === null) return;
  const q = new URL(req.url ?? '/', 'http://localhost').searchParams;
  codes.set(code, {
    clientId: q.get('client_id') ?? undefined,
    redirectUri: q.get('redirect_uri') ?? undefined,
    challenge: q.get('code_challenge') || undefined,
    method: q.get('code_challenge_method') || 'plain',
    profile: clone(profile),
    used: false,
  });
});

// /token: the user's claims on every token signed for this request (req.oauthProfile is set by
// the /token pre-check below).
service.on(Events.BeforeTokenSigning, (token, req) => {
  if (req.oauthProfile !== undefined) Object.assign(token.payload, identityClaims(req.oauthProfile));
});

service.on(Events.BeforeResponse, (response, req) => {
  if (response.statusCode !== 200 || !isObject(response.body)) return;
  const p = req.oauthProfile ?? clone(profile);
  const { access_token: accessToken, refresh_token: refreshToken, expires_in: ttl } = response.body;
  if (typeof accessToken === 'string') {
    accessTokens.set(accessToken, { profile: p, expiresAt: Date.now() + (ttl ?? TOKEN_TTL) * 1000 });
  }
  if (typeof refreshToken === 'string') refreshTokens.set(refreshToken, p);
});

// /userinfo (only reached with a valid token, see below): the profile captured at login.
service.on(Events.BeforeUserinfo, (response, req) => {
  response.body = clone(req.oauthGrant.profile);
});

// ---------------------------------------------------------------- routes of the launcher

/** Validates a /token request; on success returns the profile of the login it is for. */
function checkTokenRequest(req, body, res) {
  if (!isObject(body) || typeof body.grant_type !== 'string') {
    oauthError(res, 400, 'invalid_request', 'a form (or JSON) body with grant_type is required');
    return undefined;
  }
  if (body.grant_type === 'refresh_token') {
    const p = typeof body.refresh_token === 'string' ? refreshTokens.get(body.refresh_token) : undefined;
    if (p === undefined) oauthError(res, 400, 'invalid_grant', 'unknown refresh_token');
    return p;
  }
  if (body.grant_type !== 'authorization_code') return clone(profile);

  const entry = typeof body.code === 'string' ? codes.get(body.code) : undefined;
  if (entry === undefined) {
    oauthError(res, 400, 'invalid_grant', 'unknown authorization code');
    return undefined;
  }
  if (entry.used) {
    oauthError(res, 400, 'invalid_grant', 'authorization code already used');
    return undefined;
  }
  entry.used = true;
  const clientId = basicClientId(req) ?? body.client_id;
  if (entry.clientId !== undefined && clientId !== entry.clientId) {
    oauthError(res, 400, 'invalid_grant', 'client_id does not match the authorization request');
    return undefined;
  }
  if (entry.redirectUri !== undefined && body.redirect_uri !== entry.redirectUri) {
    oauthError(res, 400, 'invalid_grant', 'redirect_uri does not match the authorization request');
    return undefined;
  }
  const verifier = body.code_verifier;
  if (entry.challenge === undefined) {
    if (verifier !== undefined) {
      oauthError(res, 400, 'invalid_grant', 'code_verifier sent but no code_challenge was');
      return undefined;
    }
    return entry.profile;
  }
  if (typeof verifier !== 'string' || !/^[A-Za-z0-9\-._~]{43,128}$/.test(verifier)) {
    oauthError(res, 400, 'invalid_grant', 'a valid code_verifier is required (PKCE)');
    return undefined;
  }
  const computed = entry.method === 'S256' ? s256(verifier) : verifier;
  if (computed !== entry.challenge) {
    oauthError(res, 400, 'invalid_grant', 'code_verifier does not match code_challenge');
    return undefined;
  }
  return entry.profile;
}

async function idTokenRoute(req, res, raw, expired) {
  const body = parseBody(req, raw);
  if (!isObject(body) || typeof body.client_id !== 'string') {
    sendJson(res, 400, { error: 'JSON body {"client_id": "..."} required' });
    return;
  }
  const nonce = typeof body.nonce === 'string' ? body.nonce : undefined;
  const idToken = await signIdToken(body.client_id, profile, { expired, nonce, claims: body.claims });
  sendJson(res, 200, { id_token: idToken });
}

async function handle(req, res) {
  const { pathname } = new URL(req.url ?? '/', 'http://localhost');
  const path = pathname.length > 1 ? pathname.replace(/\/$/, '') : pathname;
  const route = `${req.method} ${path}`;
  const raw = await readBody(req);
  if (LOG) process.stderr.write(`[oauth-provider] ${req.method} ${req.url}\n`);

  switch (route) {
    case 'POST /__profile': {
      const body = parseBody(req, raw);
      if (!isObject(body)) {
        sendJson(res, 400, { error: 'a JSON object body is required' });
        return;
      }
      profile = clone(body);
      sendJson(res, 200, profile);
      return;
    }
    case 'POST /__id_token':
      await idTokenRoute(req, res, raw, false);
      return;
    case 'POST /__expired_id_token':
      await idTokenRoute(req, res, raw, true);
      return;
    case 'GET /user':
    case 'GET /user/emails': {
      const grant = grantOf(req);
      if (grant === undefined) {
        sendJson(res, 401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' });
        return;
      }
      const p = grant.profile;
      if (path === '/user') sendJson(res, 200, p);
      else if (p.email === undefined || p.email === null) sendJson(res, 200, []);
      else sendJson(res, 200, [{ email: p.email, primary: true, verified: p.email_verified === true }]);
      return;
    }
    case 'GET /userinfo': {
      const grant = grantOf(req);
      if (grant === undefined) {
        oauthError(res, 401, 'invalid_token', 'the access token is missing, unknown or expired', {
          'WWW-Authenticate': 'Bearer error="invalid_token"',
        });
        return;
      }
      service.requestHandler(replay(req, raw, { oauthGrant: grant }), res);
      return;
    }
    case 'POST /token': {
      const oauthProfile = checkTokenRequest(req, parseBody(req, raw), res);
      if (oauthProfile === undefined) return;
      service.requestHandler(replay(req, raw, { oauthProfile }), res);
      return;
    }
    default:
      service.requestHandler(replay(req, raw), res);
  }
}

const server = createServer((req, res) => {
  handle(req, res).catch((err) => {
    process.stderr.write(`[oauth-provider] ${req.method} ${req.url}: ${err?.stack ?? err}\n`);
    if (!res.headersSent) sendJson(res, 500, { error: 'server_error', error_description: String(err) });
    else res.destroy();
  });
});

server.on('error', (err) => {
  process.stderr.write(`[oauth-provider] cannot listen on 127.0.0.1:${port}: ${err.message}\n`);
  process.exit(1);
});

server.listen(port, '127.0.0.1', () => {
  const url = `http://127.0.0.1:${server.address().port}`;
  issuer.url = url;
  process.stdout.write(`listening ${url}\n`);
});

if (args.includes('--exit-on-stdin-eof')) {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
