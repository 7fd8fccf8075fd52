//! `wasmcc replay`: runs recorded transactions again, offline, and says whether each one did exactly what it did on
//! the host. Against another module (`--wasm`, `--package`) it is the shadow check of an upgrade: which recorded
//! transactions the new version would answer differently. Binary-only code, hence `anyhow`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use wasmcc_host::abi::{ChaincodePre, TxState};
use wasmcc_host::engine::WasmEngine;
use wasmcc_host::recording::replay::{replay, Comparison};
use wasmcc_host::recording::{Recording, EXTENSION};

#[derive(clap::Args, Debug)]
pub struct ReplayArgs {
    /// Recordings: files, or directories searched for *.wasmcc-tx (a host's <data_dir>/recordings, or one
    /// chaincode's directory in it).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Replay against this module (core module or component) instead of the recorded one.
    #[arg(long, conflicts_with = "package")]
    pub wasm: Option<PathBuf>,
    /// Replay against this package's module: before approving a new version, which recorded transactions change.
    #[arg(long)]
    pub package: Option<PathBuf>,
    /// Where the recorded modules are (by hash, in modules/) when neither --wasm nor --package is given.
    #[arg(long, env = "WASMCC_DATA_DIR", default_value = ".wasmcc")]
    pub data_dir: PathBuf,
    /// Compile with debug info and no optimisation, for stepping through the chaincode in gdb or lldb. The module is
    /// compiled as built: a debug build is larger than a host accepts, and the host's rewrite of memory.fill and
    /// memory.copy would move its code away from its debug info (fuel then differs by a few units per 64 KiB).
    #[arg(long)]
    pub debug: bool,
}

/// Replays every recording; fails (exit 1) when any could not be replayed or did not do what was recorded.
pub async fn run(args: ReplayArgs) -> anyhow::Result<()> {
    let files = recordings(&args.paths)?;
    anyhow::ensure!(!files.is_empty(), "no recordings (*.{EXTENSION}) in {:?}", args.paths);
    let engine = if args.debug { WasmEngine::for_debugging()? } else { WasmEngine::new()? };
    let given = match (&args.wasm, &args.package) {
        (Some(path), _) => Some(load(&engine, &read(path)?, path, args.debug)?),
        (None, Some(path)) => {
            let package = wasmcc_host::package::read_package(&read(path)?)
                .with_context(|| format!("reading the package {}", path.display()))?;
            Some(load(&engine, &package.wasm, path, args.debug)?)
        }
        (None, None) => None,
    };
    let mut recorded_modules: HashMap<String, ChaincodePre<TxState>> = HashMap::new();
    let (mut same, mut fuel_only, mut changed, mut unusable) = (0, 0, 0, 0);
    for file in &files {
        let outcome = async {
            let recording = Recording::read(file)?;
            let pre = match &given {
                Some(pre) => pre.clone(),
                None => recorded_module(&engine, &args, &recording.module_hash, &mut recorded_modules)?,
            };
            let comparison = replay(&engine, pre, &recording).await?;
            anyhow::Ok((recording, comparison))
        }
        .await;
        match outcome {
            Ok((recording, comparison)) => {
                let what = format!("{} ({} txid {})", file.display(), recording.ccid, recording.txid);
                print_comparison(&what, &comparison);
                match (comparison.identical(), comparison.result_changed()) {
                    (true, _) => same += 1,
                    (false, false) => fuel_only += 1,
                    (false, true) => changed += 1,
                }
            }
            Err(e) => {
                unusable += 1;
                println!("unusable {}: {e:#}", file.display());
            }
        }
    }
    println!(
        "{} recording(s): {same} identical, {fuel_only} same result with other fuel, {changed} changed, {unusable} \
         unusable",
        files.len()
    );
    anyhow::ensure!(fuel_only + changed + unusable == 0, "not every recording replayed identically");
    Ok(())
}

fn print_comparison(what: &str, comparison: &Comparison) {
    if comparison.identical() {
        println!("identical {what}");
        return;
    }
    let verdict = if comparison.result_changed() { "changed" } else { "fuel differs" };
    println!("{verdict} {what}");
    for line in comparison.lines() {
        println!("    {line}");
    }
}

/// The files to replay: each file given, and every recording under each directory given, in name order (oldest
/// first within a chaincode).
fn recordings(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            collect(path, &mut files).with_context(|| format!("reading {}", path.display()))?;
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(&path, files)?;
        } else if path.extension().and_then(|e| e.to_str()) == Some(EXTENSION) {
            files.push(path);
        }
    }
    Ok(())
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

/// Checks and compiles a module as the host does at install (the same rewrite, the same engine configuration), or for
/// a debugger, as built.
fn load(engine: &WasmEngine, wasm: &[u8], from: &Path, debug: bool) -> anyhow::Result<ChaincodePre<TxState>> {
    let component = if debug {
        wasm.to_vec()
    } else {
        wasmcc_host::validate::validate(wasm).with_context(|| format!("the module of {}", from.display()))?.component
    };
    engine.load(&component).with_context(|| format!("compiling {}", from.display()))
}

/// The module a recording names, from the data directory's modules (read only: the host may be running).
fn recorded_module(
    engine: &WasmEngine,
    args: &ReplayArgs,
    hash: &str,
    loaded: &mut HashMap<String, ChaincodePre<TxState>>,
) -> anyhow::Result<ChaincodePre<TxState>> {
    let data_dir = &args.data_dir;
    if let Some(pre) = loaded.get(hash) {
        return Ok(pre.clone());
    }
    let path = wasmcc_host::store::module_file(data_dir, hash);
    let wasm = std::fs::read(&path).with_context(|| {
        format!("the recorded module {hash} is not in {} (give --data-dir, --wasm or --package)", data_dir.display())
    })?;
    let pre = load(engine, &wasm, &path, args.debug)?;
    loaded.insert(hash.to_owned(), pre.clone());
    Ok(pre)
}
