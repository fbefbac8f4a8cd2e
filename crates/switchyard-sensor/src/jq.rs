//! jq programs: a dependency's `transform.jq`, run with jaq.
//!
//! Argo runs the program with gojq on the event data (which must be a JSON object), takes the
//! first output, and requires it to be an object; that object, written by Go's JSON encoder,
//! becomes the event's new data. Here the program is compiled once with jaq's core and
//! standard filters, minus everything that would make it impure: a program that calls `env`,
//! `$ENV`, `now`, `localtime`, `strflocaltime`, `input`, `inputs`, `halt`, `halt_error`,
//! `debug` or `stderr` is refused at compile time (and the natives behind them fail if reached
//! some other way). Recursive definitions in the program are refused too: jaq recurses on the
//! native stack, and a sensor must not be able to overflow it.
//!
//! jaq has no instruction budget, so the generators that never end by construction (`repeat`,
//! `while`, `until`, `recurse(f)`, `recurse(f; cond)`) are refused as well. What remains is
//! bounded by the event data and by the numbers given to `range`/`limit`: a program like
//! `last(range(1e18))` still runs until it ends. Programs come from the Sensor manifest, not
//! from events.

use std::collections::{BTreeMap, BTreeSet};

use jaq_core::load::lex::StrPart;
use jaq_core::load::parse::{BinaryOp, Def, Pattern, Term};
use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Vars, data, unwrap_valr};
use jaq_json::Val;
use serde_json::{Map, Value};

use crate::json::go_normalize;

/// Native filters replaced by [`unavailable`]: they read the environment, the clock or standard
/// input, write to standard error, or stop the process. (jaq's standard definitions refer to
/// some of them, so they must exist to compile.)
const IMPURE_NATIVES: &[&str] = &[
    "env",
    "now",
    "localtime",
    "strflocaltime",
    "input",
    "inputs",
    "halt",
    "debug_empty",
    "stderr_empty",
];

/// Filters a program may not call: the impure natives and the definitions built on them.
const IMPURE_CALLS: &[&str] = &[
    "env",
    "now",
    "localtime",
    "strflocaltime",
    "input",
    "inputs",
    "halt",
    "halt_error",
    "debug",
    "debug_empty",
    "stderr",
    "stderr_empty",
    "input_filename",
    "input_line_number",
];

/// Filters (name, arity) a program may not call because they can loop forever.
const UNBOUNDED_CALLS: &[(&str, usize)] = &[
    ("repeat", 1),
    ("while", 2),
    ("until", 2),
    ("recurse", 1),
    ("recurse", 2),
];

/// What an impure native does when reached anyway.
fn unavailable<'a>(_: jaq_core::Cv<'a, data::JustLut<Val>>) -> jaq_core::ValXs<'a, Val> {
    jaq_core::native::bome(Err(jaq_core::Error::str(
        "this filter is not available in a transform: it reads the environment, the clock or other input",
    )))
}

type JqFilter = jaq_core::Filter<data::JustLut<Val>>;

/// A compiled jq program.
pub(crate) struct Program {
    filter: JqFilter,
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Program")
    }
}

impl Program {
    /// Parses and compiles `code`; the message says what is wrong and where.
    pub(crate) fn compile(code: &str) -> Result<Program, String> {
        let defs = jaq_core::defs()
            .chain(jaq_std::defs())
            .chain(jaq_json::defs());
        let funs = jaq_core::funs()
            .chain(jaq_std::funs())
            .chain(jaq_json::funs())
            .map(|(name, args, native)| {
                if IMPURE_NATIVES.contains(&name) {
                    (
                        name,
                        args,
                        jaq_core::Native::<data::JustLut<Val>>::new(unavailable),
                    )
                } else {
                    (name, args, native)
                }
            });
        let arena = Arena::default();
        let modules = Loader::new(defs)
            .load(&arena, File { code, path: () })
            .map_err(|errors| load_errors(code, errors))?;
        if let Some(term) = jaq_core::load::parse(code, |p| p.term()) {
            check_purity(&term)?;
            check_recursion(&term)?;
        }
        let filter = Compiler::default()
            .with_funs(funs)
            .compile(modules)
            .map_err(|errors| {
                let mut parts = Vec::new();
                for (_, errs) in errors {
                    for (name, undefined) in errs {
                        let what = undefined.as_str();
                        let at = offset(code, name);
                        parts.push(if name == "$ENV" {
                            format!(
                                "`$ENV` at character {at} is not available: transforms cannot read the environment"
                            )
                        } else {
                            format!("undefined {what} `{name}` at character {at}")
                        });
                    }
                }
                parts.join("; ")
            })?;
        Ok(Program { filter })
    }

    /// Runs the program on the event data (a JSON object) and returns its first output, which
    /// must be an object, with keys sorted and numbers written as Go writes them.
    pub(crate) fn transform(&self, data: &Map<String, Value>) -> Result<Value, String> {
        let text = Value::Object(data.clone()).to_string();
        let input = jaq_json::read::parse_single(text.as_bytes())
            .map_err(|e| format!("event data cannot be read by jq: {e}"))?;
        let ctx = Ctx::<data::JustLut<Val>>::new(&self.filter.lut, Vars::new([]));
        let mut outputs = self.filter.id.run((ctx, input)).map(unwrap_valr);
        let first = match outputs.next() {
            None => return Err("no output available from the jq command execution".to_owned()),
            Some(Err(e)) => return Err(format!("jq: {e}")),
            Some(Ok(v)) => v,
        };
        let json: Value = serde_json::from_str(&first.to_string())
            .map_err(|_| "jq transformation output must be a JSON object".to_owned())?;
        if !json.is_object() {
            return Err("jq transformation output must be a JSON object".to_owned());
        }
        go_normalize(json, 0)
    }
}

/// 1-based character offset of `part` (a slice of `whole`) in `whole`.
fn offset(whole: &str, part: &str) -> usize {
    let start = (part.as_ptr() as usize).saturating_sub(whole.as_ptr() as usize);
    if start > whole.len() {
        return 1;
    }
    whole.get(..start).map_or(1, |s| s.chars().count() + 1)
}

fn load_errors(code: &str, errors: jaq_core::load::Errors<&str, ()>) -> String {
    let mut parts = Vec::new();
    for (_, error) in errors {
        match error {
            jaq_core::load::Error::Io(list) => {
                for (path, why) in list {
                    parts.push(format!("cannot load module `{path}`: {why}"));
                }
            }
            jaq_core::load::Error::Lex(list) => {
                for (expect, at) in list {
                    parts.push(format!(
                        "expected {} at character {}",
                        expect.as_str(),
                        offset(code, at)
                    ));
                }
            }
            jaq_core::load::Error::Parse(list) => {
                for (expect, found) in list {
                    parts.push(format!(
                        "expected {} at character {}",
                        expect.as_str(),
                        offset(code, found)
                    ));
                }
            }
        }
    }
    if parts.is_empty() {
        "cannot parse the program".to_owned()
    } else {
        parts.join("; ")
    }
}

/// Refuses calls to the filters in [`IMPURE_CALLS`] and [`UNBOUNDED_CALLS`] (unless the program
/// defines its own of that name).
fn check_purity(term: &Term<&str>) -> Result<(), String> {
    let mut called = BTreeSet::new();
    called_names(term, &mut called, 0);
    let mut defined = BTreeMap::new();
    collect_defs(term, &mut defined, 0)?;
    for (name, arity) in called {
        if defined.contains_key(name) {
            continue;
        }
        if IMPURE_CALLS.contains(&name) {
            return Err(format!(
                "`{name}` is not available in a transform: transforms cannot read the environment, the clock or other input, or write output"
            ));
        }
        if UNBOUNDED_CALLS.contains(&(name, arity)) {
            return Err(format!(
                "`{name}/{arity}` is not available in a transform: it can loop forever, and transforms must end"
            ));
        }
    }
    Ok(())
}

/// Refuses definitions that call themselves, directly or through each other. Conservative:
/// definitions are matched by name, whatever their scope.
fn check_recursion(term: &Term<&str>) -> Result<(), String> {
    let mut calls: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    collect_defs(term, &mut calls, 0)?;
    let names: BTreeSet<&str> = calls.keys().copied().collect();
    for start in &names {
        // Depth-first search from `start`, looking for a way back to it.
        let mut stack: Vec<&str> = calls[start].iter().copied().collect();
        let mut seen = BTreeSet::new();
        while let Some(name) = stack.pop() {
            if name == *start {
                return Err(format!(
                    "`{start}` is defined recursively; recursive definitions are not allowed in a transform"
                ));
            }
            if seen.insert(name)
                && let Some(next) = calls.get(name)
            {
                stack.extend(next.iter().copied());
            }
        }
    }
    Ok(())
}

/// Records, for every `def` in `term`, the names its body calls.
fn collect_defs<'s>(
    term: &Term<&'s str>,
    calls: &mut BTreeMap<&'s str, BTreeSet<&'s str>>,
    depth: usize,
) -> Result<(), String> {
    if depth > 256 {
        return Err("the program nests deeper than 256 levels".to_owned());
    }
    let mut visit = |t: &Term<&'s str>| collect_defs(t, calls, depth + 1);
    match term {
        Term::Def(defs, body) => {
            for Def {
                name,
                body: def_body,
                ..
            } in defs
            {
                let mut called = BTreeSet::new();
                called_names(def_body, &mut called, 0);
                calls
                    .entry(*name)
                    .or_default()
                    .extend(called.into_iter().map(|(n, _)| n));
                collect_defs(def_body, calls, depth + 1)?;
            }
            collect_defs(body, calls, depth + 1)
        }
        _ => {
            let mut result = Ok(());
            for_each_child(term, &mut |t| {
                if result.is_ok() {
                    result = visit(t);
                }
            });
            result
        }
    }
}

/// Every filter called anywhere in `term` (nested definitions included), with its arity.
fn called_names<'s>(term: &Term<&'s str>, out: &mut BTreeSet<(&'s str, usize)>, depth: usize) {
    if depth > 256 {
        return;
    }
    if let Term::Call(name, args) = term {
        out.insert((*name, args.len()));
    }
    if let Term::Def(defs, _) = term {
        for def in defs {
            called_names(&def.body, out, depth + 1);
        }
    }
    for_each_child(term, &mut |t| called_names(t, out, depth + 1));
}

/// Calls `f` on the direct sub-terms of `term` (not the bodies of its definitions).
fn for_each_child<'a, 's>(term: &'a Term<&'s str>, f: &mut dyn FnMut(&'a Term<&'s str>)) {
    match term {
        Term::Id | Term::Recurse | Term::Num(_) | Term::Break(_) | Term::Var(_) => {}
        Term::Str(_, parts) => {
            for part in parts {
                if let StrPart::Term(t) = part {
                    f(t);
                }
            }
        }
        Term::Arr(inner) => {
            if let Some(t) = inner {
                f(t);
            }
        }
        Term::Obj(entries) => {
            for (k, v) in entries {
                f(k);
                if let Some(v) = v {
                    f(v);
                }
            }
        }
        Term::Neg(t) | Term::Label(_, t) => f(t),
        Term::BinOp(a, op, b) => {
            f(a);
            if let BinaryOp::Pipe(Some(pattern)) = op {
                pattern_terms(pattern, f);
            }
            f(b);
        }
        Term::Fold(_, x, pattern, args) => {
            f(x);
            pattern_terms(pattern, f);
            for a in args {
                f(a);
            }
        }
        Term::TryCatch(t, c) => {
            f(t);
            if let Some(c) = c {
                f(c);
            }
        }
        Term::IfThenElse(branches, otherwise) => {
            for (c, t) in branches {
                f(c);
                f(t);
            }
            if let Some(o) = otherwise {
                f(o);
            }
        }
        Term::Def(_, body) => f(body),
        Term::Call(_, args) => {
            for a in args {
                f(a);
            }
        }
        Term::Path(t, path) => {
            f(t);
            for (part, _) in path.0.iter() {
                match part {
                    jaq_core::path::Part::Index(i) => f(i),
                    jaq_core::path::Part::Range(a, b) => {
                        if let Some(a) = a {
                            f(a);
                        }
                        if let Some(b) = b {
                            f(b);
                        }
                    }
                }
            }
        }
    }
}

fn pattern_terms<'a, 's>(pattern: &'a Pattern<&'s str>, f: &mut dyn FnMut(&'a Term<&'s str>)) {
    match pattern {
        Pattern::Var(_) => {}
        Pattern::Arr(items) => {
            for p in items {
                pattern_terms(p, f);
            }
        }
        Pattern::Obj(entries) => {
            for (k, p) in entries {
                f(k);
                pattern_terms(p, f);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn transforms_the_data() {
        let p = Program::compile(".body.region |= ascii_upcase | .body.n = 1.0").unwrap();
        let out = p
            .transform(&object(
                json!({"body": {"region": "eu", "z": 1}, "a": true}),
            ))
            .unwrap();
        assert_eq!(
            out.to_string(),
            r#"{"a":true,"body":{"n":1,"region":"EU","z":1}}"#
        );
        assert_eq!(
            Program::compile(".body.region")
                .unwrap()
                .transform(&object(json!({"body": {"region": "x"}})))
                .unwrap_err(),
            "jq transformation output must be a JSON object"
        );
        assert_eq!(
            Program::compile("empty")
                .unwrap()
                .transform(&Map::new())
                .unwrap_err(),
            "no output available from the jq command execution"
        );
        assert!(
            Program::compile("error(\"boom\")")
                .unwrap()
                .transform(&Map::new())
                .unwrap_err()
                .contains("boom")
        );
        // Only the first output counts.
        assert_eq!(
            Program::compile("., error(\"x\")")
                .unwrap()
                .transform(&Map::new())
                .unwrap(),
            json!({})
        );
    }

    #[test]
    fn refuses_bad_and_impure_programs() {
        let e = Program::compile(".a |").unwrap_err();
        assert!(e.starts_with("expected term at character"), "{e}");
        let e = Program::compile("nosuch(1)").unwrap_err();
        assert!(e.contains("undefined filter `nosuch`"), "{e}");
        for impure in [
            "now",
            "env",
            "$ENV",
            "input",
            "inputs",
            "debug",
            "stderr",
            "halt",
            ".a | halt_error(1)",
            "[.[] | localtime]",
        ] {
            let e = Program::compile(impure).unwrap_err();
            assert!(e.contains("not available"), "{impure}: {e}");
        }
        for endless in [
            "until(false; .)",
            "[repeat(.)]",
            "first(while(true; .))",
            "recurse(.a)",
        ] {
            let e = Program::compile(endless).unwrap_err();
            assert!(e.contains("can loop forever"), "{endless}: {e}");
        }
        assert!(Program::compile("[recurse] | {n: length}").is_ok());
        // A program's own definition of such a name is its own business.
        assert!(Program::compile("def now: 1; {t: now}").is_ok());
        let e = Program::compile("def f: f; f").unwrap_err();
        assert!(e.contains("`f` is defined recursively"), "{e}");
        let e = Program::compile("def a: b; def b: 1 + a; a").unwrap_err();
        assert!(e.contains("recursively"), "{e}");
        assert!(Program::compile("def inc: . + 1; .n |= inc").is_ok());
    }
}

#[cfg(test)]
mod send_sync {
    /// The compiled sensor is shared between tasks, so its programs must be.
    #[test]
    fn programs_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<super::Program>();
    }
}
