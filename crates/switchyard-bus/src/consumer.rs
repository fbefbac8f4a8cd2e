//! Durable consumers: how one is declared ([`ConsumerSpec`]), what a backend reports about
//! one ([`ConsumerInfo`]), and the checks every backend applies to a declaration.

use std::time::Duration;

use crate::subject::quote;
use crate::{BusError, SubjectFilter};

/// Longest consumer name, in bytes.
pub const MAX_CONSUMER_NAME_LEN: usize = 128;
/// Most subject filters on one consumer.
pub const MAX_FILTERS: usize = 64;
/// JetStream's default `ack_wait`.
pub const DEFAULT_ACK_WAIT: Duration = Duration::from_secs(30);
/// JetStream's default `max_ack_pending`.
pub const DEFAULT_MAX_ACK_PENDING: usize = 1000;
/// Largest `max_ack_pending` accepted: it bounds what a backend keeps per consumer.
pub const MAX_ACK_PENDING_CEILING: usize = 10_000;
/// Longest `ack_wait`, and longest `nak` delay.
pub const MAX_WAIT: Duration = Duration::from_secs(24 * 3600);

/// Where a consumer starts when it is created. Ignored when it already exists: an existing
/// consumer resumes from its position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartPosition {
    /// From the oldest message still retained.
    #[default]
    All,
    /// Only messages published after the consumer was created.
    New,
    /// From this sequence (or the oldest retained message after it).
    AtSequence(u64),
}

/// A durable consumer's declaration. See "Consumers" in the crate docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerSpec {
    /// The durable name: 1 to 128 ASCII letters, digits, `-` and `_` (JetStream refuses `.`,
    /// `*`, `>` and whitespace in durable names; encode other characters before use).
    pub name: String,
    /// Messages whose subject matches any of these are delivered (once, even when several
    /// match). At least one, at most [`MAX_FILTERS`].
    pub filters: Vec<SubjectFilter>,
    /// How long a delivery may stay unacknowledged before the message is delivered again.
    pub ack_wait: Duration,
    /// Most deliveries unacknowledged at once; `next` waits while the consumer is at it.
    /// 1 gives strict order: nothing new is delivered until the last message is acked.
    pub max_ack_pending: usize,
    pub start: StartPosition,
}

impl ConsumerSpec {
    /// A consumer with JetStream's defaults: `ack_wait` 30 s, `max_ack_pending` 1000, from
    /// the oldest retained message.
    pub fn new(name: impl Into<String>, filters: Vec<SubjectFilter>) -> Self {
        ConsumerSpec {
            name: name.into(),
            filters,
            ack_wait: DEFAULT_ACK_WAIT,
            max_ack_pending: DEFAULT_MAX_ACK_PENDING,
            start: StartPosition::All,
        }
    }

    pub fn with_ack_wait(mut self, ack_wait: Duration) -> Self {
        self.ack_wait = ack_wait;
        self
    }

    pub fn with_max_ack_pending(mut self, max: usize) -> Self {
        self.max_ack_pending = max;
        self
    }

    pub fn with_start(mut self, start: StartPosition) -> Self {
        self.start = start;
        self
    }

    /// Checks every field and reports every problem at once.
    pub fn validate(&self) -> Result<(), BusError> {
        let mut problems = Vec::new();
        if let Err(e) = validate_consumer_name(&self.name) {
            problems.push(e.reason());
        }
        if self.filters.is_empty() {
            problems
                .push("it needs at least one subject filter (`>` for every subject)".to_owned());
        }
        if self.filters.len() > MAX_FILTERS {
            problems.push(format!(
                "it has {} subject filters; at most {MAX_FILTERS} are allowed",
                self.filters.len()
            ));
        }
        if self.ack_wait.is_zero() || self.ack_wait > MAX_WAIT {
            problems.push(format!(
                "ack_wait is {:?}; it must be longer than zero and at most {MAX_WAIT:?}",
                self.ack_wait
            ));
        }
        if self.max_ack_pending == 0 || self.max_ack_pending > MAX_ACK_PENDING_CEILING {
            problems.push(format!(
                "max_ack_pending is {}; it must be between 1 and {MAX_ACK_PENDING_CEILING}",
                self.max_ack_pending
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(BusError::invalid(
                format!("consumer {}", quote(&self.name)),
                problems.join("; "),
            ))
        }
    }
}

/// Checks a durable consumer name: 1 to 128 ASCII letters, digits, `-` and `_`.
pub fn validate_consumer_name(name: &str) -> Result<(), BusError> {
    let fail = |reason: String| {
        Err(BusError::invalid(
            format!("consumer name {}", quote(name)),
            reason,
        ))
    };
    if name.is_empty() {
        return fail("it is empty".to_owned());
    }
    if name.len() > MAX_CONSUMER_NAME_LEN {
        return fail(format!(
            "it is {} bytes long; at most {MAX_CONSUMER_NAME_LEN} are allowed",
            name.len()
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return fail("it may only contain ASCII letters, digits, `-` and `_`".to_owned());
    }
    Ok(())
}

/// Checks a `nak` delay: at most [`MAX_WAIT`].
pub fn validate_nak_delay(delay: Duration) -> Result<(), BusError> {
    if delay > MAX_WAIT {
        return Err(BusError::invalid(
            "nak delay",
            format!("it is {delay:?}; at most {MAX_WAIT:?} is allowed"),
        ));
    }
    Ok(())
}

/// What a backend reports about a durable consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerInfo {
    pub name: String,
    pub filters: Vec<SubjectFilter>,
    pub ack_wait: Duration,
    pub max_ack_pending: usize,
    /// Every message up to this sequence has been acknowledged (or does not match the
    /// filters, or is gone). A restart resumes after it.
    pub ack_floor: u64,
    /// Deliveries not acknowledged yet (by this process, for the embedded bus).
    pub ack_pending: usize,
}

/// What a backend reports about its stream of messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BusInfo {
    /// Messages retained now.
    pub messages: u64,
    /// The oldest retained message; `last_seq + 1` when none is.
    pub first_seq: u64,
    /// The last sequence ever assigned; 0 when nothing was ever published.
    pub last_seq: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<SubjectFilter> {
        vec![SubjectFilter::all()]
    }

    #[test]
    fn defaults_are_valid() {
        assert_eq!(ConsumerSpec::new("sensor_a-1", all()).validate(), Ok(()));
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let spec = ConsumerSpec::new("bad.name", vec![])
            .with_ack_wait(Duration::ZERO)
            .with_max_ack_pending(0);
        let err = spec.validate().map_err(|e| e.to_string()).unwrap_err();
        for want in [
            "invalid consumer `bad.name`: ",
            "it may only contain ASCII letters, digits, `-` and `_`",
            "it needs at least one subject filter",
            "ack_wait is 0ns",
            "max_ack_pending is 0",
        ] {
            assert!(err.contains(want), "{want}: {err}");
        }
        let many = ConsumerSpec::new("x", vec![SubjectFilter::all(); MAX_FILTERS + 1])
            .with_ack_wait(MAX_WAIT + Duration::from_secs(1))
            .with_max_ack_pending(MAX_ACK_PENDING_CEILING + 1);
        let err = many.validate().map_err(|e| e.to_string()).unwrap_err();
        for want in [
            "65 subject filters",
            "ack_wait is 86401s",
            "max_ack_pending is 10001",
        ] {
            assert!(err.contains(want), "{want}: {err}");
        }
    }

    #[test]
    fn names() {
        for ok in [
            "a",
            "sensor-default_webhook-1",
            &"x".repeat(MAX_CONSUMER_NAME_LEN),
        ] {
            assert_eq!(validate_consumer_name(ok), Ok(()), "{ok}");
        }
        for (bad, want) in [
            ("", "it is empty"),
            ("a b", "may only contain"),
            ("a.b", "may only contain"),
            ("a>", "may only contain"),
            ("ü", "may only contain"),
            (&"x".repeat(MAX_CONSUMER_NAME_LEN + 1), "at most 128"),
        ] {
            let err = validate_consumer_name(bad)
                .map_err(|e| e.to_string())
                .unwrap_err();
            assert!(err.contains(want), "{bad}: {err}");
        }
    }

    #[test]
    fn nak_delays() {
        assert_eq!(validate_nak_delay(Duration::ZERO), Ok(()));
        assert_eq!(validate_nak_delay(MAX_WAIT), Ok(()));
        assert!(validate_nak_delay(MAX_WAIT + Duration::from_millis(1)).is_err());
    }
}
