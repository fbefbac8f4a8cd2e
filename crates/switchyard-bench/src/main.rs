//! `switchyard-bench`: Switchyard's benchmark harness. Each benchmark measures its baseline in
//! the same invocation and reports the ratio, because on a shared machine an absolute time
//! means little from one run to the next (see BENCHMARKS.md for the list and the goals).
//!
//! ```text
//! cargo build --release -p switchyard-cli -p switchyard-bench
//! target/release/switchyard-bench all          # or b1, b2, b3, b4, b5, b6
//! ```
//!
//! Every benchmark but B3 runs in two modes (`--mode embedded|distributed|both`, default
//! both): *embedded* is `switchyard up --no-platform` on a fresh data directory (SQLite and
//! the embedded bus); *distributed* adds `--database` (PostgreSQL, a schema of its own) and
//! `--nats` (NATS JetStream, a stream of its own), both dropped afterwards; when either
//! service does not answer, the mode is skipped and the report says why. Each prints tables
//! and writes JSON (`--out`, default `<target>/bench/<id>.json`). The benchmarks themselves
//! are described in their modules: [`b1`] webhook ingest against a do-nothing handler
//! (`noop-server`), [`b2`] trigger latency, [`b4`] end to end against B3's durable floor as
//! a rate, [`b5`] memory with 10,000 suspended runs, [`b6`] cold start.
//!
//! # B3: step scheduling overhead
//!
//! Workloads ([`shapes::B3_SHAPES`]), each a Workflow whose entrypoint is a DAG of tasks that
//! all run a container with `command: ["true"]`:
//!
//! | name | shape |
//! |---|---|
//! | `chain-200` | 200 tasks, each depending on the one before |
//! | `fanout-500-p8` | 500 independent tasks, `parallelism: 8` on the DAG template |
//! | `lattice-10x10` | 10 layers of 10 tasks; each task depends on all 10 of the layer before |
//! | `chain-1000` | as `chain-200`, 1,000 tasks |
//! | `fanout-1000-p8` | as `fanout-500-p8`, 1,000 tasks |
//!
//! For each workload, in each round (`--repeat`, default 1), in this order:
//!
//! 1. **Durable floor**: a bare loop spawns `true` once per step with the parallelism the
//!    workflow allows (1 for a chain, 8 for a fan-out, a whole layer at a time for the
//!    lattice) and, as each step ends, commits one row for it to a SQLite database in WAL
//!    mode with `synchronous=FULL` (the store's fsync policy), one transaction per step. The
//!    database sits next to the server's data directory, on the same filesystem.
//! 2. **No-commit floor**: the same loop without the database.
//! 3. **Switchyard**: a fresh `switchyard up` (its release binary, next to this one, or
//!    `--switchyard`) on an empty data directory; the workflow is submitted over the API and
//!    read every `--poll-ms` (20) until it ends. The run must be `Succeeded` with one node
//!    for the DAG and one succeeded `Pod` node per step. *Wall* is from just before the
//!    submit request to the run's `status.finishedAt` (same machine, same clock);
//!    *client-observed* is until the poll that saw the end. Server start-up is not timed.
//!
//! The report gives medians: Switchyard's wall, the durable floor, their ratio (the goal is
//! at most 1.2), the no-commit floor, and the overhead per step, `(wall - durable floor) /
//! steps`. A second table says where the time went: time to `startedAt`, the server's CPU
//! time during the run, and from `/metrics` the `argo_workflows_operation_duration_seconds`
//! summary (one observation per batch of messages the engine applies to a run; the status
//! write that follows is not part of it) and the mean step duration seen by the step
//! supervisors. The JSON file (`--out`, default `target/bench/b3.json`) holds every sample.
//!
//! Polling is part of the measurement's load: every read serializes the whole run, which
//! grows with its node count. Run nothing else heavy at the same time.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod b1;
mod b2;
mod b3;
mod b4;
mod b5;
mod b6;
mod backend;
mod floor;
mod load;
mod manifests;
mod noop;
mod output;
mod prom;
mod report;
mod search;
mod server;
mod shapes;
mod stats;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use serde::Serialize;

use crate::backend::{Backends, Env, Mode, ModeChoice, Services};
use crate::output::{Machine, ModeOutcome, any_failed, write_json};

#[derive(Debug, Parser)]
#[command(
    name = "switchyard-bench",
    version,
    about = "Switchyard's benchmarks, each against a baseline measured in the same run."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// B1, webhook ingest: the highest sustained open-loop rate, against a do-nothing handler.
    #[command(after_help = "Examples:\n  \
        switchyard-bench b1\n  \
        switchyard-bench b1 --mode embedded --probe-seconds 3 --p99-bound-ms 25")]
    B1(B1Args),
    /// B2, trigger latency: event accepted → run started → first step's process started.
    #[command(after_help = "Examples:\n  \
        switchyard-bench b2\n  \
        switchyard-bench b2 --events 50 --mode distributed")]
    B2(B2Args),
    /// B3, step scheduling overhead: DAGs of `true` steps against the durable floor.
    #[command(after_help = "Examples:\n  \
        cargo build --release -p switchyard-cli\n  \
        cargo run --release -p switchyard-bench -- b3\n  \
        switchyard-bench b3 --only chain-200 --repeat 3 --out b3.json\n\n\
        Workloads: chain-200, fanout-500-p8, lattice-10x10, chain-1000, fanout-1000-p8.")]
    B3(B3Args),
    /// B4, end to end: webhook → sensor → 1-step workflow → Succeeded, against the durable
    /// floor as a rate.
    #[command(after_help = "Examples:\n  \
        switchyard-bench b4\n  \
        switchyard-bench b4 --seconds 20 --in-flight 32")]
    B4(B4Args),
    /// B5, memory: idle, then with runs suspended at an approval gate.
    #[command(after_help = "Examples:\n  \
        switchyard-bench b5\n  \
        switchyard-bench b5 --runs 2000 --mode embedded")]
    B5(B5Args),
    /// B6, cold start: `switchyard up` until GET /healthz answers.
    #[command(after_help = "Examples:\n  \
        switchyard-bench b6\n  \
        switchyard-bench b6 --repeat 20 --no-platform-cases")]
    B6(B6Args),
    /// Every benchmark in turn with its defaults (B3 with the three workloads of BENCHMARKS.md).
    #[command(after_help = "Examples:\n  \
        switchyard-bench all\n  \
        switchyard-bench all --seconds 20 --skip-b3")]
    All(AllArgs),
    /// B1's baseline: a do-nothing HTTP server (axum on tokio) answering 200 to every POST.
    NoopServer {
        /// Where to listen; it prints `noop server listening on ADDR` once it does.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
        listen: std::net::SocketAddr,
    },
}

/// What every benchmark with modes takes.
#[derive(Debug, Clone, clap::Args)]
struct Shared {
    /// The `switchyard` binary to measure [default: `switchyard` next to this program]
    #[arg(long, value_name = "PATH")]
    switchyard: Option<PathBuf>,

    /// Where the servers' data directories and logs go; keep it outside /tmp
    /// [default: <target>/bench/<id>]
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,

    /// Which modes to measure.
    #[arg(long, value_enum, default_value_t = ModeChoice::Both)]
    mode: ModeChoice,

    /// PostgreSQL for the distributed mode (each server gets a schema of its own).
    #[arg(
        long,
        value_name = "URL",
        default_value = "postgres://root@127.0.0.1:5432/test"
    )]
    database: String,

    /// NATS JetStream for the distributed mode (each server gets a stream of its own).
    #[arg(long, value_name = "URL", default_value = "nats://127.0.0.1:4222")]
    nats: String,

    /// Keep the servers' data directories after the measurement (their logs are kept anyway).
    #[arg(long)]
    keep_data: bool,

    /// The servers' log filter (as `SWITCHYARD_LOG`, e.g. `warn`) [default: the server's own
    /// default level, as users run it]
    #[arg(long, value_name = "FILTER")]
    server_log: Option<String>,
}

#[derive(Debug, clap::Args)]
struct B1Args {
    #[command(flatten)]
    shared: Shared,
    /// Where to write the JSON results [default: <target>/bench/b1.json]
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
    #[command(flatten)]
    options: B1Options,
}

#[derive(Debug, Clone, clap::Args)]
struct B1Options {
    /// Seconds each probe of the rate search sends for.
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0)]
    probe_seconds: f64,
    /// Seconds of the run at half of the highest sustained rate.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    latency_seconds: f64,
    /// Kept-alive connections of the load generator.
    #[arg(long, value_name = "N", default_value_t = 256)]
    connections: usize,
    /// A rate is sustained when every request is answered 2xx and the p99 latency is at
    /// most this.
    #[arg(long, value_name = "MS", default_value_t = 50.0)]
    p99_bound_ms: f64,
    /// The first rate of the search (events/s); it climbs 1-2-5 from there.
    #[arg(long, value_name = "RATE", default_value_t = 1000.0)]
    start_rate: f64,
    /// The highest rate the search tries.
    #[arg(long, value_name = "RATE", default_value_t = 500_000.0)]
    max_rate: f64,
    /// Stop bisecting when the failing rate is within this ratio of the passing one.
    #[arg(long, value_name = "RATIO", default_value_t = 1.1)]
    precision: f64,
}

#[derive(Debug, clap::Args)]
struct B2Args {
    #[command(flatten)]
    shared: Shared,
    /// Where to write the JSON results [default: <target>/bench/b2.json]
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
    #[command(flatten)]
    options: B2Options,
}

#[derive(Debug, Clone, clap::Args)]
struct B2Options {
    /// Events measured, sent one at a time.
    #[arg(long, value_name = "N", default_value_t = 200)]
    events: usize,
    /// Events sent first and not measured.
    #[arg(long, value_name = "N", default_value_t = 5)]
    warmup: usize,
    /// How often a run is read while waiting for it to end, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 5)]
    poll_ms: u64,
}

#[derive(Debug, clap::Args)]
struct B4Args {
    #[command(flatten)]
    shared: Shared,
    /// Where to write the JSON results [default: <target>/bench/b4.json]
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
    #[command(flatten)]
    options: B4Options,
}

#[derive(Debug, Clone, clap::Args)]
struct B4Options {
    /// Seconds of the closed loop, and of the open loop.
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    seconds: f64,
    /// Seconds of closed loop before each measurement, not counted.
    #[arg(long, value_name = "SECONDS", default_value_t = 3.0)]
    warmup_seconds: f64,
    /// Events accepted whose run has not finished, at most (closed loop).
    #[arg(long, value_name = "N", default_value_t = 64)]
    in_flight: usize,
    /// Connections posting events.
    #[arg(long, value_name = "N", default_value_t = 8)]
    connections: usize,
    /// The open loop's rate (events/s) [default: 80% of the closed loop's rate]
    #[arg(long, value_name = "RATE")]
    open_rate: Option<f64>,
    /// Steps the durable floor runs.
    #[arg(long, value_name = "N", default_value_t = 3000)]
    floor_steps: usize,
}

#[derive(Debug, clap::Args)]
struct B5Args {
    #[command(flatten)]
    shared: Shared,
    /// Where to write the JSON results [default: <target>/bench/b5.json]
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
    #[command(flatten)]
    options: B5Options,
}

#[derive(Debug, Clone, clap::Args)]
struct B5Options {
    /// Runs suspended in total (readings at 1,000, 5,000 and this).
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    runs: usize,
    /// Submissions in flight at once.
    #[arg(long, value_name = "N", default_value_t = 16)]
    concurrency: usize,
}

#[derive(Debug, clap::Args)]
struct B6Args {
    #[command(flatten)]
    shared: Shared,
    /// Where to write the JSON results [default: <target>/bench/b6.json]
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
    #[command(flatten)]
    options: B6Options,
}

#[derive(Debug, Clone, clap::Args)]
struct B6Options {
    /// Starts per case.
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=1000))]
    repeat: u64,
    /// Skip the cases with the bundled platform.
    #[arg(long)]
    no_platform_cases: bool,
}

#[derive(Debug, clap::Args)]
struct AllArgs {
    #[command(flatten)]
    shared: Shared,
    /// Where the JSON results go, one file per benchmark [default: <target>/bench]
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
    /// Seconds of B4's closed and open loops.
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    seconds: f64,
    /// Leave B3 out (it takes a few minutes).
    #[arg(long)]
    skip_b3: bool,
}

#[derive(Debug, clap::Args)]
struct B3Args {
    /// The `switchyard` binary to measure [default: `switchyard` next to this program]
    #[arg(long, value_name = "PATH")]
    switchyard: Option<PathBuf>,

    /// Where to write the JSON results [default: <target>/bench/b3.json]
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,

    /// Where the servers' data directories, their logs and the floor journals go; keep it
    /// outside /tmp [default: <target>/bench/b3]
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,

    /// How often a running workflow is read, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 20)]
    poll_ms: u64,

    /// How many times each workload is measured (the report shows medians).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=100))]
    repeat: u64,

    /// How long one workflow may run before its workload counts as failed, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    timeout_secs: u64,

    /// Run only these workloads (repeatable, or comma-separated).
    #[arg(long, value_name = "NAME", value_delimiter = ',')]
    only: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result =
        match cli.command {
            Command::B1(args) => Runner::new(&args.shared, "b1", args.out)
                .and_then(|r| r.b1(&b1_options(&args.options))),
            Command::B2(args) => Runner::new(&args.shared, "b2", args.out)
                .and_then(|r| r.b2(&b2_options(&args.options))),
            Command::B3(args) => run_b3(args),
            Command::B4(args) => Runner::new(&args.shared, "b4", args.out)
                .and_then(|r| r.b4(&b4_options(&args.options))),
            Command::B5(args) => Runner::new(&args.shared, "b5", args.out)
                .and_then(|r| r.b5(&b5_options(&args.options))),
            Command::B6(args) => Runner::new(&args.shared, "b6", args.out)
                .and_then(|r| r.b6(&b6_options(&args.options))),
            Command::All(args) => run_all(args),
            Command::NoopServer { listen } => noop::serve(listen).map(|()| ExitCode::SUCCESS),
        };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_b3(args: B3Args) -> Result<ExitCode> {
    let exe_dir = own_directory()?;
    // `target/release/switchyard-bench` → `target`.
    let target = exe_dir.parent().unwrap_or(&exe_dir).to_path_buf();
    let switchyard = args
        .switchyard
        .unwrap_or_else(|| exe_dir.join("switchyard"));
    if !switchyard.is_file() {
        bail!(
            "no switchyard binary at {}: build it with `cargo build --release -p switchyard-cli`, or pass --switchyard PATH",
            switchyard.display()
        );
    }
    let work_dir = args
        .work_dir
        .unwrap_or_else(|| target.join("bench").join("b3"));
    let work_dir = absolute(&work_dir)?;
    let out = args
        .out
        .unwrap_or_else(|| target.join("bench").join("b3.json"));
    let options = b3::Options {
        switchyard: absolute(&switchyard)?,
        work_dir,
        poll: Duration::from_millis(args.poll_ms),
        repeat: usize::try_from(args.repeat).context("--repeat is out of range")?,
        timeout: Duration::from_secs(args.timeout_secs),
        only: args.only,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let started_at = chrono::Utc::now().to_rfc3339();
    let workloads = b3::run(&rt, &options)?;
    let report = report::B3Report::new(started_at, &options, &workloads);
    print!("{}", report.render());
    let written = report.write_json(&out)?;
    println!("Results: {}", written.display());
    Ok(if workloads.iter().any(|w| w.error.is_some()) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn b1_options(o: &B1Options) -> b1::Options {
    b1::Options {
        probe_seconds: o.probe_seconds,
        latency_seconds: o.latency_seconds,
        connections: o.connections.max(1),
        p99_bound_ms: o.p99_bound_ms,
        start_rate: o.start_rate,
        max_rate: o.max_rate,
        precision: o.precision,
        request_timeout_ms: 5000.0,
    }
}

fn b2_options(o: &B2Options) -> b2::Options {
    b2::Options {
        events: o.events,
        warmup: o.warmup,
        poll_ms: o.poll_ms.max(1),
        timeout_secs: 60,
    }
}

/// The server's default limit on steps running at once (`up --max-parallel-steps`).
const SERVER_MAX_PARALLEL_STEPS: usize = 64;

fn b4_options(o: &B4Options) -> b4::Options {
    let in_flight = o.in_flight.max(1);
    b4::Options {
        seconds: o.seconds,
        warmup_seconds: o.warmup_seconds,
        in_flight,
        connections: o.connections.max(1),
        open_rate: o.open_rate,
        floor_steps: o.floor_steps.max(1),
        floor_parallelism: in_flight.min(SERVER_MAX_PARALLEL_STEPS),
    }
}

fn b5_options(o: &B5Options) -> b5::Options {
    b5::Options {
        runs: o.runs,
        concurrency: o.concurrency.max(1),
        settle_secs: 2.0,
    }
}

fn b6_options(o: &B6Options) -> b6::Options {
    b6::Options {
        repeat: usize::try_from(o.repeat).unwrap_or(10),
        with_platform: !o.no_platform_cases,
    }
}

/// Runs benchmarks with modes: the binary, the directories, the services, the runtime.
struct Runner {
    switchyard: PathBuf,
    self_exe: PathBuf,
    work_dir: PathBuf,
    out: PathBuf,
    modes: Vec<Mode>,
    backends: Backends,
    keep_data: bool,
    log_filter: Option<String>,
    rt: tokio::runtime::Runtime,
}

impl Runner {
    fn new(shared: &Shared, id: &str, out: Option<PathBuf>) -> Result<Runner> {
        let self_exe = std::env::current_exe().context("finding this program's own path")?;
        let exe_dir = own_directory()?;
        let target = exe_dir.parent().unwrap_or(&exe_dir).to_path_buf();
        let switchyard = shared
            .switchyard
            .clone()
            .unwrap_or_else(|| exe_dir.join("switchyard"));
        if !switchyard.is_file() {
            bail!(
                "no switchyard binary at {}: build it with `cargo build --release -p switchyard-cli`, or pass --switchyard PATH",
                switchyard.display()
            );
        }
        let work_dir = shared
            .work_dir
            .clone()
            .unwrap_or_else(|| target.join("bench"))
            .join(id);
        let out = out.unwrap_or_else(|| target.join("bench").join(format!("{id}.json")));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        Ok(Runner {
            switchyard: absolute(&switchyard)?,
            self_exe,
            work_dir: absolute(&work_dir)?,
            out,
            modes: shared.mode.modes(),
            backends: Backends::new(Services {
                database: shared.database.clone(),
                nats: shared.nats.clone(),
            }),
            keep_data: shared.keep_data,
            log_filter: shared.server_log.clone(),
            rt,
        })
    }

    /// Runs `f` in each mode, skipping the distributed one when its services do not answer.
    fn each_mode<T>(
        &self,
        id: &str,
        mut f: impl FnMut(&Env<'_>) -> Result<T>,
    ) -> Vec<ModeOutcome<T>> {
        let mut outcomes = Vec::new();
        for &mode in &self.modes {
            if mode == Mode::Distributed
                && let Err(e) = self.rt.block_on(self.backends.probe())
            {
                let why = format!("{e:#}");
                eprintln!("{id} distributed: skipped: {why}");
                outcomes.push(ModeOutcome::skipped(mode, why));
                continue;
            }
            let env = Env {
                switchyard: &self.switchyard,
                work_dir: self.work_dir.join(mode.name()),
                mode,
                backends: Some(&self.backends),
                keep_data: self.keep_data,
                log_filter: self.log_filter.as_deref(),
            };
            eprintln!("{id} {}: starting", mode.name());
            let outcome = f(&env);
            if let Err(e) = &outcome {
                eprintln!("{id} {}: failed: {e:#}", mode.name());
            }
            outcomes.push(ModeOutcome::of(mode, outcome));
        }
        outcomes
    }

    /// Prints `rendered`, writes `report` as JSON, and says where.
    fn publish<T: Serialize>(&self, rendered: &str, report: &T) -> Result<()> {
        print!("{rendered}");
        let written = write_json(report, &self.out)?;
        println!("Results: {}\n", written.display());
        Ok(())
    }

    fn b1(&self, options: &b1::Options) -> Result<ExitCode> {
        let started_at = chrono::Utc::now().to_rfc3339();
        let machine = Machine::here();
        eprintln!("b1 baseline: the do-nothing handler");
        let baseline = b1::baseline(&self.rt, &self.self_exe, options);
        if let Err(e) = &baseline {
            eprintln!("b1 baseline: failed: {e:#}");
        }
        let baseline_max = baseline.as_ref().ok().and_then(|b| b.max_sustained);
        let modes = self.each_mode("b1", |env| {
            b1::measure(&self.rt, env, options, baseline_max)
        });
        let report = b1::Report {
            benchmark: "B1 webhook ingest",
            started_at,
            machine,
            options: options.clone(),
            goal: b1::Report::goal_text(),
            baseline: ModeOutcome::of(Mode::Embedded, baseline),
            modes,
        };
        self.publish(&report.render(), &report)?;
        Ok(exit_code(
            any_failed(&report.modes) || report.baseline.error.is_some(),
        ))
    }

    fn b2(&self, options: &b2::Options) -> Result<ExitCode> {
        let started_at = chrono::Utc::now().to_rfc3339();
        let machine = Machine::here();
        let modes = self.each_mode("b2", |env| b2::measure(&self.rt, env, options));
        let report = b2::Report {
            benchmark: "B2 trigger latency",
            started_at,
            machine,
            options: options.clone(),
            modes,
        };
        self.publish(&report.render(), &report)?;
        Ok(exit_code(any_failed(&report.modes)))
    }

    fn b4(&self, options: &b4::Options) -> Result<ExitCode> {
        let started_at = chrono::Utc::now().to_rfc3339();
        let machine = Machine::here();
        eprintln!(
            "b4 floor: {} steps of `true`, parallelism {}",
            options.floor_steps, options.floor_parallelism
        );
        let floor = b4::measure_floor(&self.work_dir, options)?;
        eprintln!(
            "b4 floor: durable {:.0} steps/s, without commits {:.0} steps/s",
            floor.durable_rate, floor.no_commit_rate
        );
        let modes = self.each_mode("b4", |env| b4::measure(&self.rt, env, options, &floor));
        let report = b4::Report {
            benchmark: "B4 end to end",
            started_at,
            machine,
            options: options.clone(),
            floor,
            modes,
        };
        self.publish(&report.render(), &report)?;
        Ok(exit_code(any_failed(&report.modes)))
    }

    fn b5(&self, options: &b5::Options) -> Result<ExitCode> {
        let started_at = chrono::Utc::now().to_rfc3339();
        let machine = Machine::here();
        let modes = self.each_mode("b5", |env| b5::measure(&self.rt, env, options));
        let report = b5::Report {
            benchmark: "B5 memory",
            started_at,
            machine,
            options: options.clone(),
            modes,
        };
        self.publish(&report.render(), &report)?;
        Ok(exit_code(any_failed(&report.modes)))
    }

    fn b6(&self, options: &b6::Options) -> Result<ExitCode> {
        let started_at = chrono::Utc::now().to_rfc3339();
        let machine = Machine::here();
        let modes = self.each_mode("b6", |env| {
            b6::measure(&self.rt, env, Some(&self.backends), options)
        });
        let report = b6::Report {
            benchmark: "B6 cold start",
            started_at,
            machine,
            options: options.clone(),
            modes,
        };
        self.publish(&report.render(), &report)?;
        let case_failed = report
            .modes
            .iter()
            .filter_map(|m| m.result.as_ref())
            .any(|r| r.cases.iter().any(|c| c.error.is_some()));
        Ok(exit_code(any_failed(&report.modes) || case_failed))
    }
}

fn exit_code(failed: bool) -> ExitCode {
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Every benchmark in turn; one that fails does not stop the others.
fn run_all(args: AllArgs) -> Result<ExitCode> {
    let out_dir = args.out_dir.clone();
    let out = |id: &str| out_dir.as_ref().map(|d| d.join(format!("{id}.json")));
    let mut failed = Vec::new();
    let mut record = |id: &str, result: Result<ExitCode>| match result {
        Ok(code) if code == ExitCode::SUCCESS => {}
        Ok(_) => failed.push(id.to_owned()),
        Err(e) => {
            eprintln!("{id}: failed: {e:#}");
            failed.push(id.to_owned());
        }
    };
    let defaults = |id: &str| Runner::new(&args.shared, id, out(id));
    let b1 = B1Options {
        probe_seconds: 5.0,
        latency_seconds: 10.0,
        connections: 256,
        p99_bound_ms: 50.0,
        start_rate: 1000.0,
        max_rate: 500_000.0,
        precision: 1.1,
    };
    record("b1", defaults("b1").and_then(|r| r.b1(&b1_options(&b1))));
    let b2 = B2Options {
        events: 200,
        warmup: 5,
        poll_ms: 5,
    };
    record("b2", defaults("b2").and_then(|r| r.b2(&b2_options(&b2))));
    if !args.skip_b3 {
        let b3 = B3Args {
            switchyard: args.shared.switchyard.clone(),
            out: out("b3"),
            work_dir: args.shared.work_dir.clone().map(|d| d.join("b3")),
            poll_ms: 20,
            repeat: 1,
            timeout_secs: 600,
            only: ["chain-200", "fanout-500-p8", "lattice-10x10"]
                .map(str::to_owned)
                .to_vec(),
        };
        record("b3", run_b3(b3));
    }
    let b4 = B4Options {
        seconds: args.seconds,
        warmup_seconds: 3.0,
        in_flight: 64,
        connections: 8,
        open_rate: None,
        floor_steps: 3000,
    };
    record("b4", defaults("b4").and_then(|r| r.b4(&b4_options(&b4))));
    let b5 = B5Options {
        runs: 10_000,
        concurrency: 16,
    };
    record("b5", defaults("b5").and_then(|r| r.b5(&b5_options(&b5))));
    let b6 = B6Options {
        repeat: 10,
        no_platform_cases: false,
    };
    record("b6", defaults("b6").and_then(|r| r.b6(&b6_options(&b6))));
    if failed.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("failed: {}", failed.join(", "));
        Ok(ExitCode::FAILURE)
    }
}

/// The directory this program's binary is in.
fn own_directory() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("finding this program's own path")?;
    exe.parent()
        .map(Path::to_path_buf)
        .with_context(|| format!("{} has no parent directory", exe.display()))
}

fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("making {} absolute", path.display()))
}
