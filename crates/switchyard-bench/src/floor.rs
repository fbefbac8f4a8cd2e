//! The floors: what the same steps cost with no engine at all.
//!
//! A floor loop runs [`Stage`]s one after another. A stage spawns its steps with a fixed
//! number of worker threads (its parallelism); each worker spawns the step's program, waits
//! for it, checks that it exited with 0 and, for the durable floor, commits one row for the
//! step to a SQLite journal before it takes the next step. The journal is opened the way the
//! store opens its database (WAL, `synchronous=FULL`), so every commit is an fsync of the
//! WAL; commits are serialized through one connection, one transaction per step, with no
//! batching across steps. Without a journal the loop measures spawning alone.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use rusqlite::Connection;

/// Steps run with at most `parallelism` at once; the next stage starts when all are done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stage {
    pub steps: usize,
    pub parallelism: usize,
}

/// Runs `stages` of `program` and returns the wall time from the first spawn to the last
/// step's end (with its commit, when `journal` is given). `journal` names a database file
/// that is created afresh (any file there and its `-wal`/`-shm` are removed first); opening
/// it is not timed.
pub fn run(stages: &[Stage], program: &str, journal: Option<&Path>) -> Result<Duration> {
    let journal = journal.map(open_journal).transpose()?.map(Mutex::new);
    let started = Instant::now();
    let mut first = 0;
    for stage in stages {
        run_stage(*stage, first, program, journal.as_ref())?;
        first += stage.steps;
    }
    let elapsed = started.elapsed();
    if let Some(journal) = journal {
        let conn = journal
            .into_inner()
            .map_err(|_| anyhow!("a floor worker panicked while holding the journal"))?;
        let rows: i64 = conn
            .query_row("SELECT count(*) FROM step_results", [], |r| r.get(0))
            .context("counting the floor journal's rows")?;
        if usize::try_from(rows).ok() != Some(first) {
            bail!("the floor journal holds {rows} rows after {first} steps");
        }
    }
    Ok(elapsed)
}

fn run_stage(
    stage: Stage,
    first: usize,
    program: &str,
    journal: Option<&Mutex<Connection>>,
) -> Result<()> {
    let next = AtomicUsize::new(0);
    let workers = stage.parallelism.clamp(1, stage.steps.max(1));
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| -> Result<()> {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= stage.steps {
                            return Ok(());
                        }
                        let step = first + i;
                        let code = run_step(program)
                            .with_context(|| format!("floor step {step}: running `{program}`"))?;
                        if let Some(journal) = journal {
                            let conn = journal
                                .lock()
                                .map_err(|_| anyhow!("another floor worker panicked"))?;
                            commit(&conn, step, code).with_context(|| {
                                format!("floor step {step}: committing its row")
                            })?;
                        }
                    }
                })
            })
            .collect();
        handles.into_iter().try_for_each(|h| {
            h.join()
                .map_err(|_| anyhow!("a floor worker thread panicked"))?
        })
    })
}

/// Spawns `program` with no input and discarded output; its exit code, which must be 0.
fn run_step(program: &str) -> Result<i32> {
    let status = Command::new(program)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .context("could not start it (is it on PATH?)")?;
    match status.code() {
        Some(0) => Ok(0),
        _ => bail!("it ended with {status}, not exit code 0"),
    }
}

fn open_journal(path: &Path) -> Result<Connection> {
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(e).with_context(|| {
                    format!(
                        "removing the old floor journal {}",
                        Path::new(&file).display()
                    )
                });
            }
        }
    }
    let conn = Connection::open(path)
        .with_context(|| format!("opening the floor journal {}", path.display()))?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .context("setting the floor journal to WAL mode")?;
    if !mode.eq_ignore_ascii_case("wal") {
        bail!(
            "the filesystem of {} does not support SQLite's WAL mode (journal mode is {mode})",
            path.display()
        );
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .context("setting synchronous=FULL on the floor journal")?;
    conn.execute_batch(
        "CREATE TABLE step_results (
            step INTEGER PRIMARY KEY,
            exit_code INTEGER NOT NULL,
            finished_at_ns INTEGER NOT NULL
        )",
    )
    .context("creating the floor journal's table")?;
    Ok(conn)
}

/// One transaction (autocommit) holding the step's row.
fn commit(conn: &Connection, step: usize, exit_code: i32) -> Result<()> {
    let now_ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    let step = i64::try_from(step).context("step number out of range")?;
    conn.prepare_cached(
        "INSERT INTO step_results (step, exit_code, finished_at_ns) VALUES (?1, ?2, ?3)",
    )?
    .execute((step, exit_code, now_ns))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_durable_floor_commits_one_row_per_step() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("floor.db");
        let stages = [
            Stage {
                steps: 3,
                parallelism: 2,
            },
            Stage {
                steps: 2,
                parallelism: 4,
            },
        ];
        run(&stages, "true", Some(&db)).unwrap();
        let conn = Connection::open(&db).unwrap();
        let steps: Vec<i64> = conn
            .prepare("SELECT step FROM step_results ORDER BY step")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(steps, [0, 1, 2, 3, 4]);
        // A second run starts from an empty journal.
        run(&stages[..1], "true", Some(&db)).unwrap();
    }

    #[test]
    fn a_failing_step_fails_the_floor_with_its_number() {
        let err = run(
            &[Stage {
                steps: 1,
                parallelism: 1,
            }],
            "false",
            None,
        )
        .unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("floor step 0"), "{text}");
        assert!(text.contains("not exit code 0"), "{text}");
    }
}
