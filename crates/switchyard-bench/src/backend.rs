//! The two modes every benchmark runs in: embedded (SQLite and the embedded bus in a fresh
//! data directory) and distributed (PostgreSQL and NATS JetStream on this machine, each server
//! in a schema and a stream of its own, dropped afterwards).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Serialize;

use crate::server::{Launch, Server};

/// Which modes to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ModeChoice {
    Embedded,
    Distributed,
    Both,
}

impl ModeChoice {
    pub fn modes(self) -> Vec<Mode> {
        match self {
            ModeChoice::Embedded => vec![Mode::Embedded],
            ModeChoice::Distributed => vec![Mode::Distributed],
            ModeChoice::Both => vec![Mode::Embedded, Mode::Distributed],
        }
    }
}

/// One mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Embedded,
    Distributed,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Embedded => "embedded",
            Mode::Distributed => "distributed",
        }
    }
}

/// Where the distributed services are.
#[derive(Debug, Clone)]
pub struct Services {
    /// `postgres://user@host:port/db`.
    pub database: String,
    /// `nats://host:port`.
    pub nats: String,
}

/// The services a benchmark's servers use, and the names handed out so far.
pub struct Backends {
    services: Services,
    /// This process's id and start time, so that names never collide with another run's.
    prefix: String,
    next: AtomicU32,
}

impl Backends {
    pub fn new(services: Services) -> Backends {
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() % 1_000_000);
        Backends {
            services,
            prefix: format!("{}_{stamp}", std::process::id()),
            next: AtomicU32::new(0),
        }
    }

    /// Whether PostgreSQL and NATS both answer; why not otherwise.
    pub async fn probe(&self) -> Result<()> {
        let timeout = Duration::from_secs(5);
        let pg = tokio::time::timeout(
            timeout,
            tokio_postgres::connect(&self.services.database, tokio_postgres::NoTls),
        )
        .await;
        match pg {
            Ok(Ok((client, connection))) => {
                let task = tokio::spawn(connection);
                let answered = client.simple_query("SELECT 1").await;
                drop(client);
                let _ = task.await;
                answered.with_context(|| {
                    format!("PostgreSQL at {} does not answer", self.services.database)
                })?;
            }
            Ok(Err(e)) => {
                return Err(e).with_context(|| {
                    format!("PostgreSQL at {} is unreachable", self.services.database)
                });
            }
            Err(_) => bail!(
                "PostgreSQL at {} did not answer within {timeout:?}",
                self.services.database
            ),
        }
        let nats = tokio::time::timeout(timeout, async_nats::connect(&self.services.nats)).await;
        match nats {
            Ok(Ok(client)) => {
                // The account info request, raw: the typed one expects fields nats-server 2.9
                // does not send.
                let answer = tokio::time::timeout(
                    timeout,
                    client.request("$JS.API.INFO", bytes::Bytes::new()),
                )
                .await
                .map_err(|_| anyhow::anyhow!("no answer within {timeout:?}"))
                .and_then(|r| r.map_err(anyhow::Error::from))
                .with_context(|| format!("NATS at {} has no JetStream", self.services.nats))?;
                let info: serde_json::Value =
                    serde_json::from_slice(&answer.payload).unwrap_or(serde_json::Value::Null);
                if let Some(error) = info.get("error") {
                    bail!("NATS at {} refuses JetStream: {error}", self.services.nats);
                }
            }
            Ok(Err(e)) => {
                return Err(e)
                    .with_context(|| format!("NATS at {} is unreachable", self.services.nats));
            }
            Err(_) => bail!(
                "NATS at {} did not answer within {timeout:?}",
                self.services.nats
            ),
        }
        Ok(())
    }

    /// A new, unused schema and stream name pair.
    pub fn fresh(&self) -> Distributed {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        Distributed {
            services: self.services.clone(),
            schema: format!("bench_{}_{n}", self.prefix),
            stream: format!("BENCH_{}_{n}", self.prefix),
        }
    }
}

/// One distributed platform: its schema and stream.
#[derive(Debug, Clone, Serialize)]
pub struct Distributed {
    #[serde(skip)]
    services: Services,
    pub schema: String,
    pub stream: String,
}

impl Distributed {
    /// The `switchyard up` arguments that select it.
    pub fn args(&self) -> Vec<String> {
        vec![
            "--database".into(),
            self.services.database.clone(),
            "--database-schema".into(),
            self.schema.clone(),
            "--nats".into(),
            self.services.nats.clone(),
            "--nats-stream".into(),
            self.stream.clone(),
        ]
    }

    /// Drops the schema and deletes the stream (each only if it exists).
    pub async fn remove(&self) -> Result<()> {
        let (client, connection) =
            tokio_postgres::connect(&self.services.database, tokio_postgres::NoTls)
                .await
                .with_context(|| format!("connecting to {}", self.services.database))?;
        let task = tokio::spawn(connection);
        let dropped = client
            .batch_execute(&format!(
                "DROP SCHEMA IF EXISTS \"{}\" CASCADE",
                self.schema
            ))
            .await
            .with_context(|| format!("dropping the schema {}", self.schema));
        drop(client);
        let _ = task.await;
        dropped?;
        let nats = async_nats::connect(&self.services.nats)
            .await
            .with_context(|| format!("connecting to {}", self.services.nats))?;
        let js = async_nats::jetstream::new(nats);
        match js.delete_stream(&self.stream).await {
            Ok(_) => Ok(()),
            Err(e) if e.to_string().contains("not found") => Ok(()),
            Err(e) => Err(e).with_context(|| format!("deleting the stream {}", self.stream)),
        }
    }
}

/// What a benchmark needs to start servers in a mode.
pub struct Env<'a> {
    pub switchyard: &'a Path,
    pub work_dir: PathBuf,
    pub mode: Mode,
    pub backends: Option<&'a Backends>,
    /// Keep data directories after a measurement.
    pub keep_data: bool,
    /// The servers' log filter (`SWITCHYARD_LOG`); their default level without it.
    pub log_filter: Option<&'a str>,
}

/// A server started for a measurement, with what it takes to clean up after it.
pub struct Started {
    pub server: Server,
    /// From spawning the process to `GET /healthz` answering.
    pub ready: Duration,
    pub data_dir: PathBuf,
    pub distributed: Option<Distributed>,
}

impl Env<'_> {
    /// A server on a fresh data directory `<work dir>/<name>` (and, distributed, a fresh
    /// schema and stream), its log next to it.
    pub fn start_fresh(&self, name: &str) -> Result<Started> {
        let data_dir = self.work_dir.join(name);
        remove_dir(&data_dir)?;
        let distributed = match (self.mode, self.backends) {
            (Mode::Embedded, _) => None,
            (Mode::Distributed, Some(b)) => Some(b.fresh()),
            (Mode::Distributed, None) => bail!("distributed mode without its services"),
        };
        self.start_on(&data_dir, distributed, None)
    }

    /// A server on `data_dir` as it is, with `distributed`'s schema and stream as they are.
    pub fn start_on(
        &self,
        data_dir: &Path,
        distributed: Option<Distributed>,
        platform: Option<&Path>,
    ) -> Result<Started> {
        let args = distributed
            .as_ref()
            .map(Distributed::args)
            .unwrap_or_default();
        let mut log = data_dir.as_os_str().to_owned();
        log.push(".log");
        let (server, ready) = Server::launch(&Launch {
            binary: self.switchyard,
            data_dir,
            log: Path::new(&log),
            args: &args,
            platform,
            log_filter: self.log_filter,
        })?;
        Ok(Started {
            server,
            ready,
            data_dir: data_dir.to_path_buf(),
            distributed,
        })
    }

    /// Stops the server, drops its schema and stream, and removes its data directory
    /// (unless told to keep it).
    pub fn finish(&self, rt: &tokio::runtime::Runtime, started: Started) -> Result<()> {
        let stopped = started.server.stop();
        if let Some(d) = &started.distributed {
            rt.block_on(d.remove())?;
        }
        if !self.keep_data {
            remove_dir(&started.data_dir)?;
        }
        stopped
    }
}

/// Removes `dir` and everything in it; nothing to do when it does not exist.
pub fn remove_dir(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing {}", dir.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_platform_gets_its_own_schema_and_stream() {
        let backends = Backends::new(Services {
            database: "postgres://root@127.0.0.1:5432/test".into(),
            nats: "nats://127.0.0.1:4222".into(),
        });
        let a = backends.fresh();
        let b = backends.fresh();
        assert_ne!(a.schema, b.schema);
        assert_ne!(a.stream, b.stream);
        assert!(a.schema.starts_with("bench_"));
        assert!(a.stream.starts_with("BENCH_"));
        assert!(
            a.stream
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'),
            "{}",
            a.stream
        );
        let args = a.args();
        assert_eq!(args[0], "--database");
        assert_eq!(args[3], a.schema);
        assert_eq!(args[7], a.stream);
    }

    #[test]
    fn modes_of_a_choice() {
        assert_eq!(
            ModeChoice::Both.modes(),
            [Mode::Embedded, Mode::Distributed]
        );
        assert_eq!(ModeChoice::Distributed.modes(), [Mode::Distributed]);
    }
}
