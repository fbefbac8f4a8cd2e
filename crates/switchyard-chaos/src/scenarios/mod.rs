//! The scenarios, and what several of them share: starting a server off the async threads,
//! the chaos platform under load, windows of the load's answers, and the checker's verdict
//! as report rows.

pub mod bad_input;
pub mod bus_outage;
pub mod disk_full;
pub mod kill;
pub mod phases;
pub mod poison;
pub mod slow;
pub mod store_restart;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

use crate::api::Api;
use crate::checker::{Verdict, settle};
use crate::load::{Attempt, Load, Tally};
use crate::manifests::{ENDPOINT, NAMESPACE, chaos_platform};
use crate::process::{Server, ServerSpec, free_port, wait_reachable};
use crate::report::ScenarioReport;

/// Starts a server on a blocking thread (it waits for the process's first lines).
pub async fn start(spec: &ServerSpec) -> Result<Server> {
    let spec = spec.clone();
    tokio::task::spawn_blocking(move || spec.start())
        .await
        .context("the start task failed")?
}

/// SIGKILLs a server on a blocking thread.
pub async fn kill9(server: Server) -> Result<()> {
    tokio::task::spawn_blocking(move || server.kill9())
        .await
        .context("the kill task failed")?
}

/// SIGTERMs a server on a blocking thread.
pub async fn stop(server: Server) -> Result<()> {
    tokio::task::spawn_blocking(move || server.stop().map(|_| ()))
        .await
        .context("the stop task failed")?
}

/// The chaos platform applied to a running server: its webhook URL and ledger file.
pub struct Chaos {
    pub url: String,
    pub port: u16,
    pub ledger: PathBuf,
    pub steps: Vec<&'static str>,
}

impl Chaos {
    /// Applies the chaos EventSource and Sensor (`steps`, each sleeping `sleep` s) and waits
    /// until the webhook accepts connections.
    pub async fn apply(api: &Api, dir: &Path, steps: &[&'static str], sleep: f64) -> Result<Chaos> {
        let port = free_port()?;
        let ledger = dir.join("ledger");
        api.apply("chaos.yaml", &chaos_platform(port, &ledger, steps, sleep))
            .await?;
        wait_reachable(&format!("127.0.0.1:{port}"), Duration::from_secs(30))
            .await
            .context("the chaos webhook")?;
        Ok(Chaos {
            url: format!("http://127.0.0.1:{port}{ENDPOINT}"),
            port,
            ledger,
            steps: steps.to_vec(),
        })
    }

    /// Waits for the checker's verdict on what the load sent and was told.
    pub async fn settle(
        &self,
        api: &Api,
        tally: &Tally,
        deadline: Duration,
    ) -> Result<(Verdict, Duration)> {
        settle(
            api,
            NAMESPACE,
            &tally.sent,
            &tally.accepted,
            Some((&self.ledger, &self.steps)),
            deadline,
        )
        .await
    }
}

/// Requests whose answer came between `from_ms` and `to_ms` (since the epoch).
pub fn answered_between(attempts: &[Attempt], from_ms: u64, to_ms: u64) -> Vec<&Attempt> {
    attempts
        .iter()
        .filter(|a| {
            let at = a.sent_ms + a.took_ms;
            at >= from_ms && at < to_ms
        })
        .collect()
}

/// Waits until a request sent at or after `after_ms` is answered 2xx; the time from
/// `after_ms` to that answer.
pub async fn first_2xx_after(load: &Load, after_ms: u64, deadline: Duration) -> Option<Duration> {
    let end = Instant::now() + deadline;
    loop {
        let found = load
            .attempts()
            .iter()
            .filter(|a| a.sent_ms >= after_ms && a.outcome.is_2xx())
            .map(|a| a.sent_ms + a.took_ms)
            .min();
        if let Some(at) = found {
            return Some(Duration::from_millis(at.saturating_sub(after_ms)));
        }
        if Instant::now() > end {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The checker's verdict as report rows: lost, duplicated, stuck, failed, phantom runs and
/// re-run steps must all be zero.
pub fn verdict_checks(report: &mut ScenarioReport, verdict: &Verdict) {
    report.check_zero("lost (2xx without a run)", &verdict.lost);
    let duplicates: Vec<String> = verdict
        .duplicates
        .iter()
        .map(|(uid, runs)| format!("{uid}: {}", runs.join("+")))
        .collect();
    report.check_zero("duplicated (runs per event > 1)", &duplicates);
    report.check_zero("stuck (unfinished at the deadline)", &verdict.stuck);
    report.check_zero("failed runs", &verdict.failed);
    report.check_zero("phantom runs (uid never sent)", &verdict.phantom);
    report.check_zero("steps run more than once", &verdict.step_reruns);
    report.check_zero(
        "steps of succeeded runs that never ran",
        &verdict.steps_missing,
    );
    report.figure("accepted (uids answered 2xx)", verdict.accepted);
    report.figure("runs", verdict.runs);
    report.figure(
        "ran without a 2xx (answer lost, event kept)",
        verdict.ran_without_2xx,
    );
}

/// The latest `status.finishedAt` of the runs of the namespace.
pub async fn last_finished_at(api: &Api) -> Result<Option<DateTime<Utc>>> {
    let runs = api.runs(NAMESPACE).await?;
    Ok(runs
        .iter()
        .filter_map(|r| r["status"]["finishedAt"].as_str())
        .filter_map(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .max())
}

/// Seconds with one decimal, for figures.
pub fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 10.0).round() / 10.0
}

/// A server kept running as a supervisor would: an exit the harness did not cause is
/// recorded, and the server started again (at once, or once its dependency is back).
pub struct Supervised {
    server: Option<Server>,
    spec: ServerSpec,
    /// What happened, one line per exit.
    pub exits: Vec<String>,
    /// When each exit was noticed.
    pub exit_times: Vec<Instant>,
}

impl Supervised {
    pub async fn start(spec: &ServerSpec) -> Result<Supervised> {
        Ok(Supervised {
            server: Some(start(spec).await?),
            spec: spec.clone(),
            exits: Vec::new(),
            exit_times: Vec::new(),
        })
    }

    /// The control API of the running server, started again first if it is down.
    pub async fn api(&mut self) -> Result<Api> {
        Ok(self.ensure().await?.api())
    }

    /// The control API of the server if it is running (never starts it).
    pub fn current_api(&self) -> Option<Api> {
        self.server.as_ref().map(Server::api)
    }

    /// The running server, started again (retrying for up to two minutes) if it is down.
    pub async fn ensure(&mut self) -> Result<&mut Server> {
        if self.server.is_none() {
            self.server = Some(start_retrying(&self.spec, Duration::from_secs(120)).await?);
        }
        self.server
            .as_mut()
            .ok_or_else(|| anyhow::anyhow!("the server is not running"))
    }

    /// Sleeps `duration`, checking the server every 250 ms. An exit is recorded (`what` says
    /// when) and, with `restart`, the server is started again at once; otherwise it stays
    /// down until [`Supervised::ensure`].
    pub async fn watch(&mut self, duration: Duration, what: &str, restart: bool) -> Result<()> {
        let end = Instant::now() + duration;
        while Instant::now() < end {
            tokio::time::sleep(Duration::from_millis(250).min(end - Instant::now())).await;
            if let Some(server) = self.server.as_mut()
                && let Some(status) = server.exited()
            {
                self.exits
                    .push(format!("{what}: exited by itself ({status})"));
                self.exit_times.push(Instant::now());
                eprintln!("  the server exited by itself ({status}) {what}");
                self.server = None;
            }
            if restart && self.server.is_none() {
                self.ensure().await?;
            }
        }
        Ok(())
    }

    /// Whether the server runs and answers `/healthz`.
    pub async fn serving(&mut self) -> bool {
        let Some(server) = self.server.as_mut() else {
            return false;
        };
        if server.exited().is_some() {
            return false;
        }
        server.api().healthy().await
    }
}

/// Starts a server, trying again (a dependency may still be coming back) until `deadline`.
pub async fn start_retrying(spec: &ServerSpec, deadline: Duration) -> Result<Server> {
    let end = Instant::now() + deadline;
    loop {
        match start(spec).await {
            Ok(server) => return Ok(server),
            Err(e) if Instant::now() < end => {
                eprintln!("  the server did not start ({e:#}); trying again");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Err(e) => return Err(e),
        }
    }
}
