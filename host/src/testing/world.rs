//! The simulator's ledger: an in-memory, versioned world state with Fabric's read/write-set semantics.
//!
//! Fabric endorses by *simulating* a transaction against committed state and recording what it read (with the
//! version it saw) and what it would write. Nothing is applied during simulation: the write set is applied later, at
//! commit, and only if every version read is still current (MVCC validation). This module is that model, without
//! blocks, orderers or signatures:
//! - state is per channel, per namespace (the chaincode *name*), key → (value, [`Version`]);
//! - a transaction's reads see committed state only, never its own writes;
//! - the last write to a key wins, and an empty value is a delete (as `PUT_STATE` with an empty value);
//! - [`WorldState::commit`] appends one block per transaction and rejects a stale read set with
//!   [`CommitStatus::MvccReadConflict`], writing nothing.

use std::collections::{BTreeMap, HashMap};

/// The height at which a value was written: Fabric's `version.Height{BlockNum, TxNum}`.
///
/// The simulator puts every committed transaction in a block of its own, so `tx` is always 0; it is kept so the
/// shape matches what a real peer reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub block: u64,
    pub tx: u64,
}

/// A committed value and the version that wrote it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionedValue {
    pub value: Vec<u8>,
    pub version: Version,
}

/// What one transaction read and would write in its namespace (Fabric's `KVRWSet`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RwSet {
    /// Key → the version seen when it was first read (`None`: the key was absent).
    ///
    /// Only the first read of a key is kept: if a later read in the same transaction saw a newer version, the first
    /// one is stale by then and MVCC validation fails anyway, which is the outcome a peer gives.
    pub reads: BTreeMap<String, Option<Version>>,
    /// Key → the value to write (`None`: delete). The last write to a key wins.
    pub writes: BTreeMap<String, Option<Vec<u8>>>,
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
}

/// What happened to a transaction's write set after the chaincode answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitStatus {
    /// Valid: the write set was applied in this block.
    Committed { block: u64 },
    /// Invalid (`MVCC_READ_CONFLICT`): a key it read changed before commit. Nothing was written.
    MvccReadConflict,
    /// Never submitted for ordering: the chaincode answered ERROR or a status ≥ 400 (the endorser refuses to
    /// endorse those), or the caller asked only to evaluate.
    NotSubmitted,
}

impl CommitStatus {
    pub fn is_committed(self) -> bool {
        matches!(self, CommitStatus::Committed { .. })
    }
}

/// One channel's ledger: its height and its namespaces.
#[derive(Debug)]
struct ChannelLedger {
    /// The number of the next block. Block 0 would be the channel's genesis (config) block, so the first
    /// transaction lands in block 1, as on a real channel.
    next_block: u64,
    namespaces: HashMap<String, BTreeMap<String, VersionedValue>>,
}

impl Default for ChannelLedger {
    fn default() -> Self {
        ChannelLedger { next_block: 1, namespaces: HashMap::new() }
    }
}

/// Committed state of every channel the simulator knows. Channels and namespaces spring into existence on first
/// write; reading an unknown one sees no keys.
#[derive(Debug, Default)]
pub struct WorldState {
    channels: HashMap<String, ChannelLedger>,
}

impl WorldState {
    /// The committed value and version of a key.
    pub fn get(&self, channel: &str, namespace: &str, key: &str) -> Option<&VersionedValue> {
        self.channels.get(channel)?.namespaces.get(namespace)?.get(key)
    }

    /// A read during simulation: returns the committed value and records the version seen in `rwset`.
    /// The transaction's own pending writes are deliberately not consulted.
    pub fn read(&self, channel: &str, namespace: &str, key: &str, rwset: &mut RwSet) -> Option<Vec<u8>> {
        let found = self.get(channel, namespace, key);
        rwset.record_read(key, found.map(|v| v.version));
        found.map(|v| v.value.clone())
    }

    /// Every committed key and value of a namespace, sorted by key.
    pub fn snapshot(&self, channel: &str, namespace: &str) -> BTreeMap<String, Vec<u8>> {
        self.channels
            .get(channel)
            .and_then(|c| c.namespaces.get(namespace))
            .map(|ns| ns.iter().map(|(k, v)| (k.clone(), v.value.clone())).collect())
            .unwrap_or_default()
    }

    /// The channel's height: the number of the last committed block (0 before any commit).
    pub fn height(&self, channel: &str) -> u64 {
        self.channels.get(channel).map_or(0, |c| c.next_block - 1)
    }

    /// Validates `rwset` against current state and, if valid, applies its writes in a new block.
    ///
    /// Every key read must still carry the version that was read (absent keys must still be absent); otherwise the
    /// transaction is invalid and nothing is written. A valid transaction always takes a block, even with no writes,
    /// as a submitted read-only transaction does on a real channel.
    pub fn commit(&mut self, channel: &str, namespace: &str, rwset: &RwSet) -> CommitStatus {
        let stale = rwset.reads.iter().any(|(key, seen)| self.get(channel, namespace, key).map(|v| v.version) != *seen);
        if stale {
            return CommitStatus::MvccReadConflict;
        }
        let ledger = self.channels.entry(channel.to_owned()).or_default();
        let block = ledger.next_block;
        ledger.next_block += 1;
        let state = ledger.namespaces.entry(namespace.to_owned()).or_default();
        let version = Version { block, tx: 0 };
        for (key, value) in &rwset.writes {
            match value {
                Some(value) => {
                    state.insert(key.clone(), VersionedValue { value: value.clone(), version });
                }
                None => {
                    state.remove(key);
                }
            }
        }
        CommitStatus::Committed { block }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CH: &str = "mychannel";
    const NS: &str = "basic";

    fn seeded(pairs: &[(&str, &str)]) -> WorldState {
        let mut world = WorldState::default();
        let mut rw = RwSet::default();
        for (k, v) in pairs {
            rw.record_put(k, v.as_bytes().to_vec());
        }
        assert_eq!(world.commit(CH, NS, &rw), CommitStatus::Committed { block: 1 });
        world
    }

    #[test]
    fn commits_take_consecutive_blocks_and_stamp_versions() {
        let mut world = seeded(&[("a", "1")]);
        assert_eq!(world.height(CH), 1);
        assert_eq!(world.get(CH, NS, "a").unwrap().version, Version { block: 1, tx: 0 });

        let mut rw = RwSet::default();
        rw.record_put("b", b"2".to_vec());
        assert_eq!(world.commit(CH, NS, &rw), CommitStatus::Committed { block: 2 });
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
        assert!(world.commit(CH, NS, &rw).is_committed());
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

        assert_eq!(world.commit(CH, NS, &first), CommitStatus::Committed { block: 2 });
        assert_eq!(world.commit(CH, NS, &second), CommitStatus::MvccReadConflict);
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
        assert!(world.commit(CH, NS, &creator).is_committed());
        assert_eq!(world.commit(CH, NS, &reader), CommitStatus::MvccReadConflict);
    }

    #[test]
    fn blind_writes_never_conflict_and_first_read_version_is_kept() {
        let mut world = seeded(&[("a", "1")]);
        let mut blind = RwSet::default();
        blind.record_put("a", b"blind".to_vec());

        let mut other = RwSet::default();
        other.record_put("a", b"other".to_vec());
        assert!(world.commit(CH, NS, &other).is_committed());
        assert!(world.commit(CH, NS, &blind).is_committed());
        assert_eq!(world.get(CH, NS, "a").unwrap().value, b"blind");

        let mut rw = RwSet::default();
        rw.record_read("a", Some(Version { block: 1, tx: 0 }));
        rw.record_read("a", Some(Version { block: 9, tx: 0 }));
        assert_eq!(rw.reads["a"], Some(Version { block: 1, tx: 0 }));
    }
}
