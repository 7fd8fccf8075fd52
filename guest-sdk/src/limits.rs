//! The SDK's fixed sizes, each with its reason.

/// How many results one `next-batch` call may bring across the sandbox: more than the peer's batch of 100, so a call
/// takes whatever the host holds and a query costs one crossing per peer batch, not one per row.
pub(crate) const BATCH: u32 = 1000;
