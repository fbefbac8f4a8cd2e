//! B6, cold start: from spawning `switchyard up` to the first 200 answer of `GET /healthz`
//! (polled every millisecond over fresh connections), then SIGTERM and wait for the exit
//! before the next start. Four cases, each repeated:
//!
//! * **fresh**: a new data directory (distributed: a new schema and stream), `--no-platform`;
//! * **existing**: the same data directory (and schema and stream) every time, prepared by
//!   one untimed start;
//! * **fresh + platform** and **existing + platform**: the same with the bundled platform
//!   (`examples/platform`, applied at every start with `--platform`, its webhook port moved
//!   to a free one), which is what `switchyard up` does on a first start by default.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;
use tokio::runtime::Runtime;

use crate::backend::{Backends, Env, Mode, remove_dir};
use crate::output::{Machine, ModeOutcome, met, ms, table_left};
use crate::stats::Summary;

/// BENCHMARKS.md's goal for B6.
pub const GOAL_MS: f64 = 300.0;

/// How B6 runs.
#[derive(Debug, Clone, Serialize)]
pub struct Options {
    pub repeat: usize,
    /// Also measure the starts with the bundled platform.
    pub with_platform: bool,
}

/// One case's starts.
#[derive(Debug, Clone, Serialize)]
pub struct Case {
    pub name: String,
    pub samples_ms: Vec<f64>,
    pub summary: Option<Summary>,
    pub goal_met: bool,
    pub error: Option<String>,
}

/// B6 of one mode.
#[derive(Debug, Clone, Serialize)]
pub struct ModeResult {
    pub cases: Vec<Case>,
}

/// Everything `b6` writes.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub benchmark: &'static str,
    pub started_at: String,
    pub machine: Machine,
    pub options: Options,
    pub modes: Vec<ModeOutcome<ModeResult>>,
}

impl Case {
    pub fn of(name: &str, result: Result<Vec<f64>>) -> Case {
        match result {
            Ok(samples) => {
                let summary = Summary::of_ms(&samples);
                Case {
                    name: name.to_owned(),
                    goal_met: summary.as_ref().is_some_and(|s| s.p50_ms < GOAL_MS),
                    summary,
                    samples_ms: samples,
                    error: None,
                }
            }
            Err(e) => Case {
                name: name.to_owned(),
                samples_ms: Vec::new(),
                summary: None,
                goal_met: false,
                error: Some(format!("{e:#}")),
            },
        }
    }
}

/// The bundled platform, copied to `dir` with its webhook port moved to `port`.
fn platform_copy(dir: &Path, port: u16) -> Result<Option<PathBuf>> {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/platform");
    if !source.is_dir() {
        return Ok(None);
    }
    remove_dir(dir)?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for entry in
        std::fs::read_dir(&source).with_context(|| format!("reading {}", source.display()))?
    {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?
            .replace("\"12000\"", &format!("\"{port}\""));
        let Some(name) = path.file_name() else {
            continue;
        };
        std::fs::write(dir.join(name), text)
            .with_context(|| format!("writing the platform copy in {}", dir.display()))?;
    }
    Ok(Some(dir.to_path_buf()))
}

/// B6 in `env`'s mode.
pub fn measure(
    rt: &Runtime,
    env: &Env<'_>,
    backends: Option<&Backends>,
    options: &Options,
) -> Result<ModeResult> {
    let mode = env.mode.name();
    let platform = if options.with_platform {
        platform_copy(&env.work_dir.join("platform"), crate::b1::free_port()?)?
    } else {
        None
    };
    let mut cases = Vec::new();
    let mut variants: Vec<(String, Option<&Path>)> = vec![("no platform".into(), None)];
    if let Some(p) = &platform {
        variants.push(("bundled platform".into(), Some(p.as_path())));
    }
    for (label, platform) in variants {
        let fresh = (0..options.repeat)
            .map(|i| start_once(rt, env, backends, &format!("fresh-{i}"), platform))
            .collect::<Result<Vec<f64>>>();
        let name = format!("fresh, {label}");
        eprintln!("b6 {mode}: {name}: {fresh:?}");
        cases.push(Case::of(&name, fresh));
        let existing = existing(rt, env, backends, platform, options.repeat);
        let name = format!("existing, {label}");
        eprintln!("b6 {mode}: {name}: {existing:?}");
        cases.push(Case::of(&name, existing));
    }
    Ok(ModeResult { cases })
}

/// One start on a fresh data directory: its time to `/healthz`, in ms.
fn start_once(
    rt: &Runtime,
    env: &Env<'_>,
    backends: Option<&Backends>,
    name: &str,
    platform: Option<&Path>,
) -> Result<f64> {
    let data_dir = env.work_dir.join(name);
    remove_dir(&data_dir)?;
    let distributed = match env.mode {
        Mode::Embedded => None,
        Mode::Distributed => backends.map(Backends::fresh),
    };
    let started = env.start_on(&data_dir, distributed, platform)?;
    let ready = started.ready;
    env.finish(rt, started)?;
    Ok(ready.as_secs_f64() * 1000.0)
}

/// `repeat` starts on one data directory (and schema and stream), after an untimed first.
fn existing(
    rt: &Runtime,
    env: &Env<'_>,
    backends: Option<&Backends>,
    platform: Option<&Path>,
    repeat: usize,
) -> Result<Vec<f64>> {
    let data_dir = env.work_dir.join("existing");
    remove_dir(&data_dir)?;
    let distributed = match env.mode {
        Mode::Embedded => None,
        Mode::Distributed => backends.map(Backends::fresh),
    };
    let first = env.start_on(&data_dir, distributed.clone(), platform)?;
    first.server.stop()?;
    let mut samples = Vec::with_capacity(repeat);
    let mut outcome = Ok(());
    for _ in 0..repeat {
        match env.start_on(&data_dir, distributed.clone(), platform) {
            Ok(started) => {
                samples.push(started.ready.as_secs_f64() * 1000.0);
                if let Err(e) = started.server.stop() {
                    outcome = Err(e);
                    break;
                }
            }
            Err(e) => {
                outcome = Err(e);
                break;
            }
        }
    }
    if let Some(d) = &distributed {
        rt.block_on(d.remove())?;
    }
    if !env.keep_data {
        remove_dir(&data_dir)?;
    }
    outcome.map(|()| samples)
}

impl Report {
    pub fn render(&self) -> String {
        let mut out = format!(
            "B6 cold start: `switchyard up` until GET /healthz answers 200 ({}; {} starts per case)\n\n",
            self.machine.describe(),
            self.options.repeat
        );
        let mut t = table_left(&["mode", "case", "p50", "max", "min", "goal"], 2);
        for m in &self.modes {
            let Some(r) = &m.result else { continue };
            for c in &r.cases {
                let s = c.summary.as_ref();
                t.add_row(vec![
                    m.mode.name().to_owned(),
                    c.name.clone(),
                    ms(s.map(|s| s.p50_ms)),
                    ms(s.map(|s| s.max_ms)),
                    ms(s.map(|s| s.min_ms)),
                    match &c.error {
                        Some(e) => format!("failed: {e}"),
                        None => format!("p50 < {GOAL_MS} ms: {}", met(c.goal_met)),
                    },
                ]);
            }
        }
        out.push_str(&t.to_string());
        out.push('\n');
        for line in self.modes.iter().filter_map(ModeOutcome::missing_line) {
            out.push_str(&line);
            out.push('\n');
        }
        out.push_str(&format!(
            "\nGoal (BENCHMARKS.md, B6): < {GOAL_MS} ms (judged on the median; the max is shown).\n"
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_case_is_judged_on_its_median() {
        let c = Case::of("fresh", Ok(vec![120.0, 400.0, 150.0]));
        assert!(c.goal_met);
        assert_eq!(c.summary.as_ref().unwrap().max_ms, 400.0);
        let slow = Case::of("fresh", Ok(vec![320.0, 310.0, 150.0]));
        assert!(!slow.goal_met);
        let failed = Case::of("existing", Err(anyhow::anyhow!("no binary")));
        assert_eq!(failed.error.as_deref(), Some("no binary"));
        assert!(!failed.goal_met);
    }

    #[test]
    fn the_platform_copy_moves_the_webhook_port() {
        let dir = tempfile::tempdir().unwrap();
        let copy = platform_copy(&dir.path().join("p"), 4711).unwrap().unwrap();
        let source = std::fs::read_to_string(copy.join("eventsource.yaml")).unwrap();
        assert!(source.contains("\"4711\""), "{source}");
        assert!(!source.contains("\"12000\""), "{source}");
    }

    #[test]
    fn the_report_has_a_row_per_case() {
        let report = Report {
            benchmark: "B6",
            started_at: "now".into(),
            machine: Machine {
                cpus: 2,
                cpu_model: None,
                memory_mib: None,
                load_average: None,
            },
            options: Options {
                repeat: 3,
                with_platform: true,
            },
            modes: vec![ModeOutcome::of(
                Mode::Embedded,
                Ok(ModeResult {
                    cases: vec![
                        Case::of("fresh, no platform", Ok(vec![100.0, 110.0, 120.0])),
                        Case::of("existing, no platform", Err(anyhow::anyhow!("boom"))),
                    ],
                }),
            )],
        };
        let text = report.render();
        assert!(text.contains("110.0 ms"), "{text}");
        assert!(text.contains("p50 < 300 ms: met"), "{text}");
        assert!(text.contains("failed: boom"), "{text}");
    }
}
