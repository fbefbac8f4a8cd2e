//! `switchyard`: runs the platform (`up`) and talks to it over HTTP (`apply`, `get`,
//! `delete`, and the workflow-run commands `submit`, `list`, `watch`, `wait`, `logs`,
//! `suspend`, `resume`, `stop`, `terminate`, `retry`, `resubmit`, `node set`), or checks
//! manifests offline (`lint`).
//!
//! Data goes to stdout; messages, warnings and errors to stderr. Exit codes: 0 success,
//! 1 rejected input or request, 2 usage, 3 server unreachable or failed.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod cli;
mod client;
mod commands;
mod error;
mod events;
mod logs;
mod orders;
mod output;
mod platform;
mod run;
mod view;
mod workflows;

use std::process::ExitCode;

use clap::Parser;
use switchyard_server::LogFormat;

use crate::cli::{Cli, Command, LogFormatArg};
use crate::error::CliError;

fn main() -> ExitCode {
    // Started under the name of an image's program (a link in the data directory's `tools`):
    // be that program.
    let mut argv = std::env::args_os();
    let name = argv.next().map(std::path::PathBuf::from);
    let as_program = name.as_deref().and_then(std::path::Path::file_name);
    if let Some(program) = as_program.and_then(std::ffi::OsStr::to_str)
        && matches!(program, "argosay" | "cowsay")
    {
        let args = argv.map(|a| a.to_string_lossy().into_owned()).collect();
        let code = match program {
            "argosay" => switchyard_executor::argosay_main(args),
            _ => switchyard_executor::cowsay_main(args),
        };
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    let cli = Cli::parse();
    if let Command::Argosay(args) = &cli.command {
        let code = switchyard_executor::argosay_main(args.args.clone());
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    if let Command::Step(args) = &cli.command {
        // Before anything else: the step supervisor must still be single-threaded when it
        // creates its namespaces, and it writes its own log.
        let code = switchyard_executor::shim_main(&args.dir);
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    let format = match cli.log_format {
        LogFormatArg::Text => LogFormat::Text,
        LogFormatArg::Json => LogFormat::Json,
    };
    let default_filter = if matches!(cli.command, Command::Up(_)) {
        "info"
    } else {
        "warn"
    };
    switchyard_server::init_logging(format, default_filter);
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            report(&err);
            err.exit_code()
        }
    }
}

fn report(err: &CliError) {
    match err {
        CliError::Reported(summary) => eprintln!("{summary}"),
        CliError::Server { body, .. } => {
            for d in &body.diagnostics {
                eprintln!("{d}");
            }
            eprintln!("error: {}", body.message);
        }
        other => eprintln!("error: {other}"),
    }
}
