//! Fabric chaincode packages: making them, naming them (CCID) and reading them safely.
//!
//! Making is delegated to `wasmcc-common`, which the external builder shares: the builder re-creates the package
//! bytes to learn its CCID, so both must write the very same bytes (`docs/fabric-protocol.md` §9, pitfall 11).
//!
//! Reading takes bytes from an untrusted uploader. Everything is bounded before it is expanded: the package size,
//! each gzip layer's decompressed size (a gzip bomb stops at the limit instead of filling memory), the entry count
//! and each entry's size. Only what Fabric accepts and `write_package` makes gets through: the outer tar holds exactly
//! `metadata.json` and `code.tar.gz` as regular files; `code.tar.gz` holds `chaincode.wasm`, CouchDB indexes and
//! (as Fabric allows there) directories. Links, devices, absolute paths and `..` are refused wherever they appear,
//! even though nothing here writes to disk, so that no later consumer of these names can be misled.

use std::io::{self, Read};

use flate2::read::MultiGzDecoder;
use tar::EntryType;

use crate::limits;

pub use wasmcc_common::package::{CODE_FILE, INDEX_DIR, METADATA_FILE, PACKAGE_TYPE, WASM_FILE};

/// A package as read, with the CCID the peer computes for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub label: String,
    /// The metadata `type`, as written (wasmcc requires `wasm` in any case).
    pub kind: String,
    pub ccid: String,
    pub wasm: Vec<u8>,
    /// CouchDB index definitions: file name (`*.json`) and contents, in archive order.
    pub indexes: Vec<(String, Vec<u8>)>,
}

/// Why a package cannot be made or is refused. Each message names the entry or the limit at fault.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("invalid label {label:?}: the peer requires ^[[:alnum:]][[:alnum:]_.+-]*$")]
    BadLabel { label: String },
    #[error(
        "the label is {length} bytes long, over the limit of {limit} bytes (limits::MAX_LABEL_BYTES): names made \
         from it must fit a file name"
    )]
    LabelTooLong { length: usize, limit: usize },
    #[error("invalid index name {name:?}: expected a plain file name ending in .json")]
    BadIndexName { name: String },
    #[error("index {name:?} is not valid JSON: {reason}")]
    BadIndex { name: String, reason: String },
    #[error("{what} is {size} bytes, over the limit of {limit} bytes (limits::{limit_name})")]
    TooLarge { what: String, size: u64, limit: usize, limit_name: &'static str },
    #[error("{what} expands past {limit} bytes (limits::MAX_UNPACKED_BYTES): refused as a possible gzip bomb")]
    DecompressionLimit { what: &'static str, limit: usize },
    // The io::Error is in the message rather than a `source`, so that a plain `to_string()` (the admin API's answer)
    // says what went wrong without a chain printer repeating it.
    #[error("{what} is not a valid gzip stream (truncated or corrupt?): {cause}")]
    Gzip { what: &'static str, cause: io::Error },
    #[error("{what} is not a valid tar archive (truncated or corrupt?): {cause}")]
    Tar { what: String, cause: io::Error },
    #[error("{what} holds more than {limit} entries (limits::MAX_CODE_ENTRIES)")]
    TooManyEntries { what: &'static str, limit: usize },
    #[error("entry {entry:?} has an absolute path")]
    AbsolutePath { entry: String },
    #[error("entry {entry:?} leaves its directory through `..`")]
    PathTraversal { entry: String },
    #[error("entry {entry:?} is a {kind} to {target:?}; packages hold regular files only")]
    Link { entry: String, kind: &'static str, target: String },
    #[error("entry {entry:?} is a {kind}, not a regular file")]
    NotRegular { entry: String, kind: String },
    #[error("entry {entry:?} has a name that is not UTF-8")]
    NonUtf8Name { entry: String },
    #[error("entry {entry:?} is not allowed in {what}: it may hold only {allowed}")]
    UnexpectedEntry { entry: String, what: &'static str, allowed: &'static str },
    #[error("entry {entry:?} appears twice in {what}")]
    DuplicateEntry { entry: String, what: &'static str },
    #[error("{what} has no {entry:?} entry")]
    MissingEntry { entry: &'static str, what: &'static str },
    #[error("metadata.json is not valid: {reason}")]
    Metadata { reason: String },
    #[error("metadata.json has type {found:?}, but wasmcc runs only packages of type \"wasm\"")]
    WrongType { found: String },
    #[error("writing the package: {0}")]
    Write(io::Error),
}

const OUTER: &str = "the package";
const CODE: &str = "code.tar.gz";
const OUTER_ALLOWED: &str = "metadata.json and code.tar.gz";
const CODE_ALLOWED: &str = "chaincode.wasm, META-INF/statedb/couchdb/indexes/*.json and directories";

/// Makes the package of a module, byte for byte the same for the same inputs (and thus the same CCID).
pub fn write_package(label: &str, wasm: &[u8], indexes: &[(String, Vec<u8>)]) -> Result<Vec<u8>, PackageError> {
    check_size("chaincode.wasm", wasm.len() as u64, limits::MAX_MODULE_BYTES, "MAX_MODULE_BYTES")?;
    for (name, json) in indexes {
        check_index_json(name, json)?;
    }
    wasmcc_common::package::package(label, wasm, indexes).map_err(|e| match e {
        wasmcc_common::package::PackageError::InvalidLabel(label) => PackageError::BadLabel { label },
        wasmcc_common::package::PackageError::LabelTooLong(length) => label_too_long(length),
        wasmcc_common::package::PackageError::InvalidIndexName(name) => PackageError::BadIndexName { name },
        wasmcc_common::package::PackageError::DuplicateIndex(name) => {
            PackageError::DuplicateEntry { entry: format!("{INDEX_DIR}/{name}"), what: CODE }
        }
        wasmcc_common::package::PackageError::Io(e) => PackageError::Write(e),
    })
}

/// The package ID the peer computes: `label:` + lowercase hex SHA-256 of the package file.
pub fn ccid(label: &str, package: &[u8]) -> String {
    wasmcc_common::package::package_id(label, package)
}

/// Refuses a label the peer would refuse at install, or one too long for the file names made from it.
pub fn check_label(label: &str) -> Result<(), PackageError> {
    wasmcc_common::package::check_label(label).map_err(|e| match e {
        wasmcc_common::package::PackageError::LabelTooLong(length) => label_too_long(length),
        _ => PackageError::BadLabel { label: label.to_owned() },
    })
}

fn label_too_long(length: usize) -> PackageError {
    PackageError::LabelTooLong { length, limit: limits::MAX_LABEL_BYTES }
}

/// Reads an uploaded package, refusing anything Fabric or wasmcc would not accept.
pub fn read_package(bytes: &[u8]) -> Result<Package, PackageError> {
    check_size("the package file", bytes.len() as u64, limits::MAX_PACKAGE_BYTES, "MAX_PACKAGE_BYTES")?;
    let outer = gunzip(bytes, OUTER)?;
    let (mut metadata, mut code) = (None, None);
    // No count limit needed here: any entry past the two allowed names is refused as it comes.
    walk(&outer, OUTER, usize::MAX, |name, kind, entry| {
        if kind == Kind::Directory {
            return Err(PackageError::NotRegular { entry: name.to_owned(), kind: "directory".into() });
        }
        let (slot, limit, limit_name) = match name {
            METADATA_FILE => (&mut metadata, limits::MAX_METADATA_BYTES, "MAX_METADATA_BYTES"),
            CODE_FILE => (&mut code, limits::MAX_PACKAGE_BYTES, "MAX_PACKAGE_BYTES"),
            _ => return Err(unexpected(name, OUTER, OUTER_ALLOWED)),
        };
        if slot.is_some() {
            return Err(PackageError::DuplicateEntry { entry: name.to_owned(), what: OUTER });
        }
        *slot = Some(read_entry(entry, name, OUTER, limit, limit_name)?);
        Ok(())
    })?;
    let metadata = metadata.ok_or(PackageError::MissingEntry { entry: METADATA_FILE, what: OUTER })?;
    let code = code.ok_or(PackageError::MissingEntry { entry: CODE_FILE, what: OUTER })?;

    let (label, kind) = parse_metadata(&metadata)?;
    let (wasm, indexes) = read_code(&code)?;
    Ok(Package { ccid: ccid(&label, bytes), label, kind, wasm, indexes })
}

/// Reads `{"type","label","path"}` as the peer's Go `encoding/json` does: keys match case-insensitively (an exact
/// match first), unknown keys are ignored, a missing key is the empty string.
fn parse_metadata(bytes: &[u8]) -> Result<(String, String), PackageError> {
    let object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(bytes).map_err(|e| PackageError::Metadata { reason: e.to_string() })?;
    let field = |key: &str| -> Result<String, PackageError> {
        let value =
            object.get(key).or_else(|| object.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v));
        match value {
            None => Ok(String::new()),
            Some(serde_json::Value::String(s)) => Ok(s.clone()),
            Some(other) => Err(PackageError::Metadata { reason: format!("\"{key}\" is {other}, not a string") }),
        }
    };
    let (label, kind) = (field("label")?, field("type")?);
    check_label(&label)?;
    if !kind.eq_ignore_ascii_case(PACKAGE_TYPE) {
        return Err(PackageError::WrongType { found: kind });
    }
    Ok((label, kind))
}

type Indexes = Vec<(String, Vec<u8>)>;

/// `code.tar.gz`: exactly one `chaincode.wasm`, any CouchDB indexes, directories tolerated. A leading `./` (as
/// `tar -C dir .` writes) is ignored, since Fabric untars this layer as a directory tree.
fn read_code(code: &[u8]) -> Result<(Vec<u8>, Indexes), PackageError> {
    let tar = gunzip(code, CODE)?;
    let mut wasm = None;
    let mut indexes: Indexes = Vec::new();
    walk(&tar, CODE, limits::MAX_CODE_ENTRIES, |name, kind, entry| {
        let path = name.strip_prefix("./").unwrap_or(name);
        if kind == Kind::Directory {
            return Ok(());
        }
        if path == WASM_FILE {
            if wasm.is_some() {
                return Err(PackageError::DuplicateEntry { entry: name.to_owned(), what: CODE });
            }
            wasm = Some(read_entry(entry, name, CODE, limits::MAX_MODULE_BYTES, "MAX_MODULE_BYTES")?);
        } else if let Some(file) = path.strip_prefix(INDEX_DIR).and_then(|rest| rest.strip_prefix('/')) {
            if !is_index_name(file) {
                return Err(unexpected(name, CODE, CODE_ALLOWED));
            }
            if indexes.iter().any(|(n, _)| n == file) {
                return Err(PackageError::DuplicateEntry { entry: name.to_owned(), what: CODE });
            }
            let json = read_entry(entry, name, CODE, limits::MAX_UNPACKED_BYTES, "MAX_UNPACKED_BYTES")?;
            check_index_json(file, &json)?;
            indexes.push((file.to_owned(), json));
        } else {
            return Err(unexpected(name, CODE, CODE_ALLOWED));
        }
        Ok(())
    })?;
    let wasm = wasm.ok_or(PackageError::MissingEntry { entry: WASM_FILE, what: CODE })?;
    Ok((wasm, indexes))
}

/// Decompresses one gzip layer, refusing (not truncating) output past the limit. Concatenated gzip members are
/// read as one stream, as Go's reader in the peer does.
fn gunzip(bytes: &[u8], what: &'static str) -> Result<Vec<u8>, PackageError> {
    let limit = limits::MAX_UNPACKED_BYTES;
    let mut out = Vec::new();
    MultiGzDecoder::new(bytes)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|cause| PackageError::Gzip { what, cause })?;
    if out.len() > limit {
        return Err(PackageError::DecompressionLimit { what, limit });
    }
    Ok(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Directory,
}

/// Visits each entry of a tar after the checks every entry must pass: entry count, UTF-8 name, no absolute path,
/// no `..`, regular file or directory only.
fn walk(
    tar_bytes: &[u8],
    what: &'static str,
    max_entries: usize,
    mut visit: impl FnMut(&str, Kind, &mut tar::Entry<'_, &[u8]>) -> Result<(), PackageError>,
) -> Result<(), PackageError> {
    let tar_error = |cause| PackageError::Tar { what: what.to_owned(), cause };
    let mut archive = tar::Archive::new(tar_bytes);
    for (index, entry) in archive.entries().map_err(tar_error)?.enumerate() {
        let mut entry = entry.map_err(tar_error)?;
        if index >= max_entries {
            return Err(PackageError::TooManyEntries { what, limit: max_entries });
        }
        let raw = entry.path_bytes();
        let name = std::str::from_utf8(&raw)
            .map_err(|_| PackageError::NonUtf8Name { entry: String::from_utf8_lossy(&raw).into_owned() })?
            .to_owned();
        check_path(&name)?;
        let kind = match entry.header().entry_type() {
            EntryType::Regular => Kind::File,
            EntryType::Directory => Kind::Directory,
            link @ (EntryType::Symlink | EntryType::Link) => {
                let target = entry.link_name_bytes().map(|t| String::from_utf8_lossy(&t).into_owned());
                let kind = if link == EntryType::Symlink { "symbolic link" } else { "hard link" };
                return Err(PackageError::Link { entry: name, kind, target: target.unwrap_or_default() });
            }
            other => return Err(PackageError::NotRegular { entry: name, kind: describe(other) }),
        };
        visit(&name, kind, &mut entry)?;
    }
    Ok(())
}

fn check_path(name: &str) -> Result<(), PackageError> {
    if name.starts_with(['/', '\\']) {
        return Err(PackageError::AbsolutePath { entry: name.to_owned() });
    }
    if name.split(['/', '\\']).any(|part| part == "..") {
        return Err(PackageError::PathTraversal { entry: name.to_owned() });
    }
    Ok(())
}

/// Reads one entry's data, refusing by its declared size before reading a byte.
fn read_entry(
    entry: &mut tar::Entry<'_, &[u8]>,
    name: &str,
    what: &'static str,
    limit: usize,
    limit_name: &'static str,
) -> Result<Vec<u8>, PackageError> {
    check_size(name, entry.size(), limit, limit_name)?;
    let mut data = Vec::with_capacity(entry.size() as usize);
    let tar_error = |cause| PackageError::Tar { what: format!("{what} (entry {name:?})"), cause };
    entry.read_to_end(&mut data).map_err(tar_error)?;
    // The tar reader ends a cut entry quietly; its declared size tells.
    if data.len() as u64 != entry.size() {
        return Err(tar_error(io::Error::new(io::ErrorKind::UnexpectedEof, "the entry ends before its declared size")));
    }
    Ok(data)
}

fn check_size(what: &str, size: u64, limit: usize, limit_name: &'static str) -> Result<(), PackageError> {
    if size > limit as u64 {
        return Err(PackageError::TooLarge { what: what.to_owned(), size, limit, limit_name });
    }
    Ok(())
}

/// The peer validates CouchDB index definitions at install; a broken one is refused here, at packaging or upload.
fn check_index_json(name: &str, json: &[u8]) -> Result<(), PackageError> {
    serde_json::from_slice::<serde_json::Value>(json)
        .map(drop)
        .map_err(|e| PackageError::BadIndex { name: name.to_owned(), reason: e.to_string() })
}

fn is_index_name(file: &str) -> bool {
    !file.is_empty() && !file.contains(['/', '\\']) && !file.starts_with('.') && file.ends_with(".json")
}

fn unexpected(name: &str, what: &'static str, allowed: &'static str) -> PackageError {
    PackageError::UnexpectedEntry { entry: name.to_owned(), what, allowed }
}

fn describe(kind: EntryType) -> String {
    match kind {
        EntryType::Char => "character device".into(),
        EntryType::Block => "block device".into(),
        EntryType::Fifo => "FIFO".into(),
        EntryType::Continuous => "contiguous file".into(),
        EntryType::GNUSparse => "sparse file".into(),
        EntryType::XGlobalHeader => "pax global header".into(),
        other => format!("tar entry of type {:?}", other.as_byte() as char),
    }
}

#[cfg(test)]
mod tests;
