//! PostgreSQL-specific promises: several stores (processes) on one schema, migrations that
//! run once when processes start together, clear errors for bad configurations, recovery
//! after lost connections and a server that goes away, text with NUL characters, and
//! Secrets sealed in the database.

#![allow(clippy::unwrap_used)]

mod common;

use chrono::{TimeZone, Utc};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use switchyard_model::Kind;
use switchyard_store::ledger::{
    Consumed, Consumption, EventLedger, EventQuery, NewFiring, SensorId, Settlement,
};
use switchyard_store::{
    ObjectKey, Precondition, PutRequest, StatusUpdate, StepLog, Store, StoreError,
};
use switchyard_store_postgres::{PostgresConfig, PostgresStore};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

fn sensor() -> SensorId {
    SensorId {
        namespace: "default".into(),
        name: "s".into(),
        uid: "u1".into(),
    }
}

fn consumption(event: &str, firing: &str) -> Consumption {
    Consumption {
        sensor: sensor(),
        event_key: format!("webhook/{event}"),
        event_id: event.into(),
        event_source: "webhook".into(),
        event_name: "orders".into(),
        at: Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0).unwrap(),
        state: json!({"seen": event}),
        outcome: json!({}),
        firings: vec![NewFiring {
            key: firing.into(),
            trigger: "t1".into(),
            payload: json!({"firing": firing}),
        }],
    }
}

fn cm(name: &str, value: &str) -> PutRequest {
    PutRequest::new(
        Kind::ConfigMap,
        "default",
        name,
        json!({"data": {"k": value}}),
    )
}

fn cm_key(name: &str) -> ObjectKey {
    ObjectKey::new(Kind::ConfigMap, "default", name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_stores_racing_to_consume_one_event_record_it_once() {
    let Some((first, guard)) = common::store().await else {
        return;
    };
    let second = common::connect(&guard.url, &guard.schema).await;
    let stores: [Arc<dyn EventLedger>; 2] = [Arc::new(first), Arc::new(second)];
    const ROUNDS: usize = 10;
    const TASKS_PER_STORE: usize = 8;
    for round in 0..ROUNDS {
        let mut tasks = JoinSet::new();
        for (s, store) in stores.iter().enumerate() {
            for task in 0..TASKS_PER_STORE {
                let store = Arc::clone(store);
                // Each contender would fire its own firing: only the winner's may exist.
                let c = consumption(&format!("e{round}"), &format!("f{round}-{s}-{task}"));
                tasks.spawn(async move { store.consume(c).await });
            }
        }
        let mut now = 0;
        let mut before = 0;
        while let Some(joined) = tasks.join_next().await {
            match joined.unwrap().unwrap() {
                Consumed::Now => now += 1,
                Consumed::Before => before += 1,
            }
        }
        assert_eq!((now, before), (1, 2 * TASKS_PER_STORE - 1), "round {round}");
    }
    let far = Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap();
    for store in &stores {
        let due = store.due_firings(far, 1000).await.unwrap();
        assert_eq!(
            due.len(),
            ROUNDS,
            "one firing per event, seen by both stores"
        );
        let events = store
            .recent_events(&EventQuery {
                limit: 1000,
                ..EventQuery::default()
            })
            .await
            .unwrap();
        assert_eq!(events.len(), ROUNDS);
        assert!(events.iter().all(|e| e.firings.len() == 1));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_stores_on_one_schema_share_objects_and_versions() {
    let Some((first, guard)) = common::store().await else {
        return;
    };
    let second = common::connect(&guard.url, &guard.schema).await;
    let stores: [Arc<dyn Store>; 2] = [Arc::new(first), Arc::new(second)];

    // What one writes, the other reads; the versions are one counter.
    let a = stores[0].put(cm("a", "1")).await.unwrap().into_object();
    assert_eq!(stores[1].get(&cm_key("a")).await.unwrap(), Some(a.clone()));
    let b = stores[1].put(cm("b", "1")).await.unwrap().into_object();
    assert!(b.resource_version > a.resource_version);

    // Writers in both stores holding one version: exactly one wins.
    for round in 0..3 {
        let name = format!("race-{round}");
        let v = stores[0]
            .put(cm(&name, "none"))
            .await
            .unwrap()
            .object()
            .resource_version;
        let mut tasks = JoinSet::new();
        for writer in 0..16 {
            let store = Arc::clone(&stores[writer % 2]);
            let req =
                cm(&name, &writer.to_string()).with_precondition(Precondition::ResourceVersion(v));
            tasks.spawn(async move { store.put(req).await });
        }
        let (mut won, mut conflicts) = (0, 0);
        while let Some(joined) = tasks.join_next().await {
            match joined.unwrap() {
                Ok(_) => won += 1,
                Err(StoreError::Conflict { .. }) => conflicts += 1,
                Err(e) => panic!("unexpected error: {e}"),
            }
        }
        assert_eq!((won, conflicts), (1, 15), "round {round}");
    }

    // Read-modify-write from both stores, retrying on conflict: no update is lost, and the
    // versions the writes took are unique.
    stores[0].put(cm("counter", "0")).await.unwrap();
    let mut tasks = JoinSet::new();
    for task in 0..8 {
        let store = Arc::clone(&stores[task % 2]);
        tasks.spawn(async move {
            let mut versions = Vec::new();
            while versions.len() < 10 {
                let current = store.get(&cm_key("counter")).await.unwrap().unwrap();
                let n: u64 = current.body["data"]["k"].as_str().unwrap().parse().unwrap();
                let req = cm("counter", &(n + 1).to_string())
                    .with_precondition(Precondition::ResourceVersion(current.resource_version));
                match store.put(req).await {
                    Ok(outcome) => versions.push(outcome.object().resource_version),
                    Err(StoreError::Conflict { .. }) => {}
                    Err(e) => panic!("unexpected error: {e}"),
                }
            }
            versions
        });
    }
    let mut versions = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        versions.extend(joined.unwrap());
    }
    let stored = stores[1].get(&cm_key("counter")).await.unwrap().unwrap();
    assert_eq!(stored.body["data"]["k"], json!("80"));
    versions.sort_unstable();
    versions.dedup();
    assert_eq!(versions.len(), 80, "every write took its own version");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn schemas_keep_stores_apart() {
    let Some((first, _guard)) = common::store().await else {
        return;
    };
    let Some((second, _other)) = common::store().await else {
        return;
    };
    let one = first.put(cm("x", "first")).await.unwrap().into_object();
    assert_eq!(second.get(&cm_key("x")).await.unwrap(), None);
    let two = second.put(cm("x", "second")).await.unwrap().into_object();
    assert_eq!(
        two.resource_version, one.resource_version,
        "each schema counts its own versions"
    );
    assert_eq!(
        first.get(&cm_key("x")).await.unwrap().unwrap().body["data"]["k"],
        json!("first")
    );
    assert_eq!(first.schema(), _guard.schema);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn processes_starting_together_migrate_once() {
    let Some(url) = common::server().await else {
        return;
    };
    let guard = common::SchemaGuard {
        url: url.clone(),
        schema: common::schema_name(),
    };
    let mut tasks = JoinSet::new();
    for _ in 0..6 {
        let config = PostgresConfig::new(url.clone(), guard.schema.clone());
        tasks.spawn(async move { PostgresStore::connect(&config, common::sealer()).await });
    }
    let mut stores = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        stores.push(joined.unwrap().unwrap());
    }
    let raw = common::raw(&url).await;
    let versions: Vec<i64> = raw
        .query(
            &format!(
                "SELECT version FROM {}.migrations ORDER BY version",
                guard.schema
            ),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert!(versions.len() >= 3, "{versions:?}");
    assert_eq!(
        versions,
        (1..=versions.len() as i64).collect::<Vec<_>>(),
        "each step applied once"
    );
    // Every one of them works.
    for (i, store) in stores.iter().enumerate() {
        store.put(cm(&format!("from-{i}"), "x")).await.unwrap();
    }
    assert_eq!(
        stores[0].list(Kind::ConfigMap, None).await.unwrap().len(),
        6
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_schema_from_a_newer_build_is_refused() {
    let Some((store, guard)) = common::store().await else {
        return;
    };
    drop(store);
    let raw = common::raw(&guard.url).await;
    raw.execute(
        &format!(
            "INSERT INTO {}.migrations (version, name) VALUES (999, 'from the future')",
            guard.schema
        ),
        &[],
    )
    .await
    .unwrap();
    let err = PostgresStore::connect(
        &PostgresConfig::new(guard.url.clone(), guard.schema.clone()),
        common::sealer(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains(&format!("schema {} has schema version 999", guard.schema))
            && text.contains("run a newer Switchyard"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_configurations_fail_clearly() {
    let Some(url) = common::server().await else {
        return;
    };
    let connect = |url: String, schema: &str| {
        let config = PostgresConfig::new(url, schema);
        async move { PostgresStore::connect(&config, common::sealer()).await }
    };

    let err = connect(url.clone(), "Not-A-Schema").await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid { .. }), "{err}");
    assert!(!err.is_retryable());

    // Nothing listens on port 1: refused at once, and worth retrying later.
    let err = connect(
        "postgres://postgres@127.0.0.1:1/test".to_owned(),
        "switchyard",
    )
    .await
    .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("connecting to postgres@127.0.0.1:1/test, schema switchyard")
            && text.contains("Connection refused"),
        "{text}"
    );

    let missing_db = with_database(&url, "switchyard_no_such_database");
    let err = connect(missing_db, "switchyard").await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(
        err.to_string()
            .contains("database \"switchyard_no_such_database\" does not exist"),
        "{err}"
    );
}

/// `url` naming another database.
fn with_database(url: &str, db: &str) -> String {
    let parsed: tokio_postgres::Config = url.parse().unwrap();
    let (host, port) = tcp_address(&parsed).unwrap();
    conninfo(&parsed, &host, port, db)
}

/// A key=value connection string with `parsed`'s credentials and the given address and
/// database.
fn conninfo(parsed: &tokio_postgres::Config, host: &str, port: u16, db: &str) -> String {
    let mut parts = vec![format!("host={host} port={port} dbname={db}")];
    if let Some(user) = parsed.get_user() {
        parts.push(format!("user={user}"));
    }
    if let Some(password) = parsed.get_password() {
        let password = String::from_utf8_lossy(password)
            .replace('\\', "\\\\")
            .replace('\'', "\\'");
        parts.push(format!("password='{password}'"));
    }
    parts.join(" ")
}

fn tcp_address(config: &tokio_postgres::Config) -> Option<(String, u16)> {
    let host = match config.get_hosts().first()? {
        tokio_postgres::config::Host::Tcp(host) => host.clone(),
        #[cfg(unix)]
        tokio_postgres::config::Host::Unix(_) => return None,
    };
    Some((host, config.get_ports().first().copied().unwrap_or(5432)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_store_recovers_when_its_connections_are_killed() {
    let Some(url) = common::server().await else {
        return;
    };
    let name = common::schema_name();
    let guard = common::SchemaGuard {
        url: url.clone(),
        schema: name.clone(),
    };
    // The application name marks this store's sessions among everyone else's.
    let store = common::connect(&common::with_param(&url, "application_name", &name), &name).await;
    store.put(cm("before", "1")).await.unwrap();
    store.consume(consumption("e1", "f1")).await.unwrap();

    let raw = common::raw(&guard.url).await;
    let killed: i64 = raw
        .query_one(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1) AS t",
            &[&name],
        )
        .await
        .unwrap()
        .get(0);
    assert!(killed >= 1, "the store had sessions to kill");
    // Wait until the server has ended them all (as after a restart).
    loop {
        let left: i64 = raw
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                &[&name],
            )
            .await
            .unwrap()
            .get(0);
        if left == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }

    // Reads and transactions notice the dead connections and use new ones.
    assert_eq!(
        store.get(&cm_key("before")).await.unwrap().unwrap().body["data"]["k"],
        json!("1")
    );
    store.put(cm("after", "2")).await.unwrap();
    assert_eq!(store.list(Kind::ConfigMap, None).await.unwrap().len(), 2);
    assert_eq!(
        store.consume(consumption("e1", "f1")).await.unwrap(),
        Consumed::Before
    );
}

/// A TCP proxy in front of the server that can be taken down (every connection cut, new ones
/// closed at once) and brought back on the same port: the server going away and returning,
/// as the store sees it.
struct Proxy {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    links: Arc<Mutex<JoinSet<()>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: (String, u16)) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let links = Arc::new(Mutex::new(JoinSet::new()));
        let accept = {
            let (up, links) = (Arc::clone(&up), Arc::clone(&links));
            tokio::spawn(async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    if !up.load(Ordering::SeqCst) {
                        continue; // dropped: closed at once
                    }
                    let upstream = upstream.clone();
                    links.lock().unwrap().spawn(async move {
                        if let Ok(mut server) = TcpStream::connect(upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    });
                }
            })
        };
        Proxy {
            addr,
            up,
            links,
            accept,
        }
    }

    fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        // Aborting a link drops both of its sockets.
        self.links.lock().unwrap().abort_all();
    }

    fn up(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.links.lock().unwrap().abort_all();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_server_that_goes_away_is_unavailable_and_the_store_recovers() {
    let Some(url) = common::server().await else {
        return;
    };
    let parsed: tokio_postgres::Config = url.parse().unwrap();
    let Some(upstream) = tcp_address(&parsed) else {
        eprintln!("skipped: the test server is not reached over TCP");
        return;
    };
    let proxy = Proxy::start(upstream).await;
    let db = parsed
        .get_dbname()
        .or(parsed.get_user())
        .unwrap_or("postgres");
    let via_proxy = conninfo(&parsed, "127.0.0.1", proxy.addr.port(), db);
    let guard = common::SchemaGuard {
        url: url.clone(),
        schema: common::schema_name(),
    };
    let mut config = PostgresConfig::new(via_proxy, guard.schema.clone());
    config.connect_timeout = std::time::Duration::from_secs(2);
    let store = PostgresStore::connect(&config, common::sealer())
        .await
        .unwrap();
    store.put(cm("before", "1")).await.unwrap();
    store.consume(consumption("e1", "f1")).await.unwrap();

    proxy.down();
    let put = store.put(cm("during", "x")).await.unwrap_err();
    let get = store.get(&cm_key("before")).await.unwrap_err();
    let consume = store.consume(consumption("e2", "f2")).await.unwrap_err();
    let status = store
        .put_status(StatusUpdate {
            key: cm_key("before"),
            status: json!({"n": 1}),
            precondition: Precondition::None,
            logs: vec![],
        })
        .await
        .unwrap_err();
    for err in [&put, &get, &consume, &status] {
        assert!(err.is_retryable(), "{err}");
        assert!(
            err.to_string()
                .contains(&format!("127.0.0.1:{}", proxy.addr.port())),
            "the error names the server: {err}"
        );
    }

    proxy.up();
    assert_eq!(
        store.get(&cm_key("before")).await.unwrap().unwrap().body["data"]["k"],
        json!("1")
    );
    assert_eq!(
        store.put(cm("after", "2")).await.unwrap().action_str(),
        "created"
    );
    assert_eq!(
        store.consume(consumption("e2", "f2")).await.unwrap(),
        Consumed::Now
    );
    assert_eq!(
        store.get(&cm_key("during")).await.unwrap(),
        None,
        "the put that failed before its transaction began left nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn text_with_nul_characters_round_trips_or_is_refused() {
    let Some((store, _guard)) = common::store().await else {
        return;
    };
    // Step logs and everything an event brings are stored as bytes: exact.
    let key = ObjectKey::new(Kind::Workflow, "default", "w");
    store
        .put(PutRequest::new(
            Kind::Workflow,
            "default",
            "w",
            json!({"spec": {}}),
        ))
        .await
        .unwrap();
    let text = "before\0after\n";
    store
        .put_status(StatusUpdate {
            key: key.clone(),
            status: json!({"phase": "Running", "message": "a\u{0}b"}),
            precondition: Precondition::MustExist,
            logs: vec![StepLog {
                step: "main".into(),
                text: text.into(),
            }],
        })
        .await
        .unwrap();
    assert_eq!(
        store.step_log(&key, "main").await.unwrap().as_deref(),
        Some(text)
    );
    assert_eq!(
        store.get(&key).await.unwrap().unwrap().body["status"]["message"],
        json!("a\u{0}b")
    );

    let mut c = consumption("id\0with-nul", "f1");
    c.event_key = "webhook/id\0with-nul".into();
    c.event_source = "hook\0".into();
    assert_eq!(store.consume(c.clone()).await.unwrap(), Consumed::Now);
    assert_eq!(store.consume(c).await.unwrap(), Consumed::Before);
    let mut other = consumption("id", "f2");
    other.event_key = "webhook/id".into();
    assert_eq!(
        store.consume(other).await.unwrap(),
        Consumed::Now,
        "a key is not confused with its prefix before a NUL"
    );
    store
        .settle_firing(
            "f1",
            Settlement::Dead {
                reason: "HTTP 500: \0garbage".into(),
            },
        )
        .await
        .unwrap();
    let events = store
        .recent_events(&EventQuery {
            event_source: Some("hook\0".into()),
            limit: 10,
            ..EventQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_id, "id\0with-nul");
    assert_eq!(events[0].firings[0].detail, "HTTP 500: \0garbage");

    // Names the platform chooses are text; a NUL there is refused with a reason.
    let err = store.put_meta("k", "a\0b").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid request for setting `k`: the value contains a NUL character, which PostgreSQL text cannot hold"
    );
    let mut bad = consumption("e9", "f\0");
    bad.firings[0].trigger = "t".into();
    let err = store.consume(bad).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid { .. }), "{err}");
    assert_eq!(store.get_meta("k\0").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn secrets_are_sealed_in_the_database() {
    let Some((store, guard)) = common::store().await else {
        return;
    };
    store
        .put(PutRequest::new(
            Kind::Secret,
            "default",
            "db",
            json!({"stringData": {"password": "hunter2-in-clear"}}),
        ))
        .await
        .unwrap();
    let raw = common::raw(&guard.url).await;
    let row = raw
        .query_one(
            &format!(
                "SELECT body, sealed FROM {}.objects WHERE kind = 'Secret'",
                guard.schema
            ),
            &[],
        )
        .await
        .unwrap();
    let body: Vec<u8> = row.get(0);
    let sealed: bool = row.get(1);
    assert!(sealed);
    assert!(
        !body.windows(b"hunter2".len()).any(|w| w == b"hunter2"),
        "the Secret's value is not in the stored bytes"
    );
    let read = store
        .get(&ObjectKey::new(Kind::Secret, "default", "db"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        read.body["stringData"]["password"],
        json!("hunter2-in-clear")
    );
}
