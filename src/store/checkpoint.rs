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

use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};
use tokio::{sync::watch, task::JoinHandle};

/// How often the WAL is copied back. Short, so each checkpoint is small and the WAL stays a
/// few megabytes at most under full load.
pub(super) const INTERVAL: Duration = Duration::from_millis(250);

/// The running checkpoint task. It ends when `stop` is called or this is dropped (with the
/// last clone of the store).
#[derive(Debug)]
pub(super) struct Checkpoints {
    stop: watch::Sender<bool>,
    task: std::sync::Mutex<Option<JoinHandle<()>>>,
}

/// Starts the checkpoint task on `db`.
pub(super) fn spawn(db: DatabaseConnection) -> Checkpoints {
    let (stop, mut stopped) = watch::channel(false);
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                // Stopped, or every store is gone (the sender with them).
                _ = stopped.changed() => return,
            }
            if let Err(e) = db
                .execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)")
                .await
            {
                tracing::warn!(error = %e, "SQLite WAL checkpoint failed; will retry");
            }
        }
    });
    Checkpoints {
        stop,
        task: std::sync::Mutex::new(Some(task)),
    }
}

impl Checkpoints {
    /// Stops the task, waiting for a checkpoint under way to end.
    pub(super) async fn stop(&self) {
        let _ = self.stop.send(true);
        let task = self.task.lock().map(|mut t| t.take()).unwrap_or(None);
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

/// The last checkpoint, at shutdown: every WAL frame copied back into the database file and
/// the WAL truncated to nothing, so that the file alone is the database (a backup of it, or a
/// copy, misses nothing). Returns false when readers or writers of another process kept part
/// of the WAL from being copied.
pub(super) async fn truncate(db: &impl ConnectionTrait) -> Result<bool, DbErr> {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA wal_checkpoint(TRUNCATE)",
        ))
        .await?;
    // (busy, frames in the WAL, frames checkpointed); busy = 1 when it could not finish.
    let busy = row
        .and_then(|r| r.try_get_by_index::<i32>(0).ok())
        .unwrap_or(0);
    Ok(busy == 0)
}

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
