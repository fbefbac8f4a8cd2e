//! Tests that reach inside the writer: a full disk, and a job that panics.

use super::*;
use serde_json::json;

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
