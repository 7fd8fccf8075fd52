//! The peer's `protos.ChaincodeSupport` server, for launcher mode: the chaincode side dials the peer and opens
//! `Register` (`docs/fabric-protocol.md` §1, §10 items 14–15). After the dial, the conversation is the one of
//! [`PeerSim::connect`]: the same handshake code runs on the accepted stream and yields the same [`PeerConnection`].
//!
//! Like the Go peer, the server sends its response headers only with its first message (REGISTERED), so a client
//! that waits for headers before sending REGISTER deadlocks here exactly as it would against Fabric.

use std::net::SocketAddr;
use std::pin::Pin;

use futures::{Stream, StreamExt};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_stream::wrappers::{TcpListenerStream, UnboundedReceiverStream};
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};
use tonic::{Request, Response, Status, Streaming};
use wasmcc_proto::protos::chaincode_support_server::{ChaincodeSupport, ChaincodeSupportServer};
use wasmcc_proto::protos::ChaincodeMessage;

use super::connection::{PeerConnection, Termination};
use super::peer::{ConnectOptions, PeerSim, MAX_MESSAGE_SIZE};
use super::SimError;

/// TLS for the peer's chaincode listener (PEM). With `client_ca`, a client certificate from it is required, as on a
/// peer with TLS on (the peer hands each launch a fresh client certificate from that CA).
#[derive(Clone, Debug)]
pub struct SupportTls {
    pub cert: String,
    pub key: String,
    pub client_ca: Option<String>,
}

/// A `Register` stream accepted by the server and waiting for [`SupportServer::accept`].
struct Pending {
    inbound: Streaming<ChaincodeMessage>,
    out: mpsc::UnboundedSender<ChaincodeMessage>,
    termination: Termination,
    /// Releases the response headers once the handshake has been answered.
    headers: oneshot::Sender<()>,
}

/// The listening server; dropping it stops listening (streams already accepted live on).
pub struct SupportServer {
    sim: PeerSim,
    streams: mpsc::UnboundedReceiver<Pending>,
    task: JoinHandle<()>,
}

impl Drop for SupportServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl PeerSim {
    /// Serves `protos.ChaincodeSupport` on `addr` (port 0 picks a free one), plaintext or with `tls`. Streams are
    /// handed out by [`SupportServer::accept`].
    pub async fn serve_chaincode_support(
        &self,
        addr: SocketAddr,
        tls: Option<SupportTls>,
    ) -> Result<(SocketAddr, SupportServer), SimError> {
        let serve_error = |reason: String| SimError::Serve { addr: addr.to_string(), reason };
        let listener = TcpListener::bind(addr).await.map_err(|e| serve_error(e.to_string()))?;
        let local = listener.local_addr().map_err(|e| serve_error(e.to_string()))?;
        let mut server = Server::builder()
            .initial_stream_window_size(super::peer::PEER_WINDOW_BYTES)
            .initial_connection_window_size(super::peer::PEER_WINDOW_BYTES);
        if let Some(tls) = tls {
            let mut config = ServerTlsConfig::new().identity(Identity::from_pem(tls.cert, tls.key));
            if let Some(ca) = tls.client_ca {
                config = config.client_ca_root(Certificate::from_pem(ca));
            }
            server = server.tls_config(config).map_err(|e| serve_error(e.to_string()))?;
        }
        let (accepted, streams) = mpsc::unbounded_channel();
        let service = ChaincodeSupportServer::new(SupportService { accepted })
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE);
        let router = server.add_service(service);
        let task = tokio::spawn(async move {
            if let Err(e) = router.serve_with_incoming(TcpListenerStream::new(listener)).await {
                tracing::warn!("ChaincodeSupport server on {local} stopped: {e}");
            }
        });
        Ok((local, SupportServer { sim: self.clone(), streams, task }))
    }
}

impl SupportServer {
    /// Takes the next `Register` stream and runs the peer's handshake for `ccid`, with default options.
    pub async fn accept(&mut self, ccid: &str) -> Result<PeerConnection, SimError> {
        self.accept_with(ccid, ConnectOptions::default()).await
    }

    /// Takes the next `Register` stream (waiting up to `opts.startup_timeout` for one) and runs the handshake: a
    /// REGISTER naming anything but `ccid` gets no answer, as from a peer that is not launching that CCID.
    pub async fn accept_with(&mut self, ccid: &str, opts: ConnectOptions) -> Result<PeerConnection, SimError> {
        let deadline = Instant::now() + opts.startup_timeout;
        let pending = match tokio::time::timeout_at(deadline, self.streams.recv()).await {
            Err(_elapsed) => return Err(SimError::StartupTimeout(opts.startup_timeout)),
            Ok(None) => return Err(SimError::Handshake("the ChaincodeSupport server stopped".to_owned())),
            Ok(Some(pending)) => pending,
        };
        let Pending { inbound, out, termination, headers } = pending;
        let result = self.sim.accept_stream(inbound, ccid, opts, out, termination, deadline).await;
        let _ = headers.send(());
        result
    }
}

#[derive(Clone)]
struct SupportService {
    accepted: mpsc::UnboundedSender<Pending>,
}

type MessageStream = Pin<Box<dyn Stream<Item = Result<ChaincodeMessage, Status>> + Send>>;

#[tonic::async_trait]
impl ChaincodeSupport for SupportService {
    type RegisterStream = MessageStream;

    async fn register(
        &self,
        request: Request<Streaming<ChaincodeMessage>>,
    ) -> Result<Response<Self::RegisterStream>, Status> {
        let (out, out_rx) = mpsc::unbounded_channel();
        let termination = Termination::new();
        let outbound = UnboundedReceiverStream::new(out_rx).take_until(termination.wait()).map(Ok);
        let (headers, headers_sent) = oneshot::channel();
        let pending = Pending { inbound: request.into_inner(), out, termination, headers };
        if self.accepted.send(pending).is_err() {
            return Err(Status::unavailable("the simulated peer is not accepting chaincodes"));
        }
        // Go's gRPC server sends headers with the first message; the peer's first message is REGISTERED.
        let _ = headers_sent.await;
        Ok(Response::new(Box::pin(outbound)))
    }
}
