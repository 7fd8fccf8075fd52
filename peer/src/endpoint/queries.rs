//! Range, rich and history queries and their iterators (the peer's `HandleGetStateByRange`,
//! `HandleGetQueryResult`, `HandleGetHistoryForKey`, `HandleQueryStateNext`, `HandleQueryStateClose`): what they
//! return and how they page is [`crate::world::query`]; here they become iterators handed out in the peer's
//! batches. Queries on private data and paginated queries are allowed only in read-only transactions
//! ([`crate::world::simulator`]). A range query on public state is also recorded for phantom-read validation at
//! commit; as on the peer, rich queries and queries on private data are not (their keys are only point reads).

use prost::Message;
use wasmcc_proto::protos::{
    GetHistoryForKey, GetQueryResult, GetStateByRange, QueryMetadata, QueryResponse, QueryStateClose, QueryStateNext,
};
use wasmcc_proto::queryresult::{KeyModification, Kv};

use super::handler::{lock, Shared};
use super::iterators::{build_response, new_iterator_id, QueryIterator, RangeRecord, Row};
use super::tx::TxContext;
use crate::world::private::Access;
use crate::world::query::{self, BookmarkRule, Hit, Page};
use crate::world::simulator::TxSimulator;
use crate::world::WorldState;

/// Which query an iterator serves: it decides the bookmark, and whether a commit validates the range again.
#[derive(Clone, Copy)]
enum QueryKind<'a> {
    Range { start: &'a str, end: &'a str },
    Rich,
}

impl QueryKind<'_> {
    fn bookmark_rule(self) -> BookmarkRule {
        match self {
            QueryKind::Range { .. } => BookmarkRule::NextKey,
            QueryKind::Rich => BookmarkRule::LastKey,
        }
    }
}

impl Shared {
    pub(crate) fn handle_get_state_by_range(&self, ctx: &TxContext, req: GetStateByRange) -> Result<Vec<u8>, String> {
        let (start, end) = (req.start_key.as_str(), req.end_key.as_str());
        let kind = QueryKind::Range { start, end };
        self.open_query(ctx, &req.collection, &req.metadata, kind, |world, collection, page| {
            Ok(query::range(world, &ctx.channel_id, &ctx.namespace, collection, start, end, Some(page)))
        })
    }

    pub(crate) fn handle_get_query_result(&self, ctx: &TxContext, req: GetQueryResult) -> Result<Vec<u8>, String> {
        self.open_query(ctx, &req.collection, &req.metadata, QueryKind::Rich, |world, collection, page| {
            query::rich(world, &ctx.channel_id, &ctx.namespace, collection, &req.query, Some(page))
        })
    }

    /// What range and rich queries share: the page and limit from the request's metadata, the collection (`None`
    /// for public state) with its read check, the simulator's read-only rule, then `run`'s results as an iterator.
    fn open_query(
        &self,
        ctx: &TxContext,
        collection: &str,
        metadata: &[u8],
        kind: QueryKind<'_>,
        run: impl FnOnce(&WorldState, Option<&str>, Page<'_>) -> Result<Vec<Hit>, String>,
    ) -> Result<Vec<u8>, String> {
        let metadata = query_metadata(metadata)?;
        let page = Page { page_size: metadata.page_size, bookmark: &metadata.bookmark };
        let collection = (!collection.is_empty()).then_some(collection);
        if let Some(collection) = collection {
            self.check_private(ctx, collection, Access::Read)?;
        }
        let paginated = query::is_paginated(collection, Some(page));
        let (hits, range) = {
            let world = self.sim.world();
            let mut sim = lock(&ctx.sim);
            sim.check_before_query(collection.is_some(), paginated)?;
            let hits = run(&world, collection, page)?;
            (hits, open_range_record(&mut sim, ctx, kind, collection, page))
        };
        let rows = hits.into_iter().map(|hit| kv_row(ctx, collection, hit)).collect();
        let iter = QueryIterator::new(&ctx.namespace, rows, kind.bookmark_rule()).with_range(range);
        Ok(self.open_iterator(ctx, iter, paginated, self.total_limit(Some(page))))
    }

    /// Every committed write of a public key, newest first, as serialized `KeyModification`s (never paginated).
    pub(crate) fn handle_get_history_for_key(&self, ctx: &TxContext, req: GetHistoryForKey) -> Result<Vec<u8>, String> {
        let history = self.sim.world().history(&ctx.channel_id, &ctx.namespace, &req.key);
        let rows = history
            .into_iter()
            .map(|h| {
                let modification = KeyModification {
                    tx_id: h.txid,
                    value: h.value,
                    timestamp: Some(h.timestamp),
                    is_delete: h.is_delete,
                };
                Row { key: req.key.clone(), bytes: modification.encode_to_vec(), read: None }
            })
            .collect();
        let iter = QueryIterator::new(&ctx.namespace, rows, BookmarkRule::NextKey);
        Ok(self.open_iterator(ctx, iter, false, self.total_limit(None)))
    }

    pub(crate) fn handle_query_state_next(&self, ctx: &TxContext, req: QueryStateNext) -> Result<Vec<u8>, String> {
        let Some(mut iter) = lock(&ctx.iterators).remove(&req.id) else {
            return Err("query iterator not found".to_owned());
        };
        let reply = build_response(&mut iter, &req.id, false, self.total_limit(None), &mut lock(&ctx.sim));
        if !reply.closed {
            lock(&ctx.iterators).insert(req.id, iter);
        }
        Ok(reply.response.encode_to_vec())
    }

    /// Closes an iterator; never fails, even for an unknown id.
    pub(crate) fn handle_query_state_close(&self, ctx: &TxContext, req: QueryStateClose) -> Result<Vec<u8>, String> {
        lock(&ctx.iterators).remove(&req.id);
        Ok(QueryResponse { has_more: false, id: req.id, ..Default::default() }.encode_to_vec())
    }

    /// Builds the first reply of a new iterator and keeps the iterator if it has more.
    fn open_iterator(&self, ctx: &TxContext, mut iter: QueryIterator, paginated: bool, limit: i32) -> Vec<u8> {
        let id = new_iterator_id();
        let reply = build_response(&mut iter, &id, paginated, limit, &mut lock(&ctx.sim));
        if !reply.closed {
            lock(&ctx.iterators).insert(id, iter);
        }
        reply.response.encode_to_vec()
    }

    /// `calculateTotalReturnLimit` with this peer's `totalQueryLimit`.
    fn total_limit(&self, page: Option<Page<'_>>) -> i32 {
        query::total_limit(i32::try_from(self.opts.total_query_limit).unwrap_or(i32::MAX), page)
    }
}

/// The request's `QueryMetadata` (an absent field decodes as the default: unpaginated).
fn query_metadata(bytes: &[u8]) -> Result<QueryMetadata, String> {
    QueryMetadata::decode(bytes).map_err(|e| format!("unmarshal failed: {e}"))
}

/// Starts the phantom-read record of a range query on public state, from where its scan really starts.
fn open_range_record(
    sim: &mut TxSimulator,
    ctx: &TxContext,
    kind: QueryKind<'_>,
    collection: Option<&str>,
    page: Page<'_>,
) -> Option<RangeRecord> {
    let QueryKind::Range { start, end } = kind else { return None };
    if collection.is_some() {
        return None;
    }
    let index = sim.open_range_query(&ctx.namespace, query::range_start(None, start, Some(page)));
    Some(RangeRecord { index, end_key: end.to_owned() })
}

/// A `queryresult.KV` result that records a read of its key when it is fetched.
fn kv_row(ctx: &TxContext, collection: Option<&str>, hit: Hit) -> Row {
    let kv = Kv { namespace: ctx.namespace.clone(), key: hit.key.clone(), value: hit.value };
    Row { key: hit.key, bytes: kv.encode_to_vec(), read: Some((collection.map(str::to_owned), Some(hit.version))) }
}
