//! The step supervisor as a binary of its own, for this crate's tests: `switchyard-step-shim
//! <DIR>` does what `switchyard __step <DIR>` does.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let (Some(dir), None) = (args.next(), args.next()) else {
        eprintln!("usage: switchyard-step-shim <STEP DIR>");
        return ExitCode::from(2);
    };
    let code = switchyard_executor::shim_main(&PathBuf::from(dir));
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
