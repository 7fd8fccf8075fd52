//! The tonic listeners: `protos.Chaincode/Connect`, which the peer dials. Each accepted stream becomes a
//! [`Session`] for the chaincode that the listener routes to.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::{Request, Response, Status, Streaming};
use wasmcc_proto::protos::chaincode_server::{Chaincode, ChaincodeServer};
use wasmcc_proto::protos::ChaincodeMessage;

use crate::engine::WasmEngine;
use crate::executor::LoadedChaincode;
use crate::limits;
use crate::session::Session;

/// Outgoing messages buffered per stream before a sender waits: enough for a burst of concurrent transactions
/// without letting a stalled peer pile up unbounded memory.
const OUTBOUND_BUFFER: usize = 256;

/// Serves one chaincode on one listener.
#[derive(Clone)]
pub struct ChaincodeService {
    engine: Arc<WasmEngine>,
    chaincode: Arc<LoadedChaincode>,
}

impl ChaincodeService {
    pub fn new(engine: Arc<WasmEngine>, chaincode: Arc<LoadedChaincode>) -> Self {
        ChaincodeService { engine, chaincode }
    }

    /// The tonic service with Fabric's 100 MiB message limits in both directions.
    pub fn into_server(self) -> ChaincodeServer<Self> {
        ChaincodeServer::new(self)
            .max_decoding_message_size(limits::GRPC_MAX_MESSAGE_BYTES)
            .max_encoding_message_size(limits::GRPC_MAX_MESSAGE_BYTES)
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
        let peer = request.remote_addr();
        let inbound = request.into_inner();
        let (tx, rx) = mpsc::channel(OUTBOUND_BUFFER);
        let session = Session::new(self.engine.clone(), self.chaincode.clone(), tx);
        let ccid = self.chaincode.ccid.clone();
        tokio::spawn(async move {
            tracing::info!(%ccid, ?peer, "peer connected");
            match session.run(inbound).await {
                Ok(()) => tracing::info!(%ccid, ?peer, "peer closed the stream"),
                Err(e) => tracing::warn!(%ccid, ?peer, "session ended: {e}"),
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx).map(Ok))))
    }
}

/// A bound listener, so callers learn the real address (port 0 picks a free one) before serving.
pub struct Listener {
    listener: TcpListener,
    service: ChaincodeService,
}

impl Listener {
    pub async fn bind(addr: SocketAddr, service: ChaincodeService) -> std::io::Result<Self> {
        Ok(Listener { listener: TcpListener::bind(addr).await?, service })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until the process ends or the future is dropped.
    pub async fn serve(self) -> Result<(), tonic::transport::Error> {
        self.serve_until(std::future::pending()).await
    }

    /// Serves until `stop` completes; streams still open then are closed.
    pub async fn serve_until(self, stop: impl std::future::Future<Output = ()>) -> Result<(), tonic::transport::Error> {
        tonic::transport::Server::builder()
            .add_service(self.service.into_server())
            .serve_with_incoming_shutdown(TcpListenerStream::new(self.listener), stop)
            .await
    }
}
