//! What the fuzz targets share: how an input is cut into parts, and which panics the product
//! contains on purpose.
//!
//! A target that needs several texts (a path and a document, a template and its data) reads
//! its input as parts separated by NUL bytes: `printf 'body.a\0{"body":{"a":1}}'` is a seed for
//! `gjson_read`. The last part takes the rest of the input, NULs included; missing parts are
//! empty. A target's first part is often a few bytes of "knobs" read with
//! [`arbitrary::Unstructured`] (which mode, which fixed fixture); each target documents its
//! layout at the top.

use std::sync::Once;

/// The input cut at its first `N - 1` NUL bytes.
pub fn parts<const N: usize>(data: &[u8]) -> [&[u8]; N] {
    let mut out = [&data[..0]; N];
    let mut rest = data;
    for (i, slot) in out.iter_mut().enumerate() {
        if i + 1 == N {
            *slot = rest;
            break;
        }
        match rest.iter().position(|&b| b == 0) {
            Some(at) => {
                *slot = &rest[..at];
                rest = &rest[at + 1..];
            }
            None => {
                *slot = rest;
                rest = &rest[rest.len()..];
            }
        }
    }
    out
}

/// The part as text, when it is UTF-8 (every parser here takes `&str`).
pub fn text(part: &[u8]) -> Option<&str> {
    std::str::from_utf8(part).ok()
}

/// The expression layer runs expr-lang steps under `catch_unwind` and turns a panic inside
/// the engine into an error ("the expression engine failed on this input"). libFuzzer's panic
/// hook aborts on every panic, caught or not, so targets that reach expr-lang install this
/// hook instead: a panic raised in expr-lang's own source unwinds to that guard, and every
/// other panic aborts as before (a panic the guard does not catch still aborts, through
/// libFuzzer's own `catch_unwind` around each input).
pub fn contain_engine_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_engine = info.location().is_some_and(|l| {
                let file = l.file();
                file.contains("/expr-lang-") || file.contains("\\expr-lang-")
            });
            if !in_engine {
                previous(info);
                std::process::abort();
            }
        }));
    });
}

/// A fixed instant, so that runs are reproducible.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_795_000_000, 0).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_split_at_nuls_and_the_last_takes_the_rest() {
        assert_eq!(parts::<3>(b"a\0b\0c\0d"), [&b"a"[..], b"b", b"c\0d"]);
        assert_eq!(parts::<3>(b"a"), [&b"a"[..], b"", b""]);
        assert_eq!(parts::<1>(b"a\0b"), [&b"a\0b"[..]]);
    }
}
