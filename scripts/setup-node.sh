#!/usr/bin/env bash
# Installs the Node packages of two directories, each from its package-lock.json:
# - tests/node: Fabric's official protobuf bindings, shim, contract API and Gateway client, the references of
#   proto/tests/wire.rs, the conformance suite (tests/node/ccaas.js serving tests/node/chaincode/*.js) and the
#   gateway tests;
# - examples/application: the fabric-gateway application the quick start and the `wasmcc dev` tests run.
# Idempotent: a directory whose node_modules is newer than its package.json and package-lock.json is left alone.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

command -v npm >/dev/null || { echo "setup-node.sh: npm not found (Node >= 18 required)" >&2; exit 1; }
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)' ||
    { echo "setup-node.sh: Node >= 18 required, found $(node --version)" >&2; exit 1; }

install_in() {
    cd "$1"
    local stamp=node_modules/.package-lock.json   # npm rewrites this on every install
    if [[ -f "$stamp" && ! package.json -nt "$stamp" && ! ( -f package-lock.json && package-lock.json -nt "$stamp" ) ]]; then
        return
    fi
    if [[ -f package-lock.json && ! package.json -nt package-lock.json ]]; then
        npm ci --no-audit --no-fund
    else
        npm install --no-audit --no-fund
    fi
}

(install_in "$root/tests/node")
(install_in "$root/examples/application")
