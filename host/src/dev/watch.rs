//! `--watch DIR`: a chaincode crate rebuilt, checked and installed again whenever its sources change, while the
//! ledger stays as it is. Sources are polled (their newest modification time, once a second): nothing to set up,
//! and it behaves the same on every file system, editors' rename-and-replace saves included.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use wasmcc_host::registry::Registry;

use crate::author::{build, BuildArgs};

/// How often the sources are looked at.
const POLL: Duration = Duration::from_secs(1);

/// Builds the crate at `dir` and installs it: what happens at start and after every change. The label is the
/// crate's package name.
pub async fn build_and_install(registry: &Arc<Registry>, dir: &Path) -> anyhow::Result<String> {
    let args = BuildArgs { dir: dir.to_owned(), label: None, output: None, profile: "release".into(), debug: false };
    let built = tokio::task::spawn_blocking(move || build(&args)).await??;
    let bytes = std::fs::read(&built.package)?;
    let (record, _) = registry.install(bytes).await?;
    Ok(record.ccid)
}

/// Rebuilds and reinstalls the crate at `dir` whenever a source changes. A failed build is reported and the
/// chaincode installed before keeps serving.
pub async fn watch(registry: Arc<Registry>, dir: PathBuf) {
    let mut seen = newest_source(&dir);
    loop {
        tokio::time::sleep(POLL).await;
        let now = newest_source(&dir);
        if now == seen {
            continue;
        }
        seen = now;
        println!("{} changed: rebuilding", dir.display());
        match build_and_install(&registry, &dir).await {
            Ok(ccid) => println!("{} rebuilt: {ccid}", dir.display()),
            Err(e) => eprintln!("wasmcc dev: {} not reinstalled: {e:#}", dir.display()),
        }
    }
}

/// The newest modification time among the crate's sources: `Cargo.toml`, `src/` and `META-INF/` (its indexes).
fn newest_source(dir: &Path) -> Option<SystemTime> {
    let mut newest = None;
    let mut pending = vec![dir.join("Cargo.toml"), dir.join("src"), dir.join("META-INF")];
    while let Some(path) = pending.pop() {
        let Ok(meta) = std::fs::metadata(&path) else { continue };
        if meta.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&path) {
                pending.extend(entries.flatten().map(|e| e.path()));
            }
        }
        newest = newest.max(meta.modified().ok());
    }
    newest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_source_moves_the_newest_time() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("src")).unwrap();
        std::fs::write(dir.path().join("Cargo.toml"), "").unwrap();
        let before = newest_source(dir.path());
        assert!(before.is_some());
        let file = std::fs::File::create(dir.path().join("src/lib.rs")).unwrap();
        file.set_modified(SystemTime::now() + Duration::from_secs(5)).unwrap();
        assert!(newest_source(dir.path()) > before);
        // Outside the sources: no change.
        let later = newest_source(dir.path());
        let other = std::fs::File::create(dir.path().join("notes.txt")).unwrap();
        other.set_modified(SystemTime::now() + Duration::from_secs(50)).unwrap();
        assert_eq!(newest_source(dir.path()), later);
    }
}
