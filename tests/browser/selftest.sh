#!/usr/bin/env bash
# Checks the checker: fixtures/ok.html must pass, and each broken fixture must fail with the
# problem it was made for. Runs setup.sh first (same environment). Ends with 'N passed, N failed'.
set -uo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
env_lines="$(bash "$here/setup.sh")" || { echo "browser selftest: setup.sh failed" >&2; exit 1; }
NODE="$(sed -n 's/^NODE=//p' <<<"$env_lines")"
CHECK="$(sed -n 's/^CHECK=//p' <<<"$env_lines")"
fx="$here/fixtures"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

passed=0
failed=0
# expect_pass FILE [ARGS...]
expect_pass() {
    local f="$1"
    shift
    if "$NODE" "$CHECK" "$fx/$f" "$@" >"$out/stdout" 2>"$out/stderr"; then
        passed=$((passed + 1))
        echo "ok   $f: $(cat "$out/stdout")"
    else
        failed=$((failed + 1))
        echo "FAIL $f should pass:"
        cat "$out/stderr"
    fi
}
# expect_fail FILE NEEDLE: exit 1, and NEEDLE in the message
expect_fail() {
    local f="$1" needle="$2" rc=0
    "$NODE" "$CHECK" "$fx/$f" >"$out/stdout" 2>"$out/stderr" || rc=$?
    if [ "$rc" -eq 1 ] && grep -qF -- "$needle" "$out/stderr"; then
        passed=$((passed + 1))
        echo "ok   $f fails: $(grep -F -- "$needle" "$out/stderr" | head -1 | sed 's/^ *- //')"
    else
        failed=$((failed + 1))
        echo "FAIL $f should fail (exit 1) with '$needle'; exit $rc:"
        cat "$out/stdout" "$out/stderr"
    fi
}

expect_pass ok.html --min-svgs 1 --expect-text "Self-contained page" --expect-text "bars <ok>" \
    --screenshot "$out/ok.png"
if [ -s "$out/ok.png" ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL no screenshot"; fi
expect_fail console_error.html "console.error: x"
expect_fail external_request.html "request to http://example.invalid/x.png"
expect_fail page_error.html "page error: boom"
expect_fail empty_svg.html "is not laid out"
rc=0
"$NODE" "$CHECK" "$fx/ok.html" --expect-text "not on the page" >/dev/null 2>"$out/stderr" || rc=$?
if [ "$rc" -eq 1 ] && grep -qF 'text not found on the page: "not on the page"' "$out/stderr"; then
    passed=$((passed + 1))
    echo "ok   ok.html fails on a missing --expect-text"
else
    failed=$((failed + 1))
    echo "FAIL missing --expect-text not reported (exit $rc)"
    cat "$out/stderr"
fi

echo "browser: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
