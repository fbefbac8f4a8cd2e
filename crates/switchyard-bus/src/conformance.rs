//! The conformance suite: every [`EventBus`] backend must pass every case here.
//!
//! Each case is a `pub async fn` taking a [`BusHarness`]: something that opens a bus on
//! storage of its own, empty at first. Opening it again after the previous bus was closed
//! must reopen the same storage, as a restart would (the durability cases rely on it). A
//! backend gets one `#[tokio::test]` per case by invoking
//! [`bus_conformance_tests!`](crate::bus_conformance_tests) in an integration test with an
//! async expression evaluating to its harness:
//!
//! ```ignore
//! struct Dir(tempfile::TempDir);
//!
//! #[async_trait::async_trait]
//! impl switchyard_bus::conformance::BusHarness for Dir {
//!     async fn open(&self, limits: Limits) -> Result<Arc<dyn EventBus>, BusError> {
//!         Ok(Arc::new(MyBus::open(self.0.path(), limits)?))
//!     }
//! }
//!
//! switchyard_bus::bus_conformance_tests!(async { Dir(tempfile::tempdir().unwrap()) });
//! ```
//!
//! The calling crate needs `tokio` (with the `macros` and `rt-multi-thread` features) among
//! its dev-dependencies. The cases run on a multi-threaded runtime so concurrent publishers
//! really race. No case asserts on a duration: short `ack_wait`s, windows and ages make the
//! suite quick, and every check is on an outcome. Waits that should end are bounded by
//! [`HANG`] so that a broken backend fails instead of hanging; checks that nothing is
//! delivered watch for [`QUIET`] (a correct backend never delivers then, whatever the load).

use async_trait::async_trait;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use crate::{
    BusError, BusInfo, Consumer, ConsumerSpec, Delivery, EventBus, Headers, Limits, MAX_READ_LIMIT,
    Message, OutgoingMessage, Published, StartPosition, Subject, SubjectFilter,
};

/// Opens buses for the suite. See the module docs.
#[async_trait]
pub trait BusHarness: Send + Sync + 'static {
    /// Opens a bus on this harness's storage with these limits. The first call starts empty;
    /// each later call (after the previous bus was closed) reopens what it left.
    async fn open(&self, limits: Limits) -> Result<Arc<dyn EventBus>, BusError>;
}

/// Expands to one `#[tokio::test]` per conformance case, in a module `bus_conformance`.
#[macro_export]
macro_rules! bus_conformance_tests {
    ($harness:expr) => {
        $crate::bus_conformance_tests!(@cases $harness;
            sequences_start_at_one_and_increase_by_one,
            read_returns_what_was_published,
            read_from_a_sequence_with_a_limit_and_a_filter,
            invalid_requests_are_rejected_and_change_nothing,
            a_duplicate_dedup_id_returns_the_original_sequence,
            concurrent_publishes_of_one_dedup_id_store_it_once,
            a_dedup_id_is_new_again_after_the_window,
            messages_and_dedup_ids_survive_a_restart,
            a_consumer_gets_every_message_in_sequence_order,
            filters_and_wildcards_select_what_is_delivered,
            a_waiting_consumer_wakes_on_publish,
            an_unacked_delivery_is_redelivered_after_ack_wait,
            nak_redelivers_at_once_or_after_the_delay,
            max_ack_pending_holds_back_new_deliveries,
            max_ack_pending_of_one_keeps_strict_order,
            acks_are_idempotent,
            the_acked_position_survives_a_restart,
            out_of_order_acks_survive_a_restart,
            consumers_are_independent,
            start_positions_apply_only_at_creation,
            changing_the_filters_keeps_the_position,
            a_deleted_consumer_starts_afresh,
            handles_of_one_consumer_share_its_messages,
            a_delivery_of_another_consumer_is_refused,
            concurrent_publishers_each_message_once_in_publisher_order,
            retention_by_max_messages_removes_the_oldest,
            retention_by_max_age_removes_old_messages,
            retention_by_max_bytes_keeps_the_newest,
            close_ends_waiting_consumers_and_refuses_calls,
        );
    };
    (@cases $harness:expr; $($case:ident),* $(,)?) => {
        mod bus_conformance {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let harness = $harness.await;
                    $crate::conformance::$case(&harness).await;
                }
            )*
        }
    };
}

/// Longest wait for something that must happen; reaching it fails the case as a hang.
pub const HANG: Duration = Duration::from_secs(10);
/// How long a check that nothing is delivered watches.
pub const QUIET: Duration = Duration::from_millis(300);

// ---- helpers -------------------------------------------------------------------------------

fn ok<T>(result: Result<T, BusError>, doing: &str) -> T {
    match result {
        Ok(v) => v,
        Err(e) => panic!("{doing}: unexpected error: {e}"),
    }
}

fn fails<T: Debug>(result: Result<T, BusError>, doing: &str) -> BusError {
    match result {
        Ok(v) => panic!("{doing}: expected an error, got {v:?}"),
        Err(e) => e,
    }
}

fn subject(s: &str) -> Subject {
    ok(Subject::new(s), "making a subject")
}

fn filter(s: &str) -> SubjectFilter {
    ok(SubjectFilter::new(s), "making a filter")
}

fn filters(list: &[&str]) -> Vec<SubjectFilter> {
    list.iter().map(|s| filter(s)).collect()
}

async fn open(harness: &dyn BusHarness, limits: Limits) -> Arc<dyn EventBus> {
    ok(harness.open(limits).await, "opening the bus")
}

/// Closes the bus and opens it again on the same storage.
async fn restart(
    harness: &dyn BusHarness,
    bus: Arc<dyn EventBus>,
    limits: Limits,
) -> Arc<dyn EventBus> {
    ok(bus.close().await, "closing the bus");
    drop(bus);
    open(harness, limits).await
}

async fn publish_msg(bus: &dyn EventBus, msg: OutgoingMessage) -> Published {
    let doing = format!("publishing to {}", msg.subject);
    ok(bus.publish(msg).await, &doing)
}

async fn publish(bus: &dyn EventBus, subj: &str, payload: &str) -> u64 {
    let published = publish_msg(
        bus,
        OutgoingMessage::new(subject(subj), payload.as_bytes().to_vec()),
    )
    .await;
    assert!(!published.duplicate, "a message without dedup id is new");
    published.seq
}

async fn publish_n(bus: &dyn EventBus, subj: &str, n: usize) -> Vec<u64> {
    let mut seqs = Vec::with_capacity(n);
    for i in 0..n {
        seqs.push(publish(bus, subj, &format!("m{i}")).await);
    }
    seqs
}

async fn consumer(bus: &dyn EventBus, spec: ConsumerSpec) -> Box<dyn Consumer> {
    let doing = format!("opening consumer {}", spec.name);
    ok(bus.consumer(spec).await, &doing)
}

fn spec(name: &str, list: &[&str]) -> ConsumerSpec {
    ConsumerSpec::new(name, filters(list))
}

async fn next(c: &dyn Consumer) -> Delivery {
    match tokio::time::timeout(HANG, c.next()).await {
        Ok(result) => ok(result, &format!("next on {}", c.name())),
        Err(_) => panic!("next on {}: nothing delivered within {HANG:?}", c.name()),
    }
}

/// The next delivery's sequence and delivery count.
async fn next_seq(c: &dyn Consumer) -> (u64, u32) {
    let d = next(c).await;
    (d.seq(), d.delivered)
}

async fn ack(c: &dyn Consumer, d: &Delivery) {
    ok(
        c.ack(d).await,
        &format!("acking {} on {}", d.seq(), c.name()),
    );
}

async fn take_and_ack(c: &dyn Consumer, n: usize) -> Vec<u64> {
    let mut seqs = Vec::with_capacity(n);
    for _ in 0..n {
        let d = next(c).await;
        seqs.push(d.seq());
        ack(c, &d).await;
    }
    seqs
}

async fn nothing_delivered(c: &dyn Consumer, why: &str) {
    if let Ok(result) = tokio::time::timeout(QUIET, c.next()).await {
        panic!(
            "{}: expected no delivery ({why}), got {:?}",
            c.name(),
            result.map(|d| (d.seq(), d.delivered))
        );
    }
}

async fn read_all(bus: &dyn EventBus) -> Vec<Message> {
    let mut all = Vec::new();
    let mut from = 1;
    loop {
        let page = ok(
            bus.read(from, MAX_READ_LIMIT, &SubjectFilter::all()).await,
            "reading",
        );
        let Some(last) = page.last() else { break };
        from = last.seq + 1;
        all.extend(page);
    }
    all
}

fn seqs(messages: &[Message]) -> Vec<u64> {
    messages.iter().map(|m| m.seq).collect()
}

async fn info(bus: &dyn EventBus) -> BusInfo {
    ok(bus.info().await, "info")
}

fn range(from: u64, to: u64) -> Vec<u64> {
    (from..=to).collect()
}

// ---- publish and read ----------------------------------------------------------------------

/// A new bus is empty; sequences start at 1 and go up by one per message.
pub async fn sequences_start_at_one_and_increase_by_one(harness: &dyn BusHarness) {
    let bus = open(harness, Limits::default()).await;
    assert_eq!(
        info(&*bus).await,
        BusInfo {
            messages: 0,
            first_seq: 1,
            last_seq: 0
        }
    );
    assert_eq!(read_all(&*bus).await, vec![]);
    let published = publish_n(&*bus, "a.b", 5).await;
    assert_eq!(published, range(1, 5));
    assert_eq!(
        info(&*bus).await,
        BusInfo {
            messages: 5,
            first_seq: 1,
            last_seq: 5
        }
    );
}

/// Every field comes back as published, binary payloads included; times do not go back.
pub async fn read_returns_what_was_published(harness: &dyn BusHarness) {
    let bus = open(harness, Limits::default()).await;
    let before = chrono::Utc::now();
    let mut headers = Headers::new();
    headers.insert("ce-id".into(), "42".into());
    headers.insert(
        "Content-Type".into(),
        "application/json; charset=utf-8".into(),
    );
    let binary: Vec<u8> = (0..=255u8).chain([0, 0, 255]).collect();
    let sent = [
        OutgoingMessage {
            subject: subject("events.default.webhook.example"),
            dedup_id: Some("42/webhook".into()),
            headers: headers.clone(),
            payload: br#"{"hello":"world"}"#.to_vec(),
        },
        OutgoingMessage::new(subject("bin"), binary.clone()),
        OutgoingMessage::new(subject("empty.payload"), Vec::new()),
        OutgoingMessage::new(subject("ünï.côdé"), "ok".as_bytes().to_vec()).with_header("x", ""),
    ];
    for (i, msg) in sent.iter().enumerate() {
        let published = publish_msg(&*bus, msg.clone()).await;
        assert_eq!(
            published,
            Published {
                seq: i as u64 + 1,
                duplicate: false
            }
        );
    }
    let after = chrono::Utc::now();
    let read = read_all(&*bus).await;
    assert_eq!(read.len(), sent.len());
    let skew = chrono::Duration::seconds(5);
    let mut previous = None;
    for (got, want) in read.iter().zip(&sent) {
        assert_eq!(got.subject, want.subject);
        assert_eq!(got.dedup_id, want.dedup_id);
        assert_eq!(got.headers, want.headers);
        assert_eq!(got.payload, want.payload);
        assert!(
            got.published_at >= before - skew && got.published_at <= after + skew,
            "message {} stored at {} outside [{before}, {after}]",
            got.seq,
            got.published_at
        );
        if let Some(previous) = previous {
            assert!(got.published_at >= previous, "times do not go back");
        }
        previous = Some(got.published_at);
    }
}

/// `read` starts at a sequence, stops at the limit, and keeps only matching subjects.
pub async fn read_from_a_sequence_with_a_limit_and_a_filter(harness: &dyn BusHarness) {
    let bus = open(harness, Limits::default()).await;
    for i in 1..=20 {
        let subj = if i % 2 == 1 { "a.odd" } else { "b.even" };
        assert_eq!(publish(&*bus, subj, &i.to_string()).await, i);
    }
    let all = SubjectFilter::all();
    let page = ok(bus.read(5, 3, &all).await, "read 5..");
    assert_eq!(seqs(&page), vec![5, 6, 7]);
    assert_eq!(page[0].payload, b"5");
    let odd = ok(bus.read(0, 100, &filter("a.>")).await, "read a.>");
    assert_eq!(seqs(&odd), (1..=20).step_by(2).collect::<Vec<_>>());
    let even = ok(bus.read(7, 2, &filter("*.even")).await, "read *.even");
    assert_eq!(seqs(&even), vec![8, 10]);
    assert_eq!(
        seqs(&ok(bus.read(21, 10, &all).await, "read past the end")),
        vec![]
    );
    assert_eq!(
        seqs(&ok(bus.read(1, 0, &all).await, "read nothing")),
        vec![]
    );
    assert_eq!(
        seqs(&ok(bus.read(1, 10, &filter("c.>")).await, "read no match")),
        vec![]
    );
    let err = fails(bus.read(1, MAX_READ_LIMIT + 1, &all).await, "read too many");
    assert!(matches!(err, BusError::Invalid { .. }), "{err}");
}

/// Bad messages, declarations and arguments are refused with the right class of error,
/// and none of them stores or creates anything.
pub async fn invalid_requests_are_rejected_and_change_nothing(harness: &dyn BusHarness) {
    let limits = Limits {
        max_payload: 1000,
        ..Limits::default()
    };
    let bus = open(harness, limits).await;
    let too_big = OutgoingMessage::new(subject("a"), vec![7; 1001]);
    assert_eq!(
        fails(bus.publish(too_big).await, "oversized publish"),
        BusError::PayloadTooLarge {
            size: 1001,
            max: 1000
        }
    );
    for bad in [
        OutgoingMessage::new(subject("a"), b"x".to_vec()).with_header("Nats-Msg-Id", "1"),
        OutgoingMessage::new(subject("a"), b"x".to_vec()).with_header("bad name", "1"),
        OutgoingMessage::new(subject("a"), b"x".to_vec()).with_dedup_id(""),
    ] {
        let err = fails(bus.publish(bad.clone()).await, "bad publish");
        assert!(matches!(err, BusError::Invalid { .. }), "{bad:?}: {err}");
    }
    for bad in [
        ConsumerSpec::new("no-filters", vec![]),
        spec("bad.name", &[">"]),
        spec("zero-wait", &[">"]).with_ack_wait(Duration::ZERO),
        spec("zero-pending", &[">"]).with_max_ack_pending(0),
    ] {
        let err = fails(bus.consumer(bad.clone()).await.map(|_| ()), "bad consumer");
        assert!(matches!(err, BusError::Invalid { .. }), "{bad:?}: {err}");
    }
    for name in ["", "a b", "a.b"] {
        let err = fails(bus.delete_consumer(name).await, "delete a bad name");
        assert!(matches!(err, BusError::Invalid { .. }), "{name:?}: {err}");
        let err = fails(bus.consumer_info(name).await, "info of a bad name");
        assert!(matches!(err, BusError::Invalid { .. }), "{name:?}: {err}");
    }
    assert_eq!(
        info(&*bus).await,
        BusInfo {
            messages: 0,
            first_seq: 1,
            last_seq: 0
        }
    );
    for name in ["no-filters", "zero-wait", "zero-pending"] {
        assert_eq!(ok(bus.consumer_info(name).await, "info"), None, "{name}");
    }
    // A nak delay beyond the ceiling is refused too, and the delivery stays pending.
    publish(&*bus, "a", "x").await;
    let c = consumer(&*bus, spec("c", &[">"])).await;
    let d = next(&*c).await;
    let err = fails(c.nak(&d, crate::MAX_WAIT * 2).await, "nak too long");
    assert!(matches!(err, BusError::Invalid { .. }), "{err}");
    ack(&*c, &d).await;
}

// ---- dedup ---------------------------------------------------------------------------------

/// A repeated dedup id stores nothing and answers with the original sequence, whatever the
/// rest of the message says.
pub async fn a_duplicate_dedup_id_returns_the_original_sequence(harness: &dyn BusHarness) {
    let bus = open(harness, Limits::default()).await;
    let first = OutgoingMessage::new(subject("a.b"), b"first".to_vec()).with_dedup_id("id-1");
    assert_eq!(
        publish_msg(&*bus, first).await,
        Published {
            seq: 1,
            duplicate: false
        }
    );
    assert_eq!(publish(&*bus, "a.b", "no id").await, 2);
    let again = OutgoingMessage::new(subject("other.subject"), b"second".to_vec())
        .with_dedup_id("id-1")
        .with_header("h", "v");
    assert_eq!(
        publish_msg(&*bus, again).await,
        Published {
            seq: 1,
            duplicate: true
        }
    );
    let other = OutgoingMessage::new(subject("a.b"), b"third".to_vec()).with_dedup_id("ID-1");
    assert_eq!(
        publish_msg(&*bus, other).await,
        Published {
            seq: 3,
            duplicate: false
        },
        "ids are compared exactly"
    );
    let read = read_all(&*bus).await;
    assert_eq!(seqs(&read), vec![1, 2, 3]);
    assert_eq!(read[0].payload, b"first");
    assert_eq!(read[0].subject.as_str(), "a.b");
}

/// Many publishers racing with one new id: exactly one stores it, all get its sequence.
pub async fn concurrent_publishes_of_one_dedup_id_store_it_once(harness: &dyn BusHarness) {
    let bus = open(harness, Limits::default()).await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..16 {
        let bus = Arc::clone(&bus);
        tasks.spawn(async move {
            let msg = OutgoingMessage::new(subject("race"), format!("{i}").into_bytes())
                .with_dedup_id("the-one");
            ok(bus.publish(msg).await, "racing publish")
        });
    }
    let mut answers = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(p) => answers.push(p),
            Err(e) => panic!("publisher task failed: {e}"),
        }
    }
    let stored: Vec<_> = answers.iter().filter(|p| !p.duplicate).collect();
    assert_eq!(stored.len(), 1, "exactly one stores it: {answers:?}");
    assert!(
        answers.iter().all(|p| p.seq == stored[0].seq),
        "{answers:?}"
    );
    assert_eq!(info(&*bus).await.messages, 1);
}

/// Once the window has passed, the id is new again (and dedups against the new message).
pub async fn a_dedup_id_is_new_again_after_the_window(harness: &dyn BusHarness) {
    let window = Duration::from_millis(100);
    let limits = Limits {
        dedup_window: window,
        ..Limits::default()
    };
    let bus = open(harness, limits).await;
    let msg = || OutgoingMessage::new(subject("a"), b"x".to_vec()).with_dedup_id("late");
    assert_eq!(publish_msg(&*bus, msg()).await.seq, 1);
    tokio::time::sleep(window * 4).await;
    assert_eq!(
        publish_msg(&*bus, msg()).await,
        Published {
            seq: 2,
            duplicate: false
        }
    );
    assert_eq!(
        publish_msg(&*bus, msg()).await,
        Published {
            seq: 2,
            duplicate: true
        }
    );
}

/// Messages, sequences and dedup ids are all still there after a restart.
pub async fn messages_and_dedup_ids_survive_a_restart(harness: &dyn BusHarness) {
    let bus = open(harness, Limits::default()).await;
    publish(&*bus, "a.1", "one").await;
    let with_id = OutgoingMessage::new(subject("a.2"), b"two".to_vec())
        .with_dedup_id("kept")
        .with_header("k", "v");
    assert_eq!(publish_msg(&*bus, with_id.clone()).await.seq, 2);
    publish(&*bus, "a.3", "three").await;
    let before = read_all(&*bus).await;

    let bus = restart(harness, bus, Limits::default()).await;
    assert_eq!(read_all(&*bus).await, before);
    assert_eq!(
        publish_msg(&*bus, with_id).await,
        Published {
            seq: 2,
            duplicate: true
        }
    );
    assert_eq!(publish(&*bus, "a.4", "four").await, 4, "sequences go on");
    assert_eq!(
        info(&*bus).await,
        BusInfo {
            messages: 4,
            first_seq: 1,
            last_seq: 4
        }
    );
}

// ---- consumers -----------------------------------------------------------------------------

/// A consumer of `>` gets every message once, in sequence order, intact.
pub async fn a_consumer_gets_every_message_in_sequence_order(harness: &dyn BusHarness) {
    let bus = open(harness, Limits::default()).await;
    for i in 0..30 {
        publish(&*bus, &format!("s.{}", i % 3), &format!("m{i}")).await;
    }
    let stored = read_all(&*bus).await;
    let c = consumer(&*bus, spec("all", &[">"])).await;
    assert_eq!(c.name(), "all");
    for want in &stored {
        let d = next(&*c).await;
        assert_eq!(&d.message, want);
        assert_eq!(d.consumer, "all");
        assert_eq!(d.delivered, 1);
        ack(&*c, &d).await;
    }
    let state = ok(bus.consumer_info("all").await, "consumer info");
    let state = state.unwrap_or_else(|| panic!("consumer `all` exists"));
    assert_eq!(state.ack_floor, 30);
    assert_eq!(state.ack_pending, 0);
    assert_eq!(state.filters, filters(&[">"]));
}

/// Exact subjects, `*` and `>` select the right messages; overlapping filters deliver once.
pub async fn filters_and_wildcards_select_what_is_delivered(harness: &dyn BusHarness) {
    let bus = open(harness, Limits::default()).await;
    let subjects = [
        "ev.default.webhook.a",   // 1
        "ev.default.webhook.b",   // 2
        "ev.default.calendar.a",  // 3
        "ev.other.webhook.a",     // 4
        "ev.default.webhook.a.b", // 5
        "other",                  // 6
        "ev.default",             // 7
    ];
    for s in subjects {
        publish(&*bus, s, s).await;
    }
    // Every consumer also listens to `zz.end`, published last: it arriving right after the
    // expected messages shows nothing else was delivered in between.
    publish(&*bus, "zz.end", "end").await;
    let cases: &[(&[&str], &[u64])] = &[
        (&["ev.default.webhook.a"], &[1]),
        (&["ev.default.webhook.*"], &[1, 2]),
        (&["ev.default.webhook.>"], &[1, 2, 5]),
        (&["ev.*.webhook.a"], &[1, 4]),
        (&["ev.>"], &[1, 2, 3, 4, 5, 7]),
        (&["*"], &[6]),
        (&["ev.*"], &[7]),
        (&["*.*.*.a"], &[1, 3, 4]),
        (
            &[
                "ev.default.webhook.a",
                "ev.*.webhook.>",
                "ev.default.webhook.a.b",
            ],
            &[1, 2, 4, 5],
        ),
        (&["nothing.here"], &[]),
        (&[">"], &[1, 2, 3, 4, 5, 6, 7]),
    ];
    for (i, (list, want)) in cases.iter().enumerate() {
        let mut with_end = list.to_vec();
        with_end.push("zz.end");
        let c = consumer(&*bus, spec(&format!("f{i}"), &with_end)).await;
        let mut got = Vec::new();
        loop {
            let d = next(&*c).await;
            ack(&*c, &d).await;
            if d.message.subject.as_str() == "zz.end" {
                break;
            }
            got.push(d.seq());
        }
        assert_eq!(&got, want, "filters {list:?}");
    }
}

/// A consumer waiting on an empty bus gets a message as soon as it is published.
pub async fn a_waiting_consumer_wakes_on_publish(harness: &dyn BusHarness) {
    let bus = open(harness, Limits::default()).await;
    let c: Arc<dyn Consumer> = Arc::from(consumer(&*bus, spec("waiter", &["w.>"])).await);
    let waiting = {
        let c = Arc::clone(&c);
        tokio::spawn(async move { next(&*c).await })
    };
    // Let the consumer start waiting, then publish: it must wake without another call.
    tokio::task::yield_now().await;
    publish(&*bus, "not.this", "x").await;
    publish(&*bus, "w.here", "y").await;
    let d = match waiting.await {
        Ok(d) => d,
        Err(e) => panic!("waiting consumer task failed: {e}"),
    };
    assert_eq!((d.seq(), d.message.payload.as_slice()), (2, &b"y"[..]));
}

/// An unacknowledged delivery comes again once `ack_wait` has passed, counted; after the ack
/// it does not.
pub async fn an_unacked_delivery_is_redelivered_after_ack_wait(harness: &dyn BusHarness) {
    let bus = open(harness, Limits::default()).await;
    let wait = Duration::from_millis(100);
    let c = consumer(&*bus, spec("slow", &[">"]).with_ack_wait(wait)).await;
    publish(&*bus, "a", "x").await;
    assert_eq!(next_seq(&*c).await, (1, 1));
    assert_eq!(next_seq(&*c).await, (1, 2), "redelivered after ack_wait");
    let d = next(&*c).await;
    assert_eq!((d.seq(), d.delivered), (1, 3));
    assert_eq!(d.message.payload, b"x");
    ack(&*c, &d).await;
    // Well past ack_wait: a redelivery of 1 would now be due and would come first.
    tokio::time::sleep(wait * 3).await;
    publish(&*bus, "a", "y").await;
    assert_eq!(next_seq(&*c).await, (2, 1));
}

/// `nak` with no delay redelivers at once; with a delay, later messages go first; a new nak
/// replaces the delay.
pub async fn nak_redelivers_at_once_or_after_the_delay(harness: &dyn BusHarness) {
    let bus = open(harness, Limits::default()).await;
    let c = consumer(&*bus, spec("nak", &[">"])).await;
    publish_n(&*bus, "a", 2).await;
    let d1 = next(&*c).await;
    assert_eq!((d1.seq(), d1.delivered), (1, 1));
    ok(c.nak(&d1, Duration::ZERO).await, "nak now");
    let d1 = next(&*c).await;
    assert_eq!((d1.seq(), d1.delivered), (1, 2));
    ok(
        c.nak(&d1, Duration::from_secs(3600)).await,
        "nak for an hour",
    );
    let d2 = next(&*c).await;
    assert_eq!((d2.seq(), d2.delivered), (2, 1), "2 comes while 1 waits");
    ack(&*c, &d2).await;
    ok(
        c.nak(&d1, Duration::from_millis(50)).await,
        "nak again, shorter",
    );
    let d1 = next(&*c).await;
    assert_eq!((d1.seq(), d1.delivered), (1, 3));
    ack(&*c, &d1).await;
}

/// At `max_ack_pending` unacknowledged deliveries nothing new is delivered until an ack.
pub async fn max_ack_pending_holds_back_new_deliveries(harness: &dyn BusHarness) {
    let bus = open(harness, Limits::default()).await;
    let c = consumer(&*bus, spec("two", &[">"]).with_max_ack_pending(2)).await;
    publish_n(&*bus, "a", 3).await;
    let d1 = next(&*c).await;
    let d2 = next(&*c).await;
    assert_eq!((d1.seq(), d2.seq()), (1, 2));
    nothing_delivered(&*c, "two deliveries are pending").await;
    ack(&*c, &d1).await;
    assert_eq!(next_seq(&*c).await, (3, 1));
    let info = ok(bus.consumer_info("two").await, "info").unwrap_or_else(|| panic!("exists"));
    assert_eq!((info.ack_floor, info.ack_pending), (1, 2));
}

/// With `max_ack_pending` 1, a redelivered message comes before anything after it.
pub async fn max_ack_pending_of_one_keeps_strict_order(harness: &dyn BusHarness) {
    let bus = open(harness, Limits::default()).await;
    let c = consumer(
        &*bus,
        spec("strict", &[">"])
            .with_max_ack_pending(1)
            .with_ack_wait(Duration::from_millis(100)),
    )
    .await;
    publish_n(&*bus, "a", 2).await;
    let d = next(&*c).await;
    ok(c.nak(&d, Duration::from_millis(50)).await, "nak");
    assert_eq!(next_seq(&*c).await, (1, 2), "1 again before 2");
    // Not acked: ack_wait brings it back, still before 2.
    let d = next(&*c).await;
    assert_eq!((d.seq(), d.delivered), (1, 3));
    ack(&*c, &d).await;
    assert_eq!(next_seq(&*c).await, (2, 1));
}

/// Acking twice, and nak after ack, are accepted and bring nothing back.
pub async fn acks_are_idempotent(harness: &dyn BusHarness) {
    let bus = open(harness, Limits::default()).await;
    let c = consumer(
        &*bus,
        spec("idem", &[">"]).with_ack_wait(Duration::from_millis(50)),
    )
    .await;
    publish(&*bus, "a", "x").await;
    let d = next(&*c).await;
    ack(&*c, &d).await;
    ack(&*c, &d).await;
    ok(c.nak(&d, Duration::ZERO).await, "nak after ack");
    nothing_delivered(&*c, "the only message was acked").await;
}

/// After a restart a consumer resumes after its acked messages; what was delivered but not
/// acked comes again, then the rest in order.
pub async fn the_acked_position_survives_a_restart(harness: &dyn BusHarness) {
    let bus = open(harness, Limits::default()).await;
    publish_n(&*bus, "a", 10).await;
    let spec = spec("durable", &[">"]);
    let c = consumer(&*bus, spec.clone()).await;
    assert_eq!(take_and_ack(&*c, 4).await, range(1, 4));
    assert_eq!(next_seq(&*c).await, (5, 1));
    assert_eq!(next_seq(&*c).await, (6, 1));
    drop(c);

    let bus = restart(harness, bus, Limits::default()).await;
    let info = ok(bus.consumer_info("durable").await, "info").unwrap_or_else(|| panic!("kept"));
    assert_eq!(info.ack_floor, 4);
    let c = consumer(&*bus, spec).await;
    assert_eq!(take_and_ack(&*c, 6).await, range(5, 10));
    publish(&*bus, "a", "new").await;
    assert_eq!(take_and_ack(&*c, 1).await, vec![11]);
}

/// Acks out of order are kept exactly: after a restart only the unacked ones come again.
pub async fn out_of_order_acks_survive_a_restart(harness: &dyn BusHarness) {
    let bus = open(harness, Limits::default()).await;
    publish_n(&*bus, "a", 6).await;
    let spec = spec("gaps", &[">"]);
    let c = consumer(&*bus, spec.clone()).await;
    let mut delivered = Vec::new();
    for _ in 0..5 {
        delivered.push(next(&*c).await);
    }
    for d in delivered.iter().filter(|d| d.seq() % 2 == 1) {
        ack(&*c, d).await;
    }
    drop(c);

    let bus = restart(harness, bus, Limits::default()).await;
    let c = consumer(&*bus, spec).await;
    assert_eq!(take_and_ack(&*c, 3).await, vec![2, 4, 6]);
    publish(&*bus, "a", "7").await;
    assert_eq!(
        take_and_ack(&*c, 1).await,
        vec![7],
        "1, 3, 5 never come again"
    );
}

/// Each consumer gets every message it matches, whatever the others ack.
pub async fn consumers_are_independent(harness: &dyn BusHarness) {
    let bus = open(harness, Limits::default()).await;
    publish_n(&*bus, "a", 5).await;
    let eager = consumer(&*bus, spec("eager", &[">"])).await;
    let lazy = consumer(&*bus, spec("lazy", &["a"])).await;
    assert_eq!(take_and_ack(&*eager, 5).await, range(1, 5));
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(next(&*lazy).await.seq());
    }
    assert_eq!(got, range(1, 5));
    let eager_info = ok(bus.consumer_info("eager").await, "info");
    let lazy_info = ok(bus.consumer_info("lazy").await, "info");
    assert_eq!(
        eager_info.map(|i| (i.ack_floor, i.ack_pending)),
        Some((5, 0))
    );
    assert_eq!(
        lazy_info.map(|i| (i.ack_floor, i.ack_pending)),
        Some((0, 5))
    );
}

/// `All`, `New` and `AtSequence` set where a new consumer starts; an existing one resumes.
pub async fn start_positions_apply_only_at_creation(harness: &dyn BusHarness) {
    let bus = open(harness, Limits::default()).await;
    publish_n(&*bus, "a", 5).await;
    let all = consumer(&*bus, spec("all", &[">"]).with_start(StartPosition::All)).await;
    let new = consumer(&*bus, spec("new", &[">"]).with_start(StartPosition::New)).await;
    let at = consumer(
        &*bus,
        spec("at", &[">"]).with_start(StartPosition::AtSequence(3)),
    )
    .await;
    assert_eq!(take_and_ack(&*all, 1).await, vec![1]);
    assert_eq!(take_and_ack(&*at, 1).await, vec![3]);
    publish(&*bus, "a", "6").await;
    assert_eq!(take_and_ack(&*new, 1).await, vec![6]);
    drop(all);
    let again = consumer(&*bus, spec("all", &[">"]).with_start(StartPosition::New)).await;
    assert_eq!(
        take_and_ack(&*again, 1).await,
        vec![2],
        "resumes, start ignored"
    );
}

/// New filters apply after the consumer's position: later matches come, earlier ones not.
pub async fn changing_the_filters_keeps_the_position(harness: &dyn BusHarness) {
    let bus = open(harness, Limits::default()).await;
    publish(&*bus, "a.x", "1").await;
    publish(&*bus, "b.x", "2").await;
    publish(&*bus, "a.x", "3").await;
    let c = consumer(&*bus, spec("moving", &["a.>"])).await;
    assert_eq!(take_and_ack(&*c, 2).await, vec![1, 3]);
    drop(c);
    let c = consumer(
        &*bus,
        spec("moving", &["b.>"]).with_ack_wait(Duration::from_secs(5)),
    )
    .await;
    publish(&*bus, "a.x", "4").await;
    publish(&*bus, "b.x", "5").await;
    assert_eq!(take_and_ack(&*c, 1).await, vec![5]);
    let info = ok(bus.consumer_info("moving").await, "info").unwrap_or_else(|| panic!("kept"));
    assert_eq!(info.filters, filters(&["b.>"]));
    assert_eq!(info.ack_wait, Duration::from_secs(5));
}

/// Deleting a consumer ends its handles and forgets its position.
pub async fn a_deleted_consumer_starts_afresh(harness: &dyn BusHarness) {
    let bus = open(harness, Limits::default()).await;
    publish_n(&*bus, "a", 3).await;
    let c = consumer(&*bus, spec("gone", &[">"])).await;
    assert_eq!(take_and_ack(&*c, 2).await, vec![1, 2]);
    let d3 = next(&*c).await;
    assert!(
        ok(bus.delete_consumer("gone").await, "delete"),
        "it existed"
    );
    let err = fails(c.next().await, "next after delete");
    assert_eq!(
        err,
        BusError::ConsumerNotFound {
            name: "gone".into()
        }
    );
    let err = fails(c.ack(&d3).await, "ack after delete");
    assert_eq!(
        err,
        BusError::ConsumerNotFound {
            name: "gone".into()
        }
    );
    assert_eq!(ok(bus.consumer_info("gone").await, "info"), None);
    assert!(!ok(bus.delete_consumer("gone").await, "delete again"));
    let c = consumer(&*bus, spec("gone", &[">"])).await;
    assert_eq!(
        take_and_ack(&*c, 1).await,
        vec![1],
        "a new consumer starts afresh"
    );
}

/// Two handles of one consumer share its messages: each message goes to one of them, and
/// either may ack it.
pub async fn handles_of_one_consumer_share_its_messages(harness: &dyn BusHarness) {
    let bus = open(harness, Limits::default()).await;
    publish_n(&*bus, "a", 6).await;
    let h1 = consumer(&*bus, spec("shared", &[">"])).await;
    let h2 = consumer(&*bus, spec("shared", &[">"])).await;
    let mut got = Vec::new();
    for i in 0..6 {
        let (mine, other) = if i % 2 == 0 { (&h1, &h2) } else { (&h2, &h1) };
        let d = next(&**mine).await;
        got.push(d.seq());
        ack(&**other, &d).await;
    }
    assert_eq!(got, range(1, 6));
    nothing_delivered(&*h1, "every message was acked").await;
    let info = ok(bus.consumer_info("shared").await, "info").unwrap_or_else(|| panic!("exists"));
    assert_eq!((info.ack_floor, info.ack_pending), (6, 0));
}

/// A delivery can only be acked or naked by its own consumer.
pub async fn a_delivery_of_another_consumer_is_refused(harness: &dyn BusHarness) {
    let bus = open(harness, Limits::default()).await;
    publish(&*bus, "a", "x").await;
    let c1 = consumer(&*bus, spec("one", &[">"])).await;
    let c2 = consumer(&*bus, spec("two", &[">"])).await;
    let d = next(&*c1).await;
    let err = fails(c2.ack(&d).await, "ack on the wrong consumer");
    assert!(matches!(err, BusError::Invalid { .. }), "{err}");
    let err = fails(
        c2.nak(&d, Duration::ZERO).await,
        "nak on the wrong consumer",
    );
    assert!(matches!(err, BusError::Invalid { .. }), "{err}");
    assert_eq!(
        next_seq(&*c2).await,
        (1, 1),
        "two still gets its own delivery"
    );
}

/// 8 publishers × 200 messages at once: each message stored once, sequences contiguous, and
/// each publisher's messages in the order it published them.
pub async fn concurrent_publishers_each_message_once_in_publisher_order(harness: &dyn BusHarness) {
    const PUBLISHERS: usize = 8;
    const EACH: usize = 200;
    let bus = open(harness, Limits::default()).await;
    let mut tasks = tokio::task::JoinSet::new();
    for p in 0..PUBLISHERS {
        let bus = Arc::clone(&bus);
        tasks.spawn(async move {
            let mut seqs = Vec::with_capacity(EACH);
            for i in 0..EACH {
                let msg = OutgoingMessage::new(
                    subject(&format!("pub.{p}")),
                    format!("{p}:{i}").into_bytes(),
                )
                .with_dedup_id(format!("{p}-{i}"));
                let published = ok(bus.publish(msg).await, "concurrent publish");
                assert!(!published.duplicate);
                seqs.push(published.seq);
            }
            (p, seqs)
        });
    }
    let mut all_seqs = BTreeSet::new();
    while let Some(joined) = tasks.join_next().await {
        let (p, seqs) = match joined {
            Ok(v) => v,
            Err(e) => panic!("publisher task failed: {e}"),
        };
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "publisher {p}: sequences increase"
        );
        all_seqs.extend(seqs);
    }
    let total = (PUBLISHERS * EACH) as u64;
    assert_eq!(all_seqs, (1..=total).collect::<BTreeSet<_>>());
    let read = read_all(&*bus).await;
    assert_eq!(seqs(&read), range(1, total));
    let mut next_of: BTreeMap<usize, usize> = BTreeMap::new();
    for m in &read {
        let text = String::from_utf8_lossy(&m.payload).into_owned();
        let (p, i) = text
            .split_once(':')
            .and_then(|(p, i)| Some((p.parse::<usize>().ok()?, i.parse::<usize>().ok()?)))
            .unwrap_or_else(|| panic!("unexpected payload {text:?}"));
        assert_eq!(m.subject.as_str(), format!("pub.{p}"));
        let expected = next_of.entry(p).or_insert(0);
        assert_eq!(i, *expected, "publisher {p}'s messages in order, each once");
        *expected += 1;
    }
    assert!(next_of.values().all(|n| *n == EACH), "{next_of:?}");
}

// ---- retention and closing ----------------------------------------------------------------

/// Past `max_messages`, the oldest go, acked or not; a consumer behind skips them.
pub async fn retention_by_max_messages_removes_the_oldest(harness: &dyn BusHarness) {
    let limits = Limits {
        max_messages: Some(5),
        ..Limits::default()
    };
    let bus = open(harness, limits).await;
    let slow = consumer(&*bus, spec("slow", &[">"])).await;
    publish(&*bus, "a", "1").await;
    let d1 = next(&*slow).await;
    publish_n(&*bus, "a", 11).await;
    assert_eq!(
        info(&*bus).await,
        BusInfo {
            messages: 5,
            first_seq: 8,
            last_seq: 12
        }
    );
    assert_eq!(seqs(&read_all(&*bus).await), range(8, 12));
    ack(&*slow, &d1).await;
    assert_eq!(take_and_ack(&*slow, 5).await, range(8, 12));
    let late = consumer(&*bus, spec("late", &[">"])).await;
    assert_eq!(take_and_ack(&*late, 1).await, vec![8]);
}

/// Messages older than `max_age` are removed in the background; sequences go on.
pub async fn retention_by_max_age_removes_old_messages(harness: &dyn BusHarness) {
    let limits = Limits {
        dedup_window: Duration::from_millis(50),
        max_age: Some(Duration::from_millis(200)),
        ..Limits::default()
    };
    let bus = open(harness, limits).await;
    publish_n(&*bus, "a", 3).await;
    let mut polls: u128 = 0;
    let emptied = loop {
        let now = info(&*bus).await;
        if now.messages == 0 {
            break now;
        }
        polls += 1;
        assert!(
            polls < HANG.as_millis() / 50,
            "messages older than max_age still there after {HANG:?}: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        emptied,
        BusInfo {
            messages: 0,
            first_seq: 4,
            last_seq: 3
        }
    );
    assert_eq!(read_all(&*bus).await, vec![]);
    assert_eq!(publish(&*bus, "a", "4").await, 4);
}

/// Past `max_bytes`, the oldest go; the newest stays; what is left is contiguous.
pub async fn retention_by_max_bytes_keeps_the_newest(harness: &dyn BusHarness) {
    let limits = Limits {
        max_bytes: Some(10_000),
        max_payload: 1000,
        ..Limits::default()
    };
    let bus = open(harness, limits).await;
    for i in 0..30u8 {
        let msg = OutgoingMessage::new(subject("big"), vec![i; 1000]);
        publish_msg(&*bus, msg).await;
    }
    let now = info(&*bus).await;
    assert_eq!(now.last_seq, 30);
    assert!(
        (1..=10).contains(&now.messages),
        "10,000 bytes hold at most 10 messages of 1,000 bytes: {now:?}"
    );
    let kept = read_all(&*bus).await;
    assert_eq!(seqs(&kept), range(now.first_seq, 30));
    assert_eq!(kept.last().map(|m| m.payload.clone()), Some(vec![29; 1000]));
}

/// Closing wakes waiting consumers with `Closed` and refuses every later call.
pub async fn close_ends_waiting_consumers_and_refuses_calls(harness: &dyn BusHarness) {
    let bus = open(harness, Limits::default()).await;
    publish(&*bus, "a", "1").await;
    let c: Arc<dyn Consumer> = Arc::from(consumer(&*bus, spec("closing", &["b"])).await);
    let waiting = {
        let c = Arc::clone(&c);
        tokio::spawn(async move { tokio::time::timeout(HANG, c.next()).await })
    };
    tokio::task::yield_now().await;
    ok(bus.close().await, "close");
    match waiting.await {
        Ok(Ok(result)) => assert_eq!(fails(result, "next during close"), BusError::Closed),
        Ok(Err(_)) => panic!("a waiting consumer was not woken by close within {HANG:?}"),
        Err(e) => panic!("waiting task failed: {e}"),
    }
    assert_eq!(fails(c.next().await, "next after close"), BusError::Closed);
    let msg = OutgoingMessage::new(subject("a"), b"x".to_vec());
    assert_eq!(
        fails(bus.publish(msg).await, "publish after close"),
        BusError::Closed
    );
    assert_eq!(
        fails(
            bus.consumer(spec("x", &[">"])).await.map(|_| ()),
            "consumer after close"
        ),
        BusError::Closed
    );
    ok(bus.close().await, "close again");
}
