//! `POST /auth` (sign-up), `PUT`/`PATCH /auth` (account update) and `DELETE /auth`
//! (docs/contract.md §2.1–2.3, §2.0.4–2.0.5, §2.0.8, §7, §9).

use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::helpers::*;

const AUTH_HEADERS: [&str; 6] = [
    "access-token",
    "token-type",
    "client",
    "expiry",
    "uid",
    "authorization",
];

fn assert_no_auth_headers(resp: &Response) {
    for name in AUTH_HEADERS {
        assert!(
            resp.headers().get(name).is_none(),
            "unexpected `{name}` header on a {} response",
            resp.status()
        );
    }
}

/// All six auth headers are there; returns the credentials they carry.
fn assert_auth_headers(resp: &Response) -> Auth {
    for name in AUTH_HEADERS {
        assert!(
            resp.headers().get(name).is_some(),
            "missing `{name}` header on a {} response",
            resp.status()
        );
    }
    assert_eq!(resp.headers()["token-type"], "Bearer");
    Auth::from_headers(resp.headers()).expect("real credentials in the headers")
}

/// The app with a zero batch window, so every authenticated response rotates (docs/contract.md §3.5)
/// and the tests can see the headers of each one.
async fn spawn_rotating_app_with(configure: impl FnOnce(&mut toker::config::Settings)) -> TestApp {
    spawn_app_with(|s| {
        s.batch_request_buffer_throttle = 0;
        configure(s);
    })
    .await
}

async fn send_json(
    app: &TestApp,
    method: Method,
    path: &str,
    auth: &Auth,
    body: Value,
) -> Response {
    app.authed(method, path, auth)
        .json(&body)
        .send()
        .await
        .expect("request")
}

async fn put_auth(app: &TestApp, auth: &Auth, body: Value) -> Response {
    send_json(app, Method::PUT, "/auth", auth, body).await
}

async fn validate_status(app: &TestApp, auth: &Auth) -> u16 {
    app.authed(Method::GET, "/auth/validate_token", auth)
        .send()
        .await
        .expect("request")
        .status()
        .as_u16()
}

fn keys(value: &Value) -> Vec<&str> {
    value
        .as_object()
        .expect("a JSON object")
        .keys()
        .map(String::as_str)
        .collect()
}

fn assert_timestamp(value: &Value) {
    let text = value.as_str().expect("timestamp is a string");
    let format = regex::Regex::new(r"\A\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z\z").unwrap();
    assert!(
        format.is_match(text),
        "timestamp `{text}` is not YYYY-MM-DDTHH:MM:SS.mmmZ"
    );
    let at = chrono::DateTime::parse_from_rfc3339(text).expect("RFC 3339");
    let age = chrono::Utc::now().signed_duration_since(at);
    assert!(
        age.num_seconds().abs() < 60,
        "timestamp `{text}` is not now"
    );
}

/// The unsaved user that sign-up's E3/E4 answers carry.
fn draft_user(email: impl Into<Value>) -> Value {
    let email: Value = email.into();
    json!({
        "id": null,
        "provider": "email",
        "uid": "",
        "allow_password_change": false,
        "name": null,
        "nickname": null,
        "image": null,
        "email": email,
        "created_at": null,
        "updated_at": null,
    })
}

fn e2(message: &str) -> Value {
    json!({"success": false, "errors": [message], "status": "error"})
}

/// Asserts an E2 answer with its key order `success`, `errors`, `status`.
async fn assert_e2(resp: Response, status: u16, message: &str) {
    assert_eq!(resp.status(), status);
    assert_json_content_type(&resp);
    assert_no_auth_headers(&resp);
    let body = json(resp).await;
    assert_eq!(body, e2(message));
    assert_eq!(keys(&body), ["success", "errors", "status"]);
}

async fn sign_up_with(app: &TestApp, body: Value) -> Response {
    app.post_json("/auth", &body).await
}

// ---------------------------------------------------------------------------------------------
// POST /auth
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn sign_up_with_json_body_returns_the_full_user_and_auth_headers() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let resp = app.sign_up("  Alice@Example.COM ", "password1").await;

    // Assert
    assert_eq!(resp.status(), 200);
    assert_json_content_type(&resp);
    let auth = assert_auth_headers(&resp);
    assert_eq!(auth.uid, "alice@example.com");
    assert_eq!(auth.token.len(), 22);
    let body = json(resp).await;
    assert_eq!(keys(&body), ["status", "data"]);
    assert_eq!(body["status"], "success");
    let data = &body["data"];
    let mut data_keys = keys(data);
    data_keys.sort_unstable();
    assert_eq!(
        data_keys,
        [
            "allow_password_change",
            "created_at",
            "email",
            "id",
            "image",
            "name",
            "nickname",
            "provider",
            "uid",
            "updated_at"
        ]
    );
    let id = app.user_id("alice@example.com").await;
    assert_eq!(data["id"], id);
    assert_eq!(data["provider"], "email");
    assert_eq!(data["uid"], "alice@example.com");
    assert_eq!(data["email"], "alice@example.com");
    assert_eq!(data["allow_password_change"], false);
    assert_eq!(data["name"], Value::Null);
    assert_eq!(data["nickname"], Value::Null);
    assert_eq!(data["image"], Value::Null);
    assert_timestamp(&data["created_at"]);
    assert_timestamp(&data["updated_at"]);
    // The headers are a working device of the new account.
    assert_eq!(validate_status(&app, &auth).await, 200);
}

#[tokio::test]
async fn sign_up_with_form_body_creates_the_account() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let resp = app
        .request(Method::POST, "/auth")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("email=Bob%40Example.com&password=secret+123&password_confirmation=secret+123")
        .send()
        .await
        .expect("request");

    // Assert
    assert_eq!(resp.status(), 200);
    assert_json_content_type(&resp);
    let auth = assert_auth_headers(&resp);
    assert_eq!(auth.uid, "bob@example.com");
    let body = json(resp).await;
    assert_eq!(body["status"], "success");
    assert_eq!(body["data"]["email"], "bob@example.com");
    assert_eq!(
        app.sign_in_response("bob@example.com", "secret 123")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn sign_up_without_any_permitted_param_is_rejected_with_e2() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let unpermitted_only = sign_up_with(&app, json!({"name": "Ann", "nickname": "ann"})).await;
    let empty_body = app
        .request(Method::POST, "/auth")
        .send()
        .await
        .expect("request");

    // Assert
    assert_e2(
        unpermitted_only,
        422,
        "Please submit proper sign up data in request body.",
    )
    .await;
    assert_e2(
        empty_body,
        422,
        "Please submit proper sign up data in request body.",
    )
    .await;
}

#[tokio::test]
async fn sign_up_with_a_taken_email_in_another_case_is_rejected_with_e4_and_the_unsaved_user() {
    // Arrange
    let app = spawn_app().await;
    assert_eq!(
        app.sign_up("alice@example.com", "password1").await.status(),
        200
    );

    // Act
    let resp = app.sign_up(" ALICE@example.com", "password2").await;

    // Assert
    assert_eq!(resp.status(), 422);
    assert_json_content_type(&resp);
    assert_no_auth_headers(&resp);
    let body = json(resp).await;
    assert_eq!(
        body,
        json!({
            "status": "error",
            "data": draft_user("alice@example.com"),
            "errors": {
                "email": ["has already been taken"],
                "full_messages": ["Email has already been taken"],
            },
        })
    );
    assert_eq!(keys(&body), ["status", "data", "errors"]);
    // The first account keeps its password.
    assert_eq!(
        app.sign_in_response("alice@example.com", "password1")
            .await
            .status(),
        200
    );
    assert_eq!(
        app.sign_in_response("alice@example.com", "password2")
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn sign_up_with_an_invalid_or_blank_email_is_rejected_with_e4() {
    // Arrange
    let app = spawn_app().await;
    let cases = [
        ("not-an-email", "is not an email", "Email is not an email"),
        (
            "alice@localhost",
            "is not an email",
            "Email is not an email",
        ),
        ("", "can't be blank", "Email can't be blank"),
        ("   ", "can't be blank", "Email can't be blank"),
    ];

    for (email, message, full) in cases {
        // Act
        let resp = app.sign_up(email, "password1").await;

        // Assert
        assert_eq!(resp.status(), 422, "{email:?}");
        assert_json_content_type(&resp);
        assert_no_auth_headers(&resp);
        let body = json(resp).await;
        assert_eq!(body["status"], "error", "{email:?}");
        assert_eq!(
            body["errors"],
            json!({"email": [message], "full_messages": [full]}),
            "{email:?}"
        );
        assert_eq!(body["data"]["id"], Value::Null, "{email:?}");
        assert_eq!(body["data"]["uid"], "", "{email:?}");
    }
}

#[tokio::test]
async fn sign_up_without_an_email_is_rejected_with_e4() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let resp = sign_up_with(
        &app,
        json!({"password": "password1", "password_confirmation": "password1"}),
    )
    .await;

    // Assert
    assert_eq!(resp.status(), 422);
    assert_no_auth_headers(&resp);
    let body = json(resp).await;
    assert_eq!(
        body,
        json!({
            "status": "error",
            "data": draft_user(Value::Null),
            "errors": {
                "email": ["can't be blank"],
                "full_messages": ["Email can't be blank"],
            },
        })
    );
}

#[tokio::test]
async fn sign_up_with_bad_passwords_is_rejected_with_rails_messages() {
    // Arrange
    let app = spawn_app().await;
    let long = "x".repeat(129);
    let cases = [
        (
            json!({"email": "a@example.com", "password": "", "password_confirmation": ""}),
            json!({
                "password": ["can't be blank"],
                "full_messages": ["Password can't be blank"],
            }),
        ),
        (
            json!({"email": "a@example.com"}),
            json!({
                "password": ["can't be blank"],
                "full_messages": ["Password can't be blank"],
            }),
        ),
        (
            json!({"email": "a@example.com", "password": "abc", "password_confirmation": "abd"}),
            json!({
                "password_confirmation": ["doesn't match Password"],
                "password": ["is too short (minimum is 6 characters)"],
                "full_messages": [
                    "Password confirmation doesn't match Password",
                    "Password is too short (minimum is 6 characters)",
                ],
            }),
        ),
        (
            json!({"email": "a@example.com", "password": long, "password_confirmation": long}),
            json!({
                "password": ["is too long (maximum is 128 characters)"],
                "full_messages": ["Password is too long (maximum is 128 characters)"],
            }),
        ),
        (
            json!({
                "email": "a@example.com",
                "password": "password1",
                "password_confirmation": "password2",
            }),
            json!({
                "password_confirmation": ["doesn't match Password"],
                "full_messages": ["Password confirmation doesn't match Password"],
            }),
        ),
    ];

    for (request, errors) in cases {
        // Act
        let resp = sign_up_with(&app, request.clone()).await;

        // Assert
        assert_eq!(resp.status(), 422, "{request}");
        assert_json_content_type(&resp);
        assert_no_auth_headers(&resp);
        let body = json(resp).await;
        assert_eq!(keys(&body), ["status", "data", "errors"], "{request}");
        assert_eq!(body["status"], "error", "{request}");
        assert_eq!(body["data"], draft_user("a@example.com"), "{request}");
        assert_eq!(body["errors"], errors, "{request}");
        assert_eq!(
            keys(&body["errors"]),
            keys(&errors),
            "attribute order: {request}"
        );
    }
    assert!(
        app.store
            .find_email_user("a@example.com")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn confirmable_sign_up_without_confirm_success_url_is_rejected_with_e3() {
    // Arrange
    let app = spawn_app_with(|s| s.confirmable = true).await;

    // Act
    let resp = app.sign_up("carol@example.com", "password1").await;

    // Assert
    assert_eq!(resp.status(), 422);
    assert_json_content_type(&resp);
    assert_no_auth_headers(&resp);
    let body = json(resp).await;
    assert_eq!(
        body,
        json!({
            "success": false,
            "errors": ["Missing 'confirm_success_url' parameter."],
            "status": "error",
            "data": draft_user("carol@example.com"),
        })
    );
    assert_eq!(keys(&body), ["success", "errors", "status", "data"]);
    assert!(
        app.store
            .find_email_user("carol@example.com")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn confirmable_sign_up_with_a_non_string_confirm_success_url_counts_as_missing() {
    // Arrange
    let app = spawn_app_with(|s| s.confirmable = true).await;

    for url in [
        json!(42),
        json!(true),
        json!(["https://app.example.com/ok"]),
        json!({"a": 1}),
    ] {
        // Act
        let resp = sign_up_with(
            &app,
            json!({
                "email": "carol@example.com",
                "password": "password1",
                "password_confirmation": "password1",
                "confirm_success_url": url,
            }),
        )
        .await;

        // Assert
        assert_eq!(resp.status(), 422, "{url}");
        assert_json_content_type(&resp);
        assert_no_auth_headers(&resp);
        let body = json(resp).await;
        assert_eq!(
            body["errors"],
            json!(["Missing 'confirm_success_url' parameter."]),
            "{url}"
        );
        assert_eq!(body["status"], "error", "{url}");
    }
    assert!(
        app.store
            .find_email_user("carol@example.com")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn confirmable_sign_up_answers_without_auth_headers_and_sign_in_is_refused() {
    // Arrange
    let app = spawn_app_with(|s| s.confirmable = true).await;

    // Act
    let resp = sign_up_with(
        &app,
        json!({
            "email": "Carol@Example.com",
            "password": "password1",
            "password_confirmation": "password1",
            "confirm_success_url": "https://app.example.com/confirmed",
        }),
    )
    .await;
    let sign_in = app.sign_in_response("carol@example.com", "password1").await;

    // Assert
    assert_eq!(resp.status(), 200);
    assert_json_content_type(&resp);
    assert_no_auth_headers(&resp);
    let body = json(resp).await;
    assert_eq!(body["status"], "success");
    assert_eq!(body["data"]["uid"], "carol@example.com");
    assert_eq!(body["data"]["id"], app.user_id("carol@example.com").await);
    assert_timestamp(&body["data"]["created_at"]);

    assert_eq!(sign_in.status(), 401);
    assert_json_content_type(&sign_in);
    assert_no_auth_headers(&sign_in);
    assert_eq!(
        json(sign_in).await,
        json!({
            "success": false,
            "errors": ["A confirmation email was sent to your account at 'carol@example.com'. \
                        You must follow the instructions in the email before your account can be activated"],
        })
    );
}

#[tokio::test]
async fn confirmable_sign_up_uses_default_confirm_success_url_when_none_is_given() {
    // Arrange
    let app = spawn_app_with(|s| {
        s.confirmable = true;
        s.default_confirm_success_url = Some("https://app.example.com/confirmed".into());
    })
    .await;

    // Act
    let resp = app.sign_up("carol@example.com", "password1").await;

    // Assert
    assert_eq!(resp.status(), 200);
    assert_no_auth_headers(&resp);
    assert_eq!(json(resp).await["status"], "success");
}

#[tokio::test]
async fn confirmable_sign_up_with_unlimited_unconfirmed_access_signs_in_at_once() {
    // Arrange
    let app = spawn_app_with(|s| {
        s.confirmable = true;
        s.allow_unconfirmed_access_for = None;
    })
    .await;

    // Act
    let resp = sign_up_with(
        &app,
        json!({
            "email": "carol@example.com",
            "password": "password1",
            "password_confirmation": "password1",
            "confirm_success_url": "https://app.example.com/confirmed",
        }),
    )
    .await;
    let sign_in = app.sign_in_response("carol@example.com", "password1").await;

    // Assert
    assert_eq!(resp.status(), 200);
    let auth = assert_auth_headers(&resp);
    assert_eq!(auth.uid, "carol@example.com");
    assert_eq!(validate_status(&app, &auth).await, 200);
    assert_eq!(sign_in.status(), 200);
    assert_auth_headers(&sign_in);
}

#[tokio::test]
async fn sign_up_with_a_confirm_success_url_outside_the_whitelist_is_rejected_with_e3() {
    // Arrange
    let app = spawn_app_with(|s| {
        s.redirect_whitelist = Some(vec!["https://app.example.com/*".into()]);
    })
    .await;
    let request = |url: &str| {
        json!({
            "email": "dave@example.com",
            "password": "password1",
            "password_confirmation": "password1",
            "confirm_success_url": url,
        })
    };

    // Act
    let refused = sign_up_with(&app, request("https://evil.test/app.example.com")).await;

    // Assert
    assert_eq!(refused.status(), 422);
    assert_json_content_type(&refused);
    assert_no_auth_headers(&refused);
    let body = json(refused).await;
    assert_eq!(
        body,
        json!({
            "success": false,
            "errors": ["Redirect to 'https://evil.test/app.example.com' not allowed."],
            "status": "error",
            "data": draft_user("dave@example.com"),
        })
    );
    assert!(
        app.store
            .find_email_user("dave@example.com")
            .await
            .unwrap()
            .is_none()
    );

    // Act: a whitelisted URL goes through.
    let allowed = sign_up_with(&app, request("https://app.example.com/welcome")).await;

    // Assert
    assert_eq!(allowed.status(), 200);
    assert_eq!(json(allowed).await["data"]["uid"], "dave@example.com");
}

#[tokio::test]
async fn sign_up_attributes_are_stored_and_returned_and_unpermitted_ones_dropped() {
    // Arrange
    let app = spawn_app_with(|s| {
        s.sign_up_attributes = vec!["name".into(), "favorite_color".into()];
    })
    .await;

    // Act
    let resp = sign_up_with(
        &app,
        json!({
            "email": "erin@example.com",
            "password": "password1",
            "password_confirmation": "password1",
            "name": "Erin",
            "favorite_color": "teal",
            "nickname": "e",
        }),
    )
    .await;

    // Assert
    assert_eq!(resp.status(), 200);
    let data = json(resp).await["data"].clone();
    assert_eq!(data["name"], "Erin");
    assert_eq!(data["favorite_color"], "teal");
    assert_eq!(data["nickname"], Value::Null);
    // Stored: a later sign-in returns them too.
    let sign_in = app.sign_in_response("erin@example.com", "password1").await;
    assert_eq!(sign_in.status(), 200);
    let stored = json(sign_in).await["data"].clone();
    assert_eq!(stored["name"], "Erin");
    assert_eq!(stored["favorite_color"], "teal");
    assert_eq!(stored["nickname"], Value::Null);
}

#[tokio::test]
async fn sign_up_attributes_given_as_arrays_or_objects_are_dropped() {
    // Arrange
    let app = spawn_app_with(|s| {
        s.sign_up_attributes = vec!["name".into(), "favorite_color".into()];
    })
    .await;

    // Act
    let resp = sign_up_with(
        &app,
        json!({
            "email": "erin@example.com",
            "password": "password1",
            "password_confirmation": "password1",
            "name": ["Erin"],
            "favorite_color": {"hue": "teal"},
        }),
    )
    .await;

    // Assert
    assert_eq!(resp.status(), 200);
    let data = json(resp).await["data"].clone();
    assert_eq!(data["name"], Value::Null);
    assert_eq!(data["favorite_color"], Value::Null);
}

#[tokio::test]
async fn sign_up_with_only_non_scalar_attributes_counts_as_no_params() {
    // Arrange
    let app = spawn_app_with(|s| s.sign_up_attributes = vec!["name".into()]).await;

    // Act
    let resp = sign_up_with(&app, json!({"name": ["Erin"], "email": {"x": 1}})).await;

    // Assert
    assert_e2(
        resp,
        422,
        "Please submit proper sign up data in request body.",
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// PUT / PATCH /auth
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn account_update_returns_the_full_user_and_rotates_the_headers() {
    // Arrange
    let app = spawn_rotating_app_with(|s| s.account_update_attributes = vec!["name".into()]).await;
    let auth = app.signed_in_user("alice@example.com").await;

    // Act
    let resp = put_auth(&app, &auth, json!({"name": "Alice"})).await;

    // Assert
    assert_eq!(resp.status(), 200);
    assert_json_content_type(&resp);
    let next = assert_auth_headers(&resp);
    assert_eq!(next.client, auth.client);
    assert_eq!(next.uid, "alice@example.com");
    assert_ne!(next.token, auth.token);
    let body = json(resp).await;
    assert_eq!(keys(&body), ["status", "data"]);
    assert_eq!(body["status"], "success");
    assert_eq!(body["data"]["name"], "Alice");
    assert_eq!(body["data"]["uid"], "alice@example.com");
    assert_eq!(body["data"]["id"], app.user_id("alice@example.com").await);
    assert_timestamp(&body["data"]["created_at"]);
    assert_timestamp(&body["data"]["updated_at"]);
    assert_eq!(validate_status(&app, &next).await, 200);
}

#[tokio::test]
async fn account_update_with_a_validation_error_still_rotates_the_headers() {
    // Arrange
    let app = spawn_rotating_app_with(|_| {}).await;
    let auth = app.signed_in_user("alice@example.com").await;

    // Act
    let resp = put_auth(&app, &auth, json!({"email": "not-an-email"})).await;

    // Assert
    assert_eq!(resp.status(), 422);
    assert_json_content_type(&resp);
    let next = assert_auth_headers(&resp);
    assert_eq!(next.client, auth.client);
    assert_eq!(next.uid, "alice@example.com");
    assert_ne!(next.token, auth.token);
    assert_eq!(
        json(resp).await,
        json!({
            "status": "error",
            "errors": {
                "email": ["is not an email"],
                "full_messages": ["Email is not an email"],
            },
        })
    );
    assert_eq!(validate_status(&app, &next).await, 200);
    assert!(
        app.store
            .find_email_user("alice@example.com")
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn account_update_without_permitted_params_is_rejected_with_e2_even_when_unauthenticated() {
    // Arrange
    let app = spawn_rotating_app_with(|_| {}).await;
    let auth = app.signed_in_user("alice@example.com").await;

    // Act
    let anonymous = app
        .request(Method::PUT, "/auth")
        .json(&json!({"name": "Alice"}))
        .send()
        .await
        .expect("request");
    let signed_in = put_auth(&app, &auth, json!({"nickname": "al"})).await;
    let empty = app
        .authed(Method::PUT, "/auth", &auth)
        .send()
        .await
        .expect("request");

    // Assert: a before-filter answered, so no headers rotate.
    let message = "Please submit proper account update data in request body.";
    assert_e2(anonymous, 422, message).await;
    assert_e2(signed_in, 422, message).await;
    assert_e2(empty, 422, message).await;
}

#[tokio::test]
async fn account_update_without_valid_credentials_is_rejected_with_e2_404() {
    // Arrange
    let app = spawn_rotating_app_with(|_| {}).await;
    let mut auth = app.signed_in_user("alice@example.com").await;
    auth.token = "wrong-token-0000000000".into();

    // Act
    let anonymous = app
        .request(Method::PUT, "/auth")
        .json(&json!({"email": "new@example.com"}))
        .send()
        .await
        .expect("request");
    let wrong_token = put_auth(&app, &auth, json!({"email": "new@example.com"})).await;

    // Assert
    assert_e2(anonymous, 404, "User not found.").await;
    assert_e2(wrong_token, 404, "User not found.").await;
    assert!(
        app.store
            .find_email_user("alice@example.com")
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn account_update_changing_the_email_moves_the_uid() {
    // Arrange
    let app = spawn_rotating_app_with(|_| {}).await;
    let auth = app.signed_in_user("alice@example.com").await;

    // Act
    let resp = put_auth(&app, &auth, json!({"email": " Alice.New@Example.com "})).await;

    // Assert
    assert_eq!(resp.status(), 200);
    let next = assert_auth_headers(&resp);
    assert_eq!(next.uid, "alice.new@example.com");
    assert_eq!(next.client, auth.client);
    let body = json(resp).await;
    assert_eq!(body["data"]["email"], "alice.new@example.com");
    assert_eq!(body["data"]["uid"], "alice.new@example.com");
    // The new headers work; the same token under the old uid does not.
    let old_uid = Auth {
        uid: "alice@example.com".into(),
        ..next.clone()
    };
    assert_eq!(validate_status(&app, &old_uid).await, 401);
    assert_eq!(validate_status(&app, &next).await, 200);
    assert_eq!(
        app.sign_in_response("alice.new@example.com", "password1")
            .await
            .status(),
        200
    );
    assert_eq!(
        app.sign_in_response("alice@example.com", "password1")
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn account_update_to_a_taken_email_is_rejected_with_e4_and_rotates_the_headers() {
    // Arrange
    let app = spawn_rotating_app_with(|_| {}).await;
    assert_eq!(
        app.sign_up("alice@example.com", "password1").await.status(),
        200
    );
    let bob = app.signed_in_user("bob@example.com").await;

    // Act
    let resp = put_auth(&app, &bob, json!({"email": "ALICE@example.com"})).await;

    // Assert
    assert_eq!(resp.status(), 422);
    assert_json_content_type(&resp);
    let next = assert_auth_headers(&resp);
    assert_eq!(next.uid, "bob@example.com");
    assert_eq!(
        json(resp).await,
        json!({
            "status": "error",
            "errors": {
                "email": ["has already been taken"],
                "full_messages": ["Email has already been taken"],
            },
        })
    );
    assert_eq!(validate_status(&app, &next).await, 200);
    assert!(
        app.store
            .find_email_user("bob@example.com")
            .await
            .unwrap()
            .is_some()
    );
}

fn current_password_error(message: &str) -> Value {
    json!({
        "status": "error",
        "errors": {
            "current_password": [message],
            "full_messages": [format!("Current password {message}")],
        },
    })
}

/// Sends `body` to `PUT /auth` and keeps `auth` current; returns status and body.
async fn update_as(app: &TestApp, auth: &mut Auth, body: Value) -> (u16, Value) {
    let resp = put_auth(app, auth, body).await;
    auth.update_from(resp.headers());
    (resp.status().as_u16(), json(resp).await)
}

#[tokio::test]
async fn current_password_is_checked_only_when_sent_by_default() {
    // Arrange
    let app = spawn_rotating_app_with(|_| {}).await;
    let mut auth = app.signed_in_user("alice@example.com").await;

    // Act
    let blank = update_as(
        &app,
        &mut auth,
        json!({"email": "a2@example.com", "current_password": ""}),
    )
    .await;
    let wrong = update_as(
        &app,
        &mut auth,
        json!({"email": "a2@example.com", "current_password": "nope-nope"}),
    )
    .await;
    let absent = update_as(&app, &mut auth, json!({"email": "a2@example.com"})).await;

    // Assert
    assert_eq!(blank, (422, current_password_error("can't be blank")));
    assert_eq!(wrong, (422, current_password_error("is invalid")));
    assert_eq!(absent.0, 200, "{}", absent.1);
    assert_eq!(absent.1["data"]["uid"], "a2@example.com");
}

#[tokio::test]
async fn current_password_check_password_requires_it_only_for_password_changes() {
    // Arrange
    let app = spawn_rotating_app_with(|s| {
        s.check_current_password_before_update =
            serde_json::from_value(json!("password")).expect("setting");
    })
    .await;
    let mut auth = app.signed_in_user("alice@example.com").await;
    let change = |current: Option<&str>| {
        let mut body = json!({"password": "newpassword1", "password_confirmation": "newpassword1"});
        if let Some(current) = current {
            body["current_password"] = json!(current);
        }
        body
    };

    // Act
    let email_only = update_as(&app, &mut auth, json!({"email": "a2@example.com"})).await;
    let missing = update_as(&app, &mut auth, change(None)).await;
    let blank = update_as(&app, &mut auth, change(Some(""))).await;
    let wrong = update_as(&app, &mut auth, change(Some("nope-nope"))).await;
    let right = update_as(&app, &mut auth, change(Some("password1"))).await;

    // Assert
    assert_eq!(email_only.0, 200, "{}", email_only.1);
    assert_eq!(missing, (422, current_password_error("can't be blank")));
    assert_eq!(blank, (422, current_password_error("can't be blank")));
    assert_eq!(wrong, (422, current_password_error("is invalid")));
    assert_eq!(right.0, 200, "{}", right.1);
    assert_eq!(
        app.sign_in_response("a2@example.com", "newpassword1")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn current_password_check_attributes_requires_it_for_every_update() {
    // Arrange
    let app = spawn_rotating_app_with(|s| {
        s.check_current_password_before_update =
            serde_json::from_value(json!("attributes")).expect("setting");
    })
    .await;
    let mut auth = app.signed_in_user("alice@example.com").await;

    // Act
    let missing = update_as(&app, &mut auth, json!({"email": "a2@example.com"})).await;
    let blank = update_as(
        &app,
        &mut auth,
        json!({"email": "a2@example.com", "current_password": ""}),
    )
    .await;
    let wrong = update_as(
        &app,
        &mut auth,
        json!({"email": "a2@example.com", "current_password": "nope-nope"}),
    )
    .await;
    // "With password" mode ignores a blank new password.
    let right = update_as(
        &app,
        &mut auth,
        json!({
            "email": "a2@example.com",
            "password": "",
            "password_confirmation": "",
            "current_password": "password1",
        }),
    )
    .await;

    // Assert
    assert_eq!(missing, (422, current_password_error("can't be blank")));
    assert_eq!(blank, (422, current_password_error("can't be blank")));
    assert_eq!(wrong, (422, current_password_error("is invalid")));
    assert_eq!(right.0, 200, "{}", right.1);
    assert_eq!(right.1["data"]["uid"], "a2@example.com");
    assert_eq!(
        app.sign_in_response("a2@example.com", "password1")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn password_change_lets_the_new_password_sign_in_and_refuses_the_old() {
    // Arrange
    let app = spawn_app().await;
    let auth = app.signed_in_user("alice@example.com").await;

    // Act
    let resp = put_auth(
        &app,
        &auth,
        json!({"password": "newpassword1", "password_confirmation": "newpassword1"}),
    )
    .await;

    // Assert
    assert_eq!(resp.status(), 200);
    assert_eq!(json(resp).await["status"], "success");
    assert_eq!(
        app.sign_in_response("alice@example.com", "newpassword1")
            .await
            .status(),
        200
    );
    let old = app.sign_in_response("alice@example.com", "password1").await;
    assert_eq!(old.status(), 401);
    assert_eq!(
        json(old).await["errors"],
        json!(["Invalid login credentials. Please try again."])
    );
}

#[tokio::test]
async fn password_change_with_a_mismatched_confirmation_is_rejected_with_e4() {
    // Arrange
    let app = spawn_rotating_app_with(|_| {}).await;
    let auth = app.signed_in_user("alice@example.com").await;

    // Act
    let resp = put_auth(
        &app,
        &auth,
        json!({"password": "newpassword1", "password_confirmation": "newpassword2"}),
    )
    .await;

    // Assert
    assert_eq!(resp.status(), 422);
    assert_auth_headers(&resp);
    assert_eq!(
        json(resp).await,
        json!({
            "status": "error",
            "errors": {
                "password_confirmation": ["doesn't match Password"],
                "full_messages": ["Password confirmation doesn't match Password"],
            },
        })
    );
    assert_eq!(
        app.sign_in_response("alice@example.com", "password1")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn password_change_keeps_other_devices_signed_in_by_default() {
    // Arrange
    let app = spawn_rotating_app_with(|_| {}).await;
    let mut caller = app.signed_in_user("alice@example.com").await;
    let other = Auth::from_headers(
        app.sign_in_response("alice@example.com", "password1")
            .await
            .headers(),
    )
    .expect("second device");

    // Act
    let resp = put_auth(
        &app,
        &caller,
        json!({"password": "newpassword1", "password_confirmation": "newpassword1"}),
    )
    .await;
    caller.update_from(resp.headers());

    // Assert
    assert_eq!(resp.status(), 200);
    assert_eq!(validate_status(&app, &caller).await, 200);
    assert_eq!(validate_status(&app, &other).await, 200);
}

#[tokio::test]
async fn remove_tokens_after_password_reset_keeps_only_the_callers_device() {
    // Arrange: the caller is the older device, so keeping "the newest" would be wrong.
    let app = spawn_rotating_app_with(|s| s.remove_tokens_after_password_reset = true).await;
    let mut caller = app.signed_in_user("alice@example.com").await;
    let other = Auth::from_headers(
        app.sign_in_response("alice@example.com", "password1")
            .await
            .headers(),
    )
    .expect("second device");

    // Act
    let resp = put_auth(
        &app,
        &caller,
        json!({"password": "newpassword1", "password_confirmation": "newpassword1"}),
    )
    .await;

    // Assert
    assert_eq!(resp.status(), 200);
    let next = assert_auth_headers(&resp);
    assert_eq!(next.client, caller.client);
    caller = next;
    assert_eq!(validate_status(&app, &caller).await, 200);
    assert_eq!(validate_status(&app, &other).await, 401);
}

#[tokio::test]
async fn remove_tokens_after_password_reset_leaves_devices_alone_when_the_password_is_unchanged() {
    // Arrange
    let app = spawn_rotating_app_with(|s| s.remove_tokens_after_password_reset = true).await;
    let caller = app.signed_in_user("alice@example.com").await;
    let other = Auth::from_headers(
        app.sign_in_response("alice@example.com", "password1")
            .await
            .headers(),
    )
    .expect("second device");

    // Act
    let resp = put_auth(&app, &caller, json!({"email": "a2@example.com"})).await;

    // Assert
    assert_eq!(resp.status(), 200);
    let other = Auth {
        uid: "a2@example.com".into(),
        ..other
    };
    assert_eq!(validate_status(&app, &other).await, 200);
}

#[tokio::test]
async fn patch_updates_the_account_like_put() {
    // Arrange
    let app = spawn_rotating_app_with(|_| {}).await;
    let auth = app.signed_in_user("alice@example.com").await;

    // Act
    let resp = send_json(
        &app,
        Method::PATCH,
        "/auth",
        &auth,
        json!({"email": "alice.new@example.com"}),
    )
    .await;
    let invalid = send_json(
        &app,
        Method::PATCH,
        "/auth",
        &Auth::from_headers(resp.headers()).expect("rotated"),
        json!({"email": "nope"}),
    )
    .await;
    let anonymous = app
        .request(Method::PATCH, "/auth")
        .json(&json!({"email": "x@example.com"}))
        .send()
        .await
        .expect("request");

    // Assert
    assert_eq!(resp.status(), 200);
    let next = assert_auth_headers(&resp);
    assert_eq!(next.uid, "alice.new@example.com");
    let body = json(resp).await;
    assert_eq!(body["status"], "success");
    assert_eq!(body["data"]["uid"], "alice.new@example.com");
    assert_eq!(invalid.status(), 422);
    assert_auth_headers(&invalid);
    assert_eq!(
        json(invalid).await["errors"]["full_messages"],
        json!(["Email is not an email"])
    );
    assert_e2(anonymous, 404, "User not found.").await;
}

// ---------------------------------------------------------------------------------------------
// DELETE /auth
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn account_deletion_answers_200_without_auth_headers_and_the_token_stops_working() {
    // Arrange
    let app = spawn_app().await;
    let auth = app.signed_in_user("alice@example.com").await;

    // Act
    let resp = app
        .authed(Method::DELETE, "/auth", &auth)
        .send()
        .await
        .expect("request");

    // Assert
    assert_eq!(resp.status(), 200);
    assert_json_content_type(&resp);
    assert_no_auth_headers(&resp);
    let body = json(resp).await;
    assert_eq!(
        body,
        json!({
            "status": "success",
            "message": "Account with UID 'alice@example.com' has been destroyed.",
        })
    );
    assert_eq!(keys(&body), ["status", "message"]);
    assert_eq!(validate_status(&app, &auth).await, 401);
    assert!(
        app.store
            .find_email_user("alice@example.com")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        app.sign_in_response("alice@example.com", "password1")
            .await
            .status(),
        401
    );
    // The address is free again.
    assert_eq!(
        app.sign_up("alice@example.com", "password2").await.status(),
        200
    );
}

#[tokio::test]
async fn account_deletion_without_valid_credentials_is_rejected_with_e2_404() {
    // Arrange
    let app = spawn_app().await;
    let mut auth = app.signed_in_user("alice@example.com").await;
    auth.token = "wrong-token-0000000000".into();

    // Act
    let anonymous = app
        .request(Method::DELETE, "/auth")
        .send()
        .await
        .expect("request");
    let wrong_token = app
        .authed(Method::DELETE, "/auth", &auth)
        .send()
        .await
        .expect("request");

    // Assert
    assert_e2(anonymous, 404, "Unable to locate account for destruction.").await;
    assert_e2(
        wrong_token,
        404,
        "Unable to locate account for destruction.",
    )
    .await;
    assert!(
        app.store
            .find_email_user("alice@example.com")
            .await
            .unwrap()
            .is_some()
    );
}
