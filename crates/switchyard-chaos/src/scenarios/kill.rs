//! T1: kill -9 at random moments under a steady webhook load.
//!
//! The chaos Sensor starts a two-step run per event (each step writes its ledger line, the
//! first sleeps 0.2 s). Load flows the whole time; at seeded random moments the server gets
//! SIGKILL and is started again on the same data directory after a short random pause.
//! After the last restart the load stops and the checker waits for the recovery deadline.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::load::{Load, LoadSpec, Tally};
use crate::scenarios::{Chaos, kill9, secs, start, verdict_checks};
use crate::{Ctx, Ran, report::ScenarioReport};

struct Plan {
    kills: usize,
    /// Seconds between a restart and the next kill.
    gap: (f64, f64),
    /// Seconds the server stays dead.
    down: (f64, f64),
    rate: f64,
    recovery: Duration,
}

pub async fn run(ctx: &Ctx, dir: &Path, report: &mut ScenarioReport) -> Result<Ran> {
    let plan = if ctx.short {
        Plan {
            kills: 5,
            gap: (1.0, 3.0),
            down: (0.0, 0.5),
            rate: 8.0,
            recovery: Duration::from_secs(90),
        }
    } else {
        Plan {
            kills: 60,
            gap: (0.5, 5.0),
            down: (0.0, 0.5),
            rate: 15.0,
            recovery: Duration::from_secs(240),
        }
    };
    let mut rng = StdRng::seed_from_u64(ctx.seed);
    eprintln!("  seed {}", ctx.seed);
    let spec = ctx.server(dir);
    let mut server = start(&spec).await?;
    let chaos = Chaos::apply(&server.api(), dir, &["first", "second"], 0.2).await?;
    let epoch = Instant::now();
    let load = Load::start(LoadSpec::new(&chaos.url, "t1", plan.rate), epoch);

    let mut restart_times = Vec::new();
    let mut kill_moments = Vec::new();
    let mut exits = Vec::new();
    for i in 0..plan.kills {
        let gap = rng.random_range(plan.gap.0..plan.gap.1);
        tokio::time::sleep(Duration::from_secs_f64(gap)).await;
        if let Some(status) = server.exited() {
            exits.push(format!(
                "before kill {}: exited by itself ({status})",
                i + 1
            ));
        }
        kill_moments.push(secs(epoch.elapsed()));
        kill9(server).await?;
        let down = rng.random_range(plan.down.0..plan.down.1);
        tokio::time::sleep(Duration::from_secs_f64(down)).await;
        server = start(&spec).await?;
        restart_times.push(server.start_time.as_secs_f64());
        if (i + 1) % 10 == 0 || i + 1 == plan.kills {
            eprintln!("  {} kill(s) done", i + 1);
        }
    }
    // Let the last start take some load before stopping it.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (attempts, unsettled_retries) = load.stop().await;
    let tally = Tally::of(&attempts);
    let api = server.api();
    let (verdict, waited) = chaos.settle(&api, &tally, plan.recovery).await?;

    report.figure("seed", ctx.seed);
    report.figure("kill moments (s since load start)", &kill_moments);
    report.figure("requests", tally.requests);
    report.figure("answers", &tally.answers);
    report.figure(
        "CloudEvent retries cut short by the end of the load",
        unsettled_retries.len(),
    );
    report.figure(
        "restart to listening (s): mean",
        mean(&restart_times).map(|m| (m * 100.0).round() / 100.0),
    );
    report.figure(
        "restart to listening (s): max",
        restart_times.iter().cloned().fold(0.0, f64::max),
    );
    report.figure("checker wait after the load stopped (s)", secs(waited));
    report.check(
        "kills",
        format!("≥ {}", plan.kills),
        kill_moments.len().to_string(),
        kill_moments.len() >= plan.kills,
    );
    report.check(
        "events accepted under kill -9",
        "> 0",
        tally.ok().to_string(),
        tally.ok() > 0,
    );
    verdict_checks(report, &verdict);
    report.check_zero("server exits not caused by the harness", &exits);
    let alive = server.exited().is_none() && api.healthy().await;
    report.check("server serving at the end", "yes", yes(alive), alive);
    Ok(Ran::Done)
}

pub fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

pub fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}
