#!/usr/bin/env node
// Serves one of the Node reference chaincodes (tests/node/chaincode/*.js) in CCaaS server mode, with Fabric's own
// fabric-shim, plaintext:
//
//   node tests/node/ccaas.js <probe|marbles|private-asset|bench> <host:port> <ccid>
//
// Prints exactly one line "listening <host:port>" on stdout once the gRPC server is bound, then serves until stdin
// closes (so a test that dies never leaks the process), SIGTERM or SIGINT. The shim's own logging is set to
// ERROR unless CORE_CHAINCODE_LOGGING_LEVEL says otherwise.
'use strict';

const path = require('path');

const CHAINCODES = ['probe', 'marbles', 'private-asset', 'bench'];

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
const Chaincode = require(path.join(__dirname, 'chaincode', `${name}.js`));

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
const server = shim.server(new Chaincode(), {ccid, address});
server.start().then(
    () => process.stdout.write(`listening ${address}\n`),
    (err) => {
        process.stderr.write(`ccaas.js: cannot listen on ${address}: ${err && err.message ? err.message : err}\n`);
        exit(1);
    },
);
