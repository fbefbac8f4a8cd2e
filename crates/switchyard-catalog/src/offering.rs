//! An `Offering`'s spec, checked: the route it is ordered at, the webhook event an order becomes, who may order
//! and approve, and the input schema. [`Offering::from_manifest`] reports every problem at once, each at its
//! path in the manifest.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::path;
use crate::schema::InputSchema;

/// First route segments the platform keeps for itself (its API, docs and probes).
pub const RESERVED_ROUTES: &[&str] = &[
    "api",
    "docs",
    "openapi.json",
    "healthz",
    "metrics",
    "orders",
    "ui",
];

/// The role that may always order and approve, whatever an offering's access says.
pub const ADMIN_ROLE: &str = "admin";
/// Who may order when `access.order` is not given.
pub const DEFAULT_ORDER_ROLE: &str = "orderer";
/// Who may approve or reject when `access.approve` is not given.
pub const DEFAULT_APPROVE_ROLE: &str = "approver";

/// Routes longer than this are refused: a route is typed by people and shown in documents.
const MAX_ROUTE_LEN: usize = 200;

const SPEC_FIELDS: &[&str] = &["route", "title", "description", "event", "access", "input"];

/// One thing wrong with an offering, at its path (`spec.input.properties.region.pattern`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// The webhook EventSource event an accepted order is raised as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventRef {
    pub event_source_name: String,
    pub event_name: String,
}

/// Roles that may order, and roles that may approve or reject. [`ADMIN_ROLE`] may always do both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Access {
    pub order: Vec<String>,
    pub approve: Vec<String>,
}

impl Default for Access {
    fn default() -> Self {
        Access {
            order: vec![DEFAULT_ORDER_ROLE.to_owned()],
            approve: vec![DEFAULT_APPROVE_ROLE.to_owned()],
        }
    }
}

impl Access {
    /// Whether someone with `roles` may order.
    pub fn may_order<S: AsRef<str>>(&self, roles: &[S]) -> bool {
        allowed(&self.order, roles)
    }

    /// Whether someone with `roles` may approve or reject an order.
    pub fn may_approve<S: AsRef<str>>(&self, roles: &[S]) -> bool {
        allowed(&self.approve, roles)
    }
}

fn allowed<S: AsRef<str>>(granted: &[String], roles: &[S]) -> bool {
    roles
        .iter()
        .any(|r| r.as_ref() == ADMIN_ROLE || granted.iter().any(|g| g == r.as_ref()))
}

/// One orderable thing in the catalog.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Offering {
    pub name: String,
    pub namespace: String,
    /// `/environments`: where it is ordered (`POST`).
    pub route: String,
    /// The `title` given, or the name.
    pub title: String,
    /// Markdown; empty when not given.
    pub description: String,
    pub event: EventRef,
    pub access: Access,
    pub input: InputSchema,
}

impl Offering {
    /// Checks an Offering's `spec` and builds the offering, or returns every problem found, located by path
    /// (paths start at `spec`).
    pub fn from_manifest(
        namespace: &str,
        name: &str,
        spec: &Value,
    ) -> Result<Offering, Vec<Problem>> {
        let mut problems = Vec::new();
        let mut problem = |path: String, message: String| problems.push(Problem { path, message });
        let Value::Object(spec) = spec else {
            problem(
                "spec".to_owned(),
                "must be a mapping with route, event and input (and optionally title, description and access)"
                    .to_owned(),
            );
            return Err(problems);
        };
        for key in spec.keys() {
            if !SPEC_FIELDS.contains(&key.as_str()) {
                problem(
                    path::key("spec", key),
                    format!(
                        "unknown field `{key}` (an Offering's spec has {})",
                        SPEC_FIELDS.join(", ")
                    ),
                );
            }
        }

        let route = match spec.get("route") {
            None => {
                problem(
                    "spec.route".to_owned(),
                    "required: the path the offering is ordered at, like `/environments`"
                        .to_owned(),
                );
                None
            }
            Some(Value::String(route)) => match check_route(route) {
                Ok(()) => Some(route.clone()),
                Err(message) => {
                    problem("spec.route".to_owned(), message);
                    None
                }
            },
            Some(_) => {
                problem(
                    "spec.route".to_owned(),
                    "must be a string, like `/environments`".to_owned(),
                );
                None
            }
        };

        let mut text = |key: &str| match spec.get(key) {
            None => None,
            Some(Value::String(s)) if key == "title" && s.trim().is_empty() => {
                problem(
                    "spec.title".to_owned(),
                    "must not be empty (leave it out to use the name)".to_owned(),
                );
                None
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                problem(path::key("spec", key), "must be a string".to_owned());
                None
            }
        };
        let title = text("title").unwrap_or_else(|| name.to_owned());
        let description = text("description").unwrap_or_default();

        let event = match spec.get("event") {
            None => {
                problem(
                    "spec.event".to_owned(),
                    "required: the webhook event an order is raised as (`eventSourceName` and `eventName`)"
                        .to_owned(),
                );
                None
            }
            Some(Value::Object(event)) => event_ref(event, &mut problem),
            Some(_) => {
                problem(
                    "spec.event".to_owned(),
                    "must be a mapping with `eventSourceName` and `eventName`".to_owned(),
                );
                None
            }
        };

        let access = match spec.get("access") {
            None => Some(Access::default()),
            Some(Value::Object(access)) => access_of(access, &mut problem),
            Some(_) => {
                problem(
                    "spec.access".to_owned(),
                    "must be a mapping with `order` and `approve` role lists".to_owned(),
                );
                None
            }
        };

        let input = match spec.get("input") {
            None => Some(InputSchema::empty()),
            Some(schema) => match InputSchema::parse(schema, "spec.input") {
                Ok(input) => Some(input),
                Err(found) => {
                    problems.extend(found);
                    None
                }
            },
        };

        match (route, event, access, input) {
            (Some(route), Some(event), Some(access), Some(input)) if problems.is_empty() => {
                Ok(Offering {
                    name: name.to_owned(),
                    namespace: namespace.to_owned(),
                    route,
                    title,
                    description,
                    event,
                    access,
                    input,
                })
            }
            _ => Err(problems),
        }
    }

    /// `namespace/name`, as conflicts and documents name an offering.
    pub fn qualified_name(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// A route is `/` then one or more segments of lowercase letters, digits and `-`, and does not start with a
/// segment the platform keeps ([`RESERVED_ROUTES`]).
fn check_route(route: &str) -> Result<(), String> {
    let Some(rest) = route.strip_prefix('/') else {
        return Err(format!("must start with `/`, like `/{route}`"));
    };
    if rest.is_empty() {
        return Err("must name at least one segment after `/`, like `/environments`".to_owned());
    }
    if route.len() > MAX_ROUTE_LEN {
        return Err(format!(
            "is {} characters long; the limit is {MAX_ROUTE_LEN}",
            route.len()
        ));
    }
    if rest.ends_with('/') {
        return Err("must not end with `/`".to_owned());
    }
    for segment in rest.split('/') {
        if segment.is_empty() {
            return Err("has an empty segment (`//`)".to_owned());
        }
        if let Some(c) = segment
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return Err(format!(
                "segment `{segment}` contains {c:?}: segments are lowercase letters, digits and `-`"
            ));
        }
    }
    let first = rest.split('/').next().unwrap_or_default();
    if RESERVED_ROUTES.contains(&first) {
        let reserved: Vec<String> = RESERVED_ROUTES.iter().map(|r| format!("/{r}")).collect();
        return Err(format!(
            "`/{first}` is reserved for the platform's own endpoints (reserved: {})",
            reserved.join(", ")
        ));
    }
    Ok(())
}

/// A DNS-1123 subdomain, as Kubernetes object names are: what `eventSourceName` must be to name an EventSource.
fn is_object_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

fn event_ref(
    event: &Map<String, Value>,
    problem: &mut impl FnMut(String, String),
) -> Option<EventRef> {
    for key in event.keys() {
        if key != "eventSourceName" && key != "eventName" {
            problem(
                path::key("spec.event", key),
                format!("unknown field `{key}` (an event has eventSourceName and eventName)"),
            );
        }
    }
    let mut field = |key: &str, what: &str| {
        let at = path::key("spec.event", key);
        match event.get(key) {
            None => {
                problem(at, format!("required: {what}"));
                None
            }
            Some(Value::String(s)) if s.is_empty() => {
                problem(at, format!("must not be empty: {what}"));
                None
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                problem(at, "must be a string".to_owned());
                None
            }
        }
    };
    let source = field("eventSourceName", "the name of the webhook EventSource");
    let name = field(
        "eventName",
        "the event of that EventSource an order is raised as",
    );
    let source = source.filter(|s| {
        let ok = is_object_name(s);
        if !ok {
            problem(
                "spec.event.eventSourceName".to_owned(),
                format!(
                    "`{s}` is not a valid EventSource name (lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit)"
                ),
            );
        }
        ok
    });
    Some(EventRef {
        event_source_name: source?,
        event_name: name?,
    })
}

fn access_of(
    access: &Map<String, Value>,
    problem: &mut impl FnMut(String, String),
) -> Option<Access> {
    for key in access.keys() {
        if key != "order" && key != "approve" {
            problem(
                path::key("spec.access", key),
                format!("unknown field `{key}` (access has order and approve)"),
            );
        }
    }
    let mut roles = |key: &str, default: &str| {
        let at = path::key("spec.access", key);
        let Some(value) = access.get(key) else {
            return Some(vec![default.to_owned()]);
        };
        let Value::Array(items) = value else {
            problem(at, "must be a list of role names".to_owned());
            return None;
        };
        let mut out: Vec<String> = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let item_at = path::index(&at, i);
            match item {
                Value::String(role) if role.trim().is_empty() => {
                    problem(item_at, "a role name must not be empty".to_owned());
                    ok = false;
                }
                Value::String(role) => match out.iter().position(|r| r == role) {
                    Some(j) => {
                        problem(item_at, format!("`{role}` is already listed at [{j}]"));
                        ok = false;
                    }
                    None => out.push(role.clone()),
                },
                _ => {
                    problem(item_at, "a role name must be a string".to_owned());
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    };
    let order = roles("order", DEFAULT_ORDER_ROLE);
    let approve = roles("approve", DEFAULT_APPROVE_ROLE);
    Some(Access {
        order: order?,
        approve: approve?,
    })
}

/// Routes claimed by more than one offering: `(route, ["namespace/name", ...])`, routes and names sorted.
pub fn route_conflicts(offerings: &[Offering]) -> Vec<(String, Vec<String>)> {
    let mut by_route: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for o in offerings {
        by_route
            .entry(&o.route)
            .or_default()
            .push(o.qualified_name());
    }
    by_route
        .into_iter()
        .filter(|(_, names)| names.len() > 1)
        .map(|(route, mut names)| {
            names.sort();
            (route.to_owned(), names)
        })
        .collect()
}
