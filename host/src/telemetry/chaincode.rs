//! What one chaincode costs, counted as its transactions run: outcomes, durations, fuel, memory, stub calls and peer
//! streams. Plain atomics held by the chaincode itself ([`crate::executor::LoadedChaincode`]): the transaction path
//! never looks anything up or takes a lock to count, and a removed chaincode's figures go with it.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::histogram::Histogram;
use crate::executor::GuestOutcome;
use crate::failure::TxFailure;

/// The lowest status a peer counts as an error (Fabric's `shim.ERRORTHRESHOLD`): it does not endorse such answers.
const ERROR_THRESHOLD: i32 = 400;

/// How a transaction ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// COMPLETED with a status below 400.
    Ok,
    /// The chaincode answered an error status (or a native chaincode failed).
    ChaincodeError,
    /// The guest trapped or panicked.
    Trap,
    OutOfFuel,
    /// The run-time backstop or the execute timeout ended it.
    Timeout,
    /// Admission refused it: the chaincode's or the host's share was taken, or the peer's stream was full.
    Refused,
    /// Anything else: a bad message, a load or host failure, a peer that refused the writes.
    Failed,
}

impl Outcome {
    pub const ALL: [Outcome; 7] = [
        Outcome::Ok,
        Outcome::ChaincodeError,
        Outcome::Trap,
        Outcome::OutOfFuel,
        Outcome::Timeout,
        Outcome::Refused,
        Outcome::Failed,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::ChaincodeError => "chaincode_error",
            Outcome::Trap => "trap",
            Outcome::OutOfFuel => "out_of_fuel",
            Outcome::Timeout => "timeout",
            Outcome::Refused => "refused",
            Outcome::Failed => "failed",
        }
    }

    /// The outcome of what the executor returned.
    pub fn of(outcome: &GuestOutcome) -> Outcome {
        match outcome {
            GuestOutcome::Returned { response, .. } if response.status < ERROR_THRESHOLD => Outcome::Ok,
            GuestOutcome::Returned { .. } => Outcome::ChaincodeError,
            GuestOutcome::Failed(failure) => Outcome::of_failure(failure),
        }
    }

    pub fn of_failure(failure: &TxFailure) -> Outcome {
        match failure {
            TxFailure::Refused(_) => Outcome::Refused,
            TxFailure::OutOfFuel { .. } => Outcome::OutOfFuel,
            TxFailure::RunTime { .. } | TxFailure::ExecuteTimeout { .. } => Outcome::Timeout,
            TxFailure::Panicked(_) | TxFailure::Trapped(_) => Outcome::Trap,
            TxFailure::Native(_) => Outcome::ChaincodeError,
            TxFailure::Context(_)
            | TxFailure::Load(_)
            | TxFailure::Prepare(_)
            | TxFailure::Failed(_)
            | TxFailure::SendBatch(_)
            | TxFailure::ReleaseLost(_) => Outcome::Failed,
        }
    }
}

/// Message types are small numbers (`ChaincodeMessage.Type`); a larger one is not counted.
pub const STUB_CALL_TYPES: usize = 32;

/// One chaincode's figures since it was installed or the host started.
#[derive(Debug, Default)]
pub struct ChaincodeMetrics {
    outcomes: [AtomicU64; Outcome::ALL.len()],
    duration: Histogram,
    fuel: AtomicU64,
    memory_peak: AtomicU64,
    stub_calls: [AtomicU64; STUB_CALL_TYPES],
    streams: AtomicI64,
}

impl ChaincodeMetrics {
    /// A transaction ended: how, and how long it took from the peer's message to the answer.
    pub fn finished(&self, outcome: Outcome, took: Duration) {
        self.outcomes[outcome as usize].fetch_add(1, Ordering::Relaxed);
        self.duration.observe(took);
    }

    /// What a guest used: fuel, and the linear memory it grew to.
    pub fn ran(&self, fuel: u64, memory_bytes: u64) {
        self.fuel.fetch_add(fuel, Ordering::Relaxed);
        self.memory_peak.fetch_max(memory_bytes, Ordering::Relaxed);
    }

    /// A request to the peer of this message type.
    pub fn stub_call(&self, message_type: i32) {
        if let Some(count) = usize::try_from(message_type).ok().and_then(|t| self.stub_calls.get(t)) {
            count.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn outcomes(&self) -> impl Iterator<Item = (Outcome, u64)> + '_ {
        Outcome::ALL.into_iter().map(|o| (o, self.outcomes[o as usize].load(Ordering::Relaxed)))
    }

    pub fn duration(&self) -> &Histogram {
        &self.duration
    }

    pub fn fuel(&self) -> u64 {
        self.fuel.load(Ordering::Relaxed)
    }

    pub fn memory_peak(&self) -> u64 {
        self.memory_peak.load(Ordering::Relaxed)
    }

    /// (message type, count) of every type called at least once.
    pub fn stub_calls(&self) -> impl Iterator<Item = (i32, u64)> + '_ {
        self.stub_calls.iter().enumerate().map(|(t, c)| (t as i32, c.load(Ordering::Relaxed))).filter(|(_, c)| *c > 0)
    }

    pub fn streams(&self) -> i64 {
        self.streams.load(Ordering::Relaxed)
    }
}

/// Counts a peer stream as open for as long as it is held.
pub struct OpenStream(Arc<ChaincodeMetrics>);

impl OpenStream {
    pub fn new(metrics: Arc<ChaincodeMetrics>) -> OpenStream {
        metrics.streams.fetch_add(1, Ordering::Relaxed);
        OpenStream(metrics)
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        self.0.streams.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_has_its_outcome() {
        let fuel = GuestOutcome::Failed(TxFailure::OutOfFuel { fuel: 1 });
        assert_eq!(Outcome::of(&fuel), Outcome::OutOfFuel);
        let timeout = TxFailure::ExecuteTimeout { timeout: Duration::from_secs(1), ccid: "cc".into() };
        assert_eq!(Outcome::of_failure(&timeout), Outcome::Timeout);
        let metrics = ChaincodeMetrics::default();
        metrics.finished(Outcome::Trap, Duration::from_millis(1));
        metrics.finished(Outcome::Trap, Duration::from_millis(1));
        metrics.stub_call(1);
        metrics.stub_call(99);
        assert_eq!(metrics.outcomes().find(|(o, _)| *o == Outcome::Trap), Some((Outcome::Trap, 2)));
        assert_eq!(metrics.stub_calls().collect::<Vec<_>>(), [(1, 1)]);
    }
}
