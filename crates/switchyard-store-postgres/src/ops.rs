//! The store's operations: reads on any connection, and the mutations that run inside a
//! transaction opened by [`Pool::transact`](crate::pool::Pool::transact).
//!
//! Mutations run inside a transaction that has locked the resource version counter
//! ([`ResourceVersions::lock`]; the writer takes it once per batch) and do not commit. The decisions (preconditions, Unchanged, metadata) are
//! [`switchyard_store::rules`], shared with SQLite; this module only moves rows.

use chrono::{DateTime, Utc};
use deadpool_postgres::{GenericClient, Transaction};
use std::collections::BTreeMap;
use std::fmt;
use switchyard_model::Kind;
use switchyard_store::rules::{self, EncodedBody, PutPlan};
use switchyard_store::{
    Fence, ObjectKey, ObjectName, Page, PageRequest, Precondition, PutOutcome, PutRequest,
    SecretSealer, StatusUpdate, StoreError, StoredObject,
};
use tokio_postgres::Row;

use crate::errors::Failure;
use crate::pool::{column, execute, query, query_opt};
use crate::sql;

/// Refuses text PostgreSQL cannot store in a `TEXT` column: the NUL character. `what` names
/// the field, `object` what it belongs to.
pub(crate) fn check_text(
    value: &str,
    what: &str,
    object: &dyn fmt::Display,
) -> Result<(), StoreError> {
    if value.contains('\0') {
        return Err(StoreError::invalid(
            object,
            format!("{what} contains a NUL character, which PostgreSQL text cannot hold"),
        ));
    }
    Ok(())
}

/// The columns of an object row, before decoding.
struct RawRow {
    kind: String,
    namespace: String,
    name: String,
    uid: String,
    resource_version: i64,
    created_at: DateTime<Utc>,
    body: Vec<u8>,
    sealed: bool,
}

fn raw_row(row: &Row, doing: &str) -> Result<RawRow, Failure> {
    Ok(RawRow {
        kind: column(row, 0, doing)?,
        namespace: column(row, 1, doing)?,
        name: column(row, 2, doing)?,
        uid: column(row, 3, doing)?,
        resource_version: column(row, 4, doing)?,
        // column 5, generation, is also in the body.
        created_at: column(row, 6, doing)?,
        body: column(row, 7, doing)?,
        sealed: column(row, 8, doing)?,
    })
}

fn decode(raw: RawRow, sealer: &SecretSealer) -> Result<StoredObject, StoreError> {
    decode_with(raw, |key, bytes, sealed| {
        rules::decode_body(sealer, key, bytes, sealed)
    })
}

/// Decodes a row's columns, and its body with `body` (given the key, the bytes and the
/// sealed flag).
fn decode_with(
    raw: RawRow,
    body: impl FnOnce(&ObjectKey, &[u8], bool) -> Result<serde_json::Value, StoreError>,
) -> Result<StoredObject, StoreError> {
    let kind = rules::kind_from_stored(&raw.kind)?;
    let key = ObjectKey::new(kind, raw.namespace, raw.name);
    let resource_version =
        u64::try_from(raw.resource_version).map_err(|_| StoreError::Corrupt {
            what: format!(
                "{key}: the stored resource version {} is negative",
                raw.resource_version
            ),
        })?;
    let body = body(&key, &raw.body, raw.sealed)?;
    Ok(StoredObject {
        kind,
        namespace: key.namespace,
        name: key.name,
        uid: raw.uid,
        resource_version,
        created_at: raw.created_at,
        body,
    })
}

pub(crate) async fn get(
    c: &(impl GenericClient + ?Sized),
    sealer: &SecretSealer,
    key: &ObjectKey,
) -> Result<Option<StoredObject>, Failure> {
    match get_raw(c, key).await? {
        Some(raw) => Ok(Some(decode(raw, sealer)?)),
        None => Ok(None),
    }
}

async fn get_raw(
    c: &(impl GenericClient + ?Sized),
    key: &ObjectKey,
) -> Result<Option<RawRow>, Failure> {
    let doing = format!("reading {key}");
    query_opt(
        c,
        sql::SELECT_OBJECT,
        &[&key.kind.name(), &key.namespace, &key.name],
        &doing,
    )
    .await?
    .map(|row| raw_row(&row, &doing))
    .transpose()
}

pub(crate) async fn list(
    c: &(impl GenericClient + ?Sized),
    sealer: &SecretSealer,
    kind: Kind,
    namespace: Option<&str>,
) -> Result<Vec<StoredObject>, Failure> {
    let doing = format!("listing {}", kind.qualified());
    let rows = match namespace {
        Some(ns) => {
            query(
                c,
                sql::LIST_OBJECTS_IN_NAMESPACE,
                &[&kind.name(), &ns],
                &doing,
            )
            .await?
        }
        None => query(c, sql::LIST_OBJECTS, &[&kind.name()], &doing).await?,
    };
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        out.push(decode(raw_row(row, &doing)?, sealer)?);
    }
    Ok(out)
}

/// One page of [`list`]: at most `page.limit` objects after `page.after`.
pub(crate) async fn list_page(
    c: &(impl GenericClient + ?Sized),
    sealer: &SecretSealer,
    kind: Kind,
    namespace: Option<&str>,
    page: &PageRequest,
) -> Result<Page, Failure> {
    let doing = format!("listing {}", kind.qualified());
    let (after_ns, after_name) = page
        .after
        .as_ref()
        .map_or(("", ""), |a| (a.namespace.as_str(), a.name.as_str()));
    // One more than asked for says whether more follow.
    let fetch = i64::try_from(page.limit.saturating_add(1)).unwrap_or(i64::MAX);
    let rows = match namespace {
        Some(ns) => {
            // A cursor from another namespace starts this one from its beginning or end.
            let name = match after_ns.cmp(ns) {
                std::cmp::Ordering::Less => "",
                std::cmp::Ordering::Equal => after_name,
                std::cmp::Ordering::Greater => {
                    return Ok(Page {
                        items: Vec::new(),
                        more: false,
                    });
                }
            };
            query(
                c,
                sql::LIST_PAGE_IN_NAMESPACE,
                &[&kind.name(), &ns, &name, &fetch],
                &doing,
            )
            .await?
        }
        None => {
            query(
                c,
                sql::LIST_PAGE,
                &[&kind.name(), &after_ns, &after_name, &fetch],
                &doing,
            )
            .await?
        }
    };
    let more = rows.len() > page.limit;
    let mut items = Vec::with_capacity(rows.len().min(page.limit));
    for row in rows.iter().take(page.limit) {
        items.push(decode(raw_row(row, &doing)?, sealer)?);
    }
    Ok(Page { items, more })
}

/// One step's log of the object that exists now under `key`.
pub(crate) async fn step_log(
    c: &(impl GenericClient + ?Sized),
    key: &ObjectKey,
    step: &str,
) -> Result<Option<String>, Failure> {
    let doing = format!("reading the log of step `{step}` of {key}");
    if step.contains('\0') {
        // No step of that name can have been stored.
        return Ok(None);
    }
    let Some(row) = query_opt(
        c,
        sql::SELECT_STEP_LOG,
        &[&key.kind.name(), &key.namespace, &key.name, &step],
        &doing,
    )
    .await?
    else {
        return Ok(None);
    };
    let bytes: Vec<u8> = column(&row, 0, &doing)?;
    String::from_utf8(bytes).map(Some).map_err(|e| {
        Failure::from(StoreError::Corrupt {
            what: format!("{key}: the stored log of step `{step}` is not UTF-8: {e}"),
        })
    })
}

pub(crate) async fn get_meta(
    c: &(impl GenericClient + ?Sized),
    key: &str,
) -> Result<Option<String>, Failure> {
    let doing = format!("reading setting `{key}`");
    if key.contains('\0') {
        return Ok(None);
    }
    query_opt(c, sql::SELECT_META, &[&key], &doing)
        .await?
        .map(|row| column(&row, 0, &doing))
        .transpose()
}

pub(crate) async fn put_meta(
    c: &(impl GenericClient + ?Sized),
    key: &str,
    value: &str,
) -> Result<(), Failure> {
    let setting = format!("setting `{key}`");
    check_text(key, "the name", &setting)?;
    check_text(value, "the value", &setting)?;
    execute(
        c,
        sql::UPSERT_META,
        &[&key, &value],
        &format!("writing {setting}"),
    )
    .await?;
    Ok(())
}

pub(crate) async fn delete_meta(
    c: &(impl GenericClient + ?Sized),
    key: &str,
) -> Result<(), Failure> {
    if key.contains('\0') {
        // No stored key contains NUL (put_meta refuses it): nothing to remove.
        return Ok(());
    }
    execute(
        c,
        sql::DELETE_META,
        &[&key],
        &format!("removing setting `{key}`"),
    )
    .await?;
    Ok(())
}

/// The global resource version counter, locked for the rest of the transaction.
///
/// Every mutation locks it before reading anything, so mutations run one at a time across
/// every process sharing the schema, as SQLite's single writer runs them: a precondition is
/// checked against a row nobody else can change before the commit, and versions are handed
/// out in commit order. Versions are taken in memory and the last one is written back once.
pub(crate) struct ResourceVersions {
    last: u64,
    stored: u64,
}

impl ResourceVersions {
    pub(crate) async fn lock(tx: &Transaction<'_>) -> Result<Self, Failure> {
        let doing = "locking the resource version counter";
        let row = query_opt(tx, sql::LOCK_RESOURCE_VERSION, &[], doing)
            .await?
            .ok_or_else(|| StoreError::Corrupt {
                what: "the resource version counter row is missing from table `counters`"
                    .to_owned(),
            })?;
        let value: i64 = column(&row, 0, doing)?;
        let last = u64::try_from(value).map_err(|_| StoreError::Corrupt {
            what: format!("the resource version counter is negative ({value})"),
        })?;
        Ok(ResourceVersions { last, stored: last })
    }

    /// The next resource version.
    pub(crate) fn take(&mut self) -> u64 {
        self.last += 1;
        self.last
    }

    /// Writes the last version taken back to the counter, if any was taken.
    pub(crate) async fn record(self, tx: &Transaction<'_>) -> Result<(), Failure> {
        if self.last == self.stored {
            return Ok(());
        }
        let value = to_i64(self.last, "resource version")?;
        execute(
            tx,
            sql::SET_RESOURCE_VERSION,
            &[&value],
            "recording the resource version",
        )
        .await?;
        Ok(())
    }
}

fn to_i64(n: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| StoreError::Internal {
        reason: format!("{what} {n} does not fit PostgreSQL's BIGINT"),
    })
}

async fn exists(tx: &Transaction<'_>, key: &ObjectKey) -> Result<bool, Failure> {
    let row = query_opt(
        tx,
        sql::OBJECT_EXISTS,
        &[&key.kind.name(), &key.namespace, &key.name],
        &format!("looking up {key}"),
    )
    .await?;
    Ok(row.is_some())
}

/// The request's key: its exact name, or for `generateName` a drawn name that is free.
/// Validation and drawing are [`rules::resolve_key`]'s; only the look-up is here, because it
/// is asynchronous.
async fn resolve(tx: &Transaction<'_>, req: &PutRequest) -> Result<ObjectKey, Failure> {
    let mut key = rules::resolve_key(req, |_| Ok(false))?;
    if matches!(req.name, ObjectName::Exact(_)) {
        return Ok(key);
    }
    for _ in 1..rules::GENERATE_ATTEMPTS {
        if !exists(tx, &key).await? {
            return Ok(key);
        }
        key = rules::resolve_key(req, |_| Ok(false))?;
    }
    if !exists(tx, &key).await? {
        return Ok(key);
    }
    Err(Failure::from(StoreError::AlreadyExists { key }))
}

async fn insert(tx: &Transaction<'_>, o: &StoredObject, body: &EncodedBody) -> Result<(), Failure> {
    let key = o.key();
    execute(
        tx,
        sql::INSERT_OBJECT,
        &[
            &o.kind.name(),
            &o.namespace,
            &o.name,
            &o.uid,
            &to_i64(o.resource_version, "resource version")?,
            &to_i64(o.generation(), "generation")?,
            &o.created_at,
            &body.bytes,
            &body.sealed,
        ],
        &format!("inserting {key}"),
    )
    .await?;
    Ok(())
}

async fn update(tx: &Transaction<'_>, o: &StoredObject, body: &EncodedBody) -> Result<(), Failure> {
    let key = o.key();
    let changed = execute(
        tx,
        sql::UPDATE_OBJECT,
        &[
            &o.kind.name(),
            &o.namespace,
            &o.name,
            &to_i64(o.resource_version, "resource version")?,
            &to_i64(o.generation(), "generation")?,
            &body.bytes,
            &body.sealed,
        ],
        &format!("updating {key}"),
    )
    .await?;
    if changed != 1 {
        return Err(Failure::from(StoreError::Internal {
            reason: format!("updating {key} changed {changed} rows, not 1"),
        }));
    }
    Ok(())
}

/// Applies puts in order inside the caller's transaction; stops at the first failure (the
/// caller rolls back).
pub(crate) async fn put_all(
    tx: &Transaction<'_>,
    sealer: &SecretSealer,
    versions: &mut ResourceVersions,
    reqs: &[PutRequest],
) -> Result<Vec<PutOutcome>, Failure> {
    let mut outcomes = Vec::with_capacity(reqs.len());
    for req in reqs {
        outcomes.push(put_one(tx, sealer, versions, req).await?);
    }
    Ok(outcomes)
}

async fn put_one(
    tx: &Transaction<'_>,
    sealer: &SecretSealer,
    versions: &mut ResourceVersions,
    req: &PutRequest,
) -> Result<PutOutcome, Failure> {
    let key = resolve(tx, req).await?;
    let current = get(tx, sealer, &key).await?;
    match rules::plan_put(&key, current, req.body.clone(), req.precondition)? {
        PutPlan::Unchanged(o) => Ok(PutOutcome::Unchanged(o)),
        PutPlan::Create { body } => {
            let object = rules::created(&key, body, versions.take());
            insert(tx, &object, &rules::encode_body(sealer, &object)?).await?;
            Ok(PutOutcome::Created(object))
        }
        PutPlan::Update { current, body } => {
            let object = rules::updated(&current, body, versions.take());
            update(tx, &object, &rules::encode_body(sealer, &object)?).await?;
            Ok(PutOutcome::Configured(object))
        }
    }
}

/// Writes a status and its step logs inside the caller's transaction; every status write
/// takes a resource version.
///
/// The stored body is decoded with the new status already in place of the old (which is
/// never built), encoded once, and written back; the logs go in one statement.
pub(crate) async fn put_status(
    tx: &Transaction<'_>,
    sealer: &SecretSealer,
    versions: &mut ResourceVersions,
    update_req: &StatusUpdate,
    fence: Option<&Fence>,
) -> Result<StoredObject, Failure> {
    let key = &update_req.key;
    if let Some(fence) = fence {
        let rows = query(
            tx,
            sql::LEASE_TOKEN_FOR_SHARE,
            &[&fence.lease],
            &format!("checking the `{}` lease", fence.lease),
        )
        .await?;
        let current = rows
            .first()
            .map(|row| row.get::<_, i64>(0))
            .and_then(|t| u64::try_from(t).ok());
        fence.check(key, current)?;
    }
    // The last log of a step wins, as if each replaced the one before.
    let mut logs: BTreeMap<&str, &[u8]> = BTreeMap::new();
    for log in &update_req.logs {
        check_text(&log.step, "a step name", key)?;
        logs.insert(&log.step, log.text.as_bytes());
    }
    let current = match get_raw(tx, key).await? {
        Some(raw) => Some(decode_with(raw, |key, bytes, sealed| {
            rules::decode_body_with_status(sealer, key, bytes, sealed, update_req.status.clone())
        })?),
        None => None,
    };
    let current = rules::check_status_precondition(key, current, update_req.precondition)?;
    let object = rules::status_written(current, versions.take());
    update(tx, &object, &rules::encode_body(sealer, &object)?).await?;
    if !logs.is_empty() {
        let steps: Vec<&str> = logs.keys().copied().collect();
        let texts: Vec<&[u8]> = logs.values().copied().collect();
        execute(
            tx,
            sql::UPSERT_STEP_LOGS,
            &[&object.uid, &steps, &texts],
            &format!("writing the step logs of {key}"),
        )
        .await?;
    }
    Ok(object)
}

/// Deletes inside the caller's transaction; every delete of an existing object takes a
/// resource version. The object's step logs go with it (`ON DELETE CASCADE`).
pub(crate) async fn delete(
    tx: &Transaction<'_>,
    sealer: &SecretSealer,
    versions: &mut ResourceVersions,
    key: &ObjectKey,
    precondition: Precondition,
) -> Result<Option<StoredObject>, Failure> {
    let current = get(tx, sealer, key).await?;
    rules::check_delete_precondition(key, current.as_ref(), precondition)?;
    let Some(current) = current else {
        return Ok(None);
    };
    execute(
        tx,
        sql::DELETE_OBJECT,
        &[&key.kind.name(), &key.namespace, &key.name],
        &format!("deleting {key}"),
    )
    .await?;
    versions.take();
    Ok(Some(current))
}
