//! The host runtime: one engine, the chaincodes loaded into it, and the listeners that serve them.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::engine::{EngineError, WasmEngine};
use crate::executor::LoadedChaincode;
use crate::limits::{self, TxLimits};
use crate::server::{ChaincodeService, Listener};

/// The tokio runtime a host process serves its sockets on (peer streams, the admin API). Transactions run on
/// threads of their own ([`crate::quota::threads`]), so this runtime only moves messages:
/// [`limits::network_threads`] workers.
pub fn network_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().worker_threads(limits::network_threads()).enable_all().build()
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
