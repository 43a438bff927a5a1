"""Finding, loading and describing the shared library.

The search order is the documented one: an explicit path, the RPO_LIBRARY
environment variable, the library bundled inside the installed package (pip
install puts librpo.so.1 beside this file), the build folder of the source
tree this package sits in (when it sits in one), then the system's dynamic
loader (by SONAME). Every candidate that fails
is remembered, so a failed search says what it tried and why each failed;
when a candidate the user named (explicit path or RPO_LIBRARY) fails and a
later one loads, a warning says so, because silently loading a different
library than the one asked for would be a trap.
"""

import ctypes
import importlib.machinery
import importlib.util
import os
import pathlib
import threading
import warnings

from . import errors

ABI_MAJOR = 1
SONAME = "librpo.so.%d" % ABI_MAJOR
ENV_VAR = "RPO_LIBRARY"
# RPO_NATIVE=0: rpo.torch's per-step path in Python even where rpo._native
# (rpo/_native.c) and rpo._autograd (rpo/_autograd.cpp) were built (tests
# compare them; the bench shows both).
NATIVE_ENV_VAR = "RPO_NATIVE"
NATIVE_INTERFACE = 1      # _native.INTERFACE this package was written for
AUTOGRAD_INTERFACE = 1    # _autograd.INTERFACE likewise

# The installed package carries its own build of the library beside this
# file (setup.py bundles it).
_PACKAGE_DIR = pathlib.Path(__file__).resolve().parent
# examples/python/rpo/_library.py -> the project root is three folders up;
# an installed package has no project root (no include/rpo.h up there).
_PROJECT_ROOT = pathlib.Path(__file__).resolve().parents[3]

_p = ctypes.c_void_p      # every array, and the context pointer
_size = ctypes.c_size_t
_int = ctypes.c_int
_dbl = ctypes.c_double
_pdbl = ctypes.POINTER(ctypes.c_double)

_LOSS_ARGS = [_p, _size, _p, _p, _size, _p, _p, _size, _p, _p, _p, _p, _p]
_WEIGHTS_ARGS = [_p, _size, _size, _size, _p, _p, _p]
_LOSS_WEIGHTED_ARGS = [_p, _size, _p, _p, _size, _p, _p, _p, _p, _p, _p]
_TOKEN_ARGS = [_p, _size, _size, _size, _p, _p, _p]
_TOKEN_BACKWARD_ARGS = [_p, _size, _size, _size, _p, _p, _p, _p]
_SEQ_ARGS = [_size, _size, _p, _p, _int, _p]
_SEQ_BACKWARD_ARGS = [_size, _size, _p, _int, _p, _p]
# 1.3: the fast token path
_TOKEN_LSE_ARGS = [_p, _size, _size, _size, _p, _p, _p, _p]
_TOKEN_BACKWARD_LSE_ARGS = [_p, _size, _size, _size, _p, _p, _p, _p, _p, _int]
_PACKED_ARGS = [_p, _size, _size, _p, _p, _p, _int, _p]
_PACKED_BACKWARD_ARGS = [_p, _size, _size, _p, _p, _int, _p, _p]
# 1.2: beyond the paper (docs/extensions.md)
_EMBED_GRAD_ARGS = _LOSS_ARGS + [_p, _p]
_ROWS_ARGS = [_p, _size, _size, _size, _p, _p, _size, _p, _p, _size, _p, _p,
              _p, _p, _p, _p, _p]
_ROWS_WEIGHTED_ARGS = [_p, _size, _size, _size, _p, _p, _size, _p, _p, _p,
                       _p, _p, _p]
# 1.3: batches of related prompts (rpo.sampling)
_RELATED_BATCHES_ARGS = [_p, _size, _size, _p, _size, ctypes.c_uint64, _p]

# name: (restype, argtypes). Entry points of later minor versions are bound
# when the loaded library has them; calling a missing one raises
# UnsupportedError.
PROTOTYPES = {
    "rpo_ctx_create": (_p, []),
    "rpo_ctx_free": (None, [_p]),
    "rpo_ctx_set": (_int, [_p, _int, _dbl]),
    "rpo_ctx_get": (_int, [_p, _int, _pdbl]),
    "rpo_param_bounds": (_int, [_int, _pdbl, _pdbl]),
    "rpo_ctx_stat": (_int, [_p, _int, _pdbl]),
    "rpo_loss_f32": (_int, _LOSS_ARGS),
    "rpo_loss_f64": (_int, _LOSS_ARGS),
    "rpo_weights_f32": (_int, _WEIGHTS_ARGS),
    "rpo_weights_f64": (_int, _WEIGHTS_ARGS),
    "rpo_loss_weighted_f32": (_int, _LOSS_WEIGHTED_ARGS),
    "rpo_loss_weighted_f64": (_int, _LOSS_WEIGHTED_ARGS),
    # 1.1: token-level helpers
    "rpo_token_logps_f32": (_int, _TOKEN_ARGS),
    "rpo_token_logps_f64": (_int, _TOKEN_ARGS),
    "rpo_token_logps_backward_f32": (_int, _TOKEN_BACKWARD_ARGS),
    "rpo_token_logps_backward_f64": (_int, _TOKEN_BACKWARD_ARGS),
    "rpo_seq_logps_f32": (_int, _SEQ_ARGS),
    "rpo_seq_logps_f64": (_int, _SEQ_ARGS),
    "rpo_seq_logps_backward_f32": (_int, _SEQ_BACKWARD_ARGS),
    "rpo_seq_logps_backward_f64": (_int, _SEQ_BACKWARD_ARGS),
    # 1.2: embedding gradients and row blocks
    "rpo_loss_embed_grad_f32": (_int, _EMBED_GRAD_ARGS),
    "rpo_loss_embed_grad_f64": (_int, _EMBED_GRAD_ARGS),
    "rpo_loss_rows_f32": (_int, _ROWS_ARGS),
    "rpo_loss_rows_f64": (_int, _ROWS_ARGS),
    "rpo_loss_rows_weighted_f32": (_int, _ROWS_WEIGHTED_ARGS),
    "rpo_loss_rows_weighted_f64": (_int, _ROWS_WEIGHTED_ARGS),
    # 1.3: error details, batches of related prompts
    "rpo_ctx_error_detail": (ctypes.c_char_p, [_p]),
    "rpo_related_batches_f32": (_int, _RELATED_BATCHES_ARGS),
    "rpo_related_batches_f64": (_int, _RELATED_BATCHES_ARGS),
    # 1.3: the fast token path (docs/c-trainer.md)
    "rpo_token_logps_lse_f32": (_int, _TOKEN_LSE_ARGS),
    "rpo_token_logps_lse_f64": (_int, _TOKEN_LSE_ARGS),
    "rpo_token_logps_backward_lse_f32": (_int, _TOKEN_BACKWARD_LSE_ARGS),
    "rpo_token_logps_backward_lse_f64": (_int, _TOKEN_BACKWARD_LSE_ARGS),
    "rpo_packed_seq_logps_f32": (_int, _PACKED_ARGS),
    "rpo_packed_seq_logps_f64": (_int, _PACKED_ARGS),
    "rpo_packed_seq_logps_backward_f32": (_int, _PACKED_BACKWARD_ARGS),
    "rpo_packed_seq_logps_backward_f64": (_int, _PACKED_BACKWARD_ARGS),
    "rpo_version_number": (ctypes.c_uint, []),
    "rpo_version_string": (ctypes.c_char_p, []),
    "rpo_status_string": (ctypes.c_char_p, [_int]),
    # 1.3: the objectives (rpo.objectives), batch and results by pointer
    "rpo_objective_f32": (_int, [_p, _p, _p]),
    "rpo_objective_f64": (_int, [_p, _p, _p]),
    "rpo_objective_rows_f32": (_int, [_p, _size, _size, _p, _p]),
    "rpo_objective_rows_f64": (_int, [_p, _size, _size, _p, _p]),
}

# Entry points whose first argument is not a context (the others' failures
# carry the context's rpo_ctx_error_detail).
_WITHOUT_CONTEXT = {"rpo_ctx_create", "rpo_param_bounds", "rpo_seq_logps_f32",
                    "rpo_seq_logps_f64", "rpo_seq_logps_backward_f32",
                    "rpo_seq_logps_backward_f64", "rpo_version_number",
                    "rpo_version_string", "rpo_status_string",
                    "rpo_ctx_error_detail"}


class LibraryNotFoundError(OSError):
    """No candidate loaded; `attempts` lists (source, path, reason)."""

    def __init__(self, attempts):
        self.attempts = attempts
        lines = ["librpo could not be loaded; tried, in order:"]
        lines += ["  %s: %s: %s" % a for a in attempts]
        lines.append("build it with `make`, or set %s to the path of %s"
                     % (ENV_VAR, SONAME))
        super().__init__("\n".join(lines))


class Library:
    """One loaded librpo: its ctypes handle with typed entry points, where it
    came from (`source`, `path`) and its version."""

    def __init__(self, path, source="explicit path"):
        self.path = str(path)
        self.source = source
        self._cdll = ctypes.CDLL(self.path)
        self._functions = {}
        for name, (restype, argtypes) in PROTOTYPES.items():
            try:
                fn = getattr(self._cdll, name)
            except AttributeError:
                continue
            fn.restype = restype
            fn.argtypes = argtypes
            self._functions[name] = fn
        if "rpo_version_number" not in self._functions:
            raise OSError("%s does not export rpo_version_number: not librpo"
                          % self.path)
        self.version_number = int(self._functions["rpo_version_number"]())
        self.version = self._functions["rpo_version_string"]().decode()
        if self.version_number // 10000 != ABI_MAJOR:
            raise OSError("%s is librpo %s; this package needs major version %d"
                          % (self.path, self.version, ABI_MAJOR))

    def __repr__(self):
        return "<librpo %s from %s (%s)>" % (self.version, self.path, self.source)

    def has(self, name):
        """True when the loaded library exports entry point `name`."""
        return name in self._functions

    def function(self, name):
        """The typed ctypes function `name`; UnsupportedError when the loaded
        library is too old to have it."""
        fn = self._functions.get(name)
        if fn is None:
            raise errors.UnsupportedError(
                errors.ERR_UNSUPPORTED,
                self.status_string(errors.ERR_UNSUPPORTED),
                "librpo %s at %s has no %s" % (self.version, self.path, name))
        return fn

    def native(self):
        """rpo._native, the C part of rpo.torch's per-step path, or None
        (not built, or RPO_NATIVE=0). It calls librpo through this
        library's function addresses, so any build of it serves any
        library: the installed package's own, else the one the Makefile
        builds beside this library (the source tree's build folder)."""
        return _native_module(os.path.dirname(self.path))

    def autograd(self):
        """rpo._autograd, RPOLoss's training step as a C++ autograd node,
        or None (not built: it needs libtorch's C++ headers; built for
        another torch; or RPO_NATIVE=0). Found as native() is, and like
        it serves any library. Imports torch."""
        return _extension_module(os.path.dirname(self.path), "_autograd")

    def address(self, name):
        """The address of entry point `name`, for rpo._native."""
        return ctypes.cast(self.function(name), ctypes.c_void_p).value

    def status_string(self, status):
        return self._functions["rpo_status_string"](status).decode()

    def error_detail(self, ctx):
        """rpo_ctx_error_detail(ctx): what the last failed call on the
        context said ("" from a library older than 1.3)."""
        fn = self._functions.get("rpo_ctx_error_detail")
        if fn is None or not ctx:
            return ""
        return fn(ctx).decode(errors="replace")

    def error(self, status, detail=None, ctx=None):
        """The exception for a failing status, with the library's message
        and, when the failed call was on context `ctx`, its detail."""
        return errors.error_for(status, self.status_string(status), detail,
                                self.error_detail(ctx))

    def call(self, name, *args, detail=None):
        """Calls entry point `name`; raises the status's exception on
        failure."""
        status = self.function(name)(*args)
        if status != errors.OK:
            ctx = None if name in _WITHOUT_CONTEXT else args[0]
            raise self.error(status, detail, ctx)


_natives = {}


def _native_module(folder):
    return _extension_module(folder, "_native")


def _usable(name, module):
    """Whether an extension module is the one this package was written
    for: a stale build is ignored, not misused; rpo._autograd also only
    with the torch (major.minor) whose headers it was built against."""
    if name == "_native":
        return getattr(module, "INTERFACE", None) == NATIVE_INTERFACE
    if getattr(module, "INTERFACE", None) != AUTOGRAD_INTERFACE:
        return False
    import torch
    built = getattr(module, "TORCH_VERSION", "").split(".")[:2]
    return built == torch.__version__.split(".")[:2]


def _extension_module(folder, name):
    """rpo.<name> from the package, else the build beside the library in
    `folder` (the source tree's build folder), else None."""
    if os.environ.get(NATIVE_ENV_VAR, "1") == "0":
        return None
    key = (folder, name)
    if key not in _natives:
        module = None
        if name == "_autograd":
            import torch  # noqa: F401 (its libraries, which _autograd links)
        try:
            module = importlib.import_module("." + name, __package__)
        except ImportError:   # not built, or built for another torch
            for suffix in importlib.machinery.EXTENSION_SUFFIXES:
                path = os.path.join(folder, name + suffix)
                if os.path.exists(path):
                    spec = importlib.util.spec_from_file_location(
                        "rpo." + name, path)
                    module = importlib.util.module_from_spec(spec)
                    try:
                        spec.loader.exec_module(module)
                    except ImportError:
                        module = None
                    break
        if module is not None and not _usable(name, module):
            module = None
        _natives[key] = module
    return _natives[key]


def candidates(path=None):
    """The (source, path) pairs the search tries, in order."""
    found = []
    if path is not None:
        found.append(("explicit path", os.fspath(path)))
    env = os.environ.get(ENV_VAR)
    if env:
        found.append((ENV_VAR, env))
    if (_PACKAGE_DIR / SONAME).exists():
        found.append(("bundled", str(_PACKAGE_DIR / SONAME)))
    if (_PROJECT_ROOT / "include" / "rpo.h").exists():
        found.append(("build folder", str(_PROJECT_ROOT / "build" / SONAME)))
    found.append(("system", SONAME))
    return found


_lock = threading.Lock()
_default = None


def load_library(path=None):
    """Loads librpo by the search order (see the module's comment) and
    returns a Library. Raises LibraryNotFoundError listing every attempt."""
    attempts = []
    for source, candidate in candidates(path):
        if source == "build folder" and not os.path.exists(candidate):
            attempts.append((source, candidate, "no such file"))
            continue
        try:
            lib = Library(candidate, source)
        except OSError as exc:
            attempts.append((source, candidate, str(exc)))
            continue
        named = [a for a in attempts if a[0] in ("explicit path", ENV_VAR)]
        if named:
            warnings.warn("librpo: %s could not be loaded (%s); using %s %s"
                          % (named[0][1], named[0][2], source, candidate),
                          RuntimeWarning, stacklevel=2)
        return lib
    raise LibraryNotFoundError(attempts)


def default_library():
    """The library used when none is given: searched for once, then kept."""
    global _default
    with _lock:
        if _default is None:
            _default = load_library()
        return _default


def resolve(library):
    """A Library from None (the default), a path, or a Library."""
    if library is None:
        return default_library()
    if isinstance(library, Library):
        return library
    return load_library(library)
