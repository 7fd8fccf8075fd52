//! Who submitted the transaction, like the Go shim's `ext/cid`: the MSP ID, a unique ID, and the attributes a
//! Fabric CA wrote into the X.509 certificate.
//!
//! Everything comes from the creator (`msp.SerializedIdentity {1 mspid, 2 id_bytes}`, the certificate in PEM);
//! nothing is verified here, because the peer has already checked the proposal's signature and the certificate
//! chain. Idemix identities are not supported.

use crate::der::{self, Der};
use crate::proto::{self, Reader, Value};
use crate::Error;

/// The Fabric CA attribute extension, `1.2.3.4.5.6.7.8.1`, holding JSON `{"attrs": {"name": "value", …}}`.
const ATTRS_OID: &[u8] = &[0x2a, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x01];

/// The transaction's submitter, parsed from [`Stub::creator`](crate::Stub::creator).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientIdentity {
    msp_id: String,
    certificate: Vec<u8>,
    subject: String,
    issuer: String,
    /// `None` when the certificate has no attribute extension (or its `attrs` is null).
    attrs: Option<json::Attributes>,
}

fn invalid(message: String) -> Error {
    Error::InvalidArgument(message)
}

impl ClientIdentity {
    /// Parses a serialized `msp.SerializedIdentity` holding a PEM certificate. The error texts follow Go's `cid.New`.
    pub fn from_creator(creator: &[u8]) -> Result<Self, Error> {
        if creator.is_empty() {
            return Err(invalid(
                "failed to get transaction invoker's identity from the chaincode stub: the creator is empty".into(),
            ));
        }
        let (msp_id, id_bytes) = serialized_identity(creator)
            .map_err(|e| invalid(format!("failed to unmarshal transaction invoker's identity: {e}")))?;
        let Some(certificate) = der::pem_decode(id_bytes) else {
            return Err(invalid(
                "identity bytes are neither X509 PEM format nor an idemix credential: idemix credentials are not \
                 supported"
                    .into(),
            ));
        };
        let certificate = certificate.map_err(|e| invalid(format!("failed to parse certificate: {e}")))?;
        let fields =
            parse_certificate(&certificate).map_err(|e| invalid(format!("failed to parse certificate: {e}")))?;
        let attrs = match fields.attrs_json {
            None => None,
            Some(json) => json::attributes(json).map_err(|e| {
                invalid(format!(
                    "failed to get attributes from the transaction invoker's certificate: Failed to unmarshal \
                     attributes from certificate: {e}"
                ))
            })?,
        };
        Ok(ClientIdentity { msp_id, subject: fields.subject, issuer: fields.issuer, attrs, certificate })
    }

    /// The MSP ID of the submitter's organisation (`GetMSPID`).
    pub fn msp_id(&self) -> &str {
        &self.msp_id
    }

    /// A unique ID within the MSP, exactly as Go's `cid.GetID`: base64 of
    /// `"x509::" + subject DN + "::" + issuer DN`, the DNs written as Go's `cid` writes them (most significant
    /// last, only the attribute types Go's `pkix.Name` keeps, RFC 2253 escaping). It survives a certificate renewal.
    pub fn id(&self) -> String {
        der::base64_encode(format!("x509::{}::{}", self.subject, self.issuer).as_bytes())
    }

    /// The value of a Fabric CA attribute, `None` when the certificate does not have it.
    pub fn get_attribute_value(&self, name: &str) -> Option<String> {
        self.attrs.as_ref()?.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
    }

    /// `Ok` when attribute `name` has exactly `value` (Go's `AssertAttributeValue`, same error texts).
    pub fn assert_attribute_value(&self, name: &str, value: &str) -> Result<(), Error> {
        match self.get_attribute_value(name) {
            None => Err(invalid(format!("attribute '{name}' was not found"))),
            Some(v) if v != value => Err(invalid(format!("attribute '{name}' equals '{v}', not '{value}'"))),
            Some(_) => Ok(()),
        }
    }

    /// The submitter's certificate, DER-encoded, for checks this type does not offer.
    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate
    }
}

/// `(mspid, id_bytes)` of a serialized `msp.SerializedIdentity`.
fn serialized_identity(bytes: &[u8]) -> Result<(String, &[u8]), String> {
    let (mut msp_id, mut id_bytes) = (String::new(), &[][..]);
    let mut r = Reader::new(bytes);
    while let Some((field, value)) = r.field()? {
        match (field, value) {
            (1, Value::Bytes(b)) => msp_id = proto::utf8(b)?,
            (2, Value::Bytes(b)) => id_bytes = b,
            _ => {}
        }
    }
    Ok((msp_id, id_bytes))
}

/// What the SDK reads from a certificate.
struct Fields<'a> {
    subject: String,
    issuer: String,
    attrs_json: Option<&'a [u8]>,
}

/// Walks `Certificate { tbsCertificate { [0] version, serial, signature, issuer, validity, subject, spki,
/// [1] issuerUID, [2] subjectUID, [3] extensions }, … }`.
fn parse_certificate(certificate: &[u8]) -> Result<Fields<'_>, String> {
    let mut outer = Der::new(certificate);
    let mut cert = Der::new(outer.expect(der::SEQUENCE)?);
    let mut tbs = Der::new(cert.expect(der::SEQUENCE)?);
    if tbs.peek_tag() == Some(0xa0) {
        tbs.read()?; // version
    }
    tbs.read()?; // serialNumber
    tbs.expect(der::SEQUENCE)?; // signature algorithm
    let issuer = distinguished_name(tbs.expect(der::SEQUENCE)?)?;
    tbs.expect(der::SEQUENCE)?; // validity
    let subject = distinguished_name(tbs.expect(der::SEQUENCE)?)?;
    tbs.expect(der::SEQUENCE)?; // subjectPublicKeyInfo
    let mut attrs_json = None;
    while !tbs.is_empty() {
        let (tag, contents) = tbs.read()?;
        if tag != 0xa3 {
            continue; // issuerUniqueID, subjectUniqueID
        }
        let mut extensions = Der::new(Der::new(contents).expect(der::SEQUENCE)?);
        while !extensions.is_empty() {
            let mut extension = Der::new(extensions.expect(der::SEQUENCE)?);
            let oid = extension.expect(der::OID)?;
            if extension.peek_tag() == Some(der::BOOLEAN) {
                extension.read()?; // critical
            }
            let value = extension.expect(der::OCTET_STRING)?;
            if oid == ATTRS_OID {
                attrs_json = Some(value);
            }
        }
    }
    Ok(Fields { subject, issuer, attrs_json })
}

/// The `pkix.Name` fields Go keeps, by OID `2.5.4.x`, in the order Go's `ToRDNSequence` writes them.
const NAME_TYPES: [(u8, &str); 9] = [
    (6, "C"),
    (8, "ST"),
    (7, "L"),
    (9, "STREET"),
    (17, "POSTALCODE"),
    (10, "O"),
    (11, "OU"),
    (3, "CN"),
    (5, "SERIALNUMBER"),
];

/// A Name as Go's `cid.getDN(&cert.Subject)` writes it. Go first parses the Name into `pkix.Name`, which keeps
/// only the types of [`NAME_TYPES`] (several values for most, the last one for CN and SERIALNUMBER) and forgets
/// the certificate's RDN order; `ToRDNSequence` then rebuilds one RDN per type in a fixed order, and `getDN`
/// writes them last to first, several values of a type joined with `+`.
fn distinguished_name(name: &[u8]) -> Result<String, String> {
    // The values of each type of NAME_TYPES, by its index there.
    let mut values: [Vec<String>; NAME_TYPES.len()] = Default::default();
    let mut rdns = Der::new(name);
    while !rdns.is_empty() {
        let mut rdn = Der::new(rdns.expect(der::SET)?);
        while !rdn.is_empty() {
            let mut atv = Der::new(rdn.expect(der::SEQUENCE)?);
            let oid = atv.expect(der::OID)?;
            let (tag, raw) = atv.read()?;
            // Go refuses a Name whose values are not strings, whatever their type.
            let value = asn1_value(tag, raw)?;
            let Some(slot) = NAME_TYPES.iter().position(|&(t, _)| oid == [0x55, 0x04, t]) else { continue };
            if single_valued(NAME_TYPES[slot].0) {
                values[slot].clear(); // the last one wins
            }
            values[slot].push(value);
        }
    }
    let mut rdn_texts = Vec::new();
    for (slot, (t, type_name)) in NAME_TYPES.iter().enumerate().rev() {
        let vs = &values[slot];
        // ToRDNSequence skips an empty CommonName or SerialNumber, not an empty value of the other types.
        if vs.is_empty() || (single_valued(*t) && vs.iter().all(String::is_empty)) {
            continue;
        }
        let parts: Vec<String> = vs.iter().map(|v| format!("{type_name}={}", escape_dn_value(v))).collect();
        rdn_texts.push(parts.join("+"));
    }
    Ok(rdn_texts.join(","))
}

/// CommonName (2.5.4.3) and SerialNumber (2.5.4.5) are single strings in `pkix.Name`, the others lists.
fn single_valued(t: u8) -> bool {
    t == 3 || t == 5
}

fn asn1_value(tag: u8, raw: &[u8]) -> Result<String, String> {
    der::asn1_string(tag, raw).map_err(|e| format!("x509: invalid RDNSequence: invalid attribute value: {e}"))
}

/// RFC 2253 escaping as Go's `cid.getDN` does it: a leading space or `#`, a trailing space, and `,+"\<>;`.
fn escape_dn_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.len().wrapping_sub(1);
    for (i, c) in value.char_indices() {
        let edge = (i == 0 && (c == ' ' || c == '#')) || (i == last && c == ' ');
        if edge || matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

mod json;
#[cfg(test)]
mod tests;
