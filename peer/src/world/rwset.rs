//! Read/write sets: what one transaction read (with the versions it saw) and would write, per namespace and, for
//! private data, per collection (Fabric's `TxRwSet` → `NsRwSet` → `KVRWSet` and `CollHashedRwSet`).
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
    /// Key → the value to write (`None`: delete). The last write to a key wins.
    pub writes: BTreeMap<String, Option<Vec<u8>>>,
    /// Key → the key's complete new metadata (`PUT_STATE_METADATA` replaces all of it). At commit it applies only
    /// if the key then exists.
    pub metadata_writes: BTreeMap<String, Metadata>,
    /// Private data, by collection name.
    pub collections: BTreeMap<String, CollectionRwSet>,
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
                let set = RwSet { reads: BTreeMap::new(), collections, ..set.clone() };
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
        self.reads.is_empty() && !self.has_writes() && self.collections.values().all(CollectionRwSet::is_empty)
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
}
