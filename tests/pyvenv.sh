#!/usr/bin/env bash
# A Python package from PyPI in a venv of its own, for the tests' real peers (the alert tests'
# SMTP server, the metrics tests' Prometheus parser). Needs python3 with its venv module, and
# PyPI; no root. Used by tests/alerts/setup.sh and tests/metrics/setup.sh.
#
#   pyvenv.sh VENV_DIR PACKAGE==VERSION IMPORT_CHECK
#
# Idempotent: a second run with the same version installs nothing. One installer at a time
# (tests may call it concurrently); the others wait on the lock, then find it done.
# Progress goes to stderr. Standard output is exactly one line, for the tests to read:
#   PYTHON=<absolute path of the venv's python, which imports IMPORT_CHECK>
set -euo pipefail

venv="$1"
requirement="$2"
module="$3"
log() { echo "$requirement setup: $*" >&2; }
command -v python3 >/dev/null || { log "python3 not found on PATH"; exit 1; }

mkdir -p "$(dirname "$venv")"
venv="$(cd "$(dirname "$venv")" && pwd)/$(basename "$venv")"
if command -v flock >/dev/null; then
    exec 9>"$venv.lock"
    flock 9
fi

python="$venv/bin/python"
stamp="$venv/.installed-${requirement//[^A-Za-z0-9._-]/_}"
if [ -x "$python" ] && [ -f "$stamp" ] && "$python" -c "import $module" 2>/dev/null; then
    log "already in $venv"
else
    log "installing into $venv"
    rm -rf "$venv"
    if ! python3 -m venv "$venv" >&2; then
        log "'python3 -m venv' failed; on Debian install the python3-venv package"
        exit 1
    fi
    "$python" -m pip install --quiet --disable-pip-version-check "$requirement" >&2
    "$python" -c "import $module" || { log "$module does not import"; exit 1; }
    touch "$stamp"
fi
echo "PYTHON=$python"
