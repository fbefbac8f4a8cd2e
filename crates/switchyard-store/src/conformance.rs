//! The conformance suite: every [`Store`] backend must pass every case here.
//!
//! Each case is a `pub async fn` taking an empty store. A backend gets one `#[tokio::test]`
//! per case by invoking [`store_conformance_tests!`](crate::store_conformance_tests) in an
//! integration test with an async factory expression evaluating to `(store, guard)`, where
//! `guard` is kept alive for the test (a temporary directory, a database schema):
//!
//! ```ignore
//! switchyard_store::store_conformance_tests!(async {
//!     let dir = tempfile::tempdir().unwrap();
//!     let sealer = switchyard_store::SecretSealer::load_or_create(dir.path()).unwrap();
//!     (MyStore::open(&dir.path().join("db"), sealer).unwrap(), dir)
//! });
//! ```
//!
//! The calling crate needs `tokio` (with the `macros` and `rt-multi-thread` features) among its
//! dev-dependencies. The cases run on a multi-threaded runtime so the concurrency cases really
//! race.

use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::fmt::Debug;
use std::sync::Arc;
use switchyard_model::Kind;

use crate::{
    ListCursor, ObjectKey, Page, PageRequest, Precondition, PutOutcome, PutRequest, StatusUpdate,
    StepLog, Store, StoreError, StoredObject,
};

/// Expands to one `#[tokio::test]` per conformance case, in a module `store_conformance`.
#[macro_export]
macro_rules! store_conformance_tests {
    ($factory:expr) => {
        $crate::store_conformance_tests!(@cases $factory;
            list_of_an_empty_kind_is_empty,
            create_get_list_delete,
            created_then_unchanged_then_configured,
            unchanged_ignores_server_metadata_and_status,
            configure_keeps_the_stored_status,
            generation_starts_at_one_and_bumps_on_configure,
            server_managed_metadata_is_filled_in,
            resource_versions_increase_across_kinds,
            resource_version_precondition_conflicts_and_succeeds,
            must_exist_and_must_not_exist,
            generate_name_gives_distinct_names_with_the_prefix,
            put_many_is_all_or_nothing,
            put_many_applies_in_order,
            namespaced_and_cluster_scoped_listing,
            list_across_namespaces_is_sorted_by_namespace_then_name,
            pages_cover_the_list_in_order_each_object_once,
            pages_of_one_namespace_stay_in_it,
            objects_written_between_pages_do_not_repeat_or_hide_others,
            a_page_of_no_objects_is_refused,
            delete_with_preconditions,
            delete_then_recreate_gets_a_new_uid,
            meta_get_and_put,
            meta_delete,
            invalid_requests_are_rejected_and_change_nothing,
            errors_name_the_object,
            secret_bodies_come_back_intact,
            concurrent_writers_with_the_same_version_exactly_one_wins,
            concurrent_increments_lose_no_update,
            concurrent_creates_exactly_one_wins,
            put_status_replaces_the_status_and_returns_the_object,
            puts_keep_the_status_and_create_stores_the_body_status,
            put_status_takes_a_new_version_and_keeps_generation,
            put_status_preconditions,
            step_logs_are_written_with_the_status_or_not_at_all,
            a_later_log_of_the_same_step_replaces_the_earlier,
            step_log_of_an_unknown_step_or_object_is_none,
            deleting_an_object_deletes_its_logs,
            concurrent_status_writes_to_different_objects_all_succeed,
            leases_are_taken_renewed_refused_and_released,
            an_expired_lease_goes_to_a_new_holder_with_a_larger_token,
            concurrent_takers_of_a_free_lease_exactly_one_wins,
            invalid_lease_requests_are_rejected,
            fenced_status_writes_need_the_current_lease_token,
        );
    };
    (@cases $factory:expr; $($case:ident),* $(,)?) => {
        mod store_conformance {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let (store, _guard) = $factory.await;
                    let store: ::std::sync::Arc<dyn $crate::Store> = ::std::sync::Arc::new(store);
                    $crate::conformance::$case(store).await;
                }
            )*
        }
    };
}

// ---- helpers -------------------------------------------------------------------------------

/// Unwraps a store result, failing the test with the store's message.
fn ok<T>(result: Result<T, StoreError>, doing: &str) -> T {
    match result {
        Ok(v) => v,
        Err(e) => panic!("{doing}: unexpected error: {e}"),
    }
}

/// Expects a failure, failing the test with what came back instead.
fn fails<T: Debug>(result: Result<T, StoreError>, doing: &str) -> StoreError {
    match result {
        Ok(v) => panic!("{doing}: expected an error, got {v:?}"),
        Err(e) => e,
    }
}

fn some<T>(value: Option<T>, doing: &str) -> T {
    match value {
        Some(v) => v,
        None => panic!("{doing}: expected an object, found none"),
    }
}

fn config_map(data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"labels": {"app": "t"}}, "data": data})
}

fn cm_key(namespace: &str, name: &str) -> ObjectKey {
    ObjectKey::new(Kind::ConfigMap, namespace, name)
}

fn cm_put(namespace: &str, name: &str, data: Value) -> PutRequest {
    PutRequest::new(Kind::ConfigMap, namespace, name, config_map(data))
}

async fn put(store: &dyn Store, req: PutRequest) -> PutOutcome {
    let doing = format!("put {:?}", req.name);
    ok(store.put(req).await, &doing)
}

async fn get(store: &dyn Store, key: &ObjectKey) -> Option<StoredObject> {
    ok(store.get(key).await, &format!("get {key}"))
}

async fn names(store: &dyn Store, kind: Kind, namespace: Option<&str>) -> Vec<(String, String)> {
    ok(
        store.list(kind, namespace).await,
        &format!("list {kind} in {namespace:?}"),
    )
    .into_iter()
    .map(|o| (o.namespace, o.name))
    .collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(ns, n)| ((*ns).to_owned(), (*n).to_owned()))
        .collect()
}

// ---- cases ---------------------------------------------------------------------------------

/// Every kind lists as empty in a new store, across namespaces and in one.
pub async fn list_of_an_empty_kind_is_empty(store: Arc<dyn Store>) {
    for kind in Kind::ALL {
        assert_eq!(names(&*store, *kind, None).await, vec![], "{kind}");
        let ns = if kind.namespaced() { "default" } else { "" };
        assert_eq!(names(&*store, *kind, Some(ns)).await, vec![], "{kind}");
    }
    assert_eq!(get(&*store, &cm_key("default", "nothing")).await, None);
}

/// The basic life of one object.
pub async fn create_get_list_delete(store: Arc<dyn Store>) {
    let created = put(&*store, cm_put("default", "a", json!({"k": "v"}))).await;
    assert_eq!(created.action_str(), "created");
    let stored = some(
        get(&*store, &cm_key("default", "a")).await,
        "get after create",
    );
    assert_eq!(&stored, created.object());
    assert_eq!(stored.body["data"], json!({"k": "v"}));
    assert_eq!(
        names(&*store, Kind::ConfigMap, Some("default")).await,
        pairs(&[("default", "a")])
    );

    let deleted = ok(
        store
            .delete(&cm_key("default", "a"), Precondition::None)
            .await,
        "delete",
    );
    assert_eq!(
        deleted.as_ref(),
        Some(&stored),
        "delete returns the object as it was"
    );
    assert_eq!(get(&*store, &cm_key("default", "a")).await, None);
    assert_eq!(names(&*store, Kind::ConfigMap, None).await, vec![]);
    let again = ok(
        store
            .delete(&cm_key("default", "a"), Precondition::None)
            .await,
        "second delete",
    );
    assert_eq!(again, None, "deleting an absent object is Ok(None)");
}

/// created → unchanged → configured → unchanged → configured, with versions to match.
pub async fn created_then_unchanged_then_configured(store: Arc<dyn Store>) {
    let steps = [
        ("v1", "created"),
        ("v1", "unchanged"),
        ("v2", "configured"),
        ("v2", "unchanged"),
        ("v1", "configured"),
    ];
    let mut last_version = 0;
    for (value, want) in steps {
        let outcome = put(&*store, cm_put("default", "cfg", json!({"k": value}))).await;
        assert_eq!(outcome.action_str(), want, "putting {value}");
        let version = outcome.object().resource_version;
        if want == "unchanged" {
            assert_eq!(version, last_version, "an unchanged put keeps the version");
        } else {
            assert!(version > last_version, "a write takes a new version");
        }
        assert_eq!(outcome.object().body["data"]["k"], json!(value));
        let stored = some(get(&*store, &cm_key("default", "cfg")).await, "get");
        assert_eq!(&stored, outcome.object());
        last_version = version;
    }
}

/// A body that repeats (or invents) server-managed metadata or `status` is Unchanged.
pub async fn unchanged_ignores_server_metadata_and_status(store: Arc<dyn Store>) {
    let first = put(&*store, cm_put("default", "u", json!({"k": "v"}))).await;
    let first = first.object().clone();
    let variants = [
        ("the stored body itself", first.body.clone()),
        (
            "bogus uid",
            with_meta(&first.body, "uid", json!("not-the-uid")),
        ),
        (
            "bogus resourceVersion",
            with_meta(&first.body, "resourceVersion", json!("999999")),
        ),
        (
            "bogus creationTimestamp",
            with_meta(
                &first.body,
                "creationTimestamp",
                json!("2001-01-01T00:00:00Z"),
            ),
        ),
        (
            "bogus generation",
            with_meta(&first.body, "generation", json!(42)),
        ),
        ("a status", {
            let mut b = config_map(json!({"k": "v"}));
            b["status"] = json!({"phase": "Running"});
            b
        }),
        ("the original request body", config_map(json!({"k": "v"}))),
    ];
    for (what, body) in variants {
        let outcome = put(
            &*store,
            PutRequest::new(Kind::ConfigMap, "default", "u", body),
        )
        .await;
        assert_eq!(outcome.action_str(), "unchanged", "{what}");
        assert_eq!(
            outcome.object(),
            &first,
            "{what}: the stored object is returned as is"
        );
    }
    let stored = some(get(&*store, &cm_key("default", "u")).await, "get");
    assert_eq!(stored, first, "nothing was written");

    let mut relabeled = config_map(json!({"k": "v"}));
    relabeled["metadata"]["labels"]["app"] = json!("other");
    let outcome = put(
        &*store,
        PutRequest::new(Kind::ConfigMap, "default", "u", relabeled),
    )
    .await;
    assert_eq!(
        outcome.action_str(),
        "configured",
        "a label is user content"
    );
}

fn with_meta(body: &Value, field: &str, value: Value) -> Value {
    let mut body = body.clone();
    body["metadata"][field] = value;
    body
}

/// On create a status is stored as given; on configure the stored status stays.
pub async fn configure_keeps_the_stored_status(store: Arc<dyn Store>) {
    let mut body = config_map(json!({"k": "1"}));
    body["status"] = json!({"phase": "A"});
    let created = put(
        &*store,
        PutRequest::new(Kind::ConfigMap, "default", "s", body),
    )
    .await;
    assert_eq!(created.object().body["status"], json!({"phase": "A"}));

    let mut body = config_map(json!({"k": "2"}));
    body["status"] = json!({"phase": "B"});
    let configured = put(
        &*store,
        PutRequest::new(Kind::ConfigMap, "default", "s", body),
    )
    .await;
    assert_eq!(configured.action_str(), "configured");
    assert_eq!(configured.object().body["status"], json!({"phase": "A"}));

    let configured = put(&*store, cm_put("default", "s", json!({"k": "3"}))).await;
    assert_eq!(configured.action_str(), "configured");
    assert_eq!(configured.object().body["status"], json!({"phase": "A"}));
    let stored = some(get(&*store, &cm_key("default", "s")).await, "get");
    assert_eq!(stored.body["status"], json!({"phase": "A"}));
}

/// generation: 1 on create, unchanged puts keep it, each configure adds one.
pub async fn generation_starts_at_one_and_bumps_on_configure(store: Arc<dyn Store>) {
    for (value, want_generation) in [("a", 1), ("a", 1), ("b", 2), ("c", 3), ("c", 3)] {
        let outcome = put(&*store, cm_put("default", "g", json!({"k": value}))).await;
        assert_eq!(
            outcome.object().generation(),
            want_generation,
            "after {value}"
        );
        assert_eq!(
            outcome.object().body["metadata"]["generation"],
            json!(want_generation)
        );
    }
}

/// name, namespace, uid, resourceVersion, creationTimestamp, generation are the store's.
pub async fn server_managed_metadata_is_filled_in(store: Arc<dyn Store>) {
    let body = json!({"metadata": {"name": "ignored", "namespace": "ignored", "uid": "client-uid",
        "resourceVersion": "77", "creationTimestamp": "1999-01-01T00:00:00Z", "generation": 9},
        "spec": {"templates": []}});
    for (kind, namespace, name) in [
        (Kind::WorkflowTemplate, "team-a", "build"),
        (Kind::ClusterWorkflowTemplate, "", "shared"),
    ] {
        let object = put(
            &*store,
            PutRequest::new(kind, namespace, name, body.clone()),
        )
        .await
        .into_object();
        let meta = &object.body["metadata"];
        assert_eq!(object.kind, kind);
        assert_eq!(object.namespace, namespace);
        assert_eq!(object.name, name);
        assert_eq!(meta["name"], json!(name));
        if kind.namespaced() {
            assert_eq!(meta["namespace"], json!(namespace));
        } else {
            assert_eq!(
                meta.get("namespace"),
                None,
                "cluster-scoped objects have no namespace"
            );
        }
        assert_eq!(meta["uid"], json!(object.uid));
        assert_ne!(object.uid, "client-uid");
        assert_eq!(object.uid.len(), 36, "a UUID: {}", object.uid);
        assert_eq!(
            meta["resourceVersion"],
            json!(object.resource_version.to_string())
        );
        assert_ne!(object.resource_version, 77);
        let stamp = object
            .created_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        assert_eq!(meta["creationTimestamp"], json!(stamp));
        assert_eq!(stamp.len(), "2024-01-01T00:00:00Z".len());
        assert!(stamp.ends_with('Z'), "{stamp}");
        assert_eq!(meta["generation"], json!(1));
        assert_eq!(object.body["spec"], json!({"templates": []}));
    }

    // Configure keeps uid and creation time.
    let before = some(
        get(
            &*store,
            &ObjectKey::new(Kind::WorkflowTemplate, "team-a", "build"),
        )
        .await,
        "get",
    );
    let after = put(
        &*store,
        PutRequest::new(
            Kind::WorkflowTemplate,
            "team-a",
            "build",
            json!({"spec": {"templates": [1]}}),
        ),
    )
    .await
    .into_object();
    assert_eq!(after.uid, before.uid);
    assert_eq!(after.created_at, before.created_at);
    assert_eq!(
        after.body["metadata"]["creationTimestamp"],
        before.body["metadata"]["creationTimestamp"]
    );
}

/// One global counter: every write, of any kind, takes a larger version.
pub async fn resource_versions_increase_across_kinds(store: Arc<dyn Store>) {
    let requests = [
        PutRequest::new(Kind::ConfigMap, "default", "a", json!({})),
        PutRequest::new(Kind::Secret, "default", "a", json!({"data": {}})),
        PutRequest::new(Kind::Sensor, "default", "a", json!({"spec": {}})),
        PutRequest::new(Kind::ClusterWorkflowTemplate, "", "a", json!({"spec": {}})),
        PutRequest::new(Kind::Workflow, "other", "a", json!({"spec": {}})),
        PutRequest::new(Kind::ConfigMap, "default", "a", json!({"data": {"x": "1"}})),
        PutRequest::new(Kind::EventBus, "default", "a", json!({"spec": {}})),
    ];
    let mut versions = Vec::new();
    for req in requests {
        versions.push(put(&*store, req).await.object().resource_version);
    }
    ok(
        store
            .delete(&cm_key("default", "a"), Precondition::None)
            .await,
        "delete",
    );
    versions.push(
        put(
            &*store,
            PutRequest::new(Kind::CronWorkflow, "default", "a", json!({})),
        )
        .await
        .object()
        .resource_version,
    );
    assert!(
        versions.windows(2).all(|w| w[0] < w[1]),
        "versions must strictly increase: {versions:?}"
    );
}

/// ResourceVersion(v) succeeds on v, then conflicts naming expected and actual.
pub async fn resource_version_precondition_conflicts_and_succeeds(store: Arc<dyn Store>) {
    let key = ObjectKey::new(Kind::Sensor, "default", "cas");
    let body = |n: u32| json!({"spec": {"n": n}});
    let v1 = put(
        &*store,
        PutRequest::new(Kind::Sensor, "default", "cas", body(1)),
    )
    .await
    .object()
    .resource_version;
    let v2 = put(
        &*store,
        PutRequest::new(Kind::Sensor, "default", "cas", body(2))
            .with_precondition(Precondition::ResourceVersion(v1)),
    )
    .await;
    assert_eq!(v2.action_str(), "configured");
    let v2 = v2.object().resource_version;

    let err = fails(
        store
            .put(
                PutRequest::new(Kind::Sensor, "default", "cas", body(3))
                    .with_precondition(Precondition::ResourceVersion(v1)),
            )
            .await,
        "put with a stale version",
    );
    assert_eq!(
        err,
        StoreError::Conflict {
            key: key.clone(),
            expected: v1,
            actual: v2
        }
    );
    assert_eq!(
        err.to_string(),
        format!(
            "sensor.argoproj.io/default/cas was modified concurrently: expected resourceVersion {v1}, found {v2}; read it again and retry"
        )
    );
    assert!(!err.is_retryable());

    // A stale version conflicts even when the body is the same as stored.
    let err = fails(
        store
            .put(
                PutRequest::new(Kind::Sensor, "default", "cas", body(2))
                    .with_precondition(Precondition::ResourceVersion(v1)),
            )
            .await,
        "identical put with a stale version",
    );
    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");

    let stored = some(get(&*store, &key).await, "get");
    assert_eq!(
        stored.body["spec"],
        json!({"n": 2}),
        "the conflicting puts changed nothing"
    );
    assert_eq!(stored.resource_version, v2);

    let err = fails(
        store
            .put(
                PutRequest::new(Kind::Sensor, "default", "absent", body(1))
                    .with_precondition(Precondition::ResourceVersion(v2)),
            )
            .await,
        "versioned put of an absent object",
    );
    assert_eq!(
        err,
        StoreError::NotFound {
            key: ObjectKey::new(Kind::Sensor, "default", "absent")
        }
    );
}

/// MustNotExist and MustExist against absent and present objects.
pub async fn must_exist_and_must_not_exist(store: Arc<dyn Store>) {
    put(&*store, cm_put("default", "present", json!({"k": "old"}))).await;
    let cases = [
        (Precondition::MustNotExist, "absent-1", Ok("created")),
        (
            Precondition::MustNotExist,
            "present",
            Err("configmap/default/present already exists"),
        ),
        (
            Precondition::MustExist,
            "absent-2",
            Err("configmap/default/absent-2 not found"),
        ),
        (Precondition::MustExist, "present", Ok("configured")),
    ];
    for (precondition, name, want) in cases {
        let before = get(&*store, &cm_key("default", name)).await;
        let result = store
            .put(cm_put("default", name, json!({"k": "new"})).with_precondition(precondition))
            .await;
        match (result, want) {
            (Ok(outcome), Ok(action)) => {
                assert_eq!(outcome.action_str(), action, "{precondition:?} {name}")
            }
            (Err(e), Err(message)) => {
                assert_eq!(e.to_string(), message, "{precondition:?} {name}");
                assert_eq!(
                    get(&*store, &cm_key("default", name)).await,
                    before,
                    "a failed put changes nothing"
                );
            }
            (got, want) => panic!("{precondition:?} {name}: got {got:?}, want {want:?}"),
        }
    }
}

/// Two generateName puts make two objects whose names start with the prefix.
pub async fn generate_name_gives_distinct_names_with_the_prefix(store: Arc<dyn Store>) {
    let body = json!({"metadata": {"generateName": "hello-world-"}, "spec": {}});
    let mut seen = BTreeSet::new();
    for _ in 0..2 {
        let outcome = put(
            &*store,
            PutRequest::generate(Kind::Workflow, "default", "hello-world-", body.clone()),
        )
        .await;
        assert_eq!(outcome.action_str(), "created");
        let object = outcome.object();
        let suffix = some(
            object.name.strip_prefix("hello-world-"),
            "name starts with the prefix",
        );
        assert_eq!(suffix.len(), 5, "{}", object.name);
        assert!(
            suffix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
            "{}",
            object.name
        );
        assert_eq!(object.body["metadata"]["name"], json!(object.name));
        assert_eq!(
            object.body["metadata"]["generateName"],
            json!("hello-world-")
        );
        seen.insert(object.name.clone());
    }
    assert_eq!(seen.len(), 2, "two different names: {seen:?}");
    let listed: BTreeSet<String> = names(&*store, Kind::Workflow, Some("default"))
        .await
        .into_iter()
        .map(|(_, n)| n)
        .collect();
    assert_eq!(listed, seen);

    let err = fails(
        store
            .put(
                PutRequest::generate(Kind::Workflow, "default", "x-", json!({}))
                    .with_precondition(Precondition::MustExist),
            )
            .await,
        "generateName with MustExist",
    );
    assert!(matches!(err, StoreError::Invalid { .. }), "{err}");
}

/// A failing request in put_many leaves the earlier ones unapplied.
pub async fn put_many_is_all_or_nothing(store: Arc<dyn Store>) {
    let existing = put(&*store, cm_put("default", "b", json!({"k": "b1"})))
        .await
        .into_object();
    let stale = existing.resource_version;
    put(&*store, cm_put("default", "b", json!({"k": "b2"}))).await;
    let before = some(get(&*store, &cm_key("default", "b")).await, "get b");

    let err = fails(
        store
            .put_many(vec![
                cm_put("default", "a", json!({"k": "a"})),
                PutRequest::new(Kind::Sensor, "default", "s", json!({})),
                cm_put("default", "b", json!({"k": "b3"}))
                    .with_precondition(Precondition::ResourceVersion(stale)),
            ])
            .await,
        "put_many with a stale second write",
    );
    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
    assert_eq!(
        get(&*store, &cm_key("default", "a")).await,
        None,
        "the first request was not applied"
    );
    assert_eq!(
        get(&*store, &ObjectKey::new(Kind::Sensor, "default", "s")).await,
        None
    );
    assert_eq!(get(&*store, &cm_key("default", "b")).await, Some(before));

    let err = fails(
        store
            .put_many(vec![
                cm_put("default", "a", json!({"k": "a"})),
                PutRequest::new(Kind::ConfigMap, "", "bad", json!({})),
            ])
            .await,
        "put_many with an invalid second request",
    );
    assert!(matches!(err, StoreError::Invalid { .. }), "{err}");
    assert_eq!(
        names(&*store, Kind::ConfigMap, None).await,
        pairs(&[("default", "b")])
    );

    let outcomes = ok(store.put_many(vec![]).await, "empty put_many");
    assert!(outcomes.is_empty());
}

/// put_many returns one outcome per request, in order; later requests see earlier ones.
pub async fn put_many_applies_in_order(store: Arc<dyn Store>) {
    let outcomes = ok(
        store
            .put_many(vec![
                cm_put("default", "c", json!({"k": "1"})),
                cm_put("default", "c", json!({"k": "1"})),
                cm_put("default", "c", json!({"k": "2"}))
                    .with_precondition(Precondition::MustExist),
                PutRequest::new(Kind::ClusterWorkflowTemplate, "", "t", json!({})),
            ])
            .await,
        "put_many",
    );
    let actions: Vec<&str> = outcomes.iter().map(PutOutcome::action_str).collect();
    assert_eq!(actions, ["created", "unchanged", "configured", "created"]);
    let versions: Vec<u64> = outcomes
        .iter()
        .map(|o| o.object().resource_version)
        .collect();
    assert_eq!(versions[0], versions[1]);
    assert!(
        versions[1] < versions[2] && versions[2] < versions[3],
        "{versions:?}"
    );
    let stored = some(get(&*store, &cm_key("default", "c")).await, "get c");
    assert_eq!(&stored, outcomes[2].object());
}

/// Namespace filters, cluster scope, and kinds kept apart.
pub async fn namespaced_and_cluster_scoped_listing(store: Arc<dyn Store>) {
    for (ns, name) in [("a", "one"), ("b", "two"), ("a", "three")] {
        put(&*store, cm_put(ns, name, json!({}))).await;
    }
    put(
        &*store,
        PutRequest::new(Kind::Secret, "a", "one", json!({})),
    )
    .await;
    put(
        &*store,
        PutRequest::new(Kind::ClusterWorkflowTemplate, "", "shared", json!({})),
    )
    .await;

    type Case<'a> = (Kind, Option<&'a str>, &'a [(&'a str, &'a str)]);
    let cases: [Case<'_>; 7] = [
        (Kind::ConfigMap, Some("a"), &[("a", "one"), ("a", "three")]),
        (Kind::ConfigMap, Some("b"), &[("b", "two")]),
        (Kind::ConfigMap, Some("c"), &[]),
        (Kind::Secret, None, &[("a", "one")]),
        (Kind::ClusterWorkflowTemplate, None, &[("", "shared")]),
        (Kind::ClusterWorkflowTemplate, Some(""), &[("", "shared")]),
        (Kind::WorkflowTemplate, None, &[]),
    ];
    for (kind, namespace, want) in cases {
        assert_eq!(
            names(&*store, kind, namespace).await,
            pairs(want),
            "{kind} in {namespace:?}"
        );
    }
    let err = fails(
        store.list(Kind::ClusterWorkflowTemplate, Some("a")).await,
        "list cluster kind in a namespace",
    );
    assert_eq!(
        err.to_string(),
        "invalid request for clusterworkflowtemplate.argoproj.io: ClusterWorkflowTemplate is cluster-scoped; list it without a namespace, not in `a`"
    );
    let cwft = some(
        get(
            &*store,
            &ObjectKey::new(Kind::ClusterWorkflowTemplate, "", "shared"),
        )
        .await,
        "get cwft",
    );
    assert_eq!(cwft.namespace, "");
}

/// Listing all namespaces sorts by (namespace, name) whatever the insertion order.
pub async fn list_across_namespaces_is_sorted_by_namespace_then_name(store: Arc<dyn Store>) {
    for (ns, name) in [
        ("b", "x"),
        ("a", "y"),
        ("c", "a"),
        ("a", "x"),
        ("b", "a"),
        ("a", "x-1"),
    ] {
        put(&*store, cm_put(ns, name, json!({}))).await;
    }
    assert_eq!(
        names(&*store, Kind::ConfigMap, None).await,
        pairs(&[
            ("a", "x"),
            ("a", "x-1"),
            ("a", "y"),
            ("b", "a"),
            ("b", "x"),
            ("c", "a")
        ])
    );
}

/// One page of `kind` in `namespace` after `after`.
async fn page_of(
    store: &dyn Store,
    kind: Kind,
    namespace: Option<&str>,
    after: Option<ListCursor>,
    limit: usize,
) -> Result<Page, StoreError> {
    store
        .list_page(kind, namespace, &PageRequest { after, limit })
        .await
}

/// Reads every page of a list of `limit` objects each; the names in order, and how many
/// pages it took.
async fn paged(
    store: &dyn Store,
    kind: Kind,
    namespace: Option<&str>,
    limit: usize,
) -> (Vec<(String, String)>, usize) {
    let mut out = Vec::new();
    let mut after = None;
    for pages in 1..=1000 {
        let page: Page = ok(
            page_of(store, kind, namespace, after, limit).await,
            &format!("page {pages} of {kind} in {namespace:?}"),
        );
        assert!(page.items.len() <= limit, "{} > {limit}", page.items.len());
        if page.more {
            assert_eq!(page.items.len(), limit, "a page before the last is full");
        }
        out.extend(
            page.items
                .iter()
                .map(|o| (o.namespace.clone(), o.name.clone())),
        );
        after = page.next();
        if after.is_none() {
            return (out, pages);
        }
    }
    panic!("more than 1000 pages of {kind}");
}

/// Pages of any size, read one after another, give the list: same order, each object once,
/// and `more` false on the last page only.
pub async fn pages_cover_the_list_in_order_each_object_once(store: Arc<dyn Store>) {
    for (ns, name) in [
        ("b", "x"),
        ("a", "y"),
        ("c", "a"),
        ("a", "x"),
        ("b", "a"),
        ("a", "x-1"),
        ("a", "x0"),
    ] {
        put(&*store, cm_put(ns, name, json!({}))).await;
    }
    put(&*store, PutRequest::new(Kind::Secret, "a", "s", json!({}))).await;
    let whole = names(&*store, Kind::ConfigMap, None).await;
    assert_eq!(whole.len(), 7);
    for limit in [1, 2, 3, 6, 7, 8, 1000] {
        let (got, pages) = paged(&*store, Kind::ConfigMap, None, limit).await;
        assert_eq!(got, whole, "limit {limit}");
        assert_eq!(
            pages,
            7usize.div_ceil(limit).max(1),
            "pages at limit {limit}"
        );
    }
    // A kind with nothing stored: one empty page.
    let empty = ok(
        page_of(&*store, Kind::WorkflowTemplate, None, None, 5).await,
        "empty kind",
    );
    assert!(empty.items.is_empty() && !empty.more);
    // Past the end: empty.
    let past = ok(
        page_of(
            &*store,
            Kind::ConfigMap,
            None,
            Some(ListCursor {
                namespace: "c".into(),
                name: "a".into(),
            }),
            5,
        )
        .await,
        "past the end",
    );
    assert!(past.items.is_empty() && !past.more);
    // Cluster-scoped kinds page too.
    for name in ["z", "m", "a"] {
        put(
            &*store,
            PutRequest::new(Kind::ClusterWorkflowTemplate, "", name, json!({})),
        )
        .await;
    }
    let (got, _) = paged(&*store, Kind::ClusterWorkflowTemplate, None, 2).await;
    assert_eq!(got, pairs(&[("", "a"), ("", "m"), ("", "z")]));
}

/// A namespaced list pages within its namespace; a cursor of another namespace starts it
/// at its beginning (an earlier namespace) or past its end (a later one).
pub async fn pages_of_one_namespace_stay_in_it(store: Arc<dyn Store>) {
    for (ns, name) in [("a", "z"), ("b", "x"), ("b", "y"), ("b", "z"), ("c", "a")] {
        put(&*store, cm_put(ns, name, json!({}))).await;
    }
    let (got, pages) = paged(&*store, Kind::ConfigMap, Some("b"), 2).await;
    assert_eq!(got, pairs(&[("b", "x"), ("b", "y"), ("b", "z")]));
    assert_eq!(pages, 2);
    let from = |namespace: &str, name: &str| PageRequest {
        after: Some(ListCursor {
            namespace: namespace.into(),
            name: name.into(),
        }),
        limit: 10,
    };
    let earlier = ok(
        store
            .list_page(Kind::ConfigMap, Some("b"), &from("a", "zzz"))
            .await,
        "cursor of an earlier namespace",
    );
    assert_eq!(earlier.items.len(), 3);
    let later = ok(
        store
            .list_page(Kind::ConfigMap, Some("b"), &from("c", ""))
            .await,
        "cursor of a later namespace",
    );
    assert!(later.items.is_empty() && !later.more);
    let err = fails(
        store
            .list_page(Kind::ClusterWorkflowTemplate, Some("a"), &from("", ""))
            .await,
        "a cluster kind paged in a namespace",
    );
    assert!(matches!(err, StoreError::Invalid { .. }), "{err}");
}

/// Objects created or deleted between two pages: those that existed throughout come once
/// each, in order; none repeats.
pub async fn objects_written_between_pages_do_not_repeat_or_hide_others(store: Arc<dyn Store>) {
    for name in ["b", "d", "f", "h"] {
        put(&*store, cm_put("default", name, json!({}))).await;
    }
    let first = ok(
        page_of(&*store, Kind::ConfigMap, Some("default"), None, 2).await,
        "first page",
    );
    let seen: Vec<String> = first.items.iter().map(|o| o.name.clone()).collect();
    assert_eq!(seen, ["b", "d"]);
    // Before the cursor (not seen now), after it (seen), and one that was to come deleted.
    put(&*store, cm_put("default", "a", json!({}))).await;
    put(&*store, cm_put("default", "e", json!({}))).await;
    ok(
        store
            .delete(&cm_key("default", "f"), Precondition::None)
            .await,
        "delete f",
    );
    // An object already listed changes: it is not listed again.
    put(&*store, cm_put("default", "b", json!({"k": "changed"}))).await;
    let second = ok(
        page_of(&*store, Kind::ConfigMap, Some("default"), first.next(), 2).await,
        "second page",
    );
    let rest: Vec<String> = second.items.iter().map(|o| o.name.clone()).collect();
    assert_eq!(rest, ["e", "h"]);
    assert!(!second.more);
}

/// A page must hold at least one object.
pub async fn a_page_of_no_objects_is_refused(store: Arc<dyn Store>) {
    put(&*store, cm_put("default", "a", json!({}))).await;
    let err = fails(
        page_of(&*store, Kind::ConfigMap, None, None, 0).await,
        "limit 0",
    );
    assert!(matches!(err, StoreError::Invalid { .. }), "{err}");
    assert!(
        err.to_string().contains("`limit` must be 1 or more"),
        "{err}"
    );
}

/// Deletes honour MustExist and ResourceVersion and refuse MustNotExist.
pub async fn delete_with_preconditions(store: Arc<dyn Store>) {
    let v1 = put(&*store, cm_put("default", "d", json!({"k": "1"})))
        .await
        .object()
        .resource_version;
    let v2 = put(&*store, cm_put("default", "d", json!({"k": "2"})))
        .await
        .object()
        .resource_version;
    let key = cm_key("default", "d");
    let absent = cm_key("default", "absent");
    let cases = [
        (
            &key,
            Precondition::ResourceVersion(v1),
            Err(StoreError::Conflict {
                key: key.clone(),
                expected: v1,
                actual: v2,
            }),
        ),
        (
            &absent,
            Precondition::MustExist,
            Err(StoreError::NotFound {
                key: absent.clone(),
            }),
        ),
        (
            &absent,
            Precondition::ResourceVersion(v2),
            Err(StoreError::NotFound {
                key: absent.clone(),
            }),
        ),
        (
            &key,
            Precondition::MustNotExist,
            Err(StoreError::invalid(
                &key,
                "a delete cannot require the object to be absent (MustNotExist)",
            )),
        ),
        (&absent, Precondition::None, Ok(false)),
        (&key, Precondition::ResourceVersion(v2), Ok(true)),
    ];
    for (k, precondition, want) in cases {
        let before = get(&*store, k).await;
        let result = store.delete(k, precondition).await;
        match want {
            Ok(existed) => {
                let deleted = ok(result, &format!("delete {k} {precondition:?}"));
                assert_eq!(deleted.is_some(), existed, "{k} {precondition:?}");
                assert_eq!(deleted, before);
                assert_eq!(get(&*store, k).await, None);
            }
            Err(want) => {
                assert_eq!(fails(result, &format!("delete {k} {precondition:?}")), want);
                assert_eq!(
                    get(&*store, k).await,
                    before,
                    "a failed delete changes nothing"
                );
            }
        }
    }
}

/// A re-created object is a new object: new uid, generation 1.
pub async fn delete_then_recreate_gets_a_new_uid(store: Arc<dyn Store>) {
    let first = put(&*store, cm_put("default", "r", json!({"k": "1"})))
        .await
        .into_object();
    put(&*store, cm_put("default", "r", json!({"k": "2"}))).await;
    ok(
        store
            .delete(&cm_key("default", "r"), Precondition::MustExist)
            .await,
        "delete",
    );
    let second = put(&*store, cm_put("default", "r", json!({"k": "1"}))).await;
    assert_eq!(second.action_str(), "created");
    assert_ne!(second.object().uid, first.uid);
    assert_eq!(second.object().generation(), 1);
    assert!(second.object().resource_version > first.resource_version);
}

/// The settings table: absent, set, overwritten, odd values.
pub async fn meta_get_and_put(store: Arc<dyn Store>) {
    assert_eq!(ok(store.get_meta("bootstrap").await, "get absent"), None);
    for value in ["done", "", "ünïcødé\nline two", "done again"] {
        ok(store.put_meta("bootstrap", value).await, "put_meta");
        assert_eq!(
            ok(store.get_meta("bootstrap").await, "get_meta"),
            Some(value.to_owned())
        );
    }
    ok(store.put_meta("other", "x").await, "put_meta other");
    assert_eq!(
        ok(store.get_meta("bootstrap").await, "get_meta"),
        Some("done again".to_owned())
    );
    assert_eq!(
        ok(store.get_meta("other").await, "get_meta"),
        Some("x".to_owned())
    );
}

/// Removing settings: only the named key goes, an absent key is `Ok`, a removed key can be
/// set again.
pub async fn meta_delete(store: Arc<dyn Store>) {
    ok(store.delete_meta("absent").await, "delete an absent key");
    ok(store.put_meta("step/a/result", "{}").await, "put_meta a");
    ok(store.put_meta("step/b/result", "x").await, "put_meta b");
    ok(store.delete_meta("step/a/result").await, "delete a");
    assert_eq!(ok(store.get_meta("step/a/result").await, "get a"), None);
    assert_eq!(
        ok(store.get_meta("step/b/result").await, "get b"),
        Some("x".to_owned()),
        "removing one key leaves the others"
    );
    ok(store.delete_meta("step/a/result").await, "delete a again");
    ok(
        store.put_meta("step/a/result", "again").await,
        "put_meta a again",
    );
    assert_eq!(
        ok(store.get_meta("step/a/result").await, "get a again"),
        Some("again".to_owned())
    );
}

/// Malformed keys and bodies are Invalid and store nothing.
pub async fn invalid_requests_are_rejected_and_change_nothing(store: Arc<dyn Store>) {
    let cases = [
        (
            PutRequest::new(Kind::ConfigMap, "", "x", json!({})),
            "invalid request for configmap/x: namespace must not be empty",
        ),
        (
            PutRequest::new(Kind::ClusterWorkflowTemplate, "default", "x", json!({})),
            "invalid request for clusterworkflowtemplate.argoproj.io/default/x: ClusterWorkflowTemplate is cluster-scoped and takes no namespace, but `default` was given",
        ),
        (
            PutRequest::new(Kind::ConfigMap, "default", "", json!({})),
            "invalid request for configmap/default/: name must not be empty",
        ),
        (
            PutRequest::new(Kind::ConfigMap, "default", "a/b", json!({})),
            "invalid request for configmap/default/a/b: name `a/b` must not contain `/`",
        ),
        (
            PutRequest::new(
                Kind::ConfigMap,
                "default",
                "x",
                json!(["not", "an", "object"]),
            ),
            "invalid request for configmap/default/x: the body must be a JSON object, not an array",
        ),
        (
            PutRequest::new(Kind::ConfigMap, "default", "x", json!({"metadata": "nope"})),
            "invalid request for configmap/default/x: `metadata` must be an object, not a string",
        ),
    ];
    for (req, want) in cases {
        let err = fails(store.put(req).await, want);
        assert_eq!(err.to_string(), want);
        assert!(!err.is_retryable());
    }
    let err = fails(store.get(&cm_key("", "x")).await, "get with no namespace");
    assert_eq!(
        err.to_string(),
        "invalid request for configmap/x: namespace must not be empty"
    );
    let err = fails(
        store
            .delete(&cm_key("default", ""), Precondition::None)
            .await,
        "delete with no name",
    );
    assert_eq!(
        err.to_string(),
        "invalid request for configmap/default/: name must not be empty"
    );
    for kind in Kind::ALL {
        assert_eq!(names(&*store, *kind, None).await, vec![], "{kind}");
    }
}

/// Error messages name the object the way `apply` prints it.
pub async fn errors_name_the_object(store: Arc<dyn Store>) {
    put(
        &*store,
        PutRequest::new(Kind::Secret, "default", "db", json!({})),
    )
    .await;
    let cases = [
        (
            store
                .put(
                    PutRequest::new(Kind::Secret, "default", "db", json!({}))
                        .with_precondition(Precondition::MustNotExist),
                )
                .await
                .err(),
            "secret/default/db already exists",
        ),
        (
            store
                .delete(
                    &ObjectKey::new(Kind::Sensor, "prod", "build"),
                    Precondition::MustExist,
                )
                .await
                .err(),
            "sensor.argoproj.io/prod/build not found",
        ),
        (
            store
                .put(
                    PutRequest::new(Kind::ClusterWorkflowTemplate, "", "ci", json!({}))
                        .with_precondition(Precondition::MustExist),
                )
                .await
                .err(),
            "clusterworkflowtemplate.argoproj.io/ci not found",
        ),
    ];
    for (err, want) in cases {
        assert_eq!(err.map(|e| e.to_string()).as_deref(), Some(want));
    }
}

/// Secret bodies come back exactly as stored, through get, list and put_many.
pub async fn secret_bodies_come_back_intact(store: Arc<dyn Store>) {
    let body = json!({
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"annotations": {"note": "x"}},
        "data": {"password": "aHVudGVyMg==", "empty": ""},
        "stringData": {"token": "s3cr3t \"quoted\" ünïcødé\nsecond line", "zero": "\u{0}"}
    });
    let created = put(
        &*store,
        PutRequest::new(Kind::Secret, "default", "creds", body.clone()),
    )
    .await;
    let created = created.object();
    assert_eq!(created.body["data"], body["data"]);
    assert_eq!(created.body["stringData"], body["stringData"]);
    assert_eq!(created.body["type"], json!("Opaque"));
    let got = some(
        get(&*store, &ObjectKey::new(Kind::Secret, "default", "creds")).await,
        "get",
    );
    assert_eq!(&got, created);
    let listed = ok(store.list(Kind::Secret, Some("default")).await, "list");
    assert_eq!(listed, vec![created.clone()]);
    let again = put(
        &*store,
        PutRequest::new(Kind::Secret, "default", "creds", body),
    )
    .await;
    assert_eq!(
        again.action_str(),
        "unchanged",
        "a sealed body compares by content"
    );
    let outcomes = ok(
        store
            .put_many(vec![PutRequest::new(
                Kind::Secret,
                "default",
                "other",
                json!({"data": {"k": "dg=="}}),
            )])
            .await,
        "put_many secret",
    );
    let other = some(
        get(&*store, &ObjectKey::new(Kind::Secret, "default", "other")).await,
        "get other",
    );
    assert_eq!(&other, outcomes[0].object());
    assert_eq!(other.body["data"], json!({"k": "dg=="}));
}

/// Many tasks put with the same resourceVersion at once: exactly one wins.
pub async fn concurrent_writers_with_the_same_version_exactly_one_wins(store: Arc<dyn Store>) {
    const WRITERS: u32 = 16;
    for round in 0..3u32 {
        let name = format!("race-{round}");
        let v = put(&*store, cm_put("default", &name, json!({"writer": "none"})))
            .await
            .object()
            .resource_version;
        let mut tasks = tokio::task::JoinSet::new();
        for writer in 0..WRITERS {
            let store = Arc::clone(&store);
            let name = name.clone();
            tasks.spawn(async move {
                let req = cm_put("default", &name, json!({"writer": writer.to_string()}))
                    .with_precondition(Precondition::ResourceVersion(v));
                (writer, store.put(req).await)
            });
        }
        let mut winners = Vec::new();
        let mut conflicts = 0;
        while let Some(joined) = tasks.join_next().await {
            let (writer, result) = match joined {
                Ok(r) => r,
                Err(e) => panic!("writer task failed: {e}"),
            };
            match result {
                Ok(outcome) => {
                    assert_eq!(outcome.action_str(), "configured");
                    winners.push((writer, outcome.into_object()));
                }
                Err(StoreError::Conflict {
                    expected, actual, ..
                }) => {
                    assert_eq!(expected, v);
                    assert!(actual > v);
                    conflicts += 1;
                }
                Err(e) => panic!("writer {writer}: unexpected error: {e}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: exactly one winner");
        assert_eq!(conflicts, WRITERS - 1);
        let (writer, won) = &winners[0];
        let stored = some(get(&*store, &cm_key("default", &name)).await, "get");
        assert_eq!(&stored, won);
        assert_eq!(stored.body["data"]["writer"], json!(writer.to_string()));
        assert_eq!(stored.generation(), 2);
    }
}

/// Read-modify-write increments from many tasks, retrying on Conflict: none is lost.
pub async fn concurrent_increments_lose_no_update(store: Arc<dyn Store>) {
    const TASKS: u64 = 8;
    const INCREMENTS: u64 = 10;
    put(&*store, cm_put("default", "counter", json!({"n": "0"}))).await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..TASKS {
        let store = Arc::clone(&store);
        tasks.spawn(async move {
            let key = cm_key("default", "counter");
            let mut done = 0;
            let mut conflicts = 0u64;
            while done < INCREMENTS {
                let current = some(ok(store.get(&key).await, "get counter"), "counter exists");
                let n: u64 = current.body["data"]["n"]
                    .as_str()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(u64::MAX);
                let req = cm_put("default", "counter", json!({"n": (n + 1).to_string()}))
                    .with_precondition(Precondition::ResourceVersion(current.resource_version));
                match store.put(req).await {
                    Ok(_) => done += 1,
                    Err(StoreError::Conflict { .. }) => conflicts += 1,
                    Err(e) => panic!("increment: unexpected error: {e}"),
                }
                assert!(conflicts < 100_000, "no progress");
            }
        });
    }
    while let Some(joined) = tasks.join_next().await {
        if let Err(e) = joined {
            panic!("increment task failed: {e}");
        }
    }
    let stored = some(
        get(&*store, &cm_key("default", "counter")).await,
        "get counter",
    );
    assert_eq!(
        stored.body["data"]["n"],
        json!((TASKS * INCREMENTS).to_string())
    );
    assert_eq!(stored.generation(), TASKS * INCREMENTS + 1);
}

/// Many tasks create the same object with MustNotExist at once: exactly one creates it.
pub async fn concurrent_creates_exactly_one_wins(store: Arc<dyn Store>) {
    const CREATORS: u32 = 16;
    let mut tasks = tokio::task::JoinSet::new();
    for creator in 0..CREATORS {
        let store = Arc::clone(&store);
        tasks.spawn(async move {
            let req = cm_put("default", "once", json!({"creator": creator.to_string()}))
                .with_precondition(Precondition::MustNotExist);
            store.put(req).await
        });
    }
    let mut created = Vec::new();
    let mut refused = 0;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(outcome)) => created.push(outcome.into_object()),
            Ok(Err(StoreError::AlreadyExists { key })) => {
                assert_eq!(key, cm_key("default", "once"));
                refused += 1;
            }
            Ok(Err(e)) => panic!("unexpected error: {e}"),
            Err(e) => panic!("creator task failed: {e}"),
        }
    }
    assert_eq!(created.len(), 1);
    assert_eq!(refused, CREATORS - 1);
    assert_eq!(
        get(&*store, &cm_key("default", "once")).await.as_ref(),
        created.first()
    );
}

// ---- status and step logs ------------------------------------------------------------------

fn wf_key(name: &str) -> ObjectKey {
    ObjectKey::new(Kind::Workflow, "default", name)
}

fn workflow(name: &str) -> PutRequest {
    PutRequest::new(
        Kind::Workflow,
        "default",
        name,
        json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "spec": {"entrypoint": "main", "templates": [{"name": "main"}]}}),
    )
}

fn status_update(key: &ObjectKey, status: Value, precondition: Precondition) -> StatusUpdate {
    StatusUpdate {
        key: key.clone(),
        status,
        precondition,
        logs: Vec::new(),
    }
}

fn log(step: &str, text: &str) -> StepLog {
    StepLog {
        step: step.to_owned(),
        text: text.to_owned(),
    }
}

async fn put_status(store: &dyn Store, update: StatusUpdate) -> StoredObject {
    let doing = format!("put_status {}", update.key);
    ok(store.put_status(update).await, &doing)
}

async fn step_log(store: &dyn Store, key: &ObjectKey, step: &str) -> Option<String> {
    ok(
        store.step_log(key, step).await,
        &format!("step_log {key} {step}"),
    )
}

/// put_status replaces the whole status, returns the object as stored, and `null` removes it.
pub async fn put_status_replaces_the_status_and_returns_the_object(store: Arc<dyn Store>) {
    let key = wf_key("st");
    let created = put(&*store, workflow("st")).await.into_object();
    for status in [
        json!({"phase": "Running", "nodes": {"st": {"phase": "Running"}}}),
        json!({"phase": "Succeeded"}),
        json!("any JSON value"),
    ] {
        let written = put_status(
            &*store,
            status_update(&key, status.clone(), Precondition::None),
        )
        .await;
        assert_eq!(
            written.body["status"], status,
            "the whole status is replaced"
        );
        assert_eq!(written.body["spec"], created.body["spec"]);
        assert_eq!(
            written.body["metadata"]["labels"],
            created.body["metadata"]["labels"]
        );
        assert_eq!(
            get(&*store, &key).await.as_ref(),
            Some(&written),
            "the returned object is the stored one"
        );
    }
    let cleared = put_status(
        &*store,
        status_update(&key, Value::Null, Precondition::None),
    )
    .await;
    assert_eq!(cleared.body.get("status"), None, "a null status removes it");
    assert_eq!(get(&*store, &key).await.as_ref(), Some(&cleared));

    // Sealed kinds keep their content through a status write.
    let secret = ObjectKey::new(Kind::Secret, "default", "s");
    put(
        &*store,
        PutRequest::new(Kind::Secret, "default", "s", json!({"data": {"k": "dg=="}})),
    )
    .await;
    let written = put_status(
        &*store,
        status_update(&secret, json!({"seen": true}), Precondition::MustExist),
    )
    .await;
    let stored = some(get(&*store, &secret).await, "get secret");
    assert_eq!(stored, written);
    assert_eq!(stored.body["data"], json!({"k": "dg=="}));
    assert_eq!(stored.body["status"], json!({"seen": true}));
}

/// A put never changes a stored status: a create stores the body's, a configure keeps the
/// one put_status wrote, and a put differing only in status is Unchanged.
pub async fn puts_keep_the_status_and_create_stores_the_body_status(store: Arc<dyn Store>) {
    let key = wf_key("keep");
    let mut body = workflow("keep").body;
    body["status"] = json!({"phase": "Pending"});
    let created = put(
        &*store,
        PutRequest::new(Kind::Workflow, "default", "keep", body.clone()),
    )
    .await;
    assert_eq!(created.object().body["status"], json!({"phase": "Pending"}));
    assert_eq!(
        some(get(&*store, &key).await, "get").body["status"],
        json!({"phase": "Pending"})
    );

    let written = put_status(
        &*store,
        status_update(&key, json!({"phase": "Running"}), Precondition::None),
    )
    .await;
    body["status"] = json!({"phase": "Failed"});
    let same = put(
        &*store,
        PutRequest::new(Kind::Workflow, "default", "keep", body.clone()),
    )
    .await;
    assert_eq!(same.action_str(), "unchanged", "only the status differs");
    assert_eq!(same.object(), &written);

    body["spec"]["entrypoint"] = json!("other");
    let configured = put(
        &*store,
        PutRequest::new(Kind::Workflow, "default", "keep", body),
    )
    .await;
    assert_eq!(configured.action_str(), "configured");
    assert_eq!(
        configured.object().body["status"],
        json!({"phase": "Running"})
    );
    assert_eq!(
        configured.object().body["spec"]["entrypoint"],
        json!("other")
    );
    let stored = some(get(&*store, &key).await, "get");
    assert_eq!(stored.body["status"], json!({"phase": "Running"}));
}

/// Every status write takes the next global version, even with the same status, and keeps
/// uid, creation time and generation.
pub async fn put_status_takes_a_new_version_and_keeps_generation(store: Arc<dyn Store>) {
    let key = wf_key("v");
    put(&*store, workflow("v")).await;
    let configured = put(
        &*store,
        PutRequest::new(Kind::Workflow, "default", "v", json!({"spec": {"n": 2}})),
    )
    .await
    .into_object();
    assert_eq!(configured.generation(), 2);
    let mut last = configured.resource_version;
    for round in 0..3 {
        let other = put(
            &*store,
            cm_put("default", "between", json!({"round": round.to_string()})),
        )
        .await
        .object()
        .resource_version;
        assert!(other > last);
        let written = put_status(
            &*store,
            status_update(&key, json!({"phase": "Running"}), Precondition::None),
        )
        .await;
        assert!(
            written.resource_version > other,
            "round {round}: a status write takes the next global version, even unchanged"
        );
        assert_eq!(
            written.body["metadata"]["resourceVersion"],
            json!(written.resource_version.to_string())
        );
        assert_eq!(
            written.generation(),
            2,
            "a status write keeps the generation"
        );
        assert_eq!(written.body["metadata"]["generation"], json!(2));
        assert_eq!(written.uid, configured.uid);
        assert_eq!(written.body["metadata"]["uid"], json!(configured.uid));
        assert_eq!(written.created_at, configured.created_at);
        assert_eq!(
            written.body["metadata"]["creationTimestamp"],
            configured.body["metadata"]["creationTimestamp"]
        );
        last = written.resource_version;
    }
}

/// ResourceVersion conflicts and succeeds as for a put; every precondition needs the object;
/// MustNotExist and bad keys are Invalid. Failed writes change nothing.
pub async fn put_status_preconditions(store: Arc<dyn Store>) {
    let key = wf_key("pre");
    let absent = wf_key("absent");
    let v1 = put(&*store, workflow("pre"))
        .await
        .object()
        .resource_version;
    let v2 = put_status(
        &*store,
        status_update(&key, json!({"n": 1}), Precondition::ResourceVersion(v1)),
    )
    .await
    .resource_version;
    let cases = [
        (
            &key,
            Precondition::ResourceVersion(v1),
            StoreError::Conflict {
                key: key.clone(),
                expected: v1,
                actual: v2,
            },
        ),
        (
            &key,
            Precondition::MustNotExist,
            StoreError::invalid(
                &key,
                "a status write needs an existing object, so its precondition cannot be MustNotExist",
            ),
        ),
        (
            &absent,
            Precondition::MustNotExist,
            StoreError::invalid(
                &absent,
                "a status write needs an existing object, so its precondition cannot be MustNotExist",
            ),
        ),
        (
            &absent,
            Precondition::None,
            StoreError::NotFound {
                key: absent.clone(),
            },
        ),
        (
            &absent,
            Precondition::MustExist,
            StoreError::NotFound {
                key: absent.clone(),
            },
        ),
        (
            &absent,
            Precondition::ResourceVersion(v2),
            StoreError::NotFound {
                key: absent.clone(),
            },
        ),
    ];
    for (k, precondition, want) in cases {
        let before = get(&*store, k).await;
        let err = fails(
            store
                .put_status(status_update(k, json!({"n": 2}), precondition))
                .await,
            &format!("put_status {k} {precondition:?}"),
        );
        assert_eq!(err, want, "{k} {precondition:?}");
        assert_eq!(
            get(&*store, k).await,
            before,
            "a failed status write changes nothing"
        );
    }
    let stored = some(get(&*store, &key).await, "get");
    assert_eq!(stored.body["status"], json!({"n": 1}));
    assert_eq!(stored.resource_version, v2);

    let written = put_status(
        &*store,
        status_update(&key, json!({"n": 3}), Precondition::ResourceVersion(v2)),
    )
    .await;
    assert_eq!(written.body["status"], json!({"n": 3}));
    let written = put_status(
        &*store,
        status_update(&key, json!({"n": 4}), Precondition::MustExist),
    )
    .await;
    assert_eq!(written.body["status"], json!({"n": 4}));

    let bad = ObjectKey::new(Kind::Workflow, "", "x");
    let err = fails(
        store
            .put_status(status_update(&bad, json!({}), Precondition::None))
            .await,
        "put_status with no namespace",
    );
    assert_eq!(
        err.to_string(),
        "invalid request for workflow.argoproj.io/x: namespace must not be empty"
    );
    let err = fails(
        store.step_log(&bad, "s").await,
        "step_log with no namespace",
    );
    assert_eq!(
        err.to_string(),
        "invalid request for workflow.argoproj.io/x: namespace must not be empty"
    );
}

/// Logs are written in the status write's transaction: with it, or (when its precondition
/// fails) not at all.
pub async fn step_logs_are_written_with_the_status_or_not_at_all(store: Arc<dyn Store>) {
    let key = wf_key("logs");
    let v = put(&*store, workflow("logs"))
        .await
        .object()
        .resource_version;
    let text = "line one\nünïcødé \"quoted\"\n\ttabbed\n";
    let written = put_status(
        &*store,
        StatusUpdate {
            logs: vec![
                log("logs-1", text),
                log("logs-2", ""),
                log("logs-3", "three"),
            ],
            ..status_update(
                &key,
                json!({"phase": "Running"}),
                Precondition::ResourceVersion(v),
            )
        },
    )
    .await;
    assert_eq!(
        step_log(&*store, &key, "logs-1").await.as_deref(),
        Some(text)
    );
    assert_eq!(
        step_log(&*store, &key, "logs-2").await.as_deref(),
        Some(""),
        "an empty log is a log"
    );
    assert_eq!(
        step_log(&*store, &key, "logs-3").await.as_deref(),
        Some("three")
    );

    let err = fails(
        store
            .put_status(StatusUpdate {
                logs: vec![log("logs-1", "overwritten"), log("logs-4", "four")],
                ..status_update(
                    &key,
                    json!({"phase": "Failed"}),
                    Precondition::ResourceVersion(v),
                )
            })
            .await,
        "put_status with a stale version",
    );
    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
    assert_eq!(
        step_log(&*store, &key, "logs-1").await.as_deref(),
        Some(text)
    );
    assert_eq!(
        step_log(&*store, &key, "logs-4").await,
        None,
        "a failed status write writes no log"
    );
    assert_eq!(get(&*store, &key).await, Some(written));

    let absent = wf_key("absent");
    fails(
        store
            .put_status(StatusUpdate {
                logs: vec![log("a-1", "x")],
                ..status_update(&absent, json!({}), Precondition::None)
            })
            .await,
        "put_status of an absent object",
    );
    assert_eq!(step_log(&*store, &absent, "a-1").await, None);
}

/// A log written again for the same step replaces the earlier one, within one write or
/// across writes; other steps' logs stay.
pub async fn a_later_log_of_the_same_step_replaces_the_earlier(store: Arc<dyn Store>) {
    let key = wf_key("again");
    put(&*store, workflow("again")).await;
    put_status(
        &*store,
        StatusUpdate {
            logs: vec![log("a", "first"), log("b", "kept")],
            ..status_update(&key, json!({}), Precondition::None)
        },
    )
    .await;
    put_status(
        &*store,
        StatusUpdate {
            logs: vec![log("a", "second")],
            ..status_update(&key, json!({}), Precondition::None)
        },
    )
    .await;
    assert_eq!(
        step_log(&*store, &key, "a").await.as_deref(),
        Some("second")
    );
    assert_eq!(step_log(&*store, &key, "b").await.as_deref(), Some("kept"));
    put_status(
        &*store,
        StatusUpdate {
            logs: vec![log("a", "third"), log("a", "fourth")],
            ..status_update(&key, json!({}), Precondition::None)
        },
    )
    .await;
    assert_eq!(
        step_log(&*store, &key, "a").await.as_deref(),
        Some("fourth"),
        "the later of two logs of one step in one write wins"
    );
    // A put of the object leaves its logs alone.
    put(
        &*store,
        PutRequest::new(
            Kind::Workflow,
            "default",
            "again",
            json!({"spec": {"n": 1}}),
        ),
    )
    .await;
    assert_eq!(step_log(&*store, &key, "b").await.as_deref(), Some("kept"));
}

/// Unknown steps, objects and kinds have no log.
pub async fn step_log_of_an_unknown_step_or_object_is_none(store: Arc<dyn Store>) {
    let key = wf_key("known");
    put(&*store, workflow("known")).await;
    assert_eq!(
        step_log(&*store, &key, "s").await,
        None,
        "no log written yet"
    );
    put_status(
        &*store,
        StatusUpdate {
            logs: vec![log("s", "text")],
            ..status_update(&key, json!({}), Precondition::None)
        },
    )
    .await;
    for (k, step) in [
        (key.clone(), "other"),
        (key.clone(), "S"),
        (key.clone(), ""),
        (wf_key("unknown"), "s"),
        (ObjectKey::new(Kind::Workflow, "elsewhere", "known"), "s"),
        (ObjectKey::new(Kind::CronWorkflow, "default", "known"), "s"),
    ] {
        assert_eq!(step_log(&*store, &k, step).await, None, "{k} step {step:?}");
    }
    assert_eq!(step_log(&*store, &key, "s").await.as_deref(), Some("text"));
}

/// Deleting an object deletes its logs: a new object of the same name starts with none.
pub async fn deleting_an_object_deletes_its_logs(store: Arc<dyn Store>) {
    let key = wf_key("gone");
    put(&*store, workflow("gone")).await;
    let steps: Vec<String> = (0..50).map(|i| format!("gone-{i}")).collect();
    put_status(
        &*store,
        StatusUpdate {
            logs: steps
                .iter()
                .map(|s| log(s, &format!("log of {s}")))
                .collect(),
            ..status_update(&key, json!({"phase": "Succeeded"}), Precondition::None)
        },
    )
    .await;
    assert_eq!(
        step_log(&*store, &key, "gone-7").await.as_deref(),
        Some("log of gone-7")
    );
    ok(store.delete(&key, Precondition::MustExist).await, "delete");
    for step in &steps {
        assert_eq!(
            step_log(&*store, &key, step).await,
            None,
            "{step} after delete"
        );
    }
    let recreated = put(&*store, workflow("gone")).await;
    assert_eq!(recreated.action_str(), "created");
    for step in &steps {
        assert_eq!(
            step_log(&*store, &key, step).await,
            None,
            "{step} after recreate"
        );
    }
    put_status(
        &*store,
        StatusUpdate {
            logs: vec![log("gone-1", "new incarnation")],
            ..status_update(&key, json!({}), Precondition::None)
        },
    )
    .await;
    assert_eq!(
        step_log(&*store, &key, "gone-1").await.as_deref(),
        Some("new incarnation")
    );
    assert_eq!(step_log(&*store, &key, "gone-2").await, None);
}

/// Many runs write their own status at once, each chaining on its last version: all succeed,
/// versions are unique, and the last status and every log are stored.
pub async fn concurrent_status_writes_to_different_objects_all_succeed(store: Arc<dyn Store>) {
    const RUNS: usize = 24;
    const WRITES: usize = 5;
    let mut start = Vec::new();
    for run in 0..RUNS {
        let object = put(&*store, workflow(&format!("run-{run}")))
            .await
            .into_object();
        start.push(object.resource_version);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (run, first) in start.into_iter().enumerate() {
        let store = Arc::clone(&store);
        tasks.spawn(async move {
            let key = wf_key(&format!("run-{run}"));
            let mut version = first;
            let mut versions = Vec::new();
            for write in 0..WRITES {
                let update = StatusUpdate {
                    logs: vec![log(
                        &format!("step-{write}"),
                        &format!("run {run} step {write}"),
                    )],
                    ..status_update(
                        &key,
                        json!({"done": write}),
                        Precondition::ResourceVersion(version),
                    )
                };
                let written = ok(
                    store.put_status(update).await,
                    &format!("run {run} write {write}"),
                );
                assert!(written.resource_version > version);
                version = written.resource_version;
                versions.push(version);
            }
            versions
        });
    }
    let mut all = BTreeSet::new();
    let mut count = 0;
    while let Some(joined) = tasks.join_next().await {
        let versions = match joined {
            Ok(v) => v,
            Err(e) => panic!("run task failed: {e}"),
        };
        count += versions.len();
        all.extend(versions);
    }
    assert_eq!(count, RUNS * WRITES);
    assert_eq!(all.len(), count, "resource versions are unique");
    for run in 0..RUNS {
        let key = wf_key(&format!("run-{run}"));
        let stored = some(get(&*store, &key).await, "get run");
        assert_eq!(stored.body["status"], json!({"done": WRITES - 1}));
        assert_eq!(stored.generation(), 1);
        for write in 0..WRITES {
            assert_eq!(
                step_log(&*store, &key, &format!("step-{write}")).await,
                Some(format!("run {run} step {write}")),
            );
        }
    }
}

const LONG: std::time::Duration = std::time::Duration::from_secs(60);

/// Takes a lease, failing the test when the store refuses it.
async fn taken(store: &dyn Store, name: &str, holder: &str) -> crate::Lease {
    match ok(
        store.acquire_lease(name, holder, LONG).await,
        "taking a lease",
    ) {
        Ok(lease) => lease,
        Err(other) => panic!("{holder} could not take `{name}`: held by {other:?}"),
    }
}

/// Asks for a lease that another holds, failing the test when the store grants it.
async fn refused(store: &dyn Store, name: &str, holder: &str) -> crate::Lease {
    match ok(
        store.acquire_lease(name, holder, LONG).await,
        "asking for a held lease",
    ) {
        Ok(lease) => panic!("{holder} took `{name}` although it is held: {lease:?}"),
        Err(other) => other,
    }
}

pub async fn leases_are_taken_renewed_refused_and_released(store: Arc<dyn Store>) {
    let store = &*store;
    let a = taken(store, "controller", "a").await;
    assert_eq!(
        (a.name.as_str(), a.holder.as_str(), a.token),
        ("controller", "a", 1)
    );
    assert!(a.expires_at > chrono::Utc::now());
    // Another holder is told who holds it.
    let other = refused(store, "controller", "b").await;
    assert_eq!((other.holder.as_str(), other.token), ("a", 1));
    // The holder renews with the same token; another name is another lease.
    let renewed = taken(store, "controller", "a").await;
    assert_eq!(renewed.token, 1);
    assert!(renewed.expires_at >= a.expires_at);
    assert_eq!(taken(store, "scheduler", "b").await.token, 1);
    // Released by someone else: nothing happens; by its holder: free for the next, whose
    // token is larger.
    ok(store.release_lease("controller", "b").await, "releasing");
    refused(store, "controller", "b").await;
    ok(store.release_lease("controller", "a").await, "releasing");
    let b = taken(store, "controller", "b").await;
    assert_eq!((b.holder.as_str(), b.token), ("b", 2));
}

/// A fenced status write goes through while its lease keeps the writer's token, and is
/// refused (writing nothing) once another holder took the lease, or when there is no lease.
pub async fn fenced_status_writes_need_the_current_lease_token(store: Arc<dyn Store>) {
    let store = &*store;
    let key = wf_key("fenced");
    put(store, workflow("fenced")).await;
    let a = taken(store, "controller", "a").await;
    let fence_a = crate::Fence::of(&a);
    let written = ok(
        store
            .put_status_fenced(
                status_update(&key, json!({"by": "a"}), Precondition::None),
                &fence_a,
            )
            .await,
        "a fenced write by the holder",
    );
    assert_eq!(written.body["status"], json!({"by": "a"}));
    ok(store.release_lease("controller", "a").await, "releasing");
    let b = taken(store, "controller", "b").await;
    let refused = store
        .put_status_fenced(
            status_update(&key, json!({"by": "stale a"}), Precondition::None),
            &fence_a,
        )
        .await;
    assert_eq!(
        refused.map(|o| o.resource_version),
        Err(StoreError::Fenced {
            key: key.clone(),
            lease: "controller".into(),
            token: a.token,
            current: b.token,
        })
    );
    let stored = ok(store.get(&key).await, "reading").expect("the object exists");
    assert_eq!(
        stored.body["status"],
        json!({"by": "a"}),
        "a refused write changes nothing"
    );
    ok(
        store
            .put_status_fenced(
                status_update(&key, json!({"by": "b"}), Precondition::None),
                &crate::Fence::of(&b),
            )
            .await,
        "a fenced write by the new holder",
    );
    let nobody = crate::Fence {
        lease: "no-such-lease".into(),
        token: 1,
    };
    let err = store
        .put_status_fenced(status_update(&key, json!({}), Precondition::None), &nobody)
        .await
        .expect_err("a write fenced by a lease nobody holds is refused");
    assert!(
        matches!(err, StoreError::Fenced { current: 0, .. }),
        "{err:?}"
    );
}

pub async fn an_expired_lease_goes_to_a_new_holder_with_a_larger_token(store: Arc<dyn Store>) {
    let short = std::time::Duration::from_millis(200);
    let a = match ok(
        store.acquire_lease("controller", "a", short).await,
        "taking a short lease",
    ) {
        Ok(lease) => lease,
        Err(other) => panic!("a free lease was refused: {other:?}"),
    };
    // Wait until the store's clock is past the expiry, however the two clocks differ.
    let mut b = None;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let answer = ok(
            store.acquire_lease("controller", "b", LONG).await,
            "taking an expired lease",
        );
        if let Ok(lease) = answer {
            b = Some(lease);
            break;
        }
    }
    let b = b.expect("the expired lease was taken");
    assert_eq!((b.holder.as_str(), b.token), ("b", a.token + 1));
    // The old holder cannot renew: it must stop.
    let lost = refused(&*store, "controller", "a").await;
    assert_eq!(lost.holder, "b");
}

pub async fn concurrent_takers_of_a_free_lease_exactly_one_wins(store: Arc<dyn Store>) {
    const TAKERS: u32 = 16;
    let mut tasks = tokio::task::JoinSet::new();
    for taker in 0..TAKERS {
        let store = Arc::clone(&store);
        tasks.spawn(async move {
            store
                .acquire_lease("controller", &format!("p{taker}"), LONG)
                .await
        });
    }
    let mut won = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let answer = match joined {
            Ok(answer) => ok(answer, "racing for a lease"),
            Err(e) => panic!("taker task failed: {e}"),
        };
        match answer {
            Ok(lease) => won.push(lease),
            Err(other) => assert_eq!(other.token, 1),
        }
    }
    assert_eq!(won.len(), 1, "{won:?}");
    assert_eq!(won[0].token, 1);
}

pub async fn invalid_lease_requests_are_rejected(store: Arc<dyn Store>) {
    for (name, holder, ttl) in [
        ("", "a", LONG),
        ("controller", "", LONG),
        ("controller", "a\u{0}", LONG),
        ("controller", "a", std::time::Duration::ZERO),
        ("controller", "a", std::time::Duration::from_secs(7200)),
    ] {
        let err = fails(
            store.acquire_lease(name, holder, ttl).await,
            "an invalid lease request",
        );
        assert!(matches!(err, StoreError::Invalid { .. }), "{err}");
    }
    // Nothing was taken.
    assert_eq!(taken(&*store, "controller", "a").await.token, 1);
}
