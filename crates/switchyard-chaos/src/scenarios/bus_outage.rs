//! T3: the bus (NATS JetStream) down under webhook load, in distributed mode.
//!
//! A private nats-server (its own port and storage) carries the platform's events; the store
//! is the embedded one. Under a steady load the NATS process is stopped (SIGTERM, or SIGKILL
//! with `--crash` semantics in the long version's second outage), kept down, and started
//! again on the same storage. While it is down the webhook must not answer 2xx (nothing can
//! be made durable) and should answer 503 with `Retry-After`; afterwards it must recover by
//! itself, and every 2xx must have exactly one run.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use chrono::Utc;

use crate::load::{Load, LoadSpec, Tally, millis};
use crate::scenarios::kill::yes;
use crate::scenarios::{
    Chaos, Supervised, answered_between, first_2xx_after, last_finished_at, secs, verdict_checks,
};
use crate::services::Nats;
use crate::{Ctx, Ran, report::ScenarioReport};

pub async fn run(ctx: &Ctx, dir: &Path, report: &mut ScenarioReport) -> Result<Ran> {
    if Nats::binary().is_none() {
        return Ok(Ran::Skipped(
            "nats-server is not installed (/usr/sbin/nats-server)".to_owned(),
        ));
    }
    // (down time, crash) per outage.
    let outages: Vec<(Duration, bool)> = if ctx.short {
        vec![(Duration::from_secs(10), false)]
    } else {
        vec![
            (Duration::from_secs(180), false),
            (Duration::from_secs(30), true),
        ]
    };
    let warmup = Duration::from_secs(if ctx.short { 4 } else { 15 });
    let after = Duration::from_secs(if ctx.short { 5 } else { 20 });

    let mut nats = Nats::start(&dir.join("nats")).await?;
    let stream = format!("CHAOS_T3_{}", std::process::id());
    let spec = ctx
        .server(dir)
        .with_args(["--nats", &nats.url(), "--nats-stream", &stream]);
    let mut sup = Supervised::start(&spec).await?;
    let chaos = Chaos::apply(&sup.api().await?, dir, &["only"], 0.0).await?;
    let epoch = Instant::now();
    let mut load_spec = LoadSpec::new(&chaos.url, "t3", 6.0);
    // Requests hang while the bus is away: more of them in flight keeps the rate up.
    load_spec.workers = 12;
    load_spec.timeout = Duration::from_secs(30);
    let load = Load::start(load_spec, epoch);
    sup.watch(warmup, "before the outage", true).await?;

    let mut windows = Vec::new();
    let mut recoveries = Vec::new();
    let mut last_up = Utc::now();
    for (i, (down_for, crash)) in outages.iter().enumerate() {
        let down_ms = millis(epoch.elapsed());
        nats.down(*crash)?;
        eprintln!(
            "  NATS down ({}) for {} s",
            if *crash { "SIGKILL" } else { "SIGTERM" },
            down_for.as_secs()
        );
        sup.watch(*down_for, "while NATS was down", false).await?;
        nats.up().await?;
        sup.ensure().await?;
        last_up = Utc::now();
        let up_ms = millis(epoch.elapsed());
        let first = first_2xx_after(&load, up_ms, Duration::from_secs(180)).await;
        eprintln!("  NATS back; first 2xx after {first:?}");
        sup.watch(after, "after NATS came back", true).await?;
        let attempts = load.attempts();
        // Answers while it was down (from a moment after the stop, to let requests in flight
        // before it end).
        let during = answered_between(&attempts, down_ms + 500, up_ms);
        let tally = Tally::of(during.iter().copied());
        let without_retry_after = during
            .iter()
            .filter(|a| {
                matches!(&a.outcome, crate::load::Outcome::Status { code, retry_after: None } if *code >= 500)
            })
            .count();
        windows.push(serde_json::json!({
            "outage": i + 1,
            "down_s": down_for.as_secs(),
            "stop": if *crash { "SIGKILL" } else { "SIGTERM" },
            "answers_while_down": tally.answers,
            "slowest_answer_while_down_ms": tally.slowest_ms,
            "first_2xx_after_nats_back_s": first.map(secs),
        }));
        report.check(
            &format!("outage {}: 2xx answered while NATS was down", i + 1),
            "0",
            tally.ok().to_string(),
            tally.ok() == 0,
        );
        report.check(
            &format!("outage {}: 503 + Retry-After while down", i + 1),
            "≥ 1, every 5xx with Retry-After",
            format!(
                "{} with, {without_retry_after} without",
                tally.count("503+Retry-After")
            ),
            tally.count("503+Retry-After") > 0 && without_retry_after == 0,
        );
        report.check(
            &format!(
                "outage {}: recovered by itself (first 2xx after NATS back)",
                i + 1
            ),
            "yes",
            first.map_or("no".to_owned(), |d| {
                format!("after {:.1} s", d.as_secs_f64())
            }),
            first.is_some(),
        );
        recoveries.push(first.map(secs));
    }
    let (attempts, _) = load.stop().await;
    let tally = Tally::of(&attempts);
    let api = sup.api().await?;
    let (verdict, waited) = chaos.settle(&api, &tally, Duration::from_secs(180)).await?;
    let last_finish = last_finished_at(&api).await?;
    report.figure("outages", &windows);
    report.figure("requests", tally.requests);
    report.figure("answers", &tally.answers);
    report.figure(
        "NATS back → last run finished (s)",
        last_finish.map(|t| ((t - last_up).num_milliseconds() as f64 / 100.0).round() / 10.0),
    );
    report.figure("checker wait after the load stopped (s)", secs(waited));
    report.figure("stream", &stream);
    verdict_checks(report, &verdict);
    report.check_zero("server exits (restarted as a supervisor would)", &sup.exits);
    let alive = sup.serving().await;
    report.check("server serving at the end", "yes", yes(alive), alive);
    drop(sup);
    drop(nats);
    Ok(Ran::Done)
}
