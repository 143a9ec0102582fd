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

# Installs the npm packages pinned in tools/<name>/package-lock.json into target/<name> with `npm ci` and prints that
# directory, then on a second line the `node` that runs them. A matching install (same lock, and each node_modules
# path given after the name present) is reused. Node.js comes from node_env.
npm_lock_install() {
    local root=$1 name=$2
    shift 2
    local dest="$root/target/$name" have=1 m
    node_env "$root" >&2
    mkdir -p "$dest"
    for m in "$@"; do
        [ -d "$dest/node_modules/$m" ] || have=0
    done
    if [ "$have" = 1 ] && cmp -s "$root/tools/$name/package-lock.json" "$dest/package-lock.json"; then
        echo "$dest"
        command -v node
        return 0
    fi
    cp "$root/tools/$name/package.json" "$root/tools/$name/package-lock.json" "$dest/"
    # Cached tarballs first (integrity still checked against the lock); a stalled download is cut and retried.
    (cd "$dest" && npm ci --no-audit --no-fund --silent --prefer-offline --fetch-timeout=60000 --fetch-retries=4 >&2)
    # npm ci installs exactly the lock; `npm ls` fails on anything missing, extraneous or not matching it.
    (cd "$dest" && npm ls --all >/dev/null) ||
        { echo "install-$name: target/$name does not match tools/$name/package-lock.json" >&2; return 1; }
    echo "$dest"
    command -v node
}
