//! SQLite-specific promises: durability across reopen, sealed Secrets on disk, migrations,
//! and group commit under concurrent load.

#![allow(clippy::unwrap_used)]

use rusqlite::{Connection, OpenFlags};
use serde_json::json;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use switchyard_model::Kind;
use switchyard_store::{ObjectKey, PutRequest, SecretSealer, Store, StoreError};
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
        vec![(1, "objects, resource version counter, meta".to_owned())]
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
            "INSERT INTO migrations (version, name, applied_at) VALUES (2, 'future', 'x')",
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
                "{} has schema version 2, but this build of Switchyard knows versions up to 1; \
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
