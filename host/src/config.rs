//! Host configuration: TOML, every key optional, defaults that run a working host on loopback with nothing else
//! (the "embedded defaults" of the quick start).
//!
//! ```toml
//! data_dir = ".wasmcc"                  # modules, artifacts, packages, records (store.rs)
//!
//! [admin]
//! listen = "127.0.0.1:9100"             # plain HTTP only on loopback; elsewhere set tls_cert and tls_key
//! # token = "…"                         # else $WASMCC_ADMIN_TOKEN, else generated into <data_dir>/admin.token
//! # tls_cert = "admin.pem"  tls_key = "admin.key"
//! max_upload_mb = 64
//! max_concurrent_uploads = 2            # uploads received and installed at once (limits.rs)
//! upload_wait_secs = 60                 # how long a further upload waits for its turn before 503; 0: at once
//!
//! [chaincodes]
//! listen_ip = "127.0.0.1"               # where chaincode listeners bind
//! advertise_host = "127.0.0.1"          # what peers dial (connection.json address)
//! port_min = 9101                       # each chaincode gets its own port from this range, kept across restarts
//! port_max = 9999
//! # shared_listen = "0.0.0.0:9200"     # plaintext: one port for all, routed by HTTP/2 :authority (not with [tls])
//! own_ports = true                      # false: chaincodes only on the shared port (this or tls.shared_listen)
//! name_suffix = "chaincodes.wasmcc"     # names on it: <label>-<hash12>.<name_suffix>
//!
//! [tls]                                 # optional: TLS on every chaincode endpoint
//! cert = "server.pem"                   # chain, leaf first (a path, or { pem = "…" } / { file = "…" })
//! key = "server.key"
//! # client_ca = "peers-ca.pem"          # mutual TLS: peers must present a certificate from this CA
//! # root_cert = "ca.pem"                # the CA peers trust (connection.json root_cert); default: the chain's last
//! # shared_listen = "127.0.0.1:9443"    # one port for every chaincode, routed by SNI (needs client_ca)
//! sni_suffix = "chaincodes.wasmcc"      # SNI names are <label>-<hash12>.<sni_suffix>
//!
//! [quota]                               # host-wide bounds shared by all chaincodes (quota/)
//! instances = 1000                      # instance pool: transactions running at once, all chaincodes
//! # memory_mb = 12000                   # guest memory of all running transactions; default half of RAM/cgroup
//! admission_wait_ms = 10000             # longest wait to be admitted before ERROR
//! # threads = 2                         # guest threads (transactions running code at once); default one per CPU less the network threads
//!
//! [connections]                         # every listener: chaincode ports, the shared port, the admin API
//! handshake_timeout_ms = 5000           # accept → first stream or request (TLS handshake included), else closed
//! idle_timeout_ms = 60000               # a connection with no stream (or admin request) in flight is then closed
//! max_per_port = 1024                   # connections on one chaincode port (the shared port: max_total only)
//! max_total = 0                         # chaincode connections of the host; 0: from RLIMIT_NOFILE, minus reserves
//! admin_max_connections = 512           # admin API connections, a budget of their own
//! admin_header_timeout_ms = 10000       # an admin request's headers must arrive within this
//! admin_body_timeout_ms = 15000         # longest pause between two chunks of an admin request body
//! drain_timeout_ms = 25000              # SIGTERM: how long streams may take to answer what they run
//!
//! [metrics]                             # /metrics, /healthz, /readyz: always on the admin listener, without the token
//! # listen = "0.0.0.0:9090"             # and on a plain-HTTP listener of their own (no secrets there)
//!
//! [store]                               # optional: many hosts serving the same chaincodes (shared_store.rs)
//! # postgres = "postgres://wasmcc:…@db/wasmcc?sslmode=require"  # else $WASMCC_STORE_POSTGRES; data_dir: a copy
//! # ca = "db-ca.pem"                    # verifies the server's TLS certificate; default: the public web roots
//!
//! [limits]                              # defaults for every chaincode; see limits.rs
//! fuel = 100000000                      # per transaction; fuel decides a runaway's fate
//! memory_bytes = 67108864               # linear memory per transaction (reserved from quota.memory_mb)
//! run_time_ms = 30000                   # backstop: time holding the CPU
//! execute_timeout_ms = 30000            # one deadline per transaction, waits on the peer included
//! concurrency = 64                      # transactions of one chaincode running at once
//! queue = 256                           # transactions of one chaincode waiting to run
//! [limits_for."asset-transfer"]         # per label or CCID: the operator says how a chaincode runs
//! fuel = 2000000000
//!
//! [record]                              # recorded transactions, for `wasmcc replay` (recording/); off by default
//! mode = "off"                          # "errors": ERROR or status >= 400; "all"
//! sample = 1.0                          # of those, the share recorded (by txid)
//! max_mb = 64                           # per chaincode: the oldest recordings are deleted first
//! [record_for."asset-transfer"]         # per label or CCID
//! mode = "errors"
//! ```

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::limits::TxLimits;
use crate::quota::QuotaConfig;
use crate::recording::recorder::RecordPolicy;
use crate::shared_store::{StoreAccess, StoreUrl};
use crate::tls::{PemSource, TlsError};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("invalid configuration {path}: {source}")]
    Parse { path: PathBuf, source: toml::de::Error },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub data_dir: PathBuf,
    pub admin: AdminConfig,
    pub chaincodes: ChaincodesConfig,
    pub tls: Option<TlsConfig>,
    pub quota: QuotaConfig,
    pub connections: ConnectionsConfig,
    pub limits: TxLimits,
    pub limits_for: HashMap<String, TxLimits>,
    pub record: RecordPolicy,
    pub record_for: HashMap<String, RecordPolicy>,
    pub metrics: MetricsConfig,
    pub store: StoreConfig,
}

/// Where the chaincodes live when several hosts serve them (`[store]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// A PostgreSQL every host shares: the records, packages, modules and routes there are what every host serves;
    /// `data_dir` keeps a copy and each host's own compiled artifacts. Unset: `data_dir` is the store.
    pub postgres: Option<StoreUrl>,
    /// The CA that signed the PostgreSQL server's certificate (TLS per the connection string's `sslmode`); unset:
    /// the public web roots.
    pub ca: Option<PemSource>,
}

impl StoreConfig {
    /// The configured connection string, else `$WASMCC_STORE_POSTGRES` (where a Kubernetes Secret puts one that
    /// holds a password).
    pub fn postgres(&self) -> Option<StoreUrl> {
        self.postgres.clone().or_else(|| std::env::var("WASMCC_STORE_POSTGRES").ok().map(StoreUrl::new))
    }

    /// How this host reaches the shared store, when it has one.
    pub fn access(&self) -> Result<Option<StoreAccess>, TlsError> {
        self.postgres().map(|url| StoreAccess::new(url, self.ca.as_ref())).transpose()
    }
}

/// Where `/metrics`, `/healthz` and `/readyz` are served besides the admin listener (`[metrics]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// A listener of their own, plain HTTP on any address: they need no token and carry no secret, so a scraper or
    /// a kubelet probe reaches them where the admin API (TLS, or loopback only) is out of its reach.
    pub listen: Option<SocketAddr>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    pub listen: SocketAddr,
    pub token: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub max_upload_mb: usize,
    pub max_concurrent_uploads: usize,
    pub upload_wait_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChaincodesConfig {
    pub listen_ip: IpAddr,
    pub advertise_host: Option<String>,
    pub port_min: u16,
    pub port_max: u16,
    /// One plaintext port for every chaincode, routed by the HTTP/2 `:authority` peers send (their connection.json
    /// `address`, `<label>-<hash12>.<name_suffix>:<port>`): one Kubernetes Service port fronts every chaincode. With
    /// `[tls]`, the shared port is `tls.shared_listen` instead.
    pub shared_listen: Option<SocketAddr>,
    /// The DNS suffix of the chaincodes' names on `shared_listen`.
    pub name_suffix: String,
    /// Whether each chaincode also gets a port of its own from `port_min..=port_max`. `false` serves chaincodes only
    /// on the shared port: no port range to size or open in a firewall, and no limit on chaincodes from it.
    pub own_ports: bool,
}

/// Connection hygiene of every listener (`[connections]`); each default and its reason is in limits.rs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConnectionsConfig {
    /// From accept until the connection's first stream (chaincode) or request (admin), TLS handshake included.
    pub handshake_timeout_ms: u64,
    /// How long a connection may have no stream (or admin request) in flight.
    pub idle_timeout_ms: u64,
    /// Connections on one chaincode's own port.
    pub max_per_port: usize,
    /// Connections of all chaincode listeners together; 0: derived from RLIMIT_NOFILE.
    pub max_total: usize,
    pub admin_max_connections: usize,
    pub admin_header_timeout_ms: u64,
    /// The longest pause between two chunks of a request body.
    pub admin_body_timeout_ms: u64,
    /// How long a stopping host (SIGTERM, Ctrl-C) waits for its peer streams to end when idle; 0: stop at once.
    pub drain_timeout_ms: u64,
}

impl Default for ConnectionsConfig {
    fn default() -> Self {
        use crate::limits::*;
        let ms = |d: std::time::Duration| d.as_millis() as u64;
        ConnectionsConfig {
            handshake_timeout_ms: ms(DEFAULT_HANDSHAKE_TIMEOUT),
            idle_timeout_ms: ms(DEFAULT_IDLE_TIMEOUT),
            max_per_port: DEFAULT_MAX_CONNECTIONS_PER_PORT,
            max_total: 0,
            admin_max_connections: DEFAULT_ADMIN_MAX_CONNECTIONS,
            admin_header_timeout_ms: ms(DEFAULT_ADMIN_HEADER_TIMEOUT),
            admin_body_timeout_ms: ms(DEFAULT_ADMIN_BODY_TIMEOUT),
            drain_timeout_ms: ms(DEFAULT_DRAIN_TIMEOUT),
        }
    }
}

impl ConnectionsConfig {
    fn check(&self) -> Result<(), ConfigError> {
        let zero = [
            ("handshake_timeout_ms", self.handshake_timeout_ms == 0),
            ("idle_timeout_ms", self.idle_timeout_ms == 0),
            ("max_per_port", self.max_per_port == 0),
            ("admin_max_connections", self.admin_max_connections == 0),
            ("admin_header_timeout_ms", self.admin_header_timeout_ms == 0),
            ("admin_body_timeout_ms", self.admin_body_timeout_ms == 0),
        ]
        .into_iter()
        .find(|(_, zero)| *zero);
        match zero {
            Some((key, _)) => Err(ConfigError::Invalid(format!("connections.{key} must be positive"))),
            None => Ok(()),
        }
    }
}

/// TLS of the chaincode endpoints (`[tls]`): per-chaincode ports speak TLS, mutual when `client_ca` is set, and
/// `shared_listen` adds one mutual-TLS port that routes by SNI (`docs/architecture.md`, "Routing peers to
/// chaincodes").
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The server certificate chain, leaf first.
    #[serde(deserialize_with = "pem_source")]
    pub cert: PemSource,
    #[serde(deserialize_with = "pem_source")]
    pub key: PemSource,
    /// The CA of the peers' client certificates: set, every chaincode endpoint requires one.
    #[serde(default, deserialize_with = "optional_pem_source")]
    pub client_ca: Option<PemSource>,
    /// The CA peers should trust for the server certificate (connection.json `root_cert`); by default the last
    /// certificate of `cert`.
    #[serde(default, deserialize_with = "optional_pem_source")]
    pub root_cert: Option<PemSource>,
    /// The one shared port, routed by the TLS server name; needs `client_ca` (the peer sends `domain` as server
    /// name only with client auth).
    #[serde(default)]
    pub shared_listen: Option<SocketAddr>,
    #[serde(default = "default_sni_suffix")]
    pub sni_suffix: String,
}

/// The DNS suffix of SNI names unless configured: a wildcard certificate `*.chaincodes.wasmcc` covers them all.
pub const DEFAULT_SNI_SUFFIX: &str = "chaincodes.wasmcc";

fn default_sni_suffix() -> String {
    DEFAULT_SNI_SUFFIX.to_owned()
}

/// A PEM as a path string (`cert = "server.pem"`) or explicitly (`cert = { pem = "…" }`, `{ file = "…" }`).
#[derive(Deserialize)]
#[serde(untagged)]
enum PemField {
    Path(PathBuf),
    Source(PemSource),
}

fn pem_source<'de, D: serde::Deserializer<'de>>(d: D) -> Result<PemSource, D::Error> {
    Ok(match PemField::deserialize(d)? {
        PemField::Path(path) => PemSource::File(path),
        PemField::Source(source) => source,
    })
}

fn optional_pem_source<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<PemSource>, D::Error> {
    pem_source(d).map(Some)
}

/// Where the admin API listens by default: loopback, one below the first chaincode port.
pub const DEFAULT_ADMIN_PORT: u16 = 9100;

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from(".wasmcc"),
            admin: AdminConfig::default(),
            chaincodes: ChaincodesConfig::default(),
            tls: None,
            quota: QuotaConfig::default(),
            connections: ConnectionsConfig::default(),
            limits: TxLimits::default(),
            limits_for: HashMap::new(),
            record: RecordPolicy::default(),
            record_for: HashMap::new(),
            metrics: MetricsConfig::default(),
            store: StoreConfig::default(),
        }
    }
}

impl AdminConfig {
    /// The admin API's certificate and key as tls.rs reads them, when it serves HTTPS.
    pub fn tls_settings(&self) -> Option<crate::tls::ServerTlsSettings> {
        let (cert, key) = (self.tls_cert.as_ref()?, self.tls_key.as_ref()?);
        Some(crate::tls::ServerTlsSettings {
            cert_chain: PemSource::file(cert),
            key: PemSource::file(key),
            client_ca: None,
        })
    }
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), DEFAULT_ADMIN_PORT),
            token: None,
            tls_cert: None,
            tls_key: None,
            max_upload_mb: crate::limits::DEFAULT_MAX_UPLOAD_BYTES / (1024 * 1024),
            max_concurrent_uploads: crate::limits::DEFAULT_MAX_CONCURRENT_UPLOADS,
            upload_wait_secs: crate::limits::UPLOAD_SLOT_WAIT.as_secs(),
        }
    }
}

impl Default for ChaincodesConfig {
    fn default() -> Self {
        ChaincodesConfig {
            listen_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            advertise_host: None,
            port_min: 9101,
            port_max: 9999,
            shared_listen: None,
            name_suffix: DEFAULT_SNI_SUFFIX.to_owned(),
            own_ports: true,
        }
    }
}

impl Config {
    /// Reads and checks a configuration file; relative paths in it are taken from the file's directory.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
        let mut config: Config =
            toml::from_str(&text).map_err(|source| ConfigError::Parse { path: path.into(), source })?;
        let base = path.parent().unwrap_or(Path::new("."));
        for p in [Some(&mut config.data_dir), config.admin.tls_cert.as_mut(), config.admin.tls_key.as_mut()]
            .into_iter()
            .flatten()
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        let mut sources = vec![config.store.ca.as_mut()];
        if let Some(tls) = config.tls.as_mut() {
            sources.extend([Some(&mut tls.cert), Some(&mut tls.key), tls.client_ca.as_mut(), tls.root_cert.as_mut()]);
        }
        for source in sources.into_iter().flatten() {
            if let PemSource::File(p) = source {
                if p.is_relative() {
                    *p = base.join(&*p);
                }
            }
        }
        config.check()?;
        Ok(config)
    }

    pub fn check(&self) -> Result<(), ConfigError> {
        let c = &self.chaincodes;
        if c.port_min == 0 || c.port_min > c.port_max {
            return Err(ConfigError::Invalid(format!("chaincode ports {}-{} are not a range", c.port_min, c.port_max)));
        }
        if self.admin.max_concurrent_uploads == 0 {
            return Err(ConfigError::Invalid("admin.max_concurrent_uploads must be at least 1".into()));
        }
        if self.admin.tls_cert.is_some() != self.admin.tls_key.is_some() {
            return Err(ConfigError::Invalid("admin.tls_cert and admin.tls_key go together".into()));
        }
        if let Some(tls) = &self.tls {
            tls.check()?;
            if let Some(shared) = c.shared_listen {
                return Err(ConfigError::Invalid(format!(
                    "chaincodes.shared_listen = \"{shared}\" is a plaintext port: with [tls], the shared port is \
                     tls.shared_listen (routed by TLS server name)"
                )));
            }
        }
        if !c.own_ports && c.shared_listen.or(self.tls.as_ref().and_then(|t| t.shared_listen)).is_none() {
            return Err(ConfigError::Invalid(
                "chaincodes.own_ports = false needs a shared port for peers to reach the chaincodes: \
                 chaincodes.shared_listen, or tls.shared_listen with [tls]"
                    .into(),
            ));
        }
        check_dns_suffix("chaincodes.name_suffix", &c.name_suffix)?;
        self.quota.check().map_err(|e| ConfigError::Invalid(format!("quota: {e}")))?;
        self.connections.check()?;
        for (name, limits) in
            std::iter::once(("limits", &self.limits)).chain(self.limits_for.iter().map(|(k, v)| (k.as_str(), v)))
        {
            limits.check().map_err(|e| ConfigError::Invalid(format!("{name}: {e}")))?;
        }
        for (name, policy) in
            std::iter::once(("record", &self.record)).chain(self.record_for.iter().map(|(k, v)| (k.as_str(), v)))
        {
            policy.check().map_err(|e| ConfigError::Invalid(format!("{name}: {e}")))?;
        }
        Ok(())
    }

    /// The host name peers dial: the configured one, else the listen address.
    pub fn advertise_host(&self) -> String {
        self.chaincodes.advertise_host.clone().unwrap_or_else(|| self.chaincodes.listen_ip.to_string())
    }
}

/// A suffix that chaincode names (`<label>-<hash12>.<suffix>`) are built on must be a DNS name.
fn check_dns_suffix(key: &str, suffix: &str) -> Result<(), ConfigError> {
    let trimmed = suffix.trim_matches('.');
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if trimmed.is_empty() || trimmed.len() > 180 || !trimmed.split('.').all(label_ok) {
        return Err(ConfigError::Invalid(format!("{key} {suffix:?} is not a DNS name (letters, digits, '-', dots)")));
    }
    Ok(())
}

impl TlsConfig {
    fn check(&self) -> Result<(), ConfigError> {
        let invalid = |why: String| Err(ConfigError::Invalid(format!("tls: {why}")));
        if let Some(shared) = self.shared_listen {
            if self.client_ca.is_none() {
                return invalid(format!(
                    "shared_listen = \"{shared}\" needs client_ca: a peer sends its TLS server name (connection.json \
                     `domain`) only with client auth, so without it a shared port cannot tell chaincodes apart"
                ));
            }
            // A shared port inside the chaincode range is fine: the registry never hands it to a chaincode.
        }
        check_dns_suffix("tls.sni_suffix", &self.sni_suffix)
    }

    /// The server side as tls.rs builds it.
    pub fn server_settings(&self) -> crate::tls::ServerTlsSettings {
        crate::tls::ServerTlsSettings {
            cert_chain: self.cert.clone(),
            key: self.key.clone(),
            client_ca: self.client_ca.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_working_loopback_defaults() {
        let config: Config = toml::from_str("").unwrap();
        config.check().unwrap();
        assert!(config.admin.listen.ip().is_loopback());
        assert_eq!(config.advertise_host(), "127.0.0.1");
        assert_eq!(config.limits, TxLimits::default());
        assert_eq!(config.admin.max_concurrent_uploads, crate::limits::DEFAULT_MAX_CONCURRENT_UPLOADS);
        assert_eq!(config.admin.upload_wait_secs, crate::limits::UPLOAD_SLOT_WAIT.as_secs());
    }

    #[test]
    fn relative_paths_follow_the_file_and_overrides_parse() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("host.toml");
        std::fs::write(
            &path,
            "data_dir = \"d\"\n[limits_for.cc]\nfuel = 5\n[chaincodes]\nport_min = 20000\nport_max = 20010\n",
        )
        .unwrap();
        let config = Config::load(&path).unwrap();
        assert_eq!(config.data_dir, dir.path().join("d"));
        assert_eq!(config.limits_for["cc"].fuel, 5);
        assert_eq!(config.limits_for["cc"].memory_bytes, TxLimits::default().memory_bytes);
    }

    #[test]
    fn store_section_keeps_its_secret_out_of_debug_and_resolves_its_ca() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("host.toml");
        let url = "postgres://wasmcc:hunter2@db/wasmcc?sslmode=require";
        std::fs::write(&path, format!("[store]\npostgres = \"{url}\"\nca = {{ file = \"db-ca.pem\" }}\n")).unwrap();
        let config = Config::load(&path).unwrap();
        assert_eq!(config.store.postgres(), Some(StoreUrl::new(url)));
        assert_eq!(config.store.ca, Some(PemSource::File(dir.path().join("db-ca.pem"))));
        assert!(!format!("{config:?}").contains("hunter2"), "the password never reaches a log");
        // The CA file is read when the host starts: missing, it says which file.
        let missing = config.store.access().unwrap_err().to_string();
        assert!(missing.contains("shared store CA") && missing.contains("db-ca.pem"), "{missing}");
        // Without a store, the data directory is the store.
        let none: Config = toml::from_str("").unwrap();
        assert!(none.store.postgres.is_none() && none.store.ca.is_none());
    }

    #[test]
    fn tls_section_resolves_paths_and_checks_combinations() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("host.toml");
        let write = |text: &str| std::fs::write(&path, text).unwrap();
        write(
            "[tls]\ncert = \"s.pem\"\nkey = { file = \"/abs/s.key\" }\nclient_ca = { pem = \"CA\" }\n\
             shared_listen = \"127.0.0.1:9443\"\n",
        );
        let tls = Config::load(&path).unwrap().tls.unwrap();
        assert_eq!(tls.cert, PemSource::File(dir.path().join("s.pem")));
        assert_eq!(tls.key, PemSource::File("/abs/s.key".into()));
        assert_eq!(tls.client_ca, Some(PemSource::Pem("CA".into())));
        assert_eq!(tls.root_cert, None);
        assert_eq!(tls.sni_suffix, DEFAULT_SNI_SUFFIX);

        write("[tls]\ncert = \"s.pem\"\nkey = \"s.key\"\nshared_listen = \"127.0.0.1:9443\"\n");
        let err = Config::load(&path).unwrap_err().to_string();
        assert!(err.contains("needs client_ca"), "{err}");
        write("[tls]\ncert = \"s.pem\"\nkey = \"s.key\"\nsni_suffix = \"bad_suffix\"\n");
        let err = Config::load(&path).unwrap_err().to_string();
        assert!(err.contains("sni_suffix"), "{err}");
        write("[tls]\ncert = \"s.pem\"\n");
        assert!(Config::load(&path).is_err(), "key is required with cert");
    }

    #[test]
    fn connections_section_has_defaults_and_refuses_zero() {
        let config: Config = toml::from_str("[connections]\nidle_timeout_ms = 1500\nmax_total = 300\n").unwrap();
        config.check().unwrap();
        let c = &config.connections;
        assert_eq!((c.idle_timeout_ms, c.max_total), (1500, 300));
        assert_eq!(c.handshake_timeout_ms, crate::limits::DEFAULT_HANDSHAKE_TIMEOUT.as_millis() as u64);
        let config: Config = toml::from_str("[connections]\nadmin_header_timeout_ms = 0\n").unwrap();
        let err = config.check().unwrap_err().to_string();
        assert!(err.contains("connections.admin_header_timeout_ms"), "{err}");
        assert!(toml::from_str::<Config>("[connections]\nmax_streams = 3\n").is_err());
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(toml::from_str::<Config>("nope = 1").is_err());
        let config: Config = toml::from_str("[chaincodes]\nport_min = 10\nport_max = 5\n").unwrap();
        assert!(config.check().is_err());
        let config: Config = toml::from_str("[admin]\nmax_concurrent_uploads = 0\n").unwrap();
        assert!(config.check().unwrap_err().to_string().contains("max_concurrent_uploads"));
        let config: Config = toml::from_str("[chaincodes]\nown_ports = false\n").unwrap();
        assert!(config.check().unwrap_err().to_string().contains("needs a shared port"));
        let config: Config =
            toml::from_str("[chaincodes]\nown_ports = false\nshared_listen = \"127.0.0.1:9200\"\n").unwrap();
        config.check().unwrap();
    }
}
