//! SQLite-specific promises: durability across reopen, sealed Secrets on disk, migrations,
//! group commit under concurrent load, and step logs stored and deleted with their object.

#![allow(clippy::unwrap_used)]

use rusqlite::{Connection, OpenFlags};
use serde_json::json;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use switchyard_model::Kind;
use switchyard_store::{
    ObjectKey, Precondition, PutRequest, SecretSealer, StatusUpdate, StepLog, Store, StoreError,
};
use switchyard_store_sqlite::SqliteStore;

fn db_path(dir: &Path) -> PathBuf {
    dir.join("switchyard.db")
}

fn open(dir: &Path) -> SqliteStore {
    let sealer = SecretSealer::load_or_create(dir).unwrap();
    SqliteStore::open(&db_path(dir), sealer).unwrap()
}

fn raw(dir: &Path) -> Connection {
    Connection::open_with_flags(db_path(dir), OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap()
}

#[tokio::test]
async fn data_survives_close_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (created, version) = {
        let store = open(dir.path());
        let created = store
            .put(PutRequest::new(
                Kind::Sensor,
                "prod",
                "build",
                json!({"spec": {"dependencies": []}}),
            ))
            .await
            .unwrap()
            .into_object();
        store
            .put(PutRequest::new(
                Kind::Secret,
                "prod",
                "token",
                json!({"stringData": {"t": "abc"}}),
            ))
            .await
            .unwrap();
        store.put_meta("bootstrapped", "yes").await.unwrap();
        let last = store
            .put(PutRequest::new(Kind::ConfigMap, "prod", "c", json!({})))
            .await
            .unwrap();
        (created, last.object().resource_version)
    };
    let store = open(dir.path());
    let key = ObjectKey::new(Kind::Sensor, "prod", "build");
    assert_eq!(store.get(&key).await.unwrap(), Some(created));
    let secret = store
        .get(&ObjectKey::new(Kind::Secret, "prod", "token"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(secret.body["stringData"], json!({"t": "abc"}));
    assert_eq!(
        store.get_meta("bootstrapped").await.unwrap().as_deref(),
        Some("yes")
    );
    // The counter survives too: the next write takes a larger version.
    let next = store
        .put(PutRequest::new(Kind::ConfigMap, "prod", "d", json!({})))
        .await
        .unwrap();
    assert!(next.object().resource_version > version);
}

#[tokio::test]
async fn secret_bodies_are_not_stored_in_plain_text() {
    const SECRET: &str = "hunter2-plaintext-marker";
    const PUBLIC: &str = "configmap-plaintext-marker";
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        store
            .put(PutRequest::new(
                Kind::Secret,
                "default",
                "creds",
                json!({"stringData": {"password": SECRET}}),
            ))
            .await
            .unwrap();
        store
            .put(PutRequest::new(
                Kind::ConfigMap,
                "default",
                "settings",
                json!({"data": {"value": PUBLIC}}),
            ))
            .await
            .unwrap();

        // While the store is open: the stored blob is sealed, the ConfigMap's is not.
        let conn = raw(dir.path());
        for (kind, marker, sealed) in [("Secret", SECRET, true), ("ConfigMap", PUBLIC, false)] {
            let (body, flag): (Vec<u8>, bool) = conn
                .query_row(
                    "SELECT body, sealed FROM objects WHERE kind = ?1",
                    [kind],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .unwrap();
            assert_eq!(flag, sealed, "{kind}");
            assert_eq!(contains(&body, marker.as_bytes()), !sealed, "{kind}");
        }
    }
    // After close: no file in the directory holds the secret; the scan does find the public
    // marker, so it would have found the secret had it been there.
    let mut found_public = false;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!contains(&bytes, SECRET.as_bytes()));
        found_public |= contains(&bytes, PUBLIC.as_bytes());
    }
    assert!(found_public);
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn migrations_run_once_and_reopen_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let versions = |dir: &Path| -> Vec<(i64, String)> {
        let conn = raw(dir);
        let mut stmt = conn
            .prepare("SELECT version, name FROM migrations ORDER BY version")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    drop(open(dir.path()));
    let first = versions(dir.path());
    assert_eq!(
        first,
        vec![
            (1, "objects, resource version counter, meta".to_owned()),
            (2, "step logs".to_owned()),
            (3, "event ledger".to_owned()),
            (4, "consumptions by event id".to_owned()),
            (5, "leases".to_owned()),
        ]
    );
    for _ in 0..3 {
        let store = open(dir.path());
        store.put_meta("k", "v").await.unwrap();
        drop(store);
        assert_eq!(versions(dir.path()), first);
    }
    let conn = raw(dir.path());
    let counters: i64 = conn
        .query_row("SELECT count(*) FROM counters", [], |r| r.get(0))
        .unwrap();
    assert_eq!(counters, 1, "the counter row is inserted once");
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn a_database_from_a_newer_build_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()));
    {
        let conn = Connection::open(db_path(dir.path())).unwrap();
        conn.execute(
            "INSERT INTO migrations (version, name, applied_at) VALUES (6, 'future', 'x')",
            [],
        )
        .unwrap();
    }
    let sealer = SecretSealer::load_or_create(dir.path()).unwrap();
    let err = SqliteStore::open(&db_path(dir.path()), sealer).unwrap_err();
    assert_eq!(
        err,
        StoreError::Corrupt {
            what: format!(
                "{} has schema version 6, but this build of Switchyard knows versions up to 5; \
                 run a newer Switchyard, or restore a backup taken with this version",
                db_path(dir.path()).display()
            )
        }
    );
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(db_path(dir.path()), vec![b'x'; 4096]).unwrap();
    let sealer = SecretSealer::load_or_create(dir.path()).unwrap();
    let err = SqliteStore::open(&db_path(dir.path()), sealer).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("file is not a database"), "{err}");
}

#[tokio::test]
async fn a_secret_sealed_with_another_key_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(dir.path());
    {
        let store = SqliteStore::open(&path, SecretSealer::from_key([1; 32])).unwrap();
        store
            .put(PutRequest::new(
                Kind::Secret,
                "default",
                "s",
                json!({"data": {}}),
            ))
            .await
            .unwrap();
    }
    let store = SqliteStore::open(&path, SecretSealer::from_key([2; 32])).unwrap();
    let err = store
        .get(&ObjectKey::new(Kind::Secret, "default", "s"))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "stored data cannot be read: secret/default/s: a sealed Secret body failed authentication \
         with the key from an in-memory key: it was sealed with another key or has been altered"
    );
    assert!(!err.is_retryable());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn group_commit_serves_200_concurrent_puts_with_unique_versions() {
    const PUTS: usize = 200;
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(open(dir.path()));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..PUTS {
        let store = Arc::clone(&store);
        tasks.spawn(async move {
            // Half the writes go to distinct objects, half hit 10 shared ones.
            let name = if i % 2 == 0 {
                format!("own-{i}")
            } else {
                format!("shared-{}", i % 10)
            };
            let kind = if i % 3 == 0 {
                Kind::Secret
            } else {
                Kind::ConfigMap
            };
            store
                .put(PutRequest::new(
                    kind,
                    "load",
                    name,
                    json!({"data": {"i": i.to_string()}}),
                ))
                .await
        });
    }
    let mut versions = BTreeSet::new();
    let mut count = 0;
    while let Some(joined) = tasks.join_next().await {
        let outcome = joined.unwrap().unwrap();
        assert_ne!(outcome.action_str(), "unchanged", "every body differs");
        versions.insert(outcome.object().resource_version);
        count += 1;
    }
    assert_eq!(count, PUTS);
    assert_eq!(versions.len(), PUTS, "resource versions are unique");
    // Everything that was answered Ok is readable.
    let listed = store
        .list(Kind::ConfigMap, Some("load"))
        .await
        .unwrap()
        .len()
        + store.list(Kind::Secret, Some("load")).await.unwrap().len();
    let distinct: BTreeSet<(bool, String)> = (0..PUTS)
        .map(|i| {
            let name = if i % 2 == 0 {
                format!("own-{i}")
            } else {
                format!("shared-{}", i % 10)
            };
            (i % 3 == 0, name)
        })
        .collect();
    assert_eq!(listed, distinct.len());
}

fn step_log_rows(dir: &Path) -> i64 {
    raw(dir)
        .query_row("SELECT count(*) FROM step_logs", [], |r| r.get(0))
        .unwrap()
}

#[tokio::test]
async fn a_deleted_workflow_takes_its_thousands_of_logs_with_it() {
    const STEPS: usize = 3000;
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let key = ObjectKey::new(Kind::Workflow, "default", "big");
    let keep = ObjectKey::new(Kind::Workflow, "default", "other");
    for k in [&key, &keep] {
        store
            .put(PutRequest::new(
                Kind::Workflow,
                "default",
                k.name.clone(),
                json!({"spec": {}}),
            ))
            .await
            .unwrap();
    }
    let logs: Vec<StepLog> = (0..STEPS)
        .map(|i| StepLog {
            step: format!("big-{i}"),
            text: format!("output of step {i}\n"),
        })
        .collect();
    store
        .put_status(StatusUpdate {
            key: key.clone(),
            status: json!({"phase": "Succeeded"}),
            precondition: Precondition::MustExist,
            logs,
        })
        .await
        .unwrap();
    store
        .put_status(StatusUpdate {
            key: keep.clone(),
            status: json!({}),
            precondition: Precondition::MustExist,
            logs: vec![StepLog {
                step: "main".to_owned(),
                text: "kept".to_owned(),
            }],
        })
        .await
        .unwrap();
    assert_eq!(step_log_rows(dir.path()), STEPS as i64 + 1);

    store.delete(&key, Precondition::MustExist).await.unwrap();
    assert_eq!(
        step_log_rows(dir.path()),
        1,
        "the deleted object's log rows are gone, the other's stay"
    );
    assert_eq!(
        store.step_log(&keep, "main").await.unwrap().as_deref(),
        Some("kept")
    );
}

#[tokio::test]
async fn a_large_workflow_status_and_a_32_mib_log_round_trip_and_survive_reopen() {
    const NODES: usize = 6000;
    let dir = tempfile::tempdir().unwrap();
    let key = ObjectKey::new(Kind::Workflow, "default", "large");
    // About 1 MB of status: thousands of nodes, as a large workflow has.
    let nodes: serde_json::Map<String, serde_json::Value> = (0..NODES)
        .map(|i| {
            (
                format!("large-{i}"),
                json!({"id": format!("large-{i}"), "name": format!("large[{i}].step"),
                    "phase": "Succeeded", "startedAt": "2026-01-01T00:00:00Z",
                    "finishedAt": "2026-01-01T00:00:01Z", "outputs": {"exitCode": "0"}}),
            )
        })
        .collect();
    let status = json!({"phase": "Succeeded", "nodes": nodes});
    let log: String = "0123456789abcde\n".repeat(2 << 20);
    assert_eq!(log.len(), 32 << 20);
    let written = {
        let store = open(dir.path());
        let created = store
            .put(PutRequest::new(
                Kind::Workflow,
                "default",
                "large",
                json!({"spec": {"entrypoint": "main"}}),
            ))
            .await
            .unwrap()
            .into_object();
        let mut written = None;
        // Twice: the second write replaces a large status and a large log.
        for _ in 0..2 {
            let version = written.as_ref().map_or(
                created.resource_version,
                |o: &switchyard_store::StoredObject| o.resource_version,
            );
            written = Some(
                store
                    .put_status(StatusUpdate {
                        key: key.clone(),
                        status: status.clone(),
                        precondition: Precondition::ResourceVersion(version),
                        logs: vec![StepLog {
                            step: "large-0".to_owned(),
                            text: log.clone(),
                        }],
                    })
                    .await
                    .unwrap(),
            );
        }
        written.unwrap()
    };
    assert!(serde_json::to_vec(&written.body).unwrap().len() > 1_000_000);
    let store = open(dir.path());
    assert_eq!(store.get(&key).await.unwrap().as_ref(), Some(&written));
    assert_eq!(written.body["status"], status);
    assert_eq!(
        store.step_log(&key, "large-0").await.unwrap().as_deref(),
        Some(log.as_str())
    );
    assert_eq!(step_log_rows(dir.path()), 1);
}
