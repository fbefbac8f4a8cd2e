//! Subjects and subject filters: their syntax (NATS's), validation with precise errors, and
//! matching. Pure.
//!
//! A subject is one or more tokens separated by `.`, like `events.default.webhook.example`.
//! A token is non-empty and contains no whitespace, no control character, and neither `*`
//! nor `>`. A filter has the same shape, except that a token may be the wildcard `*` (exactly
//! one token) and the last token may be `>` (one or more tokens). So `events.*.webhook.>`
//! matches `events.default.webhook.example` but not `events.default.webhook`.

use std::fmt;
use std::str::FromStr;

use crate::BusError;

/// Longest subject or filter, in bytes. NATS has no small limit; this one keeps subjects
/// usable as keys and in error messages.
pub const MAX_SUBJECT_LEN: usize = 256;

/// A validated subject a message is published to. Never contains wildcards.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Subject(String);

impl Subject {
    /// Validates `subject`; see the module docs for the syntax.
    pub fn new(subject: impl Into<String>) -> Result<Subject, BusError> {
        let subject = subject.into();
        check(&subject, Kind::Subject)?;
        Ok(Subject(subject))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Subject {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl FromStr for Subject {
    type Err = BusError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Subject::new(s)
    }
}

impl TryFrom<&str> for Subject {
    type Error = BusError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Subject::new(s)
    }
}

impl TryFrom<String> for Subject {
    type Error = BusError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Subject::new(s)
    }
}

/// A validated subject filter: a subject whose tokens may be `*` (one token) and whose last
/// token may be `>` (one or more tokens).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubjectFilter(String);

impl SubjectFilter {
    /// Validates `filter`; see the module docs for the syntax.
    pub fn new(filter: impl Into<String>) -> Result<SubjectFilter, BusError> {
        let filter = filter.into();
        check(&filter, Kind::Filter)?;
        Ok(SubjectFilter(filter))
    }

    /// `>`: every subject.
    pub fn all() -> SubjectFilter {
        SubjectFilter(">".to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True when the filter has no wildcard, so it matches exactly one subject.
    pub fn is_literal(&self) -> bool {
        self.0.split('.').all(|t| t != "*" && t != ">")
    }

    /// The literal tokens before the first wildcard, joined by `.` (without a trailing `.`);
    /// `""` when the first token is a wildcard. Every subject the filter matches starts with
    /// this prefix followed by `.` (or equals it, for a literal filter), which lets a backend
    /// narrow a scan with a range before matching exactly.
    pub fn literal_prefix(&self) -> &str {
        let mut end = 0;
        for (i, token) in self.0.split('.').enumerate() {
            if token == "*" || token == ">" {
                break;
            }
            end += token.len() + usize::from(i > 0);
        }
        &self.0[..end]
    }

    /// Whether `subject` matches this filter.
    pub fn matches(&self, subject: &Subject) -> bool {
        self.matches_str(subject.as_str())
    }

    /// Whether the (already valid) subject `subject` matches this filter.
    pub fn matches_str(&self, subject: &str) -> bool {
        let mut want = self.0.split('.');
        let mut have = subject.split('.');
        loop {
            match (want.next(), have.next()) {
                // `>` is last and needs at least one token.
                (Some(">"), Some(_)) => return true,
                (Some("*"), Some(_)) => {}
                (Some(w), Some(h)) if w == h => {}
                (None, None) => return true,
                _ => return false,
            }
        }
    }
}

impl fmt::Display for SubjectFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for SubjectFilter {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl FromStr for SubjectFilter {
    type Err = BusError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SubjectFilter::new(s)
    }
}

impl TryFrom<&str> for SubjectFilter {
    type Error = BusError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        SubjectFilter::new(s)
    }
}

/// A subject as a filter that matches exactly it.
impl From<Subject> for SubjectFilter {
    fn from(subject: Subject) -> Self {
        SubjectFilter(subject.0)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Subject,
    Filter,
}

fn check(s: &str, kind: Kind) -> Result<(), BusError> {
    let what = match kind {
        Kind::Subject => "subject",
        Kind::Filter => "subject filter",
    };
    let fail = |reason: String| Err(BusError::invalid(format!("{what} {}", quote(s)), reason));
    if s.is_empty() {
        return fail("it is empty".to_owned());
    }
    if s.len() > MAX_SUBJECT_LEN {
        return fail(format!(
            "it is {} bytes long; at most {MAX_SUBJECT_LEN} are allowed",
            s.len()
        ));
    }
    let count = s.split('.').count();
    for (i, token) in s.split('.').enumerate() {
        let n = i + 1;
        if token.is_empty() {
            return fail(format!(
                "token {n} is empty (a `.` at the start or end, or two in a row)"
            ));
        }
        if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return fail(format!(
                "token {n} ({}) contains whitespace or a control character",
                quote(token)
            ));
        }
        let wildcard = token == "*" || token == ">";
        if wildcard && kind == Kind::Subject {
            return fail(format!(
                "token {n} is the wildcard `{token}`; a published subject cannot contain wildcards"
            ));
        }
        if !wildcard && (token.contains('*') || token.contains('>')) {
            return fail(format!(
                "token {n} ({}) contains `*` or `>`; a wildcard must be a whole token",
                quote(token)
            ));
        }
        if token == ">" && n != count {
            return fail(format!(
                "token {n} is `>`, which may only be the last token"
            ));
        }
    }
    Ok(())
}

/// Quotes a user-supplied string for an error message, cut short so that a huge input does
/// not make a huge message.
pub(crate) fn quote(s: &str) -> String {
    const MAX: usize = 80;
    if s.len() <= MAX {
        return format!("`{s}`");
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("`{}…` ({} bytes)", &s[..end], s.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(result: Result<impl fmt::Debug, BusError>) -> String {
        match result {
            Ok(v) => panic!("expected an error, got {v:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn valid_subjects() {
        for s in [
            "a",
            "events.default.webhook.example",
            "a-b_c.d:e/f",
            "ünïcode.tokens",
            "x.y.z.1.2.3",
        ] {
            assert_eq!(Subject::new(s).map(|s| s.to_string()).ok(), Some(s.into()));
        }
    }

    #[test]
    fn invalid_subjects_say_why() {
        for (s, want) in [
            ("", "invalid subject ``: it is empty"),
            (
                "a..b",
                "invalid subject `a..b`: token 2 is empty (a `.` at the start or end, or two in a row)",
            ),
            (".a", "token 1 is empty"),
            ("a.", "token 2 is empty"),
            (
                "a.b c",
                "token 2 (`b c`) contains whitespace or a control character",
            ),
            ("a.b\tc", "contains whitespace or a control character"),
            ("a.\u{7}", "contains whitespace or a control character"),
            (
                "a.*",
                "token 2 is the wildcard `*`; a published subject cannot contain wildcards",
            ),
            ("a.>", "a published subject cannot contain wildcards"),
            (
                "a.b*",
                "token 2 (`b*`) contains `*` or `>`; a wildcard must be a whole token",
            ),
            ("a>.b", "token 1 (`a>`) contains `*` or `>`"),
        ] {
            let got = reason(Subject::new(s));
            assert!(got.contains(want), "{s:?}: {got}");
        }
        let long = "a".repeat(MAX_SUBJECT_LEN + 1);
        let got = reason(Subject::new(long));
        assert!(got.contains("257 bytes long; at most 256"), "{got}");
        assert!(got.len() < 200, "long input is cut short: {got}");
    }

    #[test]
    fn invalid_filters_say_why() {
        for (s, want) in [
            (
                ">.a",
                "invalid subject filter `>.a`: token 1 is `>`, which may only be the last token",
            ),
            ("a.>.>", "token 2 is `>`, which may only be the last token"),
            ("a.**", "token 2 (`**`) contains `*` or `>`"),
            ("a..>", "token 2 is empty"),
            ("", "it is empty"),
        ] {
            let got = reason(SubjectFilter::new(s));
            assert!(got.contains(want), "{s:?}: {got}");
        }
    }

    #[test]
    fn matching() {
        let table: &[(&str, &str, bool)] = &[
            ("a.b", "a.b", true),
            ("a.b", "a.b.c", false),
            ("a.b", "a", false),
            ("a.*", "a.b", true),
            ("a.*", "a.b.c", false),
            ("a.*", "a", false),
            ("*", "a", true),
            ("*", "a.b", false),
            ("a.>", "a.b", true),
            ("a.>", "a.b.c.d", true),
            ("a.>", "a", false),
            ("a.>", "ab.c", false),
            (">", "a", true),
            (">", "a.b.c", true),
            ("*.b.>", "a.b.c", true),
            ("*.b.>", "a.b", false),
            ("*.b.>", "a.c.d", false),
            ("a.*.c", "a.x.c", true),
            ("a.*.c", "a.x.d", false),
            ("a.*.*", "a.x.y", true),
            (
                "events.default.webhook.>",
                "events.default.webhook.example",
                true,
            ),
            (
                "events.default.webhook.>",
                "events.default.calendar.example",
                false,
            ),
        ];
        for (filter, subject, want) in table {
            let f = SubjectFilter::new(*filter).unwrap();
            let s = Subject::new(*subject).unwrap();
            assert_eq!(f.matches(&s), *want, "{filter} vs {subject}");
        }
    }

    #[test]
    fn literal_prefixes() {
        for (filter, prefix, literal) in [
            ("a.b", "a.b", true),
            ("a.b.>", "a.b", false),
            ("a.*.c", "a", false),
            ("*.b", "", false),
            (">", "", false),
            ("abc.de.*", "abc.de", false),
        ] {
            let f = SubjectFilter::new(filter).unwrap();
            assert_eq!(
                (f.literal_prefix(), f.is_literal()),
                (prefix, literal),
                "{filter}"
            );
        }
    }

    #[test]
    fn a_subject_is_a_filter_for_itself() {
        let s = Subject::new("a.b").unwrap();
        let f = SubjectFilter::from(s.clone());
        assert!(f.matches(&s));
        assert!(f.is_literal());
        assert!(SubjectFilter::all().matches(&s));
    }

    #[test]
    fn quoting_cuts_at_a_character_boundary() {
        let s = "é".repeat(100);
        let q = quote(&s);
        assert!(q.ends_with("(200 bytes)"), "{q}");
    }
}
