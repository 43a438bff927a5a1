#!/bin/sh
# Installs librpo into a throw-away prefix, builds the README's C example
# against it with nothing but `pkg-config --cflags --libs rpo`, and again as
# a CMake project through find_package(rpo), runs them, loads the installed
# SONAME from Python's ctypes, checks the installed files, then uninstalls
# and checks nothing is left.
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
             "$libdir/pkgconfig/rpo.pc" "$libdir/cmake/rpo/rpoConfig.cmake" \
             "$libdir/cmake/rpo/rpoConfigVersion.cmake"; do
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

cmake_consumer() { # PREFIX_ROOT LIBDIR: find_package(rpo) from a CMake project
    cbuild="$work/cmake-build"
    version=$(sed -n 's/^#define RPO_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)$/\2/p' include/rpo.h | paste -sd.)
    major=${version%%.*}
    minor=${version#*.}; minor=${minor%%.*}
    for want in "$major" "$version"; do
        rm -rf "$cbuild"
        cmake -S tests/consumers/cmake -B "$cbuild" -DCMAKE_PREFIX_PATH="$1" \
            -DEXAMPLE_SOURCE="$work/example.c" -DRPO_WANT="$want" >"$work/cmake.log" 2>&1 \
            || { cat "$work/cmake.log" >&2; fail "find_package(rpo $want) failed"; }
        cmake --build "$cbuild" >"$work/cmake.log" 2>&1 \
            || { cat "$work/cmake.log" >&2; fail "CMake consumer does not build"; }
        readelf -d "$cbuild/example_shared" | grep -q "NEEDED.*\[librpo\.so\.$major\]" \
            || fail "rpo::rpo does not link the SONAME librpo.so.$major"
        readelf -d "$cbuild/example_static" | grep -q 'NEEDED.*librpo' \
            && fail "rpo::rpo_static links the shared library"
        LD_LIBRARY_PATH=$2 "$cbuild/example_shared" | grep -q '^loss ' \
            || fail "CMake consumer (shared) failed"
        "$cbuild/example_static" | grep -q '^loss ' || fail "CMake consumer (static) failed"
    done
    # a release of another major version, or a newer one, is refused
    for want in "$((major + 1))" "$major.$((minor + 1))"; do
        rm -rf "$cbuild"
        if cmake -S tests/consumers/cmake -B "$cbuild" -DCMAKE_PREFIX_PATH="$1" \
               -DEXAMPLE_SOURCE="$work/example.c" -DRPO_WANT="$want" >"$work/cmake.log" 2>&1; then
            fail "find_package(rpo $want) accepted librpo $version"
        fi
    done
    echo "  CMake: find_package(rpo) -> rpo::rpo and rpo::rpo_static (with Threads::Threads) built and ran; newer versions refused"
}

ctypes_consumer() { # LIBDIR: Python's ctypes loads the installed SONAME
    LD_LIBRARY_PATH=$1 /usr/bin/python3 tests/consumers/ctypes_installed.py "$1" \
        || fail "ctypes could not use the installed librpo.so.1"
}

echo "== install with PREFIX"
prefix="$work/prefix"
make -s install PREFIX="$prefix" >"$work/install.log"
# a throw-away prefix is no folder the loader searches: the hint says so
grep -q "is not a folder the loader searches" "$work/install.log" \
    || fail "make install printed no hint on finding librpo.so.1: $(cat "$work/install.log")"
expect_files "$prefix" "$prefix/lib"
build_and_run "$prefix/lib/pkgconfig" "" "$prefix/lib"
cmake_consumer "$prefix" "$prefix/lib"
ctypes_consumer "$prefix/lib"
make -s uninstall PREFIX="$prefix" >/dev/null
expect_empty "$prefix"

echo "== install with DESTDIR staging"
stage="$work/stage"
make -s install PREFIX=/usr/local DESTDIR="$stage" >"$work/install.log"
[ ! -s "$work/install.log" ] || fail "a staged install printed: $(cat "$work/install.log")"
expect_files "$stage/usr/local" "$stage/usr/local/lib"
grep -q '^prefix=/usr/local$' "$stage/usr/local/lib/pkgconfig/rpo.pc" \
    || fail "rpo.pc under DESTDIR must name the final prefix"
build_and_run "$stage/usr/local/lib/pkgconfig" "$stage" "$stage/usr/local/lib"
cmake_consumer "$stage/usr/local" "$stage/usr/local/lib"
make -s uninstall PREFIX=/usr/local DESTDIR="$stage" >/dev/null
expect_empty "$stage"
echo "install test: passed"
