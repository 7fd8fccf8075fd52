//! When the host ends a peer stream it says why: every transaction in flight gets ERROR, then the stream ends with
//! a non-OK gRPC status naming the reason. And a peer's duplicate transaction never orphans the first one's result.

use std::collections::HashMap;
use std::time::Duration;

use prost::Message;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::{Code, Status, Streaming};
use wasmcc_host::client::AdminClient;
use wasmcc_host::daemon::Daemon;
use wasmcc_host::package::write_package;
use wasmcc_peer::proposal::{build_proposal, Identity, ProposalSpec};
use wasmcc_peer::{args, ConnectOptions, PeerSim};
use wasmcc_proto::protos::chaincode_client::ChaincodeClient;
use wasmcc_proto::protos::chaincode_message::Type;
use wasmcc_proto::protos::{ChaincodeInput, ChaincodeMessage, Response};
use wasmcc_tests::{free_ports, host_config, wasm, TestHost};

#[tokio::test]
async fn removing_a_chaincode_answers_its_in_flight_transactions_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(&host_config(dir.path(), free_ports(10))).await.unwrap();
    let api = AdminClient::new(&daemon.admin_url(), Some(daemon.token().to_string()), None).unwrap();
    let (info, _) = api.install(write_package("probe", &wasm("probe"), &[]).unwrap()).await.unwrap();
    let gauges = daemon.registry().engine().gauges().clone();
    // The peer sits on GET_STATE, so the transactions are in flight when the chaincode goes.
    let slow = ConnectOptions { request_delay: Some(Duration::from_secs(600)), ..ConnectOptions::default() };
    let conn = PeerSim::new().connect_with(info.route.address.as_deref().unwrap(), &info.ccid, slow).await.unwrap();
    let pending: Vec<_> = (0..3)
        .map(|_| {
            let conn = conn.clone();
            tokio::spawn(async move { conn.invoke("ch", args(["get", "k"])).await })
        })
        .collect();
    for _ in 0..500 {
        if gauges.live_instances() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(gauges.live_instances(), 3);

    api.remove(&info.ccid).await.unwrap();
    for p in pending {
        let r = p.await.unwrap().expect("the transaction is answered");
        let text = r.error().unwrap_or_else(|| panic!("expected ERROR, got {:?}", r.outcome));
        assert!(text.contains("no longer served") && text.contains(&info.ccid), "{text}");
    }
    tokio::time::timeout(Duration::from_secs(10), conn.closed()).await.expect("the stream ends");
    let reason = conn.termination_reason().unwrap();
    assert!(reason.contains("currently unavailable") && reason.contains("no longer served"), "{reason}");
    daemon.shutdown().await;
}

/// Sends raw bytes as the gRPC message: what a broken or hostile peer can put on the wire.
#[derive(Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = ChaincodeMessage;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        bytes::BufMut::put_slice(dst, &item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = ChaincodeMessage;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<ChaincodeMessage>, Status> {
        ChaincodeMessage::decode(src).map(Some).map_err(|e| Status::internal(e.to_string()))
    }
}

/// Opens `Connect` with raw frames, reads REGISTER, sends `frame`, and returns how the host ends the stream.
async fn send_raw_frame(addr: &str, frame: Vec<u8>) -> Status {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();
    let mut grpc = tonic::client::Grpc::new(channel).max_encoding_message_size(usize::MAX);
    grpc.ready().await.unwrap();
    let (tx, rx) = mpsc::channel::<Vec<u8>>(1);
    let path = http::uri::PathAndQuery::from_static("/protos.Chaincode/Connect");
    let request = tonic::Request::new(ReceiverStream::new(rx));
    let mut inbound: Streaming<ChaincodeMessage> = grpc.streaming(request, path, RawCodec).await.unwrap().into_inner();
    assert_eq!(inbound.message().await.unwrap().unwrap().r#type, Type::Register as i32);
    tx.send(frame).await.unwrap();
    let end = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match inbound.message().await {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("the stream ended with status OK"),
                Err(status) => return status,
            }
        }
    });
    end.await.expect("the host ends the stream")
}

#[tokio::test]
async fn undecodable_and_oversized_frames_end_the_stream_with_a_non_ok_status() {
    let mut host = TestHost::new();
    let served = host.serve("counter", "counter", Default::default()).await;
    // Field 1 with wire type 7, which does not exist.
    let status = send_raw_frame(&served.addr(), vec![0x0f, 0x00]).await;
    assert_ne!(status.code(), Code::Ok);
    assert!(status.message().contains("decode"), "{status:?}");

    let oversized = vec![0u8; wasmcc_host::limits::GRPC_MAX_MESSAGE_BYTES + 1];
    let status = send_raw_frame(&served.addr(), oversized).await;
    assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
    assert!(status.message().contains("too large"), "{status:?}");
}

/// A TRANSACTION for `probe get k` as a peer sends it.
fn transaction(txid: &str) -> ChaincodeMessage {
    let input = ChaincodeInput { args: args(["get", "k"]), ..Default::default() };
    let spec = ProposalSpec {
        channel_id: "ch",
        chaincode_name: "probe",
        input: &input,
        transient: &HashMap::new(),
        creator: Identity::default_user(),
        txid: Some(txid),
        timestamp: None,
        nonce: None,
        unsigned: true,
    };
    let proposal = build_proposal(&spec).unwrap();
    ChaincodeMessage {
        r#type: Type::Transaction as i32,
        payload: input.encode_to_vec(),
        txid: txid.into(),
        channel_id: "ch".into(),
        proposal: Some(proposal.signed),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_duplicate_transaction_does_not_orphan_the_first_ones_result() {
    let mut host = TestHost::new();
    let served = host.serve("probe", "probe", Default::default()).await;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", served.addr())).unwrap();
    let mut client = ChaincodeClient::new(channel.connect().await.unwrap());
    let (tx, rx) = mpsc::channel(8);
    let mut inbound = client.connect(ReceiverStream::new(rx)).await.unwrap().into_inner();
    assert_eq!(inbound.message().await.unwrap().unwrap().r#type, Type::Register as i32);
    for ty in [Type::Registered, Type::Ready] {
        tx.send(ChaincodeMessage { r#type: ty as i32, ..Default::default() }).await.unwrap();
    }
    // The first transaction waits on our GET_STATE answer while its duplicate arrives.
    tx.send(transaction("dup")).await.unwrap();
    let get = inbound.message().await.unwrap().unwrap();
    assert_eq!((get.r#type, get.txid.as_str()), (Type::GetState as i32, "dup"));
    tx.send(transaction("dup")).await.unwrap();
    let value = ChaincodeMessage {
        r#type: Type::Response as i32,
        payload: b"v".to_vec(),
        txid: "dup".into(),
        channel_id: "ch".into(),
        ..Default::default()
    };
    tx.send(value).await.unwrap();
    let answer = inbound.message().await.unwrap().unwrap();
    assert_eq!(answer.r#type, Type::Completed as i32, "the first transaction's own result: {answer:?}");
    assert_eq!(Response::decode(answer.payload.as_slice()).unwrap().payload, b"v");
    // Nothing else comes for the duplicate; the stream goes on serving.
    tx.send(transaction("next")).await.unwrap();
    let next = inbound.message().await.unwrap().unwrap();
    assert_eq!((next.r#type, next.txid.as_str()), (Type::GetState as i32, "next"));
}
