#!/usr/bin/env bash
# Builds the external builder (builder/) as one statically linked binary and prints its path on stdout.
#
# The peer runs it inside the stock Fabric peer image (Alpine: no glibc, no bash), so nothing may be loaded at run
# time: glibc is linked in with +crt-static, and names resolve in Rust (hickory), not through NSS. The target is
# given explicitly so that RUSTFLAGS reach only the target crates, not build scripts and proc macros (which must stay
# dynamic). It gets its own target dir: changed RUSTFLAGS would otherwise rebuild the workspace's dependencies.
#
#   bash scripts/build-builder.sh            # -> target/builder/<triple>/release/wasmcc-builder
#   "$(bash scripts/build-builder.sh)" install /opt/wasmcc-builder
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
ensure_cargo

TARGET=${WASMCC_BUILDER_TARGET:-$(rustc -vV | sed -n 's/^host: //p')}
case "$TARGET" in
    *-linux-gnu) ;;
    *) echo "build-builder.sh: expected a *-linux-gnu target, got $TARGET" >&2; exit 1 ;;
esac
export CARGO_TARGET_DIR="$PWD/target/builder"
# Run from a cargo test, an inherited CARGO_ENCODED_RUSTFLAGS would take precedence over RUSTFLAGS.
unset CARGO_ENCODED_RUSTFLAGS

# getrandom_backend: getrandom 0.3+ finds the getrandom(2) wrapper with dlsym, which a static binary cannot do, and
# then falls back to /dev/urandom, which a bare root lacks; use the libc call directly (Linux 3.17+, glibc 2.25+).
RUSTFLAGS='-C target-feature=+crt-static --cfg getrandom_backend="linux_getrandom"' CARGO_PROFILE_RELEASE_STRIP=symbols \
    cargo build --release --locked -p wasmcc-builder --target "$TARGET" >&2

bin="$CARGO_TARGET_DIR/$TARGET/release/wasmcc-builder"
if command -v ldd >/dev/null; then
    # glibc's ldd says "not a dynamic executable" (older) or "statically linked" (newer) for a static binary.
    if ! ldd "$bin" 2>&1 | grep -qE "not a dynamic executable|statically linked"; then
        echo "build-builder.sh: $bin is not statically linked:" >&2
        ldd "$bin" >&2 || true
        exit 1
    fi
fi
echo "$bin"
