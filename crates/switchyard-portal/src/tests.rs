//! The router as a browser meets it (paths, types, caching, policy), and the assets as
//! shipped (complete, self-contained, no inline code).

use std::collections::BTreeSet;
use std::path::Path;

use axum::body::{Body, to_bytes};
use axum::http::{Method, Request, StatusCode, header};
use tower::ServiceExt;

use super::*;

async fn fetch(method: Method, uri: &str) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let app: Router = router();
    let response = app
        .oneshot(
            Request::builder()
                .method(method)
                .uri(uri)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    (status, headers, body)
}

fn header(headers: &axum::http::HeaderMap, name: header::HeaderName) -> &str {
    headers
        .get(&name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

#[tokio::test]
async fn the_page_names_this_builds_assets_and_is_never_cached() {
    for path in [
        "/ui/",
        "/ui/catalog",
        "/ui/orders/01a1fd77",
        "/ui/runs/ns/name",
    ] {
        let (status, headers, body) = fetch(Method::GET, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(
            header(&headers, header::CONTENT_TYPE),
            "text/html; charset=utf-8"
        );
        assert_eq!(header(&headers, header::CACHE_CONTROL), "no-cache");
        assert_eq!(
            header(&headers, header::CONTENT_SECURITY_POLICY),
            CONTENT_SECURITY_POLICY
        );
        let html = String::from_utf8(body).unwrap();
        let base = asset_base();
        assert!(
            html.contains(&format!("src=\"{base}/app.js\"")),
            "{path}: {html}"
        );
        assert!(html.contains(&format!("href=\"{base}/portal.css\"")));
        assert!(!html.contains("%ASSET_BASE%"));
    }
}

#[tokio::test]
async fn ui_without_a_slash_goes_to_the_page() {
    let (status, headers, _) = fetch(Method::GET, "/ui").await;
    assert_eq!(status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(header(&headers, header::LOCATION), "/ui/");
    let response = redirect_to_portal().await.into_response();
    assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(header(response.headers(), header::LOCATION), "/ui/");
}

#[tokio::test]
async fn assets_have_their_type_a_long_cache_and_the_policy() {
    let cases = [
        ("app.js", "text/javascript; charset=utf-8"),
        ("views/run.js", "text/javascript; charset=utf-8"),
        ("portal.css", "text/css; charset=utf-8"),
        ("favicon.svg", "image/svg+xml"),
    ];
    for (path, content_type) in cases {
        let uri = format!("{}/{path}", asset_base());
        let (status, headers, body) = fetch(Method::GET, &uri).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert_eq!(
            header(&headers, header::CONTENT_TYPE),
            content_type,
            "{uri}"
        );
        assert_eq!(
            header(&headers, header::CACHE_CONTROL),
            "public, max-age=31536000, immutable"
        );
        assert_eq!(
            header(&headers, header::CONTENT_SECURITY_POLICY),
            CONTENT_SECURITY_POLICY
        );
        assert_eq!(header(&headers, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
        assert_eq!(header(&headers, header::X_FRAME_OPTIONS), "DENY");
        assert_eq!(body, asset(path).unwrap().bytes);
    }
    // HEAD answers like GET, without the body.
    let (status, headers, body) = fetch(Method::HEAD, &format!("{}/app.js", asset_base())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        header(&headers, header::CONTENT_TYPE),
        "text/javascript; charset=utf-8"
    );
    assert!(body.is_empty());
}

#[tokio::test]
async fn wrong_asset_urls_are_404s_never_the_page() {
    let v = version();
    for uri in [
        "/ui/assets/0000000000000000/app.js".to_owned(),
        format!("/ui/assets/{v}/nope.js"),
        format!("/ui/assets/{v}/index.html"),
        format!("/ui/assets/{v}/views"),
        "/ui/assets/app.js".to_owned(),
        "/ui/assets".to_owned(),
    ] {
        let (status, headers, _) = fetch(Method::GET, &uri).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(header(&headers, header::CACHE_CONTROL), "no-store", "{uri}");
        assert_eq!(
            header(&headers, header::CONTENT_SECURITY_POLICY),
            CONTENT_SECURITY_POLICY
        );
    }
    let (status, _, _) = fetch(Method::POST, "/ui/").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[test]
fn the_version_is_a_hash_of_the_assets() {
    let v = version();
    assert_eq!(v.len(), 16);
    assert!(v.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(v, version());
}

fn assets_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets")
}

fn files_under(dir: &Path, prefix: &str, out: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        let path = format!("{prefix}{name}");
        if entry.file_type().unwrap().is_dir() {
            files_under(&entry.path(), &format!("{path}/"), out);
        } else {
            out.insert(path);
        }
    }
}

#[test]
fn every_file_in_the_assets_directory_is_served() {
    let mut on_disk = BTreeSet::new();
    files_under(&assets_dir(), "", &mut on_disk);
    let embedded: BTreeSet<String> = assets().iter().map(|a| a.path.to_owned()).collect();
    assert_eq!(on_disk, embedded, "update the list in assets.rs");
}

/// The relative module paths a script imports (`from './x.js'`, `from '../x.js'`).
fn imports(source: &str) -> Vec<String> {
    let mut out = Vec::new();
    for quote in ['\'', '"'] {
        let needle = format!("from {quote}");
        let mut rest = source;
        while let Some(at) = rest.find(&needle) {
            let tail = &rest[at + needle.len()..];
            if let Some(end) = tail.find(quote) {
                out.push(tail[..end].to_owned());
            }
            rest = tail;
        }
    }
    out
}

/// `a/b/../c.js` → `a/c.js`.
fn resolve(from: &str, import: &str) -> String {
    let mut parts: Vec<&str> = from.split('/').collect();
    parts.pop();
    for seg in import.split('/') {
        match seg {
            "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    parts.join("/")
}

#[test]
fn every_module_import_is_a_shipped_module() {
    for a in assets().iter().filter(|a| a.path.ends_with(".js")) {
        let source = std::str::from_utf8(a.bytes).unwrap();
        for import in imports(source) {
            assert!(
                import.starts_with("./") || import.starts_with("../"),
                "{}: `{import}` is not relative (modules load only from this origin and version)",
                a.path
            );
            let target = resolve(a.path, &import);
            assert!(
                asset(&target).is_some(),
                "{} imports {import}, which is not an asset",
                a.path
            );
        }
    }
}

#[test]
fn nothing_is_loaded_from_elsewhere_and_nothing_is_inline() {
    for a in assets() {
        let text = String::from_utf8_lossy(a.bytes);
        // The SVG namespace is a name, not an address anything is loaded from.
        let without_namespaces = text.replace("http://www.w3.org/2000/svg", "");
        assert!(
            !without_namespaces.contains("http://") && !without_namespaces.contains("https://"),
            "{} names another origin",
            a.path
        );
        assert!(!text.contains("//cdn"), "{}", a.path);
        if a.path.ends_with(".js") {
            // Markup is never built from strings: data from the API goes in as text.
            for banned in [
                "innerHTML",
                "outerHTML",
                "insertAdjacentHTML",
                "document.write",
                "eval(",
            ] {
                assert!(!text.contains(banned), "{} uses {banned}", a.path);
            }
        }
    }
    let page = String::from_utf8_lossy(assets::INDEX_HTML);
    assert_eq!(page.matches("<script").count(), 1);
    assert!(page.contains("<script type=\"module\" src="));
    assert!(!page.contains("style="));
    assert!(!page.contains("<style"));
    assert!(!has_handler_attribute(&page), "no inline event handlers");
}

/// Whether markup has an `onsomething=` attribute.
fn has_handler_attribute(html: &str) -> bool {
    html.match_indices(" on").any(|(at, _)| {
        let rest = &html[at + 3..];
        let name_len = rest.chars().take_while(char::is_ascii_alphabetic).count();
        name_len > 0 && rest[name_len..].starts_with('=')
    })
}

#[test]
fn module_import_parsing() {
    assert!(has_handler_attribute("<a onclick=\"x\">"));
    assert!(!has_handler_attribute("<p>go on = off</p> <p>only</p>"));
    assert_eq!(
        imports("import { a } from './a.js';\nimport b from \"../b.js\";"),
        vec!["./a.js".to_owned(), "../b.js".to_owned()]
    );
    assert_eq!(resolve("views/run.js", "../graph.js"), "graph.js");
    assert_eq!(resolve("app.js", "./views/run.js"), "views/run.js");
}
