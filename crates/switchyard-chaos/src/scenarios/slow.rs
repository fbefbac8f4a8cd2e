//! T6: consumers ten times slower than producers, in two places.
//!
//! **Slow runs.** Each event starts a run of one step that sleeps 1 s, and the server runs
//! one step at a time (`--max-parallel-steps 1`): about one run a second. The load sends ten
//! events a second. The stated depth is `--max-active-runs` plus `--max-event-backlog`: at the
//! first the sensor stops taking events, at the second the webhook answers 429. The scenario
//! samples the server's RSS and `/metrics` every second and the backlog (accepted events minus
//! finished runs) every few seconds, then waits for every accepted event's run to finish.
//! The sensor log (at debug level) tells how often an event was delivered again.
//!
//! **Slow sensor.** The sensor's own work is slow (a Lua filter costing a few hundred ms an
//! event: 4 to 5 events a second) while 50 events a second arrive, with
//! `--max-event-backlog 200`: the webhook must answer 429 with `Retry-After` once about 200
//! events wait for the sensor, memory must stay flat, and every 2xx must still get its run.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::json;

use crate::api::metric_sum;
use crate::checker::RunView;
use crate::load::{Load, LoadSpec, Tally, millis};
use crate::manifests::NAMESPACE;
use crate::scenarios::{Chaos, start};
use crate::{Ctx, Ran, report::ScenarioReport};

/// RSS the server may reach in this scenario (the stated bound).
const RSS_BOUND: u64 = 512 * 1024 * 1024;

pub async fn run(ctx: &Ctx, dir: &Path, report: &mut ScenarioReport) -> Result<Ran> {
    let mut runs = ScenarioReport::new("", "", String::new());
    slow_runs(ctx, &dir.join("runs"), &mut runs).await?;
    merge(report, runs, "slow runs");
    let mut sensor = ScenarioReport::new("", "", String::new());
    slow_sensor(ctx, &dir.join("sensor"), &mut sensor).await?;
    merge(report, sensor, "slow sensor");
    Ok(Ran::Done)
}

/// Adds a part's checks, figures and findings to the scenario's, named `<part>: ...`.
fn merge(report: &mut ScenarioReport, part: ScenarioReport, name: &str) {
    for mut c in part.checks {
        c.name = format!("{name}: {}", c.name);
        report.checks.push(c);
    }
    for (k, v) in part.figures {
        report.figures.insert(format!("{name}: {k}"), v);
    }
    for f in part.findings {
        report.findings.push(format!("{name}: {f}"));
    }
}

async fn slow_runs(ctx: &Ctx, dir: &Path, report: &mut ScenarioReport) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let produce_for = Duration::from_secs(if ctx.short { 20 } else { 180 });
    let rate = 10.0;
    // Both limits small enough that the runs behind them finish (one a second) in the drain.
    let (max_active, max_events) = if ctx.short { (10, 10) } else { (100, 100) };
    let stated = max_active + max_events;
    let spec = ctx
        .server(dir)
        .with_args([
            "--max-parallel-steps".to_owned(),
            "1".to_owned(),
            "--max-active-runs".to_owned(),
            max_active.to_string(),
            "--max-event-backlog".to_owned(),
            max_events.to_string(),
        ])
        .with_env("SWITCHYARD_LOG", "info,switchyard_events::sensors=debug");
    let mut server = start(&spec).await?;
    let api = server.api();
    let chaos = Chaos::apply(&api, dir, &["only"], 1.0).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_rss = server.rss_bytes().unwrap_or(0);
    let epoch = Instant::now();
    let load = Load::start(LoadSpec::new(&chaos.url, "t6", rate), epoch);
    let mut samples = Vec::new();
    let mut max_rss = idle_rss;
    let mut max_depth = 0usize;
    let mut depth_at_first_refusal: Option<(usize, String)> = None;
    let mut tick = 0u64;
    let end = Instant::now() + produce_for;
    while Instant::now() < end {
        tokio::time::sleep(Duration::from_secs(1)).await;
        tick += 1;
        let rss = server.rss_bytes().unwrap_or(0);
        max_rss = max_rss.max(rss);
        let metrics = api.metrics().await.unwrap_or_default();
        let queue = metric_sum(&metrics, "argo_workflows_queue_depth_gauge");
        let attempts = load.attempts();
        let tally = Tally::of(&attempts);
        if depth_at_first_refusal.is_none()
            && let Some(refused) = attempts
                .iter()
                .find(|a| matches!(&a.outcome, crate::load::Outcome::Status { code, .. } if *code == 429 || *code == 503))
        {
            depth_at_first_refusal = Some((max_depth, refused.outcome.label()));
        }
        let mut sample = json!({
            "t_s": millis(epoch.elapsed()) / 1000,
            "rss_mib": rss / (1024 * 1024),
            "accepted": tally.ok(),
            "queue_depth_gauge": queue,
        });
        if tick.is_multiple_of(5) {
            let runs = api.runs(NAMESPACE).await.unwrap_or_default();
            let finished = runs.iter().filter(|r| RunView::of(r).finished()).count();
            let depth = tally.ok().saturating_sub(finished);
            max_depth = max_depth.max(depth);
            sample["runs"] = json!(runs.len());
            sample["finished"] = json!(finished);
            sample["backlog"] = json!(depth);
            eprintln!(
                "  t={}s rss={} MiB accepted={} finished={} backlog={depth}",
                tick,
                rss / (1024 * 1024),
                tally.ok(),
                finished
            );
        }
        samples.push(sample);
    }
    let (attempts, _) = load.stop().await;
    let tally = Tally::of(&attempts);
    let stopped_rss = server.rss_bytes().unwrap_or(0);
    max_rss = max_rss.max(stopped_rss);
    let runs: Vec<RunView> = api.runs(NAMESPACE).await?.iter().map(RunView::of).collect();
    let finished = runs.iter().filter(|r| r.finished()).count();
    let mut phases: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for r in &runs {
        let phase = if r.phase.is_empty() {
            "(none)"
        } else {
            r.phase.as_str()
        };
        *phases.entry(phase.to_owned()).or_default() += 1;
    }
    let backlog = tally.ok().saturating_sub(finished);
    max_depth = max_depth.max(backlog);
    // What was accepted runs, one a second, behind the limits.
    let drain = Duration::from_secs(stated as u64 * 2 + 60);
    let (verdict, waited) =
        crate::checker::settle(&api, NAMESPACE, &tally.sent, &tally.accepted, None, drain).await?;
    let end_rss = server.rss_bytes().unwrap_or(0);
    max_rss = max_rss.max(end_rss);
    let log = std::fs::read_to_string(&spec.log).unwrap_or_default();
    let redelivered = log.matches("event consumed before").count();
    let not_recorded = log.matches("event not recorded").count();
    let consumed = log.matches("event consumed").count() - redelivered;
    let alive = server.exited().is_none() && api.healthy().await;
    drop(server);

    let mib = |b: u64| (b as f64 / 1024.0 / 1024.0 * 10.0).round() / 10.0;
    report.figure("producer rate (events/s)", rate);
    report.figure("consumer capacity (runs/s)", 1.0);
    report.figure("load duration (s)", produce_for.as_secs());
    report.figure("answers", &tally.answers);
    report.figure("RSS idle (MiB)", mib(idle_rss));
    report.figure("RSS max (MiB)", mib(max_rss));
    report.figure("--max-active-runs", max_active);
    report.figure("--max-event-backlog", max_events);
    report.figure("RSS when the load stopped (MiB)", mib(stopped_rss));
    report.figure("RSS after the drain (MiB)", mib(end_rss));
    report.figure(
        "backlog when the load stopped (accepted − finished runs)",
        backlog,
    );
    report.figure(
        "drain after the load stopped (s)",
        crate::scenarios::secs(waited),
    );
    report.figure("runs created", runs.len());
    report.figure("runs by phase when the load stopped", &phases);
    report.figure(
        "RSS growth per queued run (KiB)",
        (backlog > 0).then(|| {
            ((max_rss.saturating_sub(idle_rss)) as f64 / 1024.0 / backlog as f64 * 10.0).round()
                / 10.0
        }),
    );
    report.figure("events consumed by the sensor", consumed);
    report.figure("redeliveries seen by the sensor", redelivered);
    report.figure(
        "events the ledger could not record (redelivered later)",
        not_recorded,
    );
    report.figure("samples", &samples);
    report.check(
        "RSS stays under the bound",
        format!("≤ {} MiB", RSS_BOUND / 1024 / 1024),
        format!("max {} MiB", mib(max_rss)),
        max_rss <= RSS_BOUND,
    );
    let limit = depth_at_first_refusal
        .as_ref()
        .map(|(d, label)| format!("{label} at backlog ~{d}"));
    let refusals = tally.count("429+Retry-After");
    let without_retry_after = tally.count("429") - refusals;
    report.check(
        "429 + Retry-After at the stated depth",
        format!("429 once ~{stated} events wait (runs in progress + events on the bus), each with Retry-After"),
        limit.clone().map_or(
            format!("none: 2xx to every event, backlog up to {max_depth}"),
            |l| format!("{l}; {refusals} × 429+Retry-After, {without_retry_after} without; backlog at most {max_depth}"),
        ),
        depth_at_first_refusal
            .as_ref()
            .is_some_and(|(d, _)| *d <= stated * 2)
            && max_depth <= stated * 2
            && without_retry_after == 0,
    );
    if limit.is_none() {
        report.finding(format!(
            "no backpressure: with runs 10× slower than events, the webhook answered 200 to all {} events while the backlog of unfinished runs grew to {max_depth}; every accepted event became a stored run at once (runs by phase when the load stopped: {phases:?}). RSS went from {} MiB idle to {} MiB",
            tally.ok(),
            mib(idle_rss),
            mib(max_rss)
        ));
    }
    report.check(
        "no redelivery storm",
        "redeliveries ≤ 1% of events",
        format!("{redelivered} redeliveries, {not_recorded} not recorded"),
        (redelivered + not_recorded) * 100 <= tally.ok().max(1),
    );
    report.check_zero("lost (2xx without a run)", &verdict.lost);
    let dups: Vec<String> = verdict.duplicates.keys().cloned().collect();
    report.check_zero("duplicated (runs per event > 1)", &dups);
    report.check_zero("stuck (unfinished at the deadline)", &verdict.stuck);
    report.figure("slowest webhook answer (ms)", tally.slowest_ms);
    report.check(
        "server serving at the end",
        "yes",
        if alive { "yes" } else { "no" },
        alive,
    );
    Ok(())
}

/// The Lua filter that makes the sensor slow: a few hundred ms an event on a 2-core machine,
/// well inside the filter's instruction cap (10M) and memory cap (32 MiB).
const SLOW_FILTER: &str = "      filters:
        script: |-
          local x = 0
          for i = 1, 4000000 do x = x + i end
          for j = 1, 14 do local s = string.rep(\"ab\", 1000000); x = x + #s end
          return x > 0
";

/// The stated depth: `--max-event-backlog`.
const MAX_EVENT_BACKLOG: usize = 200;

async fn slow_sensor(ctx: &Ctx, dir: &Path, report: &mut ScenarioReport) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let produce_for = Duration::from_secs(if ctx.short { 20 } else { 120 });
    let rate = 50.0;
    let spec = ctx
        .server(dir)
        .with_args(["--max-event-backlog", &MAX_EVENT_BACKLOG.to_string()]);
    let mut server = start(&spec).await?;
    let api = server.api();
    let port = crate::process::free_port()?;
    let ledger = dir.join("ledger");
    let manifests = crate::manifests::chaos_platform(port, &ledger, &["only"], 0.0).replacen(
        "      eventName: orders\n  triggers:",
        &format!("      eventName: orders\n{SLOW_FILTER}  triggers:"),
        1,
    );
    api.apply("slow-sensor.yaml", &manifests).await?;
    crate::process::wait_reachable(&format!("127.0.0.1:{port}"), Duration::from_secs(30)).await?;
    let url = format!("http://127.0.0.1:{port}{}", crate::manifests::ENDPOINT);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_rss = server.rss_bytes().unwrap_or(0);
    let epoch = Instant::now();
    let mut load_spec = LoadSpec::new(&url, "t6s", rate);
    load_spec.workers = 8;
    let load = Load::start(load_spec, epoch);
    let mut max_rss = idle_rss;
    let mut samples = Vec::new();
    let mut depth_at_first_429: Option<usize> = None;
    let end = Instant::now() + produce_for;
    while Instant::now() < end {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let rss = server.rss_bytes().unwrap_or(0);
        max_rss = max_rss.max(rss);
        let tally = Tally::of(&load.attempts());
        let consumed = consumed_events(&spec.log);
        let depth = tally.ok().saturating_sub(consumed);
        if depth_at_first_429.is_none() && tally.count("429") > 0 {
            depth_at_first_429 = Some(depth);
        }
        samples.push(json!({
            "t_s": millis(epoch.elapsed()) / 1000,
            "rss_mib": rss / (1024 * 1024),
            "accepted": tally.ok(),
            "consumed": consumed,
            "waiting": depth,
            "429": tally.count("429"),
        }));
    }
    let (attempts, _) = load.stop().await;
    let tally = Tally::of(&attempts);
    // The sensor works off what it accepted; then every 2xx must have its run.
    let drain = Duration::from_secs(if ctx.short { 120 } else { 240 });
    let (verdict, waited) = crate::checker::settle(
        &api,
        NAMESPACE,
        &tally.sent,
        &tally.accepted,
        Some((&ledger, &["only"])),
        drain,
    )
    .await?;
    let alive = server.exited().is_none() && api.healthy().await;
    drop(server);
    let mib = |b: u64| (b as f64 / 1024.0 / 1024.0 * 10.0).round() / 10.0;
    let without_retry_after = attempts
        .iter()
        .filter(|a| {
            matches!(
                &a.outcome,
                crate::load::Outcome::Status {
                    code: 429,
                    retry_after: None
                }
            )
        })
        .count();
    report.figure("producer rate (events/s)", rate);
    report.figure("sensor capacity (events/s, measured)", {
        let consumed = consumed_events(&spec.log);
        (consumed as f64 / (produce_for.as_secs_f64() + waited.as_secs_f64()) * 10.0).round() / 10.0
    });
    report.figure("--max-event-backlog", MAX_EVENT_BACKLOG);
    report.figure("answers", &tally.answers);
    report.figure("events waiting when the first 429 came", depth_at_first_429);
    report.figure("RSS idle (MiB)", mib(idle_rss));
    report.figure("RSS max (MiB)", mib(max_rss));
    report.figure(
        "drain after the load stopped (s)",
        crate::scenarios::secs(waited),
    );
    report.figure("samples", &samples);
    let stated = MAX_EVENT_BACKLOG;
    report.check(
        "429 + Retry-After at the stated depth",
        format!("429 once ~{stated} events wait, each with Retry-After"),
        match depth_at_first_429 {
            Some(d) => format!(
                "first 429 with ~{d} waiting; {} × 429+Retry-After, {without_retry_after} without",
                tally.count("429+Retry-After")
            ),
            None => "no 429".to_owned(),
        },
        depth_at_first_429.is_some_and(|d| d >= stated / 2 && d <= stated * 2)
            && without_retry_after == 0,
    );
    report.check(
        "RSS stays under the bound",
        format!("≤ {} MiB", RSS_BOUND / 1024 / 1024),
        format!("max {} MiB", mib(max_rss)),
        max_rss <= RSS_BOUND,
    );
    report.check_zero("lost (2xx without a run)", &verdict.lost);
    let dups: Vec<String> = verdict.duplicates.keys().cloned().collect();
    report.check_zero("duplicated (runs per event > 1)", &dups);
    report.check_zero("stuck (unfinished at the deadline)", &verdict.stuck);
    report.check(
        "server serving at the end",
        "yes",
        if alive { "yes" } else { "no" },
        alive,
    );
    Ok(())
}

/// Events the sensor has consumed so far, from its log lines.
fn consumed_events(log: &Path) -> usize {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.matches("event consumed sensor=").count()
}
