#!/usr/bin/env bash
# The README's test command: sets up what is missing, then runs clippy (warnings denied), every test, and a check of
# the profile-guided release build.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

warn_low_disk 12
bash scripts/setup.sh
ensure_cargo
# A run from a clean clone gains nothing from incremental compilation, and its caches were a quarter of the disk the
# run needed; whoever iterates locally can set CARGO_INCREMENTAL=1.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
# The profile-guided release build, end to end (instrument, train, merge, build, serve), in its quick form.
bash scripts/build-release.sh --quick
