//! A chaincode author starting from nothing, as the README tells them to: `wasmcc new` in an empty directory outside
//! the workspace, `cargo test` there, `wasmcc build`, `wasmcc install` on a running host, and a transaction through
//! the peer simulator.

use crate::{repo, Served};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use wasmcc_peer::PeerSim;

/// Builds of the author's crate share a directory under the workspace's target, kept between runs.
fn target_dir() -> PathBuf {
    repo().join("target/author-flow")
}

fn wasmcc(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wasmcc"))
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target_dir())
        .args(args)
        .output()
        .expect("running wasmcc")
}

#[track_caller]
fn succeeds(out: Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{what} failed:\n{stdout}{}", String::from_utf8_lossy(&out.stderr));
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_test_build_install_and_call() {
    let home = tempfile::tempdir().unwrap();
    let sdk = repo().join("guest-sdk");
    let created = wasmcc(home.path(), &["new", "token", "--sdk-path", sdk.to_str().unwrap()]);
    succeeds(created, "wasmcc new");
    let crate_dir = home.path().join("token");
    for file in ["Cargo.toml", "src/lib.rs", "README.md", ".gitignore"] {
        assert!(crate_dir.join(file).is_file(), "wasmcc new wrote no {file}");
    }
    // The workspace's lock file pins the versions the workspace fetched, so the build needs no network.
    std::fs::copy(repo().join("Cargo.lock"), crate_dir.join("Cargo.lock")).unwrap();

    let test = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(&crate_dir)
        .env("CARGO_TARGET_DIR", target_dir())
        .args(["test", "--offline"])
        .output()
        .expect("running cargo test");
    let tested = succeeds(test, "cargo test in the new crate");
    assert!(tested.contains("test result: ok. 2 passed"), "{tested}");

    let built = succeeds(wasmcc(&crate_dir, &["build"]), "wasmcc build");
    let ccid = built.lines().last().unwrap().to_owned();
    assert!(ccid.starts_with("token:") && ccid.len() == "token:".len() + 64, "{built}");
    let package = built.lines().find_map(|l| l.strip_prefix("package: ")).expect("the package's path");
    assert!(built.starts_with("accepted: "), "{built}");

    // A host, and the package installed on it the way an operator does.
    let admin_port = wasmcc_testkit::ports::free_port();
    let config = home.path().join("host.toml");
    let (port_min, port_max) = wasmcc_testkit::ports::free_ports(10);
    let toml = format!(
        "data_dir = \"data\"\n[admin]\nlisten = \"127.0.0.1:{admin_port}\"\n\
         [chaincodes]\nport_min = {port_min}\nport_max = {port_max}\n"
    );
    std::fs::write(&config, toml).unwrap();
    let config = config.to_str().unwrap();
    let _host = Served(
        Command::new(env!("CARGO_BIN_EXE_wasmcc"))
            .current_dir(home.path())
            .args(["serve", "--config", config])
            .spawn()
            .unwrap(),
    );
    let mut installed = None;
    for _ in 0..300 {
        let out = wasmcc(home.path(), &["install", package, "--config", config]);
        if out.status.success() {
            installed = Some(String::from_utf8_lossy(&out.stdout).into_owned());
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let installed = installed.expect("the host came up and took the package");
    assert!(installed.starts_with(&format!("installed {ccid}")), "{installed}");
    let addr = installed.lines().find_map(|l| l.strip_prefix("peers dial ")).expect("the address peers dial");

    let peer = PeerSim::new();
    let conn = peer.connect(addr, &ccid).await.expect("the simulated peer connects");
    let args = |a: &[&str]| a.iter().map(|s| s.as_bytes().to_vec()).collect::<Vec<_>>();
    let created = conn.invoke("mychannel", args(&["Create", "r1", "ada", "10"])).await.unwrap();
    assert_eq!(created.response().map(|r| r.status), Some(200), "{:?}", created.outcome);
    assert_eq!(created.payload(), br#"{"id":"r1","owner":"ada","value":10}"#);
    let refused = conn.invoke("mychannel", args(&["Create", "r2", "bo", "ten"])).await.unwrap();
    let message = refused.response().map(|r| r.message.clone());
    assert_eq!(message.as_deref(), Some(r#"Unable to validate parameter due to ["should be integer"]"#));
}

#[test]
fn new_refuses_a_bad_name_or_a_busy_directory() {
    let home = tempfile::tempdir().unwrap();
    let out = wasmcc(home.path(), &["new", "9lives"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot name a chaincode"));
    std::fs::create_dir(home.path().join("busy")).unwrap();
    std::fs::write(home.path().join("busy/notes.txt"), "mine").unwrap();
    let out = wasmcc(home.path(), &["new", "busy"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists and is not empty"));
    assert_eq!(std::fs::read_to_string(home.path().join("busy/notes.txt")).unwrap(), "mine", "nothing overwritten");
}

#[test]
fn build_refuses_a_crate_that_cannot_become_a_module_before_compiling() {
    let home = tempfile::tempdir().unwrap();
    let manifest = "[package]\nname = \"plain-lib\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n";
    std::fs::write(home.path().join("Cargo.toml"), manifest).unwrap();
    std::fs::create_dir(home.path().join("src")).unwrap();
    std::fs::write(home.path().join("src/lib.rs"), "pub fn f() {}\n").unwrap();
    let out = wasmcc(home.path(), &["build"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("plain-lib has no cdylib target") && stderr.contains("crate-type"), "{stderr}");
    assert!(!stderr.contains("Compiling"), "nothing is compiled: {stderr}");
}

#[test]
fn new_without_sdk_path_asks_for_the_sdk_by_version() {
    let home = tempfile::tempdir().unwrap();
    succeeds(wasmcc(home.path(), &["new", "plain"]), "wasmcc new");
    let manifest = std::fs::read_to_string(home.path().join("plain/Cargo.toml")).unwrap();
    let version = env!("CARGO_PKG_VERSION").rsplit_once('.').unwrap().0;
    assert!(manifest.contains(&format!("wasmcc-sdk = \"{version}\"")), "{manifest}");
}
