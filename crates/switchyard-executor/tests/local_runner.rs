//! The local runner with real processes: results, parameters, scripts, private /tmp, stops
//! and timeouts, logs, re-attach after a runner is dropped, the concurrency limit.
//!
//! No timing assertions: every wait is bounded by a generous limit only so that a broken
//! runner fails the test instead of hanging it, and steps that must overlap synchronise
//! through files.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use switchyard_engine::{
    LogLine, LogStream, OutputCapture, Reattach, StepHandle, StepResult, StepRunner, StepSpec,
    StopReason,
};
use switchyard_executor::{LOST_MESSAGE, LocalRunner, LocalRunnerConfig, ShimCommand};
use tempfile::TempDir;

/// Upper bound for anything a test waits for; reaching it is a failure, not a measurement.
const LIMIT: Duration = Duration::from_secs(120);

/// A shell loop that waits (boundedly) until the file named by `$1`... exists: used by steps
/// that must overlap or wait for the test.
fn wait_for(var: &str) -> String {
    format!("i=0; while [ ! -e \"${var}\" ] && [ $i -lt 2400 ]; do sleep 0.05; i=$((i+1)); done")
}

struct Fixture {
    _dir: TempDir,
    root: PathBuf,
    /// A directory outside every step's scratch space, for files steps share with the test.
    shared: PathBuf,
}

fn fixture() -> Fixture {
    // Not under /tmp: a step directory under /tmp cannot get a private /tmp.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    fixture_in(dir)
}

fn fixture_in(dir: TempDir) -> Fixture {
    let root = dir.path().join("steps");
    let shared = dir.path().join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    Fixture {
        _dir: dir,
        root,
        shared,
    }
}

fn runner(root: &Path, max_parallel: usize) -> LocalRunner {
    LocalRunner::new(LocalRunnerConfig {
        root: root.to_path_buf(),
        shim: ShimCommand {
            program: PathBuf::from(env!("CARGO_BIN_EXE_switchyard-step-shim")),
            args_prefix: vec![],
        },
        max_parallel,
        default_grace: Duration::from_secs(30),
        image_tools: Vec::new(),
    })
}

fn spec(id: &str, command: &[&str]) -> StepSpec {
    StepSpec {
        id: id.to_owned(),
        run: "run-1".to_owned(),
        image: Some("alpine:3".to_owned()),
        command: command.iter().map(|s| (*s).to_owned()).collect(),
        args: vec![],
        env: vec![],
        working_dir: None,
        script_source: None,
        files: BTreeMap::new(),
        output_paths: BTreeMap::new(),
        timeout: None,
        capture: OutputCapture::default(),
    }
}

fn sh(id: &str, script: &str) -> StepSpec {
    spec(id, &["sh", "-c", script])
}

async fn bounded<T>(what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(LIMIT, fut).await {
        Ok(value) => value,
        Err(_) => panic!("{what} did not finish within {LIMIT:?}"),
    }
}

async fn run(runner: &LocalRunner, step: &StepSpec) -> (StepResult, Vec<LogLine>) {
    let handle = runner.start(step).await.unwrap();
    let result = bounded("wait", runner.wait(&handle)).await.unwrap();
    let logs = runner.logs(&handle, 0).await.unwrap();
    (result, logs)
}

/// Waits until the step's log has a line with `text`.
async fn wait_for_log(runner: &LocalRunner, handle: &StepHandle, text: &str) {
    bounded("waiting for a log line", async {
        loop {
            let logs = runner.logs(handle, 0).await.unwrap();
            if logs.iter().any(|l| l.text == text) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

fn texts(logs: &[LogLine], stream: LogStream) -> Vec<String> {
    logs.iter()
        .filter(|l| l.stream == stream)
        .map(|l| l.text.clone())
        .collect()
}

/// Independent of the runner: can this machine give a process a private /tmp the way the
/// shim does (util-linux `unshare`, as root a mount namespace, otherwise a user namespace
/// too)?
fn namespaces_work(root: &Path) -> bool {
    if root.starts_with("/tmp") {
        return false;
    }
    let probe = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let script = format!(
        "mount --make-rprivate / && mount --bind '{}' /tmp && touch /tmp/probe",
        probe.path().display()
    );
    let flags = if nix::unistd::getuid().is_root() {
        "-m"
    } else {
        "-Urm"
    };
    let status = std::process::Command::new("unshare")
        .args([flags, "sh", "-c", &script])
        .stderr(std::process::Stdio::null())
        .status()
        .expect("this test needs util-linux's `unshare` to decide what to expect");
    status.success() && probe.path().join("probe").exists()
}

const SHARED_TMP_WARNING: &str =
    "fixed /tmp paths are shared between steps (TMPDIR points at the step's own directory)";

fn has_shared_tmp_warning(logs: &[LogLine]) -> bool {
    logs.iter()
        .any(|l| l.stream == LogStream::System && l.text.ends_with(SHARED_TMP_WARNING))
}

#[tokio::test]
async fn results_exit_codes_and_arguments() {
    struct Case {
        step: StepSpec,
        exit: Option<i32>,
        result: &'static str,
        message: &'static str,
    }
    let with_args = |id: &str, script: &str, args: &[&str]| {
        let mut step = sh(id, script);
        step.args = args.iter().map(|s| (*s).to_owned()).collect();
        step
    };
    let with_env = |id: &str, script: &str, env: &[(&str, &str)]| {
        let mut step = sh(id, script);
        step.env = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        step
    };
    let capped = {
        let mut step = sh("capped", "printf 'abcdefgh\\n'");
        step.capture.max_result_bytes = 4;
        step
    };
    let cases = vec![
        Case {
            step: spec("echo", &["echo", "hello world"]),
            exit: Some(0),
            result: "hello world",
            message: "exit code 0",
        },
        Case {
            step: sh("two-newlines", "printf 'a\\n\\n'"),
            exit: Some(0),
            result: "a\n",
            message: "exit code 0",
        },
        Case {
            step: sh("no-newline", "printf 'no newline'"),
            exit: Some(0),
            result: "no newline",
            message: "exit code 0",
        },
        Case {
            step: sh("exit-3", "echo partial; echo oops >&2; exit 3"),
            exit: Some(3),
            result: "partial",
            message: "exit code 3",
        },
        Case {
            step: capped,
            exit: Some(0),
            result: "efgh",
            message: "exit code 0",
        },
        Case {
            step: with_args("args", "printf '%s|' \"$@\"", &["sh", "a", "b c", "$HOME"]),
            exit: Some(0),
            result: "a|b c|$HOME|",
            message: "exit code 0",
        },
        Case {
            step: with_env("env-order", "printf %s \"$X\"", &[("X", "1"), ("X", "2")]),
            exit: Some(0),
            result: "2",
            message: "exit code 0",
        },
        Case {
            step: sh("killed", "kill -9 $$"),
            exit: None,
            result: "",
            message: "killed by signal 9 (SIGKILL)",
        },
    ];
    let fx = fixture();
    let runner = runner(&fx.root, 4);
    for case in cases {
        let (result, _) = run(&runner, &case.step).await;
        let id = &case.step.id;
        assert_eq!(result.exit_code, case.exit, "{id}");
        assert_eq!(result.result, case.result, "{id}");
        assert_eq!(result.message, case.message, "{id}");
        assert_eq!(result.stopped, None, "{id}");
        assert!(result.started_at <= result.finished_at, "{id}");
    }
}

#[tokio::test]
async fn parameters_reach_the_step_as_data() {
    let fx = fixture();
    let marker = fx.shared.join("pwned-XYZ");
    let hostile = format!("'; touch {} #", marker.display());
    let hostile_dq = format!("\"; touch {} #", marker.display());
    let mut step = sh(
        "hostile",
        "printf '%s\\n' \"$MESSAGE\" \"$QUOTED\" \"$1\"; printf %s \"$SUBST\"",
    );
    step.args = vec!["sh".to_owned(), hostile.clone()];
    step.env = vec![
        ("MESSAGE".to_owned(), hostile.clone()),
        ("QUOTED".to_owned(), hostile_dq.clone()),
        (
            "SUBST".to_owned(),
            "$(touch /nonexistent) {{workflow.name}}".to_owned(),
        ),
    ];
    let runner = runner(&fx.root, 1);
    let (result, _) = run(&runner, &step).await;
    assert_eq!(result.exit_code, Some(0));
    assert_eq!(
        result.result,
        format!("{hostile}\n{hostile_dq}\n{hostile}\n$(touch /nonexistent) {{{{workflow.name}}}}")
    );
    assert!(!marker.exists(), "a parameter was run as shell code");
}

#[tokio::test]
async fn script_templates() {
    let cases = [
        (
            "sh-script",
            "sh",
            "echo \"from sh, script $0\" | sed 's#/.*/#/#'\necho \"$GREETING\"\n",
            "from sh, script /script\nhello",
        ),
        (
            "python-script",
            "python3",
            "import os, sys\nprint('from python', sys.argv[0].endswith('/script'))\nprint(os.environ['GREETING'])\n",
            "from python True\nhello",
        ),
    ];
    let fx = fixture();
    let runner = runner(&fx.root, 2);
    for (id, interpreter, source, expected) in cases {
        let mut step = spec(id, &[interpreter]);
        step.script_source = Some(source.to_owned());
        step.env = vec![("GREETING".to_owned(), "hello".to_owned())];
        let (result, logs) = run(&runner, &step).await;
        assert_eq!(result.exit_code, Some(0), "{id}: {logs:?}");
        assert_eq!(result.result, expected, "{id}");
    }
}

/// Two steps in parallel write the same fixed path, as Argo's output-parameter example does,
/// and each reads its own value back as an output parameter. Both have written before either
/// ends, so a shared /tmp would give both the same value.
async fn run_fixed_path_pair(fx: &Fixture, file: &str) -> Vec<(StepResult, Vec<LogLine>)> {
    let runner = Arc::new(runner(&fx.root, 2));
    let mut tasks = Vec::new();
    for (me, other, value) in [("a", "b", "alpha"), ("b", "a", "beta")] {
        let mut step = sh(
            &format!("writer-{me}"),
            &format!(
                "printf '%s\\n' \"$VALUE\" > {file}; touch \"$SHARED/$ME\"; {}; echo \"$TMPDIR\"",
                wait_for("SHARED/$OTHER")
            ),
        );
        step.env = vec![
            ("VALUE".to_owned(), value.to_owned()),
            ("SHARED".to_owned(), fx.shared.display().to_string()),
            ("ME".to_owned(), me.to_owned()),
            ("OTHER".to_owned(), other.to_owned()),
        ];
        step.output_paths = BTreeMap::from([("message".to_owned(), file.to_owned())]);
        let runner = runner.clone();
        tasks.push(tokio::spawn(async move { run(&runner, &step).await }));
    }
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    results
}

#[tokio::test]
async fn fixed_tmp_paths_are_private_to_each_step() {
    let fx = fixture();
    let private = namespaces_work(&fx.root);
    eprintln!("private /tmp expected on this machine: {private}");
    let results = run_fixed_path_pair(&fx, "/tmp/hello_world.txt").await;
    let runner_root = &fx.root;
    for ((result, logs), (id, value)) in results.iter().zip([("a", "alpha"), ("b", "beta")]) {
        assert_eq!(result.exit_code, Some(0), "{id}: {logs:?}");
        if private {
            assert_eq!(result.outputs["message"], Ok(value.to_owned()), "{id}");
            assert_eq!(result.result, "/tmp", "{id}: TMPDIR");
            assert!(!has_shared_tmp_warning(logs), "{id}: {logs:?}");
        } else {
            let tmp = runner_root
                .join("run-1")
                .join(format!("writer-{id}"))
                .join("tmp");
            assert_eq!(result.result, tmp.display().to_string(), "{id}: TMPDIR");
            assert!(has_shared_tmp_warning(logs), "{id}: {logs:?}");
        }
    }
}

#[tokio::test]
async fn a_program_under_tmp_still_runs_behind_a_private_tmp() {
    let fx = fixture();
    let root_under_tmp = std::fs::canonicalize(fx.root.parent().unwrap())
        .unwrap()
        .starts_with("/tmp");
    if root_under_tmp || !namespaces_work(&fx.root) {
        eprintln!("skipped: steps here cannot get a private /tmp");
        return;
    }
    // A compiled program that lives under /tmp, as a `switchyard` built in a checkout there.
    let dir = tempfile::tempdir_in("/tmp").unwrap();
    let program = dir.path().join("echo-copy");
    std::fs::copy("/bin/echo", &program).unwrap();
    let step = spec("under-tmp", &[program.to_str().unwrap(), "still here"]);
    let (result, logs) = run(&runner(&fx.root, 1), &step).await;
    assert_eq!(result.exit_code, Some(0), "{logs:?}");
    assert_eq!(texts(&logs, LogStream::Stdout), ["still here"]);
    assert!(!has_shared_tmp_warning(&logs), "{logs:?}");
}

#[tokio::test]
async fn fixed_tmp_paths_are_shared_with_a_warning_when_the_step_directory_is_under_tmp() {
    let fx = fixture_in(tempfile::tempdir_in("/tmp").unwrap());
    let file = format!("/tmp/switchyard-executor-test-{}.txt", std::process::id());
    let results = run_fixed_path_pair(&fx, &file).await;
    let _ = std::fs::remove_file(&file);
    for ((result, logs), id) in results.iter().zip(["a", "b"]) {
        assert_eq!(result.exit_code, Some(0), "{id}: {logs:?}");
        let warning = format!(
            "warning: /tmp cannot be private because the step directory {} is under /tmp; {SHARED_TMP_WARNING}",
            std::fs::canonicalize(&fx.root)
                .unwrap()
                .join("run-1")
                .join(format!("writer-{id}"))
                .display()
        );
        assert_eq!(logs[0].stream, LogStream::System, "{id}");
        assert_eq!(logs[0].text, warning, "{id}");
        let tmp = fx
            .root
            .join("run-1")
            .join(format!("writer-{id}"))
            .join("tmp");
        assert_eq!(result.result, tmp.display().to_string(), "{id}: TMPDIR");
    }
    // The shared /tmp really is shared: both read whichever value was written last.
    assert_eq!(
        results[0].0.outputs["message"],
        results[1].0.outputs["message"]
    );
}

#[tokio::test]
async fn files_outputs_and_working_directory() {
    let fx = fixture();
    let private = namespaces_work(&fx.root);
    let mut step = sh(
        "files",
        "pwd; cat input.txt; cat nested/deep.txt; printf 'out\\n' > out.txt; mkdir adir",
    );
    step.working_dir = Some("/src/app".to_owned());
    step.files = BTreeMap::from([
        ("input.txt".to_owned(), "from input\n".to_owned()),
        ("nested/deep.txt".to_owned(), "deep\n".to_owned()),
    ]);
    step.output_paths = BTreeMap::from([
        ("out".to_owned(), "out.txt".to_owned()),
        ("missing".to_owned(), "/tmp/never-written.txt".to_owned()),
        ("dir".to_owned(), "adir".to_owned()),
    ]);
    if private {
        // A fixed /tmp input is the step's own too.
        step.files
            .insert("/tmp/in.txt".to_owned(), "private input".to_owned());
        step.command[2].push_str("; echo; cat /tmp/in.txt");
    }
    let runner = runner(&fx.root, 1);
    let (result, logs) = run(&runner, &step).await;
    assert_eq!(result.exit_code, Some(0), "{logs:?}");
    let work = fx.root.join("run-1/files/work/src/app");
    let mut expected = format!("{}\nfrom input\ndeep", work.display());
    if private {
        expected.push_str("\n\nprivate input");
    }
    assert_eq!(result.result, expected);
    let expected_outputs = BTreeMap::from([
        ("out".to_owned(), Ok("out".to_owned())),
        (
            "missing".to_owned(),
            Err("`/tmp/never-written.txt` does not exist".to_owned()),
        ),
        (
            "dir".to_owned(),
            Err("`adir` is a directory, not a file".to_owned()),
        ),
    ]);
    assert_eq!(result.outputs, expected_outputs);
}

#[tokio::test]
async fn a_missing_program_is_a_step_failure() {
    let fx = fixture();
    let runner = runner(&fx.root, 1);
    let (result, logs) = run(&runner, &spec("typo", &["pyhton", "-c", "print(1)"])).await;
    let message = "cannot start `pyhton`: no such file or directory";
    assert_eq!(result.exit_code, None);
    assert_eq!(result.message, message);
    assert_eq!(result.stopped, None);
    assert_eq!(
        texts(&logs, LogStream::System).last().map(String::as_str),
        Some(message)
    );
}

#[tokio::test]
async fn a_timeout_stops_the_step() {
    let fx = fixture();
    let runner = runner(&fx.root, 1);
    let mut step = spec("slow", &["sleep", "600"]);
    step.timeout = Some(Duration::from_secs(1));
    let (result, logs) = run(&runner, &step).await;
    assert_eq!(result.exit_code, None);
    assert_eq!(result.stopped, Some(StopReason::Timeout));
    assert_eq!(
        result.message,
        "timed out after 1s; killed by signal 15 (SIGTERM)"
    );
    assert!(
        texts(&logs, LogStream::System)
            .contains(&"timed out after 1s: sending SIGTERM to the step's processes".to_owned()),
        "{logs:?}"
    );
}

#[tokio::test]
async fn stop_sends_sigterm_then_sigkill_after_the_grace_period() {
    struct Case {
        id: &'static str,
        script: &'static str,
        reason: StopReason,
        grace: Duration,
        exit: Option<i32>,
        message: &'static str,
        system: &'static [&'static str],
    }
    let cases = [
        Case {
            id: "traps-term",
            script: "trap 'echo got TERM; exit 0' TERM; echo ready; while :; do sleep 0.05; done",
            reason: StopReason::Stopped,
            grace: Duration::from_secs(60),
            exit: Some(0),
            message: "stopped on request; exit code 0",
            system: &["stopped on request: sending SIGTERM to the step's processes"],
        },
        Case {
            id: "ignores-term",
            script: "trap '' TERM; echo ready; while :; do sleep 0.05; done",
            reason: StopReason::Terminated,
            grace: Duration::from_secs(1),
            exit: None,
            message: "terminated on request; killed by signal 9 (SIGKILL) after the grace period of 1s",
            system: &[
                "terminated on request: sending SIGTERM to the step's processes",
                "the step did not exit within the grace period of 1s: sending SIGKILL",
            ],
        },
    ];
    let fx = fixture();
    let runner = runner(&fx.root, 2);
    for case in cases {
        let handle = runner.start(&sh(case.id, case.script)).await.unwrap();
        wait_for_log(&runner, &handle, "ready").await;
        bounded("stop", runner.stop(&handle, case.reason, case.grace)).await;
        let result = bounded("wait", runner.wait(&handle)).await.unwrap();
        let logs = runner.logs(&handle, 0).await.unwrap();
        assert_eq!(result.exit_code, case.exit, "{}", case.id);
        assert_eq!(result.stopped, Some(case.reason), "{}", case.id);
        assert_eq!(result.message, case.message, "{}", case.id);
        let system: Vec<String> = texts(&logs, LogStream::System)
            .into_iter()
            .filter(|t| !t.ends_with(SHARED_TMP_WARNING))
            .collect();
        assert_eq!(system, case.system, "{}", case.id);
    }
}

#[tokio::test]
async fn logs_have_streams_and_timestamps() {
    let fx = fixture();
    let runner = runner(&fx.root, 1);
    let before = Utc::now();
    let step = sh(
        "logs",
        "echo out1; echo err1 >&2; echo out2; printf 'no newline' >&2",
    );
    let handle = runner.start(&step).await.unwrap();
    bounded("wait", runner.wait(&handle)).await.unwrap();
    let after = Utc::now();
    let logs: Vec<LogLine> = runner
        .logs(&handle, 0)
        .await
        .unwrap()
        .into_iter()
        .filter(|l| !l.text.ends_with(SHARED_TMP_WARNING))
        .collect();
    assert_eq!(texts(&logs, LogStream::Stdout), ["out1", "out2"]);
    assert_eq!(texts(&logs, LogStream::Stderr), ["err1", "no newline"]);
    assert_eq!(texts(&logs, LogStream::System), Vec::<String>::new());
    for line in &logs {
        assert!(before <= line.time && line.time <= after, "{line:?}");
    }
    for stream in [LogStream::Stdout, LogStream::Stderr] {
        let times: Vec<_> = logs
            .iter()
            .filter(|l| l.stream == stream)
            .map(|l| l.time)
            .collect();
        assert!(
            times.windows(2).all(|w| w[0] <= w[1]),
            "{stream:?} {times:?}"
        );
    }
    // `from` is an index into the whole log.
    let all = runner.logs(&handle, 0).await.unwrap();
    for from in 0..=all.len() + 1 {
        let tail = runner.logs(&handle, from).await.unwrap();
        assert_eq!(tail, all[from.min(all.len())..], "from {from}");
    }
}

#[tokio::test]
async fn the_log_is_capped_per_stream_with_a_notice() {
    let fx = fixture();
    let runner = runner(&fx.root, 1);
    let mut step = sh(
        "capped-log",
        "printf 'aaaa\\naaaa\\naaaa\\naaaa\\naaaa\\n'; echo e >&2; echo tail",
    );
    step.capture.max_log_bytes = 10;
    let (result, logs) = run(&runner, &step).await;
    assert_eq!(
        result.result, "aaaa\naaaa\naaaa\naaaa\naaaa\ntail",
        "the result is not capped by the log limit"
    );
    let lines: Vec<(LogStream, String)> = logs
        .into_iter()
        .filter(|l| !l.text.ends_with(SHARED_TMP_WARNING))
        .map(|l| (l.stream, l.text))
        .collect();
    let stdout: Vec<_> = lines
        .iter()
        .filter(|(s, _)| *s != LogStream::Stderr)
        .cloned()
        .collect();
    assert_eq!(
        stdout,
        vec![
            (LogStream::Stdout, "aaaa".to_owned()),
            (LogStream::Stdout, "aaaa".to_owned()),
            (
                LogStream::System,
                "stdout exceeded the log limit of 10 bytes; further stdout lines are dropped"
                    .to_owned()
            ),
            (
                LogStream::System,
                "stdout: 4 lines dropped (20 bytes) beyond the log limit of 10 bytes".to_owned()
            ),
        ]
    );
    assert_eq!(texts_of(&lines, LogStream::Stderr), ["e"]);
}

fn texts_of(lines: &[(LogStream, String)], stream: LogStream) -> Vec<String> {
    lines
        .iter()
        .filter(|(s, _)| *s == stream)
        .map(|(_, t)| t.clone())
        .collect()
}

#[tokio::test]
async fn a_step_survives_its_runner_and_is_reattached() {
    let fx = fixture();
    let gate = fx.shared.join("gate");
    let mut step = sh("survivor", &format!("{}; echo done", wait_for("GATE")));
    step.env = vec![("GATE".to_owned(), gate.display().to_string())];

    let runner_a = runner(&fx.root, 1);
    let handle = runner_a.start(&step).await.unwrap();
    // A crash of Switchyard: the runner goes away without stopping or waiting.
    drop(runner_a);

    let runner_b = runner(&fx.root, 1);
    assert_eq!(runner_b.reattach(&handle).await, Reattach::Running);
    std::fs::write(&gate, "").unwrap();
    let result = bounded("wait", runner_b.wait(&handle)).await.unwrap();
    assert_eq!(result.exit_code, Some(0));
    assert_eq!(result.result, "done");
    // Once finished, a later re-attach finds the same result.
    assert_eq!(
        runner(&fx.root, 1).reattach(&handle).await,
        Reattach::Finished(result)
    );
}

fn start_time(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 1..];
    after.split_whitespace().nth(19).unwrap().parse().unwrap()
}

#[tokio::test]
async fn reattach_without_result_or_supervisor_is_lost() {
    let fx = fixture();
    let empty_dir = fx.root.join("run-1/empty");
    std::fs::create_dir_all(&empty_dir).unwrap();
    // A process that has ended (and been reaped), with its real identity.
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let gone_pid = gone.id();
    let gone_start = start_time(gone_pid);
    gone.wait().unwrap();
    let me = std::process::id();
    let cases = [
        ("ended process", empty_dir.clone(), gone_pid, gone_start),
        ("recycled pid", empty_dir.clone(), me, start_time(me) + 1),
        (
            "no directory",
            fx.root.join("run-1/none"),
            gone_pid,
            gone_start,
        ),
    ];
    let runner = runner(&fx.root, 1);
    for (name, dir, pid, pid_start_time) in cases {
        let handle = StepHandle {
            id: "x".to_owned(),
            pid,
            pid_start_time,
            dir,
            started_at: Utc::now(),
        };
        assert_eq!(
            runner.reattach(&handle).await,
            Reattach::Lost(LOST_MESSAGE.to_owned()),
            "{name}"
        );
    }
}

#[tokio::test]
async fn at_most_max_parallel_steps_run_at_once() {
    let fx = fixture();
    let running = fx.shared.join("running");
    std::fs::create_dir(&running).unwrap();
    let counts = fx.shared.join("counts");
    let runner = Arc::new(runner(&fx.root, 1));
    let mut tasks = Vec::new();
    for i in 0..4 {
        let mut step = sh(
            &format!("limited-{i}"),
            "touch \"$RUNNING/$ME\"; ls \"$RUNNING\" | wc -l >> \"$COUNTS\"; sleep 0.2; rm \"$RUNNING/$ME\"",
        );
        step.env = vec![
            ("RUNNING".to_owned(), running.display().to_string()),
            ("COUNTS".to_owned(), counts.display().to_string()),
            ("ME".to_owned(), i.to_string()),
        ];
        let runner = runner.clone();
        tasks.push(tokio::spawn(async move { run(&runner, &step).await.0 }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap().exit_code, Some(0));
    }
    let seen: Vec<usize> = std::fs::read_to_string(&counts)
        .unwrap()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    assert_eq!(seen, vec![1, 1, 1, 1], "steps running at the same time");
}

#[tokio::test]
async fn a_slot_is_held_until_wait_collects_the_result() {
    let fx = fixture();
    let runner = Arc::new(runner(&fx.root, 1));
    let order = Arc::new(Mutex::new(Vec::new()));
    let first = runner.start(&sh("first", "echo first")).await.unwrap();
    let second = {
        let (runner, order) = (runner.clone(), order.clone());
        tokio::spawn(async move {
            let handle = runner.start(&sh("second", "echo second")).await.unwrap();
            order.lock().unwrap().push("second started");
            runner.wait(&handle).await.unwrap()
        })
    };
    // Give a runner that wrongly lets the second step start every chance to do so; the
    // first step has long finished by then, but its result has not been collected.
    tokio::time::sleep(Duration::from_millis(500)).await;
    order.lock().unwrap().push("first collected");
    let first = bounded("wait", runner.wait(&first)).await.unwrap();
    let second = bounded("second", second).await.unwrap();
    assert_eq!(
        (first.result.as_str(), second.result.as_str()),
        ("first", "second")
    );
    assert_eq!(
        *order.lock().unwrap(),
        ["first collected", "second started"]
    );
}

#[tokio::test]
async fn starting_the_same_step_twice_runs_it_once() {
    let fx = fixture();
    let gate = fx.shared.join("gate");
    let count = fx.shared.join("count");
    let mut step = sh(
        "once",
        &format!("echo run >> \"$COUNT\"; {}; echo done", wait_for("GATE")),
    );
    step.env = vec![
        ("GATE".to_owned(), gate.display().to_string()),
        ("COUNT".to_owned(), count.display().to_string()),
    ];
    let runner_a = runner(&fx.root, 2);
    let first = runner_a.start(&step).await.unwrap();
    assert_eq!(runner_a.start(&step).await.unwrap(), first, "same runner");
    // A restarted Switchyard that lost the handle starts the step again.
    let runner_b = runner(&fx.root, 2);
    let adopted = runner_b.start(&step).await.unwrap();
    assert_eq!(
        (adopted.pid, adopted.pid_start_time),
        (first.pid, first.pid_start_time)
    );
    std::fs::write(&gate, "").unwrap();
    let result = bounded("wait", runner_a.wait(&first)).await.unwrap();
    assert_eq!(result.result, "done");
    assert_eq!(
        bounded("wait", runner_b.wait(&adopted)).await.unwrap(),
        result
    );
    // And once it has finished, starting it again returns the finished step.
    let runner_c = runner(&fx.root, 2);
    let again = runner_c.start(&step).await.unwrap();
    assert_eq!(
        bounded("wait", runner_c.wait(&again)).await.unwrap(),
        result
    );
    assert_eq!(std::fs::read_to_string(&count).unwrap(), "run\n");
}

#[tokio::test]
async fn cleanup_removes_the_step_directory_and_nothing_else() {
    let fx = fixture();
    let runner = runner(&fx.root, 1);
    let handle = runner.start(&sh("tidy", "echo hi")).await.unwrap();
    bounded("wait", runner.wait(&handle)).await.unwrap();
    assert!(handle.dir.join("result.json").exists());
    runner.cleanup(&handle).await;
    assert!(!handle.dir.exists());
    assert!(
        !fx.root.join("run-1").exists(),
        "the empty run directory goes too"
    );

    let outside = fx.shared.join("keep");
    std::fs::create_dir_all(&outside).unwrap();
    let foreign = StepHandle {
        dir: outside.clone(),
        ..handle
    };
    runner.cleanup(&foreign).await;
    assert!(outside.exists());
}

#[tokio::test]
async fn step_directories_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let fx = fixture();
    let runner = runner(&fx.root, 1);
    let (result, _) = run(&runner, &sh("private", "true")).await;
    assert_eq!(result.exit_code, Some(0));
    let dir = fx.root.join("run-1/private");
    for path in [dir.clone(), dir.join("work"), dir.join("tmp")] {
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{}", path.display());
    }
}
