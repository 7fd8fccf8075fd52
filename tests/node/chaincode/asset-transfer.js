// fabric-samples' asset-transfer-basic as a fabric-contract-api contract: the reference for the Rust SDK's contract
// API. Unlike the other chaincodes here it is not a low-level shim Chaincode: fabric-shim's own contract machinery
// (contract-spi/ChaincodeFromContract, DataMarshall, fabric-contract-api's JSONSerializer) routes "Contract:Function"
// names, checks and converts the arguments against the metadata, serializes the results and answers
// org.hyperledger.fabric:GetMetadata, so the messages and payloads are fabric-contract-api's own.
//
// There is no TypeScript compiler here, so the decorators a TypeScript contract would carry are applied by hand, the
// way tsc's __decorate/__metadata helpers apply them (see `method` and `property` below). The module exports a
// factory (module.exports()) that builds the ChaincodeFromContract; tests/node/ccaas.js serves it.
'use strict';

require('reflect-metadata'); // Reflect.defineMetadata/getMetadata, the store fabric-contract-api's decorators use
const {
    Contract, Context, JSONSerializer, Default, Transaction, Returns, Property,
    Object: DataType, // fabric-contract-api's @Object(): named so as not to hide the global Object
} = require('fabric-contract-api');
const ChaincodeFromContract = require('fabric-shim/lib/contract-spi/chaincodefromcontract');
const {openQuery, drain} = require('./util');
const {property, method, decorateClass} = require('./decorate');

const TITLE = 'asset-transfer';
const VERSION = '0.1.0';

class Asset {
    /**
     * Members in alphabetical order: JSON.stringify writes them in insertion order, and the ledger bytes must be
     * those of the Go sample's json.Marshal and the Rust example's serde, which write their struct's fields in
     * declaration order: alphabetical in both.
     */
    constructor({ID, Color, Size, Owner, AppraisedValue}) {
        this.AppraisedValue = AppraisedValue;
        this.Color = Color;
        this.ID = ID;
        this.Owner = Owner;
        this.Size = Size;
    }

    /** The asset of a ledger value (its JSON). */
    static fromBytes(bytes) {
        return new Asset(JSON.parse(Buffer.from(bytes).toString('utf8')));
    }

    toBytes() {
        return Buffer.from(JSON.stringify(this));
    }
}

const INITIAL_ASSETS = [
    ['asset1', 'blue', 5, 'Tomoko', 300],
    ['asset2', 'red', 5, 'Brad', 400],
    ['asset3', 'green', 10, 'Jin Soo', 500],
    ['asset4', 'yellow', 10, 'Max', 600],
    ['asset5', 'black', 15, 'Adriana', 700],
    ['asset6', 'white', 15, 'Michel', 800],
].map(([ID, Color, Size, Owner, AppraisedValue]) => new Asset({ID, Color, Size, Owner, AppraisedValue}));

async function putAsset(ctx, asset) {
    await ctx.stub.putState(asset.ID, asset.toBytes());
}

// The parameter names in the metadata are read from these signatures (fabric-contract-api uses get-params on the
// function's source), after the Context parameter is dropped: keep them as the contract's interface says.
class SmartContract extends Contract {
    constructor() {
        super('SmartContract');
    }

    async InitLedger(ctx) {
        for (const asset of INITIAL_ASSETS) {
            await putAsset(ctx, asset);
        }
    }

    async CreateAsset(ctx, id, color, size, owner, appraisedValue) {
        if (await this.AssetExists(ctx, id)) {
            throw new Error(`the asset ${id} already exists`);
        }
        const asset = new Asset({ID: id, Color: color, Size: size, Owner: owner, AppraisedValue: appraisedValue});
        await putAsset(ctx, asset);
    }

    async ReadAsset(ctx, id) {
        const bytes = await ctx.stub.getState(id);
        if (!bytes || bytes.length === 0) {
            throw new Error(`the asset ${id} does not exist`);
        }
        return Asset.fromBytes(bytes);
    }

    async UpdateAsset(ctx, id, color, size, owner, appraisedValue) {
        if (!(await this.AssetExists(ctx, id))) {
            throw new Error(`the asset ${id} does not exist`);
        }
        const asset = new Asset({ID: id, Color: color, Size: size, Owner: owner, AppraisedValue: appraisedValue});
        await putAsset(ctx, asset);
    }

    async DeleteAsset(ctx, id) {
        if (!(await this.AssetExists(ctx, id))) {
            throw new Error(`the asset ${id} does not exist`);
        }
        await ctx.stub.deleteState(id);
    }

    async AssetExists(ctx, id) {
        const bytes = await ctx.stub.getState(id);
        return Boolean(bytes) && bytes.length > 0;
    }

    /** Sets a new owner and returns the old one. */
    async TransferAsset(ctx, id, newOwner) {
        const asset = await this.ReadAsset(ctx, id);
        const oldOwner = asset.Owner;
        asset.Owner = newOwner;
        await putAsset(ctx, asset);
        return oldOwner;
    }

    async GetAllAssets(ctx) {
        const {iterator} = await openQuery(ctx.stub.getStateByRange('', ''));
        const kvs = await drain(iterator);
        return kvs.map((kv) => Asset.fromBytes(kv.value));
    }
}

// ---- The decorators, as tsc applies them -------------------------------------------------------------------------
//
// A TypeScript contract would read:
//
//     @Object() export class Asset {
//         @Property() public AppraisedValue: number;  ... Color: string; ID: string; Owner: string; Size: number;
//     }
//     @Default()
//     export class SmartContract extends Contract {
//         @Transaction() public async InitLedger(ctx: Context): Promise<void>
//         @Transaction() public async CreateAsset(ctx: Context, id: string, color: string, size: number, ...)
//         @Transaction(false) @Returns('Asset') public async ReadAsset(ctx: Context, id: string): Promise<Asset>
//         ...
//     }
//
// (decorate.js applies them as tsc does.)

property(Asset, 'AppraisedValue', Number, Property());
property(Asset, 'Color', String, Property());
property(Asset, 'ID', String, Property());
property(Asset, 'Owner', String, Property());
property(Asset, 'Size', Number, Property());
decorateClass(Asset, DataType());

const ASSET_PARAMS = [Context, String, String, Number, String, Number];
method(SmartContract, 'InitLedger', [Context], Transaction());
method(SmartContract, 'CreateAsset', ASSET_PARAMS, Transaction());
method(SmartContract, 'ReadAsset', [Context, String], Transaction(false), Returns('Asset'));
method(SmartContract, 'UpdateAsset', ASSET_PARAMS, Transaction());
method(SmartContract, 'DeleteAsset', [Context, String], Transaction());
method(SmartContract, 'AssetExists', [Context, String], Transaction(false), Returns('boolean'));
method(SmartContract, 'TransferAsset', [Context, String, String], Transaction(), Returns('string'));
method(SmartContract, 'GetAllAssets', [Context], Transaction(false), Returns('Asset[]'));
decorateClass(SmartContract, Default());

// ---- What the decorators cannot say ------------------------------------------------------------------------------
//
// Sizes and values are integers: JSON Schema "integer". fabric-contract-api's generateSchema only knows
// string/number/boolean (anything else becomes a $ref), and the object decorators never write "required". A
// TypeScript author states these in a META-INF/metadata.json shipped with the contract; here the same schemas are
// set by editing the metadata the decorators registered, which ChaincodeFromContract then reads (and validates
// arguments against) exactly as it would that file's content.

const integer = () => ({type: 'integer'});

function setParamSchema(cls, txName, paramName, schema) {
    const tx = Reflect.getMetadata('fabric:transactions', cls.prototype).find((t) => t.name === txName);
    tx.parameters.find((p) => p.name === paramName).schema = schema;
}

for (const txName of ['CreateAsset', 'UpdateAsset']) {
    setParamSchema(SmartContract, txName, 'size', integer());
    setParamSchema(SmartContract, txName, 'appraisedValue', integer());
}

const assetSchema = Reflect.getMetadata('fabric:objects', global).Asset;
assetSchema.properties.AppraisedValue = integer();
assetSchema.properties.Size = integer();
assetSchema.required = ['AppraisedValue', 'Color', 'ID', 'Owner', 'Size'];

/**
 * A new ChaincodeFromContract serving SmartContract (and fabric's org.hyperledger.fabric system contract), with the
 * serializers fabric-shim's bootstrap uses when a contract module names none.
 */
function createChaincode() {
    const serializers = {
        transaction: 'jsonSerializer',
        serializers: {jsonSerializer: JSONSerializer},
    };
    // A fresh contract list and metadata object each time: the constructor appends the system contract to the first
    // and fills in the second.
    return new ChaincodeFromContract([SmartContract], serializers, {}, TITLE, VERSION);
}

module.exports = createChaincode;
module.exports.SmartContract = SmartContract;
module.exports.Asset = Asset;
