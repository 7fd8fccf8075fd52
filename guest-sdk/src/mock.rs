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
//! The ledger is the peer's own model, `wasmcc_peer::world` (the same code the peer simulator serves the host
//! from): a versioned world state and, per transaction, the peer's transaction simulator with its read-only rules.
//!
//! What it does as a peer does: a transaction reads committed state only (never its own writes); its writes
//! are recorded and applied when it answers with status < 400, dropped otherwise; an empty value deletes;
//! the event of a transaction that does not commit is dropped. Range queries are `[start, end)` in key order,
//! paginated ones return a bookmark (the next key) as LevelDB does; rich queries are CouchDB Mango queries
//! (`wasmcc-mango`) over the values that are JSON objects, their bookmark the last key returned. Every committed
//! public write is kept in the key's history with the transaction's id and the ledger's `tx_timestamp`.
//! Validation parameters are kept per key (a parameter set on a key that does not exist is not stored, a
//! delete removes it). The simulator's rules are enforced with the peer's error texts: paginated queries and
//! private-data range or rich queries only in transactions that write nothing, no private data in INIT.
//!
//! The caller is set with [`MockLedger::set_identity`] and a [`TestIdentity`] (MSP ID, common name, Fabric CA
//! attributes), which `Stub::client_identity` reads back as it reads a real certificate.
//!
//! Other chaincodes are registered with [`MockLedger::register`], each on its own ledger (its namespace);
//! `invoke_chaincode` runs them as the peer does: on the caller's channel inside the caller's transaction (one
//! simulator, so the read-only rules span both and the callee's writes commit with the caller's), on another channel
//! with writes discarded.
//!
//! What it does not model: collection definitions and access rights, endorsement policies, MVCC conflicts
//! between transactions (they run one after another), the peer's batching of query results.

use std::collections::BTreeMap;

use wasmcc_peer::world::rwset::{TxRwSet, VALIDATION_PARAMETER};
use wasmcc_peer::world::{CommitInfo, VersionedValue, WorldState};

use crate::iterators::KeyModification;
use crate::stub::Timestamp;
use crate::{Chaincode, Response, Stub};

mod identity;
mod tx;

pub use identity::TestIdentity;
use tx::Tx;

/// The channel the ledger's world state keeps its chaincode's keys under. Each [`MockLedger`] is one chaincode's
/// state, under its namespace ([`NAMESPACE`], or the name it is registered under); the channel its transactions
/// see is [`MockLedger::channel_id`], which a test may change without moving the state.
const CHANNEL: &str = "mock";
/// The namespace of a ledger that is not registered with another.
const NAMESPACE: &str = "chaincode";

/// The collection argument of the WIT ("" for public state) as the world state takes it.
fn collection(name: &str) -> Option<&str> {
    (!name.is_empty()).then_some(name)
}

/// A registered chaincode's `invoke`.
type Invoke = for<'a, 'b> fn(&'a mut Stub<'b>) -> Response;

/// The committed world state and private data of one chaincode, plus the context of the next transactions.
#[derive(Clone, Debug)]
pub struct MockLedger {
    /// Committed state, private data, metadata and history.
    world: WorldState,
    /// The chaincode's namespace in `world` (and in a shared transaction's read/write set).
    namespace: String,
    /// Other chaincodes `invoke_chaincode` can call, each with its own ledger (its namespace).
    chaincodes: BTreeMap<String, (Invoke, MockLedger)>,
    tx_count: u64,
    last_tx_id: String,
    last_event: Option<(String, Vec<u8>)>,
    /// The channel every transaction runs on. Default `mychannel`, as in Fabric's test network.
    pub channel_id: String,
    /// The submitter's serialized identity (`msp.SerializedIdentity`). Default empty (as without a proposal).
    pub creator: Vec<u8>,
    /// The transient map handed to every transaction.
    pub transient: BTreeMap<String, Vec<u8>>,
    /// The decorations handed to every transaction.
    pub decorations: BTreeMap<String, Vec<u8>>,
    /// The transaction timestamp, also recorded in the history. Default 2024-01-01T00:00:00Z: fixed, so tests
    /// are deterministic.
    pub tx_timestamp: Timestamp,
}

impl Default for MockLedger {
    fn default() -> Self {
        MockLedger {
            world: WorldState::default(),
            namespace: NAMESPACE.to_owned(),
            chaincodes: BTreeMap::new(),
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
        self.run_tx(init, tx_id, args, |stub| if init { C::init(stub) } else { C::invoke(stub) })
    }

    /// Runs `f` as a TRANSACTION without arguments, with a generated txid: tests a piece of chaincode logic
    /// without a [`Chaincode`] type around it. Commits like [`execute`](Self::execute).
    pub fn run(&mut self, f: impl FnOnce(&mut Stub<'_>) -> Response) -> Response {
        let tx_id = self.next_tx_id();
        self.run_tx(false, &tx_id, &[""; 0], f)
    }

    fn run_tx(
        &mut self,
        init: bool,
        tx_id: &str,
        args: &[impl AsRef<[u8]>],
        f: impl FnOnce(&mut Stub<'_>) -> Response,
    ) -> Response {
        let args = args.iter().map(|a| a.as_ref().to_vec()).collect();
        let mut tx = Tx::new(self, tx_id, args, init);
        let response = f(&mut Stub::new(&mut tx));
        let outcome = tx.finish();
        self.last_tx_id = tx_id.to_owned();
        self.last_event = None;
        if response.is_success() {
            self.last_event = outcome.event.clone();
            self.commit(tx_id, &outcome.sim.rwset, &outcome.calls);
        }
        response
    }

    /// Makes chaincode `C` callable as `name` by `invoke_chaincode` from the transactions of this ledger. It
    /// runs on `ledger`, its own state (a chaincode's namespace); [`chaincode`](Self::chaincode) shows it later.
    pub fn register<C: Chaincode>(&mut self, name: &str, mut ledger: MockLedger) {
        ledger.world.rename_namespace(CHANNEL, &ledger.namespace, name);
        ledger.namespace = name.to_owned();
        self.chaincodes.insert(name.to_owned(), (C::invoke, ledger));
    }

    /// The ledger of a chaincode registered with [`register`](Self::register).
    pub fn chaincode(&self, name: &str) -> Option<&MockLedger> {
        self.chaincodes.get(name).map(|(_, ledger)| ledger)
    }

    /// Applies a transaction's writes to this chaincode's namespace, as the peer's committer does (values first,
    /// then metadata, which only keys that exist keep); then those of the chaincodes it called on this channel, which
    /// ran in the same transaction, to their ledgers.
    fn commit(&mut self, tx_id: &str, rwset: &TxRwSet, calls: &[tx::Call]) {
        let Timestamp { seconds, nanos } = self.tx_timestamp;
        let info = CommitInfo { txid: tx_id.to_owned(), timestamp: wasmcc_peer::world::Timestamp { seconds, nanos } };
        // Transactions run one after another, so nothing they read can have changed: the commit always succeeds.
        self.world.commit_ns(CHANNEL, &self.namespace, rwset.ns(&self.namespace), &info);
        for call in calls {
            if let Some((_, ledger)) = self.chaincodes.get_mut(&call.name) {
                ledger.commit(tx_id, rwset, &call.calls);
            }
        }
    }

    fn committed(&self, collection: &str, key: &str) -> Option<&VersionedValue> {
        match self::collection(collection) {
            None => self.world.get(CHANNEL, &self.namespace, key),
            Some(name) => self.world.get_private(CHANNEL, &self.namespace, name, key),
        }
    }

    /// Makes `identity` the caller of the next transactions (their creator; see [`TestIdentity`]).
    pub fn set_identity(&mut self, identity: &TestIdentity) {
        self.creator = identity.creator();
    }

    /// The committed value of a public key.
    pub fn state(&self, key: &str) -> Option<&[u8]> {
        self.private_data("", key)
    }

    /// Sets a public key directly in committed state (test setup, outside any transaction, no history).
    /// Empty deletes.
    pub fn set_state(&mut self, key: &str, value: &[u8]) {
        self.set_private_data("", key, value);
    }

    /// The committed value of a key in a private data collection.
    pub fn private_data(&self, collection: &str, key: &str) -> Option<&[u8]> {
        self.committed(collection, key).map(|v| v.value.as_slice())
    }

    /// Sets a private key directly in committed state (test setup). Empty deletes.
    pub fn set_private_data(&mut self, collection: &str, key: &str, value: &[u8]) {
        self.world.set_direct(CHANNEL, &self.namespace, self::collection(collection), key, value.to_vec());
    }

    /// The committed validation parameter (key-level endorsement policy) of a key; `collection` "" is public.
    pub fn validation_parameter(&self, collection: &str, key: &str) -> Option<&[u8]> {
        self.committed(collection, key)?.metadata.get(VALIDATION_PARAMETER).map(Vec::as_slice)
    }

    /// The committed history of a public key, newest first, as `get_history_for_key` returns it.
    pub fn history(&self, key: &str) -> Vec<KeyModification> {
        let entries = self.world.history(CHANNEL, &self.namespace, key);
        entries
            .into_iter()
            .map(|e| KeyModification {
                tx_id: e.txid,
                value: e.value,
                timestamp: Some(Timestamp { seconds: e.timestamp.seconds, nanos: e.timestamp.nanos }),
                is_delete: e.is_delete,
            })
            .collect()
    }

    /// All committed public keys and values, in key order.
    pub fn public_state(&self) -> impl Iterator<Item = (&str, &[u8])> {
        let keys = self.world.keys(CHANNEL, &self.namespace, None).into_iter().flatten();
        keys.map(|(k, v)| (k.as_str(), v.value.as_slice()))
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

#[cfg(test)]
mod tests;
