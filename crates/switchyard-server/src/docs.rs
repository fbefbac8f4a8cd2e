//! The API's description: `GET /openapi.json` (OpenAPI 3.1, generated from the catalog at
//! each request, so a newly applied offering appears at once) and the interactive docs at
//! `/docs` (Swagger UI, whose assets ship inside the binary: the page works offline).

use axum::Json;
use axum::Router;
use axum::extract::State;
use serde_json::{Value, json};
use switchyard_catalog::ApiInfo;
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::state::AppState;

pub const OPENAPI_PATH: &str = "/openapi.json";
pub const DOCS_PATH: &str = "/docs";

/// The Swagger UI routes under [`DOCS_PATH`], reading [`OPENAPI_PATH`].
pub fn docs_router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let config = Config::new([OPENAPI_PATH])
        .persist_authorization(true)
        .try_it_out_enabled(true)
        .display_request_duration(true);
    Router::from(SwaggerUi::new(DOCS_PATH).config(config))
}

/// `GET /openapi.json`.
pub async fn openapi(State(state): State<AppState>) -> Json<Value> {
    let catalog = state.catalog();
    let info = ApiInfo {
        title: "Switchyard platform API".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        description: "Order what the platform offers, follow each order to the runs it started, \
            and approve or reject what waits for a human. Every route except health and these \
            docs needs `Authorization: Bearer <token>`."
            .to_owned(),
    };
    Json(switchyard_catalog::openapi(
        catalog.offerings(),
        info,
        control_paths(),
    ))
}

fn error_responses() -> Value {
    json!({
        "401": {"description": "No bearer token, or one the server does not know"},
        "403": {"description": "The token's roles do not allow this"},
        "404": {"description": "No such object"},
        "503": {"description": "Storage busy or failing; retry after `Retry-After` seconds"},
    })
}

fn ns_param() -> Value {
    json!({"name": "ns", "in": "path", "required": true, "schema": {"type": "string"}})
}

fn name_param() -> Value {
    json!({"name": "name", "in": "path", "required": true, "schema": {"type": "string"}})
}

fn ok(description: &str) -> Value {
    let mut r = error_responses();
    r["200"] = json!({
        "description": description,
        "content": {"application/json": {"schema": {"type": "object"}}},
    });
    r
}

/// The control API's main routes, for the same document.
fn control_paths() -> Value {
    json!({
        "/api/v1/catalog": {"get": {
            "tags": ["catalog"], "operationId": "listOfferings",
            "summary": "The offering catalog, with what the caller may order and approve",
            "responses": ok("The offerings"),
        }},
        "/api/v1/whoami": {"get": {
            "tags": ["auth"], "operationId": "whoami",
            "summary": "The caller's name and roles",
            "responses": ok("The caller"),
        }},
        "/api/v1/tokens": {
            "get": {
                "tags": ["auth"], "operationId": "listTokens",
                "summary": "Issued tokens (admin); the tokens themselves are never shown again",
                "responses": ok("The tokens"),
            },
            "post": {
                "tags": ["auth"], "operationId": "createToken",
                "summary": "Issue a token with roles (admin); the answer holds the token, once",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["name", "roles"], "additionalProperties": false,
                    "properties": {
                        "name": {"type": "string", "examples": ["alice"]},
                        "roles": {"type": "array", "items": {"type": "string"}, "examples": [["orderer"]]},
                    },
                }}}},
                "responses": {"201": {"description": "The token, shown this once"}, "409": {"description": "A token with that name exists"}},
            },
        },
        "/api/v1/tokens/{name}": {"delete": {
            "tags": ["auth"], "operationId": "revokeToken",
            "summary": "Revoke a token (admin); it stops working at once",
            "parameters": [name_param()],
            "responses": ok("The revoked token's record"),
        }},
        "/api/v1/apply": {"post": {
            "tags": ["control"], "operationId": "apply",
            "summary": "Apply manifests (admin): all or nothing, with located diagnostics",
            "requestBody": {"required": true, "content": {"application/json": {"schema": {
                "type": "object", "required": ["sources"],
                "properties": {
                    "sources": {"type": "array", "items": {"type": "object", "properties": {
                        "name": {"type": "string"}, "content": {"type": "string"}}}},
                    "namespace": {"type": "string"},
                    "dryRun": {"type": "boolean"},
                },
            }}}},
            "responses": ok("What each object became (created, configured, unchanged)"),
        }},
        "/api/v1/events": {"get": {
            "tags": ["events"], "operationId": "listEvents",
            "summary": "Recent events as sensors consumed them, and what they triggered",
            "parameters": [
                {"name": "namespace", "in": "query", "schema": {"type": "string"}},
                {"name": "source", "in": "query", "schema": {"type": "string"}},
                {"name": "sensor", "in": "query", "schema": {"type": "string"}},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
            ],
            "responses": ok("Events, newest first"),
        }},
        "/api/v1/namespaces/{ns}/workflows": {
            "get": {
                "tags": ["runs"], "operationId": "listWorkflows",
                "summary": "Workflow runs of a namespace, all at once or in pages",
                "parameters": [
                    ns_param(),
                    {"name": "limit", "in": "query", "description": "At most this many runs; the answer's `metadata.continue` then asks for the next page (0: every run). `listOptions.limit` is taken too.", "schema": {"type": "integer", "minimum": 0}},
                    {"name": "continue", "in": "query", "description": "The `metadata.continue` of the page before. `listOptions.continue` is taken too.", "schema": {"type": "string"}},
                ],
                "responses": ok("The runs"),
            },
            "post": {
                "tags": ["runs"], "operationId": "submitWorkflow",
                "summary": "Submit a Workflow (admin)",
                "parameters": [ns_param()],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object"}}}},
                "responses": {"201": {"description": "The run"}, "422": {"description": "The workflow cannot be submitted; diagnostics say where"}},
            },
        },
        "/api/v1/namespaces/{ns}/workflows/{name}": {"get": {
            "tags": ["runs"], "operationId": "getWorkflow",
            "summary": "A run with its node tree",
            "parameters": [ns_param(), name_param()],
            "responses": ok("The run"),
        }},
        "/api/v1/namespaces/{ns}/workflows/{name}/log": {"get": {
            "tags": ["runs"], "operationId": "workflowLog",
            "summary": "A run's step logs as NDJSON; `follow=true` streams them",
            "parameters": [
                ns_param(), name_param(),
                {"name": "step", "in": "query", "schema": {"type": "string"}},
                {"name": "follow", "in": "query", "schema": {"type": "boolean"}},
            ],
            "responses": {"200": {"description": "One JSON object per line", "content": {"application/x-ndjson": {"schema": {"type": "string"}}}}},
        }},
    })
}
