//! Tests that reach inside the writer and the schema: a full disk, a job that panics, group
//! commit of status writes, and the indexes step logs rely on.

use super::*;
use serde_json::json;
use switchyard_store::StepLog;

fn open_store(dir: &Path) -> SqliteStore {
    SqliteStore::open(&dir.join("db.sqlite"), SecretSealer::from_key([3; 32])).unwrap()
}

fn cm(name: &str, value: &str) -> PutRequest {
    PutRequest::new(
        Kind::ConfigMap,
        "default",
        name,
        json!({"data": {"k": value}}),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_retryable_and_the_writer_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    store.put(cm("before", "small")).await.unwrap();

    // Cap the database at its current size: any new page now fails with SQLITE_FULL.
    store
        .write(Op::Exec("PRAGMA max_page_count = 1".to_owned()))
        .await
        .unwrap();
    let big = "x".repeat(1 << 20);
    for attempt in 0..3 {
        let err = store.put(cm("big", &big)).await.unwrap_err();
        assert!(err.is_retryable(), "attempt {attempt}: {err}");
        assert!(
            err.to_string().contains("the disk is full"),
            "attempt {attempt}: {err}"
        );
    }
    let key = ObjectKey::new(Kind::ConfigMap, "default", "big");
    assert_eq!(store.get(&key).await.unwrap(), None);
    let before = ObjectKey::new(Kind::ConfigMap, "default", "before");
    assert!(store.get(&before).await.unwrap().is_some());

    // Space returns: the same write succeeds.
    store
        .write(Op::Exec("PRAGMA max_page_count = 1073741823".to_owned()))
        .await
        .unwrap();
    let outcome = store.put(cm("big", &big)).await.unwrap();
    assert_eq!(outcome.action_str(), "created");
    assert_eq!(
        store.get(&key).await.unwrap().unwrap().body["data"]["k"],
        json!(big)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_job_fails_alone_and_the_writer_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let Err(err) = store.write(Op::Panic).await else {
        panic!("a panicking job must fail");
    };
    assert!(
        matches!(err, StoreError::Internal { .. }),
        "the caller hears of the failure: {err}"
    );
    let outcome = store.put(cm("after", "v")).await.unwrap();
    assert_eq!(outcome.action_str(), "created");
    let listed = store.list(Kind::ConfigMap, None).await.unwrap();
    assert_eq!(listed.len(), 1);
}

/// Commit frames in the WAL file's current generation: one per commit that wrote pages.
fn wal_commits(db: &Path) -> usize {
    let wal = std::fs::read(db.with_extension("sqlite-wal")).unwrap();
    let word = |at: usize| u32::from_be_bytes(wal[at..at + 4].try_into().unwrap());
    let page_size = word(8) as usize;
    let salts = (word(16), word(20));
    let mut commits = 0;
    let mut frame = 32;
    while frame + 24 + page_size <= wal.len() && (word(frame + 8), word(frame + 12)) == salts {
        if word(frame + 4) != 0 {
            commits += 1;
        }
        frame += 24 + page_size;
    }
    commits
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_status_writes_share_one_commit() {
    const RUNS: usize = 40;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open_store(dir.path()));
    // No checkpoint may restart the WAL while its commits are counted.
    store
        .write(Op::Exec("PRAGMA wal_autocheckpoint = 0".to_owned()))
        .await
        .unwrap();
    let keys: Vec<ObjectKey> = (0..RUNS)
        .map(|i| ObjectKey::new(Kind::Workflow, "default", format!("run-{i}")))
        .collect();
    for key in &keys {
        store
            .put(PutRequest::new(
                Kind::Workflow,
                "default",
                key.name.clone(),
                json!({"spec": {}}),
            ))
            .await
            .unwrap();
    }
    let before = wal_commits(&dir.path().join("db.sqlite"));

    // Hold the writer, queue every status write behind it, then let it go.
    let (started_tx, started) = std::sync::mpsc::channel();
    let (release, release_rx) = std::sync::mpsc::channel();
    let held = {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            store
                .write(Op::Hold {
                    started: started_tx,
                    release: release_rx,
                })
                .await
        })
    };
    tokio::task::spawn_blocking(move || started.recv())
        .await
        .unwrap()
        .unwrap();
    let mut writes = tokio::task::JoinSet::new();
    for key in keys.clone() {
        let store = Arc::clone(&store);
        writes.spawn(async move {
            store
                .put_status(StatusUpdate {
                    logs: vec![StepLog {
                        step: "main".to_owned(),
                        text: format!("log of {}", key.name),
                    }],
                    key,
                    status: json!({"phase": "Succeeded"}),
                    precondition: Precondition::MustExist,
                })
                .await
        });
    }
    let queue = store.jobs.clone().unwrap();
    while writer::QUEUE_CAPACITY - queue.capacity() < RUNS {
        tokio::task::yield_now().await;
    }
    release.send(()).unwrap();
    held.await.unwrap().unwrap();
    while let Some(joined) = writes.join_next().await {
        joined.unwrap().unwrap();
    }

    assert_eq!(
        wal_commits(&dir.path().join("db.sqlite")) - before,
        1,
        "{RUNS} queued status writes are made durable by one commit"
    );
    for key in &keys {
        assert_eq!(
            store.step_log(key, "main").await.unwrap(),
            Some(format!("log of {}", key.name))
        );
    }
}

/// The plan SQLite chooses for a statement, one detail per line.
fn plan(conn: &rusqlite::Connection, statement: &str) -> String {
    let mut stmt = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {statement}"))
        .unwrap();
    let unbound = std::iter::repeat_n(rusqlite::types::Null, stmt.parameter_count());
    let details = stmt
        .query_map(rusqlite::params_from_iter(unbound), |row| {
            row.get::<_, String>(3)
        })
        .unwrap()
        .collect::<rusqlite::Result<Vec<_>>>()
        .unwrap();
    details.join("\n")
}

#[test]
fn step_logs_are_found_through_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    let conn = schema::open_writer(&path).unwrap();
    schema::migrate(&conn, &path).unwrap();
    // Reading one log: both tables by key, no scan.
    let read = plan(&conn, sql::SELECT_STEP_LOG);
    assert!(!read.contains("SCAN"), "{read}");
    assert!(read.contains("SEARCH objects"), "{read}");
    assert!(
        read.contains("SEARCH step_logs") && read.contains("(object_uid=? AND step=?)"),
        "{read}"
    );
    // Deleting an object's logs (what the cascade runs): by the primary key's prefix.
    let cascade = plan(&conn, "DELETE FROM step_logs WHERE object_uid = ?1");
    assert!(!cascade.contains("SCAN"), "{cascade}");
    assert!(
        cascade.contains("SEARCH step_logs") && cascade.contains("(object_uid=?)"),
        "{cascade}"
    );
}
