//! The per-transaction stub: turns a guest's ledger calls into ChaincodeMessages to the peer and waits for the
//! answer, like the Go shim's `handler.callPeerWithChaincodeMsg`.
//!
//! Every method takes `&mut self`, so a transaction can never have two requests outstanding: the peer would
//! silently drop the second one and the transaction would hang until the peer's execute timeout.
//!
//! Batching (`docs/architecture.md`, "Write batching"): when READY offers `use_write_batch`, public writes are held in
//! a write batch and sent as one WRITE_BATCH_STATE before the transaction answers. The batch is flushed early
//! before anything whose outcome on the peer depends on the writes having arrived: InvokeChaincode (the callee shares
//! the simulator) and the queries a peer allows only in read-only transactions. After such a query the transaction
//! sends its writes one by one, so the peer's refusal reaches the chaincode at the call that caused it, exactly as
//! without batching. Private-data writes are never batched, for the same reason: the peer can refuse them (Init,
//! collection ACLs), and the chaincode must see that refusal where it made the call, not as a failed transaction at
//! the end.

mod batch;
pub mod query;

use std::collections::HashMap;
use std::sync::Arc;

use prost::Message;
use tokio::sync::mpsc;
use wasmcc_proto::protos::chaincode_message::Type;
use wasmcc_proto::protos::{
    ChaincodeAdditionalParams, ChaincodeId, ChaincodeInput, ChaincodeMessage, ChaincodeSpec, DelState,
    GetHistoryForKey, GetQueryResult, GetState, GetStateByRange, GetStateMetadata, GetStateMultiple,
    GetStateMultipleResult, PutState, PutStateMetadata, QueryMetadata, QueryResponse, QueryResponseMetadata,
    QueryStateClose, QueryStateNext, Response, StateMetadata, StateMetadataResult, WriteBatchState,
};

use crate::limits;
use crate::outbound;
use crate::quota::Turn;
use crate::recording::{Exchange, Tape, Wire};
use crate::telemetry::{ChaincodeMetrics, Gauges};
use batch::WriteBatch;
pub use query::{Cursor, CursorKind};

/// Why a stub call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    /// The peer answered ERROR; the text is the peer's.
    #[error("{0}")]
    Peer(String),
    /// The call breaks a rule the shim checks before sending.
    #[error("{0}")]
    InvalidArgument(String),
    /// The stream to the peer is gone; the transaction cannot go on.
    #[error("the peer stream closed while waiting for the {0} response")]
    Disconnected(&'static str),
    /// A per-transaction limit of the host was reached.
    #[error("{0}")]
    Limit(String),
    /// The peer's RESPONSE could not be decoded.
    #[error("malformed response from the peer: {0}")]
    Malformed(String),
    /// The peer answered with something that is neither RESPONSE nor ERROR.
    #[error("[{txid}] unexpected message type {got} received while waiting for the {request} response")]
    Unexpected { txid: String, request: &'static str, got: String },
}

/// What the peer offered in READY, kept per stream (older peers send an empty payload: no batching). Recordings keep
/// it too: it decides which requests a transaction sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct PeerParams {
    pub use_write_batch: bool,
    pub max_size_write_batch: u32,
    pub use_get_multiple_keys: bool,
    pub max_size_get_multiple_keys: u32,
}

impl PeerParams {
    /// The Go shim raises an advertised maximum below 100 to 100; so do we, to batch exactly as it does.
    const MIN_BATCH: u32 = 100;

    pub fn from_ready(payload: &[u8]) -> Result<Self, prost::DecodeError> {
        let p = ChaincodeAdditionalParams::decode(payload)?;
        Ok(PeerParams {
            use_write_batch: p.use_write_batch,
            max_size_write_batch: p.max_size_write_batch.max(Self::MIN_BATCH),
            use_get_multiple_keys: p.use_get_multiple_keys,
            max_size_get_multiple_keys: p.max_size_get_multiple_keys.max(Self::MIN_BATCH),
        })
    }
}

/// Where the session puts the peer's replies to one transaction ([`mailbox`]).
pub type Mailbox = mpsc::Sender<Box<ChaincodeMessage>>;
/// The transaction's side of its [`Mailbox`].
pub type Inbox = mpsc::Receiver<Box<ChaincodeMessage>>;

/// A new transaction's mailbox: room for one reply, since a transaction waits for one answer at a time. The replies
/// are boxed because tokio's channel allocates its first block of 32 slots when it is made: with a message inline
/// (about 250 bytes) that was 8 KB allocated and freed by every transaction, 2% of a noop's CPU at c=64
/// (BENCHMARKS.md, change 42); boxed, 256 bytes, and a box per reply.
pub fn mailbox() -> (Mailbox, Inbox) {
    mpsc::channel(1)
}

/// One transaction's line to the peer: its identity, the stream's writer, its own mailbox of replies (the session
/// routes RESPONSE and ERROR messages here by `channel_id + txid`), its held-back writes and its open queries.
pub struct TxLedger {
    channel_id: String,
    txid: String,
    outbound: mpsc::Sender<ChaincodeMessage>,
    inbox: Inbox,
    params: PeerParams,
    batch: WriteBatch,
    /// Set once the transaction has run a query the peer allows only in read-only transactions: from then on writes
    /// go out one by one, so the peer's refusal reaches the call that caused it.
    unbatched: bool,
    cursors: HashMap<u32, Cursor>,
    next_cursor: u32,
    /// The transaction's CPU turn, given back while it waits on the peer ([`crate::quota::cpu`]).
    turn: Option<Turn>,
    /// The chaincode the turn is for, whose messages a guest thread holds back together ([`crate::outbound`]); `None`
    /// without a turn: messages go at once.
    ccid: Option<Arc<str>>,
    /// The chaincode's figures, which count every request by type.
    metrics: Option<Arc<ChaincodeMetrics>>,
    /// Where waits on the peer are counted, so that the host knows how many transactions compute.
    gauges: Option<Arc<Gauges>>,
    /// Where every request and its reply go when the transaction may be recorded ([`crate::recording`]).
    tape: Option<Tape>,
}

/// A handle on one of the transaction's open queries (what the guest's iterator resource holds).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CursorId(u32);

/// The answer to a query: the cursor over its results, and for a paginated query what the peer said of the page.
pub type QueryStart = (CursorId, Option<QueryResponseMetadata>);

impl TxLedger {
    pub fn new(
        channel_id: String,
        txid: String,
        outbound: mpsc::Sender<ChaincodeMessage>,
        inbox: Inbox,
        params: PeerParams,
    ) -> Self {
        TxLedger {
            channel_id,
            txid,
            outbound,
            inbox,
            params,
            batch: WriteBatch::default(),
            unbatched: false,
            cursors: HashMap::new(),
            next_cursor: 0,
            turn: None,
            ccid: None,
            metrics: None,
            gauges: None,
            tape: None,
        }
    }

    /// Keeps every request and reply of this transaction on `tape`.
    pub fn record_into(&mut self, tape: Tape) {
        self.tape = Some(tape);
    }

    /// Counts this transaction's requests in its chaincode's figures.
    pub fn set_metrics(&mut self, metrics: Arc<ChaincodeMetrics>) {
        self.metrics = Some(metrics);
    }

    /// Counts this transaction's waits on the peer in the host's gauges ([`Gauges::busy_transactions`]).
    pub fn set_gauges(&mut self, gauges: Arc<Gauges>) {
        self.gauges = Some(gauges);
    }

    /// Gives the transaction's CPU turn to the ledger, which pauses it around every wait on the peer.
    pub fn set_turn(&mut self, turn: Turn) {
        self.ccid = Some(turn.ccid().clone());
        self.turn = Some(turn);
    }

    pub fn turn(&self) -> Option<&Turn> {
        self.turn.as_ref()
    }

    // ----- reads -----

    /// GET_STATE: `None` when the peer returns an empty value (it cannot tell absent from empty).
    pub async fn get_state(&mut self, collection: &str, key: &str) -> Result<Option<Vec<u8>>, LedgerError> {
        let req = GetState { key: key.to_string(), collection: collection.to_string() };
        let value = self.call(Type::GetState, req.encode_to_vec()).await?;
        Ok((!value.is_empty()).then_some(value))
    }

    /// GET_STATE_MULTIPLE in chunks of the peer's maximum when READY offered it, else one GET_STATE per key.
    pub async fn get_multiple_states(
        &mut self,
        collection: &str,
        keys: &[String],
    ) -> Result<Vec<Option<Vec<u8>>>, LedgerError> {
        if !self.params.use_get_multiple_keys {
            let mut values = Vec::with_capacity(keys.len());
            for key in keys {
                values.push(self.get_state(collection, key).await?);
            }
            return Ok(values);
        }
        let mut values = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(self.params.max_size_get_multiple_keys.max(1) as usize) {
            let req = GetStateMultiple { keys: chunk.to_vec(), collection: collection.to_string() };
            let reply = self.call(Type::GetStateMultiple, req.encode_to_vec()).await?;
            let result = decode::<GetStateMultipleResult>(&reply, "GetStateMultipleResult")?;
            if result.values.len() != chunk.len() {
                return Err(LedgerError::Malformed(format!(
                    "GET_STATE_MULTIPLE returned {} values for {} keys",
                    result.values.len(),
                    chunk.len()
                )));
            }
            values.extend(result.values.into_iter().map(|v| (!v.is_empty()).then_some(v)));
        }
        Ok(values)
    }

    /// GET_PRIVATE_DATA_HASH (its payload is a `GetState`): `None` when the key is absent.
    pub async fn get_private_data_hash(&mut self, collection: &str, key: &str) -> Result<Option<Vec<u8>>, LedgerError> {
        let req = GetState { key: key.to_string(), collection: collection.to_string() };
        let hash = self.call(Type::GetPrivateDataHash, req.encode_to_vec()).await?;
        Ok((!hash.is_empty()).then_some(hash))
    }

    /// GET_STATE_METADATA: every metadata entry of the key.
    pub async fn get_state_metadata(&mut self, collection: &str, key: &str) -> Result<Vec<StateMetadata>, LedgerError> {
        let req = GetStateMetadata { key: key.to_string(), collection: collection.to_string() };
        let reply = self.call(Type::GetStateMetadata, req.encode_to_vec()).await?;
        Ok(decode::<StateMetadataResult>(&reply, "StateMetadataResult")?.entries)
    }

    // ----- writes -----

    /// PUT_STATE, or a batched record. The key must not be empty (the shim's rule); an empty value deletes.
    pub async fn put_state(&mut self, collection: &str, key: &str, value: Vec<u8>) -> Result<(), LedgerError> {
        if key.is_empty() {
            return Err(LedgerError::InvalidArgument("key must not be an empty string".into()));
        }
        if self.batches(collection) {
            self.count(Type::PutState);
            self.batch.put(collection, key, value);
            return self.flush_if_full().await;
        }
        let req = PutState { key: key.to_string(), value, collection: collection.to_string() };
        self.call(Type::PutState, req.encode_to_vec()).await.map(drop)
    }

    /// DEL_STATE, or a batched record.
    pub async fn del_state(&mut self, collection: &str, key: &str) -> Result<(), LedgerError> {
        if self.batches(collection) {
            self.count(Type::DelState);
            self.batch.del(collection, key);
            return self.flush_if_full().await;
        }
        let req = DelState { key: key.to_string(), collection: collection.to_string() };
        self.call(Type::DelState, req.encode_to_vec()).await.map(drop)
    }

    /// PURGE_PRIVATE_DATA (its payload is a `DelState`). Private, so never batched.
    pub async fn purge_private_data(&mut self, collection: &str, key: &str) -> Result<(), LedgerError> {
        let req = DelState { key: key.to_string(), collection: collection.to_string() };
        self.call(Type::PurgePrivateData, req.encode_to_vec()).await.map(drop)
    }

    /// PUT_STATE_METADATA, or a batched record.
    pub async fn put_state_metadata(
        &mut self,
        collection: &str,
        key: &str,
        entry: StateMetadata,
    ) -> Result<(), LedgerError> {
        if self.batches(collection) {
            self.count(Type::PutStateMetadata);
            self.batch.put_metadata(collection, key, entry);
            return self.flush_if_full().await;
        }
        let req = PutStateMetadata { key: key.to_string(), collection: collection.to_string(), metadata: Some(entry) };
        self.call(Type::PutStateMetadata, req.encode_to_vec()).await.map(drop)
    }

    /// Counts a stub call in the chaincode's figures: a request sent, or a write held back for a batch (counted as
    /// the call the guest made; the batch, when sent, counts as WRITE_BATCH_STATE).
    fn count(&self, ty: Type) {
        if let Some(metrics) = &self.metrics {
            metrics.stub_call(ty as i32);
        }
    }

    fn batches(&self, collection: &str) -> bool {
        self.params.use_write_batch && !self.unbatched && collection.is_empty()
    }

    async fn flush_if_full(&mut self) -> Result<(), LedgerError> {
        if self.batch.len() >= self.params.max_size_write_batch.max(1) as usize {
            self.flush().await?;
        }
        Ok(())
    }

    /// Sends the held-back writes, if any, as one WRITE_BATCH_STATE.
    pub async fn flush(&mut self) -> Result<(), LedgerError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let req = WriteBatchState { rec: self.batch.take() };
        self.call(Type::WriteBatchState, req.encode_to_vec()).await.map(drop)
    }

    /// Ends the transaction's conversation before it answers: releases the peer's iterators that are still open and
    /// sends the held-back writes. An error here fails the transaction (the Go shim's "failed send batch").
    pub async fn finish(&mut self) -> Result<(), LedgerError> {
        // The guest has returned: what is left is waiting on the peer, which needs no CPU turn afterwards.
        if let Some(turn) = self.turn.take() {
            turn.pause();
        }
        let open: Vec<CursorId> =
            self.cursors.iter().filter(|(_, c)| c.has_more).map(|(&id, _)| CursorId(id)).collect();
        for id in open {
            self.close(id).await?;
        }
        self.cursors.clear();
        self.flush().await
    }

    // ----- queries -----

    /// GET_STATE_BY_RANGE over [start, end). Keys are sent as given (the SDK applies the shim's key rules).
    pub async fn get_state_by_range(
        &mut self,
        collection: &str,
        start: &str,
        end: &str,
        page: Option<QueryMetadata>,
    ) -> Result<QueryStart, LedgerError> {
        self.before_query(collection, page.is_some()).await?;
        let req = GetStateByRange {
            start_key: start.to_string(),
            end_key: end.to_string(),
            collection: collection.to_string(),
            metadata: page.as_ref().map(Message::encode_to_vec).unwrap_or_default(),
        };
        let reply = self.call(Type::GetStateByRange, req.encode_to_vec()).await?;
        self.open(CursorKind::State, &reply, page.is_some())
    }

    /// GET_QUERY_RESULT (a rich query; CouchDB only on a real peer).
    pub async fn get_query_result(
        &mut self,
        collection: &str,
        query: &str,
        page: Option<QueryMetadata>,
    ) -> Result<QueryStart, LedgerError> {
        self.before_query(collection, page.is_some()).await?;
        let req = GetQueryResult {
            query: query.to_string(),
            collection: collection.to_string(),
            metadata: page.as_ref().map(Message::encode_to_vec).unwrap_or_default(),
        };
        let reply = self.call(Type::GetQueryResult, req.encode_to_vec()).await?;
        self.open(CursorKind::State, &reply, page.is_some())
    }

    /// GET_HISTORY_FOR_KEY.
    pub async fn get_history_for_key(&mut self, key: &str) -> Result<CursorId, LedgerError> {
        let req = GetHistoryForKey { key: key.to_string() };
        let reply = self.call(Type::GetHistoryForKey, req.encode_to_vec()).await?;
        self.open(CursorKind::History, &reply, false).map(|(id, _)| id)
    }

    /// The next result of a cursor (`None` at the end), prefetching the next batch when the cache runs dry.
    pub async fn next(&mut self, id: CursorId, kind: CursorKind) -> Result<Option<Vec<u8>>, LedgerError> {
        let cursor = self.cursor(id, kind)?;
        if cursor.wants_next() {
            // Only reached when a previous prefetch failed: try again.
            self.fetch(id).await?;
        }
        let cursor = self.cursor(id, kind)?;
        let item = cursor.pop();
        if item.is_some() && cursor.wants_next() {
            self.fetch(id).await?;
        }
        Ok(item)
    }

    /// Up to `max` results of a cursor at once (empty at the end). Unlike [`TxLedger::next`] it does not prefetch:
    /// a guest reading in bulk may stop at the end of a batch, and the peer is asked for the next batch only when
    /// the guest asks with nothing cached.
    pub async fn next_batch(
        &mut self,
        id: CursorId,
        kind: CursorKind,
        max: usize,
    ) -> Result<Vec<Vec<u8>>, LedgerError> {
        if self.cursor(id, kind)?.wants_next() {
            self.fetch(id).await?;
        }
        Ok(self.cursor(id, kind)?.take(max))
    }

    /// QUERY_STATE_CLOSE for a cursor the peer still holds open; forgets the cursor. Never fails for an unknown one.
    pub async fn close(&mut self, id: CursorId) -> Result<(), LedgerError> {
        let Some(mut cursor) = self.cursors.remove(&id.0) else { return Ok(()) };
        if cursor.has_more {
            let req = QueryStateClose { id: cursor.id.clone() };
            self.call(Type::QueryStateClose, req.encode_to_vec()).await?;
            cursor.closed();
        }
        Ok(())
    }

    /// Queries a peer allows only in read-only transactions must see every write made before them.
    async fn before_query(&mut self, collection: &str, paginated: bool) -> Result<(), LedgerError> {
        if paginated || !collection.is_empty() {
            self.flush().await?;
            self.unbatched = true;
        }
        Ok(())
    }

    fn open(&mut self, kind: CursorKind, reply: &[u8], paginated: bool) -> Result<QueryStart, LedgerError> {
        if self.cursors.len() >= limits::MAX_OPEN_ITERATORS {
            return Err(LedgerError::Limit(format!(
                "a transaction may hold at most {} open query iterators; close the ones it no longer reads",
                limits::MAX_OPEN_ITERATORS
            )));
        }
        let response = decode::<QueryResponse>(reply, "QueryResponse")?;
        let page = if paginated { Some(query::page_info(&response)?) } else { None };
        let id = self.next_cursor;
        self.next_cursor += 1;
        self.cursors.insert(id, Cursor::new(kind, response));
        Ok((CursorId(id), page))
    }

    fn cursor(&mut self, id: CursorId, kind: CursorKind) -> Result<&mut Cursor, LedgerError> {
        match self.cursors.get_mut(&id.0) {
            Some(c) if c.kind == kind => Ok(c),
            _ => Err(LedgerError::InvalidArgument("the query iterator is closed".into())),
        }
    }

    async fn fetch(&mut self, id: CursorId) -> Result<(), LedgerError> {
        let peer_id = self.cursors.get(&id.0).map(|c| c.id.clone()).unwrap_or_default();
        let reply = self.call(Type::QueryStateNext, QueryStateNext { id: peer_id }.encode_to_vec()).await;
        let reply = match reply {
            Ok(reply) => decode::<QueryResponse>(&reply, "QueryResponse"),
            Err(e) => Err(e),
        };
        let cursor = self.cursors.get_mut(&id.0).expect("cursor checked by the caller");
        match reply {
            Ok(batch) => {
                cursor.refill(batch);
                Ok(())
            }
            Err(e) => {
                // The peer no longer serves this iterator: stop asking.
                cursor.closed();
                Err(e)
            }
        }
    }

    // ----- other chaincodes -----

    /// INVOKE_CHAINCODE, after flushing held-back writes (the callee shares the transaction's simulator).
    ///
    /// As in the Go shim: the callee's COMPLETED comes back as its `Response`, whatever its status; the callee's
    /// ERROR as status 500 with the RESPONSE payload (the serialized inner message) — and here also its text as
    /// the message, which the Go shim leaves empty. An ERROR from the peer itself (it could not run the callee) is
    /// an error of the call.
    pub async fn invoke_chaincode(
        &mut self,
        name: &str,
        channel: &str,
        args: Vec<Vec<u8>>,
    ) -> Result<Response, LedgerError> {
        self.flush().await?;
        let target = if channel.is_empty() { name.to_string() } else { format!("{name}/{channel}") };
        let spec = ChaincodeSpec {
            chaincode_id: Some(ChaincodeId { name: target, ..Default::default() }),
            input: Some(ChaincodeInput { args, ..Default::default() }),
            ..Default::default()
        };
        let reply = self.call(Type::InvokeChaincode, spec.encode_to_vec()).await?;
        let inner = decode::<ChaincodeMessage>(&reply, "ChaincodeMessage")?;
        if inner.r#type == Type::Completed as i32 {
            return decode::<Response>(&inner.payload, "Response");
        }
        Ok(Response { status: 500, message: String::from_utf8_lossy(&inner.payload).into_owned(), payload: reply })
    }

    // ----- the wire -----

    /// Sends one request and waits for its RESPONSE (payload) or ERROR (the peer's text).
    async fn call(&mut self, ty: Type, payload: Vec<u8>) -> Result<Vec<u8>, LedgerError> {
        let name = ty.as_str_name();
        let msg = ChaincodeMessage {
            r#type: ty as i32,
            payload,
            txid: self.txid.clone(),
            channel_id: self.channel_id.clone(),
            ..Default::default()
        };
        self.count(ty);
        let request = self.tape.as_ref().map(|_| Wire::new(msg.r#type, msg.payload.clone()));
        // Waiting on the peer holds no CPU turn: another transaction runs meanwhile.
        if let Some(turn) = &self.turn {
            turn.pause();
        }
        let waiting = self.gauges.as_deref().map(Gauges::waiting);
        let sent = match &self.ccid {
            Some(ccid) => outbound::send(&self.outbound, ccid, msg).await.is_ok(),
            None => self.outbound.send(msg).await.is_ok(),
        };
        // Not sent, or no reply: the stream is gone.
        let reply = if sent { self.inbox.recv().await } else { None };
        let reply = reply.ok_or(LedgerError::Disconnected(name));
        drop(waiting);
        if let Some(turn) = &self.turn {
            turn.resume().await;
        }
        let reply = *reply?;
        if let (Some(tape), Some(request)) = (&self.tape, request) {
            let reply = Wire::new(reply.r#type, reply.payload.clone());
            tape.lock().expect("tape lock").push(Exchange { request, reply });
        }
        match Type::try_from(reply.r#type) {
            Ok(Type::Response) => Ok(reply.payload),
            Ok(Type::Error) => Err(LedgerError::Peer(String::from_utf8_lossy(&reply.payload).into_owned())),
            other => Err(LedgerError::Unexpected {
                txid: self.txid.clone(),
                request: name,
                got: other.map(|t| t.as_str_name().to_string()).unwrap_or_else(|v| v.to_string()),
            }),
        }
    }
}

fn decode<M: Message + Default>(bytes: &[u8], what: &str) -> Result<M, LedgerError> {
    M::decode(bytes).map_err(|e| LedgerError::Malformed(format!("{what}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger() -> (TxLedger, mpsc::Receiver<ChaincodeMessage>, Mailbox) {
        let (out_tx, out_rx) = mpsc::channel(4);
        let (in_tx, in_rx) = mpsc::channel(4);
        (TxLedger::new("ch".into(), "tx".into(), out_tx, in_rx, PeerParams::default()), out_rx, in_tx)
    }

    fn reply(ty: Type, payload: &[u8]) -> Box<ChaincodeMessage> {
        Box::new(ChaincodeMessage { r#type: ty as i32, payload: payload.to_vec(), ..Default::default() })
    }

    #[tokio::test]
    async fn get_state_sends_request_and_maps_empty_to_none() {
        let (mut l, mut out, inbox) = ledger();
        inbox.send(reply(Type::Response, b"")).await.unwrap();
        assert_eq!(l.get_state("", "k").await.unwrap(), None);
        let sent = out.recv().await.unwrap();
        assert_eq!(sent.r#type, Type::GetState as i32);
        assert_eq!((sent.txid.as_str(), sent.channel_id.as_str()), ("tx", "ch"));
        assert_eq!(GetState::decode(sent.payload.as_slice()).unwrap().key, "k");
    }

    #[tokio::test]
    async fn a_wait_on_the_peer_is_not_counted_busy_until_the_answer_or_the_transaction_goes() {
        let gauges = Arc::new(Gauges::default());
        let _task = crate::telemetry::TransactionGuard::new(gauges.clone());
        let (mut l, mut out, inbox) = ledger();
        l.set_gauges(gauges.clone());
        assert_eq!(gauges.busy_transactions(), 1);
        let get = tokio::spawn(async move { l.get_state("", "k").await.map(drop) });
        out.recv().await.unwrap();
        assert_eq!(gauges.busy_transactions(), 0, "waiting on the peer");
        inbox.send(reply(Type::Response, b"v")).await.unwrap();
        get.await.unwrap().unwrap();
        assert_eq!(gauges.busy_transactions(), 1, "answered");
        // A transaction dropped while it waits (its deadline, its stream ended) is counted busy no longer either.
        let (mut l, mut out, _inbox) = ledger();
        l.set_gauges(gauges.clone());
        let get = tokio::spawn(async move { l.get_state("", "k").await.map(drop) });
        out.recv().await.unwrap();
        assert_eq!(gauges.busy_transactions(), 0);
        get.abort();
        assert!(get.await.unwrap_err().is_cancelled());
        assert_eq!(gauges.busy_transactions(), 1);
    }

    #[tokio::test]
    async fn peer_error_text_reaches_the_caller() {
        let (mut l, _out, inbox) = ledger();
        inbox.send(reply(Type::Error, b"PUT_STATE failed: boom")).await.unwrap();
        let err = l.put_state("", "k", b"v".to_vec()).await.unwrap_err();
        assert_eq!(err, LedgerError::Peer("PUT_STATE failed: boom".into()));
    }

    #[tokio::test]
    async fn empty_key_put_is_refused_locally() {
        let (mut l, mut out, _inbox) = ledger();
        let err = l.put_state("", "", b"v".to_vec()).await.unwrap_err();
        assert!(matches!(err, LedgerError::InvalidArgument(_)));
        assert!(out.try_recv().is_err(), "nothing may reach the peer");
    }

    #[tokio::test]
    async fn a_closed_stream_is_an_error_not_a_hang() {
        let (mut l, _out, inbox) = ledger();
        drop(inbox);
        assert_eq!(l.del_state("", "k").await.unwrap_err(), LedgerError::Disconnected("DEL_STATE"));
    }

    /// A ledger whose peer answers every request with `answer(request)` and records what it was sent.
    fn ledger_with_peer(
        params: PeerParams,
        answer: impl Fn(&ChaincodeMessage) -> Box<ChaincodeMessage> + Send + 'static,
    ) -> (TxLedger, std::sync::Arc<std::sync::Mutex<Vec<ChaincodeMessage>>>) {
        let (out_tx, mut out_rx) = mpsc::channel::<ChaincodeMessage>(4);
        let (in_tx, in_rx) = mpsc::channel(4);
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            while let Some(msg) = out_rx.recv().await {
                let reply = answer(&msg);
                log.lock().unwrap().push(msg);
                if in_tx.send(reply).await.is_err() {
                    break;
                }
            }
        });
        (TxLedger::new("ch".into(), "tx".into(), out_tx, in_rx, params), seen)
    }

    fn batching() -> PeerParams {
        PeerParams {
            use_write_batch: true,
            max_size_write_batch: 100,
            use_get_multiple_keys: true,
            max_size_get_multiple_keys: 100,
        }
    }

    fn types(seen: &std::sync::Mutex<Vec<ChaincodeMessage>>) -> Vec<Type> {
        seen.lock().unwrap().iter().map(|m| Type::try_from(m.r#type).unwrap()).collect()
    }

    #[tokio::test]
    async fn public_writes_are_held_back_until_finish_and_private_ones_are_not() {
        let (mut l, seen) = ledger_with_peer(batching(), |_| reply(Type::Response, b""));
        for i in 0..50 {
            l.put_state("", &format!("k{i}"), b"v".to_vec()).await.unwrap();
        }
        l.del_state("", "k0").await.unwrap();
        l.put_state("coll", "p", b"v".to_vec()).await.unwrap();
        assert_eq!(types(&seen), [Type::PutState], "only the private write went out");
        l.finish().await.unwrap();
        assert_eq!(types(&seen), [Type::PutState, Type::WriteBatchState]);
        let batch = WriteBatchState::decode(seen.lock().unwrap()[1].payload.as_slice()).unwrap();
        assert_eq!(batch.rec.len(), 50, "the delete of k0 replaced its put");
        assert_eq!(batch.rec[0].r#type, wasmcc_proto::protos::write_record::Type::DelState as i32);
    }

    #[tokio::test]
    async fn a_full_batch_is_sent_at_once_and_a_paginated_query_flushes_and_unbatches() {
        let (mut l, seen) = ledger_with_peer(batching(), |m| match Type::try_from(m.r#type).unwrap() {
            Type::GetStateByRange => reply(Type::Response, &QueryResponse::default().encode_to_vec()),
            _ => reply(Type::Response, b""),
        });
        for i in 0..101 {
            l.put_state("", &format!("k{i}"), b"v".to_vec()).await.unwrap();
        }
        assert_eq!(types(&seen), [Type::WriteBatchState], "100 records fill the batch");
        let page = Some(QueryMetadata { page_size: 10, bookmark: String::new() });
        let (_, info) = l.get_state_by_range("", "a", "z", page).await.unwrap();
        assert_eq!(info.unwrap().fetched_records_count, 0);
        l.put_state("", "after", b"v".to_vec()).await.unwrap();
        assert_eq!(
            types(&seen),
            [Type::WriteBatchState, Type::WriteBatchState, Type::GetStateByRange, Type::PutState],
            "the 101st write is flushed before the query; writes after it go out one by one"
        );
    }

    #[tokio::test]
    async fn multi_get_is_chunked_by_the_peers_maximum() {
        let (mut l, seen) = ledger_with_peer(batching(), |m| {
            let req = GetStateMultiple::decode(m.payload.as_slice()).unwrap();
            let values = req.keys.iter().map(|k| if k == "k3" { vec![] } else { k.as_bytes().to_vec() }).collect();
            reply(Type::Response, &GetStateMultipleResult { values }.encode_to_vec())
        });
        let keys: Vec<String> = (0..250).map(|i| format!("k{i}")).collect();
        let values = l.get_multiple_states("", &keys).await.unwrap();
        assert_eq!(values.len(), 250);
        assert_eq!(values[3], None);
        assert_eq!(values[249].as_deref(), Some(&b"k249"[..]));
        assert_eq!(types(&seen), [Type::GetStateMultiple; 3]);
    }

    #[tokio::test]
    async fn without_multi_get_each_key_is_one_get_state() {
        let (mut l, seen) = ledger_with_peer(PeerParams::default(), |_| reply(Type::Response, b"x"));
        let values = l.get_multiple_states("", &["a".into(), "b".into()]).await.unwrap();
        assert_eq!(values, [Some(b"x".to_vec()), Some(b"x".to_vec())]);
        assert_eq!(types(&seen), [Type::GetState, Type::GetState]);
    }

    fn kv_batch(keys: std::ops::Range<u32>, has_more: bool) -> Vec<u8> {
        let results = keys
            .map(|i| wasmcc_proto::protos::QueryResultBytes { result_bytes: format!("r{i}").into_bytes() })
            .collect();
        QueryResponse { results, has_more, id: "peer-it".into(), metadata: vec![] }.encode_to_vec()
    }

    #[tokio::test]
    async fn iterators_prefetch_when_the_batch_runs_out_and_close_at_finish() {
        let (mut l, seen) = ledger_with_peer(batching(), |m| match Type::try_from(m.r#type).unwrap() {
            Type::GetStateByRange => reply(Type::Response, &kv_batch(0..2, true)),
            Type::QueryStateNext => reply(Type::Response, &kv_batch(2..3, true)),
            _ => reply(Type::Response, &QueryResponse::default().encode_to_vec()),
        });
        let (id, page) = l.get_state_by_range("", "", "", None).await.unwrap();
        assert!(page.is_none());
        assert_eq!(l.next(id, CursorKind::State).await.unwrap().unwrap(), b"r0");
        assert_eq!(types(&seen), [Type::GetStateByRange]);
        assert_eq!(l.next(id, CursorKind::State).await.unwrap().unwrap(), b"r1");
        assert_eq!(types(&seen), [Type::GetStateByRange, Type::QueryStateNext], "prefetched after the last item");
        assert!(l.next(id, CursorKind::History).await.is_err(), "a cursor answers only as what it is");
        l.finish().await.unwrap();
        assert_eq!(*types(&seen).last().unwrap(), Type::QueryStateClose, "still open on the peer: closed at the end");
        let close = QueryStateClose::decode(seen.lock().unwrap().last().unwrap().payload.as_slice()).unwrap();
        assert_eq!(close.id, "peer-it");
    }

    #[tokio::test]
    async fn invoke_chaincode_flushes_first_and_maps_inner_results_like_the_go_shim() {
        let (mut l, seen) = ledger_with_peer(batching(), |m| match Type::try_from(m.r#type).unwrap() {
            Type::InvokeChaincode => {
                let spec = ChaincodeSpec::decode(m.payload.as_slice()).unwrap();
                let inner = if spec.chaincode_id.unwrap().name == "good/other" {
                    let r = Response { status: 404, message: "nope".into(), payload: b"p".to_vec() };
                    ChaincodeMessage {
                        r#type: Type::Completed as i32,
                        payload: r.encode_to_vec(),
                        ..Default::default()
                    }
                } else {
                    ChaincodeMessage { r#type: Type::Error as i32, payload: b"boom".to_vec(), ..Default::default() }
                };
                reply(Type::Response, &inner.encode_to_vec())
            }
            _ => reply(Type::Response, b""),
        });
        l.put_state("", "k", b"v".to_vec()).await.unwrap();
        let r = l.invoke_chaincode("good", "other", vec![b"f".to_vec()]).await.unwrap();
        assert_eq!((r.status, r.message.as_str(), r.payload.as_slice()), (404, "nope", &b"p"[..]));
        assert_eq!(types(&seen), [Type::WriteBatchState, Type::InvokeChaincode]);
        let r = l.invoke_chaincode("bad", "", vec![]).await.unwrap();
        assert_eq!((r.status, r.message.as_str()), (500, "boom"));
        let inner = ChaincodeMessage::decode(r.payload.as_slice()).unwrap();
        assert_eq!(inner.r#type, Type::Error as i32, "the payload is the serialized inner message");
    }

    #[test]
    fn ready_params_raise_small_maximums_like_the_shim() {
        let p = ChaincodeAdditionalParams {
            use_write_batch: true,
            max_size_write_batch: 10,
            use_get_multiple_keys: true,
            max_size_get_multiple_keys: 1000,
        };
        let params = PeerParams::from_ready(&p.encode_to_vec()).unwrap();
        assert_eq!(params.max_size_write_batch, 100);
        assert_eq!(params.max_size_get_multiple_keys, 1000);
        assert!(!PeerParams::from_ready(&[]).unwrap().use_write_batch);
    }
}
