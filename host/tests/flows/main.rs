//! Whole flows of the `wasmcc` binary and the host library: one test binary, a module per topic.

mod audit;
mod author;
mod cli;
mod crash;
mod deploy;
mod dev;
mod recording;
mod shared_store;
mod tls;

use std::path::PathBuf;

/// The repository's root.
fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().expect("the repository root")
}

/// An example module built by scripts/build-guests.sh (`example("counter")`).
fn example(name: &str) -> PathBuf {
    let path = repo().join("target/wasm").join(format!("{name}.wasm"));
    assert!(path.exists(), "{}: build the examples first: bash scripts/build-guests.sh", path.display());
    path
}

/// A running `wasmcc` process, killed when dropped.
struct Served(std::process::Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
