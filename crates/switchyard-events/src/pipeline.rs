//! The event pipeline as one running thing: EventSources' listeners, sensors, and the
//! outbox, kept in step with the stored objects.

use std::net::IpAddr;
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use switchyard_bus::EventBus;
use switchyard_model::Kind;
use switchyard_store::ledger::EventLedger;
use switchyard_store::{Store, StoreError};
use tokio::sync::{Mutex, Notify, watch};

use crate::backlog::{Backlog, RunGate, watch_backlog};
use crate::calendar::Calendars;
use crate::http::{AddressPolicy, Cidr, HttpSender};
use crate::publish::BusDispatch;
use crate::sensors::Sensors;
use crate::sources::webhook_routes;
use crate::triggers::{Effects, OutboxLease, RunStarter, run_outbox};
use crate::webhook::{
    DispatchError, Dispatched, RouteProblem, WebhookRoute, WebhookServers, webhook_event,
};
use crate::{lock_read, lock_write};

/// How often the pipeline re-reads the stored objects even when nobody said they changed.
const RESYNC: Duration = Duration::from_secs(10);

/// Settings of the pipeline.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// The address webhook servers listen on.
    pub webhook_host: IpAddr,
    /// Internal addresses HTTP triggers may reach anyway.
    pub http_allow: Vec<Cidr>,
    /// Serve EventSources here: bind webhook ports and run calendars. Without it the
    /// webhook routes are still known, so [`Pipeline::raise`] works (the platform API of a
    /// process without the eventsource role).
    pub event_sources: bool,
    /// Run sensors and the trigger outbox here.
    pub sensors: bool,
    /// Other processes share this platform's bus and ledger (distributed mode): sensors read
    /// their state from the ledger before each event (a replica may have moved it), and the
    /// trigger outbox runs only while this process holds the `outbox` lease of the store.
    pub shared: Option<SharedPipeline>,
    /// Events waiting for the slowest sensor at which webhook events and orders are refused
    /// with 429 (0: never); see [`crate::backlog`].
    pub max_backlog: u64,
    /// Runs in progress at which sensors that start runs stop taking events (0: never); see
    /// [`crate::backlog::RunGate`]. Whoever drives the runs sets the count on
    /// [`Pipeline::run_gate`].
    pub max_active_runs: u64,
}

/// How a pipeline shares its work with other processes.
#[derive(Debug, Clone)]
pub struct SharedPipeline {
    /// This process's lease holder name.
    pub holder: String,
}

impl PipelineConfig {
    /// Everything in this process: the single-process default.
    pub fn all(webhook_host: IpAddr, http_allow: Vec<Cidr>) -> Self {
        PipelineConfig {
            webhook_host,
            http_allow,
            event_sources: true,
            sensors: true,
            shared: None,
            max_backlog: crate::backlog::DEFAULT_MAX_BACKLOG,
            max_active_runs: crate::backlog::DEFAULT_MAX_ACTIVE_RUNS,
        }
    }
}

/// Why [`Pipeline::raise`] recorded nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RaiseError {
    /// No such webhook route is served (not applied, or its port could not be bound).
    #[error("{0}")]
    NoRoute(String),
    /// The bus cannot take it now: retry.
    #[error("{0}")]
    Unavailable(String),
    /// The source's filter cannot be evaluated on it.
    #[error("{0}")]
    Rejected(String),
    /// Sensors are too far behind: retry later (see [`crate::backlog`]).
    #[error("{0}")]
    Busy(String),
}

/// The running pipeline. Cheap to clone.
#[derive(Clone)]
pub struct Pipeline {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    bus: Arc<dyn EventBus>,
    webhooks: Mutex<WebhookServers>,
    calendars: Mutex<Calendars>,
    sensors: Mutex<Sensors>,
    /// Every webhook route of the stored EventSources (served here or not).
    routes: RwLock<Vec<Arc<WebhookRoute>>>,
    problems: RwLock<Vec<RouteProblem>>,
    config: PipelineConfig,
    changed: Notify,
    stop: watch::Sender<bool>,
    outbox_wake: Arc<Notify>,
    backlog: Arc<Backlog>,
    run_gate: Arc<RunGate>,
}

impl Pipeline {
    /// Builds the pipeline and starts its loops: reconciling with the store, and the outbox.
    /// Fails only when the HTTP client cannot be built.
    pub fn start(
        config: PipelineConfig,
        store: Arc<dyn Store>,
        ledger: Arc<dyn EventLedger>,
        bus: Arc<dyn EventBus>,
        starter: Arc<dyn RunStarter>,
    ) -> Result<Pipeline, String> {
        let backlog = Backlog::new(config.max_backlog);
        let run_gate = RunGate::new(config.max_active_runs);
        let bus_for_backlog = bus.clone();
        let dispatch = Arc::new(BusDispatch::new(bus.clone()).with_backlog(backlog.clone()));
        let outbox_wake = Arc::new(Notify::new());
        let (stop_sender, stop) = watch::channel(false);
        let pipeline = Pipeline {
            inner: Arc::new(Inner {
                webhooks: Mutex::new({
                    let servers = WebhookServers::new(config.webhook_host, dispatch.clone());
                    if config.shared.is_some() {
                        servers.share_ports()
                    } else {
                        servers
                    }
                }),
                calendars: Mutex::new(Calendars::new(store.clone(), dispatch)),
                sensors: Mutex::new(Sensors::new(
                    ledger.clone(),
                    bus.clone(),
                    outbox_wake.clone(),
                    config.shared.is_some(),
                    run_gate.clone(),
                )),
                bus,
                store,
                routes: RwLock::new(Vec::new()),
                problems: RwLock::new(Vec::new()),
                config: config.clone(),
                changed: Notify::new(),
                stop: stop_sender,
                outbox_wake: outbox_wake.clone(),
                backlog: backlog.clone(),
                run_gate,
            }),
        };
        tokio::spawn(watch_backlog(backlog, bus_for_backlog, stop.clone()));
        let effects = Arc::new(Effects {
            starter,
            http: HttpSender::new(AddressPolicy {
                allow: config.http_allow,
            })?,
            store: pipeline.inner.store.clone(),
        });
        if config.sensors {
            let lease = config.shared.as_ref().map(|shared| OutboxLease {
                store: pipeline.inner.store.clone(),
                holder: shared.holder.clone(),
            });
            tokio::spawn(run_outbox(
                ledger,
                effects,
                outbox_wake,
                lease,
                stop.clone(),
            ));
        }
        // The loop holds the pipeline weakly: dropping every handle ends it.
        let weak = Arc::downgrade(&pipeline.inner);
        tokio::spawn(reconcile_loop(weak, stop));
        Ok(pipeline)
    }

    /// Says that EventSources, Sensors or Secrets changed: reconcile soon.
    pub fn notify_changed(&self) {
        self.inner.changed.notify_one();
    }

    /// The events waiting for the slowest sensor, as last measured, and the limit.
    pub fn backlog(&self) -> (u64, u64) {
        (self.inner.backlog.depth(), self.inner.backlog.limit())
    }

    /// Runs in progress against their limit: set it from whoever drives the runs.
    pub fn run_gate(&self) -> &Arc<RunGate> {
        &self.inner.run_gate
    }

    /// Wakes the outbox (tests and the API use it after settling things by hand).
    pub fn wake_outbox(&self) {
        self.inner.outbox_wake.notify_one();
    }

    /// Routes that could not be served at the last reconcile, and why.
    pub fn route_problems(&self) -> Vec<RouteProblem> {
        lock_read(&self.inner.problems).clone()
    }

    /// Why a sensor is not running, when it is not.
    pub async fn sensor_problem(&self, namespace: &str, name: &str) -> Option<String> {
        self.inner
            .sensors
            .lock()
            .await
            .problems()
            .iter()
            .find(|p| p.namespace == namespace && p.name == name)
            .map(|p| p.message.clone())
    }

    /// Raises an event on a served webhook route as if `body` had been posted to it with
    /// `headers`: the same event data and attributes, the same filter, the same bus. `id` is
    /// the event's id and its dedup key (raising it again records nothing new).
    pub async fn raise(
        &self,
        namespace: &str,
        source: &str,
        event: &str,
        headers: &axum::http::HeaderMap,
        body: serde_json::Value,
        id: &str,
    ) -> Result<Dispatched, RaiseError> {
        let (route, dispatch) = {
            let route = lock_read(&self.inner.routes)
                .iter()
                .find(|r| r.namespace == namespace && r.source == source && r.event == event)
                .cloned();
            let route = route.ok_or_else(|| {
                RaiseError::NoRoute(format!(
                    "EventSource {namespace}/{source} serves no webhook event `{event}`{}",
                    self.route_problems()
                        .iter()
                        .find(|p| p.namespace == namespace
                            && p.source == source
                            && p.event == event)
                        .map(|p| format!(" ({})", p.message))
                        .unwrap_or_default()
                ))
            })?;
            (route, self.inner.webhooks.lock().await.dispatcher())
        };
        let origin = Some(format!("switchyard-api/{namespace}/{source}"));
        let (cloudevent, dedup) = webhook_event(
            &route,
            headers,
            body,
            Some(id.to_owned()),
            origin,
            chrono::Utc::now(),
        );
        dispatch
            .dispatch(&route, cloudevent, dedup)
            .await
            .map_err(|e| match e {
                DispatchError::Unavailable(m) => RaiseError::Unavailable(m),
                DispatchError::Rejected(m) => RaiseError::Rejected(m),
                DispatchError::Busy(m) => RaiseError::Busy(m),
            })
    }

    /// The webhook ports being served.
    pub async fn webhook_ports(&self) -> Vec<u16> {
        self.inner.webhooks.lock().await.ports()
    }

    /// Stops every loop, listener and sensor, and closes the bus (its storage can be opened
    /// again when this returns).
    pub async fn shutdown(&self) {
        let _ = self.inner.stop.send(true);
        self.inner
            .webhooks
            .lock()
            .await
            .set_routes(Vec::new())
            .await;
        self.inner.calendars.lock().await.stop_all().await;
        self.inner.sensors.lock().await.stop_all().await;
        if let Err(err) = self.inner.bus.close().await {
            tracing::warn!(error = %err, "the event bus did not close cleanly");
        }
    }

    /// Brings listeners and sensors in line with the store now.
    pub async fn reconcile(&self) -> Result<(), StoreError> {
        let store = self.inner.store.as_ref();
        let sources = store.list(Kind::EventSource, None).await?;
        let (routes, mut problems) = webhook_routes(store, &sources).await;
        *lock_write(&self.inner.routes) = routes.iter().cloned().map(Arc::new).collect();
        if self.inner.config.event_sources {
            problems.extend(self.inner.webhooks.lock().await.set_routes(routes).await);
            problems.extend(self.inner.calendars.lock().await.reconcile(&sources).await);
        }
        for problem in &problems {
            tracing::warn!(
                event_source = %format_args!("{}/{}", problem.namespace, problem.source),
                event = %problem.event, problem = %problem.message,
                "webhook event not served"
            );
        }
        *lock_write(&self.inner.problems) = problems;
        let sensors = store.list(Kind::Sensor, None).await?;
        self.inner.backlog.set_consumers(
            sensors
                .iter()
                .map(|s| crate::sensors::consumer_name(&s.uid))
                .collect(),
        );
        if self.inner.config.sensors {
            self.inner.sensors.lock().await.reconcile(&sensors).await;
        }
        Ok(())
    }
}

/// Reconciles on every change notice and every [`RESYNC`], until the pipeline stops or is
/// dropped.
async fn reconcile_loop(pipeline: Weak<Inner>, mut stop: watch::Receiver<bool>) {
    loop {
        let Some(inner) = pipeline.upgrade() else {
            return;
        };
        let handle = Pipeline { inner };
        if let Err(err) = handle.reconcile().await {
            tracing::warn!(error = %err, "event pipeline not reconciled; trying again");
        }
        let inner = handle.inner;
        tokio::select! {
            () = inner.changed.notified() => {}
            _ = stop.changed() => return,
            () = tokio::time::sleep(RESYNC) => {}
        }
    }
}
