#!/usr/bin/env bash
# Installs the pinned Codex ACP agent (tools/codex-acp/package-lock.json: @zed-industries/codex-acp and its platform
# binary package) under target/codex-acp and prints that directory, then on a second line the `node` that runs its
# launcher. Idempotent: a matching install is reused. npm comes from scripts/node-env.sh.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=scripts/node-env.sh
. "$root/scripts/node-env.sh"
npm_tool_install "$root" codex-acp @zed-industries/codex-acp
