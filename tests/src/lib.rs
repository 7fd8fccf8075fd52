//! Helpers shared by the whole-flow tests: the example modules and a host serving them on loopback.

pub mod bench;
pub mod node;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use wasmcc_host::executor::LoadedChaincode;
use wasmcc_host::limits::TxLimits;
use wasmcc_host::runtime::Runtime;

/// The bytes of an example built by `scripts/build-guests.sh` (e.g. `wasm("asset_transfer")`).
pub fn wasm(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/wasm").join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!("{}: {e}. Build the example modules first: bash scripts/build-guests.sh", path.display())
    })
}

/// One chaincode served by a [`TestHost`].
pub struct Served {
    pub ccid: String,
    pub addr: SocketAddr,
    pub chaincode: Arc<LoadedChaincode>,
}

impl Served {
    pub fn addr(&self) -> String {
        self.addr.to_string()
    }
}

/// A host runtime with listeners on 127.0.0.1, stopped when dropped.
pub struct TestHost {
    pub runtime: Runtime,
    tasks: tokio::task::JoinSet<()>,
}

impl TestHost {
    pub fn new() -> Self {
        TestHost { runtime: Runtime::new().expect("engine"), tasks: tokio::task::JoinSet::new() }
    }

    /// A host with these host-wide bounds.
    pub fn with_quota(quota: &wasmcc_host::quota::QuotaConfig) -> Self {
        TestHost { runtime: Runtime::with_quota(quota).expect("engine"), tasks: tokio::task::JoinSet::new() }
    }

    /// Serves an example under `label` with the given limits on a free loopback port.
    pub async fn serve(&mut self, label: &str, module: &str, limits: TxLimits) -> Served {
        let bytes = wasm(module);
        let ccid = wasmcc_common::package::package_id(label, &bytes);
        let chaincode = self.runtime.load(&ccid, &bytes, limits).expect("load");
        let listener = self.runtime.listen(chaincode.clone(), "127.0.0.1:0".parse().unwrap()).await.expect("bind");
        let addr = listener.local_addr().unwrap();
        self.tasks.spawn(async move {
            listener.serve().await.expect("serve");
        });
        Served { ccid, addr, chaincode }
    }
}

impl Default for TestHost {
    fn default() -> Self {
        Self::new()
    }
}

/// A distinct but equivalent module: `base` with a custom section naming `n` appended. Custom sections carry no
/// semantics, so the variant behaves like `base` while hashing (and so installing) as a different chaincode.
pub fn variant(base: &[u8], n: u32) -> Vec<u8> {
    let name = b"wasmcc-variant";
    let mut payload = vec![name.len() as u8];
    payload.extend_from_slice(name);
    payload.extend_from_slice(&n.to_le_bytes());
    let mut out = base.to_vec();
    out.push(0); // custom section id
    out.push(payload.len() as u8); // LEB128 of a length below 128
    out.extend_from_slice(&payload);
    out
}

/// A loopback configuration for an in-process host on a data directory, admin API on a free port.
pub fn host_config(data_dir: &std::path::Path, ports: (u16, u16)) -> wasmcc_host::config::Config {
    let mut config = wasmcc_host::config::Config { data_dir: data_dir.to_path_buf(), ..Default::default() };
    config.admin.listen = "127.0.0.1:0".parse().unwrap();
    config.admin.token = Some("test-token".into());
    config.chaincodes.port_min = ports.0;
    config.chaincodes.port_max = ports.1;
    config
}
