//! What a peer keeps and decides, with no I/O: the versioned world state ([`state`], re-exported here), read/write
//! sets ([`rwset`]), the transaction simulator and its read-only rules ([`simulator`]), private data collections
//! ([`private`]) and the `_lifecycle` invocation rules ([`lifecycle`]). The gRPC endpoint serves chaincode requests
//! from these; nothing here knows about messages.

pub mod lifecycle;
pub mod private;
pub mod rwset;
pub mod simulator;
mod state;

pub use state::*;
