//! What travels over NATS: message headers (with the value encoding that keeps every bus
//! header intact), the ack reply subject JetStream puts on every delivery, and decoding a
//! delivered message into a bus [`Message`]. Pure.
//!
//! **Header values.** NATS drops leading and trailing whitespace of header values when it
//! parses a message, and nats-server 2.9 finds the dedup header by searching the raw header
//! block for the first occurrence of `Nats-Msg-Id`, wherever it is. So a value that starts or
//! ends with whitespace, contains `Nats-Msg-Id`, or starts with the marker below, travels
//! encoded: the marker `=?switchyard?` followed by the value percent-encoded (every byte other
//! than ASCII letters, digits, `.`, `_` and `~` as `%XX`). Every other value, which is nearly
//! all of them, travels as it is. Decoding reverses it exactly, so the bus returns what was
//! published. The dedup id is encoded the same way; the server compares encoded ids, and the
//! encoding is one-to-one, so ids are still compared exactly.

use async_nats::{HeaderMap, HeaderName, HeaderValue};
use chrono::{DateTime, Utc};
use std::borrow::Cow;
use std::str::FromStr;
use switchyard_bus::{BusError, Headers, Message, OutgoingMessage, RESERVED_HEADER_PREFIX};

use crate::names::SubjectMap;

/// The header that carries the dedup id; JetStream deduplicates on it.
pub(crate) const MSG_ID: &str = "Nats-Msg-Id";
/// What an encoded header value starts with.
pub(crate) const ENCODED_MARKER: &str = "=?switchyard?";

/// Whether a header value must travel encoded (see the module docs).
fn needs_encoding(value: &str) -> bool {
    value.starts_with(ENCODED_MARKER) || value.trim() != value || value.contains(MSG_ID)
}

/// A header value as it travels.
pub(crate) fn encode_value(value: &str) -> Cow<'_, str> {
    if !needs_encoding(value) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(ENCODED_MARKER.len() + value.len() * 3);
    out.push_str(ENCODED_MARKER);
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(hex_digit(b >> 4));
            out.push(hex_digit(b & 0xF));
        }
    }
    Cow::Owned(out)
}

/// A header value as published. A value that looks encoded but is not well formed was not
/// written by the bus and is returned as it is.
pub(crate) fn decode_value(wire: &str) -> Cow<'_, str> {
    let Some(encoded) = wire.strip_prefix(ENCODED_MARKER) else {
        return Cow::Borrowed(wire);
    };
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = bytes.get(i + 1).and_then(|b| hex_value(*b));
            let lo = bytes.get(i + 2).and_then(|b| hex_value(*b));
            match (hi, lo) {
                (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                _ => return Cow::Borrowed(wire),
            }
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    match String::from_utf8(out) {
        Ok(decoded) => Cow::Owned(decoded),
        Err(_) => Cow::Borrowed(wire),
    }
}

fn hex_digit(n: u8) -> char {
    char::from(b"0123456789ABCDEF"[usize::from(n & 0xF)])
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

/// The headers of a message as it travels, and the size of their block on the wire.
pub(crate) struct OutgoingHeaders {
    pub(crate) map: HeaderMap,
    pub(crate) wire_len: usize,
}

/// Builds the NATS headers of a message already checked by [`OutgoingMessage::validate`].
pub(crate) fn outgoing_headers(msg: &OutgoingMessage) -> Result<OutgoingHeaders, BusError> {
    let mut map = HeaderMap::new();
    // "NATS/1.0\r\n" before the headers and "\r\n" after them.
    let mut wire_len = 12;
    let mut add = |name: &str, value: &str| -> Result<(), BusError> {
        let encoded = encode_value(value);
        let header_name = HeaderName::from_str(name).map_err(|e| {
            BusError::invalid(
                format!("message header `{name}`"),
                format!("NATS refuses the name: {e}"),
            )
        })?;
        let header_value = HeaderValue::from_str(&encoded).map_err(|e| {
            BusError::invalid(
                format!("message header `{name}`"),
                format!("NATS refuses the value: {e}"),
            )
        })?;
        wire_len += name.len() + 2 + encoded.len() + 2;
        map.insert(header_name, header_value);
        Ok(())
    };
    if let Some(id) = &msg.dedup_id {
        // nats-server 2.9 takes the first `Nats-Msg-Id` anywhere in the header block as the
        // dedup header; a header name containing it could come first and hide the real one,
        // and the message would be stored twice. Values are encoded; names cannot be.
        if let Some(name) = msg.headers.keys().find(|n| n.contains(MSG_ID)) {
            return Err(BusError::invalid(
                format!("message header `{name}`"),
                "with a dedup id, a header name must not contain `Nats-Msg-Id` (NATS JetStream \
                 would take it for the dedup header)",
            ));
        }
        add(MSG_ID, id)?;
    }
    for (name, value) in &msg.headers {
        add(name, value)?;
    }
    Ok(OutgoingHeaders { map, wire_len })
}

/// What JetStream encodes in the reply subject of a delivered message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AckReply<'a> {
    pub(crate) stream: &'a str,
    pub(crate) consumer: &'a str,
    /// How many times the message has been delivered to the consumer, this time included.
    pub(crate) delivered: u64,
    pub(crate) stream_seq: u64,
    pub(crate) consumer_seq: u64,
    /// When the message was stored, in nanoseconds since the Unix epoch.
    pub(crate) timestamp: i64,
    /// Messages still pending for the consumer after this one.
    pub(crate) pending: u64,
}

/// Parses `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>`, the form
/// nats-server sends, and the longer form with domain and account hash
/// (`$JS.ACK.<domain>.<hash>.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>`,
/// with or without a trailing token).
pub(crate) fn parse_ack_reply(reply: &str) -> Option<AckReply<'_>> {
    let tokens: Vec<&str> = reply.split('.').collect();
    if tokens.len() < 9 || tokens[0] != "$JS" || tokens[1] != "ACK" {
        return None;
    }
    let at = match tokens.len() {
        9 => 2,
        11 | 12 => 4,
        _ => return None,
    };
    let number = |i: usize| tokens[at + i].parse::<u64>().ok();
    Some(AckReply {
        stream: tokens[at],
        consumer: tokens[at + 1],
        delivered: number(2)?,
        stream_seq: number(3)?,
        consumer_seq: number(4)?,
        timestamp: tokens[at + 5].parse::<i64>().ok()?,
        pending: number(6)?,
    })
}

/// Builds a bus message from a message delivered by a consumer of the stream.
pub(crate) fn decode_message(
    map: &SubjectMap,
    stream_subject: &str,
    headers: Option<&HeaderMap>,
    payload: &[u8],
    reply: &AckReply<'_>,
) -> Result<Message, BusError> {
    let subject = map.to_bus(stream_subject)?;
    let mut dedup_id = None;
    let mut user = Headers::new();
    if let Some(headers) = headers {
        for (name, values) in headers.iter() {
            let name: &str = name.as_ref();
            let Some(value) = values.last() else { continue };
            let value = decode_value(value.as_str()).into_owned();
            if name == MSG_ID {
                dedup_id = Some(value);
            } else if !name
                .get(..RESERVED_HEADER_PREFIX.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(RESERVED_HEADER_PREFIX))
            {
                user.insert(name.to_owned(), value);
            }
        }
    }
    Ok(Message {
        seq: reply.stream_seq,
        subject,
        published_at: DateTime::<Utc>::from_timestamp_nanos(reply.timestamp),
        dedup_id,
        headers: user,
        payload: payload.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_bus::Subject;

    #[test]
    fn ordinary_values_travel_as_they_are() {
        for v in [
            "",
            "webhook",
            "application/json; charset=utf-8",
            "a  b",
            "100%",
            "ünïcödé",
            "=?other?x",
        ] {
            assert!(matches!(encode_value(v), Cow::Borrowed(_)), "{v:?}");
            assert_eq!(decode_value(v), v);
        }
    }

    #[test]
    fn values_nats_would_change_round_trip_encoded() {
        for v in [
            " leading",
            "trailing ",
            "\ttab",
            "nbsp\u{a0}",
            "see Nats-Msg-Id here",
            "Nats-Msg-Id",
            "=?switchyard?",
            "=?switchyard?%zz",
            " ünï %41 ",
            " ",
        ] {
            let wire = encode_value(v);
            assert!(wire.starts_with(ENCODED_MARKER), "{v:?} -> {wire}");
            assert_eq!(wire.trim(), wire, "no whitespace at either end: {wire}");
            assert!(!wire[ENCODED_MARKER.len()..].contains(MSG_ID), "{wire}");
            assert!(!wire.contains(['\r', '\n']));
            assert_eq!(decode_value(&wire), v, "{wire}");
        }
    }

    #[test]
    fn malformed_encodings_are_returned_as_they_are() {
        for wire in [
            "=?switchyard?%",
            "=?switchyard?%4",
            "=?switchyard?%GG",
            "=?switchyard?%FF",
        ] {
            assert_eq!(decode_value(wire), wire);
        }
    }

    #[test]
    fn outgoing_headers_carry_the_dedup_id_first_class() {
        let msg = OutgoingMessage::new(Subject::new("a").unwrap(), b"x".to_vec())
            .with_dedup_id(" id ")
            .with_header("ce-type", "webhook")
            .with_header("empty", "");
        let out = outgoing_headers(&msg).unwrap();
        let id = out.map.get(MSG_ID).unwrap().as_str().to_owned();
        assert_eq!(decode_value(&id), " id ");
        assert_eq!(out.map.get("ce-type").unwrap().as_str(), "webhook");
        let expected = 12
            + (MSG_ID.len() + 4 + id.len())
            + ("ce-type".len() + 4 + "webhook".len())
            + ("empty".len() + 4);
        assert_eq!(out.wire_len, expected);
    }

    #[test]
    fn a_header_name_that_would_hide_the_dedup_id_is_refused() {
        let msg = OutgoingMessage::new(Subject::new("a").unwrap(), b"x".to_vec())
            .with_header("X-Nats-Msg-Id", "v");
        assert!(
            outgoing_headers(&msg).is_ok(),
            "harmless without a dedup id"
        );
        let err = outgoing_headers(&msg.with_dedup_id("1")).err().unwrap();
        assert!(
            matches!(&err, BusError::Invalid { what, .. } if what.contains("X-Nats-Msg-Id")),
            "{err}"
        );
    }

    #[test]
    fn ack_replies_in_both_forms() {
        let v1 = parse_ack_reply("$JS.ACK.BUS.sensor-a.3.42.57.1700000000123456789.9").unwrap();
        assert_eq!(
            v1,
            AckReply {
                stream: "BUS",
                consumer: "sensor-a",
                delivered: 3,
                stream_seq: 42,
                consumer_seq: 57,
                timestamp: 1_700_000_000_123_456_789,
                pending: 9,
            }
        );
        let v2 = parse_ack_reply("$JS.ACK._.ACCHASH.BUS.c.1.2.3.4.5.token").unwrap();
        assert_eq!(
            (
                v2.stream,
                v2.consumer,
                v2.delivered,
                v2.stream_seq,
                v2.consumer_seq,
                v2.timestamp,
                v2.pending
            ),
            ("BUS", "c", 1, 2, 3, 4, 5)
        );
        assert!(parse_ack_reply("$JS.ACK.hub.HASH.BUS.c.1.2.3.4.5").is_some());
        for bad in [
            "",
            "_INBOX.abc",
            "$JS.ACK.BUS.c.1.2.3.4",
            "$JS.ACK.BUS.c.x.2.3.4.5",
            "$JS.ACK.BUS.c.1.2.3.4.5.6.7.8.9",
            "$JS.API.BUS.c.1.2.3.4.5",
        ] {
            assert_eq!(parse_ack_reply(bad), None, "{bad}");
        }
    }

    #[test]
    fn delivered_messages_decode_with_headers_and_dedup_id() {
        let map = SubjectMap::new("sy").unwrap();
        let msg = OutgoingMessage::new(Subject::new("a.b").unwrap(), b"x".to_vec())
            .with_dedup_id("id-1")
            .with_header("ce-id", " 42")
            .with_header("x", "");
        let mut headers = outgoing_headers(&msg).unwrap().map;
        // The server adds its own headers on some paths; they are not the publisher's.
        headers.insert("Nats-Stream", "BUS");
        let reply = parse_ack_reply("$JS.ACK.BUS.c.1.7.7.1700000000000000000.0").unwrap();
        let decoded = decode_message(&map, "sy.a.b", Some(&headers), b"payload", &reply).unwrap();
        assert_eq!(decoded.seq, 7);
        assert_eq!(decoded.subject.as_str(), "a.b");
        assert_eq!(decoded.dedup_id.as_deref(), Some("id-1"));
        assert_eq!(decoded.headers, msg.headers);
        assert_eq!(decoded.payload, b"payload");
        assert_eq!(decoded.published_at.timestamp(), 1_700_000_000);
    }
}
