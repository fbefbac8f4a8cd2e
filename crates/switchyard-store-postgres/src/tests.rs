//! The pool's retries and deadline, forced from inside the work itself, and the writer's
//! group commit, against the server the integration tests use
//! (`SWITCHYARD_TEST_POSTGRES_URL`): skipped with a note when it is unreachable, failing when
//! `CI=true`.

use serde_json::json;
use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use switchyard_model::Kind;
use switchyard_store::{
    ObjectKey, Precondition, PutRequest, SecretSealer, StatusUpdate, StepLog, Store, StoreError,
};

use crate::PostgresStore;
use crate::config::{self, PostgresConfig};
use crate::pool::{Call, Pool, column, execute, query_opt};
use crate::writer::QUEUE_CAPACITY;

fn url() -> String {
    std::env::var("SWITCHYARD_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A plain connection to the server, or `None` (having said so) when the test must be
/// skipped.
async fn raw() -> Option<tokio_postgres::Client> {
    let url = url();
    match tokio_postgres::connect(&url, tokio_postgres::NoTls).await {
        Ok((client, connection)) => {
            tokio::spawn(connection);
            Some(client)
        }
        Err(e) if std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true")) => {
            panic!("PostgreSQL at {url} is unreachable ({e}), and CI=true requires it")
        }
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "skipped: PostgreSQL at {url} is unreachable ({e})"
            );
            None
        }
    }
}

async fn pool(call_timeout: Duration) -> Option<Pool> {
    raw().await?;
    // The schema is never created: these tests use no table.
    let mut config = PostgresConfig::new(url(), "switchyard_pool_tests");
    config.call_timeout = call_timeout;
    let pg = config::connection_config(&config).unwrap();
    Some(Pool::new(pg, &config, "the test server".to_owned()).unwrap())
}

/// Raises an error with this SQLSTATE, as the server would.
fn raise(code: &str) -> String {
    format!("DO $$ BEGIN RAISE EXCEPTION 'forced by a test' USING ERRCODE = '{code}'; END $$")
}

/// Ends the session running it, as an administrator or a restart would.
const KILL_OWN_SESSION: &str = "SELECT pg_terminate_backend(pg_backend_pid())";
const OWN_PID: &str = "SELECT pg_backend_pid()";

#[tokio::test]
async fn transactions_the_server_rolled_back_run_again() {
    let Some(pool) = pool(Duration::from_secs(30)).await else {
        return;
    };
    for code in ["40001", "40P01"] {
        let calls = AtomicU32::new(0);
        let (calls_ref, raised) = (&calls, &raise(code));
        let result = pool
            .transact("testing", move |tx, _| {
                Box::pin(async move {
                    if calls_ref.fetch_add(1, Ordering::SeqCst) < 2 {
                        execute(tx, raised, &[], "raising").await?;
                    }
                    Ok("done")
                })
            })
            .await;
        assert_eq!(result, Ok("done"), "{code}");
        assert_eq!(calls.load(Ordering::SeqCst), 3, "{code}");
    }
    // Any other error is the caller's at once.
    let calls = AtomicU32::new(0);
    let (calls_ref, raised) = (&calls, &raise("23505"));
    let err = pool
        .transact("testing", move |tx, _| {
            Box::pin(async move {
                calls_ref.fetch_add(1, Ordering::SeqCst);
                execute(tx, raised, &[], "raising").await
            })
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Internal { .. }), "{err}");
    assert!(err.to_string().contains("(SQLSTATE 23505)"), "{err}");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_transaction_whose_connection_broke_before_commit_runs_again_elsewhere() {
    let Some(pool) = pool(Duration::from_secs(30)).await else {
        return;
    };
    let pids = std::sync::Mutex::new(Vec::new());
    let pids_ref = &pids;
    let result = pool
        .transact("testing", move |tx, _| {
            Box::pin(async move {
                let row = query_opt(tx, OWN_PID, &[], "asking").await?;
                let pid: i32 = column(&row.unwrap(), 0, "asking")?;
                let first = {
                    let mut pids = pids_ref.lock().unwrap();
                    pids.push(pid);
                    pids.len() == 1
                };
                if first {
                    query_opt(tx, KILL_OWN_SESSION, &[], "ending the session").await?;
                }
                Ok(pid)
            })
        })
        .await;
    let pids = pids.into_inner().unwrap();
    assert_eq!(pids.len(), 2);
    assert_ne!(pids[0], pids[1], "the retry ran on a new connection");
    assert_eq!(result, Ok(pids[1]));
}

#[tokio::test]
async fn a_broken_connection_retries_a_read_and_reports_a_write_as_uncertain() {
    let Some(pool) = pool(Duration::from_secs(30)).await else {
        return;
    };
    let calls = AtomicU32::new(0);
    let calls_ref = &calls;
    let read = pool
        .run(Call::Read, "reading", move |c, _| {
            Box::pin(async move {
                if calls_ref.fetch_add(1, Ordering::SeqCst) == 0 {
                    query_opt(c, KILL_OWN_SESSION, &[], "ending the session").await?;
                }
                Ok("read")
            })
        })
        .await;
    assert_eq!(read, Ok("read"));
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    let err = pool
        .run(Call::Write, "writing", |c, _| {
            Box::pin(async move {
                query_opt(c, KILL_OWN_SESSION, &[], "ending the session").await?;
                Ok(())
            })
        })
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(
        err.to_string().contains(
            "the connection to the test server broke while writing, so it may or may not have been applied"
        ),
        "{err}"
    );
    // The pool goes on with new connections.
    let pid = pool
        .run(Call::Read, "asking", |c, _| {
            Box::pin(async move {
                let row = query_opt(c, OWN_PID, &[], "asking").await?;
                column::<i32>(&row.unwrap(), 0, "asking")
            })
        })
        .await;
    assert!(pid.is_ok(), "{pid:?}");
}

#[tokio::test]
async fn a_call_past_its_deadline_is_unavailable_and_its_connection_closed() {
    let Some(pool) = pool(Duration::from_millis(300)).await else {
        return;
    };
    let err = pool
        .run(Call::Read, "sleeping", |c, _| {
            Box::pin(async move { query_opt(c, "SELECT pg_sleep(60)", &[], "sleeping").await })
        })
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(
        err.to_string()
            .contains("sleeping on the test server took longer than 300ms"),
        "{err}"
    );
    // The sleeping connection was not returned to the pool: the next call gets another.
    let status = pool.status();
    assert_eq!(status.size, 0, "{status:?}");
    let answered = pool
        .run(Call::Read, "asking", |c, _| {
            Box::pin(async move { query_opt(c, "SELECT 1", &[], "asking").await })
        })
        .await;
    assert!(answered.is_ok(), "{answered:?}");
}

/// Drops its schema when dropped (from a thread of its own: the test's runtime cannot be
/// blocked on).
struct DropSchema(String);

impl Drop for DropSchema {
    fn drop(&mut self) {
        let schema = self.0.clone();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                if let Some(client) = raw().await {
                    let _ = client
                        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                        .await;
                }
            });
            std::io::Result::Ok(())
        })
        .join();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_writes_share_one_commit_and_fail_alone() {
    const RUNS: usize = 40;
    let Some(raw) = raw().await else {
        return;
    };
    let schema = format!("sy_test_{:016x}", rand::random::<u64>());
    let _drop = DropSchema(schema.clone());
    // The application name finds the store's sessions among everyone else's.
    let app_url = match url() {
        u if u.contains("://") && u.contains('?') => format!("{u}&application_name={schema}"),
        u if u.contains("://") => format!("{u}?application_name={schema}"),
        u => format!("{u} application_name={schema}"),
    };
    let store = PostgresStore::connect(
        &PostgresConfig::new(app_url, schema.clone()),
        SecretSealer::from_key([7; 32]),
    )
    .await
    .unwrap();
    let store = Arc::new(store);
    let mut versions = Vec::new();
    for run in 0..RUNS {
        let put = store
            .put(PutRequest::new(
                Kind::Workflow,
                "default",
                format!("run-{run}"),
                json!({"spec": {}}),
            ))
            .await
            .unwrap();
        versions.push(put.object().resource_version);
    }

    // Hold the resource version lock from outside, so the writer's next batch waits for it.
    raw.batch_execute(&format!(
        "BEGIN; SELECT value FROM {schema}.counters FOR UPDATE"
    ))
    .await
    .unwrap();
    let blocker = {
        let store = Arc::clone(&store);
        tokio::spawn(async move { store.put(cm("blocker")).await })
    };
    loop {
        let waiting: i64 = raw
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
                &[&schema],
            )
            .await
            .unwrap()
            .get(0);
        if waiting == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // Queue, behind it: a status write per run (the first with a stale version) and a
    // put_many whose second request must fail.
    let mut writes = tokio::task::JoinSet::new();
    for (run, version) in versions.iter().copied().enumerate() {
        let store = Arc::clone(&store);
        let precondition = if run == 0 {
            Precondition::ResourceVersion(version - 1)
        } else {
            Precondition::ResourceVersion(version)
        };
        writes.spawn(async move {
            let key = ObjectKey::new(Kind::Workflow, "default", format!("run-{run}"));
            let result = store
                .put_status(StatusUpdate {
                    logs: vec![StepLog {
                        step: "main".into(),
                        text: format!("log of run {run}"),
                    }],
                    key,
                    status: json!({"phase": "Succeeded"}),
                    precondition,
                })
                .await;
            (run, result.map(|_| ()))
        });
    }
    let failing_many = {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            store
                .put_many(vec![
                    cm("from-many"),
                    cm("blocker").with_precondition(Precondition::MustNotExist),
                ])
                .await
        })
    };
    while QUEUE_CAPACITY - store.writer.jobs.capacity() < RUNS + 1 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let before = store.writer.shared().commits.load(Ordering::SeqCst);
    raw.batch_execute("COMMIT").await.unwrap();

    assert_eq!(blocker.await.unwrap().unwrap().action_str(), "created");
    while let Some(joined) = writes.join_next().await {
        let (run, result) = joined.unwrap();
        if run == 0 {
            assert!(
                matches!(result, Err(StoreError::Conflict { .. })),
                "{result:?}"
            );
        } else {
            assert_eq!(result, Ok(()), "run {run}");
        }
    }
    let err = failing_many.await.unwrap().unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists { .. }), "{err}");
    assert_eq!(
        store.writer.shared().commits.load(Ordering::SeqCst) - before,
        2,
        "the blocked write, then the {} queued behind it, each batch in one commit",
        RUNS + 1
    );

    // Each write of the batch did exactly what it would have done alone.
    let key = |run: usize| ObjectKey::new(Kind::Workflow, "default", format!("run-{run}"));
    assert_eq!(store.step_log(&key(0), "main").await.unwrap(), None);
    for run in 1..RUNS {
        assert_eq!(
            store.step_log(&key(run), "main").await.unwrap(),
            Some(format!("log of run {run}"))
        );
    }
    let names: Vec<String> = store
        .list(Kind::ConfigMap, None)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.name)
        .collect();
    assert_eq!(names, ["blocker"], "the failed put_many left nothing");
}

fn cm(name: &str) -> PutRequest {
    PutRequest::new(Kind::ConfigMap, "default", name, json!({"data": {}}))
}
