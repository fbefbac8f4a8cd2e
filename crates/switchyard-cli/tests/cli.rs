//! The real binary: help, offline lint, errors and exit codes, and an end-to-end run against
//! `switchyard up` on a free port with a temporary data directory.

#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_switchyard");

/// Environment variables the CLI reads; tests set what they need and clear the rest.
const ENV: &[&str] = &[
    "SWITCHYARD_SERVER",
    "SWITCHYARD_TOKEN",
    "SWITCHYARD_DATA_DIR",
    "SWITCHYARD_LISTEN",
    "SWITCHYARD_LOG",
    "SWITCHYARD_LOG_FORMAT",
    "XDG_DATA_HOME",
];

/// The binary with a clean environment: HOME in `home`, so no real token file is read.
fn switchyard(home: &Path) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(BIN);
    for var in ENV {
        cmd.env_remove(var);
    }
    cmd.env("HOME", home).current_dir(home);
    cmd
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(cmd: &mut assert_cmd::Command) -> Output {
    let out = cmd.output().unwrap();
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

const GOOD: &str = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  region: eu-west-1
---
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata:
  name: hello
  namespace: team-a
spec:
  entrypoint: main
  templates:
    - name: main
      container:
        image: alpine:3.20
        command: [echo, hello]
";

const SECRET: &str = "\
apiVersion: v1
kind: Secret
metadata:
  name: db
stringData:
  password: hunter2
";

const BAD: &str = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  colour: blue
data:
  region: eu-west-1
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: canary
";

#[test]
fn help_lists_commands_and_examples() {
    let home = tempfile::tempdir().unwrap();
    let out = run(switchyard(home.path()).arg("--help"));
    assert_eq!(out.code, 0);
    for needle in [
        "Usage: switchyard [OPTIONS] <COMMAND>",
        "  up ",
        "  apply ",
        "  get ",
        "  delete ",
        "  lint ",
        "  version ",
        "--server <URL>",
        "[env: SWITCHYARD_SERVER=]",
        "Examples:",
    ] {
        assert!(
            out.stdout.contains(needle),
            "missing {needle:?} in\n{}",
            out.stdout
        );
    }
    for command in ["up", "apply", "get", "delete", "lint"] {
        let out = run(switchyard(home.path()).args([command, "--help"]));
        assert_eq!(out.code, 0, "{command}");
        assert!(
            out.stdout.contains("Examples:\n  switchyard "),
            "{command}:\n{}",
            out.stdout
        );
    }
    // The token's value never shows in help.
    let out = run(switchyard(home.path())
        .env("SWITCHYARD_TOKEN", "syd_secret")
        .arg("--help"));
    assert!(!out.stdout.contains("syd_secret"));

    let out = run(switchyard(home.path()).arg("version"));
    assert_eq!((out.code, out.stdout.as_str()), (0, "switchyard 0.0.0\n"));
}

#[test]
fn lint_reports_every_problem_offline() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("good.yaml"), GOOD).unwrap();
    std::fs::write(home.path().join("bad.yaml"), BAD).unwrap();
    std::fs::write(
        home.path().join("noname.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  labels: {app: x}\n",
    )
    .unwrap();
    let cases: [(&[&str], i32, &str); 5] = [
        (&["-f", "good.yaml"], 0, "2 objects, 0 errors, 0 warnings\n"),
        (
            &["-f", "bad.yaml"],
            1,
            "bad.yaml:5:3: warning: metadata.colour: unknown field `colour` in ObjectMeta; it is ignored\n\
             bad.yaml:10:7: error: kind: unknown kind `Rollout`; Switchyard accepts EventBus, EventSource, Sensor, Workflow, WorkflowTemplate, ClusterWorkflowTemplate, CronWorkflow, Secret, ConfigMap, Offering, Order\n\
             1 object, 1 error, 1 warning\n",
        ),
        (
            &["-f", "good.yaml", "-f", "good.yaml"],
            1,
            "good.yaml:4:9: error: metadata.name: ConfigMap `settings` is defined twice in this request (first in good.yaml document 1)\n\
             good.yaml:11:9: error: metadata.name: WorkflowTemplate `hello` is defined twice in this request (first in good.yaml document 2)\n\
             4 objects, 2 errors, 0 warnings\n",
        ),
        (
            &["-f", "noname.yaml"],
            1,
            "noname.yaml:3:1: error: metadata: needs `name` (or `generateName`, to have a unique name generated)\n\
             1 object, 1 error, 0 warnings\n",
        ),
        (
            &["-f", "missing.yaml"],
            1,
            "missing.yaml: error: cannot read: no such file or directory\n\
             error: cannot read the manifests (1 problem)\n",
        ),
    ];
    for (args, code, stderr) in cases {
        let out = run(switchyard(home.path()).arg("lint").args(args));
        assert_eq!(
            (out.code, out.stderr.as_str(), out.stdout.as_str()),
            (code, stderr, ""),
            "{args:?}"
        );
    }

    let out = run(switchyard(home.path())
        .args(["lint", "-f", "-"])
        .write_stdin(BAD));
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .starts_with("<stdin>:5:3: warning: metadata.colour:"),
        "{}",
        out.stderr
    );
}

#[test]
fn usage_errors_exit_2_and_unreachable_servers_exit_3() {
    let home = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = format!("http://127.0.0.1:{port}");
    let cases: [(&[&str], i32, String); 6] = [
        (&["frobnicate"], 2, "error: unrecognized subcommand 'frobnicate'".to_owned()),
        (&["apply"], 2, "error: the following required arguments were not provided:".to_owned()),
        (
            &["get", "pods"],
            2,
            "error: unknown kind `pods`; Switchyard knows eventbus (eb, eventbuses), eventsources (es), sensors (sn), workflows (wf), workflowtemplates (wftmpl), clusterworkflowtemplates (clusterwftmpl, cwft), cronworkflows (cwf, cronwf), secrets, configmaps (cm), offerings, orders\n".to_owned(),
        ),
        (
            &["get", "cm", "x", "-A"],
            2,
            "error: a single object cannot be fetched across all namespaces; drop -A (use -n NS)\n".to_owned(),
        ),
        (
            &["get", "cm", "--server", "https://example.com"],
            2,
            "error: --server https://example.com: this build of the CLI speaks plain http:// only; reach a TLS server through a local proxy\n".to_owned(),
        ),
        (
            &["get", "cm", "--server", &server],
            3,
            format!("error: cannot reach the Switchyard server at {server}: connection refused; start it with `switchyard up`\n"),
        ),
    ];
    for (args, code, stderr) in cases {
        let out = run(switchyard(home.path()).args(args));
        assert_eq!(out.code, code, "{args:?}: {}", out.stderr);
        assert!(out.stderr.starts_with(&stderr), "{args:?}:\n{}", out.stderr);
        assert_eq!(out.stdout, "", "{args:?}");
    }
}

#[test]
fn up_refuses_a_taken_port() {
    let home = tempfile::tempdir().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let out = run(switchyard(home.path()).args([
        "up",
        "--listen",
        &addr.to_string(),
        "--data-dir",
        "data",
    ]));
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.ends_with(&format!(
            "error: cannot listen on {addr}: address already in use; is another `switchyard up` running? \
             choose another with --listen or SWITCHYARD_LISTEN\n"
        )),
        "{}",
        out.stderr
    );
    // The same through SWITCHYARD_LISTEN.
    let out = run(switchyard(home.path())
        .env("SWITCHYARD_LISTEN", addr.to_string())
        .args(["up", "--data-dir", "data"]));
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("address already in use"),
        "{}",
        out.stderr
    );
}

/// A `switchyard up` child process, stopped with SIGTERM (or killed) when dropped.
struct Up {
    child: Child,
    stderr: PathBuf,
}

impl Up {
    fn start(home: &Path, data_dir: &Path, addr: SocketAddr) -> Up {
        let stderr = home.join("up.stderr");
        let mut cmd = std::process::Command::new(BIN);
        for var in ENV {
            cmd.env_remove(var);
        }
        let child = cmd
            .env("HOME", home)
            .args([
                "--log-format",
                "json",
                "up",
                "--no-platform",
                "--listen",
                &addr.to_string(),
            ])
            .arg("--data-dir")
            .arg(data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        Up { child, stderr }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap()
    }

    /// Polls `/healthz` until it answers `ok`, a bounded number of times.
    fn wait_healthy(&mut self, addr: SocketAddr) {
        for _ in 0..300 {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("switchyard up exited with {status}:\n{}", self.log());
            }
            if healthz(addr).as_deref() == Some("ok") {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("switchyard up did not become healthy:\n{}", self.log());
    }

    /// Sends SIGTERM and waits (bounded) for a clean exit.
    fn stop(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(sent.success());
        for _ in 0..300 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("switchyard up did not stop on SIGTERM:\n{}", self.log());
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The body of `GET /healthz`, or None if the server does not answer 200.
fn healthz(addr: SocketAddr) -> Option<String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_owned())
}

#[test]
fn end_to_end_apply_get_delete() {
    let home = tempfile::tempdir().unwrap();
    let data_dir = home.path().join("data");
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let mut up = Up::start(home.path(), &data_dir, addr);
    up.wait_healthy(addr);

    std::fs::write(home.path().join("good.yaml"), GOOD).unwrap();
    std::fs::write(home.path().join("bad.yaml"), BAD).unwrap();
    let server = format!("http://{addr}");
    let cli = || {
        let mut cmd = switchyard(home.path());
        cmd.env("SWITCHYARD_SERVER", &server)
            .env("SWITCHYARD_DATA_DIR", &data_dir);
        cmd
    };

    // Apply, then apply again: every object unchanged.
    let steps = [
        (
            "configmap/settings created\nworkflowtemplate.argoproj.io/hello created\n",
            false,
        ),
        (
            "configmap/settings unchanged\nworkflowtemplate.argoproj.io/hello unchanged\n",
            false,
        ),
        (
            "configmap/settings unchanged (dry run)\nworkflowtemplate.argoproj.io/hello unchanged (dry run)\n",
            true,
        ),
    ];
    for (stdout, dry_run) in steps {
        let mut cmd = cli();
        cmd.args(["apply", "-f", "good.yaml"]);
        if dry_run {
            cmd.arg("--dry-run");
        }
        let out = run(&mut cmd);
        assert_eq!(
            (out.code, out.stdout.as_str(), out.stderr.as_str()),
            (0, stdout, "")
        );
    }
    let out = run(cli().args(["apply", "-f", "-"]).write_stdin(SECRET));
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "secret/db created\n"),
        "{}",
        out.stderr
    );

    // A bad manifest: located diagnostics on stderr, exit 1, nothing applied.
    let out = run(cli().args(["apply", "-f", "bad.yaml"]));
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (
            1,
            "",
            "bad.yaml:5:3: warning: metadata.colour: unknown field `colour` in ObjectMeta; it is ignored\n\
             bad.yaml:10:7: error: kind: unknown kind `Rollout`; Switchyard accepts EventBus, EventSource, Sensor, Workflow, WorkflowTemplate, ClusterWorkflowTemplate, CronWorkflow, Secret, ConfigMap, Offering, Order\n\
             error: 1 error in the manifests; nothing was applied\n"
        )
    );

    // Get it back in every format.
    let out = run(cli().args(["get", "configmap", "settings", "-o", "json"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let object: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(object["kind"], "ConfigMap");
    assert_eq!(object["metadata"]["name"], "settings");
    assert_eq!(object["metadata"]["namespace"], "default");
    assert_eq!(object["metadata"]["generation"], json!(1));
    assert_eq!(object["data"], json!({"region": "eu-west-1"}));

    let out = run(cli().args(["get", "cm", "settings", "-o", "yaml"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let uid = object["metadata"]["uid"].as_str().unwrap();
    for line in [
        "apiVersion: v1\n",
        "kind: ConfigMap\n",
        "  name: settings\n",
        "  namespace: default\n",
        &format!("  uid: {uid}\n"),
        "data:\n  region: eu-west-1\n",
    ] {
        assert!(
            out.stdout.contains(line),
            "missing {line:?} in\n{}",
            out.stdout
        );
    }

    let out = run(cli().args(["get", "wftmpl", "-A", "-o", "name"]));
    assert_eq!(out.stdout, "workflowtemplate.argoproj.io/hello\n");
    let out = run(cli().args(["get", "workflowtemplates", "-A"]));
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.stdout);
    assert_eq!(lines[0], "NAMESPACE   NAME    AGE");
    assert!(lines[1].starts_with("team-a      hello   "), "{}", lines[1]);
    let out = run(cli().args(["get", "wftmpl"]));
    assert_eq!(
        (out.stdout.as_str(), out.stderr.as_str()),
        ("", "No resources found in default namespace.\n")
    );

    let out = run(cli().args(["get", "secret", "db", "-o", "json"]));
    let secret: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(secret["stringData"], json!({"password": "<redacted>"}));
    let out = run(cli().args(["get", "secret", "db", "-o", "json", "--show-secrets"]));
    let secret: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(secret["stringData"], json!({"password": "hunter2"}));

    // A wrong token is refused with advice.
    let out = run(cli().args(["get", "cm", "--token", "syd_wrong"]));
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        format!(
            "error: the bearer token is not valid (server {server}): the token from --token or SWITCHYARD_TOKEN was refused; check it\n"
        )
    );

    // Delete, then it is gone.
    let out = run(cli().args(["delete", "cm", "settings"]));
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "configmap/settings deleted\n")
    );
    for args in [["get", "cm", "settings"], ["delete", "cm", "settings"]] {
        let out = run(cli().args(args));
        assert_eq!(
            (out.code, out.stdout.as_str(), out.stderr.as_str()),
            (
                1,
                "",
                "error: ConfigMap `settings` in namespace `default` not found\n"
            ),
            "{args:?}"
        );
    }

    // SIGTERM stops it cleanly.
    let status = up.stop();
    assert!(status.success(), "{status}\n{}", up.log());
    let log = up.log();
    assert_eq!(log.matches("Created an admin token").count(), 1, "{log}");
    let token = std::fs::read_to_string(data_dir.join("admin.token")).unwrap();
    assert_eq!(
        log.matches(token.trim()).count(),
        1,
        "the token is printed exactly once"
    );
    let listening = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["message"] == format!("listening on http://{addr}"));
    assert!(listening.is_some(), "no JSON `listening` line in\n{log}");
}

// ---------------------------------------------------------------------------------------------
// Workflow runs: usage errors caught before any request, and the client's side of the wire
// contract against a scripted stand-in for the server.

#[test]
fn run_commands_have_help_with_examples() {
    let home = tempfile::tempdir().unwrap();
    let out = run(switchyard(home.path()).arg("--help"));
    for command in [
        "  submit ",
        "  list ",
        "  watch ",
        "  wait ",
        "  logs ",
        "  suspend ",
        "  resume ",
        "  stop ",
        "  terminate ",
        "  retry ",
        "  resubmit ",
        "  node ",
    ] {
        assert!(
            out.stdout.contains(command),
            "missing {command:?} in\n{}",
            out.stdout
        );
    }
    for command in [
        &["submit"][..],
        &["list"],
        &["ls"],
        &["watch"],
        &["wait"],
        &["logs"],
        &["suspend"],
        &["resume"],
        &["stop"],
        &["terminate"],
        &["retry"],
        &["resubmit"],
        &["node", "set"],
    ] {
        let out = run(switchyard(home.path()).args(command).arg("--help"));
        assert_eq!(out.code, 0, "{command:?}");
        assert!(
            out.stdout.contains("Examples:\n  switchyard "),
            "{command:?}:\n{}",
            out.stdout
        );
    }
    let out = run(switchyard(home.path()).args(["submit", "--help"]));
    assert!(
        out.stdout.contains("exits 1 if any ended Failed or Error"),
        "{}",
        out.stdout
    );
}

#[test]
fn run_commands_reject_bad_usage_before_any_request() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("wf.yaml"), "kind: Workflow\n").unwrap();
    // No server listens here: each case must fail before connecting.
    let server = format!("http://127.0.0.1:{}", free_port());
    let cases: &[(&[&str], &str)] = &[
        (
            &["submit", "wf.yaml", "-p", "verbose"],
            "`verbose` has no `=`; write NAME=VALUE",
        ),
        (
            &["submit", "wf.yaml", "-p", "=x"],
            "`=x` has no name before `=`; write NAME=VALUE",
        ),
        (
            &["submit", "--from", "pods/x"],
            "unknown kind `pods`; expected workflowtemplate/NAME (wftmpl), clusterworkflowtemplate/NAME (cwft) or cronworkflow/NAME (cwf)",
        ),
        (
            &["submit", "--from", "sensor/x"],
            "runs cannot be submitted from a Sensor",
        ),
        (&["submit", "--from", "wftmpl"], "`wftmpl` names no kind"),
        (
            &["submit", "--from", "wftmpl/"],
            "`wftmpl/` has no valid name",
        ),
        (
            &["submit"],
            "the following required arguments were not provided",
        ),
        (
            &["submit", "wf.yaml", "--from", "wftmpl/x"],
            "cannot be used with",
        ),
        (
            &["submit", "wf.yaml", "--dry-run", "--watch"],
            "cannot be used with",
        ),
        (
            &["submit", "wf.yaml", "--watch", "--wait"],
            "cannot be used with",
        ),
        (
            &["submit", "wf.yaml", "--name", "a", "--generate-name", "b-"],
            "cannot be used with",
        ),
        (
            &["submit", "wf.yaml", "-l", "team"],
            "`team` is not a label; write KEY=VALUE",
        ),
        (
            &["list", "--status", "Running,Done"],
            "unknown status `Done`",
        ),
        (&["list", "-l", "=x"], "has no valid key"),
        (&["list", "--running", "--completed"], "cannot be used with"),
        (
            &["list", "--since", "yesterday"],
            "unable to parse `yesterday` as a duration",
        ),
        (
            &["retry", "x", "--restart-successful"],
            "--node-field-selector",
        ),
        (
            &["resume", "x", "--node-field-selector", "colour=blue"],
            "unknown field `colour`",
        ),
        (
            &["node", "set", "x", "--node-field-selector", "displayName=a"],
            "the following required arguments were not provided",
        ),
        (
            &["node", "set", "x", "--message", "m"],
            "--node-field-selector",
        ),
        (
            &[
                "node",
                "set",
                "x",
                "--node-field-selector",
                "displayName=a",
                "-p",
                "x",
            ],
            "`x` has no `=`",
        ),
        (
            &["get", "sensors", "--node-field-selector", "phase=Failed"],
            "--node-field-selector applies to one workflow",
        ),
        (
            &["suspend"],
            "the following required arguments were not provided",
        ),
    ];
    for (args, needle) in cases {
        let out = run(switchyard(home.path())
            .args(*args)
            .args(["--server", &server]));
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains(needle),
            "{args:?}: want {needle:?} in\n{}",
            out.stderr
        );
        assert_eq!(out.stdout, "", "{args:?}");
    }
    // A file that cannot be read is reported before any request too.
    let out = run(switchyard(home.path()).args(["submit", "missing.yaml", "--server", &server]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.starts_with("missing.yaml: error: cannot read"),
        "{}",
        out.stderr
    );
    // And an unreachable server is exit 3.
    let out = run(switchyard(home.path()).args(["list", "--server", &server]));
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr.contains("cannot reach the Switchyard server"),
        "{}",
        out.stderr
    );
}

/// One request the stand-in server received.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    target: String,
    body: String,
}

/// What the stand-in answers: status and body.
type Answer = (u16, String);

/// A scripted HTTP server on a free port. `answer` gets each request and how many earlier
/// requests had the same method and target. Every answer closes the connection.
struct Stub {
    addr: SocketAddr,
    seen: std::sync::Arc<std::sync::Mutex<Vec<Seen>>>,
}

impl Stub {
    fn start(answer: impl Fn(&Seen, usize) -> Answer + Send + Sync + 'static) -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Seen>::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let Some(request) = read_request(&mut stream) else {
                    continue;
                };
                let earlier = {
                    let mut log = log.lock().unwrap();
                    let n = log
                        .iter()
                        .filter(|s| s.method == request.method && s.target == request.target)
                        .count();
                    log.push(request.clone());
                    n
                };
                let (status, body) = answer(&request, earlier);
                let head = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(body.as_bytes());
            }
        });
        Stub { addr, seen }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn read_request(stream: &mut TcpStream) -> Option<Seen> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut buffer = Vec::new();
    let mut byte = [0u8; 1];
    while !buffer.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).ok()? == 0 {
            return None;
        }
        buffer.push(byte[0]);
    }
    let head = String::from_utf8(buffer).ok()?;
    let mut lines = head.lines();
    let mut first = lines.next()?.split(' ');
    let (method, target) = (first.next()?.to_owned(), first.next()?.to_owned());
    let length = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).ok()?;
    Some(Seen {
        method,
        target,
        body: String::from_utf8(body).ok()?,
    })
}

fn workflow_object(name: &str, status: Value) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": name, "namespace": "default", "uid": "u",
                     "creationTimestamp": "2026-06-01T11:00:00Z"},
        "spec": {"entrypoint": "main"},
        "status": status
    })
}

fn running_status() -> Value {
    json!({
        "phase": "Running", "progress": "0/1", "startedAt": "2026-06-01T11:00:00Z",
        "nodes": {
            "hello-abcde": {"id": "hello-abcde", "name": "hello-abcde", "displayName": "hello-abcde",
                            "type": "Steps", "phase": "Running", "templateName": "main",
                            "startedAt": "2026-06-01T11:00:00Z", "children": ["hello-abcde-1"]},
            "hello-abcde-1": {"id": "hello-abcde-1", "name": "hello-abcde[0].build", "displayName": "build",
                              "type": "Pod", "phase": "Running", "templateName": "make",
                              "boundaryID": "hello-abcde", "startedAt": "2026-06-01T11:00:01Z"}
        }
    })
}

fn failed_status() -> Value {
    let mut status = running_status();
    status["phase"] = json!("Failed");
    status["message"] = json!("boom");
    status["progress"] = json!("1/1");
    status["finishedAt"] = json!("2026-06-01T11:00:09Z");
    status["nodes"]["hello-abcde"]["phase"] = json!("Failed");
    status["nodes"]["hello-abcde-1"]["phase"] = json!("Failed");
    status["nodes"]["hello-abcde-1"]["message"] = json!("exit code 2");
    status["nodes"]["hello-abcde-1"]["finishedAt"] = json!("2026-06-01T11:00:09Z");
    status
}

#[test]
fn submit_sends_the_contract_and_wait_exits_1_on_failure() {
    let stub = Stub::start(|seen, earlier| {
        match (seen.method.as_str(), seen.target.as_str()) {
            ("POST", "/api/v1/namespaces/team-a/workflows") => (
                200,
                json!({"items": [workflow_object("hello-abcde", json!(null))],
                       "diagnostics": [{"severity": "warning", "message": "unused", "path": "spec.x"}]})
                .to_string(),
            ),
            ("GET", "/api/v1/namespaces/team-a/workflows/hello-abcde") => {
                let status = if earlier == 0 { running_status() } else { failed_status() };
                (200, workflow_object("hello-abcde", status).to_string())
            }
            _ => (404, json!({"message": "no route", "code": "not_found", "type": "invalid_request"}).to_string()),
        }
    });
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("wf.yaml"), "kind: Workflow\n").unwrap();
    let out = run(switchyard(home.path()).args([
        "submit",
        "wf.yaml",
        "-n",
        "team-a",
        "-p",
        "greeting=hi there",
        "--parameter",
        "n=1",
        "-l",
        "team=a,tier=web",
        "--entrypoint",
        "main",
        "--generate-name",
        "hello-",
        "--wait",
        "--server",
        &stub.url(),
    ]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stdout.starts_with("Name:                hello-abcde\nNamespace:           default\nStatus:              Pending\n"), "{}", out.stdout);
    assert!(
        out.stdout
            .ends_with("\nhello-abcde Failed at 2026-06-01T11:00:09Z\n"),
        "{}",
        out.stdout
    );
    assert_eq!(
        out.stderr,
        "warning: spec.x: unused\nerror: workflow hello-abcde ended Failed: boom\n"
    );
    let seen = stub.seen();
    let post = &seen[0];
    assert_eq!(
        (post.method.as_str(), post.target.as_str()),
        ("POST", "/api/v1/namespaces/team-a/workflows")
    );
    let body: Value = serde_json::from_str(&post.body).unwrap();
    assert_eq!(
        body,
        json!({
            "source": {"name": "wf.yaml", "content": "kind: Workflow\n"},
            "parameters": ["greeting=hi there", "n=1"],
            "entrypoint": "main",
            "generateName": "hello-",
            "labels": {"team": "a", "tier": "web"}
        })
    );
}

#[test]
fn submit_prints_server_diagnostics_like_apply() {
    let stub = Stub::start(|_, _| {
        (
            422,
            json!({"message": "1 error in the manifests; nothing was submitted", "code": "invalid_manifest",
                   "type": "invalid_request",
                   "diagnostics": [{"severity": "error", "message": "template `mian` not found",
                                    "file": "wf.yaml", "line": 4, "column": 15, "path": "spec.entrypoint"}]})
            .to_string(),
        )
    });
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("wf.yaml"), "kind: Workflow\n").unwrap();
    let out = run(switchyard(home.path()).args(["submit", "wf.yaml", "--server", &stub.url()]));
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (
            1,
            "",
            "wf.yaml:4:15: error: spec.entrypoint: template `mian` not found\n\
             error: 1 error in the manifests; nothing was submitted\n"
        )
    );
}

#[test]
fn several_files_are_all_checked_before_any_is_submitted() {
    let stub = Stub::start(|seen, _| {
        let body: Value = serde_json::from_str(&seen.body).unwrap();
        if body["source"]["name"] == "b.yaml" {
            return (
                422,
                json!({"message": "bad", "code": "invalid_manifest", "type": "invalid_request"})
                    .to_string(),
            );
        }
        (
            200,
            json!({"items": [workflow_object("a", json!(null))], "dryRun": body["dryRun"]})
                .to_string(),
        )
    });
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("a.yaml"), "kind: Workflow\n").unwrap();
    std::fs::write(home.path().join("b.yaml"), "kind: Workflow\n").unwrap();
    let out =
        run(switchyard(home.path()).args(["submit", "a.yaml", "b.yaml", "--server", &stub.url()]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    let bodies: Vec<Value> = stub
        .seen()
        .iter()
        .map(|s| serde_json::from_str(&s.body).unwrap())
        .collect();
    assert_eq!(bodies.len(), 2);
    assert!(
        bodies.iter().all(|b| b["dryRun"] == json!(true)),
        "{bodies:?}"
    );
}

#[test]
fn actions_put_to_their_urls_and_confirm() {
    let stub = Stub::start(|seen, _| {
        if seen.target.ends_with("/resubmit") {
            return (200, workflow_object("hello-fresh", json!(null)).to_string());
        }
        (
            200,
            workflow_object("hello-abcde", running_status()).to_string(),
        )
    });
    let home = tempfile::tempdir().unwrap();
    let cases: &[(&[&str], &str, &str, Value)] = &[
        (
            &["suspend", "hello-abcde"],
            "workflow hello-abcde suspended\n",
            "suspend",
            json!({}),
        ),
        (
            &[
                "resume",
                "hello-abcde",
                "--node-field-selector",
                "displayName=approve",
                "--message",
                "ok",
            ],
            "workflow hello-abcde resumed\n",
            "resume",
            json!({"nodeFieldSelector": "displayName=approve", "message": "ok"}),
        ),
        (
            &["stop", "hello-abcde", "--message", "wrong branch"],
            "workflow hello-abcde stopped\n",
            "stop",
            json!({"message": "wrong branch"}),
        ),
        (
            &["terminate", "hello-abcde"],
            "workflow hello-abcde terminated\n",
            "terminate",
            json!({}),
        ),
        (
            &[
                "node",
                "set",
                "hello-abcde",
                "--node-field-selector",
                "displayName=approve",
                "--output-parameter",
                "choice=\"blue green\"",
                "-m",
                "picked",
            ],
            "workflow hello-abcde values set\n",
            "set",
            json!({"nodeFieldSelector": "displayName=approve", "message": "picked", "parameters": ["choice=blue green"]}),
        ),
        (
            &[
                "retry",
                "hello-abcde",
                "--node-field-selector",
                "displayName=build",
                "--restart-successful",
                "-o",
                "name",
            ],
            "hello-abcde\n",
            "retry",
            json!({"nodeFieldSelector": "displayName=build", "restartSuccessful": true}),
        ),
        (
            &["resubmit", "hello-abcde", "-p", "a=b", "-o", "name"],
            "hello-fresh\n",
            "resubmit",
            json!({"parameters": ["a=b"]}),
        ),
    ];
    for (i, (args, stdout, action, body)) in cases.iter().enumerate() {
        let out = run(switchyard(home.path())
            .args(*args)
            .args(["--server", &stub.url()]));
        assert_eq!(
            (out.code, out.stdout.as_str(), out.stderr.as_str()),
            (0, *stdout, ""),
            "{args:?}"
        );
        let seen = &stub.seen()[i];
        assert_eq!(seen.method, "PUT", "{args:?}");
        assert_eq!(
            seen.target,
            format!("/api/v1/namespaces/default/workflows/hello-abcde/{action}")
        );
        assert_eq!(
            serde_json::from_str::<Value>(&seen.body).unwrap(),
            *body,
            "{args:?}"
        );
    }
}

#[test]
fn logs_stream_with_step_prefixes() {
    let stub = Stub::start(|seen, _| {
        if seen
            .target
            .starts_with("/api/v1/namespaces/default/workflows/hello-abcde/log")
        {
            let line = |stream: &str, text: &str| {
                json!({"nodeId": "hello-abcde-1", "nodeName": "hello-abcde[0].build",
                       "time": "2026-06-01T11:00:02.000000001Z", "stream": stream, "text": text})
                .to_string()
            };
            let body = format!(
                "{}\n{}\nnot json\n{}",
                line("stdout", "compiling"),
                line("stderr", "warning: slow"),
                line("system", "stopped: timeout")
            );
            return (200, body);
        }
        (
            200,
            workflow_object("hello-abcde", running_status()).to_string(),
        )
    });
    let home = tempfile::tempdir().unwrap();
    let out = run(switchyard(home.path()).args([
        "logs",
        "hello-abcde",
        "build",
        "--server",
        &stub.url(),
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "build: compiling\nbuild: warning: slow\nbuild: [stopped: timeout]\n"
    );
    assert!(
        out.stderr
            .starts_with("warning: skipping log lines this CLI cannot read"),
        "{}",
        out.stderr
    );
    let seen = stub.seen();
    assert_eq!(
        seen[1].target,
        "/api/v1/namespaces/default/workflows/hello-abcde/log?step=build"
    );

    let out = run(switchyard(home.path()).args([
        "logs",
        "hello-abcde",
        "hello-abcde[0].build",
        "-f",
        "--no-prefix",
        "--timestamps",
        "--server",
        &stub.url(),
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .starts_with("2026-06-01T11:00:02.000000001Z compiling\n"),
        "{}",
        out.stdout
    );
    assert_eq!(
        stub.seen().last().unwrap().target,
        "/api/v1/namespaces/default/workflows/hello-abcde/log?step=hello-abcde%5B0%5D.build&follow=true"
    );

    let out = run(switchyard(home.path()).args([
        "logs",
        "hello-abcde",
        "deploy",
        "--server",
        &stub.url(),
    ]));
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        "error: workflow hello-abcde has no step `deploy` (give a node id, node name or display name; \
         `switchyard get workflow hello-abcde` lists them)\n"
    );
}

#[test]
fn list_and_get_show_argo_views() {
    // The runs come in two pages: the CLI follows `metadata.continue`.
    let stub = Stub::start(|seen, _| {
        if seen.target == "/api/v1/namespaces/default/workflows?limit=500" {
            let mut old = workflow_object("old-one", failed_status());
            old["metadata"]["creationTimestamp"] = json!("2026-05-01T00:00:00Z");
            let list = json!({"apiVersion": "v1", "kind": "List",
                "metadata": {"continue": "next+page/1"}, "items": [old]});
            return (200, list.to_string());
        }
        if seen.target == "/api/v1/namespaces/default/workflows?limit=500&continue=next%2Bpage%2F1"
        {
            let list = json!({"apiVersion": "v1", "kind": "List", "items": [
                workflow_object("hello-abcde", running_status())
            ]});
            return (200, list.to_string());
        }
        if seen
            .target
            .starts_with("/api/v1/namespaces/default/workflows?")
        {
            return (
                400,
                json!({"message": format!("unexpected {}", seen.target)}).to_string(),
            );
        }
        (
            200,
            workflow_object("hello-abcde", failed_status()).to_string(),
        )
    });
    let home = tempfile::tempdir().unwrap();
    let out = run(switchyard(home.path()).args(["list", "--server", &stub.url()]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["NAME", "STATUS", "AGE", "DURATION", "PROGRESS", "MESSAGE"]
    );
    assert!(
        lines[1].starts_with("hello-abcde   Running "),
        "{}",
        out.stdout
    );
    assert!(
        lines[2].starts_with("old-one       Failed "),
        "{}",
        out.stdout
    );
    assert!(lines[2].ends_with("1/1        boom"), "{}", out.stdout);

    let out = run(switchyard(home.path()).args([
        "ls",
        "--status",
        "failed",
        "-o",
        "name",
        "--server",
        &stub.url(),
    ]));
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "old-one\n"),
        "{}",
        out.stderr
    );
    let out = run(switchyard(home.path()).args([
        "list",
        "--status",
        "Succeeded",
        "--server",
        &stub.url(),
    ]));
    assert_eq!(
        (out.stdout.as_str(), out.stderr.as_str()),
        ("", "No workflows found in default namespace.\n")
    );

    let out = run(switchyard(home.path()).args(["get", "wf", "--server", &stub.url()]));
    assert!(
        out.stdout
            .lines()
            .next()
            .unwrap()
            .starts_with("NAME          STATUS"),
        "{}",
        out.stdout
    );

    let out = run(switchyard(home.path()).args([
        "get",
        "workflow",
        "hello-abcde",
        "--server",
        &stub.url(),
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.starts_with("Name:                hello-abcde\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("\nStatus:              Failed\nMessage:             boom\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.ends_with(
            "\nSTEP            TEMPLATE  ID             DURATION  MESSAGE\n \
             ✖ hello-abcde  main\n \
             └─✖ build      make      hello-abcde-1  8s        exit code 2\n"
        ),
        "{}",
        out.stdout
    );

    // `watch` on a run that already ended prints it once and exits 1.
    let out = run(switchyard(home.path()).args(["watch", "hello-abcde", "--server", &stub.url()]));
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.starts_with("Name:                hello-abcde\n"),
        "{}",
        out.stdout
    );
    assert_eq!(
        out.stderr,
        "error: workflow hello-abcde ended Failed: boom\n"
    );
}
