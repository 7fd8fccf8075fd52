#!/usr/bin/env node
// Reference encoder/decoder for wasmcc's wire-identity test (proto/tests/wire.rs), using
// Fabric's official Node bindings (@hyperledger/fabric-protos, google-protobuf classes).
//
//   node wire.js encode      prints "<name> <base64>" for every sample message
//   node wire.js roundtrip   reads "<name> <base64>" lines on stdin, decodes each with the
//                            official class and prints the re-encoding the same way
//
// <name> is "<proto package>.<Message>" optionally followed by "#<variant>", e.g.
// "protos.ChaincodeMessage#TRANSACTION". The Rust test builds the same samples, so any
// change to the content here must be mirrored in proto/tests/wire.rs.
'use strict';

const path = require('path');
const fp = require('@hyperledger/fabric-protos');
// Use the google-protobuf copy that fabric-protos itself loads, so Timestamp instances match.
const { Timestamp } = require(require.resolve('google-protobuf/google/protobuf/timestamp_pb.js', {
    paths: [path.dirname(require.resolve('@hyperledger/fabric-protos'))],
}));

const PACKAGES = {
    protos: fp.peer,
    common: fp.common,
    msp: fp.msp,
    queryresult: fp.ledger.queryresult,
    rwset: fp.ledger.rwset,
    kvrwset: fp.ledger.rwset.kvrwset,
    orderer: fp.orderer,
    gateway: fp.gateway,
    'google.protobuf': { Timestamp },
};

function classFor(name) {
    const full = name.split('#')[0];
    const dot = full.lastIndexOf('.');
    const pkg = PACKAGES[full.slice(0, dot)];
    const cls = pkg && pkg[full.slice(dot + 1)];
    if (typeof cls !== 'function' || typeof cls.deserializeBinary !== 'function') {
        throw new Error(`wire.js: no official class for ${name}`);
    }
    return cls;
}

// ---- shared sample content (mirrored in proto/tests/wire.rs) ----
const CHANNEL = 'mychannel';
const TXID = 'a3f1c0de5b7e4d2a9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d';
const CCID = 'basic_1.0:4ec191e793b27e953ff2ede5a8bcc63152cecb1e4c3f301a26e22692c61967ad';
const ALL_BYTES = Uint8Array.from({ length: 256 }, (_, i) => i);
const utf8 = (s) => new Uint8Array(Buffer.from(s, 'utf8'));
const seq = (n, start) => Uint8Array.from({ length: n }, (_, i) => (start + i) & 0xff);
const PEM = '-----BEGIN CERTIFICATE-----\nMIIB8jCCAZmgAwIBAgIUfake\n-----END CERTIFICATE-----\n';

const samples = new Map(); // name -> message, in insertion order
const bytesOf = (name) => samples.get(name).serializeBinary();

function add(name, fields, maps) {
    const msg = new (classFor(name))();
    for (const [k, v] of Object.entries(fields || {})) {
        const setter = 'set' + k;
        // Generated setters live on the class prototype; anything found further up is a
        // jspb.Message method (google-protobuf appends `$` to fields that clash with those).
        if (!Object.prototype.hasOwnProperty.call(Object.getPrototypeOf(msg), setter)) {
            throw new Error(`wire.js: ${name} has no generated ${setter}`);
        }
        msg[setter](v);
    }
    for (const [k, entries] of Object.entries(maps || {})) {
        const m = msg['get' + k + 'Map']();
        for (const [mk, mv] of entries) m.set(mk, mv);
    }
    samples.set(name, msg);
    return msg;
}

function timestamp() {
    const t = new Timestamp();
    t.setSeconds(1700000000);
    t.setNanos(123456789);
    return t;
}

add('google.protobuf.Timestamp', { Seconds: 1700000000, Nanos: 123456789 });
add('msp.SerializedIdentity', { Mspid: 'Org1MSP', IdBytes: utf8(PEM) });
add('common.SignatureHeader', { Creator: bytesOf('msp.SerializedIdentity'), Nonce: seq(24, 0) });
add('protos.ChaincodeID', { Path: 'github.com/example/basic', Name: CCID, Version: '1.0' });
add('protos.ChaincodeHeaderExtension', { ChaincodeId: samples.get('protos.ChaincodeID') });
add('common.ChannelHeader', {
    Type: fp.common.HeaderType.ENDORSER_TRANSACTION,
    Version: 1,
    Timestamp: timestamp(),
    ChannelId: CHANNEL,
    TxId: TXID,
    Epoch: 2 ** 40 + 5,
    Extension$: bytesOf('protos.ChaincodeHeaderExtension'), // google-protobuf renames fields that clash with jspb.Message methods
    TlsCertHash: seq(32, 200),
});
add('common.ChannelHeader#config', { Type: fp.common.HeaderType.CONFIG, ChannelId: CHANNEL });
add('common.Header', {
    ChannelHeader: bytesOf('common.ChannelHeader'),
    SignatureHeader: bytesOf('common.SignatureHeader'),
});
add('protos.ChaincodeInput',
    { ArgsList: [utf8('transfer'), utf8('alice'), new Uint8Array(0), ALL_BYTES], IsInit: true },
    { Decorations: [['deco', utf8('rated')]] });
add('protos.ChaincodeSpec', {
    Type: fp.peer.ChaincodeSpec.Type.NODE,
    ChaincodeId: samples.get('protos.ChaincodeID'),
    Input: samples.get('protos.ChaincodeInput'),
    Timeout: -7,
});
add('protos.ChaincodeInvocationSpec', { ChaincodeSpec: samples.get('protos.ChaincodeSpec') });
add('protos.ChaincodeProposalPayload',
    { Input: bytesOf('protos.ChaincodeInvocationSpec') },
    { Transientmap: [['secret', utf8('shh \u00e9')]] });
add('protos.Proposal', {
    Header: bytesOf('common.Header'),
    Payload: bytesOf('protos.ChaincodeProposalPayload'),
    Extension$: utf8('ext'),
});
add('protos.SignedProposal', { ProposalBytes: bytesOf('protos.Proposal'), Signature: seq(71, 48) });
add('protos.ChaincodeAdditionalParams', {
    UseWriteBatch: true,
    MaxSizeWriteBatch: 1000,
    UseGetMultipleKeys: true,
    MaxSizeGetMultipleKeys: 4294967295,
});
add('protos.GetState', { Key: 'asset1', Collection: 'privColl' });
add('protos.GetStateMetadata', { Key: 'asset2', Collection: 'privColl' });
add('protos.GetStateMultiple', { KeysList: ['a', '', 'c\u00e9\u4e2d'], Collection: 'privColl' });
add('protos.GetStateMultipleResult', { ValuesList: [utf8('v1'), new Uint8Array(0), ALL_BYTES] });
add('protos.PutState', { Key: 'k\u4e2d', Value: ALL_BYTES, Collection: 'privColl' });
add('protos.StateMetadata', { Metakey: 'VALIDATION_PARAMETER', Value: seq(5, 1) });
add('protos.StateMetadata#other', { Metakey: 'OTHER', Value: utf8('x') });
add('protos.PutStateMetadata', {
    Key: 'asset3',
    Collection: 'privColl',
    Metadata: samples.get('protos.StateMetadata'),
});
add('protos.StateMetadataResult', {
    EntriesList: [samples.get('protos.StateMetadata'), samples.get('protos.StateMetadata#other')],
});
add('protos.DelState', { Key: 'gone', Collection: 'privColl' });
add('protos.PurgePrivateState', { Key: 'purged', Collection: 'privColl' });
const WR = fp.peer.WriteRecord.Type;
add('protos.WriteRecord', {
    Key: 'rec',
    Value: utf8('val'),
    Collection: 'privColl',
    Metadata: samples.get('protos.StateMetadata'),
    Type: WR.PUT_STATE_METADATA,
});
add('protos.WriteRecord#put', { Key: 'p', Value: utf8('1'), Type: WR.PUT_STATE });
add('protos.WriteRecord#del', { Key: 'd', Type: WR.DEL_STATE });
add('protos.WriteRecord#purge', { Key: 'x', Collection: 'privColl', Type: WR.PURGE_PRIVATE_DATA });
add('protos.WriteBatchState', {
    RecList: ['protos.WriteRecord#put', 'protos.WriteRecord#del', 'protos.WriteRecord',
        'protos.WriteRecord#purge'].map((n) => samples.get(n)),
});
add('protos.QueryMetadata', { Pagesize: 25, Bookmark: 'bm-1' });
add('protos.QueryMetadata#negative', { Pagesize: -1 });
add('protos.GetStateByRange', {
    Startkey: 'a',
    Endkey: 'z',
    Collection: 'privColl',
    Metadata: bytesOf('protos.QueryMetadata'),
});
add('protos.GetQueryResult', {
    Query: '{"selector":{"owner":"alice"}}',
    Collection: 'privColl',
    Metadata: bytesOf('protos.QueryMetadata'),
});
add('protos.GetHistoryForKey', { Key: 'asset1' });
add('protos.QueryStateNext', { Id: '6c1a2b3c-0000-4000-8000-000000000001' });
add('protos.QueryStateClose', { Id: '6c1a2b3c-0000-4000-8000-000000000002' });
add('queryresult.KV', { Namespace: 'basic', Key: 'asset1', Value: utf8('{"v":1}') });
add('queryresult.KeyModification', {
    TxId: TXID,
    Value: utf8('old'),
    Timestamp: timestamp(),
    IsDelete: true,
});
add('protos.QueryResultBytes', { Resultbytes: bytesOf('queryresult.KV') });
add('protos.QueryResultBytes#history', { Resultbytes: bytesOf('queryresult.KeyModification') });
add('protos.QueryResponseMetadata', { FetchedRecordsCount: 2, Bookmark: 'bm-2' });
add('protos.QueryResponse', {
    ResultsList: [samples.get('protos.QueryResultBytes'), samples.get('protos.QueryResultBytes#history')],
    HasMore: true,
    Id: '6c1a2b3c-0000-4000-8000-000000000003',
    Metadata: bytesOf('protos.QueryResponseMetadata'),
});
add('protos.ChaincodeEvent', {
    ChaincodeId: 'basic',
    TxId: TXID,
    EventName: 'Transfer',
    Payload: utf8('{"from":"alice"}'),
});
add('protos.Response', { Status: 200, Message: 'ok', Payload: utf8('result') });
add('protos.Response#error', { Status: 500, Message: 'boom \u2620' });

// Which sample is the payload of a ChaincodeMessage of each type. Types whose payload is not
// a protobuf (ERROR text, RESPONSE raw value, ...) carry ALL_BYTES.
const PAYLOAD_FOR_TYPE = {
    REGISTER: 'protos.ChaincodeID',
    INIT: 'protos.ChaincodeInput',
    READY: 'protos.ChaincodeAdditionalParams',
    TRANSACTION: 'protos.ChaincodeInput',
    COMPLETED: 'protos.Response',
    GET_STATE: 'protos.GetState',
    PUT_STATE: 'protos.PutState',
    DEL_STATE: 'protos.DelState',
    INVOKE_CHAINCODE: 'protos.ChaincodeSpec',
    GET_STATE_BY_RANGE: 'protos.GetStateByRange',
    GET_QUERY_RESULT: 'protos.GetQueryResult',
    QUERY_STATE_NEXT: 'protos.QueryStateNext',
    QUERY_STATE_CLOSE: 'protos.QueryStateClose',
    GET_HISTORY_FOR_KEY: 'protos.GetHistoryForKey',
    GET_STATE_METADATA: 'protos.GetStateMetadata',
    PUT_STATE_METADATA: 'protos.PutStateMetadata',
    GET_PRIVATE_DATA_HASH: 'protos.GetState',
    PURGE_PRIVATE_DATA: 'protos.DelState',
    WRITE_BATCH_STATE: 'protos.WriteBatchState',
    GET_STATE_MULTIPLE: 'protos.GetStateMultiple',
};
// Every value of the official enum, in numeric order: all 7 fields set.
const types = Object.entries(fp.peer.ChaincodeMessage.Type).sort((a, b) => a[1] - b[1]);
for (const [typeName, value] of types) {
    const payloadName = PAYLOAD_FOR_TYPE[typeName];
    add(`protos.ChaincodeMessage#${typeName}`, {
        Type: value,
        Timestamp: timestamp(),
        Payload: payloadName ? bytesOf(payloadName) : ALL_BYTES,
        Txid: TXID,
        Proposal: samples.get('protos.SignedProposal'),
        ChaincodeEvent: samples.get('protos.ChaincodeEvent'),
        ChannelId: CHANNEL,
    });
}
// What actually flows on a stream: sparse messages.
add('protos.ChaincodeMessage#register_min', {
    Type: fp.peer.ChaincodeMessage.Type.REGISTER,
    Payload: bytesOf('protos.ChaincodeID'),
});
add('protos.ChaincodeMessage#keepalive_min', { Type: fp.peer.ChaincodeMessage.Type.KEEPALIVE });

// The gateway: an endorsed transaction and the service's messages.
add('protos.Endorsement', { Endorser: bytesOf('msp.SerializedIdentity'), Signature: seq(70, 1) });
add('protos.ChaincodeAction', {
    Results: seq(40, 3),
    Events: bytesOf('protos.ChaincodeEvent'),
    Response: samples.get('protos.Response'),
    ChaincodeId: samples.get('protos.ChaincodeID'),
});
add('protos.ProposalResponsePayload', { ProposalHash: seq(32, 7), Extension$: bytesOf('protos.ChaincodeAction') });
add('protos.ProposalResponse', {
    Version: 1,
    Timestamp: timestamp(),
    Response: samples.get('protos.Response'),
    Payload: bytesOf('protos.ProposalResponsePayload'),
    Endorsement: samples.get('protos.Endorsement'),
});
add('protos.ChaincodeEndorsedAction', {
    ProposalResponsePayload: bytesOf('protos.ProposalResponsePayload'),
    EndorsementsList: [samples.get('protos.Endorsement'), samples.get('protos.Endorsement')],
});
add('protos.ChaincodeActionPayload', {
    ChaincodeProposalPayload: bytesOf('protos.ChaincodeProposalPayload'),
    Action: samples.get('protos.ChaincodeEndorsedAction'),
});
add('protos.TransactionAction', {
    Header: bytesOf('common.SignatureHeader'),
    Payload: bytesOf('protos.ChaincodeActionPayload'),
});
add('protos.Transaction', { ActionsList: [samples.get('protos.TransactionAction')] });
add('common.Payload', { Header: samples.get('common.Header'), Data: bytesOf('protos.Transaction') });
add('common.Envelope', { Payload: bytesOf('common.Payload'), Signature: seq(71, 5) });
add('orderer.SeekNewest', {});
add('orderer.SeekOldest', {});
add('orderer.SeekNextCommit', {});
add('orderer.SeekSpecified', { Number: 2 ** 40 + 3 });
add('orderer.SeekPosition#newest', { Newest: samples.get('orderer.SeekNewest') });
add('orderer.SeekPosition#oldest', { Oldest: samples.get('orderer.SeekOldest') });
add('orderer.SeekPosition#next_commit', { NextCommit: samples.get('orderer.SeekNextCommit') });
add('orderer.SeekPosition#specified', { Specified: samples.get('orderer.SeekSpecified') });
add('gateway.EvaluateRequest', {
    TransactionId: TXID,
    ChannelId: CHANNEL,
    ProposedTransaction: samples.get('protos.SignedProposal'),
    TargetOrganizationsList: ['Org1MSP', 'Org2MSP'],
});
add('gateway.EvaluateResponse', { Result: samples.get('protos.Response') });
add('gateway.EndorseRequest', {
    TransactionId: TXID,
    ChannelId: CHANNEL,
    ProposedTransaction: samples.get('protos.SignedProposal'),
    EndorsingOrganizationsList: ['Org1MSP'],
});
add('gateway.EndorseResponse', { PreparedTransaction: samples.get('common.Envelope') });
add('gateway.SubmitRequest', {
    TransactionId: TXID,
    ChannelId: CHANNEL,
    PreparedTransaction: samples.get('common.Envelope'),
});
add('gateway.SubmitResponse', {});
add('gateway.CommitStatusRequest', {
    TransactionId: TXID,
    ChannelId: CHANNEL,
    Identity: bytesOf('msp.SerializedIdentity'),
});
add('gateway.SignedCommitStatusRequest', { Request: bytesOf('gateway.CommitStatusRequest'), Signature: seq(70, 2) });
add('gateway.CommitStatusResponse', { Result: fp.peer.TxValidationCode.MVCC_READ_CONFLICT, BlockNumber: 2 ** 40 + 9 });
add('gateway.ChaincodeEventsRequest', {
    ChannelId: CHANNEL,
    ChaincodeId: 'basic',
    Identity: bytesOf('msp.SerializedIdentity'),
    StartPosition: samples.get('orderer.SeekPosition#specified'),
    AfterTransactionId: TXID,
});
add('gateway.SignedChaincodeEventsRequest', {
    Request: bytesOf('gateway.ChaincodeEventsRequest'),
    Signature: seq(70, 3),
});
add('gateway.ChaincodeEventsResponse', {
    EventsList: [samples.get('protos.ChaincodeEvent'), samples.get('protos.ChaincodeEvent')],
    BlockNumber: 7,
});
add('gateway.ErrorDetail', { Address: 'peer0.org1.example.com:7051', MspId: 'Org1MSP', Message: 'boom \u2620' });
add('gateway.ProposedTransaction', {
    TransactionId: TXID,
    Proposal: samples.get('protos.SignedProposal'),
    EndorsingOrganizationsList: ['Org1MSP'],
});
add('gateway.PreparedTransaction', { TransactionId: TXID, Envelope: samples.get('common.Envelope') });

// The ledger's read/write sets: what an endorsement carries in ChaincodeAction.results.
add('kvrwset.Version', { BlockNum: 2 ** 40 + 1, TxNum: 7 });
add('kvrwset.KVRead', { Key: 'asset1', Version: samples.get('kvrwset.Version') });
add('kvrwset.KVRead#absent', { Key: 'missing' });
add('kvrwset.KVWrite', { Key: 'k\u4e2d', Value: ALL_BYTES });
add('kvrwset.KVWrite#delete', { Key: 'gone', IsDelete: true });
add('kvrwset.KVMetadataEntry', { Name: 'VALIDATION_PARAMETER', Value: seq(5, 1) });
add('kvrwset.KVMetadataWrite', { Key: 'asset3', EntriesList: [samples.get('kvrwset.KVMetadataEntry')] });
add('kvrwset.QueryReads', {
    KvReadsList: [samples.get('kvrwset.KVRead'), samples.get('kvrwset.KVRead#absent')],
});
add('kvrwset.QueryReadsMerkleSummary', { MaxDegree: 50, MaxLevel: 2, MaxLevelHashesList: [seq(32, 10), seq(32, 42)] });
add('kvrwset.RangeQueryInfo', {
    StartKey: 'a',
    EndKey: 'z',
    ItrExhausted: true,
    RawReads: samples.get('kvrwset.QueryReads'),
});
add('kvrwset.RangeQueryInfo#merkle', {
    StartKey: 'b',
    ReadsMerkleHashes: samples.get('kvrwset.QueryReadsMerkleSummary'),
});
add('kvrwset.KVRWSet', {
    ReadsList: [samples.get('kvrwset.KVRead'), samples.get('kvrwset.KVRead#absent')],
    RangeQueriesInfoList: [samples.get('kvrwset.RangeQueryInfo'), samples.get('kvrwset.RangeQueryInfo#merkle')],
    WritesList: [samples.get('kvrwset.KVWrite'), samples.get('kvrwset.KVWrite#delete')],
    MetadataWritesList: [samples.get('kvrwset.KVMetadataWrite')],
});
add('kvrwset.KVReadHash', { KeyHash: seq(32, 1), Version: samples.get('kvrwset.Version') });
add('kvrwset.KVWriteHash', { KeyHash: seq(32, 2), ValueHash: seq(32, 3) });
add('kvrwset.KVWriteHash#purge', { KeyHash: seq(32, 4), IsDelete: true, IsPurge: true });
add('kvrwset.KVMetadataWriteHash', { KeyHash: seq(32, 5), EntriesList: [samples.get('kvrwset.KVMetadataEntry')] });
add('kvrwset.HashedRWSet', {
    HashedReadsList: [samples.get('kvrwset.KVReadHash')],
    HashedWritesList: [samples.get('kvrwset.KVWriteHash'), samples.get('kvrwset.KVWriteHash#purge')],
    MetadataWritesList: [samples.get('kvrwset.KVMetadataWriteHash')],
});
add('rwset.CollectionHashedReadWriteSet', {
    CollectionName: 'privColl',
    HashedRwset: bytesOf('kvrwset.HashedRWSet'),
    PvtRwsetHash: seq(32, 6),
});
add('rwset.NsReadWriteSet', {
    Namespace: 'basic',
    Rwset: bytesOf('kvrwset.KVRWSet'),
    CollectionHashedRwsetList: [samples.get('rwset.CollectionHashedReadWriteSet')],
});
add('rwset.NsReadWriteSet#public', { Namespace: 'other', Rwset: bytesOf('kvrwset.KVRWSet') });
add('rwset.TxReadWriteSet', {
    DataModel: fp.ledger.rwset.TxReadWriteSet.DataModel.KV,
    NsRwsetList: [samples.get('rwset.NsReadWriteSet'), samples.get('rwset.NsReadWriteSet#public')],
});
add('rwset.CollectionPvtReadWriteSet', { CollectionName: 'privColl', Rwset: bytesOf('kvrwset.KVRWSet') });
add('rwset.NsPvtReadWriteSet', {
    Namespace: 'basic',
    CollectionPvtRwsetList: [samples.get('rwset.CollectionPvtReadWriteSet')],
});
add('rwset.TxPvtReadWriteSet', {
    DataModel: fp.ledger.rwset.TxReadWriteSet.DataModel.KV,
    NsPvtRwsetList: [samples.get('rwset.NsPvtReadWriteSet')],
});

// ---- modes ----
const b64 = (u8) => Buffer.from(u8).toString('base64');

function encode() {
    const out = [];
    for (const [name, msg] of samples) out.push(`${name} ${b64(msg.serializeBinary())}`);
    process.stdout.write(out.join('\n') + '\n');
}

function roundtrip() {
    const input = require('fs').readFileSync(0, 'utf8');
    const out = [];
    for (const line of input.split('\n')) {
        if (line.trim() === '') continue;
        const [name, data] = line.trim().split(/\s+/);
        const msg = classFor(name).deserializeBinary(new Uint8Array(Buffer.from(data || '', 'base64')));
        out.push(`${name} ${b64(msg.serializeBinary())}`);
    }
    process.stdout.write(out.join('\n') + (out.length ? '\n' : ''));
}

const mode = process.argv[2];
if (mode === 'encode') encode();
else if (mode === 'roundtrip') roundtrip();
else {
    process.stderr.write('usage: node wire.js encode|roundtrip\n');
    process.exit(2);
}
