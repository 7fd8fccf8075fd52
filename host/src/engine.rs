//! The one wasmtime `Engine` of the host, configured for deterministic, bounded, fast-to-instantiate chaincode.
//!
//! Determinism: NaN canonicalization, no threads, no relaxed SIMD, fuel metering. Boundedness: fuel, a memory cap
//! and an epoch deadline per transaction. Speed: the pooling allocator keeps instance slots warm so that a fresh
//! instance per transaction costs microseconds.

use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::abi::{self, ChaincodePre, TxState};
use crate::limits;
use crate::metrics::Gauges;
use crate::quota::{Admission, CpuTurns, Quota, QuotaConfig};

/// How much of each freed linear memory stays mapped and is reset in place. A Rust guest's memory is its 1 MiB
/// stack plus data and heap: 2 MiB covers what a typical transaction touches, and PAGEMAP_SCAN resets only the
/// pages it dirtied, so the size costs nothing per transaction. Beyond it, pages are released with `madvise`.
const KEEP_RESIDENT_MEMORY_BYTES: usize = 2 * 1024 * 1024;
/// The same for tables: a component's tables are a few hundred entries at most.
const KEEP_RESIDENT_TABLE_BYTES: usize = 64 * 1024;

/// Why a module could not become a runnable chaincode.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("the engine could not be configured: {0}")]
    Config(String),
    #[error("not a valid wasm module or component: {0}")]
    Encode(String),
    #[error("compilation failed: {0}")]
    Compile(String),
    #[error("the chaincode does not match the wasmcc ABI: {0}")]
    Link(String),
}

/// The engine plus the linker holding every host import, shared by all chaincodes, and the host's shares of it.
pub struct WasmEngine {
    engine: Engine,
    linker: Linker<TxState>,
    ticker_stop: Arc<AtomicBool>,
    gauges: Arc<Gauges>,
    quota: Quota,
}

impl WasmEngine {
    /// Builds the engine with the default quota and starts its epoch ticker thread (stopped when the engine is
    /// dropped).
    pub fn new() -> Result<Self, EngineError> {
        Self::with_quota(&QuotaConfig::default())
    }

    /// As [`WasmEngine::new`], with the operator's host-wide bounds (`[quota]`).
    pub fn with_quota(quota: &QuotaConfig) -> Result<Self, EngineError> {
        quota.check().map_err(|e| EngineError::Config(format!("quota: {e}")))?;
        let engine = Engine::new(&Self::config(quota.instances)).map_err(|e| EngineError::Config(format!("{e:#}")))?;
        let mut linker = Linker::new(&engine);
        abi::add_to_linker(&mut linker).map_err(|e| EngineError::Config(format!("{e:#}")))?;
        let ticker_stop = Arc::new(AtomicBool::new(false));
        spawn_epoch_ticker(engine.clone(), ticker_stop.clone());
        let kicked = engine.clone();
        let quota =
            Quota { admission: Admission::new(quota.capacity()), cpu: CpuTurns::new(move || kicked.increment_epoch()) };
        Ok(WasmEngine { engine, linker, ticker_stop, gauges: Arc::default(), quota })
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
            .linear_memory_keep_resident(KEEP_RESIDENT_MEMORY_BYTES)
            .table_keep_resident(KEEP_RESIDENT_TABLE_BYTES);

        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .consume_fuel(true)
            .epoch_interruption(true)
            .cranelift_nan_canonicalization(true)
            .wasm_relaxed_simd(false)
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

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Compiles a core module (turned into a component in-process) or a ready component, and pre-links it.
    pub fn load(&self, bytes: &[u8]) -> Result<ChaincodePre<TxState>, EngineError> {
        let component_bytes = to_component(bytes)?;
        self.gauges.count_compilation();
        let component =
            Component::new(&self.engine, &component_bytes).map_err(|e| EngineError::Compile(format!("{e:#}")))?;
        self.prepare(&component)
    }

    /// Compiles a component to an artifact that [`WasmEngine::load_artifact`] maps back in without compiling.
    pub fn precompile(&self, component: &[u8]) -> Result<Vec<u8>, EngineError> {
        self.gauges.count_compilation();
        self.engine.precompile_component(component).map_err(|e| EngineError::Compile(format!("{e:#}")))
    }

    /// Loads an artifact written by [`WasmEngine::precompile`] by mmap, and pre-links it.
    pub fn load_artifact(&self, path: &Path) -> Result<ChaincodePre<TxState>, EngineError> {
        // SAFETY: `deserialize_file` trusts the file to be an artifact this engine configuration produced. The
        // host reads artifacts only from its own data directory, where it alone writes them (atomically, named by
        // module hash and this engine's compatibility hash), and wasmtime still checks the engine's header and
        // configuration before using one.
        let component = unsafe { Component::deserialize_file(&self.engine, path) }
            .map_err(|e| EngineError::Compile(format!("loading {}: {e:#}", path.display())))?;
        self.prepare(&component)
    }

    /// Identifies the engine build and configuration: artifacts are only valid for the engine that wrote them.
    pub fn compatibility_hash(&self) -> String {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.engine.precompile_compatibility_hash().hash(&mut hasher);
        format!("{:016x}", hasher.finish())
    }

    /// Pre-links a compiled component: resolving imports once here keeps that work off every transaction.
    pub fn prepare(&self, component: &Component) -> Result<ChaincodePre<TxState>, EngineError> {
        let pre = self.linker.instantiate_pre(component).map_err(|e| EngineError::Link(format!("{e:#}")))?;
        ChaincodePre::new(pre).map_err(|e| EngineError::Link(format!("{e:#}")))
    }
}

impl Drop for WasmEngine {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
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
        .map_err(|e| EngineError::Encode(format!("{e:#}")))
}

/// A wasm binary starts with `\0asm` and a version; components use layer 1 in the version's upper half.
fn wasmparser_is_component(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && &bytes[0..4] == b"\0asm" && bytes[6..8] == [0x01, 0x00]
}

fn spawn_epoch_ticker(engine: Engine, stop: Arc<AtomicBool>) {
    thread::Builder::new()
        .name("wasmcc-epoch".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                thread::sleep(limits::EPOCH_TICK);
                engine.increment_epoch();
            }
        })
        .expect("spawning the epoch ticker thread");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_refused_with_a_clear_error() {
        let engine = WasmEngine::new().unwrap();
        let err = engine.load(b"not wasm at all").err().unwrap();
        assert!(matches!(err, EngineError::Encode(_)), "{err}");
    }

    #[test]
    fn component_header_is_recognised() {
        assert!(wasmparser_is_component(b"\0asm\x0d\x00\x01\x00"));
        assert!(!wasmparser_is_component(b"\0asm\x01\x00\x00\x00"));
    }
}
