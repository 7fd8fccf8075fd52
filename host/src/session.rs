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
//! channel. When the stream ends, every transaction task is aborted, which drops its instance.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::{Stream, StreamExt};
use prost::Message;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use wasmcc_proto::protos::chaincode_message::Type;
use wasmcc_proto::protos::{ChaincodeEvent, ChaincodeId, ChaincodeMessage, Response};

use crate::context::TxContext;
use crate::engine::WasmEngine;
use crate::executor::{self, GuestOutcome, LoadError, LoadedChaincode};
use crate::ledger::{PeerParams, TxLedger};
use crate::limits;
use crate::metrics::TransactionGuard;

/// Response.status at or above which the Go shim turns an Init result into ERROR.
const SHIM_ERROR_STATUS: i32 = 500;

/// How a session ended, when it did not end with the peer closing the stream.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("the stream to the peer failed: {0}")]
    Transport(String),
    #[error("the peer stream closed before the handshake completed")]
    ClosedDuringHandshake,
    #[error("{0}")]
    Protocol(String),
    #[error(transparent)]
    Load(#[from] LoadError),
}

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

/// Mailboxes of the transactions in flight, keyed by `channel_id + txid`.
type Routes = Arc<Mutex<HashMap<String, mpsc::Sender<ChaincodeMessage>>>>;

/// One peer stream serving one chaincode.
pub struct Session {
    engine: Arc<WasmEngine>,
    chaincode: Arc<LoadedChaincode>,
    outbound: mpsc::Sender<ChaincodeMessage>,
    state: State,
    routes: Routes,
    tasks: JoinSet<()>,
}

impl Session {
    pub fn new(
        engine: Arc<WasmEngine>,
        chaincode: Arc<LoadedChaincode>,
        outbound: mpsc::Sender<ChaincodeMessage>,
    ) -> Self {
        Session { engine, chaincode, outbound, state: State::Created, routes: Routes::default(), tasks: JoinSet::new() }
    }

    /// What the peer offered in READY, once the handshake is done.
    pub fn peer_params(&self) -> Option<PeerParams> {
        match self.state {
            State::Ready(p) => Some(p),
            _ => None,
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
        let register = ChaincodeMessage {
            r#type: Type::Register as i32,
            payload: ChaincodeId { name: self.chaincode.ccid.clone(), ..Default::default() }.encode_to_vec(),
            ..Default::default()
        };
        self.send(register).await?;
        let result = loop {
            tokio::select! {
                msg = inbound.next() => match msg {
                    None if matches!(self.state, State::Ready(_)) => break Ok(()),
                    None => break Err(SessionError::ClosedDuringHandshake),
                    Some(Err(status)) => break Err(SessionError::Transport(status.to_string())),
                    Some(Ok(msg)) => {
                        if let Err(e) = self.handle(msg).await {
                            break Err(e);
                        }
                    }
                },
                Some(_) = self.tasks.join_next(), if !self.tasks.is_empty() => {}
                _ = self.chaincode.retired.cancelled() => break Ok(()),
            }
        };
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
        result
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
                tracing::info!(ccid = %self.chaincode.ccid, ?params, "session ready");
                self.state = State::Ready(params);
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
        let key = wasmcc_proto::tx_key(&msg.channel_id, &msg.txid);
        let (reply_tx, reply_rx) = mpsc::channel(1);
        if let Some(text) = self.admit(&key, reply_tx) {
            return self.send(error_message(&msg.txid, &msg.channel_id, text)).await;
        }
        let engine = self.engine.clone();
        let chaincode = self.chaincode.clone();
        let outbound = self.outbound.clone();
        let routes = self.routes.clone();
        self.tasks.spawn(async move {
            let _guard = TransactionGuard::new(engine.gauges().clone());
            let ledger = TxLedger::new(msg.channel_id.clone(), msg.txid.clone(), outbound.clone(), reply_rx, params);
            let outcome = match TxContext::from_message(&msg, is_init) {
                Ok(ctx) => executor::execute(&engine, &chaincode, ctx, ledger).await,
                Err(e) => GuestOutcome::Failed(e.to_string()),
            };
            routes.lock().expect("routes lock").remove(&key);
            let _ = outbound.send(result_message(&msg, is_init, outcome)).await;
        });
        Ok(())
    }

    /// Registers a transaction's mailbox, or says why the transaction is refused.
    fn admit(&self, key: &str, mailbox: mpsc::Sender<ChaincodeMessage>) -> Option<String> {
        let mut routes = self.routes.lock().expect("routes lock");
        if routes.contains_key(key) {
            Some(format!("[{}] channel exists", short(key)))
        } else if routes.len() >= limits::MAX_TX_PER_STREAM {
            Some(format!("too many concurrent transactions on this stream (limit {})", limits::MAX_TX_PER_STREAM))
        } else {
            routes.insert(key.to_string(), mailbox);
            None
        }
    }

    /// Hands a RESPONSE or ERROR to the transaction waiting for it. A reply nobody waits for is logged and
    /// dropped: unlike the Go shim, which closes the whole stream, we keep the other transactions alive.
    fn route_reply(&self, msg: ChaincodeMessage) {
        let key = wasmcc_proto::tx_key(&msg.channel_id, &msg.txid);
        let sender = self.routes.lock().expect("routes lock").get(&key).cloned();
        match sender {
            Some(sender) => {
                if sender.try_send(msg).is_err() {
                    tracing::warn!(txid = %key, "reply with no outstanding request dropped");
                }
            }
            None => tracing::warn!(txid = %key, "reply for an unknown transaction dropped"),
        }
    }

    async fn send(&self, msg: ChaincodeMessage) -> Result<(), SessionError> {
        self.outbound.send(msg).await.map_err(|_| SessionError::Transport("the outbound stream is closed".into()))
    }
}

/// COMPLETED or ERROR exactly as the Go shim sends them (fabric-protocol.md §4).
fn result_message(msg: &ChaincodeMessage, is_init: bool, outcome: GuestOutcome) -> ChaincodeMessage {
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
        GuestOutcome::Failed(text) => error_message(&msg.txid, &msg.channel_id, text),
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

/// The shim's log prefix: the first 8 characters of an id.
fn short(id: &str) -> &str {
    id.char_indices().nth(8).map(|(i, _)| &id[..i]).unwrap_or(id)
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
        let m = result_message(&tx("t2"), false, GuestOutcome::Failed("chaincode trapped: x".into()));
        assert_eq!(m.r#type, Type::Error as i32);
        assert_eq!(m.payload, b"chaincode trapped: x");
    }

    #[test]
    fn short_ids_like_the_shim() {
        assert_eq!(short("ch1234567890"), "ch123456");
        assert_eq!(short("ab"), "ab");
    }
}
