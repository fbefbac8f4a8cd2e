//! The command line: every command, flag and environment variable, with help and examples.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8000";

#[derive(Debug, Parser)]
#[command(
    name = "switchyard",
    version,
    about = "Switchyard: an event-driven internal developer platform that speaks Argo's manifests",
    long_about = "Switchyard: an event-driven internal developer platform that speaks Argo's manifests.\n\n\
        `switchyard up` runs the platform on this machine; the other commands talk to it over HTTP.\n\
        Data goes to stdout; messages, warnings and errors go to stderr.\n\n\
        Exit codes: 0 success, 1 the input or request was rejected, 2 wrong usage,\n\
        3 the server is unreachable or failed.",
    after_help = "Examples:\n  \
        switchyard up\n  \
        switchyard apply -f platform/\n  \
        switchyard get sensors\n  \
        switchyard get sensor webhook -o yaml\n  \
        switchyard submit hello-world.yaml --watch\n  \
        switchyard list --running\n  \
        switchyard logs hello-x7k2p -f\n  \
        switchyard lint -f workflow.yaml"
)]
pub struct Cli {
    /// The Switchyard server to talk to.
    #[arg(long, global = true, help_heading = "Global options", env = "SWITCHYARD_SERVER", default_value = DEFAULT_SERVER, value_name = "URL")]
    pub server: String,

    /// Bearer token for the server [default: the admin token in the data directory]
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "SWITCHYARD_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,

    /// Where `up` keeps its state and the admin token
    /// [default: $XDG_DATA_HOME/switchyard or ~/.local/share/switchyard]
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "SWITCHYARD_DATA_DIR",
        value_name = "DIR"
    )]
    pub data_dir: Option<PathBuf>,

    /// How log lines on stderr are written.
    #[arg(long, global = true, help_heading = "Global options", env = "SWITCHYARD_LOG_FORMAT", value_enum, value_name = "FORMAT", default_value_t = LogFormatArg::Text)]
    pub log_format: LogFormatArg,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormatArg {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the Switchyard server in this process until Ctrl-C or SIGTERM.
    #[command(after_help = "Examples:\n  \
        switchyard up\n  \
        switchyard up --listen 0.0.0.0:8080\n  \
        SWITCHYARD_DATA_DIR=/var/lib/switchyard switchyard up --log-format json\n\n\
        On first start an admin token is created, printed once, and saved to\n\
        <data dir>/admin.token; the CLI on this machine reads it from there.")]
    Up(UpArgs),

    /// Create or update objects from manifest files (YAML or JSON).
    #[command(after_help = "Examples:\n  \
        switchyard apply -f sensor.yaml\n  \
        switchyard apply -f platform/ -f extra.yaml -n team-a\n  \
        cat workflow.yaml | switchyard apply -f -\n  \
        switchyard apply -f platform/ --dry-run\n\n\
        Each object is reported as `KIND/NAME created|configured|unchanged`. If any manifest has\n\
        an error, every problem is listed and nothing is applied.")]
    Apply(ApplyArgs),

    /// List objects of a kind, or show one.
    #[command(after_help = "Examples:\n  \
        switchyard get sensors\n  \
        switchyard get sn webhook -o yaml\n  \
        switchyard get workflows -A\n  \
        switchyard get workflow hello-x7k2p\n  \
        switchyard get secret db-credentials -o json --show-secrets\n  \
        switchyard get clusterworkflowtemplates -o name\n\n\
        Kinds: eventbus (eb), eventsources (es), sensors (sn), workflows (wf),\n\
        workflowtemplates (wftmpl), clusterworkflowtemplates (cwft), cronworkflows (cwf),\n\
        secrets, configmaps (cm), offerings, orders. `sensor`, `Sensor` and `sensors.argoproj.io` work too.")]
    Get(GetArgs),

    /// Delete one object.
    #[command(after_help = "Examples:\n  \
        switchyard delete sensor webhook\n  \
        switchyard delete wf hello-x7k2p -n team-a\n  \
        switchyard delete cwft build")]
    Delete(DeleteArgs),

    /// Submit workflow runs from manifests, or one run of a template.
    #[command(after_help = "Examples:\n  \
        switchyard submit hello-world.yaml\n  \
        switchyard submit hello-world.yaml --watch\n  \
        switchyard submit --from workflowtemplate/build -p branch=main --wait\n  \
        switchyard submit --from cwft/release -p version=1.2.3 --log\n  \
        cat workflow.yaml | switchyard submit - -n team-a -l team=a -o name\n  \
        switchyard submit workflow.yaml --dry-run -o yaml\n\n\
        Each file may hold several Workflows; every file is checked before any is submitted.\n\
        --from takes workflowtemplate/NAME (wftmpl), clusterworkflowtemplate/NAME (cwft) or\n\
        cronworkflow/NAME (cwf).\n\n\
        Exit codes: with --watch, --wait or --log the command waits for the runs to end and\n\
        exits 1 if any ended Failed or Error; otherwise 0 once the runs were created.")]
    Submit(SubmitArgs),

    /// List workflow runs: running ones first, newest first.
    #[command(
        visible_alias = "ls",
        after_help = "Examples:\n  \
        switchyard list\n  \
        switchyard list -A --running\n  \
        switchyard list --status Failed,Error --since 2h\n  \
        switchyard list -l app=web,env!=prod -o wide\n  \
        switchyard list --completed --older 24h -o name\n\n\
        Columns: NAME, STATUS, AGE, DURATION, PROGRESS (steps done/total), MESSAGE;\n\
        -o wide adds P/R/C (pending/running/completed steps) and PARAMETERS."
    )]
    List(ListArgs),

    /// Show a run and its node tree, redrawn every second until the run ends.
    #[command(after_help = "Examples:\n  \
        switchyard watch hello-x7k2p\n  \
        switchyard watch hello-x7k2p --node-field-selector phase=Failed\n\n\
        On a terminal the screen is redrawn; otherwise the view is printed again each time\n\
        something changes. Exits 1 if the run ends Failed or Error.")]
    Watch(WatchArgs),

    /// Wait for runs to end and print how each ended.
    #[command(after_help = "Examples:\n  \
        switchyard wait hello-x7k2p\n  \
        switchyard wait build-abcde test-fghij -n team-a\n\n\
        Prints `NAME PHASE at TIME` (RFC 3339, UTC) for each run. Exits 1 if any ended\n\
        Failed or Error.")]
    Wait(WaitArgs),

    /// Print the logs of a run's steps, or of a sensor or event source.
    #[command(after_help = "Examples:\n  \
        switchyard logs hello-x7k2p\n  \
        switchyard logs hello-x7k2p build --follow\n  \
        switchyard logs hello-x7k2p hello-x7k2p-1234567890 --timestamps\n  \
        switchyard logs hello-x7k2p --no-prefix > all.log\n  \
        switchyard logs sensor/environments -n argo-events -f\n  \
        switchyard logs es/webhook -n argo-events\n\n\
        sensor/NAME and eventsource/NAME (es/NAME) print what the server logged about that\n\
        object since it started (its last 500 lines): events consumed, triggers carried\n\
        out, routes that cannot be served.\n\n\
        Every step's lines, in the order the steps started, each after the step's name;\n\
        stderr lines are printed to stdout too, and lines the runner wrote (truncation, why a\n\
        step was stopped) in [brackets]. STEP is a node id, node name or display name.")]
    Logs(LogsArgs),

    /// Show recent events as sensors consumed them, and what they triggered.
    #[command(after_help = "Examples:\n  \
        switchyard events\n  \
        switchyard events --source webhook --limit 10\n  \
        switchyard events --sensor environments -o json\n\n\
        One row per event and sensor, newest first: when the sensor took the event, its\n\
        EventSource and event name, the event id, the sensor, what the event did there\n\
        (dependencies matched, or why a filter turned it away) and the triggers it fired with\n\
        their outcome: the run started, `pending` (being retried) or `dead: REASON`.")]
    Events(EventsArgs),

    /// Order something from the platform's catalog (an offering).
    #[command(after_help = "Examples:\n  \
        switchyard order environments --set region=eastus2 --set cloud_provider=azure \\\n      \
        --set resource_type=aks --set environment=dev-team-a \\\n      \
        --set requester_name=Ada --set requester_email=ada@example.com\n  \
        switchyard order environments -f order.json --watch\n  \
        switchyard order /applications --set name=web ... --idempotency-key deploy-42\n\n\
        The input is checked against the offering's schema before it is sent, with the\n\
        same messages the API gives; --set values are converted to the declared types.")]
    Order(OrderArgs),

    /// List, show and follow orders.
    #[command(subcommand)]
    Orders(OrdersCommand),

    /// Approve an order waiting for approval (not your own).
    #[command(after_help = "Examples:\n  \
        switchyard approve 0193b6c2-... -m \"plan reviewed, ok for dev\"")]
    Approve(ApproveArgs),

    /// Reject an order waiting for approval (not your own); its run is stopped.
    #[command(after_help = "Examples:\n  \
        switchyard reject 0193b6c2-... -m \"too large for a dev environment\"")]
    Reject(ApproveArgs),

    /// Issue, list and revoke API tokens (admin).
    #[command(subcommand)]
    Token(TokenCommand),

    /// Suspend runs: nothing new starts until they are resumed; running steps go on.
    #[command(after_help = "Examples:\n  \
        switchyard suspend hello-x7k2p\n  \
        switchyard suspend build-abcde test-fghij -n team-a")]
    Suspend(SuspendArgs),

    /// Resume suspended runs, or their waiting suspend steps (approval gates).
    #[command(after_help = "Examples:\n  \
        switchyard resume hello-x7k2p\n  \
        switchyard resume deploy-k2p9x --node-field-selector displayName=approve --message \"looks good\"\n\n\
        Who resumed (and the message) is recorded on the resumed nodes.")]
    Resume(ResumeArgs),

    /// Stop runs: running steps are stopped, exit handlers still run.
    #[command(after_help = "Examples:\n  \
        switchyard stop hello-x7k2p\n  \
        switchyard stop hello-x7k2p --message \"wrong branch\"\n  \
        switchyard stop hello-x7k2p --node-field-selector templateName=poll")]
    Stop(StopArgs),

    /// Terminate runs: everything stops at once, exit handlers do not run.
    #[command(after_help = "Examples:\n  \
        switchyard terminate hello-x7k2p")]
    Terminate(TerminateArgs),

    /// Run a failed run again from its failed steps.
    #[command(after_help = "Examples:\n  \
        switchyard retry hello-x7k2p\n  \
        switchyard retry hello-x7k2p --watch\n  \
        switchyard retry hello-x7k2p --restart-successful --node-field-selector displayName=build\n\n\
        Exit codes: with --watch, --wait or --log, 1 if the run ends Failed or Error.")]
    Retry(RetryArgs),

    /// Submit a new run with the spec and parameters of an earlier one.
    #[command(after_help = "Examples:\n  \
        switchyard resubmit hello-x7k2p\n  \
        switchyard resubmit hello-x7k2p -p branch=hotfix --wait\n\n\
        Exit codes: with --watch, --wait or --log, 1 if the new run ends Failed or Error.")]
    Resubmit(ResubmitArgs),

    /// Act on the nodes of a run.
    #[command(subcommand)]
    Node(NodeCommand),

    /// Check manifests without a server: parse, validate, and report every problem.
    #[command(after_help = "Examples:\n  \
        switchyard lint -f workflow.yaml\n  \
        switchyard lint -f platform/\n\n\
        Prints one line per problem (`file:line:col: error: path: message`) and a summary.\n\
        Objects referenced but not among the files are assumed to exist.\n\
        Exits 1 when there is an error (warnings alone exit 0).")]
    Lint(LintArgs),

    /// Print the version.
    Version,

    /// Supervise one workflow step in DIR (started by `switchyard up`; not for direct use).
    #[command(name = "__step", hide = true)]
    Step(StepArgs),

    /// Do what the entrypoint of the image `argoproj/argosay` does (steps that run that image
    /// without a `command` run this).
    #[command(name = "__argosay", hide = true, disable_help_flag = true)]
    Argosay(ArgosayArgs),
}

#[derive(Debug, Args)]
pub struct StepArgs {
    /// The step's directory, holding its `step.json`.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct ArgosayArgs {
    /// The command and its arguments, e.g. `echo hello /tmp/out`.
    #[arg(
        value_name = "ARGS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Address for the control API.
    #[arg(
        long,
        env = "SWITCHYARD_LISTEN",
        default_value = "127.0.0.1:8000",
        value_name = "ADDR"
    )]
    pub listen: SocketAddr,

    /// Replace the admin token with a new one; the old token stops working.
    #[arg(long)]
    pub rotate_admin_token: bool,

    /// How many workflow steps may run at once, across all runs.
    #[arg(long, env = "SWITCHYARD_MAX_PARALLEL_STEPS", default_value_t = 64, value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..))]
    pub max_parallel_steps: u16,

    /// Where steps get their scratch directories [default: <data dir>/steps]. Keep it
    /// outside /tmp, or steps cannot get a private /tmp of their own.
    #[arg(long, env = "SWITCHYARD_STEPS_DIR", value_name = "DIR")]
    pub steps_dir: Option<PathBuf>,

    /// Seconds between SIGTERM and SIGKILL when a step is stopped or times out.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    pub stop_grace: u64,

    /// A host command that stands in for the entrypoint of an image, for containers that give
    /// no `command` (e.g. `myorg/tool=/usr/local/bin/tool --quiet`). Repeatable. The image
    /// matches with or without its tag; `argoproj/argosay` is built in.
    #[arg(long = "image-entrypoint", value_name = "IMAGE=COMMAND", value_parser = parse_entrypoint)]
    pub image_entrypoints: Vec<(String, Vec<String>)>,

    /// A directory of host programs standing in for the programs inside an image (e.g.
    /// `myorg/tools=/opt/myorg/bin`): first on `PATH` for that image's steps, and an absolute
    /// `command` whose file name the directory has (`/usr/local/bin/tool`) runs the
    /// directory's program. Repeatable; `argoproj/argosay` (`argosay`, `cowsay`) is built in.
    #[arg(long = "image-tools", value_name = "IMAGE=DIR", value_parser = parse_image_tools)]
    pub image_tools: Vec<(String, PathBuf)>,

    /// The address webhook EventSources listen on; their ports come from the manifests
    /// (`0.0.0.0` accepts events from other machines).
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1",
        env = "SWITCHYARD_WEBHOOK_HOST"
    )]
    pub webhook_host: std::net::IpAddr,

    /// An internal address or range (loopback, private, link-local) that HTTP triggers may
    /// call, e.g. `10.0.0.0/8` or `127.0.0.1`. Repeatable; without it such addresses are
    /// refused, cloud metadata included.
    #[arg(long = "http-trigger-allow", value_name = "CIDR", value_parser = switchyard_events::http::Cidr::parse)]
    pub http_trigger_allow: Vec<switchyard_events::http::Cidr>,

    /// Serve this platform instead of the bundled one: the manifests in DIR (*.yaml, *.yml,
    /// *.json) are applied at every start.
    #[arg(long, value_name = "DIR", conflicts_with = "no_platform")]
    pub platform: Option<PathBuf>,

    /// Do not apply the bundled platform (it is applied on the first start of a data
    /// directory otherwise).
    #[arg(long)]
    pub no_platform: bool,

    /// Keep state in PostgreSQL (postgres://user@host:5432/db) instead of SQLite in the data
    /// directory. Processes sharing a database must share the data directory's sealing key.
    #[arg(
        long = "database",
        env = "SWITCHYARD_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database: Option<String>,

    /// The PostgreSQL schema holding this platform's tables.
    #[arg(
        long,
        env = "SWITCHYARD_DATABASE_SCHEMA",
        default_value = "switchyard",
        value_name = "NAME"
    )]
    pub database_schema: String,

    /// Carry events on NATS JetStream (nats://host:4222) instead of the embedded bus.
    #[arg(
        long = "nats",
        env = "SWITCHYARD_NATS_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub nats: Option<String>,

    /// A label of this machine as a node, KEY=VALUE (repeatable), on top of the kubelet's
    /// (kubernetes.io/arch, kubernetes.io/os, kubernetes.io/hostname): steps whose
    /// `nodeSelector` asks for labels the node lacks wait in Pending, as on Kubernetes.
    #[arg(long = "node-label", value_name = "KEY=VALUE", value_parser = parse_label)]
    pub node_labels: Vec<(String, String)>,

    /// The JetStream stream (and subject prefix) of this platform.
    #[arg(
        long,
        env = "SWITCHYARD_NATS_STREAM",
        default_value = "SWITCHYARD",
        value_name = "NAME"
    )]
    pub nats_stream: String,

    /// What this process does, comma-separated or repeated: api (control and platform API,
    /// portal), eventsource (webhooks, calendars), sensor (sensors, trigger outbox),
    /// controller (drives the runs while it holds the controller lease, stands by
    /// otherwise), worker (runs steps), or all. Any number of processes of each role share a
    /// platform through --database and --nats.
    #[arg(
        long = "role",
        env = "SWITCHYARD_ROLE",
        value_name = "ROLE",
        value_delimiter = ',',
        default_value = "all",
        value_parser = ["all", "api", "eventsource", "sensor", "controller", "worker"]
    )]
    pub roles: Vec<String>,

    /// Events waiting for the slowest sensor at which webhooks and orders answer 429 with
    /// Retry-After instead of taking more (0: never). Keep it well below the bus's message
    /// limit (1,000,000), which drops the oldest events, consumed or not.
    #[arg(
        long,
        env = "SWITCHYARD_MAX_EVENT_BACKLOG",
        default_value_t = 100_000,
        value_name = "EVENTS"
    )]
    pub max_event_backlog: u64,

    /// Runs in progress (started and not finished, not counting runs that only wait for an
    /// approval or another command) at which sensors that start runs stop taking events, so
    /// events wait on the bus and the event backlog limit refuses new ones; submits answer 429
    /// meanwhile (0: never). Each such run holds about 170 KiB.
    #[arg(
        long,
        env = "SWITCHYARD_MAX_ACTIVE_RUNS",
        default_value_t = 2_000,
        value_name = "RUNS"
    )]
    pub max_active_runs: u64,
}

/// `IMAGE=DIR`, the directory existing.
fn parse_image_tools(text: &str) -> Result<(String, PathBuf), String> {
    let Some((image, dir)) = text.split_once('=') else {
        return Err(format!("`{text}` is not IMAGE=DIR"));
    };
    let dir = PathBuf::from(dir.trim());
    if image.trim().is_empty() {
        return Err(format!("`{text}` needs an image"));
    }
    if !dir.is_dir() {
        return Err(format!("`{}` is not a directory", dir.display()));
    }
    Ok((image.trim().to_string(), dir))
}

/// `IMAGE=COMMAND ARGS...`, the command split at whitespace.
fn parse_entrypoint(text: &str) -> Result<(String, Vec<String>), String> {
    let Some((image, command)) = text.split_once('=') else {
        return Err(format!("`{text}` is not IMAGE=COMMAND"));
    };
    let argv: Vec<String> = command.split_whitespace().map(str::to_string).collect();
    if image.trim().is_empty() || argv.is_empty() {
        return Err(format!("`{text}` needs an image and a command"));
    }
    Ok((image.trim().to_string(), argv))
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A manifest file, a directory (its *.yaml, *.yml and *.json files, recursively), or `-`
    /// for stdin. Repeatable.
    #[arg(short = 'f', long = "filename", value_name = "PATH", required = true)]
    pub files: Vec<PathBuf>,

    /// Namespace for objects that name none [default: default]
    #[arg(short, long, value_name = "NS")]
    pub namespace: Option<String>,

    /// Validate and show what would change, without changing anything.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// The objects as YAML.
    Yaml,
    /// The objects as JSON.
    Json,
    /// The table with more columns.
    Wide,
    /// Names only, one per line (`get` writes `kind.group/name`).
    Name,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// The kind: `sensors`, `sensor`, `sn`, `sensors.argoproj.io`, ...
    pub kind: String,

    /// One object's name; without it, every object of the kind.
    pub name: Option<String>,

    /// The namespace [default: default]
    #[arg(short, long, value_name = "NS", conflicts_with = "all_namespaces")]
    pub namespace: Option<String>,

    /// List across every namespace.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,

    /// Output format [default: a table]
    #[arg(short, long, value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,

    /// Show Secret values instead of `<redacted>`.
    #[arg(long)]
    pub show_secrets: bool,

    /// One workflow: show only the nodes this selects (e.g. phase=Failed).
    #[arg(long, value_name = "SELECTOR", value_parser = parse_node_selector)]
    pub node_field_selector: Option<String>,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The kind: `sensor`, `wf`, `cwft`, ...
    pub kind: String,

    /// The object's name.
    pub name: String,

    /// The namespace [default: default]
    #[arg(short, long, value_name = "NS")]
    pub namespace: Option<String>,
}

/// Waiting for runs after starting them; shared by `submit`, `retry` and `resubmit`.
#[derive(Debug, Args)]
pub struct FollowArgs {
    /// Show the run's node tree live until it ends.
    #[arg(short, long, conflicts_with = "wait")]
    pub watch: bool,

    /// Wait until the run ends, then print how it ended.
    #[arg(long)]
    pub wait: bool,

    /// Print the run's logs as they come until it ends.
    #[arg(long)]
    pub log: bool,
}

impl FollowArgs {
    pub fn any(&self) -> bool {
        self.watch || self.wait || self.log
    }
}

#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// Manifest files holding Workflows (a directory: its *.yaml, *.yml and *.json files), or
    /// `-` for stdin.
    #[arg(
        value_name = "FILE",
        required_unless_present = "from",
        conflicts_with = "from"
    )]
    pub files: Vec<PathBuf>,

    /// Submit one run of a template or cron workflow instead: KIND/NAME.
    #[arg(long, value_name = "KIND/NAME", value_parser = parse_from)]
    pub from: Option<String>,

    /// A workflow parameter, overriding the manifest's. Repeatable.
    #[arg(short = 'p', long = "parameter", value_name = "NAME=VALUE", value_parser = parse_parameter)]
    pub parameters: Vec<String>,

    /// Run this template instead of the spec's entrypoint.
    #[arg(long, value_name = "TEMPLATE")]
    pub entrypoint: Option<String>,

    /// The run's name (instead of the manifest's name or generateName).
    #[arg(long, value_name = "NAME", conflicts_with = "generate_name")]
    pub name: Option<String>,

    /// A prefix; the run is named the prefix plus five random characters.
    #[arg(long, value_name = "PREFIX")]
    pub generate_name: Option<String>,

    /// Labels to add to the run: KEY=VALUE, comma-separated or repeated.
    #[arg(short = 'l', long = "labels", value_name = "KEY=VALUE", value_delimiter = ',', value_parser = parse_label)]
    pub labels: Vec<(String, String)>,

    /// The namespace to run in [default: default]
    #[arg(short, long, value_name = "NS")]
    pub namespace: Option<String>,

    /// Check everything and show what would be submitted, submitting nothing.
    #[arg(long, conflicts_with_all = ["watch", "wait", "log"])]
    pub dry_run: bool,

    #[command(flatten)]
    pub follow: FollowArgs,

    /// Output format [default: the run's details]
    #[arg(short, long, value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// The namespace [default: default]
    #[arg(short, long, value_name = "NS", conflicts_with = "all_namespaces")]
    pub namespace: Option<String>,

    /// List across every namespace.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,

    /// Only runs that have not ended.
    #[arg(long, conflicts_with = "completed")]
    pub running: bool,

    /// Only runs that have ended.
    #[arg(long)]
    pub completed: bool,

    /// Only runs in these phases: Pending, Running, Succeeded, Failed, Error (comma-separated).
    #[arg(long, value_name = "PHASES", value_delimiter = ',', value_parser = crate::run::parse_phase)]
    pub status: Vec<switchyard_engine::WorkflowPhase>,

    /// Only runs whose labels match: key=value, key!=value, key, !key (comma-separated).
    #[arg(short = 'l', long = "selector", value_name = "SELECTOR", value_parser = crate::run::LabelSelector::parse)]
    pub selector: Option<crate::run::LabelSelector>,

    /// Only runs created within this long (e.g. 30m, 2h).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub since: Option<std::time::Duration>,

    /// Only runs that ended more than this long ago (e.g. 24h).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub older: Option<std::time::Duration>,

    /// Read the runs from the server this many at a time (0: all in one answer).
    #[arg(long, value_name = "N", default_value_t = crate::client::LIST_CHUNK)]
    pub chunk_size: usize,

    /// Output format [default: a table]; `name` prints bare run names.
    #[arg(short, long, value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The run's name.
    pub name: String,

    /// The namespace [default: default]
    #[arg(short, long, value_name = "NS")]
    pub namespace: Option<String>,

    /// Show only the nodes this selects (e.g. phase=Failed, displayName=build).
    #[arg(long, value_name = "SELECTOR", value_parser = parse_node_selector)]
    pub node_field_selector: Option<String>,
}

/// One or more runs, and their namespace: the target of `wait` and the run actions.
#[derive(Debug, Args)]
pub struct RunNames {
    /// The runs' names.
    #[arg(required = true, value_name = "NAME")]
    pub names: Vec<String>,

    /// The namespace [default: default]
    #[arg(short, long, value_name = "NS")]
    pub namespace: Option<String>,
}

#[derive(Debug, Args)]
pub struct WaitArgs {
    #[command(flatten)]
    pub runs: RunNames,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The run's name, or sensor/NAME, eventsource/NAME (es/NAME).
    pub name: String,

    /// Only this step: a node id, node name or display name.
    pub step: Option<String>,

    /// The namespace [default: default]
    #[arg(short, long, value_name = "NS")]
    pub namespace: Option<String>,

    /// Keep printing new lines until the steps end.
    #[arg(short, long)]
    pub follow: bool,

    /// Print the time each line was written before it.
    #[arg(long)]
    pub timestamps: bool,

    /// Print the lines only, without the step's name.
    #[arg(long)]
    pub no_prefix: bool,

    /// No colors (they are used only on a terminal, and never when NO_COLOR is set).
    #[arg(long)]
    pub no_color: bool,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Only events of this EventSource.
    #[arg(long, value_name = "NAME")]
    pub source: Option<String>,

    /// Only events consumed by this sensor.
    #[arg(long, value_name = "NAME")]
    pub sensor: Option<String>,

    /// The namespace [default: every namespace]
    #[arg(short, long, value_name = "NS")]
    pub namespace: Option<String>,

    /// How many to show (1-1000).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub limit: u16,

    /// Output format: a table (default), json or yaml.
    #[arg(short, long, value_enum)]
    pub output: Option<OutputFormat>,
}

#[derive(Debug, Args)]
pub struct OrderArgs {
    /// The offering: its name, its route (`/environments`) or namespace/name.
    pub offering: String,

    /// An input field, KEY=VALUE (repeatable).
    #[arg(long = "set", short = 's', value_name = "KEY=VALUE")]
    pub set: Vec<String>,

    /// Read the input from a JSON file (--set values go on top).
    #[arg(short = 'f', long, value_name = "FILE")]
    pub file: Option<std::path::PathBuf>,

    /// Send this Idempotency-Key: repeating the command returns the first order.
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,

    /// Follow the order until it waits for approval or ends.
    #[arg(long)]
    pub watch: bool,

    /// Output format of the answer: json or yaml.
    #[arg(short, long, value_enum)]
    pub output: Option<OutputFormat>,
}

#[derive(Debug, Subcommand)]
pub enum OrdersCommand {
    /// List orders, newest first.
    #[command(visible_alias = "ls")]
    List(OrdersListArgs),
    /// Show one order: its input, phase, runs, steps and approvals.
    Get {
        id: String,
        #[arg(short, long, value_enum)]
        output: Option<OutputFormat>,
    },
    /// Follow an order until it waits for approval or ends (exit 1 if it failed).
    Watch { id: String },
}

#[derive(Debug, Args)]
pub struct OrdersListArgs {
    /// Only orders of this offering.
    #[arg(long)]
    pub offering: Option<String>,
    /// Only orders in this phase (Accepted, Running, WaitingForApproval, Succeeded, Failed).
    #[arg(long)]
    pub phase: Option<String>,
    /// Only orders placed by this token name.
    #[arg(long)]
    pub requester: Option<String>,
    /// How many to show (1-500).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u16).range(1..=500))]
    pub limit: u16,
    #[arg(short, long, value_enum)]
    pub output: Option<OutputFormat>,
}

#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// The order id.
    pub id: String,
    /// Why: kept with the order and shown to the requester.
    #[arg(short = 'm', long = "message", value_name = "COMMENT")]
    pub message: String,
    #[arg(short, long, value_enum)]
    pub output: Option<OutputFormat>,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue a token; it is printed once (stdout) and only its hash is kept.
    #[command(after_help = "Examples:\n  \
        switchyard token create alice --role orderer\n  \
        switchyard token create bob --role approver --role orderer")]
    Create {
        /// Who the token is for (a-z, 0-9, -, ., _, @).
        name: String,
        /// A role (repeatable): orderer, approver, admin, or one an offering names.
        #[arg(long, required = true)]
        role: Vec<String>,
        #[arg(short, long, value_enum)]
        output: Option<OutputFormat>,
    },
    /// List issued tokens (never the tokens themselves).
    #[command(visible_alias = "ls")]
    List {
        #[arg(short, long, value_enum)]
        output: Option<OutputFormat>,
    },
    /// Revoke a token: it stops working at once.
    Revoke { name: String },
}

#[derive(Debug, Args)]
pub struct SuspendArgs {
    #[command(flatten)]
    pub runs: RunNames,
}

#[derive(Debug, Args)]
pub struct TerminateArgs {
    #[command(flatten)]
    pub runs: RunNames,
}

#[derive(Debug, Args)]
pub struct ResumeArgs {
    #[command(flatten)]
    pub runs: RunNames,

    /// Resume only the suspend nodes this selects (e.g. displayName=approve).
    #[arg(long, value_name = "SELECTOR", value_parser = parse_node_selector)]
    pub node_field_selector: Option<String>,

    /// A message recorded with the resume.
    #[arg(short, long, value_name = "TEXT")]
    pub message: Option<String>,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    #[command(flatten)]
    pub runs: RunNames,

    /// A message recorded on the run.
    #[arg(short, long, value_name = "TEXT")]
    pub message: Option<String>,
}

#[derive(Debug, Args)]
pub struct RetryArgs {
    /// The run's name.
    pub name: String,

    /// The namespace [default: default]
    #[arg(short, long, value_name = "NS")]
    pub namespace: Option<String>,

    /// Retry only the nodes this selects (e.g. displayName=build).
    #[arg(long, value_name = "SELECTOR", value_parser = parse_node_selector)]
    pub node_field_selector: Option<String>,

    /// Also run again the succeeded nodes that --node-field-selector selects.
    #[arg(long, requires = "node_field_selector")]
    pub restart_successful: bool,

    #[command(flatten)]
    pub follow: FollowArgs,

    /// Output format [default: the run's details]
    #[arg(short, long, value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,
}

#[derive(Debug, Args)]
pub struct ResubmitArgs {
    /// The earlier run's name.
    pub name: String,

    /// The namespace [default: default]
    #[arg(short, long, value_name = "NS")]
    pub namespace: Option<String>,

    /// A workflow parameter, overriding the earlier run's. Repeatable.
    #[arg(short = 'p', long = "parameter", value_name = "NAME=VALUE", value_parser = parse_parameter)]
    pub parameters: Vec<String>,

    #[command(flatten)]
    pub follow: FollowArgs,

    /// Output format [default: the new run's details]
    #[arg(short, long, value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,
}

#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// Set output parameters or the message of a run's waiting suspend nodes.
    #[command(after_help = "Examples:\n  \
        switchyard node set deploy-k2p9x --node-field-selector displayName=approve \\\n      \
        --output-parameter choice=blue --message \"picked blue\"\n  \
        switchyard resume deploy-k2p9x --node-field-selector displayName=approve\n\n\
        Output parameters must be declared by the suspend template with\n\
        `valueFrom.supplied`. A value in double quotes is unquoted (`name=\"a b\"`).")]
    Set(NodeSetArgs),
}

#[derive(Debug, Args)]
#[command(group(
    clap::ArgGroup::new("values")
        .required(true)
        .multiple(true)
        .args(["output_parameters", "message"])
))]
pub struct NodeSetArgs {
    /// The run's name.
    pub name: String,

    /// The namespace [default: default]
    #[arg(short, long, value_name = "NS")]
    pub namespace: Option<String>,

    /// Which suspend nodes (e.g. displayName=approve).
    #[arg(long, required = true, value_name = "SELECTOR", value_parser = parse_node_selector)]
    pub node_field_selector: String,

    /// An output parameter to set: NAME=VALUE. Repeatable.
    #[arg(short = 'p', long = "output-parameter", value_name = "NAME=VALUE", value_parser = parse_output_parameter)]
    pub output_parameters: Vec<String>,

    /// A message to set on the nodes.
    #[arg(short, long, value_name = "TEXT")]
    pub message: Option<String>,
}

/// `NAME=VALUE` with a non-empty name.
pub fn parse_parameter(text: &str) -> Result<String, String> {
    match text.split_once('=') {
        Some((name, _)) if !name.trim().is_empty() => Ok(text.to_owned()),
        Some(_) => Err(format!("`{text}` has no name before `=`; write NAME=VALUE")),
        None => Err(format!("`{text}` has no `=`; write NAME=VALUE")),
    }
}

/// An output parameter for `node set`: `NAME=VALUE`, where a value in double quotes is
/// unquoted as Argo does (`msg="a b"` sets `a b`).
pub fn parse_output_parameter(text: &str) -> Result<String, String> {
    parse_parameter(text)?;
    let (name, value) = text.split_once('=').unwrap_or((text, ""));
    Ok(format!("{name}={}", unquote(value)))
}

/// `"a \"b\""` → `a "b"`; anything not wholly in double quotes stays as it is.
fn unquote(value: &str) -> String {
    let Some(inner) = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .filter(|_| value.len() >= 2)
    else {
        return value.to_owned();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// `KEY=VALUE` for a label.
pub fn parse_label(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_owned(), value.trim().to_owned()))
        }
        _ => Err(format!("`{text}` is not a label; write KEY=VALUE")),
    }
}

/// `--from KIND/NAME`: a WorkflowTemplate, ClusterWorkflowTemplate or CronWorkflow, in any
/// spelling `get` takes; returned as `kind/NAME` with the kind in lower case.
pub fn parse_from(text: &str) -> Result<String, String> {
    use switchyard_model::Kind;
    const EXPECTED: &str = "expected workflowtemplate/NAME (wftmpl), \
        clusterworkflowtemplate/NAME (cwft) or cronworkflow/NAME (cwf)";
    let Some((kind, name)) = text.split_once('/') else {
        return Err(format!("`{text}` names no kind; {EXPECTED}"));
    };
    let kind = match Kind::parse(kind.trim()) {
        Some(k @ (Kind::WorkflowTemplate | Kind::ClusterWorkflowTemplate | Kind::CronWorkflow)) => {
            k
        }
        Some(other) => {
            return Err(format!(
                "runs cannot be submitted from a {}; {EXPECTED}",
                other.name()
            ));
        }
        None => return Err(format!("unknown kind `{kind}`; {EXPECTED}")),
    };
    let name = name.trim();
    if name.is_empty() || name.contains('/') {
        return Err(format!("`{text}` has no valid name; {EXPECTED}"));
    }
    Ok(format!("{}/{name}", kind.name().to_ascii_lowercase()))
}

/// A `--node-field-selector`, checked as the server will read it.
pub fn parse_node_selector(text: &str) -> Result<String, String> {
    switchyard_engine::NodeFilter::parse(text)
        .map(|_| text.to_owned())
        .map_err(|e| e.to_string())
}

/// A duration as Argo writes them: `30s`, `10m`, `2h`, `1h30m`.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    switchyard_engine::naming::parse_duration(text)
}

#[derive(Debug, Args)]
pub struct LintArgs {
    /// A manifest file, a directory, or `-` for stdin. Repeatable.
    #[arg(short = 'f', long = "filename", value_name = "PATH", required = true)]
    pub files: Vec<PathBuf>,

    /// Namespace for objects that name none [default: default]
    #[arg(short, long, value_name = "NS")]
    pub namespace: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    fn parse(args: &[&str]) -> Command {
        Cli::try_parse_from(std::iter::once("switchyard").chain(args.iter().copied()))
            .unwrap()
            .command
    }

    #[test]
    fn submit_flags() {
        let Command::Submit(a) = parse(&[
            "submit",
            "a.yaml",
            "-",
            "-p",
            "list=a,b,c",
            "--parameter",
            "empty=",
            "-l",
            "team=a,tier=web",
            "-l",
            "owner=me",
            "-w",
            "--log",
            "-o",
            "wide",
        ]) else {
            panic!("not submit");
        };
        assert_eq!(a.files, [PathBuf::from("a.yaml"), PathBuf::from("-")]);
        // Parameters are never split at commas; labels are.
        assert_eq!(a.parameters, ["list=a,b,c", "empty="]);
        let labels: Vec<(&str, &str)> = a
            .labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(labels, [("team", "a"), ("tier", "web"), ("owner", "me")]);
        assert!(a.follow.watch && a.follow.log && !a.follow.wait && a.follow.any());
        assert_eq!(a.output, Some(OutputFormat::Wide));

        let Command::Submit(a) = parse(&["submit", "--from", "WFTmpl/build"]) else {
            panic!("not submit");
        };
        assert_eq!(a.from.as_deref(), Some("workflowtemplate/build"));
        assert!(a.files.is_empty() && !a.follow.any());
    }

    #[test]
    fn from_takes_every_spelling_of_the_three_kinds() {
        let cases = [
            ("workflowtemplate/a", "workflowtemplate/a"),
            ("wftmpl/a", "workflowtemplate/a"),
            ("WorkflowTemplate/a", "workflowtemplate/a"),
            ("clusterworkflowtemplate/a", "clusterworkflowtemplate/a"),
            ("cwft/a", "clusterworkflowtemplate/a"),
            ("cronworkflow/a", "cronworkflow/a"),
            ("cwf/a", "cronworkflow/a"),
            ("cronwf/a", "cronworkflow/a"),
        ];
        for (input, want) in cases {
            assert_eq!(parse_from(input).as_deref(), Ok(want), "{input}");
        }
        for bad in [
            "wf/a",
            "configmap/a",
            "nope/a",
            "a",
            "wftmpl/",
            "wftmpl/a/b",
        ] {
            assert!(parse_from(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn output_parameters_are_unquoted_like_argo() {
        let cases = [
            ("m=plain", "m=plain"),
            ("m=\"Hello, World!\"", "m=Hello, World!"),
            ("m=\"a \\\"b\\\" \\n\"", "m=a \"b\" \n"),
            ("m=\"", "m=\""),
            ("m=\"\"", "m="),
            ("m=say \"hi\"", "m=say \"hi\""),
            ("m=a=b", "m=a=b"),
        ];
        for (input, want) in cases {
            assert_eq!(
                parse_output_parameter(input).as_deref(),
                Ok(want),
                "{input}"
            );
        }
        assert!(parse_output_parameter("novalue").is_err());
    }

    #[test]
    fn list_and_action_flags() {
        let Command::List(a) = parse(&[
            "ls",
            "-A",
            "--status",
            "Failed,error",
            "-l",
            "app=web",
            "--since",
            "1h30m",
        ]) else {
            panic!("not list");
        };
        assert!(a.all_namespaces);
        assert_eq!(
            a.status,
            [
                switchyard_engine::WorkflowPhase::Failed,
                switchyard_engine::WorkflowPhase::Error
            ]
        );
        assert!(a.selector.is_some());
        assert_eq!(a.since, Some(std::time::Duration::from_secs(5400)));

        let Command::Resume(a) = parse(&[
            "resume",
            "a",
            "b",
            "--node-field-selector",
            "displayName=x,phase!=Failed",
            "-m",
            "ok",
        ]) else {
            panic!("not resume");
        };
        assert_eq!(a.runs.names, ["a", "b"]);
        assert_eq!(
            a.node_field_selector.as_deref(),
            Some("displayName=x,phase!=Failed")
        );
        assert_eq!(a.message.as_deref(), Some("ok"));

        let Command::Node(NodeCommand::Set(a)) = parse(&[
            "node",
            "set",
            "wf",
            "--node-field-selector",
            "approve",
            "-p",
            "x=1",
            "-p",
            "y=\"2\"",
        ]) else {
            panic!("not node set");
        };
        assert_eq!(a.output_parameters, ["x=1", "y=2"]);
        assert_eq!(a.message, None);
    }
}
