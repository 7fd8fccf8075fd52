//! Which transactions are recorded, and writing them: off the transaction path, whole or not at all, within a disk
//! budget per chaincode.
//!
//! A transaction that may be recorded keeps a [`Tape`] of its requests and replies (a copy of each request: small,
//! and nothing more when recording is off). When it ends, its chaincode's [`RecordTarget`] decides from the answer
//! whether to keep it and hands it to the writer thread without waiting. The writer encodes it, writes it under a
//! temporary name, syncs and renames it into `<data_dir>/recordings/<label>-<hash12>/`, then deletes that
//! chaincode's oldest recordings while they use more than the budget: a ring buffer per chaincode, so one chaincode
//! recording everything cannot take another's history or the host's disk.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Arc;

use prost::Message;
use serde::{Deserialize, Serialize};
use wasmcc_proto::protos::chaincode_message::Type;
use wasmcc_proto::protos::{ChaincodeMessage, Response};

use super::{Recording, Tape, Transcript, EXTENSION};
use crate::limits;
use crate::log_throttle::LogThrottle;

/// Which transactions of a chaincode to record (`[record]`, and `[record_for.<label or CCID>]` for one chaincode).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecordPolicy {
    pub mode: RecordMode,
    /// The share of the transactions `mode` picks that is recorded, 0 to 1, chosen by txid: the same transaction
    /// is picked on every host.
    pub sample: f64,
    /// Disk this chaincode's recordings may use on this host; the oldest are deleted first.
    pub max_mb: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordMode {
    #[default]
    Off,
    /// Transactions that answer ERROR, or COMPLETED with a status of 400 or more.
    Errors,
    All,
}

impl Default for RecordPolicy {
    fn default() -> Self {
        RecordPolicy { mode: RecordMode::Off, sample: 1.0, max_mb: limits::DEFAULT_RECORDING_MAX_MB }
    }
}

impl RecordPolicy {
    pub fn check(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.sample) {
            return Err(format!("record sample {} is not between 0 and 1", self.sample));
        }
        if self.mode != RecordMode::Off && self.max_mb == 0 {
            return Err("record max_mb must be at least 1".into());
        }
        Ok(())
    }

    /// Whether a transaction may be recorded at all, before it runs.
    fn may_record(&self, txid: &str) -> bool {
        self.mode != RecordMode::Off && (self.sample >= 1.0 || picked(txid, self.sample))
    }

    /// Whether a transaction that answered `ending` is kept.
    fn keeps(&self, ending: &ChaincodeMessage) -> bool {
        match self.mode {
            RecordMode::Off => false,
            RecordMode::All => true,
            RecordMode::Errors => failed(ending),
        }
    }
}

/// The share `sample` of txids, by a hash of the txid (SHA-256: evenly spread whatever txids look like, and the same
/// on every host and release).
fn picked(txid: &str, sample: f64) -> bool {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(txid.as_bytes());
    let hash = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"));
    (hash as f64 / u64::MAX as f64) < sample
}

/// ERROR, or COMPLETED with an error status (what Fabric counts as a failed endorsement).
fn failed(ending: &ChaincodeMessage) -> bool {
    match Type::try_from(ending.r#type) {
        Ok(Type::Completed) => Response::decode(ending.payload.as_slice()).map_or(true, |r| r.status >= 400),
        _ => true,
    }
}

/// One chaincode's recording: its policy, the module it runs, and where recordings go.
pub struct RecordTarget {
    pub policy: RecordPolicy,
    pub module_hash: String,
    recorder: Arc<Recorder>,
}

impl RecordTarget {
    pub fn new(policy: RecordPolicy, module_hash: String, recorder: Arc<Recorder>) -> RecordTarget {
        RecordTarget { policy, module_hash, recorder }
    }

    /// A tape for the transaction when it may be recorded.
    pub fn tape_for(&self, txid: &str) -> Option<Tape> {
        self.policy.may_record(txid).then(Tape::default)
    }

    /// Records the transaction if the policy keeps what it answered; never waits.
    pub fn finish<'a>(
        &self,
        tape: &Tape,
        transcript: impl FnOnce(Vec<super::Exchange>) -> Transcript<'a>,
        ending: &ChaincodeMessage,
    ) {
        if !self.policy.keeps(ending) {
            return;
        }
        let calls = std::mem::take(&mut *tape.lock().expect("tape lock"));
        let recording = Recording::new(transcript(calls));
        self.recorder.submit(recording, self.policy.max_mb * 1024 * 1024);
    }
}

static DROPPED: LogThrottle = LogThrottle::new();
static WRITE_FAILED: LogThrottle = LogThrottle::new();

/// The writer of a host's recordings: one thread, fed through a bounded queue.
pub struct Recorder {
    queue: SyncSender<(Recording, u64)>,
    root: PathBuf,
    /// Recordings dropped because the queue was full, and written, for tests and `/metrics`-minded operators.
    dropped: AtomicU64,
    written: Arc<AtomicU64>,
}

impl Recorder {
    /// Starts the writer for `root` (`<data_dir>/recordings`), discarding what a crash left half-written.
    pub fn start(root: PathBuf) -> std::io::Result<Arc<Recorder>> {
        let tmp = root.join(".tmp");
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp)?;
        let (queue, jobs) = sync_channel::<(Recording, u64)>(limits::RECORDING_QUEUE);
        let written = Arc::new(AtomicU64::new(0));
        let mut writer = Writer { root: root.clone(), rings: HashMap::new(), written: written.clone() };
        std::thread::Builder::new().name("wasmcc-recorder".into()).spawn(move || {
            for (recording, max_bytes) in jobs {
                let (ccid, txid) = (recording.ccid.clone(), recording.txid.clone());
                if let Err(e) = writer.write(recording, max_bytes) {
                    if let Some(suppressed) = WRITE_FAILED.allow() {
                        tracing::error!(%ccid, %txid, suppressed, "a recording could not be written: {e}");
                    }
                }
            }
        })?;
        Ok(Arc::new(Recorder { queue, root, dropped: AtomicU64::new(0), written }))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Recordings written so far, and dropped because the writer fell behind.
    pub fn counts(&self) -> (u64, u64) {
        (self.written.load(Ordering::Relaxed), self.dropped.load(Ordering::Relaxed))
    }

    fn submit(&self, recording: Recording, max_bytes: u64) {
        match self.queue.try_send((recording, max_bytes)) {
            Ok(()) => {}
            Err(TrySendError::Full((recording, _)) | TrySendError::Disconnected((recording, _))) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                if let Some(suppressed) = DROPPED.allow() {
                    tracing::warn!(ccid = %recording.ccid, txid = %recording.txid, suppressed,
                        "recording dropped: the recorder is {} recordings behind", limits::RECORDING_QUEUE);
                }
            }
        }
    }
}

/// The directory of a chaincode's recordings: `<label>-<first 12 hex of its hash>`, safe as a file name.
pub fn chaincode_dir(root: &Path, ccid: &str) -> PathBuf {
    let (label, hash) = ccid.rsplit_once(':').unwrap_or((ccid, ""));
    let safe: String =
        label.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.+".contains(c) { c } else { '_' }).collect();
    root.join(format!("{safe}-{}", hash.chars().take(12).collect::<String>()))
}

/// The writer thread's own state: each chaincode's recordings on disk, oldest first.
struct Writer {
    root: PathBuf,
    rings: HashMap<String, Ring>,
    written: Arc<AtomicU64>,
}

#[derive(Default)]
struct Ring {
    /// Sequence number → (path, size).
    files: BTreeMap<u64, (PathBuf, u64)>,
    bytes: u64,
}

impl Writer {
    fn write(&mut self, recording: Recording, max_bytes: u64) -> std::io::Result<()> {
        let dir = chaincode_dir(&self.root, &recording.ccid);
        let ring = match self.rings.entry(recording.ccid.clone()) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => e.insert(Ring::scan(&dir)?),
        };
        let seq = ring.files.keys().next_back().map_or(1, |last| last + 1);
        let txid: String = recording.txid.chars().filter(char::is_ascii_alphanumeric).take(16).collect();
        let path = dir.join(format!("{seq:012}-{txid}.{EXTENSION}"));
        let bytes = recording.described().encode();
        let tmp = self.root.join(".tmp").join(format!("{seq:012}-{txid}"));
        {
            use std::io::Write;
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(&bytes)?;
            file.sync_all()?;
        }
        std::fs::rename(&tmp, &path)?;
        ring.files.insert(seq, (path, bytes.len() as u64));
        ring.bytes += bytes.len() as u64;
        while ring.bytes > max_bytes && ring.files.len() > 1 {
            let (_, (oldest, size)) = ring.files.pop_first().expect("more than one file");
            ring.bytes -= size;
            std::fs::remove_file(oldest)?;
        }
        self.written.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

impl Ring {
    /// The recordings a chaincode already has (from before a restart), creating its directory.
    fn scan(dir: &Path) -> std::io::Result<Ring> {
        std::fs::create_dir_all(dir)?;
        let mut ring = Ring::default();
        for entry in std::fs::read_dir(dir)?.flatten() {
            let name = entry.file_name();
            let Some(seq) = name.to_str().and_then(|n| n.split('-').next()).and_then(|s| s.parse::<u64>().ok()) else {
                continue;
            };
            let size = entry.metadata()?.len();
            ring.bytes += size;
            ring.files.insert(seq, (entry.path(), size));
        }
        Ok(ring)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_mode_keeps_errors_and_error_statuses_only() {
        let policy = RecordPolicy { mode: RecordMode::Errors, ..RecordPolicy::default() };
        let completed = |status| ChaincodeMessage {
            r#type: Type::Completed as i32,
            payload: Response { status, ..Default::default() }.encode_to_vec(),
            ..Default::default()
        };
        assert!(!policy.keeps(&completed(200)));
        assert!(policy.keeps(&completed(400)) && policy.keeps(&completed(500)));
        assert!(policy.keeps(&ChaincodeMessage { r#type: Type::Error as i32, ..Default::default() }));
        assert!(policy.may_record("tx") && !RecordPolicy::default().may_record("tx"));
    }

    #[test]
    fn sampling_picks_about_the_share_asked_and_always_the_same_txids() {
        let picked = (0..10_000).filter(|i| super::picked(&format!("tx{i}"), 0.25)).count();
        assert!((2_200..2_800).contains(&picked), "{picked}");
        assert_eq!(super::picked("tx7", 0.25), super::picked("tx7", 0.25));
        let bad = RecordPolicy { sample: 1.5, ..RecordPolicy::default() };
        assert!(bad.check().is_err());
    }

    /// The oldest recordings of a chaincode go once its budget is used, another chaincode's stay, and after a
    /// restart the sequence goes on from the files already there.
    #[test]
    fn each_chaincode_keeps_its_newest_recordings_within_its_budget() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (format!("a:{}", "1".repeat(64)), format!("b:{}", "2".repeat(64)));
        let recording = |ccid: &str, txid: &str| {
            let mut r = crate::recording::tests::sample();
            (r.ccid, r.txid) = (ccid.to_owned(), txid.to_owned());
            r
        };
        let size = recording(&a, "tx00").described().encode().len() as u64;
        let root = dir.path().to_path_buf();
        std::fs::create_dir_all(root.join(".tmp")).unwrap();
        let mut writer = Writer { root: root.clone(), rings: HashMap::new(), written: Arc::default() };
        for i in 0..5 {
            writer.write(recording(&a, &format!("tx{i:02}")), 3 * size).unwrap();
        }
        writer.write(recording(&b, "tx99"), 3 * size).unwrap();
        let names = |ccid: &str| {
            let mut names: Vec<String> = std::fs::read_dir(chaincode_dir(&root, ccid))
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            names.sort();
            names
        };
        let kept = names(&a);
        assert_eq!(kept.len(), 3, "{kept:?}");
        assert!(kept[0].starts_with("000000000003-tx02") && kept[2].starts_with("000000000005-tx04"), "{kept:?}");
        assert_eq!(names(&b).len(), 1);

        let mut restarted = Writer { root: root.clone(), rings: HashMap::new(), written: Arc::default() };
        restarted.write(recording(&a, "tx05"), 3 * size).unwrap();
        let kept = names(&a);
        assert!(kept[0].starts_with("000000000004-") && kept[2].starts_with("000000000006-tx05"), "{kept:?}");
    }

    /// A writer that falls behind costs recordings, counted, never a wait on the transaction's path.
    #[test]
    fn a_full_queue_drops_the_recording_and_counts_it() {
        let (queue, jobs) = sync_channel(1);
        let recorder =
            Recorder { queue, root: PathBuf::from("/nowhere"), dropped: AtomicU64::new(0), written: Arc::default() };
        let recording = |txid: &str| {
            let mut r = crate::recording::tests::sample();
            r.txid = txid.to_owned();
            r
        };
        recorder.submit(recording("first"), 1);
        recorder.submit(recording("second"), 1);
        assert_eq!(recorder.counts(), (0, 1));
        assert_eq!(jobs.try_recv().unwrap().0.txid, "first");
        assert!(jobs.try_recv().is_err(), "the second recording was queued");
        drop(jobs);
        recorder.submit(recording("third"), 1);
        assert_eq!(recorder.counts(), (0, 2), "a stopped writer drops too");
    }

    #[test]
    fn chaincode_directories_are_safe_names() {
        let dir = chaincode_dir(Path::new("/r"), &format!("my cc/..:{}", "ab".repeat(32)));
        assert_eq!(dir, Path::new("/r/my_cc_..-abababababab"));
    }
}
