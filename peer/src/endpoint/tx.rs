//! Transactions: what a client asks for ([`TxOptions`]), what comes back ([`TxResult`]), and the peer's
//! per-transaction context on one chaincode stream ([`TxContext`], the peer's `TransactionContext`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use prost_types::Timestamp;
use tokio::sync::oneshot;
use wasmcc_proto::protos::chaincode_message::Type;
use wasmcc_proto::protos::{ChaincodeEvent, ChaincodeInput, ChaincodeMessage, Response, SignedProposal};

use super::iterators::QueryIterator;
use super::proposal::Identity;
use crate::world::rwset::{RwSet, TxRwSet};
use crate::world::simulator::TxSimulator;
use crate::world::CommitStatus;

/// Per-transaction options: what a client puts into its proposal, and whether to submit.
#[derive(Clone, Debug)]
pub struct TxOptions {
    /// The proposal's `TransientMap` (private inputs; never part of the transaction).
    pub transient: HashMap<String, Vec<u8>>,
    /// The signer. `None`: [`Identity::default_user`].
    pub creator: Option<Identity>,
    /// Use this txid instead of the one computed from the nonce and creator.
    pub txid: Option<String>,
    /// The proposal's `ChannelHeader.timestamp` (what `GetTxTimestamp` returns and history records). `None`: now.
    pub timestamp: Option<Timestamp>,
    /// The proposal nonce (it determines the computed txid and the binding). `None`: random.
    pub nonce: Option<Vec<u8>>,
    /// `ChaincodeInput.decorations` in the TRANSACTION/INIT payload (what the peer's decorator plugins add).
    pub decorations: HashMap<String, Vec<u8>>,
    /// Commit on success (a gateway *submit*). `false`: only endorse, like *evaluate*; nothing is committed.
    pub submit: bool,
    /// Send the proposal with an empty signature (see [`super::proposal::ProposalSpec::unsigned`]).
    pub unsigned: bool,
}

impl Default for TxOptions {
    fn default() -> Self {
        TxOptions {
            transient: HashMap::new(),
            creator: None,
            txid: None,
            timestamp: None,
            nonce: None,
            decorations: HashMap::new(),
            submit: true,
            unsigned: false,
        }
    }
}

impl TxOptions {
    pub fn new() -> TxOptions {
        TxOptions::default()
    }

    pub fn transient(mut self, key: impl Into<String>, value: impl Into<Vec<u8>>) -> TxOptions {
        self.transient.insert(key.into(), value.into());
        self
    }

    pub fn creator(mut self, identity: Identity) -> TxOptions {
        self.creator = Some(identity);
        self
    }

    pub fn txid(mut self, txid: impl Into<String>) -> TxOptions {
        self.txid = Some(txid.into());
        self
    }

    /// Fixes the proposal timestamp, so transaction timestamps and history are deterministic.
    pub fn timestamp(mut self, seconds: i64, nanos: i32) -> TxOptions {
        self.timestamp = Some(Timestamp { seconds, nanos });
        self
    }

    /// Fixes the proposal nonce, so the computed txid and the binding are deterministic.
    pub fn nonce(mut self, nonce: impl Into<Vec<u8>>) -> TxOptions {
        self.nonce = Some(nonce.into());
        self
    }

    pub fn decoration(mut self, key: impl Into<String>, value: impl Into<Vec<u8>>) -> TxOptions {
        self.decorations.insert(key.into(), value.into());
        self
    }

    /// Endorse only: run the transaction but never commit its write set.
    pub fn evaluate(mut self) -> TxOptions {
        self.submit = false;
        self
    }

    /// Skip the client's ECDSA signature (benchmarks: the signing is the client's cost, not the chaincode's).
    pub fn unsigned(mut self) -> TxOptions {
        self.unsigned = true;
        self
    }
}

/// What the chaincode answered.
#[derive(Clone, Debug, PartialEq)]
pub enum TxOutcome {
    /// COMPLETED: the decoded `Response` (any status, including ≥ 400).
    Completed(Response),
    /// ERROR: its payload as text (the peer reports it as `transaction returned with failure: <text>`).
    Error(String),
}

/// One finished transaction.
#[derive(Clone, Debug)]
pub struct TxResult {
    pub txid: String,
    pub channel_id: String,
    /// The invoked chaincode's namespace.
    pub namespace: String,
    /// The proposal's timestamp.
    pub timestamp: Timestamp,
    pub outcome: TxOutcome,
    /// The chaincode event of a COMPLETED, with `chaincode_id` and `tx_id` filled in by the peer (the chaincode
    /// name and the txid), overwriting whatever the chaincode put there.
    pub event: Option<ChaincodeEvent>,
    /// What the transaction read and wrote, in every namespace it touched (chaincodes it called on the same
    /// channel included). Reported whether or not it was committed.
    pub rwset: TxRwSet,
    pub commit: CommitStatus,
    /// The COMPLETED or ERROR message as received.
    pub message: ChaincodeMessage,
}

impl TxResult {
    /// The `Response` of a COMPLETED.
    pub fn response(&self) -> Option<&Response> {
        match &self.outcome {
            TxOutcome::Completed(response) => Some(response),
            TxOutcome::Error(_) => None,
        }
    }

    pub fn status(&self) -> Option<i32> {
        self.response().map(|r| r.status)
    }

    /// The response payload (empty for an ERROR).
    pub fn payload(&self) -> &[u8] {
        self.response().map_or(&[], |r| &r.payload)
    }

    /// The text of an ERROR.
    pub fn error(&self) -> Option<&str> {
        match &self.outcome {
            TxOutcome::Error(text) => Some(text),
            TxOutcome::Completed(_) => None,
        }
    }

    pub fn is_committed(&self) -> bool {
        self.commit.is_committed()
    }

    /// The read/write set of the invoked chaincode's own namespace.
    pub fn own_rwset(&self) -> &RwSet {
        self.rwset.ns(&self.namespace)
    }
}

/// What the peer runs on a chaincode stream: a top-level transaction, or a chaincode-to-chaincode call.
pub(crate) struct Invocation {
    pub(crate) kind: Type,
    pub(crate) channel_id: String,
    pub(crate) txid: String,
    pub(crate) input: ChaincodeInput,
    pub(crate) proposal: SignedProposal,
    pub(crate) creator_mspid: String,
    /// The simulator: fresh for a transaction, the caller's for a call on the same channel.
    pub(crate) sim: Arc<Mutex<TxSimulator>>,
}

/// The peer's `TransactionContext`: one transaction on one chaincode stream.
pub(crate) struct TxContext {
    pub(crate) channel_id: String,
    pub(crate) txid: String,
    /// The namespace of the chaincode this stream serves.
    pub(crate) namespace: String,
    pub(crate) is_init: bool,
    pub(crate) creator_mspid: String,
    pub(crate) proposal: SignedProposal,
    pub(crate) sim: Arc<Mutex<TxSimulator>>,
    /// Open query iterators by id; all are dropped when the result arrives.
    pub(crate) iterators: Mutex<HashMap<String, QueryIterator>>,
    pub(crate) notifier: Mutex<Option<oneshot::Sender<ChaincodeMessage>>>,
}

impl TxContext {
    pub(crate) fn new(namespace: &str, inv: &Invocation, notifier: oneshot::Sender<ChaincodeMessage>) -> TxContext {
        TxContext {
            channel_id: inv.channel_id.clone(),
            txid: inv.txid.clone(),
            namespace: namespace.to_owned(),
            is_init: inv.kind == Type::Init,
            creator_mspid: inv.creator_mspid.clone(),
            proposal: inv.proposal.clone(),
            sim: inv.sim.clone(),
            iterators: Mutex::default(),
            notifier: Mutex::new(Some(notifier)),
        }
    }
}
