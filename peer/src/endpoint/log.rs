//! The request log: every message the simulated peer received from the chaincode, in arrival order, with what the
//! peer did about it. Tests assert on it (which requests a transaction made, whether one was dropped), and it is
//! the first thing to read when a conversation goes wrong.

use std::sync::{Arc, Mutex};

use wasmcc_proto::protos::ChaincodeMessage;

/// What the simulated peer did with a received message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// REGISTER with the expected CCID: REGISTERED and READY were sent.
    Registered,
    /// REGISTER with another (or an empty or undecodable) name: nothing was sent, as a real peer does.
    RegisterIgnored,
    /// A state request accepted for handling; a RESPONSE or ERROR follows.
    Handled,
    /// A state request that arrived while another one for the same (channel, txid) was being handled: the peer
    /// silently drops it ("Another request pending…") and never replies.
    Dropped,
    /// COMPLETED or ERROR delivered to the waiting transaction.
    ResultDelivered,
    /// COMPLETED or ERROR for no waiting transaction (unknown or mismatched channel/txid, or already answered):
    /// ignored, as the peer ignores it.
    ResultUnmatched,
    /// KEEPALIVE: ignored in every state.
    Ignored,
    /// A message the peer does not accept in its state: the peer ended the stream.
    StreamEnded,
}

/// One received message.
#[derive(Clone, Debug, PartialEq)]
pub struct LoggedMessage {
    /// Position in arrival order, from 0.
    pub seq: usize,
    /// The raw `ChaincodeMessage.type`.
    pub msg_type: i32,
    /// The type's name as Go prints it (`GET_STATE`), or the number for a value outside the enum.
    pub type_name: String,
    pub txid: String,
    pub channel_id: String,
    pub payload: Vec<u8>,
    pub disposition: Disposition,
}

impl LoggedMessage {
    pub(crate) fn new(seq: usize, msg: &ChaincodeMessage, disposition: Disposition) -> LoggedMessage {
        LoggedMessage {
            seq,
            msg_type: msg.r#type,
            type_name: super::type_name(msg.r#type),
            txid: msg.txid.clone(),
            channel_id: msg.channel_id.clone(),
            payload: msg.payload.clone(),
            disposition,
        }
    }
}

/// A shared list of [`LoggedMessage`]s, appended to by the connection's reader.
#[derive(Clone, Debug, Default)]
pub struct RequestLog {
    inner: Arc<Mutex<LogInner>>,
}

#[derive(Debug, Default)]
struct LogInner {
    next_seq: usize,
    entries: Vec<LoggedMessage>,
}

impl RequestLog {
    pub(crate) fn record(&self, msg: &ChaincodeMessage, disposition: Disposition) {
        let mut inner = self.lock();
        let seq = inner.next_seq;
        inner.next_seq += 1;
        inner.entries.push(LoggedMessage::new(seq, msg, disposition));
    }

    /// A copy of every entry so far.
    pub fn entries(&self) -> Vec<LoggedMessage> {
        self.lock().entries.clone()
    }

    /// The entries of one transaction, in order.
    pub fn for_tx(&self, channel_id: &str, txid: &str) -> Vec<LoggedMessage> {
        let inner = self.lock();
        inner.entries.iter().filter(|e| e.channel_id == channel_id && e.txid == txid).cloned().collect()
    }

    /// How many entries have this disposition.
    pub fn count(&self, disposition: Disposition) -> usize {
        self.lock().entries.iter().filter(|e| e.disposition == disposition).count()
    }

    /// Forgets every entry (long benchmark runs call this to keep memory flat); sequence numbers keep counting.
    pub fn clear(&self) {
        self.lock().entries.clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LogInner> {
        // Nothing can be left half-updated by a panic under this lock: keep logging after one.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
