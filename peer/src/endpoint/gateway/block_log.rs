//! The gateway's block log: every submitted transaction, valid or not, appended as one JSON line and synced to disk
//! before Submit answers, so a client never sees a commit that a crash (even `kill -9`) could take back.
//!
//! A line holds what replaying needs: the validation code and block, the transaction's writes (never its reads: a
//! valid transaction's reads were current when it committed, and replaying in order makes them current again) and
//! its chaincode event. Replaying the lines in order into an empty world rebuilds the state, the history of every
//! key and the statuses CommitStatus answers. A last line without its newline is a write the crash interrupted; it
//! was never acknowledged, so it is cut off. Any other line that does not read is an error: the log is not guessed at.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::world::rwset::{RwSet, TxRwSet};

/// One submitted transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Entry {
    /// The block that committed it; 0 for an invalid transaction, which changed nothing.
    pub block: u64,
    pub channel: String,
    pub txid: String,
    /// The proposal's timestamp (seconds, nanos): what key history reports.
    pub timestamp: (i64, i32),
    /// Its `TxValidationCode`.
    pub code: i32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub writes: Vec<Write>,
    /// The encoded `ChaincodeEvent`, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
}

/// One write of a transaction, flattened out of its [`TxRwSet`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Write {
    pub ns: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection: Option<String>,
    pub key: String,
    pub op: Op,
}

/// Values are base64: chaincode values are bytes, not text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Op {
    Put(String),
    Delete,
    Metadata(BTreeMap<String, String>),
    Purge,
}

/// Why a log could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum BlockLogError {
    #[error("block log {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("block log {path}, line {line}: {reason}")]
    Corrupt { path: String, line: usize, reason: String },
}

/// The open log, positioned at its end.
pub(crate) struct BlockLog {
    file: File,
    path: PathBuf,
}

impl BlockLog {
    /// Opens (or creates) the log and reads back every complete entry, cutting off a torn last line.
    pub fn open(path: &Path) -> Result<(BlockLog, Vec<Entry>), BlockLogError> {
        let io = |source| BlockLogError::Io { path: path.display().to_string(), source };
        let text = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io(e)),
        };
        let complete = text.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let mut entries = Vec::new();
        for (index, line) in text[..complete].split(|b| *b == b'\n').filter(|l| !l.is_empty()).enumerate() {
            let entry = serde_json::from_slice(line).map_err(|e| BlockLogError::Corrupt {
                path: path.display().to_string(),
                line: index + 1,
                reason: e.to_string(),
            })?;
            entries.push(entry);
        }
        let file = OpenOptions::new().create(true).append(true).open(path).map_err(io)?;
        if complete < text.len() {
            tracing::warn!(path = %path.display(), bytes = text.len() - complete, "cutting off a torn last entry");
            file.set_len(complete as u64).map_err(io)?;
        }
        Ok((BlockLog { file, path: path.to_owned() }, entries))
    }

    /// Appends an entry and waits until it is on disk.
    pub fn append(&mut self, entry: &Entry) -> Result<(), BlockLogError> {
        let mut line = serde_json::to_vec(entry).expect("an entry serializes");
        line.push(b'\n');
        let io = |source| BlockLogError::Io { path: self.path.display().to_string(), source };
        self.file.write_all(&line).map_err(io)?;
        self.file.sync_data().map_err(io)
    }
}

/// The writes of a transaction, in the set's (sorted) order.
pub(crate) fn writes_of(rwset: &TxRwSet) -> Vec<Write> {
    let mut out = Vec::new();
    let b64 = |v: &[u8]| B64.encode(v);
    let value_op = |value: &Option<Vec<u8>>| value.as_deref().map_or(Op::Delete, |v| Op::Put(b64(v)));
    let metadata_op =
        |m: &BTreeMap<String, Vec<u8>>| Op::Metadata(m.iter().map(|(k, v)| (k.clone(), b64(v))).collect());
    for (ns, set) in &rwset.namespaces {
        let mut push = |collection: Option<&String>, key: &String, op| {
            out.push(Write { ns: ns.clone(), collection: collection.cloned(), key: key.clone(), op })
        };
        set.writes.iter().for_each(|(key, value)| push(None, key, value_op(value)));
        set.metadata_writes.iter().for_each(|(key, m)| push(None, key, metadata_op(m)));
        for (name, coll) in &set.collections {
            coll.purges.iter().for_each(|key| push(Some(name), key, Op::Purge));
            coll.writes.iter().for_each(|(key, value)| push(Some(name), key, value_op(value)));
            coll.metadata_writes.iter().for_each(|(key, m)| push(Some(name), key, metadata_op(m)));
        }
    }
    out
}

/// The write-only set an entry's writes make, exactly as [`writes_of`] took it apart.
pub(crate) fn rwset_of(writes: &[Write]) -> Result<TxRwSet, String> {
    let bytes = |v: &str| B64.decode(v).map_err(|e| format!("a value is not base64: {e}"));
    let mut rwset = TxRwSet::default();
    for write in writes {
        let set: &mut RwSet = rwset.ns_mut(&write.ns);
        let key = write.key.clone();
        match (&write.collection, &write.op) {
            (None, Op::Put(v)) => drop(set.writes.insert(key, Some(bytes(v)?))),
            (None, Op::Delete) => drop(set.writes.insert(key, None)),
            (None, Op::Metadata(m)) => drop(set.metadata_writes.insert(key, metadata(m, bytes)?)),
            (None, Op::Purge) => return Err(format!("a purge of public key {key:?}")),
            (Some(name), op) => {
                let coll = set.collection_mut(name);
                match op {
                    Op::Put(v) => drop(coll.writes.insert(key, Some(bytes(v)?))),
                    Op::Delete => drop(coll.writes.insert(key, None)),
                    Op::Metadata(m) => drop(coll.metadata_writes.insert(key, metadata(m, bytes)?)),
                    Op::Purge => drop(coll.purges.insert(key)),
                }
            }
        }
    }
    Ok(rwset)
}

fn metadata(
    m: &BTreeMap<String, String>,
    bytes: impl Fn(&str) -> Result<Vec<u8>, String>,
) -> Result<BTreeMap<String, Vec<u8>>, String> {
    m.iter().map(|(k, v)| Ok((k.clone(), bytes(v)?))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::Version;

    fn sample() -> TxRwSet {
        let mut rwset = TxRwSet::default();
        let public = rwset.ns_mut("basic");
        public.record_read("r", Some(Version { block: 1, tx: 0 }));
        public.record_put("a", b"\x00\xffbytes".to_vec());
        public.record_delete("gone");
        public.record_metadata("a", BTreeMap::from([("VALIDATION_PARAMETER".to_owned(), b"policy".to_vec())]));
        let coll = public.collection_mut("secret");
        coll.record_put("p", b"private".to_vec());
        coll.record_purge("old");
        rwset
    }

    #[test]
    fn an_entry_keeps_every_write_and_no_read() {
        let rwset = sample();
        assert_eq!(rwset_of(&writes_of(&rwset)).unwrap(), rwset.writes());
    }

    #[test]
    fn the_log_reads_back_what_was_appended_and_cuts_a_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blocks.jsonl");
        let entry = |block: u64| Entry {
            block,
            channel: "mychannel".into(),
            txid: format!("tx{block}"),
            timestamp: (1, 2),
            code: 0,
            writes: writes_of(&sample()),
            event: None,
        };
        let (mut log, read) = BlockLog::open(&path).unwrap();
        assert!(read.is_empty());
        log.append(&entry(1)).unwrap();
        log.append(&entry(2)).unwrap();
        drop(log);
        // A crash in the middle of the third append.
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(br#"{"block":3,"chan"#).unwrap();
        drop(file);

        let (mut log, read) = BlockLog::open(&path).unwrap();
        assert_eq!(read, vec![entry(1), entry(2)]);
        log.append(&entry(3)).unwrap();
        let (_, read) = BlockLog::open(&path).unwrap();
        assert_eq!(read, vec![entry(1), entry(2), entry(3)], "the torn line is gone, the new one follows");

        std::fs::write(&path, b"{\"block\":1}\nnot json\n").unwrap();
        let Err(BlockLogError::Corrupt { line, .. }) = BlockLog::open(&path) else {
            panic!("a corrupt line is an error")
        };
        assert_eq!(line, 1, "the first line lacks fields");
    }
}
