//! The independent checker: what the load generator was told (which uids got a 2xx) against
//! what the API shows (the runs, each carrying its event's uid as the parameter `uid`) and
//! what the steps themselves wrote to a ledger file outside the server's reach.
//!
//! * lost: a uid answered 2xx with no run;
//! * duplicated: a uid with more than one run;
//! * stuck: a run not finished when the recovery deadline passed;
//! * phantom: a run for a uid that was never sent;
//! * re-run: a step that wrote its ledger line more than once for one uid.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Serialize;
use serde_json::Value;

use crate::api::Api;

/// A run as the checker sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunView {
    pub name: String,
    /// The value of the run's parameter `uid`.
    pub uid: Option<String>,
    pub phase: String,
}

impl RunView {
    /// The view of a Workflow object.
    pub fn of(workflow: &Value) -> RunView {
        let uid = workflow["spec"]["arguments"]["parameters"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == "uid"))
            .and_then(|p| p["value"].as_str())
            .map(str::to_owned);
        RunView {
            name: workflow["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            uid,
            phase: workflow["status"]["phase"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        }
    }

    pub fn finished(&self) -> bool {
        matches!(self.phase.as_str(), "Succeeded" | "Failed" | "Error")
    }
}

/// What the checker found. Lists are complete; the counts are their lengths.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verdict {
    /// Uids answered 2xx.
    pub accepted: usize,
    /// Runs seen.
    pub runs: usize,
    pub lost: Vec<String>,
    /// Uid → its runs, for uids with more than one.
    pub duplicates: BTreeMap<String, Vec<String>>,
    /// Runs not finished (name and phase).
    pub stuck: Vec<String>,
    /// Runs that ended Failed or Error.
    pub failed: Vec<String>,
    /// Runs whose uid was never sent (or that carry none).
    pub phantom: Vec<String>,
    /// Uids that never got a 2xx but ran anyway (the server recorded the event and the
    /// answer did not reach the sender): allowed, counted.
    pub ran_without_2xx: usize,
    /// `uid step ×n` for steps the ledger shows ran more than once.
    pub step_reruns: Vec<String>,
    /// `uid step` for steps of succeeded runs the ledger does not show at all.
    pub steps_missing: Vec<String>,
}

impl Verdict {
    /// Nothing lost, duplicated, stuck, failed, made up or run twice.
    pub fn clean(&self) -> bool {
        self.lost.is_empty()
            && self.duplicates.is_empty()
            && self.stuck.is_empty()
            && self.failed.is_empty()
            && self.phantom.is_empty()
            && self.step_reruns.is_empty()
            && self.steps_missing.is_empty()
    }

    /// Whether waiting longer could change the verdict: a lost uid may still get its run, a
    /// stuck run may still end.
    fn unsettled(&self) -> bool {
        !self.lost.is_empty() || !self.stuck.is_empty()
    }
}

/// Lines `<uid> <step>` a step appends to the ledger file each time it runs.
#[derive(Debug, Clone, Copy)]
pub struct Ledger<'a> {
    pub text: &'a str,
    /// The steps every succeeded run has.
    pub steps: &'a [&'a str],
}

/// Compares what was sent and accepted with the runs (and the step ledger).
pub fn check(
    sent: &BTreeSet<String>,
    accepted: &BTreeSet<String>,
    runs: &[RunView],
    ledger: Option<Ledger<'_>>,
) -> Verdict {
    let mut by_uid: BTreeMap<&str, Vec<&RunView>> = BTreeMap::new();
    let mut verdict = Verdict {
        accepted: accepted.len(),
        runs: runs.len(),
        ..Verdict::default()
    };
    for run in runs {
        match run.uid.as_deref() {
            Some(uid) if sent.contains(uid) => by_uid.entry(uid).or_default().push(run),
            other => {
                verdict
                    .phantom
                    .push(format!("{} (uid {})", run.name, other.unwrap_or("none")))
            }
        }
        if !run.finished() {
            let phase = if run.phase.is_empty() {
                "no phase"
            } else {
                &run.phase
            };
            verdict.stuck.push(format!("{} ({phase})", run.name));
        } else if run.phase != "Succeeded" {
            verdict.failed.push(format!("{} ({})", run.name, run.phase));
        }
    }
    verdict.lost = accepted
        .iter()
        .filter(|uid| !by_uid.contains_key(uid.as_str()))
        .cloned()
        .collect();
    verdict.ran_without_2xx = by_uid.keys().filter(|u| !accepted.contains(**u)).count();
    for (uid, runs) in &by_uid {
        if runs.len() > 1 {
            verdict.duplicates.insert(
                (*uid).to_owned(),
                runs.iter().map(|r| r.name.clone()).collect(),
            );
        }
    }
    if let Some(ledger) = ledger {
        let mut counts: BTreeMap<(&str, &str), usize> = BTreeMap::new();
        for line in ledger.text.lines() {
            let mut words = line.split_whitespace();
            if let (Some(uid), Some(step)) = (words.next(), words.next()) {
                *counts.entry((uid, step)).or_default() += 1;
            }
        }
        for ((uid, step), n) in &counts {
            if *n > 1 {
                verdict.step_reruns.push(format!("{uid} {step} ×{n}"));
            }
        }
        for (uid, runs) in &by_uid {
            if runs.iter().any(|r| r.phase == "Succeeded") {
                for step in ledger.steps {
                    if !counts.contains_key(&(*uid, *step)) {
                        verdict.steps_missing.push(format!("{uid} {step}"));
                    }
                }
            }
        }
    }
    verdict
}

/// Reads the runs of `namespace` until the verdict settles (every accepted uid has a run and
/// every run finished) or `deadline` passes; the last verdict and how long it took.
pub async fn settle(
    api: &Api,
    namespace: &str,
    sent: &BTreeSet<String>,
    accepted: &BTreeSet<String>,
    ledger: Option<(&std::path::Path, &[&str])>,
    deadline: Duration,
) -> Result<(Verdict, Duration)> {
    let began = Instant::now();
    let end = began + deadline;
    loop {
        let runs: Vec<RunView> = match api.runs(namespace).await {
            Ok(items) => items.iter().map(RunView::of).collect(),
            Err(e) if Instant::now() < end => {
                tracing_note(&format!("listing runs failed, trying again: {e:#}"));
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            Err(e) => return Err(e),
        };
        let text = match ledger {
            Some((path, _)) => std::fs::read_to_string(path).unwrap_or_default(),
            None => String::new(),
        };
        let verdict = check(
            sent,
            accepted,
            &runs,
            ledger.map(|(_, steps)| Ledger { text: &text, steps }),
        );
        if !verdict.unsettled() || Instant::now() >= end {
            return Ok((verdict, began.elapsed()));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn tracing_note(message: &str) {
    eprintln!("  checker: {message}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(name: &str, uid: &str, phase: &str) -> RunView {
        RunView {
            name: name.into(),
            uid: Some(uid.into()),
            phase: phase.into(),
        }
    }

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_clean_history_has_nothing_to_report() {
        let sent = set(&["a", "b", "c"]);
        let accepted = set(&["a", "b"]);
        let runs = [
            run("r1", "a", "Succeeded"),
            run("r2", "b", "Succeeded"),
            run("r3", "c", "Succeeded"),
        ];
        let ledger = "a first\na second\nb first\nb second\nc first\nc second\n";
        let v = check(
            &sent,
            &accepted,
            &runs,
            Some(Ledger {
                text: ledger,
                steps: &["first", "second"],
            }),
        );
        assert!(v.clean(), "{v:?}");
        assert_eq!((v.accepted, v.runs, v.ran_without_2xx), (2, 3, 1));
    }

    #[test]
    fn lost_duplicated_stuck_failed_and_phantom_runs_are_named() {
        let sent = set(&["a", "b", "c", "d"]);
        let accepted = set(&["a", "b", "c"]);
        let runs = [
            run("r1", "a", "Succeeded"),
            run("r2", "a", "Succeeded"),
            run("r3", "b", "Running"),
            run("r4", "d", "Failed"),
            run("r5", "zz", "Succeeded"),
            RunView {
                name: "r6".into(),
                uid: None,
                phase: String::new(),
            },
        ];
        let v = check(&sent, &accepted, &runs, None);
        assert_eq!(v.lost, ["c"]);
        assert_eq!(v.duplicates["a"], ["r1", "r2"]);
        assert_eq!(v.stuck, ["r3 (Running)", "r6 (no phase)"]);
        assert_eq!(v.failed, ["r4 (Failed)"]);
        assert_eq!(v.phantom, ["r5 (uid zz)", "r6 (uid none)"]);
        assert!(!v.clean());
        assert!(v.unsettled());
    }

    #[test]
    fn the_ledger_shows_steps_run_twice_or_never() {
        let sent = set(&["a", "b"]);
        let runs = [run("r1", "a", "Succeeded"), run("r2", "b", "Succeeded")];
        let ledger = "a first\na first\na second\nb first\n";
        let v = check(
            &sent,
            &sent,
            &runs,
            Some(Ledger {
                text: ledger,
                steps: &["first", "second"],
            }),
        );
        assert_eq!(v.step_reruns, ["a first ×2"]);
        assert_eq!(v.steps_missing, ["b second"]);
    }

    #[test]
    fn a_run_view_reads_the_uid_parameter_and_the_phase() {
        let wf = json!({
            "metadata": {"name": "chaos-x"},
            "spec": {"arguments": {"parameters": [{"name": "other", "value": "o"}, {"name": "uid", "value": "u-1"}]}},
            "status": {"phase": "Running"}
        });
        let view = RunView::of(&wf);
        assert_eq!(view, run("chaos-x", "u-1", "Running"));
        assert!(!view.finished());
        assert_eq!(RunView::of(&json!({})).uid, None);
    }
}
