"""NumPy arrays and buffers in, C pointers out, copying only when needed.

librpo reads contiguous row-major float32 or float64 arrays. An input that
already is one (a NumPy array, or any object exporting the buffer protocol
with format 'f' or 'd': memoryview, array.array, a CPU torch tensor's
.numpy(), ...) is passed by address without a copy; anything else is
converted once. Outputs the caller supplies must already have the exact
type, shape and layout, because a silent copy would leave them unwritten.
"""

import numpy as np

from . import errors

FLOAT_TYPES = (np.dtype(np.float32), np.dtype(np.float64))


def call_dtype(inputs, dtype=None):
    """The element type of the call: `dtype` when given (float32 or
    float64), else float32 when every present input is float32, else
    float64."""
    if dtype is not None:
        dt = np.dtype(dtype)
        if dt not in FLOAT_TYPES:
            raise TypeError("dtype must be float32 or float64, not %s" % dt)
        return dt
    present = [np.asarray(x).dtype for x in inputs if x is not None]
    if present and all(dt == np.float32 for dt in present):
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def as_input(x, dtype, name, ndim):
    """x as a C-contiguous, aligned array of dtype with ndim dimensions:
    x itself (a view, no copy) when it already is one."""
    if x is None:
        return None
    a = np.asarray(x)
    if a.ndim != ndim:
        raise ValueError("%s must have %d dimension(s), not shape %s"
                         % (name, ndim, a.shape))
    if a.dtype != dtype or not (a.flags.c_contiguous and a.flags.aligned):
        a = np.ascontiguousarray(a, dtype=dtype)
    return a


def as_output(out, dtype, shape, name):
    """A writable array for results: a fresh one, or the caller's `out`
    when it has exactly the dtype, shape and C-contiguous layout."""
    if out is None:
        return np.empty(shape, dtype=dtype)
    a = np.asarray(out)
    if a.dtype != dtype or a.shape != tuple(shape):
        raise ValueError("%s must be %s with shape %s, not %s %s"
                         % (name, dtype, tuple(shape), a.dtype, a.shape))
    if not (a.flags.c_contiguous and a.flags.aligned and a.flags.writeable):
        raise ValueError("%s must be C-contiguous, aligned and writable"
                         % name)
    return a


def address(a):
    """The C pointer of an array, or None (NULL) for an absent one."""
    return None if a is None else a.ctypes.data


def size_error(lib, what):
    """RPO_ERR_SIZE for a shape mismatch the binding sees before the call
    (the C API takes sizes, not shapes, so it cannot see it)."""
    return lib.error(errors.ERR_SIZE, what)
