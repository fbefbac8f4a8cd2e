//! B1, webhook ingest: the highest rate at which a webhook EventSource takes events (each
//! durable on the bus before its 2xx) with every request answered 2xx and the p99 latency
//! within a bound, and the latency at half that rate; against a do-nothing handler on the
//! same HTTP stack, driven by the same load generator in the same invocation.
//!
//! No Sensor listens to the events: the figure is the ingest path (request → CloudEvent →
//! durable append → 2xx). A consuming Sensor would compete for the same two cores and
//! measure the sensors' throughput instead, which is B4's subject.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Serialize;
use tokio::runtime::Runtime;

use crate::backend::{Env, Mode};
use crate::load::{self, Probe, ProbeResult, Schedule, Target};
use crate::manifests;
use crate::noop::NoopServer;
use crate::output::{ModeOutcome, cores, count, met, ms, table};
use crate::search::{Outcome, RateSearch, Verdict, verdict};
use crate::server::cpu_time_of;

/// BENCHMARKS.md's goals for B1.
pub const GOAL_EVENTS_PER_SECOND: f64 = 25_000.0;
pub const GOAL_SHARE_OF_BASELINE: f64 = 0.40;

/// How B1 runs.
#[derive(Debug, Clone, Serialize)]
pub struct Options {
    /// Seconds each probe of the search sends for.
    pub probe_seconds: f64,
    /// Seconds of the run at half the highest sustained rate.
    pub latency_seconds: f64,
    pub connections: usize,
    /// A rate is sustained only if its p99 latency is at most this.
    pub p99_bound_ms: f64,
    pub start_rate: f64,
    pub max_rate: f64,
    /// The search stops when the failing rate is within this ratio of the passing one.
    pub precision: f64,
    pub request_timeout_ms: f64,
}

/// One probe of a search.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeRecord {
    pub rate: f64,
    pub verdict: Verdict,
    pub result: ProbeResult,
}

/// A target's search and its latency point.
#[derive(Debug, Clone, Serialize)]
pub struct Search {
    /// The highest rate that was sustained; `None` when not even the lowest was.
    pub max_sustained: Option<f64>,
    /// Every rung of the ladder passed: the real maximum is higher than `max_rate`.
    pub ceiling_hit: bool,
    /// The run at half of `max_sustained`.
    pub at_half: Option<ProbeResult>,
    pub warmup: ProbeResult,
    pub probes: Vec<ProbeRecord>,
}

/// B1 of one mode.
#[derive(Debug, Clone, Serialize)]
pub struct ModeResult {
    pub search: Search,
    /// `max_sustained / baseline's max_sustained`.
    pub share_of_baseline: Option<f64>,
    pub server_log: PathBuf,
}

/// Everything `b1` writes.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub benchmark: &'static str,
    pub started_at: String,
    pub machine: crate::output::Machine,
    pub options: Options,
    pub goal: String,
    /// The do-nothing handler (`switchyard-bench noop-server`).
    pub baseline: ModeOutcome<Search>,
    pub modes: Vec<ModeOutcome<ModeResult>>,
}

/// Finds the highest sustained rate of `target`, then measures the latency at half of it.
pub async fn search(label: &str, target: &Target, pid: u32, options: &Options) -> Result<Search> {
    let cpu = move || cpu_time_of(pid).ok();
    let probe = |rate: f64, seconds: f64| Probe {
        schedule: Schedule::for_duration(rate, seconds),
        connections: options.connections,
        timeout: Duration::from_secs_f64(options.request_timeout_ms / 1000.0),
        drain: Duration::from_secs_f64((options.p99_bound_ms * 4.0 / 1000.0).max(2.0)),
    };
    let warmup = load::run(target, probe(options.start_rate, 1.0), cpu).await?;
    eprintln!("b1 {label}: warm-up {}", describe(&warmup));
    let mut s = RateSearch::new(options.start_rate, options.max_rate, options.precision);
    let mut probes = Vec::new();
    while let Some(rate) = s.next() {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let result = load::run(target, probe(rate, options.probe_seconds), cpu).await?;
        let v = verdict(outcome(&result), options.p99_bound_ms);
        eprintln!(
            "b1 {label}: {} → {}",
            describe(&result),
            if v.sustained {
                "sustained".to_owned()
            } else {
                format!("not sustained ({})", v.reason)
            }
        );
        s.record(rate, v.sustained);
        probes.push(ProbeRecord {
            rate,
            verdict: v,
            result,
        });
    }
    let at_half = match s.best() {
        Some(best) => {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let result = load::run(target, probe(best / 2.0, options.latency_seconds), cpu).await?;
            eprintln!("b1 {label}: at half of the maximum, {}", describe(&result));
            Some(result)
        }
        None => None,
    };
    Ok(Search {
        max_sustained: s.best(),
        ceiling_hit: s.hit_the_ceiling(),
        at_half,
        warmup,
        probes,
    })
}

fn outcome(r: &ProbeResult) -> Outcome<'_> {
    Outcome {
        ok: r.ok,
        failed: r.failed(),
        unsent: r.unsent,
        latency: r.latency.as_ref(),
    }
}

fn describe(r: &ProbeResult) -> String {
    format!(
        "offered {}/s, achieved {}/s, ok {}, failed {}, unsent {}, p50 {}, p99 {}, generator CPU {}, server CPU {}",
        count(r.offered_rate),
        count(r.achieved_rate),
        r.ok,
        r.failed(),
        r.unsent,
        ms(r.latency.as_ref().map(|l| l.p50_ms)),
        ms(r.latency.as_ref().map(|l| l.p99_ms)),
        cores(Some(r.generator_cpu_cores)),
        cores(r.server_cpu_cores),
    )
}

/// The do-nothing baseline, from this program's own binary.
pub fn baseline(rt: &Runtime, self_exe: &std::path::Path, options: &Options) -> Result<Search> {
    let noop = NoopServer::start(self_exe)?;
    let target = Target::new(noop.addr, manifests::ENDPOINT, &manifests::plain_event());
    rt.block_on(search("baseline", &target, noop.pid(), options))
}

/// B1 on a fresh server of `env`'s mode.
pub fn measure(
    rt: &Runtime,
    env: &Env<'_>,
    options: &Options,
    baseline_max: Option<f64>,
) -> Result<ModeResult> {
    let started = env.start_fresh("b1")?;
    let log = started.server.log.clone();
    let api = crate::server::Api::new(&started.server);
    let measured = rt.block_on(async {
        let port = free_port()?;
        api.apply(&[("bench.json", manifests::event_source(port))])
            .await?;
        api.wait_for_webhook(port, Duration::from_secs(30)).await?;
        let target = Target::new(
            std::net::SocketAddr::from(([127, 0, 0, 1], port)),
            manifests::ENDPOINT,
            &manifests::plain_event(),
        );
        search(env.mode.name(), &target, started.server.pid(), options).await
    });
    env.finish(rt, started)?;
    let search = measured.with_context(|| format!("the server's log is {}", log.display()))?;
    Ok(ModeResult {
        share_of_baseline: match (search.max_sustained, baseline_max) {
            (Some(m), Some(b)) if b > 0.0 => Some(m / b),
            _ => None,
        },
        search,
        server_log: log,
    })
}

/// A port of 127.0.0.1 free when asked.
pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .context("finding a free port")?
        .port())
}

impl Report {
    pub fn goal_text() -> String {
        format!(
            "≥ {} events/s embedded; ≥ {:.0}% of the do-nothing handler's rate",
            count(GOAL_EVENTS_PER_SECOND),
            GOAL_SHARE_OF_BASELINE * 100.0
        )
    }

    pub fn render(&self) -> String {
        let mut out = format!(
            "B1 webhook ingest ({}; open loop, {} connections, {} s per probe; sustained = all 2xx and p99 ≤ {} ms from the scheduled send time)\n\n",
            self.machine.describe(),
            self.options.connections,
            self.options.probe_seconds,
            self.options.p99_bound_ms,
        );
        let mut t = table(&[
            "target",
            "max sustained",
            "share of baseline",
            "@50%: rate",
            "p50",
            "p90",
            "p99",
            "max",
            "failures",
            "generator CPU",
            "server CPU",
            "goal",
        ]);
        let mut rows: Vec<(String, &Search, Option<f64>, Option<bool>)> = Vec::new();
        if let Some(b) = &self.baseline.result {
            rows.push(("do-nothing handler".into(), b, None, None));
        }
        for m in &self.modes {
            if let Some(r) = &m.result {
                rows.push((
                    format!("switchyard {}", m.mode.name()),
                    &r.search,
                    r.share_of_baseline,
                    Some(goal_met(m.mode, r)),
                ));
            }
        }
        for (name, s, share, goal) in rows {
            let half = s.at_half.as_ref();
            let l = half.and_then(|h| h.latency.as_ref());
            t.add_row(vec![
                name,
                s.max_sustained.map_or("none".into(), |m| {
                    format!("{}/s{}", count(m), if s.ceiling_hit { "+" } else { "" })
                }),
                share.map_or("-".into(), |x| format!("{:.0}%", x * 100.0)),
                half.map_or("-".into(), |h| format!("{}/s", count(h.offered_rate))),
                ms(l.map(|l| l.p50_ms)),
                ms(l.map(|l| l.p90_ms)),
                ms(l.map(|l| l.p99_ms)),
                ms(l.map(|l| l.max_ms)),
                half.map_or("-".into(), |h| (h.failed() + h.unsent).to_string()),
                cores(half.map(|h| h.generator_cpu_cores)),
                cores(half.and_then(|h| h.server_cpu_cores)),
                goal.map_or("-".into(), |g| met(g).to_owned()),
            ]);
        }
        out.push_str(&t.to_string());
        out.push_str("\n\nEvery probe:\n\n");
        out.push_str(&self.probe_table().to_string());
        out.push('\n');
        for line in std::iter::once(&self.baseline)
            .filter_map(|b| b.missing_line().map(|l| format!("baseline {l}")))
            .chain(self.modes.iter().filter_map(ModeOutcome::missing_line))
        {
            out.push_str(&line);
            out.push('\n');
        }
        out.push_str(&format!(
            "\nGoal (BENCHMARKS.md, B1): {}. CPU is a share of one core (the machine has {}).\n",
            self.goal, self.machine.cpus
        ));
        out
    }

    fn probe_table(&self) -> comfy_table::Table {
        let mut t = table(&[
            "target",
            "offered",
            "achieved",
            "2xx",
            "failed",
            "unsent",
            "p50",
            "p99",
            "max",
            "generator CPU",
            "server CPU",
            "verdict",
        ]);
        let mut searches: Vec<(String, &Search)> = Vec::new();
        if let Some(b) = &self.baseline.result {
            searches.push(("do-nothing".into(), b));
        }
        for m in &self.modes {
            if let Some(r) = &m.result {
                searches.push((m.mode.name().into(), &r.search));
            }
        }
        for (name, s) in searches {
            for p in &s.probes {
                let r = &p.result;
                let l = r.latency.as_ref();
                t.add_row(vec![
                    name.clone(),
                    format!("{}/s", count(r.offered_rate)),
                    format!("{}/s", count(r.achieved_rate)),
                    r.ok.to_string(),
                    r.failed().to_string(),
                    r.unsent.to_string(),
                    ms(l.map(|l| l.p50_ms)),
                    ms(l.map(|l| l.p99_ms)),
                    ms(l.map(|l| l.max_ms)),
                    cores(Some(r.generator_cpu_cores)),
                    cores(r.server_cpu_cores),
                    if p.verdict.sustained {
                        "sustained".into()
                    } else {
                        p.verdict.reason.clone()
                    },
                ]);
            }
        }
        t
    }
}

/// Whether a mode meets B1's goals: the share of the baseline in every mode, the absolute
/// rate embedded.
pub fn goal_met(mode: Mode, r: &ModeResult) -> bool {
    let share = r
        .share_of_baseline
        .is_some_and(|s| s >= GOAL_SHARE_OF_BASELINE);
    let rate = mode != Mode::Embedded
        || r.search
            .max_sustained
            .is_some_and(|m| m >= GOAL_EVENTS_PER_SECOND);
    share && rate
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Summary;
    use std::collections::BTreeMap;

    fn probe(rate: f64, p99: f64) -> ProbeResult {
        ProbeResult {
            offered_rate: rate,
            scheduled: 10,
            ok: 10,
            non_2xx: 0,
            connection_errors: 0,
            timeouts: 0,
            unsent: 0,
            statuses: BTreeMap::from([(200, 10)]),
            achieved_rate: rate,
            elapsed_ms: 1000.0,
            latency: Summary::of_ms(&[p99 / 2.0, p99]),
            generator_cpu_cores: 0.25,
            server_cpu_cores: Some(0.5),
        }
    }

    fn searched(max: f64) -> Search {
        Search {
            max_sustained: Some(max),
            ceiling_hit: false,
            at_half: Some(probe(max / 2.0, 4.0)),
            warmup: probe(1000.0, 1.0),
            probes: vec![ProbeRecord {
                rate: max,
                verdict: Verdict {
                    sustained: true,
                    reason: String::new(),
                },
                result: probe(max, 8.0),
            }],
        }
    }

    fn report(embedded_max: f64) -> Report {
        let base = searched(50_000.0);
        let mode = ModeResult {
            share_of_baseline: Some(embedded_max / 50_000.0),
            search: searched(embedded_max),
            server_log: PathBuf::from("b1.log"),
        };
        Report {
            benchmark: "B1",
            started_at: "now".into(),
            machine: crate::output::Machine {
                cpus: 2,
                cpu_model: None,
                memory_mib: None,
                load_average: None,
            },
            options: Options {
                probe_seconds: 5.0,
                latency_seconds: 10.0,
                connections: 64,
                p99_bound_ms: 50.0,
                start_rate: 1000.0,
                max_rate: 200_000.0,
                precision: 1.1,
                request_timeout_ms: 5000.0,
            },
            goal: Report::goal_text(),
            baseline: ModeOutcome::of(Mode::Embedded, Ok(base)),
            modes: vec![
                ModeOutcome::of(Mode::Embedded, Ok(mode)),
                ModeOutcome::skipped(Mode::Distributed, "NATS is unreachable".into()),
            ],
        }
    }

    #[test]
    fn the_report_shows_each_target_and_the_goal() {
        let text = report(30_000.0).render();
        assert!(text.contains("do-nothing handler"), "{text}");
        assert!(text.contains("switchyard embedded"), "{text}");
        assert!(text.contains("30,000/s"), "{text}");
        assert!(text.contains("60%"), "{text}");
        assert!(text.contains("15,000/s"), "{text}");
        assert!(
            text.contains("distributed: skipped (NATS is unreachable)"),
            "{text}"
        );
        assert!(text.contains("≥ 25,000 events/s embedded"), "{text}");
        let json = serde_json::to_value(report(30_000.0)).unwrap();
        assert_eq!(
            json["modes"][0]["result"]["search"]["max_sustained"],
            30_000.0
        );
        assert_eq!(json["modes"][1]["skipped"], "NATS is unreachable");
    }

    #[test]
    fn the_goal_needs_the_rate_embedded_and_the_share_everywhere() {
        let r = report(30_000.0);
        let embedded = r.modes[0].result.as_ref().unwrap();
        assert!(goal_met(Mode::Embedded, embedded));
        let slow = report(20_000.0);
        let slow = slow.modes[0].result.as_ref().unwrap();
        assert!(!goal_met(Mode::Embedded, slow), "below 25k events/s");
        assert!(
            goal_met(Mode::Distributed, slow),
            "40% of the baseline suffices"
        );
        let tiny = report(10_000.0);
        assert!(!goal_met(
            Mode::Distributed,
            tiny.modes[0].result.as_ref().unwrap()
        ));
    }
}
