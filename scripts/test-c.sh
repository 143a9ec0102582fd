#!/usr/bin/env bash
# Builds libtandem and runs the C test suite (tests/c/) three ways, plus the header check:
#   plain     gcc -std=c11 -Wall -Wextra -Wpedantic -Werror
#   asan      the same with -fsanitize=address,undefined (LeakSanitizer on; the Rust library is not instrumented,
#             but its allocations go through the intercepted malloc, so its leaks are reported too)
#   valgrind  the plain binaries under memcheck: zero errors, zero definite leaks
#   header    tests/c/header_check.sh (C99/C11/C++17 compile, nm -D == prototypes, bad-input coverage)
# and, only when asked for, a fourth way:
#   tsan      ThreadSanitizer over the C tests and the C++ binding's tests, with the library and its standard
#             library instrumented too (RUSTFLAGS=-Zsanitizer=thread, cargo -Zbuild-std, RUSTC_BOOTSTRAP=1 so the
#             stable toolchain accepts both; needs the rust-src component, added with rustup when missing). Built
#             into target/tsan/, so it never disturbs the plain build. Any data race report fails the run.
#
# Usage: scripts/test-c.sh [plain] [asan] [valgrind] [header] [tsan]  (default: all but tsan)
#   TEST_FILTER=substring   run only the test cases whose name contains it
#   VERBOSE=1               print every test case line, not only failures
# Output: one line per test program and mode, failure details, and finally "N passed, M failed" (test cases and
# header checks); exits non-zero on any failure. Binaries and logs go to target/c-tests/.
set -u -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 2
BUILD="$ROOT/target/c-tests"
LIBDIR="$ROOT/target/debug"
TESTS=(test_client test_sessions test_subagents test_events test_bad_input test_store test_host_provider test_threads test_mcp test_governance test_hooks)
MODES=("$@")
[ ${#MODES[@]} -eq 0 ] && MODES=(plain asan valgrind header)
for m in "${MODES[@]}"; do
    case $m in plain | asan | valgrind | header | tsan) ;; *) echo "unknown mode: $m (plain, asan, valgrind, header, tsan)" >&2; exit 2 ;; esac
done
want() { local m; for m in "${MODES[@]}"; do [ "$m" = "$1" ] && return 0; done; return 1; }

total_passed=0
total_failed=0
problems=()
t_start=$(date +%s)

note_failure() { # what, count
    total_failed=$((total_failed + $2))
    problems+=("$1")
}

# Shows the interesting part of a log: failed checks and their diagnostics (indented lines), sanitizer and valgrind
# reports; the scripted panics' one-line reports are expected noise. A run without a summary line crashed or hung:
# then the end of the log is what matters.
show_failure_log() {
    if grep -qE '^[0-9]+ passed, [0-9]+ failed$' "$1"; then
        grep -E '^  |^FAIL |==[0-9]+==|runtime error|Sanitizer' "$1" | head -n 150 | sed 's/^/    /'
    else
        tail -n 60 "$1" | sed 's/^/    /'
    fi
}

# ---- build the library ------------------------------------------------------------------------------------------
echo "== cargo build"
if ! cargo build 2>&1 | tail -n 3; then
    echo "cargo build failed"
    exit 1
fi
if [ ! -f "$LIBDIR/libtandem.so" ]; then
    echo "missing $LIBDIR/libtandem.so after cargo build"
    exit 1
fi

# ---- the ThreadSanitizer build of the library ------------------------------------------------------------------
# TSan needs every memory access and synchronization instrumented, std's included (an uninstrumented Arc or Mutex
# makes false reports), hence -Zbuild-std. cdylibs do not link the TSan runtime: the test executable provides it.
# gcc instruments the C side, but its libtsan (gcc 12) lacks entry points LLVM's instrumentation of the Rust side
# calls (__tsan_memcpy, __tsan_memset, __tsan_memmove), so the executables link the LLVM runtime rustc ships
# (librustc-*_rt.tsan.a) instead, exported (-rdynamic) so the library's calls reach its interceptors. No clang needed.
TSAN_TARGET=$(rustc -vV | sed -n 's/^host: //p')
TSAN_LIBDIR="$ROOT/target/tsan/$TSAN_TARGET/debug"
TSAN_RT=$(find "$(rustc --print sysroot)/lib/rustlib/$TSAN_TARGET/lib" -name 'librustc-*_rt.tsan.a' 2>/dev/null | head -n 1)
if want tsan; then
    echo "== cargo build (ThreadSanitizer, -Zbuild-std, $TSAN_TARGET)"
    sysroot=$(rustc --print sysroot)
    if [ ! -d "$sysroot/lib/rustlib/src/rust/library" ] && command -v rustup >/dev/null 2>&1; then
        rustup component add rust-src >/dev/null 2>&1 || true
    fi
    if ! RUSTC_BOOTSTRAP=1 RUSTFLAGS="-Zsanitizer=thread -Cforce-frame-pointers=yes" \
        cargo build -Zbuild-std --target "$TSAN_TARGET" --target-dir "$ROOT/target/tsan" 2>&1 | tail -n 3 ||
        [ ! -f "$TSAN_LIBDIR/libtandem.so" ]; then
        echo "the ThreadSanitizer build failed (is the rust-src component installed? rustup component add rust-src)"
        exit 1
    fi
    if [ -z "$TSAN_RT" ]; then
        echo "rustc's ThreadSanitizer runtime (librustc-*_rt.tsan.a) is not in its sysroot"
        exit 1
    fi
fi

# ---- valgrind availability -----------------------------------------------------------------------------------------
if want valgrind && ! command -v valgrind >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "== installing valgrind (apt-get)"
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind; } >/dev/null 2>&1
    fi
    if ! command -v valgrind >/dev/null 2>&1; then
        echo "valgrind is not installed (run as root to have this script apt-get install it, or install it yourself)"
        note_failure "valgrind: not installed" 1
    fi
fi

# ---- the environment every test run gets ---------------------------------------------------------------------------
TMP_HOME=$(mktemp -d "${TMPDIR:-/tmp}/tandem-c-tests.XXXXXX")
trap 'rm -rf "$TMP_HOME"' EXIT
export XDG_DATA_HOME="$TMP_HOME/xdg" # a client created with the default store_dir writes nowhere that matters
export RUST_BACKTRACE=0              # scripted panics are expected; keep their reports to one line each
export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

CFLAGS=(-std=c11 -Wall -Wextra -Wpedantic -Werror -g -Iinclude -Itests/c)
LDFLAGS=(-L"$LIBDIR" -ltandem -Wl,-rpath,"$LIBDIR" -pthread)
SAN=(-fsanitize=address,undefined -fno-omit-frame-pointer)
TSAN_FLAGS=(-fsanitize=thread -fno-omit-frame-pointer)
# The compile step instruments (-fsanitize=thread); the link step leaves it out, so gcc's libtsan is not linked.
TSAN_LDFLAGS=(-Wl,--whole-archive "$TSAN_RT" -Wl,--no-whole-archive -rdynamic -L"$TSAN_LIBDIR" -ltandem
    -Wl,-rpath,"$TSAN_LIBDIR" -lpthread -ldl -lm -lrt)
# second_deadlock_stack: lock-order reports show both stacks; exitcode 66 marks a run with reports.
export TSAN_OPTIONS="halt_on_error=0:second_deadlock_stack=1:exitcode=66:suppressions=$ROOT/scripts/tsan.supp"
VALGRIND=(valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=1 --show-leak-kinds=definite
    --num-callers=40 --fair-sched=yes --quiet)

build() { # mode -> builds every test program into $BUILD/<mode>/
    local mode=$1 out="$BUILD/$1" t flags=()
    mkdir -p "$out"
    [ "$mode" = asan ] && flags=("${SAN[@]}")
    for t in "${TESTS[@]}"; do
        if [ "$mode" = tsan ]; then
            # Compile and link separately: see TSAN_LDFLAGS.
            gcc "${CFLAGS[@]}" "${TSAN_FLAGS[@]}" -c "tests/c/$t.c" -o "$out/$t.o" >"$out/$t.build.log" 2>&1 &&
                gcc "$out/$t.o" -o "$out/$t" "${TSAN_LDFLAGS[@]}" >>"$out/$t.build.log" 2>&1
        else
            gcc "${CFLAGS[@]}" "${flags[@]}" "tests/c/$t.c" -o "$out/$t" "${LDFLAGS[@]}" >"$out/$t.build.log" 2>&1
        fi
        if [ $? -ne 0 ]; then
            echo "FAIL build $mode/$t"
            sed 's/^/    /' "$out/$t.build.log"
            note_failure "$mode/$t: does not compile" 1
            rm -f "$out/$t"
        fi
    done
}

run() { # mode test -> runs one program, accounts its summary line
    local mode=$1 t=$2 bin="$BUILD/$1/$2" log="$BUILD/$1/$2.log" limit=120 rc
    [ "$mode" = valgrind ] && bin="$BUILD/plain/$t" # memcheck runs the plain build
    [ -x "$bin" ] || return 0                       # did not compile: already reported
    mkdir -p "$BUILD/$mode"
    local cmd=("$bin")
    if [ "$mode" = valgrind ]; then
        cmd=("${VALGRIND[@]}" "$bin")
        limit=300
    fi
    [ "$mode" = tsan ] && limit=300
    [ -n "${TEST_FILTER:-}" ] && cmd+=("$TEST_FILTER")
    local t0=$SECONDS
    timeout -k 10 "$limit" "${cmd[@]}" >"$log" 2>&1
    rc=$?
    local summary
    summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
    local p=0 f=0
    if [ -n "$summary" ]; then
        p=${summary%% passed*}
        f=${summary#*, }
        f=${f%% failed}
    fi
    total_passed=$((total_passed + p))
    local why=""
    [ "$f" -gt 0 ] && why="$f failed"
    [ -z "$summary" ] && why="no summary line (crashed?)"
    [ $rc -eq 124 ] || [ $rc -eq 137 ] && why="timed out after ${limit}s${why:+; $why}"
    [ -z "$why" ] && [ $rc -ne 0 ] && why="exit status $rc (sanitizer or valgrind report)"
    printf '%-9s %-18s %-22s %3ss%s\n' "$mode" "$t" "${summary:-no summary}" $((SECONDS - t0)) "${why:+  <- $why}"
    [ "${VERBOSE:-0}" = 1 ] && sed 's/^/    /' "$log"
    if [ -n "$why" ]; then
        local n=$f
        [ "$n" -eq 0 ] && n=1
        note_failure "$mode/$t: $why (log: ${log#"$ROOT"/})" "$n"
        [ "${VERBOSE:-0}" = 1 ] || show_failure_log "$log"
    fi
}

if want plain || want valgrind; then build plain; fi
if want asan; then build asan; fi
if want tsan; then build tsan; fi

for mode in plain asan valgrind tsan; do
    want "$mode" || continue
    [ "$mode" = valgrind ] && ! command -v valgrind >/dev/null 2>&1 && continue
    echo "== $mode"
    for t in "${TESTS[@]}"; do run "$mode" "$t"; done
done

# The C++ binding's tests (bindings/cpp) under TSan too: RAII wrappers that free from destructors on any thread.
if want tsan; then
    cpp_out="$BUILD/tsan/test_cpp"
    if ! { g++ -std=c++17 -Wall -Wextra -Werror -g -Iinclude -Ibindings/cpp "${TSAN_FLAGS[@]}" \
        -c bindings/cpp/tests/test_tandem.cpp -o "$cpp_out.o" &&
        g++ "$cpp_out.o" -o "$cpp_out" "${TSAN_LDFLAGS[@]}"; } >"$cpp_out.build.log" 2>&1; then
        echo "FAIL build tsan/test_cpp"
        sed 's/^/    /' "$cpp_out.build.log"
        note_failure "tsan/test_cpp: does not compile" 1
    else
        t0=$SECONDS
        timeout -k 10 300 "$cpp_out" >"$cpp_out.log" 2>&1
        rc=$?
        printf '%-9s %-16s %-22s %3ss%s\n' tsan test_cpp "exit status $rc" $((SECONDS - t0)) \
            "$([ $rc -ne 0 ] && echo "  <- failed or ThreadSanitizer reports")"
        if [ $rc -ne 0 ]; then
            note_failure "tsan/test_cpp: exit status $rc (log: ${cpp_out#"$ROOT"/}.log)" 1
            show_failure_log "$cpp_out.log"
        else
            total_passed=$((total_passed + 1))
        fi
    fi
fi

if want header; then
    echo "== header"
    hlog="$BUILD/header.log"
    mkdir -p "$BUILD/header"
    tests/c/header_check.sh "$BUILD/header" >"$hlog" 2>&1
    cat "$hlog"
    hsum=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$hlog" | tail -n 1)
    hp=${hsum%% passed*}
    hf=${hsum#*, }
    hf=${hf%% failed}
    total_passed=$((total_passed + ${hp:-0}))
    if [ -z "$hsum" ]; then
        note_failure "header check: no summary line" 1
    elif [ "${hf:-0}" -gt 0 ]; then
        note_failure "header check: $hf failed" "$hf"
    fi
fi

echo
if [ ${#problems[@]} -gt 0 ]; then
    echo "Failures:"
    printf '  %s\n' "${problems[@]}"
fi
echo "(took $(($(date +%s) - t_start)) s)"
echo "$total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ]
