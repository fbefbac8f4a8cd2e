//! Every example listed in `../shared/corpus/RUNNABLE.tsv` runs on a real `switchyard up`,
//! with real step processes, and ends in the phase the list expects. `Suspended` examples
//! must wait at their suspend node; the test then supplies any `valueFrom.supplied` outputs
//! (the first allowed value, if the input has an `enum`), resumes them, and expects
//! `Succeeded`.
//!
//! Skipped with a message when the corpus is absent (a fresh clone outside CI).

#![allow(clippy::unwrap_used)]

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Api, Server, data_dir, nodes, phase};

/// Examples that do not reach their expected phase yet, each with the reason. The test
/// fails if one of them starts passing, so this list only ever shrinks.
const KNOWN_GAPS: &[(&str, &str)] = &[];

/// Rows whose expected phase in the list is not what Argo does, with the phase Argo ends
/// in and why; the test expects that phase instead.
const CORRECTIONS: &[(&str, &str, &str)] = &[(
    "retry-conditional.yaml",
    "Failed",
    "the script exits 1 or 2 at random and never 0; the retry expression retries only exit \
     codes above 1, so Argo ends the run Failed at the first exit code 1",
)];

/// Examples whose steps exit non-zero at random and rely on retries: each run fails with a
/// probability of 1-3% (two thirds per attempt over 9-11 attempts), by design.
const RANDOM: &[&str] = &[
    "retry-container.yaml",
    "retry-script.yaml",
    "retry-backoff.yaml",
    "template-defaults.yaml",
];

fn corpus() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    dir.join("RUNNABLE.tsv").exists().then_some(dir)
}

struct Row {
    file: String,
    expected: String,
}

fn rows(corpus: &Path) -> Vec<Row> {
    std::fs::read_to_string(corpus.join("RUNNABLE.tsv"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut cols = l.split('\t');
            let file = cols.next().unwrap().to_string();
            let listed = cols.next().unwrap().to_string();
            let expected = CORRECTIONS
                .iter()
                .find(|(f, _, _)| *f == file)
                .map_or(listed, |(_, phase, _)| (*phase).to_string());
            Row { file, expected }
        })
        .collect()
}

/// The suspend nodes a run is waiting at.
fn waiting_suspends(run: &Value) -> Vec<Value> {
    nodes(run)
        .into_iter()
        .map(|(_, n)| n)
        .filter(|n| n["type"] == "Suspend" && n["phase"] == "Running")
        .collect()
}

/// `name=value` for each supplied output of the suspend node's template.
fn supplied_values(run: &Value, node: &Value) -> Vec<String> {
    let template = node["templateName"].as_str().unwrap_or("");
    let templates = run["status"]["storedWorkflowTemplateSpec"]["templates"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let Some(t) = templates.iter().find(|t| t["name"] == template) else {
        return Vec::new();
    };
    let mut values = Vec::new();
    for p in t["outputs"]["parameters"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        if p["valueFrom"].get("supplied").is_none() {
            continue;
        }
        let name = p["name"].as_str().unwrap_or("");
        let input = t["inputs"]["parameters"]
            .as_array()
            .and_then(|ps| ps.iter().find(|i| i["name"] == name).cloned());
        let value = input
            .and_then(|i| i["enum"].get(0).and_then(Value::as_str).map(str::to_string))
            .unwrap_or_else(|| "approved".to_string());
        values.push(format!("{name}={value}"));
    }
    values
}

/// Submits one example and drives each of its runs to the end.
async fn run_example(api: &Api, row: &Row, content: &str) -> Result<(), String> {
    let names = api
        .submit(&row.file, content)
        .await
        .map_err(|body| format!("submit refused: {body}"))?;
    // A run with a `ttlStrategy` is deleted some seconds after it ends.
    let ttl = content.contains("ttlStrategy:");
    for name in names {
        drive(api, &name, &row.expected, ttl)
            .await
            .map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(())
}

/// The run, or `None` once it is deleted.
async fn read_run(api: &Api, name: &str) -> Result<Option<Value>, String> {
    let (status, body) = api
        .call(
            "GET",
            &format!("/api/v1/namespaces/default/workflows/{name}"),
            None,
        )
        .await;
    match status {
        200 => Ok(Some(body)),
        404 => Ok(None),
        other => Err(format!("reading the run answered {other}: {body}")),
    }
}

/// Waits for a run that reached its end to be deleted by its `ttlStrategy`.
async fn deleted_by_ttl(api: &Api, name: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(120);
    while read_run(api, name).await?.is_some() {
        if Instant::now() > deadline {
            return Err("ended, but its ttlStrategy never deleted it".to_owned());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

async fn drive(api: &Api, name: &str, expected: &str, ttl: bool) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut resumed = false;
    loop {
        let Some(run) = read_run(api, name).await? else {
            // Deleted: only a ttlStrategy does that, and only to a run that ended (this one
            // ended, and went, between two looks).
            return if ttl {
                Ok(())
            } else {
                Err("the run was deleted".to_owned())
            };
        };
        let p = phase(&run).to_string();
        if expected == "Suspended" && !resumed {
            let waiting = waiting_suspends(&run);
            if !waiting.is_empty() {
                for node in &waiting {
                    let values = supplied_values(&run, node);
                    let id = node["id"].as_str().unwrap();
                    if !values.is_empty() {
                        let (status, body) = api
                            .act(
                                name,
                                "set",
                                json!({"nodeFieldSelector": format!("id={id}"), "parameters": values}),
                            )
                            .await;
                        if status != 200 {
                            return Err(format!("set failed: {status} {body}"));
                        }
                    }
                }
                let (status, body) = api.act(name, "resume", json!({})).await;
                if status != 200 {
                    return Err(format!("resume failed: {status} {body}"));
                }
                resumed = true;
                continue;
            }
            if ["Succeeded", "Failed", "Error"].contains(&p.as_str()) {
                return Err(format!("ended {p} without waiting at a suspend node"));
            }
        } else if ["Succeeded", "Failed", "Error"].contains(&p.as_str()) {
            let want = if expected == "Suspended" {
                "Succeeded"
            } else {
                expected
            };
            if p == want {
                return if ttl {
                    deleted_by_ttl(api, name).await
                } else {
                    Ok(())
                };
            }
            let problems: Vec<String> = nodes(&run)
                .into_iter()
                .filter_map(|(d, n)| n["message"].as_str().map(|m| format!("{d}: {m}")))
                .collect();
            return Err(format!(
                "ended {p}, expected {want}: {} [{}]",
                run["status"]["message"].as_str().unwrap_or(""),
                problems.join("; ")
            ));
        }
        if Instant::now() > deadline {
            return Err(format!("still {p} after 240 s"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_runnable_example_reaches_its_expected_phase() {
    let Some(corpus) = corpus() else {
        eprintln!("skipped: ../shared/corpus/RUNNABLE.tsv not found");
        return;
    };
    let dir = data_dir("runnable");
    let server = Server::start(&dir);
    let api = server.client();
    let rows = rows(&corpus);
    let mut tasks = Vec::new();
    for row in rows {
        let content =
            std::fs::read_to_string(corpus.join("argo-workflows/examples").join(&row.file))
                .unwrap();
        let api = api.clone();
        tasks.push(tokio::spawn(async move {
            // An example that is random by design gets more runs; one must reach the phase.
            let attempts = if RANDOM.contains(&row.file.as_str()) {
                3
            } else {
                1
            };
            let mut outcome = Ok(());
            for _ in 0..attempts {
                outcome = run_example(&api, &row, &content).await;
                if outcome.is_ok() {
                    break;
                }
            }
            (row.file, outcome)
        }));
    }
    let mut failures = Vec::new();
    let mut passed = 0;
    let mut total = 0;
    for t in tasks {
        let (file, outcome) = t.await.unwrap();
        total += 1;
        let gap = KNOWN_GAPS.iter().find(|(f, _)| *f == file);
        match (outcome, gap) {
            (Ok(()), None) => passed += 1,
            (Ok(()), Some(_)) => {
                failures.push(format!("{file}: passes now; remove it from KNOWN_GAPS"))
            }
            (Err(e), None) => failures.push(format!("{file}: {e}")),
            (Err(e), Some((_, why))) => eprintln!("known gap: {file}: {why}\n    {e}"),
        }
    }
    eprintln!("RUNNABLE.tsv: {passed} of {total} examples reached their expected phase");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let _ = std::fs::remove_dir_all(&dir);
}
