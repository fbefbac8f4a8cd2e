//! Trigger conditions and pending state, over event sequences: Argo Events' e2e scenarios
//! (`test/e2e/functional_test.go`) as pure tests, plus restarts, spec changes, resets and
//! redeliveries.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::json;
use switchyard_sensor::{ClearReason, SensorState, Verdict};

const MULTI_DEP: &str = r#"
apiVersion: argoproj.io/v1alpha1
kind: Sensor
metadata:
  name: multi-dep
  namespace: argo-events
spec:
  dependencies:
    - name: test-dep-1
      eventSourceName: webhook
      eventName: example1
    - name: test-dep-2
      eventSourceName: webhook
      eventName: example2
    - name: test-dep-3
      eventSourceName: webhook
      eventName: example3
  triggers:
    - template:
        conditions: "(test-dep-1 && test-dep-2) || test-dep-3"
        name: log-trigger-1
        log: {}
    - template:
        conditions: "test-dep-1"
        name: log-trigger-2
        log: {}
"#;

fn example(n: u32, id: &str) -> switchyard_sensor::EventInput {
    webhook("webhook", &format!("example{n}"), id, json!({}))
}

/// Argo's TestMultiDependencyConditions, with the exact fire counts after each event.
#[test]
fn multi_dependency_conditions_fire_as_in_argo() {
    let s = sensor(MULTI_DEP);
    let mut state = SensorState::default();

    // test-dep-1: log-trigger-2 fires; log-trigger-1 waits for test-dep-2.
    let o = feed(&s, &mut state, &example(1, "e1"));
    assert_eq!(fired(&o), ["log-trigger-2"]);
    assert_eq!(state.pending("log-trigger-1").unwrap().len(), 1);

    // test-dep-2 completes (1 && 2).
    let o = feed(&s, &mut state, &example(2, "e2"));
    assert_eq!(fired(&o), ["log-trigger-1"]);
    assert_eq!(
        ids(&o.firings[0]),
        [
            ("test-dep-1".into(), "e1".into()),
            ("test-dep-2".into(), "e2".into())
        ]
    );
    assert_eq!(state.pending_count(), 0);

    // test-dep-2 again: nothing fires, it waits.
    let o = feed(&s, &mut state, &example(2, "e3"));
    assert!(o.firings.is_empty());

    // test-dep-3 fires log-trigger-1, and consumes the waiting test-dep-2 with it.
    let o = feed(&s, &mut state, &example(3, "e4"));
    assert_eq!(fired(&o), ["log-trigger-1"]);
    assert_eq!(
        ids(&o.firings[0]),
        [
            ("test-dep-2".into(), "e3".into()),
            ("test-dep-3".into(), "e4".into())
        ]
    );
    assert_eq!(state.pending_count(), 0);

    // An event no dependency listens to is not offered to anyone.
    let o = feed(
        &s,
        &mut state,
        &webhook("webhook", "other", "e5", json!({})),
    );
    assert!(o.dependencies.is_empty() && o.firings.is_empty());
}

#[test]
fn a_longer_sequence_gives_exact_counts() {
    let s = sensor(MULTI_DEP);
    let mut state = SensorState::default();
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    // 1 1 2 3 3 2 1 2: log-trigger-2 fires on each 1 (3 times); log-trigger-1 fires on the
    // first 2 (with the latest 1), on each 3, and on the third 1 (with the waiting 2): 4 times.
    for (i, n) in [1, 1, 2, 3, 3, 2, 1, 2].into_iter().enumerate() {
        let o = feed(&s, &mut state, &example(n, &format!("e{i}")));
        for f in o.firings {
            *counts.entry(f.trigger).or_default() += 1;
        }
    }
    assert_eq!(counts["log-trigger-1"], 4);
    assert_eq!(counts["log-trigger-2"], 3);
    // The last 2 waits.
    assert_eq!(
        state
            .pending("log-trigger-1")
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["test-dep-2"]
    );
}

/// Argo's TestDuplicateDependency: two dependencies on the same event both take it.
#[test]
fn two_dependencies_on_one_event_are_both_satisfied_by_it() {
    let s = sensor(
        r#"
apiVersion: argoproj.io/v1alpha1
kind: Sensor
metadata: {name: duplicate-dep}
spec:
  dependencies:
    - {name: test-dep-1, eventSourceName: calendar, eventName: example}
    - {name: test-dep-2, eventSourceName: calendar, eventName: example}
  triggers:
    - template: {name: log-trigger, log: {}}
"#,
    );
    let mut state = SensorState::default();
    let tick = event(
        "calendar",
        "example",
        "t1",
        json!({"eventTime": "2026-11-21 10:00:00", "metadata": {"baz": "1.0", "foo": "bar"}}),
    );
    let o = feed(&s, &mut state, &tick);
    assert_eq!(o.dependencies.len(), 2);
    assert_eq!(fired(&o), ["log-trigger"]);
    assert_eq!(
        ids(&o.firings[0]),
        [
            ("test-dep-1".into(), "t1".into()),
            ("test-dep-2".into(), "t1".into())
        ]
    );
    assert_eq!(state.pending_count(), 0);
}

/// With `||`, each dependency an event satisfies fires on its own (Argo runs the action once
/// per dependency); the firings have different keys.
#[test]
fn or_conditions_fire_once_per_dependency_an_event_satisfies() {
    let s = sensor(
        r#"
apiVersion: argoproj.io/v1alpha1
kind: Sensor
metadata: {name: duplicate-or}
spec:
  dependencies:
    - {name: a, eventSourceName: calendar, eventName: example}
    - {name: b, eventSourceName: calendar, eventName: example}
  triggers:
    - template: {name: log, conditions: "a || b", log: {}}
"#,
    );
    let mut state = SensorState::default();
    let o = feed(
        &s,
        &mut state,
        &event("calendar", "example", "t1", json!({})),
    );
    assert_eq!(fired(&o), ["log", "log"]);
    assert_ne!(o.firings[0].key, o.firings[1].key);
}

/// Argo's TestDuplicateDependencyFilter: a dependency whose filter fails never lets the
/// trigger fire, however many events come.
#[test]
fn a_failing_filter_never_fires() {
    let s = sensor(
        r#"
apiVersion: argoproj.io/v1alpha1
kind: Sensor
metadata: {name: duplicate-dep-filter}
spec:
  dependencies:
    - name: test-dep-1
      eventSourceName: calendar
      eventName: example
      filters:
        data:
          - {path: metadata.baz, type: string, value: ["1.0"]}
    - name: test-dep-2
      eventSourceName: calendar
      eventName: example
      filters:
        data:
          - {path: metadata.foo, type: string, value: ["baz"]}
  triggers:
    - template: {name: log-trigger, log: {}}
"#,
    );
    let mut state = SensorState::default();
    for i in 0..5 {
        let tick = event(
            "calendar",
            "example",
            &format!("t{i}"),
            json!({"eventTime": "x", "metadata": {"baz": "1.0", "foo": "bar"}}),
        );
        let o = feed(&s, &mut state, &tick);
        assert!(o.firings.is_empty());
        assert_eq!(
            o.dependencies[0].verdict,
            Verdict::Matched { warnings: vec![] }
        );
        assert_eq!(
            o.dependencies[1].verdict,
            Verdict::FilteredOut {
                reason:
                    r#"filters.data[0]: `metadata.foo` is `"bar"`, which matches none of ["baz"]"#
                        .into()
            }
        );
    }
    // Only the latest test-dep-1 event is kept.
    let pending = state.pending("log-trigger").unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending["test-dep-1"].event.context.id, "t4");
}

/// The state survives a restart: serialize, compile the sensor again, continue.
#[test]
fn state_round_trips_through_json_across_a_restart() {
    let mut state = SensorState::default();
    let before = sensor(MULTI_DEP);
    feed(&before, &mut state, &example(1, "e1"));

    let text = serde_json::to_string(&state).unwrap();
    let mut restored: SensorState = serde_json::from_str(&text).unwrap();
    assert_eq!(restored, state);

    // A reference run without the restart.
    let o_ref = feed(&before, &mut state, &example(2, "e2"));

    let after = sensor(MULTI_DEP);
    let o = feed(&after, &mut restored, &example(2, "e2"));
    assert_eq!(fired(&o), ["log-trigger-1"]);
    assert!(o.cleared.is_empty(), "nothing changed, nothing purged");
    assert_eq!(o.firings, o_ref.firings, "same firing, same key");
    assert_eq!(restored, state);
}

/// Argo's TestTriggerSpecChange: when a trigger's conditions change, its pending events go.
#[test]
fn pending_events_are_purged_when_conditions_change() {
    let old = sensor(MULTI_DEP);
    let mut state = SensorState::default();
    feed(&old, &mut state, &example(1, "e1"));
    assert_eq!(state.pending_count(), 1);

    let new = sensor(&MULTI_DEP.replace(
        "(test-dep-1 && test-dep-2) || test-dep-3",
        "test-dep-1 && test-dep-2",
    ));
    let cleared = new.reconcile(&mut state);
    assert_eq!(cleared.len(), 1);
    assert_eq!(cleared[0].trigger, "log-trigger-1");
    assert_eq!(cleared[0].dependency, "test-dep-1");
    assert_eq!(cleared[0].reason, ClearReason::ConditionsChanged);

    // test-dep-3 is no longer in the conditions; test-dep-2 alone does not fire.
    assert!(feed(&new, &mut state, &example(3, "e3")).firings.is_empty());
    assert!(feed(&new, &mut state, &example(2, "e4")).firings.is_empty());

    // Spacing alone is not a change.
    let respaced = sensor(&MULTI_DEP.replace(
        "(test-dep-1 && test-dep-2) || test-dep-3",
        "test-dep-1&&test-dep-2",
    ));
    assert!(respaced.reconcile(&mut state).is_empty());
    assert_eq!(state.pending_count(), 1);
}

#[test]
fn pending_events_are_purged_when_a_dependency_changes_or_a_trigger_goes() {
    let old = sensor(MULTI_DEP);
    let mut state = SensorState::default();
    feed(&old, &mut state, &example(1, "e1"));
    // log-trigger-1 has test-dep-1 pending; add test-dep-2 to the other trigger's state by
    // making it wait: change nothing yet.
    let changed = sensor(&MULTI_DEP.replace(
        "    - name: test-dep-1\n      eventSourceName: webhook\n      eventName: example1\n",
        "    - name: test-dep-1\n      eventSourceName: webhook\n      eventName: example1\n      filters:\n        context:\n          type: webhook\n",
    ));
    let o = changed.on_event(&mut state, &example(2, "e2"), at("2026-11-21T10:00:00Z"));
    assert_eq!(o.cleared.len(), 1);
    assert_eq!(o.cleared[0].reason, ClearReason::DependencyChanged);
    assert!(
        o.firings.is_empty(),
        "test-dep-1 was purged, so 1 && 2 does not hold"
    );

    let fewer = sensor(&MULTI_DEP.replace(
        "    - template:\n        conditions: \"test-dep-1\"\n        name: log-trigger-2\n        log: {}\n",
        "",
    ));
    let mut state2 = SensorState::default();
    // Make log-trigger-2 exist in the state first.
    feed(&old, &mut state2, &example(2, "e1"));
    let cleared = fewer.reconcile(&mut state2);
    assert!(cleared.is_empty(), "log-trigger-2 had nothing pending");
    assert!(state2.pending("log-trigger-2").is_none());
    assert_eq!(state2.pending("log-trigger-1").unwrap().len(), 1);
}

#[test]
fn state_of_another_sensor_is_dropped() {
    let s = sensor(MULTI_DEP);
    let mut state = SensorState::default();
    feed(&s, &mut state, &example(1, "e1"));
    let other = sensor(&MULTI_DEP.replace("name: multi-dep", "name: other"));
    let cleared = other.reconcile(&mut state);
    assert_eq!(cleared.len(), 1);
    assert_eq!(cleared[0].reason, ClearReason::OtherSensor);
    assert_eq!(state.pending_count(), 0);
}

const RESET: &str = r#"
apiVersion: argoproj.io/v1alpha1
kind: Sensor
metadata: {name: reset}
spec:
  dependencies:
    - {name: a, eventSourceName: webhook, eventName: a}
    - {name: b, eventSourceName: webhook, eventName: b}
  triggers:
    - template:
        name: both
        conditions: "a && b"
        conditionsReset:
          - byTime:
              cron: "0 0 * * *"
              timezone: Europe/Paris
        log: {}
"#;

#[test]
fn conditions_reset_by_time_forgets_pending_events() {
    let s = sensor(RESET);
    let mut state = SensorState::default();
    let a = |id| webhook("webhook", "a", id, json!({}));
    let b = |id| webhook("webhook", "b", id, json!({}));

    assert_eq!(
        s.next_reset(&state, at("2026-11-21T10:00:00Z")),
        None,
        "nothing pending"
    );
    // 22:30 UTC is 23:30 in Paris.
    s.on_event(&mut state, &a("a1"), at("2026-11-20T22:30:00Z"));
    let next = s.next_reset(&state, at("2026-11-20T22:30:00Z")).unwrap();
    assert_eq!(next, at("2026-11-20T23:00:00Z"), "Paris midnight");

    // Before the tick nothing is due.
    assert!(
        s.reset_due(&mut state, at("2026-11-20T22:59:59Z"))
            .is_empty()
    );
    // At the tick the pending event goes.
    let cleared = s.reset_due(&mut state, next);
    assert_eq!(cleared.len(), 1);
    assert_eq!(
        cleared[0].reason,
        ClearReason::ConditionsReset {
            at: at("2026-11-20T23:00:00Z")
        }
    );
    assert_eq!(state.pending_count(), 0);

    // b then a after the reset fire together.
    assert!(
        s.on_event(&mut state, &b("b1"), at("2026-11-20T23:01:00Z"))
            .firings
            .is_empty()
    );
    let o = s.on_event(&mut state, &a("a2"), at("2026-11-20T23:02:00Z"));
    assert_eq!(fired(&o), ["both"]);
    assert_eq!(
        ids(&o.firings[0]),
        [("a".into(), "a2".into()), ("b".into(), "b1".into())]
    );
}

/// After downtime across a tick, the next event finds the old pending event gone, as Argo
/// clears events older than the latest tick when it starts.
#[test]
fn a_reset_missed_while_down_applies_on_the_next_event() {
    let s = sensor(RESET);
    let mut state = SensorState::default();
    s.on_event(
        &mut state,
        &webhook("webhook", "a", "a1", json!({})),
        at("2026-11-20T20:00:00Z"),
    );
    let text = serde_json::to_string(&state).unwrap();
    let mut state: SensorState = serde_json::from_str(&text).unwrap();
    let o = s.on_event(
        &mut state,
        &webhook("webhook", "b", "b1", json!({})),
        at("2026-11-21T09:00:00Z"),
    );
    assert!(o.firings.is_empty());
    assert_eq!(o.cleared.len(), 1);
    assert_eq!(o.cleared[0].event_id, "a1");
    assert_eq!(
        state.pending("both").unwrap().keys().collect::<Vec<_>>(),
        ["b"]
    );
}

#[test]
fn redelivered_events_are_dropped() {
    let s = sensor(MULTI_DEP);
    let mut state = SensorState::default();
    let o = feed(&s, &mut state, &example(1, "e1"));
    assert_eq!(fired(&o), ["log-trigger-2"]);
    let snapshot = state.clone();
    let again = feed(&s, &mut state, &example(1, "e1"));
    assert!(again.duplicate);
    assert!(again.firings.is_empty() && again.dependencies.is_empty());
    assert_eq!(state, snapshot);
    // Same id from another source is another event.
    let other = webhook("webhook2", "example1", "e1", json!({}));
    assert!(!feed(&s, &mut state, &other).duplicate);
}

#[test]
fn firing_keys_are_deterministic_and_distinct() {
    let s = sensor(MULTI_DEP);
    let run = |ids: [&str; 2]| {
        let mut state = SensorState::default();
        feed(&s, &mut state, &example(1, ids[0]));
        feed(&s, &mut state, &example(2, ids[1])).firings[0]
            .key
            .clone()
    };
    let k1 = run(["a", "b"]);
    assert_eq!(k1, run(["a", "b"]));
    assert_eq!(k1.len(), 32);
    assert_ne!(k1, run(["a", "c"]));
    let renamed = sensor(&MULTI_DEP.replace("namespace: argo-events", "namespace: other"));
    let mut state = SensorState::default();
    feed(&renamed, &mut state, &example(1, "a"));
    assert_ne!(
        k1,
        feed(&renamed, &mut state, &example(2, "b")).firings[0].key
    );
}

#[test]
fn conditions_are_checked_when_compiling() {
    let p = problems(&MULTI_DEP.replace("\"test-dep-1\"", "\"test-dep-1 && nope\""));
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].path, "spec.triggers[1].template.conditions");
    assert!(
        p[0].message
            .contains("`nope` (at character 15) is not a dependency"),
        "{}",
        p[0]
    );
    let p = problems(&MULTI_DEP.replace("\"test-dep-1\"", "\"!test-dep-1\""));
    assert!(p[0].message.contains("`!` is not supported"), "{}", p[0]);
    let p = problems(&RESET.replace("0 0 * * *", "0 0 * *"));
    assert_eq!(
        p[0].path,
        "spec.triggers[0].template.conditionsReset[0].byTime.cron"
    );
}
