//! Deterministic fuzzing: thousands of generated templates (random fragments, random bytes, and
//! grammar-shaped templates calling every function) rendered over random JSON. Nothing may panic,
//! every error must be located, and output must respect the cap.

#![allow(clippy::unwrap_used)]

use std::panic::{AssertUnwindSafe, catch_unwind};

use serde_json::{Value, json};
use switchyard_gotmpl::{Limits, Template, functions};

/// xorshift64*: small, deterministic, good enough to spread cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn pick_str<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const FRAGMENTS: &[&str] = &[
    "{{",
    "}}",
    "{{- ",
    " -}}",
    "{{/*",
    "*/}}",
    " ",
    "\n",
    "\t",
    ".",
    ".Input",
    ".a",
    ".b",
    ".a.b",
    "$",
    "$x",
    "$i",
    ":=",
    "=",
    "|",
    "(",
    ")",
    ",",
    "if",
    "else",
    "end",
    "range",
    "with",
    "define",
    "template",
    "block",
    "break",
    "continue",
    "nil",
    "true",
    "false",
    "\"s\"",
    "\"%d %v %s %q\"",
    "`raw`",
    "'c'",
    "'\\n'",
    "0",
    "1",
    "-1",
    "1.5",
    "1e3",
    "0x1f",
    "0o7",
    "1_0",
    "1i",
    "99999999999999999999",
    "\"\\u00e9\\x41\"",
    "\"\\q\"",
    "text",
    "é",
    "}",
    "{",
    "\"",
    "`",
    "'",
    "-",
    "+",
    ":",
    "#",
    "@",
    "\u{0}",
    "\u{2028}",
];

const LITERALS: &[&str] = &[
    "\"\"",
    "\"a\"",
    "\"a,b\"",
    "\"%v\"",
    "\"%5.2f|%-3d|%x|%q\"",
    "\"{{ .Input }}\"",
    "\"[0-9]+\"",
    "\"(\"",
    "\"{\\\"a\\\":1}\"",
    "\"aGVsbG8=\"",
    "0",
    "1",
    "2",
    "-3",
    "1.5",
    "1e300",
    "0x10",
    "'a'",
    "true",
    "false",
    "nil",
    "`x`",
    "-9223372036854775808",
    "9223372036854775807",
    "1000000",
    "-1000000",
    "(add 9223372036854775807 1)",
    "\"\\xff\"",
];

const OPERANDS: &[&str] = &[
    ".", ".Input", ".a", ".a.b", ".Input.a", ".b.c.d", "$", "$.a", "$x", "$i", "$v",
];

fn operand(rng: &mut Rng, fns: &[&str], depth: usize) -> String {
    match rng.below(10) {
        0..=3 => rng.pick(OPERANDS).to_string(),
        4..=6 => rng.pick(LITERALS).to_string(),
        7 if depth < 3 => format!("({})", pipeline(rng, fns, depth + 1)),
        _ => rng.pick(fns).to_string(),
    }
}

fn command(rng: &mut Rng, fns: &[&str], depth: usize) -> String {
    if rng.chance(60) {
        let mut c = rng.pick(fns).to_string();
        for _ in 0..rng.below(4) {
            c.push(' ');
            c.push_str(&operand(rng, fns, depth));
        }
        c
    } else {
        operand(rng, fns, depth)
    }
}

fn pipeline(rng: &mut Rng, fns: &[&str], depth: usize) -> String {
    let mut p = String::new();
    if rng.chance(15) {
        p.push_str(rng.pick_str(&["$x := ", "$x = ", "$i, $v := "]));
    }
    p.push_str(&command(rng, fns, depth));
    for _ in 0..rng.below(3) {
        p.push_str(" | ");
        p.push_str(&command(rng, fns, depth));
    }
    p
}

fn body(rng: &mut Rng, fns: &[&str], depth: usize) -> String {
    let mut out = String::new();
    for _ in 0..1 + rng.below(4) {
        let piece = match rng.below(12) {
            0 => "text ".to_string(),
            1 if depth < 3 => format!(
                "{{{{ if {} }}}}{}{{{{ else }}}}{}{{{{ end }}}}",
                pipeline(rng, fns, depth),
                body(rng, fns, depth + 1),
                body(rng, fns, depth + 1)
            ),
            2 if depth < 3 => format!(
                "{{{{ range $i, $v := {} }}}}{}{{{{ if $i }}}}{{{{ {} }}}}{{{{ end }}}}{{{{ else }}}}e{{{{ end }}}}",
                pipeline(rng, fns, depth),
                body(rng, fns, depth + 1),
                rng.pick(&["break", "continue", "$v"])
            ),
            3 if depth < 3 => format!(
                "{{{{ with {} }}}}{}{{{{ end }}}}",
                pipeline(rng, fns, depth),
                body(rng, fns, depth + 1)
            ),
            4 => format!("{{{{ template \"t\" {} }}}}", operand(rng, fns, depth)),
            5 => "{{- /* c */ -}}".to_string(),
            _ => format!("{{{{ {} }}}}", pipeline(rng, fns, depth)),
        };
        out.push_str(&piece);
    }
    out
}

fn structured(rng: &mut Rng, fns: &[&str]) -> String {
    let mut t = String::from("{{ $x := 1 }}{{ $i := 0 }}{{ $v := . }}");
    if rng.chance(50) {
        t.push_str(&format!(
            "{{{{ define \"t\" }}}}{}{{{{ end }}}}",
            body(rng, fns, 1)
        ));
    }
    t.push_str(&body(rng, fns, 0));
    t
}

fn fragments(rng: &mut Rng, fns: &[&str]) -> String {
    let mut t = String::new();
    for _ in 0..1 + rng.below(30) {
        if rng.chance(15) {
            t.push_str(rng.pick_str(fns));
        } else {
            t.push_str(rng.pick_str(FRAGMENTS));
        }
    }
    t
}

/// A `printf` call with a random format string: flags, widths, precisions, `*`, argument
/// indexes and verbs in any order.
fn printf(rng: &mut Rng, fns: &[&str]) -> String {
    let alphabet: Vec<char> = "%%%-+# 0123456789.*[]vdsqxXfFeEgGtcbouUTpw"
        .chars()
        .collect();
    let format: String = (0..rng.below(16)).map(|_| *rng.pick(&alphabet)).collect();
    let mut t = format!("{{{{ printf {:?}", format);
    for _ in 0..rng.below(4) {
        t.push(' ');
        t.push_str(&operand(rng, fns, 2));
    }
    t.push_str(" }}");
    t
}

fn bytes(rng: &mut Rng) -> String {
    let alphabet: Vec<char> = "{}.$|()\"`' -=:,abc01\n\\/*é\u{7f}".chars().collect();
    (0..rng.below(40)).map(|_| *rng.pick(&alphabet)).collect()
}

fn json_value(rng: &mut Rng, depth: usize) -> Value {
    match rng.below(if depth > 3 { 6 } else { 9 }) {
        0 => Value::Null,
        1 => json!(rng.chance(50)),
        2 => json!(*rng.pick(&[0.0, 1.0, -1.0, 0.5, 1e21, 1e-7, 3.0, 1e300, 255.0])),
        3 => json!(*rng.pick(&[0i64, 7, -42, i64::MAX, 1_000_000])),
        4 | 5 => json!(*rng.pick(&[
            "",
            "a",
            "a,b",
            "%d",
            "{{ .Input }}",
            "é\u{2028}<&>",
            "1.5",
            "0x10",
            "aGVsbG8="
        ])),
        6 => Value::Array(
            (0..rng.below(4))
                .map(|_| json_value(rng, depth + 1))
                .collect(),
        ),
        _ => {
            let mut m = serde_json::Map::new();
            for _ in 0..rng.below(4) {
                let k = *rng.pick(&["a", "b", "c", "d", "Input", "x"]);
                m.insert(k.to_string(), json_value(rng, depth + 1));
            }
            Value::Object(m)
        }
    }
}

#[test]
fn generated_templates_never_panic() {
    let fns: Vec<&str> = functions().collect();
    let limits = Limits {
        max_output_bytes: 2048,
        max_steps: 3000,
        ..Limits::default()
    };
    let mut rng = Rng(0x5eed_1234_abcd_0042);
    let (mut parsed, mut rendered) = (0, 0);
    for case in 0..5000 {
        let source = match case % 5 {
            0 | 1 => structured(&mut rng, &fns),
            2 => fragments(&mut rng, &fns),
            3 => printf(&mut rng, &fns),
            _ => bytes(&mut rng),
        };
        let data = json!({"Input": json_value(&mut rng, 0), "a": json_value(&mut rng, 1), "b": json_value(&mut rng, 1)});
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let t = match Template::parse(&source) {
                Ok(t) => t,
                Err(e) => {
                    assert!(e.line() >= 1 && e.col() >= 1, "{e}");
                    assert!(e.to_string().starts_with("template:"), "{e}");
                    return (false, false);
                }
            };
            match t.render_with(&data, &limits) {
                Ok(out) => {
                    assert!(out.len() <= limits.max_output_bytes);
                    (true, true)
                }
                Err(e) => {
                    assert!(e.line() >= 1 && e.col() >= 1, "{e}");
                    (true, false)
                }
            }
        }));
        match outcome {
            Ok((p, r)) => {
                parsed += usize::from(p);
                rendered += usize::from(r);
            }
            Err(_) => panic!("case {case} panicked: template {source:?} over {data}"),
        }
    }
    // The generator must reach the executor often, or the test proves little.
    assert!(parsed > 2500, "only {parsed} templates parsed");
    assert!(rendered > 1500, "only {rendered} templates rendered");
}
