//! Rendering for humans and programs: kubectl-style tables, ages, YAML and JSON, and the
//! one-line summaries. Pure functions from values to text; the commands print them.

use chrono::{DateTime, Utc};
use comfy_table::{ContentArrangement, Table};
use serde::Serialize;
use serde_json::Value;
use switchyard_model::Kind;

use crate::error::CliError;

/// One table column: a header and how to read its cell from an object.
struct Column {
    header: &'static str,
    cell: fn(&Value) -> String,
}

fn text_at(object: &Value, pointer: &str) -> String {
    match object.pointer(pointer) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn count_keys(object: &Value, fields: &[&str]) -> usize {
    fields
        .iter()
        .filter_map(|f| object.get(*f).and_then(Value::as_object))
        .map(serde_json::Map::len)
        .sum()
}

/// A sensor's pending dependencies: `trigger: dep1,dep2` for each trigger waiting, `-` when
/// none is.
fn pending_dependencies(object: &Value) -> String {
    let Some(triggers) = object
        .pointer("/status/pendingDependencies")
        .and_then(Value::as_object)
    else {
        return "-".to_owned();
    };
    let parts: Vec<String> = triggers
        .iter()
        .map(|(trigger, deps)| {
            let names: Vec<&str> = deps
                .as_array()
                .map(|list| {
                    list.iter()
                        .filter_map(|d| d["dependency"].as_str())
                        .collect()
                })
                .unwrap_or_default();
            format!("{trigger}: {}", names.join(","))
        })
        .collect();
    if parts.is_empty() {
        "-".to_owned()
    } else {
        parts.join("; ")
    }
}

/// The kind-specific columns (between NAME and AGE), and those `-o wide` adds after them.
fn kind_columns(kind: Kind, wide: bool) -> Vec<Column> {
    let mut columns = match kind {
        Kind::Workflow => vec![Column {
            header: "STATUS",
            cell: |o| text_at(o, "/status/phase"),
        }],
        Kind::CronWorkflow => vec![
            Column {
                header: "SCHEDULE",
                cell: |o| match o.pointer("/spec/schedules").and_then(Value::as_array) {
                    Some(list) if !list.is_empty() => list
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(","),
                    _ => text_at(o, "/spec/schedule"),
                },
            },
            Column {
                header: "SUSPENDED",
                cell: |o| {
                    o.pointer("/spec/suspend")
                        .and_then(Value::as_bool)
                        .unwrap_or(false)
                        .to_string()
                },
            },
        ],
        Kind::Secret => vec![
            Column {
                header: "TYPE",
                cell: |o| match text_at(o, "/type") {
                    t if t.is_empty() => "Opaque".to_owned(),
                    t => t,
                },
            },
            Column {
                header: "DATA",
                cell: |o| count_keys(o, &["data", "stringData"]).to_string(),
            },
        ],
        Kind::ConfigMap => vec![Column {
            header: "DATA",
            cell: |o| count_keys(o, &["data", "binaryData"]).to_string(),
        }],
        Kind::Offering => vec![
            Column {
                header: "ROUTE",
                cell: |o| text_at(o, "/spec/route"),
            },
            Column {
                header: "EVENT",
                cell: |o| {
                    format!(
                        "{}/{}",
                        text_at(o, "/spec/event/eventSourceName"),
                        text_at(o, "/spec/event/eventName")
                    )
                },
            },
        ],
        Kind::Order => vec![
            Column {
                header: "OFFERING",
                cell: |o| text_at(o, "/spec/offering"),
            },
            Column {
                header: "REQUESTER",
                cell: |o| text_at(o, "/spec/requester"),
            },
        ],
        Kind::Sensor => vec![
            Column {
                header: "STATUS",
                cell: |o| text_at(o, "/status/phase"),
            },
            Column {
                header: "PENDING",
                cell: pending_dependencies,
            },
        ],
        Kind::EventSource => vec![Column {
            header: "STATUS",
            cell: |o| text_at(o, "/status/phase"),
        }],
        _ => Vec::new(),
    };
    if wide {
        match kind {
            Kind::Workflow => columns.push(Column {
                header: "MESSAGE",
                cell: |o| text_at(o, "/status/message"),
            }),
            Kind::CronWorkflow => columns.push(Column {
                header: "TIMEZONE",
                cell: |o| text_at(o, "/spec/timezone"),
            }),
            Kind::Sensor | Kind::EventSource => columns.push(Column {
                header: "EVENTBUS",
                cell: |o| match text_at(o, "/spec/eventBusName") {
                    b if b.is_empty() => "default".to_owned(),
                    b => b,
                },
            }),
            _ => {}
        }
    }
    columns
}

/// A kubectl-style table: no borders, three spaces between columns, no trailing spaces.
/// `NAMESPACE` comes first when `with_namespace` (listing across namespaces).
pub fn table(
    kind: Kind,
    objects: &[Value],
    with_namespace: bool,
    wide: bool,
    now: DateTime<Utc>,
) -> String {
    let extra = kind_columns(kind, wide);
    let mut header: Vec<&str> = Vec::new();
    if with_namespace {
        header.push("NAMESPACE");
    }
    header.push("NAME");
    header.extend(extra.iter().map(|c| c.header));
    header.push("AGE");

    let mut t = Table::new();
    t.load_style(comfy_table::presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .force_no_tty()
        .set_header(header);
    for object in objects {
        let mut row = Vec::new();
        if with_namespace {
            row.push(text_at(object, "/metadata/namespace"));
        }
        row.push(text_at(object, "/metadata/name"));
        row.extend(extra.iter().map(|c| (c.cell)(object)));
        row.push(
            object
                .pointer("/metadata/creationTimestamp")
                .and_then(Value::as_str)
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map_or_else(
                    || "<unknown>".to_owned(),
                    |created| age(now, created.with_timezone(&Utc)),
                ),
        );
        t.add_row(row);
    }
    render_table(t)
}

/// A kubectl-style table of plain rows under `header`.
pub fn plain_table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut t = Table::new();
    t.load_style(comfy_table::presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .force_no_tty()
        .set_header(header.to_vec());
    for row in rows {
        t.add_row(row);
    }
    render_table(t)
}

/// Three spaces between columns, none after the last, no trailing spaces.
fn render_table(mut t: Table) -> String {
    let last = t.column_count().saturating_sub(1);
    for (i, column) in t.column_iter_mut().enumerate() {
        column.set_padding((0, if i == last { 0 } else { 3 }));
    }
    let mut out = String::new();
    for line in t.lines() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// How long ago `created` was, the way kubectl shows it: `45s`, `5m30s`, `42m`, `3h20m`,
/// `30h`, `3d4h`, `200d`, `3y`.
pub fn age(now: DateTime<Utc>, created: DateTime<Utc>) -> String {
    let seconds = (now - created).num_seconds().max(0);
    let (minutes, hours, days) = (seconds / 60, seconds / 3600, seconds / 86_400);
    if seconds < 120 {
        format!("{seconds}s")
    } else if minutes < 10 {
        match seconds % 60 {
            0 => format!("{minutes}m"),
            s => format!("{minutes}m{s}s"),
        }
    } else if hours < 3 {
        format!("{minutes}m")
    } else if hours < 8 {
        match minutes % 60 {
            0 => format!("{hours}h"),
            m => format!("{hours}h{m}m"),
        }
    } else if hours < 48 {
        format!("{hours}h")
    } else if days < 8 {
        match hours % 24 {
            0 => format!("{days}d"),
            h => format!("{days}d{h}h"),
        }
    } else if days < 365 * 2 {
        format!("{days}d")
    } else {
        format!("{}y", days / 365)
    }
}

pub fn to_yaml<T: Serialize>(value: &T) -> Result<String, CliError> {
    serde_saphyr::to_string(value)
        .map_err(|e| CliError::Internal(format!("cannot write YAML: {e}")))
}

pub fn to_json<T: Serialize>(value: &T) -> Result<String, CliError> {
    serde_json::to_string_pretty(value)
        .map(|mut s| {
            s.push('\n');
            s
        })
        .map_err(|e| CliError::Internal(format!("cannot write JSON: {e}")))
}

/// `1 object`, `2 errors`: a count with its noun, plural when needed.
pub fn counted(n: usize, singular: &str, plural: &str) -> String {
    format!("{n} {}", if n == 1 { singular } else { plural })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn ages() {
        let now = Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap();
        let cases = [
            (0, "0s"),
            (45, "45s"),
            (119, "119s"),
            (120, "2m"),
            (330, "5m30s"),
            (599, "9m59s"),
            (600, "10m"),
            (2 * 3600 + 59 * 60, "179m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 20 * 60, "3h20m"),
            (8 * 3600 + 59 * 60, "8h"),
            (47 * 3600, "47h"),
            (48 * 3600, "2d"),
            (3 * 86_400 + 4 * 3600, "3d4h"),
            (8 * 86_400 + 5 * 3600, "8d"),
            (729 * 86_400, "729d"),
            (3 * 365 * 86_400, "3y"),
            (-5, "0s"),
        ];
        for (seconds, want) in cases {
            let created = now - chrono::Duration::seconds(seconds);
            assert_eq!(age(now, created), want, "{seconds}s");
        }
    }

    #[test]
    fn tables() {
        let now = at("2026-06-01T12:00:00Z");
        let sensor = |ns: &str, name: &str, created: &str| json!({"kind": "Sensor", "metadata": {"name": name, "namespace": ns, "creationTimestamp": created}});
        let mut waiting = sensor("team-a", "calendar-long-name", "2026-05-30T12:00:00Z");
        waiting["status"] = json!({"phase": "Running", "pendingDependencies": {
            "joined": [{"dependency": "d1"}, {"dependency": "d2"}], "other": [{"dependency": "x"}]
        }});
        let sensors = [
            sensor("default", "webhook", "2026-06-01T11:59:15Z"),
            waiting,
        ];
        let cases: Vec<(String, &str)> = vec![
            (
                table(Kind::Sensor, &sensors, false, false, now),
                "NAME                 STATUS    PENDING                   AGE\nwebhook                        -                         45s\ncalendar-long-name   Running   joined: d1,d2; other: x   2d\n",
            ),
            (
                table(Kind::Sensor, &sensors, true, false, now),
                "NAMESPACE   NAME                 STATUS    PENDING                   AGE\ndefault     webhook                        -                         45s\nteam-a      calendar-long-name   Running   joined: d1,d2; other: x   2d\n",
            ),
            (
                table(Kind::Sensor, &sensors[..1], false, true, now),
                "NAME      STATUS   PENDING   EVENTBUS   AGE\nwebhook            -         default    45s\n",
            ),
            (
                table(
                    Kind::Secret,
                    &[
                        json!({"metadata": {"name": "db", "creationTimestamp": "2026-06-01T09:00:00Z"},
                             "data": {"a": "<redacted>", "b": "<redacted>"}, "stringData": {"c": "x"}}),
                    ],
                    false,
                    false,
                    now,
                ),
                "NAME   TYPE     DATA   AGE\ndb     Opaque   3      3h\n",
            ),
            (
                table(
                    Kind::CronWorkflow,
                    &[
                        json!({"metadata": {"name": "nightly"}, "spec": {"schedule": "0 2 * * *", "suspend": true}}),
                    ],
                    false,
                    false,
                    now,
                ),
                "NAME      SCHEDULE    SUSPENDED   AGE\nnightly   0 2 * * *   true        <unknown>\n",
            ),
            (
                table(
                    Kind::Workflow,
                    &[
                        json!({"metadata": {"name": "hello-x7k2p", "creationTimestamp": "2026-06-01T11:50:00Z"},
                             "status": {"phase": "Running"}}),
                    ],
                    false,
                    false,
                    now,
                ),
                "NAME          STATUS    AGE\nhello-x7k2p   Running   10m\n",
            ),
        ];
        for (got, want) in cases {
            assert_eq!(got, want, "\n{got}");
        }
    }

    #[test]
    fn counts() {
        assert_eq!(counted(1, "object", "objects"), "1 object");
        assert_eq!(counted(0, "error", "errors"), "0 errors");
        assert_eq!(counted(2, "warning", "warnings"), "2 warnings");
    }
}
