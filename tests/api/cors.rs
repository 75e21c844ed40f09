//! CORS as docs/cors.md §2.2 asks (docs/decisions.md D8): one test per applicable checklist case,
//! each naming its ID. `A` = `https://app.example.com`, `B` = `https://b.example.org` (both
//! configured by `spawn_app`), `E` = `https://evil.test`.

use reqwest::{Method, Response};
use serde_json::json;

use crate::bad_input::{raw_request, send_raw};
use crate::helpers::*;

const A: &str = "https://app.example.com";
const B: &str = "https://b.example.org";
const E: &str = "https://evil.test";

/// The token headers toker exposes (docs/decisions.md D8, docs/clients.md §11.7).
const EXPOSED: [&str; 6] = [
    "access-token",
    "token-type",
    "client",
    "expiry",
    "uid",
    "authorization",
];

/// The one value of a header (panics when it is repeated).
fn header(resp: &Response, name: &str) -> Option<String> {
    let mut values = resp.headers().get_all(name).iter();
    let first = values.next()?;
    assert!(values.next().is_none(), "`{name}` sent more than once");
    Some(first.to_str().expect("ASCII header").to_string())
}

/// Every comma-separated item of every value of a header, trimmed and lower-cased.
fn header_items(resp: &Response, name: &str) -> Vec<String> {
    resp.headers()
        .get_all(name)
        .iter()
        .flat_map(|v| v.to_str().expect("ASCII header").split(','))
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect()
}

/// ACEH names exactly the token headers (any order).
fn assert_exposes_token_headers(resp: &Response) {
    let mut exposed = header_items(resp, "access-control-expose-headers");
    exposed.sort();
    let mut expected: Vec<String> = EXPOSED.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(exposed, expected);
}

fn access_control_headers(resp: &Response) -> Vec<String> {
    resp.headers()
        .keys()
        .map(|k| k.as_str().to_string())
        .filter(|k| k.starts_with("access-control-"))
        .collect()
}

fn assert_no_cors_headers(resp: &Response) {
    assert_eq!(
        access_control_headers(resp),
        Vec::<String>::new(),
        "no Access-Control-* header expected"
    );
}

fn assert_varies_on(resp: &Response, names: &[&str]) {
    let vary = header_items(resp, "vary");
    for name in names {
        assert!(
            vary.contains(&name.to_ascii_lowercase()),
            "Vary {vary:?} lacks {name}"
        );
    }
}

/// Asserts a JSON E1 error with `status`.
async fn assert_e1(resp: Response, status: u16) {
    assert_eq!(resp.status(), status);
    assert_json_content_type(&resp);
    let body = json(resp).await;
    assert_eq!(body["success"], false, "{body}");
    assert!(
        body["errors"]
            .as_array()
            .is_some_and(|e| !e.is_empty() && e.iter().all(|m| m.is_string())),
        "{body}"
    );
}

async fn get_from(app: &TestApp, path: &str, origin: &str) -> Response {
    app.request(Method::GET, path)
        .header("origin", origin)
        .send()
        .await
        .expect("request")
}

async fn preflight(
    app: &TestApp,
    path: &str,
    origin: &str,
    method: &str,
    headers: Option<&str>,
) -> Response {
    let mut rb = app
        .request(Method::OPTIONS, path)
        .header("origin", origin)
        .header("access-control-request-method", method);
    if let Some(h) = headers {
        rb = rb.header("access-control-request-headers", h);
    }
    rb.send().await.expect("request")
}

async fn assert_preflight_ok(resp: Response, origin: &str) -> Response {
    assert!(
        resp.status().is_success(),
        "preflight refused: {}",
        resp.status()
    );
    assert_eq!(
        header(&resp, "access-control-allow-origin").as_deref(),
        Some(origin)
    );
    assert_eq!(
        header(&resp, "access-control-allow-credentials").as_deref(),
        Some("true")
    );
    resp
}

/// A refused preflight: 403 JSON, and nothing a browser could take as permission.
async fn assert_preflight_refused(resp: Response) {
    for name in [
        "access-control-allow-origin",
        "access-control-allow-credentials",
        "access-control-allow-methods",
        "access-control-allow-headers",
        "access-control-max-age",
    ] {
        assert!(
            resp.headers().get(name).is_none(),
            "{name} on a refused preflight"
        );
    }
    assert_e1(resp, 403).await;
}

// ----- A. Non-CORS requests -----

#[tokio::test]
async fn a_request_without_origin_gets_no_cors_headers() {
    // A1
    // Arrange
    let app = spawn_app().await;

    // Act
    let resp = app
        .request(Method::GET, "/auth/validate_token")
        .send()
        .await
        .expect("request");

    // Assert
    assert_eq!(resp.status(), 401);
    assert_no_cors_headers(&resp);
}

#[tokio::test]
async fn a_request_without_origin_still_varies_on_origin() {
    // A2: ACAO is dynamic, so a cached no-Origin answer must not serve CORS requests.
    // Arrange
    let app = spawn_app().await;

    // Act
    let resp = app
        .request(Method::GET, "/auth/validate_token")
        .send()
        .await
        .expect("request");

    // Assert
    assert_varies_on(&resp, &["Origin"]);
}

#[tokio::test]
async fn an_options_request_without_request_method_is_routed_not_treated_as_preflight() {
    // A3
    // Arrange
    let app = spawn_app().await;

    // Act
    let resp = app
        .request(Method::OPTIONS, "/auth")
        .header("origin", A)
        .send()
        .await
        .expect("request");

    // Assert
    assert_eq!(
        header(&resp, "access-control-allow-origin").as_deref(),
        Some(A)
    );
    for name in [
        "access-control-allow-methods",
        "access-control-allow-headers",
        "access-control-max-age",
    ] {
        assert!(resp.headers().get(name).is_none(), "{name}");
    }
    assert_e1(resp, 405).await;
}

// ----- B. Origin matching -----

#[tokio::test]
async fn an_allowed_origin_is_echoed_exactly_once_with_vary_origin() {
    // B1
    // Arrange
    let app = spawn_app().await;

    // Act
    let resp = get_from(&app, "/auth/validate_token", A).await;

    // Assert
    assert_eq!(resp.status(), 401);
    assert_eq!(
        header(&resp, "access-control-allow-origin").as_deref(),
        Some(A)
    );
    assert_varies_on(&resp, &["Origin"]);
}

#[tokio::test]
async fn a_disallowed_origin_gets_a_json_403_without_cors_headers() {
    // B2
    // Arrange
    let app = spawn_app().await;

    // Act
    let resp = get_from(&app, "/auth/validate_token", E).await;

    // Assert
    assert_no_cors_headers(&resp);
    assert_varies_on(&resp, &["Origin"]);
    assert_e1(resp, 403).await;
}

#[tokio::test]
async fn a_sign_up_from_a_disallowed_origin_is_refused_before_the_handler_runs() {
    // B2 (R21: a simple form POST reaches the server; the handler must not run)
    // Arrange
    let app = spawn_app().await;

    // Act
    let resp = app
        .request(Method::POST, "/auth")
        .header("origin", E)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("email=victim%40example.com&password=password1&password_confirmation=password1")
        .send()
        .await
        .expect("request");

    // Assert
    assert!(resp.headers().get("access-token").is_none());
    assert_no_cors_headers(&resp);
    assert_e1(resp, 403).await;
    let user = app
        .store
        .find_email_user("victim@example.com")
        .await
        .expect("store");
    assert!(user.is_none(), "the refused sign-up created a user");
}

#[tokio::test]
async fn the_second_configured_origin_is_echoed_alone() {
    // B3
    // Arrange
    let app = spawn_app().await;

    // Act
    let resp = get_from(&app, "/auth/validate_token", B).await;

    // Assert
    assert_eq!(
        header(&resp, "access-control-allow-origin").as_deref(),
        Some(B)
    );
}

#[tokio::test]
async fn look_alike_origins_are_refused() {
    // B4
    // Arrange
    let app = spawn_app().await;

    for origin in [
        "https://app.example.com.evil.test",
        "https://evilapp.example.com",
        "http://app.example.com",
        "https://app.example.com:8443",
        "https://app.example.com/",
    ] {
        // Act
        let resp = get_from(&app, "/auth/validate_token", origin).await;

        // Assert
        assert_eq!(resp.status(), 403, "{origin}");
        assert_no_cors_headers(&resp);
    }
}

#[tokio::test]
async fn the_null_origin_is_refused() {
    // B5
    // Arrange
    let app = spawn_app().await;

    // Act
    let resp = get_from(&app, "/auth/validate_token", "null").await;

    // Assert
    assert_no_cors_headers(&resp);
    assert_e1(resp, 403).await;
}

#[tokio::test]
async fn an_empty_origin_is_refused() {
    // B6
    // Arrange
    let app = spawn_app().await;

    // Act
    let resp = get_from(&app, "/auth/validate_token", "").await;

    // Assert
    assert_no_cors_headers(&resp);
    assert_e1(resp, 403).await;
}

#[tokio::test]
async fn a_non_ascii_origin_is_refused_without_a_panic() {
    // B7 (poem's Cors panics here when a pattern is configured: probe P06)
    for origins in [
        vec![A.to_string()],
        vec!["https://*.example.com".to_string()],
    ] {
        // Arrange
        let app = spawn_app_with(|s| s.cors_origins = origins.clone()).await;
        let request = raw_request(
            "GET",
            "/auth/validate_token",
            app.port,
            &[(b"Origin", b"https://\xff.example.com")],
            b"",
        );

        // Act
        let resp = send_raw(app.port, &request).await;

        // Assert
        assert_eq!(resp.status, 403, "{origins:?}");
        assert!(!resp.has_cors_headers(), "{origins:?}");
        assert_eq!(
            resp.header("content-type"),
            Some("application/json; charset=utf-8")
        );
        assert_eq!(resp.json()["success"], false);
        let after = get_from(&app, "/auth/validate_token", A).await;
        assert_eq!(after.status(), 401, "server still answers ({origins:?})");
    }
}

#[tokio::test]
async fn two_origin_headers_are_refused() {
    // B2/B7 variant: an ambiguous origin is no origin to trust.
    // Arrange
    let app = spawn_app().await;
    let request = raw_request(
        "GET",
        "/auth/validate_token",
        app.port,
        &[(b"Origin", A.as_bytes()), (b"Origin", B.as_bytes())],
        b"",
    );

    // Act
    let resp = send_raw(app.port, &request).await;

    // Assert
    assert_eq!(resp.status, 403);
    assert!(!resp.has_cors_headers());
}

#[tokio::test]
async fn a_wildcard_pattern_is_anchored_and_does_not_cross_slash_or_dot_suffixes() {
    // B8
    // Arrange
    let app = spawn_app_with(|s| s.cors_origins = vec!["https://*.example.com".into()]).await;

    for origin in [
        "https://evil.test/.example.com",
        "https://x.example.com.evil.test",
        "https://x.example.com:8443",
        "http://x.example.com",
    ] {
        // Act
        let resp = get_from(&app, "/auth/validate_token", origin).await;

        // Assert
        assert_eq!(resp.status(), 403, "{origin}");
        assert_no_cors_headers(&resp);
    }
    let resp = get_from(&app, "/auth/validate_token", "https://pr-1.example.com").await;
    assert_eq!(resp.status(), 401);
    assert_eq!(
        header(&resp, "access-control-allow-origin").as_deref(),
        Some("https://pr-1.example.com")
    );
}

#[tokio::test]
async fn an_upper_case_origin_is_refused_because_matching_is_byte_exact() {
    // B9: browsers serialise origins in lower case; toker decided on byte-exact matching.
    // Arrange
    let app = spawn_app().await;

    // Act
    let resp = get_from(&app, "/auth/validate_token", "https://APP.example.com").await;

    // Assert
    assert_no_cors_headers(&resp);
    assert_e1(resp, 403).await;
}

// ----- C. Credentials -----

#[tokio::test]
async fn credentials_are_allowed_with_the_echoed_origin_never_a_star() {
    // C1
    // Arrange
    let app = spawn_app().await;

    // Act
    let resp = get_from(&app, "/auth/validate_token", A).await;

    // Assert
    assert_eq!(
        header(&resp, "access-control-allow-credentials").as_deref(),
        Some("true")
    );
    let acao = header(&resp, "access-control-allow-origin");
    assert_eq!(acao.as_deref(), Some(A));
    assert_ne!(acao.as_deref(), Some("*"));
}

#[tokio::test]
async fn a_star_null_or_path_origin_in_the_settings_is_rejected_naming_cors_origins() {
    // C3
    for bad in ["*", "null", "https://app.example.com/path"] {
        // Arrange
        let mut settings = test_settings("sqlite::memory:");
        settings.cors_origins = vec![bad.to_string()];

        // Act
        let result = settings.validate();

        // Assert
        let message = result
            .expect_err(&format!("`{bad}` must be refused"))
            .to_string();
        assert!(message.contains("cors_origins"), "{bad}: {message}");
    }
    let mut settings = test_settings("sqlite::memory:");
    settings.cors_origins = vec![A.to_string()];
    assert!(settings.validate().is_ok(), "a plain origin is valid");
}

#[tokio::test]
async fn a_credentialed_preflight_never_answers_with_star_lists() {
    // C4
    // Arrange
    let app = spawn_app().await;

    // Act
    let resp = preflight(
        &app,
        "/auth",
        A,
        "PUT",
        Some("access-token,client,content-type,uid"),
    )
    .await;

    // Assert
    let resp = assert_preflight_ok(resp, A).await;
    for name in [
        "access-control-allow-methods",
        "access-control-allow-headers",
        "access-control-expose-headers",
    ] {
        let items = header_items(&resp, name);
        assert!(!items.contains(&"*".to_string()), "{name}: {items:?}");
    }
    assert!(!header_items(&resp, "access-control-allow-methods").is_empty());
    assert!(!header_items(&resp, "access-control-allow-headers").is_empty());
}

#[tokio::test]
async fn a_preflight_asking_for_authorization_lists_it_by_name() {
    // C5
    // Arrange
    let app = spawn_app().await;

    // Act
    let resp = preflight(&app, "/api/me", A, "GET", Some("authorization")).await;

    // Assert
    let resp = assert_preflight_ok(resp, A).await;
    assert!(header_items(&resp, "access-control-allow-headers").contains(&"authorization".into()));
}

// ----- D. Preflight -----

#[tokio::test]
async fn a_preflight_for_delete_with_the_token_headers_is_answered_without_auth() {
    // D1
    // Arrange
    let app = spawn_app().await;

    // Act
    let resp = preflight(
        &app,
        "/auth",
        A,
        "DELETE",
        Some("authorization,content-type,access-token,client,uid"),
    )
    .await;

    // Assert
    let resp = assert_preflight_ok(resp, A).await;
    assert!(header_items(&resp, "access-control-allow-methods").contains(&"delete".into()));
    let allowed = header_items(&resp, "access-control-allow-headers");
    for name in [
        "authorization",
        "content-type",
        "access-token",
        "client",
        "uid",
    ] {
        assert!(allowed.contains(&name.to_string()), "{name} in {allowed:?}");
    }
    assert_eq!(
        header(&resp, "access-control-max-age").as_deref(),
        Some("7200")
    );
    assert!(resp.headers().get("access-token").is_none());
    let body = resp.bytes().await.expect("body");
    assert!(body.is_empty(), "preflight body: {body:?}");
}

#[tokio::test]
async fn a_preflight_for_trace_is_refused() {
    // D2
    // Arrange
    let app = spawn_app().await;

    // Act
    let resp = preflight(&app, "/auth", A, "TRACE", None).await;

    // Assert
    assert_preflight_refused(resp).await;
}

#[tokio::test]
async fn a_preflight_is_refused_when_one_requested_header_is_not_allowed() {
    // D3 (poem's Cors accepts this: probe P07)
    // Arrange
    let app = spawn_app().await;

    // Act
    let resp = preflight(&app, "/auth", A, "DELETE", Some("authorization,x-evil")).await;

    // Assert
    assert_preflight_refused(resp).await;
}

#[tokio::test]
async fn requested_header_names_match_case_insensitively_with_optional_spaces() {
    // D4
    // Arrange
    let app = spawn_app().await;

    for list in [
        "Access-Token, Client, UID, Content-Type",
        "access-token,client,uid,content-type",
        "X-Requested-With ,  If-Modified-Since",
    ] {
        // Act
        let resp = preflight(&app, "/auth", A, "PUT", Some(list)).await;

        // Assert
        assert_preflight_ok(resp, A).await;
    }
}

#[tokio::test]
async fn a_preflight_asking_only_for_safelisted_headers_is_accepted() {
    // D5
    // Arrange
    let app = spawn_app().await;

    for list in ["accept", "content-language", "accept,accept-language"] {
        // Act
        let resp = preflight(&app, "/auth/sign_in", A, "POST", Some(list)).await;

        // Assert
        assert_preflight_ok(resp, A).await;
    }
}

#[tokio::test]
async fn preflight_methods_match_case_sensitively_so_lower_case_patch_is_refused() {
    // D6: documented decision — only upper-case `PATCH` (browsers do not normalise `patch`).
    // Arrange
    let app = spawn_app().await;

    // Act
    let lower = preflight(&app, "/auth", A, "patch", Some("content-type")).await;
    let upper = preflight(&app, "/auth", A, "PATCH", Some("content-type")).await;

    // Assert
    assert_preflight_refused(lower).await;
    let upper = assert_preflight_ok(upper, A).await;
    assert!(header_items(&upper, "access-control-allow-methods").contains(&"patch".into()));
}

#[tokio::test]
async fn a_preflight_varies_on_origin_and_the_request_method_and_headers() {
    // D7
    // Arrange
    let app = spawn_app().await;

    // Act
    let resp = preflight(&app, "/auth", A, "PUT", Some("content-type")).await;

    // Assert
    assert_varies_on(
        &resp,
        &[
            "Origin",
            "Access-Control-Request-Method",
            "Access-Control-Request-Headers",
        ],
    );
    assert_preflight_ok(resp, A).await;
}

#[tokio::test]
async fn a_preflight_from_a_disallowed_origin_leaks_nothing() {
    // D8 (tower-http leaks ACAM/ACAH here: probe T05)
    // Arrange
    let app = spawn_app().await;

    // Act
    let resp = preflight(&app, "/auth", E, "DELETE", Some("access-token,client,uid")).await;

    // Assert
    assert_no_cors_headers(&resp);
    assert_preflight_refused(resp).await;
}

#[tokio::test]
async fn a_preflight_on_an_authenticated_path_succeeds_without_credentials() {
    // D9 (R4: a preflight never carries credentials)
    // Arrange
    let app = spawn_app().await;

    for path in ["/auth/validate_token", "/api/me"] {
        // Act
        let resp = preflight(
            &app,
            path,
            A,
            "GET",
            Some("access-token,client,uid,token-type,expiry"),
        )
        .await;

        // Assert
        assert_preflight_ok(resp, A).await;
    }
}

#[tokio::test]
async fn private_network_access_is_granted_only_when_configured() {
    // D10
    // Arrange
    let on = spawn_app_with(|s| s.cors_allow_private_network = true).await;
    let off = spawn_app().await;
    let ask = |app: &TestApp| {
        app.request(Method::OPTIONS, "/auth/validate_token")
            .header("origin", A)
            .header("access-control-request-method", "GET")
            .header("access-control-request-private-network", "true")
            .send()
    };

    // Act
    let with_setting = ask(&on).await.expect("request");
    let without_setting = ask(&off).await.expect("request");

    // Assert
    assert_eq!(
        header(&with_setting, "access-control-allow-private-network").as_deref(),
        Some("true")
    );
    let without_setting = assert_preflight_ok(without_setting, A).await;
    assert!(
        without_setting
            .headers()
            .get("access-control-allow-private-network")
            .is_none()
    );
}

#[tokio::test]
async fn a_configured_max_age_is_sent_on_preflights_only() {
    // D11
    // Arrange
    let app = spawn_app_with(|s| s.cors_max_age = 600).await;

    // Act
    let pre = preflight(&app, "/auth/validate_token", A, "GET", Some("uid")).await;
    let actual = get_from(&app, "/auth/validate_token", A).await;

    // Assert
    assert_eq!(
        header(&pre, "access-control-max-age").as_deref(),
        Some("600")
    );
    assert!(actual.headers().get("access-control-max-age").is_none());
}

// ----- E. Actual responses -----

#[tokio::test]
async fn a_failed_sign_in_from_an_allowed_origin_exposes_the_token_headers() {
    // E1: the SPA must be able to read the 401 (DTA's "erroneous 401" warning).
    // Arrange
    let app = spawn_app().await;

    // Act
    let resp = app
        .request(Method::POST, "/auth/sign_in")
        .header("origin", A)
        .json(&json!({"email": "nobody@example.com", "password": "wrong-password"}))
        .send()
        .await
        .expect("request");

    // Assert
    assert_eq!(
        header(&resp, "access-control-allow-origin").as_deref(),
        Some(A)
    );
    assert_eq!(
        header(&resp, "access-control-allow-credentials").as_deref(),
        Some("true")
    );
    assert_exposes_token_headers(&resp);
    assert_e1(resp, 401).await;
}

#[tokio::test]
async fn a_successful_sign_in_from_an_allowed_origin_exposes_the_token_headers() {
    // E1 (success path)
    // Arrange
    let app = spawn_app().await;
    assert_eq!(
        app.sign_up("ann@example.com", "password1").await.status(),
        200
    );

    // Act
    let resp = app
        .request(Method::POST, "/auth/sign_in")
        .header("origin", A)
        .json(&json!({"email": "ann@example.com", "password": "password1"}))
        .send()
        .await
        .expect("request");

    // Assert
    assert_eq!(resp.status(), 200);
    assert_eq!(
        header(&resp, "access-control-allow-origin").as_deref(),
        Some(A)
    );
    assert_exposes_token_headers(&resp);
    assert!(Auth::from_headers(resp.headers()).is_some());
}

#[tokio::test]
async fn an_actual_get_carries_no_preflight_headers() {
    // E4
    // Arrange
    let app = spawn_app().await;
    let auth = app.signed_in_user("ann@example.com").await;

    // Act
    let resp = app
        .authed(Method::GET, "/auth/validate_token", &auth)
        .header("origin", A)
        .send()
        .await
        .expect("request");

    // Assert
    assert_eq!(resp.status(), 200);
    for name in [
        "access-control-allow-methods",
        "access-control-allow-headers",
        "access-control-max-age",
    ] {
        assert!(resp.headers().get(name).is_none(), "{name}");
    }
    assert_eq!(
        header(&resp, "access-control-allow-origin").as_deref(),
        Some(A)
    );
}

#[tokio::test]
async fn a_same_origin_post_from_the_servers_own_page_is_served_without_cors_headers() {
    // R1/P13: browsers send Origin on same-origin POSTs (the /docs page does).
    // Arrange
    let app = spawn_app().await;
    let own_origin = format!("http://127.0.0.1:{}", app.port);

    // Act
    let resp = app
        .request(Method::POST, "/auth/sign_in")
        .header("origin", &own_origin)
        .json(&json!({"email": "nobody@example.com", "password": "wrong-password"}))
        .send()
        .await
        .expect("request");

    // Assert
    assert_no_cors_headers(&resp);
    assert_e1(resp, 401).await;
}

#[tokio::test]
async fn the_four_frontends_real_preflight_header_lists_are_accepted() {
    // docs/clients.md §0.5: lists copied from recorded preflights.
    // Arrange
    let app = spawn_app().await;
    let cases = [
        (
            "j-toker",
            "GET",
            "/auth/validate_token",
            "access-token,client,expiry,if-modified-since,token-type,uid",
        ),
        (
            "ng-token-auth",
            "GET",
            "/auth/validate_token",
            "access-token,client,content-type,expiry,if-modified-since,token-type,uid",
        ),
        (
            "angular-token",
            "PUT",
            "/auth",
            "access-token,client,content-type,expiry,token-type,uid",
        ),
        (
            "redux-token-auth",
            "DELETE",
            "/auth/sign_out",
            "access-token,client,content-type,expiry,token-type,uid",
        ),
    ];

    for (frontend, method, path, list) in cases {
        // Act
        let resp = preflight(&app, path, A, method, Some(list)).await;

        // Assert
        assert!(resp.status().is_success(), "{frontend}: {}", resp.status());
        let allowed = header_items(&resp, "access-control-allow-headers");
        for name in list.split(',') {
            assert!(allowed.contains(&name.to_string()), "{frontend}: {name}");
        }
        assert!(
            header_items(&resp, "access-control-allow-methods").contains(&method.to_lowercase()),
            "{frontend}: {method}"
        );
    }
}

// ----- G. CSRF / JSON hygiene that applies in token mode -----

#[tokio::test]
async fn get_on_sign_out_is_not_routed_and_changes_nothing() {
    // G3
    // Arrange
    let app = spawn_app().await;
    let mut auth = app.signed_in_user("ann@example.com").await;

    // Act
    let resp = app
        .authed(Method::GET, "/auth/sign_out", &auth)
        .send()
        .await
        .expect("request");

    // Assert
    let status = resp.status().as_u16();
    assert!([404, 405].contains(&status), "{status}");
    assert_e1(resp, status).await;
    let still = app.get_authed("/auth/validate_token", &mut auth).await;
    assert_eq!(still.status(), 200, "the token survived");
}

#[tokio::test]
async fn validate_token_ignores_a_jsonp_callback_parameter() {
    // G4
    // Arrange
    let app = spawn_app().await;
    let auth = app.signed_in_user("ann@example.com").await;

    // Act
    let resp = app
        .authed(Method::GET, "/auth/validate_token?callback=x", &auth)
        .send()
        .await
        .expect("request");

    // Assert
    assert_eq!(resp.status(), 200);
    assert_json_content_type(&resp);
    let text = resp.text().await.expect("body");
    assert!(text.starts_with('{'), "padded body: {text}");
    let body: serde_json::Value = serde_json::from_str(&text).expect("plain JSON");
    assert_eq!(body["success"], true);
}

#[tokio::test]
async fn json_responses_carry_nosniff_and_no_store() {
    // G5: successes, handler errors, framework errors and CORS refusals alike.
    // Arrange
    let app = spawn_app().await;
    let auth = app.signed_in_user("ann@example.com").await;
    let responses = vec![
        (
            "validate_token 200",
            app.authed(Method::GET, "/auth/validate_token", &auth),
        ),
        (
            "sign_in 401",
            app.request(Method::POST, "/auth/sign_in")
                .header("origin", A)
                .json(&json!({"email": "x@example.com", "password": "nope"})),
        ),
        ("unknown route 404", app.request(Method::GET, "/nope")),
        (
            "malformed body 400",
            app.request(Method::POST, "/auth/sign_in")
                .header("content-type", "application/json")
                .body("{\"email\":"),
        ),
        (
            "refused origin 403",
            app.request(Method::GET, "/auth/validate_token")
                .header("origin", E),
        ),
        (
            "refused preflight 403",
            app.request(Method::OPTIONS, "/auth")
                .header("origin", A)
                .header("access-control-request-method", "TRACE"),
        ),
    ];

    for (case, rb) in responses {
        // Act
        let resp = rb.send().await.expect("request");

        // Assert
        assert_json_content_type(&resp);
        assert_eq!(
            header(&resp, "x-content-type-options").as_deref(),
            Some("nosniff"),
            "{case}"
        );
        assert_eq!(
            header(&resp, "cache-control").as_deref(),
            Some("no-store"),
            "{case}"
        );
        assert!(resp.headers().get("etag").is_none(), "{case}");
        let body = json(resp).await;
        assert!(body.is_object(), "{case}: top level must be an object");
    }
}
