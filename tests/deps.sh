#!/bin/sh
# The packages `make check` needs. As root on Debian, installs the missing
# ones with apt-get (and says so); otherwise prints what to install and fails.
set -u

# package:probe pairs; the probe is a shell test that passes when present.
missing=""
need() { # need PACKAGE PROBE...
    pkg=$1; shift
    if ! "$@" >/dev/null 2>&1; then missing="$missing $pkg"; fi
}

need libcmocka-dev pkg-config --exists cmocka
need pkg-config    command -v pkg-config
# The Python suites run under Debian's interpreter, not whichever is on PATH.
need python3-numpy /usr/bin/python3 -c 'import numpy'
need python3-torch /usr/bin/python3 -c 'import torch'
# check-python-installed builds the wheel offline (setuptools, wheel, pip)
# and installs it into a fresh venv (ensurepip comes with python3-venv).
need python3-setuptools /usr/bin/python3 -c 'import setuptools'
need python3-wheel /usr/bin/python3 -c 'import wheel.bdist_wheel'
need python3-pip   /usr/bin/python3 -m pip --version
need python3-venv  /usr/bin/python3 -c 'import ensurepip'
# rpo._autograd (examples/python/rpo/_autograd.cpp), RPOLoss's step as a
# C++ autograd node: a C++ compiler, torch's C++ headers and pybind11's,
# which they include (without them RPOLoss runs in a Python
# autograd.Function, and the tests of the node are skipped).
need g++           command -v g++
need libtorch-dev  /usr/bin/python3 -c 'import os, sys; from torch.utils.cpp_extension import include_paths; sys.exit(not os.path.exists(os.path.join(include_paths()[0], "torch", "csrc", "autograd", "python_variable.h")))'
need pybind11-dev  sh -c 'echo "#include <pybind11/pybind11.h>" | g++ -E -x c++ -I"$(/usr/bin/python3 -c "import sysconfig; print(sysconfig.get_paths()[\"include\"])")" - >/dev/null'
# The Rust crate's tests (offline, no crates).
need cargo         command -v cargo
# The install test builds a CMake project against the installed package.
need cmake         command -v cmake
need abigail-tools command -v abidw
need binutils      command -v readelf
# make sanitize and make check-fuzz (docs/hardening.md): clang with its
# sanitizer and libFuzzer runtimes (libclang-rt-dev pulls the ones of
# Debian's default clang, libclang-rt-14-dev on bookworm), and valgrind.
need clang         command -v clang
need libclang-rt-dev sh -c 'printf "int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }\n" | clang -fsanitize=fuzzer,address,undefined -x c - -o /dev/null'
need valgrind      command -v valgrind
# make coverage (docs/coverage.md): clang's source-based coverage, read by
# llvm-profdata and llvm-cov.
need llvm          command -v llvm-cov
# make USE_CBLAS=1 (tested by check-cblas, tests/tests.mk) links OpenBLAS.
need libopenblas-dev pkg-config --exists openblas
# the MPI example (examples/mpi/mpi.mk): compiler wrapper and launcher
need libopenmpi-dev command -v mpicc
need openmpi-bin    command -v mpirun

[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "make check: installing the test dependencies with apt-get:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing \
        || { echo "make check: apt-get install failed:$missing" >&2; exit 1; }
    exit 0
fi
echo "make check: missing test dependencies:$missing" >&2
echo "install them with:  sudo apt-get install$missing" >&2
exit 1
