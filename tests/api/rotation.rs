//! Token rotation on authenticated responses (docs/contract.md §2.0.8, §2.15, §3; docs/decisions.md D1–D3,
//! D10): rotation chains, the batch window, echo mode, expiry, the device cap, sign-out, rotation
//! on 4xx, caching headers and what the database stores.

use std::time::Duration;

use base64::{Engine as _, engine::general_purpose::STANDARD};
use reqwest::{Method, Response, header::HeaderMap};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use toker::config::BatchResponse;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::*;

/// The six headers of a credentialed response (docs/contract.md §2.15).
const AUTH_HEADERS: [&str; 6] = [
    "access-token",
    "token-type",
    "client",
    "expiry",
    "uid",
    "authorization",
];

/// Just over a 1 s batch window.
const PAST_WINDOW: Duration = Duration::from_millis(1100);

const E7: &str = "You need to sign in or sign up before continuing.";

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn assert_no_auth_headers(headers: &HeaderMap) {
    for name in AUTH_HEADERS {
        assert!(
            headers.get(name).is_none(),
            "unexpected `{name}` header: {:?}",
            headers.get(name)
        );
    }
}

fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn is_token(s: &str) -> bool {
    s.len() == 22
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn expiry_of(auth: &Auth) -> i64 {
    auth.expiry.parse().expect("expiry is Unix seconds")
}

/// `GET path` with `auth`'s credentials, not updating them.
async fn get_with(app: &TestApp, path: &str, auth: &Auth) -> Response {
    app.authed(Method::GET, path, auth)
        .send()
        .await
        .expect("request")
}

/// The status of `GET /auth/validate_token` with `auth` (the response's token is dropped).
async fn validate_status(app: &TestApp, auth: &Auth) -> u16 {
    get_with(app, "/auth/validate_token", auth)
        .await
        .status()
        .as_u16()
}

/// `auth` with another access token.
fn with_token(auth: &Auth, token: &str) -> Auth {
    Auth {
        token: token.to_string(),
        ..auth.clone()
    }
}

/// A request that rotates whatever the window says (`?unbatch=1`); returns the new credentials.
async fn rotate(app: &TestApp, auth: &Auth) -> Auth {
    let resp = get_with(app, "/api/me?unbatch=1", auth).await;
    assert_eq!(resp.status(), 200);
    let next = Auth::from_headers(resp.headers()).expect("unbatch rotates");
    assert_ne!(next.token, auth.token);
    next
}

// --- rotation chains ---------------------------------------------------------------------

#[tokio::test]
async fn every_request_rotates_to_a_new_token_when_the_batch_window_is_zero() {
    // Arrange
    let app = spawn_app_with(|s| s.batch_request_buffer_throttle = 0).await;
    let first = app.signed_in_user("chain@example.com").await;
    let mut auth = first.clone();
    let mut seen = vec![first.token.clone()];

    // Act + Assert: /api/me and validate_token alternately, each answer a new token
    for i in 0..6 {
        let path = if i % 2 == 0 {
            "/api/me"
        } else {
            "/auth/validate_token"
        };
        let before = auth.clone();
        let resp = app.get_authed(path, &mut auth).await;
        assert_eq!(resp.status(), 200, "{path}");
        let next = Auth::from_headers(resp.headers()).expect("rotated credentials");
        assert!(is_token(&next.token), "{path}: {:?}", next.token);
        assert!(!seen.contains(&next.token), "{path} reused a token");
        assert_eq!(next.client, first.client);
        assert_eq!(next.uid, "chain@example.com");
        assert!(expiry_of(&next) >= expiry_of(&before), "expiry went back");
        assert_eq!(header(resp.headers(), "token-type"), Some("Bearer"));
        seen.push(next.token);
    }
}

#[tokio::test]
async fn unbatch_rotates_every_request_inside_the_batch_window() {
    // Arrange: the default 5 s window, so every request below is inside it
    let app = spawn_app().await;
    let first = app.signed_in_user("unbatch@example.com").await;
    let mut auth = first.clone();
    let mut seen = vec![first.token.clone()];

    // Act + Assert: any value of `unbatch`, even `false`, forces rotation
    for path in [
        "/api/me?unbatch=1",
        "/auth/validate_token?unbatch=false",
        "/api/me?unbatch",
    ] {
        let before = auth.clone();
        let resp = app.get_authed(path, &mut auth).await;
        assert_eq!(resp.status(), 200, "{path}");
        let next = Auth::from_headers(resp.headers()).expect("unbatch rotates");
        assert!(is_token(&next.token));
        assert!(!seen.contains(&next.token), "{path} reused a token");
        assert_eq!(next.client, first.client);
        assert!(expiry_of(&next) >= expiry_of(&before));
        seen.push(next.token);
    }
}

#[tokio::test]
async fn previous_token_still_works_after_one_rotation() {
    // Arrange
    let app = spawn_app_with(|s| s.batch_request_buffer_throttle = 1).await;
    let t0 = app.signed_in_user("previous@example.com").await;
    let t1 = rotate(&app, &t0).await;
    tokio::time::sleep(PAST_WINDOW).await;

    // Act: the rotated-away token, well after the window
    let resp = get_with(&app, "/api/me", &t0).await;

    // Assert: accepted (it is the previous token). A sibling rotated it away less than
    // `RACE_GRACE_MS` ago, so this request lost a race (docs/decisions.md D3): it answers as a batch
    // request, without a new token, and the chain stays as it was.
    assert_eq!(resp.status(), 200);
    assert!(Auth::from_headers(resp.headers()).is_none());
    let mut current = t1.clone();
    assert_eq!(
        app.get_authed("/auth/validate_token", &mut current)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn token_two_back_works_only_inside_the_batch_window_after_the_rotation() {
    // Arrange: t0 → t1 → t2, so t0 is two back and t1 the previous token
    let app = spawn_app_with(|s| s.batch_request_buffer_throttle = 1).await;
    let t0 = app.signed_in_user("twoback@example.com").await;
    let t1 = rotate(&app, &t0).await;
    let t2 = rotate(&app, &t1).await;

    // Act + Assert: inside the window the two-back token is accepted (a batch request)
    let inside = get_with(&app, "/auth/validate_token", &t0).await;
    assert_eq!(inside.status(), 200);
    assert_no_auth_headers(inside.headers());

    // Act + Assert: once the window after that rotation has passed, it is refused
    tokio::time::sleep(PAST_WINDOW).await;
    let outside = get_with(&app, "/auth/validate_token", &t0).await;
    assert_eq!(outside.status(), 401);
    assert_no_auth_headers(outside.headers());
    assert_eq!(
        json(outside).await,
        json!({"success": false, "errors": ["Invalid login credentials"]})
    );

    // Assert: the previous and current tokens are still good
    assert_eq!(validate_status(&app, &t1).await, 200);
    assert_eq!(validate_status(&app, &t2).await, 200);
}

#[tokio::test]
async fn two_back_grace_runs_from_the_rotation_and_later_requests_do_not_stretch_it() {
    // Arrange: a 2 s window; t0 → t1 → t2, so t0 is two back from `rotated`
    let app = spawn_app_with(|s| s.batch_request_buffer_throttle = 2).await;
    let t0 = app.signed_in_user("grace@example.com").await;
    let t1 = rotate(&app, &t0).await;
    let t2 = rotate(&app, &t1).await;
    let rotated = std::time::Instant::now();

    // Act: inside the window, requests with the current token (batch touches) and with the
    // two-back token itself, each of which used to restart the window
    for step in 1..=2 {
        tokio::time::sleep_until((rotated + Duration::from_millis(700 * step)).into()).await;
        assert_eq!(validate_status(&app, &t2).await, 200);
        let old = get_with(&app, "/auth/validate_token", &t0).await;
        assert_eq!(old.status(), 200, "step {step}");
        assert_no_auth_headers(old.headers());
    }
    tokio::time::sleep_until((rotated + Duration::from_millis(2200)).into()).await;
    let late = get_with(&app, "/auth/validate_token", &t0).await;

    // Assert: two seconds after the rotation t0 is refused, however recently the device was
    // used; the previous and current tokens still work
    assert_eq!(late.status(), 401);
    assert_eq!(validate_status(&app, &t1).await, 200);
    assert_eq!(validate_status(&app, &t2).await, 200);
}

#[tokio::test]
async fn an_expired_device_is_deleted_when_a_request_meets_it() {
    // Arrange: two devices, both past their lifespan
    let app = spawn_app_with(|s| {
        s.token_lifespan = 1;
        s.batch_request_buffer_throttle = 0;
    })
    .await;
    let first = app.signed_in_user("expired@example.com").await;
    let second = Auth::from_headers(
        app.sign_in_response("expired@example.com", "password1")
            .await
            .headers(),
    )
    .unwrap();
    let user_id = app.user_id("expired@example.com").await;
    // The sign-up's device, unless the second sign-in already pruned it as expired (a slow
    // machine can take a second between the two).
    let untouched: Vec<String> = app
        .store
        .devices_of(user_id)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.client)
        .filter(|c| *c != first.client && *c != second.client)
        .collect();
    tokio::time::sleep(Duration::from_millis(1100)).await;

    // Act: a request with the first device's token, and one with a token it never had
    let resp = get_with(&app, "/auth/validate_token", &first).await;
    let forged = get_with(
        &app,
        "/api/me",
        &with_token(&second, "forged-token-000000000"),
    )
    .await;

    // Assert: refused, and both devices are gone without waiting for a new sign-in; the
    // sign-up's device, which no request met, is still there
    assert_eq!(resp.status(), 401);
    assert_eq!(forged.status(), 401);
    let left: Vec<String> = app
        .store
        .devices_of(user_id)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.client)
        .collect();
    assert_eq!(left, untouched);
    assert!(untouched.len() <= 1, "{untouched:?}");
}

#[tokio::test]
async fn token_three_back_is_refused_even_inside_the_batch_window() {
    // Arrange: t0 → t1 → t2 → t3 in quick succession
    let app = spawn_app().await;
    let t0 = app.signed_in_user("threeback@example.com").await;
    let t1 = rotate(&app, &t0).await;
    let t2 = rotate(&app, &t1).await;
    let t3 = rotate(&app, &t2).await;

    // Act
    let resp = get_with(&app, "/api/me", &t0).await;

    // Assert
    assert_eq!(resp.status(), 401);
    assert_no_auth_headers(resp.headers());
    assert_eq!(json(resp).await, json!({ "errors": [E7] }));
    assert_eq!(validate_status(&app, &t1).await, 200);
    assert_eq!(validate_status(&app, &t3).await, 200);
}

// --- the batch window --------------------------------------------------------------------

#[tokio::test]
async fn request_inside_the_batch_window_gets_no_auth_headers_by_default() {
    // Arrange
    let app = spawn_app().await;
    let auth = app.signed_in_user("omit@example.com").await;
    let user_id = app.user_id("omit@example.com").await;
    let before = app.store.devices_of(user_id).await.expect("devices");

    // Act: right after sign-in, inside the 5 s window
    let me = get_with(&app, "/api/me", &auth).await;
    let validate = get_with(&app, "/auth/validate_token", &auth).await;

    // Assert: answered, but none of the six auth headers (docs/decisions.md D1 "omit")
    assert_eq!(me.status(), 200);
    assert_no_auth_headers(me.headers());
    assert_eq!(validate.status(), 200);
    assert_no_auth_headers(validate.headers());
    // The chain is unchanged, only touched, and the token still works.
    let after = app.store.devices_of(user_id).await.expect("devices");
    let device = |list: &Vec<toker::store::Device>| {
        list.iter()
            .find(|d| d.client == auth.client)
            .cloned()
            .expect("device")
    };
    let (b, a) = (device(&before), device(&after));
    assert_eq!(a.token_hash, b.token_hash);
    assert_eq!(a.token_hash, sha256_hex(&auth.token));
    assert_eq!(a.expiry, b.expiry);
    assert!(a.touched_at >= b.touched_at);
    assert_eq!(validate_status(&app, &auth).await, 200);
}

#[tokio::test]
async fn blank_batch_response_sends_single_space_token_and_expiry_with_the_real_rest() {
    // Arrange
    let app = spawn_app_with(|s| s.batch_response = BatchResponse::Blank).await;
    let auth = app.signed_in_user("blank@example.com").await;

    // Act: inside the window after sign-in
    let resp = get_with(&app, "/auth/validate_token", &auth).await;

    // Assert: blanks for token and expiry (a single space, which HTTP parsers may trim)
    assert_eq!(resp.status(), 200);
    let h = resp.headers();
    for name in ["access-token", "expiry"] {
        let raw = h.get(name).unwrap_or_else(|| panic!("`{name}` present"));
        assert!(
            raw.as_bytes() == b" " || raw.as_bytes().is_empty(),
            "{name}: {raw:?}"
        );
    }
    assert_eq!(header(h, "token-type"), Some("Bearer"));
    assert_eq!(header(h, "client"), Some(auth.client.as_str()));
    assert_eq!(header(h, "uid"), Some("blank@example.com"));
    assert!(
        Auth::from_headers(h).is_none(),
        "no usable token in a batch"
    );
    // Authorization carries the request's own token and the real expiry.
    let authorization = header(h, "authorization").expect("authorization");
    let b64 = authorization
        .strip_prefix("Bearer ")
        .expect("Bearer prefix");
    let payload: Value =
        serde_json::from_slice(&STANDARD.decode(b64).expect("standard base64")).expect("JSON");
    let keys: Vec<&str> = payload
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["access-token", "token-type", "client", "expiry", "uid"]
    );
    assert_eq!(
        payload,
        json!({
            "access-token": auth.token,
            "token-type": "Bearer",
            "client": auth.client,
            "expiry": auth.expiry,
            "uid": "blank@example.com",
        })
    );
}

#[tokio::test]
async fn blank_batch_response_puts_exactly_one_space_on_the_wire() {
    // Arrange
    let app = spawn_app_with(|s| s.batch_response = BatchResponse::Blank).await;
    let auth = app.signed_in_user("wire@example.com").await;
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
        .await
        .expect("connect");
    let request = format!(
        "GET /api/me HTTP/1.1\r\nHost: 127.0.0.1:{}\r\naccess-token: {}\r\nclient: {}\r\n\
         uid: {}\r\nConnection: close\r\n\r\n",
        app.port, auth.token, auth.client, auth.uid
    );

    // Act
    stream
        .write_all(request.as_bytes())
        .await
        .expect("write request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read response");

    // Assert: `access-token:` and `expiry:` followed by the separator and one space
    let text = String::from_utf8_lossy(&raw);
    let head = text.split("\r\n\r\n").next().expect("head");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    for name in ["access-token", "expiry"] {
        let line = head
            .split("\r\n")
            .find(|l| l.to_ascii_lowercase().starts_with(&format!("{name}:")))
            .unwrap_or_else(|| panic!("no `{name}` line in {head}"));
        assert_eq!(&line[name.len() + 1..], "  ", "raw line {line:?}");
    }
}

// --- change_headers_on_each_request = false ----------------------------------------------

#[tokio::test]
async fn without_rotation_every_response_echoes_the_same_token_and_expiry() {
    // Arrange: no window either, so only the setting keeps the token
    let app = spawn_app_with(|s| {
        s.change_headers_on_each_request = false;
        s.batch_request_buffer_throttle = 0;
    })
    .await;
    let first = app.signed_in_user("echo@example.com").await;
    let mut auth = first.clone();

    // Act + Assert
    for (i, path) in [
        "/api/me",
        "/auth/validate_token",
        "/api/me?unbatch=1",
        "/auth/validate_token",
    ]
    .into_iter()
    .enumerate()
    {
        if i == 2 {
            // Time passes: still the same token.
            tokio::time::sleep(PAST_WINDOW).await;
        }
        let resp = app.get_authed(path, &mut auth).await;
        assert_eq!(resp.status(), 200, "{path}");
        let echoed = Auth::from_headers(resp.headers()).expect("echoed credentials");
        assert_eq!(echoed, first, "{path}");
    }
    let user_id = app.user_id("echo@example.com").await;
    let devices = app.store.devices_of(user_id).await.expect("devices");
    let device = devices.iter().find(|d| d.client == first.client).unwrap();
    assert_eq!(device.token_hash, sha256_hex(&first.token));
    assert_eq!(device.previous_token_hash, None);
}

// --- expiry --------------------------------------------------------------------------------

#[tokio::test]
async fn token_is_refused_once_its_lifespan_has_passed() {
    // Arrange: the window must be shorter than the lifespan
    let app = spawn_app_with(|s| {
        s.token_lifespan = 2;
        s.batch_request_buffer_throttle = 1;
    })
    .await;
    let auth = app.signed_in_user("expiry@example.com").await;
    let now = chrono::Utc::now().timestamp();
    assert!((now + 1..=now + 2).contains(&expiry_of(&auth)), "{auth:?}");
    assert_eq!(validate_status(&app, &auth).await, 200);

    // Act
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let validate = get_with(&app, "/auth/validate_token", &auth).await;
    let me = get_with(&app, "/api/me", &auth).await;

    // Assert: E1 on validate_token, E7 on an app endpoint, no auth headers
    assert_eq!(validate.status(), 401);
    assert_no_auth_headers(validate.headers());
    assert_eq!(
        json(validate).await,
        json!({"success": false, "errors": ["Invalid login credentials"]})
    );
    assert_eq!(me.status(), 401);
    assert_no_auth_headers(me.headers());
    assert_eq!(json(me).await, json!({ "errors": [E7] }));
}

// --- device cap and sign-out -----------------------------------------------------------------

#[tokio::test]
async fn device_cap_keeps_the_two_most_recently_touched_devices() {
    // Arrange: cap 2; sign up, then four sign-ins d1..d4
    let app = spawn_app_with(|s| s.max_number_of_devices = 2).await;
    let email = "cap@example.com";
    assert_eq!(app.sign_up(email, "password1").await.status(), 200);
    let sign_in = || async {
        let resp = app.sign_in_response(email, "password1").await;
        assert_eq!(resp.status(), 200);
        Auth::from_headers(resp.headers()).expect("credentials")
    };

    // Act: d1 is touched before each later sign-in, so d2 and d3 are the ones evicted
    let d1 = sign_in().await;
    let d2 = sign_in().await;
    assert_eq!(validate_status(&app, &d1).await, 200);
    let d3 = sign_in().await;
    assert_eq!(validate_status(&app, &d1).await, 200);
    let d4 = sign_in().await;

    // Assert
    let user_id = app.user_id(email).await;
    let mut clients: Vec<String> = app
        .store
        .devices_of(user_id)
        .await
        .expect("devices")
        .into_iter()
        .map(|d| d.client)
        .collect();
    clients.sort();
    let mut expected = vec![d1.client.clone(), d4.client.clone()];
    expected.sort();
    assert_eq!(clients, expected);
    assert_eq!(validate_status(&app, &d2).await, 401);
    assert_eq!(validate_status(&app, &d3).await, 401);
    assert_eq!(validate_status(&app, &d1).await, 200);
    assert_eq!(validate_status(&app, &d4).await, 200);
}

#[tokio::test]
async fn sign_out_kills_only_the_calling_device() {
    // Arrange
    let app = spawn_app().await;
    let a = app.signed_in_user("signout@example.com").await;
    let resp = app
        .sign_in_response("signout@example.com", "password1")
        .await;
    let b = Auth::from_headers(resp.headers()).expect("second device");

    // Act
    let out = app
        .authed(Method::DELETE, "/auth/sign_out", &a)
        .send()
        .await
        .expect("request");

    // Assert
    assert_eq!(out.status(), 200);
    assert_no_auth_headers(out.headers());
    assert_eq!(json(out).await, json!({ "success": true }));
    assert_eq!(validate_status(&app, &a).await, 401);
    assert_eq!(validate_status(&app, &b).await, 200);
    let user_id = app.user_id("signout@example.com").await;
    let devices = app.store.devices_of(user_id).await.expect("devices");
    assert!(devices.iter().all(|d| d.client != a.client));
    assert!(devices.iter().any(|d| d.client == b.client));
}

// --- rotation on 4xx, never on 401 ---------------------------------------------------------

#[tokio::test]
async fn account_update_rejected_with_422_still_rotates_the_token() {
    // Arrange
    let app = spawn_app_with(|s| s.batch_request_buffer_throttle = 0).await;
    let auth = app.signed_in_user("update422@example.com").await;

    // Act
    let resp = app
        .authed(Method::PUT, "/auth", &auth)
        .json(&json!({ "email": "nope" }))
        .send()
        .await
        .expect("request");

    // Assert
    assert_eq!(resp.status(), 422);
    let next = Auth::from_headers(resp.headers()).expect("422 of an authenticated action rotates");
    assert!(is_token(&next.token));
    assert_ne!(next.token, auth.token);
    assert_eq!(next.client, auth.client);
    assert_eq!(next.uid, "update422@example.com");
    assert_eq!(validate_status(&app, &next).await, 200);
}

#[tokio::test]
async fn no_401_ever_carries_auth_headers() {
    // Arrange: a window of 0, so any authenticated answer would rotate
    let app = spawn_app_with(|s| s.batch_request_buffer_throttle = 0).await;
    let auth = app.signed_in_user("no401@example.com").await;
    let wrong = with_token(&auth, &"A".repeat(22));

    // Act
    let responses = vec![
        (
            "/api/me wrong token",
            get_with(&app, "/api/me", &wrong).await,
        ),
        (
            "validate wrong token",
            get_with(&app, "/auth/validate_token", &wrong).await,
        ),
        (
            "/api/me anonymous",
            app.request(Method::GET, "/api/me")
                .send()
                .await
                .expect("request"),
        ),
        (
            "sign-in wrong password",
            app.sign_in_response("no401@example.com", "wrong-password")
                .await,
        ),
    ];

    // Assert
    for (what, resp) in responses {
        assert_eq!(resp.status(), 401, "{what}");
        assert_no_auth_headers(resp.headers());
    }
    // The real token was never touched by any of this.
    let user_id = app.user_id("no401@example.com").await;
    let devices = app.store.devices_of(user_id).await.expect("devices");
    let device = devices.iter().find(|d| d.client == auth.client).unwrap();
    assert_eq!(device.token_hash, sha256_hex(&auth.token));
}

// --- caching ---------------------------------------------------------------------------------

#[tokio::test]
async fn credentialed_responses_are_no_store_without_validators_and_never_304() {
    // Arrange
    let app = spawn_app_with(|s| s.batch_request_buffer_throttle = 0).await;
    let sign_in = app.sign_up("cache@example.com", "password1").await;
    assert_eq!(sign_in.status(), 200);
    let sign_in = app.sign_in_response("cache@example.com", "password1").await;
    assert_eq!(sign_in.status(), 200);
    let mut auth = Auth::from_headers(sign_in.headers()).expect("credentials");
    let mut responses = vec![("sign_in", sign_in)];

    // Act: conditional requests, as j-toker and ng-token-auth send them
    for path in ["/api/me", "/auth/validate_token"] {
        let resp = app
            .authed(Method::GET, path, &auth)
            .header("If-None-Match", "*")
            .header("If-Modified-Since", "Fri, 01 Jan 2100 00:00:00 GMT")
            .send()
            .await
            .expect("request");
        auth.update_from(resp.headers());
        responses.push((path, resp));
    }

    // Assert
    for (what, resp) in responses {
        assert_eq!(resp.status(), 200, "{what}");
        let h = resp.headers();
        assert!(
            Auth::from_headers(h).is_some(),
            "{what} carries credentials"
        );
        assert_eq!(header(h, "cache-control"), Some("no-store"), "{what}");
        assert!(h.get("etag").is_none(), "{what}");
        assert!(h.get("last-modified").is_none(), "{what}");
    }
}

// --- storage ---------------------------------------------------------------------------------

#[tokio::test]
async fn stored_tokens_are_sha256_hex_never_the_raw_token() {
    // Arrange
    let app = spawn_app().await;
    let t0 = app.signed_in_user("hash@example.com").await;
    let t1 = rotate(&app, &t0).await;
    let t2 = rotate(&app, &t1).await;

    // Act
    let user_id = app.user_id("hash@example.com").await;
    let devices = app.store.devices_of(user_id).await.expect("devices");

    // Assert
    let device = devices.iter().find(|d| d.client == t0.client).unwrap();
    let hex64 = |s: &str| s.len() == 64 && s.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'));
    assert_eq!(device.token_hash, sha256_hex(&t2.token));
    assert_eq!(
        device.previous_token_hash.as_deref(),
        Some(sha256_hex(&t1.token).as_str())
    );
    assert_eq!(
        device.last_token_hash.as_deref(),
        Some(sha256_hex(&t0.token).as_str())
    );
    for d in &devices {
        let hashes = [
            Some(&d.token_hash),
            d.previous_token_hash.as_ref(),
            d.last_token_hash.as_ref(),
        ];
        for h in hashes.into_iter().flatten() {
            assert!(hex64(h), "not SHA-256 hex: {h}");
            for raw in [&t0.token, &t1.token, &t2.token] {
                assert!(!h.contains(raw.as_str()), "raw token stored");
            }
        }
    }
}

// --- the sample endpoint -------------------------------------------------------------------

#[tokio::test]
async fn api_me_returns_the_user_and_rotates_the_token() {
    // Arrange
    let app = spawn_app_with(|s| s.batch_request_buffer_throttle = 0).await;
    let mut auth = app.signed_in_user("me@example.com").await;
    let before = auth.clone();

    // Act
    let resp = app.get_authed("/api/me", &mut auth).await;

    // Assert
    assert_eq!(resp.status(), 200);
    assert_json_content_type(&resp);
    let next = Auth::from_headers(resp.headers()).expect("rotated");
    assert_ne!(next.token, before.token);
    let body = json(resp).await;
    let data = body["data"].as_object().expect("{\"data\": user}");
    assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
    assert_eq!(data["uid"], "me@example.com");
    assert_eq!(data["email"], "me@example.com");
    assert_eq!(data["provider"], "email");
    assert!(data.contains_key("created_at"));
    for secret in ["encrypted_password", "tokens", "sign_in_count"] {
        assert!(!data.contains_key(secret), "{secret} leaked");
    }
}

#[tokio::test]
async fn api_me_without_credentials_is_401_e7() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let resp = app
        .request(Method::GET, "/api/me")
        .send()
        .await
        .expect("request");

    // Assert
    assert_eq!(resp.status(), 401);
    assert_json_content_type(&resp);
    assert_no_auth_headers(resp.headers());
    assert_eq!(json(resp).await, json!({ "errors": [E7] }));
}
