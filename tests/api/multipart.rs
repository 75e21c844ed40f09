//! `multipart/form-data` bodies (a `FormData` posted with `fetch`), read like form bodies
//! (docs/contract.md §2.0.2): text parts are parameters, file parts count as no value, the
//! query string merges under them.

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

const BOUNDARY: &str = "----WebKitFormBoundary7MA4YWxkTrZu0gW";

enum Part<'a> {
    Text(&'a str, &'a str),
    File(&'a str, &'a str, &'a [u8]),
}

/// A multipart body as a browser writes it, and its content type.
fn form_data(parts: &[Part]) -> (String, Vec<u8>) {
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match part {
            Part::Text(name, value) => {
                body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}")
                        .as_bytes(),
                );
            }
            Part::File(name, file_name, data) => {
                body.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\n\
                         Content-Type: application/octet-stream\r\n\r\n"
                    )
                    .as_bytes(),
                );
                body.extend_from_slice(data);
            }
        }
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={BOUNDARY}"), body)
}

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    auth: Option<&Auth>,
    parts: &[Part<'_>],
) -> reqwest::Response {
    let (content_type, body) = form_data(parts);
    let mut rb = app
        .request(method, path)
        .header("content-type", content_type)
        .body(body);
    if let Some(auth) = auth {
        rb = auth.apply(rb);
    }
    rb.send().await.expect("request")
}

#[tokio::test]
async fn sign_up_sign_in_update_and_reset_accept_form_data() {
    // Arrange
    let app = spawn_app_with(|s| s.account_update_attributes = vec!["nickname".into()]).await;

    // Act + Assert: sign-up
    let resp = send(
        &app,
        Method::POST,
        "/auth",
        None,
        &[
            Part::Text("email", "Form@Example.com"),
            Part::Text("password", "password1"),
            Part::Text("password_confirmation", "password1"),
        ],
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(json(resp).await["data"]["email"], "form@example.com");

    // sign-in
    let resp = send(
        &app,
        Method::POST,
        "/auth/sign_in",
        None,
        &[
            Part::Text("email", "form@example.com"),
            Part::Text("password", "password1"),
        ],
    )
    .await;
    assert_eq!(resp.status(), 200);
    let mut auth = Auth::from_headers(resp.headers()).expect("credentials");

    // account update, with an extra attribute
    let resp = send(
        &app,
        Method::PUT,
        "/auth",
        Some(&auth),
        &[Part::Text("nickname", "formie")],
    )
    .await;
    assert_eq!(resp.status(), 200);
    auth.update_from(resp.headers());
    assert_eq!(json(resp).await["data"]["nickname"], "formie");

    // password change
    let resp = send(
        &app,
        Method::PUT,
        "/auth/password",
        Some(&auth),
        &[
            Part::Text("password", "password2"),
            Part::Text("password_confirmation", "password2"),
        ],
    )
    .await;
    assert_eq!(resp.status(), 200);

    // reset request (mail transport `log`), with a redirect checked by the rule
    let resp = send(
        &app,
        Method::POST,
        "/auth/password",
        None,
        &[
            Part::Text("email", "form@example.com"),
            Part::Text("redirect_url", "https://app.example.com/#/reset"),
        ],
    )
    .await;
    assert_eq!(resp.status(), 200);
    let refused = send(
        &app,
        Method::POST,
        "/auth/password",
        None,
        &[
            Part::Text("email", "form@example.com"),
            Part::Text("redirect_url", "https://evil.test/"),
        ],
    )
    .await;
    assert_eq!(refused.status(), 422);
    assert_eq!(
        app.sign_in_response("form@example.com", "password2")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn a_file_part_counts_as_a_parameter_with_no_value() {
    // Arrange
    let app = spawn_app().await;
    app.sign_up("file@example.com", "password1").await;

    // Act: the right e-mail, but uploaded as a file
    let as_file = send(
        &app,
        Method::POST,
        "/auth/sign_in",
        None,
        &[
            Part::File("email", "email.txt", b"file@example.com"),
            Part::Text("password", "password1"),
        ],
    )
    .await;
    // A file after a text part of the same name replaces it, as Rails' last value wins.
    let replaced = send(
        &app,
        Method::POST,
        "/auth/sign_in",
        None,
        &[
            Part::Text("email", "file@example.com"),
            Part::File("email", "email.txt", b"file@example.com"),
            Part::Text("password", "password1"),
        ],
    )
    .await;
    // Binary file content is not read as text, so it cannot make the body unreadable.
    let binary = send(
        &app,
        Method::POST,
        "/auth/sign_in",
        None,
        &[
            Part::File(
                "avatar",
                "a.png",
                &[0x89, b'P', b'N', b'G', 0xff, 0xfe, 0x00],
            ),
            Part::Text("email", "file@example.com"),
            Part::Text("password", "password1"),
        ],
    )
    .await;

    // Assert
    assert_eq!(as_file.status(), 401);
    assert_eq!(
        json(as_file).await,
        json!({"success": false, "errors": ["Invalid login credentials. Please try again."]})
    );
    assert_eq!(replaced.status(), 401);
    assert_eq!(binary.status(), 200);
}

#[tokio::test]
async fn form_data_wins_over_the_query_string_like_other_bodies() {
    // Arrange
    let app = spawn_app().await;
    app.sign_up("q@example.com", "password1").await;

    // Act
    let resp = send(
        &app,
        Method::POST,
        "/auth/sign_in?email=nobody%40example.com&password=wrong",
        None,
        &[
            Part::Text("email", "q@example.com"),
            Part::Text("password", "password1"),
        ],
    )
    .await;

    // Assert
    assert_eq!(resp.status(), 200);
}
