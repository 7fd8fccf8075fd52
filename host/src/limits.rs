//! Every limit the host enforces, in one place, each with the reason for its value.
//!
//! Per-transaction limits are defaults: the operator may override them per chaincode in the host configuration
//! (a package says *what* runs, the operator says *how*).

use std::time::Duration;

/// The largest gRPC message the host sends or accepts. Fabric's peer, its CCaaS dial and the Go shim all use
/// 100 MiB; anything smaller would refuse a large state value the peer is happy to send.
pub const GRPC_MAX_MESSAGE_BYTES: usize = 100 * 1024 * 1024;

/// Default linear-memory cap of one transaction's instance. Fabric values are at most a few MiB in practice, and
/// 64 MiB leaves room for JSON decoding of large documents while keeping 64 concurrent transactions under 4 GiB.
pub const DEFAULT_MEMORY_BYTES: usize = 64 * 1024 * 1024;

/// Default fuel (roughly: wasm instructions) per transaction. Fuel, not time, is what cuts a runaway guest,
/// because every endorsing peer's host then stops it at the same instruction. One billion is several seconds of
/// pure computation: far beyond any honest contract, small enough to stop a loop quickly.
pub const DEFAULT_FUEL: u64 = 1_000_000_000;

/// How much fuel a guest may burn between yields to the async runtime, so a long computation never starves
/// the other transactions sharing a worker thread.
pub const FUEL_YIELD_INTERVAL: u64 = 1_000_000;

/// Wall-clock backstop per transaction, enforced by epoch interruption. It matches the peer's default
/// `chaincode.executetimeout` (30 s): past it the peer has given up on the transaction anyway.
pub const DEFAULT_WALL_CLOCK: Duration = Duration::from_secs(30);

/// Period of the engine's epoch ticker. The wall-clock limit is rounded up to a whole number of ticks; 10 ms keeps
/// that rounding invisible while costing one atomic increment per tick.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Instances that may exist at once across all chaincodes (the pooling allocator's slots). Each in-flight
/// transaction holds one; 1,000 covers 64 concurrent transactions on each of 15 busy chaincodes.
pub const MAX_CONCURRENT_INSTANCES: u32 = 1_000;

/// Core instances, memories and tables per component instance. A `wasm32-unknown-unknown` module turned into a
/// component brings a few small adapter modules along; 4 is ample for what `wit-component` emits.
pub const CORE_INSTANCES_PER_COMPONENT: u32 = 4;

/// Largest linear memory any chaincode may be configured with: the pooling allocator reserves this much address
/// space per memory slot, so it bounds both per-chaincode overrides and the host's virtual footprint.
pub const MAX_MEMORY_BYTES: usize = 256 * 1024 * 1024;

/// Largest table a guest may grow to. Rust guests use one small table for indirect calls; a table growing past
/// this is a guest gone wrong, and refusing it keeps host memory bounded.
pub const MAX_TABLE_ELEMENTS: usize = 100_000;

/// Concurrent transactions on one peer stream. A real peer sends as many as its clients ask for; past this the host
/// answers ERROR at once instead of queueing unbounded work behind one stream.
pub const MAX_TX_PER_STREAM: usize = 512;

// The defaults must fit the host's maximums; checked at compile time.
const _: () = assert!(DEFAULT_MEMORY_BYTES <= MAX_MEMORY_BYTES && FUEL_YIELD_INTERVAL < DEFAULT_FUEL);

/// Per-transaction limits, with the defaults above.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TxLimits {
    /// Linear-memory cap in bytes.
    pub memory_bytes: usize,
    /// Fuel budget.
    pub fuel: u64,
    /// Wall-clock backstop in milliseconds.
    pub wall_clock_ms: u64,
}

impl Default for TxLimits {
    fn default() -> Self {
        TxLimits {
            memory_bytes: DEFAULT_MEMORY_BYTES,
            fuel: DEFAULT_FUEL,
            wall_clock_ms: DEFAULT_WALL_CLOCK.as_millis() as u64,
        }
    }
}

impl TxLimits {
    /// The wall-clock limit in epoch ticks, rounded up so a limit is never shorter than asked.
    pub fn epoch_ticks(&self) -> u64 {
        let tick = EPOCH_TICK.as_millis() as u64;
        self.wall_clock_ms.div_ceil(tick).max(1)
    }

    /// Refuses limits the engine cannot honour.
    pub fn check(&self) -> Result<(), String> {
        if self.memory_bytes > MAX_MEMORY_BYTES {
            return Err(format!("memory_bytes {} exceeds the host maximum {}", self.memory_bytes, MAX_MEMORY_BYTES));
        }
        if self.fuel == 0 || self.wall_clock_ms == 0 {
            return Err("fuel and wall_clock_ms must be positive".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_within_host_maximums() {
        TxLimits::default().check().unwrap();
    }

    #[test]
    fn epoch_ticks_round_up() {
        let l = TxLimits { wall_clock_ms: 15, ..TxLimits::default() };
        assert_eq!(l.epoch_ticks(), 2);
        let l = TxLimits { wall_clock_ms: 30_000, ..TxLimits::default() };
        assert_eq!(l.epoch_ticks(), 3_000);
    }

    #[test]
    fn oversized_memory_is_refused() {
        let l = TxLimits { memory_bytes: MAX_MEMORY_BYTES + 1, ..TxLimits::default() };
        assert!(l.check().unwrap_err().contains("exceeds"));
    }
}
