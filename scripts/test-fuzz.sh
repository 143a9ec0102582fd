#!/usr/bin/env bash
# Builds the fuzz targets in fuzz/ (cargo-fuzz, libFuzzer, AddressSanitizer) and runs each for a short time, starting
# from its committed corpus (fuzz/corpus/<target>/): a regression run of every input kept so far, plus a little new
# exploration. Long runs are a local job: `FUZZ_SECONDS=600 scripts/test-fuzz.sh sse` (see RELIABILITY.md).
#
# Usage: scripts/test-fuzz.sh [target...]            (default: every target in fuzz/Cargo.toml)
#   FUZZ_SECONDS=n   seconds of fuzzing per target after the corpus replay (default 15)
#
# cargo-fuzz needs nightly compiler flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain accept them, so no nightly is
# needed. cargo-fuzz itself is installed (pinned) into target/tools when it is not on PATH. New inputs found by a run
# go to a scratch directory, never into the committed corpus; a crash fails the script and leaves its input in
# fuzz/artifacts/<target>/, to be turned into a regression test in the main crate.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

CARGO_FUZZ_VERSION=0.13.2
SECONDS_PER_TARGET=${FUZZ_SECONDS:-15}
export RUSTC_BOOTSTRAP=1

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    if [ ! -x target/tools/bin/cargo-fuzz ] ||
        [ "$(target/tools/bin/cargo-fuzz --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
        echo "== installing cargo-fuzz $CARGO_FUZZ_VERSION into target/tools"
        cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION" --root target/tools --quiet
    fi
    PATH="$ROOT/target/tools/bin:$PATH"
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^tandem-fuzz$')
fi

echo "== cargo fuzz build"
# Debug assertions on: overflow checks and debug_assert! are part of what the fuzzer checks.
cargo fuzz build --fuzz-dir fuzz --debug-assertions
# cargo fuzz has no --locked: the committed fuzz/Cargo.lock must be what built, so a resolution that changed it fails.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git diff --exit-code -- fuzz/Cargo.lock || { echo "fuzz/Cargo.lock changed during the build: commit a lock that builds" >&2; exit 1; }
fi

scratch=$(mktemp -d "${TMPDIR:-/tmp}/tandem-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
# The ABI targets create clients: their default store goes to the scratch directory, not ~/.local/share.
export XDG_DATA_HOME="$scratch/xdg"
export RUST_BACKTRACE=1
failed=()
for t in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$t" "$scratch/$t"
    echo "== $t: corpus of $(find "fuzz/corpus/$t" -type f | wc -l) inputs, then ${SECONDS_PER_TARGET}s"
    log="$scratch/$t.log"
    # -timeout: one input taking over 10 s is a hang; -rss_limit_mb: a runaway allocation is a finding.
    if cargo fuzz run --fuzz-dir fuzz --debug-assertions "$t" "$scratch/$t" "fuzz/corpus/$t" -- \
        -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=3072 -print_final_stats=1 >"$log" 2>&1; then
        grep -E '^stat::number_of_executed_units|^Done [0-9]+ runs' "$log" | tail -n 1 | sed 's/^/    /'
    else
        echo "FAIL $t"
        grep -vE '^#[0-9]+|^INFO:' "$log" | tail -n 60 | sed 's/^/    /'
        failed+=("$t")
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz targets failed: ${failed[*]} (inputs in fuzz/artifacts/)"
    exit 1
fi
echo "fuzz: ${#targets[@]} targets passed"
