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
        switchyard get secret db-credentials -o json --show-secrets\n  \
        switchyard get clusterworkflowtemplates -o name\n\n\
        Kinds: eventbus (eb), eventsources (es), sensors (sn), workflows (wf),\n\
        workflowtemplates (wftmpl), clusterworkflowtemplates (cwft), cronworkflows (cwf),\n\
        secrets, configmaps (cm). `sensor`, `Sensor` and `sensors.argoproj.io` work too.")]
    Get(GetArgs),

    /// Delete one object.
    #[command(after_help = "Examples:\n  \
        switchyard delete sensor webhook\n  \
        switchyard delete wf hello-x7k2p -n team-a\n  \
        switchyard delete cwft build")]
    Delete(DeleteArgs),

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
}

#[derive(Debug, Args)]
pub struct StepArgs {
    /// The step's directory, holding its `step.json`.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
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
    /// `kind.group/name`, one per line.
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
}
