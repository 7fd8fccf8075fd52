#!/usr/bin/env node
// A client application written as fabric-samples' application-gateway ones are, with Fabric's own client API
// (@hyperledger/fabric-gateway): the reference client for wasmcc's Gateway service (tests/flows/gateway.rs).
//
//   node tests/node/gateway-client.js <host:port> <mspid> <cert.pem> <key.pem> <channel> <chaincode> <calls.json>
//
// calls.json is a list of [kind, "Function", "arg", ...], kind one of
//   evaluate   contract.evaluateTransaction
//   submit     contract.submitTransaction (endorse, submit, wait for the commit status)
//   conflict   two proposals of the same call endorsed before either is submitted, then both submitted in turn
//   events     ["events", <start block>, <count>]: the chaincode's first <count> events from that block
// Prints one JSON line per call: {"ok": "<result as UTF-8>"}, {"statuses": [<validation code>, ...]},
// {"events": [{name, payload, txid, block}, ...]} or
// {"error": {"code": <gRPC code>, "message": "...", "details": [{address, mspId, message}]}}.
'use strict';

const fs = require('fs');
const crypto = require('crypto');
const grpc = require('@grpc/grpc-js');
const { connect, hash, signers } = require('@hyperledger/fabric-gateway');

async function main() {
    const [address, mspId, certPath, keyPath, channel, chaincode, callsPath] = process.argv.slice(2);
    const client = new grpc.Client(address, grpc.credentials.createInsecure());
    const gateway = connect({
        client,
        identity: { mspId, credentials: fs.readFileSync(certPath) },
        signer: signers.newPrivateKeySigner(crypto.createPrivateKey(fs.readFileSync(keyPath))),
        hash: hash.sha256,
    });
    try {
        const network = gateway.getNetwork(channel);
        const contract = network.getContract(chaincode);
        for (const [kind, name, ...args] of JSON.parse(fs.readFileSync(callsPath, 'utf8'))) {
            try {
                if (kind === 'evaluate' || kind === 'submit') {
                    const call = kind === 'evaluate' ? contract.evaluateTransaction : contract.submitTransaction;
                    const result = await call.call(contract, name, ...args);
                    console.log(JSON.stringify({ ok: Buffer.from(result).toString('utf8') }));
                } else if (kind === 'events') {
                    const [count] = args;
                    const events = await network.getChaincodeEvents(chaincode, { startBlock: BigInt(name) });
                    const seen = [];
                    try {
                        for await (const event of events) {
                            seen.push({
                                name: event.eventName,
                                payload: Buffer.from(event.payload).toString('utf8'),
                                txid: event.transactionId,
                                block: Number(event.blockNumber),
                            });
                            if (seen.length >= Number(count)) {
                                break;
                            }
                        }
                    } finally {
                        events.close();
                    }
                    console.log(JSON.stringify({ events: seen }));
                } else if (kind === 'conflict') {
                    const endorsed = [];
                    for (let i = 0; i < 2; i++) {
                        endorsed.push(await contract.newProposal(name, { arguments: args }).endorse());
                    }
                    const statuses = [];
                    for (const transaction of endorsed) {
                        const commit = await transaction.submit();
                        statuses.push((await commit.getStatus()).code);
                    }
                    console.log(JSON.stringify({ statuses }));
                } else {
                    throw new Error(`gateway-client.js: unknown call kind ${kind}`);
                }
            } catch (err) {
                const details = (err.details || []).map((d) => ({ address: d.address, mspId: d.mspId, message: d.message }));
                console.log(JSON.stringify({ error: { code: err.code, message: err.details ? err.message : String(err), details } }));
            }
        }
    } finally {
        gateway.close();
        client.close();
    }
}

main().catch((err) => {
    process.stderr.write(`gateway-client.js: ${err && err.stack ? err.stack : err}\n`);
    process.exit(1);
});
