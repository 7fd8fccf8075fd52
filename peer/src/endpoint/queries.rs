//! Range, rich and history queries and their iterators (the peer's `HandleGetStateByRange`,
//! `HandleGetQueryResult`, `HandleGetHistoryForKey`, `HandleQueryStateNext`, `HandleQueryStateClose`).
//!
//! Pagination (`QueryMetadata` in the request): only pageSize 0 *with an empty bookmark* is unpaginated. A
//! paginated range query starts at the bookmark instead of startKey when the bookmark is non-empty (even if it
//! sorts before startKey). The total limit is `totalQueryLimit`, or pageSize when 0 < pageSize < totalQueryLimit.
//! Paginated queries are public-data only: with a collection, the metadata only lowers the limit and the query is
//! served unpaginated, as on the peer. Queries on private data and paginated queries are allowed only in read-only
//! transactions ([`crate::world::simulator`]).
//!
//! Rich queries are CouchDB Mango queries ([`wasmcc_mango`]) over the values that are JSON objects. As on a peer, the
//! query's own `limit` is overridden (the peer's limits apply), `skip` is honoured, and a `bookmark` in the request
//! metadata replaces one in the query. Results carry the stored bytes, or with `fields` the projected document
//! re-serialized (keys sorted, as CouchDB returns them through the peer). The bookmark of a paginated rich query is
//! the key of the last result returned.

use prost::Message;
use wasmcc_mango::Query;
use wasmcc_proto::protos::{
    GetHistoryForKey, GetQueryResult, GetStateByRange, QueryMetadata, QueryResponse, QueryStateClose, QueryStateNext,
};
use wasmcc_proto::queryresult::{KeyModification, Kv};

use super::handler::{lock, Shared};
use super::iterators::{build_response, new_iterator_id, BookmarkRule, QueryIterator, Row};
use super::tx::TxContext;
use crate::world::private::Access;
use crate::world::{VersionedValue, WorldState};

impl Shared {
    /// What range and rich queries share: the collection (`None` for public state) with its read check, and whether
    /// the query is paginated (public data only).
    fn query_scope<'a>(
        &self,
        ctx: &TxContext,
        collection: &'a str,
        metadata: &QueryMetadata,
    ) -> Result<(Option<&'a str>, bool), String> {
        let collection = (!collection.is_empty()).then_some(collection);
        if let Some(collection) = collection {
            self.check_private(ctx, collection, Access::Read)?;
        }
        Ok((collection, collection.is_none() && is_paginated(metadata)))
    }

    pub(crate) fn handle_get_state_by_range(&self, ctx: &TxContext, req: GetStateByRange) -> Result<Vec<u8>, String> {
        let metadata = query_metadata(&req.metadata)?;
        let limit = self.total_limit(Some(&metadata));
        let (collection, paginated) = self.query_scope(ctx, &req.collection, &metadata)?;
        let start = if paginated && !metadata.bookmark.is_empty() { &metadata.bookmark } else { &req.start_key };
        let rows = {
            let world = self.sim.world();
            let mut sim = lock(&ctx.sim);
            sim.check_before_query(collection.is_some(), paginated)?;
            let entries = world.range(&ctx.channel_id, &ctx.namespace, collection, start, &req.end_key);
            entries.into_iter().map(|(key, entry)| kv_row(ctx, collection, key, &entry, None)).collect()
        };
        let iter = QueryIterator::new(&ctx.namespace, rows, BookmarkRule::NextKey);
        Ok(self.open_iterator(ctx, iter, paginated, limit))
    }

    pub(crate) fn handle_get_query_result(&self, ctx: &TxContext, req: GetQueryResult) -> Result<Vec<u8>, String> {
        let metadata = query_metadata(&req.metadata)?;
        let limit = self.total_limit(Some(&metadata));
        let (collection, paginated) = self.query_scope(ctx, &req.collection, &metadata)?;
        let rows = {
            let world = self.sim.world();
            let mut sim = lock(&ctx.sim);
            sim.check_before_query(collection.is_some(), paginated)?;
            let query = Query::parse(&req.query).map_err(|e| e.to_string())?;
            let bookmark = if paginated { metadata.bookmark.as_str() } else { "" };
            rich_rows(&world, ctx, collection, &query, bookmark)
        };
        let iter = QueryIterator::new(&ctx.namespace, rows, BookmarkRule::LastKey);
        Ok(self.open_iterator(ctx, iter, paginated, limit))
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

    /// `calculateTotalReturnLimit`: `totalQueryLimit`, lowered to a positive pageSize.
    fn total_limit(&self, metadata: Option<&QueryMetadata>) -> i32 {
        let limit = i32::try_from(self.opts.total_query_limit).unwrap_or(i32::MAX);
        match metadata {
            Some(m) if m.page_size > 0 && m.page_size < limit => m.page_size,
            _ => limit,
        }
    }
}

/// The request's `QueryMetadata` (an absent field decodes as the default: unpaginated).
fn query_metadata(bytes: &[u8]) -> Result<QueryMetadata, String> {
    QueryMetadata::decode(bytes).map_err(|e| format!("unmarshal failed: {e}"))
}

/// `isMetadataSetForPagination`.
fn is_paginated(metadata: &QueryMetadata) -> bool {
    !(metadata.page_size == 0 && metadata.bookmark.is_empty())
}

/// A `queryresult.KV` result (with `value`, or else the stored value) that records a read of its key.
fn kv_row(
    ctx: &TxContext,
    collection: Option<&str>,
    key: String,
    entry: &VersionedValue,
    value: Option<Vec<u8>>,
) -> Row {
    let kv =
        Kv { namespace: ctx.namespace.clone(), key: key.clone(), value: value.unwrap_or_else(|| entry.value.clone()) };
    Row { key, bytes: kv.encode_to_vec(), read: Some((collection.map(str::to_owned), Some(entry.version))) }
}

/// A key and its entry, keyed by the key for [`Query::select`].
struct Keyed<'a>(&'a str, &'a VersionedValue);

impl AsRef<str> for Keyed<'_> {
    fn as_ref(&self) -> &str {
        self.0
    }
}

/// The results of a rich query, in order, after the bookmark (the request's, else the query's) and `skip`.
fn rich_rows(world: &WorldState, ctx: &TxContext, collection: Option<&str>, query: &Query, bookmark: &str) -> Vec<Row> {
    let Some(keys) = world.keys(&ctx.channel_id, &ctx.namespace, collection) else { return Vec::new() };
    let docs: Vec<(Keyed<'_>, serde_json::Value)> = keys
        .iter()
        .filter_map(|(key, entry)| wasmcc_mango::document(&entry.value).map(|doc| (Keyed(key, entry), doc)))
        .collect();
    let hits = query.select(docs.iter().map(|(keyed, doc)| (Keyed(keyed.0, keyed.1), doc)));
    let bookmark = if bookmark.is_empty() { query.bookmark().unwrap_or_default() } else { bookmark };
    let start = wasmcc_mango::resume_after(&hits, bookmark);
    hits.into_iter()
        .skip(start)
        .skip(query.skip())
        .map(|(Keyed(key, entry), doc)| {
            let projected = query.project(doc).map(|v| v.to_string().into_bytes());
            kv_row(ctx, collection, key.to_owned(), entry, projected)
        })
        .collect()
}
