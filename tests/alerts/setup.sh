#!/usr/bin/env bash
# Installs the SMTP server the alert tests send to, on loopback: aiosmtpd from PyPI, in a venv.
# Needs python3 with its venv module, and PyPI; no root.
#
# Idempotent: a second run with the same version installs nothing. One installer at a time
# (tests may call it concurrently); the others wait on the lock, then find it done.
#
# Environment (optional):
#   MAHAVISHNU_ALERTS_VENV   the venv folder (default: $HOME/.cache/mahavishnu-dr-aiosmtpd)
#
# Progress goes to stderr. Standard output is exactly one line, for the tests to read:
#   PYTHON=<absolute path of the venv's python, which imports aiosmtpd>
set -euo pipefail

AIOSMTPD_VERSION=1.4.6

venv="${MAHAVISHNU_ALERTS_VENV:-$HOME/.cache/mahavishnu-dr-aiosmtpd}"
log() { echo "aiosmtpd setup: $*" >&2; }
command -v python3 >/dev/null || { log "python3 not found on PATH"; exit 1; }

mkdir -p "$(dirname "$venv")"
if command -v flock >/dev/null; then
    exec 9>"$venv.lock"
    flock 9
fi

python="$venv/bin/python"
stamp="$venv/.installed-aiosmtpd-$AIOSMTPD_VERSION"
if [ -x "$python" ] && [ -f "$stamp" ] && "$python" -c 'import aiosmtpd.controller' 2>/dev/null; then
    log "aiosmtpd $AIOSMTPD_VERSION already in $venv"
else
    log "installing aiosmtpd==$AIOSMTPD_VERSION into $venv"
    rm -rf "$venv"
    if ! python3 -m venv "$venv" >&2; then
        log "'python3 -m venv' failed; on Debian install the python3-venv package"
        exit 1
    fi
    "$python" -m pip install --quiet --disable-pip-version-check "aiosmtpd==$AIOSMTPD_VERSION" >&2
    "$python" -c 'import aiosmtpd.controller' || { log "aiosmtpd does not import"; exit 1; }
    touch "$stamp"
fi
echo "PYTHON=$python"
