//! Fabric's Gateway service (`gateway.Gateway`) in front of the simulated peer: what Fabric's client SDKs
//! (fabric-gateway) talk to. One organisation ([`Msp`]), one peer, the chaincodes it is connected to.
//!
//! Served so far: **Evaluate** — the proposal's creator is checked as an endorser checks it, the proposal runs on
//! the chaincode it names without committing, and errors carry the gRPC codes, texts and `ErrorDetail`s Fabric's
//! gateway gives (`evaluate call to endorser returned error: chaincode response 500, …`). Endorse, Submit,
//! CommitStatus and ChaincodeEvents answer UNIMPLEMENTED.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, RwLock};

use futures::Stream;
use prost::Message;
use tonic::{Code, Request, Response, Status};
use wasmcc_proto::gateway::gateway_server::{Gateway, GatewayServer};
use wasmcc_proto::gateway::{
    ChaincodeEventsResponse, CommitStatusResponse, EndorseRequest, EndorseResponse, ErrorDetail, EvaluateRequest,
    EvaluateResponse, SignedChaincodeEventsRequest, SignedCommitStatusRequest, SubmitRequest, SubmitResponse,
};

use super::connection::PeerConnection;
use super::msp::Msp;
use super::proposal::read_proposal;
use super::tx::TxOutcome;
use super::SimError;

/// The gateway of one peer of one organisation.
#[derive(Clone)]
pub struct GatewayService {
    msp: Arc<Msp>,
    /// The peer's address, as `ErrorDetail`s name the endpoint that failed.
    address: String,
    chaincodes: Arc<RwLock<HashMap<String, PeerConnection>>>,
}

impl GatewayService {
    pub fn new(msp: Arc<Msp>, address: impl Into<String>) -> Self {
        GatewayService { msp, address: address.into(), chaincodes: Arc::default() }
    }

    /// Makes a chaincode callable by its name (the connection's namespace), replacing an earlier connection.
    pub fn add_chaincode(&self, connection: PeerConnection) {
        let name = connection.namespace().to_owned();
        self.chaincodes.write().expect("chaincodes lock").insert(name, connection);
    }

    /// The tonic service to serve.
    pub fn into_server(self) -> GatewayServer<Self> {
        GatewayServer::new(self)
    }

    /// Fabric's error for an endorser's failure: `<what> returned error: <message>`, with one `ErrorDetail` naming
    /// this peer.
    fn endorser_error(&self, code: Code, what: &str, message: String) -> Status {
        let detail = ErrorDetail {
            address: self.address.clone(),
            msp_id: self.msp.mspid().to_owned(),
            message: message.clone(),
        };
        let text = format!("{what} returned error: {message}");
        let any = prost_types::Any {
            type_url: "type.googleapis.com/gateway.ErrorDetail".into(),
            value: detail.encode_to_vec(),
        };
        let status =
            wasmcc_proto::rpc::Status { code: code as i32, message: text.clone(), details: vec![any] }.encode_to_vec();
        Status::with_details(code, text, status.into())
    }
}

type EventStream = Pin<Box<dyn Stream<Item = Result<ChaincodeEventsResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Gateway for GatewayService {
    async fn evaluate(&self, request: Request<EvaluateRequest>) -> Result<Response<EvaluateResponse>, Status> {
        const WHAT: &str = "evaluate call to endorser";
        let request = request.into_inner();
        let signed = request.proposed_transaction.ok_or_else(|| Status::invalid_argument("a proposal is required"))?;
        let read = read_proposal(&signed).map_err(|e| Status::invalid_argument(e.to_string()))?;
        if let Err(refused) = self.msp.check_proposal(&signed) {
            let message = format!("error validating proposal: {refused}");
            return Err(self.endorser_error(Code::FailedPrecondition, WHAT, message));
        }
        let connection = self.chaincodes.read().expect("chaincodes lock").get(&read.chaincode_name).cloned();
        let Some(connection) = connection else {
            let message = format!("chaincode {} is not installed on channel {}", read.chaincode_name, read.channel_id);
            return Err(self.endorser_error(Code::FailedPrecondition, WHAT, message));
        };
        let result = match connection.execute_proposal(signed, false).await {
            Ok(result) => result,
            Err(SimError::InvalidInvocation { reason, .. }) => {
                return Err(self.endorser_error(Code::FailedPrecondition, WHAT, reason));
            }
            Err(e) => return Err(self.endorser_error(Code::Unavailable, WHAT, e.to_string())),
        };
        match result.outcome {
            TxOutcome::Completed(response) if response.status < 400 => {
                Ok(Response::new(EvaluateResponse { result: Some(response) }))
            }
            TxOutcome::Completed(response) => {
                let message = format!("chaincode response {}, {}", response.status, response.message);
                Err(self.endorser_error(Code::Unknown, WHAT, message))
            }
            TxOutcome::Error(text) => {
                let message = format!("error in simulation: transaction returned with failure: {text}");
                Err(self.endorser_error(Code::Unknown, WHAT, message))
            }
        }
    }

    async fn endorse(&self, _: Request<EndorseRequest>) -> Result<Response<EndorseResponse>, Status> {
        Err(Status::unimplemented("this gateway evaluates only, for now: Endorse is not served"))
    }

    async fn submit(&self, _: Request<SubmitRequest>) -> Result<Response<SubmitResponse>, Status> {
        Err(Status::unimplemented("this gateway evaluates only, for now: Submit is not served"))
    }

    async fn commit_status(
        &self,
        _: Request<SignedCommitStatusRequest>,
    ) -> Result<Response<CommitStatusResponse>, Status> {
        Err(Status::unimplemented("this gateway evaluates only, for now: CommitStatus is not served"))
    }

    type ChaincodeEventsStream = EventStream;

    async fn chaincode_events(
        &self,
        _: Request<SignedChaincodeEventsRequest>,
    ) -> Result<Response<Self::ChaincodeEventsStream>, Status> {
        Err(Status::unimplemented("this gateway evaluates only, for now: ChaincodeEvents is not served"))
    }
}
