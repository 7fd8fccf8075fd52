// Helpers shared by the Node reference chaincodes (probe, marbles, private-asset).
// Everything here mirrors what the Rust examples do byte for byte; see docs/conformance.md.
'use strict';

const shim = require('fabric-shim');

/** UTF-8 text of a ledger value (invalid sequences become U+FFFD, like Rust's from_utf8_lossy). */
function str(buf) {
    return buf ? Buffer.from(buf).toString('utf8') : '';
}

/** Lowercase hex of bytes, "" for none. */
function hex(buf) {
    return buf ? Buffer.from(buf).toString('hex') : '';
}

/** A JSON string (JSON.stringify and serde_json agree on strings). */
const js = (s) => JSON.stringify(s);

/** Orders strings by their UTF-8 bytes (Go's sort.Strings, Rust's Ord for str), not by UTF-16 code units. */
function byteCompare(a, b) {
    return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * The iterator of a query promise: the shim resolves some queries to the iterator and others to
 * {iterator, metadata}. Returns {iterator, metadata}.
 */
async function openQuery(promise) {
    const res = await promise;
    if (res && res.iterator) {
        return {iterator: res.iterator, metadata: res.metadata};
    }
    return {iterator: res, metadata: undefined};
}

/** Reads up to `limit` results (all when undefined), then closes the iterator (Go's `defer iter.Close()`). */
async function drain(iterator, limit) {
    const out = [];
    try {
        while (limit === undefined || out.length < limit) {
            const r = await iterator.next();
            if (r.done) {
                break;
            }
            out.push(r.value);
        }
    } finally {
        await iterator.close();
    }
    return out;
}

/** Parses a decimal int32 ("[+-]digits"), or returns undefined. */
function parseInt32(s) {
    if (!/^[+-]?[0-9]+$/.test(s)) {
        return undefined;
    }
    const n = Number(s);
    if (!Number.isSafeInteger(n) || n < -2147483648 || n > 2147483647) {
        return undefined;
    }
    return n === 0 ? 0 : n; // no -0
}

/** Parses a decimal integer ("[+-]digits") of magnitude at most 2^53-1, or returns undefined. */
function parseSafeInt(s) {
    if (!/^[+-]?[0-9]+$/.test(s)) {
        return undefined;
    }
    const n = Number(s);
    return Number.isSafeInteger(n) ? (n === 0 ? 0 : n) : undefined;
}

/**
 * Decodes a JSON object the way docs/conformance.md says (Go's json.Unmarshal into a struct, made exact):
 * `schema` maps member names to 'string' or 'int'; absent or null members take "" / 0; a member of another type,
 * or a value that is not a JSON object, gives undefined. Other members are ignored.
 */
function decodeRecord(bytes, schema) {
    let v;
    try {
        v = JSON.parse(Buffer.from(bytes).toString('utf8'));
    } catch (e) {
        return undefined;
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
        return undefined;
    }
    const out = {};
    for (const [field, type] of Object.entries(schema)) {
        const x = Object.prototype.hasOwnProperty.call(v, field) ? v[field] : null;
        if (x === null) {
            out[field] = type === 'string' ? '' : 0;
        } else if (type === 'string') {
            if (typeof x !== 'string') {
                return undefined;
            }
            out[field] = x;
        } else {
            if (typeof x !== 'number' || !Number.isSafeInteger(x)) {
                return undefined;
            }
            out[field] = x === 0 ? 0 : x;
        }
    }
    return out;
}

/** True when s can go into a composite key identically under both shims: non-empty, no U+0000, no U+10FFFF. */
function keyPartOk(s) {
    return typeof s === 'string' && s.length > 0 && !s.includes('\u0000') && !s.includes('\u{10FFFF}');
}

/** The error text of anything thrown. */
function errorText(e) {
    return e instanceof Error ? e.message : String(e);
}

/** Runs a handler, turning anything thrown into shim.error: a throw would leave the peer without an answer. */
async function guarded(fn) {
    try {
        return await fn();
    } catch (e) {
        return shim.error(errorText(e));
    }
}

module.exports = {
    str, hex, js, byteCompare, openQuery, drain, parseInt32, parseSafeInt, decodeRecord, keyPartOk, errorText, guarded,
};
