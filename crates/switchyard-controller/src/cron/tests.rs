use super::zone::tests::{los_angeles, paris};
use super::*;
use serde_json::json;

/// Zones known to the tests; the default is UTC unless set.
struct Zones {
    known: Vec<Zone>,
    default: Zone,
}

impl ZoneLookup for Zones {
    fn zone(&self, name: &str) -> Result<Zone, ZoneError> {
        self.known
            .iter()
            .find(|z| z.name() == name)
            .cloned()
            .ok_or_else(|| {
                ZoneInfoDir::new("/nonexistent", Zone::utc())
                    .zone(name)
                    .unwrap_err()
            })
    }

    fn default_zone(&self) -> Zone {
        self.default.clone()
    }
}

fn zones() -> Zones {
    Zones {
        known: vec![los_angeles(), paris()],
        default: Zone::utc(),
    }
}

fn t(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn spec(value: Json) -> CronWorkflowSpec {
    serde_json::from_value(value).unwrap()
}

fn schedule(value: Json) -> CronSchedule {
    CronSchedule::parse(&spec(value), &zones()).unwrap()
}

fn every(schedules: &[&str]) -> CronSchedule {
    schedule(json!({ "schedules": schedules }))
}

fn problems(value: Json) -> Vec<(String, String)> {
    CronSchedule::parse(&spec(value), &zones())
        .unwrap_err()
        .into_iter()
        .map(|d| (d.path, d.message))
        .collect()
}

/// The first `n` ticks after `from`, as RFC 3339 in each schedule's zone.
fn ticks(s: &CronSchedule, from: &str, n: usize) -> Vec<String> {
    let mut at = t(from);
    let mut out = Vec::new();
    for _ in 0..n {
        let next = s.next_after(at).unwrap();
        out.push(rfc3339(&next));
        at = next.with_timezone(&Utc);
    }
    out
}

fn run(scheduled: &str, skipped: u32) -> Due {
    Due::Run {
        scheduled: DateTime::parse_from_rfc3339(scheduled).unwrap(),
        skipped,
    }
}

fn expired(latest: &str, passed: u32) -> Due {
    Due::Expired {
        latest: DateTime::parse_from_rfc3339(latest).unwrap(),
        passed,
    }
}

// --- parsing -----------------------------------------------------------------------------

#[test]
fn every_minute() {
    let s = every(&["* * * * *"]);
    assert_eq!(
        ticks(&s, "2024-01-01T10:00:30Z", 3),
        [
            "2024-01-01T10:01:00Z",
            "2024-01-01T10:02:00Z",
            "2024-01-01T10:03:00Z"
        ]
    );
    // Strictly after: a tick is not its own successor.
    assert_eq!(
        ticks(&s, "2024-01-01T10:01:00Z", 1),
        ["2024-01-01T10:02:00Z"]
    );
}

#[test]
fn cron_field_forms() {
    // Weekdays at 09:00, over a weekend (2024-01-05 is a Friday).
    assert_eq!(
        ticks(&every(&["0 9 * * 1-5"]), "2024-01-05T09:00:00Z", 2),
        ["2024-01-08T09:00:00Z", "2024-01-09T09:00:00Z"]
    );
    // Names, steps, lists.
    assert_eq!(
        ticks(&every(&["*/20 8,20 * JAN MON"]), "2024-01-01T08:30:00Z", 3),
        [
            "2024-01-01T08:40:00Z",
            "2024-01-01T20:00:00Z",
            "2024-01-01T20:20:00Z"
        ]
    );
    // Both day fields restricted: either matches (the 1st, or a Sunday).
    assert_eq!(
        ticks(&every(&["0 0 1 * 0"]), "2024-01-01T00:00:00Z", 3),
        [
            "2024-01-07T00:00:00Z",
            "2024-01-14T00:00:00Z",
            "2024-01-21T00:00:00Z"
        ]
    );
    // `?` is "any".
    assert_eq!(
        ticks(&every(&["0 12 ? * 6"]), "2024-01-01T00:00:00Z", 1),
        ["2024-01-06T12:00:00Z"]
    );
    // croner's extras: the last day of the month.
    assert_eq!(
        ticks(&every(&["0 0 L * *"]), "2024-02-01T00:00:00Z", 2),
        ["2024-02-29T00:00:00Z", "2024-03-31T00:00:00Z"]
    );
}

#[test]
fn descriptors() {
    for (text, first) in [
        ("@hourly", "2024-05-15T11:00:00Z"),
        ("@daily", "2024-05-16T00:00:00Z"),
        ("@midnight", "2024-05-16T00:00:00Z"),
        ("@weekly", "2024-05-19T00:00:00Z"),
        ("@monthly", "2024-06-01T00:00:00Z"),
        ("@yearly", "2025-01-01T00:00:00Z"),
        ("@annually", "2025-01-01T00:00:00Z"),
    ] {
        assert_eq!(
            ticks(&every(&[text]), "2024-05-15T10:20:00Z", 1),
            [first],
            "{text}"
        );
    }
}

#[test]
fn every_interval_counts_from_the_given_time() {
    let s = every(&["@every 1h30m"]);
    assert_eq!(
        ticks(&s, "2024-01-01T10:00:07Z", 2),
        ["2024-01-01T11:30:07Z", "2024-01-01T13:00:07Z"]
    );
    for (text, seconds) in [
        ("90s", 90),
        ("1.5m", 90),
        ("2h", 7200),
        ("1h0m30s", 3630),
        ("2500ms", 2),
        ("500ms", 1),
        ("1µs", 1),
        (".5h", 1800),
    ] {
        assert_eq!(go_duration_seconds(text), Ok(seconds), "{text}");
    }
    for text in [
        "",
        "5",
        "-5s",
        "+5s",
        "0",
        "0s",
        "5x",
        "s",
        "1.h.",
        "999999999999h",
    ] {
        assert!(go_duration_seconds(text).is_err(), "{text}");
    }
}

#[test]
fn problems_name_their_field() {
    let found = problems(json!({
        "schedule": "61 * * * *",
        "schedules": ["0 0 * * * *", "@fortnightly", "", "@every", "0 0 30 2 *", "0 9 * * *"],
        "timezone": "Mars/Olympus_Mons",
        "startingDeadlineSeconds": -5,
        "stopStrategy": {"expression": "cronworkflow.failed >="}
    }));
    let paths: Vec<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "spec.timezone",
            "spec.schedule",
            "spec.schedules[0]",
            "spec.schedules[1]",
            "spec.schedules[2]",
            "spec.schedules[3]",
            "spec.schedules[4]",
            "spec.startingDeadlineSeconds",
            "spec.stopStrategy.expression",
        ]
    );
    let message = |path: &str| {
        found
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, m)| m.clone())
            .unwrap()
    };
    assert!(message("spec.timezone").contains("unknown time zone `Mars/Olympus_Mons`"));
    assert!(message("spec.schedule").contains("`61 * * * *` is not a valid cron expression"));
    assert!(message("spec.schedules[0]").contains("has 6 fields; a schedule has 5"));
    assert!(message("spec.schedules[1]").contains("not a known descriptor"));
    assert!(message("spec.schedules[2]").contains("is empty"));
    assert!(message("spec.schedules[3]").contains("not a known descriptor"));
    assert!(message("spec.schedules[4]").contains("matches no date"));
    assert!(message("spec.startingDeadlineSeconds").contains("found -5"));

    let none = problems(json!({}));
    assert_eq!(none.len(), 1);
    assert_eq!(none[0].0, "spec.schedules");
    assert!(none[0].1.contains("at least one schedule"));

    let both = problems(json!({
        "schedules": ["CRON_TZ=Europe/Paris 0 9 * * *"],
        "timezone": "America/Los_Angeles"
    }));
    assert_eq!(both[0].0, "spec.schedules[0]");
    assert!(both[0].1.contains("keep one of them"), "{}", both[0].1);

    let empty_stop =
        problems(json!({"schedules": ["@daily"], "stopStrategy": {"expression": " "}}));
    assert_eq!(empty_stop[0].0, "spec.stopStrategy.expression");
}

// --- zones and daylight saving -------------------------------------------------------------

#[test]
fn timezone_and_cron_tz_prefix() {
    let la = schedule(json!({"schedules": ["0 9 * * *"], "timezone": "America/Los_Angeles"}));
    assert_eq!(
        ticks(&la, "2024-01-01T00:00:00Z", 1),
        ["2024-01-01T09:00:00-08:00"]
    );
    let mixed = every(&[
        "CRON_TZ=Europe/Paris 0 9 * * *",
        "TZ=America/Los_Angeles 0 9 * * *",
    ]);
    assert_eq!(
        ticks(&mixed, "2024-07-01T00:00:00Z", 2),
        ["2024-07-01T09:00:00+02:00", "2024-07-01T09:00:00-07:00"]
    );
    // The default zone applies when none is named.
    let local = CronSchedule::parse(
        &spec(json!({"schedules": ["0 9 * * *"]})),
        &Zones {
            known: vec![],
            default: paris(),
        },
    )
    .unwrap();
    assert_eq!(
        ticks(&local, "2024-01-01T00:00:00Z", 1),
        ["2024-01-01T09:00:00+01:00"]
    );
}

/// The tables of Argo's documentation, "Daylight Saving", for `America/Los_Angeles`.
#[test]
fn daylight_saving_as_argo_documents_it() {
    let la = |cron: &str| schedule(json!({"schedules": [cron], "timezone": "America/Los_Angeles"}));
    // Clocks go forward at 2020-03-08 02:00: times from 02:00 to 02:59 do not run that day.
    assert_eq!(
        ticks(&la("59 1 * * *"), "2020-03-08T00:00:00-08:00", 3),
        [
            "2020-03-08T01:59:00-08:00",
            "2020-03-09T01:59:00-07:00",
            "2020-03-10T01:59:00-07:00"
        ]
    );
    assert_eq!(
        ticks(&la("0 2 * * *"), "2020-03-08T00:00:00-08:00", 3),
        [
            "2020-03-09T02:00:00-07:00",
            "2020-03-10T02:00:00-07:00",
            "2020-03-11T02:00:00-07:00"
        ]
    );
    assert_eq!(
        ticks(&la("1 2 * * *"), "2020-03-08T00:00:00-08:00", 1),
        ["2020-03-09T02:01:00-07:00"]
    );
    // Clocks go back at 2020-11-01 02:00: times from 01:00 to 01:59 run twice that day.
    assert_eq!(
        ticks(&la("59 1 * * *"), "2020-11-01T00:00:00-07:00", 3),
        [
            "2020-11-01T01:59:00-07:00",
            "2020-11-01T01:59:00-08:00",
            "2020-11-02T01:59:00-08:00"
        ]
    );
    assert_eq!(
        ticks(&la("0 2 * * *"), "2020-11-01T00:00:00-07:00", 2),
        ["2020-11-01T02:00:00-08:00", "2020-11-02T02:00:00-08:00"]
    );
    // Every 30 minutes across the repeated hour: each wall-clock time twice, in order.
    assert_eq!(
        ticks(&la("*/30 * * * *"), "2020-11-01T00:45:00-07:00", 6),
        [
            "2020-11-01T01:00:00-07:00",
            "2020-11-01T01:30:00-07:00",
            "2020-11-01T01:00:00-08:00",
            "2020-11-01T01:30:00-08:00",
            "2020-11-01T02:00:00-08:00",
            "2020-11-01T02:30:00-08:00"
        ]
    );
}

#[test]
fn daylight_saving_in_paris() {
    let s = schedule(json!({"schedules": ["30 * * * *"], "timezone": "Europe/Paris"}));
    // 2024-03-31: 02:00 CET becomes 03:00 CEST; 02:30 does not exist.
    assert_eq!(
        ticks(&s, "2024-03-31T01:00:00+01:00", 2),
        ["2024-03-31T01:30:00+01:00", "2024-03-31T03:30:00+02:00"]
    );
    // 2024-10-27: 03:00 CEST becomes 02:00 CET; 02:30 happens twice.
    assert_eq!(
        ticks(&s, "2024-10-27T01:45:00+02:00", 3),
        [
            "2024-10-27T02:30:00+02:00",
            "2024-10-27T02:30:00+01:00",
            "2024-10-27T03:30:00+01:00"
        ]
    );
}

#[test]
fn due_across_daylight_saving() {
    let la = |cron: &str| schedule(json!({"schedules": [cron], "timezone": "America/Los_Angeles"}));
    let since = t("2020-01-01T00:00:00Z");
    // The repeated 01:30 runs twice, under two names.
    let s = la("30 1 * * *");
    let first = t("2020-11-01T01:30:00-07:00");
    assert_eq!(
        s.due(Some(first), since, t("2020-11-01T01:30:05-08:00")),
        run("2020-11-01T01:30:00-08:00", 0)
    );
    assert_ne!(
        run_name("c", &first),
        run_name("c", &t("2020-11-01T01:30:00-08:00"))
    );
    // A time in the skipped hour is not due that day.
    let s = la("30 2 * * *");
    let last = Some(t("2020-03-07T02:30:00-08:00"));
    assert_eq!(
        s.due(last, since, t("2020-03-08T03:00:10-07:00")),
        Due::Nothing
    );
    assert_eq!(
        s.next_due(last, since, t("2020-03-08T03:00:10-07:00"))
            .map(|d| rfc3339(&d)),
        Some("2020-03-09T02:30:00-07:00".to_string())
    );
}

// --- what is due -----------------------------------------------------------------------------

#[test]
fn on_time_tick_runs_once() {
    let s = every(&["* * * * *"]);
    let since = t("2024-01-01T00:00:00Z");
    let last = Some(t("2024-01-01T10:00:00Z"));
    assert_eq!(s.due(last, since, t("2024-01-01T10:00:40Z")), Due::Nothing);
    let now = t("2024-01-01T10:01:00.250Z");
    let due = s.due(last, since, now);
    assert_eq!(due, run("2024-01-01T10:01:00Z", 0));
    // The same question gives the same answer (and the same run name) ...
    assert_eq!(s.due(last, since, now), due);
    // ... and once recorded, the tick is never due again, also after a restart.
    let recorded = Some(t("2024-01-01T10:01:00Z"));
    assert_eq!(s.due(recorded, since, now), Due::Nothing);
    assert_eq!(
        s.due(recorded, since, t("2024-01-01T10:01:59Z")),
        Due::Nothing
    );
    assert_eq!(
        s.next_due(recorded, since, now).map(|d| rfc3339(&d)),
        Some("2024-01-01T10:02:00Z".to_string())
    );
}

#[test]
fn missed_ticks_without_a_starting_deadline_do_not_run() {
    let s = every(&["* * * * *"]);
    let since = t("2024-01-01T00:00:00Z");
    let last = Some(t("2024-01-01T10:00:00Z"));
    // Down from 10:00:30 to 10:05:40: five ticks passed, the latest 40 s ago.
    assert_eq!(
        s.due(last, since, t("2024-01-01T10:05:40Z")),
        expired("2024-01-01T10:05:00Z", 5)
    );
    // Seen within the on-time allowance, the latest still runs; the older ones do not.
    assert_eq!(
        s.due(last, since, t("2024-01-01T10:05:20Z")),
        run("2024-01-01T10:05:00Z", 4)
    );
    // The next wake-up after an expired tick is the next tick.
    assert_eq!(
        s.next_due(last, since, t("2024-01-01T10:05:40Z"))
            .map(|d| rfc3339(&d)),
        Some("2024-01-01T10:06:00Z".to_string())
    );
}

#[test]
fn only_the_latest_missed_tick_runs_within_the_starting_deadline() {
    let with_deadline = |seconds: i64| {
        schedule(json!({"schedules": ["0 * * * *"], "startingDeadlineSeconds": seconds}))
    };
    let since = t("2024-01-01T00:00:00Z");
    let last = Some(t("2024-01-01T08:00:00Z"));
    let now = t("2024-01-01T10:30:00Z");
    // 09:00 and 10:00 were missed; 10:00 is 30 minutes late.
    assert_eq!(
        with_deadline(3600).due(last, since, now),
        run("2024-01-01T10:00:00Z", 1)
    );
    assert_eq!(
        with_deadline(1801).due(last, since, now),
        run("2024-01-01T10:00:00Z", 1)
    );
    // `now` must be before tick + deadline, as in Argo.
    assert_eq!(
        with_deadline(1800).due(last, since, now),
        expired("2024-01-01T10:00:00Z", 2)
    );
    // A zero deadline is no deadline.
    assert_eq!(
        with_deadline(0).due(last, since, now),
        expired("2024-01-01T10:00:00Z", 2)
    );
    assert_eq!(
        with_deadline(3600).starting_deadline(),
        Some(TimeDelta::hours(1))
    );
}

#[test]
fn ticks_before_creation_or_a_schedule_change_never_run() {
    let s = schedule(json!({"schedules": ["0 * * * *"], "startingDeadlineSeconds": 7200}));
    // Created at 10:00:30: the 10:00 tick is not its own.
    let created = t("2024-01-01T10:00:30Z");
    assert_eq!(
        s.due(None, created, t("2024-01-01T10:00:45Z")),
        Due::Nothing
    );
    assert_eq!(
        s.due(None, created, t("2024-01-01T11:00:02Z")),
        run("2024-01-01T11:00:00Z", 0)
    );
    // Last run at 08:00, schedules changed at 10:15: 09:00 and 10:00 belong to the old ones.
    let last = Some(t("2024-01-01T08:00:00Z"));
    let changed = t("2024-01-01T10:15:00Z");
    assert_eq!(
        s.due(last, changed, t("2024-01-01T10:20:00Z")),
        Due::Nothing
    );
    assert_eq!(
        s.next_due(last, changed, t("2024-01-01T10:20:00Z"))
            .map(|d| rfc3339(&d)),
        Some("2024-01-01T11:00:00Z".to_string())
    );
}

#[test]
fn multiple_schedules_merge_and_coinciding_ticks_run_once() {
    let s = every(&["0 * * * *", "30 * * * *", "0 */2 * * *"]);
    assert_eq!(s.schedules(), ["0 * * * *", "30 * * * *", "0 */2 * * *"]);
    assert_eq!(
        ticks(&s, "2024-01-01T09:45:00Z", 4),
        [
            "2024-01-01T10:00:00Z",
            "2024-01-01T10:30:00Z",
            "2024-01-01T11:00:00Z",
            "2024-01-01T11:30:00Z"
        ]
    );
    let since = t("2024-01-01T00:00:00Z");
    // 10:00 (named by two schedules) counts once among the skipped.
    let long = schedule(json!({
        "schedule": "0 * * * *",
        "schedules": ["30 * * * *", "0 */2 * * *"],
        "startingDeadlineSeconds": 3600
    }));
    assert_eq!(
        long.due(
            Some(t("2024-01-01T09:30:00Z")),
            since,
            t("2024-01-01T11:40:00Z")
        ),
        run("2024-01-01T11:30:00Z", 3)
    );
}

#[test]
fn every_interval_due_counts_from_the_last_tick() {
    let s = every(&["@every 90s"]);
    let since = t("2024-01-01T00:00:00Z");
    let last = Some(t("2024-01-01T10:00:00Z"));
    assert_eq!(
        s.due(last, since, t("2024-01-01T10:03:05Z")),
        run("2024-01-01T10:03:00Z", 1)
    );
    assert_eq!(
        s.next_due(
            Some(t("2024-01-01T10:03:00Z")),
            since,
            t("2024-01-01T10:03:05Z")
        )
        .map(|d| rfc3339(&d)),
        Some("2024-01-01T10:04:30Z".to_string())
    );
    // Never run: ticks count from `since`.
    assert_eq!(
        s.due(None, t("2024-01-01T12:00:00Z"), t("2024-01-01T12:01:31Z")),
        run("2024-01-01T12:01:30Z", 0)
    );
}

#[test]
fn long_downtime_stays_bounded() {
    let s = every(&["* * * * *"]);
    let since = t("2020-01-01T00:00:00Z");
    let due = s.due(Some(since), since, t("2024-01-01T00:00:10Z"));
    assert_eq!(due, run("2024-01-01T00:00:00Z", MAX_COUNTED_TICKS));
}

// --- decisions -----------------------------------------------------------------------------

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn concurrency_policies() {
    let active = names(&["c-1", "c-2"]);
    for policy in [
        None,
        Some(ConcurrencyPolicy::Allow),
        Some(ConcurrencyPolicy::Forbid),
        Some(ConcurrencyPolicy::Replace),
    ] {
        assert_eq!(concurrency(policy, &[]), Decision::Run, "{policy:?}");
    }
    assert_eq!(concurrency(None, &active), Decision::Run);
    assert_eq!(
        concurrency(Some(ConcurrencyPolicy::Allow), &active),
        Decision::Run
    );
    assert_eq!(
        concurrency(Some(ConcurrencyPolicy::Forbid), &active),
        Decision::Skip(SkipReason::Forbidden(active.clone()))
    );
    assert_eq!(
        concurrency(Some(ConcurrencyPolicy::Replace), &active),
        Decision::ReplaceThenRun(active)
    );
}

fn status_with_active(names: &[&str]) -> CronStatus {
    let mut status = CronStatus::default();
    for (i, name) in names.iter().enumerate() {
        let scheduled = t("2024-01-01T10:00:00Z") + TimeDelta::minutes(i as i64);
        status.record_run(
            RunRef {
                kind: "Workflow".into(),
                api_version: "argoproj.io/v1alpha1".into(),
                name: name.to_string(),
                namespace: None,
                uid: None,
            },
            scheduled,
        );
    }
    status
}

#[test]
fn decide_follows_argo_order() {
    let vars = |status: &CronStatus| {
        CronVariables::new(
            &ObjectMeta {
                name: Some("nightly".into()),
                ..ObjectMeta::default()
            },
            status,
        )
    };
    let status = status_with_active(&["nightly-1"]);
    let base = json!({"schedules": ["@daily"], "concurrencyPolicy": "Forbid"});
    let with = |extra: Json| {
        let mut value = base.clone();
        value
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        spec(value)
    };
    assert_eq!(
        decide(&with(json!({})), &status, &vars(&status)),
        Ok(Decision::Skip(SkipReason::Forbidden(names(&["nightly-1"]))))
    );
    let idle = CronStatus::default();
    assert_eq!(
        decide(&with(json!({})), &idle, &vars(&idle)),
        Ok(Decision::Run)
    );
    assert_eq!(
        decide(&with(json!({"suspend": true})), &idle, &vars(&idle)),
        Ok(Decision::Skip(SkipReason::Suspended))
    );
    assert_eq!(
        decide(&with(json!({"when": "1 > 2"})), &idle, &vars(&idle)),
        Ok(Decision::Skip(SkipReason::WhenFalse))
    );
    // The stop strategy comes before `suspend`.
    let mut failing = CronStatus::default();
    failing.record_error(ConditionKind::SubmissionError, "could not create");
    let stop = json!({"suspend": true, "stopStrategy": {"expression": "cronworkflow.failed >= 1"}});
    assert_eq!(
        decide(&with(stop.clone()), &failing, &vars(&failing)),
        Ok(Decision::Skip(SkipReason::StopReached))
    );
    failing.mark_stopped();
    assert_eq!(
        decide(&with(json!({})), &failing, &vars(&failing)),
        Ok(Decision::Skip(SkipReason::Stopped))
    );
    // An expression that fails: no run, and the condition to record.
    let e = decide(
        &with(json!({"when": "{{cronworkflow.nope}} == 1"})),
        &idle,
        &vars(&idle),
    )
    .unwrap_err();
    assert_eq!(e.path, "spec.when");
    assert_eq!(e.condition(), ConditionKind::SubmissionError);
    let e = decide(
        &with(json!({"stopStrategy": {"expression": "cronworkflow.name"}})),
        &idle,
        &vars(&idle),
    )
    .unwrap_err();
    assert_eq!(e.condition(), ConditionKind::SpecError);
    assert!(e.message.contains("must be true or false"), "{e}");
}

#[test]
fn when_sees_the_cron_variables() {
    let mut status = CronStatus::default();
    let vars = |status: &CronStatus| {
        CronVariables::new(
            &ObjectMeta {
                name: Some("nightly".into()),
                namespace: Some("jobs".into()),
                labels: [("team".to_string(), "a".to_string())].into(),
                ..ObjectMeta::default()
            },
            status,
        )
    };
    let allows = |when: &str, status: &CronStatus| when_allows(Some(when), &vars(status)).unwrap();
    assert!(when_allows(None, &vars(&status)).unwrap());
    assert!(when_allows(Some("  "), &vars(&status)).unwrap());
    assert!(allows("'{{cronworkflow.name}}' == 'nightly'", &status));
    assert!(allows("'{{cronworkflow.namespace}}' == 'jobs'", &status));
    assert!(allows("{{cronworkflow.failed}} == 0", &status));
    assert!(allows(
        "{{= cronworkflow.lastScheduledTime == nil }}",
        &status
    ));
    assert!(allows("{{= cronworkflow.labels.team == 'a' }}", &status));
    status.record_run(
        RunRef {
            kind: "Workflow".into(),
            api_version: "argoproj.io/v1alpha1".into(),
            name: "nightly-1".into(),
            namespace: None,
            uid: None,
        },
        t("2024-01-01T00:00:00Z"),
    );
    assert!(!allows(
        "{{= cronworkflow.lastScheduledTime == nil }}",
        &status
    ));
    assert!(allows(
        "'{{cronworkflow.lastScheduledTime}}' == '2024-01-01T00:00:00Z'",
        &status
    ));
}

#[test]
fn stop_strategy() {
    let mut status = CronStatus::default();
    let strategy = StopStrategy {
        expression: "cronworkflow.succeeded >= 2".into(),
    };
    let reached = |status: &CronStatus| {
        stop_reached(
            Some(&strategy),
            &CronVariables::new(&ObjectMeta::default(), status),
        )
        .unwrap()
    };
    assert!(!stop_reached(None, &CronVariables::default()).unwrap());
    let mut names = Vec::new();
    for i in 0..2 {
        let name = format!("c-{i}");
        status.record_run(
            RunRef {
                kind: "Workflow".into(),
                api_version: "argoproj.io/v1alpha1".into(),
                name: name.clone(),
                namespace: None,
                uid: None,
            },
            t("2024-01-01T00:00:00Z"),
        );
        names.push(name);
    }
    assert!(!reached(&status));
    assert!(status.record_finished(&names[0], WorkflowPhase::Succeeded));
    assert!(!reached(&status));
    assert!(status.record_finished(&names[1], WorkflowPhase::Succeeded));
    assert!(reached(&status));
}

// --- status --------------------------------------------------------------------------------

#[test]
fn status_bookkeeping_and_argo_shape() {
    let mut status = status_with_active(&["c-1", "c-2", "c-3"]);
    assert_eq!(status.active_names(), ["c-1", "c-2", "c-3"]);
    assert_eq!(status.last_scheduled_time, Some(t("2024-01-01T10:02:00Z")));
    assert!(status.record_finished("c-1", WorkflowPhase::Succeeded));
    assert!(status.record_finished("c-2", WorkflowPhase::Error));
    // A second report of the same end, or of an unknown run, counts nothing.
    assert!(!status.record_finished("c-2", WorkflowPhase::Error));
    assert!(!status.record_finished("other", WorkflowPhase::Failed));
    assert_eq!((status.succeeded, status.failed), (1, 1));
    status.record_error(ConditionKind::SubmissionError, "first");
    status.record_error(ConditionKind::SubmissionError, "second");
    status.record_error(ConditionKind::SpecError, "bad spec");
    assert_eq!(status.failed, 3);
    assert_eq!(status.conditions.len(), 2);
    assert_eq!(status.conditions[0].message, "second");
    let value = serde_json::to_value(&status).unwrap();
    assert_eq!(
        value,
        json!({
            "active": [{"kind": "Workflow", "apiVersion": "argoproj.io/v1alpha1", "name": "c-3"}],
            "lastScheduledTime": "2024-01-01T10:02:00Z",
            "conditions": [
                {"type": "SubmissionError", "status": "True", "message": "second"},
                {"type": "SpecError", "status": "True", "message": "bad spec"}
            ],
            "succeeded": 1,
            "failed": 3,
            "phase": "Active"
        })
    );
    assert_eq!(serde_json::from_value::<CronStatus>(value).unwrap(), status);
    // A successful submission clears the submission error.
    status.record_run(
        RunRef {
            kind: "Workflow".into(),
            api_version: "argoproj.io/v1alpha1".into(),
            name: "c-4".into(),
            namespace: None,
            uid: None,
        },
        t("2024-01-01T10:03:00Z"),
    );
    assert_eq!(status.conditions.len(), 1);
    status.mark_stopped();
    assert!(status.is_stopped());
    // Argo's status with nulls and without `phase` reads too.
    let argo: CronStatus = serde_json::from_value(json!({
        "active": null, "lastScheduledTime": null, "conditions": null, "succeeded": 0, "failed": 0
    }))
    .unwrap();
    assert_eq!(argo, CronStatus::default());
}

// --- runs ----------------------------------------------------------------------------------

#[test]
fn run_names_are_the_cron_name_and_the_tick() {
    let tick = t("2020-01-01T00:00:00Z");
    assert_eq!(run_name("nightly", &tick), "nightly-1577836800");
    // The same instant in another zone is the same tick, the same name.
    let paris_tick = DateTime::parse_from_rfc3339("2020-01-01T01:00:00+01:00").unwrap();
    assert_eq!(run_name("nightly", &paris_tick), "nightly-1577836800");
    assert!(check_name(&"a".repeat(MAX_NAME_CHARS)).is_ok());
    let e = check_name(&"a".repeat(MAX_NAME_CHARS + 1)).unwrap_err();
    assert_eq!(e.path, "metadata.name");
    assert!(e.message.contains("at most 52 characters"), "{}", e.message);
}

#[test]
fn new_run_metadata() {
    let cron: CronWorkflow = serde_json::from_value(json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "CronWorkflow",
        "metadata": {
            "name": "nightly",
            "namespace": "jobs",
            "labels": {
                "workflows.argoproj.io/creator": "alice",
                "workflows.argoproj.io/controller-instanceid": "main",
                "unrelated": "not copied"
            }
        },
        "spec": {
            "schedules": ["0 1 * * *"],
            "workflowMetadata": {
                "labels": {"from": "cron", "workflows.argoproj.io/cron-workflow": "spoof"},
                "annotations": {"note": "hi", "workflows.argoproj.io/scheduled-time": "spoof"}
            },
            "workflowSpec": {"entrypoint": "main", "templates": [{"name": "main", "suspend": {}}]}
        }
    }))
    .unwrap();
    let scheduled = DateTime::parse_from_rfc3339("2020-03-08T01:00:00-08:00").unwrap();
    let wf = new_run(&cron, &scheduled);
    assert_eq!(wf.kind, "Workflow");
    assert_eq!(wf.api_version, "argoproj.io/v1alpha1");
    assert_eq!(wf.metadata.name.as_deref(), Some("nightly-1583658000"));
    assert_eq!(wf.metadata.namespace.as_deref(), Some("jobs"));
    assert_eq!(wf.spec, cron.spec.workflow_spec);
    assert_eq!(
        serde_json::to_value(&wf.metadata.labels).unwrap(),
        json!({
            "from": "cron",
            "workflows.argoproj.io/controller-instanceid": "main",
            "workflows.argoproj.io/creator": "alice",
            "workflows.argoproj.io/cron-workflow": "nightly"
        })
    );
    assert_eq!(
        serde_json::to_value(&wf.metadata.annotations).unwrap(),
        json!({
            "note": "hi",
            "workflows.argoproj.io/scheduled-time": "2020-03-08T01:00:00-08:00"
        })
    );
    let utc = new_run(&cron, &t("2020-03-08T09:00:00Z").fixed_offset());
    assert_eq!(
        utc.metadata.annotations[ANNOTATION_SCHEDULED_TIME],
        "2020-03-08T09:00:00Z"
    );
    let reference = RunRef::to(&wf);
    assert_eq!(reference.name, "nightly-1583658000");
    assert_eq!(reference.namespace.as_deref(), Some("jobs"));
}

#[test]
fn due_tick_to_run_end_to_end() {
    // The annotation carries the tick in its schedule's zone.
    let s = schedule(json!({"schedules": ["0 9 * * *"], "timezone": "Europe/Paris"}));
    let Due::Run { scheduled, .. } =
        s.due(None, t("2024-07-01T00:00:00Z"), t("2024-07-01T07:00:03Z"))
    else {
        panic!("the 09:00 Paris tick is due");
    };
    let cron = CronWorkflow {
        metadata: ObjectMeta {
            name: Some("morning".into()),
            ..ObjectMeta::default()
        },
        ..CronWorkflow::default()
    };
    let wf = new_run(&cron, &scheduled);
    assert_eq!(wf.metadata.name.as_deref(), Some("morning-1719817200"));
    assert_eq!(
        wf.metadata.annotations[ANNOTATION_SCHEDULED_TIME],
        "2024-07-01T09:00:00+02:00"
    );
}

#[test]
fn history_limits() {
    let finished = |name: &str, phase: WorkflowPhase, at: Option<&str>| FinishedRun {
        name: name.into(),
        phase,
        finished_at: at.map(t),
    };
    use WorkflowPhase::*;
    let runs = vec![
        finished("s1", Succeeded, Some("2024-01-01T01:00:00Z")),
        finished("s2", Succeeded, Some("2024-01-01T02:00:00Z")),
        finished("s3", Succeeded, Some("2024-01-01T03:00:00Z")),
        finished("s4", Succeeded, Some("2024-01-01T04:00:00Z")),
        finished("s0", Succeeded, None),
        finished("f1", Failed, Some("2024-01-01T01:30:00Z")),
        finished("e2", Error, Some("2024-01-01T02:30:00Z")),
        finished("r1", Running, None),
        finished("p1", Pending, None),
    ];
    let with = |value: Json| spec(value);
    // Defaults: keep 3 succeeded, 1 failed or errored.
    assert_eq!(
        history_to_delete(&with(json!({})), &runs),
        ["s1", "s0", "f1"]
    );
    assert_eq!(
        history_to_delete(
            &with(json!({"successfulJobsHistoryLimit": 1, "failedJobsHistoryLimit": 0})),
            &runs
        ),
        ["s3", "s2", "s1", "s0", "e2", "f1"]
    );
    // Negative limits fall back to the defaults, as in Argo.
    assert_eq!(
        history_to_delete(
            &with(json!({"successfulJobsHistoryLimit": -1, "failedJobsHistoryLimit": -1})),
            &runs
        ),
        ["s1", "s0", "f1"]
    );
    assert!(
        history_to_delete(
            &with(json!({"successfulJobsHistoryLimit": 10, "failedJobsHistoryLimit": 10})),
            &runs
        )
        .is_empty()
    );
}

#[test]
fn fingerprint_matches_argo() {
    assert_eq!(
        schedule_fingerprint(&spec(json!({"schedules": ["0 1 * * *", "@hourly"]}))),
        "0 1 * * *,@hourly"
    );
    assert_eq!(
        schedule_fingerprint(&spec(json!({
            "schedule": "0 1 * * *",
            "schedules": ["@hourly"],
            "timezone": "Europe/Paris"
        }))),
        "CRON_TZ=Europe/Paris 0 1 * * *,CRON_TZ=Europe/Paris @hourly"
    );
}
