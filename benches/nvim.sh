#!/usr/bin/env bash
# Benchmarks the Neovim plugin (editors/nvim): 10,000 streamed deltas from the mock OpenAI-compatible server
# (tests/nvim/mock_openai.py) into the chat buffer of a headless Neovim, on the release libtandem. Per run: Neovim's
# CPU time for the turn (main thread, and whole process with tandem's threads), the buffer updates, the time from the
# server flushing the last delta to the chat buffer showing it, and the process's CPU over 5 s of idling afterwards
# with the session open (from /proc/<pid>/stat, in clock ticks). Medians of 5 runs, on each Neovim available (0.11.4
# from PyPI, Debian's 0.7.2). Benchmarks are not tests: nothing here asserts a timing.
#
#   benches/nvim.sh             # prints the table and writes it into BENCHMARKS.md (section "Neovim plugin")
#   benches/nvim.sh --no-write  # prints only
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
write=1
[ "${1:-}" = --no-write ] && write=0
runs=${TANDEM_BENCH_RUNS:-5} deltas=10000 idle_s=5
# shellcheck source=scripts/nvim-env.sh
. scripts/nvim-env.sh
cargo build --release --lib --quiet
export TANDEM_LIB="$root/target/release/libtandem.so" TANDEM_BENCH_ROOT="$root" TANDEM_BENCH_DELTAS=$deltas
export TANDEM_BENCH_KEY=bench
work=$(mktemp -d)
mock_pid=
stop_mock() { if [ -n "$mock_pid" ]; then exec 7>&-; kill "$mock_pid" 2>/dev/null || true; wait "$mock_pid" 2>/dev/null || true; mock_pid=; fi; }
cleanup() { stop_mock; rm -rf "$work"; }
trap cleanup EXIT

# start_mock ARGS...: the mock server, its stdin a FIFO held open on fd 7 (it exits when that closes).
start_mock() {
    rm -f "$work/mock.in" "$work/mock.out"
    mkfifo "$work/mock.in"
    python3 tests/nvim/mock_openai.py --deltas "$deltas" --stamp "$work/stamp" "$@" <"$work/mock.in" >"$work/mock.out" &
    mock_pid=$!
    exec 7>"$work/mock.in"
    while [ ! -s "$work/mock.out" ]; do sleep 0.05; done
    TANDEM_BENCH_PORT=$(head -n 1 "$work/mock.out")
    export TANDEM_BENCH_PORT
}
tck=$(getconf CLK_TCK)

ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

nvims=()
bin=$(nvim_newest "$root") && nvims+=("$bin")
bin=$(nvim_debian) && nvims+=("$bin")
rows=()
load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
# burst: the whole stream in one write; paced: 100 writes of 100 deltas, 2 ms apart (the pipeline keeps up, so the
# last delta's latency is that of one small write, not of the whole backlog).
for mode in burst paced; do
    if [ "$mode" = burst ]; then start_mock; else start_mock --writes 100 --gap-ms 2; fi
    for nvim in "${nvims[@]}"; do
        version=$("$nvim" --version | head -n 1)
        : >"$work/runs"
        for i in $(seq "$runs"); do
            rm -rf "$work/store" "$work/dir" "$work/out" "$work/stamp"
            mkdir -p "$work/store" "$work/dir"
            (cd "$work/dir" && TANDEM_BENCH_STORE="$work/store" TANDEM_BENCH_OUT="$work/out" \
                "$nvim" --headless -u NONE -i NONE -n -c "luafile $root/benches/nvim_bench.lua" </dev/null >/dev/null 2>&1 &
                echo $! >"$work/pid")
            pid=$(cat "$work/pid")
            for _ in $(seq 600); do [ -s "$work/out" ] && break; sleep 0.1; done
            [ -s "$work/out" ] || { echo "run $i: no result from $version" >&2; kill "$pid"; exit 1; }
            sleep 1 # let the turn's last writes settle before measuring idle
            t0=$(ticks "$pid")
            sleep "$idle_s"
            t1=$(ticks "$pid")
            kill "$pid"
            wait "$pid" 2>/dev/null || true
            python3 - "$work/out" "$work/stamp" $((t1 - t0)) >>"$work/runs" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
stamp = float(open(sys.argv[2]).read())
assert r["shown"], "the chat never showed the last delta"
print(r["main_thread_cpu_s"] * 1000, r["process_cpu_s"] * 1000, (r["shown_at"] - stamp) * 1000, r["renders"],
      int(sys.argv[3]), r["turn_s"] * 1000)
PY
        done
        echo "$mode $version" >&2
        cat "$work/runs" >&2
        col() { awk -v c="$1" '{ print $c }' "$work/runs" | median; }
        rows+=("$(printf '| %s | %s | %.0f ms | %.0f ms | %.1f ms | %.0f | %.0f ms | %s ticks in %d s (runs: %s) |' \
            "$version" "$mode" "$(col 1)" "$(col 2)" "$(col 3)" "$(col 4)" "$(col 6)" "$(col 5)" "$idle_s" \
            "$(awk '{ print $5 }' "$work/runs" | paste -sd, -)")")
    done
    stop_mock
done

load_end="$(cut -d' ' -f1-3 /proc/loadavg)"
cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
machine="$cpu, $(nproc) CPUs available, $(free -g | awk '/^Mem:/{print $2}') GiB RAM, $(uname -sr)"
section=$(
    echo "## Neovim plugin (\`benches/nvim.sh\`)"
    echo
    echo "One \`:Tandem\` chat in a headless Neovim (\`editors/nvim\`, release libtandem) on \`openai:mock\`: the mock"
    echo "server (\`tests/nvim/mock_openai.py\`) streams $deltas content deltas, *burst*: in one write, *paced*: in 100 writes"
    echo "of 100 deltas 2 ms apart. *Main thread* is Neovim's"
    echo "own thread (the plugin's Lua: pulling batches, decoding, rendering); *process* adds tandem's threads (HTTP,"
    echo "parsing, the session). *Last delta → shown* runs from the server flushing the last delta to the first render"
    echo "whose buffer shows it (the plugin renders at most once per 16 ms frame). *Renders* counts buffer updates for the"
    echo "$deltas deltas. *Idle* is the process's CPU (utime + stime of /proc/<pid>/stat, 1/$tck s ticks) over $idle_s s"
    echo "with the session open after the turn: the plugin waits on the readiness descriptor with a libuv poll handle and"
    echo "arms no timer when nothing streams. Medians of $runs runs."
    echo
    echo "Command: \`benches/nvim.sh\`. Machine: $machine. Load average (1, 5, 15 min) at the start: $load_start; at"
    echo "the end: $load_end (other processes share the CPUs; wall-clock numbers move with that load). Date:"
    echo "$(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD)."
    echo
    echo "| Neovim | stream | main thread CPU | process CPU | last delta → shown | renders | turn (prompt → turn end) | idle CPU |"
    echo "|---|---|---|---|---|---|---|---|"
    for r in "${rows[@]}"; do echo "$r"; done
)
echo "$section"
if [ "$write" = 1 ]; then
    # Replace this section if it is there (up to the next "## " heading), else append it.
    python3 - "$section" <<'PY'
import re, sys
section = sys.argv[1].rstrip() + "\n"
text = open("BENCHMARKS.md").read()
pattern = re.compile(r"^## Neovim plugin .*?(?=^## |\Z)", re.S | re.M)
if pattern.search(text):
    text = pattern.sub(lambda m: section + "\n", text, count=1).rstrip() + "\n"
else:
    text = text.rstrip() + "\n\n" + section
open("BENCHMARKS.md", "w").write(text)
PY
    echo "wrote the Neovim plugin section of BENCHMARKS.md" >&2
fi
