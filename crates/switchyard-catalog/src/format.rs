//! The string formats an input schema may name (`format: email`), each a practical check with the error type and
//! wording Pydantic uses for the matching type (`EmailStr`, `AnyUrl`, `date`, `datetime`, `UUID`).
//!
//! These are deliberately syntactic: nothing here resolves a domain or contacts a server.

use serde_json::{Value, json};

/// A `format` the input schema subset supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Email,
    Uri,
    Date,
    DateTime,
    Uuid,
    Hostname,
}

impl Format {
    pub const ALL: &'static [Format] = &[
        Format::Email,
        Format::Uri,
        Format::Date,
        Format::DateTime,
        Format::Uuid,
        Format::Hostname,
    ];

    /// The name used in schemas.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Email => "email",
            Format::Uri => "uri",
            Format::Date => "date",
            Format::DateTime => "date-time",
            Format::Uuid => "uuid",
            Format::Hostname => "hostname",
        }
    }

    pub fn parse(name: &str) -> Option<Format> {
        Format::ALL.iter().copied().find(|f| f.as_str() == name)
    }
}

/// Why a string is not of its format: the error type, message and context of the field error.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Refusal {
    pub kind: &'static str,
    pub msg: String,
    pub ctx: Option<Value>,
}

/// Checks `text` against `format`.
pub(crate) fn check(format: Format, text: &str) -> Result<(), Refusal> {
    match format {
        Format::Email => email(text).map_err(|reason| Refusal {
            kind: "value_error",
            msg: format!("value is not a valid email address: {reason}"),
            ctx: Some(json!({ "reason": reason })),
        }),
        Format::Hostname => hostname(text).map_err(|reason| Refusal {
            kind: "value_error",
            msg: format!("value is not a valid hostname: {reason}"),
            ctx: Some(json!({ "reason": reason })),
        }),
        Format::Uri => uri(text).map_err(|error| Refusal {
            kind: "url_parsing",
            msg: format!("Input should be a valid URL, {error}"),
            ctx: Some(json!({ "error": error })),
        }),
        Format::Uuid => uuid(text).map_err(|error| Refusal {
            kind: "uuid_parsing",
            msg: format!("Input should be a valid UUID, {error}"),
            ctx: Some(json!({ "error": error })),
        }),
        Format::Date => {
            let rest = date(text).map_err(|error| date_refusal(&error))?;
            if rest.is_empty() {
                Ok(())
            } else {
                Err(date_refusal("input is too long"))
            }
        }
        Format::DateTime => date_time(text),
    }
}

fn date_refusal(error: &str) -> Refusal {
    Refusal {
        kind: "date_parsing",
        msg: format!("Input should be a valid date in the format YYYY-MM-DD, {error}"),
        ctx: Some(json!({ "error": error })),
    }
}

fn datetime_refusal(error: &str) -> Refusal {
    Refusal {
        kind: "datetime_parsing",
        msg: format!("Input should be a valid datetime, {error}"),
        ctx: Some(json!({ "error": error })),
    }
}

/// One `@`, something before it, a domain with a period after it, and no whitespace: what a person can be
/// expected to get right, without the long tail of RFC 5322 quoting.
fn email(text: &str) -> Result<(), String> {
    if text.chars().any(char::is_whitespace) {
        return Err("The email address must not contain spaces.".to_owned());
    }
    let mut parts = text.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(if text.contains('@') {
            "The email address is not valid. It must have exactly one @-sign.".to_owned()
        } else {
            "An email address must have an @-sign.".to_owned()
        });
    };
    if local.is_empty() {
        return Err("There must be something before the @-sign.".to_owned());
    }
    if domain.is_empty() {
        return Err("There must be something after the @-sign.".to_owned());
    }
    if domain.starts_with('.') {
        return Err(
            "An email address cannot have a period immediately after the @-sign.".to_owned(),
        );
    }
    if domain.ends_with('.') {
        return Err("An email address cannot end with a period.".to_owned());
    }
    if domain.contains("..") {
        return Err("An email address cannot have two periods in a row.".to_owned());
    }
    if !domain.contains('.') {
        return Err("The part after the @-sign is not valid. It should have a period.".to_owned());
    }
    if let Some(c) = domain
        .chars()
        .find(|c| !(c.is_alphanumeric() || matches!(c, '-' | '.')))
    {
        return Err(format!(
            "The part after the @-sign contains invalid characters: '{c}'."
        ));
    }
    Ok(())
}

/// RFC 1123 host names: dot-separated labels of letters, digits and `-`, 1 to 63 characters each, not starting
/// or ending with `-`; 253 characters at most.
fn hostname(text: &str) -> Result<(), String> {
    if text.is_empty() {
        return Err("it is empty".to_owned());
    }
    if text.len() > 253 {
        return Err(format!(
            "it is {} characters long; the limit is 253",
            text.len()
        ));
    }
    for label in text.split('.') {
        if label.is_empty() {
            return Err(
                "it has an empty label (two periods in a row, or one at an end)".to_owned(),
            );
        }
        if label.len() > 63 {
            return Err(format!("the label '{label}' is longer than 63 characters"));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(format!(
                "the label '{label}' contains '{c}'; labels are letters, digits and hyphens"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("the label '{label}' starts or ends with a hyphen"));
        }
    }
    Ok(())
}

/// An absolute URI (RFC 3986): a scheme, `:`, then text without spaces or characters that must be escaped; with
/// `//`, a non-empty host and a numeric port.
fn uri(text: &str) -> Result<(), String> {
    if text.is_empty() {
        return Err("input is empty".to_owned());
    }
    let scheme_ok = |s: &str| {
        let mut chars = s.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    };
    let Some((scheme, rest)) = text.split_once(':').filter(|(s, _)| scheme_ok(s)) else {
        return Err("relative URL without a base".to_owned());
    };
    let _ = scheme;
    if let Some(c) = rest.chars().find(|c| {
        c.is_whitespace()
            || c.is_control()
            || matches!(c, '"' | '<' | '>' | '\\' | '^' | '`' | '{' | '|' | '}')
    }) {
        return Err(format!("invalid character {c:?}"));
    }
    let bytes = rest.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'%'
            && !(bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
        {
            return Err("invalid percent-encoding".to_owned());
        }
    }
    if let Some(after) = rest.strip_prefix("//") {
        let authority = after.split(['/', '?', '#']).next().unwrap_or_default();
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let (host, port) = if host_port.starts_with('[') {
            match host_port.split_once(']') {
                Some((h, p)) => (h, p.strip_prefix(':')),
                None => return Err("invalid IPv6 address".to_owned()),
            }
        } else {
            match host_port.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (host_port, None),
            }
        };
        if host.is_empty() {
            return Err("empty host".to_owned());
        }
        if let Some(p) = port
            && !(p.is_empty()
                || (p.chars().all(|c| c.is_ascii_digit()) && p.parse::<u16>().is_ok()))
        {
            return Err("invalid port number".to_owned());
        }
    }
    Ok(())
}

/// The canonical 8-4-4-4-12 hexadecimal form.
fn uuid(text: &str) -> Result<(), String> {
    let count = text.chars().count();
    if count != 36 {
        return Err(format!(
            "invalid length: expected 36 characters (8-4-4-4-12 hexadecimal digits), found {count}"
        ));
    }
    for (i, c) in text.chars().enumerate() {
        let hyphen_here = matches!(i, 8 | 13 | 18 | 23);
        if hyphen_here && c != '-' {
            return Err(format!(
                "invalid group separator: expected `-` at position {}, found `{c}`",
                i + 1
            ));
        }
        if !hyphen_here && !c.is_ascii_hexdigit() {
            return Err(format!(
                "invalid character: expected a hexadecimal digit at position {}, found `{c}`",
                i + 1
            ));
        }
    }
    Ok(())
}

/// Reads `n` ASCII digits at the start of `text`.
fn digits(text: &str, n: usize) -> Option<(u32, &str)> {
    let head = text.get(..n)?;
    if !head.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((head.parse().ok()?, &text[n..]))
}

fn expect<'a>(text: &'a str, sep: char, error: &str) -> Result<&'a str, String> {
    text.strip_prefix(sep).ok_or_else(|| error.to_owned())
}

/// `YYYY-MM-DD` at the start of `text`; returns what follows.
fn date(text: &str) -> Result<&str, String> {
    if text.len() < 10 {
        return Err("input is too short".to_owned());
    }
    let (year, rest) = digits(text, 4).ok_or("invalid character in year")?;
    let rest = expect(rest, '-', "invalid date separator, expected `-`")?;
    let (month, rest) = digits(rest, 2).ok_or("invalid character in month")?;
    let rest = expect(rest, '-', "invalid date separator, expected `-`")?;
    let (day, rest) = digits(rest, 2).ok_or("invalid character in day")?;
    if !(1..=12).contains(&month) {
        return Err("month value is outside expected range of 1-12".to_owned());
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if day == 0 || day > days {
        return Err("day value is outside expected range".to_owned());
    }
    Ok(rest)
}

/// `hh:mm:ss` with an optional fraction at the start of `rest`; returns what follows.
fn time(rest: &str) -> Result<&str, String> {
    if rest.len() < 8 {
        return Err("input is too short".to_owned());
    }
    let (hour, rest) = digits(rest, 2).ok_or("invalid character in hour")?;
    let rest = expect(rest, ':', "invalid time separator, expected `:`")?;
    let (minute, rest) = digits(rest, 2).ok_or("invalid character in minute")?;
    let rest = expect(rest, ':', "invalid time separator, expected `:`")?;
    let (second, mut rest) = digits(rest, 2).ok_or("invalid character in second")?;
    if hour > 23 {
        return Err("hour value is outside expected range of 0-23".to_owned());
    }
    if minute > 59 {
        return Err("minute value is outside expected range of 0-59".to_owned());
    }
    // 60 is a leap second, which RFC 3339 allows.
    if second > 60 {
        return Err("second value is outside expected range of 0-60".to_owned());
    }
    if let Some(fraction) = rest.strip_prefix('.') {
        let n = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return Err("invalid character in second fraction".to_owned());
        }
        rest = &fraction[n..];
    }
    Ok(rest)
}

/// RFC 3339 `date-time`: a date, `T`, `hh:mm:ss` with an optional fraction, and a required offset (`Z` or
/// `±hh:mm`), since an order's time without a zone means different instants to different readers.
fn date_time(text: &str) -> Result<(), Refusal> {
    let rest = date(text).map_err(|e| datetime_refusal(&e))?;
    let fail = |e: &str| Err(datetime_refusal(e));
    let Some(rest) = rest.strip_prefix(['T', 't']) else {
        return if rest.is_empty() {
            fail("input is too short")
        } else {
            fail("invalid datetime separator, expected `T`")
        };
    };
    let rest = match time(rest) {
        Ok(rest) => rest,
        Err(e) => return fail(&e),
    };
    if rest.is_empty() {
        return Err(Refusal {
            kind: "timezone_aware",
            msg: "Input should have timezone info".to_owned(),
            ctx: None,
        });
    }
    let rest = if let Some(rest) = rest.strip_prefix(['Z', 'z']) {
        rest
    } else if let Some(offset) = rest.strip_prefix(['+', '-']) {
        let Some((hour, rest)) = digits(offset, 2) else {
            return fail("invalid character in timezone offset");
        };
        let Ok(rest) = expect(rest, ':', "invalid timezone offset separator, expected `:`") else {
            return fail("invalid timezone offset separator, expected `:`");
        };
        let Some((minute, rest)) = digits(rest, 2) else {
            return fail("invalid character in timezone offset");
        };
        if hour > 23 || minute > 59 {
            return fail("timezone offset is outside expected range of -23:59 to +23:59");
        }
        rest
    } else {
        return fail("invalid timezone sign");
    };
    if !rest.is_empty() {
        return fail("unexpected extra characters at the end of the input");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (format, text, None when valid or Some(message))
    fn check_all(cases: &[(Format, &str, Option<&str>)]) {
        for (format, text, want) in cases {
            let got = check(*format, text).err().map(|r| r.msg);
            assert_eq!(got.as_deref(), *want, "{} {text:?}", format.as_str());
        }
    }

    #[test]
    fn emails() {
        let bad = |r: &str| Some(format!("value is not a valid email address: {r}"));
        let cases = [
            ("dev@example.com", None),
            ("first.last+tag@sub.example.co", None),
            (
                "devexample.com",
                bad("An email address must have an @-sign."),
            ),
            (
                "a@b@example.com",
                bad("The email address is not valid. It must have exactly one @-sign."),
            ),
            (
                "@example.com",
                bad("There must be something before the @-sign."),
            ),
            ("dev@", bad("There must be something after the @-sign.")),
            (
                "dev@localhost",
                bad("The part after the @-sign is not valid. It should have a period."),
            ),
            (
                "dev @example.com",
                bad("The email address must not contain spaces."),
            ),
            (
                "dev@.example.com",
                bad("An email address cannot have a period immediately after the @-sign."),
            ),
            (
                "dev@example.com.",
                bad("An email address cannot end with a period."),
            ),
            (
                "dev@example..com",
                bad("An email address cannot have two periods in a row."),
            ),
            (
                "dev@exa_mple.com",
                bad("The part after the @-sign contains invalid characters: '_'."),
            ),
        ];
        for (text, want) in cases {
            let got = check(Format::Email, text).err().map(|r| r.msg);
            assert_eq!(got, want, "{text:?}");
        }
        let r = check(Format::Email, "x").unwrap_err();
        assert_eq!(r.kind, "value_error");
        assert_eq!(
            r.ctx,
            Some(json!({"reason": "An email address must have an @-sign."}))
        );
    }

    #[test]
    fn other_formats() {
        use Format::*;
        check_all(&[
            (Uri, "https://example.com/a?b=c#d", None),
            (Uri, "urn:isbn:0451450523", None),
            (Uri, "http://[::1]:8080/", None),
            (Uri, "", Some("Input should be a valid URL, input is empty")),
            (
                Uri,
                "/relative/path",
                Some("Input should be a valid URL, relative URL without a base"),
            ),
            (
                Uri,
                "http://",
                Some("Input should be a valid URL, empty host"),
            ),
            (
                Uri,
                "http://:80/x",
                Some("Input should be a valid URL, empty host"),
            ),
            (
                Uri,
                "http://host:http/",
                Some("Input should be a valid URL, invalid port number"),
            ),
            (
                Uri,
                "http://a b",
                Some("Input should be a valid URL, invalid character ' '"),
            ),
            (
                Uri,
                "http://a/%zz",
                Some("Input should be a valid URL, invalid percent-encoding"),
            ),
            (Date, "2024-02-29", None),
            (
                Date,
                "2023-02-29",
                Some(
                    "Input should be a valid date in the format YYYY-MM-DD, day value is outside expected range",
                ),
            ),
            (
                Date,
                "2024-13-01",
                Some(
                    "Input should be a valid date in the format YYYY-MM-DD, month value is outside expected range of 1-12",
                ),
            ),
            (
                Date,
                "2024-1-01",
                Some("Input should be a valid date in the format YYYY-MM-DD, input is too short"),
            ),
            (
                Date,
                "2024/01/01",
                Some(
                    "Input should be a valid date in the format YYYY-MM-DD, invalid date separator, expected `-`",
                ),
            ),
            (
                Date,
                "2024-01-01T00:00:00Z",
                Some("Input should be a valid date in the format YYYY-MM-DD, input is too long"),
            ),
            (
                Date,
                "20x4-01-01",
                Some(
                    "Input should be a valid date in the format YYYY-MM-DD, invalid character in year",
                ),
            ),
            (DateTime, "2024-05-01T10:20:30Z", None),
            (DateTime, "2024-05-01t10:20:30.123+02:00", None),
            (DateTime, "2016-12-31T23:59:60Z", None),
            (
                DateTime,
                "2024-05-01T10:20:30",
                Some("Input should have timezone info"),
            ),
            (
                DateTime,
                "2024-05-01",
                Some("Input should be a valid datetime, input is too short"),
            ),
            (
                DateTime,
                "2024-05-01 10:20:30Z",
                Some("Input should be a valid datetime, invalid datetime separator, expected `T`"),
            ),
            (
                DateTime,
                "2024-05-01T24:00:00Z",
                Some(
                    "Input should be a valid datetime, hour value is outside expected range of 0-23",
                ),
            ),
            (
                DateTime,
                "2024-05-01T10:20:30.Z",
                Some("Input should be a valid datetime, invalid character in second fraction"),
            ),
            (
                DateTime,
                "2024-05-01T10:20:30X",
                Some("Input should be a valid datetime, invalid timezone sign"),
            ),
            (
                DateTime,
                "2024-05-01T10:20:30+0200",
                Some(
                    "Input should be a valid datetime, invalid timezone offset separator, expected `:`",
                ),
            ),
            (
                DateTime,
                "2024-05-01T10:20:30Zjunk",
                Some(
                    "Input should be a valid datetime, unexpected extra characters at the end of the input",
                ),
            ),
            (Uuid, "0190b6c4-5f2e-7cc1-9a3e-2f4b8d1c0e7a", None),
            (
                Uuid,
                "0190b6c45f2e7cc19a3e2f4b8d1c0e7a",
                Some(
                    "Input should be a valid UUID, invalid length: expected 36 characters (8-4-4-4-12 hexadecimal digits), found 32",
                ),
            ),
            (
                Uuid,
                "0190b6c4-5f2e-7cc1-9a3e-2f4b8d1c0e7g",
                Some(
                    "Input should be a valid UUID, invalid character: expected a hexadecimal digit at position 36, found `g`",
                ),
            ),
            (
                Uuid,
                "0190b6c4_5f2e-7cc1-9a3e-2f4b8d1c0e7a",
                Some(
                    "Input should be a valid UUID, invalid group separator: expected `-` at position 9, found `_`",
                ),
            ),
            (Hostname, "api.example.com", None),
            (Hostname, "localhost", None),
            (
                Hostname,
                "",
                Some("value is not a valid hostname: it is empty"),
            ),
            (
                Hostname,
                "a..b",
                Some(
                    "value is not a valid hostname: it has an empty label (two periods in a row, or one at an end)",
                ),
            ),
            (
                Hostname,
                "-a.b",
                Some("value is not a valid hostname: the label '-a' starts or ends with a hyphen"),
            ),
            (
                Hostname,
                "a_b.c",
                Some(
                    "value is not a valid hostname: the label 'a_b' contains '_'; labels are letters, digits and hyphens",
                ),
            ),
        ]);
        assert_eq!(
            check(DateTime, "2024-05-01T10:20:30").unwrap_err().kind,
            "timezone_aware"
        );
        assert_eq!(check(Uuid, "x").unwrap_err().kind, "uuid_parsing");
        assert_eq!(check(Uri, "x").unwrap_err().kind, "url_parsing");
        assert_eq!(check(Date, "x").unwrap_err().kind, "date_parsing");
        let long = format!("{}.com", "a".repeat(64));
        assert!(
            check(Hostname, &long)
                .unwrap_err()
                .msg
                .contains("longer than 63")
        );
        for f in Format::ALL {
            assert_eq!(Format::parse(f.as_str()), Some(*f));
        }
    }
}
