#!/usr/bin/env bash
# Creates a virtualenv with prometheus_client from PyPI (the Prometheus project's own Python
# client, whose text-format parser the metrics tests read our output with). Needs python3 with
# its venv module, and PyPI; no root.
#
# Idempotent: a second run with the same version installs nothing. One installer at a time
# (tests may call this concurrently); the others wait on the lock, then find it done.
#
# Environment (optional):
#   MAHAVISHNU_PROM_VENV   the venv folder (default: $HOME/.cache/mahavishnu-dr-prometheus-client)
#
# Progress goes to stderr. Standard output is exactly one line, for the tests to read:
#   PYTHON=<absolute path of the venv's python>
set -euo pipefail

PROMETHEUS_CLIENT_VERSION=0.26.0

venv="${MAHAVISHNU_PROM_VENV:-$HOME/.cache/mahavishnu-dr-prometheus-client}"
log() { echo "prometheus_client setup: $*" >&2; }
command -v python3 >/dev/null || { log "python3 not found on PATH"; exit 1; }

mkdir -p "$(dirname "$venv")"
if command -v flock >/dev/null; then
    exec 9>"$venv.lock"
    flock 9
fi

python="$venv/bin/python"
stamp="$venv/.installed-prometheus-client-$PROMETHEUS_CLIENT_VERSION"
if [ -f "$stamp" ] && "$python" -c 'import prometheus_client.parser' 2>/dev/null; then
    log "prometheus_client $PROMETHEUS_CLIENT_VERSION already in $venv"
else
    log "installing prometheus_client==$PROMETHEUS_CLIENT_VERSION into $venv"
    rm -rf "$venv"
    if ! python3 -m venv "$venv" >&2; then
        log "'python3 -m venv' failed; on Debian install the python3-venv package"
        exit 1
    fi
    "$python" -m pip install --quiet --disable-pip-version-check \
        "prometheus_client==$PROMETHEUS_CLIENT_VERSION" >&2
    "$python" -c 'import prometheus_client.parser'
    touch "$stamp"
fi

echo "PYTHON=$(cd "$(dirname "$python")" && pwd)/$(basename "$python")"
