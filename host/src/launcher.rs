//! Launcher mode: the host dials the peer instead of waiting to be dialled.
//!
//! When the builder releases no connection.json, the peer calls `bin/run` with a `chaincode.json`
//! (`docs/fabric-protocol.md` §10 items 14–15), and the builder hands it to the admin API's `/v1/launch`. The host
//! then opens the peer's `protos.ChaincodeSupport/Register` and speaks the very same session as on an accepted
//! `Connect` stream: only the direction of the dial differs.

use std::sync::Arc;

use base64::Engine as _;
use futures::StreamExt;
use rustls::pki_types::PrivateKeyDer;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};
use wasmcc_proto::protos::chaincode_support_client::ChaincodeSupportClient;

use crate::engine::WasmEngine;
use crate::executor::LoadedChaincode;
use crate::limits;
use crate::session::{Session, SessionError};
use crate::tls::{self, PemRole, PemSource};

/// `chaincode.json` as the peer writes it for `bin/run`: six strings, the PEMs empty when the peer runs without TLS.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchSpec {
    pub chaincode_id: String,
    pub peer_address: String,
    #[serde(default)]
    pub client_cert: String,
    #[serde(default)]
    pub client_key: String,
    #[serde(default)]
    pub root_cert: String,
    #[serde(default)]
    pub mspid: String,
}

impl std::fmt::Debug for LaunchSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key: specs end up in logs.
        f.debug_struct("LaunchSpec")
            .field("chaincode_id", &self.chaincode_id)
            .field("peer_address", &self.peer_address)
            .field("tls", &!self.root_cert.is_empty())
            .field("mspid", &self.mspid)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// Registering any other name than the one the peer launches stalls the peer (`docs/fabric-protocol.md` §9,
    /// pitfall 4).
    #[error("chaincode.json names {requested}, but the chaincode to serve is {loaded}")]
    WrongChaincode { requested: String, loaded: String },
    #[error("invalid peer_address {address:?}: {reason}")]
    InvalidAddress { address: String, reason: String },
    #[error("chaincode.json: {0}")]
    Tls(String),
    #[error("dialling the peer at {address}: {reason}")]
    Dial { address: String, reason: String },
    #[error(transparent)]
    Session(#[from] SessionError),
}

/// Dials the peer's `ChaincodeSupport/Register` as `chaincode` and serves the stream until it ends: `Ok` when the
/// peer closed it after the handshake, an error otherwise.
pub async fn dial_peer(
    engine: Arc<WasmEngine>,
    chaincode: Arc<LoadedChaincode>,
    spec: &LaunchSpec,
) -> Result<(), LaunchError> {
    if *spec.chaincode_id != *chaincode.ccid {
        return Err(LaunchError::WrongChaincode {
            requested: spec.chaincode_id.clone(),
            loaded: chaincode.ccid.to_string(),
        });
    }
    let endpoint = endpoint(spec)?;
    let channel = endpoint
        .connect()
        .await
        .map_err(|e| LaunchError::Dial { address: spec.peer_address.clone(), reason: error_chain(&e) })?;
    let mut client = ChaincodeSupportClient::new(channel)
        .max_decoding_message_size(limits::GRPC_MAX_MESSAGE_BYTES)
        .max_encoding_message_size(limits::GRPC_MAX_MESSAGE_BYTES);

    let (outbound, outbound_rx) = mpsc::channel(crate::limits::OUTBOUND_BUFFER);
    let session = Session::new(engine, chaincode, outbound);
    // The peer's gRPC server sends response headers only with REGISTERED, which it sends only after our REGISTER:
    // awaiting `register` before the session has queued REGISTER would deadlock. So the call is made lazily, as
    // the first poll of the inbound stream, after `Session::run` has sent REGISTER into the request stream.
    let call = async move { client.register(ReceiverStream::new(outbound_rx)).await };
    let inbound = futures::stream::once(call).flat_map(|answer| match answer {
        Ok(response) => response.into_inner().left_stream(),
        Err(status) => futures::stream::once(async move { Err(status) }).right_stream(),
    });
    session.run(Box::pin(inbound)).await?;
    Ok(())
}

fn endpoint(spec: &LaunchSpec) -> Result<Endpoint, LaunchError> {
    let invalid = |reason: String| LaunchError::InvalidAddress { address: spec.peer_address.clone(), reason };
    if spec.peer_address.is_empty() || spec.peer_address.contains('/') {
        return Err(invalid("expected host:port".to_owned()));
    }
    let tls = tls_config(spec)?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let mut endpoint = Endpoint::from_shared(format!("{scheme}://{}", spec.peer_address))
        .map_err(|e| invalid(e.to_string()))?
        .connect_timeout(limits::LAUNCH_DIAL_TIMEOUT)
        .initial_stream_window_size(crate::limits::STREAM_WINDOW_BYTES)
        .initial_connection_window_size(crate::limits::CONNECTION_WINDOW_BYTES)
        .http2_keep_alive_interval(limits::LAUNCH_KEEPALIVE_INTERVAL)
        .keep_alive_timeout(limits::LAUNCH_KEEPALIVE_TIMEOUT)
        .keep_alive_while_idle(true);
    if let Some(tls) = tls {
        endpoint = endpoint.tls_config(tls).map_err(|e| LaunchError::Tls(error_chain(&e)))?;
    }
    Ok(endpoint)
}

/// TLS when the peer's listener has it (chaincode.json then carries its CA and a client identity for this launch).
fn tls_config(spec: &LaunchSpec) -> Result<Option<ClientTlsConfig>, LaunchError> {
    let (cert, key, root) = (spec.client_cert.trim(), spec.client_key.trim(), spec.root_cert.trim());
    if root.is_empty() {
        if !cert.is_empty() || !key.is_empty() {
            return Err(LaunchError::Tls("client_cert and client_key are given but root_cert is empty".to_owned()));
        }
        return Ok(None);
    }
    tls::parse_certificates(root.as_bytes(), PemRole::ClientCa, "root_cert")
        .map_err(|e| LaunchError::Tls(e.to_string()))?;
    let mut config = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(root));
    if cert.is_empty() != key.is_empty() {
        return Err(LaunchError::Tls("client_cert and client_key go together".to_owned()));
    }
    if !cert.is_empty() {
        let (cert, key) = tls::check_key_pair(
            &PemSource::Pem(cert.to_owned()),
            PemRole::PeerClientCert,
            &PemSource::Pem(key.to_owned()),
            PemRole::PeerClientKey,
        )
        .map_err(|e| LaunchError::Tls(e.to_string()))?;
        config = config.identity(Identity::from_pem(cert, relabelled_key(&key)?));
    }
    Ok(Some(config))
}

/// The key as PEM whose label matches its content. tonic picks the decoder by label, and the peer writes PKCS#8
/// content under an `EC PRIVATE KEY` label (`docs/fabric-protocol.md` §10 item 14), which it would misread as SEC1.
fn relabelled_key(pem: &str) -> Result<String, LaunchError> {
    let key = tls::parse_private_key(pem.as_bytes(), PemRole::PeerClientKey, "client_key")
        .map_err(|e| LaunchError::Tls(e.to_string()))?;
    let (label, der) = match &key {
        PrivateKeyDer::Pkcs8(k) => ("PRIVATE KEY", k.secret_pkcs8_der()),
        PrivateKeyDer::Sec1(k) => ("EC PRIVATE KEY", k.secret_sec1_der()),
        PrivateKeyDer::Pkcs1(k) => ("RSA PRIVATE KEY", k.secret_pkcs1_der()),
        _ => return Err(LaunchError::Tls("client_key has an unsupported encoding".to_owned())),
    };
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut text = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        text.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        text.push('\n');
    }
    text.push_str(&format!("-----END {label}-----\n"));
    Ok(text)
}

/// tonic's transport errors say "transport error" on top and the cause (refused, certificate, timeout) below.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::path::PathBuf;

    use super::*;
    use crate::limits::TxLimits;
    use std::time::Duration;

    use crate::engine::WasmEngine;
    use wasmcc_peer::{args, PeerSim, SupportTls};

    const CH: &str = "mychannel";

    fn counter() -> (Arc<WasmEngine>, Arc<LoadedChaincode>) {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/wasm/counter.wasm");
        let bytes = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e}; build the examples: bash scripts/build-guests.sh", path.display()));
        let engine = Arc::new(WasmEngine::new().unwrap());
        let ccid = format!("counter:{}", "ab".repeat(32));
        let chaincode = Arc::new(LoadedChaincode::new(ccid, engine.load(&bytes).unwrap(), TxLimits::default()));
        (engine, chaincode)
    }

    fn spec(ccid: &str, addr: SocketAddr) -> LaunchSpec {
        LaunchSpec {
            chaincode_id: ccid.to_owned(),
            peer_address: addr.to_string(),
            client_cert: String::new(),
            client_key: String::new(),
            root_cert: String::new(),
            mspid: "Org1MSP".to_owned(),
        }
    }

    /// A CA, a server certificate for 127.0.0.1 signed by it, and a client identity signed by it, with the client
    /// key written the way the peer writes it: PKCS#8 content under an `EC PRIVATE KEY` label.
    fn pki() -> (SupportTls, String, String, String) {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let server_key = rcgen::KeyPair::generate().unwrap();
        let server = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .unwrap()
            .signed_by(&server_key, &issuer)
            .unwrap();
        let client_key = rcgen::KeyPair::generate().unwrap();
        let client =
            rcgen::CertificateParams::new(vec!["counter".to_owned()]).unwrap().signed_by(&client_key, &issuer).unwrap();
        let peer_style_key = client_key.serialize_pem().replace("PRIVATE KEY", "EC PRIVATE KEY");
        let tls = SupportTls { cert: server.pem(), key: server_key.serialize_pem(), client_ca: Some(ca.pem()) };
        (tls, ca.pem(), client.pem(), peer_style_key)
    }

    async fn launch_and_count(tls: Option<SupportTls>, fill: impl FnOnce(&mut LaunchSpec)) {
        let (engine, chaincode) = counter();
        let peer = PeerSim::new();
        let (addr, mut support) = peer.serve_chaincode_support("127.0.0.1:0".parse().unwrap(), tls).await.unwrap();
        let mut launch = spec(&chaincode.ccid, addr);
        fill(&mut launch);
        let cc = chaincode.clone();
        let session = tokio::spawn(async move { dial_peer(engine, cc, &launch).await });

        let conn = support.accept(&chaincode.ccid).await.unwrap();
        for want in ["1", "2"] {
            let result = conn.invoke(CH, args(["inc", "n"])).await.unwrap();
            assert_eq!(result.status(), Some(200), "{:?}", result.outcome);
            assert_eq!(result.payload(), want.as_bytes());
            assert!(result.is_committed());
        }
        assert_eq!(peer.get(CH, "counter", "n"), Some(b"2".to_vec()));

        // The peer ends the stream: the launch ends cleanly.
        conn.close();
        let ended = tokio::time::timeout(Duration::from_secs(10), session).await.expect("launch ends").unwrap();
        ended.unwrap();
    }

    #[tokio::test]
    async fn plaintext_launch_runs_transactions() {
        launch_and_count(None, |_| {}).await;
    }

    #[tokio::test]
    async fn mutual_tls_launch_with_the_peers_key_label() {
        let (tls, ca, cert, key) = pki();
        launch_and_count(Some(tls), |spec| {
            spec.root_cert = ca;
            spec.client_cert = cert;
            spec.client_key = key;
        })
        .await;
    }

    #[tokio::test]
    async fn wrong_ccid_is_never_registered() {
        let (engine, chaincode) = counter();
        let mut launch = spec("other:00", "127.0.0.1:1".parse().unwrap());
        launch.chaincode_id = format!("counter:{}", "cd".repeat(32));
        let err = dial_peer(engine.clone(), chaincode, &launch).await.unwrap_err();
        assert!(matches!(err, LaunchError::WrongChaincode { .. }), "{err}");
    }

    #[tokio::test]
    async fn unreachable_peer_fails_with_the_cause() {
        let (engine, chaincode) = counter();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let launch = spec(&chaincode.ccid, SocketAddr::from(([127, 0, 0, 1], port)));
        let err = dial_peer(engine.clone(), chaincode, &launch).await.unwrap_err().to_string();
        assert!(err.contains("dialling the peer") && err.to_lowercase().contains("refused"), "{err}");
    }

    #[tokio::test]
    async fn peer_closing_before_ready_is_an_error() {
        let (engine, chaincode) = counter();
        let peer = PeerSim::new();
        let (addr, mut support) = peer.serve_chaincode_support("127.0.0.1:0".parse().unwrap(), None).await.unwrap();
        let launch = spec(&chaincode.ccid, addr);
        let cc = chaincode.clone();
        let session = tokio::spawn(async move { dial_peer(engine, cc, &launch).await });
        // A peer launching another CCID ignores the REGISTER; here it gives up quickly and drops the stream.
        let opts = wasmcc_peer::ConnectOptions { startup_timeout: Duration::from_millis(300), ..Default::default() };
        assert!(support.accept_with("counter:other", opts).await.is_err());
        let ended = tokio::time::timeout(Duration::from_secs(10), session).await.expect("launch ends").unwrap();
        assert!(matches!(ended, Err(LaunchError::Session(_))), "{ended:?}");
    }

    #[test]
    fn keys_are_relabelled_by_content() {
        let key = rcgen::KeyPair::generate().unwrap();
        let peer_style = key.serialize_pem().replace("PRIVATE KEY", "EC PRIVATE KEY");
        let fixed = relabelled_key(&peer_style).unwrap();
        assert_eq!(fixed, key.serialize_pem().replace("\r\n", "\n"));
    }
}
