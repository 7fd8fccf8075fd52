//! A pure-Rust subset of CouchDB's Mango query language (`_find`), evaluated over JSON values in memory: what a
//! Fabric peer with a CouchDB state database does for `GetQueryResult` (rich queries). Used by wasmcc's peer
//! simulator and reusable by a native mock ledger.
//!
//! ```
//! use serde_json::json;
//! use wasmcc_mango::Query;
//!
//! let query = Query::parse(r#"{"selector": {"docType": "marble", "size": {"$gt": 5}}, "sort": [{"size": "desc"}]}"#)
//!     .unwrap();
//! let a = json!({"docType": "marble", "size": 10});
//! let b = json!({"docType": "marble", "size": 7});
//! let c = json!({"docType": "marble", "size": 1});
//! let hits = query.select([("a", &a), ("b", &b), ("c", &c)]);
//! let keys: Vec<&str> = hits.iter().map(|(k, _)| *k).collect();
//! assert_eq!(keys, ["a", "b"]);
//! ```
//!
//! # Supported subset
//!
//! A query is a JSON object with these members (all but `selector` optional):
//! - `selector` (required): a selector object, see below.
//! - `fields`: an array of field names (dotted paths allowed); results keep only those fields, nested as in the
//!   document ([`Query::project`]).
//! - `sort`: an array of `"field"` (ascending) or `{"field": "asc" | "desc"}`. Unlike CouchDB, no index is needed,
//!   directions may be mixed, and a document without a sort field sorts before every value.
//! - `limit`, `skip`: non-negative integers; `bookmark`: a string, see "Bookmarks".
//! - `use_index`, `r`, `conflicts`, `update`, `stable`, `stale`, `execution_stats` are accepted and ignored (they
//!   tune CouchDB, not the result). Any other member is an error.
//!
//! Selector syntax:
//! - `{"field": value}` is `{"field": {"$eq": value}}`; several members are an implicit `$and`.
//! - Field names are dotted paths (`"owner.address.city"`; `\.` is a literal dot; a numeric segment indexes an
//!   array). A nested object of fields, `{"owner": {"name": "bob"}}`, means `{"owner.name": "bob"}`.
//! - Conditions: `$eq`, `$ne`, `$gt`, `$gte`, `$lt`, `$lte`, `$in`, `$nin` (on an array field: any element),
//!   `$exists`, `$type` (`null`, `boolean`, `number`, `string`, `array`, `object`), `$size`, `$all`, `$elemMatch`.
//! - Combinators: `$and`, `$or`, `$nor` (non-empty arrays of selectors), `$not` (a selector); they may also appear
//!   under a field: `{"size": {"$or": [{"$lt": 2}, {"$gt": 9}]}}`.
//! - Not supported (an error, never a silent mismatch): `$regex`, `$mod`, `$allMatch`, `$keyMapMatch`, text search.
//!
//! Matching follows CouchDB: a missing field satisfies only `$exists: false` (so `$ne` and `$nin` skip documents
//! without the field), and comparisons use CouchDB's collation across types ([`collate`]): `{"$gt": 5}` also
//! matches every string. Strings compare by code point rather than ICU collation.
//!
//! Which values are documents: a Fabric peer stores only values that parse as a JSON *object* as CouchDB documents;
//! anything else (binary, or JSON arrays, numbers, strings) is an attachment that no selector field can match.
//! [`document`] applies that rule.
//!
//! # Order and bookmarks
//!
//! [`Query::select`] returns matches ordered by `sort`, and by key (the document `_id`) without one or among ties.
//! CouchDB bookmarks are opaque; here a bookmark is simply the key of the last result already returned, and the
//! next page starts after it ([`resume_after`]). If that key no longer matches, the next page starts at the first
//! key greater than it (exact without `sort`, an approximation with one).

pub mod collate;
mod path;
mod selector;

use std::cmp::Ordering;

use serde_json::Value;

use path::FieldPath;
use selector::Selector;

/// Why a query was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The query text is not JSON.
    #[error("invalid query JSON: {0}")]
    Json(String),
    /// JSON, but not a query this crate understands.
    #[error("invalid query: {0}")]
    InvalidQuery(String),
}

/// One `sort` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct SortField {
    /// The field name as written in the query.
    pub field: String,
    pub descending: bool,
    path: FieldPath,
}

/// A parsed Mango query.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    selector: Selector,
    fields: Option<Vec<FieldPath>>,
    sort: Vec<SortField>,
    limit: Option<usize>,
    skip: usize,
    bookmark: Option<String>,
}

/// Query members that tune CouchDB and do not change results.
const IGNORED_MEMBERS: [&str; 7] = ["use_index", "r", "conflicts", "update", "stable", "stale", "execution_stats"];

impl Query {
    /// Parses a query from its JSON text.
    pub fn parse(text: &str) -> Result<Query, Error> {
        let value: Value = serde_json::from_str(text).map_err(|e| Error::Json(e.to_string()))?;
        Query::from_value(&value)
    }

    /// Parses a query from a JSON value.
    pub fn from_value(value: &Value) -> Result<Query, Error> {
        let map = value.as_object().ok_or_else(|| invalid("a query must be a JSON object"))?;
        let mut query = Query {
            selector: Selector::And(Vec::new()),
            fields: None,
            sort: Vec::new(),
            limit: None,
            skip: 0,
            bookmark: None,
        };
        let mut has_selector = false;
        for (member, value) in map {
            match member.as_str() {
                "selector" => {
                    query.selector = Selector::parse(value)?;
                    has_selector = true;
                }
                "fields" => query.fields = Some(parse_fields(value)?),
                "sort" => query.sort = parse_sort(value)?,
                "limit" => query.limit = Some(non_negative("limit", value)?),
                "skip" => query.skip = non_negative("skip", value)?,
                "bookmark" => {
                    let text = value.as_str().ok_or_else(|| invalid("bookmark must be a string"))?;
                    query.bookmark = (!text.is_empty()).then(|| text.to_owned());
                }
                other if IGNORED_MEMBERS.contains(&other) => {}
                other => return Err(invalid(format!("unknown query member {other:?}"))),
            }
        }
        if !has_selector {
            return Err(invalid("a query needs a selector"));
        }
        Ok(query)
    }

    /// Whether `doc` satisfies the selector.
    pub fn matches(&self, doc: &Value) -> bool {
        self.selector.matches(doc)
    }

    /// `doc` reduced to the query's `fields`, or `None` when the query has no `fields`.
    pub fn project(&self, doc: &Value) -> Option<Value> {
        self.fields.as_ref().map(|fields| path::project(doc, fields))
    }

    pub fn sort(&self) -> &[SortField] {
        &self.sort
    }

    /// The query's `limit`, if any. (A Fabric peer overrides it with its own limits.)
    pub fn limit(&self) -> Option<usize> {
        self.limit
    }

    pub fn skip(&self) -> usize {
        self.skip
    }

    /// The query's non-empty `bookmark`, if any.
    pub fn bookmark(&self) -> Option<&str> {
        self.bookmark.as_deref()
    }

    /// The result order of two keyed documents: by the `sort` fields, then by key.
    pub fn compare(&self, (key_a, a): (&str, &Value), (key_b, b): (&str, &Value)) -> Ordering {
        self.sort
            .iter()
            .map(|s| {
                let order = match (s.path.lookup(a), s.path.lookup(b)) {
                    (Some(x), Some(y)) => collate::compare(x, y),
                    (None, None) => Ordering::Equal,
                    (None, Some(_)) => Ordering::Less,
                    (Some(_), None) => Ordering::Greater,
                };
                if s.descending {
                    order.reverse()
                } else {
                    order
                }
            })
            .find(|o| o.is_ne())
            .unwrap_or_else(|| key_a.cmp(key_b))
    }

    /// The matching documents in result order. `skip`, `limit` and `bookmark` are not applied (see [`Query::run`]).
    pub fn select<'a, K: AsRef<str>>(&self, docs: impl IntoIterator<Item = (K, &'a Value)>) -> Vec<(K, &'a Value)> {
        let mut hits: Vec<(K, &Value)> = docs.into_iter().filter(|(_, doc)| self.matches(doc)).collect();
        hits.sort_by(|(ka, a), (kb, b)| self.compare((ka.as_ref(), a), (kb.as_ref(), b)));
        hits
    }

    /// What CouchDB's `_find` would return: [`Query::select`], then the `bookmark`, `skip` and `limit`.
    pub fn run<'a, K: AsRef<str>>(&self, docs: impl IntoIterator<Item = (K, &'a Value)>) -> Vec<(K, &'a Value)> {
        let hits = self.select(docs);
        let start = self.bookmark().map_or(0, |b| resume_after(&hits, b));
        let limit = self.limit.unwrap_or(usize::MAX);
        hits.into_iter().skip(start).skip(self.skip).take(limit).collect()
    }
}

/// Where the page after `bookmark` starts in `ordered` (a [`Query::select`] result): just past the entry whose key
/// is the bookmark, or, if no entry has that key, at the first key greater than it. An empty bookmark starts at 0.
pub fn resume_after<K: AsRef<str>, T>(ordered: &[(K, T)], bookmark: &str) -> usize {
    if bookmark.is_empty() {
        return 0;
    }
    match ordered.iter().position(|(k, _)| k.as_ref() == bookmark) {
        Some(i) => i + 1,
        None => ordered.iter().position(|(k, _)| k.as_ref() > bookmark).unwrap_or(ordered.len()),
    }
}

/// The document a stored value is to a rich query: `Some` only for a JSON object, as a Fabric peer stores only
/// those as CouchDB documents.
pub fn document(value: &[u8]) -> Option<Value> {
    serde_json::from_slice::<Value>(value).ok().filter(Value::is_object)
}

fn parse_fields(value: &Value) -> Result<Vec<FieldPath>, Error> {
    let items = value.as_array().ok_or_else(|| invalid("fields definition must be an array"))?;
    items
        .iter()
        .map(|item| item.as_str().map(FieldPath::parse).ok_or_else(|| invalid("fields must be strings")))
        .collect()
}

fn parse_sort(value: &Value) -> Result<Vec<SortField>, Error> {
    let items = value.as_array().ok_or_else(|| invalid("sort must be an array"))?;
    items
        .iter()
        .map(|item| {
            let (field, descending) = match item {
                Value::String(field) => (field.clone(), false),
                Value::Object(map) if map.len() == 1 => {
                    let (field, direction) = map.iter().next().expect("one member");
                    match direction.as_str() {
                        Some("asc") => (field.clone(), false),
                        Some("desc") => (field.clone(), true),
                        _ => return Err(invalid(format!("sort direction of {field:?} must be \"asc\" or \"desc\""))),
                    }
                }
                _ => return Err(invalid("sort entries are \"field\" or {\"field\": \"asc\"|\"desc\"}")),
            };
            Ok(SortField { path: FieldPath::parse(&field), field, descending })
        })
        .collect()
}

fn non_negative(member: &str, value: &Value) -> Result<usize, Error> {
    value
        .as_u64()
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| invalid(format!("{member} must be a non-negative integer")))
}

fn invalid(reason: impl Into<String>) -> Error {
    Error::InvalidQuery(reason.into())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn docs() -> Vec<(String, Value)> {
        vec![
            ("m1".into(), json!({"docType": "marble", "color": "red", "size": 5, "owner": "tom"})),
            ("m2".into(), json!({"docType": "marble", "color": "blue", "size": 50, "owner": "ann"})),
            ("m3".into(), json!({"docType": "marble", "color": "red", "size": 10, "owner": "bob"})),
            ("m4".into(), json!({"docType": "marble", "color": "red", "owner": "ann"})),
            ("o1".into(), json!({"docType": "owner", "name": "tom"})),
        ]
    }

    fn keys<T>(hits: &[(&String, T)]) -> Vec<String> {
        hits.iter().map(|(k, _)| (*k).clone()).collect()
    }

    fn select(text: &str) -> Vec<String> {
        let docs = docs();
        let query = Query::parse(text).unwrap();
        keys(&query.select(docs.iter().map(|(k, v)| (k, v))))
    }

    #[test]
    fn without_sort_results_are_in_key_order() {
        assert_eq!(select(r#"{"selector": {"color": "red"}}"#), ["m1", "m3", "m4"]);
        assert_eq!(select(r#"{"selector": {}}"#), ["m1", "m2", "m3", "m4", "o1"]);
    }

    #[test]
    fn sort_ascending_descending_and_missing_fields() {
        assert_eq!(select(r#"{"selector": {"docType": "marble"}, "sort": ["size"]}"#), ["m4", "m1", "m3", "m2"]);
        let desc = r#"{"selector": {"docType": "marble"}, "sort": [{"size": "desc"}]}"#;
        assert_eq!(select(desc), ["m2", "m3", "m1", "m4"]);
        let two = r#"{"selector": {"docType": "marble"}, "sort": [{"owner": "asc"}, {"size": "desc"}]}"#;
        assert_eq!(select(two), ["m2", "m4", "m3", "m1"]);
    }

    #[test]
    fn fields_projection() {
        let query = Query::parse(r#"{"selector": {}, "fields": ["owner", "size"]}"#).unwrap();
        let doc = json!({"owner": "tom", "size": 5, "color": "red"});
        assert_eq!(query.project(&doc), Some(json!({"owner": "tom", "size": 5})));
        assert_eq!(Query::parse(r#"{"selector": {}}"#).unwrap().project(&doc), None);
    }

    #[test]
    fn run_applies_bookmark_skip_and_limit() {
        let docs = docs();
        let run = |text: &str| {
            let query = Query::parse(text).unwrap();
            keys(&query.run(docs.iter().map(|(k, v)| (k, v))))
        };
        assert_eq!(run(r#"{"selector": {"docType": "marble"}, "limit": 2}"#), ["m1", "m2"]);
        assert_eq!(run(r#"{"selector": {"docType": "marble"}, "skip": 1, "limit": 2}"#), ["m2", "m3"]);
        assert_eq!(run(r#"{"selector": {"docType": "marble"}, "bookmark": "m2"}"#), ["m3", "m4"]);
        assert_eq!(run(r#"{"selector": {"docType": "marble"}, "bookmark": "m25"}"#), ["m3", "m4"], "a gone key");
        let sorted = r#"{"selector": {"docType": "marble"}, "sort": [{"size": "desc"}], "bookmark": "m3"}"#;
        assert_eq!(run(sorted), ["m1", "m4"], "the bookmark is a position in the sorted results");
    }

    #[test]
    fn resume_after_positions() {
        let ordered = [("a", ()), ("c", ()), ("e", ())];
        assert_eq!(resume_after(&ordered, ""), 0);
        assert_eq!(resume_after(&ordered, "a"), 1);
        assert_eq!(resume_after(&ordered, "b"), 1);
        assert_eq!(resume_after(&ordered, "e"), 3);
        assert_eq!(resume_after(&ordered, "z"), 3);
    }

    #[test]
    fn only_json_objects_are_documents() {
        assert_eq!(document(br#"{"a": 1}"#), Some(json!({"a": 1})));
        for not_a_doc in [&b"[1, 2]"[..], b"5", b"\"s\"", b"null", b"\xff\x00binary", b""] {
            assert_eq!(document(not_a_doc), None, "{not_a_doc:?}");
        }
    }

    #[test]
    fn malformed_queries_are_errors() {
        assert!(matches!(Query::parse("{not json"), Err(Error::Json(_))));
        for bad in [
            r#"[]"#,
            r#"{"fields": ["a"]}"#,
            r#"{"selector": {}, "fields": "a"}"#,
            r#"{"selector": {}, "sort": "a"}"#,
            r#"{"selector": {}, "sort": [{"a": "up"}]}"#,
            r#"{"selector": {}, "limit": -1}"#,
            r#"{"selector": {}, "skip": "1"}"#,
            r#"{"selector": {}, "bookmark": 3}"#,
            r#"{"selector": {}, "frobnicate": true}"#,
        ] {
            assert!(matches!(Query::parse(bad), Err(Error::InvalidQuery(_))), "{bad}");
        }
        assert!(Query::parse(r#"{"selector": {}, "use_index": ["_design/x"], "execution_stats": true}"#).is_ok());
    }
}
