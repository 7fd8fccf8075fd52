//! A development MSP: one organisation's CA, the identities it issues, and the checks a peer's endorser makes of a
//! proposal's creator before anything runs (the creator belongs to the MSP, its certificate was issued by the MSP's
//! CA, and it signed the proposal). What `wasmcc dev` stands on; Fabric's own MSP also checks revocation, OUs and
//! certificate validity periods, which a development network has no use for.

use std::collections::BTreeMap;

use rcgen::{BasicConstraints, CertificateParams, CustomExtension, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use wasmcc_proto::msp::SerializedIdentity;
use wasmcc_proto::proposal::Layer;
use wasmcc_proto::protos::SignedProposal;
use x509_parser::pem::parse_x509_pem;

use super::proposal::{read_proposal, Identity, ATTRIBUTES_OID};
use super::SimError;

/// An organisation: its MSP ID and the CA that issues its identities.
pub struct Msp {
    mspid: String,
    ca_pem: String,
    /// The CA certificate's DER, decoded once: every signed request is checked against it.
    ca_der: Vec<u8>,
    issuer: Issuer<'static, KeyPair>,
}

impl Msp {
    /// A new organisation with a fresh ECDSA P-256 CA, `ca.<mspid>`.
    pub fn generate(mspid: &str) -> Result<Msp, SimError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, format!("ca.{mspid}"));
        params.distinguished_name.push(DnType::OrganizationName, mspid);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
        let ca = params.self_signed(&key)?;
        let (ca_pem, ca_der) = (ca.pem(), ca.der().to_vec());
        Ok(Msp { mspid: mspid.to_owned(), ca_pem, ca_der, issuer: Issuer::new(params, key) })
    }

    /// An organisation generated before, from its saved [`ca_pem`](Self::ca_pem) and
    /// [`ca_key_pem`](Self::ca_key_pem): a development network keeps its identities valid across restarts.
    pub fn from_pem(mspid: &str, ca_pem: &str, ca_key_pem: &str) -> Result<Msp, SimError> {
        let key = KeyPair::from_pem(ca_key_pem)?;
        let issuer = Issuer::from_ca_cert_pem(ca_pem, key)?;
        let (_, pem) = parse_x509_pem(ca_pem.as_bytes())
            .map_err(|_| SimError::BadProposal("the CA certificate is not PEM".into()))?;
        Ok(Msp { mspid: mspid.to_owned(), ca_pem: ca_pem.to_owned(), ca_der: pem.contents, issuer })
    }

    pub fn mspid(&self) -> &str {
        &self.mspid
    }

    /// The CA's private key, PKCS#8 PEM: to save beside [`ca_pem`](Self::ca_pem), readable by its owner only.
    pub fn ca_key_pem(&self) -> String {
        self.issuer.key().serialize_pem()
    }

    /// The CA's certificate, PEM: what a client trusts, and what [`check_proposal`](Self::check_proposal) verifies
    /// creators against.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// An identity issued by the CA: `common_name`, with `ou` as Fabric CA writes the identity's type (`client`,
    /// `peer`, `admin`) and Fabric CA attributes in their extension.
    pub fn issue(&self, common_name: &str, ou: &str, attributes: &[(&str, &str)]) -> Result<Identity, SimError> {
        let attributes: BTreeMap<String, String> =
            attributes.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, common_name);
        params.distinguished_name.push(DnType::OrganizationalUnitName, ou);
        params.distinguished_name.push(DnType::OrganizationName, self.mspid.as_str());
        if !attributes.is_empty() {
            let json = serde_json::json!({ "attrs": attributes }).to_string().into_bytes();
            params.custom_extensions.push(CustomExtension::from_oid_content(&ATTRIBUTES_OID, json));
        }
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Identity::from_parts(&self.mspid, cert.pem(), attributes, key))
    }

    /// What the endorser checks of a proposal's creator before it runs anything: an identity of this MSP, issued
    /// by its CA, whose key signed the proposal.
    pub fn check_proposal(&self, signed: &SignedProposal) -> Result<(), SimError> {
        let read = read_proposal(signed)?;
        self.check_signed(&read.creator, &signed.proposal_bytes, &signed.signature)
    }

    /// Checks that `creator` (a serialized `msp.SerializedIdentity`) is an identity of this MSP, issued by its CA,
    /// and that `signature` is its signature of `message`: what every signed request to a peer is checked for.
    pub fn check_signed(&self, creator: &[u8], message: &[u8], signature: &[u8]) -> Result<(), SimError> {
        let denied = |why: String| SimError::AccessDenied(why);
        let creator: SerializedIdentity = Layer::Creator.decode(creator)?;
        if creator.mspid != self.mspid {
            return Err(denied(format!(
                "the creator's organisation is {:?}; this network has only {:?}",
                creator.mspid, self.mspid
            )));
        }
        let (_, pem) =
            parse_x509_pem(&creator.id_bytes).map_err(|_| denied("the creator's certificate is not PEM".into()))?;
        let cert = pem.parse_x509().map_err(|_| denied("the creator's certificate does not parse".into()))?;
        let (_, ca) = x509_parser::parse_x509_certificate(&self.ca_der).expect("the CA's own certificate parses");
        cert.verify_signature(Some(ca.public_key()))
            .map_err(|_| denied(format!("the creator's certificate was not issued by {}'s CA", self.mspid)))?;
        let key = ring::signature::UnparsedPublicKey::new(
            &ring::signature::ECDSA_P256_SHA256_ASN1,
            cert.public_key().subject_public_key.data.as_ref(),
        );
        key.verify(message, signature).map_err(|_| denied("the signature does not verify against its creator".into()))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use wasmcc_proto::protos::ChaincodeInput;

    use super::*;
    use crate::endpoint::proposal::{build_proposal, ProposalSpec};

    fn propose(creator: &Identity) -> SignedProposal {
        let input = ChaincodeInput { args: vec![b"ReadAsset".to_vec()], ..Default::default() };
        let transient = HashMap::new();
        let spec = ProposalSpec::new("mychannel", "basic", &input, &transient, creator);
        build_proposal(&spec).unwrap().signed
    }

    fn denied(result: Result<(), SimError>) -> String {
        match result {
            Err(SimError::AccessDenied(why)) => why,
            other => panic!("expected access denied, got {other:?}"),
        }
    }

    #[test]
    fn the_msp_admits_its_own_identities_and_nobody_else() {
        let org1 = Msp::generate("Org1MSP").unwrap();
        let user = org1.issue("user1", "client", &[("role", "auditor")]).unwrap();
        assert_eq!(user.attributes()["role"], "auditor");
        org1.check_proposal(&propose(&user)).unwrap();

        let self_signed = Identity::generate("Org1MSP", "mallory").unwrap();
        assert!(denied(org1.check_proposal(&propose(&self_signed))).contains("not issued by Org1MSP's CA"));

        let org2 = Msp::generate("Org2MSP").unwrap();
        let other = org2.issue("user2", "client", &[]).unwrap();
        assert!(denied(org1.check_proposal(&propose(&other))).contains("\"Org2MSP\""));
        // Another CA's certificate under this MSP's name is refused for its issuer.
        let impostor = Msp::generate("Org1MSP").unwrap().issue("eve", "client", &[]).unwrap();
        assert!(denied(org1.check_proposal(&propose(&impostor))).contains("not issued"));

        let mut tampered = propose(&user);
        let mut signature = tampered.signature.to_vec();
        *signature.last_mut().unwrap() ^= 1;
        tampered.signature = signature.into();
        assert!(denied(org1.check_proposal(&tampered)).contains("signature does not verify against its creator"));
    }

    #[test]
    fn a_saved_msp_and_identity_read_back_keep_working() {
        let org = Msp::generate("Org1MSP").unwrap();
        let user = org.issue("user1", "client", &[("role", "auditor")]).unwrap();
        let again = Msp::from_pem("Org1MSP", org.ca_pem(), &org.ca_key_pem()).unwrap();
        let user_again = Identity::from_pem("Org1MSP", user.cert_pem(), &user.key_pem()).unwrap();
        assert_eq!(user_again.attributes()["role"], "auditor");
        again.check_proposal(&propose(&user_again)).unwrap();
        // The CA read back still issues identities the original admits.
        org.check_proposal(&propose(&again.issue("user2", "client", &[]).unwrap())).unwrap();
    }
}
