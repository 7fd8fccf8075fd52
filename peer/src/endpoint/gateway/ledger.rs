//! What the gateway has committed: the outcome of every submitted transaction (for CommitStatus), the chaincode
//! events of valid ones by block (for ChaincodeEvents), and, unless it lives in memory only, the [`BlockLog`] that
//! makes both and the world state survive a restart.
//!
//! Ordering is one block per valid transaction, validated and committed as it is submitted: the world's MVCC check
//! (and phantom-read check of range queries) is the committer's validation, made under one lock with the append to
//! the log so that the log's order is the order of commits.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use prost::Message;
use wasmcc_proto::protos::{ChaincodeEvent, TxValidationCode};

use super::block_log::{rwset_of, writes_of, BlockLog, BlockLogError, Entry};
use crate::endpoint::PeerSim;
use crate::world::rwset::TxRwSet;
use crate::world::{CommitInfo, CommitStatus};

/// A transaction handed to Submit, with what the gateway kept of it since Endorse.
pub(super) struct Submitted {
    pub channel_id: String,
    pub info: CommitInfo,
    pub rwset: TxRwSet,
    pub event: Option<ChaincodeEvent>,
    /// Invalid before any MVCC check (its endorsement does not verify): it commits nothing.
    pub refused: Option<TxValidationCode>,
}

pub(super) struct Ledger {
    peer: PeerSim,
    /// Validation code and block (0 when invalid), by txid.
    committed: Mutex<HashMap<String, (TxValidationCode, u64)>>,
    /// (block, event) of valid transactions, in commit order.
    events: Mutex<Vec<(u64, ChaincodeEvent)>>,
    /// The highest block committed so far.
    height: AtomicU64,
    /// Woken after every commit, for the event streams waiting for more.
    pub added: tokio::sync::Notify,
    /// Held from validation to the log's sync: one commit at a time, logged in commit order.
    log: Mutex<Option<BlockLog>>,
}

impl Ledger {
    /// A ledger kept in memory only, committing into `peer`'s world state.
    pub fn in_memory(peer: PeerSim) -> Ledger {
        Ledger {
            peer,
            committed: Mutex::default(),
            events: Mutex::default(),
            height: AtomicU64::new(0),
            added: tokio::sync::Notify::new(),
            log: Mutex::new(None),
        }
    }

    /// A ledger kept in the block log at `path`: what it holds is replayed into `peer`'s world state (which should be
    /// empty), and every later commit is appended to it.
    pub fn open(peer: PeerSim, path: &Path) -> Result<Ledger, BlockLogError> {
        let (log, entries) = BlockLog::open(path)?;
        let ledger = Ledger::in_memory(peer);
        for (index, entry) in entries.into_iter().enumerate() {
            let corrupt =
                |reason: String| BlockLogError::Corrupt { path: path.display().to_string(), line: index + 1, reason };
            ledger.replay(entry).map_err(corrupt)?;
        }
        *ledger.log.lock().expect("log lock") = Some(log);
        Ok(ledger)
    }

    fn replay(&self, entry: Entry) -> Result<(), String> {
        let code =
            TxValidationCode::try_from(entry.code).map_err(|_| format!("unknown validation code {}", entry.code))?;
        if code == TxValidationCode::Valid {
            let rwset = rwset_of(&entry.writes)?;
            let info = CommitInfo {
                txid: entry.txid.clone(),
                timestamp: prost_types::Timestamp { seconds: entry.timestamp.0, nanos: entry.timestamp.1 },
            };
            let status = self.peer.commit_tx(&entry.channel, &rwset, &info);
            if status != (CommitStatus::Committed { block: entry.block }) {
                return Err(format!(
                    "transaction {} replays as {status:?}, logged in block {}",
                    entry.txid, entry.block
                ));
            }
        }
        let event = match entry.event {
            Some(text) => {
                let bytes = B64.decode(text).map_err(|e| format!("the event is not base64: {e}"))?;
                Some(ChaincodeEvent::decode(bytes.as_slice()).map_err(|e| format!("the event does not decode: {e}"))?)
            }
            None => None,
        };
        self.record(entry.txid, code, entry.block, event);
        Ok(())
    }

    /// Validates and commits a submitted transaction, logs it, and returns its validation code and block.
    pub fn commit(&self, tx: Submitted) -> Result<(TxValidationCode, u64), BlockLogError> {
        let mut log = self.log.lock().expect("log lock");
        let (code, block) = match tx.refused {
            Some(code) => (code, 0),
            None => match self.peer.commit_tx(&tx.channel_id, &tx.rwset, &tx.info) {
                CommitStatus::Committed { block } => (TxValidationCode::Valid, block),
                CommitStatus::MvccReadConflict => (TxValidationCode::MvccReadConflict, 0),
                CommitStatus::PhantomReadConflict => (TxValidationCode::PhantomReadConflict, 0),
                CommitStatus::NotSubmitted => (TxValidationCode::InvalidOtherReason, 0),
            },
        };
        let event = tx.event.filter(|_| code == TxValidationCode::Valid);
        if let Some(log) = log.as_mut() {
            let entry = Entry {
                block,
                channel: tx.channel_id,
                txid: tx.info.txid.clone(),
                timestamp: (tx.info.timestamp.seconds, tx.info.timestamp.nanos),
                code: code as i32,
                writes: if code == TxValidationCode::Valid { writes_of(&tx.rwset) } else { Vec::new() },
                event: event.as_ref().map(|e| B64.encode(e.encode_to_vec())),
            };
            log.append(&entry)?;
        }
        self.record(tx.info.txid, code, block, event);
        Ok((code, block))
    }

    fn record(&self, txid: String, code: TxValidationCode, block: u64, event: Option<ChaincodeEvent>) {
        if code == TxValidationCode::Valid {
            self.height.fetch_max(block, Ordering::Relaxed);
            if let Some(event) = event {
                self.events.lock().expect("events lock").push((block, event));
            }
        }
        self.committed.lock().expect("committed lock").insert(txid, (code, block));
        self.added.notify_waiters();
    }

    /// A submitted transaction's validation code and block.
    pub fn status(&self, txid: &str) -> Option<(TxValidationCode, u64)> {
        self.committed.lock().expect("committed lock").get(txid).copied()
    }

    /// The highest block committed so far (0 before any).
    pub fn height(&self) -> u64 {
        self.height.load(Ordering::Relaxed)
    }

    /// The events of `chaincode` committed in block `from` or later, grouped by block, in order.
    pub fn events_from(&self, from: u64, chaincode: &str) -> Vec<(u64, Vec<ChaincodeEvent>)> {
        let log = self.events.lock().expect("events lock");
        let mut blocks: Vec<(u64, Vec<ChaincodeEvent>)> = Vec::new();
        for (block, event) in log.iter().filter(|(b, e)| *b >= from && e.chaincode_id == chaincode) {
            match blocks.last_mut() {
                Some((b, list)) if b == block => list.push(event.clone()),
                _ => blocks.push((*block, vec![event.clone()])),
            }
        }
        blocks
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::Version;

    fn submitted(txid: &str, read: Option<Version>, value: &str) -> Submitted {
        let mut rwset = TxRwSet::default();
        let set = rwset.ns_mut("basic");
        set.record_read("k", read);
        set.record_put("k", value.as_bytes().to_vec());
        set.collection_mut("secret").record_put("p", value.as_bytes().to_vec());
        let event = ChaincodeEvent {
            chaincode_id: "basic".into(),
            tx_id: txid.into(),
            event_name: "put".into(),
            ..Default::default()
        };
        Submitted {
            channel_id: "mychannel".into(),
            info: CommitInfo { txid: txid.into(), timestamp: prost_types::Timestamp { seconds: 7, nanos: 1 } },
            rwset,
            event: Some(event),
            refused: None,
        }
    }

    #[test]
    fn a_reopened_log_gives_back_state_history_statuses_and_events() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blocks.jsonl");
        let first = PeerSim::new();
        let ledger = Ledger::open(first.clone(), &path).unwrap();
        assert_eq!(ledger.commit(submitted("t1", None, "one")).unwrap(), (TxValidationCode::Valid, 1));
        let stale = submitted("t2", None, "stale");
        assert_eq!(ledger.commit(stale).unwrap(), (TxValidationCode::MvccReadConflict, 0));
        let current = Some(Version { block: 1, tx: 0 });
        assert_eq!(ledger.commit(submitted("t3", current, "two")).unwrap(), (TxValidationCode::Valid, 2));
        let refused =
            Submitted { refused: Some(TxValidationCode::EndorsementPolicyFailure), ..submitted("t4", None, "x") };
        assert_eq!(ledger.commit(refused).unwrap(), (TxValidationCode::EndorsementPolicyFailure, 0));
        drop(ledger);

        let second = PeerSim::new();
        let reopened = Ledger::open(second.clone(), &path).unwrap();
        assert_eq!(second.snapshot("mychannel", "basic"), first.snapshot("mychannel", "basic"));
        assert_eq!(second.get_private("mychannel", "basic", "secret", "p").as_deref(), Some(&b"two"[..]));
        assert_eq!(second.history("mychannel", "basic", "k"), first.history("mychannel", "basic", "k"));
        assert_eq!(reopened.height(), 2);
        assert_eq!(reopened.status("t2"), Some((TxValidationCode::MvccReadConflict, 0)));
        assert_eq!(reopened.status("t4"), Some((TxValidationCode::EndorsementPolicyFailure, 0)));
        let blocks: Vec<u64> = reopened.events_from(0, "basic").iter().map(|(b, _)| *b).collect();
        assert_eq!(blocks, [1, 2], "only valid transactions' events");
        // And it goes on from where it was.
        assert_eq!(reopened.commit(submitted("t5", Some(Version { block: 2, tx: 0 }), "3")).unwrap().1, 3);
    }

    #[test]
    fn a_log_that_does_not_replay_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blocks.jsonl");
        let ledger = Ledger::open(PeerSim::new(), &path).unwrap();
        ledger.commit(submitted("t1", None, "one")).unwrap();
        drop(ledger);
        let text = std::fs::read_to_string(&path).unwrap().replace("\"block\":1", "\"block\":9");
        std::fs::write(&path, text).unwrap();
        let Err(e) = Ledger::open(PeerSim::new(), &path) else { panic!("a log that does not replay opens") };
        assert!(
            e.to_string().contains("line 1: transaction t1 replays as Committed { block: 1 }, logged in block 9"),
            "{e}"
        );
    }
}
