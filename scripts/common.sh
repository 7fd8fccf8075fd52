# Shared by the scripts: idempotent installs from Debian's packages, nothing downloaded from elsewhere.
# Source it; it changes to the repository root.

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# apt_ensure PKG...: installs the packages that are not installed yet (root or sudo), waiting for apt's lock.
apt_ensure() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "installing Debian packages: ${missing[*]}" >&2
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    local lock=(-o DPkg::Lock::Timeout=600)
    "${sudo[@]}" apt-get "${lock[@]}" update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get "${lock[@]}" install -y -qq "${missing[@]}"
}

# ensure_cargo: the machine's Rust (rustup) when present; otherwise Debian's rustc-web/cargo-web (Rust 1.96).
ensure_cargo() {
    [ -d "$HOME/.cargo/bin" ] && export PATH="$HOME/.cargo/bin:$PATH"
    command -v cargo >/dev/null && return 0
    apt_ensure rustc-web cargo-web gcc libc6-dev
}

# ensure_node: Node >= 18 and npm, from Debian when the machine has none.
ensure_node() {
    command -v node >/dev/null && command -v npm >/dev/null && return 0
    apt_ensure nodejs npm
}

# ensure_postgres: Debian's PostgreSQL server (the tests start temporary clusters of it: testkit/src/postgres.rs).
ensure_postgres() {
    compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null && return 0
    apt_ensure postgresql
    compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null ||
        { echo "PostgreSQL's server could not be installed (apt package postgresql): the tests need it" >&2; return 1; }
}

# warn_low_disk GB: warns when the disk that holds the build has less than GB gigabytes free. A build that runs out
# of space fails deep inside cargo or a test ("No space left on device"), far from the cause.
warn_low_disk() {
    local dir="${CARGO_TARGET_DIR:-target}"
    [ -d "$dir" ] || dir=.
    local free_kb
    free_kb=$(df -Pk "$dir" | awk 'NR == 2 { print $4 }')
    [ -n "$free_kb" ] && [ "$free_kb" -lt $(($1 * 1024 * 1024)) ] || return 0
    echo "warning: $((free_kb / 1024)) MB free on the disk that holds $dir; a run from a clean clone needs about $1 GB" >&2
}
