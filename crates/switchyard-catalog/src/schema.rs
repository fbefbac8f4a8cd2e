//! The JSON Schema subset (draft 2020-12) an offering's input is written in, turned into the rules validation runs.
//!
//! Parsing reports every problem at once, each at its path (`spec.input.properties.region.pattern`): keywords
//! outside the subset, keywords on a type they do not apply to, patterns that do not compile, empty ranges, and
//! `enum`, `const`, `default` and `examples` values that their own schema would refuse. Refusing at apply time
//! is what lets validation at order time be total: a parsed schema has no error cases left.

use regex::{Regex, RegexBuilder};
use serde::{Serialize, Serializer};
use serde_json::{Map, Number, Value};

use crate::error::FieldError;
use crate::format::Format;
use crate::number::{self, canonical};
use crate::offering::Problem;
use crate::path;
use crate::validate;

/// How deep schemas may nest (an object property's schema is one level below the object's). Validation
/// recurses along the schema, so this bounds its stack for any body.
pub const MAX_SCHEMA_DEPTH: usize = 16;

/// A compiled pattern may use at most this much memory; the regex crate matches in linear time, so this is the
/// only cost a pattern can impose.
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

/// Every keyword the subset supports, in the order messages list them.
const KEYWORDS: &[&str] = &[
    "type",
    "enum",
    "const",
    "default",
    "examples",
    "title",
    "description",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "format",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "minItems",
    "maxItems",
    "uniqueItems",
];

/// The JSON type a schema declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JsonType {
    String,
    Integer,
    Number,
    Boolean,
    Object,
    Array,
}

impl JsonType {
    pub const ALL: &'static [JsonType] = &[
        JsonType::String,
        JsonType::Integer,
        JsonType::Number,
        JsonType::Boolean,
        JsonType::Object,
        JsonType::Array,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JsonType::String => "string",
            JsonType::Integer => "integer",
            JsonType::Number => "number",
            JsonType::Boolean => "boolean",
            JsonType::Object => "object",
            JsonType::Array => "array",
        }
    }

    pub fn parse(name: &str) -> Option<JsonType> {
        JsonType::ALL.iter().copied().find(|t| t.as_str() == name)
    }
}

/// A `pattern`: its text (what messages quote) and the compiled, unanchored regex.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    pub source: String,
    pub regex: Regex,
}

/// One schema of the subset, parsed. Keywords that do not apply to `ty` are never set.
#[derive(Debug, Clone, Default)]
pub(crate) struct Schema {
    pub ty: Option<JsonType>,
    pub constant: Option<Value>,
    pub choices: Option<Vec<Value>>,
    /// The default as it is filled in: already validated, with integral numbers normalized and nested
    /// defaults filled.
    pub default: Option<Value>,
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    pub pattern: Option<Pattern>,
    pub format: Option<Format>,
    pub minimum: Option<Number>,
    pub maximum: Option<Number>,
    pub exclusive_minimum: Option<Number>,
    pub exclusive_maximum: Option<Number>,
    pub multiple_of: Option<Number>,
    /// In document order, which is the order errors are reported in.
    pub properties: Vec<Property>,
    pub items: Option<Box<Schema>>,
    pub min_items: Option<u64>,
    pub max_items: Option<u64>,
    pub unique_items: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Property {
    pub name: String,
    pub required: bool,
    pub schema: Schema,
}

impl Schema {
    pub(crate) fn property(&self, name: &str) -> Option<&Property> {
        self.properties.iter().find(|p| p.name == name)
    }
}

/// An offering's input schema: the rules, and the schema as written (for documents and API answers).
#[derive(Debug, Clone)]
pub struct InputSchema {
    root: Schema,
    json: Value,
}

impl PartialEq for InputSchema {
    fn eq(&self, other: &Self) -> bool {
        self.json == other.json
    }
}

impl Serialize for InputSchema {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.json.serialize(s)
    }
}

impl InputSchema {
    /// Parses an input schema written at `path` (`spec.input`). The input must be `type: object`.
    pub fn parse(schema: &Value, path: &str) -> Result<InputSchema, Vec<Problem>> {
        let mut parser = Parser::default();
        // The rest of a non-object input is still checked as the object it must be, so one wrong `type` is one
        // problem rather than one per object keyword.
        let mut as_object = schema.clone();
        if let Value::Object(map) = &mut as_object {
            match map.get("type") {
                None => parser.problem(
                    path.to_owned(),
                    "the input must be `type: object`, with the order's fields under `properties`",
                ),
                Some(Value::String(t)) if t == "object" => {}
                Some(t) => parser.problem(
                    path::key(path, "type"),
                    format!("the input must be `type: object`, not {t}"),
                ),
            }
            map.insert("type".to_owned(), Value::from("object"));
            if map.contains_key("default") {
                parser.problem(
                    path::key(path, "default"),
                    "a default for the whole input is not supported: give defaults to its properties",
                );
            }
        }
        let root = parser.schema(&as_object, path, 1);
        if parser.problems.is_empty() {
            Ok(InputSchema {
                root,
                json: schema.clone(),
            })
        } else {
            Err(parser.problems)
        }
    }

    /// The input of an offering that asks for nothing: an object with no properties.
    pub fn empty() -> InputSchema {
        InputSchema {
            root: Schema {
                ty: Some(JsonType::Object),
                ..Schema::default()
            },
            json: serde_json::json!({"type": "object"}),
        }
    }

    /// The schema as written in the manifest.
    pub fn json(&self) -> &Value {
        &self.json
    }

    /// The schema as validation applies it, for documents: every object says `additionalProperties: false`
    /// (implied when written), a property with a default is not listed as required (the default fills it in),
    /// and defaults are shown as they are filled in.
    pub fn effective_json(&self) -> Value {
        effective(&self.json, &self.root)
    }

    /// The names of the top-level properties, in document order.
    pub fn property_names(&self) -> Vec<&str> {
        self.root
            .properties
            .iter()
            .map(|p| p.name.as_str())
            .collect()
    }

    pub(crate) fn root(&self) -> &Schema {
        &self.root
    }
}

fn effective(raw: &Value, schema: &Schema) -> Value {
    let Value::Object(map) = raw else {
        return raw.clone();
    };
    let mut out = Map::new();
    for (k, v) in map {
        let v = match k.as_str() {
            "properties" => {
                let mut props = Map::new();
                if let Value::Object(written) = v {
                    for (name, sub) in written {
                        let sub = match schema.property(name) {
                            Some(p) => effective(sub, &p.schema),
                            None => sub.clone(),
                        };
                        props.insert(name.clone(), sub);
                    }
                }
                Value::Object(props)
            }
            "items" => match &schema.items {
                Some(items) => effective(v, items),
                None => v.clone(),
            },
            "default" => schema.default.clone().unwrap_or_else(|| v.clone()),
            "required" => {
                let still: Vec<Value> = schema
                    .properties
                    .iter()
                    .filter(|p| p.required && p.schema.default.is_none())
                    .map(|p| Value::from(p.name.as_str()))
                    .collect();
                if still.is_empty() {
                    continue;
                }
                Value::Array(still)
            }
            _ => v.clone(),
        };
        out.insert(k.clone(), v);
    }
    if schema.ty == Some(JsonType::Object) {
        out.insert("additionalProperties".to_owned(), Value::Bool(false));
    }
    Value::Object(out)
}

/// Which types a type-specific keyword applies to; `None` for keywords that apply to any schema.
fn applies_to(keyword: &str) -> Option<&'static [JsonType]> {
    match keyword {
        "pattern" | "minLength" | "maxLength" | "format" => Some(&[JsonType::String]),
        "minimum" | "maximum" | "exclusiveMinimum" | "exclusiveMaximum" | "multipleOf" => {
            Some(&[JsonType::Integer, JsonType::Number])
        }
        "properties" | "required" | "additionalProperties" => Some(&[JsonType::Object]),
        "items" | "minItems" | "maxItems" | "uniqueItems" => Some(&[JsonType::Array]),
        _ => None,
    }
}

fn unsupported(keyword: &str) -> String {
    match keyword {
        "nullable" => {
            "`nullable` is not supported: leave the property out of `required` to make it optional"
                .to_owned()
        }
        "$ref" | "$defs" | "definitions" => {
            format!("`{keyword}` is not supported: write each schema in place")
        }
        "prefixItems" => {
            "`prefixItems` is not supported: give one schema for every item under `items`"
                .to_owned()
        }
        _ => format!(
            "`{keyword}` is not a supported schema keyword (supported: {})",
            KEYWORDS.join(", ")
        ),
    }
}

/// The one line of a regex error that says what is wrong (the crate's message also draws the pattern with a
/// caret, which does not survive being one line of a diagnostic).
fn regex_reason(e: &regex::Error) -> String {
    match e {
        regex::Error::CompiledTooBig(limit) => {
            format!("the pattern compiles to more than {limit} bytes; simplify it")
        }
        other => {
            let text = other.to_string();
            text.lines()
                .rev()
                .find_map(|l| l.trim().strip_prefix("error: "))
                .map_or_else(|| text.trim().to_owned(), str::to_owned)
        }
    }
}

#[derive(Default)]
struct Parser {
    problems: Vec<Problem>,
}

impl Parser {
    fn problem(&mut self, path: String, message: impl Into<String>) {
        self.problems.push(Problem {
            path,
            message: message.into(),
        });
    }

    fn schema(&mut self, value: &Value, path: &str, depth: usize) -> Schema {
        let Value::Object(map) = value else {
            self.problem(
                path.to_owned(),
                "a schema must be a mapping of keywords, like `{type: string}`",
            );
            return Schema::default();
        };
        if depth > MAX_SCHEMA_DEPTH {
            self.problem(
                path.to_owned(),
                format!("schemas may nest at most {MAX_SCHEMA_DEPTH} levels deep"),
            );
            return Schema::default();
        }
        let mut s = Schema::default();
        let mut type_known = true;
        if let Some(t) = map.get("type") {
            s.ty = self.json_type(t, &path::key(path, "type"));
            type_known = s.ty.is_some();
        }
        for (k, v) in map {
            let at = path::key(path, k);
            if !KEYWORDS.contains(&k.as_str()) {
                self.problem(at, unsupported(k));
                continue;
            }
            if let Some(types) = applies_to(k)
                && !s.ty.is_some_and(|t| types.contains(&t))
            {
                // With a malformed `type` the real problem is already reported.
                if type_known {
                    let names: Vec<String> = types
                        .iter()
                        .map(|t| format!("`type: {}`", t.as_str()))
                        .collect();
                    self.problem(at, format!("`{k}` applies only to {}", names.join(" or ")));
                }
                continue;
            }
            match k.as_str() {
                "title" | "description" if !v.is_string() => {
                    self.problem(at, "must be a string");
                }
                "pattern" => s.pattern = self.pattern(v, at),
                "minLength" => s.min_length = self.count(v, at),
                "maxLength" => s.max_length = self.count(v, at),
                "format" => s.format = self.format(v, at),
                "minimum" => s.minimum = self.number(v, at, k),
                "maximum" => s.maximum = self.number(v, at, k),
                "exclusiveMinimum" => s.exclusive_minimum = self.number(v, at, k),
                "exclusiveMaximum" => s.exclusive_maximum = self.number(v, at, k),
                "multipleOf" => {
                    s.multiple_of = self.number(v, at.clone(), k);
                    if let Some(m) = &s.multiple_of
                        && number::compare(m, &Number::from(0)).is_none_or(|o| o.is_le())
                    {
                        self.problem(at, "must be greater than 0");
                        s.multiple_of = None;
                    }
                }
                "properties" => s.properties = self.properties(v, &at, depth),
                "additionalProperties" => match v {
                    Value::Bool(false) => {}
                    Value::Bool(true) => self.problem(
                        at,
                        "`additionalProperties: true` is not supported: undeclared fields are always rejected",
                    ),
                    _ => self.problem(
                        at,
                        "only `additionalProperties: false` is supported (and it is implied)",
                    ),
                },
                "items" => match v {
                    Value::Array(_) => self.problem(
                        at,
                        "a list of item schemas is not supported: give one schema for every item",
                    ),
                    _ => s.items = Some(Box::new(self.schema(v, &at, depth + 1))),
                },
                "minItems" => s.min_items = self.count(v, at),
                "maxItems" => s.max_items = self.count(v, at),
                "uniqueItems" => match v {
                    Value::Bool(b) => s.unique_items = *b,
                    _ => self.problem(at, "must be true or false"),
                },
                // `type` is read above; `required` needs every property; the values need the whole schema.
                _ => {}
            }
        }
        if let Some(required) = map.get("required")
            && s.ty == Some(JsonType::Object)
        {
            self.required(required, &path::key(path, "required"), &mut s);
        }
        self.ranges(&s, path);
        self.values(map, path, &mut s);
        s
    }

    fn json_type(&mut self, t: &Value, at: &str) -> Option<JsonType> {
        match t {
            Value::String(name) => match JsonType::parse(name) {
                Some(ty) => Some(ty),
                None if name == "null" => {
                    self.problem(at.to_owned(), "`type: null` is not supported: leave the property out of `required` to make it optional");
                    None
                }
                None => {
                    self.problem(
                        at.to_owned(),
                        format!(
                            "unknown type `{name}` (expected string, integer, number, boolean, object or array)"
                        ),
                    );
                    None
                }
            },
            Value::Array(_) => {
                self.problem(
                    at.to_owned(),
                    "a list of types is not supported: give one type",
                );
                None
            }
            _ => {
                self.problem(
                    at.to_owned(),
                    "must be one of string, integer, number, boolean, object or array",
                );
                None
            }
        }
    }

    fn pattern(&mut self, v: &Value, at: String) -> Option<Pattern> {
        let Value::String(source) = v else {
            self.problem(at, "must be a string (a regular expression)");
            return None;
        };
        match RegexBuilder::new(source)
            .size_limit(PATTERN_SIZE_LIMIT)
            .build()
        {
            Ok(regex) => Some(Pattern {
                source: source.clone(),
                regex,
            }),
            Err(e) => {
                self.problem(
                    at,
                    format!("the pattern does not compile: {}", regex_reason(&e)),
                );
                None
            }
        }
    }

    fn count(&mut self, v: &Value, at: String) -> Option<u64> {
        let n = v.as_u64();
        if n.is_none() {
            self.problem(at, "must be a non-negative integer");
        }
        n
    }

    fn number(&mut self, v: &Value, at: String, keyword: &str) -> Option<Number> {
        match v {
            Value::Number(n) => Some(n.clone()),
            Value::Bool(_) if keyword.starts_with("exclusive") => {
                self.problem(
                    at,
                    format!(
                        "must be a number: the bound itself (draft 2020-12), not a flag on `{}`",
                        if keyword == "exclusiveMinimum" {
                            "minimum"
                        } else {
                            "maximum"
                        }
                    ),
                );
                None
            }
            _ => {
                self.problem(at, "must be a number");
                None
            }
        }
    }

    fn format(&mut self, v: &Value, at: String) -> Option<Format> {
        let Value::String(name) = v else {
            self.problem(at, "must be a string");
            return None;
        };
        let f = Format::parse(name);
        if f.is_none() {
            let names: Vec<&str> = Format::ALL.iter().map(|f| f.as_str()).collect();
            self.problem(
                at,
                format!("unknown format `{name}` (supported: {})", names.join(", ")),
            );
        }
        f
    }

    fn properties(&mut self, v: &Value, at: &str, depth: usize) -> Vec<Property> {
        let Value::Object(map) = v else {
            self.problem(
                at.to_owned(),
                "must be a mapping of property names to schemas",
            );
            return Vec::new();
        };
        let mut out = Vec::with_capacity(map.len());
        for (name, sub) in map {
            let sub_at = path::key(at, name);
            if name.is_empty() {
                self.problem(sub_at, "a property name must not be empty");
                continue;
            }
            out.push(Property {
                name: name.clone(),
                required: false,
                schema: self.schema(sub, &sub_at, depth + 1),
            });
        }
        out
    }

    fn required(&mut self, v: &Value, at: &str, s: &mut Schema) {
        let Value::Array(names) = v else {
            self.problem(at.to_owned(), "must be a list of property names");
            return;
        };
        for (i, name) in names.iter().enumerate() {
            let item_at = path::index(at, i);
            let Value::String(name) = name else {
                self.problem(item_at, "must be a property name (a string)");
                continue;
            };
            if let Some(j) = names[..i].iter().position(|n| n.as_str() == Some(name)) {
                self.problem(item_at, format!("`{name}` is already listed at [{j}]"));
                continue;
            }
            match s.properties.iter_mut().find(|p| &p.name == name) {
                Some(p) => p.required = true,
                None => self.problem(
                    item_at,
                    format!("`{name}` is not declared under `properties`"),
                ),
            }
        }
    }

    /// Bounds that leave nothing valid: a typo more often than an intent, and an offering nobody could order.
    fn ranges(&mut self, s: &Schema, path: &str) {
        let counts = [
            (s.min_length, s.max_length, "minLength", "maxLength"),
            (s.min_items, s.max_items, "minItems", "maxItems"),
        ];
        for (lo, hi, lo_name, hi_name) in counts {
            if let (Some(lo), Some(hi)) = (lo, hi)
                && lo > hi
            {
                self.problem(
                    path::key(path, lo_name),
                    format!("{lo_name} ({lo}) is greater than {hi_name} ({hi})"),
                );
            }
        }
        let bounds = [
            (&s.minimum, &s.maximum, "minimum", "maximum", false),
            (
                &s.exclusive_minimum,
                &s.exclusive_maximum,
                "exclusiveMinimum",
                "exclusiveMaximum",
                true,
            ),
            (
                &s.minimum,
                &s.exclusive_maximum,
                "minimum",
                "exclusiveMaximum",
                true,
            ),
            (
                &s.exclusive_minimum,
                &s.maximum,
                "exclusiveMinimum",
                "maximum",
                true,
            ),
        ];
        for (lo, hi, lo_name, hi_name, strict) in bounds {
            let (Some(lo), Some(hi)) = (lo, hi) else {
                continue;
            };
            let Some(order) = number::compare(lo, hi) else {
                continue;
            };
            if order.is_gt() {
                self.problem(
                    path::key(path, lo_name),
                    format!("{lo_name} ({lo}) is greater than {hi_name} ({hi})"),
                );
            } else if strict && order.is_eq() {
                self.problem(
                    path::key(path, lo_name),
                    format!("{lo_name} ({lo}) equals {hi_name} ({hi}): no number satisfies both"),
                );
            }
        }
    }

    /// `const`, `enum`, `default` and `examples`: each must be valid for the schema it sits in. `const` and
    /// `enum` are checked against the rest of the schema; `default` and `examples` against all of it.
    fn values(&mut self, map: &Map<String, Value>, path: &str, s: &mut Schema) {
        if let Some(c) = map.get("const") {
            let at = path::key(path, "const");
            if let Some(v) = self.valid(s, c, &at, "const") {
                s.constant = Some(v);
            }
        }
        if let Some(e) = map.get("enum") {
            let at = path::key(path, "enum");
            match e {
                Value::Array(items) if items.is_empty() => {
                    self.problem(at, "must list at least one value");
                }
                Value::Array(items) => {
                    let mut seen: Vec<String> = Vec::with_capacity(items.len());
                    let mut choices = Vec::with_capacity(items.len());
                    for (i, item) in items.iter().enumerate() {
                        let item_at = path::index(&at, i);
                        let key = canonical(item);
                        if let Some(j) = seen.iter().position(|k| *k == key) {
                            self.problem(item_at, format!("repeats enum[{j}]"));
                            continue;
                        }
                        seen.push(key);
                        if let Some(v) = self.valid(s, item, &item_at, "enum value") {
                            choices.push(v);
                        }
                    }
                    s.choices = Some(choices);
                }
                _ => self.problem(at, "must be a list of values"),
            }
        }
        if let Some(d) = map.get("default") {
            let at = path::key(path, "default");
            s.default = self.valid(s, d, &at, "default");
        }
        if let Some(examples) = map.get("examples") {
            let at = path::key(path, "examples");
            match examples {
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        self.valid(s, item, &path::index(&at, i), "example");
                    }
                }
                _ => self.problem(at, "must be a list of values (draft 2020-12 `examples`)"),
            }
        }
    }

    /// Validates `value` against `s`; reports each error at the value's path plus the error's location.
    fn valid(&mut self, s: &Schema, value: &Value, at: &str, what: &str) -> Option<Value> {
        match validate::check_value(s, value) {
            Ok(v) => Some(v),
            Err(errors) => {
                for FieldError { loc, msg, .. } in errors {
                    self.problem(path::with_loc(at, &loc), format!("invalid {what}: {msg}"));
                }
                None
            }
        }
    }
}
