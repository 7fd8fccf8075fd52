//! `wasmcc build [DIR]`: the crate's wasm module with the machine's toolchain (the `wasmcc-toolchain` crate, which
//! also builds the repository's examples), then what `wasmcc check` and `wasmcc package` do.

use std::path::PathBuf;

use anyhow::Context;
use wasmcc_toolchain::{Build, Toolchain};

use crate::offline;

#[derive(clap::Args, Debug)]
pub struct BuildArgs {
    /// The chaincode crate's directory.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// The package label (the CCID's first part) [default: the crate's package name].
    #[arg(long)]
    pub label: Option<String>,
    /// Where to write the package [default: TARGET_DIR/wasmcc/LABEL.tar.gz].
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// The cargo profile to build with.
    #[arg(long, default_value = "release")]
    pub profile: String,
    /// Build the `dev` profile, with debug info, for `wasmcc replay --debug` under gdb or lldb: no check and no
    /// package (such a module is larger and slower than a host should take); prints the module's path.
    #[arg(long, conflicts_with_all = ["profile", "label", "output"])]
    pub debug: bool,
}

/// A built, checked package.
pub struct Built {
    /// What `wasmcc check` says of the module.
    pub checked: String,
    pub package: PathBuf,
    pub ccid: String,
}

pub fn run(args: &BuildArgs) -> anyhow::Result<()> {
    if args.debug {
        let toolchain = Toolchain::detect()?;
        eprintln!("building {} (dev profile, debug info) with {}", args.dir.display(), toolchain.describe());
        let request = Build { dir: args.dir.clone(), packages: Vec::new(), profile: "dev".into(), target_dir: None };
        let module = wasmcc_toolchain::build(toolchain, &request)?.pop().context("the build produced no module")?;
        println!("debug module (for wasmcc replay --debug, not for a host): {}", module.wasm.display());
        return Ok(());
    }
    let built = build(args)?;
    println!("{}", built.checked);
    println!("package: {}", built.package.display());
    println!("{}", built.ccid);
    Ok(())
}

/// Builds, checks and packages the crate (what `wasmcc build` and `wasmcc dev --watch` do).
pub fn build(args: &BuildArgs) -> anyhow::Result<Built> {
    let toolchain = Toolchain::detect()?;
    eprintln!("building {} with {}", args.dir.display(), toolchain.describe());
    let request =
        Build { dir: args.dir.clone(), packages: Vec::new(), profile: args.profile.clone(), target_dir: None };
    let module = wasmcc_toolchain::build(toolchain, &request)?.pop().context("the build produced no module")?;
    let checked = offline::check(&module.wasm)?;
    let label = args.label.clone().unwrap_or_else(|| module.package.clone());
    let output = match &args.output {
        Some(path) => path.clone(),
        None => {
            // Beside the module's profile directory: <target>/wasm32-unknown-unknown/<profile>/x.wasm → <target>/wasmcc.
            let target = module.wasm.ancestors().nth(3).context("the module is not under a target directory")?;
            target.join("wasmcc").join(format!("{label}.tar.gz"))
        }
    };
    if let Some(dir) = output.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    // Fabric's place for CouchDB indexes in a chaincode's source, as the Go and Node tooling packages them.
    let indexes = Some(args.dir.join("META-INF/statedb/couchdb/indexes")).filter(|d| d.is_dir());
    let package = offline::PackageArgs { label, wasm: module.wasm.clone(), indexes, output: output.clone() };
    // `check` validated the module already: package it as it is.
    let wasm = std::fs::read(&module.wasm).with_context(|| format!("reading {}", module.wasm.display()))?;
    let ccid = offline::write_package(&package, &wasm)?;
    Ok(Built { checked, package: output, ccid })
}
