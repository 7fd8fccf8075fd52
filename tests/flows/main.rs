//! Whole flows: real wasm in the real host, driven over loopback gRPC by the peer simulator.

mod bench;
mod builder;
mod conformance;
mod disconnect;
mod e2e;
mod failures;
mod gateway;
mod handshake;
mod hygiene;
mod isolation;
mod lifecycle;
mod postgres;
mod refusals;
mod restart;
mod sdk_outside;
mod shared_port;
mod shared_store;
mod stream_endings;
mod stub_api;
mod telemetry;
mod tls;
