#!/usr/bin/env bash
# Tests the Swift binding (bindings/swift): `swift build` and `swift test` against this checkout's header and debug
# library. Without a Swift toolchain it says "skipped: no swift toolchain" and exits 0 (scripts/test-all.sh marks
# the step skipped); it never pretends to have run.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/bindings-env.sh
. scripts/bindings-env.sh

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
