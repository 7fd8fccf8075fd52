//! Query iterators and the QueryResponses built from them (the peer's `QueryResponseGenerator` in
//! `core/chaincode/query_response_generator.go`, and the `TransactionContext` iterator bookkeeping).
//!
//! - Unpaginated: at most [`MAX_RESULT_LIMIT`] (100) results per QueryResponse with `has_more` and the iterator id;
//!   QUERY_STATE_NEXT continues. Like the peer, a batch is cut when the 101st result has been fetched (it waits in
//!   the pending batch). When the results run out or `totalQueryLimit` results have been fetched, the reply has
//!   `has_more=false` and the iterator is closed by the peer.
//! - Paginated: one QueryResponse with up to the limit (pageSize when 0 < pageSize < totalQueryLimit), no 100 cut,
//!   `has_more=false`, and `metadata` = `QueryResponseMetadata{fetched_records_count, bookmark}`; the iterator is
//!   closed at once. An empty metadata message encodes to no bytes, so with 0 results and no bookmark the field is
//!   absent, as from a peer.
//!
//! Results are materialized when the query opens (the peer holds a ledger read lock during simulation, so state
//! cannot change under an iterator), and each result records its read in the simulator when it is fetched. A public
//! range query also keeps its phantom-read record up to date as results are fetched, as the peer's `resultsItr`
//! does: the chaincode may stop at any point, and only what was fetched, and whether the end was reached, is
//! validated at commit.

use std::collections::VecDeque;

use prost::Message;
use wasmcc_proto::protos::{QueryResponse, QueryResponseMetadata, QueryResultBytes};

use crate::world::query::BookmarkRule;
use crate::world::simulator::TxSimulator;
use crate::world::Version;

/// The peer's batch size between handler and shim (`maxResultLimit`, not configurable).
pub const MAX_RESULT_LIMIT: usize = 100;

/// One result an iterator hands out.
#[derive(Debug)]
pub(crate) struct Row {
    pub(crate) key: String,
    /// The serialized `queryresult.KV` or `queryresult.KeyModification`.
    pub(crate) bytes: Vec<u8>,
    /// The read recorded when the row is fetched: (collection, version). `None`: no read (history).
    pub(crate) read: Option<(Option<String>, Option<Version>)>,
}

/// Where a public range query's results are recorded for phantom-read validation.
#[derive(Debug)]
pub(crate) struct RangeRecord {
    /// The record's index in the simulator ([`TxSimulator::open_range_query`]).
    pub(crate) index: usize,
    /// The query's end key: what the record covers once the iterator runs out.
    pub(crate) end_key: String,
}

/// An open query of one transaction.
#[derive(Debug)]
pub(crate) struct QueryIterator {
    namespace: String,
    rows: VecDeque<Row>,
    pending: Vec<Vec<u8>>,
    total_returned: i32,
    last_key: Option<String>,
    bookmark_rule: BookmarkRule,
    range: Option<RangeRecord>,
}

impl QueryIterator {
    pub(crate) fn new(namespace: &str, rows: Vec<Row>, bookmark_rule: BookmarkRule) -> QueryIterator {
        QueryIterator {
            namespace: namespace.to_owned(),
            rows: rows.into(),
            pending: Vec::new(),
            total_returned: 0,
            last_key: None,
            bookmark_rule,
            range: None,
        }
    }

    /// The same iterator, also recording what it fetches in a range query record if there is one.
    pub(crate) fn with_range(self, range: Option<RangeRecord>) -> QueryIterator {
        QueryIterator { range, ..self }
    }

    /// Fetches the next result, recording its read; fetching past the last one records that the range was
    /// exhausted.
    fn next(&mut self, sim: &mut TxSimulator) -> Option<Vec<u8>> {
        let Some(row) = self.rows.pop_front() else {
            self.record_exhausted(sim);
            return None;
        };
        if let Some((collection, version)) = &row.read {
            sim.record_read(&self.namespace, collection.as_deref(), &row.key, *version);
            self.record_range_result(sim, &row.key, *version);
        }
        self.last_key = Some(row.key);
        Some(row.bytes)
    }

    fn record_range_result(&self, sim: &mut TxSimulator, key: &str, version: Option<Version>) {
        let Some(range) = &self.range else { return };
        if let (Some(query), Some(version)) = (sim.range_query(&self.namespace, range.index), version) {
            query.record_result(key, version);
        }
    }

    fn record_exhausted(&self, sim: &mut TxSimulator) {
        let Some(range) = &self.range else { return };
        if let Some(query) = sim.range_query(&self.namespace, range.index) {
            query.record_exhausted(&range.end_key);
        }
    }

    fn bookmark(&self) -> String {
        match self.bookmark_rule {
            BookmarkRule::NextKey => self.rows.front().map(|r| r.key.clone()).unwrap_or_default(),
            BookmarkRule::LastKey => self.last_key.clone().unwrap_or_default(),
        }
    }
}

/// A built reply, and whether the peer closed the iterator with it.
pub(crate) struct Reply {
    pub(crate) response: QueryResponse,
    pub(crate) closed: bool,
}

/// `BuildQueryResponse`: fetches results until a batch is full, the limit is reached or the results run out.
pub(crate) fn build_response(
    iter: &mut QueryIterator,
    id: &str,
    paginated: bool,
    total_limit: i32,
    sim: &mut TxSimulator,
) -> Reply {
    loop {
        if iter.total_returned >= total_limit {
            return finish(iter, id, paginated);
        }
        let Some(result) = iter.next(sim) else { return finish(iter, id, paginated) };
        if !paginated && iter.pending.len() == MAX_RESULT_LIMIT {
            // Cut the batch; the result just fetched starts the next one.
            let batch = std::mem::replace(&mut iter.pending, vec![result]);
            iter.total_returned += 1;
            let response =
                QueryResponse { results: wrap(batch), has_more: true, id: id.to_owned(), metadata: Vec::new() };
            return Reply { response, closed: false };
        }
        iter.pending.push(result);
        iter.total_returned += 1;
    }
}

fn finish(iter: &mut QueryIterator, id: &str, paginated: bool) -> Reply {
    let results = wrap(std::mem::take(&mut iter.pending));
    let metadata = if paginated {
        let meta = QueryResponseMetadata { fetched_records_count: iter.total_returned, bookmark: iter.bookmark() };
        meta.encode_to_vec()
    } else {
        Vec::new()
    };
    Reply { response: QueryResponse { results, has_more: false, id: id.to_owned(), metadata }, closed: true }
}

fn wrap(batch: Vec<Vec<u8>>) -> Vec<QueryResultBytes> {
    batch.into_iter().map(|result_bytes| QueryResultBytes { result_bytes }).collect()
}

/// A new iterator id, shaped like the peer's UUIDs (`util.GenerateUUID`, random version 4).
pub(crate) fn new_iterator_id() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(n: usize) -> Vec<Row> {
        (0..n).map(|i| Row { key: format!("k{i:04}"), bytes: vec![i as u8], read: Some((None, None)) }).collect()
    }

    fn keys_of(reply: &Reply) -> usize {
        reply.response.results.len()
    }

    #[test]
    fn unpaginated_cuts_batches_of_100() {
        let mut sim = TxSimulator::new("ch", "tx");
        let mut iter = QueryIterator::new("cc", rows(250), BookmarkRule::NextKey);
        let first = build_response(&mut iter, "id", false, 100_000, &mut sim);
        assert_eq!((keys_of(&first), first.response.has_more, first.closed), (100, true, false));
        assert_eq!(first.response.id, "id");
        assert_eq!(sim.rwset.ns("cc").reads.len(), 101, "the 101st result was fetched (and read) already");
        let second = build_response(&mut iter, "id", false, 100_000, &mut sim);
        assert_eq!((keys_of(&second), second.response.has_more), (100, true));
        let third = build_response(&mut iter, "id", false, 100_000, &mut sim);
        assert_eq!((keys_of(&third), third.response.has_more, third.closed), (50, false, true));
        assert!(third.response.metadata.is_empty());
        assert_eq!(sim.rwset.ns("cc").reads.len(), 250);
    }

    #[test]
    fn exactly_100_results_come_in_one_final_batch() {
        let mut sim = TxSimulator::new("ch", "tx");
        let mut iter = QueryIterator::new("cc", rows(100), BookmarkRule::NextKey);
        let reply = build_response(&mut iter, "id", false, 100_000, &mut sim);
        assert_eq!((keys_of(&reply), reply.response.has_more, reply.closed), (100, false, true));
    }

    #[test]
    fn total_query_limit_ends_the_iteration() {
        let mut sim = TxSimulator::new("ch", "tx");
        let mut iter = QueryIterator::new("cc", rows(250), BookmarkRule::NextKey);
        let first = build_response(&mut iter, "id", false, 150, &mut sim);
        assert_eq!((keys_of(&first), first.response.has_more), (100, true));
        let second = build_response(&mut iter, "id", false, 150, &mut sim);
        assert_eq!((keys_of(&second), second.response.has_more, second.closed), (50, false, true));
        assert_eq!(sim.rwset.ns("cc").reads.len(), 150, "nothing past the limit is fetched");

        let mut small = QueryIterator::new("cc", rows(10), BookmarkRule::NextKey);
        let reply = build_response(&mut small, "id", false, 3, &mut sim);
        assert_eq!((keys_of(&reply), reply.response.has_more, reply.closed), (3, false, true));
    }

    #[test]
    fn paginated_has_no_cut_and_reports_count_and_bookmark() {
        let mut sim = TxSimulator::new("ch", "tx");
        let mut iter = QueryIterator::new("cc", rows(250), BookmarkRule::NextKey);
        let reply = build_response(&mut iter, "id", true, 120, &mut sim);
        assert_eq!((keys_of(&reply), reply.response.has_more, reply.closed), (120, false, true));
        let meta = QueryResponseMetadata::decode(&reply.response.metadata[..]).unwrap();
        assert_eq!((meta.fetched_records_count, meta.bookmark.as_str()), (120, "k0120"), "the next key");

        let mut rest = QueryIterator::new("cc", rows(5), BookmarkRule::NextKey);
        let reply = build_response(&mut rest, "id", true, 120, &mut sim);
        let meta = QueryResponseMetadata::decode(&reply.response.metadata[..]).unwrap();
        assert_eq!((meta.fetched_records_count, meta.bookmark.as_str()), (5, ""), "no bookmark at the end");

        let mut rich = QueryIterator::new("cc", rows(5), BookmarkRule::LastKey);
        let reply = build_response(&mut rich, "id", true, 2, &mut sim);
        let meta = QueryResponseMetadata::decode(&reply.response.metadata[..]).unwrap();
        assert_eq!(meta.bookmark, "k0001", "a rich query's bookmark is the last key returned");

        let mut empty = QueryIterator::new("cc", Vec::new(), BookmarkRule::NextKey);
        let reply = build_response(&mut empty, "id", true, 10, &mut sim);
        assert!(reply.response.metadata.is_empty(), "0 results and no bookmark: the metadata field is absent");
    }

    fn recorded_range(sim: &mut TxSimulator, n: usize) -> QueryIterator {
        let v = Some(Version { block: 1, tx: 0 });
        let rows = (0..n).map(|i| Row { key: format!("k{i:04}"), bytes: vec![i as u8], read: Some((None, v)) });
        let index = sim.open_range_query("cc", "k");
        let range = RangeRecord { index, end_key: "l".to_owned() };
        QueryIterator::new("cc", rows.collect(), BookmarkRule::NextKey).with_range(Some(range))
    }

    #[test]
    fn a_range_record_follows_what_was_fetched_until_the_end() {
        let mut sim = TxSimulator::new("ch", "tx");
        let mut iter = recorded_range(&mut sim, 150);
        build_response(&mut iter, "id", false, 100_000, &mut sim);
        let query = &sim.rwset.ns("cc").range_queries[0];
        assert_eq!((query.reads.len(), query.end_key.as_str(), query.itr_exhausted), (101, "k0100", false));
        build_response(&mut iter, "id", false, 100_000, &mut sim);
        let query = &sim.rwset.ns("cc").range_queries[0];
        assert_eq!((query.reads.len(), query.end_key.as_str(), query.itr_exhausted), (150, "l", true));
        assert_eq!(query.start_key, "k");
        assert_eq!(sim.rwset.ns("cc").reads.len(), 150, "the keys are point reads as well");
    }

    #[test]
    fn a_range_cut_by_a_limit_is_not_exhausted() {
        let mut sim = TxSimulator::new("ch", "tx");
        let mut iter = recorded_range(&mut sim, 10);
        let reply = build_response(&mut iter, "id", true, 10, &mut sim);
        assert!(reply.closed);
        let query = &sim.rwset.ns("cc").range_queries[0];
        assert_eq!((query.reads.len(), query.end_key.as_str(), query.itr_exhausted), (10, "k0009", false));

        let mut empty = recorded_range(&mut sim, 0);
        build_response(&mut empty, "id", false, 100_000, &mut sim);
        let query = &sim.rwset.ns("cc").range_queries[1];
        assert_eq!((query.reads.len(), query.end_key.as_str(), query.itr_exhausted), (0, "l", true));
    }

    #[test]
    fn iterator_ids_look_like_uuids() {
        let id = new_iterator_id();
        assert_eq!(id.len(), 36);
        assert_eq!(id.matches('-').count(), 4);
        assert_eq!(&id[14..15], "4");
        assert_ne!(id, new_iterator_id());
    }
}
