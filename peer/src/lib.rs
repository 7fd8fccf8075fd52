//! Fabric's peer side, for tests, the demo and benches: one place where what a peer does is written.
//!
//! Two layers:
//! - [`world`] (always built; synchronous, no tokio or gRPC): versioned world state, read/write sets, private data
//!   and hashes, the read-only rules of a transaction simulator, the `_lifecycle` invocation rules.
//! - the endpoint (the default `endpoint` feature): the simulated peer below, which speaks Fabric's chaincode
//!   protocol over gRPC to a chaincode server, with proposals, transaction options and a request log.
//!
//! The simulated peer:
//!
//! It plays the peer's side of the CCaaS protocol (`protos.Chaincode/Connect`, as Fabric's `core/chaincode/handler.go`
//! speaks it) against a chaincode server such as
//! the wasmcc host, with the peer's semantics and the peer's replies, so a test can drive real wasm through the real
//! host without a Fabric network (`docs/architecture.md`, "Tests, in layers", item 3):
//!
//! - [`PeerSim`] owns an in-memory versioned world state ([`world`]), shared by every connection and cloneable.
//! - [`PeerSim::connect`] dials the chaincode's `protos.Chaincode/Connect`, waits for REGISTER with the expected CCID
//!   and answers REGISTERED + READY; a wrong CCID gets no answer at all, as from a real peer.
//! - [`PeerSim::serve_chaincode_support`] is the other direction (launcher mode, `bin/run`): the peer's
//!   `protos.ChaincodeSupport` server, whose accepted `Register` streams go through the same handshake.
//! - [`PeerConnection::invoke`] / [`PeerConnection::init`] send TRANSACTION / INIT with a real signed proposal
//!   ([`proposal`]), serve the chaincode's state requests while the transaction runs, and on COMPLETED with a status
//!   below 400 commit the read/write set with an MVCC check. Many transactions may be in flight on one connection.
//! - Every message received is kept in a [`RequestLog`].
//!
//! Every request of the stub API is served as a Fabric 2.5/3.x peer serves it, with the peer's replies and error
//! texts (each module names the peer code it follows):
//! - state: GET_STATE, GET_STATE_MULTIPLE, PUT_STATE, DEL_STATE, WRITE_BATCH_STATE, state metadata
//!   (GET/PUT_STATE_METADATA, `VALIDATION_PARAMETER`), all of them on public state or on private data
//!   (`requests.rs`); reads never see the transaction's own writes;
//! - private data: per-collection state with hashes (GET_PRIVATE_DATA_HASH), PURGE_PRIVATE_DATA, refusal in Init,
//!   collection access rules ([`PeerSim::define_collection`], [`private`]);
//! - queries: range queries, CouchDB-style rich queries ([`wasmcc_mango`]) and key history (newest first, as since
//!   Fabric 2.0), with the peer's batches
//!   of 100, `totalQueryLimit`, pagination and bookmarks, iterators, and the read-only rules for paginated and
//!   private queries (`queries.rs`, [`iterators`]);
//! - INVOKE_CHAINCODE to any chaincode connected to the same [`PeerSim`], sharing the transaction on the same channel
//!   (`c2c.rs`);
//! - the chaincode definition's `init_required` ([`ConnectOptions::definition`], [`lifecycle`]).
//!
//! A transaction's [`TxResult::rwset`] ([`TxRwSet`]) holds everything it read and wrote, by namespace and collection,
//! in a deterministic order: compare two chaincode implementations with `a.rwset.writes() == b.rwset.writes()`.
//! The world keeps public state, private data (with hashes), metadata, and the history of every public key
//! ([`world`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), wasmcc_peer::SimError> {
//! use wasmcc_peer::{args, PeerSim};
//! let peer = PeerSim::new();
//! peer.seed("mychannel", "basic", [("asset1", "blue")]);
//! let conn = peer.connect("127.0.0.1:9999", "basic_1.0:0123abcd").await?;
//! let result = conn.invoke("mychannel", args(["transfer", "asset1", "bob"])).await?;
//! assert!(result.commit.is_committed());
//! # Ok(()) }
//! ```
//!
//! Not simulated: blocks of several transactions (each commit is its own block), endorsement policies and
//! signatures (never checked), phantom reads of range queries (only the keys a query returned are validated),
//! the `_lifecycle`/`lscc` reads a real peer adds to every read set, channel capabilities (all on), ACLs other than
//! collection membership, a disabled history database, and CouchDB's exact string collation and bookmarks.

pub mod world;

#[cfg(feature = "endpoint")]
mod c2c;
#[cfg(feature = "endpoint")]
mod connection;
#[cfg(feature = "endpoint")]
mod handler;
#[cfg(feature = "endpoint")]
pub mod iterators;
#[cfg(feature = "endpoint")]
mod log;
#[cfg(feature = "endpoint")]
mod peer;
#[cfg(feature = "endpoint")]
pub mod proposal;
#[cfg(feature = "endpoint")]
mod queries;
#[cfg(feature = "endpoint")]
mod requests;
#[cfg(feature = "endpoint")]
mod support;
#[cfg(feature = "endpoint")]
mod tx;

#[cfg(feature = "endpoint")]
pub use endpoint::*;
pub use world::lifecycle::{ChaincodeDefinition, INITIALIZED_KEY};
pub use world::private::CollectionConfig;
pub use world::rwset::{CollectionRwSet, Metadata, RwSet, TxRwSet, VALIDATION_PARAMETER};
pub use world::{CommitInfo, CommitStatus, HistoryEntry, Version, VersionedValue};

/// The gRPC side: what exists only with the `endpoint` feature.
#[cfg(feature = "endpoint")]
mod endpoint {
    use std::time::Duration;

    use wasmcc_proto::protos::chaincode_message;

    pub use crate::connection::PeerConnection;
    pub use crate::log::{Disposition, LoggedMessage, RequestLog};
    pub use crate::peer::{
        fabric_default_ready_params, tls_from_connection_json, ConnectOptions, PeerSim, MAX_MESSAGE_SIZE,
    };
    pub use crate::proposal::Identity;
    pub use crate::support::{SupportServer, SupportTls};
    pub use crate::tx::{TxOptions, TxOutcome, TxResult};

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
        /// The simulated peer's own `ChaincodeSupport` server could not start.
        #[error("serving ChaincodeSupport on {addr}: {reason}")]
        Serve { addr: String, reason: String },
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
}

#[cfg(all(test, feature = "endpoint"))]
mod flow_tests;
