//! Router tests: the whole HTTP surface driven with `oneshot`, no socket, over a real SQLite
//! store in a temporary directory.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use serde_json::{Value, json};
use switchyard_controller::{Controller, ControllerConfig};
use switchyard_executor::{LocalRunner, LocalRunnerConfig, ShimCommand};
use switchyard_model::Kind;
use switchyard_server::auth::{Authenticator, TokenHash};
use switchyard_server::{AdminToken, AppState, Principal, ServerConfig, open, router};
use switchyard_store::{
    ObjectKey, Precondition, PutOutcome, PutRequest, StatusUpdate, Store, StoreError, StoredObject,
};
use tempfile::TempDir;
use tower::ServiceExt;

struct Server {
    _dir: TempDir,
    app: Router,
    token: String,
}

async fn server() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig::new(dir.path().join("data"));
    let opened = open(&config).await.unwrap();
    let AdminToken::Created { token, .. } = opened.admin_token else {
        panic!("a fresh data directory must create an admin token");
    };
    Server {
        app: router(opened.state),
        _dir: dir,
        token,
    }
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

async fn send(
    app: &Router,
    method: &str,
    uri: &str,
    authorization: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    let request = match body {
        Some(body) => request
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string())),
        None => request.body(Body::empty()),
    }
    .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Reply {
        status,
        headers,
        body,
    }
}

impl Server {
    async fn call(&self, method: &str, uri: &str, body: Option<Value>) -> Reply {
        let auth = format!("Bearer {}", self.token);
        send(&self.app, method, uri, Some(&auth), body).await
    }

    async fn apply(&self, files: &[(&str, &str)], namespace: Option<&str>, dry_run: bool) -> Reply {
        let sources: Vec<Value> = files
            .iter()
            .map(|(name, content)| json!({"name": name, "content": content}))
            .collect();
        let mut body = json!({"sources": sources, "dryRun": dry_run});
        if let Some(ns) = namespace {
            body["namespace"] = json!(ns);
        }
        self.call("POST", "/api/v1/apply", Some(body)).await
    }
}

fn config_map(name: &str, namespace: Option<&str>, region: &str) -> String {
    let ns = namespace.map_or(String::new(), |ns| format!("\n  namespace: {ns}"));
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}{ns}\ndata:\n  region: {region}\n"
    )
}

const TEMPLATE: &str = "\
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata:
  name: hello
  namespace: team-a
spec:
  entrypoint: main
  templates:
    - name: main
      container:
        image: alpine:3.20
        command: [echo, hello]
";

const CLUSTER_TEMPLATE: &str = "\
apiVersion: argoproj.io/v1alpha1
kind: ClusterWorkflowTemplate
metadata:
  name: build
  namespace: oops
spec:
  entrypoint: main
  templates:
    - name: main
      container:
        image: alpine:3.20
";

const SECRET: &str = "\
apiVersion: v1
kind: Secret
metadata:
  name: db
type: Opaque
data:
  password: aHVudGVyMg==
stringData:
  token: plain-token
";

#[tokio::test]
async fn api_routes_need_a_valid_bearer_token() {
    let s = server().await;
    let missing = "missing bearer token: send `Authorization: Bearer <token>` (the admin token is in the server's data directory, file admin.token)";
    let malformed = "malformed Authorization header: expected `Authorization: Bearer <token>`";
    let wrong = "the bearer token is not valid";
    let auth_cases = [
        (None, missing),
        (Some("Bearer syd_0000"), wrong),
        (Some("bearer syd_0000"), wrong),
        (Some("Basic dXNlcjpwYXNz"), malformed),
        (Some("Bearer "), malformed),
        (Some("syd_0000"), malformed),
    ];
    let routes = [
        ("GET", "/api/v1/configmaps"),
        ("GET", "/api/v1/namespaces/default/configmaps"),
        ("GET", "/api/v1/namespaces/default/configmaps/x"),
        ("DELETE", "/api/v1/namespaces/default/configmaps/x"),
        ("GET", "/api/v1/clusterworkflowtemplates/x"),
        ("DELETE", "/api/v1/clusterworkflowtemplates/x"),
        ("POST", "/api/v1/apply"),
    ];
    for (method, uri) in routes {
        for (authorization, message) in auth_cases {
            let r = send(&s.app, method, uri, authorization, None).await;
            assert_eq!(
                r.status,
                StatusCode::UNAUTHORIZED,
                "{method} {uri} {authorization:?}"
            );
            assert_eq!(
                r.headers.get(header::WWW_AUTHENTICATE).unwrap(),
                "Bearer realm=\"switchyard\""
            );
            assert_eq!(
                r.body,
                json!({"message": message, "code": "unauthorized", "type": "auth"}),
                "{method} {uri} {authorization:?}"
            );
        }
    }
    // The right token gets in; health and metrics need none.
    let r = s.call("GET", "/api/v1/configmaps", None).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = send(&s.app, "GET", "/healthz", None, None).await;
    assert_eq!((r.status, r.body), (StatusCode::OK, json!("ok")));
}

#[tokio::test]
async fn apply_reports_created_configured_unchanged() {
    let s = server().await;
    let cm_v1 = config_map("settings", None, "eu-west-1");
    let cm_v2 = config_map("settings", None, "us-east-2");
    let created = json!({"results": [
        {"kind": "ConfigMap", "namespace": "default", "name": "settings", "action": "created"},
        {"kind": "WorkflowTemplate", "namespace": "team-a", "name": "hello", "action": "created"},
    ]});
    let unchanged = json!({"results": [
        {"kind": "ConfigMap", "namespace": "default", "name": "settings", "action": "unchanged"},
        {"kind": "WorkflowTemplate", "namespace": "team-a", "name": "hello", "action": "unchanged"},
    ]});
    let configured = json!({"results": [
        {"kind": "ConfigMap", "namespace": "default", "name": "settings", "action": "configured"},
        {"kind": "WorkflowTemplate", "namespace": "team-a", "name": "hello", "action": "unchanged"},
    ]});
    let steps = [(&cm_v1, created), (&cm_v1, unchanged), (&cm_v2, configured)];
    for (cm, want) in steps {
        let r = s
            .apply(
                &[("cm.yaml", cm.as_str()), ("wft.yaml", TEMPLATE)],
                None,
                false,
            )
            .await;
        assert_eq!((r.status, r.body), (StatusCode::OK, want));
    }
    let r = s
        .call(
            "GET",
            "/api/v1/namespaces/default/configmaps/settings",
            None,
        )
        .await;
    assert_eq!(r.body["data"], json!({"region": "us-east-2"}));
    assert_eq!(r.body["metadata"]["generation"], json!(2));
}

#[tokio::test]
async fn generate_name_creates_a_new_object_each_time() {
    let s = server().await;
    let manifest =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  generateName: run-\ndata:\n  a: b\n";
    let mut names = Vec::new();
    for _ in 0..2 {
        let r = s.apply(&[("gen.yaml", manifest)], None, false).await;
        assert_eq!(r.status, StatusCode::OK);
        let result = &r.body["results"][0];
        assert_eq!(result["action"], "created");
        let name = result["name"].as_str().unwrap().to_owned();
        assert!(
            name.starts_with("run-") && name.len() == "run-".len() + 5,
            "{name}"
        );
        names.push(name);
    }
    assert_ne!(names[0], names[1]);
    let r = s
        .call("GET", "/api/v1/namespaces/default/configmaps", None)
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn references_are_checked_against_the_store_and_the_request() {
    let s = server().await;
    let workflow = "\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: hello-
  namespace: team-a
spec:
  workflowTemplateRef:
    name: hello
";
    // Alone: the template is neither stored nor in the request. A Workflow is a run, and a
    // run of a template that does not exist is refused, located in the manifest.
    let not_found = json!([{"severity": "error",
        "message": "WorkflowTemplate `hello` not found",
        "file": "wf.yaml", "line": 8, "column": 11, "path": "spec.workflowTemplateRef.name"}]);
    for dry_run in [true, false] {
        let r = s.apply(&[("wf.yaml", workflow)], None, dry_run).await;
        assert_eq!(
            (r.status, &r.body["diagnostics"]),
            (StatusCode::UNPROCESSABLE_ENTITY, &not_found)
        );
    }
    let r = s
        .call("GET", "/api/v1/namespaces/team-a/workflows", None)
        .await;
    assert_eq!(r.body["items"], json!([]));
    // In the same request: found there.
    let r = s
        .apply(&[("wf.yaml", workflow), ("wft.yaml", TEMPLATE)], None, true)
        .await;
    assert_eq!(
        (r.status, r.body.get("diagnostics")),
        (StatusCode::OK, None)
    );
    // Applied earlier: found in the store.
    s.apply(&[("wft.yaml", TEMPLATE)], None, false).await;
    let r = s.apply(&[("wf.yaml", workflow)], None, false).await;
    assert_eq!(
        (r.status, r.body.get("diagnostics")),
        (StatusCode::OK, None)
    );
    assert_eq!(r.body["results"][0]["kind"], "Workflow");
    assert_eq!(r.body["results"][0]["action"], "created");
}

#[tokio::test]
async fn dry_run_reports_without_changing() {
    let s = server().await;
    let cm = config_map("settings", None, "eu-west-1");
    s.apply(&[("cm.yaml", &cm)], None, false).await;
    let changed = config_map("settings", None, "us-east-2");
    let new = config_map("fresh", Some("team-b"), "eu-west-1");
    let r = s
        .apply(
            &[("a.yaml", &changed), ("b.yaml", &new), ("c.yaml", &cm)],
            None,
            true,
        )
        .await;
    // `c.yaml` repeats `settings`: rejected as a duplicate, so check the first two alone.
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = s
        .apply(&[("a.yaml", &changed), ("b.yaml", &new)], None, true)
        .await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::OK,
            json!({"results": [
                {"kind": "ConfigMap", "namespace": "default", "name": "settings", "action": "configured"},
                {"kind": "ConfigMap", "namespace": "team-b", "name": "fresh", "action": "created"},
            ], "dryRun": true})
        )
    );
    let r = s
        .call(
            "GET",
            "/api/v1/namespaces/default/configmaps/settings",
            None,
        )
        .await;
    assert_eq!(r.body["data"], json!({"region": "eu-west-1"}));
    let r = s
        .call("GET", "/api/v1/namespaces/team-b/configmaps/fresh", None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn apply_with_any_error_changes_nothing_and_locates_every_problem() {
    let s = server().await;
    s.apply(
        &[("cm.yaml", &config_map("settings", None, "eu-west-1"))],
        None,
        false,
    )
    .await;

    let bad = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  colour: blue
data:
  region: us-east-2
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: r
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
";
    let other = config_map("other", Some("team-a"), "x");
    let cases = [
        (
            vec![("bad.yaml", bad), ("other.yaml", other.as_str())],
            None,
            json!({
                "message": "2 errors in the manifests; nothing was applied",
                "code": "invalid_manifest",
                "type": "invalid_request",
                "diagnostics": [
                    {"severity": "warning", "message": "unknown field `colour` in ObjectMeta; it is ignored",
                     "file": "bad.yaml", "line": 5, "column": 3, "path": "metadata.colour"},
                    {"severity": "error", "message": "unknown kind `Rollout`; Switchyard accepts EventBus, EventSource, Sensor, Workflow, WorkflowTemplate, ClusterWorkflowTemplate, CronWorkflow, Secret, ConfigMap, Offering, Order",
                     "file": "bad.yaml", "line": 10, "column": 7, "path": "kind"},
                    {"severity": "error", "message": "ConfigMap `settings` is defined twice in this request (first in bad.yaml document 1)",
                     "file": "bad.yaml", "line": 17, "column": 9, "path": "metadata.name"},
                ]
            }),
        ),
        (
            vec![("other.yaml", other.as_str())],
            Some("team-b"),
            json!({
                "message": "1 error in the manifests; nothing was applied",
                "code": "invalid_manifest",
                "type": "invalid_request",
                "diagnostics": [
                    {"severity": "error", "message": "the object is in namespace `team-a` but the request is for namespace `team-b`; drop `-n team-b` or change the manifest",
                     "file": "other.yaml", "line": 5, "column": 14, "path": "metadata.namespace"},
                ]
            }),
        ),
    ];
    for (files, namespace, want) in cases {
        let r = s.apply(&files, namespace, false).await;
        assert_eq!((r.status, r.body), (StatusCode::UNPROCESSABLE_ENTITY, want));
    }

    // Nothing changed: the first ConfigMap keeps its data, the valid new one was not created.
    let r = s
        .call(
            "GET",
            "/api/v1/namespaces/default/configmaps/settings",
            None,
        )
        .await;
    assert_eq!(r.body["data"], json!({"region": "eu-west-1"}));
    assert_eq!(r.body["metadata"]["generation"], json!(1));
    let r = s.call("GET", "/api/v1/configmaps", None).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn malformed_requests_get_json_errors() {
    let s = server().await;
    let cases = [
        (
            "GET",
            "/api/v1/pods",
            StatusCode::NOT_FOUND,
            "not_found",
            "unknown resource type `pods`; known: eventbus, eventsources, sensors, workflows, workflowtemplates, clusterworkflowtemplates, cronworkflows, secrets, configmaps, offerings, orders",
        ),
        (
            "GET",
            "/api/v1/namespaces/default/clusterworkflowtemplates",
            StatusCode::NOT_FOUND,
            "not_found",
            "ClusterWorkflowTemplate is cluster-scoped and has no namespace; use /api/v1/clusterworkflowtemplates",
        ),
        (
            "GET",
            "/api/v1/namespaces/default/clusterworkflowtemplates/build",
            StatusCode::NOT_FOUND,
            "not_found",
            "ClusterWorkflowTemplate is cluster-scoped and has no namespace; use /api/v1/clusterworkflowtemplates/build",
        ),
        (
            "GET",
            "/api/v1/sensors/webhook",
            StatusCode::NOT_FOUND,
            "not_found",
            "Sensor is namespaced; use /api/v1/namespaces/{namespace}/sensors/webhook",
        ),
        (
            "GET",
            "/api/v1/namespaces/Team_A/configmaps",
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "invalid namespace \"Team_A\": use lowercase letters, digits and '-', at most 63 characters, starting and ending with a letter or digit",
        ),
        (
            "GET",
            "/api/v1/namespaces/default/configmaps/%2E%2E",
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "invalid name \"..\": a name may not be `.` or `..`, contain '/', '%' or control characters, or be longer than 253 bytes",
        ),
        (
            "GET",
            "/api/v1/namespaces/default/configmaps/a%2Fb",
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "invalid name \"a/b\": a name may not be `.` or `..`, contain '/', '%' or control characters, or be longer than 253 bytes",
        ),
        (
            "DELETE",
            "/api/v1/namespaces/default/configmaps/a%00b",
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "invalid name \"a\\0b\": a name may not be `.` or `..`, contain '/', '%' or control characters, or be longer than 253 bytes",
        ),
        (
            "GET",
            "/api/v1/configmaps?reveal=maybe",
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Failed to deserialize query string: reveal: provided string was not `true` or `false`; `reveal` takes `true` or `false`, `limit` a whole number, `continue` the `metadata.continue` of the page before",
        ),
        (
            "PUT",
            "/api/v1/apply",
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this route does not support that method",
        ),
        (
            "GET",
            "/nowhere",
            StatusCode::NOT_FOUND,
            "not_found",
            "no such route; the API lives under /api/v1 and offerings at their routes (GET /api/v1/catalog)",
        ),
    ];
    for (method, uri, status, code, message) in cases {
        let r = s.call(method, uri, None).await;
        assert_eq!(r.status, status, "{method} {uri}: {}", r.body);
        assert_eq!(r.body["code"], json!(code), "{method} {uri}");
        assert_eq!(r.body["message"], json!(message), "{method} {uri}");
    }

    let r = s
        .call("POST", "/api/v1/apply", Some(json!({"files": []})))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body["message"],
        json!(
            "the request body is not a valid apply request: Failed to deserialize the JSON body into the target type: missing field `sources` at line 1 column 12"
        )
    );
    let r = s
        .apply(
            &[("a.yaml", &config_map("a", None, "x"))],
            Some("Not Valid"),
            false,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    let request = Request::builder()
        .method("POST")
        .uri("/api/v1/apply")
        .header(header::AUTHORIZATION, format!("Bearer {}", s.token))
        .body(Body::from(r#"{"sources": []}"#))
        .unwrap();
    let response = s.app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&bytes).unwrap(),
        json!({"message": "send the apply request as JSON with `Content-Type: application/json`",
               "code": "invalid_request", "type": "invalid_request"})
    );
}

#[tokio::test]
async fn get_list_delete() {
    let s = server().await;
    let files = [
        ("c.yaml", config_map("c", None, "r3")),
        ("b.yaml", config_map("b", Some("team-a"), "r2")),
        ("a.yaml", config_map("a", None, "r1")),
    ];
    let files: Vec<(&str, &str)> = files.iter().map(|(n, c)| (*n, c.as_str())).collect();
    let r = s.apply(&files, None, false).await;
    assert_eq!(r.status, StatusCode::OK);

    let names = item_names;
    let lists = [
        (
            "/api/v1/configmaps",
            vec!["default/a", "default/c", "team-a/b"],
        ),
        (
            "/api/v1/namespaces/default/configmaps",
            vec!["default/a", "default/c"],
        ),
        ("/api/v1/namespaces/team-a/configmaps", vec!["team-a/b"]),
        ("/api/v1/namespaces/nobody/configmaps", vec![]),
    ];
    for (uri, want) in lists {
        let r = s.call("GET", uri, None).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.body["apiVersion"], "v1");
        assert_eq!(r.body["kind"], "List");
        assert_eq!(names(&r.body), want, "{uri}");
    }

    let r = s
        .call("GET", "/api/v1/namespaces/team-a/configmaps/b", None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let meta = &r.body["metadata"];
    assert_eq!(r.body["apiVersion"], "v1");
    assert_eq!(r.body["kind"], "ConfigMap");
    assert_eq!(r.body["data"], json!({"region": "r2"}));
    assert_eq!(
        (&meta["name"], &meta["namespace"]),
        (&json!("b"), &json!("team-a"))
    );
    assert_eq!(meta["generation"], json!(1));
    assert_eq!(meta["uid"].as_str().unwrap().len(), 36);
    assert!(
        meta["resourceVersion"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .is_ok()
    );
    assert!(meta["creationTimestamp"].as_str().unwrap().ends_with('Z'));

    let r = s
        .call("DELETE", "/api/v1/namespaces/team-a/configmaps/b", None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["metadata"]["name"], "b");
    for method in ["GET", "DELETE"] {
        let r = s
            .call(method, "/api/v1/namespaces/team-a/configmaps/b", None)
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{method}");
        assert_eq!(
            r.body,
            json!({"message": "ConfigMap `b` in namespace `team-a` not found", "code": "not_found", "type": "invalid_request"})
        );
    }
    let r = s.call("GET", "/api/v1/configmaps", None).await;
    assert_eq!(names(&r.body), vec!["default/a", "default/c"]);
}

/// `namespace/name` of each item of a list answer.
fn item_names(body: &Value) -> Vec<String> {
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            format!(
                "{}/{}",
                o["metadata"]["namespace"].as_str().unwrap_or(""),
                o["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect()
}

/// Every name of a list read page by page with `limit`, following `metadata.continue`.
async fn read_pages(s: &Server, base: &str, limit_param: &str, limit: usize) -> Vec<String> {
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..100 {
        let mut uri = format!("{base}?{limit_param}={limit}");
        if let Some(t) = &token {
            let param = limit_param.replace("limit", "continue");
            uri.push_str(&format!("&{param}={t}"));
        }
        let r = s.call("GET", &uri, None).await;
        assert_eq!(r.status, StatusCode::OK, "{uri}: {}", r.body);
        let items = r.body["items"].as_array().unwrap();
        assert!(items.len() <= limit, "{uri}");
        names.extend(item_names(&r.body));
        match r.body["metadata"]["continue"].as_str() {
            Some(t) => {
                assert_eq!(items.len(), limit, "a page before the last is full");
                token = Some(t.to_owned());
            }
            None => return names,
        }
    }
    panic!("{base}: more than 100 pages");
}

#[tokio::test]
async fn lists_come_in_pages_with_limit_and_continue() {
    let s = server().await;
    let mut files = Vec::new();
    for (i, ns) in [
        "default", "team-a", "default", "team-b", "default", "team-a", "default",
    ]
    .iter()
    .enumerate()
    {
        files.push((
            format!("{i}.yaml"),
            config_map(&format!("cm-{i}"), Some(ns), "r"),
        ));
    }
    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, c)| (n.as_str(), c.as_str()))
        .collect();
    assert_eq!(s.apply(&files, None, false).await.status, StatusCode::OK);
    let r = s.call("GET", "/api/v1/configmaps", None).await;
    assert!(
        r.body.get("metadata").is_none(),
        "a whole list has no continue"
    );
    let whole = item_names(&r.body);
    assert_eq!(whole.len(), 7);
    for limit in [1, 2, 3, 7, 50] {
        assert_eq!(
            read_pages(&s, "/api/v1/configmaps", "limit", limit).await,
            whole,
            "limit {limit}"
        );
        // Argo's names for the same parameters.
        assert_eq!(
            read_pages(&s, "/api/v1/configmaps", "listOptions.limit", limit).await,
            whole,
            "listOptions.limit {limit}"
        );
    }
    let default: Vec<String> = whole
        .iter()
        .filter(|n| n.starts_with("default/"))
        .cloned()
        .collect();
    assert_eq!(
        read_pages(&s, "/api/v1/namespaces/default/configmaps", "limit", 3).await,
        default
    );
    // `limit=0` is no limit.
    let r = s.call("GET", "/api/v1/configmaps?limit=0", None).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 7);

    // A token of another list, a made-up one, `continue` without `limit`, a bad `limit`.
    let r = s
        .call("GET", "/api/v1/namespaces/default/configmaps?limit=1", None)
        .await;
    let token = r.body["metadata"]["continue"].as_str().unwrap().to_owned();
    let bad = [
        (
            format!("/api/v1/namespaces/team-a/configmaps?limit=1&continue={token}"),
            "`continue` belongs to another list (ConfigMap in namespace `default`)",
        ),
        (
            format!("/api/v1/configmaps?limit=1&continue={token}"),
            "belongs to another list",
        ),
        (
            "/api/v1/configmaps?limit=1&continue=made-up".to_owned(),
            "`continue` is not a token this server gave out",
        ),
        (
            format!("/api/v1/namespaces/default/configmaps?continue={token}"),
            "`continue` needs `limit`",
        ),
        (
            "/api/v1/configmaps?limit=many".to_owned(),
            "`limit` a whole number",
        ),
    ];
    for (uri, want) in bad {
        let r = s.call("GET", &uri, None).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{uri}: {}", r.body);
        let message = r.body["message"].as_str().unwrap();
        assert!(message.contains(want), "{uri}: {message}");
    }
}

#[tokio::test]
async fn secret_values_are_redacted_unless_revealed() {
    let s = server().await;
    let r = s.apply(&[("secret.yaml", SECRET)], None, false).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.body.to_string().contains("plain-token"));

    let redacted = (
        json!({"password": "<redacted>"}),
        json!({"token": "<redacted>"}),
    );
    let clear = (
        json!({"password": "aHVudGVyMg=="}),
        json!({"token": "plain-token"}),
    );
    let single = "/api/v1/namespaces/default/secrets/db";
    let cases = [
        (single.to_owned(), &redacted),
        (format!("{single}?reveal=false"), &redacted),
        (format!("{single}?reveal=true"), &clear),
    ];
    for (uri, (data, string_data)) in cases {
        let r = s.call("GET", &uri, None).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(
            (&r.body["data"], &r.body["stringData"]),
            (data, string_data),
            "{uri}"
        );
        assert_eq!(r.body["type"], "Opaque");
    }
    let lists = [
        ("/api/v1/secrets", &redacted),
        ("/api/v1/namespaces/default/secrets", &redacted),
        ("/api/v1/secrets?reveal=true", &clear),
    ];
    for (uri, (data, string_data)) in lists {
        let r = s.call("GET", uri, None).await;
        let item = &r.body["items"][0];
        assert_eq!(
            (&item["data"], &item["stringData"]),
            (data, string_data),
            "{uri}"
        );
    }
    let r = s.call("DELETE", single, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        (&r.body["data"], &r.body["stringData"]),
        (&redacted.0, &redacted.1)
    );
}

#[tokio::test]
async fn cluster_scoped_kinds_have_no_namespace() {
    let s = server().await;
    let r = s
        .apply(&[("cwft.yaml", CLUSTER_TEMPLATE)], Some("team-a"), false)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body["results"],
        json!([{"kind": "ClusterWorkflowTemplate", "name": "build", "action": "created"}])
    );
    let warnings: Vec<&Value> = r.body["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["path"] == "metadata.namespace")
        .collect();
    assert_eq!(
        warnings,
        vec![&json!({"severity": "warning",
            "message": "ClusterWorkflowTemplate is cluster-scoped; the namespace is ignored",
            "file": "cwft.yaml", "line": 5, "column": 14, "path": "metadata.namespace"})]
    );

    let r = s
        .call("GET", "/api/v1/clusterworkflowtemplates/build", None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["metadata"]["name"], "build");
    assert_eq!(r.body["metadata"].get("namespace"), None);
    let r = s
        .call("GET", "/api/v1/clusterworkflowtemplates", None)
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);

    let r = s
        .call("DELETE", "/api/v1/clusterworkflowtemplates/build", None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = s
        .call("GET", "/api/v1/clusterworkflowtemplates/build", None)
        .await;
    assert_eq!(
        (r.status, &r.body["message"]),
        (
            StatusCode::NOT_FOUND,
            &json!("ClusterWorkflowTemplate `build` not found")
        )
    );
}

#[tokio::test]
async fn oversize_bodies_are_refused_with_413() {
    let s = server().await;
    let oversize = vec![b' '; switchyard_server::config::DEFAULT_MAX_BODY_BYTES + 1];
    let auth = format!("Bearer {}", s.token);
    // With a declared length (refused before reading) and without one (refused while
    // reading), with and without a token.
    for declare_length in [true, false] {
        for authorization in [Some(auth.as_str()), None] {
            let mut request = Request::builder()
                .method("POST")
                .uri("/api/v1/apply")
                .header(header::CONTENT_TYPE, "application/json");
            if declare_length {
                request = request.header(header::CONTENT_LENGTH, oversize.len());
            }
            if let Some(value) = authorization {
                request = request.header(header::AUTHORIZATION, value);
            }
            let request = request.body(Body::from(oversize.clone())).unwrap();
            let response = s.app.clone().oneshot(request).await.unwrap();
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            let body: Value = serde_json::from_slice(&bytes).unwrap();
            let case = format!(
                "length declared: {declare_length}, token: {}",
                authorization.is_some()
            );
            if !declare_length && authorization.is_none() {
                // Without a length the limit bites only when the body is read; a request
                // without a token is refused before that.
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}");
                continue;
            }
            assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{case}");
            assert_eq!(body["code"], "payload_too_large", "{case}");
        }
    }
}

#[tokio::test]
async fn health_metrics_and_request_ids() {
    let s = server().await;
    s.apply(&[("cm.yaml", &config_map("m", None, "x"))], None, false)
        .await;
    let r = send(&s.app, "GET", "/healthz", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let id = r.headers.get("x-request-id").unwrap().to_str().unwrap();
    assert_eq!(id.len(), 36, "{id}");

    let r = send(&s.app, "GET", "/metrics", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let text = r.body.as_str().unwrap();
    for needle in [
        "switchyard_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"}",
        "switchyard_http_requests_total{method=\"POST\",route=\"/api/v1/apply\",status=\"200\"}",
        "switchyard_http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\",le=\"0.001\"}",
        "switchyard_objects{kind=\"ConfigMap\"}",
        "switchyard_objects{kind=\"Sensor\"}",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
}

#[tokio::test]
async fn admin_token_is_created_once_kept_and_rotated() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServerConfig::new(dir.path().join("data"));
    let token_path = config.admin_token_path();

    let first = open(&config).await.unwrap();
    let AdminToken::Created { token, path } = first.admin_token.clone() else {
        panic!("first start creates a token");
    };
    assert_eq!(path, token_path);
    assert!(token.starts_with("syd_"));
    assert_eq!(
        std::fs::read_to_string(&token_path).unwrap(),
        format!("{token}\n")
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&token_path), 0o600);
        assert_eq!(mode(&config.data_dir), 0o700);
    }
    assert!(!first.admin_token.announcement().is_empty());
    first.state.pipeline().shutdown().await;
    drop(first);

    let again = open(&config).await.unwrap();
    assert_eq!(
        again.admin_token,
        AdminToken::Existing {
            path: token_path.clone(),
            file_present: true
        }
    );
    assert_eq!(
        again.admin_token.announcement(),
        format!("admin token: {}", token_path.display())
    );
    let pipeline = again.state.pipeline().clone();
    let app = router(again.state);
    let r = send(
        &app,
        "GET",
        "/api/v1/configmaps",
        Some(&format!("Bearer {token}")),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    drop(app);
    pipeline.shutdown().await;

    std::fs::remove_file(&token_path).unwrap();
    let lost = open(&config).await.unwrap();
    assert_eq!(
        lost.admin_token,
        AdminToken::Existing {
            path: token_path.clone(),
            file_present: false
        }
    );
    lost.state.pipeline().shutdown().await;
    drop(lost);

    config.rotate_admin_token = true;
    let rotated = open(&config).await.unwrap();
    let AdminToken::Created {
        token: new_token, ..
    } = rotated.admin_token
    else {
        panic!("rotation creates a token");
    };
    assert_ne!(new_token, token);
    let app = router(rotated.state);
    let old = send(
        &app,
        "GET",
        "/api/v1/configmaps",
        Some(&format!("Bearer {token}")),
        None,
    )
    .await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
    let new = send(
        &app,
        "GET",
        "/api/v1/configmaps",
        Some(&format!("Bearer {new_token}")),
        None,
    )
    .await;
    assert_eq!(new.status, StatusCode::OK);
}

/// A store whose disk is full.
struct FullDisk;

fn full() -> StoreError {
    StoreError::Unavailable {
        reason: "disk full".into(),
    }
}

#[async_trait]
impl Store for FullDisk {
    async fn put(&self, _: PutRequest) -> Result<PutOutcome, StoreError> {
        Err(full())
    }
    async fn put_many(&self, _: Vec<PutRequest>) -> Result<Vec<PutOutcome>, StoreError> {
        Err(full())
    }
    async fn get(&self, _: &ObjectKey) -> Result<Option<StoredObject>, StoreError> {
        Err(full())
    }
    async fn list(&self, _: Kind, _: Option<&str>) -> Result<Vec<StoredObject>, StoreError> {
        Err(full())
    }
    async fn list_page(
        &self,
        _: Kind,
        _: Option<&str>,
        _: &switchyard_store::PageRequest,
    ) -> Result<switchyard_store::Page, StoreError> {
        Err(full())
    }
    async fn delete(
        &self,
        _: &ObjectKey,
        _: Precondition,
    ) -> Result<Option<StoredObject>, StoreError> {
        Err(full())
    }
    async fn get_meta(&self, _: &str) -> Result<Option<String>, StoreError> {
        Err(full())
    }
    async fn put_meta(&self, _: &str, _: &str) -> Result<(), StoreError> {
        Err(full())
    }
    async fn delete_meta(&self, _: &str) -> Result<(), StoreError> {
        Err(full())
    }
    async fn put_status(&self, _: StatusUpdate) -> Result<StoredObject, StoreError> {
        Err(full())
    }
    async fn put_status_fenced(
        &self,
        _: StatusUpdate,
        _: &switchyard_store::Fence,
    ) -> Result<StoredObject, StoreError> {
        Err(full())
    }
    async fn step_log(&self, _: &ObjectKey, _: &str) -> Result<Option<String>, StoreError> {
        Err(full())
    }
    async fn acquire_lease(
        &self,
        _: &str,
        _: &str,
        _: std::time::Duration,
    ) -> Result<Result<switchyard_store::Lease, switchyard_store::Lease>, StoreError> {
        Err(full())
    }
    async fn release_lease(&self, _: &str, _: &str) -> Result<(), StoreError> {
        Err(full())
    }
}

#[tokio::test]
async fn an_unavailable_store_answers_503_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig::new(dir.path());
    let mut auth = Authenticator::new();
    auth.add(TokenHash::of("syd_test"), Principal::admin());
    let store: Arc<dyn Store> = Arc::new(FullDisk);
    let runner = Arc::new(LocalRunner::new(LocalRunnerConfig {
        root: dir.path().join("steps"),
        shim: ShimCommand {
            program: "/bin/false".into(),
            args_prefix: Vec::new(),
        },
        max_parallel: 1,
        default_grace: std::time::Duration::from_secs(1),
        image_tools: Vec::new(),
    }));
    let controller = Controller::new(store.clone(), runner, ControllerConfig::default());
    // The ledger works (its own database); only the object store is full.
    let ledger: Arc<dyn switchyard_store::ledger::EventLedger> = Arc::new(
        switchyard_store_sqlite::SqliteStore::open(
            &dir.path().join("ledger.db"),
            switchyard_store::SecretSealer::load_or_create(dir.path()).unwrap(),
        )
        .unwrap(),
    );
    let bus = switchyard_server::state::open_bus(&config).await.unwrap();
    let pipeline = switchyard_server::state::event_pipeline(
        &config,
        store.clone(),
        ledger.clone(),
        bus.clone(),
        controller.clone(),
        "test",
    )
    .await
    .unwrap();
    let lease = switchyard_store::Lease {
        name: "controller".into(),
        holder: "test".into(),
        token: 1,
        expires_at: chrono::Utc::now(),
    };
    let app = router(AppState::new(
        switchyard_server::state::Parts {
            store,
            ledger,
            controller,
            pipeline,
            authenticator: auth,
            lease: Some(lease),
            holder: "test".into(),
            bus,
            run_inbox: None,
            worker: None,
        },
        &config,
    ));
    let apply = json!({"sources": [{"name": "cm.yaml", "content": config_map("a", None, "x")}]});
    let cases = [
        ("GET", "/api/v1/configmaps", None),
        ("GET", "/api/v1/namespaces/default/configmaps/a", None),
        ("DELETE", "/api/v1/namespaces/default/configmaps/a", None),
        ("POST", "/api/v1/apply", Some(apply)),
    ];
    for (method, uri, body) in cases {
        let r = send(&app, method, uri, Some("Bearer syd_test"), body).await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{method} {uri}");
        assert_eq!(r.headers.get(header::RETRY_AFTER).unwrap(), "1");
        assert_eq!(
            r.body,
            json!({"message": "store unavailable: disk full; retry later", "code": "unavailable", "type": "system"})
        );
    }
}
