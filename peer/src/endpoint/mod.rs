//! The simulated peer's gRPC side (the `endpoint` feature): it dials a chaincode server (or serves
//! `ChaincodeSupport` for launcher mode), speaks Fabric's chaincode protocol, and serves the chaincode's requests
//! from the [`crate::world`] layer.

mod c2c;
mod connection;
mod gateway;
mod handler;
pub mod iterators;
mod log;
mod msp;
mod peer;
pub mod proposal;
mod queries;
mod requests;
mod results;
mod support;
mod tx;

use std::time::Duration;

use wasmcc_proto::protos::chaincode_message;

pub use connection::PeerConnection;
pub use gateway::{error_details, BlockLogError, Call, Committed, GatewayCaller, GatewayService};
pub use log::{Disposition, LoggedMessage, RequestLog};
pub use msp::Msp;
pub use peer::{fabric_default_ready_params, tls_from_connection_json, ConnectOptions, PeerSim, MAX_MESSAGE_SIZE};
pub use proposal::{build_proposal, BuiltProposal, Identity, ProposalSpec};
pub use results::{decode_writes, encode_results, CollectionWrites, NamespaceWrites, PrivateWrite};
pub use support::{SupportServer, SupportTls};
pub use tx::{TxOptions, TxOutcome, TxResult};

/// Errors of the simulator itself. What the *chaincode* answers is never an error here: it is a [`TxResult`].
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("invalid chaincode address {addr:?}: {reason}")]
    InvalidAddress { addr: String, reason: String },
    #[error("dialing chaincode at {addr}: {source}")]
    Dial {
        addr: String,
        #[source]
        source: tonic::transport::Error,
    },
    #[error("Connect call failed: {0}")]
    Rpc(#[from] tonic::Status),
    /// Nothing usable arrived within the startup timeout (the peer's `chaincode.startuptimeout`).
    #[error("chaincode did not register within {0:?}")]
    StartupTimeout(Duration),
    /// The chaincode registered under another name. A real peer sends nothing back and the launch times out.
    #[error("chaincode registered as {got:?}, expected {expected:?}: no reply sent, launch timed out")]
    RegisterIgnored { got: String, expected: String },
    /// The stream broke the handshake protocol (ended, or a message the peer does not accept before REGISTER).
    #[error("handshake failed: {0}")]
    Handshake(String),
    /// The peer refuses the invocation before sending anything (`CheckInvocation`): the chaincode definition
    /// requires Init first, or does not take Init, or has already run it.
    #[error("invalid invocation: {reason}")]
    InvalidInvocation { txid: String, reason: String },
    /// The peer refuses a second INIT/TRANSACTION with the same (channel, txid) on one handler.
    #[error("txid: {txid}({channel_id}) exists")]
    DuplicateTxid { channel_id: String, txid: String },
    /// No matching COMPLETED/ERROR within the execute timeout (the peer's `chaincode.executetimeout`).
    #[error("timeout expired while executing transaction")]
    ExecuteTimeout { txid: String },
    /// The stream ended while the transaction was in flight.
    #[error("chaincode stream terminated")]
    StreamTerminated { txid: String },
    /// COMPLETED whose payload is not a `Response`.
    #[error("failed to unmarshal response for transaction {txid}: {source}")]
    BadResponse {
        txid: String,
        #[source]
        source: prost::DecodeError,
    },
    #[error("generating the client identity: {0}")]
    Identity(#[from] rcgen::Error),
    /// A client's proposal that a peer would refuse before running anything: not decodable, not an endorser
    /// transaction, or for another chaincode.
    #[error("invalid proposal: {0}")]
    BadProposal(String),
    /// The proposal's creator is not an identity of the MSP, or its signature does not verify.
    #[error("access denied: {0}")]
    AccessDenied(String),
    /// The simulated peer's own `ChaincodeSupport` server could not start.
    #[error("serving ChaincodeSupport on {addr}: {reason}")]
    Serve { addr: String, reason: String },
    /// The gateway's block log could not be read back or written.
    #[error(transparent)]
    BlockLog(#[from] BlockLogError),
}

/// A layer of a client's proposal that does not decode is a proposal a peer refuses.
impl From<wasmcc_proto::proposal::LayerError> for SimError {
    fn from(e: wasmcc_proto::proposal::LayerError) -> Self {
        SimError::BadProposal(e.to_string())
    }
}

/// Builds chaincode arguments from anything byte-like: `args(["put", "k", "v"])`.
pub fn args<I>(items: I) -> Vec<Vec<u8>>
where
    I: IntoIterator,
    I::Item: AsRef<[u8]>,
{
    items.into_iter().map(|a| a.as_ref().to_vec()).collect()
}

/// A `ChaincodeMessage.type` as Go's `String()` prints it: the enum name, or the number for an unknown value.
pub(crate) fn type_name(msg_type: i32) -> String {
    chaincode_message::Type::try_from(msg_type)
        .map(|t| t.as_str_name().to_owned())
        .unwrap_or_else(|_| msg_type.to_string())
}
