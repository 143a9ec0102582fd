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
# with `npm ls`. $1 is the repository root. Concurrent callers (tests run in parallel) take turns on a lock file
# beside $3, so one never runs `npm ci` under another's feet.
npm_lock_install() {
    local root=$1 lock=$2 dest=$3
    shift 3
    node_env "$root" >&2 || return 1
    mkdir -p "$dest"
    (
        flock 9 || exit 1
        p= have=1
        for p in "$@"; do [ -e "$dest/$p" ] || have=0; done
        if [ "$have" = 1 ] && cmp -s "$lock/package-lock.json" "$dest/package-lock.json"; then
            exit 0
        fi
        cp "$lock/package.json" "$lock/package-lock.json" "$dest/"
        # Cached tarballs first (integrity still checked against the lock); a stalled download is cut and retried.
        (cd "$dest" && npm ci --no-audit --no-fund --prefer-offline --fetch-timeout=60000 --fetch-retries=4 \
            --loglevel=error --foreground-scripts >&2) || { echo "npm ci failed in $dest" >&2; exit 1; }
        # npm ci installs exactly the lock; `npm ls` fails on anything missing, extraneous or not matching it.
        (cd "$dest" && npm ls --all >/dev/null) || { echo "$dest does not match $lock/package-lock.json" >&2; exit 1; }
    ) 9>"$dest.lock"
}

# Installs the npm packages pinned in tools/$2/package-lock.json into target/$2 (npm_lock_install; the package
# directories after $2 must be in its node_modules) and prints that directory, then on a second line the `node`
# that runs them.
npm_tool_install() {
    local root=$1 name=$2
    shift 2
    local m mods=()
    for m in "$@"; do mods+=("node_modules/$m"); done
    npm_lock_install "$root" "$root/tools/$name" "$root/target/$name" "${mods[@]}" || return 1
    echo "$root/target/$name"
    command -v node
}
