//! The webhook EventSource: HTTP servers, one per port, that turn requests into events.
//!
//! Wire-compatible with Argo Events' webhook: each event of an EventSource's `spec.webhook`
//! is a route `port` + `endpoint` + `method`; every port serves `GET /health`; an
//! `authSecret` requires `Authorization: Bearer <token>` (Argo's 401 texts; compared in
//! constant time) and the header is masked in the event; the event data is
//! `{header, body, metadata}` with Go-canonical header names and lists of values; a `GET`
//! carries its query and an urlencoded `POST` its form as `body`; any other body must be
//! JSON (400 otherwise); an unknown path is 404 and a wrong method 400.
//!
//! Where we differ, on purpose: the answer is 200 only once the event is durable on the bus,
//! and 503 with `Retry-After` when it could not be recorded (Argo answers 500 and may have
//! lost it); a body over `maxPayloadSize` is 413 before it is read (by `Content-Length`) or as
//! soon as the limit is passed; a request that is itself a CloudEvent (binary mode `ce-id` /
//! `ce-source` headers, or structured mode `application/cloudevents+json`) keeps its `id`,
//! and a repeat of the same `source` + `id` is answered like the first without a second event;
//! a query or form field named `$serde_json::private::RawValue` is refused (400), because the
//! JSON library would read that event back as something else.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value as Json};
use subtle::ConstantTimeEq;
use tokio::sync::oneshot;

use crate::cloudevent::{CloudEvent, SPEC_VERSION};
use crate::lock_read;

/// What a route does with an accepted request's event.
#[async_trait]
pub trait Dispatch: Send + Sync + 'static {
    /// Makes `event` durable (once per `dedup` key) and returns whether it was new.
    async fn dispatch(
        &self,
        route: &WebhookRoute,
        event: CloudEvent,
        dedup: Option<String>,
    ) -> Result<Dispatched, DispatchError>;
}

/// Why an event was not recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DispatchError {
    /// Not now (the bus is unavailable): the sender should retry (503 with `Retry-After`).
    #[error("{0}")]
    Unavailable(String),
    /// Never, as sent (the filter expression cannot be evaluated on it): 400.
    #[error("{0}")]
    Rejected(String),
    /// Not now: sensors are too far behind (see [`crate::backlog`]); 429 with `Retry-After`.
    #[error("{0}")]
    Busy(String),
}

/// The outcome of a dispatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dispatched {
    /// Recorded for the first time.
    Recorded,
    /// The same `source` + `id` was recorded before; nothing new.
    Duplicate,
    /// The source's `filter.expression` was false: not recorded.
    FilteredOut,
}

/// A listener on `addr`, shared with other processes of the same user when `shared`.
async fn listen(addr: SocketAddr, shared: bool) -> std::io::Result<tokio::net::TcpListener> {
    if !shared {
        return tokio::net::TcpListener::bind(addr).await;
    }
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    #[cfg(unix)]
    socket.set_reuseport(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// One event of a webhook EventSource, ready to serve.
#[derive(Clone)]
pub struct WebhookRoute {
    pub namespace: String,
    /// The EventSource's name (the event's `source`).
    pub source: String,
    /// The event's name under `spec.webhook` (the event's `subject`).
    pub event: String,
    pub port: u16,
    pub endpoint: String,
    pub method: Method,
    /// The bearer token requests must carry, read from the `authSecret`.
    pub auth_token: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub max_payload: u64,
    /// The source's `filter.expression` (expr-lang over the event data).
    pub filter: Option<String>,
    /// The signature requests must carry, when the route asks for one.
    pub hmac: Option<HmacCheck>,
}

/// An HMAC-SHA256 check of the raw request body.
#[derive(Clone)]
pub struct HmacCheck {
    /// The header holding `sha256=<hex>` (or bare hex).
    pub header: String,
    pub key: Vec<u8>,
}

impl HmacCheck {
    /// Whether `signature` is the body's HMAC under the key (compared in constant time).
    pub fn verify(&self, body: &[u8], signature: &str) -> bool {
        use hmac::{Hmac, Mac};
        let hex_part = signature
            .trim()
            .strip_prefix("sha256=")
            .unwrap_or(signature.trim());
        let Ok(expected) = hex::decode(hex_part) else {
            return false;
        };
        let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(&self.key) else {
            return false;
        };
        mac.update(body);
        mac.verify_slice(&expected).is_ok()
    }
}

impl WebhookRoute {
    /// `namespace/name` of the EventSource: how logs name it (the field `event_source`).
    pub fn source_path(&self) -> String {
        format!("{}/{}", self.namespace, self.source)
    }
}

impl std::fmt::Debug for WebhookRoute {
    // The token never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookRoute")
            .field("namespace", &self.namespace)
            .field("source", &self.source)
            .field("event", &self.event)
            .field("port", &self.port)
            .field("endpoint", &self.endpoint)
            .field("method", &self.method)
            .field("auth", &self.auth_token.as_ref().map(|_| "***"))
            .field("hmac", &self.hmac.as_ref().map(|h| &h.header))
            .finish_non_exhaustive()
    }
}

/// The routes of one port, by endpoint path.
type RouteTable = HashMap<String, Arc<WebhookRoute>>;

struct PortServer {
    routes: Arc<RwLock<RouteTable>>,
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for PortServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A route that could not be served, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteProblem {
    pub namespace: String,
    pub source: String,
    pub event: String,
    pub message: String,
}

/// Every webhook server, reconciled to the routes of all EventSources by [`Self::set_routes`].
pub struct WebhookServers {
    host: IpAddr,
    dispatch: Arc<dyn Dispatch>,
    servers: HashMap<u16, PortServer>,
    shared_ports: bool,
}

impl WebhookServers {
    /// Servers that listen on `host` and hand events to `dispatch`.
    pub fn new(host: IpAddr, dispatch: Arc<dyn Dispatch>) -> Self {
        WebhookServers {
            host,
            dispatch,
            servers: HashMap::new(),
            shared_ports: false,
        }
    }

    /// Lets replicas of the platform on this machine listen on the same ports
    /// (`SO_REUSEPORT`: the kernel spreads connections over them), as replicas behind a load
    /// balancer would on separate machines. Only for distributed mode: two separate platforms
    /// must not share a port without knowing it.
    pub fn share_ports(mut self) -> Self {
        self.shared_ports = true;
        self
    }

    /// The ports being served.
    pub fn ports(&self) -> Vec<u16> {
        let mut ports: Vec<u16> = self.servers.keys().copied().collect();
        ports.sort_unstable();
        ports
    }

    /// The route served for `namespace`/`source` event `event`, if any.
    pub fn route(&self, namespace: &str, source: &str, event: &str) -> Option<Arc<WebhookRoute>> {
        self.servers.values().find_map(|server| {
            crate::lock_read(&server.routes)
                .values()
                .find(|r| r.namespace == namespace && r.source == source && r.event == event)
                .cloned()
        })
    }

    /// Where this server's routes hand their events.
    pub fn dispatcher(&self) -> Arc<dyn Dispatch> {
        self.dispatch.clone()
    }

    /// Serves exactly `routes`: starts servers for new ports, stops those no route needs, and
    /// swaps each port's table at once (requests in flight finish on the table they found).
    /// Returns the routes that cannot be served: a port that cannot be bound, or a second
    /// route for a port + endpoint already taken (the first, in the order given, keeps it).
    pub async fn set_routes(&mut self, routes: Vec<WebhookRoute>) -> Vec<RouteProblem> {
        let mut problems = Vec::new();
        let mut tables: BTreeMap<u16, RouteTable> = BTreeMap::new();
        for route in routes {
            let table = tables.entry(route.port).or_default();
            if let Some(taken) = table.get(&route.endpoint) {
                problems.push(problem(
                    &route,
                    format!(
                        "port {} endpoint {} is already served for EventSource {}/{} event `{}`",
                        route.port, route.endpoint, taken.namespace, taken.source, taken.event
                    ),
                ));
                continue;
            }
            table.insert(route.endpoint.clone(), Arc::new(route));
        }
        self.servers.retain(|port, _| tables.contains_key(port));
        for (port, table) in tables {
            if let Some(server) = self.servers.get(&port) {
                *crate::lock_write(&server.routes) = table;
                continue;
            }
            let addr = SocketAddr::new(self.host, port);
            let listener = match listen(addr, self.shared_ports).await {
                Ok(listener) => listener,
                Err(err) => {
                    for route in table.values() {
                        problems.push(problem(route, format!("cannot listen on {addr}: {err}")));
                    }
                    continue;
                }
            };
            tracing::info!(%addr, endpoints = table.len(), "webhook server listening");
            let routes = Arc::new(RwLock::new(table));
            let (stop, stopped) = oneshot::channel();
            let app = router(routes.clone(), self.dispatch.clone());
            tokio::spawn(async move {
                let served = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await;
                if let Err(err) = served {
                    tracing::error!(%addr, error = %err, "webhook server stopped");
                }
            });
            self.servers.insert(
                port,
                PortServer {
                    routes,
                    stop: Some(stop),
                },
            );
        }
        problems.sort_by(|a, b| (&a.source, &a.event).cmp(&(&b.source, &b.event)));
        problems
    }
}

fn problem(route: &WebhookRoute, message: String) -> RouteProblem {
    RouteProblem {
        namespace: route.namespace.clone(),
        source: route.source.clone(),
        event: route.event.clone(),
        message,
    }
}

fn router(routes: Arc<RwLock<RouteTable>>, dispatch: Arc<dyn Dispatch>) -> axum::Router {
    axum::Router::new().fallback(move |request: Request| {
        let route = lock_read(&routes).get(request.uri().path()).cloned();
        let dispatch = dispatch.clone();
        async move {
            match route {
                Some(route) => handle(&route, dispatch.as_ref(), request, Utc::now()).await,
                None if request.uri().path() == "/health" => text(StatusCode::OK, "OK"),
                // Go's http.NotFound, which Argo's router answers with.
                None => text(StatusCode::NOT_FOUND, "404 page not found\n"),
            }
        }
    })
}

fn text(status: StatusCode, body: &'static str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

/// Serves one request on `route`.
async fn handle(
    route: &WebhookRoute,
    dispatch: &dyn Dispatch,
    request: Request,
    now: DateTime<Utc>,
) -> Response {
    if let Some(token) = &route.auth_token {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .map(HeaderValue::as_bytes)
            .unwrap_or_default();
        let Some(given) = given.strip_prefix(b"Bearer ") else {
            return text(StatusCode::UNAUTHORIZED, "Invalid Authorization Header");
        };
        if !bool::from(given.ct_eq(token.as_bytes())) {
            return text(StatusCode::UNAUTHORIZED, "Invalid Auth token");
        }
    }
    if request.method() != route.method {
        return text(StatusCode::BAD_REQUEST, "http method does not match");
    }
    let (parts, body) = request.into_parts();
    let posted = match read_posted(route, &parts, body).await {
        Ok(posted) => posted,
        Err(response) => return *response,
    };
    let (event, dedup) = match request_event(route, &parts, &posted, now) {
        Ok(made) => made,
        Err(response) => return *response,
    };
    let event_id = event.id.clone();
    match dispatch.dispatch(route, event, dedup).await {
        Ok(outcome) => {
            tracing::info!(
                event_source = %route.source_path(), event = %route.event, event_id = %event_id,
                outcome = ?outcome, "webhook request accepted"
            );
            text(StatusCode::OK, "success")
        }
        Err(DispatchError::Rejected(reason)) => {
            tracing::info!(
                event_source = %route.source_path(), event = %route.event, event_id = %event_id,
                %reason, "webhook event refused"
            );
            (
                StatusCode::BAD_REQUEST,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                reason,
            )
                .into_response()
        }
        Err(DispatchError::Busy(reason)) => {
            tracing::debug!(
                event_source = %route.source_path(), event = %route.event, event_id = %event_id,
                %reason, "webhook event refused: backlog"
            );
            let mut response = (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                reason,
            )
                .into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            response
        }
        Err(DispatchError::Unavailable(err)) => {
            tracing::warn!(
                event_source = %route.source_path(), event = %route.event, event_id = %event_id,
                error = %err, "webhook event not recorded"
            );
            let mut response = text(StatusCode::SERVICE_UNAVAILABLE, "failed to record event");
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            response
        }
    }
}

/// The event a request to `route` becomes: data `{header, body, metadata}` and the
/// CloudEvent attributes, as Argo's webhook EventSource makes them. `id` and `origin` are a
/// sender's own CloudEvent identity (kept, and the dedup key), or `None` for a new id. The
/// platform API raises orders through this too, so an order is exactly a webhook event.
pub fn webhook_event(
    route: &WebhookRoute,
    headers: &HeaderMap,
    body: Json,
    id: Option<String>,
    origin: Option<String>,
    now: DateTime<Utc>,
) -> (CloudEvent, Option<String>) {
    let mut data = Map::new();
    data.insert("header".into(), go_headers(headers));
    data.insert("body".into(), body);
    if !route.metadata.is_empty() {
        data.insert(
            "metadata".into(),
            Json::Object(
                route
                    .metadata
                    .iter()
                    .map(|(k, v)| (k.clone(), Json::String(v.clone())))
                    .collect(),
            ),
        );
    }
    let dedup = id.as_ref().map(|id| dedup_key(origin.as_deref(), id));
    let event = CloudEvent {
        specversion: SPEC_VERSION.to_owned(),
        id: id.unwrap_or_else(|| uuid::Uuid::now_v7().to_string()),
        source: route.source.clone(),
        kind: "webhook".to_owned(),
        subject: route.event.clone(),
        time: now,
        datacontenttype: "application/json".to_owned(),
        originsource: origin,
        data: Json::Object(data),
    };
    (event, dedup)
}

/// The route's HMAC check over the raw bytes it received (the body, or a GET's query):
/// 401 when the signature is missing or wrong.
fn check_signature(
    route: &WebhookRoute,
    parts: &axum::http::request::Parts,
    signed: &[u8],
) -> Result<(), Box<Response>> {
    let Some(check) = &route.hmac else {
        return Ok(());
    };
    let given = parts
        .headers
        .get(check.header.as_str())
        .and_then(|v| v.to_str().ok());
    match given {
        Some(signature) if check.verify(signed, signature) => Ok(()),
        Some(_) => Err(Box::new(text(
            StatusCode::UNAUTHORIZED,
            "Invalid signature",
        ))),
        None => Err(Box::new(text(
            StatusCode::UNAUTHORIZED,
            "Missing signature",
        ))),
    }
}

/// The bus dedup key of a sender's event: a digest of its `source` and `id`, so any id
/// (control characters and length included) makes a valid key, and two senders' ids never
/// collide.
pub fn dedup_key(origin: Option<&str>, id: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(origin.unwrap_or_default().as_bytes());
    hasher.update([0]);
    hasher.update(id.as_bytes());
    format!("ce-{}", hex::encode(hasher.finalize()))
}

/// The bytes of a POST's body, read up to the route's `maxPayloadSize` (413 past it); empty for
/// any other method, whose body is not read.
async fn read_posted(
    route: &WebhookRoute,
    parts: &axum::http::request::Parts,
    body: Body,
) -> Result<axum::body::Bytes, Box<Response>> {
    if parts.method != Method::POST {
        return Ok(axum::body::Bytes::new());
    }
    let too_large = || Box::new(text(StatusCode::PAYLOAD_TOO_LARGE, "request too large"));
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > route.max_payload) {
        return Err(too_large());
    }
    let limit = usize::try_from(route.max_payload).unwrap_or(usize::MAX);
    axum::body::to_bytes(body, limit).await.map_err(|err| {
        // `to_bytes` fails with a length-limit error once the limit is passed.
        let limited = std::error::Error::source(&err)
            .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
        if limited {
            too_large()
        } else {
            Box::new(text(StatusCode::BAD_REQUEST, "failed to read request body"))
        }
    })
}

/// The event a request on `route` becomes once its body has been read (`posted`, the bytes of
/// a POST): the signature checked over what was signed, the body (a GET's query, an urlencoded
/// POST's form, or a POST's JSON) and the sender's own CloudEvent identity, if any. Anything
/// that refuses the request is the response to send. Pure: the server's part of a request
/// after the bytes have arrived, public so that it can be tested and fuzzed without a socket.
#[doc(hidden)]
pub fn request_event(
    route: &WebhookRoute,
    parts: &axum::http::request::Parts,
    posted: &[u8],
    now: DateTime<Utc>,
) -> Result<(CloudEvent, Option<String>), Box<Response>> {
    let body = body_value(route, parts, posted)?;
    if let Some(version) = unsupported_specversion(&parts.headers, &body) {
        return Err(Box::new(
            (
                StatusCode::BAD_REQUEST,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                format!(
                    "unsupported CloudEvents specversion `{version}`: this webhook takes 1.0 (and 0.3)"
                ),
            )
                .into_response(),
        ));
    }
    let (id, origin) = sender_identity(&parts.headers, &body);
    Ok(webhook_event(route, &parts.headers, body, id, origin, now))
}

/// The event's `body`: the query of a GET, the form of an urlencoded POST, or the JSON body.
fn body_value(
    route: &WebhookRoute,
    parts: &axum::http::request::Parts,
    posted: &[u8],
) -> Result<Json, Box<Response>> {
    if parts.method == Method::GET {
        let query = parts.uri.query().unwrap_or_default().as_bytes();
        check_signature(route, parts, query)?;
        return form_body(query, "query parameter");
    }
    if parts.method != Method::POST {
        return Err(Box::new(text(
            StatusCode::BAD_REQUEST,
            "unsupported method: only GET and POST carry events",
        )));
    }
    check_signature(route, parts, posted)?;
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if content_type == "application/x-www-form-urlencoded" {
        return form_body(posted, "form field");
    }
    serde_json::from_slice(posted).map_err(|err| {
        Box::new(
            (
                StatusCode::BAD_REQUEST,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                format!("the request body is not JSON: {err}"),
            )
                .into_response(),
        )
    })
}

/// A query or form as the event's `body` ([`form_values`]). A field named
/// [`switchyard_paths::RESERVED_KEY`] is refused (400): `serde_json` reads that key back as
/// something else, so the event would be recorded but no sensor could read it.
fn form_body(bytes: &[u8], what: &str) -> Result<Json, Box<Response>> {
    let values = form_values(bytes);
    if values.get(switchyard_paths::RESERVED_KEY).is_some() {
        return Err(Box::new(
            (
                StatusCode::BAD_REQUEST,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                format!(
                    "the {what} `{}` is a name reserved by the JSON library; rename it",
                    switchyard_paths::RESERVED_KEY
                ),
            )
                .into_response(),
        ));
    }
    Ok(values)
}

/// A query or form as Go's `url.Values` marshals it: each key (sorted) to its list of values.
fn form_values(bytes: &[u8]) -> Json {
    let mut values: BTreeMap<String, Vec<Json>> = BTreeMap::new();
    for (key, value) in form_urlencoded::parse(bytes) {
        values
            .entry(key.into_owned())
            .or_default()
            .push(Json::String(value.into_owned()));
    }
    Json::Object(
        values
            .into_iter()
            .map(|(k, v)| (k, Json::Array(v)))
            .collect(),
    )
}

/// Request headers as Go's `http.Header` marshals them: canonical names (sorted), each to its
/// list of values; `Authorization` masked as Argo masks it.
fn go_headers(headers: &HeaderMap) -> Json {
    let mut out: BTreeMap<String, Vec<Json>> = BTreeMap::new();
    for (name, value) in headers {
        let name = canonical_header_key(name.as_str());
        let value = if name == "Authorization" {
            "*** Masked Auth Secret ***".to_owned()
        } else {
            String::from_utf8_lossy(value.as_bytes()).into_owned()
        };
        out.entry(name).or_default().push(Json::String(value));
    }
    Json::Object(out.into_iter().map(|(k, v)| (k, Json::Array(v))).collect())
}

/// Go's `textproto.CanonicalMIMEHeaderKey`: the first letter and every letter after a `-`
/// upper case, the rest lower case; a name with a byte that is not a token character is left
/// as it is.
pub fn canonical_header_key(name: &str) -> String {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if !name.bytes().all(token) {
        return name.to_owned();
    }
    let mut upper = true;
    name.chars()
        .map(|c| {
            let out = if upper {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
            upper = c == '-';
            out
        })
        .collect()
}

/// The `id` and `source` of a request that is a CloudEvent itself: binary mode (`ce-id`,
/// `ce-source` headers) or structured mode (a JSON body with `specversion`, `id`, `source`,
/// sent as `application/cloudevents+json`).
/// The CloudEvents versions a sender may use.
const SPEC_VERSIONS: [&str; 2] = ["1.0", "0.3"];

/// The `specversion` of a CloudEvent sent in binary mode (`ce-specversion`) or structured
/// mode (`application/cloudevents+json`), when it is not one this webhook speaks.
fn unsupported_specversion(headers: &HeaderMap, body: &Json) -> Option<String> {
    if let Some(version) = headers.get("ce-specversion") {
        let version = version.to_str().unwrap_or("(not text)").trim();
        return (!SPEC_VERSIONS.contains(&version)).then(|| version.to_owned());
    }
    let structured = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/cloudevents+json"));
    if !structured {
        return None;
    }
    match body.get("specversion") {
        Some(Json::String(version)) if SPEC_VERSIONS.contains(&version.as_str()) => None,
        Some(Json::String(version)) => Some(version.clone()),
        Some(other) => Some(other.to_string()),
        None => Some("(missing)".to_owned()),
    }
}

fn sender_identity(headers: &HeaderMap, body: &Json) -> (Option<String>, Option<String>) {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    if let (Some(id), Some(source)) = (header("ce-id"), header("ce-source")) {
        return (Some(id), Some(source));
    }
    let structured = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/cloudevents+json"));
    if structured
        && body.get("specversion").is_some()
        && let (Some(id), Some(source)) = (
            body.get("id").and_then(Json::as_str),
            body.get("source").and_then(Json::as_str),
        )
        && !id.is_empty()
    {
        return (Some(id.to_owned()), Some(source.to_owned()));
    }
    (None, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloudevents_of_unknown_versions_are_refused() {
        let mut headers = HeaderMap::new();
        assert_eq!(unsupported_specversion(&headers, &Json::Null), None);
        headers.insert("ce-specversion", HeaderValue::from_static("1.0"));
        assert_eq!(unsupported_specversion(&headers, &Json::Null), None);
        headers.insert("ce-specversion", HeaderValue::from_static("0.1"));
        assert_eq!(
            unsupported_specversion(&headers, &Json::Null).as_deref(),
            Some("0.1")
        );
        let mut structured = HeaderMap::new();
        structured.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/cloudevents+json"),
        );
        let event = |v: Json| serde_json::json!({"specversion": v, "id": "1", "source": "s"});
        assert_eq!(
            unsupported_specversion(&structured, &event("1.0".into())),
            None
        );
        assert_eq!(
            unsupported_specversion(&structured, &event("0.3".into())),
            None
        );
        assert_eq!(
            unsupported_specversion(&structured, &event("0.1".into())).as_deref(),
            Some("0.1")
        );
        assert_eq!(
            unsupported_specversion(&structured, &serde_json::json!({"id": "1"})).as_deref(),
            Some("(missing)")
        );
        // Plain JSON with a field of that name is not a CloudEvent.
        assert_eq!(
            unsupported_specversion(&HeaderMap::new(), &event("0.1".into())),
            None
        );
    }

    #[test]
    fn hmac_signatures_are_checked_over_the_raw_body() {
        let check = HmacCheck {
            header: "X-Hub-Signature-256".into(),
            key: b"It's a Secret to Everybody".to_vec(),
        };
        // GitHub's documented example: this key, this body, this signature.
        let body = b"Hello, World!";
        let good = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert!(check.verify(body, good));
        assert!(check.verify(body, good.trim_start_matches("sha256=")));
        assert!(!check.verify(b"Hello, World?", good));
        assert!(!check.verify(body, "sha256=00"));
        assert!(!check.verify(body, "sha256=not-hex"));
        assert!(!check.verify(body, ""));
    }

    #[test]
    fn dedup_keys_are_valid_whatever_the_id() {
        let a = dedup_key(Some("src"), "id\u{0}with\ncontrol");
        assert!(a.starts_with("ce-") && a.len() == 67 && !a.chars().any(char::is_control));
        assert_ne!(dedup_key(Some("a"), "bc"), dedup_key(Some("ab"), "c"));
        assert_eq!(dedup_key(None, "x"), dedup_key(Some(""), "x"));
    }

    #[test]
    fn header_keys_are_canonical_as_go_makes_them() {
        for (given, canonical) in [
            ("content-type", "Content-Type"),
            ("x-forwarded-for", "X-Forwarded-For"),
            ("X-HUB-SIGNATURE-256", "X-Hub-Signature-256"),
            ("ce-id", "Ce-Id"),
            ("weird key", "weird key"),
        ] {
            assert_eq!(canonical_header_key(given), canonical);
        }
    }

    #[test]
    fn queries_and_forms_become_sorted_lists_of_values() {
        assert_eq!(
            form_values(b"b=2&a=1&b=3&c=x%20y"),
            serde_json::json!({"a": ["1"], "b": ["2", "3"], "c": ["x y"]})
        );
        assert_eq!(form_values(b""), serde_json::json!({}));
    }

    #[test]
    fn headers_list_every_value_and_mask_authorization() {
        let mut headers = HeaderMap::new();
        headers.append("x-tag", HeaderValue::from_static("a"));
        headers.append("x-tag", HeaderValue::from_static("b"));
        headers.append("authorization", HeaderValue::from_static("Bearer s3cret"));
        assert_eq!(
            go_headers(&headers),
            serde_json::json!({
                "Authorization": ["*** Masked Auth Secret ***"],
                "X-Tag": ["a", "b"]
            })
        );
    }

    #[test]
    fn cloudevent_senders_are_recognised_in_both_modes() {
        let mut headers = HeaderMap::new();
        assert_eq!(sender_identity(&headers, &Json::Null), (None, None));
        headers.insert("ce-id", HeaderValue::from_static("42"));
        headers.insert("ce-source", HeaderValue::from_static("/shop"));
        assert_eq!(
            sender_identity(&headers, &Json::Null),
            (Some("42".into()), Some("/shop".into()))
        );
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/cloudevents+json; charset=utf-8"),
        );
        let body = serde_json::json!({"specversion": "1.0", "id": "7", "source": "s", "type": "t"});
        assert_eq!(
            sender_identity(&headers, &body),
            (Some("7".into()), Some("s".into()))
        );
        // Not sent as a CloudEvent: an `id` field is just data.
        assert_eq!(sender_identity(&HeaderMap::new(), &body), (None, None));
    }
}
