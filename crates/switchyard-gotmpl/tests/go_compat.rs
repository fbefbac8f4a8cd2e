//! Templates and the output Go's `text/template` with sprig gives for them, over Argo Events'
//! root object (`{"Input": payload}`) or plain data.

#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use switchyard_gotmpl::{ErrorKind, Limits, Template, input_root, render};

/// Renders over `data` as the root and compares with Go's output.
fn check(cases: &[(&str, Value, &str)]) {
    for (src, data, want) in cases {
        match render(src, data) {
            Ok(out) => assert_eq!(out, *want, "template {src:?} over {data}"),
            Err(e) => panic!("template {src:?} over {data}: {e}"),
        }
    }
}

/// Renders and expects an error whose text contains `want`.
fn check_err(cases: &[(&str, Value, &str)]) {
    for (src, data, want) in cases {
        match render(src, data) {
            Ok(out) => panic!("template {src:?} rendered {out:?}, expected error {want:?}"),
            Err(e) => assert!(
                e.to_string().contains(want),
                "template {src:?}: error {e} does not contain {want:?}"
            ),
        }
    }
}

fn event() -> Value {
    input_root(json!({
        "body": {"name": "alice", "n": 1, "tags": ["a", "b"]},
        "items": [{"name": "a"}, {"name": "b"}],
        "count": 3,
        "big": 1000000,
        "price": 2.71349,
        "nul": null,
        "status": "ok",
    }))
}

#[test]
fn argo_events_parameter_templates() {
    check(&[
        ("{{ .Input.body.name }}", event(), "alice"),
        (
            "{{ .Input.body | toJson }}",
            event(),
            r#"{"n":1,"name":"alice","tags":["a","b"]}"#,
        ),
        ("{{ .Input.body.missing }}", event(), "<no value>"),
        ("{{ .Input.nothere.deeper.still }}", event(), "<no value>"),
        ("{{ .Input.nul }}", event(), "<no value>"),
        (
            "{{ range .Input.items }}{{ .name }},{{ end }}",
            event(),
            "a,b,",
        ),
        (
            "{{ range $i, $e := .Input.items }}{{ $i }}={{ $e.name }} {{ end }}",
            event(),
            "0=a 1=b ",
        ),
        (r#"{{ printf "%.2f" .Input.price }}"#, event(), "2.71"),
        (
            r#"{{ printf "%v|%6.3f|%e|%g" .Input.price .Input.price .Input.big .Input.big }}"#,
            event(),
            "2.71349| 2.713|1.000000e+06|1e+06",
        ),
        (
            r#"{{ printf "%d" .Input.count }}"#,
            event(),
            "%!d(float64=3)",
        ),
        (r#"{{ printf "%d" (int .Input.count) }}"#, event(), "3"),
        (
            "{{ .Input.count }} {{ .Input.big }} {{ .Input.price }}",
            event(),
            "3 1e+06 2.71349",
        ),
        (
            "{{ .Input.body }}",
            event(),
            "map[n:1 name:alice tags:[a b]]",
        ),
        ("{{ eq .Input.count 3.0 }}", event(), "true"),
        (
            r#"{{ if eq .Input.status "ok" }}yes{{ else }}no{{ end }}"#,
            event(),
            "yes",
        ),
        (
            "{{ .Input.body.name | upper | quote }}",
            event(),
            "\"ALICE\"",
        ),
        (r#"{{ default "anon" .Input.user }}"#, event(), "anon"),
        ("{{ add .Input.count 1 }}", event(), "4"),
        (
            "{{ len .Input.body.name }} {{ len .Input.items }}",
            event(),
            "5 2",
        ),
        (r#"{{ index .Input.items 1 "name" }}"#, event(), "b"),
        (
            "{{ toPrettyJson .Input.items }}",
            event(),
            "[\n  {\n    \"name\": \"a\"\n  },\n  {\n    \"name\": \"b\"\n  }\n]",
        ),
        (
            "{{ .Input | toJson | b64enc | b64dec | fromJson | len }}",
            event(),
            "7",
        ),
        (
            "{{ typeOf .Input.count }} {{ typeOf .Input.items }} {{ typeOf .Input }}",
            event(),
            "float64 []interface {} map[string]interface {}",
        ),
        (
            "{{ .Input.type }}:{{ .Input.source }}",
            input_root(
                json!({"id": "1", "source": "webhook", "specversion": "1.0", "type": "example"}),
            ),
            "example:webhook",
        ),
    ]);
}

#[test]
fn argo_events_typing_errors() {
    check_err(&[
        (
            "{{ eq .Input.count 3 }}",
            event(),
            r#"template:1:4: executing "param" at <eq .Input.count 3>: error calling eq: incompatible types for comparison: float64 and int"#,
        ),
        (
            "{{ .Input.nul.x }}",
            event(),
            "nil pointer evaluating interface {}.x",
        ),
        (
            "{{ .Input.body.name.first }}",
            event(),
            "can't evaluate field first in type interface {}",
        ),
        (
            "{{ upper .Input.count }}",
            event(),
            "wrong type for value; expected string; got float64",
        ),
        (
            r#"{{ repeat (add 1 2) "x" }}"#,
            event(),
            "wrong type for value; expected int; got int64",
        ),
    ]);
}

#[test]
fn text_trim_markers_and_comments() {
    check(&[
        ("plain text", json!({}), "plain text"),
        ("a  \n{{- 1 -}}\n  b", json!({}), "a1b"),
        ("a {{- /* gone */ -}} b", json!({}), "ab"),
        ("a{{/* c */}}b", json!({}), "ab"),
        ("{{-3}}", json!({}), "-3"),
        ("{{ 1 }}\n{{- 2 }}", json!({}), "12"),
        (
            "{{\n.a\n}}",
            json!({"a": "multi-line action"}),
            "multi-line action",
        ),
    ]);
}

#[test]
fn literals_print_like_go() {
    check(&[
        (r#"{{ "a\tb\u00e9\x41" }}"#, json!({}), "a\tbéA"),
        ("{{ `raw\\n` }}", json!({}), "raw\\n"),
        ("{{ 'a' }} {{ '\\n' }}", json!({}), "97 10"),
        (
            "{{ 0x10 }} {{ 0o17 }} {{ 010 }} {{ 0b101 }} {{ 1_000 }}",
            json!({}),
            "16 15 8 5 1000",
        ),
        (
            "{{ 1e3 }} {{ 1.5 }} {{ -2 }} {{ .5 }} {{ 1e21 }} {{ 0x1p4 }}",
            json!({}),
            "1000 1.5 -2 0.5 1e+21 16",
        ),
        ("{{ true }} {{ false }}", json!({}), "true false"),
        ("{{ print nil }}", json!({}), "<nil>"),
        ("{{ . }}", json!(null), "<no value>"),
    ]);
}

#[test]
fn variables_and_scopes() {
    check(&[
        ("{{ $x := 1 }}{{ $x = 2 }}{{ $x }}", json!({}), "2"),
        (
            "{{ $x := 1 }}{{ if true }}{{ $x := 2 }}{{ $x }}{{ end }}{{ $x }}",
            json!({}),
            "21",
        ),
        (
            "{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}",
            json!({}),
            "2",
        ),
        (
            "{{ with $v := .a }}{{ $v }}{{ end }}",
            json!({"a": "x"}),
            "x",
        ),
        (
            "{{ range $k, $v := .m }}{{ $k }}={{ $v }};{{ end }}",
            json!({"m": {"b": 2, "a": 1}}),
            "a=1;b=2;",
        ),
        (
            "{{ range .l }}{{ $.top }}{{ end }}",
            json!({"l": [1, 2], "top": "T"}),
            "TT",
        ),
        (
            "{{ $n := 0 }}{{ range $i, $v := .l }}{{ $n = $i }}{{ end }}{{ $n }}",
            json!({"l": [1, 2, 3]}),
            "2",
        ),
        (
            "{{ $i := 9 }}{{ range $i = .l }}{{ end }}{{ $i }}",
            json!({"l": ["a", "b"]}),
            "b",
        ),
    ]);
}

#[test]
fn control_structures() {
    check(&[
        (
            "{{ if .a }}A{{ else if .b }}B{{ else }}C{{ end }}",
            json!({"b": 1}),
            "B",
        ),
        (
            "{{ if .a }}A{{ else if .b }}B{{ else }}C{{ end }}",
            json!({}),
            "C",
        ),
        ("{{ with .missing }}x{{ else }}y{{ end }}", json!({}), "y"),
        (
            "{{ with .a }}{{ . }}{{ else with .b }}{{ . }}b{{ end }}",
            json!({"b": "B"}),
            "Bb",
        ),
        (
            "{{ with .name }}{{ . }}{{ end }}",
            json!({"name": "alice"}),
            "alice",
        ),
        (
            "{{ range .empty }}x{{ else }}none{{ end }}",
            json!({"empty": []}),
            "none",
        ),
        (
            "{{ range .missing }}x{{ else }}none{{ end }}",
            json!({}),
            "none",
        ),
        ("{{ range 3 }}{{ . }}{{ end }}", json!({}), "012"),
        (
            "{{ range $v := 0 }}x{{ else }}zero{{ end }}",
            json!({}),
            "zero",
        ),
        (
            "{{ range .l }}{{ if eq . 2.0 }}{{ continue }}{{ end }}{{ if eq . 4.0 }}{{ break }}{{ end }}{{ . }}{{ end }}",
            json!({"l": [1, 2, 3, 4, 5]}),
            "13",
        ),
        (
            "{{ range .l }}{{ range . }}{{ if eq . 2.0 }}{{ break }}{{ end }}{{ . }}{{ end }};{{ end }}",
            json!({"l": [[1, 2, 3], [4]]}),
            "1;4;",
        ),
        (
            "{{ if and .a (not .b) }}yes{{ end }}",
            json!({"a": 1, "b": false}),
            "yes",
        ),
        (
            "{{ if .l }}non-empty{{ end }}{{ if .e }}x{{ end }}",
            json!({"l": [0], "e": {}}),
            "non-empty",
        ),
        (
            "{{ if 0.0 }}x{{ else }}zero is false{{ end }}",
            json!({}),
            "zero is false",
        ),
    ]);
}

#[test]
fn define_template_and_block() {
    check(&[
        (
            r#"{{ define "T" }}<{{ . }}>{{ end }}{{ template "T" "x" }}"#,
            json!({}),
            "<x>",
        ),
        (
            r#"{{ define "T" }}[{{ .a }}]{{ end }}{{ template "T" . }}{{ template "T" }}"#,
            json!({"a": 1}),
            "[1][<no value>]",
        ),
        (
            r#"{{ block "B" .v }}[{{ . }}]{{ end }}"#,
            json!({"v": 2}),
            "[2]",
        ),
        (
            r#"{{ define "r" }}{{ if lt . 3 }}{{ . }}{{ template "r" (add1 .) }}{{ end }}{{ end }}{{ template "r" 0 }}"#,
            json!({}),
            "012",
        ),
        // A defined template sees only its own dot and `$`.
        (
            r#"{{ define "T" }}{{ $ }}{{ end }}{{ $x := 1 }}{{ template "T" "d" }}"#,
            json!({}),
            "d",
        ),
        // An empty define does not replace the top-level template.
        (r#"{{ define "param" }}{{ end }}top"#, json!({}), "top"),
    ]);
}

#[test]
fn pipelines_parentheses_and_chains() {
    check(&[
        (r#"{{ "abc" | printf "%s-%s" "x" }}"#, json!({}), "x-abc"),
        (r#"{{ 3 | printf "%03d" }}"#, json!({}), "003"),
        (r#"{{ printf "%d-%s" (len "ab") "x" }}"#, json!({}), "2-x"),
        (
            "{{ (index .l 0).name }}",
            json!({"l": [{"name": "n"}]}),
            "n",
        ),
        ("{{ (len .s) }}", json!({"s": "four"}), "4"),
        (
            "{{ .s | len | printf \"%d chars\" }}",
            json!({"s": "four"}),
            "4 chars",
        ),
    ]);
}

#[test]
fn builtins() {
    check(&[
        (
            "{{ and 1 0 2 }} {{ and 1 2 }} {{ or 0 \"\" \"x\" }} {{ or 0 \"\" }}",
            json!({}),
            "0 2 x ",
        ),
        (
            r#"{{ or 1 (fail "not evaluated") }} {{ and 0 (fail "not evaluated") }}"#,
            json!({}),
            "1 0",
        ),
        ("{{ and .missing 1 }}", json!({}), "<no value>"),
        (
            "{{ not \"\" }} {{ not 1 }} {{ not .missing }}",
            json!({}),
            "true false true",
        ),
        (
            "{{ len .m }} {{ index .m \"b\" }} {{ index .m \"zz\" }}",
            json!({"m": {"a": 1, "b": 2}}),
            "2 2 <no value>",
        ),
        (
            "{{ index .l 1 0 }} {{ index \"hi\" 1 }}",
            json!({"l": [[1], [2]]}),
            "2 105",
        ),
        (
            r#"{{ print 1 2 "a" "b" 3 }}|{{ println "a" 1 }}|"#,
            json!({}),
            "1 2ab3|a 1\n|",
        ),
        (
            r#"{{ printf "%5.1f|%-4s|%03d|%x|%q|%v" 3.04159 "ab" 7 255 "q" .m }}"#,
            json!({"m": {"k": [1, "v"]}}),
            "  3.0|ab  |007|ff|\"q\"|map[k:[1 v]]",
        ),
        (
            r#"{{ printf "%s %d" "only" }}|{{ printf "%d" 1 2 }}"#,
            json!({}),
            "only %!d(MISSING)|1%!(EXTRA int=2)",
        ),
        (
            r#"{{ html "<b>'&'</b>" }} {{ urlquery "a b/c" }} {{ js "it's <x>" }}"#,
            json!({}),
            "&lt;b&gt;&#39;&amp;&#39;&lt;/b&gt; a+b%2Fc it\\'s \\u003Cx\\u003E",
        ),
        (
            r#"{{ eq "b" "a" "b" }} {{ ne 1 2 }} {{ lt "a" "b" }} {{ le 2 2 }} {{ gt 1.5 2.5 }} {{ ge 3 2 }}"#,
            json!({}),
            "true true true true false true",
        ),
        (
            "{{ eq .n .n }} {{ eq .missing nil }} {{ eq .s nil }}",
            json!({"n": 1, "s": "x"}),
            "true true false",
        ),
    ]);
}

#[test]
fn sprig_strings() {
    check(&[
        (
            r#"{{ "hello wORLD-x_y" | title }}"#,
            json!({}),
            "Hello WORLD-X_y",
        ),
        (
            r#"{{ trim "  x  " }}|{{ trimAll "$" "$5.00$" }}|{{ trimPrefix "a" "abc" }}|{{ trimSuffix "c" "abc" }}"#,
            json!({}),
            "x|5.00|bc|ab",
        ),
        (
            r#"{{ replace "a" "b" "banana" }} {{ "foobar" | contains "foo" }} {{ hasPrefix "fo" "foo" }} {{ hasSuffix "x" "foo" }}"#,
            json!({}),
            "bbnbnb true true false",
        ),
        (
            r#"{{ quote "a" 1 nil }} {{ squote "b" 2.5 }} {{ cat "a" 1 nil "b" }}"#,
            json!({}),
            "\"a\" \"1\" 'b' '2.5' a 1 b",
        ),
        (
            r#"{{ indent 2 "a\nb" }}|{{ nindent 1 "c" }}"#,
            json!({}),
            "  a\n  b|\n c",
        ),
        (
            r#"{{ nospace " a b\tc " }} {{ repeat 3 "ab" }} {{ upper "é" }} {{ lower "ÀB" }}"#,
            json!({}),
            "abc ababab É àb",
        ),
        (
            r#"{{ substr 1 3 "hello" }} {{ substr -1 2 "hello" }} {{ substr 2 99 "hello" }} {{ trunc 3 "hello" }} {{ trunc -2 "hello" }} {{ abbrev 5 "hello world" }}"#,
            json!({}),
            "el he llo hel lo he...",
        ),
        (
            r#"{{ join "," (list 1 "a" nil) }} {{ splitList "," "a,b" | join "|" }} {{ split "," "a,b" }} {{ (split "," "a,b")._1 }}"#,
            json!({}),
            "1,a a|b map[_0:a _1:b] b",
        ),
        (
            r#"{{ splitn "," 2 "a,b,c" }} {{ toStrings (list 1 "x") }} {{ sortAlpha (list "b" "a" 3) }}"#,
            json!({}),
            "map[_0:a _1:b,c] [1 x] [3 a b]",
        ),
        (
            r#"{{ toString 1.5 }} {{ toString .l }} {{ plural "one" "many" 2 }}"#,
            json!({"l": [1, null]}),
            "1.5 [1 <nil>] many",
        ),
    ]);
}

#[test]
fn sprig_numbers_and_conversions() {
    check(&[
        (
            r#"{{ int "42" }} {{ int "3.00" }} {{ int "nope" }} {{ int64 "0x1F" }} {{ float64 "1.5" }} {{ atoi "12" }} {{ int 3.9 }}"#,
            json!({}),
            "42 3 0 31 1.5 12 3",
        ),
        (
            "{{ add 1 2 3 }} {{ add1 1 }} {{ sub 5 3 }} {{ mul 2 3 4 }} {{ div 7 2 }} {{ mod 7 2 }} {{ max 1 5 3 }} {{ min 4 2 }}",
            json!({}),
            "6 2 2 24 3 1 5 2",
        ),
        (
            "{{ floor 1.5 }} {{ ceil 1.2 }} {{ round 1.2345 2 }} {{ maxf 1 2.5 }} {{ minf 1 2.5 }} {{ toDecimal \"777\" }}",
            json!({}),
            "1 2 1.23 2.5 1 511",
        ),
        ("{{ add .a .b }}", json!({"a": 1.9, "b": "2"}), "3"),
    ]);
}

#[test]
fn sprig_defaults_json_and_types() {
    check(&[
        (
            r#"{{ default "x" "" }} {{ default "x" 0 }} {{ default "x" "y" }} {{ default "x" }}"#,
            json!({}),
            "x x y x",
        ),
        (
            r#"{{ empty "" }} {{ empty 1 }} {{ coalesce 0 "" "z" }} {{ ternary "y" "n" true }} {{ all 1 "a" }} {{ any 0 "" }}"#,
            json!({}),
            "true false z y true false",
        ),
        (
            r#"{{ (fromJson "{\"a\":[1,2]}").a }} {{ fromJson "nope" }} {{ fromJson "1" | typeOf }}"#,
            json!({}),
            "[1 2] <no value> float64",
        ),
        (
            r#"{{ toJson (dict "a" "<b>") }} {{ toRawJson (dict "a" "<b>") }}"#,
            json!({}),
            r#"{"a":"\u003cb\u003e"} {"a":"<b>"}"#,
        ),
        (
            "{{ typeOf 1 }} {{ typeOf (add 1 1) }} {{ kindOf (list) }} {{ kindOf nil }} {{ typeIs \"string\" \"s\" }} {{ kindIs \"map\" . }}",
            json!({}),
            "int int64 slice invalid true true",
        ),
        (
            "{{ deepEqual (list 1 2) (list 1 2) }} {{ deepEqual 1 (add 0 1) }}",
            json!({}),
            "true false",
        ),
        (
            r#"{{ b64enc "hello" }} {{ b64dec "aGVsbG8=" }} {{ b64dec "abc" }}"#,
            json!({}),
            "aGVsbG8= hello illegal base64 data at input byte 0",
        ),
        (
            r#"{{ sha256sum "abc" }}"#,
            json!({}),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ),
        (
            r#"{{ sha1sum "abc" }} {{ adler32sum "Wikipedia" }}"#,
            json!({}),
            "a9993e364706816aba3e25717850c26c9cd0d89d 300286872",
        ),
        (
            r#"{{ base "a/b.txt" }} {{ dir "a/b/c" }} {{ ext "x.tar.gz" }} {{ clean "a//b/../c" }} {{ isAbs "/a" }}"#,
            json!({}),
            "b.txt a/b .gz a/c true",
        ),
    ]);
}

#[test]
fn sprig_lists_and_dicts() {
    check(&[
        (
            "{{ list 1 2 3 | first }} {{ list 1 2 3 | last }} {{ list 1 2 3 | rest }} {{ list 1 2 3 | initial }} {{ list 1 2 | reverse }}",
            json!({}),
            "1 3 [2 3] [1 2] [2 1]",
        ),
        (
            "{{ uniq (list 1 1 2) }} {{ compact (list 0 1 \"\" \"a\") }} {{ has 2 (list 1 2) }} {{ without (list 1 2 3) 2 }}",
            json!({}),
            "[1 2] [1 a] true [1 3]",
        ),
        (
            "{{ append (list 1) 2 }} {{ prepend (list 1) 0 }} {{ concat (list 1) (list 2 3) }} {{ slice (list 1 2 3) 1 }} {{ slice (list 1 2 3) 0 2 }}",
            json!({}),
            "[1 2] [0 1] [1 2 3] [2 3] [1 2]",
        ),
        (
            "{{ first (list) }} {{ has 1 nil }}",
            json!({}),
            "<no value> false",
        ),
        (
            r#"{{ dict "a" 1 "b" "x" }} {{ get (dict "a" 1) "a" }}|{{ get (dict) "z" }}| {{ hasKey . "k" }}"#,
            json!({"k": null}),
            "map[a:1 b:x] 1|| true",
        ),
        (
            r#"{{ keys (dict "b" 1 "a" 2) }} {{ values (dict "b" 1 "a" 2) }} {{ pick . "a" "zz" }} {{ omit . "a" }} {{ pluck "a" . (dict "a" 9) }}"#,
            json!({"a": 1, "b": 2}),
            "[a b] [2 1] map[a:1] map[b:2] [1 9]",
        ),
        (
            r#"{{ dig "a" "b" "def" . }} {{ dig "a" "x" "def" . }}"#,
            json!({"a": {"b": "found"}}),
            "found def",
        ),
        (r#"{{ $d := dict "k" "v" }}{{ $d.k }}"#, json!({}), "v"),
    ]);
}

#[test]
fn sprig_regular_expressions() {
    check(&[
        (
            r#"{{ regexMatch "^a.c$" "abc" }} {{ regexMatch "(" "x" }}"#,
            json!({}),
            "true false",
        ),
        (
            r#"{{ regexFind "[0-9]+" "a12b3" }} {{ regexFindAll "[0-9]+" "a1b22c333" -1 }} {{ regexFindAll "[0-9]+" "a1b22c333" 2 }}"#,
            json!({}),
            "12 [1 22 333] [1 22]",
        ),
        (
            r#"{{ regexReplaceAll "a(x*)b" "-ab-axxb-" "${1}W" }} {{ regexReplaceAllLiteral "a(x*)b" "-ab-" "$1" }}"#,
            json!({}),
            "-W-xxW- -$1-",
        ),
        (
            r#"{{ regexSplit "[,;]" "a,b;c" -1 }} {{ regexSplit "," "a,b,c" 2 }} {{ regexQuoteMeta "a.b*c" }}"#,
            json!({}),
            "[a b c] [a b,c] a\\.b\\*c",
        ),
    ]);
}

#[test]
fn execution_errors_name_the_action() {
    check_err(&[
        (
            "{{ nil }}",
            json!({}),
            "template:1:4: executing \"param\" at <nil>: nil is not a command",
        ),
        (
            "{{ .x 1 }}",
            json!({"x": 1}),
            "x is not a method but has arguments",
        ),
        (
            "{{ 1 2 }}",
            json!({}),
            "can't give argument to non-function 1",
        ),
        (
            "{{ $v := \"s\" }}{{ $v.x }}",
            json!({}),
            "can't evaluate field x in type string",
        ),
        (
            "{{ range .l }}{{ .x }}{{ end }}",
            json!({"l": ["s"]}),
            "can't evaluate field x in type interface {}",
        ),
        (
            "{{ range .l }}{{ .x }}{{ end }}",
            json!({"l": [null]}),
            "nil pointer evaluating interface {}.x",
        ),
        (
            "{{ range .s }}{{ end }}",
            json!({"s": "str"}),
            "range can't iterate over str",
        ),
        (
            "{{ range $i, $v := 3 }}{{ end }}",
            json!({}),
            "can't use 3 to iterate over more than one variable",
        ),
        ("{{ upper 3 }}", json!({}), "expected string; found 3"),
        (
            "{{ upper }}",
            json!({}),
            "wrong number of args for upper: want 1 got 0",
        ),
        (
            "{{ upper \"a\" \"b\" }}",
            json!({}),
            "wrong number of args for upper: want 1 got 2",
        ),
        (
            "{{ printf }}",
            json!({}),
            "wrong number of args for printf: want at least 1 got 0",
        ),
        (
            "{{ repeat nil \"x\" }}",
            json!({}),
            "cannot assign nil to int",
        ),
        (
            "{{ upper .missing }}",
            json!({}),
            "invalid value; expected string",
        ),
        (
            "{{ hasKey \"s\" \"k\" }}",
            json!({}),
            "can't handle \"s\" for arg of type map[string]interface {}",
        ),
        (
            "{{ template \"nope\" }}",
            json!({}),
            "template \"nope\" not defined",
        ),
        (
            "{{ div 1 0 }}",
            json!({}),
            "error calling div: runtime error: integer divide by zero",
        ),
        (
            "{{ fail \"stop here\" }}",
            json!({}),
            "error calling fail: stop here",
        ),
        (
            "{{ index .l 5 }}",
            json!({"l": [1]}),
            "error calling index: index out of range: 5",
        ),
        (
            "{{ first \"s\" }}",
            json!({}),
            "error calling first: Cannot find first on type string",
        ),
        (
            "{{ mustFromJson \"{\" }}",
            json!({}),
            "error calling mustFromJson: ",
        ),
        (
            "{{ regexFind \"(\" \"x\" }}",
            json!({}),
            "error calling regexFind: regexp: Compile(\"(\"): error parsing regexp",
        ),
        (
            "{{ lt 1 1.5 }}",
            json!({}),
            "incompatible types for comparison: int and float64",
        ),
        (
            "{{ eq (list) (list) }}",
            json!({}),
            "non-comparable type []: []interface {}",
        ),
        (
            "{{ substr 3 1 \"hello\" }}",
            json!({}),
            "slice bounds out of range [3:1]",
        ),
        (
            "x\n  {{ .a.b }}",
            json!({"a": "s"}),
            "template:2:6: executing \"param\" at <.a.b>: can't evaluate field b in type interface {}",
        ),
        (
            r#"{{ define "T" }}{{ .x.y }}{{ end }}{{ template "T" .l }}"#,
            json!({"l": [1]}),
            "executing \"T\" at <.x.y>: can't evaluate field x in type []interface {}",
        ),
    ]);
}

#[test]
fn parse_errors_are_located() {
    for (src, want) in [
        ("{{ .a", "template:1:1: unclosed action"),
        ("ok\n{{ if .a }}", "template:2:12: unexpected EOF"),
        (
            "{{ env \"HOME\" }}",
            "template:1:4: function \"env\" is not available: it reads the environment",
        ),
        (
            "{{ now }}",
            "template:1:4: function \"now\" is not available: it reads the clock",
        ),
        (
            "{{ uuidv4 }}",
            "template:1:4: function \"uuidv4\" is not available: it is random",
        ),
        (
            "{{ camelcase \"x\" }}",
            "template:1:4: function \"camelcase\" is not available",
        ),
        (
            "{{ $undefined }}",
            "template:1:4: undefined variable \"$undefined\"",
        ),
        (
            "{{ continue }}",
            "template:1:4: {{continue}} outside {{range}}",
        ),
    ] {
        let e = Template::parse(src).unwrap_err();
        assert_eq!(e.to_string(), want, "{src}");
        assert_eq!(e.kind(), ErrorKind::Syntax, "{src}");
    }
}

#[test]
fn event_data_is_never_parsed_as_a_template() {
    let root = input_root(json!({"text": "{{ env \"HOME\" }} {{ .Input }}"}));
    assert_eq!(
        render("{{ .Input.text }}", &root).unwrap(),
        "{{ env \"HOME\" }} {{ .Input }}"
    );
}

#[test]
fn a_parsed_template_is_reusable() {
    let t = Template::parse("{{ .Input.n }}").unwrap();
    assert_eq!(t.source(), "{{ .Input.n }}");
    for n in 0..3 {
        assert_eq!(
            t.render(&input_root(json!({"n": n}))).unwrap(),
            n.to_string()
        );
    }
}

#[test]
fn limits_stop_runaway_templates() {
    let small = Limits {
        max_output_bytes: 10,
        ..Limits::default()
    };
    let t = Template::parse("{{ range 100 }}x{{ end }}").unwrap();
    let e = t.render_with(&json!({}), &small).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Limit);
    assert!(e.message().contains("output exceeds 10 bytes"), "{e}");

    for (src, want) in [
        (
            "{{ range 100000000 }}{{ end }}",
            "execution budget of 1000000 steps exhausted",
        ),
        (
            r#"{{ repeat 10000000 "xx" }}"#,
            "result exceeds 1048576 bytes",
        ),
        (
            r#"{{ define "r" }}{{ template "r" . }}{{ end }}{{ template "r" . }}"#,
            "exceeded maximum template depth (50)",
        ),
        (
            "{{ $l := list }}{{ range 100000 }}{{ $l = append $l 1 }}{{ end }}",
            "execution budget",
        ),
        (
            "{{ $s := \"x\" }}{{ range 100 }}{{ $s = printf \"%s%s\" $s $s }}{{ end }}",
            "result exceeds",
        ),
        (
            "{{ $l := list }}{{ range 300 }}{{ $l = list $l }}{{ end }}",
            "value nesting deeper than 128 levels",
        ),
    ] {
        let e = render(src, &json!({})).unwrap_err();
        assert!(e.to_string().contains(want), "{src}: {e}");
        assert_eq!(e.kind(), ErrorKind::Limit, "{src}: {e}");
    }

    let mut deep = json!(1);
    for _ in 0..300 {
        deep = json!({ "a": deep });
    }
    let e = render("{{ . }}", &deep).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Limit);
}

/// The deepest templates and data the caps allow render (or fail with a limit error) within a
/// 1 MiB stack, even in a debug build; release builds use about a fifth of that.
#[test]
fn nesting_cannot_exhaust_the_stack() {
    let handle = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(|| {
            let ifs = format!("{}x{}", "{{ if 1 }}".repeat(64), "{{ end }}".repeat(64));
            assert_eq!(render(&ifs, &json!({})).unwrap(), "x");
            let parens = format!("{{{{ {}1{} }}}}", "(".repeat(63), ")".repeat(63));
            assert_eq!(render(&parens, &json!({})).unwrap(), "1");
            let nested = format!(
                "{}x{}",
                "{{ with (print (print (print .))) }}".repeat(16),
                "{{ end }}".repeat(16)
            );
            assert_eq!(render(&nested, &json!({"a": 1})).unwrap(), "x");
            let recursive = format!(
                r#"{{{{ define "r" }}}}{}{{{{ template "r" . }}}}{}{{{{ end }}}}{{{{ template "r" . }}}}"#,
                "{{ if 1 }}".repeat(20),
                "{{ end }}".repeat(20)
            );
            let e = render(&recursive, &json!({})).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Limit, "{e}");
            let mut deep = json!(1);
            for _ in 0..63 {
                deep = json!([{ "a": deep }]);
            }
            let out = render("{{ . }}{{ toPrettyJson . | fromJson | deepEqual . }}{{ printf \"%#v\" . | len }}", &deep).unwrap();
            assert!(out.starts_with("[map[a:[map[a:"), "{out}");
        })
        .unwrap();
    handle.join().unwrap();
}
