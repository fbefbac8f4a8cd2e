//! The Store port: where applied objects live, and the contract every backend keeps.
//!
//! The control plane keeps every applied object (Sensors, Workflows, Secrets, ...) in a
//! [`Store`]. This crate owns the port: the trait and its written contract, the value types
//! that cross it, the one error type ([`StoreError`]), the at-rest sealing of Secret bodies
//! ([`SecretSealer`]), the backend-neutral rules of a put ([`rules`]) and the conformance
//! suite every backend runs ([`conformance`], [`store_conformance_tests!`]).
//!
//! # Contract
//!
//! Every backend (SQLite today, PostgreSQL later) keeps all of the following; the
//! conformance suite checks each clause that can be checked from the outside.
//!
//! **Objects and keys.** An object is identified by an [`ObjectKey`]: kind, namespace and
//! name. Namespaced kinds need a non-empty namespace; cluster-scoped kinds
//! (`ClusterWorkflowTemplate`) use the namespace `""` and a request that names another is
//! rejected with [`StoreError::Invalid`]. Names and namespaces must be non-empty, at most
//! 253 bytes, and contain no `/` and no control characters; anything stricter (DNS rules) is
//! the manifest validator's business, not the store's.
//!
//! **Transactions.** Each call is atomic: it takes effect entirely or not at all.
//! [`Store::put_many`] applies its requests in order in one transaction (a later request sees
//! the effect of an earlier one) and is all-or-nothing: if any request fails, none is applied
//! and the call returns the first failure. Reads see only committed data, never a
//! half-applied call.
//!
//! **Durability.** A mutating call that returned `Ok` has been made durable (fsynced to disk
//! for SQLite, committed for PostgreSQL): it survives a crash or power loss that happens
//! after the call returns. A call that returns an error may or may not have been applied only
//! when the error is [`StoreError::Unavailable`] raised while committing; every other error
//! means nothing changed. A call whose future is dropped before it completes may or may not
//! take effect (read the object to find out).
//!
//! **Resource versions.** Every mutation (create, configure, delete) takes the next value of
//! ONE global counter shared by all kinds, so resource versions are unique and strictly
//! increasing in commit order across the whole store. A stored object carries the version of
//! its last create or configure. `Unchanged` puts do not consume a version.
//!
//! **Optimistic concurrency.** [`Precondition`] is checked inside the transaction, against
//! the current row:
//! - `None`: no check (create or overwrite).
//! - `MustNotExist`: fails with [`StoreError::AlreadyExists`] if the object exists.
//! - `MustExist`: fails with [`StoreError::NotFound`] if it does not.
//! - `ResourceVersion(v)`: fails with [`StoreError::NotFound`] if the object does not exist
//!   and with [`StoreError::Conflict`] (naming the expected and the stored version) if its
//!   resource version is not `v`. Of many concurrent writers holding the same `v`, exactly one
//!   succeeds; no update is lost.
//!
//! Preconditions are checked before the Unchanged test: a stale `ResourceVersion` conflicts
//! even when the body is identical.
//!
//! **Server-managed metadata.** The stored body is the whole object as JSON, with
//! `metadata.name`, `metadata.namespace` (absent for cluster-scoped kinds), `metadata.uid`
//! (a UUID, kept for the object's life), `metadata.resourceVersion` (decimal string),
//! `metadata.creationTimestamp` (RFC 3339, whole seconds, `Z`, kept for the object's life)
//! and `metadata.generation` (1 on create, +1 on every configure) filled in by the store.
//! Whatever the request's body says in those fields is replaced: the request's kind,
//! namespace and name are authoritative.
//!
//! **Leases.** A lease names who owns a piece of work that must have one owner across
//! processes (the run controller), until when. Taking one is a single atomic step in the
//! store, against the store's clock: free or expired, it goes to the caller with a token one
//! larger than any before; held by the caller, it is renewed with the same token; held by
//! another, the caller learns who and until when. A holder that cannot renew before its lease
//! expires must stop the work, because another process may take it then.
//!
//! **Status and step logs.** `status` is a subresource, as in Kubernetes: `put` keeps the
//! stored status (a create stores the body's), and only [`Store::put_status`] changes it.
//! `put_status` checks its precondition like a put, replaces `status`, takes the next
//! resource version (always: there is no Unchanged test), keeps `generation`, and writes the
//! given step logs in the same transaction, each replacing an earlier log of the same step.
//! Logs belong to the object's incarnation (its uid): [`Store::step_log`] returns only logs
//! written for the object that exists now, and deleting the object deletes its logs, so a
//! new object of the same name starts with none.
//!
//! **generateName.** [`ObjectName::Generate`]`(prefix)` creates a new object named `prefix`
//! followed by 5 random characters from `[a-z0-9]`, drawing again when the name is taken.
//! It only creates: it accepts the preconditions `None` and `MustNotExist` and rejects the
//! others with [`StoreError::Invalid`].
//!
//! **Created, Configured, Unchanged.** A put of an absent object is `Created`. A put of an
//! existing object whose body equals the stored one, ignoring the server-managed metadata
//! fields above and the top-level `status`, is `Unchanged`: nothing is written and the stored
//! object is returned as it is. Otherwise it is `Configured`.
//!
//! **Status.** `status` belongs to the platform, not to put: on create a `status` in the body
//! is stored as given; on configure the stored `status` is kept and the body's ignored; a put
//! that differs only in `status` is `Unchanged`.
//!
//! **Deletes.** [`Store::delete`] returns the object as it was, or `Ok(None)` when it did not
//! exist and the precondition allows that (`None`). `MustExist` and `ResourceVersion` behave
//! as for put; `MustNotExist` makes no sense for a delete and is [`StoreError::Invalid`].
//!
//! **Listing.** [`Store::list`] returns objects of one kind sorted by `(namespace, name)`
//! (byte order); `Some(ns)` restricts to one namespace, `None` lists every namespace. Listing
//! a cluster-scoped kind with a non-empty namespace is [`StoreError::Invalid`]. A kind with no
//! objects lists as empty.
//!
//! **Meta.** [`Store::get_meta`]/[`Store::put_meta`]/[`Store::delete_meta`] are a small
//! durable key/value table for settings (schema markers, bootstrap flags) and small records
//! (the step records of distributed workers). They share the durability clause; removing a
//! key that does not exist is `Ok`.
//!
//! **Secrets.** Bodies of kind `Secret` are sealed at rest with the [`SecretSealer`]
//! (ChaCha20-Poly1305, key in `secret.key` next to the data). Only the key (kind, namespace,
//! name) and bookkeeping columns stay in clear. Reads return the opened body; a body that
//! cannot be opened (wrong key, tampering) is [`StoreError::Corrupt`].
//!
//! **Errors.** [`StoreError`] separates what the caller did ([`Conflict`](StoreError::Conflict),
//! [`AlreadyExists`](StoreError::AlreadyExists), [`NotFound`](StoreError::NotFound),
//! [`Invalid`](StoreError::Invalid)) from what the store suffers
//! ([`Unavailable`](StoreError::Unavailable): I/O error, disk full, database busy; the only
//! retryable class, HTTP 503 with `Retry-After`), from what needs an operator
//! ([`Corrupt`](StoreError::Corrupt)) and from bugs ([`Internal`](StoreError::Internal)).
//! Messages name the object as `sensor.argoproj.io/ns/name` (`kind.group/name` for
//! cluster-scoped kinds).

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod conformance;
pub mod ledger;
pub mod ledger_conformance;
pub mod rules;
pub mod sealing;
pub mod secrets;

pub use sealing::SecretSealer;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::fmt;
use switchyard_model::Kind;

/// Identifies one object: kind, namespace (`""` for cluster-scoped kinds) and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    pub kind: Kind,
    pub namespace: String,
    pub name: String,
}

impl ObjectKey {
    pub fn new(kind: Kind, namespace: impl Into<String>, name: impl Into<String>) -> Self {
        ObjectKey {
            kind,
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

/// `sensor.argoproj.io/ns/name`, or `clusterworkflowtemplate.argoproj.io/name` when the
/// namespace is empty.
impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{}/{}", self.kind.qualified(), self.name)
        } else {
            write!(
                f,
                "{}/{}/{}",
                self.kind.qualified(),
                self.namespace,
                self.name
            )
        }
    }
}

/// An object as the store holds it. `body` is the whole object as JSON, with the
/// server-managed metadata filled in (see the crate docs).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredObject {
    pub kind: Kind,
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub resource_version: u64,
    /// Creation time, whole seconds (as in `metadata.creationTimestamp`).
    pub created_at: DateTime<Utc>,
    pub body: serde_json::Value,
}

impl StoredObject {
    pub fn key(&self) -> ObjectKey {
        ObjectKey::new(self.kind, self.namespace.clone(), self.name.clone())
    }

    /// `metadata.generation`: 1 when created, +1 per configure (0 if the body lacks it).
    pub fn generation(&self) -> u64 {
        self.body
            .pointer("/metadata/generation")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0)
    }
}

/// How a put names its object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectName {
    /// This exact name.
    Exact(String),
    /// A new name: this `generateName` prefix plus 5 random `[a-z0-9]` characters.
    Generate(String),
}

/// What must hold for a put or delete to go ahead; see the crate docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precondition {
    #[default]
    None,
    MustNotExist,
    MustExist,
    /// The stored object must exist and have exactly this resource version.
    ResourceVersion(u64),
}

/// One create-or-update.
#[derive(Debug, Clone, PartialEq)]
pub struct PutRequest {
    pub kind: Kind,
    pub namespace: String,
    pub name: ObjectName,
    pub body: serde_json::Value,
    pub precondition: Precondition,
}

impl PutRequest {
    /// A put of an exactly named object with no precondition.
    pub fn new(
        kind: Kind,
        namespace: impl Into<String>,
        name: impl Into<String>,
        body: serde_json::Value,
    ) -> Self {
        PutRequest {
            kind,
            namespace: namespace.into(),
            name: ObjectName::Exact(name.into()),
            body,
            precondition: Precondition::None,
        }
    }

    /// A create with a generated name (`metadata.generateName`).
    pub fn generate(
        kind: Kind,
        namespace: impl Into<String>,
        prefix: impl Into<String>,
        body: serde_json::Value,
    ) -> Self {
        PutRequest {
            kind,
            namespace: namespace.into(),
            name: ObjectName::Generate(prefix.into()),
            body,
            precondition: Precondition::None,
        }
    }

    pub fn with_precondition(mut self, precondition: Precondition) -> Self {
        self.precondition = precondition;
        self
    }
}

/// What a put did, with the object as stored afterwards.
#[derive(Debug, Clone, PartialEq)]
pub enum PutOutcome {
    Created(StoredObject),
    Configured(StoredObject),
    /// Nothing was written; this is the object as it was already stored.
    Unchanged(StoredObject),
}

impl PutOutcome {
    pub fn object(&self) -> &StoredObject {
        match self {
            PutOutcome::Created(o) | PutOutcome::Configured(o) | PutOutcome::Unchanged(o) => o,
        }
    }

    pub fn into_object(self) -> StoredObject {
        match self {
            PutOutcome::Created(o) | PutOutcome::Configured(o) | PutOutcome::Unchanged(o) => o,
        }
    }

    /// `created`, `configured` or `unchanged`, as `apply` prints it.
    pub fn action_str(&self) -> &'static str {
        match self {
            PutOutcome::Created(_) => "created",
            PutOutcome::Configured(_) => "configured",
            PutOutcome::Unchanged(_) => "unchanged",
        }
    }
}

/// Everything a store call can fail with. See the crate docs for the classes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A `ResourceVersion` precondition did not hold.
    #[error(
        "{key} was modified concurrently: expected resourceVersion {expected}, found {actual}; read it again and retry"
    )]
    Conflict {
        key: ObjectKey,
        expected: u64,
        actual: u64,
    },
    #[error("{key} already exists")]
    AlreadyExists { key: ObjectKey },
    /// A fenced write (see [`Store::put_status_fenced`]) whose lease has a newer holder.
    #[error(
        "{key} was not written: the `{lease}` lease this writer held (token {token}) has been taken over (token {current}); its new holder writes it now"
    )]
    Fenced {
        key: ObjectKey,
        lease: String,
        token: u64,
        current: u64,
    },
    #[error("{key} not found")]
    NotFound { key: ObjectKey },
    /// The request itself is wrong (bad key, body not an object, impossible precondition).
    #[error("invalid request for {object}: {reason}")]
    Invalid { object: String, reason: String },
    /// The store cannot serve now (I/O error, disk full, database busy). Retryable.
    #[error("store unavailable: {reason}; retry later")]
    Unavailable { reason: String },
    /// Stored data cannot be read by this build: damaged, sealed with another key, or
    /// written by a newer version. Needs an operator.
    #[error("stored data cannot be read: {what}")]
    Corrupt { what: String },
    /// A bug in the store.
    #[error("internal store error: {reason}")]
    Internal { reason: String },
}

impl StoreError {
    /// True when the same call may succeed if made again later, unchanged.
    /// Only [`StoreError::Unavailable`] is; a `Conflict` needs a fresh read first.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Unavailable { .. })
    }

    pub fn invalid(object: impl fmt::Display, reason: impl Into<String>) -> Self {
        StoreError::Invalid {
            object: object.to_string(),
            reason: reason.into(),
        }
    }
}

/// The port. Read the crate docs: they are the contract.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Creates or updates one object.
    async fn put(&self, req: PutRequest) -> Result<PutOutcome, StoreError>;
    /// Applies every request in order in one transaction: all or nothing.
    async fn put_many(&self, reqs: Vec<PutRequest>) -> Result<Vec<PutOutcome>, StoreError>;
    async fn get(&self, key: &ObjectKey) -> Result<Option<StoredObject>, StoreError>;
    /// Objects of `kind`, in one namespace or (None) all, sorted by (namespace, name).
    async fn list(
        &self,
        kind: Kind,
        namespace: Option<&str>,
    ) -> Result<Vec<StoredObject>, StoreError>;
    /// One page of [`Store::list`]: at most `page.limit` objects after `page.after` in the
    /// same order, and whether more follow. Pages read one after another cover every object
    /// that existed throughout, each once; an object created or deleted meanwhile may or may
    /// not appear. Only the page is read.
    async fn list_page(
        &self,
        kind: Kind,
        namespace: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page, StoreError>;
    /// Deletes an object; returns it as it was, or None if it did not exist.
    async fn delete(
        &self,
        key: &ObjectKey,
        precondition: Precondition,
    ) -> Result<Option<StoredObject>, StoreError>;
    async fn get_meta(&self, key: &str) -> Result<Option<String>, StoreError>;
    async fn put_meta(&self, key: &str, value: &str) -> Result<(), StoreError>;
    /// Removes a setting; removing one that does not exist is `Ok`.
    async fn delete_meta(&self, key: &str) -> Result<(), StoreError>;
    /// Replaces the `status` of an existing object (the status subresource: `put` never
    /// changes a stored status) and, in the same transaction, writes the step logs attached
    /// to it. See "Status and step logs" in the crate docs.
    async fn put_status(&self, update: StatusUpdate) -> Result<StoredObject, StoreError>;
    /// [`Store::put_status`] by the holder of a lease: in the same transaction, the lease
    /// must still carry `fence.token` (no other holder took it since), else nothing is written
    /// and the answer is [`StoreError::Fenced`]. This is how a process that lost its lease
    /// (paused past its TTL, say) is kept from overwriting what the new holder writes.
    async fn put_status_fenced(
        &self,
        update: StatusUpdate,
        fence: &Fence,
    ) -> Result<StoredObject, StoreError>;
    /// The log of one step of an object, as written by [`Store::put_status`].
    async fn step_log(&self, key: &ObjectKey, step: &str) -> Result<Option<String>, StoreError>;
    /// Takes the lease `name` for `holder` until `ttl` from now, or renews it when `holder`
    /// holds it. `Ok(Ok(lease))` when `holder` holds it now; `Ok(Err(other))` when another
    /// holder's lease has not expired. Time is the store's clock (one clock for every process
    /// sharing it). A new holder gets a larger `token` than every holder before it, so work
    /// done under an older token can be told apart (fencing). See "Leases" in the crate docs.
    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: std::time::Duration,
    ) -> Result<Result<Lease, Lease>, StoreError>;
    /// Gives up the lease `name` if `holder` holds it (it expires at once; the token stays).
    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError>;
}

/// Which page of a list to read: see [`Store::list_page`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// The last object of the page before (None: the first page).
    pub after: Option<ListCursor>,
    /// At most this many objects (at least 1).
    pub limit: usize,
}

/// A place in a list: the (namespace, name) of the last object read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ListCursor {
    pub namespace: String,
    pub name: String,
}

impl ListCursor {
    /// The cursor just after `object`.
    pub fn after(object: &StoredObject) -> ListCursor {
        ListCursor {
            namespace: object.namespace.clone(),
            name: object.name.clone(),
        }
    }

    /// Whether `object` comes after this place in list order.
    pub fn is_before(&self, object: &StoredObject) -> bool {
        (self.namespace.as_str(), self.name.as_str())
            < (object.namespace.as_str(), object.name.as_str())
    }
}

/// A page of a list.
#[derive(Debug, Clone)]
pub struct Page {
    pub items: Vec<StoredObject>,
    /// Whether objects follow the last one of this page.
    pub more: bool,
}

impl Page {
    /// Where the next page starts, when there is one.
    pub fn next(&self) -> Option<ListCursor> {
        if self.more {
            self.items.last().map(ListCursor::after)
        } else {
            None
        }
    }
}

/// A lease and the token its holder got: what a fenced write checks.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Fence {
    pub lease: String,
    pub token: u64,
}

impl Fence {
    /// The fence of a lease as its holder got it.
    pub fn of(lease: &Lease) -> Fence {
        Fence {
            lease: lease.name.clone(),
            token: lease.token,
        }
    }

    /// Checks the lease's current token (`None`: no such lease) against this fence.
    pub fn check(&self, key: &ObjectKey, current: Option<u64>) -> Result<(), StoreError> {
        match current {
            Some(token) if token == self.token => Ok(()),
            other => Err(StoreError::Fenced {
                key: key.clone(),
                lease: self.lease.clone(),
                token: self.token,
                current: other.unwrap_or(0),
            }),
        }
    }
}

/// Who holds a lease, since which token, until when.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Lease {
    pub name: String,
    pub holder: String,
    /// 1 for the first holder, one more for each new holder (a renewal keeps it).
    pub token: u64,
    pub expires_at: DateTime<Utc>,
}

/// Checks a lease request's names; the same rules in every backend.
pub fn check_lease_request(
    name: &str,
    holder: &str,
    ttl: std::time::Duration,
) -> Result<(), StoreError> {
    let bad = |reason: String| StoreError::Invalid {
        object: format!("lease `{name}`"),
        reason,
    };
    for (what, value) in [("name", name), ("holder", holder)] {
        if value.is_empty() || value.len() > 253 || value.chars().any(char::is_control) {
            return Err(bad(format!(
                "the {what} must be 1 to 253 characters without control characters"
            )));
        }
    }
    if ttl.is_zero() || ttl > std::time::Duration::from_secs(3600) {
        return Err(bad(format!(
            "the time to live is {ttl:?}; it must be more than 0 and at most an hour"
        )));
    }
    Ok(())
}

/// A write of an object's `status`, with the logs of steps that ended (see [`Store::put_status`]).
#[derive(Debug, Clone, PartialEq)]
pub struct StatusUpdate {
    pub key: ObjectKey,
    /// The new `status` (any JSON value; `null` removes it).
    pub status: serde_json::Value,
    /// Checked like a put's: `ResourceVersion(v)` is how a single writer of a run's status
    /// makes sure nobody else wrote it since. `None` and `MustExist` both require the object
    /// to exist; `MustNotExist` is invalid here.
    pub precondition: Precondition,
    /// Step logs to store with the object, replacing any earlier log of the same step.
    pub logs: Vec<StepLog>,
}

/// The captured output of one step, stored with the object it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepLog {
    /// The step's id (unique within the object).
    pub step: String,
    /// The log as the writer formats it (opaque to the store).
    pub text: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_display_as_apply_prints_them() {
        for (key, want) in [
            (
                ObjectKey::new(Kind::Sensor, "prod", "build"),
                "sensor.argoproj.io/prod/build",
            ),
            (
                ObjectKey::new(Kind::ClusterWorkflowTemplate, "", "ci"),
                "clusterworkflowtemplate.argoproj.io/ci",
            ),
            (
                ObjectKey::new(Kind::Secret, "default", "db"),
                "secret/default/db",
            ),
        ] {
            assert_eq!(key.to_string(), want);
        }
    }

    #[test]
    fn only_unavailable_is_retryable() {
        let key = ObjectKey::new(Kind::ConfigMap, "default", "x");
        for (err, want) in [
            (
                StoreError::Conflict {
                    key: key.clone(),
                    expected: 1,
                    actual: 2,
                },
                false,
            ),
            (StoreError::AlreadyExists { key: key.clone() }, false),
            (StoreError::NotFound { key: key.clone() }, false),
            (StoreError::invalid(&key, "bad"), false),
            (
                StoreError::Unavailable {
                    reason: "disk full".into(),
                },
                true,
            ),
            (StoreError::Corrupt { what: "x".into() }, false),
            (StoreError::Internal { reason: "x".into() }, false),
        ] {
            assert_eq!(err.is_retryable(), want, "{err}");
        }
    }

    #[test]
    fn outcome_actions() {
        let o = StoredObject {
            kind: Kind::ConfigMap,
            namespace: "default".into(),
            name: "x".into(),
            uid: "u".into(),
            resource_version: 1,
            created_at: DateTime::<Utc>::UNIX_EPOCH,
            body: serde_json::json!({"metadata": {"generation": 3}}),
        };
        assert_eq!(o.generation(), 3);
        for (outcome, want) in [
            (PutOutcome::Created(o.clone()), "created"),
            (PutOutcome::Configured(o.clone()), "configured"),
            (PutOutcome::Unchanged(o.clone()), "unchanged"),
        ] {
            assert_eq!(outcome.action_str(), want);
            assert_eq!(outcome.object(), &o);
        }
    }
}
