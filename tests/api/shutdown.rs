//! Graceful shutdown (issue 14 §3): SIGTERM stops accepting, lets the requests in flight and the
//! token writer's queue finish within `shutdown_timeout`, and exits 0 after a last SQLite
//! checkpoint that leaves no WAL behind. No rotation a client received is lost across a restart
//! under load.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use futures::StreamExt;
use reqwest::Method;
use toker::startup::Application;
use tokio::sync::{Notify, oneshot};

use crate::{
    helpers::{Auth, client, fresh_database, test_settings},
    support::serve::Serve,
};

/// A sign-up whose body arrives in two parts, the second once `release` is notified.
fn slow_sign_up(
    base: &str,
    email: &str,
    release: Arc<Notify>,
) -> tokio::task::JoinHandle<reqwest::Result<reqwest::Response>> {
    let first = format!(r#"{{"email":"{email}","#);
    let second = r#""password":"password1","password_confirmation":"password1"}"#;
    let parts = futures::stream::iter([0, 1]).then(move |i| {
        let (release, first) = (release.clone(), first.clone());
        async move {
            if i == 1 {
                release.notified().await;
                return Ok::<_, std::io::Error>(second.to_string());
            }
            Ok(first)
        }
    });
    let request = client()
        .post(format!("{base}/auth"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(parts));
    tokio::spawn(request.send())
}

#[tokio::test]
async fn shutdown_stops_accepting_and_finishes_the_request_in_flight() {
    let db = fresh_database().await;
    let app = Application::build(test_settings(&db.url)).await.unwrap();
    let port = app.port();
    let base = format!("http://127.0.0.1:{port}");
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    let release = Arc::new(Notify::new());
    let in_flight = slow_sign_up(&base, "slow@example.com", release.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;

    stop.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "a new connection was accepted after the shutdown signal"
    );
    assert!(!server.is_finished(), "stopped with a request in flight");

    release.notify_one();
    let resp = in_flight
        .await
        .unwrap()
        .expect("the request in flight is answered");
    assert_eq!(resp.status(), 200);
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("stops once the request is answered")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn shutdown_timeout_bounds_the_wait_for_a_stuck_request() {
    let db = fresh_database().await;
    let mut settings = test_settings(&db.url);
    settings.shutdown_timeout = 1;
    let app = Application::build(settings).await.unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    // Its body never ends (body_read_timeout is 30 s).
    let _stuck = slow_sign_up(&base, "stuck@example.com", Arc::new(Notify::new()));
    tokio::time::sleep(Duration::from_millis(300)).await;

    let started = Instant::now();
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("stops at shutdown_timeout")
        .unwrap()
        .unwrap();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
}

/// Signs up `email` and signs in: the device's credentials.
async fn device(base: &str, email: &str) -> Auth {
    let http = client();
    let body = serde_json::json!({
        "email": email,
        "password": "password1",
        "password_confirmation": "password1",
    });
    let resp = http
        .post(format!("{base}/auth"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = http
        .post(format!("{base}/auth/sign_in"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    Auth::from_headers(resp.headers()).unwrap()
}

#[tokio::test]
async fn no_rotation_is_lost_across_a_sigterm_restart_under_load() {
    const DEVICES: usize = 8;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("toker.db");
    let url = format!("sqlite://{}?mode=rwc", file.display());
    // Every request rotates (no batch window), so each answer carries a token the next
    // request must present.
    let env = [("TOKER_BATCH_REQUEST_BUFFER_THROTTLE", "0")];
    let mut serve = Serve::start(&url, &env).await;
    let base = serve.address.clone();
    let mut devices = Vec::new();
    for i in 0..DEVICES {
        devices.push(device(&base, &format!("load{i}@example.com")).await);
    }

    // Each device rotates as fast as it can until the server goes away; it keeps the last
    // token it received.
    let workers: Vec<_> = devices
        .into_iter()
        .map(|mut auth| {
            let base = base.clone();
            tokio::spawn(async move {
                let http = client();
                let mut rotations = 0u32;
                loop {
                    let sent = auth
                        .apply(http.request(Method::GET, format!("{base}/auth/validate_token")))
                        .send()
                        .await;
                    let Ok(resp) = sent else { break };
                    if resp.status() != 200 {
                        panic!("device refused under load: {}", resp.status());
                    }
                    let next = Auth::from_headers(resp.headers()).expect("a rotated token");
                    assert_ne!(next.token, auth.token);
                    auth = next;
                    rotations += 1;
                }
                (auth, rotations)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;

    serve.signal("TERM");
    let status = serve.wait_exit().await;
    assert!(status.success(), "exit status {status}");
    let mut last = Vec::new();
    for worker in workers {
        let (auth, rotations) = worker.await.unwrap();
        assert!(rotations > 0, "a device never rotated");
        last.push(auth);
    }
    let log = serve.drain().await.join("\n");
    assert!(log.contains("stopped: token writes stored"), "{log}");
    let wal = dir.path().join("toker.db-wal");
    let wal_size = std::fs::metadata(&wal).map_or(0, |m| m.len());
    assert_eq!(wal_size, 0, "the WAL was left behind ({wal_size} bytes)");

    let again = Serve::start(&url, &env).await;
    let http = client();
    for auth in last {
        let resp = auth
            .apply(http.request(
                Method::GET,
                format!("{}/auth/validate_token", again.address),
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status(),
            200,
            "{}: the last token it received was lost",
            auth.uid
        );
    }
}
