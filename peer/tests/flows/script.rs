//! The `script` chaincode function: each argument is one step (a request to send, a NEXT/CLOSE of an iterator
//! opened earlier, the final status or an event), the replies are recorded, and the transaction completes with the
//! given status. The helpers build steps and read replies.

use wasmcc_proto::protos::{
    ChaincodeSpec, DelState, GetHistoryForKey, GetQueryResult, GetStateByRange, GetStateMetadata, PutStateMetadata,
    QueryMetadata, QueryResponse, QueryResponseMetadata, QueryStateClose, StateMetadata,
};
use wasmcc_proto::queryresult::Kv;

use super::*;

/// One step of a script.
pub(super) enum Step {
    /// Send this request.
    Req(Type, Vec<u8>),
    /// QUERY_STATE_NEXT for the iterator of the reply at this index.
    Next(usize),
    /// QUERY_STATE_CLOSE for the iterator of the reply at this index.
    Close(usize),
    /// Complete with this status (default 200).
    Status(i32),
    /// Set an event with this name (payload "p").
    Event(&'static str),
}

/// The arguments of a `script` transaction.
pub(super) fn script(steps: impl IntoIterator<Item = Step>) -> Vec<Vec<u8>> {
    std::iter::once(b"script".to_vec()).chain(steps.into_iter().map(encode)).collect()
}

fn encode(step: Step) -> Vec<u8> {
    match step {
        Step::Req(t, payload) => [vec![b'R', t as u8], payload].concat(),
        Step::Next(i) => vec![b'N', u8::try_from(i).unwrap()],
        Step::Close(i) => vec![b'C', u8::try_from(i).unwrap()],
        Step::Status(status) => [b"S".to_vec(), status.to_string().into_bytes()].concat(),
        Step::Event(name) => [b"E".to_vec(), name.as_bytes().to_vec()].concat(),
    }
}

/// The chaincode side: runs the steps, records the replies, completes.
pub(super) async fn run(steps: &[Vec<u8>], mut stub: Stub) {
    let mut replies: Vec<ChaincodeMessage> = Vec::new();
    let mut status = 200;
    let mut event = None;
    for step in steps {
        match step[0] {
            b'R' => {
                let t = Type::try_from(i32::from(step[1])).unwrap();
                replies.push(stub.call(t, step[2..].to_vec()).await);
            }
            b'N' | b'C' => {
                let opened = &replies[usize::from(step[1])];
                let id = QueryResponse::decode(&opened.payload[..]).map(|r| r.id).unwrap_or_default();
                let (t, payload) = match step[0] {
                    b'N' => (Type::QueryStateNext, QueryStateNext { id }.encode_to_vec()),
                    _ => (Type::QueryStateClose, QueryStateClose { id }.encode_to_vec()),
                };
                replies.push(stub.call(t, payload).await);
            }
            b'S' => status = std::str::from_utf8(&step[1..]).unwrap().parse().unwrap(),
            b'E' => event = Some(String::from_utf8(step[1..].to_vec()).unwrap()),
            other => panic!("unknown script step {other}"),
        }
    }
    stub.recorded.lock().unwrap().insert(tx_key(&stub.channel_id, &stub.txid), replies);
    let response = Response { status, message: String::new(), payload: b"done".to_vec() };
    let mut done = msg(Type::Completed, response.encode_to_vec(), &stub.channel_id, &stub.txid);
    done.chaincode_event =
        event.map(|event_name| ChaincodeEvent { event_name, payload: b"p".to_vec(), ..Default::default() });
    stub.out.send(Ok(done)).await.unwrap();
}

pub(super) fn req(t: Type, m: impl Message) -> Step {
    Step::Req(t, m.encode_to_vec())
}

pub(super) fn get(key: &str) -> Step {
    get_private("", key)
}

pub(super) fn get_private(collection: &str, key: &str) -> Step {
    req(Type::GetState, GetState { key: key.into(), collection: collection.into() })
}

pub(super) fn put(key: &str, value: &str) -> Step {
    put_private("", key, value)
}

pub(super) fn put_private(collection: &str, key: &str, value: &str) -> Step {
    req(Type::PutState, PutState { key: key.into(), value: value.into(), collection: collection.into() })
}

pub(super) fn del_private(collection: &str, key: &str) -> Step {
    req(Type::DelState, DelState { key: key.into(), collection: collection.into() })
}

pub(super) fn purge(collection: &str, key: &str) -> Step {
    req(Type::PurgePrivateData, DelState { key: key.into(), collection: collection.into() })
}

pub(super) fn private_hash(collection: &str, key: &str) -> Step {
    req(Type::GetPrivateDataHash, GetState { key: key.into(), collection: collection.into() })
}

pub(super) fn range(start: &str, end: &str) -> Step {
    range_private("", start, end)
}

pub(super) fn range_private(collection: &str, start: &str, end: &str) -> Step {
    let r = GetStateByRange {
        start_key: start.into(),
        end_key: end.into(),
        collection: collection.into(),
        metadata: vec![],
    };
    req(Type::GetStateByRange, r)
}

pub(super) fn range_page(start: &str, end: &str, page_size: i32, bookmark: &str) -> Step {
    let metadata = QueryMetadata { page_size, bookmark: bookmark.into() }.encode_to_vec();
    let r = GetStateByRange { start_key: start.into(), end_key: end.into(), collection: String::new(), metadata };
    req(Type::GetStateByRange, r)
}

pub(super) fn rich(query: &str) -> Step {
    rich_private("", query)
}

pub(super) fn rich_private(collection: &str, query: &str) -> Step {
    req(Type::GetQueryResult, GetQueryResult { query: query.into(), collection: collection.into(), metadata: vec![] })
}

pub(super) fn rich_page(query: &str, page_size: i32, bookmark: &str) -> Step {
    let metadata = QueryMetadata { page_size, bookmark: bookmark.into() }.encode_to_vec();
    req(Type::GetQueryResult, GetQueryResult { query: query.into(), collection: String::new(), metadata })
}

pub(super) fn history(key: &str) -> Step {
    req(Type::GetHistoryForKey, GetHistoryForKey { key: key.into() })
}

pub(super) fn put_meta(collection: &str, key: &str, metakey: &str, value: &str) -> Step {
    let metadata = Some(StateMetadata { metakey: metakey.into(), value: value.into() });
    req(Type::PutStateMetadata, PutStateMetadata { key: key.into(), collection: collection.into(), metadata })
}

pub(super) fn get_meta(collection: &str, key: &str) -> Step {
    req(Type::GetStateMetadata, GetStateMetadata { key: key.into(), collection: collection.into() })
}

/// INVOKE_CHAINCODE of `name` (`"cc"` or `"cc/channel"`) running the callee's own script.
pub(super) fn invoke(name: &str, steps: impl IntoIterator<Item = Step>) -> Step {
    let spec = ChaincodeSpec {
        chaincode_id: Some(ChaincodeId { name: name.into(), ..Default::default() }),
        input: Some(ChaincodeInput { args: script(steps), ..Default::default() }),
        ..Default::default()
    };
    req(Type::InvokeChaincode, spec)
}

/// The payload of a RESPONSE (panics, showing the text, on an ERROR).
pub(super) fn ok(reply: &ChaincodeMessage) -> &[u8] {
    assert_eq!(
        reply.r#type,
        Type::Response as i32,
        "expected RESPONSE, got {}",
        String::from_utf8_lossy(&reply.payload)
    );
    &reply.payload
}

/// The text of an ERROR.
pub(super) fn err(reply: &ChaincodeMessage) -> String {
    assert_eq!(reply.r#type, Type::Error as i32, "expected ERROR, got {reply:?}");
    String::from_utf8(reply.payload.clone()).unwrap()
}

pub(super) fn query(reply: &ChaincodeMessage) -> QueryResponse {
    QueryResponse::decode(ok(reply)).unwrap()
}

pub(super) fn kvs(response: &QueryResponse) -> Vec<Kv> {
    response.results.iter().map(|r| Kv::decode(&r.result_bytes[..]).unwrap()).collect()
}

pub(super) fn keys(response: &QueryResponse) -> Vec<String> {
    kvs(response).into_iter().map(|kv| kv.key).collect()
}

pub(super) fn page_meta(response: &QueryResponse) -> QueryResponseMetadata {
    QueryResponseMetadata::decode(&response.metadata[..]).unwrap()
}

/// A peer, one connection to the hand-written chaincode, and the chaincode.
pub(super) struct Rig {
    pub(super) peer: PeerSim,
    pub(super) conn: PeerConnection,
    pub(super) cc: TestChaincode,
}

impl Rig {
    pub(super) async fn new(opts: ConnectOptions) -> Rig {
        Rig::with_peer(PeerSim::new(), CCID, opts).await
    }

    /// Another chaincode (registering as `ccid`) on `peer`.
    pub(super) async fn with_peer(peer: PeerSim, ccid: &str, opts: ConnectOptions) -> Rig {
        let (addr, cc) = start_chaincode(ccid).await;
        let conn = peer
            .connect_with(&addr, ccid, ConnectOptions { execute_timeout: Duration::from_secs(5), ..opts })
            .await
            .unwrap();
        Rig { peer, conn, cc }
    }

    /// Submits a script on CH; returns the result and the replies.
    pub(super) async fn run(&self, steps: impl IntoIterator<Item = Step>) -> (TxResult, Vec<ChaincodeMessage>) {
        self.run_with(steps, &TxOptions::new()).await
    }

    pub(super) async fn run_with(
        &self,
        steps: impl IntoIterator<Item = Step>,
        opts: &TxOptions,
    ) -> (TxResult, Vec<ChaincodeMessage>) {
        let result = self.conn.invoke_with(CH, script(steps), opts).await.unwrap();
        let replies = self.cc.replies(&result.channel_id, &result.txid);
        (result, replies)
    }

    /// Runs a script as INIT.
    pub(super) async fn init(&self, steps: impl IntoIterator<Item = Step>) -> (TxResult, Vec<ChaincodeMessage>) {
        let result = self.conn.init_with(CH, script(steps), &TxOptions::new()).await.unwrap();
        let replies = self.cc.replies(&result.channel_id, &result.txid);
        (result, replies)
    }
}
