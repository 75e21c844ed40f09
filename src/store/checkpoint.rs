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
//!
//! A PASSIVE checkpoint copies frames but never starts the WAL over: under sustained load the
//! writer appends while it copies, the WAL is never wholly copied at a moment no reader needs
//! it, and the file grew without end (23 MB in 10 s of rotations, docs/benchmarks.md). So once
//! the WAL holds more than `RESTART_FRAMES` frames, the task runs a RESTART checkpoint between
//! two rounds of the token writer (it takes the store's write gate, which each round holds
//! shared): it copies what is left while the readers move off the WAL, and the next write
//! starts the WAL file from its beginning. The file then stays near `RESTART_FRAMES` pages,
//! whatever the load and for however long. Without the gate the restart raced the writer for
//! SQLite's write lock, and a writer committing back to back could win it for seconds.

use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};
use tokio::{sync::watch, task::JoinHandle};

use super::WriteGate;

/// How often the WAL is copied back. Short, so each checkpoint is small and the WAL stays a
/// few megabytes at most under full load.
pub(super) const INTERVAL: Duration = Duration::from_millis(250);

/// WAL frames (pages) past which a checkpoint restarts the WAL: SQLite's own automatic
/// checkpoint threshold, about 4 MiB with 4 KiB pages.
pub(super) const RESTART_FRAMES: i64 = 1000;

/// The running checkpoint task. It ends when `stop` is called or this is dropped (with the
/// last clone of the store).
#[derive(Debug)]
pub(super) struct Checkpoints {
    stop: watch::Sender<bool>,
    task: std::sync::Mutex<Option<JoinHandle<()>>>,
}

/// Starts the checkpoint task on `db`; a WAL restart holds `gate`.
pub(super) fn spawn(db: DatabaseConnection, gate: WriteGate) -> Checkpoints {
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
            let restart = match checkpoint(&db, "PASSIVE").await {
                Ok(outcome) => outcome.wal_frames > RESTART_FRAMES,
                Err(e) => {
                    tracing::warn!(error = %e, "SQLite WAL checkpoint failed; will retry");
                    false
                }
            };
            if restart {
                let _between_rounds = gate.write().await;
                if let Err(e) = checkpoint(&db, "RESTART").await {
                    tracing::warn!(error = %e, "SQLite WAL restart failed; will retry");
                }
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

/// What `PRAGMA wal_checkpoint` reports.
struct Outcome {
    /// It could not finish: another connection held a lock it needed.
    busy: bool,
    /// Frames in the WAL (-1 when the database is not in WAL mode).
    wal_frames: i64,
}

async fn checkpoint(db: &impl ConnectionTrait, mode: &str) -> Result<Outcome, DbErr> {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            format!("PRAGMA wal_checkpoint({mode})"),
        ))
        .await?;
    let column = |i: usize| {
        row.as_ref()
            .and_then(|r| r.try_get_by_index::<i64>(i).ok())
            .unwrap_or(0)
    };
    Ok(Outcome {
        busy: column(0) != 0,
        wal_frames: column(1),
    })
}

/// The last checkpoint, at shutdown: every WAL frame copied back into the database file and
/// the WAL truncated to nothing, so that the file alone is the database (a backup of it, or a
/// copy, misses nothing). Returns false when readers or writers of another process kept part
/// of the WAL from being copied.
pub(super) async fn truncate(db: &impl ConnectionTrait) -> Result<bool, DbErr> {
    Ok(!checkpoint(db, "TRUNCATE").await?.busy)
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

    /// Sustained load: writes back to back with a reader always busy beside them, so a PASSIVE
    /// checkpoint never finds the WAL wholly copied and unused. The RESTART keeps the file
    /// near `RESTART_FRAMES` pages instead of growing for as long as the load lasts.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_stays_bounded_under_sustained_writes_and_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sustained.db");
        let store = Store::connect(
            &format!("sqlite://{}?mode=rwc", path.display()),
            3,
            std::time::Duration::from_secs(10),
        )
        .await
        .unwrap();
        let db = store.connection().clone();
        let gate = store.gate.clone();
        db.execute_unprepared("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
            .await
            .unwrap();
        // Each write commits at least one 4 KiB page: enough writes to cross the bound twice.
        // The bound leaves room for the WAL to grow by several checkpoint intervals' writes
        // past `RESTART_FRAMES` on a machine busy with other tests.
        let bound = 5 * RESTART_FRAMES as u64 * 4200;
        let writes = 2 * bound / 4096 + 1;
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reader = {
            let (db, done) = (db.clone(), done.clone());
            tokio::spawn(async move {
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    db.execute_unprepared("SELECT count(*) FROM t")
                        .await
                        .unwrap();
                }
            })
        };
        let wal = dir.path().join("sustained.db-wal");
        let mut largest = 0;
        for written in 1..=writes {
            // Each write is a round of the token writer: it holds the gate shared.
            let _round = gate.read().await;
            db.execute_unprepared("INSERT INTO t (v) VALUES (hex(randomblob(200)))")
                .await
                .unwrap();
            if written % 50 == 0 {
                largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
            }
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        reader.await.unwrap();
        assert!(
            largest < bound,
            "the WAL reached {largest} bytes after {writes} writes"
        );
    }
}
