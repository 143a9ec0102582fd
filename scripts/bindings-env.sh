# Shared by scripts/test-{python,cpp,zig,swift}.sh (sourced, not run): the debug library, a project-local venv with
# pinned tools from PyPI, and small helpers. Everything installed goes under target/bindings/.
# shellcheck shell=bash

LIB="$ROOT/target/debug/libtandem.so"
LIBDIR="$ROOT/target/debug"
VENV="$ROOT/target/bindings/venv"
# Pinned tool versions; changing one reinstalls the venv.
PY_TOOLS=(pytest==8.3.5 mypy==1.15.0 setuptools==75.8.0 wheel==0.45.1 ziglang==0.14.1)

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

# Creates $VENV with the pinned tools, once (a stamp file records what was installed).
python_venv() {
    command -v python3 >/dev/null || fail "python3 is missing (apt-get install python3 python3-venv)"
    python3 -c 'import sys; sys.exit(sys.version_info < (3, 9))' || fail "python3 >= 3.9 is needed"
    local stamp="$VENV/.tandem-tools"
    if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "${PY_TOOLS[*]}" ]; then
        echo "== venv $VENV: ${PY_TOOLS[*]}"
        rm -rf "$VENV"
        python3 -m venv "$VENV" || fail "python3 -m venv failed (apt-get install python3-venv)"
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check "${PY_TOOLS[@]}"
        echo "${PY_TOOLS[*]}" >"$stamp"
    fi
}
