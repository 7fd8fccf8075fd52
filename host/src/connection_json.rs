//! The connection.json the host writes for a route (the format itself: [`wasmcc_common::connection`]): which TLS
//! fields a route needs, and the checks that catch a route the peer could not use. `domain` is written only with
//! client auth, the only case where the peer uses it (it then becomes the TLS server name, which is how a shared
//! port routes by SNI).

use std::path::Path;

use wasmcc_common::admin::{ChaincodeInfo, Dial, DialPreference};
pub use wasmcc_common::connection::{go_duration, ConnectionJson, DIAL_TIMEOUT};

use crate::tls::{check_key_pair, PemRole, PemSource, TlsError};

/// How a route's TLS looks from the peer's side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsInfo {
    /// PEM of the CA that issued the endpoint's server certificate.
    pub root_cert: String,
    /// The endpoint demands a client certificate.
    pub client_auth_required: bool,
    /// The server name to ask for: the chaincode's SNI name on a shared port. Without it the peer verifies the
    /// server certificate against the host part of `address` (an IP needs an IP SAN) and sends no SNI.
    pub domain: Option<String>,
}

/// The client identity a given peer presents to chaincode endpoints (a certificate the endpoint's client CA
/// issued), as PEM text.
#[derive(Clone, PartialEq, Eq)]
pub struct PeerConfig {
    pub client_cert: String,
    pub client_key: String,
}

impl std::fmt::Debug for PeerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerConfig").field("client_cert", &self.client_cert).finish_non_exhaustive()
    }
}

impl PeerConfig {
    /// Checks that the certificate and key parse and go together: a bad pair would otherwise surface only as a
    /// peer-side dial timeout.
    pub fn load(client_cert: &PemSource, client_key: &PemSource) -> Result<PeerConfig, TlsError> {
        let (client_cert, client_key) =
            check_key_pair(client_cert, PemRole::PeerClientCert, client_key, PemRole::PeerClientKey)?;
        Ok(PeerConfig { client_cert, client_key })
    }

    pub fn from_pem(client_cert: &str, client_key: &str) -> Result<PeerConfig, TlsError> {
        PeerConfig::load(&PemSource::Pem(client_cert.to_owned()), &PemSource::Pem(client_key.to_owned()))
    }

    pub fn from_files(client_cert: &Path, client_key: &Path) -> Result<PeerConfig, TlsError> {
        PeerConfig::load(&PemSource::file(client_cert), &PemSource::file(client_key))
    }
}

/// A route and peer combination the peer could not use as intended.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConnectionJsonError {
    #[error("address {0:?} is not host:port")]
    BadAddress(String),
    #[error("domain {0:?} is set without client auth: the peer would ignore it (and send no SNI)")]
    DomainWithoutClientAuth(String),
    #[error("the endpoint requires a client certificate but no peer client identity was given")]
    MissingPeerIdentity,
    #[error("chaincode {0} has no port of its own and the host reports no shared port a peer could use for it")]
    NoRoute(String),
}

/// The connection.json for a route at `address`: plaintext when `tls` is `None`; with client auth, `peer`'s
/// identity is embedded. A peer identity without client auth is left out (the endpoint would not ask for it).
pub fn for_route(
    address: impl Into<String>,
    tls: Option<&TlsInfo>,
    peer: Option<&PeerConfig>,
) -> Result<ConnectionJson, ConnectionJsonError> {
    let address = address.into();
    if !wasmcc_common::connection::is_host_port(&address) {
        return Err(ConnectionJsonError::BadAddress(address));
    }
    let mut json = ConnectionJson::plaintext(address);
    let Some(tls) = tls else { return Ok(json) };
    json.tls_required = true;
    json.root_cert = Some(tls.root_cert.clone());
    if !tls.client_auth_required {
        if let Some(domain) = &tls.domain {
            return Err(ConnectionJsonError::DomainWithoutClientAuth(domain.clone()));
        }
        return Ok(json);
    }
    let peer = peer.ok_or(ConnectionJsonError::MissingPeerIdentity)?;
    json.client_auth_required = true;
    json.client_cert = Some(peer.client_cert.clone());
    json.client_key = Some(peer.client_key.clone());
    json.domain = tls.domain.clone();
    Ok(json)
}

/// The connection.json a peer needs to dial the chaincode the admin API described: with client auth and a shared
/// port, the shared address with `domain` = the SNI name; otherwise the chaincode's own port, or, in plaintext on a
/// host that gives chaincodes no port of their own, its name on the shared port (routed by `:authority`). `peer` is
/// the peer's client identity, required when the endpoint demands client certificates.
pub fn for_chaincode(info: &ChaincodeInfo, peer: Option<&PeerConfig>) -> Result<ConnectionJson, ConnectionJsonError> {
    let no_route = || ConnectionJsonError::NoRoute(info.ccid.clone());
    let root_cert = info.tls.root_cert.clone().filter(|_| info.tls.enabled);
    // The host's own choice: the shared port by SNI whenever client auth allows it, by name only when it must.
    let prefer = DialPreference { use_sni: true, ..Default::default() };
    let route_tls = if root_cert.is_some() { info.tls.clone() } else { Default::default() };
    let (address, domain) = match info.route.dial(&route_tls, prefer).ok_or_else(no_route)? {
        Dial::SharedBySni { address, domain } => (address, Some(domain)),
        Dial::SharedByName(address) | Dial::Own(address) => (address, None),
    };
    let Some(root_cert) = root_cert else { return for_route(address, None, peer) };
    let tls = TlsInfo { root_cert, client_auth_required: info.tls.client_auth, domain };
    for_route(address, Some(&tls), peer)
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn peer() -> PeerConfig {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap().self_signed(&key).unwrap();
        PeerConfig::from_pem(&cert.pem(), &key.serialize_pem()).unwrap()
    }

    fn tls(client_auth_required: bool, domain: Option<&str>) -> TlsInfo {
        TlsInfo { root_cert: "ROOT PEM".into(), client_auth_required, domain: domain.map(Into::into) }
    }

    fn json_of(c: &ConnectionJson) -> serde_json::Map<String, Value> {
        match serde_json::from_str(&c.to_json()).unwrap() {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    #[test]
    fn plaintext_has_booleans_and_a_dial_timeout_string() {
        let map = json_of(&for_route("10.0.0.5:9999", None, Some(&peer())).unwrap());
        assert_eq!(map["address"], Value::String("10.0.0.5:9999".into()));
        assert_eq!(map["dial_timeout"], Value::String("10s".into()));
        assert_eq!(map["tls_required"], Value::Bool(false));
        assert_eq!(map["client_auth_required"], Value::Bool(false));
        assert_eq!(map.len(), 4, "{map:?}");
    }

    #[test]
    fn mutual_tls_with_domain_embeds_pem_text_and_domain() {
        let peer = peer();
        let c = for_route("host:7052", Some(&tls(true, Some("cc-1.cc.test"))), Some(&peer)).unwrap();
        let map = json_of(&c);
        assert_eq!(map["tls_required"], Value::Bool(true));
        assert_eq!(map["client_auth_required"], Value::Bool(true));
        assert_eq!(map["root_cert"], Value::String("ROOT PEM".into()));
        assert_eq!(map["client_cert"], Value::String(peer.client_cert.clone()));
        assert!(map["client_key"].as_str().unwrap().contains("-----BEGIN PRIVATE KEY-----"));
        assert_eq!(map["domain"], Value::String("cc-1.cc.test".into()));
        assert_eq!(serde_json::from_str::<ConnectionJson>(&c.to_json()).unwrap(), c);
    }

    #[test]
    fn server_only_tls_has_no_client_identity_and_no_domain() {
        let map = json_of(&for_route("host:7052", Some(&tls(false, None)), Some(&peer())).unwrap());
        assert_eq!(map["tls_required"], Value::Bool(true));
        assert_eq!(map["client_auth_required"], Value::Bool(false));
        for absent in ["client_cert", "client_key", "domain"] {
            assert!(!map.contains_key(absent), "{absent} in {map:?}");
        }
    }

    #[test]
    fn inconsistent_routes_are_refused() {
        let err = for_route("h:1", Some(&tls(false, Some("d.test"))), None).unwrap_err();
        assert_eq!(err, ConnectionJsonError::DomainWithoutClientAuth("d.test".into()));
        let err = for_route("h:1", Some(&tls(true, None)), None).unwrap_err();
        assert_eq!(err, ConnectionJsonError::MissingPeerIdentity);
        for bad in ["host", "host:", ":7052", "host:port", "host:70520"] {
            assert!(for_route(bad, None, None).is_err(), "{bad}");
        }
        assert!(for_route("[::1]:7052", None, None).is_ok());
    }

    #[test]
    fn peer_identity_must_be_a_matching_pair() {
        let (a, b) = (peer(), peer());
        let err = PeerConfig::from_pem(&a.client_cert, &b.client_key).unwrap_err();
        assert!(err.to_string().contains("peer client certificate"), "{err}");
        let err = PeerConfig::from_pem(&a.client_cert, "not a key").unwrap_err();
        assert!(err.to_string().contains("peer client key"), "{err}");
    }
}
