//! T8: the bad-input corpus of RELIABILITY.md, each case checked against its safe outcome,
//! and the server still serving afterwards.
//!
//! The server runs the bundled platform (`examples/platform`, its webhook moved to a free
//! port) and an EventSource `guarded` that needs a bearer token. Webhook cases that are about
//! reading (oversized, chunked) are sent over a raw TCP connection, so the harness can tell
//! whether the answer came before the whole body was sent.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::api::{Answer, Api};
use crate::manifests::guarded_source;
use crate::process::{free_port, wait_reachable};
use crate::scenarios::kill::yes;
use crate::scenarios::start;
use crate::{Ctx, Ran, report::ScenarioReport};

/// The webhook's default payload limit (Argo's `maxPayloadSize`, 1 MiB).
const LIMIT: u64 = 1_048_576;
const TOKEN: &str = "chaos-hook-token-7f3a";

pub async fn run(ctx: &Ctx, dir: &Path, report: &mut ScenarioReport) -> Result<Ran> {
    let platform_port = free_port()?;
    let platform = platform_copy(&ctx.platform_source, dir, platform_port)?;
    let spec = ctx
        .server_with_platform(dir)
        .with_args(["--platform".to_owned(), platform.display().to_string()]);
    let mut server = start(&spec).await?;
    let admin = server.api();
    let hook_port = free_port()?;
    admin
        .apply("guarded.yaml", &guarded_source(hook_port, TOKEN))
        .await?;
    let hook_addr = format!("127.0.0.1:{hook_port}");
    wait_reachable(&hook_addr, Duration::from_secs(30)).await?;
    let hook = format!("http://{hook_addr}/hook");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;

    webhook_cases(report, &http, &hook, &hook_addr).await?;
    manifest_cases(report, &admin).await?;
    order_cases(report, &admin, dir).await?;
    path_cases(report, &admin).await?;

    // Still serving everyone else.
    let ok = http
        .post(&hook)
        .bearer_auth(TOKEN)
        .json(&json!({"after": "the corpus"}))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0);
    report.check(
        "webhook: a good request after the corpus",
        "200",
        ok.to_string(),
        ok == 200,
    );
    let alive = server.exited().is_none() && admin.healthy().await;
    report.check(
        "server alive and serving after the corpus",
        "yes",
        yes(alive),
        alive,
    );
    let rss = server.rss_bytes().unwrap_or(0);
    report.figure("server RSS after the corpus (MiB)", rss / 1024 / 1024);
    Ok(Ran::Done)
}

async fn webhook_cases(
    report: &mut ScenarioReport,
    http: &reqwest::Client,
    hook: &str,
    addr: &str,
) -> Result<()> {
    let post = |body: String, token: Option<&str>, headers: &[(&str, &str)]| {
        let mut req = http.post(hook).body(body);
        // A request carries one Content-Type: the case's own, else JSON.
        if !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            req = req.header("content-type", "application/json");
        }
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        async move {
            let began = Instant::now();
            match req.send().await {
                Ok(r) => {
                    let status = r.status().as_u16();
                    let text = r.text().await.unwrap_or_default();
                    (status, text, began.elapsed())
                }
                Err(e) => (0, format!("no answer: {e}"), began.elapsed()),
            }
        }
    };
    let good = json!({"ok": true}).to_string();
    let (s, t, _) = post(good.clone(), None, &[]).await;
    status_check(report, "webhook: no bearer token", 401, s, &t);
    let (s, t, _) = post(good.clone(), Some("wrong-token"), &[]).await;
    status_check(report, "webhook: wrong bearer token", 401, s, &t);
    let (s, t, _) = post("{\"unterminated\": ".to_owned(), Some(TOKEN), &[]).await;
    status_check(report, "webhook: invalid JSON", 400, s, &t);
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let (s, t, took) = post(deep, Some(TOKEN), &[]).await;
    status_check(
        report,
        &format!(
            "webhook: JSON nested 100,000 deep ({} ms)",
            took.as_millis()
        ),
        400,
        s,
        &t,
    );
    let (s, t, _) = post(
        good.clone(),
        Some(TOKEN),
        &[
            ("ce-id", "bad-version-1"),
            ("ce-source", "switchyard-chaos"),
            ("ce-type", "t"),
            ("ce-specversion", "0.1"),
        ],
    )
    .await;
    status_check(
        report,
        "webhook: CloudEvent specversion 0.1 (binary mode)",
        400,
        s,
        &t,
    );
    let structured =
        json!({"specversion": "0.1", "id": "bad-version-2", "source": "switchyard-chaos", "type": "t", "data": {}})
            .to_string();
    let (s, t, _) = post(
        structured,
        Some(TOKEN),
        &[("content-type", "application/cloudevents+json")],
    )
    .await;
    status_check(
        report,
        "webhook: CloudEvent specversion 0.1 (structured mode)",
        400,
        s,
        &t,
    );

    // Oversized: declared by Content-Length, nothing sent after the head.
    let big = LIMIT * 4;
    let head = |auth: bool, length: Option<u64>| {
        let mut h =
            format!("POST /hook HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n");
        if auth {
            h.push_str(&format!("Authorization: Bearer {TOKEN}\r\n"));
        }
        match length {
            Some(n) => h.push_str(&format!("Content-Length: {n}\r\n")),
            None => h.push_str("Transfer-Encoding: chunked\r\n"),
        }
        h.push_str("\r\n");
        h
    };
    let a = raw(addr, head(true, Some(big)), Body::Nothing).await?;
    raw_check(
        report,
        "webhook: Content-Length 4 MiB, authenticated",
        &[413],
        &a,
        0,
    );
    let a = raw(addr, head(false, Some(big)), Body::Nothing).await?;
    raw_check(
        report,
        "webhook: Content-Length 4 MiB, unauthenticated",
        &[401, 413],
        &a,
        0,
    );
    let chunked = Body::Chunked {
        chunk: 64 * 1024,
        total: 32 * LIMIT,
    };
    let a = raw(addr, head(true, None), chunked).await?;
    raw_check(
        report,
        "webhook: chunked without length (32 MiB), authenticated",
        &[413],
        &a,
        32 * LIMIT,
    );
    let a = raw(addr, head(false, None), chunked).await?;
    raw_check(
        report,
        "webhook: chunked without length (32 MiB), unauthenticated",
        &[401, 413],
        &a,
        32 * LIMIT,
    );
    Ok(())
}

fn status_check(report: &mut ScenarioReport, name: &str, want: u16, got: u16, text: &str) {
    let text: String = text.chars().take(120).collect();
    report.check(
        name,
        want.to_string(),
        format!("{got} {}", text.trim()),
        want == got,
    );
}

/// Raw answers must come fast and, for a body, before all of it was sent.
fn raw_check(report: &mut ScenarioReport, name: &str, want: &[u16], a: &RawAnswer, total: u64) {
    let before_all = total == 0 || a.sent < total;
    let pass = a.status.is_some_and(|s| want.contains(&s)) && before_all;
    let wanted: Vec<String> = want.iter().map(u16::to_string).collect();
    report.check(
        name,
        format!("{} before the body is read", wanted.join(" or ")),
        format!(
            "{} after {} ms, {} of {} body bytes sent",
            a.status.map_or("no answer".to_owned(), |s| s.to_string()),
            a.took.as_millis(),
            a.sent,
            if total == 0 {
                "0 (none sent)".to_owned()
            } else {
                total.to_string()
            }
        ),
        pass,
    );
}

#[derive(Debug, Clone, Copy)]
enum Body {
    Nothing,
    /// Chunks of `chunk` bytes up to `total`, then the last chunk.
    Chunked {
        chunk: usize,
        total: u64,
    },
}

struct RawAnswer {
    status: Option<u16>,
    /// Body bytes written when the answer's head arrived.
    sent: u64,
    took: Duration,
}

/// Sends `head` and then the body over a fresh connection while reading the answer; stops
/// writing as soon as the answer's head is in.
async fn raw(addr: &str, head: String, body: Body) -> Result<RawAnswer> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    let (mut rd, mut wr) = stream.into_split();
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    let began = Instant::now();
    let writer = tokio::spawn(async move {
        wr.write_all(head.as_bytes()).await?;
        if let Body::Chunked { chunk, total } = body {
            let data = vec![b'['; chunk];
            let mut done = 0u64;
            while done < total {
                wr.write_all(format!("{chunk:x}\r\n").as_bytes()).await?;
                wr.write_all(&data).await?;
                wr.write_all(b"\r\n").await?;
                done += chunk as u64;
                counter.store(done, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            wr.write_all(b"0\r\n\r\n").await?;
        }
        wr.flush().await?;
        // Keep the connection open for the answer.
        tokio::time::sleep(Duration::from_secs(30)).await;
        Ok::<_, std::io::Error>(())
    });
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            match rd.read(&mut tmp).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    buf.extend_from_slice(&tmp[..n]);
                    if buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
            }
        }
    })
    .await;
    let at_answer = sent.load(Ordering::SeqCst);
    let took = began.elapsed();
    writer.abort();
    let status = if read.is_ok() {
        String::from_utf8_lossy(&buf)
            .lines()
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
    } else {
        None
    };
    Ok(RawAnswer {
        status,
        sent: at_answer,
        took,
    })
}

async fn manifest_cases(report: &mut ScenarioReport, admin: &Api) -> Result<()> {
    let mut bomb = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\n  annotations:\n    a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    for pair in names.windows(2) {
        let refs = vec![format!("*{}", pair[0]); 9].join(",");
        bomb.push_str(&format!("    {}: &{} [{refs}]\n", pair[1], pair[1]));
    }
    bomb.push_str("data:\n  all: *i\n");
    let cases: Vec<(&str, String, Vec<&str>, Option<Duration>)> = vec![
        (
            "manifest: YAML alias bomb (9^9)",
            bomb,
            vec!["alias"],
            Some(Duration::from_secs(1)),
        ),
        (
            "manifest: duplicate keys",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dup\n  name: dup-again\ndata: {}\n".to_owned(),
            vec!["duplicate"],
            None,
        ),
        (
            "manifest: `//` used as a comment",
            "// the platform's config\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: slashes\ndata: {}\n".to_owned(),
            vec!["#"],
            None,
        ),
        (
            "manifest: unknown kind",
            "apiVersion: argoproj.io/v1alpha1\nkind: Frobnicator\nmetadata:\n  name: f\nspec: {}\n".to_owned(),
            vec!["Frobnicator"],
            None,
        ),
        (
            "manifest: DAG with a cycle",
            "apiVersion: argoproj.io/v1alpha1\nkind: WorkflowTemplate\nmetadata:\n  name: cyclic\nspec:\n  entrypoint: main\n  templates:\n  - name: main\n    dag:\n      tasks:\n      - {name: left, template: noop, dependencies: [right]}\n      - {name: right, template: noop, dependencies: [left]}\n  - name: noop\n    container: {image: alpine, command: [\"true\"]}\n".to_owned(),
            vec!["cycle", "left", "right"],
            None,
        ),
        (
            "manifest: reference to a missing template",
            "apiVersion: argoproj.io/v1alpha1\nkind: WorkflowTemplate\nmetadata:\n  name: dangling\nspec:\n  entrypoint: main\n  templates:\n  - name: main\n    steps:\n    - - {name: only, template: does-not-exist}\n".to_owned(),
            vec!["does-not-exist"],
            None,
        ),
    ];
    for (name, content, words, within) in cases {
        let answer = admin.apply_raw("case.yaml", &content).await?;
        let first = first_error(&answer);
        let text = answer.body.to_string();
        let named = words.iter().all(|w| text.contains(w));
        let fast = within.is_none_or(|w| answer.took < w);
        let line_ok = if name.contains("//") {
            first.contains(":1:") || first.contains("line 1")
        } else {
            true
        };
        let mut expected = format!("4xx naming {}", words.join(", "));
        if let Some(w) = within {
            expected.push_str(&format!(", in < {} ms", w.as_millis()));
        }
        if name.contains("//") {
            expected.push_str(", at line 1");
        }
        report.check(
            name,
            expected,
            format!(
                "{} in {} ms: {first}",
                answer.status,
                answer.took.as_millis()
            ),
            (400..500).contains(&answer.status) && named && fast && line_ok,
        );
    }
    // Nothing of it was applied.
    let leftovers = [
        "configmaps/bomb",
        "configmaps/dup",
        "configmaps/slashes",
        "workflowtemplates/cyclic",
        "workflowtemplates/dangling",
    ];
    let mut stored = Vec::new();
    for item in leftovers {
        let answer = admin
            .call(
                Method::GET,
                &format!("/api/v1/namespaces/default/{item}"),
                None,
            )
            .await?;
        if answer.status == 200 {
            stored.push(item);
        }
    }
    report.check_zero("manifests: objects stored from refused manifests", &stored);
    Ok(())
}

/// `file:line:column message` of the first error diagnostic, or the message.
fn first_error(answer: &Answer) -> String {
    let diag = answer.body["diagnostics"]
        .as_array()
        .and_then(|ds| ds.iter().find(|d| d["severity"] == "error").or(ds.first()))
        .cloned();
    match diag {
        Some(d) => format!(
            "{}:{}:{} {}",
            d["file"].as_str().unwrap_or(""),
            d["line"],
            d["column"],
            d["message"].as_str().unwrap_or("")
        ),
        None => answer.body["message"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| answer.body.to_string().chars().take(200).collect()),
    }
}

fn order(requester_name: &str) -> Value {
    json!({
        "region": "westeurope",
        "cloud_provider": "azure",
        "resource_type": "kubernetes",
        "environment": "chaos-team",
        "requester_name": requester_name,
        "requester_email": "chaos@example.com",
    })
}

async fn order_cases(report: &mut ScenarioReport, admin: &Api, dir: &Path) -> Result<()> {
    let alice = admin.with_token(&admin.token("alice", &["orderer", "approver"]).await?);
    let bob = admin.with_token(&admin.token("bob", &["approver"]).await?);

    // An undeclared field.
    let mut extra = order("Alice");
    extra["colour"] = json!("blue");
    let answer = alice
        .call(Method::POST, "/environments", Some(&extra))
        .await?;
    status_check(
        report,
        "API: order with an undeclared field",
        422,
        answer.status,
        &answer.body.to_string(),
    );

    // A hostile value reaches the step as data; no file appears.
    let marker = dir.join("pwned");
    let hostile = format!("'; touch {} #", marker.display());
    let id = place(&alice, &order(&hostile)).await?;
    let plan = plan_output(&alice, &id).await?;
    let literal = plan.contains(&hostile);
    report.check(
        "parameters: `'; touch … #` reaches the step as data",
        "the plan shows the value literally; no file",
        format!(
            "value in the plan: {}; {} exists: {}",
            yes(literal),
            marker.display(),
            yes(marker.exists())
        ),
        literal && !marker.exists(),
    );
    // The requester may not approve their own order.
    let answer = alice
        .call(
            Method::POST,
            &format!("/api/v1/orders/{id}/approve"),
            Some(&json!({"comment": "looks fine to me"})),
        )
        .await?;
    status_check(
        report,
        "API: requester approves their own order",
        403,
        answer.status,
        &answer.body.to_string(),
    );
    let _ = bob
        .call(
            Method::POST,
            &format!("/api/v1/orders/{id}/reject"),
            Some(&json!({"comment": "hostile input test"})),
        )
        .await?;

    // `{{workflow.name}}` in a value stays literal.
    let id = place(&alice, &order("{{workflow.name}}")).await?;
    let plan = plan_output(&alice, &id).await?;
    let literal = plan.contains("{{workflow.name}}");
    report.check(
        "parameters: `{{workflow.name}}` in a value stays literal",
        "literal in the plan",
        format!(
            "literal: {}{}",
            yes(literal),
            if literal {
                String::new()
            } else {
                format!(" (plan: {})", plan.chars().take(200).collect::<String>())
            }
        ),
        literal,
    );
    let _ = bob
        .call(
            Method::POST,
            &format!("/api/v1/orders/{id}/reject"),
            Some(&json!({"comment": "template test"})),
        )
        .await?;
    Ok(())
}

async fn place(api: &Api, body: &Value) -> Result<String> {
    let answer = api.call(Method::POST, "/environments", Some(body)).await?;
    if answer.status != 202 {
        bail!(
            "placing an order answered {}: {}",
            answer.status,
            answer.body
        );
    }
    answer.body["id"]
        .as_str()
        .map(str::to_owned)
        .context("the order answer has no id")
}

/// The result of the order's `terraform-plan` step, once the order waits for approval.
async fn plan_output(api: &Api, id: &str) -> Result<String> {
    let end = Instant::now() + Duration::from_secs(120);
    loop {
        let answer = api
            .call(Method::GET, &format!("/api/v1/orders/{id}"), None)
            .await?;
        let order = &answer.body;
        if order["phase"] == "WaitingForApproval" || order["phase"] == "Failed" {
            let plan = order["runs"][0]["steps"]
                .as_array()
                .and_then(|steps| steps.iter().find(|s| s["name"] == "terraform-plan"))
                .map(|s| s["outputs"]["result"].as_str().unwrap_or("").to_owned())
                .unwrap_or_default();
            return Ok(plan);
        }
        if Instant::now() > end {
            bail!("order {id} never waited for approval: {order}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn path_cases(report: &mut ScenarioReport, admin: &Api) -> Result<()> {
    for (name, path) in [
        (
            "API: order id with ../",
            "/api/v1/orders/..%2F..%2Fetc%2Fpasswd",
        ),
        ("API: order id with a NUL byte", "/api/v1/orders/a%00b"),
        (
            "API: run name with ../",
            "/api/v1/namespaces/default/workflows/..%2F..%2Fetc",
        ),
        (
            "API: run name with a NUL byte",
            "/api/v1/namespaces/default/workflows/a%00b",
        ),
    ] {
        let answer = admin.call(Method::GET, path, None).await?;
        status_check(report, name, 400, answer.status, &answer.body.to_string());
    }
    Ok(())
}

/// A copy of the bundled platform's manifests whose webhook listens on `port`.
fn platform_copy(source: &Path, dir: &Path, port: u16) -> Result<PathBuf> {
    let dst = dir.join("platform");
    std::fs::create_dir_all(&dst).with_context(|| format!("creating {}", dst.display()))?;
    let entries = std::fs::read_dir(source).with_context(|| {
        format!(
            "reading the bundled platform {} (--platform-source)",
            source.display()
        )
    })?;
    let mut copied = 0;
    for entry in entries {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?
            .replace("\"12000\"", &format!("\"{port}\""));
        let Some(name) = path.file_name() else {
            continue;
        };
        std::fs::write(dst.join(name), text)?;
        copied += 1;
    }
    if copied == 0 {
        bail!("{} holds no *.yaml manifests", source.display());
    }
    Ok(dst)
}
