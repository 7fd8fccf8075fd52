//! Deterministic Fabric chaincode packages for wasm modules, and the package ID formula.
//!
//! A package ID (CCID) is `label:sha256(package file)`, and the peer computes it from the exact bytes it is given
//! (`docs/fabric-protocol.md` §7, §9 pitfall 11). Whoever needs to know a CCID without holding the package file — the
//! external builder, which only sees the untarred code and the raw `metadata.json` — must be able to make the same
//! bytes again. So every byte here is fixed: entry order, header fields (mode 0644, mtime 0, uid/gid 0, no user
//! names), regular files only, gzip without a timestamp or file name, one compression level. The host and the
//! builder both use this crate, and the workspace lock pins the compressor, so one release of wasmcc always
//! produces one package for one module.
//!
//! Layout:
//! ```text
//! package.tar.gz = gzip(tar[ metadata.json, code.tar.gz ])
//! code.tar.gz    = gzip(tar[ chaincode.wasm, META-INF/statedb/couchdb/indexes/<name>.json … (sorted by name) ])
//! ```

use std::fmt;
use std::io::Write;

use flate2::{Compression, GzBuilder};
use sha2::{Digest, Sha256};

/// The metadata entry of a package: `{"path","type","label"}`; the peer reads only `label`.
pub const METADATA_FILE: &str = "metadata.json";
/// The code entry of a package: a gzip'd tar that the peer untars into the builder's SOURCE_DIR.
pub const CODE_FILE: &str = "code.tar.gz";
/// The module inside `code.tar.gz`.
pub const WASM_FILE: &str = "chaincode.wasm";
/// Where CouchDB index definitions live inside `code.tar.gz`; the peer (through the builder's release step) creates
/// them when the chaincode is defined on a channel.
pub const INDEX_DIR: &str = "META-INF/statedb/couchdb/indexes";
/// The `type` wasmcc writes into `metadata.json` and the builder's detect step accepts (in any case).
pub const PACKAGE_TYPE: &str = "wasm";

/// The longest label, in bytes. Fabric's peer sets none, but every name made from a label must fit a file name
/// (255 bytes on Linux file systems): the host's `<label>.<64 hex>.tar.gz` (label + 72 bytes) and, the longest, the
/// peer's builder scratch directory `fabric-<label>-<64 hex><up to 10 random digits>` (label + 82). Past 173 bytes
/// even the peer's own install fails; 128 is a round number well inside that, and far above any real label (`name_version`).
/// A label over the limit is refused when packaging, by `wasmcc check` and at upload: all call [`check_label`].
pub const MAX_LABEL_BYTES: usize = 128;

/// The longest file name on the file systems the peer and the host use (`NAME_MAX`).
const NAME_MAX: usize = 255;
/// What the peer's builder scratch directory adds to a label: `fabric-`, `-`, the hash and Go's random suffix.
const SCRATCH_DIR_OVERHEAD: usize = "fabric-".len() + 1 + 64 + 10;
const _: () = assert!(MAX_LABEL_BYTES + SCRATCH_DIR_OVERHEAD <= NAME_MAX);

/// Why a package cannot be made.
#[derive(Debug)]
pub enum PackageError {
    /// The label breaks Fabric's rule `^[[:alnum:]][[:alnum:]_.+-]*$`; the peer would refuse the package.
    InvalidLabel(String),
    /// The label is longer than [`MAX_LABEL_BYTES`]; holds its length (the label itself may be huge).
    LabelTooLong(usize),
    /// An index name that is not a plain `*.json` file name.
    InvalidIndexName(String),
    /// Two indexes with the same name.
    DuplicateIndex(String),
    /// Writing the archive failed (only for entries the tar format cannot hold).
    Io(std::io::Error),
}

impl fmt::Display for PackageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PackageError::InvalidLabel(label) => write!(
                f,
                "invalid label {label:?}: a label starts with a letter or digit and holds only letters, digits, \
                 '_', '.', '+' and '-'"
            ),
            PackageError::LabelTooLong(length) => write!(
                f,
                "the label is {length} bytes long, over the limit of {MAX_LABEL_BYTES}: names made from it \
                 must fit a file name"
            ),
            PackageError::InvalidIndexName(name) => {
                write!(f, "invalid index name {name:?}: expected a plain file name ending in .json")
            }
            PackageError::DuplicateIndex(name) => write!(f, "index {name:?} is given twice"),
            PackageError::Io(e) => write!(f, "writing the package: {e}"),
        }
    }
}

impl std::error::Error for PackageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PackageError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for PackageError {
    fn from(e: std::io::Error) -> Self {
        PackageError::Io(e)
    }
}

/// Checks a label against the peer's rule, so a bad label fails when packaging rather than at `peer lifecycle
/// chaincode install`, and against [`MAX_LABEL_BYTES`]. The one check of a label: the host, its CLI and the builder
/// all call it.
pub fn check_label(label: &str) -> Result<(), PackageError> {
    // Length first: the error then does not repeat a label of any size.
    if label.len() > MAX_LABEL_BYTES {
        return Err(PackageError::LabelTooLong(label.len()));
    }
    let mut chars = label.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '+' | '-')) {
        Ok(())
    } else {
        Err(PackageError::InvalidLabel(label.to_owned()))
    }
}

/// The `metadata.json` wasmcc writes, with the key order of Fabric's own packager (path, type, label).
pub fn metadata_json(label: &str) -> Result<Vec<u8>, PackageError> {
    check_label(label)?;
    // A valid label needs no JSON escaping.
    Ok(format!(r#"{{"path":"","type":"{PACKAGE_TYPE}","label":"{label}"}}"#).into_bytes())
}

/// `code.tar.gz`: the module, then the CouchDB indexes sorted by name.
pub fn code_tar_gz(wasm: &[u8], indexes: &[(String, Vec<u8>)]) -> Result<Vec<u8>, PackageError> {
    let mut sorted: Vec<&(String, Vec<u8>)> = indexes.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    for pair in sorted.windows(2) {
        if pair[0].0 == pair[1].0 {
            return Err(PackageError::DuplicateIndex(pair[0].0.clone()));
        }
    }
    let mut entries = vec![(WASM_FILE.to_owned(), wasm)];
    for (name, bytes) in sorted {
        check_index_name(name)?;
        entries.push((format!("{INDEX_DIR}/{name}"), bytes.as_slice()));
    }
    tar_gz(&entries)
}

/// The package file: `metadata.json` (verbatim) then `code.tar.gz` (verbatim).
pub fn write_package(metadata_json: &[u8], code_tar_gz: &[u8]) -> Result<Vec<u8>, PackageError> {
    tar_gz(&[(METADATA_FILE.to_owned(), metadata_json), (CODE_FILE.to_owned(), code_tar_gz)])
}

/// The whole package of a module, as `wasmcc package` makes it.
pub fn package(label: &str, wasm: &[u8], indexes: &[(String, Vec<u8>)]) -> Result<Vec<u8>, PackageError> {
    write_package(&metadata_json(label)?, &code_tar_gz(wasm, indexes)?)
}

/// The package ID the peer computes: `label:` + lowercase hex SHA-256 of the package file.
pub fn package_id(label: &str, package: &[u8]) -> String {
    let digest = Sha256::digest(package);
    let mut id = String::with_capacity(label.len() + 1 + 64);
    id.push_str(label);
    id.push(':');
    for byte in digest {
        id.push_str(&format!("{byte:02x}"));
    }
    id
}

/// Fabric's `Sanitize` for file names: each of `< > : " / \ | ? * &` becomes `-`. The peer names the builder's
/// scratch directory `fabric-<sanitize(ccid)><random digits>` and its persisted build `<sanitize(ccid)>`.
pub fn sanitize(ccid: &str) -> String {
    ccid.chars()
        .map(|c| if matches!(c, '<' | '>' | ':' | '"' | '/' | '\\' | '|' | '?' | '*' | '&') { '-' } else { c })
        .collect()
}

fn check_index_name(name: &str) -> Result<(), PackageError> {
    let plain = !name.contains(['/', '\\', '\0']) && name != ".json" && !name.starts_with('.');
    if plain && name.ends_with(".json") {
        Ok(())
    } else {
        Err(PackageError::InvalidIndexName(name.to_owned()))
    }
}

/// A gzip'd tar of regular files with every variable header field fixed.
fn tar_gz(entries: &[(String, &[u8])]) -> Result<Vec<u8>, PackageError> {
    let mut tar = tar::Builder::new(Vec::new());
    for (path, data) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_size(data.len() as u64);
        // append_data writes the path (a GNU long-name entry when it needs one, itself with fixed fields) and the
        // checksum.
        tar.append_data(&mut header, path, *data)?;
    }
    let tar_bytes = tar.into_inner()?;
    // No file name, mtime 0, OS byte "unknown": the gzip header carries nothing about where or when.
    let mut gz = GzBuilder::new().mtime(0).operating_system(255).write(Vec::new(), Compression::default());
    gz.write_all(&tar_bytes)?;
    Ok(gz.finish()?)
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn untar(gz: &[u8]) -> Vec<(String, tar::Header, Vec<u8>)> {
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(gz));
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let path = e.path().unwrap().to_string_lossy().into_owned();
                let header = e.header().clone();
                let mut data = Vec::new();
                e.read_to_end(&mut data).unwrap();
                (path, header, data)
            })
            .collect()
    }

    #[test]
    fn same_input_same_bytes() {
        let idx = vec![("b.json".to_owned(), b"{}".to_vec()), ("a.json".to_owned(), b"{\"i\":1}".to_vec())];
        let a = package("cc_1.0", b"\0asm\x01\0\0\0", &idx).unwrap();
        let mut reversed = idx.clone();
        reversed.reverse();
        let b = package("cc_1.0", b"\0asm\x01\0\0\0", &reversed).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, package("cc_1.1", b"\0asm\x01\0\0\0", &idx).unwrap());
    }

    #[test]
    fn layout_is_what_the_peer_accepts() {
        let idx = vec![("by-owner.json".to_owned(), b"{}".to_vec())];
        let pkg = package("basic", b"wasm", &idx).unwrap();
        // gzip header: magic, deflate, no flags, mtime 0, OS unknown.
        assert_eq!(&pkg[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);
        let outer = untar(&pkg);
        let names: Vec<_> = outer.iter().map(|(p, _, _)| p.as_str()).collect();
        assert_eq!(names, [METADATA_FILE, CODE_FILE]);
        for (_, h, _) in &outer {
            assert_eq!(h.entry_type(), tar::EntryType::Regular);
            assert_eq!((h.mode().unwrap(), h.mtime().unwrap(), h.uid().unwrap(), h.gid().unwrap()), (0o644, 0, 0, 0));
        }
        assert_eq!(outer[0].2, br#"{"path":"","type":"wasm","label":"basic"}"#);
        let inner = untar(&outer[1].2);
        let names: Vec<_> = inner.iter().map(|(p, _, _)| p.as_str()).collect();
        assert_eq!(names, [WASM_FILE, "META-INF/statedb/couchdb/indexes/by-owner.json"]);
        assert_eq!(inner[0].2, b"wasm");
    }

    #[test]
    fn long_index_names_survive() {
        let name = format!("{}.json", "x".repeat(120));
        let code = code_tar_gz(b"w", &[(name.clone(), b"{}".to_vec())]).unwrap();
        assert_eq!(untar(&code)[1].0, format!("{INDEX_DIR}/{name}"));
    }

    #[test]
    fn package_id_is_label_and_hex_sha256() {
        assert_eq!(package_id("l", b"abc"), "l:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn labels_follow_the_peer_rule() {
        for ok in ["a", "cc_1.0+x-y", "0abc"] {
            check_label(ok).unwrap();
        }
        for bad in ["", "-a", "_a", "a b", "a:b", "a/b", "ä"] {
            assert!(matches!(check_label(bad), Err(PackageError::InvalidLabel(_))), "{bad:?}");
        }
    }

    #[test]
    fn labels_are_bounded_so_their_file_names_fit() {
        check_label(&"a".repeat(MAX_LABEL_BYTES)).unwrap();
        let long = "a".repeat(MAX_LABEL_BYTES + 1);
        let err = check_label(&long).unwrap_err();
        assert!(matches!(err, PackageError::LabelTooLong(n) if n == MAX_LABEL_BYTES + 1), "{err}");
        assert!(!err.to_string().contains(&long), "the message must not repeat the label: {err}");
        assert!(matches!(package(&long, b"w", &[]), Err(PackageError::LabelTooLong(_))));
        // The longest label's names fit: the host's package file and the peer's scratch directory.
        let ccid = package_id(&"a".repeat(MAX_LABEL_BYTES), b"");
        assert!(format!("{}.tar.gz", ccid.replace(':', ".")).len() <= NAME_MAX);
        assert!(format!("fabric-{}4294967295", sanitize(&ccid)).len() <= NAME_MAX);
    }

    #[test]
    fn index_names_are_plain_json_files() {
        for bad in ["a/b.json", "x.txt", ".json", "../a.json", ".hidden.json"] {
            assert!(code_tar_gz(b"w", &[(bad.to_owned(), vec![])]).is_err(), "{bad:?}");
        }
        let dup = [("a.json".to_owned(), vec![]), ("a.json".to_owned(), vec![1])];
        assert!(matches!(code_tar_gz(b"w", &dup), Err(PackageError::DuplicateIndex(_))));
    }

    #[test]
    fn sanitize_like_fabric() {
        assert_eq!(sanitize("mycc_1:ab"), "mycc_1-ab");
        assert_eq!(sanitize(r#"a<>:"/\|?*&b"#), "a----------b");
    }
}
