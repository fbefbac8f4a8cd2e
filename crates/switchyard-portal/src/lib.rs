//! The web portal: a catalog to order from, forms generated from each offering's input
//! schema, my orders, an approval inbox, live runs drawn as graphs with their logs, and the
//! platform's event sources, events and sensors.
//!
//! The portal is static files compiled into the binary (hand-written JavaScript modules, HTML
//! and CSS: no build step, nothing loaded from elsewhere) that call the same HTTP API a script
//! uses, with the bearer token the person signs in with. [`router`] serves them under
//! [`PREFIX`]:
//!
//! - `/ui/` and every other path under `/ui/` but `/ui/assets/`: the page (client-side routes
//!   such as `/ui/orders/{id}` reload into the same page), never cached, so an upgrade is
//!   picked up at the next load;
//! - `/ui/assets/{version}/{file}`: the modules, styles and icons, where `{version}` is a hash
//!   of every asset. The page names the current version, modules import each other by
//!   relative paths (so they stay within one version), and responses are cached for a year.
//!
//! Every answer carries a strict Content-Security-Policy (`default-src 'self'`, no inline
//! script or style, no framing): the portal renders API data as text nodes only, and the
//! policy makes sure nothing else can run even if that slipped.
//!
//! **Invariant:** the portal has no server-side logic of its own: anything it shows or does
//! goes through the public API, so it can do nothing a token's owner could not do with curl.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod assets;

use std::sync::LazyLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

pub use assets::{Asset, asset, assets};

/// Where the portal lives.
pub const PREFIX: &str = "/ui";

/// The policy on every portal answer: only this origin's scripts, styles, images and API;
/// no plugins, no `<base>` tricks, no framing (clickjacking an approve button), forms post
/// only here.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self'; connect-src 'self'; font-src 'self'; \
    object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// How long a versioned asset may be cached: a year, as its URL changes with its content.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The version of this build's assets: the first 16 hex digits of a SHA-256 over every
/// asset's path and bytes, so any change to any file gives every file a new URL.
pub fn version() -> &'static str {
    static VERSION: LazyLock<String> = LazyLock::new(|| {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        for a in assets() {
            hash.update(a.path.as_bytes());
            hash.update([0]);
            hash.update((a.bytes.len() as u64).to_le_bytes());
            hash.update(a.bytes);
        }
        hex::encode(hash.finalize())[..16].to_owned()
    });
    &VERSION
}

/// The URL prefix of this build's assets: `/ui/assets/<version>`.
pub fn asset_base() -> String {
    format!("{PREFIX}/assets/{}", version())
}

/// The page, with the asset URLs of this build filled in.
fn index_html() -> &'static str {
    static PAGE: LazyLock<String> = LazyLock::new(|| {
        let template = String::from_utf8_lossy(assets::INDEX_HTML);
        template.replace("%ASSET_BASE%", &asset_base())
    });
    &PAGE
}

/// The portal's routes, to merge into the server's router (any state: the portal needs
/// none). `GET /ui` redirects to `/ui/`.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(PREFIX, get(|| async { Redirect::permanent("/ui/") }))
        .route("/ui/", get(page))
        .route("/ui/assets/{version}/{*path}", get(serve_asset))
        .route("/ui/{*route}", get(client_route))
        .layer(middleware::map_response(security_headers))
}

/// `GET /`: to the portal. The server owner may route the root here.
pub async fn redirect_to_portal() -> Redirect {
    Redirect::temporary("/ui/")
}

async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            // Revalidated at every load: the page is what names the current asset version.
            (header::CACHE_CONTROL, "no-cache"),
        ],
        index_html(),
    )
        .into_response()
}

/// A path the page routes itself (`/ui/orders/{id}`), loaded directly or reloaded. Paths
/// under `assets/` are files, never the page: a wrong asset URL must fail loudly rather than
/// load HTML as a script.
async fn client_route(Path(route): Path<String>) -> Response {
    if route == "assets" || route.starts_with("assets/") {
        return not_found();
    }
    page().await
}

async fn serve_asset(Path((version, path)): Path<(String, String)>) -> Response {
    // Only this build's version: an old page asking for its old files gets a clear 404
    // instead of a mix of versions.
    if version != self::version() {
        return not_found();
    }
    match asset(&path) {
        Some(a) if a.path != "index.html" => (
            [
                (header::CONTENT_TYPE, a.content_type),
                (header::CACHE_CONTROL, IMMUTABLE),
            ],
            a.bytes,
        )
            .into_response(),
        _ => not_found(),
    }
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        "no such portal asset",
    )
        .into_response()
}

async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Links out of the portal do not carry order ids or run names along.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

#[cfg(test)]
mod tests;
