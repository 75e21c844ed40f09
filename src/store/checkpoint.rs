//! SQLite's WAL checkpoints, moved off the write path.
//!
//! By default the connection whose commit pushes the WAL past 1,000 pages copies the WAL back
//! into the database file and syncs it, inside that commit. With all token writes going through
//! one writer (`token_writes`), every request queued behind such a commit waited for it: that
//! was the tail of the latency under load (p99 21–24 ms against 15 ms without). toker's
//! connections turn automatic checkpoints off and this task runs a PASSIVE checkpoint a few
//! times a second instead; PASSIVE never blocks readers or writers, so the writer keeps
//! appending to the WAL while the pages are copied. Other processes on the same file (another
//! `toker serve`) run their own; whichever finds the checkpoint lock taken skips that round.

use std::{
    sync::{Arc, Weak},
    time::Duration,
};

use sea_orm::{ConnectionTrait, DatabaseConnection};

/// How often the WAL is copied back. Short, so each checkpoint is small and the WAL stays a
/// few megabytes at most under full load.
pub(super) const INTERVAL: Duration = Duration::from_millis(250);

/// Runs checkpoints until every `Store` holding `alive` is gone.
pub(super) fn spawn(db: DatabaseConnection, alive: Weak<()>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if alive.upgrade().is_none() {
                return;
            }
            if let Err(e) = db
                .execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)")
                .await
            {
                tracing::warn!(error = %e, "SQLite WAL checkpoint failed; will retry");
            }
        }
    });
}

/// Keeps the checkpoint task running while any clone of the store exists.
pub(super) type Alive = Arc<()>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    /// With automatic checkpoints off, only the task keeps the WAL from growing: writes in
    /// five bursts, each of about 4 MiB of WAL frames, must not leave a WAL of all five.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_is_checkpointed_between_bursts_of_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("checkpoint.db");
        let store = Store::connect(
            &format!("sqlite://{}?mode=rwc", path.display()),
            2,
            std::time::Duration::from_secs(10),
        )
        .await
        .unwrap();
        let db = store.connection();
        db.execute_unprepared("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
            .await
            .unwrap();
        let wal = dir.path().join("checkpoint.db-wal");
        let mut largest = 0;
        for _ in 0..5 {
            for _ in 0..1000 {
                db.execute_unprepared("INSERT INTO t (v) VALUES (hex(randomblob(16)))")
                    .await
                    .unwrap();
            }
            largest = largest.max(std::fs::metadata(&wal).unwrap().len());
            tokio::time::sleep(INTERVAL * 3).await;
        }
        // One burst is 1,000 commits of at least one 4 KiB page each.
        assert!(
            largest >= 1000 * 4096,
            "WAL smaller than one burst: {largest}"
        );
        assert!(
            largest < 2 * 1000 * 4200,
            "the WAL grew across bursts ({largest} bytes): no checkpoint ran"
        );
    }
}
