//! What the peer hands a builder: the package's `metadata.json` and, hidden in a directory name, the CCID.
//!
//! detect, build and release never receive the CCID (`docs/fabric-protocol.md` §7, §9 pitfall 12). The only trace is
//! the scratch directory, the parent of SOURCE_DIR, which Go's `os.MkdirTemp` names `fabric-<Sanitize(CCID)><digits>`.
//! The label from `metadata.json` makes that name unambiguous: a label never contains a character Sanitize changes,
//! and the hash is exactly 64 lowercase hex digits, so whatever follows is the random suffix. Guessing instead
//! (e.g. "up to the last `-`") would risk REGISTERing a wrong CCID, which stalls a real peer for minutes.

use std::path::Path;

use anyhow::{bail, Context};
use serde::Deserialize;

/// `metadata.json` of a package; the peer itself reads only `label`.
#[derive(Debug, Clone, Deserialize)]
pub struct Metadata {
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub label: String,
}

impl Metadata {
    /// Reads `METADATA_DIR/metadata.json`, returning it with its raw bytes (which upload mode needs verbatim).
    pub fn read(metadata_dir: &Path) -> anyhow::Result<(Metadata, Vec<u8>)> {
        let path = metadata_dir.join(wasmcc_common::package::METADATA_FILE);
        let raw = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let metadata: Metadata = serde_json::from_slice(&raw)
            .with_context(|| format!("{} is not valid package metadata", path.display()))?;
        wasmcc_common::package::check_label(&metadata.label).with_context(|| format!("{}", path.display()))?;
        Ok((metadata, raw))
    }

    /// detect's question: does `METADATA_DIR/metadata.json` say `type` "wasm"? Nothing else is checked there, so a
    /// wasm package with another defect is claimed and build reports the defect, instead of the peer silently
    /// falling back to a docker build.
    pub fn is_wasm_package(metadata_dir: &Path) -> bool {
        std::fs::read(metadata_dir.join(wasmcc_common::package::METADATA_FILE))
            .ok()
            .and_then(|raw| serde_json::from_slice::<Metadata>(&raw).ok())
            .is_some_and(|m| m.is_wasm())
    }

    /// Whether this builder handles the package: `type` "wasm" in any case, like the stock builders' checks.
    pub fn is_wasm(&self) -> bool {
        self.kind.eq_ignore_ascii_case(wasmcc_common::package::PACKAGE_TYPE)
    }
}

/// Recovers the CCID from SOURCE_DIR's parent, `fabric-<label>-<64 hex><digits>`, for the package's label.
pub fn ccid_from_source_dir(source_dir: &Path, label: &str) -> anyhow::Result<String> {
    let source = std::path::absolute(source_dir).with_context(|| format!("resolving {}", source_dir.display()))?;
    let name = source
        .parent()
        .and_then(Path::file_name)
        .and_then(|n| n.to_str())
        .with_context(|| format!("source directory {} has no scratch directory above it", source.display()))?;
    match ccid_from_scratch_name(name, label) {
        Some(ccid) => Ok(ccid),
        None => bail!(
            "scratch directory name {name:?} does not match label {label:?}: expected \
             fabric-{}-<64 hex digits><digits>, as the peer names it for this package",
            wasmcc_common::package::sanitize(label)
        ),
    }
}

fn ccid_from_scratch_name(name: &str, label: &str) -> Option<String> {
    let rest = name
        .strip_prefix("fabric-")?
        .strip_prefix(wasmcc_common::package::sanitize(label).as_str())?
        .strip_prefix('-')?;
    let hash = rest.get(..64)?;
    let suffix = &rest[64..];
    let is_hash = hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let is_suffix = !suffix.is_empty() && suffix.bytes().all(|b| b.is_ascii_digit());
    (is_hash && is_suffix).then(|| format!("{label}:{hash}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn labels_with_every_allowed_punctuation() {
        for label in ["cc", "my-cc", "cc_1.0", "a+b", "x-1.2_3+4", "0-0", "cc-0123"] {
            let name = format!("fabric-{label}-{HASH}1234567890");
            assert_eq!(ccid_from_scratch_name(&name, label), Some(format!("{label}:{HASH}")), "{name}");
        }
    }

    #[test]
    fn a_single_random_digit_is_enough() {
        assert_eq!(ccid_from_scratch_name(&format!("fabric-cc-{HASH}7"), "cc"), Some(format!("cc:{HASH}")));
    }

    #[test]
    fn mismatches_are_refused() {
        let bad = [
            // no random suffix, non-digit suffix, short or uppercase hash, wrong label, missing prefix
            (format!("fabric-cc-{HASH}"), "cc"),
            (format!("fabric-cc-{HASH}12x"), "cc"),
            (format!("fabric-cc-{}", &HASH[1..]), "cc"),
            (format!("fabric-cc-{}12", HASH.to_uppercase()), "cc"),
            (format!("fabric-cc2-{HASH}12"), "cc"),
            (format!("fabric-my-cc-{HASH}12"), "cc"),
            (format!("fabric-cc-{HASH}12"), "my-cc"),
            (format!("cc-{HASH}12"), "cc"),
            (format!("fabric-cc:{HASH}12"), "cc"),
        ];
        for (name, label) in bad {
            assert_eq!(ccid_from_scratch_name(&name, label), None, "{name} / {label}");
        }
    }

    #[test]
    fn reads_the_parent_of_source_dir() {
        let path = format!("/tmp/fabric-cc_1.0-{HASH}42/src");
        assert_eq!(ccid_from_source_dir(Path::new(&path), "cc_1.0").unwrap(), format!("cc_1.0:{HASH}"));
        let trailing = format!("/tmp/fabric-cc_1.0-{HASH}42/src/");
        assert_eq!(ccid_from_source_dir(Path::new(&trailing), "cc_1.0").unwrap(), format!("cc_1.0:{HASH}"));
        let err = ccid_from_source_dir(Path::new("/tmp/elsewhere/src"), "cc").unwrap_err().to_string();
        assert!(err.contains("does not match label \"cc\""), "{err}");
    }

    #[test]
    fn detect_accepts_wasm_in_any_case() {
        let m = |kind: &str| Metadata { kind: kind.into(), label: "x".into() };
        assert!(m("wasm").is_wasm() && m("WASM").is_wasm() && m("Wasm").is_wasm());
        assert!(!m("ccaas").is_wasm() && !m("").is_wasm() && !m("wasm ").is_wasm());
    }
}
