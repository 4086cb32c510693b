#!/usr/bin/env bash
# Installs the official MCP conformance suite (@modelcontextprotocol/conformance) and a Node.js
# new enough to run it (the suite needs Node >= 22; Debian's may be older) into a cache folder.
# Needs only npm (any version) and the npm registry; no root.
#
# Idempotent: a second run with the same versions installs nothing.
#
# Environment (all optional):
#   MAHAVISHNU_CONFORMANCE_CACHE   cache folder (default: $HOME/.cache/mahavishnu-dr-conformance)
#   MAHAVISHNU_CONFORMANCE_NODE    use this node binary (>= 22) instead of installing one
#
# Progress goes to stderr. Standard output is exactly two lines, for scripts to read:
#   NODE=<absolute path of the node binary>
#   CONFORMANCE=<absolute path of the suite's CLI entry point (a .js file run with NODE)>
set -euo pipefail

NODE_VERSION=22.23.3          # npm package node-linux-<arch>, which ships the official binary
CONFORMANCE_VERSION=0.1.16    # npm package @modelcontextprotocol/conformance

cache="${MAHAVISHNU_CONFORMANCE_CACHE:-$HOME/.cache/mahavishnu-dr-conformance}"
log() { echo "conformance setup: $*" >&2; }

command -v npm >/dev/null || { log "npm not found on PATH"; exit 1; }
mkdir -p "$cache"
cache="$(cd "$cache" && pwd)"
# One installer at a time (tests may call this concurrently); the others wait, then find it done.
if command -v flock >/dev/null; then
    exec 9>"$cache/.lock"
    flock 9
fi

npm_quiet=(--no-audit --no-fund --no-update-notifier --loglevel=error)

# 1. Node >= 22
if [ -n "${MAHAVISHNU_CONFORMANCE_NODE:-}" ]; then
    node="$MAHAVISHNU_CONFORMANCE_NODE"
    major="$("$node" -p 'process.versions.node.split(".")[0]')"
    [ "$major" -ge 22 ] || { log "$node is Node $major; the suite needs >= 22"; exit 1; }
else
    case "$(uname -m)" in
        x86_64 | amd64) arch=x64 ;;
        aarch64 | arm64) arch=arm64 ;;
        *) log "no node-linux package for $(uname -m); set MAHAVISHNU_CONFORMANCE_NODE"; exit 1 ;;
    esac
    node="$cache/node/node_modules/node-linux-$arch/bin/node"
    if [ "$("$node" --version 2>/dev/null || true)" != "v$NODE_VERSION" ]; then
        log "installing node-linux-$arch@$NODE_VERSION into $cache/node"
        rm -rf "$cache/node"
        mkdir -p "$cache/node"
        npm install --prefix "$cache/node" "${npm_quiet[@]}" "node-linux-$arch@$NODE_VERSION" >&2
        [ "$("$node" --version)" = "v$NODE_VERSION" ] || { log "node install failed"; exit 1; }
    else
        log "node v$NODE_VERSION already in $cache/node"
    fi
fi

# 2. The suite, installed by npm running under Node >= 22 (so engine checks and any install
#    scripts see the right Node).
suite_dir="$cache/suite-$CONFORMANCE_VERSION"
pkg="$suite_dir/node_modules/@modelcontextprotocol/conformance"
installed="$("$node" -p "require('$pkg/package.json').version" 2>/dev/null || true)"
if [ "$installed" != "$CONFORMANCE_VERSION" ] || [ ! -f "$pkg/dist/index.js" ]; then
    log "installing @modelcontextprotocol/conformance@$CONFORMANCE_VERSION into $suite_dir"
    rm -rf "$suite_dir"
    mkdir -p "$suite_dir"
    PATH="$(dirname "$node"):$PATH" npm install --prefix "$suite_dir" "${npm_quiet[@]}" \
        "@modelcontextprotocol/conformance@$CONFORMANCE_VERSION" >&2
else
    log "@modelcontextprotocol/conformance@$CONFORMANCE_VERSION already in $suite_dir"
fi
entry="$pkg/dist/index.js"
"$node" "$entry" --version >/dev/null || { log "the suite does not start: $node $entry"; exit 1; }

echo "NODE=$node"
echo "CONFORMANCE=$entry"
