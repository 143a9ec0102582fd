#!/usr/bin/env bash
# The kill -9 crash test: builds libtandem (debug, like scripts/test-c.sh) and tests/crash/crash_host.c, then runs
# tests/crash/kill9.py on a temporary store: at least 200 rounds of starting the host, letting turns stream, killing
# it with SIGKILL at a random moment and checking that every conversation opens and holds every turn whose
# turn_ended the host had seen.
#
# Then a failing-disk pass: the store on a 4 MiB tmpfs that kill9.py fills at random moments while turns stream
# (--fill-disk, 60 rounds): turns that could not be saved must end storage_error, and no turn acknowledged as
# completed may be lost. Mounting needs root; elsewhere that pass says it did not run.
#
# Usage: scripts/test-crash.sh [kill9.py options...]      e.g. --rounds 200, --seed 1234 (printed by every run)
#   KILL9_SEED=N, KILL9_ROUNDS=N   the same through the environment
# Output: kill9.py's rounds and its closing line "kill9: R rounds, N acknowledged turns checked, L lost"; exits
# non-zero on any loss. The binary goes to target/crash/; a failing run keeps its store and prints where.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
LIBDIR="$ROOT/target/debug"
OUT="$ROOT/target/crash"
t_start=$SECONDS

echo "== cargo build"
cargo build 2>&1 | tail -n 3
[ -f "$LIBDIR/libtandem.so" ] || { echo "missing $LIBDIR/libtandem.so after cargo build" >&2; exit 1; }

echo "== gcc tests/crash/crash_host.c"
mkdir -p "$OUT"
gcc -std=c11 -Wall -Wextra -Wpedantic -Werror -g -Iinclude -Itests/c tests/crash/crash_host.c -o "$OUT/crash_host" \
    -L"$LIBDIR" -ltandem -Wl,-rpath,"$LIBDIR" -pthread

echo "== kill9.py"
command -v python3 >/dev/null || { echo "python3 is missing (apt-get install python3)" >&2; exit 1; }
STORE_PARENT=$(mktemp -d "${TMPDIR:-/tmp}/tandem-crash.XXXXXX")
rc=0
python3 tests/crash/kill9.py --host "$OUT/crash_host" --lib-dir "$LIBDIR" --store "$STORE_PARENT/store" "$@" || rc=$?
if [ "$rc" = 0 ]; then
    rm -rf "$STORE_PARENT"
else
    echo "the store is kept at $STORE_PARENT/store for inspection" >&2
fi

if [ "$rc" = 0 ]; then
    echo "== kill9.py --fill-disk (store on a small tmpfs)"
    DISK=$(mktemp -d "${TMPDIR:-/tmp}/tandem-crash-disk.XXXXXX")
    if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=4m tmpfs "$DISK"; then
        python3 tests/crash/kill9.py --host "$OUT/crash_host" --lib-dir "$LIBDIR" --store "$DISK/store" \
            --fill-disk --rounds "${KILL9_FILL_ROUNDS:-60}" || rc=$?
        umount "$DISK" || true
    elif [ "$(id -u)" = 0 ]; then
        echo "cannot mount a tmpfs as root" >&2
        rc=1
    else
        echo "not run: mounting a small tmpfs for the store needs root"
    fi
    rmdir "$DISK" 2>/dev/null || true
fi
echo "(took $((SECONDS - t_start)) s)"
exit "$rc"
