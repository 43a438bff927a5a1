#!/bin/sh
# Installs librpo into a throw-away prefix, builds the README's C example
# against it with nothing but `pkg-config --cflags --libs rpo`, runs it,
# checks the installed files, then uninstalls and checks nothing is left.
# Done twice: with PREFIX alone, and staged with DESTDIR.
# Usage: tests/install_test.sh BUILD_DIR   (run from the project root)
set -eu
build=$(cd "$1" && pwd)
work="$build/install-test"
rm -rf "$work"
mkdir -p "$work"

fail() { echo "install test: $*" >&2; exit 1; }

# The first ```c block of README.md, verbatim.
awk '/^```c$/ {on = 1; next} /^```$/ && on {exit} on' README.md > "$work/example.c"
[ -s "$work/example.c" ] || fail "no C example found in README.md"

expect_files() { # ROOT LIBDIR: the files `make install` must create
    root=$1; libdir=$2
    version=$(sed -n 's/^#define RPO_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)$/\2/p' include/rpo.h | paste -sd.)
    major=${version%%.*}
    for f in "$root/include/rpo.h" "$libdir/librpo.a" "$libdir/librpo.so.$version" \
             "$libdir/pkgconfig/rpo.pc"; do
        [ -f "$f" ] || fail "missing $f"
    done
    [ "$(readlink "$libdir/librpo.so.$major")" = "librpo.so.$version" ] || fail "bad librpo.so.$major link"
    [ "$(readlink "$libdir/librpo.so")" = "librpo.so.$major" ] || fail "bad librpo.so link"
}

expect_empty() { # ROOT: uninstall left no file or link behind
    left=$(find "$1" \( -type f -o -type l \) 2>/dev/null)
    [ -z "$left" ] || fail "make uninstall left: $left"
}

build_and_run() { # PKG_CONFIG_PATH SYSROOT LIBDIR
    flags=$(PKG_CONFIG_PATH=$1 PKG_CONFIG_SYSROOT_DIR=$2 pkg-config --cflags --libs rpo) \
        || fail "pkg-config does not find rpo"
    # shellcheck disable=SC2086
    cc -std=c99 -Wall -Wextra -Werror -o "$work/example" "$work/example.c" $flags \
        || fail "README example does not compile with: $flags"
    readelf -d "$work/example" | grep -q 'NEEDED.*\[librpo\.so\.1\]' \
        || fail "example is not linked against the SONAME librpo.so.1"
    out=$(LD_LIBRARY_PATH=$3 "$work/example") || fail "README example failed"
    echo "$out" | grep -q '^loss ' || fail "README example printed: $out"
    echo "  README example via pkg-config ($flags): $out"
}

echo "== install with PREFIX"
prefix="$work/prefix"
make -s install PREFIX="$prefix" >/dev/null
expect_files "$prefix" "$prefix/lib"
build_and_run "$prefix/lib/pkgconfig" "" "$prefix/lib"
make -s uninstall PREFIX="$prefix" >/dev/null
expect_empty "$prefix"

echo "== install with DESTDIR staging"
stage="$work/stage"
make -s install PREFIX=/usr/local DESTDIR="$stage" >/dev/null
expect_files "$stage/usr/local" "$stage/usr/local/lib"
grep -q '^prefix=/usr/local$' "$stage/usr/local/lib/pkgconfig/rpo.pc" \
    || fail "rpo.pc under DESTDIR must name the final prefix"
build_and_run "$stage/usr/local/lib/pkgconfig" "$stage" "$stage/usr/local/lib"
make -s uninstall PREFIX=/usr/local DESTDIR="$stage" >/dev/null
expect_empty "$stage"
echo "install test: passed"
