//! The acceptance story on a real `switchyard up` over real HTTP, with the bundled platform
//! (its webhook moved to a free port so tests can run side by side): a bad order gets a 422
//! naming each bad field, a good one 202; the run waits at approve with the plan visible; the
//! requester cannot approve, an approver can; the order ends Succeeded with every step's log
//! kept; a POST straight to the webhook does the same; a hostile field value stays data.

#![allow(clippy::unwrap_used)]

mod support;

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use support::{Api, Server, data_dir, free_port, phase, platform_copy, token};

/// Polls the order until `done` holds; panics with the last view after a minute.
async fn order_until(api: &Api, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..600 {
        let (status, order) = api.call("GET", &format!("/api/v1/orders/{id}"), None).await;
        assert_eq!(status, 200, "{order}");
        if done(&order) {
            return order;
        }
        last = order;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("order {id} never got there: {last:#}");
}

fn order_body(environment: &str, requester: &str) -> Value {
    json!({
        "region": "westeurope",
        "cloud_provider": "azure",
        "resource_type": "kubernetes",
        "environment": environment,
        "requester_name": requester,
        "requester_email": "ada@example.com",
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_story_through_the_platform_api() {
    story("platform-story", &[]).await;
}

/// Whether something listens at `addr`; outside CI a test without it is skipped (with a
/// message), in CI (`CI=true`) it fails.
fn service(name: &str, addr: &str) -> bool {
    if std::net::TcpStream::connect(addr).is_ok() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{name} must be reachable at {addr} in CI"
    );
    eprintln!("skipped: {name} is not reachable at {addr}");
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_story_on_postgresql_and_nats_jetstream() {
    if !service("PostgreSQL", "127.0.0.1:5432") || !service("NATS", "127.0.0.1:4222") {
        return;
    }
    let (backend, schema) = distributed_args("story");
    let args: Vec<&str> = backend.iter().map(String::as_str).collect();
    story("platform-story-distributed", &args).await;
    // Best effort: the schema goes; the stream keeps only what its limits allow.
    drop_schema(&schema);
}

/// A schema and a stream of this run's own, so runs never collide.
fn distributed_args(tag: &str) -> (Vec<String>, String) {
    let unique = format!(
        "{tag}_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
            % 1_000_000_000
    );
    let schema = format!("sy_{unique}");
    let args = vec![
        "--database".to_owned(),
        "postgres://postgres@127.0.0.1:5432/test".to_owned(),
        "--database-schema".to_owned(),
        schema.clone(),
        "--nats".to_owned(),
        "nats://127.0.0.1:4222".to_owned(),
        "--nats-stream".to_owned(),
        format!("SY_{}", unique.to_uppercase()),
    ];
    (args, schema)
}

fn drop_schema(schema: &str) {
    let _ = std::process::Command::new("psql")
        .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-qc"])
        .arg(format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .output();
}

/// The acceptance story on three processes sharing PostgreSQL and NATS JetStream: A (every
/// role, first, so it drives the runs), B (every role: its webhook listener shares A's port)
/// and C (`--role api,controller,worker`: no webhook listener, no sensors). An order placed
/// through C and one posted straight to the webhook port both start one run each, which wait
/// for approval; the webhook one is approved through B while A drives the runs (the command
/// travels to A). Then A is killed with SIGKILL: B or C takes the controller lease within its
/// TTL, the order's run still waits, and the approval through C completes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_share_the_platform_and_the_runs_outlive_the_one_driving_them() {
    if !service("PostgreSQL", "127.0.0.1:5432") || !service("NATS", "127.0.0.1:4222") {
        return;
    }
    let (backend, schema) = distributed_args("three");
    let a_dir = data_dir("platform-three-a");
    let port = free_port();
    let platform = platform_copy(&a_dir, port);
    let mut args: Vec<&str> = vec!["--platform", platform.to_str().unwrap()];
    args.extend(backend.iter().map(String::as_str));

    let a = Server::start_with(&a_dir, &args);
    let admin = a.client();
    let alice_token = token(&admin, "alice", &["orderer"]).await;
    let bob_token = token(&admin, "bob", &["approver"]).await;

    // The other processes: their own data directories, the platform's key for sealed
    // Secrets and its admin token (both belong to the platform, not to one process).
    let peer = |name: &str| {
        let dir = data_dir(name);
        for file in ["secret.key", "admin.token"] {
            std::fs::copy(a_dir.join(file), dir.join(file)).unwrap();
        }
        dir
    };
    let b_dir = peer("platform-three-b");
    let b = Server::start_with(&b_dir, &args);
    let c_dir = peer("platform-three-c");
    let mut c_args = args.clone();
    c_args.extend(["--role", "api,controller,worker"]);
    let c = Server::start_with(&c_dir, &c_args);

    // An order through C, which serves the API but no webhook and no sensor.
    let alice = c.client().with_token(&alice_token);
    let (status, _, accepted) = alice
        .post_raw(
            "/environments",
            &order_body("team-k", "Ada").to_string(),
            &[],
        )
        .await;
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["id"].as_str().unwrap().to_owned();
    // Followed through B.
    let bob_b = b.client().with_token(&bob_token);
    let order = order_until(&bob_b, &id, |o| o["phase"] == "WaitingForApproval").await;
    assert_eq!(order["runs"].as_array().unwrap().len(), 1, "{order:#}");

    // Straight to the shared webhook port: one run, approved through B while A drives.
    let http = reqwest::Client::new();
    let answer = http
        .post(format!("http://127.0.0.1:{port}/environments"))
        .json(&order_body("team-w", "Wes"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    let admin_b = b.client();
    let webhook_run = run_waiting_for(&admin_b, "team-w").await;
    let (status, body) = admin_b
        .call(
            "PUT",
            &format!("/api/v1/namespaces/argo-events/workflows/{webhook_run}/resume"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    run_until_succeeded(&admin_b, &webhook_run).await;

    // The process driving the runs dies while the order's run waits for approval.
    a.kill9();
    let bob_c = c.client().with_token(&bob_token);
    let order = order_until(&bob_c, &id, |o| o["phase"] == "WaitingForApproval").await;
    assert_eq!(order["runs"].as_array().unwrap().len(), 1);
    // The approval waits for the next controller if need be (up to the lease's TTL).
    let (status, body) = bob_c
        .call(
            "POST",
            &format!("/api/v1/orders/{id}/approve"),
            Some(json!({"comment": "approved with one process down"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let done = order_until(&bob_c, &id, |o| o["phase"] == "Succeeded").await;
    assert_eq!(done["runs"].as_array().unwrap().len(), 1, "{done:#}");

    // Exactly one run per order, whatever process did what.
    let (_, runs) = admin_b
        .call("GET", "/api/v1/namespaces/argo-events/workflows", None)
        .await;
    let runs = runs["items"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "{runs:#?}");
    drop(b);
    drop(c);
    drop_schema(&schema);
}

/// Runs in progress are counted by the process driving them and read from the store by the
/// others: an api-only process refuses submits with 429 while the driving process is at
/// `--max-active-runs`, and takes them again once the run finished.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_process_refuses_submits_while_the_driving_process_is_at_its_run_limit() {
    if !service("PostgreSQL", "127.0.0.1:5432") || !service("NATS", "127.0.0.1:4222") {
        return;
    }
    let (backend, schema) = distributed_args("limit");
    let a_dir = data_dir("platform-limit-a");
    let release = a_dir.join("release");
    let mut args: Vec<&str> = vec!["--max-active-runs", "1"];
    args.extend(backend.iter().map(String::as_str));
    let a = Server::start_with(&a_dir, &args);
    let b_dir = data_dir("platform-limit-b");
    for file in ["secret.key", "admin.token"] {
        std::fs::copy(a_dir.join(file), b_dir.join(file)).unwrap();
    }
    let mut b_args = args.clone();
    b_args.extend(["--role", "api"]);
    let b = Server::start_with(&b_dir, &b_args);
    let held = format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata:\n  name: held\nspec:\n  \
         entrypoint: main\n  templates:\n    - name: main\n      container:\n        image: alpine\n        \
         command: [sh, -c, 'i=0; while [ ! -e \"{}\" ] && [ $i -lt 2400 ]; do i=$((i+1)); sleep 0.05; done']\n",
        release.display()
    );
    a.client().submit("held.yaml", &held).await.unwrap();
    let waiting = "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata:\n  generateName: waiting-\n\
                   spec:\n  entrypoint: main\n  templates:\n    - name: main\n      suspend: {}\n";
    let submit = |api: Api| async move {
        api.call(
            "POST",
            "/api/v1/namespaces/default/workflows",
            Some(json!({"source": {"name": "waiting.yaml", "content": waiting}})),
        )
        .await
    };
    let mut refused = None;
    for _ in 0..200 {
        let (status, body) = submit(b.client()).await;
        if status == 429 {
            refused = Some(body);
            break;
        }
        assert_eq!(status, 201, "{body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let refused = refused.expect("the api process never heard of the driving process's limit");
    assert!(
        refused
            .to_string()
            .contains("runs are in progress (the limit is 1)"),
        "{refused}"
    );
    std::fs::write(&release, b"").unwrap();
    for _ in 0..400 {
        let (status, body) = submit(b.client()).await;
        if status == 201 {
            drop(a);
            drop(b);
            drop_schema(&schema);
            return;
        }
        assert_eq!(status, 429, "{body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the api process kept refusing after the run finished");
}

/// A process that loses the controller lease (another holder took it: here, written into
/// the store as a process paused past its lease would find it) stops driving the runs and
/// stands by instead of exiting; a run submitted meanwhile waits, a step keeps running and
/// ends. Once the other holder's lease expires, the process takes the lease back and drives
/// both runs to their end, each step once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_that_loses_the_controller_lease_stands_by_and_drives_again() {
    if !service("PostgreSQL", "127.0.0.1:5432") || !service("NATS", "127.0.0.1:4222") {
        return;
    }
    let (backend, schema) = distributed_args("standby");
    let dir = data_dir("platform-standby");
    let release = dir.join("release");
    let starts = dir.join("starts");
    let args: Vec<&str> = backend.iter().map(String::as_str).collect();
    let a = Server::start_with(&dir, &args);
    let api = a.client();
    let held = format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata:\n  name: held\nspec:\n  \
         entrypoint: main\n  templates:\n    - name: main\n      container:\n        image: alpine\n        \
         command: [sh, -c, 'echo started >> \"{}\"; i=0; while [ ! -e \"{}\" ] && [ $i -lt 2400 ]; do i=$((i+1)); sleep 0.05; done']\n",
        starts.display(),
        release.display()
    );
    api.submit("held.yaml", &held).await.unwrap();
    for _ in 0..600 {
        if starts.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(starts.exists(), "the held step never started");

    // Another holder takes the lease, for 12 s from now.
    let stolen = std::process::Command::new("psql")
        .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-qc"])
        .arg(format!(
            "UPDATE {schema}.leases SET holder = 'elsewhere/paused', token = token + 1, \
             expires_at = now() + interval '12 seconds' WHERE name = 'controller'"
        ))
        .output()
        .unwrap();
    assert!(stolen.status.success(), "{stolen:?}");
    // A renewal comes every 5 s: by then the process has heard it lost the lease.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let waiting = "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata:\n  name: meanwhile\n\
                   spec:\n  entrypoint: main\n  templates:\n    - name: main\n      container:\n        \
                   image: alpine\n        command: [echo, hello]\n";
    api.submit("meanwhile.yaml", waiting).await.unwrap();
    std::fs::write(&release, b"").unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Nobody drives the runs now: the new one waits, the held one does not record its end.
    assert_eq!(phase(&api.run("meanwhile").await), "Pending");
    assert_eq!(phase(&api.run("held").await), "Running");

    // The other holder's lease expires; this process takes it back and drives both runs.
    let mut last = (String::new(), String::new());
    for _ in 0..600 {
        let (h, m) = (api.run("held").await, api.run("meanwhile").await);
        last = (phase(&h).to_owned(), phase(&m).to_owned());
        if last == ("Succeeded".to_owned(), "Succeeded".to_owned()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        last,
        ("Succeeded".to_owned(), "Succeeded".to_owned()),
        "held, meanwhile"
    );
    let started = std::fs::read_to_string(&starts).unwrap();
    assert_eq!(started.lines().count(), 1, "the held step ran once");
    drop(a);
    drop_schema(&schema);
}

/// The name of the run started for `environment` once it waits at its approval.
async fn run_waiting_for(api: &Api, environment: &str) -> String {
    for _ in 0..600 {
        let (_, runs) = api
            .call("GET", "/api/v1/namespaces/argo-events/workflows", None)
            .await;
        let waiting = runs["items"].as_array().and_then(|items| {
            items.iter().find(|r| {
                r["spec"]["arguments"]["parameters"]
                    .as_array()
                    .is_some_and(|ps| ps.iter().any(|p| p["value"] == environment))
                    && r["status"]["nodes"].as_object().is_some_and(|ns| {
                        ns.values()
                            .any(|n| n["type"] == "Suspend" && n["phase"] == "Running")
                    })
            })
        });
        if let Some(run) = waiting {
            return run["metadata"]["name"].as_str().unwrap().to_owned();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no run for {environment} waits at its approval");
}

async fn run_until_succeeded(api: &Api, name: &str) {
    let mut last = Value::Null;
    for _ in 0..600 {
        let (_, run) = api
            .call(
                "GET",
                &format!("/api/v1/namespaces/argo-events/workflows/{name}"),
                None,
            )
            .await;
        if run["status"]["phase"] == "Succeeded" {
            return;
        }
        last = run;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("run {name} did not succeed: {:#}", last["status"]);
}

/// Several processes share a platform only through PostgreSQL and NATS: a role without them
/// is a usage error that names what is missing.
#[test]
fn roles_need_the_shared_backends() {
    let dir = data_dir("platform-roles");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args([
            "up",
            "--listen",
            "127.0.0.1:0",
            "--no-platform",
            "--role",
            "api",
        ])
        .env("SWITCHYARD_DATA_DIR", &dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--role api needs --database and --nats"),
        "{stderr}"
    );
}

/// The acceptance story on a server started with `extra` arguments (its backends).
async fn story(name: &str, extra: &[&str]) {
    let dir = data_dir(name);
    let port = free_port();
    let platform = platform_copy(&dir, port);
    let mut args = vec!["--platform", platform.to_str().unwrap()];
    args.extend_from_slice(extra);
    let server = Server::start_with(&dir, &args);
    let admin = server.client();
    let alice = admin.with_token(&token(&admin, "alice", &["orderer", "approver"]).await);
    let bob = admin.with_token(&token(&admin, "bob", &["approver"]).await);
    let eve = admin.with_token(&token(&admin, "eve", &["orderer"]).await);

    // No token: 401; the docs and health need none.
    let anonymous = admin.with_token("syd_nope");
    let (status, _, _) = anonymous.post_raw("/environments", "{}", &[]).await;
    assert_eq!(status, 401);

    // 3. A bad order: every bad field named, FastAPI style; nothing recorded.
    let bad = json!({
        "region": "mars",
        "environment": "Team_A",
        "requester_email": "not-an-email",
        "colour": "blue",
    });
    let (status, _, body) = alice.post_raw("/environments", &bad.to_string(), &[]).await;
    assert_eq!(status, 422, "{body}");
    let locs: Vec<String> = body["detail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            d["loc"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
                .join(".")
        })
        .collect();
    for want in [
        "body.region",
        "body.environment",
        "body.requester_name",
        "body.requester_email",
        "body.colour",
    ] {
        assert!(
            locs.contains(&want.to_owned()),
            "{want} missing in {body:#}"
        );
    }
    let missing = body["detail"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["loc"] == json!(["body", "requester_name"]))
        .unwrap();
    assert_eq!(missing["type"], "missing");
    assert_eq!(missing["msg"], "Field required");
    let (status, _, body) = alice.post_raw("/environments", "{not json", &[]).await;
    assert_eq!(status, 422);
    assert_eq!(body["detail"][0]["type"], "json_invalid", "{body}");
    let (_, list) = admin.call("GET", "/api/v1/orders", None).await;
    assert_eq!(list["items"], json!([]), "a refused order records nothing");

    // A role that may not order: 403.
    let (status, _, _) = bob
        .post_raw(
            "/environments",
            &order_body("team-b", "Bob").to_string(),
            &[],
        )
        .await;
    assert_eq!(status, 403);

    // 3. A good order: 202, an id, a Location; the same Idempotency-Key gives it again.
    let good = order_body("team-a-dev", "Ada").to_string();
    let key = [("Idempotency-Key", "order-1")];
    let (status, location, accepted) = alice.post_raw("/environments", &good, &key).await;
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["id"].as_str().unwrap().to_owned();
    assert_eq!(
        location.as_deref(),
        Some(format!("/api/v1/orders/{id}").as_str())
    );
    let (status, _, again) = alice.post_raw("/environments", &good, &key).await;
    assert_eq!((status, again["id"].as_str()), (202, Some(id.as_str())));
    let other = order_body("team-c", "Ada").to_string();
    let (status, _, _) = alice.post_raw("/environments", &other, &key).await;
    assert_eq!(status, 409, "a key reused for another order");

    // 4. The event reaches the sensor, the run starts with the six parameters, the plan runs
    // and its output is visible, and the run waits at approve.
    let order = order_until(&alice, &id, |o| o["phase"] == "WaitingForApproval").await;
    let run = &order["runs"][0];
    let plan = run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "terraform-plan")
        .unwrap();
    assert_eq!(plan["phase"], "Succeeded");
    assert!(
        plan["outputs"]["result"]
            .as_str()
            .is_some_and(|r| r.contains("team-a-dev")),
        "the plan names the environment: {plan:#}"
    );
    let parameters: Vec<&str> = plan["inputs"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for p in [
        "region",
        "cloud_provider",
        "resource_type",
        "environment",
        "requester_name",
        "requester_email",
    ] {
        assert!(parameters.contains(&p), "{p} in {parameters:?}");
    }
    assert_eq!(run["waitingAt"], json!(["approve"]));
    // The live view: server-sent events, the first one the order as it stands.
    let mut stream = reqwest::Client::new()
        .get(format!("{}/api/v1/orders/{id}/events", alice.url()))
        .bearer_auth(alice.token())
        .send()
        .await
        .unwrap();
    assert_eq!(
        stream.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let mut text = String::new();
    while !text.contains("\n\n") {
        let chunk = stream.chunk().await.unwrap().unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(text.starts_with("event: order\ndata: {"), "{text}");
    assert!(text.contains("\"phase\":\"WaitingForApproval\""), "{text}");
    drop(stream);
    let (_, events) = admin
        .call("GET", "/api/v1/events?source=webhook", None)
        .await;
    assert_eq!(
        events["items"][0]["eventId"],
        json!(id),
        "the order is the event"
    );

    // 5. The requester cannot approve their own order; an approver can (with a comment).
    let approve = format!("/api/v1/orders/{id}/approve");
    let (status, body) = alice
        .call(
            "POST",
            &approve,
            Some(json!({"comment": "mine, looks fine"})),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("placed this order")
    );
    let (status, _) = bob.call("POST", &approve, Some(json!({}))).await;
    assert_eq!(status, 400, "a comment is required");
    let (status, body) = bob
        .call("POST", &approve, Some(json!({"comment": "plan reviewed"})))
        .await;
    assert_eq!(status, 200, "{body}");
    let order = order_until(&eve, &id, |o| o["phase"] == "Succeeded").await;
    assert_eq!(order["approvals"][0]["by"], "bob");
    assert_eq!(order["approvals"][0]["comment"], "plan reviewed");
    let run_name = order["runs"][0]["name"].as_str().unwrap().to_owned();
    let run = admin
        .call(
            "GET",
            &format!("/api/v1/namespaces/argo-events/workflows/{run_name}"),
            None,
        )
        .await
        .1;
    assert_eq!(run["status"]["phase"], "Succeeded");
    // Every step's log is kept.
    let (status, log) = admin
        .call(
            "GET",
            &format!("/api/v1/namespaces/argo-events/workflows/{run_name}/log"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let log = log.as_str().unwrap_or_default().to_owned();
    assert!(
        log.contains("terraform-plan") && log.contains("terraform-apply"),
        "{log}"
    );
    let (status, _) = bob
        .call("POST", &approve, Some(json!({"comment": "again"})))
        .await;
    assert_eq!(status, 409, "nothing waits any more");

    // Orders list and filter.
    let (_, list) = eve
        .call("GET", "/api/v1/orders?phase=Succeeded", None)
        .await;
    assert_eq!(list["items"][0]["id"], json!(id));

    // A hostile value in a free-text field reaches the step as data: no file appears. The
    // same value where the schema forbids it is refused.
    let marker = std::env::temp_dir().join(format!("pwned-{}", std::process::id()));
    let hostile = format!("'; touch {} #", marker.display());
    let mut body = order_body("team-x", "Eve");
    body["environment"] = json!(hostile);
    let (status, _, refused) = eve.post_raw("/environments", &body.to_string(), &[]).await;
    assert_eq!(status, 422, "{refused}");
    body["environment"] = json!("team-x");
    body["requester_name"] = json!(hostile);
    let (status, _, accepted) = eve.post_raw("/environments", &body.to_string(), &[]).await;
    assert_eq!(status, 202, "{accepted}");
    let hostile_id = accepted["id"].as_str().unwrap().to_owned();
    order_until(&eve, &hostile_id, |o| o["phase"] == "WaitingForApproval").await;
    let (status, _) = alice
        .call(
            "POST",
            &format!("/api/v1/orders/{hostile_id}/reject"),
            Some(json!({"comment": "not this one"})),
        )
        .await;
    assert_eq!(status, 200);
    let rejected = order_until(&eve, &hostile_id, |o| o["phase"] == "Failed").await;
    assert!(
        rejected["message"]
            .as_str()
            .is_some_and(|m| m.contains("rejected by alice")),
        "{rejected:#}"
    );
    assert!(!marker.exists(), "{} was created", marker.display());

    // 6. Straight to the webhook, the seed's own path: a run starts the same way.
    let http = reqwest::Client::new();
    let answer = http
        .post(format!("http://127.0.0.1:{port}/environments"))
        .json(&order_body("team-d", "Dora"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    let mut waiting = None;
    for _ in 0..600 {
        let (_, runs) = admin
            .call("GET", "/api/v1/namespaces/argo-events/workflows", None)
            .await;
        waiting = runs["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| {
                r["spec"]["arguments"]["parameters"]
                    .as_array()
                    .is_some_and(|ps| ps.iter().any(|p| p["value"] == "team-d"))
                    && r["status"]["nodes"].as_object().is_some_and(|ns| {
                        ns.values()
                            .any(|n| n["type"] == "Suspend" && n["phase"] == "Running")
                    })
            })
            .map(|r| r["metadata"]["name"].as_str().unwrap().to_owned());
        if waiting.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let waiting = waiting.expect("the webhook order's run waits at approve");
    // What the sensor and the EventSource logged is kept per object.
    let (status, log) = admin
        .call(
            "GET",
            "/api/v1/namespaces/argo-events/sensors/environments/log",
            None,
        )
        .await;
    assert_eq!(status, 200, "{log}");
    let messages: Vec<&str> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["message"].as_str())
        .collect();
    assert!(messages.contains(&"sensor started"), "{messages:?}");
    assert!(messages.contains(&"trigger carried out"), "{messages:?}");
    let (_, log) = admin
        .call(
            "GET",
            "/api/v1/namespaces/argo-events/eventsources/webhook/log",
            None,
        )
        .await;
    assert!(
        log["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["message"] == "webhook request accepted"),
        "{log:#}"
    );
    let (status, _) = admin
        .call(
            "PUT",
            &format!("/api/v1/namespaces/argo-events/workflows/{waiting}/resume"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200);
    for _ in 0..600 {
        let (_, run) = admin
            .call(
                "GET",
                &format!("/api/v1/namespaces/argo-events/workflows/{waiting}"),
                None,
            )
            .await;
        if run["status"]["phase"] == "Succeeded" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the webhook order's run did not succeed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_describes_itself() {
    let dir = data_dir("platform-docs");
    let port = free_port();
    let platform = platform_copy(&dir, port);
    let server = Server::start_with(&dir, &["--platform", platform.to_str().unwrap()]);
    let api = server.client();
    let http = reqwest::Client::new();

    let doc: Value = http
        .get(format!("{}/openapi.json", api.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/environments",
        "/applications",
        "/configuration",
        "/api/v1/orders",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} documented");
    }
    // The reference validator, where Python has it (`.ci/run` installs it).
    let file = dir.join("openapi.json");
    std::fs::write(&file, doc.to_string()).unwrap();
    let checked = std::process::Command::new("python3")
        .args([
            "-c",
            "import json, sys\n\
             from openapi_spec_validator import validate\n\
             validate(json.load(open(sys.argv[1])))",
        ])
        .arg(&file)
        .output();
    match checked {
        Ok(out) if out.status.success() => {}
        Ok(out) if String::from_utf8_lossy(&out.stderr).contains("No module named") => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI must validate the OpenAPI document: pip install openapi-spec-validator"
            );
            eprintln!("skipped: openapi-spec-validator is not installed");
        }
        Ok(out) => panic!(
            "the OpenAPI document does not validate:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => panic!("cannot run python3: {e}"),
    }
    let page = http
        .get(format!("{}/docs/", api.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(
        !html.contains("https://"),
        "the docs page loads nothing from elsewhere"
    );
}

/// Debian's Chromium, where installed (`.ci/run` installs it).
fn chromium() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docs_page_renders_in_a_browser_without_the_network() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI must check /docs in Chromium: install Debian's `chromium` package"
        );
        eprintln!("skipped: Chromium is not installed (apt-get install chromium)");
        return;
    };
    let dir = data_dir("platform-browser");
    let port = free_port();
    let platform = platform_copy(&dir, port);
    let server = Server::start_with(&dir, &["--platform", platform.to_str().unwrap()]);
    let url = format!("{}/docs/", server.client().url());
    let profile = dir.join("chromium-profile");
    let dom = tokio::task::spawn_blocking(move || {
        std::process::Command::new(browser)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                // Time for the page's scripts to fetch /openapi.json and render it.
                "--virtual-time-budget=15000",
                // Every host but the server's resolves to nothing: the page must need no other.
                "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
                "--dump-dom",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(url)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let html = String::from_utf8_lossy(&dom.stdout);
    assert!(
        html.contains("Switchyard platform API"),
        "the page shows the API's title:\n{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    for path in [
        "/environments",
        "/applications",
        "/configuration",
        "/api/v1/orders",
    ] {
        assert!(
            html.contains(&format!("data-path=\"{path}\"")),
            "the page lists {path}"
        );
    }
}
