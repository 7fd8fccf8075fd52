//! The verbs that need no running host: `wasmcc package`, `wasmcc ccid` and `wasmcc check`.
//!
//! They run the very code the host runs at upload (`wasmcc_host::package`, `wasmcc_host::validate`, the engine's
//! compile and link), so an operator learns before installing whether the host will take a module, and which CCID
//! the peer will compute for a package. Binary-only code, hence `anyhow`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use wasmcc_host::engine::WasmEngine;
use wasmcc_host::package::{self, Package};
use wasmcc_host::validate::{self, Validated};

/// The offline verbs, to flatten into the binary's subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum OfflineCommand {
    /// Package a wasm chaincode for `peer lifecycle chaincode install` (or `wasmcc install`); prints its CCID.
    Package(PackageArgs),
    /// Print the package ID (CCID) the peer computes for a package file: label:sha256.
    Ccid(CcidArgs),
    /// Check a module or a package as the host would at upload; exits 1 with the reason when it would refuse it.
    Check(CheckArgs),
}

#[derive(clap::Args, Debug)]
pub struct PackageArgs {
    /// The package label (the peer requires `^[[:alnum:]][[:alnum:]_.+-]*$`).
    #[arg(long)]
    pub label: String,
    /// The chaincode: a core wasm module or a component.
    #[arg(long)]
    pub wasm: PathBuf,
    /// A directory of CouchDB index definitions (*.json) to include.
    #[arg(long)]
    pub indexes: Option<PathBuf>,
    /// Where to write the package.
    #[arg(long, short)]
    pub output: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct CcidArgs {
    /// The package file.
    pub package: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// A wasm module, a component, or a package (recognised by its gzip header).
    pub file: PathBuf,
}

/// Runs one offline verb, printing its result on stdout. A refusal is an error (exit code 1).
pub fn run(command: OfflineCommand) -> anyhow::Result<()> {
    match command {
        OfflineCommand::Package(args) => println!("{}", package(&args)?),
        OfflineCommand::Ccid(args) => println!("{}", ccid(&args.package)?),
        OfflineCommand::Check(args) => println!("{}", check(&args.file)?),
    }
    Ok(())
}

/// Writes the package of a module the host would accept; returns its CCID.
pub fn package(args: &PackageArgs) -> anyhow::Result<String> {
    let wasm = read(&args.wasm)?;
    package::check_label(&args.label)?;
    validate::validate(&wasm).with_context(|| format!("{} would be refused", args.wasm.display()))?;
    write_package(args, &wasm)
}

/// Writes the package of a module already checked; returns its CCID.
pub fn write_package(args: &PackageArgs, wasm: &[u8]) -> anyhow::Result<String> {
    package::check_label(&args.label)?;
    let indexes = match &args.indexes {
        Some(dir) => read_indexes(dir)?,
        None => Vec::new(),
    };
    let bytes = package::write_package(&args.label, wasm, &indexes)?;
    std::fs::write(&args.output, &bytes).with_context(|| format!("writing {}", args.output.display()))?;
    Ok(package::ccid(&args.label, &bytes))
}

/// The CCID of a package file, after reading it as the host would.
pub fn ccid(path: &Path) -> anyhow::Result<String> {
    let bytes = read(path)?;
    Ok(package::read_package(&bytes).with_context(|| format!("{} is refused", path.display()))?.ccid)
}

/// Checks a module or package; returns the acceptance line, or the reason for refusing it as the error.
pub fn check(path: &Path) -> anyhow::Result<String> {
    let bytes = read(path)?;
    let refused = || format!("refused: {}", path.display());
    let (package, wasm) = if bytes.starts_with(&[0x1f, 0x8b]) {
        let package = package::read_package(&bytes).with_context(refused)?;
        let wasm = package.wasm.clone();
        (Some(package), wasm)
    } else {
        (None, bytes)
    };
    let validated = validate::validate(&wasm).with_context(refused)?;
    // The engine decides what static checks cannot: whether the imports have the types the host provides.
    let engine = WasmEngine::new().context("starting the engine")?;
    engine.load(&validated.component).with_context(refused)?;
    Ok(describe(path, package.as_ref(), &validated))
}

fn describe(path: &Path, package: Option<&Package>, validated: &Validated) -> String {
    let s = &validated.summary;
    let mut line = format!("accepted: {}", path.display());
    if let Some(p) = package {
        line += &format!("\n  package: {} ({} CouchDB index(es))", p.ccid, p.indexes.len());
    }
    line += &format!(
        "\n  {}: {} bytes, sha256 {}, {} function(s), {} initial memory page(s)\n  imports: {}",
        s.kind,
        s.bytes,
        validated.module_hash,
        s.functions,
        s.memory_pages,
        if s.interfaces.is_empty() { "nothing".to_owned() } else { s.interfaces.join(", ") }
    );
    line
}

/// The `*.json` files of an index directory, by name. Anything else there is an error rather than silently left out.
fn read_indexes(dir: &Path) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let mut indexes = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name().into_string().map_err(|n| anyhow::anyhow!("{n:?} is not a UTF-8 file name"))?;
        anyhow::ensure!(
            entry.file_type()?.is_file() && name.ends_with(".json"),
            "{} is not a CouchDB index (*.json file)",
            entry.path().display()
        );
        indexes.push((name, read(&entry.path())?));
    }
    indexes.sort();
    Ok(indexes)
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}
