//! The load: N devices sign up (or in) once, then each loops authenticated requests on its own
//! keep-alive connection, following the token contract; optional sign-in loops run beside them.

use std::{
    net::IpAddr,
    path::PathBuf,
    sync::{
        Arc, OnceLock,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use rand::RngExt;
use reqwest::{Client, Method, StatusCode, Url, header::CONTENT_TYPE};
use tokio::sync::Semaphore;

use crate::{
    report::{Report, Rss, ServerCpu, SignIns, Tally},
    session::{Absorbed, Session},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Accounts {
    /// `POST <mount>` with e-mail and password; sign in instead when the e-mail is taken.
    SignUp,
    /// `POST <mount>/sign_in` only (the accounts must exist).
    SignIn,
}

/// Options of `toker-bench load`.
#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// The server's base URL.
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    pub base_url: String,
    /// Where the devise_token_auth routes are mounted.
    #[arg(long, default_value = "/auth")]
    pub mount: String,
    /// The path each device requests in its loop [default: <mount>/validate_token].
    #[arg(long)]
    pub path: Option<String>,
    /// The HTTP method of the loop's requests.
    #[arg(long, default_value = "GET")]
    pub method: String,
    /// Simulated devices, each with its own account, token and connection.
    #[arg(long, default_value_t = 64)]
    pub devices: usize,
    /// Stop after this many seconds of load [default: 10, when --requests is not given].
    #[arg(long)]
    pub duration: Option<f64>,
    /// Stop after this many requests in total.
    #[arg(long)]
    pub requests: Option<u64>,
    /// Seconds between two requests of one device (default: back to back).
    #[arg(long)]
    pub pace: Option<f64>,
    /// Add the `unbatch` query parameter, so every request rotates the token.
    #[arg(long)]
    pub unbatch: bool,
    /// Send no credentials and sign nobody in (a bare endpoint such as `--path /ping`).
    #[arg(long)]
    pub anonymous: bool,
    /// How devices get their first token.
    #[arg(long, value_enum, default_value_t = Accounts::SignUp)]
    pub accounts: Accounts,
    /// E-mail of device i; `{i}` is the device number, `{run}` a random id of this run.
    #[arg(long, default_value = "bench-{run}-{i}@example.com")]
    pub email: String,
    /// Password of every account.
    #[arg(long, default_value = "bench-password-1")]
    pub password: String,
    /// Tasks that sign in back to back beside the devices (each signs up its own account once).
    #[arg(long, default_value_t = 0)]
    pub sign_in_loops: usize,
    /// Devices signing up or in at the same time during set-up.
    #[arg(long, default_value_t = 16)]
    pub setup_concurrency: usize,
    /// Seconds before one request gives up.
    #[arg(long, default_value_t = 30.0)]
    pub timeout: f64,
    /// Sample this process's VmRSS (the server's) before and during the load.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// A title for the report.
    #[arg(long, default_value = "toker-bench")]
    pub label: String,
    /// Allow a target that is not a loopback address.
    #[arg(long)]
    pub allow_remote: bool,
    /// Exit non-zero on any error response, not only on correctness errors.
    #[arg(long)]
    pub fail_on_errors: bool,
}

/// The loopback rule: `localhost`, 127.0.0.0/8 and ::1 only, unless `--allow-remote`.
pub fn check_target(base: &Url, allow_remote: bool) -> anyhow::Result<()> {
    let host = base.host_str().context("the base URL has no host")?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !loopback && !allow_remote {
        bail!("{host} is not a loopback address; pass --allow-remote to load a remote server");
    }
    Ok(())
}

struct Ctx {
    args: LoadArgs,
    base: Url,
    url: Url,
    method: Method,
    run: String,
    /// Set when the load starts (after set-up).
    deadline: OnceLock<Option<Instant>>,
    budget: Option<AtomicU64>,
    stop: AtomicBool,
}

impl Ctx {
    fn deadline(&self) -> Option<Instant> {
        self.deadline.get().copied().flatten()
    }

    fn past_deadline(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || self.deadline().is_some_and(|d| Instant::now() >= d)
    }

    fn email(&self, i: &str) -> String {
        self.args
            .email
            .replace("{run}", &self.run)
            .replace("{i}", i)
    }

    fn mount_url(&self, rest: &str) -> Url {
        let mount = self.args.mount.trim_end_matches('/');
        self.base
            .join(&format!("{mount}{rest}"))
            .unwrap_or_else(|_| self.base.clone())
    }

    /// Takes one request from the budget; false once time or budget is up.
    fn take(&self) -> bool {
        if self.past_deadline() {
            return false;
        }
        match &self.budget {
            None => true,
            Some(b) => b
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok(),
        }
    }

    fn client(&self) -> anyhow::Result<Client> {
        Ok(Client::builder()
            .pool_max_idle_per_host(1)
            .tcp_nodelay(true)
            .timeout(Duration::from_secs_f64(self.args.timeout))
            .build()?)
    }
}

fn transport_kind(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else {
        "transport"
    }
}

/// Signs up or in; the response's headers start the session.
async fn obtain_session(
    ctx: &Ctx,
    client: &Client,
    email: &str,
    mode: Accounts,
) -> anyhow::Result<Session> {
    let password = &ctx.args.password;
    if mode == Accounts::SignUp {
        let body = serde_json::json!({
            "email": email, "password": password, "password_confirmation": password,
        });
        let resp = client
            .post(ctx.mount_url(""))
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await?;
        let status = resp.status();
        let session = Session::from_headers(resp.headers());
        let _ = resp.bytes().await;
        match (status, session) {
            (s, Some(session)) if s.is_success() => return Ok(session),
            // Taken, or awaiting confirmation: try signing in.
            (s, _) if s.is_success() || s == StatusCode::UNPROCESSABLE_ENTITY => {}
            (s, _) => bail!("sign-up of {email} answered {s}"),
        }
    }
    let (status, session) = sign_in(ctx, client, email).await?;
    match session {
        Some(s) if status.is_success() => Ok(s),
        _ => bail!("sign-in of {email} answered {status}"),
    }
}

async fn sign_in(
    ctx: &Ctx,
    client: &Client,
    email: &str,
) -> reqwest::Result<(StatusCode, Option<Session>)> {
    let body = serde_json::json!({"email": email, "password": ctx.args.password});
    let resp = client
        .post(ctx.mount_url("/sign_in"))
        .header(CONTENT_TYPE, "application/json")
        .body(body.to_string())
        .send()
        .await?;
    let status = resp.status();
    let session = Session::from_headers(resp.headers());
    resp.bytes().await?;
    Ok((status, session))
}

struct Device {
    email: String,
    client: Client,
    session: Option<Session>,
    lost: bool,
}

/// One request of a device's loop. Returns the status, or None on a transport failure.
async fn request(ctx: &Ctx, dev: &mut Device, tally: &mut Tally) -> Option<StatusCode> {
    let mut req = dev.client.request(ctx.method.clone(), ctx.url.clone());
    if let Some(s) = &dev.session {
        req = req.headers(s.headers());
    }
    let started = Instant::now();
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) => {
            tally.record_transport_error(transport_kind(&e));
            return None;
        }
    };
    let status = resp.status();
    let absorbed = dev.session.as_mut().map(|s| s.absorb(resp.headers()));
    if let Err(e) = resp.bytes().await {
        tally.record_transport_error(transport_kind(&e));
        return None;
    }
    tally.record_latency(started.elapsed());
    tally.record_status(status.as_u16());
    if status.is_success() {
        match absorbed {
            Some(Absorbed::Rotated) => tally.rotations += 1,
            Some(Absorbed::Kept) => tally.kept += 1,
            Some(Absorbed::Echoed) => tally.echoed += 1,
            None => {}
        }
    }
    Some(status)
}

async fn device_loop(ctx: Arc<Ctx>, mut dev: Device, start: Instant) -> (Tally, Device, Instant) {
    let mut tally = Tally::default();
    let pace = ctx
        .args
        .pace
        .filter(|p| *p > 0.0)
        .map(Duration::from_secs_f64);
    let mut next = start;
    if let Some(p) = pace {
        // Spread the devices over one period.
        next += p.mul_f64(rand::rng().random_range(0.0..1.0));
    }
    while ctx.take() {
        if let Some(p) = pace {
            tokio::time::sleep_until(next.into()).await;
            next = (next + p).max(Instant::now());
        }
        let status = request(&ctx, &mut dev, &mut tally).await;
        if status == Some(StatusCode::UNAUTHORIZED) && dev.session.is_some() {
            // The device's token was refused: its session is lost. Sign in again to go on.
            tally.unauthorized += 1;
            dev.lost = true;
            match sign_in(&ctx, &dev.client, &dev.email).await {
                Ok((s, Some(session))) if s.is_success() => dev.session = Some(session),
                _ => break,
            }
        }
    }
    (tally, dev, Instant::now())
}

/// After the load: each device's last token must still be accepted.
async fn final_check(ctx: &Ctx, dev: &mut Device) {
    if dev.session.is_none() || dev.lost {
        return;
    }
    let mut ignored = Tally::default();
    if request(ctx, dev, &mut ignored).await == Some(StatusCode::UNAUTHORIZED) {
        dev.lost = true;
    }
}

async fn sign_in_loop(ctx: Arc<Ctx>, client: Client, email: String) -> Tally {
    let mut tally = Tally::default();
    while !ctx.past_deadline() {
        let started = Instant::now();
        match sign_in(&ctx, &client, &email).await {
            Ok((status, _)) => {
                tally.record_latency(started.elapsed());
                tally.record_status(status.as_u16());
            }
            Err(e) => tally.record_transport_error(transport_kind(&e)),
        }
    }
    tally
}

pub fn vm_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// User + system CPU seconds in a `/proc/<pid>/stat` line (Linux reports them in USER_HZ,
/// 100 per second, whatever the kernel's tick).
fn stat_cpu_seconds(stat: &str) -> Option<f64> {
    // The command name may hold spaces and parentheses: fields count from the last `)`.
    let fields: Vec<&str> = stat
        .get(stat.rfind(')')? + 1..)?
        .split_whitespace()
        .collect();
    // Field 3 of the line (state) is fields[0]; utime and stime are fields 14 and 15.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// The machine's CPU time in the first line of `/proc/stat`: (all of it, the part a hypervisor
/// gave to other guests: `steal`), in USER_HZ.
fn stat_machine_ticks(stat: &str) -> Option<(u64, u64)> {
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    // user nice system idle iowait irq softirq steal guest guest_nice; guest time is
    // already counted in user and nice.
    let total = fields.iter().take(8).sum();
    Some((total, *fields.get(7)?))
}

fn machine_ticks() -> Option<(u64, u64)> {
    stat_machine_ticks(&std::fs::read_to_string("/proc/stat").ok()?)
}

pub fn cpu_seconds(pid: u32) -> Option<f64> {
    stat_cpu_seconds(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

pub async fn run(args: LoadArgs) -> anyhow::Result<Report> {
    let base = Url::parse(&args.base_url).context("--base-url")?;
    check_target(&base, args.allow_remote)?;
    let mount = args.mount.trim_end_matches('/').to_string();
    let path = args
        .path
        .clone()
        .unwrap_or_else(|| format!("{mount}/validate_token"));
    let mut url = base.join(&path).context("--path")?;
    if args.unbatch {
        url.query_pairs_mut().append_pair("unbatch", "1");
    }
    let method = Method::from_bytes(args.method.to_ascii_uppercase().as_bytes())?;
    let duration = match (args.duration, args.requests) {
        (None, None) => Some(10.0),
        (d, _) => d,
    };
    let mode = match args.pace {
        Some(p) if p > 0.0 => format!("one request per {p} s per device"),
        _ => "back to back".to_string(),
    };
    let run_id = format!("{:08x}", rand::rng().random::<u32>());
    let ctx = Arc::new(Ctx {
        args: args.clone(),
        base,
        url,
        method,
        run: run_id,
        deadline: OnceLock::new(),
        budget: args.requests.map(AtomicU64::new),
        stop: AtomicBool::new(false),
    });
    let rss_before = args.server_pid.and_then(vm_rss_kib);

    // Set-up: every device gets its token (and keeps the connection it got it on).
    let gate = Arc::new(Semaphore::new(args.setup_concurrency.max(1)));
    let mut setups = Vec::new();
    for i in 0..args.devices + args.sign_in_loops {
        let ctx = ctx.clone();
        let gate = gate.clone();
        setups.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await;
            let client = ctx.client()?;
            let email = if i < ctx.args.devices {
                ctx.email(&i.to_string())
            } else {
                ctx.email(&format!("signin{}", i - ctx.args.devices))
            };
            let session = if ctx.args.anonymous && i < ctx.args.devices {
                None
            } else {
                let mode = if i < ctx.args.devices {
                    ctx.args.accounts
                } else {
                    Accounts::SignUp
                };
                Some(obtain_session(&ctx, &client, &email, mode).await?)
            };
            anyhow::Ok(Device {
                email,
                client,
                session,
                lost: false,
            })
        }));
    }
    let mut devices = Vec::new();
    let mut signers = Vec::new();
    let mut setup_failures = 0u64;
    let mut first_failure = None;
    for (i, s) in setups.into_iter().enumerate() {
        match s.await? {
            Ok(d) if i < args.devices => devices.push(d),
            Ok(d) => signers.push(d),
            Err(e) => {
                setup_failures += 1;
                first_failure.get_or_insert(e);
            }
        }
    }
    if let Some(e) = &first_failure {
        eprintln!("toker-bench: {setup_failures} devices could not sign up or in; first: {e:#}");
    }
    let rss_ready = args.server_pid.and_then(vm_rss_kib);
    let devices_ready = devices.len();

    // The load.
    let cpu_start = args.server_pid.and_then(cpu_seconds);
    let machine_start = machine_ticks();
    let start = Instant::now();
    let _ = ctx
        .deadline
        .set(duration.map(|d| start + Duration::from_secs_f64(d)));
    let peak = Arc::new(AtomicU64::new(rss_ready.unwrap_or(0)));
    let sampler = args.server_pid.map(|pid| {
        let peak = peak.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            loop {
                tick.tick().await;
                if let Some(kib) = vm_rss_kib(pid) {
                    peak.fetch_max(kib, Ordering::Relaxed);
                }
            }
        })
    });
    let loops: Vec<_> = devices
        .into_iter()
        .map(|d| tokio::spawn(device_loop(ctx.clone(), d, start)))
        .collect();
    let sign_in_tasks: Vec<_> = signers
        .into_iter()
        .map(|d| tokio::spawn(sign_in_loop(ctx.clone(), d.client, d.email)))
        .collect();
    let mut tally = Tally::default();
    let mut ended = start;
    let mut done = Vec::new();
    for l in loops {
        let (t, dev, end) = l.await?;
        tally.merge(&t);
        ended = ended.max(end);
        done.push(dev);
    }
    if args.devices == 0 {
        // Only sign-in loops: they run until the deadline.
        if let Some(d) = ctx.deadline() {
            tokio::time::sleep_until(d.into()).await;
        }
        ended = Instant::now();
    }
    let cpu_end = args.server_pid.and_then(cpu_seconds);
    let machine_end = machine_ticks();
    ctx.stop.store(true, Ordering::Relaxed);
    let mut sign_in_tally = Tally::default();
    for t in sign_in_tasks {
        sign_in_tally.merge(&t.await?);
    }
    if let Some(s) = sampler {
        s.abort();
    }
    let elapsed = ended - start;

    // Every device's last token must still work.
    let checks: Vec<_> = done
        .into_iter()
        .map(|mut d| {
            let ctx = ctx.clone();
            tokio::spawn(async move {
                final_check(&ctx, &mut d).await;
                d.lost
            })
        })
        .collect();
    let mut lost = 0;
    for c in checks {
        lost += u64::from(c.await?);
    }

    let mut report = Report::from_tally(&tally, elapsed);
    report.label = args.label.clone();
    report.target = format!("{} {}", ctx.method, ctx.url);
    report.devices = args.devices;
    report.devices_ready = devices_ready;
    report.mode = mode;
    report.lost_sessions = lost;
    report.setup_failures = setup_failures;
    if args.sign_in_loops > 0 {
        report.sign_ins = Some(SignIns {
            loops: args.sign_in_loops,
            count: sign_in_tally.ok,
            per_s: 0.0,
            latency_ms: sign_in_tally.latency_ms(),
            errors: sign_in_tally.errors.clone(),
        });
        if let Some(s) = &mut report.sign_ins {
            s.per_s = s.count as f64 / elapsed.as_secs_f64().max(1e-9);
        }
    }
    if let Some(pid) = args.server_pid {
        report.server_rss = Some(Rss {
            pid,
            before_kib: rss_before.unwrap_or(0),
            ready_kib: rss_ready.unwrap_or(0),
            peak_kib: peak.load(Ordering::Relaxed),
        });
    }
    if let (Some(a), Some(b)) = (cpu_start, cpu_end)
        && tally.responses > 0
    {
        report.server_cpu = Some(ServerCpu {
            seconds: b - a,
            us_per_request: (b - a) * 1e6 / tally.responses as f64,
        });
    }
    if let (Some((total_a, steal_a)), Some((total_b, steal_b))) = (machine_start, machine_end)
        && total_b > total_a
    {
        report.stolen_share = Some((steal_b - steal_a) as f64 / (total_b - total_a) as f64);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_is_read_after_the_command_name() {
        let line = "4242 (tokio rt) (x)) S 1 4242 4242 0 -1 4194560 1200 0 0 0 250 75 0 0 20 0 6 0 999 1 2";
        assert_eq!(stat_cpu_seconds(line), Some(3.25));
        assert_eq!(stat_cpu_seconds("garbage"), None);
    }

    #[test]
    fn stolen_time_is_the_eighth_field_of_the_machine_line() {
        let stat = "cpu  700 0 100 150 10 0 20 20 0 0\ncpu0 350 0 50 75 5 0 10 10 0 0\n";
        assert_eq!(stat_machine_ticks(stat), Some((1000, 20)));
        // A kernel before 2.6.11 has no steal field; nothing is reported then.
        assert_eq!(stat_machine_ticks("cpu  700 0 100 150 10 0 20\n"), None);
        assert_eq!(stat_machine_ticks("cpu0 1 2 3\n"), None);
    }

    #[test]
    fn only_loopback_targets_unless_allowed() {
        let ok = |u: &str, allow| check_target(&Url::parse(u).unwrap(), allow).is_ok();
        assert!(ok("http://127.0.0.1:3000", false));
        assert!(ok("http://127.8.9.1:3000", false));
        assert!(ok("http://localhost:3000", false));
        assert!(ok("http://[::1]:3000", false));
        assert!(!ok("http://10.0.0.1:3000", false));
        assert!(!ok("https://example.com", false));
        assert!(ok("https://example.com", true));
    }
}
