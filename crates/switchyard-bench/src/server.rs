//! A `switchyard up` process started for one measurement, and the few API calls the
//! benchmarks make to it.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
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
    /// Starts `binary up --no-platform` on a free port of 127.0.0.1 with `data_dir` (created
    /// if missing) and the default log level, writing its stderr to `log`, and waits until it
    /// announces its address.
    pub fn start(binary: &Path, data_dir: &Path, log: &Path) -> Result<Server> {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating the data directory {}", data_dir.display()))?;
        let mut log_file = File::create(log)
            .with_context(|| format!("creating the log file {}", log.display()))?;
        let mut child = Command::new(binary)
            .args([
                "up",
                "--listen",
                "127.0.0.1:0",
                "--log-format",
                "text",
                "--no-platform",
            ])
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
        Ok(Server {
            child,
            url,
            token: read_token(data_dir)?,
            log: log.to_path_buf(),
        })
    }

    /// Starts `switchyard up` as `launch` says, on a free port of 127.0.0.1 chosen here, with
    /// its stderr going straight to the log file, and waits until `GET /healthz` answers 200.
    /// Also returns the time from just before the process was spawned to that answer.
    pub fn launch(launch: &Launch<'_>) -> Result<(Server, Duration)> {
        std::fs::create_dir_all(launch.data_dir).with_context(|| {
            format!("creating the data directory {}", launch.data_dir.display())
        })?;
        let mut last_error = None;
        // The port is free when chosen, but another process may take it before the server
        // binds it: try again with another.
        for _ in 0..3 {
            match launch_once(launch) {
                Ok(started) => return Ok(started),
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow!("the server did not start")))
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's resident memory now and at its peak.
    pub fn memory(&self) -> Result<Memory> {
        let path = format!("/proc/{}/status", self.child.id());
        let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        memory_of_status(&status).ok_or_else(|| anyhow!("{path} has no VmRSS/VmHWM lines"))
    }

    /// CPU time (user + system) the server process has used so far; its step supervisors are
    /// processes of their own and not included.
    pub fn cpu_time(&self) -> Result<Duration> {
        cpu_time_of(self.child.id())
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

/// How to start a server with [`Server::launch`].
pub struct Launch<'a> {
    pub binary: &'a Path,
    pub data_dir: &'a Path,
    /// Where its stderr goes (appended).
    pub log: &'a Path,
    /// More arguments for `up` (the distributed backends).
    pub args: &'a [String],
    /// Serve the platform in this directory (`--platform DIR`); `--no-platform` without it.
    pub platform: Option<&'a Path>,
    /// The server's log filter (`SWITCHYARD_LOG`); its default level without it.
    pub log_filter: Option<&'a str>,
}

fn launch_once(launch: &Launch<'_>) -> Result<(Server, Duration)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .context("finding a free port")?
        .port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let log_file = File::options()
        .create(true)
        .append(true)
        .open(launch.log)
        .with_context(|| format!("opening the log file {}", launch.log.display()))?;
    let mut command = Command::new(launch.binary);
    command
        .args(["up", "--listen", &addr.to_string(), "--log-format", "text"])
        .args(launch.args);
    match launch.platform {
        Some(dir) => command.arg("--platform").arg(dir),
        None => command.arg("--no-platform"),
    };
    command
        .env("SWITCHYARD_DATA_DIR", launch.data_dir)
        .env_remove("SWITCHYARD_TOKEN")
        .env_remove("SWITCHYARD_LISTEN")
        .env_remove("SWITCHYARD_LOG")
        .env_remove("SWITCHYARD_LOG_FORMAT")
        .env_remove("SWITCHYARD_DATABASE_URL")
        .env_remove("SWITCHYARD_NATS_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log_file));
    if let Some(filter) = launch.log_filter {
        command.env("SWITCHYARD_LOG", filter);
    }
    let started = Instant::now();
    let mut child = command
        .spawn()
        .with_context(|| format!("starting `{} up`", launch.binary.display()))?;
    let deadline = started + START_TIMEOUT;
    loop {
        if healthz(addr) {
            break;
        }
        if let Some(status) = child.try_wait()? {
            bail!(
                "`{} up` exited ({status}) before answering on {addr}; its log is {}",
                launch.binary.display(),
                launch.log.display()
            );
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "`{} up` did not answer GET /healthz on {addr} within {START_TIMEOUT:?}; its log is {}",
                launch.binary.display(),
                launch.log.display()
            );
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let ready = started.elapsed();
    let token = match read_token(launch.data_dir) {
        Ok(token) => token,
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
    };
    Ok((
        Server {
            child,
            url: format!("http://{addr}"),
            token,
            log: launch.log.to_path_buf(),
        },
        ready,
    ))
}

fn read_token(data_dir: &Path) -> Result<String> {
    let token_path = data_dir.join("admin.token");
    Ok(std::fs::read_to_string(&token_path)
        .with_context(|| format!("reading the admin token {}", token_path.display()))?
        .trim()
        .to_string())
}

/// Whether `GET /healthz` on `addr` answers 200 (a refused connection is a plain no).
pub fn healthz(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(START_TIMEOUT));
    let _ = stream.set_nodelay(true);
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut answer = [0u8; 16];
    let mut read = 0;
    while read < answer.len() {
        match stream.read(&mut answer[read..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => read += n,
        }
    }
    is_ok_status_line(&answer[..read])
}

/// Whether an HTTP answer starts with a 200 status line.
fn is_ok_status_line(start: &[u8]) -> bool {
    start.starts_with(b"HTTP/1.1 200") || start.starts_with(b"HTTP/1.0 200")
}

/// Resident memory of a process, from `/proc/PID/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Memory {
    /// `VmRSS`: resident now, KiB.
    pub rss_kib: u64,
    /// `VmHWM`: the peak of `VmRSS`, KiB.
    pub hwm_kib: u64,
}

/// `VmRSS` and `VmHWM` from the text of `/proc/PID/status`.
pub fn memory_of_status(status: &str) -> Option<Memory> {
    let field = |name: &str| {
        status.lines().find_map(|line| {
            let rest = line.strip_prefix(name)?.strip_prefix(':')?;
            rest.trim().strip_suffix("kB")?.trim().parse().ok()
        })
    };
    Some(Memory {
        rss_kib: field("VmRSS")?,
        hwm_kib: field("VmHWM")?,
    })
}

/// The address in the server's "listening on http://ADDR" log line.
fn announced_url(line: &str) -> Option<String> {
    let at = line.find("listening on http://")?;
    let rest = &line[at + "listening on ".len()..];
    rest.split_whitespace().next().map(str::to_string)
}

/// User + system CPU time from the text of `/proc/PID/stat` (fields 14 and 15, in clock ticks
/// of 1/100 s, the fixed USER_HZ of Linux's user ABI).
pub fn cpu_time_of_stat(stat: &str) -> Option<Duration> {
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

/// CPU time (user + system) process `pid` has used so far.
pub fn cpu_time_of(pid: u32) -> Result<Duration> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    cpu_time_of_stat(&stat).ok_or_else(|| anyhow!("{path} has no utime/stime fields"))
}

/// The control API of one server.
#[derive(Clone)]
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

    /// `POST /api/v1/apply` with `sources` (file name, content), which must all apply.
    pub async fn apply(&self, sources: &[(&str, String)]) -> Result<()> {
        let sources: Vec<Value> = sources
            .iter()
            .map(|(name, content)| json!({"name": name, "content": content}))
            .collect();
        let resp = self
            .http
            .post(format!("{}/api/v1/apply", self.url))
            .bearer_auth(&self.token)
            .json(&json!({ "sources": sources }))
            .send()
            .await
            .context("applying the benchmark's manifests")?;
        let status = resp.status();
        let body = resp.text().await.context("reading the apply answer")?;
        if !status.is_success() {
            bail!("applying the benchmark's manifests answered {status}: {body}");
        }
        Ok(())
    }

    /// `GET path` of the API as JSON; `None` for a 404.
    pub async fn get(&self, path: &str) -> Result<Option<Value>> {
        let resp = self
            .http
            .get(format!("{}{path}", self.url))
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("GET {path}"))?;
        let status = resp.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let body = resp.text().await.with_context(|| format!("GET {path}"))?;
        if !status.is_success() {
            bail!("GET {path} answered {status}: {body}");
        }
        serde_json::from_str(&body)
            .map(Some)
            .with_context(|| format!("GET {path}: the answer is not JSON"))
    }

    /// Waits until the Sensor `name` in `default` says it is running.
    pub async fn wait_for_sensor(&self, name: &str, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let path = format!("/api/v1/namespaces/default/sensors/{name}");
        loop {
            let sensor = self.get(&path).await?;
            let phase = sensor
                .as_ref()
                .and_then(|s| s["status"]["phase"].as_str())
                .unwrap_or("");
            if phase == "Running" {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("Sensor {name} is not running after {timeout:?} (phase {phase:?})");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until the webhook server on `port` of 127.0.0.1 answers `GET /health`.
    pub async fn wait_for_webhook(&self, port: u16, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let url = format!("http://127.0.0.1:{port}/health");
        loop {
            if let Ok(resp) = self.http.get(&url).send().await
                && resp.status().is_success()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the webhook on port {port} does not answer {url} after {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
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
    fn memory_comes_from_the_status_lines() {
        let status =
            "Name:\tswitchyard\nVmPeak:\t  900 kB\nVmHWM:\t   4242 kB\nVmRSS:\t    4000 kB\n";
        assert_eq!(
            memory_of_status(status),
            Some(Memory {
                rss_kib: 4000,
                hwm_kib: 4242
            })
        );
        assert_eq!(memory_of_status("VmRSS:\t12 kB\n"), None);
        let own = std::fs::read_to_string("/proc/self/status").unwrap();
        assert!(memory_of_status(&own).unwrap().rss_kib > 0);
    }

    #[test]
    fn only_a_200_status_line_is_healthy() {
        assert!(is_ok_status_line(b"HTTP/1.1 200 OK\r\n"));
        assert!(!is_ok_status_line(b"HTTP/1.1 503 Service"));
        assert!(!is_ok_status_line(b""));
    }

    #[test]
    fn this_process_has_a_readable_cpu_time() {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
        assert!(cpu_time_of_stat(&stat).is_some());
    }
}
