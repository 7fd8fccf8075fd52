//! A peer that vanishes mid-transaction: the host drops the transaction's instance and task, and accepts a new
//! Connect for the same CCID.

use std::time::Duration;

use wasmcc_host::limits::TxLimits;
use wasmcc_peer::{args, ConnectOptions, PeerSim};
use wasmcc_tests::TestHost;

async fn settle(check: impl Fn() -> bool) -> bool {
    for _ in 0..200 {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

#[tokio::test]
async fn disconnect_mid_transaction_frees_everything_and_reconnect_works() {
    let mut host = TestHost::new();
    let served = host.serve("misbehave", "misbehave", TxLimits::default()).await;
    let gauges = host.engine().gauges().clone();
    let peer = PeerSim::new();

    // The peer sits on the PUT_STATE request, so the transactions are parked inside the guest when it vanishes.
    let slow = ConnectOptions { request_delay: Some(Duration::from_secs(60)), ..ConnectOptions::default() };
    let conn = peer.connect_with(&served.addr(), &served.ccid, slow).await.unwrap();
    let pending: Vec<_> = (0..4)
        .map(|i| {
            let conn = conn.clone();
            tokio::spawn(async move { conn.invoke("ch", args(["put".to_string(), format!("k{i}"), "v".into()])).await })
        })
        .collect();
    assert!(settle(|| gauges.live_instances() == 4).await, "instances: {}", gauges.live_instances());
    assert_eq!(gauges.live_transactions(), 4);

    conn.close();
    for p in pending {
        let outcome = p.await.unwrap();
        assert!(outcome.is_err(), "a transaction on a closed stream cannot complete: {outcome:?}");
    }
    assert!(
        settle(|| gauges.live_instances() == 0 && gauges.live_transactions() == 0).await,
        "leaked: {} instances, {} transactions",
        gauges.live_instances(),
        gauges.live_transactions()
    );

    // The same CCID registers again on a new stream and serves.
    let again = peer.connect(&served.addr(), &served.ccid).await.unwrap();
    let r = again.invoke("ch", args(["put", "k", "v"])).await.unwrap();
    assert_eq!(r.status(), Some(200));
    assert!(r.is_committed());
    assert_eq!(peer.get("ch", "misbehave", "k").as_deref(), Some(&b"v"[..]));
}
