//! Recoverable over real SMTP (docs/contract.md §2.7–2.9): forgot password → mail → link → new
//! password → sign in, and every failure branch.

use reqwest::Method;
use serde_json::{Value, json};
use toker::config::{CurrentPasswordCheck, CurrentPasswordMode};

use crate::{
    helpers::*,
    support::smtp::{SmtpServer, first_link},
};

const LANDING: &str = "https://app.example.com/reset";

async fn mail_app(
    smtp: &SmtpServer,
    configure: impl FnOnce(&mut toker::config::Settings),
) -> TestApp {
    spawn_app_mailing_to(smtp.port, configure).await
}

async fn request_reset(app: &TestApp, body: Value) -> reqwest::Response {
    app.post_json("/auth/password", &body).await
}

fn local(app: &TestApp, link: &str) -> String {
    link.replace(&app.settings.public_url(), &app.address)
}

fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("a Location header")
        .to_string()
}

/// The query pairs of a URL (before any fragment).
fn query(url: &str) -> Vec<(String, String)> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param(url: &str, name: &str) -> String {
    query(url)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("{name} missing from {url}"))
}

#[tokio::test]
async fn forgot_password_mail_link_new_password_then_sign_in() {
    // Arrange
    let smtp = SmtpServer::start();
    let app = mail_app(&smtp, |s| {
        s.check_current_password_before_update =
            CurrentPasswordCheck::Mode(CurrentPasswordMode::Password);
    })
    .await;
    assert_eq!(
        app.sign_up("reset@example.com", "password1").await.status(),
        200
    );

    // Act 1: request the mail
    let resp = request_reset(
        &app,
        json!({"email": "Reset@Example.com", "redirect_url": LANDING, "config_name": "altUser"}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        json(resp).await,
        json!({"success": true, "message": "An email has been sent to 'reset@example.com' containing instructions for resetting your password."})
    );
    let mail = smtp.wait_for(1).await.remove(0);
    assert_eq!(mail.subject, "Reset password instructions");
    assert_eq!(mail.to, "reset@example.com");
    assert!(mail.text.contains("Hello reset@example.com!"));
    assert!(
        mail.text
            .contains("Someone has requested a link to change your password.")
    );
    assert!(mail.html.contains("Change my password"));
    let link = first_link(&mail.text);
    assert!(
        link.starts_with(&format!(
            "{}/auth/password/edit?config=altUser&redirect_url=https%3A%2F%2Fapp.example.com%2Freset&reset_password_token=",
            app.settings.public_url()
        )),
        "{link}"
    );
    let raw_token = param(&link, "reset_password_token");
    assert_eq!(raw_token.len(), 20);

    // Act 2: follow the link
    let landing = app.client.get(local(&app, &link)).send().await.unwrap();

    // Assert: 302 with a new device's credentials, sorted, legacy names included
    assert_eq!(landing.status(), 302);
    let to = location(&landing);
    assert!(to.starts_with(&format!("{LANDING}?access-token=")), "{to}");
    let keys: Vec<String> = query(&to).into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        keys,
        [
            "access-token",
            "client",
            "client_id",
            "config",
            "expiry",
            "reset_password",
            "reset_password_token",
            "token",
            "uid"
        ]
    );
    assert_eq!(param(&to, "token"), param(&to, "access-token"));
    assert_eq!(param(&to, "client_id"), param(&to, "client"));
    assert_eq!(param(&to, "config"), "altUser");
    assert_eq!(param(&to, "reset_password"), "true");
    assert_eq!(param(&to, "reset_password_token"), raw_token);
    assert_eq!(param(&to, "uid"), "reset@example.com");
    let auth = Auth {
        token: param(&to, "access-token"),
        client: param(&to, "client"),
        uid: param(&to, "uid"),
        expiry: param(&to, "expiry"),
    };

    // Act 3: set the new password without the current one (the link allows it)
    let resp = app
        .authed(Method::PUT, "/auth/password", &auth)
        .json(&json!({"password": "newpassword", "password_confirmation": "newpassword"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(Auth::from_headers(resp.headers()).is_some() || resp.headers().get("client").is_none());
    let body = json(resp).await;
    assert_eq!(body["success"], true);
    assert_eq!(
        body["message"],
        "Your password has been successfully updated."
    );
    assert_eq!(body["data"]["allow_password_change"], false);

    // Assert: the new password signs in, the old one does not, the link is spent
    assert_eq!(
        app.sign_in_response("reset@example.com", "newpassword")
            .await
            .status(),
        200
    );
    assert_eq!(
        app.sign_in_response("reset@example.com", "password1")
            .await
            .status(),
        401
    );
    let reused = app.client.get(local(&app, &link)).send().await.unwrap();
    assert_eq!(reused.status(), 404);
    assert_json_content_type(&reused);
}

#[tokio::test]
async fn reset_requests_check_redirect_and_email() {
    let smtp = SmtpServer::start();
    let app = mail_app(&smtp, |s| {
        s.redirect_whitelist = Some(vec!["https://app.example.com/*".into()]);
    })
    .await;
    app.sign_up("known@example.com", "password1").await;

    let no_redirect = request_reset(&app, json!({"email": "known@example.com"})).await;
    assert_eq!(no_redirect.status(), 401);
    assert_eq!(
        json(no_redirect).await,
        json!({"success": false, "errors": ["Missing redirect URL."]})
    );

    let evil = request_reset(
        &app,
        json!({"email": "known@example.com", "redirect_url": "https://evil.test/x"}),
    )
    .await;
    assert_eq!(evil.status(), 422);
    assert_eq!(
        json(evil).await,
        json!({"success": false, "errors": ["Redirect to 'https://evil.test/x' not allowed."], "status": "error", "data": null})
    );

    let no_email = request_reset(&app, json!({"redirect_url": LANDING})).await;
    assert_eq!(no_email.status(), 401);
    assert_eq!(
        json(no_email).await,
        json!({"success": false, "errors": ["You must provide an email address."]})
    );

    let unknown = request_reset(
        &app,
        json!({"email": "who@example.com", "redirect_url": LANDING}),
    )
    .await;
    assert_eq!(unknown.status(), 404);
    assert_eq!(
        json(unknown).await,
        json!({"success": false, "errors": ["Unable to find user with email 'who@example.com'."]})
    );
    assert!(smtp.messages().is_empty());
}

#[tokio::test]
async fn paranoid_reset_answers_alike_and_mails_only_known_accounts() {
    let smtp = SmtpServer::start();
    let app = mail_app(&smtp, |s| s.paranoid = true).await;
    app.sign_up("known@example.com", "password1").await;

    let unknown = request_reset(
        &app,
        json!({"email": "who@example.com", "redirect_url": LANDING}),
    )
    .await;
    let known = request_reset(
        &app,
        json!({"email": "known@example.com", "redirect_url": LANDING}),
    )
    .await;

    let expected = json!({"success": true, "message": "If your email address exists in our database, you will receive a password recovery link at your email address in a few minutes."});
    assert_eq!(unknown.status(), 200);
    assert_eq!(json(unknown).await, expected);
    assert_eq!(known.status(), 200);
    assert_eq!(json(known).await, expected);
    let mails = smtp.wait_for(1).await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, "known@example.com");
}

#[tokio::test]
async fn forged_expired_and_tampered_links_are_refused() {
    let smtp = SmtpServer::start();
    let app = mail_app(&smtp, |s| {
        s.reset_password_within = 1;
        s.redirect_whitelist = Some(vec!["https://app.example.com/*".into()]);
    })
    .await;
    app.sign_up("x@example.com", "password1").await;
    request_reset(
        &app,
        json!({"email": "x@example.com", "redirect_url": LANDING}),
    )
    .await;
    let link = local(&app, &first_link(&smtp.wait_for(1).await[0].text));

    let forged = app
        .client
        .get(format!(
            "{}/auth/password/edit?reset_password_token=forged&redirect_url={LANDING}",
            app.address
        ))
        .send()
        .await
        .unwrap();
    let tampered = app
        .client
        .get(link.replace(
            "https%3A%2F%2Fapp.example.com%2Freset",
            "https%3A%2F%2Fevil.test%2Fx",
        ))
        .send()
        .await
        .unwrap();
    let no_redirect = app
        .client
        .get(format!(
            "{}/auth/password/edit?reset_password_token=x",
            app.address
        ))
        .send()
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let expired = app.client.get(&link).send().await.unwrap();

    assert_eq!(forged.status(), 404);
    assert_eq!(tampered.status(), 422);
    assert_eq!(no_redirect.status(), 401);
    assert_eq!(
        json(no_redirect).await,
        json!({"success": false, "errors": ["Missing redirect URL."]})
    );
    assert_eq!(expired.status(), 404);
}

#[tokio::test]
async fn password_update_errors_follow_the_contract() {
    // Arrange
    let app = spawn_app_with(|s| {
        s.check_current_password_before_update =
            CurrentPasswordCheck::Mode(CurrentPasswordMode::Password);
    })
    .await;
    let mut auth = app.signed_in_user("p@example.com").await;
    let put = |auth: &Auth, body: Value| {
        app.authed(Method::PUT, "/auth/password", auth)
            .json(&body)
            .send()
    };

    // Unauthenticated
    let resp = app
        .request(Method::PUT, "/auth/password")
        .json(&json!({"password": "x", "password_confirmation": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().get("access-token").is_none());
    assert_eq!(
        json(resp).await,
        json!({"success": false, "errors": ["Unauthorized"]})
    );

    // Missing fields: 422 with the message, and the token still rotates/echoes (headers kept)
    let resp = put(&auth, json!({"password": "newpassword"}))
        .await
        .unwrap();
    assert_eq!(resp.status(), 422);
    auth.update_from(resp.headers());
    assert_eq!(
        json(resp).await,
        json!({"success": false, "errors": ["You must fill out the fields labeled 'Password' and 'Password confirmation'."]})
    );

    // Validation: E5 with current password required by the setting
    let resp = put(
        &auth,
        json!({"password": "short", "password_confirmation": "other", "current_password": "wrong"}),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 422);
    auth.update_from(resp.headers());
    assert_eq!(
        json(resp).await,
        json!({"success": false, "errors": {
            "password_confirmation": ["doesn't match Password"],
            "password": ["is too short (minimum is 6 characters)"],
            "current_password": ["is invalid"],
            "full_messages": [
                "Password confirmation doesn't match Password",
                "Password is too short (minimum is 6 characters)",
                "Current password is invalid"
            ]
        }})
    );

    // Success with the current password
    let resp = put(
        &auth,
        json!({"password": "newpassword", "password_confirmation": "newpassword", "current_password": "password1"}),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        app.sign_in_response("p@example.com", "newpassword")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn oauth_accounts_have_no_password_to_change() {
    // Arrange: a Google user with a device
    let app = spawn_app().await;
    let auth = app
        .oauth_user("google_oauth2", "12345", Some("g@example.com"))
        .await;

    // Act
    let resp = app
        .authed(Method::PUT, "/auth/password", &auth)
        .json(&json!({"password": "newpassword", "password_confirmation": "newpassword"}))
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(resp.status(), 422);
    assert_eq!(
        json(resp).await,
        json!({"success": false, "errors": ["This account does not require a password. Sign in using your 'Google oauth2' account instead."]})
    );
}

#[tokio::test]
async fn mobile_flow_trades_the_reset_token_for_a_session() {
    // Arrange
    let smtp = SmtpServer::start();
    let app = mail_app(&smtp, |s| s.require_client_password_reset_token = true).await;
    app.sign_up("m@example.com", "password1").await;
    request_reset(
        &app,
        json!({"email": "m@example.com", "redirect_url": "https://app.example.com/r#/reset"}),
    )
    .await;
    let link = local(&app, &first_link(&smtp.wait_for(1).await[0].text));
    let token = param(&link, "reset_password_token");

    // Act
    let landing = app.client.get(&link).send().await.unwrap();
    let bad = app
        .post_put("/auth/password", json!({"reset_password_token": "forged", "password": "newpassword", "password_confirmation": "newpassword"}))
        .await;
    let good = app
        .post_put("/auth/password", json!({"reset_password_token": token, "password": "newpassword", "password_confirmation": "newpassword"}))
        .await;

    // Assert: the link carries only the token (and repeats it after the fragment)
    assert_eq!(
        location(&landing),
        format!(
            "https://app.example.com/r?reset_password_token={token}#/reset?reset_password_token={token}"
        )
    );
    assert_eq!(bad.status(), 401);
    assert_eq!(good.status(), 200);
    assert!(
        Auth::from_headers(good.headers()).is_some(),
        "a new device's credentials"
    );
    assert_eq!(
        app.sign_in_response("m@example.com", "newpassword")
            .await
            .status(),
        200
    );
}

impl TestApp {
    async fn post_put(&self, path: &str, body: Value) -> reqwest::Response {
        self.request(Method::PUT, path)
            .json(&body)
            .send()
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn password_change_signs_out_other_devices_when_configured() {
    let app = spawn_app_with(|s| s.remove_tokens_after_password_reset = true).await;
    let mut mine = app.signed_in_user("r@example.com").await;
    let other = Auth::from_headers(
        app.sign_in_response("r@example.com", "password1")
            .await
            .headers(),
    )
    .unwrap();

    let resp = app
        .authed(Method::PUT, "/auth/password", &mine)
        .json(&json!({"password": "newpassword", "password_confirmation": "newpassword"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    mine.update_from(resp.headers());

    let still_mine = app.get_authed("/auth/validate_token", &mut mine).await;
    let mut other = other;
    let gone = app.get_authed("/auth/validate_token", &mut other).await;
    assert_eq!(still_mine.status(), 200);
    assert_eq!(gone.status(), 401);
}
