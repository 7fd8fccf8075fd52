//! `wasmcc dev` as a developer uses it: started with the examples, called by Fabric's own client API (the
//! fabric-gateway application in examples/application) and by `wasmcc invoke`/`query`, killed with `kill -9` and
//! started again on the same ledger; and `--watch`, which rebuilds a crate in place.

use crate::{example, repo};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::Value;

fn wasm(name: &str) -> String {
    example(name).display().to_string()
}

/// A running `wasmcc dev`, its output read line by line; killed (`kill -9`) when dropped.
struct Dev {
    child: Child,
    lines: Receiver<String>,
    /// Everything printed so far.
    seen: Vec<String>,
    gateway: String,
}

impl Dev {
    /// Starts it in `home` with its Gateway on `port` and its admin API on the next port, and waits for its banner.
    fn start(home: &Path, port: u16, args: &[&str]) -> Dev {
        let gateway = format!("127.0.0.1:{port}");
        let admin = (port + 1).to_string();
        let mut child = Command::new(env!("CARGO_BIN_EXE_wasmcc"))
            .current_dir(home)
            .env("CARGO_TARGET_DIR", repo().join("target/author-flow"))
            .args(["dev", "--data-dir", "data", "--gateway", &gateway, "--admin-port", &admin])
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("starting wasmcc dev");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let mut dev = Dev { child, lines, seen: Vec::new(), gateway };
        dev.wait_for("Or from the command line", Duration::from_secs(600));
        dev
    }

    /// Reads output until a line contains `text`; returns that line.
    fn wait_for(&mut self, text: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!("no {text:?} within {within:?}; printed:\n{}", self.seen.join("\n"))
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("wasmcc dev ended before printing {text:?}; printed:\n{}", self.seen.join("\n"))
                }
            }
        }
    }

    /// The value of a banner line (`  client cert  /path`).
    fn banner(&self, name: &str) -> String {
        let line = self.seen.iter().find(|l| l.trim_start().starts_with(name)).unwrap_or_else(|| panic!("no {name}"));
        line.trim_start()[name.len()..].trim().to_owned()
    }

    /// Runs `wasmcc invoke`/`query` against it.
    fn call(&self, home: &Path, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_wasmcc"))
            .current_dir(home)
            .env("WASMCC_GATEWAY", &self.gateway)
            .env("WASMCC_DEV_DIR", "data")
            .args(args)
            .output()
            .expect("running wasmcc")
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[track_caller]
fn stdout_of(out: Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "failed:\n{stdout}{}", String::from_utf8_lossy(&out.stderr));
    stdout
}

#[track_caller]
fn stderr_of_failure(out: Output) -> String {
    assert!(!out.status.success(), "succeeded:\n{}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs examples/application/app.js --json against `dev`: one JSON value per step, by step name.
fn run_application(dev: &Dev) -> serde_json::Map<String, Value> {
    let app = repo().join("examples/application");
    assert!(
        app.join("node_modules/@hyperledger/fabric-gateway").exists(),
        "@hyperledger/fabric-gateway is missing in examples/application: run bash scripts/setup-node.sh"
    );
    let out = Command::new("node")
        .arg(app.join("app.js"))
        .arg("--json")
        .env("GATEWAY_ADDRESS", &dev.gateway)
        .env("CERT_PATH", dev.banner("client cert"))
        .env("KEY_PATH", dev.banner("client key"))
        .output()
        .expect("running node");
    let stdout = stdout_of(out);
    let mut steps = serde_json::Map::new();
    for line in stdout.lines() {
        let value: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        steps.insert(value["step"].as_str().unwrap().to_owned(), value);
    }
    steps
}

const COLLECTIONS: &str = "examples/private-asset/collections_config.json";

#[test]
fn a_fabric_gateway_application_and_the_cli_run_against_it_and_its_ledger_survives_kill_9() {
    let home = tempfile::tempdir().unwrap();
    let collections = format!("private-asset={}", repo().join(COLLECTIONS).display());
    // One of them as a package file, made as an author would (`wasmcc package`).
    let loyalty = home.path().join("loyalty.tar.gz");
    let packaged = Command::new(env!("CARGO_BIN_EXE_wasmcc"))
        .args(["package", "--label", "loyalty", "--wasm", &wasm("loyalty"), "-o"])
        .arg(&loyalty)
        .output()
        .unwrap();
    stdout_of(packaged);
    let chaincodes = [
        format!("asset-transfer={}", wasm("asset_transfer")),
        loyalty.display().to_string(),
        format!("private-asset={}", wasm("private_asset")),
        format!("counter={}", wasm("counter")),
    ];
    let mut args: Vec<&str> = chaincodes.iter().flat_map(|c| ["--chaincode", c.as_str()]).collect();
    args.extend(["--collections", &collections, "--init-required", "counter"]);
    let dev = Dev::start(home.path(), 28350, &args);
    assert!(dev.seen.iter().any(|l| l.contains("chaincode counter committed on mychannel (init required)")));
    let key = dev.banner("client key");
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&key).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "the client key is its owner's only");

    // Fabric's client API, step by step as fabric-samples' application does it.
    let steps = run_application(&dev);
    assert_eq!(steps["all"]["count"], 6, "InitLedger's six assets: {}", steps["all"]);
    let id = steps["create"]["id"].as_str().unwrap().to_owned();
    assert_eq!(steps["read"]["asset"]["ID"], id.as_str());
    assert_eq!(
        (steps["transfer"]["oldOwner"].as_str(), steps["transfer"]["owner"].as_str()),
        (Some("Tom"), Some("Saptha"))
    );
    let error = &steps["error"];
    assert_eq!((error["name"].as_str(), error["code"].as_u64()), (Some("EndorseError"), Some(10)), "{error}");
    assert_eq!(error["details"][0]["mspId"], "Org1MSP");
    assert_eq!(error["details"][0]["address"], dev.gateway.as_str());
    assert_eq!(error["details"][0]["message"], "chaincode response 500, the asset asset70 does not exist");
    let events = &steps["events"];
    assert_eq!(events["received"], serde_json::json!(["points", "points"]), "{events}");
    assert_eq!(events["resumed"], serde_json::json!(["points"]), "only what follows the checkpoint: {events}");
    assert_eq!(events["resumedTransactions"][0], events["transactions"][1]);
    assert_eq!(steps["conflict"]["codes"], serde_json::json!([0, 11]), "VALID and MVCC_READ_CONFLICT");
    assert_eq!(steps["private"]["private"]["assetID"], id.as_str());
    assert_eq!(steps["private"]["private"]["appraisedValue"], 100);

    // The command line: a query, a private-data invoke with its writes, identities with attributes and another org.
    let home = home.path();
    let read = stdout_of(dev.call(home, &["query", "asset-transfer", "ReadAsset", &id]));
    assert!(read.contains(&format!("\"ID\":\"{id}\"")), "{read}");
    let properties =
        r#"asset_properties={"objectType":"asset","assetID":"cli1","color":"red","size":2,"appraisedValue":7}"#;
    let created = stdout_of(dev.call(home, &["invoke", "private-asset", "CreateAsset", "--transient", properties]));
    assert!(created.contains("write: private-asset assetCollection: 1 private write(s), hashes only"), "{created}");
    assert!(created.lines().last().unwrap().starts_with("VALID in block "), "{created}");
    let private = stdout_of(
        dev.call(home, &["query", "private-asset", "ReadAssetPrivateDetails", "Org1MSPPrivateCollection", "cli1"]),
    );
    assert_eq!(private.trim(), r#"{"assetID":"cli1","appraisedValue":7}"#);
    let reward = r#"{"id":"mug","title":"Mug","cost":5,"stock":2}"#;
    let member = r#"{"id":"cli","name":"Cli","tier":"Gold","points":1}"#;
    let enrolled = stdout_of(dev.call(home, &["invoke", "loyalty", "Enroll", member]));
    assert!(enrolled.lines().any(|l| l == "event: points "), "invoke prints the chaincode event: {enrolled}");
    let refused = stderr_of_failure(dev.call(home, &["invoke", "loyalty", "Rewards:AddReward", reward]));
    assert!(refused.contains("only an auditor adds rewards"), "{refused}");
    let added = stdout_of(
        dev.call(home, &["invoke", "--cn", "audrey", "--attr", "role=auditor", "loyalty", "Rewards:AddReward", reward]),
    );
    assert!(added.contains(r#"write: loyalty reward:mug = {"id":"mug","title":"Mug","cost":5,"stock":2}"#), "{added}");
    let stranger =
        stderr_of_failure(dev.call(home, &["query", "--mspid", "Org2MSP", "asset-transfer", "ReadAsset", &id]));
    assert!(stranger.contains("access denied: the creator's organisation is \"Org2MSP\""), "{stranger}");
    // An Init-required definition: nothing before Init, Init once.
    let early = stderr_of_failure(dev.call(home, &["invoke", "counter", "inc", "c1"]));
    assert!(early.contains("has not been initialized"), "{early}");
    stdout_of(dev.call(home, &["invoke", "--init", "counter", "init"]));
    let again = stderr_of_failure(dev.call(home, &["invoke", "--init", "counter", "init"]));
    assert!(again.contains("already initialized"), "{again}");
    stdout_of(dev.call(home, &["invoke", "counter", "inc", "c1"]));

    // Every acknowledged transaction survives kill -9: the same ledger, with no --chaincode given this time.
    let height = stdout_of(dev.call(home, &["query", "asset-transfer", "GetAllAssets"]));
    drop(dev);
    let dev = Dev::start(home, 28350, &["--collections", &collections, "--init-required", "counter"]);
    assert_eq!(stdout_of(dev.call(home, &["query", "asset-transfer", "GetAllAssets"])), height);
    let private = stdout_of(
        dev.call(home, &["query", "private-asset", "ReadAssetPrivateDetails", "Org1MSPPrivateCollection", "cli1"]),
    );
    assert!(private.contains("\"appraisedValue\":7"), "{private}");
    stdout_of(dev.call(home, &["invoke", "counter", "inc", "c1"]));

    // `wasmcc install` and `wasmcc remove` on the running process commit and take off a chaincode at once.
    let mut dev = dev;
    let admin = ["--admin", "http://127.0.0.1:28351", "--data-dir", "data"];
    let counter = wasm("counter");
    let installed =
        stdout_of(dev.call(home, &[&["install", "--wasm", &counter, "--label", "tally"][..], &admin].concat()));
    let ccid = installed.lines().next().unwrap().strip_prefix("installed ").unwrap().to_owned();
    dev.wait_for(&format!("chaincode tally committed on mychannel: {ccid}"), Duration::from_secs(30));
    let counted = stdout_of(dev.call(home, &["invoke", "tally", "inc", "t"]));
    assert!(counted.starts_with("response: 200 1"), "{counted}");
    stdout_of(dev.call(home, &[&["remove", &ccid][..], &admin].concat()));
    dev.wait_for("chaincode tally removed from mychannel", Duration::from_secs(30));
    let gone = stderr_of_failure(dev.call(home, &["query", "tally", "get", "t"]));
    assert!(gone.contains("chaincode tally is not installed on channel mychannel"), "{gone}");
    drop(dev);

    // --ephemeral: the same chaincodes and organisation, an empty channel.
    let dev = Dev::start(home, 28350, &["--ephemeral"]);
    assert!(dev.seen.iter().any(|l| l.contains("ledger at block 0")), "{:?}", dev.seen);
    assert_eq!(stdout_of(dev.call(home, &["query", "asset-transfer", "GetAllAssets"])).trim(), "[]");
}

/// `--watch`: a crate made by `wasmcc new` is built at start, and built and installed again when its source changes,
/// on the same ledger.
#[test]
fn watch_rebuilds_a_changed_crate_and_keeps_the_ledger() {
    let home = tempfile::tempdir().unwrap();
    let sdk = repo().join("guest-sdk");
    let new = Command::new(env!("CARGO_BIN_EXE_wasmcc"))
        .current_dir(home.path())
        .args(["new", "token", "--sdk-path", sdk.to_str().unwrap()])
        .output()
        .unwrap();
    stdout_of(new);
    let crate_dir = home.path().join("token");
    // The workspace's lock file pins the versions the workspace fetched, so the build needs no network.
    std::fs::copy(repo().join("Cargo.lock"), crate_dir.join("Cargo.lock")).unwrap();
    // Ports of their own (the other flow's dev process gives chaincodes the 900 ports after 28351), below Linux's
    // ephemeral range (32768–60999) where no client socket can be holding them.
    let mut dev = Dev::start(home.path(), 27000, &["--watch", "token"]);
    assert!(dev.seen.iter().any(|l| l.contains("chaincode token committed on mychannel")), "{:?}", dev.seen);
    let home = home.path();
    stdout_of(dev.call(home, &["invoke", "token", "Create", "r1", "ada", "10"]));
    let missing = stderr_of_failure(dev.call(home, &["query", "token", "Read", "r9"]));
    assert!(missing.contains("record r9 does not exist"), "{missing}");

    let source = crate_dir.join("src/lib.rs");
    let text = std::fs::read_to_string(&source).unwrap();
    std::fs::write(&source, text.replace("does not exist", "is unknown here")).unwrap();
    let rebuilt = dev.wait_for("token rebuilt", Duration::from_secs(600));
    let ccid = rebuilt.rsplit(' ').next().unwrap().to_owned();
    // The new package replaces the old one as soon as it is installed, maybe before the line above was printed.
    let committed = format!("committed on mychannel: {ccid}");
    if !dev.seen.iter().any(|l| l.contains(&committed)) {
        dev.wait_for(&committed, Duration::from_secs(30));
    }
    assert!(dev.seen.iter().any(|l| l.starts_with("chaincode token: ") && l.ends_with(" replaced")), "{:?}", dev.seen);
    let missing = stderr_of_failure(dev.call(home, &["query", "token", "Read", "r9"]));
    assert!(missing.contains("record r9 is unknown here"), "the new build serves: {missing}");
    let kept = stdout_of(dev.call(home, &["query", "token", "Read", "r1"]));
    assert!(kept.contains(r#""owner":"ada""#), "the ledger is kept: {kept}");
}
