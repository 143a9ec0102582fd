#!/usr/bin/env bash
# Runs the Neovim plugin's headless tests (tests/nvim/test_plugin.lua, editors/nvim) against the debug libtandem on
# the newest Neovim a registry here serves (0.11.4 from PyPI, locked in tools/nvim/requirements.lock) and on Debian's
# 0.7.2, the plugin's stated minimum (installed with apt-get when running as root on Debian). At least one of them
# must run; a Neovim that cannot be had here is reported as skipped.
#
#   scripts/test-nvim.sh [FILTER]    # FILTER: run only tests whose name contains it
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
# shellcheck source=scripts/nvim-env.sh
. scripts/nvim-env.sh

cargo build --locked --lib --quiet
export TANDEM_LIB="$root/target/debug/libtandem.so"
# The tests write only to their own temporary directories; keep any default store away from the user's.
XDG_DATA_HOME=$(mktemp -d)
export XDG_DATA_HOME
trap 'rm -rf "$XDG_DATA_HOME"' EXIT

nvims=()
if bin=$(nvim_newest "$root"); then nvims+=("$bin"); else echo "skipped: Neovim from PyPI (no wheel here)"; fi
if bin=$(nvim_debian); then nvims+=("$bin"); else echo "skipped: Debian's Neovim (not root on Debian)"; fi
[ ${#nvims[@]} -gt 0 ] || { echo "no Neovim to test the plugin with" >&2; exit 1; }

for nvim in "${nvims[@]}"; do
    echo "== $("$nvim" --version | head -n 1) ($nvim)"
    # -u NONE: no user config or plugins; the runner puts editors/nvim on the runtimepath itself.
    "$nvim" --headless -u NONE -i NONE -n \
        -c "lua dofile('tests/nvim/runner.lua').main('tests/nvim/test_plugin.lua', '${1:-}')" </dev/null
done
