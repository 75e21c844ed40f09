//! Real parallel requests with one device's token (docs/decisions.md D3): rotation is a
//! compare-and-swap, so concurrent requests — across tasks, app instances and `toker serve`
//! processes sharing one database — never get a 401 and never lose a token.

use std::{collections::HashSet, sync::Arc, time::Duration};

use reqwest::{Method, Response};
use sha2::{Digest, Sha256};
use tokio::sync::Barrier;

use crate::{helpers::*, support::serve::Serve};

/// Just over the 1 s batch window the tests use.
const PAST_WINDOW: Duration = Duration::from_millis(1100);

fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One answer of a burst: its status and the credentials it carried, if any.
#[derive(Debug)]
struct Answer {
    status: u16,
    auth: Option<Auth>,
}

/// Sends `n` requests at once, request `i` to `bases[i % bases.len()]`, each from its own
/// fresh client (so on its own connection), all with `auth`.
async fn burst(bases: &[String], path: &str, auth: &Auth, n: usize) -> Vec<Answer> {
    let barrier = Arc::new(Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let url = format!("{}{}", bases[i % bases.len()], path);
            let auth = auth.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                let client = client();
                let request = auth.apply(client.request(Method::GET, url));
                barrier.wait().await;
                let resp: Response = request.send().await.expect("request");
                Answer {
                    status: resp.status().as_u16(),
                    auth: Auth::from_headers(resp.headers()),
                }
            })
        })
        .collect();
    futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.expect("request task"))
        .collect()
}

fn assert_no_401(answers: &[Answer]) {
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    assert!(statuses.iter().all(|s| *s == 200), "statuses: {statuses:?}");
}

/// The new credentials of a burst, which must hold exactly one rotation.
fn the_one_new_token(answers: &[Answer], sent: &Auth) -> Auth {
    let carried: Vec<&Auth> = answers.iter().filter_map(|a| a.auth.as_ref()).collect();
    assert_eq!(
        carried.len(),
        1,
        "exactly one response rotates, the rest are batch responses: {carried:?}"
    );
    let next = carried[0].clone();
    assert_ne!(next.token, sent.token);
    assert_eq!(next.client, sent.client);
    next
}

async fn status_at(base: &str, path: &str, auth: &Auth) -> u16 {
    auth.apply(client().get(format!("{base}{path}")))
        .send()
        .await
        .expect("request")
        .status()
        .as_u16()
}

/// A frontend on one device whose requests a load balancer spreads over `bases`: several rounds,
/// each after the batch window so a rotation happens, each a parallel burst; the frontend keeps
/// the token the burst handed out. After every round that token works on every instance.
async fn alternate_rounds(bases: &[String], mut auth: Auth) -> Auth {
    for round in 0..3 {
        tokio::time::sleep(PAST_WINDOW).await;
        let path = if round % 2 == 0 {
            "/api/me"
        } else {
            "/auth/validate_token"
        };
        let answers = burst(bases, path, &auth, 20).await;
        assert_no_401(&answers);
        let next = the_one_new_token(&answers, &auth);
        auth = next;
        for base in bases {
            assert_eq!(
                status_at(base, "/auth/validate_token", &auth).await,
                200,
                "round {round}: the latest token fails on {base}"
            );
        }
    }
    auth
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_parallel_requests_with_one_token_rotate_exactly_once() {
    // Arrange
    let app = spawn_app_with(|s| s.batch_request_buffer_throttle = 1).await;
    let auth = app.signed_in_user("burst@example.com").await;
    let user_id = app.user_id("burst@example.com").await;
    tokio::time::sleep(PAST_WINDOW).await;

    // Act
    let answers = burst(std::slice::from_ref(&app.address), "/api/me", &auth, 50).await;

    // Assert: nobody refused, one rotation, and the database holds exactly that chain
    assert_no_401(&answers);
    let next = the_one_new_token(&answers, &auth);
    let devices = app.store.devices_of(user_id).await.expect("devices");
    let device = devices.iter().find(|d| d.client == auth.client).unwrap();
    assert_eq!(device.token_hash, sha256_hex(&next.token));
    assert_eq!(
        device.previous_token_hash.as_deref(),
        Some(sha256_hex(&auth.token).as_str())
    );
    assert_eq!(status_at(&app.address, "/api/me", &next).await, 200);
    assert_eq!(status_at(&app.address, "/api/me", &auth).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_parallel_unbatched_requests_leave_a_chain_of_returned_tokens() {
    // Arrange
    let app = spawn_app_with(|s| s.batch_request_buffer_throttle = 1).await;
    let auth = app.signed_in_user("unbatched@example.com").await;
    let user_id = app.user_id("unbatched@example.com").await;
    tokio::time::sleep(PAST_WINDOW).await;

    // Act: every request asks to rotate
    let answers = burst(
        std::slice::from_ref(&app.address),
        "/api/me?unbatch=1",
        &auth,
        50,
    )
    .await;

    // Assert: no 401; every handed-out token is new and distinct
    assert_no_401(&answers);
    let returned: Vec<&Auth> = answers.iter().filter_map(|a| a.auth.as_ref()).collect();
    assert!(!returned.is_empty(), "at least one request rotates");
    let distinct: HashSet<&str> = returned.iter().map(|a| a.token.as_str()).collect();
    assert_eq!(
        distinct.len(),
        returned.len(),
        "a token was handed out twice"
    );
    assert!(!distinct.contains(auth.token.as_str()));
    assert!(returned.iter().all(|a| a.client == auth.client));
    // The stored chain is made of tokens the clients received (nothing lost).
    let hashes: HashSet<String> = returned.iter().map(|a| sha256_hex(&a.token)).collect();
    let devices = app.store.devices_of(user_id).await.expect("devices");
    let device = devices.iter().find(|d| d.client == auth.client).unwrap();
    assert!(
        hashes.contains(&device.token_hash),
        "current token never returned"
    );
    let previous = device.previous_token_hash.clone().expect("previous token");
    assert!(
        hashes.contains(&previous) || previous == sha256_hex(&auth.token),
        "previous token is neither returned nor the original"
    );
    let current = returned
        .iter()
        .find(|a| sha256_hex(&a.token) == device.token_hash)
        .unwrap();
    assert_eq!(status_at(&app.address, "/api/me", current).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_app_instances_on_one_database_never_refuse_or_lose_a_token() {
    // Arrange
    let app = spawn_app_with(|s| s.batch_request_buffer_throttle = 1).await;
    let sibling = app.spawn_sibling().await;
    let auth = app.signed_in_user("siblings@example.com").await;
    let user_id = app.user_id("siblings@example.com").await;

    // Act
    let last = alternate_rounds(&[app.address.clone(), sibling.address.clone()], auth).await;

    // Assert
    let devices = sibling.store.devices_of(user_id).await.expect("devices");
    let device = devices.iter().find(|d| d.client == last.client).unwrap();
    assert_eq!(device.token_hash, sha256_hex(&last.token));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_toker_serve_processes_on_one_database_never_refuse_or_lose_a_token() {
    // Arrange: the user signs in through an in-process app; two real servers share its database
    let app = spawn_app_with(|s| s.batch_request_buffer_throttle = 1).await;
    let auth = app.signed_in_user("processes@example.com").await;
    let user_id = app.user_id("processes@example.com").await;
    let first = Serve::start(&app.db.url, &[]).await;
    let second = Serve::start(&app.db.url, &[]).await;
    assert_ne!(first.address, second.address);

    // Act
    let last = alternate_rounds(&[first.address.clone(), second.address.clone()], auth).await;

    // Assert
    let devices = app.store.devices_of(user_id).await.expect("devices");
    let device = devices.iter().find(|d| d.client == last.client).unwrap();
    assert_eq!(device.token_hash, sha256_hex(&last.token));
    drop((first, second));
}

/// Many devices rotating at once: their writes share rounds of the store's token writer, and
/// each row's compare-and-swap must come out as if it ran alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_devices_rotating_at_once_each_keep_their_own_chain() {
    // Arrange: 16 devices (8 users × 2 clients), rotation on every request
    let app = spawn_app_with(|s| s.batch_request_buffer_throttle = 0).await;
    let mut devices = Vec::new();
    for i in 0..8 {
        let email = format!("fleet{i}@example.com");
        devices.push(app.signed_in_user(&email).await);
        let second = app.sign_in_response(&email, "password1").await;
        assert_eq!(second.status(), 200);
        devices.push(Auth::from_headers(second.headers()).expect("credentials"));
    }

    for round in 0..5 {
        // Act: every device sends one request, all at once
        let barrier = Arc::new(Barrier::new(devices.len()));
        let tasks: Vec<_> = devices
            .iter()
            .map(|auth| {
                let request = auth.apply(client().get(app.url("/api/me")));
                let barrier = barrier.clone();
                tokio::spawn(async move {
                    barrier.wait().await;
                    let resp = request.send().await.expect("request");
                    (resp.status().as_u16(), Auth::from_headers(resp.headers()))
                })
            })
            .collect();
        let answers: Vec<_> = futures::future::join_all(tasks)
            .await
            .into_iter()
            .map(|r| r.expect("task"))
            .collect();

        // Assert: each device rotated to a token of its own, which is the one stored
        for (auth, (status, next)) in devices.iter_mut().zip(answers) {
            assert_eq!(status, 200, "round {round}");
            let next = next.unwrap_or_else(|| panic!("round {round}: no new token"));
            assert_eq!(next.client, auth.client);
            assert_eq!(next.uid, auth.uid);
            assert_ne!(next.token, auth.token);
            *auth = next;
        }
        let distinct: HashSet<&str> = devices.iter().map(|a| a.token.as_str()).collect();
        assert_eq!(
            distinct.len(),
            devices.len(),
            "round {round}: a token was reused"
        );
    }
    for auth in &devices {
        let user_id = app.user_id(&auth.uid).await;
        let stored = app.store.devices_of(user_id).await.expect("devices");
        let device = stored.iter().find(|d| d.client == auth.client).unwrap();
        assert_eq!(device.token_hash, sha256_hex(&auth.token));
        assert_eq!(device.version, 5);
    }
}

/// Two instances rotate the same devices at once, their requests arriving in opposite orders:
/// each instance's writer applies its round in id order, so the databases never see two rounds
/// lock shared rows in opposite orders (a deadlock on MariaDB, which fails the whole round).
/// With `batch_response = "blank"` every answer carries headers: a new token, or the blanks of
/// a request that lost the race. An answer without them is a write that failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_rotating_the_same_devices_in_opposite_orders_never_fail_a_write() {
    // Arrange: 30 devices (3 users × 10 clients), rotation on every request
    let app = spawn_app_with(|s| {
        s.batch_request_buffer_throttle = 0;
        s.batch_response = toker::config::BatchResponse::Blank;
    })
    .await;
    let sibling = app.spawn_sibling().await;
    let mut devices = Vec::new();
    for i in 0..3 {
        let email = format!("order{i}@example.com");
        devices.push(app.signed_in_user(&email).await);
        for _ in 1..10 {
            let resp = app.sign_in_response(&email, "password1").await;
            devices.push(Auth::from_headers(resp.headers()).expect("credentials"));
        }
    }

    for round in 0..6 {
        // Act: every device once on each instance, ascending on one and descending on the other
        let n = devices.len();
        let barrier = Arc::new(Barrier::new(2 * n));
        let mut tasks = Vec::new();
        for (base, order) in [
            (&app, (0..n).collect::<Vec<_>>()),
            (&sibling, (0..n).rev().collect()),
        ] {
            for i in order {
                let request = devices[i].apply(client().get(base.url("/api/me?unbatch=1")));
                let barrier = barrier.clone();
                tasks.push(tokio::spawn(async move {
                    barrier.wait().await;
                    let resp = request.send().await.expect("request");
                    let headers = resp.headers().clone();
                    (i, resp.status().as_u16(), headers)
                }));
            }
        }
        let answers: Vec<_> = futures::future::join_all(tasks)
            .await
            .into_iter()
            .map(|r| r.expect("task"))
            .collect();

        // Assert: every answer carries a new token or the batch blanks; each device rotated
        // exactly once (one of its two requests won the compare-and-swap)
        let mut rotated = vec![0; n];
        for (i, status, headers) in answers {
            assert_eq!(status, 200, "round {round}");
            let token = headers.get("access-token").and_then(|v| v.to_str().ok());
            match token {
                // The single space arrives trimmed.
                Some(blank) if blank.trim().is_empty() => {}
                Some(_) => {
                    rotated[i] += 1;
                    devices[i] = Auth::from_headers(&headers).expect("credentials");
                }
                None => panic!("round {round}: device {i} answered without auth headers"),
            }
        }
        assert!(
            rotated.iter().all(|r| *r == 1),
            "round {round}: {rotated:?}"
        );
    }
}

/// Three writers to one account at the same moment: wrong passwords locking it, a reset
/// request storing a reset token, and an account update that read the account before either
/// and saves after both (it waits behind the wrong passwords' bcrypt). Each writes only its
/// own columns, so nothing the others wrote is undone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lock_a_reset_request_and_an_account_update_at_once_all_stick() {
    // Arrange
    let smtp = crate::support::smtp::SmtpServer::start();
    let app = spawn_app_mailing_to(smtp.port, |s| {
        s.lockable = true;
        s.maximum_attempts = 3;
        s.password_cost = 10;
        s.account_update_attributes = vec!["name".into()];
    })
    .await;
    let auth = app.signed_in_user("race@example.com").await;
    let sign_in = |password: &'static str| {
        let url = app.url("/auth/sign_in");
        tokio::spawn(async move {
            client()
                .post(url)
                .json(&serde_json::json!({"email": "race@example.com", "password": password}))
                .send()
                .await
                .expect("sign-in")
                .status()
                .as_u16()
        })
    };

    // Act
    let guesses: Vec<_> = (0..3).map(|_| sign_in("wrong")).collect();
    tokio::time::sleep(Duration::from_millis(30)).await;
    let update = {
        let request = auth
            .apply(client().put(app.url("/auth")))
            .json(&serde_json::json!({"name": "Racer", "current_password": "password1"}));
        tokio::spawn(async move { request.send().await.expect("update").status().as_u16() })
    };
    tokio::time::sleep(Duration::from_millis(30)).await;
    let reset = app
        .post_json(
            "/auth/password",
            &serde_json::json!({"email": "race@example.com", "redirect_url": "https://app.example.com/reset"}),
        )
        .await;
    for guess in guesses {
        assert_eq!(guess.await.unwrap(), 401);
    }
    assert_eq!(update.await.unwrap(), 200);

    // Assert: locked, the reset link works, and the name changed
    assert_eq!(reset.status(), 200);
    let user = app
        .store
        .find_email_user("race@example.com")
        .await
        .unwrap()
        .unwrap();
    assert!(user.locked_at.is_some(), "the lock was undone: {user:?}");
    assert_eq!(user.name.as_deref(), Some("Racer"));
    let mails = smtp.wait_for(2).await;
    let reset_mail = mails
        .iter()
        .find(|m| m.subject == "Reset password instructions")
        .expect("reset mail");
    let link = crate::support::smtp::first_link(&reset_mail.text)
        .replace(&app.settings.public_url(), &app.address);
    let landing = app.client.get(&link).send().await.unwrap();
    assert_eq!(landing.status(), 302, "the reset token was undone");
}
