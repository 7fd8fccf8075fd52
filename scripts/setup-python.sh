#!/usr/bin/env bash
# Creates the Python virtual environment target/python (idempotent) with kubernetes-validate, which
# host/tests/flows/deploy.rs runs on deploy/kubernetes/*.yaml: the Kubernetes OpenAPI schemas ship inside the
# package, so the check needs no cluster and no network once installed. PyYAML comes with it (the test loads the
# manifests as JSON through it).
#
# Idempotent: a venv that already has the pinned version is left alone. Fails (non-zero, a message on stderr) when
# the venv cannot be made or the package cannot be installed: the flow test refuses to run without it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

venv="$PWD/target/python"
version=1.37.0   # kubernetes-validate; its schemas go up to Kubernetes 1.37 (the test pins --kubernetes-version)

fail() { echo "setup-python.sh: $*" >&2; exit 1; }

# A machine without Python gets Debian's (bookworm: 3.11), with the venv module and pip it lacks by default.
command -v python3 >/dev/null || apt_ensure python3 python3-venv
command -v python3 >/dev/null || fail "python3 not found (Python >= 3.9 with the venv module required)"
python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)' ||
    fail "Python >= 3.9 required, found $(python3 --version 2>&1)"

installed() {
    [[ -x "$venv/bin/kubernetes-validate" ]] &&
        [[ "$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("kubernetes-validate"))' \
            2>/dev/null)" == "$version" ]] &&
        "$venv/bin/python" -c 'import yaml' 2>/dev/null
}

if installed; then
    exit 0
fi

if [[ ! -x "$venv/bin/python" ]]; then
    # Debian's python3 lacks ensurepip until python3-venv is installed.
    if ! python3 -c 'import ensurepip' 2>/dev/null && command -v dpkg-query >/dev/null; then
        apt_ensure python3-venv
    fi
    python3 -m venv "$venv" ||
        { rm -rf "$venv"; fail "python3 -m venv $venv failed (on Debian: apt-get install python3-venv)"; }
fi
"$venv/bin/python" -m pip install --disable-pip-version-check --quiet "kubernetes-validate==$version" ||
    fail "pip install kubernetes-validate==$version into $venv failed"
installed || fail "kubernetes-validate $version (with PyYAML) is not usable in $venv after installing it"
echo "setup-python.sh: kubernetes-validate $version in $venv" >&2
