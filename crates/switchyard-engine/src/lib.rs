//! The workflow engine.
//!
//! - [`step`]: what the engine asks a runner to run ([`StepSpec`]) and what comes back
//!   ([`StepResult`]), plus the [`StepRunner`] port that local processes (and later Kubernetes
//!   pods) implement. The engine owns this port; runners depend on this crate, never the
//!   other way round.

pub mod step;

pub use step::{
    LogLine, LogStream, OutputCapture, Reattach, RunnerError, StepHandle, StepResult, StepRunner,
    StepSpec, StopReason,
};
