//! Crash safety: the host is killed with SIGKILL while uploads are in flight. After a restart every acknowledged
//! chaincode serves, and no partially written file is visible.

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::process::{Child, Command};
use wasmcc_host::client::AdminClient;
use wasmcc_host::package::write_package;
use wasmcc_peer::{args, PeerSim};
use wasmcc_testkit::ports::free_port;

const UPLOADS: u32 = 24;
const KILL_AFTER_ACKS: usize = 6;

fn counter_wasm() -> Vec<u8> {
    std::fs::read(crate::example("counter")).expect("reading the counter example")
}

/// `base` plus a custom section naming `n`: the same behaviour, a different module hash.
fn variant(base: &[u8], n: u32) -> Vec<u8> {
    let mut payload = vec![7u8];
    payload.extend_from_slice(b"variant");
    payload.extend_from_slice(&n.to_le_bytes());
    let mut out = base.to_vec();
    out.extend_from_slice(&[0, payload.len() as u8]);
    out.extend_from_slice(&payload);
    out
}

async fn start(config: &Path, admin: &str) -> Child {
    let child = Command::new(env!("CARGO_BIN_EXE_wasmcc"))
        .args(["serve", "--config"])
        .arg(config)
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("starting wasmcc serve");
    let api = AdminClient::new(admin, None, None).unwrap();
    for _ in 0..300 {
        if api.list().await.is_ok() {
            return child;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("wasmcc serve did not come up on {admin}");
}

/// Every file outside tmp/ is whole: modules hash to their names, records parse.
fn assert_no_partial_files(data: &Path) {
    for entry in std::fs::read_dir(data.join("modules")).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(hex::encode(Sha256::digest(&bytes)), path.file_name().unwrap().to_str().unwrap(), "partial module");
    }
    for entry in std::fs::read_dir(data.join("chaincodes")).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        serde_json::from_slice::<serde_json::Value>(&bytes).unwrap_or_else(|e| panic!("partial record {path:?}: {e}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_installs_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let admin_port = free_port();
    let (port_min, port_max) = wasmcc_testkit::ports::free_ports(100);
    let admin = format!("http://127.0.0.1:{admin_port}");
    let config = dir.path().join("host.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"data\"\n[admin]\nlisten = \"127.0.0.1:{admin_port}\"\ntoken = \"t0ken\"\n\
             [chaincodes]\nport_min = {port_min}\nport_max = {port_max}\n"
        ),
    )
    .unwrap();

    let mut host = start(&config, &admin).await;
    let base = counter_wasm();
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let (killed_tx, killed_rx) = tokio::sync::watch::channel(false);
    let mut uploads = tokio::task::JoinSet::new();
    for lane in 0..4u32 {
        let (acked, admin, base, mut killed) = (acked.clone(), admin.clone(), base.clone(), killed_rx.clone());
        uploads.spawn(async move {
            let api = AdminClient::new(&admin, Some("t0ken".into()), None).unwrap();
            for n in (lane..UPLOADS).step_by(4) {
                if *killed.borrow_and_update() {
                    return;
                }
                let pkg = write_package(&format!("crash-{n}"), &variant(&base, n), &[]).unwrap();
                if let Ok((info, _)) = api.install(pkg).await {
                    acked.lock().unwrap().push(info.ccid);
                }
            }
        });
    }
    while acked.lock().unwrap().len() < KILL_AFTER_ACKS {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    host.start_kill().unwrap(); // SIGKILL
    host.wait().await.unwrap();
    killed_tx.send(true).unwrap();
    while uploads.join_next().await.is_some() {}
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= KILL_AFTER_ACKS && acked.len() < UPLOADS as usize, "killed mid-way: {} acks", acked.len());
    assert_no_partial_files(&data);

    let mut host = start(&config, &admin).await;
    assert_eq!(std::fs::read_dir(data.join("tmp")).unwrap().count(), 0, "leftovers are discarded at start");
    let api = AdminClient::new(&admin, None, None).unwrap();
    let listed: Vec<String> = api.list().await.unwrap().into_iter().map(|i| i.ccid).collect();
    let peer = PeerSim::new();
    for ccid in &acked {
        assert!(listed.contains(ccid), "acknowledged {ccid} lost");
        let info = api.show(ccid).await.unwrap();
        let conn = peer.connect(info.route.address.as_deref().unwrap(), ccid).await.unwrap();
        assert_eq!(conn.invoke("ch", args(["inc", "k"])).await.unwrap().payload(), b"1");
    }
    host.start_kill().unwrap();
}
