//! Group commit for the one write of every authenticated request (a rotation or a batch touch).
//!
//! Requests hand their write to one writer task per `Store`; it applies everything queued since
//! its last round in one statement per kind (SQLite, PostgreSQL) or one transaction (MySQL), and
//! answers each request on its own channel. With many concurrent devices this turns one commit
//! and one write-lock acquisition per request into one per round: on SQLite, writers no longer
//! queue in the busy handler's sleeps; on PostgreSQL, one round trip carries many rows.
//!
//! Each rotation stays a compare-and-swap on `version`, evaluated per row by the database, so
//! the semantics across processes and instances are exactly those of a single-row UPDATE.
//!
//! A round is all or nothing: one statement, or one transaction on MySQL that a failure rolls
//! back. When it fails (the database went away, say), every request of the round gets the
//! error with its class kept (an outage stays `Unavailable`) and nothing of the round was
//! written, so each device's stored chain, and the token its client holds, stays valid.
//! Every round writes its rows in ascending id order: two instances whose rounds share rows
//! then lock them in the same order and cannot deadlock (MySQL runs a round as a transaction
//! of single-row updates, each holding its row lock until the commit).

use std::collections::{HashMap, HashSet};

use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter,
    Statement, TransactionTrait, Value, sea_query::Expr,
};
use tokio::sync::{mpsc, oneshot};

use super::{Access, Availability, StoreError, StoreResult, WriteGate};
use crate::tokens::Chain;
use entity::device;

/// Rows per statement: well under SQLite's and PostgreSQL's parameter limits (8 per row).
const MAX_ROUND: usize = 256;

/// A queued write and where its outcome goes.
enum Write {
    Rotate {
        id: i64,
        expected_version: i64,
        chain: Chain,
        reply: oneshot::Sender<StoreResult<bool>>,
    },
    Touch {
        id: i64,
        now_ms: i64,
        reply: oneshot::Sender<StoreResult<()>>,
    },
    /// Answered once every write queued before it is applied (or failed): shutdown waits on
    /// it so that no rotation a client was told about is left in the queue.
    Flush { reply: oneshot::Sender<()> },
}

/// The requests' side of the writer task. The task ends when the last `Store` clone is dropped.
#[derive(Clone, Debug)]
pub(super) struct TokenWriter {
    queue: mpsc::UnboundedSender<Write>,
}

impl TokenWriter {
    /// Starts the writer; each round holds `gate` shared, so that the WAL restart
    /// (`checkpoint`) can take it and run between two rounds.
    pub(super) fn spawn(
        db: DatabaseConnection,
        availability: Availability,
        gate: WriteGate,
    ) -> TokenWriter {
        let (queue, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(db, availability, rx, gate));
        TokenWriter { queue }
    }

    /// Compare-and-swap rotation: true when this request's write won.
    pub(super) async fn rotate(
        &self,
        id: i64,
        expected_version: i64,
        chain: Chain,
    ) -> StoreResult<bool> {
        let (reply, outcome) = oneshot::channel();
        self.queue
            .send(Write::Rotate {
                id,
                expected_version,
                chain,
                reply,
            })
            .map_err(|_| writer_gone())?;
        outcome.await.map_err(|_| writer_gone())?
    }

    /// Pushes `touched_at` forward (never back).
    pub(super) async fn touch(&self, id: i64, now_ms: i64) -> StoreResult<()> {
        let (reply, outcome) = oneshot::channel();
        self.queue
            .send(Write::Touch { id, now_ms, reply })
            .map_err(|_| writer_gone())?;
        outcome.await.map_err(|_| writer_gone())?
    }
}

impl TokenWriter {
    /// Waits until every write queued so far has been applied. Returns at once when the
    /// writer has stopped (nothing is queued then).
    pub(super) async fn flush(&self) {
        let (reply, done) = oneshot::channel();
        if self.queue.send(Write::Flush { reply }).is_ok() {
            let _ = done.await;
        }
    }
}

fn writer_gone() -> StoreError {
    StoreError::Db(DbErr::Custom("the token writer has stopped".into()))
}

/// Every caller of a failed round gets the error, classified as the round's own.
fn shared(e: &DbErr) -> StoreError {
    StoreError::from(e.clone())
}

/// The touches of one device in a round: the latest time wins, every caller gets the outcome.
struct Touches {
    at: i64,
    replies: Vec<oneshot::Sender<StoreResult<()>>>,
}

struct Rotation {
    id: i64,
    expected_version: i64,
    chain: Chain,
    reply: oneshot::Sender<StoreResult<bool>>,
}

async fn run(
    db: DatabaseConnection,
    availability: Availability,
    mut rx: mpsc::UnboundedReceiver<Write>,
    gate: WriteGate,
) {
    let mut received = Vec::with_capacity(MAX_ROUND);
    // Rotations of a device that already has one in the current round wait for the next one, so
    // each statement names a row at most once and every CAS outcome is unambiguous.
    let mut deferred: Vec<Rotation> = Vec::new();
    let mut flushes: Vec<oneshot::Sender<()>> = Vec::new();
    loop {
        if deferred.is_empty() && rx.recv_many(&mut received, MAX_ROUND).await == 0 {
            return;
        }
        while received.len() < MAX_ROUND {
            match rx.try_recv() {
                Ok(w) => received.push(w),
                Err(_) => break,
            }
        }
        let mut rotations = Vec::new();
        let mut touches: HashMap<i64, Touches> = HashMap::new();
        let mut later = Vec::new();
        let mut ids = HashSet::new();
        for r in deferred.drain(..) {
            if ids.insert(r.id) {
                rotations.push(r);
            } else {
                later.push(r);
            }
        }
        for w in received.drain(..) {
            match w {
                Write::Rotate {
                    id,
                    expected_version,
                    chain,
                    reply,
                } => {
                    let r = Rotation {
                        id,
                        expected_version,
                        chain,
                        reply,
                    };
                    if ids.insert(id) {
                        rotations.push(r);
                    } else {
                        later.push(r);
                    }
                }
                Write::Touch { id, now_ms, reply } => {
                    let entry = touches.entry(id).or_insert(Touches {
                        at: now_ms,
                        replies: Vec::new(),
                    });
                    entry.at = entry.at.max(now_ms);
                    entry.replies.push(reply);
                }
                Write::Flush { reply } => flushes.push(reply),
            }
        }
        deferred = later;
        rotations.sort_unstable_by_key(|r| r.id);

        let round = gate.read().await;
        if !rotations.is_empty() {
            let started = std::time::Instant::now();
            let result = rotate_all(&db, &rotations).await;
            availability.observe(started, Access::Write, &result.as_ref().map_err(shared));
            match result {
                Ok(won) => {
                    for r in rotations {
                        let _ = r.reply.send(Ok(won.contains(&r.id)));
                    }
                }
                Err(e) => {
                    for r in rotations {
                        let _ = r.reply.send(Err(shared(&e)));
                    }
                }
            }
        }
        if !touches.is_empty() {
            let mut rows: Vec<(i64, i64)> = touches.iter().map(|(id, t)| (*id, t.at)).collect();
            rows.sort_unstable();
            let started = std::time::Instant::now();
            let result = touch_all(&db, &rows).await;
            availability.observe(started, Access::Write, &result.as_ref().map_err(shared));
            for touched in touches.into_values() {
                for reply in touched.replies {
                    let _ = reply.send(result.as_ref().map(|_| ()).map_err(shared));
                }
            }
        }
        drop(round);
        // Rotations deferred to the next round were queued before the flush too.
        if deferred.is_empty() {
            for reply in flushes.drain(..) {
                let _ = reply.send(());
            }
        }
    }
}

/// Applies the rotations whose `version` still matches; returns the ids that were updated.
async fn rotate_all(
    db: &DatabaseConnection,
    rotations: &[Rotation],
) -> Result<HashSet<i64>, DbErr> {
    let backend = db.get_database_backend();
    if backend == DbBackend::MySql {
        // No UPDATE … RETURNING: one transaction of single-row compare-and-swaps.
        let txn = db.begin().await?;
        let mut won = HashSet::new();
        for r in rotations {
            if rotate_one(&txn, r).await? {
                won.insert(r.id);
            }
        }
        txn.commit().await?;
        return Ok(won);
    }
    const TYPES: [&str; 8] = [
        "bigint", "bigint", "text", "text", "text", "bigint", "bigint", "bigint",
    ];
    let mut values = Vec::with_capacity(rotations.len() * TYPES.len());
    let mut rows = Vec::with_capacity(rotations.len());
    for (i, r) in rotations.iter().enumerate() {
        rows.push(values_row(backend, i, &TYPES));
        values.extend([
            Value::from(r.id),
            Value::from(r.expected_version),
            Value::from(r.chain.token_hash.clone()),
            Value::from(r.chain.previous_token_hash.clone()),
            Value::from(r.chain.last_token_hash.clone()),
            Value::from(r.chain.expiry),
            Value::from(r.chain.touched_at),
            Value::from(r.chain.rotated_at),
        ]);
    }
    let columns = "id, version, token_hash, previous_token_hash, last_token_hash, expiry, \
                   touched_at, rotated_at";
    let set = "token_hash = v.token_hash, previous_token_hash = v.previous_token_hash, \
               last_token_hash = v.last_token_hash, expiry = v.expiry, \
               touched_at = v.touched_at, rotated_at = v.rotated_at, version = v.version + 1";
    let sql = format!(
        "WITH v ({columns}) AS (VALUES {rows}) \
         UPDATE devices SET {set} FROM v \
         WHERE devices.id = v.id AND devices.version = v.version RETURNING devices.id",
        rows = rows.join(", ")
    );
    let updated = db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    updated
        .iter()
        .map(|row| row.try_get::<i64>("", "id"))
        .collect()
}

async fn rotate_one<C: ConnectionTrait>(db: &C, r: &Rotation) -> Result<bool, DbErr> {
    let result = device::Entity::update_many()
        .col_expr(
            device::Column::TokenHash,
            Expr::value(r.chain.token_hash.clone()),
        )
        .col_expr(
            device::Column::PreviousTokenHash,
            Expr::value(r.chain.previous_token_hash.clone()),
        )
        .col_expr(
            device::Column::LastTokenHash,
            Expr::value(r.chain.last_token_hash.clone()),
        )
        .col_expr(device::Column::Expiry, Expr::value(r.chain.expiry))
        .col_expr(device::Column::TouchedAt, Expr::value(r.chain.touched_at))
        .col_expr(device::Column::RotatedAt, Expr::value(r.chain.rotated_at))
        .col_expr(device::Column::Version, Expr::value(r.expected_version + 1))
        .filter(device::Column::Id.eq(r.id))
        .filter(device::Column::Version.eq(r.expected_version))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Pushes each device's `touched_at` to the given time where it is earlier.
async fn touch_all(db: &DatabaseConnection, rows: &[(i64, i64)]) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    if backend == DbBackend::MySql {
        let txn = db.begin().await?;
        for (id, now_ms) in rows {
            device::Entity::update_many()
                .col_expr(device::Column::TouchedAt, Expr::value(*now_ms))
                .filter(device::Column::Id.eq(*id))
                .filter(device::Column::TouchedAt.lt(*now_ms))
                .exec(&txn)
                .await?;
        }
        return txn.commit().await;
    }
    const TYPES: [&str; 2] = ["bigint", "bigint"];
    let mut values = Vec::with_capacity(rows.len() * TYPES.len());
    let mut tuples = Vec::with_capacity(rows.len());
    for (i, (id, now_ms)) in rows.iter().enumerate() {
        tuples.push(values_row(backend, i, &TYPES));
        values.extend([Value::from(*id), Value::from(*now_ms)]);
    }
    let sql = format!(
        "WITH v (id, touched_at) AS (VALUES {}) \
         UPDATE devices SET touched_at = v.touched_at FROM v \
         WHERE devices.id = v.id AND devices.touched_at < v.touched_at",
        tuples.join(", ")
    );
    db.execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    Ok(())
}

/// Row `row` of a `VALUES` list with one placeholder per column: `(?, ?)` on SQLite,
/// `($3::bigint, $4::bigint)` on PostgreSQL, which needs the types to compare and assign them.
fn values_row(backend: DbBackend, row: usize, types: &[&str]) -> String {
    let cells: Vec<String> = types
        .iter()
        .enumerate()
        .map(|(col, ty)| match backend {
            DbBackend::Postgres => format!("${}::{ty}", row * types.len() + col + 1),
            _ => "?".to_string(),
        })
        .collect();
    format!("({})", cells.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        store::{NewDevice, NewUser, Store},
        tokens::TokenPolicy,
    };

    fn chain(n: i64) -> Chain {
        Chain {
            token_hash: format!("token-{n}"),
            previous_token_hash: None,
            last_token_hash: None,
            expiry: 4_000_000_000,
            touched_at: n,
            rotated_at: n,
        }
    }

    /// Shutdown waits on `flush`: it must not return while a queued rotation, deferred to a
    /// later round or not, is still unwritten.
    #[tokio::test]
    async fn a_flush_returns_once_every_queued_rotation_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/flush.db?mode=rwc", dir.path().display());
        let store = Store::connect(&url, 2, std::time::Duration::from_secs(10))
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let user = store
            .insert_user(
                NewUser {
                    provider: "email".into(),
                    uid: "flush@example.com".into(),
                    email: Some("flush@example.com".into()),
                    encrypted_password: String::new(),
                    name: None,
                    nickname: None,
                    image: None,
                    extra: None,
                    confirmed_at: None,
                    confirmation_token: None,
                    confirmation_sent_at: None,
                },
                chrono::Utc::now(),
            )
            .await
            .unwrap();
        let policy = TokenPolicy {
            lifespan: std::time::Duration::from_secs(3600),
            batch_window: std::time::Duration::ZERO,
            rotate: true,
            max_devices: 10,
        };
        let new = NewDevice {
            user_id: user.id,
            client: "client".into(),
            chain: chain(0),
            user_agent: None,
            ip: None,
        };
        let (device, _) = store
            .create_device(new, &policy, chrono::Utc::now())
            .await
            .unwrap();

        // Five rotations of one device queued at once: all but the first wait for later rounds.
        let mut outcomes = Vec::new();
        for version in 0..5 {
            let (reply, outcome) = oneshot::channel();
            store
                .tokens
                .queue
                .send(Write::Rotate {
                    id: device.id,
                    expected_version: version,
                    chain: chain(version + 1),
                    reply,
                })
                .unwrap();
            outcomes.push(outcome);
        }
        store.flush_writes().await;

        for mut outcome in outcomes {
            assert!(
                outcome
                    .try_recv()
                    .expect("answered before the flush")
                    .unwrap()
            );
        }
        let stored = store.devices_of(user.id).await.unwrap();
        assert_eq!(stored[0].version, 5);
        assert_eq!(stored[0].token_hash, "token-5");
    }

    #[test]
    fn values_rows_number_postgres_parameters_across_rows() {
        assert_eq!(
            values_row(DbBackend::Postgres, 1, &["bigint", "text"]),
            "($3::bigint, $4::text)"
        );
        assert_eq!(
            values_row(DbBackend::Sqlite, 5, &["bigint", "text"]),
            "(?, ?)"
        );
    }
}
