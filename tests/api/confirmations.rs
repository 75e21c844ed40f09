//! Confirmable over real SMTP (docs/contract.md §2.1, §2.10–2.11, docs/decisions.md D5): the mail sent on
//! sign-up, its link, resend, and every failure branch.

use reqwest::Method;
use serde_json::json;
use toker::config::{MailTransport, SmtpTls};

use crate::{
    helpers::*,
    support::smtp::{SmtpServer, first_link},
};

const LANDING: &str = "https://app.example.com/confirmed";

async fn confirmable_app(
    smtp: &SmtpServer,
    configure: impl FnOnce(&mut toker::config::Settings),
) -> TestApp {
    let port = smtp.port;
    spawn_app_with(move |s| {
        s.confirmable = true;
        s.mail_transport = MailTransport::Smtp;
        s.smtp_port = port;
        s.smtp_tls = SmtpTls::None;
        s.mail_from = "Toker <toker@example.com>".into();
        configure(s);
    })
    .await
}

async fn sign_up_confirmable(app: &TestApp, email: &str) -> reqwest::Response {
    app.post_json(
        "/auth",
        &json!({
            "email": email,
            "password": "password1",
            "password_confirmation": "password1",
            "confirm_success_url": LANDING,
            "config_name": "altUser",
        }),
    )
    .await
}

async fn follow(app: &TestApp, link: &str) -> reqwest::Response {
    app.client.get(link).send().await.expect("follow link")
}

fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("a Location header")
        .to_string()
}

#[tokio::test]
async fn sign_up_mails_a_link_that_confirms_the_account_and_then_sign_in_works() {
    // Arrange
    let smtp = SmtpServer::start();
    let app = confirmable_app(&smtp, |_| {}).await;

    // Act: sign up; signing in before confirming is refused
    let resp = sign_up_confirmable(&app, "Carol@Example.com").await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("access-token").is_none());
    let refused = app.sign_in_response("carol@example.com", "password1").await;
    assert_eq!(refused.status(), 401);
    assert_eq!(
        json(refused).await,
        json!({"success": false, "errors": [
            "A confirmation email was sent to your account at 'carol@example.com'. You must follow the instructions in the email before your account can be activated"
        ]})
    );

    // Assert: the mail and its link
    let mail = smtp.wait_for(1).await.remove(0);
    assert_eq!(mail.to, "carol@example.com");
    assert_eq!(mail.from, "toker@example.com");
    assert_eq!(mail.subject, "Confirmation instructions");
    assert!(
        mail.text.contains("Welcome carol@example.com!"),
        "{}",
        mail.text
    );
    assert!(
        mail.text
            .contains("You can confirm your account email through the link below:")
    );
    assert!(mail.html.contains("Confirm my account"));
    let link = first_link(&mail.text);
    let prefix = format!(
        "{}/auth/confirmation?config=altUser&confirmation_token=",
        app.settings.public_url()
    );
    assert!(link.starts_with(&prefix), "{link}");
    assert!(
        link.ends_with("&redirect_url=https%3A%2F%2Fapp.example.com%2Fconfirmed"),
        "{link}"
    );

    // The app's public_url is 127.0.0.1:0 in tests: follow the link on the real port.
    let link = link.replace(&app.settings.public_url(), &app.address);
    let landing = follow(&app, &link).await;
    assert_eq!(landing.status(), 302);
    assert_eq!(
        location(&landing),
        format!("{LANDING}?account_confirmation_success=true")
    );
    let resp = app.sign_in_response("carol@example.com", "password1").await;
    assert_eq!(resp.status(), 200);

    // A used link does not confirm again.
    let again = follow(&app, &link).await;
    assert_eq!(
        location(&again),
        format!("{LANDING}?account_confirmation_success=false")
    );
}

#[tokio::test]
async fn forged_and_expired_links_redirect_with_success_false() {
    // Arrange
    let smtp = SmtpServer::start();
    let app = confirmable_app(&smtp, |s| s.confirm_within = Some(1)).await;
    sign_up_confirmable(&app, "dan@example.com").await;
    let link = first_link(&smtp.wait_for(1).await[0].text)
        .replace(&app.settings.public_url(), &app.address);

    // Act
    let forged = follow(
        &app,
        &format!(
            "{}/auth/confirmation?confirmation_token=forged&redirect_url={LANDING}",
            app.address
        ),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let expired = follow(&app, &link).await;

    // Assert
    assert_eq!(
        location(&forged),
        format!("{LANDING}?account_confirmation_success=false")
    );
    assert_eq!(
        location(&expired),
        format!("{LANDING}?account_confirmation_success=false")
    );
    assert_eq!(
        app.sign_in_response("dan@example.com", "password1")
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn redirects_are_whitelisted_at_sign_up_and_when_the_link_is_followed() {
    // Arrange
    let smtp = SmtpServer::start();
    let app = confirmable_app(&smtp, |s| {
        s.redirect_whitelist = Some(vec!["https://app.example.com/*".into()]);
    })
    .await;

    // Act
    let refused = app
        .post_json(
            "/auth",
            &json!({"email": "e@example.com", "password": "password1",
                    "password_confirmation": "password1",
                    "confirm_success_url": "https://evil.test/phish"}),
        )
        .await;
    sign_up_confirmable(&app, "e@example.com").await;
    let link = first_link(&smtp.wait_for(1).await[0].text)
        .replace(&app.settings.public_url(), &app.address);
    let tampered = follow(
        &app,
        &link.replace(
            "redirect_url=https%3A%2F%2Fapp.example.com%2Fconfirmed",
            "redirect_url=https%3A%2F%2Fevil.test%2Fphish",
        ),
    )
    .await;

    // Assert
    assert_eq!(refused.status(), 422);
    assert_eq!(
        json(refused).await["errors"],
        json!(["Redirect to 'https://evil.test/phish' not allowed."])
    );
    assert_eq!(tampered.status(), 422);
    assert_eq!(
        json(tampered).await,
        json!({"success": false, "errors": ["Redirect to 'https://evil.test/phish' not allowed."],
               "status": "error", "data": null})
    );
    // The untampered link still works afterwards.
    assert_eq!(
        location(&follow(&app, &link).await),
        format!("{LANDING}?account_confirmation_success=true")
    );
}

/// The `confirmation_token` of a mailed link.
fn token_of(link: &str) -> String {
    url::Url::parse(link)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "confirmation_token")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no token in {link}"))
}

#[tokio::test]
async fn resend_mails_the_earlier_link_again_and_reports_unknown_addresses() {
    // Arrange
    let smtp = SmtpServer::start();
    let app = confirmable_app(&smtp, |_| {}).await;
    sign_up_confirmable(&app, "f@example.com").await;
    smtp.wait_for(1).await;

    // Act
    let resent = app
        .post_json(
            "/auth/confirmation",
            &json!({"email": " F@example.com ", "redirect_url": LANDING}),
        )
        .await;
    let unknown = app
        .post_json(
            "/auth/confirmation",
            &json!({"email": "nobody@example.com"}),
        )
        .await;
    let missing = app.post_json("/auth/confirmation", &json!({})).await;

    // Assert
    assert_eq!(resent.status(), 200);
    assert_eq!(
        json(resent).await,
        json!({"success": true, "message": "An email has been sent to 'f@example.com' containing instructions for confirming your account."})
    );
    let mails = smtp.wait_for(2).await;
    assert_eq!(unknown.status(), 404);
    assert_eq!(
        json(unknown).await,
        json!({"success": false, "errors": ["Unable to find user with email 'nobody@example.com'."]})
    );
    assert_eq!(missing.status(), 401);
    assert_eq!(
        json(missing).await,
        json!({"success": false, "errors": ["You must provide an email address."]})
    );
    // As Devise: the resend carries the same token, so the mail the user clicks first works,
    // and once it has, neither works again.
    let old_link = first_link(&mails[0].text).replace(&app.settings.public_url(), &app.address);
    let new_link = first_link(&mails[1].text).replace(&app.settings.public_url(), &app.address);
    assert_eq!(token_of(&old_link), token_of(&new_link));
    assert_eq!(
        location(&follow(&app, &old_link).await),
        format!("{LANDING}?account_confirmation_success=true")
    );
    assert_eq!(
        location(&follow(&app, &new_link).await),
        format!("{LANDING}?account_confirmation_success=false")
    );
}

#[tokio::test]
async fn a_resend_on_another_instance_with_the_same_secret_key_mails_the_same_link() {
    // Arrange: two instances behind a load balancer
    let smtp = SmtpServer::start();
    let app = confirmable_app(&smtp, |s| {
        s.secret_key = Some("a shared secret key, long enough".into());
    })
    .await;
    let sibling = app.spawn_sibling().await;
    sign_up_confirmable(&app, "twin@example.com").await;
    smtp.wait_for(1).await;

    // Act
    let resent = sibling
        .post_json(
            "/auth/confirmation",
            &json!({"email": "twin@example.com", "redirect_url": LANDING}),
        )
        .await;

    // Assert
    assert_eq!(resent.status(), 200);
    let mails = smtp.wait_for(2).await;
    assert_eq!(
        token_of(&first_link(&mails[0].text)),
        token_of(&first_link(&mails[1].text))
    );
}

#[tokio::test]
async fn a_resend_after_confirm_within_mails_a_new_link_that_works() {
    // Arrange
    let smtp = SmtpServer::start();
    // Issue times are whole seconds, so a link may have up to a second less than
    // confirm_within: 4 s leaves the new link 3 s, plenty on a loaded machine.
    let app = confirmable_app(&smtp, |s| s.confirm_within = Some(4)).await;
    sign_up_confirmable(&app, "late@example.com").await;
    smtp.wait_for(1).await;
    tokio::time::sleep(std::time::Duration::from_millis(4100)).await;

    // Act
    app.post_json(
        "/auth/confirmation",
        &json!({"email": "late@example.com", "redirect_url": LANDING}),
    )
    .await;

    // Assert: the expired token is not mailed again; the new one confirms
    let mails = smtp.wait_for(2).await;
    let old_link = first_link(&mails[0].text).replace(&app.settings.public_url(), &app.address);
    let new_link = first_link(&mails[1].text).replace(&app.settings.public_url(), &app.address);
    assert_ne!(token_of(&old_link), token_of(&new_link));
    assert_eq!(
        location(&follow(&app, &old_link).await),
        format!("{LANDING}?account_confirmation_success=false")
    );
    assert_eq!(
        location(&follow(&app, &new_link).await),
        format!("{LANDING}?account_confirmation_success=true")
    );
}

#[tokio::test]
async fn paranoid_resend_answers_the_same_for_unknown_addresses() {
    let smtp = SmtpServer::start();
    let app = confirmable_app(&smtp, |s| s.paranoid = true).await;

    let resp = app
        .post_json(
            "/auth/confirmation",
            &json!({"email": "nobody@example.com", "redirect_url": LANDING}),
        )
        .await;

    assert_eq!(resp.status(), 200);
    assert_eq!(
        json(resp).await["message"],
        "If your email address exists in our database, you will receive an email with instructions for how to confirm your email address in a few minutes."
    );
    assert!(smtp.messages().is_empty());
}

#[tokio::test]
async fn landing_without_any_redirect_url_is_a_json_404() {
    let smtp = SmtpServer::start();
    let app = confirmable_app(&smtp, |_| {}).await;

    let resp = app
        .request(Method::GET, "/auth/confirmation?confirmation_token=x")
        .send()
        .await
        .unwrap();

    assert_eq!(resp.status(), 404);
    assert_json_content_type(&resp);
}

#[tokio::test]
async fn a_failed_confirmation_mail_leaves_no_account_behind() {
    // Arrange: an SMTP port where nothing listens
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = spawn_app_with(move |s| {
        s.confirmable = true;
        s.mail_transport = MailTransport::Smtp;
        s.smtp_port = closed_port;
        s.smtp_tls = SmtpTls::None;
        s.smtp_timeout = 2;
    })
    .await;

    // Act
    let resp = sign_up_confirmable(&app, "g@example.com").await;

    // Assert
    assert_eq!(resp.status(), 503);
    assert_eq!(
        json(resp).await,
        json!({"success": false, "errors": ["The e-mail could not be sent. Please try again later."]})
    );
    assert!(
        app.store
            .find_email_user("g@example.com")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn file_transport_writes_one_eml_per_message() {
    let dir = tempfile::tempdir().unwrap();
    let mail_dir = dir.path().join("mail");
    let mail_dir_setting = mail_dir.display().to_string();
    let app = spawn_app_with(move |s| {
        s.confirmable = true;
        s.mail_transport = MailTransport::File;
        s.mail_dir = mail_dir_setting;
    })
    .await;

    assert_eq!(
        sign_up_confirmable(&app, "h@example.com").await.status(),
        200
    );

    let files: Vec<_> = std::fs::read_dir(&mail_dir)
        .unwrap()
        .filter_map(Result::ok)
        .collect();
    assert_eq!(files.len(), 1);
    let raw = std::fs::read_to_string(files[0].path()).unwrap();
    assert!(raw.contains("Subject: Confirmation instructions"));
    assert!(raw.contains("To: h@example.com"));
}

#[tokio::test]
async fn a_changed_email_applies_only_once_the_new_address_is_confirmed() {
    // Arrange: a confirmed user, signed in
    let smtp = SmtpServer::start();
    let app = confirmable_app(&smtp, |s| s.batch_request_buffer_throttle = 0).await;
    sign_up_confirmable(&app, "old@example.com").await;
    let link = first_link(&smtp.wait_for(1).await[0].text)
        .replace(&app.settings.public_url(), &app.address);
    follow(&app, &link).await;
    let mut auth = Auth::from_headers(
        app.sign_in_response("old@example.com", "password1")
            .await
            .headers(),
    )
    .unwrap();

    // Act: change the e-mail
    let resp = app
        .authed(Method::PUT, "/auth", &auth)
        .json(&json!({"email": "New@Example.com", "confirm_success_url": LANDING}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    auth.update_from(resp.headers());

    // Assert: nothing changes until the new address confirms
    let body = json(resp).await;
    assert_eq!(body["data"]["email"], "old@example.com");
    assert_eq!(body["data"]["uid"], "old@example.com");
    assert_eq!(auth.uid, "old@example.com");
    let mail = smtp.wait_for(2).await.remove(1);
    assert_eq!(mail.to, "new@example.com");
    assert_eq!(mail.subject, "Confirmation instructions");
    let link = first_link(&mail.text).replace(&app.settings.public_url(), &app.address);
    let landing = follow(&app, &link).await;
    assert_eq!(
        location(&landing),
        format!("{LANDING}?account_confirmation_success=true")
    );

    // The old uid stops authenticating; the same client and token work under the new one.
    let resp = app
        .get_authed("/auth/validate_token", &mut auth.clone())
        .await;
    assert_eq!(resp.status(), 401);
    auth.uid = "new@example.com".into();
    let resp = app.get_authed("/auth/validate_token", &mut auth).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(json(resp).await["data"]["email"], "new@example.com");
    assert_eq!(
        app.sign_in_response("new@example.com", "password1")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn required_starttls_refuses_a_server_without_it() {
    // aiosmtpd here offers no STARTTLS: a transport that requires it must not fall back to
    // plain text, and the sign-up is undone.
    let smtp = SmtpServer::start();
    let app = confirmable_app(&smtp, |s| s.smtp_tls = SmtpTls::Starttls).await;

    let resp = sign_up_confirmable(&app, "tls@example.com").await;

    assert_eq!(resp.status(), 503);
    assert!(smtp.messages().is_empty());
    assert!(
        app.store
            .find_email_user("tls@example.com")
            .await
            .unwrap()
            .is_none()
    );
}

/// Signs `email` up, confirms it through its mail and signs in.
async fn confirmed_and_signed_in(app: &TestApp, smtp: &SmtpServer, email: &str) -> Auth {
    let before = smtp.messages().len();
    sign_up_confirmable(app, email).await;
    let link = first_link(&smtp.wait_for(before + 1).await[before].text)
        .replace(&app.settings.public_url(), &app.address);
    follow(app, &link).await;
    let resp = app.sign_in_response(email, "password1").await;
    assert_eq!(resp.status(), 200);
    Auth::from_headers(resp.headers()).unwrap()
}

/// `PUT /auth` with `body`; the next token goes back into `auth`.
async fn update(app: &TestApp, auth: &mut Auth, body: serde_json::Value) -> reqwest::Response {
    let resp = app
        .authed(Method::PUT, "/auth", auth)
        .json(&body)
        .send()
        .await
        .unwrap();
    auth.update_from(resp.headers());
    resp
}

#[tokio::test]
async fn a_second_email_change_replaces_the_link_of_the_first() {
    // Arrange
    let smtp = SmtpServer::start();
    let app = confirmable_app(&smtp, |s| s.batch_request_buffer_throttle = 0).await;
    let mut auth = confirmed_and_signed_in(&app, &smtp, "first@example.com").await;

    // Act: two changes in a row, each mailed to its new address
    let one = update(
        &app,
        &mut auth,
        json!({"email": "a@example.com", "confirm_success_url": LANDING}),
    )
    .await;
    let two = update(
        &app,
        &mut auth,
        json!({"email": "b@example.com", "confirm_success_url": LANDING}),
    )
    .await;
    assert_eq!((one.status().as_u16(), two.status().as_u16()), (200, 200));
    let mails = smtp.wait_for(3).await;
    assert_eq!(
        (mails[1].to.as_str(), mails[2].to.as_str()),
        ("a@example.com", "b@example.com")
    );
    let link_a = first_link(&mails[1].text).replace(&app.settings.public_url(), &app.address);
    let link_b = first_link(&mails[2].text).replace(&app.settings.public_url(), &app.address);

    // Assert: the link sent to a@ can no longer confirm anything; b@'s applies b@
    assert_ne!(token_of(&link_a), token_of(&link_b));
    assert_eq!(
        location(&follow(&app, &link_a).await),
        format!("{LANDING}?account_confirmation_success=false")
    );
    assert_eq!(
        location(&follow(&app, &link_b).await),
        format!("{LANDING}?account_confirmation_success=true")
    );
    let user = app
        .store
        .find_email_user("b@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.uid, "b@example.com");
    assert!(
        app.store
            .find_email_user("a@example.com")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn an_email_change_without_confirm_success_url_is_confirmed_on_tokers_page() {
    // Arrange: ng-token-auth's updateAccount sends no confirm_success_url, and no default is set
    let smtp = SmtpServer::start();
    let app = confirmable_app(&smtp, |s| s.batch_request_buffer_throttle = 0).await;
    let mut auth = confirmed_and_signed_in(&app, &smtp, "ng@example.com").await;
    let resp = update(&app, &mut auth, json!({"email": "ng-new@example.com"})).await;
    assert_eq!(resp.status(), 200);
    let mail = smtp.wait_for(2).await.remove(1);
    assert_eq!(mail.to, "ng-new@example.com");
    let link = first_link(&mail.text).replace(&app.settings.public_url(), &app.address);

    // Act
    let landing = follow(&app, &link).await;
    let again = follow(&app, &link).await;

    // Assert: confirmed, on a page that says so; a used link is the JSON 404 of §2.11
    assert!(!link.contains("redirect_url"), "{link}");
    assert_eq!(landing.status(), 200);
    assert!(
        landing.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
    );
    assert!(
        landing.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    assert!(landing.text().await.unwrap().contains("has been confirmed"));
    let user = app
        .store
        .find_email_user("ng-new@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.uid, "ng-new@example.com");
    assert_eq!(again.status(), 404);
    assert_json_content_type(&again);
}

#[tokio::test]
async fn an_email_change_without_confirm_success_url_lands_on_the_default() {
    // Arrange
    let smtp = SmtpServer::start();
    let app = confirmable_app(&smtp, |s| {
        s.batch_request_buffer_throttle = 0;
        s.default_confirm_success_url = Some("https://app.example.com/#/confirmed".into());
    })
    .await;
    let mut auth = confirmed_and_signed_in(&app, &smtp, "dflt@example.com").await;
    update(&app, &mut auth, json!({"email": "dflt-new@example.com"})).await;
    let link = first_link(&smtp.wait_for(2).await[1].text)
        .replace(&app.settings.public_url(), &app.address);

    // Act
    let landing = follow(&app, &link).await;

    // Assert
    assert_eq!(
        location(&landing),
        "https://app.example.com/?account_confirmation_success=true#/confirmed?account_confirmation_success=true"
    );
    assert!(
        app.store
            .find_email_user("dflt-new@example.com")
            .await
            .unwrap()
            .is_some()
    );
}
