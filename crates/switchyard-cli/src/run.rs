//! A workflow run as the CLI sees it: the stored `Workflow` object read into its identity, the
//! submitted parameters and Argo's status model, plus what `list` filters and sorts by, and
//! the human forms of times and durations the run views print.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};
use serde_json::Value;
use switchyard_engine::{NodeType, RunStatus, WorkflowPhase};

/// One run, read from its `Workflow` object.
#[derive(Debug, Clone)]
pub struct Run {
    pub name: String,
    pub namespace: String,
    pub created: Option<DateTime<Utc>>,
    pub labels: BTreeMap<String, String>,
    /// `spec.arguments.parameters`: name and value (or default), in order.
    pub parameters: Vec<(String, String)>,
    /// The whole run is suspended: Argo's `spec.suspend`, or the engine's
    /// `status.switchyard.suspended`.
    pub suspend: bool,
    /// `Stop` or `Terminate` was asked for: Argo's `spec.shutdown`, or the engine's
    /// `status.switchyard.shutdown.strategy`.
    pub shutdown: Option<String>,
    /// `None` until the run has a status.
    pub status: Option<RunStatus>,
    /// Why `status` could not be read, when it could not.
    pub status_error: Option<String>,
}

impl Run {
    /// Reads a `Workflow` object as the API returns it. Never fails: fields that are missing
    /// stay empty, and a status this CLI cannot read is kept as `status_error`.
    pub fn from_value(object: &Value) -> Run {
        let text = |pointer: &str| {
            object
                .pointer(pointer)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let labels = object
            .pointer("/metadata/labels")
            .and_then(Value::as_object)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), scalar_text(v))).collect())
            .unwrap_or_default();
        // The resolved workflow parameters the server records (`status.switchyard.arguments`),
        // else the submitted spec's.
        let resolved = object
            .pointer("/status/switchyard/arguments/parameters")
            .and_then(Value::as_array)
            .filter(|list| !list.is_empty());
        let parameters = resolved
            .or_else(|| {
                object
                    .pointer("/spec/arguments/parameters")
                    .and_then(Value::as_array)
            })
            .map(|list| {
                list.iter()
                    .filter_map(|p| {
                        let name = p.get("name").and_then(Value::as_str)?;
                        let value = p
                            .get("value")
                            .filter(|v| !v.is_null())
                            .or_else(|| p.get("default").filter(|v| !v.is_null()))?;
                        Some((name.to_owned(), scalar_text(value)))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let (status, status_error) = match object.get("status") {
            None | Some(Value::Null) => (None, None),
            Some(Value::Object(m)) if m.is_empty() => (None, None),
            Some(value) => match serde_json::from_value::<RunStatus>(value.clone()) {
                Ok(status) => (Some(status), None),
                Err(e) => (None, Some(e.to_string())),
            },
        };
        Run {
            name: text("/metadata/name"),
            namespace: text("/metadata/namespace"),
            created: object
                .pointer("/metadata/creationTimestamp")
                .and_then(Value::as_str)
                .and_then(parse_time),
            labels,
            parameters,
            suspend: ["/spec/suspend", "/status/switchyard/suspended"]
                .iter()
                .any(|p| object.pointer(p).and_then(Value::as_bool) == Some(true)),
            shutdown: ["/spec/shutdown", "/status/switchyard/shutdown/strategy"]
                .iter()
                .map(|p| text(p))
                .find(|s| !s.is_empty()),
            status,
            status_error,
        }
    }

    pub fn phase(&self) -> Option<WorkflowPhase> {
        self.status.as_ref().map(|s| s.phase)
    }

    /// Whether the run has ended (Succeeded, Failed or Error).
    pub fn finished(&self) -> bool {
        self.phase().is_some_and(WorkflowPhase::is_finished)
    }

    /// Whether the run ended Failed or Error.
    pub fn failed(&self) -> bool {
        matches!(
            self.phase(),
            Some(WorkflowPhase::Failed | WorkflowPhase::Error)
        )
    }

    pub fn started(&self) -> Option<DateTime<Utc>> {
        self.status.as_ref().and_then(|s| s.started_at)
    }

    pub fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.status.as_ref().and_then(|s| s.finished_at)
    }

    pub fn message(&self) -> &str {
        self.status
            .as_ref()
            .and_then(|s| s.message.as_deref())
            .unwrap_or_default()
    }

    pub fn progress(&self) -> &str {
        self.status.as_ref().map_or("", |s| s.progress.as_str())
    }

    /// Whether the run waits on `suspend`: the whole run, or a suspend node.
    pub fn suspended(&self) -> bool {
        self.suspend
            || self
                .status
                .as_ref()
                .is_some_and(|s| s.nodes.values().any(|n| n.is_active_suspend()))
    }

    /// The status as Argo shows it: the phase, `Running (Suspended)` while it waits on a
    /// suspend, `Failed (Terminated)` after `stop`/`terminate`, `Unknown` when unreadable.
    pub fn display_status(&self) -> String {
        if self.status_error.is_some() {
            return "Unknown".to_owned();
        }
        match self.phase() {
            None | Some(WorkflowPhase::Pending) => "Pending".to_owned(),
            Some(WorkflowPhase::Running) if self.suspended() => "Running (Suspended)".to_owned(),
            Some(WorkflowPhase::Failed) if self.shutdown.is_some() => {
                "Failed (Terminated)".to_owned()
            }
            Some(phase) => phase.as_str().to_owned(),
        }
    }

    /// How long the run has run: to its end, or to `now` while it runs.
    pub fn duration(&self, now: DateTime<Utc>) -> Option<Duration> {
        self.started()
            .map(|start| elapsed(start, self.finished_at().unwrap_or(now)))
    }

    /// What a watcher that cannot redraw compares to decide whether to print the run again:
    /// its phase, message and progress, and each node's phase and message (not the clock).
    pub fn change_key(&self) -> String {
        let mut key = format!(
            "{}|{}|{}|{}",
            self.display_status(),
            self.message(),
            self.progress(),
            self.status_error.as_deref().unwrap_or_default()
        );
        if let Some(status) = &self.status {
            for node in status.nodes.values() {
                key.push_str(&format!(
                    "|{}:{}:{}:{}",
                    node.id,
                    node.phase.as_str(),
                    node.message.as_deref().unwrap_or_default(),
                    node.resumed_by.as_deref().unwrap_or_default()
                ));
            }
        }
        key
    }

    /// Pending, running and completed step nodes (Argo's `P/R/C`).
    pub fn pending_running_completed(&self) -> (usize, usize, usize) {
        let mut counts = (0, 0, 0);
        let Some(status) = &self.status else {
            return counts;
        };
        for node in status.nodes.values() {
            if !matches!(node.node_type, NodeType::Pod | NodeType::Container) {
                continue;
            }
            if node.fulfilled() {
                counts.2 += 1;
            } else if node.phase == switchyard_engine::NodePhase::Running {
                counts.1 += 1;
            } else {
                counts.0 += 1;
            }
        }
        counts
    }
}

/// A JSON scalar as text: strings as they are, anything else as JSON.
fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// `to - from`, never negative.
pub fn elapsed(from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
    (to - from).to_std().unwrap_or(Duration::ZERO)
}

/// Argo's list order: unfinished runs first, newest first; then finished runs, the most
/// recently finished first. Ties by name, so the order is stable.
pub fn run_order(a: &Run, b: &Run) -> Ordering {
    let by_time = match (a.finished_at(), b.finished_at()) {
        (None, None) => b.created.cmp(&a.created),
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(fa), Some(fb)) => fb.cmp(&fa),
    };
    by_time
        .then_with(|| a.namespace.cmp(&b.namespace))
        .then_with(|| a.name.cmp(&b.name))
}

/// `12s`, `1m 3s`, `2h 5m`, `3d 4h`: at most two units, the smaller left out when zero.
pub fn short_duration(d: Duration) -> String {
    let s = d.as_secs();
    let (days, hours, minutes, seconds) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    let two = |big: u64, big_unit: &str, small: u64, small_unit: &str| {
        if small == 0 {
            format!("{big}{big_unit}")
        } else {
            format!("{big}{big_unit} {small}{small_unit}")
        }
    };
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        two(s / 60, "m", seconds, "s")
    } else if s < 86_400 {
        two(s / 3600, "h", minutes, "m")
    } else {
        two(days, "d", hours, "h")
    }
}

/// How long ago, in words: `now`, `1 second ago`, `5 minutes ago`, `2 days ago`.
pub fn ago(now: DateTime<Utc>, then: DateTime<Utc>) -> String {
    let s = elapsed(then, now).as_secs();
    let (n, unit) = if s < 60 {
        (s, "second")
    } else if s < 3600 {
        (s / 60, "minute")
    } else if s < 86_400 {
        (s / 3600, "hour")
    } else {
        (s / 86_400, "day")
    };
    match n {
        0 => "now".to_owned(),
        1 => format!("1 {unit} ago"),
        n => format!("{n} {unit}s ago"),
    }
}

/// `Mon Jun 01 11:50:00 +0000 (10 minutes ago)`, in the time zone `tz`.
pub fn timestamp(t: DateTime<Utc>, now: DateTime<Utc>, tz: FixedOffset) -> String {
    format!(
        "{} ({})",
        t.with_timezone(&tz).format("%a %b %d %H:%M:%S %z"),
        ago(now, t)
    )
}

/// The offset of the local time zone now (UTC when it cannot be known).
pub fn local_offset() -> FixedOffset {
    *chrono::Local::now().offset()
}

/// A label selector as `kubectl -l` and `argo list -l` take it: comma-separated
/// `key=value`, `key==value`, `key!=value`, `key` (has the label) and `!key` (has not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelSelector {
    terms: Vec<LabelTerm>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum LabelTerm {
    Equals(String, String),
    NotEquals(String, String),
    Exists(String),
    Missing(String),
}

impl LabelSelector {
    pub fn parse(text: &str) -> Result<LabelSelector, String> {
        let mut terms = Vec::new();
        for term in text.split(',').map(str::trim) {
            if term.is_empty() {
                return Err(format!(
                    "label selector `{text}` has an empty term; write key=value[,key!=value...]"
                ));
            }
            let parsed = if let Some((k, v)) = term.split_once("!=") {
                LabelTerm::NotEquals(k.trim().to_owned(), v.trim().to_owned())
            } else if let Some((k, v)) = term.split_once("==") {
                LabelTerm::Equals(k.trim().to_owned(), v.trim().to_owned())
            } else if let Some((k, v)) = term.split_once('=') {
                LabelTerm::Equals(k.trim().to_owned(), v.trim().to_owned())
            } else if let Some(k) = term.strip_prefix('!') {
                LabelTerm::Missing(k.trim().to_owned())
            } else {
                LabelTerm::Exists(term.to_owned())
            };
            let key = match &parsed {
                LabelTerm::Equals(k, _)
                | LabelTerm::NotEquals(k, _)
                | LabelTerm::Exists(k)
                | LabelTerm::Missing(k) => k,
            };
            if key.is_empty() || key.contains(char::is_whitespace) {
                return Err(format!(
                    "label selector `{text}`: `{term}` has no valid key; write key=value[,key!=value...]"
                ));
            }
            terms.push(parsed);
        }
        Ok(LabelSelector { terms })
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.terms.iter().all(|t| match t {
            LabelTerm::Equals(k, v) => labels.get(k) == Some(v),
            LabelTerm::NotEquals(k, v) => labels.get(k) != Some(v),
            LabelTerm::Exists(k) => labels.contains_key(k),
            LabelTerm::Missing(k) => !labels.contains_key(k),
        })
    }
}

/// Which runs `list` shows. Every condition given must hold.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    /// Only unfinished runs (`--running`).
    pub running: bool,
    /// Only finished runs (`--completed`).
    pub completed: bool,
    /// Only runs in one of these phases (`--status`).
    pub phases: Vec<WorkflowPhase>,
    pub labels: Option<LabelSelector>,
    /// Only runs created within this long before now (`--since`).
    pub since: Option<Duration>,
    /// Only runs that finished more than this long before now (`--older`).
    pub older: Option<Duration>,
}

impl RunFilter {
    pub fn matches(&self, run: &Run, now: DateTime<Utc>) -> bool {
        if self.running && run.finished() {
            return false;
        }
        if self.completed && !run.finished() {
            return false;
        }
        if !self.phases.is_empty() {
            let phase = run.phase().unwrap_or(WorkflowPhase::Pending);
            if !self.phases.contains(&phase) {
                return false;
            }
        }
        if let Some(selector) = &self.labels
            && !selector.matches(&run.labels)
        {
            return false;
        }
        if let Some(since) = self.since
            && run.created.is_none_or(|c| elapsed(c, now) > since)
        {
            return false;
        }
        if let Some(older) = self.older
            && run.finished_at().is_none_or(|f| elapsed(f, now) <= older)
        {
            return false;
        }
        true
    }
}

/// Parses one `--status` value (case-insensitive).
pub fn parse_phase(text: &str) -> Result<WorkflowPhase, String> {
    const PHASES: [WorkflowPhase; 5] = [
        WorkflowPhase::Pending,
        WorkflowPhase::Running,
        WorkflowPhase::Succeeded,
        WorkflowPhase::Failed,
        WorkflowPhase::Error,
    ];
    PHASES
        .into_iter()
        .find(|p| p.as_str().eq_ignore_ascii_case(text.trim()))
        .ok_or_else(|| {
            format!(
                "unknown status `{text}`; expected Pending, Running, Succeeded, Failed or Error"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(s: &str) -> DateTime<Utc> {
        parse_time(s).unwrap()
    }

    fn run(name: &str, created: &str, status: Value) -> Run {
        Run::from_value(&json!({
            "metadata": {"name": name, "namespace": "default", "creationTimestamp": created},
            "status": status
        }))
    }

    #[test]
    fn reads_a_workflow_object() {
        let object = json!({
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Workflow",
            "metadata": {"name": "hello-x7k2p", "namespace": "team-a", "uid": "u-1",
                         "creationTimestamp": "2026-06-01T11:50:00Z", "labels": {"env": "dev"}},
            "spec": {"suspend": true, "arguments": {"parameters": [
                {"name": "env", "value": "dev"},
                {"name": "replicas", "value": 3},
                {"name": "region", "default": "eu"},
                {"name": "unset"}
            ]}},
            "status": {"phase": "Running", "progress": "0/1", "startedAt": "2026-06-01T11:50:01Z",
                       "extraKey": {"ignored": true}, "nodes": {}}
        });
        let run = Run::from_value(&object);
        assert_eq!(run.name, "hello-x7k2p");
        assert_eq!(run.namespace, "team-a");
        assert_eq!(run.created, Some(at("2026-06-01T11:50:00Z")));
        assert_eq!(run.labels.get("env").map(String::as_str), Some("dev"));
        assert_eq!(
            run.parameters,
            vec![
                ("env".to_owned(), "dev".to_owned()),
                ("replicas".to_owned(), "3".to_owned()),
                ("region".to_owned(), "eu".to_owned()),
            ]
        );
        assert_eq!(run.phase(), Some(WorkflowPhase::Running));
        assert_eq!(run.display_status(), "Running (Suspended)");
        assert_eq!(run.progress(), "0/1");
        assert_eq!(
            run.duration(at("2026-06-01T11:51:04Z")),
            Some(Duration::from_secs(63))
        );
        assert!(!run.finished());
    }

    #[test]
    fn statuses_as_argo_shows_them() {
        let cases = [
            (json!(null), "Pending"),
            (json!({}), "Pending"),
            (
                json!({"phase": "Succeeded", "progress": "1/1"}),
                "Succeeded",
            ),
            (json!({"phase": "Error", "progress": "1/1"}), "Error"),
            (json!({"phase": "Bogus"}), "Unknown"),
        ];
        for (status, want) in cases {
            let r = run("a", "2026-06-01T11:50:00Z", status.clone());
            assert_eq!(r.display_status(), want, "{status}");
        }
        let stopped = Run::from_value(&json!({
            "metadata": {"name": "a"}, "spec": {"shutdown": "Stop"},
            "status": {"phase": "Failed", "progress": "0/1"}
        }));
        assert_eq!(stopped.display_status(), "Failed (Terminated)");
        assert!(stopped.failed());
        // What the engine records under `status.switchyard` counts the same.
        let engine = |extra: Value, phase: &str| {
            Run::from_value(&json!({
                "metadata": {"name": "a"},
                "spec": {"arguments": {"parameters": [{"name": "who", "value": "spec"}]}},
                "status": {"phase": phase, "progress": "0/1", "switchyard": extra}
            }))
        };
        let r = engine(json!({"suspended": true}), "Running");
        assert_eq!(r.display_status(), "Running (Suspended)");
        assert_eq!(r.parameters, [("who".to_owned(), "spec".to_owned())]);
        let r = engine(
            json!({"shutdown": {"strategy": "Terminate", "by": "admin"},
                   "arguments": {"parameters": [{"name": "who", "value": "resolved"}]}}),
            "Failed",
        );
        assert_eq!(r.display_status(), "Failed (Terminated)");
        assert_eq!(r.parameters, [("who".to_owned(), "resolved".to_owned())]);
        let unreadable = run("a", "x", json!({"phase": "Bogus"}));
        assert!(
            unreadable
                .status_error
                .as_deref()
                .unwrap()
                .contains("Bogus")
        );
    }

    #[test]
    fn sorts_unfinished_first_then_recently_finished() {
        let done = |name: &str, created: &str, finished: &str| {
            run(
                name,
                created,
                json!({"phase": "Succeeded", "progress": "1/1", "finishedAt": finished}),
            )
        };
        let mut runs = [
            done("old-done", "2026-06-01T10:00:00Z", "2026-06-01T10:05:00Z"),
            run(
                "old-running",
                "2026-06-01T09:00:00Z",
                json!({"phase": "Running", "progress": "0/1"}),
            ),
            done("new-done", "2026-06-01T08:00:00Z", "2026-06-01T11:00:00Z"),
            run("new-pending", "2026-06-01T11:00:00Z", json!(null)),
        ];
        runs.sort_by(run_order);
        let names: Vec<&str> = runs.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            ["new-pending", "old-running", "new-done", "old-done"]
        );
    }

    #[test]
    fn change_key_ignores_the_clock_but_not_progress() {
        let node = |phase: &str| {
            json!({"phase": "Running", "progress": "0/1", "startedAt": "2026-06-01T11:00:00Z",
                   "nodes": {"a": {"id": "a", "name": "a", "displayName": "a", "type": "Pod",
                                   "phase": phase, "startedAt": "2026-06-01T11:00:00Z"}}})
        };
        let a = run("a", "2026-06-01T11:00:00Z", node("Running"));
        let same = run("a", "2026-06-01T11:00:00Z", node("Running"));
        let moved = run("a", "2026-06-01T11:00:00Z", node("Succeeded"));
        assert_eq!(a.change_key(), same.change_key());
        assert_ne!(a.change_key(), moved.change_key());
    }

    #[test]
    fn durations_and_ages_in_words() {
        let cases = [
            (0, "0s"),
            (12, "12s"),
            (59, "59s"),
            (60, "1m"),
            (63, "1m 3s"),
            (3599, "59m 59s"),
            (3600, "1h"),
            (2 * 3600 + 5 * 60 + 9, "2h 5m"),
            (86_400 * 3 + 3600 * 4, "3d 4h"),
            (86_400 * 9, "9d"),
        ];
        for (s, want) in cases {
            assert_eq!(short_duration(Duration::from_secs(s)), want, "{s}");
        }
        let now = at("2026-06-01T12:00:00Z");
        let cases = [
            (0, "now"),
            (1, "1 second ago"),
            (45, "45 seconds ago"),
            (60, "1 minute ago"),
            (600, "10 minutes ago"),
            (7200, "2 hours ago"),
            (86_400 * 3, "3 days ago"),
            (-30, "now"),
        ];
        for (s, want) in cases {
            assert_eq!(ago(now, now - chrono::Duration::seconds(s)), want, "{s}");
        }
        let tz = FixedOffset::east_opt(2 * 3600).unwrap();
        assert_eq!(
            timestamp(at("2026-06-01T11:50:00Z"), now, tz),
            "Mon Jun 01 13:50:00 +0200 (10 minutes ago)"
        );
    }

    #[test]
    fn label_selectors() {
        let labels: BTreeMap<String, String> = [("app", "web"), ("env", "dev")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let cases = [
            ("app=web", true),
            ("app==web", true),
            ("app=web,env=prod", false),
            ("env!=prod", true),
            ("env!=dev", false),
            ("app", true),
            ("team", false),
            ("!team", true),
            ("!app", false),
            (" app = web , env = dev ", true),
        ];
        for (text, want) in cases {
            let selector = LabelSelector::parse(text).unwrap();
            assert_eq!(selector.matches(&labels), want, "{text}");
        }
        for bad in ["", "app=web,", "=web", "!", "a b"] {
            assert!(LabelSelector::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn filters() {
        let now = at("2026-06-01T12:00:00Z");
        let running = run(
            "r",
            "2026-06-01T11:55:00Z",
            json!({"phase": "Running", "progress": "0/1"}),
        );
        let failed = run(
            "f",
            "2026-06-01T09:00:00Z",
            json!({"phase": "Failed", "progress": "1/1", "finishedAt": "2026-06-01T09:30:00Z"}),
        );
        let check = |filter: RunFilter| {
            [&running, &failed]
                .into_iter()
                .filter(|r| filter.matches(r, now))
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(check(RunFilter::default()), ["r", "f"]);
        let f = RunFilter {
            running: true,
            ..Default::default()
        };
        assert_eq!(check(f), ["r"]);
        let f = RunFilter {
            completed: true,
            ..Default::default()
        };
        assert_eq!(check(f), ["f"]);
        let f = RunFilter {
            phases: vec![WorkflowPhase::Failed, WorkflowPhase::Error],
            ..Default::default()
        };
        assert_eq!(check(f), ["f"]);
        let f = RunFilter {
            since: Some(Duration::from_secs(600)),
            ..Default::default()
        };
        assert_eq!(check(f), ["r"]);
        let f = RunFilter {
            older: Some(Duration::from_secs(3600)),
            ..Default::default()
        };
        assert_eq!(check(f), ["f"]);
        let f = RunFilter {
            older: Some(Duration::from_secs(3 * 3600)),
            ..Default::default()
        };
        assert!(check(f).is_empty());
    }

    #[test]
    fn phases_parse_case_insensitively() {
        assert_eq!(parse_phase("failed"), Ok(WorkflowPhase::Failed));
        assert_eq!(parse_phase(" Running "), Ok(WorkflowPhase::Running));
        assert_eq!(
            parse_phase("Done").unwrap_err(),
            "unknown status `Done`; expected Pending, Running, Succeeded, Failed or Error"
        );
    }
}
