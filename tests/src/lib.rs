//! Helpers shared by the whole-flow tests: the example modules and a host serving them on loopback.

pub mod bench;
pub mod node;
pub use wasmcc_testkit::postgres;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use wasmcc_host::engine::WasmEngine;
use wasmcc_host::executor::LoadedChaincode;
use wasmcc_host::limits::TxLimits;
use wasmcc_host::quota::QuotaConfig;
use wasmcc_host::registry::{Registry, RegistrySettings};
use wasmcc_host::store::Store;

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

/// A host on loopback whose chaincodes are installed the way `wasmcc serve` installs them: packaged, validated,
/// stored, compiled and served by a registry, under their real CCIDs. Stopped when dropped.
pub struct TestHost {
    engine: Arc<WasmEngine>,
    registries: Vec<Arc<Registry>>,
    data: tempfile::TempDir,
}

pub use wasmcc_testkit::ports::{free_port, free_ports};

/// Where the bench's own hosts take ports: below the tests' ([`wasmcc_testkit::ports::PORTS`]), so a bench run by a
/// test beside the others meets no test's host.
pub const BENCH_PORT_BASE: u16 = 20_000;
const _: () = assert!(BENCH_PORT_BASE + 1_000 <= wasmcc_testkit::ports::PORTS.start);

/// The ports [`TestHost::serve`] gives each chaincode's registry.
const PORTS_PER_SERVE: u16 = 8;

impl TestHost {
    pub fn new() -> Self {
        Self::with_quota(&QuotaConfig::default())
    }

    /// A host with these host-wide bounds.
    pub fn with_quota(quota: &QuotaConfig) -> Self {
        let engine = Arc::new(WasmEngine::with_quota(quota).expect("engine"));
        TestHost { engine, registries: Vec::new(), data: tempfile::tempdir().expect("a data directory") }
    }

    pub fn engine(&self) -> &Arc<WasmEngine> {
        &self.engine
    }

    /// Packages an example under `label`, installs it with the given limits and serves it on a loopback port.
    pub async fn serve(&mut self, label: &str, module: &str, limits: TxLimits) -> Served {
        let package = wasmcc_common::package::package(label, &wasm(module), &[]).expect("package");
        let settings = RegistrySettings {
            listen_ip: [127, 0, 0, 1].into(),
            advertise_host: "127.0.0.1".into(),
            ports: Some(free_ports(PORTS_PER_SERVE)),
            limits,
            limits_for: Default::default(),
            record: Default::default(),
            record_for: Default::default(),
            tls: None,
            connections: Default::default(),
            shared_plain: None,
            name_suffix: wasmcc_host::config::DEFAULT_SNI_SUFFIX.into(),
            shared_store: None,
        };
        let store = Store::open(self.data.path().join(self.registries.len().to_string())).expect("store");
        let registry = Registry::open(self.engine.clone(), store, settings).await.expect("registry");
        let (record, _) = registry.install(package).await.expect("install");
        let addr = registry.listen_addr(&record.ccid).expect("a listening chaincode");
        let chaincode = registry.get(&record.ccid).expect("an installed chaincode");
        self.registries.push(registry);
        Served { ccid: record.ccid, addr, chaincode }
    }
}

impl Default for TestHost {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestHost {
    fn drop(&mut self) {
        for registry in &self.registries {
            registry.shutdown();
        }
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
/// The admin token of every host [`host_config`] makes.
pub const ADMIN_TOKEN: &str = "test-token";

pub fn host_config(data_dir: &std::path::Path, ports: (u16, u16)) -> wasmcc_host::config::Config {
    let mut config = wasmcc_host::config::Config { data_dir: data_dir.to_path_buf(), ..Default::default() };
    config.admin.listen = "127.0.0.1:0".parse().unwrap();
    config.admin.token = Some(ADMIN_TOKEN.into());
    config.chaincodes.port_min = ports.0;
    config.chaincodes.port_max = ports.1;
    config
}
