#!/usr/bin/env bash
# Installs the pinned reference MCP servers (tools/mcp/package-lock.json: @modelcontextprotocol/server-everything and
# server-filesystem) under target/mcp and prints that directory, then on a second line the `node` that runs them.
# Idempotent: a matching install is reused. npm comes from scripts/node-env.sh (the machine's Node.js >= 20, else
# Node.js from PyPI), as for install-pi.sh.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=scripts/node-env.sh
. "$root/scripts/node-env.sh"
node_env "$root" >&2
dest="$root/target/mcp"
mods="$dest/node_modules/@modelcontextprotocol"
mkdir -p "$dest"
if [ -d "$mods/server-everything" ] && [ -d "$mods/server-filesystem" ] &&
    cmp -s "$root/tools/mcp/package-lock.json" "$dest/package-lock.json"; then
    echo "$dest"
    command -v node
    exit 0
fi
cp "$root/tools/mcp/package.json" "$root/tools/mcp/package-lock.json" "$dest/"
# Cached tarballs first (integrity still checked against the lock); a stalled download is cut and retried.
(cd "$dest" && npm ci --no-audit --no-fund --silent --prefer-offline --fetch-timeout=60000 --fetch-retries=4 >&2)
# npm ci installs exactly the lock; `npm ls` fails on anything missing, extraneous or not matching it.
(cd "$dest" && npm ls --all >/dev/null) || { echo "install-mcp: target/mcp does not match tools/mcp/package-lock.json" >&2; exit 1; }
echo "$dest"
command -v node
