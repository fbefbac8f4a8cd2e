//! The portal in front of a running platform, for trying it (and testing it in a browser)
//! before the server serves it itself: `/ui` comes from this build of the portal, every
//! other request goes to the platform unchanged, streams included (server-sent events and
//! NDJSON logs pass chunk by chunk), so the page works exactly as it will from the server.
//!
//! ```sh
//! switchyard up &                      # the platform on 127.0.0.1:8000
//! cargo run -p switchyard-portal --example portal_proxy -- --upstream http://127.0.0.1:8000
//! # open the address it prints, e.g. http://127.0.0.1:8080/ui/
//! ```
//!
//! `--listen ADDR` (default `127.0.0.1:8080`; port 0 picks a free one). The first line on
//! stdout is `portal on http://ADDR/ui/`.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;

use axum::Router;
use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Bodies a browser sends the API are small (orders, comments); more is refused.
const MAX_REQUEST: usize = 16 << 20;

/// Headers about one hop of a connection, which a proxy must not pass on.
fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "transfer-encoding"
            | "te"
            | "trailer"
            | "upgrade"
            | "host"
            | "content-length"
    )
}

#[derive(Clone)]
struct Upstream {
    http: reqwest::Client,
    base: String,
}

async fn forward(State(up): State<Upstream>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let body = match to_bytes(body, MAX_REQUEST).await {
        Ok(b) => b,
        Err(e) => return (StatusCode::PAYLOAD_TOO_LARGE, e.to_string()).into_response(),
    };
    let mut outgoing = up
        .http
        .request(parts.method.clone(), format!("{}{path}", up.base))
        .body(body);
    for (name, value) in &parts.headers {
        if !hop_by_hop(name) {
            outgoing = outgoing.header(name, value);
        }
    }
    let mut answer = match outgoing.send().await {
        Ok(a) => a,
        Err(e) => {
            return (
                StatusCode::BAD_GATEWAY,
                format!("the platform at {} cannot be reached: {e}", up.base),
            )
                .into_response();
        }
    };
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        if !hop_by_hop(name) {
            response = response.header(name, value);
        }
    }
    // Chunk by chunk, as they arrive: an event stream must not wait for its end.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    tokio::spawn(async move {
        loop {
            match answer.chunk().await {
                Ok(Some(chunk)) => {
                    if tx.send(Ok(chunk)).await.is_err() {
                        return;
                    }
                }
                Ok(None) => return,
                Err(e) => {
                    let _ = tx.send(Err(std::io::Error::other(e))).await;
                    return;
                }
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    response
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|e| (StatusCode::BAD_GATEWAY, e.to_string()).into_response())
}

#[tokio::main]
async fn main() {
    let mut listen: SocketAddr = "127.0.0.1:8080".parse().unwrap();
    let mut upstream = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => {
                listen = args
                    .next()
                    .expect("--listen ADDR")
                    .parse()
                    .expect("--listen takes HOST:PORT")
            }
            "--upstream" => upstream = args.next(),
            other => panic!("unknown argument {other}: use --upstream URL [--listen ADDR]"),
        }
    }
    let base = upstream
        .expect("--upstream URL (the platform, e.g. http://127.0.0.1:8000)")
        .trim_end_matches('/')
        .to_owned();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let app = Router::new()
        .merge(switchyard_portal::router())
        .route(
            "/",
            axum::routing::get(switchyard_portal::redirect_to_portal),
        )
        .fallback(forward)
        .with_state(Upstream { http, base });
    let listener = tokio::net::TcpListener::bind(listen).await.unwrap();
    println!("portal on http://{}/ui/", listener.local_addr().unwrap());
    axum::serve(listener, app).await.unwrap();
}
