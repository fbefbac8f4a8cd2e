//! Carrying out firings: the ledger's outbox, drained by one loop.
//!
//! A sensor resolves a trigger when the event that completes it is consumed, and stores the
//! result ([`FiringPayload`]) in the same transaction as the consumption. This loop takes due
//! firings, carries each out, and settles it: `done` with what it started, a retry at the
//! time the trigger's `retryStrategy` says, or `dead` with the reason (the dead-letter
//! record). Starting a workflow is exactly once even when this loop dies between starting it
//! and settling the firing: the run's name is derived from the firing key, and a run of that
//! name that carries the same key is the one started before.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use sha2::{Digest, Sha256};
use switchyard_store::ledger::{EventLedger, Firing, Settlement};
use tokio::sync::Notify;

use crate::http::HttpSender;
use crate::metrics;
use switchyard_store::Store;

/// The annotation that ties a run to the firing that started it.
pub const FIRING_ANNOTATION: &str = "events.switchyard.dev/firing";
/// The annotation listing the ids of the events that started a run, comma-separated (the
/// platform API follows an order to its runs through it).
pub const EVENTS_ANNOTATION: &str = "events.switchyard.dev/events";
/// Labels Argo Events' triggers do not set but users filter runs by.
pub const SENSOR_LABEL: &str = "events.switchyard.dev/sensor";
pub const TRIGGER_LABEL: &str = "events.switchyard.dev/trigger";

/// What a firing asks for, resolved when it fired.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Action {
    /// Start a Workflow (`argoWorkflow` submit, or `k8s` create of a Workflow).
    StartWorkflow { namespace: String, workflow: Json },
    /// Write the events to the log (`log` trigger).
    Log { message: String },
    /// Send an HTTP request (`http` trigger); Secret references are read when it is sent.
    Http {
        namespace: String,
        request: Box<switchyard_sensor::HttpRequest>,
    },
    /// A trigger this platform cannot carry out: recorded as dead at once.
    Refused { reason: String },
}

/// A trigger's `retryStrategy` (Kubernetes `Backoff`): `steps` attempts in all, waiting
/// `duration` and then `factor` times longer each time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Retry {
    pub steps: u32,
    pub duration_ms: u64,
    pub factor: f64,
}

impl Default for Retry {
    /// Argo Events' default: one attempt.
    fn default() -> Self {
        Retry {
            steps: 1,
            duration_ms: 1000,
            factor: 1.0,
        }
    }
}

impl Retry {
    /// The wait before attempt `attempt + 1` (attempt counts from 0), or `None` when the
    /// attempts are used up.
    pub fn next_delay(&self, attempt: u32) -> Option<Duration> {
        if attempt + 1 >= self.steps.max(1) {
            return None;
        }
        let factor = if self.factor > 0.0 { self.factor } else { 1.0 };
        let millis = self.duration_ms as f64 * factor.powi(i32::try_from(attempt).unwrap_or(0));
        // Capped at a day: a factor of 10 over many steps must not overflow.
        Some(Duration::from_millis(millis.min(86_400_000.0) as u64))
    }
}

/// A trigger's `rateLimit`: at most `requests` carried out per `per_seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RateLimit {
    pub requests: u32,
    pub per_seconds: u64,
}

/// What the ledger keeps for a firing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FiringPayload {
    pub action: Action,
    #[serde(default)]
    pub retry: Retry,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
    /// The trigger's `dlqTrigger`, carried out once when the action is given up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dlq: Option<Action>,
    /// The ids of the events that completed the trigger, for the log lines.
    #[serde(default)]
    pub events: Vec<String>,
}

/// Why a workflow did not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StartError {
    /// A run with the name exists; `firing` is the firing annotation it carries.
    #[error("a workflow named {name} already exists")]
    AlreadyExists {
        name: String,
        firing: Option<String>,
    },
    /// The workflow cannot run as given: retrying will not help.
    #[error("{0}")]
    Invalid(String),
    /// Not now: retry.
    #[error("{0}")]
    Unavailable(String),
}

/// Starts workflow runs; the workflow engine's side of a trigger. Owned here, implemented
/// by the composition root over the workflow controller.
#[async_trait]
pub trait RunStarter: Send + Sync + 'static {
    /// Starts `workflow` (a Workflow object, `metadata.name` set) in `namespace`; returns
    /// the run's name.
    async fn start_workflow(&self, namespace: &str, workflow: Json) -> Result<String, StartError>;
}

/// The name a firing's run gets: the resource's `metadata.name` when it has one, otherwise
/// its `generateName` (or `<sensor>-`) followed by 8 characters derived from the firing key
/// (Argo draws 5 at random; deriving them is what makes a retried start find its run).
pub fn run_name(workflow: &Json, sensor: &str, firing_key: &str) -> String {
    let metadata = workflow.get("metadata");
    if let Some(name) = metadata
        .and_then(|m| m.get("name"))
        .and_then(Json::as_str)
        .filter(|n| !n.is_empty())
    {
        return name.to_owned();
    }
    let prefix = metadata
        .and_then(|m| m.get("generateName"))
        .and_then(Json::as_str)
        .filter(|n| !n.is_empty())
        .map_or_else(|| format!("{sensor}-"), str::to_owned);
    let digest = Sha256::digest(firing_key.as_bytes());
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let suffix: String = digest
        .iter()
        .take(8)
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect();
    // Kubernetes names are at most 253 characters.
    let keep = prefix.len().min(253 - suffix.len());
    let mut prefix = prefix;
    while !prefix.is_char_boundary(keep.min(prefix.len())) {
        prefix.pop();
    }
    prefix.truncate(keep);
    format!("{prefix}{suffix}")
}

/// Prepares a firing's Workflow: its name, the firing and events annotations and the sensor
/// labels.
pub fn prepare_workflow(mut workflow: Json, firing: &Firing, events: &[String]) -> Json {
    let name = run_name(&workflow, &firing.sensor.name, &firing.key);
    if let Some(object) = workflow.as_object_mut() {
        let metadata = object
            .entry("metadata")
            .or_insert_with(|| Json::Object(Default::default()));
        if !metadata.is_object() {
            *metadata = Json::Object(Default::default());
        }
        if let Some(metadata) = metadata.as_object_mut() {
            metadata.remove("generateName");
            metadata.insert("name".into(), Json::String(name));
            let annotations = metadata
                .entry("annotations")
                .or_insert_with(|| Json::Object(Default::default()));
            if let Some(annotations) = annotations.as_object_mut() {
                annotations.insert(FIRING_ANNOTATION.into(), Json::String(firing.key.clone()));
                if !events.is_empty() {
                    annotations.insert(EVENTS_ANNOTATION.into(), Json::String(events.join(",")));
                }
            }
            let labels = metadata
                .entry("labels")
                .or_insert_with(|| Json::Object(Default::default()));
            if let Some(labels) = labels.as_object_mut() {
                labels.insert(
                    SENSOR_LABEL.into(),
                    Json::String(firing.sensor.name.clone()),
                );
                labels.insert(TRIGGER_LABEL.into(), Json::String(firing.trigger.clone()));
            }
        }
    }
    workflow
}

/// What carrying out firings needs: the workflow engine, the HTTP client, and the store
/// (Secrets of HTTP triggers).
pub struct Effects {
    pub starter: Arc<dyn RunStarter>,
    pub http: HttpSender,
    pub store: Arc<dyn Store>,
}

/// Carries out one action of a firing: `Ok` with what it did, or the error and whether a
/// retry may help.
/// Whether a failed action may be tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RetryClass {
    /// Never: trying again would fail the same way.
    No,
    /// As the trigger's `retryStrategy` allows (its target failed in a way that may pass).
    Policy,
    /// Always, until it works: Switchyard's own store or controller was unavailable.
    Platform,
}

/// The first pause before a firing is tried again after the platform was unavailable.
const PLATFORM_RETRY_FIRST: Duration = Duration::from_millis(250);
/// The longest such pause.
const PLATFORM_RETRY_MAX: Duration = Duration::from_secs(15);

async fn perform(
    effects: &Effects,
    firing: &Firing,
    action: &Action,
    events: &[String],
) -> Result<String, (String, RetryClass)> {
    match action {
        Action::Refused { reason } => Err((reason.clone(), RetryClass::No)),
        Action::Log { message } => {
            tracing::info!(
                sensor = %firing.sensor.path(), trigger = %firing.trigger,
                events = ?events, "{message}"
            );
            Ok("logged".to_owned())
        }
        Action::Http { namespace, request } => {
            match effects
                .http
                .send(effects.store.as_ref(), namespace, request)
                .await
            {
                Ok(status) => Ok(format!(
                    "{} {} answered {status}",
                    request.method, request.url
                )),
                Err(failure) => Err((
                    format!("{} {}: {}", request.method, request.url, failure.message),
                    if failure.retryable {
                        RetryClass::Policy
                    } else {
                        RetryClass::No
                    },
                )),
            }
        }
        Action::StartWorkflow {
            namespace,
            workflow,
        } => {
            let workflow = prepare_workflow(workflow.clone(), firing, events);
            match effects.starter.start_workflow(namespace, workflow).await {
                Ok(name) => Ok(format!("workflow {namespace}/{name}")),
                Err(StartError::AlreadyExists {
                    name,
                    firing: Some(key),
                }) if key == firing.key => Ok(format!("workflow {namespace}/{name}")),
                Err(err @ StartError::Unavailable(_)) => {
                    Err((err.to_string(), RetryClass::Platform))
                }
                Err(err) => Err((err.to_string(), RetryClass::No)),
            }
        }
    }
}

/// Carries out one firing and says how to settle it.
pub async fn carry_out(effects: &Effects, firing: &Firing, now: DateTime<Utc>) -> Settlement {
    let payload: FiringPayload = match serde_json::from_value(firing.payload.clone()) {
        Ok(payload) => payload,
        Err(err) => {
            return Settlement::Dead {
                reason: format!("the stored firing cannot be read: {err}"),
            };
        }
    };
    let started = std::time::Instant::now();
    let outcome = perform(effects, firing, &payload.action, &payload.events).await;
    match outcome {
        Ok(detail) => {
            metrics::action_triggered(
                &firing.sensor.name,
                &firing.trigger,
                started.elapsed().as_secs_f64() * 1000.0,
            );
            tracing::info!(
                sensor = %firing.sensor.path(), trigger = %firing.trigger, firing = %firing.key,
                events = ?payload.events, %detail, "trigger carried out"
            );
            Settlement::Done { detail }
        }
        Err((error, RetryClass::Platform)) => {
            // Switchyard's own store or controller is unavailable: not the trigger's failure,
            // so its retryStrategy is not used up; the firing waits for the platform.
            let delay = PLATFORM_RETRY_FIRST
                .saturating_mul(2u32.saturating_pow(firing.attempts.min(16)))
                .min(PLATFORM_RETRY_MAX);
            tracing::warn!(
                sensor = %firing.sensor.path(), trigger = %firing.trigger,
                firing = %firing.key, %error, retry_in_ms = delay.as_millis() as u64,
                "trigger not carried out: the platform is unavailable; trying again"
            );
            Settlement::Retry {
                not_before: now
                    + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX),
                error,
            }
        }
        Err((error, retry)) => {
            metrics::action_failed(&firing.sensor.name, &firing.trigger);
            let delay = (retry == RetryClass::Policy)
                .then(|| payload.retry.next_delay(firing.attempts))
                .flatten();
            match delay {
                Some(delay) => {
                    tracing::warn!(
                        sensor = %firing.sensor.path(), trigger = %firing.trigger,
                        firing = %firing.key, attempt = firing.attempts + 1, %error,
                        "trigger failed; retrying"
                    );
                    Settlement::Retry {
                        not_before: now
                            + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX),
                        error,
                    }
                }
                None => {
                    tracing::error!(
                        sensor = %firing.sensor.path(), trigger = %firing.trigger,
                        firing = %firing.key, attempts = firing.attempts + 1, %error,
                        "trigger failed; recorded as a dead letter"
                    );
                    let mut reason = format!("after {} attempt(s): {error}", firing.attempts + 1);
                    if let Some(dlq) = &payload.dlq {
                        // Its own key, so a run it starts is not taken for the trigger's.
                        let dead_letter = Firing {
                            key: format!("{}/dlq", firing.key),
                            ..firing.clone()
                        };
                        match perform(effects, &dead_letter, dlq, &payload.events).await {
                            Ok(detail) => reason.push_str(&format!("; dlqTrigger: {detail}")),
                            Err((error, _)) => {
                                reason.push_str(&format!("; dlqTrigger failed: {error}"));
                            }
                        }
                    }
                    Settlement::Dead { reason }
                }
            }
        }
    }
}

/// Drains the outbox until `stop`: takes due firings, carries them out (one at a time per
/// batch, in order), settles them. Wakes on `wake` (a sensor stored firings) or on a
/// one-second tick (retries coming due).
pub async fn run_outbox(
    ledger: Arc<dyn EventLedger>,
    effects: Arc<Effects>,
    wake: Arc<Notify>,
    lease: Option<OutboxLease>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut limiter = RateLimiter::default();
    loop {
        let held = match &lease {
            None => true,
            Some(lease) => lease.hold().await,
        };
        let due = if !held {
            Vec::new()
        } else {
            match ledger.due_firings(Utc::now(), 64).await {
                Ok(due) => due,
                Err(err) => {
                    tracing::warn!(error = %err, "cannot read due firings; trying again");
                    Vec::new()
                }
            }
        };
        let mut busy = false;
        let mut next_allowed: Option<std::time::Instant> = None;
        for firing in due {
            if let Err(at) = limiter.admit(&firing, std::time::Instant::now()) {
                next_allowed = Some(next_allowed.map_or(at, |n| n.min(at)));
                continue;
            }
            // Another process may take the lease once it expires: stop before then.
            if let Some(lease) = &lease
                && !lease.hold().await
            {
                break;
            }
            busy = true;
            let settlement = carry_out(&effects, &firing, Utc::now()).await;
            if let Err(err) = ledger.settle_firing(&firing.key, settlement).await {
                tracing::warn!(firing = %firing.key, error = %err, "cannot settle a firing; it will be tried again");
            }
        }
        if busy {
            continue;
        }
        let idle = if held {
            next_allowed
                .map(|at| at.saturating_duration_since(std::time::Instant::now()))
                .unwrap_or(Duration::from_secs(1))
                .min(Duration::from_secs(1))
        } else {
            OUTBOX_LEASE_RETRY
        };
        tokio::select! {
            () = wake.notified(), if next_allowed.is_none() && held => {}
            _ = stop.changed() => return,
            () = tokio::time::sleep(idle) => {}
        }
    }
}

/// The store lease that makes one process of a platform carry out due firings at a time.
pub const OUTBOX_LEASE: &str = "outbox";
/// How long the outbox lease lasts without renewal.
const OUTBOX_LEASE_TTL: Duration = Duration::from_secs(20);
/// How often a process without the outbox lease tries to take it.
const OUTBOX_LEASE_RETRY: Duration = Duration::from_secs(5);

/// The outbox of a process sharing its platform with others (distributed mode): firings are
/// carried out only while this process holds [`OUTBOX_LEASE`], so two processes do not both
/// send the same HTTP trigger. The lease is renewed before each firing; when its holder dies,
/// another process takes over within [`OUTBOX_LEASE_TTL`]. (A firing whose effect happened
/// but was not settled before a crash is carried out again, as in a single process: starting
/// a Workflow is idempotent by its name, an HTTP trigger is at least once.)
pub struct OutboxLease {
    pub store: Arc<dyn switchyard_store::Store>,
    pub holder: String,
}

impl OutboxLease {
    /// Takes or renews the lease; true while this process holds it.
    async fn hold(&self) -> bool {
        match self
            .store
            .acquire_lease(OUTBOX_LEASE, &self.holder, OUTBOX_LEASE_TTL)
            .await
        {
            Ok(Ok(_)) => true,
            Ok(Err(_)) => false,
            Err(err) => {
                tracing::warn!(error = %err, "cannot take the outbox lease; trying again");
                false
            }
        }
    }
}

/// Each trigger's `rateLimit`, as the times of its recent firings (in this process: a
/// restart starts the windows afresh).
#[derive(Default)]
struct RateLimiter {
    recent:
        std::collections::HashMap<(String, String), std::collections::VecDeque<std::time::Instant>>,
}

impl RateLimiter {
    /// Admits a firing now, or says when its trigger may fire again.
    fn admit(
        &mut self,
        firing: &Firing,
        now: std::time::Instant,
    ) -> Result<(), std::time::Instant> {
        let limit = firing
            .payload
            .get("rateLimit")
            .and_then(|v| serde_json::from_value::<RateLimit>(v.clone()).ok());
        let Some(limit) = limit else {
            return Ok(());
        };
        let window = Duration::from_secs(limit.per_seconds.max(1));
        let times = self
            .recent
            .entry((firing.sensor.uid.clone(), firing.trigger.clone()))
            .or_default();
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            times.pop_front();
        }
        if times.len() >= usize::try_from(limit.requests).unwrap_or(usize::MAX) {
            return Err(times.front().map_or(now, |t| *t + window));
        }
        times.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn run_names_keep_a_given_name_or_derive_one_from_the_firing() {
        let named = json!({"metadata": {"name": "fixed"}});
        assert_eq!(run_name(&named, "s", "k1"), "fixed");
        let generated = json!({"metadata": {"generateName": "environment-"}});
        let a = run_name(&generated, "s", "k1");
        assert!(
            a.starts_with("environment-") && a.len() == "environment-".len() + 8,
            "{a}"
        );
        assert_eq!(a, run_name(&generated, "s", "k1"), "stable for a key");
        assert_ne!(a, run_name(&generated, "s", "k2"));
        assert!(run_name(&json!({}), "orders", "k").starts_with("orders-"));
    }

    #[test]
    fn rate_limits_admit_so_many_per_window() {
        use switchyard_store::ledger::{FiringStatus, SensorId};
        let firing = |limit: Option<RateLimit>| Firing {
            key: "k".into(),
            sensor: SensorId {
                namespace: "default".into(),
                name: "s".into(),
                uid: "u".into(),
            },
            trigger: "t".into(),
            payload: serde_json::to_value(FiringPayload {
                action: Action::Log {
                    message: String::new(),
                },
                retry: Retry::default(),
                rate_limit: limit,
                dlq: None,
                events: Vec::new(),
            })
            .unwrap(),
            status: FiringStatus::Pending,
            attempts: 0,
            created_at: Utc::now(),
            not_before: Utc::now(),
            detail: String::new(),
        };
        let limited = firing(Some(RateLimit {
            requests: 2,
            per_seconds: 60,
        }));
        let mut limiter = RateLimiter::default();
        let start = std::time::Instant::now();
        assert!(limiter.admit(&limited, start).is_ok());
        assert!(limiter.admit(&limited, start).is_ok());
        let later = start + Duration::from_secs(59);
        assert_eq!(
            limiter.admit(&limited, later),
            Err(start + Duration::from_secs(60))
        );
        assert!(
            limiter
                .admit(&limited, start + Duration::from_secs(60))
                .is_ok()
        );
        // Without a limit, anything goes.
        let free = firing(None);
        for _ in 0..100 {
            assert!(limiter.admit(&free, start).is_ok());
        }
    }

    #[test]
    fn retries_follow_the_backoff_and_stop_after_the_steps() {
        let retry = Retry {
            steps: 3,
            duration_ms: 100,
            factor: 2.0,
        };
        assert_eq!(retry.next_delay(0), Some(Duration::from_millis(100)));
        assert_eq!(retry.next_delay(1), Some(Duration::from_millis(200)));
        assert_eq!(retry.next_delay(2), None);
        assert_eq!(Retry::default().next_delay(0), None);
    }
}
