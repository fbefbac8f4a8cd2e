//! The portal's files, compiled into the binary: no file is read at run time, so the portal
//! is exactly what was built and works wherever the binary runs.

/// One file of the portal.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    /// Its path under the asset base: `app.js`, `views/run.js`.
    pub path: &'static str,
    pub bytes: &'static [u8],
    /// What it is served as.
    pub content_type: &'static str,
}

/// The content type of a file by its extension (every extension the portal ships).
const fn content_type(path: &str) -> &'static str {
    let b = path.as_bytes();
    if ends_with(b, b".js") {
        "text/javascript; charset=utf-8"
    } else if ends_with(b, b".css") {
        "text/css; charset=utf-8"
    } else if ends_with(b, b".svg") {
        "image/svg+xml"
    } else if ends_with(b, b".html") {
        "text/html; charset=utf-8"
    } else {
        "application/octet-stream"
    }
}

const fn ends_with(s: &[u8], suffix: &[u8]) -> bool {
    if s.len() < suffix.len() {
        return false;
    }
    let start = s.len() - suffix.len();
    let mut i = 0;
    while i < suffix.len() {
        if s[start + i] != suffix[i] {
            return false;
        }
        i += 1;
    }
    true
}

macro_rules! embed {
    ($($path:literal),* $(,)?) => {
        &[$(Asset {
            path: $path,
            bytes: include_bytes!(concat!("../assets/", $path)),
            content_type: content_type($path),
        }),*]
    };
}

/// Every file under `assets/` (a test checks the list against the directory).
static ASSETS: &[Asset] = embed![
    "index.html",
    "portal.css",
    "favicon.svg",
    "app.js",
    "api.js",
    "dom.js",
    "form.js",
    "format.js",
    "formats.js",
    "graph.js",
    "live.js",
    "logs.js",
    "router.js",
    "schema.js",
    "session.js",
    "views/approval.js",
    "views/approvals.js",
    "views/catalog.js",
    "views/events.js",
    "views/eventsources.js",
    "views/order-form.js",
    "views/order.js",
    "views/orders.js",
    "views/run.js",
    "views/runs.js",
    "views/sensors.js",
    "views/signin.js",
];

/// The page's template: `%ASSET_BASE%` stands for `/ui/assets/<version>`.
pub(crate) const INDEX_HTML: &[u8] = include_bytes!("../assets/index.html");

/// Every file of the portal.
pub fn assets() -> &'static [Asset] {
    ASSETS
}

/// The file at `path` under the asset base.
pub fn asset(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}
