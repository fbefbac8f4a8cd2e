//! A local runner in memory: counts how often each step id ran, and does what the step's env
//! says: `FAKE_EXIT` (exit code), `FAKE_BLOCK` (run until released), `FAKE_FAIL_START`
//! (refuse to start, with that message), `FAKE_OUTPUT` (`name=value`), `FAKE_LOG` (one more
//! log line). While `hold` is on, every step started runs until released.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use switchyard_engine::{
    LogLine, LogStream, Reattach, RunnerError, StepHandle, StepResult, StepRunner, StepSpec,
    StopReason,
};
use tokio::sync::Notify;

#[derive(Default)]
struct State {
    runs: HashMap<String, u32>,
    steps: HashMap<String, Step>,
    specs: HashMap<String, StepSpec>,
    stops: Vec<(String, StopReason, Duration)>,
    reattached: HashMap<String, u32>,
    cleaned: Vec<String>,
    hold: bool,
}

struct Step {
    handle: StepHandle,
    exit: i32,
    outputs: BTreeMap<String, Result<String, String>>,
    result: Option<StepResult>,
    logs: Vec<LogLine>,
}

impl Step {
    fn end(&mut self, stopped: Option<StopReason>) {
        if self.result.is_some() {
            return;
        }
        let now = Utc::now();
        let (exit_code, message) = match stopped {
            Some(reason) => (None, format!("stopped: {reason:?}")),
            None => (Some(self.exit), format!("exit code {}", self.exit)),
        };
        self.logs.push(line(LogStream::System, &message));
        self.result = Some(StepResult {
            exit_code,
            result: format!("result of {}", self.handle.id),
            outputs: self.outputs.clone(),
            stopped,
            message,
            started_at: self.handle.started_at,
            finished_at: now,
        });
    }
}

fn line(stream: LogStream, text: &str) -> LogLine {
    LogLine {
        time: Utc::now(),
        stream,
        text: text.to_owned(),
    }
}

fn env<'a>(spec: &'a StepSpec, name: &str) -> Option<&'a str> {
    spec.env
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

pub struct FakeRunner {
    name: String,
    state: Mutex<State>,
    changed: Notify,
}

impl FakeRunner {
    pub fn new(name: &str) -> Self {
        FakeRunner {
            name: name.to_owned(),
            state: Mutex::new(State::default()),
            changed: Notify::new(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn changed(&self) {
        self.changed.notify_waiters();
    }

    /// Waits until `ready` holds of the state.
    async fn until(&self, ready: impl Fn(&State) -> bool) {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if ready(&self.state()) {
                return;
            }
            notified.await;
        }
    }

    /// How often step `id` was really started.
    pub fn runs(&self, id: &str) -> u32 {
        self.state().runs.get(id).copied().unwrap_or(0)
    }

    pub fn total_runs(&self) -> u32 {
        self.state().runs.values().sum()
    }

    pub fn reattached(&self, id: &str) -> u32 {
        self.state().reattached.get(id).copied().unwrap_or(0)
    }

    pub fn stops(&self) -> Vec<(String, StopReason, Duration)> {
        self.state().stops.clone()
    }

    pub fn cleaned(&self, id: &str) -> bool {
        self.state().cleaned.iter().any(|c| c == id)
    }

    pub fn spec(&self, id: &str) -> Option<StepSpec> {
        self.state().specs.get(id).cloned()
    }

    pub fn set_hold(&self, hold: bool) {
        self.state().hold = hold;
    }

    pub async fn started(&self, id: &str) {
        self.until(|s| s.runs.contains_key(id)).await;
    }

    pub async fn started_at_least(&self, n: u32) {
        self.until(|s| s.runs.values().sum::<u32>() >= n).await;
    }

    pub async fn reattached_at_least_once(&self, id: &str) {
        self.until(|s| s.reattached.contains_key(id)).await;
    }

    /// Ends step `id` (started or not yet) with its planned exit code.
    pub fn release(&self, id: &str) {
        if let Some(step) = self.state().steps.get_mut(id) {
            step.end(None);
        }
        self.changed();
    }

    /// Ends every step held, and holds no more.
    pub fn release_all(&self) {
        {
            let mut state = self.state();
            state.hold = false;
            for step in state.steps.values_mut() {
                step.end(None);
            }
        }
        self.changed();
    }
}

#[async_trait]
impl StepRunner for FakeRunner {
    async fn start(&self, spec: &StepSpec) -> Result<StepHandle, RunnerError> {
        let handle = {
            let mut state = self.state();
            if let Some(step) = state.steps.get(&spec.id) {
                // Started before: give it back, as the local runner does.
                return Ok(step.handle.clone());
            }
            if let Some(message) = env(spec, "FAKE_FAIL_START") {
                return Err(RunnerError::Start(message.to_owned()));
            }
            *state.runs.entry(spec.id.clone()).or_default() += 1;
            state.specs.insert(spec.id.clone(), spec.clone());
            let handle = StepHandle {
                id: spec.id.clone(),
                pid: 4242,
                pid_start_time: 1,
                dir: PathBuf::from(format!("/fake/{}/{}", self.name, spec.id)),
                started_at: Utc::now(),
            };
            let mut outputs = BTreeMap::new();
            if let Some((name, value)) = env(spec, "FAKE_OUTPUT").and_then(|o| o.split_once('=')) {
                outputs.insert(name.to_owned(), Ok(value.to_owned()));
            }
            let mut logs = vec![line(
                LogStream::Stdout,
                &format!("hello from {} on {}", spec.id, self.name),
            )];
            if let Some(text) = env(spec, "FAKE_LOG") {
                logs.push(line(LogStream::Stderr, text));
            }
            let mut step = Step {
                handle: handle.clone(),
                exit: env(spec, "FAKE_EXIT")
                    .and_then(|e| e.parse().ok())
                    .unwrap_or(0),
                outputs,
                result: None,
                logs,
            };
            let blocks = state.hold || env(spec, "FAKE_BLOCK").is_some();
            if !blocks {
                step.end(None);
            }
            state.steps.insert(spec.id.clone(), step);
            handle
        };
        self.changed();
        Ok(handle)
    }

    async fn wait(&self, handle: &StepHandle) -> Result<StepResult, RunnerError> {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.state().steps.get(&handle.id) {
                None => {
                    return Err(RunnerError::Internal(format!(
                        "no step `{}` here",
                        handle.id
                    )));
                }
                Some(step) => {
                    if let Some(result) = &step.result {
                        return Ok(result.clone());
                    }
                }
            }
            notified.await;
        }
    }

    async fn stop(&self, handle: &StepHandle, reason: StopReason, grace: Duration) {
        {
            let mut state = self.state();
            state.stops.push((handle.id.clone(), reason, grace));
            if let Some(step) = state.steps.get_mut(&handle.id) {
                step.end(Some(reason));
            }
        }
        self.changed();
    }

    async fn reattach(&self, handle: &StepHandle) -> Reattach {
        let outcome = {
            let mut state = self.state();
            *state.reattached.entry(handle.id.clone()).or_default() += 1;
            match state.steps.get(&handle.id) {
                None => Reattach::Lost("no such step here".to_owned()),
                Some(step) => match &step.result {
                    Some(result) => Reattach::Finished(result.clone()),
                    None => Reattach::Running,
                },
            }
        };
        self.changed();
        outcome
    }

    async fn logs(&self, handle: &StepHandle, from: usize) -> Result<Vec<LogLine>, RunnerError> {
        Ok(self
            .state()
            .steps
            .get(&handle.id)
            .map(|s| s.logs.iter().skip(from).cloned().collect())
            .unwrap_or_default())
    }

    async fn cleanup(&self, handle: &StepHandle) {
        self.state().cleaned.push(handle.id.clone());
        self.changed();
    }
}
