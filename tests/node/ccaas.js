#!/usr/bin/env node
// Serves one of the Node reference chaincodes (tests/node/chaincode/*.js) in CCaaS server mode, with Fabric's own
// fabric-shim, plaintext:
//
//   node tests/node/ccaas.js <probe|marbles|private-asset|bench|asset-transfer|loyalty> <host:port> <ccid>
//
// A chaincode module exports either a low-level shim Chaincode class (Init/Invoke on its prototype), or, for a
// fabric-contract-api contract, a factory returning the ready chaincode (fabric-shim's ChaincodeFromContract) or
// that instance itself.
//
// Prints exactly one line "listening <host:port>" on stdout once the gRPC server is bound, then serves until stdin
// closes (so a test that dies never leaks the process), SIGTERM or SIGINT. The shim's own logging is set to
// ERROR unless CORE_CHAINCODE_LOGGING_LEVEL says otherwise.
'use strict';

const path = require('path');

const CHAINCODES = ['probe', 'marbles', 'private-asset', 'bench', 'asset-transfer', 'loyalty'];

function usage(msg) {
    process.stderr.write(`ccaas.js: ${msg}\nusage: node tests/node/ccaas.js <${CHAINCODES.join('|')}> <host:port> <ccid>\n`);
    process.exit(2);
}

const [name, address, ccid] = process.argv.slice(2);
if (process.argv.length !== 5) {
    usage('expected 3 arguments');
}
if (!CHAINCODES.includes(name)) {
    usage(`unknown chaincode ${JSON.stringify(name)}`);
}
if (!/^[^\s]+:[0-9]+$/.test(address)) {
    usage(`address must be host:port, got ${JSON.stringify(address)}`);
}

// Before the shim is loaded: its loggers read these when created.
if (!process.env.CORE_CHAINCODE_LOGGING_LEVEL) {
    process.env.CORE_CHAINCODE_LOGGING_LEVEL = 'ERROR';
}
// Only stub.getMspID() reads it (the reference chaincodes do not); set for parity with a peer-launched chaincode.
if (!process.env.CORE_PEER_LOCALMSPID) {
    process.env.CORE_PEER_LOCALMSPID = 'Org1MSP';
}

const shim = require('fabric-shim');
const exported = require(path.join(__dirname, 'chaincode', `${name}.js`));

/** The chaincode instance a module's export stands for (see the top of this file). */
function instantiate(exp) {
    const isChaincode = (obj) => obj && typeof obj.Init === 'function' && typeof obj.Invoke === 'function';
    let chaincode;
    if (typeof exp === 'function' && isChaincode(exp.prototype)) {
        chaincode = new exp();
    } else if (typeof exp === 'function') {
        chaincode = exp();
    } else {
        chaincode = exp;
    }
    if (!isChaincode(chaincode)) {
        process.stderr.write(`ccaas.js: chaincode/${name}.js exports no chaincode (nothing with Init and Invoke)\n`);
        process.exit(2);
    }
    return chaincode;
}

function exit(code) {
    process.exit(code);
}

process.on('SIGTERM', () => exit(0));
process.on('SIGINT', () => exit(0));
process.stdin.on('end', () => exit(0));
process.stdin.on('error', () => exit(0));
process.stdin.on('data', () => {}); // ignore input; only its end matters
process.stdin.resume();

process.noDeprecation = true; // grpc-js deprecates server.start(), which fabric-shim 2.5.8 still calls
const server = shim.server(instantiate(exported), {ccid, address});
server.start().then(
    () => process.stdout.write(`listening ${address}\n`),
    (err) => {
        process.stderr.write(`ccaas.js: cannot listen on ${address}: ${err && err.message ? err.message : err}\n`);
        exit(1);
    },
);
