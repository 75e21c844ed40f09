//! toker-bench: a load generator for toker and any other devise_token_auth-compatible server,
//! with the helpers the scenarios of bench/run-scenario need (seeding, bcrypt timing, ratios).

mod load;
mod report;
mod seed;
mod session;
mod upstream;

use std::{path::PathBuf, process::ExitCode, time::Instant};

use anyhow::Context;
use clap::{Parser, Subcommand};
use serde::{Deserialize, Serialize};

#[derive(Debug, Parser)]
#[command(name = "toker-bench", version, about, long_about = None)]
struct Cli {
    /// Runtime worker threads of the load generator [default: the number of cores].
    #[arg(long, global = true)]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Sign N devices up or in, loop authenticated requests, report throughput, latency and
    /// correctness. Exits 1 on a correctness error (401, lost session, failed sign-in).
    Load(load::LoadArgs),
    /// Bulk-insert users and devices straight into a toker database.
    Seed(seed::SeedArgs),
    /// Time one bcrypt verification at a cost; the sign-in bound is cores ÷ that time.
    Bcrypt(BcryptArgs),
    /// Ratio of one number in two JSON reports (candidate ÷ baseline), e.g. p99 under extra load.
    Compare(CompareArgs),
    /// A trivial HTTP app on 127.0.0.1 to put behind toker's gateway.
    Upstream(upstream::UpstreamArgs),
    /// Print a free TCP port on 127.0.0.1.
    #[command(hide = true)]
    FreePort,
}

#[derive(Debug, clap::Args)]
struct BcryptArgs {
    /// bcrypt cost (toker's `password_cost`).
    #[arg(long, default_value_t = 12)]
    cost: u32,
    /// Verifications to time (one thread, median reported; then this many per core at once).
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Also write the result as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Debug, Serialize, Deserialize)]
struct BcryptReport {
    cost: u32,
    verify_ms: f64,
    cores: usize,
    /// Sign-ins per second if every core did nothing but bcrypt: cores ÷ verify time.
    bound_per_s: f64,
    /// Verifications per second measured with one thread per core at once (lower than the
    /// bound when the cores share execution units or other work runs).
    parallel_per_s: f64,
}

#[derive(Debug, clap::Args)]
struct CompareArgs {
    /// The JSON report to compare against.
    baseline: PathBuf,
    /// The JSON report compared.
    candidate: PathBuf,
    /// Dotted path of the number in the baseline (`latency_ms.p99`, `rotations_per_s`, …).
    #[arg(long)]
    metric: String,
    /// Dotted path in the candidate, when it differs.
    #[arg(long)]
    candidate_metric: Option<String>,
    /// Say "exceeds" when candidate ÷ baseline is above this.
    #[arg(long)]
    max_ratio: Option<f64>,
    /// Say "below" when candidate ÷ baseline is under this.
    #[arg(long)]
    min_ratio: Option<f64>,
    /// Also print candidate − baseline, and say "exceeds" when it is above this.
    #[arg(long)]
    max_difference: Option<f64>,
    /// Print candidate − baseline instead of the ratio, with no verdict.
    #[arg(long)]
    difference: bool,
    /// What the ratio means, for the printed line.
    #[arg(long, default_value = "ratio")]
    name: String,
}

fn bcrypt_time(args: &BcryptArgs) -> anyhow::Result<BcryptReport> {
    let password = "bench-password-1";
    let hash = bcrypt::hash(password, args.cost)?;
    let mut times: Vec<f64> = (0..args.rounds.max(1))
        .map(|_| {
            let t = Instant::now();
            let ok = bcrypt::verify(password, &hash).unwrap_or(false);
            assert!(ok, "bcrypt verifies its own hash");
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let verify_ms = times[times.len() / 2];
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let rounds = args.rounds.max(1);
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..cores {
            s.spawn(|| {
                for _ in 0..rounds {
                    let _ = bcrypt::verify(password, &hash);
                }
            });
        }
    });
    let parallel_per_s = (cores * rounds) as f64 / started.elapsed().as_secs_f64();
    Ok(BcryptReport {
        cost: args.cost,
        verify_ms,
        cores,
        bound_per_s: cores as f64 * 1000.0 / verify_ms,
        parallel_per_s,
    })
}

fn read_json(path: &PathBuf) -> anyhow::Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
    Ok(serde_json::from_str(&text)?)
}

fn compare(args: &CompareArgs) -> anyhow::Result<()> {
    let base = read_json(&args.baseline)?;
    let cand = read_json(&args.candidate)?;
    let cand_metric = args.candidate_metric.as_deref().unwrap_or(&args.metric);
    let b = report::metric(&base, &args.metric)
        .with_context(|| format!("{} in {}", args.metric, args.baseline.display()))?;
    let c = report::metric(&cand, cand_metric)
        .with_context(|| format!("{cand_metric} in {}", args.candidate.display()))?;
    let ratio = c / b;
    let mut verdict = String::new();
    if let Some(max) = args.max_ratio {
        verdict = if ratio <= max {
            format!(" — within {max}×")
        } else {
            format!(" — EXCEEDS {max}×")
        };
    }
    if let Some(min) = args.min_ratio {
        verdict = if ratio >= min {
            format!(" — meets ≥ {min}")
        } else {
            format!(" — BELOW {min}")
        };
    }
    if args.difference || args.max_difference.is_some() {
        let difference = c - b;
        let verdict = match args.max_difference {
            Some(max) if difference <= max => format!(" — within {max}"),
            Some(max) => format!(" — EXCEEDS {max}"),
            None => String::new(),
        };
        println!(
            "{}: {c:.2} ({cand_metric}) − {b:.2} ({}) = {difference:.2}{verdict}",
            args.name, args.metric
        );
        return Ok(());
    }
    println!(
        "{}: {c:.2} ({cand_metric}) ÷ {b:.2} ({}) = {ratio:.3}{verdict}",
        args.name, args.metric
    );
    Ok(())
}

fn write_json<T: Serialize>(path: &Option<PathBuf>, value: &T) -> anyhow::Result<()> {
    if let Some(path) = path {
        std::fs::write(path, serde_json::to_string_pretty(value)?)
            .with_context(|| format!("{}", path.display()))?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let threads = cli
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let runtime = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(r) => r,
        Err(e) => {
            eprintln!("toker-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result: anyhow::Result<ExitCode> = runtime.block_on(async {
        match cli.command {
            Command::Load(args) => {
                let json = args.json.clone();
                let fail_on_errors = args.fail_on_errors;
                let report = load::run(args).await?;
                print!("{}", report.render());
                write_json(&json, &report)?;
                let failed = report.correctness_errors() > 0
                    || (fail_on_errors && report.any_errors() > 0)
                    || (report.devices > 0 && report.requests == 0);
                Ok(if failed {
                    ExitCode::FAILURE
                } else {
                    ExitCode::SUCCESS
                })
            }
            Command::Seed(args) => {
                seed::run(args).await?;
                Ok(ExitCode::SUCCESS)
            }
            Command::Bcrypt(args) => {
                let r = tokio::task::spawn_blocking(move || {
                    bcrypt_time(&args).and_then(|r| write_json(&args.json, &r).map(|()| r))
                })
                .await??;
                println!(
                    "bcrypt cost {}: {:.2} ms per verification; {} cores → at most {:.1} sign-ins/s \
                     ({:.1}/s measured with {} threads at once)",
                    r.cost, r.verify_ms, r.cores, r.bound_per_s, r.parallel_per_s, r.cores
                );
                Ok(ExitCode::SUCCESS)
            }
            Command::Compare(args) => {
                compare(&args)?;
                Ok(ExitCode::SUCCESS)
            }
            Command::Upstream(args) => {
                upstream::run(args).await?;
                Ok(ExitCode::SUCCESS)
            }
            Command::FreePort => {
                let l = std::net::TcpListener::bind("127.0.0.1:0")?;
                println!("{}", l.local_addr()?.port());
                Ok(ExitCode::SUCCESS)
            }
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("toker-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}
