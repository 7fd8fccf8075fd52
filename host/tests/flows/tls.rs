//! Routing peer connections by port and by TLS server name, end to end: a real tonic server on loopback, tonic
//! clients with rustls, certificates from rcgen. The test service answers every `Connect` with one message whose
//! payload is the CCID it was routed to (and txid the SNI), so a client sees where it landed.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{Stream, StreamExt};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, SanType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity, Server};
use tonic::{Request, Response, Status, Streaming};
use wasmcc_host::connections::ListenerPolicy;
use wasmcc_host::limits;
use wasmcc_host::sni::{Route, RouteInfo, RoutedIncoming, SniResolver};
use wasmcc_host::tls::server_config_from_pem;
use wasmcc_proto::protos::chaincode_client::ChaincodeClient;
use wasmcc_proto::protos::chaincode_server::{Chaincode, ChaincodeServer};
use wasmcc_proto::protos::ChaincodeMessage;

const SUFFIX: &str = "cc.test";
const CCID_A: &str = "alpha:1111";
const CCID_B: &str = "beta:2222";

/// Answers with the route it was reached on.
struct RouteEcho;

#[tonic::async_trait]
impl Chaincode for RouteEcho {
    type ConnectStream = Pin<Box<dyn Stream<Item = Result<ChaincodeMessage, Status>> + Send>>;

    async fn connect(
        &self,
        request: Request<Streaming<ChaincodeMessage>>,
    ) -> Result<Response<Self::ConnectStream>, Status> {
        let route = request.extensions().get::<RouteInfo>().cloned().ok_or_else(|| Status::internal("no route"))?;
        assert!(route.remote_addr.is_some_and(|a| a.ip().is_loopback()));
        let reply = ChaincodeMessage {
            payload: route.ccid.unwrap_or_default().into_bytes(),
            txid: route.sni.unwrap_or_default(),
            ..Default::default()
        };
        Ok(Response::new(Box::pin(futures::stream::iter([Ok(reply)]))))
    }
}

pub(crate) struct Pki {
    pub(crate) ca: String,
    pub(crate) server_cert: String,
    pub(crate) server_key: String,
    client_cert: String,
    client_key: String,
    rogue_cert: String,
    rogue_key: String,
}

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

fn leaf(issuer: &CertifiedIssuer<'static, KeyPair>, sans: Vec<SanType>, cn: &str) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.subject_alt_names = sans;
    params.distinguished_name.push(DnType::CommonName, cn);
    (params.signed_by(&key, issuer).unwrap().pem(), key.serialize_pem())
}

pub(crate) fn pki() -> Pki {
    let (ca, rogue_ca) = (ca("wasmcc test CA"), ca("someone else's CA"));
    let (server_cert, server_key) = leaf(
        &ca,
        vec![SanType::DnsName(format!("*.{SUFFIX}").try_into().unwrap()), SanType::IpAddress([127, 0, 0, 1].into())],
        "wasmcc",
    );
    let (client_cert, client_key) = leaf(&ca, vec![], "peer0.org1");
    let (rogue_cert, rogue_key) = leaf(&rogue_ca, vec![], "peer0.org1");
    Pki { ca: ca.pem(), server_cert, server_key, client_cert, client_key, rogue_cert, rogue_key }
}

/// Serves [`RouteEcho`] on `incoming` in the background.
fn serve(incoming: RoutedIncoming) -> SocketAddr {
    let addr = incoming.local_addr();
    tokio::spawn(Server::builder().add_service(ChaincodeServer::new(RouteEcho)).serve_with_incoming(incoming));
    addr
}

async fn loopback() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").await.unwrap()
}

/// A shared mutual-TLS port routing `a.cc.test` and `b.cc.test`. Its handshake timeout is far beyond any bound
/// below: what makes room for a client there is never a stalled one timing out.
async fn sni_server(pki: &Pki) -> SocketAddr {
    let names: HashMap<String, String> =
        [(format!("a.{SUFFIX}"), CCID_A.to_owned()), (format!("b.{SUFFIX}"), CCID_B.to_owned())].into();
    let resolver: SniResolver = Arc::new(move |sni| names.get(sni).cloned());
    let config = server_config_from_pem(&pki.server_cert, &pki.server_key, Some(&pki.ca)).unwrap();
    let policy = ListenerPolicy { handshake_timeout: Duration::from_secs(120), ..ListenerPolicy::default() };
    serve(RoutedIncoming::with_policy(loopback().await, Route::Sni { resolver, config }, policy).unwrap())
}

/// Dials `Connect` and returns `(ccid, sni)` from the reply, or the error text.
async fn reach(endpoint: Endpoint) -> Result<(String, String), String> {
    let exchange = async {
        let channel = endpoint.connect().await.map_err(|e| format!("connect: {e:?}"))?;
        let mut client = ChaincodeClient::new(channel);
        let mut replies =
            client.connect(futures::stream::empty()).await.map_err(|e| format!("rpc: {e:?}"))?.into_inner();
        match replies.next().await {
            Some(Ok(m)) => Ok((String::from_utf8(m.payload).unwrap(), m.txid)),
            other => Err(format!("reply: {other:?}")),
        }
    };
    tokio::time::timeout(Duration::from_secs(20), exchange).await.expect("a refusal must be prompt, not a hang")
}

fn tls_endpoint(addr: SocketAddr, domain: &str, ca: &str, identity: Option<(&str, &str)>) -> Endpoint {
    let mut tls = ClientTlsConfig::new().domain_name(domain).ca_certificate(Certificate::from_pem(ca));
    if let Some((cert, key)) = identity {
        tls = tls.identity(Identity::from_pem(cert, key));
    }
    Endpoint::from_shared(format!("https://{addr}")).unwrap().tls_config(tls).unwrap()
}

fn peer_identity(pki: &Pki) -> Option<(&str, &str)> {
    Some((&pki.client_cert, &pki.client_key))
}

#[tokio::test]
async fn two_sni_names_on_one_port_reach_two_chaincodes() {
    let pki = pki();
    let addr = sni_server(&pki).await;
    for (name, ccid) in [("a", CCID_A), ("b", CCID_B), ("a", CCID_A)] {
        let sni = format!("{name}.{SUFFIX}");
        let reached = reach(tls_endpoint(addr, &sni, &pki.ca, peer_identity(&pki))).await.unwrap();
        assert_eq!(reached, (ccid.to_owned(), sni));
    }
}

#[tokio::test]
async fn client_certificate_from_another_ca_is_refused() {
    let pki = pki();
    let addr = sni_server(&pki).await;
    let rogue = Some((pki.rogue_cert.as_str(), pki.rogue_key.as_str()));
    let err = reach(tls_endpoint(addr, &format!("a.{SUFFIX}"), &pki.ca, rogue)).await.unwrap_err();
    assert!(err.contains("UnknownCA"), "{err}");
}

#[tokio::test]
async fn missing_client_certificate_is_refused() {
    let pki = pki();
    let addr = sni_server(&pki).await;
    let err = reach(tls_endpoint(addr, &format!("a.{SUFFIX}"), &pki.ca, None)).await.unwrap_err();
    assert!(err.contains("CertificateRequired"), "{err}");
}

#[tokio::test]
async fn unknown_sni_is_refused() {
    let pki = pki();
    let addr = sni_server(&pki).await;
    let err = reach(tls_endpoint(addr, &format!("c.{SUFFIX}"), &pki.ca, peer_identity(&pki))).await.unwrap_err();
    assert!(err.contains("tls handshake eof"), "closed before the server's hello: {err}");
}

#[tokio::test]
async fn missing_sni_is_refused() {
    let pki = pki();
    let addr = sni_server(&pki).await;
    // An IP address as server name: rustls sends no SNI (the certificate has the IP SAN, so only routing refuses).
    let err = reach(tls_endpoint(addr, "127.0.0.1", &pki.ca, peer_identity(&pki))).await.unwrap_err();
    assert!(err.contains("tls handshake eof"), "closed before the server's hello: {err}");
}

#[tokio::test]
async fn silent_and_garbage_clients_do_not_block_others() {
    let pki = pki();
    let addr = sni_server(&pki).await;
    let _silent: Vec<TcpStream> = futures::future::join_all((0..8).map(|_| TcpStream::connect(addr)))
        .await
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut garbage = TcpStream::connect(addr).await.unwrap();
    garbage.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    let sni = format!("b.{SUFFIX}");
    // Well within the handshake timeout: the silent clients are still pending while this one is served.
    let quick =
        tokio::time::timeout(Duration::from_secs(5), reach(tls_endpoint(addr, &sni, &pki.ca, peer_identity(&pki))));
    assert_eq!(quick.await.expect("served while others stall").unwrap(), (CCID_B.to_owned(), sni));
}

#[tokio::test]
async fn a_full_pending_set_evicts_silent_clients_for_a_real_peer() {
    let pki = pki();
    let addr = sni_server(&pki).await;
    // More silent clients than the listener keeps pending, all well within their handshake timeout.
    let mut silent = Vec::new();
    for _ in 0..limits::MAX_PENDING_CONNECTIONS + 20 {
        silent.push(TcpStream::connect(addr).await.unwrap());
    }
    let sni = format!("a.{SUFFIX}");
    let quick =
        tokio::time::timeout(Duration::from_secs(5), reach(tls_endpoint(addr, &sni, &pki.ca, peer_identity(&pki))));
    assert_eq!(quick.await.expect("a real peer is not kept waiting").unwrap(), (CCID_A.to_owned(), sni));
    // The oldest silent ones were evicted to make room: they see their connection closed.
    let mut first = silent.remove(0);
    let closed = tokio::time::timeout(Duration::from_secs(5), first.read(&mut [0u8; 1])).await;
    assert!(matches!(closed, Ok(Ok(0) | Err(_))), "{closed:?}");
}

/// Captures what the host logs: the process's global subscriber, set by the one test that reads it (a scoped one
/// would miss events whose callsites other tests, on other threads, hit first).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn global() -> Captured {
        static CAPTURED: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
        CAPTURED
            .get_or_init(|| {
                let log = Captured::default();
                let writer = log.clone();
                let subscriber = tracing_subscriber::fmt()
                    .with_max_level(tracing::Level::INFO)
                    .with_ansi(false)
                    .with_writer(move || writer.clone())
                    .finish();
                tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber");
                log
            })
            .clone()
    }

    fn lines(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().unwrap()).lines().map(str::to_owned).collect()
    }
}

#[tokio::test]
async fn refused_handshakes_are_logged_with_address_and_reason_and_rate_limited() {
    let log = Captured::global();
    let pki = pki();
    let addr = sni_server(&pki).await;
    let sni = format!("a.{SUFFIX}");
    // Many more refusals than may be logged in a second, at once.
    let refusals = 6 * limits::LOG_LINES_PER_SECOND as usize;
    let started = std::time::Instant::now();
    let attempts = (0..refusals).map(|_| reach(tls_endpoint(addr, &sni, &pki.ca, None)));
    let results = futures::future::join_all(attempts).await;
    assert!(results.iter().all(Result::is_err));
    // A refusal is logged after the client has seen it: wait for a line to appear.
    let listener = format!("listener={addr}");
    let refused = |log: &Captured| -> Vec<String> {
        let ours = |l: &String| l.contains("WARN") && l.contains("connection refused") && l.contains(&listener);
        log.lines().into_iter().filter(ours).collect()
    };
    for _ in 0..500 {
        if !refused(&log).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let lines = refused(&log);
    // At most a second's worth per second (counting both ends of the span).
    let seconds = started.elapsed().as_secs() as usize + 2;
    assert!(!lines.is_empty() && lines.len() <= seconds * limits::LOG_LINES_PER_SECOND as usize, "{lines:#?}");
    let line = &lines[0];
    assert!(line.contains("remote=127.0.0.1:"), "{line}");
    assert!(line.contains("TLS handshake failed") && line.contains("no certificates"), "{line}");
}

#[tokio::test]
async fn fixed_tls_port_routes_to_its_chaincode_and_records_sni() {
    let pki = pki();
    let config = server_config_from_pem(&pki.server_cert, &pki.server_key, None).unwrap();
    let addr = serve(RoutedIncoming::tls(loopback().await, Some(CCID_A.to_owned()), config).unwrap());
    let sni = format!("whatever.{SUFFIX}");
    assert_eq!(reach(tls_endpoint(addr, &sni, &pki.ca, None)).await.unwrap(), (CCID_A.to_owned(), sni));
    let no_sni = reach(tls_endpoint(addr, "127.0.0.1", &pki.ca, None)).await.unwrap();
    assert_eq!(no_sni, (CCID_A.to_owned(), String::new()));
}

#[tokio::test]
async fn fixed_mtls_port_refuses_clients_without_a_certificate() {
    let pki = pki();
    let config = server_config_from_pem(&pki.server_cert, &pki.server_key, Some(&pki.ca)).unwrap();
    let addr = serve(RoutedIncoming::tls(loopback().await, Some(CCID_B.to_owned()), config).unwrap());
    let sni = format!("b.{SUFFIX}");
    let err = reach(tls_endpoint(addr, &sni, &pki.ca, None)).await.unwrap_err();
    assert!(err.contains("CertificateRequired"), "{err}");
    let reached = reach(tls_endpoint(addr, &sni, &pki.ca, peer_identity(&pki))).await.unwrap();
    assert_eq!(reached.0, CCID_B);
}

#[tokio::test]
async fn plaintext_port_routes_to_its_chaincode() {
    let addr = serve(RoutedIncoming::plain(loopback().await, Some(CCID_B.to_owned())).unwrap());
    let endpoint = Endpoint::from_shared(format!("http://{addr}")).unwrap();
    assert_eq!(reach(endpoint).await.unwrap(), (CCID_B.to_owned(), String::new()));
}
