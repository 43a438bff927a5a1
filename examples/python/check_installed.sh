#!/bin/sh
# The Python package as a user gets it: build the wheel (which builds
# librpo with the project's Makefile and bundles it), install it into a
# fresh venv that sees Debian's numpy and torch, and run the Python suites
# against the installed package from a folder outside the source tree, with
# no RPO_LIBRARY, so `import rpo` and the library it loads are the
# installed ones (test_library checks that they are).
#   check_installed.sh PYTHON BUILD     (run from the project root)
set -eu
python=$1
build=$2
root=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$python" -m venv --system-site-packages "$work/venv"
RPO_BUILD=$build "$work/venv/bin/python" -m pip wheel --quiet --no-build-isolation \
    --no-index --no-deps --wheel-dir "$work/wheel" examples/python
"$work/venv/bin/python" -m pip install --quiet --no-index --no-deps "$work"/wheel/rpo-*.whl
cp -R examples/python/tests "$work/tests"
cd "$work"
env -u RPO_LIBRARY RPO_SOURCE_ROOT="$root" RPO_EXPECT_INSTALLED=1 \
    PYTHONPYCACHEPREFIX="$work/pycache" \
    "$work/venv/bin/python" -m unittest discover -s tests -t .
