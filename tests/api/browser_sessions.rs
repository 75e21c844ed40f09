//! Browser sessions for static apps (docs/decisions.md D15): `GET`/`POST`/`DELETE /session` in the
//! Backbone tutorial's shape, the session stored hashed and bound to a device, rotated at
//! sign-in, idle and absolute lifetimes, the sign-in rules of `POST /auth/sign_in`, and the CSRF
//! defence with hostile input (forged, `null` and missing origins, form posts, wrong tokens).

use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::*;

const A: &str = "https://app.example.com";
const E: &str = "https://evil.test";
const COOKIE: &str = "__Host-toker_session";

pub fn sessions_on(s: &mut toker::config::Settings) {
    s.session_enabled = true;
    s.public_url = Some("https://api.example.com".into());
}

/// `name=value` of the session cookie a response sets, if it sets one.
pub fn session_cookie(resp: &Response) -> Option<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with(&format!("{COOKIE}=")))
}

fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_string()
}

fn is_clearing(set_cookie: &str) -> bool {
    set_cookie.starts_with(&format!("{COOKIE}=;")) && set_cookie.contains("Max-Age=0")
}

fn get(app: &TestApp, cookie: Option<&str>) -> RequestBuilder {
    let rb = app.request(Method::GET, "/session");
    match cookie {
        Some(c) => rb.header("cookie", c),
        None => rb,
    }
}

pub async fn state(app: &TestApp, cookie: Option<&str>) -> Value {
    let resp = get(app, cookie).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    json(resp).await
}

/// `POST /session` from `A` as the tutorial's model sends it (its other attributes included).
pub fn sign_in_request(app: &TestApp, email: &str, password: &str) -> RequestBuilder {
    app.request(Method::POST, "/session")
        .header("origin", A)
        .json(&json!({"auth": false, "_csrf": "x", "username": email, "password": password}))
}

/// Signs up and signs a browser in; returns the `Cookie` pair and the body.
pub async fn browser_signed_in(app: &TestApp, email: &str) -> (String, Value) {
    assert_eq!(app.sign_up(email, "password1").await.status(), 200);
    let resp = sign_in_request(app, email, "password1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let cookie = pair(&session_cookie(&resp).expect("a session cookie"));
    (cookie, json(resp).await)
}

#[tokio::test]
async fn a_browser_signs_in_checks_and_signs_out_in_the_tutorials_shape() {
    let app = spawn_app_with(sessions_on).await;
    let anonymous = state(&app, None).await;
    assert_eq!(anonymous["auth"], false);
    assert!(anonymous["_csrf"].as_str().unwrap().len() > 20);
    assert_eq!(anonymous.as_object().unwrap().len(), 2, "{anonymous}");
    assert_eq!(
        app.sign_up("b@example.com", "password1").await.status(),
        200
    );

    let resp = sign_in_request(&app, "b@example.com", "password1")
        .send()
        .await
        .unwrap();

    assert_eq!(resp.status(), 200);
    let set = session_cookie(&resp).unwrap();
    assert!(
        set.ends_with("; Max-Age=1209600; Path=/; Secure; HttpOnly; SameSite=None"),
        "{set}"
    );
    assert!(resp.headers().get("access-token").is_none());
    let body = json(resp).await;
    let id = app.user_id("b@example.com").await;
    assert_eq!(body["auth"], true);
    assert_eq!(body["id"], id);
    assert_eq!(body["uid"], "b@example.com");
    assert_eq!(body["username"], "b@example.com");
    assert_eq!(body["email"], "b@example.com");
    assert!(body["_csrf"].is_string());
    let cookie = pair(&set);
    let checked = state(&app, Some(&cookie)).await;
    assert_eq!(checked["auth"], true);
    assert_eq!(checked["username"], "b@example.com");

    // Stored hashed, bound to the one device the sign-in created.
    let raw = cookie.split_once('=').unwrap().1;
    let sessions = app.store.browser_sessions_of(id).await.unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].token_hash, hex(&Sha256::digest(raw.as_bytes())));
    let device = sessions[0].device_id;
    assert!(app.store.find_device_by_id(device).await.unwrap().is_some());

    // Backbone's destroy: DELETE /session/<id>.
    let resp = app
        .request(Method::DELETE, &format!("/session/{id}"))
        .header("origin", A)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(is_clearing(&session_cookie(&resp).unwrap()));
    let body = json(resp).await;
    assert_eq!(body["auth"], false);
    assert!(body["_csrf"].is_string());
    assert_eq!(state(&app, Some(&cookie)).await["auth"], false);
    assert!(app.store.find_device_by_id(device).await.unwrap().is_none());
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn delete_without_an_id_and_without_a_session_answers_alike() {
    let app = spawn_app_with(sessions_on).await;
    let (cookie, _) = browser_signed_in(&app, "d@example.com").await;
    for cookie in [Some(cookie.as_str()), None] {
        let mut rb = app.request(Method::DELETE, "/session").header("origin", A);
        if let Some(c) = cookie {
            rb = rb.header("cookie", c);
        }
        let resp = rb.send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(json(resp).await["auth"], false);
    }
}

#[tokio::test]
async fn sign_in_rotates_the_session_id() {
    let app = spawn_app_with(sessions_on).await;
    let (old, _) = browser_signed_in(&app, "r@example.com").await;
    let id = app.user_id("r@example.com").await;
    let old_device = app.store.browser_sessions_of(id).await.unwrap()[0].device_id;

    let resp = sign_in_request(&app, "r@example.com", "password1")
        .header("cookie", &old)
        .send()
        .await
        .unwrap();

    assert_eq!(resp.status(), 200);
    let new = pair(&session_cookie(&resp).unwrap());
    assert_ne!(new, old);
    assert_eq!(state(&app, Some(&new)).await["auth"], true);
    let resp = get(&app, Some(&old)).send().await.unwrap();
    assert!(is_clearing(&session_cookie(&resp).unwrap()));
    assert_eq!(json(resp).await["auth"], false);
    assert!(
        app.store
            .find_device_by_id(old_device)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(app.store.browser_sessions_of(id).await.unwrap().len(), 1);
}

#[tokio::test]
async fn revoking_or_evicting_the_device_ends_the_session() {
    let app = spawn_app_with(|s| {
        sessions_on(s);
        s.max_number_of_devices = 1;
    })
    .await;
    let (cookie, _) = browser_signed_in(&app, "v@example.com").await;
    assert_eq!(state(&app, Some(&cookie)).await["auth"], true);

    // A token sign-in elsewhere: the cap of one device evicts the browser's.
    let resp = app.sign_in_response("v@example.com", "password1").await;
    assert_eq!(resp.status(), 200);

    assert_eq!(state(&app, Some(&cookie)).await["auth"], false);

    let (cookie, _) = {
        let resp = sign_in_request(&app, "v@example.com", "password1")
            .send()
            .await
            .unwrap();
        (pair(&session_cookie(&resp).unwrap()), ())
    };
    let id = app.user_id("v@example.com").await;
    let device = app.store.devices_of(id).await.unwrap().remove(0);
    assert!(app.store.delete_device(device.id).await.unwrap());
    assert_eq!(state(&app, Some(&cookie)).await["auth"], false);
}

#[tokio::test]
async fn idle_and_absolute_lifetimes_end_sessions() {
    let app = spawn_app_with(|s| {
        sessions_on(s);
        s.session_idle_timeout = 600;
        s.session_lifetime = 3600;
    })
    .await;
    let (idle, _) = browser_signed_in(&app, "i@example.com").await;
    let id = app.user_id("i@example.com").await;
    let now = chrono::Utc::now().timestamp();
    let session = app.store.browser_sessions_of(id).await.unwrap().remove(0);
    app.store
        .touch_browser_session(session.id, now - 601)
        .await
        .unwrap();
    assert_eq!(state(&app, Some(&idle)).await["auth"], false);
    // The expired session's device is gone too.
    let gone = app
        .store
        .find_device_by_id(session.device_id)
        .await
        .unwrap();
    assert!(gone.is_none());

    let resp = sign_in_request(&app, "i@example.com", "password1")
        .send()
        .await
        .unwrap();
    let old = pair(&session_cookie(&resp).unwrap());
    use sea_orm::ConnectionTrait;
    app.store
        .connection()
        .execute_unprepared(&format!(
            "UPDATE browser_sessions SET created_at = {}",
            now - 3601
        ))
        .await
        .unwrap();
    // Seen a moment ago, but older than the absolute lifetime.
    assert_eq!(state(&app, Some(&old)).await["auth"], false);
}

#[tokio::test]
async fn sign_in_follows_the_rules_of_auth_sign_in() {
    let confirmable = spawn_app_with(|s| {
        sessions_on(s);
        s.confirmable = true;
        s.default_confirm_success_url = Some("https://app.example.com/confirmed".into());
    })
    .await;
    let email = "u@example.com";
    assert_eq!(confirmable.sign_up(email, "password1").await.status(), 200);
    let resp = sign_in_request(&confirmable, email, "password1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(session_cookie(&resp).is_none());
    assert!(
        json(resp).await["errors"][0]
            .as_str()
            .unwrap()
            .contains("confirm")
    );

    let app = spawn_app_with(|s| {
        sessions_on(s);
        s.lockable = true;
        s.maximum_attempts = 2;
        s.sign_in_limit_per_ip = 5;
    })
    .await;
    assert_eq!(app.sign_up(email, "password1").await.status(), 200);
    assert_eq!(
        sign_in_request(&app, email, "password1")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    for _ in 0..2 {
        let resp = sign_in_request(&app, "u@example.com", "wrong-pass")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
    }
    let resp = sign_in_request(&app, "u@example.com", "password1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let body = json(resp).await;
    assert!(
        body["errors"][0].as_str().unwrap().contains("locked"),
        "{body}"
    );
    // The sixth attempt from this address is over the limit.
    let resp = sign_in_request(&app, "nobody@example.com", "password1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let resp = sign_in_request(&app, "nobody@example.com", "password1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().get("retry-after").is_some());
}

#[tokio::test]
async fn paranoid_refusals_say_nothing_about_the_account() {
    let app = spawn_app_with(|s| {
        sessions_on(s);
        s.paranoid = true;
        s.confirmable = true;
        s.default_confirm_success_url = Some("https://app.example.com/confirmed".into());
    })
    .await;
    assert_eq!(
        app.sign_up("p@example.com", "password1").await.status(),
        200
    );
    let unconfirmed = sign_in_request(&app, "p@example.com", "password1")
        .send()
        .await
        .unwrap();
    let unknown = sign_in_request(&app, "q@example.com", "password1")
        .send()
        .await
        .unwrap();
    assert_eq!(unconfirmed.status(), 401);
    assert_eq!(unknown.status(), 401);
    assert_eq!(json(unconfirmed).await, json(unknown).await);
}

/// Refused with 403 naming `reason`; no cookie set.
async fn assert_forbidden(rb: RequestBuilder, reason: &str) {
    let resp = rb.send().await.unwrap();
    assert_eq!(resp.status(), 403);
    assert!(session_cookie(&resp).is_none());
    let body = json(resp).await;
    assert!(
        body["errors"][0].as_str().unwrap().contains(reason),
        "{body}"
    );
}

#[tokio::test]
async fn forged_requests_neither_sign_in_nor_out() {
    let app = spawn_app_with(sessions_on).await;
    let (cookie, _) = browser_signed_in(&app, "f@example.com").await;
    let creds = json!({"username": "f@example.com", "password": "password1"});
    let post = || app.request(Method::POST, "/session");

    // Login CSRF: no Origin, a forged one, `null`.
    assert_forbidden(post().json(&creds), "Origin").await;
    assert_forbidden(post().header("origin", E).json(&creds), "Origin").await;
    assert_forbidden(post().header("origin", "null").json(&creds), "Origin").await;
    // Cross-site form and text/plain posts, even from an allowed origin.
    assert_forbidden(
        post()
            .header("origin", A)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("username=f%40example.com&password=password1"),
        "JSON",
    )
    .await;
    // text/plain is refused before any rule runs (415, docs/cors.md G1).
    let resp = post()
        .header("origin", A)
        .header("content-type", "text/plain")
        .body(creds.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    assert!(session_cookie(&resp).is_none());
    // Sign-out forged: DELETE from another origin, or without one.
    let delete = || {
        app.request(Method::DELETE, "/session")
            .header("cookie", &cookie)
    };
    assert_forbidden(delete().header("origin", E), "Origin").await;
    assert_forbidden(delete(), "Origin").await;
    assert_eq!(state(&app, Some(&cookie)).await["auth"], true);
    let id = app.user_id("f@example.com").await;
    assert_eq!(app.store.browser_sessions_of(id).await.unwrap().len(), 1);
}

#[tokio::test]
async fn csrf_tokens_are_double_submitted_and_bound_to_the_session() {
    let app = spawn_app_with(|s| {
        sessions_on(s);
        s.csrf_tokens = true;
    })
    .await;
    assert_eq!(
        app.sign_up("t@example.com", "password1").await.status(),
        200
    );
    let anonymous = state(&app, None).await["_csrf"]
        .as_str()
        .unwrap()
        .to_string();
    let sign_in = |token: Option<&str>| {
        let rb = sign_in_request(&app, "t@example.com", "password1");
        match token {
            Some(t) => rb.header("x-csrf-token", t.to_string()),
            None => rb,
        }
    };
    assert_forbidden(sign_in(None), "X-CSRF-Token").await;
    assert_forbidden(sign_in(Some("forged.token")), "X-CSRF-Token").await;
    assert_forbidden(sign_in(Some(&format!("{anonymous}x"))), "X-CSRF-Token").await;

    let resp = sign_in(Some(&anonymous)).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let cookie = pair(&session_cookie(&resp).unwrap());
    let signed_in = json(resp).await["_csrf"].as_str().unwrap().to_string();

    let delete = |token: &str| {
        app.request(Method::DELETE, "/session")
            .header("origin", A)
            .header("cookie", &cookie)
            .header("x-csrf-token", token.to_string())
    };
    // The token of the signed-out browser is not this session's.
    assert_forbidden(delete(&anonymous), "X-CSRF-Token").await;
    assert_eq!(state(&app, Some(&cookie)).await["auth"], true);
    // GET answers a token for the session too.
    let fetched = state(&app, Some(&cookie)).await["_csrf"]
        .as_str()
        .unwrap()
        .to_string();
    let resp = delete(&fetched).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(state(&app, Some(&cookie)).await["auth"], false);
    // The sign-in answer's token belonged to the session that just ended.
    let (other, _) = {
        let anonymous = state(&app, None).await["_csrf"]
            .as_str()
            .unwrap()
            .to_string();
        let resp = sign_in(Some(&anonymous)).send().await.unwrap();
        (pair(&session_cookie(&resp).unwrap()), ())
    };
    let resp = app
        .request(Method::DELETE, "/session")
        .header("origin", A)
        .header("cookie", &other)
        .header("x-csrf-token", signed_in)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
}

#[tokio::test]
async fn malformed_session_cookies_are_no_session() {
    let app = spawn_app_with(sessions_on).await;
    for bad in [
        format!("{COOKIE}="),
        format!("{COOKIE}=short"),
        format!("{COOKIE}={}", "a".repeat(65)),
        format!("{COOKIE}=abcdefghijklmnopqrstuv%00"),
        format!("{COOKIE}=\"abcdefghijklmnopqrstuvwx\""),
        format!("{COOKIE}=abcdefghijklmnopqrstuvwxyz"),
        "toker_session=abcdefghijklmnopqrstuv".to_string(),
    ] {
        let resp = get(&app, Some(&bad)).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{bad}");
        assert_eq!(json(resp).await["auth"], false, "{bad}");
    }
}

#[tokio::test]
async fn sessions_are_off_by_default_and_the_path_is_configurable() {
    let off = spawn_app().await;
    let resp = off.request(Method::GET, "/session").send().await.unwrap();
    assert_eq!(resp.status(), 404);
    assert_json_content_type(&resp);

    let moved = spawn_app_with(|s| {
        sessions_on(s);
        s.session_path = "/account/session".into();
    })
    .await;
    let resp = moved
        .request(Method::GET, "/account/session")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = moved.request(Method::GET, "/session").send().await.unwrap();
    assert_eq!(resp.status(), 404);
}

#[test]
fn session_settings_are_validated() {
    let base = toker::config::Settings {
        session_enabled: true,
        public_url: Some("https://api.example.com".into()),
        ..Default::default()
    };
    for (setting, change) in [
        (
            "session_path",
            (|s| s.session_path = "session".into()) as fn(&mut toker::config::Settings),
        ),
        ("session_path", |s| s.session_path = "/session/".into()),
        ("session_path", |s| s.session_path = "/auth/session".into()),
        ("session_path", |s| s.session_path = "/docs".into()),
        ("session_lifetime", |s| s.session_lifetime = 0),
        ("session_lifetime", |s| {
            s.session_lifetime = s.token_lifespan + 1
        }),
        ("session_idle_timeout", |s| s.session_idle_timeout = 10),
        ("session_idle_timeout", |s| {
            s.session_lifetime = 3600;
            s.session_idle_timeout = 3601;
        }),
        ("session_cookie_name", |s| {
            s.session_cookie_name = "a;b".into()
        }),
    ] {
        let mut s = base.clone();
        change(&mut s);
        let e = s.validate().unwrap_err().to_string();
        assert!(e.contains(setting), "{setting}: {e}");
    }
    assert!(base.validate().is_ok());
}

#[tokio::test]
async fn the_tutorials_preflight_is_allowed_with_credentials() {
    let app = spawn_app_with(sessions_on).await;
    let resp = app
        .request(Method::OPTIONS, "/session")
        .header("origin", A)
        .header("access-control-request-method", "DELETE")
        .header(
            "access-control-request-headers",
            "content-type,x-csrf-token",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(resp.headers()["access-control-allow-origin"], A);
    assert_eq!(resp.headers()["access-control-allow-credentials"], "true");
    let allowed = resp.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(allowed.contains("x-csrf-token"), "{allowed}");
}
