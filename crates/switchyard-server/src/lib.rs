//! The composition root: builds every port's implementation (today the SQLite store) and
//! serves the control API.
//!
//! [`run`] is what `switchyard up` calls. [`router`] builds the whole HTTP surface from an
//! [`AppState`] so tests can drive it with `tower::ServiceExt::oneshot`, without a socket.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod apply;
pub mod auth;
pub mod catalog;
pub mod config;
pub mod docs;
pub mod error;
pub mod events;
pub mod inbox;
pub mod lease;
pub mod load;
pub mod object_logs;
pub mod orders;
pub mod paging;
pub mod routes;
pub mod runs;
pub mod state;
pub mod status;
pub mod telemetry;
pub mod tokens;

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::{Request, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use switchyard_api::{ErrorCode, HEALTHZ_PATH, METRICS_PATH};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

pub use auth::{AdminToken, Principal, roles};
pub use config::{
    DEFAULT_LISTEN, JetStreamBackend, Platform, PostgresBackend, Roles, ServerConfig,
};
pub use error::{ApiError, Error};
pub use state::{AppState, Opened, open};
pub use telemetry::{LogFormat, init_logging, shutdown_signal};

/// Every route of the server, with its middleware: request ids, tracing, metrics, the body
/// cap (413 before a large body is read), bearer auth on `/api/`, and JSON error bodies.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/api/v1/apply", post(routes::apply))
        .route("/api/v1/events", get(events::list))
        .route("/api/v1/whoami", get(tokens::whoami))
        .route("/api/v1/catalog", get(orders::offerings))
        .route(
            "/api/v1/orders",
            get(orders::list).post(orders::place_generic),
        )
        .route("/api/v1/orders/{id}", get(orders::get))
        .route("/api/v1/orders/{id}/approve", post(orders::approve))
        .route("/api/v1/orders/{id}/reject", post(orders::reject))
        .route("/api/v1/orders/{id}/events", get(orders::events))
        .route("/api/v1/tokens", get(tokens::list).post(tokens::create))
        .route(
            "/api/v1/tokens/{name}",
            axum::routing::delete(tokens::revoke),
        )
        .route("/api/v1/{plural}", get(routes::list_all))
        .route(
            "/api/v1/{plural}/{name}",
            get(routes::get_cluster).delete(routes::delete_cluster),
        )
        .route(
            "/api/v1/namespaces/{ns}/{plural}",
            get(routes::list_namespaced),
        )
        .route(
            "/api/v1/namespaces/{ns}/{plural}/{name}",
            get(routes::get_namespaced).delete(routes::delete_namespaced),
        )
        .route(
            "/api/v1/namespaces/{ns}/workflows",
            get(routes::list_workflows).post(runs::submit),
        )
        .route(
            "/api/v1/namespaces/{ns}/workflows/{name}",
            get(routes::get_workflow).delete(routes::delete_workflow),
        )
        .route(
            "/api/v1/namespaces/{ns}/workflows/{name}/log",
            get(runs::logs),
        )
        .route(
            "/api/v1/namespaces/{ns}/{plural}/{name}/log",
            get(routes::object_log),
        )
        .route(
            "/api/v1/namespaces/{ns}/workflows/{name}/{action}",
            put(runs::act),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_bearer,
        ));

    let max_body = state.max_body_bytes();
    Router::new()
        .route(HEALTHZ_PATH, get(routes::healthz))
        .route(METRICS_PATH, get(routes::metrics))
        .route(docs::OPENAPI_PATH, get(docs::openapi))
        // The web portal: static assets in the binary, built on this same API.
        .route("/", get(switchyard_portal::redirect_to_portal))
        .merge(switchyard_portal::router())
        .merge(docs::docs_router())
        .merge(api)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(RequestBodyLimitLayer::new(max_body))
        .layer(middleware::map_response(json_error_bodies))
        .layer(middleware::from_fn(telemetry::track_http))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request<Body>| {
                    let request_id = request
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    // The path only: a query string could carry values worth keeping out of logs.
                    tracing::info_span!(
                        "request",
                        method = %request.method(),
                        path = %request.uri().path(),
                        request_id = %request_id,
                    )
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

/// What a process without the api role serves: health and metrics, for probes.
pub fn probes_router(state: AppState) -> Router {
    Router::new()
        .route(HEALTHZ_PATH, get(routes::healthz))
        .route(METRICS_PATH, get(routes::metrics))
        .fallback(|| async {
            ApiError::not_found(
                "this process serves no API (its --role leaves out api); only /healthz and /metrics",
            )
        })
        .with_state(state)
}

/// Everything no fixed route matched: a POST may be an order at an offering's route;
/// anything else is a 404.
async fn not_found(
    axum::extract::State(state): axum::extract::State<AppState>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if method == axum::http::Method::POST && state.catalog().by_route(uri.path()).is_some() {
        return orders::place_at_route(&state, uri.path(), &headers, body).await;
    }
    ApiError::not_found("no such route; the API lives under /api/v1 and offerings at their routes (GET /api/v1/catalog)")
        .into_response()
}

/// Gives error answers produced outside the handlers (405 from routing, 413 from the body
/// cap) the same JSON body as every other error.
async fn json_error_bodies(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !status.is_client_error() && !status.is_server_error() || is_json {
        return response;
    }
    let (code, message) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => (
            ErrorCode::PayloadTooLarge,
            "the request body is larger than the server accepts".to_owned(),
        ),
        StatusCode::METHOD_NOT_ALLOWED => (
            ErrorCode::MethodNotAllowed,
            "this route does not support that method".to_owned(),
        ),
        StatusCode::NOT_FOUND => (ErrorCode::NotFound, "not found".to_owned()),
        s if s.is_client_error() => (ErrorCode::InvalidRequest, s.to_string()),
        s => (ErrorCode::Internal, s.to_string()),
    };
    let (parts, _) = response.into_parts();
    let mut rewritten = ApiError::new(status, code, message).into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rewritten.headers_mut().insert(name, value.clone());
        }
    }
    rewritten
}

/// The meta entry recording that the bundled platform was applied to this data directory.
const PLATFORM_APPLIED_META: &str = "platform.applied";

/// Applies the server's platform (see [`Platform::every_start`]) as the admin would.
async fn apply_platform(state: &AppState, platform: &Platform) -> Result<(), Error> {
    let store = state.store();
    if !platform.every_start && store.get_meta(PLATFORM_APPLIED_META).await?.is_some() {
        return Ok(());
    }
    let request = switchyard_api::ApplyRequest {
        sources: platform.sources.clone(),
        namespace: None,
        dry_run: false,
    };
    match routes::apply_request(state, &Principal::admin(), request).await {
        Ok(response) => {
            let changed = response
                .results
                .iter()
                .filter(|r| r.action != switchyard_api::Action::Unchanged)
                .count();
            tracing::info!(
                origin = %platform.origin,
                objects = response.results.len(),
                changed,
                "platform applied"
            );
            store
                .put_meta(PLATFORM_APPLIED_META, &platform.origin)
                .await?;
            Ok(())
        }
        Err(e) => {
            let mut lines = vec![format!(
                "cannot apply {}: {}",
                platform.origin, e.body.message
            )];
            lines.extend(e.body.diagnostics.iter().map(|d| format!("  {d}")));
            Err(Error::Platform(lines.join("\n")))
        }
    }
}

/// Runs the server until `shutdown` completes: binds `config.listen` (failing clearly when
/// the port is taken), opens the state, prints how to authenticate, and serves. In-flight
/// requests finish before it returns.
pub async fn run(
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| Error::listen(config.listen, &e))?;
    let local = listener
        .local_addr()
        .map_err(|e| Error::listen(config.listen, &e))?;

    let Opened { state, admin_token } = open(&config).await?;
    // The controller took over the stored runs under this lease (see `open`); keep it.
    let (lease_lost, mut lease_watch) = tokio::sync::watch::channel(false);
    let (stop_lease, stop_lease_rx) = tokio::sync::watch::channel(false);
    let leader = config.roles.controller.then(|| {
        tokio::spawn(lease::lead(
            state.clone(),
            state.lease().cloned(),
            lease_lost,
            stop_lease_rx,
        ))
    });
    if let Some(platform) = &config.platform {
        apply_platform(&state, platform).await?;
    }
    match &admin_token {
        AdminToken::Created { .. } => eprintln!("{}", admin_token.announcement()),
        AdminToken::Existing {
            file_present: true, ..
        } => tracing::info!("{}", admin_token.announcement()),
        AdminToken::Existing { .. } => tracing::warn!("{}", admin_token.announcement()),
    }

    let (stop_load, stop_load_rx) = tokio::sync::watch::channel(false);
    let load = tokio::spawn(load::share_active_runs(state.clone(), stop_load_rx));
    let upkeep = {
        let metrics = state.metrics().clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tick.tick().await;
                metrics.run_upkeep();
            }
        })
    };

    tracing::info!(
        data_dir = %config.data_dir.display(), roles = %config.roles.describe(),
        "listening on http://{local}"
    );
    let pipeline = state.pipeline().clone();
    let worker_state = state.clone();
    let lost = async move {
        while !*lease_watch.borrow() {
            if lease_watch.changed().await.is_err() {
                // The keeper ended after giving the lease back: wait for the shutdown.
                std::future::pending::<()>().await;
            }
        }
    };
    let lease_was_lost = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = lease_was_lost.clone();
    let app = if config.roles.api {
        router(state)
    } else {
        probes_router(state)
    };
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            tokio::select! {
                () = shutdown => {}
                () = lost => flag.store(true, std::sync::atomic::Ordering::SeqCst),
            }
        })
        .await;
    let _ = stop_lease.send(true);
    if let Some(leader) = leader {
        let _ = leader.await;
    }
    upkeep.abort();
    let _ = stop_load.send(true);
    let _ = load.await;
    worker_state.stop_worker().await;
    pipeline.shutdown().await;
    served.map_err(Error::Serve)?;
    if lease_was_lost.load(std::sync::atomic::Ordering::SeqCst) {
        return Err(Error::Lease(
            "stopped: the controller lease was lost, so another process may be driving the runs"
                .to_owned(),
        ));
    }
    tracing::info!("stopped");
    Ok(())
}
