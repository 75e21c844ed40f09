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
//   * Every access token remembers the client it was issued to, and the provider answers "who was
//     this token issued to?" the way the real ones do (below): GitHub's check-token, Google's
//     tokeninfo, Facebook's debug_token, and a real RFC 7662 /introspect (the mock's own answers
//     {"active": true} to anything).
//   * /authorize honours response_mode=form_post: instead of redirecting it answers a page that
//     posts code and state (or error) to redirect_uri, as Apple does.
//   * /jwks counts its requests and sends a settable Cache-Control; keys can be rotated.
//
// HTTP interface (besides /.well-known/openid-configuration, /authorize, /token, /userinfo,
// /jwks, /revoke, /introspect, /endsession of oauth2-mock-server):
//   POST /__profile           JSON object: the profile for the NEXT logins (replaces, not merges).
//                             Answers 200 with the profile.
//   POST /__id_token          {"client_id": "...", "nonce"?: "...", "claims"?: {...}} ->
//                             {"id_token": "<valid RS256 JWT for that audience>"}
//   POST /__expired_id_token  same body -> {"id_token": "<same, but exp one hour in the past>"}
//                             Both take "header": {...} to override JWT header fields (kid, typ);
//                             a claim set to null in "claims" is left out of the token.
//   POST /__access_token      {"client_id": "...", "expires_in"?: seconds (<= 0: expired)} ->
//                             {"access_token": "..."}: as if /token had issued one to that client
//                             for the current profile.
//   POST /__check_subject     {"subject": "..." | null}: the user the four token checks below
//                             name instead of the token's own (null: the token's own again).
//   POST /__rotate_key        adds a new signing key; id_tokens from then on are signed with it.
//                             -> {"kid": "..."}
//   POST /__jwks              {"cache_control": "..."}: the Cache-Control header of /jwks.
//   GET  /__stats             {"jwks": <number of GET /jwks so far>}
//   POST /applications/<client_id>/token   GitHub's check-token: HTTP Basic <client_id>:<any
//                             non-empty secret>, JSON {"access_token": "..."} -> 200 {id, token,
//                             app: {client_id, name, url}, user: {id, login}, expires_at, scopes}
//                             or 404 when the token is unknown, expired or another client's.
//   GET  /tokeninfo?access_token=...       Google's: 200 {azp, aud, sub, scope, exp, expires_in,
//                             email, email_verified, access_type} (numbers and booleans as
//                             strings, as Google sends them) or 400 {"error": "invalid_token"}.
//   GET  /debug_token?input_token=...&access_token=<app_id>|<secret>   Facebook's: 200 {data:
//                             {app_id, type, application, expires_at, is_valid, scopes, user_id}};
//                             400 OAuthException for a missing app token or a token of another
//                             app; an unknown token gives data {is_valid: false, error}.
//   POST /introspect          RFC 7662, client authentication (HTTP Basic or client_id in the
//                             form) required: {active: false} or {active: true, client_id, aud,
//                             sub, scope, token_type, exp, iat, iss}.
//   GET  /user                GitHub-style: the profile JSON, for `Authorization: Bearer <token>`
//                             (or `token <token>`) of an issued access token; else 401.
//   GET  /user/emails         [{"email": profile.email, "primary": true,
//                               "verified": profile.email_verified === true}] ([] without email).
//   /userinfo answers exactly the profile JSON captured at login. id_tokens (and access tokens)
//   carry sub (profile.sub, else String(profile.id), else profile.login) and, where set in the
//   profile, email, email_verified, name, preferred_username, picture; aud = client_id,
//   iss = issuer.

import { createServer } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
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
/** access token -> {profile, clientId, expiresAt (ms)} */
const accessTokens = new Map();
/** refresh token -> {profile, clientId} */
const refreshTokens = new Map();
/** The user the token checks name instead of the token's own (POST /__check_subject). */
let checkSubject = null;
let jwksCacheControl = 'public, max-age=300';
let jwksRequests = 0;

const issuer = new OAuth2Issuer();
let signingKid = (await issuer.keys.generate('RS256')).kid;
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

/** The client a request authenticates as: HTTP Basic, else a client_id form/JSON field. */
function clientOf(req, body) {
  return basicClientId(req) ?? (isObject(body) && typeof body.client_id === 'string' ? body.client_id : undefined);
}

/** The secret of HTTP Basic credentials (undefined without them). */
function basicSecret(req) {
  const m = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  if (!m) return undefined;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  return i === -1 ? '' : decoded.slice(i + 1);
}

function issueAccessToken(p, clientId, ttlSeconds) {
  const token = randomBytes(24).toString('base64url');
  accessTokens.set(token, { profile: clone(p), clientId, expiresAt: Date.now() + ttlSeconds * 1000 });
  return token;
}

/** The live grant of an access token, if this process issued it. */
function liveGrant(token) {
  const grant = typeof token === 'string' ? accessTokens.get(token) : undefined;
  if (grant === undefined || grant.expiresAt < Date.now()) return undefined;
  return grant;
}

const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function s256(verifier) {
  return createHash('sha256').update(verifier, 'utf8').digest('base64url');
}

async function signIdToken(clientId, p, { expired = false, nonce, claims, header } = {}) {
  return issuer.buildToken({
    kid: signingKid,
    expiresIn: TOKEN_TTL,
    scopesOrTransform: (jwtHeader, payload) => {
      Object.assign(payload, identityClaims(p), { aud: clientId });
      if (nonce !== undefined) payload.nonce = nonce;
      if (expired) {
        const now = Math.floor(Date.now() / 1000);
        payload.iat = now - 2 * TOKEN_TTL;
        payload.nbf = now - 2 * TOKEN_TTL;
        payload.exp = now - TOKEN_TTL;
      }
      if (isObject(claims)) {
        for (const [k, v] of Object.entries(claims)) {
          if (v === null) delete payload[k];
          else payload[k] = v;
        }
      }
      if (isObject(header)) Object.assign(jwtHeader, header);
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
  const clientId = req.oauthClientId;
  const { access_token: accessToken, refresh_token: refreshToken, expires_in: ttl } = response.body;
  if (typeof accessToken === 'string') {
    accessTokens.set(accessToken, { profile: p, clientId, expiresAt: Date.now() + (ttl ?? TOKEN_TTL) * 1000 });
  }
  if (typeof refreshToken === 'string') refreshTokens.set(refreshToken, { profile: p, clientId });
});

// /userinfo (only reached with a valid token, see below): the profile captured at login.
service.on(Events.BeforeUserinfo, (response, req) => {
  response.body = clone(req.oauthGrant.profile);
});

// ---------------------------------------------------------------- routes of the launcher

/**
 * Validates a /token request; on success returns {profile, clientId}: the login it is for and
 * the client the tokens are issued to.
 */
function checkTokenRequest(req, body, res) {
  const grant = checkGrant(req, body, res);
  if (grant === undefined) return undefined;
  return { profile: grant, clientId: clientOf(req, body) };
}

/** The profile a /token request's grant is for (undefined: an error was answered). */
function checkGrant(req, body, res) {
  if (!isObject(body) || typeof body.grant_type !== 'string') {
    oauthError(res, 400, 'invalid_request', 'a form (or JSON) body with grant_type is required');
    return undefined;
  }
  if (body.grant_type === 'refresh_token') {
    const entry = typeof body.refresh_token === 'string' ? refreshTokens.get(body.refresh_token) : undefined;
    if (entry === undefined || entry.clientId !== clientOf(req, body)) {
      oauthError(res, 400, 'invalid_grant', 'unknown refresh_token');
      return undefined;
    }
    return entry.profile;
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
  const idToken = await signIdToken(body.client_id, profile, {
    expired, nonce, claims: body.claims, header: body.header,
  });
  sendJson(res, 200, { id_token: idToken });
}

// ---------------------------------------------------------------- "who was this token issued to?"

const nowSeconds = () => Math.floor(Date.now() / 1000);
const checkedSubject = (grant) => checkSubject ?? subjectOf(grant.profile);
/** The user id GitHub and Facebook name: the numeric id where the profile has one. */
const checkedUserId = (grant) => checkSubject ?? String(grant.profile.id ?? subjectOf(grant.profile));

/** GitHub POST /applications/{client_id}/token. */
function githubCheckToken(req, res, raw, clientId) {
  const user = basicClientId(req);
  if (user !== clientId || !basicSecret(req)) {
    sendJson(res, 401, { message: 'Requires authentication', documentation_url: 'https://docs.github.com/rest' });
    return;
  }
  const body = parseBody(req, raw);
  const grant = liveGrant(isObject(body) ? body.access_token : undefined);
  if (grant === undefined || grant.clientId !== clientId) {
    sendJson(res, 404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' });
    return;
  }
  const p = grant.profile;
  sendJson(res, 200, {
    id: 1,
    token: body.access_token,
    app: { client_id: grant.clientId, name: 'mock app', url: 'https://example.com' },
    user: { id: checkSubject ?? p.id ?? subjectOf(p), login: p.login ?? subjectOf(p) },
    scopes: ['user:email'],
    expires_at: new Date(grant.expiresAt).toISOString(),
  });
}

/** Google GET /tokeninfo?access_token=. */
function googleTokeninfo(res, query) {
  const grant = liveGrant(query.get('access_token'));
  if (grant === undefined) {
    sendJson(res, 400, { error: 'invalid_token', error_description: 'Invalid Value' });
    return;
  }
  const p = grant.profile;
  const exp = Math.floor(grant.expiresAt / 1000);
  const info = {
    azp: grant.clientId, aud: grant.clientId, sub: checkedSubject(grant), scope: 'openid email profile',
    exp: String(exp), expires_in: String(Math.max(0, exp - nowSeconds())), access_type: 'online',
  };
  if (p.email !== undefined && p.email !== null) {
    info.email = p.email;
    info.email_verified = String(p.email_verified === true);
  }
  sendJson(res, 200, info);
}

/** Facebook GET /debug_token?input_token=&access_token=<app_id>|<app_secret>. */
function facebookDebugToken(res, query) {
  const oauthException = (message, code) =>
    sendJson(res, 400, { error: { message, type: 'OAuthException', code, fbtrace_id: 'mock' } });
  const [appId, secret] = (query.get('access_token') ?? '').split('|');
  if (!appId || !secret) {
    oauthException('An access token is required to request this resource.', 104);
    return;
  }
  const token = query.get('input_token');
  const grant = typeof token === 'string' ? accessTokens.get(token) : undefined;
  if (grant === undefined) {
    sendJson(res, 200, {
      data: { error: { code: 190, message: 'Invalid OAuth access token.' }, is_valid: false, scopes: [] },
    });
    return;
  }
  if (grant.clientId !== appId) {
    oauthException('(#100) The App_id in the input_token did not match the Viewing App', 100);
    return;
  }
  const expiresAt = Math.floor(grant.expiresAt / 1000);
  sendJson(res, 200, {
    data: {
      app_id: grant.clientId, type: 'USER', application: 'mock app', data_access_expires_at: expiresAt,
      expires_at: expiresAt, is_valid: grant.expiresAt >= Date.now(), scopes: ['email', 'public_profile'],
      user_id: checkedUserId(grant),
    },
  });
}

/** RFC 7662 POST /introspect. */
function introspect(req, res, raw) {
  const body = parseBody(req, raw);
  if (clientOf(req, body) === undefined) {
    oauthError(res, 401, 'invalid_client', 'client authentication is required', { 'WWW-Authenticate': 'Basic' });
    return;
  }
  const grant = liveGrant(isObject(body) ? body.token : undefined);
  if (grant === undefined) {
    sendJson(res, 200, { active: false });
    return;
  }
  sendJson(res, 200, {
    active: true, client_id: grant.clientId, aud: grant.clientId, sub: checkedSubject(grant),
    scope: 'openid email profile', token_type: 'Bearer', exp: Math.floor(grant.expiresAt / 1000),
    iat: nowSeconds(), iss: issuer.url,
  });
}

/**
 * /authorize with response_mode=form_post: the mock's own /authorize (asked without it) decides
 * and redirects; its redirect is turned into a page posting the same parameters to redirect_uri.
 */
async function authorizeFormPost(res, url) {
  const plain = new URL(url);
  plain.searchParams.delete('response_mode');
  const answer = await fetch(`${issuer.url}${plain.pathname}${plain.search}`, { redirect: 'manual' });
  const location = answer.headers.get('location');
  if (answer.status !== 302 || location === null) {
    res.writeHead(answer.status, { 'Content-Type': answer.headers.get('content-type') ?? 'text/plain' });
    res.end(Buffer.from(await answer.arrayBuffer()));
    return;
  }
  const back = new URL(location);
  const fields = [...back.searchParams]
    .map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`)
    .join('');
  back.search = '';
  const html = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Signing in</title></head>`
    + `<body onload="document.forms[0].submit()"><form method="post" action="${escapeHtml(back.href)}">`
    + `${fields}<noscript><button type="submit">Continue</button></noscript></form></body></html>`;
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(html);
}

async function handle(req, res) {
  const requestUrl = new URL(req.url ?? '/', 'http://localhost');
  const { pathname } = requestUrl;
  const path = pathname.length > 1 ? pathname.replace(/\/$/, '') : pathname;
  const route = `${req.method} ${path}`;
  const raw = await readBody(req);
  if (LOG) process.stderr.write(`[oauth-provider] ${req.method} ${req.url}\n`);

  const checkToken = /^POST \/applications\/([^/]+)\/token$/.exec(route);
  if (checkToken) {
    githubCheckToken(req, res, raw, decodeURIComponent(checkToken[1]));
    return;
  }
  switch (route) {
    case 'GET /authorize':
      if (requestUrl.searchParams.get('response_mode') === 'form_post') {
        await authorizeFormPost(res, requestUrl);
        return;
      }
      service.requestHandler(replay(req, raw), res);
      return;
    case 'POST /__access_token': {
      const body = parseBody(req, raw);
      if (!isObject(body) || typeof body.client_id !== 'string') {
        sendJson(res, 400, { error: 'JSON body {"client_id": "..."} required' });
        return;
      }
      const ttl = typeof body.expires_in === 'number' ? body.expires_in : TOKEN_TTL;
      sendJson(res, 200, { access_token: issueAccessToken(profile, body.client_id, ttl) });
      return;
    }
    case 'POST /__check_subject': {
      const body = parseBody(req, raw);
      checkSubject = isObject(body) && typeof body.subject === 'string' ? body.subject : null;
      sendJson(res, 200, { subject: checkSubject });
      return;
    }
    case 'POST /__rotate_key':
      signingKid = (await issuer.keys.generate('RS256')).kid;
      sendJson(res, 200, { kid: signingKid });
      return;
    case 'POST /__jwks': {
      const body = parseBody(req, raw);
      if (!isObject(body) || typeof body.cache_control !== 'string') {
        sendJson(res, 400, { error: 'JSON body {"cache_control": "..."} required' });
        return;
      }
      jwksCacheControl = body.cache_control;
      sendJson(res, 200, { cache_control: jwksCacheControl });
      return;
    }
    case 'GET /__stats':
      sendJson(res, 200, { jwks: jwksRequests });
      return;
    case 'GET /jwks': {
      jwksRequests += 1;
      const content = JSON.stringify({ keys: issuer.keys.toJSON() });
      res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': jwksCacheControl });
      res.end(content);
      return;
    }
    case 'GET /tokeninfo':
      googleTokeninfo(res, requestUrl.searchParams);
      return;
    case 'GET /debug_token':
      facebookDebugToken(res, requestUrl.searchParams);
      return;
    case 'POST /introspect':
      introspect(req, res, raw);
      return;
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
      const checked = checkTokenRequest(req, parseBody(req, raw), res);
      if (checked === undefined) return;
      service.requestHandler(replay(req, raw, { oauthProfile: checked.profile, oauthClientId: checked.clientId }), res);
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
