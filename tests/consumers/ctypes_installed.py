"""Loads an installed librpo by its SONAME through ctypes, as a Python
program on the target machine would (the dynamic loader finds it; the test
points LD_LIBRARY_PATH at the installed library folder), checks that the
installed file is the one mapped, then computes a loss through the rpo
package. Usage: LD_LIBRARY_PATH=LIBDIR python3 ctypes_installed.py LIBDIR"""

import ctypes
import os
import sys

libdir = os.path.realpath(sys.argv[1])
raw = ctypes.CDLL("librpo.so.1")
raw.rpo_version_string.restype = ctypes.c_char_p
with open("/proc/self/maps") as maps:
    mapped = {line.split()[-1] for line in maps if "librpo" in line}
if not mapped or any(os.path.dirname(os.path.realpath(p)) != libdir for p in mapped):
    sys.exit("librpo.so.1 mapped from %s, not from %s" % (sorted(mapped), libdir))

# The rpo package, pointed at the SONAME: it goes through the same loader.
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..",
                                "examples", "python"))
import numpy as np  # noqa: E402
import rpo  # noqa: E402

lib = rpo.load_library("librpo.so.1")
ctx = rpo.Context(lib, weighting="uniform")
result = ctx.loss(np.array([-1.0, -2.0]), np.array([-3.0, -1.5]))
if not (result.loss > 0 and lib.version == raw.rpo_version_string().decode()):
    sys.exit("unexpected result %r from %r" % (result, lib))
print("  ctypes: %s loaded by SONAME from %s, loss %.6f"
      % (lib.version, libdir, result.loss))
