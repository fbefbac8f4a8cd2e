//! B5, memory: the server's resident memory idle after start, then with runs waiting at an
//! approval gate. Each run is a Workflow whose entrypoint is `suspend: {}`; they are
//! submitted over the API with a bounded number of requests in flight, in batches up to each
//! milestone (1,000, 5,000, 10,000 by default). At each milestone, once the server counts
//! every run as Running, this program waits a second and reads `VmRSS` (resident now) and
//! `VmHWM` (the peak so far) from `/proc/PID/status`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::Serialize;
use tokio::runtime::Runtime;

use crate::backend::Env;
use crate::manifests;
use crate::output::{Machine, ModeOutcome, count, met, table};
use crate::prom;
use crate::server::{Api, Memory};

/// BENCHMARKS.md's goals for B5, in bytes (MB = 10^6 bytes).
pub const GOAL_IDLE_BYTES: u64 = 40_000_000;
pub const GOAL_SUSPENDED_BYTES: u64 = 150_000_000;
/// The run count the second goal is about.
pub const GOAL_RUNS: usize = 10_000;

/// How B5 runs.
#[derive(Debug, Clone, Serialize)]
pub struct Options {
    /// Runs in total.
    pub runs: usize,
    /// Submissions in flight at once.
    pub concurrency: usize,
    /// Seconds to wait after start before the idle reading.
    pub settle_secs: f64,
}

/// One reading.
#[derive(Debug, Clone, Serialize)]
pub struct Reading {
    /// Runs waiting at the gate.
    pub suspended: usize,
    pub memory: Memory,
    /// From the first submission to this milestone's last answer.
    pub submit_secs: f64,
    /// Until the server counted every run as Running.
    pub settled_secs: f64,
}

/// B5 of one mode.
#[derive(Debug, Clone, Serialize)]
pub struct ModeResult {
    pub readings: Vec<Reading>,
    pub idle_goal_met: bool,
    /// `None` when fewer than [`GOAL_RUNS`] runs were measured.
    pub suspended_goal_met: Option<bool>,
    pub server_log: PathBuf,
}

/// Everything `b5` writes.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub benchmark: &'static str,
    pub started_at: String,
    pub machine: Machine,
    pub options: Options,
    pub modes: Vec<ModeOutcome<ModeResult>>,
}

/// The milestones for `runs`: 1,000 and 5,000 when below it, then `runs`.
pub fn milestones(runs: usize) -> Vec<usize> {
    let mut m: Vec<usize> = [1000, 5000].into_iter().filter(|&x| x < runs).collect();
    if runs > 0 {
        m.push(runs);
    }
    m
}

/// B5 on a fresh server of `env`'s mode.
pub fn measure(rt: &Runtime, env: &Env<'_>, options: &Options) -> Result<ModeResult> {
    let started = env.start_fresh("b5")?;
    let log = started.server.log.clone();
    let api = Api::new(&started.server);
    let mode = env.mode.name();
    let measured = rt.block_on(async {
        tokio::time::sleep(Duration::from_secs_f64(options.settle_secs)).await;
        let mut readings = vec![Reading {
            suspended: 0,
            memory: started.server.memory()?,
            submit_secs: 0.0,
            settled_secs: 0.0,
        }];
        let manifest = Arc::new(manifests::suspended_workflow());
        let t0 = Instant::now();
        let mut submitted = 0;
        for milestone in milestones(options.runs) {
            submit(&api, &manifest, milestone - submitted, options.concurrency).await?;
            submitted = milestone;
            let submit_secs = t0.elapsed().as_secs_f64();
            wait_running(&api, milestone).await?;
            let settled_secs = t0.elapsed().as_secs_f64();
            tokio::time::sleep(Duration::from_secs(1)).await;
            let memory = started.server.memory()?;
            eprintln!(
                "b5 {mode}: {milestone} suspended runs, VmRSS {:.1} MB, VmHWM {:.1} MB ({submit_secs:.1} s to submit)",
                mb(memory.rss_kib),
                mb(memory.hwm_kib)
            );
            readings.push(Reading {
                suspended: milestone,
                memory,
                submit_secs,
                settled_secs,
            });
        }
        anyhow::Ok(readings)
    });
    env.finish(rt, started)?;
    let readings = measured.with_context(|| format!("the server's log is {}", log.display()))?;
    Ok(ModeResult {
        idle_goal_met: readings[0].memory.rss_kib * 1024 < GOAL_IDLE_BYTES,
        suspended_goal_met: readings
            .iter()
            .find(|r| r.suspended >= GOAL_RUNS)
            .map(|r| r.memory.rss_kib * 1024 < GOAL_SUSPENDED_BYTES),
        readings,
        server_log: log,
    })
}

/// Submits `n` runs of `manifest` with `concurrency` requests in flight.
async fn submit(api: &Api, manifest: &Arc<String>, n: usize, concurrency: usize) -> Result<()> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency.clamp(1, n.max(1)) {
        let (api, manifest, next) = (api.clone(), manifest.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < n {
                api.submit("gate.json", &manifest).await?;
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await.context("a submitter panicked")??;
    }
    Ok(())
}

/// Waits until the server counts at least `runs` runs as Running.
async fn wait_running(api: &Api, runs: usize) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let samples = prom::parse(&api.metrics().await?);
        let running = prom::sum(&samples, "argo_workflows_gauge", &[("phase", "Running")]);
        if running >= runs as f64 {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("only {running} of {runs} runs are Running after 300 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// KiB as MB (10^6 bytes).
fn mb(kib: u64) -> f64 {
    (kib * 1024) as f64 / 1e6
}

impl Report {
    pub fn render(&self) -> String {
        let mut out = format!(
            "B5 memory ({}; runs waiting at `suspend: {{}}`, {} submissions in flight; MB = 10^6 bytes)\n\n",
            self.machine.describe(),
            self.options.concurrency
        );
        let mut t = table(&[
            "mode",
            "suspended runs",
            "VmRSS",
            "VmHWM",
            "per run",
            "time to submit",
            "submits/s",
            "goal",
        ]);
        for m in &self.modes {
            let Some(r) = &m.result else { continue };
            let idle = r.readings[0].memory.rss_kib;
            for reading in &r.readings {
                let goal = if reading.suspended == 0 {
                    format!("< 40 MB: {}", met(r.idle_goal_met))
                } else if reading.suspended == GOAL_RUNS {
                    format!("< 150 MB: {}", met(r.suspended_goal_met.unwrap_or(false)))
                } else {
                    String::new()
                };
                let per_run = (reading.suspended > 0).then(|| {
                    (reading.memory.rss_kib.saturating_sub(idle) * 1024) as f64
                        / reading.suspended as f64
                        / 1000.0
                });
                t.add_row(vec![
                    m.mode.name().to_owned(),
                    count(reading.suspended as f64),
                    format!("{:.1} MB", mb(reading.memory.rss_kib)),
                    format!("{:.1} MB", mb(reading.memory.hwm_kib)),
                    per_run.map_or("-".into(), |kb| format!("{kb:.1} kB")),
                    if reading.suspended == 0 {
                        "-".into()
                    } else {
                        format!("{:.1} s", reading.submit_secs)
                    },
                    if reading.submit_secs > 0.0 {
                        count(reading.suspended as f64 / reading.submit_secs)
                    } else {
                        "-".into()
                    },
                    goal,
                ]);
            }
        }
        out.push_str(&t.to_string());
        out.push('\n');
        for line in self.modes.iter().filter_map(ModeOutcome::missing_line) {
            out.push_str(&line);
            out.push('\n');
        }
        out.push_str(
            "\nGoal (BENCHMARKS.md, B5): idle < 40 MB; with 10,000 suspended runs < 150 MB (VmRSS). Per run = (VmRSS - idle) / runs.\n",
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Mode;

    #[test]
    fn milestones_end_at_the_total() {
        assert_eq!(milestones(10_000), [1000, 5000, 10_000]);
        assert_eq!(milestones(3000), [1000, 3000]);
        assert_eq!(milestones(500), [500]);
        assert_eq!(milestones(5000), [1000, 5000]);
        assert!(milestones(0).is_empty());
    }

    #[test]
    fn the_report_shows_each_reading_and_the_goals() {
        let reading = |suspended, rss_kib| Reading {
            suspended,
            memory: Memory {
                rss_kib,
                hwm_kib: rss_kib + 100,
            },
            submit_secs: suspended as f64 / 1000.0,
            settled_secs: 0.0,
        };
        let report = Report {
            benchmark: "B5",
            started_at: "now".into(),
            machine: Machine {
                cpus: 2,
                cpu_model: None,
                memory_mib: None,
                load_average: None,
            },
            options: Options {
                runs: 10_000,
                concurrency: 16,
                settle_secs: 2.0,
            },
            modes: vec![ModeOutcome::of(
                Mode::Embedded,
                Ok(ModeResult {
                    readings: vec![reading(0, 20_000), reading(10_000, 120_000)],
                    idle_goal_met: true,
                    suspended_goal_met: Some(true),
                    server_log: PathBuf::from("b5.log"),
                }),
            )],
        };
        let text = report.render();
        assert!(text.contains("20.5 MB"), "{text}");
        assert!(text.contains("122.9 MB"), "{text}");
        assert!(text.contains("< 40 MB: met"), "{text}");
        assert!(text.contains("< 150 MB: met"), "{text}");
        // (120,000 - 20,000) KiB over 10,000 runs.
        assert!(text.contains("10.2 kB"), "{text}");
    }
}
