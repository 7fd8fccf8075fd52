//! A rolling restart: one of two hosts serving the same chaincode stops (as on SIGTERM) while a peer drives load
//! through it. The stopping host takes no new connection and ends each stream at a moment with nothing in flight,
//! so the peer only ever sees a stream end, redials the other host and retries there: no transaction gets an ERROR,
//! none is lost and none runs twice.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use wasmcc_host::client::AdminClient;
use wasmcc_host::daemon::Daemon;
use wasmcc_peer::{args, PeerConnection, PeerSim, SimError, TxOutcome};
use wasmcc_tests::{free_ports, host_config, wasm};

const CLIENTS: usize = 8;

async fn host(dir: &std::path::Path, ports: (u16, u16)) -> (Daemon, String, String) {
    let daemon = Daemon::start(&host_config(dir, ports)).await.unwrap();
    let admin = AdminClient::new(&daemon.admin_url(), Some("test-token".into()), None).unwrap();
    let package = wasmcc_host::package::write_package("counter", &wasm("counter"), &[]).unwrap();
    let (info, _) = admin.install(package).await.unwrap();
    (daemon, info.route.address.unwrap(), info.ccid)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draining_host_fails_no_transaction_a_peer_could_retry_elsewhere() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (host_a, addr_a, ccid) = host(dir_a.path(), free_ports(10)).await;
    let (host_b, addr_b, ccid_b) = host(dir_b.path(), free_ports(10)).await;
    assert_eq!(ccid, ccid_b, "one package, one CCID on both hosts");
    let peer = PeerSim::new();
    let on_a = peer.connect(&addr_a, &ccid).await.unwrap();
    let on_b = Arc::new(tokio::sync::OnceCell::<PeerConnection>::new());
    let stop = Arc::new(AtomicBool::new(false));

    let mut clients = tokio::task::JoinSet::new();
    for client in 0..CLIENTS {
        let (on_a, on_b, stop, peer) = (on_a.clone(), on_b.clone(), stop.clone(), peer.clone());
        let (addr_b, ccid) = (addr_b.clone(), ccid.clone());
        clients.spawn(async move {
            let key = format!("client{client}");
            let (mut done, mut redialled) = (0u64, 0u64);
            while !stop.load(Ordering::Relaxed) {
                // As a peer does: the connection it has, or, once that stream ended, a new one (the other host).
                let conn = if on_a.is_terminated() {
                    on_b.get_or_init(|| async { peer.connect(&addr_b, &ccid).await.unwrap() }).await.clone()
                } else {
                    on_a.clone()
                };
                match conn.invoke("mychannel", args(["inc", key.as_str()])).await {
                    Ok(result) => match &result.outcome {
                        TxOutcome::Completed(r) if r.status == 200 => done += 1,
                        other => panic!("client {client}: a transaction failed: {other:?}"),
                    },
                    Err(SimError::StreamTerminated { .. }) => redialled += 1,
                    Err(e) => panic!("client {client}: {e}"),
                }
            }
            (key, done, redialled)
        });
    }

    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(host_a.stop_gracefully(Duration::from_secs(10)).await, "every stream ended with nothing in flight");
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);

    let mut redialled_total = 0;
    while let Some(joined) = clients.join_next().await {
        let (key, done, redialled) = joined.unwrap();
        redialled_total += redialled;
        let value = peer.get("mychannel", "counter", &key).unwrap_or_default();
        assert_eq!(String::from_utf8(value).unwrap(), done.to_string(), "{key}: no increment lost or repeated");
    }
    assert!(on_b.get().is_some(), "the load moved to the other host");
    // A transaction sent in the instant the stream ended was never run: the peer saw the stream end, like the others.
    assert!(redialled_total <= CLIENTS as u64, "{redialled_total} retries");
    host_b.shutdown().await;
}
