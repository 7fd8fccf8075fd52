//! A chaincode that misbehaves on purpose, for the host's tests of its per-transaction limits.
//!
//! - `trap`: panics; the SDK hands the message to the host (`abort`), then the instance traps.
//! - `clock`: reads the system clock, which wasm32-unknown-unknown does not have (std panics).
//! - `loop`: never returns (fuel or the epoch deadline must end it).
//! - `alloc`: allocates until memory runs out (the memory cap must end it).
//! - `ok`: 200 with payload `ok`.
//! - `iterators`: opens range queries without ever closing them, until the host refuses one; reports its error.
//! - `put <key> <value>`: writes one key.
#![forbid(unsafe_code)]

use std::hint::black_box;

use wasmcc_sdk::{Chaincode, Response, Stub};

pub struct Misbehave;

wasmcc_sdk::chaincode!(Misbehave);

impl Chaincode for Misbehave {
    fn invoke(stub: &mut Stub) -> Response {
        let (function, params) = stub.function_and_parameters();
        match function.as_str() {
            "trap" => panic!("misbehave: trap requested"),
            // The system clock: compiles for wasm32-unknown-unknown, and panics there.
            "clock" => Response::success(format!("{:?}", std::time::SystemTime::now()).into_bytes()),
            "loop" => loop {
                // black_box keeps the loop from being optimised into something the host never sees.
                black_box(());
            },
            "alloc" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    // 1 MiB at a time, filled so no page stays untouched; never freed.
                    hoard.push(black_box(vec![0xA5; 1 << 20]));
                }
            }
            "ok" => Response::success(b"ok".to_vec()),
            // Iterators held open pile up on the host and the peer: the host's limit must stop them with an error
            // the guest can read, not a trap.
            "iterators" => {
                let mut open = Vec::new();
                loop {
                    match stub.get_state_by_range("", "") {
                        Ok(it) => open.push(it),
                        Err(e) => return Response::error(format!("after {} iterators: {e}", open.len())),
                    }
                }
            }
            "put" => match params.as_slice() {
                [key, value] => Response::from_result(stub.put_state(key, value.as_bytes()).map(|_| Vec::new())),
                _ => Response::error("put: expected 2 arguments (key, value)"),
            },
            _ => Response::error(format!("unknown function {function}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmcc_sdk::mock::MockLedger;

    #[test]
    fn ok_and_put() {
        let mut ledger = MockLedger::new();
        assert_eq!(ledger.invoke::<Misbehave>(&["ok"]), Response::success(b"ok".to_vec()));
        assert_eq!(ledger.invoke::<Misbehave>(&["put", "k", "v"]).status, 200);
        assert_eq!(ledger.state("k"), Some(&b"v"[..]));
        assert_eq!(ledger.invoke::<Misbehave>(&["nope"]).status, 500);
    }

    #[test]
    #[should_panic(expected = "trap requested")]
    fn trap_panics() {
        MockLedger::new().invoke::<Misbehave>(&["trap"]);
    }
}
