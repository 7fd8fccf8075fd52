//! What the host sends for the stub calls, seen in the simulated peer's request log: write batching, multi-key reads,
//! iterator batches, and the per-transaction iterator limit.

use wasmcc_host::limits::{self, TxLimits};
use wasmcc_peer::{args, ConnectOptions, PeerConnection, PeerSim, TxOptions, TxResult};
use wasmcc_tests::{Served, TestHost};

async fn probe(host: &mut TestHost) -> Served {
    host.serve("probe", "probe", TxLimits::default()).await
}

async fn connect(peer: &PeerSim, served: &Served, batching: bool) -> PeerConnection {
    let mut opts = ConnectOptions { namespace: Some("probe".into()), ..Default::default() };
    if !batching {
        // An older peer: an empty READY payload, so no batching and no multi-key reads.
        opts.ready_params = None;
    }
    peer.connect_with(&served.addr(), &served.ccid, opts).await.unwrap()
}

/// The request types one transaction sent, in order.
fn sent(conn: &PeerConnection, r: &TxResult) -> Vec<String> {
    conn.log().for_tx(&r.channel_id, &r.txid).into_iter().map(|m| m.type_name).collect()
}

fn fifty_puts() -> Vec<Vec<u8>> {
    let mut call = vec!["put".to_string()];
    for i in 0..50 {
        call.push(format!("key{i:02}"));
        call.push(format!("value{i}"));
    }
    args(call)
}

#[tokio::test]
async fn fifty_writes_are_one_write_batch_when_ready_offers_it_and_fifty_puts_otherwise() {
    let mut host = TestHost::new();
    let served = probe(&mut host).await;
    for (batching, expected) in [(true, vec!["WRITE_BATCH_STATE".to_string()]), (false, vec!["PUT_STATE".into(); 50])] {
        let peer = PeerSim::new();
        let conn = connect(&peer, &served, batching).await;
        let r = conn.invoke("mychannel", fifty_puts()).await.unwrap();
        assert_eq!(r.status(), Some(200), "{:?}", r.outcome);
        assert!(r.is_committed());
        let mut types = sent(&conn, &r);
        assert_eq!(types.pop().as_deref(), Some("COMPLETED"));
        assert_eq!(types, expected, "batching offered: {batching}");
        let state = peer.snapshot("mychannel", "probe");
        assert_eq!(state.len(), 50);
        assert_eq!(state["key07"], b"value7");
    }
}

#[tokio::test]
async fn a_multi_key_read_is_one_request_when_offered_and_one_per_key_otherwise() {
    let mut host = TestHost::new();
    let served = probe(&mut host).await;
    for (batching, expected) in [(true, vec!["GET_STATE_MULTIPLE"]), (false, vec!["GET_STATE"; 3])] {
        let peer = PeerSim::new();
        peer.seed("mychannel", "probe", [("a", "1"), ("c", "3")]);
        let conn = connect(&peer, &served, batching).await;
        let r = conn.invoke("mychannel", args(["getMulti", "a", "b", "c"])).await.unwrap();
        assert_eq!(r.payload(), br#"["1",null,"3"]"#);
        let mut types = sent(&conn, &r);
        types.pop();
        assert_eq!(types, expected);
    }
}

#[tokio::test]
async fn a_long_range_is_read_in_batches_of_one_hundred() {
    let mut host = TestHost::new();
    let served = probe(&mut host).await;
    let peer = PeerSim::new();
    peer.seed("mychannel", "probe", (0..250).map(|i| (format!("k{i:03}"), "v")));
    let conn = connect(&peer, &served, true).await;
    let r = conn.invoke("mychannel", args(["range", "", ""])).await.unwrap();
    let results: serde_json::Value = serde_json::from_slice(r.payload()).unwrap();
    assert_eq!(results.as_array().unwrap().len(), 250);
    let mut types = sent(&conn, &r);
    types.pop();
    assert_eq!(types, ["GET_STATE_BY_RANGE", "QUERY_STATE_NEXT", "QUERY_STATE_NEXT"]);
}

#[tokio::test]
async fn an_iterator_left_open_is_closed_before_the_transaction_answers() {
    let mut host = TestHost::new();
    let served = probe(&mut host).await;
    let peer = PeerSim::new();
    peer.seed("mychannel", "probe", (0..150).map(|i| (format!("k{i:03}"), "v")));
    let conn = connect(&peer, &served, true).await;
    // Reads 3 of 150, then closes: the peer still held the iterator, so QUERY_STATE_CLOSE goes out.
    let r = conn.invoke("mychannel", args(["rangeFirst", "", "", "3"])).await.unwrap();
    assert_eq!(r.status(), Some(200));
    let mut types = sent(&conn, &r);
    types.pop();
    assert_eq!(types, ["GET_STATE_BY_RANGE", "QUERY_STATE_CLOSE"]);
}

#[tokio::test]
async fn too_many_open_iterators_is_a_clear_error_for_the_guest() {
    let mut host = TestHost::new();
    let served = host.serve("misbehave", "misbehave", TxLimits::default()).await;
    let peer = PeerSim::new();
    let conn = peer.connect(&served.addr(), &served.ccid).await.unwrap();
    let r = conn.invoke("ch", args(["iterators"])).await.unwrap();
    let message = &r.response().expect("the guest answers").message;
    assert!(message.contains(&format!("at most {} open query iterators", limits::MAX_OPEN_ITERATORS)), "{message}");
}

#[tokio::test]
async fn decorations_reach_the_guest_from_the_transaction_payload() {
    let mut host = TestHost::new();
    let served = probe(&mut host).await;
    let peer = PeerSim::new();
    let conn = connect(&peer, &served, true).await;
    let opts = TxOptions::new().decoration("zeta", "2").decoration("alpha", "1");
    let r = conn.invoke_with("mychannel", args(["decorations"]), &opts).await.unwrap();
    assert_eq!(r.payload(), br#"{"alpha":"1","zeta":"2"}"#);
}

#[tokio::test]
async fn multi_key_private_reads_and_all_composite_keys_paginated() {
    let mut host = TestHost::new();
    let served = probe(&mut host).await;
    let peer = PeerSim::new();
    peer.seed_private("mychannel", "probe", "coll", [("a", "1"), ("c", "3")]);
    peer.seed("mychannel", "probe", [("\u{0}t\u{0}x\u{0}", "1"), ("\u{0}t\u{0}y\u{0}", "2"), ("plain", "p")]);
    let conn = connect(&peer, &served, true).await;

    let r = conn.invoke("mychannel", args(["getMultiPrivate", "coll", "a", "b", "c"])).await.unwrap();
    assert_eq!(r.payload(), br#"["1",null,"3"]"#, "{:?}", r.outcome);
    let mut types = sent(&conn, &r);
    types.pop();
    assert_eq!(types, ["GET_STATE_MULTIPLE"]);

    let r = conn.invoke_with("mychannel", args(["allCompositePage", "1", ""]), &TxOptions::new().evaluate()).await;
    let page: serde_json::Value = serde_json::from_slice(r.unwrap().payload()).unwrap();
    assert_eq!(page["fetched"], 1);
    assert_eq!(page["results"][0]["key"], "\u{0}t\u{0}x\u{0}");
    assert_eq!(page["bookmark"], "\u{0}t\u{0}y\u{0}", "simple keys are outside the composite key space");
}
