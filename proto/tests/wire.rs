//! Wire identity against Fabric's official Node bindings (`@hyperledger/fabric-protos`).
//!
//! Our `.proto` files are written from scratch, so a wrong field number or type would still
//! compile and only show up against a real peer. These tests pin the encoding to Fabric's own
//! generated classes instead: Node-encoded samples must decode and re-encode byte for byte,
//! Rust-built samples with the same content must equal Node's bytes, and Node must round-trip
//! our bytes unchanged. The sample content is mirrored in `tests/node/wire.js`.
//!
//! Maps hold at most one entry: map order is not specified, so byte comparisons would be flaky.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use prost::Message;
use wasmcc_proto::common::{ChannelHeader, Envelope, Header, HeaderType, Payload, SignatureHeader};
use wasmcc_proto::gateway::{
    ChaincodeEventsRequest, ChaincodeEventsResponse, CommitStatusRequest, CommitStatusResponse, EndorseRequest,
    EndorseResponse, ErrorDetail, EvaluateRequest, EvaluateResponse, PreparedTransaction, ProposedTransaction,
    SignedChaincodeEventsRequest, SignedCommitStatusRequest, SubmitRequest, SubmitResponse,
};
use wasmcc_proto::kvrwset::{
    range_query_info, HashedRwSet, KvMetadataEntry, KvMetadataWrite, KvMetadataWriteHash, KvRead, KvReadHash, KvWrite,
    KvWriteHash, KvrwSet, QueryReads, QueryReadsMerkleSummary, RangeQueryInfo, Version,
};
use wasmcc_proto::msp::SerializedIdentity;
use wasmcc_proto::orderer::{seek_position, SeekNewest, SeekNextCommit, SeekOldest, SeekPosition, SeekSpecified};
use wasmcc_proto::protos::{
    chaincode_message, chaincode_spec, write_record, ChaincodeAdditionalParams, ChaincodeEvent,
    ChaincodeHeaderExtension, ChaincodeId, ChaincodeInput, ChaincodeInvocationSpec, ChaincodeMessage,
    ChaincodeProposalPayload, ChaincodeSpec, DelState, GetHistoryForKey, GetQueryResult, GetState, GetStateByRange,
    GetStateMetadata, GetStateMultiple, GetStateMultipleResult, Proposal, PurgePrivateState, PutState,
    PutStateMetadata, QueryMetadata, QueryResponse, QueryResponseMetadata, QueryResultBytes, QueryStateClose,
    QueryStateNext, Response, SignedProposal, StateMetadata, StateMetadataResult, WriteBatchState, WriteRecord,
};
use wasmcc_proto::protos::{
    ChaincodeAction, ChaincodeActionPayload, ChaincodeEndorsedAction, Endorsement, ProposalResponse,
    ProposalResponsePayload, Transaction, TransactionAction, TxValidationCode,
};
use wasmcc_proto::queryresult::{KeyModification, Kv};
use wasmcc_proto::rwset::{
    tx_read_write_set, CollectionHashedReadWriteSet, CollectionPvtReadWriteSet, NsPvtReadWriteSet, NsReadWriteSet,
    TxPvtReadWriteSet, TxReadWriteSet,
};

type Samples = Vec<(String, Vec<u8>)>;

// ---------------------------------------------------------------------------------------------
// Node plumbing

fn node_dir() -> PathBuf {
    // Canonicalize so the test also works when the crate is reached through a symlink.
    let manifest = std::fs::canonicalize(env!("CARGO_MANIFEST_DIR")).expect("manifest dir");
    let dir = manifest.parent().expect("workspace root").join("tests/node");
    let protos = dir.join("node_modules/@hyperledger/fabric-protos");
    assert!(
        protos.is_dir(),
        "{} is missing: run scripts/setup-node.sh (installs Fabric's official Node bindings \
         that this wire test compares against)",
        protos.display()
    );
    dir
}

fn run_node(mode: &str, stdin: &str) -> Samples {
    let dir = node_dir();
    let mut child = Command::new(std::env::var("NODE").unwrap_or_else(|_| "node".into()))
        .arg(dir.join("wire.js"))
        .arg(mode)
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start node (Node >= 18 must be on PATH, or set NODE)");
    // Written from a thread so a large input cannot deadlock against a full stdout pipe.
    let mut pipe = child.stdin.take().expect("stdin");
    let input = stdin.to_owned();
    let writer = std::thread::spawn(move || pipe.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("node output");
    writer.join().unwrap().expect("write to node");
    assert!(out.status.success(), "node wire.js {mode} failed: {}", String::from_utf8_lossy(&out.stderr));
    parse_lines(&String::from_utf8(out.stdout).expect("utf-8 from node"))
}

fn parse_lines(text: &str) -> Samples {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (name, data) = l.split_once(' ').unwrap_or((l, ""));
            let bytes = B64.decode(data.trim()).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name.to_owned(), bytes)
        })
        .collect()
}

fn to_lines(samples: &Samples) -> String {
    samples.iter().map(|(n, b)| format!("{n} {}\n", B64.encode(b))).collect()
}

fn node_samples() -> &'static Samples {
    static NODE: OnceLock<Samples> = OnceLock::new();
    NODE.get_or_init(|| run_node("encode", ""))
}

fn node_sample(name: &str) -> &'static [u8] {
    node_samples()
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("wire.js encode produced no {name}"))
        .1
        .as_slice()
}

fn class_of(name: &str) -> &str {
    name.split('#').next().unwrap()
}

/// Decodes with the prost type for the sample's Fabric class and re-encodes.
fn reencode(name: &str, bytes: &[u8]) -> Vec<u8> {
    macro_rules! classes {
        ($($class:literal => $ty:ty),* $(,)?) => {
            match class_of(name) {
                $($class => <$ty>::decode(bytes)
                    .unwrap_or_else(|e| panic!("{name}: prost cannot decode Node's bytes: {e}"))
                    .encode_to_vec(),)*
                other => panic!("no Rust type registered for Fabric class {other}"),
            }
        };
    }
    classes! {
        "google.protobuf.Timestamp" => prost_types::Timestamp,
        "msp.SerializedIdentity" => SerializedIdentity,
        "common.Header" => Header,
        "common.ChannelHeader" => ChannelHeader,
        "common.SignatureHeader" => SignatureHeader,
        "queryresult.KV" => Kv,
        "queryresult.KeyModification" => KeyModification,
        "protos.ChaincodeMessage" => ChaincodeMessage,
        "protos.ChaincodeID" => ChaincodeId,
        "protos.ChaincodeInput" => ChaincodeInput,
        "protos.ChaincodeSpec" => ChaincodeSpec,
        "protos.ChaincodeInvocationSpec" => ChaincodeInvocationSpec,
        "protos.ChaincodeAdditionalParams" => ChaincodeAdditionalParams,
        "protos.ChaincodeEvent" => ChaincodeEvent,
        "protos.SignedProposal" => SignedProposal,
        "protos.Proposal" => Proposal,
        "protos.ChaincodeHeaderExtension" => ChaincodeHeaderExtension,
        "protos.ChaincodeProposalPayload" => ChaincodeProposalPayload,
        "protos.Response" => Response,
        "protos.GetState" => GetState,
        "protos.GetStateMetadata" => GetStateMetadata,
        "protos.GetStateMultiple" => GetStateMultiple,
        "protos.GetStateMultipleResult" => GetStateMultipleResult,
        "protos.PutState" => PutState,
        "protos.PutStateMetadata" => PutStateMetadata,
        "protos.StateMetadata" => StateMetadata,
        "protos.StateMetadataResult" => StateMetadataResult,
        "protos.DelState" => DelState,
        "protos.PurgePrivateState" => PurgePrivateState,
        "protos.WriteBatchState" => WriteBatchState,
        "protos.WriteRecord" => WriteRecord,
        "protos.GetStateByRange" => GetStateByRange,
        "protos.GetQueryResult" => GetQueryResult,
        "protos.QueryMetadata" => QueryMetadata,
        "protos.GetHistoryForKey" => GetHistoryForKey,
        "protos.QueryStateNext" => QueryStateNext,
        "protos.QueryStateClose" => QueryStateClose,
        "protos.QueryResultBytes" => QueryResultBytes,
        "protos.QueryResponse" => QueryResponse,
        "protos.QueryResponseMetadata" => QueryResponseMetadata,
        "protos.Endorsement" => Endorsement,
        "protos.ChaincodeAction" => ChaincodeAction,
        "protos.ProposalResponsePayload" => ProposalResponsePayload,
        "protos.ProposalResponse" => ProposalResponse,
        "protos.ChaincodeEndorsedAction" => ChaincodeEndorsedAction,
        "protos.ChaincodeActionPayload" => ChaincodeActionPayload,
        "protos.TransactionAction" => TransactionAction,
        "protos.Transaction" => Transaction,
        "common.Payload" => Payload,
        "common.Envelope" => Envelope,
        "orderer.SeekNewest" => SeekNewest,
        "orderer.SeekOldest" => SeekOldest,
        "orderer.SeekNextCommit" => SeekNextCommit,
        "orderer.SeekSpecified" => SeekSpecified,
        "orderer.SeekPosition" => SeekPosition,
        "gateway.EvaluateRequest" => EvaluateRequest,
        "gateway.EvaluateResponse" => EvaluateResponse,
        "gateway.EndorseRequest" => EndorseRequest,
        "gateway.EndorseResponse" => EndorseResponse,
        "gateway.SubmitRequest" => SubmitRequest,
        "gateway.SubmitResponse" => SubmitResponse,
        "gateway.CommitStatusRequest" => CommitStatusRequest,
        "gateway.SignedCommitStatusRequest" => SignedCommitStatusRequest,
        "gateway.CommitStatusResponse" => CommitStatusResponse,
        "gateway.ChaincodeEventsRequest" => ChaincodeEventsRequest,
        "gateway.SignedChaincodeEventsRequest" => SignedChaincodeEventsRequest,
        "gateway.ChaincodeEventsResponse" => ChaincodeEventsResponse,
        "gateway.ErrorDetail" => ErrorDetail,
        "gateway.ProposedTransaction" => ProposedTransaction,
        "gateway.PreparedTransaction" => PreparedTransaction,
        "kvrwset.Version" => Version,
        "kvrwset.KVRead" => KvRead,
        "kvrwset.KVWrite" => KvWrite,
        "kvrwset.KVMetadataEntry" => KvMetadataEntry,
        "kvrwset.KVMetadataWrite" => KvMetadataWrite,
        "kvrwset.QueryReads" => QueryReads,
        "kvrwset.QueryReadsMerkleSummary" => QueryReadsMerkleSummary,
        "kvrwset.RangeQueryInfo" => RangeQueryInfo,
        "kvrwset.KVRWSet" => KvrwSet,
        "kvrwset.KVReadHash" => KvReadHash,
        "kvrwset.KVWriteHash" => KvWriteHash,
        "kvrwset.KVMetadataWriteHash" => KvMetadataWriteHash,
        "kvrwset.HashedRWSet" => HashedRwSet,
        "rwset.CollectionHashedReadWriteSet" => CollectionHashedReadWriteSet,
        "rwset.NsReadWriteSet" => NsReadWriteSet,
        "rwset.TxReadWriteSet" => TxReadWriteSet,
        "rwset.CollectionPvtReadWriteSet" => CollectionPvtReadWriteSet,
        "rwset.NsPvtReadWriteSet" => NsPvtReadWriteSet,
        "rwset.TxPvtReadWriteSet" => TxPvtReadWriteSet,
    }
}

/// Every message type wasmcc-proto defines: the samples must cover each one.
const ALL_CLASSES: &[&str] = &[
    "msp.SerializedIdentity",
    "common.Header",
    "common.ChannelHeader",
    "common.SignatureHeader",
    "queryresult.KV",
    "queryresult.KeyModification",
    "protos.ChaincodeMessage",
    "protos.ChaincodeID",
    "protos.ChaincodeInput",
    "protos.ChaincodeSpec",
    "protos.ChaincodeInvocationSpec",
    "protos.ChaincodeAdditionalParams",
    "protos.ChaincodeEvent",
    "protos.SignedProposal",
    "protos.Proposal",
    "protos.ChaincodeHeaderExtension",
    "protos.ChaincodeProposalPayload",
    "protos.Response",
    "protos.GetState",
    "protos.GetStateMetadata",
    "protos.GetStateMultiple",
    "protos.GetStateMultipleResult",
    "protos.PutState",
    "protos.PutStateMetadata",
    "protos.StateMetadata",
    "protos.StateMetadataResult",
    "protos.DelState",
    "protos.PurgePrivateState",
    "protos.WriteBatchState",
    "protos.WriteRecord",
    "protos.GetStateByRange",
    "protos.GetQueryResult",
    "protos.QueryMetadata",
    "protos.GetHistoryForKey",
    "protos.QueryStateNext",
    "protos.QueryStateClose",
    "protos.QueryResultBytes",
    "protos.QueryResponse",
    "protos.QueryResponseMetadata",
    "protos.Endorsement",
    "protos.ChaincodeAction",
    "protos.ProposalResponsePayload",
    "protos.ProposalResponse",
    "protos.ChaincodeEndorsedAction",
    "protos.ChaincodeActionPayload",
    "protos.TransactionAction",
    "protos.Transaction",
    "common.Payload",
    "common.Envelope",
    "orderer.SeekNewest",
    "orderer.SeekOldest",
    "orderer.SeekNextCommit",
    "orderer.SeekSpecified",
    "orderer.SeekPosition",
    "gateway.EvaluateRequest",
    "gateway.EvaluateResponse",
    "gateway.EndorseRequest",
    "gateway.EndorseResponse",
    "gateway.SubmitRequest",
    "gateway.SubmitResponse",
    "gateway.CommitStatusRequest",
    "gateway.SignedCommitStatusRequest",
    "gateway.CommitStatusResponse",
    "gateway.ChaincodeEventsRequest",
    "gateway.SignedChaincodeEventsRequest",
    "gateway.ChaincodeEventsResponse",
    "gateway.ErrorDetail",
    "gateway.ProposedTransaction",
    "gateway.PreparedTransaction",
    "kvrwset.Version",
    "kvrwset.KVRead",
    "kvrwset.KVWrite",
    "kvrwset.KVMetadataEntry",
    "kvrwset.KVMetadataWrite",
    "kvrwset.QueryReads",
    "kvrwset.QueryReadsMerkleSummary",
    "kvrwset.RangeQueryInfo",
    "kvrwset.KVRWSet",
    "kvrwset.KVReadHash",
    "kvrwset.KVWriteHash",
    "kvrwset.KVMetadataWriteHash",
    "kvrwset.HashedRWSet",
    "rwset.CollectionHashedReadWriteSet",
    "rwset.NsReadWriteSet",
    "rwset.TxReadWriteSet",
    "rwset.CollectionPvtReadWriteSet",
    "rwset.NsPvtReadWriteSet",
    "rwset.TxPvtReadWriteSet",
];

// ---------------------------------------------------------------------------------------------
// The Rust side of the samples (mirrors tests/node/wire.js; keep both in the same order)

const CHANNEL: &str = "mychannel";
const TXID: &str = "a3f1c0de5b7e4d2a9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d";
const CCID: &str = "basic_1.0:4ec191e793b27e953ff2ede5a8bcc63152cecb1e4c3f301a26e22692c61967ad";
const PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIB8jCCAZmgAwIBAgIUfake\n-----END CERTIFICATE-----\n";
const EPOCH: u64 = (1 << 40) + 5;

fn all_bytes() -> Vec<u8> {
    (0..=255).collect()
}

fn seq(n: usize, start: usize) -> Vec<u8> {
    (0..n).map(|i| ((start + i) & 0xff) as u8).collect()
}

fn ts() -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: 1_700_000_000, nanos: 123_456_789 }
}

fn s(v: &str) -> String {
    v.to_owned()
}

#[derive(Default)]
struct Builder(Samples);

impl Builder {
    fn add(&mut self, name: &str, msg: &impl Message) -> Vec<u8> {
        let bytes = msg.encode_to_vec();
        self.0.push((name.to_owned(), bytes.clone()));
        bytes
    }
}

/// Which sample is the payload of a ChaincodeMessage of each type (as in wire.js).
fn payload_for_type(t: chaincode_message::Type) -> Option<&'static str> {
    use chaincode_message::Type as T;
    Some(match t {
        T::Register => "protos.ChaincodeID",
        T::Init | T::Transaction => "protos.ChaincodeInput",
        T::Ready => "protos.ChaincodeAdditionalParams",
        T::Completed => "protos.Response",
        T::GetState | T::GetPrivateDataHash => "protos.GetState",
        T::PutState => "protos.PutState",
        T::DelState | T::PurgePrivateData => "protos.DelState",
        T::InvokeChaincode => "protos.ChaincodeSpec",
        T::GetStateByRange => "protos.GetStateByRange",
        T::GetQueryResult => "protos.GetQueryResult",
        T::QueryStateNext => "protos.QueryStateNext",
        T::QueryStateClose => "protos.QueryStateClose",
        T::GetHistoryForKey => "protos.GetHistoryForKey",
        T::GetStateMetadata => "protos.GetStateMetadata",
        T::PutStateMetadata => "protos.PutStateMetadata",
        T::WriteBatchState => "protos.WriteBatchState",
        T::GetStateMultiple => "protos.GetStateMultiple",
        T::Undefined | T::Registered | T::Error | T::Response | T::Keepalive => return None,
    })
}

fn all_chaincode_message_types() -> Vec<chaincode_message::Type> {
    (0..=64).filter_map(|v| chaincode_message::Type::try_from(v).ok()).collect()
}

fn rust_samples() -> Samples {
    let mut b = Builder::default();
    let priv_coll = s("privColl");

    b.add("google.protobuf.Timestamp", &ts());
    let identity: Vec<u8> =
        b.add("msp.SerializedIdentity", &SerializedIdentity { mspid: s("Org1MSP"), id_bytes: PEM.as_bytes().to_vec() });
    let sig_header = b
        .add("common.SignatureHeader", &SignatureHeader { creator: identity.clone().into(), nonce: seq(24, 0).into() });
    let cc_id = ChaincodeId { path: s("github.com/example/basic"), name: s(CCID), version: s("1.0") };
    let cc_id_bytes = b.add("protos.ChaincodeID", &cc_id);
    let cc_id_msg = cc_id.clone();
    let hdr_ext =
        b.add("protos.ChaincodeHeaderExtension", &ChaincodeHeaderExtension { chaincode_id: Some(cc_id.clone()) });
    let ch_header = b.add(
        "common.ChannelHeader",
        &ChannelHeader {
            r#type: HeaderType::EndorserTransaction as i32,
            version: 1,
            timestamp: Some(ts()),
            channel_id: s(CHANNEL),
            tx_id: s(TXID),
            epoch: EPOCH,
            extension: hdr_ext,
            tls_cert_hash: seq(32, 200),
        },
    );
    b.add(
        "common.ChannelHeader#config",
        &ChannelHeader { r#type: HeaderType::Config as i32, channel_id: s(CHANNEL), ..Default::default() },
    );
    let header_msg = Header { channel_header: ch_header.into(), signature_header: sig_header.clone().into() };
    let header = b.add("common.Header", &header_msg);
    let input = ChaincodeInput {
        args: vec![b"transfer".to_vec(), b"alice".to_vec(), vec![], all_bytes()],
        decorations: HashMap::from([(s("deco"), b"rated".to_vec())]),
        is_init: true,
    };
    let input_bytes = b.add("protos.ChaincodeInput", &input);
    let spec = ChaincodeSpec {
        r#type: chaincode_spec::Type::Node as i32,
        chaincode_id: Some(cc_id),
        input: Some(input),
        timeout: -7,
    };
    let spec_bytes = b.add("protos.ChaincodeSpec", &spec);
    let cis = b.add("protos.ChaincodeInvocationSpec", &ChaincodeInvocationSpec { chaincode_spec: Some(spec) });
    let cpp = b.add(
        "protos.ChaincodeProposalPayload",
        &ChaincodeProposalPayload {
            input: cis.into(),
            transient_map: HashMap::from([(s("secret"), "shh \u{e9}".as_bytes().to_vec().into())]),
        },
    );
    let proposal = b.add(
        "protos.Proposal",
        &Proposal { header: header.into(), payload: cpp.clone().into(), extension: b"ext".to_vec().into() },
    );
    let signed = SignedProposal { proposal_bytes: proposal.into(), signature: seq(71, 48).into() };
    b.add("protos.SignedProposal", &signed);
    let params = b.add(
        "protos.ChaincodeAdditionalParams",
        &ChaincodeAdditionalParams {
            use_write_batch: true,
            max_size_write_batch: 1000,
            use_get_multiple_keys: true,
            max_size_get_multiple_keys: u32::MAX,
        },
    );
    let get_state = b.add("protos.GetState", &GetState { key: s("asset1"), collection: priv_coll.clone() });
    let get_meta =
        b.add("protos.GetStateMetadata", &GetStateMetadata { key: s("asset2"), collection: priv_coll.clone() });
    let get_multi = b.add(
        "protos.GetStateMultiple",
        &GetStateMultiple { keys: vec![s("a"), s(""), s("c\u{e9}\u{4e2d}")], collection: priv_coll.clone() },
    );
    b.add(
        "protos.GetStateMultipleResult",
        &GetStateMultipleResult { values: vec![b"v1".to_vec(), vec![], all_bytes()] },
    );
    let put_state =
        b.add("protos.PutState", &PutState { key: s("k\u{4e2d}"), value: all_bytes(), collection: priv_coll.clone() });
    let meta = StateMetadata { metakey: s("VALIDATION_PARAMETER"), value: seq(5, 1) };
    b.add("protos.StateMetadata", &meta);
    let meta_other = StateMetadata { metakey: s("OTHER"), value: b"x".to_vec() };
    b.add("protos.StateMetadata#other", &meta_other);
    let put_meta = b.add(
        "protos.PutStateMetadata",
        &PutStateMetadata { key: s("asset3"), collection: priv_coll.clone(), metadata: Some(meta.clone()) },
    );
    b.add("protos.StateMetadataResult", &StateMetadataResult { entries: vec![meta.clone(), meta_other] });
    let del_state = b.add("protos.DelState", &DelState { key: s("gone"), collection: priv_coll.clone() });
    b.add("protos.PurgePrivateState", &PurgePrivateState { key: s("purged"), collection: priv_coll.clone() });
    use write_record::Type as W;
    let rec_meta = WriteRecord {
        key: s("rec"),
        value: b"val".to_vec(),
        collection: priv_coll.clone(),
        metadata: Some(meta),
        r#type: W::PutStateMetadata as i32,
    };
    b.add("protos.WriteRecord", &rec_meta);
    let rec_put = WriteRecord { key: s("p"), value: b"1".to_vec(), r#type: W::PutState as i32, ..Default::default() };
    b.add("protos.WriteRecord#put", &rec_put);
    let rec_del = WriteRecord { key: s("d"), r#type: W::DelState as i32, ..Default::default() };
    b.add("protos.WriteRecord#del", &rec_del);
    let rec_purge = WriteRecord {
        key: s("x"),
        collection: priv_coll.clone(),
        r#type: W::PurgePrivateData as i32,
        ..Default::default()
    };
    b.add("protos.WriteRecord#purge", &rec_purge);
    let batch = b.add("protos.WriteBatchState", &WriteBatchState { rec: vec![rec_put, rec_del, rec_meta, rec_purge] });
    let qmeta = b.add("protos.QueryMetadata", &QueryMetadata { page_size: 25, bookmark: s("bm-1") });
    b.add("protos.QueryMetadata#negative", &QueryMetadata { page_size: -1, bookmark: s("") });
    let range = b.add(
        "protos.GetStateByRange",
        &GetStateByRange { start_key: s("a"), end_key: s("z"), collection: priv_coll.clone(), metadata: qmeta.clone() },
    );
    let rich = b.add(
        "protos.GetQueryResult",
        &GetQueryResult { query: s(r#"{"selector":{"owner":"alice"}}"#), collection: priv_coll, metadata: qmeta },
    );
    let history = b.add("protos.GetHistoryForKey", &GetHistoryForKey { key: s("asset1") });
    let next = b.add("protos.QueryStateNext", &QueryStateNext { id: s("6c1a2b3c-0000-4000-8000-000000000001") });
    let close = b.add("protos.QueryStateClose", &QueryStateClose { id: s("6c1a2b3c-0000-4000-8000-000000000002") });
    let kv = b.add("queryresult.KV", &Kv { namespace: s("basic"), key: s("asset1"), value: br#"{"v":1}"#.to_vec() });
    let km = b.add(
        "queryresult.KeyModification",
        &KeyModification { tx_id: s(TXID), value: b"old".to_vec(), timestamp: Some(ts()), is_delete: true },
    );
    let qrb_kv = QueryResultBytes { result_bytes: kv };
    b.add("protos.QueryResultBytes", &qrb_kv);
    let qrb_km = QueryResultBytes { result_bytes: km };
    b.add("protos.QueryResultBytes#history", &qrb_km);
    let qrm =
        b.add("protos.QueryResponseMetadata", &QueryResponseMetadata { fetched_records_count: 2, bookmark: s("bm-2") });
    b.add(
        "protos.QueryResponse",
        &QueryResponse {
            results: vec![qrb_kv, qrb_km],
            has_more: true,
            id: s("6c1a2b3c-0000-4000-8000-000000000003"),
            metadata: qrm,
        },
    );
    let event = ChaincodeEvent {
        chaincode_id: s("basic"),
        tx_id: s(TXID),
        event_name: s("Transfer"),
        payload: br#"{"from":"alice"}"#.to_vec(),
    };
    let event_bytes = b.add("protos.ChaincodeEvent", &event);
    let response_msg = Response { status: 200, message: s("ok"), payload: b"result".to_vec() };
    let response = b.add("protos.Response", &response_msg);
    b.add("protos.Response#error", &Response { status: 500, message: s("boom \u{2620}"), payload: vec![] });

    let payloads: HashMap<&str, Vec<u8>> = HashMap::from([
        ("protos.ChaincodeID", cc_id_bytes.clone()),
        ("protos.ChaincodeInput", input_bytes),
        ("protos.ChaincodeAdditionalParams", params),
        ("protos.Response", response),
        ("protos.GetState", get_state),
        ("protos.PutState", put_state),
        ("protos.DelState", del_state),
        ("protos.ChaincodeSpec", spec_bytes),
        ("protos.GetStateByRange", range),
        ("protos.GetQueryResult", rich),
        ("protos.QueryStateNext", next),
        ("protos.QueryStateClose", close),
        ("protos.GetHistoryForKey", history),
        ("protos.GetStateMetadata", get_meta),
        ("protos.PutStateMetadata", put_meta),
        ("protos.WriteBatchState", batch),
        ("protos.GetStateMultiple", get_multi),
    ]);
    for t in all_chaincode_message_types() {
        let payload = payload_for_type(t).map_or_else(all_bytes, |n| payloads[n].clone());
        b.add(
            &format!("protos.ChaincodeMessage#{}", t.as_str_name()),
            &ChaincodeMessage {
                r#type: t as i32,
                timestamp: Some(ts()),
                payload,
                txid: s(TXID),
                proposal: Some(signed.clone()),
                chaincode_event: Some(event.clone()),
                channel_id: s(CHANNEL),
            },
        );
    }
    b.add(
        "protos.ChaincodeMessage#register_min",
        &ChaincodeMessage {
            r#type: chaincode_message::Type::Register as i32,
            payload: cc_id_bytes,
            ..Default::default()
        },
    );
    b.add(
        "protos.ChaincodeMessage#keepalive_min",
        &ChaincodeMessage { r#type: chaincode_message::Type::Keepalive as i32, ..Default::default() },
    );
    gateway_samples(
        &mut b,
        Gw {
            identity,
            sig_header,
            header: header_msg,
            cpp,
            signed,
            event,
            event_bytes,
            response: response_msg,
            cc_id: cc_id_msg,
        },
    );
    rwset_samples(&mut b);
    b.0
}

/// What the gateway samples are built from, made earlier in [`rust_samples`].
struct Gw {
    identity: Vec<u8>,
    sig_header: Vec<u8>,
    header: Header,
    cpp: Vec<u8>,
    signed: SignedProposal,
    event: ChaincodeEvent,
    event_bytes: Vec<u8>,
    response: Response,
    cc_id: ChaincodeId,
}

/// The gateway's messages and an endorsed transaction, mirrored in wire.js.
fn gateway_samples(b: &mut Builder, g: Gw) {
    let endorsement = Endorsement { endorser: g.identity.clone(), signature: seq(70, 1) };
    b.add("protos.Endorsement", &endorsement);
    let action = ChaincodeAction {
        results: seq(40, 3),
        events: g.event_bytes,
        response: Some(g.response.clone()),
        chaincode_id: Some(g.cc_id),
    };
    let action = b.add("protos.ChaincodeAction", &action);
    let prp = b.add(
        "protos.ProposalResponsePayload",
        &ProposalResponsePayload { proposal_hash: seq(32, 7), extension: action },
    );
    let pr = ProposalResponse {
        version: 1,
        timestamp: Some(ts()),
        response: Some(g.response.clone()),
        payload: prp.clone(),
        endorsement: Some(endorsement.clone()),
    };
    b.add("protos.ProposalResponse", &pr);
    let endorsed = ChaincodeEndorsedAction {
        proposal_response_payload: prp,
        endorsements: vec![endorsement.clone(), endorsement],
    };
    b.add("protos.ChaincodeEndorsedAction", &endorsed);
    let cap = b.add(
        "protos.ChaincodeActionPayload",
        &ChaincodeActionPayload { chaincode_proposal_payload: g.cpp, action: Some(endorsed) },
    );
    let ta = TransactionAction { header: g.sig_header, payload: cap };
    b.add("protos.TransactionAction", &ta);
    let tx = b.add("protos.Transaction", &Transaction { actions: vec![ta] });
    let payload = b.add("common.Payload", &Payload { header: Some(g.header), data: tx });
    let envelope = Envelope { payload, signature: seq(71, 5) };
    b.add("common.Envelope", &envelope);
    b.add("orderer.SeekNewest", &SeekNewest {});
    b.add("orderer.SeekOldest", &SeekOldest {});
    b.add("orderer.SeekNextCommit", &SeekNextCommit {});
    let specified = SeekSpecified { number: (1 << 40) + 3 };
    b.add("orderer.SeekSpecified", &specified);
    let position = |t| SeekPosition { r#type: Some(t) };
    b.add("orderer.SeekPosition#newest", &position(seek_position::Type::Newest(SeekNewest {})));
    b.add("orderer.SeekPosition#oldest", &position(seek_position::Type::Oldest(SeekOldest {})));
    b.add("orderer.SeekPosition#next_commit", &position(seek_position::Type::NextCommit(SeekNextCommit {})));
    let start = position(seek_position::Type::Specified(specified));
    b.add("orderer.SeekPosition#specified", &start);
    let evaluate = EvaluateRequest {
        transaction_id: s(TXID),
        channel_id: s(CHANNEL),
        proposed_transaction: Some(g.signed.clone()),
        target_organizations: vec![s("Org1MSP"), s("Org2MSP")],
    };
    b.add("gateway.EvaluateRequest", &evaluate);
    b.add("gateway.EvaluateResponse", &EvaluateResponse { result: Some(g.response) });
    let endorse = EndorseRequest {
        transaction_id: s(TXID),
        channel_id: s(CHANNEL),
        proposed_transaction: Some(g.signed.clone()),
        endorsing_organizations: vec![s("Org1MSP")],
    };
    b.add("gateway.EndorseRequest", &endorse);
    b.add("gateway.EndorseResponse", &EndorseResponse { prepared_transaction: Some(envelope.clone()) });
    let submit =
        SubmitRequest { transaction_id: s(TXID), channel_id: s(CHANNEL), prepared_transaction: Some(envelope.clone()) };
    b.add("gateway.SubmitRequest", &submit);
    b.add("gateway.SubmitResponse", &SubmitResponse {});
    let status = CommitStatusRequest { transaction_id: s(TXID), channel_id: s(CHANNEL), identity: g.identity.clone() };
    let status = b.add("gateway.CommitStatusRequest", &status);
    b.add("gateway.SignedCommitStatusRequest", &SignedCommitStatusRequest { request: status, signature: seq(70, 2) });
    let committed =
        CommitStatusResponse { result: TxValidationCode::MvccReadConflict as i32, block_number: (1 << 40) + 9 };
    b.add("gateway.CommitStatusResponse", &committed);
    let events = ChaincodeEventsRequest {
        channel_id: s(CHANNEL),
        chaincode_id: s("basic"),
        identity: g.identity,
        start_position: Some(start),
        after_transaction_id: s(TXID),
    };
    let events = b.add("gateway.ChaincodeEventsRequest", &events);
    b.add(
        "gateway.SignedChaincodeEventsRequest",
        &SignedChaincodeEventsRequest { request: events, signature: seq(70, 3) },
    );
    let streamed = ChaincodeEventsResponse { events: vec![g.event.clone(), g.event], block_number: 7 };
    b.add("gateway.ChaincodeEventsResponse", &streamed);
    let detail =
        ErrorDetail { address: s("peer0.org1.example.com:7051"), msp_id: s("Org1MSP"), message: s("boom \u{2620}") };
    b.add("gateway.ErrorDetail", &detail);
    let proposed = ProposedTransaction {
        transaction_id: s(TXID),
        proposal: Some(g.signed),
        endorsing_organizations: vec![s("Org1MSP")],
    };
    b.add("gateway.ProposedTransaction", &proposed);
    b.add("gateway.PreparedTransaction", &PreparedTransaction { transaction_id: s(TXID), envelope: Some(envelope) });
}

/// The ledger's read/write sets (what an endorsement carries in `ChaincodeAction.results`), mirrored in wire.js.
fn rwset_samples(b: &mut Builder) {
    let version = Version { block_num: (1 << 40) + 1, tx_num: 7 };
    b.add("kvrwset.Version", &version);
    let read = KvRead { key: s("asset1"), version: Some(version) };
    b.add("kvrwset.KVRead", &read);
    let absent = KvRead { key: s("missing"), version: None };
    b.add("kvrwset.KVRead#absent", &absent);
    let write = KvWrite { key: s("k\u{4e2d}"), is_delete: false, value: all_bytes() };
    b.add("kvrwset.KVWrite", &write);
    let delete = KvWrite { key: s("gone"), is_delete: true, value: vec![] };
    b.add("kvrwset.KVWrite#delete", &delete);
    let entry = KvMetadataEntry { name: s("VALIDATION_PARAMETER"), value: seq(5, 1) };
    b.add("kvrwset.KVMetadataEntry", &entry);
    let meta_write = KvMetadataWrite { key: s("asset3"), entries: vec![entry.clone()] };
    b.add("kvrwset.KVMetadataWrite", &meta_write);
    let raw = QueryReads { kv_reads: vec![read.clone(), absent.clone()] };
    b.add("kvrwset.QueryReads", &raw);
    let merkle =
        QueryReadsMerkleSummary { max_degree: 50, max_level: 2, max_level_hashes: vec![seq(32, 10), seq(32, 42)] };
    b.add("kvrwset.QueryReadsMerkleSummary", &merkle);
    let range = RangeQueryInfo {
        start_key: s("a"),
        end_key: s("z"),
        itr_exhausted: true,
        reads_info: Some(range_query_info::ReadsInfo::RawReads(raw)),
    };
    b.add("kvrwset.RangeQueryInfo", &range);
    let range_merkle = RangeQueryInfo {
        start_key: s("b"),
        reads_info: Some(range_query_info::ReadsInfo::ReadsMerkleHashes(merkle)),
        ..Default::default()
    };
    b.add("kvrwset.RangeQueryInfo#merkle", &range_merkle);
    let kv_rwset = KvrwSet {
        reads: vec![read, absent],
        range_queries_info: vec![range, range_merkle],
        writes: vec![write, delete],
        metadata_writes: vec![meta_write],
    };
    let kv_rwset = b.add("kvrwset.KVRWSet", &kv_rwset);
    let read_hash = KvReadHash { key_hash: seq(32, 1), version: Some(version) };
    b.add("kvrwset.KVReadHash", &read_hash);
    let write_hash = KvWriteHash { key_hash: seq(32, 2), is_delete: false, value_hash: seq(32, 3), is_purge: false };
    b.add("kvrwset.KVWriteHash", &write_hash);
    let purge_hash = KvWriteHash { key_hash: seq(32, 4), is_delete: true, value_hash: vec![], is_purge: true };
    b.add("kvrwset.KVWriteHash#purge", &purge_hash);
    let meta_hash = KvMetadataWriteHash { key_hash: seq(32, 5), entries: vec![entry] };
    b.add("kvrwset.KVMetadataWriteHash", &meta_hash);
    let hashed = HashedRwSet {
        hashed_reads: vec![read_hash],
        hashed_writes: vec![write_hash, purge_hash],
        metadata_writes: vec![meta_hash],
    };
    let hashed = b.add("kvrwset.HashedRWSet", &hashed);
    let coll = CollectionHashedReadWriteSet {
        collection_name: s("privColl"),
        hashed_rwset: hashed,
        pvt_rwset_hash: seq(32, 6),
    };
    b.add("rwset.CollectionHashedReadWriteSet", &coll);
    let ns = NsReadWriteSet { namespace: s("basic"), rwset: kv_rwset.clone(), collection_hashed_rwset: vec![coll] };
    b.add("rwset.NsReadWriteSet", &ns);
    let public = NsReadWriteSet { namespace: s("other"), rwset: kv_rwset.clone(), collection_hashed_rwset: vec![] };
    b.add("rwset.NsReadWriteSet#public", &public);
    let kv = tx_read_write_set::DataModel::Kv as i32;
    b.add("rwset.TxReadWriteSet", &TxReadWriteSet { data_model: kv, ns_rwset: vec![ns, public] });
    let pvt_coll = CollectionPvtReadWriteSet { collection_name: s("privColl"), rwset: kv_rwset };
    b.add("rwset.CollectionPvtReadWriteSet", &pvt_coll);
    let pvt_ns = NsPvtReadWriteSet { namespace: s("basic"), collection_pvt_rwset: vec![pvt_coll] };
    b.add("rwset.NsPvtReadWriteSet", &pvt_ns);
    b.add("rwset.TxPvtReadWriteSet", &TxPvtReadWriteSet { data_model: kv, ns_pvt_rwset: vec![pvt_ns] });
}

// ---------------------------------------------------------------------------------------------
// Tests

/// (a) Everything Fabric's classes encode, prost decodes and re-encodes to the same bytes.
#[test]
fn node_encodings_reencode_identically() {
    let node = node_samples();
    let mut failures = Vec::new();
    for (name, bytes) in node {
        let ours = reencode(name, bytes);
        if &ours != bytes {
            failures.push(format!("{name}\n  node: {}\n  rust: {}", B64.encode(bytes), B64.encode(&ours)));
        }
    }
    assert!(failures.is_empty(), "re-encoding differs:\n{}", failures.join("\n"));

    let covered: BTreeSet<&str> = node.iter().map(|(n, _)| class_of(n)).collect();
    let missing: Vec<_> = ALL_CLASSES.iter().filter(|c| !covered.contains(*c)).collect();
    assert!(missing.is_empty(), "wire.js has no sample for {missing:?}");
}

/// (b) Rust-built messages equal Node's bytes for the same content, and Fabric's classes
/// round-trip them unchanged.
#[test]
fn rust_encodings_match_node_and_survive_official_roundtrip() {
    let ours = rust_samples();
    let node = node_samples();
    let names = |s: &Samples| s.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&ours), names(node), "wire.js and wire.rs sample lists diverged");

    for ((name, rust_bytes), (_, node_bytes)) in ours.iter().zip(node) {
        assert_eq!(
            B64.encode(rust_bytes),
            B64.encode(node_bytes),
            "{name}: Rust encoding differs from Fabric's Node encoding of the same content"
        );
    }

    let back = run_node("roundtrip", &to_lines(&ours));
    assert_eq!(names(&back), names(&ours));
    for ((name, sent), (_, returned)) in ours.iter().zip(&back) {
        assert_eq!(
            B64.encode(returned),
            B64.encode(sent),
            "{name}: Fabric's class did not round-trip our bytes unchanged"
        );
    }
}

/// Every ChaincodeMessage.Type value of Fabric's enum exists in ours with the same number.
#[test]
fn chaincode_message_type_values_match_official_enum() {
    let mut seen = 0;
    for (name, bytes) in node_samples() {
        let Some(type_name) = name.strip_prefix("protos.ChaincodeMessage#") else {
            continue;
        };
        if type_name.ends_with("_min") {
            continue;
        }
        let msg = ChaincodeMessage::decode(bytes.as_slice()).unwrap();
        let ours = chaincode_message::Type::from_str_name(type_name)
            .unwrap_or_else(|| panic!("Fabric type {type_name} missing from our enum"));
        assert_eq!(msg.r#type, ours as i32, "{type_name}");
        assert_eq!(msg.r#type(), ours);
        seen += 1;
    }
    assert_eq!(seen, all_chaincode_message_types().len(), "enum sizes differ");
    assert_eq!(seen, 25, "UNDEFINED..GET_STATE_MULTIPLE without 12");
}

/// Field values decoded from Node's bytes, so a swapped or renumbered field cannot hide
/// behind a symmetric mistake.
#[test]
fn decoded_field_values() {
    let d = |name| node_sample(name);

    // The stream message and its payload.
    let m = ChaincodeMessage::decode(d("protos.ChaincodeMessage#TRANSACTION")).unwrap();
    assert_eq!(m.r#type(), chaincode_message::Type::Transaction);
    assert_eq!((m.txid.as_str(), m.channel_id.as_str()), (TXID, CHANNEL));
    assert_eq!(m.timestamp, Some(ts()));
    assert_eq!(m.chaincode_event.as_ref().unwrap().event_name, "Transfer");
    assert_eq!(m.chaincode_event.as_ref().unwrap().chaincode_id, "basic");
    let input = ChaincodeInput::decode(m.payload.as_slice()).unwrap();
    assert_eq!(input.args[0], b"transfer");
    assert_eq!(input.args[2], b"");
    assert_eq!(input.args[3], all_bytes());
    assert_eq!(input.decorations["deco"], b"rated");
    assert!(input.is_init);

    let reg = ChaincodeMessage::decode(d("protos.ChaincodeMessage#register_min")).unwrap();
    assert_eq!(reg.r#type(), chaincode_message::Type::Register);
    assert!(reg.txid.is_empty() && reg.proposal.is_none() && reg.timestamp.is_none());
    assert_eq!(ChaincodeId::decode(reg.payload.as_slice()).unwrap().name, CCID);

    // The proposal chain, as a stub walks it.
    let signed = m.proposal.unwrap();
    assert_eq!(signed.signature, seq(71, 48));
    let proposal = Proposal::decode(signed.proposal_bytes).unwrap();
    assert_eq!(proposal.extension, &b"ext"[..]);
    let header = Header::decode(proposal.header).unwrap();
    let ch = ChannelHeader::decode(header.channel_header.clone()).unwrap();
    assert_eq!(ch.r#type, HeaderType::EndorserTransaction as i32);
    assert_eq!(ch.r#type, 3);
    assert_eq!((ch.version, ch.epoch), (1, EPOCH));
    assert_eq!((ch.channel_id.as_str(), ch.tx_id.as_str()), (CHANNEL, TXID));
    assert_eq!(ch.timestamp, Some(ts()));
    assert_eq!(ch.tls_cert_hash, seq(32, 200));
    let ext = ChaincodeHeaderExtension::decode(ch.extension.as_slice()).unwrap();
    assert_eq!(ext.chaincode_id.unwrap().name, CCID);
    let sh = SignatureHeader::decode(header.signature_header).unwrap();
    assert_eq!(sh.nonce, seq(24, 0));
    let id = SerializedIdentity::decode(sh.creator).unwrap();
    assert_eq!((id.mspid.as_str(), id.id_bytes.as_slice()), ("Org1MSP", PEM.as_bytes()));
    let cpp = ChaincodeProposalPayload::decode(proposal.payload).unwrap();
    assert_eq!(cpp.transient_map["secret"], "shh \u{e9}".as_bytes());
    let cis = ChaincodeInvocationSpec::decode(cpp.input).unwrap();
    let spec = cis.chaincode_spec.unwrap();
    assert_eq!(spec.r#type(), chaincode_spec::Type::Node);
    assert_eq!(spec.timeout, -7);
    assert_eq!(spec.chaincode_id.unwrap().version, "1.0");
    assert_eq!(spec.input.unwrap().args[1], b"alice");
    let cfg = ChannelHeader::decode(d("common.ChannelHeader#config")).unwrap();
    assert_eq!(cfg.r#type, HeaderType::Config as i32);
    assert_eq!(HeaderType::Message as i32, 0);

    // Handshake.
    let p = ChaincodeAdditionalParams::decode(d("protos.ChaincodeAdditionalParams")).unwrap();
    assert!(p.use_write_batch && p.use_get_multiple_keys);
    assert_eq!((p.max_size_write_batch, p.max_size_get_multiple_keys), (1000, u32::MAX));

    // State requests.
    let g = GetState::decode(d("protos.GetState")).unwrap();
    assert_eq!((g.key.as_str(), g.collection.as_str()), ("asset1", "privColl"));
    let gm = GetStateMultiple::decode(d("protos.GetStateMultiple")).unwrap();
    assert_eq!(gm.keys, ["a", "", "c\u{e9}\u{4e2d}"]);
    let gr = GetStateMultipleResult::decode(d("protos.GetStateMultipleResult")).unwrap();
    assert_eq!(gr.values.len(), 3);
    assert!(gr.values[1].is_empty());
    let ps = PutState::decode(d("protos.PutState")).unwrap();
    assert_eq!((ps.key.as_str(), ps.collection.as_str()), ("k\u{4e2d}", "privColl"));
    assert_eq!(ps.value, all_bytes());
    let psm = PutStateMetadata::decode(d("protos.PutStateMetadata")).unwrap();
    assert_eq!(psm.collection, "privColl");
    assert_eq!(psm.metadata.unwrap().metakey, "VALIDATION_PARAMETER");
    let smr = StateMetadataResult::decode(d("protos.StateMetadataResult")).unwrap();
    assert_eq!(smr.entries[1].metakey, "OTHER");
    assert_eq!(smr.entries[1].value, b"x");
    let batch = WriteBatchState::decode(d("protos.WriteBatchState")).unwrap();
    let types: Vec<_> = batch.rec.iter().map(|r| r.r#type()).collect();
    use write_record::Type as W;
    assert_eq!(types, [W::PutState, W::DelState, W::PutStateMetadata, W::PurgePrivateData]);
    assert_eq!(batch.rec[2].metadata.as_ref().unwrap().value, seq(5, 1));
    assert_eq!(batch.rec[2].collection, "privColl");
    let range = GetStateByRange::decode(d("protos.GetStateByRange")).unwrap();
    assert_eq!((range.start_key.as_str(), range.end_key.as_str()), ("a", "z"));
    assert_eq!(range.collection, "privColl");
    let qm = QueryMetadata::decode(range.metadata.as_slice()).unwrap();
    assert_eq!((qm.page_size, qm.bookmark.as_str()), (25, "bm-1"));
    let neg = QueryMetadata::decode(d("protos.QueryMetadata#negative")).unwrap();
    assert_eq!(neg.page_size, -1);
    let rich = GetQueryResult::decode(d("protos.GetQueryResult")).unwrap();
    assert!(rich.query.starts_with("{\"selector\""));
    assert_eq!(QueryMetadata::decode(rich.metadata.as_slice()).unwrap().page_size, 25);

    // Query responses and their items.
    let qr = QueryResponse::decode(d("protos.QueryResponse")).unwrap();
    assert!(qr.has_more);
    assert_eq!(qr.id, "6c1a2b3c-0000-4000-8000-000000000003");
    let kv = Kv::decode(qr.results[0].result_bytes.as_slice()).unwrap();
    assert_eq!((kv.namespace.as_str(), kv.key.as_str()), ("basic", "asset1"));
    assert_eq!(kv.value, br#"{"v":1}"#);
    let km = KeyModification::decode(qr.results[1].result_bytes.as_slice()).unwrap();
    assert_eq!((km.tx_id.as_str(), km.value.as_slice()), (TXID, b"old".as_slice()));
    assert!(km.is_delete);
    assert_eq!(km.timestamp, Some(ts()));
    let qrm = QueryResponseMetadata::decode(qr.metadata.as_slice()).unwrap();
    assert_eq!((qrm.fetched_records_count, qrm.bookmark.as_str()), (2, "bm-2"));

    // Results and events.
    let ok = Response::decode(d("protos.Response")).unwrap();
    assert_eq!((ok.status, ok.message.as_str(), ok.payload.as_slice()), (200, "ok", b"result".as_slice()));
    let err = Response::decode(d("protos.Response#error")).unwrap();
    assert_eq!((err.status, err.message.as_str()), (500, "boom \u{2620}"));
    let ev = ChaincodeEvent::decode(d("protos.ChaincodeEvent")).unwrap();
    assert_eq!((ev.tx_id.as_str(), ev.payload.as_slice()), (TXID, br#"{"from":"alice"}"#.as_slice()));

    // The gateway, as a client walks an endorsed transaction to its result.
    let endorsed = EndorseResponse::decode(d("gateway.EndorseResponse")).unwrap();
    let envelope = endorsed.prepared_transaction.unwrap();
    assert_eq!(envelope.signature, seq(71, 5));
    let payload = Payload::decode(envelope.payload.as_slice()).unwrap();
    let tx = Transaction::decode(payload.data.as_slice()).unwrap();
    let cap = ChaincodeActionPayload::decode(tx.actions[0].payload.as_slice()).unwrap();
    let action = cap.action.unwrap();
    assert_eq!(action.endorsements.len(), 2);
    assert_eq!(action.endorsements[0].signature, seq(70, 1));
    let prp = ProposalResponsePayload::decode(action.proposal_response_payload.as_slice()).unwrap();
    assert_eq!(prp.proposal_hash, seq(32, 7));
    let cc_action = ChaincodeAction::decode(prp.extension.as_slice()).unwrap();
    assert_eq!(cc_action.response.unwrap().payload, b"result");
    assert_eq!(cc_action.results, seq(40, 3));
    let status = CommitStatusResponse::decode(d("gateway.CommitStatusResponse")).unwrap();
    assert_eq!(status.result(), TxValidationCode::MvccReadConflict);
    assert_eq!((status.result, status.block_number), (11, (1 << 40) + 9));
    let events = ChaincodeEventsRequest::decode(d("gateway.ChaincodeEventsRequest")).unwrap();
    assert_eq!((events.chaincode_id.as_str(), events.after_transaction_id.as_str()), ("basic", TXID));
    let start = events.start_position.unwrap().r#type.unwrap();
    assert_eq!(start, seek_position::Type::Specified(SeekSpecified { number: (1 << 40) + 3 }));
    let detail = ErrorDetail::decode(d("gateway.ErrorDetail")).unwrap();
    assert_eq!((detail.address.as_str(), detail.msp_id.as_str()), ("peer0.org1.example.com:7051", "Org1MSP"));

    // A read/write set, as a validating peer walks it.
    let tx_rwset = TxReadWriteSet::decode(d("rwset.TxReadWriteSet")).unwrap();
    assert_eq!(tx_rwset.data_model(), tx_read_write_set::DataModel::Kv);
    let names: Vec<_> = tx_rwset.ns_rwset.iter().map(|ns| ns.namespace.as_str()).collect();
    assert_eq!(names, ["basic", "other"]);
    let ns = &tx_rwset.ns_rwset[0];
    let kv = KvrwSet::decode(ns.rwset.as_slice()).unwrap();
    assert_eq!(kv.reads[0].key, "asset1");
    assert_eq!(kv.reads[0].version, Some(Version { block_num: (1 << 40) + 1, tx_num: 7 }));
    assert_eq!((kv.reads[1].key.as_str(), kv.reads[1].version), ("missing", None));
    assert_eq!((kv.writes[0].key.as_str(), kv.writes[0].is_delete), ("k\u{4e2d}", false));
    assert_eq!(kv.writes[0].value, all_bytes());
    assert_eq!((kv.writes[1].key.as_str(), kv.writes[1].is_delete), ("gone", true));
    assert_eq!(kv.metadata_writes[0].entries[0].name, "VALIDATION_PARAMETER");
    assert_eq!(kv.metadata_writes[0].entries[0].value, seq(5, 1));
    let range = &kv.range_queries_info[0];
    assert_eq!((range.start_key.as_str(), range.end_key.as_str(), range.itr_exhausted), ("a", "z", true));
    let Some(range_query_info::ReadsInfo::RawReads(raw)) = &range.reads_info else { panic!("raw reads expected") };
    assert_eq!(raw.kv_reads[1].key, "missing");
    let Some(range_query_info::ReadsInfo::ReadsMerkleHashes(merkle)) = &kv.range_queries_info[1].reads_info else {
        panic!("merkle summary expected")
    };
    assert_eq!((merkle.max_degree, merkle.max_level), (50, 2));
    assert_eq!(merkle.max_level_hashes[1], seq(32, 42));
    let coll = &ns.collection_hashed_rwset[0];
    assert_eq!((coll.collection_name.as_str(), coll.pvt_rwset_hash.as_slice()), ("privColl", seq(32, 6).as_slice()));
    let hashed = HashedRwSet::decode(coll.hashed_rwset.as_slice()).unwrap();
    assert_eq!(hashed.hashed_reads[0].key_hash, seq(32, 1));
    assert_eq!(hashed.hashed_writes[0].value_hash, seq(32, 3));
    let purge = &hashed.hashed_writes[1];
    assert!(purge.is_delete && purge.is_purge && purge.value_hash.is_empty());
    assert_eq!(hashed.metadata_writes[0].key_hash, seq(32, 5));
    let pvt = TxPvtReadWriteSet::decode(d("rwset.TxPvtReadWriteSet")).unwrap();
    let pvt_coll = &pvt.ns_pvt_rwset[0].collection_pvt_rwset[0];
    assert_eq!(pvt_coll.collection_name, "privColl");
    assert_eq!(pvt_coll.rwset, ns.rwset);
}
