//! Why a transaction failed. The peer gets the text in an ERROR message (the texts are part of what peers and
//! clients see, so each variant keeps the one it has always had); inside the host the cause stays typed, so a
//! chaincode's own fault (a trap, a limit) can be told from the host's (a load, a lost teardown) and from the peer's
//! (a refused write batch).

use std::time::Duration;

use wasmtime::Trap;

use crate::abi::GuestAbort;
use crate::context::ContextError;
use crate::executor::LoadError;
use crate::ledger::LedgerError;
use crate::quota::{Refused, ReleaseLost};

#[derive(Debug, thiserror::Error)]
pub enum TxFailure {
    /// The TRANSACTION or INIT message does not carry a usable input or proposal.
    #[error(transparent)]
    Context(#[from] ContextError),
    /// The chaincode's program could not be loaded.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// Admission refused the transaction or it waited too long (the chaincode's or the host's share is taken).
    #[error(transparent)]
    Refused(#[from] Refused),
    /// The instance's store could not be configured (fuel, epoch deadline).
    #[error("could not prepare the chaincode instance: {0}")]
    Prepare(String),
    /// Fuel ran out: a runaway guest, ended the same way on every host.
    #[error("chaincode exceeded its fuel budget of {fuel} (wasm trap: out of fuel)")]
    OutOfFuel { fuel: u64 },
    /// The run-time backstop ended a guest that fuel did not.
    #[error("chaincode exceeded its run-time limit of {run_time_ms} ms (wasm trap: interrupted)")]
    RunTime { run_time_ms: u64 },
    /// The guest ended itself through `abort` (a Rust panic) and said why.
    #[error(transparent)]
    Panicked(GuestAbort),
    /// Any other trap: out-of-bounds access, unreachable, a refused memory grow, …
    #[error("chaincode trapped: {0}")]
    Trapped(Trap),
    /// Instantiation or a call failed without a trap (e.g. a host import's error); the root cause's text.
    #[error("chaincode failed: {0}")]
    Failed(String),
    /// A chaincode linked into the host (benchmarks) answered with an error.
    #[error("{0}")]
    Native(String),
    /// The peer refused the held-back writes: the transaction fails whatever the guest answered, as with the Go
    /// shim.
    #[error("failed send batch: {0}")]
    SendBatch(LedgerError),
    /// The transaction's one deadline passed, waits on the peer included.
    #[error("transaction exceeded the execute timeout of {} ms (chaincode {ccid})", timeout.as_millis())]
    ExecuteTimeout { timeout: Duration, ccid: String },
    /// The instance's teardown thread went away before it handed the transaction's state back.
    #[error(transparent)]
    ReleaseLost(#[from] ReleaseLost),
}
