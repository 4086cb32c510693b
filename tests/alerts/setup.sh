#!/usr/bin/env bash
# Installs the SMTP server the alert tests send to, on loopback: aiosmtpd from PyPI, in a venv
# (tests/pyvenv.sh: idempotent; prints PYTHON=<the venv's python>).
#
# Environment (optional):
#   MAHAVISHNU_ALERTS_VENV   the venv folder (default: $HOME/.cache/mahavishnu-dr-aiosmtpd)
set -euo pipefail
exec bash "$(dirname "$0")/../pyvenv.sh" \
    "${MAHAVISHNU_ALERTS_VENV:-$HOME/.cache/mahavishnu-dr-aiosmtpd}" \
    "aiosmtpd==1.4.6" "aiosmtpd.controller"
