//! One host, two chaincodes, two channels, 1,000 transactions with 32 in flight.

use std::collections::BTreeMap;

use futures::StreamExt;
use wasmcc_host::limits::TxLimits;
use wasmcc_peer::{args, PeerSim};
use wasmcc_tests::TestHost;

const CHANNELS: [&str; 2] = ["mychannel", "otherchannel"];
const TRANSACTIONS: usize = 1_000;
const IN_FLIGHT: usize = 32;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_transactions_two_chaincodes_two_channels() {
    let mut host = TestHost::new();
    let assets = host.serve("asset-transfer", "asset_transfer", TxLimits::default()).await;
    let counter = host.serve("counter", "counter", TxLimits::default()).await;
    let peer = PeerSim::new();
    let assets_conn = peer.connect(&assets.addr(), &assets.ccid).await.unwrap();
    let counter_conn = peer.connect(&counter.addr(), &counter.ccid).await.unwrap();

    // Every transaction writes keys of its own, so none conflicts and the final state is known in advance.
    let results = futures::stream::iter(0..TRANSACTIONS)
        .map(|i| {
            let channel = CHANNELS[(i / 2) % 2];
            let (conn, call) = if i % 2 == 0 {
                let id = format!("asset{i}");
                (
                    &assets_conn,
                    args([
                        "CreateAsset".to_string(),
                        id,
                        "blue".into(),
                        (i % 10).to_string(),
                        format!("owner{i}"),
                        i.to_string(),
                    ]),
                )
            } else {
                (&counter_conn, args(["inc".to_string(), format!("n{i}")]))
            };
            async move { (i, channel, conn.invoke(channel, call).await.expect("transaction")) }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect::<Vec<_>>()
        .await;

    assert_eq!(results.len(), TRANSACTIONS);
    for (i, channel, result) in &results {
        assert_eq!(result.status(), Some(200), "tx {i}: {:?}", result.outcome);
        assert!(result.is_committed(), "tx {i} did not commit: {:?}", result.commit);
        // The reply must echo the transaction's channel and txid exactly.
        assert_eq!(result.message.channel_id, *channel);
        assert_eq!(result.message.txid, result.txid);
    }

    for channel in CHANNELS {
        let mut want_assets = BTreeMap::new();
        let mut want_counts = BTreeMap::new();
        for i in (0..TRANSACTIONS).filter(|i| CHANNELS[(i / 2) % 2] == channel) {
            if i % 2 == 0 {
                let doc = serde_json::json!({
                    "ID": format!("asset{i}"), "Color": "blue", "Size": i % 10,
                    "Owner": format!("owner{i}"), "AppraisedValue": i,
                });
                want_assets.insert(format!("asset{i}"), doc);
            } else {
                want_counts.insert(format!("n{i}"), b"1".to_vec());
            }
        }
        let got_assets: BTreeMap<_, _> = peer
            .snapshot(channel, "asset-transfer")
            .into_iter()
            .map(|(k, v)| (k, serde_json::from_slice::<serde_json::Value>(&v).expect("asset JSON")))
            .collect();
        assert_eq!(got_assets, want_assets, "asset-transfer state on {channel}");
        assert_eq!(peer.snapshot(channel, "counter"), want_counts, "counter state on {channel}");
    }
}

#[tokio::test]
async fn asset_transfer_lifecycle_and_error_texts() {
    let mut host = TestHost::new();
    let assets = host.serve("asset-transfer", "asset_transfer", TxLimits::default()).await;
    let peer = PeerSim::new();
    let conn = peer.connect(&assets.addr(), &assets.ccid).await.unwrap();
    let ch = "mychannel";

    assert_eq!(conn.invoke(ch, args(["InitLedger"])).await.unwrap().status(), Some(200));
    let read = conn.invoke(ch, args(["ReadAsset", "asset1"])).await.unwrap();
    let doc: serde_json::Value = serde_json::from_slice(read.payload()).unwrap();
    assert_eq!(doc["Owner"], "Tomoko");

    let dup = conn.invoke(ch, args(["CreateAsset", "asset1", "red", "1", "X", "1"])).await.unwrap();
    assert_eq!(dup.status(), Some(500));
    assert_eq!(dup.response().unwrap().message, "the asset asset1 already exists");
    assert!(!dup.is_committed());

    let old = conn.invoke(ch, args(["TransferAsset", "asset1", "Ada"])).await.unwrap();
    assert_eq!(old.payload(), b"Tomoko");
    let exists = conn.invoke(ch, args(["AssetExists", "asset1"])).await.unwrap();
    assert_eq!(exists.payload(), b"true");
    assert_eq!(conn.invoke(ch, args(["DeleteAsset", "asset1"])).await.unwrap().status(), Some(200));
    assert_eq!(peer.get(ch, "asset-transfer", "asset1"), None);
    let missing = conn.invoke(ch, args(["ReadAsset", "asset1"])).await.unwrap();
    assert_eq!(missing.response().unwrap().message, "the asset asset1 does not exist");
}

/// A gateway hands its peer the client's own signed proposal: the chaincode runs it as the client sent it (txid,
/// creator, arguments), and only a submit commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clients_own_signed_proposal_runs_as_sent() {
    use wasmcc_peer::{build_proposal, Identity, ProposalSpec, SimError};
    use wasmcc_proto::protos::ChaincodeInput;

    let mut host = TestHost::new();
    let assets = host.serve("asset-transfer", "asset_transfer", TxLimits::default()).await;
    let peer = PeerSim::new();
    let conn = peer.connect(&assets.addr(), &assets.ccid).await.unwrap();
    let client = Identity::generate("Org2MSP", "ada").unwrap();
    let transient = std::collections::HashMap::new();
    let propose = |chaincode: &str, call: &[&str]| {
        let input = ChaincodeInput { args: args(call.iter().copied()), ..Default::default() };
        let spec = ProposalSpec::new("mychannel", chaincode, &input, &transient, &client);
        build_proposal(&spec).unwrap()
    };
    let ns = conn.namespace().to_owned();

    let create = propose(&ns, &["CreateAsset", "a1", "blue", "5", "Ada", "10"]);
    let created = conn.execute_proposal(create.signed, true).await.unwrap();
    assert_eq!(created.status(), Some(200), "{:?}", created.outcome);
    assert!(peer.get("mychannel", &ns, "a1").is_some(), "a submitted proposal is committed");

    let transfer = propose(&ns, &["TransferAsset", "a1", "Bo"]);
    let evaluated = conn.execute_proposal(transfer.signed, false).await.unwrap();
    assert_eq!(evaluated.payload(), b"Ada");
    let stored: serde_json::Value = serde_json::from_slice(&peer.get("mychannel", &ns, "a1").unwrap()).unwrap();
    assert_eq!(stored["Owner"], "Ada", "an evaluated proposal commits nothing");

    let elsewhere = propose("marbles", &["ReadAsset", "a1"]);
    match conn.execute_proposal(elsewhere.signed, false).await {
        Err(SimError::BadProposal(reason)) => assert!(reason.contains("marbles"), "{reason}"),
        other => panic!("a proposal for another chaincode must be refused, got {:?}", other.map(|r| r.outcome)),
    }
}
