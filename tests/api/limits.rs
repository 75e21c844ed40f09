//! Abuse limits (docs/decisions.md D16): rate limits per client address and per e-mail address on
//! the credential routes, the mail cooldown, the bounded bcrypt queue and the bounded background
//! mail of `paranoid` mode, `trusted_proxies`, and the limits shared through Redis by several
//! instances. Real parallel requests against the real app; Redis is the one on 127.0.0.1:6379
//! (and, for the outage tests, a `redis-server` of the test's own).

use std::{
    net::TcpListener as StdListener,
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use reqwest::{
    StatusCode,
    header::{HeaderMap, HeaderValue},
};
use serde_json::{Value, json};
use toker::{accounts::Accounts, config::Settings, startup::Application};

use crate::{
    helpers::{TestDatabase, client, fresh_database, json, limits_off, test_settings},
    support::serve::Serve,
};

const E1_TOO_MANY: &str =
    r#"{"success":false,"errors":["Too many attempts. Please try again later."]}"#;
const E2_TOO_MANY: &str =
    r#"{"success":false,"errors":["Too many attempts. Please try again later."],"status":"error"}"#;
const E1_BUSY: &str =
    r#"{"success":false,"errors":["The server is busy. Please try again later."]}"#;
const E2_BUSY: &str = r#"{"success":false,"errors":["The server is busy. Please try again later."],"status":"error"}"#;
const REDIS: &str = "redis://127.0.0.1:6379/";

/// One running instance of the app, with its account rules at hand (the hasher's gauges).
struct Instance {
    address: String,
    accounts: Accounts,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A response as the tests look at it.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn retry_after(&self) -> u64 {
        self.headers
            .get("retry-after")
            .unwrap_or_else(|| panic!("no Retry-After on {} {}", self.status, self.body))
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    }
}

impl Instance {
    async fn start(settings: Settings) -> Instance {
        settings.validate().expect("test settings are valid");
        let app = Application::build(settings)
            .await
            .expect("application builds");
        let address = format!("http://127.0.0.1:{}", app.port());
        let accounts = app.accounts().clone();
        let server = tokio::spawn(async move {
            let _ = app.run().await;
        });
        Instance {
            address,
            accounts,
            server,
        }
    }

    /// `method path` with a JSON body, from `client` when given (as `X-Forwarded-For`).
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
        from: Option<&str>,
    ) -> Answer {
        let mut request = client()
            .request(method, format!("{}{path}", self.address))
            .json(&body);
        if let Some(from) = from {
            request = request.header("x-forwarded-for", from);
        }
        let resp = request.send().await.expect("request");
        Answer {
            status: resp.status(),
            headers: resp.headers().clone(),
            body: resp.text().await.expect("body"),
        }
    }

    async fn post(&self, path: &str, body: Value, from: Option<&str>) -> Answer {
        self.call(reqwest::Method::POST, path, body, from).await
    }

    async fn sign_in(&self, email: &str, password: &str, from: Option<&str>) -> Answer {
        self.post(
            "/auth/sign_in",
            json!({"email": email, "password": password}),
            from,
        )
        .await
    }

    /// `POST /auth/password` for `email`, landing on the app.
    async fn request_reset(&self, email: &str, from: Option<&str>) -> Answer {
        self.post(
            "/auth/password",
            json!({"email": email, "redirect_url": "https://app.example.com/r"}),
            from,
        )
        .await
    }

    async fn user(&self, email: &str) -> Option<toker::store::User> {
        self.accounts.store.find_email_user(email).await.unwrap()
    }

    async fn sign_up(&self, email: &str, from: Option<&str>) -> Answer {
        self.post(
            "/auth",
            json!({"email": email, "password": "password1", "password_confirmation": "password1"}),
            from,
        )
        .await
    }
}

/// A fresh database and the settings for it, limits as `configure` sets them.
async fn setup(configure: impl FnOnce(&mut Settings)) -> (TestDatabase, Settings) {
    let db = fresh_database().await;
    let mut settings = test_settings(&db.url);
    configure(&mut settings);
    (db, settings)
}

/// `n` requests at once; their answers in order.
async fn at_once<F, Fut>(n: usize, request: F) -> Vec<Answer>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Answer> + Send + 'static,
{
    let tasks: Vec<_> = (0..n).map(|i| tokio::spawn(request(i))).collect();
    futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.expect("task"))
        .collect()
}

fn count(answers: &[Answer], status: StatusCode) -> usize {
    answers.iter().filter(|a| a.status == status).count()
}

/// A documentation-range IPv6 /64 no other test or run uses (Redis keys outlive a test).
fn unique_client() -> String {
    let n: u64 = rand::random();
    format!("2001:db8:{:x}:{:x}::1", (n >> 16) & 0xffff, n & 0xffff)
}

fn unique_email(tag: &str) -> String {
    format!("{tag}-{:016x}@example.com", rand::random::<u64>())
}

async fn until(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

// --- rate limits -----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sign_in_limit_per_address_answers_429_in_e1_and_spends_no_bcrypt_and_no_attempt() {
    // Arrange: 3 attempts per 60 s per address; lockable counts failed attempts
    let (_db, settings) = setup(|s| {
        s.sign_in_limit_per_ip = 3;
        s.sign_in_limit_period = 60;
        s.lockable = true;
    })
    .await;
    let app = Arc::new(Instance::start(settings).await);
    assert_eq!(app.sign_up("limited@example.com", None).await.status, 200);
    let hashes = app.accounts.hasher.gauges();

    // Act: ten wrong passwords at once
    let answers = at_once(10, |_| {
        let app = app.clone();
        async move {
            app.sign_in("limited@example.com", "wrong-password", None)
                .await
        }
    })
    .await;
    let finished_after_burst = hashes.finished();
    let after = app.sign_in("limited@example.com", "password1", None).await;

    // Assert: three were checked, seven refused before any check
    assert_eq!(count(&answers, StatusCode::UNAUTHORIZED), 3);
    assert_eq!(count(&answers, StatusCode::TOO_MANY_REQUESTS), 7);
    for refused in answers.iter().filter(|a| a.status == 429) {
        assert_eq!(refused.body, E1_TOO_MANY);
        assert_eq!(
            refused.headers["content-type"],
            "application/json; charset=utf-8"
        );
        // One more attempt every 20 s.
        assert!(
            (19..=20).contains(&refused.retry_after()),
            "{}",
            refused.retry_after()
        );
    }
    assert_eq!(after.status, 429, "even the right password waits");
    assert_eq!(
        hashes.finished(),
        finished_after_burst,
        "a refused attempt ran bcrypt"
    );
    let user = app.user("limited@example.com").await.unwrap();
    assert_eq!(
        user.failed_attempts, 3,
        "refused attempts must not count towards a lock"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sign_in_limit_per_email_holds_from_any_address_and_alike_for_unknown_emails() {
    // Arrange: addresses are told by the proxy; 3 attempts per e-mail address
    let (_db, settings) = setup(|s| {
        s.trusted_proxies = vec!["127.0.0.1".into()];
        s.sign_in_limit_per_email = 3;
        s.sign_in_limit_period = 600;
    })
    .await;
    let app = Arc::new(Instance::start(settings).await);
    assert_eq!(app.sign_up("victim@example.com", None).await.status, 200);

    for email in ["victim@example.com", "nobody@example.com"] {
        // Act: each attempt from another address, spelled differently
        let answers = at_once(8, |i| {
            let app = app.clone();
            let spelled = if i % 2 == 0 {
                email.to_uppercase()
            } else {
                format!("  {email} ")
            };
            async move {
                app.sign_in(&spelled, "guess", Some(&format!("203.0.113.{}", i + 1)))
                    .await
            }
        })
        .await;

        // Assert: the same three checks and five refusals, account or not
        assert_eq!(count(&answers, StatusCode::UNAUTHORIZED), 3, "{email}");
        assert_eq!(count(&answers, StatusCode::TOO_MANY_REQUESTS), 5, "{email}");
        assert!(
            answers
                .iter()
                .filter(|a| a.status == 429)
                .all(|a| a.body == E1_TOO_MANY && (199..=200).contains(&a.retry_after())),
            "{email}"
        );
    }
    // Another address is not affected.
    let other = app
        .sign_in("other@example.com", "guess", Some("203.0.113.50"))
        .await;
    assert_eq!(other.status, 401);
}

#[tokio::test]
async fn the_owner_still_signs_in_from_where_it_last_did_while_its_email_is_limited() {
    // Arrange: the owner signed in from 198.51.100.10 before
    let (_db, settings) = setup(|s| {
        s.trusted_proxies = vec!["127.0.0.0/8".into()];
        s.sign_in_limit_per_email = 2;
        s.sign_in_limit_period = 600;
    })
    .await;
    let app = Instance::start(settings).await;
    assert_eq!(
        app.sign_up("owner@example.com", Some("198.51.100.10"))
            .await
            .status,
        200
    );
    assert_eq!(
        app.sign_in("owner@example.com", "password1", Some("198.51.100.10"))
            .await
            .status,
        200
    );

    // Act: someone elsewhere spends the address's allowance
    for _ in 0..2 {
        app.sign_in("owner@example.com", "guess", Some("203.0.113.66"))
            .await;
    }
    let stranger = app
        .sign_in("owner@example.com", "password1", Some("203.0.113.67"))
        .await;
    let owner = app
        .sign_in("owner@example.com", "password1", Some("198.51.100.10"))
        .await;

    // Assert
    assert_eq!(stranger.status, 429);
    assert_eq!(owner.status, 200, "{}", owner.body);
}

#[tokio::test]
async fn a_count_of_zero_turns_each_limit_off() {
    // Arrange: the shipped defaults, with every count set to 0
    let (_db, settings) = setup(|s| {
        *s = Settings {
            bind: s.bind.clone(),
            database_url: s.database_url.clone(),
            password_cost: 4,
            // The reset requests' landing page must be an allowed redirect (docs/decisions.md D5).
            cors_origins: vec!["https://app.example.com".into()],
            ..limits_off(Settings::default())
        };
    })
    .await;
    let app = Instance::start(settings).await;

    // Act + Assert: far beyond any default, nothing is refused
    for i in 0..40 {
        assert_eq!(
            app.sign_in("who@example.com", "guess", None).await.status,
            401
        );
        let reset = app.request_reset("who@example.com", None).await;
        assert_eq!(reset.status, 404);
        assert_eq!(
            app.sign_up(&format!("many{i}@example.com"), None)
                .await
                .status,
            200
        );
    }
}

#[tokio::test]
async fn the_defaults_are_on_and_sensible() {
    // Arrange: the shipped defaults
    let (_db, settings) = setup(|s| {
        let defaults = Settings::default();
        s.sign_in_limit_per_ip = defaults.sign_in_limit_per_ip;
        s.sign_in_limit_per_email = defaults.sign_in_limit_per_email;
        s.sign_in_limit_period = defaults.sign_in_limit_period;
    })
    .await;
    let app = Instance::start(settings).await;

    // Act: a person mistyping a few times is never stopped; a script is
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(
            app.sign_in("typo@example.com", "guess", None)
                .await
                .status
                .as_u16(),
        );
    }

    // Assert: ten per e-mail address per five minutes
    assert_eq!(statuses[..10], [401; 10]);
    assert_eq!(statuses[10..], [429; 2]);
}

#[tokio::test]
async fn the_sign_up_limits_answer_429_in_e2_and_create_nothing() {
    // Arrange
    let (_db, settings) = setup(|s| {
        s.sign_up_limit_per_ip = 2;
        s.sign_up_limit_period = 3600;
    })
    .await;
    let app = Instance::start(settings).await;

    // Act
    let first = app.sign_up("one@example.com", None).await;
    let second = app.sign_up("two@example.com", None).await;
    let third = app.sign_up("three@example.com", None).await;

    // Assert
    assert_eq!(
        (first.status, second.status),
        (StatusCode::OK, StatusCode::OK)
    );
    assert_eq!(third.status, 429);
    assert_eq!(third.body, E2_TOO_MANY);
    assert!((1799..=1800).contains(&third.retry_after()));
    assert!(app.user("three@example.com").await.is_none());
}

#[tokio::test]
async fn each_mail_request_is_limited_on_its_own_with_its_e1_429() {
    // Arrange: two requests per address for each kind of mail
    let (_db, settings) = setup(|s| {
        s.mail_limit_per_ip = 2;
        s.confirmable = true;
        s.default_confirm_success_url = Some("https://app.example.com/welcome".into());
        s.lockable = true;
        s.unlock_strategy = toker::config::UnlockStrategy::Email;
    })
    .await;
    let app = Instance::start(settings).await;
    let reset = json!({"email": "x@example.com", "redirect_url": "https://app.example.com/r"});
    let email = json!({"email": "x@example.com"});

    for path in ["/auth/password", "/auth/confirmation", "/auth/unlock"] {
        let body = if path == "/auth/password" {
            &reset
        } else {
            &email
        };
        // Act
        let answers = [
            app.post(path, body.clone(), None).await,
            app.post(path, body.clone(), None).await,
            app.post(path, body.clone(), None).await,
        ];

        // Assert: unknown address twice (404), then refused before the lookup
        assert_eq!(answers[0].status, 404, "{path}");
        assert_eq!(answers[1].status, 404, "{path}");
        assert_eq!(answers[2].status, 429, "{path}");
        assert_eq!(answers[2].body, E1_TOO_MANY, "{path}");
        assert!((1799..=1800).contains(&answers[2].retry_after()), "{path}");
    }
}

#[tokio::test]
async fn within_the_mail_cooldown_a_second_request_is_answered_alike_and_mails_nothing() {
    // Arrange: mail into a folder, 60 s between two mails of a kind to one address
    let mail = tempfile::tempdir().unwrap();
    let (_db, settings) = setup(|s| {
        s.mail_cooldown = 60;
        s.mail_transport = toker::config::MailTransport::File;
        s.mail_dir = mail.path().display().to_string();
    })
    .await;
    let app = Instance::start(settings).await;
    assert_eq!(app.sign_up("cool@example.com", None).await.status, 200);
    let mails = || std::fs::read_dir(mail.path()).map_or(0, |d| d.count());

    // Act
    let first = app.request_reset("cool@example.com", None).await;
    let token_after_first = app
        .user("cool@example.com")
        .await
        .unwrap()
        .reset_password_token;
    let second = app.request_reset("cool@example.com", None).await;
    let other = app.request_reset("COOL@example.com ", None).await;

    // Assert: the same answers; one mail; the first link is still the valid one
    assert_eq!(first.status, 200);
    assert_eq!((second.status, &second.body), (first.status, &first.body));
    assert_eq!((other.status, &other.body), (first.status, &first.body));
    assert_eq!(mails(), 1);
    let token_now = app
        .user("cool@example.com")
        .await
        .unwrap()
        .reset_password_token;
    assert_eq!(token_now, token_after_first);
    assert!(token_now.is_some());

    // Another address is mailed at once.
    assert_eq!(app.sign_up("warm@example.com", None).await.status, 200);
    let warm = app.request_reset("warm@example.com", None).await;
    assert_eq!(warm.status, 200);
    assert_eq!(mails(), 2);
}

// --- client addresses ------------------------------------------------------------------------

#[tokio::test]
async fn behind_a_trusted_proxy_forwarded_for_names_the_client_everywhere() {
    // Arrange: 127.0.0.1 is our proxy
    let (_db, settings) = setup(|s| {
        s.trusted_proxies = vec!["127.0.0.1/32".into()];
        s.sign_in_limit_per_ip = 2;
    })
    .await;
    let app = Instance::start(settings).await;
    assert_eq!(app.sign_up("proxied@example.com", None).await.status, 200);

    // Act: the client wrote a fake entry; the proxy appended the real address
    let spoofs = ["1.1.1.1", "8.8.8.8", "9.9.9.9"];
    let answers: Vec<u16> = {
        let mut out = Vec::new();
        for spoof in spoofs {
            let from = format!("{spoof}, 203.0.113.7");
            out.push(
                app.sign_in("proxied@example.com", "guess", Some(&from))
                    .await
                    .status
                    .as_u16(),
            );
        }
        out
    };
    let elsewhere = app
        .sign_in("proxied@example.com", "password1", Some("203.0.113.8"))
        .await;

    // Assert: counted under 203.0.113.7 whatever the client wrote before it
    assert_eq!(answers, [401, 401, 429]);
    assert_eq!(elsewhere.status, 200);
    let user = app.user("proxied@example.com").await.unwrap();
    assert_eq!(user.current_sign_in_ip.as_deref(), Some("203.0.113.8"));
    let devices = app.accounts.store.devices_of(user.id).await.unwrap();
    assert!(
        devices
            .iter()
            .any(|d| d.ip.as_deref() == Some("203.0.113.8")),
        "{devices:?}"
    );
}

#[tokio::test]
async fn forwarded_for_from_an_untrusted_peer_changes_nothing() {
    // Arrange: no trusted proxies (the default)
    let (_db, settings) = setup(|s| s.sign_in_limit_per_ip = 2).await;
    let app = Instance::start(settings).await;
    assert_eq!(app.sign_up("direct@example.com", None).await.status, 200);

    // Act: every request claims another address
    let mut statuses = Vec::new();
    for i in 0..3 {
        let from = format!("203.0.113.{i}");
        statuses.push(
            app.sign_in("direct@example.com", "guess", Some(&from))
                .await
                .status
                .as_u16(),
        );
    }

    // Assert: all counted under the peer, 127.0.0.1
    assert_eq!(statuses, [401, 401, 429]);
    let user = app.user("direct@example.com").await.unwrap();
    let devices = app.accounts.store.devices_of(user.id).await.unwrap();
    assert!(
        devices.iter().all(|d| d.ip.as_deref() == Some("127.0.0.1")),
        "{devices:?}"
    );
}

#[tokio::test]
async fn hostile_forwarded_for_values_are_answered_normally() {
    // Arrange
    let (_db, settings) = setup(|s| {
        s.trusted_proxies = vec!["127.0.0.1".into()];
        s.sign_in_limit_per_ip = 2;
    })
    .await;
    let app = Instance::start(settings).await;
    let huge = vec!["127.0.0.1"; 700].join(", ");
    let values: Vec<HeaderValue> = [
        "garbage".as_bytes().to_vec(),
        b"<script>alert(1)</script>".to_vec(),
        b"\xff\xfe\xfd".to_vec(),
        b", , ,".to_vec(),
        b"999.999.999.999".to_vec(),
        format!("203.0.113.200, {huge}").into_bytes(),
        b"[2001:db8::1]:443".to_vec(),
        b"2001:db8::1".to_vec(),
        b"::ffff:203.0.113.201".to_vec(),
    ]
    .into_iter()
    .map(|v| HeaderValue::from_bytes(&v).unwrap())
    .collect();

    // Act + Assert: each one is answered by the sign-in rule, never a 5xx
    for value in &values {
        let resp = client()
            .post(format!("{}/auth/sign_in", app.address))
            .header("x-forwarded-for", value.clone())
            .json(&json!({"email": "h@example.com", "password": "x"}))
            .send()
            .await
            .unwrap();
        assert!(
            [401, 429].contains(&resp.status().as_u16()),
            "{value:?}: {}",
            resp.status()
        );
        assert_eq!(json(resp).await["success"], false);
    }
    // A header over the per-value limit is refused before anything reads it.
    let oversized = vec!["203.0.113.9"; 1000].join(",");
    let resp = client()
        .post(format!("{}/auth/sign_in", app.address))
        .header("x-forwarded-for", oversized)
        .json(&json!({"email": "h@example.com", "password": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 431);
}

#[tokio::test]
async fn ipv6_clients_are_counted_by_their_64() {
    // Arrange
    let (_db, settings) = setup(|s| {
        s.trusted_proxies = vec!["127.0.0.1".into()];
        s.sign_in_limit_per_ip = 2;
    })
    .await;
    let app = Instance::start(settings).await;

    // Act: three addresses of one /64, then one of the next /64
    let mut statuses = Vec::new();
    for from in [
        "2001:db8:1:2::1",
        "2001:db8:1:2::ffff",
        "[2001:db8:1:2:abcd::9]:55000",
        "2001:db8:1:3::1",
    ] {
        statuses.push(
            app.sign_in("six@example.com", "x", Some(from))
                .await
                .status
                .as_u16(),
        );
    }

    // Assert
    assert_eq!(statuses, [401, 401, 429, 401]);
}

#[tokio::test]
async fn the_request_log_line_names_the_client_the_proxy_reported() {
    // Arrange
    let db = fresh_database().await;
    let mut serve = Serve::start(&db.url, &[("TOKER_TRUSTED_PROXIES", r#"["127.0.0.1"]"#)]).await;

    // Act
    let resp = client()
        .post(format!("{}/auth/sign_in", serve.address))
        .header("x-forwarded-for", "6.6.6.6, 203.0.113.44")
        .json(&json!({"email": "log@example.com", "password": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);

    // Assert
    let line = serve
        .wait_for_line(|l| l.contains("toker::request") && l.contains("/auth/sign_in"))
        .await;
    assert!(line.contains("client_ip=203.0.113.44"), "{line}");
}

// --- the bcrypt queue ------------------------------------------------------------------------

/// Settings with one bcrypt worker, `queue` places, and a cost slow enough (about a second or
/// more in a debug build) that a hash is still running while the test looks.
async fn slow_hashing(queue: usize) -> (TestDatabase, Settings) {
    setup(|s| {
        s.password_cost = 12;
        s.password_hash_workers = Some(1);
        s.password_hash_queue = queue;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_password_queue_answers_503_with_retry_after_in_each_routes_shape() {
    // Arrange: one hash running, one waiting
    let (_db, settings) = slow_hashing(1).await;
    let app = Arc::new(Instance::start(settings).await);
    let gauges = app.accounts.hasher.gauges();
    let running = {
        let app = app.clone();
        tokio::spawn(async move { app.sign_in("a@example.com", "x", None).await })
    };
    until("a hash to run", || gauges.running() == 1).await;
    let waiting = {
        let app = app.clone();
        tokio::spawn(async move { app.sign_in("b@example.com", "x", None).await })
    };
    until("a hash to wait", || gauges.waiting() == 1).await;

    // Act: two more while the queue is full
    let sign_in = app.sign_in("c@example.com", "x", None).await;
    let sign_up = app.sign_up("d@example.com", None).await;

    // Assert
    assert_eq!(sign_in.status, 503);
    assert_eq!(sign_in.body, E1_BUSY);
    assert!(sign_in.retry_after() >= 1);
    assert_eq!(sign_up.status, 503);
    assert_eq!(sign_up.body, E2_BUSY);
    assert!(sign_up.retry_after() >= 1);
    assert_eq!(running.await.unwrap().status, 401);
    assert_eq!(waiting.await.unwrap().status, 401);
    assert_eq!(gauges.peak_running(), 1);
    assert!(app.user("d@example.com").await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sign_in_refused_for_a_full_queue_does_not_count_as_a_failed_attempt() {
    // Arrange: a lockable account, then one hash running and one waiting
    let (_db, mut settings) = slow_hashing(1).await;
    settings.lockable = true;
    settings.maximum_attempts = 3;
    let app = Arc::new(Instance::start(settings).await);
    assert_eq!(app.sign_up("owner@example.com", None).await.status, 200);
    let gauges = app.accounts.hasher.gauges();
    let running = {
        let app = app.clone();
        tokio::spawn(async move { app.sign_in("a@example.com", "x", None).await })
    };
    until("a hash to run", || gauges.running() == 1).await;
    let waiting = {
        let app = app.clone();
        tokio::spawn(async move { app.sign_in("b@example.com", "x", None).await })
    };
    until("a hash to wait", || gauges.waiting() == 1).await;

    // Act: the owner's attempts while the queue is full
    let mut answers = Vec::new();
    for _ in 0..4 {
        answers.push(app.sign_in("owner@example.com", "wrong", None).await.status);
    }

    // Assert: refused as busy, and none of them took one of the account's attempts
    assert_eq!(answers, [503; 4]);
    let owner = app.user("owner@example.com").await.unwrap();
    assert_eq!(owner.failed_attempts, 0);
    assert!(owner.locked_at.is_none());
    assert_eq!(running.await.unwrap().status, 401);
    assert_eq!(waiting.await.unwrap().status, 401);
}

// --- paranoid mode's background mail ----------------------------------------------------------

/// An SMTP "server" that accepts connections and never says a word: each mail task that reaches
/// it hangs there, so the number of connections is the number of tasks running.
async fn silent_smtp() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            held.push(socket);
        }
    });
    (port, accepted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn paranoid_background_mail_tasks_are_bounded() {
    // Arrange: six accounts; mail goes to a server that never answers; two tasks at most
    let (smtp_port, connections) = silent_smtp().await;
    let (_db, settings) = setup(|s| {
        s.paranoid = true;
        s.mail_background_limit = 2;
        s.mail_transport = toker::config::MailTransport::Smtp;
        s.smtp_host = "127.0.0.1".into();
        s.smtp_port = smtp_port;
        s.smtp_tls = toker::config::SmtpTls::None;
        s.smtp_timeout = 60;
    })
    .await;
    let app = Arc::new(Instance::start(settings).await);
    for i in 0..6 {
        assert_eq!(
            app.sign_up(&format!("p{i}@example.com"), None).await.status,
            200
        );
    }

    // Act: six reset requests at once
    let answers = at_once(6, |i| {
        let app = app.clone();
        async move { app.request_reset(&format!("p{i}@example.com"), None).await }
    })
    .await;

    // Assert: all answered alike at once; only two tasks went on to mail
    let first = &answers[0].body;
    assert!(answers.iter().all(|a| a.status == 200 && &a.body == first));
    until("two mail tasks to connect", || {
        connections.load(Ordering::SeqCst) >= 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}

// --- limits shared through Redis -------------------------------------------------------------

fn assert_redis_runs() {
    assert!(
        std::net::TcpStream::connect("127.0.0.1:6379").is_ok(),
        "these tests need Redis on 127.0.0.1:6379 (`redis-server --daemonize yes`; .ci/run starts it)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_on_one_redis_together_allow_no_more_than_the_limit() {
    // Arrange: two instances behind one proxy, both counting in Redis
    assert_redis_runs();
    let (_db, settings) = setup(|s| {
        s.rate_limit_store = Some(REDIS.into());
        s.trusted_proxies = vec!["127.0.0.1".into()];
        s.sign_in_limit_per_ip = 5;
        s.sign_in_limit_per_email = 4;
        s.sign_in_limit_period = 600;
    })
    .await;
    let instances = Arc::new([
        Instance::start(settings.clone()).await,
        Instance::start(settings).await,
    ]);
    let client_addr = unique_client();
    let victim = unique_email("victim");

    // Act: twenty attempts from one client, alternating between the instances, all at once
    let by_client = at_once(20, |i| {
        let instances = instances.clone();
        let from = client_addr.clone();
        async move {
            instances[i % 2]
                .sign_in(&unique_email("spray"), "x", Some(&from))
                .await
        }
    })
    .await;
    // ... and twenty at one e-mail address from twenty clients
    let by_email = at_once(20, |i| {
        let instances = instances.clone();
        let victim = victim.clone();
        async move {
            instances[i % 2]
                .sign_in(&victim, "x", Some(&unique_client()))
                .await
        }
    })
    .await;

    // Assert
    assert_eq!(count(&by_client, StatusCode::UNAUTHORIZED), 5);
    assert_eq!(count(&by_client, StatusCode::TOO_MANY_REQUESTS), 15);
    assert_eq!(count(&by_email, StatusCode::UNAUTHORIZED), 4);
    assert_eq!(count(&by_email, StatusCode::TOO_MANY_REQUESTS), 16);
    for refused in by_client.iter().filter(|a| a.status == 429) {
        assert_eq!(refused.body, E1_TOO_MANY);
        // One more every 120 s, counted by Redis's clock.
        assert!(
            (1..=120).contains(&refused.retry_after()),
            "{}",
            refused.retry_after()
        );
    }
    assert!(
        by_client
            .iter()
            .filter(|a| a.status == 429)
            .any(|a| a.retry_after() >= 119)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_mail_cooldown_holds_across_instances_through_redis() {
    // Arrange: two instances, one mail folder, one database
    assert_redis_runs();
    let mail = tempfile::tempdir().unwrap();
    let (db, settings) = setup(|s| {
        s.rate_limit_store = Some(REDIS.into());
        s.mail_cooldown = 300;
        s.mail_transport = toker::config::MailTransport::File;
        s.mail_dir = mail.path().display().to_string();
    })
    .await;
    let first = Instance::start(settings.clone()).await;
    let second = Instance::start(settings).await;
    let email = unique_email("cooldown");
    assert_eq!(first.sign_up(&email, None).await.status, 200);

    // Act
    let one = first.request_reset(&email, None).await;
    let two = second.request_reset(&email, None).await;

    // Assert
    assert_eq!((one.status, two.status), (StatusCode::OK, StatusCode::OK));
    assert_eq!(one.body, two.body);
    assert_eq!(std::fs::read_dir(mail.path()).unwrap().count(), 1);
    drop(db);
}

/// A `redis-server` of this test's own, to stop and start again.
struct OwnRedis {
    port: u16,
    child: Option<Child>,
}

impl OwnRedis {
    fn start_on(port: u16) -> OwnRedis {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (apt-get install redis-server)");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        OwnRedis {
            port,
            child: Some(child),
        }
    }

    fn start() -> OwnRedis {
        let port = StdListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        OwnRedis::start_on(port)
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_redis_each_instance_keeps_limiting_on_its_own_and_says_so_once() {
    // Arrange: two `toker serve` processes sharing a Redis, which then stops
    let mut redis = OwnRedis::start();
    let db = fresh_database().await;
    let env = [
        ("TOKER_RATE_LIMIT_STORE", redis.url()),
        ("TOKER_SIGN_IN_LIMIT_PER_IP", "3".to_string()),
        ("TOKER_SIGN_IN_LIMIT_PER_EMAIL", "0".to_string()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut first = Serve::start(&db.url, &env).await;
    let second = Serve::start(&db.url, &env).await;
    let sign_in = |address: &str| {
        let url = format!("{address}/auth/sign_in");
        async move {
            client()
                .post(url)
                .json(&json!({"email": "r@example.com", "password": "x"}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    // Shared: two here and one there spend the three.
    let shared = [
        sign_in(&first.address).await,
        sign_in(&first.address).await,
        sign_in(&second.address).await,
        sign_in(&second.address).await,
    ];
    assert_eq!(shared, [401, 401, 401, 429]);

    // Act: Redis goes away
    redis.stop();
    let mut alone = Vec::new();
    for _ in 0..5 {
        alone.push(sign_in(&first.address).await);
    }

    // Assert: the first instance goes on limiting by itself; the outage is logged once
    assert_eq!(alone[..3], [401, 401, 401], "{alone:?}");
    assert!(alone[3..].iter().all(|s| *s == 429), "{alone:?}");
    let lines = first.drain().await.to_vec();
    let outage = lines
        .iter()
        .filter(|l| l.contains("rate_limit_store does not answer"))
        .count();
    assert_eq!(outage, 1, "{lines:#?}");

    // Redis comes back on the same port: within a probe or two sharing resumes, and that is
    // logged too.
    let _redis = OwnRedis::start_on(redis.port);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        sign_in(&first.address).await;
        let lines = first.drain().await;
        if lines
            .iter()
            .any(|l| l.contains("rate_limit_store answers again"))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "sharing never resumed: {lines:#?}"
        );
    }
    drop(second);
}

// --- settings --------------------------------------------------------------------------------

#[test]
fn bad_limit_settings_stop_startup_naming_the_setting() {
    let cases: &[(&str, &str, &str)] = &[
        ("TOKER_SIGN_IN_LIMIT_PER_IP", "-1", "sign_in_limit_per_ip"),
        (
            "TOKER_SIGN_IN_LIMIT_PER_EMAIL",
            "ten",
            "sign_in_limit_per_email",
        ),
        (
            "TOKER_SIGN_UP_LIMIT_PER_IP",
            "99999999999",
            "sign_up_limit_per_ip",
        ),
        ("TOKER_SIGN_IN_LIMIT_PERIOD", "0", "sign_in_limit_period"),
        (
            "TOKER_MAIL_LIMIT_PERIOD",
            "99999999999",
            "mail_limit_period",
        ),
        ("TOKER_MAIL_COOLDOWN", "-5", "mail_cooldown"),
        ("TOKER_MAIL_COOLDOWN", "100000", "mail_cooldown"),
        ("TOKER_PASSWORD_HASH_WORKERS", "0", "password_hash_workers"),
        (
            "TOKER_PASSWORD_HASH_QUEUE",
            "2000000",
            "password_hash_queue",
        ),
        ("TOKER_MAIL_BACKGROUND_LIMIT", "x", "mail_background_limit"),
        (
            "TOKER_TRUSTED_PROXIES",
            r#"["0.0.0.0/0"]"#,
            "trusted_proxies",
        ),
        (
            "TOKER_TRUSTED_PROXIES",
            r#"["proxy.internal"]"#,
            "trusted_proxies",
        ),
        (
            "TOKER_TRUSTED_PROXIES",
            r#"["10.0.0.0/40"]"#,
            "trusted_proxies",
        ),
        (
            "TOKER_RATE_LIMIT_STORE",
            "http://cache:6379",
            "rate_limit_store",
        ),
        (
            "TOKER_RATE_LIMIT_STORE",
            "rediss://cache:6379",
            "rate_limit_store",
        ),
        (
            "TOKER_RATE_LIMIT_STORE",
            "redis://cache:6379/notanumber",
            "rate_limit_store",
        ),
    ];
    for (var, value, setting) in cases {
        let out = Command::new(env!("CARGO_BIN_EXE_toker"))
            .arg("migrate")
            .env_remove("TOKER_DATABASE_URL")
            .env("NO_COLOR", "1")
            .env(var, value)
            .current_dir(std::env::temp_dir())
            .output()
            .expect("run toker");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{var}={value}: {stderr}");
        assert!(
            stderr.contains(&format!("`{setting}`")),
            "{var}={value}: {stderr}"
        );
    }
}
