//! sprig's date formatting functions, over a time the caller gives instead of the clock.
//!
//! sprig's `date`, `dateInZone` (also `date_in_zone`), `htmlDate` and `htmlDateInZone` format
//! their time argument with a Go layout (`'2006-01-02'`). As in sprig, an integer argument is
//! a Unix time in seconds and any other argument (a string such as
//! `workflow.creationTimestamp`, a float, nil) means "now". Here "now" is the time the caller
//! passes to the evaluation ([`super::eval_expr_at`]), so the same expression and time always
//! give the same text; an evaluation without a time refuses these functions before running.
//!
//! Times are formatted in UTC. The zone names `""`, `"UTC"` and `"Local"` (the server's zone,
//! which is UTC here) are accepted; any other zone is an error (there is no time zone database
//! in this crate, and sprig would silently fall back to UTC for a name it does not know).
//!
//! Go's layout language is implemented fully for UTC: `January`/`Jan`/`1`/`01`,
//! `Monday`/`Mon`, `2`/`_2`/`02`, `__2`/`002` (day of the year), `15`/`3`/`03`, `4`/`04`,
//! `5`/`05`, `2006`/`06`, `PM`/`pm`, `MST`, the numeric and `Z` zone forms, and fractional
//! seconds (`.000`, `.999`, `,000`); everything else is copied as it is.

use std::cell::Cell;

use chrono::{DateTime, Datelike, TimeZone, Timelike, Utc};
use expr::Value as V;

/// The sprig functions of this module, offered as `sprig.<name>` when a time is given.
pub const SPRIG_DATES: &[&str] = &[
    "date",
    "dateInZone",
    "date_in_zone",
    "htmlDate",
    "htmlDateInZone",
];

/// The layout of `htmlDate`.
const HTML_DATE: &str = "2006-01-02";

thread_local! {
    static NOW: Cell<Option<DateTime<Utc>>> = const { Cell::new(None) };
}

/// Sets the time the date functions read for one evaluation, and clears it when dropped
/// (expr-lang calls functions without any caller state, so it lives in a thread-local).
pub(crate) struct Clock;

impl Clock {
    pub(crate) fn set(now: Option<DateTime<Utc>>) -> Self {
        NOW.with(|c| c.set(now));
        Clock
    }
}

impl Drop for Clock {
    fn drop(&mut self) {
        NOW.with(|c| c.set(None));
    }
}

/// Runs `sprig.<name>` of [`SPRIG_DATES`].
pub(crate) fn sprig_date(name: &str, args: &[V]) -> Result<V, String> {
    let (layout, time, zone) = match (name, args) {
        ("date", [layout, time]) => (string(layout, 1)?, time, "Local"),
        ("dateInZone" | "date_in_zone", [layout, time, zone]) => {
            (string(layout, 1)?, time, string(zone, 3)?)
        }
        ("htmlDate", [time]) => (HTML_DATE, time, "Local"),
        ("htmlDateInZone", [time, zone]) => (HTML_DATE, time, string(zone, 2)?),
        ("date" | "dateInZone" | "date_in_zone" | "htmlDate" | "htmlDateInZone", _) => {
            let want = match name {
                "date" | "htmlDateInZone" => 2,
                "htmlDate" => 1,
                _ => 3,
            };
            return Err(format!("expected {want} argument(s), got {}", args.len()));
        }
        _ => return Err(format!("{name} is not a date function")),
    };
    if !matches!(zone, "" | "UTC" | "Local") {
        return Err(format!(
            "time zone `{zone}` is not supported: times are formatted in UTC (use \"UTC\")"
        ));
    }
    let time = match time {
        V::Integer(seconds) => Utc
            .timestamp_opt(*seconds, 0)
            .single()
            .ok_or_else(|| format!("{seconds} is out of the range of Unix times"))?,
        _ => NOW.with(Cell::get).ok_or(
            "the current time is not available to this expression; pass a Unix time in seconds",
        )?,
    };
    Ok(V::String(format_go(time, layout)))
}

fn string(v: &V, position: usize) -> Result<&str, String> {
    match v {
        V::String(s) => Ok(s),
        _ => Err(format!("argument {position} must be a string")),
    }
}

/// One element of a Go layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Std {
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    Pm,
    LowerPm,
    Tz,
    Iso8601Tz,
    Iso8601SecondsTz,
    Iso8601ShortTz,
    Iso8601ColonTz,
    Iso8601ColonSecondsTz,
    NumTz,
    NumSecondsTz,
    NumShortTz,
    NumColonTz,
    NumColonSecondsTz,
    /// Fractional seconds: the separator, the number of digits, and whether trailing zeros
    /// are trimmed (`.999`) or kept (`.000`).
    Fraction(char, usize, bool),
}

/// Go's `nextStdChunk`: the literal text before the first layout element, the element, and
/// the rest of the layout.
fn next_chunk(layout: &str) -> (&str, Option<Std>, &str) {
    let b = layout.as_bytes();
    let at = |i: usize, s: &str| layout.get(i..).is_some_and(|rest| rest.starts_with(s));
    let lower_after = |i: usize| b.get(i).is_some_and(u8::is_ascii_lowercase);
    for i in 0..b.len() {
        let found = match b[i] {
            b'J' if at(i, "January") => Some((Std::LongMonth, 7)),
            b'J' if at(i, "Jan") && !lower_after(i + 3) => Some((Std::Month, 3)),
            b'M' if at(i, "Monday") => Some((Std::LongWeekDay, 6)),
            b'M' if at(i, "Mon") && !lower_after(i + 3) => Some((Std::WeekDay, 3)),
            b'M' if at(i, "MST") => Some((Std::Tz, 3)),
            b'0' => match b.get(i + 1) {
                Some(b'1') => Some((Std::ZeroMonth, 2)),
                Some(b'2') => Some((Std::ZeroDay, 2)),
                Some(b'3') => Some((Std::ZeroHour12, 2)),
                Some(b'4') => Some((Std::ZeroMinute, 2)),
                Some(b'5') => Some((Std::ZeroSecond, 2)),
                Some(b'6') => Some((Std::Year, 2)),
                Some(b'0') if b.get(i + 2) == Some(&b'2') => Some((Std::ZeroYearDay, 3)),
                _ => None,
            },
            b'1' if b.get(i + 1) == Some(&b'5') => Some((Std::Hour, 2)),
            b'1' => Some((Std::NumMonth, 1)),
            b'2' if at(i, "2006") => Some((Std::LongYear, 4)),
            b'2' => Some((Std::Day, 1)),
            // `_2006` is a literal `_` followed by the year.
            b'_' if at(i, "_2006") => {
                return (&layout[..=i], Some(Std::LongYear), &layout[i + 5..]);
            }
            b'_' if at(i, "_2") => Some((Std::UnderDay, 2)),
            b'_' if at(i, "__2") => Some((Std::UnderYearDay, 3)),
            b'3' => Some((Std::Hour12, 1)),
            b'4' => Some((Std::Minute, 1)),
            b'5' => Some((Std::Second, 1)),
            b'P' if b.get(i + 1) == Some(&b'M') => Some((Std::Pm, 2)),
            b'p' if b.get(i + 1) == Some(&b'm') => Some((Std::LowerPm, 2)),
            b'-' if at(i, "-070000") => Some((Std::NumSecondsTz, 7)),
            b'-' if at(i, "-07:00:00") => Some((Std::NumColonSecondsTz, 9)),
            b'-' if at(i, "-0700") => Some((Std::NumTz, 5)),
            b'-' if at(i, "-07:00") => Some((Std::NumColonTz, 6)),
            b'-' if at(i, "-07") => Some((Std::NumShortTz, 3)),
            b'Z' if at(i, "Z070000") => Some((Std::Iso8601SecondsTz, 7)),
            b'Z' if at(i, "Z07:00:00") => Some((Std::Iso8601ColonSecondsTz, 9)),
            b'Z' if at(i, "Z0700") => Some((Std::Iso8601Tz, 5)),
            b'Z' if at(i, "Z07:00") => Some((Std::Iso8601ColonTz, 6)),
            b'Z' if at(i, "Z07") => Some((Std::Iso8601ShortTz, 3)),
            c @ (b'.' | b',') if matches!(b.get(i + 1), Some(b'0' | b'9')) => {
                let digit = b[i + 1];
                let run = b[i + 1..].iter().take_while(|&&d| d == digit).count();
                // Only a fraction when the run of digits ends the number.
                if b.get(i + 1 + run).is_some_and(u8::is_ascii_digit) {
                    None
                } else {
                    Some((Std::Fraction(char::from(c), run, digit == b'9'), 1 + run))
                }
            }
            _ => None,
        };
        if let Some((std, len)) = found {
            return (&layout[..i], Some(std), &layout[i + len..]);
        }
    }
    (layout, None, "")
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// Go's `appendInt`: `x` in decimal, zero-padded to `width` digits (after a `-`).
fn push_int(out: &mut String, x: i64, width: usize) {
    if x < 0 {
        out.push('-');
    }
    out.push_str(&format!("{:0width$}", x.unsigned_abs()));
}

/// Go's `Time.Format` of a UTC time.
pub(crate) fn format_go(t: DateTime<Utc>, layout: &str) -> String {
    let mut out = String::with_capacity(layout.len() + 10);
    let mut rest = layout;
    let year = i64::from(t.year());
    let month = t.month0() as usize;
    let day = i64::from(t.day());
    let yday = i64::from(t.ordinal());
    let hour = i64::from(t.hour());
    let hour12 = match hour % 12 {
        0 => 12,
        h => h,
    };
    let weekday = t.weekday().num_days_from_monday() as usize;
    while !rest.is_empty() {
        let (prefix, std, suffix) = next_chunk(rest);
        out.push_str(prefix);
        rest = suffix;
        let Some(std) = std else { break };
        match std {
            Std::LongMonth => out.push_str(MONTHS[month]),
            Std::Month => out.push_str(&MONTHS[month][..3]),
            Std::NumMonth => push_int(&mut out, month as i64 + 1, 0),
            Std::ZeroMonth => push_int(&mut out, month as i64 + 1, 2),
            Std::LongWeekDay => out.push_str(WEEKDAYS[weekday]),
            Std::WeekDay => out.push_str(&WEEKDAYS[weekday][..3]),
            Std::Day => push_int(&mut out, day, 0),
            Std::UnderDay => {
                if day < 10 {
                    out.push(' ');
                }
                push_int(&mut out, day, 0);
            }
            Std::ZeroDay => push_int(&mut out, day, 2),
            Std::UnderYearDay => {
                if yday < 100 {
                    out.push(' ');
                    if yday < 10 {
                        out.push(' ');
                    }
                }
                push_int(&mut out, yday, 0);
            }
            Std::ZeroYearDay => push_int(&mut out, yday, 3),
            Std::Hour => push_int(&mut out, hour, 2),
            Std::Hour12 => push_int(&mut out, hour12, 0),
            Std::ZeroHour12 => push_int(&mut out, hour12, 2),
            Std::Minute => push_int(&mut out, i64::from(t.minute()), 0),
            Std::ZeroMinute => push_int(&mut out, i64::from(t.minute()), 2),
            Std::Second => push_int(&mut out, i64::from(t.second()), 0),
            Std::ZeroSecond => push_int(&mut out, i64::from(t.second()), 2),
            Std::LongYear => push_int(&mut out, year, 4),
            Std::Year => push_int(&mut out, year % 100, 2),
            Std::Pm => out.push_str(if hour >= 12 { "PM" } else { "AM" }),
            Std::LowerPm => out.push_str(if hour >= 12 { "pm" } else { "am" }),
            Std::Tz => out.push_str("UTC"),
            Std::Iso8601Tz
            | Std::Iso8601SecondsTz
            | Std::Iso8601ShortTz
            | Std::Iso8601ColonTz
            | Std::Iso8601ColonSecondsTz => out.push('Z'),
            Std::NumTz => out.push_str("+0000"),
            Std::NumSecondsTz => out.push_str("+000000"),
            Std::NumShortTz => out.push_str("+00"),
            Std::NumColonTz => out.push_str("+00:00"),
            Std::NumColonSecondsTz => out.push_str("+00:00:00"),
            Std::Fraction(separator, digits, trim) => {
                push_fraction(
                    &mut out,
                    t.nanosecond() % 1_000_000_000,
                    separator,
                    digits,
                    trim,
                );
            }
        }
    }
    out
}

/// Go's `appendNano`: `digits` digits of the fraction (at most 9); with `trim`, trailing
/// zeros go, and the separator too when nothing is left.
fn push_fraction(out: &mut String, nanos: u32, separator: char, digits: usize, trim: bool) {
    if trim && (digits == 0 || nanos == 0) {
        return;
    }
    let mut fraction = format!("{nanos:09}");
    fraction.truncate(digits.min(9));
    if trim {
        let kept = fraction.trim_end_matches('0').len();
        fraction.truncate(kept);
        if fraction.is_empty() {
            return;
        }
    }
    out.push(separator);
    out.push_str(&fraction);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, nanos: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
            + chrono::Duration::nanoseconds(i64::from(nanos))
    }

    #[test]
    fn go_layouts() {
        let t = at(2009, 2, 3, 16, 5, 7, 120_000_000);
        let cases = [
            ("2006", "2009"),
            ("06", "09"),
            ("2006-01-02", "2009-02-03"),
            ("2006-01-02T15:04:05Z07:00", "2009-02-03T16:05:07Z"),
            (
                "Mon Jan _2 15:04:05 MST 2006",
                "Tue Feb  3 16:05:07 UTC 2009",
            ),
            ("Monday, January 2", "Tuesday, February 3"),
            ("3:04PM", "4:05PM"),
            ("03:04:05 pm", "04:05:07 pm"),
            ("1/2/06", "2/3/09"),
            ("15:04:05.000", "16:05:07.120"),
            ("15:04:05.999", "16:05:07.12"),
            ("15:04:05,000000", "16:05:07,120000"),
            ("05.999999999999", "07.12"),
            (
                "-0700 -07:00 -07 -070000 -07:00:00",
                "+0000 +00:00 +00 +000000 +00:00:00",
            ),
            ("Z0700|Z07:00|Z07", "Z|Z|Z"),
            ("__2 002", " 34 034"),
            ("_2006", "_2009"),
            // Not layout elements: a lowercase letter after `Jan`/`Mon`, other text. Zeros
            // followed by another digit are no fraction, so Go reads the `01` as the month.
            ("Janet Monk", "Janet Monk"),
            ("5.0001", "7.0002"),
            ("year: ", "year: "),
            ("", ""),
        ];
        for (layout, want) in cases {
            assert_eq!(format_go(t, layout), want, "{layout}");
        }
    }

    #[test]
    fn fractions_trim_to_nothing_on_whole_seconds() {
        let t = at(2024, 12, 31, 0, 0, 9, 0);
        assert_eq!(format_go(t, "15:04:05.999"), "00:00:09");
        assert_eq!(format_go(t, "15:04:05.000"), "00:00:09.000");
        assert_eq!(format_go(t, "3PM __2"), "12AM 366");
    }

    #[test]
    fn date_functions_use_the_given_time_unless_given_a_unix_time() {
        let now = at(2031, 7, 4, 9, 30, 0, 0);
        let _clock = Clock::set(Some(now));
        let s = |v: &str| V::String(v.to_string());
        let cases: Vec<(&str, Vec<V>, Result<&str, &str>)> = vec![
            (
                "date",
                vec![s("2006"), s("2021-01-01T00:00:00Z")],
                Ok("2031"),
            ),
            (
                "date",
                vec![s("2006-01-02"), V::Integer(86_400)],
                Ok("1970-01-02"),
            ),
            ("date", vec![s("2006"), V::Nil], Ok("2031")),
            ("htmlDate", vec![V::Float(1.0)], Ok("2031-07-04")),
            (
                "htmlDateInZone",
                vec![V::Integer(0), s("UTC")],
                Ok("1970-01-01"),
            ),
            ("dateInZone", vec![s("15:04"), s("x"), s("")], Ok("09:30")),
            (
                "date_in_zone",
                vec![s("15:04"), s("x"), s("Local")],
                Ok("09:30"),
            ),
            (
                "dateInZone",
                vec![s("15:04"), s("x"), s("Europe/Paris")],
                Err(
                    "time zone `Europe/Paris` is not supported: times are formatted in UTC (use \"UTC\")",
                ),
            ),
            (
                "date",
                vec![s("2006")],
                Err("expected 2 argument(s), got 1"),
            ),
            (
                "date",
                vec![V::Integer(1), s("x")],
                Err("argument 1 must be a string"),
            ),
        ];
        for (name, args, want) in cases {
            let got = sprig_date(name, &args);
            let want = want
                .map(|w| V::String(w.to_string()))
                .map_err(str::to_string);
            assert_eq!(got, want, "{name}({args:?})");
        }
    }

    #[test]
    fn without_a_clock_only_unix_times_format() {
        let _clock = Clock::set(None);
        assert_eq!(
            sprig_date("htmlDate", &[V::Integer(0)]),
            Ok(V::String("1970-01-01".into()))
        );
        assert!(
            sprig_date("htmlDate", &[V::String("x".into())])
                .unwrap_err()
                .contains("the current time is not available")
        );
    }
}
