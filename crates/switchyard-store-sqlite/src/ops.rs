//! The store's operations on one SQLite connection: reads for the reader pool, and the
//! mutations the writer runs inside its transaction.
//!
//! Mutations assume an open transaction (the writer's savepoint) and do not commit. The
//! decisions (preconditions, Unchanged, metadata) are [`switchyard_store::rules`]; this module
//! only moves rows.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};
use switchyard_model::Kind;
use switchyard_store::Lease;
use switchyard_store::rules::{self, EncodedBody, PutPlan};
use switchyard_store::{
    Fence, ListCursor, ObjectKey, Page, PageRequest, Precondition, PutOutcome, PutRequest,
    SecretSealer, StatusUpdate, StoreError, StoredObject,
};

use crate::errors::map;
use crate::sql;

/// The columns of an object row, before decoding.
struct RawRow {
    kind: String,
    namespace: String,
    name: String,
    uid: String,
    resource_version: i64,
    created_at: String,
    body: Vec<u8>,
    sealed: bool,
}

fn raw_row(row: &Row<'_>) -> rusqlite::Result<RawRow> {
    Ok(RawRow {
        kind: row.get(0)?,
        namespace: row.get(1)?,
        name: row.get(2)?,
        uid: row.get(3)?,
        resource_version: row.get(4)?,
        // column 5, generation, is also in the body.
        created_at: row.get(6)?,
        body: row.get(7)?,
        sealed: row.get(8)?,
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
    let created_at = DateTime::parse_from_rfc3339(&raw.created_at)
        .map_err(|e| StoreError::Corrupt {
            what: format!(
                "{key}: the stored creation time `{}` is not RFC 3339: {e}",
                raw.created_at
            ),
        })?
        .with_timezone(&Utc);
    let body = body(&key, &raw.body, raw.sealed)?;
    Ok(StoredObject {
        kind,
        namespace: key.namespace,
        name: key.name,
        uid: raw.uid,
        resource_version,
        created_at,
        body,
    })
}

pub(crate) fn get(
    conn: &Connection,
    sealer: &SecretSealer,
    key: &ObjectKey,
) -> Result<Option<StoredObject>, StoreError> {
    get_raw(conn, key)?.map(|r| decode(r, sealer)).transpose()
}

fn get_raw(conn: &Connection, key: &ObjectKey) -> Result<Option<RawRow>, StoreError> {
    let doing = || format!("reading {key}");
    let mut stmt = conn
        .prepare_cached(sql::SELECT_OBJECT)
        .map_err(|e| map(e, &doing()))?;
    stmt.query_row(params![key.kind.name(), key.namespace, key.name], raw_row)
        .optional()
        .map_err(|e| map(e, &doing()))
}

pub(crate) fn list(
    conn: &Connection,
    sealer: &SecretSealer,
    kind: Kind,
    namespace: Option<&str>,
) -> Result<Vec<StoredObject>, StoreError> {
    let doing = || format!("listing {}", kind.qualified());
    let collect = |rows: rusqlite::MappedRows<'_, _>| -> Result<Vec<RawRow>, StoreError> {
        rows.collect::<rusqlite::Result<Vec<RawRow>>>()
            .map_err(|e| map(e, &doing()))
    };
    let raws = match namespace {
        Some(ns) => {
            let mut stmt = conn
                .prepare_cached(sql::LIST_OBJECTS_IN_NAMESPACE)
                .map_err(|e| map(e, &doing()))?;
            let rows = stmt
                .query_map(params![kind.name(), ns], raw_row)
                .map_err(|e| map(e, &doing()))?;
            collect(rows)?
        }
        None => {
            let mut stmt = conn
                .prepare_cached(sql::LIST_OBJECTS)
                .map_err(|e| map(e, &doing()))?;
            let rows = stmt
                .query_map(params![kind.name()], raw_row)
                .map_err(|e| map(e, &doing()))?;
            collect(rows)?
        }
    };
    raws.into_iter().map(|r| decode(r, sealer)).collect()
}

/// One page of [`list`]: at most `page.limit` objects after `page.after`.
pub(crate) fn list_page(
    conn: &Connection,
    sealer: &SecretSealer,
    kind: Kind,
    namespace: Option<&str>,
    page: &PageRequest,
) -> Result<Page, StoreError> {
    let doing = || format!("listing {}", kind.qualified());
    let after = page.after.clone().unwrap_or(ListCursor {
        namespace: String::new(),
        name: String::new(),
    });
    // One more than asked for says whether more follow.
    let fetch = i64::try_from(page.limit.saturating_add(1)).unwrap_or(i64::MAX);
    let raws = match namespace {
        Some(ns) => {
            let mut stmt = conn
                .prepare_cached(sql::LIST_PAGE_IN_NAMESPACE)
                .map_err(|e| map(e, &doing()))?;
            // A cursor from another namespace starts this one from its beginning or end.
            let name = match after.namespace.as_str().cmp(ns) {
                std::cmp::Ordering::Less => "",
                std::cmp::Ordering::Equal => after.name.as_str(),
                std::cmp::Ordering::Greater => {
                    return Ok(Page {
                        items: Vec::new(),
                        more: false,
                    });
                }
            };
            let rows = stmt
                .query_map(params![kind.name(), ns, name, fetch], raw_row)
                .map_err(|e| map(e, &doing()))?;
            rows.collect::<rusqlite::Result<Vec<RawRow>>>()
                .map_err(|e| map(e, &doing()))?
        }
        None => {
            let mut stmt = conn
                .prepare_cached(sql::LIST_PAGE)
                .map_err(|e| map(e, &doing()))?;
            let rows = stmt
                .query_map(
                    params![kind.name(), after.namespace, after.name, fetch],
                    raw_row,
                )
                .map_err(|e| map(e, &doing()))?;
            rows.collect::<rusqlite::Result<Vec<RawRow>>>()
                .map_err(|e| map(e, &doing()))?
        }
    };
    let more = raws.len() > page.limit;
    let items = raws
        .into_iter()
        .take(page.limit)
        .map(|r| decode(r, sealer))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page { items, more })
}

/// One step's log of the object that exists now under `key`.
pub(crate) fn step_log(
    conn: &Connection,
    key: &ObjectKey,
    step: &str,
) -> Result<Option<String>, StoreError> {
    let doing = || format!("reading the log of step `{step}` of {key}");
    let mut stmt = conn
        .prepare_cached(sql::SELECT_STEP_LOG)
        .map_err(|e| map(e, &doing()))?;
    stmt.query_row(
        params![key.kind.name(), key.namespace, key.name, step],
        |row| row.get(0),
    )
    .optional()
    .map_err(|e| map(e, &doing()))
}

pub(crate) fn get_meta(conn: &Connection, key: &str) -> Result<Option<String>, StoreError> {
    let doing = || format!("reading setting `{key}`");
    let mut stmt = conn
        .prepare_cached(sql::SELECT_META)
        .map_err(|e| map(e, &doing()))?;
    stmt.query_row(params![key], |row| row.get(0))
        .optional()
        .map_err(|e| map(e, &doing()))
}

pub(crate) fn put_meta(conn: &Connection, key: &str, value: &str) -> Result<(), StoreError> {
    let mut stmt = conn
        .prepare_cached(sql::UPSERT_META)
        .map_err(|e| map(e, &format!("writing setting `{key}`")))?;
    stmt.execute(params![key, value])
        .map_err(|e| map(e, &format!("writing setting `{key}`")))?;
    Ok(())
}

pub(crate) fn delete_meta(conn: &Connection, key: &str) -> Result<(), StoreError> {
    let doing = || format!("removing setting `{key}`");
    let mut stmt = conn
        .prepare_cached(sql::DELETE_META)
        .map_err(|e| map(e, &doing()))?;
    stmt.execute(params![key]).map_err(|e| map(e, &doing()))?;
    Ok(())
}

/// Takes or renews a lease (see the port's docs), in the writer's transaction.
pub(crate) fn acquire_lease(
    conn: &Connection,
    name: &str,
    holder: &str,
    ttl: chrono::Duration,
    now: DateTime<Utc>,
) -> Result<Result<Lease, Lease>, StoreError> {
    let doing = || format!("taking the lease `{name}`");
    let current: Option<(String, i64, i64)> = conn
        .prepare_cached(sql::SELECT_LEASE)
        .and_then(|mut stmt| {
            stmt.query_row(params![name], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })
            .optional()
        })
        .map_err(|e| map(e, &doing()))?;
    let expires = now + ttl;
    let lease = |holder: &str, token: i64, expires_ms: i64| Lease {
        name: name.to_owned(),
        holder: holder.to_owned(),
        token: u64::try_from(token).unwrap_or(0),
        expires_at: DateTime::from_timestamp_millis(expires_ms).unwrap_or(now),
    };
    let token = match current {
        None => 1,
        Some((current, token, _)) if current == holder => token,
        Some((_, token, expires_ms)) if expires_ms <= now.timestamp_millis() => token + 1,
        Some((current, token, expires_ms)) => return Ok(Err(lease(&current, token, expires_ms))),
    };
    conn.prepare_cached(sql::UPSERT_LEASE)
        .and_then(|mut stmt| stmt.execute(params![name, holder, token, expires.timestamp_millis()]))
        .map_err(|e| map(e, &doing()))?;
    Ok(Ok(lease(holder, token, expires.timestamp_millis())))
}

/// Ends `holder`'s lease now, if it holds it.
pub(crate) fn release_lease(
    conn: &Connection,
    name: &str,
    holder: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    conn.prepare_cached(sql::RELEASE_LEASE)
        .and_then(|mut stmt| stmt.execute(params![name, holder, now.timestamp_millis()]))
        .map_err(|e| map(e, &format!("releasing the lease `{name}`")))?;
    Ok(())
}

fn exists(conn: &Connection, key: &ObjectKey) -> Result<bool, StoreError> {
    let mut stmt = conn
        .prepare_cached(sql::OBJECT_EXISTS)
        .map_err(|e| map(e, &format!("looking up {key}")))?;
    stmt.exists(params![key.kind.name(), key.namespace, key.name])
        .map_err(|e| map(e, &format!("looking up {key}")))
}

fn next_resource_version(conn: &Connection) -> Result<u64, StoreError> {
    let doing = "taking the next resource version";
    let mut stmt = conn
        .prepare_cached(sql::NEXT_RESOURCE_VERSION)
        .map_err(|e| map(e, doing))?;
    let value: Option<i64> = stmt
        .query_row([], |row| row.get(0))
        .optional()
        .map_err(|e| map(e, doing))?;
    match value {
        Some(v) => u64::try_from(v).map_err(|_| StoreError::Corrupt {
            what: format!("the resource version counter is negative ({v})"),
        }),
        None => Err(StoreError::Corrupt {
            what: "the resource version counter row is missing from table `counters`".to_owned(),
        }),
    }
}

fn to_i64(n: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| StoreError::Internal {
        reason: format!("{what} {n} does not fit SQLite's INTEGER"),
    })
}

fn insert(conn: &Connection, o: &StoredObject, body: &EncodedBody) -> Result<(), StoreError> {
    let key = o.key();
    let doing = || format!("inserting {key}");
    let mut stmt = conn
        .prepare_cached(sql::INSERT_OBJECT)
        .map_err(|e| map(e, &doing()))?;
    stmt.execute(params![
        o.kind.name(),
        o.namespace,
        o.name,
        o.uid,
        to_i64(o.resource_version, "resource version")?,
        to_i64(o.generation(), "generation")?,
        rules::format_timestamp(&o.created_at),
        body.bytes,
        body.sealed,
    ])
    .map_err(|e| map(e, &doing()))?;
    Ok(())
}

fn update(conn: &Connection, o: &StoredObject, body: &EncodedBody) -> Result<(), StoreError> {
    let key = o.key();
    let doing = || format!("updating {key}");
    let mut stmt = conn
        .prepare_cached(sql::UPDATE_OBJECT)
        .map_err(|e| map(e, &doing()))?;
    let changed = stmt
        .execute(params![
            o.kind.name(),
            o.namespace,
            o.name,
            to_i64(o.resource_version, "resource version")?,
            to_i64(o.generation(), "generation")?,
            body.bytes,
            body.sealed,
        ])
        .map_err(|e| map(e, &doing()))?;
    if changed != 1 {
        return Err(StoreError::Internal {
            reason: format!("updating {key} changed {changed} rows, not 1"),
        });
    }
    Ok(())
}

/// Applies puts in order inside the caller's transaction; stops at the first failure (the
/// caller rolls the savepoint back).
pub(crate) fn put_all(
    conn: &Connection,
    sealer: &SecretSealer,
    reqs: Vec<PutRequest>,
) -> Result<Vec<PutOutcome>, StoreError> {
    reqs.into_iter().map(|r| put_one(conn, sealer, r)).collect()
}

fn put_one(
    conn: &Connection,
    sealer: &SecretSealer,
    req: PutRequest,
) -> Result<PutOutcome, StoreError> {
    let key = rules::resolve_key(&req, |k| exists(conn, k))?;
    let current = get(conn, sealer, &key)?;
    match rules::plan_put(&key, current, req.body, req.precondition)? {
        PutPlan::Unchanged(o) => Ok(PutOutcome::Unchanged(o)),
        PutPlan::Create { body } => {
            let object = rules::created(&key, body, next_resource_version(conn)?);
            insert(conn, &object, &rules::encode_body(sealer, &object)?)?;
            Ok(PutOutcome::Created(object))
        }
        PutPlan::Update { current, body } => {
            let object = rules::updated(&current, body, next_resource_version(conn)?);
            update(conn, &object, &rules::encode_body(sealer, &object)?)?;
            Ok(PutOutcome::Configured(object))
        }
    }
}

/// Writes a status and its step logs inside the caller's transaction; every status write
/// takes a resource version.
///
/// The stored body is decoded with the new status already in place of the old (which is
/// never built), encoded once, and written back; the logs are bound from the update as they
/// are and dropped with it when the job ends.
pub(crate) fn put_status(
    conn: &Connection,
    sealer: &SecretSealer,
    StatusUpdate {
        key,
        status,
        precondition,
        logs,
    }: StatusUpdate,
    fence: Option<&Fence>,
) -> Result<StoredObject, StoreError> {
    rules::validate_key(&key)?;
    if let Some(fence) = fence {
        let current: Option<i64> = conn
            .prepare_cached(sql::SELECT_LEASE_TOKEN)
            .and_then(|mut stmt| {
                stmt.query_row(params![fence.lease], |row| row.get(0))
                    .optional()
            })
            .map_err(|e| map(e, &format!("checking the `{}` lease", fence.lease)))?;
        fence.check(&key, current.and_then(|t| u64::try_from(t).ok()))?;
    }
    let current = get_raw(conn, &key)?
        .map(|raw| {
            decode_with(raw, |key, bytes, sealed| {
                rules::decode_body_with_status(sealer, key, bytes, sealed, status)
            })
        })
        .transpose()?;
    let current = rules::check_status_precondition(&key, current, precondition)?;
    let object = rules::status_written(current, next_resource_version(conn)?);
    update(conn, &object, &rules::encode_body(sealer, &object)?)?;
    if logs.is_empty() {
        return Ok(object);
    }
    let mut stmt = conn
        .prepare_cached(sql::UPSERT_STEP_LOG)
        .map_err(|e| map(e, &format!("writing the step logs of {key}")))?;
    for log in &logs {
        stmt.execute(params![object.uid, log.step, log.text])
            .map_err(|e| {
                map(
                    e,
                    &format!("writing the log of step `{}` of {key}", log.step),
                )
            })?;
    }
    Ok(object)
}

/// Deletes inside the caller's transaction; every delete of an existing object takes a
/// resource version. The object's step logs go with it (`ON DELETE CASCADE`).
pub(crate) fn delete(
    conn: &Connection,
    sealer: &SecretSealer,
    key: &ObjectKey,
    precondition: Precondition,
) -> Result<Option<StoredObject>, StoreError> {
    rules::validate_key(key)?;
    let current = get(conn, sealer, key)?;
    rules::check_delete_precondition(key, current.as_ref(), precondition)?;
    let Some(current) = current else {
        return Ok(None);
    };
    let mut stmt = conn
        .prepare_cached(sql::DELETE_OBJECT)
        .map_err(|e| map(e, &format!("deleting {key}")))?;
    stmt.execute(params![key.kind.name(), key.namespace, key.name])
        .map_err(|e| map(e, &format!("deleting {key}")))?;
    next_resource_version(conn)?;
    Ok(Some(current))
}
