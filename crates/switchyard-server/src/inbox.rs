//! The controller's inbox on the event bus: how processes that do not drive runs reach the
//! one that does (distributed mode).
//!
//! A process without the controller lease stores a submitted run itself and publishes an
//! `adopt` envelope on [`INBOX_SUBJECT`]; a command (resume, stop, ...) is published as a
//! `command` envelope and answered by the driving process in the store (meta
//! `inbox.reply.<id>`), which the sender polls. The driving process reads the inbox through
//! the durable consumer [`INBOX_CONSUMER`], created by every process at start so that nothing
//! published before the first controller exists is missed, and acknowledges an envelope only
//! after it was carried out. During a hand-over between controllers envelopes wait in the
//! stream; a sender whose command is not answered within [`ANSWER_WAIT`] gets a 503 (the
//! command stays queued and is carried out by the next controller).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use switchyard_bus::{
    BusError, ConsumerSpec, Delivery, EventBus, OutgoingMessage, StartPosition, Subject,
    SubjectFilter,
};
use switchyard_controller::{Answer, Controller, ControllerError, RunInbox, UserCommand};
use switchyard_model::Kind;
use switchyard_store::{ObjectKey, Store};
use tokio::sync::watch;

/// Where envelopes are published.
pub const INBOX_SUBJECT: &str = "control.runs";
/// The durable consumer the driving process reads them with.
pub const INBOX_CONSUMER: &str = "controller-inbox";
/// How long a sender waits for the answer to a command: longer than a controller hand-over
/// after a crash (the lease's TTL), so a command sent meanwhile is still answered.
pub const ANSWER_WAIT: Duration = Duration::from_secs(25);
/// Envelopes carried out at once by the driving process.
const IN_FLIGHT: usize = 64;
const REPLY_PREFIX: &str = "inbox.reply.";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    id: String,
    namespace: String,
    name: String,
    #[serde(flatten)]
    op: Op,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase")]
enum Op {
    Adopt,
    Command { command: UserCommand },
    Deleted,
}

fn unavailable(e: BusError) -> ControllerError {
    ControllerError::Unavailable(format!(
        "the event bus cannot take the command for the process driving the runs: {e}"
    ))
}

fn consumer_spec() -> Result<ConsumerSpec, BusError> {
    Ok(
        ConsumerSpec::new(INBOX_CONSUMER, vec![SubjectFilter::new(INBOX_SUBJECT)?])
            .with_max_ack_pending(IN_FLIGHT)
            .with_start(StartPosition::New),
    )
}

/// The inbox as seen by a process that does not drive runs.
pub struct BusInbox {
    bus: Arc<dyn EventBus>,
    store: Arc<dyn Store>,
}

impl BusInbox {
    /// Creates the inbox's durable consumer if it does not exist yet (so envelopes published
    /// from now on wait for a controller), and returns the sending side.
    pub async fn open(bus: Arc<dyn EventBus>, store: Arc<dyn Store>) -> Result<BusInbox, BusError> {
        bus.consumer(consumer_spec()?).await?;
        Ok(BusInbox { bus, store })
    }

    async fn send(&self, key: &ObjectKey, op: Op) -> Result<String, ControllerError> {
        let id = uuid::Uuid::now_v7().to_string();
        let envelope = Envelope {
            id: id.clone(),
            namespace: key.namespace.clone(),
            name: key.name.clone(),
            op,
        };
        let payload = serde_json::to_vec(&envelope)
            .map_err(|e| ControllerError::Unavailable(format!("cannot encode a command: {e}")))?;
        let subject = Subject::new(INBOX_SUBJECT).map_err(unavailable)?;
        let msg = OutgoingMessage::new(subject, payload).with_dedup_id(format!("inbox-{id}"));
        self.bus.publish(msg).await.map_err(unavailable)?;
        Ok(id)
    }
}

#[async_trait]
impl RunInbox for BusInbox {
    async fn adopt(&self, key: &ObjectKey) -> Result<(), ControllerError> {
        self.send(key, Op::Adopt).await.map(|_| ())
    }

    async fn command(&self, key: &ObjectKey, cmd: UserCommand) -> Result<(), ControllerError> {
        let id = self.send(key, Op::Command { command: cmd }).await?;
        let reply = format!("{REPLY_PREFIX}{id}");
        let deadline = tokio::time::Instant::now() + ANSWER_WAIT;
        let mut pause = Duration::from_millis(10);
        loop {
            if let Some(answer) = self.store.get_meta(&reply).await? {
                let answer: Answer = serde_json::from_str(&answer).map_err(|e| {
                    ControllerError::Unavailable(format!(
                        "the answer to a command is unreadable: {e}"
                    ))
                })?;
                if let Err(e) = self.store.delete_meta(&reply).await {
                    tracing::debug!(error = %e, "an answered command's reply was not removed");
                }
                return answer.into_result();
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ControllerError::Unavailable(format!(
                    "no process driving the runs answered within {} s (none holds the controller \
                     lease, or it is taking over); the command stays queued and is carried out \
                     when one does",
                    ANSWER_WAIT.as_secs()
                )));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(250));
        }
    }

    async fn deleted(&self, key: &ObjectKey) -> Result<(), ControllerError> {
        self.send(key, Op::Deleted).await.map(|_| ())
    }
}

/// Carries out the inbox's envelopes while this process drives the runs, until `stop`.
pub async fn serve(
    controller: Controller,
    bus: Arc<dyn EventBus>,
    store: Arc<dyn Store>,
    mut stop: watch::Receiver<bool>,
) {
    let consumer = loop {
        let spec = match consumer_spec() {
            Ok(spec) => spec,
            Err(e) => {
                tracing::error!(error = %e, "the controller inbox cannot be declared");
                return;
            }
        };
        match bus.consumer(spec).await {
            Ok(consumer) => break Arc::<dyn switchyard_bus::Consumer>::from(consumer),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the controller inbox; trying again");
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stop.changed() => return,
                }
            }
        }
    };
    let slots = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let delivery = tokio::select! {
            delivery = consumer.next() => delivery,
            _ = stop.changed() => return,
        };
        let delivery = match delivery {
            Ok(delivery) => delivery,
            Err(BusError::Closed) => return,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the controller inbox; trying again");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let (controller, store, consumer) = (controller.clone(), store.clone(), consumer.clone());
        tokio::spawn(async move {
            let _slot = slot;
            carry_out(&controller, store.as_ref(), consumer.as_ref(), &delivery).await;
        });
    }
}

async fn carry_out(
    controller: &Controller,
    store: &dyn Store,
    consumer: &dyn switchyard_bus::Consumer,
    delivery: &Delivery,
) {
    let envelope: Envelope = match serde_json::from_slice(&delivery.message.payload) {
        Ok(envelope) => envelope,
        Err(e) => {
            tracing::warn!(seq = delivery.seq(), error = %e, "not an inbox envelope; dropped");
            let _ = consumer.ack(delivery).await;
            return;
        }
    };
    let key = ObjectKey::new(Kind::Workflow, &envelope.namespace, &envelope.name);
    let done = match envelope.op {
        Op::Adopt => match controller.adopt(&key).await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(workflow = %key, error = %e, "a run handed over was not taken; trying again");
                false
            }
        },
        Op::Deleted => {
            controller.forget_deleted(&key).await;
            true
        }
        Op::Command { command } => {
            let result = controller.command(&key, command.into_command()).await;
            let answer = serde_json::to_string(&Answer::of(&result)).unwrap_or_default();
            match store
                .put_meta(&format!("{REPLY_PREFIX}{}", envelope.id), &answer)
                .await
            {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!(workflow = %key, error = %e, "the answer to a command was not recorded");
                    false
                }
            }
        }
    };
    let outcome = if done {
        consumer.ack(delivery).await
    } else {
        consumer.nak(delivery, Duration::from_secs(1)).await
    };
    if let Err(e) = outcome {
        tracing::warn!(error = %e, "an inbox envelope was not settled; it comes again");
    }
}
