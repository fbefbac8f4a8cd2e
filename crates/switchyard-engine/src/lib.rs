//! The workflow engine: Argo Workflows semantics as a pure state machine.
//!
//! - [`submit()`] checks a `Workflow` against the templates and ConfigMaps it refers to (its
//!   [`Library`], copied at submit) and creates the [`RunState`] of a new run.
//! - [`apply()`] takes a [`Command`] (the run was submitted, a step started or ended, time
//!   passed, a user resumed or stopped it) and the current time, updates the state and returns
//!   the [`Action`]s a thin shell carries out (start or stop a step, wake up at a time, the run
//!   finished). It does no I/O, reads no clock and uses no randomness.
//! - [`restart_actions()`] tells the shell what to do after a restart.
//! - [`step`]: what the engine asks a runner to run ([`StepSpec`]) and what comes back
//!   ([`StepResult`]), plus the [`StepRunner`] port that local processes (and later Kubernetes
//!   pods) implement. The engine owns this port; runners depend on this crate, never the
//!   other way round.
//!
//! Inside: [`state`] (the persisted model), `reconcile` (Argo's `operate` loop), `exec`
//! (`executeTemplate`, retries, leaf templates), `steps` and `dag`, `vars` (what `{{...}}`
//! sees), `resolve` (templates, `templateRef`, `templateDefaults`, `workflowTemplateRef`),
//! `stepspec` (building a step), `schedule` (a pod's `nodeSelector` against the labels of the
//! node steps run on), [`naming`] (node ids, names, durations).
//!
//! What a command costs is what it changes, not the size of the run: `journal` records the
//! nodes a command touches (to undo a failed command and to tell whether a pass changed
//! anything, without copying the run), `memo` keeps in memory what the engine knows of a run
//! between commands (an index of its nodes, compiled DAGs, simple DAGs followed task by task
//! and steps templates' finished groups), and `stack` runs commands on kept threads with a
//! stack deep enough for the deepest nesting.
//!
//! Differences from Argo, on purpose: values (arguments, outputs, loop items, event data)
//! are substituted once and never evaluated again; every input parameter also reaches the
//! step as the environment variable `INPUT_PARAMETER_<NAME>`; `outputs.result` is kept for
//! container templates as well as scripts; a non-JSON loop result is aggregated as a string
//! (Argo fails); timers fire at their time exactly (Argo needs "after"); sprig's date
//! functions in expressions (`sprig.date('2006', x)`) format the `now` of the command being
//! applied, in UTC, where Argo reads the controller's clock; a pod is matched against the
//! node labels its run was submitted with, so a pod waiting for a label the node lacks keeps
//! waiting when the node is given that label later (Kubernetes would then schedule it).

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod apply;
mod dag;
mod error;
mod exec;
mod journal;
mod memo;
pub mod naming;
mod reconcile;
mod resolve;
mod schedule;
mod stack;
pub mod state;
pub mod step;
mod steps;
mod stepspec;
mod submit;
pub mod ttl;
mod vars;

pub use apply::{Action, Command, LOST_PREFIX, NodeFilter, apply, restart_actions};
pub use error::{EngineError, Problem, SubmitError};
pub use state::{
    Library, LibraryRef, Node, NodeFlag, NodeId, NodePhase, NodeType, RunState, RunStatus,
    SecretEnvRef, Shutdown, StepRecord, Timer, TimerKind, WorkflowPhase,
};
pub use step::{
    LogLine, LogStream, OutputCapture, Reattach, RunnerError, StepHandle, StepResult, StepRunner,
    StepSpec, StopReason,
};
pub use submit::{library_refs, submit};
