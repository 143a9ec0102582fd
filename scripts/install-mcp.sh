#!/usr/bin/env bash
# Installs the pinned reference MCP servers (tools/mcp/package-lock.json: @modelcontextprotocol/server-everything and
# server-filesystem) under target/mcp and prints that directory, then on a second line the `node` that runs them.
# Idempotent: a matching install is reused. npm comes from scripts/node-env.sh (the machine's Node.js >= 20, else
# Node.js from PyPI), as for install-pi.sh.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=scripts/node-env.sh
. "$root/scripts/node-env.sh"
npm_tool_install "$root" mcp @modelcontextprotocol/server-everything @modelcontextprotocol/server-filesystem
