//! The wasm backend: every call goes to the host through the `fabric:chaincode` imports.
//!
//! Compiled on every target so `cargo clippy` checks it natively too; it is only *used* on `wasm32`
//! (wit-bindgen's native import stubs are `unreachable!()`).
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use crate::__private::bindings::fabric::chaincode::{context, cross_chaincode, events, ledger, types};
use crate::backend::{Backend, Page};
use crate::iterators::{
    unpack_kv_batch, Cursor, HistoryIterator, KeyModification, KeyValue, QueryMetadata, StateIterator,
};
use crate::{Error, Response, Timestamp};

/// Zero-sized: all state lives in the host, per transaction.
pub(crate) struct Host;

impl From<types::Error> for Error {
    fn from(e: types::Error) -> Self {
        match e {
            types::Error::Peer(m) => Error::Peer(m),
            types::Error::InvalidArgument(m) => Error::InvalidArgument(m),
            types::Error::Unsupported(m) => Error::Unsupported(m),
            types::Error::Limit(m) => Error::Limit(m),
            types::Error::Internal(m) => Error::Internal(m),
        }
    }
}

impl Backend for Host {
    fn args(&self) -> Vec<Vec<u8>> {
        context::args()
    }
    fn tx_id(&self) -> String {
        context::tx_id()
    }
    fn channel_id(&self) -> String {
        context::channel_id()
    }
    fn is_init(&self) -> bool {
        context::is_init()
    }
    fn creator(&self) -> Vec<u8> {
        context::creator()
    }
    fn transient(&self) -> Vec<(String, Vec<u8>)> {
        context::transient()
    }
    fn binding(&self) -> Vec<u8> {
        context::binding()
    }
    fn signed_proposal(&self) -> Option<Vec<u8>> {
        context::signed_proposal()
    }
    fn decorations(&self) -> Vec<(String, Vec<u8>)> {
        context::decorations()
    }
    fn tx_timestamp(&self) -> Result<Timestamp, Error> {
        let t = context::tx_timestamp()?;
        Ok(Timestamp { seconds: t.seconds, nanos: t.nanos })
    }

    fn get_state(&mut self, collection: &str, key: &str) -> Result<Option<Vec<u8>>, Error> {
        Ok(ledger::get_state(collection, key)?)
    }
    fn get_multiple_states(&mut self, collection: &str, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, Error> {
        Ok(ledger::get_multiple_states(collection, keys)?)
    }
    fn get_private_data_hash(&mut self, collection: &str, key: &str) -> Result<Option<Vec<u8>>, Error> {
        Ok(ledger::get_private_data_hash(collection, key)?)
    }
    fn put_state(&mut self, collection: &str, key: &str, value: &[u8]) -> Result<(), Error> {
        Ok(ledger::put_state(collection, key, value)?)
    }
    fn del_state(&mut self, collection: &str, key: &str) -> Result<(), Error> {
        Ok(ledger::del_state(collection, key)?)
    }
    fn purge_private_data(&mut self, collection: &str, key: &str) -> Result<(), Error> {
        Ok(ledger::purge_private_data(collection, key)?)
    }
    fn get_state_metadata(&mut self, collection: &str, key: &str) -> Result<Vec<(String, Vec<u8>)>, Error> {
        Ok(ledger::get_state_metadata(collection, key)?.into_iter().map(|m| (m.metakey, m.value)).collect())
    }
    fn put_state_metadata(&mut self, collection: &str, key: &str, metakey: &str, value: &[u8]) -> Result<(), Error> {
        let entry = types::StateMetadata { metakey: metakey.to_owned(), value: value.to_vec() };
        Ok(ledger::put_state_metadata(collection, key, &entry)?)
    }
    fn get_state_by_range(
        &mut self,
        collection: &str,
        start: &str,
        end: &str,
        page: Option<Page<'_>>,
    ) -> Result<(StateIterator, Option<QueryMetadata>), Error> {
        let (iter, info) = ledger::get_state_by_range(collection, start, end, page_request(page).as_ref())?;
        Ok((StateIterator::new(iter), info.map(page_info)))
    }
    fn get_query_result(
        &mut self,
        collection: &str,
        query: &str,
        page: Option<Page<'_>>,
    ) -> Result<(StateIterator, Option<QueryMetadata>), Error> {
        let (iter, info) = ledger::get_query_result(collection, query, page_request(page).as_ref())?;
        Ok((StateIterator::new(iter), info.map(page_info)))
    }
    fn get_history_for_key(&mut self, key: &str) -> Result<HistoryIterator, Error> {
        Ok(HistoryIterator::new(ledger::get_history_for_key(key)?))
    }
    fn set_event(&mut self, name: &str, payload: &[u8]) -> Result<(), Error> {
        Ok(events::set_event(name, payload)?)
    }
    fn invoke_chaincode(&mut self, name: &str, channel: &str, args: &[Vec<u8>]) -> Result<Response, Error> {
        let r = cross_chaincode::invoke_chaincode(name, channel, args)?;
        Ok(Response { status: r.status, message: r.message, payload: r.payload })
    }
}

fn page_request(page: Option<Page<'_>>) -> Option<types::PageRequest> {
    page.map(|p| types::PageRequest { page_size: p.page_size, bookmark: p.bookmark.to_owned() })
}

fn page_info(info: types::PageInfo) -> QueryMetadata {
    QueryMetadata { fetched_records_count: info.fetched_records_count, bookmark: info.bookmark }
}

/// The iterator owns the host resource: dropping it drops the handle, which releases the peer-side iterator.
impl Cursor<KeyValue> for ledger::StateIterator {
    fn next_batch(&mut self) -> Result<Vec<KeyValue>, Error> {
        let batch = ledger::StateIterator::next_batch(self, crate::limits::BATCH)?;
        unpack_kv_batch(&batch.data, &batch.ends)
    }
    fn close(&mut self) {
        ledger::StateIterator::close(self);
    }
}

impl Cursor<KeyModification> for ledger::HistoryIterator {
    fn next_batch(&mut self) -> Result<Vec<KeyModification>, Error> {
        let batch = ledger::HistoryIterator::next_batch(self, crate::limits::BATCH)?;
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
        ledger::HistoryIterator::close(self);
    }
}
