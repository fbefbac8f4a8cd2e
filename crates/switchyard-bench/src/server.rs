//! A `switchyard up` process started for one measurement, and the few API calls the
//! benchmarks make to it.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};

/// How long `switchyard up` may take to say where it listens.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a stopped server may take to exit after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// A running `switchyard up`, killed when dropped.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The admin token from `<data dir>/admin.token`.
    pub token: String,
    /// Where its stderr goes.
    pub log: PathBuf,
}

impl Server {
    /// Starts `binary up` on a free port of 127.0.0.1 with `data_dir` (created if missing)
    /// and the default log level, writing its stderr to `log`, and waits until it announces
    /// its address.
    pub fn start(binary: &Path, data_dir: &Path, log: &Path) -> Result<Server> {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating the data directory {}", data_dir.display()))?;
        let mut log_file = File::create(log)
            .with_context(|| format!("creating the log file {}", log.display()))?;
        let mut child = Command::new(binary)
            .args(["up", "--listen", "127.0.0.1:0", "--log-format", "text"])
            .env("SWITCHYARD_DATA_DIR", data_dir)
            .env_remove("SWITCHYARD_TOKEN")
            .env_remove("SWITCHYARD_LISTEN")
            .env_remove("SWITCHYARD_LOG")
            .env_remove("SWITCHYARD_LOG_FORMAT")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting `{} up`", binary.display()))?;
        let stderr = child
            .stderr
            .take()
            .ok_or_else(|| anyhow!("the server's stderr was not captured"))?;
        let (tx, rx) = mpsc::channel();
        // Drains stderr for the server's whole life (a full pipe would stall it) into the log.
        std::thread::spawn(move || {
            let mut announced = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if !announced && let Some(url) = announced_url(&line) {
                    let _ = tx.send(url);
                    announced = true;
                }
                let _ = writeln!(log_file, "{line}");
            }
        });
        let url = match rx.recv_timeout(START_TIMEOUT) {
            Ok(url) => url,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                let why = match e {
                    mpsc::RecvTimeoutError::Timeout => {
                        format!("did not say where it listens within {START_TIMEOUT:?}")
                    }
                    mpsc::RecvTimeoutError::Disconnected => {
                        "exited before saying where it listens".to_string()
                    }
                };
                bail!(
                    "`{} up` {why}; its log is {}",
                    binary.display(),
                    log.display()
                );
            }
        };
        let token_path = data_dir.join("admin.token");
        let token = std::fs::read_to_string(&token_path)
            .with_context(|| format!("reading the admin token {}", token_path.display()))?
            .trim()
            .to_string();
        Ok(Server {
            child,
            url,
            token,
            log: log.to_path_buf(),
        })
    }

    /// CPU time (user + system) the server process has used so far; its step supervisors are
    /// processes of their own and not included.
    pub fn cpu_time(&self) -> Result<Duration> {
        let path = format!("/proc/{}/stat", self.child.id());
        let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        cpu_time_of_stat(&stat).ok_or_else(|| anyhow!("{path} has no utime/stime fields"))
    }

    /// SIGTERM, then SIGKILL if it has not exited within a few seconds.
    pub fn stop(mut self) -> Result<()> {
        let pid = i32::try_from(self.child.id()).context("the server's pid is out of range")?;
        kill(Pid::from_raw(pid), Signal::SIGTERM).context("sending SIGTERM to the server")?;
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The address in the server's "listening on http://ADDR" log line.
fn announced_url(line: &str) -> Option<String> {
    let at = line.find("listening on http://")?;
    let rest = &line[at + "listening on ".len()..];
    rest.split_whitespace().next().map(str::to_string)
}

/// User + system CPU time from the text of `/proc/PID/stat` (fields 14 and 15, in clock ticks
/// of 1/100 s, the fixed USER_HZ of Linux's user ABI).
fn cpu_time_of_stat(stat: &str) -> Option<Duration> {
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

/// The control API of one server.
pub struct Api {
    http: reqwest::Client,
    url: String,
    token: String,
}

impl Api {
    pub fn new(server: &Server) -> Api {
        Api {
            http: reqwest::Client::new(),
            url: server.url.clone(),
            token: server.token.clone(),
        }
    }

    /// Submits the Workflow manifest `content`; the name of the run it created.
    pub async fn submit(&self, file_name: &str, content: &str) -> Result<String> {
        let resp = self
            .http
            .post(format!("{}/api/v1/namespaces/default/workflows", self.url))
            .bearer_auth(&self.token)
            .json(&json!({"source": {"name": file_name, "content": content}}))
            .send()
            .await
            .context("submitting the workflow")?;
        let status = resp.status();
        let body = resp.text().await.context("reading the submit answer")?;
        if status != reqwest::StatusCode::CREATED {
            bail!("submitting {file_name} answered {status}: {body}");
        }
        let answer: Value = serde_json::from_str(&body)
            .with_context(|| format!("the submit answer is not JSON: {body}"))?;
        answer["items"][0]["metadata"]["name"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| anyhow!("the submit answer names no run: {body}"))
    }

    /// The run `name` as a Workflow object.
    pub async fn run(&self, name: &str) -> Result<Value> {
        let resp = self
            .http
            .get(format!(
                "{}/api/v1/namespaces/default/workflows/{name}",
                self.url
            ))
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("reading run {name}"))?;
        let status = resp.status();
        if !status.is_success() {
            let body = resp.text().await.unwrap_or_default();
            bail!("reading run {name} answered {status}: {body}");
        }
        resp.json()
            .await
            .with_context(|| format!("run {name}: the answer is not JSON"))
    }

    /// The text of `/metrics`.
    pub async fn metrics(&self) -> Result<String> {
        let resp = self
            .http
            .get(format!("{}/metrics", self.url))
            .send()
            .await
            .context("reading /metrics")?;
        let status = resp.status();
        if !status.is_success() {
            bail!("/metrics answered {status}");
        }
        resp.text().await.context("reading /metrics")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_comes_from_the_listening_line() {
        let line = "2026-01-01T00:00:00Z  INFO switchyard_server: listening on http://127.0.0.1:4711 data_dir=/x";
        assert_eq!(
            announced_url(line).as_deref(),
            Some("http://127.0.0.1:4711")
        );
        assert_eq!(announced_url("INFO starting"), None);
    }

    #[test]
    fn cpu_time_counts_user_and_system_ticks() {
        // Field 2 with a space and a parenthesis; utime 150, stime 25.
        let stat = "42 (a b) c) S 1 42 42 0 -1 4194560 100 0 0 0 150 25 0 0 20 0 4 0 100";
        assert_eq!(cpu_time_of_stat(stat), Some(Duration::from_millis(1750)));
        assert_eq!(cpu_time_of_stat("42 (x) S 1"), None);
    }

    #[test]
    fn this_process_has_a_readable_cpu_time() {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
        assert!(cpu_time_of_stat(&stat).is_some());
    }
}
