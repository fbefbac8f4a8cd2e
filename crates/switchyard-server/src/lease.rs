//! The controller lease: one process at a time runs a platform's workflows.
//!
//! Runs are driven by one actor each, in the process holding the `controller` lease in the
//! store. A process takes it at start (waiting out a dead holder's lease), renews it every
//! [`RENEW_EVERY`], and gives it back when it stops. If it ever cannot renew in time, another
//! process may hold it, and two controllers must never drive the same runs: in distributed
//! mode it stands down (its runs' actors let go, runs are forwarded) and stands by to take
//! the lease again; without a shared bus it stops serving. The holder's name is stable per
//! data directory, so a restart takes its own lease back at once.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use switchyard_store::{Lease, Store};
use tokio::sync::watch;

use crate::error::Error;

/// The lease's name in the store.
pub const CONTROLLER_LEASE: &str = "controller";
/// How long a lease lasts without renewal: how long runs wait for a new controller when
/// their process dies without giving the lease back.
pub const LEASE_TTL: Duration = Duration::from_secs(15);
/// How often the holder renews.
pub const RENEW_EVERY: Duration = Duration::from_secs(5);
/// How soon a renewal that failed is tried again.
const RETRY_EVERY: Duration = Duration::from_secs(1);
/// The file in the data directory naming this instance.
const INSTANCE_FILE: &str = "instance.id";

/// This data directory's holder name: `<host>/<instance id>`.
pub fn holder_name(data_dir: &Path) -> std::io::Result<String> {
    let id = instance_id(data_dir)?;
    let host = switchyard_controller::host_name().unwrap_or_else(|| "localhost".to_owned());
    Ok(format!("{host}/{id}"))
}

/// This data directory's instance id (a UUID made once and kept), which names the process's
/// own bus consumers.
pub fn instance_id(data_dir: &Path) -> std::io::Result<String> {
    let path = data_dir.join(INSTANCE_FILE);
    match std::fs::read_to_string(&path) {
        Ok(id) if !id.trim().is_empty() => Ok(id.trim().to_owned()),
        _ => {
            let id = uuid::Uuid::new_v4().to_string();
            std::fs::write(&path, format!("{id}\n"))?;
            Ok(id)
        }
    }
}

/// Takes the controller lease for `holder`, waiting once for another holder's lease to
/// expire (a process that died without giving it back). Fails when a live process holds it.
pub async fn take(store: &dyn Store, holder: &str) -> Result<Lease, Error> {
    for attempt in 0..2 {
        match store
            .acquire_lease(CONTROLLER_LEASE, holder, LEASE_TTL)
            .await?
        {
            Ok(lease) => return Ok(lease),
            Err(other) if attempt == 0 => {
                let wait = (other.expires_at - chrono::Utc::now())
                    .to_std()
                    .unwrap_or_default()
                    .min(LEASE_TTL)
                    + Duration::from_millis(500);
                tracing::warn!(
                    holder = %other.holder, expires_at = %other.expires_at,
                    "another process holds the controller lease; waiting for it to expire"
                );
                tokio::time::sleep(wait).await;
            }
            Err(other) => {
                return Err(Error::Lease(format!(
                    "another Switchyard process ({}) runs this platform's workflows and keeps \
                     renewing its lease; processes share a platform only with both --database \
                     and --nats (then the others stand by): stop that process, or give this one \
                     another database schema (--database-schema)",
                    other.holder
                )));
            }
        }
    }
    Err(Error::Lease(
        "the controller lease could not be taken".to_owned(),
    ))
}

/// Takes the controller lease for `holder` if nobody else holds it (distributed mode: a
/// process that finds it held stands by, see [`lead`]).
pub async fn try_take(store: &dyn Store, holder: &str) -> Result<Option<Lease>, Error> {
    match store
        .acquire_lease(CONTROLLER_LEASE, holder, LEASE_TTL)
        .await?
    {
        Ok(lease) => Ok(Some(lease)),
        Err(other) => {
            tracing::info!(
                holder = %other.holder, expires_at = %other.expires_at,
                "another process drives the runs; this one stands by and forwards to it"
            );
            Ok(None)
        }
    }
}

/// How [`keep`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    /// `stop` fired; the lease was given back.
    Stopped,
    /// A renewal was refused, or the lease would have expired before one succeeded.
    Lost,
}

/// How long a process that lost the lease waits for its runs' actors to let go.
const STAND_DOWN_WAIT: Duration = Duration::from_secs(30);

/// Drives the runs while this process holds the controller lease: with `lease` at once, else
/// once it takes the lease (standing by until then, trying every [`RENEW_EVERY`]). While
/// driving, it also schedules CronWorkflows and, in distributed mode, carries out the
/// controller inbox. Returns when `stop` fires. When the lease is lost, a process that can
/// forward runs (distributed mode) stands down and stands by again, to drive the runs when
/// it takes the lease back; any other sets `lost` and returns (the server stops).
pub async fn lead(
    state: crate::AppState,
    lease: Option<Lease>,
    lost: watch::Sender<bool>,
    mut stop: watch::Receiver<bool>,
) {
    let store = state.store().clone();
    let controller = state.controller().clone();
    let mut lease = lease;
    loop {
        let held = loop {
            if let Some(lease) = lease.take() {
                if controller.is_driving() {
                    break lease;
                }
                match controller
                    .take_over(
                        state
                            .shared_store()
                            .then(|| switchyard_store::Fence::of(&lease)),
                    )
                    .await
                {
                    Ok(()) => {
                        tracing::info!(
                            token = lease.token,
                            "controller lease taken: this process drives the runs now"
                        );
                        break lease;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "cannot take over the runs; giving the lease back");
                        let _ = store.release_lease(CONTROLLER_LEASE, state.holder()).await;
                    }
                }
            }
            tokio::select! {
                () = tokio::time::sleep(RENEW_EVERY) => {}
                _ = stop.changed() => return,
            }
            match store
                .acquire_lease(CONTROLLER_LEASE, state.holder(), LEASE_TTL)
                .await
            {
                Ok(Ok(taken)) => lease = Some(taken),
                Ok(Err(_)) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "cannot ask for the controller lease; trying again")
                }
            }
        };
        let scheduler = tokio::spawn(switchyard_controller::scheduler::run_scheduler(
            controller.clone(),
            state.zones().clone(),
        ));
        let (stop_inbox, stop_inbox_rx) = watch::channel(false);
        let inbox = state.distributed().then(|| {
            tokio::spawn(crate::inbox::serve(
                controller.clone(),
                state.bus().clone(),
                store.clone(),
                stop_inbox_rx,
            ))
        });
        let kept = keep(store.clone(), held, stop.clone(), state.shared_store()).await;
        scheduler.abort();
        let _ = stop_inbox.send(true);
        if let Some(inbox) = inbox {
            inbox.abort();
        }
        match (kept, state.run_inbox()) {
            (Kept::Stopped, _) => return,
            (Kept::Lost, Some(inbox)) => {
                tracing::warn!(
                    "the controller lease was lost: this process stops driving the runs and \
                     stands by, forwarding runs to the process that takes the lease"
                );
                controller.stand_down(inbox.clone(), STAND_DOWN_WAIT).await;
            }
            (Kept::Lost, None) => {
                let _ = lost.send(true);
                return;
            }
        }
    }
}

/// Renews `lease` until `stop` fires (then gives it back) or the lease is lost: a renewal
/// is refused, or the lease would expire before one succeeds.
pub async fn keep(
    store: Arc<dyn Store>,
    mut lease: Lease,
    mut stop: watch::Receiver<bool>,
    shared: bool,
) -> Kept {
    let mut pause = RENEW_EVERY;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.changed() => {
                if let Err(e) = store.release_lease(CONTROLLER_LEASE, &lease.holder).await {
                    tracing::warn!(error = %e, "the controller lease was not given back; it expires by itself");
                }
                return Kept::Stopped;
            }
        }
        match store
            .acquire_lease(CONTROLLER_LEASE, &lease.holder, LEASE_TTL)
            .await
        {
            Ok(Ok(renewed)) => {
                lease = renewed;
                pause = RENEW_EVERY;
            }
            Ok(Err(other)) => {
                tracing::error!(
                    holder = %other.holder, token = other.token,
                    "the controller lease went to another process"
                );
                return Kept::Lost;
            }
            Err(e) if !shared => {
                // A store no other process can open (SQLite in this data directory): nobody
                // can take the lease over, so an outage is waited out, not a reason to stop.
                tracing::warn!(error = %e, "the controller lease was not renewed (the store is unavailable); trying again");
                pause = RETRY_EVERY;
            }
            Err(e) => {
                // Keep trying while the lease lasts; past it, another may take it (and this
                // process's run writes are fenced off by then).
                let left = lease.expires_at - chrono::Utc::now();
                if left < chrono::Duration::from_std(RETRY_EVERY).unwrap_or_default() {
                    tracing::error!(error = %e, "the controller lease cannot be renewed before it expires");
                    return Kept::Lost;
                }
                tracing::warn!(error = %e, "the controller lease was not renewed; trying again");
                pause = RETRY_EVERY;
            }
        }
    }
}
