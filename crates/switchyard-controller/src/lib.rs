//! The workflow controller: the async shell around the engine's pure core.
//!
//! - [`Controller`] submits runs (gathering the templates and ConfigMaps they refer to),
//!   routes commands (resume, stop, retry, ...) to them, deletes them, reads their logs, and
//!   at start takes over every unfinished run in the store.
//! - Each live run has one actor (`run`) that applies messages to its state in batches,
//!   writes the status once per batch with the logs of the steps that ended (group commit
//!   makes concurrent runs share one fsync), and only then starts, stops and cleans up
//!   steps through the [`switchyard_engine::StepRunner`] port and sets its timer.
//! - `record` is how a run is stored: a `Workflow` object with Argo's status shape.
//! - [`metrics`] names the Prometheus metrics (Argo's names where Argo has them).
//! - [`host_node_labels`]: the labels of the one node steps run on, as a kubelet sets them;
//!   each run gets the configured labels with its library, for its pods' `nodeSelector`s.
//!
//! Invariant: no action of a transition is carried out before the status that caused it
//! is durable, except that recording a step's start may lag (a restart then asks the
//! runner to start it again, which returns the step already started).

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod controller;
pub mod cron;
mod error;
mod inbox;
mod library;
mod logs;
pub mod metrics;
mod node;
pub mod record;
mod run;
pub mod scheduler;
mod secrets;

pub use controller::{Controller, ControllerConfig, SubmitOptions, Submitted};
pub use error::ControllerError;
pub use inbox::{Answer, FailureClass, RunInbox, UserCommand};
pub use library::Overlay;
pub use logs::{LogSelect, StepLogLine};
pub use node::{host_name, host_node_labels};
