//! `spawn_app()` and typed helpers: the real application on 127.0.0.1:0 against a fresh
//! database per test. `TOKER_TEST_DATABASE_URL` (postgres://… or mysql://…) selects a server;
//! each test then gets its own database on it, named `toker_test_<pid>_<n>`.

#![allow(dead_code)]

use std::{
    sync::{
        LazyLock,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use reqwest::{Method, RequestBuilder, Response, header::HeaderMap};
use sea_orm::{ConnectionTrait, Database};
use serde_json::Value;
use toker::{config::Settings, startup::Application, store::Store};

static TRACING: LazyLock<()> = LazyLock::new(|| {
    if std::env::var("TEST_LOG").is_ok() {
        toker::telemetry::init("info", toker::config::LogFormat::Text);
    }
});

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh database for one test: its URL, and what must live as long as it does.
pub struct TestDatabase {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

/// Leftover databases of earlier runs are dropped once per test process.
static CLEANED: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();

pub async fn fresh_database() -> TestDatabase {
    let Some(server_url) = std::env::var("TOKER_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .map(|u| toker::store::with_default_pg_user(&u))
    else {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/toker.db?mode=rwc", dir.path().display());
        return TestDatabase {
            url,
            _dir: Some(dir),
        };
    };
    let mysql = server_url.starts_with("mysql:") || server_url.starts_with("mariadb:");
    let admin = Database::connect(server_url.as_str())
        .await
        .expect("connect to TOKER_TEST_DATABASE_URL");
    CLEANED
        .get_or_init(|| async {
            drop_leftovers(&admin, mysql).await;
        })
        .await;
    let name = format!(
        "toker_test_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    );
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create test database");
    let _ = admin.close().await;
    let mut url = url::Url::parse(&server_url).expect("TOKER_TEST_DATABASE_URL is a URL");
    url.set_path(&format!("/{name}"));
    TestDatabase {
        url: url.to_string(),
        _dir: None,
    }
}

async fn drop_leftovers(admin: &sea_orm::DatabaseConnection, mysql: bool) {
    let list = if mysql {
        "SELECT schema_name AS name FROM information_schema.schemata WHERE schema_name LIKE 'toker\\_test\\_%'"
    } else {
        "SELECT datname AS name FROM pg_database WHERE datname LIKE 'toker\\_test\\_%'"
    };
    let rows = admin
        .query_all_raw(sea_orm::Statement::from_string(
            admin.get_database_backend(),
            list,
        ))
        .await
        .unwrap_or_default();
    for row in rows {
        let Ok(name) = row.try_get::<String>("", "name") else {
            continue;
        };
        // Only databases of test processes that are gone: another suite may be running.
        let pid = name
            .strip_prefix("toker_test_")
            .and_then(|rest| rest.split('_').next())
            .and_then(|pid| pid.parse::<u32>().ok());
        if pid.is_none_or(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists()) {
            continue;
        }
        let sql = if mysql {
            format!("DROP DATABASE IF EXISTS {name}")
        } else {
            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        };
        let _ = admin.execute_unprepared(&sql).await;
    }
}

/// Settings every test starts from: fast bcrypt, a random port, two allowed CORS origins, and
/// the abuse limits off, since every test client is one address hammering a few accounts
/// (`tests/api/limits.rs` turns them on).
pub fn test_settings(database_url: &str) -> Settings {
    Settings {
        bind: "127.0.0.1:0".into(),
        database_url: database_url.to_string(),
        database_max_connections: Some(5),
        password_cost: 4,
        cors_origins: vec![
            "https://app.example.com".into(),
            "https://b.example.org".into(),
        ],
        ..limits_off(Settings::default())
    }
}

/// `settings` with every rate limit and the mail cooldown turned off.
pub fn limits_off(settings: Settings) -> Settings {
    Settings {
        sign_in_limit_per_ip: 0,
        sign_in_limit_per_email: 0,
        sign_up_limit_per_ip: 0,
        sign_up_limit_per_email: 0,
        mail_limit_per_ip: 0,
        mail_limit_per_email: 0,
        mail_cooldown: 0,
        ..settings
    }
}

pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub client: reqwest::Client,
    pub store: Store,
    pub settings: Settings,
    pub db: TestDatabase,
    /// The `/metrics` listener's port, when `metrics_bind` is set.
    pub metrics_port: Option<u16>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The app with the default test settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// The app delivering mail to the SMTP server on `smtp_port`, settings adjusted by `configure`.
pub async fn spawn_app_mailing_to(
    smtp_port: u16,
    configure: impl FnOnce(&mut Settings),
) -> TestApp {
    spawn_app_with(move |s| {
        s.mail_transport = toker::config::MailTransport::Smtp;
        s.smtp_port = smtp_port;
        s.smtp_tls = toker::config::SmtpTls::None;
        configure(s);
    })
    .await
}

/// A provider account as an OAuth sign-in creates it (no password, confirmed).
pub fn provider_account(provider: &str, uid: &str, email: Option<&str>) -> toker::store::NewUser {
    toker::store::NewUser {
        provider: provider.into(),
        uid: uid.into(),
        email: email.map(str::to_string),
        encrypted_password: String::new(),
        name: None,
        nickname: None,
        image: None,
        extra: None,
        confirmed_at: Some(chrono::Utc::now()),
        confirmation_token: None,
        confirmation_sent_at: None,
    }
}

/// The app with settings adjusted by `configure`.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    LazyLock::force(&TRACING);
    let db = fresh_database().await;
    let mut settings = test_settings(&db.url);
    configure(&mut settings);
    settings.validate().expect("test settings are valid");
    start(settings, db).await
}

/// The app on a database server the test runs itself (`database_url`), settings adjusted by
/// `configure`.
pub async fn spawn_app_on(database_url: &str, configure: impl FnOnce(&mut Settings)) -> TestApp {
    LazyLock::force(&TRACING);
    let mut settings = test_settings(database_url);
    configure(&mut settings);
    settings.validate().expect("test settings are valid");
    let db = TestDatabase {
        url: database_url.to_string(),
        _dir: None,
    };
    start(settings, db).await
}

async fn start(settings: Settings, db: TestDatabase) -> TestApp {
    let app = Application::build(settings.clone())
        .await
        .expect("application builds");
    let port = app.port();
    let metrics_port = app.metrics_port();
    let store = app.store().clone();
    let server = tokio::spawn(async move {
        let _ = app.run().await;
    });
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        client: client(),
        store,
        settings,
        db,
        metrics_port,
        server,
    }
}

/// A client that does not follow redirects and keeps no cookies.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("reqwest client")
}

impl TestApp {
    /// A second instance of the app on the same database (another "server" behind a load
    /// balancer), with the same settings.
    pub async fn spawn_sibling(&self) -> TestApp {
        let app = Application::build(self.settings.clone())
            .await
            .expect("sibling builds");
        let port = app.port();
        let metrics_port = app.metrics_port();
        let store = app.store().clone();
        let server = tokio::spawn(async move {
            let _ = app.run().await;
        });
        TestApp {
            address: format!("http://127.0.0.1:{port}"),
            port,
            client: client(),
            store,
            settings: self.settings.clone(),
            db: TestDatabase {
                url: self.db.url.clone(),
                _dir: None,
            },
            metrics_port,
            server,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.request(Method::POST, path)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// `POST /auth` with matching password confirmation.
    pub async fn sign_up(&self, email: &str, password: &str) -> Response {
        self.post_json(
            "/auth",
            &serde_json::json!({
                "email": email,
                "password": password,
                "password_confirmation": password,
            }),
        )
        .await
    }

    pub async fn sign_in_response(&self, email: &str, password: &str) -> Response {
        self.post_json(
            "/auth/sign_in",
            &serde_json::json!({ "email": email, "password": password }),
        )
        .await
    }

    /// Signs up and in; returns the new device's credentials.
    pub async fn signed_in_user(&self, email: &str) -> Auth {
        assert_eq!(self.sign_up(email, "password1").await.status(), 200);
        let resp = self.sign_in_response(email, "password1").await;
        assert_eq!(resp.status(), 200);
        Auth::from_headers(resp.headers()).expect("sign-in returns credentials")
    }

    /// A request carrying `auth`'s headers.
    pub fn authed(&self, method: Method, path: &str, auth: &Auth) -> RequestBuilder {
        auth.apply(self.request(method, path))
    }

    /// `GET path` with `auth`; afterwards `auth` holds the token to use next (unchanged when
    /// the response carried none, as the frontends do).
    pub async fn get_authed(&self, path: &str, auth: &mut Auth) -> Response {
        let resp = self
            .authed(Method::GET, path, auth)
            .send()
            .await
            .expect("request");
        auth.update_from(resp.headers());
        resp
    }

    /// An OAuth account (`provider`, `uid`) with one signed-in device, as a provider callback
    /// leaves it; returns the device's credentials.
    pub async fn oauth_user(&self, provider: &str, uid: &str, email: Option<&str>) -> Auth {
        let user = self
            .store
            .insert_user(provider_account(provider, uid, email), chrono::Utc::now())
            .await
            .expect("insert OAuth user");
        let accounts = toker::startup::accounts_for(
            std::sync::Arc::new(self.settings.clone()),
            self.store.clone(),
        )
        .await
        .expect("accounts");
        let session = accounts
            .open_session(
                &user,
                &Default::default(),
                toker::accounts::SignInMethod::Provider,
            )
            .await
            .expect("session");
        Auth {
            token: session.token,
            client: session.device.client,
            uid: uid.into(),
            expiry: session.device.expiry.to_string(),
        }
    }

    /// The user id of `uid`.
    pub async fn user_id(&self, email: &str) -> i64 {
        self.store
            .find_email_user(email)
            .await
            .expect("store")
            .expect("user exists")
            .id
    }
}

/// One device's credentials as a frontend keeps them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth {
    pub token: String,
    pub client: String,
    pub uid: String,
    pub expiry: String,
}

impl Auth {
    /// The credentials in a response, if it carries a real (non-blank) token.
    pub fn from_headers(headers: &HeaderMap) -> Option<Auth> {
        let get = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        };
        Some(Auth {
            token: get("access-token")?,
            client: get("client")?,
            uid: get("uid")?,
            expiry: get("expiry")?,
        })
    }

    pub fn apply(&self, rb: RequestBuilder) -> RequestBuilder {
        rb.header("access-token", &self.token)
            .header("client", &self.client)
            .header("uid", &self.uid)
            .header("token-type", "Bearer")
            .header("expiry", &self.expiry)
    }

    /// Takes a new token from `headers` when there is one.
    pub fn update_from(&mut self, headers: &HeaderMap) {
        if let Some(next) = Auth::from_headers(headers) {
            *self = next;
        }
    }
}

/// Response body as JSON (panics with the text when it is not JSON).
pub async fn json(resp: Response) -> Value {
    let text = resp.text().await.expect("body");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
}

/// Asserts the contract's JSON error content type.
pub fn assert_json_content_type(resp: &Response) {
    assert_eq!(
        resp.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json; charset=utf-8")
    );
}
