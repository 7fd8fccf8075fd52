//! `bench`: wasmcc against Fabric's Node shim and against the same chaincode compiled natively, plus the sandbox's
//! own cost and density at many chaincodes. BENCHMARKS.md has the figures, what they mean and how to reproduce them.

pub mod density;
pub mod driver;
pub mod native;
pub mod report;
pub mod sandbox;
pub mod serve;
pub mod stats;
pub mod workload;
