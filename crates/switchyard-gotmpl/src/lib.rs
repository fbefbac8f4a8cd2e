//! Go `text/template`, as Argo Events runs it for Sensor trigger parameters. Pure: no I/O, no
//! clock, no environment.
//!
//! # Where Argo Events uses it
//!
//! A trigger parameter's `src.dataTemplate` or `src.contextTemplate` (in `parameters` of a
//! trigger template or of a Kubernetes resource, and in the `payload` parameters of an HTTP
//! trigger) is a Go template. Argo Events (`sensors/triggers/params.go`, `getValueWithTemplate`)
//! parses it with `text/template` plus the sprig function map under the template name `param`,
//! and executes it over
//!
//! ```text
//! map[string]interface{}{"Input": gjson.ParseBytes(payload).Value()}
//! ```
//!
//! where `payload` is the event's data as JSON (`dataTemplate`; YAML data is converted to JSON
//! first) or the event's context as JSON (`contextTemplate`: `id`, `source`, `specversion`,
//! `type`, `datacontenttype`, `subject`, `time`). So templates read `{{ .Input.body.name }}`, and
//! every JSON number is a Go `float64`: `{{ .Input.count }}` prints `1e+06` for 1000000, and
//! `eq .Input.count 1` fails (`float64` vs `int`) where `eq .Input.count 1.0` works. Build the
//! root with [`input_root`].
//!
//! Argo treats an output of `""` or [`NO_VALUE`] (`<no value>`) as a failure of the template and
//! falls back to `dataKey`/`contextKey`, then to the parameter's `value`; that decision belongs to
//! the caller, which gets the rendered text here.
//!
//! A dependency's data filter may have a `template` too (`sensors/dependencies/filter.go`). There
//! the root is `{"Input": res.String()}`: a Go *string*, gjson's text of the value at the
//! filter's `path` (a string as itself, a number as its JSON text, an object or array as its raw
//! JSON). Pass `input_root(serde_json::Value::String(text))` for those; the same `""`/`<no value>`
//! rule applies, and the output is then compared as a string.
//!
//! Event data is only ever data: it is never parsed as a template. Only the manifest's template
//! text is parsed.
//!
//! # Language
//!
//! Everything in Go's `text/template` except method calls and `call`: text and actions with trim
//! markers (`{{-`, `-}}`), comments, pipelines, fields (`.a.b`), `$` and variables (`:=`, `=`),
//! `if`/`else if`/`else`, `with`/`else with`, `range` over lists, maps (sorted keys) and integers
//! with `else`, `break` and `continue`, `define`/`template`/`block`, literals (strings with Go
//! escapes, raw strings, characters, numbers in every Go form except complex, `true`, `false`,
//! `nil`), parenthesized pipelines, and the builtins `and`, `or` (short-circuit), `not`, `len`,
//! `index`, `print`, `printf`, `println`, `html`, `js`, `urlquery`, `eq` (several arguments), `ne`,
//! `lt`, `le`, `gt`, `ge`. Printing follows Go's `fmt` (`%v` of maps is `map[a:1 b:2]` with sorted
//! keys; `printf` supports every verb, flag, width, precision, `*` and `%[n]`, except that `%p`
//! prints as a bad verb because addresses are not deterministic). A missing map key prints
//! `<no value>` (Go's default `missingkey` option).
//!
//! # Functions
//!
//! Go's builtins above, and this sprig subset (sprig's semantics; [`functions`] lists them all):
//!
//! - strings: `upper lower title trim trimAll trimall trimPrefix trimSuffix replace contains
//!   hasPrefix hasSuffix quote squote cat indent nindent nospace repeat substr trunc abbrev plural
//!   split splitn splitList join toString toStrings sortAlpha`
//! - encodings and hashes: `b64enc b64dec sha1sum sha256sum sha512sum adler32sum`
//! - numbers: `atoi int int64 float64 toDecimal add add1 sub mul div mod max biggest min maxf minf
//!   floor ceil round`
//! - defaults, JSON, types: `default empty coalesce all any ternary fromJson mustFromJson toJson
//!   mustToJson toPrettyJson mustToPrettyJson toRawJson mustToRawJson typeOf typeIs kindOf kindIs
//!   deepEqual fail`
//! - paths (slash-separated): `base dir clean ext isAbs`
//! - lists: `list tuple first last rest initial append push prepend concat reverse uniq compact
//!   without has slice` (and their `must` forms)
//! - dictionaries: `dict get hasKey keys values pick omit pluck dig`
//! - regular expressions (the `regex` crate; RE2 syntax): `regexMatch regexFind regexFindAll
//!   regexReplaceAll regexReplaceAllLiteral regexSplit regexQuoteMeta` (and their `must` forms)
//!
//! Choices where sprig leaves room: `fromJson` returns nil for text that is not JSON, as sprig
//! does (use `mustFromJson` to fail instead; its message is this decoder's, not Go's); `keys`
//! and `values` are in sorted key order (sprig's order is Go's random map order); `slice` is
//! sprig's, which overrides Go's builtin in Argo Events; number conversions read `"3.00"` as 3
//! (spf13/cast's current behaviour).
//!
//! Not available, refused when the template is parsed with a reason: anything reading the
//! environment (`env`, `expandenv`), the network (`getHostByName`) or the clock (`now`, `date`
//! and the other date functions), anything random (`rand*`, `uuidv4`, key and certificate
//! generation, `bcrypt`, `htpasswd`, `encryptAES`), functions that modify data (`set`, `unset`,
//! `merge*`), and `call`. Other sprig functions (`camelcase`, `semver`, `until`, `addf`, ...)
//! are not available either.
//!
//! # Known differences from Go
//!
//! Strings are UTF-8: a byte escape (`"\xff"`) or a byte cut (`substr`, `trunc`, `abbrev`) that
//! leaves a partial character gives U+FFFD where Go keeps the raw byte. Complex number literals
//! are refused. `%q` escapes control, format, private-use and non-ASCII space characters as Go
//! does, but prints unassigned code points as they are. Regular expressions use the `regex`
//! crate, whose syntax is RE2's except for rarities such as `\C` and `\Q...\E`. `rest` and
//! `initial` of an empty list give an empty list (Go: a nil slice, which `toJson` writes as
//! `null`). `len` of nil says `len of nil pointer`. An error inside `if`, `range` or `with` shows
//! the opening action as its context rather than the whole block.
//!
//! # Limits
//!
//! Templates come from platform engineers, but the data they run over comes from anyone who can
//! send an event, so rendering is bounded ([`Limits`]): output size (also the largest string any
//! function may build), a work budget (every node, loop iteration and function call spends from
//! it, functions in proportion to the data they walk), nesting depth at run time and template
//! call depth. Parsing caps the template size ([`MAX_SOURCE_BYTES`]) and its nesting. No input
//! makes this crate panic.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod error;
mod exec;
mod funcs;
mod gofmt;
mod json;
mod lex;
mod num;
mod parse;
mod value;

pub use error::{ErrorKind, TemplateError};

/// What a template that produced nothing prints for a missing value; Argo Events treats this
/// output, like an empty one, as a failed template.
pub const NO_VALUE: &str = "<no value>";

/// The largest template text [`Template::parse`] accepts, in bytes.
pub const MAX_SOURCE_BYTES: usize = 256 * 1024;

/// Caps on one rendering. The defaults: 1 MiB of output, 1,000,000 steps, nesting 150 deep,
/// 50 nested template calls; at those depths rendering needs well under 1 MiB of stack even in a
/// debug build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// The largest output, and the largest string any function may build, in bytes.
    pub max_output_bytes: usize,
    /// The work budget: each node, loop iteration and function call costs at least one step;
    /// functions that walk their arguments (printing, JSON, comparisons) cost in proportion to
    /// the data.
    pub max_steps: u64,
    /// How deeply lists and pipelines may nest while executing (control structures, parentheses
    /// and template calls all add up).
    pub max_depth: usize,
    /// How deeply `{{template}}` calls may nest.
    pub max_template_calls: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_output_bytes: 1 << 20,
            max_steps: 1_000_000,
            max_depth: 150,
            max_template_calls: 50,
        }
    }
}

/// A parsed template, reusable and shareable across threads.
#[derive(Debug)]
pub struct Template {
    source: String,
    tree: parse::Tree,
}

impl Template {
    /// Parses template text. Syntax errors, unknown or refused functions and undeclared variables
    /// are reported with their line and column.
    pub fn parse(source: &str) -> Result<Template, TemplateError> {
        if source.len() > MAX_SOURCE_BYTES {
            return Err(TemplateError::at(
                "",
                0,
                ErrorKind::Limit,
                format!("template text exceeds {MAX_SOURCE_BYTES} bytes"),
            ));
        }
        let tree = parse::parse(source)?;
        Ok(Template {
            source: source.to_string(),
            tree,
        })
    }

    /// Renders the template over `root` (for Argo Events parameters, [`input_root`] of the
    /// payload) with the default [`Limits`].
    pub fn render(&self, root: &serde_json::Value) -> Result<String, TemplateError> {
        self.render_with(root, &Limits::default())
    }

    /// Renders with explicit limits. Errors name the action (line, column and text) and why it
    /// failed.
    pub fn render_with(
        &self,
        root: &serde_json::Value,
        limits: &Limits,
    ) -> Result<String, TemplateError> {
        exec::execute(&self.tree, &self.source, root, limits)
    }

    /// The template text.
    pub fn source(&self) -> &str {
        &self.source
    }
}

/// Parses and renders in one step.
pub fn render(source: &str, root: &serde_json::Value) -> Result<String, TemplateError> {
    Template::parse(source)?.render(root)
}

/// The root object Argo Events renders parameter templates over: `{"Input": payload}`.
pub fn input_root(payload: serde_json::Value) -> serde_json::Value {
    let mut root = serde_json::Map::new();
    root.insert("Input".to_string(), payload);
    serde_json::Value::Object(root)
}

/// The names of every function a template may call.
pub fn functions() -> impl Iterator<Item = &'static str> {
    funcs::available()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Template>();
        check::<TemplateError>();
    }

    #[test]
    fn oversized_templates_are_refused() {
        let big = "x".repeat(MAX_SOURCE_BYTES + 1);
        assert_eq!(Template::parse(&big).unwrap_err().kind(), ErrorKind::Limit);
    }
}
