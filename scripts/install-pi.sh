#!/usr/bin/env bash
# Installs the pinned pi coding agent (tools/pi/package-lock.json) under target/pi and prints the path of its
# `pi` executable. Idempotent: a matching install is reused.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/target/pi"
bin="$dest/node_modules/.bin/pi"
mkdir -p "$dest"
if [ -x "$bin" ] && cmp -s "$root/tools/pi/package-lock.json" "$dest/package-lock.json"; then
    echo "$bin"
    exit 0
fi
command -v npm >/dev/null || { echo "install-pi: npm is required (Node.js >= 20)" >&2; exit 1; }
cp "$root/tools/pi/package.json" "$root/tools/pi/package-lock.json" "$dest/"
(cd "$dest" && npm ci --no-audit --no-fund --silent >&2)
[ -x "$bin" ] || { echo "install-pi: $bin missing after npm ci" >&2; exit 1; }
echo "$bin"
