//! Names and subjects: how bus subjects map onto the stream's subjects and back, how bus
//! names become JetStream names, which single filter subject a consumer with several
//! filters gets on the server, and how a consumer's declared filters are kept on the server.
//! Pure.

use std::fmt::Write as _;
use switchyard_bus::{BusError, MAX_SUBJECT_LEN, Subject, SubjectFilter};

/// Longest subject prefix, in bytes: a prefix and a longest bus subject stay well inside
/// what NATS handles comfortably.
pub const MAX_PREFIX_LEN: usize = 128;
/// Longest stream name accepted in the configuration.
pub const MAX_STREAM_NAME_LEN: usize = 64;
/// JetStream's limit on a consumer's description (`JSMaxDescriptionLen`, 4 KiB).
pub(crate) const MAX_DESCRIPTION_LEN: usize = 4 * 1024;
/// What a consumer description written by this crate starts with; the declared filters
/// follow, separated by single spaces (a filter never contains whitespace).
const DECLARATION_PREFIX: &str = "switchyard-bus consumer; filters:";

/// Maps bus subjects to the stream's subjects, `<prefix>.<subject>`, and back. Several
/// platforms share one NATS account by using different prefixes (and stream names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectMap {
    prefix: String,
}

impl SubjectMap {
    /// Checks the prefix: one or more subject tokens without wildcards, not starting with `$`
    /// (NATS keeps `$JS`, `$SYS` and the like for itself), at most [`MAX_PREFIX_LEN`] bytes.
    pub fn new(prefix: &str) -> Result<SubjectMap, BusError> {
        let fail = |reason: String| {
            Err(BusError::invalid(
                format!("subject prefix `{prefix}`"),
                reason,
            ))
        };
        if prefix.len() > MAX_PREFIX_LEN {
            return fail(format!(
                "it is {} bytes long; at most {MAX_PREFIX_LEN} are allowed",
                prefix.len()
            ));
        }
        if let Err(e) = Subject::new(prefix) {
            return fail(match e {
                BusError::Invalid { reason, .. } => reason,
                other => other.to_string(),
            });
        }
        if prefix.starts_with('$') {
            return fail("NATS reserves subjects starting with `$` for itself".to_owned());
        }
        Ok(SubjectMap {
            prefix: prefix.to_owned(),
        })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The one subject filter the stream captures: everything under the prefix.
    pub fn stream_subjects(&self) -> String {
        format!("{}.>", self.prefix)
    }

    /// The stream subject a bus subject is published to.
    pub fn to_stream(&self, subject: &Subject) -> String {
        format!("{}.{}", self.prefix, subject.as_str())
    }

    /// The stream filter matching exactly the stream subjects of what `filter` matches.
    pub fn to_stream_filter(&self, filter: &SubjectFilter) -> String {
        format!("{}.{}", self.prefix, filter.as_str())
    }

    /// The bus subject of a stream subject. A subject outside the prefix, or one that is not
    /// a valid bus subject, was not written by a bus: [`BusError::Corrupt`].
    pub fn to_bus(&self, stream_subject: &str) -> Result<Subject, BusError> {
        let rest = stream_subject
            .strip_prefix(self.prefix.as_str())
            .and_then(|rest| rest.strip_prefix('.'))
            .ok_or_else(|| BusError::Corrupt {
                what: format!(
                    "a stored message has the subject `{}`, which is outside the bus prefix `{}`",
                    shorten(stream_subject),
                    self.prefix
                ),
            })?;
        Subject::new(rest).map_err(|e| BusError::Corrupt {
            what: format!(
                "a stored message's subject is not a valid bus subject (published by something \
                 other than the bus?): {e}"
            ),
        })
    }
}

/// Checks a configured stream name: 1 to [`MAX_STREAM_NAME_LEN`] ASCII letters, digits, `-`
/// and `_`. JetStream accepts more, but the name is also a directory on the server and a
/// token in API subjects, so the bus keeps to characters that are safe everywhere.
pub fn validate_stream_name(name: &str) -> Result<(), BusError> {
    let fail = |reason: String| Err(BusError::invalid(format!("stream name `{name}`"), reason));
    if name.is_empty() {
        return fail("it is empty".to_owned());
    }
    if name.len() > MAX_STREAM_NAME_LEN {
        return fail(format!(
            "it is {} bytes long; at most {MAX_STREAM_NAME_LEN} are allowed",
            name.len()
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return fail("it may only contain ASCII letters, digits, `-` and `_`".to_owned());
    }
    Ok(())
}

/// Turns any string into a name JetStream accepts for a consumer or stream, deterministically
/// and injectively: ASCII letters, digits, `-` and `_` stay; every other byte becomes `=XX`
/// (its hex value). JetStream refuses whitespace, `.`, `*`, `>` and path separators in names;
/// `=` is allowed there but never occurs in a bus name, so every valid bus consumer name maps
/// to itself and two different inputs never share a name.
pub fn jetstream_name(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            out.push(char::from(b));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "={b:02X}");
        }
    }
    out
}

/// The one filter a consumer gets on the server, which must cover all of its filters
/// (nats-server 2.9 takes a single `filter_subject`; the exact filters are applied by the
/// bus). One distinct filter is used as it is. Otherwise the filters' longest common run of
/// literal leading tokens, followed by `>`, where the run is shortened so that `>` (one or
/// more tokens) still covers the shortest filter; `>` alone when nothing is shared.
pub fn covering_filter(filters: &[SubjectFilter]) -> SubjectFilter {
    let Some(first) = filters.first() else {
        return SubjectFilter::all();
    };
    if filters.iter().all(|f| f == first) {
        return first.clone();
    }
    let token_lists: Vec<Vec<&str>> = filters
        .iter()
        .map(|f| f.as_str().split('.').collect())
        .collect();
    let shortest = token_lists.iter().map(Vec::len).min().unwrap_or(0);
    let mut common = 0;
    'tokens: while common < shortest {
        let token = token_lists[0][common];
        if token == "*" || token == ">" {
            break;
        }
        for tokens in &token_lists[1..] {
            if tokens[common] != token {
                break 'tokens;
            }
        }
        common += 1;
    }
    // `a.b.>` does not match `a.b` itself: keep at least one token after the common part.
    if common == shortest {
        common -= 1;
    }
    if common == 0 {
        return SubjectFilter::all();
    }
    let mut covering = token_lists[0][..common].join(".");
    covering.push_str(".>");
    // The tokens come from valid filters and end in `>`: always valid.
    SubjectFilter::new(covering).unwrap_or_else(|_| SubjectFilter::all())
}

/// The consumer description that records its declared filters (nats-server 2.9 has no
/// consumer metadata; the description is the one free-form field it keeps and lets an
/// update change).
pub(crate) fn declaration(filters: &[SubjectFilter]) -> Result<String, BusError> {
    let mut text = String::from(DECLARATION_PREFIX);
    for f in filters {
        text.push(' ');
        text.push_str(f.as_str());
    }
    if text.len() > MAX_DESCRIPTION_LEN {
        return Err(BusError::invalid(
            "consumer filters",
            format!(
                "together they take {} bytes; NATS JetStream keeps a consumer's declaration in its \
                 description, which holds at most {MAX_DESCRIPTION_LEN} bytes (use fewer or shorter \
                 filters, e.g. a wildcard)",
                text.len()
            ),
        ));
    }
    Ok(text)
}

/// The filters recorded in a description written by [`declaration`], or `None` when the
/// description is not one.
pub(crate) fn declared_filters(description: &str) -> Option<Result<Vec<SubjectFilter>, BusError>> {
    let rest = description.strip_prefix(DECLARATION_PREFIX)?;
    Some(
        rest.split_whitespace()
            .map(|f| {
                SubjectFilter::new(f).map_err(|e| BusError::Corrupt {
                    what: format!("a consumer's recorded filters cannot be read: {e}"),
                })
            })
            .collect(),
    )
}

/// Cuts a foreign string short for an error message.
fn shorten(s: &str) -> String {
    if s.len() <= MAX_SUBJECT_LEN {
        return s.to_owned();
    }
    let mut end = MAX_SUBJECT_LEN;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(s: &str) -> SubjectFilter {
        SubjectFilter::new(s).unwrap()
    }

    #[test]
    fn subjects_map_under_the_prefix_and_back() {
        let map = SubjectMap::new("platform-a.bus").unwrap();
        let s = Subject::new("events.default.webhook.x").unwrap();
        let stream = map.to_stream(&s);
        assert_eq!(stream, "platform-a.bus.events.default.webhook.x");
        assert_eq!(map.to_bus(&stream).unwrap(), s);
        assert_eq!(map.stream_subjects(), "platform-a.bus.>");
        assert_eq!(
            map.to_stream_filter(&SubjectFilter::all()),
            "platform-a.bus.>"
        );
        assert_eq!(map.to_stream_filter(&f("a.*.c")), "platform-a.bus.a.*.c");
        let unicode = Subject::new("ünï.côdé").unwrap();
        assert_eq!(map.to_bus(&map.to_stream(&unicode)).unwrap(), unicode);
    }

    #[test]
    fn foreign_stream_subjects_are_corrupt() {
        let map = SubjectMap::new("sy").unwrap();
        for bad in ["sy", "sy.", "syx.a", "other.a", "sy.a.>", "sy.a..b"] {
            match map.to_bus(bad) {
                Err(BusError::Corrupt { what }) => assert!(!what.is_empty(), "{bad}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
        let long = format!("other.{}", "x".repeat(1000));
        let err = map.to_bus(&long).unwrap_err().to_string();
        assert!(err.len() < 600, "long subjects are cut short: {err}");
    }

    #[test]
    fn prefixes_are_checked() {
        for ok in ["sy", "a.b.c", "platform_1-x"] {
            assert!(SubjectMap::new(ok).is_ok(), "{ok}");
        }
        for (bad, want) in [
            ("", "it is empty"),
            ("a.*", "cannot contain wildcards"),
            ("a.>", "cannot contain wildcards"),
            ("a..b", "token 2 is empty"),
            ("a b", "whitespace"),
            ("$JS", "NATS reserves subjects starting with `$`"),
        ] {
            let err = SubjectMap::new(bad).unwrap_err().to_string();
            assert!(err.contains(want), "{bad}: {err}");
            assert!(err.starts_with("invalid subject prefix"), "{err}");
        }
        let err = SubjectMap::new(&"a".repeat(MAX_PREFIX_LEN + 1)).unwrap_err();
        assert!(err.to_string().contains("at most 128"), "{err}");
    }

    #[test]
    fn stream_names_are_checked() {
        assert_eq!(validate_stream_name("SWITCHYARD_prod-1"), Ok(()));
        for (bad, want) in [
            ("", "it is empty"),
            ("a.b", "may only contain"),
            ("a b", "may only contain"),
            ("a/b", "may only contain"),
            ("a>", "may only contain"),
        ] {
            let err = validate_stream_name(bad).unwrap_err().to_string();
            assert!(err.contains(want), "{bad}: {err}");
        }
        assert!(validate_stream_name(&"s".repeat(MAX_STREAM_NAME_LEN + 1)).is_err());
    }

    #[test]
    fn jetstream_names_are_safe_deterministic_and_injective() {
        // Valid bus consumer names are kept as they are.
        for name in ["sensor-default_webhook-1", "a", "A_b-C"] {
            assert_eq!(jetstream_name(name), name);
        }
        assert_eq!(jetstream_name("a.b"), "a=2Eb");
        assert_eq!(jetstream_name("a b*>/\\"), "a=20b=2A=3E=2F=5C");
        assert_eq!(jetstream_name("ü"), "=C3=BC");
        assert_eq!(jetstream_name("a=2Eb"), "a=3D2Eb", "`=` itself is escaped");
        let inputs = ["a.b", "a=2Eb", "a_b", "a-b", "a b", "a\tb", "ab", "a.b."];
        let mut seen = std::collections::BTreeMap::new();
        for input in inputs {
            let name = jetstream_name(input);
            assert_eq!(jetstream_name(input), name, "deterministic");
            assert!(
                !name
                    .chars()
                    .any(|c| c.is_whitespace() || matches!(c, '.' | '*' | '>' | '/' | '\\')),
                "{name}"
            );
            if let Some(other) = seen.insert(name.clone(), input) {
                panic!("{input:?} and {other:?} both map to {name}");
            }
        }
    }

    #[test]
    fn covering_filters() {
        let cover = |list: &[&str]| {
            let filters: Vec<_> = list.iter().map(|s| f(s)).collect();
            let covering = covering_filter(&filters);
            // Whatever a filter matches, the covering filter matches too.
            for filter in &filters {
                let probe = filter.as_str().replace('*', "x").replace('>', "y.z");
                let probe = Subject::new(probe).unwrap();
                assert!(filter.matches(&probe));
                assert!(covering.matches(&probe), "{covering} misses {probe}");
            }
            covering.to_string()
        };
        assert_eq!(cover(&["a.b.c"]), "a.b.c");
        assert_eq!(cover(&["a.*.c", "a.*.c"]), "a.*.c");
        assert_eq!(cover(&["a.b.c", "a.b.d"]), "a.b.>");
        assert_eq!(cover(&["a.b", "a.b.c"]), "a.>", "`a.b.>` would miss `a.b`");
        assert_eq!(cover(&["a.b.c", "a.x.>"]), "a.>");
        assert_eq!(cover(&["a.*.c", "a.b.c"]), "a.>");
        assert_eq!(cover(&["a", "b"]), ">");
        assert_eq!(cover(&["a", "a.b"]), ">");
        assert_eq!(cover(&["*.b", "a.b"]), ">");
        assert_eq!(
            cover(&["ev.default.webhook.a", "ev.*.webhook.>", "zz.end"]),
            ">"
        );
        assert_eq!(
            cover(&["events.ns.webhook.a", "events.ns.calendar.b"]),
            "events.ns.>"
        );
        assert_eq!(covering_filter(&[]).as_str(), ">");
    }

    #[test]
    fn declarations_round_trip() {
        let filters = vec![f("a.>"), f("b.*.c"), f(">")];
        let text = declaration(&filters).unwrap();
        assert_eq!(text, "switchyard-bus consumer; filters: a.> b.*.c >");
        assert_eq!(declared_filters(&text).unwrap().unwrap(), filters);
        assert!(declared_filters("made by hand").is_none());
        assert!(matches!(
            declared_filters("switchyard-bus consumer; filters: a..b"),
            Some(Err(BusError::Corrupt { .. }))
        ));
    }

    #[test]
    fn declarations_that_do_not_fit_are_refused() {
        let long: Vec<_> = (0..20)
            .map(|i| f(&format!("{}.{i}", "x".repeat(240))))
            .collect();
        let err = declaration(&long).unwrap_err().to_string();
        assert!(err.contains("at most 4096 bytes"), "{err}");
    }
}
