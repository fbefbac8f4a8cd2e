//! Measured, not asserted: how many object writes and event consumptions per second the
//! store makes, one at a time and from 32 concurrent tasks. Timings belong here, never in a
//! test's assertions; the assertions check only that every operation did what it should.
//!
//! ```text
//! cargo test -p switchyard-store-postgres --release --test throughput -- --ignored --nocapture
//! ```
//!
//! `SWITCHYARD_BENCH_N` sets how many operations each line runs (default 2000).

#![allow(clippy::unwrap_used)]

mod common;

use chrono::Utc;
use serde_json::json;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchyard_model::Kind;
use switchyard_store::ledger::{Consumed, Consumption, EventLedger, NewFiring, SensorId};
use switchyard_store::{ObjectKey, Precondition, PutRequest, StatusUpdate, StepLog, Store};
use switchyard_store_postgres::{PostgresConfig, PostgresStore};

const TASKS: usize = 32;

/// Runs `op(i)` for i in 0..n, from `tasks` tasks, and prints one line of figures.
async fn measure<F, Fut>(what: &str, pool: usize, tasks: usize, n: usize, op: F)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send,
{
    let op = Arc::new(op);
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for task in 0..tasks {
        let op = Arc::clone(&op);
        set.spawn(async move {
            let mut latencies = Vec::new();
            for i in (task..n).step_by(tasks) {
                let one = Instant::now();
                op(i).await;
                latencies.push(one.elapsed());
            }
            latencies
        });
    }
    let mut latencies: Vec<Duration> = Vec::with_capacity(n);
    while let Some(joined) = set.join_next().await {
        latencies.extend(joined.unwrap());
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    println!(
        "{what:<34} {pool:>4} {tasks:>5} {n:>6} {:>9.0} {:>9.2} {:>9.2}",
        n as f64 / elapsed.as_secs_f64(),
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
    );
}

fn consumption(sensor: &SensorId, i: usize) -> Consumption {
    Consumption {
        sensor: sensor.clone(),
        event_key: format!("webhook/bench/{i}"),
        event_id: format!("{i}"),
        event_source: "bench".into(),
        event_name: "orders".into(),
        at: Utc::now(),
        state: json!({"seen": i, "pending": {"d1": {"id": i}}}),
        outcome: json!({"dependencies": {"d1": "matched"}}),
        firings: vec![NewFiring {
            key: format!("{}/{i}", sensor.uid),
            trigger: "t1".into(),
            payload: json!({"action": {"workflow": {"name": format!("run-{i}")}}}),
        }],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a measurement, not a test: run it in release with --ignored --nocapture"]
async fn writes_and_consumptions_per_second() {
    let Some((store, guard)) = common::store().await else {
        return;
    };
    let n: usize = std::env::var("SWITCHYARD_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let wide = {
        let mut config = PostgresConfig::new(guard.url.clone(), guard.schema.clone());
        config.max_connections = TASKS;
        PostgresStore::connect(&config, common::sealer())
            .await
            .unwrap()
    };
    let raw = common::raw(&guard.url).await;
    for setting in [
        "server_version",
        "synchronous_commit",
        "fsync",
        "wal_sync_method",
    ] {
        let row = raw
            .query_one(&format!("SHOW {setting}"), &[])
            .await
            .unwrap();
        println!("{setting} = {}", row.get::<_, String>(0));
    }
    println!(
        "{:<34} {:>4} {:>5} {:>6} {:>9} {:>9} {:>9}",
        "operation", "pool", "tasks", "ops", "ops/s", "p50 ms", "p99 ms"
    );
    let stores: [(usize, Arc<PostgresStore>); 2] = [(8, Arc::new(store)), (TASKS, Arc::new(wide))];

    // A read of one missing row: the round trip every call pays at least.
    for (pool, store) in &stores {
        for tasks in [1, TASKS] {
            let store = Arc::clone(store);
            measure("read (get_meta, missing)", *pool, tasks, n, move |_| {
                let store = Arc::clone(&store);
                async move {
                    assert_eq!(store.get_meta("absent").await.unwrap(), None);
                }
            })
            .await;
        }
    }

    for (round, (pool, store)) in stores.iter().enumerate() {
        for tasks in [1, TASKS] {
            let store = Arc::clone(store);
            measure("put (create a ConfigMap)", *pool, tasks, n, move |i| {
                let store = Arc::clone(&store);
                async move {
                    let name = format!("cm-{round}-{tasks}-{i}");
                    let outcome = store
                        .put(PutRequest::new(
                            Kind::ConfigMap,
                            "default",
                            name,
                            json!({"data": {"i": i.to_string()}}),
                        ))
                        .await
                        .unwrap();
                    assert_eq!(outcome.action_str(), "created");
                }
            })
            .await;
        }
    }

    // Status writes with one step log, each run chaining on its own last version, as the
    // engine writes them.
    for (round, (pool, store)) in stores.iter().enumerate() {
        for tasks in [1, TASKS] {
            let mut versions = Vec::new();
            for run in 0..tasks {
                let object = store
                    .put(PutRequest::new(
                        Kind::Workflow,
                        "default",
                        format!("run-{round}-{tasks}-{run}"),
                        json!({"spec": {"entrypoint": "main"}}),
                    ))
                    .await
                    .unwrap();
                versions.push(std::sync::Mutex::new(object.object().resource_version));
            }
            let (store, versions) = (Arc::clone(store), Arc::new(versions));
            measure("put_status (+1 step log)", *pool, tasks, n, move |i| {
                let (store, versions) = (Arc::clone(&store), Arc::clone(&versions));
                async move {
                    // Operation i runs on task i % tasks, which owns run i % tasks.
                    let run = i % tasks;
                    let version = *versions[run].lock().unwrap();
                    let written = store
                        .put_status(StatusUpdate {
                            key: ObjectKey::new(
                                Kind::Workflow,
                                "default",
                                format!("run-{round}-{tasks}-{run}"),
                            ),
                            status: json!({"phase": "Running", "progress": i}),
                            precondition: Precondition::ResourceVersion(version),
                            logs: vec![StepLog {
                                step: format!("step-{i}"),
                                text: "hello\n".repeat(20),
                            }],
                        })
                        .await
                        .unwrap();
                    *versions[run].lock().unwrap() = written.resource_version;
                }
            })
            .await;
        }
    }

    for (round, (pool, store)) in stores.iter().enumerate() {
        for tasks in [1, TASKS] {
            let store = Arc::clone(store);
            measure("consume (+state, +1 firing)", *pool, tasks, n, move |i| {
                let store = Arc::clone(&store);
                async move {
                    // One sensor per task: a sensor consumes its events in order.
                    let sensor = SensorId {
                        namespace: "default".into(),
                        name: format!("s-{}", i % tasks),
                        uid: format!("u-{round}-{tasks}-{}", i % tasks),
                    };
                    let consumed = store.consume(consumption(&sensor, i)).await.unwrap();
                    assert_eq!(consumed, Consumed::Now);
                }
            })
            .await;
        }
    }

    let listed = stores[0].1.list(Kind::ConfigMap, None).await.unwrap();
    assert_eq!(listed.len(), 4 * n, "every put created its object");
    let due = stores[0].1.due_firings(Utc::now(), 8 * n).await.unwrap();
    assert_eq!(due.len(), 4 * n, "every consumption left its firing");
}
