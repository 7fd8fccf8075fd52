//! Deciding, at accept time, which chaincode a peer connection is for (`design.md` decision 7).
//!
//! The peer sends nothing before the chaincode's REGISTER, so the route must come from how it dialled: the port
//! (one listener per chaincode, plaintext or TLS) or, on one shared port under mutual TLS, the TLS server name the
//! peer sends when connection.json has `domain` and `client_auth_required` (`fabric-protocol.md` §10 item 13).
//!
//! [`RoutedIncoming`] turns a listener into a stream for `tonic::transport::Server::serve_with_incoming`. Each
//! connection carries a [`RouteInfo`], which tonic copies into every request's extensions. Handshakes run in
//! their own tasks under [`limits::TLS_HANDSHAKE_TIMEOUT`], so a slow or hostile client never delays the others.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::Stream;
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::server::TlsStream;
use tokio_rustls::{LazyConfigAcceptor, TlsAcceptor};
use tonic::transport::server::Connected;

use crate::limits;

/// Hex digits of the package hash in an SNI name: 48 bits, so two packages with the same label practically never
/// share a name, while the name stays short and readable in logs and certificates.
const SNI_HASH_DIGITS: usize = 12;

/// A DNS label is at most 63 bytes; the label part keeps room for `-` and the hash digits.
const SNI_LABEL_MAX: usize = 63 - 1 - SNI_HASH_DIGITS;

/// Connections handed over but not yet taken by the server; tonic takes them as they come, so a few suffice.
const HANDOVER_BUFFER: usize = 16;

/// Where a connection was routed, as tonic's `ConnectInfo`: a service reads it with
/// `request.extensions().get::<RouteInfo>()`. (Tonic's `Request::remote_addr` knows only its own IO types and
/// returns `None` here: use `remote_addr` below.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteInfo {
    /// The chaincode this connection serves. `None` when the listener leaves the choice to the service (a shared
    /// plaintext port routed by HTTP/2 `:authority`).
    pub ccid: Option<String>,
    pub remote_addr: Option<SocketAddr>,
    /// The TLS server name the client asked for (lowercase, no trailing dot), when it sent one.
    pub sni: Option<String>,
}

/// Maps a TLS server name (lowercase) to the CCID served under it; `None` refuses the connection.
pub type SniResolver = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// How a listener decides the route of its connections.
#[derive(Clone)]
pub enum Route {
    /// Plaintext, every connection for `ccid`.
    Plain { ccid: Option<String> },
    /// TLS (mutual when `config` has a client verifier), every connection for `ccid`.
    Tls { ccid: Option<String>, config: Arc<ServerConfig> },
    /// One shared port: the TLS server name picks the chaincode. Connections without a server name, or with one
    /// the resolver does not know, are closed before the handshake completes. `config` should require client
    /// certificates: the peer sends `domain` as server name only under client auth.
    Sni { resolver: SniResolver, config: Arc<ServerConfig> },
}

/// Why a connection was dropped before reaching the server (logged, never surfaced to other connections).
#[derive(Debug, thiserror::Error)]
enum Refused {
    #[error("no TLS server name (SNI) sent; a shared port cannot tell which chaincode is meant")]
    NoSni,
    #[error("no chaincode is served under the TLS server name {0:?}")]
    UnknownSni(String),
    #[error("TLS handshake failed: {0}")]
    Handshake(io::Error),
    #[error("TLS handshake not finished within {0:?}")]
    Timeout(std::time::Duration),
}

/// The accepted connections of one listener, routed, ready for `serve_with_incoming`.
///
/// Dropping it stops accepting, closes the listener and abandons handshakes in progress.
pub struct RoutedIncoming {
    connections: mpsc::Receiver<io::Result<RoutedConn>>,
    local_addr: SocketAddr,
    accept_loop: JoinHandle<()>,
}

impl RoutedIncoming {
    /// Starts accepting on `listener` (must be called inside a tokio runtime).
    pub fn new(listener: TcpListener, route: Route) -> io::Result<RoutedIncoming> {
        let local_addr = listener.local_addr()?;
        let (tx, connections) = mpsc::channel(HANDOVER_BUFFER);
        let accept_loop = tokio::spawn(accept_loop(listener, Arc::new(route), tx));
        Ok(RoutedIncoming { connections, local_addr, accept_loop })
    }

    pub fn plain(listener: TcpListener, ccid: Option<String>) -> io::Result<RoutedIncoming> {
        RoutedIncoming::new(listener, Route::Plain { ccid })
    }

    pub fn tls(listener: TcpListener, ccid: Option<String>, config: Arc<ServerConfig>) -> io::Result<RoutedIncoming> {
        RoutedIncoming::new(listener, Route::Tls { ccid, config })
    }

    pub fn sni(listener: TcpListener, resolver: SniResolver, config: Arc<ServerConfig>) -> io::Result<RoutedIncoming> {
        RoutedIncoming::new(listener, Route::Sni { resolver, config })
    }

    /// The bound address (the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}

impl Drop for RoutedIncoming {
    fn drop(&mut self) {
        self.accept_loop.abort();
    }
}

impl Stream for RoutedIncoming {
    type Item = io::Result<RoutedConn>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.connections.poll_recv(cx)
    }
}

async fn accept_loop(listener: TcpListener, route: Arc<Route>, tx: mpsc::Sender<io::Result<RoutedConn>>) {
    // Dropping the set (when this task is aborted) aborts the handshakes still running.
    let mut handshakes = JoinSet::new();
    loop {
        tokio::select! {
            Some(_) = handshakes.join_next(), if !handshakes.is_empty() => {}
            accepted = listener.accept(), if handshakes.len() < limits::MAX_PENDING_HANDSHAKES => match accepted {
                Ok((tcp, remote)) => {
                    handshakes.spawn(hand_over(tcp, remote, route.clone(), tx.clone()));
                }
                Err(e) if is_per_connection(&e) => {}
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(limits::ACCEPT_ERROR_BACKOFF).await;
                }
            },
        }
    }
}

/// The connection died between SYN and accept: nothing is wrong with the listener.
fn is_per_connection(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset)
}

async fn hand_over(tcp: TcpStream, remote: SocketAddr, route: Arc<Route>, tx: mpsc::Sender<io::Result<RoutedConn>>) {
    match route_connection(tcp, remote, &route).await {
        Ok(conn) => {
            tracing::debug!(?remote, ccid = ?conn.info.ccid, sni = ?conn.info.sni, "connection routed");
            // Failing means the server is gone; the connection is dropped with it.
            let _ = tx.send(Ok(conn)).await;
        }
        // Worth an operator's eye: a peer dialling a chaincode this host does not serve, or without `domain`.
        Err(e @ (Refused::NoSni | Refused::UnknownSni(_))) => tracing::info!(?remote, "connection refused: {e}"),
        // Scanners and health probes do this all day.
        Err(e) => tracing::debug!(?remote, "connection dropped: {e}"),
    }
}

async fn route_connection(tcp: TcpStream, remote: SocketAddr, route: &Route) -> Result<RoutedConn, Refused> {
    // gRPC exchanges many small messages; Nagle's algorithm with delayed ACKs would add tens of milliseconds each.
    let _ = tcp.set_nodelay(true);
    let remote_addr = Some(remote);
    match route {
        Route::Plain { ccid } => {
            Ok(RoutedConn { io: Io::Plain(tcp), info: RouteInfo { ccid: ccid.clone(), remote_addr, sni: None } })
        }
        Route::Tls { ccid, config } => {
            let tls = with_timeout(TlsAcceptor::from(config.clone()).accept(tcp)).await?;
            let sni = tls.get_ref().1.server_name().map(normalize);
            Ok(RoutedConn { io: Io::Tls(Box::new(tls)), info: RouteInfo { ccid: ccid.clone(), remote_addr, sni } })
        }
        Route::Sni { resolver, config } => {
            with_timeout(async {
                let start = LazyConfigAcceptor::new(rustls::server::Acceptor::default(), tcp).await?;
                let sni = match start.client_hello().server_name() {
                    Some(name) => normalize(name),
                    None => return Ok(Err(Refused::NoSni)),
                };
                let Some(ccid) = resolver(&sni) else { return Ok(Err(Refused::UnknownSni(sni))) };
                let tls = start.into_stream(config.clone()).await?;
                let info = RouteInfo { ccid: Some(ccid), remote_addr, sni: Some(sni) };
                Ok(Ok(RoutedConn { io: Io::Tls(Box::new(tls)), info }))
            })
            .await?
        }
    }
}

async fn with_timeout<T>(handshake: impl Future<Output = io::Result<T>>) -> Result<T, Refused> {
    match tokio::time::timeout(limits::TLS_HANDSHAKE_TIMEOUT, handshake).await {
        Ok(result) => result.map_err(Refused::Handshake),
        Err(_) => Err(Refused::Timeout(limits::TLS_HANDSHAKE_TIMEOUT)),
    }
}

/// DNS names compare case-insensitively and may carry a root dot; resolvers see one spelling.
fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// One accepted connection, plaintext or TLS, with its route.
pub struct RoutedConn {
    io: Io,
    info: RouteInfo,
}

enum Io {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl RoutedConn {
    pub fn route(&self) -> &RouteInfo {
        &self.info
    }
}

impl Connected for RoutedConn {
    type ConnectInfo = RouteInfo;

    fn connect_info(&self) -> RouteInfo {
        self.info.clone()
    }
}

impl AsyncRead for RoutedConn {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for RoutedConn {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().io {
            Io::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().io {
            Io::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.io {
            Io::Plain(s) => s.is_write_vectored(),
            Io::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(s) => Pin::new(s).poll_flush(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// The TLS server name of a chaincode on a shared port: `<label>-<first 12 hex of the package hash>.<suffix>`.
///
/// One DNS label before the suffix, so a single wildcard certificate `*.<suffix>` covers every chaincode (a
/// wildcard matches exactly one label). The label is lowercased and every character outside `[a-z0-9-]` (Fabric
/// labels may hold `_ . +`) becomes `-`; it is cut to fit the 63-byte DNS label limit and never starts or ends with
/// `-`. The hash part keeps two packages of one label apart, and the name stays the same for the same package
/// across restarts and hosts. This is what connection.json `domain` should hold for that chaincode.
pub fn sni_name(label: &str, ccid_hash: &str, suffix: &str) -> String {
    let mut name: String = label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
        .take(SNI_LABEL_MAX)
        .collect();
    name = name.trim_matches('-').to_owned();
    if name.is_empty() {
        name.push_str("cc");
    }
    let hash: String = ccid_hash
        .chars()
        .filter(char::is_ascii_hexdigit)
        .map(|c| c.to_ascii_lowercase())
        .take(SNI_HASH_DIGITS)
        .collect();
    format!("{name}-{hash}.{}", normalize(suffix.trim_start_matches('.')))
}

/// [`sni_name`] for a CCID `label:hash`; `None` when the CCID has no `:`.
pub fn sni_name_for_ccid(ccid: &str, suffix: &str) -> Option<String> {
    let (label, hash) = ccid.rsplit_once(':')?;
    Some(sni_name(label, hash, suffix))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn sni_names_are_single_dns_labels_under_the_suffix() {
        assert_eq!(sni_name("basic_1.0", HASH, "cc.example.com"), "basic-1-0-9f86d081884c.cc.example.com");
        assert_eq!(sni_name("My+CC", &HASH.to_uppercase(), ".CC.Example.com."), "my-cc-9f86d081884c.cc.example.com");
        assert_eq!(sni_name("_", HASH, "x"), "cc-9f86d081884c.x");
        let long = sni_name(&"a".repeat(100), HASH, "x");
        assert_eq!(long.split('.').next().unwrap().len(), 63);
        let cut_at_dash = sni_name(&format!("{}_b", "a".repeat(SNI_LABEL_MAX - 1)), HASH, "x");
        assert!(!cut_at_dash.contains("--"), "{cut_at_dash}");
    }

    #[test]
    fn sni_name_for_ccid_splits_at_the_last_colon() {
        let ccid = format!("basic_1.0:{HASH}");
        assert_eq!(sni_name_for_ccid(&ccid, "cc.test").unwrap(), "basic-1-0-9f86d081884c.cc.test");
        assert!(sni_name_for_ccid("nocolon", "cc.test").is_none());
    }
}
