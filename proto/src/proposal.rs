//! The walk down a signed proposal's layers (SignedProposal → Proposal → Header → ChannelHeader, SignatureHeader,
//! ChaincodeProposalPayload), shared by the chaincode side (the host's transaction context) and the peer side (the
//! simulator's endorser).
//!
//! The two sides accept different header types, and both check the type before decoding the rest (as Fabric's Go
//! shim does, so a proposal of the wrong type is refused as such even when its later layers are garbage): the walk
//! stops at the channel header and decodes the later layers on request.
//!
//! Decoding from `Bytes`, each layer's byte fields are slices of the one below: nothing is copied.

use prost::bytes::{Buf, Bytes};
use prost::Message;

use crate::common::{ChannelHeader, Header, SignatureHeader};
use crate::protos::{ChaincodeProposalPayload, Proposal, SignedProposal};

/// The layer of a proposal that did not decode; its `Display` names it for an error message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    Proposal,
    Header,
    ChannelHeader,
    SignatureHeader,
    Payload,
    /// Inside the signature header: the creator's `msp.SerializedIdentity`.
    Creator,
    /// Inside the payload: the `ChaincodeInvocationSpec` a peer reads the chaincode's name from.
    InvocationSpec,
}

impl Layer {
    /// Decodes this layer. From `Bytes`, the message's own byte fields are slices of them (nothing copied).
    pub fn decode<M: Message + Default>(self, bytes: impl Buf) -> Result<M, LayerError> {
        M::decode(bytes).map_err(|source| LayerError { layer: self, source })
    }
}

impl std::fmt::Display for Layer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Layer::Proposal => "the proposal",
            Layer::Header => "the proposal's header",
            Layer::ChannelHeader => "the channel header",
            Layer::SignatureHeader => "the signature header",
            Layer::Payload => "the proposal's payload",
            Layer::Creator => "the creator",
            Layer::InvocationSpec => "the invocation spec",
        })
    }
}

/// A layer of a proposal that does not decode.
#[derive(Debug, thiserror::Error)]
#[error("{layer} does not decode: {source}")]
pub struct LayerError {
    pub layer: Layer,
    #[source]
    pub source: prost::DecodeError,
}

/// A signed proposal decoded down to its channel header; the signature header and the payload on request, by
/// reference ([`ProposalLayers::signature_header`], [`ProposalLayers::payload`]) or, for a reader that keeps neither
/// the header nor its bytes, by value ([`ProposalLayers::into_contents`]).
#[derive(Debug, Clone)]
pub struct ProposalLayers {
    /// The proposal's header as it was signed, and decoded.
    pub header_bytes: Bytes,
    pub header: Header,
    pub channel_header: ChannelHeader,
    payload_bytes: Bytes,
}

impl ProposalLayers {
    pub fn decode(signed: &SignedProposal) -> Result<Self, LayerError> {
        let proposal: Proposal = Layer::Proposal.decode(signed.proposal_bytes.clone())?;
        let header: Header = Layer::Header.decode(proposal.header.clone())?;
        // From a slice, not a `Bytes`: the channel header has no field that could share its buffer, and a clone of
        // the `Bytes` would be one more update of the read buffer's reference count, which the network thread shares.
        let channel_header = Layer::ChannelHeader.decode(header.channel_header.as_ref())?;
        Ok(ProposalLayers { header_bytes: proposal.header, header, channel_header, payload_bytes: proposal.payload })
    }

    pub fn signature_header(&self) -> Result<SignatureHeader, LayerError> {
        Layer::SignatureHeader.decode(self.header.signature_header.clone())
    }

    pub fn payload(&self) -> Result<ChaincodeProposalPayload, LayerError> {
        Layer::Payload.decode(self.payload_bytes.clone())
    }

    /// The channel header, and the signature header and payload decoded from the bytes this value owns: no slice
    /// of the message is cloned to decode them (each clone and drop is an update of the read buffer's reference
    /// count, which the network thread shares), so a transaction's context takes this way.
    pub fn into_contents(self) -> Result<ProposalContents, LayerError> {
        let signature_header = Layer::SignatureHeader.decode(self.header.signature_header)?;
        let payload = Layer::Payload.decode(self.payload_bytes)?;
        Ok(ProposalContents { channel_header: self.channel_header, signature_header, payload })
    }
}

/// What a chaincode learns from a proposal: its channel header, signature header and payload.
#[derive(Debug, Clone, PartialEq)]
pub struct ProposalContents {
    pub channel_header: ChannelHeader,
    pub signature_header: SignatureHeader,
    pub payload: ChaincodeProposalPayload,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(channel_header: Bytes, signature_header: Bytes, payload: Bytes) -> SignedProposal {
        let header = Header { channel_header, signature_header };
        let proposal = Proposal { header: header.encode_to_vec().into(), payload, extension: Bytes::new() };
        SignedProposal { proposal_bytes: proposal.encode_to_vec().into(), signature: Bytes::new() }
    }

    #[test]
    fn the_layers_decode_to_what_was_encoded() {
        let ch = ChannelHeader { r#type: 3, channel_id: "ch".into(), epoch: 7, ..Default::default() };
        let sh = SignatureHeader { creator: Bytes::from_static(b"me"), nonce: Bytes::from_static(b"n") };
        let payload = ChaincodeProposalPayload { input: Bytes::from_static(b"in"), ..Default::default() };
        let sp = signed(ch.encode_to_vec().into(), sh.encode_to_vec().into(), payload.encode_to_vec().into());

        let layers = ProposalLayers::decode(&sp).unwrap();
        assert_eq!(layers.channel_header, ch);
        assert_eq!(Header::decode(layers.header_bytes.clone()).unwrap(), layers.header);
        assert_eq!(layers.signature_header().unwrap(), sh);
        assert_eq!(layers.payload().unwrap(), payload);
        let contents = layers.into_contents().unwrap();
        assert_eq!((contents.channel_header, contents.signature_header, contents.payload), (ch, sh, payload));
    }

    #[test]
    fn later_layers_fail_only_when_asked_for_and_name_themselves() {
        let garbage = Bytes::from_static(&[0xff, 0xff]);
        let sp = signed(ChannelHeader::default().encode_to_vec().into(), garbage.clone(), garbage);
        let layers = ProposalLayers::decode(&sp).expect("the channel header decodes");
        assert_eq!(layers.signature_header().unwrap_err().layer, Layer::SignatureHeader);
        let err = layers.payload().unwrap_err();
        assert!(err.to_string().starts_with("the proposal's payload does not decode"), "{err}");

        let bad = SignedProposal { proposal_bytes: Bytes::from_static(&[0xff]), signature: Bytes::new() };
        assert_eq!(ProposalLayers::decode(&bad).unwrap_err().layer, Layer::Proposal);
        assert_eq!(layers.into_contents().unwrap_err().layer, Layer::SignatureHeader);
    }

    #[test]
    fn inner_layers_name_themselves() {
        let err = Layer::Creator.decode::<SignatureHeader>(&[0xff][..]).unwrap_err();
        assert!(err.to_string().starts_with("the creator does not decode"), "{err}");
    }
}
