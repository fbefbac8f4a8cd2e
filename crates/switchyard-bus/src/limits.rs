//! The bus's stream-wide settings: the dedup window, retention limits and the largest
//! payload. Every backend takes the same [`Limits`] (JetStream has a stream setting for each).

use std::time::Duration;

use crate::BusError;

/// JetStream's default dedup window, which Argo Events keeps when `duplicates` is unset.
pub const DEFAULT_DEDUP_WINDOW: Duration = Duration::from_secs(120);
/// Argo Events' default `maxAge` of an EventBus stream: 168 h.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(168 * 3600);
/// Default `max_messages`. Argo Events uses 50,000; at the ingest rate Switchyard aims for
/// (25,000 events/s) that is two seconds of events, so the default is larger.
pub const DEFAULT_MAX_MESSAGES: u64 = 1_000_000;
/// Default largest payload: NATS's default `max_payload` (1 MiB).
pub const DEFAULT_MAX_PAYLOAD: usize = 1024 * 1024;
/// The largest payload any backend may be configured for (NATS refuses more than 64 MiB).
pub const MAX_PAYLOAD_CEILING: usize = 64 * 1024 * 1024;
/// The longest dedup window accepted.
pub const MAX_DEDUP_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);

/// Stream-wide settings of a bus. See "Retention" and "Dedup" in the crate docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// How long a dedup id is remembered, from its original publish. Not zero; at most
    /// [`MAX_DEDUP_WINDOW`]; not longer than `max_age`.
    pub dedup_window: Duration,
    /// Messages older than this are removed. `None`: no age limit.
    pub max_age: Option<Duration>,
    /// When there are more messages than this, the oldest are removed. `None`: no limit.
    pub max_messages: Option<u64>,
    /// When the messages take more bytes than this (subject, headers and payload), the
    /// oldest are removed. `None`: no limit.
    pub max_bytes: Option<u64>,
    /// Largest payload a publish accepts, in bytes.
    pub max_payload: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            dedup_window: DEFAULT_DEDUP_WINDOW,
            max_age: Some(DEFAULT_MAX_AGE),
            max_messages: Some(DEFAULT_MAX_MESSAGES),
            max_bytes: None,
            max_payload: DEFAULT_MAX_PAYLOAD,
        }
    }
}

impl Limits {
    /// Checks every setting and reports every problem at once.
    pub fn validate(&self) -> Result<(), BusError> {
        let mut problems = Vec::new();
        if self.dedup_window.is_zero() {
            problems.push("dedup_window must be longer than zero".to_owned());
        }
        if self.dedup_window > MAX_DEDUP_WINDOW {
            problems.push(format!(
                "dedup_window is {:?}; at most {:?} is allowed",
                self.dedup_window, MAX_DEDUP_WINDOW
            ));
        }
        if let Some(age) = self.max_age {
            if age.is_zero() {
                problems.push(
                    "max_age must be longer than zero (leave it out for no limit)".to_owned(),
                );
            } else if self.dedup_window > age {
                // JetStream refuses this too: a dedup id must not outlive its message.
                problems.push(format!(
                    "dedup_window ({:?}) must not be longer than max_age ({age:?})",
                    self.dedup_window
                ));
            }
        }
        if self.max_messages == Some(0) {
            problems.push("max_messages must be at least 1 (leave it out for no limit)".to_owned());
        }
        if self.max_payload == 0 || self.max_payload > MAX_PAYLOAD_CEILING {
            problems.push(format!(
                "max_payload is {} bytes; it must be between 1 and {MAX_PAYLOAD_CEILING}",
                self.max_payload
            ));
        }
        if let Some(bytes) = self.max_bytes
            && bytes < self.max_payload as u64
        {
            problems.push(format!(
                "max_bytes ({bytes}) must be at least max_payload ({})",
                self.max_payload
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(BusError::invalid("bus limits", problems.join("; ")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(Limits::default().validate(), Ok(()));
        let unlimited = Limits {
            max_age: None,
            max_messages: None,
            max_bytes: None,
            ..Limits::default()
        };
        assert_eq!(unlimited.validate(), Ok(()));
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let bad = Limits {
            dedup_window: Duration::from_secs(10),
            max_age: Some(Duration::from_secs(5)),
            max_messages: Some(0),
            max_bytes: Some(10),
            max_payload: 100,
        };
        let err = match bad.validate() {
            Ok(()) => panic!("accepted {bad:?}"),
            Err(e) => e.to_string(),
        };
        for want in [
            "invalid bus limits: ",
            "dedup_window (10s) must not be longer than max_age (5s)",
            "max_messages must be at least 1",
            "max_bytes (10) must be at least max_payload (100)",
        ] {
            assert!(err.contains(want), "{want}: {err}");
        }
        let zero = Limits {
            dedup_window: Duration::ZERO,
            max_age: Some(Duration::ZERO),
            max_payload: 0,
            ..Limits::default()
        };
        let err = zero.validate().map_err(|e| e.to_string()).unwrap_err();
        for want in [
            "dedup_window must be longer than zero",
            "max_age must be longer than zero",
            "max_payload is 0 bytes",
        ] {
            assert!(err.contains(want), "{want}: {err}");
        }
    }
}
