//! What the host tells its operator about itself: Prometheus metrics at `/metrics` ([`render`]), per chaincode and
//! host-wide.
//!
//! Everything is counted in atomics where it happens ([`ChaincodeMetrics`] on each chaincode, [`HostCounters`] and
//! [`Gauges`] for the host), and read only when scraped, so the transaction path pays a few `fetch_add`s and no lock.
//! Labels stay bounded: a chaincode is named by its label and the first 12 hex digits of its package hash, never by
//! anything a transaction carries.

mod chaincode;
mod export;
mod gauges;
mod histogram;

use std::sync::atomic::{AtomicU64, Ordering};

pub use chaincode::{ChaincodeMetrics, OpenStream, Outcome};
pub use export::render;
pub use gauges::{Gauges, InstanceGuard, TransactionGuard};

/// The content type of [`render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Host-wide counters of the registry and the admin API.
#[derive(Debug)]
pub struct HostCounters {
    installs: AtomicU64,
    removes: AtomicU64,
    /// Reads of every chaincode of the shared store: at start and each time its connection comes back.
    shared_store_reads: AtomicU64,
    /// Admin API responses by HTTP status (100–599).
    admin: [AtomicU64; 500],
}

impl Default for HostCounters {
    fn default() -> Self {
        HostCounters {
            installs: AtomicU64::new(0),
            removes: AtomicU64::new(0),
            shared_store_reads: AtomicU64::new(0),
            admin: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl HostCounters {
    pub fn installed(&self) {
        self.installs.fetch_add(1, Ordering::Relaxed);
    }

    pub fn removed(&self) {
        self.removes.fetch_add(1, Ordering::Relaxed);
    }

    pub fn read_shared_store(&self) {
        self.shared_store_reads.fetch_add(1, Ordering::Relaxed);
    }

    pub fn shared_store_reads(&self) -> u64 {
        self.shared_store_reads.load(Ordering::Relaxed)
    }

    pub fn admin_response(&self, status: u16) {
        if let Some(count) = status.checked_sub(100).and_then(|i| self.admin.get(usize::from(i))) {
            count.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn installs(&self) -> u64 {
        self.installs.load(Ordering::Relaxed)
    }

    pub fn removes(&self) -> u64 {
        self.removes.load(Ordering::Relaxed)
    }

    fn admin_responses(&self) -> impl Iterator<Item = (u16, u64)> + '_ {
        self.admin.iter().enumerate().map(|(i, c)| (i as u16 + 100, c.load(Ordering::Relaxed))).filter(|(_, c)| *c > 0)
    }
}
