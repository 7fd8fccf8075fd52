//! The protocol state machine for one peer stream, like the Go shim's `handler.go`.
//!
//! ```text
//! created ──send REGISTER──▶ (wait) ──REGISTERED──▶ established ──READY──▶ ready
//! ready: INIT / TRANSACTION  → a task per transaction (fresh instance)
//!        RESPONSE / ERROR    → routed to the waiting transaction by channel_id + txid
//!        KEEPALIVE (any state) → echoed back unchanged
//!        anything else       → ERROR to the peer, stream closed (as the Go shim does)
//! ```
//!
//! One task reads the stream; each transaction runs in its own task; every outgoing message goes through one
//! channel. When the stream ends, every transaction task is aborted, which drops its instance, and the stream's task
//! waits until they are gone. When the host ends it (the chaincode was removed, the peer broke the protocol, a frame
//! could not be read), every transaction still in flight gets ERROR first, and the caller ends the stream with the
//! [`SessionError`]'s gRPC status.
//!
//! The handshake has a deadline ([`limits::REGISTER_TIMEOUT`]): a peer that does not expect the CCID we REGISTER
//! stays silent, and while it waits for the chaincode it expected it holds its channel's ledger lock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt};
use prost::Message;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use wasmcc_proto::protos::chaincode_message::Type;
use wasmcc_proto::protos::{ChaincodeEvent, ChaincodeId, ChaincodeMessage, Response};

use crate::context::TxContext;
use crate::engine::WasmEngine;
use crate::executor::{self, GuestOutcome, LoadError, LoadedChaincode, TxStats};
use crate::failure::TxFailure;
use crate::ledger::{self, PeerParams, TxLedger};
use crate::limits;
use crate::log_throttle::LogThrottle;
use crate::outbound;
use crate::quota::{placement, GuestTasks};
use crate::recording::Transcript;
use crate::telemetry::{OpenStream, Outcome, TransactionGuard};

/// Response.status at or above which the Go shim turns an Init result into ERROR.
const SHIM_ERROR_STATUS: i32 = 500;

/// How a session ended, when it did not end with the peer closing the stream.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("the stream to the peer failed: {0}")]
    Transport(tonic::Status),
    #[error("the peer stream closed before the handshake completed")]
    ClosedDuringHandshake,
    #[error("the stream to the peer is closed")]
    OutboundClosed,
    #[error("the peer did not answer REGISTER of {ccid} within {} s (a peer stays silent when it expects another chaincode on this route)", .after.as_secs())]
    HandshakeTimeout { ccid: String, after: Duration },
    #[error("{0}")]
    Protocol(String),
    #[error("chaincode {0} is no longer served by this host (removed, or the host is stopping)")]
    Retired(String),
    /// The host is stopping and what the stream ran has answered: the peer redials for its next transaction.
    #[error("the host is stopping: this stream ends with every transaction it started answered; dial again")]
    Drained,
    #[error(transparent)]
    Load(#[from] LoadError),
}

impl SessionError {
    /// Whether the stream ended the way streams end: the peer went away (it restarted, its connection dropped, it
    /// closed the stream early) or the chaincode was removed. An operator needs a line for it, not a warning.
    pub fn is_routine(&self) -> bool {
        matches!(
            self,
            SessionError::Transport(_)
                | SessionError::ClosedDuringHandshake
                | SessionError::OutboundClosed
                | SessionError::Retired(_)
                | SessionError::Drained
        )
    }

    /// The gRPC status the stream ends with: never OK, with the reason.
    pub fn status(&self) -> tonic::Status {
        let text = self.to_string();
        match self {
            SessionError::Transport(status) => tonic::Status::new(status.code(), text),
            SessionError::ClosedDuringHandshake | SessionError::OutboundClosed => tonic::Status::cancelled(text),
            SessionError::HandshakeTimeout { .. } => tonic::Status::deadline_exceeded(text),
            SessionError::Protocol(_) => tonic::Status::failed_precondition(text),
            SessionError::Retired(_) | SessionError::Load(_) | SessionError::Drained => {
                tonic::Status::unavailable(text)
            }
        }
    }
}

/// Lines a peer can cause at will (replies nobody waits for, duplicate transactions), kept from flooding the log.
static STRAY_REPLIES: LogThrottle = LogThrottle::new();
static DUPLICATE_TXIDS: LogThrottle = LogThrottle::new();

/// Where the session stands in the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Created,
    Established,
    Ready(PeerParams),
}

impl State {
    fn name(&self) -> &'static str {
        match self {
            State::Created => "created",
            State::Established => "established",
            State::Ready(_) => "ready",
        }
    }
}

/// A transaction in flight: who it is, and its mailbox for the peer's replies.
struct InFlight {
    txid: String,
    channel_id: String,
    mailbox: ledger::Mailbox,
}

/// The transactions in flight, keyed by `channel_id + txid`. Hashed with foldhash, not the standard SipHash, whose
/// three hashes of the 70-byte key (insert, each reply, the answer) were 1% of a noop's CPU at c=64: the keys come
/// from the peer, but a stream holds at most [`limits::MAX_TX_PER_STREAM`] of them, so even keys made to collide
/// cost a bounded scan, and foldhash's seed is random per process.
type Routes = Arc<Mutex<HashMap<String, InFlight, foldhash::fast::RandomState>>>;

/// One peer stream serving one chaincode.
pub struct Session {
    engine: Arc<WasmEngine>,
    chaincode: Arc<LoadedChaincode>,
    outbound: mpsc::Sender<ChaincodeMessage>,
    state: State,
    routes: Routes,
    /// The tasks this task runs: transactions placed inline and refusals waiting to be sent.
    tasks: JoinSet<()>,
    /// The transactions on the guest threads: their ends wake no one.
    guests: GuestTasks,
    /// Refusals at the stream's cap waiting out [`limits::REFUSAL_DELAY`]; when as many wait as the stream has
    /// in-flight slots, the stream is not read until one is sent.
    held_refusals: Arc<tokio::sync::Semaphore>,
}

impl Session {
    pub fn new(
        engine: Arc<WasmEngine>,
        chaincode: Arc<LoadedChaincode>,
        outbound: mpsc::Sender<ChaincodeMessage>,
    ) -> Self {
        Session {
            engine,
            chaincode,
            outbound,
            state: State::Created,
            routes: Routes::default(),
            tasks: JoinSet::new(),
            guests: GuestTasks::default(),
            held_refusals: Arc::new(tokio::sync::Semaphore::new(limits::MAX_TX_PER_STREAM)),
        }
    }

    /// Speaks first (REGISTER), then serves the stream until the peer closes it or breaks the protocol.
    pub async fn run<S>(mut self, mut inbound: S) -> Result<(), SessionError>
    where
        S: Stream<Item = Result<ChaincodeMessage, tonic::Status>> + Unpin,
    {
        // A chaincode loaded on first use is loaded now, before REGISTER: the peer then waits for the first answer
        // no longer than it would anyway, and a chaincode that cannot be loaded never registers.
        self.chaincode.program().await?;
        let _open = OpenStream::new(self.chaincode.metrics.clone());
        let register = ChaincodeMessage {
            r#type: Type::Register as i32,
            payload: ChaincodeId { name: self.chaincode.ccid.to_string(), ..Default::default() }.encode_to_vec(),
            ..Default::default()
        };
        self.send(register).await?;
        let handshake_deadline = tokio::time::sleep(limits::REGISTER_TIMEOUT);
        tokio::pin!(handshake_deadline);
        let draining = self.chaincode.draining.clone();
        let result = loop {
            let stopping = draining.is_cancelled();
            if stopping && self.tasks.is_empty() && self.guests.is_empty() {
                break Err(SessionError::Drained);
            }
            let in_handshake = !matches!(self.state, State::Ready(_));
            tokio::select! {
                msg = inbound.next() => match msg {
                    None if !in_handshake => break Ok(()),
                    None => break Err(SessionError::ClosedDuringHandshake),
                    Some(Err(status)) => break Err(SessionError::Transport(status)),
                    Some(Ok(msg)) => {
                        if let Err(e) = self.handle(msg).await {
                            break Err(e);
                        }
                    }
                },
                Some(_) = self.tasks.join_next(), if !self.tasks.is_empty() => {}
                _ = self.guests.ended(), if stopping && !self.guests.is_empty() => {}
                _ = &mut handshake_deadline, if in_handshake => {
                    break Err(SessionError::HandshakeTimeout {
                        ccid: self.chaincode.ccid.to_string(),
                        after: limits::REGISTER_TIMEOUT,
                    });
                }
                _ = self.chaincode.retired.cancelled() => break Err(SessionError::Retired(self.chaincode.ccid.to_string())),
                // Woken once when the host starts to stop; the check above then ends the stream when it is idle.
                _ = draining.cancelled(), if !stopping && self.tasks.is_empty() => {}
            }
        };
        self.tasks.abort_all();
        self.guests.abort_all();
        while self.tasks.join_next().await.is_some() {}
        self.guests.ended().await;
        if let Err(e) = &result {
            self.fail_in_flight(e).await;
        }
        result
    }

    /// ERROR for every transaction the peer still waits on, so none of them waits for its execute timeout. Bounded
    /// in time: a peer that stopped reading gets no more than [`limits::STREAM_END_GRACE`].
    async fn fail_in_flight(&self, why: &SessionError) {
        let in_flight: Vec<InFlight> = self.routes.lock().expect("routes lock").drain().map(|(_, tx)| tx).collect();
        let text = format!("transaction aborted: {why}");
        let send_all = async {
            for tx in in_flight {
                if self.send(error_message(&tx.txid, &tx.channel_id, text.clone())).await.is_err() {
                    return;
                }
            }
        };
        let _ = tokio::time::timeout(limits::STREAM_END_GRACE, send_all).await;
    }

    async fn handle(&mut self, msg: ChaincodeMessage) -> Result<(), SessionError> {
        let ty = Type::try_from(msg.r#type).ok();
        match (self.state, ty) {
            (_, Some(Type::Keepalive)) => self.send(msg).await,
            (State::Created, Some(Type::Registered)) => {
                self.state = State::Established;
                Ok(())
            }
            (State::Established, Some(Type::Ready)) => {
                let params = PeerParams::from_ready(&msg.payload)
                    .map_err(|e| SessionError::Protocol(format!("failed to decode READY payload: {e}")))?;
                tracing::debug!(ccid = %self.chaincode.ccid, ?params, "session ready");
                self.state = State::Ready(params);
                Ok(())
            }
            // A stopping host starts nothing new on a stream: it ends the stream once what runs has answered, and the
            // peer sees that end for this transaction too. Never run, it is safe to send again (another host).
            (State::Ready(_), Some(Type::Transaction | Type::Init)) if self.chaincode.draining.is_cancelled() => {
                tracing::debug!(ccid = %self.chaincode.ccid, txid = %msg.txid, "not started: the host is stopping");
                Ok(())
            }
            (State::Ready(params), Some(Type::Transaction)) => self.start_transaction(msg, false, params).await,
            (State::Ready(params), Some(Type::Init)) => self.start_transaction(msg, true, params).await,
            (State::Ready(_), Some(Type::Response | Type::Error)) => {
                self.route_reply(msg);
                Ok(())
            }
            _ => {
                let text = format!(
                    "[{}] Chaincode handler cannot handle message ({}) while in state: {}",
                    msg.txid,
                    ty.map(|t| t.as_str_name().to_string()).unwrap_or_else(|| msg.r#type.to_string()),
                    self.state.name()
                );
                let _ = self.send(error_message(&msg.txid, "", text.clone())).await;
                Err(SessionError::Protocol(text))
            }
        }
    }

    async fn start_transaction(
        &mut self,
        msg: ChaincodeMessage,
        is_init: bool,
        params: PeerParams,
    ) -> Result<(), SessionError> {
        let received = Instant::now();
        let key = wasmcc_proto::tx_key(&msg.channel_id, &msg.txid);
        let (reply_tx, reply_rx) = ledger::mailbox();
        let others_on_stream = match self.take_slot(&key, &msg, reply_tx) {
            StreamSlot::Taken { others } => others,
            // ERROR carries the txid, so the peer would match it to the first transaction, whose real result
            // would then go nowhere: a duplicate is dropped (a real peer never sends one; it checks txids itself).
            StreamSlot::Duplicate => {
                if let Some(suppressed) = DUPLICATE_TXIDS.allow() {
                    tracing::warn!(ccid = %self.chaincode.ccid, txid = %msg.txid, suppressed,
                        "transaction dropped: the same channel and txid is already in flight on this stream");
                }
                return Ok(());
            }
            // Past as many held refusals as the stream has slots, the session stops reading this stream (the peer's
            // own, no other) until one is sent.
            StreamSlot::Full(text) => {
                let permit = self.held_refusals.clone().acquire_owned().await.expect("the semaphore is never closed");
                self.refuse_later(&msg, text, Held::Permit(permit), received);
                return Ok(());
            }
        };
        // Admitted or queued now, or refused here when the chaincode has no room: the guest threads never see it.
        let entry = match executor::enter(&self.engine, &self.chaincode) {
            Ok(entry) => entry,
            Err(refused) => {
                self.refuse_later(&msg, refused.to_string(), Held::Slot(key), received);
                return Ok(());
            }
        };
        let engine = self.engine.clone();
        let chaincode = self.chaincode.clone();
        let outbound = self.outbound.clone();
        let routes = self.routes.clone();
        let guest_threads = &self.engine.quota().threads;
        // Counted from here, not from when its task first runs: the messages of one read are placed one after the
        // other before any of their tasks runs, and each must see those placed before it.
        let gauges = self.engine.gauges();
        let running = placement::running(gauges, others_on_stream);
        let guard = TransactionGuard::new(gauges.clone());
        let inline = placement::choose(&self.chaincode.inline, running, guest_threads);
        let inline_here = inline.is_some();
        let recording = self.chaincode.recording();
        let tape = recording.as_ref().and_then(|r| r.tape_for(&msg.txid));
        let limits = entry.limits;
        let transaction: placement::Transaction = Box::pin(async move {
            let _guard = guard;
            let mut ledger =
                TxLedger::new(msg.channel_id.clone(), msg.txid.clone(), outbound.clone(), reply_rx, params);
            if let Some(tape) = &tape {
                ledger.record_into(tape.clone());
            }
            // The transaction's one deadline: admission, CPU and the peer's answers included. Past it the
            // instance is dropped with the future, and the peer, which has given up too, gets ERROR.
            let deadline = entry.limits.execute_timeout();
            let (outcome, stats) = match TxContext::from_message(&msg, is_init) {
                Ok(ctx) => {
                    // Boxed: awaited through `timeout`, the instance's future would be laid out twice in this one.
                    let run = Box::pin(executor::execute(&engine, &chaincode, ctx, ledger, entry, inline_here));
                    tokio::time::timeout(deadline, run).await.unwrap_or_else(|_| {
                        let timeout = TxFailure::ExecuteTimeout { timeout: deadline, ccid: chaincode.ccid.to_string() };
                        (GuestOutcome::Failed(timeout), TxStats::default())
                    })
                }
                Err(e) => (GuestOutcome::Failed(e.into()), TxStats::default()),
            };
            let ended = Outcome::of(&outcome);
            chaincode.metrics.finished(ended, received.elapsed());
            tracing::debug!(ccid = %chaincode.ccid, txid = %msg.txid, outcome = ended.label(), fuel = stats.fuel,
                cpu_us = stats.cpu.as_micros() as u64, memory_bytes = stats.memory_bytes,
                took_us = received.elapsed().as_micros() as u64, "transaction");
            let ending = result_message(&msg, is_init, outcome);
            if let (Some(recording), Some(tape)) = (recording, tape) {
                let transcript = |calls| Transcript {
                    ccid: &chaincode.ccid,
                    module_hash: &recording.module_hash,
                    input: &msg,
                    is_init,
                    limits,
                    peer: params,
                    calls,
                    ending: &ending,
                    fuel: stats.fuel,
                };
                recording.finish(&tape, transcript, &ending);
            }
            answer(&outbound, &chaincode.ccid, &routes, &key, ending).await;
        });
        match inline {
            Some(inline) => {
                let engine = self.engine.clone();
                self.tasks.spawn(async move { placement::run(transaction, inline, &engine.quota().threads).await });
            }
            None => guest_threads.spawn(&mut self.guests, transaction),
        }
        Ok(())
    }

    /// Answers a refused transaction's ERROR only after [`limits::REFUSAL_DELAY`], so that a peer retrying at once
    /// cannot turn refusals into a flood that takes the CPU from every other chaincode; then frees what the refusal
    /// held (its stream slot, or one of the stream's held-refusal permits).
    fn refuse_later(&mut self, msg: &ChaincodeMessage, text: String, held: Held, received: Instant) {
        self.chaincode.metrics.finished(Outcome::Refused, received.elapsed());
        let (outbound, routes) = (self.outbound.clone(), self.routes.clone());
        let ccid = self.chaincode.ccid.clone();
        let error = error_message(&msg.txid, &msg.channel_id, text);
        self.tasks.spawn(async move {
            tokio::time::sleep(limits::REFUSAL_DELAY).await;
            match held {
                Held::Slot(key) => answer(&outbound, &ccid, &routes, &key, error).await,
                Held::Permit(permit) => {
                    let _ = outbound.send(error).await;
                    drop(permit);
                }
            }
        });
    }

    /// Registers a transaction's mailbox, or says why the transaction is not run.
    fn take_slot(&self, key: &str, msg: &ChaincodeMessage, mailbox: ledger::Mailbox) -> StreamSlot {
        let mut routes = self.routes.lock().expect("routes lock");
        if routes.contains_key(key) {
            StreamSlot::Duplicate
        } else if routes.len() >= limits::MAX_TX_PER_STREAM {
            StreamSlot::Full(format!(
                "too many concurrent transactions on this stream (limit {})",
                limits::MAX_TX_PER_STREAM
            ))
        } else {
            let in_flight = InFlight { txid: msg.txid.clone(), channel_id: msg.channel_id.clone(), mailbox };
            let others = routes.len();
            routes.insert(key.to_string(), in_flight);
            StreamSlot::Taken { others }
        }
    }

    /// Hands a RESPONSE or ERROR to the transaction waiting for it. A reply nobody waits for is logged and
    /// dropped: unlike the Go shim, which closes the whole stream, we keep the other transactions alive.
    fn route_reply(&self, msg: ChaincodeMessage) {
        let key = wasmcc_proto::tx_key(&msg.channel_id, &msg.txid);
        let sender = self.routes.lock().expect("routes lock").get(&key).map(|tx| tx.mailbox.clone());
        let delivered = sender.is_some_and(|sender| sender.try_send(Box::new(msg)).is_ok());
        if delivered {
            self.engine.quota().threads.woken();
        } else {
            if let Some(suppressed) = STRAY_REPLIES.allow() {
                tracing::warn!(ccid = %self.chaincode.ccid, txid = %key, suppressed,
                    "reply dropped: no transaction of this stream is waiting for it");
            }
        }
    }

    async fn send(&self, msg: ChaincodeMessage) -> Result<(), SessionError> {
        self.outbound.send(msg).await.map_err(|_| SessionError::OutboundClosed)
    }
}

/// Sends a transaction's last message and takes it out of the in-flight set, with no await in between: a task
/// aborted while it waits for room in the outbound channel is still in flight, and gets ERROR from the session.
async fn answer(
    outbound: &mpsc::Sender<ChaincodeMessage>,
    ccid: &Arc<str>,
    routes: &Routes,
    key: &str,
    msg: ChaincodeMessage,
) {
    let Ok(permit) = outbound::reserve(outbound, ccid).await else { return };
    routes.lock().expect("routes lock").remove(key);
    permit.send(msg);
}

/// COMPLETED or ERROR exactly as the Go shim sends them (docs/fabric-protocol.md §4).
pub(crate) fn result_message(msg: &ChaincodeMessage, is_init: bool, outcome: GuestOutcome) -> ChaincodeMessage {
    match outcome {
        GuestOutcome::Returned { response, event } => {
            let chaincode_event =
                event.map(|(event_name, payload)| ChaincodeEvent { event_name, payload, ..Default::default() });
            if is_init && response.status >= SHIM_ERROR_STATUS {
                let mut m = error_message(&msg.txid, &msg.channel_id, response.message);
                m.chaincode_event = chaincode_event;
                return m;
            }
            let response = Response { status: response.status, message: response.message, payload: response.payload };
            ChaincodeMessage {
                r#type: Type::Completed as i32,
                payload: response.encode_to_vec(),
                txid: msg.txid.clone(),
                channel_id: msg.channel_id.clone(),
                chaincode_event,
                ..Default::default()
            }
        }
        GuestOutcome::Failed(failure) => error_message(&msg.txid, &msg.channel_id, failure.to_string()),
    }
}

fn error_message(txid: &str, channel_id: &str, text: String) -> ChaincodeMessage {
    ChaincodeMessage {
        r#type: Type::Error as i32,
        payload: text.into_bytes(),
        txid: txid.to_string(),
        channel_id: channel_id.to_string(),
        ..Default::default()
    }
}

/// What a refused transaction holds until its ERROR is sent.
enum Held {
    /// Its in-flight slot on the stream (keyed `channel_id + txid`), freed by the answer.
    Slot(String),
    /// One of the stream's held-refusal permits (it got no slot: the stream was full).
    Permit(tokio::sync::OwnedSemaphorePermit),
}

/// Whether a TRANSACTION or INIT the peer sent got one of its stream's in-flight slots (the chaincode's own
/// admission, `quota::Admission`, comes after).
enum StreamSlot {
    /// Taken, with this many other transactions of the stream in flight.
    Taken { others: usize },
    /// The same channel and txid is in flight already.
    Duplicate,
    /// The stream has [`limits::MAX_TX_PER_STREAM`] in flight: the text of its ERROR.
    Full(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::GuestResponse;

    fn tx(txid: &str) -> ChaincodeMessage {
        ChaincodeMessage { txid: txid.into(), channel_id: "ch".into(), ..Default::default() }
    }

    #[test]
    fn invoke_with_error_status_is_still_completed() {
        let out = GuestOutcome::Returned {
            response: GuestResponse { status: 500, message: "nope".into(), payload: vec![] },
            event: Some(("e".into(), b"p".to_vec())),
        };
        let m = result_message(&tx("t1"), false, out);
        assert_eq!(m.r#type, Type::Completed as i32);
        assert_eq!((m.txid.as_str(), m.channel_id.as_str()), ("t1", "ch"));
        assert_eq!(Response::decode(m.payload.as_slice()).unwrap().message, "nope");
        assert_eq!(m.chaincode_event.unwrap().event_name, "e");
    }

    #[test]
    fn init_with_status_500_becomes_error_with_the_message() {
        let out = GuestOutcome::Returned {
            response: GuestResponse { status: 500, message: "init failed".into(), payload: vec![] },
            event: None,
        };
        let m = result_message(&tx("t1"), true, out);
        assert_eq!(m.r#type, Type::Error as i32);
        assert_eq!(m.payload, b"init failed");
        assert_eq!(m.channel_id, "ch");
    }

    #[test]
    fn failures_become_error_with_their_text() {
        let m = result_message(&tx("t2"), false, GuestOutcome::Failed(TxFailure::Failed("x".into())));
        assert_eq!(m.r#type, Type::Error as i32);
        assert_eq!(m.payload, b"chaincode failed: x");
        let m = result_message(&tx("t3"), false, GuestOutcome::Failed(TxFailure::OutOfFuel { fuel: 7 }));
        assert_eq!(m.r#type, Type::Error as i32);
        assert_eq!(m.payload, b"chaincode exceeded its fuel budget of 7 (wasm trap: out of fuel)");
    }
}
