//! A compile-heavy chaincode for the `upload` attack: a real chaincode's module with thousands of extra functions
//! appended. The host compiles every defined function whether or not anything calls it, so the extras cost
//! compile time (what the attack is about) while the module stays a valid chaincode that passes upload's checks.
//!
//! The extras are appended by hand at the byte level (one new type, new entries at the end of the function and code
//! sections): appended functions take the highest indices, so no existing index moves and nothing else needs
//! rewriting.

use anyhow::{bail, ensure, Context};

/// Section ids of the binary format.
const TYPE: u8 = 1;
const FUNCTION: u8 = 3;
const CODE: u8 = 10;

/// Instruction groups per extra function: each adds a multiply, a rotate and local traffic inside a loop, so the
/// register allocator has real work (about 5 µs of release-build compile per group on this machine's class of CPU).
const GROUPS_PER_FUNCTION: usize = 24;

/// `base` (a core module) with `extra` functions of type `(i32) -> i32` appended, none of them called.
pub fn compile_heavy(base: &[u8], extra: u32) -> anyhow::Result<Vec<u8>> {
    ensure!(base.len() >= 8 && base[..4] == *b"\0asm" && base[4..8] == [1, 0, 0, 0], "not a core wasm module");
    let sections = sections(base)?;
    let count_of = |id: u8| -> anyhow::Result<u32> {
        let (_, payload) = sections.iter().find(|(i, _)| *i == id).with_context(|| format!("no section {id}"))?;
        read_leb(payload, &mut 0)
    };
    let new_type = count_of(TYPE)?;
    count_of(FUNCTION)?;
    count_of(CODE)?;

    let mut out = base[..8].to_vec();
    for (id, payload) in &sections {
        let grown = match *id {
            // (i32) -> i32
            TYPE => append(payload, 1, &[0x60, 1, 0x7f, 1, 0x7f])?,
            FUNCTION => {
                let mut index = Vec::new();
                write_leb(&mut index, new_type);
                append(payload, extra, &index.repeat(extra as usize))?
            }
            CODE => {
                let body = function_body();
                let mut bodies = Vec::with_capacity((body.len() + 3) * extra as usize);
                for _ in 0..extra {
                    write_leb(&mut bodies, body.len() as u32);
                    bodies.extend_from_slice(&body);
                }
                append(payload, extra, &bodies)?
            }
            _ => payload.to_vec(),
        };
        out.push(*id);
        write_leb(&mut out, grown.len() as u32);
        out.extend_from_slice(&grown);
    }
    Ok(out)
}

/// The top-level sections of a module: id and payload, in order.
fn sections(module: &[u8]) -> anyhow::Result<Vec<(u8, &[u8])>> {
    let mut at = 8;
    let mut out = Vec::new();
    while at < module.len() {
        let id = module[at];
        at += 1;
        let len = read_leb(module, &mut at)? as usize;
        let payload = module.get(at..at + len).context("a section runs past the end of the module")?;
        out.push((id, payload));
        at += len;
    }
    Ok(out)
}

/// A vector section's payload with `added` more entries (`entries`, already encoded) after its own.
fn append(payload: &[u8], added: u32, entries: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut at = 0;
    let count = read_leb(payload, &mut at)?;
    let mut out = Vec::with_capacity(payload.len() + entries.len() + 5);
    write_leb(&mut out, count.checked_add(added).context("too many entries")?);
    out.extend_from_slice(&payload[at..]);
    out.extend_from_slice(entries);
    Ok(out)
}

/// The body of every extra function: `x` counts down to zero in a loop, mixing two locals on the way.
fn function_body() -> Vec<u8> {
    const LOCAL_GET: u8 = 0x20;
    const LOCAL_SET: u8 = 0x21;
    const LOCAL_TEE: u8 = 0x22;
    const I32_CONST: u8 = 0x41;
    let mut body = vec![1, 2, 0x7f]; // one local declaration: 2 × i32 (locals 1 and 2)
    body.extend_from_slice(&[0x03, 0x40]); // loop (no result)
    for g in 0..GROUPS_PER_FUNCTION as u8 {
        body.extend_from_slice(&[LOCAL_GET, 0, I32_CONST, 3 + g, 0x6c, LOCAL_GET, 1, 0x73, LOCAL_SET, 1]); // mul, xor
        body.extend_from_slice(&[LOCAL_GET, 1, I32_CONST, 7, 0x77, LOCAL_GET, 2, 0x6a, LOCAL_SET, 2]);
        // rotl, add
    }
    body.extend_from_slice(&[LOCAL_GET, 0, I32_CONST, 1, 0x6b, LOCAL_TEE, 0, 0x0d, 0]); // x -= 1; br_if x != 0
    body.push(0x0b); // end loop
    body.extend_from_slice(&[LOCAL_GET, 1, LOCAL_GET, 2, 0x6a, 0x0b]); // l1 + l2; end
    body
}

fn read_leb(bytes: &[u8], at: &mut usize) -> anyhow::Result<u32> {
    let mut value = 0u32;
    for shift in (0..35).step_by(7) {
        let Some(&byte) = bytes.get(*at) else { bail!("truncated LEB128") };
        *at += 1;
        value |= u32::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    bail!("LEB128 longer than 5 bytes")
}

fn write_leb(out: &mut Vec<u8>, mut value: u32) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leb_round_trips() {
        for v in [0, 1, 127, 128, 300, 16_384, u32::MAX] {
            let mut buf = Vec::new();
            write_leb(&mut buf, v);
            assert_eq!(read_leb(&buf, &mut 0).unwrap(), v);
        }
    }

    #[test]
    fn the_grown_module_is_valid_and_has_the_extra_functions() {
        let base = crate::wasm("bench");
        let grown = compile_heavy(&base, 100).unwrap();
        let count = |module: &[u8]| {
            let mut functions = 0;
            for payload in wasmparser::Parser::new(0).parse_all(module) {
                if let wasmparser::Payload::FunctionSection(s) = payload.unwrap() {
                    functions = s.count();
                }
            }
            functions
        };
        assert_eq!(count(&grown), count(&base) + 100);
        wasmparser::Validator::new().validate_all(&grown).unwrap();
    }
}
