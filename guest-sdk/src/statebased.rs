//! State-based (key-level) endorsement policies, like the Go shim's `ext/statebased` and Node's
//! `KeyEndorsementPolicy`: a set of organisations that must all endorse changes to a key.
//!
//! ```
//! use wasmcc_sdk::statebased::{KeyEndorsementPolicy, Role};
//!
//! let mut ep = KeyEndorsementPolicy::new(None).unwrap();
//! ep.add_orgs(Role::Member, &["Org2MSP", "Org1MSP"]).unwrap();
//! assert_eq!(ep.list_orgs(), ["Org1MSP", "Org2MSP"]);
//! let bytes = ep.policy(); // for Stub::set_state_validation_parameter
//! assert_eq!(KeyEndorsementPolicy::new(Some(&bytes)).unwrap().list_orgs(), ["Org1MSP", "Org2MSP"]);
//! ```
//!
//! [`KeyEndorsementPolicy::policy`] is a serialized `common.SignaturePolicyEnvelope`: `NOutOf(n = all orgs)` of
//! `SignedBy(i)` rules over one `MSPRole` principal per organisation, sorted by MSP ID (Go's `sort.Strings`). The
//! bytes are those of the Go shim, and of Node's when it is given the organisations in that order; the unit tests
//! hold golden bytes made by Node's `fabric-shim`.

use std::collections::BTreeMap;

use crate::proto::{self, Reader, Value};
use crate::Error;

/// `msp.MSPRole.MSPRoleType`: what an organisation's endorser must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Any identity of the organisation (`MEMBER`, 0).
    Member,
    /// An administrator (`ADMIN`, 1).
    Admin,
    /// A client identity (`CLIENT`, 2).
    Client,
    /// A peer (`PEER`, 3): the usual choice for endorsement.
    Peer,
    /// An orderer (`ORDERER`, 4); only read from existing policies in practice.
    Orderer,
}

impl Role {
    fn number(self) -> u64 {
        match self {
            Role::Member => 0,
            Role::Admin => 1,
            Role::Client => 2,
            Role::Peer => 3,
            Role::Orderer => 4,
        }
    }

    fn from_number(n: u64) -> Option<Role> {
        [Role::Member, Role::Admin, Role::Client, Role::Peer, Role::Orderer].into_iter().find(|r| r.number() == n)
    }
}

/// `msp.MSPPrincipal.Classification.ROLE`: the only principal kind this policy type is made of.
const CLASSIFICATION_ROLE: u64 = 0;

/// The organisations that must endorse a key, each with the role its endorser needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyEndorsementPolicy {
    /// Sorted by MSP ID bytes: the order Go's `sort.Strings` gives the identities.
    orgs: BTreeMap<String, Role>,
}

impl KeyEndorsementPolicy {
    /// A policy from a key's validation parameter (`Stub::get_state_validation_parameter`), or an empty one for
    /// `None`. Only `ROLE` principals are kept, as in Go and Node.
    pub fn new(policy: Option<&[u8]>) -> Result<Self, Error> {
        let mut ep = KeyEndorsementPolicy::default();
        if let Some(bytes) = policy {
            ep.read_envelope(bytes)
                .map_err(|e| Error::InvalidArgument(format!("Error unmarshaling to SignaturePolicy: {e}")))?;
        }
        Ok(ep)
    }

    /// Requires an endorsement by `role` of each organisation in `msps` (replacing the role of one already there).
    /// Never fails: the role is typed (Go's `AddOrgs` fails only for an unknown role name); the `Result` keeps the
    /// Go signature.
    pub fn add_orgs(&mut self, role: Role, msps: &[impl AsRef<str>]) -> Result<(), Error> {
        for msp in msps {
            self.orgs.insert(msp.as_ref().to_owned(), role);
        }
        Ok(())
    }

    /// Removes organisations; unknown ones are ignored.
    pub fn del_orgs(&mut self, msps: &[impl AsRef<str>]) {
        for msp in msps {
            self.orgs.remove(msp.as_ref());
        }
    }

    /// The organisations that must endorse, sorted by MSP ID (Go returns them in map order, Node in insertion
    /// order; sorted is the order of the policy's identities).
    pub fn list_orgs(&self) -> Vec<String> {
        self.orgs.keys().cloned().collect()
    }

    /// The policy as a serialized `common.SignaturePolicyEnvelope`, for `set_state_validation_parameter`.
    pub fn policy(&self) -> Vec<u8> {
        let mut n_out_of = Vec::new();
        if !self.orgs.is_empty() {
            proto::put_varint_field(&mut n_out_of, 1, self.orgs.len() as u64); // n
        }
        let mut identities = Vec::new();
        for (i, (msp, role)) in self.orgs.iter().enumerate() {
            // SignaturePolicy { signed_by: i }: a oneof member, written even when 0.
            let mut signed_by = Vec::new();
            proto::put_varint_field(&mut signed_by, 1, i as u64);
            proto::put_bytes_field(&mut n_out_of, 2, &signed_by); // rules
            identities.push(principal(msp, *role));
        }
        // SignaturePolicy { n_out_of }: a oneof member, written even when empty.
        let mut rule = Vec::new();
        proto::put_bytes_field(&mut rule, 2, &n_out_of);
        // Envelope { version: 0 (omitted), rule, identities }.
        let mut envelope = Vec::new();
        proto::put_bytes_field(&mut envelope, 2, &rule);
        for identity in identities {
            proto::put_bytes_field(&mut envelope, 3, &identity);
        }
        envelope
    }

    fn read_envelope(&mut self, bytes: &[u8]) -> Result<(), String> {
        let mut envelope = Reader::new(bytes);
        while let Some((field, value)) = envelope.field()? {
            if let (3, Value::Bytes(principal)) = (field, value) {
                self.read_principal(principal)?;
            }
        }
        Ok(())
    }

    fn read_principal(&mut self, bytes: &[u8]) -> Result<(), String> {
        let (mut classification, mut principal) = (CLASSIFICATION_ROLE, &[][..]);
        let mut r = Reader::new(bytes);
        while let Some((field, value)) = r.field()? {
            match (field, value) {
                (1, Value::Varint(v)) => classification = v,
                (2, Value::Bytes(b)) => principal = b,
                _ => {}
            }
        }
        if classification != CLASSIFICATION_ROLE {
            return Ok(());
        }
        let (mut msp, mut role) = (String::new(), Role::Member);
        let mut r = Reader::new(principal);
        while let Some((field, value)) = r.field().map_err(|e| format!("error unmarshaling msp principal: {e}"))? {
            match (field, value) {
                (1, Value::Bytes(b)) => msp = proto::utf8(b)?,
                (2, Value::Varint(v)) => role = Role::from_number(v).ok_or_else(|| format!("unknown MSP role {v}"))?,
                _ => {}
            }
        }
        self.orgs.insert(msp, role);
        Ok(())
    }
}

/// `MSPPrincipal { principal_classification: ROLE (0, omitted), principal: MSPRole { msp_identifier, role } }`.
fn principal(msp: &str, role: Role) -> Vec<u8> {
    let mut msp_role = Vec::new();
    if !msp.is_empty() {
        proto::put_bytes_field(&mut msp_role, 1, msp.as_bytes());
    }
    if role.number() != 0 {
        proto::put_varint_field(&mut msp_role, 2, role.number());
    }
    let mut principal = Vec::new();
    if !msp_role.is_empty() {
        proto::put_bytes_field(&mut principal, 2, &msp_role);
    }
    principal
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    fn policy(adds: &[(Role, &[&str])]) -> String {
        let mut ep = KeyEndorsementPolicy::new(None).unwrap();
        for (role, msps) in adds {
            ep.add_orgs(*role, msps).unwrap();
        }
        hex(&ep.policy())
    }

    /// Made with tests/node's fabric-shim 2.5.8:
    /// `new KeyEndorsementPolicy(); ep.addOrgs(role, ...orgs); Buffer.from(ep.getPolicy()).toString('hex')`.
    #[test]
    fn golden_bytes_from_node_fabric_shim() {
        assert_eq!(policy(&[]), "12021200");
        assert_eq!(policy(&[(Role::Member, &["Org1MSP"])]), "120812060801120208001a0b12090a074f7267314d5350");
        let two = "120c120a080212020800120208011a0b12090a074f7267314d53501a0b12090a074f7267324d5350";
        assert_eq!(policy(&[(Role::Member, &["Org1MSP", "Org2MSP"])]), two);
        // Sorted like Go, whatever the order of adding.
        assert_eq!(policy(&[(Role::Member, &["Org2MSP", "Org1MSP"])]), two);
        assert_eq!(
            policy(&[(Role::Peer, &["A", "B", "C"])]),
            "1210120e08031202080012020801120208021a0712050a014110031a0712050a014210031a0712050a01431003"
        );
        let mixed = "120c120a080212020800120208011a0b12090a074f7267314d53501a0d120b0a074f7267324d53501003";
        assert_eq!(policy(&[(Role::Member, &["Org1MSP"]), (Role::Peer, &["Org2MSP"])]), mixed);
        // Two-byte varint lengths.
        let long = "M".repeat(130);
        let expected = format!("120812060801120208001a88011285010a8201{}", "4d".repeat(130));
        assert_eq!(policy(&[(Role::Member, &[long.as_str()])]), expected);
    }

    #[test]
    fn parse_list_and_modify() {
        let mixed = unhex("120c120a080212020800120208011a0b12090a074f7267314d53501a0d120b0a074f7267324d53501003");
        let mut ep = KeyEndorsementPolicy::new(Some(&mixed)).unwrap();
        assert_eq!(ep.list_orgs(), ["Org1MSP", "Org2MSP"]);
        assert_eq!(ep.orgs["Org2MSP"], Role::Peer);
        assert_eq!(ep.policy(), mixed, "decoding and encoding round-trips");
        ep.del_orgs(&["Org1MSP", "nosuch"]);
        ep.add_orgs(Role::Admin, &["Org3MSP"]).unwrap();
        assert_eq!(ep.list_orgs(), ["Org2MSP", "Org3MSP"]);
        assert_eq!(KeyEndorsementPolicy::new(Some(&ep.policy())).unwrap(), ep);
        assert!(KeyEndorsementPolicy::new(Some(&[])).unwrap().list_orgs().is_empty());
        let err = KeyEndorsementPolicy::new(Some(b"\x1a\x05\x12")).unwrap_err();
        assert!(err.message().starts_with("Error unmarshaling to SignaturePolicy: "), "{err}");
    }
}
