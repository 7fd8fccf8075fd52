//! One transaction in one fresh instance: Store → instantiate → call → drop.
//!
//! Instances are never reused, so nothing a transaction leaves in memory can reach the next one. The pooling
//! allocator and the pre-linked `ChaincodePre` keep that cheap.

use tokio_util::sync::CancellationToken;
use wasmtime::{ResourceLimiter, Store, Trap};

use crate::abi::{ChaincodePre, GuestResponse, TxState};
use crate::context::TxContext;
use crate::engine::WasmEngine;
use crate::ledger::TxLedger;
use crate::limits::{self, TxLimits};
use crate::metrics::InstanceGuard;

/// A chaincode ready to run: its CCID, pre-linked component and the operator's limits for it.
pub struct LoadedChaincode {
    pub ccid: String,
    pub pre: ChaincodePre<TxState>,
    pub limits: TxLimits,
    /// Cancelled when the chaincode is removed: its sessions end and its listeners stop.
    pub retired: CancellationToken,
}

impl LoadedChaincode {
    pub fn new(ccid: String, pre: ChaincodePre<TxState>, limits: TxLimits) -> Self {
        LoadedChaincode { ccid, pre, limits, retired: CancellationToken::new() }
    }
}

/// What the guest did with the transaction.
#[derive(Debug)]
pub enum GuestOutcome {
    /// The guest returned a response (of any status) and possibly set an event.
    Returned { response: GuestResponse, event: Option<(String, Vec<u8>)> },
    /// The guest trapped, ran out of a limit, or the host could not run it. The text says which.
    Failed(String),
}

/// Caps linear memory per transaction. Refusing a grow traps at once with a message naming the limit, instead of
/// leaving a guest allocator to fail in some less legible way.
pub struct MemoryLimiter {
    max_bytes: usize,
}

impl MemoryLimiter {
    pub fn new(max_bytes: usize) -> Self {
        MemoryLimiter { max_bytes }
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _max: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            wasmtime::bail!(
                "memory limit exceeded: the chaincode asked for {desired} bytes of linear memory, the limit is {}",
                self.max_bytes
            );
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _max: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= limits::MAX_TABLE_ELEMENTS)
    }
}

/// Runs one INIT or TRANSACTION to its end.
pub async fn execute(engine: &WasmEngine, cc: &LoadedChaincode, ctx: TxContext, ledger: TxLedger) -> GuestOutcome {
    let is_init = ctx.is_init;
    let limiter = MemoryLimiter::new(cc.limits.memory_bytes);
    let mut store =
        Store::new(engine.engine(), TxState::new(ctx, ledger, limiter, InstanceGuard::new(engine.gauges().clone())));
    store.limiter(|s| &mut s.limiter);
    if let Err(e) = configure(&mut store, &cc.limits) {
        return GuestOutcome::Failed(format!("could not prepare the chaincode instance: {e:#}"));
    }
    let result = async {
        let instance = cc.pre.instantiate_async(&mut store).await?;
        if is_init {
            instance.call_init(&mut store).await
        } else {
            instance.call_invoke(&mut store).await
        }
    }
    .await;
    let response = match result {
        Ok(response) => response,
        Err(e) => return GuestOutcome::Failed(describe_failure(&e, &cc.limits)),
    };
    // The held-back writes must reach the peer before the answer does; if the peer refuses them the transaction
    // fails whatever the guest answered, as with the Go shim (fabric-protocol.md §10.1).
    if let Err(e) = store.data_mut().ledger.finish().await {
        return GuestOutcome::Failed(format!("failed send batch: {e}"));
    }
    GuestOutcome::Returned { response, event: store.data_mut().event.take() }
}

fn configure(store: &mut Store<TxState>, limits: &TxLimits) -> wasmtime::Result<()> {
    store.set_fuel(limits.fuel)?;
    store.fuel_async_yield_interval(Some(limits::FUEL_YIELD_INTERVAL))?;
    store.set_epoch_deadline(limits.epoch_ticks());
    store.epoch_deadline_trap();
    Ok(())
}

/// The text the peer will show for a failed transaction: it names the trap or the limit that was hit.
fn describe_failure(e: &wasmtime::Error, limits: &TxLimits) -> String {
    match e.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => {
            format!("chaincode exceeded its fuel budget of {} (wasm trap: out of fuel)", limits.fuel)
        }
        Some(Trap::Interrupt) => {
            format!("chaincode exceeded its wall-clock limit of {} ms (wasm trap: interrupted)", limits.wall_clock_ms)
        }
        Some(trap) => format!("chaincode trapped: {trap}"),
        None => format!("chaincode failed: {}", e.root_cause()),
    }
}
