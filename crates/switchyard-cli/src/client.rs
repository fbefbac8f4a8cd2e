//! The HTTP client for the control API: sends requests with the bearer token and turns every
//! failure into a [`CliError`] that says what to do about it.

use std::error::Error as _;
use std::io;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use switchyard_api::{
    APPLY_PATH, ApplyRequest, ApplyResponse, ErrorBody, ErrorCode, LogQuery, RunAction,
    RunActionRequest, SubmitRequest, SubmitResponse, run_action_path, run_log_path, workflows_path,
};

use crate::error::CliError;
use crate::logs::LineSplitter;

/// How long one request may take, except log streams (which stay open while a run runs).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);
/// Objects per page when the CLI reads a whole list ([`Client::list`]).
pub const LIST_CHUNK: usize = 500;

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

    /// `GET` of a whole list, read in pages of `chunk` objects (0: in one answer), so neither
    /// side holds a large list's every object at once while reading it.
    pub async fn list(
        &self,
        path: &str,
        reveal: bool,
        chunk: usize,
    ) -> Result<switchyard_api::ObjectList, CliError> {
        let limit = chunk.to_string();
        let mut token: Option<String> = None;
        let mut whole: Option<switchyard_api::ObjectList> = None;
        loop {
            let mut query: Vec<(&str, &str)> = Vec::new();
            if reveal {
                query.push((switchyard_api::REVEAL_PARAM, "true"));
            }
            if chunk > 0 {
                query.push((switchyard_api::LIMIT_PARAM, &limit));
            }
            if let Some(t) = &token {
                query.push((switchyard_api::CONTINUE_PARAM, t));
            }
            let mut page: switchyard_api::ObjectList =
                self.send::<(), _>(Method::GET, path, &query, None).await?;
            token = page.metadata.continue_token.take();
            match &mut whole {
                None => whole = Some(page),
                Some(w) => w.items.append(&mut page.items),
            }
            if token.is_none() {
                break;
            }
        }
        Ok(whole.unwrap_or_else(|| switchyard_api::ObjectList::new(Vec::new())))
    }

    /// `GET path?query`.
    pub async fn get_with<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, CliError> {
        self.send::<(), T>(Method::GET, path, query, None).await
    }

    pub async fn delete<T: DeserializeOwned>(&self, path: &str) -> Result<T, CliError> {
        self.send::<(), T>(Method::DELETE, path, &[], None).await
    }

    /// `POST .../namespaces/{ns}/workflows`: submit runs.
    pub async fn submit(
        &self,
        namespace: &str,
        request: &SubmitRequest,
    ) -> Result<SubmitResponse, CliError> {
        self.send(Method::POST, &workflows_path(namespace), &[], Some(request))
            .await
    }

    /// `PUT .../workflows/{name}/{action}`: act on a run; the answer is the `Workflow` (for
    /// `resubmit`, the new one).
    pub async fn run_action(
        &self,
        namespace: &str,
        name: &str,
        action: RunAction,
        request: &RunActionRequest,
    ) -> Result<Value, CliError> {
        self.send(
            Method::PUT,
            &run_action_path(namespace, name, action),
            &[],
            Some(request),
        )
        .await
    }

    /// `GET .../workflows/{name}/log`: the run's log as a stream of NDJSON lines. With
    /// `follow`, the server keeps it open until the selected steps end, so no time limit
    /// applies.
    pub async fn run_logs(
        &self,
        namespace: &str,
        name: &str,
        query: &LogQuery,
    ) -> Result<LineStream, CliError> {
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        if let Some(step) = &query.step {
            pairs.push(("step", step));
        }
        if query.follow {
            pairs.push(("follow", "true"));
        }
        let response = self
            .request(Method::GET, &run_log_path(namespace, name), &pairs)
            .send()
            .await
            .map_err(|e| self.transport_error(&e))?;
        let status = response.status();
        if !status.is_success() {
            let bytes = response
                .bytes()
                .await
                .map_err(|e| self.transport_error(&e))?;
            return Err(self.error_answer(status, &bytes));
        }
        Ok(LineStream {
            response,
            splitter: LineSplitter::default(),
            ready: std::collections::VecDeque::new(),
            ended: false,
            server: self.server.clone(),
        })
    }

    /// A request to `path` with the query (percent-encoded) and the bearer token.
    fn request(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
    ) -> reqwest::RequestBuilder {
        let mut url = format!("{}{path}", self.server);
        for (i, (key, value)) in query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(&encode_query(key));
            url.push('=');
            url.push_str(&encode_query(value));
        }
        let mut request = self.http.request(method, &url);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        request
    }

    async fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&B>,
    ) -> Result<T, CliError> {
        let mut request = self.request(method, path, query).timeout(REQUEST_TIMEOUT);
        if let Some(body) = body {
            request = request.json(body);
        }
        self.answer(request).await
    }

    /// `POST path` with a JSON body and extra headers; the answer as JSON.
    pub async fn post_value(
        &self,
        path: &str,
        body: &Value,
        headers: &[(&str, &str)],
    ) -> Result<Value, CliError> {
        let mut request = self
            .request(Method::POST, path, &[])
            .timeout(REQUEST_TIMEOUT)
            .json(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.answer(request).await
    }

    /// Sends a request and reads its JSON answer, or the error it stands for.
    async fn answer<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, CliError> {
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
        Err(self.error_answer(status, &bytes))
    }

    /// The error for a non-2xx answer: its [`ErrorBody`], or its text when it has none.
    fn error_answer(&self, status: StatusCode, bytes: &[u8]) -> CliError {
        // A 422 of the platform API lists every bad field, FastAPI style.
        if let Ok(value) = serde_json::from_slice::<Value>(bytes)
            && let Some(detail) = value["detail"].as_array()
        {
            return CliError::Rejected(crate::orders::describe_detail(detail));
        }
        let body = serde_json::from_slice::<ErrorBody>(bytes).unwrap_or_else(|_| {
            let text = String::from_utf8_lossy(bytes);
            let code = if status.is_server_error() {
                ErrorCode::Internal
            } else {
                ErrorCode::InvalidRequest
            };
            ErrorBody::new(code, format!("{status}: {}", text.trim()))
        });
        self.refine(status, body)
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
        if err.is_connect() {
            CliError::Unreachable {
                server: self.server.clone(),
                reason,
            }
        } else if err.is_timeout() {
            // Connected, but no (complete) answer in time: the server is up but stuck.
            CliError::Internal(format!(
                "the Switchyard server at {} did not answer within {}s; see its log",
                self.server,
                REQUEST_TIMEOUT.as_secs()
            ))
        } else {
            CliError::Internal(format!(
                "the request to the Switchyard server at {} failed: {reason}",
                self.server
            ))
        }
    }
}

/// The lines of a streaming answer, as they arrive.
pub struct LineStream {
    response: reqwest::Response,
    splitter: LineSplitter,
    ready: std::collections::VecDeque<String>,
    ended: bool,
    server: String,
}

impl LineStream {
    /// The next complete line; `None` once the server ended the stream.
    pub async fn next_line(&mut self) -> Result<Option<String>, CliError> {
        loop {
            if let Some(line) = self.ready.pop_front() {
                return Ok(Some(line));
            }
            if self.ended {
                return Ok(None);
            }
            let chunk = self.response.chunk().await.map_err(|e| {
                CliError::Internal(format!(
                    "the log stream from the Switchyard server at {} broke: {}",
                    self.server,
                    describe_transport_error(&e)
                ))
            })?;
            match chunk {
                Some(bytes) => {
                    let lines = self.splitter.push(&bytes).map_err(|e| {
                        CliError::Internal(format!(
                            "the server at {} sent a broken log stream: {e}",
                            self.server
                        ))
                    })?;
                    self.ready.extend(lines);
                }
                None => {
                    self.ended = true;
                    self.ready.extend(self.splitter.finish());
                }
            }
        }
    }
}

/// Percent-encodes a query key or value: everything but RFC 3986 unreserved characters.
fn encode_query(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(encode_query("build(0:a b)"), "build%280%3Aa%20b%29");
        assert_eq!(encode_query("x&y=z/é"), "x%26y%3Dz%2F%C3%A9");
        assert_eq!(encode_query("plain-name_1.2~"), "plain-name_1.2~");
    }
}
