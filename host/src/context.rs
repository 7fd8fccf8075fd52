//! The transaction context: everything a guest may learn about its transaction, taken from the peer's INIT or
//! TRANSACTION message and its SignedProposal, the way the Go shim's `newChaincodeStub` derives it.
//!
//! This is the only door through which the outside world reaches a guest, which is what keeps endorsers agreeing.

use std::collections::BTreeMap;

use prost::bytes::Bytes;
use prost::Message;
use sha2::{Digest, Sha256};
use wasmcc_proto::common::HeaderType;
use wasmcc_proto::proposal::{LayerError, ProposalContents, ProposalLayers};
use wasmcc_proto::protos::{ChaincodeInput, ChaincodeMessage, SignedProposal};

/// Why a peer message could not become a transaction context. The text goes back to the peer in ERROR.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("failed to unmarshal input: {0}")]
    Input(prost::DecodeError),
    #[error("failed to extract proposal: {}", .0.source)]
    Proposal(LayerError),
    #[error("invalid channel header type. Expected {expected} or {config}, received {got}")]
    HeaderType { expected: i32, config: i32, got: i32 },
}

/// What the proposal tells the chaincode. All empty when the peer sent no proposal (not an error).
///
/// The byte fields are slices of the message the proposal arrived in (`Bytes`): a real proposal carries its
/// creator's certificate twice over (the creator, and the signed bytes that contain it), and most transactions
/// never look at either.
#[derive(Debug, Clone, Default)]
pub struct ProposalInfo {
    /// As the peer sent it; encoded again only for a guest that asks for it.
    pub signed_proposal: Option<SignedProposal>,
    pub creator: Bytes,
    pub transient: BTreeMap<String, Bytes>,
    /// The signature header's nonce and the channel header's epoch: with `creator`, what the binding hashes.
    pub nonce: Bytes,
    pub epoch: u64,
    pub timestamp: Option<prost_types::Timestamp>,
}

/// One transaction as the guest sees it.
#[derive(Debug, Clone)]
pub struct TxContext {
    pub txid: String,
    pub channel_id: String,
    pub is_init: bool,
    pub args: Vec<Vec<u8>>,
    pub decorations: BTreeMap<String, Vec<u8>>,
    pub proposal: ProposalInfo,
}

impl TxContext {
    /// Derives the context from an INIT or TRANSACTION message.
    pub fn from_message(msg: &ChaincodeMessage, is_init: bool) -> Result<Self, ContextError> {
        let input = ChaincodeInput::decode(msg.payload.as_slice()).map_err(ContextError::Input)?;
        let proposal = match &msg.proposal {
            Some(sp) => proposal_info(sp)?,
            None => ProposalInfo::default(),
        };
        Ok(TxContext {
            txid: msg.txid.clone(),
            channel_id: msg.channel_id.clone(),
            is_init,
            args: input.args,
            decorations: input.decorations.into_iter().collect(),
            proposal,
        })
    }
}

impl ProposalInfo {
    /// `GetBinding`: SHA-256 of nonce, creator and epoch (little-endian), as the Go shim computes it; empty without
    /// a proposal. Computed when asked for: few chaincodes do.
    pub fn binding(&self) -> Vec<u8> {
        if self.signed_proposal.is_none() {
            return Vec::new();
        }
        let mut hasher = Sha256::new();
        hasher.update(&self.nonce);
        hasher.update(&self.creator);
        hasher.update(self.epoch.to_le_bytes());
        hasher.finalize().to_vec()
    }
}

fn proposal_info(sp: &SignedProposal) -> Result<ProposalInfo, ContextError> {
    let layers = ProposalLayers::decode(sp).map_err(ContextError::Proposal)?;
    let endorser = HeaderType::EndorserTransaction as i32;
    let config = HeaderType::Config as i32;
    let got = layers.channel_header.r#type;
    if got != endorser && got != config {
        return Err(ContextError::HeaderType { expected: endorser, config, got });
    }
    let ProposalContents { channel_header, signature_header, payload } =
        layers.into_contents().map_err(ContextError::Proposal)?;
    Ok(ProposalInfo {
        signed_proposal: Some(sp.clone()),
        creator: signature_header.creator,
        transient: payload.transient_map.into_iter().collect(),
        nonce: signature_header.nonce,
        epoch: channel_header.epoch,
        timestamp: channel_header.timestamp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmcc_proto::common::{ChannelHeader, Header, SignatureHeader};
    use wasmcc_proto::protos::{ChaincodeProposalPayload, Proposal};

    fn signed(channel_type: i32, nonce: &[u8], creator: &[u8], epoch: u64) -> SignedProposal {
        let ch = ChannelHeader {
            r#type: channel_type,
            channel_id: "ch1".into(),
            tx_id: "tx1".into(),
            epoch,
            timestamp: Some(prost_types::Timestamp { seconds: 7, nanos: 9 }),
            ..Default::default()
        };
        let sh = SignatureHeader { creator: creator.to_vec().into(), nonce: nonce.to_vec().into() };
        let header = Header { channel_header: ch.encode_to_vec().into(), signature_header: sh.encode_to_vec().into() };
        let payload = ChaincodeProposalPayload {
            transient_map: [("k".to_string(), Bytes::from_static(b"v"))].into_iter().collect(),
            ..Default::default()
        };
        let proposal = Proposal {
            header: header.encode_to_vec().into(),
            payload: payload.encode_to_vec().into(),
            ..Default::default()
        };
        SignedProposal { proposal_bytes: proposal.encode_to_vec().into(), signature: vec![1].into() }
    }

    fn message(proposal: Option<SignedProposal>) -> ChaincodeMessage {
        let input = ChaincodeInput { args: vec![b"fn".to_vec(), b"a".to_vec()], ..Default::default() };
        ChaincodeMessage {
            payload: input.encode_to_vec(),
            txid: "tx1".into(),
            channel_id: "ch1".into(),
            proposal,
            ..Default::default()
        }
    }

    #[test]
    fn binding_is_sha256_of_nonce_creator_epoch() {
        let msg = message(Some(signed(HeaderType::EndorserTransaction as i32, b"nonce", b"me", 5)));
        let ctx = TxContext::from_message(&msg, false).unwrap();
        let mut expected = b"nonceme".to_vec();
        expected.extend_from_slice(&5u64.to_le_bytes());
        assert_eq!(ctx.proposal.binding(), Sha256::digest(&expected).to_vec());
        assert_eq!(ctx.proposal.creator, &b"me"[..]);
        assert_eq!(ctx.proposal.transient["k"], &b"v"[..]);
        assert_eq!(ctx.proposal.timestamp.unwrap().seconds, 7);
        assert_eq!(ctx.args, vec![b"fn".to_vec(), b"a".to_vec()]);
    }

    #[test]
    fn no_proposal_is_not_an_error() {
        let ctx = TxContext::from_message(&message(None), false).unwrap();
        assert!(ctx.proposal.creator.is_empty() && ctx.proposal.binding().is_empty());
        assert!(ctx.proposal.timestamp.is_none());
    }

    #[test]
    fn wrong_header_type_is_refused_like_the_shim() {
        let msg = message(Some(signed(HeaderType::Message as i32, b"n", b"c", 0)));
        let err = TxContext::from_message(&msg, false).unwrap_err();
        assert!(err.to_string().contains("invalid channel header type"), "{err}");
    }
}
