#!/usr/bin/env bash
# Installs the pinned official ACP TypeScript SDK (tools/acp/package-lock.json: @agentclientprotocol/sdk) under
# target/acp and prints that directory, then on a second line the `node` that runs tests/acp/driver.mjs with it.
# Idempotent: a matching install is reused. npm comes from scripts/node-env.sh (the machine's Node.js >= 20, else
# Node.js from PyPI), as for install-mcp.sh.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=scripts/node-env.sh
. "$root/scripts/node-env.sh"
npm_tool_install "$root" acp @agentclientprotocol/sdk
