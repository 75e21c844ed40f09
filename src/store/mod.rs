//! Persistence: the only module that speaks sea-orm. Everything above it sees `User`, `Device`
//! and plain functions; connection set-up for the three backends lives here too.

mod availability;
mod browser_sessions;
mod checkpoint;
mod client_apps;
mod connection;
mod devices;
mod foreign;
mod imports;
mod nonces;
mod signing_keys;
mod token_writes;
mod users;

use std::time::{Duration, Instant};

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr, SqlErr};

pub use availability::{Access, Availability, Outage};
pub use browser_sessions::BrowserSession;
pub use client_apps::ClientApp;
pub use devices::{NewDevice, chain_of};
pub use entity::{device::Model as Device, user::Model as User};
pub use foreign::{ForeignTable, TextRow, plain_identifier};
pub use imports::{ImportRecord, ImportWrite, ImportWritten, ImportedDevice};
pub use signing_keys::StoredKey;
pub use users::NewUser;

/// Failures of the store. A unique-constraint conflict is the one callers act on (a 422), so it
/// is its own variant; an unavailable database (unreachable, restarting, refusing, disk full or
/// read-only) is answered 503 with `Retry-After` by the HTTP layer, and changed nothing;
/// everything else is an internal error.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("a row with that key already exists")]
    Conflict,
    #[error("database unavailable: {0}")]
    Unavailable(#[source] DbErr),
    #[error("database error: {0}")]
    Db(#[source] DbErr),
}

impl From<DbErr> for StoreError {
    fn from(e: DbErr) -> Self {
        if availability::outage(&e).is_some() {
            return StoreError::Unavailable(e);
        }
        match e.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => StoreError::Conflict,
            _ => StoreError::Db(e),
        }
    }
}

impl StoreError {
    /// True for an outage: the client may retry, nothing was written.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }

    /// Which outage this is, if it is one.
    pub fn outage(&self) -> Option<Outage> {
        match self {
            StoreError::Unavailable(e) => availability::outage(e),
            _ => None,
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// libpq's convention for a PostgreSQL URL without a user (`postgres://host/db`): `PGUSER`,
/// else the OS user, else `postgres`. sqlx alone would try a role named "anonymous".
pub fn with_default_pg_user(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return url.to_string();
    };
    if !matches!(parsed.scheme(), "postgres" | "postgresql") || !parsed.username().is_empty() {
        return url.to_string();
    }
    let user = ["PGUSER", "USER", "LOGNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "postgres".to_string());
    match parsed.set_username(&user) {
        Ok(()) => parsed.to_string(),
        Err(()) => url.to_string(),
    }
}

/// Held shared by each round of the token writer, and exclusively by a WAL restart
/// (`checkpoint`): the restart then runs between two rounds instead of racing the writer for
/// SQLite's write lock, which a writer committing back to back can win for seconds.
type WriteGate = std::sync::Arc<tokio::sync::RwLock<()>>;

pub use crate::config::user_types::DEFAULT_USER_TYPE;

/// A handle on the database; cheap to clone (a pool inside).
#[derive(Clone, Debug)]
pub struct Store {
    db: connection::Db,
    /// The user type this handle reads and writes users of (`for_type`).
    user_type: std::sync::Arc<str>,
    tokens: token_writes::TokenWriter,
    find_device: devices::FindDevice,
    availability: Availability,
    checkpoints: Option<std::sync::Arc<checkpoint::Checkpoints>>,
    gate: WriteGate,
}

impl Store {
    /// Connects; for SQLite turns on WAL and a busy timeout so several connections (and several
    /// processes) can share one file. `acquire_timeout` bounds how long an operation waits for
    /// a connection (a new one included, so also a database that refuses or does not answer)
    /// before it fails as `StoreError::Unavailable`.
    pub async fn connect(
        url: &str,
        max_connections: u32,
        acquire_timeout: Duration,
    ) -> Result<Store, DbErr> {
        let mut opts = ConnectOptions::new(with_default_pg_user(url));
        opts.max_connections(max_connections)
            .min_connections(1)
            .connect_timeout(acquire_timeout)
            .acquire_timeout(acquire_timeout)
            // Ping a pooled connection only after it sat idle: pinging on every checkout
            // doubled the round trips of each request, while under load a connection is back
            // in use within milliseconds. One second, because a database restart leaves every
            // pooled connection dead: those that sat through it are dropped by the ping rather
            // than failing the first requests after it (a restart takes longer than that).
            .test_before_acquire_if_idle_for(Duration::from_secs(1))
            .sqlx_logging(false);
        if url.starts_with("sqlite:") {
            opts.map_sqlx_sqlite_opts(|o| {
                o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true)
                    // Every commit by another connection empties a connection's page cache in
                    // WAL mode; reading the pages back through a memory map instead of pread()
                    // copies keeps the one read per request cheap.
                    .pragma("mmap_size", "268435456")
                    // Checkpoints run in their own task (`checkpoint`), not inside commits.
                    .pragma("wal_autocheckpoint", "0")
            });
        }
        Ok(Store::from_connection(Database::connect(opts).await?))
    }

    /// Wraps a connection; starts the token writer task (and for SQLite the checkpoint task),
    /// so it must run inside the runtime.
    pub fn from_connection(db: DatabaseConnection) -> Store {
        let backend = db.get_database_backend();
        let gate = WriteGate::default();
        let checkpoints = (backend == sea_orm::DbBackend::Sqlite)
            .then(|| std::sync::Arc::new(checkpoint::spawn(db.clone(), gate.clone())));
        let availability = Availability::default();
        Store {
            tokens: token_writes::TokenWriter::spawn(
                db.clone(),
                availability.clone(),
                gate.clone(),
            ),
            find_device: devices::FindDevice::new(backend),
            availability,
            checkpoints,
            gate,
            db: connection::Db::new(db),
            user_type: DEFAULT_USER_TYPE.into(),
        }
    }

    /// The same database, for the users of another type: every user query of the handle is
    /// limited to that type and new users get it, so types never see each other's users.
    pub fn for_type(&self, name: &str) -> Store {
        Store {
            user_type: name.into(),
            ..self.clone()
        }
    }

    /// The user type this handle serves.
    pub fn user_type(&self) -> &str {
        &self.user_type
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Applies pending migrations; returns how many ran.
    pub async fn migrate(&self) -> Result<usize, DbErr> {
        let pending = Migrator::get_pending_migrations(self.connection())
            .await?
            .len();
        Migrator::up(self.connection(), None).await?;
        Ok(pending)
    }

    /// A cheap round trip, for readiness checks; its outcome feeds `availability`.
    pub async fn ping(&self) -> StoreResult<()> {
        let started = Instant::now();
        let result = self.db.ping().await.map_err(StoreError::from);
        self.availability.observe(started, Access::Read, &result);
        result
    }

    /// Waits until every token write queued so far (rotations, batch touches) is applied.
    pub async fn flush_writes(&self) {
        self.tokens.flush().await;
    }

    /// Shutdown, after the last request and `flush_writes`: on SQLite stops the checkpoint
    /// task and runs a last checkpoint that empties the WAL (TRUNCATE), then closes the pool.
    /// The store answers nothing afterwards.
    pub async fn close(&self) -> Result<(), DbErr> {
        if let Some(checkpoints) = &self.checkpoints {
            checkpoints.stop().await;
            // Between two token writer rounds; a round still running after the flush timed out
            // gets a second to end, then the checkpoint goes ahead beside it.
            let _no_round = tokio::time::timeout(Duration::from_secs(1), self.gate.write())
                .await
                .ok();
            if !checkpoint::truncate(&*self.db).await? {
                tracing::warn!(
                    "the last WAL checkpoint could not finish: another process is using the \
                     database; it checkpoints when it closes"
                );
            }
        }
        self.db.close_by_ref().await
    }

    /// The pool's connections: (open, idle, most allowed).
    pub fn pool_use(&self) -> (u32, u32, u32) {
        use sea_orm::DbBackend;
        let db: &DatabaseConnection = &self.db;
        match db.get_database_backend() {
            DbBackend::Sqlite => {
                let p = db.get_sqlite_connection_pool();
                (
                    p.size(),
                    p.num_idle() as u32,
                    p.options().get_max_connections(),
                )
            }
            DbBackend::Postgres => {
                let p = db.get_postgres_connection_pool();
                (
                    p.size(),
                    p.num_idle() as u32,
                    p.options().get_max_connections(),
                )
            }
            _ => {
                let p = db.get_mysql_connection_pool();
                (
                    p.size(),
                    p.num_idle() as u32,
                    p.options().get_max_connections(),
                )
            }
        }
    }

    /// Whether the database is reachable, as the latest operations found it.
    pub fn availability(&self) -> &Availability {
        &self.availability
    }
}
