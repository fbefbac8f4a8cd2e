//! The controller shell against the SQLite store and a scripted in-memory step runner: runs
//! reach their end, commands take effect, a restart continues runs without running a step
//! twice, deletes stop steps, logs are kept, and Secret values stay out of the run state.
//!
//! The runner is scripted by each step's command: `ok ARGS...` succeeds at once printing
//! ARGS, `fail` exits 1, `hold` runs until the test releases it, `flaky` fails while the
//! runner's `flaky_fails` flag is set.

#![allow(clippy::unwrap_used)]

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use serde_json::json;
use switchyard_controller::{Controller, ControllerConfig, LogSelect, SubmitOptions, record};
use switchyard_engine::{
    Command, LogLine, LogStream, NodePhase, Reattach, RunState, RunnerError, StepHandle,
    StepResult, StepRunner, StepSpec, StopReason, WorkflowPhase,
};
use switchyard_model::Kind;
use switchyard_model::workflow::Workflow;
use switchyard_store::{ObjectKey, PutRequest, SecretSealer, Store};
use switchyard_store_sqlite::SqliteStore;

#[derive(Default)]
struct FakeState {
    specs: HashMap<String, StepSpec>,
    results: HashMap<String, StepResult>,
    starts: HashMap<String, usize>,
    released: HashSet<String>,
    stopped: Vec<String>,
    cleaned: Vec<String>,
    flaky_fails: bool,
}

#[derive(Default)]
struct FakeRunner {
    state: Mutex<FakeState>,
    changed: tokio::sync::Notify,
}

fn result(code: i32, out: &str) -> StepResult {
    let now = Utc::now();
    StepResult {
        exit_code: Some(code),
        result: out.to_string(),
        outputs: Default::default(),
        stopped: None,
        message: if code == 0 {
            String::new()
        } else {
            format!("exit code {code}")
        },
        started_at: now,
        finished_at: now,
    }
}

impl FakeRunner {
    fn handle(spec: &StepSpec) -> StepHandle {
        StepHandle {
            id: spec.id.clone(),
            pid: 1,
            pid_start_time: 1,
            dir: format!("/fake/{}/{}", spec.run, spec.id).into(),
            started_at: Utc::now(),
        }
    }

    /// Finishes every held step whose command args contain `name`.
    fn release(&self, name: &str) {
        let mut st = self.state.lock().unwrap();
        let ids: Vec<String> = st
            .specs
            .iter()
            .filter(|(_, s)| s.command[0] == "hold" && s.args.iter().any(|a| a == name))
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            st.released.insert(id.clone());
            st.results
                .entry(id)
                .or_insert_with(|| result(0, "released"));
        }
        drop(st);
        self.changed.notify_waiters();
    }

    /// The spec of the one step started so far.
    fn only_spec(&self) -> StepSpec {
        let st = self.state.lock().unwrap();
        st.specs.values().next().cloned().unwrap()
    }

    fn total_starts(&self) -> HashMap<String, usize> {
        self.state.lock().unwrap().starts.clone()
    }
}

#[async_trait]
impl StepRunner for FakeRunner {
    async fn start(&self, spec: &StepSpec) -> Result<StepHandle, RunnerError> {
        let mut st = self.state.lock().unwrap();
        if st.specs.contains_key(&spec.id) {
            return Ok(Self::handle(spec));
        }
        *st.starts.entry(spec.id.clone()).or_default() += 1;
        st.specs.insert(spec.id.clone(), spec.clone());
        let outcome = match spec.command[0].as_str() {
            "ok" => Some(result(0, &spec.args.join(" "))),
            "fail" => Some(result(1, "")),
            "flaky" if st.flaky_fails => Some(result(1, "")),
            "flaky" => Some(result(0, "fine")),
            "hold" => None,
            other => return Err(RunnerError::Start(format!("no such program `{other}`"))),
        };
        if let Some(r) = outcome {
            st.results.insert(spec.id.clone(), r);
        }
        Ok(Self::handle(spec))
    }

    async fn wait(&self, handle: &StepHandle) -> Result<StepResult, RunnerError> {
        loop {
            let notified = self.changed.notified();
            if let Some(r) = self.state.lock().unwrap().results.get(&handle.id) {
                return Ok(r.clone());
            }
            notified.await;
        }
    }

    async fn stop(&self, handle: &StepHandle, reason: StopReason, _grace: Duration) {
        let mut st = self.state.lock().unwrap();
        st.stopped.push(handle.id.clone());
        let mut r = result(143, "");
        r.exit_code = None;
        r.stopped = Some(reason);
        st.results.entry(handle.id.clone()).or_insert(r);
        drop(st);
        self.changed.notify_waiters();
    }

    async fn reattach(&self, handle: &StepHandle) -> Reattach {
        let st = self.state.lock().unwrap();
        match (
            st.specs.contains_key(&handle.id),
            st.results.get(&handle.id),
        ) {
            (true, Some(r)) => Reattach::Finished(r.clone()),
            (true, None) => Reattach::Running,
            (false, _) => Reattach::Lost("unknown step".into()),
        }
    }

    async fn logs(&self, handle: &StepHandle, from: usize) -> Result<Vec<LogLine>, RunnerError> {
        let st = self.state.lock().unwrap();
        let Some(spec) = st.specs.get(&handle.id) else {
            return Ok(Vec::new());
        };
        let lines = vec![LogLine {
            time: Utc::now(),
            stream: LogStream::Stdout,
            text: format!("{} {}", spec.command[0], spec.args.join(" ")),
        }];
        Ok(lines.into_iter().skip(from).collect())
    }

    async fn cleanup(&self, handle: &StepHandle) {
        self.state.lock().unwrap().cleaned.push(handle.id.clone());
    }
}

struct Env {
    _dir: tempfile::TempDir,
    store: Arc<dyn Store>,
    runner: Arc<FakeRunner>,
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(
        &dir.path().join("db.sqlite"),
        SecretSealer::from_key([7; 32]),
    )
    .unwrap();
    Env {
        _dir: dir,
        store: Arc::new(store),
        runner: Arc::new(FakeRunner::default()),
    }
}

async fn controller(env: &Env) -> Controller {
    Controller::start(
        env.store.clone(),
        env.runner.clone(),
        ControllerConfig::default(),
    )
    .await
    .unwrap()
}

fn workflow(spec: serde_json::Value) -> Workflow {
    serde_json::from_value(json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "t-"},
        "spec": spec,
    }))
    .unwrap()
}

/// Submits `wf` with default options; the run's name.
async fn submit(c: &Controller, wf: Workflow) -> String {
    c.submit("default", wf, SubmitOptions::default())
        .await
        .unwrap()
        .object
        .name
}

fn key(name: &str) -> ObjectKey {
    ObjectKey::new(Kind::Workflow, "default", name)
}

async fn load(store: &Arc<dyn Store>, name: &str) -> RunState {
    let object = store.get(&key(name)).await.unwrap().unwrap();
    record::from_object(&object).unwrap()
}

/// Polls the stored run until `done` holds (bounded, so a broken run fails the test
/// instead of hanging it).
async fn wait_until(
    store: &Arc<dyn Store>,
    name: &str,
    done: impl Fn(&RunState) -> bool,
) -> RunState {
    for _ in 0..1500 {
        let state = load(store, name).await;
        if done(&state) {
            return state;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let state = load(store, name).await;
    panic!(
        "run {name} did not get there: phase {:?}, nodes {:?}",
        state.status.phase,
        state
            .status
            .nodes
            .values()
            .map(|n| (&n.display_name, n.phase, &n.message))
            .collect::<Vec<_>>()
    );
}

async fn wait_phase(store: &Arc<dyn Store>, name: &str) -> RunState {
    wait_until(store, name, |s| s.status.phase.is_finished()).await
}

fn node<'a>(state: &'a RunState, display: &str) -> &'a switchyard_engine::Node {
    state
        .status
        .nodes
        .values()
        .find(|n| n.display_name == display)
        .unwrap_or_else(|| panic!("no node {display}"))
}

fn diamond() -> Workflow {
    workflow(json!({
        "entrypoint": "main",
        "templates": [
            {"name": "main", "dag": {"tasks": [
                {"name": "a", "template": "say", "arguments": {"parameters": [{"name": "m", "value": "A"}]}},
                {"name": "b", "template": "say", "dependencies": ["a"], "arguments": {"parameters": [{"name": "m", "value": "B"}]}},
                {"name": "c", "template": "say", "dependencies": ["a"], "arguments": {"parameters": [{"name": "m", "value": "C"}]}},
                {"name": "d", "template": "say", "dependencies": ["b", "c"], "arguments": {"parameters": [{"name": "m", "value": "D"}]}}
            ]}},
            {"name": "say", "inputs": {"parameters": [{"name": "m"}]},
             "container": {"image": "x", "command": ["ok"], "args": ["{{inputs.parameters.m}}"]}}
        ]
    }))
}

#[tokio::test]
async fn a_dag_runs_to_the_end_with_each_step_once_and_its_logs_kept() {
    let env = env();
    let c = controller(&env).await;
    let run = c
        .submit("default", diamond(), SubmitOptions::default())
        .await
        .unwrap()
        .object;
    assert_eq!(run.body["status"]["phase"], "Pending");
    let state = wait_phase(&env.store, &run.name).await;
    assert_eq!(state.status.phase, WorkflowPhase::Succeeded);
    assert_eq!(state.status.progress, "4/4");
    for task in ["a", "b", "c", "d"] {
        let n = node(&state, task);
        assert_eq!(n.phase, NodePhase::Succeeded, "{task}");
        let id = &n.step.as_ref().unwrap().spec.id;
        let log = env
            .store
            .step_log(&key(&run.name), id)
            .await
            .unwrap()
            .unwrap();
        assert!(log.contains("\"text\":\"ok "), "{log}");
    }
    let starts = env.runner.total_starts();
    assert_eq!(starts.len(), 4);
    assert!(starts.values().all(|n| *n == 1), "{starts:?}");

    // The logs as the API streams them: every step, in start order.
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    c.read_logs(&key(&run.name), LogSelect::default(), tx)
        .await
        .unwrap();
    let mut texts = Vec::new();
    while let Some(l) = rx.recv().await {
        texts.push(l.line.text);
    }
    assert_eq!(texts.len(), 4);
    assert_eq!(texts[0], "ok A");
    assert_eq!(texts[3], "ok D");

    // One step's logs: only its own, not those of the tasks that ran after it.
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let select = LogSelect {
        step: Some("a".into()),
        follow: false,
    };
    c.read_logs(&key(&run.name), select, tx).await.unwrap();
    let mut texts = Vec::new();
    while let Some(l) = rx.recv().await {
        texts.push(l.line.text);
    }
    assert_eq!(texts, ["ok A"]);
}

#[tokio::test]
async fn an_approval_gate_waits_and_records_who_resumed_it() {
    let env = env();
    let c = controller(&env).await;
    let wf = workflow(json!({
        "entrypoint": "main",
        "templates": [
            {"name": "main", "steps": [
                [{"name": "plan", "template": "run"}],
                [{"name": "approve", "template": "gate"}],
                [{"name": "apply", "template": "run"}]
            ]},
            {"name": "gate", "suspend": {}},
            {"name": "run", "container": {"image": "x", "command": ["ok"], "args": ["done"]}}
        ]
    }));
    let name = submit(&c, wf).await;
    let state = wait_until(&env.store, &name, |s| {
        s.status
            .nodes
            .values()
            .any(|n| n.display_name == "approve" && n.phase == NodePhase::Running)
    })
    .await;
    assert_eq!(state.status.phase, WorkflowPhase::Running);
    // A resume that matches nothing is refused and changes nothing.
    let err = c
        .command(
            &key(&name),
            Command::Resume {
                node_filter: Some("displayName=nope".into()),
                by: "mallory".into(),
                message: None,
            },
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("nothing to resume"), "{err}");
    c.command(
        &key(&name),
        Command::Resume {
            node_filter: Some("displayName=approve".into()),
            by: "alice".into(),
            message: Some("looks good".into()),
        },
    )
    .await
    .unwrap();
    let state = wait_phase(&env.store, &name).await;
    assert_eq!(state.status.phase, WorkflowPhase::Succeeded);
    let gate = node(&state, "approve");
    assert_eq!(gate.resumed_by.as_deref(), Some("alice"));
    assert_eq!(gate.resume_message.as_deref(), Some("looks good"));
    // Commands to a finished run are refused with the reason.
    let err = c.command(&key(&name), Command::Suspend).await.unwrap_err();
    assert!(err.to_string().contains("Succeeded"), "{err}");
}

fn hold_then_ok() -> Workflow {
    workflow(json!({
        "entrypoint": "main",
        "templates": [
            {"name": "main", "steps": [
                [{"name": "slow", "template": "slow"}],
                [{"name": "after", "template": "after"}]
            ]},
            {"name": "slow", "container": {"image": "x", "command": ["hold"], "args": ["slow"]}},
            {"name": "after", "container": {"image": "x", "command": ["ok"], "args": ["after"]}}
        ]
    }))
}

/// Runs `f` on a runtime of its own and then drops that runtime, which cancels every task
/// the controller spawned on it: what a crash does to the process's tasks (the store and
/// the runner, like the database file and the step processes, survive).
fn on_crashing_runtime<F, Fut>(f: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(f());
        rt.shutdown_background();
    })
    .join()
    .unwrap();
}

/// Submits `wf` on a controller that crashes once the stored run satisfies `ready`; the run's name.
async fn crash_when(
    env: &Env,
    wf: Workflow,
    ready: impl Fn(&RunState) -> bool + Send + 'static,
) -> String {
    let store = env.store.clone();
    let runner = env.runner.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    on_crashing_runtime(move || async move {
        let c = Controller::start(store.clone(), runner, ControllerConfig::default())
            .await
            .unwrap();
        let name = submit(&c, wf).await;
        wait_until(&store, &name, ready).await;
        tx.send(name).unwrap();
    });
    rx.recv().unwrap()
}

async fn crash_while_slow_runs(env: &Env) -> String {
    crash_when(env, hold_then_ok(), |s| {
        s.status
            .nodes
            .values()
            .any(|n| n.display_name == "slow" && n.handle().is_some())
    })
    .await
}

#[tokio::test]
async fn after_a_crash_a_running_step_is_reattached_not_run_again() {
    let env = env();
    let name = crash_while_slow_runs(&env).await;
    let c = controller(&env).await;
    env.runner.release("slow");
    let state = wait_phase(&env.store, &name).await;
    assert_eq!(state.status.phase, WorkflowPhase::Succeeded);
    let starts = env.runner.total_starts();
    assert_eq!(starts.len(), 2, "{starts:?}");
    assert!(starts.values().all(|n| *n == 1), "{starts:?}");
    drop(c);
}

#[tokio::test]
async fn a_step_that_finished_while_down_is_recorded_on_restart() {
    let env = env();
    let name = crash_while_slow_runs(&env).await;
    env.runner.release("slow");
    let _c = controller(&env).await;
    let state = wait_phase(&env.store, &name).await;
    assert_eq!(state.status.phase, WorkflowPhase::Succeeded);
    assert!(env.runner.total_starts().values().all(|n| *n == 1));
}

#[tokio::test]
async fn a_lost_step_fails_its_node_and_says_why() {
    let env = env();
    let name = crash_while_slow_runs(&env).await;
    // The step's process is gone without a trace (e.g. the machine rebooted).
    env.runner.state.lock().unwrap().specs.clear();
    let _c = controller(&env).await;
    let state = wait_phase(&env.store, &name).await;
    assert_eq!(state.status.phase, WorkflowPhase::Failed);
    let slow = node(&state, "slow");
    assert!(
        slow.message
            .as_deref()
            .unwrap_or("")
            .contains("lost while Switchyard was down"),
        "{:?}",
        slow.message
    );
}

#[tokio::test]
async fn deleting_a_running_run_stops_its_steps_and_removes_its_logs() {
    let env = env();
    let c = controller(&env).await;
    let name = submit(&c, hold_then_ok()).await;
    wait_until(&env.store, &name, |s| {
        s.status.nodes.values().any(|n| n.handle().is_some())
    })
    .await;
    let deleted = c.delete(&key(&name)).await.unwrap();
    assert!(deleted.is_some());
    assert!(env.store.get(&key(&name)).await.unwrap().is_none());
    assert_eq!(env.runner.state.lock().unwrap().stopped.len(), 1);
    assert!(c.delete(&key(&name)).await.unwrap().is_none());
    assert_eq!(c.active_runs(), 0);
}

#[tokio::test]
async fn retry_runs_the_failed_step_again_and_keeps_the_succeeded_ones() {
    let env = env();
    env.runner.state.lock().unwrap().flaky_fails = true;
    let c = controller(&env).await;
    let wf = workflow(json!({
        "entrypoint": "main",
        "templates": [
            {"name": "main", "steps": [
                [{"name": "first", "template": "good"}],
                [{"name": "second", "template": "flaky"}]
            ]},
            {"name": "good", "container": {"image": "x", "command": ["ok"], "args": ["1"]}},
            {"name": "flaky", "container": {"image": "x", "command": ["flaky"]}}
        ]
    }));
    let name = submit(&c, wf).await;
    let state = wait_phase(&env.store, &name).await;
    assert_eq!(state.status.phase, WorkflowPhase::Failed);
    env.runner.state.lock().unwrap().flaky_fails = false;
    c.command(
        &key(&name),
        Command::RetryFailed {
            by: "admin".into(),
            restart_successful: false,
            node_filter: None,
        },
    )
    .await
    .unwrap();
    let state = wait_phase(&env.store, &name).await;
    assert_eq!(state.status.phase, WorkflowPhase::Succeeded);
    let starts = env.runner.total_starts();
    // `first` once, `second` twice (under two step ids: one per retry generation).
    assert_eq!(starts.len(), 3, "{starts:?}");
    assert!(starts.values().all(|n| *n == 1));
}

#[tokio::test]
async fn secret_values_reach_the_step_but_not_the_run_state() {
    let env = env();
    env.store
        .put(PutRequest::new(
            Kind::Secret,
            "default",
            "db",
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
                   "data": {"password": "aHVudGVyMg=="}}),
        ))
        .await
        .unwrap();
    let c = controller(&env).await;
    let wf = workflow(json!({
        "entrypoint": "main",
        "templates": [{"name": "main", "container": {"image": "x", "command": ["ok"],
            "env": [{"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}]}}]
    }));
    let name = submit(&c, wf).await;
    wait_phase(&env.store, &name).await;
    let spec = env.runner.only_spec();
    assert!(
        spec.env
            .contains(&("PASSWORD".to_string(), "hunter2".to_string()))
    );
    let stored = env.store.get(&key(&name)).await.unwrap().unwrap();
    let text = serde_json::to_string(&stored.body).unwrap();
    assert!(!text.contains("hunter2"));

    // A missing Secret fails the step with a message that names it.
    let wf = workflow(json!({
        "entrypoint": "main",
        "templates": [{"name": "main", "container": {"image": "x", "command": ["ok"],
            "env": [{"name": "T", "valueFrom": {"secretKeyRef": {"name": "gone", "key": "k"}}}]}}]
    }));
    let name = submit(&c, wf).await;
    let state = wait_phase(&env.store, &name).await;
    assert_eq!(state.status.phase, WorkflowPhase::Error);
    let msg = state
        .status
        .nodes
        .values()
        .filter_map(|n| n.message.clone())
        .collect::<Vec<_>>()
        .join("; ");
    assert!(msg.contains("Secret `gone` not found"), "{msg}");
}

#[tokio::test]
async fn submit_problems_are_listed_with_paths_and_nothing_is_stored() {
    let env = env();
    let c = controller(&env).await;
    let wf = workflow(json!({
        "entrypoint": "main",
        "workflowTemplateRef": {"name": "missing"},
        "templates": []
    }));
    let err = c
        .submit("default", wf, SubmitOptions::default())
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("spec.workflowTemplateRef.name: WorkflowTemplate `missing` not found"),
        "{err}"
    );
    assert!(
        env.store
            .list(Kind::Workflow, None)
            .await
            .unwrap()
            .is_empty()
    );
    // -p overrides and adds parameters; a dry run stores nothing.
    let wf = workflow(json!({
        "entrypoint": "main",
        "arguments": {"parameters": [{"name": "who", "value": "world"}]},
        "templates": [{"name": "main", "container": {"image": "x", "command": ["ok"], "args": ["{{workflow.parameters.who}}"]}}]
    }));
    let options = SubmitOptions {
        parameters: vec![("who".into(), "moon".into())],
        name: Some("fixed".into()),
        dry_run: true,
        ..Default::default()
    };
    let dry = c
        .submit("default", wf.clone(), options.clone())
        .await
        .unwrap();
    assert_eq!(dry.object.name, "fixed");
    assert!(
        env.store
            .list(Kind::Workflow, None)
            .await
            .unwrap()
            .is_empty()
    );
    let options = SubmitOptions {
        dry_run: false,
        ..options
    };
    c.submit("default", wf.clone(), options.clone())
        .await
        .unwrap();
    let state = wait_phase(&env.store, "fixed").await;
    assert_eq!(state.status.phase, WorkflowPhase::Succeeded);
    let spec = env.runner.only_spec();
    assert_eq!(spec.args, ["moon"]);
    // The same explicit name again is a conflict.
    let err = c.submit("default", wf, options).await.unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
}

mod cron_scheduling {
    use super::*;
    use chrono::{DurationRound, TimeDelta};
    use switchyard_controller::cron::{Zone, ZoneInfoDir};
    use switchyard_controller::scheduler::schedule_all;
    use switchyard_store::{Precondition, StatusUpdate};

    fn zones() -> ZoneInfoDir {
        ZoneInfoDir::new("/nonexistent", Zone::utc())
    }

    async fn put_cron(env: &Env, policy: &str, command: &str) -> chrono::DateTime<Utc> {
        let object = env
            .store
            .put(PutRequest::new(
                Kind::CronWorkflow,
                "default",
                "nightly",
                json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "CronWorkflow",
                       "metadata": {"name": "nightly"},
                       "spec": {"schedule": "* * * * *", "concurrencyPolicy": policy,
                                "workflowSpec": {"entrypoint": "main", "templates": [
                                    {"name": "main", "container": {"image": "x", "command": [command], "args": ["cron"]}}]}}}),
            ))
            .await
            .unwrap()
            .into_object();
        object.created_at
    }

    async fn runs(env: &Env) -> Vec<String> {
        env.store
            .list(Kind::Workflow, Some("default"))
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.name)
            .collect()
    }

    async fn cron_status(env: &Env) -> serde_json::Value {
        let key = ObjectKey::new(Kind::CronWorkflow, "default", "nightly");
        env.store.get(&key).await.unwrap().unwrap().body["status"].clone()
    }

    fn next_minute(t: chrono::DateTime<Utc>) -> chrono::DateTime<Utc> {
        t.duration_trunc(TimeDelta::minutes(1)).unwrap() + TimeDelta::minutes(1)
    }

    #[tokio::test]
    async fn a_tick_creates_one_run_even_when_its_status_write_was_lost() {
        let env = env();
        let c = controller(&env).await;
        let created = put_cron(&env, "Allow", "ok").await;
        let tick = next_minute(created);
        let z = zones();
        // Before the tick: nothing.
        schedule_all(&c, &z, tick - TimeDelta::seconds(1))
            .await
            .unwrap();
        assert!(runs(&env).await.is_empty());
        // At the tick: one run, named after the tick.
        schedule_all(&c, &z, tick + TimeDelta::seconds(1))
            .await
            .unwrap();
        let name = format!("nightly-{}", tick.timestamp());
        assert_eq!(runs(&env).await, vec![name.clone()]);
        let status = cron_status(&env).await;
        assert_eq!(
            status["lastScheduledTime"],
            json!(tick.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        );
        // Again at the same time: nothing new.
        schedule_all(&c, &z, tick + TimeDelta::seconds(2))
            .await
            .unwrap();
        assert_eq!(runs(&env).await.len(), 1);
        // The status write is lost (a crash right after the run was created): still one run.
        let key = ObjectKey::new(Kind::CronWorkflow, "default", "nightly");
        let stored = env.store.get(&key).await.unwrap().unwrap();
        env.store
            .put_status(StatusUpdate {
                key: key.clone(),
                status: json!({}),
                precondition: Precondition::ResourceVersion(stored.resource_version),
                logs: Vec::new(),
            })
            .await
            .unwrap();
        schedule_all(&c, &z, tick + TimeDelta::seconds(3))
            .await
            .unwrap();
        assert_eq!(runs(&env).await.len(), 1);
        let state = wait_phase(&env.store, &name).await;
        assert_eq!(state.status.phase, WorkflowPhase::Succeeded);
        assert_eq!(
            state
                .labels
                .get("workflows.argoproj.io/cron-workflow")
                .map(String::as_str),
            Some("nightly")
        );
        // The finished run is counted once.
        schedule_all(&c, &z, tick + TimeDelta::seconds(4))
            .await
            .unwrap();
        schedule_all(&c, &z, tick + TimeDelta::seconds(5))
            .await
            .unwrap();
        let status = cron_status(&env).await;
        assert_eq!(status["succeeded"], 1, "{status}");
        assert_eq!(status["active"], json!([]), "{status}");
    }

    #[tokio::test]
    async fn forbid_skips_a_tick_while_a_run_is_active() {
        let env = env();
        let c = controller(&env).await;
        let created = put_cron(&env, "Forbid", "hold").await;
        let first = next_minute(created);
        let z = zones();
        schedule_all(&c, &z, first + TimeDelta::seconds(1))
            .await
            .unwrap();
        let name = format!("nightly-{}", first.timestamp());
        wait_until(&env.store, &name, |s| {
            s.status.nodes.values().any(|n| n.handle().is_some())
        })
        .await;
        let second = first + TimeDelta::minutes(1);
        schedule_all(&c, &z, second + TimeDelta::seconds(1))
            .await
            .unwrap();
        assert_eq!(runs(&env).await, vec![name.clone()]);
        assert_eq!(cron_status(&env).await["active"][0]["name"], json!(name));
        env.runner.release("cron");
        wait_phase(&env.store, &name).await;
        // Within the on-time window of the same tick, the next pass runs it.
        schedule_all(&c, &z, second + TimeDelta::seconds(2))
            .await
            .unwrap();
        assert_eq!(runs(&env).await.len(), 2);
    }

    #[tokio::test]
    async fn a_bad_schedule_is_reported_on_the_status() {
        let env = env();
        let c = controller(&env).await;
        env.store
            .put(PutRequest::new(
                Kind::CronWorkflow,
                "default",
                "nightly",
                json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "CronWorkflow",
                       "metadata": {"name": "nightly"},
                       "spec": {"schedule": "61 * * * *", "workflowSpec": {"entrypoint": "main", "templates": []}}}),
            ))
            .await
            .unwrap();
        schedule_all(&c, &zones(), Utc::now()).await.unwrap();
        let status = cron_status(&env).await;
        let message = status["conditions"][0]["message"].as_str().unwrap_or("");
        assert!(message.contains("spec.schedule"), "{status}");
    }
}

fn labelled(labels: &[(&str, &str)]) -> ControllerConfig {
    ControllerConfig {
        node_labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..ControllerConfig::default()
    }
}

/// A step on a node labelled `zone=a`, next to one asking for `zone=b`.
fn two_zones() -> Workflow {
    workflow(json!({
        "entrypoint": "main",
        "templates": [
            {"name": "main", "steps": [[
                {"name": "here", "template": "here"},
                {"name": "elsewhere", "template": "elsewhere"}
            ]]},
            {"name": "here", "nodeSelector": {"zone": "a"},
             "container": {"image": "x", "command": ["ok"], "args": ["here"]}},
            {"name": "elsewhere", "nodeSelector": {"zone": "b"},
             "container": {"image": "x", "command": ["ok"], "args": ["elsewhere"]}}
        ]
    }))
}

fn waits_for_a_node(state: &RunState) -> bool {
    let find = |display: &str| {
        state
            .status
            .nodes
            .values()
            .find(|n| n.display_name == display)
    };
    find("here").is_some_and(|n| n.phase == NodePhase::Succeeded)
        && find("elsewhere").is_some_and(|n| {
            n.phase == NodePhase::Pending
                && n.message
                    .as_deref()
                    .is_some_and(|m| m.starts_with("Unschedulable: "))
        })
}

#[tokio::test]
async fn a_pod_no_node_takes_waits_through_a_restart_until_the_run_is_stopped() {
    let env = env();
    let store = env.store.clone();
    let runner = env.runner.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    on_crashing_runtime(move || async move {
        let c = Controller::start(store.clone(), runner, labelled(&[("zone", "a")]))
            .await
            .unwrap();
        let name = submit(&c, two_zones()).await;
        let state = wait_until(&store, &name, waits_for_a_node).await;
        // The run keeps the labels it was submitted with.
        assert_eq!(state.library.node_labels.len(), 1);
        tx.send(name).unwrap();
    });
    let name = rx.recv().unwrap();
    let c = Controller::start(
        env.store.clone(),
        env.runner.clone(),
        labelled(&[("zone", "a")]),
    )
    .await
    .unwrap();
    c.command(&key(&name), Command::Tick).await.unwrap();
    let state = load(&env.store, &name).await;
    assert!(waits_for_a_node(&state));
    assert_eq!(state.status.phase, WorkflowPhase::Running);
    let starts = env.runner.total_starts();
    assert_eq!(starts.len(), 1, "only `here` ever started: {starts:?}");
    c.command(
        &key(&name),
        Command::Stop {
            by: "ops".into(),
            message: None,
        },
    )
    .await
    .unwrap();
    let state = wait_phase(&env.store, &name).await;
    assert_eq!(state.status.phase, WorkflowPhase::Failed);
    assert_eq!(
        node(&state, "elsewhere").message.as_deref(),
        Some("Stopped with strategy 'Stop'")
    );
}

#[test]
fn the_default_node_is_this_machine() {
    let labels = ControllerConfig::default().node_labels;
    assert_eq!(labels, switchyard_controller::host_node_labels());
    assert_eq!(labels["kubernetes.io/os"], labels["beta.kubernetes.io/os"]);
    assert!(labels.contains_key("kubernetes.io/arch"));
}

/// A store whose next armed write is committed and then reported as failed, as when the
/// connection to the database breaks while the commit is on its way.
struct CommitThenBreak {
    inner: Arc<dyn Store>,
    /// Break after committing the next `put` of a Workflow.
    put: std::sync::atomic::AtomicBool,
    /// Break after committing the next status write that makes the run Running.
    running_status: std::sync::atomic::AtomicBool,
}

fn broke() -> switchyard_store::StoreError {
    switchyard_store::StoreError::Unavailable {
        reason: "the connection broke while committing".into(),
    }
}

impl CommitThenBreak {
    fn around(inner: Arc<dyn Store>) -> Arc<CommitThenBreak> {
        Arc::new(CommitThenBreak {
            inner,
            put: false.into(),
            running_status: false.into(),
        })
    }

    fn take(flag: &std::sync::atomic::AtomicBool) -> bool {
        flag.swap(false, std::sync::atomic::Ordering::SeqCst)
    }
}

#[async_trait]
impl Store for CommitThenBreak {
    async fn put(
        &self,
        req: PutRequest,
    ) -> Result<switchyard_store::PutOutcome, switchyard_store::StoreError> {
        let workflow = req.kind == Kind::Workflow;
        let outcome = self.inner.put(req).await?;
        if workflow && Self::take(&self.put) {
            return Err(broke());
        }
        Ok(outcome)
    }
    async fn put_many(
        &self,
        reqs: Vec<PutRequest>,
    ) -> Result<Vec<switchyard_store::PutOutcome>, switchyard_store::StoreError> {
        self.inner.put_many(reqs).await
    }
    async fn get(
        &self,
        key: &ObjectKey,
    ) -> Result<Option<switchyard_store::StoredObject>, switchyard_store::StoreError> {
        self.inner.get(key).await
    }
    async fn list(
        &self,
        kind: Kind,
        namespace: Option<&str>,
    ) -> Result<Vec<switchyard_store::StoredObject>, switchyard_store::StoreError> {
        self.inner.list(kind, namespace).await
    }
    async fn list_page(
        &self,
        kind: Kind,
        namespace: Option<&str>,
        page: &switchyard_store::PageRequest,
    ) -> Result<switchyard_store::Page, switchyard_store::StoreError> {
        self.inner.list_page(kind, namespace, page).await
    }
    async fn delete(
        &self,
        key: &ObjectKey,
        precondition: switchyard_store::Precondition,
    ) -> Result<Option<switchyard_store::StoredObject>, switchyard_store::StoreError> {
        self.inner.delete(key, precondition).await
    }
    async fn get_meta(&self, key: &str) -> Result<Option<String>, switchyard_store::StoreError> {
        self.inner.get_meta(key).await
    }
    async fn put_meta(&self, key: &str, value: &str) -> Result<(), switchyard_store::StoreError> {
        self.inner.put_meta(key, value).await
    }
    async fn delete_meta(&self, key: &str) -> Result<(), switchyard_store::StoreError> {
        self.inner.delete_meta(key).await
    }
    async fn put_status(
        &self,
        update: switchyard_store::StatusUpdate,
    ) -> Result<switchyard_store::StoredObject, switchyard_store::StoreError> {
        let running = update.status["phase"] == "Running";
        let object = self.inner.put_status(update).await?;
        if running && Self::take(&self.running_status) {
            return Err(broke());
        }
        Ok(object)
    }
    async fn put_status_fenced(
        &self,
        update: switchyard_store::StatusUpdate,
        fence: &switchyard_store::Fence,
    ) -> Result<switchyard_store::StoredObject, switchyard_store::StoreError> {
        self.inner.put_status_fenced(update, fence).await
    }
    async fn step_log(
        &self,
        key: &ObjectKey,
        step: &str,
    ) -> Result<Option<String>, switchyard_store::StoreError> {
        self.inner.step_log(key, step).await
    }
    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<
        Result<switchyard_store::Lease, switchyard_store::Lease>,
        switchyard_store::StoreError,
    > {
        self.inner.acquire_lease(name, holder, ttl).await
    }
    async fn release_lease(
        &self,
        name: &str,
        holder: &str,
    ) -> Result<(), switchyard_store::StoreError> {
        self.inner.release_lease(name, holder).await
    }
}

/// A controller on a [`CommitThenBreak`] store around the test's store.
async fn breaking_controller(env: &Env) -> (Arc<CommitThenBreak>, Controller) {
    let store = CommitThenBreak::around(env.store.clone());
    let c = Controller::start(
        store.clone(),
        env.runner.clone(),
        ControllerConfig::default(),
    )
    .await
    .unwrap();
    (store, c)
}

/// `steps` steps started, each once.
fn each_step_once(env: &Env, steps: usize) {
    let starts = env.runner.total_starts();
    assert_eq!(starts.len(), steps, "each step once: {starts:?}");
    assert!(starts.values().all(|n| *n == 1), "{starts:?}");
}

/// A submit whose write was committed although the store reported it failed: the caller
/// hears of the failure, and the run that was stored all the same is driven to its end
/// (not left Pending with nobody to start it).
#[tokio::test]
async fn a_run_stored_by_a_submit_that_seemed_to_fail_is_driven() {
    let env = env();
    let (store, c) = breaking_controller(&env).await;
    store.put.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut wf = diamond();
    wf.metadata.generate_name = None;
    wf.metadata.name = Some("seemed-to-fail".into());
    let err = c
        .submit("default", wf, SubmitOptions::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("broke while committing"), "{err}");
    let state = wait_phase(&env.store, "seemed-to-fail").await;
    assert_eq!(state.status.phase, WorkflowPhase::Succeeded);
    each_step_once(&env, 4);
}

/// A status write committed although the store reported it failed: the retry finds the
/// run changed, sees the change is its own, and the run goes on in the same actor.
#[tokio::test]
async fn a_status_write_that_seemed_to_fail_but_was_committed_is_not_a_conflict() {
    let env = env();
    let (store, c) = breaking_controller(&env).await;
    store
        .running_status
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let name = submit(&c, diamond()).await;
    let state = wait_phase(&env.store, &name).await;
    assert_eq!(state.status.phase, WorkflowPhase::Succeeded);
    assert!(
        !store
            .running_status
            .load(std::sync::atomic::Ordering::SeqCst),
        "the armed write happened"
    );
    each_step_once(&env, 4);
}

/// Where a controller that stood down sends runs: it records them.
#[derive(Default)]
struct RecordingInbox {
    adopted: Mutex<Vec<ObjectKey>>,
}

#[async_trait]
impl switchyard_controller::RunInbox for RecordingInbox {
    async fn adopt(&self, key: &ObjectKey) -> Result<(), switchyard_controller::ControllerError> {
        self.adopted.lock().unwrap().push(key.clone());
        Ok(())
    }
    async fn command(
        &self,
        _: &ObjectKey,
        _: switchyard_controller::UserCommand,
    ) -> Result<(), switchyard_controller::ControllerError> {
        Ok(())
    }
    async fn deleted(&self, _: &ObjectKey) -> Result<(), switchyard_controller::ControllerError> {
        Ok(())
    }
}

/// A controller that lost the lease stands down: its actors let their runs go without
/// writing or stopping steps, new submits are handed over; taking the lease again, it
/// continues the runs from the store, re-attaching to the step that kept running.
#[tokio::test]
async fn standing_down_lets_runs_go_and_taking_over_continues_them() {
    let env = env();
    let c = controller(&env).await;
    let name = submit(&c, hold_then_ok()).await;
    let held = wait_until(&env.store, &name, |s| {
        s.status
            .nodes
            .values()
            .any(|n| n.display_name == "slow" && n.handle().is_some())
    })
    .await;
    assert_eq!(c.active_runs(), 1);
    let inbox = Arc::new(RecordingInbox::default());
    c.stand_down(inbox.clone(), Duration::from_secs(10)).await;
    assert_eq!(c.active_runs(), 0, "every actor let its run go");
    assert!(!c.is_driving());
    // The step goes on and ends, but nothing here records it: the run is left as it was.
    let before = env.store.get(&key(&name)).await.unwrap().unwrap();
    env.runner.release("slow");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = env.store.get(&key(&name)).await.unwrap().unwrap();
    assert_eq!(after.resource_version, before.resource_version);
    assert!(
        env.runner.state.lock().unwrap().stopped.is_empty(),
        "no step was stopped"
    );
    // A submit now is stored and handed over.
    let handed = submit(&c, diamond()).await;
    // Handed over in the background.
    for _ in 0..500 {
        if !inbox.adopted.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(inbox.adopted.lock().unwrap().clone(), vec![key(&handed)]);
    assert_eq!(
        load(&env.store, &handed).await.status.phase,
        WorkflowPhase::Pending
    );
    // The lease again: both runs are driven to their end, each step once.
    c.take_over(None).await.unwrap();
    assert!(c.is_driving());
    let state = wait_phase(&env.store, &name).await;
    assert_eq!(state.status.phase, WorkflowPhase::Succeeded);
    assert_eq!(
        wait_phase(&env.store, &handed).await.status.phase,
        WorkflowPhase::Succeeded
    );
    let starts = env.runner.total_starts();
    assert_eq!(starts.len(), 6, "2 + 4 steps: {starts:?}");
    assert!(starts.values().all(|n| *n == 1), "{starts:?}");
    assert_eq!(held.status.phase, WorkflowPhase::Running);
}

fn with_ttl(mut wf: Workflow, ttl: serde_json::Value) -> Workflow {
    wf.spec.ttl_strategy = Some(serde_json::from_value(ttl).unwrap());
    wf
}

/// Polls until the run is gone from the store (bounded).
async fn wait_deleted(store: &Arc<dyn Store>, name: &str) {
    for _ in 0..1500 {
        if store.get(&key(name)).await.unwrap().is_none() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("run {name} was not deleted");
}

/// `ttlStrategy`: a finished run is deleted once its phase's seconds have passed (Argo's
/// rules: `secondsAfterSuccess`/`secondsAfterFailure`, else `secondsAfterCompletion`); one
/// whose time has not come stays. A controller started later deletes what expired while no
/// controller ran.
#[tokio::test]
async fn finished_runs_are_deleted_when_their_ttl_strategy_says() {
    let env = env();
    let c = controller(&env).await;
    let quick = submit(
        &c,
        with_ttl(
            diamond(),
            json!({"secondsAfterSuccess": 0, "secondsAfterFailure": 3600}),
        ),
    )
    .await;
    let failing = workflow(json!({
        "entrypoint": "main",
        "templates": [{"name": "main", "container": {"image": "x", "command": ["fail"]}}]
    }));
    let kept = submit(
        &c,
        with_ttl(
            failing,
            json!({"secondsAfterSuccess": 0, "secondsAfterFailure": 3600}),
        ),
    )
    .await;
    wait_deleted(&env.store, &quick).await;
    assert_eq!(
        wait_phase(&env.store, &kept).await.status.phase,
        WorkflowPhase::Failed
    );
    // A run that finishes just before a crash: its timer dies with the process, and the
    // next controller deletes the run when its time has come.
    let later = crash_when(
        &env,
        with_ttl(diamond(), json!({"secondsAfterCompletion": 2})),
        |s| s.status.phase.is_finished(),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(
        env.store.get(&key(&later)).await.unwrap().is_some(),
        "nobody was there to delete it"
    );
    let c2 = controller(&env).await;
    wait_deleted(&env.store, &later).await;
    // The failed run's hour has not come.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(env.store.get(&key(&kept)).await.unwrap().is_some());
    drop((c, c2));
}
