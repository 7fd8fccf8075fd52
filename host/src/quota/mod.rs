//! How one host shares itself among the chaincodes it serves, so that each is isolated from the others as if it ran
//! in its own process: every shared resource has a per-chaincode share and a host-wide bound.
//!
//! - [`admission`]: instance slots and guest memory, reserved before a transaction starts, with a per-chaincode
//!   concurrency cap and queue, and fair shares when chaincodes compete.
//! - [`cpu`]: turns on the guest threads, handed to the chaincode running the fewest guests; guests give theirs
//!   back while they wait on the peer and when a less served chaincode waits.
//! - [`threads`]: the guest threads, a runtime apart from the sockets', so that busy guests never delay reading a
//!   quiet chaincode's messages.
//! - [`placement`]: while the host is quiet, a short transaction runs where its message was read instead, sparing
//!   the thread wake-ups that would otherwise cost more than the guest.
//! - [`release`]: a thread at the lowest priority where instances that grew big are torn down, so giving their
//!   memory back never holds a guest thread.
//!
//! Time is bounded per transaction by the execute timeout (the session) and the run-time backstop (the executor).

pub mod admission;
pub mod cpu;
pub mod placement;
pub mod release;
pub mod threads;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub use admission::{Admission, Admitted, Capacity, Demand, Refused, Ticket};
pub use cpu::{CpuTurns, Turn};
pub use release::{Release, ReleaseLost};
pub use threads::{GuestTasks, GuestThreads};

use crate::limits;
use crate::telemetry::Gauges;

/// Per-chaincode state of a quota, keyed by chaincode id. Hashed with foldhash, not the standard SipHash: a
/// transaction looks its chaincode up several times (admitted, each CPU turn taken and given back, released), and
/// SipHash of the ~70-byte ids was 1% of a noop's CPU at c=64. The ids are the operator's installed chaincodes, a
/// map holds only those with transactions live, and foldhash's seed is random per process.
type ByChaincode<V> = HashMap<Arc<str>, V, foldhash::fast::RandomState>;

/// The host-wide bounds, from `[quota]` in the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuotaConfig {
    /// Instances that may exist at once across all chaincodes (the pooling allocator's slots).
    pub instances: u32,
    /// Guest memory all live instances may use together, in MiB; `None`: [`default_memory_budget`].
    pub memory_mb: Option<u64>,
    /// Longest a transaction waits to be admitted before it gets an error.
    pub admission_wait_ms: u64,
    /// Threads that run guests, i.e. transactions running guest code at once; `None`:
    /// [`threads::default_threads`]. `wasmcc serve --workers` sets it.
    pub threads: Option<u16>,
}

impl Default for QuotaConfig {
    fn default() -> Self {
        QuotaConfig {
            instances: limits::DEFAULT_INSTANCES,
            memory_mb: None,
            admission_wait_ms: limits::DEFAULT_ADMISSION_WAIT.as_millis() as u64,
            threads: None,
        }
    }
}

impl QuotaConfig {
    pub fn check(&self) -> Result<(), String> {
        if self.instances == 0 || self.instances > limits::MAX_INSTANCES {
            return Err(format!("instances must be 1..={}", limits::MAX_INSTANCES));
        }
        if self.memory_mb == Some(0) || self.admission_wait_ms == 0 || self.threads == Some(0) {
            return Err("memory_mb, admission_wait_ms and threads must be positive".into());
        }
        Ok(())
    }

    /// How many guest threads to start.
    pub fn threads(&self) -> usize {
        self.threads.map_or_else(threads::default_threads, usize::from)
    }

    pub fn capacity(&self) -> Capacity {
        Capacity {
            instances: self.instances,
            memory_bytes: self.memory_mb.map_or_else(default_memory_budget, |mb| mb << 20),
            wait: Duration::from_millis(self.admission_wait_ms),
        }
    }
}

/// The host's shares: admission, CPU turns, the threads the turns are on, and the thread big instances end on.
pub struct Quota {
    pub admission: Arc<Admission>,
    pub cpu: Arc<CpuTurns>,
    pub threads: GuestThreads,
    pub release: Release,
}

impl Quota {
    /// Starts the guest threads, with one CPU turn per thread. `kick` makes running guests reach their next epoch
    /// check now (the engine's epoch increment); `tick` makes the epoch tick every millisecond while guests wait for
    /// turns (the epoch ticker's nudge); `gauges` keep the count of those waiting, which the ticker reads.
    pub fn start(
        config: &QuotaConfig,
        kick: Arc<dyn Fn() + Send + Sync>,
        tick: Arc<dyn Fn() + Send + Sync>,
        gauges: Arc<Gauges>,
    ) -> std::io::Result<Self> {
        let threads = GuestThreads::new(config.threads(), kick.clone(), gauges.clone())?;
        let cpu = CpuTurns::new(threads.threads(), kick, tick, gauges);
        Ok(Quota { admission: Admission::new(config.capacity()), cpu, threads, release: Release::start()? })
    }
}

/// The default guest-memory budget: [`limits::DEFAULT_MEMORY_BUDGET_SHARE`] of the memory this process may use
/// (its cgroup's limit when it has one, else the machine's).
pub fn default_memory_budget() -> u64 {
    let available = cgroup_memory_limit().or_else(machine_memory).unwrap_or(limits::FALLBACK_MACHINE_MEMORY);
    let (num, den) = limits::DEFAULT_MEMORY_BUDGET_SHARE;
    available / den * num
}

/// cgroup v2 `memory.max` of this process, when it is a number.
fn cgroup_memory_limit() -> Option<u64> {
    let cgroup = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let path = cgroup.lines().find_map(|l| l.strip_prefix("0::"))?;
    let max = std::fs::read_to_string(format!("/sys/fs/cgroup{}/memory.max", path.trim_end_matches('/'))).ok()?;
    max.trim().parse().ok()
}

/// MemTotal of /proc/meminfo.
fn machine_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kb: u64 =
        meminfo.lines().find_map(|l| l.strip_prefix("MemTotal:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_budget_is_a_share_of_real_memory() {
        let budget = default_memory_budget();
        let machine = machine_memory().unwrap();
        assert!(budget > 0 && budget < machine, "{budget} of {machine}");
        assert!(QuotaConfig::default().check().is_ok());
        assert!(QuotaConfig { instances: 0, ..QuotaConfig::default() }.check().is_err());
    }
}
