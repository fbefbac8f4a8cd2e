//! `switchyard-chaos`: the failure harness of RELIABILITY.md (T1–T8).
//!
//! Each scenario drives the real `switchyard` binary (`switchyard up`) over its public
//! surfaces only — the process, its CLI flags, the control API and the webhook — puts load
//! on it, injects a failure, and lets an independent [`checker`] compare every 2xx the load
//! generator got with the runs the API shows and with a ledger the steps write outside the
//! server's reach. Services a scenario breaks (NATS, PostgreSQL, a disk) are private to it.
//!
//! | # | subcommand | failure |
//! |---|---|---|
//! | T1 | `kill` | kill -9 at random moments (seeded) under webhook load, restart on the same data |
//! | T2 | `phases` | kill -9 while a step runs, between steps, at an approval, in a retry backoff |
//! | T3 | `bus-outage` | a private NATS down under load (distributed bus) |
//! | T4 | `store-restart` | a private PostgreSQL restarted under load (distributed store) |
//! | T5 | `disk-full` | the data directory's filesystem full |
//! | T6 | `slow-consumers` | runs 10× slower than events arrive |
//! | T7 | `poison` | events that make a filter or a trigger template fail |
//! | T8 | `bad-input` | the hostile-input corpus |

pub mod api;
pub mod checker;
pub mod load;
pub mod manifests;
pub mod process;
pub mod report;
pub mod scenarios;
pub mod services;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Result, bail};

use crate::process::ServerSpec;
use crate::report::ScenarioReport;

/// What every scenario needs to know.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The `switchyard` binary.
    pub binary: PathBuf,
    /// The directory this invocation keeps its data, logs and ledgers in (outside `/tmp`, so
    /// steps get a private `/tmp` and their ledger writes are seen).
    pub work: PathBuf,
    /// The CI-sized version.
    pub short: bool,
    pub seed: u64,
    /// The bundled platform's manifests (`examples/platform`), copied with another port.
    pub platform_source: PathBuf,
}

impl Ctx {
    /// A server spec for scenario directory `dir` (its data in `dir/data`, its log in
    /// `dir/server.log`), without the bundled platform (it listens on a fixed port).
    pub fn server(&self, dir: &Path) -> ServerSpec {
        self.server_with_platform(dir).with_args(["--no-platform"])
    }

    /// [`Ctx::server`] that leaves the platform to `up`'s defaults or to `--platform`.
    pub fn server_with_platform(&self, dir: &Path) -> ServerSpec {
        ServerSpec::new(&self.binary, &dir.join("data"), &dir.join("server.log"))
    }

    /// The command that runs `scenario` again the same way.
    pub fn reproduce(&self, scenario: Scenario) -> String {
        format!(
            "switchyard-chaos {}{} --seed {} --switchyard {}",
            scenario.name(),
            if self.short { " --short" } else { "" },
            self.seed,
            self.binary.display()
        )
    }
}

/// Whether a scenario ran or could not run here.
pub enum Ran {
    Done,
    Skipped(String),
}

/// The scenarios, in plan order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    Kill,
    Phases,
    BusOutage,
    StoreRestart,
    DiskFull,
    SlowConsumers,
    Poison,
    BadInput,
}

impl Scenario {
    pub const ALL: [Scenario; 8] = [
        Scenario::Kill,
        Scenario::Phases,
        Scenario::BusOutage,
        Scenario::StoreRestart,
        Scenario::DiskFull,
        Scenario::SlowConsumers,
        Scenario::Poison,
        Scenario::BadInput,
    ];

    /// `T1` ... `T8`.
    pub fn id(self) -> &'static str {
        match self {
            Scenario::Kill => "T1",
            Scenario::Phases => "T2",
            Scenario::BusOutage => "T3",
            Scenario::StoreRestart => "T4",
            Scenario::DiskFull => "T5",
            Scenario::SlowConsumers => "T6",
            Scenario::Poison => "T7",
            Scenario::BadInput => "T8",
        }
    }

    /// The subcommand.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Kill => "kill",
            Scenario::Phases => "phases",
            Scenario::BusOutage => "bus-outage",
            Scenario::StoreRestart => "store-restart",
            Scenario::DiskFull => "disk-full",
            Scenario::SlowConsumers => "slow-consumers",
            Scenario::Poison => "poison",
            Scenario::BadInput => "bad-input",
        }
    }

    /// Runs the scenario in `ctx.work/<id>`; a harness failure becomes an `error` outcome.
    pub async fn run(self, ctx: &Ctx) -> ScenarioReport {
        let mut report = ScenarioReport::new(self.id(), self.name(), ctx.reproduce(self));
        let began = Instant::now();
        let dir = ctx.work.join(self.id().to_lowercase());
        eprintln!(
            "{} {}: starting (work directory {})",
            self.id(),
            self.name(),
            dir.display()
        );
        let ran = match prepare(&dir) {
            Ok(()) => match self {
                Scenario::Kill => scenarios::kill::run(ctx, &dir, &mut report).await,
                Scenario::Phases => scenarios::phases::run(ctx, &dir, &mut report).await,
                Scenario::BusOutage => scenarios::bus_outage::run(ctx, &dir, &mut report).await,
                Scenario::StoreRestart => {
                    scenarios::store_restart::run(ctx, &dir, &mut report).await
                }
                Scenario::DiskFull => scenarios::disk_full::run(ctx, &dir, &mut report).await,
                Scenario::SlowConsumers => scenarios::slow::run(ctx, &dir, &mut report).await,
                Scenario::Poison => scenarios::poison::run(ctx, &dir, &mut report).await,
                Scenario::BadInput => scenarios::bad_input::run(ctx, &dir, &mut report).await,
            },
            Err(e) => Err(e),
        };
        let mut report = match ran {
            Ok(Ran::Done) => report,
            Ok(Ran::Skipped(why)) => report.skipped(why),
            Err(e) => report.errored(format!("{e:#}")),
        };
        report.conclude(began.elapsed().as_secs_f64());
        eprintln!(
            "{} {}: {:?} in {:.1} s",
            self.id(),
            self.name(),
            report.outcome,
            report.seconds
        );
        report
    }
}

/// A fresh scenario directory.
fn prepare(dir: &Path) -> Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("clearing {}: {e}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("creating {}: {e}", dir.display()))
}

/// The `switchyard` binary next to `exe` (the chaos binary or a test executable under
/// `target/<profile>/deps`).
pub fn binary_near(exe: &Path) -> Option<PathBuf> {
    exe.ancestors()
        .skip(1)
        .take(3)
        .map(|d| d.join("switchyard"))
        .find(|p| p.is_file())
}

/// A work directory that is not under `/tmp` (steps get a private `/tmp`; a ledger there
/// would be invisible).
pub fn check_work_dir(dir: &Path) -> Result<()> {
    let canonical = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    if canonical.starts_with("/tmp") {
        bail!(
            "the work directory {} is under /tmp, where steps cannot see it (they get a private /tmp); choose another (--work-dir)",
            dir.display()
        );
    }
    Ok(())
}
