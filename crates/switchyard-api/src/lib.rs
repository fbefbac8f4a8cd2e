//! Wire types of Switchyard's control API, shared by the server and the CLI.
//!
//! This crate is plain data plus the URL layout: no HTTP library, no I/O. The server turns
//! these types into responses; the CLI sends and reads them. Objects themselves travel as
//! Kubernetes-style JSON (`serde_json::Value`), exactly as they are stored.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod error;
pub mod routes;
pub mod runs;
pub mod types;

pub use error::{ErrorBody, ErrorCode, ErrorType};
pub use routes::{
    API_PREFIX, APPLY_PATH, CONTINUE_PARAM, HEALTHZ_PATH, LIMIT_PARAM, METRICS_PATH, REVEAL_PARAM,
    kind_from_plural, list_path, object_path, object_ref,
};
pub use runs::{
    LogEntry, LogQuery, RunAction, RunActionRequest, SubmitRequest, SubmitResponse,
    run_action_path, run_log_path, workflows_path,
};
pub use types::{
    Action, ApplyRequest, ApplyResponse, ApplyResult, ListMeta, ObjectList, SourceText,
};

/// The value that replaces every Secret value in responses unless the caller asks to reveal it.
pub const REDACTED: &str = "<redacted>";
