//! T7: poison events, which make a filter or a trigger template fail.
//!
//! Two Sensors listen to one webhook (see [`crate::manifests::poison_platform`]):
//! `filter-poison` has a Lua filter that raises an error on `poison: true`; `template-poison`
//! reads a trigger parameter from `body.required`, with no default, so an event without it
//! cannot be turned into a run. Good events, filter poison and template poison are sent in
//! turn (each a CloudEvent whose id is its uid, so the ledger can be asked about it). Then:
//! every good event has one run from each sensor, events after a poison one still flow, and
//! the poison leaves a record with its reason in the event ledger (`GET /api/v1/events`).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use serde_json::{Value, json};

use crate::manifests::{ENDPOINT, NAMESPACE, poison_platform};
use crate::process::{free_port, wait_reachable};
use crate::scenarios::kill::yes;
use crate::scenarios::start;
use crate::{Ctx, Ran, report::ScenarioReport};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Good,
    FilterPoison,
    TemplatePoison,
}

pub async fn run(ctx: &Ctx, dir: &Path, report: &mut ScenarioReport) -> Result<Ran> {
    let rounds = if ctx.short { 3 } else { 25 };
    let spec = ctx.server(dir);
    let mut server = start(&spec).await?;
    let api = server.api();
    let port = free_port()?;
    api.apply("poison.yaml", &poison_platform(port)).await?;
    wait_reachable(&format!("127.0.0.1:{port}"), Duration::from_secs(30)).await?;
    let url = format!("http://127.0.0.1:{port}{ENDPOINT}");
    let http = reqwest::Client::new();

    let mut sent: Vec<(String, Kind)> = Vec::new();
    for round in 0..rounds {
        let mut batch = Vec::new();
        for i in 0..4 {
            batch.push((format!("good-{round}-{i}"), Kind::Good));
        }
        batch.push((format!("filter-poison-{round}"), Kind::FilterPoison));
        for i in 4..8 {
            batch.push((format!("good-{round}-{i}"), Kind::Good));
        }
        batch.push((format!("template-poison-{round}"), Kind::TemplatePoison));
        sent.extend(batch);
    }
    let mut answers: BTreeMap<u16, usize> = BTreeMap::new();
    for (uid, kind) in &sent {
        let body = match kind {
            Kind::Good => json!({"uid": uid, "required": "yes"}),
            Kind::FilterPoison => json!({"uid": uid, "required": "yes", "poison": true}),
            Kind::TemplatePoison => json!({"uid": uid}),
        };
        let resp = http
            .post(&url)
            .header("ce-id", uid.as_str())
            .header("ce-source", "switchyard-chaos")
            .header("ce-type", "chaos.poison")
            .header("ce-specversion", "1.0")
            .json(&body)
            .send()
            .await?;
        *answers.entry(resp.status().as_u16()).or_default() += 1;
    }
    report.check(
        "webhook answers",
        format!("200 × {}", sent.len()),
        format!("{answers:?}"),
        answers.get(&200) == Some(&sent.len()),
    );

    // Which uids each sensor must turn into runs.
    let wanted = |sensor: &str| -> Vec<String> {
        sent.iter()
            .filter(|(_, k)| match sensor {
                "filter-poison" => *k != Kind::FilterPoison,
                _ => *k != Kind::TemplatePoison,
            })
            .map(|(u, _)| u.clone())
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(if ctx.short { 60 } else { 180 });
    let mut by_sensor: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    loop {
        by_sensor.clear();
        for run in api.runs(NAMESPACE).await? {
            let sensor = run["metadata"]["labels"]["events.switchyard.dev/sensor"]
                .as_str()
                .unwrap_or("")
                .to_owned();
            let uid = crate::checker::RunView::of(&run).uid.unwrap_or_default();
            *by_sensor.entry(sensor).or_default().entry(uid).or_default() += 1;
        }
        let complete = ["filter-poison", "template-poison"].iter().all(|s| {
            let have = by_sensor.get(*s);
            wanted(s)
                .iter()
                .all(|u| have.is_some_and(|h| h.contains_key(u)))
        });
        if complete || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // A little longer: a run that should not exist would show up now.
    tokio::time::sleep(Duration::from_secs(2)).await;

    for sensor in ["filter-poison", "template-poison"] {
        let have = by_sensor.get(sensor).cloned().unwrap_or_default();
        let missing: Vec<String> = wanted(sensor)
            .into_iter()
            .filter(|u| !have.contains_key(u))
            .collect();
        report.check_zero(
            &format!("{sensor}: good events without their run (events kept flowing)"),
            &missing,
        );
        let twice: Vec<String> = have
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(u, n)| format!("{u} ×{n}"))
            .collect();
        report.check_zero(&format!("{sensor}: events with more than one run"), &twice);
        let poison = if sensor == "filter-poison" {
            "filter-poison-"
        } else {
            "template-poison-"
        };
        let poisoned_runs: Vec<String> = have
            .keys()
            .filter(|u| u.starts_with(poison))
            .cloned()
            .collect();
        report.check_zero(
            &format!("{sensor}: runs from its poison events"),
            &poisoned_runs,
        );
    }

    // What the ledger says about each poison event.
    let mut filter_records = Vec::new();
    let mut template_records = Vec::new();
    let mut filter_bad = Vec::new();
    let mut template_bad = Vec::new();
    for (uid, kind) in &sent {
        let sensor = match kind {
            Kind::Good => continue,
            Kind::FilterPoison => "filter-poison",
            Kind::TemplatePoison => "template-poison",
        };
        let records = api.events(&format!("sensor={sensor}&event={uid}")).await?;
        let summary = record_summary(&records);
        match kind {
            Kind::FilterPoison => {
                let dep = &records
                    .first()
                    .map(|r| r["outcome"]["dependencies"][0].clone());
                let ok = records.len() == 1
                    && dep.as_ref().is_some_and(|d| {
                        d["result"] == "failed"
                            && d["reason"]
                                .as_str()
                                .is_some_and(|r| r.contains("poisoned event"))
                    });
                if !ok {
                    filter_bad.push(format!("{uid}: {summary}"));
                }
                filter_records.push(summary);
            }
            _ => {
                let firing = records.first().map(|r| r["firings"][0].clone());
                let ok = records.len() == 1
                    && firing.as_ref().is_some_and(|f| {
                        f["status"] == "dead" && f["detail"].as_str().is_some_and(|d| !d.is_empty())
                    });
                if !ok {
                    template_bad.push(format!("{uid}: {summary}"));
                }
                template_records.push(summary);
            }
        }
    }
    report.check_zero(
        "filter poison: one ledger record, dependency `failed` with the error as reason",
        &filter_bad,
    );
    report.check_zero(
        "template poison: one ledger record, firing `dead` with the reason",
        &template_bad,
    );
    report.figure("events sent", sent.len());
    report.figure(
        "ledger record of a filter poison event",
        filter_records.first().cloned().unwrap_or(Value::Null),
    );
    report.figure(
        "ledger record of a template poison event",
        template_records.first().cloned().unwrap_or(Value::Null),
    );
    if let Some(first) = filter_records.first() {
        report.finding(format!(
            "a filter that fails on an event: the sensor records the event as consumed with the dependency `failed` and the filter's error as reason ({}); no firing and no dead letter are made (so no dlqTrigger runs for it), the event is acknowledged and not delivered again, later events flow",
            first["dependencies"]
        ));
    }
    if let Some(first) = template_records.first() {
        report.finding(format!(
            "a trigger template that cannot be resolved: the firing is recorded at once with status `dead` and the reason ({}), visible in GET /api/v1/events?sensor=…&event=…; later events flow",
            first["firings"]
        ));
    }
    let alive = server.exited().is_none() && api.healthy().await;
    report.check("server serving at the end", "yes", yes(alive), alive);
    if sent.is_empty() {
        bail!("nothing was sent");
    }
    Ok(Ran::Done)
}

/// The parts of ledger records a reader needs: count, dependency verdicts, firings.
fn record_summary(records: &[Value]) -> Value {
    match records {
        [] => json!({"records": 0}),
        [r, ..] => json!({
            "records": records.len(),
            "dependencies": r["outcome"]["dependencies"],
            "firings": r["firings"].as_array().map(|fs| fs.iter().map(|f| json!({
                "trigger": f["trigger"], "status": f["status"], "detail": f["detail"],
                "attempts": f["attempts"],
            })).collect::<Vec<_>>()),
        }),
    }
}
