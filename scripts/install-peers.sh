#!/usr/bin/env bash
# Installs the pinned benchmark peers (tools/peers/package-lock.json: @openai/codex and @anthropic-ai/claude-code,
# exact versions with integrity hashes) under target/peers and prints that directory. Bench only (scripts/bench.sh,
# benches/peers.rs): no test needs them. Idempotent: a matching install is reused. npm comes from
# scripts/node-env.sh; Claude Code's install script (which links its platform binary) runs.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=scripts/node-env.sh
. "$root/scripts/node-env.sh"
npm_lock_install "$root" "$root/tools/peers" "$root/target/peers" node_modules/.bin/codex node_modules/.bin/claude
echo "$root/target/peers"
