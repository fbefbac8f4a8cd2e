//! The load generator: a steady stream of webhook events, each carrying a unique id (`uid`)
//! in its body, with every answer recorded.
//!
//! Most events are plain JSON posts: each post is a new event, so a post whose outcome is
//! unknown (refused connection, cut off, timed out, 5xx) is never sent again — a second post
//! would be a second event and a second run. Every `cloudevent_every`-th event is sent as a
//! binary-mode CloudEvent (`ce-id` = its uid): those are retried with the same id until they
//! get an answer, as a careful sender does; the webhook promises to record a repeated
//! `source` + `id` once.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

/// What to send.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    /// The webhook URL.
    pub url: String,
    /// Each uid is `<prefix>-<n>`.
    pub prefix: String,
    /// Requests per second, all workers together.
    pub rate: f64,
    /// Requests in flight at most.
    pub workers: usize,
    /// Every n-th event is a CloudEvent retried with its id (0: none).
    pub cloudevent_every: u64,
    /// How often a CloudEvent is sent again after an unknown outcome.
    pub max_retries: u32,
    /// How long one request may take.
    pub timeout: Duration,
    /// Fields added to every body.
    pub extra: Value,
}

impl LoadSpec {
    pub fn new(url: &str, prefix: &str, rate: f64) -> LoadSpec {
        LoadSpec {
            url: url.to_owned(),
            prefix: prefix.to_owned(),
            rate,
            workers: 4,
            cloudevent_every: 4,
            max_retries: 20,
            timeout: Duration::from_secs(20),
            extra: json!({}),
        }
    }
}

/// How one request ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    /// An HTTP answer.
    Status {
        code: u16,
        retry_after: Option<String>,
    },
    /// No answer: `connect` (refused), `timeout`, or `cut` (the connection closed mid-way).
    Transport { kind: String },
}

impl Outcome {
    pub fn is_2xx(&self) -> bool {
        matches!(self, Outcome::Status { code, .. } if (200..300).contains(code))
    }

    /// A short label for tallies: `200`, `503+Retry-After`, `503`, `transport:connect`, ...
    pub fn label(&self) -> String {
        match self {
            Outcome::Status {
                code,
                retry_after: Some(_),
            } => format!("{code}+Retry-After"),
            Outcome::Status { code, .. } => code.to_string(),
            Outcome::Transport { kind } => format!("transport:{kind}"),
        }
    }

    /// Whether the sender cannot know if the event was recorded.
    pub fn unknown(&self) -> bool {
        match self {
            Outcome::Status { code, .. } => *code >= 500,
            Outcome::Transport { .. } => true,
        }
    }
}

/// One request.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    pub uid: String,
    pub cloudevent: bool,
    /// When it was sent, in milliseconds since the scenario's epoch.
    pub sent_ms: u64,
    pub took_ms: u64,
    pub outcome: Outcome,
}

/// A running load; [`Load::stop`] ends it.
pub struct Load {
    stop: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<()>>,
    log: Arc<Mutex<Vec<Attempt>>>,
    /// Uids in a CloudEvent retry queue when the load stopped (their outcome stays unknown).
    pending: Arc<Mutex<BTreeSet<String>>>,
}

impl Load {
    /// Starts the workers; times are measured from `epoch`.
    pub fn start(spec: LoadSpec, epoch: Instant) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(Vec::new()));
        let pending = Arc::new(Mutex::new(BTreeSet::new()));
        let counter = Arc::new(AtomicU64::new(0));
        let http = reqwest::Client::builder()
            .timeout(spec.timeout)
            .pool_max_idle_per_host(0)
            .build()
            .unwrap_or_default();
        let workers = spec.workers.max(1);
        let period = Duration::from_secs_f64(workers as f64 / spec.rate.max(0.01));
        let spec = Arc::new(spec);
        let tasks = (0..workers)
            .map(|w| {
                let worker = Worker {
                    spec: spec.clone(),
                    http: http.clone(),
                    stop: stop.clone(),
                    log: log.clone(),
                    pending: pending.clone(),
                    counter: counter.clone(),
                    epoch,
                };
                // Workers start spread over one period, so the rate is even.
                let offset = period.mul_f64(w as f64 / workers as f64);
                tokio::spawn(async move {
                    tokio::time::sleep(offset).await;
                    worker.run(period).await;
                })
            })
            .collect();
        Load {
            stop,
            tasks,
            log,
            pending,
        }
    }

    /// Every request so far.
    pub fn attempts(&self) -> Vec<Attempt> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Stops sending, lets the requests in flight end, and returns every request and the
    /// uids whose retries were cut short.
    pub async fn stop(self) -> (Vec<Attempt>, BTreeSet<String>) {
        self.stop.store(true, Ordering::SeqCst);
        for task in self.tasks {
            let _ = task.await;
        }
        let attempts = self.log.lock().map(|l| l.clone()).unwrap_or_default();
        let pending = self.pending.lock().map(|p| p.clone()).unwrap_or_default();
        (attempts, pending)
    }
}

struct Worker {
    spec: Arc<LoadSpec>,
    http: reqwest::Client,
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<Vec<Attempt>>>,
    pending: Arc<Mutex<BTreeSet<String>>>,
    counter: Arc<AtomicU64>,
    epoch: Instant,
}

impl Worker {
    async fn run(self, period: Duration) {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // CloudEvents to send again: (uid, retries so far, not before).
        let mut retries: VecDeque<(String, u32, Instant)> = VecDeque::new();
        while !self.stop.load(Ordering::SeqCst) {
            tick.tick().await;
            if self.stop.load(Ordering::SeqCst) {
                break;
            }
            let due = retries
                .front()
                .is_some_and(|(_, _, at)| *at <= Instant::now());
            let (uid, cloudevent, tries) = if due {
                match retries.pop_front() {
                    Some((uid, tries, _)) => (uid, true, tries),
                    None => continue,
                }
            } else {
                let n = self.counter.fetch_add(1, Ordering::SeqCst);
                let every = self.spec.cloudevent_every;
                let cloudevent = every > 0 && n % every == every - 1;
                (format!("{}-{n:06}", self.spec.prefix), cloudevent, 0)
            };
            let attempt = self.send(&uid, cloudevent).await;
            if cloudevent {
                if attempt.outcome.unknown() && tries < self.spec.max_retries {
                    let wait = retry_wait(&attempt.outcome);
                    self.set_pending(&uid, true);
                    retries.push_back((uid.clone(), tries + 1, Instant::now() + wait));
                } else {
                    self.set_pending(&uid, false);
                }
            }
            if let Ok(mut log) = self.log.lock() {
                log.push(attempt);
            }
        }
    }

    fn set_pending(&self, uid: &str, pending: bool) {
        if let Ok(mut set) = self.pending.lock() {
            if pending {
                set.insert(uid.to_owned());
            } else {
                set.remove(uid);
            }
        }
    }

    async fn send(&self, uid: &str, cloudevent: bool) -> Attempt {
        let mut body = json!({"uid": uid});
        if let (Some(body), Some(extra)) = (body.as_object_mut(), self.spec.extra.as_object()) {
            for (k, v) in extra {
                body.insert(k.clone(), v.clone());
            }
        }
        let mut req = self
            .http
            .post(&self.spec.url)
            .header("content-type", "application/json")
            .body(body.to_string());
        if cloudevent {
            req = req
                .header("ce-id", uid)
                .header("ce-source", "switchyard-chaos")
                .header("ce-type", "chaos.order")
                .header("ce-specversion", "1.0");
        }
        let sent = Instant::now();
        let sent_ms = millis(sent.duration_since(self.epoch));
        let outcome = match req.send().await {
            Ok(resp) => {
                let code = resp.status().as_u16();
                let retry_after = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                // The body must arrive too: a cut after the headers is a cut.
                match resp.bytes().await {
                    Ok(_) => Outcome::Status { code, retry_after },
                    Err(e) => Outcome::Transport { kind: kind_of(&e) },
                }
            }
            Err(e) => Outcome::Transport { kind: kind_of(&e) },
        };
        Attempt {
            uid: uid.to_owned(),
            cloudevent,
            sent_ms,
            took_ms: millis(sent.elapsed()),
            outcome,
        }
    }
}

fn retry_wait(outcome: &Outcome) -> Duration {
    match outcome {
        Outcome::Status {
            retry_after: Some(secs),
            ..
        } => Duration::from_secs(secs.trim().parse().unwrap_or(1).min(30)),
        _ => Duration::from_millis(500),
    }
}

fn kind_of(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else {
        "cut"
    }
    .to_owned()
}

pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// What a set of requests comes to.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tally {
    pub requests: usize,
    /// Answers by label (`200`, `503+Retry-After`, `transport:connect`, ...).
    pub answers: BTreeMap<String, usize>,
    /// Uids answered 2xx at least once.
    #[serde(skip)]
    pub accepted: BTreeSet<String>,
    /// Every uid sent.
    #[serde(skip)]
    pub sent: BTreeSet<String>,
    /// Uids that never got a 2xx and got at least one unknown outcome.
    #[serde(skip)]
    pub unknown: BTreeSet<String>,
    /// The longest answer, in milliseconds.
    pub slowest_ms: u64,
}

impl Tally {
    pub fn of<'a>(attempts: impl IntoIterator<Item = &'a Attempt>) -> Tally {
        let mut t = Tally::default();
        for a in attempts {
            t.requests += 1;
            *t.answers.entry(a.outcome.label()).or_default() += 1;
            t.sent.insert(a.uid.clone());
            if a.outcome.is_2xx() {
                t.accepted.insert(a.uid.clone());
            }
            t.slowest_ms = t.slowest_ms.max(a.took_ms);
        }
        for a in attempts_unknown(&t) {
            t.unknown.insert(a);
        }
        t
    }

    /// How many answers had a label starting with `prefix`.
    pub fn count(&self, prefix: &str) -> usize {
        self.answers
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v)
            .sum()
    }

    /// 2xx answers.
    pub fn ok(&self) -> usize {
        self.count("2")
    }
}

fn attempts_unknown(t: &Tally) -> Vec<String> {
    t.sent.difference(&t.accepted).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(uid: &str, outcome: Outcome) -> Attempt {
        Attempt {
            uid: uid.to_owned(),
            cloudevent: false,
            sent_ms: 0,
            took_ms: 5,
            outcome,
        }
    }

    #[test]
    fn tallies_count_answers_and_accepted_uids() {
        let ok = Outcome::Status {
            code: 200,
            retry_after: None,
        };
        let busy = Outcome::Status {
            code: 503,
            retry_after: Some("1".into()),
        };
        let refused = Outcome::Transport {
            kind: "connect".into(),
        };
        let t = Tally::of(&[
            attempt("a", busy.clone()),
            attempt("a", ok.clone()),
            attempt("b", refused),
            attempt("c", ok),
        ]);
        assert_eq!(t.requests, 4);
        assert_eq!(t.ok(), 2);
        assert_eq!(t.count("503"), 1);
        assert_eq!(t.answers["503+Retry-After"], 1);
        assert_eq!(t.answers["transport:connect"], 1);
        assert_eq!(t.accepted, ["a", "c"].map(String::from).into());
        assert_eq!(t.unknown, ["b"].map(String::from).into());
        assert!(busy.unknown());
    }

    #[test]
    fn retries_wait_as_long_as_the_server_asks() {
        let busy = Outcome::Status {
            code: 503,
            retry_after: Some("3".into()),
        };
        assert_eq!(retry_wait(&busy), Duration::from_secs(3));
        let cut = Outcome::Transport { kind: "cut".into() };
        assert_eq!(retry_wait(&cut), Duration::from_millis(500));
    }
}
