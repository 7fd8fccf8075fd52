//! Query iterators: the host's half of a peer-side iterator (range, rich and history queries).
//!
//! The peer answers a query with a first batch of at most 100 results and, when there are more, `has_more` and an
//! iterator id; QUERY_STATE_NEXT fetches the next batch. Like the Go shim, a cursor hands out its cached batch and
//! fetches the next one as soon as the last cached item is taken (prefetch), and QUERY_STATE_CLOSE releases the peer's
//! iterator early. A cursor whose batch said `has_more = false` is already closed on the peer (the peer closes it
//! itself when the results run out), so closing it sends nothing.

use std::collections::VecDeque;

use prost::Message;
use wasmcc_proto::protos::{QueryResponse, QueryResponseMetadata};

use super::LedgerError;

/// Which kind of result a cursor yields: `queryresult.KV` or `queryresult.KeyModification` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CursorKind {
    State,
    History,
}

/// One open query of a transaction.
#[derive(Debug)]
pub struct Cursor {
    pub kind: CursorKind,
    /// The peer's iterator id.
    pub id: String,
    cached: VecDeque<Vec<u8>>,
    /// The peer still holds more results behind `id`.
    pub has_more: bool,
}

impl Cursor {
    /// A cursor over the first batch of a query.
    pub fn new(kind: CursorKind, first: QueryResponse) -> Self {
        let mut cursor = Cursor { kind, id: first.id.clone(), cached: VecDeque::new(), has_more: false };
        cursor.refill(first);
        cursor
    }

    /// The next cached result, if any.
    pub fn pop(&mut self) -> Option<Vec<u8>> {
        self.cached.pop_front()
    }

    /// Up to `max` cached results.
    pub fn take(&mut self, max: usize) -> Vec<Vec<u8>> {
        let n = max.min(self.cached.len());
        self.cached.drain(..n).collect()
    }

    /// True when the cache is empty and the peer has more: time to send QUERY_STATE_NEXT.
    pub fn wants_next(&self) -> bool {
        self.cached.is_empty() && self.has_more
    }

    /// Takes in a batch from QUERY_STATE_NEXT.
    pub fn refill(&mut self, batch: QueryResponse) {
        self.has_more = batch.has_more;
        if !batch.id.is_empty() {
            self.id = batch.id;
        }
        self.cached.extend(batch.results.into_iter().map(|r| r.result_bytes));
    }

    /// Marks the peer side closed (after QUERY_STATE_CLOSE): nothing more will be fetched.
    pub fn closed(&mut self) {
        self.has_more = false;
        self.cached.clear();
    }
}

/// A paginated query's page information. An absent `metadata` field means `{0, ""}` (docs/fabric-protocol.md
/// §10.3).
pub fn page_info(response: &QueryResponse) -> Result<QueryResponseMetadata, LedgerError> {
    QueryResponseMetadata::decode(response.metadata.as_slice())
        .map_err(|e| LedgerError::Malformed(format!("QueryResponse.metadata: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmcc_proto::protos::QueryResultBytes;

    fn batch(items: &[&str], has_more: bool) -> QueryResponse {
        QueryResponse {
            results: items.iter().map(|i| QueryResultBytes { result_bytes: i.as_bytes().to_vec() }).collect(),
            has_more,
            id: "it1".into(),
            metadata: vec![],
        }
    }

    #[test]
    fn asks_for_more_only_when_the_cache_runs_dry_and_the_peer_has_more() {
        let mut c = Cursor::new(CursorKind::State, batch(&["a", "b"], true));
        assert!(!c.wants_next());
        assert_eq!(c.pop().unwrap(), b"a");
        assert_eq!(c.pop().unwrap(), b"b");
        assert!(c.wants_next());
        c.refill(batch(&["c"], false));
        assert!(!c.wants_next());
        assert_eq!(c.pop().unwrap(), b"c");
        assert!(c.pop().is_none());
        assert!(!c.wants_next());
    }

    #[test]
    fn absent_page_metadata_reads_as_zero_and_empty() {
        let info = page_info(&batch(&[], false)).unwrap();
        assert_eq!((info.fetched_records_count, info.bookmark.as_str()), (0, ""));
    }
}
