//! The backend-neutral rules of the contract: key validation, generateName, preconditions,
//! the Unchanged test, server-managed metadata and Secret body encoding.
//!
//! Backends call these inside their transaction so that SQLite and PostgreSQL agree to the
//! letter; only reading and writing rows is theirs. A put goes:
//! [`resolve_key`] → read the current row → [`plan_put`] → on `Create`/`Update` take the next
//! resource version → [`created`]/[`updated`] → [`encode_body`] → write the row.
//!
//! A status write ([`Store::put_status`](crate::Store::put_status)) goes: [`validate_key`] →
//! read the current row, decoding its body with [`decode_body_with_status`] →
//! [`check_status_precondition`] → take the next resource version → [`status_written`] →
//! [`encode_body`] → update the row and upsert the step logs.

use chrono::{DateTime, SubsecRound, Utc};
use rand::Rng;
use serde_json::{Map, Value};
use switchyard_model::Kind;

use crate::{
    ObjectKey, ObjectName, Precondition, PutRequest, SecretSealer, StoreError, StoredObject,
};

/// Longest name or namespace the store accepts, in bytes (Kubernetes' DNS subdomain limit).
pub const MAX_NAME_LEN: usize = 253;
/// Random characters appended to a `generateName` prefix.
pub const GENERATED_SUFFIX_LEN: usize = 5;
/// How many generated names are tried before giving up with `AlreadyExists`.
pub const GENERATE_ATTEMPTS: usize = 16;
const SUFFIX_CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
/// Metadata fields the store owns and the Unchanged test ignores.
pub const SERVER_MANAGED: &[&str] = &["uid", "resourceVersion", "creationTimestamp", "generation"];

/// Checks a key against the contract: scope, and the shape of namespace and name.
pub fn validate_key(key: &ObjectKey) -> Result<(), StoreError> {
    validate_scope(key.kind, &key.namespace, key)?;
    validate_segment("name", &key.name, key)
}

/// Checks a list's namespace filter against the kind's scope.
pub fn validate_list(kind: Kind, namespace: Option<&str>) -> Result<(), StoreError> {
    match namespace {
        Some(ns) if !kind.namespaced() && !ns.is_empty() => Err(StoreError::invalid(
            kind.qualified(),
            format!("{kind} is cluster-scoped; list it without a namespace, not in `{ns}`"),
        )),
        _ => Ok(()),
    }
}

/// Checks a [`crate::Store::list_page`] request.
pub fn validate_page(
    kind: Kind,
    namespace: Option<&str>,
    page: &crate::PageRequest,
) -> Result<(), StoreError> {
    validate_list(kind, namespace)?;
    if page.limit == 0 {
        return Err(StoreError::invalid(
            kind.qualified(),
            "a page holds at least one object: `limit` must be 1 or more",
        ));
    }
    Ok(())
}

fn validate_scope(kind: Kind, namespace: &str, object: &ObjectKey) -> Result<(), StoreError> {
    if kind.namespaced() {
        validate_segment("namespace", namespace, object)
    } else if namespace.is_empty() {
        Ok(())
    } else {
        Err(StoreError::invalid(
            object,
            format!("{kind} is cluster-scoped and takes no namespace, but `{namespace}` was given"),
        ))
    }
}

fn validate_segment(what: &str, value: &str, object: &ObjectKey) -> Result<(), StoreError> {
    let problem = if value.is_empty() {
        format!("{what} must not be empty")
    } else if value.len() > MAX_NAME_LEN {
        format!(
            "{what} is {} bytes long; the limit is {MAX_NAME_LEN}",
            value.len()
        )
    } else if value.contains('/') {
        format!("{what} `{value}` must not contain `/`")
    } else if value.chars().any(char::is_control) {
        format!("{what} {value:?} must not contain control characters")
    } else {
        return Ok(());
    };
    Err(StoreError::invalid(object, problem))
}

/// A fresh candidate name: `prefix` plus [`GENERATED_SUFFIX_LEN`] random `[a-z0-9]`.
pub fn generated_name(prefix: &str) -> String {
    let mut rng = rand::rng();
    let mut name = String::with_capacity(prefix.len() + GENERATED_SUFFIX_LEN);
    name.push_str(prefix);
    for _ in 0..GENERATED_SUFFIX_LEN {
        name.push(char::from(
            SUFFIX_CHARS[rng.random_range(0..SUFFIX_CHARS.len())],
        ));
    }
    name
}

/// Turns a request's name into a validated key. For `Generate`, draws names until `exists`
/// says one is free (at most [`GENERATE_ATTEMPTS`] times) and checks the precondition is one
/// a create accepts.
pub fn resolve_key(
    req: &PutRequest,
    mut exists: impl FnMut(&ObjectKey) -> Result<bool, StoreError>,
) -> Result<ObjectKey, StoreError> {
    match &req.name {
        ObjectName::Exact(name) => {
            let key = ObjectKey::new(req.kind, req.namespace.clone(), name.clone());
            validate_key(&key)?;
            Ok(key)
        }
        ObjectName::Generate(prefix) => {
            let pattern = ObjectKey::new(req.kind, req.namespace.clone(), format!("{prefix}*"));
            if !matches!(
                req.precondition,
                Precondition::None | Precondition::MustNotExist
            ) {
                return Err(StoreError::invalid(
                    &pattern,
                    format!(
                        "a generated name only creates, so the precondition must be None or MustNotExist, not {:?}",
                        req.precondition
                    ),
                ));
            }
            validate_scope(req.kind, &req.namespace, &pattern)?;
            let mut key = pattern.clone();
            for _ in 0..GENERATE_ATTEMPTS {
                key = ObjectKey::new(req.kind, req.namespace.clone(), generated_name(prefix));
                validate_segment("name", &key.name, &key).map_err(|e| match e {
                    StoreError::Invalid { reason, .. } => StoreError::invalid(
                        &pattern,
                        format!("generateName `{prefix}` gives an invalid name: {reason}"),
                    ),
                    other => other,
                })?;
                if !exists(&key)? {
                    return Ok(key);
                }
            }
            Err(StoreError::AlreadyExists { key })
        }
    }
}

/// Checks a put's precondition against the current object.
pub fn check_precondition(
    key: &ObjectKey,
    current: Option<&StoredObject>,
    precondition: Precondition,
) -> Result<(), StoreError> {
    match (precondition, current) {
        (Precondition::None, _) => Ok(()),
        (Precondition::MustNotExist, Some(_)) => {
            Err(StoreError::AlreadyExists { key: key.clone() })
        }
        (Precondition::MustNotExist, None) => Ok(()),
        (Precondition::MustExist | Precondition::ResourceVersion(_), None) => {
            Err(StoreError::NotFound { key: key.clone() })
        }
        (Precondition::MustExist, Some(_)) => Ok(()),
        (Precondition::ResourceVersion(expected), Some(o)) if o.resource_version != expected => {
            Err(StoreError::Conflict {
                key: key.clone(),
                expected,
                actual: o.resource_version,
            })
        }
        (Precondition::ResourceVersion(_), Some(_)) => Ok(()),
    }
}

/// Checks a delete's precondition against the current object.
pub fn check_delete_precondition(
    key: &ObjectKey,
    current: Option<&StoredObject>,
    precondition: Precondition,
) -> Result<(), StoreError> {
    if precondition == Precondition::MustNotExist {
        return Err(StoreError::invalid(
            key,
            "a delete cannot require the object to be absent (MustNotExist)",
        ));
    }
    check_precondition(key, current, precondition)
}

/// Checks a status write's precondition against the current object and returns that object
/// when the write may go ahead. A status write needs an existing object whatever the
/// precondition: `None` and `MustExist` fail with [`StoreError::NotFound`] when it is absent,
/// `ResourceVersion` fails as for a put, and `MustNotExist` is [`StoreError::Invalid`].
pub fn check_status_precondition(
    key: &ObjectKey,
    current: Option<StoredObject>,
    precondition: Precondition,
) -> Result<StoredObject, StoreError> {
    if precondition == Precondition::MustNotExist {
        return Err(StoreError::invalid(
            key,
            "a status write needs an existing object, so its precondition cannot be MustNotExist",
        ));
    }
    check_precondition(key, current.as_ref(), precondition)?;
    current.ok_or_else(|| StoreError::NotFound { key: key.clone() })
}

/// What to do with a put, decided from the current object.
#[derive(Debug, Clone, PartialEq)]
pub enum PutPlan {
    /// Nothing to write; return this stored object.
    Unchanged(StoredObject),
    /// Insert a new object: pass `body` to [`created`].
    Create { body: Value },
    /// Overwrite `current`: pass both to [`updated`].
    Update { current: StoredObject, body: Value },
}

/// Validates the body, checks the precondition, and decides between Create, Update and
/// Unchanged. `key` must come from [`resolve_key`].
pub fn plan_put(
    key: &ObjectKey,
    current: Option<StoredObject>,
    body: Value,
    precondition: Precondition,
) -> Result<PutPlan, StoreError> {
    let body = normalize(key, body)?;
    check_precondition(key, current.as_ref(), precondition)?;
    let Some(current) = current else {
        return Ok(PutPlan::Create { body });
    };
    if same_content(&current.body, &body) {
        return Ok(PutPlan::Unchanged(current));
    }
    Ok(PutPlan::Update { current, body })
}

/// True when two bodies are equal ignoring [`SERVER_MANAGED`] metadata and `status`.
///
/// `metadata.name` and `metadata.namespace` are ignored too: the key decides them (a put
/// overwrites them), so a manifest that leaves its namespace to a default compares equal to
/// the stored object. For a full dry run of a put, prefer [`plan_put`].
pub fn same_content(a: &Value, b: &Value) -> bool {
    strip_server_fields(a) == strip_server_fields(b)
}

fn strip_server_fields(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(obj) = v.as_object_mut() {
        obj.remove("status");
        if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            for field in SERVER_MANAGED.iter().chain(&["name", "namespace"]) {
                meta.remove(*field);
            }
        }
    }
    v
}

/// Checks the body is an object with an object (or absent) `metadata`, and writes the key's
/// name and namespace into it.
fn normalize(key: &ObjectKey, body: Value) -> Result<Value, StoreError> {
    let Value::Object(mut obj) = body else {
        return Err(StoreError::invalid(
            key,
            format!("the body must be a JSON object, not {}", json_type(&body)),
        ));
    };
    let meta = obj
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(meta) = meta else {
        return Err(StoreError::invalid(
            key,
            format!("`metadata` must be an object, not {}", json_type(meta)),
        ));
    };
    meta.insert("name".to_owned(), Value::String(key.name.clone()));
    if key.kind.namespaced() {
        meta.insert("namespace".to_owned(), Value::String(key.namespace.clone()));
    } else {
        meta.remove("namespace");
    }
    Ok(Value::Object(obj))
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The current time as the store records it: UTC, whole seconds.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

/// `creationTimestamp` text: RFC 3339, whole seconds, `Z`.
pub fn format_timestamp(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The object a `Create` plan stores: a new UID, generation 1, created now.
pub fn created(key: &ObjectKey, body: Value, resource_version: u64) -> StoredObject {
    stamp(
        key,
        body,
        uuid::Uuid::new_v4().to_string(),
        resource_version,
        now(),
        1,
    )
}

/// The object an `Update` plan stores: UID and creation time kept, generation +1, the stored
/// `status` kept in place of the body's.
pub fn updated(current: &StoredObject, mut body: Value, resource_version: u64) -> StoredObject {
    if let Some(obj) = body.as_object_mut() {
        match current.body.get("status") {
            Some(status) => {
                obj.insert("status".to_owned(), status.clone());
            }
            None => {
                obj.remove("status");
            }
        }
    }
    stamp(
        &current.key(),
        body,
        current.uid.clone(),
        resource_version,
        current.created_at,
        current.generation() + 1,
    )
}

fn stamp(
    key: &ObjectKey,
    mut body: Value,
    uid: String,
    resource_version: u64,
    created_at: DateTime<Utc>,
    generation: u64,
) -> StoredObject {
    if let Some(meta) = body.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("uid".to_owned(), Value::String(uid.clone()));
        meta.insert(
            "resourceVersion".to_owned(),
            Value::String(resource_version.to_string()),
        );
        meta.insert(
            "creationTimestamp".to_owned(),
            Value::String(format_timestamp(&created_at)),
        );
        meta.insert("generation".to_owned(), Value::from(generation));
    }
    StoredObject {
        kind: key.kind,
        namespace: key.namespace.clone(),
        name: key.name.clone(),
        uid,
        resource_version,
        created_at,
        body,
    }
}

/// The object a status write stores: `current` as read with its new status in place (see
/// [`decode_body_with_status`]), stamped with `resource_version`; uid, creation time and
/// generation are kept.
pub fn status_written(current: StoredObject, resource_version: u64) -> StoredObject {
    let generation = current.generation();
    let key = current.key();
    stamp(
        &key,
        current.body,
        current.uid,
        resource_version,
        current.created_at,
        generation,
    )
}

/// True for kinds whose bodies are sealed at rest.
pub fn is_sealed_kind(kind: Kind) -> bool {
    kind == Kind::Secret
}

/// A body as a backend stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedBody {
    pub bytes: Vec<u8>,
    pub sealed: bool,
}

/// JSON bytes, sealed for Secrets.
pub fn encode_body(
    sealer: &SecretSealer,
    object: &StoredObject,
) -> Result<EncodedBody, StoreError> {
    let json = serde_json::to_vec(&object.body).map_err(|e| StoreError::Internal {
        reason: format!("cannot serialize {}: {e}", object.key()),
    })?;
    if is_sealed_kind(object.kind) {
        Ok(EncodedBody {
            bytes: sealer.try_seal(&json)?,
            sealed: true,
        })
    } else {
        Ok(EncodedBody {
            bytes: json,
            sealed: false,
        })
    }
}

/// Reverses [`encode_body`]; failures are [`StoreError::Corrupt`] naming the object.
pub fn decode_body(
    sealer: &SecretSealer,
    key: &ObjectKey,
    bytes: &[u8],
    sealed: bool,
) -> Result<Value, StoreError> {
    let opened;
    let json = if sealed {
        opened = open_sealed(sealer, key, bytes)?;
        &opened[..]
    } else {
        bytes
    };
    serde_json::from_slice(json).map_err(|e| StoreError::Corrupt {
        what: format!("{key}: the stored body is not valid JSON: {e}"),
    })
}

/// Reverses [`encode_body`] for a status write: the stored top-level `status` is skipped
/// rather than built (in a Workflow it is most of the body, and it is about to be replaced)
/// and `status` takes its place, at the end if the body had none; a `null` status leaves the
/// body without one. Failures are [`StoreError::Corrupt`] naming the object, as in
/// [`decode_body`].
pub fn decode_body_with_status(
    sealer: &SecretSealer,
    key: &ObjectKey,
    bytes: &[u8],
    sealed: bool,
    status: Value,
) -> Result<Value, StoreError> {
    let opened;
    let json = if sealed {
        opened = open_sealed(sealer, key, bytes)?;
        &opened[..]
    } else {
        bytes
    };
    let corrupt = |e: serde_json::Error| StoreError::Corrupt {
        what: format!("{key}: the stored body is not a valid JSON object: {e}"),
    };
    let mut de = serde_json::Deserializer::from_slice(json);
    let body =
        serde::Deserializer::deserialize_map(&mut de, ReplaceStatus(status)).map_err(corrupt)?;
    de.end().map_err(corrupt)?;
    Ok(body)
}

/// Deserializes a JSON object into a [`Value`], skipping the value of its `status` member
/// and putting the carried status in its place.
struct ReplaceStatus(Value);

impl<'de> serde::de::Visitor<'de> for ReplaceStatus {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut status = Some(self.0).filter(|s| !s.is_null());
        let mut obj = Map::new();
        while let Some(member) = map.next_key::<String>()? {
            if member == "status" {
                map.next_value::<serde::de::IgnoredAny>()?;
                // A repeated `status` member keeps the first position, as a parsed body would.
                if let Some(status) = status.take() {
                    obj.insert(member, status);
                }
            } else {
                let value = map.next_value::<Value>()?;
                obj.insert(member, value);
            }
        }
        if let Some(status) = status {
            obj.insert("status".to_owned(), status);
        }
        Ok(Value::Object(obj))
    }
}

fn open_sealed(
    sealer: &SecretSealer,
    key: &ObjectKey,
    bytes: &[u8],
) -> Result<Vec<u8>, StoreError> {
    sealer.open(bytes).map_err(|e| match e {
        StoreError::Corrupt { what } => StoreError::Corrupt {
            what: format!("{key}: {what}"),
        },
        other => other,
    })
}

/// Parses a kind name as backends store it ([`Kind::name`]).
pub fn kind_from_stored(name: &str) -> Result<Kind, StoreError> {
    Kind::ALL
        .iter()
        .copied()
        .find(|k| k.name() == name)
        .ok_or_else(|| StoreError::Corrupt {
            what: format!("a stored object has the unknown kind `{name}`; was it written by a newer Switchyard?"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(kind: Kind, ns: &str, name: &str) -> ObjectKey {
        ObjectKey::new(kind, ns, name)
    }

    #[test]
    fn key_validation_names_the_problem() {
        let long = "a".repeat(254);
        for (k, want) in [
            (key(Kind::ConfigMap, "default", "ok"), None),
            (key(Kind::ClusterWorkflowTemplate, "", "ok"), None),
            (
                key(Kind::ConfigMap, "", "x"),
                Some("invalid request for configmap/x: namespace must not be empty"),
            ),
            (
                key(Kind::ClusterWorkflowTemplate, "prod", "x"),
                Some(
                    "invalid request for clusterworkflowtemplate.argoproj.io/prod/x: ClusterWorkflowTemplate is cluster-scoped and takes no namespace, but `prod` was given",
                ),
            ),
            (
                key(Kind::Sensor, "default", ""),
                Some("invalid request for sensor.argoproj.io/default/: name must not be empty"),
            ),
            (
                key(Kind::Sensor, "default", "a/b"),
                Some(
                    "invalid request for sensor.argoproj.io/default/a/b: name `a/b` must not contain `/`",
                ),
            ),
            (
                key(Kind::Sensor, "default", "a\nb"),
                Some(
                    "invalid request for sensor.argoproj.io/default/a\nb: name \"a\\nb\" must not contain control characters",
                ),
            ),
        ] {
            assert_eq!(
                validate_key(&k).err().map(|e| e.to_string()).as_deref(),
                want,
                "{k:?}"
            );
        }
        let err = validate_key(&key(Kind::Sensor, "default", &long)).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("name is 254 bytes long; the limit is 253"),
            "{err}"
        );
    }

    #[test]
    fn generated_names_have_the_prefix_and_five_safe_characters() {
        for prefix in ["", "hello-", "x"] {
            let name = generated_name(prefix);
            let suffix = name.strip_prefix(prefix).unwrap();
            assert_eq!(suffix.len(), GENERATED_SUFFIX_LEN, "{name}");
            assert!(suffix.bytes().all(|b| SUFFIX_CHARS.contains(&b)), "{name}");
        }
    }

    #[test]
    fn generate_gives_up_after_the_attempts() {
        let req = PutRequest::generate(Kind::Workflow, "default", "wf-", json!({}));
        let mut calls = 0;
        let err = resolve_key(&req, |_| {
            calls += 1;
            Ok(true)
        })
        .unwrap_err();
        assert_eq!(calls, GENERATE_ATTEMPTS);
        assert!(matches!(err, StoreError::AlreadyExists { .. }), "{err}");
    }

    #[test]
    fn generate_rejects_update_preconditions() {
        for pre in [Precondition::MustExist, Precondition::ResourceVersion(3)] {
            let req = PutRequest::generate(Kind::Workflow, "default", "wf-", json!({}))
                .with_precondition(pre);
            let err = resolve_key(&req, |_| Ok(false)).unwrap_err();
            assert!(
                err.to_string().starts_with(
                    "invalid request for workflow.argoproj.io/default/wf-*: a generated name only creates"
                ),
                "{err}"
            );
        }
    }

    #[test]
    fn generate_reports_scope_and_prefix_problems_precisely() {
        let long = "p".repeat(250);
        for (req, want) in [
            (
                PutRequest::generate(Kind::Workflow, "", "wf-", json!({})),
                "invalid request for workflow.argoproj.io/wf-*: namespace must not be empty".to_owned(),
            ),
            (
                PutRequest::generate(Kind::Workflow, "default", "a/", json!({})),
                "invalid request for workflow.argoproj.io/default/a/*: generateName `a/` gives an invalid name: name `a/".to_owned(),
            ),
            (
                PutRequest::generate(Kind::Workflow, "default", long.as_str(), json!({})),
                format!("invalid request for workflow.argoproj.io/default/{long}*: generateName `{long}` gives an invalid name: name is 255 bytes long; the limit is 253"),
            ),
        ] {
            let err = resolve_key(&req, |_| Ok(false)).unwrap_err().to_string();
            assert!(err.starts_with(&want), "{err}");
        }
    }

    #[test]
    fn same_content_ignores_server_fields_and_status_only() {
        let base = json!({"metadata": {"name": "a", "uid": "1", "resourceVersion": "4",
            "creationTimestamp": "2020-01-01T00:00:00Z", "generation": 2}, "spec": {"x": 1}, "status": {"p": 1}});
        for (other, same) in [
            (json!({"metadata": {"name": "a"}, "spec": {"x": 1}}), true),
            (
                json!({"spec": {"x": 1}, "metadata": {"name": "a", "generation": 9}, "status": 3}),
                true,
            ),
            (json!({"metadata": {"name": "a"}, "spec": {"x": 2}}), false),
            (
                json!({"metadata": {"name": "a", "labels": {"l": "v"}}, "spec": {"x": 1}}),
                false,
            ),
            (
                json!({"metadata": {"name": "a"}, "spec": {"x": 1}, "extra": null}),
                false,
            ),
            (
                json!({"metadata": {"name": "a", "namespace": "n"}, "spec": {"x": 1}}),
                true,
            ),
            (json!({"metadata": {}, "spec": {"x": 1}}), true),
        ] {
            assert_eq!(same_content(&base, &other), same, "{other}");
        }
    }

    #[test]
    fn bodies_must_be_objects() {
        let k = key(Kind::ConfigMap, "default", "a");
        for (body, want) in [
            (json!([1]), "the body must be a JSON object, not an array"),
            (json!("x"), "the body must be a JSON object, not a string"),
            (
                json!({"metadata": 3}),
                "`metadata` must be an object, not a number",
            ),
        ] {
            let err = plan_put(&k, None, body, Precondition::None).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("invalid request for configmap/default/a: {want}")
            );
        }
    }

    #[test]
    fn stored_kind_names_round_trip() {
        for kind in Kind::ALL {
            assert_eq!(kind_from_stored(kind.name()).unwrap(), *kind);
        }
        assert!(matches!(
            kind_from_stored("Rollout"),
            Err(StoreError::Corrupt { .. })
        ));
    }

    fn stored(body: Value) -> StoredObject {
        created(&key(Kind::Workflow, "default", "wf"), body, 7)
    }

    #[test]
    fn status_preconditions_need_an_existing_object() {
        let k = key(Kind::Workflow, "default", "wf");
        let current = stored(json!({"metadata": {}}));
        for pre in [
            Precondition::None,
            Precondition::MustExist,
            Precondition::ResourceVersion(7),
        ] {
            assert_eq!(
                check_status_precondition(&k, Some(current.clone()), pre).unwrap(),
                current
            );
            assert_eq!(
                check_status_precondition(&k, None, pre).unwrap_err(),
                StoreError::NotFound { key: k.clone() },
                "{pre:?}"
            );
        }
        assert_eq!(
            check_status_precondition(&k, Some(current.clone()), Precondition::ResourceVersion(6))
                .unwrap_err(),
            StoreError::Conflict {
                key: k.clone(),
                expected: 6,
                actual: 7
            }
        );
        for current in [Some(current), None] {
            let err =
                check_status_precondition(&k, current, Precondition::MustNotExist).unwrap_err();
            assert!(matches!(err, StoreError::Invalid { .. }), "{err}");
        }
    }

    #[test]
    fn decoding_for_a_status_write_puts_the_new_status_in_place_of_the_old() {
        let sealer = SecretSealer::from_key([9; 32]);
        let k = key(Kind::Workflow, "default", "wf");
        let decode = |body: &str, status: Value| {
            decode_body_with_status(&sealer, &k, body.as_bytes(), false, status).unwrap()
        };
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        let new = json!({"phase": "Running"});

        let body = decode(
            r#"{"a":1,"status":{"old":[1,2]},"z":{"n":null}}"#,
            new.clone(),
        );
        assert_eq!(body, json!({"a": 1, "status": new, "z": {"n": null}}));
        assert_eq!(
            keys(&body),
            ["a", "status", "z"],
            "the status keeps its place"
        );

        let body = decode(r#"{"a":1}"#, new.clone());
        assert_eq!(keys(&body), ["a", "status"], "a new status goes at the end");

        let body = decode(r#"{"status":{"old":1},"a":1}"#, Value::Null);
        assert_eq!(body, json!({"a": 1}), "null removes the status");

        let body = decode(r#"{"status":1,"a":1,"status":2}"#, new.clone());
        assert_eq!(body, json!({"status": new, "a": 1}));

        // A sealed body decodes the same way.
        let plain = stored(json!({"metadata": {}, "data": {"k": "v"}, "status": {"x": 1}}));
        let mut secret = plain.clone();
        secret.kind = Kind::Secret;
        let encoded = encode_body(&sealer, &secret).unwrap();
        assert!(encoded.sealed);
        let body = decode_body_with_status(&sealer, &k, &encoded.bytes, true, json!(2)).unwrap();
        assert_eq!(body["data"], json!({"k": "v"}));
        assert_eq!(body["status"], json!(2));

        for bad in [r#"[1]"#, r#"{"a":"#, r#"{"a":1} x"#, r#"{"status":{"#] {
            let err =
                decode_body_with_status(&sealer, &k, bad.as_bytes(), false, json!({})).unwrap_err();
            assert!(
                err.to_string().starts_with(
                    "stored data cannot be read: workflow.argoproj.io/default/wf: the stored body is not a valid JSON object"
                ),
                "{bad}: {err}"
            );
        }
        let err = decode_body_with_status(&sealer, &k, b"not sealed", true, json!({})).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    }

    #[test]
    fn a_status_write_takes_the_version_and_keeps_the_rest() {
        let current = updated(
            &stored(json!({"metadata": {"labels": {"l": "v"}}, "spec": {}})),
            json!({"metadata": {"labels": {"l": "v"}}, "spec": {"n": 1}}),
            8,
        );
        assert_eq!(current.generation(), 2);
        let mut with_status = current.clone();
        with_status.body["status"] = json!({"phase": "Running"});
        let written = status_written(with_status, 9);
        assert_eq!(written.resource_version, 9);
        assert_eq!(written.body["metadata"]["resourceVersion"], json!("9"));
        assert_eq!(written.generation(), 2);
        assert_eq!(written.uid, current.uid);
        assert_eq!(written.created_at, current.created_at);
        assert_eq!(
            written.body["metadata"]["uid"],
            current.body["metadata"]["uid"]
        );
        assert_eq!(
            written.body["metadata"]["creationTimestamp"],
            current.body["metadata"]["creationTimestamp"]
        );
        assert_eq!(written.body["metadata"]["labels"], json!({"l": "v"}));
        assert_eq!(written.body["spec"], json!({"n": 1}));
        assert_eq!(written.body["status"], json!({"phase": "Running"}));
    }
}
