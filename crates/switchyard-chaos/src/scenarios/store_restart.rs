//! T4: the store (PostgreSQL) restarted under webhook load, in distributed mode.
//!
//! A private PostgreSQL cluster (initdb'd for this run, its own port) holds the store; the
//! bus is the machine's NATS at 127.0.0.1:4222 with a stream of this run's own, deleted at
//! the end. Under a steady load PostgreSQL is stopped (`pg_ctl stop -m fast`, or `-m
//! immediate`: a crash) and started again, several times. The server must not answer 2xx for
//! what it cannot make durable, must recover by itself, and every 2xx must have exactly one
//! run. Then, PostgreSQL up, every client connection is cut every 200 ms for a while
//! (`pg_terminate_backend`): a write fails and the next one a moment later succeeds. The
//! server must never exit: with PostgreSQL away longer than its controller lease it stands
//! by and takes the lease back. An exit is recorded (a failed check) and the server started
//! again, as a supervisor would, so the rest of the scenario still runs.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use chrono::Utc;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::load::{Load, LoadSpec, Tally, millis};
use crate::process::reachable;
use crate::scenarios::kill::yes;
use crate::scenarios::{
    Chaos, Supervised, answered_between, first_2xx_after, last_finished_at, secs, verdict_checks,
};
use crate::services::{Postgres, delete_stream};
use crate::{Ctx, Ran, report::ScenarioReport};

/// The shared NATS this scenario uses (with a stream of its own).
const SHARED_NATS: &str = "127.0.0.1:4222";
/// The controller lease's time to live, in seconds: a longer store outage is expected to stop
/// the server.
const LEASE_SECS: f64 = 15.0;

pub async fn run(ctx: &Ctx, dir: &Path, report: &mut ScenarioReport) -> Result<Ran> {
    if Postgres::bin_dir().is_none() {
        return Ok(Ran::Skipped(
            "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin".to_owned(),
        ));
    }
    if !reachable(SHARED_NATS) {
        return Ok(Ran::Skipped(format!(
            "NATS is not reachable at {SHARED_NATS}"
        )));
    }
    let mut rng = StdRng::seed_from_u64(ctx.seed);
    // (seconds down, immediate) per restart.
    let restarts: Vec<(f64, bool)> = if ctx.short {
        vec![(2.0, false), (2.0, true)]
    } else {
        let mut r: Vec<(f64, bool)> = (0..8)
            .map(|i| (rng.random_range(1.0..5.0), i % 2 == 1))
            .collect();
        // One outage longer than the controller lease (15 s).
        r.push((25.0, true));
        r
    };
    // Seconds between restarts. The short version leaves more than one lease renewal (5 s)
    // between them, so each outage is one blip to the lease.
    let gap = if ctx.short { (11.0, 12.0) } else { (3.0, 6.0) };

    let stream = format!("CHAOS_T4_{}_{}", std::process::id(), ctx.seed);
    let nats_url = format!("nats://{SHARED_NATS}");
    let outcome = exercise(
        ctx, dir, report, &mut rng, &restarts, gap, &stream, &nats_url,
    )
    .await;
    // The stream on the shared NATS goes, whatever happened.
    match delete_stream(&nats_url, &stream).await {
        Ok(()) => report.figure("stream (deleted afterwards)", &stream),
        Err(e) => report.finding(format!(
            "the stream {stream} on the shared NATS was not deleted: {e:#}"
        )),
    }
    outcome.map(|()| Ran::Done)
}

#[allow(clippy::too_many_arguments)]
async fn exercise(
    ctx: &Ctx,
    dir: &Path,
    report: &mut ScenarioReport,
    rng: &mut StdRng,
    restarts: &[(f64, bool)],
    gap: (f64, f64),
    stream: &str,
    nats_url: &str,
) -> Result<()> {
    let pg_dir = dir.join("pg");
    let mut pg = tokio::task::spawn_blocking(move || Postgres::start(&pg_dir)).await??;
    let spec = ctx.server(dir).with_args([
        "--database",
        &pg.url(),
        "--nats",
        nats_url,
        "--nats-stream",
        stream,
    ]);
    let mut sup = Supervised::start(&spec).await?;
    let chaos = Chaos::apply(&sup.api().await?, dir, &["only"], 0.0).await?;
    let epoch = Instant::now();
    let mut load_spec = LoadSpec::new(&chaos.url, "t4", 6.0);
    load_spec.workers = 8;
    let load = Load::start(load_spec, epoch);
    let mut windows = Vec::new();
    let mut last_up = Utc::now();
    // Whether an outage outlasted the controller lease (the process then stands down and
    // takes the lease back).
    let mut long_outage = false;
    let mut api_writes: Vec<(String, u16)> = Vec::new();
    for (i, &(down_for, immediate)) in restarts.iter().enumerate() {
        let wait = rng.random_range(gap.0..gap.1);
        sup.watch(Duration::from_secs_f64(wait), "between restarts", true)
            .await?;
        let down_ms = millis(epoch.elapsed());
        pg = tokio::task::spawn_blocking(move || pg.down(immediate).map(|_| pg)).await??;
        eprintln!(
            "  PostgreSQL stopped ({}) for {down_for:.1} s",
            if immediate { "immediate" } else { "fast" }
        );
        // The control API's writes go to the store: while it is away, 503 (never a 2xx).
        let name = format!("written-while-down-{}", i + 1);
        let api_write = match sup.current_api() {
            Some(api) => {
                let configmap = format!(
                    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  a: b\n"
                );
                api.apply_raw("down.yaml", &configmap)
                    .await
                    .map(|a| a.status)
                    .unwrap_or(0)
            }
            None => 0,
        };
        api_writes.push((name, api_write));
        let what = format!("while PostgreSQL was down ({down_for:.1} s)");
        sup.watch(Duration::from_secs_f64(down_for), &what, false)
            .await?;
        pg = tokio::task::spawn_blocking(move || pg.up().map(|_| pg)).await??;
        long_outage |= down_for >= LEASE_SECS;
        sup.ensure().await?;
        last_up = Utc::now();
        let up_ms = millis(epoch.elapsed());
        let attempts = load.attempts();
        let during = Tally::of(answered_between(&attempts, down_ms, up_ms));
        let first = first_2xx_after(&load, up_ms, Duration::from_secs(120)).await;
        windows.push(serde_json::json!({
            "restart": i + 1,
            "mode": if immediate { "immediate" } else { "fast" },
            "down_s": (down_for * 10.0).round() / 10.0,
            "answers_while_down": during.answers,
            "first_2xx_after_back_s": first.map(secs),
        }));
        report.check(
            &format!(
                "restart {}: recovered by itself (a 2xx after PostgreSQL back)",
                i + 1
            ),
            "yes",
            first.map_or("no".to_owned(), |d| {
                format!("after {:.1} s", d.as_secs_f64())
            }),
            first.is_some(),
        );
    }
    // Connection resets: every client connection cut every 200 ms, PostgreSQL itself up, so
    // a write can fail and the next one, a moment later, succeed.
    let resets_for = Duration::from_secs(if ctx.short { 5 } else { 30 });
    let resets_end = Instant::now() + resets_for;
    let mut cut = 0usize;
    let mut rounds = 0usize;
    while Instant::now() < resets_end {
        let (p, n) = tokio::task::spawn_blocking(move || {
            let n = pg.terminate_clients();
            (pg, n)
        })
        .await?;
        pg = p;
        cut += n?;
        rounds += 1;
        sup.watch(Duration::from_millis(200), "during connection resets", true)
            .await?;
    }
    report.figure(
        "connection resets",
        serde_json::json!({"seconds": resets_for.as_secs(), "rounds": rounds, "connections_cut": cut}),
    );
    sup.watch(Duration::from_secs(5), "after the last restart", true)
        .await?;
    // A process that loses the controller lease (PostgreSQL away longer than it) stands by
    // and takes it back: no exit at all is expected.
    let exits: Vec<String> = sup.exits.clone();
    let (attempts, _) = load.stop().await;
    let tally = Tally::of(&attempts);
    let api = sup.api().await?;
    let (verdict, waited) = chaos.settle(&api, &tally, Duration::from_secs(180)).await?;
    let last_finish = last_finished_at(&api).await?;
    report.figure("seed", ctx.seed);
    report.figure("restarts", &windows);
    report.figure("requests", tally.requests);
    report.figure("answers", &tally.answers);
    report.figure(
        "PostgreSQL back (last) → last run finished (s)",
        last_finish.map(|t| ((t - last_up).num_milliseconds() as f64 / 100.0).round() / 10.0),
    );
    report.figure("checker wait after the load stopped (s)", secs(waited));
    verdict_checks(report, &verdict);
    // Any 2xx to a control API write while the store was away must have been kept.
    let mut api_2xx_lost = Vec::new();
    for (name, status) in &api_writes {
        if (200..300).contains(status) {
            let answer = api
                .call(
                    reqwest::Method::GET,
                    &format!("/api/v1/namespaces/default/configmaps/{name}"),
                    None,
                )
                .await?;
            if answer.status != 200 {
                api_2xx_lost.push(name.clone());
            }
        }
    }
    let statuses: Vec<u16> = api_writes.iter().map(|(_, s)| *s).collect();
    report.check(
        "control API writes while PostgreSQL was down",
        "503 (0 = no answer; a 2xx only if kept)",
        format!("{statuses:?}"),
        api_2xx_lost.is_empty()
            && statuses
                .iter()
                .all(|s| *s == 503 || *s == 0 || (200..300).contains(s)),
    );
    report.check_zero(
        &format!(
            "server exits (with PostgreSQL away longer than the {LEASE_SECS} s lease too: it stands by)"
        ),
        &exits,
    );
    if long_outage {
        report.figure("outage longer than the controller lease", "yes");
    }
    let alive = sup.serving().await;
    report.check("server serving at the end", "yes", yes(alive), alive);
    if !exits.is_empty() {
        report.finding(format!(
            "the server exited by itself {} time(s): {}; it must stand by and recover in-process (reproduce: {})",
            exits.len(),
            exits.join("; "),
            report.reproduce
        ));
    }
    drop(sup);
    drop(pg);
    Ok(())
}
