//! A running host: the store opened, every installed chaincode served, the admin API listening. What
//! `wasmcc serve` and the demo run, and what tests start and stop in-process.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rand::RngCore;
use tokio_util::sync::CancellationToken;

use crate::admin::{self, AdminSettings};
use crate::admin_server::{self, AdminServing};
use crate::config::{Config, ConnectionsConfig};
use crate::connections::{self, ConnectionBudget, FdBudget, ListenerPolicy};
use crate::engine::{EngineError, WasmEngine};
use crate::limits;
use crate::registry::{ChaincodeTls, InstallError, Registry, RegistrySettings};
use crate::store::{self, Store};

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Install(#[from] InstallError),
    #[error("data directory: {0}")]
    Store(#[from] store::StoreError),
    #[error("admin API on {addr}: {source}")]
    Admin { addr: SocketAddr, source: std::io::Error },
    #[error("metrics listener on {addr}: {source}")]
    Metrics { addr: SocketAddr, source: std::io::Error },
    #[error("the shared store's TLS ([store] ca): {0}")]
    StoreTls(crate::tls::TlsError),
    #[error("chaincode TLS ([tls]): {0}")]
    Tls(#[from] crate::tls::TlsError),
    #[error("admin token file {path}: {source}")]
    Token { path: String, source: std::io::Error },
}

/// What a reload changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reloaded {
    /// Chaincodes whose limits changed.
    pub limits_changed: Vec<String>,
    /// Whose certificates were read again.
    pub certificates: Vec<String>,
    /// Changes that only a restart applies.
    pub restart_needed: Vec<String>,
}

pub struct Daemon {
    registry: Arc<Registry>,
    admin_addr: SocketAddr,
    /// The admin API's certificate when it serves HTTPS, replaced in place on reload.
    admin_cert: Option<Arc<crate::tls::ServerCert>>,
    token: String,
    stop: CancellationToken,
    admin_task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Daemon {
    /// Starts a host from its configuration on the current tokio runtime.
    pub async fn start(config: &Config) -> Result<Daemon, DaemonError> {
        Self::start_with_engine(config, Arc::new(WasmEngine::with_quota(&config.quota)?)).await
    }

    /// As [`Daemon::start`], with an engine the caller keeps (tests read its gauges across restarts).
    pub async fn start_with_engine(config: &Config, engine: Arc<WasmEngine>) -> Result<Daemon, DaemonError> {
        without_transparent_huge_pages();
        let store = Store::open(&config.data_dir)?;
        let token = resolve_token(config, store.root())?;
        let (chaincode_connections, admin_serving) = connection_policies(&config.connections);
        let settings = RegistrySettings {
            listen_ip: config.chaincodes.listen_ip,
            advertise_host: config.advertise_host(),
            ports: config.chaincodes.own_ports.then_some((config.chaincodes.port_min, config.chaincodes.port_max)),
            limits: config.limits,
            limits_for: config.limits_for.clone(),
            record: config.record,
            record_for: config.record_for.clone(),
            tls: config.tls.as_ref().map(ChaincodeTls::from_config).transpose()?,
            connections: chaincode_connections,
            shared_plain: config.chaincodes.shared_listen,
            name_suffix: config.chaincodes.name_suffix.trim_matches('.').to_ascii_lowercase(),
            shared_store: config.store.access().map_err(DaemonError::StoreTls)?,
        };
        let registry = Registry::open(engine, store, settings).await?;

        let addr = config.admin.listen;
        let listener =
            tokio::net::TcpListener::bind(addr).await.map_err(|source| DaemonError::Admin { addr, source })?;
        let admin_addr = listener.local_addr().map_err(|source| DaemonError::Admin { addr, source })?;
        let settings = AdminSettings {
            token: token.clone(),
            max_upload_bytes: config.admin.max_upload_mb * 1024 * 1024,
            max_concurrent_uploads: config.admin.max_concurrent_uploads,
            upload_wait: std::time::Duration::from_secs(config.admin.upload_wait_secs),
        };
        let app = admin::router(registry.clone(), settings);
        let stop = CancellationToken::new();
        let admin_stop = stop.clone();
        let admin_tls_config = match config.admin.tls_settings() {
            Some(settings) => Some(crate::tls::reloadable_server_config(&settings)?),
            None => {
                admin::plain_http_allowed(admin_addr)
                    .map_err(|source| DaemonError::Admin { addr: admin_addr, source })?;
                None
            }
        };
        if let Some(addr) = config.metrics.listen {
            let listener =
                tokio::net::TcpListener::bind(addr).await.map_err(|source| DaemonError::Metrics { addr, source })?;
            let probes = admin::probes(registry.clone());
            let stop = stop.clone().cancelled_owned();
            tokio::spawn(admin_server::serve(listener, None, probes, admin_serving.clone(), stop));
        }
        let (admin_tls_config, admin_cert) = admin_tls_config.unzip();
        let admin_task = tokio::spawn(admin_server::serve(
            listener,
            admin_tls_config,
            app,
            admin_serving,
            admin_stop.cancelled_owned(),
        ));
        Ok(Daemon { registry, admin_addr, admin_cert, token, stop, admin_task })
    }

    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    pub fn admin_url(&self) -> String {
        format!("{}://{}", if self.admin_cert.is_some() { "https" } else { "http" }, self.admin_addr)
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    /// Runs until the admin API fails (it never stops by itself).
    pub async fn wait(&mut self) -> std::io::Result<()> {
        (&mut self.admin_task).await.unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }

    /// Applies a re-read configuration without dropping a connection (SIGHUP): per-chaincode limits (for
    /// transactions that start from now on), and the certificates and keys of the chaincode endpoints and of the
    /// admin API (for handshakes from now on). Everything else — addresses, ports, client CAs, quotas, whether TLS
    /// is on — is read at start only; a change there is reported, and needs a restart.
    pub fn reload(&self, config: &Config) -> Result<Reloaded, DaemonError> {
        let mut restart_needed = Vec::new();
        let tls_now = self.registry.settings().tls.is_some();
        if tls_now != config.tls.is_some() {
            restart_needed.push("[tls] was added or removed".to_owned());
        }
        if self.admin_cert.is_some() != config.admin.tls_settings().is_some() {
            restart_needed.push("admin TLS was turned on or off".to_owned());
        }
        if self.registry.settings().shared_store.as_ref().map(|s| s.url()) != config.store.postgres().as_ref() {
            restart_needed.push("[store] postgres was set, changed or removed".to_owned());
        }
        let mut certificates = Vec::new();
        if let (Some(tls), true) = (&config.tls, tls_now) {
            self.registry.reload_tls(tls)?;
            certificates.push("chaincode endpoints".to_owned());
        }
        if let (Some(cert), Some(settings)) = (&self.admin_cert, config.admin.tls_settings()) {
            cert.reload(&settings)?;
            certificates.push("admin API".to_owned());
        }
        let limits_changed = self.registry.reload_limits(config.limits, config.limits_for.clone());
        self.registry.reload_recording(config.record, config.record_for.clone());
        Ok(Reloaded { limits_changed, certificates, restart_needed })
    }

    /// Stops the way a rolling restart needs: `/readyz` turns 503, listeners take no new connection, and every peer
    /// stream starts no new transaction and ends once those it runs have answered. A peer sees its stream end, with
    /// any transaction it sent meanwhile unstarted (safe to send again), and redials: another replica. After
    /// `timeout`, what is still open is ended as by [`Daemon::shutdown`]. Returns whether every stream ended on its
    /// own.
    pub async fn stop_gracefully(self, timeout: std::time::Duration) -> bool {
        self.registry.drain();
        let deadline = tokio::time::Instant::now() + timeout;
        while !self.registry.is_drained() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(limits::DRAIN_POLL).await;
        }
        let drained = self.registry.is_drained();
        self.shutdown().await;
        drained
    }

    /// Stops the admin API, every listener and session; the store stays as it is.
    pub async fn shutdown(self) {
        self.stop.cancel();
        self.registry.shutdown();
        let _ = self.admin_task.await;
    }
}

/// The connection policies of a host: one budget for every chaincode listener and one for the admin API, both
/// within the descriptor limit, which is first raised as far as the hard limit allows.
fn connection_policies(config: &ConnectionsConfig) -> (ListenerPolicy, AdminServing) {
    let nofile = match connections::raise_fd_limit() {
        Ok(nofile) => nofile,
        Err(e) => {
            tracing::warn!("cannot raise RLIMIT_NOFILE: {e}");
            connections::fd_limit().unwrap_or(1_024)
        }
    };
    let fds = FdBudget::split(nofile, config.admin_max_connections);
    let chaincode = match config.max_total {
        0 => fds.chaincode,
        wanted if wanted > fds.chaincode => {
            tracing::warn!(
                "connections.max_total = {wanted} exceeds what RLIMIT_NOFILE ({nofile}) leaves for chaincode \
                 connections; using {}",
                fds.chaincode
            );
            fds.chaincode
        }
        wanted => wanted,
    };
    if fds.admin < config.admin_max_connections {
        tracing::warn!("RLIMIT_NOFILE ({nofile}) leaves room for {} admin API connections only", fds.admin);
    }
    tracing::info!(nofile, chaincode, admin = fds.admin, "connection budgets");
    let ms = Duration::from_millis;
    let chaincode = ListenerPolicy {
        budget: ConnectionBudget::new(chaincode),
        max_connections: config.max_per_port,
        max_pending: limits::MAX_PENDING_CONNECTIONS,
        handshake_timeout: ms(config.handshake_timeout_ms),
        idle_timeout: ms(config.idle_timeout_ms),
    };
    let admin = AdminServing {
        policy: ListenerPolicy {
            budget: ConnectionBudget::new(fds.admin),
            max_connections: fds.admin,
            ..chaincode.clone()
        },
        header_timeout: ms(config.admin_header_timeout_ms),
        body_timeout: ms(config.admin_body_timeout_ms),
    };
    (chaincode, admin)
}

/// The configured token, else `$WASMCC_ADMIN_TOKEN`, else the one kept in the data directory (made at first start,
/// mode 0600, so the local CLI can read it and nobody else).
fn resolve_token(config: &Config, data_dir: &Path) -> Result<String, DaemonError> {
    if let Some(token) = config.admin.token.clone().or_else(|| std::env::var("WASMCC_ADMIN_TOKEN").ok()) {
        return Ok(token);
    }
    let path = store::token_path(data_dir);
    let err = |source| DaemonError::Token { path: path.display().to_string(), source };
    match std::fs::read_to_string(&path) {
        Ok(token) if !token.trim().is_empty() => return Ok(token.trim().to_string()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(err(e)),
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = hex::encode(bytes);
    write_private(&path, &token).map_err(err)?;
    Ok(token)
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

/// Turns transparent huge pages off for this process. The allocator asks for them on its arenas, and then the first
/// touch of any part of a 2 MiB region makes the kernel zero all of it: a host's first compilation (an install after a
/// start) spent 60% of its time zeroing pages (0.65–0.70 s to install a 114 KB module, 0.28–0.32 s without them) and
/// the host held 100 MB where 60 MB did. Transactions do not miss them: alternating runs at c=64 and at a peer's pace
/// read the same CPU per transaction either way (BENCHMARKS.md, change 46). The setting is the process's (children
/// inherit it); where the kernel refuses it the host runs as it is.
fn without_transparent_huge_pages() {
    if let Err(e) = rustix::thread::disable_transparent_huge_pages(true) {
        tracing::debug!(error = %e, "transparent huge pages stay as the system set them");
    }
}

#[cfg(test)]
mod tests {
    /// What the kernel says of the process, not what the call returned.
    fn thp_enabled() -> String {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        status.lines().find_map(|l| l.strip_prefix("THP_enabled:")).expect("a THP_enabled line").trim().to_owned()
    }

    #[test]
    fn a_host_process_takes_no_transparent_huge_pages() {
        super::without_transparent_huge_pages();
        assert_eq!(thp_enabled(), "0");
    }
}
