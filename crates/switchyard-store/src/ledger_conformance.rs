//! The conformance suite of the [`EventLedger`] port. Each case is a `pub async fn` taking an
//! empty ledger; a backend runs them all with [`ledger_conformance_tests!`](crate::ledger_conformance_tests).

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;

use crate::ledger::{
    Consumed, Consumption, EventLedger, EventQuery, FiringStatus, NewFiring, SensorId, Settlement,
};

/// Expands to one `#[tokio::test]` per case, in a module `ledger_conformance`. The factory
/// is an expression giving a future of `(ledger, guard)`.
#[macro_export]
macro_rules! ledger_conformance_tests {
    ($factory:expr) => {
        $crate::ledger_conformance_tests!(@cases $factory;
            a_new_sensor_has_no_state,
            consume_records_state_outcome_and_firings_once,
            a_recreated_sensor_starts_afresh,
            firings_settle_retry_and_die,
            due_firings_respect_time_order_and_limit,
            recent_events_filter_and_order,
            forget_sensor_keeps_firings,
            concurrent_consumers_of_one_event_record_it_once,
        );
    };
    (@cases $factory:expr; $($case:ident),* $(,)?) => {
        mod ledger_conformance {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let (ledger, _guard) = $factory.await;
                    let ledger: ::std::sync::Arc<dyn $crate::ledger::EventLedger> =
                        ::std::sync::Arc::new(ledger);
                    $crate::ledger_conformance::$case(ledger).await;
                }
            )*
        }
    };
}

fn sensor(name: &str, uid: &str) -> SensorId {
    SensorId {
        namespace: "default".into(),
        name: name.into(),
        uid: uid.into(),
    }
}

fn at(second: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, second).unwrap()
}

fn consumption(sensor: &SensorId, event: &str, second: u32, firings: &[&str]) -> Consumption {
    Consumption {
        sensor: sensor.clone(),
        event_key: format!("webhook/{event}"),
        event_id: event.into(),
        event_source: "webhook".into(),
        event_name: "orders".into(),
        at: at(second),
        state: json!({"seen": event}),
        outcome: json!({"dependencies": {"d1": "matched"}}),
        firings: firings
            .iter()
            .map(|key| NewFiring {
                key: (*key).into(),
                trigger: "t1".into(),
                payload: json!({"event": event}),
            })
            .collect(),
    }
}

pub async fn a_new_sensor_has_no_state(ledger: Arc<dyn EventLedger>) {
    let s = sensor("s", "u1");
    assert_eq!(ledger.sensor_state(&s).await.unwrap(), None);
    ledger.put_sensor_state(&s, json!({"a": 1})).await.unwrap();
    assert_eq!(
        ledger.sensor_state(&s).await.unwrap(),
        Some(json!({"a": 1}))
    );
    ledger.put_sensor_state(&s, json!({"a": 2})).await.unwrap();
    assert_eq!(
        ledger.sensor_state(&s).await.unwrap(),
        Some(json!({"a": 2}))
    );
}

pub async fn consume_records_state_outcome_and_firings_once(ledger: Arc<dyn EventLedger>) {
    let s = sensor("s", "u1");
    let first = consumption(&s, "e1", 1, &["f1"]);
    assert_eq!(ledger.consume(first.clone()).await.unwrap(), Consumed::Now);
    assert_eq!(
        ledger.sensor_state(&s).await.unwrap(),
        Some(json!({"seen": "e1"}))
    );
    // The same event again (a redelivery) changes nothing, even with other contents.
    let mut again = first.clone();
    again.state = json!({"seen": "other"});
    again.firings[0].key = "f-other".into();
    assert_eq!(ledger.consume(again).await.unwrap(), Consumed::Before);
    assert_eq!(
        ledger.sensor_state(&s).await.unwrap(),
        Some(json!({"seen": "e1"}))
    );
    let due = ledger.due_firings(at(59), 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].key, "f1");
    assert_eq!(due[0].status, FiringStatus::Pending);
    assert_eq!(due[0].attempts, 0);
    assert_eq!(due[0].sensor, s);
    assert_eq!(due[0].payload, json!({"event": "e1"}));

    let events = ledger
        .recent_events(&EventQuery {
            limit: 10,
            ..EventQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_id, "e1");
    assert_eq!(events[0].outcome, first.outcome);
    assert_eq!(events[0].firings.len(), 1);
    assert_eq!(events[0].firings[0].key, "f1");

    // A firing key that exists already is kept as it is.
    let mut clash = consumption(&s, "e2", 2, &["f1"]);
    clash.firings[0].payload = json!("changed");
    assert_eq!(ledger.consume(clash).await.unwrap(), Consumed::Now);
    let due = ledger.due_firings(at(59), 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].payload, json!({"event": "e1"}));
}

pub async fn a_recreated_sensor_starts_afresh(ledger: Arc<dyn EventLedger>) {
    let old = sensor("s", "u1");
    let new = sensor("s", "u2");
    ledger
        .consume(consumption(&old, "e1", 1, &[]))
        .await
        .unwrap();
    assert_eq!(ledger.sensor_state(&new).await.unwrap(), None);
    assert_eq!(
        ledger
            .consume(consumption(&new, "e1", 1, &[]))
            .await
            .unwrap(),
        Consumed::Now
    );
}

pub async fn firings_settle_retry_and_die(ledger: Arc<dyn EventLedger>) {
    let s = sensor("s", "u1");
    ledger
        .consume(consumption(&s, "e1", 1, &["ok", "flaky", "bad"]))
        .await
        .unwrap();
    ledger
        .settle_firing(
            "ok",
            Settlement::Done {
                detail: "workflow default/run-1".into(),
            },
        )
        .await
        .unwrap();
    ledger
        .settle_firing(
            "flaky",
            Settlement::Retry {
                not_before: at(30),
                error: "HTTP 502".into(),
            },
        )
        .await
        .unwrap();
    ledger
        .settle_firing(
            "bad",
            Settlement::Dead {
                reason: "rate limit".into(),
            },
        )
        .await
        .unwrap();
    assert!(ledger.due_firings(at(29), 10).await.unwrap().is_empty());
    let due = ledger.due_firings(at(30), 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].key, "flaky");
    assert_eq!(due[0].attempts, 1);
    assert_eq!(due[0].detail, "HTTP 502");
    // Settling a settled firing leaves it as it is.
    ledger
        .settle_firing(
            "ok",
            Settlement::Dead {
                reason: "late".into(),
            },
        )
        .await
        .unwrap();
    let events = ledger
        .recent_events(&EventQuery {
            limit: 10,
            ..EventQuery::default()
        })
        .await
        .unwrap();
    let by_key = |key: &str| {
        events[0]
            .firings
            .iter()
            .find(|f| f.key == key)
            .cloned()
            .unwrap()
    };
    assert_eq!(by_key("ok").status, FiringStatus::Done);
    assert_eq!(by_key("ok").detail, "workflow default/run-1");
    assert_eq!(by_key("bad").status, FiringStatus::Dead);
    assert_eq!(by_key("bad").detail, "rate limit");
    // Settling an unknown firing is not an error.
    ledger
        .settle_firing(
            "nope",
            Settlement::Done {
                detail: String::new(),
            },
        )
        .await
        .unwrap();
}

pub async fn due_firings_respect_time_order_and_limit(ledger: Arc<dyn EventLedger>) {
    let s = sensor("s", "u1");
    for (i, key) in ["a", "b", "c"].iter().enumerate() {
        let second = u32::try_from(i).unwrap() + 1;
        ledger
            .consume(consumption(&s, key, second, &[key]))
            .await
            .unwrap();
    }
    // Due from their consumption time on.
    let due = ledger.due_firings(at(2), 10).await.unwrap();
    assert_eq!(
        due.iter().map(|f| f.key.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    let due = ledger.due_firings(at(9), 2).await.unwrap();
    assert_eq!(
        due.iter().map(|f| f.key.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    ledger
        .settle_firing(
            "a",
            Settlement::Retry {
                not_before: at(9) + Duration::seconds(60),
                error: "x".into(),
            },
        )
        .await
        .unwrap();
    let due = ledger.due_firings(at(9), 10).await.unwrap();
    assert_eq!(
        due.iter().map(|f| f.key.as_str()).collect::<Vec<_>>(),
        ["b", "c"]
    );
}

pub async fn recent_events_filter_and_order(ledger: Arc<dyn EventLedger>) {
    let s1 = sensor("s1", "u1");
    let s2 = sensor("s2", "u2");
    ledger
        .consume(consumption(&s1, "e1", 1, &[]))
        .await
        .unwrap();
    let mut other = consumption(&s2, "e2", 2, &[]);
    other.event_source = "calendar".into();
    ledger.consume(other).await.unwrap();
    ledger
        .consume(consumption(&s1, "e3", 3, &[]))
        .await
        .unwrap();
    let ids = |query: EventQuery| {
        let ledger = ledger.clone();
        async move {
            let records = ledger.recent_events(&query).await.unwrap();
            records.into_iter().map(|r| r.event_id).collect::<Vec<_>>()
        }
    };
    let query = |limit: usize| EventQuery {
        limit,
        ..EventQuery::default()
    };
    assert_eq!(ids(query(10)).await, ["e3", "e2", "e1"]);
    assert_eq!(ids(query(1)).await, ["e3"]);
    let by_sensor = EventQuery {
        sensor: Some("s1".into()),
        ..query(10)
    };
    assert_eq!(ids(by_sensor).await, ["e3", "e1"]);
    let by_source = EventQuery {
        event_source: Some("calendar".into()),
        ..query(10)
    };
    assert_eq!(ids(by_source).await, ["e2"]);
    let elsewhere = EventQuery {
        namespace: Some("other".into()),
        ..query(10)
    };
    assert!(ids(elsewhere).await.is_empty());
    let by_event = EventQuery {
        event_id: Some("e2".into()),
        ..query(10)
    };
    assert_eq!(ids(by_event).await, ["e2"]);
}

pub async fn forget_sensor_keeps_firings(ledger: Arc<dyn EventLedger>) {
    let s = sensor("s", "u1");
    ledger
        .consume(consumption(&s, "e1", 1, &["f1"]))
        .await
        .unwrap();
    ledger.forget_sensor(&s).await.unwrap();
    assert_eq!(ledger.sensor_state(&s).await.unwrap(), None);
    assert_eq!(ledger.due_firings(at(9), 10).await.unwrap().len(), 1);
    // Forgotten consumptions may be consumed again by the same incarnation.
    assert_eq!(
        ledger.consume(consumption(&s, "e1", 1, &[])).await.unwrap(),
        Consumed::Now
    );
}

pub async fn concurrent_consumers_of_one_event_record_it_once(ledger: Arc<dyn EventLedger>) {
    let s = sensor("s", "u1");
    let mut tasks = Vec::new();
    for i in 0..16 {
        let ledger = ledger.clone();
        let mut c = consumption(&s, "e1", 1, &[]);
        c.firings.push(NewFiring {
            key: format!("f{i}"),
            trigger: "t".into(),
            payload: json!(i),
        });
        tasks.push(tokio::spawn(async move { ledger.consume(c).await }));
    }
    let mut now = 0;
    for task in tasks {
        if task.await.unwrap().unwrap() == Consumed::Now {
            now += 1;
        }
    }
    assert_eq!(now, 1);
    assert_eq!(ledger.due_firings(at(9), 100).await.unwrap().len(), 1);
}
