//! The one wasmtime `Engine` of the host, configured for deterministic, bounded, fast-to-instantiate chaincode.
//!
//! Determinism: NaN canonicalization, no threads, no relaxed SIMD, fuel metering. Boundedness: fuel, a memory cap
//! and an epoch deadline per transaction; at most [`limits::MAX_CONCURRENT_COMPILES`] compilations at once. Speed:
//! the pooling allocator keeps instance slots warm so that a fresh instance per transaction costs microseconds.
//! Defence in depth: the engine enables only the wasm features `validate.rs` accepts (`features.rs`), so its
//! own validator refuses whatever the static checks would.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::abi::{self, ChaincodePre, TxState};
use crate::epoch::EpochTicker;
use crate::features;
use crate::limits;
use crate::quota::{Quota, QuotaConfig};
use crate::telemetry::{Gauges, InstanceGuard};

/// Why a module could not become a runnable chaincode.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("the engine could not be configured: quota: {0}")]
    Quota(String),
    #[error("the engine could not be configured: {0:#}")]
    Config(wasmtime::Error),
    #[error("the engine could not be configured: starting its threads: {0}")]
    Threads(#[source] std::io::Error),
    #[error("not a valid wasm module or component: {0:#}")]
    Encode(anyhow::Error),
    #[error("compilation failed: {0:#}")]
    Compile(wasmtime::Error),
    /// A stored artifact could not be mapped in: a fault of the host's data directory, not of the chaincode.
    #[error("loading the compiled artifact {}: {source:#}", path.display())]
    Artifact { path: PathBuf, source: wasmtime::Error },
    #[error("the chaincode does not match the wasmcc ABI: {0:#}")]
    Link(wasmtime::Error),
}

/// The engine plus the linker holding every host import, shared by all chaincodes, and the host's shares of it.
pub struct WasmEngine {
    engine: Engine,
    linker: Linker<TxState>,
    ticker: EpochTicker,
    gauges: Arc<Gauges>,
    quota: Quota,
    compiles: CompileSlots,
}

impl WasmEngine {
    /// Builds the engine with the default quota and starts its epoch ticker thread (stopped when the engine is
    /// dropped).
    pub fn new() -> Result<Self, EngineError> {
        Self::with_quota(&QuotaConfig::default())
    }

    /// As [`WasmEngine::new`], with the operator's host-wide bounds (`[quota]`).
    pub fn with_quota(quota: &QuotaConfig) -> Result<Self, EngineError> {
        Self::build(quota, Self::config(quota.instances))
    }

    /// As [`WasmEngine::new`], compiling with DWARF debug info and without optimisations, and telling a native
    /// debugger (gdb, lldb: the GDB JIT interface) where each compiled function is: `wasmcc replay --debug` steps
    /// through a chaincode's own source. Everything else, limits included, is as on a host.
    pub fn for_debugging() -> Result<Self, EngineError> {
        let quota = QuotaConfig::default();
        let mut config = Self::config(quota.instances);
        config.debug_info(true).cranelift_opt_level(wasmtime::OptLevel::None);
        Self::build(&quota, config)
    }

    fn build(quota: &QuotaConfig, config: Config) -> Result<Self, EngineError> {
        quota.check().map_err(EngineError::Quota)?;
        let engine = Engine::new(&config).map_err(EngineError::Config)?;
        let mut linker = Linker::new(&engine);
        abi::add_to_linker(&mut linker).map_err(EngineError::Config)?;
        let gauges: Arc<Gauges> = Arc::default();
        let ticked = engine.clone();
        let ticker =
            EpochTicker::start(move || ticked.increment_epoch(), gauges.clone()).map_err(EngineError::Threads)?;
        let (kicked, nudger) = (engine.clone(), ticker.nudger());
        let (kick, tick) = (Arc::new(move || kicked.increment_epoch()), Arc::new(move || nudger.nudge()));
        let quota = Quota::start(quota, kick, tick, gauges.clone()).map_err(EngineError::Threads)?;
        let compiles = CompileSlots::new(limits::MAX_CONCURRENT_COMPILES);
        Ok(WasmEngine { engine, linker, ticker, gauges, quota, compiles })
    }

    fn config(instances: u32) -> Config {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(instances)
            .total_core_instances(instances * limits::CORE_INSTANCES_PER_COMPONENT)
            .total_memories(instances * limits::CORE_INSTANCES_PER_COMPONENT)
            .total_tables(instances * limits::CORE_INSTANCES_PER_COMPONENT)
            .max_memory_size(limits::MAX_MEMORY_BYTES)
            .total_stacks(instances)
            // Reset a freed instance's memory and tables by rewriting only the pages it dirtied (PAGEMAP_SCAN,
            // Linux 6.7+) instead of `madvise`: every madvise of a multi-threaded process is a TLB shootdown
            // across all cores, which cost more than a third of the host's CPU per transaction (BENCHMARKS.md).
            // Where the ioctl is missing, wasmtime memsets the first `keep_resident` bytes instead.
            .pagemap_scan(wasmtime::Enabled::Auto)
            .linear_memory_keep_resident(limits::KEEP_RESIDENT_MEMORY_BYTES)
            .table_keep_resident(limits::KEEP_RESIDENT_TABLE_BYTES);

        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .consume_fuel(true)
            .epoch_interruption(true)
            .cranelift_nan_canonicalization(true)
            // Exactly the features validate.rs accepts: GC, function references, threads, exceptions, memory64,
            // multi-memory, relaxed SIMD, custom page sizes, stack switching, wide arithmetic, … are all off here.
            .wasm_features(features::ENGINE_DISABLED, false)
            .relaxed_simd_deterministic(true)
            // Explicit bounds checks instead of guard pages. With guard pages, wasmtime re-protects a memory slot
            // down to its initial size at every instantiation and the guest's first `memory.grow` unprotects it
            // again: two `mprotect`s, so two TLB shootdowns, per transaction, for a third of the host's CPU.
            // Without them a slot stays read/write up to its high-water mark, and the checks cost the guest far
            // less than that (chaincode spends its time in host calls, not in memory-bound loops).
            .signals_based_traps(false)
            .memory_guard_size(0)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        config
    }

    /// How transactions share the host: admission and CPU turns.
    pub fn quota(&self) -> &Quota {
        &self.quota
    }

    /// The live-instance and live-transaction gauges of everything run on this engine.
    pub fn gauges(&self) -> &Arc<Gauges> {
        &self.gauges
    }

    /// Counts a guest instance for as long as the guard lives, and makes sure the epoch ticks for it.
    pub fn count_instance(&self) -> InstanceGuard {
        let guard = InstanceGuard::new(self.gauges.clone());
        self.ticker.instance_started();
        guard
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Compiles a core module (turned into a component in-process) or a ready component, and pre-links it.
    pub fn load(&self, bytes: &[u8]) -> Result<ChaincodePre<TxState>, EngineError> {
        let component_bytes = to_component(bytes)?;
        let _slot = self.compiles.acquire();
        let started = std::time::Instant::now();
        let component = Component::new(&self.engine, &component_bytes);
        self.gauges.count_compilation(started.elapsed());
        self.prepare(&component.map_err(EngineError::Compile)?)
    }

    /// Compiles a component to an artifact that [`WasmEngine::load_artifact`] maps back in without compiling.
    pub fn precompile(&self, component: &[u8]) -> Result<Vec<u8>, EngineError> {
        let _slot = self.compiles.acquire();
        let started = std::time::Instant::now();
        let artifact = self.engine.precompile_component(component);
        self.gauges.count_compilation(started.elapsed());
        artifact.map_err(EngineError::Compile)
    }

    /// Loads an artifact written by [`WasmEngine::precompile`] by mmap, and pre-links it.
    pub fn load_artifact(&self, path: &Path) -> Result<ChaincodePre<TxState>, EngineError> {
        // SAFETY: `deserialize_file` trusts the file to be an artifact this engine configuration produced. The
        // host reads artifacts only from its own data directory, where it alone writes them (atomically, named by
        // module hash and this engine's compatibility hash), and wasmtime still checks the engine's header and
        // configuration before using one.
        let component = unsafe { Component::deserialize_file(&self.engine, path) }
            .map_err(|source| EngineError::Artifact { path: path.into(), source })?;
        self.prepare(&component)
    }

    /// Identifies the engine build and configuration: artifacts are only valid for the engine that wrote them.
    pub fn compatibility_hash(&self) -> String {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.engine.precompile_compatibility_hash().hash(&mut hasher);
        // An artifact is compiled from the rewritten module: a new rewrite needs new artifacts.
        crate::validate::REWRITE_VERSION.hash(&mut hasher);
        format!("{:016x}", hasher.finish())
    }

    /// Pre-links a compiled component: resolving imports once here keeps that work off every transaction.
    pub fn prepare(&self, component: &Component) -> Result<ChaincodePre<TxState>, EngineError> {
        let pre = self.linker.instantiate_pre(component).map_err(EngineError::Link)?;
        ChaincodePre::new(pre).map_err(EngineError::Link)
    }
}

/// A counting semaphore for the blocking compile paths (they run on blocking threads, not on the async runtime).
/// A compilation takes one core and hundreds of MiB for a large module; bounding how many run at once, whatever
/// asked for them (an upload, a restart that recompiles, a damaged artifact), bounds that.
struct CompileSlots {
    free: Mutex<usize>,
    freed: Condvar,
}

/// A held compile slot, given back when dropped.
struct CompileSlot<'a>(&'a CompileSlots);

impl CompileSlots {
    fn new(slots: usize) -> Self {
        CompileSlots { free: Mutex::new(slots), freed: Condvar::new() }
    }

    /// Waits for a free slot. A compile is bounded by the static limits, so the wait is too.
    fn acquire(&self) -> CompileSlot<'_> {
        let free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        let mut free = self.freed.wait_while(free, |free| *free == 0).unwrap_or_else(|e| e.into_inner());
        *free -= 1;
        CompileSlot(self)
    }
}

impl Drop for CompileSlot<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.0.freed.notify_one();
    }
}

/// Turns a core module into a component; passes a component through unchanged.
pub fn to_component(bytes: &[u8]) -> Result<Vec<u8>, EngineError> {
    if wasmparser_is_component(bytes) {
        return Ok(bytes.to_vec());
    }
    wit_component::ComponentEncoder::default()
        .module(bytes)
        .and_then(|enc| enc.validate(true).encode())
        .map_err(EngineError::Encode)
}

/// A wasm binary starts with `\0asm` and a version; components use layer 1 in the version's upper half.
fn wasmparser_is_component(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && &bytes[0..4] == b"\0asm" && bytes[6..8] == [0x01, 0x00]
}

#[cfg(test)]
mod tests {
    use wasmparser::{Validator, WasmFeatures};

    use super::*;

    #[test]
    fn garbage_is_refused_with_a_clear_error() {
        let engine = WasmEngine::new().unwrap();
        let err = engine.load(b"not wasm at all").err().unwrap();
        assert!(matches!(err, EngineError::Encode(_)), "{err}");
    }

    /// A component holding one core module of `body`: it reaches the engine unchanged (no wit-component, no
    /// validate.rs), so only the engine's own configuration can refuse it.
    fn component_with_module(body: &str) -> Vec<u8> {
        wat::parse_str(format!("(component (core module {body}))")).unwrap()
    }

    /// A use of each feature validate.rs refuses: a core module's body, or (starting with `(component`) a component.
    const PROPOSALS: &[(WasmFeatures, &str)] = &[
        // RUSTSEC-2026-0570: function subtypes aborted a host built without wasmtime's `gc` feature.
        (WasmFeatures::GC, "(type $f (sub (func))) (type (sub $f (func)))"),
        (WasmFeatures::GC, "(type (struct (field i32)))"),
        (WasmFeatures::FUNCTION_REFERENCES, "(type $t (func)) (func (param (ref $t)))"),
        (WasmFeatures::THREADS, "(memory 1 1 shared)"),
        (WasmFeatures::THREADS, "(memory 1) (func (result i32) i32.const 0 i32.const 1 i32.atomic.rmw.add)"),
        (WasmFeatures::SHARED_EVERYTHING_THREADS, "(global (shared i32) (i32.const 0))"),
        (WasmFeatures::EXCEPTIONS, "(tag) (func throw 0)"),
        (WasmFeatures::LEGACY_EXCEPTIONS, "(func try catch_all end)"),
        (WasmFeatures::MEMORY64, "(memory i64 1)"),
        (WasmFeatures::MULTI_MEMORY, "(memory 1) (memory 1)"),
        (WasmFeatures::RELAXED_SIMD, "(func (param v128) (result v128) local.get 0 i32x4.relaxed_trunc_f32x4_s)"),
        (WasmFeatures::CUSTOM_PAGE_SIZES, "(memory 1 (pagesize 1))"),
        (WasmFeatures::STACK_SWITCHING, "(type $f (func)) (type (cont $f))"),
        (
            WasmFeatures::WIDE_ARITHMETIC,
            "(func (param i64 i64 i64 i64) (result i64 i64) local.get 0 local.get 1 local.get 2 local.get 3 \
             i64.add128)",
        ),
        (WasmFeatures::CM_ASYNC, "(component (type (stream u8)))"),
        (WasmFeatures::CM_THREADING, "(component (core func (canon thread.index)))"),
        (WasmFeatures::CM_ERROR_CONTEXT, "(component (core func (canon error-context.drop)))"),
    ];

    #[test]
    fn the_engine_itself_refuses_every_refused_proposal() {
        let engine = WasmEngine::new().unwrap();
        let mut accepted = Vec::new();
        for &(flag, text) in PROPOSALS {
            let component = match text.starts_with("(component") {
                true => wat::parse_str(text).unwrap(),
                false => component_with_module(text),
            };
            // Valid with every feature on, invalid with only the allowed ones: what the engine refuses below is a
            // feature, not a mistake in the test.
            let validate = |features| Validator::new_with_features(features).validate_all(&component).map(drop);
            validate(WasmFeatures::all()).unwrap_or_else(|e| panic!("{text}: not valid wasm: {e}"));
            assert!(validate(features::ALLOWED).is_err(), "{text} needs no refused feature");
            match engine.load(&component) {
                Err(EngineError::Compile(_)) => {}
                Err(other) => accepted.push(format!("{flag:?} (compiled, then: {other})")),
                Ok(_) => accepted.push(format!("{flag:?}")),
            }
        }
        assert!(accepted.is_empty(), "the engine compiled modules using {accepted:#?}");
    }

    #[test]
    fn every_refused_feature_has_an_engine_test() {
        for &(flag, name, _) in features::REFUSED {
            assert!(PROPOSALS.iter().any(|&(f, _)| f == flag), "no test that the engine refuses {name}");
        }
    }

    #[test]
    fn the_engine_accepts_what_validate_allows() {
        let engine = WasmEngine::new().unwrap();
        // Tail calls, SIMD, bulk memory and extended constants compile; the component then fails only at linking
        // (it exports no chaincode), which is after compilation.
        let allowed = "(memory 1) (global i32 (i32.add (i32.const 1) (i32.const 2))) \
                       (func $f (param v128) (result v128) local.get 0 local.get 0 f32x4.add) \
                       (func (param v128) (result v128) local.get 0 return_call $f) \
                       (func i32.const 0 i32.const 0 i32.const 0 memory.fill)";
        let err = engine.load(&component_with_module(allowed)).err().unwrap();
        assert!(matches!(err, EngineError::Link(_)), "{err}");
    }

    #[test]
    fn component_header_is_recognised() {
        assert!(wasmparser_is_component(b"\0asm\x0d\x00\x01\x00"));
        assert!(!wasmparser_is_component(b"\0asm\x01\x00\x00\x00"));
    }
}
