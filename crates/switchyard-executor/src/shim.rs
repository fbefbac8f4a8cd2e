//! The step's supervisor ("shim"): one process per step that outlives Switchyard.
//!
//! `switchyard __step <DIR>` (and the test binary `switchyard-step-shim <DIR>`) call
//! [`shim_main`]. It leaves Switchyard's session, gives itself a private `/tmp`, creates the
//! step's files, starts the step in its own process group, writes every output line with a
//! timestamp to `log.jsonl`, enforces the step's timeout, turns SIGTERM into a graceful stop
//! (reason and grace period from the `stop` file), reads the output parameter files (inside
//! the same `/tmp`), and finally writes `result.json` atomically. Because the result is a
//! file, a Switchyard that crashed and restarted finds it; because the shim is not
//! Switchyard's child in a shared session, it keeps running meanwhile.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use switchyard_engine::{LogStream, StepResult, StopReason};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::signal::unix::{SignalKind, signal};
use tokio::time::Instant;

use crate::capture::{LineSplitter, LogSink, ResultTail, human_duration};
use crate::isolation::{self, Tmp};
use crate::layout::{ProcessFile, StepDir, StepFile, StopRequest, read_json, write_json};
use crate::procfs;

/// How long output is still collected after the step's main process ended (a background
/// process it started may hold the pipes open).
const DRAIN_LIMIT: Duration = Duration::from_secs(2);

/// Runs the step described by `<dir>/step.json` to its end and writes `<dir>/result.json`.
/// Returns the process exit code for the shim: 0 when the result was written, 1 when not.
///
/// Call this before starting any thread: a new user namespace needs a single-threaded
/// process.
pub fn shim_main(dir: &Path) -> i32 {
    // Leave Switchyard's session and process group: a Ctrl-C or a crash of Switchyard does
    // not reach us, and `stop` can signal this group alone. It fails only when we already
    // lead a group, which is harmless.
    let _ = nix::unistd::setsid();
    let layout = StepDir::new(dir);
    let started_at = Utc::now();
    let me = std::process::id();
    if let Some(start_time) = procfs::start_time(me) {
        let file = ProcessFile {
            pid: me,
            start_time,
            started_at,
        };
        if let Err(err) = write_json(&layout.shim_file(), &file) {
            eprintln!("cannot write {}: {err}", layout.shim_file().display());
        }
    }
    let result = match read_json::<StepFile>(&layout.step_file()) {
        Ok(Some(step)) => {
            // Opened before /tmp is replaced: a program under /tmp stays reachable.
            let program = step
                .spec
                .command
                .first()
                .and_then(|p| isolation::hold_program_under_tmp(p));
            let tmp = isolation::private_tmp(dir, &layout.tmp_dir());
            let program = program.filter(|_| tmp == Tmp::Private);
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime.block_on(supervise(
                    &layout,
                    &step,
                    &tmp,
                    program.as_ref(),
                    started_at,
                )),
                Err(err) => not_run(
                    started_at,
                    format!("the step's supervisor cannot start its runtime: {err}"),
                ),
            }
        }
        Ok(None) => not_run(
            started_at,
            format!(
                "the step's supervisor found no {}",
                layout.step_file().display()
            ),
        ),
        Err(err) => not_run(
            started_at,
            format!(
                "the step's supervisor cannot read {}: {err}",
                layout.step_file().display()
            ),
        ),
    };
    match write_json(&layout.result_file(), &result) {
        Ok(()) => 0,
        Err(err) => {
            eprintln!("cannot write {}: {err}", layout.result_file().display());
            1
        }
    }
}

fn not_run(started_at: DateTime<Utc>, message: String) -> StepResult {
    StepResult {
        exit_code: None,
        result: String::new(),
        outputs: BTreeMap::new(),
        stopped: None,
        message,
        started_at,
        finished_at: Utc::now(),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

type Sink = Arc<Mutex<LogSink<fs::File>>>;

/// What ended the wait for the step.
enum Ended {
    Exited(io::Result<ExitStatus>),
    Stop(StopReason, Duration),
}

async fn supervise(
    layout: &StepDir,
    step: &StepFile,
    tmp: &Tmp,
    held_program: Option<&fs::File>,
    started_at: DateTime<Utc>,
) -> StepResult {
    let spec = &step.spec;
    let log = match OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(layout.log_file())
    {
        Ok(file) => file,
        Err(err) => {
            return not_run(
                started_at,
                format!(
                    "cannot open the step's log {}: {err}",
                    layout.log_file().display()
                ),
            );
        }
    };
    let sink: Sink = Arc::new(Mutex::new(LogSink::new(log, spec.capture.max_log_bytes)));
    if let Some(warning) = tmp.warning() {
        lock(&sink).system(warning);
    }
    let finish = |result: StepResult| -> StepResult {
        let mut sink = lock(&sink);
        sink.finish();
        if let Err(err) = sink.get_ref().sync_all() {
            eprintln!("cannot sync {}: {err}", layout.log_file().display());
        }
        if let Some(err) = sink.error() {
            eprintln!("writing {} failed: {err}", layout.log_file().display());
        }
        result
    };
    let failed = |message: String| -> StepResult {
        lock(&sink).system(message.clone());
        not_run(started_at, message)
    };

    let mut term = match signal(SignalKind::terminate()) {
        Ok(term) => term,
        Err(err) => {
            return finish(failed(format!(
                "the step's supervisor cannot handle SIGTERM: {err}"
            )));
        }
    };
    // A stop that came before we could handle SIGTERM (the signal then ended a previous shim
    // or arrived before this one was ready) still counts.
    if let Ok(Some(stop)) = read_json::<StopRequest>(&layout.stop_file()) {
        let mut result = failed(format!(
            "{} before the step started",
            reason_phrase(stop.reason, spec.timeout)
        ));
        result.stopped = Some(stop.reason);
        return finish(result);
    }
    for (path, content) in &spec.files {
        if let Err(err) = write_step_file(&resolve(path, &step.work_dir), content) {
            return finish(failed(format!("cannot create file `{path}`: {err}")));
        }
    }
    let mut argv: Vec<&str> = spec
        .command
        .iter()
        .chain(&spec.args)
        .map(String::as_str)
        .collect();
    let script = step
        .script
        .as_ref()
        .map(|p| p.to_string_lossy().into_owned());
    if let Some(script) = &script {
        argv.push(script);
    }
    let Some((program, args)) = argv.split_first() else {
        return finish(failed("the step has no command to run".to_owned()));
    };
    let mut command = match held_program {
        // The program's path is hidden behind the private /tmp: run it through the open file,
        // under its own name.
        Some(file) => {
            let mut c = tokio::process::Command::new(format!(
                "/proc/self/fd/{}",
                std::os::fd::AsRawFd::as_raw_fd(file)
            ));
            c.arg0(program);
            c
        }
        None => tokio::process::Command::new(program),
    };
    command
        .args(args)
        .current_dir(&step.work_dir)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    match tmp {
        Tmp::Private => command.env("TMPDIR", "/tmp"),
        Tmp::Shared(_) => command.env("TMPDIR", layout.tmp_dir()),
    };
    for (name, value) in &spec.env {
        command.env(name, value);
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(err) => {
            return finish(failed(format!(
                "cannot start `{program}`: {}",
                describe_io(&err)
            )));
        }
    };
    let Some(pid) = child.id() else {
        return finish(failed(
            "the step exited before it could be watched".to_owned(),
        ));
    };
    let group = Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX));
    let child_file = ProcessFile {
        pid,
        start_time: procfs::start_time(pid).unwrap_or(0),
        started_at: Utc::now(),
    };
    if let Err(err) = write_json(&layout.child_file(), &child_file) {
        eprintln!("cannot write {}: {err}", layout.child_file().display());
    }

    let tail = Arc::new(Mutex::new(ResultTail::new(spec.capture.max_result_bytes)));
    let mut pumps = tokio::task::JoinSet::new();
    if let Some(stdout) = child.stdout.take() {
        pumps.spawn(pump(
            stdout,
            LogStream::Stdout,
            sink.clone(),
            Some(tail.clone()),
        ));
    }
    if let Some(stderr) = child.stderr.take() {
        pumps.spawn(pump(stderr, LogStream::Stderr, sink.clone(), None));
    }

    let deadline = spec.timeout.map(|t| Instant::now() + t);
    let ended = tokio::select! {
        status = child.wait() => Ended::Exited(status),
        _ = term.recv() => match read_json::<StopRequest>(&layout.stop_file()) {
            Ok(Some(stop)) => Ended::Stop(stop.reason, stop.grace),
            _ => Ended::Stop(StopReason::Terminated, step.grace),
        },
        () = sleep_until(deadline) => Ended::Stop(StopReason::Timeout, step.grace),
    };
    let (status, stopped, killed_after) = match ended {
        Ended::Exited(status) => (status, None, None),
        Ended::Stop(reason, grace) => {
            let phrase = reason_phrase(reason, spec.timeout);
            lock(&sink).system(format!("{phrase}: sending SIGTERM to the step's processes"));
            let _ = killpg(group, Signal::SIGTERM);
            match tokio::time::timeout(grace, child.wait()).await {
                Ok(status) => (status, Some(reason), None),
                Err(_) => {
                    lock(&sink).system(format!(
                        "the step did not exit within the grace period of {}: sending SIGKILL",
                        human_duration(grace)
                    ));
                    let _ = killpg(group, Signal::SIGKILL);
                    (child.wait().await, Some(reason), Some(grace))
                }
            }
        }
    };
    // The main process has ended: like a container, the rest of its process group goes too.
    let _ = killpg(group, Signal::SIGKILL);
    let drained = tokio::time::timeout(DRAIN_LIMIT, async {
        while pumps.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        pumps.abort_all();
        lock(&sink).system(
            "output after the step ended was not collected: a process it started still holds \
             stdout or stderr open",
        );
    }

    let outputs = spec
        .output_paths
        .iter()
        .map(|(name, path)| {
            let value = read_output(path, &step.work_dir, spec.capture.max_result_bytes);
            (name.clone(), value)
        })
        .collect();
    let mut message = describe_status(&status);
    if let Some(grace) = killed_after {
        message = format!(
            "{message} after the grace period of {}",
            human_duration(grace)
        );
    }
    if let Some(reason) = stopped {
        message = format!("{}; {message}", reason_phrase(reason, spec.timeout));
    }
    let result = StepResult {
        exit_code: status.as_ref().ok().and_then(ExitStatus::code),
        result: lock(&tail).finish(),
        outputs,
        stopped,
        message,
        started_at,
        finished_at: Utc::now(),
    };
    finish(result)
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Copies one stream into the log, line by line, and stdout into the result tail.
async fn pump(
    mut reader: impl AsyncRead + Unpin,
    stream: LogStream,
    sink: Sink,
    tail: Option<Arc<Mutex<ResultTail>>>,
) {
    let mut splitter = LineSplitter::default();
    let mut buf = vec![0_u8; 16 * 1024];
    loop {
        let n = match reader.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let bytes = &buf[..n];
        if let Some(tail) = &tail {
            lock(tail).feed(bytes);
        }
        for line in splitter.feed(bytes) {
            lock(&sink).push(stream, line);
        }
    }
    if let Some(line) = splitter.finish() {
        lock(&sink).push(stream, line);
    }
}

/// A manifest path: absolute paths as they are (inside the step's mount namespace, so `/tmp`
/// is the step's own); relative ones from the working directory.
fn resolve(path: &str, work_dir: &Path) -> PathBuf {
    let path = Path::new(path);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        work_dir.join(path)
    }
}

fn write_step_file(path: &Path, content: &str) -> io::Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::write(path, content)
}

/// Reads an output parameter file as Argo does (one trailing newline removed), with the
/// reason when it cannot.
pub(crate) fn read_output(path: &str, work_dir: &Path, max_bytes: usize) -> Result<String, String> {
    let file = resolve(path, work_dir);
    let meta = match fs::metadata(&file) {
        Ok(meta) => meta,
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            return Err(format!("`{path}` does not exist"));
        }
        Err(err) => return Err(format!("cannot read `{path}`: {}", describe_io(&err))),
    };
    if meta.is_dir() {
        return Err(format!("`{path}` is a directory, not a file"));
    }
    let limit = u64::try_from(max_bytes).unwrap_or(u64::MAX);
    if meta.len() > limit {
        return Err(format!(
            "`{path}` is {} bytes, more than the limit of {max_bytes} bytes",
            meta.len()
        ));
    }
    let bytes =
        fs::read(&file).map_err(|err| format!("cannot read `{path}`: {}", describe_io(&err)))?;
    let text = String::from_utf8(bytes).map_err(|_| format!("`{path}` is not UTF-8 text"))?;
    Ok(text.strip_suffix('\n').unwrap_or(&text).to_owned())
}

/// "no such file or directory": the OS's description, in lower case, without the error code.
pub(crate) fn describe_io(err: &io::Error) -> String {
    match err.raw_os_error() {
        Some(code) => {
            let desc = nix::errno::Errno::from_raw(code).desc();
            let mut chars = desc.chars();
            match chars.next() {
                Some(first) => first.to_lowercase().chain(chars).collect(),
                None => err.to_string(),
            }
        }
        None => err.to_string(),
    }
}

fn describe_status(status: &io::Result<ExitStatus>) -> String {
    match status {
        Ok(status) => match (status.code(), status.signal()) {
            (Some(code), _) => format!("exit code {code}"),
            (None, Some(signal)) => match Signal::try_from(signal) {
                Ok(name) => format!("killed by signal {signal} ({})", name.as_str()),
                Err(_) => format!("killed by signal {signal}"),
            },
            (None, None) => format!("ended with {status}"),
        },
        Err(err) => format!("cannot wait for the step: {err}"),
    }
}

pub(crate) fn reason_phrase(reason: StopReason, timeout: Option<Duration>) -> String {
    match reason {
        StopReason::Timeout => match timeout {
            Some(timeout) => format!("timed out after {}", human_duration(timeout)),
            None => "timed out".to_owned(),
        },
        StopReason::Deadline => "stopped at the workflow's deadline".to_owned(),
        StopReason::Stopped => "stopped on request".to_owned(),
        StopReason::Terminated => "terminated on request".to_owned(),
        StopReason::Shutdown => "stopped because Switchyard is shutting down".to_owned(),
    }
}

/// Signals a process group, or the process alone when it has no group of its own yet.
pub(crate) fn signal_group(pid: u32, signal: Signal) {
    let Ok(raw) = i32::try_from(pid) else {
        return;
    };
    if killpg(Pid::from_raw(raw), signal).is_err() {
        let _ = kill(Pid::from_raw(raw), signal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_files() {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path();
        fs::write(work.join("plain.txt"), "value\n").unwrap();
        fs::write(work.join("two.txt"), "value\n\n").unwrap();
        fs::write(work.join("none.txt"), "value").unwrap();
        fs::write(work.join("big.txt"), "0123456789").unwrap();
        fs::write(work.join("bin.txt"), b"\xff\xfe").unwrap();
        fs::create_dir(work.join("sub")).unwrap();
        let abs = work.join("plain.txt").to_string_lossy().into_owned();
        let cases: Vec<(&str, Result<String, String>)> = vec![
            ("plain.txt", Ok("value".into())),
            ("two.txt", Ok("value\n".into())),
            ("none.txt", Ok("value".into())),
            (&abs, Ok("value".into())),
            ("missing.txt", Err("`missing.txt` does not exist".into())),
            ("sub", Err("`sub` is a directory, not a file".into())),
            (
                "big.txt",
                Err("`big.txt` is 10 bytes, more than the limit of 8 bytes".into()),
            ),
            ("bin.txt", Err("`bin.txt` is not UTF-8 text".into())),
        ];
        for (path, expected) in cases {
            assert_eq!(read_output(path, work, 8), expected, "{path}");
        }
    }

    #[test]
    fn io_errors_read_like_the_os() {
        let cases = [
            (libc_enoent(), "no such file or directory"),
            (io::Error::from_raw_os_error(13), "permission denied"),
            (io::Error::other("custom"), "custom"),
        ];
        for (err, expected) in cases {
            assert_eq!(describe_io(&err), expected);
        }
    }

    fn libc_enoent() -> io::Error {
        io::Error::from_raw_os_error(2)
    }

    #[test]
    fn statuses() {
        let cases = [
            (ExitStatus::from_raw(0), "exit code 0"),
            (ExitStatus::from_raw(3 << 8), "exit code 3"),
            (ExitStatus::from_raw(9), "killed by signal 9 (SIGKILL)"),
            (ExitStatus::from_raw(15), "killed by signal 15 (SIGTERM)"),
        ];
        for (status, expected) in cases {
            assert_eq!(describe_status(&Ok(status)), expected);
        }
    }
}
