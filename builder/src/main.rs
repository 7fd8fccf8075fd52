//! `wasmcc-builder`: the Fabric external builder for wasmcc, one static binary for every step.
//!
//! The peer runs `bin/detect`, `bin/build`, `bin/release` and `bin/run` from the builder directory named in its
//! core.yaml `externalBuilders`; all four are this binary, told apart by the name it was started under
//! (`wasmcc-builder install DIR` lays them out). It is linked statically because the stock peer image (Alpine) has
//! neither glibc nor a shell to run scripts with. Operators' guide: `docs/operators.md`.
//!
//! The peer discards stdout and logs stderr; a failing step prints one line saying why and exits non-zero.

mod admin;
mod config;
mod connection;
mod launcher;
mod limits;
mod resolve;
mod scratch;
mod steps;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "usage: wasmcc-builder install DIR | detect SOURCE METADATA | build SOURCE METADATA OUTPUT | \
                     release BUILD RELEASE | run BUILD RUN_METADATA (or start it as bin/<step>)";

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let program = args.first().and_then(|a| Path::new(a).file_name()).and_then(|n| n.to_str()).unwrap_or_default();
    // As bin/<step> the step is the program name; otherwise it is the first argument.
    let (step, rest) = if steps::STEPS.contains(&program) {
        (program.to_owned(), &args[1..])
    } else {
        match args.get(1).and_then(|a| a.to_str()) {
            Some(step) => (step.to_owned(), &args[2..]),
            None => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        }
    };
    let paths: Vec<PathBuf> = rest.iter().map(PathBuf::from).collect();
    let result = match step.as_str() {
        // detect answers with its exit code alone, and silently: a "no" is normal when several builders are tried.
        "detect" => return if steps::detect(&paths) { ExitCode::SUCCESS } else { ExitCode::FAILURE },
        "build" => steps::build(&paths),
        "release" => steps::release(&paths),
        "run" => steps::run(&paths),
        "install" => steps::install(&paths),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wasmcc-builder {step}: {}", admin::one_line(&format!("{e:#}")));
            ExitCode::FAILURE
        }
    }
}
