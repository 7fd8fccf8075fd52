#!/usr/bin/env node
// Dev aid, not run by the tests: what fabric-contract-api answers, without a peer. Builds the asset-transfer
// chaincode (chaincode/asset-transfer.js, a fabric-shim ChaincodeFromContract), calls its Invoke with an in-memory
// stub for a list of cases and prints, per case, the arguments, the response (status, message, payload) and the
// write set; then the GetMetadata payload. These are the answers the Rust contract API must reproduce byte for byte.
//
//   node tests/node/contract-check.js            every case
//   node tests/node/contract-check.js Create     only the cases whose label contains "Create"
//   node tests/node/contract-check.js --ajv      how fabric-shim's ajv 6, compiled as DataMarshall compiles it,
//                                                words schema violations; and node's JSON.parse error texts
//
// The stub behaves as the peer does for what the contract uses: reads see the committed state (not the
// transaction's own writes), writes become the write set, committed only when the response is 200. Each case
// starts from a fresh ledger: empty, the sample's six assets (InitLedger committed), or given key/values.
// fabric-shim's logging is off (CORE_CHAINCODE_LOGGING_LEVEL=CRITICAL) unless the environment sets a level.
'use strict';

if (!process.env.CORE_CHAINCODE_LOGGING_LEVEL) {
    process.env.CORE_CHAINCODE_LOGGING_LEVEL = 'CRITICAL'; // no such winston level: nothing is logged
}

const path = require('path');
const createChaincode = require('./chaincode/asset-transfer');
const {byteCompare} = require('./chaincode/util');

// ChaincodeFromContract builds a ClientIdentity (which parses the creator's X.509 certificate) for every call it
// routes to a contract, so the stub needs a real certificate: a self-signed P-256 one, key discarded.
const CREATOR_PEM = `-----BEGIN CERTIFICATE-----
MIIB8zCCAZmgAwIBAgIUJpyQvhxdAe3F/nv6D1/uV1XlsbYwCgYIKoZIzj0EAwIw
TjELMAkGA1UEBhMCVVMxDTALBgNVBAoMBE9yZzExDzANBgNVBAsMBmNsaWVudDEf
MB0GA1UEAwwWVXNlcjFAb3JnMS5leGFtcGxlLmNvbTAgFw0yNjEyMDUxMTE3MDRa
GA8yMTI2MTExMTExMTcwNFowTjELMAkGA1UEBhMCVVMxDTALBgNVBAoMBE9yZzEx
DzANBgNVBAsMBmNsaWVudDEfMB0GA1UEAwwWVXNlcjFAb3JnMS5leGFtcGxlLmNv
bTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABMqT6pFeOd139AiqHksujBA8XwhB
hKrLleAiUr99krxqAUGUc7C0OUCId6/Bl3cxbD6YcGSr/YaWmZiheiRofoGjUzBR
MB0GA1UdDgQWBBS2xxDYV3mUgX5HmXKO/K5QMBKjNzAfBgNVHSMEGDAWgBS2xxDY
V3mUgX5HmXKO/K5QMBKjNzAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gA
MEUCIQCrNritgpoJjPXBw0KIQ8ET8JzUGZNaLAYJ0kBkKBYEsgIgGBI524MNXSSu
4swBqai5I3wffUPWBKR8QQUFrYbgNYA=
-----END CERTIFICATE-----
`;

/** A minimal ChaincodeStub over `state` (Map key -> Buffer); writes go to `writes` (Map key -> Buffer|null). */
function fakeStub(args, state, writes, {creatorThrows = false} = {}) {
    const bufferArgs = args.map((a) => Buffer.from(a));
    return {
        getBufferArgs: () => bufferArgs,
        getStringArgs: () => args.slice(),
        getArgs: () => args.slice(),
        getFunctionAndParameters: () => ({fcn: args.length >= 1 ? args[0] : '', params: args.slice(1)}),
        getTxID: () => 'tx1',
        getChannelID: () => 'mychannel',
        getCreator() {
            if (creatorThrows) {
                throw new Error('fake stub: no creator');
            }
            return {mspid: 'Org1MSP', idBytes: Buffer.from(CREATOR_PEM)};
        },
        // The shim answers an absent key with an empty buffer.
        getState: async (key) => state.get(key) || Buffer.alloc(0),
        putState: async (key, value) => {
            writes.set(key, Buffer.from(value));
        },
        deleteState: async (key) => {
            writes.set(key, null);
        },
        // The shim's iterator: next() gives {value: {key, value}, done}; "" as end means no upper bound.
        getStateByRange: async (start, end) => {
            const keys = [...state.keys()]
                .filter((k) => byteCompare(k, start) >= 0 && (end === '' || byteCompare(k, end) < 0))
                .sort(byteCompare);
            let i = 0;
            return {
                next: async () => (i < keys.length
                    ? {value: {key: keys[i], value: state.get(keys[i++])}, done: false}
                    : {value: undefined, done: true}),
                close: async () => {},
            };
        },
    };
}

/** Invokes `args` on a fresh chaincode against `state`, committing the writes on success. */
async function invoke(chaincode, args, state, opts) {
    const writes = new Map();
    const response = await chaincode.Invoke(fakeStub(args, state, writes, opts));
    if (response.status === 200) {
        for (const [k, v] of writes) {
            if (v === null) {
                state.delete(k);
            } else {
                state.set(k, v);
            }
        }
    }
    return {response, writes};
}

const text = (buf) => (buf ? Buffer.from(buf).toString('utf8') : '');

/** A fresh ledger of the given kind: 'empty', 'assets' (InitLedger committed) or an object of key -> value. */
async function ledger(kind) {
    const state = new Map();
    if (kind === 'assets') {
        const {response} = await invoke(createChaincode(), ['InitLedger'], state);
        if (response.status !== 200) {
            throw new Error(`InitLedger failed: ${response.message}`);
        }
    } else if (kind !== 'empty') {
        for (const [k, v] of Object.entries(kind)) {
            state.set(k, Buffer.from(v));
        }
    }
    return state;
}

const createAsset = (size, value = '5') => ['CreateAsset', 'a', 'blue', size, 'Tom', value];

// [label, args, ledger, options]
const CASES = [
    ['no args', [], 'empty'],
    ['bare GetMetadata (default contract has none)', ['GetMetadata'], 'empty'],
    ['system GetMetadata (payload printed at the end)', ['org.hyperledger.fabric:GetMetadata'], 'empty'],
    ['system GetMetadata with an extra arg', ['org.hyperledger.fabric:GetMetadata', 'x'], 'empty'],
    ['system contract, unknown function', ['org.hyperledger.fabric:Foo'], 'empty'],
    ['InitLedger', ['InitLedger'], 'empty'],
    ['InitLedger with an arg', ['InitLedger', 'x'], 'empty'],
    ['SmartContract:ReadAsset asset1', ['SmartContract:ReadAsset', 'asset1'], 'assets'],
    ['ReadAsset asset1', ['ReadAsset', 'asset1'], 'assets'],
    ['ReadAsset of an absent asset', ['ReadAsset', 'nope'], 'assets'],
    ['unknown contract', ['Nope:ReadAsset', 'x'], 'assets'],
    ['unknown function', ['Foo'], 'assets'],
    ['contract name, empty function', ['SmartContract:'], 'assets'],
    ['empty contract name', [':ReadAsset', 'asset1'], 'assets'],
    ['two colons', ['SmartContract:ReadAsset:x', 'asset1'], 'assets'],
    ['ReadAsset, 0 args', ['ReadAsset'], 'assets'],
    ['ReadAsset, 2 args', ['ReadAsset', 'asset1', 'asset2'], 'assets'],
    ['CreateAsset size 5', createAsset('5'), 'empty'],
    ['CreateAsset size abc', createAsset('abc'), 'empty'],
    ['CreateAsset size ""', createAsset(''), 'empty'],
    ['CreateAsset size 5.5', createAsset('5.5'), 'empty'],
    ['CreateAsset size " 7"', createAsset(' 7'), 'empty'],
    ['CreateAsset size 1e3', createAsset('1e3'), 'empty'],
    ['CreateAsset size 0x10', createAsset('0x10'), 'empty'],
    ['CreateAsset size -0', createAsset('-0'), 'empty'],
    ['CreateAsset size 007', createAsset('007'), 'empty'],
    ['CreateAsset size 1.0', createAsset('1.0'), 'empty'],
    ['CreateAsset size -3', createAsset('-3'), 'empty'],
    ['CreateAsset size 9007199254740993', createAsset('9007199254740993'), 'empty'],
    ['CreateAsset size true', createAsset('true'), 'empty'],
    ['CreateAsset size null', createAsset('null'), 'empty'],
    ['CreateAsset size "5" (JSON string)', createAsset('"5"'), 'empty'],
    ['CreateAsset size abc, value xyz (first bad one reported)', createAsset('abc', 'xyz'), 'empty'],
    ['CreateAsset value 2.5', createAsset('5', '2.5'), 'empty'],
    ['CreateAsset of an existing asset', ['CreateAsset', 'asset1', 'blue', '5', 'Tom', '300'], 'assets'],
    ['UpdateAsset asset1', ['UpdateAsset', 'asset1', 'red', '6', 'Ann', '400'], 'assets'],
    ['UpdateAsset of an absent asset', ['UpdateAsset', 'nope', 'red', '1', 'Ann', '1'], 'assets'],
    ['DeleteAsset asset1', ['DeleteAsset', 'asset1'], 'assets'],
    ['DeleteAsset of an absent asset', ['DeleteAsset', 'nope'], 'assets'],
    ['AssetExists asset1', ['AssetExists', 'asset1'], 'assets'],
    ['AssetExists of an absent asset', ['AssetExists', 'nope'], 'assets'],
    ['TransferAsset asset1 Ann', ['TransferAsset', 'asset1', 'Ann'], 'assets'],
    ['TransferAsset of an absent asset', ['TransferAsset', 'nope', 'Ann'], 'assets'],
    ['GetAllAssets, empty ledger', ['GetAllAssets'], 'empty'],
    ['GetAllAssets, two assets', ['GetAllAssets'], 'two'],
    ['GetAllAssets, a value that is not JSON', ['GetAllAssets'], {k: 'abc'}],
    ['ReadAsset of a value that is not JSON', ['ReadAsset', 'k'], {k: '{'}],
    ['ReadAsset asset1, getCreator throws', ['ReadAsset', 'asset1'], 'assets', {creatorThrows: true}],
];

// ---- --ajv -------------------------------------------------------------------------------------------------------

const ASSET_SCHEMA = {
    $id: 'Asset',
    type: 'object',
    properties: {
        AppraisedValue: {type: 'integer'}, Color: {type: 'string'}, ID: {type: 'string'}, Owner: {type: 'string'},
        Size: {type: 'integer'},
    },
    required: ['AppraisedValue', 'Color', 'ID', 'Owner', 'Size'],
};

// [parameter schema, values]
const AJV_CASES = [
    [{type: 'integer'}, ['abc', 5.5, null, true]],
    [{type: 'integer', minimum: 0, maximum: 255}, [-1, 300]],
    [{type: ['string', 'null']}, [5]],
    [{type: 'boolean'}, ['x']],
    [{type: 'array', items: {type: 'integer'}}, [[1, 'a', 2.5], {}]],
    [{$ref: '#/components/schemas/Asset'}, [
        {}, {ID: 5}, {ID: 'a', Color: 'b', Size: 'big', Owner: 'o', AppraisedValue: 1, Extra: 1},
    ]],
    [{enum: ['Red', 'Green']}, ['Blue']],
    [{anyOf: [{$ref: '#/components/schemas/Asset'}, {type: 'null'}]}, [5]],
    [{oneOf: [{type: 'string', enum: ['A']}, {type: 'object', required: ['B'], properties: {B: {type: 'integer'}}}]},
        ['C', {B: 'x'}]],
    [{type: 'number'}, ['1']],
];

function ajvReference() {
    // The ajv fabric-shim's DataMarshall requires, with its options; one instance, as DataMarshall keeps one.
    const shimDir = path.dirname(require.resolve('fabric-shim'));
    const Ajv = require(require.resolve('ajv', {paths: [shimDir]}));
    const ajvVersion = require(require.resolve('ajv/package.json', {paths: [shimDir]})).version;
    const newAjv = () => new Ajv({useDefaults: true, coerceTypes: false, allErrors: true});
    const ajv = newAjv();
    // DataMarshall.handleParameters' schema for one parameter; a fresh copy of Asset each time, as it is mutable.
    const wrap = (S) => ({
        properties: {prop: S},
        components: {schemas: {Asset: JSON.parse(JSON.stringify(ASSET_SCHEMA))}},
    });

    console.log(`== ajv ${ajvVersion}: validator.errors.map(e => e.message), then each error's dataPath`);
    for (const [S, values] of AJV_CASES) {
        for (const value of values) {
            const validator = ajv.compile(wrap(S));
            const valid = validator({prop: value});
            console.log(`S=${JSON.stringify(S)} value=${JSON.stringify(value)}`);
            if (valid) {
                console.log('    valid');
            } else {
                console.log(`    ${JSON.stringify(validator.errors.map((e) => e.message))}`);
                console.log(`    at ${JSON.stringify(validator.errors.map((e) => e.dataPath))}`);
            }
        }
    }

    console.log('== ajv compile with "format"');
    const formats = [['integer', 'int64'], ['number', 'double'], ['integer', 'int32'], ['number', 'float'],
        ['string', 'byte'], ['string', 'date-time']];
    for (const S of formats.map(([type, format]) => ({type, format}))) {
        try {
            newAjv().compile(wrap(S));
            console.log(`${JSON.stringify(S)}: compiles`);
        } catch (err) {
            console.log(`${JSON.stringify(S)}: ${err.name}: ${JSON.stringify(err.message)}`);
        }
    }

    console.log(`== JSON.parse on node ${process.version}`);
    for (const input of ['abc', '{', '', '[1,', '{"a":1,}', '1 2']) {
        try {
            JSON.parse(input);
            console.log(`${JSON.stringify(input)}: parses`);
        } catch (err) {
            console.log(`${JSON.stringify(input)}: ${err.name}: ${JSON.stringify(err.message)}`);
        }
    }
}

// ---- main ---------------------------------------------------------------------------------------------------------

async function main() {
    if (process.argv[2] === '--ajv') {
        ajvReference();
        return;
    }
    const filter = process.argv[2] || '';
    let metadata;
    for (const [label, args, kind, opts] of CASES) {
        if (!label.includes(filter)) {
            continue;
        }
        const state = kind === 'two'
            ? await ledger({
                asset1: '{"AppraisedValue":300,"Color":"blue","ID":"asset1","Owner":"Tomoko","Size":5}',
                asset2: '{"AppraisedValue":400,"Color":"red","ID":"asset2","Owner":"Brad","Size":5}',
            })
            : await ledger(kind);
        // A chaincode per case, as a fresh process would have: nothing carries over between calls.
        const {response, writes} = await invoke(createChaincode(), args, state, opts);
        const payload = text(response.payload);
        const isMetadata = args.length === 1 && args[0] === 'org.hyperledger.fabric:GetMetadata';
        if (isMetadata) {
            metadata = payload;
        }
        console.log(`== ${label}`);
        console.log(`args:    ${JSON.stringify(args)}`);
        console.log(`status:  ${response.status}`);
        // shim.success sets no message: on the wire that is proto3's "".
        console.log(`message: ${JSON.stringify(response.message || '')}`);
        console.log(`payload: ${isMetadata ? '(printed at the end)' : JSON.stringify(payload)}`);
        const ws = [...writes].map(([k, v]) => (v === null ? `del ${k}` : `put ${k} ${text(v)}`));
        console.log(`writes:  ${ws.length ? ws.join('\n         ') : '(none)'}`);
    }
    if (metadata !== undefined) {
        console.log('== GetMetadata payload');
        console.log(metadata);
    }
}

main().catch((err) => {
    console.error(err);
    process.exit(1);
});
