//! Deciding, at accept time, which chaincode a peer connection is for (`docs/architecture.md`, "Routing peers to
//! chaincodes").
//!
//! The peer sends nothing before the chaincode's REGISTER, so the route must come from how it dialled: the port
//! (one listener per chaincode, plaintext or TLS) or, on one shared port under mutual TLS, the TLS server name the
//! peer sends when connection.json has `domain` and `client_auth_required` (`docs/fabric-protocol.md` §10 item 13).
//!
//! [`RoutedIncoming`] turns a listener into a stream for `tonic::transport::Server::serve_with_incoming` (and for the
//! admin API's server). Each connection carries a [`RouteInfo`], which tonic copies into every request's extensions.
//! Every accepted socket is admitted under the listener's [`ListenerPolicy`] ([`crate::connections`]: budgets,
//! eviction of the oldest pending connection, handshake and idle deadlines), and handshakes run in their own tasks, so
//! a slow or hostile client never delays the others. Refusals are logged with the client's address and the reason,
//! rate-limited per listener (`log_throttle.rs`).

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

use crate::connections::{ConnectionActivity, Expiry, Guarded, ListenerPolicy, Registration};
use crate::limits;
use crate::log_throttle::LogThrottle;
use crate::routes::normalize;

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
    /// The connection's streams, as its listener's policy counts them: a server marks each stream it serves with
    /// [`ConnectionActivity::stream`], or the connection is closed as pending or idle.
    pub activity: ConnectionActivity,
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
    #[error("TLS handshake not finished within {0:?} of accept")]
    Timeout(std::time::Duration),
    #[error("closed during the TLS handshake: {0}")]
    Closed(Expiry),
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
    /// Starts accepting on `listener` under the default [`ListenerPolicy`] (must be called inside a tokio runtime).
    pub fn new(listener: TcpListener, route: Route) -> io::Result<RoutedIncoming> {
        RoutedIncoming::with_policy(listener, route, ListenerPolicy::default())
    }

    /// Starts accepting on `listener`, admitting connections under `policy`.
    pub fn with_policy(listener: TcpListener, route: Route, policy: ListenerPolicy) -> io::Result<RoutedIncoming> {
        let local_addr = listener.local_addr()?;
        let (tx, connections) = mpsc::channel(HANDOVER_BUFFER);
        let refusals = Arc::new(RefusalLog { listener: local_addr, throttle: LogThrottle::new() });
        let accept_loop = tokio::spawn(accept_loop(listener, Arc::new(route), policy.register(), refusals, tx));
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

/// One listener's log of refused and evicted connections, rate-limited: a flood is seen, with addresses and reasons,
/// without filling the disk.
struct RefusalLog {
    listener: SocketAddr,
    throttle: LogThrottle,
}

impl RefusalLog {
    fn warn(&self, remote: SocketAddr, what: impl std::fmt::Display) {
        if let Some(suppressed) = self.throttle.allow() {
            tracing::warn!(listener = %self.listener, %remote, suppressed, "{what}");
        }
    }

    fn info(&self, remote: SocketAddr, what: impl std::fmt::Display) {
        if let Some(suppressed) = self.throttle.allow() {
            tracing::info!(listener = %self.listener, %remote, suppressed, "{what}");
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    route: Arc<Route>,
    registration: Registration,
    refusals: Arc<RefusalLog>,
    tx: mpsc::Sender<io::Result<RoutedConn>>,
) {
    // Dropping the set (when this task is aborted) aborts the handshakes still running.
    let mut handshakes = JoinSet::new();
    loop {
        tokio::select! {
            Some(_) = handshakes.join_next(), if !handshakes.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((tcp, remote)) => match registration.admit(remote) {
                    Ok(admission) => {
                        for evicted in admission.evicted {
                            refusals.warn(evicted, format_args!(
                                "pending connection evicted to admit {remote}: too many connections without a stream"
                            ));
                        }
                        // gRPC exchanges many small messages; Nagle's algorithm with delayed ACKs would add tens of
                        // milliseconds each.
                        let _ = tcp.set_nodelay(true);
                        let io = Guarded::new(tcp, admission.admitted);
                        handshakes.spawn(hand_over(io, remote, route.clone(), tx.clone(), refusals.clone()));
                    }
                    Err(e) => refusals.warn(remote, format_args!("connection refused: {e}")),
                },
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

async fn hand_over(
    io: Guarded<TcpStream>,
    remote: SocketAddr,
    route: Arc<Route>,
    tx: mpsc::Sender<io::Result<RoutedConn>>,
    refusals: Arc<RefusalLog>,
) {
    let activity = io.activity();
    match route_connection(io, remote, &route).await {
        Ok(conn) => {
            tracing::debug!(?remote, ccid = ?conn.info.ccid, sni = ?conn.info.sni, "connection routed");
            // Failing means the server is gone; the connection is dropped with it.
            let _ = tx.send(Ok(conn)).await;
        }
        Err(refused) => log_refusal(&refusals, remote, &activity, refused),
    }
}

/// Says why a connection was dropped before the server got it, at a level that fits who is likely at fault.
fn log_refusal(refusals: &RefusalLog, remote: SocketAddr, activity: &ConnectionActivity, refused: Refused) {
    // A failed read may be the host closing the connection: say so rather than "handshake failed".
    let refused = match (refused, activity.expiry()) {
        (Refused::Handshake(_), Some(expiry)) => Refused::Closed(expiry),
        (refused, _) => refused,
    };
    match refused {
        // Logged when evicted, with the newcomer's address.
        Refused::Closed(Expiry::Evicted) => tracing::debug!(?remote, "connection dropped: {refused}"),
        // Silent or slow clients: scanners, or a flood.
        Refused::Timeout(_) | Refused::Closed(_) => refusals.info(remote, format_args!("connection closed: {refused}")),
        // Health probes connect and close without a word, all day.
        Refused::Handshake(_) if !activity.heard() => tracing::debug!(?remote, "connection dropped: {refused}"),
        // A client that spoke and was refused (no or wrong client certificate, wrong EKU, unknown CA, no or unknown
        // server name): worth an operator's eye.
        _ => refusals.warn(remote, format_args!("connection refused: {refused}")),
    }
}

async fn route_connection(io: Guarded<TcpStream>, remote: SocketAddr, route: &Route) -> Result<RoutedConn, Refused> {
    let remote_addr = Some(remote);
    let activity = io.activity();
    let deadline = (io.handshake_deadline(), io.handshake_timeout());
    match route {
        Route::Plain { ccid } => Ok(RoutedConn {
            io: Io::Plain(io),
            info: RouteInfo { ccid: ccid.clone(), remote_addr, sni: None, activity },
        }),
        Route::Tls { ccid, config } => {
            let tls = with_deadline(deadline, TlsAcceptor::from(config.clone()).accept(io)).await?;
            let sni = tls.get_ref().1.server_name().map(normalize);
            let info = RouteInfo { ccid: ccid.clone(), remote_addr, sni, activity };
            Ok(RoutedConn { io: Io::Tls(Box::new(tls)), info })
        }
        Route::Sni { resolver, config } => {
            with_deadline(deadline, async {
                let start = LazyConfigAcceptor::new(rustls::server::Acceptor::default(), io).await?;
                let sni = match start.client_hello().server_name() {
                    Some(name) => normalize(name),
                    None => return Ok(Err(Refused::NoSni)),
                };
                let Some(ccid) = resolver(&sni) else { return Ok(Err(Refused::UnknownSni(sni))) };
                let tls = start.into_stream(config.clone()).await?;
                let info = RouteInfo { ccid: Some(ccid), remote_addr, sni: Some(sni), activity };
                Ok(Ok(RoutedConn { io: Io::Tls(Box::new(tls)), info }))
            })
            .await?
        }
    }
}

/// The handshake must be over by the connection's deadline; its socket fails reads after that anyway, and this also
/// covers a handshake that waits on anything else.
async fn with_deadline<T>(
    (deadline, timeout): (tokio::time::Instant, std::time::Duration),
    handshake: impl Future<Output = io::Result<T>>,
) -> Result<T, Refused> {
    match tokio::time::timeout_at(deadline, handshake).await {
        Ok(result) => result.map_err(Refused::Handshake),
        Err(_) => Err(Refused::Timeout(timeout)),
    }
}

/// One accepted connection, plaintext or TLS, with its route.
pub struct RoutedConn {
    io: Io,
    info: RouteInfo,
}

enum Io {
    Plain(Guarded<TcpStream>),
    Tls(Box<TlsStream<Guarded<TcpStream>>>),
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
