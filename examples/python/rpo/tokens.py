"""Token-level helpers of librpo, for NumPy: per-token log-probs from
logits by a stable log-softmax and the fused backward into dlogits, and
per-sequence log-probs from token log-probs under a mask, with its backward.

    logps = rpo.token_logps(logits, targets)            # (T,) from (T, V)
    seq = rpo.seq_logps(logps.reshape(B, L), mask)      # (B,)
    ...
    dtok = rpo.seq_logps_backward(dseq, mask)           # (B, L)
    rpo.token_logps_backward(logits, targets, dtok.ravel(), dlogits)  # +=

Since 1.3, packed batches (sequences concatenated in one stream, with
cu_seqlens offsets) and a backward that reuses the forward's log-sum-exps
and may overwrite the logits with their gradient:

    logps, lse = rpo.token_logps_lse(logits, targets)            # (T,), (T,)
    seq = rpo.packed_seq_logps(logps, offsets, mask)            # (B,)
    ...
    dtok = rpo.packed_seq_logps_backward(dseq, offsets, len(logps), mask)
    grad = rpo.token_logps_grad(logits, targets, dtok, lse=lse, in_place=True)

The 1.3 functions also take CPU torch tensors (read and, in place, written
without a copy) and then return torch tensors.

Logits may be a view of wider rows (e.g. big[:, :V]): librpo takes a row
stride, so such views are read in place. Targets are integers; a negative
one marks a position without a token (log-prob 0, no gradient). Masks are
boolean or integer arrays (nonzero counts); boolean and uint8 ones are read
in place.
"""

import threading

import numpy as np

from . import _buffers as buf
from .context import Context

_SEQ_REDUCE = {"sum": 0, "mean": 1}
_local = threading.local()


def _context(context):
    """The caller's Context, or one kept per thread for these helpers (the
    logits helpers only use a context's scratch memory)."""
    if context is not None:
        return context
    ctx = getattr(_local, "context", None)
    if ctx is None:
        ctx = _local.context = Context()
    return ctx


def _suffix(dt):
    return "f32" if dt == np.float32 else "f64"


def _row_stride(a, dt, v):
    """The row stride (in elements) librpo can read a 2-D array with in
    place: rows of contiguous elements of type dt, spaced at least V apart;
    None when a's layout does not allow it."""
    item = np.dtype(dt).itemsize
    if a.dtype != dt or not a.flags.aligned:
        return None
    if a.shape[1] > 1 and a.strides[1] != item:
        return None
    if a.shape[0] <= 1:
        return max(a.shape[1], v)
    if a.strides[0] % item or a.strides[0] < a.shape[1] * item:
        return None
    return a.strides[0] // item


def _logits_rows(x, dt, name, vocab):
    """(array, T, V, row stride) for 2-D logits (T, >= V), read in place
    when the rows are contiguous (they may be spaced wider than V: a column
    slice of a wider matrix), else converted once."""
    a = np.asarray(x)
    if a.ndim != 2:
        raise ValueError("%s must be 2-dimensional (T, V), not %s" % (name, a.shape))
    v = a.shape[1] if vocab is None else int(vocab)
    if v > a.shape[1]:
        raise ValueError("vocab %d > %s's %d columns" % (v, name, a.shape[1]))
    stride = _row_stride(a, dt, v)
    if stride is None:
        a = np.ascontiguousarray(a, dtype=dt)
        stride = a.shape[1]
    return a, a.shape[0], v, stride


def _targets(targets, t, lib):
    y = np.asarray(targets)
    if y.shape != (t,):
        raise buf.size_error(lib, "targets has shape %s, want (%d,)" % (y.shape, t))
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError("targets must be integers, not %s" % y.dtype)
    if y.dtype != np.int32 or not y.flags.c_contiguous:
        if y.size and (y.max() > np.iinfo(np.int32).max or y.min() < np.iinfo(np.int32).min):
            raise buf.size_error(lib, "a target id does not fit int32")
        y = np.ascontiguousarray(y, dtype=np.int32)
    return y


def _mask(mask, shape):
    if mask is None:
        return None
    k = np.asarray(mask)
    if k.shape != shape:
        raise ValueError("mask has shape %s, want %s" % (k.shape, shape))
    if k.dtype in (np.bool_, np.uint8) and k.flags.c_contiguous:
        return k.view(np.uint8)
    return np.ascontiguousarray(k != 0, dtype=np.uint8)


def token_logps(logits, targets, *, vocab=None, context=None, dtype=None,
                out=None):
    """logps[t] = log softmax(logits[t, :V])[targets[t]] (0 where the target
    is negative); logits (T, >= V), V = vocab or its width. Returns (T,)."""
    dt = buf.call_dtype((logits,), dtype)
    ctx = _context(context)
    lib = ctx.library
    a, t, v, stride = _logits_rows(logits, dt, "logits", vocab)
    y = _targets(targets, t, lib)
    result = buf.as_output(out, dt, (t,), "out")
    with ctx._lock:
        lib.call("rpo_token_logps_" + _suffix(dt), ctx._handle(), t, v, stride,
                 buf.address(a), buf.address(y), buf.address(result))
    return result


def token_logps_backward(logits, targets, dlogps, dlogits, *, vocab=None,
                         context=None, lse=None):
    """dlogits[t, :V] += dlogps[t] * (onehot(targets[t]) - softmax(logits[t, :V])),
    in place: dlogits must be a writable array of logits' type and shape
    whose rows are contiguous (it may be a column slice of wider rows).
    lse (T,), from token_logps_lse, saves recomputing each row's
    normaliser (librpo 1.3). Returns dlogits."""
    ctx = _context(context)
    lib = ctx.library
    d = np.asarray(dlogits)
    dt = d.dtype
    if dt not in buf.FLOAT_TYPES:
        raise TypeError("dlogits must be float32 or float64, not %s" % dt)
    a, t, v, stride = _logits_rows(logits, dt, "logits", vocab)
    dstride = _row_stride(d, dt, v) if d.ndim == 2 else None
    if dstride is None or not d.flags.writeable or d.shape[0] != t or d.shape[1] < v:
        raise ValueError("dlogits must be a writable %s array of %d rows of at "
                         "least %d contiguous entries" % (dt, t, v))
    if dstride != stride:
        # librpo reads both with one row stride: lay the logits out like dlogits
        spaced = np.empty((t, dstride), dtype=dt)
        spaced[:, :v] = a[:, :v]
        a, stride = spaced, dstride
    y = _targets(targets, t, lib)
    g = buf.as_input(dlogps, dt, "dlogps", 1)
    if g.shape != (t,):
        raise buf.size_error(lib, "dlogps has shape %s, want (%d,)" % (g.shape, t))
    with ctx._lock:
        if lse is None:
            lib.call("rpo_token_logps_backward_" + _suffix(dt), ctx._handle(), t, v,
                     stride, buf.address(a), buf.address(y), buf.address(g),
                     buf.address(d))
        else:
            s = _lse_input(lse, t, lib)
            lib.call("rpo_token_logps_backward_lse_" + _suffix(dt), ctx._handle(), t,
                     v, stride, buf.address(a), buf.address(y), buf.address(s),
                     buf.address(g), buf.address(d), _GRAD_ACCUMULATE)
    return dlogits


def _reduce(reduce):
    try:
        return _SEQ_REDUCE[reduce]
    except KeyError:
        raise ValueError("reduce must be 'sum' or 'mean', not %r" % (reduce,)) from None


def seq_logps(token_logps, mask=None, reduce="sum", *, library=None,
              dtype=None, out=None):
    """Per-sequence log-probs (B,) from token log-probs (B, L): the sum (or
    mean) over the tokens where mask (B, L) is nonzero (all when None).
    Entries outside the mask are not read."""
    lib = _context(None).library if library is None else library
    dt = buf.call_dtype((token_logps,), dtype)
    x = buf.as_input(token_logps, dt, "token_logps", 2)
    b, t = x.shape
    k = _mask(mask, x.shape)
    result = buf.as_output(out, dt, (b,), "out")
    lib.call("rpo_seq_logps_" + _suffix(dt), b, t, buf.address(x),
             buf.address(k), _reduce(reduce), buf.address(result))
    return result


def seq_logps_backward(dseq_logps, mask=None, reduce="sum", *, length=None,
                       library=None, dtype=None, out=None):
    """dL/d token_logps (B, L) from dL/d seq_logps (B,): the sequence's
    gradient on each masked token (over the count for "mean"), 0 elsewhere.
    L comes from the mask, or from `length` when there is none."""
    lib = _context(None).library if library is None else library
    dt = buf.call_dtype((dseq_logps,), dtype)
    g = buf.as_input(dseq_logps, dt, "dseq_logps", 1)
    b = g.shape[0]
    if mask is not None:
        t = np.asarray(mask).shape[1] if np.ndim(mask) == 2 else -1
    elif length is not None:
        t = int(length)
    else:
        raise TypeError("seq_logps_backward needs a mask or a length")
    k = _mask(mask, (b, t))
    result = buf.as_output(out, dt, (b, t), "out")
    lib.call("rpo_seq_logps_backward_" + _suffix(dt), b, t, buf.address(k),
             _reduce(reduce), buf.address(g), buf.address(result))
    return result


# ------------------------------------------------------------------- 1.3

_GRAD_ACCUMULATE, _GRAD_OVERWRITE = 0, 1   # RPO_GRAD_*


def _unwrap(x):
    """(NumPy view, was a torch tensor) for a NumPy array, a buffer or a CPU
    torch tensor (shared, not copied; autograd is bypassed)."""
    if hasattr(x, "detach") and hasattr(x, "numpy"):
        if getattr(x, "device", None) is not None and x.device.type != "cpu":
            raise ValueError("librpo reads CPU tensors, not %s ones" % x.device.type)
        return x.detach().numpy(), True
    return x, False


def _wrap(a, torch_out):
    if not torch_out:
        return a
    import torch
    return torch.from_numpy(a)


def _lse_input(lse, t, lib):
    s = np.ascontiguousarray(_unwrap(lse)[0], dtype=np.float64)
    if s.shape != (t,):
        raise buf.size_error(lib, "lse has shape %s, want (%d,)" % (s.shape, t))
    return s


def _offsets(offsets, lib):
    o = np.asarray(_unwrap(offsets)[0])
    if o.ndim != 1 or o.shape[0] < 1:
        raise buf.size_error(lib, "offsets must be 1-D with B + 1 >= 1 entries, not %s"
                             % (o.shape,))
    if not np.issubdtype(o.dtype, np.integer):
        raise TypeError("offsets must be integers, not %s" % o.dtype)
    return np.ascontiguousarray(o, dtype=np.int64)


def token_logps_lse(logits, targets, *, vocab=None, context=None, dtype=None):
    """(logps, lse): token_logps and each row's log-sum-exp
    max + log sum exp(logits[t, :V] - max), in float64 whatever the logits'
    type (0 where the target is negative). Pass lse to token_logps_grad or
    token_logps_backward."""
    x, torch_out = _unwrap(logits)
    dt = buf.call_dtype((x,), dtype)
    ctx = _context(context)
    lib = ctx.library
    a, t, v, stride = _logits_rows(x, dt, "logits", vocab)
    y = _targets(_unwrap(targets)[0], t, lib)
    logps = np.empty(t, dtype=dt)
    lse = np.empty(t, dtype=np.float64)
    with ctx._lock:
        lib.call("rpo_token_logps_lse_" + _suffix(dt), ctx._handle(), t, v, stride,
                 buf.address(a), buf.address(y), buf.address(logps), buf.address(lse))
    return _wrap(logps, torch_out), _wrap(lse, torch_out)


def token_logps_grad(logits, targets, dlogps, *, lse=None, in_place=False, out=None,
                     vocab=None, context=None):
    """The gradient dlogps[t] * (onehot(targets[t]) - softmax(logits[t, :V]))
    WRITTEN (not accumulated) into a new (T, V) array, into `out`, or, with
    in_place=True, into the logits themselves (which must then be a writable
    array of rows librpo reads in place), so that no second (T, V) buffer
    is needed. Rows with a negative target or a zero dlogps get zeros;
    columns past V are never touched. lse (T,) from token_logps_lse saves
    one read of each row. Returns the gradient."""
    x, torch_out = _unwrap(logits)
    ctx = _context(context)
    lib = ctx.library
    a0 = np.asarray(x)
    dt = a0.dtype if a0.dtype in buf.FLOAT_TYPES else np.dtype(np.float64)
    a, t, v, stride = _logits_rows(a0, dt, "logits", vocab)
    if in_place:
        if a is not a0 or not a.flags.writeable:
            raise ValueError("in_place needs writable %s logits whose rows librpo "
                             "reads in place" % dt)
        d = a
    elif out is not None:
        d = np.asarray(_unwrap(out)[0])
        if d.dtype != dt or d.ndim != 2 or d.shape[0] != t or d.shape[1] < v \
                or _row_stride(d, dt, v) != stride or not d.flags.writeable:
            raise ValueError("out must be a writable %s array laid out as the logits" % dt)
    else:
        d = np.zeros((t, stride), dtype=dt)[:, :a.shape[1]]
    y = _targets(_unwrap(targets)[0], t, lib)
    g = buf.as_input(_unwrap(dlogps)[0], dt, "dlogps", 1)
    if g.shape != (t,):
        raise buf.size_error(lib, "dlogps has shape %s, want (%d,)" % (g.shape, t))
    s = None if lse is None else _lse_input(lse, t, lib)
    with ctx._lock:
        lib.call("rpo_token_logps_backward_lse_" + _suffix(dt), ctx._handle(), t, v,
                 stride, buf.address(a), buf.address(y), buf.address(s),
                 buf.address(g), buf.address(d), _GRAD_OVERWRITE)
    if in_place:
        return logits
    return _wrap(d, torch_out) if out is None else out


def packed_seq_logps(token_logps, offsets, mask=None, reduce="sum", *, context=None,
                     dtype=None, out=None):
    """Per-sequence log-probs (B,) of a packed stream: sequence b is tokens
    offsets[b] .. offsets[b + 1] - 1 of token_logps (T,) (cu_seqlens, B + 1
    entries), reduced by sum or mean over the tokens whose mask (T,) is
    nonzero (all when None). Tokens outside every sequence are not read."""
    x, torch_out = _unwrap(token_logps)
    ctx = _context(context)
    lib = ctx.library
    dt = buf.call_dtype((x,), dtype)
    a = buf.as_input(x, dt, "token_logps", 1)
    o = _offsets(offsets, lib)
    k = _mask(None if mask is None else _unwrap(mask)[0], a.shape)
    result = buf.as_output(out, dt, (o.shape[0] - 1,), "out")
    with ctx._lock:
        lib.call("rpo_packed_seq_logps_" + _suffix(dt), ctx._handle(), o.shape[0] - 1,
                 a.shape[0], buf.address(o), buf.address(a), buf.address(k),
                 _reduce(reduce), buf.address(result))
    return _wrap(result, torch_out and out is None)


def packed_seq_logps_backward(dseq_logps, offsets, length, mask=None, reduce="sum", *,
                              context=None, dtype=None, out=None):
    """dL/d token_logps (T,) = length entries from dL/d seq_logps (B,): each
    sequence's gradient on its counted tokens (over their count for
    "mean"), 0 on every other token."""
    g0, torch_out = _unwrap(dseq_logps)
    ctx = _context(context)
    lib = ctx.library
    dt = buf.call_dtype((g0,), dtype)
    g = buf.as_input(g0, dt, "dseq_logps", 1)
    o = _offsets(offsets, lib)
    if g.shape[0] != o.shape[0] - 1:
        raise buf.size_error(lib, "dseq_logps has %d entries for %d sequences"
                             % (g.shape[0], o.shape[0] - 1))
    t = int(length)
    k = _mask(None if mask is None else _unwrap(mask)[0], (t,))
    result = buf.as_output(out, dt, (t,), "out")
    with ctx._lock:
        lib.call("rpo_packed_seq_logps_backward_" + _suffix(dt), ctx._handle(),
                 o.shape[0] - 1, t, buf.address(o), buf.address(k), _reduce(reduce),
                 buf.address(g), buf.address(result))
    return _wrap(result, torch_out and out is None)
