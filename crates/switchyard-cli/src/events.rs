//! `switchyard events`: what the event pipeline did with recent events.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::cli::{EventsArgs, LogsArgs, OutputFormat};
use crate::client::Client;
use crate::error::CliError;
use crate::output;

/// The control API path of the event listing.
const EVENTS_PATH: &str = "/api/v1/events";

pub async fn events(client: &Client, args: EventsArgs) -> Result<(), CliError> {
    let limit = args.limit.to_string();
    let mut query: Vec<(&str, &str)> = vec![("limit", &limit)];
    if let Some(ns) = &args.namespace {
        query.push(("namespace", ns));
    }
    if let Some(source) = &args.source {
        query.push(("source", source));
    }
    if let Some(sensor) = &args.sensor {
        query.push(("sensor", sensor));
    }
    let list: Value = client.get_with(EVENTS_PATH, &query).await?;
    let items = list["items"].as_array().cloned().unwrap_or_default();
    let text = match args.output {
        Some(OutputFormat::Json) => output::to_json(&list)?,
        Some(OutputFormat::Yaml) => output::to_yaml(&list)?,
        _ if items.is_empty() => {
            eprintln!("No events found.");
            String::new()
        }
        _ => table(&items, Utc::now()),
    };
    print!("{text}");
    Ok(())
}

fn table(items: &[Value], now: DateTime<Utc>) -> String {
    let rows = items
        .iter()
        .map(|item| {
            let text = |pointer: &str| {
                item.pointer(pointer)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            let age = DateTime::parse_from_rfc3339(&text("/at"))
                .map(|at| output::age(now, at.with_timezone(&Utc)))
                .unwrap_or_default();
            vec![
                age,
                format!("{}/{}", text("/eventSource"), text("/eventName")),
                text("/eventId"),
                text("/sensor/name"),
                outcome(&item["outcome"]),
                triggered(&item["firings"]),
            ]
        })
        .collect();
    output::plain_table(
        &["AGE", "EVENT", "ID", "SENSOR", "OUTCOME", "TRIGGERED"],
        rows,
    )
}

/// Each dependency the event concerned, with its result: `order matched`,
/// `order filtered (data: body.size > 2)`.
fn outcome(outcome: &Value) -> String {
    let Some(dependencies) = outcome["dependencies"].as_array() else {
        return String::new();
    };
    dependencies
        .iter()
        .map(|d| {
            let name = d["name"].as_str().unwrap_or_default();
            let result = d["result"].as_str().unwrap_or_default();
            match d["reason"].as_str() {
                Some(reason) if !reason.is_empty() => format!("{name} {result} ({reason})"),
                _ => format!("{name} {result}"),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Each firing as `trigger: what happened`.
fn triggered(firings: &Value) -> String {
    let Some(firings) = firings.as_array() else {
        return String::new();
    };
    if firings.is_empty() {
        return "-".to_owned();
    }
    firings
        .iter()
        .map(|f| {
            let trigger = f["trigger"].as_str().unwrap_or_default();
            let detail = f["detail"].as_str().unwrap_or_default();
            match f["status"].as_str().unwrap_or_default() {
                "done" => format!("{trigger}: {detail}"),
                "dead" => format!("{trigger}: dead: {detail}"),
                _ if detail.is_empty() => format!("{trigger}: pending"),
                _ => format!("{trigger}: pending ({detail})"),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// How often `logs sensor/NAME -f` asks for new lines.
const FOLLOW_POLL: std::time::Duration = std::time::Duration::from_secs(1);

/// `switchyard logs sensor/NAME` (or `eventsource/NAME`, `es/NAME`): what the server logged
/// about the object; with `-f`, new lines as they come until interrupted.
pub async fn object_logs(
    client: &Client,
    kind: &str,
    name: &str,
    args: LogsArgs,
) -> Result<(), CliError> {
    let plural = match kind {
        "sensor" | "sensors" | "sn" => "sensors",
        "eventsource" | "eventsources" | "es" => "eventsources",
        other => {
            return Err(CliError::Usage(format!(
                "logs {other}/{name}: logs are kept for sensor/NAME and eventsource/NAME (es/NAME); \
                 a run's logs are `switchyard logs RUN`"
            )));
        }
    };
    if args.step.is_some() {
        return Err(CliError::Usage(format!(
            "logs {kind}/{name} takes no STEP; steps belong to runs"
        )));
    }
    let namespace = args
        .namespace
        .clone()
        .unwrap_or_else(|| switchyard_model::DEFAULT_NAMESPACE.to_owned());
    let path = format!("/api/v1/namespaces/{namespace}/{plural}/{name}/log");
    let mut after = 0u64;
    loop {
        let after_text = after.to_string();
        let page: Value = client.get_with(&path, &[("after", &after_text)]).await?;
        for line in page["items"].as_array().into_iter().flatten() {
            let text = |k: &str| line[k].as_str().unwrap_or_default().to_owned();
            let mut out = String::new();
            if args.timestamps {
                out.push_str(&text("time"));
                out.push(' ');
            }
            out.push_str(&format!("{:<5} {}", text("level"), text("message")));
            let fields = text("fields");
            if !fields.is_empty() {
                out.push_str("  ");
                out.push_str(&fields);
            }
            println!("{out}");
            after = after.max(line["seq"].as_u64().unwrap_or(after));
        }
        if !args.follow {
            return Ok(());
        }
        tokio::time::sleep(FOLLOW_POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_show_the_outcome_and_what_fired() {
        let now = DateTime::parse_from_rfc3339("2026-11-21T10:01:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let items = vec![json!({
            "at": "2026-11-21T10:00:00Z",
            "eventSource": "platform", "eventName": "environments", "eventId": "e1",
            "sensor": {"name": "environments"},
            "outcome": {"dependencies": [
                {"name": "order", "result": "matched"},
                {"name": "big", "result": "filtered", "reason": "data filter body.size"}
            ]},
            "firings": [
                {"trigger": "provision", "status": "done", "detail": "workflow default/provision-ab"},
                {"trigger": "notify", "status": "dead", "detail": "HTTP 500"}
            ]
        })];
        let text = table(&items, now);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("AGE"), "{text}");
        assert!(lines[1].starts_with("60s"), "{text}");
        assert!(lines[1].contains("platform/environments"), "{text}");
        assert!(
            lines[1].contains("order matched, big filtered (data filter body.size)"),
            "{text}"
        );
        assert!(
            lines[1].ends_with("provision: workflow default/provision-ab, notify: dead: HTTP 500"),
            "{text}"
        );
    }
}
