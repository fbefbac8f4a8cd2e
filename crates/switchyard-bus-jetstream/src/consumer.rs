//! Durable consumers: declaring one on the server ([`open`]), the state its handles share in
//! this process ([`Shared`]), and the handle that pulls, acks and naks ([`Handle`]).
//!
//! A bus consumer is a durable JetStream pull consumer of the same name with explicit acks.
//! Its declared filters are kept in its description; the server filters with one covering
//! subject ([`covering_filter`]) and the handle applies the exact filters, acking what falls
//! outside them without delivering it. Handles pull one message per request, when `next` is
//! called: the server then never holds a message for this process that nobody asked for, so
//! a message removed by retention before it was asked for is skipped, as the contract says,
//! and `max_ack_pending` counts exactly what callers hold. The reply subject of each delivery
//! is kept by sequence (JetStream acks go to it), so any handle of the consumer can ack it.

use async_nats::{Request, StatusCode, Subscriber};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;
use switchyard_bus::{
    BusError, Consumer, ConsumerInfo, ConsumerSpec, Delivery, StartPosition, Subject,
    SubjectFilter, validate_nak_delay,
};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::errors::core_request_error;
use crate::names::{self, covering_filter, jetstream_name};
use crate::wire::{self, parse_ack_reply};
use crate::{Inner, nanos};

/// How long one pull request waits on the server for a message before it expires (and is
/// sent again): the fallback poll of a waiting `next`.
pub(crate) const PULL_EXPIRES: Duration = Duration::from_secs(30);
/// How often the server confirms a waiting pull request is alive.
pub(crate) const PULL_HEARTBEAT: Duration = Duration::from_secs(5);
/// Silence after which a waiting pull request is taken for lost (the connection dropped, or
/// the server restarted) and sent again.
const PULL_SILENCE: Duration = Duration::from_secs(15);
/// Most sequences the restart sweep naks (see "Restarts" in the crate docs); past this,
/// deliveries pending from before come again after their `ack_wait` instead.
pub const SWEEP_MAX: u64 = 100_000;

/// The consumer's server-side identity in this process: bumped when the bus recreates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Life {
    pub(crate) generation: u64,
    pub(crate) deleted: bool,
}

/// A consumer's state in this process, shared by all its handles.
pub(crate) struct Shared {
    pub(crate) name: String,
    pub(crate) durable: String,
    life: watch::Sender<Life>,
    filters: RwLock<Vec<SubjectFilter>>,
    /// Reply subjects of deliveries not yet acked, by sequence.
    replies: Mutex<HashMap<u64, PendingReply>>,
    puller: tokio::sync::Mutex<Puller>,
}

#[derive(Debug, Clone)]
struct PendingReply {
    reply: String,
    generation: u64,
}

/// The pull side of a consumer: one inbox, at most one pull request waiting on the server.
struct Puller {
    generation: u64,
    inbox: Option<Inbox>,
    next_request: u64,
    /// The reply subject of the pull request waiting on the server, if any.
    current: Option<String>,
    last_heard: Instant,
}

struct Inbox {
    prefix: String,
    sub: Subscriber,
}

impl Puller {
    fn reset(&mut self, generation: u64) {
        self.generation = generation;
        self.inbox = None;
        self.current = None;
    }
}

impl Shared {
    pub(crate) fn new(name: String, durable: String, filters: Vec<SubjectFilter>) -> Shared {
        Shared {
            name,
            durable,
            life: watch::Sender::new(Life {
                generation: 0,
                deleted: false,
            }),
            filters: RwLock::new(filters),
            replies: Mutex::new(HashMap::new()),
            puller: tokio::sync::Mutex::new(Puller {
                generation: 0,
                inbox: None,
                next_request: 0,
                current: None,
                last_heard: Instant::now(),
            }),
        }
    }

    pub(crate) fn life(&self) -> Life {
        *self.life.borrow()
    }

    fn set_filters(&self, filters: Vec<SubjectFilter>) {
        *self.filters.write().unwrap_or_else(PoisonError::into_inner) = filters;
    }

    fn matches(&self, subject: &Subject) -> bool {
        self.filters
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .any(|f| f.matches(subject))
    }

    /// The server consumer was replaced: deliveries of the old one can no longer be acked
    /// (the new one delivers them again), and waiting pulls start over.
    fn bump_generation(&self) {
        self.replies
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        self.life.send_modify(|life| life.generation += 1);
    }

    /// Ends every handle: they now fail with `ConsumerNotFound`.
    pub(crate) fn mark_deleted(&self) {
        self.replies
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        self.life.send_modify(|life| life.deleted = true);
    }

    fn register(&self, seq: u64, reply: String, generation: u64) {
        self.replies
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(seq, PendingReply { reply, generation });
    }

    fn reply_for(&self, seq: u64) -> Option<PendingReply> {
        self.replies
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&seq)
            .cloned()
    }

    fn forget(&self, seq: u64) {
        self.replies
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&seq);
    }
}

// ---- the server side ----------------------------------------------------------------------

/// A pair of sequences in consumer info.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub(crate) struct Sequences {
    #[serde(default)]
    pub(crate) consumer_seq: u64,
    #[serde(default)]
    pub(crate) stream_seq: u64,
}

/// What the bus reads of JetStream's consumer info. The configuration is kept as the server
/// sent it, so an update sends back exactly what it does not mean to change.
#[derive(Debug, Clone)]
pub(crate) struct ServerConsumer {
    pub(crate) config: serde_json::Map<String, serde_json::Value>,
    pub(crate) delivered: Sequences,
    pub(crate) ack_floor: Sequences,
    pub(crate) num_ack_pending: u64,
    pub(crate) num_pending: u64,
}

/// A consumer info answer as it comes: nats-server 2.9 answers an info request for a
/// consumer that is being deleted with neither an error nor a configuration.
#[derive(Debug, Deserialize)]
pub(crate) struct ConsumerAnswer {
    #[serde(default)]
    config: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    delivered: Sequences,
    #[serde(default)]
    ack_floor: Sequences,
    #[serde(default)]
    num_ack_pending: u64,
    #[serde(default)]
    num_pending: u64,
}

impl ConsumerAnswer {
    /// The consumer, or `None` when the answer describes none.
    pub(crate) fn into_consumer(self) -> Option<ServerConsumer> {
        Some(ServerConsumer {
            config: self.config?,
            delivered: self.delivered,
            ack_floor: self.ack_floor,
            num_ack_pending: self.num_ack_pending,
            num_pending: self.num_pending,
        })
    }
}

impl ServerConsumer {
    fn text(&self, field: &str) -> Option<&str> {
        self.config.get(field).and_then(serde_json::Value::as_str)
    }

    fn number(&self, field: &str) -> Option<u64> {
        self.config.get(field).and_then(serde_json::Value::as_u64)
    }

    pub(crate) fn filter_subject(&self) -> &str {
        self.text("filter_subject").unwrap_or("")
    }

    pub(crate) fn ack_wait(&self) -> Duration {
        Duration::from_nanos(self.number("ack_wait").unwrap_or(0))
    }

    pub(crate) fn max_ack_pending(&self) -> usize {
        usize::try_from(self.number("max_ack_pending").unwrap_or(0)).unwrap_or(usize::MAX)
    }

    pub(crate) fn description(&self) -> Option<&str> {
        self.text("description")
    }

    /// The declared filters: from the description the bus wrote, else (a consumer made by
    /// hand) from the server's filter subject.
    fn filters(&self, bus: &Inner) -> Result<Vec<SubjectFilter>, BusError> {
        if let Some(declared) = self.description().and_then(names::declared_filters) {
            return declared;
        }
        let filter = match self.filter_subject() {
            "" => SubjectFilter::all(),
            stream_filter => {
                let bus_filter = stream_filter
                    .strip_prefix(bus.map.prefix())
                    .and_then(|rest| rest.strip_prefix('.'))
                    .unwrap_or(stream_filter);
                SubjectFilter::new(bus_filter).map_err(|e| BusError::Corrupt {
                    what: format!("a consumer's filter subject cannot be read: {e}"),
                })?
            }
        };
        Ok(vec![filter])
    }

    pub(crate) fn info(&self, name: &str, bus: &Inner) -> Result<ConsumerInfo, BusError> {
        Ok(ConsumerInfo {
            name: name.to_owned(),
            filters: self.filters(bus)?,
            ack_wait: self.ack_wait(),
            max_ack_pending: self.max_ack_pending(),
            ack_floor: self.ack_floor.stream_seq,
            ack_pending: usize::try_from(self.num_ack_pending).unwrap_or(usize::MAX),
        })
    }
}

/// Where a new server consumer starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    All,
    New,
    At(u64),
}

impl From<StartPosition> for Start {
    fn from(start: StartPosition) -> Self {
        match start {
            StartPosition::All | StartPosition::AtSequence(0) => Start::All,
            StartPosition::New => Start::New,
            StartPosition::AtSequence(seq) => Start::At(seq),
        }
    }
}

/// A consumer configuration as the bus creates it.
#[derive(Debug, Serialize)]
pub(crate) struct NewConsumer<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) durable_name: Option<&'a str>,
    pub(crate) name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) description: Option<&'a str>,
    pub(crate) deliver_policy: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) opt_start_seq: Option<u64>,
    pub(crate) ack_policy: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) ack_wait: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) max_ack_pending: Option<usize>,
    pub(crate) filter_subject: &'a str,
    pub(crate) replay_policy: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) inactive_threshold: Option<u64>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) mem_storage: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) num_replicas: Option<usize>,
}

impl NewConsumer<'_> {
    pub(crate) fn start(mut self, start: Start) -> Self {
        (self.deliver_policy, self.opt_start_seq) = match start {
            Start::All => ("all", None),
            Start::New => ("new", None),
            Start::At(seq) => ("by_start_sequence", Some(seq)),
        };
        self
    }
}

#[derive(Serialize)]
pub(crate) struct CreateRequest<'a, C: Serialize> {
    pub(crate) stream_name: &'a str,
    pub(crate) config: C,
}

#[derive(Deserialize)]
pub(crate) struct Deleted {
    #[serde(default)]
    pub(crate) success: bool,
}

async fn create(
    bus: &Inner,
    durable: &str,
    spec: &ConsumerSpec,
    description: &str,
    filter: &str,
    start: Start,
) -> Result<(), BusError> {
    let config = NewConsumer {
        durable_name: Some(durable),
        name: durable,
        description: Some(description),
        deliver_policy: "all",
        opt_start_seq: None,
        ack_policy: "explicit",
        ack_wait: Some(nanos(spec.ack_wait)),
        max_ack_pending: Some(spec.max_ack_pending),
        filter_subject: filter,
        replay_policy: "instant",
        inactive_threshold: None,
        mem_storage: false,
        num_replicas: None,
    }
    .start(start);
    let doing = format!("creating consumer `{}`", spec.name);
    bus.create_consumer(durable, &config, &doing)
        .await
        .map(|_| ())
}

/// Changes what an update may change (`ack_wait`, `max_ack_pending`, the description) and
/// sends everything else back as the server keeps it: nats-server refuses an update that
/// changes the delivery policy or start, and 2.9 takes a changed filter without applying it
/// fully, so the bus never updates those (it recreates the consumer instead).
async fn update(
    bus: &Inner,
    durable: &str,
    stored: &ServerConsumer,
    spec: &ConsumerSpec,
    description: &str,
) -> Result<(), BusError> {
    let mut config = stored.config.clone();
    config.insert("ack_wait".into(), nanos(spec.ack_wait).into());
    config.insert("max_ack_pending".into(), spec.max_ack_pending.into());
    config.insert("description".into(), description.into());
    let doing = format!("updating consumer `{}`", spec.name);
    bus.create_consumer(durable, &config, &doing)
        .await
        .map(|_| ())
}

/// Declares the consumer of `spec` (creating, updating or recreating it on the server) and
/// returns a handle on it. See "Consumers" in the crate docs.
pub(crate) async fn open(bus: &Arc<Inner>, spec: &ConsumerSpec) -> Result<Handle, BusError> {
    let durable = jetstream_name(&spec.name);
    let description = names::declaration(&spec.filters)?;
    let filter = bus.map.to_stream_filter(&covering_filter(&spec.filters));
    let mut consumers = bus.consumers.lock().await;
    let known = consumers
        .get(&spec.name)
        .filter(|shared| !shared.life().deleted)
        .cloned();
    let stored = bus.consumer_state(&durable, &spec.name).await?;
    let mut replaced = false;
    let mut resumed = None;
    match stored {
        None => {
            create(
                bus,
                &durable,
                spec,
                &description,
                &filter,
                spec.start.into(),
            )
            .await?;
            replaced = true;
        }
        Some(stored) if stored.filter_subject() != filter => {
            // The server filter changes: nats-server 2.9 cannot change it in place, so the
            // consumer is made again, from just after its ack floor (see the crate docs).
            bus.delete_server_consumer(&durable, &spec.name).await?;
            let after = stored.ack_floor.stream_seq.saturating_add(1);
            create(bus, &durable, spec, &description, &filter, Start::At(after)).await?;
            replaced = true;
        }
        Some(stored) => {
            if stored.ack_wait() != spec.ack_wait
                || stored.max_ack_pending() != spec.max_ack_pending
                || stored.description() != Some(description.as_str())
            {
                update(bus, &durable, &stored, spec, &description).await?;
            }
            resumed = Some(stored);
        }
    }
    let shared = match known {
        Some(shared) => {
            if replaced {
                shared.bump_generation();
            }
            shared
        }
        None => {
            if let Some(stored) = &resumed {
                sweep(bus, &durable, &spec.name, stored).await?;
            }
            let shared = Arc::new(Shared::new(
                spec.name.clone(),
                durable,
                spec.filters.clone(),
            ));
            consumers.insert(spec.name.clone(), Arc::clone(&shared));
            shared
        }
    };
    shared.set_filters(spec.filters.clone());
    Ok(Handle {
        bus: Arc::clone(bus),
        shared,
    })
}

/// Makes every delivery the consumer still has pending due at once, as a restart does in
/// the contract: this process holds none of them, and JetStream would otherwise wait out
/// their `ack_wait`. JetStream cannot list pending sequences, so the sweep naks every
/// sequence between the ack floor and the last delivery; the server ignores a nak for a
/// sequence that is not pending. A nak needs a consumer sequence above the ack floor, which
/// the last delivery's is. Only when something is pending: with nothing pending,
/// nats-server 2.9 takes a plain nak of any sequence as a request to deliver it again
/// (2.10 and later check the sequence is pending whatever else is). So on 2.9, should
/// retention remove every pending message while the sweep runs, a retained message the
/// sweep names could be delivered once more: at least once still holds. The last nak is a
/// request, so the sweep returns once the server has queued them all (they come before new
/// messages). A plain nak and not one with a delay: a delayed nak makes the message due on
/// the server's next timer tick, after which a pull sent at once could get a new message
/// first.
async fn sweep(
    bus: &Inner,
    durable: &str,
    name: &str,
    stored: &ServerConsumer,
) -> Result<(), BusError> {
    let from = stored.ack_floor.stream_seq.saturating_add(1);
    let to = stored.delivered.stream_seq;
    if stored.num_ack_pending == 0
        || to < from
        || stored.delivered.consumer_seq <= stored.ack_floor.consumer_seq
    {
        return Ok(());
    }
    let count = to - from + 1;
    if count > SWEEP_MAX {
        tracing::warn!(
            consumer = name,
            pending = stored.num_ack_pending,
            span = count,
            "too many sequences between the ack floor and the last delivery to make pending \
             deliveries due at once; they come again after their ack_wait"
        );
        return Ok(());
    }
    let cseq = stored.delivered.consumer_seq;
    let subject = |seq: u64| format!("$JS.ACK.{}.{durable}.1.{seq}.{cseq}.0.0", bus.stream);
    let doing = format!("making consumer `{name}`'s pending deliveries due after a restart");
    for seq in from..to {
        bus.client
            .publish(subject(seq), b"-NAK".as_slice().into())
            .await
            .map_err(|e| BusError::Unavailable {
                reason: format!("publishing to NATS failed while {doing}: {e}"),
            })?;
    }
    let request = Request::new()
        .payload(b"-NAK".as_slice().into())
        .timeout(Some(bus.timeout));
    bus.client
        .send_request(subject(to), request)
        .await
        .map_err(|e| core_request_error(&e, &doing, bus.timeout))?;
    tracing::debug!(
        consumer = name,
        pending = stored.num_ack_pending,
        "pending deliveries made due"
    );
    Ok(())
}

// ---- the handle ---------------------------------------------------------------------------

/// A handle on a consumer, as [`switchyard_bus::EventBus::consumer`] returns it.
pub(crate) struct Handle {
    pub(crate) bus: Arc<Inner>,
    pub(crate) shared: Arc<Shared>,
}

#[derive(Serialize)]
struct PullRequest {
    batch: usize,
    expires: u64,
    idle_heartbeat: u64,
}

impl Handle {
    fn not_found(&self) -> BusError {
        BusError::ConsumerNotFound {
            name: self.shared.name.clone(),
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
        if self.shared.life().deleted {
            return Err(self.not_found());
        }
        Ok(())
    }

    /// Whether the server consumer still exists. When it does not and the bus did not
    /// replace it since `generation`, it was deleted: every handle fails from now on.
    async fn confirm_exists(&self, generation: u64) -> Result<(), BusError> {
        if self
            .bus
            .consumer_state(&self.shared.durable, &self.shared.name)
            .await?
            .is_some()
        {
            return Ok(());
        }
        if self.shared.life().generation != generation {
            return Ok(());
        }
        self.shared.mark_deleted();
        Err(self.not_found())
    }

    /// Sends an ack or nak to a delivery's reply subject and waits for the server to confirm
    /// it has applied it (JetStream's "double ack").
    async fn settle(
        &self,
        reply: &str,
        body: Vec<u8>,
        generation: u64,
        doing: &str,
    ) -> Result<(), BusError> {
        let _open = self.bus.gate.read().await;
        if self.bus.is_closed() {
            return Err(BusError::Closed);
        }
        self.bus.check_connected(doing)?;
        let request = Request::new()
            .payload(body.into())
            .timeout(Some(self.bus.timeout));
        match self
            .bus
            .client
            .send_request(reply.to_owned(), request)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders => {
                self.confirm_exists(generation).await?;
                Err(core_request_error(&e, doing, self.bus.timeout))
            }
            Err(e) => Err(core_request_error(&e, doing, self.bus.timeout)),
        }
    }

    async fn send_pull(&self, puller: &mut Puller) -> Result<(), BusError> {
        let Some(inbox) = &puller.inbox else {
            return Err(BusError::Internal {
                reason: "a pull request without an inbox".to_owned(),
            });
        };
        let reply = format!("{}.{}", inbox.prefix, puller.next_request);
        puller.next_request += 1;
        let body = serde_json::to_vec(&PullRequest {
            batch: 1,
            expires: nanos(PULL_EXPIRES),
            idle_heartbeat: nanos(PULL_HEARTBEAT),
        })
        .map_err(|e| BusError::Internal {
            reason: format!("encoding a pull request failed: {e}"),
        })?;
        let subject = format!(
            "$JS.API.CONSUMER.MSG.NEXT.{}.{}",
            self.bus.stream, self.shared.durable
        );
        self.bus
            .client
            .publish_with_reply(subject, reply.clone(), body.into())
            .await
            .map_err(|e| BusError::Unavailable {
                reason: format!(
                    "sending a pull request for consumer `{}` to NATS failed: {e}",
                    self.shared.name
                ),
            })?;
        puller.current = Some(reply);
        puller.last_heard = Instant::now();
        Ok(())
    }

    /// One wait on the consumer's inbox: a delivery, or `None` when the caller should look
    /// again (a status, a wake-up, a skipped message).
    async fn step(
        &self,
        puller: &mut Puller,
        life: Life,
        closed: &mut watch::Receiver<bool>,
        changes: &mut watch::Receiver<Life>,
    ) -> Result<Option<Delivery>, BusError> {
        if puller.generation != life.generation {
            puller.reset(life.generation);
        }
        if puller.inbox.is_none() {
            let prefix = self.bus.client.new_inbox();
            let sub = self
                .bus
                .client
                .subscribe(format!("{prefix}.*"))
                .await
                .map_err(|e| BusError::Unavailable {
                    reason: format!("subscribing to a NATS inbox failed: {e}"),
                })?;
            puller.inbox = Some(Inbox { prefix, sub });
            puller.current = None;
        }
        if puller.current.is_none() {
            self.send_pull(puller).await?;
        }
        let silence_ends = puller.last_heard + PULL_SILENCE;
        let Some(inbox) = puller.inbox.as_mut() else {
            return Ok(None);
        };
        let received = tokio::select! {
            biased;
            _ = closed.changed() => return Ok(None),
            _ = changes.changed() => return Ok(None),
            received = inbox.sub.next() => received,
            () = tokio::time::sleep_until(silence_ends) => {
                // No message, status or heartbeat: the pull request is gone.
                puller.current = None;
                if self.bus.client.connection_state() != async_nats::connection::State::Connected {
                    return Err(BusError::Unavailable {
                        reason: format!(
                            "the connection to NATS is down; consumer `{}` cannot receive",
                            self.shared.name
                        ),
                    });
                }
                return Ok(None);
            }
        };
        let Some(msg) = received else {
            puller.reset(life.generation);
            if self.bus.is_closed() {
                return Err(BusError::Closed);
            }
            return Err(BusError::Unavailable {
                reason: "the NATS connection was closed".to_owned(),
            });
        };
        puller.last_heard = Instant::now();
        match msg.status {
            None | Some(StatusCode::OK) => {
                // One message per request: a delivery completes it.
                puller.current = None;
                self.delivered(msg, life.generation).await
            }
            Some(status) => {
                let ends_current = puller.current.as_deref() == Some(msg.subject.as_str());
                let description = msg.description.unwrap_or_default();
                match status.as_u16() {
                    100 => Ok(None),
                    404 | 408 => {
                        if ends_current {
                            puller.current = None;
                        }
                        Ok(None)
                    }
                    409 => {
                        if ends_current {
                            puller.current = None;
                        }
                        if description.eq_ignore_ascii_case("Consumer Deleted") {
                            self.confirm_exists(life.generation).await?;
                            return Ok(None);
                        }
                        if description.starts_with("Exceeded MaxWaiting") {
                            return Err(BusError::Unavailable {
                                reason: format!(
                                    "JetStream refused a pull request of consumer `{}`: {description}",
                                    self.shared.name
                                ),
                            });
                        }
                        tracing::debug!(consumer = %self.shared.name, %description, "pull request ended");
                        Ok(None)
                    }
                    503 => {
                        puller.current = None;
                        self.confirm_exists(life.generation).await?;
                        Err(BusError::Unavailable {
                            reason: format!(
                                "consumer `{}` did not answer its pull request (no responders)",
                                self.shared.name
                            ),
                        })
                    }
                    other => {
                        if ends_current {
                            puller.current = None;
                        }
                        Err(BusError::Unavailable {
                            reason: format!(
                                "JetStream answered a pull request of consumer `{}` with status \
                                 {other} {description}",
                                self.shared.name
                            ),
                        })
                    }
                }
            }
        }
    }

    /// Turns a delivered message into a delivery, or acks it unseen when it matches none of
    /// the declared filters.
    async fn delivered(
        &self,
        msg: async_nats::Message,
        generation: u64,
    ) -> Result<Option<Delivery>, BusError> {
        let Some(reply) = msg.reply.as_ref().map(|r| r.as_str().to_owned()) else {
            tracing::warn!(consumer = %self.shared.name, subject = %msg.subject, "a delivery without a reply subject was ignored");
            return Ok(None);
        };
        let Some(ack) = parse_ack_reply(&reply) else {
            tracing::warn!(consumer = %self.shared.name, %reply, "a delivery with an unknown reply subject was ignored");
            return Ok(None);
        };
        if ack.stream != self.bus.stream || ack.consumer != self.shared.durable {
            // A late message of a request made for an earlier consumer of this inbox.
            return Ok(None);
        }
        let delivered = u32::try_from(ack.delivered).unwrap_or(u32::MAX);
        let message = wire::decode_message(
            &self.bus.map,
            msg.subject.as_str(),
            msg.headers.as_ref(),
            &msg.payload,
            &ack,
        )?;
        if !self.shared.matches(&message.subject) {
            let doing = format!(
                "acking message {} outside consumer `{}`'s filters",
                message.seq, self.shared.name
            );
            self.settle(&reply, b"+ACK".to_vec(), generation, &doing)
                .await?;
            return Ok(None);
        }
        self.shared.register(message.seq, reply, generation);
        Ok(Some(Delivery {
            message,
            consumer: self.shared.name.clone(),
            delivered,
        }))
    }
}

#[async_trait::async_trait]
impl Consumer for Handle {
    fn name(&self) -> &str {
        &self.shared.name
    }

    async fn next(&self) -> Result<Delivery, BusError> {
        let mut closed = self.bus.closed.subscribe();
        let mut changes = self.shared.life.subscribe();
        loop {
            if *closed.borrow_and_update() {
                return Err(BusError::Closed);
            }
            let life = *changes.borrow_and_update();
            if life.deleted {
                return Err(self.not_found());
            }
            // One caller pulls at a time; the others wait here, still woken by close and
            // deletion. The puller outlives a dropped call, so nothing it received is lost.
            let mut puller = tokio::select! {
                biased;
                _ = closed.changed() => continue,
                _ = changes.changed() => continue,
                puller = self.shared.puller.lock() => puller,
            };
            if let Some(delivery) = self
                .step(&mut puller, life, &mut closed, &mut changes)
                .await?
            {
                return Ok(delivery);
            }
        }
    }

    async fn ack(&self, delivery: &Delivery) -> Result<(), BusError> {
        self.check(delivery)?;
        let seq = delivery.seq();
        let Some(pending) = self.shared.reply_for(seq) else {
            // Acked before, or never delivered by this process: nothing to do.
            return Ok(());
        };
        if pending.generation != self.shared.life().generation {
            // Delivered by a consumer the bus has since replaced; the new one delivers the
            // message again (acking with the old reply could move the new one's ack floor).
            self.shared.forget(seq);
            return Ok(());
        }
        let doing = format!("acking message {seq} on consumer `{}`", self.shared.name);
        self.settle(&pending.reply, b"+ACK".to_vec(), pending.generation, &doing)
            .await?;
        self.shared.forget(seq);
        Ok(())
    }

    async fn nak(&self, delivery: &Delivery, delay: Duration) -> Result<(), BusError> {
        self.check(delivery)?;
        validate_nak_delay(delay)?;
        let seq = delivery.seq();
        let Some(pending) = self.shared.reply_for(seq) else {
            return Ok(());
        };
        if pending.generation != self.shared.life().generation {
            self.shared.forget(seq);
            return Ok(());
        }
        let body = if delay.is_zero() {
            b"-NAK".to_vec()
        } else {
            format!("-NAK {{\"delay\":{}}}", nanos(delay)).into_bytes()
        };
        let doing = format!("naking message {seq} on consumer `{}`", self.shared.name);
        self.settle(&pending.reply, body, pending.generation, &doing)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_positions() {
        assert_eq!(Start::from(StartPosition::All), Start::All);
        assert_eq!(Start::from(StartPosition::New), Start::New);
        assert_eq!(Start::from(StartPosition::AtSequence(7)), Start::At(7));
        // JetStream refuses a start sequence of 0; "from 0" is "from the oldest".
        assert_eq!(Start::from(StartPosition::AtSequence(0)), Start::All);
    }

    fn config_json(start: Start) -> serde_json::Value {
        let config = NewConsumer {
            durable_name: Some("c"),
            name: "c",
            description: Some("d"),
            deliver_policy: "all",
            opt_start_seq: None,
            ack_policy: "explicit",
            ack_wait: Some(30_000_000_000),
            max_ack_pending: Some(1),
            filter_subject: "sy.>",
            replay_policy: "instant",
            inactive_threshold: None,
            mem_storage: false,
            num_replicas: None,
        }
        .start(start);
        serde_json::to_value(&config).unwrap()
    }

    #[test]
    fn new_consumers_say_where_they_start() {
        let all = config_json(Start::All);
        assert_eq!(all["deliver_policy"], "all");
        assert!(all.get("opt_start_seq").is_none());
        assert!(
            all.get("mem_storage").is_none(),
            "durables are stored on disk"
        );
        let at = config_json(Start::At(9));
        assert_eq!(at["deliver_policy"], "by_start_sequence");
        assert_eq!(at["opt_start_seq"], 9);
        assert_eq!(config_json(Start::New)["deliver_policy"], "new");
        assert_eq!(at["ack_policy"], "explicit");
        assert_eq!(at["ack_wait"], 30_000_000_000u64);
    }

    #[test]
    fn an_answer_without_configuration_is_no_consumer() {
        let answer: ConsumerAnswer = serde_json::from_value(serde_json::json!({
            "type": "io.nats.jetstream.api.v1.consumer_info_response",
        }))
        .unwrap();
        assert!(answer.into_consumer().is_none());
    }

    #[test]
    fn server_consumers_are_read_from_their_info() {
        let answer: ConsumerAnswer = serde_json::from_value(serde_json::json!({
            "name": "c",
            "config": {
                "durable_name": "c",
                "description": "switchyard-bus consumer; filters: a.> b",
                "deliver_policy": "all",
                "ack_policy": "explicit",
                "ack_wait": 5_000_000_000u64,
                "max_ack_pending": 7,
                "filter_subject": "sy.>",
                "max_waiting": 512,
            },
            "delivered": {"consumer_seq": 9, "stream_seq": 12},
            "ack_floor": {"consumer_seq": 4, "stream_seq": 6},
            "num_ack_pending": 2,
            "num_pending": 3,
        }))
        .unwrap();
        let info = answer.into_consumer().unwrap();
        assert_eq!(info.num_pending, 3);
        assert_eq!(info.ack_wait(), Duration::from_secs(5));
        assert_eq!(info.max_ack_pending(), 7);
        assert_eq!(info.filter_subject(), "sy.>");
        assert_eq!(
            (info.delivered.stream_seq, info.ack_floor.stream_seq),
            (12, 6)
        );
        assert_eq!(
            info.config["max_waiting"], 512,
            "unknown fields are kept for updates"
        );
    }
}
