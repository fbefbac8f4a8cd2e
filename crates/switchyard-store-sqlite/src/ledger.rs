//! The [`EventLedger`] port on the same database: its writes are writer jobs (so they share
//! the group commit and the savepoint-per-job rules), its reads go through the reader pool.

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::Value as Json;
use switchyard_store::StoreError;
use switchyard_store::ledger::{
    Consumed, Consumption, EventLedger, EventQuery, EventRecord, Firing, FiringStatus, SensorId,
    Settlement,
};

use crate::errors::map;
use crate::writer::{Op, Output};
use crate::{SqliteStore, sql, unexpected};

/// A ledger mutation for the writer.
pub(crate) enum LedgerOp {
    PutState(SensorId, Json),
    Consume(Box<Consumption>),
    Settle(String, Settlement),
    Forget(SensorId),
}

/// Times as stored: RFC 3339, UTC, microseconds, so that text order is time order.
fn time_text(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn parse_time(text: &str, what: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt {
            what: format!("{what}: stored time `{text}` is not RFC 3339: {e}"),
        })
}

fn parse_json(text: &str, what: &str) -> Result<Json, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        what: format!("{what}: stored JSON cannot be read: {e}"),
    })
}

fn json_text(value: &Json) -> String {
    // Serializing a `Value` cannot fail.
    serde_json::to_string(value).unwrap_or_default()
}

/// Runs a ledger mutation inside the writer's savepoint.
pub(crate) fn run(conn: &Connection, op: LedgerOp) -> Result<Output, StoreError> {
    match op {
        LedgerOp::PutState(sensor, state) => {
            put_state(conn, &sensor, &state)?;
            Ok(Output::Done)
        }
        LedgerOp::Consume(consumption) => consume(conn, &consumption).map(Output::Consumed),
        LedgerOp::Settle(key, settlement) => {
            settle(conn, &key, &settlement)?;
            Ok(Output::Done)
        }
        LedgerOp::Forget(sensor) => {
            let doing = format!("forgetting {sensor}");
            conn.execute(sql::DELETE_SENSOR_STATE, params![sensor.uid])
                .map_err(|e| map(e, &doing))?;
            conn.execute(sql::DELETE_CONSUMPTIONS, params![sensor.uid])
                .map_err(|e| map(e, &doing))?;
            Ok(Output::Done)
        }
    }
}

fn put_state(conn: &Connection, sensor: &SensorId, state: &Json) -> Result<(), StoreError> {
    conn.execute(
        sql::UPSERT_SENSOR_STATE,
        params![sensor.uid, sensor.namespace, sensor.name, json_text(state)],
    )
    .map_err(|e| map(e, &format!("writing the state of {sensor}")))?;
    Ok(())
}

fn consume(conn: &Connection, c: &Consumption) -> Result<Consumed, StoreError> {
    let doing = format!("recording event {} for {}", c.event_id, c.sensor);
    let inserted = conn
        .execute(
            sql::INSERT_CONSUMPTION,
            params![
                c.sensor.uid,
                c.sensor.namespace,
                c.sensor.name,
                c.event_key,
                c.event_id,
                c.event_source,
                c.event_name,
                time_text(c.at),
                json_text(&c.outcome),
            ],
        )
        .map_err(|e| map(e, &doing))?;
    if inserted == 0 {
        return Ok(Consumed::Before);
    }
    let seq = conn.last_insert_rowid();
    put_state(conn, &c.sensor, &c.state)?;
    for firing in &c.firings {
        conn.execute(
            sql::INSERT_FIRING,
            params![
                firing.key,
                seq,
                c.sensor.namespace,
                c.sensor.name,
                c.sensor.uid,
                firing.trigger,
                json_text(&firing.payload),
                time_text(c.at),
            ],
        )
        .map_err(|e| map(e, &doing))?;
    }
    Ok(Consumed::Now)
}

fn settle(conn: &Connection, key: &str, settlement: &Settlement) -> Result<(), StoreError> {
    let doing = format!("settling firing {key}");
    match settlement {
        Settlement::Done { detail } => conn.execute(
            sql::SETTLE_FIRING,
            params![key, FiringStatus::Done.as_str(), detail],
        ),
        Settlement::Dead { reason } => conn.execute(
            sql::SETTLE_FIRING,
            params![key, FiringStatus::Dead.as_str(), reason],
        ),
        Settlement::Retry { not_before, error } => conn.execute(
            sql::RETRY_FIRING,
            params![key, time_text(*not_before), error],
        ),
    }
    .map_err(|e| map(e, &doing))?;
    Ok(())
}

/// The raw columns of a firing row (see `sql::firing_columns!`).
struct RawFiring {
    key: String,
    namespace: String,
    sensor: String,
    sensor_uid: String,
    trigger: String,
    payload: String,
    status: String,
    attempts: i64,
    created_at: String,
    not_before: String,
    detail: String,
}

fn raw_firing(row: &Row<'_>) -> rusqlite::Result<RawFiring> {
    Ok(RawFiring {
        key: row.get(0)?,
        namespace: row.get(1)?,
        sensor: row.get(2)?,
        sensor_uid: row.get(3)?,
        trigger: row.get(4)?,
        payload: row.get(5)?,
        status: row.get(6)?,
        attempts: row.get(7)?,
        created_at: row.get(8)?,
        not_before: row.get(9)?,
        detail: row.get(10)?,
    })
}

fn firing(raw: RawFiring) -> Result<Firing, StoreError> {
    let what = format!("firing {}", raw.key);
    let status = FiringStatus::parse(&raw.status).ok_or_else(|| StoreError::Corrupt {
        what: format!("{what}: unknown status `{}`", raw.status),
    })?;
    Ok(Firing {
        payload: parse_json(&raw.payload, &what)?,
        status,
        attempts: u32::try_from(raw.attempts).unwrap_or(u32::MAX),
        created_at: parse_time(&raw.created_at, &what)?,
        not_before: parse_time(&raw.not_before, &what)?,
        sensor: SensorId {
            namespace: raw.namespace,
            name: raw.sensor,
            uid: raw.sensor_uid,
        },
        key: raw.key,
        trigger: raw.trigger,
        detail: raw.detail,
    })
}

fn query_firings(
    conn: &Connection,
    statement: &str,
    params: impl rusqlite::Params,
    doing: &str,
) -> Result<Vec<Firing>, StoreError> {
    let mut stmt = conn.prepare_cached(statement).map_err(|e| map(e, doing))?;
    let rows = stmt
        .query_map(params, raw_firing)
        .map_err(|e| map(e, doing))?;
    let mut out = Vec::new();
    for row in rows {
        out.push(firing(row.map_err(|e| map(e, doing))?)?);
    }
    Ok(out)
}

fn recent(conn: &Connection, query: &EventQuery) -> Result<Vec<EventRecord>, StoreError> {
    let doing = "listing recent events";
    let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
    let mut stmt = conn
        .prepare_cached(sql::RECENT_CONSUMPTIONS)
        .map_err(|e| map(e, doing))?;
    type RawRecord = (
        i64,
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        String,
    );
    let rows: Vec<RawRecord> = stmt
        .query_map(
            params![
                query.namespace,
                query.event_source,
                query.sensor,
                limit,
                query.event_id
            ],
            |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                    row.get(5)?,
                    row.get(6)?,
                    row.get(7)?,
                    row.get(8)?,
                ))
            },
        )
        .map_err(|e| map(e, doing))?
        .collect::<Result<_, _>>()
        .map_err(|e| map(e, doing))?;
    let mut out = Vec::with_capacity(rows.len());
    for (seq, namespace, sensor, uid, event_id, event_source, event_name, at, outcome) in rows {
        let what = format!("event {event_id} of sensor {namespace}/{sensor}");
        out.push(EventRecord {
            firings: query_firings(conn, sql::FIRINGS_OF_CONSUMPTION, params![seq], doing)?,
            sensor: SensorId {
                namespace,
                name: sensor,
                uid,
            },
            at: parse_time(&at, &what)?,
            outcome: parse_json(&outcome, &what)?,
            event_id,
            event_source,
            event_name,
        });
    }
    Ok(out)
}

#[async_trait]
impl EventLedger for SqliteStore {
    async fn sensor_state(&self, sensor: &SensorId) -> Result<Option<Json>, StoreError> {
        let sensor = sensor.clone();
        self.readers
            .run(move |conn, _| {
                let doing = format!("reading the state of {sensor}");
                let text: Option<String> = conn
                    .query_row(sql::SELECT_SENSOR_STATE, params![sensor.uid], |row| {
                        row.get(0)
                    })
                    .optional()
                    .map_err(|e| map(e, &doing))?;
                text.map(|t| parse_json(&t, &doing)).transpose()
            })
            .await
    }

    async fn put_sensor_state(&self, sensor: &SensorId, state: Json) -> Result<(), StoreError> {
        match self
            .write(Op::Ledger(LedgerOp::PutState(sensor.clone(), state)))
            .await?
        {
            Output::Done => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    async fn consume(&self, consumption: Consumption) -> Result<Consumed, StoreError> {
        match self
            .write(Op::Ledger(LedgerOp::Consume(Box::new(consumption))))
            .await?
        {
            Output::Consumed(consumed) => Ok(consumed),
            other => Err(unexpected(other)),
        }
    }

    async fn due_firings(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Firing>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.readers
            .run(move |conn, _| {
                query_firings(
                    conn,
                    sql::DUE_FIRINGS,
                    params![time_text(now), limit],
                    "listing due firings",
                )
            })
            .await
    }

    async fn settle_firing(&self, key: &str, settlement: Settlement) -> Result<(), StoreError> {
        match self
            .write(Op::Ledger(LedgerOp::Settle(key.to_owned(), settlement)))
            .await?
        {
            Output::Done => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    async fn recent_events(&self, query: &EventQuery) -> Result<Vec<EventRecord>, StoreError> {
        let query = query.clone();
        self.readers.run(move |conn, _| recent(conn, &query)).await
    }

    async fn forget_sensor(&self, sensor: &SensorId) -> Result<(), StoreError> {
        match self
            .write(Op::Ledger(LedgerOp::Forget(sensor.clone())))
            .await?
        {
            Output::Done => Ok(()),
            other => Err(unexpected(other)),
        }
    }
}
