//! Just enough of the protobuf wire format for the few messages the SDK reads or writes itself
//! (`msp.SerializedIdentity`, `common.SignaturePolicyEnvelope`): a code generator would cost more module size than
//! these messages are worth.
//!
//! The encoder writes fields in field-number order and leaves out proto3 defaults, as Go's and Node's generated
//! code do, so the bytes are theirs exactly.

/// Appends a base-128 varint.
pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A varint field (wire type 0). The caller decides whether a default value is written.
pub(crate) fn put_varint_field(out: &mut Vec<u8>, field: u32, v: u64) {
    put_varint(out, u64::from(field) << 3);
    put_varint(out, v);
}

/// A length-delimited field (wire type 2): bytes, strings and embedded messages.
pub(crate) fn put_bytes_field(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_varint(out, (u64::from(field) << 3) | 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// One decoded field value; fixed-width fields are skipped by the reader.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

/// Reads the fields of one message in order. Unknown fields are the caller's to ignore, as protobuf requires.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    /// The next `(field number, value)`, `None` at the end of the message.
    pub(crate) fn field(&mut self) -> Result<Option<(u32, Value<'a>)>, String> {
        loop {
            if self.buf.is_empty() {
                return Ok(None);
            }
            let tag = self.varint()?;
            let field = u32::try_from(tag >> 3).map_err(|_| "field number out of range".to_owned())?;
            if field == 0 {
                return Err("invalid field number 0".into());
            }
            match tag & 7 {
                0 => return Ok(Some((field, Value::Varint(self.varint()?)))),
                1 => self.skip(8)?,
                2 => {
                    let len = usize::try_from(self.varint()?).map_err(|_| "length out of range".to_owned())?;
                    let bytes = self.take(len)?;
                    return Ok(Some((field, Value::Bytes(bytes))));
                }
                5 => self.skip(4)?,
                wire => return Err(format!("unsupported wire type {wire}")),
            }
        }
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for (i, &b) in self.buf.iter().enumerate().take(10) {
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                self.buf = &self.buf[i + 1..];
                return Ok(v);
            }
        }
        Err("truncated or overlong varint".into())
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], String> {
        if len > self.buf.len() {
            return Err("unexpected end of message".into());
        }
        let (head, rest) = self.buf.split_at(len);
        self.buf = rest;
        Ok(head)
    }

    fn skip(&mut self, len: usize) -> Result<(), String> {
        self.take(len).map(|_| ())
    }
}

/// A string field's text: protobuf-go refuses invalid UTF-8 in `string` fields, and so does this.
pub(crate) fn utf8(bytes: &[u8]) -> Result<String, String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| "string field contains invalid UTF-8".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_skipping() {
        let mut m = Vec::new();
        put_varint_field(&mut m, 1, 300);
        m.extend_from_slice(&[0x15, 1, 2, 3, 4]); // field 2, fixed32: skipped
        put_bytes_field(&mut m, 3, b"hi");
        assert_eq!(m[..3], [0x08, 0xac, 0x02]);
        let mut r = Reader::new(&m);
        assert_eq!(r.field().unwrap(), Some((1, Value::Varint(300))));
        assert_eq!(r.field().unwrap(), Some((3, Value::Bytes(b"hi"))));
        assert_eq!(r.field().unwrap(), None);
        assert!(Reader::new(&[0x0a, 5, 1]).field().is_err(), "truncated bytes");
        assert!(Reader::new(&[0x08, 0x80]).field().is_err(), "truncated varint");
    }
}
