//! Backpressure at ingest: how many events wait for the slowest sensor, and when webhooks
//! stop taking new ones.
//!
//! The bus keeps messages until a retention limit removes them, even ones a sensor has not
//! consumed yet (see `switchyard-bus`): with sensors far slower than senders, accepting
//! everything would end in the bus dropping accepted events. So the pipeline measures the
//! backlog (the last sequence on the bus minus the lowest ack floor of the sensors' durable
//! consumers) every [`MEASURE_EVERY`], and while it is at or above the limit, webhook
//! requests and orders are answered 429 with `Retry-After` instead of being accepted. The
//! limit is far below the bus's message limit, so what was accepted stays until consumed.
//! Calendar ticks are not refused: they are few, and their ids make a late tick one event.
//!
//! Runs are the other place work waits. [`RunGate`] holds the number of runs in progress
//! (those with an actor in the controller's memory: started, waiting for a step slot or
//! running steps; a run waiting only for a command does not count) and a limit. At the limit,
//! sensors that start workflows stop taking events until runs finish, so the events wait on
//! the bus (on disk) instead of as runs in memory, and the event backlog above then refuses
//! new ones at its stated depth; direct submits are refused with 429 meanwhile.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use switchyard_bus::EventBus;
use tokio::sync::watch;

/// How often the backlog is measured.
pub const MEASURE_EVERY: Duration = Duration::from_millis(500);
/// The default limit: a tenth of the bus's default message limit.
pub const DEFAULT_MAX_BACKLOG: u64 = switchyard_bus::DEFAULT_MAX_MESSAGES / 10;
/// The gauge of the last measured backlog.
pub const BACKLOG_GAUGE: &str = "switchyard_event_backlog";

/// The last measured backlog and its limit. Cheap to share.
#[derive(Debug)]
pub struct Backlog {
    limit: u64,
    depth: AtomicU64,
    consumers: RwLock<Vec<String>>,
}

impl Backlog {
    /// A backlog refusing new events at `limit` waiting ones (0: never).
    pub fn new(limit: u64) -> Arc<Backlog> {
        Arc::new(Backlog {
            limit,
            depth: AtomicU64::new(0),
            consumers: RwLock::new(Vec::new()),
        })
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// The last measured backlog.
    pub fn depth(&self) -> u64 {
        self.depth.load(Ordering::Relaxed)
    }

    /// Why a new event must wait, when the backlog is at its limit.
    pub fn refusal(&self) -> Option<String> {
        let depth = self.depth();
        (self.limit > 0 && depth >= self.limit).then(|| {
            format!(
                "{depth} events wait for sensors (the limit is {}); retry later",
                self.limit
            )
        })
    }

    /// The durable consumers whose progress counts: the sensors'.
    pub fn set_consumers(&self, names: Vec<String>) {
        *crate::lock_write(&self.consumers) = names;
    }

    /// Measures once: the bus's last sequence minus the lowest ack floor of the consumers
    /// (0 without consumers). A consumer the bus does not know yet counts from its start,
    /// which is new messages only, so it is skipped.
    pub async fn measure(&self, bus: &dyn EventBus) -> Result<u64, switchyard_bus::BusError> {
        let consumers = crate::lock_read(&self.consumers).clone();
        let info = bus.info().await?;
        let mut floor: Option<u64> = None;
        for name in &consumers {
            if let Some(consumer) = bus.consumer_info(name).await? {
                floor = Some(floor.map_or(consumer.ack_floor, |f| f.min(consumer.ack_floor)));
            }
        }
        let depth = backlog(info.last_seq, info.first_seq, floor);
        self.depth.store(depth, Ordering::Relaxed);
        metrics::gauge!(BACKLOG_GAUGE).set(depth as f64);
        Ok(depth)
    }
}

/// The events after `floor` still retained (`first_seq` onward) up to `last_seq`.
fn backlog(last_seq: u64, first_seq: u64, floor: Option<u64>) -> u64 {
    match floor {
        None => 0,
        Some(floor) => last_seq.saturating_sub(floor.max(first_seq.saturating_sub(1))),
    }
}

/// Measures every [`MEASURE_EVERY`] until `stop`.
pub async fn watch_backlog(
    backlog: Arc<Backlog>,
    bus: Arc<dyn EventBus>,
    mut stop: watch::Receiver<bool>,
) {
    let mut warned = false;
    loop {
        match backlog.measure(bus.as_ref()).await {
            Ok(depth) if backlog.limit > 0 && depth >= backlog.limit && !warned => {
                tracing::warn!(
                    depth,
                    limit = backlog.limit,
                    "sensors are behind: new webhook events are refused (429) until they catch up"
                );
                warned = true;
            }
            Ok(depth) if warned && depth < backlog.limit => {
                tracing::info!(depth, "sensors caught up: webhook events are taken again");
                warned = false;
            }
            Ok(_) => {}
            Err(e) => tracing::debug!(error = %e, "cannot measure the event backlog"),
        }
        tokio::select! {
            () = tokio::time::sleep(MEASURE_EVERY) => {}
            _ = stop.changed() => return,
        }
    }
}

/// The default limit of runs in progress (`--max-active-runs`). A run in progress holds its
/// status and its steps' specs in memory (measured: about 170 KiB for a run waiting for a
/// step slot), so the default keeps a flood of events to a few hundred MiB.
pub const DEFAULT_MAX_ACTIVE_RUNS: u64 = 2_000;
/// The gauge of runs in progress, as the gate last heard.
pub const ACTIVE_RUNS_GAUGE: &str = "switchyard_active_runs";

/// Runs in progress against their limit: sensors that start runs wait at it, and direct
/// submits are refused. Cheap to share.
#[derive(Debug)]
pub struct RunGate {
    limit: u64,
    active: watch::Sender<u64>,
}

impl RunGate {
    /// A gate closing at `limit` runs in progress (0: never).
    pub fn new(limit: u64) -> Arc<RunGate> {
        Arc::new(RunGate {
            limit,
            active: watch::Sender::new(0),
        })
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Runs in progress, as last set.
    pub fn active(&self) -> u64 {
        *self.active.borrow()
    }

    /// Sets the number of runs in progress (from the controller, or from the store in a
    /// process that does not drive the runs).
    pub fn set_active(&self, active: u64) {
        self.active.send_if_modified(|now| {
            let changed = *now != active;
            *now = active;
            changed
        });
        metrics::gauge!(ACTIVE_RUNS_GAUGE).set(active as f64);
    }

    fn full(&self, active: u64) -> bool {
        self.limit > 0 && active >= self.limit
    }

    /// Why a new run must wait, when the gate is at its limit.
    pub fn refusal(&self) -> Option<String> {
        let active = self.active();
        self.full(active).then(|| {
            format!(
                "{active} runs are in progress (the limit is {}); retry later",
                self.limit
            )
        })
    }

    /// Returns once fewer runs than the limit are in progress.
    pub async fn room(&self) {
        let mut active = self.active.subscribe();
        // The sender lives as long as `self`, so this cannot fail.
        let _ = active.wait_for(|n| !self.full(*n)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backlog_counts_what_the_slowest_consumer_has_not_acknowledged() {
        assert_eq!(backlog(100, 1, None), 0, "no consumer, no backlog");
        assert_eq!(backlog(100, 1, Some(100)), 0);
        assert_eq!(backlog(100, 1, Some(40)), 60);
        // Retention removed the oldest: only what is retained can wait.
        assert_eq!(backlog(100, 71, Some(40)), 30);
        assert_eq!(backlog(0, 1, Some(0)), 0);
    }

    #[test]
    fn events_are_refused_at_the_limit_only() {
        let b = Backlog::new(10);
        assert_eq!(b.refusal(), None);
        b.depth.store(9, Ordering::Relaxed);
        assert_eq!(b.refusal(), None);
        b.depth.store(10, Ordering::Relaxed);
        assert_eq!(
            b.refusal().as_deref(),
            Some("10 events wait for sensors (the limit is 10); retry later")
        );
        let never = Backlog::new(0);
        never.depth.store(1_000_000, Ordering::Relaxed);
        assert_eq!(never.refusal(), None);
    }

    #[tokio::test]
    async fn the_run_gate_closes_at_its_limit_and_opens_when_runs_finish() {
        let gate = RunGate::new(3);
        gate.set_active(2);
        assert_eq!(gate.refusal(), None);
        gate.room().await;
        gate.set_active(3);
        assert_eq!(
            gate.refusal().as_deref(),
            Some("3 runs are in progress (the limit is 3); retry later")
        );
        let waiting = tokio::spawn({
            let gate = gate.clone();
            async move { gate.room().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "the gate is full");
        gate.set_active(4);
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "still full");
        gate.set_active(2);
        waiting.await.unwrap();
        let never = RunGate::new(0);
        never.set_active(u64::MAX);
        assert_eq!(never.refusal(), None);
        never.room().await;
    }
}
