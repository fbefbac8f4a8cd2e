//! The run views: `list`'s table and the `get`/`watch` view of one run (a header, then the node
//! tree drawn the way `argo get` draws it). Pure functions from a [`Run`] to text.
//!
//! The tree: a node hangs under the StepGroup, Retry or TaskGroup whose `children` name it
//! (a Container under its Pod), else under its `boundaryID` (the Steps or DAG node it belongs
//! to); a node with neither is a root. The main tree (the node named after the run) comes
//! first, then the exit handler (`<run>.onExit`), then any other root. Siblings are ordered by
//! start time, then loop index, then display name. As in Argo, StepGroups are folded into the
//! connectors (`├─┬─`), a Retry with one attempt shows only the attempt, and omitted DAG tasks
//! are hidden; `-o wide` shows them all.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, FixedOffset, Utc};
use switchyard_engine::{Node, NodeFilter, NodePhase, NodeType, RunStatus};

use crate::run::{Run, elapsed, short_duration, timestamp};

/// ANSI colors, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paint {
    pub enabled: bool,
}

pub const RED: u8 = 31;
pub const GREEN: u8 = 32;
pub const YELLOW: u8 = 33;
pub const CYAN: u8 = 36;
pub const DIM: u8 = 2;

impl Paint {
    #[cfg(test)]
    pub const NONE: Paint = Paint { enabled: false };

    pub fn paint(self, text: &str, code: Option<u8>) -> String {
        match code {
            Some(code) if self.enabled => format!("\x1b[{code}m{text}\x1b[0m"),
            _ => text.to_owned(),
        }
    }
}

/// One cell: its text (perhaps with color codes) and how wide it shows.
struct Cell {
    text: String,
    width: usize,
}

impl Cell {
    fn plain(text: impl Into<String>) -> Cell {
        let text = text.into();
        Cell {
            width: text.chars().count(),
            text,
        }
    }
}

/// Aligns rows into columns `padding` spaces apart, like Go's tabwriter; an empty row is a
/// blank line. No trailing spaces.
fn align(rows: &[Vec<Cell>], padding: usize) -> String {
    let mut widths: Vec<usize> = Vec::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if widths.len() <= i {
                widths.push(0);
            }
            widths[i] = widths[i].max(cell.width);
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            line.push_str(&cell.text);
            if i + 1 < row.len() {
                let pad = widths[i] - cell.width + padding;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Cuts `text` to at most `max` characters, keeping both ends: `abc...xyz`.
pub fn truncate_middle(text: &str, max: usize) -> String {
    let count = text.chars().count();
    if count <= max || max < 5 {
        return text.to_owned();
    }
    let keep = max - 3;
    let head = keep - keep / 2;
    let tail = keep / 2;
    let start: String = text.chars().take(head).collect();
    let end: String = text.chars().skip(count - tail).collect();
    format!("{start}...{end}")
}

/// `list`: `NAME STATUS AGE DURATION PROGRESS MESSAGE`, `NAMESPACE` first across namespaces,
/// `-o wide` adds `P/R/C` (pending/running/completed steps) and `PARAMETERS`.
pub fn list_table(runs: &[Run], with_namespace: bool, wide: bool, now: DateTime<Utc>) -> String {
    let mut header = Vec::new();
    if with_namespace {
        header.push(Cell::plain("NAMESPACE"));
    }
    for h in ["NAME", "STATUS", "AGE", "DURATION", "PROGRESS", "MESSAGE"] {
        header.push(Cell::plain(h));
    }
    if wide {
        header.push(Cell::plain("P/R/C"));
        header.push(Cell::plain("PARAMETERS"));
    }
    let mut rows = vec![header];
    for run in runs {
        let mut row = Vec::new();
        if with_namespace {
            row.push(Cell::plain(&run.namespace));
        }
        row.push(Cell::plain(&run.name));
        row.push(Cell::plain(run.display_status()));
        row.push(Cell::plain(run.created.map_or_else(
            || "<unknown>".to_owned(),
            |c| crate::output::age(now, c),
        )));
        row.push(Cell::plain(short_duration(
            run.duration(now).unwrap_or_default(),
        )));
        row.push(Cell::plain(run.progress()));
        row.push(Cell::plain(one_line(run.message())));
        if wide {
            let (p, r, c) = run.pending_running_completed();
            row.push(Cell::plain(format!("{p}/{r}/{c}")));
            let params: Vec<String> = run
                .parameters
                .iter()
                .map(|(k, v)| format!("{k}={}", truncate_middle(&one_line(v), 50)))
                .collect();
            row.push(Cell::plain(params.join(",")));
        }
        rows.push(row);
    }
    align(&rows, 3)
}

/// A message on one line (tables cannot hold line breaks).
fn one_line(text: &str) -> String {
    if text.contains(['\n', '\r']) {
        text.split(['\n', '\r'])
            .filter(|l| !l.trim().is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        text.to_owned()
    }
}

/// How the `get` view is drawn.
pub struct ViewOptions {
    pub wide: bool,
    pub paint: Paint,
    /// Show only the nodes this selects (`--node-field-selector`); their subtrees still show.
    pub filter: Option<NodeFilter>,
    /// The time zone of the timestamps in the header.
    pub tz: FixedOffset,
}

/// The `argo get` view of one run: the header, then the node tree.
pub fn run_view(run: &Run, now: DateTime<Utc>, options: &ViewOptions) -> String {
    let mut out = header(run, now, options.tz);
    if let Some(status) = &run.status
        && !status.nodes.is_empty()
    {
        out.push('\n');
        out.push_str(&tree(&run.name, status, now, options));
    }
    out
}

fn header(run: &Run, now: DateTime<Utc>, tz: FixedOffset) -> String {
    let mut lines: Vec<(String, String)> = Vec::new();
    let mut add = |label: &str, value: String| lines.push((label.to_owned(), value));
    add("Name:", run.name.clone());
    add("Namespace:", run.namespace.clone());
    add("Status:", run.display_status());
    if let Some(e) = &run.status_error {
        add(
            "Warning:",
            format!(
                "this CLI cannot read the run's status ({e}); are the CLI and server the same version?"
            ),
        );
    }
    if !run.message().is_empty() {
        add("Message:", one_line(run.message()));
    }
    if let Some(created) = run.created {
        add("Created:", timestamp(created, now, tz));
    }
    if let Some(started) = run.started() {
        add("Started:", timestamp(started, now, tz));
    }
    if let Some(finished) = run.finished_at() {
        add("Finished:", timestamp(finished, now, tz));
    }
    if let Some(d) = run.duration(now) {
        add("Duration:", short_duration(d));
    }
    if let Some(status) = &run.status {
        add("Progress:", status.progress.clone());
    }
    if !run.parameters.is_empty() {
        add("Parameters:", String::new());
        for (name, value) in &run.parameters {
            add(&format!("  {name}:"), one_line(value));
        }
    }
    let outputs = run.status.as_ref().and_then(|s| s.outputs.as_ref());
    if let Some(outputs) = outputs {
        let values: Vec<(&str, &str)> = outputs
            .parameters
            .iter()
            .filter_map(|p| Some((p.name.as_str(), p.value_or_default()?)))
            .collect();
        if !values.is_empty() {
            add("Output Parameters:", String::new());
            for (name, value) in values {
                add(&format!("  {name}:"), one_line(value));
            }
        }
        if !outputs.artifacts.is_empty() {
            add("Output Artifacts:", String::new());
            for artifact in &outputs.artifacts {
                add(&format!("  {}", artifact.name), String::new());
            }
        }
    }
    let mut out = String::new();
    for (label, value) in lines {
        let line = format!("{label:<20} {value}");
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The index of a loop iteration, retry attempt or step group in a display name:
/// `task(3:item)`, `task(3)`, `[3]`.
fn sibling_index(display_name: &str) -> Option<u64> {
    if let Some(inner) = display_name
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
    {
        return inner.parse().ok();
    }
    let open = display_name.rfind('(')?;
    let rest = display_name[open + 1..].strip_suffix(')')?;
    let digits = rest.split(':').next()?;
    digits.parse().ok()
}

fn template_of(node: &Node) -> String {
    match &node.template_ref {
        Some(r) => format!(
            "{}/{}",
            r.name.as_deref().unwrap_or_default(),
            r.template.as_deref().unwrap_or_default()
        ),
        None => node.template_name.clone().unwrap_or_default(),
    }
}

fn glyph(node: &Node) -> (&'static str, Option<u8>) {
    if node.is_active_suspend() {
        return ("ǁ", Some(CYAN));
    }
    match node.phase {
        NodePhase::Pending => ("◷", Some(YELLOW)),
        NodePhase::Running => ("●", Some(CYAN)),
        NodePhase::Succeeded => ("✔", Some(GREEN)),
        NodePhase::Skipped | NodePhase::Omitted => ("○", None),
        NodePhase::Failed => ("✖", Some(RED)),
        NodePhase::Error => ("⚠", Some(RED)),
    }
}

/// The node's message, with who resumed a suspend node and what they said.
fn node_message(node: &Node) -> String {
    let base = one_line(node.message.as_deref().unwrap_or_default());
    let Some(by) = &node.resumed_by else {
        return base;
    };
    let resumed = match node.resume_message.as_deref().filter(|m| !m.is_empty()) {
        Some(m) => format!("resumed by {by}: {}", one_line(m)),
        None => format!("resumed by {by}"),
    };
    if base.is_empty() {
        resumed
    } else {
        format!("{base}; {resumed}")
    }
}

fn runs_a_step(node: &Node) -> bool {
    matches!(
        node.node_type,
        NodeType::Pod | NodeType::Container | NodeType::Suspend
    )
}

/// The rows of the node tree, header first.
fn tree(run_name: &str, status: &RunStatus, now: DateTime<Utc>, options: &ViewOptions) -> String {
    let nodes = &status.nodes;
    // Children listed by a StepGroup, Retry or TaskGroup (or a Pod's Containers) hang under it.
    let mut adopted: HashMap<&str, &str> = HashMap::new();
    for node in nodes.values() {
        let groups = matches!(
            node.node_type,
            NodeType::StepGroup | NodeType::Retry | NodeType::TaskGroup
        );
        for child in &node.children {
            let containers = node.node_type == NodeType::Pod
                && nodes
                    .get(child)
                    .is_some_and(|c| c.node_type == NodeType::Container);
            if (groups || containers) && child != &node.id {
                adopted.entry(child.as_str()).or_insert(node.id.as_str());
            }
        }
    }
    let mut children: HashMap<&str, Vec<&Node>> = HashMap::new();
    let mut roots: Vec<&Node> = Vec::new();
    for node in nodes.values() {
        let parent = adopted.get(node.id.as_str()).copied().or_else(|| {
            node.boundary_id
                .as_deref()
                .filter(|b| *b != node.id && nodes.contains_key(*b))
        });
        match parent {
            Some(p) => children.entry(p).or_default().push(node),
            None => roots.push(node),
        }
    }
    let order = |a: &&Node, b: &&Node| {
        let key = |n: &Node| {
            let index = sibling_index(&n.display_name);
            (n.started_at, index.is_none(), index)
        };
        key(a)
            .cmp(&key(b))
            .then_with(|| a.display_name.cmp(&b.display_name))
            .then_with(|| a.id.cmp(&b.id))
    };
    for list in children.values_mut() {
        list.sort_by(order);
    }
    roots.sort_by(order);
    // The main tree first, then the exit handler, then anything else.
    let exit_name = format!("{run_name}.onExit");
    roots.sort_by_key(|n| {
        if n.id == run_name {
            0
        } else if n.name == exit_name {
            1
        } else {
            2
        }
    });

    let mut header = vec!["STEP", "TEMPLATE", "ID", "DURATION"];
    if options.wide {
        header.extend(["PHASE", "EXIT", "OUTPUTS"]);
    }
    header.push("MESSAGE");
    let mut rows: Vec<Vec<Cell>> = vec![header.into_iter().map(Cell::plain).collect()];
    let mut visited: HashSet<&str> = HashSet::new();
    let empty: Vec<&Node> = Vec::new();
    for root in &roots {
        // A blank line between trees, once the next tree shows a row.
        let mut gap = rows.len() > 1;
        let mut stack: Vec<(&Node, String, String)> = vec![(root, " ".to_owned(), " ".to_owned())];
        while let Some((node, node_prefix, child_prefix)) = stack.pop() {
            if !visited.insert(node.id.as_str()) {
                continue;
            }
            // Hidden leaves are dropped before drawing, so no connector points at nothing.
            let kids: Vec<&Node> = children
                .get(node.id.as_str())
                .unwrap_or(&empty)
                .iter()
                .copied()
                .filter(|k| !hide(k, options).0 || children.contains_key(k.id.as_str()))
                .collect();
            let (hidden, fold) = hide(node, options);
            if !hidden {
                if std::mem::take(&mut gap) {
                    rows.push(Vec::new());
                }
                rows.push(row(node, &node_prefix, now, options));
            }
            let last = kids.len().saturating_sub(1);
            for (index, kid) in kids.iter().enumerate().rev() {
                let (part, sub) = if hidden && fold {
                    match index {
                        _ if last == 0 => ("──", "  "),
                        0 => ("┬─", "│ "),
                        i if i == last => ("└─", "  "),
                        _ => ("├─", "│ "),
                    }
                } else if !hidden {
                    if index == last {
                        ("└─", "  ")
                    } else {
                        ("├─", "│ ")
                    }
                } else {
                    ("", "")
                };
                let first_prefix = if hidden && index == 0 {
                    &node_prefix
                } else {
                    &child_prefix
                };
                stack.push((
                    kid,
                    format!("{first_prefix}{part}"),
                    format!("{child_prefix}{sub}"),
                ));
            }
        }
    }
    align(&rows, 2)
}

/// Whether a node's row is left out, and whether its children then fold into the connectors.
fn hide(node: &Node, options: &ViewOptions) -> (bool, bool) {
    if options.filter.as_ref().is_some_and(|f| !f.matches(node)) {
        return (true, false);
    }
    if options.wide {
        return (false, false);
    }
    match node.node_type {
        NodeType::StepGroup => (true, true),
        NodeType::Retry if node.children.len() == 1 => (true, false),
        NodeType::Skipped if node.phase == NodePhase::Omitted => (true, false),
        _ => (false, false),
    }
}

fn row(node: &Node, prefix: &str, now: DateTime<Utc>, options: &ViewOptions) -> Vec<Cell> {
    let (mark, color) = glyph(node);
    let step_width = prefix.chars().count() + 2 + node.display_name.chars().count();
    let step = format!(
        "{prefix}{} {}",
        options.paint.paint(mark, color),
        node.display_name
    );
    let detailed = options.wide || runs_a_step(node);
    let ran = !matches!(node.phase, NodePhase::Skipped | NodePhase::Omitted);
    let duration = if detailed && ran {
        short_duration(elapsed(node.started_at, node.finished_at.unwrap_or(now)))
    } else {
        String::new()
    };
    let mut cells = vec![
        Cell {
            text: step,
            width: step_width,
        },
        Cell::plain(template_of(node)),
        Cell::plain(if detailed { node.id.as_str() } else { "" }),
        Cell::plain(duration),
    ];
    if options.wide {
        let outputs = node.outputs.as_ref();
        cells.push(Cell::plain(node.phase.as_str()));
        cells.push(Cell::plain(
            outputs
                .and_then(|o| o.exit_code.clone())
                .unwrap_or_default(),
        ));
        let params: Vec<String> = outputs
            .map(|o| o.parameters.as_slice())
            .unwrap_or_default()
            .iter()
            .filter_map(|p| {
                let value = p.value_or_default()?;
                Some(format!(
                    "{}={}",
                    p.name,
                    truncate_middle(&one_line(value), 30)
                ))
            })
            .collect();
        cells.push(Cell::plain(params.join(",")));
    }
    cells.push(Cell::plain(node_message(node)));
    cells
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};
    use switchyard_engine::naming::node_id;

    const NOW: &str = "2026-06-01T12:00:00Z";

    fn now() -> DateTime<Utc> {
        crate::run::parse_time(NOW).unwrap()
    }

    fn options(wide: bool) -> ViewOptions {
        ViewOptions {
            wide,
            paint: Paint::NONE,
            filter: None,
            tz: FixedOffset::east_opt(0).unwrap(),
        }
    }

    /// Builds a status node: `name` is the full node name; its id is derived as the engine
    /// derives it. `at` is seconds after 11:00:00.
    struct N {
        value: Value,
    }

    fn n(wf: &str, name: &str, display: &str, ty: &str, phase: &str, at: u32) -> N {
        let started = format!("2026-06-01T11:{:02}:{:02}Z", at / 60, at % 60);
        N {
            value: json!({
                "id": node_id(wf, name), "name": name, "displayName": display, "type": ty,
                "phase": phase, "startedAt": started
            }),
        }
    }

    impl N {
        fn set(mut self, key: &str, value: Value) -> N {
            self.value[key] = value;
            self
        }
        fn template(self, t: &str) -> N {
            self.set("templateName", json!(t))
        }
        fn boundary(self, wf: &str, name: &str) -> N {
            self.set("boundaryID", json!(node_id(wf, name)))
        }
        fn children(self, wf: &str, names: &[&str]) -> N {
            let ids: Vec<String> = names.iter().map(|c| node_id(wf, c)).collect();
            self.set("children", json!(ids))
        }
        fn finished(self, at: u32) -> N {
            let t = format!("2026-06-01T11:{:02}:{:02}Z", at / 60, at % 60);
            self.set("finishedAt", json!(t))
        }
    }

    fn workflow(wf: &str, phase: &str, nodes: Vec<N>, extra_status: Value) -> Run {
        let mut map = serde_json::Map::new();
        for node in nodes {
            map.insert(node.value["id"].as_str().unwrap().to_owned(), node.value);
        }
        let mut status = json!({
            "phase": phase, "progress": "1/1", "startedAt": "2026-06-01T11:00:00Z",
            "nodes": map
        });
        if let (Value::Object(s), Value::Object(extra)) = (&mut status, extra_status) {
            s.extend(extra);
        }
        Run::from_value(&json!({
            "metadata": {"name": wf, "namespace": "default", "creationTimestamp": "2026-06-01T10:59:59Z"},
            "spec": {"arguments": {"parameters": [{"name": "who", "value": "world"}]}},
            "status": status
        }))
    }

    /// The tree part of the view (after the header's blank line).
    fn tree_of(run: &Run, options: &ViewOptions) -> String {
        let view = run_view(run, now(), options);
        let (_, tree) = view.split_once("\n\n").unwrap();
        tree.to_owned()
    }

    fn id(wf: &str, name: &str) -> String {
        node_id(wf, name)
    }

    #[test]
    fn header_lists_what_argo_lists() {
        let wf = "hello";
        let run = workflow(
            wf,
            "Succeeded",
            vec![
                n(wf, wf, wf, "Pod", "Succeeded", 0)
                    .template("main")
                    .finished(63),
            ],
            json!({"finishedAt": "2026-06-01T11:01:03Z", "message": "all\ngood",
                   "outputs": {"parameters": [{"name": "result", "value": "42"}, {"name": "none"}]}}),
        );
        let view = run_view(&run, now(), &options(false));
        let want = format!(
            "\
Name:                hello
Namespace:           default
Status:              Succeeded
Message:             all good
Created:             Mon Jun 01 10:59:59 +0000 (1 hour ago)
Started:             Mon Jun 01 11:00:00 +0000 (1 hour ago)
Finished:            Mon Jun 01 11:01:03 +0000 (58 minutes ago)
Duration:            1m 3s
Progress:            1/1
Parameters:
  who:               world
Output Parameters:
  result:            42

STEP      TEMPLATE  ID     DURATION  MESSAGE
 ✔ hello  main      {}  1m 3s
",
            id(wf, wf)
        );
        assert_eq!(view, want, "\n{view}");
    }

    #[test]
    fn a_run_without_status_shows_only_the_header() {
        let run = Run::from_value(&json!({"metadata": {"name": "x", "namespace": "ns"}}));
        assert_eq!(
            run_view(&run, now(), &options(false)),
            "Name:                x\nNamespace:           ns\nStatus:              Pending\n"
        );
    }

    fn steps_run() -> Run {
        // steps: [[hello1], [hello2a, hello2b, skip]], `skip`'s `when` false.
        let wf = "steps";
        workflow(
            wf,
            "Running",
            vec![
                n(wf, wf, wf, "Steps", "Running", 0)
                    .template("main")
                    .children(wf, &["steps[0]"]),
                n(wf, "steps[0]", "[0]", "StepGroup", "Succeeded", 0)
                    .boundary(wf, wf)
                    .children(wf, &["steps[0].hello1"]),
                n(wf, "steps[0].hello1", "hello1", "Pod", "Succeeded", 0)
                    .template("say")
                    .boundary(wf, wf)
                    .finished(2)
                    .children(wf, &["steps[1]"]),
                n(wf, "steps[1]", "[1]", "StepGroup", "Running", 3)
                    .boundary(wf, wf)
                    .children(
                        wf,
                        &["steps[1].hello2a", "steps[1].hello2b", "steps[1].skip"],
                    ),
                n(wf, "steps[1].hello2b", "hello2b", "Pod", "Running", 3)
                    .template("say")
                    .boundary(wf, wf),
                n(wf, "steps[1].hello2a", "hello2a", "Pod", "Failed", 3)
                    .template("say")
                    .boundary(wf, wf)
                    .finished(5)
                    .set("message", json!("exit code 1"))
                    .set(
                        "outputs",
                        json!({"exitCode": "1", "parameters": [{"name": "out", "value": "x"}]}),
                    ),
                n(wf, "steps[1].skip", "skip", "Skipped", "Skipped", 3)
                    .template("say")
                    .boundary(wf, wf)
                    .set("message", json!("when 'false' evaluated false")),
            ],
            json!({}),
        )
    }

    #[test]
    fn steps_fold_step_groups_into_the_connectors() {
        let got = tree_of(&steps_run(), &options(false));
        let want = "\
STEP            TEMPLATE  ID                DURATION  MESSAGE
 ● steps        main
 ├───✔ hello1   say       steps-215716891   2s
 └─┬─✖ hello2a  say       steps-1781811180  2s        exit code 1
   ├─● hello2b  say       steps-1832144037  59m 57s
   └─○ skip     say                                   when 'false' evaluated false
";
        assert_eq!(got, want, "\n{got}");
    }

    #[test]
    fn wide_shows_step_groups_phases_exit_codes_and_outputs() {
        let got = tree_of(&steps_run(), &options(true));
        let want = "\
STEP            TEMPLATE  ID                DURATION  PHASE      EXIT  OUTPUTS  MESSAGE
 ● steps        main      steps             1h        Running
 ├─✔ [0]                  steps-1561209758  1h        Succeeded
 │ └─✔ hello1   say       steps-215716891   2s        Succeeded
 └─● [1]                  steps-1493952187  59m 57s   Running
   ├─✖ hello2a  say       steps-1781811180  2s        Failed     1     out=x    exit code 1
   ├─● hello2b  say       steps-1832144037  59m 57s   Running
   └─○ skip     say       steps-2560952852            Skipped                   when 'false' evaluated false
";
        assert_eq!(got, want, "\n{got}");
    }

    fn dag_run() -> Run {
        let wf = "dag";
        let task = |name: &str, ty: &str, phase: &str, at: u32| {
            n(wf, &format!("dag.{name}"), name, ty, phase, at)
                .template("work")
                .boundary(wf, wf)
        };
        workflow(
            wf,
            "Running",
            vec![
                n(wf, wf, wf, "DAG", "Running", 0)
                    .template("main")
                    .children(wf, &["dag.A"]),
                task("A", "Pod", "Succeeded", 0)
                    .finished(9)
                    .children(wf, &["dag.B", "dag.C", "dag.D", "dag.E"]),
                // A loop: one TaskGroup, its iterations started together, ordered by index.
                task("B", "TaskGroup", "Succeeded", 10)
                    .children(wf, &["dag.B(10:z)", "dag.B(0:x)", "dag.B(1:y)"]),
                task("B(10:z)", "Pod", "Succeeded", 11).finished(12),
                task("B(1:y)", "Pod", "Succeeded", 11).finished(12),
                task("B(0:x)", "Pod", "Succeeded", 11).finished(12),
                // Retried twice: the Retry node shows, with its attempts.
                task("C", "Retry", "Failed", 12)
                    .children(wf, &["dag.C(0)", "dag.C(1)"])
                    .set("message", json!("No more retries left")),
                task("C(0)", "Pod", "Failed", 12)
                    .finished(13)
                    .set("message", json!("exit code 1")),
                task("C(1)", "Pod", "Failed", 20)
                    .finished(21)
                    .set("message", json!("exit code 1")),
                // One attempt: only the attempt shows, in the Retry's place.
                task("D", "Retry", "Succeeded", 13).children(wf, &["dag.D(0)"]),
                task("D(0)", "Pod", "Succeeded", 13).finished(14),
                // Omitted: hidden (shown with -o wide).
                task("E", "Skipped", "Omitted", 14)
                    .set("message", json!("omitted: depends condition not met")),
                task("approve", "Suspend", "Succeeded", 15)
                    .finished(40)
                    .set("resumedBy", json!("alice"))
                    .set("resumeMessage", json!("ship it")),
                task("gate", "Suspend", "Running", 16),
                n(wf, "dag.onExit", "dag.onExit", "Pod", "Succeeded", 50)
                    .template("cleanup")
                    .finished(52),
            ],
            json!({}),
        )
    }

    #[test]
    fn dag_with_loops_retries_suspends_and_an_exit_handler() {
        let got = tree_of(&dag_run(), &options(false));
        let want = "\
STEP            TEMPLATE  ID              DURATION  MESSAGE
 ● dag          main
 ├─✔ A          work      dag-624426498   9s
 ├─✔ B          work
 │ ├─✔ B(0:x)   work      dag-1456304308  1s
 │ ├─✔ B(1:y)   work      dag-1672454856  1s
 │ └─✔ B(10:z)  work      dag-1855897323  1s
 ├─✖ C          work                                No more retries left
 │ ├─✖ C(0)     work      dag-2386495639  1s        exit code 1
 │ └─✖ C(1)     work      dag-2990637018  1s        exit code 1
 ├─✔ D(0)       work      dag-1802743344  1s
 ├─✔ approve    work      dag-306690748   25s       resumed by alice: ship it
 └─ǁ gate       work      dag-152686096   59m 44s

 ✔ dag.onExit   cleanup   dag-4125799562  2s
";
        assert_eq!(got, want, "\n{got}");

        let wide = tree_of(&dag_run(), &options(true));
        let steps: Vec<&str> = wide
            .lines()
            .map(|l| l.split("  ").next().unwrap_or_default())
            .collect();
        assert!(steps.contains(&" ├─✔ D"), "{wide}");
        assert!(steps.contains(&" │ └─✔ D(0)"), "{wide}");
        assert!(steps.contains(&" ├─○ E"), "{wide}");
    }

    #[test]
    fn node_selector_shows_only_matching_nodes() {
        let mut opts = options(false);
        opts.filter = Some(NodeFilter::parse("phase=Failed").unwrap());
        let got = tree_of(&dag_run(), &opts);
        // The DAG itself is not selected: its children stand in its place, as in Argo.
        let want = "\
STEP       TEMPLATE  ID              DURATION  MESSAGE
 ✖ C       work                                No more retries left
 ├─✖ C(0)  work      dag-2386495639  1s        exit code 1
 └─✖ C(1)  work      dag-2990637018  1s        exit code 1
";
        assert_eq!(got, want, "\n{got}");
    }

    #[test]
    fn a_thousand_tasks_and_deep_nesting_render() {
        let wf = "big";
        let mut nodes = vec![n(wf, wf, wf, "DAG", "Running", 0).template("main")];
        for i in 0..1000 {
            nodes.push(
                n(
                    wf,
                    &format!("big.t{i}"),
                    &format!("t{i}"),
                    "Pod",
                    "Succeeded",
                    1,
                )
                .template("work")
                .boundary(wf, wf),
            );
        }
        let got = tree_of(&workflow(wf, "Running", nodes, json!({})), &options(false));
        let lines: Vec<&str> = got.lines().collect();
        assert_eq!(lines.len(), 1002);
        // Same start time: ordered by display name.
        assert!(lines[2].starts_with(" ├─✔ t0 "), "{}", lines[2]);
        assert!(lines[3].starts_with(" ├─✔ t1 "), "{}", lines[3]);
        assert!(lines[1001].starts_with(" └─✔ t999 "), "{}", lines[1001]);

        // Nested steps 500 deep: drawn without recursion.
        let wf = "deep";
        let mut nodes = vec![n(wf, wf, wf, "Steps", "Running", 0).template("main")];
        let mut parent = wf.to_owned();
        for depth in 0..500 {
            let name = format!("{parent}.s");
            nodes.push(
                n(wf, &name, "s", "Steps", "Running", depth)
                    .template("nest")
                    .boundary(wf, &parent),
            );
            parent = name;
        }
        let got = tree_of(&workflow(wf, "Running", nodes, json!({})), &options(false));
        let last = got.lines().last().unwrap();
        assert!(
            last.starts_with(&format!(" {}└─● s", "  ".repeat(499))),
            "{last}"
        );
    }

    #[test]
    fn broken_links_do_not_loop() {
        // Two groups that claim each other, and a node whose boundary does not exist.
        let wf = "odd";
        let run = workflow(
            wf,
            "Running",
            vec![
                n(wf, wf, wf, "Steps", "Running", 0),
                n(wf, "odd.a", "a", "StepGroup", "Running", 1).children(wf, &["odd.b"]),
                n(wf, "odd.b", "b", "StepGroup", "Running", 1).children(wf, &["odd.a"]),
                n(wf, "odd.c", "c", "Pod", "Running", 2).boundary(wf, "odd.gone"),
            ],
            json!({}),
        );
        let got = tree_of(&run, &options(false));
        // The groups that claim each other are never reached; the orphan shows as a root.
        let want = "\
STEP    TEMPLATE  ID              DURATION  MESSAGE
 ● odd

 ● c              odd-2556937545  59m 58s
";
        assert_eq!(got, want, "\n{got}");
    }

    #[test]
    fn list_table_columns() {
        let now = now();
        let done = workflow(
            "done",
            "Succeeded",
            vec![],
            json!({"finishedAt": "2026-06-01T11:01:03Z", "progress": "2/2"}),
        );
        let mut running = workflow(
            "running",
            "Running",
            vec![
                n("running", "running.a", "a", "Pod", "Running", 0),
                n("running", "running.b", "b", "Pod", "Pending", 0),
                n("running", "running.c", "c", "Pod", "Succeeded", 0),
                n("running", "running", "running", "Steps", "Running", 0),
            ],
            json!({"message": "waiting\non approval"}),
        );
        running.namespace = "team-a".into();
        let runs = [running, done];
        let got = list_table(&runs, false, false, now);
        let want = "\
NAME      STATUS      AGE   DURATION   PROGRESS   MESSAGE
running   Running     60m   1h         1/1        waiting on approval
done      Succeeded   60m   1m 3s      2/2
";
        assert_eq!(got, want, "\n{got}");
        let got = list_table(&runs, true, true, now);
        let lines: Vec<&str> = got.lines().collect();
        assert_eq!(
            lines[0].split_whitespace().collect::<Vec<_>>(),
            [
                "NAMESPACE",
                "NAME",
                "STATUS",
                "AGE",
                "DURATION",
                "PROGRESS",
                "MESSAGE",
                "P/R/C",
                "PARAMETERS"
            ]
        );
        assert!(lines[1].starts_with("team-a      running"), "{got}");
        assert!(lines[1].ends_with("1/1/1   who=world"), "{got}");
    }

    #[test]
    fn truncates_long_values_in_the_middle() {
        assert_eq!(truncate_middle("short", 10), "short");
        assert_eq!(
            truncate_middle("abcdefghijklmnopqrstuvwxyz", 11),
            "abcd...wxyz"
        );
        assert_eq!(truncate_middle("ééééééééééééé", 7), "éé...éé");
    }

    #[test]
    fn sibling_indexes() {
        assert_eq!(sibling_index("[12]"), Some(12));
        assert_eq!(sibling_index("task(3:a(b))"), None);
        assert_eq!(sibling_index("task(3:item)"), Some(3));
        assert_eq!(sibling_index("task(7)"), Some(7));
        assert_eq!(sibling_index("task"), None);
    }

    #[test]
    fn colors_wrap_the_glyph_only() {
        let mut opts = options(false);
        opts.paint = Paint { enabled: true };
        let got = tree_of(&steps_run(), &opts);
        let line = got.lines().find(|l| l.contains("hello2a")).unwrap();
        assert!(
            line.starts_with(" └─┬─\x1b[31m✖\x1b[0m hello2a  say"),
            "{line:?}"
        );
    }
}
