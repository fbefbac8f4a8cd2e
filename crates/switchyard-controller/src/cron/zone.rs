//! Time zones for cron schedules: the IANA database in the TZif form of RFC 8536, as hosts keep
//! it under `/usr/share/zoneinfo` (Go's `time.LoadLocation`, which Argo uses, reads the same
//! files), and POSIX `TZ` rules such as `CET-1CEST,M3.5.0,M10.5.0/3`.
//!
//! A [`Zone`] answers two questions in whole seconds since the Unix epoch: which UTC offset is
//! in force at an instant, and which instants a local wall-clock time names (none inside a
//! spring-forward gap, two inside a fall-back overlap). Parsing is pure; [`ZoneInfoDir`] is the
//! only part that reads files.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Datelike, NaiveDate};

/// Why a zone could not be loaded or parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ZoneError(String);

impl ZoneError {
    fn new(message: impl Into<String>) -> Self {
        ZoneError(message.into())
    }
}

/// Largest TZif file accepted (real ones are under 4 KiB).
const MAX_TZIF_BYTES: usize = 256 << 10;
/// Offsets RFC 8536 allows: -25 hours < offset < 26 hours.
const OFFSET_LIMITS: std::ops::RangeInclusive<i64> = -89_999..=93_599;
const HOUR: i32 = 3600;

/// A time zone: a name, its table of offset changes, and the rule for times after the table.
#[derive(Clone, PartialEq, Eq)]
pub struct Zone(Arc<ZoneData>);

#[derive(Debug, PartialEq, Eq)]
struct ZoneData {
    name: String,
    /// The offset before the first transition.
    initial: i32,
    /// Transition instants, strictly ascending, each with the offset in force from it on.
    transitions: Vec<(i64, i32)>,
    /// The offsets after the last transition (the TZif footer), when known.
    rule: Option<Rule>,
    min_offset: i32,
    max_offset: i32,
}

impl fmt::Debug for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Zone({})", self.0.name)
    }
}

impl Zone {
    /// Coordinated Universal Time.
    pub fn utc() -> Zone {
        Zone::build("UTC".to_string(), 0, Vec::new(), None)
    }

    /// A zone from a POSIX `TZ` rule, e.g. `PST8PDT,M3.2.0,M11.1.0` (offsets west of Greenwich
    /// are positive, as POSIX writes them). A rule with a daylight-saving name and no dates
    /// uses the US dates, as Go and glibc do.
    pub fn from_posix(name: &str, rule: &str) -> Result<Zone, ZoneError> {
        let rule = parse_posix(rule)
            .map_err(|e| ZoneError::new(format!("time zone `{name}`: rule `{rule}`: {e}")))?;
        let initial = rule.std_offset();
        Ok(Zone::build(
            name.to_string(),
            initial,
            Vec::new(),
            Some(rule),
        ))
    }

    /// A zone from the bytes of a TZif file (RFC 8536, versions 1 to 4).
    pub fn from_tzif(name: &str, bytes: &[u8]) -> Result<Zone, ZoneError> {
        parse_tzif(bytes)
            .map_err(|e| ZoneError::new(format!("time zone `{name}`: {e}")))
            .map(|(initial, transitions, rule)| {
                Zone::build(name.to_string(), initial, transitions, rule)
            })
    }

    fn build(name: String, initial: i32, transitions: Vec<(i64, i32)>, rule: Option<Rule>) -> Zone {
        let mut offsets: Vec<i32> = transitions.iter().map(|&(_, o)| o).collect();
        offsets.push(initial);
        if let Some(rule) = &rule {
            offsets.extend(rule.offsets());
        }
        let min_offset = offsets.iter().copied().min().unwrap_or(0);
        let max_offset = offsets.iter().copied().max().unwrap_or(0);
        Zone(Arc::new(ZoneData {
            name,
            initial,
            transitions,
            rule,
            min_offset,
            max_offset,
        }))
    }

    /// The name the zone was loaded under.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The UTC offset in seconds (east positive) in force at `instant` (Unix seconds).
    pub fn offset_at(&self, instant: i64) -> i32 {
        let d = &self.0;
        let after = d.transitions.partition_point(|&(at, _)| at <= instant);
        if after == d.transitions.len()
            && let Some(rule) = &d.rule
        {
            return rule.offset_at(instant);
        }
        match after.checked_sub(1) {
            Some(last) => d.transitions[last].1,
            None => d.initial,
        }
    }

    /// The stretch `[start, end)` around `instant` in which no transition happens (its ends
    /// are `i64::MIN` and `i64::MAX` where the zone has none), so the offset at `instant`
    /// holds throughout.
    pub fn steady_period(&self, instant: i64) -> (i64, i64) {
        let d = &self.0;
        let after = d.transitions.partition_point(|&(at, _)| at <= instant);
        let mut start = after
            .checked_sub(1)
            .map_or(i64::MIN, |last| d.transitions[last].0);
        let mut end = d.transitions.get(after).map_or(i64::MAX, |&(at, _)| at);
        if after == d.transitions.len()
            && let Some(rule) = &d.rule
        {
            let switches = rule.transitions_around(instant, instant);
            if let Some(&(at, _)) = switches.iter().rev().find(|&&(at, _)| at <= instant) {
                start = start.max(at);
            }
            if let Some(&(at, _)) = switches.iter().find(|&&(at, _)| at > instant) {
                end = at;
            }
        }
        (start, end)
    }

    /// The smallest and largest offsets the zone ever uses.
    pub fn offset_range(&self) -> (i32, i32) {
        (self.0.min_offset, self.0.max_offset)
    }

    /// The instants (ascending) at which local wall-clock time reads `local`, given as seconds
    /// since 1970-01-01T00:00:00 on the local clock: none in a gap, two in an overlap.
    pub fn instants_of_local(&self, local: i64) -> Vec<i64> {
        let (min, max) = self.offset_range();
        let (from, to) = (local - i64::from(max), local - i64::from(min));
        let mut found: Vec<i64> = Vec::with_capacity(2);
        for offset in self.offsets_between(from, to) {
            let instant = local - i64::from(offset);
            if self.offset_at(instant) == offset && !found.contains(&instant) {
                found.push(instant);
            }
        }
        found.sort_unstable();
        found
    }

    /// Every offset that may be in force in `[from, to]`: the one at `from` and the one after
    /// each transition up to `to` (a superset; callers check each).
    fn offsets_between(&self, from: i64, to: i64) -> Vec<i32> {
        let d = &self.0;
        let mut offsets = vec![self.offset_at(from)];
        let first = d.transitions.partition_point(|&(at, _)| at <= from);
        offsets.extend(
            d.transitions[first..]
                .iter()
                .take_while(|&&(at, _)| at <= to)
                .map(|&(_, o)| o),
        );
        if let Some(rule) = &d.rule {
            offsets.extend(
                rule.transitions_around(from, to)
                    .into_iter()
                    .filter(|&(at, _)| at > from && at <= to)
                    .map(|(_, o)| o),
            );
        }
        offsets.dedup();
        offsets
    }
}

/// Where zones come from, for schedules that name one (`timezone`, `CRON_TZ=`) and for those
/// that do not.
pub trait ZoneLookup {
    /// The zone with the IANA name `name`, e.g. `Europe/Paris`.
    fn zone(&self, name: &str) -> Result<Zone, ZoneError>;
    /// The zone of schedules that name none (Argo uses the controller's local time).
    fn default_zone(&self) -> Zone;
}

/// Zones read from a directory of TZif files, normally `/usr/share/zoneinfo`. `UTC` is always
/// known; `Local` is the default zone, as in Go.
#[derive(Debug, Clone)]
pub struct ZoneInfoDir {
    root: PathBuf,
    default: Zone,
}

impl ZoneInfoDir {
    /// The host's database.
    pub const SYSTEM_ROOT: &'static str = "/usr/share/zoneinfo";

    /// Zones under `root`; schedules without a zone use `default`.
    pub fn new(root: impl Into<PathBuf>, default: Zone) -> Self {
        ZoneInfoDir {
            root: root.into(),
            default,
        }
    }

    /// The host's database, with the host's local zone as the default: `tz` (the value of the
    /// `TZ` environment variable) when set, else `/etc/localtime`, else UTC. The error says
    /// why the local zone could not be loaded; UTC is then a sensible fallback.
    pub fn system(tz: Option<&str>) -> Result<Self, ZoneError> {
        let mut dir = ZoneInfoDir::new(Self::SYSTEM_ROOT, Zone::utc());
        dir.default = match tz {
            Some("") => Zone::utc(),
            Some(tz) => {
                let name = tz.strip_prefix(':').unwrap_or(tz);
                dir.zone(name)
                    .or_else(|_| Zone::from_posix(name, name))
                    .map_err(|e| ZoneError::new(format!("TZ=`{tz}`: {e}")))?
            }
            None => {
                let localtime = Path::new("/etc/localtime");
                if localtime.exists() {
                    read_tzif("Local", localtime)?
                } else {
                    Zone::utc()
                }
            }
        };
        Ok(dir)
    }
}

impl ZoneLookup for ZoneInfoDir {
    fn zone(&self, name: &str) -> Result<Zone, ZoneError> {
        match name {
            "UTC" => return Ok(Zone::utc()),
            "Local" => return Ok(self.default.clone()),
            _ => {}
        }
        check_zone_name(name)?;
        read_tzif(name, &self.root.join(name))
    }

    fn default_zone(&self) -> Zone {
        self.default.clone()
    }
}

fn read_tzif(name: &str, path: &Path) -> Result<Zone, ZoneError> {
    let bytes = std::fs::read(path).map_err(|e| {
        let why = match e.kind() {
            std::io::ErrorKind::NotFound => "no such zone in the time zone database".to_string(),
            _ => e.to_string(),
        };
        ZoneError::new(format!(
            "unknown time zone `{name}`: {why} ({}); use an IANA name such as `Europe/Paris`",
            path.display()
        ))
    })?;
    Zone::from_tzif(name, &bytes)
}

/// IANA names are `Area/Location` paths of letters, digits, `_`, `-`, `+` and `.`; anything
/// else (absolute paths, `..`) never names a zone and must not reach the file system.
fn check_zone_name(name: &str) -> Result<(), ZoneError> {
    let bad = |why: &str| {
        Err(ZoneError::new(format!(
            "`{name}` is not a time zone name: {why}; use an IANA name such as `Europe/Paris`"
        )))
    };
    if name.is_empty() || name.len() > 255 {
        return bad("it must have 1 to 255 characters");
    }
    for part in name.split('/') {
        if part.is_empty() || part == "." || part == ".." {
            return bad("it must be `/`-separated names, without empty parts, `.` or `..`");
        }
        if !part
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+' | '.'))
        {
            return bad("it may hold only letters, digits, `_`, `-`, `+`, `.` and `/`");
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// POSIX TZ rules
// ---------------------------------------------------------------------------------------------

/// The offsets after a zone's table: one fixed offset, or standard and daylight time with the
/// dates they switch.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Rule {
    Fixed(i32),
    Dst {
        std: i32,
        dst: i32,
        /// When daylight time starts, in local standard time.
        start: (RuleDay, i32),
        /// When daylight time ends, in local daylight time.
        end: (RuleDay, i32),
    },
}

/// A day of the year in a POSIX rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RuleDay {
    /// `Jn`: 1 to 365, February 29 never counted.
    Julian(u16),
    /// `n`: 0 to 365, February 29 counted in leap years.
    ZeroBased(u16),
    /// `Mm.w.d`: weekday `d` (0 = Sunday) of week `w` (5 = the last) of month `m`.
    Month { month: u32, week: u32, weekday: u32 },
}

impl Rule {
    fn std_offset(&self) -> i32 {
        match *self {
            Rule::Fixed(o) | Rule::Dst { std: o, .. } => o,
        }
    }

    fn offsets(&self) -> Vec<i32> {
        match *self {
            Rule::Fixed(o) => vec![o],
            Rule::Dst { std, dst, .. } => vec![std, dst],
        }
    }

    fn offset_at(&self, instant: i64) -> i32 {
        let Rule::Dst { std, .. } = *self else {
            return self.std_offset();
        };
        self.transitions_around(instant, instant)
            .into_iter()
            .rev()
            .find(|&(at, _)| at <= instant)
            .map_or(std, |(_, offset)| offset)
    }

    /// The switches of the years around `[from, to]`, ascending (a switch at the same instant
    /// as one of the previous year comes after it, so all-year daylight time works).
    fn transitions_around(&self, from: i64, to: i64) -> Vec<(i64, i32)> {
        let Rule::Dst {
            std,
            dst,
            start,
            end,
        } = *self
        else {
            return Vec::new();
        };
        let year_of = |t: i64| {
            DateTime::from_timestamp(t.saturating_add(i64::from(std)), 0).map(|d| d.year())
        };
        let (Some(first), Some(last)) = (year_of(from), year_of(to)) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for year in first - 1..=last + 1 {
            let (Some(on), Some(off)) = (
                switch_instant(year, start, std),
                switch_instant(year, end, dst),
            ) else {
                continue;
            };
            out.push((on, dst));
            out.push((off, std));
        }
        out.sort_by_key(|&(at, _)| at);
        out
    }
}

/// The instant of a switch at `day` and `time` (seconds after local midnight) of `year`, on a
/// clock running at `offset`.
fn switch_instant(year: i32, (day, time): (RuleDay, i32), offset: i32) -> Option<i64> {
    let jan1 = NaiveDate::from_ymd_opt(year, 1, 1)?;
    let leap = NaiveDate::from_ymd_opt(year, 2, 29).is_some();
    let date = match day {
        RuleDay::Julian(n) => {
            let extra = u16::from(leap && n >= 60);
            jan1.checked_add_days(chrono::Days::new(u64::from(n - 1 + extra)))?
        }
        RuleDay::ZeroBased(n) => jan1.checked_add_days(chrono::Days::new(u64::from(n)))?,
        RuleDay::Month {
            month,
            week,
            weekday,
        } => {
            let first = NaiveDate::from_ymd_opt(year, month, 1)?;
            let lead = (weekday + 7 - first.weekday().num_days_from_sunday()) % 7;
            let mut day = 1 + lead + (week - 1) * 7;
            while NaiveDate::from_ymd_opt(year, month, day).is_none() {
                day -= 7;
            }
            NaiveDate::from_ymd_opt(year, month, day)?
        }
    };
    let midnight = date.and_hms_opt(0, 0, 0)?.and_utc().timestamp();
    Some(midnight + i64::from(time) - i64::from(offset))
}

fn parse_posix(text: &str) -> Result<Rule, String> {
    let mut p = Posix {
        rest: text.as_bytes(),
    };
    p.name().map_err(|e| format!("standard time name: {e}"))?;
    let std = -p
        .hms(24)
        .map_err(|e| format!("standard time offset: {e}"))?;
    if p.rest.is_empty() {
        return Ok(Rule::Fixed(std));
    }
    p.name().map_err(|e| format!("daylight time name: {e}"))?;
    let dst = if p.rest.is_empty() || p.rest[0] == b',' {
        std + HOUR
    } else {
        -p.hms(24)
            .map_err(|e| format!("daylight time offset: {e}"))?
    };
    let (start, end) = if p.rest.is_empty() {
        let us = |month, week| RuleDay::Month {
            month,
            week,
            weekday: 0,
        };
        ((us(3, 2), 2 * HOUR), (us(11, 1), 2 * HOUR))
    } else {
        p.expect(b',')?;
        let start = p
            .switch()
            .map_err(|e| format!("daylight time start: {e}"))?;
        p.expect(b',')?;
        let end = p.switch().map_err(|e| format!("daylight time end: {e}"))?;
        (start, end)
    };
    if !p.rest.is_empty() {
        return Err(format!(
            "unexpected `{}` at the end",
            String::from_utf8_lossy(p.rest)
        ));
    }
    Ok(Rule::Dst {
        std,
        dst,
        start,
        end,
    })
}

struct Posix<'a> {
    rest: &'a [u8],
}

impl Posix<'_> {
    fn expect(&mut self, c: u8) -> Result<(), String> {
        match self.rest.split_first() {
            Some((&got, rest)) if got == c => {
                self.rest = rest;
                Ok(())
            }
            _ => Err(format!("expected `{}`", char::from(c))),
        }
    }

    /// `ABC` or `<+0530>`.
    fn name(&mut self) -> Result<(), String> {
        let (len, skip) = if self.rest.first() == Some(&b'<') {
            let close = self
                .rest
                .iter()
                .position(|&c| c == b'>')
                .ok_or("`<` without `>`")?;
            let inner = &self.rest[1..close];
            if !inner
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-'))
            {
                return Err("a quoted name holds only letters, digits, `+` and `-`".into());
            }
            (inner.len(), close + 1)
        } else {
            let len = self
                .rest
                .iter()
                .take_while(|c| c.is_ascii_alphabetic())
                .count();
            (len, len)
        };
        if len < 3 {
            return Err("a name has at least 3 characters".into());
        }
        self.rest = &self.rest[skip..];
        Ok(())
    }

    fn number(&mut self, max: i32) -> Result<i32, String> {
        let digits = self.rest.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 || digits > 3 {
            return Err("expected a number".into());
        }
        let text = std::str::from_utf8(&self.rest[..digits]).map_err(|e| e.to_string())?;
        let n: i32 = text.parse().map_err(|_| "expected a number".to_string())?;
        if n > max {
            return Err(format!("{n} is more than {max}"));
        }
        self.rest = &self.rest[digits..];
        Ok(n)
    }

    /// `[+-]hh[:mm[:ss]]` in seconds.
    fn hms(&mut self, max_hours: i32) -> Result<i32, String> {
        let sign = match self.rest.first() {
            Some(b'-') => -1,
            Some(b'+') => 1,
            _ => 0,
        };
        if sign != 0 {
            self.rest = &self.rest[1..];
        }
        let mut seconds = self.number(max_hours)? * HOUR;
        for unit in [60, 1] {
            if self.rest.first() != Some(&b':') {
                break;
            }
            self.rest = &self.rest[1..];
            seconds += self.number(59)? * unit;
        }
        Ok(if sign < 0 { -seconds } else { seconds })
    }

    /// `date[/time]`.
    fn switch(&mut self) -> Result<(RuleDay, i32), String> {
        let day = match self.rest.first() {
            Some(b'J') => {
                self.rest = &self.rest[1..];
                let n = self.number(365)?;
                if n < 1 {
                    return Err("`Jn` counts days from 1".into());
                }
                RuleDay::Julian(n as u16)
            }
            Some(b'M') => {
                self.rest = &self.rest[1..];
                let month = self.number(12)?;
                self.expect(b'.')?;
                let week = self.number(5)?;
                self.expect(b'.')?;
                let weekday = self.number(6)?;
                if month < 1 || week < 1 {
                    return Err("`Mm.w.d` counts months and weeks from 1".into());
                }
                RuleDay::Month {
                    month: month as u32,
                    week: week as u32,
                    weekday: weekday as u32,
                }
            }
            _ => RuleDay::ZeroBased(self.number(365)? as u16),
        };
        let time = if self.rest.first() == Some(&b'/') {
            self.rest = &self.rest[1..];
            self.hms(167)?
        } else {
            2 * HOUR
        };
        Ok((day, time))
    }
}

// ---------------------------------------------------------------------------------------------
// TZif
// ---------------------------------------------------------------------------------------------

type Parsed = (i32, Vec<(i64, i32)>, Option<Rule>);

struct Counts {
    isut: usize,
    isstd: usize,
    leap: usize,
    time: usize,
    types: usize,
    chars: usize,
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
            .ok_or("the TZif data is truncated")?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn i64(&mut self, wide: bool) -> Result<i64, String> {
        if wide {
            let b = self.take(8)?;
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            Ok(i64::from_be_bytes(a))
        } else {
            Ok(i64::from(self.u32()? as i32))
        }
    }

    fn header(&mut self) -> Result<(u8, Counts), String> {
        if self.take(4)? != b"TZif" {
            return Err("not a TZif file (no `TZif` magic)".into());
        }
        let version = self.take(1)?[0];
        self.take(15)?;
        let mut next = || self.u32().map(|n| n as usize);
        let counts = Counts {
            isut: next()?,
            isstd: next()?,
            leap: next()?,
            time: next()?,
            types: next()?,
            chars: next()?,
        };
        if counts.types == 0 {
            return Err("the TZif data has no local time types".into());
        }
        Ok((version, counts))
    }
}

fn parse_tzif(bytes: &[u8]) -> Result<Parsed, String> {
    if bytes.len() > MAX_TZIF_BYTES {
        return Err(format!(
            "the TZif data has {} bytes, more than the {MAX_TZIF_BYTES} accepted",
            bytes.len()
        ));
    }
    let mut r = Reader { bytes, at: 0 };
    let (version, counts) = r.header()?;
    if version == 0 {
        return block(&mut r, &counts, false)
            .map(|(initial, transitions)| (initial, transitions, None));
    }
    // Version 2+: skip the 32-bit block; the 64-bit one and the footer follow.
    let v1_len = counts.time * 5
        + counts.types * 6
        + counts.chars
        + counts.leap * 8
        + counts.isstd
        + counts.isut;
    r.take(v1_len)?;
    let (_, counts) = r.header()?;
    let (initial, transitions) = block(&mut r, &counts, true)?;
    r.take(1)
        .ok()
        .filter(|nl| nl == b"\n")
        .ok_or("the TZif footer does not start with a newline")?;
    let rest = &bytes[r.at..];
    let end = rest
        .iter()
        .position(|&c| c == b'\n')
        .ok_or("the TZif footer does not end with a newline")?;
    let footer = std::str::from_utf8(&rest[..end]).map_err(|_| "the TZif footer is not text")?;
    let rule = if footer.is_empty() {
        None
    } else {
        Some(parse_posix(footer).map_err(|e| format!("TZif footer `{footer}`: {e}"))?)
    };
    Ok((initial, transitions, rule))
}

fn block(
    r: &mut Reader<'_>,
    counts: &Counts,
    wide: bool,
) -> Result<(i32, Vec<(i64, i32)>), String> {
    let mut times = Vec::with_capacity(counts.time.min(4096));
    for _ in 0..counts.time {
        times.push(r.i64(wide)?);
    }
    let indices = r.take(counts.time)?.to_vec();
    let mut offsets = Vec::with_capacity(counts.types.min(256));
    for _ in 0..counts.types {
        let offset = i64::from(r.u32()? as i32);
        r.take(2)?; // isdst, designation index
        if !OFFSET_LIMITS.contains(&offset) {
            return Err(format!(
                "the TZif data has an offset of {offset} seconds, out of range"
            ));
        }
        offsets.push(offset as i32);
    }
    r.take(counts.chars)?;
    r.take(counts.leap * if wide { 12 } else { 8 })?;
    r.take(counts.isstd + counts.isut)?;
    if times.windows(2).any(|w| w[0] >= w[1]) {
        return Err("the TZif transition times are not ascending".into());
    }
    let mut transitions = Vec::with_capacity(times.len());
    for (at, index) in times.into_iter().zip(indices) {
        let offset = offsets
            .get(usize::from(index))
            .ok_or("a TZif transition names a local time type that does not exist")?;
        transitions.push((at, *offset));
    }
    Ok((offsets[0], transitions))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::{NaiveDateTime, TimeZone, Utc};

    pub(crate) fn los_angeles() -> Zone {
        Zone::from_posix("America/Los_Angeles", "PST8PDT,M3.2.0,M11.1.0").unwrap()
    }

    pub(crate) fn paris() -> Zone {
        Zone::from_posix("Europe/Paris", "CET-1CEST,M3.5.0,M10.5.0/3").unwrap()
    }

    fn at(text: &str) -> i64 {
        DateTime::parse_from_rfc3339(text).unwrap().timestamp()
    }

    fn local(text: &str) -> i64 {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
            .unwrap()
            .and_utc()
            .timestamp()
    }

    /// A TZif v2 file with `transitions` (instant, type index), the given types and footer.
    pub(crate) fn tzif(types: &[i32], transitions: &[(i64, u8)], footer: &str) -> Vec<u8> {
        let header = |out: &mut Vec<u8>, version: u8, times: usize| {
            out.extend_from_slice(b"TZif");
            out.push(version);
            out.extend_from_slice(&[0; 15]);
            for n in [0, 0, 0, times, types.len(), 4] {
                out.extend_from_slice(&(n as u32).to_be_bytes());
            }
        };
        let body = |out: &mut Vec<u8>, wide: bool| {
            for &(t, _) in transitions {
                if wide {
                    out.extend_from_slice(&t.to_be_bytes());
                } else {
                    out.extend_from_slice(&(t as i32).to_be_bytes());
                }
            }
            out.extend(transitions.iter().map(|&(_, i)| i));
            for &o in types {
                out.extend_from_slice(&o.to_be_bytes());
                out.extend_from_slice(&[0, 0]);
            }
            out.extend_from_slice(b"ABC\0");
        };
        let mut out = Vec::new();
        header(&mut out, b'2', transitions.len());
        body(&mut out, false);
        header(&mut out, b'2', transitions.len());
        body(&mut out, true);
        out.push(b'\n');
        out.extend_from_slice(footer.as_bytes());
        out.push(b'\n');
        out
    }

    #[test]
    fn utc_has_one_offset_and_every_local_time_once() {
        let z = Zone::utc();
        assert_eq!(z.offset_at(at("2024-06-01T12:00:00Z")), 0);
        assert_eq!(
            z.instants_of_local(local("2024-06-01 12:00:00")),
            [at("2024-06-01T12:00:00Z")]
        );
    }

    #[test]
    fn posix_rule_switches_on_the_us_dates() {
        let z = los_angeles();
        assert_eq!(z.offset_at(at("2020-03-08T09:59:59Z")), -8 * HOUR);
        assert_eq!(z.offset_at(at("2020-03-08T10:00:00Z")), -7 * HOUR);
        assert_eq!(z.offset_at(at("2020-11-01T08:59:59Z")), -7 * HOUR);
        assert_eq!(z.offset_at(at("2020-11-01T09:00:00Z")), -8 * HOUR);
        assert_eq!(z.offset_range(), (-8 * HOUR, -7 * HOUR));
    }

    #[test]
    fn gap_has_no_instant_and_overlap_has_two() {
        let z = los_angeles();
        assert!(z.instants_of_local(local("2020-03-08 02:30:00")).is_empty());
        assert_eq!(
            z.instants_of_local(local("2020-03-08 03:00:00")),
            [at("2020-03-08T03:00:00-07:00")]
        );
        assert_eq!(
            z.instants_of_local(local("2020-11-01 01:30:00")),
            [
                at("2020-11-01T01:30:00-07:00"),
                at("2020-11-01T01:30:00-08:00")
            ]
        );
        assert_eq!(
            z.instants_of_local(local("2020-11-01 02:00:00")),
            [at("2020-11-01T02:00:00-08:00")]
        );
    }

    #[test]
    fn european_rule_with_switch_time_and_last_sunday() {
        let z = paris();
        // 2024: last Sunday of March is the 31st, of October the 27th.
        assert_eq!(z.offset_at(at("2024-03-31T00:59:59Z")), HOUR);
        assert_eq!(z.offset_at(at("2024-03-31T01:00:00Z")), 2 * HOUR);
        assert_eq!(z.offset_at(at("2024-10-27T00:59:59Z")), 2 * HOUR);
        assert_eq!(z.offset_at(at("2024-10-27T01:00:00Z")), HOUR);
    }

    #[test]
    fn southern_rule_spans_the_new_year() {
        // Australia/Sydney: daylight time from the first Sunday of October to the first
        // Sunday of April, switching at 02:00 standard and 03:00 daylight time.
        let z = Zone::from_posix("Australia/Sydney", "AEST-10AEDT,M10.1.0,M4.1.0/3").unwrap();
        assert_eq!(z.offset_at(at("2024-01-15T00:00:00Z")), 11 * HOUR);
        assert_eq!(z.offset_at(at("2024-04-06T15:59:59Z")), 11 * HOUR);
        assert_eq!(z.offset_at(at("2024-04-06T16:00:00Z")), 10 * HOUR);
        assert_eq!(z.offset_at(at("2024-07-01T00:00:00Z")), 10 * HOUR);
        assert_eq!(z.offset_at(at("2024-10-05T16:00:00Z")), 11 * HOUR);
    }

    #[test]
    fn other_rule_forms() {
        let fixed = Zone::from_posix("Asia/Kolkata", "IST-5:30").unwrap();
        assert_eq!(fixed.offset_at(0), 5 * HOUR + 1800);
        let quoted = Zone::from_posix("America/Sao_Paulo", "<-03>3").unwrap();
        assert_eq!(quoted.offset_at(0), -3 * HOUR);
        // Daylight time all year, as some zones write it.
        let always = Zone::from_posix("X", "EST5EDT,0/0,J365/25").unwrap();
        assert_eq!(always.offset_at(at("2024-01-01T12:00:00Z")), -4 * HOUR);
        assert_eq!(always.offset_at(at("2024-07-01T12:00:00Z")), -4 * HOUR);
        // Julian days skip February 29: J60 is March 1 in every year.
        let julian = Zone::from_posix("X", "AAA0BBB,J60/0,J300/0").unwrap();
        assert_eq!(julian.offset_at(at("2024-02-29T23:59:59Z")), 0);
        assert_eq!(julian.offset_at(at("2024-03-01T00:00:00Z")), HOUR);
        // No dates: the US ones.
        let us = Zone::from_posix("X", "EST5EDT").unwrap();
        assert_eq!(us.offset_at(at("2024-07-01T12:00:00Z")), -4 * HOUR);
        assert_eq!(us.offset_at(at("2024-12-01T12:00:00Z")), -5 * HOUR);
    }

    #[test]
    fn bad_rules_are_explained() {
        for (rule, wanted) in [
            ("", "standard time name"),
            ("AB1", "at least 3 characters"),
            ("ABC", "standard time offset"),
            ("ABC25", "25 is more than 24"),
            ("ABC5DEF,M13.1.0,M11.1.0", "13 is more than 12"),
            ("ABC5DEF,M3.1.0", "expected `,`"),
            ("ABC5DEF,M3.2.0,M11.1.0x", "unexpected `x`"),
            ("<AB", "`<` without `>`"),
        ] {
            let e = Zone::from_posix("Z", rule).unwrap_err().to_string();
            assert!(e.contains(wanted), "{rule}: {e}");
        }
    }

    #[test]
    fn tzif_table_then_footer_rule() {
        // Fixed -08:00 until 2000-01-01, then a single move to +01:00 until 2010-01-01,
        // then the Paris rule.
        let bytes = tzif(
            &[-8 * HOUR, HOUR],
            &[
                (at("2000-01-01T00:00:00Z"), 1),
                (at("2010-01-01T00:00:00Z"), 1),
            ],
            "CET-1CEST,M3.5.0,M10.5.0/3",
        );
        let z = Zone::from_tzif("Test/Zone", &bytes).unwrap();
        assert_eq!(z.name(), "Test/Zone");
        assert_eq!(z.offset_at(at("1999-06-01T00:00:00Z")), -8 * HOUR);
        assert_eq!(z.offset_at(at("2005-06-01T00:00:00Z")), HOUR);
        assert_eq!(z.offset_at(at("2024-06-01T00:00:00Z")), 2 * HOUR);
        assert_eq!(z.offset_range(), (-8 * HOUR, 2 * HOUR));
        // The table's jump forward: local times skipped by it name no instant.
        assert!(z.instants_of_local(local("2000-01-01 00:30:00")).is_empty());
        assert!(z.instants_of_local(local("1999-12-31 16:00:00")).is_empty());
        assert_eq!(
            z.instants_of_local(local("2000-01-01 09:00:00")),
            [at("2000-01-01T09:00:00+01:00")]
        );
    }

    #[test]
    fn tzif_without_footer_keeps_the_last_offset() {
        let bytes = tzif(&[0, 3 * HOUR], &[(at("2016-03-27T00:00:00Z"), 1)], "");
        let z = Zone::from_tzif("Test/Fixed", &bytes).unwrap();
        assert_eq!(z.offset_at(at("2030-01-01T00:00:00Z")), 3 * HOUR);
    }

    #[test]
    fn broken_tzif_is_rejected() {
        let good = tzif(&[0, HOUR], &[(10, 1), (20, 0)], "");
        for (bytes, wanted) in [
            (b"TZi".to_vec(), "truncated"),
            (
                b"NOPE0000000000000000000000000000000000000000".to_vec(),
                "no `TZif` magic",
            ),
            (good[..good.len() - 3].to_vec(), "truncated"),
            (tzif(&[0, HOUR], &[(20, 1), (10, 0)], ""), "not ascending"),
            (tzif(&[0], &[(10, 3)], ""), "does not exist"),
            (tzif(&[100_000], &[], ""), "out of range"),
            (tzif(&[0], &[], "bad"), "TZif footer `bad`"),
            (vec![0; MAX_TZIF_BYTES + 1], "more than"),
        ] {
            let e = Zone::from_tzif("Bad", &bytes).unwrap_err().to_string();
            assert!(e.contains(wanted), "wanted {wanted:?} in {e}");
            assert!(e.starts_with("time zone `Bad`"), "{e}");
        }
    }

    #[test]
    fn zone_directory_reads_files_and_refuses_paths() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("Test")).unwrap();
        let bytes = tzif(&[0, 5 * HOUR], &[(0, 1)], "");
        std::fs::write(dir.path().join("Test/Five"), bytes).unwrap();
        let zones = ZoneInfoDir::new(dir.path(), los_angeles());
        assert_eq!(zones.zone("Test/Five").unwrap().offset_at(100), 5 * HOUR);
        assert_eq!(zones.zone("UTC").unwrap(), Zone::utc());
        assert_eq!(zones.zone("Local").unwrap(), los_angeles());
        assert_eq!(zones.default_zone(), los_angeles());
        let missing = zones.zone("Mars/Olympus_Mons").unwrap_err().to_string();
        assert!(
            missing.contains("unknown time zone `Mars/Olympus_Mons`"),
            "{missing}"
        );
        for name in [
            "../etc/passwd",
            "/etc/passwd",
            "Test//Five",
            "Test/./Five",
            "a b",
            "",
        ] {
            let e = zones.zone(name).unwrap_err().to_string();
            assert!(e.contains("is not a time zone name"), "{name}: {e}");
        }
    }

    #[test]
    fn chrono_agrees_on_a_fixed_offset() {
        // A sanity check of the arithmetic against chrono's own offsets.
        let z = Zone::from_posix("X", "<+0545>-5:45").unwrap();
        let t = Utc.with_ymd_and_hms(2024, 5, 1, 0, 0, 0).unwrap();
        let offset = chrono::FixedOffset::east_opt(z.offset_at(t.timestamp())).unwrap();
        assert_eq!(
            t.with_timezone(&offset).to_rfc3339(),
            "2024-05-01T05:45:00+05:45"
        );
    }
}
