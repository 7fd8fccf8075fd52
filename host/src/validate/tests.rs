use std::path::PathBuf;

use super::*;

fn example(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/wasm").join(format!("{name}.wasm"));
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e}. Build the examples: bash scripts/build-guests.sh", path.display()))
}

fn wat(text: &str) -> Vec<u8> {
    wat::parse_str(text).unwrap()
}

/// A module of `body`, with the memory every chaincode exports.
fn module(body: &str) -> Vec<u8> {
    wat(&format!("(module (memory (export \"memory\") 1) {body})"))
}

fn refusal(bytes: &[u8]) -> ValidateError {
    validate(bytes).expect_err("the module should be refused")
}

#[track_caller]
fn assert_mentions(err: &ValidateError, needles: &[&str]) {
    let text = err.to_string();
    for needle in needles {
        assert!(text.contains(needle), "{text:?} should mention {needle:?}");
    }
}

#[test]
fn the_examples_are_accepted() {
    for name in ["asset_transfer", "bench", "counter", "marbles", "misbehave", "private_asset", "probe"] {
        let wasm = example(name);
        let v = validate(&wasm).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(v.summary.kind, InputKind::CoreModule);
        assert!(v.summary.interfaces.contains(&"fabric:chaincode/ledger@0.1.1".to_owned()), "{:?}", v.summary);
        assert_eq!(v.module_hash, hex::encode(Sha256::digest(&wasm)));
        // The component passes through unchanged, with its imports still checked at the component level.
        let again = validate(&v.component).unwrap();
        assert_eq!(again.component, v.component);
        assert_eq!(again.summary.kind, InputKind::Component);
        assert!(again.summary.interfaces.iter().all(|i| i.starts_with("fabric:chaincode/")), "{:?}", again.summary);
    }
}

#[test]
fn the_interface_list_follows_the_wit() {
    let wit = std::fs::read_to_string(PathBuf::from(crate::abi::WIT_DIR).join("chaincode.wit")).unwrap();
    let mut declared: Vec<&str> =
        wit.lines().filter_map(|l| l.strip_prefix("interface ").and_then(|r| r.split_whitespace().next())).collect();
    declared.sort();
    let mut ours = INTERFACES.to_vec();
    ours.sort();
    assert_eq!(declared, ours);
    assert!(wit.contains(&format!("package {WIT_PACKAGE}@{WIT_VERSION};")));
}

#[test]
fn malformed_wasm_is_refused_clearly() {
    for bytes in [&b"not wasm at all"[..], b"\0asm\x01\0\0\0\x01\xff", b""] {
        let err = refusal(bytes);
        assert!(matches!(err, ValidateError::Malformed(_)), "{err}");
        assert_mentions(&err, &["not a valid wasm module"]);
    }
}

#[test]
fn imports_outside_the_interface_are_named() {
    let err = refusal(&wat(
        r#"(module (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32))))"#,
    ));
    assert!(matches!(err, ValidateError::WasiImport { .. }));
    assert_mentions(&err, &["wasi_snapshot_preview1::fd_write", "wasm32-unknown-unknown"]);
    // What getrandom's `wasm_js` backend leaves in a module: the dependency is named, not just the import.
    let err = refusal(&wat(r#"(module (import "__wbindgen_placeholder__" "__wbindgen_describe" (func (param i32))))"#));
    assert!(matches!(err, ValidateError::BrowserImport { .. }));
    assert_mentions(&err, &["__wbindgen_placeholder__::__wbindgen_describe", "getrandom", "wasm_js"]);
    let err = refusal(&wat(r#"(module (import "env" "now" (func (result f64))))"#));
    assert!(matches!(err, ValidateError::ForbiddenImport { .. }));
    for module_name in [
        "fabric:chaincode/ledger@0.2.0",
        "fabric:chaincode/ledger@0.1.2",
        "fabric:chaincode/ledger@0.1",
        "fabric:chaincode/ledger",
        "fabric:chaincode/clock@0.1.1",
        "$root",
        "env",
    ] {
        let err = refusal(&wat(&format!(r#"(module (import "{module_name}" "f" (func)))"#)));
        assert_mentions(&err, &[&format!("{module_name}::f")]);
    }
}

#[test]
fn a_component_importing_outside_the_interface_is_named() {
    let err = refusal(&wat(r#"(component (import "wasi:clocks/wall-clock@0.2.0" (instance)))"#));
    assert_mentions(&err, &["`wasi:clocks/wall-clock@0.2.0`"]);
}

#[test]
fn threads_and_shared_memory_are_refused() {
    let err = refusal(&wat("(module (memory 1 1 shared))"));
    assert!(matches!(err, ValidateError::Feature { .. }), "{err}");
    assert_mentions(&err, &["threads", "endorsing peers"]);
    let err = refusal(&module("(func (result i32) i32.const 0 i32.const 1 i32.atomic.rmw.add)"));
    assert_mentions(&err, &["threads"]);
}

#[test]
fn relaxed_simd_memory64_and_multi_memory_are_refused_by_name() {
    let relaxed = "(func (param v128) (result v128) local.get 0 i32x4.relaxed_trunc_f32x4_s)";
    assert_mentions(&refusal(&module(relaxed)), &["relaxed-simd", "CPUs"]);
    assert_mentions(&refusal(&wat("(module (memory i64 1))")), &["memory64"]);
    assert_mentions(&refusal(&wat("(module (memory 1) (memory 1))")), &["multi-memory"]);
}

#[test]
fn deterministic_simd_is_accepted() {
    check_features(&module("(func (param v128) (result v128) local.get 0 local.get 0 f32x4.add)")).unwrap();
}

#[track_caller]
fn assert_limit(bytes: &[u8], limit_name: &str, value: u64) {
    let err = refusal(bytes);
    assert!(matches!(err, ValidateError::Limit { .. }), "{err}");
    assert_mentions(&err, &[limit_name, &format!(" {value},")]);
}

#[test]
fn each_static_limit_is_enforced() {
    let over = |n: u64, item: &str| item.repeat(n as usize + 1);
    let functions = limits::MAX_FUNCTIONS;
    assert_limit(&module(&over(functions, "(func)")), "MAX_FUNCTIONS", functions + 1);
    let globals = limits::MAX_GLOBALS;
    assert_limit(&module(&over(globals, "(global i32 (i32.const 0))")), "MAX_GLOBALS", globals + 1);
    let segments = limits::MAX_DATA_SEGMENTS;
    assert_limit(&module(&over(segments, "(data (i32.const 0) \"\")")), "MAX_DATA_SEGMENTS", segments + 1);
    // `module` exports the memory too.
    let exports: String = (0..limits::MAX_EXPORTS).map(|i| format!("(export \"e{i}\" (func 0))")).collect();
    assert_limit(&module(&format!("(func) {exports}")), "MAX_EXPORTS", limits::MAX_EXPORTS + 1);
    assert_limit(&module("(table 1 funcref) (table 1 funcref)"), "MAX_TABLES_PER_MODULE", 2);
    let elements = limits::MAX_TABLE_INITIAL_ELEMENTS + 1;
    assert_limit(&module(&format!("(table {elements} funcref)")), "MAX_TABLE_INITIAL_ELEMENTS", elements);
    // A body is its locals declaration (one byte when empty), its instructions and `end`.
    let body = limits::MAX_FUNCTION_BODY_BYTES;
    assert_limit(&module(&format!("(func {})", "nop ".repeat(body as usize - 1))), "MAX_FUNCTION_BODY_BYTES", body + 1);
    let locals = limits::MAX_FUNCTION_LOCALS;
    assert_limit(
        &module(&format!("(func (local {}))", "i32 ".repeat(locals as usize + 1))),
        "MAX_FUNCTION_LOCALS",
        locals + 1,
    );
    let stack = limits::MAX_OPERAND_STACK as usize;
    let deep = format!("(func {} {})", "i32.const 1 ".repeat(stack + 1), "drop ".repeat(stack + 1));
    assert_limit(&module(&deep), "MAX_OPERAND_STACK", stack as u64 + 1);
    let pages = limits::MAX_MEMORY_PAGES + 1;
    assert_limit(&wat(&format!("(module (memory {pages}))")), "MAX_MEMORY_PAGES", pages);
    let err = refusal(&wat(&format!("(module (memory 1 {pages}))")));
    assert_mentions(&err, &["declared maximum", "MAX_MEMORY_PAGES"]);
}

#[test]
fn limits_at_their_value_are_accepted() {
    let pages = limits::MAX_MEMORY_PAGES;
    let text =
        format!("(memory (export \"memory\") {pages} {pages}) (table {} funcref)", limits::MAX_TABLE_INITIAL_ELEMENTS);
    inspect(&wat(&format!("(module {text} {})", "(global i32 (i32.const 0))".repeat(limits::MAX_GLOBALS as usize))))
        .unwrap();
    let functions = "(func)".repeat(limits::MAX_FUNCTIONS as usize - 3);
    let largest = format!("(func {})", "nop ".repeat(limits::MAX_FUNCTION_BODY_BYTES as usize - 2));
    let most_locals = format!("(func (local {}))", "i64 ".repeat(limits::MAX_FUNCTION_LOCALS as usize));
    let stack = limits::MAX_OPERAND_STACK as usize;
    let deepest = format!("(func {} {})", "i32.const 1 ".repeat(stack), "drop ".repeat(stack));
    let summary = inspect(&module(&format!("{functions} {largest} {most_locals} {deepest}"))).unwrap();
    assert_eq!(summary.functions, limits::MAX_FUNCTIONS);
}

#[test]
fn an_oversized_module_is_refused_before_parsing() {
    let err = refusal(&vec![0; limits::MAX_MODULE_BYTES + 1]);
    assert!(matches!(err, ValidateError::TooLarge { .. }));
    assert_mentions(&err, &["MAX_MODULE_BYTES"]);
}

#[test]
fn a_module_without_the_chaincode_world_is_refused() {
    let err = refusal(&module("(func (export \"invoke\"))"));
    assert!(matches!(err, ValidateError::MissingEntryPoint { name: "init" }), "{err}");
    assert_mentions(&err, &["`init`", "fabric:chaincode/chaincode@0.1.1"]);
}

#[test]
fn an_interface_import_outside_the_world_cannot_become_a_component() {
    let err = refusal(&wat(r#"(module (import "fabric:chaincode/ledger@0.1.0" "no-such-call" (func)))"#));
    assert!(matches!(err, ValidateError::Componentize(_)), "{err}");
}

/// A guest built against 0.1.0, before `abort` was added: the same module with its import names (and its embedded
/// WIT) saying 0.1.0. It passes the checks and the engine links it to the 0.1.1 interfaces.
#[test]
fn a_guest_built_against_an_earlier_compatible_version_is_accepted_and_links() {
    let current = example("counter");
    let (new, old) = (format!("@{WIT_VERSION}"), format!("@{}", WIT_COMPATIBLE_VERSIONS[0]));
    assert_eq!(new.len(), old.len(), "the patch below keeps every length");
    let mut earlier = current.clone();
    let mut at = 0;
    while let Some(i) = earlier[at..].windows(new.len()).position(|w| w == new.as_bytes()) {
        earlier[at + i..at + i + new.len()].copy_from_slice(old.as_bytes());
        at += i + new.len();
    }
    assert_ne!(earlier, current);
    let v = validate(&earlier).unwrap();
    assert!(v.summary.interfaces.contains(&"fabric:chaincode/ledger@0.1.0".to_owned()), "{:?}", v.summary);
    assert!(v.summary.interfaces.iter().all(|i| i.ends_with("@0.1.0")), "{:?}", v.summary);
    crate::engine::WasmEngine::new().unwrap().load(&v.component).unwrap();
}
