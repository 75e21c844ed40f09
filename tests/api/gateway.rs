//! Gateway mode (docs/decisions.md D14, docs/gateway.md §4) against real upstream servers:
//! authentication and rotation exactly as `GET /api/me`, identity headers and the signed
//! assertion checked with a standard JWT library, forged headers stripped, streaming, 502/504,
//! retries, WebSocket, CORS and caching.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};
use reqwest::Method;
use serde_json::Value;
use toker::config::{
    AcceptTokenParams, GatewayRoute, RouteAuth, Secret, Settings, TokenParamsScope,
};

use crate::{
    helpers::{Auth, TestApp, json, spawn_app_with},
    support::upstream::{DroppingUpstream, Upstream, WsUpstream, closed_port_url},
};

pub fn route(prefix: &str, upstream: &str, auth: RouteAuth) -> GatewayRoute {
    GatewayRoute {
        prefix: prefix.into(),
        upstream: upstream.into(),
        auth,
        strip_prefix: false,
        preserve_host: false,
        methods: Vec::new(),
        connect_timeout: 2,
        timeout: 10,
        audience: None,
        user_type: None,
    }
}

/// toker with `routes`, rotating on every request (no batch window) unless `configure` says
/// otherwise.
async fn gateway(routes: Vec<GatewayRoute>, configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_with(|s| {
        s.batch_request_buffer_throttle = 0;
        s.gateway.routes = routes;
        configure(s);
    })
    .await
}

/// An upstream, and toker with one route to it.
async fn behind(prefix: &str, auth: RouteAuth) -> (Upstream, TestApp) {
    let upstream = Upstream::start().await;
    let app = gateway(vec![route(prefix, &upstream.url, auth)], |_| {}).await;
    (upstream, app)
}

/// The JWK Set toker publishes.
async fn published_keys(app: &TestApp) -> JwkSet {
    app.request(Method::GET, "/.well-known/jwks.json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .expect("a JWK Set")
}

/// The `kid`s of the published keys, in the JWK Set's order.
async fn published_kids(app: &TestApp) -> Vec<String> {
    published_keys(app)
        .await
        .keys
        .into_iter()
        .map(|k| k.common.key_id.expect("every key has a kid"))
        .collect()
}

/// Verifies an assertion against the JWK Set toker publishes; returns its claims.
pub async fn verify_assertion(app: &TestApp, token: &str, audience: &str) -> Value {
    let jwks = published_keys(app).await;
    let header = jsonwebtoken::decode_header(token).expect("a JWT");
    assert_eq!(header.alg, Algorithm::ES256);
    let kid = header.kid.expect("a kid");
    let jwk = jwks.find(&kid).expect("the signing key is published");
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[app.settings.public_url()]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    jsonwebtoken::decode::<Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .expect("the assertion verifies")
        .claims
}

fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
}

#[tokio::test]
async fn a_required_route_forwards_the_identity_and_rotates_like_api_me() {
    let (upstream, app) = behind("/app", RouteAuth::Required).await;
    let mut auth = app.signed_in_user("gw@example.com").await;
    let sent = auth.clone();

    let resp = app.get_authed("/app/items?page=2", &mut auth).await;
    assert_eq!(resp.status(), 200);
    let next = Auth::from_headers(resp.headers()).expect("the next token comes back");
    assert_ne!(next.token, sent.token, "rotated");
    assert_eq!(next.client, sent.client);
    assert_eq!(header(&resp, "token-type").as_deref(), Some("Bearer"));
    assert!(
        header(&resp, "authorization")
            .unwrap()
            .starts_with("Bearer ")
    );
    let body = json(resp).await;
    assert_eq!(body["data"]["email"], "gw@example.com");

    let seen = upstream.last();
    assert_eq!(
        (seen.method.as_str(), seen.path.as_str()),
        ("GET", "/app/items")
    );
    assert_eq!(seen.query.as_deref(), Some("page=2"));
    let id = app.user_id("gw@example.com").await;
    assert_eq!(seen.header("x-toker-user-id"), Some(id.to_string()));
    assert_eq!(
        seen.header("x-toker-uid").as_deref(),
        Some("gw@example.com")
    );
    assert_eq!(
        seen.header("x-toker-email").as_deref(),
        Some("gw@example.com")
    );
    assert_eq!(seen.header("x-toker-provider").as_deref(), Some("email"));
    assert_eq!(seen.header("x-toker-client"), Some(sent.client.clone()));
    for name in ["access-token", "client", "uid", "expiry", "token-type"] {
        assert_eq!(seen.header(name), None, "{name} reached the upstream");
    }
    // The rotated token works on toker's own endpoints.
    let me = app.get_authed("/api/me", &mut auth).await;
    assert_eq!(me.status(), 200);
}

#[tokio::test]
async fn a_required_route_answers_401_without_reaching_the_upstream() {
    let (upstream, app) = behind("/app", RouteAuth::Required).await;
    let mut stale = app.signed_in_user("nope@example.com").await;
    stale.token = "not-the-token".into();
    let anonymous = app
        .request(Method::POST, "/app/orders")
        .body("x")
        .send()
        .await
        .unwrap();
    let wrong = app
        .authed(Method::GET, "/app/orders", &stale)
        .send()
        .await
        .unwrap();
    for resp in [anonymous, wrong] {
        assert_eq!(resp.status(), 401);
        assert_eq!(header(&resp, "access-token"), None);
        assert_eq!(
            json(resp).await,
            serde_json::json!({"errors": ["You need to sign in or sign up before continuing."]})
        );
    }
    assert!(upstream.seen().is_empty(), "nothing reached the upstream");
}

#[tokio::test]
async fn an_optional_route_lets_anonymous_requests_through_without_identity() {
    let (upstream, app) = behind("/pub", RouteAuth::Optional).await;
    let resp = app
        .request(Method::GET, "/pub/feed")
        .header("access-token", "garbage")
        .header("uid", "someone@example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "access-token"), None);
    let seen = upstream.last();
    assert!(
        seen.headers
            .keys()
            .all(|k| !k.as_str().starts_with("x-toker-")),
        "{:?}",
        seen.headers
    );
    assert_eq!(seen.header("access-token"), None);

    let mut auth = app.signed_in_user("opt@example.com").await;
    let resp = app.get_authed("/pub/feed", &mut auth).await;
    assert_eq!(resp.status(), 200);
    assert!(header(&resp, "access-token").is_some(), "rotated");
    assert_eq!(
        upstream.last().header("x-toker-uid").as_deref(),
        Some("opt@example.com")
    );
}

#[tokio::test]
async fn identity_headers_from_the_client_never_reach_the_upstream() {
    let upstream = Upstream::start().await;
    let app = gateway(
        vec![
            route("/app", &upstream.url, RouteAuth::Required),
            route("/open", &upstream.url, RouteAuth::None),
        ],
        |_| {},
    )
    .await;
    let mut auth = app.signed_in_user("real@example.com").await;
    let forge = |rb: reqwest::RequestBuilder| {
        rb.header("X-Toker-Uid", "admin@example.com")
            .header("x_toker_user_id", "1")
            .header("X-Toker-Assertion", "eyJhbGciOiJub25lIn0.e30.")
            .header("X-Toker-Anything", "x")
    };
    forge(app.request(Method::GET, "/open/x"))
        .send()
        .await
        .unwrap();
    let open = upstream.last();
    assert!(
        open.headers
            .keys()
            .all(|k| !k.as_str().replace('_', "-").starts_with("x-toker-")),
        "{:?}",
        open.headers
    );
    let resp = forge(app.authed(Method::GET, "/app/x", &auth))
        .send()
        .await
        .unwrap();
    auth.update_from(resp.headers());
    let authed = upstream.last();
    assert_eq!(
        authed.header("x-toker-uid").as_deref(),
        Some("real@example.com")
    );
    assert_eq!(authed.headers.get_all("x-toker-uid").iter().count(), 1);
    assert_eq!(authed.header("x_toker_user_id"), None);
    assert_eq!(authed.header("x-toker-anything"), None);
    assert_ne!(
        authed.header("x-toker-assertion").as_deref(),
        Some("eyJhbGciOiJub25lIn0.e30.")
    );
    // Parameters are credentials only where `accept_token_params` says (docs/decisions.md
    // D10): by default not on a gateway route, and then they are the app's own parameters.
    let params = format!(
        "/app/x?access-token={}&client={}&uid={}&page=2",
        auth.token, auth.client, auth.uid
    );
    let reached = upstream.seen().len();
    let resp = app.request(Method::GET, &params).send().await.unwrap();
    assert_eq!(resp.status(), 401, "parameters are not credentials here");
    assert_eq!(upstream.seen().len(), reached);
    // Where they are credentials they stay with toker.
    let everywhere = gateway(
        vec![route("/app", &upstream.url, RouteAuth::Required)],
        |s| {
            s.accept_token_params = AcceptTokenParams::Scope(TokenParamsScope::Everywhere);
        },
    )
    .await;
    let mut other = everywhere.signed_in_user("real@example.com").await;
    let params = format!(
        "/app/x?access-token={}&client={}&uid={}&page=2",
        other.token, other.client, other.uid
    );
    let resp = everywhere
        .request(Method::GET, &params)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "authenticated by the parameters");
    other.update_from(resp.headers());
    let seen = upstream.last();
    assert_eq!(seen.query.as_deref(), Some("page=2"));
    assert_eq!(
        seen.header("x-toker-uid").as_deref(),
        Some("real@example.com")
    );
    // Credentials in an Authorization header are the client's too; an app's own is not.
    let dta = toker::contract::headers::authorization_value(
        &Default::default(),
        &auth.token,
        &auth.client,
        &auth.expiry,
        &auth.uid,
    );
    app.request(Method::GET, "/open/x")
        .header("authorization", &dta)
        .send()
        .await
        .unwrap();
    assert_eq!(upstream.last().header("authorization"), None);
    app.request(Method::GET, "/open/x")
        .header("authorization", "Basic YXBwOnNlY3JldA==")
        .send()
        .await
        .unwrap();
    assert_eq!(
        upstream.last().header("authorization").as_deref(),
        Some("Basic YXBwOnNlY3JldA==")
    );
}

/// By default an assertion names the user, the device and the audience, and serves that
/// device's next requests while half of its lifetime is left (docs/decisions.md D19).
#[tokio::test]
async fn a_device_bound_assertion_serves_the_devices_requests() {
    let upstream = Upstream::start().await;
    let app = gateway(
        vec![
            route("/app", &upstream.url, RouteAuth::Required),
            toker::config::GatewayRoute {
                audience: Some("https://reports.internal".into()),
                ..route("/reports", &upstream.url, RouteAuth::Required)
            },
        ],
        |s| {
            s.gateway.assertion_lifetime = 30;
        },
    )
    .await;
    let first = app.signed_in_user("device@example.com").await;
    let second = app
        .sign_in_response("device@example.com", "password1")
        .await;
    let mut devices = [first, Auth::from_headers(second.headers()).unwrap()];
    let mut seen = Vec::new();
    for (path, device) in [
        ("/app/orders", 0),
        ("/app/invoices/7", 1),
        ("/app/items", 0),
        ("/reports/week", 0),
    ] {
        let auth = &mut devices[device];
        let resp = app.authed(Method::GET, path, auth).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        auth.update_from(resp.headers());
        seen.push(upstream.last().header("x-toker-assertion").unwrap());
    }
    let [auth, other] = &devices;
    let claims = verify_assertion(&app, &seen[0], &upstream.url).await;
    assert!(claims.get("htm").is_none() && claims.get("htu").is_none());
    assert_eq!(claims["client"], auth.client.as_str());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        30
    );
    // The same device and audience: the same assertion, through a rotation.
    assert_eq!(seen[0], seen[2]);
    // Another device of the same user, or another audience: another one.
    assert_ne!(seen[0], seen[1]);
    assert_eq!(
        verify_assertion(&app, &seen[1], &upstream.url).await["client"],
        other.client.as_str()
    );
    assert_ne!(seen[0], seen[3]);
    verify_assertion(&app, &seen[3], "https://reports.internal").await;
}

#[tokio::test]
async fn the_assertion_verifies_with_the_published_keys_and_names_the_request() {
    let upstream = Upstream::start().await;
    let app = gateway(
        vec![route("/app", &upstream.url, RouteAuth::Required)],
        |s| {
            s.gateway.assertion_lifetime = 30;
            s.gateway.assertion_binding = toker::config::AssertionBinding::Request;
        },
    )
    .await;
    let mut auth = app.signed_in_user("jwt@example.com").await;
    let resp = app
        .authed(Method::POST, "/app/orders?x=1", &auth)
        .body("{}")
        .send()
        .await
        .unwrap();
    auth.update_from(resp.headers());
    let jwt = upstream
        .last()
        .header("x-toker-assertion")
        .expect("an assertion");
    let claims = verify_assertion(&app, &jwt, &upstream.url).await;
    let id = app.user_id("jwt@example.com").await;
    assert_eq!(claims["sub"], id.to_string());
    assert_eq!(claims["uid"], "jwt@example.com");
    assert_eq!(claims["email"], "jwt@example.com");
    assert_eq!(claims["provider"], "email");
    assert_eq!(claims["client"], auth.client.as_str());
    assert_eq!(claims["htm"], "POST");
    assert_eq!(claims["htu"], "/app/orders");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        30
    );
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 16));
    // A changed claim breaks the signature.
    let mut parts: Vec<String> = jwt.split('.').map(String::from).collect();
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut payload: Value = serde_json::from_slice(&b64.decode(&parts[1]).unwrap()).unwrap();
    payload["sub"] = Value::from("999999");
    parts[1] = b64.encode(payload.to_string());
    let jwks = published_keys(&app).await;
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_audience(&[&upstream.url]);
    let key = DecodingKey::from_jwk(&jwks.keys[0]).unwrap();
    assert!(jsonwebtoken::decode::<Value>(&parts.join("."), &key, &validation).is_err());
}

#[tokio::test]
async fn a_generated_key_is_stored_once_and_shared_by_every_instance() {
    let (upstream, app) = behind("/app", RouteAuth::Required).await;
    let sibling = app.spawn_sibling().await;
    let jwks = |a: &TestApp| {
        let req = a.request(Method::GET, "/.well-known/jwks.json");
        async move {
            let resp = req.send().await.unwrap();
            assert_eq!(resp.status(), 200);
            assert_eq!(
                header(&resp, "cache-control").as_deref(),
                Some("public, max-age=300")
            );
            json(resp).await
        }
    };
    let first = jwks(&app).await;
    assert_eq!(first["keys"].as_array().unwrap().len(), 1);
    assert!(first["keys"][0].get("d").is_none(), "no private part");
    assert_eq!(
        jwks(&sibling).await,
        first,
        "the sibling publishes the same key"
    );
    // An assertion signed by the sibling verifies with the first instance's key set.
    let auth = sibling.signed_in_user("shared@example.com").await;
    sibling
        .authed(Method::GET, "/app/x", &auth)
        .send()
        .await
        .unwrap();
    let jwt = upstream.last().header("x-toker-assertion").unwrap();
    verify_assertion(&app, &jwt, &upstream.url).await;
    // A restart (a new process on the same database) keeps it.
    drop(sibling);
    let restarted = app.spawn_sibling().await;
    assert_eq!(jwks(&restarted).await, first);
}

fn p256_pem() -> String {
    let doc = ring::signature::EcdsaKeyPair::generate_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &ring::rand::SystemRandom::new(),
    )
    .unwrap();
    pem::encode(&pem::Pem::new("PRIVATE KEY", doc.as_ref().to_vec()))
}

#[tokio::test]
async fn configured_keys_sign_with_the_first_and_publish_the_next() {
    let upstream = Upstream::start().await;
    let (current, next) = (p256_pem(), p256_pem());
    let app = gateway(
        vec![route("/app", &upstream.url, RouteAuth::Required)],
        |s| {
            s.gateway.assertion_keys =
                vec![Secret::new(current.clone()), Secret::new(next.clone())];
        },
    )
    .await;
    let kids = published_kids(&app).await;
    assert_eq!(kids.len(), 2, "the next key is published before it signs");
    let auth = app.signed_in_user("keys@example.com").await;
    app.authed(Method::GET, "/app/x", &auth)
        .send()
        .await
        .unwrap();
    let jwt = upstream.last().header("x-toker-assertion").unwrap();
    let kid = jsonwebtoken::decode_header(&jwt).unwrap().kid.unwrap();
    let signer = jsonwebtoken::EncodingKey::from_ec_pem(current.as_bytes()).unwrap();
    // The kid is the configured first key's: a token signed with it carries the same kid.
    let probe = jsonwebtoken::encode(
        &jsonwebtoken::Header {
            kid: Some(kid.clone()),
            ..jsonwebtoken::Header::new(Algorithm::ES256)
        },
        &serde_json::json!({"sub": "probe", "aud": upstream.url, "iss": app.settings.public_url(), "exp": 4_000_000_000i64}),
        &signer,
    )
    .unwrap();
    verify_assertion(&app, &probe, &upstream.url).await;
    assert!(kids.contains(&kid));
    verify_assertion(&app, &jwt, &upstream.url).await;
    // No key is stored when keys are configured.
    assert!(app.store.signing_keys().await.unwrap().is_empty());
}

#[tokio::test]
async fn upstream_errors_carry_the_next_token_and_it_keeps_working() {
    let (_upstream, app) = behind("/app", RouteAuth::Required).await;
    let mut auth = app.signed_in_user("errors@example.com").await;
    for code in [404, 422, 500, 503] {
        let before = auth.token.clone();
        let resp = app
            .get_authed(&format!("/app/status/{code}"), &mut auth)
            .await;
        assert_eq!(resp.status().as_u16(), code);
        assert_ne!(auth.token, before, "{code} carried a new token");
        assert_eq!(json(resp).await["status"], code);
    }
    assert_eq!(app.get_authed("/api/me", &mut auth).await.status(), 200);
}

#[tokio::test]
async fn an_unreachable_upstream_is_502_and_a_slow_one_504_both_json_with_the_token() {
    let upstream = Upstream::start().await;
    let mut slow = route("/slow", &upstream.url, RouteAuth::Required);
    slow.timeout = 1;
    let app = gateway(
        vec![
            route("/down", &closed_port_url(), RouteAuth::Required),
            slow,
        ],
        |_| {},
    )
    .await;
    let mut auth = app.signed_in_user("down@example.com").await;
    let before = auth.token.clone();
    let resp = app.get_authed("/down/x", &mut auth).await;
    assert_eq!(resp.status(), 502);
    crate::helpers::assert_json_content_type(&resp);
    assert_ne!(
        auth.token, before,
        "the token rotated during the check and came back"
    );
    let body = json(resp).await;
    assert_eq!(body["success"], false);
    assert!(
        body["errors"][0]
            .as_str()
            .unwrap()
            .contains("could not be reached")
    );

    let started = std::time::Instant::now();
    let resp = app.get_authed("/slow/slow", &mut auth).await;
    assert_eq!(resp.status(), 504);
    assert!(
        started.elapsed() < Duration::from_millis(2900),
        "timed out at the route's 1 s"
    );
    assert!(
        json(resp).await["errors"][0]
            .as_str()
            .unwrap()
            .contains("in time")
    );
    assert_eq!(app.get_authed("/api/me", &mut auth).await.status(), 200);
}

#[tokio::test]
async fn only_idempotent_requests_are_sent_again_after_a_dropped_connection() {
    let post_upstream = DroppingUpstream::start().await;
    let get_upstream = DroppingUpstream::start().await;
    let app = gateway(
        vec![
            route("/post", &post_upstream.url, RouteAuth::None),
            route("/get", &get_upstream.url, RouteAuth::None),
        ],
        |_| {},
    )
    .await;
    let post = app
        .request(Method::POST, "/post/pay")
        .body("amount=5")
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 502);
    assert_eq!(post_upstream.requests(), 1, "a POST is never repeated");
    let get = app
        .request(Method::GET, "/get/report")
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 200);
    assert_eq!(get.text().await.unwrap(), "ok");
    assert_eq!(
        get_upstream.requests(),
        2,
        "a GET without a body is tried once more"
    );
}

#[tokio::test]
async fn host_is_the_upstreams_unless_preserved_and_forwarding_headers_are_toker_s() {
    let upstream = Upstream::start().await;
    let mut kept = route("/kept", &upstream.url, RouteAuth::None);
    kept.preserve_host = true;
    let app = gateway(
        vec![route("/app", &upstream.url, RouteAuth::None), kept],
        |_| {},
    )
    .await;
    let send = |path: &'static str| {
        app.request(Method::GET, path)
            .header("host", "shop.example.com")
            .header("x-forwarded-for", "10.6.6.6")
            .header("x-forwarded-host", "evil.example")
            .header("forwarded", "for=10.6.6.6")
            .header("connection", "keep-alive, x-hop")
            .header("x-hop", "1")
            .header("te", "trailers")
            .send()
    };
    send("/app/x").await.unwrap();
    let seen = upstream.last();
    let authority = upstream.url.trim_start_matches("http://");
    assert_eq!(seen.header("host").as_deref(), Some(authority));
    assert_eq!(
        seen.header("x-forwarded-host").as_deref(),
        Some("shop.example.com")
    );
    assert_eq!(seen.header("x-forwarded-for").as_deref(), Some("127.0.0.1"));
    assert_eq!(seen.header("x-forwarded-proto").as_deref(), Some("http"));
    assert_eq!(seen.header("forwarded"), None);
    assert_eq!(
        seen.header("x-hop"),
        None,
        "named by Connection: hop-by-hop"
    );
    assert_eq!(seen.header("te"), None);
    assert_eq!(seen.header("via").as_deref(), Some("1.1 toker"));
    send("/kept/x").await.unwrap();
    assert_eq!(
        upstream.last().header("host").as_deref(),
        Some("shop.example.com")
    );
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarding_chain_and_original_scheme_are_kept() {
    let upstream = Upstream::start().await;
    // What the upstream hears of a request a proxy forwarded for 203.0.113.9 over https, when
    // toker trusts `proxies` (the test's requests come from 127.0.0.1).
    let forwarded = async |proxies: &str| {
        let app = gateway(vec![route("/app", &upstream.url, RouteAuth::None)], |s| {
            s.trusted_proxies = vec![proxies.into()];
        })
        .await;
        app.request(Method::GET, "/app/x")
            .header("host", "toker.internal")
            .header("x-forwarded-for", "203.0.113.9")
            .header("x-forwarded-host", "shop.example.com")
            .header("x-forwarded-proto", "https")
            .send()
            .await
            .unwrap();
        let seen = upstream.last();
        ["x-forwarded-for", "x-forwarded-host", "x-forwarded-proto"].map(|h| seen.header(h))
    };

    let [chain, host, proto] = forwarded("127.0.0.1").await;
    assert_eq!(chain.as_deref(), Some("203.0.113.9, 127.0.0.1"));
    assert_eq!(host.as_deref(), Some("shop.example.com"));
    assert_eq!(proto.as_deref(), Some("https"));

    // Another address is not a proxy of ours: its words are replaced.
    let [chain, host, proto] = forwarded("10.0.0.0/8").await;
    assert_eq!(chain.as_deref(), Some("127.0.0.1"));
    assert_eq!(host.as_deref(), Some("toker.internal"));
    assert_eq!(proto.as_deref(), Some("http"));
}

#[tokio::test]
async fn strip_prefix_upstream_paths_and_allowed_methods() {
    let upstream = Upstream::start().await;
    let mut stripped = route(
        "/v1/orders",
        &format!("{}/internal/", upstream.url),
        RouteAuth::None,
    );
    stripped.strip_prefix = true;
    stripped.methods = vec!["GET".into(), "post".into()];
    let app = gateway(
        vec![stripped, route("/v1", &upstream.url, RouteAuth::None)],
        |_| {},
    )
    .await;
    app.request(Method::GET, "/v1/orders/7?full=1")
        .send()
        .await
        .unwrap();
    let seen = upstream.last();
    assert_eq!(
        seen.path, "/internal/7",
        "longest prefix wins, stripped, upstream path kept"
    );
    assert_eq!(seen.query.as_deref(), Some("full=1"));
    app.request(Method::POST, "/v1/orders")
        .send()
        .await
        .unwrap();
    assert_eq!(upstream.last().path, "/internal/");
    let delete = app
        .request(Method::DELETE, "/v1/orders/7")
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 405);
    assert_eq!(header(&delete, "allow").as_deref(), Some("GET, POST"));
    assert_eq!(json(delete).await["success"], false);
    app.request(Method::DELETE, "/v1/other")
        .send()
        .await
        .unwrap();
    assert_eq!(
        upstream.last().path,
        "/v1/other",
        "the shorter route, unstripped"
    );
    assert_eq!(upstream.seen().len(), 3);
}

/// `GET path` written on a socket as it is; the status and the body.
async fn raw_get(port: u16, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    let status = answer[9..12].parse().unwrap();
    let body = answer
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    (status, body)
}

#[tokio::test]
async fn paths_an_upstream_could_resolve_elsewhere_are_refused() {
    let upstream = Upstream::start().await;
    let app = gateway(vec![route("/open", &upstream.url, RouteAuth::None)], |_| {}).await;
    // Sent byte for byte: an HTTP client library would resolve the dot segments itself.
    for path in [
        "/open/../admin",
        "/open/%2e%2e/admin",
        "/open//x",
        "/open/a%2Fb",
    ] {
        let (status, body) = raw_get(app.port, path).await;
        assert_eq!(status, 400, "{path}");
        assert!(body.contains(r#""success":false"#), "{body}");
    }
    assert!(upstream.seen().is_empty());
}

#[tokio::test]
async fn toker_applies_cors_and_the_upstream_cannot_set_tokens_or_cors() {
    let (upstream, app) = behind("/app", RouteAuth::Required).await;
    let preflight = app
        .request(Method::OPTIONS, "/app/x")
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "PUT")
        .header(
            "access-control-request-headers",
            "access-token, client, uid, content-type",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    assert_eq!(
        header(&preflight, "access-control-allow-origin").as_deref(),
        Some("https://app.example.com")
    );
    assert!(upstream.seen().is_empty(), "toker answered the preflight");
    let refused = app
        .request(Method::GET, "/app/x")
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    assert!(upstream.seen().is_empty());

    let mut auth = app.signed_in_user("cors@example.com").await;
    let before = auth.token.clone();
    let resp = app
        .authed(Method::GET, "/app/own-headers", &auth)
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    auth.update_from(resp.headers());
    assert_ne!(auth.token, before);
    assert_ne!(auth.token, "forged-by-upstream");
    assert_eq!(auth.uid, "cors@example.com");
    assert_eq!(
        header(&resp, "access-control-allow-origin").as_deref(),
        Some("https://app.example.com")
    );
    assert!(
        header(&resp, "access-control-expose-headers")
            .unwrap()
            .contains("access-token")
    );
    assert_eq!(header(&resp, "x-toker-user-id"), None);
    assert_eq!(
        header(&resp, "set-cookie").as_deref(),
        Some("app=1; Path=/")
    );
    // An authenticated answer is never cached.
    assert_eq!(header(&resp, "cache-control").as_deref(), Some("no-store"));
    assert_eq!(header(&resp, "etag"), None);
}

#[tokio::test]
async fn a_route_without_authentication_keeps_the_upstreams_caching_headers() {
    let (_upstream, app) = behind("/static", RouteAuth::None).await;
    let resp = app
        .request(Method::GET, "/static/own-headers")
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&resp, "cache-control").as_deref(),
        Some("public, max-age=60")
    );
    assert_eq!(header(&resp, "etag").as_deref(), Some("\"v1\""));
    assert_eq!(
        header(&resp, "access-token"),
        None,
        "the upstream's token header is dropped"
    );
    assert_eq!(header(&resp, "access-control-allow-origin"), None);
}

#[tokio::test]
async fn requests_inside_the_batch_window_through_the_gateway_lose_no_session() {
    let upstream = Upstream::start().await;
    let app = gateway(
        vec![route("/app", &upstream.url, RouteAuth::Required)],
        |s| {
            s.batch_request_buffer_throttle = 5;
        },
    )
    .await;
    let auth = app.signed_in_user("burst@example.com").await;
    let requests = (0..12).map(|_| app.authed(Method::GET, "/app/x", &auth).send());
    let responses = futures::future::join_all(requests).await;
    for resp in responses {
        let resp = resp.unwrap();
        assert_eq!(resp.status(), 200);
        // Inside the window: batch answers carry no token (docs/decisions.md D1).
        assert_eq!(header(&resp, "access-token"), None);
    }
    let mut same = auth.clone();
    assert_eq!(app.get_authed("/app/x", &mut same).await.status(), 200);
    assert_eq!(upstream.seen().len(), 13);
}

#[tokio::test]
async fn a_websocket_passes_after_authentication_without_rotating() {
    let ws = WsUpstream::start().await;
    let app = gateway(vec![route("/ws", &ws.url, RouteAuth::Required)], |_| {}).await;
    let url = format!("ws://127.0.0.1:{}/ws/chat", app.port);
    let refused = tokio_tungstenite::connect_async(url.as_str()).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 401),
        other => panic!("an anonymous upgrade must get 401, got {other:?}"),
    }
    assert!(ws.handshakes().is_empty());

    let auth = app.signed_in_user("ws@example.com").await;
    use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};
    let mut request = url.as_str().into_client_request().unwrap();
    for (k, v) in [
        ("access-token", auth.token.as_str()),
        ("client", auth.client.as_str()),
        ("uid", auth.uid.as_str()),
        ("x-toker-uid", "admin@example.com"),
    ] {
        request.headers_mut().insert(k, v.parse().unwrap());
    }
    let (mut socket, resp) = tokio_tungstenite::connect_async(request)
        .await
        .expect("upgraded");
    assert_eq!(resp.status(), 101);
    assert!(
        resp.headers().get("access-token").is_none(),
        "a 101 never rotates"
    );
    socket.send(Message::text("hello")).await.unwrap();
    let echoed = socket.next().await.unwrap().unwrap();
    assert_eq!(echoed.into_text().unwrap().as_str(), "hello");
    socket
        .send(Message::binary(vec![0u8, 1, 2, 255]))
        .await
        .unwrap();
    assert_eq!(
        socket.next().await.unwrap().unwrap().into_data().as_ref(),
        [0u8, 1, 2, 255]
    );
    socket.close(None).await.unwrap();

    let handshake = ws.handshakes().pop().unwrap();
    let get = |n: &str| handshake.get(n).map(|v| v.to_str().unwrap().to_string());
    assert_eq!(get("x-toker-uid").as_deref(), Some("ws@example.com"));
    assert!(get("x-toker-assertion").is_some());
    assert_eq!(get("access-token"), None);
    assert_eq!(get("upgrade").as_deref(), Some("websocket"));
    // The token the socket was opened with is still the current one.
    let mut same = auth.clone();
    let me = app.get_authed("/api/me", &mut same).await;
    assert_eq!(me.status(), 200);
}

#[test]
fn a_route_that_would_shadow_a_toker_path_stops_startup_naming_the_clash() {
    for (prefix, own) in [
        ("/api", "/api/me"),
        ("/auth/admin", "/auth"),
        ("/docs", "/docs"),
        ("/.well-known", "/.well-known/jwks.json"),
    ] {
        let settings = Settings {
            gateway: toker::config::GatewaySettings {
                routes: vec![route(prefix, "http://127.0.0.1:9", RouteAuth::None)],
                ..Default::default()
            },
            ..Settings::default()
        };
        let e = settings.validate().unwrap_err().to_string();
        assert!(e.contains("`gateway.routes`"), "{e}");
        assert!(e.contains(&format!("`{prefix}`")), "{e}");
        assert!(
            e.contains(&format!("clashes with toker's own `{own}`")),
            "{e}"
        );
    }
    let moved = Settings {
        mount_path: "/api/v1/auth".into(),
        gateway: toker::config::GatewaySettings {
            routes: vec![route("/api/v1", "http://127.0.0.1:9", RouteAuth::None)],
            ..Default::default()
        },
        ..Settings::default()
    };
    assert!(
        moved
            .validate()
            .unwrap_err()
            .to_string()
            .contains("/api/v1/auth")
    );
}

/// Peak and current resident memory of a process, in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
            .unwrap()
    };
    (field("VmHWM:"), field("VmRSS:"))
}

#[tokio::test]
async fn a_hundred_megabytes_stream_up_and_down_in_bounded_memory() {
    const SIZE: u64 = 100 * 1024 * 1024;
    let upstream = Upstream::start().await;
    let db = crate::helpers::fresh_database().await;
    let routes = format!(
        r#"[{{prefix = "/app", upstream = "{}", auth = "required"}}]"#,
        upstream.url
    );
    let serve =
        crate::support::serve::Serve::start(&db.url, &[("TOKER_GATEWAY__ROUTES", routes.as_str())])
            .await;
    let pid = serve.pid();
    let client = crate::helpers::client();
    let email = "big@example.com";
    let body = serde_json::json!({"email": email, "password": "password1", "password_confirmation": "password1"});
    client
        .post(format!("{}/auth", serve.address))
        .json(&body)
        .send()
        .await
        .unwrap();
    let resp = client
        .post(format!("{}/auth/sign_in", serve.address))
        .json(&serde_json::json!({"email": email, "password": "password1"}))
        .send()
        .await
        .unwrap();
    let mut auth = Auth::from_headers(resp.headers()).unwrap();
    let (peak_before, _) = memory_kib(pid);

    // Up: a 100 MB body produced as it is sent, never held anywhere.
    let chunks = futures::stream::unfold(SIZE, |left| async move {
        (left > 0).then(|| {
            let n = left.min(256 * 1024);
            (Ok::<_, std::io::Error>(vec![1u8; n as usize]), left - n)
        })
    });
    let resp = auth
        .apply(client.put(format!("{}/app/upload", serve.address)))
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    auth.update_from(resp.headers());
    assert_eq!(json(resp).await["bytes"], SIZE);
    assert_eq!(upstream.last().body_bytes, SIZE);

    // Down: read as it arrives.
    let mut resp = auth
        .apply(client.get(format!("{}/app/download?bytes={SIZE}", serve.address)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "content-length"), Some(SIZE.to_string()));
    let mut received = 0u64;
    while let Some(chunk) = resp.chunk().await.unwrap() {
        received += chunk.len() as u64;
    }
    assert_eq!(received, SIZE);

    let (peak_after, _) = memory_kib(pid);
    let grown_mib = (peak_after.saturating_sub(peak_before)) / 1024;
    assert!(
        grown_mib < 32,
        "toker's peak memory grew by {grown_mib} MiB moving 2 × 100 MiB: bodies are buffered"
    );
}

#[tokio::test]
async fn a_rotated_key_is_published_at_once_and_signs_only_later() {
    let (upstream, app) = behind("/app", RouteAuth::Required).await;
    let auth = app.signed_in_user("rotate@example.com").await;
    app.authed(Method::GET, "/app/x", &auth)
        .send()
        .await
        .unwrap();
    let old_kid =
        jsonwebtoken::decode_header(&upstream.last().header("x-toker-assertion").unwrap())
            .unwrap()
            .kid
            .unwrap();
    let rotation = toker::gateway::keys::rotate(&app.store).await.unwrap();
    assert_ne!(rotation.added, old_kid);
    assert!(rotation.removed.is_empty(), "the old key is still in use");
    // Another instance (or this one after its next reload) publishes both, signs with the old.
    let sibling = app.spawn_sibling().await;
    let kids = published_kids(&sibling).await;
    assert_eq!(kids, [rotation.added, old_kid.clone()]);
    sibling
        .authed(Method::GET, "/app/x", &auth)
        .send()
        .await
        .unwrap();
    let jwt = upstream.last().header("x-toker-assertion").unwrap();
    assert_eq!(
        jsonwebtoken::decode_header(&jwt).unwrap().kid.unwrap(),
        old_kid
    );
}
