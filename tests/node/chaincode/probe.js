// The `probe` chaincode of docs/conformance.md with Fabric's low-level Node API: one function per stub call,
// with the output formats the Rust example (examples/probe) writes byte for byte.
'use strict';

const shim = require('fabric-shim');
const {ClientIdentity, KeyEndorsementPolicy} = shim;
const {str, hex, js, byteCompare, openQuery, drain, parseInt32, guarded} = require('./util');

const kvJSON = (kv) => `{"key":${js(kv.key)},"value":${js(str(kv.value))}}`;
const resultsJSON = (kvs) => `[${kvs.map(kvJSON).join(',')}]`;

function pageJSON(kvs, metadata) {
    const fetched = metadata ? metadata.fetchedRecordsCount : 0;
    const bookmark = metadata ? metadata.bookmark : '';
    return `{"results":${resultsJSON(kvs)},"fetched":${fetched},"bookmark":${js(bookmark)}}`;
}

/** MEMBER of each MSP. Go's statebased sorts the MSP IDs; Node's keeps insertion order: add them sorted. */
function memberPolicy(msps) {
    const ep = new KeyEndorsementPolicy();
    const sorted = [...new Set(msps)].sort(byteCompare);
    if (sorted.length > 0) {
        ep.addOrgs('MEMBER', ...sorted);
    }
    return Buffer.from(ep.getPolicy());
}

function number(s, what) {
    const n = parseInt32(s);
    if (n === undefined) {
        throw new Error(`invalid ${what}: ${s}`);
    }
    return n;
}

const ok = (payload) => shim.success(payload === undefined ? Buffer.alloc(0) : Buffer.from(payload));

async function rangeQuery(promise, limit) {
    const {iterator} = await openQuery(promise);
    return resultsJSON(await drain(iterator, limit));
}

async function pageQuery(promise) {
    const {iterator, metadata} = await openQuery(promise);
    return pageJSON(await drain(iterator), metadata);
}

const FUNCTIONS = {
    async get(stub, [k]) {
        return ok(await stub.getState(k));
    },
    async put(stub, p) {
        for (let i = 0; i + 1 < p.length; i += 2) {
            await stub.putState(p[i], Buffer.from(p[i + 1]));
        }
        return ok();
    },
    async del(stub, [k]) {
        await stub.deleteState(k);
        return ok();
    },
    async getMulti(stub, keys) {
        const values = [];
        for (const k of keys) {
            const v = await stub.getState(k);
            values.push(v && v.length > 0 ? js(str(v)) : 'null');
        }
        return ok(`[${values.join(',')}]`);
    },
    async range(stub, [start, end]) {
        return ok(await rangeQuery(stub.getStateByRange(start, end)));
    },
    async rangePage(stub, [start, end, pageSize, bookmark]) {
        return ok(await pageQuery(stub.getStateByRangeWithPagination(start, end, number(pageSize, 'pageSize'), bookmark)));
    },
    async partial(stub, [type, ...attrs]) {
        return ok(await rangeQuery(stub.getStateByPartialCompositeKey(type, attrs)));
    },
    async partialPage(stub, [pageSize, bookmark, type, ...attrs]) {
        const size = number(pageSize, 'pageSize');
        return ok(await pageQuery(stub.getStateByPartialCompositeKeyWithPagination(type, attrs, size, bookmark)));
    },
    async query(stub, [q]) {
        return ok(await rangeQuery(stub.getQueryResult(q)));
    },
    async queryPage(stub, [q, pageSize, bookmark]) {
        return ok(await pageQuery(stub.getQueryResultWithPagination(q, number(pageSize, 'pageSize'), bookmark)));
    },
    async rangeFirst(stub, [start, end, n]) {
        return ok(await rangeQuery(stub.getStateByRange(start, end), number(n, 'n')));
    },
    async history(stub, [k]) {
        const {iterator} = await openQuery(stub.getHistoryForKey(k));
        const entries = (await drain(iterator)).map((m) => {
            const seconds = m.timestamp ? Number(m.timestamp.seconds) : 0;
            return `{"txId":${js(m.txId)},"value":${js(str(m.value))},"isDelete":${m.isDelete},"seconds":${seconds}}`;
        });
        return ok(`[${entries.join(',')}]`);
    },
    async putPrivate(stub, [coll, k, v]) {
        await stub.putPrivateData(coll, k, Buffer.from(v));
        return ok();
    },
    async getPrivate(stub, [coll, k]) {
        return ok(await stub.getPrivateData(coll, k));
    },
    async delPrivate(stub, [coll, k]) {
        await stub.deletePrivateData(coll, k);
        return ok();
    },
    async purgePrivate(stub, [coll, k]) {
        await stub.purgePrivateData(coll, k);
        return ok();
    },
    async getPrivateHash(stub, [coll, k]) {
        return ok(hex(await stub.getPrivateDataHash(coll, k)));
    },
    async privateRange(stub, [coll, start, end]) {
        return ok(await rangeQuery(stub.getPrivateDataByRange(coll, start, end)));
    },
    async privatePartial(stub, [coll, type, ...attrs]) {
        return ok(await rangeQuery(stub.getPrivateDataByPartialCompositeKey(coll, type, attrs)));
    },
    async privateQuery(stub, [coll, q]) {
        return ok(await rangeQuery(stub.getPrivateDataQueryResult(coll, q)));
    },
    async setEP(stub, [k, ...msps]) {
        await stub.setStateValidationParameter(k, memberPolicy(msps));
        return ok();
    },
    async getEP(stub, [k]) {
        return ok(hex(await stub.getStateValidationParameter(k)));
    },
    async setPrivateEP(stub, [coll, k, ...msps]) {
        await stub.setPrivateDataValidationParameter(coll, k, memberPolicy(msps));
        return ok();
    },
    async getPrivateEP(stub, [coll, k]) {
        return ok(hex(await stub.getPrivateDataValidationParameter(coll, k)));
    },
    async event(stub, p) {
        for (let i = 0; i + 1 < p.length; i += 2) {
            stub.setEvent(p[i], Buffer.from(p[i + 1]));
        }
        return ok();
    },
    async invoke(stub, [cc, channel, ...args]) {
        // fabric-shim throws for a callee that answered ERROR (the message is then not meaningful: it decodes the
        // error text as a Response) and returns the callee's Response otherwise.
        const r = await stub.invokeChaincode(cc, args, channel);
        if (r.status >= 400) {
            return shim.error(r.message);
        }
        return ok(`{"status":${r.status},"message":${js(r.message)},"payload":${js(str(r.payload))}}`);
    },
    async ctx(stub) {
        const transient = stub.getTransient();
        const tkeys = [...transient.keys()].sort(byteCompare);
        const ts = stub.getTxTimestamp();
        const creator = stub.getCreator();
        return ok(
            `{"txId":${js(stub.getTxID())},"channelId":${js(stub.getChannelID())},` +
            `"args":[${stub.getArgs().map(js).join(',')}],` +
            `"transient":{${tkeys.map((k) => `${js(k)}:${js(str(transient.get(k)))}`).join(',')}},` +
            `"binding":${js(stub.getBinding() || '')},"seconds":${Number(ts.seconds)},"nanos":${ts.nanos},` +
            `"mspId":${js(creator ? creator.mspid : '')},"signedProposal":${stub.getSignedProposal() !== undefined}}`
        );
    },
    async composite(stub, [type, ...attrs]) {
        return ok(js(stub.createCompositeKey(type, attrs)));
    },
    async split(stub, [key]) {
        const {objectType, attributes} = stub.splitCompositeKey(key);
        return ok(`{"objectType":${js(objectType)},"attributes":[${attributes.map(js).join(',')}]}`);
    },
    async identity(stub, [attr]) {
        const cid = new ClientIdentity(stub);
        return ok(`{"mspId":${js(cid.getMSPID())},"attr":${js(cid.getAttributeValue(attr))}}`);
    },
    async writeThenQuery(stub, [k, v, q]) {
        await stub.putState(k, Buffer.from(v));
        return ok(await pageQuery(stub.getQueryResultWithPagination(q, 10, '')));
    },
    async queryThenWrite(stub, [q, k, v]) {
        await pageQuery(stub.getQueryResultWithPagination(q, 10, ''));
        await stub.putState(k, Buffer.from(v));
        return ok();
    },
    async putGet(stub, [k, v]) {
        await stub.putState(k, Buffer.from(v));
        return ok(await stub.getState(k));
    },
    async fail(stub, [message]) {
        return shim.error(message === undefined ? '' : message);
    },
};

class Probe {
    async Init(stub) {
        const {fcn, params} = stub.getFunctionAndParameters();
        if (fcn !== 'init') {
            return this.Invoke(stub);
        }
        return guarded(async () => {
            await stub.putState('initialized', Buffer.from(params.length > 0 ? params[0] : 'yes'));
            return ok();
        });
    }

    async Invoke(stub) {
        return guarded(async () => {
            const {fcn, params} = stub.getFunctionAndParameters();
            const f = Object.prototype.hasOwnProperty.call(FUNCTIONS, fcn) ? FUNCTIONS[fcn] : undefined;
            if (!f) {
                return shim.error(`unknown function: ${fcn}`);
            }
            return f(stub, params);
        });
    }
}

module.exports = Probe;
