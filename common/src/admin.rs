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

/// How a peer is to dial a chaincode, chosen by [`RouteInfo::dial`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dial {
    /// The chaincode's own listener.
    Own(String),
    /// The shared port in plaintext, with the chaincode's name as host: the peer sends it as `:authority`, which
    /// routes the stream.
    SharedByName(String),
    /// The shared port with client auth: the peer sends `domain` as the TLS server name, which routes the stream
    /// (a peer honours `domain` only with client auth).
    SharedBySni { address: String, domain: String },
}

/// What a peer's side may prefer when the chaincode can be reached both ways (the builder's configuration).
#[derive(Debug, Clone, Copy, Default)]
pub struct DialPreference<'a> {
    /// The shared port's address as the peer sees it, when not the one the host reports.
    pub shared_address: Option<&'a str>,
    /// With client auth, dial the shared port by SNI rather than the chaincode's own port.
    pub use_sni: bool,
    /// In plaintext, dial the shared port by name rather than the chaincode's own port.
    pub use_host_names: bool,
}

impl RouteInfo {
    /// How a peer dials the chaincode: the shared port when preferred, or when the chaincode has no port of its own
    /// (the host's `chaincodes.own_ports = false`); otherwise its own port. `None` when neither is possible (TLS
    /// without client auth and no own port, or no shared port reported).
    pub fn dial(&self, tls: &TlsInfo, prefer: DialPreference<'_>) -> Option<Dial> {
        let shared = self.sni.as_deref().zip(prefer.shared_address.or(self.shared_address.as_deref()));
        let own = self.address.as_deref();
        let client_auth = tls.enabled && tls.client_auth;
        match (shared, own) {
            (Some((sni, address)), _) if client_auth && (prefer.use_sni || own.is_none()) => {
                Some(Dial::SharedBySni { address: address.to_owned(), domain: sni.to_owned() })
            }
            (Some((name, address)), _) if !tls.enabled && (prefer.use_host_names || own.is_none()) => {
                crate::connection::with_host(address, name).map(Dial::SharedByName)
            }
            (_, Some(own)) => Some(Dial::Own(own.to_owned())),
            (_, None) => None,
        }
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    fn route(own: Option<&str>) -> RouteInfo {
        RouteInfo {
            address: own.map(Into::into),
            port: None,
            sni: Some("cc-ab.chaincodes.wasmcc".into()),
            shared_address: Some("10.0.0.1:9443".into()),
        }
    }

    fn tls(enabled: bool, client_auth: bool) -> TlsInfo {
        TlsInfo { enabled, client_auth, root_cert: None }
    }

    #[test]
    fn a_chaincode_with_its_own_port_is_dialled_there_unless_the_shared_port_is_preferred() {
        let own = route(Some("10.0.0.1:9101"));
        let plain = tls(false, false);
        assert_eq!(own.dial(&plain, DialPreference::default()), Some(Dial::Own("10.0.0.1:9101".into())));
        let by_name = DialPreference { use_host_names: true, ..Default::default() };
        assert_eq!(own.dial(&plain, by_name), Some(Dial::SharedByName("cc-ab.chaincodes.wasmcc:9443".into())));
        let by_sni = DialPreference { use_sni: true, shared_address: Some("lb.example:443"), ..Default::default() };
        let sni = Dial::SharedBySni { address: "lb.example:443".into(), domain: "cc-ab.chaincodes.wasmcc".into() };
        assert_eq!(own.dial(&tls(true, true), by_sni), Some(sni));
        // SNI routing needs client auth (the peer ignores `domain` without it); names need plaintext.
        assert_eq!(own.dial(&tls(true, false), by_sni), Some(Dial::Own("10.0.0.1:9101".into())));
        assert_eq!(own.dial(&tls(true, true), by_name), Some(Dial::Own("10.0.0.1:9101".into())));
    }

    #[test]
    fn a_chaincode_without_its_own_port_is_dialled_on_the_shared_port_or_not_at_all() {
        let shared_only = route(None);
        let any = DialPreference::default();
        let name = Dial::SharedByName("cc-ab.chaincodes.wasmcc:9443".into());
        assert_eq!(shared_only.dial(&tls(false, false), any), Some(name));
        let sni = Dial::SharedBySni { address: "10.0.0.1:9443".into(), domain: "cc-ab.chaincodes.wasmcc".into() };
        assert_eq!(shared_only.dial(&tls(true, true), any), Some(sni));
        assert_eq!(shared_only.dial(&tls(true, false), any), None);
        let no_shared = RouteInfo { shared_address: None, ..route(None) };
        assert_eq!(no_shared.dial(&tls(false, false), any), None);
    }
}
