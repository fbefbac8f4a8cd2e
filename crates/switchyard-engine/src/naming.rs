//! Names, ids and small text formats the engine shares with Argo: node ids (FNV-1a of the node
//! name), display names, pod names, loop node names, Argo's duration strings (`"30"`, `"2m"`,
//! `"1h30m"`), the humanized durations of retry messages, and Go's quoting.

use std::time::Duration;

use serde_json::Value as Json;
use switchyard_expr::govaluate::Value as GoValue;

/// FNV-1a, 32 bits, as Go's `hash/fnv` `New32a`.
pub fn fnv1a_32(text: &str) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in text.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

/// Argo's `Workflow.NodeID`: the workflow name for the root node, otherwise
/// `<workflow>-<fnv1a32(node name)>`.
pub fn node_id(workflow: &str, node_name: &str) -> String {
    if node_name == workflow {
        workflow.to_string()
    } else {
        format!("{workflow}-{}", fnv1a_32(node_name))
    }
}

/// Argo's display name: the node name without its boundary's name, without a leading
/// `[N].` or `.`.
pub fn display_name(node_name: &str, boundary_name: Option<&str>) -> String {
    let Some(boundary) = boundary_name else {
        return node_name.to_string();
    };
    let rest = node_name.strip_prefix(boundary).unwrap_or(node_name);
    // `^(\[\d+\])?\.`
    let mut s = rest;
    if let Some(after) = s.strip_prefix('[')
        && let Some(close) = after.find(']')
        && close > 0
        && after[..close].bytes().all(|b| b.is_ascii_digit())
        && after[close + 1..].starts_with('.')
    {
        s = &after[close + 1..];
    }
    s.strip_prefix('.').unwrap_or(s).to_string()
}

/// Argo's v2 pod name: `<workflow>-<template>-<fnv1a32(node name)>`.
pub fn pod_name(workflow: &str, node_name: &str, template: &str) -> String {
    if node_name == workflow {
        return workflow.to_string();
    }
    const MAX_PREFIX: usize = 253 - 10 - 1;
    let mut prefix = if template.is_empty() {
        workflow.to_string()
    } else {
        format!("{workflow}-{template}")
    };
    if prefix.len() > MAX_PREFIX {
        let mut cut = MAX_PREFIX;
        while !prefix.is_char_boundary(cut) {
            cut -= 1;
        }
        prefix.truncate(cut);
    }
    format!("{prefix}-{}", fnv1a_32(node_name))
}

/// The name of a loop iteration: `name(index:description)` without parentheses in the
/// description, as Argo's `generateNodeName`.
pub fn loop_node_name(name: &str, index: usize, description: &str) -> String {
    let clean: String = description
        .chars()
        .filter(|c| *c != '(' && *c != ')')
        .collect();
    format!("{name}({index}:{clean})")
}

/// How an item appears in a loop node's name (Argo's `processItem`): strings as themselves,
/// numbers and booleans as written, maps as sorted `key:value` pairs joined by `,`, lists as
/// Go prints them.
pub fn item_description(item: &Json) -> String {
    match item {
        Json::String(s) => s.clone(),
        Json::Object(map) => {
            let mut pairs: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{k}:{}", go_v(v)))
                .collect();
            pairs.sort();
            pairs.join(",")
        }
        Json::Array(_) => go_v(item),
        other => switchyard_expr::stringify(other),
    }
}

/// Go's `%v` of a decoded JSON value (numbers as float64).
pub fn go_v(value: &Json) -> String {
    GoValue::from(value).go_v()
}

/// Parses Argo's duration strings: an integer is seconds; otherwise Go's `time.ParseDuration`
/// syntax (`300ms`, `1.5h`, `2h45m`; units `ns`, `us`, `µs`, `ms`, `s`, `m`, `h`).
/// Negative durations are refused.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let bad =
        || format!("unable to parse `{text}` as a duration (e.g. `30`, `30s`, `2m`, `1h30m`)");
    if let Ok(seconds) = t.parse::<i64>() {
        return u64::try_from(seconds)
            .map(Duration::from_secs)
            .map_err(|_| format!("duration `{text}` is negative"));
    }
    if t.starts_with('-') {
        return Err(format!("duration `{text}` is negative"));
    }
    let mut rest = t.strip_prefix('+').unwrap_or(t);
    if rest.is_empty() {
        return Err(bad());
    }
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if number_len == 0 {
            return Err(bad());
        }
        let number: f64 = rest[..number_len].parse().map_err(|_| bad())?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let nanos_per_unit = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total += number * nanos_per_unit;
    }
    if !total.is_finite() || total > u64::MAX as f64 {
        return Err(bad());
    }
    Ok(Duration::from_nanos(total as u64))
}

/// Argo's `humanize.Duration`: up to two units, e.g. `1 second`, `45 seconds`,
/// `2 minutes 30 seconds`, `1 hour 0 minutes`, `3 days 4 hours`.
pub fn humanize(d: Duration) -> String {
    let secs = d.as_secs();
    let plural = |n: u64, unit: &str| {
        if n == 1 {
            format!("1 {unit}")
        } else {
            format!("{n} {unit}s")
        }
    };
    if secs < 60 {
        return plural(secs, "second");
    }
    if secs < 3600 {
        return format!("{} {} seconds", plural(secs / 60, "minute"), secs % 60);
    }
    if secs < 86_400 {
        return format!(
            "{} {} minutes",
            plural(secs / 3600, "hour"),
            (secs / 60) % 60
        );
    }
    format!(
        "{} {} hours",
        plural(secs / 86_400, "day"),
        (secs / 3600) % 24
    )
}

/// Go's `strconv.Quote`: a double-quoted string with Go escapes.
pub fn go_quote(s: &str) -> String {
    switchyard_expr::gofmt::quote(s)
}

/// A JSON string literal as Go's `encoding/json` writes it (HTML-safe escapes).
pub fn go_json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    switchyard_expr::gofmt::write_json_string(s, &mut out);
    out
}

/// Go's `printf` of one integer with a format such as `%d`, `%02d`, `%x`, `%5X`, `%-3d`
/// (what `withSequence.format` takes). Other verbs print as Go prints a bad verb.
pub fn go_printf_int(format: &str, value: i64) -> String {
    let mut out = String::new();
    let mut chars = format.chars().peekable();
    let mut used = false;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            out.push('%');
            continue;
        }
        let mut left = false;
        let mut zero = false;
        let mut plus = false;
        while let Some(&f) = chars.peek() {
            match f {
                '-' => left = true,
                '0' => zero = true,
                '+' => plus = true,
                ' ' | '#' => {}
                _ => break,
            }
            chars.next();
        }
        let mut width = 0usize;
        while let Some(&d) = chars.peek() {
            if let Some(v) = d.to_digit(10) {
                width = width * 10 + v as usize;
                chars.next();
            } else {
                break;
            }
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if used {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        }
        used = true;
        let negative = value < 0;
        let magnitude = value.unsigned_abs();
        let digits = match verb {
            'd' | 'v' => magnitude.to_string(),
            'x' => format!("{magnitude:x}"),
            'X' => format!("{magnitude:X}"),
            'o' => format!("{magnitude:o}"),
            'b' => format!("{magnitude:b}"),
            other => {
                out.push_str(&format!("%!{other}(int={value})"));
                continue;
            }
        };
        let sign = if negative {
            "-"
        } else if plus {
            "+"
        } else {
            ""
        };
        let len = sign.len() + digits.len();
        let pad = width.saturating_sub(len);
        if left {
            out.push_str(sign);
            out.push_str(&digits);
            out.push_str(&" ".repeat(pad));
        } else if zero {
            out.push_str(sign);
            out.push_str(&"0".repeat(pad));
            out.push_str(&digits);
        } else {
            out.push_str(&" ".repeat(pad));
            out.push_str(sign);
            out.push_str(&digits);
        }
    }
    out
}

/// Environment variable name for an input parameter: `INPUT_PARAMETER_` and the name in upper
/// case with every character other than a letter or digit replaced by `_`.
pub fn input_env_name(parameter: &str) -> String {
    let mut out = String::from("INPUT_PARAMETER_");
    for c in parameter.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_uppercase());
        } else {
            out.push('_');
        }
    }
    out
}

/// Kubernetes' `$(VAR)` expansion of container `command`, `args` and `env` values: `$(NAME)`
/// becomes the variable's value when it is defined and stays as written otherwise; `$$`
/// becomes `$` (so `$$(NAME)` is the literal `$(NAME)`).
pub fn expand_k8s_vars(input: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let Some(next) = after.chars().next() else {
            // A trailing `$` is kept.
            out.push('$');
            rest = after;
            break;
        };
        match next {
            '$' => {
                out.push('$');
                rest = &after[1..];
            }
            '(' => match after[1..].find(')') {
                Some(close) => {
                    let name = &after[1..1 + close];
                    match lookup(name) {
                        Some(value) => out.push_str(&value),
                        None => {
                            out.push_str("$(");
                            out.push_str(name);
                            out.push(')');
                        }
                    }
                    rest = &after[2 + close..];
                }
                None => {
                    out.push_str("$(");
                    rest = &after[1..];
                }
            },
            other => {
                out.push('$');
                out.push(other);
                rest = &after[other.len_utf8()..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// RFC 3339 with seconds and `Z`, as Argo prints times in variables.
pub fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn node_ids_match_argo() {
        // FNV-1a 32-bit reference values, and Argo's rule for the root node.
        assert_eq!(fnv1a_32(""), 0x811c_9dc5);
        assert_eq!(fnv1a_32("a"), 0xe40c_292c);
        assert_eq!(fnv1a_32("foobar"), 0xbf9c_f968);
        assert_eq!(node_id("wf", "wf"), "wf");
        assert_eq!(node_id("wf", "a"), format!("wf-{}", 0xe40c_292c_u32));
    }

    #[test]
    fn display_names() {
        let cases = [
            ("wf", None, "wf"),
            ("wf[0]", Some("wf"), "[0]"),
            ("wf[0].hello", Some("wf"), "hello"),
            ("wf[12].x(0:a)", Some("wf"), "x(0:a)"),
            ("wf.A", Some("wf"), "A"),
            ("wf.A(0:1)", Some("wf"), "A(0:1)"),
            ("wf.onExit", None, "wf.onExit"),
            ("wf[0].x.onExit", Some("wf"), "x.onExit"),
            ("wf.inner[0].y", Some("wf.inner"), "y"),
        ];
        for (name, boundary, want) in cases {
            assert_eq!(display_name(name, boundary), want, "{name}");
        }
    }

    #[test]
    fn loop_names_and_items() {
        let cases = [
            (json!("hello"), "hello"),
            (json!(1), "1"),
            (json!(2.5), "2.5"),
            (json!(true), "true"),
            (json!({"os": "debian", "version": 9}), "os:debian,version:9"),
            (json!({"b": [1, 2], "a": {"x": "y"}}), "a:map[x:y],b:[1 2]"),
            (json!(["a", 1]), "[a 1]"),
        ];
        for (item, want) in cases {
            assert_eq!(item_description(&item), want, "{item}");
        }
        assert_eq!(loop_node_name("wf[0].x", 3, "f(a)"), "wf[0].x(3:fa)");
    }

    #[test]
    fn durations_parse_like_argo() {
        let ok = [
            ("20", 20_000),
            ("0", 0),
            ("10s", 10_000),
            ("2m", 120_000),
            ("1h30m", 5_400_000),
            ("1.5h", 5_400_000),
            ("300ms", 300),
            (" 5s ", 5_000),
        ];
        for (text, millis) in ok {
            assert_eq!(
                parse_duration(text).map(|d| d.as_millis()),
                Ok(millis),
                "{text}"
            );
        }
        for bad in ["", "abc", "10x", "-5", "-1s", "s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn humanized_durations() {
        let cases = [
            (0, "0 seconds"),
            (1, "1 second"),
            (2, "2 seconds"),
            (59, "59 seconds"),
            (60, "1 minute 0 seconds"),
            (90, "1 minute 30 seconds"),
            (3600, "1 hour 0 minutes"),
            (7260, "2 hours 1 minutes"),
            (86_400, "1 day 0 hours"),
        ];
        for (secs, want) in cases {
            assert_eq!(humanize(Duration::from_secs(secs)), want);
        }
    }

    #[test]
    fn printf_of_sequences() {
        let cases = [
            ("%d", 5, "5"),
            ("%02d", 5, "05"),
            ("2020-05-%02X", 10, "2020-05-0A"),
            ("%x", 255, "ff"),
            ("%5d|", -3, "   -3|"),
            ("%-4d|", 7, "7   |"),
            ("n%%%d", 1, "n%1"),
            ("%d-%d", 1, "1-%!d(MISSING)"),
            ("plain", 1, "plain"),
        ];
        for (format, value, want) in cases {
            assert_eq!(go_printf_int(format, value), want, "{format}");
        }
    }

    #[test]
    fn kubernetes_variable_expansion() {
        let lookup = |name: &str| match name {
            "A" => Some("alpha".to_string()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        let cases = [
            ("$(A)", "alpha"),
            ("x-$(A)-y", "x-alpha-y"),
            ("$(EMPTY)|", "|"),
            ("$(MISSING)", "$(MISSING)"),
            ("$$(A)", "$(A)"),
            ("$$$(A)", "$alpha"),
            ("$$", "$"),
            ("$", "$"),
            ("a$b", "a$b"),
            ("$(A", "$(A"),
            ("cost: $5", "cost: $5"),
            ("é$(A)é", "éalphaé"),
        ];
        for (input, want) in cases {
            assert_eq!(expand_k8s_vars(input, &lookup), want, "{input}");
        }
    }

    #[test]
    fn go_quoting() {
        assert_eq!(go_quote("a\"b\\c\nd"), r#""a\"b\\c\nd""#);
        assert_eq!(go_json_string("<a&b>\"é"), r#""\u003ca\u0026b\u003e\"é""#);
        assert_eq!(
            input_env_name("cloud-provider.x"),
            "INPUT_PARAMETER_CLOUD_PROVIDER_X"
        );
    }

    #[test]
    fn pod_names() {
        assert_eq!(pod_name("wf", "wf", "main"), "wf");
        assert_eq!(
            pod_name("wf", "wf[0].a", "echo"),
            format!("wf-echo-{}", fnv1a_32("wf[0].a"))
        );
    }
}
