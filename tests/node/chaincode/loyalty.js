// examples/loyalty as fabric-contract-api contracts: the reference for the Rust SDK's multi-contract chaincodes,
// hooks, typed struct and enum parameters and optional fields. Two contracts: Points (the default, so bare names
// route to it) and Rewards. Like chaincode/asset-transfer.js, fabric-shim's own contract machinery
// (ChaincodeFromContract, DataMarshall, fabric-contract-api's JSONSerializer) routes, converts and validates the
// arguments, serializes the results and answers org.hyperledger.fabric:GetMetadata.
//
// The decorators a TypeScript contract would carry are applied by hand as tsc applies them (see asset-transfer.js),
// and what they cannot say (integers, the Tier enum, the optional stock, a nullable parameter) is set by editing
// the metadata they registered, as a META-INF/metadata.json would. The schemas are those the Rust example's
// GetMetadata answers (schemars, draft 7), so the two documents compare equal.
//
// Ledger layout: `member:<id>` and `reward:<id>`, each a JSON document whose members are in the Rust structs'
// field order (serde writes them so).
'use strict';

require('reflect-metadata');
const {
    Contract, Context, JSONSerializer, Default, Info, Transaction, Returns, Property,
    Object: DataType, // fabric-contract-api's @Object(): named so as not to hide the global Object
} = require('fabric-contract-api');
const ChaincodeFromContract = require('fabric-shim/lib/contract-spi/chaincodefromcontract');
const {openQuery, drain} = require('./util');
const {property, method, decorateClass} = require('./decorate');

const TITLE = 'loyalty';
const VERSION = '0.1.0';

/** The organisation whose members run the scheme. */
const SCHEME_MSP = 'Org1MSP';

/** A member's tier multiplies every award. */
const MULTIPLIER = {Bronze: 1, Silver: 2, Gold: 3};

// The classes' constructors take a plain object (or nothing: class-transformer's plainToClass calls them without
// arguments, then copies the JSON's members) and set the fields in the Rust struct's declaration order, the order
// JSON.stringify then writes them in. Members the Rust struct does not have are dropped, as serde drops them.

class Member {
    constructor({id, name, tier, points} = {}) {
        this.id = id;
        this.name = name;
        this.tier = tier;
        this.points = points;
    }
}

class Reward {
    constructor({id, title, cost, stock} = {}) {
        this.id = id;
        this.title = title;
        this.cost = cost;
        this.stock = stock === undefined ? null : stock; // Option<u32>: absent reads as None, written as null
    }
}

class Redemption {
    constructor({member, reward, points_left} = {}) {
        this.member = member;
        this.reward = reward;
        this.points_left = points_left; // eslint-disable-line camelcase
    }
}

/** The document at `kind:id` as a `cls`, or undefined when there is none. */
async function load(ctx, cls, kind, id) {
    const bytes = await ctx.stub.getState(`${kind}:${id}`);
    if (!bytes || bytes.length === 0) {
        return undefined;
    }
    return new cls(JSON.parse(Buffer.from(bytes).toString('utf8')));
}

async function store(ctx, kind, id, value) {
    await ctx.stub.putState(`${kind}:${id}`, Buffer.from(JSON.stringify(value)));
}

async function member(ctx, id) {
    const m = await load(ctx, Member, 'member', id);
    if (!m) {
        throw new Error(`no member ${id}`);
    }
    return m;
}

/** Every document of one kind, in key order: the range `kind:` up to `kind;` (`;` follows `:`). */
async function list(ctx, cls, kind) {
    const {iterator} = await openQuery(ctx.stub.getStateByRange(`${kind}:`, `${kind};`));
    const kvs = await drain(iterator);
    return kvs.map((kv) => new cls(JSON.parse(Buffer.from(kv.value).toString('utf8'))));
}

/**
 * fabric-contract-api's JSONSerializer, with one fix, for parameters whose schema gives no single type (here the
 * nullable tier): the argument is its JSON if it parses, else the text, as JSONSerializer's own fallback reads it;
 * but JSON `null` stays null, where JSONSerializer's fallback (which asks `value.type` of what it parsed) throws on
 * it and passes the text "null" on. The Rust SDK reads `null` as null (None). A contract module names its own
 * serializer through fabric-shim's documented `serializers` export; createChaincode passes it the same way.
 */
class LoyaltySerializer extends JSONSerializer {
    _fromString(text, fullschema, loggerPrefix) {
        const schema = fullschema.properties.prop;
        if (!schema.$ref && Array.isArray(schema.type)) {
            try {
                return {value: JSON.parse(text)};
            } catch (e) {
                return {value: text};
            }
        }
        return super._fromString(text, fullschema, loggerPrefix);
    }
}

/** The response payload fabric-shim makes of a transaction's result (DataMarshall.toWireBuffer), as bytes. */
function payloadOf(result) {
    return new LoyaltySerializer().toBuffer(result) || Buffer.alloc(0);
}

// Parameter names in the metadata are read from these signatures (get-params), after the Context.
class Points extends Contract {
    constructor() {
        super('Points');
    }

    /** Adds a member. */
    async Enroll(ctx, member) {
        const m = new Member(member);
        if (await load(ctx, Member, 'member', m.id)) {
            throw new Error(`member ${m.id} is already enrolled`);
        }
        await store(ctx, 'member', m.id, m);
    }

    /** Awards `points`, times the member's tier; answers the member as they now stand. */
    async Award(ctx, memberId, points) {
        const m = await member(ctx, memberId);
        m.points += points * MULTIPLIER[m.tier];
        await store(ctx, 'member', memberId, m);
        return m;
    }

    /** Moves points between members (tiers do not apply). */
    async Transfer(ctx, from, to, points) {
        if (from === to) {
            throw new Error('cannot transfer to the same member');
        }
        const giver = await member(ctx, from);
        const taker = await member(ctx, to);
        if (giver.points < points) {
            throw new Error(`${from} has only ${giver.points} points`);
        }
        giver.points -= points;
        taker.points += points;
        await store(ctx, 'member', from, giver);
        await store(ctx, 'member', to, taker);
        return [giver, taker];
    }

    async Balance(ctx, memberId) {
        return (await member(ctx, memberId)).points;
    }

    /** Members of one tier, or of all tiers when none (null) is given. */
    async Members(ctx, tier) {
        const all = await list(ctx, Member, 'member');
        return all.filter((m) => tier === null || m.tier === tier);
    }

    /** Only the scheme's own organisation takes part (runs after the arguments are converted). */
    async beforeTransaction(ctx) {
        const msp = ctx.clientIdentity.getMSPID();
        if (msp !== SCHEME_MSP) {
            throw new Error(`${msp} is not part of the loyalty scheme`);
        }
    }

    /** Every answer is announced: an event `points` carrying the transaction's payload (empty for none). */
    async afterTransaction(ctx, result) {
        ctx.stub.setEvent('points', payloadOf(result));
    }

    async unknownTransaction(ctx) {
        const {fcn} = ctx.stub.getFunctionAndParameters();
        throw new Error(`Points has no transaction ${fcn}; see org.hyperledger.fabric:GetMetadata`);
    }
}

class Rewards extends Contract {
    constructor() {
        super('Rewards');
    }

    /** Adds or replaces a reward: auditors only. */
    async AddReward(ctx, reward) {
        if (ctx.clientIdentity.getAttributeValue('role') !== 'auditor') {
            throw new Error('only an auditor adds rewards');
        }
        const r = new Reward(reward);
        await store(ctx, 'reward', r.id, r);
    }

    /** Spends a member's points on a reward. */
    async Redeem(ctx, memberId, rewardId) {
        const m = await member(ctx, memberId);
        const r = await load(ctx, Reward, 'reward', rewardId);
        if (!r) {
            throw new Error(`no reward ${rewardId}`);
        }
        if (r.stock === 0) {
            throw new Error(`${r.title} is out of stock`);
        }
        if (m.points < r.cost) {
            throw new Error(`${r.title} needs ${r.cost} points, ${memberId} has ${m.points}`);
        }
        m.points -= r.cost;
        if (r.stock !== null) {
            r.stock -= 1;
        }
        await store(ctx, 'member', memberId, m);
        await store(ctx, 'reward', rewardId, r);
        return new Redemption({member: memberId, reward: rewardId, points_left: m.points});
    }

    async ListRewards(ctx) {
        return list(ctx, Reward, 'reward');
    }
}

// ---- The decorators, as tsc applies them (see asset-transfer.js) ---------------------------------------------------
//
// A TypeScript contract would read:
//
//     @Object() export class Member {
//         @Property() id: string; @Property() name: string; @Property('tier', 'Tier') tier: Tier;
//         @Property() points: number;
//     }
//     @Object() export class Reward { @Property() id: string; title: string; cost: number; stock: number | null }
//     @Object() export class Redemption { @Property() member: string; reward: string; points_left: number }
//     @Info({title: 'Loyalty points', version: '1.0.0'}) @Default()
//     export class Points extends Contract {
//         @Transaction() async Enroll(ctx: Context, member: Member): Promise<void>
//         @Transaction() @Returns('Member') async Award(ctx: Context, memberId: string, points: number)
//         @Transaction() @Returns('Member[]') async Transfer(ctx: Context, from: string, to: string, points: number)
//         @Transaction(false) @Returns('number') async Balance(ctx: Context, memberId: string)
//         @Transaction(false) @Returns('Member[]') async Members(ctx: Context, tier: string | null)
//     }
//     export class Rewards extends Contract {
//         @Transaction() async AddReward(ctx: Context, reward: Reward): Promise<void>
//         @Transaction() @Returns('Redemption') async Redeem(ctx: Context, memberId: string, rewardId: string)
//         @Transaction(false) @Returns('Reward[]') async ListRewards(ctx: Context)
//     }

property(Member, 'id', String, Property());
property(Member, 'name', String, Property());
property(Member, 'tier', String, Property('tier', 'Tier'));
property(Member, 'points', Number, Property());
decorateClass(Member, DataType());

property(Reward, 'id', String, Property());
property(Reward, 'title', String, Property());
property(Reward, 'cost', Number, Property());
property(Reward, 'stock', Number, Property());
decorateClass(Reward, DataType());

property(Redemption, 'member', String, Property());
property(Redemption, 'reward', String, Property());
property(Redemption, 'points_left', Number, Property());
decorateClass(Redemption, DataType());

method(Points, 'Enroll', [Context, Member], Transaction());
method(Points, 'Award', [Context, String, Number], Transaction(), Returns('Member'));
method(Points, 'Transfer', [Context, String, String, Number], Transaction(), Returns('Member[]'));
method(Points, 'Balance', [Context, String], Transaction(false), Returns('number'));
method(Points, 'Members', [Context, String], Transaction(false), Returns('Member[]'));
decorateClass(Points, Info({title: 'Loyalty points', version: '1.0.0'}), Default());

method(Rewards, 'AddReward', [Context, Reward], Transaction());
method(Rewards, 'Redeem', [Context, String, String], Transaction(), Returns('Redemption'));
method(Rewards, 'ListRewards', [Context], Transaction(false), Returns('Reward[]'));

// ---- What the decorators cannot say --------------------------------------------------------------------------------
//
// The schemas the Rust example's GetMetadata gives (schemars for u64/u32, Option and a unit enum): unsigned integers
// are {"type":"integer","minimum":0}; Option<u32> is {"type":["integer","null"],"minimum":0} and not required;
// Option<Tier> is anyOf the Tier or null; "required" lists the non-optional fields in declaration order. Properties
// are in name order, as the Rust side holds them (serde_json's sorted map): ajv reports missing required properties
// in the order of "properties", so both sides then word a bad Member alike.

const unsigned = () => ({type: 'integer', minimum: 0});
const ref = (name) => ({$ref: `#/components/schemas/${name}`});

const objects = Reflect.getMetadata('fabric:objects', global);

/** Sets a component's properties (in name order) and required list; keeps $id, type and the constructor. */
function setObject(name, properties, required) {
    const sorted = {};
    for (const key of Object.keys(properties).sort()) {
        sorted[key] = properties[key];
    }
    objects[name].properties = sorted;
    objects[name].required = required;
}

setObject('Member', {id: {type: 'string'}, name: {type: 'string'}, tier: {$ref: 'Tier'}, points: unsigned()},
    ['id', 'name', 'tier', 'points']);
setObject('Reward', {
    id: {type: 'string'}, title: {type: 'string'}, cost: unsigned(), stock: {type: ['integer', 'null'], minimum: 0},
}, ['id', 'title', 'cost']);
setObject('Redemption', {member: {type: 'string'}, reward: {type: 'string'}, points_left: unsigned()},
    ['member', 'reward', 'points_left']);
// A string enum has no decorator: the schema a metadata.json would give it.
objects.Tier = {$id: 'Tier', type: 'string', enum: ['Bronze', 'Silver', 'Gold']};

function transactionOf(cls, txName) {
    return Reflect.getMetadata('fabric:transactions', cls.prototype).find((t) => t.name === txName);
}

function setParamSchema(cls, txName, paramName, schema) {
    transactionOf(cls, txName).parameters.find((p) => p.name === paramName).schema = schema;
}

setParamSchema(Points, 'Award', 'points', unsigned());
setParamSchema(Points, 'Transfer', 'points', unsigned());
const NULLABLE_TIER = {anyOf: [ref('Tier'), {type: 'null'}]};
setParamSchema(Points, 'Members', 'tier', NULLABLE_TIER);
transactionOf(Points, 'Balance').returns = unsigned();

/**
 * A new ChaincodeFromContract serving Points and Rewards (and the org.hyperledger.fabric system contract).
 *
 * One edit after construction, to the metadata fabric-shim dispatches with (not the copy GetMetadata answers, which
 * the constructor has already taken): DataMarshall refuses a parameter schema with neither "type" nor "$ref"
 * ("Incorrect type information"), so the nullable tier, served as {"anyOf": [...]}, is dispatched as the same
 * schema with a "type" listing every JSON type. That keyword admits everything, so ajv's verdicts and messages are
 * those of the anyOf alone, and a "type" that is no single string sends the argument to LoyaltySerializer's reading.
 */
function createChaincode() {
    const serializers = {
        transaction: 'loyaltySerializer',
        serializers: {loyaltySerializer: LoyaltySerializer},
    };
    const chaincode = new ChaincodeFromContract([Points, Rewards], serializers, {}, TITLE, VERSION);
    // A copy: the constructor took the decorators' own transaction list, which later chaincodes start from.
    const points = chaincode.metadata.contracts.Points;
    points.transactions = JSON.parse(JSON.stringify(points.transactions));
    points.transactions.find((t) => t.name === 'Members').parameters[0].schema = {
        type: ['array', 'boolean', 'null', 'number', 'object', 'string'],
        ...NULLABLE_TIER,
    };
    return chaincode;
}

module.exports = createChaincode;
module.exports.Points = Points;
module.exports.Rewards = Rewards;
module.exports.Member = Member;
module.exports.Reward = Reward;
module.exports.Redemption = Redemption;
