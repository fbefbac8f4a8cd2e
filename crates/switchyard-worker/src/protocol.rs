//! What the controller and the workers exchange: the subjects and their messages, the step
//! records in the store (result, claim, stop marker), and the names derived from a step id
//! (record keys, lease, dedup ids, consumer names). See the crate docs for the protocol.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::time::Duration;
use switchyard_bus::{
    MAX_CONSUMER_NAME_LEN, MAX_DEDUP_ID_LEN, OutgoingMessage, Subject, SubjectFilter,
};
use switchyard_engine::{LogLine, RunnerError, StepHandle, StepResult, StepSpec, StopReason};
use switchyard_store::{SecretSealer, Store, StoreError};

use crate::WorkerError;

/// Where the controller enqueues step requests (payload sealed).
pub const RUN_SUBJECT: &str = "steps.run";
/// Where a worker says a step's result is recorded.
pub const DONE_SUBJECT: &str = "steps.done";
/// Where the controller asks the worker running a step to stop it.
pub const STOP_SUBJECT: &str = "steps.stop";
/// The durable consumer on [`RUN_SUBJECT`] that every worker shares.
pub const WORKERS_CONSUMER: &str = "workers";
/// What the `dir` of a [`StepHandle`] returned by the queue starts with: the step is on the
/// queue (or on a worker), not in a local directory.
pub const QUEUED_DIR_PREFIX: &str = "queued:steps.run/";

/// Longest step id used as it is in record keys, lease names and dedup ids; longer ids (and
/// ids with control characters) are replaced by their SHA-256.
const MAX_PLAIN_KEY_LEN: usize = 160;
/// Version of the sealed request format.
const REQUEST_VERSION: u32 = 1;

/// The names derived from one step id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StepKeys {
    pub id: String,
    /// The id, or `sha256-<hex>` when the id is long or has control characters.
    pub key: String,
}

impl StepKeys {
    pub fn new(id: &str) -> Self {
        let plain = id.len() <= MAX_PLAIN_KEY_LEN && !id.chars().any(char::is_control);
        let key = if plain {
            id.to_owned()
        } else {
            format!("sha256-{}", hex::encode(Sha256::digest(id.as_bytes())))
        };
        StepKeys {
            id: id.to_owned(),
            key,
        }
    }

    /// The store's meta key of the step's result record.
    pub fn result(&self) -> String {
        format!("step/{}/result", self.key)
    }

    /// The store's meta key of the step's claim record.
    pub fn claim(&self) -> String {
        format!("step/{}/claim", self.key)
    }

    /// The store's meta key of the step's stop marker.
    pub fn stop(&self) -> String {
        format!("step/{}/stop", self.key)
    }

    /// The store's meta key of the step's log so far, while it runs ([`LiveLog`]).
    pub fn live(&self) -> String {
        format!("step/{}/live", self.key)
    }

    /// The store lease a worker holds while it runs the step.
    pub fn lease(&self) -> String {
        format!("step/{}", self.key)
    }

    fn dedup(&self, what: &str) -> String {
        let id = format!("{what}/{}", self.key);
        debug_assert!(id.len() <= MAX_DEDUP_ID_LEN);
        id
    }

    /// What the queue hands back from `start`.
    pub fn queued_handle(&self) -> StepHandle {
        StepHandle {
            id: self.id.clone(),
            pid: 0,
            pid_start_time: 0,
            dir: PathBuf::from(format!("{QUEUED_DIR_PREFIX}{}", self.key)),
            started_at: Utc::now(),
        }
    }
}

/// A durable consumer name for one process: `<prefix>-<instance>`, or, when the instance
/// has characters a consumer name cannot hold or is too long, a cleaned-up form followed by
/// a hash of the instance (so two instances never share a name).
pub(crate) fn consumer_name(prefix: &str, instance: &str) -> String {
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let plain = format!("{prefix}-{instance}");
    if instance.chars().all(allowed) && plain.len() <= MAX_CONSUMER_NAME_LEN {
        return plain;
    }
    let cleaned: String = instance
        .chars()
        .map(|c| if allowed(c) { c } else { '_' })
        .take(64)
        .collect();
    let hash = hex::encode(Sha256::digest(instance.as_bytes()));
    format!("{prefix}-{cleaned}-{}", &hash[..16])
}

/// Checks an instance name: it is a lease holder, so 1 to 253 characters without control
/// characters.
pub(crate) fn validate_instance(instance: &str) -> Result<(), String> {
    if instance.is_empty() || instance.len() > 253 || instance.chars().any(char::is_control) {
        return Err(format!(
            "the instance name `{}` must be 1 to 253 characters without control characters",
            instance.escape_debug()
        ));
    }
    Ok(())
}

pub(crate) fn subject(s: &str) -> Subject {
    // The subjects are constants of this module, checked by a test.
    Subject::new(s).unwrap_or_else(|e| panic!("bad built-in subject `{s}`: {e}"))
}

pub(crate) fn filter(s: &str) -> SubjectFilter {
    SubjectFilter::from(subject(s))
}

// ---- messages ---------------------------------------------------------------------------

/// A step request, sealed on the bus (the spec's env holds resolved Secret values).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RunRequest {
    pub version: u32,
    /// The controller instance that enqueued it.
    pub requested_by: String,
    pub spec: StepSpec,
}

/// The request message for `spec`: sealed JSON, dedup id from the step.
pub(crate) fn run_message(
    sealer: &SecretSealer,
    keys: &StepKeys,
    instance: &str,
    spec: &StepSpec,
) -> Result<OutgoingMessage, WorkerError> {
    let request = RunRequest {
        version: REQUEST_VERSION,
        requested_by: instance.to_owned(),
        spec: spec.clone(),
    };
    let json = serde_json::to_vec(&request).map_err(|e| WorkerError::Internal {
        reason: format!("cannot encode the request of step `{}`: {e}", keys.id),
    })?;
    let sealed = sealer.try_seal(&json).map_err(WorkerError::Store)?;
    Ok(OutgoingMessage::new(subject(RUN_SUBJECT), sealed).with_dedup_id(keys.dedup(RUN_SUBJECT)))
}

/// Opens a request message: unseal, then decode.
pub(crate) fn open_request(sealer: &SecretSealer, payload: &[u8]) -> Result<RunRequest, String> {
    let plain = sealer.open(payload).map_err(|e| {
        format!("cannot unseal it ({e}); every process of a platform needs the same secret key")
    })?;
    let request: RunRequest = serde_json::from_slice(&plain)
        .map_err(|e| format!("cannot decode it ({e}); was it sent by a newer version?"))?;
    if request.version != REQUEST_VERSION {
        return Err(format!(
            "its format version is {}; this build reads version {REQUEST_VERSION}",
            request.version
        ));
    }
    Ok(request)
}

/// `steps.done`: the result of a step is recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DoneNotice {
    pub step: String,
}

pub(crate) fn done_message(keys: &StepKeys) -> OutgoingMessage {
    let notice = DoneNotice {
        step: keys.id.clone(),
    };
    OutgoingMessage::new(subject(DONE_SUBJECT), json_bytes(&notice))
        .with_dedup_id(keys.dedup(DONE_SUBJECT))
}

/// `steps.stop`: stop the step with this reason and grace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StopNotice {
    pub step: String,
    pub reason: StopReason,
    pub grace_ms: u64,
}

impl StopNotice {
    pub fn grace(&self) -> Duration {
        Duration::from_millis(self.grace_ms)
    }
}

pub(crate) fn stop_message(
    keys: &StepKeys,
    reason: StopReason,
    grace: Duration,
) -> OutgoingMessage {
    let notice = StopNotice {
        step: keys.id.clone(),
        reason,
        grace_ms: millis(grace),
    };
    OutgoingMessage::new(subject(STOP_SUBJECT), json_bytes(&notice))
        .with_dedup_id(keys.dedup(&format!("{STOP_SUBJECT}/{}", reason_name(reason))))
}

fn json_bytes<T: Serialize>(value: &T) -> Vec<u8> {
    // Plain structs of strings and numbers always serialize.
    serde_json::to_vec(value).unwrap_or_default()
}

pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

pub(crate) fn reason_name(reason: StopReason) -> &'static str {
    match reason {
        StopReason::Timeout => "timeout",
        StopReason::Deadline => "deadline",
        StopReason::Stopped => "stopped",
        StopReason::Terminated => "terminated",
        StopReason::Shutdown => "shutdown",
    }
}

// ---- records ----------------------------------------------------------------------------

/// `step/<key>/result`: how the step ended, written once by the worker that settled it, and
/// replaced by [`Outcome::CleanedUp`] when the controller cleans the step up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ResultRecord {
    pub step: String,
    /// The worker (or, for a clean-up, the controller) that wrote it.
    pub written_by: String,
    pub recorded_at: DateTime<Utc>,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub logs: Vec<LogLine>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub(crate) enum Outcome {
    /// The step ran and ended (possibly stopped, or stopped before it started).
    Exited { result: StepResult },
    /// Nobody knows how the step ended (its worker died, or its process vanished); the
    /// result has no exit code and says why.
    Lost { result: StepResult },
    /// The local runner could not start it, or failed itself.
    Failed { error: RecordedError },
    /// The controller collected the result and cleaned the step up: a tombstone, so a late
    /// duplicate request is acknowledged without running the step.
    CleanedUp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "message", rename_all = "camelCase")]
pub(crate) enum RecordedError {
    Start(String),
    Internal(String),
}

impl From<RunnerError> for RecordedError {
    fn from(e: RunnerError) -> Self {
        match e {
            RunnerError::Start(m) => RecordedError::Start(m),
            RunnerError::Internal(m) => RecordedError::Internal(m),
        }
    }
}

impl From<RecordedError> for RunnerError {
    fn from(e: RecordedError) -> Self {
        match e {
            RecordedError::Start(m) => RunnerError::Start(m),
            RecordedError::Internal(m) => RunnerError::Internal(m),
        }
    }
}

impl ResultRecord {
    pub fn new(keys: &StepKeys, written_by: &str, outcome: Outcome, logs: Vec<LogLine>) -> Self {
        ResultRecord {
            step: keys.id.clone(),
            written_by: written_by.to_owned(),
            recorded_at: Utc::now(),
            outcome,
            logs,
        }
    }
}

/// `step/<key>/claim`: which worker took the step and, once started, its local handle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ClaimRecord {
    pub step: String,
    pub worker: String,
    /// The lease token the worker held when it claimed the step.
    pub token: u64,
    pub handle: Option<StepHandle>,
    pub claimed_at: DateTime<Utc>,
}

/// `step/<key>/stop`: the controller asked for the step to stop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StopRecord {
    pub step: String,
    pub reason: StopReason,
    pub grace_ms: u64,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
}

impl StopRecord {
    pub fn grace(&self) -> Duration {
        Duration::from_millis(self.grace_ms)
    }
}

/// Reads and decodes one record; a record that does not decode is [`StoreError::Corrupt`].
/// `step/<key>/live`: the first lines of a running step's log, shared by its worker every
/// [`LIVE_LOG_EVERY`] while they change, up to [`LIVE_LOG_MAX_BYTES`] of text (the rest
/// appears with the result). Line `i` here is line `i` of the whole log, so a reader that
/// follows the live log goes on with the result's log where it left off. Removed once the
/// result is recorded.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LiveLog {
    pub lines: Vec<LogLine>,
}

/// How often a worker shares a running step's new log lines.
pub const LIVE_LOG_EVERY: Duration = Duration::from_secs(1);
/// Text of a running step's log shared while it runs (each share rewrites the record, so
/// the cost stays bounded for a step that writes a lot).
pub const LIVE_LOG_MAX_BYTES: usize = 256 * 1024;

pub(crate) async fn read_record<T: serde::de::DeserializeOwned>(
    store: &dyn Store,
    key: &str,
) -> Result<Option<T>, StoreError> {
    match store.get_meta(key).await? {
        None => Ok(None),
        Some(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| StoreError::Corrupt {
                what: format!("the step record `{key}` cannot be read: {e}"),
            }),
    }
}

pub(crate) async fn write_record<T: Serialize>(
    store: &dyn Store,
    key: &str,
    record: &T,
) -> Result<(), StoreError> {
    let text = serde_json::to_string(record).map_err(|e| StoreError::Internal {
        reason: format!("cannot encode the step record `{key}`: {e}"),
    })?;
    store.put_meta(key, &text).await
}

/// A result for a step that never ran or whose end nobody saw: no exit code, `message` says
/// why.
pub(crate) fn synthetic_result(message: String, stopped: Option<StopReason>) -> StepResult {
    let now = Utc::now();
    StepResult {
        exit_code: None,
        result: String::new(),
        outputs: Default::default(),
        stopped,
        message,
        started_at: now,
        finished_at: now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_bus::validate_consumer_name;

    #[test]
    fn subjects_are_valid_and_outside_events() {
        for s in [RUN_SUBJECT, DONE_SUBJECT, STOP_SUBJECT] {
            assert!(Subject::new(s).is_ok(), "{s}");
            assert!(!s.starts_with("events."), "{s}");
        }
    }

    #[test]
    fn keys_use_the_id_or_its_hash() {
        let short = StepKeys::new("hello-world-1234");
        assert_eq!(short.key, "hello-world-1234");
        assert_eq!(short.result(), "step/hello-world-1234/result");
        assert_eq!(short.lease(), "step/hello-world-1234");
        assert_eq!(short.dedup(RUN_SUBJECT), "steps.run/hello-world-1234");
        for odd in ["x".repeat(MAX_PLAIN_KEY_LEN + 1), "a\nb".to_owned()] {
            let keys = StepKeys::new(&odd);
            assert!(keys.key.starts_with("sha256-"), "{}", keys.key);
            assert_eq!(keys.key.len(), 7 + 64);
            assert_eq!(keys.id, odd);
        }
        let long = "y".repeat(100_000);
        let keys = StepKeys::new(&long);
        assert!(keys.dedup(STOP_SUBJECT).len() <= MAX_DEDUP_ID_LEN);
        assert!(
            switchyard_store::check_lease_request(&keys.lease(), "w", Duration::from_secs(1))
                .is_ok()
        );
        assert_ne!(StepKeys::new("a").key, StepKeys::new("b").key);
    }

    #[test]
    fn consumer_names_are_valid_and_distinct() {
        assert_eq!(consumer_name("steps-done", "ctl-1"), "steps-done-ctl-1");
        let odd = [
            "host.example.com",
            "host.example.org",
            "ünï",
            &"z".repeat(253),
            "a b",
            "a_b",
        ];
        let names: Vec<String> = odd.iter().map(|i| consumer_name("steps-stop", i)).collect();
        for name in &names {
            assert_eq!(validate_consumer_name(name), Ok(()), "{name}");
        }
        let distinct: std::collections::BTreeSet<_> = names.iter().collect();
        assert_eq!(distinct.len(), names.len(), "{names:?}");
    }

    #[test]
    fn instance_names() {
        assert!(validate_instance("worker-1").is_ok());
        for bad in ["", "a\tb", &"x".repeat(254)] {
            assert!(validate_instance(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn requests_round_trip_sealed() {
        let sealer = SecretSealer::from_key([3; 32]);
        let spec = StepSpec {
            id: "s1".into(),
            run: "r".into(),
            image: None,
            command: vec!["sh".into()],
            args: vec![],
            env: vec![("TOKEN".into(), "very-secret-value".into())],
            working_dir: None,
            script_source: None,
            files: Default::default(),
            output_paths: Default::default(),
            timeout: Some(Duration::from_millis(1500)),
            capture: Default::default(),
        };
        let keys = StepKeys::new(&spec.id);
        let msg = run_message(&sealer, &keys, "ctl", &spec).unwrap();
        assert_eq!(msg.dedup_id.as_deref(), Some("steps.run/s1"));
        let needle = b"very-secret-value";
        assert!(!msg.payload.windows(needle.len()).any(|w| w == needle));
        let opened = open_request(&sealer, &msg.payload).unwrap();
        assert_eq!(opened.spec, spec);
        assert_eq!(opened.requested_by, "ctl");
        let other = SecretSealer::from_key([4; 32]);
        let err = open_request(&other, &msg.payload).unwrap_err();
        assert!(err.contains("same secret key"), "{err}");
    }

    #[test]
    fn records_round_trip() {
        let keys = StepKeys::new("s");
        let record = ResultRecord::new(
            &keys,
            "w",
            Outcome::Failed {
                error: RecordedError::Start("no such program".into()),
            },
            vec![],
        );
        let text = serde_json::to_string(&record).unwrap();
        assert_eq!(serde_json::from_str::<ResultRecord>(&text).unwrap(), record);
        let tomb = ResultRecord::new(&keys, "c", Outcome::CleanedUp, vec![]);
        let text = serde_json::to_string(&tomb).unwrap();
        assert!(text.contains("\"kind\":\"cleanedUp\""), "{text}");
        assert_eq!(serde_json::from_str::<ResultRecord>(&text).unwrap(), tomb);
    }
}
