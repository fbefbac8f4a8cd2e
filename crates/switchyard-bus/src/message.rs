//! What crosses the port: messages going in, messages stored, deliveries to consumers, and
//! the checks every backend applies to a message before publishing it.

use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

use crate::subject::quote;
use crate::{BusError, Limits, Subject};

/// Message headers: a small map of names to values, kept in name order.
pub type Headers = BTreeMap<String, String>;

/// Most headers on one message.
pub const MAX_HEADERS: usize = 64;
/// Longest header name, in bytes.
pub const MAX_HEADER_NAME_LEN: usize = 64;
/// Most bytes of all header names and values of one message together.
pub const MAX_HEADERS_LEN: usize = 16 * 1024;
/// Longest dedup id, in bytes.
pub const MAX_DEDUP_ID_LEN: usize = 1024;
/// Header names starting with this (in any case) are reserved: NATS JetStream gives them
/// meaning (`Nats-Msg-Id` carries the dedup id there).
pub const RESERVED_HEADER_PREFIX: &str = "nats-";

/// A message to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    pub subject: Subject,
    /// A repeated publish with the same id within the dedup window stores nothing and
    /// returns the original sequence (see the crate docs).
    pub dedup_id: Option<String>,
    pub headers: Headers,
    pub payload: Vec<u8>,
}

impl OutgoingMessage {
    /// A message with no dedup id and no headers.
    pub fn new(subject: Subject, payload: impl Into<Vec<u8>>) -> Self {
        OutgoingMessage {
            subject,
            dedup_id: None,
            headers: Headers::new(),
            payload: payload.into(),
        }
    }

    pub fn with_dedup_id(mut self, id: impl Into<String>) -> Self {
        self.dedup_id = Some(id.into());
        self
    }

    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name.into(), value.into());
        self
    }

    /// The checks every backend makes before publishing (the subject was checked when it
    /// was made): payload size, dedup id, header names and values. See the crate docs.
    pub fn validate(&self, limits: &Limits) -> Result<(), BusError> {
        if self.payload.len() > limits.max_payload {
            return Err(BusError::PayloadTooLarge {
                size: self.payload.len(),
                max: limits.max_payload,
            });
        }
        if let Some(id) = &self.dedup_id {
            validate_dedup_id(id)?;
        }
        validate_headers(&self.headers)
    }
}

fn validate_dedup_id(id: &str) -> Result<(), BusError> {
    let fail = |reason: String| Err(BusError::invalid(format!("dedup id {}", quote(id)), reason));
    if id.is_empty() {
        return fail("it is empty; leave it out instead".to_owned());
    }
    if id.len() > MAX_DEDUP_ID_LEN {
        return fail(format!(
            "it is {} bytes long; at most {MAX_DEDUP_ID_LEN} are allowed",
            id.len()
        ));
    }
    if id.chars().any(char::is_control) {
        return fail("it contains a control character".to_owned());
    }
    Ok(())
}

fn validate_headers(headers: &Headers) -> Result<(), BusError> {
    if headers.len() > MAX_HEADERS {
        return Err(BusError::invalid(
            "message headers",
            format!(
                "there are {}; at most {MAX_HEADERS} are allowed",
                headers.len()
            ),
        ));
    }
    let mut total = 0;
    let mut folded: BTreeMap<String, &str> = BTreeMap::new();
    for (name, value) in headers {
        let fail = |reason: String| {
            Err(BusError::invalid(
                format!("message header {}", quote(name)),
                reason,
            ))
        };
        if name.is_empty() {
            return fail("the name is empty".to_owned());
        }
        if name.len() > MAX_HEADER_NAME_LEN {
            return fail(format!(
                "the name is {} bytes long; at most {MAX_HEADER_NAME_LEN} are allowed",
                name.len()
            ));
        }
        if !name.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
            return fail(
                "the name may only contain printable ASCII characters other than `:`".to_owned(),
            );
        }
        if name
            .get(..RESERVED_HEADER_PREFIX.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(RESERVED_HEADER_PREFIX))
        {
            return fail("names starting with `Nats-` are reserved for the bus".to_owned());
        }
        // Some backends fold header names' case; two names that differ only in case would
        // collapse into one there, so no backend accepts them.
        if let Some(other) = folded.insert(name.to_ascii_lowercase(), name) {
            return fail(format!(
                "it differs from the header {} only in case",
                quote(other)
            ));
        }
        if value.chars().any(|c| c == '\r' || c == '\n' || c == '\0') {
            return fail("the value contains a line break or a NUL character".to_owned());
        }
        total += name.len() + value.len();
    }
    if total > MAX_HEADERS_LEN {
        return Err(BusError::invalid(
            "message headers",
            format!("they take {total} bytes; at most {MAX_HEADERS_LEN} are allowed"),
        ));
    }
    Ok(())
}

/// A stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Its position in the bus: 1 for the first message ever published, +1 for each one after.
    pub seq: u64,
    pub subject: Subject,
    /// When the bus stored it (the bus's clock, never before an earlier message's time).
    pub published_at: DateTime<Utc>,
    pub dedup_id: Option<String>,
    pub headers: Headers,
    pub payload: Vec<u8>,
}

/// What a publish did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    /// The message's sequence; for a duplicate, the original message's.
    pub seq: u64,
    /// True when the dedup id was seen within the window and nothing new was stored.
    pub duplicate: bool,
}

/// One delivery of a message to a consumer. Acknowledge it (or not) on the consumer handle
/// that returned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub message: Message,
    /// The consumer it was delivered to.
    pub consumer: String,
    /// 1 on the first delivery, +1 on each redelivery (see the crate docs).
    pub delivered: u32,
}

impl Delivery {
    pub fn seq(&self) -> u64 {
        self.message.seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg() -> OutgoingMessage {
        OutgoingMessage::new(Subject::new("a.b").unwrap(), b"x".to_vec())
    }

    fn err(m: &OutgoingMessage) -> String {
        match m.validate(&Limits::default()) {
            Ok(()) => panic!("expected {m:?} to be rejected"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_plain_message_is_valid() {
        let m = msg()
            .with_dedup_id("ce-id/source")
            .with_header("ce-type", "webhook")
            .with_header("Content-Type", "application/json");
        assert_eq!(m.validate(&Limits::default()), Ok(()));
    }

    #[test]
    fn payload_size_is_capped() {
        let limits = Limits {
            max_payload: 4,
            ..Limits::default()
        };
        let m = OutgoingMessage::new(Subject::new("a").unwrap(), vec![0; 5]);
        assert_eq!(
            m.validate(&limits),
            Err(BusError::PayloadTooLarge { size: 5, max: 4 })
        );
        let m = OutgoingMessage::new(Subject::new("a").unwrap(), vec![0; 4]);
        assert_eq!(m.validate(&limits), Ok(()));
    }

    #[test]
    fn bad_dedup_ids_and_headers_say_why() {
        for (m, want) in [
            (msg().with_dedup_id(""), "invalid dedup id ``: it is empty"),
            (
                msg().with_dedup_id("a\nb"),
                "it contains a control character",
            ),
            (
                msg().with_dedup_id("x".repeat(MAX_DEDUP_ID_LEN + 1)),
                "at most 1024",
            ),
            (msg().with_header("", "v"), "the name is empty"),
            (
                msg().with_header("a b", "v"),
                "invalid message header `a b`: the name may only contain printable ASCII",
            ),
            (msg().with_header("a:b", "v"), "other than `:`"),
            (
                msg().with_header("Nats-Msg-Id", "v"),
                "names starting with `Nats-` are reserved",
            ),
            (msg().with_header("NATS-expected", "v"), "reserved"),
            (
                msg().with_header("ce-id", "v").with_header("CE-ID", "w"),
                "differs from the header `CE-ID` only in case",
            ),
            (
                msg()
                    .with_header("Aa", "v")
                    .with_header("B", "w")
                    .with_header("aa", "x"),
                "invalid message header `aa`: it differs from the header `Aa` only in case",
            ),
            (
                msg().with_header("x", "a\r\nb"),
                "the value contains a line break",
            ),
            (
                msg().with_header("x".repeat(MAX_HEADER_NAME_LEN + 1), "v"),
                "at most 64 are allowed",
            ),
            (
                msg().with_header("big", "v".repeat(MAX_HEADERS_LEN)),
                "invalid message headers: they take",
            ),
        ] {
            let got = err(&m);
            assert!(got.contains(want), "{want}: {got}");
        }
        let mut many = msg();
        for i in 0..=MAX_HEADERS {
            many = many.with_header(format!("h{i}"), "v");
        }
        assert!(err(&many).contains("at most 64 are allowed"));
    }
}
