//! The counter's next version (examples/counter), as an author would ship it: `inc <key>` now also remembers, under
//! `<key>~by`, the MSP of the client who counted last. The same transactions read the same keys and answer the same
//! values, but write one key more: replaying the first version's recordings against this one
//! (`wasmcc replay --package counter-v2.tar.gz`) shows exactly that, at the stub call that sends the writes.
#![forbid(unsafe_code)]

use wasmcc_sdk::{Chaincode, Response, Stub};

pub struct CounterV2;

wasmcc_sdk::chaincode!(CounterV2);

impl Chaincode for CounterV2 {
    fn invoke(stub: &mut Stub) -> Response {
        let (function, params) = stub.function_and_parameters();
        let [key] = params.as_slice() else {
            return Response::error(format!("{function}: expected 1 argument (key), got {}", params.len()));
        };
        let result = match function.as_str() {
            "inc" => read(stub, key).and_then(|n| {
                let next = n.checked_add(1).ok_or_else(|| format!("counter {key} overflows"))?;
                stub.put_state(key, next.to_string().as_bytes())?;
                let by = stub.client_identity().map(|id| id.msp_id().to_owned()).unwrap_or_default();
                stub.put_state(&format!("{key}~by"), by.as_bytes())?;
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
    use wasmcc_sdk::mock::{MockLedger, TestIdentity};

    #[test]
    fn inc_remembers_who_counted() {
        let mut ledger = MockLedger::new();
        ledger.set_identity(&TestIdentity::new("Org1MSP", "alice"));
        assert_eq!(ledger.invoke::<CounterV2>(&["inc", "c"]).payload, b"1");
        assert_eq!(ledger.state("c~by"), Some(&b"Org1MSP"[..]));
        assert_eq!(ledger.invoke::<CounterV2>(&["get", "c"]).payload, b"1");
    }
}
