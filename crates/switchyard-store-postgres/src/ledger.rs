//! The [`EventLedger`] port on the same database and schema.
//!
//! Every ledger write is ONE statement, so it is its own transaction and costs one round
//! trip: a consumption with its state and firings is a single statement of data-modifying
//! `WITH` clauses (see `sql::CONSUME`). Exactly once rests on the unique
//! `(sensor_uid, event_key)` index, which holds across every process sharing the schema;
//! nothing here needs the resource version lock the object writes take.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value as Json;
use switchyard_store::StoreError;
use switchyard_store::ledger::{
    Consumed, Consumption, EventLedger, EventQuery, EventRecord, Firing, FiringStatus, SensorId,
    Settlement,
};
use tokio_postgres::Row;

use crate::errors::Failure;
use crate::ops::check_text;
use crate::pool::{Call, column, execute, query, query_opt};
use crate::{PostgresStore, sql};

fn parse_json(text: &str, what: &str) -> Result<Json, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        what: format!("{what}: stored JSON cannot be read: {e}"),
    })
}

fn json_text(value: &Json) -> String {
    // Serializing a `Value` cannot fail; its strings' NULs come out escaped (`\u0000`).
    serde_json::to_string(value).unwrap_or_default()
}

/// Text stored as `BYTEA` (see `sql.rs`), read back.
fn utf8(bytes: Vec<u8>, what: &str) -> Result<String, StoreError> {
    String::from_utf8(bytes).map_err(|e| StoreError::Corrupt {
        what: format!("{what}: stored text is not UTF-8: {e}"),
    })
}

fn check_sensor(sensor: &SensorId) -> Result<(), StoreError> {
    check_text(&sensor.namespace, "the namespace", sensor)?;
    check_text(&sensor.name, "the name", sensor)?;
    check_text(&sensor.uid, "the uid", sensor)
}

/// Reads the firing columns (see `sql::firing_columns!`) starting at column `at`.
fn firing(row: &Row, at: usize, doing: &str) -> Result<Firing, Failure> {
    let key: String = column(row, at, doing)?;
    let what = format!("firing {key}");
    let status: String = column(row, at + 6, doing)?;
    let status = FiringStatus::parse(&status).ok_or_else(|| StoreError::Corrupt {
        what: format!("{what}: unknown status `{status}`"),
    })?;
    let payload: String = column(row, at + 5, doing)?;
    let attempts: i32 = column(row, at + 7, doing)?;
    Ok(Firing {
        sensor: SensorId {
            namespace: column(row, at + 1, doing)?,
            name: column(row, at + 2, doing)?,
            uid: column(row, at + 3, doing)?,
        },
        trigger: column(row, at + 4, doing)?,
        payload: parse_json(&payload, &what)?,
        status,
        attempts: u32::try_from(attempts).unwrap_or(0),
        created_at: column(row, at + 8, doing)?,
        not_before: column(row, at + 9, doing)?,
        detail: utf8(column(row, at + 10, doing)?, &what)?,
        key,
    })
}

/// Groups the rows of `sql::RECENT_EVENTS` (one per firing, consumptions newest first) into
/// records.
fn records(rows: &[Row], doing: &str) -> Result<Vec<EventRecord>, Failure> {
    let mut out: Vec<EventRecord> = Vec::new();
    let mut last_seq = None;
    for row in rows {
        let seq: i64 = column(row, 0, doing)?;
        if last_seq != Some(seq) {
            last_seq = Some(seq);
            let namespace: String = column(row, 1, doing)?;
            let sensor: String = column(row, 2, doing)?;
            let what = format!("event {seq} of sensor {namespace}/{sensor}");
            let outcome: String = column(row, 8, doing)?;
            out.push(EventRecord {
                event_id: utf8(column(row, 4, doing)?, &what)?,
                event_source: utf8(column(row, 5, doing)?, &what)?,
                event_name: utf8(column(row, 6, doing)?, &what)?,
                at: column(row, 7, doing)?,
                outcome: parse_json(&outcome, &what)?,
                sensor: SensorId {
                    uid: column(row, 3, doing)?,
                    namespace,
                    name: sensor,
                },
                firings: Vec::new(),
            });
        }
        // The LEFT JOIN's NULL firing of a consumption that completed none.
        let key: Option<String> = column(row, 9, doing)?;
        if key.is_some()
            && let Some(record) = out.last_mut()
        {
            record.firings.push(firing(row, 9, doing)?);
        }
    }
    Ok(out)
}

#[async_trait]
impl EventLedger for PostgresStore {
    async fn sensor_state(&self, sensor: &SensorId) -> Result<Option<Json>, StoreError> {
        if sensor.uid.contains('\0') {
            return Ok(None);
        }
        let doing = &format!("reading the state of {sensor}");
        self.pool
            .run(Call::Read, doing, move |c, _| {
                Box::pin(async move {
                    let Some(row) =
                        query_opt(c, sql::SELECT_SENSOR_STATE, &[&sensor.uid], doing).await?
                    else {
                        return Ok(None);
                    };
                    let text: String = column(&row, 0, doing)?;
                    Ok(Some(parse_json(&text, doing)?))
                })
            })
            .await
    }

    async fn put_sensor_state(&self, sensor: &SensorId, state: Json) -> Result<(), StoreError> {
        check_sensor(sensor)?;
        let doing = &format!("writing the state of {sensor}");
        let state = &json_text(&state);
        self.pool
            .run(Call::Write, doing, move |c, _| {
                Box::pin(async move {
                    execute(
                        c,
                        sql::UPSERT_SENSOR_STATE,
                        &[&sensor.uid, &sensor.namespace, &sensor.name, state],
                        doing,
                    )
                    .await?;
                    Ok(())
                })
            })
            .await
    }

    async fn consume(&self, c: Consumption) -> Result<Consumed, StoreError> {
        check_sensor(&c.sensor)?;
        let doing = &format!("recording event {} for {}", c.event_id, c.sensor);
        let mut keys = Vec::with_capacity(c.firings.len());
        let mut triggers = Vec::with_capacity(c.firings.len());
        let mut payloads = Vec::with_capacity(c.firings.len());
        for f in &c.firings {
            let firing = format!("firing {} of {}", f.key.escape_debug(), c.sensor);
            check_text(&f.key, "the key", &firing)?;
            check_text(&f.trigger, "the trigger", &firing)?;
            keys.push(f.key.as_str());
            triggers.push(f.trigger.as_str());
            payloads.push(json_text(&f.payload));
        }
        let (state, outcome) = (&json_text(&c.state), &json_text(&c.outcome));
        let (keys, triggers, payloads, c) = (&keys, &triggers, &payloads, &c);
        let consumed = self
            .pool
            .run(Call::Write, doing, move |client, _| {
                Box::pin(async move {
                    let row = query_opt(
                        client,
                        sql::CONSUME,
                        &[
                            &c.sensor.uid,
                            &c.sensor.namespace,
                            &c.sensor.name,
                            &c.event_key.as_bytes(),
                            &c.event_id.as_bytes(),
                            &c.event_source.as_bytes(),
                            &c.event_name.as_bytes(),
                            &c.at,
                            outcome,
                            state,
                            keys,
                            triggers,
                            payloads,
                        ],
                        doing,
                    )
                    .await?;
                    Ok(row.is_some())
                })
            })
            .await?;
        Ok(if consumed {
            Consumed::Now
        } else {
            Consumed::Before
        })
    }

    async fn due_firings(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Firing>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let doing = "listing due firings";
        self.pool
            .run(Call::Read, doing, move |c, _| {
                Box::pin(async move {
                    let rows = query(c, sql::DUE_FIRINGS, &[&now, &limit], doing).await?;
                    rows.iter().map(|row| firing(row, 0, doing)).collect()
                })
            })
            .await
    }

    async fn settle_firing(&self, key: &str, settlement: Settlement) -> Result<(), StoreError> {
        if key.contains('\0') {
            // No firing of that key can have been stored; settling an unknown firing is Ok.
            return Ok(());
        }
        let (doing, settlement) = (&format!("settling firing {key}"), &settlement);
        self.pool
            .run(Call::Write, doing, move |c, _| {
                Box::pin(async move {
                    match settlement {
                        Settlement::Done { detail } => {
                            execute(
                                c,
                                sql::SETTLE_FIRING,
                                &[&key, &FiringStatus::Done.as_str(), &detail.as_bytes()],
                                doing,
                            )
                            .await?
                        }
                        Settlement::Dead { reason } => {
                            execute(
                                c,
                                sql::SETTLE_FIRING,
                                &[&key, &FiringStatus::Dead.as_str(), &reason.as_bytes()],
                                doing,
                            )
                            .await?
                        }
                        Settlement::Retry { not_before, error } => {
                            execute(
                                c,
                                sql::RETRY_FIRING,
                                &[&key, not_before, &error.as_bytes()],
                                doing,
                            )
                            .await?
                        }
                    };
                    Ok(())
                })
            })
            .await
    }

    async fn recent_events(&self, query_: &EventQuery) -> Result<Vec<EventRecord>, StoreError> {
        let filters = [
            ("the namespace filter", &query_.namespace),
            ("the sensor filter", &query_.sensor),
        ];
        for (what, value) in filters {
            if let Some(value) = value {
                check_text(value, what, &"the recent events query")?;
            }
        }
        let limit = i64::try_from(query_.limit).unwrap_or(i64::MAX);
        let source = query_.event_source.as_deref().map(str::as_bytes);
        let event_id = query_.event_id.as_deref().map(str::as_bytes);
        let doing = "listing recent events";
        self.pool
            .run(Call::Read, doing, move |c, _| {
                Box::pin(async move {
                    let rows = query(
                        c,
                        sql::RECENT_EVENTS,
                        &[
                            &query_.namespace,
                            &source,
                            &query_.sensor,
                            &limit,
                            &event_id,
                        ],
                        doing,
                    )
                    .await?;
                    records(&rows, doing)
                })
            })
            .await
    }

    async fn forget_sensor(&self, sensor: &SensorId) -> Result<(), StoreError> {
        if sensor.uid.contains('\0') {
            return Ok(());
        }
        let doing = &format!("forgetting {sensor}");
        self.pool
            .run(Call::Write, doing, move |c, _| {
                Box::pin(async move {
                    execute(c, sql::FORGET_SENSOR, &[&sensor.uid], doing).await?;
                    Ok(())
                })
            })
            .await
    }
}
