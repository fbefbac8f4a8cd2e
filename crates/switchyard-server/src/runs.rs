//! Routes of workflow runs: submit, act on a run (suspend, resume, stop, terminate, retry,
//! resubmit, set), stream its logs, delete it. Lists and reads use the generic object routes.
//!
//! Who may do what: reading runs and their logs needs any valid token; `resume` and `set`
//! (the approval gate) need the approver role; everything else needs admin.

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use switchyard_api::{
    LogEntry, LogQuery, RunAction, RunActionRequest, SubmitRequest, SubmitResponse,
};
use switchyard_controller::{ControllerError, LogSelect, Overlay, SubmitOptions};
use switchyard_engine::{Command, EngineError, Problem};
use switchyard_manifest::{Loaded, Source};
use switchyard_model::workflow::Workflow;
use switchyard_model::{Diagnostic, Kind, Resource, Severity};
use switchyard_store::ObjectKey;

use crate::apply::check;
use crate::auth::{Principal, roles};
use crate::error::ApiError;
use crate::routes::{check_name, check_namespace, json_rejection, path_rejection};
use crate::state::AppState;

/// `POST /api/v1/namespaces/{ns}/workflows`.
pub async fn submit(
    State(state): State<AppState>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<SubmitRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<SubmitResponse>), ApiError> {
    principal.require(roles::ADMIN, "submit workflows")?;
    let Path(ns) = path.map_err(path_rejection)?;
    check_namespace(&ns)?;
    let Json(req) = body.map_err(json_rejection)?;
    if !req.dry_run
        && let Some(reason) = state.pipeline().run_gate().refusal()
    {
        let mut err = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            switchyard_api::ErrorCode::Unavailable,
            format!("the workflow was not submitted: {reason}"),
        );
        err.retry_after = Some(1);
        return Err(err);
    }
    let parameters = parse_pairs(&req.parameters, "parameters")?;
    let options = SubmitOptions {
        name: req.name.clone(),
        generate_name: req.generate_name.clone(),
        parameters,
        entrypoint: req.entrypoint.clone(),
        labels: req.labels.clone(),
        dry_run: req.dry_run,
        overlay: Overlay::new(),
    };
    let controller = state.controller();
    let mut response = SubmitResponse {
        dry_run: req.dry_run,
        ..Default::default()
    };
    match (&req.source, &req.from) {
        (Some(source), None) => {
            let (workflows, diagnostics) = load_workflows(&state, source, &ns).await?;
            response.diagnostics = diagnostics;
            if workflows.len() > 1 && options.name.is_some() {
                return Err(ApiError::bad_request(
                    "`name` applies to one Workflow, but the manifest has several",
                ));
            }
            // With several Workflows, check every one before creating any, so a bad one
            // creates nothing (one alone is checked by its own submit before it is stored).
            let mut problems = Vec::new();
            let several = if workflows.len() > 1 {
                &workflows[..]
            } else {
                &[]
            };
            for (loaded, wf) in several {
                let dry = SubmitOptions {
                    dry_run: true,
                    ..options.clone()
                };
                if let Err(e) = controller.submit(&ns, wf.clone(), dry).await {
                    problems.extend(located(loaded, e)?);
                }
            }
            if !problems.is_empty() {
                return Err(ApiError::invalid_manifest(problems));
            }
            for (loaded, wf) in workflows {
                let done = controller
                    .submit(&ns, wf, options.clone())
                    .await
                    .map_err(|e| match located(&loaded, e) {
                        Ok(d) => ApiError::invalid_manifest(d),
                        Err(api) => api,
                    })?;
                response.items.push(done.object.body);
            }
        }
        (None, Some(from)) => {
            let (kind, name) = parse_from(from)?;
            let wf = controller
                .workflow_from(&ns, kind, &name)
                .await
                .map_err(api_error)?;
            let done = controller
                .submit(&ns, wf, options)
                .await
                .map_err(api_error)?;
            response.items.push(done.object.body);
        }
        _ => {
            return Err(ApiError::bad_request(
                "give exactly one of `source` (a manifest) and `from` (workflowtemplate/NAME, clusterworkflowtemplate/NAME or cronworkflow/NAME)",
            ));
        }
    }
    for item in &response.items {
        tracing::info!(
            principal = %principal.name,
            namespace = %ns,
            run = item.pointer("/metadata/name").and_then(serde_json::Value::as_str).unwrap_or(""),
            dry_run = req.dry_run,
            "workflow submitted"
        );
    }
    let status = if req.dry_run {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(response)))
}

/// `PUT /api/v1/namespaces/{ns}/workflows/{name}/{action}`: answers with the run after the
/// action took effect (for `resubmit`, the new run).
pub async fn act(
    State(state): State<AppState>,
    principal: Principal,
    path: Result<Path<(String, String, String)>, PathRejection>,
    body: Option<Json<RunActionRequest>>,
) -> Result<Json<Value>, ApiError> {
    let Path((ns, name, action)) = path.map_err(path_rejection)?;
    check_namespace(&ns)?;
    check_name(&name)?;
    let action: RunAction = action.parse().map_err(|e: String| ApiError::not_found(e))?;
    let req = body.map(|Json(r)| r).unwrap_or_default();
    match action {
        RunAction::Resume | RunAction::Set => {
            principal.require(roles::APPROVER, "resume workflows")?
        }
        _ => principal.require(roles::ADMIN, &format!("{action} workflows"))?,
    }
    check_fields(action, &req)?;
    let key = ObjectKey::new(Kind::Workflow, ns.clone(), name.clone());
    let controller = state.controller();
    let by = principal.name.clone();
    let cmd = match action {
        RunAction::Suspend => Command::Suspend,
        RunAction::Resume => Command::Resume {
            node_filter: req.node_field_selector.clone(),
            by: by.clone(),
            message: req.message.clone(),
        },
        RunAction::Stop => Command::Stop {
            by: by.clone(),
            message: req.message.clone(),
        },
        RunAction::Terminate => Command::Terminate {
            by: by.clone(),
            message: req.message.clone(),
        },
        RunAction::Retry => Command::RetryFailed {
            by: by.clone(),
            restart_successful: req.restart_successful,
            node_filter: req.node_field_selector.clone(),
        },
        RunAction::Set => {
            let Some(filter) = req.node_field_selector.clone() else {
                return Err(ApiError::bad_request(
                    "`set` needs `nodeFieldSelector` naming the suspend node(s), e.g. displayName=approve",
                ));
            };
            Command::SetOutputs {
                node_filter: filter,
                parameters: parse_pairs(&req.parameters, "parameters")?,
                message: req.message.clone(),
            }
        }
        RunAction::Resubmit => {
            let wf = controller.resubmit_source(&key).await.map_err(api_error)?;
            let options = SubmitOptions {
                parameters: parse_pairs(&req.parameters, "parameters")?,
                ..Default::default()
            };
            let done = controller
                .submit(&ns, wf, options)
                .await
                .map_err(api_error)?;
            tracing::info!(principal = %by, namespace = %ns, run = %name, new_run = %done.object.name, "workflow resubmitted");
            return Ok(Json(done.object.body));
        }
    };
    controller.command(&key, cmd).await.map_err(api_error)?;
    tracing::info!(principal = %by, namespace = %ns, run = %name, action = %action, "workflow action");
    match state.store().get(&key).await? {
        Some(object) => Ok(Json(object.body)),
        None => Err(ApiError::not_found(format!(
            "workflow {ns}/{name} not found"
        ))),
    }
}

/// `GET /api/v1/namespaces/{ns}/workflows/{name}/log`: NDJSON, one [`LogEntry`] per line.
pub async fn logs(
    State(state): State<AppState>,
    _principal: Principal,
    path: Result<Path<(String, String)>, PathRejection>,
    query: Result<Query<LogQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Path((ns, name)) = path.map_err(path_rejection)?;
    check_namespace(&ns)?;
    check_name(&name)?;
    let Query(q) = query.map_err(|e| {
        ApiError::bad_request(format!(
            "{}; `follow` takes `true` or `false`",
            e.body_text()
        ))
    })?;
    let key = ObjectKey::new(Kind::Workflow, ns, name);
    let select = LogSelect {
        step: q.step,
        follow: q.follow,
    };
    let controller = state.controller().clone();
    controller
        .check_log_request(&key, &select)
        .await
        .map_err(api_error)?;
    let (tx, rx) = tokio::sync::mpsc::channel(256);
    tokio::spawn(async move {
        if let Err(e) = controller.read_logs(&key, select, tx).await {
            tracing::warn!(error = %e, "reading logs failed");
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        let line = rx.recv().await?;
        let entry = LogEntry {
            node_id: line.node_id,
            node_name: line.node_name,
            time: line
                .line
                .time
                .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            stream: match line.line.stream {
                switchyard_engine::LogStream::Stdout => "stdout",
                switchyard_engine::LogStream::Stderr => "stderr",
                switchyard_engine::LogStream::System => "system",
            }
            .to_string(),
            text: line.line.text,
        };
        let mut bytes = serde_json::to_vec(&entry).unwrap_or_default();
        bytes.push(b'\n');
        Some((Ok::<_, std::io::Error>(bytes), rx))
    });
    Ok((
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(stream),
    )
        .into_response())
}

/// Deletes a run through the controller (its steps are stopped first).
pub async fn delete(state: &AppState, key: &ObjectKey) -> Result<Option<Value>, ApiError> {
    let deleted = state.controller().delete(key).await.map_err(api_error)?;
    Ok(deleted.map(|o| o.body))
}

/// The templates and ConfigMaps among the other objects of an apply, for checking the
/// Workflows of the same apply against them.
pub fn overlay_of(others: &[&Loaded]) -> Overlay {
    let mut overlay = Overlay::new();
    for o in others {
        let kind = o.resource.kind();
        if !matches!(
            kind,
            Kind::WorkflowTemplate | Kind::ClusterWorkflowTemplate | Kind::ConfigMap
        ) {
            continue;
        }
        let req = crate::apply::put_request(o);
        let switchyard_store::ObjectName::Exact(name) = req.name else {
            continue;
        };
        let key = ObjectKey::new(kind, req.namespace.clone(), name.clone());
        overlay.insert(
            key,
            switchyard_store::StoredObject {
                kind,
                namespace: req.namespace,
                name,
                uid: String::new(),
                resource_version: 0,
                created_at: chrono::Utc::now(),
                body: req.body,
            },
        );
    }
    overlay
}

/// Checks that an applied Workflow can run; `Err(Ok(diagnostics))` locates the problems in
/// the manifest, `Err(Err(api))` is any other failure.
pub async fn check_run(
    state: &AppState,
    loaded: &Loaded,
    overlay: &Overlay,
) -> Result<(), Result<Vec<Diagnostic>, ApiError>> {
    let Resource::Workflow(wf) = &loaded.resource else {
        return Ok(());
    };
    let ns = crate::apply::store_namespace(Kind::Workflow, wf.metadata.namespace.as_deref());
    if let Some(name) = &wf.metadata.name {
        let key = ObjectKey::new(Kind::Workflow, ns.clone(), name.clone());
        if state
            .store()
            .get(&key)
            .await
            .map_err(|e| Err(e.into()))?
            .is_some()
        {
            // Already submitted: `apply` leaves it as it is.
            return Ok(());
        }
    }
    let options = SubmitOptions {
        dry_run: true,
        overlay: overlay.clone(),
        ..Default::default()
    };
    match state
        .controller()
        .submit(&ns, (**wf).clone(), options)
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => Err(located(loaded, e)),
    }
}

/// Starts an applied Workflow (checked by [`check_run`]); one that exists already is
/// `unchanged`, as runs are not changed by applying them again.
pub async fn start_applied(
    state: &AppState,
    loaded: &Loaded,
    overlay: &Overlay,
    dry_run: bool,
) -> Result<switchyard_api::ApplyResult, ApiError> {
    let Resource::Workflow(wf) = &loaded.resource else {
        return Err(ApiError::internal(
            "start_applied called with a non-Workflow",
        ));
    };
    let ns = crate::apply::store_namespace(Kind::Workflow, wf.metadata.namespace.as_deref());
    let result = |name: String, action| switchyard_api::ApplyResult {
        kind: Kind::Workflow,
        namespace: Some(ns.clone()),
        name,
        action,
    };
    if let Some(name) = &wf.metadata.name {
        let key = ObjectKey::new(Kind::Workflow, ns.clone(), name.clone());
        if state.store().get(&key).await?.is_some() {
            return Ok(result(name.clone(), switchyard_api::Action::Unchanged));
        }
    }
    let options = SubmitOptions {
        dry_run,
        // In a dry run the request's templates are not stored.
        overlay: if dry_run {
            overlay.clone()
        } else {
            Overlay::new()
        },
        ..Default::default()
    };
    let done = state
        .controller()
        .submit(&ns, (**wf).clone(), options)
        .await
        .map_err(|e| match located(loaded, e) {
            Ok(d) => ApiError::invalid_manifest(d),
            Err(api) => api,
        })?;
    Ok(result(done.object.name, switchyard_api::Action::Created))
}

/// Refuses request fields the action does not use, so nothing is silently ignored.
fn check_fields(action: RunAction, req: &RunActionRequest) -> Result<(), ApiError> {
    use RunAction::*;
    let given = [
        (
            "nodeFieldSelector",
            req.node_field_selector.is_some(),
            &[Resume, Retry, Set][..],
        ),
        (
            "message",
            req.message.is_some(),
            &[Resume, Stop, Terminate, Set][..],
        ),
        ("restartSuccessful", req.restart_successful, &[Retry][..]),
        (
            "parameters",
            !req.parameters.is_empty(),
            &[Resubmit, Set][..],
        ),
    ];
    for (field, present, allowed) in given {
        if present && !allowed.contains(&action) {
            let names: Vec<&str> = allowed.iter().map(|a| a.as_str()).collect();
            return Err(ApiError::bad_request(format!(
                "`{field}` does not apply to `{action}`; it is used by {}",
                names.join(", ")
            )));
        }
    }
    Ok(())
}

/// Parses `name=value` pairs; the value may contain `=`.
fn parse_pairs(pairs: &[String], field: &str) -> Result<Vec<(String, String)>, ApiError> {
    pairs
        .iter()
        .enumerate()
        .map(|(i, p)| match p.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(ApiError::bad_request(format!(
                "{field}[{i}]: `{p}` is not `name=value`"
            ))),
        })
        .collect()
}

/// `workflowtemplate/NAME` and its short forms.
fn parse_from(from: &str) -> Result<(Kind, String), ApiError> {
    let Some((kind, name)) = from.split_once('/') else {
        return Err(ApiError::bad_request(format!(
            "from: `{from}` is not KIND/NAME, e.g. workflowtemplate/build"
        )));
    };
    let kind = match kind.to_ascii_lowercase().as_str() {
        "workflowtemplate" | "workflowtemplates" | "wftmpl" => Kind::WorkflowTemplate,
        "clusterworkflowtemplate" | "clusterworkflowtemplates" | "cwft" => {
            Kind::ClusterWorkflowTemplate
        }
        "cronworkflow" | "cronworkflows" | "cwf" | "cronwf" => Kind::CronWorkflow,
        other => {
            return Err(ApiError::bad_request(format!(
                "from: cannot submit from `{other}`; use workflowtemplate/NAME, clusterworkflowtemplate/NAME or cronworkflow/NAME"
            )));
        }
    };
    if name.is_empty() {
        return Err(ApiError::bad_request(format!(
            "from: `{from}` names no object"
        )));
    }
    Ok((kind, name.to_string()))
}

/// Loads and checks a submitted manifest; returns its Workflows (other kinds are an error:
/// `apply` them).
async fn load_workflows(
    state: &AppState,
    source: &switchyard_api::SourceText,
    ns: &str,
) -> Result<(Vec<(Loaded, Workflow)>, Vec<Diagnostic>), ApiError> {
    let sources = vec![Source {
        name: source.name.clone(),
        text: source.content.clone(),
    }];
    let limits = state.manifest_limits().clone();
    let namespace = ns.to_string();
    let mut checked = tokio::task::spawn_blocking(move || {
        // References to templates are checked against the store by the controller, with
        // the field's path; the offline check assumes they exist.
        check(&sources, &limits, Some(&namespace), &|_, _, _| true)
    })
    .await
    .map_err(|e| ApiError::internal(format!("the submit task failed: {e}")))?;
    let mut workflows = Vec::new();
    for loaded in std::mem::take(&mut checked.objects) {
        match &loaded.resource {
            Resource::Workflow(wf) => {
                let wf = (**wf).clone();
                workflows.push((loaded, wf));
            }
            other => {
                let kind = other.kind();
                checked.diagnostics.push(loaded.diagnostic(
                    Severity::Error,
                    "kind",
                    format!("`submit` takes Workflows; a {kind} is created with `apply`"),
                ));
            }
        }
    }
    if checked.has_errors() {
        return Err(ApiError::invalid_manifest(checked.diagnostics));
    }
    if workflows.is_empty() {
        return Err(ApiError::bad_request(format!(
            "{}: the manifest holds no Workflow",
            source.name
        )));
    }
    Ok((workflows, checked.diagnostics))
}

/// Submit problems as diagnostics located in the manifest; other errors as they are.
fn located(loaded: &Loaded, e: ControllerError) -> Result<Vec<Diagnostic>, ApiError> {
    match e {
        ControllerError::Invalid { problems } => Ok(problems
            .iter()
            .map(|Problem { path, message }| {
                loaded.diagnostic(Severity::Error, path, message.clone())
            })
            .collect()),
        other => Err(api_error(other)),
    }
}

/// The HTTP answer for a controller error.
pub fn api_error(e: ControllerError) -> ApiError {
    use switchyard_controller::FailureClass;
    let message = e.to_string();
    match e {
        ControllerError::Invalid { problems } => {
            // The problems travel as diagnostics; the message only counts them, so a client
            // that prints both does not say everything twice.
            let noun = if problems.len() == 1 {
                "problem"
            } else {
                "problems"
            };
            let mut err = ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                switchyard_api::ErrorCode::InvalidManifest,
                format!(
                    "the workflow cannot be submitted: {} {noun}",
                    problems.len()
                ),
            );
            err.body.diagnostics = problems
                .into_iter()
                .map(|p| Diagnostic::new(Severity::Error, p.path, p.message))
                .collect();
            err
        }
        ControllerError::NotFound { .. } | ControllerError::NoSuchNode { .. } => {
            ApiError::not_found(message)
        }
        ControllerError::Engine(e) => match e {
            EngineError::WrongPhase { .. } | EngineError::NothingToResume { .. } => ApiError::new(
                StatusCode::CONFLICT,
                switchyard_api::ErrorCode::Conflict,
                message,
            ),
            EngineError::BadFilter { .. }
            | EngineError::UnknownOutput { .. }
            | EngineError::UnknownNode { .. }
            | EngineError::NotAStep { .. } => ApiError::bad_request(message),
            EngineError::Invalid { .. } | EngineError::Internal { .. } => {
                tracing::error!(error = %message, "engine failure");
                ApiError::internal(message)
            }
        },
        ControllerError::Store(e) => e.into(),
        ControllerError::Corrupt(_) => ApiError::internal(message),
        ControllerError::ShuttingDown | ControllerError::Unavailable(_) => {
            let mut err = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                switchyard_api::ErrorCode::Unavailable,
                message,
            );
            err.retry_after = Some(1);
            err
        }
        ControllerError::Forwarded { class, .. } => match class {
            FailureClass::NotFound => ApiError::not_found(message),
            FailureClass::Conflict => ApiError::new(
                StatusCode::CONFLICT,
                switchyard_api::ErrorCode::Conflict,
                message,
            ),
            FailureClass::BadRequest => ApiError::bad_request(message),
            FailureClass::Unavailable => {
                let mut err = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    switchyard_api::ErrorCode::Unavailable,
                    message,
                );
                err.retry_after = Some(1);
                err
            }
            FailureClass::Internal => ApiError::internal(message),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_an_action_ignores_are_refused() {
        let selector = RunActionRequest {
            node_field_selector: Some("displayName=a".into()),
            ..Default::default()
        };
        assert!(check_fields(RunAction::Resume, &selector).is_ok());
        let err = check_fields(RunAction::Stop, &selector).unwrap_err();
        assert!(
            err.body.message.contains(
                "`nodeFieldSelector` does not apply to `stop`; it is used by resume, retry, set"
            ),
            "{}",
            err.body.message
        );
        let params = RunActionRequest {
            parameters: vec!["a=b".into()],
            ..Default::default()
        };
        assert!(check_fields(RunAction::Resubmit, &params).is_ok());
        assert!(check_fields(RunAction::Retry, &params).is_err());
    }

    #[test]
    fn pairs_and_from() {
        assert_eq!(
            parse_pairs(&["a=b=c".into()], "parameters").unwrap(),
            vec![("a".to_string(), "b=c".to_string())]
        );
        let err = parse_pairs(&["ok=1".into(), "novalue".into()], "parameters").unwrap_err();
        assert!(
            err.body
                .message
                .contains("parameters[1]: `novalue` is not `name=value`")
        );
        assert_eq!(
            parse_from("wftmpl/build").unwrap(),
            (Kind::WorkflowTemplate, "build".to_string())
        );
        assert_eq!(
            parse_from("cwft/x").unwrap().0,
            Kind::ClusterWorkflowTemplate
        );
        assert_eq!(parse_from("CronWorkflow/x").unwrap().0, Kind::CronWorkflow);
        assert!(
            parse_from("sensor/x")
                .unwrap_err()
                .body
                .message
                .contains("cannot submit from `sensor`")
        );
        assert!(
            parse_from("build")
                .unwrap_err()
                .body
                .message
                .contains("not KIND/NAME")
        );
    }
}
