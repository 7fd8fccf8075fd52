//! The external builder as a Fabric peer runs it: the static binary from `scripts/build-builder.sh`, started as
//! `bin/detect`, `bin/build`, `bin/release` (and `bin/run`) in a scratch directory named the peer's way, with the
//! peer's stripped environment and stdout discarded. Then the peer simulator dials what connection.json says (or
//! serves the Register stream `bin/run` has the host open) and runs a transaction on the right chaincode.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use serde_json::{json, Value};
use wasmcc_host::client::AdminClient;
use wasmcc_host::daemon::Daemon;
use wasmcc_peer::{args, PeerSim};
use wasmcc_tests::{free_ports, host_config, variant, wasm};

const CH: &str = "mychannel";

/// The static builder, built once per test process.
fn builder_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let out = Command::new("bash")
            .arg("scripts/build-builder.sh")
            .current_dir(&root)
            .stderr(Stdio::inherit())
            .output()
            .expect("running scripts/build-builder.sh");
        assert!(out.status.success(), "scripts/build-builder.sh failed");
        let path =
            String::from_utf8(out.stdout).unwrap().lines().last().expect("the script prints the path").to_owned();
        PathBuf::from(path)
    })
}

/// A deterministic package of a module, as `wasmcc` makes it: (CCID, package bytes, raw metadata.json).
struct Pkg {
    label: String,
    ccid: String,
    bytes: Vec<u8>,
    wasm: Vec<u8>,
    indexes: Vec<(String, Vec<u8>)>,
}

impl Pkg {
    fn new(label: &str, wasm: Vec<u8>, indexes: &[(&str, &str)]) -> Pkg {
        let indexes: Vec<_> = indexes.iter().map(|(n, b)| (n.to_string(), b.as_bytes().to_vec())).collect();
        let bytes = wasmcc_common::package::package(label, &wasm, &indexes).unwrap();
        let ccid = wasmcc_common::package::package_id(label, &bytes);
        Pkg { label: label.to_owned(), ccid, bytes, wasm, indexes }
    }
}

/// One peer's builder directory and temp dir.
struct Peer {
    tmp: tempfile::TempDir,
    bin: PathBuf,
}

impl Peer {
    fn new() -> Peer {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("wasmcc-builder");
        let out = Command::new(builder_binary()).arg("install").arg(&dir).output().unwrap();
        assert!(out.status.success(), "install: {}", String::from_utf8_lossy(&out.stderr));
        Peer { bin: dir.join("bin"), tmp }
    }

    /// The scratch directory the peer makes for a package: `fabric-<Sanitize(CCID)><random digits>` holding `src/`
    /// (the untarred code), `metadata/metadata.json` (the raw bytes), `bld/` and `release/`, all 0700.
    fn scratch(&self, ccid: &str, pkg: &Pkg) -> PathBuf {
        let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().subsec_nanos();
        let root = self.tmp.path().join(format!("fabric-{}{}", wasmcc_common::package::sanitize(ccid), nanos));
        for sub in ["src", "metadata", "bld", "release"] {
            std::fs::create_dir_all(root.join(sub)).unwrap();
            std::fs::set_permissions(root.join(sub), std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        std::fs::write(root.join("src").join(wasmcc_common::package::WASM_FILE), &pkg.wasm).unwrap();
        for (name, body) in &pkg.indexes {
            let path = root.join("src").join(wasmcc_common::package::INDEX_DIR).join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, body).unwrap();
        }
        let metadata = wasmcc_common::package::metadata_json(&pkg.label).unwrap();
        std::fs::write(root.join("metadata").join(wasmcc_common::package::METADATA_FILE), metadata).unwrap();
        root
    }

    /// A step run as the peer runs it: only the propagated variable plus PATH, TMPDIR, LD_LIBRARY_PATH and LIBPATH;
    /// stdout discarded.
    fn command(&self, step: &str, args: &[&Path], config: Option<&Value>) -> Command {
        let mut cmd = Command::new(self.bin.join(step));
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("TMPDIR", self.tmp.path());
        for var in ["LD_LIBRARY_PATH", "LIBPATH"] {
            if let Some(value) = std::env::var_os(var) {
                cmd.env(var, value);
            }
        }
        if let Some(config) = config {
            cmd.env("WASMCC_BUILDER_CONFIG", config.to_string());
        }
        cmd.stdout(Stdio::null()).stderr(Stdio::piped()).stdin(Stdio::null());
        cmd
    }

    fn step(&self, step: &str, args: &[&Path], config: Option<&Value>) -> Output {
        self.command(step, args, config).output().unwrap()
    }

    /// detect → build → release, as at `peer lifecycle chaincode install`; panics with stderr on a failure.
    fn install(&self, scratch: &Path, config: &Value) {
        let [src, metadata, bld, release] = ["src", "metadata", "bld", "release"].map(|d| scratch.join(d));
        let detect = self.step("detect", &[&src, &metadata], Some(config));
        assert!(detect.status.success(), "detect refused a wasm package");
        for (step, args) in [("build", vec![&*src, &*metadata, &*bld]), ("release", vec![&*bld, &*release])] {
            let out = self.step(step, &args, Some(config));
            assert!(out.status.success(), "{step}: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
}

fn connection_json(scratch: &Path) -> Value {
    let path = scratch.join("release/chaincode/server/connection.json");
    serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

fn client(daemon: &Daemon) -> AdminClient {
    AdminClient::new(&daemon.admin_url(), Some(daemon.token().to_string()), None).unwrap()
}

/// The peer dials the address the builder released and runs `inc` on the chaincode registered as `ccid`
/// (the simulator refuses a REGISTER of any other CCID).
async fn transact(address: &str, ccid: &str, expect: &[u8]) {
    let peer = PeerSim::new();
    let conn = peer.connect(address, ccid).await.unwrap_or_else(|e| panic!("dialling {address} for {ccid}: {e}"));
    let result = conn.invoke(CH, args(["inc", "n"])).await.unwrap();
    assert_eq!(result.status(), Some(200), "{:?}", result.outcome);
    assert_eq!(result.payload(), expect);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookup_mode_points_the_peer_at_the_right_chaincode() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(&host_config(dir.path(), free_ports(50))).await.unwrap();
    let counter = wasm("counter");
    // Two chaincodes on the host: the builder must route to the one the peer installs.
    let other = Pkg::new("counter-other", variant(&counter, 1), &[]);
    let pkg = Pkg::new("counter_1.0+x", counter, &[("by-n.json", r#"{"index":{"fields":["n"]}}"#)]);
    let api = client(&daemon);
    let other_info = api.install(other.bytes.clone()).await.unwrap().0;
    let info = api.install(pkg.bytes.clone()).await.unwrap().0;
    assert_eq!(info.ccid, pkg.ccid);

    let peer = Peer::new();
    let scratch = peer.scratch(&pkg.ccid, &pkg);
    let config = json!({"admin_url": daemon.admin_url()});
    tokio::task::block_in_place(|| peer.install(&scratch, &config));

    let connection = connection_json(&scratch);
    assert_eq!(
        connection,
        json!({"address": info.route.address, "dial_timeout": "10s", "tls_required": false,
               "client_auth_required": false})
    );
    assert_ne!(connection["address"], json!(other_info.route.address));
    let index = scratch.join("release/statedb/couchdb/indexes/by-n.json");
    assert_eq!(std::fs::read_to_string(index).unwrap(), r#"{"index":{"fields":["n"]}}"#);
    transact(info.route.address.as_deref().unwrap(), &pkg.ccid, b"1").await;
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_mode_installs_the_package_on_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(&host_config(dir.path(), free_ports(50))).await.unwrap();
    let pkg = Pkg::new("counter-up", wasm("counter"), &[("i.json", "{}")]);
    let api = client(&daemon);
    assert!(api.show(&pkg.ccid).await.is_err(), "not installed before the build");

    let peer = Peer::new();
    let scratch = peer.scratch(&pkg.ccid, &pkg);
    let config = json!({"admin_url": daemon.admin_url(), "admin_token": daemon.token(), "mode": "upload"});
    tokio::task::block_in_place(|| peer.install(&scratch, &config));

    let info = api.show(&pkg.ccid).await.unwrap();
    let connection = connection_json(&scratch);
    assert_eq!(connection["address"], json!(info.route.address));
    transact(info.route.address.as_deref().unwrap(), &pkg.ccid, b"1").await;

    // A package wasmcc did not make cannot be rebuilt, so its CCID cannot be vouched for: refused with the reason.
    let foreign_ccid = wasmcc_common::package::package_id(&pkg.label, b"made by another tool");
    let scratch = peer.scratch(&foreign_ccid, &pkg);
    let [src, metadata, bld] = ["src", "metadata", "bld"].map(|d| scratch.join(d));
    let out = tokio::task::block_in_place(|| peer.step("build", &[&src, &metadata, &bld], Some(&config)));
    let stderr = one_line_failure(&out);
    assert!(stderr.contains("not made by `wasmcc package`"), "{stderr}");
    daemon.shutdown().await;
}

/// A package made by hand with general tools, as `tar czf` makes one: directory entries, real times and owners,
/// maximum compression, and a metadata.json without `path`. Fabric and the host accept it; `wasmcc package` would
/// write other bytes for the same contents, so the builder cannot make it again. Returns it with its metadata.json.
fn hand_made_package(label: &str, wasm: &[u8], indexes: &[(&str, &str)]) -> (Vec<u8>, Vec<u8>) {
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
    let tar_gz = |entries: &[(String, &[u8])]| -> Vec<u8> {
        let mut tar = tar::Builder::new(Vec::new());
        for (name, data) in entries {
            let mut header = tar::Header::new_ustar();
            let dir = name.ends_with('/');
            header.set_entry_type(if dir { tar::EntryType::Directory } else { tar::EntryType::Regular });
            header.set_mode(if dir { 0o755 } else { 0o644 });
            header.set_uid(1000);
            header.set_gid(1000);
            header.set_username("operator").unwrap();
            header.set_mtime(now);
            header.set_size(data.len() as u64);
            tar.append_data(&mut header, name.trim_end_matches('/'), *data).unwrap();
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut gz, &tar.into_inner().unwrap()).unwrap();
        gz.finish().unwrap()
    };
    let mut code: Vec<(String, &[u8])> = Vec::new();
    let mut dir = String::new();
    for part in wasmcc_common::package::INDEX_DIR.split('/') {
        dir = format!("{dir}{part}/");
        code.push((dir.clone(), b""));
    }
    for (name, body) in indexes {
        code.push((format!("{}/{name}", wasmcc_common::package::INDEX_DIR), body.as_bytes()));
    }
    code.push((wasmcc_common::package::WASM_FILE.to_owned(), wasm));
    let metadata = format!(r#"{{"type":"wasm","label":"{label}"}}"#).into_bytes();
    let code = tar_gz(&code);
    let package = tar_gz(&[
        (wasmcc_common::package::METADATA_FILE.to_owned(), &metadata),
        (wasmcc_common::package::CODE_FILE.to_owned(), &code),
    ]);
    (package, metadata)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_mode_uses_a_package_the_operator_installed_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(&host_config(dir.path(), free_ports(40))).await.unwrap();
    let index = ("by-n.json", r#"{"index":{"fields":["n"]}}"#);
    // What the peer untars from the hand-made package is exactly this package's contents.
    let contents = Pkg::new("counter-hand", wasm("counter"), &[index]);
    let (bytes, metadata) = hand_made_package(&contents.label, &contents.wasm, &[index]);
    let ccid = wasmcc_common::package::package_id(&contents.label, &bytes);
    assert_ne!(ccid, contents.ccid, "wasmcc's packaging of the same contents is another package");
    let api = client(&daemon);
    let info = api.install(bytes).await.unwrap().0;
    assert_eq!(info.ccid, ccid);

    let peer = Peer::new();
    let scratch = peer.scratch(&ccid, &contents);
    std::fs::write(scratch.join("metadata").join(wasmcc_common::package::METADATA_FILE), &metadata).unwrap();
    let config = json!({"admin_url": daemon.admin_url(), "admin_token": daemon.token(), "mode": "upload"});

    // A URL where something other than the admin API answers 404: reported, never taken for "not installed".
    let [src, meta, bld] = ["src", "metadata", "bld"].map(|d| scratch.join(d));
    let wrong = json!({"admin_url": format!("{}/not-the-api", daemon.admin_url()), "admin_token": daemon.token(),
                       "mode": "upload"});
    let out = tokio::task::block_in_place(|| peer.step("build", &[&src, &meta, &bld], Some(&wrong)));
    let stderr = one_line_failure(&out);
    assert!(
        stderr.starts_with(&format!("wasmcc-builder build: upload mode: asking the host whether it has {ccid}"))
            && stderr.contains("is admin_url the wasmcc admin API?"),
        "{stderr}"
    );

    tokio::task::block_in_place(|| peer.install(&scratch, &config));
    let connection = connection_json(&scratch);
    assert_eq!(connection["address"], json!(info.route.address));
    let installed: Vec<String> = api.list().await.unwrap().into_iter().map(|i| i.ccid).collect();
    assert_eq!(installed, std::slice::from_ref(&ccid), "the builder uploaded nothing");
    let index_file = scratch.join("release/statedb/couchdb/indexes/by-n.json");
    assert_eq!(std::fs::read_to_string(index_file).unwrap(), index.1);
    transact(info.route.address.as_deref().unwrap(), &ccid, b"1").await;
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launcher_mode_has_the_host_dial_the_peer_through_bin_run() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(&host_config(dir.path(), free_ports(50))).await.unwrap();
    let pkg = Pkg::new("counter-launch", wasm("counter"), &[]);
    client(&daemon).install(pkg.bytes.clone()).await.unwrap();

    let peer = Peer::new();
    let scratch = peer.scratch(&pkg.ccid, &pkg);
    let config = json!({"admin_url": daemon.admin_url(), "admin_token": daemon.token(), "mode": "launcher"});
    tokio::task::block_in_place(|| peer.install(&scratch, &config));
    assert!(!scratch.join("bld/connection.json").exists());
    assert!(!scratch.join("release/chaincode/server/connection.json").exists(), "the peer must call run");

    // The peer's chaincode listener, and the run metadata it writes for each launch.
    let sim = PeerSim::new();
    let (addr, mut support) = sim.serve_chaincode_support("127.0.0.1:0".parse().unwrap(), None).await.unwrap();
    let run_dir = peer.tmp.path().join("fabric-run12345");
    std::fs::create_dir_all(&run_dir).unwrap();
    let chaincode_json = json!({
        "chaincode_id": pkg.ccid, "peer_address": addr.to_string(), "client_cert": "", "client_key": "",
        "root_cert": "", "mspid": "Org1MSP",
    });
    std::fs::write(run_dir.join("chaincode.json"), chaincode_json.to_string()).unwrap();
    let bld = scratch.join("bld");
    let spawn_run = || -> Child { peer.command("run", &[&bld, &run_dir], Some(&config)).spawn().unwrap() };

    // A clean end of the stream ends run with 0.
    let mut run = spawn_run();
    let conn = support.accept(&pkg.ccid).await.unwrap();
    for want in [b"1", b"2"] {
        let result = conn.invoke(CH, args(["inc", "n"])).await.unwrap();
        assert_eq!(result.payload(), want, "{:?}", result.outcome);
    }
    assert!(run.try_wait().unwrap().is_none(), "run stays alive while the session lives");
    conn.close();
    let status = wait_for(&mut run, Duration::from_secs(15)).await;
    assert!(status.success(), "run after a clean end: {status:?}");

    // The peer stops (SIGTERM): run exits.
    let mut run = spawn_run();
    let _conn = support.accept(&pkg.ccid).await.unwrap();
    let kill = Command::new("kill").arg("-TERM").arg(run.id().to_string()).status().unwrap();
    assert!(kill.success());
    wait_for(&mut run, Duration::from_secs(15)).await;

    // A peer that does not answer the REGISTER: the session fails and run exits non-zero with the reason.
    let mut run = spawn_run();
    let opts = wasmcc_peer::ConnectOptions { startup_timeout: Duration::from_millis(300), ..Default::default() };
    assert!(support.accept_with("counter-launch:not-this-one", opts).await.is_err());
    let status = wait_for(&mut run, Duration::from_secs(15)).await;
    assert!(!status.success());
    let mut stderr = String::new();
    std::io::Read::read_to_string(run.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("wasmcc-builder run: "), "{stderr}");
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_launcher_build_outlives_a_change_of_the_peer_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(&host_config(dir.path(), free_ports(40))).await.unwrap();
    let pkg = Pkg::new("counter-moved", wasm("counter"), &[]);
    client(&daemon).install(pkg.bytes.clone()).await.unwrap();

    let peer = Peer::new();
    let scratch = peer.scratch(&pkg.ccid, &pkg);
    let built_with = json!({"admin_url": daemon.admin_url(), "admin_token": daemon.token(), "mode": "launcher"});
    tokio::task::block_in_place(|| peer.install(&scratch, &built_with));
    // What run will need is in the build output the peer keeps, except the token, which is nowhere in it.
    let bld = scratch.join("bld");
    let record: Value = serde_json::from_slice(&std::fs::read(bld.join("launcher.json")).unwrap()).unwrap();
    assert_eq!(
        record,
        json!({"ccid": pkg.ccid, "admin_url": daemon.admin_url(), "admin_ca": null,
               "admin_token": "WASMCC_BUILDER_CONFIG"})
    );
    for entry in std::fs::read_dir(&bld).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
            assert!(!text.contains(daemon.token()), "{} holds the admin token", path.display());
        }
    }

    // Later the peer's configuration is for other chaincodes: lookup mode, another host, and no admin_token (which
    // lookup mode does not need).
    let sim = PeerSim::new();
    let (addr, mut support) = sim.serve_chaincode_support("127.0.0.1:0".parse().unwrap(), None).await.unwrap();
    let run_dir = peer.tmp.path().join("fabric-run67890");
    std::fs::create_dir_all(&run_dir).unwrap();
    let chaincode_json = json!({
        "chaincode_id": pkg.ccid, "peer_address": addr.to_string(), "client_cert": "", "client_key": "",
        "root_cert": "", "mspid": "Org1MSP",
    });
    std::fs::write(run_dir.join("chaincode.json"), chaincode_json.to_string()).unwrap();
    let dead_port = wasmcc_tests::free_port();
    let mut moved = json!({"admin_url": format!("http://127.0.0.1:{dead_port}"), "mode": "lookup"});

    // Without the token, run cannot launch: it says which chaincode needs it and what to keep configured.
    let out = tokio::task::block_in_place(|| peer.step("run", &[&bld, &run_dir], Some(&moved)));
    let stderr = one_line_failure(&out);
    let want = format!("wasmcc-builder run: chaincode {} was built in launcher mode", pkg.ccid);
    assert!(
        stderr.starts_with(&want)
            && stderr.contains(&daemon.admin_url())
            && stderr.contains("keep admin_token configured on this peer"),
        "{stderr}"
    );

    // With the token kept, run launches it from the host the build found it on, not the one configured now.
    moved["admin_token"] = json!(daemon.token());
    let mut run = peer.command("run", &[&bld, &run_dir], Some(&moved)).spawn().unwrap();
    let conn = support.accept(&pkg.ccid).await.unwrap();
    let result = conn.invoke(CH, args(["inc", "n"])).await.unwrap();
    assert_eq!(result.payload(), b"1", "{:?}", result.outcome);
    conn.close();
    let status = wait_for(&mut run, Duration::from_secs(15)).await;
    assert!(status.success(), "run after a clean end: {status:?}");
    daemon.shutdown().await;
}

async fn wait_for(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(tokio::time::Instant::now() < deadline, "the process did not exit within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A failed step: non-zero exit, and exactly one line on stderr.
fn one_line_failure(out: &Output) -> String {
    assert!(!out.status.success(), "expected a failure");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line expected: {stderr:?}");
    stderr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_fails_with_a_one_line_reason() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(&host_config(dir.path(), free_ports(50))).await.unwrap();
    let pkg = Pkg::new("counter-bad", wasm("counter"), &[]);
    client(&daemon).install(pkg.bytes.clone()).await.unwrap();
    let unknown = Pkg::new("counter-unknown", variant(&pkg.wasm, 7), &[]);
    let dead_port = wasmcc_tests::free_port();
    let good = json!({"admin_url": daemon.admin_url()});
    let peer = Peer::new();

    type Spoil = Box<dyn Fn(&Path)>;
    let cases: Vec<(&str, &Pkg, &str, Value, Spoil, &str)> = vec![
        (
            "missing metadata.json",
            &pkg,
            pkg.ccid.as_str(),
            good.clone(),
            Box::new(|s: &Path| std::fs::remove_file(s.join("metadata/metadata.json")).unwrap()),
            "metadata.json",
        ),
        (
            "malformed metadata.json",
            &pkg,
            pkg.ccid.as_str(),
            good.clone(),
            Box::new(|s: &Path| std::fs::write(s.join("metadata/metadata.json"), "{\"type\":\"wasm\",").unwrap()),
            "not valid package metadata",
        ),
        (
            "missing module",
            &pkg,
            pkg.ccid.as_str(),
            good.clone(),
            Box::new(|s: &Path| std::fs::remove_file(s.join("src/chaincode.wasm")).unwrap()),
            "has no module",
        ),
        (
            "unknown CCID",
            &unknown,
            unknown.ccid.as_str(),
            good.clone(),
            Box::new(|_: &Path| {}),
            "is not installed on the host",
        ),
        (
            "unreachable host",
            &pkg,
            pkg.ccid.as_str(),
            json!({"admin_url": format!("http://127.0.0.1:{dead_port}")}),
            Box::new(|_: &Path| {}),
            "cannot reach the wasmcc admin API",
        ),
        (
            "bad config JSON",
            &pkg,
            pkg.ccid.as_str(),
            json!("{not json"),
            Box::new(|_: &Path| {}),
            "WASMCC_BUILDER_CONFIG",
        ),
        (
            "scratch name of another label",
            &pkg,
            unknown.ccid.as_str(),
            good.clone(),
            Box::new(|_: &Path| {}),
            "does not match label",
        ),
    ];
    for (what, pkg, scratch_ccid, config, spoil, want) in cases {
        let scratch = peer.scratch(scratch_ccid, pkg);
        spoil(&scratch);
        let [src, metadata, bld] = ["src", "metadata", "bld"].map(|d| scratch.join(d));
        // A JSON string stands for the raw variable text here (the bad-JSON case).
        let mut cmd = peer.command("build", &[&src, &metadata, &bld], Some(&config));
        if let Value::String(raw) = &config {
            cmd.env("WASMCC_BUILDER_CONFIG", raw);
        }
        let out = tokio::task::block_in_place(|| cmd.output().unwrap());
        let stderr = one_line_failure(&out);
        assert!(stderr.starts_with("wasmcc-builder build: ") && stderr.contains(want), "{what}: {stderr}");
        assert!(!bld.join("connection.json").exists(), "{what}");
    }
    // Without the variable at all.
    let scratch = peer.scratch(&pkg.ccid, &pkg);
    let [src, metadata, bld] = ["src", "metadata", "bld"].map(|d| scratch.join(d));
    let out = peer.step("build", &[&src, &metadata, &bld], None);
    assert!(one_line_failure(&out).contains("WASMCC_BUILDER_CONFIG is not set"));
    // detect says no silently to anything that is not a wasm package.
    std::fs::write(metadata.join("metadata.json"), r#"{"type":"ccaas","label":"x"}"#).unwrap();
    let out = peer.step("detect", &[&src, &metadata], Some(&good));
    assert!(!out.status.success() && out.stderr.is_empty());
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_binary_works_in_an_empty_root_resolving_the_host_by_name() {
    let ldd = Command::new("ldd").arg(builder_binary()).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&ldd.stdout), String::from_utf8_lossy(&ldd.stderr));
    assert!(text.contains("not a dynamic executable") || text.contains("statically linked"), "ldd: {text}");

    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(&host_config(dir.path(), free_ports(50))).await.unwrap();
    let pkg = Pkg::new("counter-chroot", wasm("counter"), &[]);
    let info = client(&daemon).install(pkg.bytes.clone()).await.unwrap().0;

    // The root holds the builder, /etc/hosts, /etc/resolv.conf, and the peer's scratch directory: nothing else (no
    // libc, no NSS modules, no shell).
    let root = tempfile::tempdir().unwrap();
    let install = Command::new(builder_binary()).arg("install").arg(root.path().join("builder")).output().unwrap();
    assert!(install.status.success());
    std::fs::create_dir_all(root.path().join("etc")).unwrap();
    std::fs::write(root.path().join("etc/hosts"), "127.0.0.1 localhost\n127.0.0.1 wasmcc-host.test\n").unwrap();
    std::fs::write(root.path().join("etc/resolv.conf"), "nameserver 127.0.0.1\n").unwrap();
    let tmp = root.path().join("tmp");
    let scratch_name = format!("fabric-{}{}", wasmcc_common::package::sanitize(&pkg.ccid), 4242);
    let scratch = tmp.join(&scratch_name);
    for sub in ["src", "metadata", "bld", "release"] {
        std::fs::create_dir_all(scratch.join(sub)).unwrap();
    }
    std::fs::write(scratch.join("src/chaincode.wasm"), &pkg.wasm).unwrap();
    std::fs::write(scratch.join("metadata/metadata.json"), wasmcc_common::package::metadata_json(&pkg.label).unwrap())
        .unwrap();

    let inside = format!("/tmp/{scratch_name}");
    let config = json!({"admin_url": format!("http://wasmcc-host.test:{}", daemon.admin_addr().port())});
    // Found here: the child's PATH points nowhere, and Command looks programs up in the child's PATH.
    let chroot = ["/usr/sbin/chroot", "/usr/bin/chroot", "/sbin/chroot"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("chroot(8) from coreutils");
    let run = |step: &str, dirs: &[&str]| {
        let mut cmd = Command::new(chroot);
        cmd.arg(root.path()).arg(format!("/builder/bin/{step}"));
        cmd.args(dirs.iter().map(|d| format!("{inside}/{d}")));
        cmd.env_clear()
            .env("PATH", "/nonexistent")
            .env("TMPDIR", "/tmp")
            .env("WASMCC_BUILDER_CONFIG", config.to_string());
        tokio::task::block_in_place(|| cmd.output().unwrap())
    };
    let detect = run("detect", &["src", "metadata"]);
    assert!(detect.status.success(), "detect in the chroot: {detect:?}");
    let build = run("build", &["src", "metadata", "bld"]);
    assert!(build.status.success(), "build in the chroot: {}", String::from_utf8_lossy(&build.stderr));
    let connection: Value =
        serde_json::from_slice(&std::fs::read(scratch.join("bld/connection.json")).unwrap()).unwrap();
    assert_eq!(connection["address"], json!(info.route.address));
    transact(info.route.address.as_deref().unwrap(), &pkg.ccid, b"1").await;
    daemon.shutdown().await;
}
