//! Whole flows of the `wasmcc` binary and the host library: one test binary, a module per topic.

mod audit;
mod author;
mod cli;
mod crash;
mod deploy;
mod dev;
mod tls;
