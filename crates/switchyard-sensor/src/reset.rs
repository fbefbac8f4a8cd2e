//! `conditionsReset.byTime`: forget a trigger's pending events on a cron schedule.
//!
//! Argo runs a robfig/cron job per criterion (five fields, in `timezone` or the sensor's local
//! zone) that clears every pending event of the trigger when it ticks, and at start-up clears
//! those older than the latest tick before now. Both come to one rule, which needs no clock and
//! no record of past resets: *a pending event saved before the latest tick at or before now is
//! gone*. [`CronSchedule::latest_at_or_before`] gives that tick; the shell arms a timer with
//! [`CronSchedule::next_after`] (through `CompiledSensor::next_reset`).
//!
//! Schedules are parsed by croner (5 fields; croner also takes descriptors such as `@daily`
//! and `L`/`W`/`#`, a superset of robfig's parser). Zones come from the IANA database compiled
//! into the binary (chrono-tz), so no host file is read; without `timezone` the zone is UTC.
//! (The CronWorkflow scheduler keeps its own zone handling in `switchyard-controller`; this
//! crate depends only on croner, to stay pure and small.)

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

use crate::filter::parse_zone;

/// A 5-field cron schedule in a time zone: a `conditionsReset.byTime` criterion, and a
/// calendar EventSource's `schedule`.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    cron: Cron,
    zone: Tz,
}

impl CronSchedule {
    /// Parses `cron` in `timezone` (UTC when absent).
    pub fn parse(cron: &str, timezone: Option<&str>) -> Result<CronSchedule, String> {
        let parser = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build();
        let parsed = parser.parse(cron.trim()).map_err(|e| {
            format!(
                "`{cron}` is not a valid cron schedule: {e} (five fields: minute, hour, day of month, month, day of week)"
            )
        })?;
        let zone = match timezone.filter(|z| !z.is_empty()) {
            None => Tz::UTC,
            Some(name) => parse_zone(name)?,
        };
        let schedule = CronSchedule { cron: parsed, zone };
        // A pattern that matches no date (e.g. `0 0 30 2 *`) would never come.
        if schedule.next_after(DateTime::UNIX_EPOCH).is_none() {
            return Err(format!("`{cron}` matches no date, so it would never come"));
        }
        Ok(schedule)
    }

    /// The latest tick at or before `now`.
    pub fn latest_at_or_before(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_previous_occurrence(&now.with_timezone(&self.zone), true)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The first tick after `now`.
    pub fn next_after(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_next_occurrence(&now.with_timezone(&self.zone), false)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn finds_ticks_in_a_zone() {
        let s = CronSchedule::parse("0 0 * * *", Some("Europe/Paris")).unwrap();
        // Midnight in Paris is 23:00 UTC in winter.
        assert_eq!(
            s.latest_at_or_before(t("2026-11-21T10:00:00Z")),
            Some(t("2026-11-20T23:00:00Z"))
        );
        assert_eq!(
            s.next_after(t("2026-11-21T10:00:00Z")),
            Some(t("2026-11-21T23:00:00Z"))
        );
        // A tick exactly now counts as passed.
        assert_eq!(
            s.latest_at_or_before(t("2026-11-20T23:00:00Z")),
            Some(t("2026-11-20T23:00:00Z"))
        );
        let utc = CronSchedule::parse("*/15 * * * *", None).unwrap();
        assert_eq!(
            utc.next_after(t("2026-11-21T10:07:00Z")),
            Some(t("2026-11-21T10:15:00Z"))
        );
    }

    #[test]
    fn refuses_bad_schedules() {
        assert!(
            CronSchedule::parse("0 0 * *", None)
                .unwrap_err()
                .contains("not a valid cron")
        );
        assert!(
            CronSchedule::parse("0 0 0 * * *", None).is_err(),
            "no seconds field"
        );
        assert!(
            CronSchedule::parse("0 0 30 2 *", None)
                .unwrap_err()
                .contains("matches no date")
        );
        assert!(
            CronSchedule::parse("0 0 * * *", Some("Nowhere/Else"))
                .unwrap_err()
                .contains("unknown time zone")
        );
    }
}
