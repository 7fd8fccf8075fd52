//! One transaction on the mock ledger: the [`Backend`] a [`Stub`](crate::Stub) talks to natively. Every state call
//! goes to the peer's own transaction simulator (`wasmcc_peer::world`), which reads committed state, records the
//! read/write set and enforces the read-only rules with the peer's texts; what the peer's handler adds (no private
//! data in Init, the wording of an ERROR) comes from the same crate.

use std::collections::BTreeMap;

use wasmcc_peer::world::c2c;
use wasmcc_peer::world::query::{self, BookmarkRule};
use wasmcc_peer::world::rwset::Metadata;
use wasmcc_peer::world::simulator::TxSimulator;
use wasmcc_peer::world::{request_error, PRIVATE_DATA_IN_INIT};

use super::{collection, MockLedger, CHANNEL};
use crate::backend::{Backend, Page};
use crate::iterators::{Buffered, HistoryIterator, KeyValue, QueryMetadata, StateIterator};
use crate::{Error, Response, Timestamp};

/// Reads go to the ledger's committed state; writes are recorded until [`MockLedger::execute`] decides.
pub(super) struct Tx<'l> {
    /// The ledger whose state the transaction reads and writes: the chaincode's own.
    ledger: &'l MockLedger,
    /// The ledger whose context (channel, creator, transient, timestamp) the transaction sees: the chaincode's
    /// own, or the calling chaincode's for a chaincode-to-chaincode call (the peer hands the callee the caller's
    /// proposal).
    context: &'l MockLedger,
    args: Vec<Vec<u8>>,
    init: bool,
    sim: TxSimulator,
    event: Option<(String, Vec<u8>)>,
    /// The same-channel chaincode-to-chaincode calls, committed with this transaction.
    calls: Vec<Call>,
}

/// What a finished transaction leaves for the commit.
pub(super) struct Outcome {
    /// The simulator, with the read/write set of this chaincode and of every callee on its channel.
    pub(super) sim: TxSimulator,
    pub(super) event: Option<(String, Vec<u8>)>,
    /// The chaincodes it called on its channel, whose writes (in `sim`) commit with it.
    pub(super) calls: Vec<Call>,
}

/// A same-channel chaincode-to-chaincode call: the callee's registered name and the calls it made in turn.
pub(super) struct Call {
    pub(super) name: String,
    pub(super) calls: Vec<Call>,
}

fn sorted(map: &BTreeMap<String, Vec<u8>>) -> Vec<(String, Vec<u8>)> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// The SDK's page request as the peer's rules take it.
fn asked(page: Option<Page<'_>>) -> Option<query::Page<'_>> {
    page.map(|p| query::Page { page_size: p.page_size, bookmark: p.bookmark })
}

impl<'l> Tx<'l> {
    pub(super) fn new(ledger: &'l MockLedger, tx_id: &str, args: Vec<Vec<u8>>, init: bool) -> Self {
        Self::with_context(ledger, ledger, TxSimulator::new(CHANNEL, tx_id), args, init)
    }

    fn with_context(
        ledger: &'l MockLedger,
        context: &'l MockLedger,
        sim: TxSimulator,
        args: Vec<Vec<u8>>,
        init: bool,
    ) -> Self {
        Tx { ledger, context, args, init, sim, event: None, calls: Vec::new() }
    }

    pub(super) fn finish(self) -> Outcome {
        Outcome { sim: self.sim, event: self.event, calls: self.calls }
    }

    /// This chaincode's namespace.
    fn ns(&self) -> &'l str {
        &self.ledger.namespace
    }

    /// An ERROR answer as the peer's handler words it.
    fn peer_error(&self, request: &str, cause: &str) -> Error {
        Error::Peer(request_error(request, &self.sim.txid, cause))
    }

    /// The peer refuses private data in INIT, whatever the call.
    fn check_collection(&self, request: &str, collection: &str) -> Result<(), Error> {
        if self.init && !collection.is_empty() {
            return Err(self.peer_error(request, PRIVATE_DATA_IN_INIT));
        }
        Ok(())
    }

    /// A write through the simulator, which refuses it after a paginated or private query.
    fn write(
        &mut self,
        request: &str,
        collection: &str,
        write: impl FnOnce(&mut TxSimulator) -> Result<(), String>,
    ) -> Result<(), Error> {
        self.check_collection(request, collection)?;
        write(&mut self.sim).map_err(|cause| self.peer_error(request, &cause))
    }

    /// The simulator's `checkBeforePaginatedQueries` / `checkBeforePvtdataQueries`.
    fn check_query(&mut self, request: &str, collection: &str, page: Option<Page<'_>>) -> Result<(), Error> {
        self.check_collection(request, collection)?;
        let coll = self::collection(collection);
        let checked = self.sim.check_before_query(coll.is_some(), query::is_paginated(coll, asked(page)));
        checked.map_err(|cause| self.peer_error(request, &cause))
    }

    /// The page of a query's results as the peer serves it, each result recorded as read, and the metadata the
    /// chaincode gets: none without a page request, the default for an unpaginated one.
    fn results(
        &mut self,
        collection: &str,
        hits: Vec<query::Hit>,
        page: Option<Page<'_>>,
        rule: BookmarkRule,
    ) -> (StateIterator, Option<QueryMetadata>) {
        let ns = self.ns();
        let coll = self::collection(collection);
        let page = asked(page);
        let limit = query::total_limit(query::TOTAL_QUERY_LIMIT, page);
        let (hits, info) = if query::is_paginated(coll, page) {
            let (hits, bookmark) = query::page(hits, limit, rule);
            let info = QueryMetadata { fetched_records_count: hits.len() as i32, bookmark };
            (hits, page.map(|_| info))
        } else {
            let mut hits = hits;
            hits.truncate(usize::try_from(limit).unwrap_or(0));
            (hits, page.map(|_| QueryMetadata::default()))
        };
        let results: Vec<KeyValue> = hits
            .into_iter()
            .map(|hit| {
                self.sim.record_read(ns, coll, &hit.key, Some(hit.version));
                KeyValue { key: hit.key, value: hit.value }
            })
            .collect();
        (StateIterator::new(Buffered(results.into_iter())), info)
    }
}

impl Backend for Tx<'_> {
    fn args(&self) -> Vec<Vec<u8>> {
        self.args.clone()
    }
    fn tx_id(&self) -> String {
        self.sim.txid.clone()
    }
    fn channel_id(&self) -> String {
        self.context.channel_id.clone()
    }
    fn is_init(&self) -> bool {
        self.init
    }
    fn creator(&self) -> Vec<u8> {
        self.context.creator.clone()
    }
    fn transient(&self) -> Vec<(String, Vec<u8>)> {
        sorted(&self.context.transient)
    }
    fn binding(&self) -> Vec<u8> {
        Vec::new()
    }
    fn signed_proposal(&self) -> Option<Vec<u8>> {
        None
    }
    fn decorations(&self) -> Vec<(String, Vec<u8>)> {
        sorted(&self.context.decorations)
    }
    fn tx_timestamp(&self) -> Result<Timestamp, Error> {
        Ok(self.context.tx_timestamp)
    }

    fn get_state(&mut self, collection: &str, key: &str) -> Result<Option<Vec<u8>>, Error> {
        let ns = self.ns();
        self.check_collection("GET_STATE", collection)?;
        let world = &self.ledger.world;
        Ok(match self::collection(collection) {
            None => self.sim.get_state(world, ns, key),
            Some(name) => self.sim.get_private_data(world, ns, name, key),
        })
    }
    fn get_multiple_states(&mut self, collection: &str, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, Error> {
        self.check_collection("GET_STATE_MULTIPLE", collection)?;
        keys.iter().map(|k| self.get_state(collection, k)).collect()
    }
    fn get_private_data_hash(&mut self, collection: &str, key: &str) -> Result<Option<Vec<u8>>, Error> {
        let ns = self.ns();
        self.check_collection("GET_PRIVATE_DATA_HASH", collection)?;
        Ok(self.sim.get_private_data_hash(&self.ledger.world, ns, collection, key))
    }
    fn put_state(&mut self, collection: &str, key: &str, value: &[u8]) -> Result<(), Error> {
        let ns = self.ns();
        // An empty value is a delete, as the peer records it.
        self.write("PUT_STATE", collection, |sim| match self::collection(collection) {
            None => sim.set_state(ns, key, value.to_vec()),
            Some(name) => sim.set_private_data(ns, name, key, value.to_vec()),
        })
    }
    fn del_state(&mut self, collection: &str, key: &str) -> Result<(), Error> {
        let ns = self.ns();
        self.write("DEL_STATE", collection, |sim| match self::collection(collection) {
            None => sim.set_state(ns, key, Vec::new()),
            Some(name) => sim.set_private_data(ns, name, key, Vec::new()),
        })
    }
    fn purge_private_data(&mut self, collection: &str, key: &str) -> Result<(), Error> {
        let ns = self.ns();
        // The world keeps no private history, so purging is deleting (value and hash).
        self.write("PURGE_PRIVATE_DATA", collection, |sim| sim.purge_private_data(ns, collection, key))
    }
    fn get_state_metadata(&mut self, collection: &str, key: &str) -> Result<Vec<(String, Vec<u8>)>, Error> {
        let ns = self.ns();
        self.check_collection("GET_STATE_METADATA", collection)?;
        let entries = self.sim.get_metadata(&self.ledger.world, ns, self::collection(collection), key);
        Ok(sorted(&entries))
    }
    fn put_state_metadata(&mut self, collection: &str, key: &str, metakey: &str, value: &[u8]) -> Result<(), Error> {
        let ns = self.ns();
        // A metadata write replaces the key's metadata, as the peer's `SetStateMetadata` does.
        let entries = Metadata::from([(metakey.to_owned(), value.to_vec())]);
        self.write("PUT_STATE_METADATA", collection, |sim| match self::collection(collection) {
            None => sim.set_state_metadata(ns, key, entries),
            Some(name) => sim.set_private_metadata(ns, name, key, entries),
        })
    }
    fn get_state_by_range(
        &mut self,
        collection: &str,
        start: &str,
        end: &str,
        page: Option<Page<'_>>,
    ) -> Result<(StateIterator, Option<QueryMetadata>), Error> {
        let ns = self.ns();
        self.check_query("GET_STATE_BY_RANGE", collection, page)?;
        let coll = self::collection(collection);
        let hits = query::range(&self.ledger.world, CHANNEL, ns, coll, start, end, asked(page));
        Ok(self.results(collection, hits, page, BookmarkRule::NextKey))
    }
    fn get_query_result(
        &mut self,
        collection: &str,
        query: &str,
        page: Option<Page<'_>>,
    ) -> Result<(StateIterator, Option<QueryMetadata>), Error> {
        let ns = self.ns();
        self.check_query("GET_QUERY_RESULT", collection, page)?;
        let coll = self::collection(collection);
        let hits = query::rich(&self.ledger.world, CHANNEL, ns, coll, query, asked(page))
            .map_err(|e| self.peer_error("GET_QUERY_RESULT", &e))?;
        Ok(self.results(collection, hits, page, BookmarkRule::LastKey))
    }
    fn get_history_for_key(&mut self, key: &str) -> Result<HistoryIterator, Error> {
        // Never paginated, no read-only flag, no Init check: as the peer serves it.
        Ok(HistoryIterator::new(Buffered(self.ledger.history(key).into_iter())))
    }

    fn set_event(&mut self, name: &str, payload: &[u8]) -> Result<(), Error> {
        self.event = Some((name.to_owned(), payload.to_vec()));
        Ok(())
    }
    /// Runs a chaincode registered with [`MockLedger::register`] on its own ledger, with this transaction's id
    /// and context. On this channel its writes commit with the caller's transaction (whatever status it
    /// answered, as the peer's shared simulator does); on another channel they are discarded. Its event is never
    /// the caller's.
    fn invoke_chaincode(&mut self, name: &str, channel: &str, args: &[Vec<u8>]) -> Result<Response, Error> {
        let caller_channel = self.context.channel_id.as_str();
        let callee_channel = c2c::callee_channel(caller_channel, Some(channel));
        let Some((invoke, callee)) = self.ledger.chaincodes.get(name) else {
            return Err(self.peer_error("INVOKE_CHAINCODE", &c2c::callee_not_found(callee_channel, name)));
        };
        let txid = self.sim.txid.clone();
        if !c2c::shares_transaction(caller_channel, callee_channel) {
            let mut tx = Tx::with_context(callee, self.context, TxSimulator::new(CHANNEL, &txid), args.to_vec(), false);
            return Ok(invoke(&mut crate::Stub::new(&mut tx)));
        }
        // The callee runs in this transaction: on this simulator, which it hands back when it is done.
        let sim = std::mem::replace(&mut self.sim, TxSimulator::new(CHANNEL, &txid));
        let mut tx = Tx::with_context(callee, self.context, sim, args.to_vec(), false);
        let response = invoke(&mut crate::Stub::new(&mut tx));
        let Outcome { sim, calls, .. } = tx.finish();
        self.sim = sim;
        self.calls.push(Call { name: name.to_owned(), calls });
        Ok(response)
    }
}
