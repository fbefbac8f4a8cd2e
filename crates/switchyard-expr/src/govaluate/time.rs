//! govaluate's date literals: a quoted string that parses as a date is a number of seconds.
//!
//! govaluate tries a list of Go layouts on every quoted string; when one matches, the token
//! is a TIME whose value is the Unix time in seconds, so `'2024-01-02' > '2024-01-01'` compares
//! numbers. Supported here: the ISO 8601 / RFC 3339 layouts of that list
//! (`2006-01-02`, `2006-01-02 15:04`, `2006-01-02 15:04:05`, `2006-01-02 15:04:05-07:00`,
//! `2006-01-02T15Z0700`, `2006-01-02T15:04Z0700`, `2006-01-02T15:04:05Z0700` and RFC 3339,
//! each with optional fractional seconds after the seconds). Not supported: Go's ANSIC,
//! UnixDate, RubyDate and Kitchen layouts (`Mon Jan _2 15:04:05 2006`, `3:04PM`), which stay
//! plain strings. A date without a zone is read as UTC (govaluate uses the process's local
//! zone; this crate reads no environment).

/// Parses `text` as one of the supported layouts: Unix seconds and Go's `%v` of the time.
pub(crate) fn parse(text: &str) -> Option<(f64, String)> {
    let b = text.as_bytes();
    if b.len() < 10 || !text.is_char_boundary(10) {
        return None;
    }
    let year = fixed_digits(&b[0..4])?;
    if b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let month = fixed_digits(&b[5..7])?;
    let day = fixed_digits(&b[8..10])?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let mut clock = Clock::default();
    let rest = &text[10..];
    if !rest.is_empty() {
        let (separator, rest) = rest.split_at(1);
        clock = match separator {
            " " => parse_space_form(rest)?,
            "T" => parse_t_form(rest)?,
            _ => return None,
        };
    }
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + clock.hour * 3_600 + clock.minute * 60 + clock.second
        - clock.offset_seconds;
    let shown = show(year, month, day, &clock);
    Some((seconds as f64, shown))
}

#[derive(Default)]
struct Clock {
    hour: i64,
    minute: i64,
    second: i64,
    has_minutes: bool,
    has_seconds: bool,
    /// Fractional digits as written (without the dot), trailing zeros removed.
    fraction: String,
    offset_seconds: i64,
    /// Whether the zone was written as `Z` or absent (UTC).
    utc: bool,
}

/// `15:04`, `15:04:05[.frac]`, `15:04:05[.frac]-07:00` (the zone here cannot be `Z`).
fn parse_space_form(text: &str) -> Option<Clock> {
    let (mut clock, rest) = parse_clock(text)?;
    if !clock.has_minutes {
        return None;
    }
    if rest.is_empty() {
        clock.utc = true;
        return Some(clock);
    }
    if !clock.has_seconds {
        return None;
    }
    clock.offset_seconds = parse_offset(rest, true)?;
    Some(clock)
}

/// `15Z0700`, `15:04Z0700`, `15:04:05[.frac]Z0700`, RFC 3339's `15:04:05[.frac]Z07:00`.
fn parse_t_form(text: &str) -> Option<Clock> {
    let (mut clock, rest) = parse_clock(text)?;
    if !clock.has_seconds && !clock.fraction.is_empty() {
        return None;
    }
    if rest == "Z" {
        clock.utc = true;
        return Some(clock);
    }
    // Z0700 (`+0100`) for every T form; Z07:00 (`+01:00`) only with seconds (RFC 3339).
    clock.offset_seconds = match parse_offset(rest, false) {
        Some(offset) => offset,
        None if clock.has_seconds => parse_offset(rest, true)?,
        None => return None,
    };
    Some(clock)
}

/// Hour (one or two digits), then optionally `:MM`, then optionally `:SS[.fraction]`.
fn parse_clock(text: &str) -> Option<(Clock, &str)> {
    let b = text.as_bytes();
    let hour_len = match b {
        [a, c, ..] if a.is_ascii_digit() && c.is_ascii_digit() => 2,
        [a, ..] if a.is_ascii_digit() => 1,
        _ => return None,
    };
    let mut clock = Clock {
        hour: fixed_digits(&b[..hour_len])?,
        ..Clock::default()
    };
    if clock.hour > 23 {
        return None;
    }
    let mut rest = &text[hour_len..];
    if let Some(after) = rest.strip_prefix(':') {
        clock.minute = fixed_digits(after.as_bytes().get(..2)?)?;
        if clock.minute > 59 {
            return None;
        }
        clock.has_minutes = true;
        rest = &after[2..];
        if let Some(after) = rest.strip_prefix(':') {
            clock.second = fixed_digits(after.as_bytes().get(..2)?)?;
            if clock.second > 59 {
                return None;
            }
            clock.has_seconds = true;
            rest = &after[2..];
            if let Some(after) = rest.strip_prefix('.').or_else(|| rest.strip_prefix(',')) {
                let digits = after.bytes().take_while(u8::is_ascii_digit).count();
                if digits == 0 {
                    return None;
                }
                clock.fraction = after[..digits].trim_end_matches('0').to_string();
                rest = &after[digits..];
            }
        }
    }
    Some((clock, rest))
}

/// `+hh:mm` / `-hh:mm` (`colon`) or `+hhmm` / `-hhmm`, in seconds east of UTC.
fn parse_offset(text: &str, colon: bool) -> Option<i64> {
    let b = text.as_bytes();
    let (sign, rest) = match b.first()? {
        b'+' => (1, &b[1..]),
        b'-' => (-1, &b[1..]),
        _ => return None,
    };
    let (hours, minutes) = if colon {
        if rest.len() != 5 || rest[2] != b':' {
            return None;
        }
        (fixed_digits(&rest[0..2])?, fixed_digits(&rest[3..5])?)
    } else {
        if rest.len() != 4 {
            return None;
        }
        (fixed_digits(&rest[0..2])?, fixed_digits(&rest[2..4])?)
    };
    if hours > 23 || minutes > 59 {
        return None;
    }
    Some(sign * (hours * 3_600 + minutes * 60))
}

fn fixed_digits(b: &[u8]) -> Option<i64> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut n = 0i64;
    for d in b {
        n = n * 10 + i64::from(d - b'0');
    }
    Some(n)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(year) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Go's `%v` of a `time.Time`: `2006-01-02 15:04:05.999999999 -0700 MST`.
fn show(year: i64, month: i64, day: i64, clock: &Clock) -> String {
    let mut out = format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        clock.hour, clock.minute, clock.second
    );
    if !clock.fraction.is_empty() {
        out.push('.');
        out.push_str(&clock.fraction);
    }
    let offset = clock.offset_seconds;
    let sign = if offset < 0 { '-' } else { '+' };
    let hhmm = format!(
        "{sign}{:02}{:02}",
        offset.abs() / 3_600,
        (offset.abs() % 3_600) / 60
    );
    if clock.utc || offset == 0 {
        out.push_str(" +0000 UTC");
    } else {
        out.push_str(&format!(" {hhmm} {hhmm}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn layouts() {
        let cases: &[(&str, Option<(f64, &str)>)] = &[
            (
                "2024-01-01",
                Some((1_704_067_200.0, "2024-01-01 00:00:00 +0000 UTC")),
            ),
            (
                "2024-01-01 10:30",
                Some((1_704_105_000.0, "2024-01-01 10:30:00 +0000 UTC")),
            ),
            (
                "2024-01-01 9:30",
                Some((1_704_101_400.0, "2024-01-01 09:30:00 +0000 UTC")),
            ),
            (
                "2024-01-01 10:30:15",
                Some((1_704_105_015.0, "2024-01-01 10:30:15 +0000 UTC")),
            ),
            (
                "2024-01-01 10:30:15+02:00",
                Some((1_704_097_815.0, "2024-01-01 10:30:15 +0200 +0200")),
            ),
            (
                "2024-01-01T10Z",
                Some((1_704_103_200.0, "2024-01-01 10:00:00 +0000 UTC")),
            ),
            (
                "2024-01-01T10:30+0100",
                Some((1_704_101_400.0, "2024-01-01 10:30:00 +0100 +0100")),
            ),
            (
                "2024-01-01T10:30:15Z",
                Some((1_704_105_015.0, "2024-01-01 10:30:15 +0000 UTC")),
            ),
            (
                "2024-01-01T10:30:15.500Z",
                Some((1_704_105_015.0, "2024-01-01 10:30:15.5 +0000 UTC")),
            ),
            (
                "2024-01-01T10:30:15-05:00",
                Some((1_704_123_015.0, "2024-01-01 10:30:15 -0500 -0500")),
            ),
            (
                "1969-12-31",
                Some((-86_400.0, "1969-12-31 00:00:00 +0000 UTC")),
            ),
            (
                "2024-02-29",
                Some((1_709_164_800.0, "2024-02-29 00:00:00 +0000 UTC")),
            ),
            ("2023-02-29", None),
            ("2024-13-01", None),
            ("2024-01-01T10:30:15", None),
            ("2024-01-01 10:30Z", None),
            ("2024-01-01 25:00", None),
            ("heads", None),
            ("2024-1-1", None),
            ("Mon Jan  2 15:04:05 2006", None),
        ];
        for (text, want) in cases {
            let got = parse(text);
            let got = got.as_ref().map(|(s, shown)| (*s, shown.as_str()));
            assert_eq!(got, *want, "{text}");
        }
    }
}
