//! What the conformance suite cannot see from the outside: how the bus uses the server
//! (stream and consumer settings, the server's answers it relies on), headers NATS would
//! change, platforms sharing one NATS, configuration errors, and an outage of a server this
//! test starts and kills itself.

#![allow(clippy::unwrap_used)]

mod support;

use futures_util::StreamExt;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use support::NatsHarness;
use switchyard_bus::{
    BusError, Consumer, ConsumerSpec, EventBus, Limits, OutgoingMessage, Published, Subject,
    SubjectFilter,
};
use switchyard_bus_jetstream::{JetStreamBus, JetStreamConfig};

fn subject(s: &str) -> Subject {
    Subject::new(s).unwrap()
}

fn filter(s: &str) -> SubjectFilter {
    SubjectFilter::new(s).unwrap()
}

async fn raw_js() -> async_nats::jetstream::Context {
    async_nats::jetstream::new(async_nats::connect(support::nats_url()).await.unwrap())
}

async fn next(c: &dyn Consumer) -> switchyard_bus::Delivery {
    match tokio::time::timeout(Duration::from_secs(10), c.next()).await {
        Ok(result) => result.unwrap(),
        Err(_) => panic!("nothing delivered to {}", c.name()),
    }
}

/// The server behaviour the bus's dedup rests on: nats-server answers a duplicate
/// `Nats-Msg-Id` with the original's sequence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_answers_a_duplicate_with_the_original_sequence() {
    let Some(h) = NatsHarness::start().await else {
        return;
    };
    let bus = h.connect(Limits::default()).await.unwrap();
    let prefix = bus.subjects().prefix().to_owned();
    bus.publish(OutgoingMessage::new(subject("a"), b"0".to_vec()))
        .await
        .unwrap();
    let js = raw_js().await;
    let publish = |id: &'static str| {
        let js = js.clone();
        let prefix = prefix.clone();
        async move {
            let message = async_nats::jetstream::message::PublishMessage::build()
                .payload("x".into())
                .message_id(id);
            js.send_publish(format!("{prefix}.b"), message)
                .await
                .unwrap()
                .await
                .unwrap()
        }
    };
    let first = publish("raw-id").await;
    let again = publish("raw-id").await;
    assert_eq!((first.sequence, first.duplicate), (2, false));
    assert_eq!((again.sequence, again.duplicate), (2, true), "{again:?}");
}

/// Header values NATS would trim, or that contain `Nats-Msg-Id`, come back as published,
/// through `read` and through a consumer; dedup ids with spaces are compared exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awkward_headers_and_dedup_ids_survive_the_trip() {
    let Some(h) = NatsHarness::start().await else {
        return;
    };
    let bus = h.connect(Limits::default()).await.unwrap();
    let sent = OutgoingMessage::new(subject("h.1"), b"x".to_vec())
        .with_dedup_id(" spaced id ")
        .with_header("lead", "  two spaces")
        .with_header("trail", "tab\t")
        .with_header("mention", "see Nats-Msg-Id: 7")
        .with_header("marker", "=?switchyard?%41")
        .with_header("empty", "")
        .with_header("Content-Type", "application/json");
    let published = bus.publish(sent.clone()).await.unwrap();
    assert_eq!(
        published,
        Published {
            seq: 1,
            duplicate: false
        }
    );
    let again = bus.publish(sent.clone()).await.unwrap();
    assert_eq!(
        again,
        Published {
            seq: 1,
            duplicate: true
        }
    );
    let trimmed = OutgoingMessage::new(subject("h.1"), b"y".to_vec()).with_dedup_id("spaced id");
    assert_eq!(
        bus.publish(trimmed).await.unwrap().seq,
        2,
        "ids are compared exactly"
    );

    let read = bus.read(1, 10, &SubjectFilter::all()).await.unwrap();
    assert_eq!(read[0].headers, sent.headers);
    assert_eq!(read[0].dedup_id, sent.dedup_id);
    let c = bus
        .consumer(ConsumerSpec::new("headers", vec![filter("h.>")]))
        .await
        .unwrap();
    let d = next(&*c).await;
    assert_eq!(d.message, read[0]);
    c.ack(&d).await.unwrap();
}

/// Two platforms on one NATS: own streams and prefixes, nothing crosses, and consumers of
/// the same name are independent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platforms_share_one_nats_without_seeing_each_other() {
    let Some(a) = NatsHarness::start().await else {
        return;
    };
    let Some(b) = NatsHarness::start().await else {
        return;
    };
    let bus_a = a.connect(Limits::default()).await.unwrap();
    let bus_b = b.connect(Limits::default()).await.unwrap();
    assert_ne!(bus_a.stream(), bus_b.stream());
    bus_a
        .publish(OutgoingMessage::new(subject("events.x"), b"a".to_vec()).with_dedup_id("same"))
        .await
        .unwrap();
    let in_b = bus_b
        .publish(OutgoingMessage::new(subject("events.x"), b"b".to_vec()).with_dedup_id("same"))
        .await
        .unwrap();
    assert_eq!(
        in_b,
        Published {
            seq: 1,
            duplicate: false
        },
        "dedup is per bus"
    );
    let ca = bus_a
        .consumer(ConsumerSpec::new("sensor", vec![SubjectFilter::all()]))
        .await
        .unwrap();
    let cb = bus_b
        .consumer(ConsumerSpec::new("sensor", vec![SubjectFilter::all()]))
        .await
        .unwrap();
    assert_eq!(next(&*ca).await.message.payload, b"a");
    assert_eq!(next(&*cb).await.message.payload, b"b");
    assert_eq!(bus_a.info().await.unwrap().messages, 1);
    assert_eq!(bus_b.info().await.unwrap().messages, 1);
}

/// A prefix that overlaps another stream's subjects is a configuration error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overlapping_prefix_is_refused() {
    let Some(h) = NatsHarness::start().await else {
        return;
    };
    let _bus = h.connect(Limits::default()).await.unwrap();
    let Some(other) = NatsHarness::start().await else {
        return;
    };
    let config = other
        .config()
        .with_subject_prefix(format!("{}.nested", h.config().subject_prefix));
    let err = JetStreamBus::connect(config, Limits::default())
        .await
        .unwrap_err();
    assert!(matches!(err, BusError::Invalid { .. }), "{err}");
    assert!(err.to_string().contains("subject prefix"), "{err}");
}

/// Several filters: the server filters with the covering subject, the bus with the exact
/// filters, and the declaration is read back by a new connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_filters_use_a_covering_server_filter_and_are_kept() {
    let Some(h) = NatsHarness::start().await else {
        return;
    };
    let bus = h.connect(Limits::default()).await.unwrap();
    let filters = vec![filter("ev.a.x"), filter("ev.b.>")];
    let c = bus
        .consumer(ConsumerSpec::new("multi", filters.clone()))
        .await
        .unwrap();
    for s in ["ev.a.y", "ev.b.1", "ev.a.x", "other", "ev.b.2.3"] {
        bus.publish(OutgoingMessage::new(subject(s), s.as_bytes().to_vec()))
            .await
            .unwrap();
    }
    let mut got = Vec::new();
    for _ in 0..3 {
        let d = next(&*c).await;
        got.push(d.message.subject.to_string());
        c.ack(&d).await.unwrap();
    }
    assert_eq!(got, ["ev.b.1", "ev.a.x", "ev.b.2.3"]);

    let server = raw_js()
        .await
        .get_stream(bus.stream())
        .await
        .unwrap()
        .consumer_info("multi")
        .await
        .unwrap();
    let prefix = bus.subjects().prefix();
    assert_eq!(server.config.filter_subject, format!("{prefix}.ev.>"));
    assert_eq!(
        server.config.ack_policy,
        async_nats::jetstream::consumer::AckPolicy::Explicit
    );
    assert_eq!(
        server.ack_floor.stream_sequence, 5,
        "skipped messages are acked too"
    );

    bus.close().await.unwrap();
    let bus = h.connect(Limits::default()).await.unwrap();
    let info = bus.consumer_info("multi").await.unwrap().unwrap();
    assert_eq!(info.filters, filters);
}

/// JetStream's 100 ms minimums: a shorter dedup window is raised, a shorter max_age refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windows_below_the_jetstream_minimum() {
    let Some(h) = NatsHarness::start().await else {
        return;
    };
    let short_window = Limits {
        dedup_window: Duration::from_millis(20),
        max_age: Some(Duration::from_secs(60)),
        ..Limits::default()
    };
    let bus = h.connect(short_window).await.unwrap();
    let stream = raw_js().await.get_stream(bus.stream()).await.unwrap();
    assert_eq!(
        stream.cached_info().config.duplicate_window,
        Duration::from_millis(100)
    );
    let short_age = Limits {
        dedup_window: Duration::from_millis(20),
        max_age: Some(Duration::from_millis(50)),
        ..Limits::default()
    };
    let err = h.connect(short_age).await.unwrap_err();
    assert!(err.to_string().contains("max_age is 50ms"), "{err}");
}

/// The server's `max_payload` (1 MiB by default) caps messages whatever the bus limit says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payloads_above_the_server_maximum_are_too_large() {
    let Some(h) = NatsHarness::start().await else {
        return;
    };
    let limits = Limits {
        max_payload: 8 * 1024 * 1024,
        ..Limits::default()
    };
    let bus = h.connect(limits).await.unwrap();
    let big = OutgoingMessage::new(subject("big"), vec![1; 6 * 1024 * 1024]);
    match bus.publish(big).await {
        // A server configured with a larger max_payload stores it.
        Ok(published) => assert_eq!(published.seq, 1),
        Err(BusError::PayloadTooLarge { size, max }) => {
            assert_eq!(size, 6 * 1024 * 1024);
            assert!(max < size, "{max}");
        }
        Err(e) => panic!("{e}"),
    }
}

/// After a restart with `max_ack_pending` 1, the unacked delivery comes first and its
/// delivery count goes on (JetStream keeps counts).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strict_consumer_gets_its_pending_message_first_after_a_restart() {
    let Some(h) = NatsHarness::start().await else {
        return;
    };
    let bus = h.connect(Limits::default()).await.unwrap();
    for i in 0..3 {
        bus.publish(OutgoingMessage::new(subject("s"), vec![i]))
            .await
            .unwrap();
    }
    let spec = ConsumerSpec::new("strict", vec![SubjectFilter::all()]).with_max_ack_pending(1);
    let c = bus.consumer(spec.clone()).await.unwrap();
    let d = next(&*c).await;
    assert_eq!((d.seq(), d.delivered), (1, 1));
    drop(c);
    bus.close().await.unwrap();

    let bus = h.connect(Limits::default()).await.unwrap();
    let c = bus.consumer(spec).await.unwrap();
    let d = next(&*c).await;
    assert_eq!((d.seq(), d.delivered), (1, 2));
    c.ack(&d).await.unwrap();
    assert_eq!(next(&*c).await.seq(), 2);
}

/// A consumer deleted through another connection ends the handles waiting on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_deleted_elsewhere_ends_waiting_handles() {
    let Some(h) = NatsHarness::start().await else {
        return;
    };
    let bus = h.connect(Limits::default()).await.unwrap();
    let c: Arc<dyn Consumer> = Arc::from(
        bus.consumer(ConsumerSpec::new("doomed", vec![filter("never")]))
            .await
            .unwrap(),
    );
    let waiting = {
        let c = Arc::clone(&c);
        tokio::spawn(async move { tokio::time::timeout(Duration::from_secs(10), c.next()).await })
    };
    let other = h.connect(Limits::default()).await.unwrap();
    // Usually the handle's pull request is waiting on the server when the consumer goes
    // (the server ends it); if not, the pull finds no consumer. Either way the handle ends.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(other.delete_consumer("doomed").await.unwrap());
    match waiting.await.unwrap() {
        Ok(result) => assert_eq!(
            result.unwrap_err(),
            BusError::ConsumerNotFound {
                name: "doomed".into()
            }
        ),
        Err(_) => panic!("the waiting handle was not ended by the deletion"),
    }
}

// ---- an outage of a server this test owns -------------------------------------------------

/// A nats-server process started by this test, on a free port, with its own store.
struct OwnServer {
    binary: String,
    port: u16,
    store: tempfile::TempDir,
    child: Option<Child>,
}

impl OwnServer {
    fn binary() -> Option<String> {
        if let Ok(path) = std::env::var("SWITCHYARD_TEST_NATS_SERVER") {
            return Some(path);
        }
        let found = Command::new("nats-server")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        found.then(|| "nats-server".to_owned())
    }

    async fn start() -> Option<OwnServer> {
        let Some(binary) = Self::binary() else {
            println!(
                "skipped: no nats-server binary on PATH (or SWITCHYARD_TEST_NATS_SERVER) to \
                 start and stop"
            );
            return None;
        };
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = OwnServer {
            binary,
            port,
            store: tempfile::tempdir().unwrap(),
            child: None,
        };
        server.run().await;
        Some(server)
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    async fn run(&mut self) {
        let child = Command::new(&self.binary)
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(self.store.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        // Wait (bounded) until it accepts connections with JetStream ready.
        for _ in 0..100 {
            if let Ok(client) = async_nats::connect(self.url()).await
                && client.request("$JS.API.INFO", "".into()).await.is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "the test's own nats-server did not come up on port {}",
            self.port
        );
    }

    /// Kills the server as a crash would (SIGKILL).
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// While NATS is down every call fails with the retryable `Unavailable`; after it is back,
/// the bus carries on by itself, and what was acknowledged before the crash is still there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_is_unavailable_and_the_bus_recovers() {
    let Some(mut server) = OwnServer::start().await else {
        return;
    };
    let config = JetStreamConfig::new(server.url(), "OUTAGE").with_timeout(Duration::from_secs(2));
    let bus = JetStreamBus::connect(config.clone(), Limits::default())
        .await
        .unwrap();
    let published = bus
        .publish(OutgoingMessage::new(subject("a"), b"before".to_vec()).with_dedup_id("m1"))
        .await
        .unwrap();
    assert_eq!(published.seq, 1);
    let c = bus
        .consumer(ConsumerSpec::new("c", vec![SubjectFilter::all()]))
        .await
        .unwrap();
    let d = next(&*c).await;

    server.kill();
    let err = bus
        .publish(OutgoingMessage::new(subject("a"), b"during".to_vec()).with_dedup_id("m2"))
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "publish: {err}");
    assert!(c.ack(&d).await.unwrap_err().is_retryable());
    assert!(bus.info().await.unwrap_err().is_retryable());
    assert!(bus.consumer_info("c").await.unwrap_err().is_retryable());
    assert!(
        bus.read(1, 10, &SubjectFilter::all())
            .await
            .unwrap_err()
            .is_retryable()
    );
    let err = JetStreamBus::connect(config, Limits::default())
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "connect: {err}");

    server.run().await;
    // The client reconnects by itself; publishing again with the same id settles whether the
    // one that failed was stored.
    let mut attempts = 0;
    let settled = loop {
        match bus
            .publish(OutgoingMessage::new(subject("a"), b"during".to_vec()).with_dedup_id("m2"))
            .await
        {
            Ok(p) => break p,
            Err(e) if e.is_retryable() && attempts < 100 => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("the bus did not recover: {e}"),
        }
    };
    assert_eq!(settled.seq, 2);
    let kept = bus.read(1, 10, &SubjectFilter::all()).await.unwrap();
    assert_eq!(
        kept[0].payload, b"before",
        "acknowledged before the crash, kept"
    );

    // At least once: message 1 comes again unless its ack got through, then message 2.
    let mut seen = Vec::new();
    while seen.last() != Some(&2) {
        let d = next(&*c).await;
        c.ack(&d).await.unwrap();
        seen.push(d.seq());
    }
    assert!(seen == [2] || seen == [1, 2], "{seen:?}");
    bus.close().await.unwrap();
}

/// The read consumers the bus creates are deleted again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_leave_no_consumers_behind() {
    let Some(h) = NatsHarness::start().await else {
        return;
    };
    let bus = h.connect(Limits::default()).await.unwrap();
    bus.publish(OutgoingMessage::new(subject("a"), b"x".to_vec()))
        .await
        .unwrap();
    for _ in 0..5 {
        assert_eq!(
            bus.read(1, 10, &SubjectFilter::all()).await.unwrap().len(),
            1
        );
    }
    let stream = raw_js().await.get_stream(bus.stream()).await.unwrap();
    let mut left = usize::MAX;
    for _ in 0..50 {
        left = stream.consumer_names().count().await;
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(left, 0, "read consumers left on the server");
}
