//! Forward-auth (docs/gateway.md §2, §6): the questions nginx, Traefik, Caddy and Envoy ask,
//! asked directly; the real nginx in front of toker is in the browser suite (tests/e2e).

use reqwest::{Method, RequestBuilder, Response};
use toker::config::{AssertionBinding, Settings};

use crate::{
    gateway::verify_assertion,
    helpers::{Auth, TestApp, json, spawn_app_with},
};

const UNAUTHENTICATED: &str = "You need to sign in or sign up before continuing.";

async fn forward_auth(configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_with(|s| {
        s.gateway.forward_auth = true;
        s.batch_request_buffer_throttle = 0;
        configure(s);
    })
    .await
}

/// What nginx's `auth_request` sends for `method uri` (the README's configuration).
fn nginx(app: &TestApp, method: &str, uri: &str) -> RequestBuilder {
    app.request(Method::GET, "/auth/forward")
        .header("x-original-method", method)
        .header("x-original-uri", uri)
        .header("x-forwarded-host", "app.example.com")
        .header("x-forwarded-proto", "https")
}

fn header(resp: &Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
}

fn identity_headers(resp: &Response) -> Vec<String> {
    resp.headers()
        .keys()
        .map(|k| k.as_str().to_string())
        .filter(|k| k.starts_with("x-toker-"))
        .collect()
}

#[tokio::test]
async fn a_check_answers_200_with_the_identity_and_the_next_token() {
    let app = forward_auth(|s| s.gateway.assertion_binding = AssertionBinding::Request).await;
    let mut auth = app.signed_in_user("fa@example.com").await;
    let sent = auth.clone();
    let resp = auth
        .apply(nginx(&app, "POST", "/api/orders?page=2"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "cache-control").as_deref(), Some("no-store"));
    let next = Auth::from_headers(resp.headers()).expect("the next token");
    assert_ne!(next.token, sent.token);
    let id = app.user_id("fa@example.com").await;
    assert_eq!(header(&resp, "x-toker-user-id"), Some(id.to_string()));
    assert_eq!(
        header(&resp, "x-toker-uid").as_deref(),
        Some("fa@example.com")
    );
    assert_eq!(
        header(&resp, "x-toker-email").as_deref(),
        Some("fa@example.com")
    );
    assert_eq!(header(&resp, "x-toker-provider").as_deref(), Some("email"));
    assert_eq!(header(&resp, "x-toker-client"), Some(sent.client.clone()));
    let remove = header(&resp, "x-envoy-auth-headers-to-remove").unwrap();
    assert_eq!(remove, "access-token, client, uid, expiry, token-type");
    let jwt = header(&resp, "x-toker-assertion").unwrap();
    let claims = verify_assertion(&app, &jwt, "https://app.example.com").await;
    assert_eq!(claims["htm"], "POST");
    assert_eq!(claims["htu"], "/api/orders");
    assert_eq!(claims["sub"], id.to_string());
    assert_eq!(resp.text().await.unwrap(), "");
    // The rotated token is the one to use next, everywhere.
    auth = next;
    assert_eq!(app.get_authed("/api/me", &mut auth).await.status(), 200);
}

#[tokio::test]
async fn without_valid_credentials_the_answer_is_401_with_the_contract_body() {
    let app = forward_auth(|_| {}).await;
    let mut auth = app.signed_in_user("fa401@example.com").await;
    auth.token = "wrong".into();
    for req in [
        nginx(&app, "GET", "/api/x"),
        auth.apply(nginx(&app, "GET", "/api/x")),
    ] {
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 401);
        assert!(identity_headers(&resp).is_empty());
        assert_eq!(header(&resp, "access-token"), None);
        assert_eq!(
            json(resp).await,
            serde_json::json!({ "errors": [UNAUTHENTICATED] })
        );
    }
}

#[tokio::test]
async fn every_method_and_path_below_the_endpoint_is_a_check_as_envoy_sends_them() {
    let app = forward_auth(|s| s.gateway.assertion_binding = AssertionBinding::Request).await;
    let mut auth = app.signed_in_user("envoy@example.com").await;
    for (method, path) in [
        (Method::GET, "/auth/forward/api/items"),
        (Method::POST, "/auth/forward/api/items"),
        (Method::PUT, "/auth/forward/api/items/7?x=1"),
        (Method::PATCH, "/auth/forward/a/b/c"),
        (Method::DELETE, "/auth/forward/api/items/7"),
        (Method::HEAD, "/auth/forward/"),
        (Method::GET, "/auth/forward/sign_in"),
    ] {
        let resp = auth
            .apply(app.request(method.clone(), path))
            .header("content-length", "0")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{method} {path}");
        auth.update_from(resp.headers());
        let anonymous = app.request(method.clone(), path).send().await.unwrap();
        assert_eq!(
            anonymous.status(),
            401,
            "{method} {path}: never a 3xx, 404 or 405"
        );
    }
    // Envoy's method and path are the client's: the assertion says so.
    let resp = auth
        .apply(app.request(Method::DELETE, "/auth/forward/api/items/7"))
        .header("host", "shop.example.com")
        .send()
        .await
        .unwrap();
    let claims = verify_assertion(
        &app,
        &header(&resp, "x-toker-assertion").unwrap(),
        "http://shop.example.com",
    )
    .await;
    assert_eq!(claims["htm"], "DELETE");
    assert_eq!(claims["htu"], "/api/items/7");
}

#[tokio::test]
async fn a_preflight_is_allowed_with_200_and_no_identity() {
    let app = forward_auth(|_| {}).await;
    let auth = app.signed_in_user("pre@example.com").await;
    for method_header in ["x-original-method", "x-forwarded-method"] {
        let resp = app
            .request(Method::GET, "/auth/forward")
            .header(method_header, "OPTIONS")
            .header("x-forwarded-uri", "/api/items")
            .header("x-forwarded-host", "api.example.com")
            .header("origin", "https://app.example.com")
            .header("access-control-request-method", "PUT")
            .header(
                "access-control-request-headers",
                "access-token, client, uid",
            )
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "exactly 200: Envoy refuses a 204");
        assert_eq!(
            header(&resp, "access-control-allow-origin").as_deref(),
            Some("https://app.example.com")
        );
        assert!(
            header(&resp, "access-control-allow-headers")
                .unwrap()
                .contains("access-token")
        );
        assert!(identity_headers(&resp).is_empty());
    }
    // A preflight without an Origin toker knows (same origin) is let through too.
    let same = app
        .request(Method::GET, "/auth/forward")
        .header("x-original-method", "OPTIONS")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(same.status(), 200);
    // Nothing rotated: the token still works, and it is still the current one.
    let mut same_auth = auth.clone();
    assert_eq!(
        app.get_authed("/api/me", &mut same_auth).await.status(),
        200
    );
}

#[tokio::test]
async fn cors_judges_the_clients_origin_against_the_clients_host() {
    let app = forward_auth(|_| {}).await;
    let mut auth = app.signed_in_user("origin@example.com").await;
    let ask = |origin: &str, auth: &Auth| {
        auth.apply(nginx(&app, "GET", "/api/x"))
            .header("origin", origin)
            .send()
    };
    let allowed = ask("https://app.example.com", &auth).await.unwrap();
    assert_eq!(allowed.status(), 200);
    assert_eq!(
        header(&allowed, "access-control-allow-origin").as_deref(),
        Some("https://app.example.com")
    );
    assert!(
        header(&allowed, "access-control-expose-headers")
            .unwrap()
            .contains("access-token")
    );
    auth.update_from(allowed.headers());
    // A page of the proxied site itself: its origin is the host the client asked for.
    let own_site = auth
        .apply(app.request(Method::GET, "/auth/forward"))
        .header("x-original-method", "GET")
        .header("x-original-uri", "/api/x")
        .header("x-forwarded-host", "shop.example.net")
        .header("origin", "https://shop.example.net")
        .send()
        .await
        .unwrap();
    assert_eq!(own_site.status(), 200);
    assert_eq!(header(&own_site, "access-control-allow-origin"), None);
    auth.update_from(own_site.headers());
    let foreign = ask("https://evil.example", &auth).await.unwrap();
    assert_eq!(foreign.status(), 403);
    assert!(identity_headers(&foreign).is_empty());
}

#[tokio::test]
async fn unbatch_in_the_clients_query_forces_a_rotation_inside_the_window() {
    let app = forward_auth(|s| s.batch_request_buffer_throttle = 5).await;
    let auth = app.signed_in_user("unbatch@example.com").await;
    let batch = auth
        .apply(nginx(&app, "GET", "/api/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(batch.status(), 200);
    assert_eq!(
        header(&batch, "access-token"),
        None,
        "inside the window (D1)"
    );
    assert!(header(&batch, "x-toker-uid").is_some());
    let forced = auth
        .apply(nginx(&app, "GET", "/api/x?unbatch=1"))
        .send()
        .await
        .unwrap();
    let next = Auth::from_headers(forced.headers()).expect("rotated");
    assert_ne!(next.token, auth.token);
}

#[tokio::test]
async fn a_protocol_switch_is_checked_without_rotating() {
    let app = forward_auth(|_| {}).await;
    let auth = app.signed_in_user("upgrade@example.com").await;
    let resp = auth
        .apply(nginx(&app, "GET", "/ws"))
        .header("upgrade", "websocket")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(header(&resp, "x-toker-uid").is_some());
    assert_eq!(header(&resp, "access-token"), None);
    let mut same = auth.clone();
    assert_eq!(app.get_authed("/api/me", &mut same).await.status(), 200);
}

#[tokio::test]
async fn forward_auth_is_off_unless_enabled_and_follows_mount_path() {
    let off = spawn_app_with(|_| {}).await;
    let auth = off.signed_in_user("off@example.com").await;
    let resp = auth.apply(nginx(&off, "GET", "/x")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(
        off.request(Method::GET, "/.well-known/jwks.json")
            .send()
            .await
            .unwrap()
            .status(),
        404,
        "nothing signs, so no keys are published"
    );

    let moved = forward_auth(|s| s.mount_path = "/api/v1/auth".into()).await;
    let email = "moved@example.com";
    let body = serde_json::json!({"email": email, "password": "password1", "password_confirmation": "password1"});
    assert_eq!(moved.post_json("/api/v1/auth", &body).await.status(), 200);
    let signed = moved
        .post_json(
            "/api/v1/auth/sign_in",
            &serde_json::json!({"email": email, "password": "password1"}),
        )
        .await;
    let auth = Auth::from_headers(signed.headers()).unwrap();
    let resp = auth
        .apply(moved.request(Method::GET, "/api/v1/auth/forward"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[test]
fn a_provider_named_forward_clashes_with_the_endpoint() {
    let mut settings = Settings::default();
    settings.gateway.forward_auth = true;
    settings.oauth.insert(
        "forward".into(),
        toker::config::OAuthProviderSettings {
            kind: Some(toker::config::ProviderKind::Github),
            client_id: "id".into(),
            client_secret: "secret".into(),
            ..Default::default()
        },
    );
    let e = settings.validate().unwrap_err().to_string();
    assert!(e.contains("forward-auth endpoint"), "{e}");
}
