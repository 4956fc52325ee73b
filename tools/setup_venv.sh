#!/usr/bin/env bash
# Create (once) the Python environment crbench needs and link it as ./.venv.
#
# The environment is ~6 GB and takes about two minutes to build, so it lives in a
# user cache directory keyed by a hash of the pinned requirement files: every
# checkout with the same pins shares it, and a changed pin builds a new one.
# A build that was interrupted has no completion marker and is rebuilt from scratch.
# On a machine that has never seen crbench this does the whole set-up.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
key=$(cat requirements/runtime.txt requirements/tests.txt | sha256sum | cut -c1-16)
cache_root=${CRBENCH_VENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/crbench}
venv="$cache_root/venv-$key"
if [ ! -f "$venv/.crbench-complete" ]; then
    echo "[crbench] building the Python environment in $venv (first use only, about 2 minutes)"
    rm -rf "$venv"
    mkdir -p "$cache_root"
    "$PYTHON" -m venv "$venv"
    "$venv/bin/pip" install --quiet --upgrade "pip>=24" "setuptools>=69" wheel
    "$venv/bin/pip" install --quiet -r requirements/runtime.txt -r requirements/tests.txt
    touch "$venv/.crbench-complete"
fi
ln -sfn "$venv" .venv
# Editable install of this checkout (fast, no dependencies): gives the `crbench`
# command and makes `import crbench` resolve to this working tree.
log=$(mktemp)
.venv/bin/pip install --quiet --no-deps --no-build-isolation -e . >"$log" 2>&1 || { cat "$log"; exit 1; }
rm -f "$log"
