//! `switchyard-chaos`: runs the failure scenarios T1–T8 of RELIABILITY.md against the real
//! `switchyard` binary and reports every figure against its pass criterion.
//!
//! ```text
//! cargo build -p switchyard-cli -p switchyard-chaos
//! target/debug/switchyard-chaos kill --short          # T1, CI-sized
//! target/debug/switchyard-chaos all --out chaos.json  # every scenario, long versions
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use switchyard_chaos::report::{Machine, Outcome, Report};
use switchyard_chaos::{Ctx, Scenario, binary_near, check_work_dir};

#[derive(Debug, Parser)]
#[command(
    name = "switchyard-chaos",
    version,
    about = "Failure scenarios against a real `switchyard up`, checked by an independent checker."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,

    /// The CI-sized version of each scenario.
    #[arg(long, global = true)]
    short: bool,

    /// Seed of the random choices (kill moments, outage lengths) [default: from the clock;
    /// printed, and part of the reproduction command].
    #[arg(long, global = true, value_name = "N")]
    seed: Option<u64>,

    /// Write the report as JSON here too.
    #[arg(long, global = true, value_name = "FILE")]
    out: Option<PathBuf>,

    /// The `switchyard` binary [default: next to this one; build it with `cargo build -p
    /// switchyard-cli`].
    #[arg(long, global = true, value_name = "PATH")]
    switchyard: Option<PathBuf>,

    /// Where data directories, logs and ledgers go (not under /tmp).
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        default_value = "/var/tmp/switchyard-chaos"
    )]
    work_dir: PathBuf,

    /// The bundled platform's manifests, for T8 [default: examples/platform of this source
    /// tree].
    #[arg(long, global = true, value_name = "DIR")]
    platform_source: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// T1: kill -9 at random moments under webhook load (≥ 50 kills; --short: 5).
    Kill,
    /// T2: kill -9 while a step runs, between steps, at an approval, in a retry backoff.
    Phases,
    /// T3: a private NATS down under load (3 min and 30 s; --short: 10 s).
    BusOutage,
    /// T4: a private PostgreSQL restarted under load.
    StoreRestart,
    /// T5: the data directory's disk full (a small tmpfs or loop-mounted ext4).
    DiskFull,
    /// T6: runs ten times slower than events arrive: memory, backpressure, redelivery.
    SlowConsumers,
    /// T7: events that make a filter or a trigger template fail.
    Poison,
    /// T8: the bad-input corpus.
    BadInput,
    /// Every scenario, T1 to T8.
    All,
}

impl Command {
    fn scenarios(&self) -> Vec<Scenario> {
        match self {
            Command::Kill => vec![Scenario::Kill],
            Command::Phases => vec![Scenario::Phases],
            Command::BusOutage => vec![Scenario::BusOutage],
            Command::StoreRestart => vec![Scenario::StoreRestart],
            Command::DiskFull => vec![Scenario::DiskFull],
            Command::SlowConsumers => vec![Scenario::SlowConsumers],
            Command::Poison => vec![Scenario::Poison],
            Command::BadInput => vec![Scenario::BadInput],
            Command::All => Scenario::ALL.to_vec(),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs the scenarios; whether every one passed (or was skipped).
async fn run(cli: Cli) -> Result<bool> {
    let binary = match cli.switchyard {
        Some(path) => path,
        None => {
            let exe = std::env::current_exe().context("locating this program")?;
            binary_near(&exe).with_context(|| {
                format!(
                    "no `switchyard` binary next to {}: build it with `cargo build -p switchyard-cli` (same profile), or pass --switchyard PATH",
                    exe.display()
                )
            })?
        }
    };
    if !binary.is_file() {
        bail!("{} is not a file (--switchyard)", binary.display());
    }
    std::fs::create_dir_all(&cli.work_dir)
        .with_context(|| format!("creating {}", cli.work_dir.display()))?;
    check_work_dir(&cli.work_dir)?;
    let seed = cli.seed.unwrap_or_else(|| {
        u64::try_from(chrono::Utc::now().timestamp_micros()).unwrap_or(1) % 1_000_000_007
    });
    eprintln!("seed {seed}");
    let platform_source = cli.platform_source.unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/platform")
    });
    let ctx = Ctx {
        binary: binary.clone(),
        work: cli.work_dir.clone(),
        short: cli.short,
        seed,
        platform_source,
    };
    let mut report = Report {
        started_at: chrono::Utc::now().to_rfc3339(),
        machine: Machine::here(),
        switchyard: binary.display().to_string(),
        seed,
        short: cli.short,
        scenarios: Vec::new(),
    };
    for scenario in cli.command.scenarios() {
        let result = scenario.run(&ctx).await;
        report.scenarios.push(result);
        if let Some(out) = &cli.out {
            report.write_json(out)?;
        }
    }
    println!("{}", report.render());
    if let Some(out) = &cli.out {
        report.write_json(out)?;
        eprintln!("report written to {}", out.display());
    }
    Ok(report
        .scenarios
        .iter()
        .all(|s| matches!(s.outcome, Outcome::Pass | Outcome::Skipped)))
}
