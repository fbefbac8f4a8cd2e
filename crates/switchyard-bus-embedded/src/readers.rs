//! Reading: a small pool of read-only connections used on tokio's blocking threads, and the
//! queries that run on them (filtered scans, single messages, consumers, stream info).
//!
//! WAL lets readers run while the writer writes; each statement sees the latest commit.
//! Connections are opened on demand and at most [`MAX_IDLE`] are kept; one that failed with
//! an I/O-class error is dropped rather than reused. After [`Readers::close`] every read
//! fails with [`BusError::Closed`].

use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use switchyard_bus::{BusError, BusInfo, Headers, Message, Subject, SubjectFilter};

use crate::errors::map;
use crate::{schema, sql};

/// Idle read connections kept open.
pub(crate) const MAX_IDLE: usize = 4;

pub(crate) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    closed: AtomicBool,
}

impl Readers {
    pub(crate) fn new(path: PathBuf) -> Self {
        Readers {
            path,
            idle: Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
        }
    }

    /// Runs `read` on a pooled connection on a blocking thread.
    pub(crate) async fn run<T, F>(self: &Arc<Self>, read: F) -> Result<T, BusError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, BusError> + Send + 'static,
    {
        if self.closed.load(Ordering::Acquire) {
            return Err(BusError::Closed);
        }
        let this = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let conn = this.checkout()?;
            let result = read(&conn);
            if !matches!(result, Err(BusError::Unavailable { .. })) {
                this.checkin(conn);
            }
            result
        })
        .await
        .map_err(|e| BusError::Internal {
            reason: format!("a read task failed: {e}"),
        })?
    }

    /// Closes the idle connections; later reads fail with `Closed`.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    fn checkout(&self) -> Result<Connection, BusError> {
        let pooled = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        match pooled {
            Some(conn) => Ok(conn),
            None => schema::open_reader(&self.path),
        }
    }

    fn checkin(&self, conn: Connection) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }
}

// ---- filtered scans ------------------------------------------------------------------------

/// A set of subject filters as a scan: SQL that narrows by each filter's literal prefix
/// (a range on `subject`, or equality for a literal filter), and the exact match in Rust.
#[derive(Debug, Clone)]
pub(crate) struct FilterQuery {
    filters: Vec<SubjectFilter>,
    sql: String,
    params: Vec<String>,
}

impl FilterQuery {
    pub(crate) fn new(filters: &[SubjectFilter]) -> Self {
        let mut conditions = Vec::new();
        let mut params = Vec::new();
        let mut everything = filters.is_empty();
        for filter in filters {
            let prefix = filter.literal_prefix();
            if filter.is_literal() {
                params.push(prefix.to_owned());
                conditions.push(format!("subject = ?{}", params.len() + 3));
            } else if prefix.is_empty() {
                // The first token is a wildcard: no range narrows it.
                everything = true;
                break;
            } else {
                // Subjects under `a.b.` sort between `a.b.` and `a.b/` (`/` follows `.`).
                params.push(format!("{prefix}."));
                params.push(format!("{prefix}/"));
                let n = params.len() + 3;
                conditions.push(format!("(subject >= ?{} AND subject < ?{n})", n - 1));
            }
        }
        let mut sql = sql::SCAN_MESSAGES.to_owned();
        if everything {
            params.clear();
        } else {
            sql.push_str(" AND (");
            sql.push_str(&conditions.join(" OR "));
            sql.push(')');
        }
        sql.push_str(" ORDER BY seq LIMIT ?3");
        FilterQuery {
            filters: filters.to_vec(),
            sql,
            params,
        }
    }

    pub(crate) fn filters(&self) -> &[SubjectFilter] {
        &self.filters
    }

    pub(crate) fn matches(&self, subject: &str) -> bool {
        self.filters.iter().any(|f| f.matches_str(subject))
    }
}

/// What a scan found, and how far it looked.
#[derive(Debug)]
pub(crate) struct Scanned {
    pub messages: Vec<Message>,
    /// Every message up to here was looked at: the next scan starts after it.
    pub scanned_to: u64,
}

/// Matching messages with `after < seq <= upto`, in order: at most `max_count`, and no more
/// than `max_bytes` of payload unless a single message is larger.
pub(crate) fn scan(
    conn: &Connection,
    query: &FilterQuery,
    after: u64,
    upto: u64,
    max_count: usize,
    max_bytes: usize,
) -> Result<Scanned, BusError> {
    const DOING: &str = "scanning messages";
    if after >= upto || max_count == 0 {
        return Ok(Scanned {
            messages: Vec::new(),
            scanned_to: after,
        });
    }
    let mut stmt = conn.prepare_cached(&query.sql).map_err(|e| map(e, DOING))?;
    let mut values: Vec<Value> = vec![
        Value::Integer(to_i64(after)),
        Value::Integer(to_i64(upto)),
        Value::Integer(to_i64(max_count as u64)),
    ];
    values.extend(query.params.iter().cloned().map(Value::Text));
    let mut rows = stmt
        .query(rusqlite::params_from_iter(values))
        .map_err(|e| map(e, DOING))?;
    let mut messages = Vec::new();
    let mut bytes = 0;
    let mut seen = 0;
    let mut last = after;
    while let Some(row) = rows.next().map_err(|e| map(e, DOING))? {
        seen += 1;
        let seq = seq_at(row, 0)?;
        let subject: String = row.get(2).map_err(|e| map(e, DOING))?;
        if query.matches(&subject) {
            let message = read_message(row)?;
            if !messages.is_empty() && bytes + message.payload.len() > max_bytes {
                // Keep the rest for the next scan; this one has not been taken.
                return Ok(Scanned {
                    messages,
                    scanned_to: seq - 1,
                });
            }
            bytes += message.payload.len();
            messages.push(message);
        }
        last = seq;
    }
    // Fewer rows than the limit: nothing else up to `upto` can match.
    let scanned_to = if seen < max_count { upto } else { last };
    Ok(Scanned {
        messages,
        scanned_to,
    })
}

/// One message by sequence, if it is still retained.
pub(crate) fn message(conn: &Connection, seq: u64) -> Result<Option<Message>, BusError> {
    let mut stmt = conn
        .prepare_cached(sql::SELECT_MESSAGE)
        .map_err(|e| map(e, "reading a message"))?;
    let mut rows = stmt
        .query(params![to_i64(seq)])
        .map_err(|e| map(e, "reading a message"))?;
    match rows.next().map_err(|e| map(e, "reading a message"))? {
        Some(row) => read_message(row).map(Some),
        None => Ok(None),
    }
}

/// Decodes a row selected with `message_columns!`.
fn read_message(row: &Row<'_>) -> Result<Message, BusError> {
    const DOING: &str = "reading a message";
    let seq = seq_at(row, 0)?;
    let published: i64 = row.get(1).map_err(|e| map(e, DOING))?;
    let subject: String = row.get(2).map_err(|e| map(e, DOING))?;
    let dedup_id: Option<String> = row.get(3).map_err(|e| map(e, DOING))?;
    let headers: Option<String> = row.get(4).map_err(|e| map(e, DOING))?;
    let payload: Vec<u8> = row.get(5).map_err(|e| map(e, DOING))?;
    let subject = Subject::new(subject).map_err(|e| BusError::Corrupt {
        what: format!("message {seq} has a bad subject: {e}"),
    })?;
    let headers = match headers {
        None => Headers::new(),
        Some(text) => serde_json::from_str(&text).map_err(|e| BusError::Corrupt {
            what: format!("message {seq} has unreadable headers: {e}"),
        })?,
    };
    Ok(Message {
        seq,
        subject,
        published_at: from_nanos(published),
        dedup_id,
        headers,
        payload,
    })
}

fn seq_at(row: &Row<'_>, column: usize) -> Result<u64, BusError> {
    let seq: i64 = row.get(column).map_err(|e| map(e, "reading a sequence"))?;
    u64::try_from(seq).map_err(|_| BusError::Corrupt {
        what: format!("a negative sequence ({seq}) is stored"),
    })
}

// ---- stream and consumers ------------------------------------------------------------------

/// Which sequences are retained: one statement, so one consistent snapshot.
pub(crate) fn info(conn: &Connection) -> Result<BusInfo, BusError> {
    const INFO: &str =
        "SELECT (SELECT last_seq FROM stream WHERE id = 1), (SELECT min(seq) FROM messages)";
    let (last, first): (i64, Option<i64>) = conn
        .query_row(INFO, [], |row| Ok((row.get(0)?, row.get(1)?)))
        .map_err(|e| map(e, "reading the stream state"))?;
    let last = u64::try_from(last).unwrap_or(0);
    let first = first.and_then(|f| u64::try_from(f).ok());
    Ok(match first {
        Some(first) => BusInfo {
            messages: last.saturating_sub(first) + 1,
            first_seq: first,
            last_seq: last,
        },
        None => BusInfo {
            messages: 0,
            first_seq: last + 1,
            last_seq: last,
        },
    })
}

/// A durable consumer as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredConsumer {
    pub id: i64,
    pub name: String,
    pub filters: Vec<SubjectFilter>,
    pub ack_wait: Duration,
    pub max_ack_pending: usize,
    pub ack_floor: u64,
    /// Acked sequences above the floor.
    pub acked: Vec<u64>,
}

/// Reads a consumer row (on any connection: the writer uses it too).
pub(crate) fn consumer(conn: &Connection, name: &str) -> Result<Option<StoredConsumer>, BusError> {
    let doing = format!("reading consumer `{name}`");
    let row = conn
        .prepare_cached(sql::SELECT_CONSUMER)
        .and_then(|mut stmt| {
            stmt.query_row(params![name], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, i64>(3)?,
                    row.get::<_, i64>(4)?,
                    row.get::<_, i64>(5)?,
                ))
            })
            .optional()
        })
        .map_err(|e| map(e, &doing))?;
    let Some((id, name, filters, ack_wait_ns, max_ack_pending, ack_floor)) = row else {
        return Ok(None);
    };
    let corrupt = |what: String| BusError::Corrupt {
        what: format!("consumer `{name}` {what}"),
    };
    let filters: Vec<String> = serde_json::from_str(&filters)
        .map_err(|e| corrupt(format!("has unreadable filters: {e}")))?;
    let filters = filters
        .into_iter()
        .map(SubjectFilter::new)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| corrupt(format!("has a bad filter: {e}")))?;
    let ack_floor =
        u64::try_from(ack_floor).map_err(|_| corrupt("has a negative ack floor".into()))?;
    let acked = {
        let mut stmt = conn
            .prepare_cached(sql::SELECT_CONSUMER_ACKS)
            .map_err(|e| map(e, &doing))?;
        let rows = stmt
            .query_map(params![id, to_i64(ack_floor)], |row| row.get::<_, i64>(0))
            .map_err(|e| map(e, &doing))?;
        rows.map(|r| {
            r.map_err(|e| map(e, &doing)).and_then(|seq| {
                u64::try_from(seq).map_err(|_| corrupt("has a negative acked sequence".into()))
            })
        })
        .collect::<Result<Vec<_>, _>>()?
    };
    Ok(Some(StoredConsumer {
        id,
        name: name.clone(),
        filters,
        ack_wait: Duration::from_nanos(u64::try_from(ack_wait_ns).unwrap_or(0)),
        max_ack_pending: usize::try_from(max_ack_pending).unwrap_or(0),
        ack_floor,
        acked,
    }))
}

// ---- conversions ---------------------------------------------------------------------------

/// Sequences and counts are stored as SQLite's signed integers; ours never reach 2^63.
pub(crate) fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(crate) fn from_nanos(nanos: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(nanos)
}

pub(crate) fn encode_filters(filters: &[SubjectFilter]) -> String {
    let list: Vec<&str> = filters.iter().map(SubjectFilter::as_str).collect();
    serde_json::Value::from(list).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(list: &[&str]) -> FilterQuery {
        let filters: Vec<SubjectFilter> = list
            .iter()
            .map(|f| SubjectFilter::new(*f).unwrap())
            .collect();
        FilterQuery::new(&filters)
    }

    #[test]
    fn filters_narrow_by_their_literal_prefix() {
        let q = query(&["a.b", "a.b.>", "x.*.z"]);
        assert!(
            q.sql.ends_with(
                " AND (subject = ?4 OR (subject >= ?5 AND subject < ?6) OR (subject >= ?7 AND subject < ?8)) ORDER BY seq LIMIT ?3"
            ),
            "{}",
            q.sql
        );
        assert_eq!(q.params, vec!["a.b", "a.b.", "a.b/", "x.", "x/"]);
        let all = query(&["a.b", "*.c"]);
        assert!(
            all.sql.ends_with("seq <= ?2 ORDER BY seq LIMIT ?3"),
            "{}",
            all.sql
        );
        assert!(all.params.is_empty());
        assert!(all.matches("a.b") && all.matches("x.c") && !all.matches("a.c.d"));
    }

    #[test]
    fn scans_match_exactly_and_resume_where_they_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bus.db");
        let conn = schema::open_writer(&path).unwrap();
        schema::migrate(&conn, &path, 0).unwrap();
        let subjects = ["a.b", "a.bc", "a.b.c", "a/b", "x.y", "a.b"];
        for (i, s) in subjects.iter().enumerate() {
            conn.execute(
                sql::INSERT_MESSAGE,
                params![
                    i as i64 + 1,
                    0,
                    s,
                    None::<String>,
                    1,
                    None::<String>,
                    vec![i as u8]
                ],
            )
            .unwrap();
        }
        let q = query(&["a.b.>", "a.b"]);
        let got = scan(&conn, &q, 0, 6, 100, 1 << 20).unwrap();
        let seqs: Vec<u64> = got.messages.iter().map(|m| m.seq).collect();
        assert_eq!((seqs, got.scanned_to), (vec![1, 3, 6], 6));
        // A count limit stops at the last row looked at.
        let got = scan(&conn, &q, 0, 6, 2, 1 << 20).unwrap();
        let seqs: Vec<u64> = got.messages.iter().map(|m| m.seq).collect();
        assert_eq!((seqs, got.scanned_to), (vec![1, 3], 3));
        // A byte limit keeps at least one message and resumes before the one it left.
        let got = scan(&conn, &q, 0, 6, 100, 1).unwrap();
        let seqs: Vec<u64> = got.messages.iter().map(|m| m.seq).collect();
        assert_eq!((seqs, got.scanned_to), (vec![1], 2));
        // Nothing matching: the whole range counts as looked at.
        let none = query(&["zzz"]);
        let got = scan(&conn, &none, 0, 6, 100, 1 << 20).unwrap();
        assert_eq!((got.messages.len(), got.scanned_to), (0, 6));
        // The upper bound is respected.
        let got = scan(&conn, &q, 0, 5, 100, 1 << 20).unwrap();
        let seqs: Vec<u64> = got.messages.iter().map(|m| m.seq).collect();
        assert_eq!((seqs, got.scanned_to), (vec![1, 3], 5));
    }
}
