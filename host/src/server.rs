//! The tonic listeners: `protos.Chaincode/Connect`, which the peer dials. Each accepted stream becomes a
//! session for the chaincode that the connection is routed to (its port, or its TLS server name on a shared
//! port: [`crate::sni`]).

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};
use wasmcc_proto::protos::chaincode_server::{Chaincode, ChaincodeServer};
use wasmcc_proto::protos::ChaincodeMessage;

use crate::connections::ListenerPolicy;
use crate::engine::WasmEngine;
use crate::executor::LoadedChaincode;
use crate::limits;
use crate::session::{Session, SessionError};
use crate::sni::{Route, RouteInfo, RoutedIncoming, SniResolver};

/// Finds the chaincode installed under a CCID, now (a registry's live map).
pub type ChaincodeLookup = Arc<dyn Fn(&str) -> Option<Arc<LoadedChaincode>> + Send + Sync>;

/// Serves `protos.Chaincode/Connect`: the chaincode each connection's route names.
#[derive(Clone)]
pub struct ChaincodeService {
    engine: Arc<WasmEngine>,
    lookup: ChaincodeLookup,
    /// On a plaintext shared port: the CCID of the host name in each stream's `:authority`.
    by_authority: Option<SniResolver>,
}

/// The HTTP/2 `:authority` of a request (what the peer dialled: connection.json's `address`), kept by
/// [`Listener::serve_until`] for the service, which tonic otherwise does not hand the request's URI.
#[derive(Clone, Debug)]
struct Authority(String);

impl ChaincodeService {
    /// Serves the chaincode each connection is routed to (see [`crate::sni`]), as `lookup` finds it when the
    /// stream opens; a route to nothing installed gets an error at once, never a REGISTER.
    pub fn routed(engine: Arc<WasmEngine>, lookup: ChaincodeLookup) -> Self {
        ChaincodeService { engine, lookup, by_authority: None }
    }

    /// Routes streams of connections that name no chaincode (a plaintext shared port) by their `:authority`: its
    /// host, as `resolver` maps it to a CCID.
    pub fn by_authority(mut self, resolver: SniResolver) -> Self {
        self.by_authority = Some(resolver);
        self
    }

    /// The tonic service with Fabric's 100 MiB message limits in both directions.
    pub fn into_server(self) -> ChaincodeServer<Self> {
        ChaincodeServer::new(self)
            .max_decoding_message_size(limits::GRPC_MAX_MESSAGE_BYTES)
            .max_encoding_message_size(limits::GRPC_MAX_MESSAGE_BYTES)
    }

    fn resolve(&self, route: Option<&RouteInfo>, authority: Option<&str>) -> Result<Arc<LoadedChaincode>, Status> {
        let by_name;
        let ccid = match (route.and_then(|r| r.ccid.as_deref()), &self.by_authority) {
            (Some(ccid), _) => ccid,
            (None, Some(resolver)) => {
                let Some(authority) = authority else {
                    return Err(Status::failed_precondition("the stream names no :authority to route by"));
                };
                let host = host_of(authority);
                by_name = resolver(&host).ok_or_else(|| {
                    Status::not_found(format!(
                        "no chaincode is served under the name {host:?} on this shared port (connection.json's \
                         address must be the chaincode's <label>-<hash12>.<suffix>:<port>)"
                    ))
                })?;
                &by_name
            }
            (None, None) => return Err(Status::failed_precondition("this connection is not routed to any chaincode")),
        };
        let chaincode =
            (self.lookup)(ccid).ok_or_else(|| Status::not_found(format!("chaincode {ccid} is not installed")))?;
        if chaincode.retired.is_cancelled() {
            return Err(Status::unavailable(format!("chaincode {} is being removed", chaincode.ccid)));
        }
        Ok(chaincode)
    }
}

type MessageStream = Pin<Box<dyn Stream<Item = Result<ChaincodeMessage, Status>> + Send>>;

#[tonic::async_trait]
impl Chaincode for ChaincodeService {
    type ConnectStream = MessageStream;

    async fn connect(
        &self,
        request: Request<Streaming<ChaincodeMessage>>,
    ) -> Result<Response<Self::ConnectStream>, Status> {
        let route = request.extensions().get::<RouteInfo>().cloned();
        let peer = route.as_ref().and_then(|r| r.remote_addr).or_else(|| request.remote_addr());
        let authority = request.extensions().get::<Authority>().map(|a| a.0.clone());
        // The name the stream was routed by: its TLS server name, or its `:authority` on a plaintext shared port.
        let routed_by_name = route.as_ref().is_some_and(|r| r.ccid.is_none()) && self.by_authority.is_some();
        let sni = route.as_ref().and_then(|r| r.sni.clone()).or_else(|| authority.clone().filter(|_| routed_by_name));
        let chaincode = match self.resolve(route.as_ref(), authority.as_deref()) {
            Ok(chaincode) => chaincode,
            Err(status) => {
                tracing::info!(?peer, ?sni, "stream refused: {}", status.message());
                return Err(status);
            }
        };
        // The connection has a stream open until the response stream is dropped (stream ended or reset): it is never
        // closed as pending or idle meanwhile, however quiet the peer.
        let open = route.as_ref().map(|r| r.activity.stream());
        let inbound = request.into_inner();
        let (tx, rx) = mpsc::channel(limits::OUTBOUND_BUFFER);
        let (end_tx, end_rx) = oneshot::channel::<Status>();
        let ccid = chaincode.ccid.clone();
        let session = Session::new(self.engine.clone(), chaincode, tx);
        tokio::spawn(async move {
            tracing::info!(%ccid, ?peer, ?sni, "peer stream opened");
            match session.run(inbound).await {
                Ok(()) => tracing::info!(%ccid, ?peer, "peer stream closed by the peer"),
                Err(e) => {
                    // A peer going away, a removal (audit-logged) or a host stopping is not a fault: one line, with
                    // the gRPC code of a broken stream rather than its error chain.
                    match &e {
                        SessionError::Transport(status) => {
                            tracing::info!(%ccid, ?peer, code = ?status.code(), "peer stream closed: the peer went away")
                        }
                        e if e.is_routine() => tracing::info!(%ccid, ?peer, "peer stream closed: {e}"),
                        e => tracing::warn!(%ccid, ?peer, "peer stream ended: {e}"),
                    }
                    let _ = end_tx.send(e.status());
                }
            }
        });
        let outbound = ReceiverStream::new(rx).map(move |message| {
            let _open = &open;
            Ok(message)
        });
        // The session's messages, then, when the host ended the stream, its reason as a non-OK status.
        let ending = futures::stream::once(end_rx).filter_map(|end| futures::future::ready(end.ok().map(Err)));
        Ok(Response::new(Box::pin(outbound.chain(ending))))
    }
}

/// Binds and listens on `addr` as tokio's `TcpListener::bind` does (address reuse, a backlog of 1024), without
/// awaiting: a registry binds a chaincode's port when it chooses it and holds the socket until it serves there.
/// Must run inside the runtime.
pub fn bind_port(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// A bound listener, so callers learn the real address (port 0 picks a free one) before serving.
pub struct Listener {
    incoming: RoutedIncoming,
    service: ChaincodeService,
}

impl Listener {
    /// A plaintext listener for one chaincode, under the default policy: the benchmarks' way to measure the engine
    /// and the protocol without a registry.
    pub fn bind_one(
        addr: SocketAddr,
        engine: Arc<WasmEngine>,
        chaincode: Arc<LoadedChaincode>,
    ) -> std::io::Result<Self> {
        let ccid = chaincode.ccid.to_string();
        let lookup: ChaincodeLookup = Arc::new(move |asked| (asked == &*chaincode.ccid).then(|| chaincode.clone()));
        let service = ChaincodeService::routed(engine, lookup);
        Self::bind_route(addr, Route::Plain { ccid: Some(ccid) }, service, ListenerPolicy::default())
    }

    /// A listener whose connections are routed as `route` says (plaintext, TLS for one CCID, or SNI) and admitted
    /// under `policy`.
    pub fn bind_route(
        addr: SocketAddr,
        route: Route,
        service: ChaincodeService,
        policy: ListenerPolicy,
    ) -> std::io::Result<Self> {
        Self::on(bind_port(addr)?, route, service, policy)
    }

    /// A listener on a socket bound already ([`bind_port`]), routed and admitted as for [`Listener::bind_route`].
    pub fn on(
        listener: TcpListener,
        route: Route,
        service: ChaincodeService,
        policy: ListenerPolicy,
    ) -> std::io::Result<Self> {
        Ok(Listener { incoming: RoutedIncoming::with_policy(listener, route, policy)?, service })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.incoming.local_addr())
    }

    /// Serves until the process ends or the future is dropped.
    pub async fn serve(self) -> Result<(), tonic::transport::Error> {
        self.serve_until(std::future::pending()).await
    }

    /// Serves until `stop` completes; streams still open then are closed.
    pub async fn serve_until(self, stop: impl std::future::Future<Output = ()>) -> Result<(), tonic::transport::Error> {
        let keep_authority =
            tower::util::MapRequestLayer::new(|mut request: axum::http::Request<tonic::body::Body>| {
                if let Some(authority) = request.uri().authority().map(|a| Authority(a.as_str().to_owned())) {
                    request.extensions_mut().insert(authority);
                }
                request
            });
        tonic::transport::Server::builder()
            .layer(keep_authority)
            .initial_stream_window_size(limits::STREAM_WINDOW_BYTES)
            .initial_connection_window_size(limits::CONNECTION_WINDOW_BYTES)
            .max_concurrent_streams(limits::MAX_STREAMS_PER_CONNECTION)
            .http2_keepalive_interval(Some(limits::HTTP2_KEEPALIVE_INTERVAL))
            .http2_keepalive_timeout(Some(limits::HTTP2_KEEPALIVE_TIMEOUT))
            .add_service(self.service.into_server())
            .serve_with_incoming_shutdown(self.incoming, stop)
            .await
    }
}

/// The host of an `:authority` (`host:port`, `[v6]:port` or a bare host), lowercase, without a trailing dot: how
/// routes are named.
fn host_of(authority: &str) -> String {
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => authority,
    };
    host.trim_start_matches('[').trim_end_matches(']').trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod authority_tests {
    use super::host_of;

    #[test]
    fn the_host_of_an_authority_is_what_routes() {
        assert_eq!(host_of("Counter-0a1B.chaincodes.wasmcc:9200"), "counter-0a1b.chaincodes.wasmcc");
        assert_eq!(host_of("cc-1.example.:9200"), "cc-1.example");
        assert_eq!(host_of("cc-1.example"), "cc-1.example");
        assert_eq!(host_of("[::1]:9200"), "::1");
    }
}
