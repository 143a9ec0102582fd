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
    local lock="$root/tools/node/requirements.lock"
    local venv
    venv="$root/target/node-venv-$(sha256sum "$lock" | cut -c1-16)"
    if [ ! -f "$venv/.complete" ]; then
        echo "node-env: Node.js >= 20 with npm not found; installing it from PyPI into $venv" >&2
        command -v python3 >/dev/null || { echo "node-env: python3 is needed to install Node.js" >&2; return 1; }
        rm -rf "$root"/target/node-venv-*
        python3 -m venv "$venv" &&
            "$venv/bin/python" -m pip install -q --disable-pip-version-check --require-hashes --no-deps -r "$lock" ||
            { echo "node-env: could not install $lock" >&2; return 1; }
        touch "$venv/.complete"
    fi
    PATH="$venv/bin:$PATH"
    export PATH
}
