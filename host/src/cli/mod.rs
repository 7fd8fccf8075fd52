//! Commands of the `wasmcc` binary that live in the library, so that tests can drive them without a process.

pub mod offline;
