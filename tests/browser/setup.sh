#!/usr/bin/env bash
# Installs the pinned npm dependency of check_html.mjs (playwright-core, which has no dependencies
# of its own and downloads no browser) into a cache folder, with the machine's node and npm.
# The browser is Debian's Chromium (package `chromium`, /usr/bin/chromium), installed apart.
# Needs node >= 20, npm and the npm registry; no root.
#
# Idempotent: a second run with the same version installs nothing. Concurrent runs wait on a lock.
#
# Environment (all optional):
#   MAHAVISHNU_BROWSER_CACHE   cache folder (default: $HOME/.cache/mahavishnu-dr-browser); give
#                              check_html.mjs the same value, it looks there for playwright-core
#   MAHAVISHNU_NODE            the node binary (default: node on PATH)
#
# Progress goes to stderr. Standard output is exactly two lines, for scripts to read:
#   NODE=<absolute path of the node binary>
#   CHECK=<absolute path of check_html.mjs, run as: $NODE $CHECK FILE.html [options]>
set -euo pipefail

PLAYWRIGHT_CORE_VERSION=1.65.1   # npm package playwright-core (engines: node >= 20)

here="$(cd "$(dirname "$0")" && pwd)"
cache="${MAHAVISHNU_BROWSER_CACHE:-$HOME/.cache/mahavishnu-dr-browser}"
log() { echo "browser setup: $*" >&2; }

node="${MAHAVISHNU_NODE:-$(command -v node || true)}"
[ -n "$node" ] && [ -x "$node" ] || { log "node not found (install nodejs, or set MAHAVISHNU_NODE)"; exit 1; }
node="$(cd "$(dirname "$node")" && pwd)/$(basename "$node")"
major="$("$node" -p 'process.versions.node.split(".")[0]')"
[ "$major" -ge 20 ] || { log "$node is Node $major; playwright-core needs >= 20"; exit 1; }
command -v npm >/dev/null || { log "npm not found on PATH"; exit 1; }

mkdir -p "$cache"
cache="$(cd "$cache" && pwd)"
# One installer at a time (tests may call this concurrently); the others wait, then find it done.
if command -v flock >/dev/null; then
    exec 9>"$cache/.lock"
    flock 9
fi

deps="$cache/node"
pkg="$deps/node_modules/playwright-core"
installed="$("$node" -p "require('$pkg/package.json').version" 2>/dev/null || true)"
if [ "$installed" != "$PLAYWRIGHT_CORE_VERSION" ] || [ ! -f "$pkg/index.js" ]; then
    log "installing playwright-core@$PLAYWRIGHT_CORE_VERSION into $deps"
    rm -rf "$deps"
    mkdir -p "$deps"
    # A package.json of our own, so npm installs here and not in some parent folder's project.
    echo '{ "name": "mahavishnu-dr-browser-deps", "private": true }' >"$deps/package.json"
    PATH="$(dirname "$node"):$PATH" npm install --prefix "$deps" --no-audit --no-fund \
        --no-update-notifier --loglevel=error --save-exact \
        "playwright-core@$PLAYWRIGHT_CORE_VERSION" >&2
    installed="$("$node" -p "require('$pkg/package.json').version")"
    [ "$installed" = "$PLAYWRIGHT_CORE_VERSION" ] || { log "install failed: found $installed"; exit 1; }
else
    log "playwright-core@$PLAYWRIGHT_CORE_VERSION already in $deps"
fi
"$node" -e "require('$pkg').chromium.executablePath" >/dev/null 2>&1 ||
    { log "playwright-core does not load with $node"; exit 1; }

chromium="${MAHAVISHNU_CHROMIUM:-/usr/bin/chromium}"
[ -x "$chromium" ] || log "warning: no browser at $chromium (Debian: apt-get install chromium)"

echo "NODE=$node"
echo "CHECK=$here/check_html.mjs"
