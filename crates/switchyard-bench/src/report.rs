//! The B3 report: tables for people, a JSON file for tools.

use std::path::{Path, PathBuf};

use anyhow::Result;
use comfy_table::Table;
use serde::Serialize;

use crate::b3::{Options, Workload};
use crate::output::table;
use crate::stats::GOAL_RATIO;

/// Everything `b3` writes to its JSON file.
#[derive(Debug, Serialize)]
pub struct B3Report<'a> {
    pub benchmark: &'static str,
    /// When the run started (RFC 3339).
    pub started_at: String,
    /// The goal: Switchyard's wall time at most this many times the durable floor.
    pub goal_ratio: f64,
    pub cpus: usize,
    pub switchyard: &'a Path,
    pub work_dir: &'a Path,
    pub poll_interval_ms: f64,
    pub repeat: usize,
    pub workloads: &'a [Workload],
}

impl<'a> B3Report<'a> {
    pub fn new(started_at: String, options: &'a Options, workloads: &'a [Workload]) -> Self {
        B3Report {
            benchmark: "B3 step scheduling overhead",
            started_at,
            goal_ratio: GOAL_RATIO,
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            switchyard: &options.switchyard,
            work_dir: &options.work_dir,
            poll_interval_ms: options.poll.as_secs_f64() * 1000.0,
            repeat: options.repeat,
            workloads,
        }
    }

    /// Writes the report as pretty JSON to `path`, creating its directory.
    pub fn write_json(&self, path: &Path) -> Result<PathBuf> {
        crate::output::write_json(self, path)
    }

    /// The tables and the goal's verdict, as printed on stdout.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "B3 step scheduling overhead ({} CPUs, {} round(s), medians; wall = submit → run's finishedAt)\n\n",
            self.cpus, self.repeat
        ));
        out.push_str(&self.main_table().to_string());
        out.push_str("\n\nWhere Switchyard's time goes (median round):\n\n");
        out.push_str(&self.detail_table().to_string());
        out.push_str(
            "\nBatches: the engine applying messages to a run (status writes not included); \
             p50/p99/max cover the run's last minute.\n\n",
        );
        out.push_str(&self.verdict());
        out.push('\n');
        out
    }

    fn main_table(&self) -> Table {
        let mut t = table(&[
            "workload",
            "steps",
            "switchyard wall",
            "durable floor",
            "ratio",
            "no-commit floor",
            "overhead/step",
            &format!("goal ≤ {GOAL_RATIO}x"),
        ]);
        for w in self.workloads {
            let mut row = vec![w.name.clone(), w.steps.to_string()];
            match (&w.measured, &w.error) {
                (Some(m), _) => row.extend([
                    millis(m.switchyard_wall_ms),
                    millis(m.durable_floor_ms),
                    m.ratio.map_or("-".into(), |r| format!("{r:.2}x")),
                    millis(m.no_commit_floor_ms),
                    m.overhead_per_step_ms
                        .map_or("-".into(), |o| format!("{o:.2} ms")),
                    if m.goal_met { "met" } else { "not met" }.to_string(),
                ]),
                (None, error) => row.extend([
                    format!("failed: {}", error.as_deref().unwrap_or("unknown error")),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                ]),
            }
            t.add_row(row);
        }
        t
    }

    fn detail_table(&self) -> Table {
        let mut t = table(&[
            "workload",
            "client-observed",
            "submit → started",
            "server CPU",
            "apply batches",
            "batch total",
            "batch mean/p50/p99/max",
            "step (supervisor) mean",
        ]);
        for w in self.workloads {
            let Some(s) = w.measured.as_ref().and_then(|m| m.median_sample()) else {
                continue;
            };
            let ops = s.operations.as_ref();
            t.add_row(vec![
                w.name.clone(),
                millis(s.client_ms),
                millis(s.submit_to_started_ms),
                millis(s.server_cpu_ms),
                ops.map_or("-".into(), |d| format!("{:.0}", d.count)),
                ops.map_or("-".into(), |d| millis(d.sum_seconds * 1000.0)),
                ops.map_or("-".into(), |d| {
                    format!(
                        "{} / {} / {} / {} ms",
                        fixed(d.mean_ms),
                        fixed(d.p50_ms),
                        fixed(d.p99_ms),
                        fixed(d.max_ms)
                    )
                }),
                s.step_durations
                    .as_ref()
                    .map_or("-".into(), |d| format!("{} ms", fixed(d.mean_ms))),
            ]);
        }
        t
    }

    fn verdict(&self) -> String {
        let measured: Vec<_> = self
            .workloads
            .iter()
            .filter_map(|w| w.measured.as_ref().map(|m| (w, m)))
            .collect();
        let missed: Vec<String> = measured
            .iter()
            .filter(|(_, m)| !m.goal_met)
            .map(|(w, m)| {
                format!(
                    "{} {}",
                    w.name,
                    m.ratio.map_or("-".into(), |r| format!("{r:.2}x"))
                )
            })
            .collect();
        let failed = self.workloads.len() - measured.len();
        let mut text = format!(
            "Goal (BENCHMARKS.md, B3): Switchyard ≤ {GOAL_RATIO}x the durable floor. Met for {} of {} workloads",
            measured.len() - missed.len(),
            self.workloads.len()
        );
        if !missed.is_empty() {
            text.push_str(&format!("; not met: {}", missed.join(", ")));
        }
        if failed > 0 {
            text.push_str(&format!("; {failed} failed to run"));
        }
        text.push('.');
        text
    }
}

fn millis(ms: f64) -> String {
    format!("{ms:.0} ms")
}

fn fixed(ms: Option<f64>) -> String {
    ms.map_or("-".into(), |v| format!("{v:.1}"))
}
