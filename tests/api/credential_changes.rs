//! What a credential change ends and announces (docs/decisions.md D17), over real SMTP: a new
//! password or e-mail withdraws pending reset links, Devise's change notices go out when asked
//! for, passwords beyond bcrypt's 72 bytes are refused everywhere one is set, and an OAuth
//! account's new address passes the same checks as anyone's.

use reqwest::Method;
use serde_json::{Value, json};
use toker::config::Settings;

use crate::{
    helpers::*,
    support::smtp::{Received, SmtpServer, first_link},
};

const LANDING: &str = "https://app.example.com/reset";
const TOO_LONG: &str = "Password is too long (maximum is 72 bytes)";

async fn mail_app(smtp: &SmtpServer, configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_mailing_to(smtp.port, configure).await
}

/// Mails a reset link for `email` and returns it, pointed at the test server.
async fn reset_link(app: &TestApp, smtp: &SmtpServer, email: &str, nth: usize) -> String {
    let resp = app
        .post_json(
            "/auth/password",
            &json!({"email": email, "redirect_url": LANDING}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let mail = smtp.wait_for(nth).await.remove(nth - 1);
    first_link(&mail.text).replace(&app.settings.public_url(), &app.address)
}

async fn put(app: &TestApp, path: &str, auth: &mut Auth, body: Value) -> (u16, Value) {
    let resp = app
        .authed(Method::PUT, path, auth)
        .json(&body)
        .send()
        .await
        .unwrap();
    auth.update_from(resp.headers());
    let status = resp.status().as_u16();
    (status, json(resp).await)
}

fn subjects(mails: &[Received]) -> Vec<&str> {
    mails.iter().map(|m| m.subject.as_str()).collect()
}

// --- links withdrawn --------------------------------------------------------------------------

#[tokio::test]
async fn a_password_change_through_account_update_withdraws_the_reset_link() {
    // Arrange
    let smtp = SmtpServer::start();
    let app = mail_app(&smtp, |_| {}).await;
    let mut auth = app.signed_in_user("links@example.com").await;
    let link = reset_link(&app, &smtp, "links@example.com", 1).await;

    // Act
    let (status, _) = put(
        &app,
        "/auth",
        &mut auth,
        json!({"password": "password2", "password_confirmation": "password2", "current_password": "password1"}),
    )
    .await;
    let landing = app.client.get(&link).send().await.unwrap();

    // Assert
    assert_eq!(status, 200);
    assert_eq!(landing.status(), 404);
}

#[tokio::test]
async fn an_email_change_withdraws_the_reset_link() {
    // Arrange
    let smtp = SmtpServer::start();
    let app = mail_app(&smtp, |_| {}).await;
    let mut auth = app.signed_in_user("before@example.com").await;
    let link = reset_link(&app, &smtp, "before@example.com", 1).await;

    // Act
    let (status, body) = put(
        &app,
        "/auth",
        &mut auth,
        json!({"email": "after@example.com"}),
    )
    .await;
    let landing = app.client.get(&link).send().await.unwrap();

    // Assert
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["email"], "after@example.com");
    assert_eq!(landing.status(), 404);
}

#[tokio::test]
async fn a_link_mailed_after_the_change_still_works() {
    // Arrange
    let smtp = SmtpServer::start();
    let app = mail_app(&smtp, |_| {}).await;
    let mut auth = app.signed_in_user("later@example.com").await;
    let (status, _) = put(
        &app,
        "/auth/password",
        &mut auth,
        json!({"password": "password2", "password_confirmation": "password2"}),
    )
    .await;
    assert_eq!(status, 200);

    // Act
    let link = reset_link(&app, &smtp, "later@example.com", 1).await;
    let landing = app.client.get(&link).send().await.unwrap();

    // Assert
    assert_eq!(landing.status(), 302);
}

// --- notices ------------------------------------------------------------------------------------

#[tokio::test]
async fn no_change_notice_goes_out_by_default() {
    // Arrange
    let smtp = SmtpServer::start();
    let app = mail_app(&smtp, |_| {}).await;
    let mut auth = app.signed_in_user("quiet@example.com").await;

    // Act
    put(
        &app,
        "/auth",
        &mut auth,
        json!({"email": "quiet2@example.com", "password": "password2", "password_confirmation": "password2"}),
    )
    .await;
    // A mail that does go out, so the wait below is not in vain.
    reset_link(&app, &smtp, "quiet2@example.com", 1).await;

    // Assert
    assert_eq!(subjects(&smtp.messages()), ["Reset password instructions"]);
}

#[tokio::test]
async fn send_password_change_notification_mails_devises_notice() {
    // Arrange
    let smtp = SmtpServer::start();
    let app = mail_app(&smtp, |s| s.send_password_change_notification = true).await;
    let mut auth = app.signed_in_user("notice@example.com").await;

    // Act: once through the password route, once through account update
    let (first, _) = put(
        &app,
        "/auth/password",
        &mut auth,
        json!({"password": "password2", "password_confirmation": "password2"}),
    )
    .await;
    let (second, _) = put(
        &app,
        "/auth",
        &mut auth,
        json!({"password": "password3", "password_confirmation": "password3", "current_password": "password2"}),
    )
    .await;

    // Assert
    assert_eq!((first, second), (200, 200));
    let mails = smtp.wait_for(2).await;
    for mail in &mails {
        assert_eq!(mail.subject, "Password Changed");
        assert_eq!(mail.to, "notice@example.com");
        assert!(
            mail.text.contains("Hello notice@example.com!"),
            "{}",
            mail.text
        );
        assert!(
            mail.text.contains(
                "We're contacting you to notify you that your password has been changed."
            ),
            "{}",
            mail.text
        );
    }
}

#[tokio::test]
async fn send_email_changed_notification_tells_the_old_address_once_the_change_is_made() {
    // Arrange
    let smtp = SmtpServer::start();
    let app = mail_app(&smtp, |s| s.send_email_changed_notification = true).await;
    let mut auth = app.signed_in_user("old@example.com").await;

    // Act
    let (status, _) = put(
        &app,
        "/auth",
        &mut auth,
        json!({"email": "new@example.com"}),
    )
    .await;

    // Assert
    assert_eq!(status, 200);
    let mail = smtp.wait_for(1).await.remove(0);
    assert_eq!(mail.subject, "Email Changed");
    assert_eq!(mail.to, "old@example.com");
    assert!(
        mail.text.contains("Hello old@example.com!"),
        "{}",
        mail.text
    );
    assert!(
        mail.text.contains(
            "We're contacting you to notify you that your email has been changed to new@example.com."
        ),
        "{}",
        mail.text
    );
}

#[tokio::test]
async fn with_reconfirmable_the_old_address_hears_of_the_change_when_it_is_asked_for() {
    // Arrange
    let smtp = SmtpServer::start();
    let app = mail_app(&smtp, |s| {
        s.send_email_changed_notification = true;
        s.confirmable = true;
        s.allow_unconfirmed_access_for = None;
        s.default_confirm_success_url = Some("https://app.example.com/welcome".into());
    })
    .await;
    let mut auth = app.signed_in_user("old@example.com").await;
    let signed_up = smtp.wait_for(1).await.len();

    // Act
    let (status, body) = put(
        &app,
        "/auth",
        &mut auth,
        json!({"email": "new@example.com"}),
    )
    .await;

    // Assert: the change waits for confirmation; the new address gets the confirmation, the
    // old one the notice
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["email"], "old@example.com");
    let mails = smtp.wait_for(signed_up + 2).await.split_off(signed_up);
    let notice = mails
        .iter()
        .find(|m| m.subject == "Email Changed")
        .expect("notice");
    assert_eq!(notice.to, "old@example.com");
    assert!(
        notice.text.contains(
            "We're contacting you to notify you that your email is being changed to new@example.com."
        ),
        "{}",
        notice.text
    );
    let confirmation = mails
        .iter()
        .find(|m| m.subject == "Confirmation instructions")
        .expect("confirmation");
    assert_eq!(confirmation.to, "new@example.com");
}

// --- bcrypt's 72 bytes --------------------------------------------------------------------------

fn too_long_password() -> String {
    // 25 three-byte characters: 75 bytes, within the 128-character length rule.
    "€".repeat(25)
}

#[tokio::test]
async fn sign_up_refuses_a_password_beyond_72_bytes() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let long = too_long_password();
    let multibyte = app.sign_up("long@example.com", &long).await;
    let ascii = app.sign_up("long@example.com", &"a".repeat(73)).await;
    let exact = app.sign_up("long@example.com", &"a".repeat(72)).await;

    // Assert
    assert_eq!(multibyte.status(), 422);
    assert_eq!(
        json(multibyte).await["errors"]["password"],
        json!(["is too long (maximum is 72 bytes)"])
    );
    assert_eq!(ascii.status(), 422);
    assert_eq!(
        json(ascii).await["errors"]["full_messages"],
        json!([TOO_LONG])
    );
    assert_eq!(exact.status(), 200);
}

#[tokio::test]
async fn password_change_and_reset_refuse_a_password_beyond_72_bytes() {
    // Arrange
    let app = spawn_app().await;
    let mut auth = app.signed_in_user("long@example.com").await;
    let long = too_long_password();

    // Act
    let (update, update_body) = put(
        &app,
        "/auth",
        &mut auth,
        json!({"password": long, "password_confirmation": long, "current_password": "password1"}),
    )
    .await;
    let (change, change_body) = put(
        &app,
        "/auth/password",
        &mut auth,
        json!({"password": long, "password_confirmation": long}),
    )
    .await;

    // Assert
    assert_eq!(update, 422);
    assert_eq!(update_body["errors"]["full_messages"], json!([TOO_LONG]));
    assert_eq!(change, 422);
    assert_eq!(change_body["errors"]["full_messages"], json!([TOO_LONG]));
    assert_eq!(
        app.sign_in_response("long@example.com", "password1")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn a_reset_refuses_a_password_beyond_72_bytes_and_keeps_the_link() {
    // Arrange: the mobile flow, where the reset token itself authorizes the new password
    let smtp = SmtpServer::start();
    let app = mail_app(&smtp, |s| s.require_client_password_reset_token = true).await;
    app.sign_up("reset@example.com", "password1").await;
    let link = reset_link(&app, &smtp, "reset@example.com", 1).await;
    let token = url::Url::parse(&link)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "reset_password_token")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let long = too_long_password();
    let set = |password: String| {
        app.request(Method::PUT, "/auth/password")
            .json(&json!({"reset_password_token": token, "password": password, "password_confirmation": password}))
            .send()
    };

    // Act
    let refused = set(long).await.unwrap();
    let accepted = set("password2".into()).await.unwrap();

    // Assert
    assert_eq!(refused.status(), 422);
    assert_eq!(
        json(refused).await["errors"]["full_messages"],
        json!([TOO_LONG])
    );
    assert_eq!(accepted.status(), 200);
}

#[tokio::test]
async fn existing_devise_hashes_of_long_peppered_passwords_still_sign_in() {
    // Arrange: a hash made as Devise makes it, bcrypt over password + pepper, from a password
    // longer than 72 bytes (bcrypt read its first 72)
    let pepper = "a-pepper-of-the-usual-kind-0123456789abcdef";
    let app = spawn_app_with(|s| s.pepper = Some(toker::config::Secret::new(pepper))).await;
    let password = "correct horse battery staple ".repeat(3);
    assert!(password.len() > 72);
    let hash = bcrypt::hash_with_result(format!("{password}{pepper}"), 4)
        .unwrap()
        .format_for_version(bcrypt::Version::TwoA);
    app.sign_up("devise@example.com", "password1").await;
    let user = app
        .store
        .find_email_user("devise@example.com")
        .await
        .unwrap()
        .unwrap();
    let imported = toker::store::User {
        encrypted_password: hash,
        ..user.clone()
    };
    app.store.update_user(&user, &imported).await.unwrap();

    // Act
    let resp = app.sign_in_response("devise@example.com", &password).await;

    // Assert
    assert_eq!(resp.status(), 200);
}

// --- OAuth accounts -----------------------------------------------------------------------------

#[tokio::test]
async fn an_oauth_accounts_new_email_must_be_an_email() {
    // Arrange
    let app = spawn_app().await;
    let mut auth = app
        .oauth_user("github", "4242", Some("octo@example.com"))
        .await;

    // Act
    let (status, body) = put(&app, "/auth", &mut auth, json!({"email": "not-an-address"})).await;

    // Assert
    assert_eq!(status, 422);
    assert_eq!(body["errors"]["email"], json!(["is not an email"]));
}

#[tokio::test]
async fn an_oauth_accounts_new_email_waits_for_confirmation_like_anyones() {
    // Arrange
    let smtp = SmtpServer::start();
    let app = mail_app(&smtp, |s| {
        s.confirmable = true;
        s.default_confirm_success_url = Some("https://app.example.com/welcome".into());
    })
    .await;
    let mut auth = app
        .oauth_user("github", "4242", Some("octo@example.com"))
        .await;

    // Act
    let (status, body) = put(
        &app,
        "/auth",
        &mut auth,
        json!({"email": "victim@example.com"}),
    )
    .await;

    // Assert: the address is not the account's until its owner confirms it
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["email"], "octo@example.com");
    assert_eq!(body["data"]["uid"], "4242");
    let mail = smtp.wait_for(1).await.remove(0);
    assert_eq!(mail.subject, "Confirmation instructions");
    assert_eq!(mail.to, "victim@example.com");
    assert_eq!(
        app.sign_up("victim@example.com", "password1")
            .await
            .status(),
        200,
        "an unconfirmed claim does not block the address"
    );
}
