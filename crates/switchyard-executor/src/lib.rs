//! The local executor: runs workflow steps as processes on this machine, implementing the
//! engine's [`StepRunner`](switchyard_engine::StepRunner) port with [`LocalRunner`].
//!
//! Each step gets a supervisor process (the shim, [`shim_main`], run as `switchyard __step
//! <DIR>`) in its own session, so the step survives a crash or restart of Switchyard and is
//! found again with [`StepRunner::reattach`](switchyard_engine::StepRunner::reattach). The
//! shim, not Switchyard, captures the output, enforces the timeout, and writes the result to
//! the step's directory; the runner only reads files and sends signals.
//!
//! What a step sees:
//! - argv: `command`, then `args`, then (for a script template) the path of a file holding
//!   `script_source`; environment: Switchyard's own minus `SWITCHYARD_*`, `TMPDIR`, then the
//!   step's `env` in order. Parameters arrive as environment variables or files, never as
//!   shell source.
//! - its working directory `<dir>/work` (or `<dir>/work/<working_dir>`), and a private `/tmp`
//!   (its `<dir>/tmp`, through a mount namespace; the `isolation` module says when that is not
//!   possible and what happens then).
//! - `files` and `output_paths`: relative paths are taken from the working directory;
//!   absolute ones as they are, inside the step's mount namespace, so `/tmp/...` is the
//!   step's own. Absolute paths elsewhere are the machine's.
//!
//! [`argosay_main`] (`switchyard __argosay ARGS...`) does what the entrypoint of Argo's test
//! image `argoproj/argosay` does, so the Argo examples that run that image with `args` only
//! run here too; [`cowsay_main`] is that image's `cowsay`. [`ImageTools`] puts such stand-ins
//! on a step's `PATH` and in place of the image's own paths (`/argosay`).
//!
//! **Invariant:** only this crate spawns step processes, and a step's files never leave its
//! directory except through absolute paths outside `/tmp` that the manifest names.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod argosay;
mod capture;
mod cowsay;
mod error;
mod isolation;
mod layout;
mod procfs;
mod runner;
mod shim;
mod tools;

pub use argosay::{ARGOSAY_IMAGES, ARGOSAY_TOOLS, argosay_entrypoint, argosay_main};
pub use cowsay::cowsay_main;
pub use error::ExecutorError;
pub use runner::{LOST_MESSAGE, LocalRunner, LocalRunnerConfig, ShimCommand};
pub use shim::shim_main;
pub use tools::{ImageTools, link_tools};
