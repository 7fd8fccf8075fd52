//! Fabric's Gateway service in front of the simulated peer and a real host: what fabric-gateway clients call.
//! Evaluate runs the client's own signed proposal on the chaincode it names, and fails the way Fabric's gateway
//! fails (gRPC code, text, `ErrorDetail`).

use std::collections::HashMap;
use std::sync::Arc;

use prost::Message;
use wasmcc_host::limits::TxLimits;
use wasmcc_peer::{args, build_proposal, GatewayService, Identity, Msp, PeerSim, ProposalSpec};
use wasmcc_proto::gateway::gateway_client::GatewayClient;
use wasmcc_proto::gateway::{EndorseRequest, ErrorDetail, EvaluateRequest};
use wasmcc_proto::protos::{ChaincodeInput, SignedProposal};
use wasmcc_tests::TestHost;

fn propose(creator: &Identity, chaincode: &str, call: &[&str]) -> SignedProposal {
    let input = ChaincodeInput { args: args(call.iter().copied()), ..Default::default() };
    let transient = HashMap::new();
    let spec = ProposalSpec {
        channel_id: "mychannel",
        chaincode_name: chaincode,
        input: &input,
        transient: &transient,
        creator,
        txid: None,
        timestamp: None,
        nonce: None,
        unsigned: false,
    };
    build_proposal(&spec).unwrap().signed
}

fn evaluate(proposal: SignedProposal) -> EvaluateRequest {
    EvaluateRequest { channel_id: "mychannel".into(), proposed_transaction: Some(proposal), ..Default::default() }
}

/// The `ErrorDetail`s of a failed call.
fn details(status: &tonic::Status) -> Vec<ErrorDetail> {
    let rpc = wasmcc_proto::rpc::Status::decode(status.details()).expect("a google.rpc.Status in the details");
    rpc.details.iter().map(|any| ErrorDetail::decode(any.value.as_slice()).unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evaluate_runs_a_clients_proposal_and_fails_as_fabrics_gateway_does() {
    let mut host = TestHost::new();
    let served = host.serve("asset-transfer", "asset_transfer", TxLimits::default()).await;
    let peer = PeerSim::new();
    let conn = peer.connect(&served.addr(), &served.ccid).await.unwrap();
    let chaincode = conn.namespace().to_owned();
    assert_eq!(conn.invoke("mychannel", args(["InitLedger"])).await.unwrap().status(), Some(200));

    let org = Arc::new(Msp::generate("Org1MSP").unwrap());
    let user = org.issue("user1", "client", &[]).unwrap();
    let gateway = GatewayService::new(org.clone(), "peer0.org1.example.com:7051");
    gateway.add_chaincode(conn);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(gateway.into_server())
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();
    let mut client = GatewayClient::new(channel);

    let read = client.evaluate(evaluate(propose(&user, &chaincode, &["ReadAsset", "asset1"]))).await.unwrap();
    let result = read.into_inner().result.unwrap();
    assert_eq!(result.status, 200);
    assert_eq!(result.payload, br#"{"AppraisedValue":300,"Color":"blue","ID":"asset1","Owner":"Tomoko","Size":5}"#);

    let failed = client.evaluate(evaluate(propose(&user, &chaincode, &["Nope"]))).await.unwrap_err();
    let said = "chaincode response 500, You've asked to invoke a function that does not exist: Nope";
    assert_eq!(failed.code(), tonic::Code::Unknown);
    assert_eq!(failed.message(), format!("evaluate call to endorser returned error: {said}"));
    let detail = &details(&failed)[0];
    assert_eq!((detail.address.as_str(), detail.msp_id.as_str()), ("peer0.org1.example.com:7051", "Org1MSP"));
    assert_eq!(detail.message, said);

    let stranger = Identity::generate("Org1MSP", "mallory").unwrap();
    let refused =
        client.evaluate(evaluate(propose(&stranger, &chaincode, &["ReadAsset", "asset1"]))).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert!(refused.message().contains("error validating proposal: access denied"), "{}", refused.message());

    let missing = client.evaluate(evaluate(propose(&user, "nothing-here", &["ReadAsset"]))).await.unwrap_err();
    assert_eq!(missing.code(), tonic::Code::FailedPrecondition);
    assert!(missing.message().contains("chaincode nothing-here is not installed"), "{}", missing.message());

    let endorse = EndorseRequest { channel_id: "mychannel".into(), ..Default::default() };
    assert_eq!(client.endorse(endorse).await.unwrap_err().code(), tonic::Code::Unimplemented);
}
