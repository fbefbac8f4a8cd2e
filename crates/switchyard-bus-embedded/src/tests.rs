//! Tests that reach inside the writer and the files: a full disk, a panicking job, the
//! directory lock, schema versions, and what is stored for retention and acks.

use super::*;
use rusqlite::{Connection, OpenFlags};
use std::time::Duration;
use switchyard_bus::Subject;

fn open(dir: &Path) -> EmbeddedBus {
    EmbeddedBus::open(dir, Limits::default()).unwrap()
}

fn message(subject: &str, payload: Vec<u8>) -> OutgoingMessage {
    OutgoingMessage::new(Subject::new(subject).unwrap(), payload)
}

fn raw(dir: &Path) -> Connection {
    Connection::open_with_flags(dir.join(DB_FILE), OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap()
}

fn all() -> Vec<SubjectFilter> {
    vec![SubjectFilter::all()]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_retryable_and_the_writer_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let bus = open(dir.path());
    assert_eq!(
        bus.publish(message("a", b"small".to_vec()))
            .await
            .unwrap()
            .seq,
        1
    );

    // Cap the database at its current size: any new page now fails with SQLITE_FULL.
    bus.exec("PRAGMA max_page_count = 1").await.unwrap();
    for attempt in 0..3 {
        let err = bus
            .publish(message("a", vec![7; 512 * 1024]))
            .await
            .unwrap_err();
        assert!(err.is_retryable(), "attempt {attempt}: {err}");
        assert!(
            err.to_string().contains("the disk is full"),
            "attempt {attempt}: {err}"
        );
    }
    assert_eq!(bus.info().await.unwrap().last_seq, 1, "nothing was stored");

    // Space returns: the same publish succeeds and takes the next sequence, not a later one.
    bus.exec("PRAGMA max_page_count = 1073741823")
        .await
        .unwrap();
    let published = bus
        .publish(message("a", vec![7; 512 * 1024]))
        .await
        .unwrap();
    assert_eq!(published.seq, 2);
    let read = bus.read(1, 10, &SubjectFilter::all()).await.unwrap();
    assert_eq!(read.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![1, 2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_job_fails_alone_and_the_writer_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let bus = open(dir.path());
    let err = bus.panic_in_writer().await.unwrap_err();
    assert!(matches!(err, BusError::Internal { .. }), "{err}");
    assert_eq!(
        bus.publish(message("a", b"x".to_vec())).await.unwrap().seq,
        1
    );
    bus.close().await.unwrap();
}

#[tokio::test]
async fn one_bus_per_directory_until_it_is_closed_or_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let bus = open(dir.path());
    let err = EmbeddedBus::open(dir.path(), Limits::default()).unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(err.to_string().contains("is already open"), "{err}");
    bus.close().await.unwrap();
    let again = open(dir.path());
    drop(again);
    let third = open(dir.path());
    assert_eq!(third.dir(), dir.path());
}

#[tokio::test]
async fn bad_limits_are_refused_before_anything_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let bus_dir = dir.path().join("bus");
    let limits = Limits {
        max_messages: Some(0),
        ..Limits::default()
    };
    let err = EmbeddedBus::open(&bus_dir, limits).unwrap_err();
    assert!(matches!(err, BusError::Invalid { .. }), "{err}");
    assert!(!bus_dir.exists());
}

#[tokio::test]
async fn a_database_from_a_newer_build_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()));
    {
        let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
        conn.execute(
            "INSERT INTO migrations (version, name, applied_at) VALUES (99, 'future', 0)",
            [],
        )
        .unwrap();
    }
    let err = EmbeddedBus::open(dir.path(), Limits::default()).unwrap_err();
    assert!(matches!(err, BusError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("schema version 99"), "{err}");
}

/// Out-of-order acks are stored above the floor and pruned once the floor passes them, so
/// the ack table stays small.
#[tokio::test]
async fn out_of_order_acks_are_pruned_when_the_floor_passes_them() {
    let dir = tempfile::tempdir().unwrap();
    let bus = open(dir.path());
    for _ in 0..5 {
        bus.publish(message("a", b"x".to_vec())).await.unwrap();
    }
    let c = bus.consumer(ConsumerSpec::new("c", all())).await.unwrap();
    let mut delivered = Vec::new();
    for _ in 0..5 {
        delivered.push(c.next().await.unwrap());
    }
    for i in [1, 3, 4] {
        c.ack(&delivered[i]).await.unwrap();
    }
    let stored = |dir: &Path| -> (i64, Vec<i64>) {
        let conn = raw(dir);
        let floor = conn
            .query_row(
                "SELECT ack_floor FROM consumers WHERE name = 'c'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let mut stmt = conn
            .prepare("SELECT seq FROM consumer_acks ORDER BY seq")
            .unwrap();
        let acks = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<Vec<i64>, _>>()
            .unwrap();
        (floor, acks)
    };
    assert_eq!(stored(dir.path()), (0, vec![2, 4, 5]));
    c.ack(&delivered[0]).await.unwrap();
    assert_eq!(stored(dir.path()), (2, vec![4, 5]));
    c.ack(&delivered[2]).await.unwrap();
    assert_eq!(stored(dir.path()), (5, vec![]));
}

/// The retained byte count the writer keeps matches the rows, across retention and a
/// restart; sequences stay contiguous.
#[tokio::test]
async fn retained_bytes_match_the_rows() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        max_messages: Some(40),
        max_bytes: Some(20_000),
        max_payload: 2_000,
        ..Limits::default()
    };
    let check = |dir: &Path| {
        let conn = raw(dir);
        let (bytes, sum, count, first, last): (i64, i64, i64, Option<i64>, i64) = conn
            .query_row(
                "SELECT (SELECT bytes FROM stream), (SELECT coalesce(sum(size), 0) FROM messages),
                        (SELECT count(*) FROM messages), (SELECT min(seq) FROM messages),
                        (SELECT last_seq FROM stream)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .unwrap();
        assert_eq!(bytes, sum, "stored byte count");
        assert!(bytes <= 20_000, "{bytes}");
        assert!(count <= 40, "{count}");
        assert_eq!(first.map(|f| last - f + 1), Some(count), "contiguous");
    };
    for round in 0..2 {
        let bus = EmbeddedBus::open(dir.path(), limits.clone()).unwrap();
        for i in 0..100usize {
            let size = (i * 37 + round * 11) % 2_000;
            let msg =
                message(&format!("s.{}", i % 7), vec![1; size]).with_header("i", i.to_string());
            bus.publish(msg).await.unwrap();
        }
        bus.close().await.unwrap();
        check(dir.path());
    }
}

/// The age sweep runs on its own while the bus is idle.
#[tokio::test]
async fn expired_messages_go_while_the_bus_is_idle() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        dedup_window: Duration::from_millis(10),
        max_age: Some(Duration::from_millis(50)),
        ..Limits::default()
    };
    let bus = EmbeddedBus::open(dir.path(), limits).unwrap();
    bus.publish(message("a", b"x".to_vec())).await.unwrap();
    for _ in 0..400 {
        if bus.info().await.unwrap().messages == 0 {
            let conn = raw(dir.path());
            let bytes: i64 = conn
                .query_row("SELECT bytes FROM stream", [], |r| r.get(0))
                .unwrap();
            assert_eq!(bytes, 0);
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the expired message was never removed");
}

/// Each cause wakes a waiting `next`: a publish, an ack that frees a slot, a nak. (In unit
/// tests the fallback poll is an hour, so none of these deliveries can come from it.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_consumers_are_woken_by_publish_ack_and_nak() {
    const HANG: Duration = Duration::from_secs(10);
    let dir = tempfile::tempdir().unwrap();
    let bus = open(dir.path());
    let spec = ConsumerSpec::new("woken", all())
        .with_max_ack_pending(1)
        .with_ack_wait(Duration::from_secs(3600));
    let c: Arc<dyn Consumer> = Arc::from(bus.consumer(spec).await.unwrap());
    let wait = |c: &Arc<dyn Consumer>| {
        let c = Arc::clone(c);
        tokio::spawn(async move { tokio::time::timeout(HANG, c.next()).await })
    };
    let delivered = |joined: Result<Result<Result<_, BusError>, _>, tokio::task::JoinError>| {
        let d: switchyard_bus::Delivery = joined
            .unwrap()
            .expect("nothing was delivered: the wake-up did not happen")
            .unwrap();
        (d.seq(), d.delivered, d)
    };

    // A publish wakes a consumer waiting on an empty bus.
    let waiting = wait(&c);
    tokio::task::yield_now().await;
    bus.publish(message("a", b"1".to_vec())).await.unwrap();
    let (seq, count, d1) = delivered(waiting.await);
    assert_eq!((seq, count), (1, 1));

    // With its one slot taken, the consumer waits; the ack frees the slot and wakes it.
    bus.publish(message("a", b"2".to_vec())).await.unwrap();
    let waiting = wait(&c);
    tokio::task::yield_now().await;
    c.ack(&d1).await.unwrap();
    let (seq, count, d2) = delivered(waiting.await);
    assert_eq!((seq, count), (2, 1));

    // A nak makes the pending message due at once and wakes the waiting consumer.
    let waiting = wait(&c);
    tokio::task::yield_now().await;
    c.nak(&d2, Duration::ZERO).await.unwrap();
    let (seq, count, _) = delivered(waiting.await);
    assert_eq!((seq, count), (2, 2));
}
