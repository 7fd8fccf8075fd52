//! The transaction simulator: what the peer's `txmgr` `txSimulator` does for one transaction.
//!
//! It reads committed state (never the transaction's own writes), records every read with the version seen, every
//! public range query as far as it was read (for phantom-read validation) and every write in a [`TxRwSet`], and
//! enforces the ledger's read-only rules: a transaction that has written may not
//! then run a paginated query or a query on private data, and one that has run either may not write. One
//! simulator is shared by a transaction and every chaincode it calls on the same channel, so the rules (and the
//! read/write set) span all of them.

use crate::world::rwset::{hash, Metadata, RangeQueryInfo, TxRwSet};
use crate::world::{Version, WorldState};

/// Per-transaction simulation state. Lock order: the world first, then the simulator.
#[derive(Debug)]
pub struct TxSimulator {
    pub channel_id: String,
    pub txid: String,
    pub rwset: TxRwSet,
    write_performed: bool,
    pvtdata_queries_performed: bool,
    paginated_queries_performed: bool,
}

impl TxSimulator {
    pub fn new(channel_id: &str, txid: &str) -> TxSimulator {
        TxSimulator {
            channel_id: channel_id.to_owned(),
            txid: txid.to_owned(),
            rwset: TxRwSet::default(),
            write_performed: false,
            pvtdata_queries_performed: false,
            paginated_queries_performed: false,
        }
    }

    pub fn get_state(&mut self, world: &WorldState, ns: &str, key: &str) -> Option<Vec<u8>> {
        let found = world.get(&self.channel_id, ns, key);
        self.record_read(ns, None, key, found.map(|v| v.version));
        found.map(|v| v.value.clone())
    }

    pub fn get_private_data(&mut self, world: &WorldState, ns: &str, coll: &str, key: &str) -> Option<Vec<u8>> {
        let found = world.get_private(&self.channel_id, ns, coll, key);
        self.record_read(ns, Some(coll), key, found.map(|v| v.version));
        found.map(|v| v.value.clone())
    }

    /// The hash of a private value: readable by anyone, and recorded as a read of the key like the value itself.
    pub fn get_private_data_hash(&mut self, world: &WorldState, ns: &str, coll: &str, key: &str) -> Option<Vec<u8>> {
        let found = world.get_private(&self.channel_id, ns, coll, key);
        self.record_read(ns, Some(coll), key, found.map(|v| v.version));
        found.map(|v| hash(&v.value))
    }

    /// A key's metadata (public with `coll` `None`), recorded as a read of the key.
    pub fn get_metadata(&mut self, world: &WorldState, ns: &str, coll: Option<&str>, key: &str) -> Metadata {
        let found = match coll {
            None => world.get(&self.channel_id, ns, key),
            Some(coll) => world.get_private(&self.channel_id, ns, coll, key),
        };
        self.record_read(ns, coll, key, found.map(|v| v.version));
        found.map(|v| v.metadata.clone()).unwrap_or_default()
    }

    /// Records a read made by a query iterator (or a point read).
    pub fn record_read(&mut self, ns: &str, coll: Option<&str>, key: &str, version: Option<Version>) {
        let set = self.rwset.ns_mut(ns);
        match coll {
            None => set.record_read(key, version),
            Some(coll) => set.collection_mut(coll).record_read(key, version),
        }
    }

    /// Starts the record of a public range query in `ns` (the peer keeps none for rich queries or private data), at
    /// the key the scan really starts from. The index names it for [`TxSimulator::range_query`]: the iterator records
    /// what it returns as it goes, since the chaincode may close it, or simply finish, at any point.
    pub fn open_range_query(&mut self, ns: &str, start_key: &str) -> usize {
        let queries = &mut self.rwset.ns_mut(ns).range_queries;
        queries.push(RangeQueryInfo::new(start_key));
        queries.len() - 1
    }

    /// A range query opened with [`TxSimulator::open_range_query`].
    pub fn range_query(&mut self, ns: &str, index: usize) -> Option<&mut RangeQueryInfo> {
        self.rwset.namespaces.get_mut(ns)?.range_queries.get_mut(index)
    }

    /// `SetState`/`DeleteState` (an empty value deletes).
    pub fn set_state(&mut self, ns: &str, key: &str, value: Vec<u8>) -> Result<(), String> {
        self.check_write()?;
        self.rwset.ns_mut(ns).record_put(key, value);
        Ok(())
    }

    pub fn set_state_metadata(&mut self, ns: &str, key: &str, metadata: Metadata) -> Result<(), String> {
        self.check_write()?;
        self.rwset.ns_mut(ns).record_metadata(key, metadata);
        Ok(())
    }

    pub fn set_private_data(&mut self, ns: &str, coll: &str, key: &str, value: Vec<u8>) -> Result<(), String> {
        self.check_write()?;
        self.rwset.ns_mut(ns).collection_mut(coll).record_put(key, value);
        Ok(())
    }

    pub fn purge_private_data(&mut self, ns: &str, coll: &str, key: &str) -> Result<(), String> {
        self.check_write()?;
        self.rwset.ns_mut(ns).collection_mut(coll).record_purge(key);
        Ok(())
    }

    pub fn set_private_metadata(&mut self, ns: &str, coll: &str, key: &str, metadata: Metadata) -> Result<(), String> {
        self.check_write()?;
        self.rwset.ns_mut(ns).collection_mut(coll).record_metadata(key, metadata);
        Ok(())
    }

    /// Before a range or rich query: the read-only rule for private-data and paginated queries.
    pub fn check_before_query(&mut self, private: bool, paginated: bool) -> Result<(), String> {
        if private {
            self.check_before_pvtdata_queries()
        } else if paginated {
            self.check_before_paginated_queries()
        } else {
            Ok(())
        }
    }

    /// Before a range or rich query on private data (`checkBeforePvtdataQueries`).
    pub fn check_before_pvtdata_queries(&mut self) -> Result<(), String> {
        if self.write_performed {
            return Err(format!(
                "txid [{}]: unsuppored transaction. Queries on pvt data is supported only in a read-only transaction",
                self.txid
            ));
        }
        self.pvtdata_queries_performed = true;
        Ok(())
    }

    /// Before a paginated range or rich query (`checkBeforePaginatedQueries`).
    pub fn check_before_paginated_queries(&mut self) -> Result<(), String> {
        if self.write_performed {
            return Err(format!(
                "txid [{}]: unsuppored transaction. Paginated queries are supported only in a read-only transaction",
                self.txid
            ));
        }
        self.paginated_queries_performed = true;
        Ok(())
    }

    /// Before any write (`checkWritePrecondition`); the texts are the peer's, typo included.
    fn check_write(&mut self) -> Result<(), String> {
        if self.pvtdata_queries_performed {
            return Err(format!(
                "txid [{}]: unsuppored transaction. Transaction has already performed queries on pvt data. Writes are \
                 not allowed",
                self.txid
            ));
        }
        if self.paginated_queries_performed {
            return Err(format!(
                "txid [{}]: unsuppored transaction. Transaction has already performed a paginated query. Writes are \
                 not allowed",
                self.txid
            ));
        }
        self.write_performed = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::rwset::RwSet;
    use crate::world::CommitInfo;

    fn world_with(key: &str, value: &str) -> WorldState {
        let mut world = WorldState::default();
        let mut rw = RwSet::default();
        rw.record_put(key, value.as_bytes().to_vec());
        rw.collection_mut("secret").record_put(key, b"private".to_vec());
        world.commit_ns("ch", "cc", &rw, &CommitInfo { txid: "seed".into(), timestamp: Default::default() });
        world
    }

    #[test]
    fn reads_record_versions_per_namespace_and_collection() {
        let world = world_with("k", "v");
        let mut sim = TxSimulator::new("ch", "tx1");
        sim.set_state("cc", "k", b"mine".to_vec()).unwrap();
        assert_eq!(sim.get_state(&world, "cc", "k").as_deref(), Some(&b"v"[..]), "never its own write");
        assert_eq!(sim.get_private_data(&world, "cc", "secret", "k").as_deref(), Some(&b"private"[..]));
        assert_eq!(sim.get_private_data_hash(&world, "cc", "secret", "k"), Some(hash(b"private")));
        assert_eq!(sim.get_state(&world, "other", "k"), None);
        let v1 = Some(Version { block: 1, tx: 0 });
        assert_eq!(sim.rwset.ns("cc").reads["k"], v1);
        assert_eq!(sim.rwset.ns("cc").collections["secret"].reads["k"], v1);
        assert_eq!(sim.rwset.ns("other").reads["k"], None);
    }

    #[test]
    fn range_queries_are_recorded_per_namespace_in_opening_order() {
        let mut sim = TxSimulator::new("ch", "tx1");
        assert_eq!(sim.open_range_query("cc", "a"), 0);
        assert_eq!(sim.open_range_query("other", "x"), 0);
        assert_eq!(sim.open_range_query("cc", "m"), 1);
        sim.range_query("cc", 0).unwrap().record_result("b", Version { block: 1, tx: 0 });
        let starts: Vec<&str> = sim.rwset.ns("cc").range_queries.iter().map(|q| q.start_key.as_str()).collect();
        assert_eq!(starts, ["a", "m"]);
        assert_eq!(sim.rwset.ns("cc").range_queries[0].end_key, "b");
        assert!(sim.range_query("cc", 2).is_none() && sim.range_query("never", 0).is_none());
    }

    #[test]
    fn a_write_forbids_later_paginated_and_private_queries() {
        let mut sim = TxSimulator::new("ch", "tx1");
        sim.set_state("cc", "k", b"v".to_vec()).unwrap();
        assert_eq!(
            sim.check_before_paginated_queries().unwrap_err(),
            "txid [tx1]: unsuppored transaction. Paginated queries are supported only in a read-only transaction"
        );
        assert_eq!(
            sim.check_before_pvtdata_queries().unwrap_err(),
            "txid [tx1]: unsuppored transaction. Queries on pvt data is supported only in a read-only transaction"
        );
    }

    #[test]
    fn a_paginated_or_private_query_forbids_later_writes() {
        let mut sim = TxSimulator::new("ch", "tx2");
        sim.check_before_paginated_queries().unwrap();
        assert_eq!(
            sim.set_state("cc", "k", b"v".to_vec()).unwrap_err(),
            "txid [tx2]: unsuppored transaction. Transaction has already performed a paginated query. Writes are not \
             allowed"
        );
        let mut sim = TxSimulator::new("ch", "tx3");
        sim.check_before_pvtdata_queries().unwrap();
        assert_eq!(
            sim.purge_private_data("cc", "c", "k").unwrap_err(),
            "txid [tx3]: unsuppored transaction. Transaction has already performed queries on pvt data. Writes are not \
             allowed"
        );
        assert!(sim.set_state_metadata("cc", "k", Metadata::new()).is_err());
        assert!(sim.check_before_pvtdata_queries().is_ok(), "read-only queries may repeat");
    }
}
