//! Publish and consume throughput of the JetStream bus, with this machine's fsync rate
//! measured in the same run. A measurement, not a test: it asserts only that every message
//! arrived, and it is ignored by default. Run it in release mode against a NATS server
//! (`SWITCHYARD_TEST_NATS_URL`, default `nats://127.0.0.1:4222`):
//!
//! ```text
//! cargo test --release -p switchyard-bus-jetstream --test throughput -- --ignored --nocapture
//! ```
//!
//! The fsync rate is one 512-byte append plus `fsync` per record on a temporary file: about
//! what a server with `sync_interval: always` can store per second on this disk, since it
//! fsyncs once per message (see the crate docs). It says nothing about the server's own
//! disk when NATS runs elsewhere.

#![allow(clippy::unwrap_used)]

mod support;

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchyard_bus::{
    Consumer, ConsumerSpec, EventBus, Limits, OutgoingMessage, Subject, SubjectFilter,
};
use switchyard_bus_jetstream::JetStreamBus;

const PAYLOAD: usize = 512;
const SEQUENTIAL: usize = 2_000;
const PUBLISHERS: usize = 128;
const EACH: usize = 100;

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

/// Appends and fsyncs one record at a time.
fn fsync_rate(records: usize) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let mut file = std::fs::File::create(dir.path().join("floor")).unwrap();
    let record = [b'x'; PAYLOAD];
    let start = Instant::now();
    for _ in 0..records {
        file.write_all(&record).unwrap();
        file.sync_data().unwrap();
    }
    rate(records, start.elapsed())
}

async fn publish_concurrently(bus: &Arc<JetStreamBus>, publishers: usize, each: usize) -> f64 {
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
        let Some(harness) = support::NatsHarness::start().await else {
            return;
        };
        let floor_before = fsync_rate(500);
        let limits = Limits {
            max_messages: None,
            ..Limits::default()
        };
        let bus = Arc::new(harness.connect(limits).await.unwrap());

        let sequential = publish_concurrently(&bus, 1, SEQUENTIAL).await;
        let concurrent = publish_concurrently(&bus, PUBLISHERS, EACH).await;
        let total = bus.info().await.unwrap().messages as usize;
        assert_eq!(total, SEQUENTIAL + PUBLISHERS * EACH);

        // One consumer acks each message before taking the next; a second one acks from
        // spawned tasks (up to 128 at once) while it takes the next.
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
            let c: Arc<dyn Consumer> = Arc::from(
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
        let read = {
            let start = Instant::now();
            let mut from = 1;
            let mut count = 0;
            loop {
                let page = bus.read(from, 1000, &SubjectFilter::all()).await.unwrap();
                let Some(last) = page.last() else { break };
                from = last.seq + 1;
                count += page.len();
            }
            assert_eq!(count, total);
            rate(count, start.elapsed())
        };
        bus.close().await.unwrap();
        let floor_after = fsync_rate(500);

        println!();
        println!(
            "JetStream bus, {PAYLOAD}-byte payloads with a dedup id and a header, 2 worker threads, \
             NATS at {}",
            support::nats_url()
        );
        println!("{:<50} {:>10}", "workload", "msgs/s");
        for (workload, rate) in [
            ("fsync rate of this disk (before)", floor_before),
            ("publish, 1 publisher (sequential)", sequential),
            ("publish, 128 concurrent publishers", concurrent),
            ("consume + ack, one at a time", one_by_one),
            ("consume + ack, acks overlapped (128)", overlapped),
            ("read, pages of 1000", read),
            ("fsync rate of this disk (after)", floor_after),
        ] {
            println!("{workload:<50} {rate:>10.0}");
        }
    });
}
