//! Gauges of one runtime, also exported at `/metrics`. Tests read them to prove that nothing leaks when a peer vanishes mid-transaction; they
//! are per runtime, not global, so tests running in parallel do not see each other's work.

use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Default)]
pub struct Gauges {
    instances: AtomicI64,
    transactions: AtomicI64,
    /// Of `transactions`, those waiting on their peer's answer or for admission: they need no CPU meanwhile.
    waiting: AtomicI64,
    compilations: AtomicI64,
    compile_nanos: AtomicU64,
    /// Guests waiting for a CPU turn (`quota/cpu.rs` keeps the count): read by every epoch check, and by the epoch
    /// ticker, which ticks fast only while someone waits.
    turn_waiters: AtomicUsize,
}

impl Gauges {
    /// Guest instances (Stores) alive right now.
    pub fn live_instances(&self) -> i64 {
        self.instances.load(Ordering::SeqCst)
    }

    /// Modules compiled by this engine since it started (loading a stored artifact is not a compilation).
    pub fn compilations(&self) -> i64 {
        self.compilations.load(Ordering::SeqCst)
    }

    /// Time spent compiling, all compilations together.
    pub fn compile_time(&self) -> Duration {
        Duration::from_nanos(self.compile_nanos.load(Ordering::Relaxed))
    }

    pub(crate) fn count_compilation(&self, took: Duration) {
        self.compilations.fetch_add(1, Ordering::SeqCst);
        self.compile_nanos.fetch_add(took.as_nanos().min(u128::from(u64::MAX)) as u64, Ordering::Relaxed);
    }

    /// Guests waiting for a CPU turn right now.
    pub fn turn_waiters(&self) -> usize {
        self.turn_waiters.load(Ordering::SeqCst)
    }

    /// One more guest waits for a CPU turn (`quota/cpu.rs`, under its lock).
    pub(crate) fn turn_waiter_came(&self) {
        self.turn_waiters.fetch_add(1, Ordering::SeqCst);
    }

    /// A guest waiting for a CPU turn got one or left (`quota/cpu.rs`, under its lock).
    pub(crate) fn turn_waiter_left(&self) {
        self.turn_waiters.fetch_sub(1, Ordering::SeqCst);
    }

    /// Transaction tasks alive right now, across all sessions.
    pub fn live_transactions(&self) -> i64 {
        self.transactions.load(Ordering::SeqCst)
    }

    /// Transaction tasks alive right now that may want the CPU: computing, waiting for a CPU turn, or about to start;
    /// not those waiting on their peer or in their chaincode's admission queue. What decides whether the host is quiet
    /// enough to run a transaction where its message was read (`quota/placement.rs`): a flood parked on a silent peer,
    /// or queued behind its own chaincode's cap, takes no CPU from anyone.
    pub fn busy_transactions(&self) -> i64 {
        self.live_transactions() - self.waiting.load(Ordering::SeqCst)
    }

    /// Counts a transaction as waiting without wanting the CPU (on its peer, for admission) for as long as the guard
    /// is held, also when the transaction is dropped meanwhile.
    pub(crate) fn waiting(&self) -> Waiting<'_> {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        Waiting(self)
    }
}

/// A transaction's wait that needs no CPU, left out of [`Gauges::busy_transactions`] until dropped.
pub(crate) struct Waiting<'a>(&'a Gauges);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Counts a guest instance for as long as it is held (it lives in the Store's data).
pub struct InstanceGuard(Arc<Gauges>);

impl InstanceGuard {
    /// Counted through [`crate::engine::WasmEngine::count_instance`], which also wakes the epoch ticker.
    pub(crate) fn new(gauges: Arc<Gauges>) -> Self {
        gauges.instances.fetch_add(1, Ordering::SeqCst);
        InstanceGuard(gauges)
    }
}

impl Drop for InstanceGuard {
    fn drop(&mut self) {
        self.0.instances.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Counts a transaction task for as long as it runs, including when it is aborted.
pub struct TransactionGuard(Arc<Gauges>);

impl TransactionGuard {
    pub fn new(gauges: Arc<Gauges>) -> Self {
        gauges.transactions.fetch_add(1, Ordering::SeqCst);
        TransactionGuard(gauges)
    }
}

impl Drop for TransactionGuard {
    fn drop(&mut self) {
        self.0.transactions.fetch_sub(1, Ordering::SeqCst);
    }
}
