//! Building chaincode crates to wasm with whatever toolchain the machine has.
//!
//! Two toolchains build `wasm32-unknown-unknown` without downloading anything:
//! - rustup's, when its `wasm32-unknown-unknown` standard library is installed: plain `cargo build --target`;
//! - Debian's `rustc-web`/`cargo-web` with `rust-web-src` and `lld-22`, which ship no prebuilt wasm standard
//!   library: it is built from source with `-Zbuild-std` (allowed on a stable compiler by `RUSTC_BOOTSTRAP`).
//!
//! `wasmcc build` and the repository's own `scripts/build-guests.sh` both build through [`build`], so an author's
//! crate is built exactly as the bundled examples are.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The target every chaincode is built for: no WASI, no JavaScript glue, only what the host links.
pub const TARGET: &str = "wasm32-unknown-unknown";

/// Debian's packages of the wasm-capable toolchain, for the message when none is found.
pub const DEBIAN_PACKAGES: [&str; 4] = ["rustc-web", "cargo-web", "rust-web-src", "lld-22"];

/// Where Debian's `rust-web-src` puts the standard library's source (`-Zbuild-std` compiles it).
const DEBIAN_STD_SOURCE: &str = "/usr/lib/rustlib/src/rust/library/std";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "no Rust toolchain here builds {TARGET}: install rustup's target (`rustup target add {TARGET}`) or Debian's \
         packages (`apt install {}`)",
        DEBIAN_PACKAGES.join(" ")
    )]
    NoToolchain,
    #[error("cannot run {program}: {source}")]
    Spawn { program: String, source: std::io::Error },
    #[error("cargo failed ({status}); its messages are above")]
    Cargo { status: std::process::ExitStatus },
    #[error("cargo metadata of {dir}: {reason}")]
    Metadata { dir: PathBuf, reason: String },
    #[error("{package} has no cdylib target: add `crate-type = [\"cdylib\", \"rlib\"]` under [lib] in its Cargo.toml")]
    NotACdylib { package: String },
    #[error("the build wrote no module at {0}")]
    Missing(PathBuf),
}

/// The toolchain that builds [`TARGET`] here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Toolchain {
    /// rustup's, with the target's standard library installed.
    Rustup,
    /// Debian's `rustc-web`, building the standard library from source.
    Debian,
}

impl Toolchain {
    /// rustup's when it has the target, else Debian's when its packages are installed.
    pub fn detect() -> Result<Toolchain, Error> {
        if rustup_has_target() {
            Ok(Toolchain::Rustup)
        } else if Path::new("/usr/bin/cargo").exists()
            && Path::new("/usr/bin/rustc").exists()
            && Path::new(DEBIAN_STD_SOURCE).exists()
        {
            Ok(Toolchain::Debian)
        } else {
            Err(Error::NoToolchain)
        }
    }

    /// A `cargo build` for [`TARGET`] with this toolchain, in `dir`.
    fn cargo_build(self, dir: &Path) -> Command {
        match self {
            Toolchain::Rustup => {
                let mut cargo = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
                cargo.current_dir(dir).args(["build", "--target", TARGET]);
                cargo
            }
            Toolchain::Debian => {
                let mut cargo = Command::new("/usr/bin/cargo");
                // /usr/bin first and RUSTC set: otherwise /usr/bin/cargo silently picks rustup's rustc from PATH.
                let path = std::env::var_os("PATH").unwrap_or_default();
                let mut paths = vec![PathBuf::from("/usr/bin")];
                paths.extend(std::env::split_paths(&path));
                cargo
                    .current_dir(dir)
                    .env("PATH", std::env::join_paths(paths).unwrap_or(path))
                    .env("RUSTC", "/usr/bin/rustc")
                    .env("RUSTC_BOOTSTRAP", "1")
                    // A rustup shim's settings would point the Debian cargo at rustup's compiler again.
                    .env_remove("CARGO")
                    .env_remove("RUSTUP_TOOLCHAIN")
                    .args(["build", "--target", TARGET, "-Zbuild-std=std,panic_abort"]);
                cargo
            }
        }
    }

    /// What to say about it in a build's log.
    pub fn describe(self) -> &'static str {
        match self {
            Toolchain::Rustup => "rustup's wasm32-unknown-unknown standard library",
            Toolchain::Debian => "Debian's rustc-web, building the standard library from source (-Zbuild-std)",
        }
    }
}

/// rustup's compiler has the target's `std` (`--print target-libdir` prints a path even when it does not).
fn rustup_has_target() -> bool {
    let Ok(out) = Command::new("rustc").args(["--print", "target-libdir", "--target", TARGET]).output() else {
        return false;
    };
    let libdir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    out.status.success()
        && std::fs::read_dir(&libdir).is_ok_and(|entries| {
            entries.flatten().any(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                name.starts_with("libstd-") && name.ends_with(".rlib")
            })
        })
}

/// What to build.
#[derive(Clone, Debug)]
pub struct Build {
    /// The crate's (or workspace's) directory.
    pub dir: PathBuf,
    /// Packages to build; empty means the crate in `dir`.
    pub packages: Vec<String>,
    /// The cargo profile: `release` unless the workspace has its own (the examples' `guest`).
    pub profile: String,
    /// Where cargo builds; default: the workspace's own target directory.
    pub target_dir: Option<PathBuf>,
}

/// One module built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Module {
    /// The package's name, as in its Cargo.toml.
    pub package: String,
    pub wasm: PathBuf,
}

/// Builds the packages with `toolchain`; cargo's own output goes to this process's stderr.
pub fn build(toolchain: Toolchain, build: &Build) -> Result<Vec<Module>, Error> {
    let metadata = Metadata::read(&build.dir)?;
    let wanted: Vec<&MetaPackage> = if build.packages.is_empty() {
        vec![metadata.root_package(&build.dir)?]
    } else {
        build.packages.iter().map(|p| metadata.package(p, &build.dir)).collect::<Result<_, _>>()?
    };
    // A crate that cannot become a module is refused before anything is compiled.
    let libs: Vec<&str> = wanted
        .iter()
        .map(|p| p.cdylib().ok_or_else(|| Error::NotACdylib { package: p.name.clone() }))
        .collect::<Result<_, _>>()?;
    let mut cargo = toolchain.cargo_build(&build.dir);
    cargo.args(["--lib", "--profile", &build.profile]);
    for p in &wanted {
        cargo.args(["-p", &p.name]);
    }
    let target_dir = build.target_dir.clone().unwrap_or_else(|| metadata.target_directory.clone());
    cargo.arg("--target-dir").arg(&target_dir);
    let status = cargo.status().map_err(|source| Error::Spawn { program: "cargo".into(), source })?;
    if !status.success() {
        return Err(Error::Cargo { status });
    }
    // Cargo's directory for a profile: `dev` builds into `debug`, every other profile into its own name.
    let profile_dir = if build.profile == "dev" { "debug" } else { &build.profile };
    let out = target_dir.join(TARGET).join(profile_dir);
    wanted
        .iter()
        .zip(libs)
        .map(|(p, lib)| {
            let wasm = out.join(format!("{}.wasm", lib.replace('-', "_")));
            if wasm.exists() {
                Ok(Module { package: p.name.clone(), wasm })
            } else {
                Err(Error::Missing(wasm))
            }
        })
        .collect()
}

/// What `cargo metadata --no-deps` says of a workspace.
#[derive(serde::Deserialize)]
struct Metadata {
    packages: Vec<MetaPackage>,
    target_directory: PathBuf,
}

#[derive(serde::Deserialize)]
struct MetaPackage {
    name: String,
    manifest_path: PathBuf,
    targets: Vec<MetaTarget>,
}

#[derive(serde::Deserialize)]
struct MetaTarget {
    name: String,
    crate_types: Vec<String>,
}

impl MetaPackage {
    fn cdylib(&self) -> Option<&str> {
        self.targets.iter().find(|t| t.crate_types.iter().any(|c| c == "cdylib")).map(|t| t.name.as_str())
    }
}

impl Metadata {
    fn read(dir: &Path) -> Result<Metadata, Error> {
        let fail = |reason: String| Error::Metadata { dir: dir.to_owned(), reason };
        let out = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .current_dir(dir)
            .args(["metadata", "--no-deps", "--format-version", "1"])
            .output()
            .map_err(|source| Error::Spawn { program: "cargo".into(), source })?;
        if !out.status.success() {
            return Err(fail(String::from_utf8_lossy(&out.stderr).trim().to_owned()));
        }
        serde_json::from_slice(&out.stdout).map_err(|e| fail(e.to_string()))
    }

    /// The package whose manifest is in `dir`.
    fn root_package(&self, dir: &Path) -> Result<&MetaPackage, Error> {
        let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_owned());
        self.packages.iter().find(|p| p.manifest_path.parent() == Some(dir.as_path())).ok_or_else(|| Error::Metadata {
            dir: dir.clone(),
            reason: "no package here (a workspace root? name the packages to build)".into(),
        })
    }

    fn package(&self, name: &str, dir: &Path) -> Result<&MetaPackage, Error> {
        self.packages.iter().find(|p| p.name == name).ok_or_else(|| Error::Metadata {
            dir: dir.to_owned(),
            reason: format!("no package {name} in the workspace"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_toolchain_says_what_to_install() {
        let text = Error::NoToolchain.to_string();
        assert!(text.contains("rustup target add wasm32-unknown-unknown"), "{text}");
        assert!(text.contains("apt install rustc-web cargo-web rust-web-src lld-22"), "{text}");
    }
}
