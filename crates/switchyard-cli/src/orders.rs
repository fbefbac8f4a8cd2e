//! The self-service commands: `order`, `orders list|get|watch`, `approve`, `reject`, and
//! `token create|list|revoke`.
//!
//! `order` checks the input against the offering's schema before sending it, with the same
//! rules and messages as the API (both use `switchyard-catalog`), so a typo is caught without
//! a round trip; the server checks again anyway.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use switchyard_catalog::InputSchema;

use crate::cli::{
    ApproveArgs, OrderArgs, OrdersCommand, OrdersListArgs, OutputFormat, TokenCommand,
};
use crate::client::Client;
use crate::error::CliError;
use crate::output;

const CATALOG_PATH: &str = "/api/v1/catalog";
const ORDERS_PATH: &str = "/api/v1/orders";
const TOKENS_PATH: &str = "/api/v1/tokens";
/// How often `orders watch` and `order --watch` look again.
const POLL: Duration = Duration::from_millis(500);
/// Lines of a step's result `orders get` shows.
const RESULT_LINES: usize = 40;

/// One line per bad field of a FastAPI-style 422: `body.region: Input should be ...`.
pub fn describe_detail(detail: &[Value]) -> String {
    let mut lines = vec![format!(
        "the order was refused: {} problem{}",
        detail.len(),
        if detail.len() == 1 { "" } else { "s" }
    )];
    for d in detail {
        let loc: Vec<String> = d["loc"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| match p {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        lines.push(format!(
            "  {}: {}",
            loc.join("."),
            d["msg"].as_str().unwrap_or_default()
        ));
    }
    lines.join("\n")
}

fn print_value(value: &Value, format: Option<OutputFormat>) -> Result<bool, CliError> {
    match format {
        Some(OutputFormat::Json) => print!("{}", output::to_json(value)?),
        Some(OutputFormat::Yaml) => print!("{}", output::to_yaml(value)?),
        _ => return Ok(false),
    }
    Ok(true)
}

/// `switchyard order OFFERING --set k=v ...`.
pub async fn order(client: &Client, args: OrderArgs) -> Result<(), CliError> {
    let catalog: Value = client.get_with(CATALOG_PATH, &[]).await?;
    let items = catalog["items"].as_array().cloned().unwrap_or_default();
    let wanted = args.offering.trim_start_matches('/');
    let offering = items
        .iter()
        .find(|o| {
            o["name"] == wanted
                || o["route"].as_str().map(|r| r.trim_start_matches('/')) == Some(wanted)
                || format!(
                    "{}/{}",
                    o["namespace"].as_str().unwrap_or_default(),
                    o["name"].as_str().unwrap_or_default()
                ) == wanted
        })
        .ok_or_else(|| {
            let names: Vec<&str> = items.iter().filter_map(|o| o["name"].as_str()).collect();
            CliError::Usage(format!(
                "no offering `{}`; the catalog has: {}",
                args.offering,
                if names.is_empty() {
                    "nothing yet (apply some Offerings)".to_owned()
                } else {
                    names.join(", ")
                }
            ))
        })?;
    let route = offering["route"].as_str().unwrap_or_default().to_owned();
    let schema = InputSchema::parse(&offering["input"], "input").map_err(|problems| {
        CliError::Internal(format!(
            "the server's schema of {} cannot be read by this CLI ({}); are the CLI and server the same version?",
            args.offering,
            problems
                .iter()
                .map(|p| format!("{}: {}", p.path, p.message))
                .collect::<Vec<_>>()
                .join("; ")
        ))
    })?;
    let mut fields = Vec::new();
    for set in &args.set {
        let Some((k, v)) = set.split_once('=') else {
            return Err(CliError::Usage(format!(
                "--set {set}: expected KEY=VALUE, e.g. --set region=eastus2"
            )));
        };
        fields.push((k.trim().to_owned(), v.to_owned()));
    }
    let body = match &args.file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))?;
            let body: Value = serde_json::from_str(&text)
                .map_err(|e| CliError::Usage(format!("{} is not JSON: {e}", path.display())))?;
            // --set values go on top of the file, converted as the schema says.
            schema.validate_fields_over(&body, &fields)
        }
        None => schema.validate_fields(&fields),
    };
    let body = body.map_err(|errors| {
        let detail: Vec<Value> = errors
            .iter()
            .map(|e| serde_json::to_value(e).unwrap_or_default())
            .collect();
        CliError::Rejected(describe_detail(&detail))
    })?;
    let mut headers = Vec::new();
    if let Some(key) = &args.idempotency_key {
        headers.push(("Idempotency-Key", key.as_str()));
    }
    let accepted = client.post_value(&route, &body, &headers).await?;
    if !print_value(&accepted, args.output)? {
        println!(
            "order {} accepted ({})",
            accepted["id"].as_str().unwrap_or_default(),
            accepted["offering"].as_str().unwrap_or_default()
        );
        println!(
            "follow it:  switchyard orders watch {}",
            accepted["id"].as_str().unwrap_or_default()
        );
    }
    if args.watch {
        watch_order(client, accepted["id"].as_str().unwrap_or_default()).await?;
    }
    Ok(())
}

pub async fn orders(client: &Client, command: OrdersCommand) -> Result<(), CliError> {
    match command {
        OrdersCommand::List(args) => list(client, args).await,
        OrdersCommand::Get { id, output } => {
            let order: Value = client.get_with(&format!("{ORDERS_PATH}/{id}"), &[]).await?;
            if !print_value(&order, output)? {
                print!("{}", describe(&order, Utc::now()));
            }
            Ok(())
        }
        OrdersCommand::Watch { id } => watch_order(client, &id).await,
    }
}

async fn list(client: &Client, args: OrdersListArgs) -> Result<(), CliError> {
    let limit = args.limit.to_string();
    let mut query: Vec<(&str, &str)> = vec![("limit", &limit)];
    if let Some(o) = &args.offering {
        query.push(("offering", o));
    }
    if let Some(p) = &args.phase {
        query.push(("phase", p));
    }
    if let Some(r) = &args.requester {
        query.push(("requester", r));
    }
    let list: Value = client.get_with(ORDERS_PATH, &query).await?;
    if print_value(&list, args.output)? {
        return Ok(());
    }
    let items = list["items"].as_array().cloned().unwrap_or_default();
    if items.is_empty() {
        eprintln!("No orders found.");
        return Ok(());
    }
    let now = Utc::now();
    let rows = items
        .iter()
        .map(|o| {
            vec![
                o["id"].as_str().unwrap_or_default().to_owned(),
                o["offering"].as_str().unwrap_or_default().to_owned(),
                o["phase"].as_str().unwrap_or_default().to_owned(),
                o["requester"].as_str().unwrap_or_default().to_owned(),
                age(o, now),
                runs_column(o),
            ]
        })
        .collect();
    print!(
        "{}",
        output::plain_table(
            &["ID", "OFFERING", "PHASE", "REQUESTER", "AGE", "RUNS"],
            rows
        )
    );
    Ok(())
}

fn age(order: &Value, now: DateTime<Utc>) -> String {
    order["createdAt"]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| output::age(now, t.with_timezone(&Utc)))
        .unwrap_or_default()
}

fn runs_column(order: &Value) -> String {
    order["runs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            format!(
                "{} ({})",
                r["name"].as_str().unwrap_or_default(),
                r["phase"].as_str().unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A readable account of one order: what, who, phase, the runs and their steps, approvals.
fn describe(order: &Value, now: DateTime<Utc>) -> String {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let mut out = String::new();
    let mut line = |k: &str, v: String| out.push_str(&format!("{k:<11}{v}\n"));
    line("Order:", text(&order["id"]));
    line(
        "Offering:",
        format!("{} ({})", text(&order["offering"]), text(&order["route"])),
    );
    line("Phase:", text(&order["phase"]));
    if let Some(m) = order["message"].as_str() {
        line("Message:", m.to_owned());
    }
    line("Requester:", text(&order["requester"]));
    line("Age:", age(order, now));
    if let Some(input) = order["input"].as_object() {
        let pairs: Vec<String> = input
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect();
        line("Input:", pairs.join(" "));
    }
    for run in order["runs"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "\nRun {}/{}: {}{}\n",
            text(&run["namespace"]),
            text(&run["name"]),
            text(&run["phase"]),
            run["waitingAt"]
                .as_array()
                .map(|w| format!(
                    ", waiting for approval at {}",
                    w.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
                .unwrap_or_default()
        ));
        for step in run["steps"].as_array().into_iter().flatten() {
            out.push_str(&format!(
                "  {:<24} {:<10} {}\n",
                text(&step["name"]),
                text(&step["phase"]),
                step["message"].as_str().unwrap_or_default()
            ));
            // What a step printed is what an approver reads (a plan): show it, capped.
            if let Some(result) = step["outputs"]["result"].as_str() {
                let lines: Vec<&str> = result.lines().collect();
                let shown = lines.len().min(RESULT_LINES);
                for line in &lines[..shown] {
                    out.push_str(&format!("    | {line}\n"));
                }
                if lines.len() > shown {
                    out.push_str(&format!(
                        "    | ... {} more lines: switchyard logs {} -n {}\n",
                        lines.len() - shown,
                        text(&run["name"]),
                        text(&run["namespace"])
                    ));
                }
            }
        }
    }
    for a in order["approvals"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "\n{} by {} at {}: {}\n",
            text(&a["decision"]),
            text(&a["by"]),
            text(&a["at"]),
            text(&a["comment"])
        ));
    }
    out
}

/// Prints the order each time its phase or a step changes, until it ends (exit 1 when it
/// failed). Returns at WaitingForApproval too, saying how to approve.
async fn watch_order(client: &Client, id: &str) -> Result<(), CliError> {
    let mut last = String::new();
    loop {
        let order: Value = client.get_with(&format!("{ORDERS_PATH}/{id}"), &[]).await?;
        let shown = describe(&order, Utc::now());
        let key = shown
            .lines()
            .filter(|l| !l.starts_with("Age:"))
            .collect::<Vec<_>>()
            .join("\n");
        if key != last {
            println!("{shown}");
            last = key;
        }
        match order["phase"].as_str().unwrap_or_default() {
            "Succeeded" => return Ok(()),
            "Failed" => {
                return Err(CliError::RunFailed(format!(
                    "order {id} failed{}",
                    order["message"]
                        .as_str()
                        .map(|m| format!(": {m}"))
                        .unwrap_or_default()
                )));
            }
            "WaitingForApproval" => {
                println!(
                    "waiting for approval: switchyard approve {id} -m \"...\" (someone other than the requester, with an approving role)"
                );
                return Ok(());
            }
            _ => tokio::time::sleep(POLL).await,
        }
    }
}

/// `switchyard approve|reject ID -m COMMENT`.
pub async fn decide(client: &Client, args: ApproveArgs, approve: bool) -> Result<(), CliError> {
    let verb = if approve { "approve" } else { "reject" };
    let order = client
        .post_value(
            &format!("{ORDERS_PATH}/{}/{verb}", args.id),
            &json!({ "comment": args.message }),
            &[],
        )
        .await?;
    if !print_value(&order, args.output)? {
        println!(
            "order {} {}; it is now {}",
            args.id,
            if approve { "approved" } else { "rejected" },
            order["phase"].as_str().unwrap_or_default()
        );
    }
    Ok(())
}

/// `switchyard token create|list|revoke`.
pub async fn token(client: &Client, command: TokenCommand) -> Result<(), CliError> {
    match command {
        TokenCommand::Create { name, role, output } => {
            let created = client
                .post_value(TOKENS_PATH, &json!({ "name": name, "roles": role }), &[])
                .await?;
            if !print_value(&created, output)? {
                eprintln!(
                    "Created token `{name}` with roles {}. It is shown only this once:\n",
                    role.join(", ")
                );
                println!("{}", created["token"].as_str().unwrap_or_default());
            }
            Ok(())
        }
        TokenCommand::List { output } => {
            let list: Value = client.get_with(TOKENS_PATH, &[]).await?;
            if print_value(&list, output)? {
                return Ok(());
            }
            let rows = list["items"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|t| {
                    let s = |k: &str| t[k].as_str().unwrap_or_default().to_owned();
                    vec![
                        s("name"),
                        t["roles"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(","),
                        if t["revoked"] == true {
                            "revoked".to_owned()
                        } else {
                            "active".to_owned()
                        },
                        s("hashPrefix"),
                        s("createdBy"),
                        s("created"),
                    ]
                })
                .collect();
            print!(
                "{}",
                output::plain_table(
                    &["NAME", "ROLES", "STATUS", "HASH", "CREATED BY", "CREATED"],
                    rows
                )
            );
            Ok(())
        }
        TokenCommand::Revoke { name } => {
            let _: Value = client.delete(&format!("{TOKENS_PATH}/{name}")).await?;
            println!("token `{name}` revoked");
            Ok(())
        }
    }
}
