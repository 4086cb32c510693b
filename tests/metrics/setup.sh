#!/usr/bin/env bash
# Creates a virtualenv with prometheus_client from PyPI (the Prometheus project's own Python
# client, whose text-format parser the metrics tests read our output with), through
# tests/pyvenv.sh (idempotent; prints PYTHON=<the venv's python>).
#
# Environment (optional):
#   MAHAVISHNU_PROM_VENV   the venv folder (default: $HOME/.cache/mahavishnu-dr-prometheus-client)
set -euo pipefail
exec bash "$(dirname "$0")/../pyvenv.sh" \
    "${MAHAVISHNU_PROM_VENV:-$HOME/.cache/mahavishnu-dr-prometheus-client}" \
    "prometheus_client==0.26.0" "prometheus_client.parser"
