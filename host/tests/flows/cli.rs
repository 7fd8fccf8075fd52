//! The real `wasmcc` binary: the offline verbs (`package`, `ccid`, `check`), and the operator's CLI against a
//! running host.

use crate::{example, Served};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sha2::{Digest, Sha256};

fn wasmcc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wasmcc")).args(args).output().expect("running wasmcc")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[track_caller]
fn succeeds(args: &[&str]) -> String {
    let out = wasmcc(args);
    assert!(out.status.success(), "wasmcc {args:?} failed: {}", text(&out.stderr));
    text(&out.stdout).trim().to_owned()
}

/// Runs a command that must fail with exit code 1 and an error naming each needle.
#[track_caller]
fn refuses(args: &[&str], needles: &[&str]) {
    let out = wasmcc(args);
    assert_eq!(out.status.code(), Some(1), "wasmcc {args:?}: stdout {}", text(&out.stdout));
    let stderr = text(&out.stderr);
    for needle in needles {
        assert!(stderr.contains(needle), "wasmcc {args:?}: {stderr:?} should mention {needle:?}");
    }
}

/// One entry of a gzip'd tar, with the header fields that must be fixed for the package to be deterministic.
struct Entry {
    name: String,
    kind: tar::EntryType,
    /// mode, mtime, uid, gid
    fields: (u32, u64, u64, u64),
    data: Vec<u8>,
}

fn entries(tgz: &[u8]) -> Vec<Entry> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(tgz));
    let entries = archive.entries().unwrap();
    entries
        .map(|e| {
            let mut e = e.unwrap();
            let h = e.header().clone();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            let fields = (h.mode().unwrap(), h.mtime().unwrap(), h.uid().unwrap(), h.gid().unwrap());
            Entry { name: text(&e.path_bytes()), kind: h.entry_type(), fields, data }
        })
        .collect()
}

fn arg(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn package_writes_the_fabric_layout_deterministically_and_ccid_matches() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = example("counter");
    let indexes = dir.path().join("indexes");
    std::fs::create_dir(&indexes).unwrap();
    let index = br#"{"index":{"fields":["owner"]},"ddoc":"indexOwnerDoc","name":"indexOwner","type":"json"}"#;
    std::fs::write(indexes.join("indexOwner.json"), index).unwrap();
    let (first, second) = (dir.path().join("a.tgz"), dir.path().join("b.tgz"));
    let package = |out: &Path| {
        succeeds(&[
            "package",
            "--label",
            "counter_1.0",
            "--wasm",
            arg(&wasm),
            "--indexes",
            arg(&indexes),
            "-o",
            arg(out),
        ])
    };
    let printed = package(&first);
    package(&second);
    let bytes = std::fs::read(&first).unwrap();
    assert_eq!(bytes, std::fs::read(&second).unwrap(), "two runs must give the same bytes");

    let expected = format!("counter_1.0:{}", hex::encode(Sha256::digest(&bytes)));
    assert_eq!(printed, expected);
    assert_eq!(succeeds(&["ccid", arg(&first)]), expected);

    // gzip header: no timestamp.
    assert_eq!(&bytes[..2], &[0x1f, 0x8b]);
    assert_eq!(&bytes[4..8], &[0, 0, 0, 0]);
    let outer = entries(&bytes);
    let names: Vec<&str> = outer.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["metadata.json", "code.tar.gz"]);
    for e in &outer {
        assert_eq!((e.kind, e.fields), (tar::EntryType::Regular, (0o644, 0, 0, 0)), "{}", e.name);
    }
    let metadata: serde_json::Value = serde_json::from_slice(&outer[0].data).unwrap();
    assert_eq!(metadata, serde_json::json!({"type": "wasm", "label": "counter_1.0", "path": ""}));

    let code = entries(&outer[1].data);
    let names: Vec<&str> = code.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["chaincode.wasm", "META-INF/statedb/couchdb/indexes/indexOwner.json"]);
    for e in &code {
        assert_eq!((e.kind, e.fields), (tar::EntryType::Regular, (0o644, 0, 0, 0)), "{}", e.name);
        assert!(!e.name.starts_with("./") && !e.name.ends_with('/'), "{}", e.name);
    }
    assert_eq!(code[0].data, std::fs::read(&wasm).unwrap());
    assert_eq!(code[1].data, index);

    let report = succeeds(&["check", arg(&first)]);
    assert!(report.starts_with("accepted") && report.contains(&expected), "{report}");
}

#[test]
fn check_accepts_the_examples() {
    for name in ["asset_transfer", "counter", "misbehave"] {
        let report = succeeds(&["check", arg(&example(name))]);
        assert!(report.starts_with("accepted") && report.contains("fabric:chaincode/ledger@0.1.1"), "{report}");
    }
}

#[test]
fn check_refuses_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let garbage = write("garbage.wasm", b"\0asm\x01\0\0\0\xff\xff");
    refuses(&["check", arg(&garbage)], &["refused", "garbage.wasm", "not a valid wasm"]);
    let wasi = write(
        "wasi.wasm",
        &wat::parse_str(
            r#"(module (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32))))"#,
        )
        .unwrap(),
    );
    refuses(&["check", arg(&wasi)], &["refused", "wasi_snapshot_preview1::fd_write"]);
    let shared = write("shared.wasm", &wat::parse_str("(module (memory 1 1 shared))").unwrap());
    refuses(&["check", arg(&shared)], &["threads"]);
    let big = write("big.wasm", &wat::parse_str("(module (memory 5000))").unwrap());
    refuses(&["check", arg(&big)], &["MAX_MEMORY_PAGES", "5000"]);

    let packaged = dir.path().join("counter.tgz");
    succeeds(&["package", "--label", "c", "--wasm", arg(&example("counter")), "-o", arg(&packaged)]);
    let bytes = std::fs::read(&packaged).unwrap();
    let cut = write("cut.tgz", &bytes[..bytes.len() / 2]);
    refuses(&["check", arg(&cut)], &["refused", "truncated"]);
    refuses(&["ccid", arg(&cut)], &["truncated"]);
}

#[test]
fn package_refuses_a_bad_label_or_module() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.tgz");
    refuses(&["package", "--label=-bad", "--wasm", arg(&example("counter")), "-o", arg(&out)], &["\"-bad\""]);
    let garbage = dir.path().join("g.wasm");
    std::fs::write(&garbage, b"garbage").unwrap();
    refuses(&["package", "--label", "ok", "--wasm", arg(&garbage), "-o", arg(&out)], &["would be refused"]);
    assert!(!out.exists(), "nothing is written on refusal");
}

#[test]
fn serve_refuses_zero_workers() {
    let out = wasmcc(&["serve", "--workers", "0"]);
    assert_eq!(out.status.code(), Some(2), "clap's usage error: {}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--workers"), "{}", text(&out.stderr));
}

/// A host configuration in `dir`: data in `dir/data`, the admin API on a free loopback port, chaincodes on `ports`.
/// Returns the file's path and its text (to extend and write again).
fn host_config(dir: &Path, ports: (u16, u16)) -> (PathBuf, String, u16) {
    let admin_port = wasmcc_testkit::ports::free_port();
    let text = format!(
        "data_dir = \"data\"\n[admin]\nlisten = \"127.0.0.1:{admin_port}\"\n[chaincodes]\nport_min = {}\nport_max = {}\n",
        ports.0, ports.1
    );
    let path = dir.join("host.toml");
    std::fs::write(&path, &text).unwrap();
    (path, text, admin_port)
}

/// `wasmcc serve --config <config>` in the background; with `json_logs`, logging JSON to a pipe the caller reads.
fn serve(config: &Path, json_logs: bool) -> Served {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wasmcc"));
    command.args(["serve", "--config", arg(config)]);
    if json_logs {
        command.args(["--log-format", "json"]).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped());
    }
    Served(command.spawn().unwrap())
}

/// Installs `counter` through the CLI as soon as the host takes it; its output.
fn install_counter(config: &Path) -> Output {
    let wasm = example("counter");
    let install = ["install", "--wasm", arg(&wasm), "--label", "counter", "--config", arg(config)];
    (0..300)
        .map(|_| {
            std::thread::sleep(std::time::Duration::from_millis(50));
            wasmcc(&install)
        })
        .find(|out| out.status.success())
        .expect("the host came up and took the package")
}

#[test]
fn install_pins_a_port_and_remove_says_the_route_stays_reserved() {
    let dir = tempfile::tempdir().unwrap();
    let (config, _, admin_port) = host_config(dir.path(), (30300, 30309));
    let _host = serve(&config, false);
    let admin = format!("http://127.0.0.1:{admin_port}");
    let data = dir.path().join("data");
    let with_admin = |args: &[&str]| -> Vec<String> {
        [args, &["--admin", &admin, "--data-dir", arg(&data)]].concat().iter().map(|s| s.to_string()).collect()
    };
    let run = |args: &[&str]| wasmcc(&with_admin(args).iter().map(String::as_str).collect::<Vec<_>>());
    for _ in 0..300 {
        if run(&["list"]).status.success() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    let wasm = example("counter");
    let installed = run(&["install", "--wasm", arg(&wasm), "--label", "counter", "--port", "30305"]);
    let out = text(&installed.stdout);
    assert!(installed.status.success(), "{}", text(&installed.stderr));
    assert!(out.contains("peers dial 127.0.0.1:30305"), "{out}");
    let ccid = out.lines().next().unwrap().rsplit(' ').next().unwrap().to_string();

    // The host's own configuration is enough to find its admin API and its token.
    let listed = wasmcc(&["list", "--config", arg(&config)]);
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    assert!(text(&listed.stdout).contains(&ccid), "{}", text(&listed.stdout));
    // Without a token the refusal says where the CLI looked and what to pass.
    let empty = dir.path().join("empty");
    refuses(
        &["remove", &ccid, "--admin", &admin, "--data-dir", arg(&empty)],
        &["refused the token", "no --token or WASMCC_ADMIN_TOKEN", "--config", "admin.token"],
    );

    let removed = run(&["remove", &ccid]);
    let out = text(&removed.stdout);
    assert!(removed.status.success(), "{}", text(&removed.stderr));
    assert!(out.contains("127.0.0.1:30305") && out.contains("stays reserved") && out.contains("fail"), "{out}");

    // Another chaincode cannot take the port; the CLI says whose it is.
    let other = run(&["install", "--wasm", arg(&example("probe")), "--label", "probe", "--port", "30305"]);
    assert_eq!(other.status.code(), Some(1));
    let err = text(&other.stderr);
    assert!(err.contains("30305") && err.contains(&ccid), "{err}");
}

/// SIGTERM (what Kubernetes and systemd send) stops the host gracefully: it drains, says so, and exits 0; logs are
/// JSON lines with `--log-format json`.
#[test]
fn serve_stops_gracefully_on_sigterm_and_logs_json_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let (config, _, admin_port) = host_config(dir.path(), (30306, 30309));
    let served = serve(&config, true);
    let health = format!("http://127.0.0.1:{admin_port}/healthz");
    let up = (0..300).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(50));
        std::net::TcpStream::connect(("127.0.0.1", admin_port)).is_ok()
    });
    assert!(up, "the host did not come up ({health})");
    let pid = served.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let mut served = served;
    let status = served.0.wait().unwrap();
    assert!(status.success(), "SIGTERM ends the host cleanly: {status}");
    let mut logs = String::new();
    std::io::Read::read_to_string(served.0.stderr.as_mut().unwrap(), &mut logs).unwrap();
    let lines: Vec<serde_json::Value> =
        logs.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    let messages: Vec<&str> = lines.iter().filter_map(|l| l["fields"]["message"].as_str()).collect();
    assert!(messages.contains(&"stopping: draining peer streams"), "{logs}");
    assert!(messages.contains(&"stopped: every peer stream ended with its transactions answered"), "{logs}");
}

/// On a host with a shared SNI port, `wasmcc install` names both routes: builders with `use_sni` send peers to the
/// shared port, the others to the chaincode's own.
#[test]
fn install_prints_the_shared_port_and_server_name_too() {
    let dir = tempfile::tempdir().unwrap();
    let pki = crate::tls::pki();
    for (name, pem) in [("server.pem", &pki.server_cert), ("server.key", &pki.server_key), ("ca.pem", &pki.ca)] {
        std::fs::write(dir.path().join(name), pem).unwrap();
    }
    let (config, base, _) = host_config(dir.path(), (30310, 30311));
    let tls = format!(
        "[tls]\ncert = \"{0}/server.pem\"\nkey = \"{0}/server.key\"\nclient_ca = \"{0}/ca.pem\"\n\
         shared_listen = \"127.0.0.1:30312\"\nsni_suffix = \"cc.test\"\n",
        dir.path().display()
    );
    std::fs::write(&config, format!("{base}{tls}")).unwrap();
    let _host = serve(&config, false);
    let installed = install_counter(&config);
    let out = text(&installed.stdout);
    assert!(out.contains("peers dial 127.0.0.1:3031"), "{out}");
    assert!(out.contains("or the shared port 127.0.0.1:30312 with TLS server name counter-"), "{out}");
    assert!(out.contains(".cc.test (builders with use_sni)"), "{out}");
}

/// SIGHUP reads the configuration file again and says what it applied; a file that does not load changes nothing.
#[test]
fn serve_reloads_its_configuration_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let (config, base, _) = host_config(dir.path(), (30313, 30314));
    let mut served = serve(&config, true);
    let stderr = served.0.stderr.take().unwrap();
    let (tx, lines) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)).map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let installed = install_counter(&config);
    let ccid = text(&installed.stdout).lines().next().unwrap().rsplit(' ').next().unwrap().to_owned();
    let pid = served.0.id().to_string();
    let hangup = |toml: String| {
        std::fs::write(&config, toml).unwrap();
        assert!(Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
        loop {
            let line = lines.recv_timeout(std::time::Duration::from_secs(20)).expect("a log line about the reload");
            if line.contains("SIGHUP") {
                return line;
            }
        }
    };
    let reloaded = hangup(format!("{base}[limits_for.counter]\nfuel = 12345\n"));
    assert!(reloaded.contains("configuration reloaded") && reloaded.contains(&ccid), "{reloaded}");
    let refused = hangup(format!("{base}[limits_for.counter]\nfuel = \"lots\"\n"));
    assert!(refused.contains("reload refused"), "{refused}");
    std::fs::write(&config, &base).unwrap();
    let shown = wasmcc(&["show", &ccid, "--config", arg(&config)]);
    assert!(shown.status.success(), "{}", text(&shown.stderr));
}
