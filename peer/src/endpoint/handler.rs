//! The peer's `Handler` for one chaincode stream (`core/chaincode/handler.go`): the transactions in flight, the
//! dispatch of what the chaincode sends, and the execution of an INIT/TRANSACTION.
//!
//! - each transaction waits for its COMPLETED/ERROR, routed by `tx_key(channel_id, txid)` (and both fields must
//!   echo exactly: a result that does not match is never delivered, so the transaction times out as on a peer);
//! - each state request is served on its own task ([`super::requests`]); while one is being served for a (channel,
//!   txid), a second one for the same pair is silently dropped, as the peer drops it ("Another request pending…");
//! - errors go back as ERROR with the peer's text, `"<TYPE> failed: transaction ID: <txid>: <cause>"`;
//! - a message the peer does not accept in the ready state ends the stream.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use prost::Message;
use tokio::sync::{mpsc, oneshot};
use wasmcc_proto::protos::chaincode_message::Type;
use wasmcc_proto::protos::{ChaincodeEvent, ChaincodeMessage, Response};
use wasmcc_proto::tx_key;

use super::connection::Termination;
use super::log::{Disposition, RequestLog};
use super::peer::{ConnectOptions, PeerSim};
use super::tx::{Invocation, TxContext, TxOutcome, TxResult};
use super::SimError;
use crate::endpoint::type_name;
use crate::world::rwset::TxRwSet;
use crate::world::{CommitInfo, CommitStatus};

/// What the reader, the request tasks and the transactions share: the peer's `Handler`.
pub(crate) struct Shared {
    pub(crate) sim: PeerSim,
    pub(crate) ccid: String,
    pub(crate) namespace: String,
    pub(crate) opts: ConnectOptions,
    pub(crate) out: mpsc::UnboundedSender<ChaincodeMessage>,
    pub(crate) termination: Termination,
    pub(crate) log: RequestLog,
    /// Transactions in flight, by `tx_key`: the peer's `TXContexts`.
    txs: Mutex<HashMap<String, Arc<TxContext>>>,
    /// `tx_key`s with a state request being served: the peer's `ActiveTransactions`.
    busy: Mutex<HashSet<String>>,
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

impl Shared {
    pub(crate) fn new(
        sim: PeerSim,
        ccid: String,
        namespace: String,
        opts: ConnectOptions,
        out: mpsc::UnboundedSender<ChaincodeMessage>,
        termination: Termination,
        log: RequestLog,
    ) -> Shared {
        Shared { sim, ccid, namespace, opts, out, termination, log, txs: Mutex::default(), busy: Mutex::default() }
    }
}

impl Shared {
    pub(crate) fn context(&self, channel_id: &str, txid: &str) -> Option<Arc<TxContext>> {
        let txs = lock(&self.txs);
        let ctx = txs.get(&tx_key(channel_id, txid))?;
        // Stricter than the peer's bare concatenation: both fields must match, never just their concatenation.
        (ctx.channel_id == channel_id && ctx.txid == txid).then(|| ctx.clone())
    }

    /// The peer's `Handler.Execute`: create the transaction context, send INIT/TRANSACTION, and wait for the
    /// result, the execute timeout or the end of the stream.
    pub(crate) async fn run(&self, invocation: Invocation) -> Result<ChaincodeMessage, SimError> {
        let (notifier, result) = oneshot::channel();
        let txid = invocation.txid.clone();
        let ctx = Arc::new(TxContext::new(&self.namespace, &invocation, notifier));
        let key = tx_key(&invocation.channel_id, &txid);
        let registration = {
            let mut txs = lock(&self.txs);
            if txs.contains_key(&key) {
                // The peer's TXContexts.Create fails and nothing is sent.
                return Err(SimError::DuplicateTxid { channel_id: invocation.channel_id, txid });
            }
            txs.insert(key.clone(), ctx);
            Registration { shared: self, key }
        };

        let msg = ChaincodeMessage {
            r#type: invocation.kind as i32,
            payload: invocation.input.encode_to_vec(),
            txid: txid.clone(),
            proposal: Some(invocation.proposal),
            channel_id: invocation.channel_id,
            ..Default::default()
        };
        if self.out.send(msg).is_err() {
            return Err(SimError::StreamTerminated { txid });
        }

        let reply = tokio::select! {
            // A reply that arrived before the stream ended is the transaction's answer, as on the peer, where the
            // handler delivers each message before it sees the end of the stream.
            biased;
            reply = result => match reply {
                Ok(reply) => reply,
                Err(_) => return Err(SimError::StreamTerminated { txid }),
            },
            _ = tokio::time::sleep(self.opts.execute_timeout) => return Err(SimError::ExecuteTimeout { txid }),
            _ = self.termination.wait() => return Err(SimError::StreamTerminated { txid }),
        };
        drop(registration);
        Ok(reply)
    }

    /// Turns the chaincode's answer into a [`TxResult`], committing a success that is to be submitted.
    pub(crate) fn finish(
        &self,
        reply: ChaincodeMessage,
        rwset: TxRwSet,
        submit: bool,
        info: CommitInfo,
    ) -> Result<TxResult, SimError> {
        let txid = reply.txid.clone();
        let channel_id = reply.channel_id.clone();
        let namespace = self.namespace.clone();
        let timestamp = info.timestamp;
        if reply.r#type != Type::Completed as i32 {
            let text = String::from_utf8_lossy(&reply.payload).into_owned();
            return Ok(TxResult {
                txid,
                channel_id,
                namespace,
                timestamp,
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
            self.sim.commit_tx(&channel_id, &rwset, &info)
        } else {
            CommitStatus::NotSubmitted
        };
        Ok(TxResult {
            txid,
            channel_id,
            namespace,
            timestamp,
            outcome: TxOutcome::Completed(response),
            event,
            rwset,
            commit,
            message: reply,
        })
    }

    /// The reader's dispatch for one message in the ready state (the peer's `handleMessageReadyState`).
    /// `Err` carries the reason the stream must end.
    pub(crate) fn dispatch(self: &Arc<Self>, msg: ChaincodeMessage) -> Result<(), String> {
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

    /// Delivers a COMPLETED/ERROR to its transaction and closes its query iterators, or ignores it as the peer's
    /// `Notify` does.
    fn notify(&self, msg: ChaincodeMessage) {
        let ctx = self.context(&msg.channel_id, &msg.txid);
        let notifier = ctx.as_ref().and_then(|ctx| lock(&ctx.notifier).take());
        match (ctx, notifier) {
            (Some(ctx), Some(notifier)) => {
                self.log.record(&msg, Disposition::ResultDelivered);
                let _ = notifier.send(msg);
                lock(&ctx.iterators).clear();
            }
            _ => self.log.record(&msg, Disposition::ResultUnmatched),
        }
    }

    /// Serves one state request on its own task (the peer's `HandleTransaction`), then frees the (channel, txid)
    /// for the next request *before* replying, so the chaincode may send its next request as soon as it has the reply.
    async fn handle_request(self: Arc<Self>, msg: ChaincodeMessage, key: String) {
        if let Some(delay) = self.opts.request_delay {
            tokio::time::sleep(delay).await;
        }
        let (msg_type, payload) = match self.serve(&msg).await {
            Ok(payload) => (Type::Response, payload),
            Err(cause) => {
                let text = crate::world::request_error(&type_name(msg.r#type), &msg.txid, &cause);
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

/// Locks a mutex, ignoring poisoning: every critical section here is a single step a panic cannot leave half-done.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
