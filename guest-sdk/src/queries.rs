//! Range, partial composite key and rich queries on public state, and key history: the [`Stub`] calls that
//! return iterators. The key rules are applied here (module `composite`); the paginated variants send a page
//! request, the others none.

use crate::backend::Page;
// Natively the backend is a trait object, whose methods need no import.
#[cfg(target_arch = "wasm32")]
use crate::backend::Backend;
use crate::composite;
use crate::iterators::{HistoryIterator, QueryMetadata, StateIterator};
use crate::{Error, Stub};

/// The page info the peer sent, or `{0, ""}` when it sent none (docs/fabric-protocol.md §10.3).
fn paged((iter, info): (StateIterator, Option<QueryMetadata>)) -> (StateIterator, QueryMetadata) {
    (iter, info.unwrap_or_default())
}

impl Stub<'_> {
    /// The keys in `[start, end)`, in key order. An empty `start` becomes `"\x01"` (simple keys only: composite
    /// keys are never in a simple range) and an empty `end` means unbounded; neither may start with U+0000.
    pub fn get_state_by_range(&mut self, start: &str, end: &str) -> Result<StateIterator, Error> {
        let (start, end) = composite::simple_key_range(start, end)?;
        Ok(self.m().get_state_by_range("", &start, &end, None)?.0)
    }

    /// One page of [`get_state_by_range`](Self::get_state_by_range): at most `page_size` results from
    /// `bookmark` (which replaces `start` when not empty). The peer allows it only in a transaction that writes
    /// nothing.
    pub fn get_state_by_range_with_pagination(
        &mut self,
        start: &str,
        end: &str,
        page_size: i32,
        bookmark: &str,
    ) -> Result<(StateIterator, QueryMetadata), Error> {
        let (start, end) = composite::simple_key_range(start, end)?;
        let page = Page { page_size, bookmark };
        Ok(paged(self.m().get_state_by_range("", &start, &end, Some(page))?))
    }

    /// The composite keys extending `object_type` + `attributes` (all of `object_type` with no attributes).
    pub fn get_state_by_partial_composite_key(
        &mut self,
        object_type: &str,
        attributes: &[impl AsRef<str>],
    ) -> Result<StateIterator, Error> {
        let (start, end) = composite::partial_key_range(object_type, attributes)?;
        Ok(self.m().get_state_by_range("", &start, &end, None)?.0)
    }

    /// One page of [`get_state_by_partial_composite_key`](Self::get_state_by_partial_composite_key).
    pub fn get_state_by_partial_composite_key_with_pagination(
        &mut self,
        object_type: &str,
        attributes: &[impl AsRef<str>],
        page_size: i32,
        bookmark: &str,
    ) -> Result<(StateIterator, QueryMetadata), Error> {
        let (start, end) = composite::partial_key_range(object_type, attributes)?;
        let page = Page { page_size, bookmark };
        Ok(paged(self.m().get_state_by_range("", &start, &end, Some(page))?))
    }

    /// One page of every composite key, whatever its type (Go's `GetAllStatesCompositeKeyWithPagination`).
    pub fn get_all_states_composite_key_with_pagination(
        &mut self,
        page_size: i32,
        bookmark: &str,
    ) -> Result<(StateIterator, QueryMetadata), Error> {
        let (start, end) = composite::all_composite_keys_range();
        let page = Page { page_size, bookmark };
        Ok(paged(self.m().get_state_by_range("", &start, &end, Some(page))?))
    }

    /// A rich query: a CouchDB Mango query (JSON) over the values that are JSON objects. Needs CouchDB as the
    /// peer's state database.
    pub fn get_query_result(&mut self, query: &str) -> Result<StateIterator, Error> {
        Ok(self.m().get_query_result("", query, None)?.0)
    }

    /// One page of [`get_query_result`](Self::get_query_result); the bookmark is CouchDB's. Read-only
    /// transactions only.
    pub fn get_query_result_with_pagination(
        &mut self,
        query: &str,
        page_size: i32,
        bookmark: &str,
    ) -> Result<(StateIterator, QueryMetadata), Error> {
        let page = Page { page_size, bookmark };
        Ok(paged(self.m().get_query_result("", query, Some(page))?))
    }

    /// Every committed change of a public key, newest first (needs the peer's history database).
    pub fn get_history_for_key(&mut self, key: &str) -> Result<HistoryIterator, Error> {
        self.m().get_history_for_key(key)
    }

    /// [`create_composite_key`](crate::create_composite_key), for code written against the Go stub.
    pub fn create_composite_key(&self, object_type: &str, attributes: &[impl AsRef<str>]) -> Result<String, Error> {
        composite::create_composite_key(object_type, attributes)
    }

    /// [`split_composite_key`](crate::split_composite_key), for code written against the Go stub.
    pub fn split_composite_key(&self, key: &str) -> Result<(String, Vec<String>), Error> {
        composite::split_composite_key(key)
    }
}
