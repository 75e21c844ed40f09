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
use toker::config::RouteAuth;

use crate::{
    helpers::{Auth, client, spawn_app_on},
    support::{
        mariadb_server::MariaDbServer, pg_cluster::PgCluster, serve::Serve, upstream::Upstream,
    },
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
    let toker = Toker::new(&serve.address);
    let email = "outage@example.com";
    assert_eq!(toker.sign_up(email).await.status(), 200, "sign-up");
    let mut devices = Vec::new();
    for _ in 0..DEVICES {
        devices.push(toker.signed_in(email).await);
    }
    // A device that rotated once, so it has a current and a previous token, then sits still.
    let previous = toker.signed_in(email).await;
    let mut current = previous.clone();
    let resp = toker.get("/auth/validate_token", Some(&current)).await;
    assert_eq!(resp.status(), 200);
    current.update_from(resp.headers());
    assert_ne!(current.token, previous.token, "the bystander rotated");

    let seen = Arc::new(Mutex::new(Seen::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = devices
        .into_iter()
        .map(|auth| {
            let rotate = rotate_until_stopped(toker.clone(), auth, seen.clone(), stop.clone());
            tokio::spawn(rotate)
        })
        .collect();
    let watcher = tokio::spawn(watch_health(toker.clone(), seen.clone(), stop.clone()));
    tokio::time::sleep(Duration::from_secs(1)).await;

    // Act: stop the database for five seconds, probing while it is down.
    server.stop().await;
    let stopped = Instant::now();
    let resp = toker.get("/ping", None).await;
    assert_eq!(resp.status(), 200, "/ping needs no database");
    assert!(
        stopped.elapsed() < Duration::from_millis(500),
        "/ping waited"
    );
    let outage_email = "during-outage@example.com";
    let e1 = json!({"success": false});
    let e2 = json!({"success": false, "status": "error"});
    assert_unavailable(toker.sign_up(outage_email).await, &e2).await;
    assert_unavailable(toker.sign_in(email).await, &e1).await;
    assert_unavailable(toker.get("/api/me", Some(&current)).await, &json!({})).await;
    let validate = toker.get("/auth/validate_token", Some(&current)).await;
    assert_unavailable(validate, &e1).await;
    tokio::time::sleep(Duration::from_secs(5).saturating_sub(stopped.elapsed())).await;
    server.restart().await;
    let back = Instant::now();
    while toker.get("/health", None).await.status() != 200 {
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
    let count = |status| seen.statuses.get(&status).copied().unwrap_or(0);
    assert!(
        count(503) > 0,
        "no device saw the outage: {:?}",
        seen.statuses
    );
    assert!(count(200) > 0);
    let health = &seen.health;
    let went_down = health.iter().position(|s| *s == 503);
    assert!(
        health.first() == Some(&200)
            && went_down.is_some_and(|i| health[i..].contains(&200))
            && health.iter().all(|s| [200, 503].contains(s)),
        "/health went {health:?}"
    );
    for auth in last_tokens {
        let resp = toker.get("/api/me", Some(&auth)).await;
        assert_eq!(resp.status(), 200, "a device lost its token");
    }
    // The bystander's two tokens both still work, the older first.
    for auth in [&previous, &current] {
        let resp = toker.get("/api/me", Some(auth)).await;
        assert_eq!(resp.status(), 200, "the bystander's token {auth:?}");
    }
    // The sign-up refused during the outage left no account behind.
    assert_eq!(toker.sign_in(outage_email).await.status(), 401);
    assert_logged_once_each_way(&mut serve, UNREACHABLE_LOG, "database refuses writes").await;
}

const UNREACHABLE_LOG: [&str; 2] = [
    "database unavailable: answering 503",
    "database available again",
];
const WRITES_REFUSED_LOG: [&str; 2] = ["database refuses writes", "database accepts writes again"];

/// The log says once that the database went away and once that it is back (`[went, back]`),
/// never `other`, and no request failed with anything but 503.
async fn assert_logged_once_each_way(serve: &mut Serve, [went, back]: [&str; 2], other: &str) {
    let log = serve.drain().await.join("\n");
    let count = |needle: &str| log.lines().filter(|l| l.contains(needle)).count();
    assert_eq!(count(went), 1, "{log}");
    assert_eq!(count(back), 1, "{log}");
    assert_eq!(count(other), 0, "{log}");
    assert_eq!(count("request failed"), 0, "{log}");
    assert_eq!(count("status=5"), count("status=503"), "{log}");
}

/// One device: requests in a loop, keeping the token of each answer that carries one, as the
/// frontends do; returns its last credentials.
async fn rotate_until_stopped(
    toker: Toker,
    mut auth: Auth,
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
) -> Auth {
    while !stop.load(Ordering::Relaxed) {
        let resp = toker.get("/auth/validate_token", Some(&auth)).await;
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

async fn watch_health(toker: Toker, seen: Arc<Mutex<Seen>>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        let resp = toker.get("/health", None).await;
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
async fn assert_unavailable(resp: Response, shape: &Value) {
    if let Some(problem) = unavailable_problem(resp, shape).await {
        panic!("{problem}");
    }
}

async fn unavailable_problem(resp: Response, shape: &Value) -> Option<String> {
    let status = resp.status();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let retry_after = header("retry-after").and_then(|v| v.parse::<u32>().ok());
    let content_type = header("content-type").unwrap_or_default();
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

/// A toker server these tests talk to over HTTP.
#[derive(Clone)]
struct Toker {
    http: reqwest::Client,
    base: String,
}

impl Toker {
    fn new(address: &str) -> Toker {
        Toker {
            http: client(),
            base: address.to_string(),
        }
    }

    async fn get(&self, path: &str, auth: Option<&Auth>) -> Response {
        let mut req = self
            .http
            .request(Method::GET, format!("{}{path}", self.base));
        if let Some(auth) = auth {
            req = auth.apply(req);
        }
        req.send().await.expect("toker answers")
    }

    async fn post(&self, path: &str, body: Value) -> Response {
        let url = format!("{}{path}", self.base);
        let req = self.http.request(Method::POST, url).json(&body);
        req.send().await.expect("toker answers")
    }

    async fn sign_up(&self, email: &str) -> Response {
        let body = json!({"email": email, "password": PASSWORD, "password_confirmation": PASSWORD});
        self.post("/auth", body).await
    }

    async fn sign_in(&self, email: &str) -> Response {
        let body = json!({"email": email, "password": PASSWORD});
        self.post("/auth/sign_in", body).await
    }

    async fn signed_in(&self, email: &str) -> Auth {
        let resp = self.sign_in(email).await;
        assert_eq!(resp.status(), 200, "sign-in");
        Auth::from_headers(resp.headers()).expect("credentials")
    }
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
        assert_unavailable(resp, &json!({"success": false})).await;
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
        waits.iter().all(|w| *w < Duration::from_secs(4)),
        "a request waited longer than the setting allows: {waits:?}"
    );
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
    // Arrange: SQLite whatever TOKER_TEST_DATABASE_URL says: the test is about its files.
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/toker.db?mode=rwc", dir.path().display());
    let mut serve =
        Serve::start_for_disk_limits(&url, &[("TOKER_BATCH_REQUEST_BUFFER_THROTTLE", "0")]).await;
    let toker = Toker::new(&serve.address);
    let email = "full@example.com";
    assert_eq!(toker.sign_up(email).await.status(), 200);
    let mut auth = toker.signed_in(email).await;

    // Act: the disk fills up.
    serve.set_file_size_limit(Some(1)).await;

    // Assert: writes are refused, reads work, nothing half-done.
    let e2 = json!({"success": false, "status": "error"});
    assert_unavailable(toker.sign_up("new@example.com").await, &e2).await;
    let resp = toker.sign_in("new@example.com").await;
    assert_eq!(resp.status(), 401, "the refused sign-up left an account");
    // A sign-in must store its device before it hands out the token.
    assert_unavailable(toker.sign_in(email).await, &json!({"success": false})).await;
    for _ in 0..3 {
        let resp = toker.get("/api/me", Some(&auth)).await;
        assert_eq!(resp.status(), 200, "reads still work");
        assert!(
            Auth::from_headers(resp.headers()).is_none(),
            "a token that could not be stored was handed out"
        );
        auth.update_from(resp.headers());
    }
    let resp = toker.get("/health", None).await;
    assert_eq!(resp.status(), 200, "the database still answers");

    // Act: room again, after a while (longer than the second toker lets a change settle
    // before it believes the opposite, so that this is a new state and not noise).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    serve.set_file_size_limit(None).await;

    // Assert: the kept token works and rotates; sign-up works.
    let resp = toker.get("/api/me", Some(&auth)).await;
    assert_eq!(resp.status(), 200, "the kept token stopped working");
    let next = Auth::from_headers(resp.headers()).expect("a rotated token once writes work");
    assert_ne!(next.token, auth.token);
    assert_eq!(toker.get("/api/me", Some(&next)).await.status(), 200);
    assert_eq!(toker.sign_up("new@example.com").await.status(), 200);
    assert_logged_once_each_way(&mut serve, WRITES_REFUSED_LOG, UNREACHABLE_LOG[0]).await;
}

/// The gateway and forward-auth authenticate like `/api/me`: an outage is their 503 too, the
/// upstream is not reached, and `/health` and the log hear about it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_and_forward_auth_answer_503_while_the_database_is_down() {
    // Arrange
    let cluster = PgCluster::start().await;
    let upstream = Upstream::start().await;
    let app = spawn_app_on(&cluster.url(), |s| {
        s.batch_request_buffer_throttle = 0;
        s.database_acquire_timeout = 1;
        s.gateway.routes = vec![crate::gateway::route(
            "/up",
            &upstream.url,
            RouteAuth::Required,
        )];
        s.gateway.forward_auth = true;
    })
    .await;
    let mut auth = app.signed_in_user("gw@example.com").await;
    assert_eq!(app.get_authed("/up/items", &mut auth).await.status(), 200);
    let reached = upstream.seen().len();

    // Act
    cluster.stop().await;

    // Assert
    let through = app
        .authed(Method::GET, "/up/items", &auth)
        .send()
        .await
        .unwrap();
    assert_unavailable(through, &json!({"success": false})).await;
    let asked = app
        .authed(Method::GET, "/auth/forward", &auth)
        .header("x-forwarded-method", "GET")
        .header("x-forwarded-uri", "/api/items")
        .send()
        .await
        .unwrap();
    assert_unavailable(asked, &json!({"success": false})).await;
    assert_eq!(upstream.seen().len(), reached, "the upstream was reached");
    assert_eq!(
        app.request(Method::GET, "/health")
            .send()
            .await
            .unwrap()
            .status(),
        503
    );

    // Heals: the token kept works through the gateway again.
    cluster.restart().await;
    let mut healed = false;
    for _ in 0..40 {
        if app
            .request(Method::GET, "/health")
            .send()
            .await
            .unwrap()
            .status()
            == 200
        {
            healed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(healed, "/health stayed 503");
    assert_eq!(app.get_authed("/up/items", &mut auth).await.status(), 200);
}

/// After a restart nobody noticed (no request while the database was down), the connections
/// left in the pool are dead; the first requests must not be answered 503 for that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_requests_after_an_unnoticed_restart_succeed() {
    // Arrange: several pooled connections, all used recently.
    let cluster = PgCluster::start().await;
    let app = spawn_app_on(&cluster.url(), |_| {}).await;
    let mut auth = app.signed_in_user("quiet@example.com").await;
    let burst = (0..5).map(|_| {
        app.authed(Method::GET, "/auth/validate_token", &auth)
            .send()
    });
    for resp in futures::future::join_all(burst).await {
        assert_eq!(resp.expect("request").status(), 200);
    }

    // Act
    cluster.stop().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    cluster.restart().await;

    // Assert
    for _ in 0..6 {
        let resp = app.get_authed("/auth/validate_token", &mut auth).await;
        assert_eq!(resp.status(), 200);
    }
}
