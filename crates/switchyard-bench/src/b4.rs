//! B4, end to end: webhook → Sensor → a one-step Workflow (`true`) → Succeeded, sustained.
//!
//! * **Closed loop**: events are posted over a few connections while at most `in-flight`
//!   of them have not yet become a finished run; a run finishing lets the next event go. The
//!   rate is the runs that succeeded during the window, divided by the window.
//! * **Open loop**: a fixed rate (by default 80 % of the closed loop's) on the open-loop
//!   schedule of B1, for the same window, then the time the runs take to catch up.
//!
//! Finished runs are counted from the server's `/metrics` (`argo_workflows_total_count` by
//! phase, read every 50 ms), so nothing is listed or polled per run. Failures are events not
//! answered 2xx, runs that ended Failed or Error, trigger actions that failed, and accepted
//! events with no finished run once the drain period is over.
//!
//! The baseline, measured first in the same invocation, is B3's durable floor as a rate:
//! `true` spawned with the same parallelism, one SQLite row committed (WAL,
//! `synchronous=FULL`) per finished step.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;
use tokio::runtime::Runtime;
use tokio::sync::Semaphore;

use crate::backend::Env;
use crate::floor::{self, Stage};
use crate::load::{self, Answer, Connection, Probe, Schedule, Target};
use crate::manifests::{self, RunName};
use crate::output::{Machine, ModeOutcome, cores, count, met, ms, table_left};
use crate::prom;
use crate::search::round_rate;
use crate::server::{Api, cpu_time_of};
use crate::shapes::STEP_PROGRAM;
use crate::stats::Summary;

/// BENCHMARKS.md's goal for B4: at least this share of the floor's rate, with no failures.
pub const GOAL_SHARE_OF_FLOOR: f64 = 0.60;

/// How long runs may take to catch up after the last event.
const DRAIN: Duration = Duration::from_secs(120);

/// How B4 runs.
#[derive(Debug, Clone, Serialize)]
pub struct Options {
    pub seconds: f64,
    pub warmup_seconds: f64,
    /// Events accepted whose run has not finished, at most (closed loop).
    pub in_flight: usize,
    /// Connections posting events (closed loop) or carrying the schedule (open loop).
    pub connections: usize,
    /// The open loop's rate; 80 % of the closed loop's when not given.
    pub open_rate: Option<f64>,
    /// Steps the floor runs.
    pub floor_steps: usize,
    /// The floor's parallelism: the in-flight bound, at most the server's step limit.
    pub floor_parallelism: usize,
}

/// The floor as a rate.
#[derive(Debug, Clone, Serialize)]
pub struct Floor {
    pub steps: usize,
    pub parallelism: usize,
    pub durable_ms: f64,
    pub durable_rate: f64,
    pub no_commit_ms: f64,
    pub no_commit_rate: f64,
}

/// What the server's counters say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Counters {
    pub succeeded: f64,
    /// Runs that ended Failed or Error.
    pub failed: f64,
    /// Trigger actions that failed.
    pub actions_failed: f64,
}

impl Counters {
    pub fn of_metrics(text: &str) -> Counters {
        let samples = prom::parse(text);
        let phase = |p: &str| prom::sum(&samples, "argo_workflows_total_count", &[("phase", p)]);
        Counters {
            succeeded: phase("Succeeded"),
            failed: phase("Failed") + phase("Error"),
            actions_failed: prom::sum(&samples, "argo_events_action_failed_total", &[]),
        }
    }

    fn since(&self, base: &Counters) -> Counters {
        Counters {
            succeeded: self.succeeded - base.succeeded,
            failed: self.failed - base.failed,
            actions_failed: self.actions_failed - base.actions_failed,
        }
    }

    fn finished(&self) -> u64 {
        (self.succeeded + self.failed).max(0.0) as u64
    }
}

/// The closed loop's figures.
#[derive(Debug, Clone, Serialize)]
pub struct ClosedLoop {
    pub in_flight: usize,
    pub window_ms: f64,
    /// Runs that succeeded during the window.
    pub succeeded_in_window: u64,
    /// `succeeded_in_window` per second of the window.
    pub workflows_per_second: f64,
    pub accepted: u64,
    pub post_failures: u64,
    /// Counted from the start until the end of the drain.
    pub counters: Counters,
    /// Accepted events without a finished run after the drain.
    pub missing: u64,
    pub drain_ms: f64,
    pub failures: u64,
    pub server_cpu_cores: Option<f64>,
}

/// The open-loop point's figures.
#[derive(Debug, Clone, Serialize)]
pub struct OpenLoop {
    pub rate: f64,
    pub scheduled: u64,
    pub accepted: u64,
    pub post_failures: u64,
    /// Latency of the webhook's 2xx from the scheduled send time.
    pub post_latency: Option<Summary>,
    /// Runs that succeeded by the last scheduled send.
    pub succeeded_by_last_send: u64,
    /// From the last scheduled send until every accepted event's run had finished.
    pub catch_up_ms: f64,
    /// Accepted events per second of (schedule + catch-up).
    pub workflows_per_second: f64,
    pub counters: Counters,
    pub missing: u64,
    pub failures: u64,
    pub generator_cpu_cores: f64,
    pub server_cpu_cores: Option<f64>,
}

/// B4 of one mode.
#[derive(Debug, Clone, Serialize)]
pub struct ModeResult {
    pub closed_loop: ClosedLoop,
    pub open_loop: Option<OpenLoop>,
    /// Why the open loop has no figures.
    pub open_loop_error: Option<String>,
    /// `closed_loop.workflows_per_second / floor.durable_rate`.
    pub share_of_floor: f64,
    pub goal_met: bool,
    pub server_logs: Vec<PathBuf>,
}

/// Everything `b4` writes.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub benchmark: &'static str,
    pub started_at: String,
    pub machine: Machine,
    pub options: Options,
    pub floor: Floor,
    pub modes: Vec<ModeOutcome<ModeResult>>,
}

/// The floor, as a rate, with its journal in `dir`.
pub fn measure_floor(dir: &Path, options: &Options) -> Result<Floor> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let stages = [Stage {
        steps: options.floor_steps,
        parallelism: options.floor_parallelism,
    }];
    let journal = dir.join("floor.db");
    let durable = floor::run(&stages, STEP_PROGRAM, Some(&journal)).context("the durable floor")?;
    let no_commit = floor::run(&stages, STEP_PROGRAM, None).context("the floor without commits")?;
    for suffix in ["", "-wal", "-shm"] {
        let mut file = journal.as_os_str().to_owned();
        file.push(suffix);
        let _ = std::fs::remove_file(file);
    }
    let rate = |d: Duration| options.floor_steps as f64 / d.as_secs_f64();
    Ok(Floor {
        steps: options.floor_steps,
        parallelism: options.floor_parallelism,
        durable_ms: durable.as_secs_f64() * 1000.0,
        durable_rate: rate(durable),
        no_commit_ms: no_commit.as_secs_f64() * 1000.0,
        no_commit_rate: rate(no_commit),
    })
}

async fn counters(api: &Api) -> Result<Counters> {
    Ok(Counters::of_metrics(&api.metrics().await?))
}

/// Applies the EventSource and the Sensor, and waits until both serve.
async fn prepare(api: &Api) -> Result<Target> {
    let port = crate::b1::free_port()?;
    api.apply(&[
        ("bench.json", manifests::event_source(port)),
        (
            "b4.json",
            manifests::sensor("b4", &[STEP_PROGRAM], RunName::Generated),
        ),
    ])
    .await?;
    api.wait_for_webhook(port, Duration::from_secs(30)).await?;
    api.wait_for_sensor("b4", Duration::from_secs(30)).await?;
    Ok(Target::new(
        std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        manifests::ENDPOINT,
        &manifests::plain_event(),
    ))
}

/// Waits until `accepted` runs have finished since `base`, or the drain period is over; the
/// counters then and how long it took.
async fn drain(api: &Api, base: &Counters, accepted: u64) -> Result<(Counters, Duration)> {
    let started = Instant::now();
    loop {
        let c = counters(api).await?.since(base);
        if c.finished() >= accepted || started.elapsed() > DRAIN {
            return Ok((c, started.elapsed()));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The closed loop for `window`.
async fn closed_loop(
    api: &Api,
    target: &Target,
    options: &Options,
    window: Duration,
    pid: u32,
) -> Result<ClosedLoop> {
    let base = counters(api).await?;
    let permits = Arc::new(Semaphore::new(options.in_flight));
    let stop = Arc::new(AtomicBool::new(false));
    let accepted = Arc::new(AtomicU64::new(0));
    let post_failures = Arc::new(AtomicU64::new(0));
    let mut senders = Vec::new();
    for _ in 0..options.connections.clamp(1, options.in_flight.max(1)) {
        let mut connection = Connection::open(target, Duration::from_secs(10)).await?;
        let (permits, stop, accepted, post_failures) = (
            permits.clone(),
            stop.clone(),
            accepted.clone(),
            post_failures.clone(),
        );
        senders.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                match tokio::time::timeout(Duration::from_millis(100), permits.acquire()).await {
                    Ok(Ok(permit)) => permit.forget(),
                    Ok(Err(_)) => break,
                    Err(_) => continue,
                }
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                match connection.post(None).await {
                    Answer::Status(s) if (200..300).contains(&s) => {
                        accepted.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        post_failures.fetch_add(1, Ordering::Relaxed);
                        // No run follows: the slot is free again.
                        permits.add_permits(1);
                    }
                }
            }
        }));
    }
    let cpu_before = cpu_time_of(pid).ok();
    let started = Instant::now();
    let mut released = 0u64;
    let in_window = loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let c = counters(api).await?.since(&base);
        let finished = c.finished();
        if finished > released {
            permits.add_permits(usize::try_from(finished - released).unwrap_or(usize::MAX));
            released = finished;
        }
        if started.elapsed() >= window {
            break c;
        }
    };
    let window_elapsed = started.elapsed();
    let cpu_after = cpu_time_of(pid).ok();
    stop.store(true, Ordering::Relaxed);
    for sender in senders {
        sender.await.context("an event sender panicked")?;
    }
    let accepted = accepted.load(Ordering::Relaxed);
    let post_failures = post_failures.load(Ordering::Relaxed);
    let (c, drained) = drain(api, &base, accepted).await?;
    let missing = accepted.saturating_sub(c.finished());
    let succeeded_in_window = in_window.succeeded.max(0.0) as u64;
    Ok(ClosedLoop {
        in_flight: options.in_flight,
        window_ms: window_elapsed.as_secs_f64() * 1000.0,
        succeeded_in_window,
        workflows_per_second: succeeded_in_window as f64 / window_elapsed.as_secs_f64(),
        accepted,
        post_failures,
        counters: c,
        missing,
        drain_ms: drained.as_secs_f64() * 1000.0,
        failures: post_failures + c.failed as u64 + c.actions_failed as u64 + missing,
        server_cpu_cores: cpu_before
            .zip(cpu_after)
            .map(|(b, a)| a.saturating_sub(b).as_secs_f64() / window_elapsed.as_secs_f64()),
    })
}

/// The open loop at `rate` for `window`.
async fn open_loop(
    api: &Api,
    target: &Target,
    options: &Options,
    rate: f64,
    window: Duration,
    pid: u32,
) -> Result<OpenLoop> {
    let base = counters(api).await?;
    let schedule = Schedule::for_duration(rate, window.as_secs_f64());
    let probe = Probe {
        schedule,
        connections: options.connections,
        timeout: Duration::from_secs(10),
        drain: Duration::from_secs(5),
    };
    let started = Instant::now();
    // The counters at the last scheduled send, read while the load runs.
    let at_last_send = {
        let api_url = api.clone();
        let due = schedule.span();
        tokio::spawn(async move {
            tokio::time::sleep(due.saturating_sub(started.elapsed())).await;
            counters(&api_url).await
        })
    };
    let result = load::run(target, probe, || cpu_time_of(pid).ok()).await?;
    let by_last_send = at_last_send
        .await
        .context("the counter reader panicked")??
        .since(&base);
    let (c, _) = drain(api, &base, result.ok).await?;
    let total = started.elapsed();
    let catch_up = total.saturating_sub(schedule.span());
    let missing = result.ok.saturating_sub(c.finished());
    let post_failures = result.failed() + result.unsent;
    Ok(OpenLoop {
        rate,
        scheduled: result.scheduled,
        accepted: result.ok,
        post_failures,
        post_latency: result.latency.clone(),
        succeeded_by_last_send: by_last_send.succeeded.max(0.0) as u64,
        catch_up_ms: catch_up.as_secs_f64() * 1000.0,
        workflows_per_second: c.succeeded.max(0.0) / total.as_secs_f64(),
        counters: c,
        missing,
        failures: post_failures + c.failed as u64 + c.actions_failed as u64 + missing,
        generator_cpu_cores: result.generator_cpu_cores,
        server_cpu_cores: result.server_cpu_cores,
    })
}

/// B4 on fresh servers of `env`'s mode: the closed loop on one, the open loop on another.
pub fn measure(
    rt: &Runtime,
    env: &Env<'_>,
    options: &Options,
    floor: &Floor,
) -> Result<ModeResult> {
    let window = Duration::from_secs_f64(options.seconds);
    let warmup = Duration::from_secs_f64(options.warmup_seconds);
    let mode = env.mode.name();

    let started = env.start_fresh("b4-closed")?;
    let mut logs = vec![started.server.log.clone()];
    let api = Api::new(&started.server);
    let pid = started.server.pid();
    let closed = rt.block_on(async {
        let target = prepare(&api).await?;
        if !warmup.is_zero() {
            let w = closed_loop(&api, &target, options, warmup, pid).await?;
            eprintln!(
                "b4 {mode}: warm-up {} workflows/s",
                count(w.workflows_per_second)
            );
        }
        closed_loop(&api, &target, options, window, pid).await
    });
    env.finish(rt, started)?;
    let closed = closed.with_context(|| format!("the server's log is {}", logs[0].display()))?;
    eprintln!(
        "b4 {mode}: closed loop (in-flight {}) {} workflows/s, {} failures, drain {}",
        closed.in_flight,
        count(closed.workflows_per_second),
        closed.failures,
        ms(Some(closed.drain_ms))
    );

    let rate = options
        .open_rate
        .unwrap_or_else(|| round_rate(closed.workflows_per_second * 0.8).max(1.0));
    let open = (|| -> Result<OpenLoop> {
        let started = env.start_fresh("b4-open")?;
        logs.push(started.server.log.clone());
        let api = Api::new(&started.server);
        let pid = started.server.pid();
        let open = rt.block_on(async {
            let target = prepare(&api).await?;
            if !warmup.is_zero() {
                closed_loop(&api, &target, options, warmup, pid).await?;
            }
            open_loop(&api, &target, options, rate, window, pid).await
        });
        let log = started.server.log.clone();
        env.finish(rt, started)?;
        open.with_context(|| format!("the server's log is {}", log.display()))
    })();
    match &open {
        Ok(o) => eprintln!(
            "b4 {mode}: open loop at {}/s: {} accepted, caught up {} after the last send, {} failures",
            count(o.rate),
            o.accepted,
            ms(Some(o.catch_up_ms)),
            o.failures
        ),
        Err(e) => eprintln!("b4 {mode}: open loop failed: {e:#}"),
    }
    let share = closed.workflows_per_second / floor.durable_rate;
    let open_failures = open.as_ref().map_or(0, |o| o.failures);
    Ok(ModeResult {
        goal_met: share >= GOAL_SHARE_OF_FLOOR
            && closed.failures == 0
            && open.is_ok()
            && open_failures == 0,
        share_of_floor: share,
        closed_loop: closed,
        open_loop_error: open.as_ref().err().map(|e| format!("{e:#}")),
        open_loop: open.ok(),
        server_logs: logs,
    })
}

impl Report {
    pub fn render(&self) -> String {
        let f = &self.floor;
        let mut out = format!(
            "B4 end to end: webhook → sensor → 1-step workflow (`true`) → Succeeded ({}; {} s windows)\n\n",
            self.machine.describe(),
            self.options.seconds
        );
        let mut t = table_left(
            &[
                "what",
                "workflows/s",
                "share of floor",
                "failures",
                "detail",
                "server CPU",
                "goal",
            ],
            1,
        );
        t.add_row(vec![
            format!(
                "durable floor ({} steps, parallelism {})",
                f.steps, f.parallelism
            ),
            count(f.durable_rate),
            "100%".into(),
            "0".into(),
            format!("{:.0} ms", f.durable_ms),
            "-".into(),
            String::new(),
        ]);
        t.add_row(vec![
            "floor without commits".into(),
            count(f.no_commit_rate),
            format!("{:.0}%", f.no_commit_rate / f.durable_rate * 100.0),
            "0".into(),
            format!("{:.0} ms", f.no_commit_ms),
            "-".into(),
            String::new(),
        ]);
        for m in &self.modes {
            let Some(r) = &m.result else { continue };
            let c = &r.closed_loop;
            t.add_row(vec![
                format!(
                    "{} closed loop (in-flight ≤ {})",
                    m.mode.name(),
                    c.in_flight
                ),
                count(c.workflows_per_second),
                format!("{:.0}%", r.share_of_floor * 100.0),
                c.failures.to_string(),
                format!(
                    "{} accepted, {} missing, drain {}",
                    c.accepted,
                    c.missing,
                    ms(Some(c.drain_ms))
                ),
                cores(c.server_cpu_cores),
                format!(
                    "≥ {:.0}% and 0 failures: {}",
                    GOAL_SHARE_OF_FLOOR * 100.0,
                    met(r.goal_met)
                ),
            ]);
            match (&r.open_loop, &r.open_loop_error) {
                (Some(o), _) => t.add_row(vec![
                    format!("{} open loop at {}/s", m.mode.name(), count(o.rate)),
                    count(o.workflows_per_second),
                    format!("{:.0}%", o.workflows_per_second / f.durable_rate * 100.0),
                    o.failures.to_string(),
                    format!(
                        "{} accepted, 2xx p50 {} p99 {}, caught up {} after the last send",
                        o.accepted,
                        ms(o.post_latency.as_ref().map(|l| l.p50_ms)),
                        ms(o.post_latency.as_ref().map(|l| l.p99_ms)),
                        ms(Some(o.catch_up_ms))
                    ),
                    cores(o.server_cpu_cores),
                    String::new(),
                ]),
                (None, e) => t.add_row(vec![
                    format!("{} open loop", m.mode.name()),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    format!("failed: {}", e.as_deref().unwrap_or("unknown")),
                    "-".into(),
                    String::new(),
                ]),
            };
        }
        out.push_str(&t.to_string());
        out.push('\n');
        for line in self.modes.iter().filter_map(ModeOutcome::missing_line) {
            out.push_str(&line);
            out.push('\n');
        }
        out.push_str(&format!(
            "\nGoal (BENCHMARKS.md, B4): ≥ {:.0}% of the durable floor's rate, 0 failures. Server CPU is a share of one core.\n",
            GOAL_SHARE_OF_FLOOR * 100.0
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Mode;

    #[test]
    fn counters_read_phases_and_failed_actions() {
        let text = "argo_workflows_total_count{phase=\"Pending\"} 12\n\
                    argo_workflows_total_count{phase=\"Succeeded\"} 10\n\
                    argo_workflows_total_count{phase=\"Failed\"} 1\n\
                    argo_workflows_total_count{phase=\"Error\"} 1\n\
                    argo_events_action_failed_total{sensor_name=\"b4\",trigger_name=\"run\"} 3\n";
        let c = Counters::of_metrics(text);
        assert_eq!(
            c,
            Counters {
                succeeded: 10.0,
                failed: 2.0,
                actions_failed: 3.0
            }
        );
        assert_eq!(c.finished(), 12);
        let base = Counters {
            succeeded: 4.0,
            failed: 0.0,
            actions_failed: 1.0,
        };
        assert_eq!(c.since(&base).finished(), 8);
        assert_eq!(Counters::of_metrics("").finished(), 0);
    }

    #[test]
    fn the_report_compares_with_the_floor() {
        let closed = ClosedLoop {
            in_flight: 64,
            window_ms: 60_000.0,
            succeeded_in_window: 24_000,
            workflows_per_second: 400.0,
            accepted: 24_050,
            post_failures: 0,
            counters: Counters::default(),
            missing: 0,
            drain_ms: 120.0,
            failures: 0,
            server_cpu_cores: Some(0.9),
        };
        let report = Report {
            benchmark: "B4",
            started_at: "now".into(),
            machine: Machine {
                cpus: 2,
                cpu_model: None,
                memory_mib: None,
                load_average: None,
            },
            options: Options {
                seconds: 60.0,
                warmup_seconds: 3.0,
                in_flight: 64,
                connections: 8,
                open_rate: None,
                floor_steps: 2000,
                floor_parallelism: 64,
            },
            floor: Floor {
                steps: 2000,
                parallelism: 64,
                durable_ms: 4000.0,
                durable_rate: 500.0,
                no_commit_ms: 1000.0,
                no_commit_rate: 2000.0,
            },
            modes: vec![ModeOutcome::of(
                Mode::Embedded,
                Ok(ModeResult {
                    closed_loop: closed,
                    open_loop: None,
                    open_loop_error: Some("boom".into()),
                    share_of_floor: 0.8,
                    goal_met: false,
                    server_logs: vec![],
                }),
            )],
        };
        let text = report.render();
        assert!(
            text.contains("durable floor (2000 steps, parallelism 64)"),
            "{text}"
        );
        assert!(text.contains("80%"), "{text}");
        assert!(text.contains("400"), "{text}");
        assert!(text.contains("failed: boom"), "{text}");
        assert!(text.contains("not met"), "{text}");
    }
}
