//! Server configuration: where to listen, where to keep state, and the input limits.
//!
//! This is plain data built by the CLI (flags and environment); [`crate::run`] turns it into
//! a running server.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use switchyard_manifest::Limits;

/// The address `switchyard up` listens on unless told otherwise.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8000);

/// The largest request body the server reads; larger ones get 413 before being read.
pub const DEFAULT_MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// The name of the database file inside the data directory.
pub const DATABASE_FILE: &str = "switchyard.db";

/// The name of the admin token file inside the data directory.
pub const ADMIN_TOKEN_FILE: &str = "admin.token";

/// The directory of step scratch directories inside the data directory.
pub const STEPS_DIR: &str = "steps";

/// The embedded event bus, under the data directory.
pub const BUS_DIR: &str = "bus";

/// How many steps run at once unless told otherwise.
pub const DEFAULT_MAX_PARALLEL_STEPS: usize = 64;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where the control API listens (default `127.0.0.1:8000`). Port 0 picks a free port.
    pub listen: SocketAddr,
    /// Holds the database, the secret-sealing key and the admin token. Created with mode 0700.
    pub data_dir: PathBuf,
    /// Requests with a larger body are refused with 413 before they are read.
    pub max_body_bytes: usize,
    /// Caps applied while parsing manifests sent to `apply`.
    pub manifest_limits: Limits,
    /// Replace the admin token with a new one (the old one stops working).
    pub rotate_admin_token: bool,
    /// Where steps get their scratch directories [default: `<data dir>/steps`]. Keep it
    /// outside `/tmp`, or steps cannot get a private `/tmp`.
    pub steps_dir: Option<PathBuf>,
    /// How many steps may run at once, across all runs.
    pub max_parallel_steps: usize,
    /// The time between SIGTERM and SIGKILL when a step is stopped or times out.
    pub stop_grace: Duration,
    /// The program and leading arguments that supervise a step (`<program> <args...> DIR`)
    /// [default: this executable's hidden `__step` command].
    pub step_shim: Option<(PathBuf, Vec<String>)>,
    /// Host commands standing in for container images' entrypoints, for containers that
    /// give no `command` (image reference without or with a tag -> argv).
    pub image_entrypoints: BTreeMap<String, Vec<String>>,
    /// Directories of host programs standing in for the programs inside images (image
    /// reference -> directory), put first on those steps' `PATH`; the built-in `argosay`
    /// programs come after these.
    pub image_tools: Vec<(String, PathBuf)>,
    /// The address webhook EventSources listen on (their ports come from the manifests).
    pub webhook_host: IpAddr,
    /// Internal address ranges (loopback, private, link-local) HTTP triggers may reach.
    pub http_trigger_allow: Vec<switchyard_events::http::Cidr>,
    /// Manifests the server applies itself at start: the platform it serves.
    pub platform: Option<Platform>,
    /// Keep state in PostgreSQL instead of SQLite in the data directory.
    pub postgres: Option<PostgresBackend>,
    /// Carry events on NATS JetStream instead of the embedded bus in the data directory.
    pub jetstream: Option<JetStreamBackend>,
    /// Labels of this machine as a node, on top of the kubelet's own (arch, os, hostname):
    /// a step whose `nodeSelector` asks for a label the node lacks waits in Pending.
    pub node_labels: BTreeMap<String, String>,
    /// What this process does; the rest is done by other processes of the platform.
    pub roles: Roles,
    /// Events waiting for the slowest sensor at which webhook events and orders are refused
    /// with 429 and `Retry-After` (0: never).
    pub max_event_backlog: u64,
    /// Runs in progress at which sensors that start runs stop taking events and submits are
    /// refused with 429 (0: never); see [`switchyard_events::backlog::RunGate`].
    pub max_active_runs: u64,
}

/// The parts of the platform a process runs (`switchyard up --role`). Several processes
/// share a platform's work only through PostgreSQL and NATS JetStream (distributed mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    /// The control API, the platform API, the docs and the portal.
    pub api: bool,
    /// Webhook listeners and calendars.
    pub eventsource: bool,
    /// Sensors and the trigger outbox.
    pub sensor: bool,
    /// Drives the runs while holding the controller lease (standing by otherwise), and
    /// schedules CronWorkflows.
    pub controller: bool,
    /// Runs steps: pulled from the step queue in distributed mode.
    pub worker: bool,
}

impl Roles {
    /// The role names `--role` takes.
    pub const NAMES: [&'static str; 5] = ["api", "eventsource", "sensor", "controller", "worker"];

    pub const ALL: Roles = Roles {
        api: true,
        eventsource: true,
        sensor: true,
        controller: true,
        worker: true,
    };

    pub const NONE: Roles = Roles {
        api: false,
        eventsource: false,
        sensor: false,
        controller: false,
        worker: false,
    };

    /// Adds the role `name` (one of [`Roles::NAMES`], or `all`).
    pub fn add(&mut self, name: &str) -> Result<(), String> {
        match name {
            "all" => *self = Roles::ALL,
            "api" => self.api = true,
            "eventsource" => self.eventsource = true,
            "sensor" => self.sensor = true,
            "controller" => self.controller = true,
            "worker" => self.worker = true,
            other => {
                return Err(format!(
                    "unknown role `{other}`; the roles are all, {}",
                    Roles::NAMES.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// The roles' names, `all` when every one is set.
    pub fn describe(&self) -> String {
        if *self == Roles::ALL {
            return "all".to_owned();
        }
        let set = [
            self.api,
            self.eventsource,
            self.sensor,
            self.controller,
            self.worker,
        ];
        Roles::NAMES
            .iter()
            .zip(set)
            .filter(|(_, on)| *on)
            .map(|(name, _)| *name)
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl Default for Roles {
    fn default() -> Self {
        Roles::ALL
    }
}

/// The PostgreSQL store's settings.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresBackend {
    /// `postgres://user@host:port/database` (a password in it is never logged).
    pub url: String,
    /// The schema holding the platform's tables, so several platforms share a database.
    pub schema: String,
}

impl std::fmt::Debug for PostgresBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresBackend")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

/// The JetStream bus's settings.
#[derive(Clone, PartialEq, Eq)]
pub struct JetStreamBackend {
    /// `nats://host:4222` (credentials in it are never logged).
    pub url: String,
    /// The stream (and subject prefix), so several platforms share one NATS.
    pub stream: String,
}

impl std::fmt::Debug for JetStreamBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JetStreamBackend")
            .field("stream", &self.stream)
            .finish_non_exhaustive()
    }
}

/// The platform a server applies at start.
#[derive(Debug, Clone)]
pub struct Platform {
    /// Where it came from, for messages (`the bundled platform`, a directory).
    pub origin: String,
    pub sources: Vec<switchyard_api::SourceText>,
    /// Apply at every start (a platform given explicitly), or only on the first start of a
    /// data directory (the bundled one: later edits are the user's to keep).
    pub every_start: bool,
}

impl ServerConfig {
    /// The defaults, keeping state in `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        ServerConfig {
            listen: DEFAULT_LISTEN,
            data_dir: data_dir.into(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            manifest_limits: Limits::default(),
            rotate_admin_token: false,
            steps_dir: None,
            max_parallel_steps: DEFAULT_MAX_PARALLEL_STEPS,
            stop_grace: Duration::from_secs(10),
            step_shim: None,
            image_entrypoints: BTreeMap::new(),
            image_tools: Vec::new(),
            webhook_host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            http_trigger_allow: Vec::new(),
            platform: None,
            postgres: None,
            jetstream: None,
            node_labels: BTreeMap::new(),
            roles: Roles::ALL,
            max_event_backlog: switchyard_events::backlog::DEFAULT_MAX_BACKLOG,
            max_active_runs: switchyard_events::backlog::DEFAULT_MAX_ACTIVE_RUNS,
        }
    }

    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join(DATABASE_FILE)
    }

    pub fn admin_token_path(&self) -> PathBuf {
        self.data_dir.join(ADMIN_TOKEN_FILE)
    }

    /// Where the embedded event bus keeps its messages.
    pub fn bus_path(&self) -> PathBuf {
        self.data_dir.join(BUS_DIR)
    }

    pub fn steps_path(&self) -> PathBuf {
        self.steps_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join(STEPS_DIR))
    }

    /// Whether processes can share this platform: state in PostgreSQL and events on NATS
    /// JetStream.
    pub fn distributed(&self) -> bool {
        self.postgres.is_some() && self.jetstream.is_some()
    }

    /// Checks that the roles fit the backends.
    pub fn check_roles(&self) -> Result<(), String> {
        if self.roles == Roles::NONE {
            return Err("no role given; choose from all, ".to_owned() + &Roles::NAMES.join(", "));
        }
        if self.roles != Roles::ALL && !self.distributed() {
            return Err(format!(
                "--role {} needs --database and --nats: processes share a platform's work only \
                 through PostgreSQL and NATS JetStream; without them, run every role in one \
                 process (the default)",
                self.roles.describe()
            ));
        }
        Ok(())
    }
}
