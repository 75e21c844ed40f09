//! The limits counted in Redis (`rate_limit_store`), so that several instances behind a load
//! balancer share one count per key.
//!
//! The same GCRA as in this process, as one Lua script: Redis runs a script atomically, so two
//! instances asking at once are served one after the other, and the time is Redis's own, so
//! instances with skewed clocks agree. A GCRA keeps a single number per key (the "theoretical
//! arrival time") that expires with the key; a sliding-window log would keep one entry per
//! request, and fixed windows let twice the limit through around a window's edge.
//!
//! When Redis does not answer (down, unreachable, slower than `CALL_TIMEOUT`), limits fall back
//! to this process's counts: each instance then enforces the limits on its own, so a cluster of
//! n lets at most n times a limit through, instead of either refusing every sign-in (fail-closed)
//! or dropping the limits altogether (fail-open). The outage is logged once when it starts and
//! once when it ends; meanwhile one request a second probes Redis.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use redis::{
    Client, Script,
    aio::{ConnectionManager, ConnectionManagerConfig},
};

use super::{Decision, Key, RetryAfter, Rule};

/// A limit check waits this long for Redis at most; a healthy Redis answers in well under a
/// millisecond.
const CALL_TIMEOUT: Duration = Duration::from_millis(250);
/// While Redis is down, how often one request tries it again.
const PROBE_EVERY: Duration = Duration::from_secs(1);

/// KEYS[1]: the key; ARGV[1]: emission interval and ARGV[2]: tolerance, in microseconds.
/// Returns {1, 0} when allowed, {0, microseconds to wait} when not.
const GCRA: &str = r"
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
if now < tat - tolerance then
  return {0, tat - tolerance - now}
end
local next = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', next), 'PX', math.ceil((next - now) / 1000))
return {1, 0}
";

#[derive(Clone)]
pub struct SharedStore {
    connection: ConnectionManager,
    script: Arc<Script>,
    health: Arc<Health>,
    url_for_logs: Arc<str>,
}

impl std::fmt::Debug for SharedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedStore")
            .field("url", &self.url_for_logs)
            .finish_non_exhaustive()
    }
}

impl SharedStore {
    /// Opens the client; the connection is made on first use (and remade after a failure).
    pub fn new(url: &str) -> anyhow::Result<SharedStore> {
        let client = Client::open(url)
            .map_err(|e| anyhow::anyhow!("rate_limit_store: not a Redis URL ({e})"))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CALL_TIMEOUT))
            .set_response_timeout(Some(CALL_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(PROBE_EVERY);
        let connection = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| anyhow::anyhow!("rate_limit_store: {e}"))?;
        Ok(SharedStore {
            connection,
            script: Arc::new(Script::new(GCRA)),
            health: Arc::new(Health::new()),
            url_for_logs: url_for_logs(url).into(),
        })
    }

    pub fn url_for_logs(&self) -> &str {
        &self.url_for_logs
    }

    /// The decision from Redis, or `None` when Redis cannot give one now.
    pub async fn check(&self, rule: &Rule, key: Key) -> Option<Decision> {
        if !self.health.may_try() {
            return None;
        }
        let redis_key = format!("toker:limit:{}:{}", rule.name, key.hex());
        let mut connection = self.connection.clone();
        let mut call = self.script.key(redis_key);
        call.arg(micros(rule.interval()))
            .arg(micros(rule.tolerance()));
        let answer = tokio::time::timeout(
            CALL_TIMEOUT,
            call.invoke_async::<(i64, i64)>(&mut connection),
        )
        .await;
        match answer {
            Ok(Ok((1, _))) => {
                self.health.answered(&self.url_for_logs);
                Some(Decision::Allowed)
            }
            Ok(Ok((_, wait))) => {
                self.health.answered(&self.url_for_logs);
                Some(Decision::Limited(RetryAfter(Duration::from_micros(
                    wait.max(0) as u64,
                ))))
            }
            Ok(Err(e)) => {
                self.health.failed(&self.url_for_logs, &e);
                None
            }
            Err(_) => {
                let silence = format!("no answer within {} ms", CALL_TIMEOUT.as_millis());
                self.health.failed(&self.url_for_logs, &silence);
                None
            }
        }
    }

    /// One `PING`, for the startup report.
    pub async fn ping(&self) -> Result<(), String> {
        let mut connection = self.connection.clone();
        let cmd = redis::cmd("PING");
        match tokio::time::timeout(CALL_TIMEOUT * 4, cmd.query_async::<String>(&mut connection))
            .await
        {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("no answer within 1 s".into()),
        }
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

/// The URL with any password replaced.
fn url_for_logs(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("****"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

/// Whether Redis is answering, so that an outage is logged once and probed once a second.
struct Health {
    down: AtomicBool,
    /// While down: when the next probe may go (ms since `epoch`).
    next_probe_ms: AtomicU64,
    epoch: Instant,
}

impl Health {
    fn new() -> Health {
        Health {
            down: AtomicBool::new(false),
            next_probe_ms: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Up: always. Down: one caller per `PROBE_EVERY`.
    fn may_try(&self) -> bool {
        if !self.down.load(Ordering::Acquire) {
            return true;
        }
        let now = self.now_ms();
        let next = self.next_probe_ms.load(Ordering::Acquire);
        now >= next
            && self
                .next_probe_ms
                .compare_exchange(
                    next,
                    now + PROBE_EVERY.as_millis() as u64,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_ok()
    }

    fn failed(&self, url: &str, error: &dyn std::fmt::Display) {
        self.next_probe_ms.store(
            self.now_ms() + PROBE_EVERY.as_millis() as u64,
            Ordering::Release,
        );
        if !self.down.swap(true, Ordering::AcqRel) {
            tracing::error!(
                store = url,
                error = %error,
                "rate_limit_store does not answer: limits are counted by each instance on its \
                 own until it does"
            );
        }
    }

    fn answered(&self, url: &str) {
        if self.down.swap(false, Ordering::AcqRel) {
            tracing::info!(
                store = url,
                "rate_limit_store answers again: limits are shared again"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_the_log() {
        assert_eq!(
            url_for_logs("redis://:s3cret@cache:6379/2"),
            "redis://:****@cache:6379/2"
        );
        assert_eq!(url_for_logs("redis://cache:6379"), "redis://cache:6379");
    }

    #[test]
    fn an_outage_is_probed_once_per_interval() {
        let health = Health::new();
        assert!(health.may_try());
        health.failed("redis://x", &"refused");
        // Within the interval nobody tries; afterwards exactly one caller does.
        assert!(!health.may_try());
        health
            .next_probe_ms
            .store(health.now_ms().saturating_sub(1), Ordering::Release);
        assert!(health.may_try());
        assert!(!health.may_try());
        health.answered("redis://x");
        assert!(health.may_try());
        assert!(health.may_try());
    }
}
