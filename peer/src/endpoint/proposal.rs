//! Real signed proposals, built the way a Fabric client builds them.
//!
//! A chaincode reads its creator, transient data, timestamp and binding out of `ChaincodeMessage.proposal`, so the
//! simulator sends the full chain a peer forwards: `SignedProposal{Proposal{Header{ChannelHeader, SignatureHeader},
//! ChaincodeProposalPayload{ChaincodeInvocationSpec, TransientMap}}}` (`docs/fabric-protocol.md` §3), with the txid
//! computed as Fabric does, `hex(sha256(nonce ‖ creator))`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use prost::bytes::Bytes;
use prost::Message;
use prost_types::Timestamp;
use rcgen::{CertificateParams, CustomExtension, DnType, KeyPair, SigningKey};
use sha2::{Digest, Sha256};
use wasmcc_proto::common::{ChannelHeader, Header, HeaderType, SignatureHeader};
use wasmcc_proto::msp::SerializedIdentity;
use wasmcc_proto::proposal::{Layer, ProposalLayers};
use wasmcc_proto::protos::{
    chaincode_spec, ChaincodeHeaderExtension, ChaincodeId, ChaincodeInput, ChaincodeInvocationSpec,
    ChaincodeProposalPayload, ChaincodeSpec, Proposal, SignedProposal,
};

use super::SimError;

/// The MSP of the default identity: the first organisation of Fabric's test network.
pub const DEFAULT_MSPID: &str = "Org1MSP";
/// The common name of the default identity's certificate, as in Fabric's test network.
pub const DEFAULT_COMMON_NAME: &str = "User1@org1.example.com";
/// Length of the proposal nonce: Fabric's `crypto.NonceSize`.
pub const NONCE_LEN: usize = 24;
/// The X.509 extension in which Fabric CA puts a certificate's attributes (`attrmgr.AttrOID`), as JSON
/// `{"attrs":{"name":"value",…}}`; the chaincode `cid` library reads it.
pub const ATTRIBUTES_OID: [u64; 9] = [1, 2, 3, 4, 5, 6, 7, 8, 1];

/// A client identity: an MSP ID and an X.509 certificate with its key.
///
/// The certificate is self-signed (there is no CA here): chaincode sees a well-formed PEM certificate in
/// `SerializedIdentity.id_bytes`, which is all the shim and `GetCreator` look at.
#[derive(Clone)]
pub struct Identity {
    mspid: String,
    cert_pem: String,
    attributes: BTreeMap<String, String>,
    key: Arc<KeyPair>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("mspid", &self.mspid)
            .field("attributes", &self.attributes)
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// Generates a fresh ECDSA P-256 key and a certificate with the given common name.
    pub fn generate(mspid: &str, common_name: &str) -> Result<Identity, SimError> {
        Identity::generate_with_attributes(mspid, common_name, &[])
    }

    /// Like [`Identity::generate`], with Fabric CA attributes in the certificate (extension
    /// [`ATTRIBUTES_OID`], JSON `{"attrs":{…}}`), as `GetAttributeValue` / `AssertAttributeValue` read them. With
    /// no attributes the extension is left out, as Fabric CA does.
    pub fn generate_with_attributes(
        mspid: &str,
        common_name: &str,
        attributes: &[(&str, &str)],
    ) -> Result<Identity, SimError> {
        let attributes: BTreeMap<String, String> =
            attributes.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, common_name);
        params.distinguished_name.push(DnType::OrganizationalUnitName, "client");
        if !attributes.is_empty() {
            let json = serde_json::json!({ "attrs": attributes }).to_string().into_bytes();
            params.custom_extensions.push(CustomExtension::from_oid_content(&ATTRIBUTES_OID, json));
        }
        let cert = params.self_signed(&key)?;
        Ok(Identity { mspid: mspid.to_owned(), cert_pem: cert.pem(), attributes, key: Arc::new(key) })
    }

    /// An identity whose certificate someone else issued (an MSP's CA: [`super::Msp::issue`]).
    pub(crate) fn from_parts(
        mspid: &str,
        cert_pem: String,
        attributes: BTreeMap<String, String>,
        key: KeyPair,
    ) -> Identity {
        Identity { mspid: mspid.to_owned(), cert_pem, attributes, key: Arc::new(key) }
    }

    /// An identity saved before: its certificate (whose Fabric CA attributes it reads back) and its key, PEM.
    pub fn from_pem(mspid: &str, cert_pem: &str, key_pem: &str) -> Result<Identity, SimError> {
        let key = KeyPair::from_pem(key_pem)?;
        let bad = |why: &str| SimError::BadProposal(format!("the identity's certificate {why}"));
        let (_, pem) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes()).map_err(|_| bad("is not PEM"))?;
        let cert = pem.parse_x509().map_err(|_| bad("does not parse"))?;
        let oid = x509_parser::der_parser::oid::Oid::from(&ATTRIBUTES_OID).expect("a valid OID");
        let attributes = match cert.extensions().iter().find(|e| e.oid == oid) {
            Some(ext) => {
                let json: serde_json::Value =
                    serde_json::from_slice(ext.value).map_err(|_| bad("has bad attributes"))?;
                let attrs = json["attrs"].as_object().cloned().unwrap_or_default();
                attrs.into_iter().filter_map(|(k, v)| Some((k, v.as_str()?.to_owned()))).collect()
            }
            None => BTreeMap::new(),
        };
        Ok(Identity::from_parts(mspid, cert_pem.to_owned(), attributes, key))
    }

    /// `User1@org1.example.com` of `Org1MSP`, generated once per process (key generation is not free, and a
    /// stable creator lets tests compare identities across transactions).
    pub fn default_user() -> &'static Identity {
        static USER: OnceLock<Identity> = OnceLock::new();
        USER.get_or_init(|| {
            Identity::generate(DEFAULT_MSPID, DEFAULT_COMMON_NAME).expect("generating the default test identity")
        })
    }

    pub fn mspid(&self) -> &str {
        &self.mspid
    }

    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// An ECDSA signature of `message` with the identity's key (DER, as Fabric's signers make).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SimError> {
        Ok(self.key.sign(message)?)
    }

    /// The private key, PKCS#8 PEM: what a client application signs with.
    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }

    /// The Fabric CA attributes in the certificate.
    pub fn attributes(&self) -> &BTreeMap<String, String> {
        &self.attributes
    }

    /// The creator bytes: a serialized `msp.SerializedIdentity`.
    pub fn serialize(&self) -> Vec<u8> {
        SerializedIdentity { mspid: self.mspid.clone(), id_bytes: self.cert_pem.clone().into_bytes() }.encode_to_vec()
    }
}

/// Fabric's transaction ID: lowercase hex of SHA-256(nonce ‖ creator).
pub fn compute_txid(nonce: &[u8], creator: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(nonce);
    hasher.update(creator);
    hex::encode(hasher.finalize())
}

/// Everything a proposal is made of.
pub struct ProposalSpec<'a> {
    pub channel_id: &'a str,
    /// The chaincode *name* (the namespace), not the package ID.
    pub chaincode_name: &'a str,
    pub input: &'a ChaincodeInput,
    pub transient: &'a HashMap<String, Vec<u8>>,
    pub creator: &'a Identity,
    /// Overrides the txid computed from the nonce and creator.
    pub txid: Option<&'a str>,
    /// The `ChannelHeader.timestamp`. `None`: now.
    pub timestamp: Option<Timestamp>,
    /// The `SignatureHeader.nonce` (and so the computed txid and the binding). `None`: 24 random bytes.
    pub nonce: Option<&'a [u8]>,
    /// Leave `SignedProposal.signature` empty. Nothing on the chaincode side verifies it (the peer does, before
    /// the chaincode sees the proposal); benchmarks skip it so that the client's signing is nobody's cost.
    pub unsigned: bool,
}

impl<'a> ProposalSpec<'a> {
    /// A proposal as a client application makes one: a fresh nonce and txid, the time now, signed.
    pub fn new(
        channel_id: &'a str,
        chaincode_name: &'a str,
        input: &'a ChaincodeInput,
        transient: &'a HashMap<String, Vec<u8>>,
        creator: &'a Identity,
    ) -> Self {
        ProposalSpec {
            channel_id,
            chaincode_name,
            input,
            transient,
            creator,
            txid: None,
            timestamp: None,
            nonce: None,
            unsigned: false,
        }
    }
}

/// A built proposal, the txid and the timestamp it carries.
pub struct BuiltProposal {
    pub txid: String,
    pub timestamp: Timestamp,
    pub signed: SignedProposal,
}

/// Builds a signed endorser proposal. The signature is a genuine ECDSA signature by the creator's key over the
/// proposal bytes, like a client's, but nothing in the simulator (nor in a chaincode) verifies it.
pub fn build_proposal(spec: &ProposalSpec<'_>) -> Result<BuiltProposal, SimError> {
    let nonce = match spec.nonce {
        Some(nonce) => nonce.to_vec(),
        None => rand::random::<[u8; NONCE_LEN]>().to_vec(),
    };
    let creator = spec.creator.serialize();
    let txid = match spec.txid {
        Some(txid) => txid.to_owned(),
        None => compute_txid(&nonce, &creator),
    };

    let timestamp = spec.timestamp.unwrap_or_else(|| Timestamp::from(SystemTime::now()));
    let chaincode_id = ChaincodeId { name: spec.chaincode_name.to_owned(), ..Default::default() };
    let extension = ChaincodeHeaderExtension { chaincode_id: Some(chaincode_id.clone()) };
    let channel_header = ChannelHeader {
        r#type: HeaderType::EndorserTransaction as i32,
        version: 0,
        timestamp: Some(timestamp),
        channel_id: spec.channel_id.to_owned(),
        tx_id: txid.clone(),
        epoch: 0,
        extension: extension.encode_to_vec(),
        ..Default::default()
    };
    let signature_header = SignatureHeader { creator: creator.into(), nonce: nonce.into() };
    let header = Header {
        channel_header: channel_header.encode_to_vec().into(),
        signature_header: signature_header.encode_to_vec().into(),
    };

    // The proposal's input carries args and is_init; decorations are added by the peer's decorators, later.
    let proposal_input =
        ChaincodeInput { args: spec.input.args.clone(), is_init: spec.input.is_init, ..Default::default() };
    let invocation = ChaincodeInvocationSpec {
        chaincode_spec: Some(ChaincodeSpec {
            // Informational only for an invocation; Fabric's gateway tests send NODE, the CLI GOLANG.
            r#type: chaincode_spec::Type::Node as i32,
            chaincode_id: Some(chaincode_id),
            input: Some(proposal_input),
            timeout: 0,
        }),
    };
    let transient_map = spec.transient.iter().map(|(k, v)| (k.clone(), v.clone().into())).collect();
    let payload = ChaincodeProposalPayload { input: invocation.encode_to_vec().into(), transient_map };
    let proposal = Proposal {
        header: header.encode_to_vec().into(),
        payload: payload.encode_to_vec().into(),
        extension: Default::default(),
    };
    let proposal_bytes = proposal.encode_to_vec();
    let signature = if spec.unsigned { Vec::new() } else { spec.creator.key.sign(&proposal_bytes)? };
    Ok(BuiltProposal {
        txid,
        timestamp,
        signed: SignedProposal { proposal_bytes: proposal_bytes.into(), signature: signature.into() },
    })
}

/// What a peer reads out of a client's signed proposal before it runs it.
pub struct ReadProposal {
    pub channel_id: String,
    pub txid: String,
    pub timestamp: Timestamp,
    /// The creator's MSP ID.
    pub mspid: String,
    /// The chaincode's name (the namespace).
    pub chaincode_name: String,
    /// The arguments and `is_init`, as the proposal carries them.
    pub input: ChaincodeInput,
    /// The creator: a serialized `msp.SerializedIdentity`.
    pub creator: Bytes,
    /// The proposal's header, decoded and as signed.
    pub header: Header,
    pub header_bytes: Bytes,
    /// The proposal's payload (the invocation and the transient map).
    pub payload: ChaincodeProposalPayload,
}

/// Decodes a client's proposal the way a peer's endorser does, refusing what it would refuse before running
/// anything: a proposal that does not decode, is not an endorser transaction, or names no chaincode.
pub fn read_proposal(signed: &SignedProposal) -> Result<ReadProposal, SimError> {
    let layers = ProposalLayers::decode(signed)?;
    if layers.channel_header.r#type != HeaderType::EndorserTransaction as i32 {
        return Err(SimError::BadProposal(format!(
            "the header type is {}, not ENDORSER_TRANSACTION",
            layers.channel_header.r#type
        )));
    }
    let signature_header = layers.signature_header()?;
    let creator: SerializedIdentity = Layer::Creator.decode(signature_header.creator.clone())?;
    let payload = layers.payload()?;
    let invocation: ChaincodeInvocationSpec = Layer::InvocationSpec.decode(payload.input.clone())?;
    let spec = invocation.chaincode_spec.unwrap_or_default();
    let chaincode_name = spec.chaincode_id.map(|id| id.name).unwrap_or_default();
    if chaincode_name.is_empty() {
        return Err(SimError::BadProposal("the proposal names no chaincode".into()));
    }
    let input = spec.input.unwrap_or_default();
    let ProposalLayers { header_bytes, header, channel_header, .. } = layers;
    Ok(ReadProposal {
        channel_id: channel_header.channel_id,
        txid: channel_header.tx_id,
        timestamp: channel_header.timestamp.unwrap_or_default(),
        mspid: creator.mspid,
        chaincode_name,
        input: ChaincodeInput { args: input.args, is_init: input.is_init, ..Default::default() },
        creator: signature_header.creator,
        header,
        header_bytes,
        payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(is_init: bool) -> ChaincodeInput {
        ChaincodeInput { args: vec![b"put".to_vec(), b"k".to_vec()], is_init, ..Default::default() }
    }

    #[test]
    fn txid_is_sha256_of_nonce_and_creator() {
        // sha256("") = e3b0…; sha256("ab") via two parts must equal hashing the concatenation.
        assert_eq!(compute_txid(b"", b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(compute_txid(b"a", b"b"), compute_txid(b"ab", b""));
    }

    #[test]
    fn proposal_decodes_back_to_what_a_chaincode_reads() {
        let transient = HashMap::from([("secret".to_owned(), b"s3cr3t".to_vec())]);
        let creator = Identity::default_user();
        let input = input(true);
        let built = build_proposal(&ProposalSpec {
            channel_id: "mychannel",
            chaincode_name: "basic",
            input: &input,
            transient: &transient,
            creator,
            txid: None,
            timestamp: None,
            nonce: None,
            unsigned: false,
        })
        .unwrap();

        let proposal = Proposal::decode(&built.signed.proposal_bytes[..]).unwrap();
        assert!(!built.signed.signature.is_empty());
        let header = Header::decode(&proposal.header[..]).unwrap();
        let ch = ChannelHeader::decode(&header.channel_header[..]).unwrap();
        assert_eq!(ch.r#type, 3, "ENDORSER_TRANSACTION");
        assert_eq!(ch.channel_id, "mychannel");
        assert_eq!(ch.tx_id, built.txid);
        assert_eq!(ch.epoch, 0);
        assert!(ch.timestamp.unwrap().seconds > 1_600_000_000, "a real time");
        let ext = ChaincodeHeaderExtension::decode(&ch.extension[..]).unwrap();
        assert_eq!(ext.chaincode_id.unwrap().name, "basic");

        let sh = SignatureHeader::decode(&header.signature_header[..]).unwrap();
        assert_eq!(sh.nonce.len(), NONCE_LEN);
        assert_eq!(built.txid, compute_txid(&sh.nonce, &sh.creator));
        let who = SerializedIdentity::decode(&sh.creator[..]).unwrap();
        assert_eq!(who.mspid, "Org1MSP");
        assert!(String::from_utf8(who.id_bytes).unwrap().starts_with("-----BEGIN CERTIFICATE-----"));

        let payload = ChaincodeProposalPayload::decode(&proposal.payload[..]).unwrap();
        assert_eq!(payload.transient_map, transient.into_iter().map(|(k, v)| (k, v.into())).collect());
        let cis = ChaincodeInvocationSpec::decode(&payload.input[..]).unwrap();
        let spec = cis.chaincode_spec.unwrap();
        assert_eq!(spec.chaincode_id.unwrap().name, "basic");
        let got = spec.input.unwrap();
        assert_eq!(got.args, input.args);
        assert!(got.is_init);
    }

    #[test]
    fn a_creator_that_does_not_decode_is_refused_by_name() {
        let ch = ChannelHeader { r#type: HeaderType::EndorserTransaction as i32, ..Default::default() };
        let sh = SignatureHeader { creator: Bytes::from_static(&[0xff]), nonce: Bytes::from_static(b"n") };
        let header = Header { channel_header: ch.encode_to_vec().into(), signature_header: sh.encode_to_vec().into() };
        let proposal = Proposal { header: header.encode_to_vec().into(), ..Default::default() };
        let signed = SignedProposal { proposal_bytes: proposal.encode_to_vec().into(), signature: Bytes::new() };
        match read_proposal(&signed) {
            Err(SimError::BadProposal(text)) => assert!(text.starts_with("the creator does not decode"), "{text}"),
            other => panic!("expected a refused proposal, got {:?}", other.map(|p| p.txid)),
        }
    }

    #[test]
    fn txid_override_and_fresh_nonces() {
        let empty = HashMap::new();
        let input = input(false);
        let spec = |txid| ProposalSpec {
            channel_id: "ch",
            chaincode_name: "cc",
            input: &input,
            transient: &empty,
            creator: Identity::default_user(),
            txid,
            timestamp: None,
            nonce: None,
            unsigned: false,
        };
        assert_eq!(build_proposal(&spec(Some("fixed"))).unwrap().txid, "fixed");
        let a = build_proposal(&spec(None)).unwrap().txid;
        let b = build_proposal(&spec(None)).unwrap().txid;
        assert_eq!(a.len(), 64);
        assert_ne!(a, b, "every proposal has a fresh nonce, hence a fresh txid");
    }

    #[test]
    fn fixed_timestamp_is_in_the_channel_header() {
        let empty = HashMap::new();
        let input = input(false);
        let fixed = Timestamp { seconds: 1_700_000_000, nanos: 42 };
        let built = build_proposal(&ProposalSpec {
            channel_id: "ch",
            chaincode_name: "cc",
            input: &input,
            transient: &empty,
            creator: Identity::default_user(),
            txid: None,
            timestamp: Some(fixed),
            nonce: Some(b"fixed nonce"),
            unsigned: true,
        })
        .unwrap();
        assert_eq!(built.timestamp, fixed);
        assert!(built.signed.signature.is_empty(), "an unsigned proposal");
        assert_eq!(built.txid, compute_txid(b"fixed nonce", &Identity::default_user().serialize()), "a fixed nonce");
        let proposal = Proposal::decode(&built.signed.proposal_bytes[..]).unwrap();
        let header = Header::decode(&proposal.header[..]).unwrap();
        assert_eq!(ChannelHeader::decode(&header.channel_header[..]).unwrap().timestamp, Some(fixed));
    }

    #[test]
    fn attributes_go_into_the_fabric_ca_extension() {
        use base64::Engine;
        let identity = Identity::generate_with_attributes(
            "Org2MSP",
            "alice",
            &[("role", "auditor"), ("hf.EnrollmentID", "alice")],
        )
        .unwrap();
        assert_eq!(identity.mspid(), "Org2MSP");
        assert_eq!(identity.attributes()["role"], "auditor");
        let body: String = identity.cert_pem().lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::engine::general_purpose::STANDARD.decode(body).unwrap();
        // The OID 1.2.3.4.5.6.7.8.1 in DER, then the JSON as the extension value.
        let oid = [0x06, 0x08, 0x2a, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x01];
        let at = der.windows(oid.len()).position(|w| w == oid).expect("the attribute extension");
        let json = br#"{"attrs":{"hf.EnrollmentID":"alice","role":"auditor"}}"#;
        assert!(der[at..].windows(json.len()).any(|w| w == json), "the JSON attributes follow the OID");

        let plain = Identity::generate("Org1MSP", "bob").unwrap();
        assert!(plain.attributes().is_empty());
        let body: String = plain.cert_pem().lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::engine::general_purpose::STANDARD.decode(body).unwrap();
        assert!(!der.windows(oid.len()).any(|w| w == oid), "no extension without attributes");
    }
}
