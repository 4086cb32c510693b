#!/usr/bin/env bash
# Runs the MCP conformance suite's server scenarios against a running streamable-HTTP server,
# with expected-failures.yml as the baseline.
#
# Usage: run.sh URL [more options of `conformance server`, e.g. --scenario ping, --verbose]
#   URL   e.g. http://127.0.0.1:8765/mcp (the DNS-rebinding scenario needs a localhost URL)
#
# Installs what it needs first (setup.sh; its environment variables apply). Writes each
# scenario's checks.json under $MAHAVISHNU_CONFORMANCE_RESULTS (default: a new temporary
# folder, printed).
#
# Exit code (the suite's): 0 when every scenario passed except those listed in the baseline,
# and each of those failed; 1 on a failure not in the baseline, or on a baseline entry that now
# passes (a stale entry: remove it).
set -euo pipefail

[ $# -ge 1 ] || { echo "usage: $0 URL [conformance server options]" >&2; exit 2; }
url="$1"
shift
here="$(cd "$(dirname "$0")" && pwd)"

paths="$("$here/setup.sh")"
node="$(sed -n 's/^NODE=//p' <<<"$paths")"
entry="$(sed -n 's/^CONFORMANCE=//p' <<<"$paths")"
results="${MAHAVISHNU_CONFORMANCE_RESULTS:-$(mktemp -d "${TMPDIR:-/tmp}/mahavishnu-dr-conformance.XXXXXX")}"
mkdir -p "$results"

cmd=("$node" "$entry" server --url "$url" --expected-failures "$here/expected-failures.yml"
    -o "$results" "$@")
echo "conformance: results in $results"
echo "conformance: ${cmd[*]}"
# The suite writes nothing but its results folder; run it there all the same.
status=0
(cd "$results" && "${cmd[@]}") || status=$?
# The suite prints only counts; say why each scenario failed.
"$node" "$here/summarize.mjs" "$results" "$here/expected-failures.yml" "$entry" || true
echo "conformance: exit code $status"
exit "$status"
