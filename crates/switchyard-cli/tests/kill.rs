//! Kill -9 the real server while runs are in flight, start it again on the same data
//! directory, and check that every run finishes and every step ran exactly once.
//!
//! The runs: a chain of sleeping steps, a run waiting at an approval gate (resumed only
//! after the last restart), and a step that fails once and is retried after a backoff.
//! Each step appends its name to a file outside its scratch directory, so the test can
//! count how often each one really ran.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;
use support::{Server, data_dir, nodes, phase};

fn manifests(ledger: &Path) -> Vec<(&'static str, String)> {
    let ledger = ledger.display();
    let step = |name: &str, sleep: &str| {
        format!(
            "  - name: {name}\n    container:\n      image: alpine\n      command: [sh, -c]\n      args: ['echo \"$STEP\" | tee -a \"$LEDGER\"; sleep {sleep}']\n      env:\n        - {{name: STEP, value: {name}}}\n        - {{name: LEDGER, value: \"{ledger}\"}}\n"
        )
    };
    let chain = format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata:\n  name: chain\nspec:\n  entrypoint: main\n  templates:\n  - name: main\n    steps:\n    - - {{name: one, template: one}}\n    - - {{name: two, template: two}}\n    - - {{name: three, template: three}}\n    - - {{name: four, template: four}}\n{}{}{}{}",
        step("one", "1.5"),
        step("two", "1.5"),
        step("three", "1.5"),
        step("four", "0.5"),
    );
    let gate = format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata:\n  name: gate\nspec:\n  entrypoint: main\n  templates:\n  - name: main\n    steps:\n    - - {{name: plan, template: plan}}\n    - - {{name: approve, template: approve}}\n    - - {{name: apply, template: apply}}\n  - name: approve\n    suspend: {{}}\n{}{}",
        step("plan", "1"),
        step("apply", "0.2"),
    );
    let retry = format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata:\n  name: retry\nspec:\n  entrypoint: flaky\n  templates:\n  - name: flaky\n    retryStrategy:\n      limit: 3\n      backoff: {{duration: \"3s\"}}\n    container:\n      image: alpine\n      command: [sh, -c]\n      args: ['echo flaky >> \"$LEDGER\"; if [ -e \"$LEDGER.flaky\" ]; then exit 0; fi; touch \"$LEDGER.flaky\"; exit 1']\n      env:\n        - {{name: LEDGER, value: \"{ledger}\"}}\n"
    );
    vec![
        ("chain.yaml", chain),
        ("gate.yaml", gate),
        ("retry.yaml", retry),
    ]
}

fn ledger_counts(ledger: &Path) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for line in std::fs::read_to_string(ledger).unwrap_or_default().lines() {
        *counts.entry(line.to_string()).or_default() += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_survive_kill_9_and_each_step_runs_once() {
    let dir = data_dir("kill");
    let ledger = dir.join("ledger");
    let data = dir.join("data");

    let server = Server::start(&data);
    let api = server.client();
    for (file, content) in manifests(&ledger) {
        api.submit(file, &content).await.unwrap();
    }
    // Kill at several moments: while steps run, between steps, during the retry backoff
    // and while the gate waits.
    let mut server = Some(server);
    for pause_ms in [700u64, 1300, 900, 2100, 1600] {
        tokio::time::sleep(Duration::from_millis(pause_ms)).await;
        server.take().unwrap().kill9();
        server = Some(Server::start(&data));
    }
    let server = server.unwrap();
    let api = server.client();

    // The gate still waits; approve it now.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let run = api.run("gate").await;
        let waiting = nodes(&run)
            .iter()
            .any(|(d, n)| d == "approve" && n["phase"] == "Running");
        if waiting {
            break;
        }
        assert_ne!(phase(&run), "Succeeded", "the gate must wait for approval");
        assert!(
            Instant::now() < deadline,
            "the gate never reached approval: {run}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, body) = api
        .act(
            "gate",
            "resume",
            json!({"message": "approved after the crashes"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    for name in ["chain", "gate", "retry"] {
        loop {
            let run = api.run(name).await;
            let p = phase(&run);
            if p == "Succeeded" {
                break;
            }
            assert!(
                !["Failed", "Error"].contains(&p),
                "{name} ended {p}: {}",
                run["status"]
            );
            assert!(
                Instant::now() < deadline,
                "{name} still {p}: {}",
                run["status"]
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let counts = ledger_counts(&ledger);
    let expected: BTreeMap<String, usize> = [
        ("one", 1),
        ("two", 1),
        ("three", 1),
        ("four", 1),
        ("plan", 1),
        ("apply", 1),
        // Fails once, succeeds on its retry: two attempts, each run once.
        ("flaky", 2),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(counts, expected);
    let gate = api.run("gate").await;
    let approve = nodes(&gate)
        .into_iter()
        .find(|(d, _)| d == "approve")
        .unwrap()
        .1;
    assert_eq!(approve["resumedBy"], "admin");
    // Every step's log was kept, across the restarts: each step printed its name once.
    let logs = api.logs("chain").await;
    assert!(logs.iter().all(|l| l["stream"] != "stderr"), "{logs:?}");
    let mut printed: Vec<&str> = logs
        .iter()
        .filter(|l| l["stream"] == "stdout")
        .filter_map(|l| l["text"].as_str())
        .collect();
    printed.sort_unstable();
    assert_eq!(printed, ["four", "one", "three", "two"], "{logs:?}");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
