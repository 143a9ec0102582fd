#!/usr/bin/env bash
# Installs the pinned Python WebSocket client of the remote gateway's tests (tools/remote/requirements.lock:
# `websockets`, hashes checked) into target/remote-venv-<lock hash> and prints that venv's python. Idempotent: a
# venv made from the same lock is reused. Needs python3 (>= 3.9) with venv, and PyPI on first use.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=scripts/lock-venv.sh
. "$root/scripts/lock-venv.sh"
venv=$(lock_venv "$root" remote "$root/tools/remote/requirements.lock")
"$venv/bin/python" -c 'import websockets, sys; sys.exit(websockets.__version__ != "15.0.1")' ||
    { echo "install-remote-py: $venv does not hold websockets 15.0.1" >&2; exit 1; }
echo "$venv/bin/python"
