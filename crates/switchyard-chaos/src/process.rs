//! A real `switchyard up` process: started on a free port of 127.0.0.1, killed with SIGKILL
//! or stopped with SIGTERM, and started again on the same data directory. Every start
//! appends to one log file, so a scenario's whole history can be read afterwards.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::api::Api;

/// How long `switchyard up` may take to say where it listens (a start after a crash may first
/// wait out its own lease, up to 15 s, when the data directory changed hands).
const START_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a server may take to exit after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// How to start one platform's server; each [`ServerSpec::start`] is a new process on the same
/// data directory.
#[derive(Debug, Clone)]
pub struct ServerSpec {
    pub binary: PathBuf,
    pub data_dir: PathBuf,
    /// Arguments after `up --listen 127.0.0.1:0 --log-format text`.
    pub args: Vec<String>,
    /// Extra environment variables (e.g. `SWITCHYARD_LOG`).
    pub env: Vec<(String, String)>,
    /// The log every start appends to.
    pub log: PathBuf,
}

/// A running `switchyard up`, killed when dropped.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The admin token from `<data dir>/admin.token`.
    pub token: String,
    /// From spawning the process to its "listening on" line.
    pub start_time: Duration,
}

impl ServerSpec {
    /// A spec with the default log level (`info`) and no extra arguments.
    pub fn new(binary: &Path, data_dir: &Path, log: &Path) -> ServerSpec {
        ServerSpec {
            binary: binary.to_path_buf(),
            data_dir: data_dir.to_path_buf(),
            args: Vec::new(),
            env: vec![("SWITCHYARD_LOG".to_owned(), "info".to_owned())],
            log: log.to_path_buf(),
        }
    }

    /// The same spec with more `up` arguments.
    pub fn with_args<I, S>(mut self, args: I) -> ServerSpec
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// The same spec with an environment variable set (replacing an earlier value).
    pub fn with_env(mut self, key: &str, value: &str) -> ServerSpec {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// The command line a person would type to start the same server.
    pub fn command_line(&self) -> String {
        let mut words = vec![
            format!("SWITCHYARD_DATA_DIR={}", self.data_dir.display()),
            self.binary.display().to_string(),
            "up".to_owned(),
            "--listen".to_owned(),
            "127.0.0.1:0".to_owned(),
        ];
        words.extend(self.args.iter().cloned());
        words.join(" ")
    }

    /// Starts `switchyard up` and waits until it announces its address.
    pub fn start(&self) -> Result<Server> {
        std::fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("creating the data directory {}", self.data_dir.display()))?;
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("opening the server log {}", self.log.display()))?;
        let _ = writeln!(
            log,
            "===== switchyard-chaos: starting `{}` at {}",
            self.command_line(),
            chrono::Utc::now().to_rfc3339()
        );
        let began = Instant::now();
        let mut command = Command::new(&self.binary);
        command
            .args(["up", "--listen", "127.0.0.1:0", "--log-format", "text"])
            .args(&self.args)
            .env("SWITCHYARD_DATA_DIR", &self.data_dir)
            .env_remove("SWITCHYARD_TOKEN")
            .env_remove("SWITCHYARD_LISTEN")
            .env_remove("SWITCHYARD_LOG_FORMAT")
            .env_remove("SWITCHYARD_DATABASE_URL")
            .env_remove("SWITCHYARD_NATS_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in &self.env {
            command.env(k, v);
        }
        let mut child = command
            .spawn()
            .with_context(|| format!("starting `{} up`", self.binary.display()))?;
        let stderr = child
            .stderr
            .take()
            .ok_or_else(|| anyhow!("the server's stderr was not captured"))?;
        let url = wait_for_address(stderr, log, &mut child, &self.log)?;
        let token_path = self.data_dir.join("admin.token");
        let token = std::fs::read_to_string(&token_path)
            .with_context(|| format!("reading the admin token {}", token_path.display()))?
            .trim()
            .to_owned();
        Ok(Server {
            child,
            url,
            token,
            start_time: began.elapsed(),
        })
    }
}

/// Drains the server's stderr into the log for the process's whole life (a full pipe would
/// stall it) and returns the address of its "listening on" line.
fn wait_for_address(
    stderr: std::process::ChildStderr,
    mut log: File,
    child: &mut Child,
    log_path: &Path,
) -> Result<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut announced = false;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if !announced && let Some(url) = announced_url(&line) {
                let _ = tx.send(url);
                announced = true;
            }
            let _ = writeln!(log, "{line}");
        }
    });
    match rx.recv_timeout(START_TIMEOUT) {
        Ok(url) => Ok(url),
        Err(e) => {
            let _ = child.kill();
            let status = child.wait().ok();
            let why = match e {
                mpsc::RecvTimeoutError::Timeout => {
                    format!("did not say where it listens within {START_TIMEOUT:?}")
                }
                mpsc::RecvTimeoutError::Disconnected => format!(
                    "exited ({}) before saying where it listens",
                    status.map_or("unknown status".to_owned(), |s| s.to_string())
                ),
            };
            bail!("`switchyard up` {why}; its log is {}", log_path.display())
        }
    }
}

impl Server {
    /// The control API as the admin.
    pub fn api(&self) -> Api {
        Api::new(&self.url, &self.token)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no shutdown code runs. Step supervisors live in sessions of their own and
    /// keep running.
    pub fn kill9(mut self) -> Result<()> {
        self.child.kill().context("sending SIGKILL to the server")?;
        self.child.wait().context("waiting for the killed server")?;
        Ok(())
    }

    /// SIGTERM, then SIGKILL if it has not exited in time. Returns how it exited.
    pub fn stop(mut self) -> Result<ExitStatus> {
        let pid = i32::try_from(self.child.id()).context("the server's pid is out of range")?;
        if let Some(status) = self.child.try_wait()? {
            return Ok(status);
        }
        kill(Pid::from_raw(pid), Signal::SIGTERM).context("sending SIGTERM to the server")?;
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.child.kill()?;
        Ok(self.child.wait()?)
    }

    /// How the process ended, if it has.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// The resident set size of the server process (its step supervisors are processes of
    /// their own and not counted).
    pub fn rss_bytes(&self) -> Option<u64> {
        rss_of(self.child.id())
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

/// `VmRSS` of a process, in bytes.
pub fn rss_of(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    rss_of_status(&status)
}

fn rss_of_status(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The address in the server's "listening on http://ADDR" log line.
fn announced_url(line: &str) -> Option<String> {
    let at = line.find("listening on http://")?;
    let rest = &line[at + "listening on ".len()..];
    rest.split_whitespace().next().map(str::to_owned)
}

/// A free TCP port on 127.0.0.1 (bound and released; another process may take it in between,
/// which the caller finds out when it binds).
pub fn free_port() -> Result<u16> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").context("binding a free port on 127.0.0.1")?;
    Ok(listener.local_addr()?.port())
}

/// Whether something accepts TCP connections at `addr`.
pub fn reachable(addr: &str) -> bool {
    addr.parse::<std::net::SocketAddr>()
        .is_ok_and(|a| std::net::TcpStream::connect_timeout(&a, Duration::from_millis(500)).is_ok())
}

/// Waits until `addr` accepts connections, or fails after `timeout`.
pub async fn wait_reachable(addr: &str, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let a = addr.to_owned();
        if tokio::task::spawn_blocking(move || reachable(&a))
            .await
            .unwrap_or(false)
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("nothing accepts connections at {addr} after {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs a command to its end; its output, or an error naming the command and what it said.
pub fn run_command(program: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {program}"))?;
    if !out.status.success() {
        bail!(
            "`{program} {}` failed ({}): {}{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
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
    fn rss_comes_from_vmrss_in_kilobytes() {
        let status = "Name:\tx\nVmPeak:\t  100 kB\nVmRSS:\t    2048 kB\nThreads: 3\n";
        assert_eq!(rss_of_status(status), Some(2048 * 1024));
        assert_eq!(rss_of_status("Name: x\n"), None);
        assert!(rss_of(std::process::id()).is_some_and(|b| b > 0));
    }
}
