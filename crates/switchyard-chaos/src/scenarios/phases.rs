//! T2: kill -9 during each phase of a run, and check that every run finishes correctly and
//! that no finished step runs again.
//!
//! Phases, each its own run, the server killed once per phase (the runs before it live
//! through the later kills too):
//!
//! * `started`: 0–200 ms after the first step wrote its start line (the window in which the
//!   server may not have recorded the start yet);
//! * `running`: 1–1.5 s into a 3 s step;
//! * `between`: the moment the first step wrote its end line (the step is exiting; the server
//!   may not have recorded the end);
//! * `approval`: while the run waits at a suspend node; it must still wait after the restart,
//!   and continue only when resumed;
//! * `backoff`: 1 s into the 5 s backoff after a failed attempt; the retry must not come early,
//!   and must come about when the backoff says.
//!
//! Each step writes `<run>:<step> start|end <ms>` to a ledger outside its scratch directory.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

use crate::manifests::{NAMESPACE, phase_backoff, phase_chain, phase_gate};
use crate::process::{Server, ServerSpec};
use crate::scenarios::kill::yes;
use crate::scenarios::{kill9, secs, start};
use crate::{Ctx, Ran, report::ScenarioReport};

/// The retry backoff of the `backoff` phase, in seconds.
const BACKOFF: u64 = 5;

pub async fn run(ctx: &Ctx, dir: &Path, report: &mut ScenarioReport) -> Result<Ran> {
    let rounds = if ctx.short { 1 } else { 4 };
    let mut rng = StdRng::seed_from_u64(ctx.seed);
    let ledger = dir.join("ledger");
    let spec = ctx.server(dir);
    let mut server = start(&spec).await?;
    let mut runs: Vec<String> = Vec::new();
    let mut gates: Vec<String> = Vec::new();
    let mut backoffs: Vec<String> = Vec::new();
    let mut kills: Vec<String> = Vec::new();
    let mut restart_max = Duration::ZERO;
    let mut gates_waited = Vec::new();

    for round in 0..rounds {
        // A step that has just started.
        let name = format!("started-{round}");
        submit(&server, &name, &phase_chain(&name, 2.0, &ledger)).await?;
        wait_line(
            &ledger,
            &format!("{name}:one start"),
            Duration::from_secs(60),
        )
        .await?;
        let pause = rng.random_range(0.0..0.2);
        tokio::time::sleep(Duration::from_secs_f64(pause)).await;
        server = restart(server, &spec, &mut restart_max).await?;
        kills.push(format!(
            "{name}: {:.0} ms after `one` started",
            pause * 1000.0
        ));
        runs.push(name);

        // A step well into its run.
        let name = format!("running-{round}");
        submit(&server, &name, &phase_chain(&name, 3.0, &ledger)).await?;
        wait_line(
            &ledger,
            &format!("{name}:one start"),
            Duration::from_secs(60),
        )
        .await?;
        let pause = rng.random_range(1.0..1.5);
        tokio::time::sleep(Duration::from_secs_f64(pause)).await;
        server = restart(server, &spec, &mut restart_max).await?;
        kills.push(format!("{name}: {pause:.2} s into the 3 s step `one`"));
        runs.push(name);

        // Between steps: the first step is exiting.
        let name = format!("between-{round}");
        submit(&server, &name, &phase_chain(&name, 0.5, &ledger)).await?;
        wait_line(&ledger, &format!("{name}:one end"), Duration::from_secs(60)).await?;
        server = restart(server, &spec, &mut restart_max).await?;
        kills.push(format!("{name}: as `one` wrote its end line"));
        runs.push(name);

        // Waiting for approval.
        let name = format!("approval-{round}");
        submit(&server, &name, &phase_gate(&name, &ledger)).await?;
        wait_suspended(&server, &name, Duration::from_secs(60)).await?;
        server = restart(server, &spec, &mut restart_max).await?;
        kills.push(format!("{name}: waiting at `approve`"));
        tokio::time::sleep(Duration::from_secs(2)).await;
        let still = suspended(&server.api().run(NAMESPACE, &name).await?)
            && !ledger_text(&ledger).contains(&format!("{name}:apply start"));
        gates_waited.push(format!("{name}: {}", yes(still)));
        report.check(
            &format!("{name} still waits after the restart"),
            "yes",
            yes(still),
            still,
        );
        gates.push(name.clone());
        runs.push(name);

        // During a retry backoff.
        let name = format!("backoff-{round}");
        submit(&server, &name, &phase_backoff(&name, BACKOFF, &ledger)).await?;
        wait_line(
            &ledger,
            &format!("{name}:flaky fail"),
            Duration::from_secs(60),
        )
        .await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        server = restart(server, &spec, &mut restart_max).await?;
        kills.push(format!("{name}: 1 s into the {BACKOFF} s backoff"));
        backoffs.push(name.clone());
        runs.push(name);
    }

    // Approve the gates now, after every kill.
    let api = server.api();
    let mut resumed_at = BTreeMap::new();
    for gate in &gates {
        let answer = api.act(NAMESPACE, gate, "resume").await?;
        if answer.status != 200 {
            bail!(
                "resuming {gate} answered {}: {}",
                answer.status,
                answer.body
            );
        }
        resumed_at.insert(gate.clone(), now_ms());
    }
    let deadline = Instant::now() + Duration::from_secs(if ctx.short { 90 } else { 180 });
    let mut phases = BTreeMap::new();
    for name in &runs {
        let phase = loop {
            let run = api.run(NAMESPACE, name).await?;
            let phase = run["status"]["phase"].as_str().unwrap_or("").to_owned();
            if matches!(phase.as_str(), "Succeeded" | "Failed" | "Error")
                || Instant::now() > deadline
            {
                break phase;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        phases.insert(name.clone(), phase);
    }

    // The ledger: every step started once (the flaky one twice: a failure and its retry).
    let text = ledger_text(&ledger);
    let mut starts: BTreeMap<String, usize> = BTreeMap::new();
    let mut times: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if let [step, what, ms] = words[..] {
            if what == "start" {
                *starts.entry(step.to_owned()).or_default() += 1;
            }
            if let Ok(ms) = ms.parse::<u64>() {
                times.entry(format!("{step} {what}")).or_default().push(ms);
            }
        }
    }
    let mut expected: BTreeMap<String, usize> = BTreeMap::new();
    for name in &runs {
        let steps: &[&str] = if name.starts_with("approval") {
            &["plan", "apply"]
        } else if name.starts_with("backoff") {
            &["flaky"]
        } else {
            &["one", "two", "three"]
        };
        for step in steps {
            let n = if *step == "flaky" { 2 } else { 1 };
            expected.insert(format!("{name}:{step}"), n);
        }
    }
    let not_succeeded: Vec<String> = phases
        .iter()
        .filter(|(_, p)| p.as_str() != "Succeeded")
        .map(|(n, p)| format!("{n} ({p})"))
        .collect();
    report.check_zero("runs not Succeeded", &not_succeeded);
    let wrong_counts: Vec<String> = expected
        .iter()
        .filter(|(step, n)| starts.get(*step).copied().unwrap_or(0) != **n)
        .map(|(step, n)| {
            format!(
                "{step} ran {}× (expected {n})",
                starts.get(step).copied().unwrap_or(0)
            )
        })
        .collect();
    report.check_zero("steps run a wrong number of times", &wrong_counts);
    // The apply steps began only after the approval.
    let early: Vec<String> = gates
        .iter()
        .filter(|g| {
            let started = times
                .get(&format!("{g}:apply start"))
                .and_then(|t| t.first());
            started.is_some_and(|s| resumed_at.get(*g).is_some_and(|r| s < r))
        })
        .cloned()
        .collect();
    report.check_zero("approval steps run before the approval", &early);
    // The retry after the backoff: not before it, and not much later than it plus a restart.
    let slack = restart_max.as_secs_f64() + 3.0;
    let mut gaps = Vec::new();
    for b in &backoffs {
        let fail = times
            .get(&format!("{b}:flaky fail"))
            .and_then(|t| t.first());
        let second = times
            .get(&format!("{b}:flaky start"))
            .and_then(|t| t.get(1));
        if let (Some(fail), Some(second)) = (fail, second) {
            gaps.push((b.clone(), second.saturating_sub(*fail) as f64 / 1000.0));
        }
    }
    let early_retries: Vec<String> = gaps
        .iter()
        .filter(|(_, g)| *g < BACKOFF as f64 - 0.5)
        .map(|(b, g)| format!("{b} after {g:.1} s"))
        .collect();
    report.check_zero(
        &format!("retries earlier than the {BACKOFF} s backoff"),
        &early_retries,
    );
    let late_retries: Vec<String> = gaps
        .iter()
        .filter(|(_, g)| *g > BACKOFF as f64 + slack)
        .map(|(b, g)| format!("{b} after {g:.1} s"))
        .collect();
    report.check_zero(
        &format!(
            "retries later than backoff + restart + 3 s ({:.1} s)",
            BACKOFF as f64 + slack
        ),
        &late_retries,
    );
    report.check(
        "retried runs measured",
        backoffs.len().to_string(),
        gaps.len().to_string(),
        gaps.len() == backoffs.len(),
    );
    report.figure("seed", ctx.seed);
    report.figure("kills", &kills);
    report.figure("runs", &phases);
    report.figure("retry gap after the failed attempt (s)", &gaps);
    report.figure("gates still waiting after their restart", &gates_waited);
    report.figure("slowest restart to listening (s)", secs(restart_max));
    let alive = server.exited().is_none() && api.healthy().await;
    report.check("server serving at the end", "yes", yes(alive), alive);
    Ok(Ran::Done)
}

async fn submit(server: &Server, name: &str, content: &str) -> Result<()> {
    server
        .api()
        .submit(NAMESPACE, &format!("{name}.yaml"), content)
        .await?;
    Ok(())
}

/// Kill -9 and start again at once.
async fn restart(server: Server, spec: &ServerSpec, slowest: &mut Duration) -> Result<Server> {
    kill9(server).await?;
    let server = start(spec).await?;
    *slowest = (*slowest).max(server.start_time);
    Ok(server)
}

fn ledger_text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Waits until the ledger has a line starting with `prefix`.
async fn wait_line(ledger: &Path, prefix: &str, timeout: Duration) -> Result<()> {
    let end = Instant::now() + timeout;
    loop {
        if ledger_text(ledger).lines().any(|l| l.starts_with(prefix)) {
            return Ok(());
        }
        if Instant::now() > end {
            bail!(
                "no line `{prefix}` in {} within {timeout:?}",
                ledger.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Whether the run waits at a running suspend node.
fn suspended(run: &Value) -> bool {
    run["status"]["nodes"].as_object().is_some_and(|nodes| {
        nodes
            .values()
            .any(|n| n["type"] == "Suspend" && n["phase"] == "Running")
    })
}

async fn wait_suspended(server: &Server, name: &str, timeout: Duration) -> Result<()> {
    let api = server.api();
    let end = Instant::now() + timeout;
    loop {
        let run = api.run(NAMESPACE, name).await?;
        if suspended(&run) {
            return Ok(());
        }
        if Instant::now() > end {
            bail!("{name} never waited at its suspend node: {}", run["status"]);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn now_ms() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0)
}
