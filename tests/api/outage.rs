//! A database that goes away and comes back, for real: a private PostgreSQL cluster or MariaDB
//! server is stopped under 32 devices rotating their tokens and started again. Every answer
//! is a success or a 503 with `Retry-After` in the operation's own error shape (never a 500,
//! never a 401), `/health` goes 503 and back to 200, the log says once that the database went
//! away and once that it is back, and every device signs in afterwards with its last token.
//! A SQLite database whose disk is full answers 503 too.

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::{
    helpers::{Auth, client, fresh_database, spawn_app_on},
    support::{mariadb_server::MariaDbServer, pg_cluster::PgCluster, serve::Serve},
};

const DEVICES: usize = 32;
const PASSWORD: &str = "password1";

/// A database server the scenario can stop and start.
trait Server {
    async fn stop(&self);
    async fn restart(&self);
}

impl Server for PgCluster {
    async fn stop(&self) {
        PgCluster::stop(self).await
    }
    async fn restart(&self) {
        PgCluster::restart(self).await
    }
}

impl Server for MariaDbServer {
    async fn stop(&self) {
        MariaDbServer::stop(self).await
    }
    async fn restart(&self) {
        MariaDbServer::restart(self).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_postgres_restart_answers_503_then_heals_and_every_device_keeps_its_token() {
    let cluster = PgCluster::start().await;
    ride_out_a_restart(&cluster, &cluster.url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_mariadb_restart_answers_503_then_heals_and_every_device_keeps_its_token() {
    let server = MariaDbServer::start().await;
    ride_out_a_restart(&server, &server.url()).await;
}

/// What the rotating devices and the `/health` watcher saw.
#[derive(Default)]
struct Seen {
    /// Answers by status.
    statuses: BTreeMap<u16, usize>,
    /// Anything but 200 or a well-formed 503.
    wrong: Vec<String>,
    /// `/health` statuses, consecutive repeats folded.
    health: Vec<u16>,
}

async fn ride_out_a_restart(server: &impl Server, database_url: &str) {
    // Arrange: toker on the private server; every request rotates; a request waits at most
    // one second for a connection.
    let mut serve = Serve::start(
        database_url,
        &[
            ("TOKER_DATABASE_ACQUIRE_TIMEOUT", "1"),
            ("TOKER_BATCH_REQUEST_BUFFER_THROTTLE", "0"),
            ("TOKER_MAX_NUMBER_OF_DEVICES", "64"),
        ],
    )
    .await;
    let base = serve.address.clone();
    let http = client();
    let email = "outage@example.com";
    let resp = send(
        &http,
        Method::POST,
        &base,
        "/auth",
        None,
        Some(sign_up_body(email)),
    )
    .await;
    assert_eq!(resp.status(), 200, "sign-up");
    let mut devices = Vec::new();
    for _ in 0..DEVICES {
        devices.push(sign_in(&http, &base, email).await);
    }
    // A device that rotated once, so it has a current and a previous token, then sits still.
    let previous = sign_in(&http, &base, email).await;
    let mut current = previous.clone();
    let resp = send(
        &http,
        Method::GET,
        &base,
        "/auth/validate_token",
        Some(&current),
        None,
    )
    .await;
    assert_eq!(resp.status(), 200);
    current.update_from(resp.headers());
    assert_ne!(current.token, previous.token, "the bystander rotated");

    let seen = Arc::new(Mutex::new(Seen::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for auth in devices {
        tasks.push(tokio::spawn(rotate_until_stopped(
            http.clone(),
            base.clone(),
            auth,
            seen.clone(),
            stop.clone(),
        )));
    }
    let watcher = tokio::spawn(watch_health(
        http.clone(),
        base.clone(),
        seen.clone(),
        stop.clone(),
    ));
    tokio::time::sleep(Duration::from_secs(1)).await;

    // Act: stop the database for five seconds, probing while it is down.
    server.stop().await;
    let stopped = Instant::now();
    let started = Instant::now();
    let resp = send(&http, Method::GET, &base, "/ping", None, None).await;
    assert_eq!(resp.status(), 200, "/ping needs no database");
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "/ping waited"
    );
    let outage_email = "during-outage@example.com";
    let signup = send(
        &http,
        Method::POST,
        &base,
        "/auth",
        None,
        Some(sign_up_body(outage_email)),
    );
    assert_unavailable(signup.await, json!({"success": false, "status": "error"})).await;
    let sign_in_body = json!({"email": email, "password": PASSWORD});
    let sign_in = send(
        &http,
        Method::POST,
        &base,
        "/auth/sign_in",
        None,
        Some(sign_in_body),
    );
    assert_unavailable(sign_in.await, json!({"success": false})).await;
    let me = send(&http, Method::GET, &base, "/api/me", Some(&current), None);
    assert_unavailable(me.await, json!({})).await;
    let validate = send(
        &http,
        Method::GET,
        &base,
        "/auth/validate_token",
        Some(&current),
        None,
    );
    assert_unavailable(validate.await, json!({"success": false})).await;
    tokio::time::sleep(Duration::from_secs(5).saturating_sub(stopped.elapsed())).await;
    server.restart().await;
    let back = Instant::now();
    loop {
        let resp = send(&http, Method::GET, &base, "/health", None, None).await;
        if resp.status() == 200 {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(30),
            "toker did not heal"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    let mut last_tokens = Vec::new();
    for task in tasks {
        last_tokens.push(task.await.expect("device task"));
    }
    watcher.await.expect("health watcher");

    // Assert
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    assert!(seen.wrong.is_empty(), "wrong answers: {:#?}", seen.wrong);
    assert!(
        seen.statuses.get(&503).copied().unwrap_or(0) > 0,
        "no device saw the outage: {:?}",
        seen.statuses
    );
    assert!(seen.statuses.get(&200).copied().unwrap_or(0) > 0);
    let health = &seen.health;
    let went_down = health.iter().position(|s| *s == 503);
    assert!(
        health.first() == Some(&200)
            && went_down.is_some_and(|i| health[i..].contains(&200))
            && health.iter().all(|s| [200, 503].contains(s)),
        "/health went {health:?}"
    );
    for auth in last_tokens {
        let resp = send(&http, Method::GET, &base, "/api/me", Some(&auth), None).await;
        assert_eq!(resp.status(), 200, "a device lost its token");
    }
    // The bystander's two tokens both still work, the older first.
    for auth in [&previous, &current] {
        let resp = send(&http, Method::GET, &base, "/api/me", Some(auth), None).await;
        assert_eq!(resp.status(), 200, "the bystander's token {auth:?}");
    }
    // The sign-up refused during the outage left no account behind.
    let body = json!({"email": outage_email, "password": PASSWORD});
    let resp = send(
        &http,
        Method::POST,
        &base,
        "/auth/sign_in",
        None,
        Some(body),
    )
    .await;
    assert_eq!(resp.status(), 401);
    let log = serve.drain().await.join("\n");
    let count = |needle: &str| log.lines().filter(|l| l.contains(needle)).count();
    assert_eq!(count("database unavailable: answering 503"), 1, "{log}");
    assert_eq!(count("database available again"), 1, "{log}");
    assert_eq!(count("request failed"), 0, "{log}");
    assert_eq!(count("status=5"), count("status=503"), "{log}");
}

/// One device: requests in a loop, keeping the token of each answer that carries one, as the
/// frontends do; returns its last credentials.
async fn rotate_until_stopped(
    http: reqwest::Client,
    base: String,
    mut auth: Auth,
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
) -> Auth {
    while !stop.load(Ordering::Relaxed) {
        let resp = send(
            &http,
            Method::GET,
            &base,
            "/auth/validate_token",
            Some(&auth),
            None,
        )
        .await;
        let status = resp.status().as_u16();
        auth.update_from(resp.headers());
        let problem = match status {
            200 => None,
            503 => unavailable_problem(resp, &json!({"success": false})).await,
            _ => Some(format!(
                "{status} {}",
                resp.text().await.unwrap_or_default()
            )),
        };
        let mut seen = seen.lock().unwrap();
        *seen.statuses.entry(status).or_default() += 1;
        seen.wrong.extend(problem);
    }
    auth
}

async fn watch_health(
    http: reqwest::Client,
    base: String,
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::Relaxed) {
        let resp = send(&http, Method::GET, &base, "/health", None, None).await;
        let status = resp.status().as_u16();
        let problem = match status {
            200 => None,
            _ => unavailable_problem(resp, &json!({"success": false})).await,
        };
        {
            let mut seen = seen.lock().unwrap();
            if seen.health.last() != Some(&status) {
                seen.health.push(status);
            }
            seen.wrong.extend(problem.map(|p| format!("/health: {p}")));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Panics unless `resp` is a 503 with `Retry-After` and a body holding `shape`'s keys plus the
/// message in `errors` (and no key beyond them).
async fn assert_unavailable(resp: Response, shape: Value) {
    if let Some(problem) = unavailable_problem(resp, &shape).await {
        panic!("{problem}");
    }
}

async fn unavailable_problem(resp: Response, shape: &Value) -> Option<String> {
    let status = resp.status();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u32>().ok());
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let text = resp.text().await.unwrap_or_default();
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let mut expected = shape.as_object().cloned().unwrap_or_default();
    expected.insert("errors".into(), body["errors"].clone());
    let well_formed = status == 503
        && retry_after.is_some_and(|s| s > 0)
        && content_type == "application/json; charset=utf-8"
        && body.as_object() == Some(&expected)
        && body["errors"][0].as_str().is_some_and(|m| !m.is_empty());
    (!well_formed).then(|| format!("{status} Retry-After {retry_after:?} {content_type} {text}"))
}

fn sign_up_body(email: &str) -> Value {
    json!({"email": email, "password": PASSWORD, "password_confirmation": PASSWORD})
}

async fn sign_in(http: &reqwest::Client, base: &str, email: &str) -> Auth {
    let body = json!({"email": email, "password": PASSWORD});
    let resp = send(http, Method::POST, base, "/auth/sign_in", None, Some(body)).await;
    assert_eq!(resp.status(), 200, "sign-in");
    Auth::from_headers(resp.headers()).expect("credentials")
}

async fn send(
    http: &reqwest::Client,
    method: Method,
    base: &str,
    path: &str,
    auth: Option<&Auth>,
    body: Option<Value>,
) -> Response {
    let mut req = http.request(method, format!("{base}{path}"));
    if let Some(auth) = auth {
        req = auth.apply(req);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.expect("toker answers")
}

/// The setting bounds the wait: with the database gone, a request is answered 503 after about
/// `database_acquire_timeout`, not sooner (it waited for the database) and not much later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_waits_database_acquire_timeout_for_a_connection_then_gets_503() {
    // Arrange
    let cluster = PgCluster::start().await;
    let app = spawn_app_on(&cluster.url(), |s| s.database_acquire_timeout = 2).await;
    let auth = app.signed_in_user("timeout@example.com").await;
    cluster.stop().await;

    // Act: the first requests may find a pooled connection the shutdown broke and fail at
    // once; after those, each waits for a new connection.
    let mut waits = Vec::new();
    for _ in 0..8 {
        let started = Instant::now();
        let resp = app
            .authed(Method::GET, "/auth/validate_token", &auth)
            .send()
            .await
            .expect("request");
        let waited = started.elapsed();
        assert_unavailable(resp, json!({"success": false})).await;
        waits.push(waited);
        if waited >= Duration::from_millis(1900) {
            break;
        }
    }

    // Assert
    assert!(
        waits
            .last()
            .is_some_and(|w| *w >= Duration::from_millis(1900)),
        "no request waited for the database: {waits:?}"
    );
    assert!(
        waits.iter().all(|w| *w < Duration::from_millis(3500)),
        "a request waited longer than the setting allows: {waits:?}"
    );
    drop(app);
}

#[tokio::test]
async fn bad_database_acquire_timeouts_stop_startup_naming_the_setting() {
    for bad in ["0", "301", "-1", "2.5", "soon", "18446744073709551616"] {
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_toker"))
                .arg("serve")
                .current_dir(std::env::temp_dir())
                .env("TOKER_DATABASE_URL", "sqlite::memory:")
                .env("TOKER_BIND", "127.0.0.1:0")
                .env("TOKER_DATABASE_ACQUIRE_TIMEOUT", bad)
                .env("NO_COLOR", "1")
                .output()
                .expect("run toker")
        })
        .await
        .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{bad} was accepted");
        assert!(
            stderr.contains("database_acquire_timeout"),
            "{bad}: {stderr}"
        );
    }
}

/// A SQLite database on a full disk: every write fails (the kernel refuses to let the server
/// write past a file size limit of one byte), reads still work. Writing requests are answered
/// 503 in their shape and change nothing; a request whose token rotation cannot be written
/// still succeeds, without a new token, and the token its client keeps goes on working. Once
/// the disk has room again, everything works as before, and the log said each change once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_sqlite_disk_answers_503_to_writes_and_heals() {
    // Arrange
    let db = fresh_database().await;
    assert!(db.url.starts_with("sqlite:"), "this test is about SQLite");
    let mut serve =
        Serve::start_for_disk_limits(&db.url, &[("TOKER_BATCH_REQUEST_BUFFER_THROTTLE", "0")])
            .await;
    let http = client();
    let base = serve.address.clone();
    let email = "full@example.com";
    let resp = send(
        &http,
        Method::POST,
        &base,
        "/auth",
        None,
        Some(sign_up_body(email)),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let mut auth = sign_in(&http, &base, email).await;

    // Act: the disk fills up.
    serve.set_file_size_limit(Some(1)).await;

    // Assert: writes are refused, reads work, nothing half-done.
    let signup = send(
        &http,
        Method::POST,
        &base,
        "/auth",
        None,
        Some(sign_up_body("new@example.com")),
    );
    assert_unavailable(signup.await, json!({"success": false, "status": "error"})).await;
    let body = json!({"email": "new@example.com", "password": PASSWORD});
    let resp = send(
        &http,
        Method::POST,
        &base,
        "/auth/sign_in",
        None,
        Some(body),
    )
    .await;
    assert_eq!(resp.status(), 401, "the refused sign-up left an account");
    // A sign-in must store its device before it hands out the token.
    let body = json!({"email": email, "password": PASSWORD});
    let sign_in_full = send(
        &http,
        Method::POST,
        &base,
        "/auth/sign_in",
        None,
        Some(body),
    );
    assert_unavailable(sign_in_full.await, json!({"success": false})).await;
    for _ in 0..3 {
        let resp = send(&http, Method::GET, &base, "/api/me", Some(&auth), None).await;
        assert_eq!(resp.status(), 200, "reads still work");
        assert!(
            Auth::from_headers(resp.headers()).is_none(),
            "a token that could not be stored was handed out"
        );
        auth.update_from(resp.headers());
    }
    let resp = send(&http, Method::GET, &base, "/health", None, None).await;
    assert_eq!(resp.status(), 200, "the database still answers");

    // Act: room again.
    serve.set_file_size_limit(None).await;

    // Assert: the kept token works and rotates; sign-up works.
    let resp = send(&http, Method::GET, &base, "/api/me", Some(&auth), None).await;
    assert_eq!(resp.status(), 200, "the kept token stopped working");
    let next = Auth::from_headers(resp.headers()).expect("a rotated token once writes work");
    assert_ne!(next.token, auth.token);
    let resp = send(&http, Method::GET, &base, "/api/me", Some(&next), None).await;
    assert_eq!(resp.status(), 200);
    let signup = send(
        &http,
        Method::POST,
        &base,
        "/auth",
        None,
        Some(sign_up_body("new@example.com")),
    );
    assert_eq!(signup.await.status(), 200);
    let log = serve.drain().await.join("\n");
    let count = |needle: &str| log.lines().filter(|l| l.contains(needle)).count();
    assert_eq!(count("database refuses writes"), 1, "{log}");
    assert_eq!(count("database accepts writes again"), 1, "{log}");
    assert_eq!(count("database unavailable: answering 503"), 0, "{log}");
    assert_eq!(count("status=5"), count("status=503"), "{log}");
}
