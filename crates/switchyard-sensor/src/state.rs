//! What a sensor remembers between events, for the shell to persist: per trigger, the latest
//! event of each dependency that has not fired yet, and what the spec looked like when they
//! were saved.
//!
//! This is Argo's JetStream key/value bucket (`eventbus/jetstream/sensor`) as one serde value:
//! `<trigger>/<dependency>` entries become [`TriggerState::pending`], the stored trigger
//! expressions and dependency hashes become the fingerprints `CompiledSensor::reconcile` compares
//! to purge what a changed spec invalidates, and the recent-message cache that drops redelivered
//! events becomes [`SensorState`]'s recent list.
//!
//! Bounded: at most one pending event per dependency per trigger (a newer one replaces it, as in
//! Argo), and at most [`RECENT_EVENTS`] event keys.

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::event::EventInput;

/// How many recently processed events are remembered to drop redeliveries. Argo keeps a minute's
/// worth in memory; a count survives restarts and downtime, and is bounded whatever the rate.
pub const RECENT_EVENTS: usize = 256;

/// A sensor's state. Start with [`SensorState::default`]; serialize it as JSON between events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SensorState {
    /// `namespace/name` of the sensor this state belongs to.
    #[serde(default)]
    pub(crate) sensor: String,
    /// Fingerprint of each dependency's definition, by name.
    #[serde(default)]
    pub(crate) dependencies: BTreeMap<String, String>,
    /// By trigger name.
    #[serde(default)]
    pub(crate) triggers: BTreeMap<String, TriggerState>,
    /// Keys of the latest processed events (see [`event_key`]), oldest first.
    #[serde(default)]
    pub(crate) recent: VecDeque<String>,
}

/// One trigger's part of the state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TriggerState {
    /// The canonical conditions the pending events were saved under.
    #[serde(default)]
    pub(crate) conditions: String,
    /// The latest unfired event of each dependency, by dependency name.
    #[serde(default)]
    pub(crate) pending: BTreeMap<String, PendingEvent>,
}

/// An event that satisfied a dependency and waits for the rest of the trigger's conditions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingEvent {
    /// The event after the dependency's transform.
    pub event: EventInput,
    /// When the sensor processed it (the `now` of that call); resets compare with this.
    pub saved_at: DateTime<Utc>,
}

impl SensorState {
    /// The pending events of a trigger, by dependency name.
    pub fn pending(&self, trigger: &str) -> Option<&BTreeMap<String, PendingEvent>> {
        self.triggers.get(trigger).map(|t| &t.pending)
    }

    /// Every trigger with pending events, by name, with its pending events by dependency.
    pub fn pending_by_trigger(
        &self,
    ) -> impl Iterator<Item = (&str, &BTreeMap<String, PendingEvent>)> {
        self.triggers
            .iter()
            .filter(|(_, t)| !t.pending.is_empty())
            .map(|(name, t)| (name.as_str(), &t.pending))
    }

    /// How many events are pending over all triggers.
    pub fn pending_count(&self) -> usize {
        self.triggers.values().map(|t| t.pending.len()).sum()
    }

    /// Whether the event with this key was processed recently.
    pub(crate) fn seen(&self, key: &str) -> bool {
        self.recent.iter().any(|k| k == key)
    }

    /// Records a processed event, forgetting the oldest beyond [`RECENT_EVENTS`].
    pub(crate) fn remember(&mut self, key: String) {
        self.recent.push_back(key);
        while self.recent.len() > RECENT_EVENTS {
            self.recent.pop_front();
        }
    }
}

/// A short, stable digest of `parts` (each length-prefixed, so no two lists collide by
/// concatenation): 32 hex characters (128 bits) of SHA-256.
pub(crate) fn digest(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    let out = hasher.finalize();
    hex::encode(&out[..16])
}

/// The key under which an event is remembered: its CloudEvents identity `(source, id)`.
pub(crate) fn event_key(event: &EventInput) -> String {
    let (source, id) = event.identity();
    digest(&["event", source, id])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_stable_and_unambiguous() {
        assert_eq!(digest(&["ab", "c"]), digest(&["ab", "c"]));
        assert_ne!(digest(&["ab", "c"]), digest(&["a", "bc"]));
        assert_eq!(digest(&["x"]).len(), 32);
    }

    #[test]
    fn remembers_a_bounded_number_of_events() {
        let mut state = SensorState::default();
        for i in 0..RECENT_EVENTS + 10 {
            state.remember(format!("k{i}"));
        }
        assert_eq!(state.recent.len(), RECENT_EVENTS);
        assert!(!state.seen("k0"));
        assert!(state.seen(&format!("k{}", RECENT_EVENTS + 9)));
    }
}
