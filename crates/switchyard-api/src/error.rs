//! The error body every non-2xx API answer carries: a message for people, a stable `code`
//! for programs, a broad `type`, and the located diagnostics when the input was at fault.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use switchyard_model::Diagnostic;

/// A stable, machine-readable error code. Clients match on these, never on messages.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The request itself is malformed (not JSON, a bad query parameter, an unknown kind).
    InvalidRequest,
    /// A manifest has errors; `diagnostics` says where.
    InvalidManifest,
    NotFound,
    /// The object changed or exists when the request said it must not.
    Conflict,
    /// No bearer token, or one the server does not know.
    Unauthorized,
    /// The token is valid but its roles do not allow this.
    Forbidden,
    PayloadTooLarge,
    MethodNotAllowed,
    /// The server cannot serve this right now (storage busy or failing); retry later.
    Unavailable,
    Internal,
    /// A code this client does not know (a newer server).
    Other(String),
}

impl ErrorCode {
    pub fn as_str(&self) -> &str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidManifest => "invalid_manifest",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
            ErrorCode::Other(s) => s,
        }
    }

    pub fn parse(s: &str) -> ErrorCode {
        match s {
            "invalid_request" => ErrorCode::InvalidRequest,
            "invalid_manifest" => ErrorCode::InvalidManifest,
            "not_found" => ErrorCode::NotFound,
            "conflict" => ErrorCode::Conflict,
            "unauthorized" => ErrorCode::Unauthorized,
            "forbidden" => ErrorCode::Forbidden,
            "payload_too_large" => ErrorCode::PayloadTooLarge,
            "method_not_allowed" => ErrorCode::MethodNotAllowed,
            "unavailable" => ErrorCode::Unavailable,
            "internal" => ErrorCode::Internal,
            other => ErrorCode::Other(other.to_owned()),
        }
    }

    /// The broad class of the error.
    pub fn error_type(&self) -> ErrorType {
        match self {
            ErrorCode::InvalidRequest
            | ErrorCode::InvalidManifest
            | ErrorCode::NotFound
            | ErrorCode::Conflict
            | ErrorCode::PayloadTooLarge
            | ErrorCode::MethodNotAllowed => ErrorType::InvalidRequest,
            ErrorCode::Unauthorized | ErrorCode::Forbidden => ErrorType::Auth,
            ErrorCode::Unavailable => ErrorType::System,
            ErrorCode::Internal | ErrorCode::Other(_) => ErrorType::Internal,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(ErrorCode::parse(&String::deserialize(d)?))
    }
}

/// Who is at fault, broadly: the request, its credentials, the system (retry), or a bug.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorType {
    InvalidRequest,
    Auth,
    System,
    Internal,
    #[serde(other)]
    Unknown,
}

/// The body of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub message: String,
    pub code: ErrorCode,
    #[serde(rename = "type")]
    pub error_type: ErrorType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diagnostics: Vec<Diagnostic>,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorBody {
            message: message.into(),
            error_type: code.error_type(),
            code,
            link: None,
            diagnostics: Vec::new(),
        }
    }

    pub fn with_diagnostics(mut self, diagnostics: Vec<Diagnostic>) -> Self {
        self.diagnostics = diagnostics;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn codes_round_trip_and_classify() {
        let cases = [
            (
                ErrorCode::InvalidRequest,
                "invalid_request",
                ErrorType::InvalidRequest,
            ),
            (
                ErrorCode::InvalidManifest,
                "invalid_manifest",
                ErrorType::InvalidRequest,
            ),
            (ErrorCode::NotFound, "not_found", ErrorType::InvalidRequest),
            (ErrorCode::Conflict, "conflict", ErrorType::InvalidRequest),
            (ErrorCode::Unauthorized, "unauthorized", ErrorType::Auth),
            (ErrorCode::Forbidden, "forbidden", ErrorType::Auth),
            (
                ErrorCode::PayloadTooLarge,
                "payload_too_large",
                ErrorType::InvalidRequest,
            ),
            (
                ErrorCode::MethodNotAllowed,
                "method_not_allowed",
                ErrorType::InvalidRequest,
            ),
            (ErrorCode::Unavailable, "unavailable", ErrorType::System),
            (ErrorCode::Internal, "internal", ErrorType::Internal),
            (
                ErrorCode::Other("teapot".into()),
                "teapot",
                ErrorType::Internal,
            ),
        ];
        for (code, wire, ty) in cases {
            assert_eq!(code.as_str(), wire);
            assert_eq!(ErrorCode::parse(wire), code);
            assert_eq!(code.error_type(), ty, "{wire}");
        }
    }

    #[test]
    fn body_wire_shape() {
        let body = ErrorBody::new(ErrorCode::InvalidManifest, "1 error; nothing was applied")
            .with_diagnostics(vec![
                Diagnostic::error("spec", "bad").at(3, 5).in_file("a.yaml"),
            ]);
        let wire = json!({
            "message": "1 error; nothing was applied",
            "code": "invalid_manifest",
            "type": "invalid_request",
            "diagnostics": [{"severity": "error", "message": "bad", "file": "a.yaml", "line": 3, "column": 5, "path": "spec"}]
        });
        assert_eq!(serde_json::to_value(&body).unwrap(), wire);
        assert_eq!(serde_json::from_value::<ErrorBody>(wire).unwrap(), body);

        let newer = json!({"message": "m", "code": "quota_exceeded", "type": "billing"});
        let got: ErrorBody = serde_json::from_value(newer).unwrap();
        assert_eq!(got.code, ErrorCode::Other("quota_exceeded".into()));
        assert_eq!(got.error_type, ErrorType::Unknown);
    }
}
