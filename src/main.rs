use std::process::ExitCode;

use clap::Parser;
use migration::{Migrator, MigratorTrait};
use toker::{
    cli::{Cli, Command},
    config::Settings,
    startup::Application,
    store::Store,
};

// glibc's malloc and free were a sixth of the request path's CPU under load (docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Openapi) = cli.command {
        print!("{}", toker::api::spec_yaml());
        return ExitCode::SUCCESS;
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
    toker::telemetry::init(&settings.log_level, settings.log_format);
    let result = match cli.command {
        None | Some(Command::Serve) => serve(settings).await,
        Some(Command::Migrate { status }) => migrate(settings, status).await,
        Some(Command::Openapi | Command::CheckConfig) => unreachable!("handled above"),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Settings that loaded are valid (`Settings::load` validates), so all that is left is to
/// show them.
fn check_config(settings: &Settings) -> ExitCode {
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
    let mailer = toker::mail::Mailer::from_settings(&settings)?;
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
    let app = Application::build(settings).await?;
    let address = format!("http://{host}:{}", app.port());
    tracing::info!(
        "listening on {address}  (auth routes under {mount}, API docs at {address}/docs)"
    );
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
