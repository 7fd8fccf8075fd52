//! wasmcc: runs Hyperledger Fabric chaincode compiled to WebAssembly, served to peers as an external service.
//!
//! A peer dials `protos.Chaincode/Connect` on a [`server`] listener; a [`session`] speaks the chaincode side of the
//! protocol; each transaction runs in a fresh instance ([`executor`]) whose stub calls ([`abi`]) become requests to
//! the peer ([`ledger`]).

pub mod abi;
pub mod admin;
pub mod admin_server;
pub mod audit;
pub mod client;
pub mod config;
pub mod connection_json;
pub mod connections;
pub mod context;
pub mod daemon;
pub mod engine;
pub mod executor;
pub mod failure;
pub mod features;
pub mod launcher;
pub mod ledger;
pub mod limits;
pub mod log_throttle;
pub mod metrics;
pub mod package;
pub mod quota;
pub mod registry;
pub mod routes;
pub mod runtime;
pub mod server;
pub mod session;
pub mod sni;
pub mod store;
pub mod tls;
pub mod validate;
