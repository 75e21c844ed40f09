//! `toker-bench seed`: bulk rows straight into a toker database (schema of migration/src), so
//! the load can run against a large `users` / `devices` table. Multi-row INSERTs of literal
//! values, a transaction per batch; ids continue after the largest existing one.

use std::time::Instant;

use anyhow::Context;
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use clap::Args;
use rand::RngExt;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection,
    TransactionTrait,
};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Args)]
pub struct SeedArgs {
    /// The database the server uses (its schema must be migrated, e.g. by starting toker once).
    #[arg(long, env = "TOKER_DATABASE_URL")]
    pub database_url: String,
    /// Users to add.
    #[arg(long, default_value_t = 1_000_000)]
    pub users: u64,
    /// Devices (token rows) per user.
    #[arg(long, default_value_t = 2)]
    pub devices_per_user: u64,
    /// Rows per INSERT statement (one transaction each).
    #[arg(long, default_value_t = 5_000)]
    pub batch: u64,
    /// E-mail of seeded user i (`{i}`); they can sign in with --password.
    #[arg(long, default_value = "seed-{i}@example.com")]
    pub email: String,
    /// Password of every seeded user (hashed once with bcrypt cost 4).
    #[arg(long, default_value = "bench-password-1")]
    pub password: String,
}

/// SHA-256 hex, as toker stores tokens (src/tokens.rs `digest`).
pub fn digest_hex(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `libpq`'s default user for a PostgreSQL URL without one (as toker does).
fn with_default_pg_user(url: &str) -> String {
    let Ok(mut parsed) = reqwest::Url::parse(url) else {
        return url.to_string();
    };
    if !matches!(parsed.scheme(), "postgres" | "postgresql") || !parsed.username().is_empty() {
        return url.to_string();
    }
    let user = ["PGUSER", "USER", "LOGNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "postgres".to_string());
    let _ = parsed.set_username(&user);
    parsed.to_string()
}

async fn scalar_i64(db: &DatabaseConnection, sql: &str) -> anyhow::Result<i64> {
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            sql,
        ))
        .await?
        .context("no row")?;
    Ok(row.try_get_by_index::<Option<i64>>(0)?.unwrap_or(0))
}

/// The rows of one users batch: `(id, provider, uid, email, encrypted_password, confirmed_at,
/// created_at, updated_at)`.
fn users_sql(first_id: i64, first_i: u64, n: u64, email: &str, hash: &str, now: &str) -> String {
    let mut sql = String::with_capacity(n as usize * 200);
    sql.push_str(
        "INSERT INTO users (id, provider, uid, email, encrypted_password, confirmed_at, created_at, updated_at) VALUES ",
    );
    for k in 0..n {
        let e = email.replace("{i}", &(first_i + k).to_string());
        if k > 0 {
            sql.push(',');
        }
        sql.push_str(&format!(
            "({},'email','{e}','{e}','{hash}','{now}','{now}','{now}')",
            first_id + k as i64
        ));
    }
    sql
}

/// The rows of one devices batch, `per_user` for each user id in `users`.
fn devices_sql(
    users: std::ops::Range<i64>,
    per_user: u64,
    salt: &str,
    expiry: i64,
    now_ms: i64,
    now: &str,
) -> String {
    let mut sql =
        String::with_capacity((users.end - users.start) as usize * per_user as usize * 260);
    sql.push_str(
        "INSERT INTO devices (user_id, client, token_hash, expiry, touched_at, version, user_agent, ip, created_at) VALUES ",
    );
    let mut first = true;
    for user_id in users {
        for j in 0..per_user {
            let seed = format!("{salt}-{user_id}-{j}");
            let client = URL_SAFE_NO_PAD.encode(&Sha256::digest(seed.as_bytes())[..16]);
            let token_hash = digest_hex(&format!("token-{seed}"));
            if !first {
                sql.push(',');
            }
            first = false;
            sql.push_str(&format!(
                "({user_id},'{client}','{token_hash}',{expiry},{now_ms},0,'toker-bench seed','127.0.0.1','{now}')"
            ));
        }
    }
    sql
}

pub async fn run(args: SeedArgs) -> anyhow::Result<()> {
    let url = with_default_pg_user(&args.database_url);
    let mut opts = ConnectOptions::new(url);
    opts.max_connections(1).sqlx_logging(false);
    let db = Database::connect(opts).await.context("connecting")?;
    let backend = db.get_database_backend();
    // Bulk load: only this connection skips waiting for the disk at each commit.
    match backend {
        DatabaseBackend::Sqlite => {
            db.execute_unprepared("PRAGMA synchronous = OFF").await?;
        }
        DatabaseBackend::Postgres => {
            db.execute_unprepared("SET synchronous_commit = off")
                .await?;
        }
        _ => {}
    }
    let base_id = scalar_i64(&db, "SELECT MAX(id) FROM users").await?;
    let first_i = scalar_i64(&db, "SELECT COUNT(*) FROM users").await? as u64;
    let hash = bcrypt::hash(&args.password, 4)?;
    let now = chrono::Utc::now();
    let now_s = now.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string();
    let now_ms = now.timestamp_millis();
    let expiry = now.timestamp() + 14 * 24 * 3600;
    let salt = format!("{:016x}", rand::rng().random::<u64>());
    let batch = args.batch.max(1);
    let started = Instant::now();

    let mut done = 0;
    while done < args.users {
        let n = batch.min(args.users - done);
        let tx = db.begin().await?;
        tx.execute_unprepared(&users_sql(
            base_id + 1 + done as i64,
            first_i + done,
            n,
            &args.email,
            &hash,
            &now_s,
        ))
        .await?;
        tx.commit().await?;
        done += n;
    }
    let users_took = started.elapsed();
    if backend == DatabaseBackend::Postgres {
        db.execute_unprepared(
            "SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT MAX(id) FROM users))",
        )
        .await?;
    }

    let per_user = args.devices_per_user;
    let users_per_batch = (batch / per_user.max(1)).max(1) as i64;
    let last_id = base_id + args.users as i64;
    let mut from = base_id + 1;
    while per_user > 0 && from <= last_id {
        let to = (from + users_per_batch).min(last_id + 1);
        let tx = db.begin().await?;
        tx.execute_unprepared(&devices_sql(
            from..to,
            per_user,
            &salt,
            expiry,
            now_ms,
            &now_s,
        ))
        .await?;
        tx.commit().await?;
        from = to;
    }
    let devices_took = started.elapsed() - users_took;
    match backend {
        // What autovacuum would do shortly anyway; without it the first minutes' plans are
        // made on the empty table's statistics.
        DatabaseBackend::Postgres => {
            db.execute_unprepared("ANALYZE users; ANALYZE devices")
                .await?;
        }
        // Leave no seed pages in the WAL for the server's first writes to checkpoint.
        DatabaseBackend::Sqlite => {
            db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
                .await?;
        }
        _ => {}
    }
    println!(
        "seeded {} users in {:.1} s and {} devices in {:.1} s ({:.1} s in all)",
        args.users,
        users_took.as_secs_f64(),
        args.users * per_user,
        devices_took.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_hashes_are_toker_digests() {
        // The same vector as src/tokens.rs.
        assert_eq!(
            digest_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn batches_are_one_multi_row_insert() {
        let sql = users_sql(10, 0, 2, "s-{i}@x", "$2b$04$h", "T");
        assert!(sql.ends_with("(11,'email','s-1@x','s-1@x','$2b$04$h','T','T','T')"));
        let sql = devices_sql(1..3, 2, "salt", 99, 5, "T");
        assert_eq!(sql.matches("),(").count(), 3);
        assert!(sql.contains("(2,'"));
    }
}
