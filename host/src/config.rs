//! Host configuration: a TOML file naming the chaincodes to serve, with every default documented.
//!
//! ```toml
//! [[chaincode]]
//! label = "asset-transfer"                      # the package label
//! module = "target/wasm/asset_transfer.wasm"     # a core module or a component
//! listen = "127.0.0.1:9101"                      # where the peer dials (connection.json `address`)
//! # ccid = "asset-transfer:<sha256>"             # default: label + ":" + sha256 of the module
//! [chaincode.limits]                             # optional; defaults in `limits`
//! fuel = 1000000000
//! ```

use std::net::SocketAddr;
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
    #[error("chaincode {label}: {reason}")]
    Invalid { label: String, reason: String },
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default, rename = "chaincode")]
    pub chaincodes: Vec<ChaincodeConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChaincodeConfig {
    pub label: String,
    pub module: PathBuf,
    pub listen: SocketAddr,
    #[serde(default)]
    pub ccid: Option<String>,
    #[serde(default)]
    pub limits: TxLimits,
}

impl Config {
    /// Reads and checks a configuration file; relative module paths are taken from the file's directory.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
        let mut config: Config =
            toml::from_str(&text).map_err(|source| ConfigError::Parse { path: path.into(), source })?;
        let base = path.parent().unwrap_or(Path::new("."));
        for cc in &mut config.chaincodes {
            if cc.module.is_relative() {
                cc.module = base.join(&cc.module);
            }
            cc.limits.check().map_err(|reason| ConfigError::Invalid { label: cc.label.clone(), reason })?;
        }
        Ok(config)
    }
}

impl ChaincodeConfig {
    /// The CCID to REGISTER: given explicitly, or `label:sha256(module)` for modules not installed from a package.
    pub fn ccid(&self, module: &[u8]) -> String {
        self.ccid.clone().unwrap_or_else(|| ccid_of(&self.label, module))
    }
}

/// `label:sha256(bytes)`: the peer's package ID formula, applied to whatever bytes identify the chaincode.
pub fn ccid_of(label: &str, bytes: &[u8]) -> String {
    format!("{label}:{}", hex::encode(Sha256::digest(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_chaincodes_with_default_limits() {
        let dir = std::env::temp_dir().join(format!("wasmcc-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("host.toml");
        std::fs::write(
            &path,
            "[[chaincode]]\nlabel = \"cc\"\nmodule = \"cc.wasm\"\nlisten = \"127.0.0.1:9000\"\n[chaincode.limits]\nfuel = 5\n",
        )
        .unwrap();
        let config = Config::load(&path).unwrap();
        let cc = &config.chaincodes[0];
        assert_eq!(cc.module, dir.join("cc.wasm"));
        assert_eq!(cc.limits.fuel, 5);
        assert_eq!(cc.limits.memory_bytes, TxLimits::default().memory_bytes);
        assert_eq!(cc.ccid(b"x"), format!("cc:{}", hex::encode(Sha256::digest(b"x"))));
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = toml::from_str::<Config>("[[chaincode]]\nlabel=\"a\"\nmodule=\"m\"\nlisten=\"127.0.0.1:1\"\nfoo=1\n");
        assert!(err.is_err());
    }
}
