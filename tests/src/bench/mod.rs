//! `bench`: wasmcc against Fabric's Node shim and against the same chaincode compiled natively, plus the sandbox's
//! own cost, density at many chaincodes, and isolation between the chaincodes of one host. BENCHMARKS.md has the
//! figures, what they mean and how to reproduce them.

pub mod attack;
pub mod density;
pub mod driver;
pub mod heavy;
pub mod isolation;
pub mod native;
pub mod paced;
pub mod report;
pub mod sandbox;
pub mod serve;
pub mod stats;
pub mod workload;
