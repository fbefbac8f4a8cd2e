//! The HTTP routes: health, metrics, and the control API (apply, get, list, delete).

use std::sync::Mutex;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::Value;
use switchyard_api::{
    Action, ApplyRequest, ApplyResponse, ApplyResult, ObjectList, kind_from_plural, list_path,
    object_path,
};
use switchyard_manifest::{Loaded, Source};
use switchyard_model::Kind;
use switchyard_store::rules::same_content;
use switchyard_store::{ObjectKey, ObjectName, PutOutcome, StoreError, StoredObject};

use crate::apply::{check, put_request, redact_secret};
use crate::auth::{Principal, roles};
use crate::error::ApiError;
use crate::paging;
use crate::state::AppState;
use crate::telemetry::OBJECTS;

pub async fn healthz() -> &'static str {
    "ok"
}

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics().render(),
    )
}

/// `?reveal=true` shows Secret values in clear.
#[derive(Debug, Default, Deserialize)]
pub struct ReadQuery {
    #[serde(default)]
    reveal: bool,
}

/// A list's query: [`ReadQuery`] and a page ([`crate::paging`]).
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    reveal: bool,
    #[serde(default, alias = "listOptions.limit")]
    limit: Option<u64>,
    #[serde(default, rename = "continue", alias = "listOptions.continue")]
    continue_token: Option<String>,
}

impl ListQuery {
    fn page(&self) -> paging::ListParams<'_> {
        paging::ListParams {
            limit: self.limit,
            continue_token: self.continue_token.as_deref(),
        }
    }
}

pub async fn apply(
    State(state): State<AppState>,
    principal: Principal,
    body: Result<Json<ApplyRequest>, JsonRejection>,
) -> Result<Json<ApplyResponse>, ApiError> {
    principal.require(roles::ADMIN, "apply manifests")?;
    let Json(request) = body.map_err(json_rejection)?;
    apply_request(&state, &principal, request).await.map(Json)
}

/// Applies manifests as `principal`: all or nothing, with located diagnostics. The server
/// applies its platform at start through this too.
pub async fn apply_request(
    state: &AppState,
    principal: &Principal,
    request: ApplyRequest,
) -> Result<ApplyResponse, ApiError> {
    if let Some(ns) = &request.namespace {
        check_namespace(ns)?;
    }
    let sources: Vec<Source> = request
        .sources
        .into_iter()
        .map(|s| Source {
            name: s.name,
            text: s.content,
        })
        .collect();

    // Loading is CPU-bound and `exists` asks the store synchronously, so both run on a
    // blocking thread. A store failure inside `exists` is kept and answered as such.
    let store = state.store().clone();
    let limits = state.manifest_limits().clone();
    let namespace = request.namespace.clone();
    let runtime = tokio::runtime::Handle::current();
    let (checked, store_failure) = tokio::task::spawn_blocking(move || {
        let failure: Mutex<Option<StoreError>> = Mutex::new(None);
        let exists = |kind: Kind, ns: &str, name: &str| {
            let key = ObjectKey {
                kind,
                namespace: ns.to_owned(),
                name: name.to_owned(),
            };
            match runtime.block_on(store.get(&key)) {
                Ok(found) => found.is_some(),
                Err(e) => {
                    if let Ok(mut slot) = failure.lock() {
                        slot.get_or_insert(e);
                    }
                    true
                }
            }
        };
        let checked = check(&sources, &limits, namespace.as_deref(), &exists);
        let failure = failure.into_inner().ok().flatten();
        (checked, failure)
    })
    .await
    .map_err(|e| ApiError::internal(format!("the apply task failed: {e}")))?;
    if let Some(e) = store_failure {
        return Err(e.into());
    }
    if checked.has_errors() {
        return Err(ApiError::invalid_manifest(checked.diagnostics));
    }

    // Workflows are runs: they are checked against the templates they use (those of this
    // request included) before anything is written, and started once the rest is stored.
    let (workflows, others): (Vec<&Loaded>, Vec<&Loaded>) = checked
        .objects
        .iter()
        .partition(|o| o.resource.kind() == Kind::Workflow);
    let mut cron_problems = Vec::new();
    for loaded in &others {
        if let switchyard_model::Resource::CronWorkflow(cron) = &loaded.resource
            && let Err(problems) =
                switchyard_controller::cron::CronSchedule::parse(&cron.spec, state.zones().as_ref())
        {
            cron_problems.extend(
                problems.into_iter().map(|d| {
                    loaded.diagnostic(switchyard_model::Severity::Error, &d.path, d.message)
                }),
            );
        }
    }
    cron_problems.extend(crate::catalog::route_problems(&state.catalog(), &others));
    if !cron_problems.is_empty() {
        return Err(ApiError::invalid_manifest(cron_problems));
    }
    let overlay = crate::runs::overlay_of(&others);
    let mut run_problems = Vec::new();
    for loaded in &workflows {
        if let Err(e) = crate::runs::check_run(state, loaded, &overlay).await {
            run_problems.extend(e?);
        }
    }
    if !run_problems.is_empty() {
        return Err(ApiError::invalid_manifest(run_problems));
    }
    let requests: Vec<_> = others.iter().map(|o| put_request(o)).collect();
    let mut results = if request.dry_run {
        let mut results = Vec::with_capacity(requests.len());
        for req in requests {
            let (name, action) = match req.name {
                ObjectName::Exact(name) => {
                    let key = ObjectKey {
                        kind: req.kind,
                        namespace: req.namespace.clone(),
                        name: name.clone(),
                    };
                    let action = match state.store().get(&key).await? {
                        None => Action::Created,
                        Some(stored) if same_content(&stored.body, &req.body) => Action::Unchanged,
                        Some(_) => Action::Configured,
                    };
                    (name, action)
                }
                ObjectName::Generate(prefix) => (prefix, Action::Created),
            };
            results.push(ApplyResult {
                kind: req.kind,
                namespace: (!req.namespace.is_empty()).then_some(req.namespace),
                name,
                action,
            });
        }
        results
    } else {
        let outcomes = state.store().put_many(requests).await?;
        outcomes
            .into_iter()
            .map(|outcome| {
                let (object, action) = match outcome {
                    PutOutcome::Created(o) => (o, Action::Created),
                    PutOutcome::Configured(o) => (o, Action::Configured),
                    PutOutcome::Unchanged(o) => (o, Action::Unchanged),
                };
                if action == Action::Created {
                    metrics::gauge!(OBJECTS, "kind" => object.kind.name()).increment(1.0);
                }
                ApplyResult {
                    kind: object.kind,
                    namespace: (!object.namespace.is_empty()).then_some(object.namespace),
                    name: object.name,
                    action,
                }
            })
            .collect()
    };
    if !request.dry_run
        && results
            .iter()
            .any(|r| r.action != Action::Unchanged && feeds_the_event_pipeline(r.kind))
    {
        // Listeners and sensors are in place when apply answers, so an event sent right
        // after is served and consumed.
        state.reconcile_events().await;
    }
    if results
        .iter()
        .any(|r| r.action != Action::Unchanged && r.kind == Kind::Offering)
    {
        state.reload_catalog().await;
    }
    for loaded in &workflows {
        results.push(crate::runs::start_applied(state, loaded, &overlay, request.dry_run).await?);
    }
    let count = |a: Action| results.iter().filter(|r| r.action == a).count();
    tracing::info!(
        principal = %principal.name,
        dry_run = request.dry_run,
        created = count(Action::Created),
        configured = count(Action::Configured),
        unchanged = count(Action::Unchanged),
        warnings = checked.diagnostics.len(),
        "applied manifests"
    );
    Ok(ApplyResponse {
        results,
        diagnostics: checked.diagnostics,
        dry_run: request.dry_run,
    })
}

/// `GET /api/v1/{plural}`: every object of a kind, across namespaces.
pub async fn list_all(
    State(state): State<AppState>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<ObjectList>, ApiError> {
    let Path(plural) = path.map_err(path_rejection)?;
    let kind = resolve_kind(&plural)?;
    let query = list_query(&principal, query)?;
    let (objects, next) = paging::read(state.store().as_ref(), kind, None, &query.page()).await?;
    Ok(Json(
        to_list_with_status(&state, objects, query.reveal, next).await,
    ))
}

/// `GET /api/v1/namespaces/{ns}/{plural}`.
pub async fn list_namespaced(
    State(state): State<AppState>,
    principal: Principal,
    path: Result<Path<(String, String)>, PathRejection>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<ObjectList>, ApiError> {
    let Path((ns, plural)) = path.map_err(path_rejection)?;
    let kind = resolve_kind(&plural)?;
    require_namespaced(kind, None)?;
    check_namespace(&ns)?;
    let query = list_query(&principal, query)?;
    let (objects, next) =
        paging::read(state.store().as_ref(), kind, Some(&ns), &query.page()).await?;
    Ok(Json(
        to_list_with_status(&state, objects, query.reveal, next).await,
    ))
}

/// `GET /api/v1/namespaces/{ns}/workflows` (its own route, as the collection also takes POST).
pub async fn list_workflows(
    State(state): State<AppState>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<ObjectList>, ApiError> {
    let Path(ns) = path.map_err(path_rejection)?;
    check_namespace(&ns)?;
    let query = list_query(&principal, query)?;
    let (objects, next) = paging::read(
        state.store().as_ref(),
        Kind::Workflow,
        Some(&ns),
        &query.page(),
    )
    .await?;
    Ok(Json(to_list(objects, false, next)))
}

/// `GET /api/v1/namespaces/{ns}/workflows/{name}`.
pub async fn get_workflow(
    State(state): State<AppState>,
    _principal: Principal,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path((ns, name)) = path.map_err(path_rejection)?;
    let key = namespaced_key(&ns, Kind::Workflow.plural(), &name)?;
    read_one(&state, &key, false).await
}

/// `DELETE /api/v1/namespaces/{ns}/workflows/{name}`.
pub async fn delete_workflow(
    State(state): State<AppState>,
    principal: Principal,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path((ns, name)) = path.map_err(path_rejection)?;
    let key = namespaced_key(&ns, Kind::Workflow.plural(), &name)?;
    delete_one(&state, &principal, &key).await
}

/// `GET /api/v1/namespaces/{ns}/{plural}/{name}`.
pub async fn get_namespaced(
    State(state): State<AppState>,
    principal: Principal,
    path: Result<Path<(String, String, String)>, PathRejection>,
    query: Result<Query<ReadQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path((ns, plural, name)) = path.map_err(path_rejection)?;
    let key = namespaced_key(&ns, &plural, &name)?;
    let reveal = reveal(&principal, query)?;
    read_one(&state, &key, reveal).await
}

/// `GET /api/v1/{plural}/{name}` (cluster-scoped kinds).
pub async fn get_cluster(
    State(state): State<AppState>,
    principal: Principal,
    path: Result<Path<(String, String)>, PathRejection>,
    query: Result<Query<ReadQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path((plural, name)) = path.map_err(path_rejection)?;
    let key = cluster_key(&plural, &name)?;
    let reveal = reveal(&principal, query)?;
    read_one(&state, &key, reveal).await
}

/// `DELETE /api/v1/namespaces/{ns}/{plural}/{name}`: answers with the deleted object.
pub async fn delete_namespaced(
    State(state): State<AppState>,
    principal: Principal,
    path: Result<Path<(String, String, String)>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path((ns, plural, name)) = path.map_err(path_rejection)?;
    let key = namespaced_key(&ns, &plural, &name)?;
    delete_one(&state, &principal, &key).await
}

/// `DELETE /api/v1/{plural}/{name}` (cluster-scoped kinds).
pub async fn delete_cluster(
    State(state): State<AppState>,
    principal: Principal,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path((plural, name)) = path.map_err(path_rejection)?;
    let key = cluster_key(&plural, &name)?;
    delete_one(&state, &principal, &key).await
}

async fn read_one(
    state: &AppState,
    key: &ObjectKey,
    reveal: bool,
) -> Result<Json<Value>, ApiError> {
    match state.store().get(key).await? {
        Some(object) => {
            let mut body = present(object.clone(), reveal);
            crate::status::overlay(state, &object, &mut body).await;
            Ok(Json(body))
        }
        None => Err(not_found(key)),
    }
}

async fn delete_one(
    state: &AppState,
    principal: &Principal,
    key: &ObjectKey,
) -> Result<Json<Value>, ApiError> {
    principal.require(roles::ADMIN, "delete objects")?;
    let deleted = if key.kind == Kind::Workflow {
        crate::runs::delete(state, key).await?
    } else {
        state
            .store()
            .delete(key, switchyard_store::Precondition::None)
            .await?
            .map(|object| present(object, false))
    };
    match deleted {
        Some(body) => {
            if feeds_the_event_pipeline(key.kind) {
                state.reconcile_events().await;
            }
            if key.kind == Kind::Offering {
                state.reload_catalog().await;
            }
            metrics::gauge!(OBJECTS, "kind" => key.kind.name()).decrement(1.0);
            tracing::info!(principal = %principal.name, kind = %key.kind, namespace = %key.namespace, name = %key.name, "deleted");
            Ok(Json(body))
        }
        None => Err(not_found(key)),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectLogQuery {
    /// Only lines after this sequence number (what a follower saw last).
    #[serde(default)]
    after: u64,
}

/// `GET /api/v1/namespaces/{ns}/{sensors|eventsources}/{name}/log?after=N`: what this server
/// logged about the object since it started (its last lines), oldest first.
pub async fn object_log(
    State(state): State<AppState>,
    _principal: Principal,
    path: Result<Path<(String, String, String)>, PathRejection>,
    query: Result<Query<ObjectLogQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    use crate::object_logs::{ObjectKind, ObjectLogs};
    let Path((ns, plural, name)) = path.map_err(path_rejection)?;
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    check_namespace(&ns)?;
    check_name(&name)?;
    let kind = match resolve_kind(&plural)? {
        Kind::Sensor => ObjectKind::Sensor,
        Kind::EventSource => ObjectKind::EventSource,
        other => {
            return Err(ApiError::not_found(format!(
                "{} have no log of their own; logs are kept for sensors, event sources and workflow runs",
                other.plural()
            )));
        }
    };
    let key = namespaced_key(&ns, &plural, &name)?;
    if state.store().get(&key).await?.is_none() {
        return Err(not_found(&key));
    }
    let lines = ObjectLogs::global().lines(kind, &ns, &name, query.after);
    Ok(Json(serde_json::json!({ "items": lines })))
}

/// Kinds whose change the event pipeline must see at once.
fn feeds_the_event_pipeline(kind: Kind) -> bool {
    matches!(kind, Kind::EventSource | Kind::Sensor | Kind::Secret)
}

fn present(object: StoredObject, reveal: bool) -> Value {
    let mut body = object.body;
    if object.kind == Kind::Secret && !reveal {
        redact_secret(&mut body);
    }
    body
}

/// [`to_list`], with the live status of EventSources and Sensors filled in.
async fn to_list_with_status(
    state: &AppState,
    mut objects: Vec<StoredObject>,
    reveal: bool,
    next: Option<String>,
) -> ObjectList {
    objects.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    let mut items = Vec::with_capacity(objects.len());
    for object in objects {
        let mut body = present(object.clone(), reveal);
        crate::status::overlay(state, &object, &mut body).await;
        items.push(body);
    }
    ObjectList::page(items, next)
}

fn to_list(mut objects: Vec<StoredObject>, reveal: bool, next: Option<String>) -> ObjectList {
    objects.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    ObjectList::page(
        objects.into_iter().map(|o| present(o, reveal)).collect(),
        next,
    )
}

fn list_query(
    principal: &Principal,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<ListQuery, ApiError> {
    let Query(query) = query.map_err(|e| {
        ApiError::bad_request(format!(
            "{}; `reveal` takes `true` or `false`, `limit` a whole number, `continue` the \
             `metadata.continue` of the page before",
            e.body_text()
        ))
    })?;
    if query.reveal {
        principal.require(roles::ADMIN, "reveal secret values")?;
    }
    Ok(query)
}

fn reveal(
    principal: &Principal,
    query: Result<Query<ReadQuery>, QueryRejection>,
) -> Result<bool, ApiError> {
    let Query(query) = query.map_err(|e| {
        ApiError::bad_request(format!(
            "{}; `reveal` takes `true` or `false`",
            e.body_text()
        ))
    })?;
    if query.reveal {
        principal.require(roles::ADMIN, "reveal secret values")?;
    }
    Ok(query.reveal)
}

fn not_found(key: &ObjectKey) -> ApiError {
    let what = if key.kind.namespaced() {
        format!(
            "{} `{}` in namespace `{}`",
            key.kind, key.name, key.namespace
        )
    } else {
        format!("{} `{}`", key.kind, key.name)
    };
    ApiError::not_found(format!("{what} not found"))
}

fn resolve_kind(plural: &str) -> Result<Kind, ApiError> {
    kind_from_plural(plural).ok_or_else(|| {
        let known: Vec<&str> = Kind::ALL.iter().map(|k| k.plural()).collect();
        ApiError::not_found(format!(
            "unknown resource type `{plural}`; known: {}",
            known.join(", ")
        ))
    })
}

/// 404 for a cluster-scoped kind addressed inside a namespace, naming the right path.
fn require_namespaced(kind: Kind, name: Option<&str>) -> Result<(), ApiError> {
    if kind.namespaced() {
        return Ok(());
    }
    let right = match name {
        Some(name) => object_path(kind, "", name),
        None => list_path(kind, None),
    };
    Err(ApiError::not_found(format!(
        "{kind} is cluster-scoped and has no namespace; use {right}"
    )))
}

fn namespaced_key(ns: &str, plural: &str, name: &str) -> Result<ObjectKey, ApiError> {
    let kind = resolve_kind(plural)?;
    require_namespaced(kind, Some(name))?;
    check_namespace(ns)?;
    check_name(name)?;
    Ok(ObjectKey {
        kind,
        namespace: ns.to_owned(),
        name: name.to_owned(),
    })
}

fn cluster_key(plural: &str, name: &str) -> Result<ObjectKey, ApiError> {
    let kind = resolve_kind(plural)?;
    if kind.namespaced() {
        return Err(ApiError::not_found(format!(
            "{kind} is namespaced; use {}/namespaces/{{namespace}}/{}/{name}",
            switchyard_api::API_PREFIX,
            kind.plural()
        )));
    }
    check_name(name)?;
    Ok(ObjectKey {
        kind,
        namespace: String::new(),
        name: name.to_owned(),
    })
}

/// A namespace must be a DNS label: lowercase letters, digits and `-`, at most 63
/// characters, starting and ending with a letter or digit.
pub(crate) fn check_namespace(ns: &str) -> Result<(), ApiError> {
    let ok = !ns.is_empty()
        && ns.len() <= 63
        && ns
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !ns.starts_with('-')
        && !ns.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "invalid namespace {ns:?}: use lowercase letters, digits and '-', at most 63 characters, \
             starting and ending with a letter or digit"
        )))
    }
}

/// A name in a URL must be a usable path segment (Kubernetes' rule): not `.` or `..`, no
/// `/`, `%` or control characters, at most 253 bytes.
pub(crate) fn check_name(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name != "."
        && name != ".."
        && !name.chars().any(|c| c == '/' || c == '%' || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "invalid name {name:?}: a name may not be `.` or `..`, contain '/', '%' or control characters, \
             or be longer than 253 bytes"
        )))
    }
}

pub(crate) fn json_rejection(rejection: JsonRejection) -> ApiError {
    let status = rejection.status();
    let mut e = ApiError::bad_request(format!(
        "the request body is not a valid apply request: {}",
        rejection.body_text()
    ));
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        e = ApiError::new(
            status,
            switchyard_api::ErrorCode::PayloadTooLarge,
            "the request body is too large",
        );
    } else if status == StatusCode::UNSUPPORTED_MEDIA_TYPE {
        e.status = status;
        e.body.message =
            "send the apply request as JSON with `Content-Type: application/json`".to_owned();
    }
    e
}

pub(crate) fn path_rejection(rejection: PathRejection) -> ApiError {
    ApiError::bad_request(format!("invalid path: {}", rejection.body_text()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_rule() {
        for ns in ["default", "team-a", "a", "a1-b2"] {
            assert!(check_namespace(ns).is_ok(), "{ns}");
        }
        for ns in ["", "Team", "-a", "a-", "a_b", "a.b", &"a".repeat(64)] {
            assert!(check_namespace(ns).is_err(), "{ns}");
        }
    }

    #[test]
    fn name_rule() {
        for name in ["webhook", "a.b", "hello-x7k2p", "..a"] {
            assert!(check_name(name).is_ok(), "{name}");
        }
        for name in [
            "",
            ".",
            "..",
            "../x",
            "a/b",
            "a%2f",
            "a\0b",
            &"a".repeat(254),
        ] {
            assert!(check_name(name).is_err(), "{name:?}");
        }
    }
}
