//! Fabric's Gateway service (`gateway.Gateway`) in front of the simulated peer: what Fabric's client SDKs
//! (fabric-gateway) talk to. One organisation ([`Msp`]), one peer, the chaincodes it is connected to.
//!
//! - **Evaluate**: the proposal's creator is checked as an endorser checks it, the proposal runs on the chaincode
//!   it names without committing, and errors carry the gRPC codes, texts and `ErrorDetail`s Fabric's gateway gives
//!   (`evaluate call to endorser returned error: chaincode response 500, …`).
//! - **Endorse** runs it the same way and answers the prepared transaction (the envelope a client signs), endorsed
//!   by the organisation's peer identity; **Submit** checks the client's signature, orders the transaction in a
//!   block of its own and validates it as a committer does (its endorsements, then MVCC: [`ledger`]);
//!   **CommitStatus** answers its validation code and block. The write set is kept here between Endorse and Submit.
//! - **ChaincodeEvents** streams a chaincode's committed events ([`events`]).
//!
//! The blocks live in memory, or in a [`block_log`] that survives restarts.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use prost::Message;
use sha2::{Digest, Sha256};
use tonic::{Code, Request, Response, Status};
use wasmcc_proto::common::{Envelope, Payload, SignatureHeader};
use wasmcc_proto::gateway::gateway_server::{Gateway, GatewayServer};
use wasmcc_proto::gateway::{
    ChaincodeEventsRequest, CommitStatusRequest, CommitStatusResponse, EndorseRequest, EndorseResponse, ErrorDetail,
    EvaluateRequest, EvaluateResponse, SignedChaincodeEventsRequest, SignedCommitStatusRequest, SubmitRequest,
    SubmitResponse,
};
use wasmcc_proto::protos::{
    ChaincodeAction, ChaincodeActionPayload, ChaincodeEndorsedAction, ChaincodeEvent, ChaincodeId,
    ChaincodeProposalPayload, Endorsement, ProposalResponsePayload, SignedProposal, Transaction, TransactionAction,
    TxValidationCode,
};

use super::connection::PeerConnection;
use super::msp::Msp;
use super::proposal::{read_proposal, Identity, ReadProposal};
use super::tx::{TxOutcome, TxResult};
use super::{PeerSim, SimError};
use crate::world::rwset::TxRwSet;
use crate::world::CommitInfo;
use ledger::{Ledger, Submitted};

mod block_log;
mod client;
mod events;
mod ledger;
mod pending;

pub use block_log::BlockLogError;
pub use client::{error_details, Call, Committed, GatewayCaller};

/// The gateway of one peer of one organisation.
#[derive(Clone)]
pub struct GatewayService {
    msp: Arc<Msp>,
    /// The peer's own identity, issued by the MSP: it signs endorsements.
    peer: Arc<Identity>,
    /// The peer's address, as `ErrorDetail`s name the endpoint that failed.
    address: String,
    chaincodes: Arc<RwLock<HashMap<String, PeerConnection>>>,
    /// Endorsed and not yet submitted, by txid.
    endorsed: Arc<Mutex<pending::Pending<Endorsed>>>,
    /// What was submitted, and the events of what committed.
    ledger: Arc<Ledger>,
}

/// What Submit needs of an endorsed transaction.
struct Endorsed {
    channel_id: String,
    rwset: TxRwSet,
    info: CommitInfo,
    event: Option<ChaincodeEvent>,
}

impl GatewayService {
    /// The gateway of `address`, a peer of `msp` (which issues the peer's identity now), committing into `world`'s
    /// state and keeping its blocks in memory.
    pub fn new(msp: Arc<Msp>, address: impl Into<String>, world: PeerSim) -> Result<Self, SimError> {
        Self::with_ledger(msp, address.into(), Ledger::in_memory(world))
    }

    /// As [`GatewayService::new`], with the blocks kept in the log at `block_log`: what it holds already is
    /// replayed into `world` (which should be empty) first, and every later commit is on disk before Submit answers.
    pub fn with_block_log(
        msp: Arc<Msp>,
        address: impl Into<String>,
        world: PeerSim,
        block_log: &Path,
    ) -> Result<Self, SimError> {
        Self::with_ledger(msp, address.into(), Ledger::open(world, block_log)?)
    }

    fn with_ledger(msp: Arc<Msp>, address: String, ledger: Ledger) -> Result<Self, SimError> {
        let peer = Arc::new(msp.issue("peer0", "peer", &[])?);
        Ok(GatewayService {
            msp,
            peer,
            address,
            chaincodes: Arc::default(),
            endorsed: Arc::default(),
            ledger: Arc::new(ledger),
        })
    }

    /// Makes a chaincode callable by its name (the connection's namespace), replacing an earlier connection.
    pub fn add_chaincode(&self, connection: PeerConnection) {
        let name = connection.namespace().to_owned();
        self.chaincodes.write().expect("chaincodes lock").insert(name, connection);
    }

    /// Makes a chaincode no longer callable; its connection is closed.
    pub fn remove_chaincode(&self, name: &str) {
        if let Some(connection) = self.chaincodes.write().expect("chaincodes lock").remove(name) {
            connection.close();
        }
    }

    /// Whether a chaincode is callable: connected, and its stream up.
    pub fn is_serving(&self, name: &str) -> bool {
        self.chaincodes.read().expect("chaincodes lock").get(name).is_some_and(|c| !c.is_terminated())
    }

    /// The highest block committed so far (0 before any).
    pub fn height(&self) -> u64 {
        self.ledger.height()
    }

    /// The tonic service to serve.
    pub fn into_server(self) -> GatewayServer<Self> {
        GatewayServer::new(self)
    }

    /// Fabric's error for an endorser's failure: `<what> returned error: <message>`, with one `ErrorDetail` naming
    /// this peer.
    fn endorser_error(&self, code: Code, what: &str, message: String) -> Status {
        self.failure(code, format!("{what} returned error: {message}"), message)
    }

    /// A failed call: `text` as the status message, `detail` as the one `ErrorDetail`, naming this peer.
    fn failure(&self, code: Code, text: String, detail: String) -> Status {
        let detail =
            ErrorDetail { address: self.address.clone(), msp_id: self.msp.mspid().to_owned(), message: detail };
        let any = prost_types::Any {
            type_url: "type.googleapis.com/gateway.ErrorDetail".into(),
            value: detail.encode_to_vec(),
        };
        let status =
            wasmcc_proto::rpc::Status { code: code as i32, message: text.clone(), details: vec![any] }.encode_to_vec();
        Status::with_details(code, text, status.into())
    }

    /// The committer's endorsement check with a development network's policy (any peer of the organisation): the
    /// transaction's action carries endorsements, and each is a signature of its proposal response by an identity
    /// of the organisation.
    fn check_endorsements(&self, payload: &Payload) -> Result<(), String> {
        let action = endorsed_action(payload)?;
        if action.endorsements.is_empty() {
            return Err("the transaction has no endorsement".into());
        }
        for endorsement in &action.endorsements {
            let signed = [action.proposal_response_payload.as_slice(), endorsement.endorser.as_slice()].concat();
            self.msp
                .check_signed(&endorsement.endorser, &signed, &endorsement.signature)
                .map_err(|e| format!("an endorsement does not verify: {e}"))?;
        }
        Ok(())
    }
}

/// The endorsed action inside a transaction's payload: the inverse of what [`GatewayService::prepare`] lays out.
fn endorsed_action(payload: &Payload) -> Result<ChaincodeEndorsedAction, &'static str> {
    let transaction = Transaction::decode(payload.data.as_slice()).map_err(|_| "the transaction does not decode")?;
    let action = transaction.actions.first().ok_or("the transaction has no action")?;
    ChaincodeActionPayload::decode(action.payload.as_slice())
        .ok()
        .and_then(|p| p.action)
        .ok_or("the transaction's action does not decode")
}

/// Why a proposal was not run, or what it answered if not a success; each RPC words it Fabric's way.
enum Refusal {
    /// Not a proposal at all.
    Invalid(Status),
    /// Its creator is refused (`error validating proposal: …`).
    Denied(String),
    /// The chaincode is not here, or the definition refuses the invocation.
    Unrunnable(String),
    /// The chaincode could not be reached.
    Unavailable(String),
    /// The chaincode answered ERROR or a status of 400 or more.
    Answered(String),
}

impl GatewayService {
    /// What Evaluate and Endorse share, as a peer's endorser does it: read the proposal, check its creator, run it
    /// on the chaincode it names without committing, and keep only a success.
    async fn simulate(
        &self,
        signed: Option<SignedProposal>,
    ) -> Result<(ReadProposal, PeerConnection, TxResult, wasmcc_proto::protos::Response), Refusal> {
        let signed = signed.ok_or_else(|| Refusal::Invalid(Status::invalid_argument("a proposal is required")))?;
        let read = read_proposal(&signed).map_err(|e| Refusal::Invalid(Status::invalid_argument(e.to_string())))?;
        if let Err(refused) = self.msp.check_signed(&read.creator, &signed.proposal_bytes, &signed.signature) {
            return Err(Refusal::Denied(format!("error validating proposal: {refused}")));
        }
        let connection = self.chaincodes.read().expect("chaincodes lock").get(&read.chaincode_name).cloned();
        let Some(connection) = connection else {
            let message = format!("chaincode {} is not installed on channel {}", read.chaincode_name, read.channel_id);
            return Err(Refusal::Unrunnable(message));
        };
        let result = match connection.execute_read(&read, signed, false).await {
            Ok(result) => result,
            Err(SimError::InvalidInvocation { reason, .. }) => return Err(Refusal::Unrunnable(reason)),
            Err(e) => return Err(Refusal::Unavailable(e.to_string())),
        };
        let response = match &result.outcome {
            TxOutcome::Completed(response) if response.status < 400 => response.clone(),
            TxOutcome::Completed(response) => {
                return Err(Refusal::Answered(format!("chaincode response {}, {}", response.status, response.message)));
            }
            TxOutcome::Error(text) => {
                return Err(Refusal::Answered(format!(
                    "error in simulation: transaction returned with failure: {text}"
                )));
            }
        };
        Ok((read, connection, result, response))
    }

    /// The transaction a client signs after Endorse: the proposal's header, its payload without the transient map,
    /// and the chaincode's action with this peer's endorsement, as Fabric's `protoutil.CreateSignedTx` lays it out.
    fn prepare(
        &self,
        read: &ReadProposal,
        result: &TxResult,
        response: wasmcc_proto::protos::Response,
    ) -> Result<Envelope, SimError> {
        let payload = ChaincodeProposalPayload { transient_map: Default::default(), ..read.payload.clone() };
        let payload = payload.encode_to_vec();
        let proposal_hash = Sha256::new().chain_update(&read.header_bytes).chain_update(&payload).finalize().to_vec();
        let action = ChaincodeAction {
            results: super::encode_results(&result.rwset),
            events: result.event.as_ref().map(Message::encode_to_vec).unwrap_or_default(),
            response: Some(response),
            chaincode_id: Some(ChaincodeId { name: result.namespace.clone(), ..Default::default() }),
        };
        let response_payload =
            ProposalResponsePayload { proposal_hash, extension: action.encode_to_vec() }.encode_to_vec();
        let endorser = self.peer.serialize();
        let signature = self.peer.sign(&[response_payload.as_slice(), endorser.as_slice()].concat())?;
        let endorsed = ChaincodeEndorsedAction {
            proposal_response_payload: response_payload,
            endorsements: vec![Endorsement { endorser, signature }],
        };
        let action_payload = ChaincodeActionPayload { chaincode_proposal_payload: payload, action: Some(endorsed) };
        let action = TransactionAction {
            header: read.header.signature_header.to_vec(),
            payload: action_payload.encode_to_vec(),
        };
        let transaction = Transaction { actions: vec![action] };
        let payload = Payload { header: Some(read.header.clone()), data: transaction.encode_to_vec() };
        Ok(Envelope { payload: payload.encode_to_vec(), signature: Vec::new() })
    }
}

#[tonic::async_trait]
impl Gateway for GatewayService {
    async fn evaluate(&self, request: Request<EvaluateRequest>) -> Result<Response<EvaluateResponse>, Status> {
        let fail = |refusal: Refusal| {
            let (code, message) = match refusal {
                Refusal::Invalid(status) => return status,
                Refusal::Denied(message) | Refusal::Unrunnable(message) => (Code::FailedPrecondition, message),
                Refusal::Unavailable(message) => (Code::Unavailable, message),
                Refusal::Answered(message) => (Code::Unknown, message),
            };
            self.endorser_error(code, "evaluate call to endorser", message)
        };
        let (.., response) = self.simulate(request.into_inner().proposed_transaction).await.map_err(fail)?;
        Ok(Response::new(EvaluateResponse { result: Some(response) }))
    }

    async fn endorse(&self, request: Request<EndorseRequest>) -> Result<Response<EndorseResponse>, Status> {
        const FAILED: &str = "failed to endorse transaction, see attached details for more info";
        let aborted = |detail: String| self.failure(Code::Aborted, FAILED.to_owned(), detail);
        let fail = |refusal: Refusal| match refusal {
            Refusal::Invalid(status) => status,
            Refusal::Denied(message)
            | Refusal::Unrunnable(message)
            | Refusal::Unavailable(message)
            | Refusal::Answered(message) => aborted(message),
        };
        let (read, _, result, response) =
            self.simulate(request.into_inner().proposed_transaction).await.map_err(fail)?;
        let envelope = self.prepare(&read, &result, response).map_err(|e| aborted(e.to_string()))?;
        let endorsed = Endorsed {
            channel_id: result.channel_id.clone(),
            info: CommitInfo { txid: result.txid.clone(), timestamp: result.timestamp },
            rwset: result.rwset,
            event: result.event,
        };
        self.endorsed.lock().expect("endorsed lock").insert(result.txid, endorsed);
        Ok(Response::new(EndorseResponse { prepared_transaction: Some(envelope) }))
    }

    /// Orders the transaction in a block of its own and validates it as a committer does: its endorsements, then
    /// MVCC. An invalid transaction is still "submitted": its code is what CommitStatus answers.
    async fn submit(&self, request: Request<SubmitRequest>) -> Result<Response<SubmitResponse>, Status> {
        let request = request.into_inner();
        let envelope =
            request.prepared_transaction.ok_or_else(|| Status::invalid_argument("a transaction is required"))?;
        let undecodable = || Status::invalid_argument("the transaction's payload does not decode");
        let payload = Payload::decode(envelope.payload.as_slice()).map_err(|_| undecodable())?;
        let creator = payload
            .header
            .as_ref()
            .and_then(|h| SignatureHeader::decode(h.signature_header.clone()).ok())
            .map(|sh| sh.creator)
            .ok_or_else(undecodable)?;
        if let Err(refused) = self.msp.check_signed(&creator, &envelope.payload, &envelope.signature) {
            return Err(Status::permission_denied(format!("the transaction's signature: {refused}")));
        }
        let txid = request.transaction_id;
        let endorsed = self.endorsed.lock().expect("endorsed lock").take(&txid);
        let Some(endorsed) = endorsed else {
            return Err(Status::failed_precondition(format!("transaction {txid} was not endorsed by this gateway")));
        };
        let refused = self.check_endorsements(&payload).err().map(|why| {
            tracing::info!(%txid, why, "transaction invalid: ENDORSEMENT_POLICY_FAILURE");
            TxValidationCode::EndorsementPolicyFailure
        });
        let submitted = Submitted {
            channel_id: endorsed.channel_id,
            info: endorsed.info,
            rwset: endorsed.rwset,
            event: endorsed.event,
            refused,
        };
        self.ledger.commit(submitted).map_err(|e| Status::unavailable(format!("committing {txid}: {e}")))?;
        Ok(Response::new(SubmitResponse {}))
    }

    async fn commit_status(
        &self,
        request: Request<SignedCommitStatusRequest>,
    ) -> Result<Response<CommitStatusResponse>, Status> {
        let signed = request.into_inner();
        let request = CommitStatusRequest::decode(signed.request.as_slice())
            .map_err(|_| Status::invalid_argument("the commit status request does not decode"))?;
        if let Err(refused) = self.msp.check_signed(&request.identity, &signed.request, &signed.signature) {
            return Err(Status::permission_denied(format!("the request's signature: {refused}")));
        }
        let Some((code, block)) = self.ledger.status(&request.transaction_id) else {
            let txid = request.transaction_id;
            return Err(Status::failed_precondition(format!("transaction {txid} was not submitted to this gateway")));
        };
        Ok(Response::new(CommitStatusResponse { result: code as i32, block_number: block }))
    }

    type ChaincodeEventsStream = events::EventStream;

    async fn chaincode_events(
        &self,
        request: Request<SignedChaincodeEventsRequest>,
    ) -> Result<Response<Self::ChaincodeEventsStream>, Status> {
        let signed = request.into_inner();
        let request = ChaincodeEventsRequest::decode(signed.request.as_slice())
            .map_err(|_| Status::invalid_argument("the chaincode events request does not decode"))?;
        if let Err(refused) = self.msp.check_signed(&request.identity, &signed.request, &signed.signature) {
            return Err(Status::permission_denied(format!("the request's signature: {refused}")));
        }
        Ok(Response::new(events::stream(self.ledger.clone(), request)))
    }
}
