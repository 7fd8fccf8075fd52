//! `wasmcc-toolchain`: builds chaincode crates to wasm modules with the toolchain the machine has, and copies the
//! modules into one directory. The repository's scripts/build-guests.sh builds the examples with it; authors use
//! `wasmcc build`, which builds the same way and then checks and packages the module.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use wasmcc_toolchain::{build, Build, Toolchain};

#[derive(Parser)]
#[command(name = "wasmcc-toolchain", about = "Builds chaincode crates to wasm32-unknown-unknown modules")]
struct Args {
    /// The crate's or workspace's directory.
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// A package to build (repeatable); default: the crate in DIR.
    #[arg(short, long = "package")]
    packages: Vec<String>,
    /// The cargo profile.
    #[arg(long, default_value = "release")]
    profile: String,
    /// Cargo's target directory.
    #[arg(long)]
    target_dir: Option<PathBuf>,
    /// Copy each module here as <crate_name>.wasm.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print the Debian packages that provide a toolchain (one per line) and build nothing: what a setup script
    /// installs after exit code 3.
    #[arg(long)]
    print_debian_packages: bool,
}

/// The exit code when no toolchain is found, so a setup script can install one and try again.
const NO_TOOLCHAIN: u8 = 3;

fn main() -> ExitCode {
    let args = Args::parse();
    if args.print_debian_packages {
        wasmcc_toolchain::DEBIAN_PACKAGES.iter().for_each(|p| println!("{p}"));
        return ExitCode::SUCCESS;
    }
    let toolchain = match Toolchain::detect() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("wasmcc-toolchain: {e}");
            return ExitCode::from(NO_TOOLCHAIN);
        }
    };
    match run(toolchain, args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wasmcc-toolchain: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(toolchain: Toolchain, args: Args) -> Result<(), Box<dyn std::error::Error>> {
    eprintln!("toolchain: {}", toolchain.describe());
    let request = Build { dir: args.dir, packages: args.packages, profile: args.profile, target_dir: args.target_dir };
    for module in build(toolchain, &request)? {
        let path = match &args.out {
            Some(out) => {
                std::fs::create_dir_all(out)?;
                let to = out.join(module.wasm.file_name().ok_or("a module without a file name")?);
                std::fs::copy(&module.wasm, &to)?;
                to
            }
            None => module.wasm,
        };
        println!("{}", path.display());
    }
    Ok(())
}
