//! Recorded transactions and `wasmcc replay`: a host records what `[record]` asks for while the peer simulator
//! drives it; each recording replays identically offline; a recording whose peer reply is changed diverges at the
//! call that used it; another module is a shadow upgrade check; damaged files are refused; and a host killed while
//! it records leaves nothing half-written that replay would take.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use wasmcc_host::config::Config;
use wasmcc_host::daemon::Daemon;
use wasmcc_host::package::write_package;
use wasmcc_host::recording::recorder::{chaincode_dir, RecordMode, RecordPolicy};
use wasmcc_host::recording::{Recording, EXTENSION};
use wasmcc_peer::{args, PeerSim};
use wasmcc_testkit::ports::free_port;

fn module(name: &str) -> Vec<u8> {
    std::fs::read(crate::example(name)).expect("an example module")
}

fn replay(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wasmcc")).arg("replay").args(args).output().expect("running wasmcc replay")
}

fn stdout(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// The recordings under `dir`, oldest first.
fn recordings_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == EXTENSION)).collect())
        .unwrap_or_default();
    files.sort();
    files
}

/// Whether the host's admin API answers within 5 s.
async fn answers(api: &wasmcc_host::client::AdminClient) -> bool {
    for _ in 0..200 {
        if api.list().await.is_ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    false
}

/// Waits until the host's recorder has written `count` recordings.
async fn written(daemon: &Daemon, count: u64) {
    for _ in 0..200 {
        if daemon.registry().recorder().is_some_and(|r| r.counts().0 >= count) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the recorder wrote {:?} recordings, not {count}", daemon.registry().recorder().map(|r| r.counts()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_transactions_replay_identically_and_differences_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut config = Config { data_dir: data.clone(), ..Default::default() };
    config.admin.listen = "127.0.0.1:0".parse().unwrap();
    config.admin.token = Some("t".into());
    (config.chaincodes.port_min, config.chaincodes.port_max) = (30500, 30519);
    config.record_for.insert("counter".into(), RecordPolicy { mode: RecordMode::All, ..Default::default() });
    config.record_for.insert("misbehave".into(), RecordPolicy { mode: RecordMode::Errors, ..Default::default() });
    let mut small_fuel = config.limits;
    small_fuel.fuel = 5_000_000;
    config.limits_for.insert("misbehave".into(), small_fuel);
    let daemon = Daemon::start(&config).await.unwrap();
    let registry = daemon.registry();
    let (counter, _) = registry.install(write_package("counter", &module("counter"), &[]).unwrap()).await.unwrap();
    let (misbehave, _) =
        registry.install(write_package("misbehave", &module("misbehave"), &[]).unwrap()).await.unwrap();

    let peer = PeerSim::new();
    let cc = peer.connect(&format!("127.0.0.1:{}", counter.port.unwrap()), &counter.ccid).await.unwrap();
    assert_eq!(cc.init("ch", args(["init"])).await.unwrap().status(), Some(200));
    assert_eq!(cc.invoke("ch", args(["inc", "n"])).await.unwrap().payload(), b"1");
    assert_eq!(cc.invoke("ch", args(["inc", "n"])).await.unwrap().payload(), b"2");
    assert_eq!(cc.invoke("ch", args(["dec", "n"])).await.unwrap().status(), Some(500));
    let mb = peer.connect(&format!("127.0.0.1:{}", misbehave.port.unwrap()), &misbehave.ccid).await.unwrap();
    assert_eq!(mb.invoke("ch", args(["ok"])).await.unwrap().payload(), b"ok");
    mb.invoke("ch", args(["trap"])).await.unwrap();
    mb.invoke("ch", args(["loop"])).await.unwrap();
    assert_eq!(mb.invoke("ch", args(["put", "k", "v"])).await.unwrap().status(), Some(200));
    // counter: all four (the Init too); misbehave, errors only: the trap and the loop that ran out of fuel.
    written(&daemon, 6).await;
    let metrics = wasmcc_host::telemetry::render(daemon.registry());
    assert!(metrics.contains("wasmcc_recordings_total{result=\"written\"} 6"), "{metrics}");
    assert!(metrics.contains("wasmcc_recordings_total{result=\"dropped\"} 0"), "{metrics}");
    let root = data.join("recordings");
    let counter_files = recordings_in(&chaincode_dir(&root, &counter.ccid));
    let misbehave_files = recordings_in(&chaincode_dir(&root, &misbehave.ccid));
    assert_eq!((counter_files.len(), misbehave_files.len()), (4, 2));
    assert!(Recording::read(&counter_files[0]).unwrap().is_init);
    let counter_files = counter_files[1..].to_vec();
    let trap = Recording::read(&misbehave_files[0]).unwrap();
    let out_of_fuel = Recording::read(&misbehave_files[1]).unwrap();
    assert!(trap.ending.summary.is_empty(), "summaries are for people, not read back");
    let text = std::fs::read_to_string(&misbehave_files[1]).unwrap();
    assert!(text.contains("ERROR") && text.contains("fuel"), "{text}");
    assert_eq!(out_of_fuel.limits.fuel, 5_000_000);
    assert_eq!(out_of_fuel.ending.fuel, 5_000_000, "it burned all it had");
    let inc = Recording::read(&counter_files[1]).unwrap();
    assert_eq!(inc.calls.len(), 2, "GET_STATE then PUT_STATE: {inc:?}");
    daemon.shutdown().await;

    // Every recording, replayed offline with the modules of the data directory: identical, fuel included.
    let data_arg = data.to_str().unwrap();
    let out = replay(&["--data-dir", data_arg, root.to_str().unwrap()]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("6 recording(s): 6 identical, 0 same result with other fuel, 0 changed"), "{text}");
    // The same, compiled for a debugger: as built, without the host's rewrite of memory.copy and memory.fill, so the
    // same calls and answer (and, when the module has fills or copies, a few units of fuel less).
    let out = replay(&["--debug", "--data-dir", data_arg, counter_files[1].to_str().unwrap()]);
    assert!(
        stdout(&out).contains("1 recording(s): ") && stdout(&out).contains(" 0 changed, 0 unusable"),
        "{}",
        stdout(&out)
    );

    // The peer's first reply changed (the counter read 7, not 1): the guest writes another value, and the replay
    // names the second stub call and both writes.
    let mut changed = inc.clone();
    changed.calls[0].reply.payload = b"7".to_vec();
    let changed_file = dir.path().join(format!("changed.{EXTENSION}"));
    std::fs::write(&changed_file, changed.encode()).unwrap();
    let out = replay(&["--data-dir", data_arg, changed_file.to_str().unwrap()]);
    let text = stdout(&out);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains(
            r#"stub call #2 differs: recorded WRITE_BATCH_STATE key "n" = "2", replayed WRITE_BATCH_STATE key "n" = "8""#
        ),
        "{text}"
    );
    assert!(text.contains("0 identical") && text.contains("1 changed"), "{text}");
    // A recording that ends before the guest does: the call it does not hold is named, nothing crashes.
    let mut short = inc.clone();
    short.calls.pop();
    let short_file = dir.path().join(format!("short.{EXTENSION}"));
    std::fs::write(&short_file, short.encode()).unwrap();
    let out = replay(&["--data-dir", data_arg, short_file.to_str().unwrap()]);
    let text = stdout(&out);
    assert!(
        text.contains("stub call #2 is not in the recording (it ended after 1 calls): replayed WRITE_BATCH_STATE"),
        "{text}"
    );

    // Shadow check before an upgrade: the counter's recordings against its next version, which writes one key more.
    // The increments change at the stub call that sends the writes; the Init and the refused `dec` answer as before
    // (with the same fuel or nearly: the compiler may lay the same source out differently in another module).
    let v2 = dir.path().join("counter-v2.tgz");
    std::fs::write(&v2, write_package("counter", &module("counter_v2"), &[]).unwrap()).unwrap();
    let counter_dir = chaincode_dir(&root, &counter.ccid);
    let out = replay(&["--package", v2.to_str().unwrap(), counter_dir.to_str().unwrap()]);
    let text = stdout(&out);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("4 recording(s): ") && text.contains(", 2 changed, 0 unusable"), "{text}");
    let by = r#"replayed WRITE_BATCH_STATE key "n" = "2", key "n~by" = "Org1MSP""#;
    assert!(
        text.contains(&format!(r#"stub call #2 differs: recorded WRITE_BATCH_STATE key "n" = "2", {by}"#)),
        "{text}"
    );
    assert!(!text.contains("answer differs"), "past a divergence the answer is not compared: {text}");
    // Another module altogether, which knows no `inc`: it makes no stub call at all.
    let probe = crate::example("probe");
    let out = replay(&["--wasm", probe.to_str().unwrap(), counter_dir.to_str().unwrap()]);
    let text = stdout(&out);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("4 recording(s): 0 identical, 0 same result with other fuel, 4 changed"), "{text}");
    assert!(text.contains(r#"stub call #1 is not in the recording (it ended after 0 calls): replayed WRITE_BATCH_STATE key "initialized""#), "{text}");
    assert!(text.contains("the replay made 0 stub calls, the recording 2"), "{text}");
    // The same package, as a package: nothing changes.
    let package = dir.path().join("counter.tgz");
    std::fs::write(&package, write_package("counter", &module("counter"), &[]).unwrap()).unwrap();
    let out = replay(&["--package", package.to_str().unwrap(), counter_dir.to_str().unwrap()]);
    assert!(out.status.success() && stdout(&out).contains("4 identical"), "{}", stdout(&out));

    // Damaged files: cut short, changed in one byte, not a recording at all.
    let bytes = std::fs::read(&counter_files[0]).unwrap();
    let cut = dir.path().join(format!("cut.{EXTENSION}"));
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let mut flipped = bytes.clone();
    let at = bytes.len() / 3;
    flipped[at] = if flipped[at] == b'A' { b'B' } else { b'A' };
    let bad = dir.path().join(format!("flipped.{EXTENSION}"));
    std::fs::write(&bad, flipped).unwrap();
    let junk = dir.path().join(format!("junk.{EXTENSION}"));
    std::fs::write(&junk, b"hello\n").unwrap();
    let out = replay(&["--data-dir", data_arg, cut.to_str().unwrap(), bad.to_str().unwrap(), junk.to_str().unwrap()]);
    let text = stdout(&out);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("cut.wasmcc-tx: not a complete recording"), "{text}");
    assert!(text.contains("flipped.wasmcc-tx: the checksum does not match"), "{text}");
    assert!(text.contains("junk.wasmcc-tx: not a complete recording"), "{text}");
    assert!(text.contains("3 unusable"), "{text}");
    // A module the data directory does not have is named.
    let out = replay(&["--data-dir", dir.path().to_str().unwrap(), counter_files[0].to_str().unwrap()]);
    assert!(stdout(&out).contains(&format!("the recorded module {} is not in", inc.module_hash)), "{}", stdout(&out));
}

/// `kill -9` while a host records every transaction: whatever is in the recordings directory afterwards is whole
/// (or in `.tmp`, which replay never reads and the next start clears), and replays identically.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_killed_while_recording_leaves_only_whole_recordings() {
    let dir = tempfile::tempdir().unwrap();
    let admin_port = free_port();
    let config = dir.path().join("host.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"data\"\n[admin]\nlisten = \"127.0.0.1:{admin_port}\"\ntoken = \"t0ken\"\n\
             [chaincodes]\nport_min = 30520\nport_max = 30529\n[record]\nmode = \"all\"\n"
        ),
    )
    .unwrap();
    let serve = || {
        Command::new(env!("CARGO_BIN_EXE_wasmcc"))
            .args(["serve", "--config"])
            .arg(&config)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map(crate::Served)
            .expect("starting wasmcc serve")
    };
    let host = serve();
    let api =
        wasmcc_host::client::AdminClient::new(&format!("http://127.0.0.1:{admin_port}"), Some("t0ken".into()), None)
            .unwrap();
    assert!(answers(&api).await, "the host did not come up");
    let (info, _) = api.install(write_package("counter", &module("counter"), &[]).unwrap()).await.unwrap();
    let peer = PeerSim::new();
    let conn = peer.connect(info.route.address.as_deref().unwrap(), &info.ccid).await.unwrap();
    // Transactions keep going in the background while the host is killed under them.
    let driver = tokio::spawn(async move {
        for i in 0.. {
            if conn.invoke("ch", args(["inc", &format!("k{}", i % 7)])).await.is_err() {
                return i;
            }
        }
        unreachable!()
    });
    let data = dir.path().join("data");
    let counter_dir = chaincode_dir(&data.join("recordings"), &info.ccid);
    for _ in 0..400 {
        if recordings_in(&counter_dir).len() >= 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(host); // SIGKILL
    let sent = driver.await.unwrap();
    let files = recordings_in(&counter_dir);
    assert!(files.len() >= 20, "only {} recordings of {sent} transactions", files.len());
    for file in &files {
        Recording::read(file).unwrap_or_else(|e| panic!("a recording replay would take is damaged: {e}"));
    }
    let out = replay(&["--data-dir", data.to_str().unwrap(), data.join("recordings").to_str().unwrap()]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains(&format!("{0} recording(s): {0} identical", files.len())), "{text}");

    // The next start clears what the killed writer left in .tmp.
    let _host = serve();
    answers(&api).await;
    let conn = peer.connect(info.route.address.as_deref().unwrap(), &info.ccid).await.unwrap();
    conn.invoke("ch", args(["get", "k0"])).await.unwrap();
    let tmp = data.join("recordings/.tmp");
    for _ in 0..200 {
        if recordings_in(&counter_dir).len() > files.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0, "{tmp:?} is cleared at start");
}

/// Recording follows a reloaded configuration (SIGHUP): off, nothing is written; turned on, the next transactions of
/// the chaincode it names are recorded, and only those.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reloaded_configuration_turns_recording_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config { data_dir: dir.path().join("data"), ..Default::default() };
    config.admin.listen = "127.0.0.1:0".parse().unwrap();
    (config.chaincodes.port_min, config.chaincodes.port_max) = (30530, 30539);
    let daemon = Daemon::start(&config).await.unwrap();
    let (counter, _) =
        daemon.registry().install(write_package("counter", &module("counter"), &[]).unwrap()).await.unwrap();
    let (probe, _) = daemon.registry().install(write_package("probe", &module("probe"), &[]).unwrap()).await.unwrap();
    let peer = PeerSim::new();
    let cc = peer.connect(&format!("127.0.0.1:{}", counter.port.unwrap()), &counter.ccid).await.unwrap();
    let other = peer.connect(&format!("127.0.0.1:{}", probe.port.unwrap()), &probe.ccid).await.unwrap();
    cc.invoke("ch", args(["inc", "n"])).await.unwrap();
    assert!(daemon.registry().recorder().is_none(), "nothing asked for recording");

    config.record_for.insert(counter.ccid.clone(), RecordPolicy { mode: RecordMode::All, ..Default::default() });
    daemon.reload(&config).unwrap();
    cc.invoke("ch", args(["inc", "n"])).await.unwrap();
    other.invoke("ch", args(["put", "k", "v"])).await.unwrap();
    written(&daemon, 1).await;
    let root = dir.path().join("data/recordings");
    let files = recordings_in(&chaincode_dir(&root, &counter.ccid));
    assert_eq!(files.len(), 1);
    Recording::read(&files[0]).unwrap();
    assert!(std::fs::read_to_string(&files[0]).unwrap().contains(r#""args":["inc","n"]"#));
    assert!(recordings_in(&chaincode_dir(&root, &probe.ccid)).is_empty(), "probe is not named");
    daemon.shutdown().await;
}
