//! A native, in-memory ledger with peer semantics, so chaincode is unit-tested with plain `cargo test`.
//!
//! ```
//! use wasmcc_sdk::{mock::MockLedger, Chaincode, Response, Stub};
//!
//! struct Echo;
//! impl Chaincode for Echo {
//!     fn invoke(stub: &mut Stub) -> Response {
//!         Response::success(stub.args().concat())
//!     }
//! }
//!
//! let mut ledger = MockLedger::new();
//! assert_eq!(ledger.invoke::<Echo>(&["a", "b"]).payload, b"ab");
//! ```
//!
//! What it does as a peer does: a transaction reads committed state only (never its own writes); its writes
//! are buffered and applied when it answers with status < 400, dropped otherwise; an empty value deletes;
//! the event of a transaction that does not commit is dropped. What it does not model: other chaincodes
//! (`invoke_chaincode` is [`Error::Unsupported`]), collection definitions, endorsement policies, MVCC
//! conflicts between transactions (they run one after another).

use std::collections::BTreeMap;

use crate::stub::{Backend, Timestamp};
use crate::{Chaincode, Error, Response, Stub};

/// `(collection, key)`; the collection is "" for public state, as in the WIT.
type Key = (String, String);

/// The committed world state and private data of one chaincode, plus the context of the next transactions.
#[derive(Clone, Debug)]
pub struct MockLedger {
    state: BTreeMap<Key, Vec<u8>>,
    tx_count: u64,
    last_tx_id: String,
    last_event: Option<(String, Vec<u8>)>,
    /// The channel every transaction runs on. Default `mychannel`, as in Fabric's test network.
    pub channel_id: String,
    /// The submitter's serialized identity. Default empty (as without a proposal).
    pub creator: Vec<u8>,
    /// The transient map handed to every transaction.
    pub transient: BTreeMap<String, Vec<u8>>,
    /// The decorations handed to every transaction.
    pub decorations: BTreeMap<String, Vec<u8>>,
    /// The transaction timestamp. Default 2024-01-01T00:00:00Z: fixed, so tests are deterministic.
    pub tx_timestamp: Timestamp,
}

impl Default for MockLedger {
    fn default() -> Self {
        MockLedger {
            state: BTreeMap::new(),
            tx_count: 0,
            last_tx_id: String::new(),
            last_event: None,
            channel_id: "mychannel".to_owned(),
            creator: Vec::new(),
            transient: BTreeMap::new(),
            decorations: BTreeMap::new(),
            tx_timestamp: Timestamp { seconds: 1_704_067_200, nanos: 0 },
        }
    }
}

impl MockLedger {
    /// An empty ledger on channel `mychannel`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `C::invoke` as a TRANSACTION with a generated txid (`tx1`, `tx2`, …).
    pub fn invoke<C: Chaincode>(&mut self, args: &[impl AsRef<[u8]>]) -> Response {
        let tx_id = self.next_tx_id();
        self.execute::<C>(false, &tx_id, args)
    }

    /// Runs `C::init` as an INIT message with a generated txid.
    pub fn init<C: Chaincode>(&mut self, args: &[impl AsRef<[u8]>]) -> Response {
        let tx_id = self.next_tx_id();
        self.execute::<C>(true, &tx_id, args)
    }

    /// Runs `C::invoke` with the given txid (like the Go shimtest's `MockInvoke(uuid, args)`).
    pub fn invoke_with_tx_id<C: Chaincode>(&mut self, tx_id: &str, args: &[impl AsRef<[u8]>]) -> Response {
        self.execute::<C>(false, tx_id, args)
    }

    /// Runs one transaction and commits its writes if the answer's status is < 400.
    pub fn execute<C: Chaincode>(&mut self, init: bool, tx_id: &str, args: &[impl AsRef<[u8]>]) -> Response {
        let mut tx = Tx {
            ledger: self,
            tx_id: tx_id.to_owned(),
            args: args.iter().map(|a| a.as_ref().to_vec()).collect(),
            init,
            writes: BTreeMap::new(),
            event: None,
        };
        let response = {
            let mut stub = Stub::new(&mut tx);
            if init {
                C::init(&mut stub)
            } else {
                C::invoke(&mut stub)
            }
        };
        let Tx { writes, event, .. } = tx;
        self.last_tx_id = tx_id.to_owned();
        self.last_event = None;
        if response.is_success() {
            for (key, value) in writes {
                match value {
                    Some(v) => self.state.insert(key, v),
                    None => self.state.remove(&key),
                };
            }
            self.last_event = event;
        }
        response
    }

    /// The committed value of a public key.
    pub fn state(&self, key: &str) -> Option<&[u8]> {
        self.private_data("", key)
    }

    /// Sets a public key directly in committed state (test setup, outside any transaction). Empty deletes.
    pub fn set_state(&mut self, key: &str, value: &[u8]) {
        self.set_private_data("", key, value);
    }

    /// The committed value of a key in a private data collection.
    pub fn private_data(&self, collection: &str, key: &str) -> Option<&[u8]> {
        self.state.get(&(collection.to_owned(), key.to_owned())).map(Vec::as_slice)
    }

    /// Sets a private key directly in committed state (test setup). Empty deletes.
    pub fn set_private_data(&mut self, collection: &str, key: &str, value: &[u8]) {
        let k = (collection.to_owned(), key.to_owned());
        if value.is_empty() {
            self.state.remove(&k);
        } else {
            self.state.insert(k, value.to_vec());
        }
    }

    /// All committed public keys and values, in key order.
    pub fn public_state(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.state.iter().filter(|((c, _), _)| c.is_empty()).map(|((_, k), v)| (k.as_str(), v.as_slice()))
    }

    /// The event of the last transaction, if it set one and committed.
    pub fn last_event(&self) -> Option<(&str, &[u8])> {
        self.last_event.as_ref().map(|(n, p)| (n.as_str(), p.as_slice()))
    }

    /// The txid of the last transaction run.
    pub fn last_tx_id(&self) -> &str {
        &self.last_tx_id
    }

    fn next_tx_id(&mut self) -> String {
        self.tx_count += 1;
        format!("tx{}", self.tx_count)
    }
}

/// One transaction on the mock: reads go to the ledger's committed state, writes to `writes`
/// (`None` = delete) until [`MockLedger::execute`] decides to commit them.
struct Tx<'l> {
    ledger: &'l MockLedger,
    tx_id: String,
    args: Vec<Vec<u8>>,
    init: bool,
    writes: BTreeMap<Key, Option<Vec<u8>>>,
    event: Option<(String, Vec<u8>)>,
}

fn sorted(map: &BTreeMap<String, Vec<u8>>) -> Vec<(String, Vec<u8>)> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

impl Backend for Tx<'_> {
    fn args(&self) -> Vec<Vec<u8>> {
        self.args.clone()
    }
    fn tx_id(&self) -> String {
        self.tx_id.clone()
    }
    fn channel_id(&self) -> String {
        self.ledger.channel_id.clone()
    }
    fn is_init(&self) -> bool {
        self.init
    }
    fn creator(&self) -> Vec<u8> {
        self.ledger.creator.clone()
    }
    fn transient(&self) -> Vec<(String, Vec<u8>)> {
        sorted(&self.ledger.transient)
    }
    fn binding(&self) -> Vec<u8> {
        Vec::new()
    }
    fn signed_proposal(&self) -> Option<Vec<u8>> {
        None
    }
    fn decorations(&self) -> Vec<(String, Vec<u8>)> {
        sorted(&self.ledger.decorations)
    }
    fn tx_timestamp(&self) -> Result<Timestamp, Error> {
        Ok(self.ledger.tx_timestamp)
    }

    fn get_state(&mut self, collection: &str, key: &str) -> Result<Option<Vec<u8>>, Error> {
        Ok(self.ledger.private_data(collection, key).map(<[u8]>::to_vec))
    }
    fn get_multiple_states(&mut self, collection: &str, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, Error> {
        keys.iter().map(|k| self.get_state(collection, k)).collect()
    }
    fn put_state(&mut self, collection: &str, key: &str, value: &[u8]) -> Result<(), Error> {
        let value = (!value.is_empty()).then(|| value.to_vec());
        self.writes.insert((collection.to_owned(), key.to_owned()), value);
        Ok(())
    }
    fn del_state(&mut self, collection: &str, key: &str) -> Result<(), Error> {
        self.writes.insert((collection.to_owned(), key.to_owned()), None);
        Ok(())
    }
    fn purge_private_data(&mut self, collection: &str, key: &str) -> Result<(), Error> {
        // The mock keeps no history, so purging is deleting.
        self.del_state(collection, key)
    }
    fn set_event(&mut self, name: &str, payload: &[u8]) -> Result<(), Error> {
        self.event = Some((name.to_owned(), payload.to_vec()));
        Ok(())
    }
    fn invoke_chaincode(&mut self, name: &str, _channel: &str, _args: &[Vec<u8>]) -> Result<Response, Error> {
        Err(Error::Unsupported(format!("invoke_chaincode({name}) is not modelled by the mock ledger")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `put k v`, `get k`, `del k`, `putget k v` (put then read back), `fail k v` (put then status 500),
    /// `event n p`, `ctx`, `private c k v`.
    struct Probe;

    impl Chaincode for Probe {
        fn init(stub: &mut Stub) -> Response {
            Response::success(format!("init {}", stub.is_init()))
        }

        fn invoke(stub: &mut Stub) -> Response {
            let (f, p) = stub.function_and_parameters();
            let r = match f.as_str() {
                "put" => stub.put_state(&p[0], p[1].as_bytes()).map(|_| Vec::new()),
                "get" => stub.get_state(&p[0]).map(Option::unwrap_or_default),
                "del" => stub.del_state(&p[0]).map(|_| Vec::new()),
                "putget" => stub
                    .put_state(&p[0], p[1].as_bytes())
                    .and_then(|_| stub.get_state(&p[0]))
                    .map(|v| format!("{v:?}").into_bytes()),
                "fail" => {
                    stub.put_state(&p[0], p[1].as_bytes()).unwrap();
                    stub.set_event("failed", b"").unwrap();
                    return Response::error("no");
                }
                "event" => stub.set_event(&p[0], p[1].as_bytes()).map(|_| Vec::new()),
                "ctx" => Ok(format!(
                    "{} {} {:?} {:?} {:?}",
                    stub.tx_id(),
                    stub.channel_id(),
                    stub.creator(),
                    stub.transient(),
                    stub.tx_timestamp().unwrap().seconds
                )
                .into_bytes()),
                "private" => stub
                    .put_private_data(&p[0], &p[1], p[2].as_bytes())
                    .and_then(|_| stub.get_private_data(&p[0], &p[1]))
                    .map(Option::unwrap_or_default),
                "multi" => stub.get_multiple_states(&p).map(|v| format!("{v:?}").into_bytes()),
                "call" => stub.invoke_chaincode("other", &[b"x"], "").map(|r| r.payload),
                _ => return Response::error(format!("unknown {f}")),
            };
            Response::from_result(r)
        }
    }

    #[test]
    fn writes_commit_on_success_only() {
        let mut l = MockLedger::new();
        assert_eq!(l.invoke::<Probe>(&["put", "a", "1"]).status, 200);
        assert_eq!(l.state("a"), Some(&b"1"[..]));
        assert_eq!(l.invoke::<Probe>(&["fail", "a", "2"]).status, 500);
        assert_eq!(l.state("a"), Some(&b"1"[..]));
        assert_eq!(l.last_event(), None, "the event of an unendorsed transaction is dropped");
        assert_eq!(l.invoke::<Probe>(&["get", "a"]).payload, b"1");
        assert_eq!(l.invoke::<Probe>(&["del", "a"]).status, 200);
        assert_eq!(l.state("a"), None);
    }

    #[test]
    fn reads_do_not_see_own_writes() {
        let mut l = MockLedger::new();
        l.set_state("k", b"old");
        assert_eq!(l.invoke::<Probe>(&["putget", "k", "new"]).payload, br#"Some([111, 108, 100])"#);
        assert_eq!(l.state("k"), Some(&b"new"[..]));
    }

    #[test]
    fn empty_value_deletes_and_empty_key_is_refused() {
        let mut l = MockLedger::new();
        l.set_state("k", b"v");
        assert_eq!(l.invoke::<Probe>(&["put", "k", ""]).status, 200);
        assert_eq!(l.state("k"), None);
        let r = l.invoke::<Probe>(&["put", "", "v"]);
        assert_eq!((r.status, r.message.as_str()), (500, "key must not be an empty string"));
    }

    #[test]
    fn context_is_settable() {
        let mut l = MockLedger::new();
        l.channel_id = "ch2".into();
        l.creator = b"me".to_vec();
        l.transient.insert("t".into(), b"x".to_vec());
        let r = l.invoke_with_tx_id::<Probe>("abc", &["ctx"]);
        assert_eq!(String::from_utf8(r.payload).unwrap(), r#"abc ch2 [109, 101] {"t": [120]} 1704067200"#);
        assert_eq!(l.invoke::<Probe>(&["ctx"]).payload.split(|b| *b == b' ').next(), Some(&b"tx1"[..]));
        assert_eq!(l.init::<Probe>(&[""; 0]).payload, b"init true");
        assert_eq!(l.last_tx_id(), "tx2");
    }

    #[test]
    fn events_private_data_and_multi_get() {
        let mut l = MockLedger::new();
        l.invoke::<Probe>(&["event", "e", "p"]);
        assert_eq!(l.last_event(), Some(("e", &b"p"[..])));
        l.set_private_data("c", "k", b"old");
        assert_eq!(l.invoke::<Probe>(&["private", "c", "k", "new"]).payload, b"old");
        assert_eq!(l.private_data("c", "k"), Some(&b"new"[..]));
        assert_eq!(l.state("k"), None, "private data is not public state");
        let r = l.invoke::<Probe>(&["private", "", "k", "v"]);
        assert_eq!(r.message, "collection must not be an empty string");
        l.set_state("a", b"1");
        assert_eq!(l.invoke::<Probe>(&["multi", "a", "b"]).payload, b"[Some([49]), None]");
        assert_eq!(l.invoke::<Probe>(&["event", "", "p"]).message, "event name can not be empty string");
        assert_eq!(l.invoke::<Probe>(&["call"]).status, 500);
        assert_eq!(l.public_state().collect::<Vec<_>>(), vec![("a", &b"1"[..])]);
    }
}
