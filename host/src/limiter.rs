//! What a transaction's instance may grow to: the per-transaction memory cap, and the high-water mark that tells
//! the executor how the instance must end. Part of the instance's state ([`crate::abi::TxState`]); the executor
//! installs it on the store.

use wasmtime::ResourceLimiter;

use crate::limits;

/// Caps linear memory per transaction. Refusing a grow traps at once with a message naming the limit, instead of
/// leaving a guest allocator to fail in some less legible way.
pub struct MemoryLimiter {
    max_bytes: usize,
    /// The largest linear memory granted so far: what the instance's teardown will have to give back.
    peak: usize,
}

impl MemoryLimiter {
    pub fn new(max_bytes: usize) -> Self {
        MemoryLimiter { max_bytes, peak: 0 }
    }

    /// The largest linear memory granted so far.
    pub fn peak(&self) -> usize {
        self.peak
    }

    /// Whether the instance's memory grew past what the pool keeps resident, so that ending it releases pages.
    pub fn grew_past_resident(&self) -> bool {
        self.peak > limits::KEEP_RESIDENT_MEMORY_BYTES
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _max: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            wasmtime::bail!(
                "memory limit exceeded: the chaincode asked for {desired} bytes of linear memory, the limit is {}",
                self.max_bytes
            );
        }
        self.peak = self.peak.max(desired);
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _max: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= limits::MAX_TABLE_ELEMENTS)
    }
}
