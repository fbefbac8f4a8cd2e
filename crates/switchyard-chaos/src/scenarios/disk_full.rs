//! T5: the store's disk full.
//!
//! The data directory (store and embedded bus) lives on a small filesystem of its own (tmpfs,
//! or a loop-mounted ext4 image); step scratch directories live elsewhere, so only the
//! store's writes fail. Under webhook load a filler file takes every free byte; the webhook
//! must answer 503 with `Retry-After` and no 2xx it cannot keep; the control API's writes
//! likewise. Then the filler goes, and the server must recover by itself with every 2xx
//! having exactly one run.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::json;

use crate::load::{Load, LoadSpec, Tally, millis};
use crate::scenarios::kill::yes;
use crate::scenarios::{
    Chaos, Supervised, answered_between, first_2xx_after, secs, verdict_checks,
};
use crate::services::SmallDisk;
use crate::{Ctx, Ran, report::ScenarioReport};

const FILLER: &str = "filler";

pub async fn run(ctx: &Ctx, dir: &Path, report: &mut ScenarioReport) -> Result<Ran> {
    // A `switchyard` under /tmp is copied into the data directory (steps get a private /tmp,
    // which would hide it), so the small disk must hold that copy too.
    let copied_mib = if ctx.binary.starts_with("/tmp") {
        std::fs::metadata(&ctx.binary).map_or(0, |m| m.len().div_ceil(1 << 20))
    } else {
        0
    };
    let disk = match SmallDisk::mount(&dir.join("disk"), 64 + copied_mib) {
        Ok(disk) => disk,
        Err(e) => return Ok(Ran::Skipped(format!("{e:#}"))),
    };
    // The short version stays under one lease renewal (5 s), so a renewal failing on the full
    // disk cannot stop the server; the long one shows what a longer outage does.
    let full_for = Duration::from_secs(if ctx.short { 4 } else { 60 });
    let mut spec = ctx.server(dir);
    spec.data_dir = disk.path.join("data");
    let steps = dir.join("steps");
    let spec = spec.with_args(["--steps-dir".to_owned(), steps.display().to_string()]);
    let mut sup = Supervised::start(&spec).await?;
    let chaos = Chaos::apply(&sup.api().await?, dir, &["only"], 0.0).await?;
    let epoch = Instant::now();
    let load = Load::start(LoadSpec::new(&chaos.url, "t5", 6.0), epoch);
    sup.watch(Duration::from_secs(3), "before the disk filled", true)
        .await?;

    let filled = disk.fill(FILLER)?;
    let full_ms = millis(epoch.elapsed());
    eprintln!(
        "  {} full: {filled} bytes of filler, {} bytes free",
        disk.kind,
        disk.free_bytes().unwrap_or(0)
    );
    // The control API while full: a ConfigMap write.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let configmap =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: written-while-full\ndata:\n  a: b\n";
    let api_write = sup.api().await?.apply_raw("full.yaml", configmap).await;
    sup.watch(full_for, "while the disk was full", false)
        .await?;
    let free_before = disk.free_bytes();
    disk.unfill(FILLER)?;
    sup.ensure().await?;
    let freed_ms = millis(epoch.elapsed());
    let first = first_2xx_after(&load, freed_ms, Duration::from_secs(120)).await;
    eprintln!("  space back; first 2xx after {first:?}");
    sup.watch(Duration::from_secs(5), "after space came back", true)
        .await?;
    let (attempts, _) = load.stop().await;
    let tally = Tally::of(&attempts);
    let during_all = answered_between(&attempts, full_ms + 200, freed_ms);
    let during = Tally::of(during_all.iter().copied());
    let api = sup.api().await?;
    let (verdict, waited) = chaos.settle(&api, &tally, Duration::from_secs(120)).await?;

    report.figure("filesystem", format!("{} of 64 MiB", disk.kind));
    report.figure("filler bytes", filled);
    report.figure("free bytes at the end of the full window", free_before);
    report.figure("answers while full", &during.answers);
    report.figure("answers overall", &tally.answers);
    report.figure("checker wait after the load stopped (s)", secs(waited));
    match &api_write {
        Ok(a) => report.figure(
            "control API write (apply a ConfigMap) while full",
            json!({"status": a.status, "body": a.body}),
        ),
        Err(e) => report.figure(
            "control API write (apply a ConfigMap) while full",
            format!("no answer: {e:#}"),
        ),
    }
    // The 2xx answered while full: the webhook may only say 2xx for what it recorded.
    let ok_while_full: Vec<String> = during_all
        .iter()
        .filter(|a| a.outcome.is_2xx())
        .map(|a| a.uid.clone())
        .collect();
    let kept: usize = ok_while_full
        .iter()
        .filter(|u| !verdict.lost.contains(u))
        .count();
    report.check(
        "2xx answered while the disk was full",
        "0",
        format!("{} ({kept} of them have their run)", ok_while_full.len()),
        ok_while_full.is_empty(),
    );
    let without_retry_after = during_all
        .iter()
        .filter(|a| matches!(&a.outcome, crate::load::Outcome::Status { code, retry_after: None } if *code >= 500))
        .count();
    report.check(
        "503 + Retry-After while full",
        "≥ 1, every 5xx with Retry-After",
        format!(
            "{} with, {without_retry_after} without",
            during.count("503+Retry-After")
        ),
        during.count("503+Retry-After") > 0 && without_retry_after == 0,
    );
    let api_status = api_write.as_ref().map(|a| a.status).unwrap_or(0);
    report.check(
        "control API write while full",
        "503",
        api_status.to_string(),
        api_status == 503,
    );
    report.check(
        "recovered by itself (first 2xx after space returned)",
        "yes",
        first.map_or("no".to_owned(), |d| {
            format!("after {:.1} s", d.as_secs_f64())
        }),
        first.is_some(),
    );
    verdict_checks(report, &verdict);
    report.check_zero("server exits", &sup.exits);
    if !sup.exits.is_empty() {
        report.finding(format!(
            "with the data directory's disk full for {} s the server stopped by itself ({}): renewing the controller lease is a store write, and once it has failed until the lease would expire the process exits (`stopped: the controller lease was lost`), even with the embedded store that no other process can share; it did not recover by itself when space returned — the harness (as a supervisor) started it again. Reproduce: {}",
            full_for.as_secs(),
            sup.exits.join("; "),
            report.reproduce
        ));
    }
    let alive = sup.serving().await;
    report.check("server serving at the end", "yes", yes(alive), alive);
    drop(sup);
    drop(disk);
    Ok(Ran::Done)
}
