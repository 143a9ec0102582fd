#!/usr/bin/env bash
# Tests the Swift binding (bindings/swift): `swift build` and `swift test` against this checkout's header and debug
# library. First, with or without Swift, it checks that the Swift sources wrap every function of include/tandem.h.
# Without a Swift toolchain it then says "skipped: no swift toolchain" and exits 0 (scripts/test-all.sh marks the
# step skipped); it never pretends to have run.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/bindings-env.sh
. scripts/bindings-env.sh

# Every function of the C API must be wrapped. This runs without a toolchain: a function of include/tandem.h that the
# code of Sources/Tandem (its comments do not count) never names fails here, so API growth is caught.
echo "== coverage: every tandem.h function appears in bindings/swift/Sources/Tandem"
api=$(sed -nE 's/^[a-z_].* \**(tandem_[a-z0-9_]+)\(.*/\1/p' include/tandem.h | sort -u)
[ "$(wc -l <<<"$api")" -gt 50 ] || fail "found too few functions in include/tandem.h; the coverage check is broken"
code=$(cat bindings/swift/Sources/Tandem/*.swift | grep -vE '^\s*//')
missing=$(for f in $api; do grep -qE "\b$f\b" <<<"$code" || echo "$f"; done)
[ -z "$missing" ] || fail "the Swift binding does not wrap: $(echo $missing)"
echo "$(wc -l <<<"$api") functions covered"

if ! command -v swift >/dev/null; then
    echo "skipped: no swift toolchain"
    exit 0
fi
cargo_build
swift --version 2>&1 | head -n 1
export RUST_BACKTRACE=0
cd bindings/swift
# Point the CTandem system library at the checkout instead of an installed tandem.pc.
flags=(-Xcc "-I$ROOT/include" -Xlinker "-L$LIBDIR" -Xlinker -rpath -Xlinker "$LIBDIR"
       --scratch-path "$ROOT/target/bindings/swift-build")
echo "== swift build"
swift build "${flags[@]}"
echo "== swift test"
LD_LIBRARY_PATH="$LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" DYLD_LIBRARY_PATH="$LIBDIR" swift test "${flags[@]}"
echo "swift binding: all checks passed"
