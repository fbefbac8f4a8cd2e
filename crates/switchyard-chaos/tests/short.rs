//! The CI-sized (`--short`) scenarios against the real `switchyard` binary: T1 (5 kills),
//! T2, T3 (NATS down 10 s), T4, T5, T7 and T8. T6 (slow consumers) measures rather than
//! checks a promise and runs only from the command line.
//!
//! The binary is `target/<profile>/switchyard` next to this test, brought up to date first
//! with `cargo build -p switchyard-cli` (same profile; artifact dependencies, which would let
//! cargo build it for the test, are not stable). Scenarios run one at a time (the
//! machine's cores are the bottleneck). A scenario that needs something this machine lacks
//! (nats-server, PostgreSQL, permission to mount) is skipped with a message, except with
//! `CI=true`, where that fails.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use switchyard_chaos::report::Outcome;
use switchyard_chaos::{Ctx, Scenario, binary_near};

/// One scenario at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// `target/<profile>/switchyard`, brought up to date with `cargo build -p switchyard-cli`
/// (the same profile; cargo releases its build lock before it runs tests). Without cargo, an
/// existing binary is used as it is.
fn switchyard() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT.get_or_init(build_switchyard).clone()
}

fn build_switchyard() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<test> → the profile directory.
    let profile_dir = exe.parent().and_then(Path::parent).unwrap();
    let release = profile_dir.file_name().is_some_and(|n| n == "release");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut build = Command::new(cargo);
    build
        .args(["build", "-p", "switchyard-cli"])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if release {
        build.arg("--release");
    }
    eprintln!("bringing the switchyard binary up to date: {build:?}");
    match build.status() {
        Ok(status) => assert!(status.success(), "`cargo build -p switchyard-cli` failed"),
        Err(e) => eprintln!("cannot run cargo ({e}); using the binary as it is"),
    }
    binary_near(&exe).unwrap_or_else(|| {
        panic!(
            "no switchyard binary in {}: build it with `cargo build -p switchyard-cli`",
            profile_dir.display()
        )
    })
}

/// A work directory outside /tmp: the target directory's scratch space, or /var/tmp when the
/// checkout is under /tmp.
fn work_dir() -> PathBuf {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let target = std::fs::canonicalize(target).unwrap_or_else(|_| target.to_path_buf());
    let base = if target.starts_with("/tmp") {
        PathBuf::from("/var/tmp/switchyard-tests")
    } else {
        target
    };
    let dir = base.join(format!("chaos-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn scenario(which: Scenario) {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let ctx = Ctx {
        binary: switchyard(),
        work: work_dir(),
        short: true,
        seed: std::env::var("CHAOS_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(20_261_121),
        platform_source: Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/platform"),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let report = runtime.block_on(which.run(&ctx));
    let rendered = switchyard_chaos::report::Report {
        started_at: String::new(),
        machine: switchyard_chaos::report::Machine::here(),
        switchyard: ctx.binary.display().to_string(),
        seed: ctx.seed,
        short: true,
        scenarios: vec![report.clone()],
    }
    .render();
    eprintln!("{rendered}");
    match report.outcome {
        Outcome::Pass => {
            let _ = std::fs::remove_dir_all(ctx.work.join(which.id().to_lowercase()));
        }
        Outcome::Skipped => {
            let why = report.note.unwrap_or_default();
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{} {} must run in CI: {why}",
                which.id(),
                which.name()
            );
            eprintln!("skipped: {} {}: {why}", which.id(), which.name());
        }
        Outcome::Fail | Outcome::Error => panic!(
            "{} {} {:?} (reproduce: {}; data kept in {}):\n{}\n{}",
            which.id(),
            which.name(),
            report.outcome,
            report.reproduce,
            ctx.work.display(),
            report.failures().join("\n"),
            report.note.unwrap_or_default()
        ),
    }
}

#[test]
fn t1_kill_9_under_load_loses_and_duplicates_nothing() {
    scenario(Scenario::Kill);
}

#[test]
fn t2_kill_9_in_each_phase_of_a_run() {
    scenario(Scenario::Phases);
}

#[test]
fn t3_nats_down_for_10_seconds_under_load() {
    scenario(Scenario::BusOutage);
}

#[test]
fn t4_postgresql_restarted_under_load() {
    scenario(Scenario::StoreRestart);
}

#[test]
fn t5_a_full_disk_answers_503_and_recovers() {
    scenario(Scenario::DiskFull);
}

#[test]
fn t7_poison_events_are_recorded_and_others_flow() {
    scenario(Scenario::Poison);
}

#[test]
fn t8_the_bad_input_corpus_gets_its_safe_outcomes() {
    scenario(Scenario::BadInput);
}
