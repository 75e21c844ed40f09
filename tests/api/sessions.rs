//! `POST /auth/sign_in`, `GET /auth/sign_in`, `DELETE /auth/sign_out`, `GET /auth/validate_token`
//! (docs/contract.md §2.4–2.6) and where credentials are read from (§2.0.3, docs/decisions.md D10).

use base64::{Engine as _, engine::general_purpose::STANDARD};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};

use toker::config::{AcceptTokenParams, TokenParamsScope};

use crate::helpers::*;

const AUTH_HEADERS: [&str; 6] = [
    "access-token",
    "token-type",
    "client",
    "expiry",
    "uid",
    "authorization",
];

const BAD_CREDENTIALS: &str =
    r#"{"success":false,"errors":["Invalid login credentials. Please try again."]}"#;
const TOKEN_INVALID: &str = r#"{"success":false,"errors":["Invalid login credentials"]}"#;
const NOT_LOGGED_IN: &str =
    r#"{"success":false,"errors":["User was not found or was not logged in."]}"#;

fn assert_no_auth_headers(resp: &Response) {
    for name in AUTH_HEADERS {
        assert!(
            resp.headers().get(name).is_none(),
            "unexpected `{name}` header on a {} response",
            resp.status()
        );
    }
}

fn header(resp: &Response, name: &str) -> String {
    resp.headers()
        .get(name)
        .unwrap_or_else(|| panic!("missing `{name}` header"))
        .to_str()
        .expect("ASCII header")
        .to_string()
}

/// Asserts status, JSON content type, no auth headers, and the exact body text.
async fn assert_error(resp: Response, status: u16, body: &str) {
    assert_eq!(resp.status(), status);
    assert_json_content_type(&resp);
    assert_no_auth_headers(&resp);
    assert_eq!(resp.text().await.expect("body"), body);
}

/// The app with a zero batch window: every authenticated response rotates (docs/contract.md §3.5).
async fn spawn_rotating_app() -> TestApp {
    spawn_app_with(|s| s.batch_request_buffer_throttle = 0).await
}

async fn send(rb: RequestBuilder) -> Response {
    rb.send().await.expect("request")
}

async fn validate(app: &TestApp, auth: &Auth) -> Response {
    send(app.authed(Method::GET, "/auth/validate_token", auth)).await
}

async fn another_device(app: &TestApp, email: &str) -> Auth {
    let resp = app.sign_in_response(email, "password1").await;
    assert_eq!(resp.status(), 200);
    Auth::from_headers(resp.headers()).expect("credentials")
}

fn lite_user(id: i64, email: &str) -> Value {
    json!({
        "id": id,
        "provider": "email",
        "uid": email,
        "allow_password_change": false,
        "name": null,
        "nickname": null,
        "image": null,
        "email": email,
    })
}

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

fn b64(text: &str) -> String {
    STANDARD.encode(text)
}

// ---------------------------------------------------------------------------------------------
// POST /auth/sign_in
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn sign_in_returns_the_lite_user_and_all_six_auth_headers() {
    // Arrange
    let app = spawn_app().await;
    assert_eq!(
        app.sign_up("alice@example.com", "password1").await.status(),
        200
    );

    // Act
    let resp = app
        .sign_in_response(" ALICE@Example.com ", "password1")
        .await;

    // Assert
    assert_eq!(resp.status(), 200);
    assert_json_content_type(&resp);
    let token = header(&resp, "access-token");
    let client = header(&resp, "client");
    let expiry = header(&resp, "expiry");
    let uid = header(&resp, "uid");
    let token_format = regex::Regex::new(r"\A[A-Za-z0-9_-]{22}\z").unwrap();
    assert!(token_format.is_match(&token), "access-token `{token}`");
    assert!(token_format.is_match(&client), "client `{client}`");
    assert_eq!(header(&resp, "token-type"), "Bearer");
    assert!(
        regex::Regex::new(r"\A\d{10}\z").unwrap().is_match(&expiry),
        "expiry `{expiry}`"
    );
    let lifespan = expiry.parse::<i64>().unwrap() - now_secs();
    assert!(
        (1_209_500..=1_209_600).contains(&lifespan),
        "lifespan {lifespan}"
    );
    assert_eq!(uid, "alice@example.com");
    let authorization = header(&resp, "authorization");
    let payload = authorization
        .strip_prefix("Bearer ")
        .expect("`Bearer ` prefix");
    let decoded = String::from_utf8(STANDARD.decode(payload).expect("standard base64")).unwrap();
    assert_eq!(
        decoded,
        format!(
            r#"{{"access-token":"{token}","token-type":"Bearer","client":"{client}","expiry":"{expiry}","uid":"{uid}"}}"#
        )
    );
    let id = app.user_id("alice@example.com").await;
    assert_eq!(
        json(resp).await,
        json!({"data": lite_user(id, "alice@example.com")})
    );
}

#[tokio::test]
async fn each_sign_in_creates_a_new_client() {
    // Arrange
    let app = spawn_app().await;
    let first = app.signed_in_user("alice@example.com").await;

    // Act
    let second = another_device(&app, "alice@example.com").await;

    // Assert
    assert_ne!(first.client, second.client);
    assert_ne!(first.token, second.token);
    assert_eq!(validate(&app, &first).await.status(), 200);
    assert_eq!(validate(&app, &second).await.status(), 200);
}

#[tokio::test]
async fn sign_in_with_bad_credentials_is_refused_with_e1_401() {
    // Arrange
    let app = spawn_app().await;
    assert_eq!(
        app.sign_up("alice@example.com", "password1").await.status(),
        200
    );
    let cases = [
        json!({"email": "alice@example.com", "password": "wrong-password"}),
        json!({"email": "nobody@example.com", "password": "password1"}),
        json!({"email": "alice@example.com"}),
        json!({"email": "alice@example.com", "password": ""}),
        json!({"password": "password1"}),
        json!({"email": 12, "password": "password1"}),
        json!({"email": null, "password": "password1"}),
        json!({"email": ["alice@example.com"], "password": "password1"}),
        json!({"email": {"address": "alice@example.com"}, "password": "password1"}),
        json!({"email": "alice@example.com", "password": ["password1"]}),
        json!({}),
    ];

    for body in cases {
        // Act
        let resp = app.post_json("/auth/sign_in", &body).await;

        // Assert
        assert_eq!(resp.status(), 401, "{body}");
        assert_json_content_type(&resp);
        assert_no_auth_headers(&resp);
        assert_eq!(resp.text().await.unwrap(), BAD_CREDENTIALS, "{body}");
    }
}

#[tokio::test]
async fn sign_in_with_a_form_body_works() {
    // Arrange
    let app = spawn_app().await;
    assert_eq!(
        app.sign_up("alice+tag@example.com", "pass word1")
            .await
            .status(),
        200
    );

    // Act
    let resp = send(
        app.request(Method::POST, "/auth/sign_in")
            .header("content-type", "application/x-www-form-urlencoded")
            .body("email=Alice%2Btag%40example.com&password=pass+word1"),
    )
    .await;

    // Assert
    assert_eq!(resp.status(), 200);
    assert_json_content_type(&resp);
    let auth = Auth::from_headers(resp.headers()).expect("credentials");
    assert_eq!(auth.uid, "alice+tag@example.com");
    assert_eq!(json(resp).await["data"]["email"], "alice+tag@example.com");
    assert_eq!(validate(&app, &auth).await.status(), 200);
}

#[tokio::test]
async fn sign_in_of_an_unconfirmed_account_is_refused_before_the_password_check() {
    // Arrange
    let app = spawn_app_with(|s| s.confirmable = true).await;
    let signed_up = app
        .post_json(
            "/auth",
            &json!({
                "email": "carol@example.com",
                "password": "password1",
                "password_confirmation": "password1",
                "confirm_success_url": "https://app.example.com/confirmed",
            }),
        )
        .await;
    assert_eq!(signed_up.status(), 200);
    let expected = json!({
        "success": false,
        "errors": ["A confirmation email was sent to your account at 'carol@example.com'. \
                    You must follow the instructions in the email before your account can be activated"],
    });

    for password in ["password1", "wrong-password"] {
        // Act
        let resp = app.sign_in_response("carol@example.com", password).await;

        // Assert
        assert_eq!(resp.status(), 401, "{password}");
        assert_json_content_type(&resp);
        assert_no_auth_headers(&resp);
        assert_eq!(json(resp).await, expected, "{password}");
    }
}

#[tokio::test]
async fn get_sign_in_is_refused_with_405_e1() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let resp = send(app.request(Method::GET, "/auth/sign_in")).await;

    // Assert
    assert_error(
        resp,
        405,
        r#"{"success":false,"errors":["Use POST /sign_in to sign in. GET is not supported."]}"#,
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// DELETE /auth/sign_out
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn sign_out_answers_success_without_auth_headers_and_revokes_only_that_device() {
    // Arrange
    let app = spawn_app().await;
    let leaving = app.signed_in_user("alice@example.com").await;
    let staying = another_device(&app, "alice@example.com").await;

    // Act
    let resp = send(app.authed(Method::DELETE, "/auth/sign_out", &leaving)).await;

    // Assert
    assert_eq!(resp.status(), 200);
    assert_json_content_type(&resp);
    assert_no_auth_headers(&resp);
    assert_eq!(resp.text().await.unwrap(), r#"{"success":true}"#);
    assert_error(validate(&app, &leaving).await, 401, TOKEN_INVALID).await;
    assert_eq!(validate(&app, &staying).await.status(), 200);
    // Signing out twice finds nothing to sign out.
    let again = send(app.authed(Method::DELETE, "/auth/sign_out", &leaving)).await;
    assert_error(again, 404, NOT_LOGGED_IN).await;
}

#[tokio::test]
async fn sign_out_with_bad_credentials_is_refused_with_e1_404() {
    // Arrange
    let app = spawn_app().await;
    let auth = app.signed_in_user("alice@example.com").await;
    let wrong_token = Auth {
        token: "wrong-token-0000000000".into(),
        ..auth.clone()
    };
    let wrong_uid = Auth {
        uid: "bob@example.com".into(),
        ..auth.clone()
    };

    // Act
    let anonymous = send(app.request(Method::DELETE, "/auth/sign_out")).await;
    let with_wrong_token = send(app.authed(Method::DELETE, "/auth/sign_out", &wrong_token)).await;
    let with_wrong_uid = send(app.authed(Method::DELETE, "/auth/sign_out", &wrong_uid)).await;

    // Assert
    assert_error(anonymous, 404, NOT_LOGGED_IN).await;
    assert_error(with_wrong_token, 404, NOT_LOGGED_IN).await;
    assert_error(with_wrong_uid, 404, NOT_LOGGED_IN).await;
    assert_eq!(validate(&app, &auth).await.status(), 200);
}

// ---------------------------------------------------------------------------------------------
// GET /auth/validate_token
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn validate_token_returns_the_lite_user_with_rotated_headers() {
    // Arrange
    let app = spawn_rotating_app().await;
    let auth = app.signed_in_user("alice@example.com").await;

    // Act
    let resp = validate(&app, &auth).await;

    // Assert
    assert_eq!(resp.status(), 200);
    assert_json_content_type(&resp);
    assert_eq!(header(&resp, "token-type"), "Bearer");
    assert!(header(&resp, "authorization").starts_with("Bearer "));
    let next = Auth::from_headers(resp.headers()).expect("rotated credentials");
    assert_eq!(next.client, auth.client);
    assert_eq!(next.uid, "alice@example.com");
    assert_ne!(next.token, auth.token);
    assert_eq!(next.token.len(), 22);
    assert_eq!(next.expiry.len(), 10);
    let id = app.user_id("alice@example.com").await;
    let body = json(resp).await;
    assert_eq!(
        body,
        json!({"success": true, "data": lite_user(id, "alice@example.com")})
    );
    assert_eq!(validate(&app, &next).await.status(), 200);
}

#[tokio::test]
async fn validate_token_with_bad_credentials_is_refused_with_e1_401() {
    // Arrange
    let app = spawn_app().await;
    let auth = app.signed_in_user("alice@example.com").await;
    let cases = [
        Auth {
            token: "wrong-token-0000000000".into(),
            ..auth.clone()
        },
        Auth {
            uid: "nobody@example.com".into(),
            ..auth.clone()
        },
        Auth {
            client: "unknown-client-0000000".into(),
            ..auth.clone()
        },
    ];

    for bad in cases {
        // Act
        let resp = validate(&app, &bad).await;

        // Assert
        assert_error(resp, 401, TOKEN_INVALID).await;
    }
    let anonymous = send(app.request(Method::GET, "/auth/validate_token")).await;
    assert_error(anonymous, 401, TOKEN_INVALID).await;
}

#[tokio::test]
async fn validate_token_with_an_expired_token_is_refused() {
    // Arrange
    let app = spawn_app_with(|s| {
        s.token_lifespan = 1;
        s.batch_request_buffer_throttle = 0;
    })
    .await;
    let auth = app.signed_in_user("alice@example.com").await;
    let expiry: i64 = auth.expiry.parse().unwrap();
    // A token is valid while expiry > now (seconds): wait for the second it expires in.
    let wait_ms = expiry * 1000 - chrono::Utc::now().timestamp_millis() + 20;
    if wait_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(wait_ms as u64)).await;
    }

    // Act
    let resp = validate(&app, &auth).await;

    // Assert
    assert_error(resp, 401, TOKEN_INVALID).await;
}

// ---------------------------------------------------------------------------------------------
// Credential sources (§2.0.3, D10)
// ---------------------------------------------------------------------------------------------

fn credential_query(auth: &Auth) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("access-token", &auth.token)
        .append_pair("client", &auth.client)
        .append_pair("uid", &auth.uid)
        .finish()
}

fn credential_body(auth: &Auth) -> Value {
    json!({"access-token": auth.token, "client": auth.client, "uid": auth.uid})
}

#[tokio::test]
async fn validate_token_accepts_credentials_in_query_params() {
    // Arrange
    let app = spawn_app().await;
    let auth = app.signed_in_user("alice+q@example.com").await;

    // Act
    let path = format!("/auth/validate_token?{}", credential_query(&auth));
    let resp = send(app.request(Method::GET, &path)).await;

    // Assert
    assert_eq!(resp.status(), 200);
    assert_eq!(json(resp).await["data"]["uid"], "alice+q@example.com");
}

#[tokio::test]
async fn credentials_are_taken_value_by_value_with_headers_first() {
    // Arrange
    let app = spawn_app().await;
    let auth = app.signed_in_user("alice@example.com").await;
    let query = format!("/auth/validate_token?{}", credential_query(&auth));

    // Act: token from the header, client and uid from the query.
    let mixed = send(
        app.request(
            Method::GET,
            &format!(
                "/auth/validate_token?client={}&uid=alice%40example.com",
                auth.client
            ),
        )
        .header("access-token", &auth.token),
    )
    .await;
    // A wrong header beats a right query param.
    let header_wins = send(
        app.request(Method::GET, &query)
            .header("access-token", "wrong-token-0000000000"),
    )
    .await;

    // Assert
    assert_eq!(mixed.status(), 200);
    assert_error(header_wins, 401, TOKEN_INVALID).await;
}

#[tokio::test]
async fn sign_out_accepts_credentials_in_a_json_body() {
    // Arrange
    let app = spawn_app().await;
    let auth = app.signed_in_user("alice@example.com").await;

    // Act
    let resp = send(
        app.request(Method::DELETE, "/auth/sign_out")
            .json(&credential_body(&auth)),
    )
    .await;

    // Assert
    assert_eq!(resp.status(), 200);
    assert_no_auth_headers(&resp);
    assert_eq!(resp.text().await.unwrap(), r#"{"success":true}"#);
    assert_error(validate(&app, &auth).await, 401, TOKEN_INVALID).await;
}

#[tokio::test]
async fn parameter_credentials_count_only_on_validate_token_and_sign_out_by_default() {
    // Arrange
    let app = spawn_app().await;
    let auth = app.signed_in_user("alice@example.com").await;
    let query = credential_query(&auth);

    // Act: the same valid credentials, as parameters, on routes redux-token-auth never uses
    let me = send(app.request(Method::GET, &format!("/api/me?{query}"))).await;
    let update = send(
        app.request(Method::PUT, "/auth")
            .json(&json!({"access-token": auth.token, "client": auth.client, "uid": auth.uid, "email": auth.uid})),
    )
    .await;
    let password = send(
        app.request(Method::PUT, &format!("/auth/password?{query}"))
            .json(&json!({"password": "password2", "password_confirmation": "password2"})),
    )
    .await;
    let delete = send(
        app.request(Method::DELETE, "/auth")
            .json(&credential_body(&auth)),
    )
    .await;
    // ... and on the two it does use
    let validate_query =
        send(app.request(Method::GET, &format!("/auth/validate_token?{query}"))).await;
    let sign_out_query =
        send(app.request(Method::DELETE, &format!("/auth/sign_out?{query}"))).await;

    // Assert
    assert_eq!(me.status(), 401);
    assert_eq!(update.status(), 404);
    assert_eq!(password.status(), 401);
    assert_eq!(delete.status(), 404);
    assert_eq!(
        json(delete).await["errors"],
        json!(["Unable to locate account for destruction."])
    );
    assert_eq!(validate_query.status(), 200);
    assert_eq!(sign_out_query.status(), 200);
    assert_error(validate(&app, &auth).await, 401, TOKEN_INVALID).await;
    assert_eq!(
        app.sign_in_response("alice@example.com", "password1")
            .await
            .status(),
        200,
        "the password did not change"
    );
}

#[tokio::test]
async fn accept_token_params_everywhere_reads_parameters_on_every_route() {
    // Arrange
    let app = spawn_app_with(|s| {
        s.accept_token_params = AcceptTokenParams::Scope(TokenParamsScope::Everywhere);
        s.change_headers_on_each_request = false;
    })
    .await;
    let auth = app.signed_in_user("alice@example.com").await;

    // Act
    let me = send(app.request(Method::GET, &format!("/api/me?{}", credential_query(&auth)))).await;
    let update = send(
        app.request(Method::PUT, "/auth")
            .json(&json!({"access-token": auth.token, "client": auth.client, "uid": auth.uid, "email": auth.uid})),
    )
    .await;
    let delete = send(
        app.request(Method::DELETE, "/auth")
            .json(&credential_body(&auth)),
    )
    .await;

    // Assert
    assert_eq!(me.status(), 200);
    assert_eq!(update.status(), 200);
    assert_eq!(delete.status(), 200);
    assert_no_auth_headers(&delete);
    assert_eq!(
        json(delete).await,
        json!({
            "status": "success",
            "message": "Account with UID 'alice@example.com' has been destroyed.",
        })
    );
    assert!(
        app.store
            .find_email_user("alice@example.com")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn authorization_bearer_header_alone_authenticates() {
    // Arrange
    let app = spawn_app().await;
    assert_eq!(
        app.sign_up("alice@example.com", "password1").await.status(),
        200
    );
    let first = app.sign_in_response("alice@example.com", "password1").await;
    let second = app.sign_in_response("alice@example.com", "password1").await;
    let bearer = header(&first, "authorization");
    let bare = header(&second, "authorization")
        .strip_prefix("Bearer ")
        .unwrap()
        .to_string();

    // Act
    let with_bearer = send(
        app.request(Method::GET, "/auth/validate_token")
            .header("authorization", &bearer),
    )
    .await;
    let without_the_word = send(
        app.request(Method::GET, "/auth/validate_token")
            .header("authorization", &bare),
    )
    .await;

    // Assert
    assert_eq!(with_bearer.status(), 200);
    assert_eq!(json(with_bearer).await["data"]["uid"], "alice@example.com");
    assert_eq!(without_the_word.status(), 200);
}

#[tokio::test]
async fn garbage_or_non_object_authorization_payloads_count_as_no_credentials() {
    // Arrange
    let app = spawn_app().await;
    let auth = app.signed_in_user("alice@example.com").await;
    let wrong_types = format!(r#"{{"access-token":1,"client":2,"uid":["{}"]}}"#, auth.uid);
    let values = [
        "Bearer".to_string(),
        "Bearer !!!not-base64!!!".to_string(),
        format!("Bearer {}", b64("[1,2,3]")),
        format!("Bearer {}", b64("null")),
        format!("Bearer {}", b64("42")),
        format!("Bearer {}", b64(r#""a string""#)),
        format!("Bearer {}", b64("{not json")),
        format!("Bearer {}", b64(&wrong_types)),
        format!("Basic {}", b64("alice@example.com:password1")),
    ];

    for value in &values {
        // Act
        let alone = send(
            app.request(Method::GET, "/auth/validate_token")
                .header("authorization", value),
        )
        .await;
        let sign_out = send(
            app.request(Method::DELETE, "/auth/sign_out")
                .header("authorization", value),
        )
        .await;
        let beside_good_headers = send(
            app.authed(Method::GET, "/auth/validate_token", &auth)
                .header("authorization", value),
        )
        .await;

        // Assert
        assert_eq!(alone.status(), 401, "{value}");
        assert_error(alone, 401, TOKEN_INVALID).await;
        assert_eq!(sign_out.status(), 404, "{value}");
        assert_error(sign_out, 404, NOT_LOGGED_IN).await;
        assert_eq!(beside_good_headers.status(), 200, "{value}");
    }
}

#[tokio::test]
async fn missing_client_means_client_default_and_is_refused() {
    // Arrange
    let app = spawn_app().await;
    let auth = app.signed_in_user("alice@example.com").await;

    // Act
    let without_client = send(
        app.request(Method::GET, "/auth/validate_token")
            .header("access-token", &auth.token)
            .header("uid", &auth.uid),
    )
    .await;
    let default_client = send(
        app.request(Method::GET, "/auth/validate_token")
            .header("access-token", &auth.token)
            .header("client", "default")
            .header("uid", &auth.uid),
    )
    .await;

    // Assert
    assert_error(without_client, 401, TOKEN_INVALID).await;
    assert_error(default_client, 401, TOKEN_INVALID).await;
    assert_eq!(validate(&app, &auth).await.status(), 200);
}

#[tokio::test]
async fn accept_token_params_false_ignores_query_and_body_credentials() {
    // Arrange
    let app = spawn_app_with(|s| s.accept_token_params = AcceptTokenParams::Switch(false)).await;
    let auth = app.signed_in_user("alice@example.com").await;

    // Act
    let query = send(app.request(
        Method::GET,
        &format!("/auth/validate_token?{}", credential_query(&auth)),
    ))
    .await;
    let sign_out_body = send(
        app.request(Method::DELETE, "/auth/sign_out")
            .json(&credential_body(&auth)),
    )
    .await;
    let delete_body = send(
        app.request(Method::DELETE, "/auth")
            .json(&credential_body(&auth)),
    )
    .await;
    let headers = validate(&app, &auth).await;

    // Assert
    assert_error(query, 401, TOKEN_INVALID).await;
    assert_error(sign_out_body, 404, NOT_LOGGED_IN).await;
    assert_eq!(delete_body.status(), 404);
    assert_no_auth_headers(&delete_body);
    assert_eq!(
        json(delete_body).await["errors"],
        json!(["Unable to locate account for destruction."])
    );
    assert_eq!(headers.status(), 200);
    assert!(
        app.store
            .find_email_user("alice@example.com")
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn renamed_headers_names_are_read_and_written() {
    // Arrange
    let app = spawn_app_with(|s| s.headers_names.access_token = "x-token".into()).await;
    assert_eq!(
        app.sign_up("alice@example.com", "password1").await.status(),
        200
    );

    // Act
    let resp = app.sign_in_response("alice@example.com", "password1").await;

    // Assert: written under the new name, also inside `Authorization`.
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("access-token").is_none());
    let token = header(&resp, "x-token");
    let client = header(&resp, "client");
    let expiry = header(&resp, "expiry");
    assert_eq!(token.len(), 22);
    let authorization = header(&resp, "authorization");
    let decoded = String::from_utf8(
        STANDARD
            .decode(authorization.strip_prefix("Bearer ").unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        decoded,
        format!(
            r#"{{"x-token":"{token}","token-type":"Bearer","client":"{client}","expiry":"{expiry}","uid":"alice@example.com"}}"#
        )
    );

    // Assert: read under the new name only, from headers and from the query.
    let renamed = send(
        app.request(Method::GET, "/auth/validate_token")
            .header("x-token", &token)
            .header("client", &client)
            .header("uid", "alice@example.com"),
    )
    .await;
    assert_eq!(renamed.status(), 200);
    assert!(renamed.headers().get("access-token").is_none());
    let old_name = send(
        app.request(Method::GET, "/auth/validate_token")
            .header("access-token", &token)
            .header("client", &client)
            .header("uid", "alice@example.com"),
    )
    .await;
    assert_error(old_name, 401, TOKEN_INVALID).await;
    let query = send(app.request(
        Method::GET,
        &format!("/auth/validate_token?x-token={token}&client={client}&uid=alice%40example.com"),
    ))
    .await;
    assert_eq!(query.status(), 200);
    let bearer = send(
        app.request(Method::GET, "/auth/validate_token")
            .header("authorization", &authorization),
    )
    .await;
    assert_eq!(bearer.status(), 200);
}

#[tokio::test]
async fn sign_in_tracks_counts_times_and_addresses() {
    // Arrange
    let app = spawn_app().await;
    app.signed_in_user("track@example.com").await;
    let first = app
        .store
        .find_email_user("track@example.com")
        .await
        .unwrap()
        .unwrap();

    // Act
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        app.sign_in_response("track@example.com", "password1")
            .await
            .status(),
        200
    );

    // Assert: the previous sign-in moved to last_*, the new one is current
    let second = app
        .store
        .find_email_user("track@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.sign_in_count, 1);
    assert_eq!(second.sign_in_count, 2);
    assert_eq!(
        second.last_sign_in_at.map(|t| t.timestamp()),
        first.current_sign_in_at.map(|t| t.timestamp())
    );
    assert!(second.current_sign_in_at > first.current_sign_in_at);
    assert_eq!(second.current_sign_in_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(second.last_sign_in_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(second.failed_attempts, 0);
}
