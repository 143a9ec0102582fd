#!/usr/bin/env bash
# Tests the Python binding (bindings/python): installs it with pip into a project-local venv, checks the types with
# mypy --strict, runs the pytest suite on real sessions, builds a wheel that bundles the library and runs the
# example from that wheel alone (no TANDEM_LIBRARY), and runs examples/python/quickstart.py.
#
# Needs python3 (>= 3.9) with venv, and PyPI for the pinned tools (tools/python/requirements.lock, installed once into target/bindings/venv-<lock hash>).
# Usage: scripts/test-python.sh            PYTEST_ARGS="-k steering" to select tests
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/bindings-env.sh
. scripts/bindings-env.sh

cargo_build
python_venv
PY="$VENV/bin/python"

echo "== pip install ./bindings/python"
"$PY" -m pip install -q --no-deps --no-build-isolation --force-reinstall ./bindings/python
rm -rf bindings/python/build bindings/python/src/*.egg-info

echo "== mypy --strict (package, tests, example)"
(cd bindings/python && "$VENV/bin/mypy" --strict)

echo "== pytest (against the installed package)"
# From the tests directory, so `import tandem` is the installed copy, not bindings/python/src.
(cd bindings/python/tests && TANDEM_LIBRARY="$LIB" "$PY" -m pytest -q -p no:cacheprovider ${PYTEST_ARGS:-} .)

echo "== a wheel that bundles the library"
wheels="$ROOT/target/bindings/wheels"
site="$ROOT/target/bindings/wheel-site"
rm -rf "$wheels" "$site"
TANDEM_BUNDLE_LIBRARY="$LIB" "$PY" -m pip wheel -q --no-deps --no-build-isolation -w "$wheels" ./bindings/python
rm -rf bindings/python/build bindings/python/src/*.egg-info
wheel=$(ls "$wheels"/tandem-*.whl)
echo "built $(basename "$wheel")"
case $(basename "$wheel") in
    *-py3-none-linux_*.whl | *-py3-none-macosx_*.whl) ;;
    *) fail "the bundled wheel is not tagged py3-none-<platform>: $(basename "$wheel")" ;;
esac
# Asked of zipfile directly: a `| grep -q` pipeline fails under pipefail when grep
# exits at the first match and the lister dies of SIGPIPE.
"$PY" -c 'import sys, zipfile; sys.exit(0 if "tandem/libtandem.so" in zipfile.ZipFile(sys.argv[1]).namelist() else 1)' "$wheel" \
    || fail "the wheel does not contain tandem/libtandem.so"
"$PY" -m pip install -q --no-deps --target "$site" "$wheel"
out=$(cd /tmp && env -u TANDEM_LIBRARY PYTHONPATH="$site" "$PY" -c \
    'import tandem; print(tandem.library_path()); print(tandem.version())')
grep -q "^$site/tandem/libtandem.so$" <<<"$out" || fail "the wheel's package did not load its own library: $out"
echo "the wheel loads $site/tandem/libtandem.so"

echo "== examples/python/quickstart.py (from the wheel)"
work=$(mktemp -d)
out=$(env -u TANDEM_LIBRARY PYTHONPATH="$site" "$PY" examples/python/quickstart.py "$work") ||
    fail "quickstart.py exited with status $?"
echo "$out"
grep -q "turn completed" <<<"$out" || fail "quickstart.py did not complete its turn"
[ "$(cat "$work/hello.txt")" = "hello from Python" ] || fail "quickstart.py did not write hello.txt"
rm -rf "$work" "$site" "$wheels"
echo "python binding: all checks passed"
