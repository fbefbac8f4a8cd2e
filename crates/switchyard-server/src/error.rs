//! Errors: [`Error`] for starting the server, and [`ApiError`], the HTTP answer every handler
//! failure becomes (a status, an [`ErrorBody`], and `Retry-After` when retrying helps).

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use switchyard_api::{ErrorBody, ErrorCode};
use switchyard_model::Diagnostic;
use switchyard_store::StoreError;

/// Why the server could not start (or stopped).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot listen on {addr}: {reason}")]
    Listen { addr: SocketAddr, reason: String },
    #[error("cannot create the data directory {}: {source}", path.display())]
    DataDir { path: PathBuf, source: io::Error },
    #[error("cannot load or create the secret-sealing key in {}: {source}", path.display())]
    SealingKey { path: PathBuf, source: io::Error },
    #[error("cannot open the database {}: {source}", path.display())]
    OpenStore { path: PathBuf, source: StoreError },
    #[error("cannot write the admin token to {}: {source}", path.display())]
    TokenFile { path: PathBuf, source: io::Error },
    #[error("{message}")]
    AdminToken { message: String },
    #[error("the store failed: {0}")]
    Store(#[from] StoreError),
    #[error("cannot open the event bus in {}: {reason}", path.display())]
    Bus { path: PathBuf, reason: String },
    #[error("cannot open the PostgreSQL store (schema {schema}): {source}")]
    Postgres { schema: String, source: StoreError },
    #[error("cannot open the JetStream event bus (stream {stream}): {reason}")]
    JetStream { stream: String, reason: String },
    #[error("cannot start the workflow controller: {0}")]
    Controller(String),
    #[error("the server failed: {0}")]
    Serve(io::Error),
    #[error("{0}")]
    Platform(String),
    #[error("{0}")]
    Lease(String),
    /// `--role` does not fit the configuration.
    #[error("{0}")]
    Roles(String),
}

impl Error {
    /// The error for a failed `bind`, with advice for the common case of a taken port.
    pub fn listen(addr: SocketAddr, err: &io::Error) -> Self {
        let reason = match err.kind() {
            io::ErrorKind::AddrInUse => "address already in use; is another `switchyard up` running? \
                 choose another with --listen or SWITCHYARD_LISTEN"
                .to_owned(),
            io::ErrorKind::AddrNotAvailable => {
                "address not available on this machine; choose another with --listen or SWITCHYARD_LISTEN"
                    .to_owned()
            }
            io::ErrorKind::PermissionDenied => {
                "permission denied (ports below 1024 need privileges); choose another with --listen or SWITCHYARD_LISTEN"
                    .to_owned()
            }
            _ => err.to_string(),
        };
        Error::Listen { addr, reason }
    }
}

/// A failed request, ready to send: the status, the body, and whether to say `Retry-After`.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
    /// Seconds, sent as `Retry-After` (503 answers).
    pub retry_after: Option<u32>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            body: ErrorBody::new(code, message),
            retry_after: None,
        }
    }

    /// 503 with `Retry-After: 1`: the caller should retry.
    pub fn unavailable(message: impl Into<String>) -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Unavailable,
            message,
        );
        e.retry_after = Some(1);
        e
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            message,
        )
    }

    /// 422 with every diagnostic (errors and warnings) about the manifests.
    pub fn invalid_manifest(diagnostics: Vec<Diagnostic>) -> Self {
        let errors = diagnostics.iter().filter(|d| d.is_error()).count();
        let noun = if errors == 1 { "error" } else { "errors" };
        let mut e = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidManifest,
            format!("{errors} {noun} in the manifests; nothing was applied"),
        );
        e.body.diagnostics = diagnostics;
        e
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        let message = err.to_string();
        match err {
            StoreError::Conflict { .. } | StoreError::AlreadyExists { .. } => {
                ApiError::new(StatusCode::CONFLICT, ErrorCode::Conflict, message)
            }
            StoreError::NotFound { .. } => ApiError::not_found(message),
            StoreError::Invalid { .. } => ApiError::bad_request(message),
            StoreError::Unavailable { .. } | StoreError::Fenced { .. } => {
                tracing::warn!(error = %message, "store unavailable");
                let mut e = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::Unavailable,
                    message,
                );
                e.retry_after = Some(1);
                e
            }
            StoreError::Corrupt { .. } | StoreError::Internal { .. } => {
                tracing::error!(error = %message, "store failure");
                ApiError::internal(message)
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"switchyard\""),
            );
        }
        response
    }
}
