//! One transaction on the mock ledger: the [`Backend`] a [`Stub`](crate::Stub) talks to natively.

use std::collections::BTreeMap;
use std::ops::Bound;

use sha2::{Digest, Sha256};

use super::{Key, MockLedger};
use crate::backend::{Backend, Page};
use crate::iterators::{Buffered, HistoryIterator, KeyValue, QueryMetadata, StateIterator};
use crate::{Error, Response, Timestamp};

/// Reads go to the ledger's committed state; writes are buffered until [`MockLedger::execute`] decides.
pub(super) struct Tx<'l> {
    /// The ledger whose state the transaction reads and writes: the chaincode's own.
    ledger: &'l MockLedger,
    /// The ledger whose context (channel, creator, transient, timestamp) the transaction sees: the chaincode's
    /// own, or the calling chaincode's for a chaincode-to-chaincode call (the peer hands the callee the caller's
    /// proposal).
    context: &'l MockLedger,
    tx_id: String,
    args: Vec<Vec<u8>>,
    init: bool,
    /// `None` = delete.
    writes: BTreeMap<Key, Option<Vec<u8>>>,
    /// A metadata write replaces the key's metadata, as the peer's `SetStateMetadata` does.
    metadata_writes: BTreeMap<Key, BTreeMap<String, Vec<u8>>>,
    event: Option<(String, Vec<u8>)>,
    /// The outcomes of same-channel chaincode-to-chaincode calls, committed with this transaction.
    calls: Vec<(String, Outcome)>,
    /// The transaction simulator's flags behind its read-only rules.
    wrote: bool,
    paginated_query: bool,
    private_query: bool,
}

/// What a finished transaction leaves for the commit.
pub(super) struct Outcome {
    pub(super) writes: BTreeMap<Key, Option<Vec<u8>>>,
    pub(super) metadata_writes: BTreeMap<Key, BTreeMap<String, Vec<u8>>>,
    pub(super) event: Option<(String, Vec<u8>)>,
    /// Same-channel calls: the callee's name and its outcome.
    pub(super) calls: Vec<(String, Outcome)>,
}

fn sorted(map: &BTreeMap<String, Vec<u8>>) -> Vec<(String, Vec<u8>)> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn key(collection: &str, key: &str) -> Key {
    (collection.to_owned(), key.to_owned())
}

/// A page request the peer treats as one: the Go shim sends `{0, ""}` as no metadata at all
/// (docs/fabric-protocol.md §10.3).
fn paginated(page: Option<Page<'_>>) -> Option<Page<'_>> {
    page.filter(|p| p.page_size != 0 || !p.bookmark.is_empty())
}

impl<'l> Tx<'l> {
    pub(super) fn new(ledger: &'l MockLedger, tx_id: &str, args: Vec<Vec<u8>>, init: bool) -> Self {
        Self::with_context(ledger, ledger, tx_id, args, init)
    }

    fn with_context(
        ledger: &'l MockLedger,
        context: &'l MockLedger,
        tx_id: &str,
        args: Vec<Vec<u8>>,
        init: bool,
    ) -> Self {
        Tx {
            ledger,
            context,
            tx_id: tx_id.to_owned(),
            args,
            init,
            writes: BTreeMap::new(),
            metadata_writes: BTreeMap::new(),
            event: None,
            calls: Vec::new(),
            wrote: false,
            paginated_query: false,
            private_query: false,
        }
    }

    pub(super) fn finish(self) -> Outcome {
        Outcome { writes: self.writes, metadata_writes: self.metadata_writes, event: self.event, calls: self.calls }
    }

    /// An ERROR answer as the peer's handler words it.
    fn peer_error(&self, request: &str, cause: &str) -> Error {
        Error::Peer(format!("{request} failed: transaction ID: {}: {cause}", self.tx_id))
    }

    /// The peer refuses private data in INIT, whatever the call.
    fn check_collection(&self, request: &str, collection: &str) -> Result<(), Error> {
        if self.init && !collection.is_empty() {
            return Err(self.peer_error(request, "private data APIs are not allowed in chaincode Init()"));
        }
        Ok(())
    }

    /// The simulator's `checkWritePrecondition`.
    fn check_write(&mut self, request: &str, collection: &str) -> Result<(), Error> {
        self.check_collection(request, collection)?;
        let txid = &self.tx_id;
        if self.private_query {
            let cause = format!(
                "txid [{txid}]: unsuppored transaction. Transaction has already performed queries on pvt data. \
                 Writes are not allowed"
            );
            return Err(self.peer_error(request, &cause));
        }
        if self.paginated_query {
            let cause = format!(
                "txid [{txid}]: unsuppored transaction. Transaction has already performed a paginated query. Writes \
                 are not allowed"
            );
            return Err(self.peer_error(request, &cause));
        }
        self.wrote = true;
        Ok(())
    }

    /// The simulator's `checkBeforePaginatedQueries` / `checkBeforePvtdataQueries`.
    fn check_query(&mut self, request: &str, collection: &str, page: Option<Page<'_>>) -> Result<(), Error> {
        self.check_collection(request, collection)?;
        let txid = &self.tx_id;
        if !collection.is_empty() {
            if self.wrote {
                let cause = format!(
                    "txid [{txid}]: unsuppored transaction. Queries on pvt data is supported only in a read-only \
                     transaction"
                );
                return Err(self.peer_error(request, &cause));
            }
            self.private_query = true;
        } else if paginated(page).is_some() {
            if self.wrote {
                let cause = format!(
                    "txid [{txid}]: unsuppored transaction. Paginated queries are supported only in a read-only \
                     transaction"
                );
                return Err(self.peer_error(request, &cause));
            }
            self.paginated_query = true;
        }
        Ok(())
    }

    /// The committed keys of `collection` in `[start, end)` (an empty end is unbounded).
    fn range(&self, collection: &str, start: &str, end: &str) -> Vec<KeyValue> {
        let low = Bound::Included(key(collection, start));
        let high = if end.is_empty() {
            // Every key of this collection sorts before (collection + "\0", "").
            Bound::Excluded(key(&format!("{collection}\0"), ""))
        } else if end <= start {
            return Vec::new();
        } else {
            Bound::Excluded(key(collection, end))
        };
        self.ledger
            .state
            .range((low, high))
            .filter(|((c, _), _)| c == collection)
            .map(|((_, k), v)| KeyValue { key: k.clone(), value: v.clone() })
            .collect()
    }

    /// A rich query over the JSON-object values of `collection`, `fields` applied; the page as CouchDB gives it
    /// (up to `page_size` after the bookmark, the bookmark being the last key returned).
    fn rich_query(
        &self,
        collection: &str,
        query: &str,
        page: Option<Page<'_>>,
    ) -> Result<(Vec<KeyValue>, Option<QueryMetadata>), String> {
        let query = wasmcc_mango::Query::parse(query).map_err(|e| e.to_string())?;
        let docs: Vec<(String, serde_json::Value)> = self
            .ledger
            .state
            .iter()
            .filter(|((c, _), _)| c == collection)
            .filter_map(|((_, k), v)| wasmcc_mango::document(v).map(|d| (k.clone(), d)))
            .collect();
        let hits = query.select(docs.iter().map(|(k, d)| (k.as_str(), d)));
        // The peer overrides the query's `limit` (and, when paginating, its `bookmark`); `skip` stays.
        let start = match paginated(page) {
            Some(p) => wasmcc_mango::resume_after(&hits, p.bookmark),
            None => query.bookmark().map_or(0, |b| wasmcc_mango::resume_after(&hits, b)),
        };
        let limit = paginated(page).filter(|p| p.page_size > 0).map_or(usize::MAX, |p| p.page_size as usize);
        let results: Vec<KeyValue> = hits
            .into_iter()
            .skip(start)
            .skip(query.skip())
            .take(limit)
            .map(|(k, doc)| {
                let value = match query.project(doc) {
                    Some(projected) => serde_json::to_vec(&projected).expect("a JSON value serializes"),
                    None => self.ledger.state[&key(collection, k)].clone(),
                };
                KeyValue { key: k.to_owned(), value }
            })
            .collect();
        let info = page.map(|p| match paginated(Some(p)) {
            None => QueryMetadata::default(),
            Some(_) => QueryMetadata {
                fetched_records_count: results.len() as i32,
                bookmark: results.last().map(|kv| kv.key.clone()).unwrap_or_default(),
            },
        });
        Ok((results, info))
    }
}

impl Backend for Tx<'_> {
    fn args(&self) -> Vec<Vec<u8>> {
        self.args.clone()
    }
    fn tx_id(&self) -> String {
        self.tx_id.clone()
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
        self.check_collection("GET_STATE", collection)?;
        Ok(self.ledger.private_data(collection, key).map(<[u8]>::to_vec))
    }
    fn get_multiple_states(&mut self, collection: &str, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, Error> {
        self.check_collection("GET_STATE_MULTIPLE", collection)?;
        keys.iter().map(|k| self.get_state(collection, k)).collect()
    }
    fn get_private_data_hash(&mut self, collection: &str, key: &str) -> Result<Option<Vec<u8>>, Error> {
        self.check_collection("GET_PRIVATE_DATA_HASH", collection)?;
        Ok(self.ledger.private_data(collection, key).map(|v| Sha256::digest(v).to_vec()))
    }
    fn put_state(&mut self, collection: &str, key: &str, value: &[u8]) -> Result<(), Error> {
        self.check_write("PUT_STATE", collection)?;
        let value = (!value.is_empty()).then(|| value.to_vec());
        self.writes.insert(self::key(collection, key), value);
        Ok(())
    }
    fn del_state(&mut self, collection: &str, key: &str) -> Result<(), Error> {
        self.check_write("DEL_STATE", collection)?;
        self.writes.insert(self::key(collection, key), None);
        Ok(())
    }
    fn purge_private_data(&mut self, collection: &str, key: &str) -> Result<(), Error> {
        // The mock keeps no private history, so purging is deleting (value and hash).
        self.check_write("PURGE_PRIVATE_DATA", collection)?;
        self.writes.insert(self::key(collection, key), None);
        Ok(())
    }
    fn get_state_metadata(&mut self, collection: &str, key: &str) -> Result<Vec<(String, Vec<u8>)>, Error> {
        self.check_collection("GET_STATE_METADATA", collection)?;
        let entries = self.ledger.metadata.get(&self::key(collection, key));
        Ok(entries.map(sorted).unwrap_or_default())
    }
    fn put_state_metadata(&mut self, collection: &str, key: &str, metakey: &str, value: &[u8]) -> Result<(), Error> {
        self.check_write("PUT_STATE_METADATA", collection)?;
        let entries = BTreeMap::from([(metakey.to_owned(), value.to_vec())]);
        self.metadata_writes.insert(self::key(collection, key), entries);
        Ok(())
    }
    fn get_state_by_range(
        &mut self,
        collection: &str,
        start: &str,
        end: &str,
        page: Option<Page<'_>>,
    ) -> Result<(StateIterator, Option<QueryMetadata>), Error> {
        self.check_query("GET_STATE_BY_RANGE", collection, page)?;
        let Some(p) = paginated(page) else {
            let results = self.range(collection, start, end);
            return Ok((StateIterator::new(Buffered(results.into_iter())), page.map(|_| QueryMetadata::default())));
        };
        // A bookmark replaces the start key, even one sorting before it (docs/fabric-protocol.md §10.3); the next
        // bookmark is the key after the page, as LevelDB gives it.
        let start = if p.bookmark.is_empty() { start } else { p.bookmark };
        let mut results = self.range(collection, start, end);
        let mut bookmark = String::new();
        if p.page_size > 0 && results.len() > p.page_size as usize {
            bookmark = results[p.page_size as usize].key.clone();
            results.truncate(p.page_size as usize);
        }
        let info = QueryMetadata { fetched_records_count: results.len() as i32, bookmark };
        Ok((StateIterator::new(Buffered(results.into_iter())), Some(info)))
    }
    fn get_query_result(
        &mut self,
        collection: &str,
        query: &str,
        page: Option<Page<'_>>,
    ) -> Result<(StateIterator, Option<QueryMetadata>), Error> {
        self.check_query("GET_QUERY_RESULT", collection, page)?;
        let (results, info) =
            self.rich_query(collection, query, page).map_err(|e| self.peer_error("GET_QUERY_RESULT", &e))?;
        Ok((StateIterator::new(Buffered(results.into_iter())), info))
    }
    fn get_history_for_key(&mut self, key: &str) -> Result<HistoryIterator, Error> {
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
        let Some((invoke, callee)) = self.ledger.chaincodes.get(name) else {
            let cause = format!("chaincode {name} is not registered with the mock ledger");
            return Err(self.peer_error("INVOKE_CHAINCODE", &cause));
        };
        let mut tx = Tx::with_context(callee, self.context, &self.tx_id, args.to_vec(), false);
        let response = invoke(&mut crate::Stub::new(&mut tx));
        if channel.is_empty() || channel == self.context.channel_id {
            self.calls.push((name.to_owned(), tx.finish()));
        }
        Ok(response)
    }
}
