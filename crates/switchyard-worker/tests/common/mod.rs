//! The scenarios every backend pair runs (`scenarios!` makes one test of each), the fake
//! local runner, and a bus wrapper that counts publishes.

#![allow(dead_code, clippy::unwrap_used)]

pub mod fake;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use fake::FakeRunner;
use switchyard_bus::{
    BusError, BusInfo, Consumer, ConsumerInfo, ConsumerSpec, EventBus, Message, OutgoingMessage,
    Published, SubjectFilter,
};
use switchyard_engine::{Reattach, RunnerError, StepHandle, StepRunner, StepSpec, StopReason};
use switchyard_store::{SecretSealer, Store};
use switchyard_worker::{
    QUEUED_DIR_PREFIX, QueueConfig, QueueRunner, RUN_SUBJECT, Worker, WorkerConfig, WorkerHandle,
};

/// The bus and the store of one platform, as a new process would open them.
#[async_trait]
pub trait Platform: Send + Sync {
    async fn bus(&self) -> Arc<dyn EventBus>;
    async fn store(&self) -> Arc<dyn Store>;
}

/// Every process of a platform has the same key.
pub fn sealer() -> SecretSealer {
    SecretSealer::from_key([9; 32])
}

/// Generous bound on anything a scenario waits for: a hang fails the test instead of
/// blocking it forever. Not a timing assertion.
const PATIENCE: Duration = Duration::from_secs(60);

pub async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    match tokio::time::timeout(PATIENCE, fut).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: nothing happened within {PATIENCE:?}"),
    }
}

pub fn spec(id: &str, env: &[(&str, &str)]) -> StepSpec {
    StepSpec {
        id: id.to_owned(),
        run: "run-uid".to_owned(),
        image: None,
        command: vec!["fake".to_owned()],
        args: vec![],
        env: env
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect(),
        working_dir: None,
        script_source: None,
        files: Default::default(),
        output_paths: Default::default(),
        timeout: None,
        capture: Default::default(),
    }
}

/// A controller's queue runner, listening.
pub async fn controller(platform: &dyn Platform, bus: Option<Arc<dyn EventBus>>) -> QueueRunner {
    let bus = match bus {
        Some(bus) => bus,
        None => platform.bus().await,
    };
    let mut config = QueueConfig::new("controller-1");
    // Short, so that a test that would rely on the fallback still ends; notifications are
    // what normally wakes `wait`.
    config.poll_interval = Duration::from_millis(500);
    let runner = QueueRunner::new(bus, platform.store().await, sealer(), config).unwrap();
    runner.listen().await.unwrap();
    runner
}

pub fn worker_config(instance: &str) -> WorkerConfig {
    let mut config = WorkerConfig::new(instance);
    config.parallel = 4;
    config
}

pub async fn worker(
    platform: &dyn Platform,
    config: WorkerConfig,
    local: Arc<FakeRunner>,
) -> WorkerHandle {
    Worker::start(
        config,
        platform.bus().await,
        platform.store().await,
        sealer(),
        local,
    )
    .await
    .unwrap()
}

async fn wait(runner: &QueueRunner, handle: &StepHandle) -> switchyard_engine::StepResult {
    within(
        &format!("waiting for step {}", handle.id),
        runner.wait(handle),
    )
    .await
    .unwrap()
}

// ---- scenarios ----------------------------------------------------------------------------

/// A step goes through the queue: `wait` returns its result, outputs and logs; `reattach`
/// and `logs` read the record; a start error reaches `wait`; `cleanup` leaves a tombstone.
pub async fn a_step_goes_through_the_queue(platform: &dyn Platform) {
    let runner = controller(platform, None).await;
    let fake = Arc::new(FakeRunner::new("w1"));
    let w = worker(platform, worker_config("w1"), fake.clone()).await;

    let s = spec(
        "hello-1",
        &[
            ("FAKE_EXIT", "3"),
            ("FAKE_OUTPUT", "answer=42"),
            ("FAKE_LOG", "a line on stderr"),
        ],
    );
    let handle = within("start", runner.start(&s)).await.unwrap();
    assert_eq!(handle.id, "hello-1");
    assert_eq!(handle.pid, 0);
    assert_eq!(
        handle.dir.to_str().unwrap(),
        format!("{QUEUED_DIR_PREFIX}hello-1")
    );
    let result = wait(&runner, &handle).await;
    assert_eq!(result.exit_code, Some(3));
    assert_eq!(result.message, "exit code 3");
    assert_eq!(result.result, "result of hello-1");
    assert_eq!(result.outputs.get("answer"), Some(&Ok("42".to_owned())));
    let logs = runner.logs(&handle, 0).await.unwrap();
    let texts: Vec<&str> = logs.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "hello from hello-1 on w1",
            "a line on stderr",
            "exit code 3"
        ]
    );
    assert_eq!(runner.logs(&handle, 2).await.unwrap(), logs[2..].to_vec());
    assert_eq!(runner.reattach(&handle).await, Reattach::Finished(result));
    assert_eq!(fake.runs("hello-1"), 1);
    within("local clean-up", async {
        while !fake.cleaned("hello-1") {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;

    // A step the local runner cannot start: `wait` says why, as the local runner would.
    let bad = spec(
        "bad-1",
        &[("FAKE_FAIL_START", "cannot start `pyhton`: no such file")],
    );
    let handle = runner.start(&bad).await.unwrap();
    let err = within("wait", runner.wait(&handle)).await.unwrap_err();
    assert_eq!(
        err,
        RunnerError::Start("cannot start `pyhton`: no such file".to_owned())
    );

    // Clean-up: the records go, a tombstone stays, so nothing runs the step again.
    let hello = StepHandle {
        id: "hello-1".to_owned(),
        ..handle.clone()
    };
    runner.cleanup(&hello).await;
    let Reattach::Lost(why) = runner.reattach(&hello).await else {
        panic!("a cleaned-up step must not re-attach as finished or running");
    };
    assert!(why.contains("cleaned up"), "{why}");
    assert_eq!(runner.logs(&hello, 0).await.unwrap(), vec![]);
    w.shutdown().await;
}

/// The log of a step that is still running reaches the controller's runner (what `logs -f`
/// reads); once the step ends, its whole log comes from the result, numbered the same, and
/// the live log is gone.
pub async fn a_running_steps_log_is_shared_before_it_ends(platform: &dyn Platform) {
    let runner = controller(platform, None).await;
    let fake = Arc::new(FakeRunner::new("w1"));
    let w = worker(platform, worker_config("w1"), fake.clone()).await;
    let s = spec(
        "talkative-1",
        &[("FAKE_BLOCK", "1"), ("FAKE_LOG", "planning: 3 to add")],
    );
    let handle = within("start", runner.start(&s)).await.unwrap();
    let live = within("the live log", async {
        loop {
            let lines = runner.logs(&handle, 0).await.unwrap();
            if lines.len() == 2 {
                return lines;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let texts: Vec<&str> = live.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(
        texts,
        ["hello from talkative-1 on w1", "planning: 3 to add"]
    );
    assert_eq!(runner.logs(&handle, 1).await.unwrap(), live[1..].to_vec());
    assert_eq!(runner.reattach(&handle).await, Reattach::Running);
    fake.release("talkative-1");
    let result = wait(&runner, &handle).await;
    assert_eq!(result.exit_code, Some(0));
    let whole = runner.logs(&handle, 0).await.unwrap();
    assert_eq!(whole[..2], live[..], "the same first lines");
    assert_eq!(whole.len(), 3, "{whole:?}");
    let store = platform.store().await;
    let live_key = "step/talkative-1/live";
    within("the live log removed", async {
        while store.get_meta(live_key).await.unwrap().is_some() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    w.shutdown().await;
}

/// Two workers, a hundred steps: each ran exactly once, and both workers ran some.
pub async fn two_workers_share_a_hundred_steps(platform: &dyn Platform) {
    let runner = controller(platform, None).await;
    let a = Arc::new(FakeRunner::new("a"));
    let b = Arc::new(FakeRunner::new("b"));
    // Hold the first steps until both workers have some, so neither takes them all.
    a.set_hold(true);
    b.set_hold(true);
    let wa = worker(platform, worker_config("worker-a"), a.clone()).await;
    let wb = worker(platform, worker_config("worker-b"), b.clone()).await;
    let mut handles = Vec::new();
    for i in 0..100 {
        let s = spec(&format!("step-{i:03}"), &[]);
        handles.push(runner.start(&s).await.unwrap());
    }
    within("worker a takes steps", a.started_at_least(1)).await;
    within("worker b takes steps", b.started_at_least(1)).await;
    a.release_all();
    b.release_all();
    for handle in &handles {
        let result = wait(&runner, handle).await;
        assert_eq!(result.exit_code, Some(0), "{}", handle.id);
    }
    for handle in &handles {
        assert_eq!(
            a.runs(&handle.id) + b.runs(&handle.id),
            1,
            "{} ran {} times on a and {} on b",
            handle.id,
            a.runs(&handle.id),
            b.runs(&handle.id)
        );
    }
    assert!(a.total_runs() > 0 && b.total_runs() > 0);
    assert_eq!(a.total_runs() + b.total_runs(), 100);
    wa.shutdown().await;
    wb.shutdown().await;
}

/// A step stopped while still queued is never run and gets a stopped result.
pub async fn a_step_stopped_before_a_worker_took_it_never_runs(platform: &dyn Platform) {
    let runner = controller(platform, None).await;
    let s = spec("early-stop", &[]);
    let handle = runner.start(&s).await.unwrap();
    runner
        .stop(&handle, StopReason::Stopped, Duration::from_secs(5))
        .await;
    let fake = Arc::new(FakeRunner::new("w1"));
    let w = worker(platform, worker_config("w1"), fake.clone()).await;
    let result = wait(&runner, &handle).await;
    assert_eq!(result.stopped, Some(StopReason::Stopped));
    assert_eq!(result.exit_code, None);
    assert!(
        result.message.contains("stopped before it started"),
        "{}",
        result.message
    );
    assert_eq!(fake.runs("early-stop"), 0);
    assert_eq!(fake.stops(), vec![]);
    w.shutdown().await;
}

/// A running step is stopped on its worker with the reason and grace the controller gave.
pub async fn a_running_step_is_stopped_with_the_reason(platform: &dyn Platform) {
    let runner = controller(platform, None).await;
    let fake = Arc::new(FakeRunner::new("w1"));
    let w = worker(platform, worker_config("w1"), fake.clone()).await;
    let s = spec("long-1", &[("FAKE_BLOCK", "1")]);
    let handle = runner.start(&s).await.unwrap();
    within("the step starts", fake.started("long-1")).await;
    runner
        .stop(&handle, StopReason::Terminated, Duration::from_secs(7))
        .await;
    let result = wait(&runner, &handle).await;
    assert_eq!(result.stopped, Some(StopReason::Terminated));
    assert_eq!(result.exit_code, None);
    assert_eq!(
        fake.stops(),
        vec![(
            "long-1".to_owned(),
            StopReason::Terminated,
            Duration::from_secs(7)
        )]
    );
    assert_eq!(fake.runs("long-1"), 1);
    // The controller shutting down does not stop steps on workers.
    let s = spec("long-2", &[("FAKE_BLOCK", "1")]);
    let handle = runner.start(&s).await.unwrap();
    within("the step starts", fake.started("long-2")).await;
    runner
        .stop(&handle, StopReason::Shutdown, Duration::from_secs(1))
        .await;
    fake.release("long-2");
    let result = wait(&runner, &handle).await;
    assert_eq!((result.exit_code, result.stopped), (Some(0), None));
    assert_eq!(fake.stops().len(), 1);
    w.shutdown().await;
}

/// A worker dies with a step (no release, short lease and ack_wait): another worker records
/// the step as lost, naming the dead worker, and does not run it again.
pub async fn a_dead_workers_step_is_recorded_lost(platform: &dyn Platform) {
    let runner = controller(platform, None).await;
    let short = |instance: &str| {
        let mut config = worker_config(instance);
        config.ack_wait = Duration::from_secs(1);
        config.lease_ttl = Duration::from_secs(2);
        config
    };
    let doomed = Arc::new(FakeRunner::new("doomed"));
    let wd = worker(platform, short("doomed-worker"), doomed.clone()).await;
    let s = spec("orphan-1", &[("FAKE_BLOCK", "1")]);
    let handle = runner.start(&s).await.unwrap();
    within(
        "the doomed worker starts the step",
        doomed.started("orphan-1"),
    )
    .await;
    drop(wd); // a crash: nothing is released or acknowledged
    let survivor = Arc::new(FakeRunner::new("survivor"));
    let ws = worker(platform, short("survivor-worker"), survivor.clone()).await;
    let result = wait(&runner, &handle).await;
    assert_eq!(result.exit_code, None);
    assert_eq!(result.stopped, None);
    for want in ["doomed-worker", "unknown", "lease"] {
        assert!(result.message.contains(want), "{want}: {}", result.message);
    }
    assert_eq!(
        runner.reattach(&handle).await,
        Reattach::Lost(result.message.clone())
    );
    assert_eq!(doomed.runs("orphan-1"), 1);
    assert_eq!(survivor.total_runs(), 0, "the step ran again");
    ws.shutdown().await;
}

/// The same worker instance, restarted, re-attaches to its running step instead of running
/// it again.
pub async fn a_restarted_worker_reattaches(platform: &dyn Platform) {
    let runner = controller(platform, None).await;
    let mut config = worker_config("w-restart");
    config.ack_wait = Duration::from_secs(1);
    let fake = Arc::new(FakeRunner::new("w-restart"));
    let first = worker(platform, config.clone(), fake.clone()).await;
    let s = spec("survives-1", &[("FAKE_BLOCK", "1"), ("FAKE_EXIT", "0")]);
    let handle = runner.start(&s).await.unwrap();
    within("the step starts", fake.started("survives-1")).await;
    within("shutdown", first.shutdown()).await;
    let second = worker(platform, config, fake.clone()).await;
    within(
        "the restarted worker re-attaches",
        fake.reattached_at_least_once("survives-1"),
    )
    .await;
    fake.release("survives-1");
    let result = wait(&runner, &handle).await;
    assert_eq!(result.exit_code, Some(0));
    assert_eq!(fake.runs("survives-1"), 1);
    second.shutdown().await;
}

/// `start` of a step whose result is recorded does not enqueue it again.
pub async fn start_with_a_recorded_result_does_not_enqueue(platform: &dyn Platform) {
    let counting = Arc::new(CountingBus::new(platform.bus().await));
    let runner = controller(platform, Some(counting.clone())).await;
    let fake = Arc::new(FakeRunner::new("w1"));
    let w = worker(platform, worker_config("w1"), fake.clone()).await;
    let s = spec("once-1", &[("FAKE_EXIT", "5")]);
    let handle = runner.start(&s).await.unwrap();
    let first = wait(&runner, &handle).await;
    assert_eq!(counting.published(RUN_SUBJECT), 1);
    let again = runner.start(&s).await.unwrap();
    assert_eq!(again.id, handle.id);
    assert_eq!(counting.published(RUN_SUBJECT), 1, "enqueued again");
    assert_eq!(wait(&runner, &again).await, first);
    assert_eq!(fake.runs("once-1"), 1);
    w.shutdown().await;
}

/// A Secret value in the step's env is sealed on the bus, and reaches the worker intact.
pub async fn secrets_are_sealed_on_the_bus(platform: &dyn Platform) {
    let counting = Arc::new(CountingBus::new(platform.bus().await));
    let runner = controller(platform, Some(counting.clone())).await;
    let secret = format!("s3cr3t-{:016x}", rand::random::<u64>());
    let s = spec("secretive-1", &[("DB_PASSWORD", &secret)]);
    let handle = runner.start(&s).await.unwrap();
    let bus = platform.bus().await;
    let stored = bus
        .read(1, 1000, &SubjectFilter::new(RUN_SUBJECT).unwrap())
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    let sent = counting.sent();
    let seen = stored
        .iter()
        .map(|m| (&m.payload, &m.headers))
        .chain(sent.iter().map(|m| (&m.payload, &m.headers)));
    for (payload, headers) in seen {
        let needle = secret.as_bytes();
        assert!(
            !payload.windows(needle.len()).any(|w| w == needle),
            "the secret is in the bus payload in plain text"
        );
        assert!(
            headers.values().all(|v| !v.contains(&secret)),
            "the secret is in a header"
        );
        assert!(!payload.starts_with(b"{"), "the payload is plain JSON");
    }
    let fake = Arc::new(FakeRunner::new("w1"));
    let w = worker(platform, worker_config("w1"), fake.clone()).await;
    wait(&runner, &handle).await;
    let seen = fake.spec("secretive-1").unwrap();
    assert_eq!(seen, s, "the worker got the spec as sent");
    w.shutdown().await;
}

/// One `#[tokio::test]` per scenario; `$platform` is an async expression giving
/// `Option<impl Platform>` (`None`: skipped).
#[macro_export]
macro_rules! scenarios {
    ($platform:expr) => {
        $crate::scenarios!(@each $platform;
            a_step_goes_through_the_queue,
            two_workers_share_a_hundred_steps,
            a_step_stopped_before_a_worker_took_it_never_runs,
            a_running_step_is_stopped_with_the_reason,
            a_dead_workers_step_is_recorded_lost,
            a_restarted_worker_reattaches,
            start_with_a_recorded_result_does_not_enqueue,
            secrets_are_sealed_on_the_bus,
            a_running_steps_log_is_shared_before_it_ends,
        );
    };
    (@each $platform:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let Some(platform) = $platform.await else {
                    return;
                };
                common::$name(&platform).await;
            }
        )*
    };
}

// ---- a bus that counts ------------------------------------------------------------------

/// Passes everything to the bus it wraps, keeping what was published.
pub struct CountingBus {
    inner: Arc<dyn EventBus>,
    sent: Mutex<Vec<OutgoingMessage>>,
}

impl CountingBus {
    pub fn new(inner: Arc<dyn EventBus>) -> Self {
        CountingBus {
            inner,
            sent: Mutex::new(Vec::new()),
        }
    }

    pub fn published(&self, subject: &str) -> usize {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m.subject.as_str() == subject)
            .count()
    }

    pub fn sent(&self) -> Vec<OutgoingMessage> {
        self.sent.lock().unwrap().clone()
    }
}

#[async_trait]
impl EventBus for CountingBus {
    async fn publish(&self, msg: OutgoingMessage) -> Result<Published, BusError> {
        self.sent.lock().unwrap().push(msg.clone());
        self.inner.publish(msg).await
    }

    async fn consumer(&self, spec: ConsumerSpec) -> Result<Box<dyn Consumer>, BusError> {
        self.inner.consumer(spec).await
    }

    async fn delete_consumer(&self, name: &str) -> Result<bool, BusError> {
        self.inner.delete_consumer(name).await
    }

    async fn consumer_info(&self, name: &str) -> Result<Option<ConsumerInfo>, BusError> {
        self.inner.consumer_info(name).await
    }

    async fn read(
        &self,
        from_seq: u64,
        limit: usize,
        filter: &SubjectFilter,
    ) -> Result<Vec<Message>, BusError> {
        self.inner.read(from_seq, limit, filter).await
    }

    async fn info(&self) -> Result<BusInfo, BusError> {
        self.inner.info().await
    }

    async fn close(&self) -> Result<(), BusError> {
        self.inner.close().await
    }
}
