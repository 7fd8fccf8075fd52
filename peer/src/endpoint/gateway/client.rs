//! A Gateway client doing what Fabric's client SDKs do for one call: build and sign the proposal, Evaluate it, or
//! Endorse it, sign the prepared transaction, Submit it and wait for its CommitStatus. What `wasmcc invoke` and
//! `wasmcc query` use, and what tests drive a gateway with when they need no Node.

use std::collections::HashMap;

use prost::Message;
use tonic::transport::Channel;
use tonic::Status;
use wasmcc_proto::common::{Envelope, Payload};
use wasmcc_proto::gateway::gateway_client::GatewayClient;
use wasmcc_proto::gateway::{
    CommitStatusRequest, EndorseRequest, ErrorDetail, EvaluateRequest, SignedCommitStatusRequest, SubmitRequest,
};
use wasmcc_proto::protos::{
    ChaincodeAction, ChaincodeEvent, ChaincodeInput, ProposalResponsePayload, Response, TxValidationCode,
};

use crate::endpoint::proposal::{build_proposal, BuiltProposal, Identity, ProposalSpec};
use crate::endpoint::SimError;

/// One chaincode call.
#[derive(Clone, Debug, Default)]
pub struct Call {
    pub chaincode: String,
    /// The function name first, then its arguments.
    pub args: Vec<Vec<u8>>,
    pub transient: HashMap<String, Vec<u8>>,
    /// An Init of a chaincode whose definition requires one (the peer CLI's `--isInit`; Fabric's Gateway SDKs
    /// cannot send it).
    pub is_init: bool,
}

/// What a submitted transaction came to.
#[derive(Clone, Debug)]
pub struct Committed {
    pub txid: String,
    /// The chaincode's response, as endorsed.
    pub response: Response,
    /// The chaincode event it set, if any.
    pub event: Option<ChaincodeEvent>,
    /// The endorsed read/write set (`ChaincodeAction.results`, an encoded `rwset.TxReadWriteSet`).
    pub results: Vec<u8>,
    pub code: TxValidationCode,
    /// The block that committed it (0 when invalid).
    pub block: u64,
}

/// A client of one channel, acting as one identity.
pub struct GatewayCaller {
    client: GatewayClient<Channel>,
    identity: Identity,
    channel_id: String,
}

impl GatewayCaller {
    /// Dials a plaintext gateway at `address` (`host:port`).
    pub async fn connect(address: &str, identity: Identity, channel_id: &str) -> Result<GatewayCaller, SimError> {
        let dial = |reason: String| SimError::InvalidAddress { addr: address.to_owned(), reason };
        let endpoint =
            tonic::transport::Endpoint::from_shared(format!("http://{address}")).map_err(|e| dial(e.to_string()))?;
        let channel = endpoint.connect().await.map_err(|source| SimError::Dial { addr: address.to_owned(), source })?;
        Ok(GatewayCaller { client: GatewayClient::new(channel), identity, channel_id: channel_id.to_owned() })
    }

    fn propose(&self, call: &Call) -> Result<BuiltProposal, Status> {
        let input = ChaincodeInput { args: call.args.clone(), decorations: HashMap::new(), is_init: call.is_init };
        let spec = ProposalSpec::new(&self.channel_id, &call.chaincode, &input, &call.transient, &self.identity);
        build_proposal(&spec).map_err(|e| Status::internal(e.to_string()))
    }

    /// Runs the call on the gateway's peer without ordering it: its response.
    pub async fn evaluate(&mut self, call: &Call) -> Result<Response, Status> {
        let proposal = self.propose(call)?;
        let request = EvaluateRequest {
            transaction_id: proposal.txid,
            channel_id: self.channel_id.clone(),
            proposed_transaction: Some(proposal.signed),
            ..Default::default()
        };
        let result = self.client.evaluate(request).await?.into_inner().result;
        result.ok_or_else(|| Status::internal("the gateway answered no result"))
    }

    /// Endorses, submits and waits for the commit: what the transaction did and whether it is valid.
    pub async fn submit(&mut self, call: &Call) -> Result<Committed, Status> {
        let proposal = self.propose(call)?;
        let txid = proposal.txid.clone();
        let request = EndorseRequest {
            transaction_id: txid.clone(),
            channel_id: self.channel_id.clone(),
            proposed_transaction: Some(proposal.signed),
            ..Default::default()
        };
        let prepared = self.client.endorse(request).await?.into_inner().prepared_transaction;
        let mut envelope = prepared.ok_or_else(|| Status::internal("the gateway endorsed no transaction"))?;
        let action =
            chaincode_action(&envelope).ok_or_else(|| Status::internal("the prepared transaction does not decode"))?;
        envelope.signature = self.sign(&envelope.payload)?;
        let submit = SubmitRequest {
            transaction_id: txid.clone(),
            channel_id: self.channel_id.clone(),
            prepared_transaction: Some(envelope),
        };
        self.client.submit(submit).await?;
        let status = CommitStatusRequest {
            transaction_id: txid.clone(),
            channel_id: self.channel_id.clone(),
            identity: self.identity.serialize(),
        }
        .encode_to_vec();
        let signed = SignedCommitStatusRequest { signature: self.sign(&status)?, request: status };
        let status = self.client.commit_status(signed).await?.into_inner();
        Ok(Committed {
            txid,
            response: action.response.unwrap_or_default(),
            event: ChaincodeEvent::decode(action.events.as_slice()).ok().filter(|e| !e.event_name.is_empty()),
            results: action.results,
            code: TxValidationCode::try_from(status.result).unwrap_or(TxValidationCode::InvalidOtherReason),
            block: status.block_number,
        })
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Status> {
        self.identity.sign(message).map_err(|e| Status::internal(e.to_string()))
    }
}

/// The chaincode's action inside a prepared transaction: response, event and read/write set, as endorsed.
fn chaincode_action(envelope: &Envelope) -> Option<ChaincodeAction> {
    let payload = Payload::decode(envelope.payload.as_slice()).ok()?;
    let action = super::endorsed_action(&payload).ok()?;
    let response = ProposalResponsePayload::decode(action.proposal_response_payload.as_slice()).ok()?;
    ChaincodeAction::decode(response.extension.as_slice()).ok()
}

/// The `ErrorDetail`s a gateway attached to a failed call: which endpoint failed and what it said.
pub fn error_details(status: &Status) -> Vec<ErrorDetail> {
    let Ok(rpc) = wasmcc_proto::rpc::Status::decode(status.details()) else { return Vec::new() };
    rpc.details.iter().filter_map(|any| ErrorDetail::decode(any.value.as_slice()).ok()).collect()
}
