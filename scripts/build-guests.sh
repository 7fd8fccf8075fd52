#!/usr/bin/env bash
# Builds every chaincode under examples/ to a wasm core module: target/wasm/<crate_name>.wasm.
#
# The toolchain is found and driven by the wasmcc-toolchain crate (toolchain/), the same code `wasmcc build` builds
# authors' crates with: rustup's wasm32-unknown-unknown std where installed, else Debian's rustc-web toolchain building
# std from source. When neither is here, Debian's packages are installed and the build tried again. Guests get their
# own target dir: the Debian toolchain's RUSTC_BOOTSTRAP and compiler would otherwise force a full rebuild of the
# host's dependencies.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
ROOT=$PWD
GUEST_TARGET_DIR="$ROOT/target/guests"
OUT="$ROOT/target/wasm"

# One -p per example crate; crate names come from the manifests so a new example needs no edit here.
packages=()
for manifest in examples/*/Cargo.toml; do
    name=$(sed -n 's/^name *= *"\(.*\)"/\1/p' "$manifest" | head -n1)
    packages+=("$name")
done
[ ${#packages[@]} -gt 0 ] || { echo "no examples/*/Cargo.toml found" >&2; exit 1; }
pkg_args=()
for p in "${packages[@]}"; do pkg_args+=(-p "$p"); done

mkdir -p "$ROOT/target"
build() {
    cargo run -q -p wasmcc-toolchain -- --profile guest --target-dir "$GUEST_TARGET_DIR" --out "$OUT" "${pkg_args[@]}" . \
        > "$ROOT/target/guest-modules.txt"
}
status=0
build || status=$?
if [ "$status" -eq 3 ]; then    # wasmcc-toolchain: no wasm toolchain here; it names the Debian packages that are one
    mapfile -t debian_packages < <(cargo run -q -p wasmcc-toolchain -- --print-debian-packages)
    apt_ensure "${debian_packages[@]}"
    build
elif [ "$status" -ne 0 ]; then
    exit "$status"
fi

# Check that each module imports nothing but the sandbox ABI (no WASI, no `env`, no wasm-bindgen): the host links
# only fabric:chaincode/*, so anything else would fail at upload.
mapfile -t modules < "$ROOT/target/guest-modules.txt"

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
