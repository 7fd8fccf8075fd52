#!/usr/bin/env bash
# Installs the Node reference packages (Fabric's official protobuf bindings and shim) into
# tests/node/node_modules: proto/tests/wire.rs and the conformance suite (tests/node/ccaas.js serving
# tests/node/chaincode/*.js, started by tests/src/node.rs) use them. Idempotent: does nothing when
# node_modules is already newer than package.json and package-lock.json.
set -euo pipefail

dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/node"
cd "$dir"

command -v npm >/dev/null || { echo "setup-node.sh: npm not found (Node >= 18 required)" >&2; exit 1; }
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)' ||
    { echo "setup-node.sh: Node >= 18 required, found $(node --version)" >&2; exit 1; }

stamp=node_modules/.package-lock.json   # npm rewrites this on every install
if [[ -f "$stamp" && ! package.json -nt "$stamp" && ! ( -f package-lock.json && package-lock.json -nt "$stamp" ) ]]; then
    exit 0
fi

if [[ -f package-lock.json && ! package.json -nt package-lock.json ]]; then
    npm ci --no-audit --no-fund
else
    npm install --no-audit --no-fund
fi
