#!/usr/bin/env bash
# Tests the Zig binding (bindings/zig): `zig build test` (the module's unit tests and the end-to-end session tests,
# under std.testing.allocator so leaks fail), `zig fmt --check`, and `zig build example` (examples/zig/quickstart.zig).
# First it checks that src/tandem.zig wraps every function of include/tandem.h.
# Zig comes from PyPI (the `ziglang` package, locked in tools/python/requirements.lock) into target/bindings/venv-<hash>, so this runs
# on a fresh machine; its caches go under target/bindings/ too.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/bindings-env.sh
. scripts/bindings-env.sh

# Every function of the C API must be wrapped: a function of include/tandem.h that src/tandem.zig's code (its
# comments do not count) never names fails here, so API growth is caught.
echo "== coverage: every tandem.h function appears in bindings/zig/src/tandem.zig"
api=$(sed -nE 's/^[a-z_].* \**(tandem_[a-z0-9_]+)\(.*/\1/p' include/tandem.h | sort -u)
[ "$(wc -l <<<"$api")" -gt 50 ] || fail "found too few functions in include/tandem.h; the coverage check is broken"
code=$(grep -vE '^\s*//' bindings/zig/src/tandem.zig)
missing=$(for f in $api; do grep -qE "\b$f\b" <<<"$code" || echo "$f"; done)
[ -z "$missing" ] || fail "src/tandem.zig does not wrap: $(echo $missing)"
echo "$(wc -l <<<"$api") functions covered"

cargo_build
python_venv
zig() { "$VENV/bin/python" -m ziglang "$@"; }
export ZIG_GLOBAL_CACHE_DIR="$ROOT/target/bindings/zig-global-cache" ZIG_LOCAL_CACHE_DIR="$ROOT/target/bindings/zig-cache"
# The scripted crash test panics on purpose; keep its report to one line.
export RUST_BACKTRACE=0
echo "zig $(zig version)"

cd bindings/zig
echo "== zig fmt --check"
zig fmt --check build.zig src tests ../../examples/zig

echo "== zig build test"
log="$ROOT/target/bindings/zig-test.log"
zig build test --summary all -Dtandem-lib="$LIBDIR" -Dtandem-include="$ROOT/include" >"$log" 2>&1 ||
    { cat "$log"; fail "zig build test failed"; }
grep -E "Build Summary|tests? passed|passed [0-9]" "$log"

echo "== zig build example (examples/zig/quickstart.zig)"
work=$(mktemp -d)
out=$(zig build example -Dtandem-lib="$LIBDIR" -Dtandem-include="$ROOT/include" -- "$work") ||
    fail "the Zig quickstart exited with status $?"
echo "$out"
grep -q "turn completed" <<<"$out" || fail "the Zig quickstart did not complete its turn"
[ "$(cat "$work/hello.txt")" = "hello from Zig" ] || fail "the Zig quickstart did not write hello.txt"
rm -rf "$work" zig-out
echo "zig binding: all checks passed"
