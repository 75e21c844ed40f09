use std::process::ExitCode;

use clap::Parser;
use migration::{Migrator, MigratorTrait};
use toker::{
    cli::{AssertionKeysCommand, Cli, Command, MailCommand},
    config::Settings,
    mail::{Audience, MailKind, templates::sample_values},
    startup::Application,
    store::Store,
};

// glibc's malloc and free were a sixth of the request path's CPU under load (docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The OpenAPI document as `settings` serve it: their mounts, and each user type's.
fn openapi_for(settings: &Settings) -> String {
    let additional = settings.additional_types();
    let types: Vec<toker::api::spec::TypeMount<'_>> = additional
        .iter()
        .map(|(name, s)| toker::api::spec::TypeMount {
            name,
            mount: &s.mount_path,
            omniauth: &s.omniauth_prefix,
        })
        .collect();
    toker::api::spec::yaml_with_types(&settings.mount_path, &settings.omniauth_prefix, &types)
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Openapi) = cli.command {
        // Without --config the document of the defaults, which openapi.yaml holds (no
        // toker.toml or environment of the machine that regenerates it slips in).
        let Some(path) = cli.config.as_deref() else {
            print!("{}", toker::api::spec_yaml());
            return ExitCode::SUCCESS;
        };
        return match Settings::load(Some(path)) {
            Ok(settings) => {
                print!("{}", openapi_for(&settings));
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("toker: {e}");
                ExitCode::from(2)
            }
        };
    }
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("toker: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(Command::CheckConfig) = cli.command {
        return check_config(&settings);
    }
    if let Some(Command::Mail {
        command:
            MailCommand::Preview {
                kind,
                locale,
                user_type,
                pending,
            },
    }) = &cli.command
    {
        return preview(
            &settings,
            kind,
            locale.as_deref(),
            user_type.clone(),
            *pending,
        );
    }
    let user_type = cli.user_type.clone();
    if user_type.is_some()
        && !matches!(
            cli.command,
            Some(Command::Users(_) | Command::Devices(_) | Command::Import(_))
        )
    {
        eprintln!("toker: --user-type applies to the users, devices and import commands");
        return ExitCode::from(2);
    }
    toker::telemetry::init(&settings.log_level, settings.log_format);
    let result = match cli.command {
        None | Some(Command::Serve) => serve(settings).await,
        Some(Command::Migrate { status }) => migrate(settings, status).await,
        Some(Command::Openapi | Command::CheckConfig | Command::Mail { .. }) => {
            unreachable!("handled above")
        }
        Some(Command::AssertionKeys(action)) => assertion_keys(settings, action).await,
        Some(Command::Import(command)) => {
            return operate(settings, user_type, |accounts| async move {
                toker::admin::import(&accounts, command).await
            })
            .await;
        }
        Some(Command::Users(command)) => {
            return operate(settings, user_type, |accounts| async move {
                Ok(toker::admin::users(&accounts, command).await?)
            })
            .await;
        }
        Some(Command::Devices(command)) => {
            return operate(settings, user_type, |accounts| async move {
                Ok(toker::admin::devices(&accounts, command).await?)
            })
            .await;
        }
        Some(Command::Apps(command)) => {
            return operate(settings, None, |accounts| async move {
                Ok(toker::admin::apps(&accounts, command).await?)
            })
            .await;
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Settings that loaded are valid (`Settings::load` validates); the language files and mail
/// templates they name are checked as `serve` checks them, then the settings are shown.
fn check_config(settings: &Settings) -> ExitCode {
    if let Err(e) = toker::startup::mail_templates(settings) {
        eprintln!("toker: {e:#}");
        return ExitCode::from(2);
    }
    match settings.effective_toml() {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("toker: cannot print the settings: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `toker mail preview`: one mail, rendered with sample values, on standard output.
fn preview(
    settings: &Settings,
    kind: &str,
    locale: Option<&str>,
    user_type: Option<String>,
    pending: bool,
) -> ExitCode {
    let Some(kind) = MailKind::parse(kind) else {
        let kinds: Vec<&str> = MailKind::ALL.iter().map(|k| k.name()).collect();
        eprintln!("toker: unknown mail `{kind}`; one of {}", kinds.join(", "));
        return ExitCode::from(2);
    };
    let templates = match toker::startup::mail_templates(settings) {
        Ok(templates) => templates,
        Err(e) => {
            eprintln!("toker: {e:#}");
            return ExitCode::from(2);
        }
    };
    let locale = templates.catalog().negotiate(locale, None);
    let mut audience = Audience::new(locale);
    audience.user_type = user_type;
    let mut values = sample_values(kind);
    values.pending = pending;
    match templates.compose(kind, &audience, "jane@example.com", &values) {
        Ok(mail) => {
            print!(
                "To: {}\nSubject: {}\nLocale: {}\n\n--- text ---\n{}\n--- html ---\n{}",
                mail.to,
                mail.subject,
                audience.locale.tag(),
                mail.text,
                mail.html
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("toker: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "toker starting");
    tracing::info!(database = %settings.database_url_for_logs(), pool = settings.pool_size(), "database");
    let cors = if settings.cors_origins.is_empty() {
        "none: browsers on other origins are refused (set cors_origins)".to_string()
    } else {
        settings.cors_origins.join(", ")
    };
    tracing::info!(origins = %cors, "cors");
    let redirects = toker::redirect::RedirectPolicy::new(
        settings.redirect_whitelist.as_ref(),
        &settings.cors_origins,
        &settings.public_url(),
    )
    .map_err(anyhow::Error::msg)?;
    tracing::info!("redirects: {}", redirects.describe());
    let mailer =
        toker::mail::Mailer::from_settings(&settings, toker::startup::mail_templates(&settings)?)?;
    tracing::info!("mail: {}", mailer.describe());
    if settings.public_url.is_none() && !settings.bind.starts_with("127.") {
        tracing::warn!(
            "public_url is not set: links in mail will point at {}; set public_url to the \
             address browsers use",
            settings.public_url()
        );
    }
    let mount = settings.mount_path.clone();
    let host = settings
        .bind
        .rsplit_once(':')
        .map_or(settings.bind.clone(), |(h, _)| h.to_string());
    let metrics_host = settings
        .metrics_bind
        .as_deref()
        .and_then(|b| b.rsplit_once(':'))
        .map(|(h, _)| h.to_string());
    let mut app = Application::build(settings).await?;
    app.handle_signals();
    let scheme = if app.tls().is_some() { "https" } else { "http" };
    let address = format!("{scheme}://{host}:{}", app.port());
    tracing::info!(
        "listening on {address}  (auth routes under {mount}, API docs at {address}/docs)"
    );
    if let (Some(host), Some(port)) = (metrics_host, app.metrics_port()) {
        tracing::info!("metrics at http://{host}:{port}/metrics");
    }
    app.run_until_stopped().await?;
    Ok(())
}

async fn migrate(settings: Settings, status: bool) -> anyhow::Result<()> {
    let store = Store::connect(
        &settings.database_url,
        1,
        settings.database_acquire_timeout(),
    )
    .await?;
    if status {
        Migrator::status(store.connection()).await?;
        return Ok(());
    }
    let applied = store.migrate().await?;
    tracing::info!(
        applied,
        database = %settings.database_url_for_logs(),
        "migrations up to date"
    );
    Ok(())
}

async fn assertion_keys(settings: Settings, action: AssertionKeysCommand) -> anyhow::Result<()> {
    let store = Store::connect(
        &settings.database_url,
        1,
        settings.database_acquire_timeout(),
    )
    .await?;
    if settings.auto_migrate {
        store.migrate().await?;
    }
    if !settings.gateway.assertion_keys.is_empty() {
        tracing::warn!(
            "gateway.assertion_keys is set: those keys sign, not the stored ones listed here"
        );
    }
    let time = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .map_or_else(|| ms.to_string(), |t| t.to_rfc3339())
    };
    match action {
        AssertionKeysCommand::List => {
            for (kid, created_at, signs_from) in toker::gateway::keys::list(&store).await? {
                println!(
                    "{kid}  created {}  signs from {}",
                    time(created_at),
                    time(signs_from)
                );
            }
        }
        AssertionKeysCommand::Rotate => {
            let r = toker::gateway::keys::rotate(&store).await?;
            println!("added {}, signing from {}", r.added, time(r.signs_from));
            for kid in r.removed {
                println!("removed {kid}");
            }
        }
    }
    Ok(())
}

/// Runs an operator command on the configured database (migrated first unless
/// `auto_migrate = false`), for the users of `user_type` (default: the default type); its
/// error goes to stderr as `toker: …` with exit code 1.
async fn operate<F, Fut>(settings: Settings, user_type: Option<String>, command: F) -> ExitCode
where
    F: FnOnce(toker::accounts::Accounts) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let result = async {
        let store = Store::connect(
            &settings.database_url,
            2,
            settings.database_acquire_timeout(),
        )
        .await?;
        if settings.auto_migrate {
            store.migrate().await?;
        }
        let accounts = toker::startup::accounts_for(std::sync::Arc::new(settings), store).await?;
        let accounts = match user_type {
            Some(name) if name != toker::store::DEFAULT_USER_TYPE => {
                toker::startup::type_accounts(&accounts)?
                    .into_iter()
                    .find(|t| t.store.user_type() == name)
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "no user type named `{name}` (`{}` or a `name` of [[user_types]])",
                            toker::store::DEFAULT_USER_TYPE
                        )
                    })?
            }
            _ => accounts,
        };
        command(accounts).await
    }
    .await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("toker: {e:#}");
            ExitCode::FAILURE
        }
    }
}
