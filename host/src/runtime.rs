//! The host runtime: one engine, the chaincodes loaded into it, and the listeners that serve them.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::engine::{EngineError, WasmEngine};
use crate::executor::LoadedChaincode;
use crate::limits::TxLimits;
use crate::server::{ChaincodeService, Listener};

/// Shared by every listener and session of the process.
#[derive(Clone)]
pub struct Runtime {
    engine: Arc<WasmEngine>,
}

impl Runtime {
    pub fn new() -> Result<Self, EngineError> {
        Ok(Runtime { engine: Arc::new(WasmEngine::new()?) })
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
