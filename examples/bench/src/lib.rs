//! The benchmark chaincode: one function per workload of `bench` (BENCHMARKS.md), written the way a chaincode
//! author would write it. `tests/node/chaincode/bench.js` is the same logic for Fabric's Node shim; the bench's
//! `native` implementation links this crate into the host process, without the sandbox.
//!
//! - `noop`: answers 200 with an empty payload and touches nothing (the fixed cost of a transaction);
//! - `get1 <key>`: one GetState, returns the value (the chaincode-side cost of a one-read transaction);
//! - `rw10 <prefix>`: GetState of `<prefix>0` … `<prefix>9`, then PutState of each with a 64-byte value derived
//!   from the txid and the old value's length; returns the number of keys that existed;
//! - `range100 <start> <end>`: GetStateByRange over `[start, end)`, returns how many results and their total
//!   value bytes as `count:bytes`.
#![forbid(unsafe_code)]

use wasmcc_sdk::{Chaincode, Response, Stub};

/// The size of every value `rw10` writes.
pub const VALUE_BYTES: usize = 64;
/// How many keys `rw10` reads and writes.
pub const RW_KEYS: usize = 10;

pub struct Bench;

wasmcc_sdk::chaincode!(Bench);

impl Chaincode for Bench {
    fn invoke(stub: &mut Stub) -> Response {
        let (function, params) = stub.function_and_parameters();
        let result = match (function.as_str(), params.as_slice()) {
            ("noop", []) => Ok(Vec::new()),
            ("get1", [key]) => get1(stub, key),
            ("rw10", [prefix]) => rw10(stub, prefix),
            ("range100", [start, end]) => range(stub, start, end),
            _ => Err(format!("unknown call {function} with {} arguments: expected noop, get1 <key>, rw10 <prefix> or range100 <start> <end>", params.len())),
        };
        match result {
            Ok(payload) => Response::success(payload),
            Err(message) => Response::error(message),
        }
    }
}

fn get1(stub: &mut Stub, key: &str) -> Result<Vec<u8>, String> {
    Ok(stub.get_state(key)?.unwrap_or_default())
}

fn rw10(stub: &mut Stub, prefix: &str) -> Result<Vec<u8>, String> {
    let keys: Vec<String> = (0..RW_KEYS).map(|i| format!("{prefix}{i}")).collect();
    let tx_id = stub.tx_id();
    let mut existing = 0;
    let mut old_lengths = Vec::with_capacity(RW_KEYS);
    for key in &keys {
        let old = stub.get_state(key)?;
        existing += usize::from(old.is_some());
        old_lengths.push(old.map_or(0, |v| v.len()));
    }
    for (key, old_len) in keys.iter().zip(old_lengths) {
        stub.put_state(key, &value(&tx_id, key, old_len))?;
    }
    Ok(existing.to_string().into_bytes())
}

/// 64 bytes that depend only on the transaction's inputs (deterministic across endorsers).
pub fn value(tx_id: &str, key: &str, old_len: usize) -> Vec<u8> {
    let mut v = format!("{tx_id}|{key}|{old_len}|").into_bytes();
    v.resize(VALUE_BYTES, b'.');
    v.truncate(VALUE_BYTES);
    v
}

fn range(stub: &mut Stub, start: &str, end: &str) -> Result<Vec<u8>, String> {
    let (mut count, mut bytes) = (0usize, 0usize);
    for kv in stub.get_state_by_range(start, end)? {
        let kv = kv?;
        count += 1;
        bytes += kv.value.len();
    }
    Ok(format!("{count}:{bytes}").into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmcc_sdk::mock::MockLedger;

    #[test]
    fn noop_answers_empty() {
        let r = MockLedger::new().invoke::<Bench>(&["noop"]);
        assert_eq!((r.status, r.payload.len()), (200, 0));
    }

    #[test]
    fn get1_reads_one_key() {
        let mut ledger = MockLedger::new();
        ledger.set_state("k", b"v");
        assert_eq!(ledger.invoke::<Bench>(&["get1", "k"]).payload, b"v");
        assert_eq!(ledger.invoke::<Bench>(&["get1", "absent"]).payload, b"");
    }

    #[test]
    fn rw10_reads_then_writes_ten_64_byte_values() {
        let mut ledger = MockLedger::new();
        ledger.set_state("p3", b"old");
        assert_eq!(ledger.invoke::<Bench>(&["rw10", "p"]).payload, b"1");
        for i in 0..RW_KEYS {
            let v = ledger.state(&format!("p{i}")).expect("written");
            assert_eq!(v.len(), VALUE_BYTES);
        }
        assert!(String::from_utf8_lossy(ledger.state("p3").unwrap()).contains("|p3|3|"));
        assert_eq!(ledger.invoke::<Bench>(&["rw10", "p"]).payload, b"10");
    }

    #[test]
    fn range100_counts_results_and_bytes() {
        let mut ledger = MockLedger::new();
        for i in 0..150 {
            ledger.set_state(&format!("r{i:04}"), &[b'x'; VALUE_BYTES]);
        }
        assert_eq!(ledger.invoke::<Bench>(&["range100", "r0000", "r0100"]).payload, b"100:6400");
        assert_eq!(ledger.invoke::<Bench>(&["range100", "s", "t"]).payload, b"0:0");
    }

    #[test]
    fn bad_calls_are_errors() {
        let r = MockLedger::new().invoke::<Bench>(&["rw10"]);
        assert_eq!(r.status, 500);
        assert!(r.message.contains("unknown call rw10 with 0 arguments"), "{}", r.message);
    }
}
