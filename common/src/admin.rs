//! The admin API's answers about an installed chaincode (`docs/admin-api.md`): the host writes them, the builder
//! reads them to write the peer's connection.json, `wasmcc` CLI commands print them.

use serde::{Deserialize, Serialize};

/// What the API says about one chaincode.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChaincodeInfo {
    pub ccid: String,
    pub label: String,
    /// Lowercase hex SHA-256 of the wasm module.
    pub module_hash: String,
    pub module_size: u64,
    pub route: RouteInfo,
    #[serde(default)]
    pub tls: TlsInfo,
}

/// Where a peer reaches the chaincode.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RouteInfo {
    /// `host:port` of the chaincode's own listener; `None` when the host serves it only on the shared port
    /// (`sni` and `shared_address` then say how to reach it).
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub port: Option<u16>,
    /// The TLS server name that routes to it on the shared port, when the host has one.
    #[serde(default)]
    pub sni: Option<String>,
    /// `host:port` of the shared port, when the host has one.
    #[serde(default)]
    pub shared_address: Option<String>,
}

impl RouteInfo {
    /// Where a peer reaches the chaincode, in words: its own address, else its name on the shared port.
    pub fn summary(&self) -> String {
        match (&self.address, &self.shared_address, &self.sni) {
            (Some(own), _, _) => own.clone(),
            (None, Some(shared), Some(name)) => format!("{name} on the shared port {shared}"),
            _ => "no route".to_owned(),
        }
    }
}

/// How the chaincode's listeners do TLS.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct TlsInfo {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default)]
    pub client_auth: bool,
    /// PEM of the CA that issued the server certificate, when the host knows it.
    #[serde(default)]
    pub root_cert: Option<String>,
}

/// The body of every error answer: `{"error": "<what went wrong>"}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    pub error: String,
}
