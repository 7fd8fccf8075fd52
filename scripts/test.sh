#!/usr/bin/env bash
# The README's test command: sets up what is missing, then runs clippy (warnings denied) and every test.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

bash scripts/setup.sh
ensure_cargo
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
