//! Fabric's chaincode protocol messages and gRPC services, generated from wasmcc's own
//! `.proto` files in `proto/fabric`.
//!
//! Package, message and field names mirror Fabric's so that the generated types read like
//! Fabric's Go/Node code and the encodings are byte-identical (checked against
//! `@hyperledger/fabric-protos` by `tests/wire.rs`).

/// Fabric package `protos` (`peer/*.proto`): the stream message, its payloads and both services.
pub mod protos {
    tonic::include_proto!("protos");
}

/// Fabric package `common`: the headers inside a proposal, and the transaction envelope.
pub mod common {
    tonic::include_proto!("common");
}

/// Fabric package `msp`: the creator identity.
pub mod msp {
    tonic::include_proto!("msp");
}

/// Fabric package `queryresult`: the items inside `QueryResponse.results`.
pub mod queryresult {
    tonic::include_proto!("queryresult");
}

/// Fabric package `rwset`: the read/write set an endorsement carries in `ChaincodeAction.results`.
pub mod rwset {
    tonic::include_proto!("rwset");
}

/// Fabric package `kvrwset`: the key-value reads and writes (and private-data hashes) inside an `rwset`.
pub mod kvrwset {
    tonic::include_proto!("kvrwset");
}

/// Fabric package `orderer`: the positions a stream of blocks or events starts from.
pub mod orderer {
    tonic::include_proto!("orderer");
}

/// Fabric package `gateway`: the service Fabric's client SDKs talk to, and its messages.
pub mod gateway {
    tonic::include_proto!("gateway");
}

/// `google.rpc.Status`: the error details a gateway attaches to a failed call.
pub mod rpc {
    tonic::include_proto!("google.rpc");
}

pub mod proposal;

/// Key for per-transaction bookkeeping.
///
/// Both the peer and Fabric's shims key their maps by the bare concatenation of channel and
/// txid (no separator); using the same key keeps our routing and duplicate detection
/// consistent with theirs, including their (theoretical) collisions.
pub fn tx_key(channel_id: &str, txid: &str) -> String {
    let mut key = String::with_capacity(channel_id.len() + txid.len());
    key.push_str(channel_id);
    key.push_str(txid);
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tx_key_is_plain_concatenation() {
        assert_eq!(tx_key("mychannel", "abc"), "mychannelabc");
        assert_eq!(tx_key("", "abc"), "abc");
    }
}
