//! The event pipeline end to end on a real `switchyard up`: a webhook EventSource, a Sensor
//! shaped like the seed platform's, and the runs its trigger starts.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{Api, Server, data_dir, free_port};

/// The seed platform: three endpoints on one port, a sensor that passes six fields of the
/// order to a workflow as its parameters.
fn platform(port: u16) -> String {
    format!(
        r#"
apiVersion: argoproj.io/v1alpha1
kind: EventSource
metadata:
  name: platform
spec:
  webhook:
    environments:
      port: "{port}"
      endpoint: /environments
      method: POST
    applications:
      port: "{port}"
      endpoint: /applications
      method: POST
    configuration:
      port: "{port}"
      endpoint: /configuration
      method: POST
---
apiVersion: argoproj.io/v1alpha1
kind: Sensor
metadata:
  name: environments
spec:
  dependencies:
    - name: order
      eventSourceName: platform
      eventName: environments
  triggers:
    - template:
        name: provision
        argoWorkflow:
          operation: submit
          source:
            resource:
              apiVersion: argoproj.io/v1alpha1
              kind: Workflow
              metadata:
                generateName: provision-
              spec:
                entrypoint: main
                arguments:
                  parameters:
                    - name: environment
                    - name: region
                    - name: size
                    - name: owner
                    - name: cost-center
                    - name: ttl
                templates:
                  - name: main
                    container:
                      image: alpine
                      command: [echo, "{{{{workflow.parameters.environment}}}}"]
          parameters:
            - src: {{dependencyName: order, dataKey: body.environment}}
              dest: spec.arguments.parameters.0.value
            - src: {{dependencyName: order, dataKey: body.region}}
              dest: spec.arguments.parameters.1.value
            - src: {{dependencyName: order, dataKey: body.size}}
              dest: spec.arguments.parameters.2.value
            - src: {{dependencyName: order, dataKey: body.owner}}
              dest: spec.arguments.parameters.3.value
            - src: {{dependencyName: order, dataKey: body.costCenter}}
              dest: spec.arguments.parameters.4.value
            - src: {{dependencyName: order, dataKey: body.ttl}}
              dest: spec.arguments.parameters.5.value
"#
    )
}

/// Posts `{"n": n}` to `http://127.0.0.1:{port}/items`.
async fn post_item(
    http: &reqwest::Client,
    port: u16,
    n: usize,
) -> reqwest::Result<reqwest::Response> {
    http.post(format!("http://127.0.0.1:{port}/items"))
        .json(&json!({"n": n}))
        .send()
        .await
}

/// Waits for the `/items` webhook's first answer (its listener comes up with the reconcile),
/// then posts an item every `pause` until one is refused with 429 + `Retry-After: 1`.
/// Returns how many were accepted, and the refusal's text.
async fn post_until_refused(http: &reqwest::Client, port: u16, pause: Duration) -> (usize, String) {
    let mut accepted = 0usize;
    for n in 0..600 {
        if let Ok(answer) = post_item(http, port, n).await {
            assert_eq!(answer.status().as_u16(), 200);
            accepted += 1;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(accepted, 1, "the webhook never answered");
    for n in 1..2000 {
        let answer = post_item(http, port, n).await.unwrap();
        match answer.status().as_u16() {
            200 => accepted += 1,
            429 => {
                assert_eq!(
                    answer
                        .headers()
                        .get("retry-after")
                        .map(|v| v.to_str().unwrap()),
                    Some("1")
                );
                return (accepted, answer.text().await.unwrap());
            }
            other => panic!("unexpected answer {other}"),
        }
        tokio::time::sleep(pause).await;
    }
    panic!("the webhook never refused an event ({accepted} accepted)");
}

/// Posts an item every 100 ms until one is accepted; panics after two minutes.
async fn post_until_taken(http: &reqwest::Client, port: u16) {
    for n in 0..1200 {
        if post_item(http, port, 100_000 + n)
            .await
            .unwrap()
            .status()
            .as_u16()
            == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the webhook kept refusing");
}

async fn apply(api: &Api, name: &str, content: &str) {
    let (status, body) = api
        .call(
            "POST",
            "/api/v1/apply",
            Some(json!({"sources": [{"name": name, "content": content}]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

/// Every run in `default`, waiting until there are `count` of them.
async fn runs(api: &Api, count: usize) -> Vec<Value> {
    for _ in 0..600 {
        let (status, body) = api
            .call("GET", "/api/v1/namespaces/default/workflows", None)
            .await;
        assert_eq!(status, 200, "{body}");
        let items = body["items"].as_array().cloned().unwrap_or_default();
        if items.len() >= count {
            return items;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {count} runs started");
}

fn parameters(run: &Value) -> Vec<(String, String)> {
    run["spec"]["arguments"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                p["value"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_posted_to_the_webhook_starts_one_run_with_its_six_parameters() {
    let dir = data_dir("events-seed");
    let server = Server::start(&dir);
    let api = server.client();
    let port = free_port();
    apply(&api, "platform.yaml", &platform(port)).await;

    let order = json!({
        "environment": "staging", "region": "westeurope", "size": 3,
        "owner": "team-a", "costCenter": "cc-42", "ttl": "72h"
    });
    let http = reqwest::Client::new();
    let response = http
        .post(format!("http://127.0.0.1:{port}/environments"))
        .json(&order)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "success");
    // Another endpoint of the same source: no sensor listens to it, no run.
    let other = http
        .post(format!("http://127.0.0.1:{port}/applications"))
        .json(&json!({"app": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200);

    let items = runs(&api, 1).await;
    assert_eq!(items.len(), 1, "{items:?}");
    let run = &items[0];
    let name = run["metadata"]["name"].as_str().unwrap();
    assert!(name.starts_with("provision-"), "{name}");
    assert_eq!(
        parameters(run),
        [
            ("environment".to_owned(), "staging".to_owned()),
            ("region".to_owned(), "westeurope".to_owned()),
            ("size".to_owned(), "3".to_owned()),
            ("owner".to_owned(), "team-a".to_owned()),
            ("cost-center".to_owned(), "cc-42".to_owned()),
            ("ttl".to_owned(), "72h".to_owned()),
        ]
    );
    assert_eq!(
        run["metadata"]["labels"]["events.switchyard.dev/sensor"],
        "environments"
    );
    // The run goes to the end and says what it was given.
    let mut finished = Value::Null;
    for _ in 0..600 {
        finished = api.run(name).await;
        if support::phase(&finished) == "Succeeded" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(support::phase(&finished), "Succeeded", "{finished}");
    let logs = api.logs(name).await;
    assert!(logs.iter().any(|l| l["text"] == "staging"), "{logs:?}");

    // What happened is on record: the event, the sensor's verdict, the run it started.
    let (status, events) = api
        .call("GET", "/api/v1/events?sensor=environments", None)
        .await;
    assert_eq!(status, 200, "{events}");
    let record = &events["items"][0];
    assert_eq!(record["eventSource"], "platform");
    assert_eq!(record["eventName"], "environments");
    assert_eq!(record["outcome"]["dependencies"][0]["result"], "matched");
    assert_eq!(record["firings"][0]["status"], "done");
    assert_eq!(
        record["firings"][0]["detail"],
        format!("workflow default/{name}")
    );
    let (status, sensor) = api
        .call(
            "GET",
            "/api/v1/namespaces/default/sensors/environments",
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(sensor["status"]["phase"], "Running", "{sensor}");
    assert_eq!(sensor["status"]["pendingDependencies"], json!({}));

    // A second order is a second run; nothing else appears.
    let response = http
        .post(format!("http://127.0.0.1:{port}/environments"))
        .json(&order)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let items = runs(&api, 2).await;
    assert_eq!(items.len(), 2);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(runs(&api, 2).await.len(), 2);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Posts orders `first..` to `url` until `stop` is set; returns the numbers answered 200.
async fn post_orders(
    url: String,
    first: usize,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Vec<usize> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut accepted = Vec::new();
    let mut n = first;
    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
        let order = json!({
            "environment": format!("env-{n}"), "region": "eastus2", "size": 1,
            "owner": "o", "costCenter": "c", "ttl": "1h"
        });
        match http.post(&url).json(&order).send().await {
            Ok(response) if response.status() == 200 => accepted.push(n),
            // Refused while the server is down, or cut off by the kill: outcome unknown.
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
        n += 1;
    }
    accepted
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_accepted_order_starts_exactly_one_run_across_kill_9() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let dir = data_dir("events-kill");
    let port = free_port();
    let mut server = Server::start(&dir);
    apply(&server.client(), "platform.yaml", &platform(port)).await;
    let url = format!("http://127.0.0.1:{port}/environments");

    let mut accepted = Vec::new();
    let mut next = 0;
    for round in 0..3 {
        let stop = Arc::new(AtomicBool::new(false));
        let poster = tokio::spawn(post_orders(url.clone(), next, stop.clone()));
        // Let orders flow, then kill the server in the middle of the stream.
        tokio::time::sleep(Duration::from_millis(400 + 150 * round)).await;
        server.kill9();
        tokio::time::sleep(Duration::from_millis(100)).await;
        server = Server::start(&dir);
        tokio::time::sleep(Duration::from_millis(300)).await;
        stop.store(true, Ordering::SeqCst);
        let round_accepted = poster.await.unwrap();
        next = round_accepted.last().map_or(next + 1000, |n| n + 1000);
        accepted.extend(round_accepted);
    }
    assert!(
        accepted.len() >= 3,
        "too few orders got through: {accepted:?}"
    );

    // Every accepted order has exactly one run; no order has two.
    let api = server.client();
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for _ in 0..1200 {
        let (_, body) = api
            .call("GET", "/api/v1/namespaces/default/workflows", None)
            .await;
        counts.clear();
        for run in body["items"].as_array().cloned().unwrap_or_default() {
            let env = parameters(&run)[0].1.clone();
            *counts.entry(env).or_default() += 1;
        }
        if accepted
            .iter()
            .all(|n| counts.contains_key(&format!("env-{n}")))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let missing: Vec<_> = accepted
        .iter()
        .filter(|n| !counts.contains_key(&format!("env-{n}")))
        .collect();
    assert!(
        missing.is_empty(),
        "accepted orders without a run: {missing:?}"
    );
    let twice: Vec<_> = counts.iter().filter(|(_, c)| **c > 1).collect();
    assert!(twice.is_empty(), "orders with more than one run: {twice:?}");
    eprintln!(
        "kill -9 x3 during a stream of orders: {} accepted (2xx), {} runs, 0 duplicates",
        accepted.len(),
        counts.len()
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_satisfied_sensor_keeps_its_pending_event_across_kill_9() {
    let dir = data_dir("events-pending");
    let port = free_port();
    let manifests = format!(
        r#"
apiVersion: argoproj.io/v1alpha1
kind: EventSource
metadata:
  name: hooks
spec:
  webhook:
    a:
      port: "{port}"
      endpoint: /a
      method: POST
    b:
      port: "{port}"
      endpoint: /b
      method: POST
---
apiVersion: argoproj.io/v1alpha1
kind: Sensor
metadata:
  name: both
spec:
  dependencies:
    - name: d1
      eventSourceName: hooks
      eventName: a
    - name: d2
      eventSourceName: hooks
      eventName: b
  triggers:
    - template:
        name: joined
        conditions: "d1 && d2"
        argoWorkflow:
          operation: submit
          source:
            resource:
              apiVersion: argoproj.io/v1alpha1
              kind: Workflow
              metadata:
                generateName: joined-
              spec:
                entrypoint: main
                arguments:
                  parameters:
                    - name: a
                    - name: b
                templates:
                  - name: main
                    suspend: {{}}
          parameters:
            - src: {{dependencyName: d1, dataKey: body.v}}
              dest: spec.arguments.parameters.0.value
            - src: {{dependencyName: d2, dataKey: body.v}}
              dest: spec.arguments.parameters.1.value
"#
    );
    let server = Server::start(&dir);
    apply(&server.client(), "both.yaml", &manifests).await;
    let http = reqwest::Client::new();
    let post = |path: &'static str, v: &'static str| {
        let http = http.clone();
        async move {
            let response = http
                .post(format!("http://127.0.0.1:{port}{path}"))
                .json(&json!({"v": v}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
        }
    };
    post("/a", "first").await;
    // The sensor waits for d2, and says so.
    let api = server.client();
    let mut sensor = Value::Null;
    for _ in 0..200 {
        let (_, body) = api
            .call("GET", "/api/v1/namespaces/default/sensors/both", None)
            .await;
        sensor = body;
        if sensor["status"]["pendingDependencies"]["joined"].is_array() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(
        sensor["status"]["pendingDependencies"]["joined"][0]["dependency"], "d1",
        "{sensor}"
    );
    server.kill9();

    let server = Server::start(&dir);
    let api = server.client();
    post("/b", "second").await;
    let items = runs(&api, 1).await;
    assert_eq!(items.len(), 1);
    assert_eq!(
        parameters(&items[0]),
        [
            ("a".to_owned(), "first".to_owned()),
            ("b".to_owned(), "second".to_owned())
        ]
    );
    // Fired and cleared: one more `b` alone starts nothing.
    post("/b", "third").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(runs(&api, 1).await.len(), 1);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A one-thread HTTP server on 127.0.0.1 that answers every request `200 ok` and sends each
/// request's body to the returned channel.
fn recording_server() -> (u16, std::sync::mpsc::Receiver<String>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let _ = tx.send(String::from_utf8_lossy(&body).into_owned());
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
        }
    });
    (port, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_http_trigger_is_dead_lettered_beside_triggers_that_succeed() {
    let dir = data_dir("events-http");
    let port = free_port();
    let (receiver_port, bodies) = recording_server();
    let closed = free_port();
    let manifests = format!(
        r#"
apiVersion: argoproj.io/v1alpha1
kind: EventSource
metadata:
  name: hooks
spec:
  webhook:
    a:
      port: "{port}"
      endpoint: /a
      method: POST
---
apiVersion: argoproj.io/v1alpha1
kind: Sensor
metadata:
  name: fanout
spec:
  dependencies:
    - name: d1
      eventSourceName: hooks
      eventName: a
  triggers:
    - template:
        name: unreachable
        http:
          url: http://127.0.0.1:{closed}/down
          method: POST
      retryStrategy:
        steps: 2
        duration: 10ms
      dlqTrigger:
        template:
          name: unreachable-dlq
          log: {{}}
    - template:
        name: metadata
        http:
          url: http://169.254.169.254/latest/meta-data/
          method: GET
    - template:
        name: notify
        http:
          url: http://127.0.0.1:{receiver_port}/hook
          method: POST
          payload:
            - src: {{dependencyName: d1, dataKey: body.name}}
              dest: name
      policy:
        status:
          allow: [200]
    - template:
        name: audit
        log: {{}}
"#
    );
    let server = Server::start_with(&dir, &["--http-trigger-allow", "127.0.0.1/32"]);
    let api = server.client();
    apply(&api, "fanout.yaml", &manifests).await;
    let response = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/a"))
        .json(&json!({"name": "n1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // The working HTTP trigger delivered its payload.
    let body = tokio::task::spawn_blocking(move || bodies.recv_timeout(Duration::from_secs(30)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"name": "n1"})
    );

    // Every trigger settles: two done, two dead letters with their reasons.
    let mut firings = Vec::new();
    for _ in 0..600 {
        let (_, events) = api.call("GET", "/api/v1/events?sensor=fanout", None).await;
        firings = events["items"][0]["firings"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if firings.len() == 4 && firings.iter().all(|f| f["status"] != "pending") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let by_trigger = |name: &str| {
        firings
            .iter()
            .find(|f| f["trigger"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no firing of {name}: {firings:?}"))
    };
    assert_eq!(by_trigger("audit")["status"], "done");
    assert_eq!(by_trigger("notify")["status"], "done");
    assert!(
        by_trigger("notify")["detail"]
            .as_str()
            .unwrap()
            .contains("answered 200")
    );
    let unreachable = by_trigger("unreachable");
    assert_eq!(unreachable["status"], "dead", "{unreachable}");
    assert_eq!(
        unreachable["attempts"], 1,
        "one retry, then given up: {unreachable}"
    );
    let detail = unreachable["detail"].as_str().unwrap();
    assert!(detail.starts_with("after 2 attempt(s)"), "{detail}");
    assert!(detail.ends_with("; dlqTrigger: logged"), "{detail}");
    let metadata = by_trigger("metadata");
    assert_eq!(metadata["status"], "dead");
    assert!(
        metadata["detail"]
            .as_str()
            .unwrap()
            .contains("internal address"),
        "{metadata}"
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_calendar_fires_every_tick_once_and_catches_up_after_kill_9() {
    let dir = data_dir("events-calendar");
    let manifests = r#"
apiVersion: argoproj.io/v1alpha1
kind: EventSource
metadata:
  name: clock
spec:
  calendar:
    tick:
      interval: 1s
      metadata:
        team: platform
      persistence:
        catchup:
          enabled: true
          maxDuration: 1m
---
apiVersion: argoproj.io/v1alpha1
kind: Sensor
metadata:
  name: ticks
spec:
  dependencies:
    - name: t
      eventSourceName: clock
      eventName: tick
  triggers:
    - template:
        name: record
        argoWorkflow:
          operation: submit
          source:
            resource:
              apiVersion: argoproj.io/v1alpha1
              kind: Workflow
              metadata:
                generateName: tick-
              spec:
                entrypoint: main
                arguments:
                  parameters:
                    - name: at
                    - name: team
                templates:
                  - name: main
                    suspend: {}
          parameters:
            - src: {dependencyName: t, dataKey: eventTime}
              dest: spec.arguments.parameters.0.value
            - src: {dependencyName: t, dataKey: metadata.team}
              dest: spec.arguments.parameters.1.value
"#;
    let server = Server::start(&dir);
    apply(&server.client(), "clock.yaml", manifests).await;
    runs(&server.client(), 2).await;
    server.kill9();
    // Down for a few ticks: they are caught up after the restart.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let server = Server::start(&dir);
    let api = server.client();
    let before_restart_plus = runs(&api, 6).await.len();
    assert!(before_restart_plus >= 6);

    let mut times: Vec<String> = runs(&api, 6)
        .await
        .iter()
        .map(|r| {
            let params = parameters(r);
            assert_eq!(params[1], ("team".to_owned(), "platform".to_owned()));
            params[0].1.clone()
        })
        .collect();
    times.sort();
    let unique: std::collections::BTreeSet<&String> = times.iter().collect();
    assert_eq!(unique.len(), times.len(), "a tick fired twice: {times:?}");
    // Consecutive ticks one second apart: none was lost while the server was down.
    let seconds: Vec<i64> = times
        .iter()
        .map(|t| {
            let t = &t[..19];
            chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S")
                .unwrap()
                .and_utc()
                .timestamp()
        })
        .collect();
    for pair in seconds.windows(2) {
        assert_eq!(pair[1] - pair[0], 1, "ticks {times:?}");
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A webhook whose requests must be signed (HMAC-SHA256 of the body, GitHub style), its key
/// in a Secret; and a CloudEvent sender's repeated id recorded once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_webhooks_and_repeated_cloudevents() {
    let dir = data_dir("events-hmac");
    let server = Server::start(&dir);
    let api = server.client();
    let port = free_port();
    apply(
        &api,
        "signed.yaml",
        &format!(
            r#"
apiVersion: v1
kind: Secret
metadata:
  name: hook-key
stringData:
  key: It's a Secret to Everybody
---
apiVersion: argoproj.io/v1alpha1
kind: EventSource
metadata:
  name: git
spec:
  webhook:
    push:
      port: "{port}"
      endpoint: /push
      method: POST
      hmac:
        secret: {{name: hook-key, key: key}}
"#
        ),
    )
    .await;
    let http = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/push");
    let body = r#"{"ref":"main"}"#;
    let post = |signature: &str, id: &str| {
        http.post(&url)
            .header("content-type", "application/json")
            .header("X-Hub-Signature-256", signature)
            .header("ce-id", id)
            .header("ce-source", "git.example.com")
            .header("ce-type", "push")
            .header("ce-specversion", "1.0")
            .body(body)
            .send()
    };
    let unsigned = http.post(&url).body(body).send().await.unwrap();
    assert_eq!(unsigned.status().as_u16(), 401);
    let wrong = post("sha256=00", "push-1").await.unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    // HMAC-SHA256 of the body under the Secret's value, computed independently.
    let computed = {
        use std::process::Command;
        let out = Command::new("python3")
            .args([
                "-c",
                "import hmac,hashlib,sys;print('sha256='+hmac.new(sys.argv[1].encode(),sys.argv[2].encode(),hashlib.sha256).hexdigest())",
                "It's a Secret to Everybody",
                body,
            ])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    assert!(
        computed.starts_with("sha256=") && computed.len() == 71,
        "{computed}"
    );
    for _ in 0..2 {
        let ok = post(&computed, "push-1").await.unwrap();
        assert_eq!(ok.status().as_u16(), 200);
    }
    let (_, log) = api
        .call(
            "GET",
            "/api/v1/namespaces/default/eventsources/git/log",
            None,
        )
        .await;
    let accepted: Vec<&Value> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["message"] == "webhook request accepted")
        .collect();
    assert_eq!(accepted.len(), 2, "{log:#}");
    assert!(accepted[0]["fields"].as_str().unwrap().contains("Recorded"));
    assert!(
        accepted[1]["fields"]
            .as_str()
            .unwrap()
            .contains("Duplicate")
    );
}

/// The webhook EventSource `intake` (`POST /items` on `port`) the backpressure tests post to.
fn intake(port: u16) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: EventSource\nmetadata:\n  name: intake\nspec:\n  \
         webhook:\n    items:\n      port: \"{port}\"\n      endpoint: /items\n      method: POST\n"
    )
}

/// Sensors far slower than senders: once the events waiting for the slowest sensor reach
/// `--max-event-backlog`, the webhook answers 429 with `Retry-After` instead of taking more,
/// and takes events again once the sensor caught up; every accepted event is consumed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_refuses_events_while_sensors_are_behind_and_takes_them_again_after() {
    let dir = data_dir("events-backlog");
    let server = Server::start_with(&dir, &["--max-event-backlog", "5"]);
    let api = server.client();
    let port = free_port();
    // The transform is deliberately slow: a jq loop of a million steps per event.
    let manifests = format!(
        r#"{intake}---
apiVersion: argoproj.io/v1alpha1
kind: Sensor
metadata:
  name: slow
spec:
  dependencies:
    - name: item
      eventSourceName: intake
      eventName: items
      transform:
        jq: 'reduce range(0; 1000000) as $i (.; .)'
  triggers:
    - template:
        name: note
        log: {{}}
"#,
        intake = intake(port)
    );
    apply(&api, "slow.yaml", &manifests).await;
    let http = reqwest::Client::new();
    let (mut accepted, refusal) = post_until_refused(&http, port, Duration::from_millis(20)).await;
    assert!(
        refusal.contains("events wait for sensors (the limit is 5)"),
        "{refusal}"
    );
    // The sensor catches up; the webhook takes events again.
    post_until_taken(&http, port).await;
    accepted += 1;
    // Every accepted event is consumed.
    for _ in 0..1200 {
        let (_, events) = api.call("GET", "/api/v1/events?limit=1000", None).await;
        let consumed = events["items"].as_array().map_or(0, Vec::len);
        if consumed >= accepted {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("not every accepted event was consumed ({accepted} accepted)");
}

/// Runs far slower than events: at `--max-active-runs` the sensor takes no more events, so
/// they wait on the bus until `--max-event-backlog` refuses new ones with 429, and submits
/// are refused too; once the runs finish, the sensor takes events again and every accepted
/// event gets its run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_in_progress_hold_the_sensor_back_until_they_finish() {
    let dir = data_dir("events-active-runs");
    let release = dir.join("release");
    let server = Server::start_with(
        &dir,
        &["--max-active-runs", "2", "--max-event-backlog", "3"],
    );
    let api = server.client();
    let port = free_port();
    // Each run's one step waits until the test creates the `release` file (two minutes at most,
    // so a failed test leaves no step behind for long).
    let manifests = format!(
        r#"{intake}---
apiVersion: argoproj.io/v1alpha1
kind: Sensor
metadata:
  name: starter
spec:
  dependencies:
    - name: item
      eventSourceName: intake
      eventName: items
  triggers:
    - template:
        name: held
        argoWorkflow:
          operation: submit
          source:
            resource:
              apiVersion: argoproj.io/v1alpha1
              kind: Workflow
              metadata:
                generateName: held-
              spec:
                entrypoint: main
                templates:
                  - name: main
                    container:
                      image: alpine
                      command: [sh, -c, 'i=0; while [ ! -e "{release}" ] && [ $i -lt 2400 ]; do i=$((i+1)); sleep 0.05; done']
"#,
        intake = intake(port),
        release = release.display()
    );
    apply(&api, "held.yaml", &manifests).await;
    let http = reqwest::Client::new();
    let (accepted, _) = post_until_refused(&http, port, Duration::from_millis(50)).await;
    // The sensor holds back: the runs stay as they are while the steps wait.
    let held = runs(&api, 2).await.len();
    assert!(held < accepted, "{held} runs for {accepted} events");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        runs(&api, 2).await.len(),
        held,
        "the sensor took events at the limit"
    );
    let (status, body) = api
        .call(
            "POST",
            "/api/v1/namespaces/default/workflows",
            Some(json!({"source": {"name": "one.yaml", "content":
                "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata:\n  name: one\nspec:\n  entrypoint: main\n  templates:\n    - name: main\n      suspend: {}\n"}})),
        )
        .await;
    assert_eq!(status, 429, "{body}");
    assert!(
        body.to_string()
            .contains("runs are in progress (the limit is 2)"),
        "{body}"
    );
    // The steps finish: every accepted event gets its run, and events are taken again.
    std::fs::write(&release, b"").unwrap();
    for _ in 0..1200 {
        let items = runs(&api, accepted).await;
        let succeeded = items
            .iter()
            .filter(|r| r["status"]["phase"] == "Succeeded")
            .count();
        if succeeded == accepted {
            assert_eq!(items.len(), accepted, "one run per accepted event");
            // The event backlog is measured twice a second: the webhook takes events again.
            post_until_taken(&http, port).await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the held runs did not all finish");
}
