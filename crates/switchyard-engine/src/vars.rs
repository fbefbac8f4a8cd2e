//! Variables for `{{...}}` substitution: the global ones (`workflow.*`), a template's inputs,
//! what finished steps and tasks expose (`steps.X.outputs.result`, `tasks.X.status`, loop
//! aggregates), loop items, and the substitution helpers over strings and whole JSON trees.
//!
//! All values are strings, as in Argo, except Argo's "absent optionals": the outputs that a
//! skipped or omitted step or task declared without a default, which expressions see as nil.
//! Substitution is single pass (`switchyard-expr`): a value is copied into the result and never
//! scanned again, so data can never reach a variable.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value as Json;
use switchyard_expr::{Mode, Var};
use switchyard_model::workflow::{Inputs, Outputs, Parameter};

use crate::exec::Fixed;
use crate::naming::{go_v, rfc3339};
use crate::state::{Node, NodeType};

/// The variables of a scope: values by dotted name, the names that are absent optionals, and
/// the time of the reconcile pass, which expressions' sprig date functions format as "now".
///
/// Variables are set one after the other, a later one replacing an earlier one of the same
/// name. Large sets that many scopes share (the run's `workflow.*` variables, what a finished
/// DAG task exposes) are kept as shared [`Layer`]s under the scope's own variables, as if set
/// in that order, so that making or copying a scope does not copy them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Vars {
    /// Bottom first.
    layers: Vec<Arc<Layer>>,
    values: BTreeMap<String, String>,
    absent: BTreeSet<String>,
    now: Option<DateTime<Utc>>,
}

/// Variables set together: their values and absent optionals.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Layer {
    values: BTreeMap<String, String>,
    absent: BTreeSet<String>,
}

impl PartialEq for Vars {
    fn eq(&self, other: &Vars) -> bool {
        self.now == other.now && self.flat() == other.flat()
    }
}

impl Vars {
    /// No variables, and no time (expressions cannot format dates).
    pub(crate) fn new() -> Self {
        Vars::default()
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

    /// Sets every variable of `layer`, shared rather than copied.
    pub(crate) fn push_layer(&mut self, layer: Arc<Layer>) {
        if !self.values.is_empty() || !self.absent.is_empty() {
            // What was set before stays under the layer.
            let own = Layer {
                values: std::mem::take(&mut self.values),
                absent: std::mem::take(&mut self.absent),
            };
            self.layers.push(Arc::new(own));
        }
        self.layers.push(layer);
    }

    /// These variables as one layer (without the time).
    pub(crate) fn into_layer(self) -> Arc<Layer> {
        let (values, absent) = self.flat();
        Arc::new(Layer { values, absent })
    }

    /// Whether `name` is set, and to what: `Some(None)` for an absent optional.
    fn find(&self, name: &str) -> Option<Option<&String>> {
        if let Some(v) = self.values.get(name) {
            return Some(Some(v));
        }
        if self.absent.contains(name) {
            return Some(None);
        }
        self.layers.iter().rev().find_map(|l| {
            l.values
                .get(name)
                .map(Some)
                .or_else(|| l.absent.contains(name).then_some(None))
        })
    }

    /// The value of `name`; `None` for an absent optional or an unknown name.
    pub(crate) fn get(&self, name: &str) -> Option<&String> {
        self.find(name).flatten()
    }

    pub(crate) fn is_absent(&self, name: &str) -> bool {
        self.find(name) == Some(None)
    }

    /// What substitution sees for `name`.
    pub(crate) fn lookup(&self, name: &str) -> Option<Var> {
        match self.find(name)? {
            Some(value) => Some(Var::Text(value.clone())),
            None => Some(Var::Absent),
        }
    }

    /// Every value and every absent optional, layers included.
    fn flat(&self) -> (BTreeMap<String, String>, BTreeSet<String>) {
        let mut values = BTreeMap::new();
        let mut absent = BTreeSet::new();
        let own = Layer {
            values: self.values.clone(),
            absent: self.absent.clone(),
        };
        for layer in self.layers.iter().map(|l| &**l).chain([&own]) {
            for (name, value) in &layer.values {
                absent.remove(name);
                values.insert(name.clone(), value.clone());
            }
            for name in &layer.absent {
                values.remove(name);
                absent.insert(name.clone());
            }
        }
        (values, absent)
    }

    /// Adds `other`'s variables over these (the time stays this one's, if it has one).
    pub(crate) fn extend(&mut self, other: Vars) {
        let (values, absent) = other.flat();
        for (name, value) in values {
            self.insert(name, value);
        }
        for name in absent {
            self.insert_absent(name);
        }
        self.now = self.now.or(other.now);
    }

    /// The same variables without the absent optionals (which then do not resolve at all).
    pub(crate) fn without_absent(&self) -> Vars {
        Vars {
            values: self.flat().0,
            now: self.now,
            ..Vars::default()
        }
    }

    /// Every variable as one nested JSON object for expr-lang (absent optionals are null).
    fn env(&self) -> Json {
        let (values, absent) = self.flat();
        let flat: BTreeMap<String, Json> = values
            .into_iter()
            .map(|(k, v)| (k, Json::String(v)))
            .chain(absent.into_iter().map(|k| (k, Json::Null)))
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

/// The `workflow.*` variables that do not change while a run goes on (see [`globals`]).
pub(crate) fn fixed_globals(st: Fixed<'_>) -> Arc<Layer> {
    let mut v = Vars::new();
    v.insert("workflow.name".into(), st.name.to_string());
    v.insert("workflow.namespace".into(), st.namespace.to_string());
    v.insert("workflow.uid".into(), st.uid.to_string());
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
    // One format for all the parts (parsing a format costs more than using it), split on a
    // character no part can hold.
    const PARTS: [char; 18] = [
        'Y', 'm', 'd', 'H', 'M', 'S', 'y', 'b', 'B', 'a', 'A', 'j', 'e', 'I', 'p', 'Z', 'F', 'T',
    ];
    let format: String = PARTS.iter().map(|c| format!("%{c}\n")).collect();
    let text = created.format(&format).to_string();
    for (c, part) in PARTS.iter().zip(text.split('\n')) {
        v.insert(format!("workflow.creationTimestamp.{c}"), part.to_string());
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
    v.insert("workflow.labels.json".into(), string_map_json(st.labels));
    for (k, val) in st.labels {
        v.insert(format!("workflow.labels.{k}"), val.clone());
    }
    v.insert(
        "workflow.annotations.json".into(),
        string_map_json(st.annotations),
    );
    for (k, val) in st.annotations {
        v.insert(format!("workflow.annotations.{k}"), val.clone());
    }
    v.into_layer()
}

/// The `workflow.*` variables of a run at `now`: `fixed` (from [`fixed_globals`]), the global
/// outputs so far and the duration.
pub(crate) fn globals(
    fixed: &Arc<Layer>,
    outputs: Option<&Outputs>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Vars {
    let mut v = Vars {
        layers: vec![fixed.clone()],
        now: Some(now),
        ..Vars::default()
    };
    if let Some(outputs) = outputs {
        for p in &outputs.parameters {
            if let Some(value) = &p.value {
                v.insert(
                    format!("workflow.outputs.parameters.{}", p.name),
                    value.0.clone(),
                );
            }
        }
    }
    if let Some(started) = started_at {
        let end = finished_at.unwrap_or(now);
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
    fn creation_timestamp_parts_are_each_formatted_as_on_their_own() {
        use chrono::TimeZone;
        let run = |created: DateTime<Utc>| {
            let spec = switchyard_model::workflow::WorkflowSpec::default();
            let library = crate::state::Library::default();
            let empty = BTreeMap::new();
            let arguments = switchyard_model::workflow::Arguments::default();
            fixed_globals(Fixed {
                name: "wf",
                namespace: "ns",
                uid: "u",
                labels: &empty,
                annotations: &empty,
                creation_timestamp: created,
                spec: &spec,
                library: &library,
                arguments: &arguments,
            })
        };
        for created in [
            Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(1999, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(2026, 7, 4, 13, 5, 9).unwrap(),
        ] {
            let vars = run(created);
            for c in "YmdHMSybBaAjeIpZFT".chars() {
                assert_eq!(
                    vars.values.get(&format!("workflow.creationTimestamp.{c}")),
                    Some(&created.format(&format!("%{c}")).to_string()),
                    "{created} %{c}"
                );
            }
        }
    }

    #[test]
    fn layers_read_as_if_their_variables_were_set_in_order() {
        let s = |x: &str| x.to_string();
        // The same sets, one after the other: flat, and as shared layers.
        let mut flat = Vars::new();
        flat.insert(s("a"), s("1"));
        flat.insert(s("b"), s("2"));
        flat.insert(s("x"), s("9"));
        flat.insert_absent(s("b"));
        flat.insert(s("c"), s("3"));
        flat.insert_absent(s("x"));
        flat.insert(s("a"), s("4"));
        flat.insert_absent(s("d"));

        let mut bottom = Vars::new();
        bottom.insert(s("a"), s("1"));
        bottom.insert(s("b"), s("2"));
        bottom.insert(s("x"), s("9"));
        let mut middle = Vars::new();
        middle.insert_absent(s("b"));
        middle.insert(s("c"), s("3"));
        middle.insert_absent(s("x"));
        let mut layered = Vars::new();
        layered.push_layer(bottom.into_layer());
        layered.push_layer(middle.into_layer());
        layered.insert(s("a"), s("4"));
        layered.insert_absent(s("d"));

        assert_eq!(layered, flat);
        for name in ["a", "b", "c", "d", "x", "y"] {
            assert_eq!(layered.get(name), flat.get(name), "{name}");
            assert_eq!(layered.is_absent(name), flat.is_absent(name), "{name}");
            assert_eq!(layered.lookup(name), flat.lookup(name), "{name}");
        }
        assert_eq!(layered.get("a"), Some(&s("4")));
        assert!(layered.is_absent("b") && layered.is_absent("x"));
        assert_eq!(layered.env(), flat.env());
        // Without the absent optionals, a name made absent over a value is gone entirely.
        assert_eq!(layered.without_absent().get("x"), None);
        assert!(!layered.without_absent().is_absent("x"));
        assert_eq!(layered.without_absent(), flat.without_absent());
        let mut onto_flat = Vars::new();
        onto_flat.insert(s("b"), s("0"));
        let mut onto_layered = onto_flat.clone();
        onto_flat.extend(flat);
        onto_layered.extend(layered);
        assert_eq!(onto_layered, onto_flat);
        assert!(onto_layered.is_absent("b"));
    }

    #[test]
    fn loop_indexes() {
        assert_eq!(loop_index("wf[0].a(12:x)"), 12);
        assert_eq!(loop_index("wf.a(3:f(x))"), 0);
        assert_eq!(loop_index("wf.a"), 0);
    }
}
