#!/usr/bin/env bash
# The release `wasmcc` built with profile-guided optimisation (PGO): an instrumented build serves the bench's
# transactions (`bench --host-exe`, the peer simulator driving `wasmcc serve`), LLVM merges the counts it wrote at exit,
# and a second build lays out and inlines the code by them: 5–35% less CPU per transaction than the plain release
# build, depending on the load (BENCHMARKS.md change 37). Three release builds: about 35 minutes on 2 cores.
#
#   bash scripts/build-release.sh [--quick] [cargo build options, e.g. --no-default-features]
#
# Writes target/pgo/wasmcc (the binary) and target/pgo/wasmcc.profdata (the merged profile); builds in
# target/pgo-build. The options go to both builds of `wasmcc`, so the profile's functions are the final build's: for
# the container image give its own (--no-default-features), then: docker build --build-context pgo=target/pgo .
# --quick: a check of the whole pipeline (the test suite runs it): a short training, the bench as it is built for the
# tests, and builds at opt-level 1 without cross-crate LTO; not a binary to ship.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

quick=false
if [ "${1:-}" = "--quick" ]; then
    quick=true
    shift
fi

ensure_cargo
# The profile's format is LLVM's: merge it with the llvm-profdata of the LLVM rustc is built on.
llvm=$(rustc -vV | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p')
profdata=$(command -v "llvm-profdata-$llvm" || true)
if [ -z "$profdata" ]; then
    apt_ensure "llvm-$llvm"
    profdata=$(command -v "llvm-profdata-$llvm")
fi
bash scripts/build-guests.sh

out=$PWD/target/pgo
work=$PWD/target/pgo-build
mkdir -p "$out" "$work"
if $quick; then
    export CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_OPT_LEVEL=1
    cargo build --locked -p wasmcc-tests --bin bench
    driver=target/debug/bench
    training=(--workloads noop,get1,rw10 --concurrency 1,16 --tx 200 --tx-concurrent 800 --paced-seconds 0.25)
else
    cargo build --release --locked -p wasmcc-tests --bin bench
    driver=target/release/bench
    # As many transactions at a peer's pace (inline on the network thread) as at c=64 (on the guest threads) of each
    # paced workload: the profile weighs the load a deployed host serves (BENCHMARKS.md change 56).
    training=(--concurrency 1,64 --tx 2000 --tx-concurrent 16000 --paced-seconds 8)
fi
# Each build in a target directory of its own: the flags differ, and the plain release build keeps its own.
build() {
    local dir=$1 flags=$2
    shift 2
    RUSTFLAGS="${RUSTFLAGS:-} $flags" CARGO_TARGET_DIR="$work/$dir" \
        cargo build --release --locked -p wasmcc-host --bin wasmcc "$@"
}

echo "=== 1/4 the instrumented build ==="
build instrumented "-Cprofile-generate=$work/raw" "$@"
echo "=== 2/4 training: the bench's transactions through wasmcc serve ==="
# Only the server's counts: the build scripts the instrumented build ran wrote theirs here too.
rm -rf "$work/raw"
"$driver" --parts compare,paced --impls wasm --host-exe "$work/instrumented/release/wasmcc" "${training[@]}"
echo "=== 3/4 merging the profile ==="
"$profdata" merge -o "$out/wasmcc.profdata" "$work/raw"
# The host's own functions must be in it, else the training did not reach them (or wrote nothing at exit).
host_functions=$("$profdata" show --function=wasmcc_host "$out/wasmcc.profdata" | sed -n 's/^Functions shown: //p')
echo "the profile counts ${host_functions:-no} functions of wasmcc_host"
[ "${host_functions:-0}" -gt 100 ] || { echo "the training left no profile of the host's functions" >&2; exit 1; }
echo "=== 4/4 the optimised build ==="
build optimised "-Cprofile-use=$out/wasmcc.profdata" "$@"
install -m 0755 "$work/optimised/release/wasmcc" "$out/wasmcc"
# The binary serves: one short round through the same driver.
"$driver" --parts compare --impls wasm --host-exe "$out/wasmcc" --workloads get1 --concurrency 1 --tx 50 --batches 1 |
    grep '^bench get1'
echo "built $out/wasmcc (profile: $out/wasmcc.profdata)"
