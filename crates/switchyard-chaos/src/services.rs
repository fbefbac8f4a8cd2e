//! The private services a scenario breaks on purpose: a NATS server of its own, a
//! PostgreSQL cluster of its own, and a small filesystem it can fill. The machine's shared
//! NATS and PostgreSQL are never stopped.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::process::{free_port, run_command, wait_reachable};

/// The first of `candidates` that is a file, else `name` found on `PATH`.
fn find_program(candidates: &[&str], name: &str) -> Option<PathBuf> {
    for c in candidates {
        let p = Path::new(c);
        if p.is_file() {
            return Some(p.to_path_buf());
        }
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// A nats-server with JetStream, on a port and storage directory of its own.
pub struct Nats {
    binary: PathBuf,
    pub port: u16,
    store: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl Nats {
    /// Where nats-server is, if installed.
    pub fn binary() -> Option<PathBuf> {
        find_program(
            &["/usr/sbin/nats-server", "/usr/bin/nats-server"],
            "nats-server",
        )
    }

    /// Starts a private server storing JetStream data under `dir`.
    pub async fn start(dir: &Path) -> Result<Nats> {
        let binary = Nats::binary().ok_or_else(|| {
            anyhow!("nats-server is not installed (looked in /usr/sbin, /usr/bin and PATH)")
        })?;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut nats = Nats {
            binary,
            port: free_port()?,
            store: dir.join("jetstream"),
            log: dir.join("nats-server.log"),
            child: None,
        };
        nats.up().await?;
        Ok(nats)
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Starts the process (again), on the same port and storage, and waits until it accepts
    /// connections.
    pub async fn up(&mut self) -> Result<()> {
        if self.child.is_some() {
            return Ok(());
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("opening {}", self.log.display()))?;
        let child = Command::new(&self.binary)
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(&self.store)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", self.binary.display()))?;
        self.child = Some(child);
        wait_reachable(&format!("127.0.0.1:{}", self.port), Duration::from_secs(20))
            .await
            .with_context(|| format!("the private nats-server (log {})", self.log.display()))
    }

    /// Stops the process: SIGTERM (a clean shutdown) or SIGKILL (a crash).
    pub fn down(&mut self, crash: bool) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let pid = Pid::from_raw(i32::try_from(child.id()).context("pid out of range")?);
        kill(
            pid,
            if crash {
                Signal::SIGKILL
            } else {
                Signal::SIGTERM
            },
        )
        .context("signalling nats-server")?;
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        child.kill()?;
        child.wait()?;
        Ok(())
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.down(true);
    }
}

/// Deletes JetStream stream `stream` on the NATS at `url` (a platform's bus on a shared NATS).
pub async fn delete_stream(url: &str, stream: &str) -> Result<()> {
    let client = async_nats::connect(url)
        .await
        .with_context(|| format!("connecting to {url}"))?;
    let js = async_nats::jetstream::new(client);
    js.delete_stream(stream)
        .await
        .map_err(|e| anyhow!("deleting stream {stream} on {url}: {e}"))?;
    Ok(())
}

/// A PostgreSQL cluster of its own: initdb'd in a directory, on a port of its own, with trust
/// authentication on 127.0.0.1. Run as the `postgres` user when this process is root
/// (PostgreSQL refuses to run as root).
pub struct Postgres {
    bin: PathBuf,
    dir: PathBuf,
    pub port: u16,
    log: PathBuf,
    running: bool,
}

impl Postgres {
    /// The newest installed server's `bin` directory (`/usr/lib/postgresql/<version>/bin`).
    pub fn bin_dir() -> Option<PathBuf> {
        let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(Result::ok)
            .filter_map(|e| {
                let v: u32 = e.file_name().to_str()?.parse().ok()?;
                let bin = e.path().join("bin");
                bin.join("pg_ctl").is_file().then_some((v, bin))
            })
            .collect();
        versions.sort();
        versions.pop().map(|(_, bin)| bin)
    }

    /// initdb's a cluster under `dir` and starts it.
    pub fn start(dir: &Path) -> Result<Postgres> {
        let bin = Postgres::bin_dir()
            .ok_or_else(|| anyhow!("no PostgreSQL server under /usr/lib/postgresql/*/bin"))?;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let data = dir.join("pgdata");
        std::fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
        let log = dir.join("postgres.log");
        File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        if as_root() {
            let user = nix::unistd::User::from_name("postgres")
                .ok()
                .flatten()
                .ok_or_else(|| {
                    anyhow!("running as root, but there is no `postgres` user to run PostgreSQL as")
                })?;
            for path in [&data, &log] {
                nix::unistd::chown(path.as_path(), Some(user.uid), Some(user.gid))
                    .with_context(|| format!("giving {} to postgres", path.display()))?;
            }
            std::fs::set_permissions(&data, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
        }
        let pg = Postgres {
            bin,
            dir: data,
            port: free_port()?,
            log,
            running: false,
        };
        pg.pg(
            "initdb",
            &[
                "-D",
                path_str(&pg.dir)?,
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        )?;
        let mut pg = pg;
        pg.up()?;
        Ok(pg)
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// `pg_ctl start`, waiting until it accepts connections.
    pub fn up(&mut self) -> Result<()> {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {}",
            self.port,
            path_str(&self.dir)?
        );
        self.pg(
            "pg_ctl",
            &[
                "-D",
                path_str(&self.dir)?,
                "-o",
                &options,
                "-l",
                path_str(&self.log)?,
                "-w",
                "-t",
                "60",
                "start",
            ],
        )?;
        self.running = true;
        Ok(())
    }

    /// `pg_ctl stop -m fast` (clean) or `-m immediate` (a crash: recovery at the next start).
    pub fn down(&mut self, immediate: bool) -> Result<()> {
        let mode = if immediate { "immediate" } else { "fast" };
        self.pg(
            "pg_ctl",
            &["-D", path_str(&self.dir)?, "-m", mode, "-w", "stop"],
        )?;
        self.running = false;
        Ok(())
    }

    /// Terminates every client connection but the caller's (`pg_terminate_backend`): the
    /// clients see their connections reset and must reconnect. Returns how many were cut.
    pub fn terminate_clients(&self) -> Result<usize> {
        let port = self.port.to_string();
        let out = self.pg(
            "psql",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-tA",
                "-c",
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
            ],
        )?;
        Ok(out.trim().parse().unwrap_or(0))
    }

    /// Runs a PostgreSQL program (as `postgres` when root).
    fn pg(&self, program: &str, args: &[&str]) -> Result<String> {
        let program = self.bin.join(program);
        let program = path_str(&program)?;
        if as_root() {
            let mut all = vec!["-u", "postgres", "--", program];
            all.extend_from_slice(args);
            run_command("runuser", &all)
        } else {
            run_command(program, args)
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if self.running {
            let _ = self.down(true);
        }
    }
}

fn as_root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn path_str(p: &Path) -> Result<&str> {
    p.to_str()
        .ok_or_else(|| anyhow!("{} is not UTF-8", p.display()))
}

/// A small filesystem mounted at a directory: tmpfs, or a loop-mounted ext4 image where
/// tmpfs cannot be mounted. Unmounted when dropped.
pub struct SmallDisk {
    pub path: PathBuf,
    /// `tmpfs` or `ext4 (loop)`.
    pub kind: String,
    image: Option<PathBuf>,
}

impl SmallDisk {
    /// Mounts `size_mib` MiB at `path` (created).
    pub fn mount(path: &Path, size_mib: u64) -> Result<SmallDisk> {
        std::fs::create_dir_all(path).with_context(|| format!("creating {}", path.display()))?;
        let target = path_str(path)?;
        let tmpfs = run_command(
            "mount",
            &[
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size_mib}m"),
                "tmpfs",
                target,
            ],
        );
        match tmpfs {
            Ok(_) => Ok(SmallDisk {
                path: path.to_path_buf(),
                kind: "tmpfs".to_owned(),
                image: None,
            }),
            Err(tmpfs_error) => {
                let image = path.with_extension("img");
                let loop_mount = (|| -> Result<()> {
                    let f = File::create(&image)?;
                    f.set_len(size_mib * 1024 * 1024)?;
                    run_command("mkfs.ext4", &["-q", "-F", path_str(&image)?])?;
                    run_command("mount", &["-o", "loop", path_str(&image)?, target])?;
                    Ok(())
                })();
                match loop_mount {
                    Ok(()) => Ok(SmallDisk {
                        path: path.to_path_buf(),
                        kind: "ext4 (loop)".to_owned(),
                        image: Some(image),
                    }),
                    Err(loop_error) => bail!(
                        "cannot mount a small filesystem at {target}: tmpfs: {tmpfs_error:#}; loop-mounted ext4: {loop_error:#}"
                    ),
                }
            }
        }
    }

    /// Bytes still free (`statvfs`).
    pub fn free_bytes(&self) -> Option<u64> {
        let st = nix::sys::statvfs::statvfs(&self.path).ok()?;
        #[allow(clippy::unnecessary_cast)]
        Some(st.blocks_available() as u64 * st.fragment_size() as u64)
    }

    /// Writes `name` until the filesystem is full; the bytes written.
    pub fn fill(&self, name: &str) -> Result<u64> {
        let path = self.path.join(name);
        let mut f = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        let mut written = 0u64;
        for chunk in [1 << 20, 1 << 12, 1] {
            let buf = vec![0x5au8; chunk];
            loop {
                match f.write(&buf) {
                    Ok(0) => break,
                    Ok(n) => written += n as u64,
                    Err(e) if e.raw_os_error() == Some(nix::libc::ENOSPC) => break,
                    Err(e) => return Err(e).context("filling the disk"),
                }
            }
        }
        let _ = f.flush();
        Ok(written)
    }

    /// Removes what [`SmallDisk::fill`] wrote.
    pub fn unfill(&self, name: &str) -> Result<()> {
        let path = self.path.join(name);
        std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        if let Some(target) = self.path.to_str()
            && run_command("umount", &[target]).is_err()
        {
            let _ = run_command("umount", &["-l", target]);
        }
        if let Some(image) = &self.image {
            let _ = std::fs::remove_file(image);
        }
    }
}
