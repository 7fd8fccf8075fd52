#!/usr/bin/env bash
# Builds every chaincode under examples/ to a wasm core module: target/wasm/<crate_name>.wasm.
#
# Toolchain: if rustup's wasm32-unknown-unknown std is installed, plain
# cargo builds it. Otherwise Debian's rustc-web toolchain builds std from source (-Zbuild-std). Nothing is
# downloaded but Debian packages. Guests get their own target dir: the guest command's RUSTC_BOOTSTRAP and
# compiler would otherwise force a full rebuild of the host's dependencies.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
ROOT=$PWD
TARGET=wasm32-unknown-unknown
export CARGO_TARGET_DIR="$ROOT/target/guests"
OUT="$ROOT/target/wasm"
DEBIAN_PACKAGES=(rustc-web cargo-web rust-web-src lld-22)

# One -p per example crate; crate names come from the manifests so a new example needs no edit here.
packages=()
for manifest in examples/*/Cargo.toml; do
    name=$(sed -n 's/^name *= *"\(.*\)"/\1/p' "$manifest" | head -n1)
    packages+=("$name")
done
[ ${#packages[@]} -gt 0 ] || { echo "no examples/*/Cargo.toml found" >&2; exit 1; }
pkg_args=()
for p in "${packages[@]}"; do pkg_args+=(-p "$p"); done

has_rustup_std() {
    command -v rustc >/dev/null || return 1
    local libdir
    # --print target-libdir prints a path even when the target is not installed: look for std itself.
    libdir=$(rustc --print target-libdir --target "$TARGET" 2>/dev/null) || return 1
    compgen -G "$libdir/libstd-*.rlib" >/dev/null
}

if has_rustup_std; then
    echo "toolchain: rustup std for $TARGET ($(rustc --version))"
    cargo build --profile guest --target "$TARGET" "${pkg_args[@]}"
else
    apt_ensure "${DEBIAN_PACKAGES[@]}"
    echo "toolchain: Debian $(/usr/bin/rustc --version) with -Zbuild-std"
    # /usr/bin first and RUSTC set: otherwise /usr/bin/cargo silently picks rustup's rustc from ~/.cargo/bin.
    PATH=/usr/bin:$PATH RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 \
        /usr/bin/cargo build --profile guest --target "$TARGET" -Zbuild-std=std,panic_abort "${pkg_args[@]}"
fi

# Copy the modules out, then check that each imports nothing but the sandbox ABI (no WASI, no `env`, no
# wasm-bindgen): the host links only fabric:chaincode/*, so anything else would fail at upload.
mkdir -p "$OUT"
modules=()
for p in "${packages[@]}"; do
    crate=${p//-/_}
    cp "$CARGO_TARGET_DIR/$TARGET/guest/$crate.wasm" "$OUT/$crate.wasm"
    modules+=("$OUT/$crate.wasm")
done

if command -v python3 >/dev/null; then
    python3 - "${modules[@]}" <<'PY'
import sys

def leb(b, i):
    n = shift = 0
    while True:
        x = b[i]; i += 1
        n |= (x & 0x7F) << shift; shift += 7
        if x < 0x80:
            return n, i

def imports(data):
    """Module names of the import section (id 2) of a core wasm module."""
    assert data[:4] == b"\0asm", "not a wasm module"
    i, found = 8, []
    while i < len(data):
        sid = data[i]; size, i = leb(data, i + 1)
        if sid == 2:
            j = i
            count, j = leb(data, j)
            for _ in range(count):
                n, j = leb(data, j); mod = data[j:j + n].decode(); j += n
                n, j = leb(data, j); j += n            # field name
                kind = data[j]; j += 1
                if kind == 0:                          # func: type index
                    _, j = leb(data, j)
                elif kind in (1, 2):                   # table (reftype first) or memory: limits
                    j += kind == 1
                    flags, j = leb(data, j)
                    _, j = leb(data, j)                # min
                    if flags & 1:
                        _, j = leb(data, j)            # max
                elif kind == 3:                        # global: valtype, mutability
                    j += 2
                found.append(mod)
        i += size
    return sorted(set(found))

bad = False
for path in sys.argv[1:]:
    mods = imports(open(path, "rb").read())
    stray = [m for m in mods if not m.startswith("fabric:chaincode/")]
    print(f"  {path.rsplit('/', 1)[-1]}: imports {', '.join(mods) or 'nothing'}")
    if stray:
        print(f"  ERROR: {path} imports {stray}", file=sys.stderr); bad = True
sys.exit(1 if bad else 0)
PY
else
    echo "python3 not found: import check skipped" >&2
fi

echo "guest modules:"
for m in "${modules[@]}"; do
    printf '  %8d bytes  %s\n' "$(stat -c %s "$m")" "${m#"$ROOT"/}"
done
