//! rustls server configuration for the chaincode endpoints the peer dials.
//!
//! Matches what the peer expects of a CCaaS server (`docs/fabric-protocol.md` §8): TLS 1.2 minimum, ALPN `h2` (gRPC),
//! and with a client CA, client certificates *required* and verified (the shim's RequireAndVerifyClientCert).
//! Private keys are recognised by content, whatever their PEM label: a real peer hands out PKCS#8 keys labelled
//! `EC PRIVATE KEY` (§10 item 14), and operators copy keys around with any label.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{PemObject, SectionKind};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, VerifierBuilderError, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, RootCertStore, ServerConfig};

/// The ALPN protocol of gRPC: the peer's Go client offers only this one.
const ALPN_H2: &[u8] = b"h2";

/// Which PEM an error is about, so a bad configuration names the file to fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PemRole {
    ServerCertChain,
    ServerKey,
    ClientCa,
    ServerRootCert,
    PeerClientCert,
    PeerClientKey,
    AdminCa,
    StoreCa,
}

impl fmt::Display for PemRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PemRole::ServerCertChain => "server certificate chain",
            PemRole::ServerKey => "server private key",
            PemRole::ClientCa => "client CA",
            PemRole::ServerRootCert => "server root certificate",
            PemRole::PeerClientCert => "peer client certificate",
            PemRole::PeerClientKey => "peer client key",
            PemRole::AdminCa => "admin API CA",
            PemRole::StoreCa => "shared store CA",
        })
    }
}

/// What went wrong building a TLS configuration; every variant names the PEM at fault and where it came from.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the {role} from {}: {source}", path.display())]
    Read { role: PemRole, path: PathBuf, source: std::io::Error },
    #[error("the {role} ({origin}) is not valid PEM: {reason}")]
    Malformed { role: PemRole, origin: String, reason: String },
    #[error("the {role} ({origin}) holds no CERTIFICATE section")]
    NoCertificate { role: PemRole, origin: String },
    #[error("the {role} ({origin}) holds no private key section (encrypted keys are not supported)")]
    NoPrivateKey { role: PemRole, origin: String },
    #[error("the {role} ({origin}) is not a usable PKCS#8, SEC1 or PKCS#1 private key")]
    UnusableKey { role: PemRole, origin: String },
    #[error("the {role} ({origin}) holds a certificate that cannot be a trust anchor: {source}")]
    BadTrustAnchor { role: PemRole, origin: String, source: rustls::Error },
    #[error("the client CA cannot verify client certificates: {0}")]
    ClientVerifier(#[from] VerifierBuilderError),
    #[error("the {role} and its private key are not usable together: {source}")]
    KeyPair { role: PemRole, source: rustls::Error },
}

/// A PEM given inline or as a file, so configuration can carry either (e.g. TOML `{ file = "/etc/…" }`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PemSource {
    Pem(String),
    File(PathBuf),
}

impl PemSource {
    pub fn file(path: impl AsRef<Path>) -> PemSource {
        PemSource::File(path.as_ref().to_path_buf())
    }

    /// The PEM text. Files are read at each call, so a rotated certificate is picked up by the next build.
    pub fn read(&self, role: PemRole) -> Result<String, TlsError> {
        match self {
            PemSource::Pem(text) => Ok(text.clone()),
            PemSource::File(path) => {
                std::fs::read_to_string(path).map_err(|source| TlsError::Read { role, path: path.clone(), source })
            }
        }
    }

    /// Where the PEM came from, for error messages (never the PEM itself: it may be a key).
    pub fn origin(&self) -> String {
        match self {
            PemSource::Pem(_) => "inline PEM".to_owned(),
            PemSource::File(path) => path.display().to_string(),
        }
    }
}

/// The TLS identity of a chaincode endpoint, and optionally the CA whose client certificates it demands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerTlsSettings {
    /// End-entity certificate first, then intermediates.
    pub cert_chain: PemSource,
    pub key: PemSource,
    /// `Some`: mutual TLS; a client without a certificate from this CA is refused during the handshake.
    pub client_ca: Option<PemSource>,
}

/// The crypto provider of every wasmcc TLS configuration. Explicit rather than the process default, so nothing
/// depends on which provider some other crate installed first.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A TLS client's configuration (the CLI to the admin API, a host to the shared store): trusts the certificates of
/// `ca` when given, else the public web roots, and presents no certificate.
pub fn client_config(ca: Option<&PemSource>, role: PemRole) -> Result<ClientConfig, TlsError> {
    let mut roots = RootCertStore::empty();
    match ca {
        Some(source) => {
            let origin = source.origin();
            for cert in parse_certificates(source.read(role)?.as_bytes(), role, &origin)? {
                roots.add(cert).map_err(|source| TlsError::BadTrustAnchor { role, origin: origin.clone(), source })?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    Ok(ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("ring supports rustls' default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// Builds the server configuration, reading files as needed. A server certificate that is expired, not yet valid or
/// about to expire gets a warning: peers will refuse it (or soon), yet the host still starts, so that a certificate
/// renewed on disk needs only a reload ([`ServerCert::reload`]).
pub fn server_config(settings: &ServerTlsSettings) -> Result<Arc<ServerConfig>, TlsError> {
    Ok(reloadable_server_config(settings)?.0)
}

/// [`server_config`], and the handle that replaces its certificate and key while it serves.
pub fn reloadable_server_config(
    settings: &ServerTlsSettings,
) -> Result<(Arc<ServerConfig>, Arc<ServerCert>), TlsError> {
    let cert = Arc::new(ServerCert(RwLock::new(certified_key(settings)?)));
    let client_ca = match &settings.client_ca {
        Some(source) => {
            let (text, origin) = (source.read(PemRole::ClientCa)?, source.origin());
            Some((parse_certificates(text.as_bytes(), PemRole::ClientCa, &origin)?, origin))
        }
        None => None,
    };
    Ok((build(cert.clone(), client_ca)?, cert))
}

/// The certificate chain and key a server presents, replaceable while it serves: a renewed certificate is read again
/// on SIGHUP, and every handshake from then on gets it, without a connection dropped.
#[derive(Debug)]
pub struct ServerCert(RwLock<Arc<CertifiedKey>>);

impl ServerCert {
    /// Reads the chain and key again (same checks as at start); on any error the certificate in use stays.
    pub fn reload(&self, settings: &ServerTlsSettings) -> Result<(), TlsError> {
        let fresh = certified_key(settings)?;
        *self.0.write().expect("server certificate lock") = fresh;
        Ok(())
    }
}

impl ResolvesServerCert for ServerCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.read().expect("server certificate lock").clone())
    }
}

/// Reads, parses and pairs a chain and its key, warning about the leaf's validity period.
fn certified_key(settings: &ServerTlsSettings) -> Result<Arc<CertifiedKey>, TlsError> {
    let pem = |source: &PemSource, role| source.read(role).map(|text| (text, source.origin()));
    let (chain, chain_origin) = pem(&settings.cert_chain, PemRole::ServerCertChain)?;
    let (key, key_origin) = pem(&settings.key, PemRole::ServerKey)?;
    let chain = parse_certificates(chain.as_bytes(), PemRole::ServerCertChain, &chain_origin)?;
    if let Some(problem) = validity_problem(&chain[0], unix_now()) {
        tracing::warn!("the {} ({chain_origin}) {problem}", PemRole::ServerCertChain);
    }
    let key = parse_private_key(key.as_bytes(), PemRole::ServerKey, &key_origin)?;
    let keypair = |source| TlsError::KeyPair { role: PemRole::ServerCertChain, source };
    let signing_key = provider().key_provider.load_private_key(key).map_err(keypair)?;
    let certified = CertifiedKey::new(chain, signing_key);
    certified.keys_match().map_err(keypair)?;
    Ok(Arc::new(certified))
}

/// Builds the server configuration from PEM text (`client_ca`: `Some` for mutual TLS).
pub fn server_config_from_pem(
    cert_chain: &str,
    key: &str,
    client_ca: Option<&str>,
) -> Result<Arc<ServerConfig>, TlsError> {
    server_config(&ServerTlsSettings {
        cert_chain: PemSource::Pem(cert_chain.to_owned()),
        key: PemSource::Pem(key.to_owned()),
        client_ca: client_ca.map(|ca| PemSource::Pem(ca.to_owned())),
    })
}

fn build(
    cert: Arc<ServerCert>,
    client_ca: Option<(Vec<CertificateDer<'static>>, String)>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = provider();
    // rustls speaks only TLS 1.2 and 1.3, so listing both is "1.2 minimum", as the peer expects.
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .expect("the ring provider supports TLS 1.2 and 1.3");
    let builder = match client_ca {
        Some((cas, origin)) => {
            let mut roots = RootCertStore::empty();
            for ca in cas {
                roots.add(ca).map_err(|source| TlsError::BadTrustAnchor {
                    role: PemRole::ClientCa,
                    origin: origin.clone(),
                    source,
                })?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider).build()?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_cert_resolver(cert);
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    Ok(Arc::new(config))
}

/// What is wrong with a certificate's validity period, seen at some moment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidityProblem {
    #[error("expired on {0}: peers refuse it")]
    Expired(String),
    #[error("is not valid before {0}: peers refuse it until then")]
    NotYetValid(String),
    #[error("expires on {at}, in {days} days: renew it before peers refuse it")]
    ExpiresSoon { at: String, days: i64 },
    #[error("has validity dates that cannot be read: {0}")]
    Unreadable(String),
}

/// The problem with `cert`'s validity period at `now` (seconds since the Unix epoch), if any; a certificate expiring
/// within [`crate::limits::CERT_EXPIRY_WARNING`] counts as one.
pub fn validity_problem(cert: &CertificateDer<'_>, now: i64) -> Option<ValidityProblem> {
    let validity = match x509_parser::parse_x509_certificate(cert) {
        Ok((_, cert)) => cert.validity().clone(),
        Err(e) => return Some(ValidityProblem::Unreadable(e.to_string())),
    };
    let (from, until) = (validity.not_before.timestamp(), validity.not_after.timestamp());
    let soon = crate::limits::CERT_EXPIRY_WARNING.as_secs() as i64;
    if now > until {
        Some(ValidityProblem::Expired(validity.not_after.to_string()))
    } else if now < from {
        Some(ValidityProblem::NotYetValid(validity.not_before.to_string()))
    } else if until - now < soon {
        Some(ValidityProblem::ExpiresSoon { at: validity.not_after.to_string(), days: (until - now) / 86_400 })
    } else {
        None
    }
}

fn unix_now() -> i64 {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX)
}

/// Checks that a certificate PEM and a key PEM parse and belong together, before they are handed to someone (the
/// peer) who would only fail later with a vague handshake error.
pub fn check_key_pair(
    cert: &PemSource,
    cert_role: PemRole,
    key: &PemSource,
    key_role: PemRole,
) -> Result<(String, String), TlsError> {
    let (cert_pem, key_pem) = (cert.read(cert_role)?, key.read(key_role)?);
    let chain = parse_certificates(cert_pem.as_bytes(), cert_role, &cert.origin())?;
    let der = parse_private_key(key_pem.as_bytes(), key_role, &key.origin())?;
    rustls::sign::CertifiedKey::from_der(chain, der, &provider())
        .map_err(|source| TlsError::KeyPair { role: cert_role, source })?;
    Ok((cert_pem, key_pem))
}

/// Every CERTIFICATE section, in order; other sections (a key bundled in the same file) are skipped.
pub fn parse_certificates(pem: &[u8], role: PemRole, origin: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Malformed { role, origin: origin.to_owned(), reason: e.to_string() })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate { role, origin: origin.to_owned() });
    }
    Ok(certs)
}

/// The first private-key section, whatever its label, decoded by trying each encoding the provider can load.
pub fn parse_private_key(pem: &[u8], role: PemRole, origin: &str) -> Result<PrivateKeyDer<'static>, TlsError> {
    let malformed = |e: rustls::pki_types::pem::Error| TlsError::Malformed {
        role,
        origin: origin.to_owned(),
        reason: e.to_string(),
    };
    let mut der = None;
    for section in <(SectionKind, Vec<u8>)>::pem_slice_iter(pem) {
        let (kind, bytes) = section.map_err(malformed)?;
        if matches!(kind, SectionKind::PrivateKey | SectionKind::EcPrivateKey | SectionKind::RsaPrivateKey) {
            der = Some(bytes);
            break;
        }
    }
    let der = der.ok_or_else(|| TlsError::NoPrivateKey { role, origin: origin.to_owned() })?;
    let keys = provider().key_provider;
    let candidates: [PrivateKeyDer<'static>; 3] = [
        PrivatePkcs8KeyDer::from(der.clone()).into(),
        PrivateSec1KeyDer::from(der.clone()).into(),
        PrivatePkcs1KeyDer::from(der).into(),
    ];
    candidates
        .into_iter()
        .find(|key| keys.load_private_key(key.clone_key()).is_ok())
        .ok_or_else(|| TlsError::UnusableKey { role, origin: origin.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn self_signed() -> (String, rcgen::KeyPair) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["cc.test".to_owned()]).unwrap().self_signed(&key).unwrap();
        (cert.pem(), key)
    }

    #[test]
    fn pkcs8_key_under_an_ec_label_is_accepted() {
        let (cert, key) = self_signed();
        let relabelled = key.serialize_pem().replace("PRIVATE KEY", "EC PRIVATE KEY");
        let parsed = parse_private_key(relabelled.as_bytes(), PemRole::ServerKey, "test").unwrap();
        assert!(matches!(parsed, PrivateKeyDer::Pkcs8(_)));
        server_config_from_pem(&cert, &relabelled, None).unwrap();
    }

    /// A SEC1 key as `openssl ecparam -genkey` writes it, relabelled as PKCS#8 would be.
    const SEC1_KEY: &str = "-----BEGIN PRIVATE KEY-----
MHcCAQEEIJLDMyXPpo5JhYlKazVDOxgvsZ1KOWvJlKT9gnYQivsloAoGCCqGSM49
AwEHoUQDQgAEomwVdD6cyNo6y12RT6ex2rxIShWug3EhK3ApegLswQExper3+pVg
sx6DEZ0mp1U/oGLWdUNd4pz6eztNe8FbEw==
-----END PRIVATE KEY-----
";

    #[test]
    fn sec1_key_under_a_pkcs8_label_is_accepted() {
        let parsed = parse_private_key(SEC1_KEY.as_bytes(), PemRole::ServerKey, "test").unwrap();
        assert!(matches!(parsed, PrivateKeyDer::Sec1(_)));
    }

    #[test]
    fn config_offers_h2() {
        let (cert, key) = self_signed();
        let config = server_config_from_pem(&cert, &key.serialize_pem(), Some(&cert)).unwrap();
        assert_eq!(config.alpn_protocols, vec![b"h2".to_vec()]);
    }

    #[test]
    fn errors_name_the_bad_pem() {
        let (cert, key) = self_signed();
        let key = key.serialize_pem();
        let err = server_config_from_pem("garbage", &key, None).unwrap_err();
        assert!(err.to_string().contains("server certificate chain"), "{err}");
        let err = server_config_from_pem(&cert, &cert, None).unwrap_err();
        assert!(err.to_string().contains("server private key"), "{err}");
        let err = server_config_from_pem(&cert, &key, Some("")).unwrap_err();
        assert!(err.to_string().contains("client CA"), "{err}");
        let (_, other_key) = self_signed();
        let err = server_config_from_pem(&cert, &other_key.serialize_pem(), None).unwrap_err();
        assert!(matches!(err, TlsError::KeyPair { role: PemRole::ServerCertChain, .. }), "{err}");
    }

    #[test]
    fn validity_problems_are_told_apart() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["cc.test".to_owned()]).unwrap();
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2030, 1, 1);
        let cert = params.self_signed(&key).unwrap();
        let der = cert.der();
        let at = |y: i32, m: u8, d: u8| rcgen::date_time_ymd(y, m, d).unix_timestamp();
        assert_eq!(validity_problem(der, at(2025, 6, 1)), None);
        assert!(matches!(validity_problem(der, at(2031, 1, 1)), Some(ValidityProblem::Expired(_))));
        assert!(matches!(validity_problem(der, at(2019, 1, 1)), Some(ValidityProblem::NotYetValid(_))));
        let soon = validity_problem(der, at(2029, 12, 22));
        assert!(matches!(soon, Some(ValidityProblem::ExpiresSoon { days: 10, .. })), "{soon:?}");
        let garbage = CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x01]);
        assert!(matches!(validity_problem(&garbage, 0), Some(ValidityProblem::Unreadable(_))));
        // An expired certificate still makes a configuration (with a warning): a renewed one needs only a restart.
        let expired = validity_problem(der, at(2031, 1, 1)).unwrap().to_string();
        assert!(expired.contains("expired on") && expired.contains("2030"), "{expired}");
        server_config_from_pem(&cert.pem(), &key.serialize_pem(), None).unwrap();
    }

    #[test]
    fn a_missing_file_names_its_path() {
        let settings = ServerTlsSettings {
            cert_chain: PemSource::file("/nonexistent/wasmcc/server.pem"),
            key: PemSource::Pem(String::new()),
            client_ca: None,
        };
        let err = server_config(&settings).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/wasmcc/server.pem"), "{err}");
    }
}
