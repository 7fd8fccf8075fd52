//! One transaction in one fresh instance: Store → instantiate → call → drop.
//!
//! Instances are never reused, so nothing a transaction leaves in memory can reach the next one. The pooling
//! allocator and the pre-linked `ChaincodePre` keep that cheap.
//!
//! With the `native` feature (the benchmarks' only), a chaincode may also be `Program::Native`: Rust linked into the
//! host and run against the same [`TxState`] with no sandbox, the ceiling the wasm path is measured against. A
//! production build has no such variant.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use wasmtime::{Store, Trap, UpdateDeadline};

use crate::abi::{ChaincodePre, GuestResponse, TxState};
use crate::context::TxContext;
use crate::engine::WasmEngine;
use crate::failure::TxFailure;
use crate::ledger::TxLedger;
use crate::limiter::MemoryLimiter;
use crate::limits::{self, TxLimits};
use crate::quota::placement::InlineHistory;
use crate::quota::threads::Backlog;
use crate::quota::{Demand, Refused, ReleaseLost, Ticket};
use crate::recording::recorder::RecordTarget;
use crate::telemetry::ChaincodeMetrics;

/// A chaincode to run: its CCID, its code (loaded now or on first use) and the operator's limits for it.
pub struct LoadedChaincode {
    pub ccid: Arc<str>,
    program: tokio::sync::OnceCell<Program>,
    /// Present when the program is loaded on first use ([`LoadedChaincode::lazy`]).
    loader: Option<ProgramLoader>,
    /// The operator's limits; a reloaded configuration replaces them for transactions that start afterwards.
    limits: std::sync::RwLock<TxLimits>,
    /// Cancelled when the chaincode is removed: its sessions end and its listeners stop.
    pub retired: CancellationToken,
    /// What its transactions cost, for `/metrics`.
    pub metrics: Arc<ChaincodeMetrics>,
    /// Cancelled when the host stops: each of its streams then starts no new transaction and ends as soon as those
    /// it runs have answered, so the peer redials (another host) and nothing the host started is lost.
    pub draining: CancellationToken,
    /// Whether its transactions have been short enough to start inline (`quota/placement.rs`).
    pub inline: Arc<InlineHistory>,
    /// Which of its transactions are recorded, and where; `None` when none are.
    recording: arc_swap::ArcSwapOption<RecordTarget>,
}

/// Produces a chaincode's program; blocking (it maps and deserialises an artifact, or recompiles one).
pub type ProgramLoader = Arc<dyn Fn() -> Result<Program, LoadCause> + Send + Sync>;

/// Why a loader failed: the registry's own error (a store or engine fault), kept whole.
pub type LoadCause = Box<dyn std::error::Error + Send + Sync>;

/// A chaincode whose program could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("chaincode {ccid} cannot be loaded: {source}")]
pub struct LoadError {
    pub ccid: String,
    pub source: LoadCause,
}

impl LoadedChaincode {
    /// A wasm chaincode: its pre-linked component.
    pub fn new(ccid: String, pre: ChaincodePre<TxState>, limits: TxLimits) -> Self {
        Self::with_program(ccid, Program::Wasm(pre), limits)
    }

    pub fn with_program(ccid: String, program: Program, limits: TxLimits) -> Self {
        Self::made(ccid, tokio::sync::OnceCell::new_with(Some(program)), None, limits)
    }

    /// A chaincode whose program `loader` produces when it is first needed. A host with many installed chaincodes
    /// then pays memory (mapped artifact pages, wasmtime's per-module metadata) only for those peers use, and
    /// restarts without loading any.
    pub fn lazy(ccid: String, limits: TxLimits, loader: ProgramLoader) -> Self {
        Self::made(ccid, tokio::sync::OnceCell::new(), Some(loader), limits)
    }

    fn made(
        ccid: String,
        program: tokio::sync::OnceCell<Program>,
        loader: Option<ProgramLoader>,
        limits: TxLimits,
    ) -> Self {
        LoadedChaincode {
            ccid: ccid.into(),
            program,
            loader,
            limits: std::sync::RwLock::new(limits),
            retired: CancellationToken::new(),
            metrics: Arc::default(),
            draining: CancellationToken::new(),
            inline: Arc::default(),
            recording: Default::default(),
        }
    }

    /// The limits a transaction starting now runs under (read once per transaction).
    pub fn limits(&self) -> TxLimits {
        *self.limits.read().expect("limits lock")
    }

    pub fn set_limits(&self, limits: TxLimits) {
        *self.limits.write().expect("limits lock") = limits;
    }

    /// Where a transaction starting now is recorded, if it may be.
    pub fn recording(&self) -> Option<Arc<RecordTarget>> {
        self.recording.load_full()
    }

    pub fn set_recording(&self, target: Option<Arc<RecordTarget>>) {
        self.recording.store(target);
    }

    /// The chaincode, drained when `host` is: its streams follow the host's stop.
    pub fn drained_with(mut self, host: &CancellationToken) -> Self {
        self.draining = host.child_token();
        self
    }

    /// Whether the program is in memory.
    pub fn is_loaded(&self) -> bool {
        self.program.initialized()
    }

    /// The program, loaded now if it is not yet (once, however many ask at the same time). A failed load is not
    /// remembered: the next caller tries again.
    pub async fn program(&self) -> Result<&Program, LoadError> {
        let failed = |source: LoadCause| LoadError { ccid: self.ccid.to_string(), source };
        self.program
            .get_or_try_init(|| async {
                let loader = self.loader.clone().ok_or_else(|| failed("no program and no loader".into()))?;
                let loaded = tokio::task::spawn_blocking(move || loader()).await;
                loaded.map_err(|e| failed(format!("the load task failed: {e}").into()))?.map_err(failed)
            })
            .await
    }
}

/// What runs a chaincode's transactions.
pub enum Program {
    /// A pre-linked wasm component, instantiated fresh for every transaction.
    Wasm(ChaincodePre<TxState>),
    /// Rust compiled into the host: no sandbox, no limits. For benchmarks only (see the module docs).
    #[cfg(feature = "native")]
    Native(Arc<dyn NativeProgram>),
}

/// A native chaincode's answer, or why it failed; handed back with the transaction's state.
#[cfg(feature = "native")]
pub type NativeRun =
    std::pin::Pin<Box<dyn std::future::Future<Output = (TxState, Result<GuestResponse, TxFailure>)> + Send>>;

/// Chaincode linked into the host. It gets the transaction's whole [`TxState`], the very state a wasm instance's
/// imports work on, and returns it when done so the executor finishes the transaction the same way.
#[cfg(feature = "native")]
pub trait NativeProgram: Send + Sync {
    fn run(&self, state: TxState) -> NativeRun;
}

/// What the guest did with the transaction.
#[derive(Debug)]
pub enum GuestOutcome {
    /// The guest returned a response (of any status) and possibly set an event.
    Returned { response: GuestResponse, event: Option<(String, Vec<u8>)> },
    /// The guest trapped, ran out of a limit, or the host could not run it.
    Failed(TxFailure),
}

/// A transaction admitted or queued ([`enter`]): its place in admission, and the limits it runs under, read once so
/// that what admission reserved and what the instance may use are the same even when a reload changes them.
pub struct Entry {
    pub ticket: Ticket,
    pub limits: TxLimits,
}

/// A transaction's place in admission (an instance slot and its memory, within the chaincode's share): the
/// first step of running it, taken where its message is read.
pub fn enter(engine: &WasmEngine, cc: &LoadedChaincode) -> Result<Entry, Refused> {
    let limits = cc.limits();
    let ticket = engine.quota().admission.enter(&cc.ccid, demand(&limits))?;
    Ok(Entry { ticket, limits })
}

/// What a transaction's guest used; all zero when it never ran.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxStats {
    pub fuel: u64,
    /// Time holding a CPU turn.
    pub cpu: std::time::Duration,
    /// The linear memory the instance grew to.
    pub memory_bytes: u64,
}

/// Runs one INIT or TRANSACTION to its end: admitted (`entry`, from [`enter`]), on a CPU turn, in a fresh
/// instance. What the guest used is added to the chaincode's figures and returned with the outcome. `inline`: it
/// starts on a network thread, whose task moves it when it runs long ([`crate::quota::placement`]).
pub async fn execute(
    engine: &WasmEngine,
    cc: &LoadedChaincode,
    ctx: TxContext,
    mut ledger: TxLedger,
    entry: Entry,
    inline: bool,
) -> (GuestOutcome, TxStats) {
    let Entry { ticket, limits } = entry;
    let program = match cc.program().await {
        Ok(program) => program,
        Err(e) => return (GuestOutcome::Failed(e.into()), TxStats::default()),
    };
    let waiting = engine.gauges().waiting();
    let _admitted = match ticket.admitted().await {
        Ok(admitted) => admitted,
        Err(refused) => return (GuestOutcome::Failed(refused.into()), TxStats::default()),
    };
    drop(waiting);
    let turn = engine.quota().cpu.claim(cc.ccid.clone());
    turn.resume().await;
    ledger.set_turn(turn);
    ledger.set_metrics(cc.metrics.clone());
    ledger.set_gauges(engine.gauges().clone());
    let limiter = MemoryLimiter::new(limits.memory_bytes);
    let state = TxState::new(ctx, ledger, limiter, engine.count_instance());
    let (mut state, result, fuel) = match program {
        Program::Wasm(pre) => match run_wasm(engine, pre, &limits, state, inline).await {
            Ok(ended) => ended,
            Err(lost) => return (GuestOutcome::Failed(lost.into()), TxStats::default()),
        },
        #[cfg(feature = "native")]
        Program::Native(program) => {
            let (state, result) = program.run(state).await;
            (state, result, 0)
        }
    };
    let stats = TxStats {
        fuel,
        cpu: state.ledger.turn().map(|t| t.ran()).unwrap_or_default(),
        memory_bytes: state.limiter.peak() as u64,
    };
    cc.metrics.ran(stats.fuel, stats.memory_bytes);
    let response = match result {
        Ok(response) => response,
        Err(failure) => return (GuestOutcome::Failed(failure), stats),
    };
    // The held-back writes must reach the peer before the answer does; if the peer refuses them the transaction
    // fails whatever the guest answered, as with the Go shim (docs/fabric-protocol.md §10.1).
    if let Err(e) = state.ledger.finish().await {
        return (GuestOutcome::Failed(TxFailure::SendBatch(e)), stats);
    }
    (GuestOutcome::Returned { response, event: state.event.take() }, stats)
}

/// Store → instantiate → call; the instance is gone when this returns, the transaction's state is handed back with
/// the fuel it burned.
async fn run_wasm(
    engine: &WasmEngine,
    pre: &ChaincodePre<TxState>,
    limits: &TxLimits,
    state: TxState,
    inline: bool,
) -> Result<(TxState, Result<GuestResponse, TxFailure>, u64), ReleaseLost> {
    let is_init = state.ctx.is_init;
    let mut store = Store::new(engine.engine(), state);
    store.limiter(|s| &mut s.limiter);
    if let Err(e) = configure(&mut store, limits, engine.quota().threads.backlog(), inline) {
        return Ok((store.into_data(), Err(TxFailure::Prepare(format!("{e:#}"))), 0));
    }
    let result = async {
        let instance = pre.instantiate_async(&mut store).await?;
        if is_init {
            instance.call_init(&mut store).await
        } else {
            instance.call_invoke(&mut store).await
        }
    }
    .await;
    let result = result.map_err(|e| describe_failure(e, limits));
    let fuel = limits.fuel.saturating_sub(store.get_fuel().unwrap_or(0));
    Ok((end_instance(engine, store).await?, result, fuel))
}

/// Ends the instance and hands back its state. One that grew past the resident size ends on the release thread
/// ([`crate::quota::release`]), its transaction giving up its CPU turn meanwhile.
async fn end_instance(engine: &WasmEngine, store: Store<TxState>) -> Result<TxState, ReleaseLost> {
    if !store.data().limiter.grew_past_resident() {
        return Ok(store.into_data());
    }
    if let Some(turn) = store.data().ledger.turn() {
        turn.pause();
    }
    engine.quota().release.run(move || store.into_data()).await
}

/// What admitting a transaction of a chaincode with these limits reserves.
fn demand(limits: &TxLimits) -> Demand {
    Demand { memory_bytes: limits.memory_bytes as u64, concurrency: limits.concurrency, queue: limits.queue }
}

/// Fuel, its yields and the epoch checks of a transaction's store. `inline`: it starts on a network thread, and yields
/// often enough for that thread to move it when it runs long ([`crate::quota::placement`]).
fn configure(store: &mut Store<TxState>, limits: &TxLimits, backlog: Backlog, inline: bool) -> wasmtime::Result<()> {
    store.set_fuel(limits.fuel)?;
    let yield_interval = if inline { limits::INLINE_FUEL_YIELD_INTERVAL } else { limits::FUEL_YIELD_INTERVAL };
    store.fuel_async_yield_interval(Some(yield_interval))?;
    // At every epoch (a tick, or a bump by a waiting chaincode or a woken task): end a guest past its run time, hand
    // the CPU turn over when the scheduler says so, let the thread poll its woken tasks (lending them the turn), else
    // go on.
    let run_time = limits.run_time();
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |ctx| {
        crate::outbound::flush_if_stale();
        let Some(turn) = ctx.data().ledger.turn() else { return Ok(UpdateDeadline::Continue(1)) };
        let ran = turn.ran();
        if ran > run_time {
            Ok(UpdateDeadline::Interrupt)
        } else if turn.should_yield() {
            Ok(UpdateDeadline::YieldCustom(1, Box::pin(turn.yield_now())))
        } else if backlog.waiting() {
            Ok(UpdateDeadline::YieldCustom(1, Box::pin(turn.step_aside())))
        } else {
            Ok(UpdateDeadline::Continue(1))
        }
    });
    Ok(())
}

/// What a failed call means: the trap or the limit that was hit, or the guest's own abort.
fn describe_failure(e: wasmtime::Error, limits: &TxLimits) -> TxFailure {
    let e = match e.downcast::<crate::abi::GuestAbort>() {
        Ok(abort) => return TxFailure::Panicked(abort),
        Err(e) => e,
    };
    match e.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => TxFailure::OutOfFuel { fuel: limits.fuel },
        Some(Trap::Interrupt) => TxFailure::RunTime { run_time_ms: limits.run_time_ms },
        Some(trap) => TxFailure::Trapped(*trap),
        None => TxFailure::Failed(e.root_cause().to_string()),
    }
}
