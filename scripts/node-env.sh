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

# Installs exactly the npm lock in directory $2 (package.json and package-lock.json, integrity checked by `npm ci`)
# into $3, unless a matching install is there (all of the paths after $3, relative to it, exist); then checks it
# with `npm ls`. $1 is the repository root.
npm_lock_install() {
    local root=$1 lock=$2 dest=$3
    shift 3
    node_env "$root" >&2 || return 1
    mkdir -p "$dest"
    local p have=1
    for p in "$@"; do [ -e "$dest/$p" ] || have=0; done
    if [ "$have" = 1 ] && cmp -s "$lock/package-lock.json" "$dest/package-lock.json"; then
        return 0
    fi
    cp "$lock/package.json" "$lock/package-lock.json" "$dest/"
    # Cached tarballs first (integrity still checked against the lock); a stalled download is cut and retried.
    (cd "$dest" && npm ci --no-audit --no-fund --silent --prefer-offline --fetch-timeout=60000 --fetch-retries=4 \
        --foreground-scripts >&2) || return 1
    (cd "$dest" && npm ls --all >/dev/null) || { echo "$dest does not match $lock/package-lock.json" >&2; return 1; }
}
