//! [`PeerConnection`]: one registered chaincode stream, seen from the peer's side once it is *ready*.
//!
//! Shaped like the peer's `core/chaincode/handler.go`:
//! - one reader task takes every message off the stream in order; one writer channel carries everything sent;
//! - each transaction waits for its COMPLETED/ERROR, routed by `tx_key(channel_id, txid)` (and both fields must
//!   echo exactly: a result that does not match is never delivered, so the transaction times out as on a peer);
//! - each state request is served on its own task; while one is being served for a (channel, txid), a second one for
//!   the same pair is silently dropped, as the peer drops it ("Another request pending…");
//! - errors go back as ERROR with the peer's text, `"<TYPE> failed: transaction ID: <txid>: <cause>"`;
//! - a message the peer does not accept in the ready state ends the stream, and every transaction in flight fails
//!   with "chaincode stream terminated".

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use prost::Message;
use tokio::sync::{mpsc, oneshot, watch};
use tonic::Streaming;
use wasmcc_proto::protos::chaincode_message::Type;
use wasmcc_proto::protos::{
    write_record, ChaincodeAdditionalParams, ChaincodeEvent, ChaincodeInput, ChaincodeMessage, DelState, GetState,
    GetStateMetadata, GetStateMultiple, GetStateMultipleResult, PutState, PutStateMetadata, QueryResponse,
    QueryStateClose, QueryStateNext, Response, WriteBatchState,
};
use wasmcc_proto::tx_key;

use super::log::{Disposition, RequestLog};
use super::peer::{ConnectOptions, PeerSim};
use super::proposal::{build_proposal, Identity, ProposalSpec};
use super::world::{CommitStatus, RwSet};
use super::{type_name, SimError};

/// Per-transaction options: what a client puts into its proposal, and whether to submit.
#[derive(Clone, Debug)]
pub struct TxOptions {
    /// The proposal's `TransientMap` (private inputs; never part of the transaction).
    pub transient: HashMap<String, Vec<u8>>,
    /// The signer. `None`: [`Identity::default_user`].
    pub creator: Option<Identity>,
    /// Use this txid instead of the one computed from the nonce and creator.
    pub txid: Option<String>,
    /// `ChaincodeInput.decorations` in the TRANSACTION/INIT payload (what the peer's decorator plugins add).
    pub decorations: HashMap<String, Vec<u8>>,
    /// Commit on success (a gateway *submit*). `false`: only endorse, like *evaluate*; nothing is committed.
    pub submit: bool,
}

impl Default for TxOptions {
    fn default() -> Self {
        TxOptions { transient: HashMap::new(), creator: None, txid: None, decorations: HashMap::new(), submit: true }
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

    pub fn decoration(mut self, key: impl Into<String>, value: impl Into<Vec<u8>>) -> TxOptions {
        self.decorations.insert(key.into(), value.into());
        self
    }

    /// Endorse only: run the transaction but never commit its write set.
    pub fn evaluate(mut self) -> TxOptions {
        self.submit = false;
        self
    }
}

/// What the chaincode answered.
#[derive(Clone, Debug, PartialEq)]
pub enum TxOutcome {
    /// COMPLETED: the decoded `Response` (any status, including ≥ 400).
    Completed(Response),
    /// ERROR: its payload as text (the peer reports it as "transaction returned with failure: <text>").
    Error(String),
}

/// One finished transaction.
#[derive(Clone, Debug)]
pub struct TxResult {
    pub txid: String,
    pub channel_id: String,
    pub outcome: TxOutcome,
    /// The chaincode event of a COMPLETED, with `chaincode_id` and `tx_id` filled in by the peer (the chaincode
    /// name and the txid), overwriting whatever the chaincode put there.
    pub event: Option<ChaincodeEvent>,
    /// What the transaction read and wrote in its namespace.
    pub rwset: RwSet,
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
}

/// A registered, ready chaincode stream. Clone it to run transactions concurrently; the stream ends when the last
/// clone is dropped, on [`PeerConnection::close`], or when the chaincode breaks the protocol.
#[derive(Clone)]
pub struct PeerConnection {
    shared: Arc<Shared>,
    _handle: Arc<HandleGuard>,
}

impl std::fmt::Debug for PeerConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerConnection")
            .field("ccid", &self.shared.ccid)
            .field("namespace", &self.shared.namespace)
            .field("terminated", &self.shared.termination.reason())
            .finish_non_exhaustive()
    }
}

/// Ends the stream when the last user handle goes (the reader task keeps `Shared` alive, not the stream).
struct HandleGuard(Termination);

impl Drop for HandleGuard {
    fn drop(&mut self) {
        self.0.end("peer connection dropped");
    }
}

/// Whether, and why, the stream has ended. Everything that must stop with the stream waits on it.
#[derive(Clone, Debug)]
pub(crate) struct Termination(Arc<watch::Sender<Option<String>>>);

impl Termination {
    pub(crate) fn new() -> Termination {
        Termination(Arc::new(watch::channel(None).0))
    }

    /// Records the first reason; later calls change nothing.
    pub(crate) fn end(&self, reason: impl Into<String>) {
        let reason = reason.into();
        self.0.send_if_modified(|current| {
            let first = current.is_none();
            if first {
                *current = Some(reason);
            }
            first
        });
    }

    pub(crate) fn reason(&self) -> Option<String> {
        self.0.borrow().clone()
    }

    /// Resolves once the stream has ended (at once if it already has).
    pub(crate) fn wait(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.0.subscribe();
        async move {
            // An error means every sender is gone, which also means the connection is gone.
            let _ = rx.wait_for(Option::is_some).await;
        }
    }
}

/// What the reader, the request tasks and the transactions share.
struct Shared {
    sim: PeerSim,
    ccid: String,
    namespace: String,
    opts: ConnectOptions,
    out: mpsc::UnboundedSender<ChaincodeMessage>,
    termination: Termination,
    log: RequestLog,
    /// Transactions in flight, by `tx_key`.
    txs: Mutex<HashMap<String, Arc<TxContext>>>,
    /// `tx_key`s with a state request being served: the peer's `ActiveTransactions`.
    busy: Mutex<HashSet<String>>,
}

/// The peer's `TransactionContext`: the simulator of one transaction and where its result goes.
struct TxContext {
    channel_id: String,
    txid: String,
    is_init: bool,
    rwset: Mutex<RwSet>,
    notifier: Mutex<Option<oneshot::Sender<ChaincodeMessage>>>,
}

/// Removes a transaction's context when its invocation ends, however it ends (result, timeout, cancellation).
/// From then on, its requests get "no ledger context", as on a peer.
struct Registration<'a> {
    shared: &'a Shared,
    key: String,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        lock(&self.shared.txs).remove(&self.key);
    }
}

const PRIVATE_DATA_IN_INIT: &str = "private data APIs are not allowed in chaincode Init()";
const PRIVATE_DATA_UNSUPPORTED: &str = "private data is not supported by this simulator yet";
const METADATA_UNSUPPORTED: &str = "state metadata is not supported by this simulator yet";

impl PeerConnection {
    /// Takes over a stream that has just been sent REGISTERED and READY: starts the reader (and the keepalive
    /// sender, if configured).
    pub(crate) fn start(
        sim: PeerSim,
        ccid: String,
        opts: ConnectOptions,
        out: mpsc::UnboundedSender<ChaincodeMessage>,
        termination: Termination,
        log: RequestLog,
        inbound: Streaming<ChaincodeMessage>,
    ) -> PeerConnection {
        if let Some(every) = opts.keepalive {
            tokio::spawn(send_keepalives(every, out.clone(), termination.clone()));
        }
        // For CCaaS the namespace is the chaincode definition's name; the label is the usual choice.
        let namespace = opts.namespace.clone().unwrap_or_else(|| ccid.split(':').next().unwrap_or(&ccid).to_owned());
        let shared = Arc::new(Shared {
            sim,
            ccid,
            namespace,
            opts,
            out,
            termination: termination.clone(),
            log,
            txs: Mutex::default(),
            busy: Mutex::default(),
        });
        tokio::spawn(read_loop(shared.clone(), inbound));
        PeerConnection { shared, _handle: Arc::new(HandleGuard(termination)) }
    }

    /// The package ID the chaincode registered with.
    pub fn ccid(&self) -> &str {
        &self.shared.ccid
    }

    /// The namespace (chaincode name) whose state transactions read and write.
    pub fn namespace(&self) -> &str {
        &self.shared.namespace
    }

    /// The READY payload that was sent (`None`: an empty payload).
    pub fn ready_params(&self) -> Option<&ChaincodeAdditionalParams> {
        self.shared.opts.ready_params.as_ref()
    }

    /// Every message received from the chaincode, REGISTER included.
    pub fn log(&self) -> &RequestLog {
        &self.shared.log
    }

    /// The simulator whose world state this connection serves.
    pub fn sim(&self) -> &PeerSim {
        &self.shared.sim
    }

    /// Why the stream ended, if it has.
    pub fn termination_reason(&self) -> Option<String> {
        self.shared.termination.reason()
    }

    pub fn is_terminated(&self) -> bool {
        self.termination_reason().is_some()
    }

    /// Ends the stream, as a peer that stops or deregisters the chaincode.
    pub fn close(&self) {
        self.shared.termination.end("closed by the simulator");
    }

    /// Resolves when the stream has ended.
    pub async fn closed(&self) {
        self.shared.termination.wait().await
    }

    /// Submits a TRANSACTION with default options.
    pub async fn invoke(&self, channel_id: &str, args: Vec<Vec<u8>>) -> Result<TxResult, SimError> {
        self.execute(Type::Transaction, channel_id, args, &TxOptions::default()).await
    }

    /// Runs a TRANSACTION with `opts`.
    pub async fn invoke_with(
        &self,
        channel_id: &str,
        args: Vec<Vec<u8>>,
        opts: &TxOptions,
    ) -> Result<TxResult, SimError> {
        self.execute(Type::Transaction, channel_id, args, opts).await
    }

    /// Submits an INIT (`is_init` true), with default options.
    pub async fn init(&self, channel_id: &str, args: Vec<Vec<u8>>) -> Result<TxResult, SimError> {
        self.execute(Type::Init, channel_id, args, &TxOptions::default()).await
    }

    /// Runs an INIT with `opts`.
    pub async fn init_with(
        &self,
        channel_id: &str,
        args: Vec<Vec<u8>>,
        opts: &TxOptions,
    ) -> Result<TxResult, SimError> {
        self.execute(Type::Init, channel_id, args, opts).await
    }

    /// The peer's `Handler.Execute`: create the transaction context, send the message, wait for the result, the
    /// execute timeout or the end of the stream; then, like the endorser and committer, commit a success.
    async fn execute(
        &self,
        kind: Type,
        channel_id: &str,
        args: Vec<Vec<u8>>,
        opts: &TxOptions,
    ) -> Result<TxResult, SimError> {
        let shared = &*self.shared;
        let is_init = kind == Type::Init;
        let input = ChaincodeInput { args, decorations: opts.decorations.clone(), is_init };
        let creator = opts.creator.as_ref().unwrap_or_else(|| Identity::default_user());
        let proposal = build_proposal(&ProposalSpec {
            channel_id,
            chaincode_name: &shared.namespace,
            input: &input,
            transient: &opts.transient,
            creator,
            txid: opts.txid.as_deref(),
        })?;
        let txid = proposal.txid;

        let (notifier, result) = oneshot::channel();
        let ctx = Arc::new(TxContext {
            channel_id: channel_id.to_owned(),
            txid: txid.clone(),
            is_init,
            rwset: Mutex::default(),
            notifier: Mutex::new(Some(notifier)),
        });
        let key = tx_key(channel_id, &txid);
        let registration = {
            let mut txs = lock(&shared.txs);
            if txs.contains_key(&key) {
                // The peer's TXContexts.Create fails and nothing is sent.
                return Err(SimError::DuplicateTxid { channel_id: channel_id.to_owned(), txid });
            }
            txs.insert(key.clone(), ctx.clone());
            Registration { shared, key }
        };

        let msg = ChaincodeMessage {
            r#type: kind as i32,
            payload: input.encode_to_vec(),
            txid: txid.clone(),
            proposal: Some(proposal.signed),
            channel_id: channel_id.to_owned(),
            ..Default::default()
        };
        if shared.out.send(msg).is_err() {
            return Err(SimError::StreamTerminated { txid });
        }

        let reply = tokio::select! {
            reply = result => match reply {
                Ok(reply) => reply,
                Err(_) => return Err(SimError::StreamTerminated { txid }),
            },
            _ = tokio::time::sleep(shared.opts.execute_timeout) => return Err(SimError::ExecuteTimeout { txid }),
            _ = shared.termination.wait() => return Err(SimError::StreamTerminated { txid }),
        };
        drop(registration);
        let rwset = std::mem::take(&mut *lock(&ctx.rwset));
        shared.finish(reply, rwset, opts.submit)
    }
}

impl Shared {
    fn context(&self, channel_id: &str, txid: &str) -> Option<Arc<TxContext>> {
        let txs = lock(&self.txs);
        let ctx = txs.get(&tx_key(channel_id, txid))?;
        // Stricter than the peer's bare concatenation: both fields must match, never just their concatenation.
        (ctx.channel_id == channel_id && ctx.txid == txid).then(|| ctx.clone())
    }

    /// Turns the chaincode's answer into a [`TxResult`], committing a success that is to be submitted.
    fn finish(&self, reply: ChaincodeMessage, rwset: RwSet, submit: bool) -> Result<TxResult, SimError> {
        let txid = reply.txid.clone();
        let channel_id = reply.channel_id.clone();
        if reply.r#type != Type::Completed as i32 {
            let text = String::from_utf8_lossy(&reply.payload).into_owned();
            return Ok(TxResult {
                txid,
                channel_id,
                outcome: TxOutcome::Error(text),
                event: None,
                rwset,
                commit: CommitStatus::NotSubmitted,
                message: reply,
            });
        }
        let response = Response::decode(&reply.payload[..])
            .map_err(|source| SimError::BadResponse { txid: txid.clone(), source })?;
        let event = reply.chaincode_event.clone().map(|event| ChaincodeEvent {
            chaincode_id: self.namespace.clone(),
            tx_id: txid.clone(),
            ..event
        });
        // The endorser endorses only status < 400 (shim ERRORTHRESHOLD); only an endorsed transaction is ordered.
        let commit = if submit && response.status < 400 {
            self.sim.commit(&channel_id, &self.namespace, &rwset)
        } else {
            CommitStatus::NotSubmitted
        };
        Ok(TxResult { txid, channel_id, outcome: TxOutcome::Completed(response), event, rwset, commit, message: reply })
    }

    /// The reader's dispatch for one message in the ready state (the peer's `handleMessageReadyState`).
    /// `Err` carries the reason the stream must end.
    fn dispatch(self: &Arc<Self>, msg: ChaincodeMessage) -> Result<(), String> {
        let msg_type = Type::try_from(msg.r#type).ok();
        match msg_type {
            Some(Type::Keepalive) => self.log.record(&msg, Disposition::Ignored),
            Some(Type::Completed | Type::Error) => self.notify(msg),
            Some(t) if is_state_request(t) => {
                let key = tx_key(&msg.channel_id, &msg.txid);
                if !lock(&self.busy).insert(key.clone()) {
                    // handler.go registerTxid: "Another request pending for this CC … Cannot process." No reply.
                    self.log.record(&msg, Disposition::Dropped);
                    return Ok(());
                }
                self.log.record(&msg, Disposition::Handled);
                tokio::spawn(self.clone().handle_request(msg, key));
            }
            _ => {
                self.log.record(&msg, Disposition::StreamEnded);
                return Err(format!(
                    "[{}] Fabric side handler cannot handle message ({}) while in ready state",
                    msg.txid,
                    type_name(msg.r#type)
                ));
            }
        }
        Ok(())
    }

    /// Delivers a COMPLETED/ERROR to its transaction, or ignores it as the peer's `Notify` does.
    fn notify(&self, msg: ChaincodeMessage) {
        let notifier = self.context(&msg.channel_id, &msg.txid).and_then(|ctx| lock(&ctx.notifier).take());
        match notifier {
            Some(notifier) => {
                self.log.record(&msg, Disposition::ResultDelivered);
                let _ = notifier.send(msg);
            }
            None => self.log.record(&msg, Disposition::ResultUnmatched),
        }
    }

    /// Serves one state request on its own task (the peer's `HandleTransaction`), then frees the (channel, txid)
    /// for the next request *before* replying, so the chaincode may send its next request as soon as it has the reply.
    async fn handle_request(self: Arc<Self>, msg: ChaincodeMessage, key: String) {
        if let Some(delay) = self.opts.request_delay {
            tokio::time::sleep(delay).await;
        }
        let (msg_type, payload) = match self.serve(&msg) {
            Ok(payload) => (Type::Response, payload),
            Err(cause) => {
                let text = format!("{} failed: transaction ID: {}: {}", type_name(msg.r#type), msg.txid, cause);
                (Type::Error, text.into_bytes())
            }
        };
        lock(&self.busy).remove(&key);
        let reply = ChaincodeMessage {
            r#type: msg_type as i32,
            payload,
            txid: msg.txid,
            channel_id: msg.channel_id,
            ..Default::default()
        };
        let _ = self.out.send(reply);
    }

    /// One state request against the transaction's simulator: the RESPONSE payload, or the cause of an ERROR.
    fn serve(&self, msg: &ChaincodeMessage) -> Result<Vec<u8>, String> {
        let msg_type = Type::try_from(msg.r#type).map_err(|_| "unknown message type".to_owned())?;
        let Some(ctx) = self.context(&msg.channel_id, &msg.txid) else {
            return Err(match msg_type {
                Type::InvokeChaincode => "could not get valid transaction",
                _ => "no ledger context",
            }
            .to_owned());
        };
        let payload = &msg.payload[..];
        match msg_type {
            Type::GetState => {
                let req: GetState = decode(payload)?;
                ctx.public_only(&req.collection)?;
                Ok(self.read(&ctx, &req.key).unwrap_or_default())
            }
            Type::GetStateMultiple => {
                let req: GetStateMultiple = decode(payload)?;
                ctx.public_only(&req.collection)?;
                let values = req.keys.iter().map(|key| self.read(&ctx, key).unwrap_or_default()).collect();
                Ok(GetStateMultipleResult { values }.encode_to_vec())
            }
            Type::PutState => {
                let req: PutState = decode(payload)?;
                ctx.public_only(&req.collection)?;
                // No empty-key check: the peer's LevelDB state accepts any key (only CouchDB refuses "");
                // refusing an empty key is the shim's job, so a host that forgets to is caught by its own tests.
                lock(&ctx.rwset).record_put(&req.key, req.value);
                Ok(Vec::new())
            }
            Type::DelState => {
                let req: DelState = decode(payload)?;
                ctx.public_only(&req.collection)?;
                lock(&ctx.rwset).record_delete(&req.key);
                Ok(Vec::new())
            }
            Type::WriteBatchState => {
                let req: WriteBatchState = decode(payload)?;
                // Applied in order; a failing record leaves the earlier ones in the simulator, as on the peer.
                for rec in req.rec {
                    match write_record::Type::try_from(rec.r#type) {
                        Ok(write_record::Type::PutState) => {
                            ctx.public_only(&rec.collection)?;
                            lock(&ctx.rwset).record_put(&rec.key, rec.value);
                        }
                        Ok(write_record::Type::DelState) => {
                            ctx.public_only(&rec.collection)?;
                            lock(&ctx.rwset).record_delete(&rec.key);
                        }
                        Ok(write_record::Type::PurgePrivateData) => ctx.purge(&rec.collection)?,
                        Ok(write_record::Type::PutStateMetadata) => return Err(METADATA_UNSUPPORTED.to_owned()),
                        _ => return Err("unknown operation type".to_owned()),
                    }
                }
                Ok(Vec::new())
            }
            Type::GetPrivateDataHash => {
                let _: GetState = decode(payload)?;
                Err(ctx.private_refusal().to_owned())
            }
            Type::PurgePrivateData => {
                // PURGE_PRIVATE_DATA carries a DelState.
                let req: DelState = decode(payload)?;
                ctx.purge(&req.collection).map(|()| Vec::new())
            }
            Type::GetStateMetadata => {
                let _: GetStateMetadata = decode(payload)?;
                Err(METADATA_UNSUPPORTED.to_owned())
            }
            Type::PutStateMetadata => {
                let _: PutStateMetadata = decode(payload)?;
                Err(METADATA_UNSUPPORTED.to_owned())
            }
            Type::QueryStateNext => {
                // No iterator is ever opened here, so every id is unknown: the peer's own answer.
                let _: QueryStateNext = decode(payload)?;
                Err("query iterator not found".to_owned())
            }
            Type::QueryStateClose => {
                // Never fails, even for an unknown id.
                let req: QueryStateClose = decode(payload)?;
                Ok(QueryResponse { has_more: false, id: req.id, ..Default::default() }.encode_to_vec())
            }
            Type::InvokeChaincode => {
                Err("chaincode-to-chaincode invocation is not supported by this simulator yet".to_owned())
            }
            other => Err(format!("{} is not supported by this simulator yet", other.as_str_name())),
        }
    }

    /// A read during simulation: committed state only, recorded in the read set.
    fn read(&self, ctx: &TxContext, key: &str) -> Option<Vec<u8>> {
        let world = self.sim.world();
        world.read(&ctx.channel_id, &self.namespace, key, &mut lock(&ctx.rwset))
    }
}

impl TxContext {
    /// Public state is served; private data gets the peer's refusal in Init, and "not supported" otherwise.
    fn public_only(&self, collection: &str) -> Result<(), String> {
        if collection.is_empty() {
            Ok(())
        } else {
            Err(self.private_refusal().to_owned())
        }
    }

    fn private_refusal(&self) -> &'static str {
        if self.is_init {
            PRIVATE_DATA_IN_INIT
        } else {
            PRIVATE_DATA_UNSUPPORTED
        }
    }

    /// The peer's `purgePrivateData` checks, in its order (the channel is taken to have the V2_5 capability).
    fn purge(&self, collection: &str) -> Result<(), String> {
        if collection.is_empty() {
            return Err("only applicable for private data".to_owned());
        }
        Err(self.private_refusal().to_owned())
    }
}

/// The request types a ready peer serves (everything in `handleMessageReadyState` but COMPLETED/ERROR).
fn is_state_request(msg_type: Type) -> bool {
    matches!(
        msg_type,
        Type::GetState
            | Type::PutState
            | Type::DelState
            | Type::InvokeChaincode
            | Type::GetStateByRange
            | Type::GetQueryResult
            | Type::QueryStateNext
            | Type::QueryStateClose
            | Type::GetHistoryForKey
            | Type::GetStateMetadata
            | Type::PutStateMetadata
            | Type::GetPrivateDataHash
            | Type::PurgePrivateData
            | Type::WriteBatchState
            | Type::GetStateMultiple
    )
}

/// Decodes a request payload; the error text is the peer's ("unmarshal failed: …").
fn decode<M: Message + Default>(payload: &[u8]) -> Result<M, String> {
    M::decode(payload).map_err(|e| format!("unmarshal failed: {e}"))
}

/// Reads the stream until it ends or breaks the protocol, then ends the connection.
async fn read_loop(shared: Arc<Shared>, mut inbound: Streaming<ChaincodeMessage>) {
    let ended = shared.termination.wait();
    tokio::pin!(ended);
    let reason = loop {
        let next = tokio::select! {
            _ = &mut ended => return,
            next = inbound.message() => next,
        };
        match next {
            Ok(Some(msg)) => {
                if let Err(reason) = shared.dispatch(msg) {
                    break format!("error handling message, ending stream: {reason}");
                }
            }
            Ok(None) => break "received EOF, ending chaincode support stream".to_owned(),
            Err(status) => break format!("receive from chaincode support stream failed: {status}"),
        }
    };
    shared.termination.end(reason);
}

/// Sends KEEPALIVE (type only) every `every` until the stream ends.
async fn send_keepalives(every: std::time::Duration, out: mpsc::UnboundedSender<ChaincodeMessage>, end: Termination) {
    let ended = end.wait();
    tokio::pin!(ended);
    let mut ticks = tokio::time::interval(every);
    ticks.tick().await; // The first tick is immediate; the peer's ticker first fires after one interval.
    loop {
        tokio::select! {
            _ = &mut ended => return,
            _ = ticks.tick() => {
                let keepalive = ChaincodeMessage { r#type: Type::Keepalive as i32, ..Default::default() };
                if out.send(keepalive).is_err() {
                    return;
                }
            }
        }
    }
}

/// Locks a mutex, ignoring poisoning: every critical section here is a single map or set operation.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
