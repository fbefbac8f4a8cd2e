//! The OpenAPI 3.1 document of the platform API: one `POST <route>` per offering (its input schema as the request
//! body), the generic order endpoints under `/api/v1/orders`, and control paths the server passes in.
//!
//! Names in the document are derived from offerings and made unique deterministically: an offering's schema is
//! `<Name>Order` (`EnvironmentsOrder`), its operation `order<Name>`, its tag its title; where two offerings would
//! share one, both are qualified with their namespace. Validation errors use FastAPI's component names
//! (`HTTPValidationError`, `ValidationError`), so clients generated for FastAPI services read them unchanged.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value, json};

use crate::offering::{ADMIN_ROLE, Offering};

/// `$ref` of the error body every non-2xx, non-422 answer carries; control paths may use it.
pub const ERROR_SCHEMA_REF: &str = "#/components/schemas/Error";
/// `$ref` of an order as the order endpoints return it.
pub const ORDER_SCHEMA_REF: &str = "#/components/schemas/Order";

const ORDERS_TAG: &str = "Orders";
const ORDERS_PATH: &str = "/api/v1/orders";

/// Component schema names the document always defines; offering schemas are named around them.
const FIXED_SCHEMAS: &[&str] = &[
    "Error",
    "HTTPValidationError",
    "ValidationError",
    "Order",
    "OrderAccepted",
    "OrderLinks",
    "OrderList",
    "OrderRequest",
    "OrderDecision",
];

/// Operation ids of the generic order endpoints.
const FIXED_OPERATIONS: &[&str] = &[
    "listOrders",
    "createOrder",
    "getOrder",
    "approveOrder",
    "rejectOrder",
    "streamOrderEvents",
];

/// The document's `info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiInfo {
    pub title: String,
    pub version: String,
    /// Markdown; left out of the document when empty.
    pub description: String,
}

/// Builds the OpenAPI 3.1.0 document.
///
/// Offerings appear sorted by route. A route claimed twice (see [`crate::route_conflicts`]) is documented once,
/// for the first offering by namespace and name. `control` is a paths object merged in last: a path it shares
/// with the document gains its operations (the control's win on the same method); anything but an object is
/// ignored.
pub fn openapi(offerings: &[Offering], info: ApiInfo, control: Value) -> Value {
    let mut sorted: Vec<&Offering> = offerings.iter().collect();
    sorted
        .sort_by(|a, b| (&a.route, &a.namespace, &a.name).cmp(&(&b.route, &b.namespace, &b.name)));
    sorted.dedup_by(|later, first| later.route == first.route);

    let schema_names = unique_names(
        sorted
            .iter()
            .map(|o| {
                (
                    format!("{}Order", pascal(&o.name)),
                    format!("{}{}Order", pascal(&o.namespace), pascal(&o.name)),
                )
            })
            .collect(),
        FIXED_SCHEMAS,
    );
    let operation_ids = unique_names(
        sorted
            .iter()
            .map(|o| {
                (
                    format!("order{}", pascal(&o.name)),
                    format!("order{}{}", pascal(&o.namespace), pascal(&o.name)),
                )
            })
            .collect(),
        FIXED_OPERATIONS,
    );
    let tag_names = unique_names(
        sorted
            .iter()
            .map(|o| {
                (
                    o.title.clone(),
                    format!("{} ({})", o.title, o.qualified_name()),
                )
            })
            .collect(),
        &[ORDERS_TAG],
    );

    let mut paths = Map::new();
    let mut schemas = fixed_schemas();
    let mut tags = Vec::new();
    for (i, o) in sorted.iter().enumerate() {
        let mut body = o.input.effective_json();
        if let Value::Object(map) = &mut body
            && !map.contains_key("title")
        {
            map.insert("title".to_owned(), Value::from(schema_names[i].as_str()));
        }
        schemas.insert(schema_names[i].clone(), body);
        paths.insert(
            o.route.clone(),
            json!({ "post": offering_operation(o, &schema_names[i], &operation_ids[i], &tag_names[i]) }),
        );
        let mut tag = json!({ "name": tag_names[i] });
        if !o.description.is_empty() {
            tag["description"] = Value::from(o.description.as_str());
        }
        tags.push(tag);
    }
    tags.push(json!({
        "name": ORDERS_TAG,
        "description": "Orders of every offering: list and follow them, approve or reject them.",
    }));
    order_paths(&mut paths);
    if let Value::Object(control) = control {
        for (path, item) in control {
            match (paths.get_mut(&path), item) {
                (Some(Value::Object(ours)), Value::Object(theirs)) => ours.extend(theirs),
                (_, item) => {
                    paths.insert(path, item);
                }
            }
        }
    }

    let mut info_json = json!({ "title": info.title, "version": info.version });
    if !info.description.is_empty() {
        info_json["description"] = Value::from(info.description);
    }
    json!({
        "openapi": "3.1.0",
        "info": info_json,
        "tags": tags,
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": fixed_responses(),
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A platform token; its roles decide who may order and who may approve.",
                }
            },
        },
        "security": [{ "bearerAuth": [] }],
    })
}

/// `environments` → `Environments`, `argo-events` → `ArgoEvents`: names made of the name's letters and digits
/// only, as component names require.
fn pascal(name: &str) -> String {
    let mut out = String::new();
    for part in name.split(|c: char| !c.is_ascii_alphanumeric()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars);
        }
    }
    if out.is_empty() {
        out.push_str("Offering");
    }
    out
}

/// Picks each candidate's short name when no other candidate shares it and it is not taken, else its qualified
/// name; a number makes what is still taken unique.
fn unique_names(candidates: Vec<(String, String)>, taken: &[&str]) -> Vec<String> {
    let mut count: HashMap<&str, usize> = HashMap::new();
    for (short, _) in &candidates {
        *count.entry(short.as_str()).or_default() += 1;
    }
    let mut used: HashSet<String> = taken.iter().map(|t| (*t).to_owned()).collect();
    let mut out = Vec::with_capacity(candidates.len());
    for (short, qualified) in &candidates {
        let base = if count.get(short.as_str()) == Some(&1) && !used.contains(short) {
            short.clone()
        } else {
            qualified.clone()
        };
        let mut name = base.clone();
        let mut n = 2;
        while used.contains(&name) {
            name = format!("{base}{n}");
            n += 1;
        }
        used.insert(name.clone());
        out.push(name);
    }
    out
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn response_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/responses/{name}") })
}

fn json_content(schema: Value) -> Value {
    json!({ "application/json": { "schema": schema } })
}

/// FastAPI's 422 answer.
fn validation_response() -> Value {
    json!({
        "description": "Validation Error",
        "content": json_content(schema_ref("HTTPValidationError")),
    })
}

fn accepted_response() -> Value {
    json!({
        "description": "Order accepted",
        "headers": {
            "Location": {
                "description": "The order's URL (`/api/v1/orders/{id}`).",
                "schema": { "type": "string", "format": "uri-reference" },
            }
        },
        "content": json_content(schema_ref("OrderAccepted")),
    })
}

fn roles_text(roles: &[String]) -> String {
    let mut shown: Vec<String> = roles.iter().map(|r| format!("`{r}`")).collect();
    if !roles.iter().any(|r| r == ADMIN_ROLE) {
        shown.push(format!("`{ADMIN_ROLE}`"));
    }
    shown.join(", ")
}

fn offering_operation(o: &Offering, schema: &str, operation_id: &str, tag: &str) -> Value {
    let access = format!(
        "Roles that may order: {}. Roles that may approve or reject: {}.",
        roles_text(&o.access.order),
        roles_text(&o.access.approve)
    );
    let description = if o.description.is_empty() {
        access
    } else {
        format!("{}\n\n{access}", o.description)
    };
    json!({
        "tags": [tag],
        "summary": o.title,
        "description": description,
        "operationId": operation_id,
        "requestBody": {
            "required": true,
            "content": json_content(schema_ref(schema)),
        },
        "responses": {
            "202": accepted_response(),
            "401": response_ref("Unauthorized"),
            "403": response_ref("Forbidden"),
            "409": response_ref("Conflict"),
            "422": validation_response(),
            "503": response_ref("Unavailable"),
        },
        "x-switchyard-offering": o.qualified_name(),
    })
}

fn order_paths(paths: &mut Map<String, Value>) {
    let id_param = json!([{
        "name": "id",
        "in": "path",
        "required": true,
        "description": "The order's id.",
        "schema": { "type": "string" },
    }]);
    paths.insert(
        ORDERS_PATH.to_owned(),
        json!({
            "get": {
                "tags": [ORDERS_TAG],
                "summary": "List orders",
                "description": "Orders, optionally only those of one offering or in one phase.",
                "operationId": "listOrders",
                "parameters": [
                    {
                        "name": "offering",
                        "in": "query",
                        "required": false,
                        "description": "Only orders of this offering (its name).",
                        "schema": { "type": "string" },
                    },
                    {
                        "name": "phase",
                        "in": "query",
                        "required": false,
                        "description": "Only orders in this phase.",
                        "schema": { "type": "string" },
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "required": false,
                        "description": "At most this many orders.",
                        "schema": { "type": "integer", "minimum": 1 },
                    },
                ],
                "responses": {
                    "200": {
                        "description": "The orders",
                        "content": json_content(schema_ref("OrderList")),
                    },
                    "401": response_ref("Unauthorized"),
                    "422": validation_response(),
                    "503": response_ref("Unavailable"),
                },
            },
            "post": {
                "tags": [ORDERS_TAG],
                "summary": "Order any offering",
                "description": "Orders the offering named in the body with its `input`; the same as `POST` to the offering's own route.",
                "operationId": "createOrder",
                "requestBody": {
                    "required": true,
                    "content": json_content(schema_ref("OrderRequest")),
                },
                "responses": {
                    "202": accepted_response(),
                    "401": response_ref("Unauthorized"),
                    "403": response_ref("Forbidden"),
                    "404": response_ref("NotFound"),
                    "409": response_ref("Conflict"),
                    "422": validation_response(),
                    "503": response_ref("Unavailable"),
                },
            },
        }),
    );
    paths.insert(
        format!("{ORDERS_PATH}/{{id}}"),
        json!({
            "parameters": id_param,
            "get": {
                "tags": [ORDERS_TAG],
                "summary": "Get an order",
                "operationId": "getOrder",
                "responses": {
                    "200": { "description": "The order", "content": json_content(schema_ref("Order")) },
                    "401": response_ref("Unauthorized"),
                    "403": response_ref("Forbidden"),
                    "404": response_ref("NotFound"),
                    "503": response_ref("Unavailable"),
                },
            },
        }),
    );
    for (verb, id, summary) in [
        ("approve", "approveOrder", "Approve an order"),
        ("reject", "rejectOrder", "Reject an order"),
    ] {
        paths.insert(
            format!("{ORDERS_PATH}/{{id}}/{verb}"),
            json!({
                "parameters": id_param,
                "post": {
                    "tags": [ORDERS_TAG],
                    "summary": summary,
                    "description": "Needs a role that may approve the order's offering; the requester cannot decide their own order.",
                    "operationId": id,
                    "requestBody": {
                        "required": false,
                        "content": json_content(schema_ref("OrderDecision")),
                    },
                    "responses": {
                        "200": { "description": "The order after the decision", "content": json_content(schema_ref("Order")) },
                        "401": response_ref("Unauthorized"),
                        "403": response_ref("Forbidden"),
                        "404": response_ref("NotFound"),
                        "409": response_ref("Conflict"),
                        "422": validation_response(),
                        "503": response_ref("Unavailable"),
                    },
                },
            }),
        );
    }
    paths.insert(
        format!("{ORDERS_PATH}/{{id}}/events"),
        json!({
            "parameters": id_param,
            "get": {
                "tags": [ORDERS_TAG],
                "summary": "Follow an order",
                "description": "Server-sent events: one `data:` line of JSON per change of the order, until it ends.",
                "operationId": "streamOrderEvents",
                "responses": {
                    "200": {
                        "description": "A stream of the order's changes",
                        "content": { "text/event-stream": { "schema": { "type": "string" } } },
                    },
                    "401": response_ref("Unauthorized"),
                    "403": response_ref("Forbidden"),
                    "404": response_ref("NotFound"),
                },
            },
        }),
    );
}

fn fixed_responses() -> Value {
    let error = |description: &str| json!({ "description": description, "content": json_content(schema_ref("Error")) });
    let mut unavailable =
        error("The platform cannot take this right now; retry after `Retry-After` seconds.");
    unavailable["headers"] = json!({
        "Retry-After": {
            "description": "Seconds to wait before retrying.",
            "schema": { "type": "integer", "minimum": 0 },
        }
    });
    json!({
        "Unauthorized": error("No bearer token, or one the platform does not know."),
        "Forbidden": error("The token's roles do not allow this."),
        "NotFound": error("No such order or offering."),
        "Conflict": error("The request conflicts with the current state of the order or its offering."),
        "Unavailable": unavailable,
    })
}

fn fixed_schemas() -> Map<String, Value> {
    let links = json!({
        "type": "object",
        "title": "OrderLinks",
        "properties": {
            "self": { "type": "string", "format": "uri-reference", "description": "The order." },
            "events": { "type": "string", "format": "uri-reference", "description": "Its stream of changes." },
        },
        "additionalProperties": { "type": "string", "format": "uri-reference" },
    });
    let schemas = json!({
        "HTTPValidationError": {
            "type": "object",
            "title": "HTTPValidationError",
            "properties": {
                "detail": {
                    "type": "array",
                    "title": "Detail",
                    "items": schema_ref("ValidationError"),
                }
            },
        },
        "ValidationError": {
            "type": "object",
            "title": "ValidationError",
            "required": ["loc", "msg", "type"],
            "properties": {
                "loc": {
                    "type": "array",
                    "title": "Location",
                    "items": { "anyOf": [{ "type": "string" }, { "type": "integer" }] },
                },
                "msg": { "type": "string", "title": "Message" },
                "type": { "type": "string", "title": "Error Type" },
                "input": { "title": "Input" },
                "ctx": { "type": "object", "title": "Context" },
            },
        },
        "Error": {
            "type": "object",
            "title": "Error",
            "required": ["message", "code", "type"],
            "properties": {
                "message": { "type": "string", "description": "For people." },
                "code": { "type": "string", "description": "Stable, for programs: `unauthorized`, `forbidden`, `not_found`, `conflict`, `unavailable`, ..." },
                "type": { "type": "string", "description": "Who is at fault: `invalid_request`, `auth`, `system` or `internal`." },
                "link": { "type": "string" },
                "diagnostics": { "type": "array", "items": { "type": "object" } },
            },
        },
        "OrderLinks": links,
        "OrderAccepted": {
            "type": "object",
            "title": "OrderAccepted",
            "required": ["id", "offering", "phase", "links"],
            "properties": {
                "id": { "type": "string", "description": "The order's id." },
                "offering": { "type": "string", "description": "The offering's name." },
                "phase": { "type": "string", "description": "Where the order stands, such as `Accepted`, `Running`, `WaitingForApproval`, `Succeeded` or `Failed`." },
                "links": schema_ref("OrderLinks"),
            },
        },
        "Order": {
            "type": "object",
            "title": "Order",
            "description": "An order and where it went; further fields describe its event, run and decisions.",
            "required": ["id", "offering", "phase"],
            "properties": {
                "id": { "type": "string" },
                "offering": { "type": "string" },
                "phase": { "type": "string" },
                "input": { "type": "object", "description": "The accepted input, defaults filled in." },
                "links": schema_ref("OrderLinks"),
            },
        },
        "OrderList": {
            "type": "object",
            "title": "OrderList",
            "required": ["items"],
            "properties": { "items": { "type": "array", "items": schema_ref("Order") } },
        },
        "OrderRequest": {
            "type": "object",
            "title": "OrderRequest",
            "required": ["offering"],
            "additionalProperties": false,
            "properties": {
                "offering": { "type": "string", "description": "The offering: its name, or `namespace/name` where names repeat across namespaces." },
                "input": { "type": "object", "description": "The offering's input.", "default": {} },
            },
        },
        "OrderDecision": {
            "type": "object",
            "title": "OrderDecision",
            "additionalProperties": false,
            "properties": { "comment": { "type": "string", "description": "Why; kept with the order." } },
        },
    });
    match schemas {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}
