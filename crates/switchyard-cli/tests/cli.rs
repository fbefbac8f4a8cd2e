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
             bad.yaml:10:7: error: kind: unknown kind `Rollout`; Switchyard accepts EventBus, EventSource, Sensor, Workflow, WorkflowTemplate, ClusterWorkflowTemplate, CronWorkflow, Secret, ConfigMap\n\
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
            "error: unknown kind `pods`; Switchyard knows eventbus (eb, eventbuses), eventsources (es), sensors (sn), workflows (wf), workflowtemplates (wftmpl), clusterworkflowtemplates (clusterwftmpl, cwft), cronworkflows (cwf, cronwf), secrets, configmaps (cm)\n".to_owned(),
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
            .args(["--log-format", "json", "up", "--listen", &addr.to_string()])
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
             bad.yaml:10:7: error: kind: unknown kind `Rollout`; Switchyard accepts EventBus, EventSource, Sensor, Workflow, WorkflowTemplate, ClusterWorkflowTemplate, CronWorkflow, Secret, ConfigMap\n\
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
