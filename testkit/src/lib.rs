//! The real parts wasmcc's tests run against, and reading what they report, in one place for every test binary that needs them (the host's flow
//! tests run the `wasmcc` binary against them; the workspace's flow tests, the host library). Nothing here is a
//! stand-in: a part that is missing makes the test that needs it fail, saying how to install it.

pub mod metrics;
pub mod ports;
pub mod postgres;
