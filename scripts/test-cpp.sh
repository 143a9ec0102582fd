#!/usr/bin/env bash
# Tests the C++ binding (bindings/cpp/tandem.hpp): builds its test program with -std=c++17 -Wall -Wextra -Wpedantic
# -Werror twice, plain and under AddressSanitizer + UndefinedBehaviorSanitizer (leak checking on), runs both on real
# sessions, then builds and runs examples/cpp/quickstart.cpp. First it checks that tandem.hpp wraps every function of
# include/tandem.h. Needs a C++17 compiler (CXX, default c++).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/bindings-env.sh
. scripts/bindings-env.sh

# Every function of the C API must be wrapped: a function of include/tandem.h that tandem.hpp's code (its comments
# do not count) never names fails here, so API growth is caught.
echo "== coverage: every tandem.h function appears in bindings/cpp/tandem.hpp"
api=$(sed -nE 's/^[a-z_].* \**(tandem_[a-z0-9_]+)\(.*/\1/p' include/tandem.h | sort -u)
[ "$(wc -l <<<"$api")" -gt 50 ] || fail "found too few functions in include/tandem.h; the coverage check is broken"
code=$(grep -vE '^\s*//' bindings/cpp/tandem.hpp)  # comments do not count
missing=$(for f in $api; do grep -qE "\b$f\b" <<<"$code" || echo "$f"; done)
[ -z "$missing" ] || fail "tandem.hpp does not wrap: $(echo $missing)"
echo "$(wc -l <<<"$api") functions covered"

CXX=${CXX:-c++}
command -v "$CXX" >/dev/null || fail "no C++ compiler ($CXX); apt-get install g++"
cargo_build
out="$ROOT/target/bindings/cpp"
mkdir -p "$out"
flags=(-std=c++17 -Wall -Wextra -Wpedantic -Werror -g -Iinclude -Ibindings/cpp)
link=(-L"$LIBDIR" -ltandem -pthread -Wl,-rpath,"$LIBDIR")
# The scripted crash test panics on purpose; keep its report to one line.
export RUST_BACKTRACE=0

echo "== $CXX: tests, plain"
"$CXX" "${flags[@]}" bindings/cpp/tests/test_tandem.cpp -o "$out/test_plain" "${link[@]}"
"$out/test_plain" 2> "$out/test_plain.log" || { cat "$out/test_plain.log"; fail "C++ tests failed"; }

echo "== $CXX: tests, -fsanitize=address,undefined"
"$CXX" "${flags[@]}" -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all \
    bindings/cpp/tests/test_tandem.cpp -o "$out/test_asan" "${link[@]}"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 "$out/test_asan" 2> "$out/test_asan.log" ||
    { cat "$out/test_asan.log"; fail "C++ tests failed under ASan/UBSan"; }
! grep -qE 'Sanitizer|runtime error' "$out/test_asan.log" || { cat "$out/test_asan.log"; fail "sanitizer reports"; }

echo "== examples/cpp/quickstart.cpp"
"$CXX" "${flags[@]}" examples/cpp/quickstart.cpp -o "$out/quickstart" "${link[@]}"
work=$(mktemp -d)
result=$("$out/quickstart" "$work") || fail "quickstart exited with status $?"
echo "$result"
grep -q "turn completed" <<<"$result" || fail "the C++ quickstart did not complete its turn"
[ "$(cat "$work/hello.txt")" = "hello from C++" ] || fail "the C++ quickstart did not write hello.txt"
rm -rf "$work"
echo "c++ binding: all checks passed"
