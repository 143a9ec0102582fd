#!/usr/bin/env bash
# Runs the C session and event tests (tests/c/test_sessions.c, tests/c/test_events.c) unchanged against a remote
# client: each test case gets a fresh `tandem-server` (loopback, port 0, a throwaway store, the gateway token in a
# file), and TANDEM_TEST_REMOTE_URL + TANDEM_TEST_REMOTE_TOKEN_FILE make the tests' TEST_CONFIG (tests/c/helpers.h) a
# remote client of it. Test cases that need what a remote client documents as not supported (docs/remote.md,
# "Remote clients") print a SKIP line.
#
# Usage: scripts/test-c-remote.sh            TEST_FILTER=substring runs only matching test cases; VERBOSE=1 prints
#                                            every test case line
# Output: one line per test program, failure details, then "N passed, M failed, K skipped"; non-zero on failure.
set -u -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 2
BUILD="$ROOT/target/c-remote-tests"
LIBDIR="$ROOT/target/debug"
SERVER="$LIBDIR/tandem-server"
TESTS=(test_sessions test_events)

echo "== cargo build (library and tandem-server)"
if ! cargo build --lib --bin tandem-server 2>&1 | tail -n 3; then
    echo "cargo build failed"
    exit 1
fi
mkdir -p "$BUILD"
CFLAGS=(-std=c11 -Wall -Wextra -Wpedantic -Werror -g -Iinclude -Itests/c)
LDFLAGS=(-L"$LIBDIR" -ltandem -Wl,-rpath,"$LIBDIR" -pthread)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tandem-c-remote.XXXXXX")
server_pid=""
stop_server() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
        server_pid=""
    fi
}
cleanup() {
    stop_server
    rm -rf "$WORK"
}
trap cleanup EXIT

# Starts a tandem-server on a fresh store and sets URL to the address it prints.
start_server() {
    local dir="$WORK/server-$1"
    mkdir -p "$dir/store"
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/token"
    TOKEN_FILE="$dir/token"
    : >"$dir/out"
    "$SERVER" --store-dir "$dir/store" --listen 127.0.0.1:0 --gateway-token-file "$TOKEN_FILE" \
        >"$dir/out" 2>"$dir/err" &
    server_pid=$!
    URL=""
    for _ in $(seq 1 200); do
        URL=$(sed -n 's/^listening on //p' "$dir/out" | head -n 1)
        [ -n "$URL" ] && return 0
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.05
    done
    echo "tandem-server did not start:"
    sed 's/^/    /' "$dir/err"
    return 1
}

passed=0
failed=0
skipped=0
problems=()
n=0
for t in "${TESTS[@]}"; do
    if ! gcc "${CFLAGS[@]}" "tests/c/$t.c" -o "$BUILD/$t" "${LDFLAGS[@]}" >"$BUILD/$t.build.log" 2>&1; then
        echo "FAIL $t: does not build"
        sed 's/^/    /' "$BUILD/$t.build.log" | head -n 40
        failed=$((failed + 1))
        problems+=("$t: build")
        continue
    fi
    t_passed=0 t_failed=0 t_skipped=0
    for case in $(grep -o 'RUN(test_[A-Za-z0-9_]*)' "tests/c/$t.c" | sed 's/RUN(\(.*\))/\1/'); do
        if [ -n "${TEST_FILTER:-}" ] && [[ $case != *"$TEST_FILTER"* ]]; then
            continue
        fi
        n=$((n + 1))
        log="$BUILD/$t.$case.log"
        if ! start_server "$n"; then
            t_failed=$((t_failed + 1))
            problems+=("$t $case: server")
            continue
        fi
        TANDEM_TEST_REMOTE_URL="$URL" TANDEM_TEST_REMOTE_TOKEN_FILE="$TOKEN_FILE" \
            timeout 300 "$BUILD/$t" "$case" >"$log" 2>&1
        rc=$?
        stop_server
        # The case named, and any whose name contains it, ran: count them all.
        p=$(grep -c '^ok ' "$log")
        f=$(grep -c '^FAIL ' "$log")
        s=$(grep -c '^SKIP ' "$log")
        t_passed=$((t_passed + p)) t_failed=$((t_failed + f)) t_skipped=$((t_skipped + s))
        [ "${VERBOSE:-}" = 1 ] && grep -E '^(ok|FAIL|SKIP) ' "$log"
        grep '^SKIP ' "$log"
        if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
            # Crashed, hung or failed outside a test case.
            t_failed=$((t_failed + 1))
            echo "FAIL $t $case: exit status $rc"
            tail -n 40 "$log" | sed 's/^/    /'
            problems+=("$t $case: exit $rc")
        elif [ "$f" -gt 0 ]; then
            grep -E '^FAIL |^  ' "$log" | head -n 60 | sed 's/^/    /'
            problems+=("$t $case")
        fi
    done
    echo "$t (remote): $t_passed passed, $t_failed failed, $t_skipped skipped"
    passed=$((passed + t_passed)) failed=$((failed + t_failed)) skipped=$((skipped + t_skipped))
done

echo "$passed passed, $failed failed, $skipped skipped"
if [ "$failed" -gt 0 ]; then
    printf 'failed: %s\n' "${problems[@]}"
    exit 1
fi
