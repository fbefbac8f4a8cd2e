//! The functions a template may call: Go's builtins and an allowlisted, hermetic part of sprig.
//!
//! Each function has a Go signature ([`Ty`] per parameter, optionally variadic), because Go checks
//! arguments against it before the call: `repeat` takes an `int`, so `repeat (add 1 2) "x"` fails
//! with `wrong type for value; expected int; got int64`, as it does in Argo Events. A function
//! that fails returns a message; the executor reports it as `error calling NAME: message`, which is
//! also how Go reports a sprig function that panics.
//!
//! Anything not in [`FUNCS`] is refused when the template is parsed, as Go refuses an undefined
//! function; sprig functions left out on purpose say why ([`REFUSED`]).

mod builtins;
mod codec;
mod sprig;

use regex::Regex;

use crate::value::Value;

/// A parameter type, as Go's reflection sees it when it checks an argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    /// `interface{}`: anything, including nil.
    Any,
    /// `reflect.Value` (the builtins): anything, including nil.
    Reflect,
    Str,
    Int,
    Float,
    Bool,
    /// `map[string]interface{}`: a JSON object or `dict`, or nil.
    Map,
}

impl Ty {
    pub fn go_name(self) -> &'static str {
        match self {
            Ty::Any => "interface {}",
            Ty::Reflect => "reflect.Value",
            Ty::Str => "string",
            Ty::Int => "int",
            Ty::Float => "float64",
            Ty::Bool => "bool",
            Ty::Map => "map[string]interface {}",
        }
    }

    /// Whether an untyped nil can be passed (Go's `canBeNil`).
    pub fn takes_nil(self) -> bool {
        matches!(self, Ty::Any | Ty::Reflect | Ty::Map)
    }
}

pub(crate) type Impl = fn(&mut Ctx, &[Value]) -> Result<Value, String>;

/// How a function is carried out.
#[derive(Clone, Copy)]
pub(crate) enum Call {
    Plain(Impl),
    /// `and` and `or` evaluate their arguments lazily; the executor does them.
    And,
    Or,
}

pub(crate) struct FuncDef {
    pub name: &'static str,
    pub params: &'static [Ty],
    pub variadic: Option<Ty>,
    /// Whether the function walks its arguments deeply (printing, encoding, comparing), so the
    /// executor charges their whole weight to the work budget.
    pub scans: bool,
    pub call: Call,
}

impl std::fmt::Debug for FuncDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FuncDef({})", self.name)
    }
}

/// Runtime resources shared by the executor and the functions: size limit, work budget and a
/// small cache of compiled regular expressions.
pub(crate) struct Ctx {
    /// The largest string any function may build (the output cap).
    pub max_bytes: usize,
    pub steps: u64,
    pub max_steps: u64,
    /// Set when the work budget ran out inside a function, so the error is reported as a limit.
    pub budget_exhausted: bool,
    regexes: Vec<(String, Regex)>,
}

/// How many compiled regular expressions a render keeps.
const REGEX_CACHE: usize = 16;

/// The largest compiled program for a template's regular expression, in bytes. The regex crate
/// matches in linear time; this bounds memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

impl Ctx {
    pub fn new(max_bytes: usize, max_steps: u64) -> Ctx {
        Ctx {
            max_bytes,
            steps: 0,
            max_steps,
            budget_exhausted: false,
            regexes: Vec::new(),
        }
    }

    /// Spends `n` units of the work budget.
    pub fn charge(&mut self, n: u64) -> Result<(), String> {
        self.steps = self.steps.saturating_add(n);
        if self.steps > self.max_steps {
            self.budget_exhausted = true;
            return Err(format!(
                "execution budget of {} steps exhausted",
                self.max_steps
            ));
        }
        Ok(())
    }

    /// Fails when a string about to be built would exceed the size cap.
    pub fn check_size(&self, len: usize) -> Result<(), String> {
        if len > self.max_bytes {
            return Err(format!("result exceeds {} bytes", self.max_bytes));
        }
        Ok(())
    }

    /// Compiles (or reuses) a regular expression. Go's RE2 syntax and the regex crate's agree on
    /// everything but a few rarely used escapes.
    pub fn regex(&mut self, source: &str) -> Result<Regex, String> {
        if let Some((_, re)) = self.regexes.iter().find(|(s, _)| s == source) {
            return Ok(re.clone());
        }
        self.charge(1 + source.len() as u64)?;
        let re = regex::RegexBuilder::new(source)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|e| {
                format!(
                    "regexp: Compile({}): error parsing regexp: {}",
                    crate::gofmt::quote(source),
                    one_line(&e)
                )
            })?;
        if self.regexes.len() == REGEX_CACHE {
            self.regexes.remove(0);
        }
        self.regexes.push((source.to_string(), re.clone()));
        Ok(re)
    }
}

/// Whether a function's error is a safety cap rather than a problem with the template or data:
/// the size cap ([`Ctx::check_size`]), the value nesting cap, or the work budget.
pub(crate) fn is_limit_message(message: &str) -> bool {
    message.starts_with("result exceeds")
        || message.starts_with("value nesting deeper")
        || message.starts_with("execution budget")
}

/// The regex crate's messages span several lines; the last says what is wrong.
fn one_line(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map_or(text.clone(), |l| {
            l.trim().trim_start_matches("error: ").to_string()
        })
}

// Argument accessors. The executor has checked arguments against the signature, so a mismatch
// here is a bug in the table, reported as an error rather than a panic.

pub(crate) fn str_arg(args: &[Value], i: usize) -> Result<&str, String> {
    match args.get(i) {
        Some(Value::Str(s)) => Ok(s),
        _ => Err(format!("internal error: argument {i} is not a string")),
    }
}

pub(crate) fn int_arg(args: &[Value], i: usize) -> Result<i64, String> {
    match args.get(i) {
        Some(Value::Int(n)) => Ok(*n),
        _ => Err(format!("internal error: argument {i} is not an int")),
    }
}

pub(crate) fn arg(args: &[Value], i: usize) -> Result<&Value, String> {
    args.get(i)
        .ok_or_else(|| format!("internal error: argument {i} is missing"))
}

macro_rules! f {
    ($name:literal, [$($p:ident),*], $imp:path) => {
        FuncDef { name: $name, params: &[$(Ty::$p),*], variadic: None, scans: false, call: Call::Plain($imp) }
    };
    ($name:literal, [$($p:ident),*], ...$v:ident, $imp:path) => {
        FuncDef { name: $name, params: &[$(Ty::$p),*], variadic: Some(Ty::$v), scans: false, call: Call::Plain($imp) }
    };
}

macro_rules! scan {
    ($name:literal, [$($p:ident),*], $imp:path) => {
        FuncDef { name: $name, params: &[$(Ty::$p),*], variadic: None, scans: true, call: Call::Plain($imp) }
    };
    ($name:literal, [$($p:ident),*], ...$v:ident, $imp:path) => {
        FuncDef { name: $name, params: &[$(Ty::$p),*], variadic: Some(Ty::$v), scans: true, call: Call::Plain($imp) }
    };
}

/// Every function a template may call. The first block is Go's builtins (`call` is left out);
/// `slice` is sprig's, which replaces Go's in Argo Events because function maps take precedence
/// over builtins.
pub(crate) static FUNCS: &[FuncDef] = &[
    // Go builtins.
    FuncDef {
        name: "and",
        params: &[Ty::Reflect],
        variadic: Some(Ty::Reflect),
        scans: false,
        call: Call::And,
    },
    FuncDef {
        name: "or",
        params: &[Ty::Reflect],
        variadic: Some(Ty::Reflect),
        scans: false,
        call: Call::Or,
    },
    f!("not", [Reflect], builtins::not),
    f!("len", [Reflect], builtins::len),
    f!("index", [Reflect], ...Reflect, builtins::index),
    scan!("print", [], ...Any, builtins::print),
    scan!("printf", [Str], ...Any, builtins::printf),
    scan!("println", [], ...Any, builtins::println),
    scan!("html", [], ...Any, builtins::html),
    scan!("js", [], ...Any, builtins::js),
    scan!("urlquery", [], ...Any, builtins::urlquery),
    scan!("eq", [Reflect], ...Reflect, builtins::eq),
    scan!("ne", [Reflect, Reflect], builtins::ne),
    f!("lt", [Reflect, Reflect], builtins::lt),
    f!("le", [Reflect, Reflect], builtins::le),
    f!("gt", [Reflect, Reflect], builtins::gt),
    f!("ge", [Reflect, Reflect], builtins::ge),
    // sprig: strings.
    f!("upper", [Str], sprig::upper),
    f!("lower", [Str], sprig::lower),
    f!("title", [Str], sprig::title),
    f!("trim", [Str], sprig::trim),
    f!("trimAll", [Str, Str], sprig::trim_all),
    f!("trimall", [Str, Str], sprig::trim_all),
    f!("trimPrefix", [Str, Str], sprig::trim_prefix),
    f!("trimSuffix", [Str, Str], sprig::trim_suffix),
    f!("replace", [Str, Str, Str], sprig::replace),
    f!("contains", [Str, Str], sprig::contains),
    f!("hasPrefix", [Str, Str], sprig::has_prefix),
    f!("hasSuffix", [Str, Str], sprig::has_suffix),
    scan!("quote", [], ...Any, sprig::quote),
    scan!("squote", [], ...Any, sprig::squote),
    scan!("cat", [], ...Any, sprig::cat),
    f!("indent", [Int, Str], sprig::indent),
    f!("nindent", [Int, Str], sprig::nindent),
    f!("nospace", [Str], sprig::nospace),
    f!("repeat", [Int, Str], sprig::repeat),
    f!("substr", [Int, Int, Str], sprig::substr),
    f!("trunc", [Int, Str], sprig::trunc),
    f!("abbrev", [Int, Str], sprig::abbrev),
    f!("plural", [Str, Str, Int], sprig::plural),
    f!("split", [Str, Str], sprig::split),
    f!("splitn", [Str, Int, Str], sprig::splitn),
    f!("splitList", [Str, Str], sprig::split_list),
    scan!("join", [Str, Any], sprig::join),
    scan!("toString", [Any], sprig::to_string),
    scan!("toStrings", [Any], sprig::to_strings),
    scan!("sortAlpha", [Any], sprig::sort_alpha),
    // sprig: encodings and hashes.
    f!("b64enc", [Str], sprig::b64enc),
    f!("b64dec", [Str], sprig::b64dec),
    f!("sha1sum", [Str], sprig::sha1sum),
    f!("sha256sum", [Str], sprig::sha256sum),
    f!("sha512sum", [Str], sprig::sha512sum),
    f!("adler32sum", [Str], sprig::adler32sum),
    // sprig: conversions and arithmetic.
    f!("atoi", [Str], sprig::atoi),
    f!("int", [Any], sprig::to_int),
    f!("int64", [Any], sprig::to_int64),
    f!("float64", [Any], sprig::to_float64),
    scan!("toDecimal", [Any], sprig::to_decimal),
    f!("add", [], ...Any, sprig::add),
    f!("add1", [Any], sprig::add1),
    f!("sub", [Any, Any], sprig::sub),
    f!("mul", [Any], ...Any, sprig::mul),
    f!("div", [Any, Any], sprig::div),
    f!("mod", [Any, Any], sprig::modulo),
    f!("max", [Any], ...Any, sprig::max),
    f!("biggest", [Any], ...Any, sprig::max),
    f!("min", [Any], ...Any, sprig::min),
    f!("maxf", [Any], ...Any, sprig::maxf),
    f!("minf", [Any], ...Any, sprig::minf),
    f!("floor", [Any], sprig::floor),
    f!("ceil", [Any], sprig::ceil),
    f!("round", [Any, Int], ...Float, sprig::round),
    // sprig: defaults, JSON, reflection, flow.
    f!("default", [Any], ...Any, sprig::default),
    f!("empty", [Any], sprig::empty),
    f!("coalesce", [], ...Any, sprig::coalesce),
    f!("all", [], ...Any, sprig::all),
    f!("any", [], ...Any, sprig::any),
    f!("ternary", [Any, Any, Bool], sprig::ternary),
    f!("fromJson", [Str], sprig::from_json),
    f!("mustFromJson", [Str], sprig::must_from_json),
    scan!("toJson", [Any], sprig::to_json),
    scan!("mustToJson", [Any], sprig::must_to_json),
    scan!("toPrettyJson", [Any], sprig::to_pretty_json),
    scan!("mustToPrettyJson", [Any], sprig::must_to_pretty_json),
    scan!("toRawJson", [Any], sprig::to_raw_json),
    scan!("mustToRawJson", [Any], sprig::to_raw_json),
    f!("typeOf", [Any], sprig::type_of),
    f!("typeIs", [Str, Any], sprig::type_is),
    f!("kindOf", [Any], sprig::kind_of),
    f!("kindIs", [Str, Any], sprig::kind_is),
    scan!("deepEqual", [Any, Any], sprig::deep_equal),
    f!("fail", [Str], sprig::fail),
    // sprig: paths (slash-separated, the `path` package; not the OS-specific `filepath`).
    f!("base", [Str], sprig::path_base),
    f!("dir", [Str], sprig::path_dir),
    f!("clean", [Str], sprig::path_clean),
    f!("ext", [Str], sprig::path_ext),
    f!("isAbs", [Str], sprig::path_is_abs),
    // sprig: lists.
    f!("list", [], ...Any, sprig::list),
    f!("tuple", [], ...Any, sprig::list),
    f!("first", [Any], sprig::first),
    f!("mustFirst", [Any], sprig::first),
    f!("last", [Any], sprig::last),
    f!("mustLast", [Any], sprig::last),
    f!("rest", [Any], sprig::rest),
    f!("mustRest", [Any], sprig::rest),
    f!("initial", [Any], sprig::initial),
    f!("mustInitial", [Any], sprig::initial),
    f!("append", [Any, Any], sprig::push),
    f!("push", [Any, Any], sprig::push),
    f!("mustAppend", [Any, Any], sprig::push),
    f!("mustPush", [Any, Any], sprig::push),
    f!("prepend", [Any, Any], sprig::prepend),
    f!("mustPrepend", [Any, Any], sprig::prepend),
    f!("concat", [], ...Any, sprig::concat),
    f!("reverse", [Any], sprig::reverse),
    f!("mustReverse", [Any], sprig::reverse),
    scan!("uniq", [Any], sprig::uniq),
    scan!("mustUniq", [Any], sprig::uniq),
    scan!("compact", [Any], sprig::compact),
    scan!("mustCompact", [Any], sprig::compact),
    scan!("without", [Any], ...Any, sprig::without),
    scan!("mustWithout", [Any], ...Any, sprig::without),
    scan!("has", [Any, Any], sprig::has),
    scan!("mustHas", [Any, Any], sprig::has),
    f!("slice", [Any], ...Any, sprig::slice),
    f!("mustSlice", [Any], ...Any, sprig::slice),
    // sprig: dictionaries.
    f!("dict", [], ...Any, sprig::dict),
    f!("get", [Map, Str], sprig::get),
    f!("hasKey", [Map, Str], sprig::has_key),
    f!("keys", [], ...Map, sprig::keys),
    f!("values", [Map], sprig::values),
    f!("pick", [Map], ...Str, sprig::pick),
    f!("omit", [Map], ...Str, sprig::omit),
    f!("pluck", [Str], ...Map, sprig::pluck),
    f!("dig", [], ...Any, sprig::dig),
    // sprig: regular expressions.
    f!("regexMatch", [Str, Str], sprig::regex_match),
    f!("mustRegexMatch", [Str, Str], sprig::must_regex_match),
    f!("regexFind", [Str, Str], sprig::regex_find),
    f!("mustRegexFind", [Str, Str], sprig::regex_find),
    f!("regexFindAll", [Str, Str, Int], sprig::regex_find_all),
    f!("mustRegexFindAll", [Str, Str, Int], sprig::regex_find_all),
    f!("regexReplaceAll", [Str, Str, Str], sprig::regex_replace_all),
    f!(
        "mustRegexReplaceAll",
        [Str, Str, Str],
        sprig::regex_replace_all
    ),
    f!(
        "regexReplaceAllLiteral",
        [Str, Str, Str],
        sprig::regex_replace_all_literal
    ),
    f!(
        "mustRegexReplaceAllLiteral",
        [Str, Str, Str],
        sprig::regex_replace_all_literal
    ),
    f!("regexSplit", [Str, Str, Int], sprig::regex_split),
    f!("mustRegexSplit", [Str, Str, Int], sprig::regex_split),
    f!("regexQuoteMeta", [Str], sprig::regex_quote_meta),
];

/// sprig functions that are left out on purpose, and why.
pub(crate) static REFUSED: &[(&str, &str)] = &[
    ("env", "it reads the environment"),
    ("expandenv", "it reads the environment"),
    ("getHostByName", "it uses the network"),
    ("now", "it reads the clock"),
    ("date", "date functions are not supported"),
    ("dateInZone", "date functions are not supported"),
    ("date_in_zone", "date functions are not supported"),
    ("dateModify", "date functions are not supported"),
    ("date_modify", "date functions are not supported"),
    ("mustDateModify", "date functions are not supported"),
    ("must_date_modify", "date functions are not supported"),
    ("htmlDate", "date functions are not supported"),
    ("htmlDateInZone", "date functions are not supported"),
    ("ago", "it reads the clock"),
    ("toDate", "date functions are not supported"),
    ("mustToDate", "date functions are not supported"),
    ("unixEpoch", "date functions are not supported"),
    ("duration", "date functions are not supported"),
    ("durationRound", "date functions are not supported"),
    ("randAlphaNum", "it is random"),
    ("randAlpha", "it is random"),
    ("randAscii", "it is random"),
    ("randNumeric", "it is random"),
    ("randBytes", "it is random"),
    ("randInt", "it is random"),
    ("shuffle", "it is random"),
    ("uuidv4", "it is random"),
    ("genPrivateKey", "it is random"),
    ("genCA", "it is random"),
    ("genCAWithKey", "it is random"),
    ("genSelfSignedCert", "it is random"),
    ("genSelfSignedCertWithKey", "it is random"),
    ("genSignedCert", "it is random"),
    ("genSignedCertWithKey", "it is random"),
    ("buildCustomCert", "certificate functions are not supported"),
    ("bcrypt", "it is random"),
    ("htpasswd", "it is random"),
    ("encryptAES", "it is random"),
    ("decryptAES", "encryption functions are not supported"),
    ("derivePassword", "password functions are not supported"),
    ("call", "templates cannot call function values"),
    ("set", "templates cannot modify data"),
    ("unset", "templates cannot modify data"),
    ("merge", "templates cannot modify data"),
    ("mergeOverwrite", "templates cannot modify data"),
    ("mustMerge", "templates cannot modify data"),
    ("mustMergeOverwrite", "templates cannot modify data"),
];

/// Finds a function by name, or says why it is not available.
pub(crate) fn lookup(name: &str) -> Result<&'static FuncDef, String> {
    if let Some(def) = FUNCS.iter().find(|d| d.name == name) {
        return Ok(def);
    }
    let quoted = crate::gofmt::quote(name);
    match REFUSED.iter().find(|(n, _)| *n == name) {
        Some((_, why)) => Err(format!("function {quoted} is not available: {why}")),
        None => Err(format!("function {quoted} is not available")),
    }
}

/// The names of every available function, in table order (for documentation and tests).
pub fn available() -> impl Iterator<Item = &'static str> {
    FUNCS.iter().map(|d| d.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_not_refused() {
        let mut names: Vec<&str> = available().collect();
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n, "duplicate function names");
        for (refused, _) in REFUSED {
            assert!(
                !names.contains(refused),
                "{refused} is both available and refused"
            );
        }
    }

    #[test]
    fn lookup_explains_refusals() {
        assert!(lookup("toJson").is_ok());
        assert_eq!(
            lookup("env").unwrap_err(),
            "function \"env\" is not available: it reads the environment"
        );
        assert_eq!(
            lookup("nope").unwrap_err(),
            "function \"nope\" is not available"
        );
    }
}
