//! The chaincodes this host serves, live: install (package → validate → store → precompile → route → listen),
//! removal, and the restart path that serves every stored chaincode again without recompiling.
//!
//! Installs are serialised (one at a time) so that port allocation and the store never race; serving is not:
//! lookups take a short lock on a map of `Arc`s. A route, once given to a CCID, is never given to another
//! (`routes.rs`).
//!
//! With a shared store (`[store] postgres`), what is installed is what the shared store holds: an install or removal
//! is a transaction there, and every host follows the store (`follow.rs`); the data directory keeps a copy and this
//! host's compiled artifacts.

mod follow;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock, Weak};

use tokio_util::sync::CancellationToken;

use crate::abi::{ChaincodePre, TxState};
use crate::config::TlsConfig;
use crate::connections::ListenerPolicy;
use crate::engine::{EngineError, WasmEngine};
use crate::executor::{LoadedChaincode, Program, ProgramLoader};
use crate::limits::TxLimits;
use crate::package::{self, PackageError};
use crate::recording::recorder::{RecordMode, RecordPolicy, RecordTarget, Recorder};
use crate::routes::{self, PortChoice, RouteBook, RouteTaken};
use crate::server::{bind_port, ChaincodeLookup, ChaincodeService, Listener};
use crate::shared_store::{SharedStoreError, StoreAccess};
use crate::sni::{Route, SniResolver};
use crate::store::{ChaincodeRecord, Store, StoreError};
use crate::telemetry::HostCounters;
use crate::tls::{self, PemRole, TlsError};
use crate::validate::{self, ValidateError};

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("package refused: {0}")]
    Package(#[from] PackageError),
    #[error("module refused: {0}")]
    Validate(#[from] ValidateError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no free port left in {0}-{1} for another chaincode (ports of removed chaincodes stay reserved for them)")]
    NoPort(u16, u16),
    #[error(transparent)]
    RouteTaken(#[from] RouteTaken),
    #[error("port {port} cannot be given to a chaincode: {reason}")]
    PortUnavailable { port: u16, reason: String },
    #[error("chaincode {ccid} is already installed {}; remove it first to move it to port {asked}", where_served(*.port))]
    InstalledElsewhere { ccid: String, port: Option<u16>, asked: u16 },
    #[error("chaincode {0} is not installed")]
    NotInstalled(String),
    #[error("cannot listen on the shared chaincode port {addr}: {source}")]
    SharedListener { addr: SocketAddr, source: std::io::Error },
    #[error(transparent)]
    SharedStore(SharedStoreError),
    #[error("chaincodes of the shared store that this host cannot serve: {}", .0.join(", "))]
    NotServable(Vec<String>),
    #[error("the shared store's module {hash} does not match its hash (it is {found})")]
    ModuleMismatch { hash: String, found: String },
}

impl From<SharedStoreError> for InstallError {
    fn from(e: SharedStoreError) -> Self {
        match e {
            SharedStoreError::Route(choice) => choice.into(),
            other => InstallError::SharedStore(other),
        }
    }
}

/// Where chaincodes listen and which limits they run with.
#[derive(Debug, Clone)]
pub struct RegistrySettings {
    /// The address chaincode listeners bind to.
    pub listen_ip: IpAddr,
    /// The host name or IP peers dial (connection.json `address`).
    pub advertise_host: String,
    /// Inclusive range of per-chaincode ports; `None`: chaincodes are served only on the shared port.
    pub ports: Option<(u16, u16)>,
    /// Limits for every chaincode, unless `limits_for` names its label or CCID: those at start
    /// ([`Registry::reload_limits`] replaces them; the registry keeps the ones in force).
    pub limits: TxLimits,
    pub limits_for: HashMap<String, TxLimits>,
    /// Which transactions are recorded, unless `record_for` names the chaincode's label or CCID.
    pub record: RecordPolicy,
    pub record_for: HashMap<String, RecordPolicy>,
    /// TLS of the chaincode endpoints; `None`: plaintext ports only.
    pub tls: Option<ChaincodeTls>,
    /// How each chaincode port admits connections (the shared SNI port: the same, without a per-port cap).
    pub connections: ListenerPolicy,
    /// One plaintext port for every chaincode, routed by the HTTP/2 `:authority` a peer sends (connection.json's
    /// address): only without `tls` (with it, the shared port is `tls.shared_listen`, routed by SNI).
    pub shared_plain: Option<SocketAddr>,
    /// The DNS suffix of the names that route to chaincodes on the plaintext shared port.
    pub name_suffix: String,
    /// The store every host shares, when there are many: what it holds is what this host serves.
    pub shared_store: Option<StoreAccess>,
}

impl RegistrySettings {
    /// The shared port, when the host has one: the TLS one, routed by SNI, or the plaintext one, by `:authority`.
    pub fn shared_listen(&self) -> Option<SocketAddr> {
        match &self.tls {
            Some(tls) => tls.shared_listen,
            None => self.shared_plain,
        }
    }

    /// The host name that routes to `ccid` on the shared port (`<label>-<hash12>.<suffix>`: its TLS server name, or
    /// the host of its `:authority`), when the host has a shared port.
    pub fn route_name(&self, ccid: &str) -> Option<String> {
        self.shared_listen()?;
        routes::sni_name_for_ccid(ccid, self.name_suffix())
    }

    fn name_suffix(&self) -> &str {
        match &self.tls {
            Some(tls) => &tls.sni_suffix,
            None => &self.name_suffix,
        }
    }
}

/// TLS of the chaincode endpoints, built from `[tls]`: every chaincode port speaks it, and a shared port routes by
/// SNI when `shared_listen` is set.
#[derive(Debug, Clone)]
pub struct ChaincodeTls {
    pub server: Arc<rustls::ServerConfig>,
    /// The certificate `server` presents, replaced in place on reload.
    pub cert: Arc<tls::ServerCert>,
    /// Client certificates are required (the configuration has a client CA).
    pub client_auth: bool,
    /// PEM of the CA peers trust for the server certificate (connection.json `root_cert`).
    pub root_cert: String,
    /// The shared SNI-routed port; always with client auth.
    pub shared_listen: Option<SocketAddr>,
    pub sni_suffix: String,
}

impl ChaincodeTls {
    /// Reads and checks every PEM of the section.
    pub fn from_config(config: &TlsConfig) -> Result<ChaincodeTls, TlsError> {
        let (server, cert) = tls::reloadable_server_config(&config.server_settings())?;
        let root_cert = match &config.root_cert {
            Some(source) => {
                let text = source.read(PemRole::ServerRootCert)?;
                tls::parse_certificates(text.as_bytes(), PemRole::ServerRootCert, &source.origin())?;
                text
            }
            None => {
                let text = config.cert.read(PemRole::ServerCertChain)?;
                last_certificate(&text).ok_or_else(|| TlsError::NoCertificate {
                    role: PemRole::ServerCertChain,
                    origin: config.cert.origin(),
                })?
            }
        };
        Ok(ChaincodeTls {
            server,
            cert,
            client_auth: config.client_ca.is_some(),
            root_cert,
            shared_listen: config.shared_listen,
            sni_suffix: config.sni_suffix.clone(),
        })
    }
}

/// The last CERTIFICATE block of a PEM chain, as written (the issuing CA when the chain ends with it).
fn last_certificate(pem: &str) -> Option<String> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let start = pem.rfind(BEGIN)?;
    let end = start + pem[start..].find(END)? + END.len();
    Some(format!("{}\n", &pem[start..end]))
}

/// Reserves an installed chaincode's routes in `book`: its port, and its name on the shared port under `settings`.
fn reserve_routes_of(
    book: &mut RouteBook,
    record: &ChaincodeRecord,
    settings: &RegistrySettings,
) -> Result<(), RouteTaken> {
    if let Some(port) = record.port {
        book.reserve_port(port, &record.ccid)?;
    }
    if let Some(name) = settings.route_name(&record.ccid) {
        book.reserve_sni_name(&name, &record.ccid)?;
    }
    Ok(())
}

/// Where peers reach a chaincode, in words.
fn where_served(port: Option<u16>) -> String {
    port.map_or_else(|| "on the shared port only".to_owned(), |port| format!("on port {port}"))
}

/// The answer to installing a chaincode that is installed: its record, unless the operator pinned another port.
fn installed_already(record: ChaincodeRecord, pinned_port: Option<u16>) -> Result<ChaincodeRecord, InstallError> {
    match pinned_port.filter(|p| Some(*p) != record.port) {
        Some(asked) => Err(InstallError::InstalledElsewhere { ccid: record.ccid, port: record.port, asked }),
        None => Ok(record),
    }
}

/// A chaincode's limits: its CCID's entry in `limits_for`, else its label's, else the defaults.
fn pick_limits(defaults: TxLimits, limits_for: &HashMap<String, TxLimits>, label: &str, ccid: &str) -> TxLimits {
    limits_for.get(ccid).or_else(|| limits_for.get(label)).copied().unwrap_or(defaults)
}

impl From<PortChoice> for InstallError {
    fn from(e: PortChoice) -> Self {
        match e {
            PortChoice::Taken(taken) => InstallError::RouteTaken(taken),
            PortChoice::Unavailable { port, reason } => InstallError::PortUnavailable { port, reason },
            PortChoice::Exhausted(lo, hi) => InstallError::NoPort(lo, hi),
        }
    }
}

struct Live {
    record: ChaincodeRecord,
    chaincode: Arc<LoadedChaincode>,
    addr: Option<SocketAddr>,
}

pub struct Registry {
    engine: Arc<WasmEngine>,
    store: Store,
    settings: RegistrySettings,
    live: Mutex<HashMap<String, Live>>,
    /// Every route ever given, kept in step with the store's copy.
    routes: Mutex<RouteBook>,
    installing: tokio::sync::Mutex<()>,
    shutdown: CancellationToken,
    /// Cancelled when the host starts to stop: listeners take no new connection, streams end once what runs answered.
    draining: CancellationToken,
    shared_addr: Mutex<Option<SocketAddr>>,
    /// The operator's limits now (`[limits]`, `[limits_for]`): the settings' at start, replaced on reload.
    limits: RwLock<(TxLimits, HashMap<String, TxLimits>)>,
    /// Counts installs and removals, so that what serves chaincodes from this registry in the same process (the
    /// gateway of `wasmcc dev`) follows them as they happen.
    changes: tokio::sync::watch::Sender<u64>,
    counters: HostCounters,
    /// Why this host may not serve what the shared store holds (unreachable, or a chaincode that would not load);
    /// `None` when it does, and always without a shared store.
    out_of_step: Mutex<Option<String>>,
    /// Modules loaded, by hash: chaincodes of the same code (labels, versions of the metadata) share one mapping of
    /// its artifact, so that neither memory nor the process's mappings grow per chaincode.
    loaded: Mutex<HashMap<String, ChaincodePre<TxState>>>,
    /// The operator's recording policies now (`[record]`, `[record_for]`), replaced on reload.
    recording: RwLock<(RecordPolicy, HashMap<String, RecordPolicy>)>,
    /// The writer of recordings, started when a chaincode is first recorded.
    recorder: std::sync::OnceLock<Arc<Recorder>>,
}

impl Registry {
    /// Opens the store and serves every chaincode recorded in it. Each is loaded on its first stream, from its stored
    /// artifact (no compilation); only chaincodes whose artifact another engine build wrote are recompiled here,
    /// so that their first transaction is not slowed by it.
    pub async fn open(
        engine: Arc<WasmEngine>,
        store: Store,
        settings: RegistrySettings,
    ) -> Result<Arc<Self>, InstallError> {
        let routes = Self::reserved_routes(&store, &settings)?;
        let limits = RwLock::new((settings.limits, settings.limits_for.clone()));
        let recording = RwLock::new((settings.record, settings.record_for.clone()));
        let out_of_step = settings.shared_store.as_ref().map(|_| "not yet in step with the shared store".to_owned());
        let registry = Arc::new(Registry {
            engine,
            store,
            settings,
            live: Mutex::default(),
            routes: Mutex::new(routes),
            installing: tokio::sync::Mutex::new(()),
            shutdown: CancellationToken::new(),
            draining: CancellationToken::new(),
            shared_addr: Mutex::new(None),
            limits,
            changes: tokio::sync::watch::Sender::new(0),
            counters: HostCounters::default(),
            out_of_step: Mutex::new(out_of_step),
            loaded: Mutex::default(),
            recording,
            recorder: std::sync::OnceLock::new(),
        });
        registry.serve_shared().await?;
        let this = registry.clone();
        let servable =
            tokio::task::spawn_blocking(move || this.servable_records()).await.expect("artifact check task")?;
        for record in servable {
            let chaincode = registry.lazy(&record);
            registry.serve(record, chaincode, None).await;
        }
        if let Some(store) = registry.settings.shared_store.clone() {
            registry.follow(store).await;
        }
        Ok(registry)
    }

    pub fn engine(&self) -> &Arc<WasmEngine> {
        &self.engine
    }

    pub fn settings(&self) -> &RegistrySettings {
        &self.settings
    }

    /// Installs a package. Returns the record and whether it was new (installing the same package twice is a
    /// no-op, as on the peer).
    pub async fn install(self: &Arc<Self>, package_bytes: Vec<u8>) -> Result<(ChaincodeRecord, bool), InstallError> {
        self.install_on(package_bytes, None).await
    }

    /// [`Registry::install`] on the port the operator pins, or else on the chaincode's own reserved port, or else
    /// on the lowest port of the range never given to any chaincode.
    pub async fn install_on(
        self: &Arc<Self>,
        package_bytes: Vec<u8>,
        pinned_port: Option<u16>,
    ) -> Result<(ChaincodeRecord, bool), InstallError> {
        // Unzipping and hashing up to 64 MiB is blocking work: off the workers that serve transactions.
        let (pkg, package_bytes) =
            tokio::task::spawn_blocking(move || (package::read_package(&package_bytes), package_bytes))
                .await
                .expect("package read task");
        let pkg = pkg?;
        let _one_at_a_time = self.installing.lock().await;
        if let Some(record) = self.record(&pkg.ccid) {
            return Ok((installed_already(record, pinned_port)?, false));
        }
        let sni_name = self.settings.route_name(&pkg.ccid);
        if let (None, Some(port)) = (self.settings.ports, pinned_port) {
            return Err(InstallError::PortUnavailable {
                port,
                reason: "this host serves chaincodes only on its shared port (chaincodes.own_ports = false)".into(),
            });
        }
        // On one host the port is chosen (and bound) first: a range with no port left costs no compilation.
        let (local_port, held) = match &self.settings.shared_store {
            None => self.port_for(&pkg.ccid, pinned_port, sni_name.as_deref())?.unzip(),
            Some(_) => (None, None),
        };
        let limits = self.limits_of(&pkg.label, &pkg.ccid);
        let this = self.clone();
        let (pkg, module_hash, chaincode) = tokio::task::spawn_blocking(move || -> Result<_, InstallError> {
            let (module_hash, chaincode) = this.compile(&pkg.ccid, &pkg.wasm, limits)?;
            Ok((pkg, module_hash, chaincode))
        })
        .await
        .expect("install task")?;
        let record = ChaincodeRecord {
            ccid: pkg.ccid.clone(),
            label: pkg.label.clone(),
            module_hash,
            module_size: pkg.wasm.len() as u64,
            port: local_port,
            limits,
        };
        let (record, created) = match &self.settings.shared_store {
            Some(store) => {
                let (record, created) = self
                    .install_shared(store, &record, &pkg.wasm, &package_bytes, pinned_port, sni_name.as_deref())
                    .await?;
                if !created {
                    installed_already(record.clone(), pinned_port)?;
                }
                (record, created)
            }
            None => (record, true),
        };
        let this = self.clone();
        let keep = record.clone();
        tokio::task::spawn_blocking(move || -> Result<(), InstallError> {
            this.store.put_package(&keep.ccid, &package_bytes)?;
            if this.settings.shared_store.is_none() {
                this.reserve(&keep.ccid, keep.port, sni_name.as_deref())?;
            }
            Ok(this.store.put_record(&keep)?)
        })
        .await
        .expect("install task")?;
        self.serve(record.clone(), Arc::new(chaincode), held).await;
        if created {
            tracing::info!(ccid = %record.ccid, port = record.port, "installed");
            self.counters.installed();
        } else {
            tracing::info!(ccid = %record.ccid, port = record.port, "installed already (by another host): serving it");
        }
        self.changes.send_modify(|n| *n += 1);
        Ok((record, created))
    }

    /// Checks a module, keeps it, compiles it into this host's artifact cache and loads it: what every host does with
    /// a module before serving it. Returns the module's hash and what runs it. Blocking work.
    /// A module this host compiled before (another package of the same code: another label, another version's
    /// metadata) is not compiled again: its artifact is keyed by module hash and engine build.
    fn compile(&self, ccid: &str, wasm: &[u8], limits: TxLimits) -> Result<(String, LoadedChaincode), InstallError> {
        let validated = validate::validate(wasm)?;
        self.store.put_module(&validated.module_hash, wasm)?;
        let engine_hash = self.engine.compatibility_hash();
        let compiled = self.store.artifact_path(&validated.module_hash, &engine_hash);
        let pre = self.loaded_module(&validated.module_hash, || {
            if let Some(Ok(pre)) = compiled.exists().then(|| self.engine.load_artifact(&compiled)) {
                return Ok(pre);
            }
            let artifact = self.engine.precompile(&validated.component)?;
            let path = self.store.put_artifact(&validated.module_hash, &engine_hash, &artifact)?;
            Ok(self.engine.load_artifact(&path)?)
        })?;
        let chaincode = LoadedChaincode::new(ccid.to_owned(), pre, limits).drained_with(&self.draining);
        Ok((validated.module_hash, chaincode))
    }

    /// Uninstalls: its sessions end, its listener stops, its files go; its routes stay reserved for it. Returns
    /// what was removed.
    pub async fn remove(&self, ccid: &str) -> Result<ChaincodeRecord, InstallError> {
        let _one_at_a_time = self.installing.lock().await;
        let shared = match &self.settings.shared_store {
            Some(store) => self.remove_shared(store, ccid).await?,
            None => None,
        };
        let removed = self.remove_here(ccid)?.or(shared);
        let Some(record) = removed else { return Err(InstallError::NotInstalled(ccid.into())) };
        tracing::info!(%ccid, port = record.port, "removed; its routes stay reserved for it");
        self.counters.removed();
        Ok(record)
    }

    /// Stops serving a chaincode on this host and deletes its files here. Returns what was served.
    fn remove_here(&self, ccid: &str) -> Result<Option<ChaincodeRecord>, InstallError> {
        let live = self.live.lock().expect("registry lock").remove(ccid);
        let Some(live) = live else { return Ok(None) };
        live.chaincode.retired.cancel();
        let hash = &live.record.module_hash;
        if !self.live.lock().expect("registry lock").values().any(|l| &l.record.module_hash == hash) {
            self.loaded.lock().expect("loaded modules lock").remove(hash);
        }
        self.store.remove(ccid)?;
        self.changes.send_modify(|n| *n += 1);
        Ok(Some(live.record))
    }

    /// Why the host should not be sent traffic, if it should not: its store must be reachable, and every installed
    /// chaincode must be listening (`/readyz`).
    pub fn not_ready(&self) -> Option<String> {
        if self.draining.is_cancelled() {
            return Some("the host is stopping".into());
        }
        if let Err(e) = std::fs::read_dir(self.store.root()) {
            return Some(format!("the store at {} is not reachable: {e}", self.store.root().display()));
        }
        if let Some(why) = self.out_of_step.lock().expect("registry lock").clone() {
            return Some(why);
        }
        let live = self.live.lock().expect("registry lock");
        let own_port = |l: &&Live| l.record.port.is_some() && self.settings.ports.is_some();
        let mut silent: Vec<&str> =
            live.values().filter(own_port).filter(|l| l.addr.is_none()).map(|l| l.record.ccid.as_str()).collect();
        silent.sort_unstable();
        (!silent.is_empty()).then(|| format!("not listening: {}", silent.join(", ")))
    }

    /// A chaincode's limits under the operator's configuration now.
    fn limits_of(&self, label: &str, ccid: &str) -> TxLimits {
        let (defaults, limits_for) = &*self.limits.read().expect("limits lock");
        pick_limits(*defaults, limits_for, label, ccid)
    }

    /// Applies new limits (a reloaded configuration) to every installed chaincode: transactions that start from now on
    /// run under them; those running keep theirs, and no stream is touched. Returns the CCIDs whose limits changed.
    pub fn reload_limits(&self, defaults: TxLimits, limits_for: HashMap<String, TxLimits>) -> Vec<String> {
        *self.limits.write().expect("limits lock") = (defaults, limits_for);
        let mut changed = Vec::new();
        for live in self.live.lock().expect("registry lock").values() {
            let limits = self.limits_of(&live.record.label, &live.record.ccid);
            if live.chaincode.limits() != limits {
                live.chaincode.set_limits(limits);
                changed.push(live.record.ccid.clone());
            }
        }
        changed.sort();
        changed
    }

    /// Reads the chaincode endpoints' certificate and key again (a renewed certificate), for every handshake from now
    /// on. `Ok(false)` when the host serves no TLS.
    pub fn reload_tls(&self, config: &TlsConfig) -> Result<bool, TlsError> {
        match &self.settings.tls {
            Some(tls) => tls.cert.reload(&config.server_settings()).map(|()| true),
            None => Ok(false),
        }
    }

    /// Installs, removals and admin API responses, for `/metrics`.
    pub fn counters(&self) -> &HostCounters {
        &self.counters
    }

    /// Every installed chaincode with what runs it (its figures included).
    pub fn chaincodes(&self) -> Vec<(ChaincodeRecord, Arc<LoadedChaincode>)> {
        let live = self.live.lock().expect("registry lock");
        live.values().map(|l| (l.record.clone(), l.chaincode.clone())).collect()
    }

    /// Changes whenever a chaincode is installed or removed.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// The chaincode to run for a CCID, if installed.
    pub fn get(&self, ccid: &str) -> Option<Arc<LoadedChaincode>> {
        self.live.lock().expect("registry lock").get(ccid).map(|l| l.chaincode.clone())
    }

    pub fn record(&self, ccid: &str) -> Option<ChaincodeRecord> {
        self.live.lock().expect("registry lock").get(ccid).map(|l| l.record.clone())
    }

    /// Where the shared SNI-routed port is bound, when configured.
    pub fn shared_addr(&self) -> Option<SocketAddr> {
        *self.shared_addr.lock().expect("registry lock")
    }

    /// The CCID served under a name on the shared port (a TLS server name, or the host of an `:authority`): read
    /// from the live map at each connection or stream, so installs and removals take effect at once.
    pub fn ccid_for_name(&self, name: &str) -> Option<String> {
        let live = self.live.lock().expect("registry lock");
        live.keys().find(|ccid| self.settings.route_name(ccid).as_deref() == Some(name)).cloned()
    }

    /// Where a chaincode's own listener is bound, if it is.
    pub fn listen_addr(&self, ccid: &str) -> Option<SocketAddr> {
        self.live.lock().expect("registry lock").get(ccid).and_then(|l| l.addr)
    }

    /// Every installed chaincode, sorted by CCID.
    pub fn records(&self) -> Vec<ChaincodeRecord> {
        let mut records: Vec<_> = self.live.lock().expect("registry lock").values().map(|l| l.record.clone()).collect();
        records.sort_by(|a, b| a.ccid.cmp(&b.ccid));
        records
    }

    /// Stops every listener and session (the store stays as it is).
    /// Starts to stop: `/readyz` answers 503, listeners stop accepting (connections get GOAWAY), and every stream
    /// starts no new transaction and ends once those it runs have answered. [`Registry::is_drained`] says when all
    /// have.
    pub fn drain(&self) {
        self.draining.cancel();
    }

    /// Whether no peer stream is open and no transaction runs any more.
    pub fn is_drained(&self) -> bool {
        let live = self.live.lock().expect("registry lock");
        live.values().all(|l| l.chaincode.metrics.streams() == 0) && self.engine.gauges().live_transactions() == 0
    }

    pub fn shutdown(&self) {
        self.shutdown.cancel();
        for live in self.live.lock().expect("registry lock").values() {
            live.chaincode.retired.cancel();
        }
    }

    /// A stored chaincode that loads on first use. The loader holds the registry weakly: a chaincode never keeps
    /// the registry alive.
    fn lazy(self: &Arc<Self>, record: &ChaincodeRecord) -> Arc<LoadedChaincode> {
        let registry: Weak<Registry> = Arc::downgrade(self);
        let stored = record.clone();
        let loader: ProgramLoader = Arc::new(move || {
            let registry = registry.upgrade().ok_or("the host is shutting down")?;
            Ok(registry.load(&stored).map(Program::Wasm)?)
        });
        let limits = self.limits_of(&record.label, &record.ccid);
        Arc::new(LoadedChaincode::lazy(record.ccid.clone(), limits, loader).drained_with(&self.draining))
    }

    fn artifact_path(&self, record: &ChaincodeRecord) -> PathBuf {
        self.store.artifact_path(&record.module_hash, &self.engine.compatibility_hash())
    }

    /// The stored chaincodes this engine can serve, with an artifact each: one another engine build wrote (after an
    /// upgrade of the host) is recompiled now. A chaincode that cannot be is logged and left out.
    fn servable_records(&self) -> Result<Vec<ChaincodeRecord>, InstallError> {
        let mut servable = Vec::new();
        for record in self.store.records()? {
            if !self.artifact_path(&record).exists() {
                if let Err(e) = self.recompile(&record) {
                    tracing::error!(ccid = %record.ccid, "cannot serve installed chaincode: {e}");
                    continue;
                }
            }
            servable.push(record);
        }
        Ok(servable)
    }

    /// Maps a chaincode's artifact in; one that cannot be used (damaged on disk) is compiled again from the stored
    /// module.
    fn load(&self, record: &ChaincodeRecord) -> Result<ChaincodePre<TxState>, InstallError> {
        self.loaded_module(&record.module_hash, || match self.engine.load_artifact(&self.artifact_path(record)) {
            Ok(pre) => Ok(pre),
            Err(e) => {
                tracing::warn!(ccid = %record.ccid, "stored artifact unusable, recompiling: {e}");
                let path = self.recompile(record)?;
                Ok(self.engine.load_artifact(&path)?)
            }
        })
    }

    /// The module loaded under this hash, or `load`'s, kept for the chaincodes of the same code that follow. Loading
    /// is not under the lock: two first loads of one module at once cost a second mapping, never a wait.
    fn loaded_module(
        &self,
        module_hash: &str,
        load: impl FnOnce() -> Result<ChaincodePre<TxState>, InstallError>,
    ) -> Result<ChaincodePre<TxState>, InstallError> {
        if let Some(pre) = self.loaded.lock().expect("loaded modules lock").get(module_hash) {
            return Ok(pre.clone());
        }
        let pre = load()?;
        self.loaded.lock().expect("loaded modules lock").insert(module_hash.to_owned(), pre.clone());
        Ok(pre)
    }

    fn recompile(&self, record: &ChaincodeRecord) -> Result<PathBuf, InstallError> {
        let wasm = self.store.read_module(&record.module_hash)?;
        let validated = validate::validate(&wasm)?;
        let artifact = self.engine.precompile(&validated.component)?;
        Ok(self.store.put_artifact(&record.module_hash, &self.engine.compatibility_hash(), &artifact)?)
    }

    /// The service of this registry's listeners: each stream runs the chaincode its connection is routed to, as
    /// installed at that moment. Holds the registry weakly: listeners never keep it alive.
    fn service(self: &Arc<Self>) -> ChaincodeService {
        let registry: Weak<Registry> = Arc::downgrade(self);
        let lookup: ChaincodeLookup = Arc::new(move |ccid: &str| registry.upgrade()?.get(ccid));
        ChaincodeService::routed(self.engine.clone(), lookup)
    }

    /// Starts the shared listener, when configured: mutual TLS routed by SNI (`config.rs` checks the client CA), or
    /// plaintext routed by each stream's `:authority`.
    async fn serve_shared(self: &Arc<Self>) -> Result<(), InstallError> {
        let Some(addr) = self.settings.shared_listen() else { return Ok(()) };
        let registry: Weak<Registry> = Arc::downgrade(self);
        let resolver: SniResolver = Arc::new(move |name: &str| registry.upgrade()?.ccid_for_name(name));
        let policy = self.settings.connections.uncapped();
        let (route, service) = match &self.settings.tls {
            Some(tls) => (Route::Sni { resolver, config: tls.server.clone() }, self.service()),
            None => (Route::Plain { ccid: None }, self.service().by_authority(resolver)),
        };
        let listener = Listener::bind_route(addr, route, service, policy)
            .map_err(|source| InstallError::SharedListener { addr, source })?;
        let bound = listener.local_addr().ok();
        *self.shared_addr.lock().expect("registry lock") = bound;
        let (shutdown, draining) = (self.shutdown.clone(), self.draining.clone());
        tokio::spawn(async move {
            let stopped = async move {
                tokio::select! { _ = shutdown.cancelled() => {}, _ = draining.cancelled() => {} }
            };
            if let Err(e) = listener.serve_until(stopped).await {
                tracing::error!(%addr, "shared chaincode listener failed: {e}");
            }
        });
        let by = if self.settings.tls.is_some() { "TLS server name (SNI)" } else { "HTTP/2 :authority" };
        tracing::info!(addr = ?bound, "shared chaincode port routes by {by}");
        Ok(())
    }

    /// Where a chaincode's transactions are recorded under the operator's policy now: its CCID's `record_for`, else its
    /// label's, else `[record]`; `None` when they are not. A recorder that cannot start is logged, and nothing is
    /// recorded (transactions are never refused for it).
    fn record_target(&self, record: &ChaincodeRecord) -> Option<Arc<RecordTarget>> {
        let policy = {
            let (defaults, by_name) = &*self.recording.read().expect("recording lock");
            *by_name.get(&record.ccid).or_else(|| by_name.get(&record.label)).unwrap_or(defaults)
        };
        if policy.mode == RecordMode::Off {
            return None;
        }
        let recorder = match self.recorder.get() {
            Some(recorder) => recorder.clone(),
            None => match Recorder::start(self.store.root().join("recordings")) {
                Ok(started) => self.recorder.get_or_init(|| started).clone(),
                Err(e) => {
                    tracing::error!(ccid = %record.ccid, "transactions cannot be recorded: {e}");
                    return None;
                }
            },
        };
        Some(Arc::new(RecordTarget::new(policy, record.module_hash.clone(), recorder)))
    }

    /// Applies new recording policies (a reloaded configuration) to every installed chaincode, for transactions that
    /// start from now on.
    pub fn reload_recording(&self, defaults: RecordPolicy, by_name: HashMap<String, RecordPolicy>) {
        *self.recording.write().expect("recording lock") = (defaults, by_name);
        for (record, chaincode) in self.chaincodes() {
            chaincode.set_recording(self.record_target(&record));
        }
    }

    /// The writer of this host's recordings, once one was started.
    pub fn recorder(&self) -> Option<&Arc<Recorder>> {
        self.recorder.get()
    }

    /// Starts the chaincode's own listener (TLS when configured) on the socket `held` since its port was chosen, or
    /// on one bound now, unless the host serves chaincodes only on its shared port; and makes the chaincode visible.
    async fn serve(
        self: &Arc<Self>,
        record: ChaincodeRecord,
        chaincode: Arc<LoadedChaincode>,
        held: Option<tokio::net::TcpListener>,
    ) {
        chaincode.set_recording(self.record_target(&record));
        let port = record.port.filter(|_| self.settings.ports.is_some());
        let Some(addr) = port.map(|port| SocketAddr::new(self.settings.listen_ip, port)) else {
            let ccid = record.ccid.clone();
            self.live.lock().expect("registry lock").insert(ccid, Live { record, chaincode, addr: None });
            return;
        };
        let ccid = Some(record.ccid.clone());
        let route = match &self.settings.tls {
            Some(tls) => Route::Tls { ccid, config: tls.server.clone() },
            None => Route::Plain { ccid },
        };
        let socket = held.map_or_else(|| bind_port(addr), Ok);
        let bound = match socket.and_then(|s| Listener::on(s, route, self.service(), self.settings.connections.clone()))
        {
            Ok(listener) => {
                let stop = chaincode.retired.clone();
                let (shutdown, draining) = (self.shutdown.clone(), self.draining.clone());
                let bound = listener.local_addr().ok();
                tokio::spawn(async move {
                    let stopped = async move {
                        tokio::select! {
                            _ = stop.cancelled() => {},
                            _ = shutdown.cancelled() => {},
                            _ = draining.cancelled() => {},
                        }
                    };
                    if let Err(e) = listener.serve_until(stopped).await {
                        tracing::error!(%addr, "chaincode listener failed: {e}");
                    }
                });
                bound
            }
            Err(e) => {
                tracing::error!(ccid = %record.ccid, %addr, "cannot listen on the chaincode's port: {e}");
                None
            }
        };
        let ccid = record.ccid.clone();
        self.live.lock().expect("registry lock").insert(ccid, Live { record, chaincode, addr: bound });
    }

    /// The routes of the store, with those of every installed chaincode reserved (a data directory written before
    /// reservations were kept has its installed chaincodes' ports only).
    fn reserved_routes(store: &Store, settings: &RegistrySettings) -> Result<RouteBook, InstallError> {
        let mut book = store.routes()?;
        let before = book.clone();
        for record in store.records()? {
            if let Err(e) = reserve_routes_of(&mut book, &record, settings) {
                tracing::error!(ccid = %record.ccid, "installed chaincode shares a route: {e}");
            }
        }
        if book != before {
            store.put_routes(&book)?;
        }
        Ok(book)
    }

    /// Gives the routes to the CCID for good, durably (before its record: a crash in between leaves a reservation
    /// for a chaincode that is not installed, which only costs a port).
    fn reserve(&self, ccid: &str, port: Option<u16>, sni_name: Option<&str>) -> Result<(), InstallError> {
        let mut routes = self.routes.lock().expect("routes lock");
        let mut book = routes.clone();
        if let Some(port) = port {
            book.reserve_port(port, ccid)?;
        }
        if let Some(name) = sni_name {
            book.reserve_sni_name(name, ccid)?;
        }
        if book != *routes {
            self.store.put_routes(&book)?;
            *routes = book;
        }
        Ok(())
    }

    /// The port a chaincode installs on ([`RouteBook::choose_port`]), with the socket bound to it: held until the
    /// chaincode serves there, so nothing else (an outgoing connection given it as its local port, say) takes the
    /// port while the module compiles.
    fn port_for(
        &self,
        ccid: &str,
        pinned: Option<u16>,
        sni_name: Option<&str>,
    ) -> Result<Option<(u16, tokio::net::TcpListener)>, InstallError> {
        let book = self.routes.lock().expect("routes lock").clone();
        let shared = self.settings.shared_listen().map(|a| a.port());
        let bind = |port: u16| bind_port(SocketAddr::new(self.settings.listen_ip, port));
        Ok(book.choose_port(ccid, pinned, sni_name, self.settings.ports, shared, bind)?)
    }
}
