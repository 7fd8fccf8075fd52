//! The simulator against a tiny chaincode written by hand on top of tonic: no host, no wasm. It checks the peer
//! side of the conversation: handshake, state served with the peer's replies, commits, the request log, the drop of
//! an overlapping request, silence on a wrong CCID, and the end of the stream on a protocol violation. The
//! chaincode's `script` function runs a list of requests given as arguments and records the replies, so the tests in
//! the submodules can drive every request type and inspect exactly what the peer answered.

mod ledger_flows;
mod query_flows;
mod script;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prost::Message;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::{Request, Status, Streaming};
use wasmcc_proto::common::{ChannelHeader, Header, SignatureHeader};
use wasmcc_proto::protos::chaincode_message::Type;
use wasmcc_proto::protos::chaincode_server::{Chaincode, ChaincodeServer};
use wasmcc_proto::protos::{
    write_record, ChaincodeAdditionalParams, ChaincodeEvent, ChaincodeId, ChaincodeInput, ChaincodeMessage,
    ChaincodeProposalPayload, GetState, GetStateMultiple, GetStateMultipleResult, Proposal, PutState, QueryStateNext,
    Response, WriteBatchState, WriteRecord,
};
use wasmcc_proto::tx_key;

use wasmcc_peer::*;

const CCID: &str = "counter_1.0:6f1ed002ab5595859014ebf0951522d9b8d6c7e6a35a8b7a3a0d7e8a5f2c1b3d";
const CH: &str = "mychannel";
const NS: &str = "counter_1.0";

type Outbox = mpsc::Sender<Result<ChaincodeMessage, Status>>;
type Pending = Arc<Mutex<HashMap<String, mpsc::UnboundedSender<ChaincodeMessage>>>>;
/// The replies a `script` transaction got, by `tx_key(channel, txid)`.
type Recorded = Arc<Mutex<HashMap<String, Vec<ChaincodeMessage>>>>;

/// The hand-written chaincode server: registers as `name`, then runs each TRANSACTION/INIT on its own task.
#[derive(Clone)]
struct TestChaincode {
    name: String,
    /// Everything the simulated peer sent us, in order.
    seen: Arc<Mutex<Vec<ChaincodeMessage>>>,
    recorded: Recorded,
}

#[tonic::async_trait]
impl Chaincode for TestChaincode {
    type ConnectStream = ReceiverStream<Result<ChaincodeMessage, Status>>;

    async fn connect(
        &self,
        request: Request<Streaming<ChaincodeMessage>>,
    ) -> Result<tonic::Response<Self::ConnectStream>, Status> {
        let (out, rx) = mpsc::channel(64);
        tokio::spawn(self.clone().serve(request.into_inner(), out));
        Ok(tonic::Response::new(ReceiverStream::new(rx)))
    }
}

impl TestChaincode {
    async fn serve(self, mut inbound: Streaming<ChaincodeMessage>, out: Outbox) {
        let register = ChaincodeId { name: self.name.clone(), ..Default::default() };
        let _ = out.send(Ok(msg(Type::Register, register.encode_to_vec(), "", ""))).await;
        let pending = Pending::default();
        while let Ok(Some(m)) = inbound.message().await {
            self.seen.lock().unwrap().push(m.clone());
            match Type::try_from(m.r#type) {
                Ok(Type::Transaction | Type::Init) => {
                    let mut stub = Stub::new(&m.channel_id, &m.txid, out.clone(), pending.clone());
                    stub.recorded = self.recorded.clone();
                    tokio::spawn(run_tx(m, stub));
                }
                Ok(Type::Response | Type::Error) => {
                    if let Some(waiter) = pending.lock().unwrap().get(&tx_key(&m.channel_id, &m.txid)) {
                        let _ = waiter.send(m);
                    }
                }
                _ => {}
            }
        }
    }

    fn seen(&self) -> Vec<ChaincodeMessage> {
        self.seen.lock().unwrap().clone()
    }

    /// The replies of a `script` transaction.
    fn replies(&self, channel_id: &str, txid: &str) -> Vec<ChaincodeMessage> {
        self.recorded.lock().unwrap().get(&tx_key(channel_id, txid)).cloned().unwrap_or_default()
    }
}

fn msg(t: Type, payload: Vec<u8>, channel_id: &str, txid: &str) -> ChaincodeMessage {
    ChaincodeMessage {
        r#type: t as i32,
        payload,
        txid: txid.to_owned(),
        channel_id: channel_id.to_owned(),
        ..Default::default()
    }
}

/// The chaincode side of one transaction: sends requests and receives the replies routed to it.
struct Stub {
    channel_id: String,
    txid: String,
    out: Outbox,
    pending: Pending,
    replies: mpsc::UnboundedReceiver<ChaincodeMessage>,
    recorded: Recorded,
}

impl Stub {
    fn new(channel_id: &str, txid: &str, out: Outbox, pending: Pending) -> Stub {
        let (tx, replies) = mpsc::unbounded_channel();
        pending.lock().unwrap().insert(tx_key(channel_id, txid), tx);
        Stub {
            channel_id: channel_id.to_owned(),
            txid: txid.to_owned(),
            out,
            pending,
            replies,
            recorded: Recorded::default(),
        }
    }

    async fn send(&self, t: Type, payload: Vec<u8>) {
        self.out.send(Ok(msg(t, payload, &self.channel_id, &self.txid))).await.unwrap();
    }

    async fn call(&mut self, t: Type, payload: Vec<u8>) -> ChaincodeMessage {
        self.send(t, payload).await;
        self.replies.recv().await.expect("reply")
    }

    /// A request for another txid on the same channel (one the peer does not know).
    async fn call_as(&self, txid: &str, t: Type, payload: Vec<u8>) -> ChaincodeMessage {
        let mut other = Stub::new(&self.channel_id, txid, self.out.clone(), self.pending.clone());
        other.call(t, payload).await
    }

    async fn get(&mut self, key: &str) -> Vec<u8> {
        let reply = self.call(Type::GetState, GetState { key: key.into(), collection: String::new() }.encode_to_vec());
        let reply = reply.await;
        assert_eq!(reply.r#type, Type::Response as i32, "{}", String::from_utf8_lossy(&reply.payload));
        reply.payload
    }

    async fn put(&mut self, key: &str, value: &[u8]) {
        let req = PutState { key: key.into(), value: value.to_vec(), collection: String::new() };
        let reply = self.call(Type::PutState, req.encode_to_vec()).await;
        assert_eq!(reply.r#type, Type::Response as i32);
        assert!(reply.payload.is_empty());
    }

    /// A request expected to fail: the ERROR text.
    async fn error_of(&mut self, t: Type, payload: Vec<u8>) -> String {
        let reply = self.call(t, payload).await;
        assert_eq!(reply.r#type, Type::Error as i32);
        String::from_utf8(reply.payload).unwrap()
    }

    async fn complete(&self, status: i32, payload: impl Into<Vec<u8>>) {
        let response = Response { status, message: String::new(), payload: payload.into() };
        self.send(Type::Completed, response.encode_to_vec()).await;
    }
}

fn put_record(key: &str, value: &str) -> WriteRecord {
    WriteRecord {
        key: key.into(),
        value: value.into(),
        r#type: write_record::Type::PutState as i32,
        ..Default::default()
    }
}

/// The trivial chaincode's functions, chosen by the first argument.
async fn run_tx(m: ChaincodeMessage, mut stub: Stub) {
    let input = ChaincodeInput::decode(&m.payload[..]).unwrap();
    let args: Vec<String> = input.args.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect();
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    match arg(0).as_str() {
        "script" => script::run(&input.args[1..], stub).await,
        // Read a counter, write it + 1, return the new value.
        "incr" | "slowincr" => {
            let current = stub.get(&arg(1)).await;
            let n: u64 = String::from_utf8(current).unwrap().parse().unwrap_or(0);
            if arg(0) == "slowincr" {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            stub.put(&arg(1), (n + 1).to_string().as_bytes()).await;
            stub.complete(200, (n + 1).to_string()).await;
        }
        // Two GET_STATEs without waiting: the peer serves one and drops the other. Returns the replies seen.
        "overlap" => {
            let get = GetState { key: arg(1), collection: String::new() }.encode_to_vec();
            stub.send(Type::GetState, get.clone()).await;
            stub.send(Type::GetState, get).await;
            let mut replies = 0;
            while tokio::time::timeout(Duration::from_millis(600), stub.replies.recv()).await.is_ok() {
                replies += 1;
            }
            stub.complete(200, replies.to_string()).await;
        }
        // One batch of writes, then a multi-get that must see committed state only.
        "batch" => {
            let mut del = put_record("c", "");
            del.r#type = write_record::Type::DelState as i32;
            let batch = WriteBatchState {
                rec: vec![put_record("a", "x"), put_record("a", "1"), put_record("b", ""), del, put_record("d", "4")],
            };
            let reply = stub.call(Type::WriteBatchState, batch.encode_to_vec()).await;
            assert_eq!(reply.r#type, Type::Response as i32);
            let keys = ["a", "c", "missing"].map(String::from).to_vec();
            let get = GetStateMultiple { keys, collection: String::new() };
            let reply = stub.call(Type::GetStateMultiple, get.encode_to_vec()).await;
            let values = GetStateMultipleResult::decode(&reply.payload[..]).unwrap().values;
            let joined: Vec<String> = values.iter().map(|v| String::from_utf8_lossy(v).into_owned()).collect();
            stub.complete(200, joined.join(",")).await;
        }
        // Requests the peer refuses; the ERROR texts are returned, one per line.
        "refusals" => {
            let bad = WriteBatchState { rec: vec![WriteRecord { key: "k".into(), ..Default::default() }] };
            let no_collection = GetState { key: "k".into(), collection: String::new() };
            let next = QueryStateNext { id: "no-such-iterator".into() };
            let no_context = GetState { key: "k".into(), collection: String::new() }.encode_to_vec();
            let texts = [
                stub.error_of(Type::WriteBatchState, bad.encode_to_vec()).await,
                stub.error_of(Type::GetPrivateDataHash, no_collection.encode_to_vec()).await,
                stub.error_of(Type::QueryStateNext, next.encode_to_vec()).await,
                stub.error_of(Type::DelState, vec![0xff]).await,
                String::from_utf8(stub.call_as("not-a-tx", Type::GetState, no_context).await.payload).unwrap(),
            ];
            stub.complete(200, texts.join("\n")).await;
        }
        "fail" => {
            stub.put("k", b"v").await;
            stub.complete(500, "boom").await;
        }
        "error" => {
            stub.put("k", b"v").await;
            stub.send(Type::Error, b"it broke".to_vec()).await;
        }
        "event" => {
            let event = ChaincodeEvent {
                chaincode_id: "liar".into(),
                tx_id: "liar".into(),
                event_name: "Moved".into(),
                payload: b"p".to_vec(),
            };
            let response = Response { status: 200, message: String::new(), payload: Vec::new() };
            let mut done = msg(Type::Completed, response.encode_to_vec(), &stub.channel_id, &stub.txid);
            done.chaincode_event = Some(event);
            stub.out.send(Ok(done)).await.unwrap();
        }
        // COMPLETED that does not echo the txid: never delivered.
        "badecho" => {
            let response = Response { status: 200, message: String::new(), payload: Vec::new() };
            let wrong = format!("{}x", stub.txid);
            stub.out.send(Ok(msg(Type::Completed, response.encode_to_vec(), &stub.channel_id, &wrong))).await.unwrap();
        }
        // A RESPONSE sent to the peer: a protocol violation that ends the stream.
        "stray" => stub.send(Type::Response, Vec::new()).await,
        "sleep" => {
            tokio::time::sleep(Duration::from_millis(800)).await;
            stub.complete(200, "").await;
        }
        _ => stub.complete(200, "").await,
    }
}

/// Starts the hand-written chaincode on 127.0.0.1:0.
async fn start_chaincode(name: &str) -> (String, TestChaincode) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let chaincode = TestChaincode { name: name.to_owned(), seen: Arc::default(), recorded: Recorded::default() };
    let service = ChaincodeServer::new(chaincode.clone());
    tokio::spawn(
        tonic::transport::Server::builder().add_service(service).serve_with_incoming(TcpListenerStream::new(listener)),
    );
    (addr, chaincode)
}

fn quick() -> ConnectOptions {
    ConnectOptions { execute_timeout: Duration::from_secs(5), ..ConnectOptions::default() }
}

#[tokio::test]
async fn handshake_sends_registered_then_ready_with_fabric_defaults() {
    let (addr, cc) = start_chaincode(CCID).await;
    let conn = PeerSim::new().connect(&addr, CCID).await.unwrap();
    assert_eq!(conn.namespace(), NS, "namespace defaults to the CCID's label");
    assert_eq!(conn.ready_params(), Some(&fabric_default_ready_params()));

    // Run one transaction so both handshake messages have surely arrived.
    conn.invoke(CH, args(["noop"])).await.unwrap();
    let seen = cc.seen();
    assert_eq!(seen[0].r#type, Type::Registered as i32);
    assert!(seen[0].payload.is_empty());
    assert_eq!(seen[1].r#type, Type::Ready as i32);
    let ready = ChaincodeAdditionalParams::decode(&seen[1].payload[..]).unwrap();
    assert_eq!(ready, fabric_default_ready_params());
    assert_eq!((ready.max_size_write_batch, ready.max_size_get_multiple_keys), (1000, 1000));

    let first = &conn.log().entries()[0];
    assert_eq!((first.type_name.as_str(), first.disposition), ("REGISTER", Disposition::Registered));
}

#[tokio::test]
async fn older_peer_sends_an_empty_ready_payload() {
    let (addr, cc) = start_chaincode(CCID).await;
    let opts = ConnectOptions { ready_params: None, namespace: Some("counter".into()), ..quick() };
    let conn = PeerSim::new().connect_with(&addr, CCID, opts).await.unwrap();
    assert_eq!(conn.namespace(), "counter");
    conn.invoke(CH, args(["noop"])).await.unwrap();
    let ready = &cc.seen()[1];
    assert_eq!(ready.r#type, Type::Ready as i32);
    assert!(ready.payload.is_empty());
}

#[tokio::test]
async fn wrong_ccid_gets_no_reply_at_all() {
    let (addr, cc) = start_chaincode("counter_1.0:0000").await;
    let opts = ConnectOptions { startup_timeout: Duration::from_millis(300), ..quick() };
    let err = PeerSim::new().connect_with(&addr, CCID, opts).await.unwrap_err();
    match err {
        SimError::RegisterIgnored { got, expected } => {
            assert_eq!(got, "counter_1.0:0000");
            assert_eq!(expected, CCID);
        }
        other => panic!("expected RegisterIgnored, got {other:?}"),
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(cc.seen().is_empty(), "the peer sent something after a wrong REGISTER: {:?}", cc.seen());
}

#[tokio::test]
async fn transaction_reads_state_writes_and_commits() {
    let (addr, cc) = start_chaincode(CCID).await;
    let peer = PeerSim::new();
    peer.put(CH, NS, "counter", "41");
    let conn = peer.connect_with(&addr, CCID, quick()).await.unwrap();

    let opts = TxOptions::new().transient("secret", "s3cr3t").decoration("deco", "d");
    let result = conn.invoke_with(CH, args(["incr", "counter"]), &opts).await.unwrap();
    assert_eq!(result.channel_id, CH);
    assert_eq!(result.txid.len(), 64);
    assert_eq!(result.status(), Some(200));
    assert_eq!(result.payload(), b"42");
    assert_eq!(result.commit, CommitStatus::Committed { block: 2 });
    assert_eq!(result.own_rwset().reads["counter"], Some(Version { block: 1, tx: 0 }));
    assert_eq!(result.rwset.ns(NS).writes["counter"].as_deref(), Some(&b"42"[..]));
    assert_eq!(peer.get(CH, NS, "counter").as_deref(), Some(&b"42"[..]));
    assert_eq!(peer.version(CH, NS, "counter"), Some(Version { block: 2, tx: 0 }));

    // The request log: GET_STATE, PUT_STATE (both handled), then the delivered COMPLETED.
    let tx_log: Vec<(String, Disposition)> =
        conn.log().for_tx(CH, &result.txid).into_iter().map(|e| (e.type_name, e.disposition)).collect();
    let expected = [
        ("GET_STATE", Disposition::Handled),
        ("PUT_STATE", Disposition::Handled),
        ("COMPLETED", Disposition::ResultDelivered),
    ];
    assert_eq!(tx_log, expected.map(|(t, d)| (t.to_owned(), d)));

    // What the chaincode received: a TRANSACTION with the input and a real proposal for the same txid.
    let seen = cc.seen();
    let tx = seen.iter().find(|m| m.r#type == Type::Transaction as i32).unwrap();
    assert_eq!((tx.channel_id.as_str(), tx.txid.as_str()), (CH, result.txid.as_str()));
    let input = ChaincodeInput::decode(&tx.payload[..]).unwrap();
    assert_eq!(input.args, args(["incr", "counter"]));
    assert_eq!(input.decorations["deco"], b"d");
    assert!(!input.is_init);
    let proposal = Proposal::decode(&tx.proposal.as_ref().unwrap().proposal_bytes[..]).unwrap();
    let header = Header::decode(&proposal.header[..]).unwrap();
    let channel_header = ChannelHeader::decode(&header.channel_header[..]).unwrap();
    assert_eq!((channel_header.channel_id.as_str(), channel_header.tx_id.as_str()), (CH, result.txid.as_str()));
    let signature_header = SignatureHeader::decode(&header.signature_header[..]).unwrap();
    assert_eq!(result.txid, proposal::compute_txid(&signature_header.nonce, &signature_header.creator));
    let payload = ChaincodeProposalPayload::decode(&proposal.payload[..]).unwrap();
    assert_eq!(payload.transient_map["secret"], &b"s3cr3t"[..]);
}

#[tokio::test]
async fn init_sends_init_with_is_init() {
    let (addr, cc) = start_chaincode(CCID).await;
    let conn = PeerSim::new().connect_with(&addr, CCID, quick()).await.unwrap();
    let result = conn.init(CH, args(["incr", "counter"])).await.unwrap();
    assert!(result.is_committed());
    let init = cc.seen().into_iter().find(|m| m.r#type == Type::Init as i32).expect("an INIT");
    assert!(ChaincodeInput::decode(&init.payload[..]).unwrap().is_init);
}

#[tokio::test]
async fn overlapping_request_is_dropped_without_reply() {
    let (addr, _cc) = start_chaincode(CCID).await;
    let opts = ConnectOptions { request_delay: Some(Duration::from_millis(200)), ..quick() };
    let conn = PeerSim::new().connect_with(&addr, CCID, opts).await.unwrap();
    let result = conn.invoke(CH, args(["overlap", "k"])).await.unwrap();
    assert_eq!(result.payload(), b"1", "exactly one of the two requests was answered");
    let dispositions: Vec<Disposition> =
        conn.log().for_tx(CH, &result.txid).into_iter().map(|e| e.disposition).collect();
    assert_eq!(dispositions, [Disposition::Handled, Disposition::Dropped, Disposition::ResultDelivered]);
    assert_eq!(conn.log().count(Disposition::Dropped), 1);
}

#[tokio::test]
async fn concurrent_transactions_on_one_stream_and_mvcc_conflict() {
    let (addr, _cc) = start_chaincode(CCID).await;
    let peer = PeerSim::new();
    let conn = peer.connect_with(&addr, CCID, quick()).await.unwrap();
    // Both read the absent counter before either commits; the second to finish is invalidated.
    let (a, b) = tokio::join!(conn.invoke(CH, args(["slowincr", "n"])), conn.invoke(CH, args(["slowincr", "n"])));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_ne!(a.txid, b.txid);
    let mut commits = [a.commit, b.commit];
    commits.sort_by_key(|c| !c.is_committed());
    assert_eq!(commits, [CommitStatus::Committed { block: 1 }, CommitStatus::MvccReadConflict]);
    assert_eq!(peer.get(CH, NS, "n").as_deref(), Some(&b"1"[..]));
    assert_eq!(peer.height(CH), 1);
}

#[tokio::test]
async fn write_batch_and_multi_get_see_committed_state_only() {
    let (addr, _cc) = start_chaincode(CCID).await;
    let peer = PeerSim::new();
    peer.seed(CH, NS, [("a", "old"), ("b", "2"), ("c", "gone")]);
    let conn = peer.connect_with(&addr, CCID, quick()).await.unwrap();
    let result = conn.invoke(CH, args(["batch"])).await.unwrap();
    assert_eq!(result.payload(), b"old,gone,", "reads never see the transaction's own writes");
    assert!(result.is_committed());
    let state = peer.snapshot(CH, NS);
    let state: Vec<(&str, &[u8])> = state.iter().map(|(k, v)| (k.as_str(), v.as_slice())).collect();
    assert_eq!(state, [("a", &b"1"[..]), ("d", &b"4"[..])], "last write wins; empty put and DEL_STATE delete");
}

#[tokio::test]
async fn refusals_use_the_peer_error_format() {
    let (addr, _cc) = start_chaincode(CCID).await;
    let conn = PeerSim::new().connect_with(&addr, CCID, quick()).await.unwrap();
    let result = conn.invoke(CH, args(["refusals"])).await.unwrap();
    let txid = &result.txid;
    let texts: Vec<&str> = std::str::from_utf8(result.payload()).unwrap().lines().collect();
    assert_eq!(texts[0], format!("WRITE_BATCH_STATE failed: transaction ID: {txid}: unknown operation type"));
    assert_eq!(
        texts[1],
        format!(
            "GET_PRIVATE_DATA_HASH failed: transaction ID: {txid}: collection [] not defined in the collection config \
             for chaincode [{NS}]"
        )
    );
    assert_eq!(texts[2], format!("QUERY_STATE_NEXT failed: transaction ID: {txid}: query iterator not found"));
    assert!(texts[3].starts_with(&format!("DEL_STATE failed: transaction ID: {txid}: unmarshal failed")));
    assert_eq!(texts[4], "GET_STATE failed: transaction ID: not-a-tx: no ledger context");
}

#[tokio::test]
async fn failures_commit_nothing_and_events_are_stamped_by_the_peer() {
    let (addr, _cc) = start_chaincode(CCID).await;
    let peer = PeerSim::new();
    let conn = peer.connect_with(&addr, CCID, quick()).await.unwrap();

    let failed = conn.invoke(CH, args(["fail"])).await.unwrap();
    assert_eq!(failed.status(), Some(500));
    assert_eq!(failed.commit, CommitStatus::NotSubmitted);
    assert!(failed.own_rwset().writes.contains_key("k"), "the write set is reported even when not submitted");

    let errored = conn.invoke(CH, args(["error"])).await.unwrap();
    assert_eq!(errored.error(), Some("it broke"));
    assert_eq!(errored.commit, CommitStatus::NotSubmitted);

    let evaluated = conn.invoke_with(CH, args(["incr", "k"]), &TxOptions::new().evaluate()).await.unwrap();
    assert_eq!((evaluated.status(), evaluated.commit), (Some(200), CommitStatus::NotSubmitted));
    assert_eq!(peer.get(CH, NS, "k"), None);

    let with_event = conn.invoke(CH, args(["event"])).await.unwrap();
    let event = with_event.event.unwrap();
    assert_eq!((event.chaincode_id.as_str(), event.tx_id.as_str()), (NS, with_event.txid.as_str()));
    assert_eq!((event.event_name.as_str(), event.payload.as_slice()), ("Moved", &b"p"[..]));
}

#[tokio::test]
async fn unechoed_result_is_never_delivered_and_times_out() {
    let (addr, _cc) = start_chaincode(CCID).await;
    let opts = ConnectOptions { execute_timeout: Duration::from_millis(400), ..quick() };
    let conn = PeerSim::new().connect_with(&addr, CCID, opts).await.unwrap();
    let err = conn.invoke(CH, args(["badecho"])).await.unwrap_err();
    assert!(matches!(err, SimError::ExecuteTimeout { .. }), "{err:?}");
    assert_eq!(err.to_string(), "timeout expired while executing transaction");
    assert_eq!(conn.log().count(Disposition::ResultUnmatched), 1);
    assert!(!conn.is_terminated());
}

#[tokio::test]
async fn protocol_violation_ends_the_stream_and_fails_transactions_in_flight() {
    let (addr, _cc) = start_chaincode(CCID).await;
    let conn = PeerSim::new().connect_with(&addr, CCID, quick()).await.unwrap();
    let (sleeper, stray) = tokio::join!(conn.invoke(CH, args(["sleep"])), conn.invoke(CH, args(["stray"])));
    for err in [sleeper.unwrap_err(), stray.unwrap_err()] {
        assert!(matches!(err, SimError::StreamTerminated { .. }), "{err:?}");
        assert_eq!(err.to_string(), "chaincode stream terminated");
    }
    assert!(conn.termination_reason().unwrap().contains("cannot handle message (RESPONSE) while in ready state"));
    assert_eq!(conn.log().count(Disposition::StreamEnded), 1);
    let late = conn.invoke(CH, args(["noop"])).await.unwrap_err();
    assert!(matches!(late, SimError::StreamTerminated { .. }));
}

#[tokio::test]
async fn duplicate_txid_is_refused_and_keepalives_are_sent() {
    let (addr, cc) = start_chaincode(CCID).await;
    let opts = ConnectOptions { keepalive: Some(Duration::from_millis(50)), ..quick() };
    let conn = PeerSim::new().connect_with(&addr, CCID, opts).await.unwrap();
    let fixed = TxOptions::new().txid("same");
    let (first, second) =
        tokio::join!(conn.invoke_with(CH, args(["sleep"]), &fixed), conn.invoke_with(CH, args(["sleep"]), &fixed));
    let results = [first, second];
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    let refused = results.into_iter().find_map(Result::err).unwrap();
    assert_eq!(refused.to_string(), "txid: same(mychannel) exists");
    let keepalives = cc.seen().iter().filter(|m| m.r#type == Type::Keepalive as i32).count();
    assert!(keepalives >= 3, "{keepalives} keepalives in ~800 ms at 50 ms");
}
