//! The EventBus port: where EventSources publish events and Sensors consume them, and the
//! contract every backend keeps.
//!
//! This crate owns the port: the [`EventBus`] and [`Consumer`] traits and their written
//! contract (below), the value types that cross them, subject and filter syntax
//! ([`Subject`], [`SubjectFilter`]), the stream settings ([`Limits`]), the one error type
//! ([`BusError`]) and the conformance suite every backend runs ([`conformance`],
//! [`bus_conformance_tests!`]). Backends: `switchyard-bus-embedded` (SQLite on local disk)
//! today, NATS JetStream later; nothing here asks for more than JetStream does.
//!
//! # Contract
//!
//! Every backend keeps all of the following; the conformance suite checks each clause that
//! can be checked from the outside.
//!
//! **Messages and sequences.** A bus is one ordered stream of messages. Each stored message
//! gets the next sequence number: 1 for the first message ever published, then +1 for each
//! message stored, with no gaps and no reuse (not even after retention removed messages or
//! after a restart). A message has a [`Subject`], an optional dedup id, [`Headers`] (a small
//! map of strings; names starting with `Nats-` are reserved), a payload of bytes, and the
//! time the bus stored it (never before the time of an earlier message).
//!
//! **Subjects.** Tokens separated by `.`; no empty tokens, whitespace or control characters;
//! at most [`MAX_SUBJECT_LEN`] bytes. Published subjects have no wildcards. A
//! [`SubjectFilter`] may use `*` as a whole token (exactly one token) and `>` as the last
//! token (one or more tokens), as NATS does: `events.default.webhook.>`. Bad syntax is
//! [`BusError::Invalid`] with the offending token's position.
//!
//! **Publish is durable on return.** [`EventBus::publish`] returns only once the message is
//! stored durably: fsynced to local disk for the embedded bus, acknowledged by the JetStream
//! server (with its file storage) for JetStream. So the webhook may answer 2xx when publish
//! returns `Ok`, and must not before. When publish returns an error the message was not
//! stored, except for [`BusError::Unavailable`] raised while committing, after which it may
//! or may not have been; publishing again with the same dedup id settles it without storing
//! it twice. A publish whose future is dropped may or may not take effect.
//!
//! **Dedup.** A publish with a dedup id that was published before, within
//! [`Limits::dedup_window`] of that original publish, stores nothing and returns the
//! ORIGINAL message's sequence with `duplicate: true`, whatever its subject, headers and
//! payload. Ids are compared exactly, across the whole bus (not per subject). Concurrent
//! publishes of one new id store it once: one of them stores it, the others are duplicates
//! of it. The window is guaranteed only while the original message is retained (retention
//! below may remove it earlier when `max_messages` or `max_bytes` is reached; `max_age` is
//! never shorter than the window). After the window the id is new again. A restart keeps
//! the window. The bus window is a first line: exactly-once effects must not rest on it (see
//! below).
//!
//! **Reading.** [`EventBus::read`] returns retained messages with sequence `>= from_seq`
//! whose subject matches the filter, in sequence order, at most `limit` of them (at most
//! [`MAX_READ_LIMIT`]; a larger `limit` is [`BusError::Invalid`]). It may return fewer to
//! bound memory (at least one when any matches); read on from the last sequence + 1.
//! [`EventBus::info`] says which sequences exist. Reading never changes any consumer.
//!
//! **Consumers.** A durable consumer is a name ([`ConsumerSpec::name`]) with a set of subject
//! filters, an `ack_wait` and a `max_ack_pending`. [`EventBus::consumer`] creates it (starting
//! at [`ConsumerSpec::start`]) or, when it exists, resumes it from its position, and returns a
//! handle. If the declaration changed (filters, `ack_wait`, `max_ack_pending`), the stored one
//! is replaced and the position is kept: messages after it that match the new filters are
//! delivered; earlier ones are not. Consumers are independent: each gets every message its
//! filters match, whatever the others do. A message matching several filters of one consumer
//! is delivered to it once. [`EventBus::delete_consumer`] forgets a consumer and its position;
//! its live handles then fail with [`BusError::ConsumerNotFound`], and a consumer created later
//! under the same name starts afresh.
//!
//! **Delivery order.** [`Consumer::next`] waits for and returns the next delivery. First
//! deliveries come in sequence order (so in publish order per subject, and in global sequence
//! order). Redeliveries come first when they are due, so with `max_ack_pending > 1` a
//! redelivered message can arrive after later ones. With `max_ack_pending = 1` nothing new is
//! delivered while a message is unacknowledged, which keeps strict order even across
//! redeliveries. `next` does not busy-poll: it wakes when a message is published, when a
//! delivery is due again, or on a bounded fallback poll.
//!
//! **Acks, naks, redelivery.** [`Consumer::ack`] marks a delivered message done for this
//! consumer; it returns once that is durable (fsynced for the embedded bus; confirmed by the
//! server for JetStream), so after a restart the consumer resumes after every acked message
//! and never gets one again. An unacknowledged delivery is delivered again once `ack_wait` has
//! passed since it was delivered, or after the delay of an explicit [`Consumer::nak`] (zero:
//! at once), with [`Delivery::delivered`] one higher. A restart redelivers every delivered but
//! unacknowledged message at once; the embedded bus does not keep delivery counts across
//! restarts, so after one `delivered` may start again at 1. Ack and nak are idempotent: acking
//! an acked message, or one that retention removed, is `Ok`. Acknowledge a delivery on the
//! handle that returned it (or another handle of the same consumer); a delivery of another
//! consumer is [`BusError::Invalid`]. There is no `max_deliver`: a consumer that gives up on a
//! message (a poison event) records it in its own dead-letter store and acks it.
//!
//! **Several handles.** Handles of one consumer (from several `consumer` calls with the same
//! name, in this process) share its position and its unacknowledged deliveries, as JetStream
//! pull subscribers on one durable do: each message goes to one of them.
//!
//! **At least once; exactly-once effects.** Delivery is at least once: a message can be
//! delivered again after `ack_wait`, a nak, a crash before the ack was durable, or a restart.
//! A consumer gets exactly-once effects by recording the message's sequence (or its dedup id)
//! in its own transaction together with the effect, under a unique key, and acking only after
//! that transaction committed; a redelivered message then finds its record and is acked
//! without effect. The bus's dedup window protects ingest from client retries; it is not what
//! makes a trigger fire once.
//!
//! **Retention.** Messages are kept until a limit of [`Limits`] removes them, oldest first:
//! `max_age` (in the background), `max_messages` and `max_bytes` (when a publish would exceed
//! them; the new message is kept). This is JetStream's "limits" retention with "discard old":
//! acknowledgements never remove messages (so `read` and new consumers still see them), and a
//! message is never removed for any other reason, but a limit removes a message even if some
//! consumer has not acknowledged it yet. Such a consumer skips it: it is not delivered or
//! redelivered, and acking it is `Ok`. Set the limits so that consumers keep up.
//!
//! **Closing.** [`EventBus::close`] shuts the bus down cleanly: publishes already accepted
//! finish (stored, or an error), later calls fail with [`BusError::Closed`], waiting
//! [`Consumer::next`] calls return `Closed`, and the backend releases its storage (the
//! embedded bus can be opened again on the same directory once `close` returns). Closing
//! twice is `Ok`.
//!
//! **Errors.** [`BusError`] separates what the caller did ([`Invalid`](BusError::Invalid),
//! [`PayloadTooLarge`](BusError::PayloadTooLarge),
//! [`ConsumerNotFound`](BusError::ConsumerNotFound)) from what the bus suffers
//! ([`Unavailable`](BusError::Unavailable): I/O error, disk full, server down; the only
//! retryable class, HTTP 503 with `Retry-After`), from shutdown ([`Closed`](BusError::Closed)),
//! from what needs an operator ([`Corrupt`](BusError::Corrupt)) and from bugs
//! ([`Internal`](BusError::Internal)).
//!
//! # Notes for a JetStream backend
//!
//! One stream per bus, subjects `>` or a prefix; [`Limits`] map onto `duplicate_window`,
//! `max_age`, `max_msgs`, `max_bytes`, `max_msg_size` with limits retention and discard old.
//! The dedup id travels as `Nats-Msg-Id`; a duplicate's `PubAck` carries the original
//! sequence. Consumers are durable pull consumers with explicit ack, `ack_wait`,
//! `max_ack_pending` and deliver policy all / new / by start sequence; acks use the
//! acknowledged ("double") ack, naks `-NAK` with a delay. nats-server 2.9 accepts one
//! `filter_subject` per consumer: with several filters, the backend subscribes to `>` (or their
//! common prefix) and acks non-matching messages itself; changing the filters of an existing
//! durable means recreating it with a start sequence after its ack floor. `read` uses direct
//! gets or an ephemeral ordered consumer from `from_seq`.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod conformance;
mod consumer;
mod error;
mod limits;
mod message;
mod subject;

pub use consumer::{
    BusInfo, ConsumerInfo, ConsumerSpec, DEFAULT_ACK_WAIT, DEFAULT_MAX_ACK_PENDING,
    MAX_ACK_PENDING_CEILING, MAX_CONSUMER_NAME_LEN, MAX_FILTERS, MAX_WAIT, StartPosition,
    validate_consumer_name, validate_nak_delay,
};
pub use error::BusError;
pub use limits::{
    DEFAULT_DEDUP_WINDOW, DEFAULT_MAX_AGE, DEFAULT_MAX_MESSAGES, DEFAULT_MAX_PAYLOAD, Limits,
    MAX_DEDUP_WINDOW, MAX_PAYLOAD_CEILING,
};
pub use message::{
    Delivery, Headers, MAX_DEDUP_ID_LEN, MAX_HEADER_NAME_LEN, MAX_HEADERS, MAX_HEADERS_LEN,
    Message, OutgoingMessage, Published, RESERVED_HEADER_PREFIX,
};
pub use subject::{MAX_SUBJECT_LEN, Subject, SubjectFilter};

use async_trait::async_trait;
use std::time::Duration;

/// Most messages one [`EventBus::read`] returns.
pub const MAX_READ_LIMIT: usize = 1000;

/// The port. Read the crate docs: they are the contract.
#[async_trait]
pub trait EventBus: Send + Sync + 'static {
    /// Stores a message; returns once it is durable. A duplicate dedup id within the window
    /// stores nothing and returns the original sequence with `duplicate: true`.
    async fn publish(&self, msg: OutgoingMessage) -> Result<Published, BusError>;

    /// Creates the durable consumer, or resumes it (updating its declaration if it
    /// changed), and returns a handle on it.
    async fn consumer(&self, spec: ConsumerSpec) -> Result<Box<dyn Consumer>, BusError>;

    /// Forgets a durable consumer and its position. Returns whether it existed.
    async fn delete_consumer(&self, name: &str) -> Result<bool, BusError>;

    /// A durable consumer's declaration and position, or `None` if it does not exist.
    async fn consumer_info(&self, name: &str) -> Result<Option<ConsumerInfo>, BusError>;

    /// Up to `limit` retained messages with sequence `>= from_seq` that match `filter`, in
    /// sequence order.
    async fn read(
        &self,
        from_seq: u64,
        limit: usize,
        filter: &SubjectFilter,
    ) -> Result<Vec<Message>, BusError>;

    /// How many messages are retained, and which sequences.
    async fn info(&self) -> Result<BusInfo, BusError>;

    /// Shuts the bus down; see "Closing" in the crate docs.
    async fn close(&self) -> Result<(), BusError>;
}

/// A handle on a durable consumer. Methods take `&self`, so one task can wait in
/// [`Consumer::next`] while others ack (share the handle behind an `Arc`).
#[async_trait]
pub trait Consumer: Send + Sync {
    /// The consumer's name.
    fn name(&self) -> &str;

    /// Waits for the next delivery: a due redelivery first, else the next matching message
    /// in sequence order. Cancel-safe: dropping the future loses no message.
    async fn next(&self) -> Result<Delivery, BusError>;

    /// Marks the delivered message done for this consumer; durable on return.
    async fn ack(&self, delivery: &Delivery) -> Result<(), BusError>;

    /// Asks for the message to be delivered again after `delay` (zero: at once).
    async fn nak(&self, delivery: &Delivery, delay: Duration) -> Result<(), BusError>;
}

/// Checks a `read` limit: at most [`MAX_READ_LIMIT`].
pub fn validate_read_limit(limit: usize) -> Result<(), BusError> {
    if limit > MAX_READ_LIMIT {
        return Err(BusError::invalid(
            "read limit",
            format!("it is {limit}; at most {MAX_READ_LIMIT} messages are read at once"),
        ));
    }
    Ok(())
}
