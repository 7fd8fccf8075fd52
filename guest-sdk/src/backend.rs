//! The calls a [`Stub`](crate::Stub) makes: one trait, implemented by `host::Host` on wasm and natively by the mock
//! ledger's transaction or by a host that embeds chaincode without a sandbox ([`crate::embed`]), so the compiler
//! checks that all of them offer the same calls.

use crate::iterators::{HistoryIterator, QueryMetadata, StateIterator};
use crate::{Error, Response, Timestamp};

/// A page request of the paginated queries (`protos.QueryMetadata`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page<'a> {
    pub page_size: i32,
    pub bookmark: &'a str,
}

/// Close to the WIT (a `collection` argument, "" for public state). The shim's argument rules live in the Stub,
/// above it, so both backends see only calls the Go shim would have sent.
pub trait Backend {
    fn args(&self) -> Vec<Vec<u8>>;
    fn tx_id(&self) -> String;
    fn channel_id(&self) -> String;
    fn is_init(&self) -> bool;
    fn creator(&self) -> Vec<u8>;
    fn transient(&self) -> Vec<(String, Vec<u8>)>;
    fn binding(&self) -> Vec<u8>;
    fn signed_proposal(&self) -> Option<Vec<u8>>;
    fn decorations(&self) -> Vec<(String, Vec<u8>)>;
    fn tx_timestamp(&self) -> Result<Timestamp, Error>;

    fn get_state(&mut self, collection: &str, key: &str) -> Result<Option<Vec<u8>>, Error>;
    fn get_multiple_states(&mut self, collection: &str, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, Error>;
    fn get_private_data_hash(&mut self, collection: &str, key: &str) -> Result<Option<Vec<u8>>, Error>;
    fn put_state(&mut self, collection: &str, key: &str, value: &[u8]) -> Result<(), Error>;
    fn del_state(&mut self, collection: &str, key: &str) -> Result<(), Error>;
    fn purge_private_data(&mut self, collection: &str, key: &str) -> Result<(), Error>;
    /// GET_STATE_METADATA: `(metakey, value)` entries.
    fn get_state_metadata(&mut self, collection: &str, key: &str) -> Result<Vec<(String, Vec<u8>)>, Error>;
    fn put_state_metadata(&mut self, collection: &str, key: &str, metakey: &str, value: &[u8]) -> Result<(), Error>;
    /// `[start, end)`, keys as given; the page info is `None` without a page request.
    fn get_state_by_range(
        &mut self,
        collection: &str,
        start: &str,
        end: &str,
        page: Option<Page<'_>>,
    ) -> Result<(StateIterator, Option<QueryMetadata>), Error>;
    fn get_query_result(
        &mut self,
        collection: &str,
        query: &str,
        page: Option<Page<'_>>,
    ) -> Result<(StateIterator, Option<QueryMetadata>), Error>;
    fn get_history_for_key(&mut self, key: &str) -> Result<HistoryIterator, Error>;

    fn set_event(&mut self, name: &str, payload: &[u8]) -> Result<(), Error>;
    fn invoke_chaincode(&mut self, name: &str, channel: &str, args: &[Vec<u8>]) -> Result<Response, Error>;
}
