//! Generates the Fabric protocol types with protox, so no `protoc` is needed on the build machine.

use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "peer/chaincode_shim.proto",
    "peer/chaincode.proto",
    "peer/chaincode_event.proto",
    "peer/proposal.proto",
    "peer/proposal_response.proto",
    "common/common.proto",
    "msp/identities.proto",
    "ledger/queryresult/kv_query_result.proto",
    "ledger/rwset/rwset.proto",
    "ledger/rwset/kvrwset/kv_rwset.proto",
    "peer/transaction.proto",
    "orderer/ab.proto",
    "gateway/gateway.proto",
    "google/rpc/status.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("fabric");
    // Directory-level rerun also catches added or removed files, not just edits.
    println!("cargo:rerun-if-changed={}", root.display());
    for p in PROTOS {
        println!("cargo:rerun-if-changed={}", root.join(p).display());
    }
    println!("cargo:rerun-if-changed=build.rs");

    let fds = protox::compile(PROTOS, [&root])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        // The generated `connect` constructor on clients would clash with the rpc
        // `Chaincode.Connect` (also `connect`). Clients are built with `new(channel)` instead.
        .build_transport(false)
        // The signed proposal a TRANSACTION carries (its creator's certificate, the nonce, the transient data) is
        // decoded for every transaction; as `Bytes` its layers are slices of the buffer it arrived in, not copies.
        .bytes(".protos.SignedProposal")
        .bytes(".protos.Proposal")
        .bytes(".common.Header")
        .bytes(".common.SignatureHeader")
        .bytes(".protos.ChaincodeProposalPayload")
        .compile_fds(fds)?;
    Ok(())
}
