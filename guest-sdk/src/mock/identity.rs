//! Client identities for unit tests: what a Fabric CA would have issued, made without one.
//!
//! A chaincode that asks who called it (`Stub::client_identity`, `ClientIdentity`) reads the creator the peer hands
//! it: a serialized `msp.SerializedIdentity` with the caller's X.509 certificate in PEM, attributes in Fabric CA's
//! extension (OID 1.2.3.4.5.6.7.8.1, `{"attrs":{…}}`). [`TestIdentity`] builds one, so a test sets the caller with
//! [`MockLedger::set_identity`](super::MockLedger::set_identity) instead of hand-encoding protobuf and DER. The
//! certificate is unsigned: the peer verifies signatures before a chaincode runs, and the SDK reads only the names
//! and the attributes.

use std::collections::BTreeMap;

use crate::der::base64_encode;
use crate::proto::put_bytes_field;

/// Fabric CA's attribute extension.
const ATTRS_OID: &[u8] = &[0x2a, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x01];
/// `2.5.4.3` (CN), `2.5.4.10` (O), `2.5.4.11` (OU).
const CN: &[u8] = &[0x55, 0x04, 0x03];
const O: &[u8] = &[0x55, 0x04, 0x0a];
const OU: &[u8] = &[0x55, 0x04, 0x0b];
/// `ecdsa-with-SHA256` and the P-256 public key types, as Fabric CA issues.
const ECDSA_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
const EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// A caller for unit tests: MSP ID, common name, optional organizational unit and Fabric CA attributes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestIdentity {
    msp_id: String,
    common_name: String,
    organizational_unit: Option<String>,
    attributes: BTreeMap<String, String>,
}

impl TestIdentity {
    /// `common_name` of `msp_id`, issued by `ca.<msp_id>` (the subject's O is the MSP ID too).
    pub fn new(msp_id: &str, common_name: &str) -> Self {
        TestIdentity {
            msp_id: msp_id.to_owned(),
            common_name: common_name.to_owned(),
            organizational_unit: None,
            attributes: BTreeMap::new(),
        }
    }

    /// The subject's OU (Fabric CA writes the identity's type there: `client`, `admin`, …).
    pub fn organizational_unit(mut self, ou: &str) -> Self {
        self.organizational_unit = Some(ou.to_owned());
        self
    }

    /// A Fabric CA attribute (`GetAttributeValue` reads it).
    pub fn attribute(mut self, name: &str, value: &str) -> Self {
        self.attributes.insert(name.to_owned(), value.to_owned());
        self
    }

    /// The serialized `msp.SerializedIdentity` the peer would hand the chaincode as the creator.
    pub fn creator(&self) -> Vec<u8> {
        let pem = pem(&self.certificate());
        let mut out = Vec::new();
        put_bytes_field(&mut out, 1, self.msp_id.as_bytes());
        put_bytes_field(&mut out, 2, pem.as_bytes());
        out
    }

    fn certificate(&self) -> Vec<u8> {
        let mut subject = vec![name_entry(O, &self.msp_id)];
        if let Some(ou) = &self.organizational_unit {
            subject.push(name_entry(OU, ou));
        }
        subject.push(name_entry(CN, &self.common_name));
        let issuer = [name_entry(O, &self.msp_id), name_entry(CN, &format!("ca.{}", self.msp_id))];
        let algorithm = tlv(0x30, &tlv(0x06, ECDSA_SHA256));
        let validity = tlv(0x30, &[tlv(0x17, b"240101000000Z"), tlv(0x17, b"491231235959Z")].concat());
        let key = tlv(
            0x30,
            &[tlv(0x30, &[tlv(0x06, EC_PUBLIC_KEY), tlv(0x06, P256)].concat()), bit_string(&[4; 65])].concat(),
        );
        let mut tbs = [
            tlv(0xa0, &tlv(0x02, &[2])), // v3
            tlv(0x02, &[1]),
            algorithm.clone(),
            tlv(0x30, &issuer.concat()),
            validity,
            tlv(0x30, &subject.concat()),
            key,
        ]
        .concat();
        if !self.attributes.is_empty() {
            let extension = tlv(0x30, &[tlv(0x06, ATTRS_OID), tlv(0x04, self.attributes_json().as_bytes())].concat());
            tbs.extend(tlv(0xa3, &tlv(0x30, &extension)));
        }
        tlv(0x30, &[tlv(0x30, &tbs), algorithm, bit_string(&[0; 8])].concat())
    }

    /// `{"attrs":{"name":"value",…}}`, as Fabric CA writes it.
    fn attributes_json(&self) -> String {
        let quote = |s: &str| {
            let mut q = String::from('"');
            for c in s.chars() {
                match c {
                    '"' => q.push_str("\\\""),
                    '\\' => q.push_str("\\\\"),
                    c if (c as u32) < 0x20 => q.push_str(&format!("\\u{:04x}", c as u32)),
                    c => q.push(c),
                }
            }
            q.push('"');
            q
        };
        let fields: Vec<String> = self.attributes.iter().map(|(k, v)| format!("{}:{}", quote(k), quote(v))).collect();
        format!("{{\"attrs\":{{{}}}}}", fields.join(","))
    }
}

/// One DER element.
fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = contents.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len.to_be_bytes().into_iter().skip_while(|&b| b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(contents);
    out
}

fn bit_string(bits: &[u8]) -> Vec<u8> {
    tlv(0x03, &[&[0][..], bits].concat())
}

/// `SET { SEQUENCE { type, UTF8String value } }`: one RDN.
fn name_entry(oid: &[u8], value: &str) -> Vec<u8> {
    tlv(0x31, &tlv(0x30, &[tlv(0x06, oid), tlv(0x0c, value.as_bytes())].concat()))
}

fn pem(der: &[u8]) -> String {
    let body = base64_encode(der);
    let lines: Vec<&str> =
        body.as_bytes().chunks(64).map(|l| std::str::from_utf8(l).expect("base64 is ASCII")).collect();
    format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", lines.join("\n"))
}
