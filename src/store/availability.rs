//! Is the database there? Which failures mean "unreachable, restarting or refusing for now"
//! (answered 503 and retried by the client) rather than a fault of ours (500), and the up/down
//! state `/health` reports, logged once when the database goes away and once when it is back.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU8, Ordering},
    },
    time::{Duration, Instant},
};

use sea_orm::{DbErr, RuntimeErr, sqlx};

/// What a failure says about the database, when it is an outage rather than a fault of ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outage {
    /// It cannot be reached or is not serving: no connection within the acquire timeout, a
    /// connection refused or reset, the server shutting down or starting up.
    Unreachable,
    /// It answers but cannot write: a full or read-only disk, a failing write.
    WritesRefused,
}

/// The outage `e` reports, if any. Constraint violations, bad SQL and decoding errors are not
/// outages.
pub(super) fn outage(e: &DbErr) -> Option<Outage> {
    match e {
        DbErr::ConnectionAcquire(_) => Some(Outage::Unreachable),
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => sqlx_outage(e),
        _ => None,
    }
}

fn sqlx_outage(e: &sqlx::Error) -> Option<Outage> {
    match e {
        // Refused, reset, broken pipe, EOF: the connection or the server is gone.
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => Some(Outage::Unreachable),
        sqlx::Error::Database(db) => {
            if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                pg_outage(pg.code())
            } else if let Some(my) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
                mysql_outage(my.number(), my.code())
            } else if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                db.code()
                    .and_then(|c| c.parse::<i32>().ok())
                    .and_then(sqlite_outage)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// PostgreSQL SQLSTATEs of an outage. Unreachable: class 08 (connection exception), 53300
/// (too many connections), 53200 (out of memory), 57P01–57P03 (administrator or crash
/// shutdown, "the database system is starting up / shutting down"), 57P05 (idle session
/// timeout). Writes refused: 53100 (disk full), 58030 (I/O error), 25006 (a read-only
/// transaction: a standby, or a server set to `default_transaction_read_only`).
fn pg_outage(sqlstate: &str) -> Option<Outage> {
    match sqlstate {
        "53100" | "58030" | "25006" => Some(Outage::WritesRefused),
        "53300" | "53200" | "57P01" | "57P02" | "57P03" | "57P05" => Some(Outage::Unreachable),
        s if s.starts_with("08") => Some(Outage::Unreachable),
        _ => None,
    }
}

/// MySQL / MariaDB error numbers of an outage (and SQLSTATE class 08).
fn mysql_outage(number: u16, sqlstate: Option<&str>) -> Option<Outage> {
    match number {
        1021 // ER_DISK_FULL
        | 1114 // ER_RECORD_FILE_FULL: the tablespace cannot grow
        | 1290 // ER_OPTION_PREVENTS_STATEMENT: --read-only
        | 1792 // ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
        | 1836 // ER_READ_ONLY_MODE
        => Some(Outage::WritesRefused),
        1040 // ER_CON_COUNT_ERROR: too many connections
        | 1053 // ER_SERVER_SHUTDOWN
        | 1152 // ER_ABORTING_CONNECTION
        | 1158..=1161 // ER_NET_READ_ERROR … ER_NET_WRITE_INTERRUPTED
        | 1927 // ER_CONNECTION_KILLED (MariaDB)
        | 2002 // CR_CONNECTION_ERROR
        | 2003 // CR_CONN_HOST_ERROR
        | 2006 // CR_SERVER_GONE_ERROR
        | 2013 // CR_SERVER_LOST
        | 4031 // ER_CLIENT_INTERACTION_TIMEOUT
        => Some(Outage::Unreachable),
        _ if sqlstate.is_some_and(|s| s.starts_with("08")) => Some(Outage::Unreachable),
        _ => None,
    }
}

/// SQLite result codes of an outage. Unreachable: busy or locked past the busy timeout, a
/// file that cannot be opened, a failed read. Writes refused: a read-only file or file
/// system, a full disk, any other I/O error (a write, sync or truncate that failed).
fn sqlite_outage(extended_code: i32) -> Option<Outage> {
    const BUSY: i32 = 5;
    const LOCKED: i32 = 6;
    const READONLY: i32 = 8;
    const IOERR: i32 = 10;
    const FULL: i32 = 13;
    const CANTOPEN: i32 = 14;
    const IOERR_READ: i32 = IOERR | (1 << 8);
    const IOERR_SHORT_READ: i32 = IOERR | (2 << 8);
    match (extended_code & 0xff, extended_code) {
        (_, IOERR_READ | IOERR_SHORT_READ) => Some(Outage::Unreachable),
        (READONLY | FULL | IOERR, _) => Some(Outage::WritesRefused),
        (BUSY | LOCKED | CANTOPEN, _) => Some(Outage::Unreachable),
        _ => None,
    }
}

/// Whether the operation whose outcome is observed read or wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// The database's condition as the latest operations found it: two small state machines,
/// reachable → unreachable → reachable, and writing → refusing writes → writing, fed by
/// `/health` and by the outcome of requests' database work. Each change logs one line. A
/// read ends an unreachable spell but only a write ends a refusal (a full disk still serves
/// reads). A result moves a state only when its operation started `SETTLE` after that state's
/// last change: a server shutting down ends its sessions one by one, and one restarted leaves
/// broken connections in the pool, so for a moment after a change successes and failures
/// interleave, and they must not flap the state (and the log) back and forth.
#[derive(Clone, Debug, Default)]
pub struct Availability(Arc<Inner>);

const SETTLE: Duration = Duration::from_secs(1);

const UNREACHABLE: u8 = 1;
const WRITES_REFUSED: u8 = 2;

#[derive(Debug)]
struct Inner {
    /// The conditions that are on, for the fast path: one relaxed load per observed result.
    on: AtomicU8,
    since: Mutex<[Instant; 2]>,
}

impl Default for Inner {
    fn default() -> Self {
        // As if the last change had settled already: the first failure counts.
        let now = Instant::now();
        let now = now.checked_sub(SETTLE).unwrap_or(now);
        Inner {
            on: AtomicU8::new(0),
            since: Mutex::new([now, now]),
        }
    }
}

impl Outage {
    fn bit(self) -> u8 {
        match self {
            Outage::Unreachable => UNREACHABLE,
            Outage::WritesRefused => WRITES_REFUSED,
        }
    }
}

impl Availability {
    /// False from the first failure to reach the database until it answers again.
    pub fn is_reachable(&self) -> bool {
        self.0.on.load(Ordering::Relaxed) & UNREACHABLE == 0
    }

    /// False from the first refused write until a write succeeds again.
    pub fn accepts_writes(&self) -> bool {
        self.0.on.load(Ordering::Relaxed) & WRITES_REFUSED == 0
    }

    /// An operation that started at `started` succeeded.
    pub fn succeeded(&self, started: Instant, access: Access) {
        let ended = match access {
            Access::Read => UNREACHABLE,
            Access::Write => UNREACHABLE | WRITES_REFUSED,
        };
        if self.0.on.load(Ordering::Relaxed) & ended == 0 {
            return;
        }
        let mut since = self.since();
        for outage in [Outage::Unreachable, Outage::WritesRefused] {
            let bit = outage.bit();
            let slot = &mut since[usize::from(bit >> 1)];
            if ended & bit == 0
                || self.0.on.load(Ordering::Relaxed) & bit == 0
                || started < *slot + SETTLE
            {
                continue;
            }
            let lasted_ms = slot.elapsed().as_millis() as u64;
            *slot = Instant::now();
            self.0.on.fetch_and(!bit, Ordering::Relaxed);
            match outage {
                Outage::Unreachable => {
                    tracing::info!(lasted_ms, "database available again")
                }
                Outage::WritesRefused => {
                    tracing::info!(lasted_ms, "database accepts writes again")
                }
            }
        }
    }

    /// An operation that started at `started` met `outage`.
    pub fn failed(&self, started: Instant, outage: Outage, cause: &dyn std::fmt::Display) {
        let bit = outage.bit();
        if self.0.on.load(Ordering::Relaxed) & bit != 0 {
            return;
        }
        let mut since = self.since();
        let slot = &mut since[usize::from(bit >> 1)];
        if self.0.on.load(Ordering::Relaxed) & bit != 0 || started < *slot + SETTLE {
            return;
        }
        *slot = Instant::now();
        self.0.on.fetch_or(bit, Ordering::Relaxed);
        match outage {
            Outage::Unreachable => tracing::error!(
                error = %cause,
                "database unavailable: answering 503 until it is back"
            ),
            Outage::WritesRefused => tracing::error!(
                error = %cause,
                "database refuses writes (disk full or read-only?): answering 503 to \
                 requests that write until it accepts them again"
            ),
        }
    }

    /// Feeds the outcome of a store operation; errors that are not outages move nothing.
    pub(super) fn observe<T>(
        &self,
        started: Instant,
        access: Access,
        result: &super::StoreResult<T>,
    ) {
        match result {
            Ok(_) => self.succeeded(started, access),
            Err(e) => {
                if let Some(outage) = e.outage() {
                    self.failed(started, outage, e);
                }
            }
        }
    }

    fn since(&self) -> std::sync::MutexGuard<'_, [Instant; 2]> {
        // Only instants are written under the lock; a poisoned one is still consistent.
        self.0.since.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::ConnAcquireErr;

    fn sqlx_err(e: sqlx::Error) -> DbErr {
        DbErr::Query(RuntimeErr::SqlxError(Arc::new(e)))
    }

    #[test]
    fn pool_timeouts_and_broken_connections_are_unreachable() {
        let io = |kind: std::io::ErrorKind| sqlx::Error::Io(kind.into());
        for e in [
            DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
            sqlx_err(sqlx::Error::PoolTimedOut),
            sqlx_err(io(std::io::ErrorKind::ConnectionRefused)),
            DbErr::Conn(RuntimeErr::SqlxError(Arc::new(io(
                std::io::ErrorKind::ConnectionReset,
            )))),
        ] {
            assert_eq!(outage(&e), Some(Outage::Unreachable), "{e}");
        }
    }

    #[test]
    fn faults_of_ours_are_not_outages() {
        for e in [
            DbErr::Custom("bug".into()),
            DbErr::RecordNotFound("x".into()),
            sqlx_err(sqlx::Error::RowNotFound),
            sqlx_err(sqlx::Error::Protocol("garbage".into())),
            DbErr::Query(RuntimeErr::Internal("x".into())),
        ] {
            assert_eq!(outage(&e), None, "{e}");
        }
    }

    #[test]
    fn postgres_shutdown_startup_and_connection_states_are_unreachable() {
        for code in ["57P01", "57P02", "57P03", "08006", "08001", "53300"] {
            assert_eq!(pg_outage(code), Some(Outage::Unreachable), "{code}");
        }
        for code in ["53100", "25006", "58030"] {
            assert_eq!(pg_outage(code), Some(Outage::WritesRefused), "{code}");
        }
        for code in ["23505", "42P01", "40001", "22001", "57014", "57P04"] {
            assert_eq!(pg_outage(code), None, "{code}");
        }
    }

    #[test]
    fn mysql_gone_away_and_lost_are_unreachable_full_and_read_only_refuse_writes() {
        for n in [2006, 2013, 1053, 1927, 1040] {
            assert_eq!(
                mysql_outage(n, Some("HY000")),
                Some(Outage::Unreachable),
                "{n}"
            );
        }
        assert_eq!(mysql_outage(9999, Some("08S01")), Some(Outage::Unreachable));
        for n in [1290, 1836, 1021, 1114] {
            assert_eq!(
                mysql_outage(n, Some("HY000")),
                Some(Outage::WritesRefused),
                "{n}"
            );
        }
        for n in [1062, 1146, 1064, 1213, 1205] {
            assert_eq!(mysql_outage(n, Some("23000")), None, "{n}");
        }
    }

    #[test]
    fn sqlite_codes_are_told_apart_by_their_primary_and_extended_codes() {
        // SQLITE_READONLY, _DBMOVED (1032), SQLITE_FULL, SQLITE_IOERR, _WRITE (778), _FSYNC (1034).
        for code in [8, 1032, 13, 10, 778, 1034] {
            assert_eq!(sqlite_outage(code), Some(Outage::WritesRefused), "{code}");
        }
        // SQLITE_BUSY, _SNAPSHOT (517), SQLITE_LOCKED, SQLITE_CANTOPEN, _ISDIR (526),
        // SQLITE_IOERR_READ (266), _SHORT_READ (522).
        for code in [5, 517, 6, 14, 526, 266, 522] {
            assert_eq!(sqlite_outage(code), Some(Outage::Unreachable), "{code}");
        }
        // SQLITE_CONSTRAINT_UNIQUE (2067), _FOREIGNKEY (787), SQLITE_ERROR, SQLITE_CORRUPT.
        for code in [2067, 787, 1, 11] {
            assert_eq!(sqlite_outage(code), None, "{code}");
        }
    }

    /// An operation started `after` from now: a change happening now is recorded at about
    /// now, so this is as long after it.
    fn at(after: Duration) -> Instant {
        Instant::now() + after
    }

    #[test]
    fn reachability_changes_once_each_way_and_ignores_the_noise_around_a_change() {
        let a = Availability::default();
        assert!(a.is_reachable());
        a.failed(Instant::now(), Outage::Unreachable, &"refused");
        assert!(!a.is_reachable(), "the first failure counts");
        // Sessions still alive while the server shuts down answer a moment longer.
        a.succeeded(at(Duration::from_millis(10)), Access::Read);
        assert!(
            !a.is_reachable(),
            "a success right after the change must not end it"
        );
        a.succeeded(at(SETTLE * 2), Access::Read);
        assert!(a.is_reachable());
        // A broken pooled connection fails just after the database came back.
        a.failed(at(Duration::from_millis(10)), Outage::Unreachable, &"reset");
        assert!(
            a.is_reachable(),
            "a failure right after the change must not start a new one"
        );
        a.failed(at(SETTLE * 2), Outage::Unreachable, &"refused again");
        assert!(!a.is_reachable());
    }

    #[test]
    fn only_a_write_ends_a_refusal_to_write() {
        let a = Availability::default();
        a.failed(Instant::now(), Outage::WritesRefused, &"disk full");
        assert!(!a.accepts_writes());
        assert!(a.is_reachable(), "a full disk still serves reads");
        a.succeeded(at(SETTLE * 2), Access::Read);
        assert!(!a.accepts_writes(), "a read proves nothing about writes");
        a.succeeded(at(SETTLE * 2), Access::Write);
        assert!(a.accepts_writes());
    }
}
