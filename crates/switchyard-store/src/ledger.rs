//! The EventLedger port: what sensors consumed, what they are waiting for, and the triggers
//! they owe.
//!
//! # Contract
//!
//! **Exactly once.** [`EventLedger::consume`] records, in ONE transaction, that a sensor
//! consumed an event (unique per sensor incarnation and event key), the sensor's new state,
//! the event's outcome, and the firings the event completed (an outbox: unique by firing
//! key). A second `consume` of the same sensor + event changes nothing and answers
//! [`Consumed::Before`], so a redelivered event (the bus is at least once) has no second
//! effect. A firing key that already exists is kept as it is.
//!
//! **Incarnations.** A sensor is identified by namespace, name and uid: a re-created sensor
//! (new uid) starts with no state and consumes every event afresh.
//!
//! **Outbox.** Firings stay `pending` until [`EventLedger::settle_firing`] settles them
//! (`done` with what was started, or `dead` with the reason: the dead-letter record) or
//! reschedules them (`Retry`: attempts + 1, not due before the given time, the error kept).
//! [`EventLedger::due_firings`] lists pending firings due at a time, oldest first.
//!
//! **Durability and errors** are the [`Store`](crate::Store)'s: `Ok` means committed, only
//! [`StoreError::Unavailable`] is retryable.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::StoreError;

/// One incarnation of a sensor.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SensorId {
    pub namespace: String,
    pub name: String,
    pub uid: String,
}

impl SensorId {
    /// `namespace/name`: how logs name the sensor (the field `sensor`).
    pub fn path(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

impl std::fmt::Display for SensorId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "sensor {}/{}", self.namespace, self.name)
    }
}

/// A sensor's consumption of one event, recorded by [`EventLedger::consume`].
#[derive(Debug, Clone, PartialEq)]
pub struct Consumption {
    pub sensor: SensorId,
    /// The event's key: unique per event (its source and id).
    pub event_key: String,
    /// The event's id, EventSource and event name, for listings.
    pub event_id: String,
    pub event_source: String,
    pub event_name: String,
    pub at: DateTime<Utc>,
    /// The sensor's state after the event.
    pub state: Json,
    /// What the event did to the sensor (matched dependencies, filters), for listings.
    pub outcome: Json,
    /// The triggers the event made fire.
    pub firings: Vec<NewFiring>,
}

/// A trigger that must be carried out.
#[derive(Debug, Clone, PartialEq)]
pub struct NewFiring {
    /// Unique across the ledger; derived from the sensor, trigger and consumed events.
    pub key: String,
    pub trigger: String,
    /// What the trigger needs to run (opaque to the ledger).
    pub payload: Json,
}

/// Whether [`EventLedger::consume`] recorded anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consumed {
    /// Recorded now.
    Now,
    /// The sensor had consumed this event before; nothing changed.
    Before,
}

/// The state of a firing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FiringStatus {
    Pending,
    Done,
    Dead,
}

impl FiringStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FiringStatus::Pending => "pending",
            FiringStatus::Done => "done",
            FiringStatus::Dead => "dead",
        }
    }

    pub fn parse(text: &str) -> Option<FiringStatus> {
        match text {
            "pending" => Some(FiringStatus::Pending),
            "done" => Some(FiringStatus::Done),
            "dead" => Some(FiringStatus::Dead),
            _ => None,
        }
    }
}

/// A firing as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Firing {
    pub key: String,
    pub sensor: SensorId,
    pub trigger: String,
    pub payload: Json,
    pub status: FiringStatus,
    /// Attempts made so far.
    pub attempts: u32,
    pub created_at: DateTime<Utc>,
    /// Not due before this time.
    pub not_before: DateTime<Utc>,
    /// What was started (`done`), the last error (`pending` after a retry) or the reason it
    /// was given up (`dead`).
    pub detail: String,
}

/// How a firing attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// Carried out; `detail` says what was started.
    Done { detail: String },
    /// Failed; try again at `not_before`.
    Retry {
        not_before: DateTime<Utc>,
        error: String,
    },
    /// Given up; `reason` is the dead-letter record.
    Dead { reason: String },
}

/// One recorded consumption, for listings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventRecord {
    pub sensor: SensorId,
    pub event_id: String,
    pub event_source: String,
    pub event_name: String,
    pub at: DateTime<Utc>,
    pub outcome: Json,
    /// The firings this event completed, as they stand now.
    pub firings: Vec<Firing>,
}

/// Which consumptions to list, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventQuery {
    pub namespace: Option<String>,
    /// Only events of this EventSource.
    pub event_source: Option<String>,
    /// Only consumptions by this sensor (by name).
    pub sensor: Option<String>,
    /// Only consumptions of the event with this id.
    pub event_id: Option<String>,
    pub limit: usize,
}

/// The port. Read the module docs: they are the contract.
#[async_trait]
pub trait EventLedger: Send + Sync + 'static {
    /// The sensor's state, or `None` when it has none yet.
    async fn sensor_state(&self, sensor: &SensorId) -> Result<Option<Json>, StoreError>;
    /// Replaces the sensor's state outside an event (a reset by time, a purge).
    async fn put_sensor_state(&self, sensor: &SensorId, state: Json) -> Result<(), StoreError>;
    /// Records a consumption, its state and firings in one transaction (see the contract).
    async fn consume(&self, consumption: Consumption) -> Result<Consumed, StoreError>;
    /// Pending firings due at `now`, oldest first, at most `limit`.
    async fn due_firings(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Firing>, StoreError>;
    /// Settles or reschedules a pending firing; a firing already settled is left as it is.
    async fn settle_firing(&self, key: &str, settlement: Settlement) -> Result<(), StoreError>;
    /// Recent consumptions, newest first.
    async fn recent_events(&self, query: &EventQuery) -> Result<Vec<EventRecord>, StoreError>;
    /// Forgets a sensor's state and consumptions (it was deleted); its firings stay.
    async fn forget_sensor(&self, sensor: &SensorId) -> Result<(), StoreError>;
}
