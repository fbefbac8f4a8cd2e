//! Variables for `{{...}}` substitution: the global ones (`workflow.*`), a template's inputs,
//! what finished steps and tasks expose (`steps.X.outputs.result`, `tasks.X.status`, loop
//! aggregates), loop items, and the substitution helpers over strings and whole JSON trees.
//!
//! All values are strings, as in Argo, except Argo's "absent optionals": the outputs that a
//! skipped or omitted step or task declared without a default, which expressions see as nil.
//! Substitution is single pass (`switchyard-expr`): a value is copied into the result and never
//! scanned again, so data can never reach a variable.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde_json::Value as Json;
use switchyard_expr::{Mode, Var};
use switchyard_model::workflow::{Inputs, Outputs, Parameter};

use crate::naming::{go_v, rfc3339};
use crate::state::{Node, NodeType, RunState};

/// The variables of a scope: values by dotted name, the names that are absent optionals, and
/// the time of the reconcile pass, which expressions' sprig date functions format as "now".
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Vars {
    values: BTreeMap<String, String>,
    absent: BTreeSet<String>,
    now: Option<DateTime<Utc>>,
}

impl Vars {
    /// No variables, and no time (expressions cannot format dates).
    pub(crate) fn new() -> Self {
        Vars::default()
    }

    /// No variables yet; expressions see `now` as the current time.
    pub(crate) fn at(now: DateTime<Utc>) -> Self {
        Vars {
            now: Some(now),
            ..Vars::default()
        }
    }

    /// Sets a value (it replaces an absent optional of the same name).
    pub(crate) fn insert(&mut self, name: String, value: String) {
        self.absent.remove(&name);
        self.values.insert(name, value);
    }

    /// Marks `name` as an absent optional (it replaces a value of the same name).
    pub(crate) fn insert_absent(&mut self, name: String) {
        self.values.remove(&name);
        self.absent.insert(name);
    }

    /// The value of `name`; `None` for an absent optional or an unknown name.
    pub(crate) fn get(&self, name: &str) -> Option<&String> {
        self.values.get(name)
    }

    pub(crate) fn is_absent(&self, name: &str) -> bool {
        self.absent.contains(name)
    }

    /// What substitution sees for `name`.
    pub(crate) fn lookup(&self, name: &str) -> Option<Var> {
        match self.values.get(name) {
            Some(value) => Some(Var::Text(value.clone())),
            None => self.is_absent(name).then_some(Var::Absent),
        }
    }

    /// Adds `other`'s variables over these (the time stays this one's, if it has one).
    pub(crate) fn extend(&mut self, other: Vars) {
        for (name, value) in other.values {
            self.insert(name, value);
        }
        for name in other.absent {
            self.insert_absent(name);
        }
        self.now = self.now.or(other.now);
    }

    /// The same variables without the absent optionals (which then do not resolve at all).
    pub(crate) fn without_absent(&self) -> Vars {
        Vars {
            absent: BTreeSet::new(),
            ..self.clone()
        }
    }

    /// Every variable as one nested JSON object for expr-lang (absent optionals are null).
    fn env(&self) -> Json {
        let flat: BTreeMap<String, Json> = self
            .values
            .iter()
            .map(|(k, v)| (k.clone(), Json::String(v.clone())))
            .chain(self.absent.iter().map(|k| (k.clone(), Json::Null)))
            .collect();
        switchyard_expr::template::expand(&flat)
    }
}

impl<const N: usize> From<[(String, String); N]> for Vars {
    fn from(pairs: [(String, String); N]) -> Self {
        pairs.into_iter().collect()
    }
}

impl FromIterator<(String, String)> for Vars {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(pairs: I) -> Self {
        let mut v = Vars::new();
        for (name, value) in pairs {
            v.insert(name, value);
        }
        v
    }
}

/// The `workflow.*` variables of a run at `now`.
pub(crate) fn globals(st: &RunState, now: DateTime<Utc>) -> Vars {
    let mut v = Vars::at(now);
    v.insert("workflow.name".into(), st.name.clone());
    v.insert("workflow.namespace".into(), st.namespace.clone());
    v.insert("workflow.uid".into(), st.uid.clone());
    if let Some(entry) = &st.spec.entrypoint {
        v.insert("workflow.mainEntrypoint".into(), entry.clone());
    }
    if let Some(sa) = &st.spec.service_account_name {
        v.insert("workflow.serviceAccountName".into(), sa.clone());
    }
    if let Some(p) = st.spec.priority {
        v.insert("workflow.priority".into(), p.to_string());
    }
    let created = st.creation_timestamp;
    v.insert("workflow.creationTimestamp".into(), rfc3339(created));
    v.insert(
        "workflow.creationTimestamp.RFC3339".into(),
        rfc3339(created),
    );
    for c in [
        'Y', 'm', 'd', 'H', 'M', 'S', 'y', 'b', 'B', 'a', 'A', 'j', 'e', 'I', 'p', 'Z', 'F', 'T',
    ] {
        v.insert(
            format!("workflow.creationTimestamp.{c}"),
            created.format(&format!("%{c}")).to_string(),
        );
    }
    v.insert(
        "workflow.creationTimestamp.s".into(),
        created.timestamp().to_string(),
    );
    let params_json = parameters_json(&st.arguments.parameters);
    v.insert("workflow.parameters".into(), params_json.clone());
    v.insert("workflow.parameters.json".into(), params_json);
    for p in &st.arguments.parameters {
        if let Some(value) = &p.value {
            v.insert(format!("workflow.parameters.{}", p.name), value.0.clone());
        }
    }
    v.insert("workflow.labels.json".into(), string_map_json(&st.labels));
    for (k, val) in &st.labels {
        v.insert(format!("workflow.labels.{k}"), val.clone());
    }
    v.insert(
        "workflow.annotations.json".into(),
        string_map_json(&st.annotations),
    );
    for (k, val) in &st.annotations {
        v.insert(format!("workflow.annotations.{k}"), val.clone());
    }
    if let Some(outputs) = &st.status.outputs {
        for p in &outputs.parameters {
            if let Some(value) = &p.value {
                v.insert(
                    format!("workflow.outputs.parameters.{}", p.name),
                    value.0.clone(),
                );
            }
        }
    }
    if let Some(started) = st.status.started_at {
        let end = st.status.finished_at.unwrap_or(now);
        let secs = (end - started).num_milliseconds() as f64 / 1000.0;
        v.insert("workflow.duration".into(), format!("{secs:.6}"));
    }
    v
}

/// Go's `json.Marshal` of a parameter list (`[{"name":"x","value":"y"}]`).
pub(crate) fn parameters_json(parameters: &[Parameter]) -> String {
    serde_json::to_value(parameters)
        .map(|v| compact_go_json(&v))
        .unwrap_or_else(|_| "[]".into())
}

fn string_map_json(map: &BTreeMap<String, String>) -> String {
    let value: serde_json::Map<String, Json> = map
        .iter()
        .map(|(k, v)| (k.clone(), Json::String(v.clone())))
        .collect();
    compact_go_json(&Json::Object(value))
}

/// Compact JSON with Go's escapes, keeping object keys in their order.
pub(crate) fn compact_go_json(value: &Json) -> String {
    use crate::naming::go_json_string;
    match value {
        Json::String(s) => go_json_string(s),
        Json::Array(items) => {
            let parts: Vec<String> = items.iter().map(compact_go_json).collect();
            format!("[{}]", parts.join(","))
        }
        Json::Object(map) => {
            let parts: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}:{}", go_json_string(k), compact_go_json(v)))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        other => other.to_string(),
    }
}

/// `inputs.parameters.NAME` for each input with a value, and `inputs.parameters` (all, JSON).
pub(crate) fn input_vars(inputs: Option<&Inputs>, into: &mut Vars) {
    let Some(inputs) = inputs else { return };
    for p in &inputs.parameters {
        if let Some(value) = &p.value {
            into.insert(format!("inputs.parameters.{}", p.name), value.0.clone());
        }
    }
    into.insert(
        "inputs.parameters".into(),
        parameters_json(&inputs.parameters),
    );
}

/// What a finished (or running) step or task exposes to later ones, as Argo's
/// `buildLocalScope`: `<prefix>.<name>.id`, `.status`, `.startedAt`, `.finishedAt`,
/// `.exitCode`, `.outputs.result`, `.outputs.parameters.<p>`.
pub(crate) fn node_vars(prefix: &str, name: &str, node: &Node, into: &mut Vars) {
    let base = format!("{prefix}.{name}");
    into.insert(format!("{base}.id"), node.id.clone());
    into.insert(format!("{base}.startedAt"), rfc3339(node.started_at));
    if let Some(f) = node.finished_at {
        into.insert(format!("{base}.finishedAt"), rfc3339(f));
    }
    into.insert(format!("{base}.status"), node.phase.as_str().to_string());
    output_vars(&base, node.outputs.as_ref(), into);
}

/// `<base>.outputs.result`, `<base>.exitCode`, `<base>.outputs.parameters.<p>`.
pub(crate) fn output_vars(base: &str, outputs: Option<&Outputs>, into: &mut Vars) {
    let Some(outputs) = outputs else { return };
    if let Some(result) = &outputs.result {
        into.insert(format!("{base}.outputs.result"), result.clone());
    }
    if let Some(code) = &outputs.exit_code {
        into.insert(format!("{base}.exitCode"), code.clone());
    }
    for p in &outputs.parameters {
        if let Some(value) = &p.value {
            into.insert(
                format!("{base}.outputs.parameters.{}", p.name),
                value.0.clone(),
            );
        }
    }
}

/// The declared outputs of a skipped or omitted node that produced none (Argo's
/// `addSkippedNodeOutputsToScope`): an output parameter with a `valueFrom.default` has that
/// value; the others, and a declared `result`, are absent optionals.
pub(crate) fn skipped_output_vars(base: &str, declared: &Outputs, into: &mut Vars) {
    for p in &declared.parameters {
        let name = format!("{base}.outputs.parameters.{}", p.name);
        match p.value_from.as_ref().and_then(|v| v.default.as_ref()) {
            Some(default) => into.insert(name, default.0.clone()),
            None => into.insert_absent(name),
        }
    }
    if declared.result.is_some() {
        into.insert_absent(format!("{base}.outputs.result"));
    }
}

/// Aggregated outputs of the iterations of a loop (Argo's `processAggregateNodeOutputs`):
/// `<prefix>.<name>.outputs.result` is a JSON list of the results (each parsed as JSON when it
/// is JSON, else kept as a string), `<prefix>.<name>.outputs.parameters` a JSON list of
/// `{name: value}` maps, and `<prefix>.<name>.outputs.parameters.<p>` a JSON list of the
/// values. Only succeeded iterations count; attempts of retries and hooks are left out.
pub(crate) fn aggregate_vars(prefix: &str, name: &str, iterations: &[&Node], into: &mut Vars) {
    let mut sorted: Vec<&Node> = iterations
        .iter()
        .copied()
        .filter(|n| !n.hooked() && !n.retried() && n.node_type != NodeType::Skipped)
        .collect();
    sorted.sort_by_key(|n| loop_index(&n.name));
    let mut params: Vec<Json> = Vec::new();
    let mut by_name: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut results: Vec<Json> = Vec::new();
    for node in sorted {
        let Some(outputs) = &node.outputs else {
            continue;
        };
        if node.phase != crate::state::NodePhase::Succeeded {
            continue;
        }
        if !outputs.parameters.is_empty() {
            let mut map = serde_json::Map::new();
            for p in &outputs.parameters {
                let value = p.value.as_ref().map(|v| v.0.clone()).unwrap_or_default();
                map.insert(p.name.clone(), Json::String(value.clone()));
                by_name.entry(p.name.clone()).or_default().push(value);
            }
            params.push(Json::Object(map));
        }
        if let Some(result) = &outputs.result {
            results.push(
                serde_json::from_str::<Json>(result)
                    .unwrap_or_else(|_| Json::String(result.clone())),
            );
        }
    }
    let base = format!("{prefix}.{name}.outputs");
    into.insert(
        format!("{base}.result"),
        switchyard_expr::stringify(&Json::Array(results)),
    );
    into.insert(
        format!("{base}.parameters"),
        switchyard_expr::stringify(&Json::Array(params)),
    );
    for (p, values) in by_name {
        into.insert(format!("{base}.parameters.{p}"), aggregated_values(&values));
    }
}

/// Argo's `aggregatedJSONValueList`: a JSON list of the values, each decoded when every value
/// is a JSON list or object, else as strings.
fn aggregated_values(values: &[String]) -> String {
    let decoded: Option<Vec<Json>> = values
        .iter()
        .map(|v| {
            serde_json::from_str::<Json>(v)
                .ok()
                .filter(|j| j.is_array() || j.is_object())
        })
        .collect();
    let list = match decoded {
        Some(items) => items,
        None => values.iter().map(|v| Json::String(v.clone())).collect(),
    };
    switchyard_expr::stringify(&Json::Array(list))
}

/// The loop index of `name(3:desc)` (the last parenthesis group); 0 when there is none.
pub(crate) fn loop_index(name: &str) -> usize {
    let Some(open) = name.rfind('(') else {
        return 0;
    };
    let inner = &name[open + 1..];
    let digits: String = inner.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap_or(0)
}

/// `item` and, for a map item, `item.<key>` (Go's `%v` of each value).
pub(crate) fn item_vars(item: &Json, into: &mut Vars) {
    match item {
        Json::String(s) => {
            into.insert("item".into(), s.clone());
        }
        Json::Object(map) => {
            for (k, v) in map {
                into.insert(format!("item.{k}"), go_v(v));
            }
            into.insert("item".into(), switchyard_expr::stringify(item));
        }
        Json::Array(_) => {
            into.insert("item".into(), switchyard_expr::stringify(item));
        }
        other => {
            into.insert("item".into(), switchyard_expr::stringify(other));
        }
    }
}

/// Substitutes the `{{...}}` tags of one string.
pub(crate) fn subst(text: &str, vars: &Vars, mode: &Mode) -> Result<String, String> {
    if !text.contains("{{") {
        return Ok(text.to_string());
    }
    let lookup = |name: &str| vars.lookup(name);
    switchyard_expr::substitute_at(text, &lookup, mode, vars.now).map_err(|e| e.to_string())
}

/// Substitutes every string of a JSON tree (object keys are left as they are).
pub(crate) fn subst_json(value: &mut Json, vars: &Vars, mode: &Mode) -> Result<(), String> {
    match value {
        Json::String(s) => {
            if s.contains("{{") {
                *s = subst(s, vars, mode)?;
            }
            Ok(())
        }
        Json::Array(items) => items.iter_mut().try_for_each(|i| subst_json(i, vars, mode)),
        Json::Object(map) => map
            .iter_mut()
            .try_for_each(|(_, v)| subst_json(v, vars, mode)),
        _ => Ok(()),
    }
}

/// The mode of step and task resolution: references to steps, tasks and loop items must
/// resolve; anything else unresolved is left as written (as Argo does).
pub(crate) fn reference_mode() -> Mode {
    Mode::StrictPrefixes(vec!["steps".into(), "tasks".into(), "item".into()])
}

/// Evaluates an expr-lang boolean expression (hooks, retry expressions) over the variables.
pub(crate) fn eval_bool(expression: &str, vars: &Vars) -> Result<bool, String> {
    match switchyard_expr::eval_expr_at(expression, &vars.env(), vars.now) {
        Ok(Json::Bool(b)) => Ok(b),
        Ok(other) => Err(format!(
            "expression `{expression}` must give true or false, not {}",
            switchyard_expr::stringify(&other)
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// Evaluates an expr-lang expression to a string (`valueFrom.expression`); nil (an absent
/// optional not replaced with `??`) is an error.
pub(crate) fn eval_string(expression: &str, vars: &Vars) -> Result<String, String> {
    match switchyard_expr::eval_expr_at(expression, &vars.env(), vars.now) {
        Ok(Json::Null) => Err(format!("failed to evaluate expression {expression:?}")),
        Ok(value) => Ok(switchyard_expr::stringify(&value)),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn items_become_variables() {
        let cases = [
            (json!("a"), vec![("item", "a")]),
            (json!(3), vec![("item", "3")]),
            (json!(true), vec![("item", "true")]),
            (
                json!({"image": "debian", "tag": 9}),
                vec![
                    ("item", r#"{"image":"debian","tag":9}"#),
                    ("item.image", "debian"),
                    ("item.tag", "9"),
                ],
            ),
            (json!([1, "x"]), vec![("item", r#"[1,"x"]"#)]),
        ];
        for (item, want) in cases {
            let mut v = Vars::new();
            item_vars(&item, &mut v);
            let want: Vars = want
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            assert_eq!(v, want, "{item}");
        }
    }

    #[test]
    fn aggregated_values_decode_json_only_when_all_are_structured() {
        assert_eq!(aggregated_values(&["a".into(), "1".into()]), r#"["a","1"]"#);
        assert_eq!(
            aggregated_values(&[r#"{"a":1}"#.into(), "[2]".into()]),
            r#"[{"a":1},[2]]"#
        );
        assert_eq!(
            aggregated_values(&[r#"{"a":1}"#.into(), "3".into()]),
            r#"["{\"a\":1}","3"]"#
        );
    }

    #[test]
    fn loop_indexes() {
        assert_eq!(loop_index("wf[0].a(12:x)"), 12);
        assert_eq!(loop_index("wf.a(3:f(x))"), 0);
        assert_eq!(loop_index("wf.a"), 0);
    }
}
