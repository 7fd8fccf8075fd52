//! What a peer keeps and decides, with no I/O: the versioned world state (`state.rs`, re-exported here), read/write
//! sets ([`rwset`]), the transaction simulator and its read-only rules ([`simulator`]), private data collections
//! ([`private`]), chaincode-to-chaincode calls ([`c2c`]), what queries return and how they page ([`query`]) and the `_lifecycle` invocation rules
//! ([`lifecycle`]). The gRPC endpoint serves chaincode requests
//! from these; nothing here knows about messages.

pub mod c2c;
pub mod lifecycle;
pub mod private;
pub mod query;
pub mod rwset;
pub mod simulator;
mod state;

pub use prost_types::Timestamp;
pub use state::*;

/// The peer refuses every private-data request in a chaincode's Init, whatever the call.
pub const PRIVATE_DATA_IN_INIT: &str = "private data APIs are not allowed in chaincode Init()";

/// How the peer's handler words a refused request (the text of its ERROR): `"<TYPE> failed: transaction ID:
/// <txid>: <cause>"`.
pub fn request_error(request: &str, txid: &str, cause: &str) -> String {
    format!("{request} failed: transaction ID: {txid}: {cause}")
}
