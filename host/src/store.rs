//! The durable store under the data directory: content-addressed modules, precompiled artifacts, original packages
//! and the registry of installed chaincodes.
//!
//! ```text
//! <data>/modules/<sha256>                    the module as uploaded
//! <data>/compiled/<sha256>-<engine>.cwasm    its precompiled artifact for one engine build (loaded by mmap)
//! <data>/packages/<label>.<hash>.tar.gz      the package as installed (the peer's file name)
//! <data>/chaincodes/<label>.<hash>.json      the chaincode's record: written last, it is the commit point
//! <data>/routes.json                         every route ever given to a CCID (`routes`): kept after removals
//! <data>/follows-shared-store                present once this directory is a copy of a shared store's chaincodes
//! <data>/tmp/                                files being written; emptied at every start
//! ```
//!
//! Every write is tmp + fsync + rename + fsync(dir), so after a crash a file is either whole or absent. A record
//! is written only after everything it names is durable, so an acknowledged install survives `kill -9`.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::limits::TxLimits;
use crate::routes::RouteBook;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{action} {path}: {source}")]
    Io { action: &'static str, path: PathBuf, source: std::io::Error },
    #[error("corrupt chaincode record {path}: {source}")]
    Record { path: PathBuf, source: serde_json::Error },
    #[error("corrupt route reservations {path}: {source}")]
    Routes { path: PathBuf, source: serde_json::Error },
    #[error("not a valid CCID {0:?}: expected <label>:<64 hex>")]
    BadCcid(String),
}

/// What the host keeps about one installed chaincode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChaincodeRecord {
    pub ccid: String,
    pub label: String,
    /// sha256 hex of the module: the key of `modules/` and `compiled/`.
    pub module_hash: String,
    pub module_size: u64,
    /// This chaincode's own listen port, allocated at install and kept across restarts; `None` when it was installed
    /// on a host that serves chaincodes only on the shared port (`chaincodes.own_ports = false`).
    pub port: Option<u16>,
    /// The operator's limits at install time (configuration may override them at start).
    #[serde(default)]
    pub limits: TxLimits,
}

/// Where a data directory keeps a module, by hash (readers outside the host, such as `wasmcc replay`, too).
pub fn module_file(root: &Path, module_hash: &str) -> PathBuf {
    root.join("modules").join(module_hash)
}

/// The data directory.
#[derive(Debug)]
pub struct Store {
    root: PathBuf,
    tmp_seq: AtomicU64,
}

const ROUTES_FILE: &str = "routes.json";
const FOLLOWS_FILE: &str = "follows-shared-store";

const DIRS: [&str; 5] = ["modules", "compiled", "packages", "chaincodes", "tmp"];

impl Store {
    /// Opens (creating) the data directory and discards whatever a crash left half-written in `tmp/`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let root = root.into();
        for dir in DIRS {
            let path = root.join(dir);
            fs::create_dir_all(&path).map_err(io("creating", &path))?;
        }
        let tmp = root.join("tmp");
        for entry in fs::read_dir(&tmp).map_err(io("listing", &tmp))? {
            let path = entry.map_err(io("listing", &tmp))?.path();
            fs::remove_file(&path).map_err(io("removing", &path))?;
        }
        Ok(Store { root, tmp_seq: AtomicU64::new(0) })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn module_path(&self, module_hash: &str) -> PathBuf {
        module_file(&self.root, module_hash)
    }

    pub fn artifact_path(&self, module_hash: &str, engine_hash: &str) -> PathBuf {
        self.root.join("compiled").join(format!("{module_hash}-{engine_hash}.cwasm"))
    }

    fn package_path(&self, ccid: &str) -> Result<PathBuf, StoreError> {
        Ok(self.root.join("packages").join(format!("{}.tar.gz", file_stem(ccid)?)))
    }

    fn record_path(&self, ccid: &str) -> Result<PathBuf, StoreError> {
        Ok(self.root.join("chaincodes").join(format!("{}.json", file_stem(ccid)?)))
    }

    /// Stores a module under its hash (content-addressed: writing it twice is harmless).
    pub fn put_module(&self, module_hash: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let path = self.module_path(module_hash);
        if path.exists() {
            return Ok(());
        }
        self.write_atomic(&path, bytes)
    }

    pub fn read_module(&self, module_hash: &str) -> Result<Vec<u8>, StoreError> {
        let path = self.module_path(module_hash);
        fs::read(&path).map_err(io("reading", &path))
    }

    pub fn put_artifact(&self, module_hash: &str, engine_hash: &str, bytes: &[u8]) -> Result<PathBuf, StoreError> {
        let path = self.artifact_path(module_hash, engine_hash);
        self.write_atomic(&path, bytes)?;
        Ok(path)
    }

    pub fn put_package(&self, ccid: &str, bytes: &[u8]) -> Result<(), StoreError> {
        self.write_atomic(&self.package_path(ccid)?, bytes)
    }

    pub fn read_package(&self, ccid: &str) -> Result<Vec<u8>, StoreError> {
        let path = self.package_path(ccid)?;
        fs::read(&path).map_err(io("reading", &path))
    }

    /// Writes the record: from here on the chaincode is installed.
    pub fn put_record(&self, record: &ChaincodeRecord) -> Result<(), StoreError> {
        let json = serde_json::to_vec_pretty(record).expect("records serialize");
        self.write_atomic(&self.record_path(&record.ccid)?, &json)
    }

    /// The route reservations; empty in a data directory that has none yet.
    pub fn routes(&self) -> Result<RouteBook, StoreError> {
        let path = self.root.join(ROUTES_FILE);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| StoreError::Routes { path, source }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(RouteBook::default()),
            Err(e) => Err(StoreError::Io { action: "reading", path, source: e }),
        }
    }

    pub fn put_routes(&self, book: &RouteBook) -> Result<(), StoreError> {
        let json = serde_json::to_vec_pretty(book).expect("route books serialize");
        self.write_atomic(&self.root.join(ROUTES_FILE), &json)
    }

    /// Whether the chaincodes here are a copy of a shared store's (`shared_store.rs`), rather than this host's own.
    pub fn follows_shared_store(&self) -> bool {
        self.root.join(FOLLOWS_FILE).exists()
    }

    /// Marks the chaincodes here as a shared store's copy, from now on: one removed from the shared store goes.
    pub fn mark_following_shared_store(&self) -> Result<(), StoreError> {
        self.write_atomic(&self.root.join(FOLLOWS_FILE), b"the chaincodes here are a copy of a shared store's\n")
    }

    /// Every installed chaincode, sorted by CCID.
    pub fn records(&self) -> Result<Vec<ChaincodeRecord>, StoreError> {
        let dir = self.root.join("chaincodes");
        let mut records = Vec::new();
        for entry in fs::read_dir(&dir).map_err(io("listing", &dir))? {
            let path = entry.map_err(io("listing", &dir))?.path();
            if path.extension().is_some_and(|e| e == "json") {
                let bytes = fs::read(&path).map_err(io("reading", &path))?;
                let record = serde_json::from_slice(&bytes).map_err(|source| StoreError::Record { path, source })?;
                records.push(record);
            }
        }
        records.sort_by(|a: &ChaincodeRecord, b| a.ccid.cmp(&b.ccid));
        Ok(records)
    }

    /// Uninstalls: the record goes first (the commit point), then the package, then the module and its artifacts
    /// unless another chaincode still uses them.
    pub fn remove(&self, ccid: &str) -> Result<(), StoreError> {
        let record_path = self.record_path(ccid)?;
        let record: Option<ChaincodeRecord> =
            fs::read(&record_path).ok().and_then(|bytes| serde_json::from_slice(&bytes).ok());
        remove_durably(&record_path)?;
        remove_durably(&self.package_path(ccid)?)?;
        let Some(record) = record else { return Ok(()) };
        if self.records()?.iter().any(|r| r.module_hash == record.module_hash) {
            return Ok(());
        }
        remove_durably(&self.module_path(&record.module_hash))?;
        let compiled = self.root.join("compiled");
        for entry in fs::read_dir(&compiled).map_err(io("listing", &compiled))? {
            let path = entry.map_err(io("listing", &compiled))?.path();
            if path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&record.module_hash)) {
                remove_durably(&path)?;
            }
        }
        Ok(())
    }

    /// tmp + fsync + rename + fsync(dir): the file appears whole or not at all. A write that fails at any step
    /// removes its temporary file at once, so a refused or failed write leaves nothing behind until the next start.
    fn write_atomic(&self, path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
        let seq = self.tmp_seq.fetch_add(1, Ordering::Relaxed);
        let tmp = TempFile(self.root.join("tmp").join(format!("{}-{seq}", std::process::id())));
        let mut file = File::create(&tmp.0).map_err(io("creating", &tmp.0))?;
        file.write_all(bytes).map_err(io("writing", &tmp.0))?;
        file.sync_all().map_err(io("syncing", &tmp.0))?;
        drop(file);
        fs::rename(&tmp.0, path).map_err(io("renaming into", path))?;
        // Renamed: the temporary name is gone, nothing to remove.
        std::mem::forget(tmp);
        sync_dir(path)
    }
}

/// A file under `tmp/` that is removed when dropped: on every early return of a write.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Err(e) = fs::remove_file(&self.0) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(path = %self.0.display(), "cannot remove a temporary file: {e}");
            }
        }
    }
}

/// Where the token lives when the operator configured none.
pub fn token_path(root: &Path) -> PathBuf {
    root.join("admin.token")
}

fn remove_durably(path: &Path) -> Result<(), StoreError> {
    match fs::remove_file(path) {
        Ok(()) => sync_dir(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::Io { action: "removing", path: path.into(), source: e }),
    }
}

fn sync_dir(path: &Path) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    File::open(dir).and_then(|d| d.sync_all()).map_err(io("syncing", dir))
}

/// `label:hash` → `label.hash`, the peer's own file naming; refuses anything that could escape the directory.
fn file_stem(ccid: &str) -> Result<String, StoreError> {
    let (label, hash) = ccid.split_once(':').ok_or_else(|| StoreError::BadCcid(ccid.into()))?;
    // The package crate's label rule (characters and length) is the one every label passes.
    let label_ok = wasmcc_common::package::check_label(label).is_ok();
    let hash_ok = hash.len() == 64 && hash.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'));
    if !(label_ok && hash_ok) {
        return Err(StoreError::BadCcid(ccid.into()));
    }
    Ok(format!("{label}.{hash}"))
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |source| StoreError::Io { action, path: path.into(), source }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        (dir, store)
    }

    fn record(label: &str, module_hash: &str, port: u16) -> ChaincodeRecord {
        ChaincodeRecord {
            ccid: format!("{label}:{}", "a".repeat(64)),
            label: label.into(),
            module_hash: module_hash.into(),
            module_size: 3,
            port: Some(port),
            limits: TxLimits::default(),
        }
    }

    #[test]
    fn records_round_trip_and_remove_frees_unshared_modules() {
        let (_dir, store) = temp_store();
        store.put_module("m1", b"abc").unwrap();
        store.put_artifact("m1", "e1", b"compiled").unwrap();
        let a = record("a", "m1", 9101);
        let mut b = record("b", "m1", 9102);
        b.ccid = format!("b:{}", "b".repeat(64));
        store.put_record(&a).unwrap();
        store.put_record(&b).unwrap();
        assert_eq!(store.records().unwrap(), vec![a.clone(), b.clone()]);

        store.remove(&a.ccid).unwrap();
        assert!(store.module_path("m1").exists(), "b still uses the module");
        store.remove(&b.ccid).unwrap();
        assert!(!store.module_path("m1").exists());
        assert!(!store.artifact_path("m1", "e1").exists());
        assert!(store.records().unwrap().is_empty());
    }

    #[test]
    fn route_reservations_survive_reopening() {
        let (dir, store) = temp_store();
        assert_eq!(store.routes().unwrap(), RouteBook::default());
        let mut book = RouteBook::default();
        book.reserve_port(9104, "p:1").unwrap();
        store.put_routes(&book).unwrap();
        drop(store);
        assert_eq!(Store::open(dir.path()).unwrap().routes().unwrap(), book);
    }

    #[test]
    fn leftovers_in_tmp_are_discarded_at_open() {
        let (dir, store) = temp_store();
        fs::write(dir.path().join("tmp/123-0"), b"half").unwrap();
        drop(store);
        let _store = Store::open(dir.path()).unwrap();
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn a_failed_write_leaves_no_temporary_file() {
        let (dir, store) = temp_store();
        // A target whose directory is not there: creating, writing and syncing the temporary file succeed, the
        // rename fails.
        let err = store.write_atomic(&dir.path().join("missing/file"), b"bytes").unwrap_err();
        assert!(matches!(err, StoreError::Io { action: "renaming into", .. }), "{err}");
        // A target name too long for the file system fails the same way.
        let err = store.write_atomic(&dir.path().join("packages").join("a".repeat(300)), b"bytes").unwrap_err();
        assert!(matches!(err, StoreError::Io { action: "renaming into", .. }), "{err}");
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
        // A successful write leaves no temporary file either.
        store.put_module("m1", b"abc").unwrap();
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
        assert_eq!(store.read_module("m1").unwrap(), b"abc");
    }

    #[test]
    fn ccids_that_could_escape_are_refused() {
        let too_long = format!("{}:{}", "a".repeat(wasmcc_common::package::MAX_LABEL_BYTES + 1), "a".repeat(64));
        for bad in ["../x:aa", "a", &format!("../a:{}", "a".repeat(64)), &format!("a:{}", "A".repeat(64)), &too_long] {
            assert!(file_stem(bad).is_err(), "{bad}");
        }
        assert_eq!(
            file_stem(&format!("my_cc-1.0+x:{}", "0".repeat(64))).unwrap(),
            format!("my_cc-1.0+x.{}", "0".repeat(64))
        );
    }
}
