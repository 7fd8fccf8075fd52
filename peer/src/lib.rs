//! Fabric's peer side, for tests, `wasmcc dev`, the demo and benches: one place where what a peer does is written.
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
//!   collection access rules ([`PeerSim::define_collection`], [`world::private`]);
//! - queries: range queries, CouchDB-style rich queries ([`wasmcc_mango`]) and key history (newest first, as since
//!   Fabric 2.0), with the peer's batches
//!   of 100, `totalQueryLimit`, pagination and bookmarks, iterators, and the read-only rules for paginated and
//!   private queries (`queries.rs`, [`iterators`]);
//! - INVOKE_CHAINCODE to any chaincode connected to the same [`PeerSim`], sharing the transaction on the same channel
//!   (`c2c.rs`);
//! - the chaincode definition's `init_required` ([`ConnectOptions::definition`], [`world::lifecycle`]).
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
//! In front of it, [`GatewayService`] is Fabric's Gateway (Evaluate, Endorse, Submit, CommitStatus, ChaincodeEvents)
//! for one organisation ([`Msp`]): what Fabric's client SDKs call, and what `wasmcc dev` serves, its blocks kept in
//! memory or in a block log; [`GatewayCaller`] is a client of it.
//!
//! Not simulated: blocks of several transactions (each commit is its own block), endorsement policies (the gateway
//! checks only that endorsements are signatures of its organisation; connections made directly check nothing), the merkle summary a peer records instead of a large range query's results (they
//! are always kept whole; validation gives the same outcome), the `PHANTOM_READ_CONFLICT` a peer reports for a key
//! a range query returned that was then changed or deleted (the key is also a point read here, so it is an
//! `MVCC_READ_CONFLICT`; keys newly inside a range are phantoms, as on a peer), the `_lifecycle`/`lscc` reads a
//! real peer adds to every read set, channel capabilities (all on), ACLs other than collection membership, a
//! disabled history database, and CouchDB's exact string collation and bookmarks.

pub mod world;

#[cfg(feature = "endpoint")]
mod endpoint;

#[cfg(feature = "endpoint")]
pub use endpoint::*;
pub use world::lifecycle::{ChaincodeDefinition, INITIALIZED_KEY};
pub use world::private::CollectionConfig;
pub use world::rwset::{CollectionRwSet, Metadata, RwSet, TxRwSet, VALIDATION_PARAMETER};
pub use world::{CommitInfo, CommitStatus, HistoryEntry, Version, VersionedValue};
