//! How NATS and JetStream failures map onto the port's error classes.
//!
//! The rule: what a retry can cure (the server unreachable or slow, JetStream starting up or
//! without a leader, storage full or failing) is [`BusError::Unavailable`], so the caller
//! answers 503 with `Retry-After`. What the server refuses because of the request or the
//! configuration (a declaration it does not accept, overlapping subjects, bad credentials) is
//! [`BusError::Invalid`]. An answer the bus cannot make sense of is [`BusError::Internal`].
//! Each message says what the bus was doing.

use async_nats::jetstream::{self, ErrorCode};
use std::time::Duration;
use switchyard_bus::BusError;

/// JetStream's "duplicate message id is in process" (nats-server 2.11 and later, clustered):
/// the original publish of this id is not stored yet.
pub(crate) const DUPLICATE_IN_PROCESS: ErrorCode = ErrorCode(10158);

/// Error codes that say the server cannot serve now rather than that the request is wrong.
const RETRYABLE_CODES: [ErrorCode; 9] = [
    ErrorCode::CLUSTER_NOT_AVAILABLE,
    ErrorCode::CLUSTER_NOT_ACTIVE,
    ErrorCode::CLUSTER_NOT_ASSIGNED,
    ErrorCode::CLUSTER_NOT_LEADER,
    ErrorCode::INSUFFICIENT_RESOURCES,
    ErrorCode::STREAM_STORE_FAILED,
    ErrorCode::CONSUMER_STORE_FAILED,
    ErrorCode::JETSTREAM_NOT_ENABLED,
    ErrorCode::JETSTREAM_NOT_ENABLED_FOR_ACCOUNT,
];

/// Error codes of refusals the server answers with a 5xx status although retrying cannot
/// help: the declaration or configuration itself is not accepted.
const REFUSAL_CODES: [ErrorCode; 8] = [
    ErrorCode::CONSUMER_CREATE,
    ErrorCode::STREAM_UPDATE,
    ErrorCode::STREAM_INVALID_CONFIG,
    ErrorCode::STREAM_NAME_EXIST,
    ErrorCode(10049), // stream create failed: the configuration
    ErrorCode(10053), // stream limits exceed the account's
    ErrorCode(10074), // replicas > 1 without a cluster
    ErrorCode(10010), // clustering required
];

/// Maps an error answer of the JetStream API; `doing` completes "while ...".
pub(crate) fn api_error(err: &jetstream::Error, doing: &str) -> BusError {
    let code = err.error_code();
    if REFUSAL_CODES.contains(&code) {
        return BusError::invalid(
            "request to JetStream",
            format!("the server refused it while {doing}: {err}"),
        );
    }
    if RETRYABLE_CODES.contains(&code) || err.code() >= 500 {
        return BusError::Unavailable {
            reason: format!("JetStream could not serve while {doing}: {err}"),
        };
    }
    if code == ErrorCode::STREAM_NOT_FOUND {
        return BusError::Unavailable {
            reason: format!(
                "the bus stream does not exist any more (deleted outside the bus?) while {doing}; \
                 reconnecting the bus creates it again, empty: {err}"
            ),
        };
    }
    if code == ErrorCode::STREAM_SUBJECT_OVERLAP {
        return BusError::invalid(
            "JetStream configuration",
            format!(
                "another stream on this NATS account already captures subjects under the prefix; \
                 give each platform its own subject prefix ({doing}: {err})"
            ),
        );
    }
    if err.code() == 400 {
        return BusError::invalid(
            "request to JetStream",
            format!("the server refused it while {doing}: {err}"),
        );
    }
    BusError::Internal {
        reason: format!("unexpected JetStream answer while {doing}: {err}"),
    }
}

/// Maps a failed JetStream API request (no answer at all).
pub(crate) fn request_error(
    err: &jetstream::context::RequestError,
    doing: &str,
    timeout: Duration,
) -> BusError {
    use jetstream::context::RequestErrorKind;
    match err.kind() {
        RequestErrorKind::TimedOut => BusError::Unavailable {
            reason: format!("JetStream did not answer within {timeout:?} while {doing}"),
        },
        RequestErrorKind::NoResponders => BusError::Unavailable {
            reason: format!(
                "JetStream is not enabled or not ready on the NATS server (no responders) while \
                 {doing}"
            ),
        },
        RequestErrorKind::InvalidSubject => BusError::Internal {
            reason: format!("the bus built an invalid JetStream API subject while {doing}: {err}"),
        },
        RequestErrorKind::Other => {
            if source_is::<serde_json::Error>(err) {
                BusError::Internal {
                    reason: format!("JetStream answered something unexpected while {doing}: {err}"),
                }
            } else {
                BusError::Unavailable {
                    reason: format!("the request to JetStream failed while {doing}: {err}"),
                }
            }
        }
    }
}

/// Maps a failed core NATS request (publishes, acks).
pub(crate) fn core_request_error(
    err: &async_nats::RequestError,
    doing: &str,
    timeout: Duration,
) -> BusError {
    use async_nats::RequestErrorKind;
    match err.kind() {
        RequestErrorKind::TimedOut => BusError::Unavailable {
            reason: format!("NATS did not answer within {timeout:?} while {doing}"),
        },
        RequestErrorKind::NoResponders => BusError::Unavailable {
            reason: format!("nothing on the NATS server answered (no responders) while {doing}"),
        },
        RequestErrorKind::InvalidSubject | RequestErrorKind::MaxPayloadExceeded => {
            BusError::Internal {
                reason: format!("NATS refused the request while {doing}: {err}"),
            }
        }
        RequestErrorKind::Other => BusError::Unavailable {
            reason: format!("the request to NATS failed while {doing}: {err}"),
        },
    }
}

/// Maps a failed connection attempt.
pub(crate) fn connect_error(err: &async_nats::ConnectError, servers: &str) -> BusError {
    use async_nats::ConnectErrorKind;
    match err.kind() {
        ConnectErrorKind::ServerParse => BusError::invalid(
            "JetStream configuration",
            format!("a NATS server URL cannot be used ({servers}): {err}"),
        ),
        ConnectErrorKind::Authentication | ConnectErrorKind::AuthorizationViolation => {
            BusError::invalid(
                "NATS credentials",
                format!("the server at {servers} refused them: {err}"),
            )
        }
        ConnectErrorKind::Tls => BusError::invalid(
            "NATS TLS settings",
            format!("the TLS handshake with {servers} failed: {err}"),
        ),
        ConnectErrorKind::Dns
        | ConnectErrorKind::TimedOut
        | ConnectErrorKind::Io
        | ConnectErrorKind::MaxReconnects => BusError::Unavailable {
            reason: format!("cannot connect to NATS at {servers}: {err}"),
        },
    }
}

fn source_is<E: std::error::Error + 'static>(err: &dyn std::error::Error) -> bool {
    let mut source = err.source();
    while let Some(s) = source {
        if s.is::<E>() {
            return true;
        }
        source = s.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: u64, status: u16, description: &str) -> jetstream::Error {
        serde_json::from_value(serde_json::json!({
            "code": status,
            "err_code": code,
            "description": description,
        }))
        .unwrap()
    }

    fn class(e: &BusError) -> &'static str {
        match e {
            BusError::Invalid { .. } => "invalid",
            BusError::Unavailable { .. } => "unavailable",
            BusError::Internal { .. } => "internal",
            _ => "other",
        }
    }

    #[test]
    fn api_error_classes() {
        for (code, status, want) in [
            (10008, 503, "unavailable"),
            (10023, 503, "unavailable"),
            (10077, 500, "unavailable"),
            (10076, 503, "unavailable"),
            (10059, 404, "unavailable"),
            (10065, 400, "invalid"),
            (10012, 500, "invalid"),
            (10069, 500, "invalid"),
            (10052, 500, "invalid"),
            (10054, 400, "invalid"),
            (10014, 404, "internal"),
            (10999, 409, "internal"),
        ] {
            let err = api_error(&api(code, status, "what the server said"), "testing");
            assert_eq!(class(&err), want, "{code}");
            assert!(err.to_string().contains("what the server said"), "{err}");
            assert!(err.to_string().contains("testing"), "{err}");
            assert_eq!(err.is_retryable(), want == "unavailable");
        }
    }

    #[test]
    fn request_error_classes() {
        use jetstream::context::{RequestError, RequestErrorKind};
        let t = Duration::from_secs(3);
        let timed_out = request_error(&RequestError::new(RequestErrorKind::TimedOut), "x", t);
        assert!(timed_out.is_retryable());
        assert!(timed_out.to_string().contains("within 3s"), "{timed_out}");
        assert!(
            request_error(&RequestError::new(RequestErrorKind::NoResponders), "x", t)
                .is_retryable()
        );
        let parse = serde_json::from_str::<u8>("x").unwrap_err();
        let garbled = RequestError::with_source(RequestErrorKind::Other, parse);
        assert_eq!(class(&request_error(&garbled, "x", t)), "internal");
        let io = std::io::Error::other("broken pipe");
        let broken = RequestError::with_source(RequestErrorKind::Other, io);
        assert!(request_error(&broken, "x", t).is_retryable());
    }

    #[test]
    fn connect_error_classes() {
        use async_nats::{ConnectError, ConnectErrorKind};
        for (kind, want) in [
            (ConnectErrorKind::Io, "unavailable"),
            (ConnectErrorKind::TimedOut, "unavailable"),
            (ConnectErrorKind::Dns, "unavailable"),
            (ConnectErrorKind::AuthorizationViolation, "invalid"),
            (ConnectErrorKind::ServerParse, "invalid"),
        ] {
            let err = connect_error(&ConnectError::new(kind), "nats://h:4222");
            assert_eq!(class(&err), want, "{kind:?}");
            assert!(err.to_string().contains("nats://h:4222"), "{err}");
        }
    }
}
