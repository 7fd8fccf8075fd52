//! Recorded transactions: everything one transaction received, so that it can run again anywhere, exactly.
//!
//! A guest is deterministic and learns about the world only through its INIT/TRANSACTION message and the peer's
//! replies to its stub calls. A [`Recording`] holds those (the message, each request the transaction sent and the
//! reply it got, in order), with what it answered (the COMPLETED or ERROR message) and the fuel it burned; replaying
//! it ([`replay`]) runs the same module under the same limits with the recording playing the peer, and tells whether
//! anything differs and where.
//!
//! On disk a recording is one file of two lines: the recording as JSON (protobuf messages as base64, with readable
//! summaries beside them for people and `jq`), then `sha256:<hex of the first line>`. A file cut short or changed in
//! any byte is refused by [`Recording::decode`]; [`recorder`] writes each file whole under a temporary name and
//! renames it into place, so a crash never leaves a file that decodes.

pub mod recorder;
pub mod replay;

use std::path::Path;

use prost::Message;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use wasmcc_proto::protos::chaincode_message::Type;
use wasmcc_proto::protos::write_record::Type as WriteRecordType;
use wasmcc_proto::protos::{
    ChaincodeInput, ChaincodeMessage, DelState, GetHistoryForKey, GetQueryResult, GetState, GetStateByRange,
    GetStateMetadata, PutState, PutStateMetadata, QueryStateClose, QueryStateNext, Response, WriteBatchState,
};

use crate::ledger::PeerParams;
use crate::limits::TxLimits;

/// The file format's name and version: the first thing a reader checks.
pub const FORMAT: &str = "wasmcc-recording/1";

/// The file name extension of recordings (what `wasmcc replay DIR` picks up).
pub const EXTENSION: &str = "wasmcc-tx";

/// A recording that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{0}: not a complete recording (its checksum line is missing: the file was cut short)")]
    Truncated(String),
    #[error("{0}: the checksum does not match: the recording was changed or damaged")]
    Checksum(String),
    #[error("{what}: not a {FORMAT} recording: {why}")]
    Malformed { what: String, why: String },
}

/// One request the transaction sent to the peer and the reply it got (type and payload; the txid and channel are
/// the transaction's own).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exchange {
    pub request: Wire,
    pub reply: Wire,
}

/// A message as it crossed the stream: its type and protobuf payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wire {
    #[serde(rename = "type", with = "message_type")]
    pub ty: i32,
    #[serde(with = "b64")]
    pub payload: Vec<u8>,
    /// What it says, for people (ignored when read back).
    #[serde(default, skip_deserializing)]
    pub summary: String,
}

impl Wire {
    /// A message as it crossed; its summary is written only when the recording is ([`Recording::described`]),
    /// off the transaction's path.
    pub fn new(ty: i32, payload: Vec<u8>) -> Wire {
        Wire { ty, payload, summary: String::new() }
    }

    pub fn described(mut self) -> Wire {
        self.summary = describe(self.ty, &self.payload);
        self
    }

    /// Equal as the peer and the guest see it (the summary is derived).
    pub fn same_as(&self, other: &Wire) -> bool {
        self.ty == other.ty && self.payload == other.payload
    }
}

/// The requests and replies of one transaction, as they happen: the ledger appends to it ([`crate::ledger`]).
pub type Tape = std::sync::Arc<std::sync::Mutex<Vec<Exchange>>>;

/// What the transaction ended with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ending {
    /// The COMPLETED or ERROR message the host sent the peer.
    #[serde(with = "b64")]
    pub message: Vec<u8>,
    pub fuel: u64,
    /// What it says, for people (ignored when read back).
    #[serde(default, skip_deserializing)]
    pub summary: String,
}

/// One recorded transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recording {
    pub format: String,
    pub ccid: String,
    /// sha256 hex of the module that ran it.
    pub module_hash: String,
    pub channel_id: String,
    pub txid: String,
    pub is_init: bool,
    /// Seconds since the Unix epoch when it ended (for people; replay ignores it).
    pub recorded_at: u64,
    /// The limits it ran under: replay runs under the same.
    pub limits: TxLimits,
    /// What the peer offered in READY (write batching changes the requests a transaction sends).
    pub peer: PeerParams,
    /// The INIT or TRANSACTION message, protobuf as base64.
    #[serde(with = "b64")]
    pub input: Vec<u8>,
    /// The function and arguments, for people (lossy UTF-8; ignored when read back).
    #[serde(default, skip_deserializing)]
    pub args: Vec<String>,
    pub calls: Vec<Exchange>,
    /// The writes it sent, for people (they are among `calls`, which replay compares; ignored when read back).
    #[serde(default, skip_deserializing)]
    pub writes: Vec<String>,
    pub ending: Ending,
}

/// What a transaction was given and answered, before it is written.
pub struct Transcript<'a> {
    pub ccid: &'a str,
    pub module_hash: &'a str,
    pub input: &'a ChaincodeMessage,
    pub is_init: bool,
    pub limits: TxLimits,
    pub peer: PeerParams,
    pub calls: Vec<Exchange>,
    pub ending: &'a ChaincodeMessage,
    pub fuel: u64,
}

impl Recording {
    /// The recording of a transaction; [`Recording::described`] adds what people read.
    pub fn new(t: Transcript<'_>) -> Recording {
        let input = t.input.encode_to_vec();
        let message = t.ending.encode_to_vec();
        let recorded_at =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        Recording {
            format: FORMAT.to_owned(),
            ccid: t.ccid.to_owned(),
            module_hash: t.module_hash.to_owned(),
            channel_id: t.input.channel_id.clone(),
            txid: t.input.txid.clone(),
            is_init: t.is_init,
            recorded_at,
            limits: t.limits,
            peer: t.peer,
            args: Vec::new(),
            input,
            calls: t.calls,
            writes: Vec::new(),
            ending: Ending { summary: String::new(), message, fuel: t.fuel },
        }
    }

    /// With the summaries people read beside the base64: the arguments, each call, the answer.
    pub fn described(mut self) -> Recording {
        self.args = self.input_message().map(|m| readable_args(&m.payload)).unwrap_or_default();
        for call in &mut self.calls {
            call.request.summary = describe(call.request.ty, &call.request.payload);
            call.reply.summary = describe(call.reply.ty, &call.reply.payload);
        }
        let writes =
            [Type::PutState, Type::DelState, Type::PutStateMetadata, Type::PurgePrivateData, Type::WriteBatchState];
        self.writes = self
            .calls
            .iter()
            .filter(|c| writes.iter().any(|t| *t as i32 == c.request.ty))
            .map(|c| c.request.summary.clone())
            .collect();
        self.ending.summary = describe_ending(&self.ending.message);
        self
    }

    /// The file's bytes: the JSON line and its checksum line.
    pub fn encode(&self) -> Vec<u8> {
        let json = serde_json::to_string(self).expect("a recording serializes");
        let sum = hex::encode(Sha256::digest(json.as_bytes()));
        format!("{json}\nsha256:{sum}\n").into_bytes()
    }

    /// Reads a file written by [`Recording::encode`]; `what` names it in errors.
    pub fn decode(bytes: &[u8], what: &str) -> Result<Recording, RecordingError> {
        let malformed = |why: String| RecordingError::Malformed { what: what.to_owned(), why };
        let text = std::str::from_utf8(bytes).map_err(|e| malformed(format!("not UTF-8 text ({e})")))?;
        let Some((json, rest)) = text.split_once('\n') else { return Err(RecordingError::Truncated(what.into())) };
        let Some(sum) = rest.strip_suffix('\n').and_then(|l| l.strip_prefix("sha256:")) else {
            return Err(RecordingError::Truncated(what.into()));
        };
        if hex::encode(Sha256::digest(json.as_bytes())) != sum {
            return Err(RecordingError::Checksum(what.into()));
        }
        let recording: Recording = serde_json::from_str(json).map_err(|e| malformed(e.to_string()))?;
        if recording.format != FORMAT {
            return Err(malformed(format!("format {:?}", recording.format)));
        }
        recording.input_message().map_err(|e| malformed(format!("input message: {e}")))?;
        recording.ending_message().map_err(|e| malformed(format!("ending message: {e}")))?;
        Ok(recording)
    }

    pub fn read(path: &Path) -> Result<Recording, RecordingError> {
        let what = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| RecordingError::Read { path: what.clone(), source })?;
        Recording::decode(&bytes, &what)
    }

    pub fn input_message(&self) -> Result<ChaincodeMessage, prost::DecodeError> {
        ChaincodeMessage::decode(self.input.as_slice())
    }

    pub fn ending_message(&self) -> Result<ChaincodeMessage, prost::DecodeError> {
        ChaincodeMessage::decode(self.ending.message.as_slice())
    }
}

/// A request or reply in words: its type and what it names (key, range, query), or its size.
pub fn describe(ty: i32, payload: &[u8]) -> String {
    let name = type_name(ty);
    let detail = match Type::try_from(ty) {
        Ok(Type::GetState) => GetState::decode(payload).ok().map(|m| keyed(&m.collection, &m.key)),
        Ok(Type::GetStateMetadata) => GetStateMetadata::decode(payload).ok().map(|m| keyed(&m.collection, &m.key)),
        Ok(Type::GetPrivateDataHash) => GetState::decode(payload).ok().map(|m| keyed(&m.collection, &m.key)),
        Ok(Type::PutState) => {
            PutState::decode(payload).ok().map(|m| format!("{} = {}", keyed(&m.collection, &m.key), lossy(&m.value)))
        }
        Ok(Type::PutStateMetadata) => PutStateMetadata::decode(payload).ok().map(|m| keyed(&m.collection, &m.key)),
        Ok(Type::DelState | Type::PurgePrivateData) => {
            DelState::decode(payload).ok().map(|m| keyed(&m.collection, &m.key))
        }
        Ok(Type::GetStateByRange) => GetStateByRange::decode(payload)
            .ok()
            .map(|m| format!("[{:?}, {:?}){}", m.start_key, m.end_key, collection(&m.collection))),
        Ok(Type::GetQueryResult) => GetQueryResult::decode(payload).ok().map(|m| format!("{:?}", m.query)),
        Ok(Type::GetHistoryForKey) => GetHistoryForKey::decode(payload).ok().map(|m| format!("key {:?}", m.key)),
        Ok(Type::QueryStateNext) => QueryStateNext::decode(payload).ok().map(|m| format!("query {}", m.id)),
        Ok(Type::QueryStateClose) => QueryStateClose::decode(payload).ok().map(|m| format!("query {}", m.id)),
        Ok(Type::WriteBatchState) => WriteBatchState::decode(payload).ok().map(|batch| {
            let writes: Vec<String> = batch
                .rec
                .iter()
                .map(|w| match WriteRecordType::try_from(w.r#type) {
                    Ok(WriteRecordType::PutState) => format!("{} = {}", keyed(&w.collection, &w.key), lossy(&w.value)),
                    _ => format!("{} {}", w.r#type, keyed(&w.collection, &w.key)),
                })
                .collect();
            writes.join(", ")
        }),
        Ok(Type::InvokeChaincode) => ChaincodeInput::decode(payload).ok().map(|_| format!("{} bytes", payload.len())),
        Ok(Type::Error) => Some(lossy(payload)),
        _ => None,
    };
    match detail {
        Some(detail) => format!("{name} {detail}"),
        None => format!("{name} ({} bytes)", payload.len()),
    }
}

/// The COMPLETED or ERROR message in words.
pub fn describe_ending(message: &[u8]) -> String {
    let Ok(m) = ChaincodeMessage::decode(message) else { return "undecodable".into() };
    let event = m.chaincode_event.as_ref().map(|e| format!(", event {:?}", e.event_name)).unwrap_or_default();
    match Type::try_from(m.r#type) {
        Ok(Type::Completed) => match Response::decode(m.payload.as_slice()) {
            Ok(r) if r.status < 400 => format!("COMPLETED status {} payload {}{event}", r.status, lossy(&r.payload)),
            Ok(r) => format!("COMPLETED status {} message {:?}{event}", r.status, r.message),
            Err(_) => "COMPLETED (undecodable response)".into(),
        },
        _ => format!("{} {}{event}", type_name(m.r#type), lossy(&m.payload)),
    }
}

fn readable_args(payload: &[u8]) -> Vec<String> {
    let args = ChaincodeInput::decode(payload).map(|i| i.args).unwrap_or_default();
    args.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect()
}

fn keyed(collection_name: &str, key: &str) -> String {
    format!("key {key:?}{}", collection(collection_name))
}

fn collection(name: &str) -> String {
    if name.is_empty() {
        String::new()
    } else {
        format!(" in {name}")
    }
}

/// Bytes as text when they are short UTF-8, else their size.
fn lossy(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) if text.len() <= 120 => format!("{text:?}"),
        _ => format!("({} bytes)", bytes.len()),
    }
}

fn type_name(ty: i32) -> String {
    Type::try_from(ty).map(|t| t.as_str_name().to_owned()).unwrap_or_else(|_| format!("type {ty}"))
}

/// Message types by name, as Fabric's protos spell them.
mod message_type {
    use serde::{Deserialize, Deserializer, Serializer};
    use wasmcc_proto::protos::chaincode_message::Type;

    pub fn serialize<S: Serializer>(ty: &i32, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::type_name(*ty))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
        let name = String::deserialize(d)?;
        Type::from_str_name(&name)
            .map(|t| t as i32)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown message type {name:?}")))
    }
}

mod b64 {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample() -> Recording {
        let input = ChaincodeInput { args: vec![b"get".to_vec(), b"k".to_vec()], ..Default::default() };
        let input = ChaincodeMessage {
            r#type: Type::Transaction as i32,
            payload: input.encode_to_vec(),
            txid: "tx1".into(),
            channel_id: "ch".into(),
            ..Default::default()
        };
        let get = GetState { key: "k".into(), collection: String::new() };
        let calls = vec![Exchange {
            request: Wire::new(Type::GetState as i32, get.encode_to_vec()),
            reply: Wire::new(Type::Response as i32, b"v".to_vec()),
        }];
        let response = Response { status: 200, payload: b"v".to_vec(), ..Default::default() };
        let ending = ChaincodeMessage {
            r#type: Type::Completed as i32,
            payload: response.encode_to_vec(),
            ..Default::default()
        };
        let recording = Recording::new(Transcript {
            ccid: "cc:ab",
            module_hash: "ab",
            input: &input,
            is_init: false,
            limits: TxLimits::default(),
            peer: PeerParams::default(),
            calls,
            ending: &ending,
            fuel: 42,
        });
        recording.described()
    }

    #[test]
    fn a_recording_reads_back_as_written_and_says_what_it_holds() {
        let recording = sample();
        let bytes = recording.encode();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.contains(r#""summary":"GET_STATE key \"k\"""#), "{text}");
        assert!(text.contains(r#""args":["get","k"]"#) && text.contains("COMPLETED status 200"), "{text}");
        assert!(text.contains(r#""writes":[]"#), "{text}");
        let back = Recording::decode(&bytes, "r").unwrap();
        assert_eq!((back.txid.as_str(), back.ending.fuel, back.calls.len()), ("tx1", 42, 1));
        assert!(back.calls[0].request.same_as(&recording.calls[0].request));
        assert_eq!(back.input, recording.input);
    }

    #[test]
    fn cut_or_changed_recordings_are_refused() {
        let bytes = sample().encode();
        for cut in [bytes.len() - 1, bytes.len() - 30, bytes.len() / 2, 0] {
            let err = Recording::decode(&bytes[..cut], "r").unwrap_err();
            assert!(matches!(err, RecordingError::Truncated(_)), "cut at {cut}: {err}");
        }
        let mut changed = bytes.clone();
        let at = changed.iter().position(|b| *b == b'1').unwrap();
        changed[at] = b'2';
        assert!(matches!(Recording::decode(&changed, "r").unwrap_err(), RecordingError::Checksum(_)));
        let garbage = b"{}\nsha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\n";
        let err = Recording::decode(garbage, "r").unwrap_err().to_string();
        assert!(err.contains("not a wasmcc-recording/1 recording"), "{err}");
    }
}
