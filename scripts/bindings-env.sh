# Shared by scripts/test-{python,cpp,zig,swift}.sh (sourced, not run): the debug library, a project-local venv with
# pinned tools from PyPI, and small helpers. Everything installed goes under target/bindings/.
# shellcheck shell=bash

LIB="$ROOT/target/debug/libtandem.so"
LIBDIR="$ROOT/target/debug"
# The tools (pytest, mypy, setuptools, wheel, ziglang and everything they pull in) come from one lock file with hashes;
# the venv's directory is named by the lock's hash, so a changed lock always gets a new venv, never an old one.
PY_LOCK="$ROOT/tools/python/requirements.lock"
VENV="$ROOT/target/bindings/venv-$(sha256sum "$PY_LOCK" | cut -c1-16)"

fail() {
    printf 'FAIL: %s\n' "$*" >&2
    exit 1
}

# Builds the debug library (the shared target dir; cargo serializes concurrent builds).
cargo_build() {
    echo "== cargo build"
    cargo build --quiet 2>&1 | tail -n 20
    [ -f "$LIB" ] || fail "missing $LIB after cargo build"
}

# Creates $VENV from the lock, once. pip installs with --require-hashes and --no-deps, so nothing outside the lock
# can be resolved; verify_venv then checks the venv holds exactly the lock's packages for this interpreter.
python_venv() {
    command -v python3 >/dev/null || fail "python3 is missing (apt-get install python3 python3-venv)"
    python3 -c 'import sys; sys.exit(sys.version_info < (3, 9))' || fail "python3 >= 3.9 is needed"
    if [ ! -f "$VENV/.complete" ]; then
        echo "== venv $VENV from tools/python/requirements.lock"
        rm -rf "$ROOT"/target/bindings/venv*
        python3 -m venv "$VENV" || fail "python3 -m venv failed (apt-get install python3-venv)"
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check --require-hashes --no-deps \
            -r "$PY_LOCK" || fail "pip could not install tools/python/requirements.lock"
        touch "$VENV/.complete"
    fi
    "$VENV/bin/python" "$ROOT/scripts/check-lock.py" "$PY_LOCK" tandem || fail "the venv $VENV does not match the lock file"
}
