#!/usr/bin/env bash
# Installs the pinned pi coding agent (tools/pi/package-lock.json) under target/pi and prints the path of its
# `pi` executable. Idempotent: a matching install is reused. npm comes from scripts/node-env.sh (the machine's Node.js
# >= 20, else Node.js from PyPI); callers that run pi source node-env.sh too, so its `node` is the one found here.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=scripts/node-env.sh
. "$root/scripts/node-env.sh"
node_env "$root" >&2
dest="$root/target/pi"
bin="$dest/node_modules/.bin/pi"
mkdir -p "$dest"
if [ -x "$bin" ] && cmp -s "$root/tools/pi/package-lock.json" "$dest/package-lock.json"; then
    echo "$bin"
    exit 0
fi
cp "$root/tools/pi/package.json" "$root/tools/pi/package-lock.json" "$dest/"
# Cached tarballs are used first (their integrity is still checked against the lock); a stalled download is cut
# after a minute and retried rather than left to hang the test command.
(cd "$dest" && npm ci --no-audit --no-fund --silent --prefer-offline --fetch-timeout=60000 --fetch-retries=4 >&2)
[ -x "$bin" ] || { echo "install-pi: $bin missing after npm ci" >&2; exit 1; }
# npm ci installs exactly the lock; `npm ls` fails on anything missing, extraneous or not matching it.
(cd "$dest" && npm ls --all >/dev/null) || { echo "install-pi: target/pi does not match tools/pi/package-lock.json" >&2; exit 1; }
echo "$bin"
