//! Durable consumers: the pure bookkeeping of one consumer ([`Tracker`]) and the async handle
//! that drives it ([`Handle`]).
//!
//! A consumer's state lives once per process, shared by all its handles ([`Shared`]). What is
//! durable is its **ack floor** (every matching message up to it is acked) and the acked
//! sequences above the floor; a restart resumes from there, so messages delivered but not
//! acked come again. Everything else is in memory:
//!
//! - `scan_pos`: messages up to here have been looked at; `buffer`: matching messages read
//!   ahead but not delivered yet. The **cursor** is the last sequence delivered or skipped:
//!   just before the first buffered message, or `scan_pos` when the buffer is empty.
//! - `pending`: delivered, not acked, each with a deadline (delivery + `ack_wait`, or a nak's
//!   delay) and a delivery count.
//!
//! The floor is derived, never stored separately in memory: just below the lowest pending
//! sequence, or the cursor when nothing is pending. An ack sends the floor the consumer would
//! have once this ack is done; acks that commit in another order only make the stored floor
//! lag (the acked sequence above it is recorded too), never run ahead.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use switchyard_bus::{
    BusError, Consumer, ConsumerInfo, ConsumerSpec, Delivery, Message, validate_nak_delay,
};
use tokio::sync::{Mutex, Notify};
use tokio::time::Instant;

use crate::readers::{self, FilterQuery, Scanned, StoredConsumer};
use crate::writer::{Op, Output};
use crate::{Inner, unexpected};

/// Most messages one scan reads ahead for a consumer.
pub(crate) const SCAN_COUNT: usize = 256;
/// Most payload bytes one scan reads ahead (at least one message is always read).
pub(crate) const SCAN_BYTES: usize = 4 * 1024 * 1024;
/// Longest a waiting `next` sleeps without being woken: a safety net only, since publishes,
/// acks, naks and deadlines wake it.
#[cfg(not(test))]
pub(crate) const FALLBACK_POLL: Duration = Duration::from_secs(1);
/// In unit tests the fallback poll is too long to matter, so a test that gets a delivery
/// shows the wake-up it relies on works.
#[cfg(test)]
pub(crate) const FALLBACK_POLL: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Lease {
    deadline: Instant,
    delivered: u32,
}

/// One consumer's delivery bookkeeping. Pure: time comes in as arguments.
#[derive(Debug)]
pub(crate) struct Tracker {
    ack_wait: Duration,
    max_ack_pending: usize,
    scan_pos: u64,
    buffer: VecDeque<Message>,
    pending: BTreeMap<u64, Lease>,
    deadlines: BTreeSet<(Instant, u64)>,
    /// Acked sequences above the floor, from before a restart: skipped when scanned.
    acked: BTreeSet<u64>,
}

impl Tracker {
    pub(crate) fn new(
        floor: u64,
        acked: impl IntoIterator<Item = u64>,
        ack_wait: Duration,
        max_ack_pending: usize,
    ) -> Self {
        Tracker {
            ack_wait,
            max_ack_pending,
            scan_pos: floor,
            buffer: VecDeque::new(),
            pending: BTreeMap::new(),
            deadlines: BTreeSet::new(),
            acked: acked.into_iter().filter(|s| *s > floor).collect(),
        }
    }

    fn cursor(&self) -> u64 {
        self.buffer
            .front()
            .map_or(self.scan_pos, |m| m.seq.saturating_sub(1))
    }

    /// Every matching message up to here is acked.
    pub(crate) fn floor(&self) -> u64 {
        match self.pending.keys().next() {
            Some(&lowest) => (lowest - 1).min(self.cursor()),
            None => self.cursor(),
        }
    }

    /// The floor once `seq` is acked, or `None` when `seq` is not pending (already acked,
    /// gone, or never delivered): then there is nothing to record.
    pub(crate) fn floor_after_ack(&self, seq: u64) -> Option<u64> {
        if !self.pending.contains_key(&seq) {
            return None;
        }
        let cursor = self.cursor();
        Some(match self.pending.keys().find(|s| **s != seq) {
            Some(&lowest) => (lowest - 1).min(cursor),
            None => cursor,
        })
    }

    pub(crate) fn ack_pending(&self) -> usize {
        self.pending.len()
    }

    pub(crate) fn has_room(&self) -> bool {
        self.pending.len() < self.max_ack_pending
    }

    /// The pending delivery whose deadline passed first, if any.
    pub(crate) fn due(&self, now: Instant) -> Option<u64> {
        self.deadlines
            .first()
            .filter(|(deadline, _)| *deadline <= now)
            .map(|(_, seq)| *seq)
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.first().map(|(deadline, _)| *deadline)
    }

    /// Records another delivery of a pending message; returns its delivery count.
    pub(crate) fn redeliver(&mut self, seq: u64, now: Instant) -> u32 {
        let deadline = now + self.ack_wait;
        let Some(lease) = self.pending.get_mut(&seq) else {
            return 0;
        };
        self.deadlines.remove(&(lease.deadline, seq));
        lease.deadline = deadline;
        lease.delivered = lease.delivered.saturating_add(1);
        self.deadlines.insert((deadline, seq));
        lease.delivered
    }

    pub(crate) fn scan_pos(&self) -> u64 {
        self.scan_pos
    }

    /// Whether a scan is needed (and possible) before the next first delivery.
    pub(crate) fn needs_scan(&self, committed: u64) -> bool {
        self.buffer.is_empty() && self.scan_pos < committed
    }

    pub(crate) fn scanned(&mut self, scanned: Scanned) {
        self.buffer.extend(
            scanned
                .messages
                .into_iter()
                .filter(|m| m.seq > self.scan_pos),
        );
        self.scan_pos = self.scan_pos.max(scanned.scanned_to);
    }

    /// The next message to deliver for the first time, now pending. The caller checks
    /// [`Tracker::has_room`] first.
    pub(crate) fn deliver_next(&mut self, now: Instant) -> Option<Message> {
        while let Some(message) = self.buffer.pop_front() {
            if self.acked.remove(&message.seq) {
                continue;
            }
            let deadline = now + self.ack_wait;
            self.pending.insert(
                message.seq,
                Lease {
                    deadline,
                    delivered: 1,
                },
            );
            self.deadlines.insert((deadline, message.seq));
            return Some(message);
        }
        None
    }

    /// Drops a pending delivery: acked, or its message is gone.
    pub(crate) fn settle(&mut self, seq: u64) {
        if let Some(lease) = self.pending.remove(&seq) {
            self.deadlines.remove(&(lease.deadline, seq));
        }
        let floor = self.floor();
        self.acked.retain(|s| *s > floor);
    }

    /// Makes a pending delivery due at `at`. False when it is not pending.
    pub(crate) fn nak(&mut self, seq: u64, at: Instant) -> bool {
        let Some(lease) = self.pending.get_mut(&seq) else {
            return false;
        };
        self.deadlines.remove(&(lease.deadline, seq));
        lease.deadline = at;
        self.deadlines.insert((at, seq));
        true
    }

    pub(crate) fn configure(&mut self, ack_wait: Duration, max_ack_pending: usize) {
        self.ack_wait = ack_wait;
        self.max_ack_pending = max_ack_pending;
    }

    /// The filters changed: forget what was read ahead and scan again from the cursor.
    pub(crate) fn rescan(&mut self) {
        self.scan_pos = self.cursor();
        self.buffer.clear();
    }
}

/// A consumer's state in this process, shared by its handles.
pub(crate) struct Shared {
    name: String,
    state: Mutex<State>,
    /// Woken on acks, naks, reconfiguration and deletion.
    changed: Notify,
}

struct State {
    id: i64,
    deleted: bool,
    query: Arc<FilterQuery>,
    ack_wait: Duration,
    max_ack_pending: usize,
    tracker: Tracker,
}

impl Shared {
    pub(crate) fn new(stored: StoredConsumer) -> Shared {
        let tracker = Tracker::new(
            stored.ack_floor,
            stored.acked,
            stored.ack_wait,
            stored.max_ack_pending,
        );
        Shared {
            name: stored.name,
            state: Mutex::new(State {
                id: stored.id,
                deleted: false,
                query: Arc::new(FilterQuery::new(&stored.filters)),
                ack_wait: stored.ack_wait,
                max_ack_pending: stored.max_ack_pending,
                tracker,
            }),
            changed: Notify::new(),
        }
    }

    /// Stores and applies a changed declaration; a no-op when nothing changed.
    pub(crate) async fn reconfigure(
        &self,
        bus: &Inner,
        spec: &ConsumerSpec,
    ) -> Result<(), BusError> {
        let mut state = self.state.lock().await;
        let same_filters = state.query.filters() == spec.filters.as_slice();
        if same_filters
            && state.ack_wait == spec.ack_wait
            && state.max_ack_pending == spec.max_ack_pending
        {
            return Ok(());
        }
        let op = Op::UpdateConsumer {
            id: state.id,
            spec: spec.clone(),
        };
        match bus.write(op, 1).await? {
            Output::Done => {}
            other => return Err(unexpected(other)),
        }
        if !same_filters {
            state.query = Arc::new(FilterQuery::new(&spec.filters));
            state.tracker.rescan();
        }
        state.ack_wait = spec.ack_wait;
        state.max_ack_pending = spec.max_ack_pending;
        state.tracker.configure(spec.ack_wait, spec.max_ack_pending);
        drop(state);
        self.changed.notify_waiters();
        Ok(())
    }

    /// Ends every handle: they now fail with `ConsumerNotFound`.
    pub(crate) async fn mark_deleted(&self) {
        self.state.lock().await.deleted = true;
        self.changed.notify_waiters();
    }

    pub(crate) async fn info(&self) -> ConsumerInfo {
        let state = self.state.lock().await;
        ConsumerInfo {
            name: self.name.clone(),
            filters: state.query.filters().to_vec(),
            ack_wait: state.ack_wait,
            max_ack_pending: state.max_ack_pending,
            ack_floor: state.tracker.floor(),
            ack_pending: state.tracker.ack_pending(),
        }
    }
}

/// A handle on a consumer, as [`switchyard_bus::EventBus::consumer`] returns it.
pub(crate) struct Handle {
    pub(crate) bus: Arc<Inner>,
    pub(crate) shared: Arc<Shared>,
}

impl Handle {
    fn not_found(&self) -> BusError {
        BusError::ConsumerNotFound {
            name: self.shared.name.clone(),
        }
    }

    fn delivery(&self, message: Message, delivered: u32) -> Delivery {
        Delivery {
            message,
            consumer: self.shared.name.clone(),
            delivered,
        }
    }

    fn check(&self, delivery: &Delivery) -> Result<(), BusError> {
        if self.bus.is_closed() {
            return Err(BusError::Closed);
        }
        if delivery.consumer != self.shared.name {
            return Err(BusError::invalid(
                format!("delivery of message {}", delivery.seq()),
                format!(
                    "it was delivered to consumer `{}`, not `{}`; acknowledge it there",
                    delivery.consumer, self.shared.name
                ),
            ));
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Consumer for Handle {
    fn name(&self) -> &str {
        &self.shared.name
    }

    async fn next(&self) -> Result<Delivery, BusError> {
        let mut committed = self.bus.committed.clone();
        let mut closed = self.bus.closed.subscribe();
        loop {
            if *closed.borrow_and_update() {
                return Err(BusError::Closed);
            }
            // Registered before the state is looked at, so a wake-up in between is not lost.
            let changed = self.shared.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let upto = *committed.borrow_and_update();
            let (deadline, want_new) = {
                let mut state = self.shared.state.lock().await;
                if state.deleted {
                    return Err(self.not_found());
                }
                if let Some(seq) = state.tracker.due(Instant::now()) {
                    match self
                        .bus
                        .readers
                        .run(move |conn| readers::message(conn, seq))
                        .await?
                    {
                        Some(message) => {
                            let delivered = state.tracker.redeliver(seq, Instant::now());
                            return Ok(self.delivery(message, delivered));
                        }
                        None => {
                            // Retention removed it: nothing to redeliver.
                            state.tracker.settle(seq);
                            continue;
                        }
                    }
                }
                while state.tracker.has_room() {
                    if let Some(message) = state.tracker.deliver_next(Instant::now()) {
                        return Ok(self.delivery(message, 1));
                    }
                    if !state.tracker.needs_scan(upto) {
                        break;
                    }
                    let query = Arc::clone(&state.query);
                    let from = state.tracker.scan_pos();
                    let scanned = self
                        .bus
                        .readers
                        .run(move |conn| {
                            readers::scan(conn, &query, from, upto, SCAN_COUNT, SCAN_BYTES)
                        })
                        .await?;
                    state.tracker.scanned(scanned);
                }
                (state.tracker.next_deadline(), state.tracker.has_room())
            };
            let fallback = Instant::now() + FALLBACK_POLL;
            let wake_at = deadline.map_or(fallback, |d| d.min(fallback));
            tokio::select! {
                () = &mut changed => {}
                published = committed.changed(), if want_new => {
                    if published.is_err() {
                        // The writer has stopped: the bus is closed.
                        return Err(BusError::Closed);
                    }
                }
                _ = closed.changed() => {}
                () = tokio::time::sleep_until(wake_at) => {}
            }
        }
    }

    async fn ack(&self, delivery: &Delivery) -> Result<(), BusError> {
        self.check(delivery)?;
        let seq = delivery.seq();
        let (id, floor) = {
            let state = self.shared.state.lock().await;
            if state.deleted {
                return Err(self.not_found());
            }
            match state.tracker.floor_after_ack(seq) {
                Some(floor) => (state.id, floor),
                None => return Ok(()),
            }
        };
        let op = Op::Ack {
            consumer_id: id,
            seq,
            floor,
        };
        match self.bus.write(op, 1).await? {
            Output::Done => {}
            other => return Err(unexpected(other)),
        }
        {
            let mut state = self.shared.state.lock().await;
            if state.id == id {
                state.tracker.settle(seq);
            }
        }
        // A slot is free (max_ack_pending) for a waiting `next`.
        self.shared.changed.notify_waiters();
        Ok(())
    }

    async fn nak(&self, delivery: &Delivery, delay: Duration) -> Result<(), BusError> {
        self.check(delivery)?;
        validate_nak_delay(delay)?;
        let mut state = self.shared.state.lock().await;
        if state.deleted {
            return Err(self.not_found());
        }
        if state.tracker.nak(delivery.seq(), Instant::now() + delay) {
            drop(state);
            self.shared.changed.notify_waiters();
        }
        Ok(())
    }
}

/// The consumer info of a consumer not loaded in this process.
pub(crate) fn stored_info(stored: StoredConsumer) -> ConsumerInfo {
    ConsumerInfo {
        name: stored.name,
        filters: stored.filters,
        ack_wait: stored.ack_wait,
        max_ack_pending: stored.max_ack_pending,
        ack_floor: stored.ack_floor,
        ack_pending: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_bus::Subject;

    fn msg(seq: u64) -> Message {
        Message {
            seq,
            subject: Subject::new("s").unwrap(),
            published_at: chrono::DateTime::UNIX_EPOCH,
            dedup_id: None,
            headers: Default::default(),
            payload: Vec::new(),
        }
    }

    fn scanned(seqs: &[u64], to: u64) -> Scanned {
        Scanned {
            messages: seqs.iter().map(|s| msg(*s)).collect(),
            scanned_to: to,
        }
    }

    fn tracker(floor: u64, acked: &[u64], max: usize) -> Tracker {
        Tracker::new(floor, acked.iter().copied(), Duration::from_secs(10), max)
    }

    fn deliver(t: &mut Tracker, now: Instant) -> Option<u64> {
        t.deliver_next(now).map(|m| m.seq)
    }

    #[test]
    fn first_deliveries_in_order_and_the_floor_follows_acks() {
        let now = Instant::now();
        let mut t = tracker(0, &[], 10);
        assert!(t.needs_scan(6));
        // Scanned up to 6; 2 and 5 did not match.
        t.scanned(scanned(&[1, 3, 4, 6], 6));
        assert!(!t.needs_scan(6));
        assert_eq!(t.floor(), 0);
        assert_eq!(deliver(&mut t, now), Some(1));
        assert_eq!(deliver(&mut t, now), Some(3));
        assert_eq!(t.floor(), 0, "1 is pending");
        assert_eq!(t.floor_after_ack(3), Some(0), "1 is still pending");
        t.settle(3);
        assert_eq!(
            t.floor_after_ack(1),
            Some(3),
            "4 is buffered: the cursor is 3"
        );
        t.settle(1);
        assert_eq!(t.floor(), 3);
        assert_eq!(deliver(&mut t, now), Some(4));
        assert_eq!(deliver(&mut t, now), Some(6));
        assert_eq!(deliver(&mut t, now), None);
        assert_eq!(t.floor_after_ack(6), Some(3));
        t.settle(6);
        assert_eq!(
            t.floor_after_ack(4),
            Some(6),
            "nothing else pending: the cursor"
        );
        t.settle(4);
        assert_eq!(t.floor(), 6);
        assert_eq!(t.floor_after_ack(4), None, "already acked");
        assert_eq!(t.floor_after_ack(99), None, "never delivered");
    }

    #[test]
    fn acked_sequences_from_before_a_restart_are_skipped() {
        let now = Instant::now();
        let mut t = tracker(4, &[2, 6, 8], 10);
        assert_eq!(t.floor(), 4);
        t.scanned(scanned(&[5, 6, 7, 8, 9], 9));
        assert_eq!(deliver(&mut t, now), Some(5));
        assert_eq!(deliver(&mut t, now), Some(7), "6 was acked before");
        assert_eq!(deliver(&mut t, now), Some(9), "8 was acked before");
        t.settle(5);
        t.settle(7);
        t.settle(9);
        assert_eq!(t.floor(), 9);
        assert!(t.acked.is_empty(), "acks at or below the floor are dropped");
    }

    #[test]
    fn max_ack_pending_and_deadlines() {
        let start = Instant::now();
        let mut t = tracker(0, &[], 2);
        t.scanned(scanned(&[1, 2, 3], 3));
        assert_eq!(deliver(&mut t, start), Some(1));
        let later = start + Duration::from_secs(1);
        assert_eq!(deliver(&mut t, later), Some(2));
        assert!(!t.has_room());
        assert_eq!(t.due(start), None);
        assert_eq!(t.next_deadline(), Some(start + Duration::from_secs(10)));
        let expired = start + Duration::from_secs(10);
        assert_eq!(t.due(expired), Some(1));
        assert_eq!(t.redeliver(1, expired), 2);
        assert_eq!(t.due(expired), None);
        assert_eq!(t.due(later + Duration::from_secs(10)), Some(2));
        t.settle(2);
        assert!(t.has_room());
        assert_eq!(deliver(&mut t, expired), Some(3));
        assert_eq!(t.ack_pending(), 2);
    }

    #[test]
    fn nak_moves_the_deadline_and_only_for_pending_messages() {
        let now = Instant::now();
        let mut t = tracker(0, &[], 5);
        t.scanned(scanned(&[1, 2], 2));
        assert_eq!(deliver(&mut t, now), Some(1));
        assert_eq!(deliver(&mut t, now), Some(2));
        assert!(t.nak(2, now));
        assert_eq!(t.due(now), Some(2));
        assert!(t.nak(2, now + Duration::from_secs(3600)));
        let minute = now + Duration::from_secs(60);
        assert_eq!(
            t.due(minute),
            Some(1),
            "1's ack_wait passed; 2 waits an hour"
        );
        t.settle(1);
        assert_eq!(t.due(minute), None);
        assert!(!t.nak(7, now), "not pending");
        assert!(!t.nak(1, now), "acked");
    }

    #[test]
    fn changed_filters_rescan_from_the_cursor() {
        let now = Instant::now();
        let mut t = tracker(0, &[], 5);
        t.scanned(scanned(&[2, 5], 8));
        assert_eq!(deliver(&mut t, now), Some(2));
        t.settle(2);
        assert_eq!(t.floor(), 4, "5 is buffered");
        t.rescan();
        assert_eq!((t.scan_pos(), t.floor()), (4, 4));
        assert!(t.needs_scan(8));
        // A scan result older than the position is not taken twice.
        t.scanned(scanned(&[3, 6], 8));
        assert_eq!(deliver(&mut t, now), Some(6));
    }

    #[test]
    fn a_message_that_is_gone_is_settled() {
        let now = Instant::now();
        let mut t = tracker(0, &[], 5);
        t.scanned(scanned(&[1, 2], 2));
        assert_eq!(deliver(&mut t, now), Some(1));
        t.settle(1);
        assert_eq!(t.redeliver(1, now), 0, "not pending: nothing to count");
        assert_eq!(t.floor(), 1);
    }
}
