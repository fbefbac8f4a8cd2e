//! CronWorkflow scheduling, pure: which instants a CronWorkflow's schedules name, which one to
//! run now (also after downtime), whether it may run (stop strategy, `suspend`, `when`,
//! `concurrencyPolicy`), what the run is called and how it is labelled, and which finished
//! runs the history limits delete. No clock and no I/O: callers pass `now`, and zones come
//! through a [`ZoneLookup`] ([`ZoneInfoDir`] reads the host's database).
//!
//! The semantics are Argo's (`workflow/cron` of Argo Workflows v3.6/v4):
//! - Schedules are 5-field cron expressions (minute, hour, day of month, month, day of week),
//!   the descriptors `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight`,
//!   `@hourly`, and `@every <Go duration>`, each optionally prefixed by `CRON_TZ=<zone>`.
//!   croner adds `L`, `W` and `#` to the fields. `spec.timezone` applies to every schedule;
//!   without it schedules run in the default zone (Argo: the controller's local time).
//! - Wall-clock times are resolved as Argo's documentation shows: a time that a
//!   spring-forward gap skips does not run that day, and a time that a fall-back overlap
//!   repeats runs twice (once per offset).
//! - A tick is run at most once: the run is named `<cron name>-<unix seconds of the tick>`
//!   ([`run_name`]), so a second attempt at the same tick collides with the first.
//! - After downtime only the latest missed tick may run, and only while
//!   `now < tick + startingDeadlineSeconds`; older missed ticks are never run.
//! - A stopped CronWorkflow (its `stopStrategy.expression` became true) schedules nothing.
//!
//! A typical loop: [`CronSchedule::parse`] the spec; at start-up and whenever the timer set
//! from [`CronSchedule::next_due`] fires, call [`CronSchedule::due`] with the persisted
//! `status.lastScheduledTime`; for [`Due::Run`], ask [`decide`], create [`new_run`] under its
//! unique name, and record it with [`CronStatus::record_run`] (which advances
//! `lastScheduledTime`). A tick that [`decide`] passes over leaves `lastScheduledTime` as it
//! is (as in Argo), so ask [`CronSchedule::due`] again only when the next timer fires, or the
//! same tick comes back while it is still on time. When a run finishes,
//! [`CronStatus::record_finished`], check [`stop_reached`], and delete what
//! [`history_to_delete`] names. After a restart, rebuild `status.active` from the unfinished
//! runs labelled [`LABEL_CRON_WORKFLOW`] before deciding.

mod zone;

pub use zone::{Zone, ZoneError, ZoneInfoDir, ZoneLookup};

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeDelta, TimeZone, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json, json};
use switchyard_engine::WorkflowPhase;
use switchyard_model::workflow::{
    ConcurrencyPolicy, CronWorkflow, CronWorkflowSpec, StopStrategy, Workflow,
};
use switchyard_model::{Diagnostic, ObjectMeta};

/// Label on every workflow a CronWorkflow creates: the CronWorkflow's name.
pub const LABEL_CRON_WORKFLOW: &str = "workflows.argoproj.io/cron-workflow";
/// Annotation on every workflow a CronWorkflow creates: its tick, RFC 3339 in the schedule's
/// zone (the source of `{{workflow.scheduledTime}}`).
pub const ANNOTATION_SCHEDULED_TIME: &str = "workflows.argoproj.io/scheduled-time";
/// Label set to `"true"` on a CronWorkflow once its stop strategy has stopped it.
pub const LABEL_COMPLETED: &str = "cronworkflows.argoproj.io/completed";
/// Annotation on a CronWorkflow holding [`schedule_fingerprint`] of the schedules in use.
pub const ANNOTATION_LAST_USED_SCHEDULE: &str = "cronworkflows.argoproj.io/last-used-schedule";
/// Labels of the CronWorkflow copied onto its workflows.
const PROPAGATED_LABELS: [&str; 4] = [
    "workflows.argoproj.io/controller-instanceid",
    "workflows.argoproj.io/creator",
    "workflows.argoproj.io/creator-email",
    "workflows.argoproj.io/creator-preferred-username",
];

/// Longest CronWorkflow name: with `-` and ten digits of the tick, a run's name stays within
/// the 63 characters of a label value.
pub const MAX_NAME_CHARS: usize = 52;
/// How late a tick may be seen and still count as on time rather than missed (the scheduler's
/// own latency; Argo's timer fires on the second). Missed ticks need `startingDeadlineSeconds`.
pub const ON_TIME: TimeDelta = TimeDelta::seconds(30);
/// Succeeded runs kept when `successfulJobsHistoryLimit` is unset or negative.
pub const DEFAULT_SUCCESSFUL_HISTORY: usize = 3;
/// Failed and errored runs kept when `failedJobsHistoryLimit` is unset or negative.
pub const DEFAULT_FAILED_HISTORY: usize = 1;
/// Ticks counted in [`Due`] at most (the count is informative; the search stays bounded).
pub const MAX_COUNTED_TICKS: u32 = 1_000;
/// Matching wall-clock times examined per search, a bound for patterns that mostly fall into
/// daylight-saving gaps.
const SEARCH_STEPS: usize = 100_000;

// ---------------------------------------------------------------------------------------------
// Schedules
// ---------------------------------------------------------------------------------------------

/// The parsed schedules of a CronWorkflow, with their zones and starting deadline.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    entries: Vec<Entry>,
    starting_deadline: Option<TimeDelta>,
}

#[derive(Debug, Clone)]
struct Entry {
    text: String,
    zone: Zone,
    rule: Rule,
}

#[derive(Debug, Clone)]
enum Rule {
    Cron(Box<Cron>),
    /// `@every`: a fixed interval in whole seconds, counted from the previous tick.
    Every(i64),
}

/// What is due at `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    /// No tick since the last scheduled time.
    Nothing,
    /// Run the tick at `scheduled` (in its schedule's zone); the `skipped` earlier ticks since
    /// the last scheduled time are not run (at most [`MAX_COUNTED_TICKS`] are counted).
    Run {
        scheduled: DateTime<FixedOffset>,
        skipped: u32,
    },
    /// Ticks came, the latest at `latest`, but even that one is past its starting deadline:
    /// nothing runs. `passed` counts them (at most [`MAX_COUNTED_TICKS`]).
    Expired {
        latest: DateTime<FixedOffset>,
        passed: u32,
    },
}

impl CronSchedule {
    /// Parses and checks the scheduling fields of `spec` (`schedule`, `schedules`, `timezone`,
    /// `startingDeadlineSeconds`, `stopStrategy`), reporting every problem with its path.
    pub fn parse(spec: &CronWorkflowSpec, zones: &dyn ZoneLookup) -> Result<Self, Vec<Diagnostic>> {
        let mut problems = Vec::new();
        let spec_zone = match spec.timezone.as_deref().filter(|tz| !tz.is_empty()) {
            None => Some(zones.default_zone()),
            Some(name) => zones
                .zone(name)
                .map_err(|e| problems.push(Diagnostic::error("spec.timezone", e.to_string())))
                .ok(),
        };
        let has_timezone = spec.timezone.as_deref().is_some_and(|tz| !tz.is_empty());

        let mut sources: Vec<(String, &str)> = Vec::new();
        if let Some(one) = &spec.schedule {
            sources.push(("spec.schedule".to_string(), one));
        }
        for (i, text) in spec.schedules.iter().enumerate() {
            sources.push((format!("spec.schedules[{i}]"), text));
        }
        if sources.is_empty() {
            problems.push(Diagnostic::error(
                "spec.schedules",
                "a CronWorkflow needs at least one schedule: set `schedules`, e.g. \
                 [\"0 * * * *\"] (or the older `schedule`)",
            ));
        }
        let mut entries = Vec::new();
        for (path, text) in sources {
            match parse_entry(text, has_timezone, spec_zone.as_ref(), zones) {
                Ok(Some(entry)) => entries.push(entry),
                Ok(None) => {}
                Err(message) => problems.push(Diagnostic::error(path, message)),
            }
        }

        let starting_deadline = match spec.starting_deadline_seconds {
            Some(seconds) if seconds < 0 => {
                problems.push(Diagnostic::error(
                    "spec.startingDeadlineSeconds",
                    format!("must not be negative, found {seconds}"),
                ));
                None
            }
            Some(seconds) => TimeDelta::try_seconds(seconds),
            None => None,
        };

        if let Some(stop) = &spec.stop_strategy {
            let path = "spec.stopStrategy.expression";
            if stop.expression.trim().is_empty() {
                problems.push(Diagnostic::error(
                    path,
                    "is empty; write a condition such as `cronworkflow.failed >= 3`",
                ));
            } else if let Err(e) = switchyard_expr::exprlang::check(&stop.expression) {
                problems.push(Diagnostic::error(path, e.to_string()));
            }
        }

        if problems.is_empty() {
            Ok(CronSchedule {
                entries,
                starting_deadline,
            })
        } else {
            Err(problems)
        }
    }

    /// The schedules as written.
    pub fn schedules(&self) -> Vec<&str> {
        self.entries.iter().map(|e| e.text.as_str()).collect()
    }

    /// `startingDeadlineSeconds`, when set.
    pub fn starting_deadline(&self) -> Option<TimeDelta> {
        self.starting_deadline
    }

    /// The first tick strictly after `t`, in its schedule's zone. `@every` schedules count
    /// from `t` itself, as Argo's timer does when it is (re)started.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<FixedOffset>> {
        let t = t.timestamp();
        self.earliest(|e| e.next_after(t, t))
    }

    /// Decides which tick, if any, to run at `now`. `last_scheduled` is the tick of the last
    /// run (`status.lastScheduledTime`); `since` is when ticks start to count: the creation
    /// of the CronWorkflow, or the last change of its schedules (Argo does not run ticks
    /// missed under a previous schedule). Ticks at or before either are never returned, so
    /// calling this again with the same inputs, or after a restart with the persisted
    /// `last_scheduled`, never yields a tick twice. `@every` ticks count from the later of
    /// the two.
    pub fn due(
        &self,
        last_scheduled: Option<DateTime<Utc>>,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Due {
        let floor = cursor(last_scheduled, since);
        let now_s = now.timestamp();
        if now_s <= floor {
            return Due::Nothing;
        }
        let Some(latest) = self.latest(|e| e.latest_in(floor, now_s)) else {
            return Due::Nothing;
        };
        let late = now - latest.with_timezone(&Utc);
        let in_time = late <= ON_TIME || self.starting_deadline.is_some_and(|d| late < d);
        let latest_s = latest.timestamp();
        if in_time {
            Due::Run {
                scheduled: latest,
                skipped: self.count(floor, latest_s - 1),
            }
        } else {
            Due::Expired {
                latest,
                passed: self.count(floor, latest_s),
            }
        }
    }

    /// When to call [`Self::due`] next: the first tick after both `now` and the last
    /// scheduled tick (with the same `last_scheduled` and `since` as [`Self::due`]).
    pub fn next_due(
        &self,
        last_scheduled: Option<DateTime<Utc>>,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Option<DateTime<FixedOffset>> {
        let floor = cursor(last_scheduled, since);
        let after = floor.max(now.timestamp());
        self.earliest(|e| e.next_after(after, floor))
    }

    /// Ticks in `(from, to]`, counted up to [`MAX_COUNTED_TICKS`].
    fn count(&self, from: i64, to: i64) -> u32 {
        let mut n = 0;
        let mut at = from;
        while n < MAX_COUNTED_TICKS {
            match self.earliest(|e| e.next_after(at, from)) {
                Some(tick) if tick.timestamp() <= to => {
                    n += 1;
                    at = tick.timestamp();
                }
                _ => break,
            }
        }
        n
    }

    fn earliest(&self, tick: impl Fn(&Entry) -> Option<i64>) -> Option<DateTime<FixedOffset>> {
        let mut best: Option<(i64, &Entry)> = None;
        for entry in &self.entries {
            if let Some(t) = tick(entry)
                && best.is_none_or(|(b, _)| t < b)
            {
                best = Some((t, entry));
            }
        }
        best.and_then(|(t, entry)| entry.at(t))
    }

    fn latest(&self, tick: impl Fn(&Entry) -> Option<i64>) -> Option<DateTime<FixedOffset>> {
        let mut best: Option<(i64, &Entry)> = None;
        for entry in &self.entries {
            if let Some(t) = tick(entry)
                && best.is_none_or(|(b, _)| t > b)
            {
                best = Some((t, entry));
            }
        }
        best.and_then(|(t, entry)| entry.at(t))
    }
}

/// Ticks count strictly after this instant (whole seconds; ticks are whole seconds).
fn cursor(last_scheduled: Option<DateTime<Utc>>, since: DateTime<Utc>) -> i64 {
    let since = since.timestamp();
    last_scheduled.map_or(since, |last| last.timestamp().max(since))
}

impl Entry {
    /// `t` as a time in this schedule's zone.
    fn at(&self, t: i64) -> Option<DateTime<FixedOffset>> {
        let offset = FixedOffset::east_opt(self.zone.offset_at(t))?;
        Some(DateTime::from_timestamp(t, 0)?.with_timezone(&offset))
    }

    /// The first tick after `t`; `@every` ticks fall at `anchor + k * interval`.
    fn next_after(&self, t: i64, anchor: i64) -> Option<i64> {
        match &self.rule {
            Rule::Every(step) => {
                let k = if t < anchor {
                    1
                } else {
                    (t - anchor) / step + 1
                };
                anchor.checked_add(k.checked_mul(*step)?)
            }
            Rule::Cron(cron) => cron_next(cron, &self.zone, t),
        }
    }

    /// The last tick in `(floor, t]`; `@every` ticks fall at `floor + k * interval`.
    fn latest_in(&self, floor: i64, t: i64) -> Option<i64> {
        match &self.rule {
            Rule::Every(step) => {
                let k = (t - floor) / step;
                (k >= 1).then(|| floor + k * step)
            }
            Rule::Cron(cron) => cron_latest(cron, &self.zone, floor, t),
        }
    }
}

fn naive(t: i64) -> Option<NaiveDateTime> {
    DateTime::from_timestamp(t, 0).map(|d| d.naive_utc())
}

fn local_seconds(n: &NaiveDateTime) -> i64 {
    n.and_utc().timestamp()
}

/// The first instant after `t` whose wall-clock time in `zone` matches `cron`. Candidates are
/// matching wall-clock times from `t + min offset` on; each names zero, one or two instants,
/// and the search stops once no later wall-clock time can name an earlier instant.
fn cron_next(cron: &Cron, zone: &Zone, t: i64) -> Option<i64> {
    // Usually the next match comes before the zone's next transition: one step suffices.
    let offset = i64::from(zone.offset_at(t));
    let (_, end) = zone.steady_period(t);
    let found = cron
        .find_next_occurrence(&naive(t.checked_add(offset)?)?, false)
        .ok()?;
    let instant = local_seconds(&found) - offset;
    if instant < end {
        return Some(instant);
    }
    let (min, max) = zone.offset_range();
    let mut from = naive(t.checked_add(i64::from(min))?)?;
    let mut best: Option<i64> = None;
    for _ in 0..SEARCH_STEPS {
        let Ok(found) = cron.find_next_occurrence(&from, false) else {
            break;
        };
        let local = local_seconds(&found);
        if best.is_some_and(|b| local - i64::from(max) >= b) {
            break;
        }
        for instant in zone.instants_of_local(local) {
            if instant > t && best.is_none_or(|b| instant < b) {
                best = Some(instant);
            }
        }
        from = found;
    }
    best
}

/// The last instant in `(floor, t]` whose wall-clock time in `zone` matches `cron` (the mirror
/// of [`cron_next`]).
fn cron_latest(cron: &Cron, zone: &Zone, floor: i64, t: i64) -> Option<i64> {
    let offset = i64::from(zone.offset_at(t));
    let (start, _) = zone.steady_period(t);
    let found = cron
        .find_previous_occurrence(&naive(t.checked_add(offset)?)?, true)
        .ok()?;
    let instant = local_seconds(&found) - offset;
    if instant >= start {
        return (instant > floor).then_some(instant);
    }
    let (min, max) = zone.offset_range();
    let mut from = naive(t.checked_add(i64::from(max))?)?;
    let mut inclusive = true;
    let mut best: Option<i64> = None;
    for _ in 0..SEARCH_STEPS {
        let Ok(found) = cron.find_previous_occurrence(&from, inclusive) else {
            break;
        };
        let local = local_seconds(&found);
        let newest_possible = local - i64::from(min);
        if newest_possible <= floor || best.is_some_and(|b| newest_possible <= b) {
            break;
        }
        for instant in zone.instants_of_local(local) {
            if instant <= t && instant > floor && best.is_none_or(|b| instant > b) {
                best = Some(instant);
            }
        }
        from = found;
        inclusive = false;
    }
    best
}

fn parse_entry(
    text: &str,
    has_timezone: bool,
    spec_zone: Option<&Zone>,
    zones: &dyn ZoneLookup,
) -> Result<Option<Entry>, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("is empty; write a cron expression such as `0 * * * *`".to_string());
    }
    let prefix = ["CRON_TZ=", "TZ="]
        .into_iter()
        .find_map(|p| trimmed.strip_prefix(p));
    let (zone, body) = match prefix {
        Some(rest) => {
            if has_timezone {
                return Err(format!(
                    "`{trimmed}` names its zone with `CRON_TZ=` and `spec.timezone` is set \
                     too; keep one of them"
                ));
            }
            let Some((name, body)) = rest.split_once(char::is_whitespace) else {
                return Err(format!(
                    "`{trimmed}`: `CRON_TZ=<zone>` must be followed by a space and the \
                     schedule, e.g. `CRON_TZ=Europe/Paris 0 9 * * *`"
                ));
            };
            let zone = zones.zone(name).map_err(|e| e.to_string())?;
            (Some(zone), body.trim())
        }
        None => (spec_zone.cloned(), trimmed),
    };
    let rule = parse_rule(body).map_err(|e| format!("`{trimmed}` {e}"))?;
    // Without a zone (a bad `spec.timezone`, reported already) the syntax is still checked.
    Ok(zone.map(|zone| Entry {
        text: text.to_string(),
        zone,
        rule,
    }))
}

const DESCRIPTORS: &str = "@yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly \
                           or @every <duration>";

fn parse_rule(body: &str) -> Result<Rule, String> {
    if let Some(descriptor) = body.strip_prefix('@') {
        if let Some(duration) = descriptor.strip_prefix("every")
            && duration.starts_with(char::is_whitespace)
        {
            return go_duration_seconds(duration.trim())
                .map(Rule::Every)
                .map_err(|e| format!("has a bad `@every` interval: {e}"));
        }
        let pattern = match descriptor.to_ascii_lowercase().as_str() {
            "yearly" | "annually" => "0 0 1 1 *",
            "monthly" => "0 0 1 * *",
            "weekly" => "0 0 * * 0",
            "daily" | "midnight" => "0 0 * * *",
            "hourly" => "0 * * * *",
            _ => return Err(format!("is not a known descriptor; use {DESCRIPTORS}")),
        };
        return parse_fields(pattern);
    }
    parse_fields(body)
}

fn parse_fields(body: &str) -> Result<Rule, String> {
    let mut fields: Vec<&str> = body.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!(
            "has {} fields; a schedule has 5: minute, hour, day of month, month, day of week \
             (no seconds field), or is one of {DESCRIPTORS}",
            fields.len()
        ));
    }
    // `?` means "any" in the day fields, as in Argo's parser.
    for day in [2, 4] {
        if fields[day] == "?" {
            fields[day] = "*";
        }
    }
    let parser = CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .sloppy_ranges(true)
        .build();
    let cron = parser.parse(&fields.join(" ")).map_err(|e| {
        format!(
            "is not a valid cron expression: {e} (fields: minute 0-59, hour 0-23, day of \
                 month 1-31, month 1-12 or JAN-DEC, day of week 0-6 or SUN-SAT)"
        )
    })?;
    // A pattern that matches no date (e.g. `0 0 30 2 *`) would never run.
    let epoch = naive(0).ok_or("cannot start the search")?;
    if cron.find_next_occurrence(&epoch, false).is_err() {
        return Err("matches no date, so it would never run".to_string());
    }
    Ok(Rule::Cron(Box::new(cron)))
}

/// A Go duration (`1h30m`, `90s`, `1.5h`) in whole seconds: Argo's scheduler rounds an
/// interval down to the second, and up to one second if shorter.
fn go_duration_seconds(text: &str) -> Result<i64, String> {
    const UNITS: [(&str, u128); 8] = [
        ("ns", 1),
        ("us", 1_000),
        ("µs", 1_000),
        ("μs", 1_000),
        ("ms", 1_000_000),
        ("s", 1_000_000_000),
        ("m", 60_000_000_000),
        ("h", 3_600_000_000_000),
    ];
    const MAX_NANOS: u128 = i64::MAX as u128;
    let hint = "write a positive Go duration such as `30s`, `5m` or `1h30m`";
    if text.starts_with(['-', '+']) {
        return Err(format!("`{text}` has a sign; {hint}"));
    }
    if text.is_empty() {
        return Err(format!("it is missing; {hint}"));
    }
    let mut rest = text;
    let mut nanos: u128 = 0;
    while !rest.is_empty() {
        let whole_len = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (whole, after) = rest.split_at(whole_len);
        let (fraction, after) = match after.strip_prefix('.') {
            Some(f) => {
                let len = f.find(|c: char| !c.is_ascii_digit()).unwrap_or(f.len());
                f.split_at(len)
            }
            None => ("", after),
        };
        if whole.is_empty() && fraction.is_empty() {
            return Err(format!("`{text}` is not a duration; {hint}"));
        }
        let Some(&(unit, scale)) = UNITS.iter().find(|(u, _)| after.starts_with(u)) else {
            if text == "0" {
                break;
            }
            return Err(format!(
                "`{text}` needs a unit (ns, us, ms, s, m, h) after each number; {hint}"
            ));
        };
        let too_long = || format!("`{text}` is longer than Go durations allow (about 292 years)");
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| too_long())?
        };
        let mut part = whole.checked_mul(scale).ok_or_else(too_long)?;
        let mut place = scale;
        for digit in fraction.bytes().take(30) {
            place /= 10;
            part += u128::from(digit - b'0') * place;
        }
        nanos = nanos
            .checked_add(part)
            .filter(|&n| n <= MAX_NANOS)
            .ok_or_else(too_long)?;
        rest = &after[unit.len()..];
    }
    if nanos == 0 {
        return Err(format!("`{text}` is zero; {hint}"));
    }
    let seconds = (nanos / 1_000_000_000).max(1);
    i64::try_from(seconds).map_err(|_| format!("`{text}` is too long"))
}

/// Argo's record of the schedules in use (`CRON_TZ=<timezone> ` before each when `timezone`
/// is set, joined with `,`), kept in [`ANNOTATION_LAST_USED_SCHEDULE`]: when it changes, pass
/// the time of the change as `since` to [`CronSchedule::due`].
pub fn schedule_fingerprint(spec: &CronWorkflowSpec) -> String {
    let zone = spec.timezone.as_deref().filter(|tz| !tz.is_empty());
    spec.all_schedules()
        .into_iter()
        .map(|s| match zone {
            Some(tz) => format!("CRON_TZ={tz} {s}"),
            None => s.to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Checks a CronWorkflow's name: its runs are named `<name>-<10 digits>`, which must fit a
/// label value (63 characters).
pub fn check_name(name: &str) -> Result<(), Diagnostic> {
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        return Err(Diagnostic::error(
            "metadata.name",
            format!(
                "a CronWorkflow name has at most {MAX_NAME_CHARS} characters (its runs add \
                 `-` and the tick's Unix time); `{name}` has {chars}"
            ),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Status
// ---------------------------------------------------------------------------------------------

/// A CronWorkflow's `status`, in Argo's shape.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CronStatus {
    /// Runs created by this CronWorkflow that have not finished.
    #[serde(default, deserialize_with = "null_as_default")]
    pub active: Vec<RunRef>,
    /// The tick of the last run created.
    #[serde(default)]
    pub last_scheduled_time: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub conditions: Vec<CronCondition>,
    /// Runs that finished `Succeeded`.
    #[serde(default)]
    pub succeeded: i64,
    /// Runs that finished `Failed` or `Error`, plus failed submissions.
    #[serde(default)]
    pub failed: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<CronPhase>,
}

/// Argo writes empty lists as `null`.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// A reference to a run (Kubernetes' `ObjectReference`, the fields used here).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunRef {
    pub kind: String,
    pub api_version: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
}

impl RunRef {
    /// A reference to `run`.
    pub fn to(run: &Workflow) -> Self {
        RunRef {
            kind: "Workflow".to_string(),
            api_version: run.api_version.clone(),
            name: run.metadata.name.clone().unwrap_or_default(),
            namespace: run.metadata.namespace.clone(),
            uid: run.metadata.uid.clone(),
        }
    }
}

/// `Active` until the stop strategy stops the CronWorkflow for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CronPhase {
    Active,
    Stopped,
}

/// A condition of a CronWorkflow (`SpecError`, `SubmissionError`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CronCondition {
    #[serde(rename = "type")]
    pub kind: ConditionKind,
    /// Always `"True"` while present.
    pub status: String,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConditionKind {
    /// The spec cannot be scheduled (bad schedule, bad stop expression).
    SpecError,
    /// A due run could not be created (`when` failed to evaluate, creation failed).
    SubmissionError,
}

impl CronStatus {
    /// Names of the active runs.
    pub fn active_names(&self) -> Vec<String> {
        self.active.iter().map(|r| r.name.clone()).collect()
    }

    /// Whether the stop strategy has stopped the CronWorkflow.
    pub fn is_stopped(&self) -> bool {
        self.phase == Some(CronPhase::Stopped)
    }

    /// Records a created run for the tick `scheduled`.
    pub fn record_run(&mut self, run: RunRef, scheduled: DateTime<Utc>) {
        if !self.active.iter().any(|r| r.name == run.name) {
            self.active.push(run);
        }
        self.last_scheduled_time = Some(scheduled);
        if self.phase != Some(CronPhase::Stopped) {
            self.phase = Some(CronPhase::Active);
        }
        self.clear_condition(ConditionKind::SubmissionError);
    }

    /// Records that the run `name` finished in `phase`: it leaves `active` and is counted.
    /// Returns false (and counts nothing) if it was not active, so a repeated report of the
    /// same end is harmless.
    pub fn record_finished(&mut self, name: &str, phase: WorkflowPhase) -> bool {
        let before = self.active.len();
        self.active.retain(|r| r.name != name);
        if self.active.len() == before {
            return false;
        }
        match phase {
            WorkflowPhase::Succeeded => self.succeeded += 1,
            WorkflowPhase::Failed | WorkflowPhase::Error => self.failed += 1,
            WorkflowPhase::Pending | WorkflowPhase::Running => {}
        }
        true
    }

    /// Records an error as a condition; a submission error also counts as a failure (as in
    /// Argo, so `stopStrategy` sees it).
    pub fn record_error(&mut self, kind: ConditionKind, message: impl Into<String>) {
        if kind == ConditionKind::SubmissionError {
            self.failed += 1;
        }
        let condition = CronCondition {
            kind,
            status: "True".to_string(),
            message: message.into(),
        };
        match self.conditions.iter_mut().find(|c| c.kind == kind) {
            Some(existing) => *existing = condition,
            None => self.conditions.push(condition),
        }
    }

    /// Removes the condition of `kind` (the problem is gone).
    pub fn clear_condition(&mut self, kind: ConditionKind) {
        self.conditions.retain(|c| c.kind != kind);
    }

    /// Stops the CronWorkflow for good; also set [`LABEL_COMPLETED`] to `"true"` on it.
    pub fn mark_stopped(&mut self) {
        self.phase = Some(CronPhase::Stopped);
    }
}

// ---------------------------------------------------------------------------------------------
// Expressions: `when` and `stopStrategy`
// ---------------------------------------------------------------------------------------------

/// The `cronworkflow.*` variables of `when` and `stopStrategy.expression`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CronVariables {
    pub name: String,
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub succeeded: i64,
    pub failed: i64,
    pub last_scheduled_time: Option<DateTime<Utc>>,
}

impl CronVariables {
    /// The variables of the CronWorkflow with `meta` and `status`.
    pub fn new(meta: &ObjectMeta, status: &CronStatus) -> Self {
        CronVariables {
            name: meta.name.clone().unwrap_or_default(),
            namespace: meta.namespace.clone().unwrap_or_default(),
            labels: meta.labels.clone(),
            annotations: meta.annotations.clone(),
            succeeded: status.succeeded,
            failed: status.failed,
            last_scheduled_time: status.last_scheduled_time,
        }
    }

    /// The fields under `cronworkflow`.
    fn fields(&self) -> Map<String, Json> {
        let to_json = |m: &BTreeMap<String, String>| serde_json::to_string(m).unwrap_or_default();
        let mut fields = Map::new();
        fields.insert("name".into(), json!(self.name));
        fields.insert("namespace".into(), json!(self.namespace));
        fields.insert("labels".into(), json!(self.labels));
        fields.insert("annotations".into(), json!(self.annotations));
        fields.insert("labels.json".into(), json!(to_json(&self.labels)));
        fields.insert("annotations.json".into(), json!(to_json(&self.annotations)));
        fields.insert("succeeded".into(), json!(self.succeeded));
        fields.insert("failed".into(), json!(self.failed));
        fields.insert(
            "lastScheduledTime".into(),
            self.last_scheduled_time
                .map_or(Json::Null, |t| json!(rfc3339(&t))),
        );
        fields
    }

    /// The variables as expressions see them: `{"cronworkflow": {...}}`.
    pub fn env(&self) -> Json {
        json!({ "cronworkflow": self.fields() })
    }

    /// `{{cronworkflow.<field>}}` as text (maps as JSON; an unset `lastScheduledTime` does not
    /// resolve).
    fn lookup(&self, tag: &str) -> Option<String> {
        let field = tag.strip_prefix("cronworkflow.")?;
        match self.fields().get(field)? {
            Json::Null => None,
            Json::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        }
    }
}

/// An expression of a CronWorkflow that could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct CronExprError {
    /// `spec.when` or `spec.stopStrategy.expression`.
    pub path: &'static str,
    pub message: String,
}

impl CronExprError {
    /// The condition Argo records for it (a `when` failure also counts as a failed run).
    pub fn condition(&self) -> ConditionKind {
        if self.path == "spec.when" {
            ConditionKind::SubmissionError
        } else {
            ConditionKind::SpecError
        }
    }
}

/// Evaluates `when`: `{{cronworkflow.*}}` tags and `{{= }}` expressions are substituted, then
/// the text is evaluated as a govaluate condition (empty or unset means run).
pub fn when_allows(when: Option<&str>, vars: &CronVariables) -> Result<bool, CronExprError> {
    let Some(when) = when.filter(|w| !w.trim().is_empty()) else {
        return Ok(true);
    };
    let fail = |message: String| CronExprError {
        path: "spec.when",
        message,
    };
    let text = switchyard_expr::substitute_with_env(
        when,
        &|tag| vars.lookup(tag),
        &vars.env(),
        &switchyard_expr::Mode::Strict,
    )
    .map_err(|e| fail(e.to_string()))?;
    switchyard_expr::govaluate::evaluate_when(&text).map_err(|e| fail(e.to_string()))
}

/// Whether `stopStrategy.expression` (an expr-lang condition over `cronworkflow.succeeded`,
/// `cronworkflow.failed`, ...) holds, which stops the CronWorkflow for good.
pub fn stop_reached(
    strategy: Option<&StopStrategy>,
    vars: &CronVariables,
) -> Result<bool, CronExprError> {
    let Some(strategy) = strategy else {
        return Ok(false);
    };
    let fail = |message: String| CronExprError {
        path: "spec.stopStrategy.expression",
        message,
    };
    match switchyard_expr::eval_expr(&strategy.expression, &vars.env()) {
        Ok(Json::Bool(b)) => Ok(b),
        Ok(other) => Err(fail(format!(
            "`{}` must be true or false, got {other}",
            strategy.expression
        ))),
        Err(e) => Err(fail(e.to_string())),
    }
}

// ---------------------------------------------------------------------------------------------
// Decisions
// ---------------------------------------------------------------------------------------------

/// What to do with a due tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Create the run.
    Run,
    /// Terminate these active runs (`concurrencyPolicy: Replace`), then create the run.
    ReplaceThenRun(Vec<String>),
    /// Do not create the run; the tick is passed over and `lastScheduledTime` stays.
    Skip(SkipReason),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// The stop strategy stopped the CronWorkflow earlier.
    Stopped,
    /// The stop strategy holds now: mark the status stopped ([`CronStatus::mark_stopped`])
    /// and label the CronWorkflow [`LABEL_COMPLETED`].
    StopReached,
    /// `suspend: true`.
    Suspended,
    /// `when` is false.
    WhenFalse,
    /// `concurrencyPolicy: Forbid` and these runs are active.
    Forbidden(Vec<String>),
}

/// `concurrencyPolicy` alone: `Allow` (the default) runs, `Forbid` skips while any run is
/// active, `Replace` terminates the active runs first.
pub fn concurrency(policy: Option<ConcurrencyPolicy>, active: &[String]) -> Decision {
    match policy.unwrap_or_default() {
        _ if active.is_empty() => Decision::Run,
        ConcurrencyPolicy::Allow => Decision::Run,
        ConcurrencyPolicy::Forbid => Decision::Skip(SkipReason::Forbidden(active.to_vec())),
        ConcurrencyPolicy::Replace => Decision::ReplaceThenRun(active.to_vec()),
    }
}

/// Everything that decides whether a due tick runs, in Argo's order: an earlier stop, the
/// stop strategy, `suspend`, `when`, then `concurrencyPolicy` over `status.active`. An error
/// means no run; record it with [`CronStatus::record_error`] under
/// [`CronExprError::condition`].
pub fn decide(
    spec: &CronWorkflowSpec,
    status: &CronStatus,
    vars: &CronVariables,
) -> Result<Decision, CronExprError> {
    if status.is_stopped() {
        return Ok(Decision::Skip(SkipReason::Stopped));
    }
    if stop_reached(spec.stop_strategy.as_ref(), vars)? {
        return Ok(Decision::Skip(SkipReason::StopReached));
    }
    if spec.suspend == Some(true) {
        return Ok(Decision::Skip(SkipReason::Suspended));
    }
    if !when_allows(spec.when.as_deref(), vars)? {
        return Ok(Decision::Skip(SkipReason::WhenFalse));
    }
    Ok(concurrency(spec.concurrency_policy, &status.active_names()))
}

// ---------------------------------------------------------------------------------------------
// Runs
// ---------------------------------------------------------------------------------------------

/// The name of the run for the tick `scheduled`: `<cron name>-<Unix seconds>`, the same for
/// every attempt at that tick.
pub fn run_name<Tz: TimeZone>(cron_name: &str, scheduled: &DateTime<Tz>) -> String {
    format!("{cron_name}-{}", scheduled.timestamp())
}

/// RFC 3339 in the time's own offset, `Z` for UTC (Go's `time.RFC3339`).
fn rfc3339<Tz: TimeZone>(t: &DateTime<Tz>) -> String
where
    Tz::Offset: std::fmt::Display,
{
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The workflow to create for the tick `scheduled`: named by [`run_name`], in the
/// CronWorkflow's namespace, with `workflowSpec`, the labels and annotations of
/// `workflowMetadata`, the CronWorkflow's controller-instance and creator labels,
/// [`LABEL_CRON_WORKFLOW`] and [`ANNOTATION_SCHEDULED_TIME`]. Those two always carry the
/// CronWorkflow's values (Argo lets `workflowMetadata` override them, which would hide the
/// run from history limits and `concurrencyPolicy`).
pub fn new_run(cron: &CronWorkflow, scheduled: &DateTime<FixedOffset>) -> Workflow {
    let cron_name = cron.metadata.name.clone().unwrap_or_default();
    let mut labels: BTreeMap<String, String> = PROPAGATED_LABELS
        .iter()
        .filter_map(|k| Some((k.to_string(), cron.metadata.labels.get(*k)?.clone())))
        .collect();
    let mut annotations = BTreeMap::new();
    let mut finalizers = None;
    if let Some(meta) = &cron.spec.workflow_metadata {
        labels.extend(meta.labels.clone());
        annotations.extend(meta.annotations.clone());
        finalizers = meta.finalizers.clone();
    }
    labels.insert(LABEL_CRON_WORKFLOW.to_string(), cron_name.clone());
    annotations.insert(ANNOTATION_SCHEDULED_TIME.to_string(), rfc3339(scheduled));
    let api_version = if cron.api_version.is_empty() {
        "argoproj.io/v1alpha1".to_string()
    } else {
        cron.api_version.clone()
    };
    Workflow {
        api_version,
        kind: "Workflow".to_string(),
        metadata: ObjectMeta {
            name: Some(run_name(&cron_name, scheduled)),
            namespace: cron.metadata.namespace.clone(),
            labels,
            annotations,
            finalizers,
            ..ObjectMeta::default()
        },
        spec: cron.spec.workflow_spec.clone(),
        status: None,
    }
}

/// A finished (or running) run of a CronWorkflow, for the history limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedRun {
    pub name: String,
    pub phase: WorkflowPhase,
    pub finished_at: Option<DateTime<Utc>>,
}

/// The runs the history limits delete: beyond the newest `successfulJobsHistoryLimit`
/// succeeded runs (default 3) and the newest `failedJobsHistoryLimit` failed or errored runs
/// (default 1), by finish time (a run without one counts as oldest). Unfinished runs are
/// never deleted. Pass only this CronWorkflow's runs (labelled [`LABEL_CRON_WORKFLOW`]).
pub fn history_to_delete(spec: &CronWorkflowSpec, runs: &[FinishedRun]) -> Vec<String> {
    let limit = |value: Option<i32>, default: usize| {
        value
            .and_then(|v| usize::try_from(v).ok())
            .unwrap_or(default)
    };
    let keep_succeeded = limit(
        spec.successful_jobs_history_limit,
        DEFAULT_SUCCESSFUL_HISTORY,
    );
    let keep_failed = limit(spec.failed_jobs_history_limit, DEFAULT_FAILED_HISTORY);
    let oldest_beyond = |succeeded: bool, keep: usize| {
        let mut group: Vec<&FinishedRun> = runs
            .iter()
            .filter(|r| r.phase.is_finished() && (r.phase == WorkflowPhase::Succeeded) == succeeded)
            .collect();
        group.sort_by_key(|r| std::cmp::Reverse(r.finished_at));
        group
            .into_iter()
            .skip(keep)
            .map(|r| r.name.clone())
            .collect::<Vec<_>>()
    };
    let mut doomed = oldest_beyond(true, keep_succeeded);
    doomed.extend(oldest_beyond(false, keep_failed));
    doomed
}

#[cfg(test)]
mod tests;
