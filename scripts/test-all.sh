#!/usr/bin/env bash
# Runs every test of tandem, stopping at the first failure: Rust formatting, lints and tests, the committed header's
# freshness, the C ABI tests, short fuzz runs over the committed corpora, the kill -9 crash test, the C examples (the
# README quickstart and one non-interactive demo run, both also under valgrind), the language bindings (Python, C++,
# Zig; Swift when a toolchain is installed), the Neovim plugin and the installed package. Works from a fresh clone on Debian with
# rustup's cargo and gcc: missing rustfmt and clippy are added with rustup, missing make, valgrind, python3 (with
# venv), g++ and pkg-config with apt-get when running as root; the bindings' tools (pytest, mypy, Zig) come pinned
# from PyPI into target/, cargo-fuzz (pinned) into target/tools.
set -euo pipefail
cd "$(dirname "$0")/.."
# Programs run here with the default store (the demo, the quickstart) write their conversations to a throwaway
# directory, not to the user's ~/.local/share/tandem.
XDG_DATA_HOME=$(mktemp -d)
export XDG_DATA_HOME
# A CI run builds everything once: incremental compilation's caches would only take disk space there.
if [ -n "${CI:-}" ]; then
    export CARGO_INCREMENTAL=0
fi

if [ -t 1 ]; then
    bold=$'\033[1m' red=$'\033[31m' green=$'\033[32m' dim=$'\033[2m' reset=$'\033[0m'
else
    bold='' red='' green='' dim='' reset=''
fi
started=$SECONDS
steps=0
step=''
skipped=()
skipped_tests=()
trap 'rc=$?; [ "$rc" = 0 ] || printf "\n%sFAILED%s at step %d (%s) after %ds\n" "$red" "$reset" "$steps" "$step" $((SECONDS - started))' EXIT

section() {
    steps=$((steps + 1))
    step=$1
    printf '\n%s==> [%d] %s%s\n' "$bold" "$steps" "$step" "$reset"
}
fail() {
    printf '%s%s%s\n' "$red" "$*" "$reset" >&2
    exit 1
}
skip() {
    printf '%sskipped: %s%s\n' "$dim" "$*" "$reset"
    skipped+=("$step")
}

section "prerequisites"
cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
missing=()
for tool in make valgrind python3 g++ pkg-config; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v make >/dev/null || fail "make is missing: install it (apt-get install make) and run again"
echo "cargo $(cargo --version | cut -d' ' -f2), $(cc --version | head -n 1), make $(make --version | head -n 1 | cut -d' ' -f3)"
# The pi provider's tests drive the real pi coding agent (pinned in tools/pi/package-lock.json), which needs Node.js
# >= 20 with npm: the machine's, else Node.js from PyPI (tools/node/requirements.lock), first on PATH from here on.
# shellcheck source=scripts/node-env.sh
. scripts/node-env.sh
node_env "$PWD" || fail "no Node.js >= 20 with npm, and it could not be installed from PyPI"
pi_bin=$(scripts/install-pi.sh)
export TANDEM_PI="$pi_bin"
echo "pi $(PI_CODING_AGENT_DIR=$(mktemp -d) "$pi_bin" --version 2>&1 | tail -n 1), node $(node --version)"
# The MCP tests (tests/mcp_servers.rs) and benches/mcp.rs run the reference MCP servers, pinned in
# tools/mcp/package-lock.json and installed with `npm ci` into target/mcp, on the same Node.js.
mcp_out=$(scripts/install-mcp.sh) || fail "scripts/install-mcp.sh could not install the MCP servers"
mcp_dir=$(head -n 1 <<<"$mcp_out")
export TANDEM_MCP_DIR="$mcp_dir"
echo "MCP servers: $(cd "$mcp_dir" && npm ls --depth=0 2>/dev/null | grep -o '@modelcontextprotocol/[a-z-]*@[0-9.]*' | tr '\n' ' ')"

section "cargo fmt --check"
cargo fmt --check

section "cargo clippy --all-targets -- -D warnings"
# --locked: Cargo.lock is what builds; a dependency that would have to be resolved anew fails the run.
cargo clippy --locked --all-targets -- -D warnings

section "cargo test"
# Tests that cannot run on this machine (e.g. they need root and this is not) fail where they should run and
# otherwise record themselves here (tests/common: cannot_run); the summary lists them as skipped.
TANDEM_SKIPPED_LOG=$(mktemp)
export TANDEM_SKIPPED_LOG
cargo test --locked
while IFS= read -r test; do
    if [ -n "$test" ]; then skipped_tests+=("$test"); fi
done <"$TANDEM_SKIPPED_LOG"
rm -f "$TANDEM_SKIPPED_LOG"
[ ${#skipped_tests[@]} -eq 0 ] || printf '%sskipped tests: %s%s\n' "$dim" "${skipped_tests[*]}" "$reset"

section "library without its optional parts (cargo test --no-default-features --test no_mcp)"
# Hosts that leave MCP out get a library that refuses MCP configuration clearly (docs/footprint in BENCHMARKS.md).
cargo test --locked --no-default-features --test no_mcp

section "include/tandem.h is up to date"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # The build above regenerated the header; any difference from the committed one means it is stale.
    git diff --exit-code -- include/tandem.h || fail "include/tandem.h is out of date: commit the regenerated header"
    echo "include/tandem.h matches the sources"
else
    skip "not a git checkout"
fi

section "C ABI tests (scripts/test-c.sh)"
if [ -f scripts/test-c.sh ]; then
    bash scripts/test-c.sh
else
    skip "scripts/test-c.sh does not exist yet"
fi

section "C session tests against a remote client (scripts/test-c-remote.sh)"
bash scripts/test-c-remote.sh

section "fuzz targets: corpus replay and a short run each (scripts/test-fuzz.sh)"
bash scripts/test-fuzz.sh

section "C and C++ suites under ThreadSanitizer (scripts/test-c.sh tsan)"
# The instrumented std needs the rust-src component; rustup adds it where it can reach its server.
sysroot=$(rustc --print sysroot)
if [ ! -d "$sysroot/lib/rustlib/src/rust/library" ] && command -v rustup >/dev/null; then
    rustup component add rust-src >/dev/null 2>&1 || true
fi
if [ -d "$sysroot/lib/rustlib/src/rust/library" ]; then
    bash scripts/test-c.sh tsan
else
    skip "the rust-src component is not installed and rustup could not add it"
fi

section "kill -9 crash test (scripts/test-crash.sh)"
command -v python3 >/dev/null || fail "python3 is missing: install it (apt-get install python3) and run again"
bash scripts/test-crash.sh

section "C quickstart (examples/c/quickstart.c, also shown in README.md)"
sed -n '/^```c$/,/^```$/{/^```/d;p;}' README.md | diff -u - examples/c/quickstart.c ||
    fail "the C example in README.md differs from examples/c/quickstart.c"
make --no-print-directory build/quickstart
out=$(./build/quickstart </dev/null) || fail "build/quickstart exited with status $?"
echo "$out"
[ "$out" = "hello from C" ] || fail "build/quickstart printed \"$out\", expected \"hello from C\""

section "C demo, non-interactive (./build/demo --yes)"
make --no-print-directory build/demo
# Without API keys the demo runs the offline scripted model, so its output is deterministic.
out=$(env -u ANTHROPIC_API_KEY -u OPENAI_API_KEY ./build/demo --yes </dev/null) ||
    fail "build/demo exited with status $?"
echo "$out"
grep -q "Here's what I found" <<<"$out" || fail "the demo's answer has no summary (\"Here's what I found ...\")"
grep -q "── tokens: [0-9,]* in · [0-9,]* out · \\$" <<<"$out" || fail "the demo printed no usage line"
! grep -q $'\033' <<<"$out" || fail "the demo wrote ANSI escapes to a pipe"

section "make install into a temporary prefix, quickstart built against it"
prefix=$(mktemp -d)
make --no-print-directory install PREFIX="$prefix" >/dev/null
for f in lib/libtandem.so lib/libtandem.a include/tandem.h lib/pkgconfig/tandem.pc; do
    [ -f "$prefix/$f" ] || fail "make install did not install $f"
done
if command -v pkg-config >/dev/null; then
    flags=$(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs tandem)
    static=$(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --static --cflags --libs tandem)
else
    flags="-I$prefix/include -L$prefix/lib -ltandem"
    static="$flags -lpthread -lm -ldl"
fi
# shellcheck disable=SC2086 # the flags are word lists
cc -std=c11 -Wall -Werror examples/c/quickstart.c -o "$prefix/quickstart" $flags -Wl,-rpath,"$prefix/lib"
[ "$("$prefix/quickstart" </dev/null)" = "hello from C" ] || fail "the quickstart linked against the install did not run"
# shellcheck disable=SC2086
cc -std=c11 -Wall -Werror examples/c/quickstart.c -o "$prefix/quickstart-static" \
    "$prefix/lib/libtandem.a" ${static//-ltandem/}
[ "$("$prefix/quickstart-static" </dev/null)" = "hello from C" ] || fail "the static quickstart did not run"
echo "installed to $prefix: shared and static builds of the quickstart run"
rm -rf "$prefix"

section "C examples under valgrind"
if command -v valgrind >/dev/null; then
    for run in "./build/quickstart" "./build/demo --yes"; do
        echo "valgrind $run"
        # shellcheck disable=SC2086 # $run is a command line
        env -u ANTHROPIC_API_KEY -u OPENAI_API_KEY valgrind --quiet --error-exitcode=1 --leak-check=full \
            --errors-for-leak-kinds=definite,indirect,possible --suppressions=scripts/valgrind.supp \
            $run </dev/null >/dev/null || fail "valgrind reports errors or leaks in $run"
    done
    echo "no errors, no leaks"
else
    skip "valgrind is not installed (run as root to install it, or apt-get install valgrind)"
fi

section "installed package: the C demo built with pkg-config only (scripts/test-packaging.sh)"
bash scripts/test-packaging.sh

section "Python binding (scripts/test-python.sh)"
bash scripts/test-python.sh

section "C++ binding (scripts/test-cpp.sh)"
bash scripts/test-cpp.sh

section "Zig binding (scripts/test-zig.sh)"
bash scripts/test-zig.sh

section "Neovim plugin, headless (scripts/test-nvim.sh)"
# Neovim 0.11.4 comes pinned from PyPI (tools/nvim/requirements.lock) into target/, Debian's 0.7.2 (the plugin's
# minimum) with apt-get when running as root; the suite runs on each of them.
bash scripts/test-nvim.sh

section "Swift binding (scripts/test-swift.sh)"
# Always run: without a toolchain it still checks that the binding wraps every function of the header, then says
# it skipped the build and tests (no package registry here serves a Swift toolchain; see docs/swift.md).
swift_out=$(bash scripts/test-swift.sh) || { echo "$swift_out"; fail "the Swift binding's checks failed"; }
echo "$swift_out"
if grep -q '^skipped: no swift toolchain' <<<"$swift_out"; then
    skip "no swift toolchain (the header-coverage check ran)"
fi

summary="PASSED: $((steps - ${#skipped[@]})) of $steps steps in $((SECONDS - started))s"
for s in "${skipped[@]}"; do summary="$summary; skipped: $s"; done
for s in "${skipped_tests[@]}"; do summary="$summary; skipped test: $s"; done
printf '\n%s%s%s\n' "$green" "$summary" "$reset"
printf '%sbuild outputs: target %s, fuzz/target %s%s\n' "$dim" "$(du -sh target 2>/dev/null | cut -f1)" \
    "$(du -sh fuzz/target 2>/dev/null | cut -f1)" "$reset"
rm -rf "$XDG_DATA_HOME"
# The plain closing line CI reads: every step that ran passed.
echo "steps: $((steps - ${#skipped[@]})) passed, 0 failed"
