//! Bringing the store's schema up to date when a store connects.
//!
//! Several processes may start at once against one schema, so migrating is one transaction
//! that first takes a transaction-scoped advisory lock keyed by the schema: the first process
//! creates the schema and applies every pending step, the others wait for it and then find
//! nothing to do. Each step is recorded in the schema's `migrations` table with the step, so
//! a failure midway leaves the schema as it was. A schema that records a step this build
//! does not know was written by a newer Switchyard and is refused rather than guessed at.

use deadpool_postgres::Transaction;
use switchyard_store::StoreError;

use crate::errors::Failure;
use crate::pool::{column, execute, query, query_opt};
use crate::sql::{self, MIGRATIONS};

/// Oldest server this store runs on (`server_version_num`): identity columns need 10.
const MIN_SERVER_VERSION: i32 = 100_000;

/// Checks the server, then applies every pending migration inside the caller's transaction;
/// returns how many were applied. `server` names the store in messages.
pub(crate) async fn migrate(
    tx: &Transaction<'_>,
    schema: &str,
    server: &str,
) -> Result<usize, Failure> {
    check_server(tx, server).await?;
    let doing = format!("migrating {server}");
    query_opt(
        tx,
        sql::LOCK_MIGRATIONS,
        &[&sql::MIGRATION_LOCK_CLASS, &schema],
        &format!("waiting for the migration lock of {server}"),
    )
    .await?;
    // The schema name was checked to be a plain lower-case identifier, so it needs no quoting.
    // Setting the search path again (it is in the connection options) makes the schema
    // current even when this transaction just created it.
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {schema}; SET LOCAL search_path TO {schema}; {}",
        sql::CREATE_MIGRATIONS_TABLE
    ))
    .await
    .map_err(|e| crate::errors::map(e, &doing))?;
    let mut applied = Vec::new();
    for row in query(tx, sql::SELECT_MIGRATIONS, &[], &doing).await? {
        applied.push(column::<i64>(&row, 0, &doing)?);
    }
    let known = MIGRATIONS.last().map_or(0, |m| m.version);
    if let Some(&newest) = applied.last()
        && newest > known
    {
        return Err(Failure::from(StoreError::Corrupt {
            what: format!(
                "{server} has schema version {newest}, but this build of Switchyard knows versions up to {known}; \
                 run a newer Switchyard, or restore a backup taken with this version"
            ),
        }));
    }
    let expected: Vec<i64> = (1..=applied.len() as i64).collect();
    if applied != expected {
        return Err(Failure::from(StoreError::Corrupt {
            what: format!(
                "{server} records schema versions {applied:?}; expected 1 to {} without gaps",
                applied.len()
            ),
        }));
    }
    let pending = MIGRATIONS.get(applied.len()..).unwrap_or(&[]);
    for m in pending {
        let doing = format!("applying migration {} ({}) to {server}", m.version, m.name);
        tx.batch_execute(m.sql)
            .await
            .map_err(|e| crate::errors::map(e, &doing))?;
        execute(tx, sql::INSERT_MIGRATION, &[&m.version, &m.name], &doing).await?;
    }
    Ok(pending.len())
}

/// Refuses servers too old for the schema, and databases whose encoding cannot hold every
/// string the platform stores.
async fn check_server(tx: &Transaction<'_>, server: &str) -> Result<(), Failure> {
    let doing = format!("checking the server of {server}");
    let row = query_opt(tx, sql::SERVER_FACTS, &[], &doing)
        .await?
        .ok_or_else(|| {
            Failure::from(StoreError::Internal {
                reason: format!("{doing}: the server answered no row"),
            })
        })?;
    let version: i32 = column(&row, 0, &doing)?;
    let encoding: String = column(&row, 1, &doing)?;
    if version < MIN_SERVER_VERSION {
        return Err(Failure::from(StoreError::invalid(
            server,
            format!(
                "the server runs PostgreSQL {version} (server_version_num); the store needs 10 or newer"
            ),
        )));
    }
    if !encoding.eq_ignore_ascii_case("UTF8") {
        return Err(Failure::from(StoreError::invalid(
            server,
            format!(
                "the database's encoding is {encoding}; the store needs UTF8 (CREATE DATABASE ... ENCODING 'UTF8')"
            ),
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_from_one_without_gaps() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1, "{}", m.name);
        }
    }
}
