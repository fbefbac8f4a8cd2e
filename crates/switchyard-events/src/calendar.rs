//! The calendar EventSource: an event at every tick of a `schedule` (5-field cron) or every
//! `interval`, in a `timezone`, except on `exclusionDates`.
//!
//! Each event's data is Argo's `{eventTime, metadata}` (`eventTime` in Go's `time.String`
//! form). Its id is derived from the source, the event name and the tick, so the same tick
//! published twice (a crash between publishing and recording it) is one event to every
//! sensor, whose ledger keys consumptions by event id. The last tick published is recorded
//! in the store; after a restart, `persistence.catchup` publishes the ticks missed while
//! down (at most `maxDuration` back, all of them when it is not set), and without it the
//! schedule resumes from now. Either way a tick is published at most once as far as sensors
//! can tell.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};
use switchyard_model::events::{CalendarEventSource, EventSource, parse_go_duration};
use switchyard_sensor::CronSchedule;
use switchyard_store::{Store, StoredObject};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::cloudevent::{CloudEvent, SPEC_VERSION};
use crate::publish::BusDispatch;
use crate::webhook::RouteProblem;

/// When a calendar comes next.
#[derive(Debug, Clone)]
enum Timing {
    Cron(Box<CronSchedule>),
    /// Every so often, counted from the previous tick (Argo's constant-delay schedule).
    Every(Duration),
}

/// A calendar event's schedule, parsed.
#[derive(Debug, Clone)]
pub struct Calendar {
    timing: Timing,
    zone: Tz,
    excluded: Vec<NaiveDate>,
}

impl Calendar {
    /// Parses a calendar; the message says which field is wrong.
    pub fn parse(spec: &CalendarEventSource) -> Result<Calendar, String> {
        let zone = match spec.timezone.as_deref().filter(|z| !z.is_empty()) {
            None => Tz::UTC,
            Some(name) => name
                .parse::<Tz>()
                .map_err(|_| format!("timezone `{name}` is not a known time zone"))?,
        };
        let timing = match (spec.schedule.as_deref(), spec.interval.as_deref()) {
            (Some(schedule), _) if !schedule.trim().is_empty() => Timing::Cron(Box::new(
                CronSchedule::parse(schedule, spec.timezone.as_deref())
                    .map_err(|e| format!("schedule: {e}"))?,
            )),
            (_, Some(interval)) if !interval.trim().is_empty() => {
                let every =
                    parse_go_duration(interval.trim()).map_err(|e| format!("interval: {e}"))?;
                if every < Duration::from_secs(1) {
                    return Err(format!("interval `{interval}` is shorter than one second"));
                }
                Timing::Every(every)
            }
            _ => return Err("a calendar needs a `schedule` or an `interval`".to_owned()),
        };
        let excluded = spec
            .exclusion_dates
            .iter()
            .map(|d| exclusion_date(d))
            .collect::<Result<_, _>>()?;
        Ok(Calendar {
            timing,
            zone,
            excluded,
        })
    }

    /// The first tick after `t` that is not on an excluded date.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut at = t;
        // Excluded dates are few; a schedule cannot skip more ticks than a year of them.
        for _ in 0..100_000 {
            at = match &self.timing {
                Timing::Cron(cron) => cron.next_after(at)?,
                Timing::Every(every) => at + chrono::Duration::from_std(*every).ok()?,
            };
            let day = at.with_timezone(&self.zone).date_naive();
            if !self.excluded.contains(&day) {
                return Some(at);
            }
        }
        None
    }

    /// The event data of a tick: Argo's `{eventTime, metadata}`.
    pub fn event_data(&self, tick: DateTime<Utc>, metadata: &BTreeMap<String, String>) -> Json {
        let mut data = json!({"eventTime": go_time_string(tick.with_timezone(&self.zone))});
        if !metadata.is_empty() {
            data["metadata"] = json!(metadata);
        }
        data
    }
}

/// An `exclusionDates` entry: iCalendar `EXDATE:20190102T150405Z` (Argo's form; the date is
/// what counts), or a plain `2019-01-02`.
fn exclusion_date(text: &str) -> Result<NaiveDate, String> {
    let bare = text.trim().trim_start_matches("EXDATE:");
    let date = bare.get(..8).unwrap_or(bare);
    NaiveDate::parse_from_str(date, "%Y%m%d")
        .or_else(|_| NaiveDate::parse_from_str(bare, "%Y-%m-%d"))
        .map_err(|_| {
            format!("exclusionDates: `{text}` is not a date like `EXDATE:20190102T150405Z`")
        })
}

/// Go's `time.Time.String()` of a time: `2006-01-02 15:04:05.999999999 -0700 MST`.
fn go_time_string<Z: chrono::TimeZone>(t: DateTime<Z>) -> String
where
    Z::Offset: std::fmt::Display,
{
    let nanos = t.timestamp_subsec_nanos();
    let fraction = if nanos == 0 {
        String::new()
    } else {
        format!(".{nanos:09}").trim_end_matches('0').to_owned()
    };
    format!(
        "{}{} {} {}",
        t.format("%Y-%m-%d %H:%M:%S"),
        fraction,
        t.format("%z"),
        t.offset()
    )
}

/// The id of a tick's event: the same for the same tick of the same calendar.
fn tick_id(namespace: &str, source: &str, event: &str, tick: DateTime<Utc>) -> String {
    let digest = Sha256::digest(format!(
        "{namespace}\0{source}\0{event}\0{}",
        tick.timestamp()
    ));
    hex::encode(&digest[..16])
}

/// The store key of a calendar's last published tick.
fn last_tick_key(uid: &str, event: &str) -> String {
    format!("calendar/{uid}/{event}")
}

struct Ticker {
    generation: u64,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// Every calendar's ticker, reconciled to the stored EventSources.
pub struct Calendars {
    store: Arc<dyn Store>,
    dispatch: Arc<BusDispatch>,
    tickers: HashMap<(String, String, String, String), Ticker>,
}

impl Calendars {
    pub fn new(store: Arc<dyn Store>, dispatch: Arc<BusDispatch>) -> Self {
        Calendars {
            store,
            dispatch,
            tickers: HashMap::new(),
        }
    }

    /// Runs exactly the calendars of `sources`; returns those that cannot run.
    pub async fn reconcile(&mut self, sources: &[StoredObject]) -> Vec<RouteProblem> {
        let mut problems = Vec::new();
        let mut wanted = Vec::new();
        for object in sources {
            let Ok(source) = serde_json::from_value::<EventSource>(object.body.clone()) else {
                continue;
            };
            for (event, spec) in &source.spec.calendar {
                let key = (
                    object.namespace.clone(),
                    object.name.clone(),
                    event.clone(),
                    object.uid.clone(),
                );
                match Calendar::parse(spec) {
                    Ok(calendar) => wanted.push((key, object.generation(), calendar, spec.clone())),
                    Err(message) => problems.push(RouteProblem {
                        namespace: object.namespace.clone(),
                        source: object.name.clone(),
                        event: event.clone(),
                        message,
                    }),
                }
            }
        }
        let keep: Vec<_> = wanted.iter().map(|(k, g, ..)| (k.clone(), *g)).collect();
        let stale: Vec<_> = self
            .tickers
            .iter()
            .filter(|(k, t)| !keep.contains(&((*k).clone(), t.generation)))
            .map(|(k, _)| k.clone())
            .collect();
        for key in stale {
            if let Some(ticker) = self.tickers.remove(&key) {
                let _ = ticker.stop.send(true);
                let _ = ticker.task.await;
            }
        }
        for (key, generation, calendar, spec) in wanted {
            if self.tickers.contains_key(&key) {
                continue;
            }
            let (stop, stopped) = watch::channel(false);
            let run = TickerRun {
                namespace: key.0.clone(),
                source: key.1.clone(),
                event: key.2.clone(),
                uid: key.3.clone(),
                calendar,
                spec,
                store: self.store.clone(),
                dispatch: self.dispatch.clone(),
            };
            let task = tokio::spawn(run.run(stopped));
            self.tickers.insert(
                key,
                Ticker {
                    generation,
                    stop,
                    task,
                },
            );
        }
        problems
    }

    /// Stops every ticker.
    pub async fn stop_all(&mut self) {
        for (_, ticker) in std::mem::take(&mut self.tickers) {
            let _ = ticker.stop.send(true);
            let _ = ticker.task.await;
        }
    }
}

struct TickerRun {
    namespace: String,
    source: String,
    event: String,
    uid: String,
    calendar: Calendar,
    spec: CalendarEventSource,
    store: Arc<dyn Store>,
    dispatch: Arc<BusDispatch>,
}

impl TickerRun {
    async fn run(self, mut stopped: watch::Receiver<bool>) {
        let key = last_tick_key(&self.uid, &self.event);
        let now = Utc::now();
        let last = match self.store.get_meta(&key).await {
            Ok(text) => text
                .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                .map(|t| t.with_timezone(&Utc)),
            Err(err) => {
                tracing::warn!(event_source = %format_args!("{}/{}", self.namespace, self.source), event = %self.event, error = %err, "cannot read the calendar's last tick; starting from now");
                None
            }
        };
        let mut from = match (&self.spec.persistence, last) {
            (Some(p), Some(last)) if p.is_catchup_enabled() => {
                let window = p
                    .catchup
                    .as_ref()
                    .and_then(|c| c.max_duration.as_deref())
                    .and_then(|d| parse_go_duration(d).ok())
                    .and_then(|d| chrono::Duration::from_std(d).ok());
                match window {
                    Some(window) => last.max(now - window),
                    None => last,
                }
            }
            _ => now,
        };
        tracing::info!(event_source = %format_args!("{}/{}", self.namespace, self.source), event = %self.event, from = %from, "calendar started");
        loop {
            let Some(tick) = self.calendar.next_after(from) else {
                tracing::info!(event_source = %format_args!("{}/{}", self.namespace, self.source), event = %self.event, "the calendar has no more ticks");
                return;
            };
            let wait = (tick - Utc::now()).to_std().unwrap_or(Duration::ZERO);
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                _ = stopped.changed() => return,
            }
            if self.fire(tick).await {
                if let Err(err) = self.store.put_meta(&key, &tick.to_rfc3339()).await {
                    tracing::warn!(event_source = %format_args!("{}/{}", self.namespace, self.source), event = %self.event, error = %err, "cannot record the calendar's last tick");
                }
                from = tick;
            } else {
                // Not published: try the same tick again shortly.
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stopped.changed() => return,
                }
            }
        }
    }

    /// Publishes a tick's event; false when it could not be recorded.
    async fn fire(&self, tick: DateTime<Utc>) -> bool {
        let id = tick_id(&self.namespace, &self.source, &self.event, tick);
        let data = self.calendar.event_data(tick, &self.spec.metadata);
        if let Some(expression) = self
            .spec
            .filter
            .as_ref()
            .and_then(|f| f.expression.as_deref())
        {
            match crate::publish::passes_filter(expression, &data) {
                Ok(true) => {}
                Ok(false) => return true,
                Err(err) => {
                    tracing::warn!(event_source = %format_args!("{}/{}", self.namespace, self.source), event = %self.event, error = %err, "filter.expression failed; tick skipped");
                    return true;
                }
            }
        }
        let event = CloudEvent {
            specversion: SPEC_VERSION.to_owned(),
            id: id.clone(),
            source: self.source.clone(),
            kind: "calendar".to_owned(),
            subject: self.event.clone(),
            time: tick,
            datacontenttype: "application/json".to_owned(),
            originsource: None,
            data,
        };
        match self
            .dispatch
            .publish(&self.namespace, &event, Some(id.clone()))
            .await
        {
            Ok(_) => {
                tracing::info!(event_source = %format_args!("{}/{}", self.namespace, self.source), event = %self.event, event_id = %id, tick = %tick, "calendar event published");
                true
            }
            Err(err) => {
                tracing::warn!(event_source = %format_args!("{}/{}", self.namespace, self.source), event = %self.event, error = %err, "calendar event not published; retrying");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn spec(yaml: serde_json::Value) -> CalendarEventSource {
        serde_json::from_value(yaml).unwrap()
    }

    #[test]
    fn schedules_intervals_zones_and_exclusions() {
        let hourly = Calendar::parse(&spec(json!({"schedule": "30 * * * *"}))).unwrap();
        assert_eq!(
            hourly.next_after(t("2026-11-21T10:31:00Z")),
            Some(t("2026-11-21T11:30:00Z"))
        );
        let every = Calendar::parse(&spec(json!({"interval": "90s"}))).unwrap();
        assert_eq!(
            every.next_after(t("2026-11-21T10:00:00Z")),
            Some(t("2026-11-21T10:01:30Z"))
        );
        let paris = Calendar::parse(&spec(
            json!({"schedule": "0 9 * * *", "timezone": "Europe/Paris"}),
        ))
        .unwrap();
        assert_eq!(
            paris.next_after(t("2026-11-21T10:00:00Z")),
            Some(t("2026-11-22T08:00:00Z"))
        );
        let skipping = Calendar::parse(&spec(json!({
            "schedule": "0 9 * * *",
            "exclusionDates": ["EXDATE:20261122T150405Z"]
        })))
        .unwrap();
        assert_eq!(
            skipping.next_after(t("2026-11-21T10:00:00Z")),
            Some(t("2026-11-23T09:00:00Z"))
        );
    }

    #[test]
    fn bad_calendars_say_which_field() {
        for (given, expected) in [
            (json!({}), "needs a `schedule` or an `interval`"),
            (json!({"schedule": "* *"}), "schedule:"),
            (json!({"interval": "soon"}), "interval:"),
            (json!({"interval": "10ms"}), "shorter than one second"),
            (
                json!({"interval": "10s", "timezone": "Mars/Base"}),
                "timezone",
            ),
            (
                json!({"interval": "10s", "exclusionDates": ["tomorrow"]}),
                "exclusionDates",
            ),
        ] {
            let err = Calendar::parse(&spec(given.clone())).unwrap_err();
            assert!(err.contains(expected), "{given}: {err}");
        }
    }

    #[test]
    fn event_data_is_argos_shape_with_go_time_text() {
        let calendar = Calendar::parse(&spec(
            json!({"interval": "10s", "timezone": "America/New_York"}),
        ))
        .unwrap();
        let metadata = BTreeMap::from([("hello".to_owned(), "world".to_owned())]);
        assert_eq!(
            calendar.event_data(t("2026-11-21T15:00:00Z"), &metadata),
            json!({"eventTime": "2026-11-21 10:00:00 -0500 EST", "metadata": {"hello": "world"}})
        );
        assert_eq!(
            go_time_string(t("2026-11-21T15:00:00.25Z")),
            "2026-11-21 15:00:00.25 +0000 UTC"
        );
    }

    #[test]
    fn a_tick_has_one_id() {
        let a = tick_id("default", "cal", "e", t("2026-11-21T10:00:00Z"));
        assert_eq!(a, tick_id("default", "cal", "e", t("2026-11-21T10:00:00Z")));
        assert_ne!(a, tick_id("default", "cal", "e", t("2026-11-21T10:00:10Z")));
        assert_ne!(a, tick_id("default", "cal", "f", t("2026-11-21T10:00:00Z")));
    }
}
