"""Builds librpo with the project's Makefile and bundles it in the package.

The package sits in the project's source tree (examples/python), two
folders below the Makefile; `make lib` builds librpo there (into the
folder RPO_BUILD names, build/ by default, the Makefile's own default), and
the shared library is copied, under its SONAME, next to rpo/_library.py,
which loads it before searching elsewhere. Setuptools' own build files go
under that build folder too, so an install leaves the source tree as it was.

The wheel is tagged for this platform (it carries native code) but for any
Python 3: the package reaches librpo through ctypes, not the Python C API.
"""
import os
import pathlib
import re
import shutil
import subprocess

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py
from wheel.bdist_wheel import bdist_wheel

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


class WithNativeCode(Distribution):
    """Native code inside: installed into the platform's library folder
    (platlib), and the wheel is not pure."""

    def has_ext_modules(self):
        return True


class PlatformWheel(bdist_wheel):
    def get_tag(self):
        return ("py3", "none", super().get_tag()[2])


(BUILD / "python").mkdir(parents=True, exist_ok=True)
setup(
    version=version(),
    distclass=WithNativeCode,
    cmdclass={"build_py": BuildWithLibrary, "bdist_wheel": PlatformWheel},
    options={"build": {"build_base": str(BUILD / "python" / "setuptools")},
             "egg_info": {"egg_base": str(BUILD / "python")}},
)
