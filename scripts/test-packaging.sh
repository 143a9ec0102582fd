#!/usr/bin/env bash
# Packaging check: `make install` into a temporary prefix, then the C demo (examples/c/demo.c) is built against the
# installed copy with nothing but `pkg-config --cflags --libs tandem` and run non-interactively. Also checks the
# versioned SONAME and the usual symlink chain libtandem.so -> libtandem.so.0.<minor> -> libtandem.so.<version>.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
command -v pkg-config >/dev/null || fail "pkg-config is missing (apt-get install pkg-config)"

prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
echo "== make install PREFIX=$prefix"
make --no-print-directory install PREFIX="$prefix" >/dev/null
for f in lib/libtandem.so.$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1) lib/libtandem.a include/tandem.h lib/pkgconfig/tandem.pc bin/tandem-acp; do
    [ -f "$prefix/$f" ] || fail "make install did not install $f"
done
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
flags=$(pkg-config --cflags --libs tandem)
echo "pkg-config --cflags --libs tandem: $flags"
[ "$(pkg-config --modversion tandem)" = "$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)" ] ||
    fail "tandem.pc's version differs from Cargo.toml"

echo "== the C demo built with only those flags"
# shellcheck disable=SC2086 # $flags is a word list
cc -std=c11 -Wall -Wextra -Werror examples/c/demo.c -o "$prefix/demo" $flags -pthread
# No rpath was given: the loader finds the installed library the way an installed system's would (here through
# LD_LIBRARY_PATH, standing in for ld.so.conf).
out=$(env -u ANTHROPIC_API_KEY -u OPENAI_API_KEY LD_LIBRARY_PATH="$prefix/lib" "$prefix/demo" --yes --workdir "$ROOT" \
    </dev/null) ||
    fail "the installed demo exited with status $?"
grep -q "Here's what I found" <<<"$out" || fail "the installed demo gave no summary"
ldd_out=$(LD_LIBRARY_PATH="$prefix/lib" ldd "$prefix/demo")
grep -q "libtandem.so.* => $prefix/lib/" <<<"$ldd_out" || fail "the demo did not load the installed library: $ldd_out"
echo "the demo ran against $prefix/lib"

echo "== SONAME"
soname=$(readelf -d "$prefix/lib/libtandem.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
version=$(pkg-config --modversion tandem)
expected=libtandem.so.$(awk -F. '{ print ($1 == "0") ? "0." $2 : $1 }' <<<"$version")
[ "$soname" = "$expected" ] || fail "SONAME is '$soname', expected $expected"
echo "SONAME $soname"
[ "$(readlink "$prefix/lib/libtandem.so")" = "$soname" ] || fail "libtandem.so does not link to $soname"
[ "$(readlink "$prefix/lib/$soname")" = "libtandem.so.$version" ] || fail "$soname does not link to libtandem.so.$version"
[ -f "$prefix/lib/libtandem.so.$version" ] && [ ! -L "$prefix/lib/libtandem.so.$version" ] ||
    fail "libtandem.so.$version is not the installed library file"
grep -q "NEEDED.*\[$soname\]" <<<"$(readelf -d "$prefix/demo")" || fail "the demo does not record $soname as NEEDED"
echo "packaging: all checks passed"
