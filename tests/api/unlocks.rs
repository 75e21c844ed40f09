//! Lockable over real SMTP (docs/contract.md §2.4, §2.12–2.13): failed sign-ins lock the account, the
//! unlock mail's link unlocks it, time unlocks it, paranoid mode hides all of it.

use reqwest::Method;
use serde_json::json;
use toker::config::{MailTransport, Settings, SmtpTls, UnlockStrategy};

use crate::{
    helpers::*,
    support::smtp::{SmtpServer, first_link},
};

const UNLOCKED: &str = "https://app.example.com/unlocked";
const LOCKED_TEXT: &str =
    "Your account has been locked due to an excessive number of unsuccessful sign in attempts.";
const BAD_CREDENTIALS: &str = "Invalid login credentials. Please try again.";

async fn lockable_app(smtp: &SmtpServer, configure: impl FnOnce(&mut Settings)) -> TestApp {
    let port = smtp.port;
    spawn_app_with(move |s| {
        s.lockable = true;
        s.maximum_attempts = 3;
        s.unlock_success_url = Some(UNLOCKED.into());
        s.mail_transport = MailTransport::Smtp;
        s.smtp_port = port;
        s.smtp_tls = SmtpTls::None;
        configure(s);
    })
    .await
}

async fn sign_in_message(app: &TestApp, password: &str) -> (u16, String) {
    let resp = app.sign_in_response("lock@example.com", password).await;
    let status = resp.status().as_u16();
    let body = json(resp).await;
    (
        status,
        body["errors"][0].as_str().unwrap_or_default().to_string(),
    )
}

fn local(app: &TestApp, link: &str) -> String {
    link.replace(&app.settings.public_url(), &app.address)
}

#[tokio::test]
async fn failed_sign_ins_lock_the_account_and_the_mailed_link_unlocks_it() {
    // Arrange
    let smtp = SmtpServer::start();
    let app = lockable_app(&smtp, |_| {}).await;
    app.sign_up("lock@example.com", "password1").await;

    // Act: three wrong passwords; the third locks (and still reads "bad credentials")
    for _ in 0..3 {
        assert_eq!(
            sign_in_message(&app, "wrong").await,
            (401, BAD_CREDENTIALS.into())
        );
    }

    // Assert: locked, even with the right password
    assert_eq!(
        sign_in_message(&app, "password1").await,
        (401, LOCKED_TEXT.into())
    );
    let mail = smtp.wait_for(1).await.remove(0);
    assert_eq!(mail.subject, "Unlock instructions");
    assert_eq!(mail.to, "lock@example.com");
    assert!(mail.text.contains(LOCKED_TEXT));
    assert!(
        mail.text
            .contains("Click the link below to unlock your account:")
    );
    assert!(mail.html.contains("Unlock my account"));
    let link = first_link(&mail.text);
    assert!(
        link.starts_with(&format!(
            "{}/auth/unlock?config=default&unlock_token=",
            app.settings.public_url()
        )),
        "{link}"
    );

    // Act: follow the link
    let resp = app.client.get(local(&app, &link)).send().await.unwrap();

    // Assert: 302 with a new device's credentials and unlock=true; sign-in works again
    assert_eq!(resp.status(), 302);
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with(&format!("{UNLOCKED}?access-token=")),
        "{location}"
    );
    assert!(location.contains("&unlock=true"), "{location}");
    let url = url::Url::parse(&location).unwrap();
    let get = |k: &str| {
        url.query_pairs()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.into_owned())
            .unwrap()
    };
    let mut auth = Auth {
        token: get("access-token"),
        client: get("client"),
        uid: get("uid"),
        expiry: get("expiry"),
    };
    assert_eq!(get("token"), auth.token);
    assert_eq!(get("client_id"), auth.client);
    assert_eq!(
        app.get_authed("/auth/validate_token", &mut auth)
            .await
            .status(),
        200
    );
    assert_eq!(
        app.sign_in_response("lock@example.com", "password1")
            .await
            .status(),
        200
    );
    // The link is spent.
    let again = app.client.get(local(&app, &link)).send().await.unwrap();
    assert_eq!(again.status(), 404);
    assert_json_content_type(&again);
}

#[tokio::test]
async fn a_successful_sign_in_resets_the_failed_attempts() {
    let smtp = SmtpServer::start();
    let app = lockable_app(&smtp, |_| {}).await;
    app.sign_up("lock@example.com", "password1").await;

    for _ in 0..2 {
        sign_in_message(&app, "wrong").await;
    }
    assert_eq!(sign_in_message(&app, "password1").await.0, 200);
    for _ in 0..2 {
        sign_in_message(&app, "wrong").await;
    }

    assert_eq!(sign_in_message(&app, "password1").await.0, 200);
    assert!(smtp.messages().is_empty());
}

#[tokio::test]
async fn the_last_attempt_warning_comes_before_the_lock() {
    let smtp = SmtpServer::start();
    let app = lockable_app(&smtp, |s| s.last_attempt_warning = true).await;
    app.sign_up("lock@example.com", "password1").await;

    let first = sign_in_message(&app, "wrong").await;
    let second = sign_in_message(&app, "wrong").await;
    let third = sign_in_message(&app, "wrong").await;

    assert_eq!(first, (401, BAD_CREDENTIALS.into()));
    assert_eq!(
        second,
        (
            401,
            "You have one more attempt before your account is locked.".into()
        )
    );
    assert_eq!(third, (401, BAD_CREDENTIALS.into()));
    assert_eq!(
        sign_in_message(&app, "password1").await,
        (401, LOCKED_TEXT.into())
    );
}

#[tokio::test]
async fn a_time_unlock_expires_by_itself() {
    let smtp = SmtpServer::start();
    let app = lockable_app(&smtp, |s| {
        s.unlock_strategy = UnlockStrategy::Time;
        s.unlock_in = 1;
    })
    .await;
    app.sign_up("lock@example.com", "password1").await;
    for _ in 0..3 {
        sign_in_message(&app, "wrong").await;
    }
    assert_eq!(sign_in_message(&app, "password1").await.1, LOCKED_TEXT);

    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;

    assert_eq!(sign_in_message(&app, "password1").await.0, 200);
    // Time-only unlocking mails nothing and offers no unlock route.
    assert!(smtp.messages().is_empty());
    let resp = app
        .post_json("/auth/unlock", &json!({"email": "lock@example.com"}))
        .await;
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn unlock_requests_follow_the_contract() {
    let smtp = SmtpServer::start();
    let app = lockable_app(&smtp, |_| {}).await;
    app.sign_up("lock@example.com", "password1").await;

    let missing = app.post_json("/auth/unlock", &json!({})).await;
    let unknown = app
        .post_json("/auth/unlock", &json!({"email": "who@example.com"}))
        .await;
    let known = app
        .post_json("/auth/unlock", &json!({"email": "LOCK@example.com"}))
        .await;
    let forged = app
        .request(Method::GET, "/auth/unlock?unlock_token=forged")
        .send()
        .await
        .unwrap();

    assert_eq!(missing.status(), 401);
    assert_eq!(
        json(missing).await,
        json!({"success": false, "errors": ["You must provide an email address."]})
    );
    assert_eq!(unknown.status(), 404);
    assert_eq!(
        json(unknown).await,
        json!({"success": false, "errors": ["Unable to find user with email 'who@example.com'."]})
    );
    assert_eq!(known.status(), 200);
    assert_eq!(
        json(known).await,
        json!({"success": true, "message": "An email has been sent to 'lock@example.com' containing instructions for unlocking your account."})
    );
    assert_eq!(smtp.wait_for(1).await[0].subject, "Unlock instructions");
    assert_eq!(forged.status(), 404);
}

#[tokio::test]
async fn paranoid_mode_hides_locks_and_unknown_addresses() {
    let smtp = SmtpServer::start();
    let app = lockable_app(&smtp, |s| s.paranoid = true).await;
    app.sign_up("lock@example.com", "password1").await;
    for _ in 0..3 {
        sign_in_message(&app, "wrong").await;
    }

    let locked = sign_in_message(&app, "password1").await;
    let unknown = app
        .post_json("/auth/unlock", &json!({"email": "who@example.com"}))
        .await;

    assert_eq!(locked, (401, BAD_CREDENTIALS.into()));
    assert_eq!(unknown.status(), 200);
    assert_eq!(
        json(unknown).await["message"],
        "If your account exists, you will receive an email with instructions for how to unlock it in a few minutes."
    );
}

#[tokio::test]
async fn parallel_failed_sign_ins_all_count() {
    let smtp = SmtpServer::start();
    let app = lockable_app(&smtp, |s| s.maximum_attempts = 10).await;
    app.sign_up("lock@example.com", "password1").await;

    let attempts = (0..10).map(|_| app.sign_in_response("lock@example.com", "wrong"));
    futures::future::join_all(attempts).await;

    assert_eq!(sign_in_message(&app, "password1").await.1, LOCKED_TEXT);
    // Exactly one unlock mail, however many attempts raced to the lock.
    assert_eq!(smtp.wait_for(1).await.len(), 1);
}
