//! Cookie mode (docs/contract.md §3.11, docs/decisions.md D15): the cookie's content and
//! attributes, which responses set it, sign-out clearing it, malformed cookies ignored, and the
//! CSRF defence for every cookie-authenticated request that changes state (docs/cors.md §4) —
//! with forged, `null` and missing origins, form and `text/plain` posts.

use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};

use crate::helpers::*;
use crate::support::smtp::{SmtpServer, first_link};

const A: &str = "https://app.example.com";
const E: &str = "https://evil.test";

fn cookie_mode(s: &mut toker::config::Settings) {
    s.cookie_enabled = true;
    s.public_url = Some("https://api.example.com".into());
    s.account_update_attributes = vec!["name".into()];
    // Every request rotates (no batch window), so each answer sets a new cookie.
    s.batch_request_buffer_throttle = 0;
}

/// The `Set-Cookie` values of a response.
fn set_cookies(resp: &Response) -> Vec<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

/// `auth_cookie=<value>` of the one auth cookie a response sets (panics otherwise).
fn auth_cookie(resp: &Response) -> String {
    let cookies: Vec<String> = set_cookies(resp)
        .into_iter()
        .filter(|c| c.starts_with("auth_cookie="))
        .collect();
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    cookies[0].split(';').next().unwrap().to_string()
}

/// The JSON inside an `auth_cookie=<value>` pair.
fn cookie_json(pair: &str) -> Value {
    let value = pair.strip_prefix("auth_cookie=").unwrap();
    let decoded = percent_encoding::percent_decode_str(value)
        .decode_utf8()
        .unwrap();
    serde_json::from_str(&decoded).unwrap()
}

async fn signed_in_cookie(app: &TestApp, email: &str) -> String {
    assert_eq!(app.sign_up(email, "password1").await.status(), 200);
    let resp = app
        .request(Method::POST, "/auth/sign_in")
        .header("origin", A)
        .json(&json!({"email": email, "password": "password1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    auth_cookie(&resp)
}

fn with_cookie(app: &TestApp, method: Method, path: &str, cookie: &str) -> RequestBuilder {
    app.request(method, path).header("cookie", cookie)
}

async fn name_of(app: &TestApp, email: &str) -> Option<String> {
    app.store
        .find_email_user(email)
        .await
        .unwrap()
        .unwrap()
        .name
}

#[tokio::test]
async fn sign_in_sets_the_cookie_with_the_header_set_and_safe_attributes() {
    let app = spawn_app_with(cookie_mode).await;
    assert_eq!(
        app.sign_up("c@example.com", "password1").await.status(),
        200
    );

    let resp = app.sign_in_response("c@example.com", "password1").await;

    assert_eq!(resp.status(), 200);
    let cookies = set_cookies(&resp);
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    let cookie = &cookies[0];
    // Cross-site origins and an https public_url: SameSite=None, Secure, HttpOnly.
    assert!(
        cookie.ends_with("; Path=/; Secure; HttpOnly; SameSite=None"),
        "{cookie}"
    );
    let sent = cookie_json(&auth_cookie(&resp));
    let header = |n: &str| resp.headers()[n].to_str().unwrap().to_string();
    assert_eq!(
        sent,
        json!({
            "access-token": header("access-token"),
            "token-type": "Bearer",
            "client": header("client"),
            "expiry": header("expiry"),
            "uid": "c@example.com",
        })
    );
    assert!(resp.headers().get("authorization").is_none());
}

#[tokio::test]
async fn configured_attributes_and_name_are_used() {
    let app = spawn_app_with(|s| {
        cookie_mode(s);
        s.cookie_name = "__Host-auth".into();
        s.cookie_attributes.same_site = Some(toker::config::SameSite::Strict);
        s.cookie_attributes.partitioned = true;
    })
    .await;
    assert_eq!(
        app.sign_up("c@example.com", "password1").await.status(),
        200
    );
    let resp = app.sign_in_response("c@example.com", "password1").await;
    let cookie = set_cookies(&resp).remove(0);
    assert!(cookie.starts_with("__Host-auth=%7B"), "{cookie}");
    assert!(
        cookie.ends_with("; Path=/; Secure; HttpOnly; SameSite=Strict; Partitioned"),
        "{cookie}"
    );
}

#[tokio::test]
async fn the_cookie_alone_authenticates_and_each_answer_rotates_it() {
    let app = spawn_app_with(cookie_mode).await;
    let first = signed_in_cookie(&app, "c@example.com").await;

    let resp = with_cookie(&app, Method::GET, "/auth/validate_token", &first)
        .send()
        .await
        .unwrap();

    assert_eq!(resp.status(), 200);
    let second = auth_cookie(&resp);
    assert_ne!(
        cookie_json(&second)["access-token"],
        cookie_json(&first)["access-token"]
    );
    assert!(resp.headers().get("authorization").is_none());
    let resp = with_cookie(&app, Method::GET, "/auth/validate_token", &second)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn batch_requests_rewrite_no_cookie() {
    let app = spawn_app_with(|s| {
        cookie_mode(s);
        s.batch_request_buffer_throttle = 5;
    })
    .await;
    let cookie = signed_in_cookie(&app, "c@example.com").await;

    // Within the batch window of the sign-in: the token stays, and so does the cookie.
    let batch = with_cookie(&app, Method::GET, "/auth/validate_token", &cookie)
        .send()
        .await
        .unwrap();

    assert_eq!(batch.status(), 200);
    assert!(set_cookies(&batch).is_empty());
}

#[tokio::test]
async fn sign_out_clears_the_cookie_and_ends_its_device() {
    let app = spawn_app_with(cookie_mode).await;
    let cookie = signed_in_cookie(&app, "c@example.com").await;

    let resp = with_cookie(&app, Method::DELETE, "/auth/sign_out", &cookie)
        .header("origin", A)
        .send()
        .await
        .unwrap();

    assert_eq!(resp.status(), 200);
    assert_eq!(
        set_cookies(&resp),
        [
            "auth_cookie=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; Secure; HttpOnly; SameSite=None"
        ]
    );
    let after = with_cookie(&app, Method::GET, "/auth/validate_token", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 401);
    assert!(set_cookies(&after).is_empty());
}

#[tokio::test]
async fn malformed_cookies_are_ignored_not_an_error() {
    let app = spawn_app_with(cookie_mode).await;
    let good = signed_in_cookie(&app, "c@example.com").await;
    let long = format!("auth_cookie={}", "%7B".repeat(1500));
    for bad in [
        "auth_cookie=",
        "auth_cookie=%7B%22access-token%22",
        "auth_cookie={\"access-token\":1}",
        "auth_cookie=%FF%FE%FD",
        "auth_cookie=%5B%22a%22%5D",
        "auth_cookie=null",
        "auth_cookie=%7B%22uid%22%3A%7B%7D%2C%22client%22%3A%5B%5D%7D",
        long.as_str(),
        "auth_cookie",
        ";;;=;",
    ] {
        let resp = with_cookie(&app, Method::GET, "/auth/validate_token", bad)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401, "{}", &bad[..bad.len().min(40)]);
        assert_json_content_type(&resp);
        // A malformed cookie does not block signing in either.
        let resp = with_cookie(&app, Method::POST, "/auth/sign_in", bad)
            .header("origin", A)
            .json(&json!({"email": "c@example.com", "password": "password1"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{}", &bad[..bad.len().min(40)]);
    }
    // A token for another uid than the cookie's is refused.
    let mut forged = cookie_json(&good);
    forged["uid"] = json!("other@example.com");
    let forged = format!(
        "auth_cookie={}",
        percent_encoding::utf8_percent_encode(
            &forged.to_string(),
            percent_encoding::NON_ALPHANUMERIC
        )
    );
    let resp = with_cookie(&app, Method::GET, "/auth/validate_token", &forged)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

/// A state-changing request with the cookie, refused with 403, naming the reason, and the
/// account unchanged.
async fn assert_refused(app: &TestApp, req: RequestBuilder, reason: &str) {
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), 403);
    assert!(set_cookies(&resp).is_empty());
    let body = json(resp).await;
    assert!(
        body["errors"][0].as_str().unwrap().contains(reason),
        "{body}"
    );
    assert_eq!(name_of(app, "c@example.com").await, None);
}

#[tokio::test]
async fn cookie_requests_that_change_state_must_pass_the_csrf_check() {
    let app = spawn_app_with(cookie_mode).await;
    let cookie = signed_in_cookie(&app, "c@example.com").await;
    let update = |origin: Option<&str>| {
        let rb = with_cookie(&app, Method::PUT, "/auth", &cookie);
        match origin {
            Some(o) => rb.header("origin", o),
            None => rb,
        }
    };

    // Forged, `null`, upper-case and missing origins.
    assert_refused(
        &app,
        update(Some(E)).json(&json!({"name": "Mallory"})),
        "Origin",
    )
    .await;
    assert_refused(
        &app,
        update(Some("null")).json(&json!({"name": "Mallory"})),
        "Origin",
    )
    .await;
    assert_refused(
        &app,
        update(Some("https://APP.example.com")).json(&json!({"name": "Mallory"})),
        "Origin",
    )
    .await;
    assert_refused(
        &app,
        update(None).json(&json!({"name": "Mallory"})),
        "needs an Origin",
    )
    .await;
    assert_refused(
        &app,
        update(None)
            .header("sec-fetch-site", "cross-site")
            .json(&json!({"name": "Mallory"})),
        "needs an Origin",
    )
    .await;
    // A form or text/plain POST (the JSON-padding trick) from an allowed origin: no form may
    // sign the browser in or out with its cookie.
    for (content_type, body) in [
        (
            "text/plain",
            r#"{"email":"c@example.com","password":"password1","x":"="}"#,
        ),
        (
            "application/x-www-form-urlencoded",
            "email=c%40example.com&password=password1",
        ),
        (
            "multipart/form-data; boundary=x",
            "--x\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\nc@example.com\r\n--x--\r\n",
        ),
    ] {
        let resp = with_cookie(&app, Method::POST, "/auth/sign_in", &cookie)
            .header("origin", A)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403, "{content_type}");
        assert!(set_cookies(&resp).is_empty());
    }
    // Two Content-Type headers still make a simple request for the browser.
    let resp = with_cookie(&app, Method::POST, "/auth/sign_in", &cookie)
        .header("origin", A)
        .header("content-type", "application/json")
        .header("content-type", "text/plain")
        .body(r#"{"email":"c@example.com","password":"password1"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    // Still signed in: nothing changed on the server.
    let resp = with_cookie(&app, Method::GET, "/auth/validate_token", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let cookie = auth_cookie(&resp);

    // The allowed origin with JSON passes.
    let resp = with_cookie(&app, Method::PUT, "/auth", &cookie)
        .header("origin", A)
        .json(&json!({"name": "Carol"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        name_of(&app, "c@example.com").await.as_deref(),
        Some("Carol")
    );
}

#[tokio::test]
async fn header_tokens_skip_the_cookie_checks() {
    let app = spawn_app_with(cookie_mode).await;
    let auth = app.signed_in_user("h@example.com").await;
    // A header token with no Origin and a stray cookie: header mode, no CSRF check.
    let resp = app
        .authed(Method::PUT, "/auth", &auth)
        .header("cookie", "auth_cookie=garbage")
        .json(&json!({"name": "Hal"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn token_mode_sets_and_reads_no_cookie() {
    let app = spawn_app().await;
    assert_eq!(
        app.sign_up("t@example.com", "password1").await.status(),
        200
    );
    let resp = app.sign_in_response("t@example.com", "password1").await;
    assert_eq!(resp.status(), 200);
    assert!(set_cookies(&resp).is_empty());
    assert!(resp.headers().get("authorization").is_some());
    let auth = Auth::from_headers(resp.headers()).unwrap();
    let cookie = format!(
        "auth_cookie={}",
        percent_encoding::utf8_percent_encode(
            &json!({"access-token": auth.token, "client": auth.client, "uid": auth.uid})
                .to_string(),
            percent_encoding::NON_ALPHANUMERIC
        )
    );
    let resp = with_cookie(&app, Method::GET, "/auth/validate_token", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn the_password_reset_link_sets_the_cookie() {
    let smtp = SmtpServer::start();
    let app = spawn_app_mailing_to(smtp.port, cookie_mode).await;
    assert_eq!(
        app.sign_up("r@example.com", "password1").await.status(),
        200
    );
    let resp = app
        .post_json(
            "/auth/password",
            &json!({"email": "r@example.com", "redirect_url": "https://app.example.com/reset"}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let mail = smtp.wait_for(1).await.remove(0);
    let link = first_link(&mail.text).replace(&app.settings.public_url(), &app.address);

    let landing = app.client.get(link).send().await.unwrap();

    assert_eq!(landing.status(), 302);
    let cookie = auth_cookie(&landing);
    assert_eq!(cookie_json(&cookie)["uid"], "r@example.com");
    assert!(landing.headers().get("access-token").is_none());
    let resp = with_cookie(&app, Method::GET, "/auth/validate_token", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[test]
fn unsafe_cookie_settings_stop_startup() {
    let mut s = toker::config::Settings {
        cookie_enabled: true,
        cors_origins: vec![A.into()],
        public_url: Some("http://api.other.test".into()),
        ..Default::default()
    };
    let e = s.validate().unwrap_err().to_string();
    assert!(
        e.contains("cookie_attributes") && e.contains("Secure"),
        "{e}"
    );
    s.public_url = Some("https://api.other.test".into());
    s.cookie_name = "__Host-x".into();
    s.cookie_attributes.domain = Some("other.test".into());
    let e = s.validate().unwrap_err().to_string();
    assert!(e.contains("cookie_name"), "{e}");
    s.cookie_attributes.domain = Some("bad domain;".into());
    s.cookie_name = "auth".into();
    assert!(s.validate().is_err());
    // Off, the same values do not matter.
    s.cookie_enabled = false;
    assert!(s.validate().is_ok());
}
