//! What wasmcc's host (and its CLI) and its Fabric external builder agree on, in one place, so that the contract
//! between them cannot drift: the two are separate binaries, often of different releases, on different machines.
//!
//! - [`package`]: the deterministic package format and the package ID (CCID) formula, which the builder must be able
//!   to reproduce from what the peer hands it.
//! - [`connection`]: connection.json as the peer's Go code parses it, and the dial timeout wasmcc writes into it.
//! - [`admin`]: the admin API's answers about a chaincode, which the builder reads to write connection.json.

pub mod admin;
pub mod connection;
pub mod package;
