//! The little of PEM, base64 and DER that reading a client certificate takes.
//!
//! Hand-written rather than a certificate crate: the SDK needs three fields of one certificate (issuer, subject,
//! one extension), must build for `wasm32-unknown-unknown` without C, and every byte of code here ends up in each
//! chaincode module that asks who its caller is. Nothing is verified: the peer has already validated the creator's
//! signature and certificate chain before the chaincode runs.

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (Go's `base64.StdEncoding`).
pub(crate) fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(chunk.get(1).copied().unwrap_or(0)) << 8)
            | u32::from(chunk.get(2).copied().unwrap_or(0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(BASE64[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Standard base64, ignoring whitespace (PEM bodies are wrapped); padding is optional.
pub(crate) fn base64_decode(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    let mut padding = false;
    for b in text.bytes().filter(|b| !b.is_ascii_whitespace()) {
        if b == b'=' {
            padding = true;
            continue;
        }
        let v = BASE64
            .iter()
            .position(|&c| c == b)
            .ok_or_else(|| format!("invalid base64 character {:?}", char::from(b)))?;
        if padding {
            return Err("base64 data after padding".into());
        }
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Ok(out)
}

/// The contents of the first PEM block in `text`, like Go's `pem.Decode` (whose block type `cid` ignores too).
/// `None` when there is no complete block.
pub(crate) fn pem_decode(text: &[u8]) -> Option<Result<Vec<u8>, String>> {
    let begin = find(text, b"-----BEGIN ")? + 11;
    let body_start = begin + find(&text[begin..], b"-----")? + 5;
    let body = &text[body_start..];
    let body = &body[..find(body, b"-----END ")?];
    // Skip RFC 1421 headers ("Proc-Type: …"), which Go's decoder also accepts.
    let lines = body.split(|&b| b == b'\n').filter(|line| !line.contains(&b':'));
    let base64: Vec<u8> = lines.flatten().copied().collect();
    Some(std::str::from_utf8(&base64).map_err(|_| "invalid base64 data".to_owned()).and_then(base64_decode))
}

/// The offset of `needle` in `haystack` (a naive search: PEM texts are short, and it is smaller code).
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Universal tags the certificate reader needs.
pub(crate) const SEQUENCE: u8 = 0x30;
pub(crate) const SET: u8 = 0x31;
pub(crate) const OID: u8 = 0x06;
pub(crate) const OCTET_STRING: u8 = 0x04;
pub(crate) const BOOLEAN: u8 = 0x01;

/// Reads DER elements (tag, contents) in sequence. Only low tag numbers, which is all X.509 uses.
pub(crate) struct Der<'a> {
    buf: &'a [u8],
}

impl<'a> Der<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Der { buf }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub(crate) fn peek_tag(&self) -> Option<u8> {
        self.buf.first().copied()
    }

    /// The next element's tag and contents.
    pub(crate) fn read(&mut self) -> Result<(u8, &'a [u8]), String> {
        let (&tag, rest) = self.buf.split_first().ok_or("unexpected end of DER data")?;
        if tag & 0x1f == 0x1f {
            return Err("high tag numbers are not supported".into());
        }
        let (&first, mut rest) = rest.split_first().ok_or("truncated DER length")?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return Err("unsupported or truncated DER length".into());
            }
            let len = rest[..n].iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            rest = &rest[n..];
            len
        };
        if rest.len() < len {
            return Err("DER element longer than its container".into());
        }
        let (contents, rest) = rest.split_at(len);
        self.buf = rest;
        Ok((tag, contents))
    }

    /// The next element, which must have tag `tag`.
    pub(crate) fn expect(&mut self, tag: u8) -> Result<&'a [u8], String> {
        match self.read()? {
            (t, contents) if t == tag => Ok(contents),
            (t, _) => Err(format!("expected DER tag 0x{tag:02x}, found 0x{t:02x}")),
        }
    }
}

/// An ASN.1 string value as Go's `crypto/x509` decodes it (`parseASN1String`).
pub(crate) fn asn1_string(tag: u8, value: &[u8]) -> Result<String, String> {
    match tag {
        // UTF8String
        0x0c => String::from_utf8(value.to_vec()).map_err(|_| "invalid UTF-8 string".to_owned()),
        // PrintableString, IA5String, NumericString: ASCII subsets.
        0x13 | 0x16 | 0x12 if value.is_ascii() => Ok(String::from_utf8_lossy(value).into_owned()),
        0x13 | 0x16 | 0x12 => Err("invalid ASCII string".into()),
        // T61String: treated as Latin-1, as Go (and BoringSSL) do.
        0x14 => Ok(value.iter().map(|&b| char::from(b)).collect()),
        // BMPString: UTF-16BE, an optional terminator stripped.
        0x1e => {
            if !value.len().is_multiple_of(2) {
                return Err("invalid BMPString".into());
            }
            let value = value.strip_suffix(&[0, 0]).unwrap_or(value);
            let units = value.chunks(2).map(|c| u16::from_be_bytes([c[0], c[1]]));
            Ok(char::decode_utf16(units).map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER)).collect())
        }
        _ => Err(format!("unsupported string type: {tag}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_both_ways() {
        for (plain, encoded) in [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg==")] {
            assert_eq!(base64_encode(plain.as_bytes()), encoded);
            assert_eq!(base64_decode(encoded).unwrap(), plain.as_bytes());
        }
        assert_eq!(base64_decode("Zm9v\nYg==\n").unwrap(), b"foob");
        assert!(base64_decode("Zm9v!").is_err());
        assert!(base64_decode("Zg==Zg").is_err());
    }

    #[test]
    fn pem_and_der() {
        let pem = b"junk\n-----BEGIN CERTIFICATE-----\nMAMCAQU=\n-----END CERTIFICATE-----\n";
        let der = pem_decode(pem).unwrap().unwrap();
        assert_eq!(der, [0x30, 3, 2, 1, 5]);
        assert!(pem_decode(b"no pem here").is_none());
        let mut r = Der::new(&der);
        let mut seq = Der::new(r.expect(SEQUENCE).unwrap());
        assert_eq!(seq.read().unwrap(), (0x02, &[5u8][..]));
        assert!(seq.is_empty() && r.is_empty());
        let long = [&[0x04, 0x81, 0x80][..], &[7; 0x80]].concat();
        assert_eq!(Der::new(&long).expect(OCTET_STRING).unwrap().len(), 0x80);
        assert!(Der::new(&[0x04, 0x05, 1]).read().is_err());
    }

    #[test]
    fn strings_as_go_decodes_them() {
        assert_eq!(asn1_string(0x0c, "é".as_bytes()).unwrap(), "é");
        assert_eq!(asn1_string(0x14, &[0xe9]).unwrap(), "é");
        assert_eq!(asn1_string(0x1e, &[0, 0x41, 0, 0xe9, 0, 0]).unwrap(), "Aé");
        assert!(asn1_string(0x13, &[0xe9]).is_err());
        assert!(asn1_string(0x1c, b"x").is_err());
    }
}
