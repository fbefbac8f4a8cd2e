//! Validation errors in the shape of FastAPI's 422 answers (Pydantic v2 wording):
//! `{"detail": [{"type", "loc", "msg", "input", "ctx"?}]}`, with `loc` starting at `"body"`.
//!
//! Clients switch on `type` and point at `loc`; `msg` is for people. Both are fixed functions of the input, so the
//! same body always gets the same answer.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// One step of an error's location: an object key or a list position.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LocPart {
    Str(String),
    Index(usize),
}

impl From<&str> for LocPart {
    fn from(s: &str) -> Self {
        LocPart::Str(s.to_owned())
    }
}

impl From<usize> for LocPart {
    fn from(i: usize) -> Self {
        LocPart::Index(i)
    }
}

/// One entry of a 422 answer's `detail`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldError {
    /// Pydantic's error type: `missing`, `string_type`, `enum`, `string_pattern_mismatch`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// Where: `["body", "tags", 0]`.
    pub loc: Vec<LocPart>,
    pub msg: String,
    /// The value that was refused (for `missing`, the object it is missing from).
    pub input: Value,
    /// The numbers and names the message was built from (`{"min_length": 2}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ctx: Option<Value>,
}

impl FieldError {
    pub(crate) fn new(kind: &str, loc: &[LocPart], msg: impl Into<String>, input: &Value) -> Self {
        FieldError {
            kind: kind.to_owned(),
            loc: loc.to_vec(),
            msg: msg.into(),
            input: input.clone(),
            ctx: None,
        }
    }

    pub(crate) fn with_ctx(mut self, ctx: Value) -> Self {
        self.ctx = Some(ctx);
        self
    }

    /// The location as one string, `body.tags[0]`, for people reading a terminal.
    pub fn loc_string(&self) -> String {
        let mut out = String::new();
        for part in &self.loc {
            match part {
                LocPart::Str(s) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(s);
                }
                LocPart::Index(i) => out.push_str(&format!("[{i}]")),
            }
        }
        out
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.loc_string(), self.msg)
    }
}

/// The body of a 422 answer: `{"detail": [...]}`.
pub fn detail(errors: &[FieldError]) -> Value {
    json!({ "detail": errors })
}

/// Parses a request body as JSON, as FastAPI does before validating it.
///
/// An empty body is `null`, which validation reports as the body `missing` (FastAPI's answer to a request with
/// no body). Text that is not JSON is a `json_invalid` error located at the byte offset where parsing failed.
// The error is returned whole, as the 422 entry it becomes; it occurs at most once per request.
#[allow(clippy::result_large_err)]
pub fn parse_body(bytes: &[u8]) -> Result<Value, FieldError> {
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(bytes).map_err(|e| {
        let (offset, reason) = decode_failure(bytes, &e);
        FieldError {
            kind: "json_invalid".to_owned(),
            loc: vec![LocPart::Str("body".to_owned()), LocPart::Index(offset)],
            msg: "JSON decode error".to_owned(),
            // FastAPI sends an empty object here rather than echoing bytes that may not even be text.
            input: json!({}),
            ctx: Some(json!({ "error": reason })),
        }
    })
}

/// Where and why parsing failed, as Python's `json` module (which FastAPI uses) would say it: the 0-based byte
/// offset of the offending token (the end of the input when it ended too early), and its reason where one maps
/// cleanly, otherwise serde_json's reason without its line and column.
fn decode_failure(bytes: &[u8], e: &serde_json::Error) -> (usize, String) {
    let text = e.to_string();
    let bare = match text.rfind(" at line ") {
        Some(i) => &text[..i],
        None => text.as_str(),
    };
    let last = bytes
        .iter()
        .rev()
        .find(|b| !b.is_ascii_whitespace())
        .copied();
    if e.classify() == serde_json::error::Category::Eof {
        let reason = match bare {
            "EOF while parsing an object" if matches!(last, Some(b'{' | b',')) => {
                "Expecting property name enclosed in double quotes"
            }
            "EOF while parsing a list" if matches!(last, Some(b'[' | b',')) => "Expecting value",
            "EOF while parsing an object" | "EOF while parsing a list" => "Expecting ',' delimiter",
            "EOF while parsing a string" => "Unterminated string starting at",
            _ => "Expecting value",
        };
        return (bytes.len(), reason.to_owned());
    }
    // serde_json points at the byte after the one it stopped on.
    let mut offset = byte_offset(bytes, e.line(), e.column());
    let reason = match bare {
        "expected value" => "Expecting value",
        "expected ident" => {
            // A misspelt `true`/`false`/`null`: Python points at the word's start.
            while offset > 0 && bytes[offset - 1].is_ascii_alphabetic() {
                offset -= 1;
            }
            "Expecting value"
        }
        "key must be a string" => "Expecting property name enclosed in double quotes",
        "trailing comma" if bytes.get(offset) == Some(&b'}') => {
            "Expecting property name enclosed in double quotes"
        }
        "trailing comma" => "Expecting value",
        "trailing characters" => "Extra data",
        "expected `,` or `}`" | "expected `,` or `]`" => "Expecting ',' delimiter",
        "expected `:`" => "Expecting ':' delimiter",
        other => other,
    };
    (offset, reason.to_owned())
}

/// The 0-based byte offset of serde_json's 1-based (line, column) position.
fn byte_offset(bytes: &[u8], line: usize, column: usize) -> usize {
    let mut start = 0;
    if line > 1 {
        let mut seen = 1;
        for (i, b) in bytes.iter().enumerate() {
            if *b == b'\n' {
                seen += 1;
                if seen == line {
                    start = i + 1;
                    break;
                }
            }
        }
    }
    (start + column.saturating_sub(1)).min(bytes.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_shape_matches_fastapi() {
        let e = FieldError::new(
            "string_too_short",
            &["body".into(), "tags".into(), 0.into()],
            "String should have at least 2 characters",
            &json!("a"),
        )
        .with_ctx(json!({"min_length": 2}));
        let missing = FieldError::new(
            "missing",
            &["body".into(), "region".into()],
            "Field required",
            &json!({}),
        );
        assert_eq!(
            detail(&[e.clone(), missing]),
            json!({"detail": [
                {"type": "string_too_short", "loc": ["body", "tags", 0], "msg": "String should have at least 2 characters", "input": "a", "ctx": {"min_length": 2}},
                {"type": "missing", "loc": ["body", "region"], "msg": "Field required", "input": {}}
            ]})
        );
        // Serialized keys keep FastAPI's order.
        let text = serde_json::to_string(&e).unwrap();
        assert!(
            text.starts_with(r#"{"type":"string_too_short","loc":["body","tags",0],"msg":"#),
            "{text}"
        );
        let back: FieldError = serde_json::from_str(&text).unwrap();
        assert_eq!(back, e);
        assert_eq!(
            e.to_string(),
            "body.tags[0]: String should have at least 2 characters"
        );
    }

    #[test]
    fn body_parsing() {
        assert_eq!(parse_body(b"").unwrap(), Value::Null);
        assert_eq!(parse_body(br#"{"a": 1}"#).unwrap(), json!({"a": 1}));
        // (body, offset Python's json module reports, its message)
        let cases: &[(&[u8], usize, &str)] = &[
            (b"{", 1, "Expecting property name enclosed in double quotes"),
            (b"{\"a\":}", 5, "Expecting value"),
            (b"{\"a\": 1} x", 9, "Extra data"),
            (b"  ", 2, "Expecting value"),
            (b"nope", 0, "Expecting value"),
            (
                b"{\n  \"a\": 1,\n  \"b\" 2\n}",
                18,
                "Expecting ':' delimiter",
            ),
            (b"[1 2]", 3, "Expecting ',' delimiter"),
            (b"{\"a\":", 5, "Expecting value"),
            (b"[1,", 3, "Expecting value"),
            (b"{\"a\":1", 6, "Expecting ',' delimiter"),
            (b"[tru]", 1, "Expecting value"),
            (
                b"{\"a\" : 1,}",
                9,
                "Expecting property name enclosed in double quotes",
            ),
            (b"[1,]", 3, "Expecting value"),
            (b"\n\n", 2, "Expecting value"),
        ];
        for (body, offset, reason) in cases {
            let e = parse_body(body).unwrap_err();
            let shown = String::from_utf8_lossy(body);
            assert_eq!(e.kind, "json_invalid", "{shown}");
            assert_eq!(e.msg, "JSON decode error", "{shown}");
            assert_eq!(
                e.loc,
                vec![LocPart::from("body"), LocPart::Index(*offset)],
                "{shown}"
            );
            assert_eq!(e.input, json!({}), "{shown}");
            assert_eq!(e.ctx, Some(json!({"error": reason})), "{shown}");
        }
    }
}
