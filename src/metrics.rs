//! What an operator scrapes: counters, gauges and latency histograms in Prometheus's text format
//! (OpenMetrics), served on their own listener (`metrics_bind`), never on the public one.
//!
//! One registry per application, not a process-wide one, so that two applications in one
//! process (the tests) count apart. With `metrics_bind` unset every recording is a no-op.
//! Every label takes values from a fixed set (route templates, methods, status codes, reasons),
//! so no request can create a new series.

use std::{fmt::Write as _, sync::Arc, time::Duration};

use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};

/// The content type of `render`'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: &'static str,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabel {
    method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

type Latency = Family<RouteLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.5 ms to about 16 s: a cached token check at the low end, a bcrypt queue at the top.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

struct Inner {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Latency,
    rotations: Counter,
    batch_responses: Counter,
    sign_ins: Family<MethodLabel, Counter>,
    sign_in_failures: Family<ReasonLabel, Counter>,
    locks: Counter,
    mails: Family<OutcomeLabel, Counter>,
    hash_waiting: Gauge,
    hash_running: Gauge,
    pool: Family<StateLabel, Gauge>,
    pool_max: Gauge,
}

/// The application's metrics; cheap to clone. `Metrics::off()` records nothing.
#[derive(Clone, Default)]
pub struct Metrics(Option<Arc<Inner>>);

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Metrics(on)"
        } else {
            "Metrics(off)"
        })
    }
}

/// The pool and hashing figures read at each scrape.
#[derive(Debug, Clone, Copy, Default)]
pub struct Gauges {
    pub pool_open: u32,
    pub pool_idle: u32,
    pub pool_max: u32,
    pub hash_waiting: usize,
    pub hash_running: usize,
}

impl Metrics {
    /// Records nothing, renders nothing.
    pub fn off() -> Metrics {
        Metrics(None)
    }

    /// A registry with every toker metric registered.
    pub fn new() -> Metrics {
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Latency::new_with_constructor(latency_histogram);
        let (rotations, batch_responses, locks) =
            (Counter::default(), Counter::default(), Counter::default());
        let sign_ins = Family::<MethodLabel, Counter>::default();
        let sign_in_failures = Family::<ReasonLabel, Counter>::default();
        let mails = Family::<OutcomeLabel, Counter>::default();
        let (hash_waiting, hash_running, pool_max) =
            (Gauge::default(), Gauge::default(), Gauge::default());
        let pool = Family::<StateLabel, Gauge>::default();

        let mut registry = Registry::with_prefix("toker");
        let r = &mut registry;
        r.register(
            "http_requests",
            "HTTP requests answered, by route template, method and status",
            requests.clone(),
        );
        r.register(
            "http_request_duration_seconds",
            "Time from a request's headers to its answer, by route template and method",
            latency.clone(),
        );
        r.register(
            "token_rotations",
            "Tokens rotated (a new access-token sent)",
            rotations.clone(),
        );
        r.register(
            "batch_responses",
            "Authenticated answers inside the batch window (no new token)",
            batch_responses.clone(),
        );
        r.register("sign_ins", "Devices signed in, by method", sign_ins.clone());
        r.register(
            "sign_in_failures",
            "Password sign-ins refused, by reason",
            sign_in_failures.clone(),
        );
        r.register(
            "account_locks",
            "Accounts locked after too many failed attempts",
            locks.clone(),
        );
        r.register(
            "mails",
            "Mails handed to the transport, by outcome (sent, failed)",
            mails.clone(),
        );
        r.register(
            "password_hash_waiting",
            "bcrypt runs waiting for a worker",
            hash_waiting.clone(),
        );
        r.register(
            "password_hash_running",
            "bcrypt runs under way",
            hash_running.clone(),
        );
        r.register(
            "database_pool_connections",
            "Database connections of the pool, by state (in_use, idle)",
            pool.clone(),
        );
        r.register(
            "database_pool_max_connections",
            "Largest size of the database pool",
            pool_max.clone(),
        );
        Metrics(Some(Arc::new(Inner {
            registry,
            requests,
            latency,
            rotations,
            batch_responses,
            sign_ins,
            sign_in_failures,
            locks,
            mails,
            hash_waiting,
            hash_running,
            pool,
            pool_max,
        })))
    }

    pub fn is_on(&self) -> bool {
        self.0.is_some()
    }

    /// One answered request. `route` must come from a fixed set (a route template).
    pub fn request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        let Some(m) = &self.0 else { return };
        let method = known_method(method);
        m.requests
            .get_or_create(&RequestLabels {
                route: route.to_string(),
                method,
                status: status.to_string(),
            })
            .inc();
        m.latency
            .get_or_create(&RouteLabels {
                route: route.to_string(),
                method,
            })
            .observe(elapsed.as_secs_f64());
    }

    pub fn token_rotated(&self) {
        if let Some(m) = &self.0 {
            m.rotations.inc();
        }
    }

    pub fn batch_response(&self) {
        if let Some(m) = &self.0 {
            m.batch_responses.inc();
        }
    }

    /// A device signed in; `method` is one of the security log's sign-in methods.
    pub fn signed_in(&self, method: &'static str) {
        if let Some(m) = &self.0 {
            m.sign_ins.get_or_create(&MethodLabel { method }).inc();
        }
    }

    /// A sign-in refused; `reason` is one of the security log's reasons.
    pub fn sign_in_failed(&self, reason: &'static str) {
        if let Some(m) = &self.0 {
            m.sign_in_failures
                .get_or_create(&ReasonLabel { reason })
                .inc();
        }
    }

    pub fn account_locked(&self) {
        if let Some(m) = &self.0 {
            m.locks.inc();
        }
    }

    /// A mail handed to the transport: sent, or failed.
    pub fn mail(&self, sent: bool) {
        if let Some(m) = &self.0 {
            let outcome = if sent { "sent" } else { "failed" };
            m.mails.get_or_create(&OutcomeLabel { outcome }).inc();
        }
    }

    /// The text a scrape gets, with the gauges set to `gauges` first. Empty when off.
    pub fn render(&self, gauges: Gauges) -> String {
        let Some(m) = &self.0 else {
            return String::new();
        };
        let in_use = gauges.pool_open.saturating_sub(gauges.pool_idle);
        m.pool
            .get_or_create(&StateLabel { state: "in_use" })
            .set(in_use.into());
        m.pool
            .get_or_create(&StateLabel { state: "idle" })
            .set(gauges.pool_idle.into());
        m.pool_max.set(gauges.pool_max.into());
        m.hash_waiting
            .set(i64::try_from(gauges.hash_waiting).unwrap_or(i64::MAX));
        m.hash_running
            .set(i64::try_from(gauges.hash_running).unwrap_or(i64::MAX));
        let mut text = String::new();
        if encode(&mut text, &m.registry).is_err() {
            text.clear();
            let _ = writeln!(text, "# EOF");
        }
        text
    }
}

/// The method as a label: one of the standard ones, else `OTHER` (a client may send any token
/// as a method).
fn known_method(method: &str) -> &'static str {
    const KNOWN: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE",
    ];
    KNOWN.into_iter().find(|k| *k == method).unwrap_or("OTHER")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_records_and_renders_nothing() {
        let m = Metrics::off();
        m.request("/ping", "GET", 200, Duration::from_millis(1));
        m.token_rotated();
        assert_eq!(m.render(Gauges::default()), "");
    }

    #[test]
    fn counters_gauges_and_histograms_are_rendered() {
        let m = Metrics::new();
        m.request("/auth/sign_in", "POST", 200, Duration::from_millis(3));
        m.request("/auth/sign_in", "BREW", 405, Duration::from_millis(1));
        m.token_rotated();
        m.sign_in_failed("wrong_password");
        m.mail(false);
        let text = m.render(Gauges {
            pool_open: 3,
            pool_idle: 1,
            pool_max: 10,
            hash_waiting: 4,
            hash_running: 1,
        });
        for line in [
            r#"toker_http_requests_total{route="/auth/sign_in",method="POST",status="200"} 1"#,
            r#"toker_http_requests_total{route="/auth/sign_in",method="OTHER",status="405"} 1"#,
            r#"toker_http_request_duration_seconds_count{route="/auth/sign_in",method="POST"} 1"#,
            "toker_token_rotations_total 1",
            r#"toker_sign_in_failures_total{reason="wrong_password"} 1"#,
            r#"toker_mails_total{outcome="failed"} 1"#,
            r#"toker_database_pool_connections{state="in_use"} 2"#,
            "toker_database_pool_max_connections 10",
            "toker_password_hash_waiting 4",
        ] {
            assert!(text.lines().any(|l| l == line), "no `{line}` in:\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }
}
