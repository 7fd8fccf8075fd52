//! Read/write sets: what one transaction read (with the versions it saw) and would write, per namespace and, for
//! private data, per collection (Fabric's `TxRwSet` → `NsRwSet` → `KVRWSet` and `CollHashedRwSet`), with the public
//! range queries it ran (`RangeQueryInfo`) so a commit can detect phantom reads.
//!
//! Every map is a `BTreeMap`, so two sets compare with `==` and print in a stable order: a test can run the same
//! transaction against two chaincode implementations and compare [`TxRwSet::writes`].

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};

use crate::world::Version;

/// The metadata of one key: metakey → value. The state-based endorsement metakey is [`VALIDATION_PARAMETER`].
pub type Metadata = BTreeMap<String, Vec<u8>>;

/// The metakey the shim uses for key-level endorsement policies (`SetStateValidationParameter`).
pub const VALIDATION_PARAMETER: &str = "VALIDATION_PARAMETER";

/// Everything one transaction read and would write, by namespace (chaincode name). A chaincode-to-chaincode call on
/// the same channel shares its caller's set: the callee's reads and writes appear under the callee's namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TxRwSet {
    pub namespaces: BTreeMap<String, RwSet>,
}

/// One namespace's part of a transaction (Fabric's `NsRwSet`): public state and the collections of private data.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RwSet {
    /// Key → the version seen when it was first read (`None`: the key was absent). Point reads, multi-key reads
    /// and every key a range or rich query handed out.
    ///
    /// Only the first read of a key is kept: if a later read in the same transaction saw a newer version, the first
    /// one is stale by then and MVCC validation fails anyway, which is the outcome a peer gives.
    pub reads: BTreeMap<String, Option<Version>>,
    /// The public range queries (`GetStateByRange`, paginated or not), in the order they were opened. Keys a query
    /// handed out are in `reads` too, but only this record lets a commit see a key that has appeared since.
    pub range_queries: Vec<RangeQueryInfo>,
    /// Key → the value to write (`None`: delete). The last write to a key wins.
    pub writes: BTreeMap<String, Option<Vec<u8>>>,
    /// Key → the key's complete new metadata (`PUT_STATE_METADATA` replaces all of it). At commit it applies only
    /// if the key then exists.
    pub metadata_writes: BTreeMap<String, Metadata>,
    /// Private data, by collection name.
    pub collections: BTreeMap<String, CollectionRwSet>,
}

/// One public range query as the chaincode consumed it (Fabric's `RangeQueryInfo` with raw reads, never the merkle
/// summary a peer builds for large results instead). At commit the range is run again over committed state and must
/// hand out exactly these keys with these versions, or the transaction has read a phantom.
///
/// Only what the iterator actually returned counts, so a chaincode that stops early is not invalidated by keys it
/// never saw: until the iterator runs out, `end_key` is the last key returned and validation stops there.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RangeQueryInfo {
    /// Where the scan started: the request's start key, or a paginated query's bookmark.
    pub start_key: String,
    /// Once `itr_exhausted`, the query's end key (excluded, empty: unbounded); before, the last key returned
    /// (included), or empty if none was.
    pub end_key: String,
    /// Whether the iterator reported the end of the range (a `Next` that found nothing).
    pub itr_exhausted: bool,
    /// The keys returned, in order, with the version each had.
    pub reads: Vec<(String, Version)>,
}

/// One collection's private reads and writes. Only hashes of these reach the block on a real channel; the
/// values are what the endorsing peer keeps in its transient store and commits to its private data store.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CollectionRwSet {
    pub reads: BTreeMap<String, Option<Version>>,
    pub writes: BTreeMap<String, Option<Vec<u8>>>,
    pub metadata_writes: BTreeMap<String, Metadata>,
    /// Keys purged (`PURGE_PRIVATE_DATA`): deleted, and on a real peer also removed from the private data history.
    /// A later write of the same key in the transaction cancels the purge.
    pub purges: BTreeSet<String>,
}

/// The SHA-256 a peer stores for a private key or value.
pub fn hash(bytes: &[u8]) -> Vec<u8> {
    Sha256::digest(bytes).to_vec()
}

impl TxRwSet {
    /// The part of namespace `ns` (an empty set if the transaction never touched it).
    pub fn ns(&self, ns: &str) -> &RwSet {
        static EMPTY: RwSet = RwSet {
            reads: BTreeMap::new(),
            range_queries: Vec::new(),
            writes: BTreeMap::new(),
            metadata_writes: BTreeMap::new(),
            collections: BTreeMap::new(),
        };
        self.namespaces.get(ns).unwrap_or(&EMPTY)
    }

    pub fn ns_mut(&mut self, ns: &str) -> &mut RwSet {
        self.namespaces.entry(ns.to_owned()).or_default()
    }

    /// The same set without any reads (and without namespaces or collections that only read): what a transaction
    /// would change. Two implementations of one chaincode should agree on it even when they read differently.
    pub fn writes(&self) -> TxRwSet {
        let namespaces = self
            .namespaces
            .iter()
            .filter_map(|(ns, set)| {
                let collections: BTreeMap<String, CollectionRwSet> = set
                    .collections
                    .iter()
                    .map(|(name, c)| (name.clone(), CollectionRwSet { reads: BTreeMap::new(), ..c.clone() }))
                    .filter(|(_, c)| c.has_writes())
                    .collect();
                let set = RwSet { reads: BTreeMap::new(), range_queries: Vec::new(), collections, ..set.clone() };
                set.has_writes().then(|| (ns.clone(), set))
            })
            .collect();
        TxRwSet { namespaces }
    }

    /// Whether the transaction writes anything anywhere.
    pub fn has_writes(&self) -> bool {
        self.namespaces.values().any(RwSet::has_writes)
    }

    /// Whether the transaction neither read nor wrote anything.
    pub fn is_empty(&self) -> bool {
        self.namespaces.values().all(RwSet::is_empty)
    }

    /// The namespaces the transaction touched, sorted.
    pub fn namespaces(&self) -> impl Iterator<Item = &str> {
        self.namespaces.keys().map(String::as_str)
    }
}

impl RwSet {
    /// Records a read of `key` that saw `version`, unless the key was already read.
    pub fn record_read(&mut self, key: &str, version: Option<Version>) {
        self.reads.entry(key.to_owned()).or_insert(version);
    }

    /// Records a write. An empty value is a delete, exactly as the peer treats `PUT_STATE` with an empty value.
    pub fn record_put(&mut self, key: &str, value: Vec<u8>) {
        let value = (!value.is_empty()).then_some(value);
        self.writes.insert(key.to_owned(), value);
    }

    /// Records a delete (`DEL_STATE`). Deleting a key that does not exist is not an error.
    pub fn record_delete(&mut self, key: &str) {
        self.writes.insert(key.to_owned(), None);
    }

    /// Records a metadata write: `metadata` becomes the key's whole metadata.
    pub fn record_metadata(&mut self, key: &str, metadata: Metadata) {
        self.metadata_writes.insert(key.to_owned(), metadata);
    }

    /// The part of collection `name`, created on first use.
    pub fn collection_mut(&mut self, name: &str) -> &mut CollectionRwSet {
        self.collections.entry(name.to_owned()).or_default()
    }

    pub fn has_writes(&self) -> bool {
        !self.writes.is_empty()
            || !self.metadata_writes.is_empty()
            || self.collections.values().any(CollectionRwSet::has_writes)
    }

    pub fn is_empty(&self) -> bool {
        self.reads.is_empty()
            && self.range_queries.is_empty()
            && !self.has_writes()
            && self.collections.values().all(CollectionRwSet::is_empty)
    }
}

impl RangeQueryInfo {
    /// A range query just opened: nothing returned yet, so nothing past `start_key` is covered.
    pub fn new(start_key: &str) -> RangeQueryInfo {
        RangeQueryInfo { start_key: start_key.to_owned(), ..RangeQueryInfo::default() }
    }

    /// A result returned to the chaincode. It moves the end of what validation checks to this key, because the
    /// chaincode may never ask for the next one.
    pub fn record_result(&mut self, key: &str, version: Version) {
        self.reads.push((key.to_owned(), version));
        self.end_key = key.to_owned();
    }

    /// The iterator ran out: the chaincode has seen the whole range, so validation covers it up to `end_key`, the
    /// query's own end.
    pub fn record_exhausted(&mut self, end_key: &str) {
        self.itr_exhausted = true;
        self.end_key = end_key.to_owned();
    }
}

impl CollectionRwSet {
    pub fn record_read(&mut self, key: &str, version: Option<Version>) {
        self.reads.entry(key.to_owned()).or_insert(version);
    }

    /// Records a write (empty value: delete) and cancels an earlier purge of the key.
    pub fn record_put(&mut self, key: &str, value: Vec<u8>) {
        let value = (!value.is_empty()).then_some(value);
        self.purges.remove(key);
        self.writes.insert(key.to_owned(), value);
    }

    pub fn record_delete(&mut self, key: &str) {
        self.purges.remove(key);
        self.writes.insert(key.to_owned(), None);
    }

    /// Records a purge: the key is deleted and marked purged.
    pub fn record_purge(&mut self, key: &str) {
        self.writes.insert(key.to_owned(), None);
        self.purges.insert(key.to_owned());
    }

    pub fn record_metadata(&mut self, key: &str, metadata: Metadata) {
        self.metadata_writes.insert(key.to_owned(), metadata);
    }

    /// The writes as they appear in the block: SHA-256 of the key → SHA-256 of the value (`None`: delete).
    pub fn hashed_writes(&self) -> BTreeMap<Vec<u8>, Option<Vec<u8>>> {
        self.writes.iter().map(|(k, v)| (hash(k.as_bytes()), v.as_deref().map(hash))).collect()
    }

    pub fn has_writes(&self) -> bool {
        !self.writes.is_empty() || !self.metadata_writes.is_empty() || !self.purges.is_empty()
    }

    pub fn is_empty(&self) -> bool {
        self.reads.is_empty() && !self.has_writes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_read_wins_and_empty_put_deletes() {
        let mut rw = RwSet::default();
        rw.record_read("a", Some(Version { block: 1, tx: 0 }));
        rw.record_read("a", Some(Version { block: 9, tx: 0 }));
        assert_eq!(rw.reads["a"], Some(Version { block: 1, tx: 0 }));
        rw.record_put("k", Vec::new());
        assert_eq!(rw.writes["k"], None);
    }

    #[test]
    fn purge_then_put_cancels_the_purge() {
        let mut coll = CollectionRwSet::default();
        coll.record_purge("k");
        assert!(coll.purges.contains("k"));
        coll.record_put("k", b"v".to_vec());
        assert!(coll.purges.is_empty());
        assert_eq!(coll.hashed_writes()[&hash(b"k")], Some(hash(b"v")));
    }

    #[test]
    fn writes_drop_reads_and_read_only_parts() {
        let mut tx = TxRwSet::default();
        tx.ns_mut("reader").record_read("x", None);
        let ns = tx.ns_mut("writer");
        ns.record_read("y", None);
        ns.record_put("y", b"1".to_vec());
        ns.collection_mut("readonly").record_read("p", None);
        ns.collection_mut("secret").record_put("p", b"2".to_vec());
        let writes = tx.writes();
        assert_eq!(writes.namespaces.keys().collect::<Vec<_>>(), ["writer"]);
        let writer = writes.ns("writer");
        assert!(writer.reads.is_empty());
        assert_eq!(writer.collections.keys().collect::<Vec<_>>(), ["secret"]);
        assert!(writes.has_writes());
        assert!(tx.ns("never").writes.is_empty());
        assert_eq!(tx.namespaces().collect::<Vec<_>>(), ["reader", "writer"]);
        assert!(!tx.is_empty() && TxRwSet::default().is_empty());
        let mut read_only = TxRwSet::default();
        read_only.ns_mut("cc").collection_mut("c").record_read("k", None);
        assert!(!read_only.is_empty() && !read_only.has_writes());
    }

    #[test]
    fn a_range_query_is_a_read_that_writes_drop() {
        let mut tx = TxRwSet::default();
        tx.ns_mut("cc").range_queries.push(RangeQueryInfo::new("a"));
        assert!(!tx.is_empty(), "a range that returned nothing was still read");
        tx.ns_mut("cc").record_put("k", b"v".to_vec());
        assert!(tx.writes().ns("cc").range_queries.is_empty());
        assert!(tx.ns("never").range_queries.is_empty());
    }

    #[test]
    fn a_range_query_covers_up_to_the_last_result_until_exhausted() {
        let v = Version { block: 1, tx: 0 };
        let mut query = RangeQueryInfo::new("a");
        query.record_result("b", v);
        query.record_result("c", v);
        assert_eq!((query.end_key.as_str(), query.itr_exhausted), ("c", false));
        query.record_exhausted("z");
        assert_eq!((query.end_key.as_str(), query.itr_exhausted), ("z", true));
        assert_eq!(query.reads, [("b".to_owned(), v), ("c".to_owned(), v)]);
    }
}
