//! The simulator's ledger: an in-memory, versioned world state with Fabric's commit semantics.
//!
//! Fabric endorses by *simulating* a transaction against committed state and recording what it read (with the
//! version it saw) and what it would write ([`TxRwSet`]). Nothing is applied during simulation: the write set is
//! applied later, at commit, and only if every version read is still current (MVCC validation). This module is that
//! model, without blocks of several transactions, orderers or signatures:
//! - state is per channel, per namespace (the chaincode *name*): public key → (value, [`Version`], metadata), and
//!   per private data collection the same (the peer keeps the values in its private data store and their hashes in
//!   the channel's state; [`WorldState::private_hash`] gives the hash);
//! - a transaction's reads see committed state only, never its own writes;
//! - the last write to a key wins, and an empty value is a delete (as `PUT_STATE` with an empty value);
//! - metadata (`VALIDATION_PARAMETER`, …) lives with its key: a value write keeps it, a delete drops it, and a
//!   metadata write to a key that does not exist after the transaction's writes commits but stores nothing
//!   (`docs/fabric-protocol.md` §10.10);
//! - every committed public write is kept in the key's history (the peer's history database);
//! - [`WorldState::commit`] appends one block per transaction and rejects a stale read set with
//!   [`CommitStatus::MvccReadConflict`], or a range query that would now return other keys or versions with
//!   [`CommitStatus::PhantomReadConflict`], writing nothing.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

use prost_types::Timestamp;

use crate::world::rwset::{hash, Metadata, RangeQueryInfo, RwSet, TxRwSet};

/// The height at which a value was written: Fabric's `version.Height{BlockNum, TxNum}`.
///
/// The simulator puts every committed transaction in a block of its own, so `tx` is always 0; it is kept so the
/// shape matches what a real peer reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub block: u64,
    pub tx: u64,
}

/// A committed value, the version that wrote it, and the key's metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionedValue {
    pub value: Vec<u8>,
    pub version: Version,
    pub metadata: Metadata,
}

/// One committed write of a key, as the peer's history database returns it (`queryresult.KeyModification`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryEntry {
    pub txid: String,
    /// The value written (empty for a delete).
    pub value: Vec<u8>,
    /// The committing transaction's proposal timestamp (its `ChannelHeader.timestamp`).
    pub timestamp: Timestamp,
    pub is_delete: bool,
    /// The block that committed it.
    pub block: u64,
}

/// Who committed a write set: what history records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitInfo {
    pub txid: String,
    pub timestamp: Timestamp,
}

/// What happened to a transaction's write set after the chaincode answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitStatus {
    /// Valid: the write set was applied in this block.
    Committed { block: u64 },
    /// Invalid (`MVCC_READ_CONFLICT`): a key it read changed before commit. Nothing was written.
    MvccReadConflict,
    /// Invalid (`PHANTOM_READ_CONFLICT`): a public range query it ran would now return other keys or versions, up
    /// to where the chaincode stopped reading. Nothing was written.
    PhantomReadConflict,
    /// Never submitted for ordering: the chaincode answered ERROR or a status ≥ 400 (the endorser refuses to
    /// endorse those), or the caller asked only to evaluate.
    NotSubmitted,
}

impl CommitStatus {
    pub fn is_committed(self) -> bool {
        matches!(self, CommitStatus::Committed { .. })
    }
}

/// Keys → values of one namespace or collection.
type KeyMap = BTreeMap<String, VersionedValue>;

/// One namespace's committed state.
#[derive(Clone, Debug, Default)]
struct NamespaceState {
    public: KeyMap,
    private: HashMap<String, KeyMap>,
    /// Key → every committed write, oldest first.
    history: HashMap<String, Vec<HistoryEntry>>,
}

/// One channel's ledger: its height and its namespaces.
#[derive(Clone, Debug)]
struct ChannelLedger {
    /// The number of the next block. Block 0 would be the channel's genesis (config) block, so the first
    /// transaction lands in block 1, as on a real channel.
    next_block: u64,
    namespaces: HashMap<String, NamespaceState>,
}

impl Default for ChannelLedger {
    fn default() -> Self {
        ChannelLedger { next_block: 1, namespaces: HashMap::new() }
    }
}

/// Committed state of every channel the simulator knows. Channels, namespaces and collections spring into existence
/// on first write; reading an unknown one sees no keys.
#[derive(Clone, Debug, Default)]
pub struct WorldState {
    channels: HashMap<String, ChannelLedger>,
}

impl WorldState {
    fn namespace(&self, channel: &str, namespace: &str) -> Option<&NamespaceState> {
        self.channels.get(channel)?.namespaces.get(namespace)
    }

    /// The keys of a namespace's public state (`collection` `None`) or of one of its collections.
    pub fn keys(&self, channel: &str, namespace: &str, collection: Option<&str>) -> Option<&KeyMap> {
        let ns = self.namespace(channel, namespace)?;
        match collection {
            None => Some(&ns.public),
            Some(name) => ns.private.get(name),
        }
    }

    /// The committed value, version and metadata of a public key.
    pub fn get(&self, channel: &str, namespace: &str, key: &str) -> Option<&VersionedValue> {
        self.keys(channel, namespace, None)?.get(key)
    }

    /// The committed value, version and metadata of a private key.
    pub fn get_private(&self, channel: &str, namespace: &str, collection: &str, key: &str) -> Option<&VersionedValue> {
        self.keys(channel, namespace, Some(collection))?.get(key)
    }

    /// The SHA-256 of a private key's committed value: what every peer of the channel has, members or not.
    pub fn private_hash(&self, channel: &str, namespace: &str, collection: &str, key: &str) -> Option<Vec<u8>> {
        self.get_private(channel, namespace, collection, key).map(|v| hash(&v.value))
    }

    /// A read during simulation: returns the committed value and records the version seen in `rwset`.
    /// The transaction's own pending writes are deliberately not consulted.
    pub fn read(&self, channel: &str, namespace: &str, key: &str, rwset: &mut RwSet) -> Option<Vec<u8>> {
        let found = self.get(channel, namespace, key);
        rwset.record_read(key, found.map(|v| v.version));
        found.map(|v| v.value.clone())
    }

    /// The committed entries with `start <= key < end` (an empty `end`: to the end of the namespace), sorted.
    pub fn range(
        &self,
        channel: &str,
        namespace: &str,
        collection: Option<&str>,
        start: &str,
        end: &str,
    ) -> Vec<(String, VersionedValue)> {
        let entries = self.range_entries(channel, namespace, collection, start, end);
        entries.map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// [`WorldState::range`] without copies, for validation to re-run a range.
    fn range_entries<'a>(
        &'a self,
        channel: &str,
        namespace: &str,
        collection: Option<&str>,
        start: &str,
        end: &str,
    ) -> impl Iterator<Item = (&'a String, &'a VersionedValue)> {
        // An inverted range is empty here, where `BTreeMap::range` would panic.
        let keys = self.keys(channel, namespace, collection).filter(|_| end.is_empty() || start < end);
        let upper = if end.is_empty() { Bound::Unbounded } else { Bound::Excluded(end) };
        keys.map(|keys| keys.range::<str, _>((Bound::Included(start), upper))).into_iter().flatten()
    }

    /// Every committed key and value of a namespace, sorted by key.
    pub fn snapshot(&self, channel: &str, namespace: &str) -> BTreeMap<String, Vec<u8>> {
        values(self.keys(channel, namespace, None))
    }

    /// Every committed key and value of a collection, sorted by key.
    pub fn private_snapshot(&self, channel: &str, namespace: &str, collection: &str) -> BTreeMap<String, Vec<u8>> {
        values(self.keys(channel, namespace, Some(collection)))
    }

    /// Every committed write of a public key, **newest first**, as the peer's `GetHistoryForKey` returns it (the
    /// LevelDB history index is read backwards since Fabric 2.0; `core/ledger/kvledger/history/query_executer.go`).
    pub fn history(&self, channel: &str, namespace: &str, key: &str) -> Vec<HistoryEntry> {
        let entries = self.namespace(channel, namespace).and_then(|ns| ns.history.get(key));
        entries.map(|e| e.iter().rev().cloned().collect()).unwrap_or_default()
    }

    /// The channel's height: the number of the last committed block (0 before any commit).
    pub fn height(&self, channel: &str) -> u64 {
        self.channels.get(channel).map_or(0, |c| c.next_block - 1)
    }

    /// Why `rwset` is no longer valid, if it is not. Namespaces are checked in order and, in each, public reads, then
    /// range queries, then private reads, as the committer's `validateTx` does, so a transaction failing several
    /// checks gets the code a peer would give it.
    fn conflict(&self, channel: &str, rwset: &TxRwSet) -> Option<CommitStatus> {
        rwset.namespaces.iter().find_map(|(ns, set)| self.ns_conflict(channel, ns, set))
    }

    fn ns_conflict(&self, channel: &str, ns: &str, set: &RwSet) -> Option<CommitStatus> {
        let public_ok = set.reads.iter().all(|(key, seen)| self.get(channel, ns, key).map(|v| v.version) == *seen);
        if !public_ok {
            return Some(CommitStatus::MvccReadConflict);
        }
        if !set.range_queries.iter().all(|query| self.range_unchanged(channel, ns, query)) {
            return Some(CommitStatus::PhantomReadConflict);
        }
        let private_ok = set.collections.iter().all(|(coll, c)| {
            c.reads.iter().all(|(key, seen)| self.get_private(channel, ns, coll, key).map(|v| v.version) == *seen)
        });
        (!private_ok).then_some(CommitStatus::MvccReadConflict)
    }

    /// Fabric's `rangeQueryResultsValidator`: the range, run again over committed state, hands out the same keys
    /// with the same versions and nothing more. A key deleted, updated or newly inside the covered part differs.
    fn range_unchanged(&self, channel: &str, ns: &str, query: &RangeQueryInfo) -> bool {
        let now = self.range_entries(channel, ns, None, &query.start_key, &query.end_key);
        // Before the iterator ran out, `end_key` is the last key returned: the half-open range stops short of it.
        let last_returned = (!query.itr_exhausted).then(|| self.get(channel, ns, &query.end_key)).flatten();
        let now = now.map(|(k, v)| (k.as_str(), v.version));
        let now = now.chain(last_returned.map(|v| (query.end_key.as_str(), v.version)));
        now.eq(query.reads.iter().map(|(k, v)| (k.as_str(), *v)))
    }

    /// Validates `rwset` against current state and, if valid, applies its writes in a new block.
    ///
    /// A valid transaction always takes a block, even with no writes, as a submitted read-only transaction does on
    /// a real channel. An invalid one writes nothing and takes no block here.
    pub fn commit(&mut self, channel: &str, rwset: &TxRwSet, info: &CommitInfo) -> CommitStatus {
        if let Some(conflict) = self.conflict(channel, rwset) {
            return conflict;
        }
        let ledger = self.channels.entry(channel.to_owned()).or_default();
        let block = ledger.next_block;
        ledger.next_block += 1;
        let version = Version { block, tx: 0 };
        for (ns, set) in &rwset.namespaces {
            let state = ledger.namespaces.entry(ns.clone()).or_default();
            apply(&mut state.public, &set.writes, &set.metadata_writes, version);
            for (key, value) in &set.writes {
                state.history.entry(key.clone()).or_default().push(HistoryEntry {
                    txid: info.txid.clone(),
                    value: value.clone().unwrap_or_default(),
                    timestamp: info.timestamp,
                    is_delete: value.is_none(),
                    block,
                });
            }
            for (name, coll) in &set.collections {
                let keys = state.private.entry(name.clone()).or_default();
                // A purge is recorded as a delete of the key (and has no history to erase here).
                apply(keys, &coll.writes, &coll.metadata_writes, version);
            }
        }
        CommitStatus::Committed { block }
    }

    /// Sets a key outside any transaction, as a test's setup does: no block, no history, the version of block 0
    /// (the genesis block's). An empty value deletes the key (and its metadata).
    pub fn set_direct(&mut self, channel: &str, namespace: &str, collection: Option<&str>, key: &str, value: Vec<u8>) {
        let ns =
            self.channels.entry(channel.to_owned()).or_default().namespaces.entry(namespace.to_owned()).or_default();
        let keys = match collection {
            None => &mut ns.public,
            Some(name) => ns.private.entry(name.to_owned()).or_default(),
        };
        let write = BTreeMap::from([(key.to_owned(), (!value.is_empty()).then_some(value))]);
        apply(keys, &write, &BTreeMap::new(), Version { block: 0, tx: 0 });
    }

    /// Moves a namespace's state, private data and history to another name (replacing whatever that name held).
    pub fn rename_namespace(&mut self, channel: &str, from: &str, to: &str) {
        let Some(ledger) = self.channels.get_mut(channel) else { return };
        if let Some(ns) = ledger.namespaces.remove(from) {
            ledger.namespaces.insert(to.to_owned(), ns);
        }
    }

    /// Commits one namespace's read/write set (see [`WorldState::commit`]).
    pub fn commit_ns(&mut self, channel: &str, namespace: &str, rwset: &RwSet, info: &CommitInfo) -> CommitStatus {
        let tx = TxRwSet { namespaces: BTreeMap::from([(namespace.to_owned(), rwset.clone())]) };
        self.commit(channel, &tx, info)
    }
}

/// Applies writes, then metadata writes, to one key map.
fn apply(
    keys: &mut KeyMap,
    writes: &BTreeMap<String, Option<Vec<u8>>>,
    metadata_writes: &BTreeMap<String, Metadata>,
    version: Version,
) {
    for (key, value) in writes {
        match value {
            Some(value) => {
                // Updating only the value keeps the key's metadata, as the peer's committer does.
                let metadata = keys.get(key).map(|v| v.metadata.clone()).unwrap_or_default();
                keys.insert(key.clone(), VersionedValue { value: value.clone(), version, metadata });
            }
            None => {
                keys.remove(key);
            }
        }
    }
    for (key, metadata) in metadata_writes {
        // Metadata of a key that does not exist is dropped: the transaction is valid, nothing is stored.
        if let Some(entry) = keys.get_mut(key) {
            entry.metadata = metadata.clone();
            entry.version = version;
        }
    }
}

fn values(keys: Option<&KeyMap>) -> BTreeMap<String, Vec<u8>> {
    keys.map(|keys| keys.iter().map(|(k, v)| (k.clone(), v.value.clone())).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CH: &str = "mychannel";
    const NS: &str = "basic";

    fn info(txid: &str, seconds: i64) -> CommitInfo {
        CommitInfo { txid: txid.to_owned(), timestamp: Timestamp { seconds, nanos: 0 } }
    }

    fn commit(world: &mut WorldState, rw: &RwSet) -> CommitStatus {
        world.commit_ns(CH, NS, rw, &info("tx", 0))
    }

    fn seeded(pairs: &[(&str, &str)]) -> WorldState {
        let mut world = WorldState::default();
        let mut rw = RwSet::default();
        for (k, v) in pairs {
            rw.record_put(k, v.as_bytes().to_vec());
        }
        assert_eq!(commit(&mut world, &rw), CommitStatus::Committed { block: 1 });
        world
    }

    #[test]
    fn commits_take_consecutive_blocks_and_stamp_versions() {
        let mut world = seeded(&[("a", "1")]);
        assert_eq!(world.height(CH), 1);
        assert_eq!(world.get(CH, NS, "a").unwrap().version, Version { block: 1, tx: 0 });

        let mut rw = RwSet::default();
        rw.record_put("b", b"2".to_vec());
        assert_eq!(commit(&mut world, &rw), CommitStatus::Committed { block: 2 });
        assert_eq!(world.get(CH, NS, "a").unwrap().version.block, 1, "untouched keys keep their version");
        assert_eq!(world.get(CH, NS, "b").unwrap().version.block, 2);
        assert_eq!(world.height(CH), 2);
        assert_eq!(world.height("other"), 0);
    }

    #[test]
    fn reads_see_committed_state_not_own_writes() {
        let world = seeded(&[("a", "old")]);
        let mut rw = RwSet::default();
        rw.record_put("a", b"new".to_vec());
        rw.record_put("fresh", b"x".to_vec());
        assert_eq!(world.read(CH, NS, "a", &mut rw).as_deref(), Some(&b"old"[..]));
        assert_eq!(world.read(CH, NS, "fresh", &mut rw), None);
        assert_eq!(rw.reads["a"], Some(Version { block: 1, tx: 0 }));
        assert_eq!(rw.reads["fresh"], None);
    }

    #[test]
    fn last_write_wins_and_empty_put_deletes() {
        let mut world = seeded(&[("a", "1"), ("b", "2"), ("c", "3")]);
        let mut rw = RwSet::default();
        rw.record_put("a", b"x".to_vec());
        rw.record_put("a", b"y".to_vec());
        rw.record_put("b", Vec::new());
        rw.record_delete("c");
        rw.record_delete("never-existed");
        rw.record_delete("d");
        rw.record_put("d", b"back".to_vec());
        assert!(commit(&mut world, &rw).is_committed());
        let snap = world.snapshot(CH, NS);
        let keys: Vec<&str> = snap.keys().map(String::as_str).collect();
        assert_eq!(keys, ["a", "d"]);
        assert_eq!(snap["a"], b"y");
        assert_eq!(snap["d"], b"back");
    }

    #[test]
    fn namespaces_and_channels_are_isolated() {
        let world = seeded(&[("a", "1")]);
        assert!(world.get(CH, "othercc", "a").is_none());
        assert!(world.get("otherchannel", NS, "a").is_none());
        assert!(world.snapshot(CH, "othercc").is_empty());
    }

    #[test]
    fn stale_read_is_an_mvcc_conflict_and_writes_nothing() {
        let mut world = seeded(&[("a", "1")]);
        // Two transactions simulated against the same state: both read `a`.
        let mut first = RwSet::default();
        let mut second = RwSet::default();
        world.read(CH, NS, "a", &mut first);
        world.read(CH, NS, "a", &mut second);
        first.record_put("a", b"2".to_vec());
        second.record_put("a", b"3".to_vec());
        second.record_put("z", b"side effect".to_vec());

        assert_eq!(commit(&mut world, &first), CommitStatus::Committed { block: 2 });
        assert_eq!(commit(&mut world, &second), CommitStatus::MvccReadConflict);
        assert_eq!(world.get(CH, NS, "a").unwrap().value, b"2");
        assert!(world.get(CH, NS, "z").is_none(), "an invalid transaction writes nothing");
        assert_eq!(world.height(CH), 2, "an invalid transaction does not take a block here");
    }

    #[test]
    fn reading_an_absent_key_conflicts_when_it_appears() {
        let mut world = WorldState::default();
        let mut reader = RwSet::default();
        assert_eq!(world.read(CH, NS, "k", &mut reader), None);
        reader.record_put("other", b"v".to_vec());

        let mut creator = RwSet::default();
        creator.record_put("k", b"now here".to_vec());
        assert!(commit(&mut world, &creator).is_committed());
        assert_eq!(commit(&mut world, &reader), CommitStatus::MvccReadConflict);
    }

    #[test]
    fn blind_writes_never_conflict() {
        let mut world = seeded(&[("a", "1")]);
        let mut blind = RwSet::default();
        blind.record_put("a", b"blind".to_vec());

        let mut other = RwSet::default();
        other.record_put("a", b"other".to_vec());
        assert!(commit(&mut world, &other).is_committed());
        assert!(commit(&mut world, &blind).is_committed());
        assert_eq!(world.get(CH, NS, "a").unwrap().value, b"blind");
    }

    #[test]
    fn ranges_are_half_open_and_an_empty_end_is_unbounded() {
        let world = seeded(&[("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")]);
        let keys =
            |start, end| -> Vec<String> { world.range(CH, NS, None, start, end).into_iter().map(|(k, _)| k).collect() };
        assert_eq!(keys("b", "d"), ["b", "c"]);
        assert_eq!(keys("b", ""), ["b", "c", "d"]);
        assert_eq!(keys("", ""), ["a", "b", "c", "d"]);
        assert!(keys("d", "b").is_empty(), "an inverted range is empty, not a panic");
        assert!(world.range(CH, "nobody", None, "", "").is_empty());
    }

    /// A transaction that ran a range query and consumed `taken` results (all of them: the iterator ran out).
    fn scanned(world: &WorldState, start: &str, end: &str, taken: usize) -> RwSet {
        let results = world.range(CH, NS, None, start, end);
        let mut query = RangeQueryInfo::new(start);
        for (key, entry) in results.iter().take(taken) {
            query.record_result(key, entry.version);
        }
        if taken > results.len() {
            query.record_exhausted(end);
        }
        let mut rw = RwSet { range_queries: vec![query], ..RwSet::default() };
        rw.record_put("out", b"side effect".to_vec());
        rw
    }

    fn put(world: &mut WorldState, key: &str, value: &str) {
        let mut rw = RwSet::default();
        rw.record_put(key, value.as_bytes().to_vec());
        assert!(commit(world, &rw).is_committed());
    }

    #[test]
    fn a_key_inserted_inside_a_range_read_is_a_phantom() {
        let mut world = seeded(&[("a", "1"), ("c", "3"), ("e", "5")]);
        let reader = scanned(&world, "b", "e", usize::MAX);
        assert_eq!(reader.range_queries[0].reads.len(), 1);
        put(&mut world, "d", "new");
        assert_eq!(commit(&mut world, &reader), CommitStatus::PhantomReadConflict);
        assert!(world.get(CH, NS, "out").is_none(), "an invalid transaction writes nothing");
        assert_eq!(world.height(CH), 2, "and takes no block");
    }

    #[test]
    fn keys_inserted_outside_a_range_read_do_not_conflict() {
        let mut world = seeded(&[("b", "2"), ("c", "3")]);
        let reader = scanned(&world, "b", "d", usize::MAX);
        put(&mut world, "a", "before the start");
        put(&mut world, "d", "the end key is excluded");
        assert!(commit(&mut world, &reader).is_committed());
    }

    #[test]
    fn an_empty_range_conflicts_when_a_key_appears_in_it() {
        let mut world = seeded(&[("a", "1")]);
        let reader = scanned(&world, "b", "", usize::MAX);
        assert!(reader.range_queries[0].reads.is_empty());
        put(&mut world, "zz", "an open end covers the rest of the namespace");
        assert_eq!(commit(&mut world, &reader), CommitStatus::PhantomReadConflict);
    }

    #[test]
    fn a_range_not_read_to_the_end_covers_only_what_was_returned() {
        let mut world = seeded(&[("a", "1"), ("c", "3"), ("e", "5")]);
        let stopped = scanned(&world, "a", "z", 2);
        assert_eq!((stopped.range_queries[0].end_key.as_str(), stopped.range_queries[0].itr_exhausted), ("c", false));
        let also_stopped = scanned(&world, "a", "z", 2);
        put(&mut world, "d", "after the last key returned");
        put(&mut world, "e", "changed after the last key returned");
        assert!(commit(&mut world, &stopped).is_committed());

        put(&mut world, "b", "between the start and the last key returned");
        assert_eq!(commit(&mut world, &also_stopped), CommitStatus::PhantomReadConflict);
    }

    #[test]
    fn the_last_key_returned_is_checked_even_though_the_range_is_half_open() {
        let mut world = seeded(&[("a", "1"), ("c", "3")]);
        let stopped = scanned(&world, "a", "z", 2);
        put(&mut world, "c", "changed");
        assert_eq!(commit(&mut world, &stopped), CommitStatus::PhantomReadConflict);
    }

    #[test]
    fn a_key_updated_or_deleted_inside_a_range_read_is_a_phantom() {
        let mut world = seeded(&[("a", "1"), ("b", "2"), ("c", "3")]);
        let updated = scanned(&world, "a", "", usize::MAX);
        let deleted = scanned(&world, "a", "", usize::MAX);
        put(&mut world, "b", "changed");
        assert_eq!(commit(&mut world, &updated), CommitStatus::PhantomReadConflict);

        let mut delete = RwSet::default();
        delete.record_delete("b");
        assert!(commit(&mut world, &delete).is_committed());
        assert_eq!(commit(&mut world, &deleted), CommitStatus::PhantomReadConflict);
    }

    #[test]
    fn a_stale_point_read_is_reported_before_a_phantom() {
        let mut world = seeded(&[("a", "1")]);
        let mut both = scanned(&world, "a", "", usize::MAX);
        world.read(CH, NS, "a", &mut both);
        put(&mut world, "a", "changed");
        assert_eq!(commit(&mut world, &both), CommitStatus::MvccReadConflict, "the committer checks reads first");
    }

    #[test]
    fn history_is_newest_first_with_deletes_and_timestamps() {
        let mut world = WorldState::default();
        let mut put = RwSet::default();
        put.record_put("k", b"1".to_vec());
        world.commit_ns(CH, NS, &put, &info("t1", 100));
        put.record_put("k", b"2".to_vec());
        world.commit_ns(CH, NS, &put, &info("t2", 200));
        let mut del = RwSet::default();
        del.record_delete("k");
        world.commit_ns(CH, NS, &del, &info("t3", 300));

        let history = world.history(CH, NS, "k");
        let summary: Vec<(&str, &[u8], i64, bool, u64)> = history
            .iter()
            .map(|h| (h.txid.as_str(), h.value.as_slice(), h.timestamp.seconds, h.is_delete, h.block))
            .collect();
        assert_eq!(summary, [("t3", &b""[..], 300, true, 3), ("t2", b"2", 200, false, 2), ("t1", b"1", 100, false, 1)]);
        assert!(world.history(CH, NS, "never").is_empty());
    }

    #[test]
    fn metadata_follows_its_key() {
        let mut world = seeded(&[("a", "1")]);
        let policy = Metadata::from([("VALIDATION_PARAMETER".to_owned(), b"policy".to_vec())]);

        let mut rw = RwSet::default();
        rw.record_metadata("a", policy.clone());
        rw.record_metadata("ghost", policy.clone());
        assert_eq!(commit(&mut world, &rw), CommitStatus::Committed { block: 2 });
        let a = world.get(CH, NS, "a").unwrap();
        assert_eq!((a.metadata.clone(), a.version.block), (policy.clone(), 2), "a metadata write bumps the version");
        assert!(world.get(CH, NS, "ghost").is_none(), "metadata of a missing key commits but stores nothing");

        let mut update = RwSet::default();
        update.record_put("a", b"2".to_vec());
        commit(&mut world, &update);
        assert_eq!(world.get(CH, NS, "a").unwrap().metadata, policy, "a value update keeps the metadata");

        let mut recreate = RwSet::default();
        recreate.record_delete("a");
        commit(&mut world, &recreate);
        recreate.record_put("a", b"3".to_vec());
        commit(&mut world, &recreate);
        assert!(world.get(CH, NS, "a").unwrap().metadata.is_empty(), "a delete drops the metadata");
        assert!(world.history(CH, NS, "ghost").is_empty(), "metadata writes are not history");
    }

    #[test]
    fn private_data_commits_per_collection_with_hashes_and_mvcc() {
        let mut world = WorldState::default();
        let mut rw = RwSet::default();
        rw.collection_mut("secret").record_put("k", b"v".to_vec());
        rw.collection_mut("secret").record_put("gone", b"x".to_vec());
        assert!(commit(&mut world, &rw).is_committed());
        assert_eq!(world.get_private(CH, NS, "secret", "k").unwrap().value, b"v");
        assert_eq!(world.private_hash(CH, NS, "secret", "k"), Some(hash(b"v")));
        assert!(world.get(CH, NS, "k").is_none(), "private data is not public state");
        assert!(world.get_private(CH, NS, "other", "k").is_none());
        assert!(world.history(CH, NS, "k").is_empty(), "private writes are not in the history database");

        let mut stale = RwSet::default();
        stale.collection_mut("secret").record_read("k", Some(Version { block: 1, tx: 0 }));
        let mut purge = RwSet::default();
        purge.collection_mut("secret").record_purge("gone");
        purge.collection_mut("secret").record_put("k", b"w".to_vec());
        assert!(commit(&mut world, &purge).is_committed());
        assert!(world.get_private(CH, NS, "secret", "gone").is_none());
        assert_eq!(commit(&mut world, &stale), CommitStatus::MvccReadConflict);
        assert_eq!(world.private_snapshot(CH, NS, "secret").into_keys().collect::<Vec<_>>(), ["k"]);
    }
}
