//! B2, trigger latency: from an event accepted by the webhook (its 2xx received) to the run
//! its Sensor starts, to the first step's process running. Events are sent one at a time,
//! each after the run of the one before has ended, so no event waits behind another.
//!
//! The times, all read from the same machine's real-time clock:
//!
//! * *sent* and *accepted*: this program, just before the POST and when its 2xx arrived;
//! * *run started*: the run's `status.startedAt`, when the controller applied the submit to
//!   the stored run (RFC 3339 with sub-second digits; `metadata.creationTimestamp` has whole
//!   seconds only and is not used);
//! * *supervisor started*: the step node's `step.handle.startedAt`, when the runner had
//!   spawned the step's supervisor process (`switchyard __step`), after the run's status
//!   with the new step was written;
//! * *process started*: the step itself, `date +%s%N` (nanoseconds) run as the container's
//!   command with no shell, read back from the node's `outputs.result`.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use tokio::runtime::Runtime;

use crate::backend::{Env, Mode};
use crate::load::{Answer, Connection, Target};
use crate::manifests::{self, RunName};
use crate::output::{Machine, ModeOutcome, met, ms, table_left};
use crate::server::Api;
use crate::stats::Summary;

/// BENCHMARKS.md's goals for B2: p99 of accepted → process started.
pub const GOAL_P99_EMBEDDED_MS: f64 = 10.0;
pub const GOAL_P99_DISTRIBUTED_MS: f64 = 25.0;

/// How B2 runs.
#[derive(Debug, Clone, Serialize)]
pub struct Options {
    /// Measured events.
    pub events: usize,
    /// Events sent first and not measured.
    pub warmup: usize,
    /// How often a run is read while this program waits for it to end.
    pub poll_ms: u64,
    /// How long one event's run may take to end.
    pub timeout_secs: u64,
}

/// The times of one event, in nanoseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Sample {
    pub sent_ns: i64,
    pub accepted_ns: i64,
    pub run_started_ns: i64,
    pub supervisor_started_ns: i64,
    pub process_started_ns: i64,
}

/// The segments of a sample, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segments {
    pub sent_to_accepted: f64,
    pub accepted_to_run: f64,
    pub run_to_supervisor: f64,
    pub supervisor_to_process: f64,
    pub run_to_process: f64,
    pub accepted_to_process: f64,
}

impl Sample {
    pub fn segments(&self) -> Segments {
        let ms = |from: i64, to: i64| (to - from) as f64 / 1e6;
        Segments {
            sent_to_accepted: ms(self.sent_ns, self.accepted_ns),
            accepted_to_run: ms(self.accepted_ns, self.run_started_ns),
            run_to_supervisor: ms(self.run_started_ns, self.supervisor_started_ns),
            supervisor_to_process: ms(self.supervisor_started_ns, self.process_started_ns),
            run_to_process: ms(self.run_started_ns, self.process_started_ns),
            accepted_to_process: ms(self.accepted_ns, self.process_started_ns),
        }
    }
}

/// The distribution of each segment over the samples.
#[derive(Debug, Clone, Serialize)]
pub struct Distributions {
    pub sent_to_accepted: Option<Summary>,
    pub accepted_to_run_started: Option<Summary>,
    pub run_started_to_supervisor_started: Option<Summary>,
    pub supervisor_started_to_process_started: Option<Summary>,
    pub run_started_to_process_started: Option<Summary>,
    /// The goal's figure.
    pub accepted_to_process_started: Option<Summary>,
}

impl Distributions {
    pub fn of(samples: &[Sample]) -> Distributions {
        let segments: Vec<Segments> = samples.iter().map(Sample::segments).collect();
        let of =
            |f: fn(&Segments) -> f64| Summary::of_ms(&segments.iter().map(f).collect::<Vec<_>>());
        Distributions {
            sent_to_accepted: of(|s| s.sent_to_accepted),
            accepted_to_run_started: of(|s| s.accepted_to_run),
            run_started_to_supervisor_started: of(|s| s.run_to_supervisor),
            supervisor_started_to_process_started: of(|s| s.supervisor_to_process),
            run_started_to_process_started: of(|s| s.run_to_process),
            accepted_to_process_started: of(|s| s.accepted_to_process),
        }
    }

    fn rows(&self) -> [(&'static str, Option<&Summary>); 6] {
        [
            ("sent → accepted (2xx)", self.sent_to_accepted.as_ref()),
            (
                "accepted → run started",
                self.accepted_to_run_started.as_ref(),
            ),
            (
                "run started → supervisor started",
                self.run_started_to_supervisor_started.as_ref(),
            ),
            (
                "supervisor started → process started",
                self.supervisor_started_to_process_started.as_ref(),
            ),
            (
                "run started → process started",
                self.run_started_to_process_started.as_ref(),
            ),
            (
                "accepted → process started",
                self.accepted_to_process_started.as_ref(),
            ),
        ]
    }
}

/// B2 of one mode.
#[derive(Debug, Clone, Serialize)]
pub struct ModeResult {
    pub distributions: Distributions,
    pub goal_p99_ms: f64,
    pub goal_met: bool,
    pub samples: Vec<Sample>,
    pub server_log: PathBuf,
}

/// Everything `b2` writes.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub benchmark: &'static str,
    pub started_at: String,
    pub machine: Machine,
    pub options: Options,
    pub modes: Vec<ModeOutcome<ModeResult>>,
}

pub fn goal_p99_ms(mode: Mode) -> f64 {
    match mode {
        Mode::Embedded => GOAL_P99_EMBEDDED_MS,
        Mode::Distributed => GOAL_P99_DISTRIBUTED_MS,
    }
}

/// B2 on a fresh server of `env`'s mode.
pub fn measure(rt: &Runtime, env: &Env<'_>, options: &Options) -> Result<ModeResult> {
    let started = env.start_fresh("b2")?;
    let log = started.server.log.clone();
    let api = Api::new(&started.server);
    let measured = rt.block_on(async {
        let port = crate::b1::free_port()?;
        api.apply(&[
            ("bench.json", manifests::event_source(port)),
            (
                "b2.json",
                manifests::sensor("b2", &["date", "+%s%N"], RunName::FromBody),
            ),
        ])
        .await?;
        api.wait_for_webhook(port, Duration::from_secs(30)).await?;
        api.wait_for_sensor("b2", Duration::from_secs(30)).await?;
        let target = Target::new(
            std::net::SocketAddr::from(([127, 0, 0, 1], port)),
            manifests::ENDPOINT,
            "{}",
        );
        let mut connection = Connection::open(&target, Duration::from_secs(10)).await?;
        for i in 0..options.warmup {
            one_event(&api, &mut connection, &format!("b2-warm-{i:03}"), options).await?;
        }
        let mut samples = Vec::with_capacity(options.events);
        for i in 0..options.events {
            let sample = one_event(&api, &mut connection, &format!("b2-{i:05}"), options).await?;
            samples.push(sample);
            if (i + 1) % 50 == 0 {
                eprintln!(
                    "b2 {}: {} of {} events",
                    env.mode.name(),
                    i + 1,
                    options.events
                );
            }
        }
        anyhow::Ok(samples)
    });
    env.finish(rt, started)?;
    let samples = measured.with_context(|| format!("the server's log is {}", log.display()))?;
    let distributions = Distributions::of(&samples);
    let goal = goal_p99_ms(env.mode);
    Ok(ModeResult {
        goal_met: distributions
            .accepted_to_process_started
            .as_ref()
            .is_some_and(|s| s.p99_ms <= goal),
        goal_p99_ms: goal,
        distributions,
        samples,
        server_log: log,
    })
}

/// Sends the event naming run `name`, waits for the run to succeed, and reads its times.
async fn one_event(
    api: &Api,
    connection: &mut Connection,
    name: &str,
    options: &Options,
) -> Result<Sample> {
    let body = bytes::Bytes::from(manifests::named_event(name));
    let sent_ns = now_ns();
    let answer = connection.post(Some(body)).await;
    let accepted_ns = now_ns();
    if answer != Answer::Status(200) {
        bail!("the webhook answered the event for {name} with {answer:?}");
    }
    let deadline = Instant::now() + Duration::from_secs(options.timeout_secs);
    let path = format!("/api/v1/namespaces/default/workflows/{name}");
    let run = loop {
        tokio::time::sleep(Duration::from_millis(options.poll_ms)).await;
        if let Some(run) = api.get(&path).await?
            && matches!(
                run["status"]["phase"].as_str(),
                Some("Succeeded" | "Failed" | "Error")
            )
        {
            break run;
        }
        if Instant::now() > deadline {
            bail!(
                "run {name} did not end within {} s of its event",
                options.timeout_secs
            );
        }
    };
    times_of(&run, sent_ns, accepted_ns).with_context(|| format!("run {name}"))
}

/// The server's and the step's times in a finished run.
fn times_of(run: &Value, sent_ns: i64, accepted_ns: i64) -> Result<Sample> {
    if run["status"]["phase"] != "Succeeded" {
        bail!(
            "ended {} ({})",
            run["status"]["phase"],
            run["status"]["message"].as_str().unwrap_or("no message")
        );
    }
    let node = run["status"]["nodes"]
        .as_object()
        .and_then(|nodes| nodes.values().find(|n| n["type"] == "Pod"))
        .ok_or_else(|| anyhow!("the run has no step node"))?;
    let result = node["outputs"]["result"]
        .as_str()
        .ok_or_else(|| anyhow!("the step node has no outputs.result"))?;
    Ok(Sample {
        sent_ns,
        accepted_ns,
        run_started_ns: time_ns(&run["status"]["startedAt"]).context("status.startedAt")?,
        supervisor_started_ns: time_ns(&node["step"]["handle"]["startedAt"])
            .context("the step node's step.handle.startedAt")?,
        process_started_ns: result.trim().parse().with_context(|| {
            format!("the step printed {result:?}, not nanoseconds since the epoch")
        })?,
    })
}

/// An RFC 3339 time as nanoseconds since the Unix epoch.
fn time_ns(value: &Value) -> Result<i64> {
    let text = value.as_str().ok_or_else(|| anyhow!("missing"))?;
    let t: DateTime<Utc> = DateTime::parse_from_rfc3339(text)
        .with_context(|| format!("{text:?} is not an RFC 3339 time"))?
        .with_timezone(&Utc);
    t.timestamp_nanos_opt()
        .ok_or_else(|| anyhow!("{text} is out of range"))
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

impl Report {
    pub fn render(&self) -> String {
        let mut out = format!(
            "B2 trigger latency ({}; {} events one at a time after {} unmeasured; server times from the run, the process's own from `date +%s%N`)\n\n",
            self.machine.describe(),
            self.options.events,
            self.options.warmup
        );
        let mut t = table_left(
            &["mode", "segment", "p50", "p90", "p99", "max", "min", "goal"],
            2,
        );
        for m in &self.modes {
            let Some(r) = &m.result else { continue };
            for (segment, s) in r.distributions.rows() {
                let is_goal = segment == "accepted → process started";
                t.add_row(vec![
                    m.mode.name().to_owned(),
                    segment.to_owned(),
                    ms(s.map(|s| s.p50_ms)),
                    ms(s.map(|s| s.p90_ms)),
                    ms(s.map(|s| s.p99_ms)),
                    ms(s.map(|s| s.max_ms)),
                    ms(s.map(|s| s.min_ms)),
                    if is_goal {
                        format!("p99 ≤ {} ms: {}", r.goal_p99_ms, met(r.goal_met))
                    } else {
                        String::new()
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
            "\nGoal (BENCHMARKS.md, B2): p99 of accepted → process started ≤ {GOAL_P99_EMBEDDED_MS} ms embedded, ≤ {GOAL_P99_DISTRIBUTED_MS} ms distributed.\n"
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn times_come_from_the_run_and_the_step() {
        let run = json!({"status": {
            "phase": "Succeeded",
            "startedAt": "2026-01-01T00:00:00.002000Z",
            "nodes": {
                "r": {"type": "Pod", "startedAt": "2026-01-01T00:00:00.002000Z",
                      "step": {"handle": {"startedAt": "2026-01-01T00:00:00.002500Z"}},
                      "outputs": {"result": "1767225600004000000\n"}},
            },
        }});
        let base = 1_767_225_600_000_000_000i64;
        let s = times_of(&run, base - 1_000_000, base + 1_000_000).unwrap();
        assert_eq!(s.run_started_ns, base + 2_000_000);
        assert_eq!(s.supervisor_started_ns, base + 2_500_000);
        assert_eq!(s.process_started_ns, base + 4_000_000);
        let seg = s.segments();
        assert_eq!(seg.sent_to_accepted, 2.0);
        assert_eq!(seg.accepted_to_run, 1.0);
        assert_eq!(seg.run_to_supervisor, 0.5);
        assert_eq!(seg.supervisor_to_process, 1.5);
        assert_eq!(seg.run_to_process, 2.0);
        assert_eq!(seg.accepted_to_process, 3.0);
    }

    #[test]
    fn a_failed_or_silent_run_is_an_error() {
        let failed = json!({"status": {"phase": "Failed", "message": "boom"}});
        assert!(format!("{:#}", times_of(&failed, 0, 0).unwrap_err()).contains("boom"));
        let silent = json!({"status": {"phase": "Succeeded", "startedAt": "2026-01-01T00:00:00Z",
            "nodes": {"r": {"type": "Pod", "step": {"handle": {"startedAt": "2026-01-01T00:00:00Z"}}, "outputs": {"result": "now"}}}}});
        let err = format!("{:#}", times_of(&silent, 0, 0).unwrap_err());
        assert!(err.contains("not nanoseconds"), "{err}");
    }

    #[test]
    fn the_report_marks_the_goal_row() {
        let sample = |accepted_to_process_ms: i64| Sample {
            sent_ns: 0,
            accepted_ns: 1_000_000,
            run_started_ns: 2_000_000,
            supervisor_started_ns: 2_500_000,
            process_started_ns: 1_000_000 + accepted_to_process_ms * 1_000_000,
        };
        let samples: Vec<Sample> = (1..=100).map(sample).collect();
        let distributions = Distributions::of(&samples);
        let total = distributions.accepted_to_process_started.as_ref().unwrap();
        assert_eq!(total.p50_ms, 50.0);
        assert_eq!(total.p99_ms, 99.0);
        let report = Report {
            benchmark: "B2",
            started_at: "now".into(),
            machine: Machine {
                cpus: 2,
                cpu_model: None,
                memory_mib: None,
                load_average: None,
            },
            options: Options {
                events: 100,
                warmup: 5,
                poll_ms: 5,
                timeout_secs: 30,
            },
            modes: vec![ModeOutcome::of(
                Mode::Embedded,
                Ok(ModeResult {
                    goal_met: false,
                    goal_p99_ms: 10.0,
                    distributions,
                    samples,
                    server_log: PathBuf::from("b2.log"),
                }),
            )],
        };
        let text = report.render();
        assert!(text.contains("p99 ≤ 10 ms: not met"), "{text}");
        assert!(text.contains("99.0 ms"), "{text}");
    }
}
