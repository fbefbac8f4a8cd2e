//! The OpenAPI document: its shape, names that stay unique, and validity against the OpenAPI 3.1 schema (checked
//! with the Python `openapi-spec-validator` when it is installed; required when `CI=true`).

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use switchyard_catalog::{ApiInfo, Offering, openapi};

fn offering(ns: &str, name: &str, route: &str, title: &str) -> Offering {
    Offering::from_manifest(
        ns,
        name,
        &json!({
            "route": route,
            "title": title,
            "description": format!("Order **{title}**."),
            "event": {"eventSourceName": "webhook", "eventName": name},
            "access": {"order": ["dev"], "approve": ["lead", "admin"]},
            "input": {
                "type": "object",
                "required": ["region", "name"],
                "properties": {
                    "region": {"type": "string", "enum": ["eastus2", "westeurope"], "default": "eastus2"},
                    "name": {"type": "string", "pattern": "^[a-z]+$", "examples": ["dev"]},
                    "replicas": {"type": "integer", "minimum": 1, "default": 2.0},
                    "network": {"type": "object", "properties": {"cidr": {"type": "string", "format": "uri"}}},
                    "tags": {"type": "array", "items": {"type": "object", "properties": {"k": {"type": "string"}}}, "uniqueItems": true}
                }
            }
        }),
    )
    .unwrap()
}

fn info() -> ApiInfo {
    ApiInfo {
        title: "Switchyard".into(),
        version: "0.1.0".into(),
        description: "The platform API.".into(),
    }
}

fn catalog() -> Vec<Offering> {
    vec![
        offering(
            "argo-events",
            "environments",
            "/environments",
            "Environment",
        ),
        offering(
            "argo-events",
            "applications",
            "/applications",
            "Application",
        ),
        offering(
            "team-b",
            "environments",
            "/team-b/environments",
            "Environment",
        ),
    ]
}

fn control() -> Value {
    json!({
        "/healthz": {"get": {"operationId": "healthz", "security": [], "responses": {"200": {"description": "Alive"}}}},
        "/api/v1/orders": {"delete": {"operationId": "purgeOrders", "responses": {"204": {"description": "Purged"}}}}
    })
}

#[test]
fn one_operation_per_offering() {
    let doc = openapi(&catalog(), info(), control());
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc["info"],
        json!({"title": "Switchyard", "version": "0.1.0", "description": "The platform API."})
    );
    assert_eq!(doc["security"], json!([{"bearerAuth": []}]));
    assert_eq!(
        doc["components"]["securitySchemes"]["bearerAuth"]["type"],
        "http"
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["bearerAuth"]["scheme"],
        "bearer"
    );

    let op = &doc["paths"]["/environments"]["post"];
    assert_eq!(op["operationId"], "orderArgoEventsEnvironments");
    assert_eq!(op["summary"], "Environment");
    assert_eq!(
        op["description"],
        "Order **Environment**.\n\nRoles that may order: `dev`, `admin`. Roles that may approve or reject: `lead`, `admin`."
    );
    assert_eq!(op["x-switchyard-offering"], "argo-events/environments");
    assert_eq!(
        op["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ArgoEventsEnvironmentsOrder"
    );
    let responses = op["responses"].as_object().unwrap();
    let codes: Vec<&str> = responses.keys().map(String::as_str).collect();
    assert_eq!(codes, ["202", "401", "403", "409", "422", "503"]);
    assert_eq!(responses["202"]["description"], "Order accepted");
    assert!(responses["202"]["headers"]["Location"].is_object());
    assert_eq!(
        responses["202"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/OrderAccepted"
    );
    assert_eq!(
        responses["422"],
        json!({"description": "Validation Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}}})
    );
    assert!(doc["components"]["responses"]["Unavailable"]["headers"]["Retry-After"].is_object());

    // Unique names: the short form where it is unique, qualified where two offerings share a name.
    assert_eq!(
        doc["paths"]["/applications"]["post"]["operationId"],
        "orderApplications"
    );
    assert_eq!(
        doc["paths"]["/team-b/environments"]["post"]["operationId"],
        "orderTeamBEnvironments"
    );
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    assert!(schemas.contains_key("ApplicationsOrder"));
    assert!(schemas.contains_key("TeamBEnvironmentsOrder"));
    let tags: Vec<&str> = doc["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        tags,
        [
            "Application",
            "Environment (argo-events/environments)",
            "Environment (team-b/environments)",
            "Orders"
        ]
    );
    assert_eq!(
        doc["paths"]["/applications"]["post"]["tags"],
        json!(["Application"])
    );
}

#[test]
fn request_schemas_say_what_validation_does() {
    let doc = openapi(&catalog(), info(), json!({}));
    let schema = &doc["components"]["schemas"]["ApplicationsOrder"];
    assert_eq!(schema["title"], "ApplicationsOrder");
    assert_eq!(schema["additionalProperties"], false);
    // `region` has a default, so a body may leave it out.
    assert_eq!(schema["required"], json!(["name"]));
    assert_eq!(schema["properties"]["replicas"]["default"], json!(2));
    assert_eq!(
        schema["properties"]["network"]["additionalProperties"],
        false
    );
    assert_eq!(
        schema["properties"]["tags"]["items"]["additionalProperties"],
        false
    );
    assert_eq!(
        schema["properties"]["region"]["enum"],
        json!(["eastus2", "westeurope"])
    );
    assert!(
        schema["properties"]["region"]
            .get("additionalProperties")
            .is_none()
    );
}

#[test]
fn fastapi_validation_components() {
    let doc = openapi(&[], info(), json!({}));
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["HTTPValidationError"]["properties"]["detail"],
        json!({"type": "array", "title": "Detail", "items": {"$ref": "#/components/schemas/ValidationError"}})
    );
    assert_eq!(
        schemas["ValidationError"]["required"],
        json!(["loc", "msg", "type"])
    );
    assert_eq!(
        schemas["ValidationError"]["properties"]["loc"]["items"],
        json!({"anyOf": [{"type": "string"}, {"type": "integer"}]})
    );
}

#[test]
fn order_endpoints_and_control_paths() {
    let doc = openapi(&catalog(), info(), control());
    let paths = doc["paths"].as_object().unwrap();
    let keys: Vec<&str> = paths.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "/applications",
            "/environments",
            "/team-b/environments",
            "/api/v1/orders",
            "/api/v1/orders/{id}",
            "/api/v1/orders/{id}/approve",
            "/api/v1/orders/{id}/reject",
            "/api/v1/orders/{id}/events",
            "/healthz",
        ]
    );
    let orders = &paths["/api/v1/orders"];
    assert_eq!(orders["get"]["operationId"], "listOrders");
    let params: Vec<&str> = orders["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(params, ["offering", "phase", "limit"]);
    assert_eq!(
        orders["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/OrderRequest"
    );
    // A control path that shares a path gains its operation.
    assert_eq!(orders["delete"]["operationId"], "purgeOrders");
    assert_eq!(
        paths["/api/v1/orders/{id}/approve"]["post"]["requestBody"]["content"]["application/json"]
            ["schema"]["$ref"],
        "#/components/schemas/OrderDecision"
    );
    assert!(paths["/api/v1/orders/{id}/events"]["get"]["responses"]["200"]["content"]["text/event-stream"].is_object());
    let decision = &doc["components"]["schemas"]["OrderDecision"];
    assert_eq!(decision["properties"]["comment"]["type"], "string");
    let accepted = &doc["components"]["schemas"]["OrderAccepted"];
    assert_eq!(
        accepted["required"],
        json!(["id", "offering", "phase", "links"])
    );
}

#[test]
fn a_route_claimed_twice_is_documented_once() {
    let twice = vec![
        offering("b", "envs", "/environments", "B"),
        offering("a", "envs", "/environments", "A"),
    ];
    let doc = openapi(&twice, info(), json!({}));
    assert_eq!(
        doc["paths"]["/environments"]["post"]["x-switchyard-offering"],
        "a/envs"
    );
    assert_eq!(
        doc["paths"]["/environments"]["post"]["operationId"],
        "orderEnvs"
    );
    assert_eq!(doc["tags"].as_array().unwrap().len(), 2);
}

#[test]
fn documents_are_stable() {
    let a = openapi(&catalog(), info(), control()).to_string();
    let mut reversed = catalog();
    reversed.reverse();
    let b = openapi(&reversed, info(), control()).to_string();
    assert_eq!(a, b);
}

/// The document passes `openapi-spec-validator` (OpenAPI 3.1 meta-schema plus its semantic checks: unique
/// operation ids, declared path parameters, resolvable references).
#[test]
fn valid_openapi_3_1() {
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let probe = Command::new("python3")
        .args(["-c", "import openapi_spec_validator"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        assert!(
            !in_ci,
            "CI=true but python3 with openapi-spec-validator is missing: pip install openapi-spec-validator"
        );
        eprintln!(
            "skipped: python3 with openapi-spec-validator is not installed (pip install openapi-spec-validator)"
        );
        return;
    }
    for (name, doc) in [
        ("catalog", openapi(&catalog(), info(), control())),
        (
            "empty",
            openapi(
                &[],
                ApiInfo {
                    title: "t".into(),
                    version: "1".into(),
                    description: String::new(),
                },
                json!({}),
            ),
        ),
    ] {
        let mut child = Command::new("python3")
            .args([
                "-c",
                "import json, sys\nfrom openapi_spec_validator import validate\nvalidate(json.load(sys.stdin))",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(doc.to_string().as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{name}: the document is not valid OpenAPI 3.1:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
