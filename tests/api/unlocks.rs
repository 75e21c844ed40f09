//! Lockable over real SMTP (docs/contract.md §2.4, §2.12–2.13): failed sign-ins lock the account, the
//! unlock mail's link unlocks it, time unlocks it, paranoid mode hides all of it.

use reqwest::Method;
use serde_json::json;
use toker::config::{Settings, UnlockStrategy};

use crate::{
    helpers::*,
    support::smtp::{SmtpServer, first_link},
};

const UNLOCKED: &str = "https://app.example.com/unlocked";
const LOCKED_TEXT: &str =
    "Your account has been locked due to an excessive number of unsuccessful sign in attempts.";
const BAD_CREDENTIALS: &str = "Invalid login credentials. Please try again.";

async fn lockable_app(smtp: &SmtpServer, configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_mailing_to(smtp.port, move |s| {
        s.lockable = true;
        s.maximum_attempts = 3;
        s.unlock_success_url = Some(UNLOCKED.into());
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

/// Sends `n` sign-ins for `email` at once, each on its own connection, to `base`.
async fn parallel_sign_ins(
    base: &str,
    email: &str,
    password: &str,
    n: usize,
) -> Vec<(u16, String)> {
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (url, barrier) = (format!("{base}/auth/sign_in"), barrier.clone());
            let body = json!({"email": email, "password": password});
            tokio::spawn(async move {
                let request = client().post(url).json(&body);
                barrier.wait().await;
                let resp = request.send().await.expect("request");
                let status = resp.status().as_u16();
                let body = json(resp).await;
                (
                    status,
                    body["errors"][0].as_str().unwrap_or_default().to_string(),
                )
            })
        })
        .collect();
    futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.expect("sign-in task"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_wrong_guesses_check_no_more_passwords_than_maximum_attempts() {
    // Arrange
    let smtp = SmtpServer::start();
    let app = lockable_app(&smtp, |_| {}).await;
    app.sign_up("lock@example.com", "password1").await;

    // Act: twenty wrong guesses at once against an account that allows three
    let answers = parallel_sign_ins(&app.address, "lock@example.com", "wrong", 20).await;

    // Assert: every guess was refused, only three were counted (each counted attempt is one
    // checked password), the account is locked and one unlock mail went out
    assert!(
        answers.iter().all(|(status, _)| *status == 401),
        "{answers:?}"
    );
    let user = app
        .store
        .find_email_user("lock@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.failed_attempts, 3);
    assert!(user.locked_at.is_some());
    assert_eq!(sign_in_message(&app, "password1").await.1, LOCKED_TEXT);
    assert_eq!(smtp.wait_for(1).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_right_password_checked_while_parallel_guesses_lock_the_account_is_refused() {
    // Arrange: two instances on one database, bcrypt slow enough to queue behind. Instance A's
    // password hashing is kept busy by sign-ups, so the right password sent to A waits there
    // while wrong guesses on instance B lock the account.
    let smtp = SmtpServer::start();
    let a = lockable_app(&smtp, |s| s.password_cost = 10).await;
    let b = a.spawn_sibling().await;
    a.sign_up("lock@example.com", "password1").await;
    let lock_id = a.user_id("lock@example.com").await;
    let bcrypt_lanes = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .max(2)
        - 1;
    let busy: Vec<_> = (0..8 * bcrypt_lanes)
        .map(|i| {
            let url = a.url("/auth");
            tokio::spawn(async move {
                let email = format!("busy{i}@example.com");
                client()
                    .post(url)
                    .json(&json!({"email": email, "password": "password1", "password_confirmation": "password1"}))
                    .send()
                    .await
                    .expect("busy sign-up")
                    .status()
            })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;

    // Act: the right password on A; once it holds its attempt, three wrong ones on B
    let right = {
        let url = a.url("/auth/sign_in");
        tokio::spawn(async move {
            let resp = client()
                .post(url)
                .json(&json!({"email": "lock@example.com", "password": "password1"}))
                .send()
                .await
                .expect("sign-in");
            let status = resp.status().as_u16();
            (status, json(resp).await)
        })
    };
    // It takes its attempt before queueing for bcrypt; give it at most a second to get there.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    while std::time::Instant::now() < deadline {
        let user = a.store.find_user(lock_id).await.unwrap().unwrap();
        if user.failed_attempts == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let wrong = parallel_sign_ins(&b.address, "lock@example.com", "wrong", 3).await;
    let (status, body) = right.await.unwrap();
    for task in busy {
        assert_eq!(task.await.unwrap(), 200);
    }

    // Assert: the guesses locked the account, and the right password, checked meanwhile, did
    // not get in (the one device is the sign-up's)
    assert!(wrong.iter().all(|(s, _)| *s == 401), "{wrong:?}");
    let user = a.store.find_user(lock_id).await.unwrap().unwrap();
    assert!(user.locked_at.is_some(), "{user:?}");
    assert_eq!(
        (status, body["errors"][0].clone()),
        (401, json!(LOCKED_TEXT))
    );
    assert_eq!(a.store.devices_of(lock_id).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unlock_link_clicked_twice_at_once_signs_in_once() {
    // Arrange
    let smtp = SmtpServer::start();
    let app = lockable_app(&smtp, |_| {}).await;
    app.sign_up("lock@example.com", "password1").await;
    for _ in 0..3 {
        sign_in_message(&app, "wrong").await;
    }
    let link = local(&app, &first_link(&smtp.wait_for(1).await[0].text));

    // Act
    let clicks = (0..8).map(|_| client().get(&link).send());
    let statuses: Vec<u16> = futures::future::join_all(clicks)
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();

    // Assert
    assert_eq!(
        statuses.iter().filter(|s| **s == 302).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 404).count(),
        7,
        "{statuses:?}"
    );
    // The sign-up's device and the one the link signed in.
    let user_id = app.user_id("lock@example.com").await;
    assert_eq!(app.store.devices_of(user_id).await.unwrap().len(), 2);
}

#[tokio::test]
async fn an_unlock_link_expires_after_unlock_within() {
    // Arrange
    let smtp = SmtpServer::start();
    let app = lockable_app(&smtp, |s| s.unlock_within = 1).await;
    app.sign_up("lock@example.com", "password1").await;
    for _ in 0..3 {
        sign_in_message(&app, "wrong").await;
    }
    let old_link = local(&app, &first_link(&smtp.wait_for(1).await[0].text));
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;

    // Act
    let expired = app.client.get(&old_link).send().await.unwrap();
    app.post_json("/auth/unlock", &json!({"email": "lock@example.com"}))
        .await;
    let new_link = local(&app, &first_link(&smtp.wait_for(2).await[1].text));
    let fresh = app.client.get(&new_link).send().await.unwrap();

    // Assert
    assert_eq!(expired.status(), 404);
    assert_eq!(
        json(expired).await,
        json!({"success": false, "errors": ["Unlock token is invalid."]})
    );
    assert_eq!(fresh.status(), 302);
    assert_eq!(sign_in_message(&app, "password1").await.0, 200);
}

#[tokio::test]
async fn a_new_password_withdraws_a_pending_unlock_link() {
    // Arrange: an unlock link is out, then the password changes
    let smtp = SmtpServer::start();
    let app = lockable_app(&smtp, |_| {}).await;
    let auth = app.signed_in_user("lock@example.com").await;
    app.post_json("/auth/unlock", &json!({"email": "lock@example.com"}))
        .await;
    let link = local(&app, &first_link(&smtp.wait_for(1).await[0].text));
    let changed = app
        .authed(Method::PUT, "/auth/password", &auth)
        .json(&json!({"password": "password2", "password_confirmation": "password2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);

    // Act
    let resp = app.client.get(&link).send().await.unwrap();

    // Assert
    assert_eq!(resp.status(), 404);
}
