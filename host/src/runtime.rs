//! The host runtime: one engine, the chaincodes loaded into it, and the listeners that serve them.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::engine::{EngineError, WasmEngine};
use crate::executor::LoadedChaincode;
use crate::limits::TxLimits;
use crate::server::{ChaincodeService, Listener};

/// The tokio runtime a host process runs on: `workers` threads for peer streams and transactions, or one per CPU
/// the process may use (affinity and cgroup quota included) when `None`.
///
/// Fewer workers than CPUs suit a host that shares its machine with busy neighbours (a co-located peer): with more
/// runnable threads than CPUs, every wake-up of an idle worker becomes a context switch, which on a 2-CPU VM cost a
/// third of the host's CPU per transaction (BENCHMARKS.md).
pub fn tokio_runtime(workers: Option<usize>) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = workers {
        builder.worker_threads(n.max(1));
    }
    builder.enable_all().build()
}

/// Shared by every listener and session of the process.
#[derive(Clone)]
pub struct Runtime {
    engine: Arc<WasmEngine>,
}

impl Runtime {
    pub fn new() -> Result<Self, EngineError> {
        Ok(Runtime { engine: Arc::new(WasmEngine::new()?) })
    }

    /// A runtime with the operator's host-wide bounds.
    pub fn with_quota(quota: &crate::quota::QuotaConfig) -> Result<Self, EngineError> {
        Ok(Runtime { engine: Arc::new(WasmEngine::with_quota(quota)?) })
    }

    pub fn engine(&self) -> &Arc<WasmEngine> {
        &self.engine
    }

    /// Compiles and pre-links a chaincode so that each transaction only instantiates it.
    pub fn load(&self, ccid: &str, wasm: &[u8], limits: TxLimits) -> Result<Arc<LoadedChaincode>, EngineError> {
        let pre = self.engine.load(wasm)?;
        Ok(Arc::new(LoadedChaincode::new(ccid.to_string(), pre, limits)))
    }

    /// Binds a listener for one chaincode; serve it with [`Listener::serve`].
    pub async fn listen(&self, chaincode: Arc<LoadedChaincode>, addr: SocketAddr) -> std::io::Result<Listener> {
        Listener::bind(addr, ChaincodeService::new(self.engine.clone(), chaincode)).await
    }
}
