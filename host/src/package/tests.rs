use std::io::Write;

use flate2::write::{DeflateEncoder, GzEncoder};
use flate2::Compression;
use sha2::{Digest, Sha256};

use super::*;

const WASM: &[u8] = b"\0asm\x01\0\0\0";

/// One tar entry, written with a hand-made header so that names the `tar` crate refuses to write (`..`, absolute)
/// can be tested.
struct Raw<'a> {
    name: &'a str,
    kind: EntryType,
    link: &'a str,
    data: &'a [u8],
}

fn file<'a>(name: &'a str, data: &'a [u8]) -> Raw<'a> {
    Raw { name, kind: EntryType::Regular, link: "", data }
}

fn special<'a>(name: &'a str, kind: EntryType, link: &'a str) -> Raw<'a> {
    Raw { name, kind, link, data: b"" }
}

fn tar_of(entries: &[Raw]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let mut header = tar::Header::new_gnu();
        header.as_old_mut().name[..e.name.len()].copy_from_slice(e.name.as_bytes());
        header.as_old_mut().linkname[..e.link.len()].copy_from_slice(e.link.as_bytes());
        header.set_entry_type(e.kind);
        header.set_mode(0o644);
        header.set_size(e.data.len() as u64);
        header.set_cksum();
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(e.data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn metadata(label: &str, kind: &str) -> Vec<u8> {
    format!(r#"{{"type":"{kind}","label":"{label}","path":""}}"#).into_bytes()
}

/// A package whose outer tar holds these entries.
fn outer(entries: &[Raw]) -> Vec<u8> {
    gz(&tar_of(entries))
}

/// A well-formed package around a hand-made `code.tar.gz`.
fn with_code(code_entries: &[Raw]) -> Vec<u8> {
    let code = gz(&tar_of(code_entries));
    outer(&[file(METADATA_FILE, &metadata("cc", "wasm")), file(CODE_FILE, &code)])
}

/// A gzip stream that would expand to `mib` MiB of zeros, made without compressing them all: one flushed deflate
/// block of 1 MiB of zeros, repeated (each copy decodes the same from a byte boundary).
fn gzip_bomb(mib: usize) -> Vec<u8> {
    let mut deflate = DeflateEncoder::new(Vec::new(), Compression::fast());
    deflate.write_all(&vec![0; 1024 * 1024]).unwrap();
    deflate.flush().unwrap();
    let block = deflate.get_ref().clone();
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
    for _ in 0..mib {
        out.extend_from_slice(&block);
    }
    out.extend_from_slice(&[3, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    out
}

fn refusal(bytes: &[u8]) -> PackageError {
    read_package(bytes).expect_err("the package should be refused")
}

#[track_caller]
fn assert_mentions(err: &PackageError, needles: &[&str]) {
    let text = err.to_string();
    for needle in needles {
        assert!(text.contains(needle), "{text:?} should mention {needle:?}");
    }
}

#[test]
fn what_is_written_reads_back_with_the_peer_ccid() {
    let indexes = vec![("indexOwner.json".to_owned(), br#"{"index":{"fields":["owner"]}}"#.to_vec())];
    let bytes = write_package("basic_1.0", WASM, &indexes).unwrap();
    let pkg = read_package(&bytes).unwrap();
    let hash: String = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(pkg.ccid, format!("basic_1.0:{hash}"));
    assert_eq!(pkg.ccid, ccid("basic_1.0", &bytes));
    assert_eq!((pkg.label.as_str(), pkg.kind.as_str(), pkg.wasm.as_slice()), ("basic_1.0", "wasm", WASM));
    assert_eq!(pkg.indexes, indexes);
}

#[test]
fn writing_is_deterministic() {
    assert_eq!(write_package("cc", WASM, &[]).unwrap(), write_package("cc", WASM, &[]).unwrap());
}

#[test]
fn written_layout_is_two_regular_files() {
    let bytes = write_package("cc", WASM, &[]).unwrap();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes.as_slice()));
    let entries: Vec<_> = archive
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.path().unwrap().to_string_lossy().into_owned(), e.header().entry_type())
        })
        .collect();
    assert_eq!(entries, [(METADATA_FILE.into(), EntryType::Regular), (CODE_FILE.into(), EntryType::Regular)]);
}

#[test]
fn bad_labels_are_refused_when_writing_and_reading() {
    for label in ["", "-cc", "cc 1", "cc:1", "ünï"] {
        assert!(matches!(write_package(label, WASM, &[]), Err(PackageError::BadLabel { .. })), "{label:?}");
    }
    let code = gz(&tar_of(&[file(WASM_FILE, WASM)]));
    let err = refusal(&outer(&[file(METADATA_FILE, &metadata("-cc", "wasm")), file(CODE_FILE, &code)]));
    assert!(matches!(err, PackageError::BadLabel { .. }));
    assert_mentions(&err, &["\"-cc\"", "[[:alnum:]]"]);
}

#[test]
fn a_label_too_long_for_a_file_name_is_refused_without_repeating_it() {
    let long = "a".repeat(10_000);
    let err = write_package(&long, WASM, &[]).unwrap_err();
    assert!(matches!(err, PackageError::LabelTooLong { length: 10_000, .. }), "{err}");
    let code = gz(&tar_of(&[file(WASM_FILE, WASM)]));
    let err = refusal(&outer(&[file(METADATA_FILE, &metadata(&long, "wasm")), file(CODE_FILE, &code)]));
    assert!(matches!(err, PackageError::LabelTooLong { .. }), "{err}");
    assert_mentions(&err, &["10000 bytes", "MAX_LABEL_BYTES"]);
    assert!(!err.to_string().contains(&long[..200]), "{err}");
    let longest = "a".repeat(limits::MAX_LABEL_BYTES);
    assert_eq!(read_package(&write_package(&longest, WASM, &[]).unwrap()).unwrap().label, longest);
}

#[test]
fn bad_indexes_are_refused_when_writing() {
    let err = write_package("cc", WASM, &[("a.json".into(), b"{not json".to_vec())]).unwrap_err();
    assert_mentions(&err, &["a.json", "not valid JSON"]);
    let err = write_package("cc", WASM, &[("../a.json".into(), b"{}".to_vec())]).unwrap_err();
    assert!(matches!(err, PackageError::BadIndexName { .. }), "{err}");
}

#[test]
fn the_type_must_be_wasm_in_any_case() {
    let code = gz(&tar_of(&[file(WASM_FILE, WASM)]));
    let pkg = read_package(&outer(&[file(METADATA_FILE, &metadata("cc", "WASM")), file(CODE_FILE, &code)])).unwrap();
    assert_eq!(pkg.kind, "WASM");
    let err = refusal(&outer(&[file(METADATA_FILE, &metadata("cc", "ccaas")), file(CODE_FILE, &code)]));
    assert!(matches!(err, PackageError::WrongType { .. }));
    assert_mentions(&err, &["\"ccaas\"", "wasm"]);
}

#[test]
fn metadata_keys_match_in_any_case_like_go() {
    let code = gz(&tar_of(&[file(WASM_FILE, WASM)]));
    let meta = br#"{"Type":"wasm","LABEL":"cc","extra":1}"#;
    assert_eq!(read_package(&outer(&[file(METADATA_FILE, meta), file(CODE_FILE, &code)])).unwrap().label, "cc");
    let err = refusal(&outer(&[file(METADATA_FILE, b"[1]"), file(CODE_FILE, &code)]));
    assert_mentions(&err, &["metadata.json is not valid"]);
    let err = refusal(&outer(&[file(METADATA_FILE, br#"{"type":"wasm","label":7}"#), file(CODE_FILE, &code)]));
    assert_mentions(&err, &["\"label\" is 7"]);
    let big = vec![b' '; limits::MAX_METADATA_BYTES + 1];
    let err = refusal(&outer(&[file(METADATA_FILE, &big), file(CODE_FILE, &code)]));
    assert_mentions(&err, &["metadata.json", "MAX_METADATA_BYTES"]);
}

#[test]
fn path_traversal_is_refused_in_both_layers() {
    let err = refusal(&outer(&[file("../metadata.json", b"{}")]));
    assert!(matches!(err, PackageError::PathTraversal { .. }));
    assert_mentions(&err, &["\"../metadata.json\""]);
    let err = refusal(&with_code(&[file(WASM_FILE, WASM), file("META-INF/../../evil.json", b"{}")]));
    assert_mentions(&err, &["\"META-INF/../../evil.json\"", ".."]);
}

#[test]
fn absolute_paths_are_refused() {
    let err = refusal(&outer(&[file("/etc/metadata.json", b"{}")]));
    assert!(matches!(err, PackageError::AbsolutePath { .. }));
    let err = refusal(&with_code(&[file("/chaincode.wasm", WASM)]));
    assert_mentions(&err, &["\"/chaincode.wasm\"", "absolute"]);
}

#[test]
fn links_are_refused() {
    let err = refusal(&outer(&[special(METADATA_FILE, EntryType::Symlink, "/etc/passwd")]));
    assert!(matches!(err, PackageError::Link { kind: "symbolic link", .. }), "{err}");
    assert_mentions(&err, &["\"metadata.json\"", "/etc/passwd"]);
    let err = refusal(&with_code(&[file(WASM_FILE, WASM), special("other.wasm", EntryType::Link, WASM_FILE)]));
    assert!(matches!(err, PackageError::Link { kind: "hard link", .. }), "{err}");
    assert_mentions(&err, &["\"other.wasm\"", "hard link"]);
}

#[test]
fn other_non_regular_entries_are_refused() {
    let err = refusal(&outer(&[special("code/", EntryType::Directory, "")]));
    assert_mentions(&err, &["\"code/\"", "directory"]);
    let err = refusal(&with_code(&[file(WASM_FILE, WASM), special("pipe", EntryType::Fifo, "")]));
    assert_mentions(&err, &["\"pipe\"", "FIFO"]);
    let err = refusal(&with_code(&[special("tty", EntryType::Char, "")]));
    assert_mentions(&err, &["character device"]);
}

#[test]
fn the_outer_tar_holds_exactly_metadata_and_code() {
    let code = gz(&tar_of(&[file(WASM_FILE, WASM)]));
    let meta = metadata("cc", "wasm");
    let err = refusal(&outer(&[file(METADATA_FILE, &meta), file(CODE_FILE, &code), file("README", b"")]));
    assert!(matches!(err, PackageError::UnexpectedEntry { .. }));
    assert_mentions(&err, &["\"README\"", "metadata.json and code.tar.gz"]);
    let err = refusal(&outer(&[file("./metadata.json", &meta), file(CODE_FILE, &code)]));
    assert_mentions(&err, &["\"./metadata.json\""]);
    let err = refusal(&outer(&[file(METADATA_FILE, &meta)]));
    assert!(matches!(err, PackageError::MissingEntry { entry: CODE_FILE, .. }));
    let err = refusal(&outer(&[file(METADATA_FILE, &meta), file(METADATA_FILE, &meta)]));
    assert!(matches!(err, PackageError::DuplicateEntry { .. }));
}

#[test]
fn code_holds_one_module_and_indexes_and_may_hold_directories() {
    let idx = format!("{INDEX_DIR}/byOwner.json");
    let pkg = read_package(&with_code(&[
        special("./", EntryType::Directory, ""),
        special("./META-INF/", EntryType::Directory, ""),
        file(&format!("./{idx}"), b"{}"),
        file("./chaincode.wasm", WASM),
    ]))
    .unwrap();
    assert_eq!((pkg.wasm.as_slice(), pkg.indexes), (WASM, vec![("byOwner.json".to_owned(), b"{}".to_vec())]));

    let err = refusal(&with_code(&[file(WASM_FILE, WASM), file(WASM_FILE, WASM)]));
    assert!(matches!(err, PackageError::DuplicateEntry { .. }));
    let err = refusal(&with_code(&[file(&idx, b"{}")]));
    assert!(matches!(err, PackageError::MissingEntry { entry: WASM_FILE, .. }));
    let err = refusal(&with_code(&[file(WASM_FILE, WASM), file("src/main.go", b"")]));
    assert_mentions(&err, &["\"src/main.go\"", "code.tar.gz"]);
    let err = refusal(&with_code(&[file(WASM_FILE, WASM), file(&idx, b"{oops")]));
    assert_mentions(&err, &["byOwner.json", "not valid JSON"]);
}

#[test]
fn too_many_code_entries_are_refused() {
    let names: Vec<String> = (0..=limits::MAX_CODE_ENTRIES).map(|i| format!("d{i}/")).collect();
    let entries: Vec<Raw> = names.iter().map(|n| special(n, EntryType::Directory, "")).collect();
    let err = refusal(&with_code(&entries));
    assert!(matches!(err, PackageError::TooManyEntries { .. }));
    assert_mentions(&err, &["MAX_CODE_ENTRIES"]);
}

#[test]
fn an_oversized_module_is_refused_by_its_declared_size() {
    let mut code = tar_of(&[file(WASM_FILE, b"")]);
    let mut header = tar::Header::from_byte_slice(&code[..512]).clone();
    header.set_size(limits::MAX_MODULE_BYTES as u64 + 1);
    header.set_cksum();
    code[..512].copy_from_slice(header.as_bytes());
    let err = refusal(&outer(&[file(METADATA_FILE, &metadata("cc", "wasm")), file(CODE_FILE, &gz(&code))]));
    assert!(matches!(err, PackageError::TooLarge { .. }), "{err}");
    assert_mentions(&err, &["chaincode.wasm", "MAX_MODULE_BYTES"]);
}

#[test]
fn an_oversized_package_file_is_refused_before_reading() {
    let err = refusal(&vec![0; limits::MAX_PACKAGE_BYTES + 1]);
    assert_mentions(&err, &["package file", "MAX_PACKAGE_BYTES"]);
}

#[test]
fn gzip_bombs_stop_at_the_limit() {
    let mib = limits::MAX_UNPACKED_BYTES / (1024 * 1024) + 1;
    let bomb = gzip_bomb(mib);
    assert!(bomb.len() < 1024 * 1024, "the bomb itself is small ({} bytes)", bomb.len());
    let err = refusal(&bomb);
    assert!(matches!(err, PackageError::DecompressionLimit { what: "the package", .. }), "{err}");
    assert_mentions(&err, &["MAX_UNPACKED_BYTES", "gzip bomb"]);

    let err = refusal(&outer(&[file(METADATA_FILE, &metadata("cc", "wasm")), file(CODE_FILE, &bomb)]));
    assert!(matches!(err, PackageError::DecompressionLimit { what: "code.tar.gz", .. }), "{err}");
}

#[test]
fn truncated_and_garbage_packages_are_refused() {
    let bytes = write_package("cc", WASM, &[]).unwrap();
    for cut in [bytes.len() - 4, bytes.len() / 2, 11] {
        let err = refusal(&bytes[..cut]);
        assert!(matches!(err, PackageError::Gzip { .. }), "cut at {cut}: {err}");
        assert_mentions(&err, &["truncated"]);
    }
    assert!(matches!(refusal(b"not a package"), PackageError::Gzip { .. }));
    // A tar cut in the middle of an entry, inside a sound gzip stream.
    let tar = tar_of(&[file(METADATA_FILE, &[b'x'; 2000])]);
    let err = refusal(&gz(&tar[..1024]));
    assert!(matches!(err, PackageError::Tar { .. }), "{err}");
    assert_mentions(&err, &["metadata.json"]);
}
