//! The smallest useful chaincode: decimal counters.
//!
//! `inc <key>` adds one to the counter under `key` (absent counts as 0) and returns the new value;
//! `get <key>` returns the committed value ("0" when absent).
#![forbid(unsafe_code)]

use wasmcc_sdk::{Chaincode, Response, Stub};

pub struct Counter;

wasmcc_sdk::chaincode!(Counter);

impl Chaincode for Counter {
    fn invoke(stub: &mut Stub) -> Response {
        let (function, params) = stub.function_and_parameters();
        let [key] = params.as_slice() else {
            return Response::error(format!("{function}: expected 1 argument (key), got {}", params.len()));
        };
        let result = match function.as_str() {
            "inc" => read(stub, key).and_then(|n| {
                let next = n.checked_add(1).ok_or_else(|| format!("counter {key} overflows"))?;
                stub.put_state(key, next.to_string().as_bytes())?;
                Ok(next)
            }),
            "get" => read(stub, key),
            _ => Err(format!("unknown function {function}: expected inc or get")),
        };
        Response::from_result(result.map(|n| n.to_string()))
    }
}

fn read(stub: &mut Stub, key: &str) -> Result<u64, String> {
    match stub.get_state(key)? {
        None => Ok(0),
        Some(bytes) => std::str::from_utf8(&bytes)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("counter {key} does not hold a decimal number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmcc_sdk::mock::MockLedger;

    #[test]
    fn inc_and_get() {
        let mut ledger = MockLedger::new();
        assert_eq!(ledger.invoke::<Counter>(&["get", "c"]).payload, b"0");
        assert_eq!(ledger.invoke::<Counter>(&["inc", "c"]).payload, b"1");
        assert_eq!(ledger.invoke::<Counter>(&["inc", "c"]).payload, b"2");
        assert_eq!(ledger.invoke::<Counter>(&["get", "c"]).payload, b"2");
        assert_eq!(ledger.state("c"), Some(&b"2"[..]));
        assert_eq!(ledger.invoke::<Counter>(&["get", "other"]).payload, b"0");
    }

    #[test]
    fn bad_calls_are_errors() {
        let mut ledger = MockLedger::new();
        ledger.set_state("x", b"not a number");
        assert_eq!(ledger.invoke::<Counter>(&["inc", "x"]).message, "counter x does not hold a decimal number");
        assert_eq!(ledger.invoke::<Counter>(&["inc"]).status, 500);
        assert_eq!(ledger.invoke::<Counter>(&["dec", "c"]).message, "unknown function dec: expected inc or get");
        assert_eq!(ledger.state("x"), Some(&b"not a number"[..]));
    }
}
