//! `ChaincodeAction.results`: a transaction's read/write set as Fabric's `rwset.TxReadWriteSet`.
//!
//! Built the way Fabric's `rwsetutil.RWSetBuilder` builds it (every list sorted by plain key, private data as hashes
//! plus the hash of the collection's private set), so a client or tool that inspects an endorsed transaction from
//! this peer sees what it would see from a real one, down to the bytes a validator hashes.

use std::collections::BTreeMap;

use prost::Message;
use wasmcc_proto::kvrwset::{
    HashedRwSet, KvMetadataEntry, KvMetadataWrite, KvMetadataWriteHash, KvRead, KvReadHash, KvWrite, KvWriteHash,
    KvrwSet,
};
use wasmcc_proto::rwset::{tx_read_write_set::DataModel, CollectionHashedReadWriteSet, NsReadWriteSet, TxReadWriteSet};

use crate::world::rwset::{hash, CollectionRwSet, Metadata, RwSet, TxRwSet};
use crate::world::Version;

/// The bytes for `ChaincodeAction.results`.
///
/// Namespaces and collections that recorded nothing are left out: Fabric's builder only creates an entry on the
/// first read or write. Range-query records (`range_queries_info`) are not encoded.
pub fn encode_results(rwset: &TxRwSet) -> Vec<u8> {
    let ns_rwset =
        rwset.namespaces.iter().filter(|(_, set)| !set.is_empty()).map(|(ns, set)| ns_rwset(ns, set)).collect();
    TxReadWriteSet { data_model: DataModel::Kv as i32, ns_rwset }.encode_to_vec()
}

fn ns_rwset(namespace: &str, set: &RwSet) -> NsReadWriteSet {
    let collection_hashed_rwset = set
        .collections
        .iter()
        .filter(|(_, coll)| !coll.is_empty())
        .map(|(name, coll)| collection_hashed_rwset(name, coll))
        .collect();
    NsReadWriteSet {
        namespace: namespace.to_owned(),
        rwset: public_kvrwset(set).encode_to_vec(),
        collection_hashed_rwset,
    }
}

fn public_kvrwset(set: &RwSet) -> KvrwSet {
    KvrwSet {
        reads: set
            .reads
            .iter()
            .map(|(key, seen)| KvRead { key: key.clone(), version: seen.map(proto_version) })
            .collect(),
        range_queries_info: Vec::new(),
        writes: set.writes.iter().map(|(key, value)| kv_write(key, value.as_deref())).collect(),
        metadata_writes: set
            .metadata_writes
            .iter()
            .map(|(key, metadata)| KvMetadataWrite { key: key.clone(), entries: metadata_entries(metadata) })
            .collect(),
    }
}

fn proto_version(v: Version) -> wasmcc_proto::kvrwset::Version {
    wasmcc_proto::kvrwset::Version { block_num: v.block, tx_num: v.tx }
}

fn kv_write(key: &str, value: Option<&[u8]>) -> KvWrite {
    KvWrite { key: key.to_owned(), is_delete: value.is_none(), value: value.map(<[u8]>::to_vec).unwrap_or_default() }
}

fn metadata_entries(metadata: &Metadata) -> Vec<KvMetadataEntry> {
    metadata.iter().map(|(name, value)| KvMetadataEntry { name: name.clone(), value: value.clone() }).collect()
}

/// The block's view of a collection: hashes of keys and values, and the hash of the private set the peer keeps
/// aside, which lets a peer that later receives the private data check it against the block.
fn collection_hashed_rwset(name: &str, coll: &CollectionRwSet) -> CollectionHashedReadWriteSet {
    // Fabric only builds a private set (and so a hash) for a collection that writes; a read-only one gets none.
    let writes = private_writes(coll);
    let pvt_rwset_hash = if writes.is_empty() && coll.metadata_writes.is_empty() {
        Vec::new()
    } else {
        hash(&private_kvrwset(&writes, coll).encode_to_vec())
    };
    CollectionHashedReadWriteSet {
        collection_name: name.to_owned(),
        hashed_rwset: hashed_rwset(&writes, coll).encode_to_vec(),
        pvt_rwset_hash,
    }
}

/// One private write: the value (`None`: delete) and whether the delete is a purge.
type PrivateWriteOp<'a> = (Option<&'a [u8]>, bool);

/// The collection's writes with their purge flag, by key. `record_purge` also records a delete, but a purge found
/// only in `purges` (a set built by hand) must not vanish from the block.
fn private_writes(coll: &CollectionRwSet) -> BTreeMap<&str, PrivateWriteOp<'_>> {
    let mut writes: BTreeMap<&str, PrivateWriteOp<'_>> =
        coll.purges.iter().map(|key| (key.as_str(), (None, true))).collect();
    for (key, value) in &coll.writes {
        let purge = value.is_none() && coll.purges.contains(key);
        writes.insert(key, (value.as_deref(), purge));
    }
    writes
}

/// The private set as the endorsing peer stores it: writes, and metadata writes reduced to their key (the metadata
/// itself lives only with the hashed key). It never reaches the block; only its hash does.
fn private_kvrwset(writes: &BTreeMap<&str, PrivateWriteOp<'_>>, coll: &CollectionRwSet) -> KvrwSet {
    KvrwSet {
        writes: writes.iter().map(|(key, (value, _))| kv_write(key, *value)).collect(),
        metadata_writes: coll
            .metadata_writes
            .keys()
            .map(|key| KvMetadataWrite { key: key.clone(), entries: Vec::new() })
            .collect(),
        ..Default::default()
    }
}

/// Hashed entries keep the order of the plain keys, as Fabric's builder sorts before hashing.
fn hashed_rwset(writes: &BTreeMap<&str, PrivateWriteOp<'_>>, coll: &CollectionRwSet) -> HashedRwSet {
    HashedRwSet {
        hashed_reads: coll
            .reads
            .iter()
            .map(|(key, seen)| KvReadHash { key_hash: hash(key.as_bytes()), version: seen.map(proto_version) })
            .collect(),
        hashed_writes: writes
            .iter()
            .map(|(key, (value, purge))| KvWriteHash {
                key_hash: hash(key.as_bytes()),
                is_delete: value.is_none(),
                value_hash: value.map(hash).unwrap_or_default(),
                is_purge: *purge,
            })
            .collect(),
        metadata_writes: coll
            .metadata_writes
            .iter()
            .map(|(key, metadata)| KvMetadataWriteHash {
                key_hash: hash(key.as_bytes()),
                entries: metadata_entries(metadata),
            })
            .collect(),
    }
}

/// What a transaction writes in one namespace, read back from `ChaincodeAction.results` for display.
/// Metadata writes are not listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamespaceWrites {
    pub namespace: String,
    /// Key → value (`None`: delete), in key order.
    pub writes: Vec<(String, Option<Vec<u8>>)>,
    /// Collections that write, by name.
    pub collections: Vec<CollectionWrites>,
}

/// A collection's writes as the block shows them: only hashes, since the values stay with the endorsing peers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollectionWrites {
    pub collection: String,
    pub writes: Vec<PrivateWrite>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrivateWrite {
    /// SHA-256 of the key.
    pub key_hash: Vec<u8>,
    /// SHA-256 of the value (`None`: delete).
    pub value_hash: Option<Vec<u8>>,
    /// The delete also removes the key from the private data history.
    pub purge: bool,
}

/// The writes in `results` (a `TxReadWriteSet`), by namespace; namespaces that only read are left out.
pub fn decode_writes(results: &[u8]) -> Result<Vec<NamespaceWrites>, prost::DecodeError> {
    let tx = TxReadWriteSet::decode(results)?;
    let mut namespaces = Vec::with_capacity(tx.ns_rwset.len());
    for ns in tx.ns_rwset {
        let writes = KvrwSet::decode(ns.rwset.as_slice())?.writes.into_iter().map(public_write).collect::<Vec<_>>();
        let collections = collection_writes(&ns.collection_hashed_rwset)?;
        if !writes.is_empty() || !collections.is_empty() {
            namespaces.push(NamespaceWrites { namespace: ns.namespace, writes, collections });
        }
    }
    Ok(namespaces)
}

fn public_write(w: KvWrite) -> (String, Option<Vec<u8>>) {
    (w.key, (!w.is_delete).then_some(w.value))
}

fn collection_writes(colls: &[CollectionHashedReadWriteSet]) -> Result<Vec<CollectionWrites>, prost::DecodeError> {
    let mut out = Vec::new();
    for coll in colls {
        let hashed = HashedRwSet::decode(coll.hashed_rwset.as_slice())?;
        if hashed.hashed_writes.is_empty() {
            continue;
        }
        let writes = hashed
            .hashed_writes
            .into_iter()
            .map(|w| PrivateWrite {
                key_hash: w.key_hash,
                value_hash: (!w.is_delete).then_some(w.value_hash),
                purge: w.is_purge,
            })
            .collect();
        out.push(CollectionWrites { collection: coll.collection_name.clone(), writes });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(block: u64, tx: u64) -> Option<Version> {
        Some(Version { block, tx })
    }

    fn pv(block_num: u64, tx_num: u64) -> Option<wasmcc_proto::kvrwset::Version> {
        Some(wasmcc_proto::kvrwset::Version { block_num, tx_num })
    }

    /// Namespace `basic` with public reads, writes, a delete and metadata, and collection `secret`; `other` only
    /// reads; `empty` recorded nothing.
    fn sample() -> TxRwSet {
        let mut tx = TxRwSet::default();
        tx.ns_mut("other").record_read("x", None);
        tx.ns_mut("empty");
        let ns = tx.ns_mut("basic");
        ns.record_read("b", v(3, 1));
        ns.record_read("a", None);
        ns.record_put("z", b"last".to_vec());
        ns.record_put("m", b"mid".to_vec());
        ns.record_delete("d");
        ns.record_metadata(
            "m",
            Metadata::from([("zeta".into(), b"2".to_vec()), ("VALIDATION_PARAMETER".into(), b"p".to_vec())]),
        );
        let coll = ns.collection_mut("secret");
        coll.record_read("r", v(2, 0));
        coll.record_put("p", b"private".to_vec());
        coll.record_purge("gone");
        coll.record_delete("del");
        coll.record_metadata("p", Metadata::from([("k".into(), b"v".to_vec())]));
        ns.collection_mut("readonly").record_read("q", None);
        tx
    }

    #[test]
    fn encodes_namespaces_sorted_with_public_reads_writes_and_metadata() {
        let tx = TxReadWriteSet::decode(encode_results(&sample()).as_slice()).unwrap();
        assert_eq!(tx.data_model(), DataModel::Kv);
        let names: Vec<_> = tx.ns_rwset.iter().map(|ns| ns.namespace.as_str()).collect();
        assert_eq!(names, ["basic", "other"]);

        let kv = KvrwSet::decode(tx.ns_rwset[0].rwset.as_slice()).unwrap();
        let reads: Vec<_> = kv.reads.iter().map(|r| (r.key.as_str(), r.version)).collect();
        assert_eq!(reads, [("a", None), ("b", pv(3, 1))]);
        let writes: Vec<_> = kv.writes.iter().map(|w| (w.key.as_str(), w.is_delete, w.value.as_slice())).collect();
        assert_eq!(writes, [("d", true, b"".as_slice()), ("m", false, b"mid"), ("z", false, b"last")]);
        assert!(kv.range_queries_info.is_empty());
        let meta = &kv.metadata_writes[0];
        assert_eq!(meta.key, "m");
        let names: Vec<_> = meta.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["VALIDATION_PARAMETER", "zeta"]);
        assert!(tx.ns_rwset[1].collection_hashed_rwset.is_empty());
    }

    #[test]
    fn encodes_collections_as_hashes_with_the_private_set_hash() {
        let tx = TxReadWriteSet::decode(encode_results(&sample()).as_slice()).unwrap();
        let colls = &tx.ns_rwset[0].collection_hashed_rwset;
        let names: Vec<_> = colls.iter().map(|c| c.collection_name.as_str()).collect();
        assert_eq!(names, ["readonly", "secret"]);
        assert!(colls[0].pvt_rwset_hash.is_empty(), "a read-only collection has no private set");

        let hashed = HashedRwSet::decode(colls[1].hashed_rwset.as_slice()).unwrap();
        assert_eq!(hashed.hashed_reads, [KvReadHash { key_hash: hash(b"r"), version: pv(2, 0) }]);
        let delete =
            |key: &[u8], is_purge| KvWriteHash { key_hash: hash(key), is_delete: true, value_hash: vec![], is_purge };
        // Ordered by plain key (del, gone, p), not by hash.
        assert_eq!(
            hashed.hashed_writes,
            [
                delete(b"del", false),
                delete(b"gone", true),
                KvWriteHash { key_hash: hash(b"p"), is_delete: false, value_hash: hash(b"private"), is_purge: false },
            ]
        );
        let meta = &hashed.metadata_writes[0];
        assert_eq!((meta.key_hash.as_slice(), meta.entries[0].name.as_str()), (hash(b"p").as_slice(), "k"));

        let private = KvrwSet {
            writes: vec![kv_write("del", None), kv_write("gone", None), kv_write("p", Some(b"private"))],
            metadata_writes: vec![KvMetadataWrite { key: "p".into(), entries: vec![] }],
            ..Default::default()
        };
        assert_eq!(colls[1].pvt_rwset_hash, hash(&private.encode_to_vec()));
    }

    #[test]
    fn decode_writes_round_trips_what_the_transaction_writes() {
        let decoded = decode_writes(&encode_results(&sample())).unwrap();
        let basic = NamespaceWrites {
            namespace: "basic".into(),
            writes: vec![("d".into(), None), ("m".into(), Some(b"mid".to_vec())), ("z".into(), Some(b"last".to_vec()))],
            collections: vec![CollectionWrites {
                collection: "secret".into(),
                writes: vec![
                    PrivateWrite { key_hash: hash(b"del"), value_hash: None, purge: false },
                    PrivateWrite { key_hash: hash(b"gone"), value_hash: None, purge: true },
                    PrivateWrite { key_hash: hash(b"p"), value_hash: Some(hash(b"private")), purge: false },
                ],
            }],
        };
        assert_eq!(decoded, [basic], "read-only namespaces and collections are left out");
        assert_eq!(decode_writes(&encode_results(&TxRwSet::default())).unwrap(), []);
        assert_eq!(decode_writes(&[]).unwrap(), []);
        assert!(decode_writes(&[0x12, 0x05, 0x01]).is_err(), "truncated input is an error, not a panic");
    }

    #[test]
    fn a_purge_missing_from_writes_still_reaches_the_block() {
        let mut tx = TxRwSet::default();
        tx.ns_mut("cc").collection_mut("c").purges.insert("k".into());
        let decoded = decode_writes(&encode_results(&tx)).unwrap();
        assert_eq!(
            decoded[0].collections[0].writes,
            [PrivateWrite { key_hash: hash(b"k"), value_hash: None, purge: true }]
        );
    }
}
