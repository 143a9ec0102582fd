#!/usr/bin/env bash
# Runs the benchmark suite (issue 8): builds the release library, the C host of the streaming benchmark and the
# pinned pi, runs every bench in benches/ (each reports medians of several runs), prints the tables and rewrites
# BENCHMARKS.md with them, the machine and the command. Benchmarks are not tests: nothing here asserts a timing.
#
#   scripts/bench.sh              # everything (about 5 minutes on 2 cores)
#   scripts/bench.sh --no-pi      # without the pi peer (no npm needed); its rows are left out
#   scripts/bench.sh --no-peers   # without Codex and Claude Code (benches/peers.rs); their rows are left out
#   scripts/bench.sh --no-write   # print only, leave BENCHMARKS.md alone
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
use_pi=1 use_peers=1 write=1
for a in "$@"; do
    case "$a" in
        --no-pi) use_pi=0 ;;
        --no-peers) use_peers=0 ;;
        --no-write) write=0 ;;
        *) echo "usage: scripts/bench.sh [--no-pi] [--no-peers] [--no-write]" >&2; exit 2 ;;
    esac
done
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
out="$CARGO_TARGET_DIR/bench"
mkdir -p "$out"

cargo build --release --lib
# The same library without its optional parts (--no-default-features), and with each one alone, for the footprint
# bench's "what each part adds" rows.
# One target directory for the four builds, so the dependencies they share are built once; each library is copied
# out before the next build replaces it.
feat="$CARGO_TARGET_DIR/features"
for f in none mcp acp remote; do
    if [ "$f" = none ]; then
        cargo build --release --lib --no-default-features --target-dir "$feat"
    else
        cargo build --release --lib --no-default-features --features "$f" --target-dir "$feat"
    fi
    cp "$feat/release/libtandem.so" "$feat/libtandem-$f.so"
    [ "$f" = none ] || export "TANDEM_BENCH_LIB_FEATURE_${f^^}=$feat/libtandem-$f.so"
done
export TANDEM_BENCH_LIB_NO_DEFAULT="$feat/libtandem-none.so"
cargo bench --no-run
cc -O2 -std=c11 -Wall -Wextra -Werror -Iinclude benches/c/stream_host.c -o "$out/stream_host" \
    -L"$CARGO_TARGET_DIR/release" -Wl,-rpath,"$CARGO_TARGET_DIR/release" -ltandem -lpthread
export TANDEM_BENCH_HOST="$out/stream_host"
export TANDEM_BENCH_LIB="$CARGO_TARGET_DIR/release/libtandem.so"
if [ "$use_pi" = 1 ]; then
    TANDEM_BENCH_PI="$(scripts/install-pi.sh)"
    export TANDEM_BENCH_PI
    pi_version="$(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' \
        "$(dirname "$TANDEM_BENCH_PI")/../@mariozechner/pi-coding-agent/package.json" | head -1)"
else
    unset TANDEM_BENCH_PI
    pi_version="not run (--no-pi)"
fi

# Codex and Claude Code (tools/peers/package-lock.json, npm ci, locked) for benches/peers.rs; bench only.
if [ "$use_peers" = 1 ]; then
    TANDEM_BENCH_PEERS="$(scripts/install-peers.sh)"
    export TANDEM_BENCH_PEERS
else
    unset TANDEM_BENCH_PEERS
fi

# benches/mcp.rs also measures server-everything when the pinned MCP servers are installed (npm ci, locked).
TANDEM_MCP_DIR="$(scripts/install-mcp.sh | sed -n 1p)" || unset TANDEM_MCP_DIR
export TANDEM_MCP_DIR
benches=(streaming dispatch scale persistence long_conversation footprint store_reopen mcp hooks peers remote acp)
load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
for b in "${benches[@]}"; do
    echo "== $b" >&2
    cargo bench --quiet --bench "$b" | tee "$out/$b.md"
done

load_end="$(cut -d' ' -f1-3 /proc/loadavg)"

# Each bench prints its detail tables, then a summary table under the `| benchmark |` header.
summary() { awk '/^\| benchmark \|/{on=1; getline; next} on && /^\|/' "$out/$1.md"; }
details() { awk '/^\| benchmark \|/{exit} {print}' "$out/$1.md"; }

cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
machine="$cpu, $(nproc) CPUs available, $(free -g | awk '/^Mem:/{print $2}') GiB RAM, $(uname -sr)"
machine="$machine, rustc $(rustc --version | cut -d' ' -f2), node $(node --version 2>/dev/null || echo none)"

REMOTE_BENCH_TEXT="The gateway in the bench process (\`tandem_client_listen\` on loopback), peers are tokio-tungstenite clients.
Catch-up: a session whose history holds one 10,000-delta turn; a fresh connection attaches with \`cursor: 0\` and
reads every catch-up event (median of 5). Fan-out: 100 viewers of one session streaming 200 deltas 5 ms apart;
latency is a viewer's receipt minus the delivery of the same seq to a local subscriber (the dispatcher hands each
event to the gateway's outboxes at that point); gateway CPU is the client's runtime and dispatcher threads
(/proc/self/task, 10 ms ticks) over the turn. Idle viewers: a gateway in a child process (the bench binary itself),
1,000 viewers attached; its VmRSS growth per viewer, and its CPU over 2 s with them attached."

ACP_BENCH_TEXT="One scripted turn of 10,000 text deltas of a few bytes, two ways, interleaved, median of 5 each: through the
C API in process (\`tandem_client_subscribe\` callback counting \`text_delta\`s), and through \`tandem-acp\` as a child
process driven over its stdio by an ACP client in the bench (initialize, \`session/new\`, \`session/prompt\`; it parses
every line as JSON, as an editor does; each \`agent_message_chunk\` is a delta). Times run from sending the prompt to
the first delta and to the end of the turn (\`turn_ended\`; the \`session/prompt\` answer). The overhead per chunk is
the difference of the two turn times divided by 10,000. tandem-acp writes what its queue holds in one write (before
that change: 42 µs per chunk, each message its own write and flush through tokio's stdout)."
{
    echo "# Benchmarks"
    echo
    echo "Numbers here were measured, never estimated, and are rewritten by \`scripts/bench.sh\` (issue 8). Timings are never asserted in tests."
    echo
    echo "Command: \`scripts/bench.sh $*\` (release build; each bench is \`cargo bench --bench <name>\`, \`harness = false\`)."
    echo "Machine: $machine. Load average (1, 5, 15 min) at the start: $load_start; at the end: $load_end (other"
    echo "processes on the machine share its CPUs; wall-clock numbers move with that load)."
    echo "Date: $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src benches || echo ' (with local changes)')."
    echo "Peer: pi $pi_version (\`@mariozechner/pi-coding-agent\`, pinned in tools/pi), \`pi --mode rpc\`."
    peers_line="$(sed -n 's/^Peers: //p' "$out/peers.md" | head -1)"
    echo "Peers of section 7: ${peers_line:-not run (--no-peers)}"
    echo
    echo "## Summary"
    echo
    echo "| benchmark | measured (median) | target | |"
    echo "|---|---|---|---|"
    for b in "${benches[@]}"; do summary "$b"; done
    echo
    cat benches/NOTES.md
    echo
    echo "## 1. Streaming against pi (\`benches/streaming.rs\`, \`benches/c/stream_host.c\`)"
    echo
    echo "The mock server (\`benches/support/mock.rs\`, in the bench process) answers \`POST …/chat/completions\` with a"
    echo "pre-generated Chat Completions stream of N content deltas (plus the finish and usage chunks and \`[DONE]\`) in one"
    echo "write. tandem: a C host, one session on \`openai:bench\` pointed at it, a callback receiving every event;"
    echo "\"host bytes\" is the event JSON it was handed. pi: a fresh \`pi --mode rpc --no-session --no-tools\` per run with"
    echo "a private \`PI_CODING_AGENT_DIR\` whose models.json points an \`openai-completions\` provider at the same server;"
    echo "the driver writes the prompt line and reads its stdout framed on \`\\n\` until \`agent_end\`; \"host bytes\" is"
    echo "everything it had to read. CPU is the whole host process for tandem (getrusage) and the pi process for pi"
    echo "(/proc/<pid>/stat, 10 ms ticks). Times run from writing the prompt."
    echo
    details streaming
    echo
    echo "## 2. Event dispatch (\`benches/dispatch.rs\`)"
    echo
    echo "One session on a scripted model whose script is 1,000,000 \`{\"text\":\"tok \"}\` steps, a callback subscribed"
    echo "through the C ABI (the client's \`event_queue_capacity\` set to 2,097,152 so that no delta is merged: every delta"
    echo "is a callback). Baseline, in the same run: a Rust thread renders the same event JSON (sequence number varying)"
    echo "into a \`CString\` and sends it over \`std::sync::mpsc\` to a thread that calls the same callback. Latency: 100"
    echo "sessions on \`openai:bench\` against the mock server's paced stream (200 deltas each, one every 5 ms, each"
    echo "carrying the time it was written); the callback subtracts. Three runs per pattern, quantiles over all samples."
    echo
    details dispatch
    echo
    echo "## 3. Scale (\`benches/scale.rs\`)"
    echo
    echo "Sessions are \`scripted:echo\` on a client without a store, started, listed and stopped through the C ABI."
    echo "Memory is the VmRSS growth divided by the session count; idle CPU is getrusage of the whole process."
    echo
    details scale
    echo
    echo "## 4. Persistence (\`benches/persistence.rs\`)"
    echo
    echo "Journals are built in the realistic mix of \`benches/support/journal.rs\`; fsync policy \`turn\` (the default)."
    echo
    details persistence
    echo
    echo "## 4b. Long conversations (\`benches/long_conversation.rs\`)"
    echo
    echo "A whole \`scripted:echo\` turn (prompt to \`turn_ended\`, journal write and fsync included) on a conversation of"
    echo "10,000 stored messages against one of 10, alternating turn by turn; the model context is kept between turns and"
    echo "extended by the new messages. Request bytes: an \`openai:bench\` session kept open against one reopened before"
    echo "every turn (its context built from the whole transcript), same prompts, on copies of one conversation."
    echo
    details long_conversation
    echo
    echo "## 5. Footprint (\`benches/footprint.rs\`)"
    echo
    echo "\`strip -o\` of the release \`libtandem.so\`; \`tandem_client_new\` / \`tandem_client_free\` with \`store_dir: null\`"
    echo "(median of 101); memory is the VmRSS growth after the process's first client (runtime threads included)."
    echo
    details footprint
    echo
    echo "## 6. MCP servers (\`benches/mcp.rs\`)"
    echo
    echo "Session start: \`start_session\` with 3 stdio servers until all three have reported \`ready\` (tools listed);"
    echo "median of 7 after a warm-up. Tool call: a scripted turn of 50 calls of the server's \`echo\` tool (read-only,"
    echo "so no approval), prompt to \`turn_ended\`, divided by 50, against 50 \`tools/call\` of the same tool from a"
    echo "bare rmcp client (\`().serve(stdio)\`) on the same server; medians of 7. Servers: tests/mcp/fake_server.py"
    echo "(python3) and, when installed, \`@modelcontextprotocol/server-everything\` (node, pinned in tools/mcp)."
    echo
    details mcp
    echo
    echo "## 7. Peers: Codex and Claude Code (\`benches/peers.rs\`)"
    echo
    cat benches/peers.md
    echo
    details peers
    echo
    echo "## 8. Hooks (\`benches/hooks.rs\`)"
    echo
    echo "Through the C ABI. PreToolUse: a scripted turn of 200 sequential \`read_file\` calls (each a model step, the hook,"
    echo "the gate, the call, the result), prompt to \`turn_ended\`; the overhead per call is the difference to the run"
    echo "without hooks divided by 200. UserPromptSubmit: the duration of \`tandem_session_send_prompt\` itself (an idle"
    echo "session, so it starts a turn), median of 300 prompts per run. The C callback answers nothing (the step goes on);"
    echo "the command hook is \`true\` run by \`/bin/sh -c\` with the input on stdin. An in-process hook runs on the"
    echo "blocking pool (so its timeout can be kept without trusting it): two thread hand-offs per tool call, three per"
    echo "prompt; with no hook registered for an event nothing is built or spawned."
    echo
    details hooks
    echo
    echo "## 9. Remote gateway (\`benches/remote.rs\`)"
    echo
    echo "$REMOTE_BENCH_TEXT"
    echo
    details remote
    echo
    echo "## 10. ACP: \`tandem-acp\` against the C API (\`benches/acp.rs\`)"
    echo
    echo "$ACP_BENCH_TEXT"
    echo
    details acp
    echo
    echo "## Conversation store (\`benches/store_reopen.rs\`)"
    echo
    echo "The journal holds 10,000 messages in a realistic mix (prompts, thinking, \`read_file\` calls with ~2 KB results,"
    echo "answers, usage). Target (issue 4): reopening a 10,000-message conversation well under 100 ms; saving a turn"
    echo "costs the size of the turn, not of the conversation (about 1 KB for a short turn on an 8 MB conversation)."
    echo
    cat "$out/store_reopen.md"
} > "$out/BENCHMARKS.md"

echo >&2
cat "$out/BENCHMARKS.md" | awk '/^## Summary/{on=1} /^## 1\./{exit} on' >&2
if [ "$write" = 1 ]; then
    cp "$out/BENCHMARKS.md" BENCHMARKS.md
    echo "wrote BENCHMARKS.md" >&2
fi
