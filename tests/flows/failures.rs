//! A misbehaving guest ends with a clear ERROR within its limits, and the stream and host keep serving.

use std::time::Duration;

use wasmcc_host::limits::TxLimits;
use wasmcc_peer::{args, PeerConnection, PeerSim};
use wasmcc_tests::TestHost;

/// Small limits keep the tests quick; the mechanisms are the ones the defaults use.
const TEST_LIMITS: TxLimits = TxLimits {
    memory_bytes: 16 * 1024 * 1024,
    fuel: 200_000_000,
    run_time_ms: 20_000,
    ..wasmcc_host::limits::DEFAULT_TX_LIMITS
};

async fn misbehave(limits: TxLimits) -> (TestHost, PeerSim, PeerConnection) {
    let mut host = TestHost::new();
    let served = host.serve("misbehave", "misbehave", limits).await;
    let peer = PeerSim::new();
    let conn = peer.connect(&served.addr(), &served.ccid).await.unwrap();
    (host, peer, conn)
}

async fn assert_still_serving(conn: &PeerConnection) {
    let ok = conn.invoke("ch", args(["ok"])).await.unwrap();
    assert_eq!(ok.status(), Some(200), "{:?}", ok.outcome);
    assert_eq!(ok.payload(), b"ok");
}

#[tokio::test]
async fn unknown_function_is_status_500_with_a_message() {
    let mut host = TestHost::new();
    let served = host.serve("asset-transfer", "asset_transfer", TxLimits::default()).await;
    let conn = PeerSim::new().connect(&served.addr(), &served.ccid).await.unwrap();
    let r = conn.invoke("ch", args(["Nope"])).await.unwrap();
    assert_eq!(r.status(), Some(500));
    assert!(r.response().unwrap().message.contains("Nope"), "{:?}", r.outcome);
    let next = conn.invoke("ch", args(["AssetExists", "x"])).await.unwrap();
    assert_eq!(next.payload(), b"false");
}

/// A panic's message and location reach the peer's ERROR through the SDK's panic hook and the `abort` import.
#[tokio::test]
async fn a_panic_is_error_with_its_message() {
    let (_host, _peer, conn) = misbehave(TEST_LIMITS).await;
    let r = conn.invoke("ch", args(["trap"])).await.unwrap();
    let text = r.error().unwrap_or_else(|| panic!("expected ERROR, got {:?}", r.outcome));
    assert!(text.starts_with("chaincode panicked: misbehave: trap requested at "), "{text}");
    assert!(text.contains("misbehave/src/lib.rs:"), "{text}");
    assert!(!r.is_committed());
    // The system clock does not exist in the sandbox: the panic says what to use instead.
    let r = conn.invoke("ch", args(["clock"])).await.unwrap();
    let text = r.error().unwrap_or_else(|| panic!("expected ERROR, got {:?}", r.outcome));
    assert!(text.starts_with("chaincode panicked: time not implemented on this platform"), "{text}");
    assert!(text.contains("use Stub::tx_timestamp"), "{text}");
    assert_still_serving(&conn).await;
}

#[tokio::test]
async fn endless_loop_runs_out_of_fuel() {
    let (_host, _peer, conn) = misbehave(TEST_LIMITS).await;
    let r = conn.invoke("ch", args(["loop"])).await.unwrap();
    let text = r.error().unwrap_or_else(|| panic!("expected ERROR, got {:?}", r.outcome));
    assert!(text.contains("fuel budget of 200000000"), "{text}");
    assert_still_serving(&conn).await;
}

#[tokio::test]
async fn endless_loop_hits_the_run_time_backstop() {
    let limits = TxLimits { fuel: u64::MAX / 2, run_time_ms: 300, ..TEST_LIMITS };
    let (_host, _peer, conn) = misbehave(limits).await;
    let r = conn.invoke("ch", args(["loop"])).await.unwrap();
    let text = r.error().unwrap_or_else(|| panic!("expected ERROR, got {:?}", r.outcome));
    assert!(text.contains("run-time limit of 300 ms"), "{text}");
    assert_still_serving(&conn).await;
}

#[tokio::test]
async fn unbounded_allocation_hits_the_memory_cap() {
    let (_host, _peer, conn) = misbehave(TEST_LIMITS).await;
    let r = conn.invoke("ch", args(["alloc"])).await.unwrap();
    let text = r.error().unwrap_or_else(|| panic!("expected ERROR, got {:?}", r.outcome));
    assert!(text.contains("memory limit exceeded"), "{text}");
    assert!(text.contains(&TEST_LIMITS.memory_bytes.to_string()), "{text}");
    assert_still_serving(&conn).await;
}

#[tokio::test]
async fn one_misbehaving_transaction_does_not_disturb_concurrent_ones() {
    let (_host, peer, conn) = misbehave(TEST_LIMITS).await;
    let looping = conn.invoke("ch", args(["loop"]));
    let honest = async {
        tokio::time::sleep(Duration::from_millis(10)).await;
        conn.invoke("ch", args(["put", "k", "v"])).await.unwrap()
    };
    let (looped, honest) = tokio::join!(looping, honest);
    assert!(looped.unwrap().error().is_some());
    assert_eq!(honest.status(), Some(200));
    assert_eq!(peer.get("ch", "misbehave", "k").as_deref(), Some(&b"v"[..]));
}
