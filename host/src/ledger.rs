//! The per-transaction stub: turns a guest's ledger calls into ChaincodeMessages to the peer and waits for the
//! answer, like the Go shim's `handler.callPeerWithChaincodeMsg`.
//!
//! Every method takes `&mut self`, so a transaction can never have two requests outstanding: the peer would
//! silently drop the second one and the transaction would hang until the peer's execute timeout.

use prost::Message;
use tokio::sync::mpsc;
use wasmcc_proto::protos::chaincode_message::Type;
use wasmcc_proto::protos::{ChaincodeAdditionalParams, ChaincodeMessage, DelState, GetState, PutState};

/// Why a stub call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    /// The peer answered ERROR; the text is the peer's.
    #[error("{0}")]
    Peer(String),
    /// The call breaks a rule the shim checks before sending.
    #[error("{0}")]
    InvalidArgument(String),
    /// The stream to the peer is gone; the transaction cannot go on.
    #[error("the peer stream closed while waiting for the {0} response")]
    Disconnected(&'static str),
    /// The peer answered with something that is neither RESPONSE nor ERROR.
    #[error("[{txid}] unexpected message type {got} received while waiting for the {request} response")]
    Unexpected { txid: String, request: &'static str, got: String },
}

/// What the peer offered in READY, kept per stream (older peers send an empty payload: no batching).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PeerParams {
    pub use_write_batch: bool,
    pub max_size_write_batch: u32,
    pub use_get_multiple_keys: bool,
    pub max_size_get_multiple_keys: u32,
}

impl PeerParams {
    /// The Go shim raises an advertised maximum below 100 to 100; so do we, to batch exactly as it does.
    const MIN_BATCH: u32 = 100;

    pub fn from_ready(payload: &[u8]) -> Result<Self, prost::DecodeError> {
        let p = ChaincodeAdditionalParams::decode(payload)?;
        Ok(PeerParams {
            use_write_batch: p.use_write_batch,
            max_size_write_batch: p.max_size_write_batch.max(Self::MIN_BATCH),
            use_get_multiple_keys: p.use_get_multiple_keys,
            max_size_get_multiple_keys: p.max_size_get_multiple_keys.max(Self::MIN_BATCH),
        })
    }
}

/// One transaction's line to the peer: its identity, the stream's writer, and its own mailbox of replies (the
/// session routes RESPONSE and ERROR messages here by `channel_id + txid`).
pub struct TxLedger {
    channel_id: String,
    txid: String,
    outbound: mpsc::Sender<ChaincodeMessage>,
    inbox: mpsc::Receiver<ChaincodeMessage>,
    params: PeerParams,
}

impl TxLedger {
    pub fn new(
        channel_id: String,
        txid: String,
        outbound: mpsc::Sender<ChaincodeMessage>,
        inbox: mpsc::Receiver<ChaincodeMessage>,
        params: PeerParams,
    ) -> Self {
        TxLedger { channel_id, txid, outbound, inbox, params }
    }

    pub fn params(&self) -> PeerParams {
        self.params
    }

    /// GET_STATE: `None` when the peer returns an empty value (it cannot tell absent from empty).
    pub async fn get_state(&mut self, collection: &str, key: &str) -> Result<Option<Vec<u8>>, LedgerError> {
        let req = GetState { key: key.to_string(), collection: collection.to_string() };
        let value = self.call(Type::GetState, req.encode_to_vec()).await?;
        Ok((!value.is_empty()).then_some(value))
    }

    /// PUT_STATE. The key must not be empty (the shim's rule); an empty value deletes, as on the peer.
    pub async fn put_state(&mut self, collection: &str, key: &str, value: Vec<u8>) -> Result<(), LedgerError> {
        if key.is_empty() {
            return Err(LedgerError::InvalidArgument("key must not be an empty string".into()));
        }
        let req = PutState { key: key.to_string(), value, collection: collection.to_string() };
        self.call(Type::PutState, req.encode_to_vec()).await.map(drop)
    }

    /// DEL_STATE.
    pub async fn del_state(&mut self, collection: &str, key: &str) -> Result<(), LedgerError> {
        let req = DelState { key: key.to_string(), collection: collection.to_string() };
        self.call(Type::DelState, req.encode_to_vec()).await.map(drop)
    }

    /// Sends one request and waits for its RESPONSE (payload) or ERROR (the peer's text).
    async fn call(&mut self, ty: Type, payload: Vec<u8>) -> Result<Vec<u8>, LedgerError> {
        let name = ty.as_str_name();
        let msg = ChaincodeMessage {
            r#type: ty as i32,
            payload,
            txid: self.txid.clone(),
            channel_id: self.channel_id.clone(),
            ..Default::default()
        };
        self.outbound.send(msg).await.map_err(|_| LedgerError::Disconnected(name))?;
        let reply = self.inbox.recv().await.ok_or(LedgerError::Disconnected(name))?;
        match Type::try_from(reply.r#type) {
            Ok(Type::Response) => Ok(reply.payload),
            Ok(Type::Error) => Err(LedgerError::Peer(String::from_utf8_lossy(&reply.payload).into_owned())),
            other => Err(LedgerError::Unexpected {
                txid: self.txid.clone(),
                request: name,
                got: other.map(|t| t.as_str_name().to_string()).unwrap_or_else(|v| v.to_string()),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger() -> (TxLedger, mpsc::Receiver<ChaincodeMessage>, mpsc::Sender<ChaincodeMessage>) {
        let (out_tx, out_rx) = mpsc::channel(4);
        let (in_tx, in_rx) = mpsc::channel(4);
        (TxLedger::new("ch".into(), "tx".into(), out_tx, in_rx, PeerParams::default()), out_rx, in_tx)
    }

    fn reply(ty: Type, payload: &[u8]) -> ChaincodeMessage {
        ChaincodeMessage { r#type: ty as i32, payload: payload.to_vec(), ..Default::default() }
    }

    #[tokio::test]
    async fn get_state_sends_request_and_maps_empty_to_none() {
        let (mut l, mut out, inbox) = ledger();
        inbox.send(reply(Type::Response, b"")).await.unwrap();
        assert_eq!(l.get_state("", "k").await.unwrap(), None);
        let sent = out.recv().await.unwrap();
        assert_eq!(sent.r#type, Type::GetState as i32);
        assert_eq!((sent.txid.as_str(), sent.channel_id.as_str()), ("tx", "ch"));
        assert_eq!(GetState::decode(sent.payload.as_slice()).unwrap().key, "k");
    }

    #[tokio::test]
    async fn peer_error_text_reaches_the_caller() {
        let (mut l, _out, inbox) = ledger();
        inbox.send(reply(Type::Error, b"PUT_STATE failed: boom")).await.unwrap();
        let err = l.put_state("", "k", b"v".to_vec()).await.unwrap_err();
        assert_eq!(err, LedgerError::Peer("PUT_STATE failed: boom".into()));
    }

    #[tokio::test]
    async fn empty_key_put_is_refused_locally() {
        let (mut l, mut out, _inbox) = ledger();
        let err = l.put_state("", "", b"v".to_vec()).await.unwrap_err();
        assert!(matches!(err, LedgerError::InvalidArgument(_)));
        assert!(out.try_recv().is_err(), "nothing may reach the peer");
    }

    #[tokio::test]
    async fn a_closed_stream_is_an_error_not_a_hang() {
        let (mut l, _out, inbox) = ledger();
        drop(inbox);
        assert_eq!(l.del_state("", "k").await.unwrap_err(), LedgerError::Disconnected("DEL_STATE"));
    }

    #[test]
    fn ready_params_raise_small_maximums_like_the_shim() {
        let p = ChaincodeAdditionalParams {
            use_write_batch: true,
            max_size_write_batch: 10,
            use_get_multiple_keys: true,
            max_size_get_multiple_keys: 1000,
        };
        let params = PeerParams::from_ready(&p.encode_to_vec()).unwrap();
        assert_eq!(params.max_size_write_batch, 100);
        assert_eq!(params.max_size_get_multiple_keys, 1000);
        assert!(!PeerParams::from_ready(&[]).unwrap().use_write_batch);
    }
}
