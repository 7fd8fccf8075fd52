//! Fabric's Gateway service in front of the simulated peer and a real host: what fabric-gateway clients call.
//! Evaluate and Endorse run the client's own signed proposal on the chaincode it names, Submit validates and commits
//! it, CommitStatus reports the outcome; failures are Fabric's gateway's (gRPC code, text, `ErrorDetail`).

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
    let spec = ProposalSpec::new("mychannel", chaincode, &input, &transient, creator);
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

/// A host serving asset-transfer (its ledger initialised), a simulated peer connected to it, and Fabric's Gateway
/// service in front of them on a loopback port.
struct Setup {
    _host: TestHost,
    org: Arc<Msp>,
    chaincode: String,
    addr: std::net::SocketAddr,
}

async fn gateway_on_asset_transfer() -> Setup {
    gateway_on("asset-transfer", "asset_transfer", &["InitLedger"]).await
}

/// An example served by a host behind the gateway, `init` (if any) committed first.
async fn gateway_on(label: &str, module: &str, init: &[&str]) -> Setup {
    let mut host = TestHost::new();
    let served = host.serve(label, module, TxLimits::default()).await;
    let peer = PeerSim::new();
    let conn = peer.connect(&served.addr(), &served.ccid).await.unwrap();
    let chaincode = conn.namespace().to_owned();
    if !init.is_empty() {
        assert_eq!(conn.invoke("mychannel", args(init.iter().copied())).await.unwrap().status(), Some(200));
    }
    let org = Arc::new(Msp::generate("Org1MSP").unwrap());
    let gateway = GatewayService::new(org.clone(), "peer0.org1.example.com:7051", peer).unwrap();
    gateway.add_chaincode(conn);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(gateway.into_server())
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    Setup { _host: host, org, chaincode, addr }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evaluate_runs_a_clients_proposal_and_fails_as_fabrics_gateway_does() {
    let Setup { org, chaincode, addr, .. } = &gateway_on_asset_transfer().await;
    let user = org.issue("user1", "client", &[]).unwrap();
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();
    let mut client = GatewayClient::new(channel);

    let read = client.evaluate(evaluate(propose(&user, chaincode, &["ReadAsset", "asset1"]))).await.unwrap();
    let result = read.into_inner().result.unwrap();
    assert_eq!(result.status, 200);
    assert_eq!(result.payload, ASSET1.as_bytes());

    let failed = client.evaluate(evaluate(propose(&user, chaincode, &["Nope"]))).await.unwrap_err();
    assert_eq!(failed.code(), tonic::Code::Unknown);
    assert_eq!(failed.message(), format!("evaluate call to endorser returned error: {NOPE}"));
    let detail = &details(&failed)[0];
    assert_eq!((detail.address.as_str(), detail.msp_id.as_str()), ("peer0.org1.example.com:7051", "Org1MSP"));
    assert_eq!(detail.message, NOPE);

    let stranger = Identity::generate("Org1MSP", "mallory").unwrap();
    let refused = client.evaluate(evaluate(propose(&stranger, chaincode, &["ReadAsset", "asset1"]))).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert!(refused.message().contains("error validating proposal: access denied"), "{}", refused.message());

    let missing = client.evaluate(evaluate(propose(&user, "nothing-here", &["ReadAsset"]))).await.unwrap_err();
    assert_eq!(missing.code(), tonic::Code::FailedPrecondition);
    assert!(missing.message().contains("chaincode nothing-here is not installed"), "{}", missing.message());

    let endorse = EndorseRequest { channel_id: "mychannel".into(), ..Default::default() };
    assert_eq!(client.endorse(endorse).await.unwrap_err().code(), tonic::Code::InvalidArgument);
}

const ASSET1: &str = r#"{"AppraisedValue":300,"Color":"blue","ID":"asset1","Owner":"Tomoko","Size":5}"#;
const NOPE: &str = "chaincode response 500, You've asked to invoke a function that does not exist: Nope";

/// Runs tests/node/gateway-client.js as `user` of the setup's organisation with these calls (JSON); one JSON value
/// per call.
async fn run_client(setup: &Setup, user: &Identity, calls: &str) -> Vec<serde_json::Value> {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let (cert, key, calls) =
        (write("cert.pem", user.cert_pem()), write("key.pem", &user.key_pem()), write("calls.json", calls));
    let node_dir = wasmcc_tests::node::node_dir();
    assert!(
        node_dir.join("node_modules/@hyperledger/fabric-gateway").exists(),
        "@hyperledger/fabric-gateway is missing: run bash scripts/setup-node.sh"
    );
    let out = tokio::process::Command::new("node")
        .arg(node_dir.join("gateway-client.js"))
        .args([&setup.addr.to_string(), "Org1MSP", &cert, &key, "mychannel", setup.chaincode.as_str(), &calls])
        .output()
        .await
        .expect("running node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "gateway-client.js failed: {stderr}{stdout}");
    stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}\n{stderr}"))).collect()
}

/// Fabric's own client API (`@hyperledger/fabric-gateway`, tests/node/gateway-client.js) evaluates and submits
/// through the gateway as it would through a peer's: results, commits, endorsement errors and MVCC conflicts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fabric_gateway_clients_evaluate_and_submit_through_it() {
    let setup = gateway_on_asset_transfer().await;
    let user = setup.org.issue("appuser", "client", &[]).unwrap();
    let calls = r#"[["evaluate","ReadAsset","asset1"],["evaluate","Nope"],["evaluate","GetAllAssets"],
        ["submit","CreateAsset","a9","pink","3","Ada","90"],["evaluate","ReadAsset","a9"],
        ["submit","TransferAsset","a9","Bo"],["submit","CreateAsset","a9","red","1","Cy","1"],
        ["conflict","UpdateAsset","asset1","gold","7","Dee","700"]]"#;
    let lines = run_client(&setup, &user, calls).await;
    assert_eq!(lines.len(), 8, "one line per call: {lines:?}");
    assert_eq!(lines[0]["ok"], ASSET1);
    let error = &lines[1]["error"];
    assert_eq!(error["code"], 2, "UNKNOWN: {error}");
    assert_eq!(error["details"][0]["mspId"], "Org1MSP");
    assert_eq!(error["details"][0]["message"], NOPE);
    let all: serde_json::Value = serde_json::from_str(lines[2]["ok"].as_str().unwrap()).unwrap();
    assert_eq!(all.as_array().unwrap().len(), 6);
    // Submitted transactions commit: their writes are read back, their results come from the prepared transaction.
    assert_eq!(lines[3]["ok"], "", "CreateAsset returns nothing: {}", lines[3]);
    assert_eq!(lines[4]["ok"], r#"{"AppraisedValue":90,"Color":"pink","ID":"a9","Owner":"Ada","Size":3}"#);
    assert_eq!(lines[5]["ok"], "Ada", "TransferAsset returns the old owner");
    // A failed endorsement: ABORTED, the chaincode's message in the details.
    let refused = &lines[6]["error"];
    assert_eq!(refused["code"], 10, "ABORTED: {refused}");
    assert_eq!(refused["details"][0]["message"], "chaincode response 500, the asset a9 already exists");
    // Two endorsements of the same update, submitted one after the other: the second read a stale version.
    assert_eq!(lines[7]["statuses"], serde_json::json!([0, 11]), "VALID then MVCC_READ_CONFLICT: {}", lines[7]);
}

/// Committed chaincode events reach a fabric-gateway client's event stream, block by block.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fabric_gateway_clients_read_committed_chaincode_events() {
    let setup = gateway_on("loyalty", "loyalty", &[]).await;
    let user = setup.org.issue("clerk", "client", &[]).unwrap();
    let calls = r#"[["submit","Enroll","{\"id\":\"ada\",\"name\":\"Ada\",\"tier\":\"Gold\",\"points\":10}"],
        ["submit","Award","ada","5"],["evaluate","Balance","ada"],["events","0","2"]]"#;
    let lines = run_client(&setup, &user, calls).await;
    assert_eq!(lines[2]["ok"], "25");
    let events = lines[3]["events"].as_array().unwrap_or_else(|| panic!("{lines:?}"));
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e["name"] == "points"));
    assert_eq!(events[0]["payload"], "", "Enroll answers nothing, and its event carries that");
    assert_eq!(events[1]["payload"], r#"{"id":"ada","name":"Ada","tier":"Gold","points":25}"#);
    assert!(events[0]["block"].as_u64() < events[1]["block"].as_u64(), "{events:?}");
}

/// The prepared transaction carries the read/write set as a Fabric peer encodes it, and Submit validates the
/// endorsement: a transaction whose endorsement was tampered with is invalid (ENDORSEMENT_POLICY_FAILURE) and
/// changes nothing, while the same transaction as endorsed commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_checks_the_endorsement_and_the_transaction_carries_its_rwset() {
    use wasmcc_peer::{decode_writes, Call, GatewayCaller};
    use wasmcc_proto::common::{Envelope, Payload};
    use wasmcc_proto::gateway::{CommitStatusRequest, SignedCommitStatusRequest, SubmitRequest};
    use wasmcc_proto::protos::{ChaincodeActionPayload, Transaction, TxValidationCode};

    let setup = gateway_on_asset_transfer().await;
    let user = setup.org.issue("appuser", "client", &[]).unwrap();
    let mut caller = GatewayCaller::connect(&setup.addr.to_string(), user.clone(), "mychannel").await.unwrap();
    let call = |args: &[&str]| Call { chaincode: setup.chaincode.clone(), args: args_of(args), ..Default::default() };
    let committed = caller.submit(&call(&["TransferAsset", "asset1", "Zoe"])).await.unwrap();
    assert_eq!(committed.code, TxValidationCode::Valid);
    let writes = decode_writes(&committed.results).unwrap();
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert_eq!(writes[0].namespace, setup.chaincode);
    let (key, value) = &writes[0].writes[0];
    assert_eq!(key, "asset1");
    assert!(String::from_utf8_lossy(value.as_ref().unwrap()).contains(r#""Owner":"Zoe""#));

    // Endorse, then change one byte of the endorsement's signature before signing and submitting.
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", setup.addr)).unwrap();
    let mut client = GatewayClient::new(channel.connect().await.unwrap());
    let proposal = propose(&user, &setup.chaincode, &["TransferAsset", "asset1", "Mallory"]);
    let txid = wasmcc_peer::proposal::read_proposal(&proposal).unwrap().txid;
    let request = EndorseRequest {
        transaction_id: txid.clone(),
        channel_id: "mychannel".into(),
        proposed_transaction: Some(proposal),
        ..Default::default()
    };
    let envelope = client.endorse(request).await.unwrap().into_inner().prepared_transaction.unwrap();
    let mut payload = Payload::decode(envelope.payload.as_slice()).unwrap();
    let mut transaction = Transaction::decode(payload.data.as_slice()).unwrap();
    let mut action = ChaincodeActionPayload::decode(transaction.actions[0].payload.as_slice()).unwrap();
    let endorsed = action.action.as_mut().unwrap();
    let signature = &mut endorsed.endorsements[0].signature;
    let last = signature.len() - 1;
    signature[last] ^= 1;
    transaction.actions[0].payload = action.encode_to_vec();
    payload.data = transaction.encode_to_vec();
    let payload = payload.encode_to_vec();
    let envelope = Envelope { signature: user.sign(&payload).unwrap(), payload };
    let submit = SubmitRequest {
        transaction_id: txid.clone(),
        channel_id: "mychannel".into(),
        prepared_transaction: Some(envelope),
    };
    client.submit(submit).await.unwrap();
    let status =
        CommitStatusRequest { transaction_id: txid, channel_id: "mychannel".into(), identity: user.serialize() };
    let status = status.encode_to_vec();
    let signed = SignedCommitStatusRequest { signature: user.sign(&status).unwrap(), request: status };
    let answer = client.commit_status(signed).await.unwrap().into_inner();
    assert_eq!(answer.result, TxValidationCode::EndorsementPolicyFailure as i32);
    let owner = caller.evaluate(&call(&["ReadAsset", "asset1"])).await.unwrap();
    assert!(
        String::from_utf8_lossy(&owner.payload).contains(r#""Owner":"Zoe""#),
        "the invalid transaction wrote nothing"
    );
}

fn args_of(call: &[&str]) -> Vec<Vec<u8>> {
    args(call.iter().copied())
}
