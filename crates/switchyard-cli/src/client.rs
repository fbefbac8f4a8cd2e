//! The HTTP client for the control API: sends requests with the bearer token and turns every
//! failure into a [`CliError`] that says what to do about it.

use std::error::Error as _;
use std::io;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use switchyard_api::{APPLY_PATH, ApplyRequest, ApplyResponse, ErrorBody, ErrorCode};

use crate::error::CliError;

/// Where the token came from, for messages when the server refuses it.
#[derive(Debug, Clone)]
pub enum TokenSource {
    /// `--token` or `SWITCHYARD_TOKEN`.
    Given,
    /// The admin token file in the data directory.
    File(std::path::PathBuf),
    /// None found; the message names the file that was looked for, if any.
    Missing(Option<std::path::PathBuf>),
}

pub struct Client {
    http: reqwest::Client,
    server: String,
    token: Option<String>,
    token_source: TokenSource,
}

impl Client {
    /// A client for `server` (an `http://` URL).
    pub fn new(
        server: &str,
        token: Option<String>,
        token_source: TokenSource,
    ) -> Result<Self, CliError> {
        let server = server.trim_end_matches('/').to_owned();
        if server.starts_with("https://") {
            return Err(CliError::Usage(format!(
                "--server {server}: this build of the CLI speaks plain http:// only; \
                 reach a TLS server through a local proxy"
            )));
        }
        if !server.starts_with("http://") || server.len() <= "http://".len() {
            return Err(CliError::Usage(format!(
                "--server {server}: expected a URL like http://127.0.0.1:8000"
            )));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(300))
            .build()
            .map_err(|e| CliError::Internal(format!("cannot create an HTTP client: {e}")))?;
        Ok(Client {
            http,
            server,
            token,
            token_source,
        })
    }

    pub async fn apply(&self, request: &ApplyRequest) -> Result<ApplyResponse, CliError> {
        self.send(Method::POST, APPLY_PATH, &[], Some(request))
            .await
    }

    /// `GET path`, with `?reveal=true` when asked.
    pub async fn get<T: DeserializeOwned>(&self, path: &str, reveal: bool) -> Result<T, CliError> {
        let query: &[(&str, &str)] = if reveal {
            &[(switchyard_api::REVEAL_PARAM, "true")]
        } else {
            &[]
        };
        self.send::<(), T>(Method::GET, path, query, None).await
    }

    pub async fn delete<T: DeserializeOwned>(&self, path: &str) -> Result<T, CliError> {
        self.send::<(), T>(Method::DELETE, path, &[], None).await
    }

    async fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&B>,
    ) -> Result<T, CliError> {
        let mut url = format!("{}{path}", self.server);
        for (i, (key, value)) in query.iter().enumerate() {
            // Keys and values here are fixed ASCII words; nothing needs escaping.
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(key);
            url.push('=');
            url.push_str(value);
        }
        let mut request = self.http.request(method, &url);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| self.transport_error(&e))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.transport_error(&e))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| {
                CliError::Internal(format!(
                    "the server at {} sent an answer this CLI cannot read ({e}); are the CLI and server the same version?",
                    self.server
                ))
            });
        }
        let body = serde_json::from_slice::<ErrorBody>(&bytes).unwrap_or_else(|_| {
            let text = String::from_utf8_lossy(&bytes);
            let code = if status.is_server_error() {
                ErrorCode::Internal
            } else {
                ErrorCode::InvalidRequest
            };
            ErrorBody::new(code, format!("{status}: {}", text.trim()))
        });
        Err(self.refine(status, body))
    }

    /// Adds advice to errors whose fix is on the caller's side.
    fn refine(&self, status: StatusCode, mut body: ErrorBody) -> CliError {
        if status == StatusCode::UNAUTHORIZED {
            let advice = match &self.token_source {
                TokenSource::Given => {
                    "the token from --token or SWITCHYARD_TOKEN was refused; check it".to_owned()
                }
                TokenSource::File(path) => format!(
                    "the token in {} was refused; it may belong to another server (set --token or SWITCHYARD_TOKEN)",
                    path.display()
                ),
                TokenSource::Missing(Some(path)) => format!(
                    "no token: pass --token or set SWITCHYARD_TOKEN (no token file at {})",
                    path.display()
                ),
                TokenSource::Missing(None) => {
                    "no token: pass --token or set SWITCHYARD_TOKEN".to_owned()
                }
            };
            return CliError::Rejected(format!(
                "{} (server {}): {advice}",
                body.message, self.server
            ));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            body.message = format!("the server is temporarily unavailable: {}", body.message);
        }
        CliError::Server {
            status: status.as_u16(),
            body,
        }
    }

    fn transport_error(&self, err: &reqwest::Error) -> CliError {
        let reason = describe_transport_error(err);
        if err.is_connect() || err.is_timeout() {
            CliError::Unreachable {
                server: self.server.clone(),
                reason,
            }
        } else {
            CliError::Internal(format!(
                "the request to the Switchyard server at {} failed: {reason}",
                self.server
            ))
        }
    }
}

/// The most useful words for a transport failure: the I/O error at the bottom of the chain
/// (`connection refused`), else the innermost message.
fn describe_transport_error(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        return "timed out".to_owned();
    }
    let mut innermost = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        if let Some(io_err) = e.downcast_ref::<io::Error>() {
            return describe_io(io_err);
        }
        innermost = e.to_string();
        source = e.source();
    }
    innermost
}

fn describe_io(err: &io::Error) -> String {
    match err.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
        io::ErrorKind::ConnectionReset => "connection reset".to_owned(),
        io::ErrorKind::TimedOut => "timed out".to_owned(),
        io::ErrorKind::HostUnreachable => "host unreachable".to_owned(),
        io::ErrorKind::NetworkUnreachable => "network unreachable".to_owned(),
        _ => err.to_string(),
    }
}
