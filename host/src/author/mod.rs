//! The verbs of a chaincode author: `wasmcc new` starts a chaincode crate, `wasmcc build` turns it into a package a
//! host takes. Binary-only code, hence `anyhow`.

mod build;
mod new;

pub use build::{build, BuildArgs};
pub use new::NewArgs;

/// The author's verbs, to flatten into the binary's subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum AuthorCommand {
    /// Create a chaincode crate: a contract, a unit test on the mock ledger, a README.
    New(NewArgs),
    /// Build a chaincode crate to wasm, check it as a host would at upload, package it and print its CCID.
    Build(BuildArgs),
}

pub fn run(command: AuthorCommand) -> anyhow::Result<()> {
    match command {
        AuthorCommand::New(args) => new::run(&args),
        AuthorCommand::Build(args) => build::run(&args),
    }
}
