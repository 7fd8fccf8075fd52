#!/usr/bin/env bash
# The README's first command: installs what is missing, builds the example chaincodes and the host, starts
# `wasmcc dev` (a Fabric Gateway, one organisation, one channel) with three examples committed on it, runs the
# fabric-gateway application in examples/application against it once, then keeps serving until Ctrl-C.
# Extra arguments go to `wasmcc dev` (see `wasmcc dev --help`); `wasmcc demo` drives the peer simulator instead.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

ensure_cargo
ensure_node
bash scripts/setup-node.sh
bash scripts/build-guests.sh
cargo build --release --locked -p wasmcc-host

data=target/dev-data
gateway=127.0.0.1:7051
target/release/wasmcc dev --data-dir "$data" --gateway "$gateway" \
    --chaincode asset-transfer=target/wasm/asset_transfer.wasm \
    --chaincode loyalty=target/wasm/loyalty.wasm \
    --chaincode private-asset=target/wasm/private_asset.wasm \
    --collections private-asset=examples/private-asset/collections_config.json \
    "$@" &
dev=$!
trap 'kill "$dev" 2>/dev/null || true' INT TERM EXIT

# The Gateway listens once every chaincode is committed.
until (exec 3<>"/dev/tcp/${gateway%:*}/${gateway#*:}") 2>/dev/null; do
    kill -0 "$dev" 2>/dev/null || { wait "$dev"; exit 1; }
    sleep 0.2
done

echo "=== A fabric-gateway application's session (examples/application/app.js) ==="
GATEWAY_ADDRESS="$gateway" CERT_PATH="$data/dev/org/client/cert.pem" KEY_PATH="$data/dev/org/client/key.pem" \
    node examples/application/app.js
echo
echo "wasmcc dev keeps serving on $gateway (Ctrl-C stops it). Point an application at it with the client"
echo "certificate and key printed above, or try: target/release/wasmcc query --data-dir $data asset-transfer GetAllAssets"
wait "$dev"
