//! The boundary between the engine and whatever runs a step: the [`StepRunner`] port.
//!
//! The engine's pure core decides *what* to run and produces a [`StepSpec`] with everything
//! resolved (no `{{...}}` left, parameters as data); a runner starts it, and reports a
//! [`StepResult`]. A runner must be able to find a step again after the Switchyard process was
//! killed ([`StepRunner::reattach`]), so that a finished step is never run twice.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One step to run: a process with its command, arguments, environment and files, fully
/// resolved by the engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepSpec {
    /// Unique and stable for this attempt of this node (the engine's node id); used to name
    /// the step's scratch directory so a re-attach finds it.
    pub id: String,
    /// The run this step belongs to, for directory layout: its uid (unique per incarnation of
    /// a run name), or its name when the run has no uid.
    pub run: String,
    /// The container image the manifest names; recorded, not pulled.
    pub image: Option<String>,
    /// `argv[0]` and the rest; for a script template, `command` + the path of the script file
    /// (the runner writes `script_source` to that file first).
    pub command: Vec<String>,
    pub args: Vec<String>,
    /// Environment variables, in order. Parameters reach the process here and in files, never
    /// pasted into shell source.
    pub env: Vec<(String, String)>,
    /// The working directory inside the step's scratch root; `None` = the scratch root itself.
    pub working_dir: Option<String>,
    /// For script templates: the source to write to a file that becomes the last argument.
    pub script_source: Option<String>,
    /// Extra files to create before starting, by path (absolute paths are remapped into the
    /// scratch root, as are output parameter paths).
    pub files: BTreeMap<String, String>,
    /// Files to read back as output parameters when the step ends: name -> path as written in
    /// the manifest (remapped like `files`).
    pub output_paths: BTreeMap<String, String>,
    /// Hard limit on the step's run time (template `timeout` / deadline); the runner stops it
    /// with [`StopReason::Timeout`].
    pub timeout: Option<Duration>,
    /// How much of stdout becomes `outputs.result` (Argo trims and caps it).
    pub capture: OutputCapture,
}

/// How stdout is kept as the step's `result`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputCapture {
    /// Maximum bytes of stdout kept as `result` (Argo: 256 KiB).
    pub max_result_bytes: usize,
    /// Maximum bytes of log kept per stream; beyond it the log says how much was dropped.
    pub max_log_bytes: usize,
}

impl Default for OutputCapture {
    fn default() -> Self {
        OutputCapture {
            max_result_bytes: 256 * 1024,
            max_log_bytes: 16 * 1024 * 1024,
        }
    }
}

/// Where a started step can be found again: enough to re-attach after a crash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepHandle {
    pub id: String,
    /// The process id of the step's supervisor, and the kernel's start time of that process
    /// (so a recycled pid is not mistaken for our step).
    pub pid: u32,
    pub pid_start_time: u64,
    /// The step's scratch directory.
    pub dir: PathBuf,
    pub started_at: DateTime<Utc>,
}

/// Which stream a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogStream {
    Stdout,
    Stderr,
    /// A line the runner itself wrote (e.g. "log truncated after 16 MiB", "stopped: timeout").
    System,
}

/// One line of a step's log, with the time it was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    pub time: DateTime<Utc>,
    pub stream: LogStream,
    pub text: String,
}

/// How a step ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepResult {
    /// The exit code; `None` when the process was killed by a signal or never started.
    pub exit_code: Option<i32>,
    /// Stdout trimmed as Argo trims `outputs.result` (trailing newline(s) removed), capped.
    pub result: String,
    /// Output parameters read from their files: name -> value, or the reason it could not be
    /// read (missing file, too large, not UTF-8).
    pub outputs: BTreeMap<String, Result<String, String>>,
    /// Why the runner stopped it, if it did.
    pub stopped: Option<StopReason>,
    /// A human-readable summary for the node message, e.g. "exit code 1" or
    /// "cannot start `pyhton`: no such file or directory".
    pub message: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
}

/// Why a runner stops a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum StopReason {
    /// The step's `timeout` passed.
    Timeout,
    /// The workflow's `activeDeadlineSeconds` passed.
    Deadline,
    /// `switchyard stop` / `terminate`.
    Stopped,
    Terminated,
    /// Switchyard is shutting down and will re-attach later.
    Shutdown,
}

/// What a runner finds when asked about a step started before a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reattach {
    /// Still running: wait for it with [`StepRunner::wait`].
    Running,
    /// It finished while Switchyard was down.
    Finished(StepResult),
    /// Neither running nor finished (the machine rebooted, the directory was removed): the
    /// engine applies the template's retry policy and says so on the node.
    Lost(String),
}

/// Errors of a runner.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunnerError {
    /// The step could not be started (bad command, no such program): the node fails with this.
    #[error("{0}")]
    Start(String),
    /// The runner itself failed (I/O on its own files); the engine may retry.
    #[error("step runner failed: {0}")]
    Internal(String),
}

/// The port the engine drives. Implementations: local processes (`switchyard-executor`);
/// Kubernetes pods later.
///
/// Contract:
/// - `start` returns once the process exists (its handle is then committed by the engine);
///   it respects the runner's global concurrency limit by waiting for a slot.
/// - `wait` returns when the step has ended, with outputs collected; calling it on a
///   re-attached handle works the same.
/// - `stop` sends SIGTERM, waits up to `grace`, then SIGKILL; `wait` then reports `stopped`.
/// - `logs` returns the lines captured so far from `from` (a line index), for `logs -f`.
/// - A step's files live in its own scratch directory; parallel steps never share paths.
#[async_trait]
pub trait StepRunner: Send + Sync + 'static {
    async fn start(&self, step: &StepSpec) -> Result<StepHandle, RunnerError>;
    async fn wait(&self, handle: &StepHandle) -> Result<StepResult, RunnerError>;
    async fn stop(&self, handle: &StepHandle, reason: StopReason, grace: Duration);
    async fn reattach(&self, handle: &StepHandle) -> Reattach;
    async fn logs(&self, handle: &StepHandle, from: usize) -> Result<Vec<LogLine>, RunnerError>;
    /// Removes the step's scratch directory once the engine has recorded its result.
    async fn cleanup(&self, handle: &StepHandle);
}
