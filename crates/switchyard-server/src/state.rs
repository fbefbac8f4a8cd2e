//! The shared state of every request, and [`open`], which builds it from a [`ServerConfig`]:
//! the data directory, the store, the admin token and the metrics recorder.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;
use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use switchyard_controller::cron::{Zone, ZoneInfoDir, ZoneLookup};
use switchyard_controller::{Controller, ControllerConfig};
use switchyard_engine::StepRunner;
use switchyard_executor::{
    ARGOSAY_IMAGES, LocalRunner, LocalRunnerConfig, ShimCommand, argosay_entrypoint,
};
use switchyard_manifest::Limits;
use switchyard_model::Kind;
use switchyard_store::{SecretSealer, Store};
use switchyard_store_sqlite::SqliteStore;

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
    controller: Controller,
    authenticator: Authenticator,
    metrics: PrometheusHandle,
    manifest_limits: Limits,
    max_body_bytes: usize,
}

impl AppState {
    pub fn new(
        store: Arc<dyn Store>,
        controller: Controller,
        authenticator: Authenticator,
        config: &ServerConfig,
    ) -> Self {
        AppState {
            inner: Arc::new(Inner {
                zones: Arc::new(system_zones()),
                store,
                controller,
                authenticator,
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

/// A ready [`AppState`] and what happened to the admin token while opening.
pub struct Opened {
    pub state: AppState,
    pub admin_token: AdminToken,
}

/// Creates the data directory (mode 0700), opens the SQLite store in it with the sealing key
/// kept next to it, makes sure an admin token exists, and sets the object gauges.
pub async fn open(config: &ServerConfig) -> Result<Opened, Error> {
    create_private_dir(&config.data_dir).map_err(|source| Error::DataDir {
        path: config.data_dir.clone(),
        source,
    })?;
    let sealer =
        SecretSealer::load_or_create(&config.data_dir).map_err(|source| Error::SealingKey {
            path: config.data_dir.clone(),
            source,
        })?;
    let db = config.database_path();
    let store = SqliteStore::open(&db, sealer).map_err(|source| Error::OpenStore {
        path: db.clone(),
        source,
    })?;
    let store: Arc<dyn Store> = Arc::new(store);

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

    let runner = local_runner(config).map_err(|source| Error::DataDir {
        path: config.steps_path(),
        source,
    })?;
    let controller = Controller::start(
        store.clone(),
        runner,
        ControllerConfig {
            stop_grace: config.stop_grace,
            image_entrypoints: image_entrypoints(config),
        },
    )
    .await
    .map_err(|e| Error::Controller(e.to_string()))?;

    Ok(Opened {
        state: AppState::new(store, controller, authenticator, config),
        admin_token,
    })
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
    Ok(Arc::new(LocalRunner::new(LocalRunnerConfig {
        root,
        shim,
        max_parallel: config.max_parallel_steps,
        default_grace: config.stop_grace,
    })))
}

/// The configured image entrypoints, plus the built-in `argosay` stand-in (the test image of
/// Argo's examples) run by this executable, unless configured otherwise.
fn image_entrypoints(config: &ServerConfig) -> BTreeMap<String, Vec<String>> {
    let mut map = config.image_entrypoints.clone();
    let program = match &config.step_shim {
        Some((program, _)) => Some(program.clone()),
        None => std::env::current_exe().ok(),
    };
    if let Some(program) = program {
        for image in ARGOSAY_IMAGES {
            map.entry((*image).to_string())
                .or_insert_with(|| argosay_entrypoint(&program).into_iter().collect());
        }
    }
    map
}

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
