//! The four programs the peer runs (`docs/fabric-protocol.md` §7), and `install`, which lays them out.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::Deserialize;
use wasmcc_common::package::{INDEX_DIR, WASM_FILE};

use crate::admin::{Admin, ChaincodeInfo};
use crate::config::{Config, Mode, ENV};
use crate::connection::connection_json;
use crate::launcher;
use crate::scratch::{self, Metadata};

/// The names the peer calls, in `bin/`.
pub const STEPS: [&str; 4] = ["detect", "build", "release", "run"];

const CONNECTION_FILE: &str = "connection.json";
const STATEDB: &str = "statedb";

/// `detect SOURCE_DIR METADATA_DIR`: claims packages of type "wasm". The answer is the exit code alone.
pub fn detect(args: &[PathBuf]) -> bool {
    matches!(args, [_, metadata_dir] if Metadata::is_wasm_package(metadata_dir))
}

/// `build SOURCE_DIR METADATA_DIR BUILD_OUTPUT_DIR`: finds (or puts) the chaincode on the host and writes what
/// release and run need into BUILD_OUTPUT_DIR.
pub fn build(args: &[PathBuf]) -> anyhow::Result<()> {
    build_with(args, &Config::from_env()?)
}

fn build_with(args: &[PathBuf], config: &Config) -> anyhow::Result<()> {
    let [source, metadata_dir, output] = args else {
        bail!("usage: build SOURCE_DIR METADATA_DIR BUILD_OUTPUT_DIR");
    };
    let (metadata, raw_metadata) = Metadata::read(metadata_dir)?;
    if !metadata.is_wasm() {
        bail!("metadata.json has type {:?}, not \"wasm\": this package is not for wasmcc", metadata.kind);
    }
    let ccid = scratch::ccid_from_source_dir(source, &metadata.label)?;
    let wasm = read_module(source)?;
    if config.mode == Mode::Launcher && config.admin_token.is_none() {
        // Build itself only reads, but a chaincode that could never be launched should fail its install, not its
        // first launch after the definition is committed.
        bail!(
            "launcher mode needs admin_token in {ENV}: the peer starts {ccid} through bin/run, which asks the host \
             to launch it with that token"
        );
    }
    let admin = Admin::new(config)?;

    let info = runtime()?.block_on(async {
        match config.mode {
            Mode::Lookup | Mode::Launcher => admin.lookup(&ccid).await,
            Mode::Upload => find_or_upload(&admin, source, &wasm, &raw_metadata, &metadata.label, &ccid).await,
        }
    })?;
    check_answer(&info, &ccid)?;

    fs::create_dir_all(output).with_context(|| format!("creating {}", output.display()))?;
    if config.mode == Mode::Launcher {
        // No connection.json, so the peer calls run, which has the host dial the peer; run may start under another
        // configuration, so it gets what it needs from here.
        launcher::Record::new(&ccid, config).write(output)?;
    } else {
        let connection = connection_json(&info, config)?;
        let json = serde_json::to_vec_pretty(&connection).context("encoding connection.json")?;
        // It may hold the peer's TLS client key.
        write_private(&output.join(CONNECTION_FILE), &json)?;
    }
    copy_tree(&source.join("META-INF").join(STATEDB), &output.join(STATEDB))?;
    let metadata_copy = output.join(wasmcc_common::package::METADATA_FILE);
    fs::write(&metadata_copy, &raw_metadata).with_context(|| format!("writing {}", metadata_copy.display()))?;
    Ok(())
}

/// Upload mode: the chaincode the host already has under this CCID (however it got there: `wasmcc install` of a
/// package from any tool, an earlier upload), else the package made again and uploaded.
///
/// Asking first matters because only packages made by `wasmcc package` can be made again; a package the operator
/// installed by hand must not fail for lack of that. Only the host's "not installed" leads to an upload: any other
/// failure of the question is reported as it is, since uploading past it could only fail in a more confusing way.
async fn find_or_upload(
    admin: &Admin,
    source: &Path,
    wasm: &[u8],
    raw_metadata: &[u8],
    label: &str,
    ccid: &str,
) -> anyhow::Result<ChaincodeInfo> {
    let found = admin
        .find(ccid)
        .await
        .with_context(|| format!("upload mode: asking the host whether it has {ccid} before uploading it"))?;
    if let Some(info) = found {
        return Ok(info);
    }
    let package = rebuild_package(source, wasm, raw_metadata, label, ccid)?;
    admin.upload(package).await
}

/// `release BUILD_OUTPUT_DIR RELEASE_OUTPUT_DIR`: connection.json where the peer looks for it (absent in launcher
/// mode), and the CouchDB indexes.
pub fn release(args: &[PathBuf]) -> anyhow::Result<()> {
    let [build_output, release_output] = args else {
        bail!("usage: release BUILD_OUTPUT_DIR RELEASE_OUTPUT_DIR");
    };
    let connection = build_output.join(CONNECTION_FILE);
    if connection.is_file() {
        let dir = release_output.join("chaincode").join("server");
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let bytes = fs::read(&connection).with_context(|| format!("reading {}", connection.display()))?;
        write_private(&dir.join(CONNECTION_FILE), &bytes)?;
    }
    copy_tree(&build_output.join(STATEDB), &release_output.join(STATEDB))
}

/// chaincode.json, as the peer writes it for run (`docs/fabric-protocol.md` §10 item 14): six strings.
#[derive(Debug, Deserialize)]
#[allow(dead_code)] // Parsed to refuse a malformed file here rather than at the host; the host reads the rest.
struct ChaincodeJson {
    chaincode_id: String,
    peer_address: String,
    #[serde(default)]
    client_cert: String,
    #[serde(default)]
    client_key: String,
    #[serde(default)]
    root_cert: String,
    #[serde(default)]
    mspid: String,
}

/// `run BUILD_OUTPUT_DIR RUN_METADATA_DIR`: asks the host to dial the peer as this chaincode and lives as long as
/// that session does, which is how the peer sees the chaincode "running".
///
/// The host and its CA come from what build recorded (`launcher.json`), the token from the configuration the peer
/// has now (see `launcher`): a peer whose configuration has since moved to another mode or host keeps launching
/// the chaincodes it built in launcher mode, as long as it keeps `admin_token`.
pub fn run(args: &[PathBuf]) -> anyhow::Result<()> {
    run_with(args, Config::from_env())
}

fn run_with(args: &[PathBuf], current: anyhow::Result<Config>) -> anyhow::Result<()> {
    let [build_output, run_metadata] = args else {
        bail!("usage: run BUILD_OUTPUT_DIR RUN_METADATA_DIR");
    };
    let path = run_metadata.join("chaincode.json");
    let raw = fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let chaincode: ChaincodeJson =
        serde_json::from_slice(&raw).with_context(|| format!("{} is not a valid chaincode.json", path.display()))?;
    if chaincode.peer_address.is_empty() {
        bail!("{} has no peer_address", path.display());
    }
    // The build output is this package's: a CCID of another label means the peer mixed builds up, and registering
    // a wrong CCID would stall the peer.
    if let Ok((metadata, _)) = Metadata::read(build_output) {
        let label = chaincode.chaincode_id.split(':').next().unwrap_or_default();
        if label != metadata.label {
            bail!("chaincode.json names {}, but this build is of label {:?}", chaincode.chaincode_id, metadata.label);
        }
    }
    let admin = match launcher::Record::read(build_output)? {
        Some(record) => {
            record.check_ccid(&chaincode.chaincode_id)?;
            let token = record.token(current)?;
            Admin::at(&record.admin_url, record.admin_ca.as_deref(), Some(token))?
        }
        // Built before builds recorded anything: the current configuration, as then.
        None => Admin::new(&current?)?,
    };
    runtime()?.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
        let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
        tokio::select! {
            result = admin.launch(raw) => result.with_context(|| format!("session of {} ended", chaincode.chaincode_id)),
            // The peer stops: dropping the request closes the connection to the host.
            _ = term.recv() => Ok(()),
            _ = int.recv() => Ok(()),
        }
    })
}

/// `install DIR`: DIR/bin/{detect,build,release,run}, hard links to this binary where possible.
pub fn install(args: &[PathBuf]) -> anyhow::Result<()> {
    let [dir] = args else {
        bail!("usage: wasmcc-builder install DIR");
    };
    let exe = std::env::current_exe().context("locating this binary")?;
    let bin = dir.join("bin");
    fs::create_dir_all(&bin).with_context(|| format!("creating {}", bin.display()))?;
    for step in STEPS {
        let dest = bin.join(step);
        match fs::remove_file(&dest) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("replacing {}", dest.display())),
        }
        if fs::hard_link(&exe, &dest).is_err() {
            fs::copy(&exe, &dest).with_context(|| format!("copying {} to {}", exe.display(), dest.display()))?;
        }
        fs::set_permissions(&dest, fs::Permissions::from_mode(0o755))
            .with_context(|| format!("making {} executable", dest.display()))?;
    }
    println!("{}", dir.display());
    Ok(())
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")
}

fn read_module(source: &Path) -> anyhow::Result<Vec<u8>> {
    let path = source.join(WASM_FILE);
    let wasm = fs::read(&path).with_context(|| format!("the package has no module: reading {}", path.display()))?;
    if !wasm.starts_with(b"\0asm") {
        bail!("{} is not a WebAssembly module", path.display());
    }
    Ok(wasm)
}

/// Never hand the peer a route to something else: the host must answer for exactly this CCID.
fn check_answer(info: &ChaincodeInfo, ccid: &str) -> anyhow::Result<()> {
    if info.ccid != ccid {
        bail!("the host answered for {} when asked for {ccid}", info.ccid);
    }
    Ok(())
}

/// The package file, made again from what the peer untarred, when `wasmcc package` made it.
///
/// The builder never receives the package file, and the CCID hashes its exact bytes, so only a package whose every
/// byte follows from its contents (wasmcc's deterministic layout) can be rebuilt; the CCID check proves it was.
fn rebuild_package(
    source: &Path,
    wasm: &[u8],
    raw_metadata: &[u8],
    label: &str,
    ccid: &str,
) -> anyhow::Result<Vec<u8>> {
    let not_ours = |why: String| {
        anyhow::anyhow!(
            "cannot upload {ccid}: the host does not have it, and the package was not made by `wasmcc package` \
             ({why}), so the builder cannot recreate its exact bytes; install this very package file on the host \
             with `wasmcc install` first, then install it on the peer again"
        )
    };
    let mut indexes = Vec::new();
    for (relative, path) in files_under(source)? {
        if relative == Path::new(WASM_FILE) {
            continue;
        }
        let name = relative.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if relative.parent() == Some(Path::new(INDEX_DIR)) && name.ends_with(".json") {
            let bytes = fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            indexes.push((name.to_owned(), bytes));
        } else {
            return Err(not_ours(format!("it holds {}, which wasmcc never packages", relative.display())));
        }
    }
    let code = wasmcc_common::package::code_tar_gz(wasm, &indexes).map_err(|e| not_ours(e.to_string()))?;
    let package = wasmcc_common::package::write_package(raw_metadata, &code)?;
    let rebuilt = wasmcc_common::package::package_id(label, &package);
    if rebuilt != ccid {
        return Err(not_ours(format!("its contents repackaged give {rebuilt}")));
    }
    Ok(package)
}

/// Every regular file below `root`, with its path relative to `root`. Anything else (a symlink, a device) is refused.
fn files_under(root: &Path) -> anyhow::Result<Vec<(PathBuf, PathBuf)>> {
    let mut files = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
            let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
            let path = entry.path();
            let kind = entry.file_type().with_context(|| format!("reading {}", path.display()))?;
            if kind.is_dir() {
                pending.push(path);
            } else if kind.is_file() {
                let relative = path.strip_prefix(root).expect("below root").to_path_buf();
                files.push((relative, path));
            } else {
                bail!("{} is neither a file nor a directory", path.display());
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Copies a directory tree of regular files; nothing to do when `from` does not exist.
fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    if !from.is_dir() {
        return Ok(());
    }
    for (relative, path) in files_under(from)? {
        let dest = to.join(&relative);
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        fs::copy(&path, &dest).with_context(|| format!("copying {} to {}", path.display(), dest.display()))?;
    }
    Ok(())
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(bytes).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::admin::fake::{self, Fake};

    const HASH: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const WASM: &[u8] = b"\0asm\x01\0\0\0";

    /// A scratch directory laid out as the peer does, for a package made by wasmcc's packager.
    struct Scratch {
        _dir: tempfile::TempDir,
        root: PathBuf,
        ccid: String,
    }

    impl Scratch {
        fn new(label: &str, indexes: &[(&str, &str)]) -> Scratch {
            let idx: Vec<_> = indexes.iter().map(|(n, b)| (n.to_string(), b.as_bytes().to_vec())).collect();
            let package = wasmcc_common::package::package(label, WASM, &idx).unwrap();
            let ccid = wasmcc_common::package::package_id(label, &package);
            let dir = tempfile::tempdir().unwrap();
            let root = dir.path().join(format!("fabric-{}123", wasmcc_common::package::sanitize(&ccid)));
            for sub in ["src", "metadata", "bld", "release"] {
                fs::create_dir_all(root.join(sub)).unwrap();
            }
            fs::write(root.join("src").join(WASM_FILE), WASM).unwrap();
            for (name, body) in indexes {
                let path = root.join("src").join(INDEX_DIR).join(name);
                fs::create_dir_all(path.parent().unwrap()).unwrap();
                fs::write(path, body).unwrap();
            }
            fs::write(root.join("metadata/metadata.json"), wasmcc_common::package::metadata_json(label).unwrap())
                .unwrap();
            Scratch { _dir: dir, root, ccid }
        }

        fn args(&self, names: &[&str]) -> Vec<PathBuf> {
            names.iter().map(|n| self.root.join(n)).collect()
        }
    }

    #[test]
    fn detect_claims_only_wasm() {
        let s = Scratch::new("cc", &[]);
        assert!(detect(&s.args(&["src", "metadata"])));
        fs::write(s.root.join("metadata/metadata.json"), r#"{"type":"WASM","label":"x"}"#).unwrap();
        assert!(detect(&s.args(&["src", "metadata"])));
        for other in [r#"{"type":"ccaas","label":"x"}"#, "{", r#"{"label":"x"}"#] {
            fs::write(s.root.join("metadata/metadata.json"), other).unwrap();
            assert!(!detect(&s.args(&["src", "metadata"])), "{other}");
        }
        fs::remove_file(s.root.join("metadata/metadata.json")).unwrap();
        assert!(!detect(&s.args(&["src", "metadata"])));
        assert!(!detect(&s.args(&["src"])));
    }

    #[test]
    fn rebuild_matches_a_wasmcc_package_only() {
        let s = Scratch::new("cc_1.0", &[("by-owner.json", "{\"index\":{}}")]);
        let raw = fs::read(s.root.join("metadata/metadata.json")).unwrap();
        let src = s.root.join("src");
        let pkg = rebuild_package(&src, WASM, &raw, "cc_1.0", &s.ccid).unwrap();
        assert_eq!(wasmcc_common::package::package_id("cc_1.0", &pkg), s.ccid);

        let other = format!("cc_1.0:{HASH}");
        let err = rebuild_package(&src, WASM, &raw, "cc_1.0", &other).unwrap_err().to_string();
        assert!(err.contains("not made by `wasmcc package`") && err.contains("repackaged give"), "{err}");

        fs::write(src.join("README.md"), "x").unwrap();
        let err = rebuild_package(&src, WASM, &raw, "cc_1.0", &s.ccid).unwrap_err().to_string();
        assert!(err.contains("README.md"), "{err}");
    }

    #[test]
    fn release_copies_connection_and_indexes() {
        let s = Scratch::new("cc", &[]);
        let bld = s.root.join("bld");
        fs::write(bld.join(CONNECTION_FILE), "{}").unwrap();
        fs::create_dir_all(bld.join("statedb/couchdb/indexes")).unwrap();
        fs::write(bld.join("statedb/couchdb/indexes/a.json"), "{}").unwrap();
        release(&s.args(&["bld", "release"])).unwrap();
        let rel = s.root.join("release");
        assert_eq!(fs::read_to_string(rel.join("chaincode/server/connection.json")).unwrap(), "{}");
        assert!(rel.join("statedb/couchdb/indexes/a.json").is_file());

        // Launcher mode's build output: nothing to release, so the peer calls run.
        let s = Scratch::new("cc", &[]);
        release(&s.args(&["bld", "release"])).unwrap();
        assert_eq!(fs::read_dir(s.root.join("release")).unwrap().count(), 0);
    }

    /// A fake host on a runtime of its own (build and run start theirs, like the real programs).
    fn fake_host() -> (tokio::runtime::Runtime, Arc<Fake>, String) {
        let host = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let f = Arc::new(Fake::default());
        let addr = host.block_on(fake::serve(f.clone()));
        (host, f, format!("http://{addr}"))
    }

    fn config(json: serde_json::Value) -> Config {
        Config::parse(&json.to_string()).unwrap()
    }

    #[test]
    fn build_in_each_mode() {
        let (_host, f, admin_url) = fake_host();
        let s = Scratch::new("cc", &[("i.json", "{}")]);
        *f.upload_answer.lock().unwrap() = Some(fake::info(&s.ccid, "10.0.0.1:9101"));
        let args = s.args(&["src", "metadata", "bld"]);

        // Upload first, while the host lacks the chaincode; then every mode finds it there, upload included.
        for mode in ["upload", "lookup", "launcher", "upload"] {
            let config = config(serde_json::json!({"admin_url": admin_url, "admin_token": fake::TOKEN, "mode": mode}));
            for file in [CONNECTION_FILE, launcher::FILE] {
                let _ = fs::remove_file(s.root.join("bld").join(file));
            }
            build_with(&args, &config).unwrap_or_else(|e| panic!("{mode}: {e:#}"));
            let connection = s.root.join("bld").join(CONNECTION_FILE);
            let record = launcher::Record::read(&s.root.join("bld")).unwrap();
            if mode == "launcher" {
                assert!(!connection.exists());
                assert_eq!(record, Some(launcher::Record::new(&s.ccid, &config)));
            } else {
                let json: serde_json::Value = serde_json::from_slice(&fs::read(&connection).unwrap()).unwrap();
                assert_eq!(json["address"], "10.0.0.1:9101", "{mode}");
                assert_eq!(json["tls_required"], false);
                assert_eq!(record, None, "{mode}");
            }
            assert!(s.root.join("bld/statedb/couchdb/indexes/i.json").is_file());
            assert_eq!(
                fs::read(s.root.join("bld/metadata.json")).unwrap(),
                fs::read(s.root.join("metadata/metadata.json")).unwrap()
            );
        }
        let uploads = f.uploads.lock().unwrap();
        assert_eq!(uploads.len(), 1, "the second upload-mode build found the chaincode on the host");
        assert_eq!(wasmcc_common::package::package_id("cc", &uploads[0]), s.ccid);
        assert_eq!(f.lookups.lock().unwrap().len(), 4, "every build asked the host first");
    }

    #[test]
    fn upload_mode_uses_what_the_host_has_and_uploads_only_when_told_it_has_not() {
        let (_host, f, admin_url) = fake_host();
        let upload = config(serde_json::json!({"admin_url": admin_url, "admin_token": fake::TOKEN, "mode": "upload"}));
        // A package from another tool: its CCID is not what its contents repackage to.
        let s = Scratch::new("cc", &[]);
        let foreign = format!("cc:{HASH}");
        let root = s.root.with_file_name(format!("fabric-cc-{HASH}42"));
        fs::rename(&s.root, &root).unwrap();
        let args: Vec<PathBuf> = ["src", "metadata", "bld"].iter().map(|d| root.join(d)).collect();

        let err = format!("{:#}", build_with(&args, &upload).unwrap_err());
        assert!(err.contains("the host does not have it") && err.contains("not made by `wasmcc package`"), "{err}");

        // Installed by hand on the host: used as it is, without a token and without uploading.
        f.installed.lock().unwrap().push(fake::info(&foreign, "10.0.0.2:9102"));
        let no_token = config(serde_json::json!({"admin_url": admin_url, "mode": "upload"}));
        build_with(&args, &no_token).unwrap();
        let json: serde_json::Value =
            serde_json::from_slice(&fs::read(root.join("bld/connection.json")).unwrap()).unwrap();
        assert_eq!(json["address"], "10.0.0.2:9102");

        // The host cannot answer: said so, and nothing is uploaded past it.
        let failing = r#"{"error":"data directory unreadable"}"#.to_owned();
        *f.lookup_answer.lock().unwrap() = Some((axum::http::StatusCode::INTERNAL_SERVER_ERROR, failing));
        let s = Scratch::new("cc2", &[]);
        *f.upload_answer.lock().unwrap() = Some(fake::info(&s.ccid, "10.0.0.1:9101"));
        let err = format!("{:#}", build_with(&s.args(&["src", "metadata", "bld"]), &upload).unwrap_err());
        assert!(
            err.starts_with(&format!("upload mode: asking the host whether it has {} before uploading it: ", s.ccid))
                && err.contains("500 Internal Server Error")
                && err.contains("data directory unreadable"),
            "{err}"
        );
        assert!(f.uploads.lock().unwrap().is_empty());
    }

    #[test]
    fn launcher_mode_refuses_to_build_without_a_token() {
        let (_host, f, admin_url) = fake_host();
        let s = Scratch::new("cc", &[]);
        f.installed.lock().unwrap().push(fake::info(&s.ccid, "10.0.0.1:9101"));
        let config = config(serde_json::json!({"admin_url": admin_url, "mode": "launcher"}));
        let err = build_with(&s.args(&["src", "metadata", "bld"]), &config).unwrap_err().to_string();
        assert!(err.starts_with("launcher mode needs admin_token in WASMCC_BUILDER_CONFIG"), "{err}");
        assert!(!s.root.join("bld").join(launcher::FILE).exists());
    }

    /// The run metadata directory the peer writes for a launch of `ccid`.
    fn run_metadata(s: &Scratch, ccid: &str) -> serde_json::Value {
        let run_dir = s.root.join("run");
        fs::create_dir_all(&run_dir).unwrap();
        let chaincode = serde_json::json!({
            "chaincode_id": ccid, "peer_address": "127.0.0.1:7052", "client_cert": "", "client_key": "",
            "root_cert": "", "mspid": "Org1MSP",
        });
        fs::write(run_dir.join("chaincode.json"), chaincode.to_string()).unwrap();
        chaincode
    }

    #[test]
    fn run_lasts_as_long_as_the_launch_and_reports_its_end() {
        let (_host, f, admin_url) = fake_host();
        let current = || Ok(config(serde_json::json!({"admin_url": admin_url, "admin_token": fake::TOKEN})));
        // A build output from before builds recorded anything for run: the current configuration is used whole.
        let s = Scratch::new("cc", &[]);
        fs::write(s.root.join("bld/metadata.json"), wasmcc_common::package::metadata_json("cc").unwrap()).unwrap();
        let chaincode = run_metadata(&s, &s.ccid);
        let args = s.args(&["bld", "run"]);

        run_with(&args, current()).unwrap();
        assert_eq!(f.launches.lock().unwrap().as_slice(), std::slice::from_ref(&chaincode));

        *f.launch_answer.lock().unwrap() =
            Some((axum::http::StatusCode::BAD_GATEWAY, serde_json::json!({"error": "peer went away"})));
        let err = format!("{:#}", run_with(&args, current()).unwrap_err());
        assert!(err.contains("session of cc:") && err.contains("502") && err.contains("peer went away"), "{err}");

        run_metadata(&s, &format!("other:{HASH}"));
        let err = run_with(&args, current()).unwrap_err().to_string();
        assert!(err.contains("this build is of label \"cc\""), "{err}");
        assert_eq!(f.launches.lock().unwrap().len(), 2, "a mismatched CCID never reaches the host");
    }

    #[test]
    fn run_uses_the_recorded_host_and_the_current_token() {
        let (_host, f, admin_url) = fake_host();
        let s = Scratch::new("cc", &[]);
        f.installed.lock().unwrap().push(fake::info(&s.ccid, "10.0.0.1:9101"));
        let built_with =
            config(serde_json::json!({"admin_url": admin_url, "admin_token": fake::TOKEN, "mode": "launcher"}));
        build_with(&s.args(&["src", "metadata", "bld"]), &built_with).unwrap();
        let chaincode = run_metadata(&s, &s.ccid);
        let args = s.args(&["bld", "run"]);

        // The peer's configuration has moved on: lookup mode, another host, and at first no token.
        let dead_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let moved = serde_json::json!({"admin_url": format!("http://127.0.0.1:{dead_port}"), "mode": "lookup"});
        let err = run_with(&args, Ok(config(moved.clone()))).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("chaincode {} was built in launcher mode", s.ccid))
                && err.contains("keep admin_token configured on this peer"),
            "{err}"
        );
        let err = format!("{:#}", run_with(&args, Err(anyhow::anyhow!("{ENV} is not set"))).unwrap_err());
        assert!(
            err.contains("was built in launcher mode") && err.ends_with("WASMCC_BUILDER_CONFIG is not set"),
            "{err}"
        );
        assert!(f.launches.lock().unwrap().is_empty());

        let mut with_token = moved;
        with_token["admin_token"] = serde_json::json!(fake::TOKEN);
        run_with(&args, Ok(config(with_token.clone()))).unwrap();
        assert_eq!(f.launches.lock().unwrap().as_slice(), std::slice::from_ref(&chaincode), "the recorded host");

        // Same label, another package: refused by the recorded CCID.
        let other = format!("cc:{HASH}");
        run_metadata(&s, &other);
        let err = run_with(&args, Ok(config(with_token))).unwrap_err().to_string();
        assert!(err.contains(&format!("chaincode.json names {other}, but this build is of {}", s.ccid)), "{err}");
        assert_eq!(f.launches.lock().unwrap().len(), 1);
    }
}
