//! `switchyard-bench`: Switchyard's benchmark harness. Each benchmark measures its baseline in
//! the same invocation and reports the ratio, because on a shared machine an absolute time
//! means little from one run to the next (see BENCHMARKS.md for the list and the goals).
//!
//! ```text
//! cargo build --release -p switchyard-cli
//! cargo run --release -p switchyard-bench -- b3
//! ```
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

mod b3;
mod floor;
mod prom;
mod report;
mod server;
mod shapes;
mod stats;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

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
    /// B3, step scheduling overhead: DAGs of `true` steps against the durable floor.
    #[command(after_help = "Examples:\n  \
        cargo build --release -p switchyard-cli\n  \
        cargo run --release -p switchyard-bench -- b3\n  \
        switchyard-bench b3 --only chain-200 --repeat 3 --out b3.json\n\n\
        Workloads: chain-200, fanout-500-p8, lattice-10x10, chain-1000, fanout-1000-p8.")]
    B3(B3Args),
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
    let result = match cli.command {
        Command::B3(args) => run_b3(args),
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
