# Makes Node.js >= 20 with npm available (sourced, not run): the machine's own when it has one, else Node.js from
# PyPI (tools/node/requirements.lock, exact versions with hashes) in target/node-venv-<lock hash>, put first on PATH.
# TANDEM_NODE_FROM_PYPI=1 takes the PyPI one even where the machine has Node.js (the test command checks that path).
# shellcheck shell=bash

node_env() {
    local root=$1
    if [ "${TANDEM_NODE_FROM_PYPI:-0}" != 1 ] && command -v npm >/dev/null &&
        node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' 2>/dev/null; then
        return 0
    fi
    # shellcheck source=scripts/lock-venv.sh
    . "$root/scripts/lock-venv.sh"
    local venv
    venv=$(lock_venv "$root" node "$root/tools/node/requirements.lock") || return 1
    PATH="$venv/bin:$PATH"
    export PATH
}
