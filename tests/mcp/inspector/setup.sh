#!/usr/bin/env bash
# Installs the MCP Inspector (@modelcontextprotocol/inspector, whose CLI lints tool schemas for
# portability with --strict) into the conformance suite's cache folder, on the Node 22 that
# tests/mcp/conformance/setup.sh installs there (the Inspector needs Node >= 22.19).
# Needs only npm (any version) and the npm registry; no root.
#
# Idempotent: a second run with the same versions installs nothing. Concurrent runs wait on a lock.
#
# Environment (all optional): those of tests/mcp/conformance/setup.sh
#   (MAHAVISHNU_CONFORMANCE_CACHE, MAHAVISHNU_CONFORMANCE_NODE).
#
# Progress goes to stderr. Standard output is exactly two lines, for scripts to read:
#   NODE=<absolute path of the node binary>
#   INSPECTOR=<absolute path of the Inspector's launcher, run as:
#             $NODE $INSPECTOR --cli [--cwd DIR] COMMAND ARGS... --method tools/list --strict>
set -euo pipefail

INSPECTOR_VERSION=2.12.0      # npm package @modelcontextprotocol/inspector

here="$(cd "$(dirname "$0")" && pwd)"
log() { echo "inspector setup: $*" >&2; }

paths="$(bash "$here/../conformance/setup.sh")"
node="$(sed -n 's/^NODE=//p' <<<"$paths")"
[ -x "$node" ] || { log "conformance setup gave no node"; exit 1; }

cache="${MAHAVISHNU_CONFORMANCE_CACHE:-$HOME/.cache/mahavishnu-dr-conformance}"
cache="$(cd "$cache" && pwd)"
if command -v flock >/dev/null; then
    exec 9>"$cache/.inspector.lock"
    flock 9
fi

dir="$cache/inspector-$INSPECTOR_VERSION"
pkg="$dir/node_modules/@modelcontextprotocol/inspector"
entry="$pkg/clients/launcher/build/index.js"
installed="$("$node" -p "require('$pkg/package.json').version" 2>/dev/null || true)"
if [ "$installed" != "$INSPECTOR_VERSION" ] || [ ! -f "$entry" ]; then
    log "installing @modelcontextprotocol/inspector@$INSPECTOR_VERSION into $dir"
    rm -rf "$dir"
    mkdir -p "$dir"
    # A package.json of our own, so npm installs here and not in some parent folder's project.
    echo '{ "name": "mahavishnu-dr-inspector", "private": true }' >"$dir/package.json"
    # npm runs under Node 22, so engine checks and install scripts see the right Node.
    PATH="$(dirname "$node"):$PATH" npm install --prefix "$dir" --no-audit --no-fund \
        --no-update-notifier --loglevel=error --save-exact \
        "@modelcontextprotocol/inspector@$INSPECTOR_VERSION" >&2
else
    log "@modelcontextprotocol/inspector@$INSPECTOR_VERSION already in $dir"
fi
"$node" "$entry" --cli --version >/dev/null || { log "the Inspector does not start: $node $entry"; exit 1; }

echo "NODE=$node"
echo "INSPECTOR=$entry"
