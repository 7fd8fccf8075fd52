//! What range and rich queries return and how they page: the peer handler's rules (`HandleGetStateByRange`,
//! `HandleGetQueryResult`, `calculateTotalReturnLimit`, `isMetadataSetForPagination`) over LevelDB's and CouchDB's
//! answers. The gRPC endpoint hands the results out in the peer's batches; the SDK's mock ledger hands them to the
//! chaincode at once.
//!
//! Pagination: only pageSize 0 *with an empty bookmark* is unpaginated. A paginated range query starts at the
//! bookmark instead of startKey when the bookmark is non-empty (even if it sorts before startKey), and its bookmark
//! is the key after the page. The total limit is `totalQueryLimit`, or pageSize when 0 < pageSize <
//! totalQueryLimit. Paginated queries are public-data only: with a collection, the page only lowers the limit and
//! the query is served unpaginated, as on the peer.
//!
//! Rich queries are CouchDB Mango queries ([`wasmcc_mango`]) over the values that are JSON objects. The query's own
//! `limit` is overridden (the peer's limits apply), `skip` is honoured, and a bookmark in the request replaces one in
//! the query. Results carry the stored bytes, or with `fields` the projected document re-serialized (keys sorted,
//! as CouchDB returns them through the peer). The bookmark of a paginated rich query is the key of the last result.

use wasmcc_mango::Query;

use crate::world::{Version, VersionedValue, WorldState};

/// The peer's default `ledger.state.totalQueryLimit`.
pub const TOTAL_QUERY_LIMIT: i32 = 100_000;

/// A request's `QueryMetadata`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Page<'a> {
    pub page_size: i32,
    pub bookmark: &'a str,
}

impl Page<'_> {
    /// `isMetadataSetForPagination`: anything but `{0, ""}`.
    pub fn is_set(&self) -> bool {
        !(self.page_size == 0 && self.bookmark.is_empty())
    }
}

/// Whether a query is served paginated: a page is set and the query is on public data.
pub fn is_paginated(collection: Option<&str>, page: Option<Page<'_>>) -> bool {
    collection.is_none() && page.is_some_and(|p| p.is_set())
}

/// `calculateTotalReturnLimit`: `total_query_limit`, lowered to a positive pageSize.
pub fn total_limit(total_query_limit: i32, page: Option<Page<'_>>) -> i32 {
    match page {
        Some(p) if p.page_size > 0 && p.page_size < total_query_limit => p.page_size,
        _ => total_query_limit,
    }
}

/// One result: the key, the bytes handed to the chaincode, and the version read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    pub key: String,
    pub value: Vec<u8>,
    pub version: Version,
}

/// What a paginated query's bookmark is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BookmarkRule {
    /// The key after the last result, or "" at the end: the LevelDB range iterator's `GetBookmarkAndClose`.
    NextKey,
    /// The key of the last result returned ("" when none): a rich query's bookmark here (CouchDB's is opaque).
    LastKey,
}

/// Where a range query's scan starts: the page's bookmark when paginated and set, else `start`. The phantom-read
/// record starts there too, since keys before the bookmark were never scanned.
pub fn range_start<'a>(collection: Option<&str>, start: &'a str, page: Option<Page<'a>>) -> &'a str {
    match page {
        Some(p) if is_paginated(collection, page) && !p.bookmark.is_empty() => p.bookmark,
        _ => start,
    }
}

/// The committed entries of a range query, in key order, from [`range_start`].
pub fn range(
    world: &WorldState,
    channel: &str,
    namespace: &str,
    collection: Option<&str>,
    start: &str,
    end: &str,
    page: Option<Page<'_>>,
) -> Vec<Hit> {
    let found = world.range(channel, namespace, collection, range_start(collection, start, page), end);
    found.into_iter().map(|(key, v)| Hit { key, value: v.value, version: v.version }).collect()
}

/// The results of a rich query, in the query's order, after the bookmark (the page's when paginated, else the
/// query's own) and `skip`; an unparsable query is the peer's error text.
pub fn rich(
    world: &WorldState,
    channel: &str,
    namespace: &str,
    collection: Option<&str>,
    query: &str,
    page: Option<Page<'_>>,
) -> Result<Vec<Hit>, String> {
    let query = Query::parse(query).map_err(|e| e.to_string())?;
    let Some(keys) = world.keys(channel, namespace, collection) else { return Ok(Vec::new()) };
    let docs: Vec<(Keyed<'_>, serde_json::Value)> = keys
        .iter()
        .filter_map(|(key, entry)| wasmcc_mango::document(&entry.value).map(|doc| (Keyed(key, entry), doc)))
        .collect();
    let hits = query.select(docs.iter().map(|(keyed, doc)| (Keyed(keyed.0, keyed.1), doc)));
    let requested = page.filter(|_| is_paginated(collection, page)).map_or("", |p| p.bookmark);
    let bookmark = if requested.is_empty() { query.bookmark().unwrap_or_default() } else { requested };
    let start = wasmcc_mango::resume_after(&hits, bookmark);
    Ok(hits
        .into_iter()
        .skip(start)
        .skip(query.skip())
        .map(|(Keyed(key, entry), doc)| {
            let value = query.project(doc).map_or_else(|| entry.value.clone(), |v| v.to_string().into_bytes());
            Hit { key: key.to_owned(), value, version: entry.version }
        })
        .collect())
}

/// A paginated query's page of `hits`: at most `limit` of them, with the bookmark `rule` gives.
pub fn page(mut hits: Vec<Hit>, limit: i32, rule: BookmarkRule) -> (Vec<Hit>, String) {
    let limit = usize::try_from(limit).unwrap_or(0);
    let next = hits.get(limit).map(|h| h.key.clone());
    hits.truncate(limit);
    let bookmark = match rule {
        BookmarkRule::NextKey => next.unwrap_or_default(),
        BookmarkRule::LastKey => hits.last().map(|h| h.key.clone()).unwrap_or_default(),
    };
    (hits, bookmark)
}

/// A key and its entry, keyed by the key for [`Query::select`].
struct Keyed<'a>(&'a str, &'a VersionedValue);

impl AsRef<str> for Keyed<'_> {
    fn as_ref(&self) -> &str {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::rwset::RwSet;
    use crate::world::CommitInfo;

    fn world() -> WorldState {
        let mut world = WorldState::default();
        let mut rw = RwSet::default();
        for (k, v) in [("a", r#"{"n":1}"#), ("b", r#"{"n":2}"#), ("c", "not json"), ("d", r#"{"n":3}"#)] {
            rw.record_put(k, v.as_bytes().to_vec());
        }
        world.commit_ns("ch", "cc", &rw, &CommitInfo { txid: "t".into(), timestamp: Default::default() });
        world
    }

    fn keys(hits: &[Hit]) -> Vec<&str> {
        hits.iter().map(|h| h.key.as_str()).collect()
    }

    #[test]
    fn a_paginated_range_starts_at_the_bookmark_and_pages_to_the_next_key() {
        let w = world();
        let page = Some(Page { page_size: 2, bookmark: "b" });
        let hits = range(&w, "ch", "cc", None, "a", "", page);
        assert_eq!(keys(&hits), ["b", "c", "d"]);
        let (hits, bookmark) = self::page(hits, total_limit(TOTAL_QUERY_LIMIT, page), BookmarkRule::NextKey);
        assert_eq!((keys(&hits), bookmark.as_str()), (vec!["b", "c"], "d"));
        // On private data a page is no page: the start key stays, only the limit is lowered.
        assert!(!is_paginated(Some("coll"), page));
        assert_eq!(total_limit(TOTAL_QUERY_LIMIT, page), 2);
        assert!(!is_paginated(None, Some(Page { page_size: 0, bookmark: "" })));
        assert_eq!(range_start(None, "a", page), "b");
        assert_eq!(range_start(Some("coll"), "a", page), "a");
        assert_eq!(range_start(None, "a", Some(Page { page_size: 2, bookmark: "" })), "a");
    }

    #[test]
    fn rich_queries_select_json_values_and_fall_back_to_the_query_bookmark() {
        let w = world();
        let q = r#"{"selector":{"n":{"$gt":0}},"bookmark":"a"}"#;
        let hits = rich(&w, "ch", "cc", None, q, Some(Page { page_size: 1, bookmark: "" })).unwrap();
        assert_eq!(keys(&hits), ["b", "d"], "the query's own bookmark applies when the request has none");
        let (hits, bookmark) = page(hits, 1, BookmarkRule::LastKey);
        assert_eq!((keys(&hits), bookmark.as_str()), (vec!["b"], "b"));
        let projected = rich(&w, "ch", "cc", None, r#"{"selector":{"n":3},"fields":["n"]}"#, None).unwrap();
        assert_eq!(projected[0].value, br#"{"n":3}"#);
        assert!(rich(&w, "ch", "cc", None, "not a query", None).is_err());
    }
}
