//! What one command changed, node by node: so that a command that fails leaves the run as it
//! was, and so that the reconcile loop knows whether a pass changed anything, without copying
//! the whole run (a run can have thousands of nodes; a command changes a handful).
//!
//! Every change to a node goes through [`Journal::node_mut`] or [`Journal::touch`] first
//! (the nodes are private to [`crate::exec::Op`], which does so), which keeps the node as it
//! was the first time the command, and the pass, touched it.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use switchyard_model::workflow::Outputs;

use crate::memo::Memo;
use crate::state::{Node, NodeId, RunState, RunStatus, Shutdown, Timer, WorkflowPhase};

/// The journal of one command.
pub(crate) struct Journal {
    /// The run's fields other than the nodes, before the command.
    saved: Saved,
    /// Each node the command touched, as it was before: `None` when it did not exist.
    undo: HashMap<NodeId, Option<Node>>,
    /// Each node touched since the current pass began, as it was when the pass began: `None`
    /// when that is what `undo` keeps (the command had not touched it before).
    pass: HashMap<NodeId, Option<Option<Node>>>,
    /// Every node that existed before the command is in `undo` (a retry rewrites the tree).
    all_saved: bool,
    /// Nodes whose progress alone changed, with their progress before: a DAG node's progress
    /// changes with every step, and copying the node (all its children) for that would cost
    /// as much as the run is large.
    progress: Vec<(NodeId, Option<String>)>,
}

/// The run's own fields that a command may change, other than the nodes.
#[derive(Clone)]
struct Saved {
    status: StatusFields,
    timers: Vec<Timer>,
    wake_at: Option<DateTime<Utc>>,
    suspended: bool,
    shutdown: Option<Shutdown>,
    generation: u32,
}

/// The fields of [`RunStatus`] other than the nodes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StatusFields {
    phase: WorkflowPhase,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    message: Option<String>,
    progress: String,
    outputs: Option<Outputs>,
}

impl StatusFields {
    pub(crate) fn of(status: &RunStatus) -> StatusFields {
        // Every field is named, so that a field added to the status must be placed here.
        let RunStatus {
            phase,
            started_at,
            finished_at,
            message,
            progress,
            outputs,
            nodes: _,
            memo: _,
        } = status;
        StatusFields {
            phase: *phase,
            started_at: *started_at,
            finished_at: *finished_at,
            message: message.clone(),
            progress: progress.clone(),
            outputs: outputs.clone(),
        }
    }

    fn restore(self, status: &mut RunStatus) {
        status.phase = self.phase;
        status.started_at = self.started_at;
        status.finished_at = self.finished_at;
        status.message = self.message;
        status.progress = self.progress;
        status.outputs = self.outputs;
    }
}

impl Journal {
    /// Starts the journal of a command applied to `st`.
    pub(crate) fn new(st: &RunState) -> Journal {
        // Every field is named, so that a field added to the run must be placed here: what
        // never changes after submit, or what a command may change and must be put back.
        let RunState {
            name: _,
            namespace: _,
            uid: _,
            labels: _,
            annotations: _,
            creation_timestamp: _,
            spec: _,
            library: _,
            arguments: _,
            status,
            timers,
            wake_at,
            suspended,
            shutdown,
            generation,
        } = st;
        Journal {
            saved: Saved {
                status: StatusFields::of(status),
                timers: timers.clone(),
                wake_at: *wake_at,
                suspended: *suspended,
                shutdown: shutdown.clone(),
                generation: *generation,
            },
            undo: HashMap::new(),
            pass: HashMap::new(),
            all_saved: false,
            progress: Vec::new(),
        }
    }

    /// Keeps node `id` as it is now, before it changes (or is created), and tells the memo
    /// it changes.
    pub(crate) fn touch(&mut self, nodes: &BTreeMap<NodeId, Node>, memo: &mut Memo, id: &str) {
        memo.mark(id);
        if self.pass.contains_key(id) {
            return;
        }
        if self.undo.contains_key(id) {
            self.pass
                .insert(id.to_string(), Some(nodes.get(id).cloned()));
        } else {
            self.undo.insert(id.to_string(), nodes.get(id).cloned());
            self.pass.insert(id.to_string(), None);
        }
    }

    /// Node `id`, to change it.
    pub(crate) fn node_mut<'n>(
        &mut self,
        nodes: &'n mut BTreeMap<NodeId, Node>,
        memo: &mut Memo,
        id: &str,
    ) -> Option<&'n mut Node> {
        if !nodes.contains_key(id) {
            return None;
        }
        self.touch(nodes, memo, id);
        nodes.get_mut(id)
    }

    /// Keeps every node, before a change that rewrites the tree (which the memo then
    /// forgets).
    pub(crate) fn touch_all(&mut self, nodes: &BTreeMap<NodeId, Node>, memo: &mut Memo) {
        memo.invalidate();
        if self.all_saved {
            return;
        }
        for (id, n) in nodes {
            self.undo
                .entry(id.clone())
                .or_insert_with(|| Some(n.clone()));
        }
        self.all_saved = true;
    }

    /// Sets a node's progress (outside passes: the reconcile loop does not compare it).
    pub(crate) fn set_progress(
        &mut self,
        nodes: &mut BTreeMap<NodeId, Node>,
        id: &str,
        progress: String,
    ) {
        let Some(n) = nodes.get_mut(id) else { return };
        let before = n.progress.replace(progress);
        if !self.undo.contains_key(id) {
            self.progress.push((id.to_string(), before));
        }
    }

    /// A new pass begins: what it changes is compared with the nodes as they are now.
    pub(crate) fn begin_pass(&mut self) {
        self.pass.clear();
    }

    /// Whether a node touched since the pass began is not what it was.
    pub(crate) fn pass_changed(&self, nodes: &BTreeMap<NodeId, Node>) -> bool {
        self.pass.iter().any(|(id, before)| {
            let before = match before {
                Some(own) => own.as_ref(),
                None => self.undo.get(id).and_then(Option::as_ref),
            };
            nodes.get(id) != before
        })
    }

    /// The ids of the nodes the command touched, in no particular order; `None` when it
    /// touched them all.
    pub(crate) fn touched(&self) -> Option<impl Iterator<Item = &str>> {
        (!self.all_saved).then(|| self.undo.keys().map(String::as_str))
    }

    /// Puts the run back as it was before the command (the memo forgets what it knew).
    pub(crate) fn undo(self, st: &mut RunState) {
        st.status.memo.invalidate();
        // Progress first: a node also kept whole is then put back whole.
        for (id, before) in self.progress {
            if let Some(n) = st.status.nodes.get_mut(&id) {
                n.progress = before;
            }
        }
        for (id, before) in self.undo {
            match before {
                Some(n) => {
                    st.status.nodes.insert(id, n);
                }
                None => {
                    st.status.nodes.remove(&id);
                }
            }
        }
        let saved = self.saved;
        saved.status.restore(&mut st.status);
        st.timers = saved.timers;
        st.wake_at = saved.wake_at;
        st.suspended = saved.suspended;
        st.shutdown = saved.shutdown;
        st.generation = saved.generation;
    }
}
