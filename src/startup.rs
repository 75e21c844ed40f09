//! Wiring: settings → store, accounts and the middleware stack → a bound listener. Tests build
//! an `Application` on port 0 against a fresh database; `toker serve` does the same on `bind`.

use std::{
    sync::{Arc, OnceLock},
    time::{Duration, Instant},
};

use poem::{
    Endpoint, EndpointExt, IntoResponse, Request, Response, Route, get, handler, web::Json,
};
use tokio::net::TcpListener;

use crate::{
    accounts::{Accounts, Hasher, password::PoolSize},
    api::{self, DEFAULT_MOUNT},
    config::Settings,
    contract::{messages, params::BodyLimit, shapes::ErrorShape},
    error::{Outages, json_errors, unavailable_response},
    gateway::Gateway,
    http::{
        ApiHeaders, RequestLimits,
        allow::{AllowHeader, AllowedMethods},
        auth::{SESSION_RESOURCE, TokenAuth},
        connection::ConnectionLimits,
        cors::Cors,
        listener::{connection_cap, raise_open_files_limit},
        locale::RequestTexts,
        request_log::RequestLog,
        request_metrics::RequestMetrics,
        server,
        tls::TlsFiles,
    },
    limits::{LimitSettings, Limits, Rate},
    locale::Catalog,
    mail::MailTemplates,
    metrics::{self, Metrics},
    origins::OriginMatcher,
    proxies::TrustedProxies,
    redirect::RedirectPolicy,
    store::Store,
    tokens::TokenPolicy,
};

/// A built server, bound and ready to run.
pub struct Application {
    listener: TcpListener,
    port: u16,
    app: poem::endpoint::BoxEndpoint<'static, Response>,
    accounts: Accounts,
    limits: ConnectionLimits,
    max_connections: usize,
    tls: Option<Arc<TlsFiles>>,
    /// The `/metrics` listener (`metrics_bind`), apart from the public one.
    metrics: Option<TcpListener>,
    /// SIGTERM, once taken over (`handle_signals`).
    signals: Option<Signals>,
}

/// The signals `serve` handles, registered before the address is announced.
struct Signals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
}

impl Application {
    /// Connects to the database (migrating it when `auto_migrate`), builds the app and binds.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let store = Store::connect(
            &settings.database_url,
            settings.pool_size(),
            settings.database_acquire_timeout(),
        )
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot open database {}: {e}",
                settings.database_url_for_logs()
            )
        })?;
        if settings.auto_migrate {
            let applied = store.migrate().await?;
            if applied > 0 {
                tracing::info!(applied, "database migrations applied");
            }
        }
        Self::build_with_store(settings, store).await
    }

    /// Builds the app on an existing store (the schema must be current).
    pub async fn build_with_store(settings: Settings, store: Store) -> anyhow::Result<Application> {
        let settings = Arc::new(settings);
        let tls = match (&settings.tls_cert, &settings.tls_key) {
            (Some(cert), Some(key)) => Some(Arc::new(TlsFiles::load(
                std::path::Path::new(cert),
                std::path::Path::new(key),
            )?)),
            _ => None,
        };
        let accounts = accounts_for(settings.clone(), store).await?;
        let app = routes(&accounts).await?;
        let listener = TcpListener::bind(settings.bind.as_str())
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.bind))?;
        let metrics = match &settings.metrics_bind {
            Some(address) => Some(TcpListener::bind(address.as_str()).await.map_err(|e| {
                anyhow::anyhow!("invalid setting `metrics_bind`: cannot listen on {address}: {e}")
            })?),
            None => None,
        };
        let port = listener.local_addr()?.port();
        let max_connections = connection_cap(settings.max_connections, raise_open_files_limit());
        if max_connections < settings.max_connections {
            tracing::warn!(
                max_connections,
                "max_connections lowered to what the open-files limit allows"
            );
        }
        Ok(Application {
            listener,
            port,
            app: app.boxed(),
            accounts,
            limits: ConnectionLimits {
                header_read: settings.header_read_timeout(),
                keep_alive: settings.keep_alive_timeout(),
            },
            max_connections,
            tls,
            metrics,
            signals: None,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the `/metrics` listener, when `metrics_bind` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics
            .as_ref()
            .and_then(|l| l.local_addr().ok())
            .map(|a| a.port())
    }

    /// The certificate files served, when `tls_cert` and `tls_key` are set; `reload` is what
    /// SIGHUP calls.
    pub fn tls(&self) -> Option<Arc<TlsFiles>> {
        self.tls.clone()
    }

    pub fn store(&self) -> &Store {
        &self.accounts.store
    }

    /// The account rules this app serves with (their hasher's gauges, its limits).
    pub fn accounts(&self) -> &Accounts {
        &self.accounts
    }

    /// Takes SIGTERM (graceful shutdown) and SIGHUP (re-read the TLS files) over from their
    /// default action, which ends the process. `toker serve` calls it before it announces its
    /// address, so that a signal sent as soon as the address is known is handled.
    pub fn handle_signals(&mut self) {
        if self.signals.is_some() {
            return;
        }
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let term = signal(SignalKind::terminate())
                .inspect_err(|e| tracing::warn!(error = %e, "cannot listen for SIGTERM"))
                .ok();
            match signal(SignalKind::hangup()) {
                Ok(hangups) => match self.tls() {
                    Some(tls) => reload_on_sighup(hangups, tls),
                    None => ignore_sighup(hangups),
                },
                Err(e) => tracing::warn!(error = %e, "cannot listen for SIGHUP"),
            }
            self.signals = Some(Signals { term });
        }
        #[cfg(not(unix))]
        {
            self.signals = Some(Signals {});
        }
    }

    /// Serves until Ctrl-C or SIGTERM (SIGHUP re-reads the TLS files), then shuts down
    /// gracefully: see `run_until`.
    pub async fn run_until_stopped(mut self) -> std::io::Result<()> {
        self.handle_signals();
        let signals = self.signals.take();
        self.run_until(shutdown_signal(signals)).await
    }

    /// Serves until `shutdown` completes, then: stops accepting connections, lets the requests
    /// in flight finish and the queued token writes land (`shutdown_timeout` at most, counted
    /// from the signal), and closes the store, whose last SQLite checkpoint leaves no WAL
    /// behind. A rotation whose token a client received is on disk when this returns.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> std::io::Result<()> {
        let timeout = self.accounts.settings.shutdown_timeout();
        let store = self.accounts.store.clone();
        let signalled = Arc::new(OnceLock::new());
        let at = signalled.clone();
        let shutdown = async move {
            shutdown.await;
            let _ = at.set(Instant::now());
            tracing::info!(
                timeout_seconds = timeout.as_secs(),
                "shutting down: no new connections; finishing the requests in flight"
            );
        };
        self.serve(shutdown, Some(timeout)).await?;
        let left = signalled
            .get()
            .map_or(timeout, |at: &Instant| timeout.saturating_sub(at.elapsed()));
        let flushed = tokio::time::timeout(left, store.flush_writes())
            .await
            .is_ok();
        if !flushed {
            tracing::warn!("token writes still queued at shutdown_timeout were dropped");
        }
        match store.close().await {
            Ok(()) if flushed => tracing::info!("stopped: token writes stored, database closed"),
            Ok(()) => tracing::info!("stopped at shutdown_timeout"),
            Err(e) => tracing::warn!(error = %e, "closing the database failed"),
        }
        Ok(())
    }

    /// Serves forever (tests drop the task instead of signalling).
    pub async fn run(self) -> std::io::Result<()> {
        self.serve(std::future::pending(), None).await
    }

    async fn serve(
        self,
        shutdown: impl std::future::Future<Output = ()>,
        grace: Option<Duration>,
    ) -> std::io::Result<()> {
        let metrics_server = self
            .metrics
            .map(|listener| tokio::spawn(serve_metrics(listener, self.accounts.clone())));
        let served = server::serve(
            self.listener,
            self.app,
            self.limits,
            self.max_connections,
            self.tls,
            shutdown,
            grace,
        )
        .await;
        if let Some(task) = metrics_server {
            task.abort();
        }
        served
    }
}

/// The `/metrics` listener: that one route, nothing else, under the same connection limits.
async fn serve_metrics(listener: TcpListener, accounts: Accounts) -> std::io::Result<()> {
    let limits = ConnectionLimits {
        header_read: accounts.settings.header_read_timeout(),
        keep_alive: accounts.settings.keep_alive_timeout(),
    };
    let app = Route::new()
        .at("/metrics", get(scrape))
        .data(accounts)
        .boxed();
    server::serve(
        listener,
        app,
        limits,
        64,
        None,
        std::future::pending(),
        None,
    )
    .await
}

/// `GET /metrics` (on `metrics_bind`): every metric, the pool and hashing gauges read now.
#[handler]
fn scrape(accounts: poem::web::Data<&Accounts>) -> Response {
    let (pool_open, pool_idle, pool_max) = accounts.store.pool_use();
    let hashing = accounts.hasher.gauges();
    let text = accounts.metrics.render(metrics::Gauges {
        pool_open,
        pool_idle,
        pool_max,
        hash_waiting: hashing.waiting(),
        hash_running: hashing.running(),
    });
    Response::builder()
        .content_type(metrics::CONTENT_TYPE)
        .body(text)
}

/// SIGHUP re-reads `tls_cert` and `tls_key`; the outcome is logged, and a failure keeps the
/// certificate in use.
#[cfg(unix)]
fn reload_on_sighup(mut hangups: tokio::signal::unix::Signal, tls: Arc<TlsFiles>) {
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            reload_tls(&tls);
        }
    });
}

/// What SIGHUP does with TLS on: the files read again, new handshakes served with them.
pub fn reload_tls(tls: &TlsFiles) {
    match tls.reload() {
        Ok(()) => tracing::info!("TLS certificate reloaded"),
        Err(e) => tracing::error!("TLS certificate not reloaded, the old one stays: {e:#}"),
    }
}

/// Without TLS there is nothing to reload; SIGHUP (`systemctl reload`) must not end the
/// process, which is its default action.
#[cfg(unix)]
fn ignore_sighup(mut hangups: tokio::signal::unix::Signal) {
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            tracing::info!("SIGHUP: nothing to reload (no tls_cert)");
        }
    });
}

/// Ctrl-C, or SIGTERM when it was taken over.
async fn shutdown_signal(signals: Option<Signals>) {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match signals.and_then(|s| s.term) {
            Some(mut term) => {
                term.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = {
        let _ = signals;
        std::future::pending::<()>()
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

pub async fn accounts_for(settings: Arc<Settings>, store: Store) -> anyhow::Result<Accounts> {
    let pepper = settings.pepper.as_ref().map(|p| p.expose().to_string());
    let hasher = Hasher::new(
        settings.password_cost,
        pepper,
        PoolSize {
            workers: settings.password_hash_workers,
            queue: settings.password_hash_queue,
        },
    )
    .await?;
    let limits = limits_for(&settings).await?;
    let redirects = RedirectPolicy::new(
        settings.redirect_whitelist.as_ref(),
        &settings.cors_origins,
        &settings.public_url(),
    )
    .map_err(|e| anyhow::anyhow!("redirect_whitelist: {e}"))?;
    let policy = TokenPolicy {
        lifespan: settings.token_lifespan(),
        batch_window: settings.batch_window(),
        rotate: settings.change_headers_on_each_request,
        max_devices: settings.max_number_of_devices as usize,
    };
    let metrics = if settings.metrics_bind.is_some() {
        Metrics::new()
    } else {
        Metrics::off()
    };
    let mailer = crate::mail::Mailer::from_settings(&settings, mail_templates(&settings)?)?
        .with_metrics(metrics.clone());
    let oauth = Arc::new(crate::oauth::OAuth::from_settings(&settings)?);
    let confirmation_tokens = crate::accounts::confirmable::ConfirmationTokens::new(
        settings.secret_key.as_ref().map(|k| k.expose().as_bytes()),
    );
    Ok(Accounts {
        confirmation_tokens,
        store,
        hasher,
        settings,
        policy,
        redirects,
        mailer,
        oauth,
        limits,
        metrics,
    })
}

/// The account rules of each additional user type (`user_types`): the default type's hasher,
/// limits, metrics and mail templates, and the type's own settings, store handle (its users
/// only), token policy, redirect rule, mail links and OAuth providers.
pub fn type_accounts(base: &Accounts) -> anyhow::Result<Vec<Accounts>> {
    let types: Vec<&str> = base
        .settings
        .user_types
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    for folder in base.mailer.templates().type_folders() {
        if folder != crate::mail::DEFAULT_TYPE && !types.contains(&folder.as_str()) {
            tracing::warn!(
                folder,
                "mail_templates: this folder names no user type (`default`, or a `name` of \
                 [[user_types]]); its templates are never used"
            );
        }
    }
    base.settings
        .additional_types()
        .into_iter()
        .map(|(name, settings)| {
            let settings = Arc::new(settings);
            let redirects = RedirectPolicy::new(
                settings.redirect_whitelist.as_ref(),
                &settings.cors_origins,
                &settings.public_url(),
            )
            .map_err(|e| anyhow::anyhow!("user type `{name}`: redirect_whitelist: {e}"))?;
            let mailer =
                crate::mail::Mailer::from_settings(&settings, base.mailer.templates().clone())?
                    .with_metrics(base.metrics.clone())
                    .for_type(&name);
            Ok(Accounts {
                store: base.store.for_type(&name),
                policy: TokenPolicy {
                    lifespan: settings.token_lifespan(),
                    max_devices: settings.max_number_of_devices as usize,
                    ..base.policy
                },
                redirects,
                mailer,
                oauth: Arc::new(crate::oauth::OAuth::from_settings(&settings)?),
                settings,
                ..base.clone()
            })
        })
        .collect()
}

/// The message catalogue (shipped languages and `locales_dir`) and the mail templates (built-in
/// and `mail_templates`), every file checked: a bad one stops startup with its file and line.
pub fn mail_templates(settings: &Settings) -> anyhow::Result<Arc<MailTemplates>> {
    let catalog = Catalog::load(
        settings.locales_dir.as_deref().map(std::path::Path::new),
        &settings.default_locale,
    )?;
    let templates = MailTemplates::load(
        settings.mail_templates.as_deref().map(std::path::Path::new),
        Arc::new(catalog),
    )?;
    Ok(Arc::new(templates))
}

/// The abuse limits (docs/decisions.md D16), and a line saying where they are counted.
async fn limits_for(settings: &Settings) -> anyhow::Result<Limits> {
    let s = settings;
    let limits = Limits::new(&LimitSettings {
        sign_in: [
            Rate::new(s.sign_in_limit_per_ip, s.sign_in_limit_period),
            Rate::new(s.sign_in_limit_per_email, s.sign_in_limit_period),
        ],
        sign_up: [
            Rate::new(s.sign_up_limit_per_ip, s.sign_up_limit_period),
            Rate::new(s.sign_up_limit_per_email, s.sign_up_limit_period),
        ],
        mail: [
            Rate::new(s.mail_limit_per_ip, s.mail_limit_period),
            Rate::new(s.mail_limit_per_email, s.mail_limit_period),
        ],
        mail_cooldown: Duration::from_secs(s.mail_cooldown),
        mail_background_limit: s.mail_background_limit,
        store_url: s.rate_limit_store.as_ref().map(|u| u.expose().to_string()),
    })?;
    match (
        limits.shared_store_for_logs(),
        limits.shared_store_status().await,
    ) {
        (Some(store), Some(Ok(()))) => tracing::info!(store, "limits: shared in Redis"),
        (Some(store), Some(Err(error))) => tracing::warn!(
            store,
            %error,
            "limits: Redis does not answer yet; each instance counts on its own until it does"
        ),
        _ => tracing::info!("limits: counted in this process (set rate_limit_store to share them)"),
    }
    Ok(limits)
}

/// The whole HTTP app: request log (which also settles the client address) ⊃ API headers ⊃
/// gateway ⊃ CORS ⊃ request size limits ⊃ routes.
pub async fn routes(
    accounts: &Accounts,
) -> anyhow::Result<impl Endpoint<Output = Response> + 'static> {
    let settings = &accounts.settings;
    let additional = settings.additional_types();
    let mounts: Vec<api::spec::TypeMount<'_>> = additional
        .iter()
        .map(|(name, s)| api::spec::TypeMount {
            name,
            mount: &s.mount_path,
            omniauth: &s.omniauth_prefix,
        })
        .collect();
    let docs = api::spec::docs_page(&settings.mount_path, &settings.omniauth_prefix, &mounts);
    let spec = api::spec::json_with_types(&settings.mount_path, &settings.omniauth_prefix, &mounts);
    let catalog = accounts.mailer.templates().catalog().clone();
    let mut served = api::served_methods();
    let pages = ["/docs", "/docs/", "/openapi.json", "/health", "/ping"];
    served.extend(pages.map(|path| (path.to_string(), poem::http::Method::GET)));
    let allowed = Arc::new(AllowedMethods::new(
        served.iter().map(|(p, m)| (p.as_str(), m.clone())),
    ));
    let router = Route::new()
        .nest("/", typed_api(accounts))
        .at(
            "/docs",
            get(static_endpoint(docs.clone(), "text/html; charset=utf-8")),
        )
        .at(
            "/docs/",
            get(static_endpoint(docs, "text/html; charset=utf-8")),
        )
        .at(
            "/openapi.json",
            get(static_endpoint(spec, "application/json; charset=utf-8")),
        )
        .at("/health", get(health))
        .at("/ping", get(ping))
        .with(AllowHeader(allowed.clone()));
    let types = type_accounts(accounts)?;
    // One instance for toker's routes and the gateway's: its key signs the `_csrf` tokens.
    let sessions = crate::http::session::Sessions::new(settings);
    let cors = Cors::new(
        OriginMatcher::new(&settings.cors_origins).map_err(|e| anyhow::anyhow!(e))?,
        &settings.headers_names,
        settings.cors_max_age,
        settings.cors_allow_private_network,
    )
    .open_to_any_origin(
        std::iter::once(accounts)
            .chain(&types)
            .flat_map(|t| {
                let s = &t.settings;
                s.oauth.keys().flat_map(|name| {
                    [&s.omniauth_prefix, &s.mount_path]
                        .map(|prefix| format!("{prefix}/{name}/callback"))
                })
            })
            .collect::<Vec<_>>(),
    )
    .with_apps(
        settings
            .session_enabled
            .then(|| crate::http::apps::AppOrigins::new(accounts)),
    )
    .with_own_origin(
        (settings.session_enabled || settings.cookie_enabled)
            .then(|| url::Url::parse(&settings.public_url()).ok())
            .flatten()
            .map(|u| u.origin().ascii_serialization()),
    );
    // Each type's app answers its own mount and callbacks, with its own accounts; the API
    // operations are the same, so a type's token is checked against that type's users only.
    let mut by_type = Vec::new();
    for t in &types {
        let s = &t.settings;
        let app = MountPath::new(
            Route::new()
                .nest("/", typed_api(t))
                .with(AllowHeader(allowed.clone())),
            s,
        )
        .with(RequestLimits(s.max_body_size))
        .data(BodyLimit {
            max_bytes: s.max_body_size,
            read_timeout: s.body_read_timeout(),
        })
        .data(t.clone())
        .boxed();
        by_type.push((vec![s.mount_path.clone(), s.omniauth_prefix.clone()], app));
    }
    let default_app = MountPath::new(router, settings)
        .with(RequestLimits(settings.max_body_size))
        .data(BodyLimit {
            max_bytes: settings.max_body_size,
            read_timeout: settings.body_read_timeout(),
        })
        .data(accounts.clone())
        // Browser sessions are the default type's (docs/decisions.md D15).
        .data(sessions.clone())
        .boxed();
    let app = TypeDispatch {
        types: by_type,
        default: default_app,
    }
    .with(cors.clone());
    // Gateway routes, forward-auth and the JWK Set (docs/decisions.md D14) sit in front of
    // toker's own routes, each behind the same CORS; every other request reaches them unchanged.
    let app = Gateway::build(accounts, &types, &cors, &sessions)
        .await?
        .around(app)
        // The catalogue outside the gateway too: its 401s are in the reader's language.
        .data(catalog)
        .with(ApiHeaders)
        .with(RequestLog::new(
            TrustedProxies::new(&settings.trusted_proxies).map_err(|e| anyhow::anyhow!(e))?,
        ))
        .with(RequestMetrics::new(
            accounts.metrics.clone(),
            route_templates(settings, &served),
            gateway_prefixes(settings),
        ));
    Ok(json_errors(app))
}

/// The API operations authenticating the users of `accounts`' type.
fn typed_api(accounts: &Accounts) -> impl Endpoint<Output = Response> + 'static {
    api::service("/")
        .with(Outages(
            accounts.store.availability().clone(),
            accounts.mailer.templates().catalog().clone(),
        ))
        .with(TokenAuth::app(accounts))
}

/// Sends a request under an additional type's mount or callback prefix to that type's app,
/// anything else to the default type's (and toker's own pages).
struct TypeDispatch {
    /// (prefixes, app) per additional type.
    types: Vec<(Vec<String>, poem::endpoint::BoxEndpoint<'static, Response>)>,
    default: poem::endpoint::BoxEndpoint<'static, Response>,
}

impl Endpoint for TypeDispatch {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let path = req.uri().path();
        let app = self
            .types
            .iter()
            .find(|(prefixes, _)| {
                prefixes
                    .iter()
                    .any(|p| strip_segment_prefix(path, p).is_some())
            })
            .map_or(&self.default, |(_, app)| app);
        app.call(req).await
    }
}

/// What the gateway serves whole: its routes' prefixes and the forward-auth endpoint.
fn gateway_prefixes(settings: &crate::config::Settings) -> Vec<String> {
    let gateway = &settings.gateway;
    let mut prefixes: Vec<String> = gateway.routes.iter().map(|r| r.prefix.clone()).collect();
    if gateway.forward_auth {
        let mounts = std::iter::once(settings.mount_path.clone())
            .chain(settings.user_types.iter().map(|t| t.mount_path.clone()));
        prefixes.extend(
            mounts.map(|mount| format!("{mount}{}", crate::config::gateway::FORWARD_SEGMENT)),
        );
    }
    prefixes
}

/// The served route templates as clients address them (under `mount_path` and
/// `omniauth_prefix`), for the requests' metric labels.
fn route_templates(
    settings: &crate::config::Settings,
    served: &[(String, poem::http::Method)],
) -> AllowedMethods {
    let mut addressed: Vec<(String, poem::http::Method)> = served
        .iter()
        .map(|(path, method)| {
            let path = [
                (DEFAULT_MOUNT, settings.mount_path.as_str()),
                ("/omniauth", settings.omniauth_prefix.as_str()),
            ]
            .into_iter()
            .find_map(|(declared, configured)| {
                strip_segment_prefix(path, declared).map(|rest| format!("{configured}{rest}"))
            })
            .unwrap_or_else(|| path.clone());
            (path, method.clone())
        })
        .collect();
    // Each additional user type's operations, under its own prefixes.
    for (_, t) in settings.additional_types() {
        for (path, method) in served {
            let typed = [
                (DEFAULT_MOUNT, t.mount_path.as_str()),
                ("/omniauth", t.omniauth_prefix.as_str()),
            ]
            .into_iter()
            .find_map(|(declared, configured)| {
                strip_segment_prefix(path, declared).map(|rest| format!("{configured}{rest}"))
            });
            addressed.extend(typed.map(|path| (path, method.clone())));
        }
    }
    let jwks = (crate::config::gateway::JWKS_PATH, poem::http::Method::GET);
    AllowedMethods::new(
        addressed
            .iter()
            .map(|(p, m)| (p.as_str(), m.clone()))
            .chain([jwks]),
    )
}

/// `GET /ping`: liveness, no database; also the load generator's bare-stack baseline.
#[handler]
fn ping() -> Response {
    Json(serde_json::json!({"status": "ok"})).into_response()
}

/// `GET /health`: 200 when the database answers, else 503 with `Retry-After` (within
/// `database_acquire_timeout`). Its outcome moves the database's up/down state, which logs
/// each change once.
#[handler]
async fn health(accounts: poem::web::Data<&Accounts>, t: RequestTexts<'_>) -> Response {
    match accounts.store.ping().await {
        Ok(()) => Json(serde_json::json!({"status": "ok"})).into_response(),
        Err(e) => {
            if !e.is_unavailable() {
                tracing::error!(error = %e, "health check failed");
            }
            unavailable_response(
                ErrorShape::Success,
                &t.text(&messages::DATABASE_UNREACHABLE),
            )
        }
    }
}

fn static_endpoint(body: String, content_type: &'static str) -> impl Endpoint<Output = Response> {
    poem::endpoint::make_sync(move |_| {
        Response::builder()
            .content_type(content_type)
            .body(body.clone())
    })
}

/// Serves the DTA routes under `mount_path` and the provider callbacks under
/// `omniauth_prefix`: the operations are declared under `/auth` and `/omniauth`, so a request to
/// `<mount_path>/…` is routed as `/auth/…` (and `/auth/…` itself is not served when mounted
/// elsewhere), likewise for the OmniAuth prefix.
struct MountPath<E> {
    inner: E,
    /// (configured prefix, declared prefix), for the prefixes that differ.
    prefixes: Vec<(String, &'static str)>,
}

impl<E> MountPath<E> {
    fn new(inner: E, settings: &crate::config::Settings) -> MountPath<E> {
        let prefixes = [
            (settings.mount_path.clone(), DEFAULT_MOUNT),
            (settings.omniauth_prefix.clone(), "/omniauth"),
            // Browser sessions off: `/session` is not served at all.
            match settings.session_enabled {
                true => (settings.session_path.clone(), SESSION_RESOURCE),
                false => ("/__no_sessions__".into(), SESSION_RESOURCE),
            },
        ]
        .into_iter()
        .filter(|(configured, declared)| configured != declared)
        .collect::<Vec<_>>();
        // A type's callbacks may sit below its mount (`/admin_auth/omniauth`): longest first.
        let mut prefixes = prefixes;
        prefixes.sort_by_key(|(configured, _)| std::cmp::Reverse(configured.len()));
        MountPath { inner, prefixes }
    }
}

fn strip_segment_prefix<'a>(path: &'a str, prefix: &str) -> Option<&'a str> {
    path.strip_prefix(prefix)
        .filter(|rest| rest.is_empty() || rest.starts_with('/'))
}

impl<E: Endpoint> Endpoint for MountPath<E> {
    type Output = E::Output;

    async fn call(&self, mut req: Request) -> poem::Result<Self::Output> {
        let path = req.uri().path().to_string();
        let mut new_path = None;
        for (configured, declared) in &self.prefixes {
            if let Some(rest) = strip_segment_prefix(&path, configured) {
                new_path = Some(format!("{declared}{rest}"));
                break;
            }
            if strip_segment_prefix(&path, declared).is_some() {
                new_path = Some("/__not_mounted__".to_string());
            }
        }
        if let Some(new_path) = new_path {
            let path_and_query = match req.uri().query() {
                Some(q) => format!("{new_path}?{q}"),
                None => new_path,
            };
            let mut parts = req.uri().clone().into_parts();
            parts.path_and_query = path_and_query.parse().ok();
            if let Ok(uri) = poem::http::Uri::from_parts(parts) {
                *req.uri_mut() = uri;
            }
        }
        self.inner.call(req).await
    }
}
