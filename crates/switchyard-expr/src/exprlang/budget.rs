//! A work and memory budget for one expression evaluation.
//!
//! expr-lang has no limits of its own. Predicate functions (`map`, `filter`, ...) are the
//! place where work multiplies (`map(xs, map(xs, ...))`), so this crate runs them itself and
//! charges every predicate run and every value they copy or build against a per-evaluation
//! budget; `repeat` and `sprig.regexReplaceAll` charge what they build. The budget lives in a
//! thread-local because expr-lang calls functions without any caller state; [`Guard`] resets
//! it for each evaluation.

use std::cell::Cell;

use expr::Value as V;

/// Most predicate runs in one evaluation.
pub const MAX_PREDICATE_RUNS: u64 = 1_000_000;
/// Most bytes (estimated) that predicate functions and string builders may produce in one
/// evaluation.
pub const MAX_PRODUCED_BYTES: u64 = 64 << 20;

thread_local! {
    static RUNS: Cell<u64> = const { Cell::new(0) };
    static BYTES: Cell<u64> = const { Cell::new(0) };
}

/// Resets the budget when created and again when dropped.
pub(crate) struct Guard;

impl Guard {
    pub(crate) fn new() -> Self {
        RUNS.with(|c| c.set(0));
        BYTES.with(|c| c.set(0));
        Guard
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        RUNS.with(|c| c.set(0));
        BYTES.with(|c| c.set(0));
    }
}

pub(crate) fn charge_run() -> Result<(), expr::Error> {
    let runs = RUNS.with(|c| {
        let n = c.get().saturating_add(1);
        c.set(n);
        n
    });
    if runs > MAX_PREDICATE_RUNS {
        return Err(expr::Error::ExprError(format!(
            "the expression ran predicates more than {MAX_PREDICATE_RUNS} times"
        )));
    }
    Ok(())
}

pub(crate) fn charge_bytes(n: u64) -> Result<(), expr::Error> {
    let bytes = BYTES.with(|c| {
        let total = c.get().saturating_add(n);
        c.set(total);
        total
    });
    if bytes > MAX_PRODUCED_BYTES {
        return Err(expr::Error::ExprError(format!(
            "the expression built more than {MAX_PRODUCED_BYTES} bytes of values"
        )));
    }
    Ok(())
}

/// A rough size of a value in bytes.
pub(crate) fn size_of(value: &V) -> u64 {
    const SCALAR: u64 = 16;
    match value {
        V::String(s) => SCALAR + s.len() as u64,
        V::Bytes(b) => SCALAR + b.len() as u64,
        V::Array(items) => SCALAR + items.iter().map(size_of).sum::<u64>(),
        V::Map(map) => {
            SCALAR
                + map
                    .iter()
                    .map(|(k, v)| k.len() as u64 + size_of(v))
                    .sum::<u64>()
        }
        V::KeyedMap(entries) => {
            SCALAR
                + entries
                    .iter()
                    .map(|(k, v)| size_of(k) + size_of(v))
                    .sum::<u64>()
        }
        _ => SCALAR,
    }
}
