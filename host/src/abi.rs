//! The host side of the sandbox ABI (`proto/wit`): every import a guest can call, each a thin translation to the
//! transaction's [`TxLedger`] or [`TxContext`].
//!
//! Calls this host does not implement yet answer `error::unsupported`, so a guest always gets a typed error and
//! never a trap.

use wasmtime::component::{HasSelf, Linker, Resource, ResourceTable};

use crate::context::TxContext;
use crate::ledger::{LedgerError, TxLedger};
use crate::metrics::InstanceGuard;

wasmtime::component::bindgen!({
    path: "../proto/wit",
    world: "chaincode",
    imports: { default: async | trappable },
    exports: { default: async },
    with: {
        "fabric:chaincode/ledger.state-iterator": StateIterator,
        "fabric:chaincode/ledger.history-iterator": HistoryIterator,
    },
});

pub use fabric::chaincode::types::Response as GuestResponse;
use fabric::chaincode::types::{Error, KeyModification, Kv, PageInfo, PageRequest, StateMetadata, Timestamp};

/// A query iterator handed to the guest (filled in with the full stub API).
pub struct StateIterator;
/// A history iterator handed to the guest (filled in with the full stub API).
pub struct HistoryIterator;

/// Everything one transaction's instance owns. Dropped with the Store, which ends the transaction.
pub struct TxState {
    pub ctx: TxContext,
    pub ledger: TxLedger,
    pub event: Option<(String, Vec<u8>)>,
    pub limiter: crate::executor::MemoryLimiter,
    table: ResourceTable,
    _guard: InstanceGuard,
}

impl TxState {
    pub fn new(
        ctx: TxContext,
        ledger: TxLedger,
        limiter: crate::executor::MemoryLimiter,
        guard: InstanceGuard,
    ) -> Self {
        TxState { ctx, ledger, event: None, limiter, table: ResourceTable::new(), _guard: guard }
    }
}

/// Registers every import of the world with the linker.
pub fn add_to_linker(linker: &mut Linker<TxState>) -> wasmtime::Result<()> {
    Chaincode::add_to_linker::<_, HasSelf<TxState>>(linker, |s| s)
}

type Host<T> = wasmtime::Result<Result<T, Error>>;

fn unsupported<T>(call: &str) -> Host<T> {
    Ok(Err(Error::Unsupported(format!("{call} is not supported by this host yet"))))
}

impl From<LedgerError> for Error {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::Peer(text) => Error::Peer(text),
            LedgerError::InvalidArgument(text) => Error::InvalidArgument(text),
            other => Error::Internal(other.to_string()),
        }
    }
}

impl fabric::chaincode::types::Host for TxState {}

impl fabric::chaincode::ledger::Host for TxState {
    async fn get_state(&mut self, collection: String, key: String) -> Host<Option<Vec<u8>>> {
        Ok(self.ledger.get_state(&collection, &key).await.map_err(Error::from))
    }

    async fn get_multiple_states(&mut self, _collection: String, _keys: Vec<String>) -> Host<Vec<Option<Vec<u8>>>> {
        unsupported("get-multiple-states")
    }

    async fn get_private_data_hash(&mut self, _collection: String, _key: String) -> Host<Option<Vec<u8>>> {
        unsupported("get-private-data-hash")
    }

    async fn put_state(&mut self, collection: String, key: String, value: Vec<u8>) -> Host<()> {
        Ok(self.ledger.put_state(&collection, &key, value).await.map_err(Error::from))
    }

    async fn del_state(&mut self, collection: String, key: String) -> Host<()> {
        Ok(self.ledger.del_state(&collection, &key).await.map_err(Error::from))
    }

    async fn purge_private_data(&mut self, _collection: String, _key: String) -> Host<()> {
        unsupported("purge-private-data")
    }

    async fn get_state_metadata(&mut self, _collection: String, _key: String) -> Host<Vec<StateMetadata>> {
        unsupported("get-state-metadata")
    }

    async fn put_state_metadata(&mut self, _collection: String, _key: String, _entry: StateMetadata) -> Host<()> {
        unsupported("put-state-metadata")
    }

    async fn get_state_by_range(
        &mut self,
        _collection: String,
        _start: String,
        _end: String,
        _page: Option<PageRequest>,
    ) -> Host<(Resource<StateIterator>, Option<PageInfo>)> {
        unsupported("get-state-by-range")
    }

    async fn get_query_result(
        &mut self,
        _collection: String,
        _query: String,
        _page: Option<PageRequest>,
    ) -> Host<(Resource<StateIterator>, Option<PageInfo>)> {
        unsupported("get-query-result")
    }

    async fn get_history_for_key(&mut self, _key: String) -> Host<Resource<HistoryIterator>> {
        unsupported("get-history-for-key")
    }
}

impl fabric::chaincode::ledger::HostStateIterator for TxState {
    async fn next(&mut self, _it: Resource<StateIterator>) -> Host<Option<Kv>> {
        unsupported("state-iterator.next")
    }

    async fn close(&mut self, _it: Resource<StateIterator>) -> wasmtime::Result<()> {
        Ok(())
    }

    async fn drop(&mut self, it: Resource<StateIterator>) -> wasmtime::Result<()> {
        self.table.delete(it)?;
        Ok(())
    }
}

impl fabric::chaincode::ledger::HostHistoryIterator for TxState {
    async fn next(&mut self, _it: Resource<HistoryIterator>) -> Host<Option<KeyModification>> {
        unsupported("history-iterator.next")
    }

    async fn close(&mut self, _it: Resource<HistoryIterator>) -> wasmtime::Result<()> {
        Ok(())
    }

    async fn drop(&mut self, it: Resource<HistoryIterator>) -> wasmtime::Result<()> {
        self.table.delete(it)?;
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
        Ok(self.ctx.proposal.creator.clone())
    }

    async fn transient(&mut self) -> wasmtime::Result<Vec<(String, Vec<u8>)>> {
        Ok(self.ctx.proposal.transient.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    }

    async fn binding(&mut self) -> wasmtime::Result<Vec<u8>> {
        Ok(self.ctx.proposal.binding.clone())
    }

    async fn signed_proposal(&mut self) -> wasmtime::Result<Option<Vec<u8>>> {
        Ok(self.ctx.proposal.signed_proposal.clone())
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
    async fn invoke_chaincode(&mut self, _name: String, _channel: String, _args: Vec<Vec<u8>>) -> Host<GuestResponse> {
        unsupported("invoke-chaincode")
    }
}
