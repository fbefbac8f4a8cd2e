//! What the engine keeps in memory about a run between commands, so that a command costs
//! what it changes rather than the size of the run:
//!
//! - an [`Index`] of the nodes: the counts the parallelism checks need, the unfinished, failed
//!   and timed nodes, the node graph with numbers for ids, the state of each simple DAG (see
//!   [`crate::dag`]), the leading step groups of steps templates that succeeded, and what each
//!   finished DAG task exposes to the tasks after it. It is brought up to date from the nodes
//!   each command touched (the journal reports every node it keeps), never by reading the
//!   whole run again;
//! - what depends only on the run's spec and library: compiled DAG templates, whether a steps
//!   template's scope is ever read, and the `workflow.*` variables that never change.
//!
//! Nothing here is persisted. A run read back from the store, or cloned, starts with an empty
//! memo, built again on first use; so does a run with no step running (see
//! [`Memo::release_if_idle`]). The memo relies on two facts about a run: its nodes change only
//! through [`crate::apply()`] (a different number of nodes than it knows makes it start
//! over), and its identity, spec and library never change.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use crate::dag::{CompiledDag, DagRun};
use crate::state::{Node, NodeId, NodePhase, NodeType};
use crate::vars::Layer;

/// The in-memory part of a run (see the module doc). Cloning gives an empty memo.
#[derive(Default)]
pub(crate) struct Memo {
    /// Nodes changed since the index last read them.
    dirty: Vec<NodeId>,
    index: Option<Index>,
    /// Whether nothing reads the scope of a steps template, by template.
    static_steps: HashMap<(Option<String>, String), bool>,
    /// Index rebuilds so far: each index has its own epoch.
    epochs: u64,
    /// Compiled DAG templates, by where they were found and their name.
    compiled: HashMap<(Option<String>, String), Arc<CompiledDag>>,
    /// The `workflow.*` variables that do not change while the run goes on.
    pub(crate) fixed_globals: Option<Arc<Layer>>,
    /// Whether every node's progress was checked since the memo was made.
    pub(crate) progress_checked: bool,
    /// The index epoch and shape when the progress above the leaf steps was last walked.
    pub(crate) progress_walked: Option<(u64, u64)>,
    pub(crate) stats: Stats,
}

/// What the engine did, counted: tests use it to check that a command's cost does not grow
/// with the size of the run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Stats {
    /// DAG tasks the engine looked at (`executeDAGTask`).
    pub dag_tasks: u64,
    /// Step groups the engine looked at (`executeStepGroup`).
    pub step_groups: u64,
    /// Task scopes built (each reads every ancestor of a task).
    pub scopes: u64,
    /// Nodes the index (re)read.
    pub indexed: u64,
}

impl Clone for Memo {
    fn clone(&self) -> Memo {
        Memo::default()
    }
}

impl PartialEq for Memo {
    /// A memo is derived from the run: two runs are equal whatever their memos hold.
    fn eq(&self, _: &Memo) -> bool {
        true
    }
}

impl std::fmt::Debug for Memo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Memo")
    }
}

impl Memo {
    /// Node `id` is about to change.
    pub(crate) fn mark(&mut self, id: &str) {
        if self.index.is_some() {
            self.dirty.push(id.to_string());
        }
    }

    /// Forgets everything when the run has no step left running: nothing happens then until a
    /// user or a timer acts, and a waiting run (thousands may wait at an approval) should hold
    /// no more memory than its state. What was known is built again when needed.
    pub(crate) fn release_if_idle(&mut self, nodes: &BTreeMap<NodeId, Node>) {
        if self.index(nodes).live_steps == 0 {
            *self = Memo {
                epochs: self.epochs,
                stats: self.stats,
                ..Memo::default()
            };
        }
    }

    /// The nodes changed in ways the index does not follow (a retry rewrote them, a failed
    /// command was undone): it is built again on next use.
    pub(crate) fn invalidate(&mut self) {
        self.index = None;
        self.dirty.clear();
        self.progress_checked = false;
    }

    /// The index, up to date with `nodes`.
    pub(crate) fn index(&mut self, nodes: &BTreeMap<NodeId, Node>) -> &mut Index {
        if let Some(index) = &mut self.index {
            for id in self.dirty.drain(..) {
                index.update(&id, nodes.get(&id));
                self.stats.indexed += 1;
            }
        }
        // The number of nodes is a cheap check that nothing changed them behind the journal.
        let fresh = self.index.as_ref().is_none_or(|i| i.live != nodes.len());
        if fresh {
            self.dirty.clear();
            self.epochs += 1;
            self.stats.indexed += nodes.len() as u64;
            self.index = Some(Index::build(nodes, self.epochs));
        }
        self.index.get_or_insert_with(Index::default)
    }

    /// The progress texts that differ from the nodes' (see [`Index::progress_changes`]), and
    /// the run's progress.
    pub(crate) fn progress(
        &mut self,
        nodes: &BTreeMap<NodeId, Node>,
        touched: Option<&[NodeId]>,
    ) -> (Vec<(NodeId, String)>, String) {
        self.index(nodes);
        let Some(index) = &self.index else {
            return (Vec::new(), String::new());
        };
        let total = format!("{}/{}", index.leaves_done, index.leaves);
        let changes = index.progress_changes(nodes, touched, &mut self.progress_walked);
        (changes, total)
    }

    pub(crate) fn static_steps(&self, key: &(Option<String>, String)) -> Option<bool> {
        self.static_steps.get(key).copied()
    }

    pub(crate) fn keep_static_steps(&mut self, key: (Option<String>, String), value: bool) {
        self.static_steps.insert(key, value);
    }

    /// A compiled DAG template, if it was compiled before.
    pub(crate) fn compiled_dag(&self, key: &(Option<String>, String)) -> Option<Arc<CompiledDag>> {
        self.compiled.get(key).cloned()
    }

    pub(crate) fn keep_compiled_dag(
        &mut self,
        key: (Option<String>, String),
        dag: Arc<CompiledDag>,
    ) {
        self.compiled.insert(key, dag);
    }
}

/// Per-boundary counts for the parallelism and failFast checks.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Counts {
    /// Pod nodes, Pending or Running.
    pub active_pods: i64,
    /// Pod, Steps and DAG nodes, Pending or Running.
    pub active_children: i64,
    /// Pod, Steps and DAG nodes, Failed or Error.
    pub unsuccessful_children: i64,
}

/// What the index knows of one node.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Facts {
    pub node_type: NodeType,
    pub phase: NodePhase,
    /// The number of the node's boundary.
    pub boundary: Option<u32>,
    pub deadline: bool,
    /// A Pod or Container node with a step.
    pub step: bool,
}

/// One node id of the index: a node, or an id named as a child or boundary before its node
/// exists.
#[derive(Debug)]
pub(crate) struct Entry {
    pub id: NodeId,
    /// `None` while there is no node with this id.
    pub facts: Option<Facts>,
    pub children: Vec<u32>,
    /// The simple DAG (its number) and task slot this node is the task node of.
    pub owner: Option<(u32, u32)>,
}

/// The index of a run's nodes. Node ids are numbered in order of first sight.
#[derive(Debug, Default)]
pub(crate) struct Index {
    /// Which index this is: numbers of another epoch mean nothing here.
    pub epoch: u64,
    numbers: HashMap<NodeId, u32>,
    pub entries: Vec<Entry>,
    /// By boundary number.
    counts: Vec<Counts>,
    active_pods: i64,
    /// Nodes that exist.
    live: usize,
    /// Steps not finished.
    pub live_steps: usize,
    /// Nodes not fulfilled, failed or errored, and with a wake-up time while unfulfilled, by
    /// id (the order in which the engine walks them).
    pub unfulfilled: BTreeSet<NodeId>,
    pub failed: BTreeSet<NodeId>,
    pub deadlines: BTreeSet<NodeId>,
    /// Counts the changes that can change the progress of a node above the leaf steps: nodes
    /// appearing or going, leaf steps finishing, children added.
    pub shape: u64,
    /// Leaf steps (Pod, Container and Suspend nodes): finished and in all.
    pub leaves_done: u64,
    pub leaves: u64,
    /// Leading step groups of a steps node known to have succeeded, by the number of the
    /// steps node (only for templates where nothing reads the scope: see `steps`).
    pub settled_groups: HashMap<u32, usize>,
    /// What each fulfilled DAG task exposes to the tasks after it, by the number of the DAG
    /// node and the task's slot.
    pub scope_parts: HashMap<(u32, u32), Arc<Layer>>,
    /// The state of each simple DAG, by the number of its node.
    pub dags: HashMap<u32, DagRun>,
    /// Task slots of simple DAGs whose node changed since the DAG last looked, by DAG number.
    pub stale: HashMap<u32, Vec<u32>>,
}

/// An existing node that is not a leaf step (its progress sums leaf steps under it).
fn above(e: &Entry) -> bool {
    e.facts.is_some_and(|f| !is_leaf_step(f.node_type))
}

/// Pod, Container and Suspend nodes: one step each in the progress.
pub(crate) fn is_leaf_step(t: NodeType) -> bool {
    matches!(t, NodeType::Pod | NodeType::Container | NodeType::Suspend)
}

/// Whether a leaf step counts as done in the progress.
pub(crate) fn is_done_step(p: NodePhase) -> bool {
    matches!(
        p,
        NodePhase::Succeeded | NodePhase::Skipped | NodePhase::Omitted
    )
}

impl Index {
    /// The index of `nodes`.
    fn build(nodes: &BTreeMap<NodeId, Node>, epoch: u64) -> Index {
        let mut index = Index {
            epoch,
            ..Index::default()
        };
        for (id, n) in nodes {
            index.update(id, Some(n));
        }
        index
    }

    /// The number of `id`, given one if it has none yet.
    pub(crate) fn number(&mut self, id: &str) -> u32 {
        if let Some(n) = self.numbers.get(id) {
            return *n;
        }
        let n = u32::try_from(self.entries.len()).unwrap_or(u32::MAX);
        self.numbers.insert(id.to_string(), n);
        self.entries.push(Entry {
            id: id.to_string(),
            facts: None,
            children: Vec::new(),
            owner: None,
        });
        self.counts.push(Counts::default());
        n
    }

    /// The number of `id`, if it has one.
    pub(crate) fn find(&self, id: &str) -> Option<u32> {
        self.numbers.get(id).copied()
    }

    pub(crate) fn counts(&self, boundary: &str) -> Counts {
        self.find(boundary)
            .map(|b| self.counts[b as usize])
            .unwrap_or_default()
    }

    /// Pending or Running Pod nodes of the whole run.
    pub(crate) fn active_pods(&self) -> i64 {
        self.active_pods
    }

    /// The progress texts that differ from the nodes' (Argo's progress: a leaf step counts
    /// `0/1`, or `1/1` once done; every other node the leaf steps under it, each once). Leaf
    /// steps are checked only among `touched` when given; other nodes always.
    pub(crate) fn progress_changes(
        &self,
        nodes: &BTreeMap<NodeId, Node>,
        touched: Option<&[NodeId]>,
        walked: &mut Option<(u64, u64)>,
    ) -> Vec<(NodeId, String)> {
        let mut out = Vec::new();
        let mut leaf = |n: &Node| {
            let text = if is_done_step(n.phase) { "1/1" } else { "0/1" };
            if is_leaf_step(n.node_type) && n.progress.as_deref() != Some(text) {
                out.push((n.id.clone(), text.to_string()));
            }
        };
        match touched {
            Some(ids) => ids
                .iter()
                .filter_map(|id| nodes.get(id))
                .for_each(&mut leaf),
            None => nodes.values().for_each(&mut leaf),
        }
        // The nodes above the leaf steps keep their progress while nothing it counts changed
        // since it was last walked (in this index).
        if touched.is_some() && *walked == Some((self.epoch, self.shape)) {
            return out;
        }
        *walked = Some((self.epoch, self.shape));
        let counts = self.leaf_counts();
        for (e, (done, total)) in self.entries.iter().zip(counts) {
            if e.facts.is_none_or(|f| is_leaf_step(f.node_type)) {
                continue;
            }
            let text = format!("{done}/{total}");
            if let Some(n) = nodes.get(&e.id)
                && n.progress.as_deref() != Some(text.as_str())
            {
                out.push((n.id.clone(), text));
            }
        }
        out
    }

    /// For each node above the leaf steps, the leaf steps reachable from it through children
    /// (a missing node ends a path), each once: done and in all. Leaf steps get (0, 0).
    ///
    /// With few such nodes, a walk from each; with many (a long steps template has one step
    /// group per step, each above all the later ones), sets of leaf steps built once from
    /// the bottom of the graph up, so the cost does not grow with their product. A cycle,
    /// which the engine never makes, sends the second way back to the first.
    fn leaf_counts(&self) -> Vec<(u64, u64)> {
        if self.entries.iter().filter(|e| above(e)).count() > 32
            && let Some(counts) = self.leaf_counts_by_sets()
        {
            return counts;
        }
        self.leaf_counts_by_walks()
    }

    /// [`Index::leaf_counts`] with a walk from each node above the leaf steps.
    fn leaf_counts_by_walks(&self) -> Vec<(u64, u64)> {
        let mut counts = vec![(0u64, 0u64); self.entries.len()];
        let mut seen = vec![0u32; self.entries.len()];
        let mut stack: Vec<u32> = Vec::new();
        for ((walk, e), count) in (1u32..).zip(&self.entries).zip(&mut counts) {
            if !above(e) {
                continue;
            }
            stack.clear();
            stack.extend(e.children.iter().copied());
            while let Some(c) = stack.pop() {
                let c = c as usize;
                if seen[c] == walk {
                    continue;
                }
                seen[c] = walk;
                let Some(f) = self.entries[c].facts else {
                    continue;
                };
                if is_leaf_step(f.node_type) {
                    count.1 += 1;
                    count.0 += u64::from(is_done_step(f.phase));
                }
                stack.extend(self.entries[c].children.iter().copied());
            }
        }
        counts
    }

    /// [`Index::leaf_counts`] with a set of leaf steps per node; `None` on a cycle.
    fn leaf_counts_by_sets(&self) -> Option<Vec<(u64, u64)>> {
        let n = self.entries.len();
        // Leaf steps are numbered for the sets; `done` marks the finished ones.
        let mut bit = vec![usize::MAX; n];
        let mut leaves = 0;
        for (i, e) in self.entries.iter().enumerate() {
            if e.facts.is_some_and(|f| is_leaf_step(f.node_type)) {
                bit[i] = leaves;
                leaves += 1;
            }
        }
        let words = leaves.div_ceil(64).max(1);
        let mut done = vec![0u64; words];
        for (i, e) in self.entries.iter().enumerate() {
            if bit[i] != usize::MAX && e.facts.is_some_and(|f| is_done_step(f.phase)) {
                done[bit[i] / 64] |= 1 << (bit[i] % 64);
            }
        }
        // Children before parents: a depth-first post-order over the nodes that exist.
        const NEW: u8 = 0;
        const OPEN: u8 = 1;
        const CLOSED: u8 = 2;
        let mut state = vec![NEW; n];
        let mut order = Vec::with_capacity(n);
        let mut stack: Vec<(usize, usize)> = Vec::new();
        for root in 0..n {
            if state[root] != NEW || self.entries[root].facts.is_none() {
                continue;
            }
            state[root] = OPEN;
            stack.push((root, 0));
            while let Some((v, next)) = stack.last_mut() {
                let v = *v;
                match self.entries[v].children.get(*next) {
                    Some(&c) => {
                        *next += 1;
                        let c = c as usize;
                        if self.entries[c].facts.is_none() {
                            continue;
                        }
                        match state[c] {
                            NEW => {
                                state[c] = OPEN;
                                stack.push((c, 0));
                            }
                            OPEN => return None,
                            _ => {}
                        }
                    }
                    None => {
                        state[v] = CLOSED;
                        order.push(v);
                        stack.pop();
                    }
                }
            }
        }
        let mut sets = vec![0u64; n * words];
        for &v in &order {
            for &c in &self.entries[v].children {
                let c = c as usize;
                if bit[c] != usize::MAX {
                    sets[v * words + bit[c] / 64] |= 1 << (bit[c] % 64);
                }
                if self.entries[c].facts.is_some() && c != v {
                    let (low, high) = sets.split_at_mut(v.max(c) * words);
                    let (into, from) = if v < c {
                        (&mut low[v * words..(v + 1) * words], &high[..words])
                    } else {
                        (&mut high[..words], &low[c * words..(c + 1) * words])
                    };
                    for (a, b) in into.iter_mut().zip(from) {
                        *a |= b;
                    }
                }
            }
        }
        Some(
            (0..n)
                .map(|v| {
                    if !above(&self.entries[v]) {
                        return (0, 0);
                    }
                    let set = &sets[v * words..(v + 1) * words];
                    let total: u32 = set.iter().map(|w| w.count_ones()).sum();
                    let finished: u32 = set
                        .iter()
                        .zip(&done)
                        .map(|(w, d)| (w & d).count_ones())
                        .sum();
                    (u64::from(finished), u64::from(total))
                })
                .collect(),
        )
    }

    /// Reads node `id` again (`None`: it no longer exists).
    fn update(&mut self, id: &str, node: Option<&Node>) {
        let n = self.number(id);
        let old = self.entries[n as usize].facts.take();
        if let Some(old) = old {
            self.count(id, old, -1);
            self.live -= 1;
        }
        let Some(node) = node else {
            self.entries[n as usize].children.clear();
            self.shape += u64::from(old.is_some());
            self.note_owner(n);
            return;
        };
        let as_leaf = |t: NodeType, p: NodePhase| is_leaf_step(t).then(|| is_done_step(p));
        if old.is_none_or(|o| as_leaf(o.node_type, o.phase) != as_leaf(node.node_type, node.phase))
        {
            self.shape += 1;
        }
        let boundary = node.boundary_id.as_deref().map(|b| self.number(b));
        let facts = Facts {
            node_type: node.node_type,
            phase: node.phase,
            boundary,
            deadline: node.deadline.is_some(),
            step: node.step.is_some(),
        };
        self.count(id, facts, 1);
        self.live += 1;
        self.entries[n as usize].facts = Some(facts);
        // Children are only ever appended (a retry, which removes some, rebuilds the index):
        // number the new ones, unless the known ones are not where they were.
        let known = self.entries[n as usize].children.len();
        let same_prefix = known <= node.children.len()
            && (known == 0
                || self.numbers.get(&node.children[known - 1])
                    == self.entries[n as usize].children.last());
        let start = if same_prefix { known } else { 0 };
        let added: Vec<u32> = node.children[start..]
            .iter()
            .map(|c| self.number(c))
            .collect();
        if start != known || !added.is_empty() {
            self.shape += 1;
        }
        let children = &mut self.entries[n as usize].children;
        children.truncate(start);
        children.extend(added);
        self.note_owner(n);
    }

    /// Tells the simple DAG that owns node number `n`, if any, that its task node changed.
    fn note_owner(&mut self, n: u32) {
        if let Some((dag, slot)) = self.entries[n as usize].owner {
            self.stale.entry(dag).or_default().push(slot);
        }
    }

    /// Adds (`sign` 1) or removes (-1) what a node counts for.
    fn count(&mut self, id: &str, f: Facts, sign: i64) {
        let active = matches!(f.phase, NodePhase::Pending | NodePhase::Running);
        let child = matches!(f.node_type, NodeType::Pod | NodeType::Steps | NodeType::Dag);
        if f.node_type == NodeType::Pod && active {
            self.active_pods += sign;
        }
        if f.step && !f.phase.fulfilled() {
            self.live_steps = self.live_steps.wrapping_add_signed(sign as isize);
        }
        if let Some(b) = f.boundary {
            let c = &mut self.counts[b as usize];
            if f.node_type == NodeType::Pod && active {
                c.active_pods += sign;
            }
            if child && active {
                c.active_children += sign;
            }
            if child && f.phase.failed_or_error() {
                c.unsuccessful_children += sign;
            }
        }
        if is_leaf_step(f.node_type) {
            self.leaves = self.leaves.wrapping_add_signed(sign);
            if is_done_step(f.phase) {
                self.leaves_done = self.leaves_done.wrapping_add_signed(sign);
            }
        }
        let sets = [
            (!f.phase.fulfilled(), &mut self.unfulfilled),
            (f.phase.failed_or_error(), &mut self.failed),
            (f.deadline && !f.phase.fulfilled(), &mut self.deadlines),
        ];
        for (member, set) in sets {
            if !member {
                continue;
            }
            if sign > 0 {
                set.insert(id.to_string());
            } else {
                set.remove(id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn node(id: &str, t: NodeType, phase: NodePhase, boundary: Option<&str>) -> Node {
        Node {
            id: id.into(),
            name: id.into(),
            display_name: id.into(),
            node_type: t,
            template_name: None,
            template_ref: None,
            template_scope: None,
            phase,
            boundary_id: boundary.map(str::to_string),
            message: None,
            started_at: Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap(),
            finished_at: None,
            children: Vec::new(),
            outbound_nodes: Vec::new(),
            inputs: None,
            outputs: None,
            progress: None,
            node_flag: None,
            exit_handler: false,
            step: None,
            deadline: None,
            resumed_by: None,
            resume_message: None,
        }
    }

    /// The index, built from scratch for `nodes`.
    fn fresh(nodes: &std::collections::BTreeMap<NodeId, Node>) -> Index {
        let mut memo = Memo::default();
        std::mem::take(memo.index(nodes))
    }

    fn summary(ix: &Index, boundaries: &[&str]) -> Vec<String> {
        let mut out = vec![format!(
            "pods {} leaves {}/{} unfulfilled {:?} failed {:?}",
            ix.active_pods(),
            ix.leaves_done,
            ix.leaves,
            ix.unfulfilled,
            ix.failed
        )];
        for b in boundaries {
            let c = ix.counts(b);
            out.push(format!(
                "{b}: pods {} children {} unsuccessful {}",
                c.active_pods, c.active_children, c.unsuccessful_children
            ));
        }
        out
    }

    #[test]
    fn changes_reported_one_by_one_give_the_index_built_from_scratch() {
        let mut nodes = std::collections::BTreeMap::new();
        let mut memo = Memo::default();
        let steps: Vec<(&str, NodeType, NodePhase, Option<&str>)> = vec![
            ("d", NodeType::Dag, NodePhase::Running, None),
            ("a", NodeType::Pod, NodePhase::Pending, Some("d")),
            ("a", NodeType::Pod, NodePhase::Running, Some("d")),
            ("b", NodeType::Pod, NodePhase::Running, Some("d")),
            ("a", NodeType::Pod, NodePhase::Failed, Some("d")),
            ("s", NodeType::Skipped, NodePhase::Omitted, Some("d")),
            ("b", NodeType::Pod, NodePhase::Succeeded, Some("d")),
            ("d", NodeType::Dag, NodePhase::Failed, None),
        ];
        for (id, t, phase, boundary) in steps {
            memo.index(&nodes);
            memo.mark(id);
            let mut n = node(id, t, phase, boundary);
            if id == "d" {
                n.children = vec!["a".into(), "b".into(), "s".into()];
            }
            nodes.insert(id.to_string(), n);
            let kept = summary(memo.index(&nodes), &["d"]);
            assert_eq!(kept, summary(&fresh(&nodes), &["d"]), "after {id}");
        }
        let ix = memo.index(&nodes);
        assert_eq!(
            summary(ix, &["d"]),
            [
                "pods 0 leaves 1/2 unfulfilled {} failed {\"a\", \"d\"}",
                "d: pods 0 children 0 unsuccessful 1"
            ]
        );
        let d = ix.find("d").unwrap() as usize;
        let children: Vec<&str> = ix.entries[d]
            .children
            .iter()
            .map(|c| ix.entries[*c as usize].id.as_str())
            .collect();
        assert_eq!(children, ["a", "b", "s"]);
    }

    #[test]
    fn leaf_steps_counted_by_sets_are_those_counted_by_walks() {
        let types = [
            NodeType::Pod,
            NodeType::Steps,
            NodeType::StepGroup,
            NodeType::Dag,
            NodeType::Skipped,
            NodeType::Container,
            NodeType::Suspend,
            NodeType::Retry,
        ];
        let phases = [
            NodePhase::Pending,
            NodePhase::Running,
            NodePhase::Succeeded,
            NodePhase::Failed,
            NodePhase::Skipped,
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for round in 0..40 {
            let size = 20 + next(80) as usize;
            let mut nodes = std::collections::BTreeMap::new();
            for i in 0..size {
                let id = format!("n{i:03}");
                let mut n = node(
                    &id,
                    types[next(types.len() as u64) as usize],
                    phases[next(phases.len() as u64) as usize],
                    None,
                );
                // Children come later (the engine's graphs have no cycles), some never exist.
                for _ in 0..next(4) {
                    let c = i + 1 + next(6) as usize;
                    let child = if next(10) == 0 {
                        format!("missing{c}")
                    } else {
                        format!("n{c:03}")
                    };
                    if c < size + 3 && !n.children.contains(&child) {
                        n.children.push(child);
                    }
                }
                nodes.insert(id, n);
            }
            let ix = fresh(&nodes);
            let by_sets = ix.leaf_counts_by_sets().expect("no cycle");
            assert_eq!(by_sets, ix.leaf_counts_by_walks(), "round {round}");
        }
        // A cycle is left to the walks.
        let mut nodes = std::collections::BTreeMap::new();
        let mut a = node("a", NodeType::Steps, NodePhase::Running, None);
        a.children = vec!["b".into()];
        let mut b = node("b", NodeType::Pod, NodePhase::Succeeded, None);
        b.children = vec!["a".into()];
        nodes.insert("a".to_string(), a);
        nodes.insert("b".to_string(), b);
        let ix = fresh(&nodes);
        assert_eq!(ix.leaf_counts_by_sets(), None);
        assert_eq!(ix.leaf_counts(), vec![(1, 1), (0, 0)]);
    }

    #[test]
    fn a_node_changed_behind_the_journal_rebuilds_the_index() {
        let mut nodes = std::collections::BTreeMap::new();
        nodes.insert(
            "a".to_string(),
            node("a", NodeType::Pod, NodePhase::Running, None),
        );
        let mut memo = Memo::default();
        assert_eq!(memo.index(&nodes).active_pods(), 1);
        nodes.insert(
            "b".to_string(),
            node("b", NodeType::Pod, NodePhase::Running, None),
        );
        assert_eq!(memo.index(&nodes).active_pods(), 2);
    }

    /// A command's cost must not grow with the size of the run: in the middle of a run, the
    /// start and the end of one step look at the same number of tasks, step groups and nodes
    /// whether the run has a hundred steps or a thousand.
    mod scaling {
        use super::super::Stats;
        use crate::{Action, Command, Library, RunState, StepHandle, StepResult, apply, submit};
        use chrono::{DateTime, TimeZone, Utc};
        use serde_json::{Value as Json, json};
        use switchyard_model::workflow::Workflow;

        fn noop() -> Json {
            json!({"name": "noop", "container": {"image": "alpine", "command": ["true"]}})
        }

        fn chain(n: usize) -> Json {
            let tasks: Vec<Json> = (0..n)
                .map(|i| match i {
                    0 => json!({"name": "t0", "template": "noop"}),
                    _ => json!({"name": format!("t{i}"), "template": "noop",
                                "dependencies": [format!("t{}", i - 1)]}),
                })
                .collect();
            json!({"entrypoint": "main",
                   "templates": [{"name": "main", "dag": {"tasks": tasks}}, noop()]})
        }

        /// A chain where each task passes the previous one's result on: its tasks resolve
        /// again on every pass, from a scope that reads the tasks before.
        fn chain_with_data(n: usize) -> Json {
            let tasks: Vec<Json> = (0..n)
                .map(|i| match i {
                    0 => json!({"name": "t0", "template": "echo"}),
                    _ => json!({"name": format!("t{i}"), "template": "echo",
                                "dependencies": [format!("t{}", i - 1)],
                                "arguments": {"parameters": [{"name": "m",
                                    "value": format!("{{{{tasks.t{}.outputs.result}}}}", i - 1)}]}}),
                })
                .collect();
            let echo = json!({"name": "echo", "inputs": {"parameters": [{"name": "m", "default": "-"}]},
                              "container": {"image": "alpine", "command": ["echo", "{{inputs.parameters.m}}"]}});
            json!({"entrypoint": "main",
                   "templates": [{"name": "main", "dag": {"tasks": tasks}}, echo]})
        }

        fn fan_out(n: usize) -> Json {
            let tasks: Vec<Json> = (0..n)
                .map(|i| json!({"name": format!("t{i}"), "template": "noop"}))
                .collect();
            json!({"entrypoint": "main",
                   "templates": [{"name": "main", "parallelism": 4, "dag": {"tasks": tasks}}, noop()]})
        }

        fn steps(n: usize) -> Json {
            let groups: Vec<Json> = (0..n)
                .map(|i| json!([{"name": format!("s{i}"), "template": "noop"}]))
                .collect();
            json!({"entrypoint": "main", "templates": [{"name": "main", "steps": groups}, noop()]})
        }

        fn at(ms: i64) -> DateTime<Utc> {
            Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::milliseconds(ms)
        }

        /// Runs steps one at a time, in the order they were started, up to the middle of
        /// the run; returns what starting and ending the middle step cost. (Whole runs of a
        /// thousand steps: without the memo, each of these tests takes minutes.)
        fn middle_step(spec: Json, steps: usize) -> Stats {
            let wf: Workflow = serde_json::from_value(json!({
                "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
                "metadata": {"name": "wf"}, "spec": spec
            }))
            .unwrap();
            let mut library = Library::default();
            library
                .image_entrypoints
                .insert("alpine".into(), vec!["/bin/true".into()]);
            let mut st: RunState = submit("wf", "ns", "uid", &wf, library, at(0)).unwrap();
            let mut queue: Vec<String> = Vec::new();
            let take = |actions: Vec<Action>, st: &RunState, queue: &mut Vec<String>| {
                for a in actions {
                    if let Action::StartStep(spec) = a {
                        queue.push(st.node_of_step(&spec.id).unwrap().id.clone());
                    }
                }
            };
            let actions = apply(&mut st, Command::Submit, at(0)).unwrap();
            take(actions, &st, &mut queue);
            for i in 0..=steps / 2 {
                let node = queue.remove(0);
                let now = at(i as i64 + 1);
                if i == steps / 2 {
                    st.status.memo.stats = Stats::default();
                }
                let handle = StepHandle {
                    id: st.status.nodes[&node]
                        .step
                        .as_ref()
                        .unwrap()
                        .spec
                        .id
                        .clone(),
                    pid: 1,
                    pid_start_time: 1,
                    dir: std::path::PathBuf::from("/steps"),
                    started_at: now,
                };
                let started = Command::StepStarted {
                    node: node.clone(),
                    handle,
                };
                let actions = apply(&mut st, started, now).unwrap();
                take(actions, &st, &mut queue);
                let result = StepResult {
                    exit_code: Some(0),
                    result: String::new(),
                    outputs: Default::default(),
                    stopped: None,
                    message: String::new(),
                    started_at: now,
                    finished_at: now,
                };
                let actions = apply(&mut st, Command::StepExited { node, result }, now).unwrap();
                take(actions, &st, &mut queue);
            }
            assert_eq!(st.status.phase, crate::WorkflowPhase::Running);
            st.status.memo.stats
        }

        #[test]
        fn a_step_of_a_dag_chain_costs_the_same_in_a_run_ten_times_larger() {
            let small = middle_step(chain(100), 100);
            assert_eq!(middle_step(chain(1000), 1000), small);
            assert_eq!(small.scopes, 0, "{small:?}");
            assert!(small.dag_tasks <= 2, "{small:?}");
        }

        #[test]
        fn a_step_of_a_chain_passing_data_looks_at_as_many_tasks_in_a_run_ten_times_larger() {
            // Its scope reads every task before it (shared, not copied): only the walk is
            // compared.
            let small = middle_step(chain_with_data(60), 60);
            let large = middle_step(chain_with_data(600), 600);
            assert_eq!(
                (large.dag_tasks, large.scopes),
                (small.dag_tasks, small.scopes)
            );
            assert!(small.dag_tasks <= 8, "{small:?}");
        }

        #[test]
        fn a_step_of_a_dag_fan_out_costs_the_same_in_a_run_ten_times_larger() {
            let small = middle_step(fan_out(100), 100);
            assert_eq!(middle_step(fan_out(1000), 1000), small);
            assert!(small.dag_tasks <= 2, "{small:?}");
        }

        #[test]
        fn a_step_of_a_steps_chain_costs_the_same_in_a_run_ten_times_larger() {
            let small = middle_step(steps(100), 100);
            assert_eq!(middle_step(steps(1000), 1000), small);
            assert!(small.step_groups <= 4, "{small:?}");
        }
    }
}
