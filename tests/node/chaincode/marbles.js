// fabric-samples marbles02 with Fabric's low-level Node API, as specified in docs/conformance.md ("marbles").
// The Rust twin is examples/marbles; both must answer byte for byte the same.
'use strict';

const shim = require('fabric-shim');
const {js, openQuery, drain, parseInt32, parseSafeInt, decodeRecord, keyPartOk, guarded} = require('./util');

const INDEX = 'color~name';
const MARBLE = {docType: 'string', name: 'string', color: 'string', size: 'int', owner: 'string'};
const KEY_PART_ERROR = 'color and name must be non-empty and must not contain U+0000 or U+10FFFF';

const ok = (payload) => shim.success(payload === undefined ? Buffer.alloc(0) : Buffer.from(payload));
const fail = (message) => shim.error(message);
const lower = (s) => s.toLowerCase();
const present = (v) => v && v.length > 0;

function encodeMarble(m) {
    return Buffer.from(
        `{"docType":${js(m.docType)},"name":${js(m.name)},"color":${js(m.color)},"size":${m.size},` +
        `"owner":${js(m.owner)}}`,
    );
}

/** `[{"Key":"k","Record":<value as stored>},…]` */
function recordsJSON(kvs) {
    const parts = [Buffer.from('[')];
    kvs.forEach((kv, i) => {
        parts.push(Buffer.from(`${i > 0 ? ',' : ''}{"Key":${js(kv.key)},"Record":`), Buffer.from(kv.value),
            Buffer.from('}'));
    });
    parts.push(Buffer.from(']'));
    return Buffer.concat(parts);
}

function pageJSON(kvs, metadata) {
    const count = metadata ? metadata.fetchedRecordsCount : 0;
    const bookmark = metadata ? metadata.bookmark : '';
    return Buffer.concat([
        Buffer.from('{"Results":'), recordsJSON(kvs),
        Buffer.from(`,"ResponseMetadata":{"RecordsCount":${count},"Bookmark":${js(bookmark)}}}`),
    ]);
}

async function query(promise) {
    const {iterator, metadata} = await openQuery(promise);
    return {kvs: await drain(iterator), metadata};
}

async function transferMarble(stub, args) {
    if (args.length < 2) {
        return fail('Incorrect number of arguments. Expecting 2');
    }
    const name = args[0];
    const newOwner = lower(args[1]);
    let bytes;
    try {
        bytes = await stub.getState(name);
    } catch (e) {
        return fail(`Failed to get marble:${e.message}`);
    }
    if (!present(bytes)) {
        return fail('Marble does not exist');
    }
    const marble = decodeRecord(bytes, MARBLE);
    if (!marble) {
        return fail(`Failed to decode marble: ${name}`);
    }
    marble.owner = newOwner;
    try {
        await stub.putState(name, encodeMarble(marble));
    } catch (e) {
        return fail(e.message);
    }
    return ok();
}

const ORDINALS = ['1st', '2nd', '3rd', '4th'];

const FUNCTIONS = {
    async initMarble(stub, args) {
        if (args.length !== 4) {
            return fail('Incorrect number of arguments. Expecting 4');
        }
        for (let i = 0; i < 4; i++) {
            if (args[i].length === 0) {
                return fail(`${ORDINALS[i]} argument must be a non-empty string`);
            }
        }
        const name = args[0];
        const color = lower(args[1]);
        const owner = lower(args[3]);
        const size = parseSafeInt(args[2]);
        if (size === undefined) {
            return fail('3rd argument must be a numeric string');
        }
        if (!keyPartOk(color) || !keyPartOk(name)) {
            return fail(KEY_PART_ERROR);
        }
        let existing;
        try {
            existing = await stub.getState(name);
        } catch (e) {
            return fail(`Failed to get marble: ${e.message}`);
        }
        if (present(existing)) {
            return fail(`This marble already exists: ${name}`);
        }
        await stub.putState(name, encodeMarble({docType: 'marble', name, color, size, owner}));
        await stub.putState(stub.createCompositeKey(INDEX, [color, name]), Buffer.from([0]));
        return ok();
    },

    async readMarble(stub, args) {
        if (args.length !== 1) {
            return fail('Incorrect number of arguments. Expecting name of the marble to query');
        }
        const name = args[0];
        let bytes;
        try {
            bytes = await stub.getState(name);
        } catch (e) {
            return fail(`{"Error":"Failed to get state for ${name}"}`);
        }
        if (!present(bytes)) {
            return fail(`{"Error":"Marble does not exist: ${name}"}`);
        }
        return ok(bytes);
    },

    async delete(stub, args) {
        if (args.length !== 1) {
            return fail('Incorrect number of arguments. Expecting 1');
        }
        const name = args[0];
        let bytes;
        try {
            bytes = await stub.getState(name);
        } catch (e) {
            return fail(`{"Error":"Failed to get state for ${name}"}`);
        }
        if (!present(bytes)) {
            return fail(`{"Error":"Marble does not exist: ${name}"}`);
        }
        const marble = decodeRecord(bytes, MARBLE);
        if (!marble) {
            return fail(`{"Error":"Failed to decode JSON of: ${name}"}`);
        }
        if (!keyPartOk(marble.color) || !keyPartOk(marble.name)) {
            return fail(KEY_PART_ERROR);
        }
        try {
            await stub.deleteState(name);
            await stub.deleteState(stub.createCompositeKey(INDEX, [marble.color, marble.name]));
        } catch (e) {
            return fail(`Failed to delete state:${e.message}`);
        }
        return ok();
    },

    transferMarble,

    async transferMarblesBasedOnColor(stub, args) {
        if (args.length < 2) {
            return fail('Incorrect number of arguments. Expecting 2');
        }
        const color = args[0];
        if (!keyPartOk(color)) {
            return fail(KEY_PART_ERROR);
        }
        const newOwner = lower(args[1]);
        const {iterator} = await openQuery(stub.getStateByPartialCompositeKey(INDEX, [color]));
        let n = 0;
        try {
            for (;;) {
                const r = await iterator.next();
                if (r.done) {
                    break;
                }
                const {attributes} = stub.splitCompositeKey(r.value.key);
                if (attributes.length < 2) {
                    return fail('Transfer failed: invalid color~name index key');
                }
                const response = await transferMarble(stub, [attributes[1], newOwner]);
                if (response.status !== 200) {
                    return fail(`Transfer failed: ${response.message}`);
                }
                n++;
            }
        } finally {
            await iterator.close();
        }
        return ok(`Transferred ${n} ${color} marbles to ${newOwner}`);
    },

    async getMarblesByRange(stub, args) {
        if (args.length < 2) {
            return fail('Incorrect number of arguments. Expecting 2');
        }
        const {kvs} = await query(stub.getStateByRange(args[0], args[1]));
        return ok(recordsJSON(kvs));
    },

    async getMarblesByRangeWithPagination(stub, args) {
        if (args.length < 4) {
            return fail('Incorrect number of arguments. Expecting 4');
        }
        const pageSize = parseInt32(args[2]);
        if (pageSize === undefined) {
            return fail(`pageSize must be a 32-bit integer: ${args[2]}`);
        }
        const {kvs, metadata} = await query(stub.getStateByRangeWithPagination(args[0], args[1], pageSize, args[3]));
        return ok(pageJSON(kvs, metadata));
    },

    async queryMarblesByOwner(stub, args) {
        if (args.length < 1) {
            return fail('Incorrect number of arguments. Expecting 1');
        }
        const owner = lower(args[0]);
        const {kvs} = await query(stub.getQueryResult(`{"selector":{"docType":"marble","owner":${js(owner)}}}`));
        return ok(recordsJSON(kvs));
    },

    async queryMarbles(stub, args) {
        if (args.length < 1) {
            return fail('Incorrect number of arguments. Expecting 1');
        }
        const {kvs} = await query(stub.getQueryResult(args[0]));
        return ok(recordsJSON(kvs));
    },

    async queryMarblesWithPagination(stub, args) {
        if (args.length < 3) {
            return fail('Incorrect number of arguments. Expecting 3');
        }
        const pageSize = parseInt32(args[1]);
        if (pageSize === undefined) {
            return fail(`pageSize must be a 32-bit integer: ${args[1]}`);
        }
        const {kvs, metadata} = await query(stub.getQueryResultWithPagination(args[0], pageSize, args[2]));
        return ok(pageJSON(kvs, metadata));
    },

    async getHistoryForMarble(stub, args) {
        if (args.length < 1) {
            return fail('Incorrect number of arguments. Expecting 1');
        }
        const {iterator} = await openQuery(stub.getHistoryForKey(args[0]));
        const entries = await drain(iterator);
        const parts = [Buffer.from('[')];
        entries.forEach((m, i) => {
            const ts = m.timestamp ? `{"seconds":${Number(m.timestamp.seconds)},"nanos":${m.timestamp.nanos}}` : 'null';
            parts.push(
                Buffer.from(`${i > 0 ? ',' : ''}{"TxId":${js(m.txId)},"Value":`),
                m.isDelete ? Buffer.from('null') : Buffer.from(m.value),
                Buffer.from(`,"Timestamp":${ts},"IsDelete":"${m.isDelete ? 'true' : 'false'}"}`),
            );
        });
        parts.push(Buffer.from(']'));
        return ok(Buffer.concat(parts));
    },
};

class Marbles {
    async Init() {
        return ok();
    }

    async Invoke(stub) {
        return guarded(async () => {
            const {fcn, params} = stub.getFunctionAndParameters();
            const f = Object.prototype.hasOwnProperty.call(FUNCTIONS, fcn) ? FUNCTIONS[fcn] : undefined;
            if (!f) {
                return fail(`unknown function: ${fcn}`);
            }
            return f(stub, params);
        });
    }
}

module.exports = Marbles;
