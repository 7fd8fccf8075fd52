// The benchmark chaincode with Fabric's low-level Node API: the same logic, calls and payloads as the Rust example
// (examples/bench), so `bench` compares the shims, not the chaincodes.
'use strict';

const shim = require('fabric-shim');

const VALUE_BYTES = 64;
const RW_KEYS = 10;

/** 64 bytes that depend only on the transaction's inputs, as examples/bench's `value`. */
function value(txId, key, oldLen) {
    const v = Buffer.alloc(VALUE_BYTES, '.');
    Buffer.from(`${txId}|${key}|${oldLen}|`).copy(v, 0, 0, VALUE_BYTES);
    return v;
}

async function rw10(stub, prefix) {
    const keys = Array.from({length: RW_KEYS}, (_, i) => `${prefix}${i}`);
    const txId = stub.getTxID();
    let existing = 0;
    const oldLengths = [];
    for (const key of keys) {
        const old = await stub.getState(key);
        existing += old.length > 0 ? 1 : 0;
        oldLengths.push(old.length);
    }
    for (let i = 0; i < keys.length; i++) {
        await stub.putState(keys[i], value(txId, keys[i], oldLengths[i]));
    }
    return String(existing);
}

async function range(stub, start, end) {
    const iterator = await stub.getStateByRange(start, end);
    let count = 0;
    let bytes = 0;
    try {
        for (;;) {
            const res = await iterator.next();
            if (res.value) {
                count += 1;
                bytes += res.value.value.length;
            }
            if (res.done) {
                break;
            }
        }
    } finally {
        await iterator.close();
    }
    return `${count}:${bytes}`;
}

class Bench {
    async Init() {
        return shim.success();
    }

    async Invoke(stub) {
        const {fcn, params} = stub.getFunctionAndParameters();
        try {
            let payload;
            if (fcn === 'noop' && params.length === 0) {
                payload = '';
            } else if (fcn === 'get1' && params.length === 1) {
                return shim.success(await stub.getState(params[0]));
            } else if (fcn === 'rw10' && params.length === 1) {
                payload = await rw10(stub, params[0]);
            } else if (fcn === 'range100' && params.length === 2) {
                payload = await range(stub, params[0], params[1]);
            } else {
                return shim.error(`unknown call ${fcn} with ${params.length} arguments: expected noop, get1 <key>, rw10 <prefix> or range100 <start> <end>`);
            }
            return shim.success(Buffer.from(payload));
        } catch (err) {
            return shim.error(err && err.message ? err.message : String(err));
        }
    }
}

module.exports = Bench;
