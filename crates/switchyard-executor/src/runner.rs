//! [`LocalRunner`]: the [`StepRunner`] that runs steps as local processes, each under its own
//! supervisor (see [`crate::shim_main`]), with a global limit on how many run at once.
//!
//! Everything about a step lives in its directory (see [`crate::layout`]), so a runner
//! created after a restart finds running and finished steps from their handles alone.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::{self, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use nix::sys::signal::Signal;
use switchyard_engine::{
    LogLine, Reattach, RunnerError, StepHandle, StepResult, StepRunner, StepSpec, StopReason,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::error::ExecutorError;
use crate::layout::{
    ProcessFile, StepDir, StepFile, StopRequest, create_private_dir, path_component, read_json,
    write_json,
};
use crate::procfs;
use crate::shim::{reason_phrase, signal_group};
use crate::tools::{ImageTools, with_tools};

/// What [`StepRunner::reattach`] says about a step whose supervisor vanished without a result.
pub const LOST_MESSAGE: &str =
    "the step's supervisor process is gone and left no result (was the machine restarted?)";

/// How long `stop` waits beyond the grace period for the supervisor to report, before it
/// kills the supervisor and the step outright.
const SUPERVISOR_MARGIN: Duration = Duration::from_secs(10);

/// How to run the supervisor: `program args_prefix... <step dir>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShimCommand {
    pub program: PathBuf,
    pub args_prefix: Vec<OsString>,
}

impl ShimCommand {
    /// The running `switchyard` binary's hidden `__step` subcommand.
    pub fn switchyard_binary() -> io::Result<Self> {
        Ok(ShimCommand {
            program: std::env::current_exe()?,
            args_prefix: vec![OsString::from("__step")],
        })
    }
}

#[derive(Debug, Clone)]
pub struct LocalRunnerConfig {
    /// Where step directories go: `<root>/<run>/<step id>/`. Keep it outside `/tmp`: a step
    /// directory under `/tmp` cannot get a private `/tmp`.
    pub root: PathBuf,
    pub shim: ShimCommand,
    /// How many steps may run at once (at least 1).
    pub max_parallel: usize,
    /// The time between SIGTERM and SIGKILL when a step's `timeout` passes.
    pub default_grace: Duration,
    /// Host programs standing in for the programs of images (first match wins).
    pub image_tools: Vec<ImageTools>,
}

/// A step this runner is responsible for: the supervisor, when it is our child (so `wait`
/// reaps it), and the concurrency slot, held until `wait` has collected the result.
struct Tracked {
    handle: StepHandle,
    child: Option<tokio::process::Child>,
    _slot: Option<OwnedSemaphorePermit>,
}

/// Runs steps as local processes. See the crate documentation.
pub struct LocalRunner {
    root: PathBuf,
    shim: ShimCommand,
    default_grace: Duration,
    image_tools: Vec<ImageTools>,
    /// Switchyard's `PATH`, after which an image's tools come.
    host_path: String,
    slots: Arc<Semaphore>,
    steps: Mutex<HashMap<PathBuf, Tracked>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl LocalRunner {
    pub fn new(config: LocalRunnerConfig) -> Self {
        let root = std::path::absolute(&config.root).unwrap_or(config.root);
        let permits = config.max_parallel.clamp(1, Semaphore::MAX_PERMITS);
        LocalRunner {
            root,
            shim: config.shim,
            default_grace: config.default_grace,
            image_tools: config.image_tools,
            host_path: std::env::var("PATH").unwrap_or_default(),
            slots: Arc::new(Semaphore::new(permits)),
            steps: Mutex::new(HashMap::new()),
        }
    }

    /// The directory root of every step.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The scratch directory of a step: `<root>/<run>/<id>`, each name encoded as one safe
    /// path component.
    pub fn step_dir(&self, run: &str, id: &str) -> PathBuf {
        self.root.join(path_component(run)).join(path_component(id))
    }

    /// A handle to the step already in `dir` when its supervisor is running or has finished:
    /// `start` after a crash that lost the handle then does not run the step twice.
    fn adopt(&self, id: &str, dir: &Path) -> Option<StepHandle> {
        let layout = StepDir::new(dir);
        let handle = match read_json::<StepHandle>(&layout.handle_file())
            .ok()
            .flatten()
        {
            Some(handle) => handle,
            None => {
                let shim: ProcessFile = read_json(&layout.shim_file()).ok().flatten()?;
                StepHandle {
                    id: id.to_owned(),
                    pid: shim.pid,
                    pid_start_time: shim.start_time,
                    dir: dir.to_path_buf(),
                    started_at: shim.started_at,
                }
            }
        };
        let alive = procfs::is_alive(handle.pid, handle.pid_start_time);
        (alive || layout.result_file().exists()).then_some(handle)
    }

    /// Creates the step's directory and files and starts its supervisor.
    fn launch(
        &self,
        step: &StepSpec,
        dir: &Path,
    ) -> Result<(StepHandle, tokio::process::Child), ExecutorError> {
        let layout = StepDir::new(dir);
        let work_dir = working_dir(&layout.work_dir(), step.working_dir.as_deref())?;
        if dir.exists() {
            // A previous launch of this attempt that never got going: start afresh.
            fs::remove_dir_all(dir).map_err(ExecutorError::io("remove", dir))?;
        }
        for path in [dir.to_path_buf(), layout.work_dir(), layout.tmp_dir()] {
            create_private_dir(&path).map_err(ExecutorError::io("create", &path))?;
        }
        fs::create_dir_all(&work_dir).map_err(ExecutorError::io("create", &work_dir))?;
        let script = match &step.script_source {
            Some(source) => {
                let path = layout.script_file();
                OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o700)
                    .open(&path)
                    .and_then(|mut file| io::Write::write_all(&mut file, source.as_bytes()))
                    .map_err(ExecutorError::io("write", &path))?;
                Some(path)
            }
            None => None,
        };
        let file = StepFile {
            spec: with_tools(&self.image_tools, step, &self.host_path),
            work_dir,
            script,
            grace: self.default_grace,
        };
        write_json(&layout.step_file(), &file)
            .map_err(ExecutorError::io("write", layout.step_file()))?;
        let log = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(layout.shim_log())
            .map_err(ExecutorError::io("create", layout.shim_log()))?;
        let log_err = log
            .try_clone()
            .map_err(ExecutorError::io("open", layout.shim_log()))?;
        let mut command = tokio::process::Command::new(&self.shim.program);
        command
            .args(&self.shim.args_prefix)
            .arg(dir)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            .kill_on_drop(false);
        // Switchyard's own settings (its token among them) are not the step's business.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("SWITCHYARD_") {
                command.env_remove(name);
            }
        }
        let started_at = Utc::now();
        let child = command
            .spawn()
            .map_err(|source| ExecutorError::Supervisor {
                program: self.shim.program.clone(),
                source,
            })?;
        // Not yet reaped by anyone, so /proc still has it even if it already exited.
        let pid = child.id().unwrap_or(0);
        let pid_start_time = procfs::start_time(pid).ok_or_else(|| ExecutorError::Io {
            action: "read the start time of the step supervisor from",
            path: PathBuf::from(format!("/proc/{pid}/stat")),
            source: io::Error::from(io::ErrorKind::NotFound),
        })?;
        let handle = StepHandle {
            id: step.id.clone(),
            pid,
            pid_start_time,
            dir: dir.to_path_buf(),
            started_at,
        };
        write_json(&layout.handle_file(), &handle)
            .map_err(ExecutorError::io("write", layout.handle_file()))?;
        Ok((handle, child))
    }

    /// The step's result, or one that says why there is none.
    fn collect(&self, handle: &StepHandle) -> Result<StepResult, RunnerError> {
        let layout = StepDir::new(&handle.dir);
        match read_json::<StepResult>(&layout.result_file()) {
            Ok(Some(result)) => Ok(result),
            Ok(None) => Ok(no_result(handle, &layout)),
            Err(err) => Err(RunnerError::Internal(format!(
                "cannot read {}: {err}",
                layout.result_file().display()
            ))),
        }
    }

    /// Whether `dir` is a step directory of this runner (never remove anything else).
    fn owns(&self, dir: &Path) -> bool {
        let Ok(rest) = dir.strip_prefix(&self.root) else {
            return false;
        };
        let parts: Vec<_> = rest.components().collect();
        parts.len() == 2 && parts.iter().all(|c| matches!(c, Component::Normal(_)))
    }
}

/// The working directory: `work/`, or `work/<working_dir>` (an absolute `workingDir` as in a
/// container image is taken relative to `work/` too).
fn working_dir(work: &Path, requested: Option<&str>) -> Result<PathBuf, ExecutorError> {
    let mut dir = work.to_path_buf();
    let Some(requested) = requested else {
        return Ok(dir);
    };
    for component in Path::new(requested).components() {
        match component {
            Component::Normal(part) => dir.push(part),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => {
                return Err(ExecutorError::Invalid(format!(
                    "the working directory `{requested}` must not contain `..`"
                )));
            }
        }
    }
    Ok(dir)
}

/// The result of a step whose supervisor ended without writing one.
fn no_result(handle: &StepHandle, layout: &StepDir) -> StepResult {
    let stop: Option<StopRequest> = read_json(&layout.stop_file()).ok().flatten();
    let mut message = match stop {
        Some(stop) => format!(
            "{}; the step's supervisor was killed before it reported a result",
            reason_phrase(stop.reason, None)
        ),
        None => LOST_MESSAGE.to_owned(),
    };
    let last_words = fs::read_to_string(layout.shim_log()).unwrap_or_default();
    if let Some(line) = last_words.lines().rev().find(|l| !l.trim().is_empty()) {
        message = format!("{message}; it last said: {}", line.trim());
    }
    StepResult {
        exit_code: None,
        result: String::new(),
        outputs: Default::default(),
        stopped: stop.map(|s| s.reason),
        message,
        started_at: handle.started_at,
        finished_at: Utc::now(),
    }
}

/// Polls until the step's result exists or its supervisor is gone, or until `limit`.
/// Returns whether it ended (as opposed to hitting the limit).
async fn poll_end(handle: &StepHandle, limit: Option<Instant>) -> bool {
    let result = StepDir::new(&handle.dir).result_file();
    let mut delay = Duration::from_millis(10);
    loop {
        if result.exists() || !procfs::is_alive(handle.pid, handle.pid_start_time) {
            return true;
        }
        if limit.is_some_and(|limit| Instant::now() >= limit) {
            return false;
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(250));
    }
}

#[async_trait]
impl StepRunner for LocalRunner {
    async fn start(&self, step: &StepSpec) -> Result<StepHandle, RunnerError> {
        let dir = self.step_dir(&step.run, &step.id);
        if let Some(tracked) = lock(&self.steps).get(&dir) {
            return Ok(tracked.handle.clone());
        }
        let slot = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| RunnerError::Internal("the step runner is shut down".to_owned()))?;
        let mut steps = lock(&self.steps);
        if let Some(tracked) = steps.get(&dir) {
            return Ok(tracked.handle.clone());
        }
        let (handle, child) = match self.adopt(&step.id, &dir) {
            Some(handle) => (handle, None),
            None => {
                let (handle, child) = self.launch(step, &dir)?;
                (handle, Some(child))
            }
        };
        steps.insert(
            dir,
            Tracked {
                handle: handle.clone(),
                child,
                _slot: Some(slot),
            },
        );
        Ok(handle)
    }

    async fn wait(&self, handle: &StepHandle) -> Result<StepResult, RunnerError> {
        let child = lock(&self.steps)
            .get_mut(&handle.dir)
            .and_then(|tracked| tracked.child.take());
        match child {
            // Our child: reap it (it writes its result before it exits).
            Some(mut child) => {
                let _ = child.wait().await;
            }
            // Started by an earlier Switchyard: watch /proc and the result file.
            None => {
                poll_end(handle, None).await;
            }
        }
        let result = self.collect(handle);
        lock(&self.steps).remove(&handle.dir);
        result
    }

    async fn stop(&self, handle: &StepHandle, reason: StopReason, grace: Duration) {
        let layout = StepDir::new(&handle.dir);
        if layout.result_file().exists() || !procfs::is_alive(handle.pid, handle.pid_start_time) {
            return;
        }
        // The reason goes through a file: a signal cannot carry it, and SIGKILL not at all.
        if let Err(err) = write_json(&layout.stop_file(), &StopRequest { reason, grace }) {
            tracing::warn!(dir = %handle.dir.display(), error = %err, "cannot record why the step is stopped");
        }
        signal_group(handle.pid, Signal::SIGTERM);
        let limit = Instant::now() + grace + SUPERVISOR_MARGIN;
        if poll_end(handle, Some(limit)).await {
            return;
        }
        tracing::warn!(dir = %handle.dir.display(), "the step's supervisor did not finish after SIGTERM; killing it and the step");
        if procfs::is_alive(handle.pid, handle.pid_start_time) {
            signal_group(handle.pid, Signal::SIGKILL);
        }
        if let Ok(Some(child)) = read_json::<ProcessFile>(&layout.child_file())
            && procfs::is_alive(child.pid, child.start_time)
        {
            signal_group(child.pid, Signal::SIGKILL);
        }
    }

    async fn reattach(&self, handle: &StepHandle) -> Reattach {
        let layout = StepDir::new(&handle.dir);
        match read_json::<StepResult>(&layout.result_file()) {
            Ok(Some(result)) => return Reattach::Finished(result),
            Ok(None) => {}
            Err(err) => {
                return Reattach::Lost(format!(
                    "the step's result {} cannot be read: {err}",
                    layout.result_file().display()
                ));
            }
        }
        if procfs::is_alive(handle.pid, handle.pid_start_time) {
            // Count it against the limit when a slot is free; a re-attached step is never
            // refused, so the limit may be exceeded until it ends.
            let slot = self.slots.clone().try_acquire_owned().ok();
            lock(&self.steps)
                .entry(handle.dir.clone())
                .or_insert_with(|| Tracked {
                    handle: handle.clone(),
                    child: None,
                    _slot: slot,
                });
            return Reattach::Running;
        }
        // It may have finished between the two looks.
        if let Ok(Some(result)) = read_json::<StepResult>(&layout.result_file()) {
            return Reattach::Finished(result);
        }
        Reattach::Lost(LOST_MESSAGE.to_owned())
    }

    async fn logs(&self, handle: &StepHandle, from: usize) -> Result<Vec<LogLine>, RunnerError> {
        let path = StepDir::new(&handle.dir).log_file();
        tokio::task::spawn_blocking(move || read_log(&path, from))
            .await
            .map_err(|err| RunnerError::Internal(format!("reading the step's log failed: {err}")))?
    }

    async fn cleanup(&self, handle: &StepHandle) {
        lock(&self.steps).remove(&handle.dir);
        if !self.owns(&handle.dir) {
            tracing::warn!(dir = %handle.dir.display(), root = %self.root.display(), "not removing a step directory outside the runner's root");
            return;
        }
        let dir = handle.dir.clone();
        let removed = tokio::task::spawn_blocking(move || {
            let removed = match fs::remove_dir_all(&dir) {
                Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
                other => other,
            };
            // The run's directory goes with its last step.
            if let Some(run_dir) = dir.parent() {
                let _ = fs::remove_dir(run_dir);
            }
            removed
        })
        .await;
        match removed {
            Ok(Ok(())) => {}
            Ok(Err(err)) => {
                tracing::warn!(dir = %handle.dir.display(), error = %err, "cannot remove the step directory");
            }
            Err(err) => {
                tracing::warn!(dir = %handle.dir.display(), error = %err, "removing the step directory failed");
            }
        }
    }
}

/// Log lines from index `from`; a last line still being written (no newline yet) is left
/// for the next call.
fn read_log(path: &Path, from: usize) -> Result<Vec<LogLine>, RunnerError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => {
            return Err(RunnerError::Internal(format!(
                "cannot read {}: {err}",
                path.display()
            )));
        }
    };
    let complete = match bytes.iter().rposition(|b| *b == b'\n') {
        Some(end) => &bytes[..=end],
        None => &[][..],
    };
    complete
        .split_inclusive(|b| *b == b'\n')
        .enumerate()
        .skip(from)
        .map(|(index, line)| {
            serde_json::from_slice(line).map_err(|err| {
                RunnerError::Internal(format!("{} line {}: {err}", path.display(), index + 1))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn working_directories() {
        let work = Path::new("/r/run/step/work");
        let cases: Vec<(Option<&str>, Result<&str, &str>)> = vec![
            (None, Ok("/r/run/step/work")),
            (Some("src"), Ok("/r/run/step/work/src")),
            (Some("/src/app"), Ok("/r/run/step/work/src/app")),
            (Some("./a/./b"), Ok("/r/run/step/work/a/b")),
            (
                Some("../x"),
                Err("the working directory `../x` must not contain `..`"),
            ),
        ];
        for (requested, expected) in cases {
            let got = working_dir(work, requested).map_err(|e| e.to_string());
            let expected = expected.map(PathBuf::from).map_err(str::to_owned);
            assert_eq!(got, expected, "{requested:?}");
        }
    }

    #[test]
    fn owns_only_step_directories_under_its_root() {
        let runner = LocalRunner::new(LocalRunnerConfig {
            root: PathBuf::from("/data/steps"),
            shim: ShimCommand {
                program: PathBuf::from("shim"),
                args_prefix: vec![],
            },
            max_parallel: 1,
            default_grace: Duration::from_secs(1),
            image_tools: Vec::new(),
        });
        let cases = [
            ("/data/steps/run/step", true),
            ("/data/steps/run", false),
            ("/data/steps", false),
            ("/data/steps/run/step/work", false),
            ("/data/steps/run/../../etc", false),
            ("/data/other/run/step", false),
            ("/etc/passwd", false),
        ];
        for (dir, expected) in cases {
            assert_eq!(runner.owns(Path::new(dir)), expected, "{dir}");
        }
    }

    #[test]
    fn log_reading_skips_a_partial_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.jsonl");
        let line = |text: &str| {
            format!(
                "{{\"time\":\"2026-01-01T00:00:00Z\",\"stream\":\"stdout\",\"text\":\"{text}\"}}\n"
            )
        };
        fs::write(&path, format!("{}{}{{\"time\":", line("a"), line("b"))).unwrap();
        let texts = |from| -> Vec<String> {
            read_log(&path, from)
                .unwrap()
                .into_iter()
                .map(|l| l.text)
                .collect()
        };
        assert_eq!(texts(0), vec!["a", "b"]);
        assert_eq!(texts(1), vec!["b"]);
        assert_eq!(texts(2), Vec::<String>::new());
        assert_eq!(texts(9), Vec::<String>::new());
        assert_eq!(read_log(&dir.path().join("none"), 0).unwrap(), vec![]);
    }
}
