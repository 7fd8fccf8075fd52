#!/usr/bin/env bash
# The README's first command: builds the host and the examples, serves them with embedded defaults, drives a
# short session through the peer simulator, then keeps serving (Ctrl-C stops it). Extra arguments go to
# `wasmcc demo` (see `wasmcc demo --help`).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

ensure_cargo
bash scripts/build-guests.sh
cargo build --release --locked -p wasmcc-host
exec target/release/wasmcc demo "$@"
