/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * A client application for `wasmcc dev`, written as fabric-samples' asset-transfer-basic/application-gateway-javascript
 * is: Fabric's own client API (@hyperledger/fabric-gateway) talking to the Gateway service. Nothing here knows the
 * chaincodes are WebAssembly; that is the point.
 *
 *   CERT_PATH=... KEY_PATH=... node app.js [--json]
 *
 * Each step prints human-readable lines, or with --json exactly one line `{"step": "<name>", ...facts}`.
 */
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs/promises');
const { TextDecoder } = require('node:util');
const grpc = require('@grpc/grpc-js');
const {
    checkpointers,
    connect,
    hash,
    signers,
    CommitError,
    CommitStatusError,
    EndorseError,
    GatewayError,
    StatusCode,
} = require('@hyperledger/fabric-gateway');

const gatewayAddress = envOrDefault('GATEWAY_ADDRESS', '127.0.0.1:7051');
const mspId = envOrDefault('MSP_ID', 'Org1MSP');
const certPath = process.env.CERT_PATH;
const keyPath = process.env.KEY_PATH;
const channelName = envOrDefault('CHANNEL', 'mychannel');
const chaincodeName = envOrDefault('CHAINCODE', 'asset-transfer');
const eventsChaincodeName = envOrDefault('EVENTS_CHAINCODE', 'loyalty');
const privateChaincodeName = envOrDefault('PRIVATE_CHAINCODE', 'private-asset');

const jsonOutput = process.argv.includes('--json');
const utf8Decoder = new TextDecoder();
// Unique per run, so the session can be repeated against the same ledger.
const assetId = `asset${String(Date.now())}`;
const memberId = `member${String(Date.now())}`;
const EVENT_TIMEOUT_MS = 10_000;
// StatusCode maps names to numbers; reports want the name too.
const statusNames = Object.fromEntries(Object.entries(StatusCode).map(([name, code]) => [code, name]));

async function main() {
    const problem = configurationProblem();
    if (problem) {
        console.error(problem);
        process.exitCode = 2;
        return;
    }
    say(`gateway ${gatewayAddress}, ${mspId}, channel ${channelName}, certificate ${certPath}, key ${keyPath}`);

    // wasmcc dev serves plaintext gRPC; the one client connection is shared by every Gateway call.
    const client = new grpc.Client(gatewayAddress, grpc.credentials.createInsecure());
    const gateway = connect({
        client,
        identity: { mspId, credentials: await fs.readFile(certPath) },
        signer: signers.newPrivateKeySigner(crypto.createPrivateKey(await fs.readFile(keyPath))),
        hash: hash.sha256,
        // The sample's default deadlines: a stuck server fails the run instead of hanging it.
        evaluateOptions: () => ({ deadline: Date.now() + 5000 }),
        endorseOptions: () => ({ deadline: Date.now() + 15000 }),
        submitOptions: () => ({ deadline: Date.now() + 5000 }),
        commitStatusOptions: () => ({ deadline: Date.now() + 60000 }),
    });

    try {
        const network = gateway.getNetwork(channelName);
        const contract = network.getContract(chaincodeName);

        await initLedger(contract);
        await getAllAssets(contract);
        await createAsset(contract);
        await readAsset(contract);
        await transferAsset(contract);
        await updateNonExistentAsset(contract);
        await chaincodeEvents(network);
        await conflictingUpdates(contract);
        await privateAsset(network.getContract(privateChaincodeName));
    } finally {
        gateway.close();
        client.close();
    }
}

async function initLedger(contract) {
    say('\n--> Submit Transaction: InitLedger, function creates the initial set of assets on the ledger');
    await contract.submitTransaction('InitLedger');
    say('*** Transaction committed successfully');
    report('init', { committed: true });
}

async function getAllAssets(contract) {
    say('\n--> Evaluate Transaction: GetAllAssets, function returns all the current assets on the ledger');
    const assets = parseJson(await contract.evaluateTransaction('GetAllAssets'), 'GetAllAssets');
    say(`*** Result: ${assets.length} assets: ${assets.map((asset) => asset.ID).join(', ')}`);
    report('all', { count: assets.length });
}

async function createAsset(contract) {
    say(`\n--> Submit Transaction: CreateAsset, creates asset ${assetId} with Color, Size, Owner and AppraisedValue`);
    await contract.submitTransaction('CreateAsset', assetId, 'yellow', '5', 'Tom', '1300');
    say('*** Transaction committed successfully');
    report('create', { id: assetId });
}

async function readAsset(contract) {
    say(`\n--> Evaluate Transaction: ReadAsset, function returns the attributes of ${assetId}`);
    const asset = parseJson(await contract.evaluateTransaction('ReadAsset', assetId), 'ReadAsset');
    say(`*** Result: ${JSON.stringify(asset)}`);
    report('read', { asset });
}

/** Submitted asynchronously, as the sample does: the result is known at endorsement, before the commit. */
async function transferAsset(contract) {
    say('\n--> Async Submit Transaction: TransferAsset, updates existing asset owner');
    const commit = await contract.submitAsync('TransferAsset', { arguments: [assetId, 'Saptha'] });
    const oldOwner = utf8Decoder.decode(commit.getResult());
    say(`*** Successfully submitted transaction to transfer ownership from ${oldOwner} to Saptha`);
    await committed(commit);
    say('*** Transaction committed successfully');

    const asset = parseJson(await contract.evaluateTransaction('ReadAsset', assetId), 'ReadAsset');
    say(`*** ${assetId} is now owned by ${asset.Owner}`);
    report('transfer', { oldOwner, owner: asset.Owner });
}

/** The chaincode's error text comes back inside the GatewayError's details, one per endorsing peer. */
async function updateNonExistentAsset(contract) {
    say('\n--> Submit Transaction: UpdateAsset asset70, asset70 does not exist and should return an error');
    try {
        await contract.submitTransaction('UpdateAsset', 'asset70', 'blue', '5', 'Tomoko', '300');
    } catch (error) {
        if (!(error instanceof GatewayError)) throw error;
        say('*** Successfully caught the error:');
        describeError(error).forEach((line) => say(line));
        const details = error.details.map(({ address, mspId, message }) => ({ address, mspId, message }));
        report('error', { name: error.name, code: error.code, details, message: error.message });
        return;
    }
    throw new Error('UpdateAsset on asset70 succeeded; it should have failed');
}

/**
 * Chaincode events, resumed with a checkpointer: the listener starts at the block of the first transaction, the
 * checkpoint records the first event, and a second listener opened from that checkpoint gets only what followed it.
 */
async function chaincodeEvents(network) {
    const loyalty = network.getContract(eventsChaincodeName); // its default contract, Points
    const member = { id: memberId, name: 'Ada', tier: 'Silver', points: 0 };

    say(`\n--> Submit Transaction: Enroll, adds loyalty member ${memberId}`);
    const enroll = await loyalty.submitAsync('Enroll', { arguments: [JSON.stringify(member)] });
    const { blockNumber: startBlock } = await committed(enroll);
    say(`*** Transaction committed successfully in block ${startBlock}`);

    const checkpointer = checkpointers.inMemory();
    const ours = [enroll.getTransactionId()];
    const received = [];
    say(`\n--> Listening for ${eventsChaincodeName} chaincode events from block ${startBlock}`);
    // The checkpoint is empty here, so startBlock applies; it is ignored once the checkpoint is set.
    const events = await network.getChaincodeEvents(eventsChaincodeName, { checkpoint: checkpointer, startBlock });
    try {
        const iterator = events[Symbol.asyncIterator]();
        received.push(await nextEvent(iterator, ours));
        await checkpointer.checkpointChaincodeEvent(received[0]);
        say('*** Checkpointed after the first event');

        // Submitted while the listener is open, so this event arrives live rather than replayed.
        say(`\n--> Submit Transaction: Award, gives ${memberId} 5 points (Silver tier: x2)`);
        const award = await loyalty.submitAsync('Award', { arguments: [memberId, '5'] });
        await committed(award);
        say('*** Transaction committed successfully');
        ours.push(award.getTransactionId());
        received.push(await nextEvent(iterator, ours.slice(1)));
    } finally {
        events.close();
    }

    say('\n--> Reconnecting from the checkpoint: only the second event should be delivered again');
    const resumedEvents = await network.getChaincodeEvents(eventsChaincodeName, { checkpoint: checkpointer });
    let resumed;
    try {
        resumed = await nextEvent(resumedEvents[Symbol.asyncIterator](), ours);
    } finally {
        resumedEvents.close();
    }
    if (resumed.transactionId !== ours[1]) {
        throw new Error(`resuming from the checkpoint delivered ${resumed.transactionId}, not the Award ${ours[1]}`);
    }

    report('events', {
        received: received.map((event) => event.eventName),
        resumed: [resumed.eventName],
        blocks: received.map((event) => Number(event.blockNumber)),
        transactions: received.map((event) => event.transactionId),
        resumedTransactions: [resumed.transactionId],
    });
}

/**
 * Two updates of one asset, both endorsed before either is submitted: both simulations read the same version of the
 * asset, so the one that commits second fails validation with MVCC_READ_CONFLICT and leaves the ledger unchanged.
 */
async function conflictingUpdates(contract) {
    say(`\n--> Endorse two UpdateAsset transactions on ${assetId}, then submit both`);
    const proposals = ['red', 'green'].map((color) =>
        contract.newProposal('UpdateAsset', { arguments: [assetId, color, '5', 'Saptha', '1300'] })
    );
    const transactions = [];
    for (const proposal of proposals) transactions.push(await proposal.endorse());
    const commits = [];
    for (const transaction of transactions) commits.push(await transaction.submit());
    const statuses = await Promise.all(commits.map((commit) => commit.getStatus()));

    for (const { transactionId, code, blockNumber } of statuses) {
        say(`*** Transaction ${transactionId}: ${statusNames[code]} (${code}) in block ${blockNumber}`);
    }
    const codes = statuses.map((status) => status.code);
    const valid = statuses.filter((status) => status.successful).length;
    report('conflict', { codes, names: codes.map((code) => statusNames[code]), valid });

    const expected = [StatusCode.VALID, StatusCode.MVCC_READ_CONFLICT];
    if (valid !== 1 || [...codes].sort((a, b) => a - b).join() !== expected.join()) {
        throw new Error(`expected one VALID and one MVCC_READ_CONFLICT, got ${codes.map((c) => statusNames[c])}`);
    }
}

/** Private data goes in through the transient map, so it never appears in the transaction the orderer sees. */
async function privateAsset(contract) {
    const collection = `${mspId}PrivateCollection`;
    const properties = { objectType: 'asset', assetID: assetId, color: 'green', size: 20, appraisedValue: 100 };
    say(`\n--> Submit Transaction: CreateAsset on ${privateChaincodeName}, properties in the transient map`);
    await contract.submit('CreateAsset', { transientData: { asset_properties: JSON.stringify(properties) } });
    say('*** Transaction committed successfully');

    say(`\n--> Evaluate Transactions: ReadAsset and ReadAssetPrivateDetails from ${collection}`);
    const asset = parseJson(await contract.evaluateTransaction('ReadAsset', assetId), 'ReadAsset');
    const details = parseJson(
        await contract.evaluateTransaction('ReadAssetPrivateDetails', collection, assetId),
        'ReadAssetPrivateDetails'
    );
    say(`*** Result: ${JSON.stringify(asset)}`);
    say(`*** Private details: ${JSON.stringify(details)}`);
    report('private', { asset, private: details });
}

/** The commit status; an error when the transaction was committed invalid (submitTransaction's CommitError). */
async function committed(commit) {
    const status = await commit.getStatus();
    if (!status.successful) {
        throw new Error(`Transaction ${status.transactionId} failed to commit with status ${statusNames[status.code]}`);
    }
    return status;
}

/** The next event of one of the given transactions (other clients' are skipped), within the timeout. */
async function nextEvent(iterator, transactionIds) {
    const deadline = Date.now() + EVENT_TIMEOUT_MS;
    for (;;) {
        const late = `no ${eventsChaincodeName} chaincode event within ${EVENT_TIMEOUT_MS / 1000} s`;
        const next = await withTimeout(iterator.next(), deadline - Date.now(), late);
        if (next.done) throw new Error(`the ${eventsChaincodeName} chaincode event stream ended`);
        const event = next.value;
        if (transactionIds.includes(event.transactionId)) {
            const payload = utf8Decoder.decode(event.payload) || '(empty payload)';
            say(`*** Event ${event.eventName}, block ${event.blockNumber}, tx ${event.transactionId}: ${payload}`);
            return event;
        }
    }
}

function withTimeout(promise, ms, message) {
    let timer;
    const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(message)), Math.max(0, ms));
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The error handling of fabric-gateway's documentation: what failed, then each node's own message. */
function describeError(error) {
    if (!(error instanceof Error)) return [String(error)];
    const lines = [`${error.name}: ${error.message}`];
    if (error instanceof EndorseError) {
        lines.push(`Transaction ${error.transactionId} failed to endorse`);
    } else if (error.name === 'SubmitError') {
        // SubmitError is exported as a type only, so it is recognised by name.
        lines.push(`Transaction ${error.transactionId} failed to submit to the orderer`);
    } else if (error instanceof CommitStatusError) {
        lines.push(`Failed to obtain the commit status of transaction ${error.transactionId}`);
    } else if (error instanceof CommitError) {
        lines.push(`Transaction ${error.transactionId} failed to commit: ${statusNames[error.code]} (${error.code})`);
    }
    if (error instanceof GatewayError) {
        lines.push(`gRPC status code: ${error.code}`);
        for (const detail of error.details) {
            lines.push(`- address: ${detail.address}; mspId: ${detail.mspId}; message: ${detail.message}`);
        }
    }
    return lines;
}

function parseJson(bytes, what) {
    const text = utf8Decoder.decode(bytes);
    if (!text) throw new Error(`${what} returned nothing`);
    return JSON.parse(text);
}

/** Human-readable output; silent with --json, whose stdout holds only the one line per step. */
function say(line) {
    if (!jsonOutput) console.log(line);
}

function report(step, facts) {
    if (jsonOutput) console.log(JSON.stringify({ step, ...facts }));
}

/** What is wrong with the command line or environment, if anything: reported without a stack trace. */
function configurationProblem() {
    const unknown = process.argv.slice(2).find((arg) => arg !== '--json');
    if (unknown) return `unknown argument ${unknown}; usage: node app.js [--json]`;
    const missing = ['CERT_PATH', 'KEY_PATH'].filter((key) => !process.env[key]);
    if (missing.length) {
        return `${missing.join(' and ')} must be set: the client certificate and key (PEM) that \`wasmcc dev\` prints`;
    }
    return undefined;
}

function envOrDefault(key, defaultValue) {
    return process.env[key] || defaultValue;
}

main().catch((error) => {
    console.error('******** FAILED to run the application:');
    for (const line of describeError(error)) console.error(line);
    // A GatewayError is fully described by its details; anything else is a bug worth a stack trace.
    if (error instanceof Error && !(error instanceof GatewayError)) console.error(error.stack);
    process.exitCode = 1;
});
