//! A dependency's `filters`, with the semantics of Argo Events' `sensors/dependencies/filter.go`.
//!
//! - `exprs`: each is a govaluate expression over `fields` read from the event data with GJSON
//!   paths; it passes when the result is exactly `true`. A filter with no fields is skipped.
//!   A field whose path finds nothing is an error.
//! - `data`: the value at `path` (GJSON) is compared with each of `value` (any one matching is
//!   enough): type `string` values are unanchored regular expressions (`=` matches, `!=` must not
//!   match; other comparators never match, as in Argo); `number` values compare with the
//!   comparator; `bool` values compare for equality (Argo ignores the comparator). With a
//!   `template`, the value (as a string) is first rendered through it as `.Input`. A path that
//!   finds nothing is an error.
//! - `context`: each non-empty of `type`, `subject`, `source`, `datacontenttype` must equal the
//!   event's.
//! - `time`: the event's time must fall in `[start, stop)` of its day (in `timezone`, UTC by
//!   default); when `stop` is before `start` the window crosses midnight.
//! - `script`: a Lua script over `event` (the data) that must return `true`.
//!
//! `dataLogicalOperator` and `exprLogicalOperator` combine the filters of one kind (`and` by
//! default: the first false or failing filter decides; `or`: the first passing one decides,
//! errors are collected). `filtersLogicalOperator` combines the kinds: with `and` every kind is
//! evaluated and must pass (an error of any kind discards the event); with `or` a kind that is
//! present and passes is enough (errors of other kinds are kept as warnings), except that a
//! script error always discards the event, as in Argo. An event without data passes `data`,
//! `exprs` and `script`.
//!
//! Everything that can be checked without an event (paths, values, regular expressions,
//! expressions, templates, times, zones, scripts) is checked by [`Filters::compile`], so that a
//! broken filter is a clear error when the sensor is applied instead of a discarded event later.

use chrono::{DateTime, NaiveDate, NaiveTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use regex::Regex;
use serde_json::Value;
use switchyard_expr::govaluate::{Expression, Value as GoValue};
use switchyard_model::events::{
    DataFilter, DataFilterComparator, DataFilterType, EventContextFilter, EventDependencyFilter,
    ExprFilter, FilterLogicalOperator, TimeFilter,
};
use switchyard_paths::Found;

use crate::event::EventInput;
use crate::json::data_object;
use crate::lua::Script;
use crate::problem::{Problems, index, key};
use crate::template::Tpl;

/// The largest compiled program accepted for a filter's regular expression, in bytes (the
/// `regex` crate matches in linear time; this bounds memory).
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// What one filter kind, or all of them, decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Check {
    Pass,
    /// Did not pass; why, for the `events` command.
    Fail(String),
}

/// The verdict of all the filters of a dependency on one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FilterOutcome {
    /// Passed; errors of kinds that did not matter (`or`) are kept as warnings.
    Pass(Vec<String>),
    Fail(String),
    Error(String),
}

/// A dependency's compiled filters.
#[derive(Debug)]
pub(crate) struct Filters {
    exprs: Vec<CompiledExpr>,
    expr_or: bool,
    data: Vec<CompiledData>,
    data_or: bool,
    context: Option<EventContextFilter>,
    time: Option<CompiledTime>,
    script: Option<Script>,
    /// `filtersLogicalOperator: or`.
    kinds_or: bool,
}

#[derive(Debug)]
struct CompiledExpr {
    expr: Expression,
    fields: Vec<(String, String)>,
}

#[derive(Debug)]
struct CompiledData {
    path: String,
    template: Option<Tpl>,
    comparator: DataFilterComparator,
    values: DataValues,
}

#[derive(Debug)]
enum DataValues {
    Bool(Vec<bool>),
    Number(Vec<f64>),
    /// The regular expressions and their text, for messages.
    String(Vec<(Regex, String)>),
}

#[derive(Debug)]
struct CompiledTime {
    start: NaiveTime,
    stop: NaiveTime,
    zone: Option<Tz>,
}

impl Filters {
    /// Compiles `filters` of the dependency at `path` (`spec.dependencies[0]`).
    pub(crate) fn compile(
        filters: &EventDependencyFilter,
        operator: Option<FilterLogicalOperator>,
        path: &str,
        problems: &mut Problems,
    ) -> Filters {
        let fpath = key(path, "filters");
        let exprs = filters
            .exprs
            .iter()
            .enumerate()
            .filter_map(|(i, f)| compile_expr(f, &index(&key(&fpath, "exprs"), i), problems))
            .collect();
        let data = filters
            .data
            .iter()
            .enumerate()
            .filter_map(|(i, f)| compile_data(f, &index(&key(&fpath, "data"), i), problems))
            .collect();
        let time = filters
            .time
            .as_ref()
            .and_then(|t| compile_time(t, &key(&fpath, "time"), problems));
        let script = filters
            .script
            .as_deref()
            .filter(|s| !s.is_empty())
            .and_then(|s| match Script::compile(s) {
                Ok(script) => Some(script),
                Err(e) => {
                    problems.error(key(&fpath, "script"), format!("is not valid Lua: {e}"));
                    None
                }
            });
        // A filter that failed to compile is left out; the problems stop the sensor from
        // compiling, so the shortened lists are never evaluated.
        Filters {
            exprs,
            expr_or: filters.expr_logical_operator == Some(FilterLogicalOperator::Or),
            data,
            data_or: filters.data_logical_operator == Some(FilterLogicalOperator::Or),
            context: filters.context.clone(),
            time,
            script,
            kinds_or: operator == Some(FilterLogicalOperator::Or),
        }
    }

    /// Evaluates every filter on `event` (already transformed), as Argo's `filterEvent` does.
    pub(crate) fn evaluate(&self, event: &EventInput) -> FilterOutcome {
        // Argo reads the data as text for GJSON; bytes that are not UTF-8 are not valid JSON.
        let data = if event.has_data() {
            Some(std::str::from_utf8(&event.data).map_err(|_| ()))
        } else {
            None
        };
        // In Argo's order: exprs, data (an error of either ends `and` at once), context, time,
        // script (an error ends both `and` and `or`).
        let exprs = self.check_exprs(data);
        let data_check = self.check_data(data);
        if !self.kinds_or {
            for result in [&exprs, &data_check] {
                if let Err(e) = result {
                    return FilterOutcome::Error(e.clone());
                }
            }
        }
        let context = self.context.as_ref().map(|c| check_context(c, event));
        let time = self.time.as_ref().map(|t| t.check(event.context.time));
        let script = match &self.script {
            None => None,
            Some(s) => match check_script(s, event) {
                Err(e) => return FilterOutcome::Error(format!("script filter error ({e})")),
                Ok(c) => Some(c),
            },
        };
        let mut errors = Vec::new();
        let mut reasons = Vec::new();
        let mut any_pass = false;
        for (present, result) in [
            (!self.exprs.is_empty(), exprs),
            (!self.data.is_empty(), data_check),
        ] {
            match result {
                Err(e) => errors.push(e),
                Ok(Check::Pass) => any_pass |= present,
                Ok(Check::Fail(r)) => reasons.push(r),
            }
        }
        for check in [context, time, script].into_iter().flatten() {
            match check {
                Check::Pass => any_pass = true,
                Check::Fail(r) => reasons.push(r),
            }
        }
        if !self.kinds_or {
            // Every kind passed (absent kinds pass), or the first that did not says why.
            return match reasons.into_iter().next() {
                Some(r) => FilterOutcome::Fail(r),
                None => FilterOutcome::Pass(Vec::new()),
            };
        }
        if any_pass {
            FilterOutcome::Pass(errors)
        } else if !errors.is_empty() {
            FilterOutcome::Error(errors.join(" / "))
        } else if reasons.is_empty() {
            FilterOutcome::Fail("no filter is set, and `or` of no filters is false".into())
        } else {
            FilterOutcome::Fail(format!("no filter passed: {}", reasons.join("; ")))
        }
    }

    /// Argo's `filterExpr`.
    fn check_exprs(&self, data: Option<Result<&str, ()>>) -> Result<Check, String> {
        if self.exprs.is_empty() {
            return Ok(Check::Pass);
        }
        let Some(data) = data else {
            return Ok(Check::Pass);
        };
        let data = match data {
            Ok(text) if switchyard_paths::is_valid_json(text) => text,
            _ => return Err("expr filter error (event data not valid JSON)".into()),
        };
        let or = self.expr_or;
        let mut errors = Vec::new();
        'filters: for (i, filter) in self.exprs.iter().enumerate() {
            let mut params: Vec<(&str, GoValue)> = Vec::with_capacity(filter.fields.len());
            for (name, path) in &filter.fields {
                let found = switchyard_paths::get(data, path)
                    .and_then(|f| f.to_value().ok())
                    .map(|v| GoValue::from(&v));
                match found {
                    Some(value) => params.push((name, value)),
                    None => {
                        let message = format!("path '{path}' does not exist");
                        if or {
                            errors.push(message);
                            continue 'filters;
                        }
                        return Err(format!("expr filter error ({message})"));
                    }
                }
            }
            if params.is_empty() {
                continue;
            }
            let lookup = |name: &str| {
                params
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.clone())
            };
            match filter.expr.evaluate(&lookup) {
                Err(e) => {
                    if or {
                        errors.push(e.to_string());
                        continue;
                    }
                    return Err(format!("expr filter error ({e})"));
                }
                Ok(GoValue::Bool(true)) => {
                    if or {
                        return Ok(Check::Pass);
                    }
                }
                Ok(other) => {
                    if !or {
                        return Ok(Check::Fail(format!(
                            "filters.exprs[{i}] `{}` is {}",
                            filter.expr.source(),
                            other.go_v()
                        )));
                    }
                }
            }
        }
        if or {
            if errors.is_empty() {
                Ok(Check::Fail("no expr filter passed".into()))
            } else {
                Err(format!("expr filter errors [{}]", errors.join(" / ")))
            }
        } else {
            Ok(Check::Pass)
        }
    }

    /// Argo's `filterData`.
    fn check_data(&self, data: Option<Result<&str, ()>>) -> Result<Check, String> {
        if self.data.is_empty() {
            return Ok(Check::Pass);
        }
        let Some(data) = data else {
            return Ok(Check::Pass);
        };
        let data = match data {
            Ok(text) if switchyard_paths::is_valid_json(text) => text,
            _ => return Err("data filter error (event data not valid JSON)".into()),
        };
        let or = self.data_or;
        let mut errors = Vec::new();
        for (i, filter) in self.data.iter().enumerate() {
            let Some(found) = switchyard_paths::get(data, &filter.path) else {
                let message = format!("path '{}' does not exist", filter.path);
                if or {
                    errors.push(message);
                    continue;
                }
                return Err(format!("data filter error ({message})"));
            };
            let subject = match &filter.template {
                None => Subject::Found(found),
                Some(t) => match t.render_input(Value::String(found.gjson_string())) {
                    Ok(out) => Subject::Text(out),
                    Err(e) => {
                        if or {
                            errors.push(e);
                            continue;
                        }
                        return Err(format!("data filter error ({e})"));
                    }
                },
            };
            let matched = filter.matches(&subject);
            match (matched, or) {
                (true, true) => return Ok(Check::Pass),
                (false, false) => {
                    return Ok(Check::Fail(format!(
                        "filters.data[{i}]: `{}` is {}, {}",
                        filter.path,
                        subject.describe(),
                        filter.wanted()
                    )));
                }
                _ => {}
            }
        }
        if or {
            if errors.is_empty() {
                Ok(Check::Fail("no data filter matched".into()))
            } else {
                Err(format!("data filter errors [{}]", errors.join(" / ")))
            }
        } else {
            Ok(Check::Pass)
        }
    }
}

/// The value a data filter tests: what the path found, or a template's output.
enum Subject {
    Found(Found),
    Text(String),
}

impl Subject {
    /// GJSON's `Result.String()`.
    fn string(&self) -> String {
        match self {
            Subject::Found(f) => f.gjson_string(),
            Subject::Text(t) => t.clone(),
        }
    }

    /// GJSON's `Result.Bool()`.
    fn bool(&self) -> bool {
        match self {
            Subject::Found(f) => f.gjson_bool(),
            Subject::Text(t) => matches!(t.to_lowercase().as_str(), "1" | "t" | "true"),
        }
    }

    /// GJSON's `Result.Float()`.
    fn float(&self) -> f64 {
        match self {
            Subject::Found(f) => f.gjson_float(),
            Subject::Text(t) => t.parse().unwrap_or(0.0),
        }
    }

    fn describe(&self) -> String {
        match self {
            Subject::Found(f) => format!("`{}`", f.raw()),
            Subject::Text(t) => format!("`{t}` after the template"),
        }
    }
}

impl CompiledData {
    fn matches(&self, subject: &Subject) -> bool {
        use DataFilterComparator as C;
        match &self.values {
            DataValues::Bool(values) => {
                let actual = subject.bool();
                values.contains(&actual)
            }
            DataValues::Number(values) => {
                let actual = subject.float();
                values.iter().any(|v| match self.comparator {
                    C::GreaterThanOrEqualTo => actual >= *v,
                    C::GreaterThan => actual > *v,
                    C::LessThan => actual < *v,
                    C::LessThanOrEqualTo => actual <= *v,
                    C::NotEqualTo => actual != *v,
                    C::EqualTo => actual == *v,
                })
            }
            DataValues::String(values) => {
                let actual = subject.string();
                values.iter().any(|(re, _)| match self.comparator {
                    C::EqualTo => re.is_match(&actual),
                    C::NotEqualTo => !re.is_match(&actual),
                    _ => false,
                })
            }
        }
    }

    /// What the filter wanted, for a failure reason.
    fn wanted(&self) -> String {
        let op = comparator_text(self.comparator);
        match &self.values {
            DataValues::Bool(values) => format!("not one of {values:?}"),
            DataValues::Number(values) => format!("not {op} any of {values:?}"),
            DataValues::String(values) => {
                let list: Vec<&str> = values.iter().map(|(_, s)| s.as_str()).collect();
                match self.comparator {
                    DataFilterComparator::NotEqualTo => {
                        format!("which matches every one of {list:?}")
                    }
                    DataFilterComparator::EqualTo => format!("which matches none of {list:?}"),
                    _ => format!("and a string filter with `{op}` never matches"),
                }
            }
        }
    }
}

fn comparator_text(c: DataFilterComparator) -> &'static str {
    use DataFilterComparator as C;
    match c {
        C::GreaterThanOrEqualTo => ">=",
        C::GreaterThan => ">",
        C::EqualTo => "=",
        C::NotEqualTo => "!=",
        C::LessThan => "<",
        C::LessThanOrEqualTo => "<=",
    }
}

/// Argo's `filterContext`.
fn check_context(wanted: &EventContextFilter, event: &EventInput) -> Check {
    let actual = &event.context;
    let fields = [
        ("type", wanted.type_.as_deref(), actual.type_.as_str()),
        ("subject", wanted.subject.as_deref(), &actual.subject),
        ("source", wanted.source.as_deref(), &actual.source),
        (
            "datacontenttype",
            wanted.datacontenttype.as_deref(),
            &actual.datacontenttype,
        ),
    ];
    for (name, want, have) in fields {
        if let Some(want) = want.filter(|w| !w.is_empty())
            && want != have
        {
            return Check::Fail(format!(
                "filters.context: `{name}` is `{have}`, the filter wants `{want}`"
            ));
        }
    }
    Check::Pass
}

/// Argo's `filterScript`.
fn check_script(script: &Script, event: &EventInput) -> Result<Check, String> {
    if !event.has_data() {
        return Ok(Check::Pass);
    }
    let data = data_object(&event.data)?;
    Ok(if script.passes(&data)? {
        Check::Pass
    } else {
        Check::Fail("filters.script did not return true".into())
    })
}

impl CompiledTime {
    /// Argo's `filterTime`: `[start, stop)` on the event's date in the zone.
    fn check(&self, t: DateTime<Utc>) -> Check {
        let (start, stop) = match self.zone {
            None => {
                let day = t.date_naive();
                (
                    Utc.from_utc_datetime(&day.and_time(self.start)),
                    Utc.from_utc_datetime(&day.and_time(self.stop)),
                )
            }
            Some(zone) => {
                let day = t.with_timezone(&zone).date_naive();
                (at(zone, day, self.start), at(zone, day, self.stop))
            }
        };
        let inside = if start < stop {
            t >= start && t < stop
        } else {
            t >= start || t < stop
        };
        if inside {
            Check::Pass
        } else {
            let zone = self.zone.map_or("UTC".to_owned(), |z| z.name().to_owned());
            Check::Fail(format!(
                "filters.time: the event's time {} is outside {} to {} ({zone})",
                t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                self.start.format("%H:%M:%S"),
                self.stop.format("%H:%M:%S"),
            ))
        }
    }
}

/// A wall-clock time on `day` in `zone` as an instant, the way Go's `time.ParseInLocation`
/// resolves it: the earlier of two repeated times; a time skipped by a clock change is read
/// with the offset in effect before the change (so 02:30 on a spring-forward night in New York
/// is 03:30 EDT).
fn at(zone: Tz, day: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let local = day.and_time(time);
    match zone.from_local_datetime(&local) {
        chrono::LocalResult::Single(t) => t.with_timezone(&Utc),
        chrono::LocalResult::Ambiguous(earlier, _) => earlier.with_timezone(&Utc),
        chrono::LocalResult::None => {
            // No zone skips more than a few hours; three hours earlier is before the change.
            let before = zone
                .from_local_datetime(&(local - chrono::TimeDelta::hours(3)))
                .earliest()
                .map(|t| t.offset().fix());
            match before {
                Some(offset) => Utc.from_utc_datetime(&(local - offset)),
                None => Utc.from_utc_datetime(&local),
            }
        }
    }
}

fn compile_expr(filter: &ExprFilter, path: &str, problems: &mut Problems) -> Option<CompiledExpr> {
    let mut ok = true;
    let expr = match Expression::parse(&filter.expr) {
        Ok(e) => Some(e),
        Err(e) => {
            problems.error(
                key(path, "expr"),
                format!("is not a valid govaluate expression: {e}"),
            );
            None
        }
    };
    let mut fields = Vec::new();
    for (i, field) in filter.fields.iter().enumerate() {
        let fpath = index(&key(path, "fields"), i);
        if field.name.is_empty() {
            problems.error(key(&fpath, "name"), "a field needs a `name`");
            ok = false;
        }
        if let Err(e) = switchyard_paths::check_get_path(&field.path) {
            problems.error(key(&fpath, "path"), e.to_string());
            ok = false;
        }
        fields.push((field.name.clone(), field.path.clone()));
    }
    match expr {
        Some(expr) if ok => Some(CompiledExpr { expr, fields }),
        _ => None,
    }
}

fn compile_data(filter: &DataFilter, path: &str, problems: &mut Problems) -> Option<CompiledData> {
    let before = problems.errors.len();
    if let Err(e) = switchyard_paths::check_get_path(&filter.path) {
        problems.error(key(path, "path"), e.to_string());
    }
    let vpath = key(path, "value");
    if filter.value.is_empty() {
        problems.error(
            &vpath,
            "no values specified: a data filter needs at least one value",
        );
    }
    let comparator = filter.comparator();
    let values = match filter.type_ {
        DataFilterType::Bool => {
            if comparator != DataFilterComparator::EqualTo {
                problems.warning(
                    key(path, "comparator"),
                    format!(
                        "`{}` has no effect on a bool filter: Argo Events compares booleans for equality only",
                        comparator_text(comparator)
                    ),
                );
            }
            let mut out = Vec::new();
            for (i, v) in filter.value.iter().enumerate() {
                match go_parse_bool(v) {
                    Some(b) => out.push(b),
                    None => problems.error(
                        index(&vpath, i),
                        format!("`{v}` is not a boolean (use true or false)"),
                    ),
                }
            }
            DataValues::Bool(out)
        }
        DataFilterType::Number => {
            let mut out = Vec::new();
            for (i, v) in filter.value.iter().enumerate() {
                match v.trim().parse::<f64>() {
                    Ok(n) if v.trim() == v => out.push(n),
                    _ => problems.error(index(&vpath, i), format!("`{v}` is not a number")),
                }
            }
            DataValues::Number(out)
        }
        DataFilterType::String => {
            if !matches!(
                comparator,
                DataFilterComparator::EqualTo | DataFilterComparator::NotEqualTo
            ) {
                problems.warning(
                    key(path, "comparator"),
                    format!(
                        "a string filter with `{}` never matches (Argo Events supports only `=` and `!=` for strings)",
                        comparator_text(comparator)
                    ),
                );
            }
            let mut out = Vec::new();
            for (i, v) in filter.value.iter().enumerate() {
                match regex::RegexBuilder::new(v)
                    .size_limit(REGEX_SIZE_LIMIT)
                    .build()
                {
                    Ok(re) => out.push((re, v.clone())),
                    Err(e) => problems.error(
                        index(&vpath, i),
                        format!(
                            "`{v}` is not a valid regular expression: {}",
                            regex_message(&e)
                        ),
                    ),
                }
            }
            DataValues::String(out)
        }
    };
    let template = match filter.template.as_deref().filter(|t| !t.is_empty()) {
        None => None,
        Some(t) => match Tpl::parse(t) {
            Ok(t) => Some(t),
            Err(e) => {
                problems.error(
                    key(path, "template"),
                    format!("is not a valid template: {e}"),
                );
                None
            }
        },
    };
    (problems.errors.len() == before).then(|| CompiledData {
        path: filter.path.clone(),
        template,
        comparator,
        values,
    })
}

/// The regex crate's messages span several lines; the last one says what is wrong.
fn regex_message(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map_or(text.clone(), |l| {
            l.trim().trim_start_matches("error: ").to_owned()
        })
}

/// Go's `strconv.ParseBool`.
fn go_parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

fn compile_time(filter: &TimeFilter, path: &str, problems: &mut Problems) -> Option<CompiledTime> {
    let start = parse_clock(&filter.start).map_err(|e| problems.error(key(path, "start"), e));
    let stop = parse_clock(&filter.stop).map_err(|e| problems.error(key(path, "stop"), e));
    let zone = match filter.timezone.as_deref().filter(|z| !z.is_empty()) {
        None => Ok(None),
        Some(name) => parse_zone(name)
            .map(Some)
            .map_err(|e| problems.error(key(path, "timezone"), e)),
    };
    Some(CompiledTime {
        start: start.ok()?,
        stop: stop.ok()?,
        zone: zone.ok()?,
    })
}

/// An IANA zone name, as Go's `time.LoadLocation` reads it (`UTC` and `Local`, which is UTC
/// here: Switchyard's sensors do not depend on the host's zone).
pub(crate) fn parse_zone(name: &str) -> Result<Tz, String> {
    if name == "Local" {
        return Ok(Tz::UTC);
    }
    name.parse::<Tz>()
        .map_err(|_| format!("unknown time zone `{name}`: use an IANA name such as `Europe/Paris`"))
}

/// `HH:MM:SS` as Go's `time.Parse("15:04:05")` reads it: one or two digits of hours, two of
/// minutes and seconds.
fn parse_clock(text: &str) -> Result<NaiveTime, String> {
    let err = || format!("`{text}` is not a time of day in the form HH:MM:SS");
    let mut parts = text.split(':');
    let (Some(h), Some(m), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(err());
    };
    let digits = |p: &str, lens: &[usize]| {
        (lens.contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse::<u32>().ok())
            .flatten()
    };
    let (Some(h), Some(m), Some(s)) = (digits(h, &[1, 2]), digits(m, &[2]), digits(s, &[2])) else {
        return Err(err());
    };
    NaiveTime::from_hms_opt(h, m, s)
        .ok_or_else(|| format!("`{text}` is out of range: hours 0-23, minutes and seconds 0-59"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_clock_times_like_go() {
        assert_eq!(
            parse_clock("08:00:00").unwrap(),
            NaiveTime::from_hms_opt(8, 0, 0).unwrap()
        );
        assert_eq!(
            parse_clock("8:05:09").unwrap(),
            NaiveTime::from_hms_opt(8, 5, 9).unwrap()
        );
        for bad in [
            "8:5:09",
            "24:00:00",
            "12:60:00",
            "12:00",
            "12:00:00:00",
            "ab:cd:ef",
            "",
        ] {
            assert!(parse_clock(bad).is_err(), "{bad}");
        }
        assert!(
            parse_zone("Mars/Olympus")
                .unwrap_err()
                .contains("unknown time zone")
        );
        assert_eq!(parse_zone("Local").unwrap(), Tz::UTC);
    }

    #[test]
    fn resolves_wall_times_across_clock_changes() {
        let zone: Tz = "America/New_York".parse().unwrap();
        // 2026-03-08 02:30 does not exist in New York: it moves to 03:30 EDT (07:30Z).
        let day = NaiveDate::from_ymd_opt(2026, 3, 8).unwrap();
        let t = at(zone, day, NaiveTime::from_hms_opt(2, 30, 0).unwrap());
        assert_eq!(t.to_rfc3339(), "2026-03-08T07:30:00+00:00");
        // 2026-11-01 01:30 happens twice: the first (EDT, 05:30Z) is taken.
        let day = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        let t = at(zone, day, NaiveTime::from_hms_opt(1, 30, 0).unwrap());
        assert_eq!(t.to_rfc3339(), "2026-11-01T05:30:00+00:00");
    }
}
