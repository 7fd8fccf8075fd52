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
//!
//! [chaincodes]
//! listen_ip = "127.0.0.1"               # where chaincode listeners bind
//! advertise_host = "127.0.0.1"          # what peers dial (connection.json address)
//! port_min = 9101                       # each chaincode gets its own port from this range, kept across restarts
//! port_max = 9999
//!
//! [limits]                              # defaults for every chaincode; see limits.rs
//! fuel = 1000000000
//! [limits_for."asset-transfer"]         # per label or CCID: the operator says how a chaincode runs
//! fuel = 2000000000
//! ```

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::limits::TxLimits;

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
    pub limits: TxLimits,
    pub limits_for: HashMap<String, TxLimits>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    pub listen: SocketAddr,
    pub token: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub max_upload_mb: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChaincodesConfig {
    pub listen_ip: IpAddr,
    pub advertise_host: Option<String>,
    pub port_min: u16,
    pub port_max: u16,
}

/// Where the admin API listens by default: loopback, one below the first chaincode port.
pub const DEFAULT_ADMIN_PORT: u16 = 9100;

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from(".wasmcc"),
            admin: AdminConfig::default(),
            chaincodes: ChaincodesConfig::default(),
            limits: TxLimits::default(),
            limits_for: HashMap::new(),
        }
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
        config.check()?;
        Ok(config)
    }

    pub fn check(&self) -> Result<(), ConfigError> {
        let c = &self.chaincodes;
        if c.port_min == 0 || c.port_min > c.port_max {
            return Err(ConfigError::Invalid(format!("chaincode ports {}-{} are not a range", c.port_min, c.port_max)));
        }
        if self.admin.tls_cert.is_some() != self.admin.tls_key.is_some() {
            return Err(ConfigError::Invalid("admin.tls_cert and admin.tls_key go together".into()));
        }
        for (name, limits) in std::iter::once(("limits", &self.limits)).chain(self.limits_for.iter().map(|(k, v)| (k.as_str(), v))) {
            limits.check().map_err(|e| ConfigError::Invalid(format!("{name}: {e}")))?;
        }
        Ok(())
    }

    /// The host name peers dial: the configured one, else the listen address.
    pub fn advertise_host(&self) -> String {
        self.chaincodes.advertise_host.clone().unwrap_or_else(|| self.chaincodes.listen_ip.to_string())
    }
}

/// `label:sha256(bytes)`: the peer's package ID formula.
pub fn ccid_of(label: &str, bytes: &[u8]) -> String {
    format!("{label}:{}", hex::encode(Sha256::digest(bytes)))
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
    }

    #[test]
    fn relative_paths_follow_the_file_and_overrides_parse() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("host.toml");
        std::fs::write(&path, "data_dir = \"d\"\n[limits_for.cc]\nfuel = 5\n[chaincodes]\nport_min = 20000\nport_max = 20010\n")
            .unwrap();
        let config = Config::load(&path).unwrap();
        assert_eq!(config.data_dir, dir.path().join("d"));
        assert_eq!(config.limits_for["cc"].fuel, 5);
        assert_eq!(config.limits_for["cc"].memory_bytes, TxLimits::default().memory_bytes);
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(toml::from_str::<Config>("nope = 1").is_err());
        let config: Config = toml::from_str("[chaincodes]\nport_min = 10\nport_max = 5\n").unwrap();
        assert!(config.check().is_err());
    }
}
