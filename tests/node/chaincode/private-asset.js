// fabric-samples asset-transfer-private-data (chaincode-go) with Fabric's low-level Node API, plus state-based
// endorsement on the asset key, as specified in docs/conformance.md ("private-asset"). The Rust twin is
// examples/private-asset; both must answer byte for byte the same.
'use strict';

const shim = require('fabric-shim');
const {ClientIdentity, KeyEndorsementPolicy} = shim;
const {js, hex, str, openQuery, drain, decodeRecord, keyPartOk, errorText, guarded} = require('./util');

const ASSET_COLLECTION = 'assetCollection';
const AGREEMENT = 'transferAgreement';
const ASSET = {objectType: 'string', assetID: 'string', color: 'string', size: 'int', owner: 'string'};

const ok = (payload) => shim.success(payload === undefined ? Buffer.alloc(0) : Buffer.from(payload));
const present = (v) => v && v.length > 0;

class Failure extends Error {}
const failure = (message) => new Failure(message);

/** Runs a stub call; its error becomes `prefix + its text`. */
async function call(prefix, fn) {
    try {
        return await fn();
    } catch (e) {
        throw failure(prefix + errorText(e));
    }
}

function clientMSP(stub) {
    try {
        return new ClientIdentity(stub).getMSPID();
    } catch (e) {
        throw failure('failed to get verified MSPID');
    }
}

const orgCollection = (msp) => `${msp}PrivateCollection`;

function memberPolicy(msp) {
    const ep = new KeyEndorsementPolicy();
    ep.addOrgs('MEMBER', msp);
    return Buffer.from(ep.getPolicy());
}

function transientInput(stub, key, missing, schema) {
    const transient = stub.getTransient();
    if (!transient.has(key)) {
        throw failure(missing);
    }
    const value = transient.get(key);
    const input = decodeRecord(value, schema);
    if (!input) {
        throw failure('failed to unmarshal JSON');
    }
    return {input, value};
}

function agreementKey(stub, id) {
    if (!keyPartOk(id)) {
        throw failure('failed to create composite key: assetID must be non-empty and must not contain U+0000 or U+10FFFF');
    }
    return stub.createCompositeKey(AGREEMENT, [id]);
}

function encodeAsset(a) {
    return Buffer.from(
        `{"objectType":${js(a.objectType)},"assetID":${js(a.assetID)},"color":${js(a.color)},"size":${a.size},` +
        `"owner":${js(a.owner)}}`,
    );
}

/** The asset, or undefined when absent. */
async function readAsset(stub, id) {
    const bytes = await call('failed to read asset: ', () => stub.getPrivateData(ASSET_COLLECTION, id));
    if (!present(bytes)) {
        return undefined;
    }
    const asset = decodeRecord(bytes, ASSET);
    if (!asset) {
        throw failure('failed to unmarshal JSON');
    }
    return asset;
}

function arity(args, n) {
    if (args.length !== n) {
        throw failure(`Incorrect number of arguments. Expecting ${n}`);
    }
}

function nonEmpty(value, what) {
    if (value.length === 0) {
        throw failure(`${what} must be a non-empty string`);
    }
}

function simpleKey(key) {
    if (key.length > 0 && key.charAt(0) === '\u0000') {
        throw failure(`first character of the key [${key}] contains a null character which is not allowed`);
    }
}

const FUNCTIONS = {
    async CreateAsset(stub) {
        const {input} = transientInput(stub, 'asset_properties', 'asset not found in the transient map input', {
            objectType: 'string', assetID: 'string', color: 'string', size: 'int', appraisedValue: 'int',
        });
        if (input.objectType.length === 0) {
            throw failure('objectType field must be a non-empty string');
        }
        if (input.assetID.length === 0) {
            throw failure('assetID field must be a non-empty string');
        }
        if (input.color.length === 0) {
            throw failure('color field must be a non-empty string');
        }
        if (input.size <= 0) {
            throw failure('size field must be a positive integer');
        }
        if (input.appraisedValue <= 0) {
            throw failure('appraisedValue field must be a positive integer');
        }
        const id = input.assetID;
        const existing = await call('failed to get asset: ', () => stub.getPrivateData(ASSET_COLLECTION, id));
        if (present(existing)) {
            throw failure(`this asset already exists: ${id}`);
        }
        const msp = clientMSP(stub);
        const asset = {objectType: input.objectType, assetID: id, color: input.color, size: input.size, owner: msp};
        await call('failed to put asset into private data collection: ',
            () => stub.putPrivateData(ASSET_COLLECTION, id, encodeAsset(asset)));
        const details = `{"assetID":${js(id)},"appraisedValue":${input.appraisedValue}}`;
        await call('failed to put asset private details: ',
            () => stub.putPrivateData(orgCollection(msp), id, Buffer.from(details)));
        await call('failed to set asset endorsement policy: ',
            () => stub.setPrivateDataValidationParameter(ASSET_COLLECTION, id, memberPolicy(msp)));
        return ok();
    },

    async AgreeToTransfer(stub) {
        const msp = clientMSP(stub);
        const {input, value} = transientInput(stub, 'asset_value', 'asset_value key not found in the transient map', {
            assetID: 'string', appraisedValue: 'int',
        });
        if (input.assetID.length === 0) {
            throw failure('assetID field must be a non-empty string');
        }
        if (input.appraisedValue <= 0) {
            throw failure('appraisedValue field must be a positive integer');
        }
        const id = input.assetID;
        const asset = await call('error reading asset: ', () => readAsset(stub, id));
        if (!asset) {
            throw failure(`${id} does not exist`);
        }
        await call('failed to put asset bid: ', () => stub.putPrivateData(orgCollection(msp), id, Buffer.from(value)));
        const key = agreementKey(stub, id);
        await call('failed to put asset bid: ', () => stub.putPrivateData(ASSET_COLLECTION, key, Buffer.from(msp)));
        return ok();
    },

    async TransferAsset(stub) {
        const {input} = transientInput(stub, 'asset_owner', 'asset owner not found in the transient map', {
            assetID: 'string', buyerMSP: 'string',
        });
        if (input.assetID.length === 0) {
            throw failure('assetID field must be a non-empty string');
        }
        if (input.buyerMSP.length === 0) {
            throw failure('buyerMSP field must be a non-empty string');
        }
        const id = input.assetID;
        const asset = await call('error reading asset: ', () => readAsset(stub, id));
        if (!asset) {
            throw failure(`${id} does not exist`);
        }

        // verifyAgreement
        const verification = 'failed transfer verification: ';
        const owner = await call(verification, async () => clientMSP(stub));
        if (owner !== asset.owner) {
            throw failure(`${verification}error: submitting client identity does not own asset`);
        }
        const ownerCollection = orgCollection(owner);
        const ownerHash = await call(`${verification}failed to get hash of appraised value from owners collection ${ownerCollection}: `,
            () => stub.getPrivateDataHash(ownerCollection, id));
        if (!present(ownerHash)) {
            throw failure(`${verification}hash of appraised value for ${id} does not exist in collection ${ownerCollection}`);
        }
        const buyerCollection = orgCollection(input.buyerMSP);
        const buyerHash = await call(`${verification}failed to get hash of appraised value from buyer collection ${buyerCollection}: `,
            () => stub.getPrivateDataHash(buyerCollection, id));
        if (!present(buyerHash)) {
            throw failure(`${verification}hash of appraised value for ${id} does not exist in collection ${buyerCollection}. ` +
                'AgreeToTransfer must be called by the buyer first');
        }
        if (!Buffer.from(ownerHash).equals(Buffer.from(buyerHash))) {
            throw failure(`${verification}hash for appraised value for owner ${hex(ownerHash)} does not value for seller ` +
                `${hex(buyerHash)}`);
        }

        const key = agreementKey(stub, id);
        const buyer = await call('failed ReadTransferAgreement to find buyerID: failed to read TransferAgreement: ',
            () => stub.getPrivateData(ASSET_COLLECTION, key));
        if (!present(buyer)) {
            throw failure(`BuyerID not found in TransferAgreement for ${id}`);
        }
        asset.owner = str(buyer);
        await call('', () => stub.putPrivateData(ASSET_COLLECTION, id, encodeAsset(asset)));
        await call('', () => stub.deletePrivateData(ownerCollection, id));
        await call('', () => stub.deletePrivateData(ASSET_COLLECTION, key));
        await call('failed to set asset endorsement policy: ',
            () => stub.setPrivateDataValidationParameter(ASSET_COLLECTION, id, memberPolicy(input.buyerMSP)));
        return ok();
    },

    async DeleteAsset(stub) {
        const {input} = transientInput(stub, 'asset_delete', 'asset to delete not found in the transient map', {
            assetID: 'string',
        });
        if (input.assetID.length === 0) {
            throw failure('assetID field must be a non-empty string');
        }
        const id = input.assetID;
        const asset = await call('failed to read asset: ', () => stub.getPrivateData(ASSET_COLLECTION, id));
        if (!present(asset)) {
            throw failure(`asset not found: ${id}`);
        }
        const ownerCollection = orgCollection(clientMSP(stub));
        const details = await call('failed to read asset from owner\'s Collection: ',
            () => stub.getPrivateData(ownerCollection, id));
        if (!present(details)) {
            throw failure(`asset not found in owner's private Collection ${ownerCollection}: ${id}`);
        }
        await call('failed to delete state: ', () => stub.deletePrivateData(ASSET_COLLECTION, id));
        await call('', () => stub.deletePrivateData(ownerCollection, id));
        return ok();
    },

    async PurgeAsset(stub) {
        const {input} = transientInput(stub, 'asset_purge', 'asset to purge not found in the transient map', {
            assetID: 'string',
        });
        if (input.assetID.length === 0) {
            throw failure('assetID field must be a non-empty string');
        }
        const id = input.assetID;
        const ownerCollection = orgCollection(clientMSP(stub));
        await call('failed to purge state from asset collection: ', () => stub.purgePrivateData(ASSET_COLLECTION, id));
        await call('failed to purge state from owner collection: ', () => stub.purgePrivateData(ownerCollection, id));
        return ok();
    },

    async DeleteTranferAgreement(stub) {
        const {input} = transientInput(stub, 'agreement_delete', 'asset to delete not found in the transient map', {
            assetID: 'string',
        });
        if (input.assetID.length === 0) {
            throw failure('transient input ID field must be a non-empty string');
        }
        const id = input.assetID;
        const collection = orgCollection(clientMSP(stub));
        const key = agreementKey(stub, id);
        const agreement = await call('failed to read transfer_agreement: ',
            () => stub.getPrivateData(ASSET_COLLECTION, key));
        if (!present(agreement)) {
            throw failure(`asset's transfer_agreement does not exist: ${id}`);
        }
        await call('', () => stub.deletePrivateData(collection, id));
        await call('', () => stub.deletePrivateData(ASSET_COLLECTION, key));
        return ok();
    },

    async ReadAsset(stub, args) {
        arity(args, 1);
        nonEmpty(args[0], 'assetID');
        return ok(await call('failed to read asset: ', () => stub.getPrivateData(ASSET_COLLECTION, args[0])));
    },

    async ReadAssetPrivateDetails(stub, args) {
        arity(args, 2);
        nonEmpty(args[0], 'collection');
        nonEmpty(args[1], 'assetID');
        return ok(await call('failed to read asset details: ', () => stub.getPrivateData(args[0], args[1])));
    },

    async ReadTransferAgreement(stub, args) {
        arity(args, 1);
        const id = args[0];
        nonEmpty(id, 'assetID');
        const key = agreementKey(stub, id);
        const buyer = await call('failed to read TransferAgreement: ', () => stub.getPrivateData(ASSET_COLLECTION, key));
        if (!present(buyer)) {
            return ok();
        }
        return ok(`{"assetID":${js(id)},"buyerID":${js(str(buyer))}}`);
    },

    async GetAssetByRange(stub, args) {
        arity(args, 2);
        simpleKey(args[0]);
        simpleKey(args[1]);
        const {iterator} = await openQuery(stub.getPrivateDataByRange(ASSET_COLLECTION, args[0], args[1]));
        const kvs = await drain(iterator);
        const parts = [Buffer.from('[')];
        kvs.forEach((kv, i) => {
            if (i > 0) {
                parts.push(Buffer.from(','));
            }
            parts.push(Buffer.from(kv.value));
        });
        parts.push(Buffer.from(']'));
        return ok(Buffer.concat(parts));
    },
};

class PrivateAsset {
    async Init() {
        return ok();
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

module.exports = PrivateAsset;
