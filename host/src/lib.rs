//! wasmcc: runs Hyperledger Fabric chaincode compiled to WebAssembly, served to peers as an external service.
//!
//! A peer dials `protos.Chaincode/Connect` on a [`server`] listener; a session speaks the chaincode side of the
//! protocol; each transaction runs in a fresh instance ([`executor`]) whose stub calls ([`abi`]) become requests to
//! the peer ([`ledger`]).
//!
//! What is public, and for whom: the `wasmcc` binary runs a [`daemon`] from a [`config`], talks to it with
//! [`client`] and writes packages with [`package`] and [`connection_json`]; tests and benchmarks open a [`registry`]
//! over a [`store`] on an [`engine`], and the benchmarks drive the [`executor`] directly with an [`abi`] state, a
//! [`context`] and a [`ledger`]; [`routes`] names the route a peer takes to a chaincode (its TLS server name);
//! [`telemetry`] is what `/metrics` reports. The protocol session, the admin API's server and the launcher are the
//! host's own business and stay private.

pub mod abi;
pub mod admin;
mod admin_server;
pub mod audit;
pub mod client;
pub mod config;
pub mod connection_json;
pub mod connections;
pub mod context;
pub mod daemon;
pub mod engine;
mod epoch;
pub mod executor;
pub mod failure;
mod features;
mod launcher;
pub mod ledger;
mod limiter;
pub mod limits;
mod log_throttle;
mod outbound;
pub mod package;
pub mod quota;
pub mod recording;
pub mod registry;
pub mod routes;
pub mod runtime;
pub mod server;
mod session;
pub mod shared_store;
pub mod sni;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod validate;
