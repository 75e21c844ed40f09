//! Settings: built-in defaults, then a TOML file, then `TOKER_`-prefixed environment variables
//! (docs/decisions.md D12). Every devise_token_auth option keeps its DTA name and default; toker's own
//! settings sit beside them. Everything is validated once, at startup, so a bad value stops the
//! server with a message that names the setting.

use std::{collections::BTreeMap, net::SocketAddr, path::Path, time::Duration};

use figment::{
    Figment,
    providers::{Env, Format, Toml},
};
use serde::{Deserialize, Serialize};

use crate::contract::headers::HeaderNames;
pub mod cookie;
mod effective;
pub mod gateway;
pub mod oauth;
pub mod secret;
pub mod user_types;

pub use cookie::{CookieAttributes, CookieSpec, SameSite};
pub use gateway::{AssertionBinding, GatewayRoute, GatewaySettings, RouteAuth};
pub use oauth::{OAuthProviderSettings, ProviderKind};
pub use secret::Secret;
pub use user_types::UserTypeSettings;

use crate::redirect::RedirectPolicy;

/// What a batch response (a request inside the batch window) carries (docs/decisions.md D1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BatchResponse {
    /// No auth headers at all: every client keeps the token it has.
    Omit,
    /// devise_token_auth's `access-token: " "` and `expiry: " "`, byte for byte.
    Blank,
}

/// Where mail goes (docs/decisions.md D11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTransport {
    /// Print messages and their links to the server log.
    Log,
    /// Write one `.eml` file per message into `mail_dir`.
    File,
    /// Deliver through an SMTP server.
    Smtp,
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain text (a local relay or test server only).
    None,
    /// Upgrade with STARTTLS, required (usually port 587).
    Starttls,
    /// TLS from the first byte (usually port 465).
    Tls,
}

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One human-readable line per event (`key=value` fields).
    Text,
    /// One JSON object per line, every field a top-level key, for a log collector.
    Json,
}

/// Devise's `lock_strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockStrategy {
    /// Lock after `maximum_attempts` failed sign-ins.
    FailedAttempts,
    /// Never lock automatically.
    None,
}

/// Devise's `unlock_strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnlockStrategy {
    /// A mailed unlock link.
    Email,
    /// Unlocks by itself after `unlock_in`.
    Time,
    /// Either.
    Both,
    /// Only an administrator unlocks.
    None,
}

impl UnlockStrategy {
    pub fn by_email(self) -> bool {
        matches!(self, UnlockStrategy::Email | UnlockStrategy::Both)
    }

    pub fn by_time(self) -> bool {
        matches!(self, UnlockStrategy::Time | UnlockStrategy::Both)
    }
}

/// `accept_token_params`: where credentials may come from query and body parameters when
/// headers lack them (docs/decisions.md D10). `true`: only on `GET validate_token` and
/// `DELETE sign_out`, the two routes redux-token-auth uses that way; `false`: nowhere;
/// `"everywhere"`: on every authenticated route, as devise_token_auth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AcceptTokenParams {
    Switch(bool),
    Scope(TokenParamsScope),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenParamsScope {
    Everywhere,
}

impl AcceptTokenParams {
    /// Whether a route reads credentials from parameters; `fallback_route` is true for the
    /// two routes redux-token-auth needs.
    pub fn on(self, fallback_route: bool) -> bool {
        match self {
            AcceptTokenParams::Switch(on) => on && fallback_route,
            AcceptTokenParams::Scope(TokenParamsScope::Everywhere) => true,
        }
    }
}

/// DTA's `check_current_password_before_update`: `false`, `"attributes"` or `"password"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CurrentPasswordCheck {
    Off(bool),
    Mode(CurrentPasswordMode),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CurrentPasswordMode {
    Attributes,
    Password,
}

impl CurrentPasswordCheck {
    pub fn mode(self) -> Option<CurrentPasswordMode> {
        match self {
            CurrentPasswordCheck::Off(_) => None,
            CurrentPasswordCheck::Mode(mode) => Some(mode),
        }
    }
}

/// All of toker's settings. Field names are the TOML keys; `TOKER_<NAME>` overrides each.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    // --- toker's own settings ---
    /// Address the HTTP server listens on.
    pub bind: String,
    /// `sqlite://…`, `postgres://…` or `mysql://…` (MariaDB).
    pub database_url: String,
    /// Largest connection pool per process; unset: see `pool_size`.
    pub database_max_connections: Option<u32>,
    /// Seconds a request waits for a database connection (a free one from the pool, or a new
    /// one while the database is restarting) before it is answered 503 with `Retry-After`.
    pub database_acquire_timeout: u64,
    /// Apply pending migrations when `serve` starts.
    pub auto_migrate: bool,
    /// Path prefix of the devise_token_auth routes (DTA's `mount_devise_token_auth_for … at:`).
    pub mount_path: String,
    /// Public base URL of this server, used to build links in mail. Defaults to `http://<bind>`
    /// (`https://` with `tls_cert`).
    pub public_url: Option<String>,
    /// `omit` (default) or `blank`: what batch responses carry (docs/decisions.md D1).
    pub batch_response: BatchResponse,
    /// Read credentials from query and body params when headers lack them: `true` on the two
    /// routes redux-token-auth needs, `false` nowhere, `"everywhere"` as devise_token_auth
    /// (docs/decisions.md D10).
    pub accept_token_params: AcceptTokenParams,
    /// bcrypt cost for passwords (Devise's `stretches`).
    pub password_cost: u32,
    /// Origins allowed to call the API cross-origin: exact `scheme://host[:port]`, or patterns
    /// where `*` stands for characters other than `/`, `:` and `@`.
    pub cors_origins: Vec<String>,
    /// `Access-Control-Max-Age` on preflight responses, at most 7200.
    pub cors_max_age: u64,
    /// Answer Private Network Access preflights (`Access-Control-Allow-Private-Network`).
    pub cors_allow_private_network: bool,
    /// Largest accepted request body in bytes; larger ones get 413.
    pub max_body_size: usize,
    /// Seconds a client may take to send a request's headers, from their first byte.
    pub header_read_timeout: u64,
    /// Seconds a client may take to send a request's body once its headers are in (408 after).
    pub body_read_timeout: u64,
    /// Seconds an idle connection waits for its next request; also the longest a client may
    /// leave an answer unread.
    pub keep_alive_timeout: u64,
    /// Most client connections open at once; more wait until one closes. Lowered at startup
    /// to what the process's open-files limit allows.
    pub max_connections: usize,
    /// Extra user attributes permitted on sign-up (Devise's `permit(:sign_up, keys: …)`).
    pub sign_up_attributes: Vec<String>,
    /// Extra user attributes permitted on account update.
    pub account_update_attributes: Vec<String>,
    /// Default log filter (`RUST_LOG` syntax); the `RUST_LOG` variable wins when set.
    pub log_level: String,
    /// `text` (default) or `json`, one object per line.
    pub log_format: LogFormat,
    /// `log`, `file` or `smtp`.
    pub mail_transport: MailTransport,
    /// Sender of every message (Devise's `mailer_sender`).
    pub mail_from: String,
    /// Folder of the `file` transport.
    pub mail_dir: String,
    /// Language of answers and mails for a request that names none toker speaks (by the
    /// `locale` parameter or `Accept-Language`): a shipped language or one of `locales_dir`.
    pub default_locale: String,
    /// Folder of the app's `<language>.ftl` files (`de.ftl`, `it.ftl`): each replaces the
    /// messages it defines in a shipped language, or adds a language.
    pub locales_dir: Option<String>,
    /// Folder of the app's mail templates, `<type>/<locale>/<kind>.{subject,text,html}`, laid
    /// over the built-in ones.
    pub mail_templates: Option<String>,
    pub smtp_host: String,
    pub smtp_port: u16,
    pub smtp_tls: SmtpTls,
    pub smtp_username: Option<String>,
    pub smtp_password: Option<Secret>,
    /// Seconds before an SMTP connection or command gives up.
    pub smtp_timeout: u64,
    /// Key for signing OAuth `state` (Devise's `secret_key`). Every instance behind a load
    /// balancer needs the same one; unset = a random key per process.
    pub secret_key: Option<Secret>,
    /// Seconds an OAuth sign-in may take between leaving and coming back.
    pub oauth_state_lifetime: u64,
    /// Seconds before a call to an OAuth provider gives up.
    pub oauth_timeout: u64,
    /// The OAuth providers, by path name.
    pub oauth: BTreeMap<String, OAuthProviderSettings>,
    /// Gateway mode and forward-auth (docs/decisions.md D14).
    pub gateway: GatewaySettings,
    /// Further user types beside the default `User`, each with its own mount and users
    /// (`[[user_types]]` tables, see `user_types`).
    pub user_types: Vec<UserTypeSettings>,

    // --- devise_token_auth options (docs/contract.md §1.1), DTA names and defaults ---
    pub change_headers_on_each_request: bool,
    pub max_number_of_devices: u32,
    /// Seconds (DTA: 2 weeks).
    pub token_lifespan: u64,
    /// Seconds (DTA: 5).
    pub batch_request_buffer_throttle: u64,
    pub default_confirm_success_url: Option<String>,
    pub default_password_reset_url: Option<String>,
    /// Mobile / deep-link reset flow: the link redirects with only `reset_password_token`,
    /// which `PUT /auth/password` then accepts instead of auth headers.
    pub require_client_password_reset_token: bool,
    pub redirect_whitelist: Option<Vec<String>>,
    pub check_current_password_before_update: CurrentPasswordCheck,
    pub remove_tokens_after_password_reset: bool,
    pub bypass_sign_in: bool,
    pub headers_names: HeaderNames,
    /// Cookie mode (docs/contract.md §3.11): credentials also travel in an HttpOnly cookie.
    pub cookie_enabled: bool,
    pub cookie_name: String,
    /// Attributes of the cookie; unset ones are chosen safe (docs/decisions.md D15).
    pub cookie_attributes: CookieAttributes,
    /// Browser sessions for static apps (`GET`/`POST`/`DELETE` on `session_path`).
    pub session_enabled: bool,
    pub session_path: String,
    /// The session cookie's name; `__Host-` is put in front when the cookie can have it.
    pub session_cookie_name: String,
    /// Seconds a browser session lasts without a request.
    pub session_idle_timeout: u64,
    /// Seconds a browser session lasts at most (at most `token_lifespan`).
    pub session_lifetime: u64,
    /// Also require the session's `X-CSRF-Token` (double submit) on state-changing requests.
    pub csrf_tokens: bool,
    /// Prefix of the provider callback URLs: `<public_url><omniauth_prefix>/<name>/callback`.
    pub omniauth_prefix: String,

    // --- Devise options that shape the wire (docs/contract.md §1.2) ---
    /// The `:confirmable` module: unconfirmed users cannot sign in.
    pub confirmable: bool,
    /// Seconds an unconfirmed user may still sign in; unset = forever.
    pub allow_unconfirmed_access_for: Option<u64>,
    /// Seconds a confirmation link stays valid; unset = forever.
    pub confirm_within: Option<u64>,
    /// Seconds a password-reset link stays valid (Devise: 6 hours).
    pub reset_password_within: u64,
    /// Apply an e-mail change only once the new address is confirmed (with `confirmable`).
    pub reconfirmable: bool,
    /// The `:lockable` module.
    pub lockable: bool,
    pub lock_strategy: LockStrategy,
    pub unlock_strategy: UnlockStrategy,
    /// Failed sign-ins that lock an account.
    pub maximum_attempts: u32,
    /// Seconds until a locked account unlocks by itself (`time` or `both`).
    pub unlock_in: u64,
    /// Warn on the last attempt before the account locks.
    pub last_attempt_warning: bool,
    /// Seconds an unlock link stays valid (toker's own: the link signs a device in, so it
    /// expires like a reset link).
    pub unlock_within: u64,
    /// Devise's `send_password_change_notification`: mail "Password Changed" after a change.
    pub send_password_change_notification: bool,
    /// Devise's `send_email_changed_notification`: mail "Email Changed" to the old address.
    pub send_email_changed_notification: bool,
    /// Where the unlock link lands (with a new device's credentials and `unlock=true`);
    /// default `<public_url>/`.
    pub unlock_success_url: Option<String>,
    pub paranoid: bool,
    /// `[min, max]` password length.
    pub password_length: [usize; 2],
    pub pepper: Option<Secret>,

    // --- abuse limits (docs/decisions.md D16); a count of 0 turns that limit off ---
    /// Sign-in attempts one client address may make per `sign_in_limit_period`.
    pub sign_in_limit_per_ip: u32,
    /// Sign-in attempts for one e-mail address per `sign_in_limit_period`, from anywhere.
    pub sign_in_limit_per_email: u32,
    /// Seconds over which the sign-in limits count.
    pub sign_in_limit_period: u64,
    /// Sign-ups one client address may make per `sign_up_limit_period`.
    pub sign_up_limit_per_ip: u32,
    /// Sign-ups for one e-mail address per `sign_up_limit_period`.
    pub sign_up_limit_per_email: u32,
    /// Seconds over which the sign-up limits count.
    pub sign_up_limit_period: u64,
    /// Requests for a reset, confirmation or unlock mail one client address may make per
    /// `mail_limit_period` (each kind counted on its own).
    pub mail_limit_per_ip: u32,
    /// The same requests for one e-mail address.
    pub mail_limit_per_email: u32,
    /// Seconds over which the mail-request limits count.
    pub mail_limit_period: u64,
    /// Seconds between two mails of one kind to one address: a request within it is answered
    /// as usual but mails nothing.
    pub mail_cooldown: u64,
    /// `paranoid` mode's background look-ups and mails running at once; a request beyond it is
    /// answered as usual and mails nothing. 0 = no bound.
    pub mail_background_limit: usize,
    /// bcrypt runs at once; unset = cores − 1 (at least 1).
    pub password_hash_workers: Option<usize>,
    /// bcrypt runs that may wait for a worker; beyond it requests get 503 with `Retry-After`.
    /// 0 = no bound.
    pub password_hash_queue: usize,
    /// Proxies (CIDR blocks or addresses) whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<String>,
    /// `redis://…`: count the limits in Redis, shared by every instance; unset = in this process.
    pub rate_limit_store: Option<Secret>,
    /// Seconds SIGTERM waits for requests in flight and queued token writes before exiting.
    pub shutdown_timeout: u64,
    /// Address of the Prometheus `/metrics` listener, apart from `bind`; unset = no metrics.
    pub metrics_bind: Option<String>,
    /// PEM certificate chain: with `tls_key`, `bind` serves HTTPS (HTTP/2 and HTTP/1.1).
    pub tls_cert: Option<String>,
    /// PEM private key of `tls_cert`; both files are read again on SIGHUP.
    pub tls_key: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            bind: "127.0.0.1:3000".into(),
            database_url: "sqlite://toker.db?mode=rwc".into(),
            database_max_connections: None,
            database_acquire_timeout: 5,
            auto_migrate: true,
            mount_path: "/auth".into(),
            public_url: None,
            batch_response: BatchResponse::Omit,
            accept_token_params: AcceptTokenParams::Switch(true),
            password_cost: 12,
            cors_origins: Vec::new(),
            cors_max_age: 7200,
            cors_allow_private_network: false,
            max_body_size: 64 * 1024,
            header_read_timeout: 30,
            body_read_timeout: 30,
            keep_alive_timeout: 75,
            max_connections: 16_384,
            sign_up_attributes: Vec::new(),
            account_update_attributes: Vec::new(),
            log_level: "info".into(),
            log_format: LogFormat::Text,
            mail_transport: MailTransport::Log,
            mail_from: "toker@localhost".into(),
            mail_dir: "mail".into(),
            default_locale: "en".into(),
            locales_dir: None,
            mail_templates: None,
            smtp_host: "127.0.0.1".into(),
            smtp_port: 587,
            smtp_tls: SmtpTls::Starttls,
            smtp_username: None,
            smtp_password: None,
            smtp_timeout: 10,
            secret_key: None,
            oauth_state_lifetime: 600,
            oauth_timeout: 10,
            oauth: BTreeMap::new(),
            gateway: GatewaySettings::default(),
            user_types: Vec::new(),
            omniauth_prefix: "/omniauth".into(),
            change_headers_on_each_request: true,
            max_number_of_devices: 10,
            token_lifespan: 14 * 24 * 3600,
            batch_request_buffer_throttle: 5,
            default_confirm_success_url: None,
            default_password_reset_url: None,
            require_client_password_reset_token: false,
            redirect_whitelist: None,
            check_current_password_before_update: CurrentPasswordCheck::Off(false),
            remove_tokens_after_password_reset: false,
            bypass_sign_in: true,
            headers_names: HeaderNames::default(),
            cookie_enabled: false,
            cookie_name: "auth_cookie".into(),
            cookie_attributes: CookieAttributes::default(),
            session_enabled: false,
            session_path: "/session".into(),
            session_cookie_name: "toker_session".into(),
            session_idle_timeout: 24 * 3600,
            session_lifetime: 14 * 24 * 3600,
            csrf_tokens: false,
            confirmable: false,
            allow_unconfirmed_access_for: Some(0),
            confirm_within: None,
            reset_password_within: 6 * 3600,
            reconfirmable: true,
            lockable: false,
            lock_strategy: LockStrategy::FailedAttempts,
            unlock_strategy: UnlockStrategy::Both,
            maximum_attempts: 20,
            unlock_in: 3600,
            last_attempt_warning: false,
            unlock_within: 6 * 3600,
            send_password_change_notification: false,
            send_email_changed_notification: false,
            unlock_success_url: None,
            paranoid: false,
            password_length: [6, 128],
            pepper: None,
            sign_in_limit_per_ip: 30,
            sign_in_limit_per_email: 10,
            sign_in_limit_period: 300,
            sign_up_limit_per_ip: 20,
            sign_up_limit_per_email: 5,
            sign_up_limit_period: 3600,
            mail_limit_per_ip: 20,
            mail_limit_per_email: 5,
            mail_limit_period: 3600,
            mail_cooldown: 60,
            mail_background_limit: 64,
            password_hash_workers: None,
            password_hash_queue: 32,
            trusted_proxies: Vec::new(),
            rate_limit_store: None,
            shutdown_timeout: 10,
            metrics_bind: None,
            tls_cert: None,
            tls_key: None,
        }
    }
}

/// A setting that failed validation, worded for the person starting the server.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid setting `{setting}`: {problem}")]
    Invalid {
        setting: &'static str,
        problem: String,
    },
    #[error("{0}")]
    Load(String),
}

fn invalid(setting: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        setting,
        problem: problem.into(),
    }
}

/// Longest `shutdown_timeout`: an hour.
const MAX_SHUTDOWN_TIMEOUT: u64 = 3600;

impl Settings {
    /// `shutdown_timeout`, `metrics_bind`, `tls_cert` and `tls_key`. The TLS files themselves
    /// are read when the server starts, which names the setting of a file it cannot use.
    fn validate_operations(&self) -> Result<(), ConfigError> {
        if !(1..=MAX_SHUTDOWN_TIMEOUT).contains(&self.shutdown_timeout) {
            return Err(invalid(
                "shutdown_timeout",
                format!("must be between 1 and {MAX_SHUTDOWN_TIMEOUT} seconds"),
            ));
        }
        if let Some(address) = &self.metrics_bind {
            let parsed = address.parse::<SocketAddr>().map_err(|e| {
                invalid(
                    "metrics_bind",
                    format!("`{address}` is not host:port ({e})"),
                )
            })?;
            let public = self.bind.parse::<SocketAddr>().ok();
            if public.is_some_and(|b| b.port() != 0 && b.port() == parsed.port()) {
                return Err(invalid(
                    "metrics_bind",
                    "must be another port than `bind`: metrics are not served on the public \
                     listener",
                ));
            }
        }
        match (&self.tls_cert, &self.tls_key) {
            (Some(_), None) => Err(invalid("tls_key", "must be set when tls_cert is")),
            (None, Some(_)) => Err(invalid("tls_cert", "must be set when tls_key is")),
            (Some(cert), Some(key)) => {
                for (setting, path) in [("tls_cert", cert), ("tls_key", key)] {
                    if path.trim().is_empty() || path.contains('\0') {
                        return Err(invalid(setting, "must be the path of a PEM file"));
                    }
                }
                Ok(())
            }
            (None, None) => Ok(()),
        }
    }

    /// How long SIGTERM waits for requests and token writes.
    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout)
    }
}

/// Longest lifetime a duration setting may have: 100 years.
pub const MAX_DURATION_SECS: u64 = 100 * 365 * 24 * 3600;
/// Longest network timeout.
const MAX_TIMEOUT_SECS: u64 = 3600;

/// Attribute names the account code owns; an app cannot permit these as extras.
const RESERVED_ATTRIBUTES: &[&str] = &[
    "id",
    "provider",
    "uid",
    "email",
    "password",
    "password_confirmation",
    "current_password",
    "encrypted_password",
    "tokens",
    "allow_password_change",
    "created_at",
    "updated_at",
    "extra",
];

/// Longest `database_acquire_timeout`: a request held longer than this outlives any proxy's
/// patience, and the check keeps the pool's deadline arithmetic far from overflowing.
const MAX_ACQUIRE_TIMEOUT: u64 = 300;

/// Profile columns of the users table that an app may permit directly.
pub const PROFILE_COLUMNS: &[&str] = &["name", "nickname", "image"];

impl Settings {
    /// Layers defaults, the TOML file (the given path, else `toker.toml` when present) and the
    /// `TOKER_` environment, then validates.
    pub fn load(config_path: Option<&Path>) -> Result<Settings, ConfigError> {
        // Unset keys take `Settings::default()` through `#[serde(default)]`.
        let mut figment = Figment::new();
        match config_path {
            Some(path) => {
                if !path.is_file() {
                    return Err(ConfigError::Load(format!(
                        "config file {} does not exist",
                        path.display()
                    )));
                }
                figment = figment.merge(Toml::file_exact(path));
            }
            None => figment = figment.merge(Toml::file("toker.toml")),
        }
        // TOKER_TEST_* variables belong to the test suite, not to the server.
        figment = figment.merge(
            Env::prefixed("TOKER_")
                .split("__")
                .ignore(&["test_database_url"]),
        );
        let settings: Settings = figment
            .extract()
            .map_err(|e| ConfigError::Load(describe_figment_error(e)))?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks every value that types alone cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.bind
            .parse::<SocketAddr>()
            .map_err(|e| invalid("bind", format!("`{}` is not host:port ({e})", self.bind)))?;
        let scheme = self.database_url.split(':').next().unwrap_or_default();
        if !matches!(
            scheme,
            "sqlite" | "postgres" | "postgresql" | "mysql" | "mariadb"
        ) {
            return Err(invalid(
                "database_url",
                "must start with sqlite:, postgres:, postgresql: or mysql:",
            ));
        }
        if self.database_max_connections == Some(0) {
            return Err(invalid("database_max_connections", "must be at least 1"));
        }
        if !(1..=MAX_ACQUIRE_TIMEOUT).contains(&self.database_acquire_timeout) {
            return Err(invalid(
                "database_acquire_timeout",
                format!("must be between 1 and {MAX_ACQUIRE_TIMEOUT} seconds"),
            ));
        }
        if !self.mount_path.starts_with('/')
            || (self.mount_path.len() > 1 && self.mount_path.ends_with('/'))
            || self.mount_path.contains(['?', '#', ' '])
        {
            return Err(invalid(
                "mount_path",
                "must start with `/` and not end with `/` (for example `/auth` or `/api/v1/auth`)",
            ));
        }
        if self.mount_path == "/api" || self.mount_path == "/docs" {
            return Err(invalid("mount_path", "`/api` and `/docs` are taken"));
        }
        if let Some(url) = &self.public_url {
            match url::Url::parse(url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
                _ => return Err(invalid("public_url", "must be an absolute http(s) URL")),
            }
        }
        if !(4..=31).contains(&self.password_cost) {
            return Err(invalid("password_cost", "must be between 4 and 31"));
        }
        if self.cors_max_age > 7200 {
            return Err(invalid(
                "cors_max_age",
                "must be at most 7200 (browsers ignore more)",
            ));
        }
        crate::origins::OriginMatcher::new(&self.cors_origins)
            .map_err(|p| invalid("cors_origins", p))?;
        if self.max_body_size < 1024 {
            return Err(invalid("max_body_size", "must be at least 1024 bytes"));
        }
        for (setting, seconds) in [
            ("header_read_timeout", self.header_read_timeout),
            ("body_read_timeout", self.body_read_timeout),
            ("keep_alive_timeout", self.keep_alive_timeout),
        ] {
            if !(1..=3600).contains(&seconds) {
                return Err(invalid(setting, "must be between 1 and 3600 seconds"));
            }
        }
        if !(1..=1_000_000).contains(&self.max_connections) {
            return Err(invalid("max_connections", "must be between 1 and 1000000"));
        }
        self.validate_operations()?;
        self.validate_cookie()?;
        for (setting, list) in [
            ("sign_up_attributes", &self.sign_up_attributes),
            ("account_update_attributes", &self.account_update_attributes),
        ] {
            for name in list {
                let well_formed = !name.is_empty()
                    && name.len() <= 64
                    && name.starts_with(|c: char| c.is_ascii_lowercase())
                    && name
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
                if !well_formed {
                    return Err(invalid(
                        setting,
                        format!("`{name}` is not a lower-case snake_case attribute name"),
                    ));
                }
                if RESERVED_ATTRIBUTES.contains(&name.as_str()) {
                    return Err(invalid(
                        setting,
                        format!("`{name}` is managed by toker itself"),
                    ));
                }
            }
        }
        if self.max_number_of_devices == 0 {
            return Err(invalid("max_number_of_devices", "must be at least 1"));
        }
        if self.token_lifespan == 0 {
            return Err(invalid("token_lifespan", "must be greater than 0 seconds"));
        }
        self.check_durations()?;
        if self.batch_request_buffer_throttle >= self.token_lifespan {
            return Err(invalid(
                "batch_request_buffer_throttle",
                "must be shorter than token_lifespan",
            ));
        }
        let redirects = RedirectPolicy::new(
            self.redirect_whitelist.as_ref(),
            &self.cors_origins,
            &self.public_url(),
        )
        .map_err(|p| invalid("redirect_whitelist", p))?;
        for (setting, url) in [
            (
                "default_confirm_success_url",
                &self.default_confirm_success_url,
            ),
            (
                "default_password_reset_url",
                &self.default_password_reset_url,
            ),
            ("unlock_success_url", &self.unlock_success_url),
        ] {
            let Some(url) = url else { continue };
            if !crate::redirect::is_absolute_http_url(url) {
                return Err(invalid(setting, "must be an absolute http(s) URL"));
            }
            // A landing page the redirect rule refuses would make every link that lands there
            // answer 422 (or send the browser where the rule says no): say so at startup.
            if !redirects.allows(url) {
                return Err(invalid(
                    setting,
                    format!(
                        "`{url}` is not an allowed redirect ({})",
                        redirects.describe()
                    ),
                ));
            }
        }
        if !self.omniauth_prefix.starts_with('/')
            || self.omniauth_prefix.len() < 2
            || self.omniauth_prefix.ends_with('/')
            || self.omniauth_prefix == self.mount_path
        {
            return Err(invalid(
                "omniauth_prefix",
                "must start with `/`, not end with `/`, and differ from mount_path",
            ));
        }
        if self.secret_key.as_ref().is_some_and(|k| k.len() < 32) {
            return Err(invalid("secret_key", "must be at least 32 characters"));
        }
        if self.oauth_state_lifetime == 0 || self.oauth_timeout == 0 {
            return Err(invalid(
                "oauth_state_lifetime",
                "oauth_state_lifetime and oauth_timeout must be at least 1 second",
            ));
        }
        for (name, provider) in &self.oauth {
            crate::oauth::providers::resolve(name, provider)
                .map_err(|problem| invalid("oauth", format!("[oauth.{name}]: {problem}")))?;
        }
        self.gateway
            .validate(&self.own_paths())
            .map_err(|(setting, problem)| invalid(setting, problem))?;
        if self.gateway.forward_auth && self.oauth.contains_key("forward") {
            return Err(invalid(
                "oauth",
                "a provider named `forward` clashes with the forward-auth endpoint",
            ));
        }
        if self.maximum_attempts == 0 || self.maximum_attempts > i32::MAX as u32 {
            return Err(invalid(
                "maximum_attempts",
                format!("must be between 1 and {}", i32::MAX),
            ));
        }
        for (setting, secs) in [
            ("reset_password_within", self.reset_password_within),
            ("unlock_within", self.unlock_within),
        ] {
            if secs == 0 {
                return Err(invalid(setting, "must be greater than 0 seconds"));
            }
        }
        if let CurrentPasswordCheck::Off(true) = self.check_current_password_before_update {
            return Err(invalid(
                "check_current_password_before_update",
                "must be false, \"attributes\" or \"password\"",
            ));
        }
        let names = &self.headers_names;
        let all = [
            &names.authorization,
            &names.access_token,
            &names.client,
            &names.expiry,
            &names.uid,
            &names.token_type,
        ];
        for name in all {
            if name.is_empty() || poem::http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err(invalid(
                    "headers_names",
                    format!("`{name}` is not a valid header name"),
                ));
            }
        }
        let [min, max] = self.password_length;
        if min == 0 || min > max || max > 72 * 4 {
            return Err(invalid(
                "password_length",
                "must be [min, max] with 1 <= min <= max",
            ));
        }
        if self.mail_from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(invalid(
                "mail_from",
                "must be an address like `toker@example.com` or `Toker <toker@example.com>`",
            ));
        }
        if self.mail_transport == MailTransport::Smtp && self.smtp_host.trim().is_empty() {
            return Err(invalid(
                "smtp_host",
                "is required with mail_transport = \"smtp\"",
            ));
        }
        if self.smtp_timeout == 0 {
            return Err(invalid("smtp_timeout", "must be at least 1 second"));
        }
        if crate::locale::parse_tag(&self.default_locale).is_none() {
            return Err(invalid(
                "default_locale",
                format!(
                    "`{}` is not a language tag (en, de, pt-BR)",
                    self.default_locale
                ),
            ));
        }
        for (setting, dir) in [
            ("locales_dir", &self.locales_dir),
            ("mail_templates", &self.mail_templates),
        ] {
            if let Some(dir) = dir
                && !std::path::Path::new(dir).is_dir()
            {
                return Err(invalid(
                    setting,
                    format!("`{dir}` is not a readable folder"),
                ));
            }
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log_level) {
            return Err(invalid("log_level", e.to_string()));
        }
        self.validate_limits()
    }

    /// The abuse limits (docs/decisions.md D16).
    fn validate_limits(&self) -> Result<(), ConfigError> {
        const MAX_COUNT: u32 = 1_000_000;
        const MAX_PERIOD: u64 = 30 * 24 * 3600;
        for (counts, period_name, period) in [
            (
                [
                    ("sign_in_limit_per_ip", self.sign_in_limit_per_ip),
                    ("sign_in_limit_per_email", self.sign_in_limit_per_email),
                ],
                "sign_in_limit_period",
                self.sign_in_limit_period,
            ),
            (
                [
                    ("sign_up_limit_per_ip", self.sign_up_limit_per_ip),
                    ("sign_up_limit_per_email", self.sign_up_limit_per_email),
                ],
                "sign_up_limit_period",
                self.sign_up_limit_period,
            ),
            (
                [
                    ("mail_limit_per_ip", self.mail_limit_per_ip),
                    ("mail_limit_per_email", self.mail_limit_per_email),
                ],
                "mail_limit_period",
                self.mail_limit_period,
            ),
        ] {
            for (name, count) in counts {
                if count > MAX_COUNT {
                    return Err(invalid(
                        name,
                        format!("must be at most {MAX_COUNT} (0 turns the limit off)"),
                    ));
                }
            }
            if !(1..=MAX_PERIOD).contains(&period) {
                return Err(invalid(
                    period_name,
                    format!("must be between 1 and {MAX_PERIOD} seconds"),
                ));
            }
        }
        if self.mail_cooldown > 24 * 3600 {
            return Err(invalid(
                "mail_cooldown",
                "must be at most 86400 seconds (0 turns it off)",
            ));
        }
        for (name, value) in [
            ("mail_background_limit", self.mail_background_limit),
            ("password_hash_queue", self.password_hash_queue),
        ] {
            if value > 1_000_000 {
                return Err(invalid(name, "must be at most 1000000 (0 means no bound)"));
            }
        }
        if let Some(workers) = self.password_hash_workers
            && !(1..=1024).contains(&workers)
        {
            return Err(invalid(
                "password_hash_workers",
                "must be between 1 and 1024 (remove the key for cores − 1)",
            ));
        }
        crate::proxies::TrustedProxies::new(&self.trusted_proxies)
            .map_err(|p| invalid("trusted_proxies", p))?;
        if let Some(url) = &self.rate_limit_store {
            check_rate_limit_store(url.expose()).map_err(|p| invalid("rate_limit_store", p))?;
        }
        self.validate_user_types()
    }

    pub fn database_acquire_timeout(&self) -> Duration {
        Duration::from_secs(self.database_acquire_timeout)
    }

    /// Every duration stays far inside what dates can represent, so adding one to a time
    /// never overflows (chrono panics on that); timeouts stay within an hour.
    fn check_durations(&self) -> Result<(), ConfigError> {
        let lifetimes = [
            ("token_lifespan", Some(self.token_lifespan)),
            (
                "batch_request_buffer_throttle",
                Some(self.batch_request_buffer_throttle),
            ),
            (
                "allow_unconfirmed_access_for",
                self.allow_unconfirmed_access_for,
            ),
            ("confirm_within", self.confirm_within),
            ("reset_password_within", Some(self.reset_password_within)),
            ("unlock_in", Some(self.unlock_in)),
            ("unlock_within", Some(self.unlock_within)),
            ("oauth_state_lifetime", Some(self.oauth_state_lifetime)),
        ];
        for (setting, secs) in lifetimes {
            if secs.is_some_and(|s| s > MAX_DURATION_SECS) {
                return Err(invalid(
                    setting,
                    format!("must be at most {MAX_DURATION_SECS} seconds (100 years)"),
                ));
            }
        }
        for (setting, secs) in [
            ("smtp_timeout", self.smtp_timeout),
            ("oauth_timeout", self.oauth_timeout),
        ] {
            if secs > MAX_TIMEOUT_SECS {
                return Err(invalid(
                    setting,
                    format!("must be at most {MAX_TIMEOUT_SECS} seconds"),
                ));
            }
        }
        Ok(())
    }

    /// The paths toker answers itself, which no gateway route may shadow.
    pub fn own_paths(&self) -> Vec<String> {
        let mut paths = vec![self.mount_path.clone(), self.omniauth_prefix.clone()];
        paths.extend(self.user_types.iter().flat_map(|t| t.prefixes()));
        paths.extend(
            [
                "/api/me",
                "/docs",
                "/openapi.json",
                "/health",
                "/ping",
                gateway::JWKS_PATH,
            ]
            .map(String::from),
        );
        if self.session_enabled {
            paths.push(self.session_path.clone());
        }
        paths
    }

    pub fn token_lifespan(&self) -> Duration {
        Duration::from_secs(self.token_lifespan)
    }

    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.header_read_timeout)
    }

    pub fn body_read_timeout(&self) -> Duration {
        Duration::from_secs(self.body_read_timeout)
    }

    pub fn keep_alive_timeout(&self) -> Duration {
        Duration::from_secs(self.keep_alive_timeout)
    }

    pub fn batch_window(&self) -> Duration {
        Duration::from_secs(self.batch_request_buffer_throttle)
    }

    /// Base URL for links this server builds to itself.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None if self.tls_cert.is_some() => format!("https://{}", self.bind),
            None => format!("http://{}", self.bind),
        }
    }

    /// The connection pool size: `database_max_connections`, or by default 10 for a database
    /// server and 2 × cores (2 to 10) for SQLite. SQLite runs each connection on its own
    /// thread and takes one writer at a time: more connections than cores only add contention
    /// (docs/benchmarks.md).
    pub fn pool_size(&self) -> u32 {
        if let Some(n) = self.database_max_connections {
            return n;
        }
        if self.database_url.starts_with("sqlite:") {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            (2 * cores).clamp(2, 10) as u32
        } else {
            10
        }
    }

    /// The database URL with any password replaced, for logs.
    pub fn database_url_for_logs(&self) -> String {
        match url::Url::parse(&self.database_url) {
            Ok(mut url) if url.password().is_some() => {
                let _ = url.set_password(Some("****"));
                url.to_string()
            }
            _ => self.database_url.clone(),
        }
    }
}

/// `redis://[user:password@]host[:port][/db]` or `redis+unix:///path/to/socket`, read by the
/// Redis client itself. TLS (`rediss://`) is not built in.
fn check_rate_limit_store(url: &str) -> Result<(), String> {
    use redis::IntoConnectionInfo;
    if url.starts_with("rediss://") {
        return Err("TLS (`rediss://`) is not supported; use `redis://` on a private network or a local TLS tunnel".into());
    }
    if !(url.starts_with("redis://")
        || url.starts_with("redis+unix://")
        || url.starts_with("unix://"))
    {
        return Err("must be a `redis://host:port/db` URL".into());
    }
    url.into_connection_info()
        .map(|_| ())
        .map_err(|e| format!("not a Redis URL ({e})"))
}

/// figment's errors name the key and the source (file or variable); keep that, drop its
/// `default.` profile prefix, and point at the setting.
fn describe_figment_error(error: figment::Error) -> String {
    error
        .into_iter()
        .map(|e| {
            let mut text = e.to_string().replace("default.", "");
            if let Some(key) = e.path.first() {
                text = format!("invalid setting `{key}`: {text}");
            }
            text
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_size_defaults_to_a_few_connections_per_core_on_sqlite_only() {
        let sqlite = Settings {
            database_url: "sqlite://toker.db".into(),
            ..Settings::default()
        };
        assert!((2..=10).contains(&sqlite.pool_size()));
        let postgres = Settings {
            database_url: "postgres://127.0.0.1/test".into(),
            ..Settings::default()
        };
        assert_eq!(postgres.pool_size(), 10);
        let explicit = Settings {
            database_max_connections: Some(3),
            ..sqlite
        };
        assert_eq!(explicit.pool_size(), 3);
    }

    #[test]
    fn defaults_are_valid_and_match_devise_token_auth() {
        let s = Settings::default();
        s.validate().unwrap();
        assert_eq!(s.token_lifespan, 1_209_600);
        assert_eq!(s.batch_request_buffer_throttle, 5);
        assert_eq!(s.max_number_of_devices, 10);
        assert!(s.change_headers_on_each_request);
    }

    #[test]
    fn bad_values_name_the_setting() {
        let s = Settings {
            token_lifespan: 0,
            ..Settings::default()
        };
        let e = s.validate().unwrap_err().to_string();
        assert!(e.contains("`token_lifespan`"), "{e}");

        let s = Settings {
            cors_origins: vec!["*".into()],
            ..Settings::default()
        };
        assert!(
            s.validate()
                .unwrap_err()
                .to_string()
                .contains("cors_origins")
        );
    }

    #[test]
    fn database_acquire_timeout_is_between_one_second_and_five_minutes() {
        assert_eq!(Settings::default().database_acquire_timeout, 5);
        for ok in [1, 5, 300] {
            let s = Settings {
                database_acquire_timeout: ok,
                ..Settings::default()
            };
            s.validate().unwrap();
            assert_eq!(s.database_acquire_timeout(), Duration::from_secs(ok));
        }
        for bad in [0, 301, u64::MAX] {
            let s = Settings {
                database_acquire_timeout: bad,
                ..Settings::default()
            };
            let e = s.validate().unwrap_err().to_string();
            assert!(e.contains("`database_acquire_timeout`"), "{bad}: {e}");
        }
        for bad in ["-1", "\"5s\"", "1.5", "18446744073709551616"] {
            let parsed = Figment::from(Toml::string(&format!("database_acquire_timeout = {bad}")))
                .extract::<Settings>();
            assert!(parsed.is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn connection_settings_refuse_zero_huge_and_malformed_values() {
        let bad = [
            Settings {
                header_read_timeout: 0,
                ..Settings::default()
            },
            Settings {
                body_read_timeout: 3601,
                ..Settings::default()
            },
            Settings {
                keep_alive_timeout: u64::MAX,
                ..Settings::default()
            },
            Settings {
                max_connections: 0,
                ..Settings::default()
            },
            Settings {
                max_connections: usize::MAX,
                ..Settings::default()
            },
        ];
        let names = [
            "`header_read_timeout`",
            "`body_read_timeout`",
            "`keep_alive_timeout`",
            "`max_connections`",
            "`max_connections`",
        ];
        for (settings, name) in bad.into_iter().zip(names) {
            let e = settings.validate().unwrap_err().to_string();
            assert!(e.contains(name), "{e}");
        }
        for toml in [
            "keep_alive_timeout = -1",
            "header_read_timeout = \"soon\"",
            "max_connections = 1.5",
        ] {
            let e = Figment::from(Toml::string(toml))
                .extract::<Settings>()
                .unwrap_err();
            let key = toml.split(' ').next().unwrap();
            assert!(describe_figment_error(e).contains(key), "{toml}");
        }
    }

    #[test]
    fn the_assertion_binding_is_device_or_request_and_nothing_else() {
        let parse = |s: &str| {
            Figment::from(Toml::string(s))
                .extract::<Settings>()
                .map_err(describe_figment_error)
        };
        assert_eq!(
            Settings::default().gateway.assertion_binding,
            AssertionBinding::Device
        );
        let set = parse("[gateway]\nassertion_binding = \"request\"").unwrap();
        assert_eq!(set.gateway.assertion_binding, AssertionBinding::Request);
        for bad in ["\"session\"", "\"Request \"", "1", "\"\"", "[\"device\"]"] {
            let text = parse(&format!("[gateway]\nassertion_binding = {bad}")).unwrap_err();
            assert!(text.contains("assertion_binding"), "{bad}: {text}");
        }
    }

    #[test]
    fn operations_settings_refuse_bad_values_naming_the_setting() {
        let bad: [(&str, Settings); 9] = [
            (
                "`shutdown_timeout`",
                Settings {
                    shutdown_timeout: 0,
                    ..Settings::default()
                },
            ),
            (
                "`shutdown_timeout`",
                Settings {
                    shutdown_timeout: u64::MAX,
                    ..Settings::default()
                },
            ),
            (
                "`metrics_bind`",
                Settings {
                    metrics_bind: Some("metrics.example.com".into()),
                    ..Settings::default()
                },
            ),
            (
                "`metrics_bind`",
                Settings {
                    metrics_bind: Some("127.0.0.1:99999".into()),
                    ..Settings::default()
                },
            ),
            (
                "`metrics_bind`",
                Settings {
                    // The public port: metrics must never be served there.
                    metrics_bind: Some("0.0.0.0:3000".into()),
                    ..Settings::default()
                },
            ),
            (
                "`tls_key`",
                Settings {
                    tls_cert: Some("/etc/toker/cert.pem".into()),
                    ..Settings::default()
                },
            ),
            (
                "`tls_cert`",
                Settings {
                    tls_key: Some("/etc/toker/key.pem".into()),
                    ..Settings::default()
                },
            ),
            (
                "`tls_cert`",
                Settings {
                    tls_cert: Some("  ".into()),
                    tls_key: Some("/etc/toker/key.pem".into()),
                    ..Settings::default()
                },
            ),
            (
                "`tls_key`",
                Settings {
                    tls_cert: Some("/etc/toker/cert.pem".into()),
                    tls_key: Some("key\0.pem".into()),
                    ..Settings::default()
                },
            ),
        ];
        for (name, settings) in bad {
            let e = settings.validate().unwrap_err().to_string();
            assert!(e.contains(name), "{name}: {e}");
        }
        let good = Settings {
            metrics_bind: Some("127.0.0.1:9464".into()),
            tls_cert: Some("/etc/toker/cert.pem".into()),
            tls_key: Some("/etc/toker/key.pem".into()),
            shutdown_timeout: 60,
            ..Settings::default()
        };
        good.validate().unwrap();
        for toml in [
            "shutdown_timeout = -1",
            "shutdown_timeout = \"10s\"",
            "metrics_bind = 9464",
            "tls_cert = [\"a\"]",
        ] {
            let e = Figment::from(Toml::string(toml))
                .extract::<Settings>()
                .unwrap_err();
            let key = toml.split(' ').next().unwrap();
            assert!(describe_figment_error(e).contains(key), "{toml}");
        }
    }

    #[test]
    fn huge_durations_are_refused_naming_the_setting() {
        type Set = fn(&mut Settings, u64);
        let cases: [(&str, Set); 10] = [
            ("token_lifespan", |s, v| s.token_lifespan = v),
            ("batch_request_buffer_throttle", |s, v| {
                s.batch_request_buffer_throttle = v
            }),
            ("allow_unconfirmed_access_for", |s, v| {
                s.allow_unconfirmed_access_for = Some(v)
            }),
            ("confirm_within", |s, v| s.confirm_within = Some(v)),
            ("reset_password_within", |s, v| s.reset_password_within = v),
            ("unlock_in", |s, v| s.unlock_in = v),
            ("unlock_within", |s, v| s.unlock_within = v),
            ("oauth_state_lifetime", |s, v| s.oauth_state_lifetime = v),
            ("smtp_timeout", |s, v| s.smtp_timeout = v),
            ("oauth_timeout", |s, v| s.oauth_timeout = v),
        ];
        for (name, set) in cases {
            for value in [u64::MAX, i64::MAX as u64, MAX_DURATION_SECS + 1] {
                let mut s = Settings::default();
                set(&mut s, value);
                let e = s.validate().expect_err(name).to_string();
                assert!(e.contains(&format!("`{name}`")), "{name} = {value}: {e}");
            }
        }
        let longest = Settings {
            token_lifespan: MAX_DURATION_SECS,
            unlock_in: MAX_DURATION_SECS,
            reset_password_within: MAX_DURATION_SECS,
            ..Settings::default()
        };
        longest.validate().unwrap();
    }

    #[test]
    fn maximum_attempts_must_fit_the_failed_attempts_column() {
        for bad in [0, i32::MAX as u32 + 1, u32::MAX] {
            let s = Settings {
                maximum_attempts: bad,
                ..Settings::default()
            };
            let e = s.validate().unwrap_err().to_string();
            assert!(e.contains("`maximum_attempts`"), "{e}");
        }
    }

    #[test]
    fn accept_token_params_is_true_false_or_everywhere() {
        #[derive(Deserialize)]
        struct T {
            v: AcceptTokenParams,
        }
        let parse = |s: &str| {
            Figment::from(Toml::string(s))
                .extract::<T>()
                .ok()
                .map(|t| t.v)
        };
        let on = parse("v = true").unwrap();
        assert!(on.on(true) && !on.on(false));
        let off = parse("v = false").unwrap();
        assert!(!off.on(true) && !off.on(false));
        let everywhere = parse("v = \"everywhere\"").unwrap();
        assert!(everywhere.on(true) && everywhere.on(false));
        for bad in [
            "v = \"sometimes\"",
            "v = \"true\"",
            "v = 1",
            "v = [\"everywhere\"]",
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn password_check_accepts_dta_values() {
        #[derive(Deserialize)]
        struct T {
            v: CurrentPasswordCheck,
        }
        let parse = |s: &str| toml_parse::<T>(s).v;
        assert_eq!(parse("v = false").mode(), None);
        assert_eq!(
            parse("v = \"password\"").mode(),
            Some(CurrentPasswordMode::Password)
        );
        assert_eq!(
            parse("v = \"attributes\"").mode(),
            Some(CurrentPasswordMode::Attributes)
        );
    }

    fn toml_parse<T: serde::de::DeserializeOwned>(s: &str) -> T {
        Figment::from(Toml::string(s)).extract().unwrap()
    }

    #[test]
    fn database_password_is_elided_in_logs() {
        let s = Settings {
            database_url: "postgres://toker:secret@db:5432/toker".into(),
            ..Settings::default()
        };
        assert_eq!(
            s.database_url_for_logs(),
            "postgres://toker:****@db:5432/toker"
        );
    }
}
