//! The host side of the sandbox ABI (`guest-sdk/wit`, shipped inside the SDK that guests compile against): every import a guest can call, each a thin translation to the
//! transaction's [`TxLedger`] or [`TxContext`].
//!
//! A failed call is a typed `error` the guest handles, never a trap; only a host bug (such as a dead resource
//! handle) traps.

use prost::Message;
use wasmcc_proto::protos::{self, QueryMetadata, QueryResponseMetadata};
use wasmcc_proto::queryresult;
use wasmtime::component::{HasSelf, Linker, Resource, ResourceTable};

use crate::context::TxContext;
use crate::ledger::{CursorId, CursorKind, LedgerError, TxLedger};
use crate::telemetry::InstanceGuard;

/// The WIT package both sides compile: it ships inside the guest SDK.
#[cfg(test)]
pub(crate) const WIT_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../guest-sdk/wit");

wasmtime::component::bindgen!({
    path: "../guest-sdk/wit",
    world: "chaincode",
    imports: { default: async | trappable },
    exports: { default: async },
    with: {
        "fabric:chaincode/ledger.state-iterator": StateIterator,
        "fabric:chaincode/ledger.history-iterator": HistoryIterator,
    },
});

pub use fabric::chaincode::types::Response as GuestResponse;
use fabric::chaincode::types::{Error, KeyModification, Kv, KvBatch, PageInfo, PageRequest, StateMetadata, Timestamp};

/// Why a guest ended its transaction through `abort` (a panic, in a Rust guest): the error the call traps with, which
/// the executor turns into the peer's ERROR text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("chaincode panicked: {0}")]
pub struct GuestAbort(pub String);

impl GuestAbort {
    /// Keeps at most [`crate::limits::MAX_ABORT_MESSAGE_BYTES`] of the guest's message, cut at a character boundary.
    pub fn new(mut message: String) -> Self {
        let limit = crate::limits::MAX_ABORT_MESSAGE_BYTES;
        if message.len() > limit {
            let cut = (0..=limit).rev().find(|&i| message.is_char_boundary(i)).unwrap_or(0);
            message.truncate(cut);
            message.push('…');
        }
        GuestAbort(message)
    }
}

/// A range or rich query handed to the guest: a handle on one of the transaction's [`TxLedger`] cursors.
pub struct StateIterator(CursorId);
/// A history query handed to the guest.
pub struct HistoryIterator(CursorId);

/// Everything one transaction's instance owns. Dropped with the Store, which ends the transaction.
pub struct TxState {
    pub ctx: TxContext,
    pub ledger: TxLedger,
    pub event: Option<(String, Vec<u8>)>,
    pub limiter: crate::limiter::MemoryLimiter,
    table: ResourceTable,
    _guard: InstanceGuard,
}

impl TxState {
    pub fn new(ctx: TxContext, ledger: TxLedger, limiter: crate::limiter::MemoryLimiter, guard: InstanceGuard) -> Self {
        TxState { ctx, ledger, event: None, limiter, table: ResourceTable::new(), _guard: guard }
    }
}

/// Registers every import of the world with the linker.
pub fn add_to_linker(linker: &mut Linker<TxState>) -> wasmtime::Result<()> {
    Chaincode::add_to_linker::<_, HasSelf<TxState>>(linker, |s| s)
}

/// An import's result: the outer error traps the guest (a host bug or a dead table entry), the inner one is the
/// guest's to handle.
type Host<T> = wasmtime::Result<Result<T, Error>>;

impl From<LedgerError> for Error {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::Peer(text) => Error::Peer(text),
            LedgerError::InvalidArgument(text) => Error::InvalidArgument(text),
            LedgerError::Limit(text) => Error::Limit(text),
            other => Error::Internal(other.to_string()),
        }
    }
}

fn page_request(page: Option<PageRequest>) -> Option<QueryMetadata> {
    page.map(|p| QueryMetadata { page_size: p.page_size, bookmark: p.bookmark })
}

fn page_info(meta: Option<QueryResponseMetadata>) -> Option<PageInfo> {
    meta.map(|m| PageInfo { fetched_records_count: m.fetched_records_count, bookmark: m.bookmark })
}

fn kv(bytes: &[u8]) -> Result<Kv, Error> {
    let kv = queryresult::Kv::decode(bytes).map_err(|e| Error::Internal(format!("malformed queryresult.KV: {e}")))?;
    Ok(Kv { key: kv.key, value: kv.value })
}

/// Packs serialized `queryresult.KV`s as `kv-batch` (see the WIT for the layout).
fn kv_batch(items: &[Vec<u8>]) -> Result<KvBatch, Error> {
    let size: usize = items.iter().map(Vec::len).sum();
    let mut batch = KvBatch { data: Vec::with_capacity(size), ends: Vec::with_capacity(items.len() * 2) };
    for bytes in items {
        let kv = kv(bytes)?;
        for part in [kv.key.as_bytes(), &kv.value] {
            batch.data.extend_from_slice(part);
            let end = u32::try_from(batch.data.len())
                .map_err(|_| Error::Limit("a query batch larger than 4 GiB cannot be handed to the guest".into()))?;
            batch.ends.push(end);
        }
    }
    Ok(batch)
}

fn key_modification(bytes: &[u8]) -> Result<KeyModification, Error> {
    let m = queryresult::KeyModification::decode(bytes)
        .map_err(|e| Error::Internal(format!("malformed queryresult.KeyModification: {e}")))?;
    Ok(KeyModification {
        tx_id: m.tx_id,
        value: m.value,
        timestamp: m.timestamp.map(|t| Timestamp { seconds: t.seconds, nanos: t.nanos }),
        is_delete: m.is_delete,
    })
}

impl fabric::chaincode::types::Host for TxState {}

impl fabric::chaincode::abort::Host for TxState {
    /// Never returns to the guest: the trap carries the message to the executor.
    async fn abort(&mut self, message: String) -> wasmtime::Result<()> {
        Err(GuestAbort::new(message).into())
    }
}

impl fabric::chaincode::ledger::Host for TxState {
    async fn get_state(&mut self, collection: String, key: String) -> Host<Option<Vec<u8>>> {
        Ok(self.ledger.get_state(&collection, &key).await.map_err(Error::from))
    }

    async fn get_multiple_states(&mut self, collection: String, keys: Vec<String>) -> Host<Vec<Option<Vec<u8>>>> {
        Ok(self.ledger.get_multiple_states(&collection, &keys).await.map_err(Error::from))
    }

    async fn get_private_data_hash(&mut self, collection: String, key: String) -> Host<Option<Vec<u8>>> {
        Ok(self.ledger.get_private_data_hash(&collection, &key).await.map_err(Error::from))
    }

    async fn put_state(&mut self, collection: String, key: String, value: Vec<u8>) -> Host<()> {
        Ok(self.ledger.put_state(&collection, &key, value).await.map_err(Error::from))
    }

    async fn del_state(&mut self, collection: String, key: String) -> Host<()> {
        Ok(self.ledger.del_state(&collection, &key).await.map_err(Error::from))
    }

    async fn purge_private_data(&mut self, collection: String, key: String) -> Host<()> {
        Ok(self.ledger.purge_private_data(&collection, &key).await.map_err(Error::from))
    }

    async fn get_state_metadata(&mut self, collection: String, key: String) -> Host<Vec<StateMetadata>> {
        let entries = self.ledger.get_state_metadata(&collection, &key).await.map_err(Error::from);
        Ok(entries.map(|e| e.into_iter().map(|m| StateMetadata { metakey: m.metakey, value: m.value }).collect()))
    }

    async fn put_state_metadata(&mut self, collection: String, key: String, entry: StateMetadata) -> Host<()> {
        let entry = protos::StateMetadata { metakey: entry.metakey, value: entry.value };
        Ok(self.ledger.put_state_metadata(&collection, &key, entry).await.map_err(Error::from))
    }

    async fn get_state_by_range(
        &mut self,
        collection: String,
        start: String,
        end: String,
        page: Option<PageRequest>,
    ) -> Host<(Resource<StateIterator>, Option<PageInfo>)> {
        match self.ledger.get_state_by_range(&collection, &start, &end, page_request(page)).await {
            Ok((id, meta)) => Ok(Ok((self.table.push(StateIterator(id))?, page_info(meta)))),
            Err(e) => Ok(Err(e.into())),
        }
    }

    async fn get_query_result(
        &mut self,
        collection: String,
        query: String,
        page: Option<PageRequest>,
    ) -> Host<(Resource<StateIterator>, Option<PageInfo>)> {
        match self.ledger.get_query_result(&collection, &query, page_request(page)).await {
            Ok((id, meta)) => Ok(Ok((self.table.push(StateIterator(id))?, page_info(meta)))),
            Err(e) => Ok(Err(e.into())),
        }
    }

    async fn get_history_for_key(&mut self, key: String) -> Host<Resource<HistoryIterator>> {
        match self.ledger.get_history_for_key(&key).await {
            Ok(id) => Ok(Ok(self.table.push(HistoryIterator(id))?)),
            Err(e) => Ok(Err(e.into())),
        }
    }
}

impl fabric::chaincode::ledger::HostStateIterator for TxState {
    async fn next(&mut self, it: Resource<StateIterator>) -> Host<Option<Kv>> {
        let id = self.table.get(&it)?.0;
        Ok(match self.ledger.next(id, CursorKind::State).await {
            Ok(Some(bytes)) => kv(&bytes).map(Some),
            Ok(None) => Ok(None),
            Err(e) => Err(e.into()),
        })
    }

    async fn next_batch(&mut self, it: Resource<StateIterator>, max: u32) -> Host<KvBatch> {
        let id = self.table.get(&it)?.0;
        Ok(match self.ledger.next_batch(id, CursorKind::State, max as usize).await {
            Ok(items) => kv_batch(&items),
            Err(e) => Err(e.into()),
        })
    }

    async fn close(&mut self, it: Resource<StateIterator>) -> wasmtime::Result<()> {
        let id = self.table.get(&it)?.0;
        // Closing can only fail when the stream is gone, which the transaction's next call reports.
        let _ = self.ledger.close(id).await;
        Ok(())
    }

    async fn drop(&mut self, it: Resource<StateIterator>) -> wasmtime::Result<()> {
        let StateIterator(id) = self.table.delete(it)?;
        let _ = self.ledger.close(id).await;
        Ok(())
    }
}

impl fabric::chaincode::ledger::HostHistoryIterator for TxState {
    async fn next(&mut self, it: Resource<HistoryIterator>) -> Host<Option<KeyModification>> {
        let id = self.table.get(&it)?.0;
        Ok(match self.ledger.next(id, CursorKind::History).await {
            Ok(Some(bytes)) => key_modification(&bytes).map(Some),
            Ok(None) => Ok(None),
            Err(e) => Err(e.into()),
        })
    }

    async fn next_batch(&mut self, it: Resource<HistoryIterator>, max: u32) -> Host<Vec<KeyModification>> {
        let id = self.table.get(&it)?.0;
        Ok(match self.ledger.next_batch(id, CursorKind::History, max as usize).await {
            Ok(items) => items.iter().map(|bytes| key_modification(bytes)).collect(),
            Err(e) => Err(e.into()),
        })
    }

    async fn close(&mut self, it: Resource<HistoryIterator>) -> wasmtime::Result<()> {
        let id = self.table.get(&it)?.0;
        let _ = self.ledger.close(id).await;
        Ok(())
    }

    async fn drop(&mut self, it: Resource<HistoryIterator>) -> wasmtime::Result<()> {
        let HistoryIterator(id) = self.table.delete(it)?;
        let _ = self.ledger.close(id).await;
        Ok(())
    }
}

impl fabric::chaincode::context::Host for TxState {
    async fn tx_id(&mut self) -> wasmtime::Result<String> {
        Ok(self.ctx.txid.clone())
    }

    async fn channel_id(&mut self) -> wasmtime::Result<String> {
        Ok(self.ctx.channel_id.clone())
    }

    async fn args(&mut self) -> wasmtime::Result<Vec<Vec<u8>>> {
        Ok(self.ctx.args.clone())
    }

    async fn is_init(&mut self) -> wasmtime::Result<bool> {
        Ok(self.ctx.is_init)
    }

    async fn creator(&mut self) -> wasmtime::Result<Vec<u8>> {
        Ok(self.ctx.proposal.creator.to_vec())
    }

    async fn transient(&mut self) -> wasmtime::Result<Vec<(String, Vec<u8>)>> {
        Ok(self.ctx.proposal.transient.iter().map(|(k, v)| (k.clone(), v.to_vec())).collect())
    }

    async fn binding(&mut self) -> wasmtime::Result<Vec<u8>> {
        Ok(self.ctx.proposal.binding())
    }

    async fn signed_proposal(&mut self) -> wasmtime::Result<Option<Vec<u8>>> {
        Ok(self.ctx.proposal.signed_proposal.as_ref().map(Message::encode_to_vec))
    }

    async fn tx_timestamp(&mut self) -> Host<Timestamp> {
        Ok(match self.ctx.proposal.timestamp {
            Some(t) => Ok(Timestamp { seconds: t.seconds, nanos: t.nanos }),
            None => Err(Error::InvalidArgument("the transaction has no proposal, so no timestamp".into())),
        })
    }

    async fn decorations(&mut self) -> wasmtime::Result<Vec<(String, Vec<u8>)>> {
        Ok(self.ctx.decorations.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    }
}

impl fabric::chaincode::events::Host for TxState {
    async fn set_event(&mut self, name: String, payload: Vec<u8>) -> Host<()> {
        if name.is_empty() {
            return Ok(Err(Error::InvalidArgument("event name can not be empty string".into())));
        }
        self.event = Some((name, payload));
        Ok(Ok(()))
    }
}

impl fabric::chaincode::cross_chaincode::Host for TxState {
    async fn invoke_chaincode(&mut self, name: String, channel: String, args: Vec<Vec<u8>>) -> Host<GuestResponse> {
        Ok(match self.ledger.invoke_chaincode(&name, &channel, args).await {
            Ok(r) => Ok(GuestResponse { status: r.status, message: r.message, payload: r.payload }),
            Err(e) => Err(e.into()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_abort_message_is_kept_whole_up_to_the_limit_and_cut_at_a_character_past_it() {
        let limit = crate::limits::MAX_ABORT_MESSAGE_BYTES;
        assert_eq!(GuestAbort::new("a".repeat(limit)).0.len(), limit);
        let cut = GuestAbort::new(format!("{}é{}", "a".repeat(limit - 1), "b".repeat(10_000)));
        assert_eq!(cut.0, format!("{}…", "a".repeat(limit - 1)));
        assert_eq!(GuestAbort::new("boom".into()).to_string(), "chaincode panicked: boom");
    }
}
