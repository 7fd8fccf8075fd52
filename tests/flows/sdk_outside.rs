//! The SDK leaves this repository: a chaincode crate of its own, outside the workspace, depends on `wasmcc-sdk` by
//! path and its unit tests pass on the mock ledger; and the SDK packages with its WIT inside.

use std::path::{Path, PathBuf};
use std::process::Command;

const CHAINCODE: &str = r#"
use wasmcc_sdk::{Chaincode, Response, Stub};

pub struct Greeter;

wasmcc_sdk::chaincode!(Greeter);

impl Chaincode for Greeter {
    fn invoke(stub: &mut Stub) -> Response {
        let (function, params) = stub.function_and_parameters();
        match (function.as_str(), params.as_slice()) {
            ("greet", [name]) => {
                let greeting = format!("hello, {name}");
                match stub.put_state(name, greeting.as_bytes()) {
                    Ok(()) => Response::success(greeting.into_bytes()),
                    Err(e) => Response::error(e.to_string()),
                }
            }
            _ => Response::error(format!("unknown call {function}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmcc_sdk::mock::MockLedger;

    #[test]
    fn greets_and_remembers() {
        let mut ledger = MockLedger::new();
        assert_eq!(ledger.invoke::<Greeter>(&["greet", "ada"]).payload, b"hello, ada");
        assert_eq!(ledger.state("ada"), Some(&b"hello, ada"[..]));
        assert_eq!(ledger.invoke::<Greeter>(&["wave"]).status, 500);
    }
}
"#;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().expect("the repository root")
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn run(mut cmd: Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: cannot run cargo: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{what} failed:\n{text}");
    text
}

#[test]
fn a_crate_outside_the_workspace_builds_and_tests_against_the_sdk() {
    let dir = tempfile::tempdir().unwrap();
    let sdk = repo().join("guest-sdk");
    std::fs::write(
        dir.path().join("Cargo.toml"),
        format!(
            "[package]\nname = \"greeter\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[lib]\n\
             crate-type = [\"cdylib\", \"rlib\"]\n\n[dependencies]\nwasmcc-sdk = {{ path = {:?} }}\n\n[workspace]\n",
            sdk.display().to_string()
        ),
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("src")).unwrap();
    std::fs::write(dir.path().join("src/lib.rs"), CHAINCODE).unwrap();
    // The workspace's lock file pins the same versions, so the build needs nothing the workspace did not fetch.
    std::fs::copy(repo().join("Cargo.lock"), dir.path().join("Cargo.lock")).unwrap();
    let mut test = cargo();
    test.current_dir(dir.path())
        .args(["test", "--offline"])
        // A directory of its own under the workspace's target: kept between runs, apart from the workspace's builds.
        .env("CARGO_TARGET_DIR", repo().join("target/outside-sdk"));
    let out = run(test, "cargo test in a crate outside the workspace");
    assert!(out.contains("test tests::greets_and_remembers ... ok"), "{out}");
}

#[test]
fn the_sdk_packages_with_its_wit_inside() {
    let mut list = cargo();
    list.current_dir(repo()).args(["package", "--offline", "--allow-dirty", "--list", "-p", "wasmcc-sdk"]);
    let files = run(list, "cargo package --list -p wasmcc-sdk");
    assert!(files.lines().any(|f| f.trim() == "wit/chaincode.wit"), "the WIT is not in the package:\n{files}");
    let manifest = std::fs::read_to_string(repo().join("guest-sdk/src/lib.rs")).unwrap();
    assert!(!manifest.contains("\"../"), "the SDK reads a file outside its own directory");
    assert!(Path::new(&repo().join("guest-sdk/wit/chaincode.wit")).is_file());
}
