//! wasmcc: runs Hyperledger Fabric chaincode compiled to WebAssembly, served to peers as an external service.
//!
//! A peer dials `protos.Chaincode/Connect` on a [`server`] listener; a [`session`] speaks the chaincode side of the
//! protocol; each transaction runs in a fresh instance ([`executor`]) whose stub calls ([`abi`]) become requests to
//! the peer ([`ledger`]).

pub mod abi;
pub mod config;
pub mod context;
pub mod engine;
pub mod executor;
pub mod ledger;
pub mod limits;
pub mod metrics;
pub mod runtime;
pub mod server;
pub mod session;
pub mod testing;
