//! B3, step scheduling overhead: each [`Shape`] run by a fresh `switchyard up` and by the two
//! floor loops, in the same invocation, and the ratios between them.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use tokio::runtime::Runtime;

use crate::floor;
use crate::prom::{self, Distribution};
use crate::server::{Api, Server};
use crate::shapes::{STEP_PROGRAM, Shape};
use crate::stats;

/// How B3 runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// The `switchyard` binary to run.
    pub switchyard: PathBuf,
    /// Where each workload gets a directory with the server's data directory, its log and
    /// the floor journal (so both write to the same filesystem).
    pub work_dir: PathBuf,
    /// How often a run is read while it runs.
    pub poll: Duration,
    /// How many times each workload is measured; the report shows medians.
    pub repeat: usize,
    /// How long one run may take before the workload counts as failed.
    pub timeout: Duration,
    /// The workloads to run, by name, or all when empty.
    pub only: Vec<String>,
}

/// One measurement of Switchyard running a workload.
#[derive(Debug, Clone, Serialize)]
pub struct SwitchyardSample {
    /// The run's name.
    pub run: String,
    /// From just before the submit request was sent to the run's `status.finishedAt`.
    pub wall_ms: f64,
    /// From just before the submit request was sent to the answer of the poll that first saw
    /// the run finished (so up to one poll interval late).
    pub client_ms: f64,
    /// From the submit to the run's `status.startedAt`.
    pub submit_to_started_ms: f64,
    /// `status.startedAt` to `status.finishedAt`.
    pub started_to_finished_ms: f64,
    /// CPU time of the server process from just before the submit to the end (step
    /// supervisors excluded; polling included).
    pub server_cpu_ms: f64,
    /// How many times the run was read.
    pub polls: usize,
    /// Nodes of the finished run.
    pub nodes: usize,
    /// `argo_workflows_operation_duration_seconds` after the run: each observation is the
    /// engine applying one batch of messages to the run (the status write that follows is
    /// not included).
    pub operations: Option<Distribution>,
    /// `switchyard_step_duration_seconds{result="succeeded"}` after the run: each step's wall
    /// time as its supervisor saw it.
    pub step_durations: Option<Distribution>,
}

/// The medians of a workload's samples and what follows from them.
#[derive(Debug, Clone, Serialize)]
pub struct Measured {
    /// Median of [`SwitchyardSample::wall_ms`].
    pub switchyard_wall_ms: f64,
    /// Median of [`SwitchyardSample::client_ms`].
    pub switchyard_client_ms: f64,
    /// Median wall time of the durable floor (spawn + one committed row per step).
    pub durable_floor_ms: f64,
    /// Median wall time of the floor without commits.
    pub no_commit_floor_ms: f64,
    /// `switchyard_wall_ms / durable_floor_ms`.
    pub ratio: Option<f64>,
    /// `switchyard_wall_ms / no_commit_floor_ms`.
    pub ratio_to_no_commit: Option<f64>,
    /// `(switchyard_wall_ms - durable_floor_ms) / steps`.
    pub overhead_per_step_ms: Option<f64>,
    /// Whether `ratio` meets [`stats::GOAL_RATIO`].
    pub goal_met: bool,
    pub switchyard_samples: Vec<SwitchyardSample>,
    pub durable_floor_samples_ms: Vec<f64>,
    pub no_commit_floor_samples_ms: Vec<f64>,
}

impl Measured {
    /// The sample whose wall time is the median (the lower middle one for an even count).
    pub fn median_sample(&self) -> Option<&SwitchyardSample> {
        let mut samples: Vec<&SwitchyardSample> = self.switchyard_samples.iter().collect();
        samples.sort_by(|a, b| a.wall_ms.total_cmp(&b.wall_ms));
        samples.get(samples.len().saturating_sub(1) / 2).copied()
    }
}

/// One workload in the report: its shape, and its figures or why there are none.
#[derive(Debug, Clone, Serialize)]
pub struct Workload {
    pub name: String,
    pub description: String,
    pub steps: usize,
    pub parallelism: usize,
    pub measured: Option<Measured>,
    pub error: Option<String>,
}

/// Runs every selected workload; a workload that fails is reported with its error and the
/// others still run.
pub fn run(rt: &Runtime, options: &Options) -> Result<Vec<Workload>> {
    let shapes: Vec<Shape> = crate::shapes::B3_SHAPES
        .into_iter()
        .filter(|s| options.only.is_empty() || options.only.contains(&s.name()))
        .collect();
    if shapes.is_empty() {
        let known: Vec<String> = crate::shapes::B3_SHAPES.iter().map(Shape::name).collect();
        bail!(
            "--only {} names no B3 workload; they are: {}",
            options.only.join(","),
            known.join(", ")
        );
    }
    let mut workloads = Vec::new();
    for shape in shapes {
        let dir = options.work_dir.join(shape.name());
        let result = measure(rt, options, shape, &dir);
        if let Err(e) = &result {
            eprintln!("b3 {}: failed: {e:#}", shape.name());
        }
        workloads.push(Workload {
            name: shape.name(),
            description: shape.describe(),
            steps: shape.steps(),
            parallelism: shape.parallelism(),
            error: result.as_ref().err().map(|e| format!("{e:#}")),
            measured: result.ok(),
        });
    }
    Ok(workloads)
}

/// `options.repeat` rounds of: durable floor, floor without commits, Switchyard.
fn measure(rt: &Runtime, options: &Options, shape: Shape, dir: &Path) -> Result<Measured> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating the work directory {}", dir.display()))?;
    let stages = shape.stages();
    let journal = dir.join("floor.db");
    let mut durable = Vec::new();
    let mut no_commit = Vec::new();
    let mut samples = Vec::new();
    for round in 1..=options.repeat {
        let d = floor::run(&stages, STEP_PROGRAM, Some(&journal)).context("the durable floor")?;
        durable.push(ms(d));
        let n = floor::run(&stages, STEP_PROGRAM, None).context("the floor without commits")?;
        no_commit.push(ms(n));
        let s = measure_switchyard(rt, options, shape, dir)?;
        eprintln!(
            "b3 {} [{round}/{}]: durable floor {:.0} ms, no-commit floor {:.0} ms, switchyard {:.0} ms (client {:.0} ms)",
            shape.name(),
            options.repeat,
            ms(d),
            ms(n),
            s.wall_ms,
            s.client_ms
        );
        samples.push(s);
    }
    let median = |xs: &[f64]| stats::median(xs).unwrap_or(f64::NAN);
    let wall = median(&samples.iter().map(|s| s.wall_ms).collect::<Vec<_>>());
    let client = median(&samples.iter().map(|s| s.client_ms).collect::<Vec<_>>());
    let durable_ms = median(&durable);
    let no_commit_ms = median(&no_commit);
    let ratio = stats::ratio(wall, durable_ms);
    Ok(Measured {
        switchyard_wall_ms: wall,
        switchyard_client_ms: client,
        durable_floor_ms: durable_ms,
        no_commit_floor_ms: no_commit_ms,
        ratio,
        ratio_to_no_commit: stats::ratio(wall, no_commit_ms),
        overhead_per_step_ms: stats::overhead_per_step(wall, durable_ms, shape.steps()),
        goal_met: ratio.is_some_and(stats::meets_goal),
        switchyard_samples: samples,
        durable_floor_samples_ms: durable,
        no_commit_floor_samples_ms: no_commit,
    })
}

/// Starts a server on a fresh data directory, submits the workload, reads the run every
/// poll interval until it ends, checks it, and stops the server.
fn measure_switchyard(
    rt: &Runtime,
    options: &Options,
    shape: Shape,
    dir: &Path,
) -> Result<SwitchyardSample> {
    let data_dir = dir.join("data");
    match std::fs::remove_dir_all(&data_dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(e).with_context(|| {
                format!("removing the old data directory {}", data_dir.display())
            });
        }
    }
    let server = Server::start(&options.switchyard, &data_dir, &dir.join("server.log"))?;
    let api = Api::new(&server);
    let manifest = shape.manifest();
    let file_name = format!("{}.json", shape.name());
    let cpu_before = server.cpu_time()?;
    let (submitted_at, run, client, polls) = rt.block_on(async {
        let submitted_at = Utc::now();
        let t0 = Instant::now();
        let name = api.submit(&file_name, &manifest).await?;
        let mut polls = 0;
        loop {
            tokio::time::sleep(options.poll).await;
            let run = api.run(&name).await?;
            polls += 1;
            if matches!(phase(&run), "Succeeded" | "Failed" | "Error") {
                return anyhow::Ok((submitted_at, run, t0.elapsed(), polls));
            }
            if t0.elapsed() > options.timeout {
                bail!(
                    "run {name} did not finish within {:?} (phase {:?}); the server's log is {}",
                    options.timeout,
                    phase(&run),
                    server.log.display()
                );
            }
        }
    })?;
    let cpu = server.cpu_time()?.saturating_sub(cpu_before);
    let metrics = rt.block_on(api.metrics())?;
    let log = server.log.clone();
    server.stop()?;

    let name = run["metadata"]["name"].as_str().unwrap_or("").to_string();
    let nodes = check_run(shape, &run)
        .with_context(|| format!("run {name}; the server's log is {}", log.display()))?;
    let started = time_field(&run, "startedAt")?;
    let finished = time_field(&run, "finishedAt")?;
    let samples = prom::parse(&metrics);
    Ok(SwitchyardSample {
        run: name,
        wall_ms: ms_between(submitted_at, finished),
        client_ms: ms(client),
        submit_to_started_ms: ms_between(submitted_at, started),
        started_to_finished_ms: ms_between(started, finished),
        server_cpu_ms: ms(cpu),
        polls,
        nodes,
        operations: prom::distribution(&samples, "argo_workflows_operation_duration_seconds", &[]),
        step_durations: prom::distribution(
            &samples,
            "switchyard_step_duration_seconds",
            &[("result", "succeeded")],
        ),
    })
}

fn phase(run: &Value) -> &str {
    run["status"]["phase"].as_str().unwrap_or("")
}

/// The run succeeded with the DAG's node and one succeeded Pod node per step; its node count.
fn check_run(shape: Shape, run: &Value) -> Result<usize> {
    if phase(run) != "Succeeded" {
        bail!(
            "the run ended {} ({})",
            phase(run),
            run["status"]["message"].as_str().unwrap_or("no message")
        );
    }
    let nodes = run["status"]["nodes"]
        .as_object()
        .map(|m| m.values().collect::<Vec<_>>())
        .unwrap_or_default();
    let pods: Vec<&&Value> = nodes.iter().filter(|n| n["type"] == "Pod").collect();
    let succeeded = pods.iter().filter(|n| n["phase"] == "Succeeded").count();
    if nodes.len() != shape.expected_nodes() || pods.len() != shape.steps() {
        bail!(
            "the run has {} nodes, {} of them steps; expected {} nodes, {} of them steps",
            nodes.len(),
            pods.len(),
            shape.expected_nodes(),
            shape.steps()
        );
    }
    if succeeded != shape.steps() {
        bail!("only {succeeded} of its {} steps succeeded", shape.steps());
    }
    Ok(nodes.len())
}

fn time_field(run: &Value, field: &str) -> Result<DateTime<Utc>> {
    let text = run["status"][field]
        .as_str()
        .with_context(|| format!("the finished run has no status.{field}"))?;
    Ok(DateTime::parse_from_rfc3339(text)
        .with_context(|| format!("status.{field} {text:?} is not an RFC 3339 time"))?
        .with_timezone(&Utc))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn ms_between(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from)
        .num_microseconds()
        .map_or(f64::NAN, |us| us as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run_with(phase: &str, pods: usize, pod_phase: &str) -> Value {
        let mut nodes = serde_json::Map::new();
        nodes.insert("r".into(), json!({"type": "DAG", "phase": phase}));
        for i in 0..pods {
            nodes.insert(format!("p{i}"), json!({"type": "Pod", "phase": pod_phase}));
        }
        json!({"status": {"phase": phase, "nodes": nodes}})
    }

    #[test]
    fn a_complete_run_passes_the_check() {
        let shape = Shape::Chain { steps: 3 };
        assert_eq!(
            check_run(shape, &run_with("Succeeded", 3, "Succeeded")).unwrap(),
            4
        );
    }

    #[test]
    fn missing_steps_or_failures_fail_the_check() {
        let shape = Shape::Chain { steps: 3 };
        let err = check_run(shape, &run_with("Succeeded", 2, "Succeeded")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the run has 3 nodes, 2 of them steps; expected 4 nodes, 3 of them steps"
        );
        let err = check_run(shape, &run_with("Succeeded", 3, "Failed")).unwrap_err();
        assert_eq!(err.to_string(), "only 0 of its 3 steps succeeded");
        let err = check_run(shape, &run_with("Failed", 3, "Failed")).unwrap_err();
        assert_eq!(err.to_string(), "the run ended Failed (no message)");
    }

    #[test]
    fn times_keep_sub_second_precision() {
        let run = json!({"status": {
            "startedAt": "2026-01-01T00:00:00.250Z",
            "finishedAt": "2026-01-01T00:00:01.750500Z",
        }});
        let started = time_field(&run, "startedAt").unwrap();
        let finished = time_field(&run, "finishedAt").unwrap();
        assert_eq!(ms_between(started, finished), 1500.5);
        assert!(time_field(&run, "nope").is_err());
    }
}
