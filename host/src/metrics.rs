//! Process-wide gauges. Tests read them to prove that nothing leaks when a peer vanishes mid-transaction.

use std::sync::atomic::{AtomicI64, Ordering};

static LIVE_INSTANCES: AtomicI64 = AtomicI64::new(0);
static LIVE_TRANSACTIONS: AtomicI64 = AtomicI64::new(0);

/// Guest instances (Stores) alive right now.
pub fn live_instances() -> i64 {
    LIVE_INSTANCES.load(Ordering::SeqCst)
}

/// Transaction tasks alive right now, across all sessions.
pub fn live_transactions() -> i64 {
    LIVE_TRANSACTIONS.load(Ordering::SeqCst)
}

/// Counts a guest instance for as long as it is held (it lives in the Store's data).
pub struct InstanceGuard(());

impl InstanceGuard {
    pub fn new() -> Self {
        LIVE_INSTANCES.fetch_add(1, Ordering::SeqCst);
        InstanceGuard(())
    }
}

impl Default for InstanceGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for InstanceGuard {
    fn drop(&mut self) {
        LIVE_INSTANCES.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Counts a transaction task for as long as it runs, including when it is aborted.
pub struct TransactionGuard(());

impl TransactionGuard {
    pub fn new() -> Self {
        LIVE_TRANSACTIONS.fetch_add(1, Ordering::SeqCst);
        TransactionGuard(())
    }
}

impl Default for TransactionGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TransactionGuard {
    fn drop(&mut self) {
        LIVE_TRANSACTIONS.fetch_sub(1, Ordering::SeqCst);
    }
}
