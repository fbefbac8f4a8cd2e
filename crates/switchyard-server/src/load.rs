//! Runs in progress, told to the event pipeline's [`RunGate`](switchyard_events::backlog::RunGate)
//! so that sensors stop starting runs at `--max-active-runs` and submits are refused.
//!
//! The process that drives the runs counts them (the controller's actors). In distributed
//! mode it also writes the count to the store's meta key [`ACTIVE_RUNS_META`] when it changes
//! (and every [`REFRESH`] anyway), and every other process reads it from there: sensors and
//! the API may run in processes that do not drive the runs. A count older than [`STALE`]
//! (its writer died; the next holder of the controller lease writes a new one) counts as 0.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::AppState;

/// The store meta key holding the driving process's count.
pub const ACTIVE_RUNS_META: &str = "controller.active_runs";
/// How often the count is taken (and read, in a process that does not drive the runs).
const TICK: Duration = Duration::from_millis(250);
/// How often the driving process writes an unchanged count again.
const REFRESH: Duration = Duration::from_secs(5);
/// How old a written count may be and still count.
const STALE: Duration = Duration::from_secs(30);

#[derive(Debug, Serialize, Deserialize)]
struct Written {
    active: u64,
    at: DateTime<Utc>,
}

/// Keeps the pipeline's run gate current until `stop` fires.
pub async fn share_active_runs(state: AppState, mut stop: watch::Receiver<bool>) {
    let gate = state.pipeline().run_gate().clone();
    let controller = state.controller().clone();
    let store = state.store().clone();
    let distributed = state.distributed();
    let drives = state.roles().controller;
    let mut changes = controller.watch_active_runs();
    let mut written: Option<(u64, tokio::time::Instant)> = None;
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        // The driving process hears of every change at once (sensors in it stop at the limit
        // without a tick's delay); the others read the store every tick.
        tokio::select! {
            _ = tick.tick() => {}
            changed = changes.changed(), if drives => {
                if changed.is_err() {
                    return;
                }
            }
            _ = stop.changed() => return,
        }
        if drives && controller.is_driving() {
            let active = *changes.borrow_and_update() as u64;
            gate.set_active(active);
            let due = written.is_none_or(|(count, at)| count != active || at.elapsed() >= REFRESH);
            // Written at most once a tick: a busy controller changes its count all the time.
            if distributed && due && written.is_none_or(|(_, at)| at.elapsed() >= TICK) {
                let value = Written {
                    active,
                    at: Utc::now(),
                };
                let text = serde_json::to_string(&value).unwrap_or_default();
                match store.put_meta(ACTIVE_RUNS_META, &text).await {
                    Ok(()) => written = Some((active, tokio::time::Instant::now())),
                    Err(e) => {
                        tracing::debug!(error = %e, "cannot share the count of runs in progress")
                    }
                }
            }
        } else if distributed {
            written = None;
            match store.get_meta(ACTIVE_RUNS_META).await {
                Ok(text) => gate.set_active(read_count(text.as_deref(), Utc::now())),
                Err(e) => tracing::debug!(error = %e, "cannot read the count of runs in progress"),
            }
        }
    }
}

/// The count a driving process wrote, or 0 when there is none, it is unreadable or stale.
fn read_count(text: Option<&str>, now: DateTime<Utc>) -> u64 {
    let Some(written) = text.and_then(|t| serde_json::from_str::<Written>(t).ok()) else {
        return 0;
    };
    let age = now.signed_duration_since(written.at);
    if age > chrono::Duration::from_std(STALE).unwrap_or(chrono::Duration::MAX) {
        return 0;
    }
    written.active
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_count_counts_until_it_is_stale() {
        let now = Utc::now();
        let text = |active: u64, ago: i64| {
            serde_json::to_string(&Written {
                active,
                at: now - chrono::Duration::seconds(ago),
            })
            .unwrap()
        };
        assert_eq!(read_count(Some(&text(42, 1)), now), 42);
        assert_eq!(read_count(Some(&text(42, 29)), now), 42);
        assert_eq!(read_count(Some(&text(42, 31)), now), 0, "its writer died");
        assert_eq!(read_count(None, now), 0);
        assert_eq!(read_count(Some("not json"), now), 0);
    }
}
