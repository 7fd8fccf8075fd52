//! The sandbox's own cost per transaction, with no peer: Store + instantiate + invoke `noop` + drop, through the
//! host's executor exactly as a session runs it (fuel, epoch deadline, memory limiter, pooling allocator).

use std::time::Instant;

use tokio::sync::mpsc;
use wasmcc_host::context::{ProposalInfo, TxContext};
use wasmcc_host::engine::WasmEngine;
use wasmcc_host::executor::{self, GuestOutcome, LoadedChaincode};
use wasmcc_host::ledger::{self, PeerParams, TxLedger};
use wasmcc_host::limits::TxLimits;

use super::stats::Samples;

/// Runs `noop` `warmup + iterations` times in fresh instances; the latencies of the last `iterations`.
pub async fn noop(wasm: &[u8], warmup: usize, iterations: usize) -> anyhow::Result<Samples> {
    let engine = WasmEngine::new()?;
    let chaincode = LoadedChaincode::new("bench:sandbox".into(), engine.load(wasm)?, TxLimits::default());
    let ctx = TxContext {
        txid: "tx".into(),
        channel_id: "bench".into(),
        is_init: false,
        args: vec![b"noop".to_vec()],
        decorations: Default::default(),
        proposal: ProposalInfo::default(),
    };
    let mut samples = Samples::default();
    for i in 0..warmup + iterations {
        // The stream's side of the transaction exists before it starts, as in a session: not timed.
        let (outbound, _peer_side) = mpsc::channel(1);
        let (_replies, inbox) = ledger::mailbox();
        let ledger = TxLedger::new("bench".into(), "tx".into(), outbound, inbox, PeerParams::default());
        let ctx = ctx.clone();
        let started = Instant::now();
        let entry = executor::enter(&engine, &chaincode)?;
        let (outcome, _) = executor::execute(&engine, &chaincode, ctx, ledger, entry, false).await;
        let elapsed = started.elapsed();
        match outcome {
            GuestOutcome::Returned { response, .. } if response.status == 200 => {}
            other => anyhow::bail!("noop in the sandbox did not answer 200: {other:?}"),
        }
        if i >= warmup {
            samples.push(elapsed);
        }
    }
    Ok(samples)
}
