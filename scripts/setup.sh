#!/usr/bin/env bash
# Installs everything the build and the tests need (idempotent), then builds the example chaincodes to wasm.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

ensure_cargo
ensure_node
ensure_postgres
bash scripts/setup-node.sh
bash scripts/setup-python.sh
bash scripts/build-guests.sh
