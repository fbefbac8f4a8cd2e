//! Publish and consume throughput of the embedded bus, with the durable floor measured in the
//! same run. A measurement, not a test: it asserts only that every message arrived, and it
//! is ignored by default. Run it in release mode:
//!
//! ```text
//! cargo test --release -p switchyard-bus-embedded --test throughput -- --ignored --nocapture
//! ```
//!
//! The floor is one SQLite commit per row with the same settings (WAL, `synchronous=FULL`),
//! one writer, no bus: what a durable publish cannot beat when publishers take turns.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};
use switchyard_bus::{ConsumerSpec, EventBus, Limits, OutgoingMessage, Subject, SubjectFilter};
use switchyard_bus_embedded::EmbeddedBus;

const PAYLOAD: usize = 512;

fn message(round: &str, publisher: usize, i: usize) -> OutgoingMessage {
    OutgoingMessage::new(
        Subject::new(format!("events.default.webhook.p{publisher}")).unwrap(),
        vec![b'x'; PAYLOAD],
    )
    .with_dedup_id(format!("{round}-{publisher}-{i}/webhook"))
    .with_header("ce-type", "webhook")
}

fn rate(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

/// One INSERT and one COMMIT per row, WAL and `synchronous=FULL`.
fn durable_floor(dir: &std::path::Path, name: &str, rows: usize) -> f64 {
    let conn = rusqlite::Connection::open(dir.join(name)).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "FULL").unwrap();
    conn.execute_batch("CREATE TABLE t (seq INTEGER PRIMARY KEY, subject TEXT, payload BLOB)")
        .unwrap();
    let start = Instant::now();
    for i in 0..rows {
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        conn.execute(
            "INSERT INTO t (seq, subject, payload) VALUES (?1, 'events.default.webhook.p0', ?2)",
            rusqlite::params![i as i64 + 1, vec![b'x'; PAYLOAD]],
        )
        .unwrap();
        conn.execute_batch("COMMIT").unwrap();
    }
    rate(rows, start.elapsed())
}

async fn publish_concurrently(bus: &Arc<EmbeddedBus>, publishers: usize, each: usize) -> f64 {
    let round = format!("{publishers}x{each}");
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for p in 0..publishers {
        let bus = Arc::clone(bus);
        let round = round.clone();
        tasks.spawn(async move {
            for i in 0..each {
                let published = bus.publish(message(&round, p, i)).await.unwrap();
                assert!(!published.duplicate);
            }
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.unwrap();
    }
    rate(publishers * each, start.elapsed())
}

#[test]
#[ignore = "a measurement: run with --release -- --ignored --nocapture"]
fn publish_and_consume_throughput() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let floor_before = durable_floor(dir.path(), "floor-before.db", 500);
        let limits = Limits {
            max_messages: None,
            ..Limits::default()
        };
        let bus = Arc::new(EmbeddedBus::open(&dir.path().join("bus"), limits).unwrap());

        let sequential = publish_concurrently(&bus, 1, 500).await;
        let c32 = publish_concurrently(&bus, 32, 1_000).await;
        let c128 = publish_concurrently(&bus, 128, 250).await;
        let total = bus.info().await.unwrap().messages as usize;
        assert_eq!(total, 500 + 32_000 + 32_000);

        // One consumer reads everything, acking each message before the next (one fsync per
        // ack unless acks overlap), then a second one acks from spawned tasks so that acks
        // share commits.
        let one_by_one = {
            let c = bus
                .consumer(ConsumerSpec::new("serial", vec![SubjectFilter::all()]))
                .await
                .unwrap();
            let n = 2_000;
            let start = Instant::now();
            for _ in 0..n {
                let d = c.next().await.unwrap();
                c.ack(&d).await.unwrap();
            }
            rate(n, start.elapsed())
        };
        let overlapped = {
            let c: Arc<dyn switchyard_bus::Consumer> = Arc::from(
                bus.consumer(
                    ConsumerSpec::new("overlapped", vec![SubjectFilter::all()])
                        .with_max_ack_pending(256),
                )
                .await
                .unwrap(),
            );
            let start = Instant::now();
            let mut acks = tokio::task::JoinSet::new();
            for _ in 0..total {
                let d = c.next().await.unwrap();
                let c = Arc::clone(&c);
                acks.spawn(async move { c.ack(&d).await.unwrap() });
                while acks.len() > 128 {
                    acks.join_next().await.unwrap().unwrap();
                }
            }
            while let Some(joined) = acks.join_next().await {
                joined.unwrap();
            }
            rate(total, start.elapsed())
        };
        bus.close().await.unwrap();
        // Measured again after the bus ran: disk noise (other writers' flushes) shows as a
        // difference between the two.
        let floor_after = durable_floor(dir.path(), "floor-after.db", 500);
        let floor = floor_before.max(floor_after);

        println!();
        println!("embedded bus, {PAYLOAD}-byte payloads with a dedup id and a header, 2 worker threads");
        println!("{:<46} {:>10}", "workload", "msgs/s");
        for (workload, rate) in [
            ("durable floor (before): 1 row + 1 commit", floor_before),
            ("publish, 1 publisher (sequential)", sequential),
            ("publish, 32 concurrent publishers", c32),
            ("publish, 128 concurrent publishers", c128),
            ("consume + ack, one at a time", one_by_one),
            ("consume + ack, acks overlapped (128)", overlapped),
            ("durable floor (after): 1 row + 1 commit", floor_after),
        ] {
            println!("{workload:<46} {rate:>10.0}");
        }
        println!(
            "against the better floor: sequential publish {:.2}x, 32 publishers {:.1}x, 128 publishers {:.1}x",
            sequential / floor,
            c32 / floor,
            c128 / floor
        );
    });
}
