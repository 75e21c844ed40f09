//! Counting while the load runs ([`Tally`]), and what is printed afterwards ([`Report`]):
//! throughput, latency percentiles, errors by status and the correctness verdict.

use std::{collections::BTreeMap, fmt::Write as _, time::Duration};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Latencies are recorded in microseconds, up to a minute.
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

/// What one task saw of one kind of request (authenticated loop or sign-in loop).
#[derive(Debug, Clone)]
pub struct Tally {
    pub latency: Histogram<u64>,
    /// Responses of any status.
    pub responses: u64,
    /// 2xx responses.
    pub ok: u64,
    /// Responses that carried a new token.
    pub rotations: u64,
    /// 2xx responses that carried no token or a blank one (batch responses).
    pub kept: u64,
    /// 2xx responses that carried the token the device sent (rotation off).
    pub echoed: u64,
    /// Non-2xx responses by status, and failures without a response under "transport".
    pub errors: BTreeMap<String, u64>,
    /// 401s to requests made with credentials the device had been given.
    pub unauthorized: u64,
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            latency: histogram(),
            responses: 0,
            ok: 0,
            rotations: 0,
            kept: 0,
            echoed: 0,
            errors: BTreeMap::new(),
            unauthorized: 0,
        }
    }
}

impl Tally {
    pub fn record_latency(&mut self, took: Duration) {
        let us = (took.as_micros() as u64).clamp(1, 60_000_000);
        self.latency.saturating_record(us);
    }

    /// Counts a response's status; non-2xx go to `errors`.
    pub fn record_status(&mut self, status: u16) {
        self.responses += 1;
        if (200..300).contains(&status) {
            self.ok += 1;
        } else {
            *self.errors.entry(status.to_string()).or_default() += 1;
        }
    }

    pub fn record_transport_error(&mut self, what: &str) {
        *self.errors.entry(what.to_string()).or_default() += 1;
    }

    pub fn merge(&mut self, other: &Tally) {
        self.latency
            .add(&other.latency)
            .expect("histograms of equal bounds");
        self.responses += other.responses;
        self.ok += other.ok;
        self.rotations += other.rotations;
        self.kept += other.kept;
        self.echoed += other.echoed;
        for (k, v) in &other.errors {
            *self.errors.entry(k.clone()).or_default() += v;
        }
        self.unauthorized += other.unauthorized;
    }

    pub fn latency_ms(&self) -> Latency {
        let q = |q: f64| self.latency.value_at_quantile(q) as f64 / 1000.0;
        Latency {
            p50: q(0.50),
            p95: q(0.95),
            p99: q(0.99),
            max: self.latency.max() as f64 / 1000.0,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SignIns {
    pub loops: usize,
    pub count: u64,
    pub per_s: f64,
    pub latency_ms: Latency,
    pub errors: BTreeMap<String, u64>,
}

/// The server's resident memory (`VmRSS`), KiB.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Rss {
    pub pid: u32,
    /// Before this run signed any device in.
    pub before_kib: u64,
    /// Once every device was signed in, before the load.
    pub ready_kib: u64,
    /// The highest sample during the load (every 100 ms).
    pub peak_kib: u64,
}

/// The server's CPU time (user + system) during the load, from `/proc/<pid>/stat`: what one
/// request costs the server, whatever else shares the machine.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerCpu {
    pub seconds: f64,
    pub us_per_request: f64,
}

/// Everything a run found; printed as text, optionally written as JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub label: String,
    pub target: String,
    pub devices: usize,
    pub devices_ready: usize,
    pub mode: String,
    pub elapsed_s: f64,
    pub requests: u64,
    pub requests_per_s: f64,
    pub rotations: u64,
    pub rotations_per_s: f64,
    pub kept: u64,
    pub echoed: u64,
    pub latency_ms: Latency,
    pub errors: BTreeMap<String, u64>,
    pub unauthorized: u64,
    /// Devices whose session stopped working (a 401 during the run or in the final check).
    pub lost_sessions: u64,
    /// Devices that could not sign up or in at the start.
    pub setup_failures: u64,
    pub sign_ins: Option<SignIns>,
    pub server_rss: Option<Rss>,
    pub server_cpu: Option<ServerCpu>,
    /// The share of the machine's CPU time a hypervisor gave to other guests during the load
    /// (`steal` in `/proc/stat`): on a shared virtual machine, the weather the figures met.
    #[serde(default)]
    pub stolen_share: Option<f64>,
}

impl Report {
    /// Builds the report of the authenticated loop from its merged tally.
    pub fn from_tally(tally: &Tally, elapsed: Duration) -> Report {
        let secs = elapsed.as_secs_f64().max(1e-9);
        Report {
            elapsed_s: elapsed.as_secs_f64(),
            requests: tally.responses,
            requests_per_s: tally.responses as f64 / secs,
            rotations: tally.rotations,
            rotations_per_s: tally.rotations as f64 / secs,
            kept: tally.kept,
            echoed: tally.echoed,
            latency_ms: tally.latency_ms(),
            errors: tally.errors.clone(),
            unauthorized: tally.unauthorized,
            ..Report::default()
        }
    }

    /// Contract violations: 401s to valid credentials, lost sessions, failed set-ups.
    pub fn correctness_errors(&self) -> u64 {
        self.unauthorized + self.lost_sessions + self.setup_failures
    }

    /// Any error response or transport failure, of the loop or the sign-in loops.
    pub fn any_errors(&self) -> u64 {
        let sign_in = self
            .sign_ins
            .as_ref()
            .map(|s| s.errors.values().sum::<u64>())
            .unwrap_or(0);
        self.errors.values().sum::<u64>() + sign_in
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "== {} ==", self.label);
        let _ = writeln!(
            out,
            "target       {} — {} devices ({} ready), {}, {:.1} s",
            self.target, self.devices, self.devices_ready, self.mode, self.elapsed_s
        );
        if self.devices > 0 {
            let _ = writeln!(
                out,
                "requests     {:>9}  {:>9.1}/s",
                self.requests, self.requests_per_s
            );
            let _ = writeln!(
                out,
                "rotations    {:>9}  {:>9.1}/s   (batch/kept {}, echoed {})",
                self.rotations, self.rotations_per_s, self.kept, self.echoed
            );
            let _ = writeln!(out, "latency      {}", latency_line(&self.latency_ms));
            let _ = writeln!(out, "errors       {}", errors_line(&self.errors));
        }
        if let Some(s) = &self.sign_ins {
            let _ = writeln!(
                out,
                "sign-ins     {:>9}  {:>9.1}/s   ({} loops)",
                s.count, s.per_s, s.loops
            );
            let _ = writeln!(out, "  latency    {}", latency_line(&s.latency_ms));
            let _ = writeln!(out, "  errors     {}", errors_line(&s.errors));
        }
        let verdict = if self.correctness_errors() == 0 {
            "OK"
        } else {
            "FAILED"
        };
        let _ = writeln!(
            out,
            "correctness  {verdict}: {} × 401, {} sessions lost, {} devices failed to sign in",
            self.unauthorized, self.lost_sessions, self.setup_failures
        );
        if let Some(r) = &self.server_rss {
            let _ = writeln!(
                out,
                "server RSS   before {:.1} MiB, devices signed in {:.1} MiB, peak under load {:.1} MiB (pid {})",
                r.before_kib as f64 / 1024.0,
                r.ready_kib as f64 / 1024.0,
                r.peak_kib as f64 / 1024.0,
                r.pid
            );
        }
        if let Some(c) = &self.server_cpu {
            let _ = writeln!(
                out,
                "server CPU   {:.1} µs per request ({:.2} s during the load)",
                c.us_per_request, c.seconds
            );
        }
        if let Some(stolen) = self.stolen_share {
            let _ = writeln!(
                out,
                "machine      {:.1} % of the CPU time went to other guests (steal)",
                stolen * 100.0
            );
        }
        out
    }
}

fn latency_line(l: &Latency) -> String {
    format!(
        "p50 {:.2} ms   p95 {:.2} ms   p99 {:.2} ms   max {:.2} ms",
        l.p50, l.p95, l.p99, l.max
    )
}

fn errors_line(errors: &BTreeMap<String, u64>) -> String {
    if errors.is_empty() {
        return "none".into();
    }
    errors
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads a number out of a JSON report by a dotted path (`latency_ms.p99`, `sign_ins.per_s`).
pub fn metric(value: &serde_json::Value, path: &str) -> Option<f64> {
    path.split('.')
        .try_fold(value, |v, key| v.get(key))
        .and_then(|v| v.as_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_tallies_add_up_and_keep_errors_by_status() {
        let mut a = Tally::default();
        a.record_status(200);
        a.rotations += 1;
        a.record_latency(Duration::from_millis(2));
        let mut b = Tally::default();
        b.record_status(200);
        b.record_status(500);
        b.record_status(401);
        b.unauthorized += 1;
        b.record_transport_error("transport");
        b.record_latency(Duration::from_millis(40));
        a.merge(&b);
        assert_eq!(a.responses, 4);
        assert_eq!(a.rotations, 1);
        assert_eq!(a.unauthorized, 1);
        assert_eq!(
            a.errors,
            BTreeMap::from([
                ("401".to_string(), 1),
                ("500".to_string(), 1),
                ("transport".to_string(), 1)
            ])
        );
        let l = a.latency_ms();
        assert!((1.9..2.1).contains(&l.p50), "{l:?}");
        assert!((39.0..41.0).contains(&l.max), "{l:?}");
    }

    #[test]
    fn a_clean_run_is_correct_and_a_401_or_lost_session_is_not() {
        let mut t = Tally::default();
        for _ in 0..10 {
            t.record_status(200);
            t.rotations += 1;
        }
        let mut r = Report::from_tally(&t, Duration::from_secs(2));
        assert_eq!(r.requests_per_s, 5.0);
        assert_eq!(r.rotations_per_s, 5.0);
        assert_eq!(r.correctness_errors(), 0);
        assert!(r.render().contains("correctness  OK"));

        r.lost_sessions = 1;
        assert_eq!(r.correctness_errors(), 1);
        assert!(r.render().contains("correctness  FAILED"));

        // A 500 is an error but not a contract violation.
        let mut t = Tally::default();
        t.record_status(500);
        let r = Report::from_tally(&t, Duration::from_secs(1));
        assert_eq!(r.correctness_errors(), 0);
        assert_eq!(r.any_errors(), 1);
    }

    #[test]
    fn metrics_are_read_by_dotted_path_from_the_json_report() {
        let r = Report {
            latency_ms: Latency {
                p99: 7.5,
                ..Latency::default()
            },
            sign_ins: Some(SignIns {
                per_s: 12.0,
                ..SignIns::default()
            }),
            ..Report::default()
        };
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(metric(&v, "latency_ms.p99"), Some(7.5));
        assert_eq!(metric(&v, "sign_ins.per_s"), Some(12.0));
        assert_eq!(metric(&v, "nope.p99"), None);
    }
}
