//! The workloads: what each transaction asks of the bench chaincode, the state it needs, and the answer it must
//! get (every answer is checked, so an implementation that fails or cheats stops the run).

use anyhow::{bail, Context};
use wasmcc_peer::{PeerSim, TxResult};

/// The channel the bench runs on.
pub const CHANNEL: &str = "bench";
/// The namespace every implementation runs in (the same seeded state for all).
pub const NAMESPACE: &str = "bench";
/// The most concurrent transactions a run uses: `rw10` keeps one key set per worker.
pub const MAX_WORKERS: usize = 64;

const VALUE: [u8; 64] = [b'v'; 64];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// No ledger call: the fixed cost of a transaction.
    Noop,
    /// One GetState of a 64-byte value.
    Get1,
    /// 10 GetState + 10 PutState of 64-byte values.
    Rw10,
    /// One range query returning 100 keys of 64 bytes.
    Range100,
}

impl Workload {
    pub const ALL: [Workload; 4] = [Workload::Noop, Workload::Get1, Workload::Rw10, Workload::Range100];

    pub fn name(self) -> &'static str {
        match self {
            Workload::Noop => "noop",
            Workload::Get1 => "get1",
            Workload::Rw10 => "rw10",
            Workload::Range100 => "range100",
        }
    }

    pub fn parse(s: &str) -> anyhow::Result<Workload> {
        Workload::ALL.into_iter().find(|w| w.name() == s).with_context(|| format!("unknown workload {s:?}"))
    }

    /// The arguments of a transaction run by `worker`.
    pub fn args(self, worker: usize) -> Vec<Vec<u8>> {
        let args: Vec<String> = match self {
            Workload::Noop => vec!["noop".into()],
            Workload::Get1 => vec!["get1".into(), "g".into()],
            Workload::Rw10 => vec!["rw10".into(), format!("w{worker:02}-")],
            Workload::Range100 => vec!["range100".into(), "r000".into(), "r100".into()],
        };
        args.into_iter().map(String::into_bytes).collect()
    }

    /// Fails unless `result` is the answer the chaincode must give.
    pub fn check(self, result: &TxResult) -> anyhow::Result<()> {
        let expected: &[u8] = match self {
            Workload::Noop => b"",
            Workload::Get1 => &VALUE,
            Workload::Rw10 => b"10",
            Workload::Range100 => b"100:6400",
        };
        match result.status() {
            Some(200) if result.payload() == expected => Ok(()),
            _ => bail!(
                "{} answered {:?} (payload {:?})",
                self.name(),
                result.outcome,
                String::from_utf8_lossy(result.payload())
            ),
        }
    }
}

/// The state every workload reads: `g`, the `rw10` keys of every worker, and `r000`…`r199`.
pub fn seed(peer: &PeerSim) {
    let mut entries = vec![("g".to_string(), VALUE.to_vec())];
    for worker in 0..MAX_WORKERS {
        entries.extend((0..10).map(|i| (format!("w{worker:02}-{i}"), VALUE.to_vec())));
    }
    entries.extend((0..200).map(|i| (format!("r{i:03}"), VALUE.to_vec())));
    peer.seed(CHANNEL, NAMESPACE, entries);
}
