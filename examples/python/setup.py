"""Builds librpo with the project's Makefile and bundles it in the package.

The package sits in the project's source tree (examples/python), two
folders below the Makefile; `make lib` builds librpo there (into the
folder RPO_BUILD names, build/ by default, the Makefile's own default), and
the shared library is copied, under its SONAME, next to rpo/_library.py,
which loads it before searching elsewhere. Setuptools' own build files go
under that build folder too, so an install leaves the source tree as it was.

rpo._native (rpo/_native.c), the C part of RPOLoss's per-step path, is
built as an extension module when this Python's headers are there, and
left out with a warning otherwise: the package then runs the same path in
Python (rpo/_library.py). rpo._autograd (rpo/_autograd.cpp), RPOLoss's
training step as a C++ autograd node, is built likewise where torch and
its C++ headers are (Debian: libtorch-dev and pybind11-dev), against that
torch: it links torch's libraries and is used only under the torch
(major.minor) it was built for. Both reach librpo through the addresses
ctypes resolved, so neither links librpo. The wheel is tagged for this
Python and platform.
"""
import os
import pathlib
import re
import shutil
import subprocess

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BUILD = ROOT / os.environ.get("RPO_BUILD", "build")
HEADER = ROOT / "include" / "rpo.h"


def header_define(name):
    match = re.search(r"^#define %s (\d+)$" % name, HEADER.read_text(), re.M)
    if match is None:
        raise RuntimeError("%s has no #define %s" % (HEADER, name))
    return int(match.group(1))


def version():
    """The version, written once in include/rpo.h."""
    return ".".join(str(header_define("RPO_VERSION_" + part))
                    for part in ("MAJOR", "MINOR", "PATCH"))


class BuildWithLibrary(build_py):
    """build_py, then `make lib` and librpo.so.<major> into the package."""

    def run(self):
        super().run()
        if not (ROOT / "Makefile").exists():
            raise RuntimeError("the rpo package builds librpo from the source "
                               "tree it sits in, and %s has no Makefile" % ROOT)
        subprocess.run(["make", "-C", str(ROOT), "BUILD=%s" % BUILD, "lib"],
                       check=True)
        soname = "librpo.so.%d" % header_define("RPO_VERSION_MAJOR")
        target = pathlib.Path(self.build_lib) / "rpo" / soname
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(BUILD / soname, target)   # follows the symlink
        target.chmod(0o755)


FALLBACK = {"rpo._native": "RPOLoss runs its per-step path in Python",
            "rpo._autograd": "RPOLoss's step runs in a Python autograd.Function"}


class OptionalExtension(build_ext):
    """build_ext, where a failure (no Python or torch headers, no
    compiler) leaves that extension out instead of failing the install."""

    def run(self):
        try:
            super().run()
        except Exception as exc:   # distutils' errors have no common base
            print("warning: extensions not built (%s); %s" % (exc, FALLBACK["rpo._native"]))

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:
            print("warning: %s not built (%s); %s" % (ext.name, exc, FALLBACK[ext.name]))


def autograd_extension():
    """rpo._autograd against the torch this Python imports, or None (no
    torch, or no C++ headers with it: a warning says so)."""
    try:
        import torch
        from torch.utils import cpp_extension
    except ImportError:
        return None
    include = cpp_extension.include_paths()
    if not (pathlib.Path(include[0]) / "torch" / "csrc" / "autograd"
            / "python_variable.h").exists():
        print("warning: rpo._autograd not built (torch has no C++ headers: "
              "Debian's libtorch-dev); %s" % FALLBACK["rpo._autograd"])
        return None
    return Extension(
        "rpo._autograd", ["rpo/_autograd.cpp"], depends=["rpo/_loss_call.h"],
        language="c++",
        include_dirs=include, library_dirs=cpp_extension.library_paths(),
        libraries=["torch_python", "torch_cpu", "c10"],
        extra_compile_args=["-std=c++17", "-D_GLIBCXX_USE_CXX11_ABI=%d"
                            % int(torch._C._GLIBCXX_USE_CXX11_ABI)])


(BUILD / "python").mkdir(parents=True, exist_ok=True)
setup(
    version=version(),
    ext_modules=[Extension("rpo._native", ["rpo/_native.c"], depends=["rpo/_loss_call.h"])]
    + [ext for ext in (autograd_extension(),) if ext is not None],
    cmdclass={"build_py": BuildWithLibrary, "build_ext": OptionalExtension},
    options={"build": {"build_base": str(BUILD / "python" / "setuptools")},
             "egg_info": {"egg_base": str(BUILD / "python")}},
)
