//! The handshake and stream-level behaviour a real peer relies on.

use std::time::Duration;

use wasmcc_host::limits::TxLimits;
use wasmcc_peer::{args, ConnectOptions, Disposition, PeerSim, SimError};
use wasmcc_proto::protos::chaincode_message::Type;
use wasmcc_tests::TestHost;

#[tokio::test]
async fn registers_its_exact_ccid() {
    let mut host = TestHost::new();
    let served = host.serve("counter", "counter", TxLimits::default()).await;
    let peer = PeerSim::new();
    // A peer launching another package gets a REGISTER it does not accept.
    let wrong = format!("counter:{}", "0".repeat(64));
    let opts = ConnectOptions { startup_timeout: Duration::from_millis(500), ..ConnectOptions::default() };
    match peer.connect_with(&served.addr(), &wrong, opts).await {
        Err(SimError::RegisterIgnored { got, .. }) => assert_eq!(got, served.ccid),
        other => panic!("expected the REGISTER to be ignored, got {other:?}"),
    }
    let conn = peer.connect(&served.addr(), &served.ccid).await.unwrap();
    assert_eq!(conn.ccid(), served.ccid);
}

#[tokio::test]
async fn keepalives_are_echoed_and_transactions_go_on() {
    let mut host = TestHost::new();
    let served = host.serve("counter", "counter", TxLimits::default()).await;
    let opts = ConnectOptions { keepalive: Some(Duration::from_millis(20)), ..ConnectOptions::default() };
    let conn = PeerSim::new().connect_with(&served.addr(), &served.ccid, opts).await.unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let echoed = conn.log().entries().iter().filter(|m| m.msg_type == Type::Keepalive as i32).count();
    assert!(echoed >= 2, "KEEPALIVE echoes seen: {echoed}");
    assert_eq!(conn.invoke("ch", args(["inc", "a"])).await.unwrap().payload(), b"1");
    assert_eq!(conn.log().count(Disposition::Dropped), 0);
}

#[tokio::test]
async fn works_with_a_peer_that_offers_no_batching() {
    let mut host = TestHost::new();
    let served = host.serve("counter", "counter", TxLimits::default()).await;
    let opts = ConnectOptions { ready_params: None, ..ConnectOptions::default() };
    let peer = PeerSim::new();
    let conn = peer.connect_with(&served.addr(), &served.ccid, opts).await.unwrap();
    assert_eq!(conn.invoke("ch", args(["inc", "a"])).await.unwrap().payload(), b"1");
    assert_eq!(peer.get("ch", "counter", "a").as_deref(), Some(&b"1"[..]));
}

#[tokio::test]
async fn init_runs_the_guest_init_export() {
    let mut host = TestHost::new();
    let served = host.serve("counter", "counter", TxLimits::default()).await;
    let conn = PeerSim::new().connect(&served.addr(), &served.ccid).await.unwrap();
    let r = conn.init("ch", args(["init"])).await.unwrap();
    assert_eq!(r.status(), Some(200), "{:?}", r.outcome);
    assert_eq!(r.message.r#type, Type::Completed as i32);
}

/// A peer that expects another chaincode on this route stays silent after our REGISTER, and holds its channel's
/// ledger lock while it waits: the host ends such a stream within the bound, with a status that says why.
#[tokio::test]
async fn a_peer_silent_after_register_has_its_stream_ended_with_the_reason() {
    use tokio_stream::wrappers::ReceiverStream;
    use wasmcc_proto::protos::chaincode_client::ChaincodeClient;

    let mut host = TestHost::new();
    let served = host.serve("counter", "counter", TxLimits::default()).await;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", served.addr())).unwrap();
    let mut client = ChaincodeClient::new(channel.connect().await.unwrap());
    // The peer's side of the stream stays open and says nothing.
    let (_silent, outbound) = tokio::sync::mpsc::channel(1);
    let mut inbound = client.connect(ReceiverStream::new(outbound)).await.unwrap().into_inner();
    let register = inbound.message().await.unwrap().unwrap();
    assert_eq!(register.r#type, Type::Register as i32);

    let bound = wasmcc_host::limits::REGISTER_TIMEOUT + Duration::from_secs(10);
    let end = tokio::time::timeout(bound, inbound.message()).await.expect("the host ended the stream within the bound");
    let status = end.expect_err("ended with a non-OK status");
    assert_eq!(status.code(), tonic::Code::DeadlineExceeded, "{status:?}");
    assert!(status.message().contains(&served.ccid) && status.message().contains("REGISTER"), "{status:?}");
}
