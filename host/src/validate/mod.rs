//! Static checks of a chaincode module at upload (and offline, by `wasmcc check`), before anything compiles it.
//!
//! A module that passes is well-formed, uses only deterministic wasm features, imports nothing but the chaincode
//! interface (no WASI, no clock, no randomness: every endorsing peer must compute the same result), and stays within
//! the static limits of [`crate::limits`], so that a module the host accepts is one it can instantiate on every
//! transaction. Whether its imports also have the right *types* is decided when the engine links it. A core module
//! that passes then has its `memory.fill`s and `memory.copy`s sliced (`slices.rs`) before it becomes a component, so that no single
//! instruction keeps a guest from its epoch checks for long.

use sha2::{Digest, Sha256};
use wasmparser::{
    ComponentTypeRef, Encoding, FuncToValidate, FuncValidatorAllocations, FunctionBody, OperatorsReader, Parser,
    Payload, TypeRef, ValidPayload, Validator, ValidatorResources, WasmFeatures,
};

use crate::engine;
use crate::features::{ALLOWED, REFUSED};
use crate::limits;

mod slices;

/// Changes with every rewrite `validate` makes of a module, so that artifacts compiled before a change are compiled
/// again ([`crate::engine::WasmEngine::compatibility_hash`]).
pub const REWRITE_VERSION: &str = "slices-3";

/// The WIT package a chaincode may import from.
pub const WIT_PACKAGE: &str = "fabric:chaincode";
/// The version of that package this host serves.
pub const WIT_VERSION: &str = "0.1.1";
/// The versions a guest may import: the served one and the earlier ones on its 0.1 track, which the engine links to
/// it (wasmtime matches a 0.1.x import to the host's 0.1.y), so guests built before an addition keep working.
pub const WIT_COMPATIBLE_VERSIONS: &[&str] = &["0.1.0", WIT_VERSION];
/// The interfaces of `guest-sdk/wit/chaincode.wit` (a test keeps this list in step with the file).
pub const INTERFACES: &[&str] = &["types", "ledger", "context", "events", "cross-chaincode", "abort"];

/// A module that passed every check, ready for the engine.
#[derive(Debug, Clone)]
pub struct Validated {
    /// The component to compile: the input itself, or the core module turned into a component.
    pub component: Vec<u8>,
    /// Lowercase hex SHA-256 of the input, which names it in the store.
    pub module_hash: String,
    pub summary: Summary,
}

/// What the checks saw, for the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub kind: InputKind,
    pub bytes: usize,
    /// The chaincode interfaces imported, e.g. `fabric:chaincode/ledger@0.1.1`, sorted.
    pub interfaces: Vec<String>,
    pub core_modules: usize,
    /// Functions of all core modules together.
    pub functions: u64,
    /// The largest initial memory of any core module, in 64 KiB pages.
    pub memory_pages: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    CoreModule,
    Component,
}

impl std::fmt::Display for InputKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            InputKind::CoreModule => "core module",
            InputKind::Component => "component",
        })
    }
}

/// Why a module is refused. Each message names the feature, import or limit at fault.
#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    #[error("the module is {size} bytes, over the limit of {limit} bytes (limits::MAX_MODULE_BYTES)")]
    TooLarge { size: usize, limit: usize },
    #[error("not a valid wasm module or component: {0}")]
    Malformed(String),
    #[error("uses the wasm feature `{feature}`, which wasmcc refuses: {reason}")]
    Feature { feature: &'static str, reason: &'static str },
    #[error("uses a wasm feature wasmcc does not enable: {0}")]
    UnsupportedFeature(String),
    #[error(
        "imports `{import}`, which is not part of the chaincode interface \
         (only the fabric:chaincode/… interfaces, versions {oldest} to {WIT_VERSION}, may be imported)",
        oldest = WIT_COMPATIBLE_VERSIONS[0]
    )]
    ForbiddenImport { import: String },
    /// wasm-bindgen's JavaScript glue: what a dependency built for a browser leaves behind.
    #[error(
        "imports `{import}`, wasm-bindgen's JavaScript glue: a dependency was built for a browser (getrandom with its \
         `wasm_js` backend, js-sys, web-sys, …). Chaincode has no JavaScript host, and randomness would make endorsing \
         peers disagree: remove that dependency (`cargo tree -i getrandom` shows who pulls getrandom in) and derive any \
         value from the transaction instead (its id, timestamp or arguments)"
    )]
    BrowserImport { import: String },
    /// WASI: a module built for a WASI target.
    #[error(
        "imports `{import}` from WASI: the module was built for a WASI target. Build chaincode for \
         wasm32-unknown-unknown (`wasmcc` and the SDK's build scripts do); the host gives a chaincode no clock, files, \
         environment or randomness, only the transaction and its ledger"
    )]
    WasiImport { import: String },
    #[error("{location}: {what} is {value}, over the limit of {limit} (limits::{limit_name})")]
    Limit { location: String, what: &'static str, value: u64, limit: u64, limit_name: &'static str },
    #[error(
        "does not export `{name}`: a chaincode exports the world `{WIT_PACKAGE}/chaincode@{WIT_VERSION}` \
         (built with wit-bindgen against the wasmcc SDK's wit/, as the SDK does)"
    )]
    MissingEntryPoint { name: &'static str },
    #[error("cannot be turned into a component: {0}")]
    Componentize(String),
}

/// The name a module is kept under everywhere (store, artifact cache, shared store): its SHA-256, in hex.
pub fn module_hash(wasm: &[u8]) -> String {
    hex::encode(Sha256::digest(wasm))
}

/// Runs every static check and turns a core module into a component.
pub fn validate(wasm: &[u8]) -> Result<Validated, ValidateError> {
    if wasm.len() > limits::MAX_MODULE_BYTES {
        return Err(ValidateError::TooLarge { size: wasm.len(), limit: limits::MAX_MODULE_BYTES });
    }
    check_features(wasm)?;
    let summary = inspect(wasm)?;
    let sliced = slices::slice_bulk_memory(wasm).map_err(ValidateError::Componentize)?;
    let component = engine::to_component(sliced.as_deref().unwrap_or(wasm))
        .map_err(|e| ValidateError::Componentize(e.to_string()))?;
    check_entry_points(&component)?;
    Ok(Validated { component, module_hash: module_hash(wasm), summary })
}

/// The world's exports every chaincode must have. A core module without the world's type information still becomes
/// a component, with no exports; refusing it here says why instead of leaving it to a link error.
pub const ENTRY_POINTS: &[&str] = &["init", "invoke"];

fn check_entry_points(component: &[u8]) -> Result<(), ValidateError> {
    let mut exports = Vec::new();
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(component) {
        match payload.map_err(|e| ValidateError::Componentize(e.to_string()))? {
            Payload::Version { .. } => depth += 1,
            Payload::End(_) => depth -= 1,
            Payload::ComponentExportSection(reader) if depth == 1 => {
                for export in reader {
                    exports.push(export.map_err(|e| ValidateError::Componentize(e.to_string()))?.name.name);
                }
            }
            _ => {}
        }
    }
    match ENTRY_POINTS.iter().find(|name| !exports.contains(name)) {
        Some(name) => Err(ValidateError::MissingEntryPoint { name }),
        None => Ok(()),
    }
}

/// Validates with the allowed features; on failure, tells a malformed module from one that needs a refused feature
/// (and which), by validating again with everything enabled and then without each refused feature in turn.
fn check_features(wasm: &[u8]) -> Result<(), ValidateError> {
    let valid_with = |features| Validator::new_with_features(features).validate_all(wasm);
    let Err(refusal) = valid_with(ALLOWED) else { return Ok(()) };
    if let Err(malformed) = valid_with(WasmFeatures::all()) {
        return Err(ValidateError::Malformed(malformed.to_string()));
    }
    for &(flag, feature, reason) in REFUSED {
        if valid_with(WasmFeatures::all().difference(flag)).is_err() {
            return Err(ValidateError::Feature { feature, reason });
        }
    }
    Err(ValidateError::UnsupportedFeature(refusal.to_string()))
}

/// Walks every core module (the input, or each one nested in a component), checking imports and static limits. A
/// validator walks along, for what only validation knows (the height of each function's operand stack).
fn inspect(wasm: &[u8]) -> Result<Summary, ValidateError> {
    let mut nesting: Vec<Encoding> = Vec::new();
    let mut kind = InputKind::CoreModule;
    let mut interfaces: Vec<String> = Vec::new();
    let mut module: Option<ModuleCounts> = None;
    let (mut core_modules, mut functions, mut memory_pages) = (0, 0, 0);
    let malformed = |e: wasmparser::BinaryReaderError| ValidateError::Malformed(e.to_string());
    let mut validator = Validator::new_with_features(ALLOWED);
    let mut allocations = FuncValidatorAllocations::default();

    for payload in Parser::new(0).parse_all(wasm) {
        let top_level = nesting.len() == 1;
        let payload = payload.map_err(malformed)?;
        if let ValidPayload::Func(func, body) = validator.payload(&payload).map_err(malformed)? {
            allocations = check_body(in_module(&mut module)?, func, &body, allocations)?;
        }
        match payload {
            Payload::Version { encoding, .. } => {
                if nesting.is_empty() && encoding == Encoding::Component {
                    kind = InputKind::Component;
                }
                if encoding == Encoding::Module {
                    core_modules += 1;
                    let location = match kind {
                        InputKind::CoreModule => "the module".to_owned(),
                        InputKind::Component => format!("core module #{core_modules}"),
                    };
                    module = Some(ModuleCounts { location, functions: 0 });
                }
                nesting.push(encoding);
            }
            Payload::End(_) => {
                let ended = nesting.pop();
                if ended == Some(Encoding::Module) {
                    let counts = module.take().ok_or_else(outside_module)?;
                    counts.check("functions", counts.functions, limits::MAX_FUNCTIONS, "MAX_FUNCTIONS")?;
                    functions += counts.functions;
                }
            }
            Payload::ImportSection(reader) => {
                let counts = in_module(&mut module)?;
                for import in reader.into_imports() {
                    let import = import.map_err(malformed)?;
                    if top_level {
                        interfaces.push(allowed_core_import(import.module, import.name)?);
                    }
                    if matches!(import.ty, TypeRef::Func(_) | TypeRef::FuncExact(_)) {
                        counts.functions += 1;
                    }
                }
            }
            Payload::ComponentImportSection(reader) if top_level => {
                for import in reader {
                    let import = import.map_err(malformed)?;
                    // A type import (the world's `use types.{response}`) names a type, not a capability.
                    if !matches!(import.ty, ComponentTypeRef::Type(_)) {
                        interfaces.push(allowed_component_import(import.name.name)?);
                    }
                }
            }
            Payload::FunctionSection(reader) => {
                in_module(&mut module)?.functions += u64::from(reader.count());
            }
            Payload::TableSection(reader) => {
                let counts = in_module(&mut module)?;
                let tables = u64::from(reader.count());
                counts.check("the number of tables", tables, limits::MAX_TABLES_PER_MODULE, "MAX_TABLES_PER_MODULE")?;
                for table in reader {
                    let initial = table.map_err(malformed)?.ty.initial;
                    let limit = limits::MAX_TABLE_INITIAL_ELEMENTS;
                    counts.check("a table's initial size", initial, limit, "MAX_TABLE_INITIAL_ELEMENTS")?;
                }
            }
            Payload::MemorySection(reader) => {
                let counts = in_module(&mut module)?;
                for memory in reader {
                    let memory = memory.map_err(malformed)?;
                    let limit = limits::MAX_MEMORY_PAGES;
                    counts.check("initial memory (pages)", memory.initial, limit, "MAX_MEMORY_PAGES")?;
                    if let Some(maximum) = memory.maximum {
                        counts.check("declared maximum memory (pages)", maximum, limit, "MAX_MEMORY_PAGES")?;
                    }
                    memory_pages = memory_pages.max(memory.initial);
                }
            }
            Payload::GlobalSection(reader) => {
                let counts = in_module(&mut module)?;
                counts.check("the number of globals", reader.count().into(), limits::MAX_GLOBALS, "MAX_GLOBALS")?;
            }
            Payload::DataSection(reader) => {
                let counts = in_module(&mut module)?;
                let limit = limits::MAX_DATA_SEGMENTS;
                counts.check("the number of data segments", reader.count().into(), limit, "MAX_DATA_SEGMENTS")?;
            }
            Payload::ExportSection(reader) => {
                let counts = in_module(&mut module)?;
                counts.check("the number of exports", reader.count().into(), limits::MAX_EXPORTS, "MAX_EXPORTS")?;
            }
            _ => {}
        }
    }
    interfaces.sort();
    interfaces.dedup();
    Ok(Summary { kind, bytes: wasm.len(), interfaces, core_modules, functions, memory_pages })
}

/// The module being walked. The parser yields module sections only inside a module; this keeps a parser surprise
/// an error rather than a panic.
fn in_module(module: &mut Option<ModuleCounts>) -> Result<&mut ModuleCounts, ValidateError> {
    module.as_mut().ok_or_else(outside_module)
}

fn outside_module() -> ValidateError {
    ValidateError::Malformed("a module section outside a module".into())
}

/// The limits on one function body, which bound what compiling it costs: its size, its locals, and the most values
/// its operand stack holds at once. Hands the validator's allocations back for the next body.
fn check_body(
    counts: &ModuleCounts,
    func: FuncToValidate<ValidatorResources>,
    body: &FunctionBody<'_>,
    allocations: FuncValidatorAllocations,
) -> Result<FuncValidatorAllocations, ValidateError> {
    let malformed = |e: wasmparser::BinaryReaderError| ValidateError::Malformed(e.to_string());
    let (bytes, limit) = (body.range().len() as u64, limits::MAX_FUNCTION_BODY_BYTES);
    counts.check("a function body (bytes)", bytes, limit, "MAX_FUNCTION_BODY_BYTES")?;
    let mut locals = 0u64;
    for group in body.get_locals_reader().map_err(malformed)? {
        locals += u64::from(group.map_err(malformed)?.0);
    }
    counts.check("a function's locals", locals, limits::MAX_FUNCTION_LOCALS, "MAX_FUNCTION_LOCALS")?;

    let mut validator = func.into_validator(allocations);
    let mut reader = body.get_binary_reader();
    validator.read_locals(&mut reader).map_err(malformed)?;
    let mut operators = OperatorsReader::new(reader);
    while !operators.eof() {
        let offset = operators.original_position();
        validator.op(offset, &operators.read().map_err(malformed)?).map_err(malformed)?;
        let (height, limit) = (u64::from(validator.operand_stack_height()), limits::MAX_OPERAND_STACK);
        counts.check("a function's operand stack (values)", height, limit, "MAX_OPERAND_STACK")?;
    }
    Ok(validator.into_allocations())
}

/// The per-module counters that are only known once the module ends.
struct ModuleCounts {
    location: String,
    functions: u64,
}

impl ModuleCounts {
    fn check(&self, what: &'static str, value: u64, limit: u64, limit_name: &'static str) -> Result<(), ValidateError> {
        if value > limit {
            return Err(ValidateError::Limit { location: self.location.clone(), what, value, limit, limit_name });
        }
        Ok(())
    }
}

/// A core module imports from `fabric:chaincode/<interface>@<version>` (the functions wit-bindgen lowers) or from
/// the same name prefixed with `[export]` (canonical-ABI intrinsics of exported resources). Anything else, such as
/// `wasi_snapshot_preview1`, is a capability the host does not give. Returns the interface imported.
fn allowed_core_import(module: &str, name: &str) -> Result<String, ValidateError> {
    let interface = module.strip_prefix("[export]").unwrap_or(module);
    let import = format!("{module}::{name}");
    if is_chaincode_interface(interface) {
        Ok(interface.to_owned())
    } else if module.starts_with("__wbindgen") || name.starts_with("__wbindgen") {
        Err(ValidateError::BrowserImport { import })
    } else if module.starts_with("wasi") {
        Err(ValidateError::WasiImport { import })
    } else {
        Err(ValidateError::ForbiddenImport { import })
    }
}

/// A component may import only chaincode interfaces, by their full versioned name.
fn allowed_component_import(name: &str) -> Result<String, ValidateError> {
    if is_chaincode_interface(name) {
        Ok(name.to_owned())
    } else {
        Err(ValidateError::ForbiddenImport { import: name.to_owned() })
    }
}

fn is_chaincode_interface(name: &str) -> bool {
    let Some(rest) = name.strip_prefix(WIT_PACKAGE).and_then(|r| r.strip_prefix('/')) else { return false };
    let Some((interface, version)) = rest.split_once('@') else { return false };
    INTERFACES.contains(&interface) && WIT_COMPATIBLE_VERSIONS.contains(&version)
}

#[cfg(test)]
mod tests;
