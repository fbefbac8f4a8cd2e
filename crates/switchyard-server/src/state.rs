//! The shared state of every request, and [`open`], which builds it from a [`ServerConfig`]:
//! the data directory, the store, the admin token and the metrics recorder.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;
use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use switchyard_bus::Limits as BusLimits;
use switchyard_bus_embedded::EmbeddedBus;
use switchyard_bus_jetstream::{JetStreamBus, JetStreamConfig};
use switchyard_controller::cron::{Zone, ZoneInfoDir, ZoneLookup};
use switchyard_controller::{Controller, ControllerConfig, ControllerError, SubmitOptions};
use switchyard_engine::StepRunner;
use switchyard_events::pipeline::{Pipeline, PipelineConfig, SharedPipeline};
use switchyard_events::triggers::{EVENTS_ANNOTATION, FIRING_ANNOTATION, RunStarter, StartError};
use switchyard_executor::{
    ARGOSAY_IMAGES, ARGOSAY_TOOLS, ImageTools, LocalRunner, LocalRunnerConfig, ShimCommand,
    argosay_entrypoint, link_tools,
};
use switchyard_manifest::Limits;
use switchyard_model::Kind;
use switchyard_store::StoreError;
use switchyard_store::ledger::EventLedger;
use switchyard_store::{SecretSealer, Store};
use switchyard_store_postgres::{PostgresConfig, PostgresStore};
use switchyard_store_sqlite::SqliteStore;
use switchyard_worker::{QueueConfig, QueueRunner, Worker, WorkerConfig, WorkerHandle};

use crate::auth::{AdminToken, Authenticator, Principal, bootstrap_admin_token};
use crate::config::ServerConfig;
use crate::error::Error;
use crate::telemetry::{self, OBJECTS};

/// Cheap to clone; every handler gets one.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    zones: Arc<dyn ZoneLookup + Send + Sync>,
    store: Arc<dyn Store>,
    ledger: Arc<dyn EventLedger>,
    controller: Controller,
    pipeline: Pipeline,
    authenticator: Authenticator,
    catalog: crate::catalog::CatalogCell,
    lease: Option<switchyard_store::Lease>,
    holder: String,
    bus: Arc<dyn switchyard_bus::EventBus>,
    run_inbox: Option<Arc<dyn switchyard_controller::RunInbox>>,
    worker: tokio::sync::Mutex<Option<WorkerHandle>>,
    roles: crate::config::Roles,
    distributed: bool,
    shared_store: bool,
    metrics: PrometheusHandle,
    manifest_limits: Limits,
    max_body_bytes: usize,
}

impl AppState {
    pub fn new(parts: Parts, config: &ServerConfig) -> Self {
        let Parts {
            store,
            ledger,
            controller,
            pipeline,
            authenticator,
            lease,
            holder,
            bus,
            run_inbox,
            worker,
        } = parts;
        AppState {
            inner: Arc::new(Inner {
                zones: Arc::new(system_zones()),
                store,
                ledger,
                controller,
                pipeline,
                authenticator,
                catalog: Default::default(),
                lease,
                holder,
                bus,
                run_inbox,
                worker: tokio::sync::Mutex::new(worker),
                roles: config.roles,
                distributed: config.distributed(),
                shared_store: config.postgres.is_some(),
                metrics: telemetry::metrics_handle(),
                manifest_limits: config.manifest_limits.clone(),
                max_body_bytes: config.max_body_bytes,
            }),
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// Time zones for CronWorkflow schedules.
    pub fn zones(&self) -> &Arc<dyn ZoneLookup + Send + Sync> {
        &self.inner.zones
    }

    pub fn controller(&self) -> &Controller {
        &self.inner.controller
    }

    /// What sensors consumed and the triggers they owe.
    pub fn ledger(&self) -> &Arc<dyn EventLedger> {
        &self.inner.ledger
    }

    /// The event pipeline: webhook listeners, sensors, the trigger outbox.
    pub fn pipeline(&self) -> &Pipeline {
        &self.inner.pipeline
    }

    /// Brings the event pipeline in line with the store now; a failure is logged (the
    /// pipeline retries by itself).
    pub async fn reconcile_events(&self) {
        if let Err(err) = self.inner.pipeline.reconcile().await {
            tracing::warn!(error = %err, "event pipeline not reconciled; it will retry");
        }
    }

    /// The controller lease this process took at start, if it did (in distributed mode
    /// another process may hold it; this one then stands by).
    pub fn lease(&self) -> Option<&switchyard_store::Lease> {
        self.inner.lease.as_ref()
    }

    /// Where runs go while another process drives them (distributed mode): the controller
    /// inbox on the bus.
    pub fn run_inbox(&self) -> Option<&Arc<dyn switchyard_controller::RunInbox>> {
        self.inner.run_inbox.as_ref()
    }

    /// This process's name as a lease holder: `<host>/<instance id>`.
    pub fn holder(&self) -> &str {
        &self.inner.holder
    }

    /// The platform's event bus.
    pub fn bus(&self) -> &Arc<dyn switchyard_bus::EventBus> {
        &self.inner.bus
    }

    /// Stops pulling steps (steps running go on; see `switchyard-worker`).
    pub async fn stop_worker(&self) {
        if let Some(worker) = self.inner.worker.lock().await.take() {
            worker.shutdown().await;
        }
    }

    /// What this process does.
    pub fn roles(&self) -> crate::config::Roles {
        self.inner.roles
    }

    /// Whether other processes can open this platform's store (PostgreSQL).
    pub fn shared_store(&self) -> bool {
        self.inner.shared_store
    }

    /// Whether other processes share this platform (PostgreSQL and NATS JetStream).
    pub fn distributed(&self) -> bool {
        self.inner.distributed
    }

    /// The offering catalog as last loaded.
    pub fn catalog(&self) -> std::sync::Arc<crate::catalog::Catalog> {
        self.inner.catalog.get()
    }

    /// Reloads the offering catalog from the store (after Offerings changed).
    pub async fn reload_catalog(&self) {
        self.inner.catalog.reload(self.inner.store.as_ref()).await;
    }

    pub fn authenticator(&self) -> &Authenticator {
        &self.inner.authenticator
    }

    pub fn metrics(&self) -> &PrometheusHandle {
        &self.inner.metrics
    }

    pub fn manifest_limits(&self) -> &Limits {
        &self.inner.manifest_limits
    }

    pub fn max_body_bytes(&self) -> usize {
        self.inner.max_body_bytes
    }
}

/// What an [`AppState`] is built from.
pub struct Parts {
    pub store: Arc<dyn Store>,
    pub ledger: Arc<dyn EventLedger>,
    pub controller: Controller,
    pub pipeline: Pipeline,
    pub authenticator: Authenticator,
    pub lease: Option<switchyard_store::Lease>,
    pub holder: String,
    pub bus: Arc<dyn switchyard_bus::EventBus>,
    /// The controller inbox on the bus (distributed mode).
    pub run_inbox: Option<Arc<dyn switchyard_controller::RunInbox>>,
    /// The step worker of a process with the worker role, in distributed mode.
    pub worker: Option<WorkerHandle>,
}

/// A ready [`AppState`] and what happened to the admin token while opening.
pub struct Opened {
    pub state: AppState,
    pub admin_token: AdminToken,
}

/// Creates the data directory (mode 0700), opens the SQLite store in it with the sealing key
/// kept next to it, makes sure an admin token exists, and sets the object gauges.
pub async fn open(config: &ServerConfig) -> Result<Opened, Error> {
    config.check_roles().map_err(Error::Roles)?;
    create_private_dir(&config.data_dir).map_err(|source| Error::DataDir {
        path: config.data_dir.clone(),
        source,
    })?;
    let sealer =
        SecretSealer::load_or_create(&config.data_dir).map_err(|source| Error::SealingKey {
            path: config.data_dir.clone(),
            source,
        })?;
    let (store, ledger): (Arc<dyn Store>, Arc<dyn EventLedger>) = match &config.postgres {
        Some(pg) => {
            let settings = PostgresConfig::new(pg.url.clone(), pg.schema.clone());
            let postgres = PostgresStore::connect(&settings, sealer.clone())
                .await
                .map_err(|source| Error::Postgres {
                    schema: pg.schema.clone(),
                    source,
                })?;
            tracing::info!(schema = %pg.schema, "state in PostgreSQL");
            let postgres = Arc::new(postgres);
            (postgres.clone(), postgres)
        }
        None => {
            let db = config.database_path();
            let sqlite =
                SqliteStore::open(&db, sealer.clone()).map_err(|source| Error::OpenStore {
                    path: db.clone(),
                    source,
                })?;
            let sqlite = Arc::new(sqlite);
            (sqlite.clone(), sqlite)
        }
    };

    let (hash, admin_token) = bootstrap_admin_token(
        store.as_ref(),
        &config.admin_token_path(),
        config.rotate_admin_token,
    )
    .await?;
    let mut authenticator = Authenticator::new();
    authenticator.add(hash, Principal::admin());

    for kind in Kind::ALL {
        let count = store.list(*kind, None).await?.len();
        metrics::gauge!(OBJECTS, "kind" => kind.name()).set(count as f64);
    }

    // One process at a time drives the runs: take the controller lease before taking them
    // over. In distributed mode a process that finds it held stands by and forwards.
    let holder = crate::lease::holder_name(&config.data_dir).map_err(|source| Error::DataDir {
        path: config.data_dir.clone(),
        source,
    })?;
    let bus = open_bus(config).await?;
    let local = local_runner(config).map_err(|source| Error::DataDir {
        path: config.steps_path(),
        source,
    })?;
    // In distributed mode steps go through the step queue to whichever process has the
    // worker role; a single process runs them itself.
    let (runner, worker) = if config.distributed() {
        let instance =
            crate::lease::instance_id(&config.data_dir).map_err(|source| Error::DataDir {
                path: config.data_dir.clone(),
                source,
            })?;
        let queue_error = |e: switchyard_worker::WorkerError| Error::JetStream {
            stream: config
                .jetstream
                .as_ref()
                .map(|js| js.stream.clone())
                .unwrap_or_default(),
            reason: format!("the step queue: {e}"),
        };
        let queue = QueueRunner::new(
            bus.clone(),
            store.clone(),
            sealer.clone(),
            QueueConfig::new(instance.clone()),
        )
        .map_err(queue_error)?;
        queue.listen().await.map_err(queue_error)?;
        let worker = if config.roles.worker {
            let mut settings = WorkerConfig::new(instance);
            settings.parallel = config.max_parallel_steps;
            settings.stop_grace = config.stop_grace;
            Some(
                Worker::start(settings, bus.clone(), store.clone(), sealer.clone(), local)
                    .await
                    .map_err(queue_error)?,
            )
        } else {
            None
        };
        (Arc::new(queue) as Arc<dyn StepRunner>, worker)
    } else {
        (local, None)
    };
    let controller_config = ControllerConfig {
        stop_grace: config.stop_grace,
        image_entrypoints: image_entrypoints(config),
        node_labels: {
            let mut labels = switchyard_controller::host_node_labels();
            labels.extend(config.node_labels.clone());
            labels
        },
        fence: None,
    };
    let lease = if !config.distributed() {
        Some(crate::lease::take(store.as_ref(), &holder).await?)
    } else if config.roles.controller {
        crate::lease::try_take(store.as_ref(), &holder).await?
    } else {
        None
    };
    // In distributed mode every process can forward runs: it does when another process holds
    // the controller lease, at start or after losing it.
    let run_inbox: Option<Arc<dyn switchyard_controller::RunInbox>> = if config.distributed() {
        let inbox = crate::inbox::BusInbox::open(bus.clone(), store.clone())
            .await
            .map_err(|e| Error::JetStream {
                stream: config
                    .jetstream
                    .as_ref()
                    .map(|js| js.stream.clone())
                    .unwrap_or_default(),
                reason: format!("cannot declare the controller inbox: {e}"),
            })?;
        Some(Arc::new(inbox))
    } else {
        None
    };
    let controller = match (&lease, &run_inbox) {
        (Some(lease), _) => {
            tracing::info!(holder = %lease.holder, token = lease.token, "controller lease taken");
            let mut controller_config = controller_config;
            if config.postgres.is_some() {
                controller_config.fence = Some(switchyard_store::Fence::of(lease));
            }
            Controller::start(store.clone(), runner, controller_config)
                .await
                .map_err(|e| Error::Controller(e.to_string()))?
        }
        (None, Some(inbox)) => {
            Controller::forwarding(store.clone(), runner, controller_config, inbox.clone())
        }
        (None, None) => {
            return Err(Error::Lease(
                "no controller lease and no bus to forward runs on".to_owned(),
            ));
        }
    };

    let pipeline = event_pipeline(
        config,
        store.clone(),
        ledger.clone(),
        bus.clone(),
        controller.clone(),
        &holder,
    )
    .await?;
    let state = AppState::new(
        Parts {
            store,
            ledger,
            controller,
            pipeline,
            authenticator,
            lease,
            holder,
            bus,
            run_inbox,
            worker,
        },
        config,
    );
    state.reload_catalog().await;
    if config.roles.api {
        crate::orders::republish_pending(&state).await;
    }
    Ok(Opened { state, admin_token })
}

/// The event bus: NATS JetStream when configured, else the embedded bus in the data directory.
pub async fn open_bus(config: &ServerConfig) -> Result<Arc<dyn switchyard_bus::EventBus>, Error> {
    let bus_dir = config.bus_path();
    // A webhook body may be 1 MiB (Argo's default cap), and the event wraps it with the
    // request's headers; room for both.
    let limits = BusLimits {
        max_payload: 4 << 20,
        ..BusLimits::default()
    };
    Ok(match &config.jetstream {
        Some(js) => {
            let settings = JetStreamConfig::new(js.url.clone(), js.stream.clone());
            let bus =
                JetStreamBus::connect(settings, limits)
                    .await
                    .map_err(|e| Error::JetStream {
                        stream: js.stream.clone(),
                        reason: e.to_string(),
                    })?;
            tracing::info!(stream = %js.stream, "events on NATS JetStream");
            Arc::new(bus)
        }
        None => Arc::new(EmbeddedBus::open(&bus_dir, limits).map_err(|e| Error::Bus {
            path: bus_dir.clone(),
            reason: e.to_string(),
        })?),
    })
}

/// The event pipeline of a server on `bus`, with triggers that start runs through
/// `controller`, doing what the server's roles say. Webhooks and sensors of the stored
/// objects are up when this returns (or their problems logged).
pub async fn event_pipeline(
    config: &ServerConfig,
    store: Arc<dyn Store>,
    ledger: Arc<dyn EventLedger>,
    bus: Arc<dyn switchyard_bus::EventBus>,
    controller: Controller,
    holder: &str,
) -> Result<Pipeline, Error> {
    let pipeline = Pipeline::start(
        PipelineConfig {
            webhook_host: config.webhook_host,
            http_allow: config.http_trigger_allow.clone(),
            event_sources: config.roles.eventsource,
            sensors: config.roles.sensor,
            shared: config.distributed().then(|| SharedPipeline {
                holder: holder.to_owned(),
            }),
            max_backlog: config.max_event_backlog,
            max_active_runs: config.max_active_runs,
        },
        store.clone(),
        ledger,
        bus,
        Arc::new(ControllerStarter { controller, store }),
    )
    .map_err(|reason| Error::Bus {
        path: config.bus_path(),
        reason,
    })?;
    if let Err(err) = pipeline.reconcile().await {
        tracing::warn!(error = %err, "event pipeline not reconciled at start; it will retry");
    }
    Ok(pipeline)
}

/// The local step runner, with its scratch root under the data directory.
fn local_runner(config: &ServerConfig) -> std::io::Result<Arc<dyn StepRunner>> {
    let root = config.steps_path();
    create_private_dir(&root)?;
    if std::fs::canonicalize(&root).is_ok_and(|r| r.starts_with("/tmp")) {
        tracing::warn!(
            steps_dir = %root.display(),
            "the steps directory is under /tmp, so steps share the machine's /tmp and examples \
             that write fixed /tmp paths can collide; choose another with --steps-dir"
        );
    }
    let shim = match &config.step_shim {
        Some((program, args)) => ShimCommand {
            program: program.clone(),
            args_prefix: args.iter().map(OsString::from).collect(),
        },
        None => ShimCommand::switchyard_binary()?,
    };
    let mut image_tools: Vec<ImageTools> = config
        .image_tools
        .iter()
        .map(|(image, dir)| ImageTools {
            image: image.clone(),
            dir: std::path::absolute(dir).unwrap_or_else(|_| dir.clone()),
        })
        .collect();
    if let Some(program) = switchyard_program(config) {
        let dir = config.data_dir.join(TOOLS_DIR).join("argosay");
        let tools = link_tools(&dir, &program, ARGOSAY_TOOLS)?;
        for image in ARGOSAY_IMAGES {
            image_tools.push(ImageTools {
                image: (*image).to_owned(),
                ..tools.clone()
            });
        }
    }
    Ok(Arc::new(LocalRunner::new(LocalRunnerConfig {
        root,
        shim,
        max_parallel: config.max_parallel_steps,
        default_grace: config.stop_grace,
        image_tools,
    })))
}

/// The configured image entrypoints, plus the built-in `argosay` stand-in (the test image of
/// Argo's examples) run by this executable, unless configured otherwise.
fn image_entrypoints(config: &ServerConfig) -> BTreeMap<String, Vec<String>> {
    let mut map = config.image_entrypoints.clone();
    if let Some(program) = switchyard_program(config) {
        for image in ARGOSAY_IMAGES {
            map.entry((*image).to_string())
                .or_insert_with(|| argosay_entrypoint(&program).into_iter().collect());
        }
    }
    map
}

/// The `switchyard` executable that steps run as their supervisor and as `argosay`.
fn switchyard_program(config: &ServerConfig) -> Option<std::path::PathBuf> {
    match &config.step_shim {
        Some((program, _)) => Some(program.clone()),
        None => std::env::current_exe().ok(),
    }
}

/// Where the data directory keeps the host programs standing in for images' programs.
const TOOLS_DIR: &str = "tools";

/// The host's time zone database, with `TZ` as the default zone; UTC alone (with a warning)
/// when the database or `TZ` cannot be read.
fn system_zones() -> ZoneInfoDir {
    let tz = std::env::var("TZ").ok();
    match ZoneInfoDir::system(tz.as_deref()) {
        Ok(zones) => zones,
        Err(e) => {
            tracing::warn!(error = %e, "CronWorkflow schedules without a timezone use UTC");
            ZoneInfoDir::new(ZoneInfoDir::SYSTEM_ROOT, Zone::utc())
        }
    }
}

/// Creates `dir` and its parents; a directory created here is readable only by its owner.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Starts the runs that sensors' triggers ask for, through the workflow controller.
struct ControllerStarter {
    controller: Controller,
    store: Arc<dyn Store>,
}

#[async_trait::async_trait]
impl RunStarter for ControllerStarter {
    async fn start_workflow(
        &self,
        namespace: &str,
        workflow: serde_json::Value,
    ) -> Result<String, StartError> {
        let parsed: switchyard_model::workflow::Workflow = serde_json::from_value(workflow)
            .map_err(|e| {
                StartError::Invalid(format!("the trigger's resource is not a Workflow: {e}"))
            })?;
        let name = parsed.metadata.name.clone().unwrap_or_default();
        let events = parsed
            .metadata
            .annotations
            .get(EVENTS_ANNOTATION)
            .cloned()
            .unwrap_or_default();
        match self
            .controller
            .submit(namespace, parsed, SubmitOptions::default())
            .await
        {
            Ok(submitted) => {
                crate::orders::link_run(
                    self.store.as_ref(),
                    &events,
                    namespace,
                    &submitted.object.name,
                )
                .await;
                Ok(submitted.object.name)
            }
            Err(ControllerError::Store(StoreError::AlreadyExists { .. })) => {
                // A firing carried out again after a restart: the run exists, and the order
                // it came from may not have heard of it yet.
                crate::orders::link_run(self.store.as_ref(), &events, namespace, &name).await;
                let key = switchyard_store::ObjectKey::new(Kind::Workflow, namespace, name.clone());
                let firing = match self.store.get(&key).await {
                    Ok(Some(existing)) => existing.body["metadata"]["annotations"]
                        [FIRING_ANNOTATION]
                        .as_str()
                        .map(str::to_owned),
                    _ => None,
                };
                Err(StartError::AlreadyExists { name, firing })
            }
            Err(ControllerError::Store(e)) if e.is_retryable() => {
                Err(StartError::Unavailable(e.to_string()))
            }
            Err(ControllerError::ShuttingDown) => Err(StartError::Unavailable(
                "the workflow controller is stopping".to_owned(),
            )),
            Err(e) => Err(StartError::Invalid(e.to_string())),
        }
    }
}
