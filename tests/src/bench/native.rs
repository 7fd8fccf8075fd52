//! The `native` implementation: a chaincode crate linked into the host process and run with no sandbox, through
//! the very import functions a wasm instance calls ([`wasmcc_host::abi`]), so the only difference from the `wasm`
//! implementation is the sandbox itself.
//!
//! The chaincode is synchronous and the host's ledger is async: each transaction runs on a blocking thread and
//! waits for each ledger call with [`Handle::block_on`], as a Go chaincode's goroutine waits on its channel.

use std::cell::RefCell;
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

use tokio::runtime::Handle;
use wasmcc_host::abi::fabric::chaincode::types;
use wasmcc_host::abi::fabric::chaincode::{context, cross_chaincode, events, ledger};
use wasmcc_host::abi::{GuestResponse, StateIterator as HostState, TxState};
use wasmcc_host::executor::{NativeProgram, NativeRun};
use wasmcc_host::failure::TxFailure;
use wasmcc_sdk::embed::{self, Backend, Cursor, Page};
use wasmcc_sdk::{Chaincode, Error, HistoryIterator, KeyModification, KeyValue, QueryMetadata, Response};
use wasmcc_sdk::{StateIterator, Timestamp};
use wasmtime::component::Resource;

/// Runs chaincode `C` natively in the host.
pub struct NativeChaincode<C>(PhantomData<fn() -> C>);

impl<C> Default for NativeChaincode<C> {
    fn default() -> Self {
        NativeChaincode(PhantomData)
    }
}

impl<C: Chaincode + 'static> NativeProgram for NativeChaincode<C> {
    fn run(&self, state: TxState) -> NativeRun {
        let handle = Handle::current();
        Box::pin(async move {
            let joined = tokio::task::spawn_blocking(move || {
                let is_init = state.ctx.is_init;
                let shared = Shared::new(RefCell::new(Some(state)));
                let mut backend = NativeBackend { state: shared.clone(), handle };
                let answer = catch_unwind(AssertUnwindSafe(|| embed::invoke::<C>(&mut backend, is_init)));
                drop(backend);
                let state = shared.borrow_mut().take().expect("the transaction state is taken only here");
                let result = answer
                    .map(|r| GuestResponse { status: r.status, message: r.message, payload: r.payload })
                    .map_err(|_| TxFailure::Native("native chaincode panicked".into()));
                (state, result)
            })
            .await;
            joined.expect("the native transaction thread returns its state (panics are caught inside)")
        })
    }
}

/// The transaction's state, shared by the backend and the iterators it hands out (all on one thread). Taken out
/// when the chaincode returns: an iterator kept beyond that finds nothing and fails.
type Shared = Rc<RefCell<Option<TxState>>>;

struct NativeBackend {
    state: Shared,
    handle: Handle,
}

fn gone() -> Error {
    Error::Internal("the transaction has ended".into())
}

fn sdk_error(e: types::Error) -> Error {
    match e {
        types::Error::Peer(m) => Error::Peer(m),
        types::Error::InvalidArgument(m) => Error::InvalidArgument(m),
        types::Error::Unsupported(m) => Error::Unsupported(m),
        types::Error::Limit(m) => Error::Limit(m),
        types::Error::Internal(m) => Error::Internal(m),
    }
}

/// Runs one import against the transaction's state; a trap (a host bug) becomes an internal error.
fn call<T, F>(shared: &Shared, handle: &Handle, f: F) -> Result<T, Error>
where
    F: AsyncFnOnce(&mut TxState) -> wasmtime::Result<Result<T, types::Error>>,
{
    let mut guard = shared.borrow_mut();
    let state = guard.as_mut().ok_or_else(gone)?;
    match handle.block_on(f(state)) {
        Ok(result) => result.map_err(sdk_error),
        Err(trap) => Err(Error::Internal(format!("{trap:#}"))),
    }
}

impl NativeBackend {
    fn call<T, F>(&self, f: F) -> Result<T, Error>
    where
        F: AsyncFnOnce(&mut TxState) -> wasmtime::Result<Result<T, types::Error>>,
    {
        call(&self.state, &self.handle, f)
    }

    /// A context import, which cannot fail.
    fn context<T, F>(&self, f: F) -> T
    where
        F: AsyncFnOnce(&mut TxState) -> wasmtime::Result<T>,
        T: Default,
    {
        self.call(async |s| f(s).await.map(Ok)).unwrap_or_default()
    }

    fn query(&self, started: Result<(Resource<HostState>, Option<types::PageInfo>), Error>) -> QueryStart {
        let (resource, info) = started?;
        let cursor = StateCursor { state: self.state.clone(), handle: self.handle.clone(), rep: resource.rep() };
        let info = info.map(|i| QueryMetadata { fetched_records_count: i.fetched_records_count, bookmark: i.bookmark });
        Ok((embed::state_iterator(cursor), info))
    }
}

type QueryStart = Result<(StateIterator, Option<QueryMetadata>), Error>;

fn page_request(page: Option<Page<'_>>) -> Option<types::PageRequest> {
    page.map(|p| types::PageRequest { page_size: p.page_size, bookmark: p.bookmark.to_owned() })
}

impl Backend for NativeBackend {
    fn args(&self) -> Vec<Vec<u8>> {
        self.context(async |s| context::Host::args(s).await)
    }
    fn tx_id(&self) -> String {
        self.context(async |s| context::Host::tx_id(s).await)
    }
    fn channel_id(&self) -> String {
        self.context(async |s| context::Host::channel_id(s).await)
    }
    fn is_init(&self) -> bool {
        self.context(async |s| context::Host::is_init(s).await)
    }
    fn creator(&self) -> Vec<u8> {
        self.context(async |s| context::Host::creator(s).await)
    }
    fn transient(&self) -> Vec<(String, Vec<u8>)> {
        self.context(async |s| context::Host::transient(s).await)
    }
    fn binding(&self) -> Vec<u8> {
        self.context(async |s| context::Host::binding(s).await)
    }
    fn signed_proposal(&self) -> Option<Vec<u8>> {
        self.context(async |s| context::Host::signed_proposal(s).await)
    }
    fn decorations(&self) -> Vec<(String, Vec<u8>)> {
        self.context(async |s| context::Host::decorations(s).await)
    }
    fn tx_timestamp(&self) -> Result<Timestamp, Error> {
        let t = self.call(async |s| context::Host::tx_timestamp(s).await)?;
        Ok(Timestamp { seconds: t.seconds, nanos: t.nanos })
    }

    fn get_state(&mut self, collection: &str, key: &str) -> Result<Option<Vec<u8>>, Error> {
        self.call(async |s| ledger::Host::get_state(s, collection.into(), key.into()).await)
    }
    fn get_multiple_states(&mut self, collection: &str, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, Error> {
        self.call(async |s| ledger::Host::get_multiple_states(s, collection.into(), keys.to_vec()).await)
    }
    fn get_private_data_hash(&mut self, collection: &str, key: &str) -> Result<Option<Vec<u8>>, Error> {
        self.call(async |s| ledger::Host::get_private_data_hash(s, collection.into(), key.into()).await)
    }
    fn put_state(&mut self, collection: &str, key: &str, value: &[u8]) -> Result<(), Error> {
        self.call(async |s| ledger::Host::put_state(s, collection.into(), key.into(), value.to_vec()).await)
    }
    fn del_state(&mut self, collection: &str, key: &str) -> Result<(), Error> {
        self.call(async |s| ledger::Host::del_state(s, collection.into(), key.into()).await)
    }
    fn purge_private_data(&mut self, collection: &str, key: &str) -> Result<(), Error> {
        self.call(async |s| ledger::Host::purge_private_data(s, collection.into(), key.into()).await)
    }
    fn get_state_metadata(&mut self, collection: &str, key: &str) -> Result<Vec<(String, Vec<u8>)>, Error> {
        let entries = self.call(async |s| ledger::Host::get_state_metadata(s, collection.into(), key.into()).await)?;
        Ok(entries.into_iter().map(|m| (m.metakey, m.value)).collect())
    }
    fn put_state_metadata(&mut self, collection: &str, key: &str, metakey: &str, value: &[u8]) -> Result<(), Error> {
        let entry = types::StateMetadata { metakey: metakey.into(), value: value.to_vec() };
        self.call(async |s| ledger::Host::put_state_metadata(s, collection.into(), key.into(), entry).await)
    }
    fn get_state_by_range(&mut self, collection: &str, start: &str, end: &str, page: Option<Page<'_>>) -> QueryStart {
        let page = page_request(page);
        let started = self.call(async |s| {
            ledger::Host::get_state_by_range(s, collection.into(), start.into(), end.into(), page).await
        });
        self.query(started)
    }
    fn get_query_result(&mut self, collection: &str, query: &str, page: Option<Page<'_>>) -> QueryStart {
        let page = page_request(page);
        let started =
            self.call(async |s| ledger::Host::get_query_result(s, collection.into(), query.into(), page).await);
        self.query(started)
    }
    fn get_history_for_key(&mut self, key: &str) -> Result<HistoryIterator, Error> {
        let resource = self.call(async |s| ledger::Host::get_history_for_key(s, key.into()).await)?;
        let cursor = HistoryCursor { state: self.state.clone(), handle: self.handle.clone(), rep: resource.rep() };
        Ok(embed::history_iterator(cursor))
    }

    fn set_event(&mut self, name: &str, payload: &[u8]) -> Result<(), Error> {
        self.call(async |s| events::Host::set_event(s, name.into(), payload.to_vec()).await)
    }
    fn invoke_chaincode(&mut self, name: &str, channel: &str, args: &[Vec<u8>]) -> Result<Response, Error> {
        let r = self.call(async |s| {
            cross_chaincode::Host::invoke_chaincode(s, name.into(), channel.into(), args.to_vec()).await
        })?;
        Ok(Response { status: r.status, message: r.message, payload: r.payload })
    }
}

/// A query's host resource, by its table index; released when dropped, as a wasm guest's handle is.
struct StateCursor {
    state: Shared,
    handle: Handle,
    rep: u32,
}

/// As many results per call as the SDK's wasm cursor takes.
const BATCH: u32 = 1000;

impl Cursor<KeyValue> for StateCursor {
    fn next_batch(&mut self) -> Result<Vec<KeyValue>, Error> {
        let it = Resource::new_borrow(self.rep);
        let batch =
            call(&self.state, &self.handle, async |s| ledger::HostStateIterator::next_batch(s, it, BATCH).await)?;
        wasmcc_sdk::embed::unpack_kv_batch(&batch.data, &batch.ends)
    }
    fn close(&mut self) {
        let it = Resource::new_borrow(self.rep);
        let _ = call(&self.state, &self.handle, async |s| ledger::HostStateIterator::close(s, it).await.map(Ok));
    }
}

impl Drop for StateCursor {
    fn drop(&mut self) {
        let it = Resource::new_own(self.rep);
        let _ = call(&self.state, &self.handle, async |s| ledger::HostStateIterator::drop(s, it).await.map(Ok));
    }
}

struct HistoryCursor {
    state: Shared,
    handle: Handle,
    rep: u32,
}

impl Cursor<KeyModification> for HistoryCursor {
    fn next_batch(&mut self) -> Result<Vec<KeyModification>, Error> {
        let it = Resource::new_borrow(self.rep);
        let batch =
            call(&self.state, &self.handle, async |s| ledger::HostHistoryIterator::next_batch(s, it, BATCH).await)?;
        Ok(batch
            .into_iter()
            .map(|m| KeyModification {
                tx_id: m.tx_id,
                value: m.value,
                timestamp: m.timestamp.map(|t| Timestamp { seconds: t.seconds, nanos: t.nanos }),
                is_delete: m.is_delete,
            })
            .collect())
    }
    fn close(&mut self) {
        let it = Resource::new_borrow(self.rep);
        let _ = call(&self.state, &self.handle, async |s| ledger::HostHistoryIterator::close(s, it).await.map(Ok));
    }
}

impl Drop for HistoryCursor {
    fn drop(&mut self) {
        let it = Resource::new_own(self.rep);
        let _ = call(&self.state, &self.handle, async |s| ledger::HostHistoryIterator::drop(s, it).await.map(Ok));
    }
}
