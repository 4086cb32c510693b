#!/usr/bin/env bash
# Creates a virtualenv with the official MCP Python SDK (package `mcp`) and jsonschema, for
# sdk_client.py. Needs python3 (>= 3.10) with its venv module, and PyPI; no root.
#
# Idempotent: a second run with the same versions installs nothing.
#
# Environment (all optional):
#   MAHAVISHNU_PYVENV     the venv folder (default: $HOME/.cache/mahavishnu-dr-pyvenv)
#   MAHAVISHNU_PYTHON     the interpreter that creates the venv (default: python3)
#
# Progress goes to stderr. Standard output is exactly one line, for scripts to read:
#   PYTHON=<absolute path of the venv's python>
set -euo pipefail

MCP_VERSION=2.3.0
JSONSCHEMA_VERSION=4.26.0

venv="${MAHAVISHNU_PYVENV:-$HOME/.cache/mahavishnu-dr-pyvenv}"
base_python="${MAHAVISHNU_PYTHON:-python3}"
log() { echo "python setup: $*" >&2; }

here="$(cd "$(dirname "$0")" && pwd)"
constraints="$here/constraints.txt"   # exact versions of the dependencies too
want="mcp==$MCP_VERSION jsonschema==$JSONSCHEMA_VERSION $(cksum <"$constraints")"
python="$venv/bin/python"
stamp="$venv/.mahavishnu-dr-installed"

# One installer at a time (tests may call this concurrently); the others wait, then find it done.
mkdir -p "$(dirname "$venv")"
if command -v flock >/dev/null; then
    exec 9>"$venv.lock"
    flock 9
fi

if [ -x "$python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] &&
    "$python" -c 'import mcp.client.stdio, jsonschema' 2>/dev/null; then
    log "mcp==$MCP_VERSION jsonschema==$JSONSCHEMA_VERSION already in $venv"
else
    if ! [ -x "$python" ] || ! "$python" -c 'import sys' 2>/dev/null; then
        log "creating venv $venv with $("$base_python" --version 2>&1)"
        rm -rf "$venv"
        if ! "$base_python" -m venv "$venv" >&2; then
            log "'$base_python -m venv' failed; on Debian install the python3-venv package"
            exit 1
        fi
    fi
    log "installing mcp==$MCP_VERSION jsonschema==$JSONSCHEMA_VERSION (constraints: $constraints)"
    rm -f "$stamp"
    "$python" -m pip install --quiet --disable-pip-version-check -c "$constraints" \
        "mcp==$MCP_VERSION" "jsonschema==$JSONSCHEMA_VERSION" >&2
    "$python" -c 'import mcp.client.stdio, jsonschema'
    echo "$want" >"$stamp"
fi

echo "PYTHON=$(cd "$(dirname "$python")" && pwd)/$(basename "$python")"
