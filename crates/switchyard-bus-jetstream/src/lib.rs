//! The [`EventBus`] port on NATS JetStream: one file-backed stream per bus, durable pull
//! consumers, publishes confirmed by the server's `PubAck`, acks confirmed by the server.
//!
//! The contract is the port's (the `switchyard_bus` crate docs). This page says how JetStream
//! keeps it, what durability that buys, and where JetStream differs. Written for and tested
//! against nats-server 2.9.10 (Debian's) with async-nats 0.51; it uses nothing newer servers
//! added, and handles what they answer differently (noted below).
//!
//! # Design
//!
//! - **Stream.** [`JetStreamBus::connect`] creates the stream [`JetStreamConfig::stream`], or
//!   updates it to the current settings (so connecting is idempotent and a restart reopens
//!   the same stream). It captures `<subject_prefix>.>`: bus subject `s` is stored as
//!   `<subject_prefix>.s` ([`SubjectMap`]), so several platforms share one NATS account with
//!   their own stream names and prefixes. File storage, [`JetStreamConfig::replicas`]
//!   copies, "limits" retention with "discard old", and [`Limits`] as `max_msgs`,
//!   `max_bytes`, `max_age`, `duplicate_window` and `max_msg_size` (the payload limit plus
//!   [`HEADER_ALLOWANCE`]). Stream sequences are the bus's sequences: JetStream numbers
//!   stored messages 1, 2, 3… without gaps, and a duplicate takes no number. The bus owns the
//!   stream's configuration: settings changed by hand are reset at the next connect.
//! - **Publish** sends the message with a reply subject and waits for the `PubAck`, which the
//!   server sends once it has stored the message (see "Durability"). The dedup id travels in
//!   `Nats-Msg-Id`. A duplicate's `PubAck` carries the original sequence and `duplicate: true`
//!   on nats-server 2.9, single server or cluster. Clustered servers from 2.10.14 answer a
//!   duplicate whose original is still being replicated with sequence 0 (2.10) or error
//!   10158, "duplicate message id is in process" (2.11 and later); the bus asks again until
//!   the original is stored (for about two seconds), then answers
//!   [`BusError::Unavailable`], after which publishing again settles it. Header values that
//!   NATS would change in transit (whitespace at either end) or that would confuse 2.9's
//!   dedup lookup (containing `Nats-Msg-Id`) travel encoded and come back as published.
//! - **Consumers.** A bus consumer is a durable pull consumer of the same name
//!   ([`jetstream_name`] keeps every valid bus name as it is) with explicit acks, its
//!   `ack_wait` and `max_ack_pending`, deliver policy all, new or by start sequence, and no
//!   `max_deliver`. nats-server 2.9 takes one `filter_subject` per consumer, so the server
//!   filters with the [`covering_filter`] of the declared filters (the filter itself when
//!   there is one) and the bus applies the exact filters, acking a message outside them
//!   without delivering it. One consumer per filter was the alternative and was rejected: it
//!   cannot deliver a message matching two filters once, nor keep sequence order across
//!   filters, nor share one `max_ack_pending`. The declared filters are kept in the
//!   consumer's description. A changed `ack_wait`, `max_ack_pending` or filter list whose
//!   covering subject stays the same is updated in place; a changed covering subject makes
//!   the bus delete the consumer and create it again, starting just after its ack floor
//!   (2.9 accepts a new filter in an update but does not apply it consistently).
//! - **Pulling.** `next` sends a pull request for one message (expiring after 30 s, with
//!   5 s idle heartbeats) and waits for it; the request and its inbox belong to the consumer
//!   in this process, so a `next` that is dropped loses nothing: the following call receives
//!   what arrived. The bus never pulls ahead: the server holds no message for this process
//!   that nobody asked for, so `max_ack_pending` counts exactly what callers hold and a
//!   message that retention removed before anyone asked for it is skipped. The price is one
//!   round trip per message (see the throughput test).
//! - **Acks and naks** are JetStream's confirmed ("double") acks: `+ACK`, or `-NAK` with
//!   `{"delay": ns}`, sent as a request to the delivery's reply subject; the call returns
//!   when the server answers, after it has applied it. The reply subjects of unacked
//!   deliveries are kept by sequence for all handles of the consumer in this process.
//!   Delivery counts are the server's and survive restarts.
//! - **Restarts.** The first [`EventBus::consumer`] call for a name on a newly connected bus
//!   makes that consumer's pending deliveries due at once, as the contract asks: nothing in
//!   this process holds them, and JetStream would wait out their `ack_wait`. JetStream
//!   cannot list what is pending, so the bus naks every sequence from the ack floor to the
//!   last delivery (at most [`SWEEP_MAX`]; the server ignores naks of sequences that are not
//!   pending) and waits for the server to confirm the last one.
//! - **Reading** creates an ephemeral, memory-stored consumer without acks starting at
//!   `from_seq` with the filter, pulls up to `limit` messages (at most [`READ_BYTES`]) with
//!   `no_wait`, and deletes it. Durable consumers are not touched.
//! - **Failures.** A NATS outage, a slow or leaderless JetStream, full storage: all are
//!   [`BusError::Unavailable`] (HTTP 503 with `Retry-After`); a publish then may or may not
//!   have been stored, and publishing again with the same dedup id settles it. Publishes fail
//!   at once while the connection is down rather than wait in the client's buffer. What the
//!   server refuses because of the configuration is [`BusError::Invalid`].
//! - **Closing** stops new calls ([`BusError::Closed`]), wakes waiting `next` calls, lets
//!   publishes, acks and naks in flight finish, then drains and closes the connection. The
//!   stream stays on the server.
//!
//! # Durability: when the server fsyncs
//!
//! The bus never touches a disk; a `PubAck` means the server (the stream leader and, with
//! replicas, a quorum) has *written* the message to its file store, which puts it in the
//! operating system's page cache. When it reaches the disk is the server's `sync` setting:
//!
//! | nats-server | setting | an acknowledged publish survives |
//! |---|---|---|
//! | 2.9.x, here 2.9.10 | none: streams are fsynced every 2 minutes, hard-coded | a crash or restart of nats-server; **not** an OS crash or power loss in the 2 minutes before it |
//! | 2.10.0 and later | default, `jetstream { sync_interval: 2m }` | the same |
//! | 2.10.0 and later | `jetstream { sync_interval: always }` (or `sync: always`) | also an OS crash or power loss: each message is fsynced before its `PubAck` |
//!
//! The setting arrived in nats-server 2.10.0; 2.9 has no way to change it. Jepsen's analysis
//! of NATS 2.12.1 (December 2025) lost acknowledged writes under the default: a coordinated
//! power failure, or an OS crash on one node combined with process pauses or network
//! partitions, lost messages the servers had acknowledged, because each node fsyncs only
//! every two minutes. Replicas do not make up for it when failures coincide.
//!
//! **What we run with.** The tests and measurements here use nats-server 2.9.10 with its
//! defaults: the 2-minute fsync, which is what makes publishes cheap (a `PubAck` costs a
//! `write`, not an fsync). Measured on the development machine (2 cores, server on the same
//! host, `tests/throughput.rs` in release mode): about 9,800 publishes/s from one publisher
//! and 36,000/s from 128 concurrent ones, while the disk takes about 300 fsyncs/s.
//! `sync_interval: always` costs one fsync per stored message on the leader (and on each
//! replica), with no group commit: publish throughput falls to about the disk's fsync rate
//! whatever the number of publishers (here some 300/s, a hundredfold less), and each publish
//! waits for an fsync (the embedded bus, by contrast, shares one fsync among concurrent
//! publishes). Consuming costs two round trips per message (pull, confirmed ack): about
//! 2,500 messages/s one at a time, 3,300/s with acks overlapped.
//!
//! **What operators should do.** Where an acknowledged event must not be lost (the webhook
//! answered 2xx), run nats-server 2.10 or later with `jetstream { sync_interval: always }`:
//! then the bus promises what the embedded bus promises, an event acknowledged is on disk.
//! Under the default (and on 2.9), the bus promises that an acknowledged event survives a
//! crash or restart of nats-server; an OS crash or power loss on the machine holding it
//! within the sync interval can lose it. Replicas (3, in separate failure domains) narrow
//! that window but, as Jepsen showed, do not close it.
//!
//! **Acks** are applied in the server's memory when confirmed; the consumer's state (ack
//! floor, acked sequences) is written to its file at most ten times a second on 2.9, without
//! fsync. An ack confirmed just before a server crash may be forgotten, and the message is
//! delivered again: at least once, as the contract says; consumers get exactly-once effects
//! from their own ledger, not from the bus.
//!
//! # Where JetStream differs from the contract
//!
//! - Dedup windows shorter than 100 ms are kept as 100 ms, JetStream's minimum; `max_age`
//!   below 100 ms (also JetStream's minimum) is refused.
//! - A changed covering filter recreates the consumer after its ack floor: messages acked
//!   out of order above the floor that match the new filters come again, and delivery
//!   counts start over.
//! - The restart sweep covers at most [`SWEEP_MAX`] sequences; past that, deliveries pending
//!   from before the restart come again after their `ack_wait`. Two processes sharing one
//!   consumer (not in the contract) would each make the other's unacked deliveries due when
//!   they connect: delivered twice, never lost.
//! - `published_at` is the server's wall clock when it stored the message; it goes back if
//!   the server's clock is stepped back.
//! - A consumer's declared filters must fit JetStream's 4 KiB description (about 15 filters of
//!   the longest subjects); more is [`BusError::Invalid`].
//! - With a dedup id, a header name containing `Nats-Msg-Id` is [`BusError::Invalid`]:
//!   nats-server 2.9 would take it for the dedup header.
//!
//! # Tests
//!
//! Unit tests cover what is pure (subject mapping, names, covering filters, header encoding,
//! ack replies, error classes, configuration). `tests/conformance.rs` runs the port's
//! conformance suite and `tests/jetstream.rs` what only this backend has, each test on a
//! stream and subject prefix of its own that it deletes afterwards, against
//! `nats://127.0.0.1:4222` or `SWITCHYARD_TEST_NATS_URL`. Without a reachable server a test
//! says it is skipped and passes, unless `CI=true`, where it fails. The outage test starts
//! and kills a nats-server of its own (from `PATH`, or `SWITCHYARD_TEST_NATS_SERVER`).
//! `tests/throughput.rs` is the measurement quoted above (ignored by default).

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod config;
mod consumer;
mod errors;
mod names;
mod wire;

pub use config::{
    Credentials, DEFAULT_CONNECT_TIMEOUT, DEFAULT_STREAM, DEFAULT_TIMEOUT, JetStreamConfig,
    MAX_REPLICAS,
};
pub use consumer::SWEEP_MAX;
pub use names::{
    MAX_PREFIX_LEN, MAX_STREAM_NAME_LEN, SubjectMap, covering_filter, jetstream_name,
    validate_stream_name,
};

use async_nats::jetstream::{self, ErrorCode, response::Response};
use async_nats::{Client, ConnectOptions, Event, Request};
use async_trait::async_trait;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use switchyard_bus::{
    BusError, BusInfo, Consumer, ConsumerInfo, ConsumerSpec, EventBus, Limits, Message,
    OutgoingMessage, Published, SubjectFilter, validate_consumer_name, validate_read_limit,
};
use tokio::sync::watch;
use tokio::time::Instant;

use consumer::{
    ConsumerAnswer, CreateRequest, Deleted, NewConsumer, ServerConsumer, Shared, Start,
};
use errors::{DUPLICATE_IN_PROCESS, api_error, connect_error, core_request_error, request_error};

/// Room for headers on top of the payload limit in the stream's `max_msg_size`: the bus
/// allows 16 KiB of header names and values, which the value encoding can triple.
pub const HEADER_ALLOWANCE: usize = 64 * 1024;
/// JetStream's smallest `duplicate_window` and `max_age`.
pub const MIN_WINDOW: Duration = Duration::from_millis(100);
/// Most payload bytes one `read` asks the server for (at least one message is returned).
pub const READ_BYTES: usize = 16 * 1024 * 1024;
/// How long the server keeps a read's ephemeral consumer if the bus could not delete it.
const READ_INACTIVE: Duration = Duration::from_secs(60);
/// How long publish keeps asking while the original of a duplicate is still being stored.
const DUPLICATE_PATIENCE: Duration = Duration::from_secs(2);

/// The bus on NATS JetStream. Share it behind an `Arc`; see the crate docs.
pub struct JetStreamBus {
    inner: Arc<Inner>,
}

/// What the bus and its consumer handles share.
pub(crate) struct Inner {
    pub(crate) client: Client,
    js: jetstream::Context,
    pub(crate) stream: String,
    pub(crate) map: SubjectMap,
    limits: Limits,
    pub(crate) timeout: Duration,
    /// The largest message (headers and payload) the server accepts.
    server_max_payload: usize,
    pub(crate) closed: watch::Sender<bool>,
    /// Held shared by every publish, ack and nak while it runs, and exclusively by `close`,
    /// which so waits for them.
    pub(crate) gate: tokio::sync::RwLock<()>,
    pub(crate) consumers: tokio::sync::Mutex<HashMap<String, Arc<Shared>>>,
}

impl fmt::Debug for JetStreamBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JetStreamBus")
            .field("stream", &self.inner.stream)
            .field("subject_prefix", &self.inner.map.prefix())
            .field("limits", &self.inner.limits)
            .finish_non_exhaustive()
    }
}

/// A duration in nanoseconds, as JetStream's API wants it.
pub(crate) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The stream configuration the bus keeps.
#[derive(Debug, Serialize)]
struct StreamConfig<'a> {
    name: &'a str,
    description: &'static str,
    subjects: Vec<String>,
    retention: &'static str,
    max_consumers: i64,
    max_msgs: i64,
    max_bytes: i64,
    max_age: u64,
    max_msgs_per_subject: i64,
    max_msg_size: i64,
    discard: &'static str,
    storage: &'static str,
    num_replicas: usize,
    duplicate_window: u64,
}

fn stream_config<'a>(
    config: &'a JetStreamConfig,
    map: &SubjectMap,
    limits: &Limits,
) -> StreamConfig<'a> {
    let to_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let mut max_msg_size = limits.max_payload.saturating_add(HEADER_ALLOWANCE) as u64;
    if let Some(max_bytes) = limits.max_bytes {
        max_msg_size = max_msg_size.min(max_bytes);
    }
    StreamConfig {
        name: &config.stream,
        description: "Switchyard event bus",
        subjects: vec![map.stream_subjects()],
        retention: "limits",
        max_consumers: -1,
        max_msgs: limits.max_messages.map_or(-1, to_i64),
        max_bytes: limits.max_bytes.map_or(-1, to_i64),
        max_age: limits.max_age.map_or(0, nanos),
        max_msgs_per_subject: -1,
        max_msg_size: to_i64(max_msg_size).min(i64::from(i32::MAX)),
        discard: "old",
        storage: "file",
        num_replicas: config.replicas,
        duplicate_window: nanos(limits.dedup_window.max(MIN_WINDOW)),
    }
}

/// nats-server 2.9 answers an info request for a stream that is being deleted with neither
/// an error nor a state.
#[derive(Debug, Deserialize)]
struct StreamInfo {
    #[serde(default)]
    state: Option<StreamState>,
}

#[derive(Debug, Deserialize)]
struct StreamState {
    #[serde(default)]
    messages: u64,
    #[serde(default)]
    first_seq: u64,
    #[serde(default)]
    last_seq: u64,
}

#[derive(Debug, Deserialize)]
struct PubAck {
    stream: String,
    seq: u64,
    #[serde(default)]
    duplicate: bool,
}

#[derive(Serialize)]
struct ReadPull {
    batch: usize,
    no_wait: bool,
    expires: u64,
    max_bytes: usize,
}

impl JetStreamBus {
    /// Connects to NATS, creates or updates the bus stream, and returns the bus.
    ///
    /// Fails with [`BusError::Invalid`] for a bad configuration or limits (every problem at
    /// once), credentials or TLS settings the server refuses, or a stream the server will not
    /// create as configured (say, its subjects overlap another stream's); with
    /// [`BusError::Unavailable`] when NATS or JetStream cannot be reached.
    pub async fn connect(
        config: JetStreamConfig,
        limits: Limits,
    ) -> Result<JetStreamBus, BusError> {
        limits.validate()?;
        config.validate()?;
        if let Some(age) = limits.max_age
            && age < MIN_WINDOW
        {
            return Err(BusError::invalid(
                "bus limits",
                format!(
                    "max_age is {age:?}; NATS JetStream keeps messages at least {MIN_WINDOW:?}"
                ),
            ));
        }
        if limits.dedup_window < MIN_WINDOW {
            tracing::info!(
                window = ?limits.dedup_window,
                kept = ?MIN_WINDOW,
                "the dedup window is below JetStream's minimum; it is kept for the minimum"
            );
        }
        let map = SubjectMap::new(&config.subject_prefix)?;
        let servers = config.redacted_servers();
        let mut options = ConnectOptions::new()
            .name(&config.connection_name)
            .connection_timeout(config.connect_timeout)
            .request_timeout(Some(config.timeout))
            .event_callback({
                let servers = servers.clone();
                move |event| {
                    let servers = servers.clone();
                    async move { log_event(&event, &servers) }
                }
            });
        match &config.credentials {
            Some(config::Credentials::UserPassword { user, password }) => {
                options = options.user_and_password(user.clone(), password.clone());
            }
            Some(config::Credentials::Token(token)) => options = options.token(token.clone()),
            None => {}
        }
        if let Some(roots) = &config.tls_root_certificates {
            options = options.add_root_certificates(roots.clone());
        }
        let client = options
            .connect(config.servers.clone())
            .await
            .map_err(|e| connect_error(&e, &servers))?;
        let server_max_payload = client.server_info().max_payload;
        if limits.max_payload.saturating_add(1024) > server_max_payload {
            tracing::warn!(
                max_payload = limits.max_payload,
                server_max_payload,
                "the NATS server's max_payload leaves little or no room for headers above the \
                 bus's payload limit; the largest payloads will be refused as too large \
                 (raise max_payload in the server configuration)"
            );
        }
        let js = jetstream::ContextBuilder::new()
            .timeout(config.timeout)
            .build(client.clone());
        let inner = Inner {
            client,
            js,
            stream: config.stream.clone(),
            map,
            limits,
            timeout: config.timeout,
            server_max_payload,
            closed: watch::Sender::new(false),
            gate: tokio::sync::RwLock::new(()),
            consumers: tokio::sync::Mutex::new(HashMap::new()),
        };
        inner.ensure_stream(&config).await?;
        tracing::info!(stream = %config.stream, prefix = %config.subject_prefix, %servers, "event bus connected to NATS JetStream");
        Ok(JetStreamBus {
            inner: Arc::new(inner),
        })
    }

    pub fn stream(&self) -> &str {
        &self.inner.stream
    }

    pub fn subjects(&self) -> &SubjectMap {
        &self.inner.map
    }

    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }
}

fn log_event(event: &Event, servers: &str) {
    match event {
        Event::Connected => tracing::info!(%servers, "connected to NATS"),
        Event::Disconnected => tracing::warn!(%servers, "disconnected from NATS; reconnecting"),
        Event::Closed => tracing::debug!(%servers, "NATS connection closed"),
        Event::LameDuckMode => {
            tracing::warn!(%servers, "the NATS server is shutting down (lame duck mode)")
        }
        Event::SlowConsumer(sid) => {
            tracing::warn!(%servers, sid, "a NATS subscription could not keep up")
        }
        Event::ServerError(e) => tracing::warn!(%servers, error = %e, "NATS server error"),
        Event::ClientError(e) => tracing::warn!(%servers, error = %e, "NATS client error"),
        Event::Draining => tracing::debug!(%servers, "draining the NATS connection"),
    }
}

impl Inner {
    pub(crate) fn is_closed(&self) -> bool {
        *self.closed.borrow()
    }

    fn check_open(&self) -> Result<(), BusError> {
        if self.is_closed() {
            Err(BusError::Closed)
        } else {
            Ok(())
        }
    }

    pub(crate) fn check_connected(&self, doing: &str) -> Result<(), BusError> {
        match self.client.connection_state() {
            async_nats::connection::State::Connected => Ok(()),
            _ => Err(BusError::Unavailable {
                reason: format!("not connected to NATS (reconnecting) while {doing}"),
            }),
        }
    }

    /// A JetStream API request: `Ok(Err(_))` is the server's error answer.
    async fn api<T: DeserializeOwned>(
        &self,
        subject: &str,
        body: &(impl Serialize + ?Sized),
        doing: &str,
    ) -> Result<Result<T, jetstream::Error>, BusError> {
        self.check_connected(doing)?;
        match self
            .js
            .request::<_, _, Response<T>>(subject.to_owned(), body)
            .await
        {
            Ok(Response::Ok(answer)) => Ok(Ok(answer)),
            Ok(Response::Err { error }) => Ok(Err(error)),
            Err(e) => Err(request_error(&e, doing, self.timeout)),
        }
    }

    async fn ensure_stream(&self, config: &JetStreamConfig) -> Result<(), BusError> {
        let wanted = stream_config(config, &self.map, &self.limits);
        let update = format!("STREAM.UPDATE.{}", self.stream);
        let create = format!("STREAM.CREATE.{}", self.stream);
        let doing = format!("updating stream `{}`", self.stream);
        match self.api::<StreamInfo>(&update, &wanted, &doing).await? {
            Ok(_) => return Ok(()),
            Err(e) if e.error_code() == ErrorCode::STREAM_NOT_FOUND => {}
            Err(e) => return Err(api_error(&e, &doing)),
        }
        let doing = format!("creating stream `{}`", self.stream);
        match self.api::<StreamInfo>(&create, &wanted, &doing).await? {
            Ok(_) => Ok(()),
            // Another process created it in between: bring it to these settings.
            Err(e) if e.error_code() == ErrorCode::STREAM_NAME_EXIST => {
                let doing = format!("updating stream `{}`", self.stream);
                match self.api::<StreamInfo>(&update, &wanted, &doing).await? {
                    Ok(_) => Ok(()),
                    Err(e) => Err(api_error(&e, &doing)),
                }
            }
            Err(e) => Err(api_error(&e, &doing)),
        }
    }

    /// A durable consumer as the server has it, or `None`.
    pub(crate) async fn consumer_state(
        &self,
        durable: &str,
        name: &str,
    ) -> Result<Option<ServerConsumer>, BusError> {
        let subject = format!("CONSUMER.INFO.{}.{durable}", self.stream);
        let doing = format!("reading consumer `{name}`");
        match self
            .api::<ConsumerAnswer>(&subject, &serde_json::json!({}), &doing)
            .await?
        {
            // Being deleted: no error, no configuration.
            Ok(answer) => Ok(answer.into_consumer()),
            Err(e) if e.error_code() == ErrorCode::CONSUMER_NOT_FOUND => Ok(None),
            Err(e) => Err(api_error(&e, &doing)),
        }
    }

    /// Creates a consumer, or updates it when it exists (the server decides which).
    pub(crate) async fn create_consumer(
        &self,
        name: &str,
        config: &impl Serialize,
        doing: &str,
    ) -> Result<ServerConsumer, BusError> {
        let subject = format!("CONSUMER.CREATE.{}.{name}", self.stream);
        let request = CreateRequest {
            stream_name: &self.stream,
            config,
        };
        self.api::<ConsumerAnswer>(&subject, &request, doing)
            .await?
            .map_err(|e| api_error(&e, doing))?
            .into_consumer()
            .ok_or_else(|| BusError::Internal {
                reason: format!("JetStream answered without the consumer while {doing}"),
            })
    }

    /// Deletes a consumer on the server; whether it existed.
    pub(crate) async fn delete_server_consumer(
        &self,
        durable: &str,
        name: &str,
    ) -> Result<bool, BusError> {
        let subject = format!("CONSUMER.DELETE.{}.{durable}", self.stream);
        let doing = format!("deleting consumer `{name}`");
        match self
            .api::<Deleted>(&subject, &serde_json::json!({}), &doing)
            .await?
        {
            Ok(deleted) => Ok(deleted.success),
            Err(e) if e.error_code() == ErrorCode::CONSUMER_NOT_FOUND => Ok(false),
            Err(e) => Err(api_error(&e, &doing)),
        }
    }

    /// One publish attempt: the stored (or original) sequence, or `None` when the original
    /// of a duplicate is still being stored.
    async fn publish_once(
        &self,
        subject: &str,
        headers: &async_nats::HeaderMap,
        payload: &[u8],
        doing: &str,
    ) -> Result<Option<Published>, BusError> {
        let request = Request::new()
            .headers(headers.clone())
            .payload(payload.to_vec().into())
            .timeout(Some(self.timeout));
        let answer = match self.client.send_request(subject.to_owned(), request).await {
            Ok(answer) => answer,
            Err(e) if e.kind() == async_nats::RequestErrorKind::TimedOut => {
                return Err(BusError::Unavailable {
                    reason: format!(
                        "no PubAck within {:?} while {doing}; the message may or may not be \
                         stored (publish again with the same dedup id)",
                        self.timeout
                    ),
                });
            }
            Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders => {
                return Err(BusError::Unavailable {
                    reason: format!(
                        "no JetStream stream takes `{subject}` (JetStream starting, or stream \
                         `{}` deleted?) while {doing}",
                        self.stream
                    ),
                });
            }
            Err(e) => return Err(core_request_error(&e, doing, self.timeout)),
        };
        let ack: Response<PubAck> =
            serde_json::from_slice(&answer.payload).map_err(|e| BusError::Internal {
                reason: format!(
                    "JetStream answered a publish with something unexpected ({e}) while {doing}"
                ),
            })?;
        match ack {
            Response::Ok(ack) if ack.stream != self.stream => Err(BusError::Internal {
                reason: format!(
                    "stream `{}` stored the message instead of `{}` while {doing}",
                    ack.stream, self.stream
                ),
            }),
            Response::Ok(ack) if ack.duplicate && ack.seq == 0 => Ok(None),
            Response::Ok(ack) => Ok(Some(Published {
                seq: ack.seq,
                duplicate: ack.duplicate,
            })),
            Response::Err { error } if error.error_code() == DUPLICATE_IN_PROCESS => Ok(None),
            Response::Err { error }
                if error.error_code() == ErrorCode::STREAM_MESSAGE_EXCEEDS_MAXIMUM =>
            {
                Err(BusError::PayloadTooLarge {
                    size: payload.len(),
                    max: self.limits.max_payload,
                })
            }
            Response::Err { error } => Err(api_error(&error, doing)),
        }
    }
}

#[async_trait]
impl EventBus for JetStreamBus {
    async fn publish(&self, msg: OutgoingMessage) -> Result<Published, BusError> {
        let _open = self.inner.gate.read().await;
        self.inner.check_open()?;
        msg.validate(&self.inner.limits)?;
        let headers = wire::outgoing_headers(&msg)?;
        if headers.wire_len + msg.payload.len() > self.inner.server_max_payload {
            return Err(BusError::PayloadTooLarge {
                size: msg.payload.len(),
                max: self
                    .inner
                    .server_max_payload
                    .saturating_sub(headers.wire_len),
            });
        }
        let doing = format!("publishing to `{}`", msg.subject);
        // Refused at once while reconnecting: queued in the client, the message could be
        // stored long after this call gave up on it.
        self.inner.check_connected(&doing)?;
        let subject = self.inner.map.to_stream(&msg.subject);
        let give_up = Instant::now() + DUPLICATE_PATIENCE;
        let mut pause = Duration::from_millis(5);
        loop {
            if let Some(published) = self
                .inner
                .publish_once(&subject, &headers.map, &msg.payload, &doing)
                .await?
            {
                return Ok(published);
            }
            if Instant::now() + pause > give_up {
                return Err(BusError::Unavailable {
                    reason: format!(
                        "the original publish of dedup id `{}` is still being stored while \
                         {doing}; publish again to get its sequence",
                        msg.dedup_id.as_deref().unwrap_or_default()
                    ),
                });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(200));
        }
    }

    async fn consumer(&self, spec: ConsumerSpec) -> Result<Box<dyn Consumer>, BusError> {
        spec.validate()?;
        self.inner.check_open()?;
        let handle = consumer::open(&self.inner, &spec).await?;
        Ok(Box::new(handle))
    }

    async fn delete_consumer(&self, name: &str) -> Result<bool, BusError> {
        validate_consumer_name(name)?;
        self.inner.check_open()?;
        let mut consumers = self.inner.consumers.lock().await;
        let existed = self
            .inner
            .delete_server_consumer(&jetstream_name(name), name)
            .await?;
        if let Some(shared) = consumers.remove(name) {
            shared.mark_deleted();
        }
        Ok(existed)
    }

    async fn consumer_info(&self, name: &str) -> Result<Option<ConsumerInfo>, BusError> {
        validate_consumer_name(name)?;
        self.inner.check_open()?;
        match self
            .inner
            .consumer_state(&jetstream_name(name), name)
            .await?
        {
            Some(stored) => stored.info(name, &self.inner).map(Some),
            None => Ok(None),
        }
    }

    async fn read(
        &self,
        from_seq: u64,
        limit: usize,
        filter: &SubjectFilter,
    ) -> Result<Vec<Message>, BusError> {
        validate_read_limit(limit)?;
        self.inner.check_open()?;
        if limit == 0 {
            return Ok(Vec::new());
        }
        read(&self.inner, from_seq, limit, filter).await
    }

    async fn info(&self) -> Result<BusInfo, BusError> {
        self.inner.check_open()?;
        let subject = format!("STREAM.INFO.{}", self.inner.stream);
        let doing = format!("reading stream `{}`", self.inner.stream);
        let info = self
            .inner
            .api::<StreamInfo>(&subject, &serde_json::json!({}), &doing)
            .await?
            .map_err(|e| api_error(&e, &doing))?;
        let state = info.state.ok_or_else(|| BusError::Unavailable {
            reason: format!(
                "stream `{}` is being deleted (outside the bus?) while {doing}",
                self.inner.stream
            ),
        })?;
        Ok(BusInfo {
            messages: state.messages,
            // JetStream reports 0 for an empty stream that never had a message.
            first_seq: if state.messages == 0 {
                state.last_seq + 1
            } else {
                state.first_seq
            },
            last_seq: state.last_seq,
        })
    }

    async fn close(&self) -> Result<(), BusError> {
        self.inner.closed.send_replace(true);
        // Publishes, acks and naks in flight hold the gate; this waits for them.
        let _closed = self.inner.gate.write().await;
        if let Err(e) = self.inner.client.flush().await {
            tracing::debug!(error = %e, "flushing the NATS connection at close failed");
        }
        if let Err(e) = self.inner.client.drain().await {
            tracing::debug!(error = %e, "draining the NATS connection at close failed");
        }
        Ok(())
    }
}

impl Drop for JetStreamBus {
    fn drop(&mut self) {
        // Handles may outlive the bus; like a closed bus, they answer `Closed` from now on.
        self.inner.closed.send_replace(true);
    }
}

/// `read`: an ephemeral consumer without acks from `from_seq`, one `no_wait` pull, deleted
/// afterwards.
async fn read(
    inner: &Arc<Inner>,
    from_seq: u64,
    limit: usize,
    filter: &SubjectFilter,
) -> Result<Vec<Message>, BusError> {
    let doing = format!("reading from sequence {from_seq}");
    // The inbox's unique token makes a unique consumer name.
    let inbox = inner.client.new_inbox();
    let unique = inbox.rsplit('.').next().unwrap_or_default();
    let name = jetstream_name(&format!("read-{unique}"));
    let stream_filter = inner.map.to_stream_filter(filter);
    let config = NewConsumer {
        durable_name: None,
        name: &name,
        description: None,
        deliver_policy: "all",
        opt_start_seq: None,
        ack_policy: "none",
        ack_wait: None,
        max_ack_pending: None,
        filter_subject: &stream_filter,
        replay_policy: "instant",
        inactive_threshold: Some(nanos(READ_INACTIVE)),
        mem_storage: true,
        num_replicas: Some(1),
    }
    .start(Start::At(from_seq.max(1)));
    let created = inner.create_consumer(&name, &config, &doing).await?;
    let result = if created.num_pending == 0 {
        Ok(Vec::new())
    } else {
        pull_read(inner, &name, &inbox, limit, &doing).await
    };
    // The answer does not wait for the clean-up; `inactive_threshold` covers a failure.
    let cleanup = Arc::clone(inner);
    tokio::spawn(async move {
        if let Err(e) = cleanup.delete_server_consumer(&name, &name).await {
            tracing::debug!(consumer = %name, error = %e, "deleting a read consumer failed; the server drops it when idle");
        }
    });
    result
}

async fn pull_read(
    inner: &Inner,
    consumer: &str,
    inbox: &str,
    limit: usize,
    doing: &str,
) -> Result<Vec<Message>, BusError> {
    let mut sub = inner
        .client
        .subscribe(inbox.to_owned())
        .await
        .map_err(|e| BusError::Unavailable {
            reason: format!("subscribing to a NATS inbox failed while {doing}: {e}"),
        })?;
    let request = serde_json::to_vec(&ReadPull {
        batch: limit,
        no_wait: true,
        expires: nanos(inner.timeout),
        max_bytes: READ_BYTES.max(inner.limits.max_payload + HEADER_ALLOWANCE),
    })
    .map_err(|e| BusError::Internal {
        reason: format!("encoding a pull request failed: {e}"),
    })?;
    inner
        .client
        .publish_with_reply(
            format!("$JS.API.CONSUMER.MSG.NEXT.{}.{consumer}", inner.stream),
            inbox.to_owned(),
            request.into(),
        )
        .await
        .map_err(|e| BusError::Unavailable {
            reason: format!("sending a pull request to NATS failed while {doing}: {e}"),
        })?;
    let deadline = Instant::now() + inner.timeout;
    let mut closed = inner.closed.subscribe();
    let mut found = Vec::new();
    while found.len() < limit {
        let received = tokio::select! {
            received = sub.next() => received,
            _ = closed.changed() => return Err(BusError::Closed),
            () = tokio::time::sleep_until(deadline) => {
                if found.is_empty() {
                    return Err(BusError::Unavailable {
                        reason: format!("JetStream sent nothing within {:?} while {doing}", inner.timeout),
                    });
                }
                break;
            }
        };
        let Some(msg) = received else {
            return Err(BusError::Unavailable {
                reason: format!("the NATS connection was closed while {doing}"),
            });
        };
        match msg.status.map(|s| s.as_u16()) {
            None | Some(200) => {}
            Some(100) => continue,
            // No more messages, the byte budget reached, or the request ended.
            Some(_) => break,
        }
        let reply = msg.reply.as_ref().map(|r| r.as_str()).unwrap_or_default();
        let Some(ack) = wire::parse_ack_reply(reply) else {
            return Err(BusError::Internal {
                reason: format!("a read delivery has an unknown reply subject `{reply}`"),
            });
        };
        found.push(wire::decode_message(
            &inner.map,
            msg.subject.as_str(),
            msg.headers.as_ref(),
            &msg.payload,
            &ack,
        )?);
        if ack.pending == 0 {
            break;
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_follows_the_limits() {
        let config =
            JetStreamConfig::new("nats://127.0.0.1:4222", "BUS").with_subject_prefix("bus.a");
        let map = SubjectMap::new("bus.a").unwrap();
        let limits = Limits {
            dedup_window: Duration::from_millis(50),
            max_age: Some(Duration::from_secs(3600)),
            max_messages: Some(10),
            max_bytes: None,
            max_payload: 1000,
        };
        let json = serde_json::to_value(stream_config(&config, &map, &limits)).unwrap();
        assert_eq!(json["name"], "BUS");
        assert_eq!(json["subjects"], serde_json::json!(["bus.a.>"]));
        assert_eq!(json["retention"], "limits");
        assert_eq!(json["discard"], "old");
        assert_eq!(json["storage"], "file");
        assert_eq!(json["num_replicas"], 1);
        assert_eq!(json["max_msgs"], 10);
        assert_eq!(json["max_bytes"], -1);
        assert_eq!(json["max_age"], 3_600_000_000_000u64);
        assert_eq!(json["max_msg_size"], 1000 + HEADER_ALLOWANCE as u64);
        assert_eq!(
            json["duplicate_window"], 100_000_000,
            "raised to JetStream's minimum"
        );

        let unlimited = Limits {
            max_age: None,
            max_messages: None,
            max_bytes: Some(20_000),
            ..Limits::default()
        };
        let json = serde_json::to_value(stream_config(&config, &map, &unlimited)).unwrap();
        assert_eq!(json["max_age"], 0);
        assert_eq!(json["max_msgs"], -1);
        assert_eq!(json["max_bytes"], 20_000);
        assert_eq!(json["max_msg_size"], 20_000, "never above max_bytes");
        assert_eq!(json["duplicate_window"], 120_000_000_000u64);
    }

    #[test]
    fn durations_in_nanoseconds() {
        assert_eq!(nanos(Duration::from_millis(1500)), 1_500_000_000);
        assert_eq!(nanos(Duration::MAX), u64::MAX);
    }
}
