"""Fused linear log-probs of librpo 1.3, for NumPy: per-token log-probs from
the final hidden states and the output projection (LM head), without ever
holding the T x V logits, and the backward into the hidden states, the
weight and the bias.

    logps, lse = rpo.linear_token_logps(hidden, weight, targets, bias,
                                        return_lse=True)       # (T,), (T,)
    rpo.linear_token_logps_backward(hidden, weight, targets, dlogps,
                                    dhidden, dweight, dbias, bias=bias,
                                    lse=lse)                   # += in place

hidden (T, H), weight (V, H), bias (V) or None, targets (T) integers
(negative: no token, log-prob 0, no gradient). The chunk of logits librpo
holds at a time is the context's "linear_chunk" setting; its threads are
"threads". The PyTorch autograd function is rpo.torch.linear_token_logps.
"""

import ctypes

import numpy as np

from . import _buffers as buf
from .tokens import _context, _suffix, _targets

_p, _size = ctypes.c_void_p, ctypes.c_size_t
# rpo_linear_logps_*: ctx, T, H, V, hidden, weight, ldw, bias, targets,
# logps, lse; the backward: ... targets, lse, dlogps, dhidden, dweight, dbias
_PROTOTYPES = {
    "rpo_linear_logps": [_p, _size, _size, _size, _p, _p, _size, _p, _p, _p, _p],
    "rpo_linear_logps_backward": [_p, _size, _size, _size, _p, _p, _size, _p,
                                  _p, _p, _p, _p, _p, _p],
}


def _call(ctx, name, dt, *args):
    """Calls librpo's `name`_f32/_f64 on ctx; raises the status's exception
    with the library's detail on failure."""
    lib = ctx.library
    full = "%s_%s" % (name, _suffix(dt))
    typed = lib.__dict__.setdefault("_linear_functions", {})
    fn = typed.get(full)
    if fn is None:
        fn = getattr(lib._cdll, full, None)
        if fn is None:
            raise lib.error(-6, "librpo %s has no %s" % (lib.version, full))
        fn.restype = ctypes.c_int
        fn.argtypes = _PROTOTYPES[name]
        typed[full] = fn
    status = fn(ctx._handle(), *args)
    if status != 0:
        detail_fn = getattr(lib._cdll, "rpo_ctx_error_detail", None)
        detail = None
        if detail_fn is not None:
            detail_fn.restype = ctypes.c_char_p
            detail_fn.argtypes = [_p]
            detail = detail_fn(ctx._handle()).decode() or None
        raise lib.error(status, detail)


def _operands(hidden, weight, bias, targets, dt, lib):
    h = buf.as_input(hidden, dt, "hidden", 2)
    w = buf.as_input(weight, dt, "weight", 2)
    if h.shape[1] != w.shape[1]:
        raise buf.size_error(lib, "hidden is %s and weight %s: H differs"
                             % (h.shape, w.shape))
    b = buf.as_input(bias, dt, "bias", 1)
    if b is not None and b.shape != (w.shape[0],):
        raise buf.size_error(lib, "bias has shape %s, want (%d,)" % (b.shape, w.shape[0]))
    y = _targets(targets, h.shape[0], lib)
    return h, w, b, y


def linear_token_logps(hidden, weight, targets, bias=None, *, return_lse=False,
                       context=None, dtype=None):
    """logps[t] = log softmax(hidden[t] @ weight.T + bias)[targets[t]] (0
    where the target is negative), (T,); with return_lse also each row's
    log-sum-exp (T,) for the backward. float32 when every array is."""
    dt = buf.call_dtype((hidden, weight, bias), dtype)
    ctx = _context(context)
    h, w, b, y = _operands(hidden, weight, bias, targets, dt, ctx.library)
    t, v = h.shape[0], w.shape[0]
    logps = np.empty(t, dtype=dt)
    lse = np.empty(t, dtype=dt) if return_lse else None
    with ctx._lock:
        _call(ctx, "rpo_linear_logps", dt, t, h.shape[1], v, buf.address(h),
              buf.address(w), h.shape[1], buf.address(b), buf.address(y),
              buf.address(logps), buf.address(lse))
    return (logps, lse) if return_lse else logps


def _gradient(a, dt, shape, name):
    """The caller's gradient array, written in place: exact type and shape,
    C-contiguous and writable (a copy would leave it unwritten)."""
    if a is None:
        return None
    return buf.as_output(a, dt, shape, name)


def linear_token_logps_backward(hidden, weight, targets, dlogps, dhidden,
                                dweight, dbias=None, *, bias=None, lse=None,
                                context=None):
    """Accumulates the gradients of logps (linear_token_logps) weighted by
    dlogps (T,) into dhidden (T, H), dweight (V, H) and dbias (V, or None),
    in place; their type (float32 or float64) is the call's. lse: the
    forward's, or None to recompute it. Returns (dhidden, dweight, dbias)."""
    dt = np.asarray(dhidden).dtype
    if dt not in buf.FLOAT_TYPES:
        raise TypeError("dhidden must be float32 or float64, not %s" % dt)
    ctx = _context(context)
    lib = ctx.library
    h, w, b, y = _operands(hidden, weight, bias, targets, dt, lib)
    t, hd, v = h.shape[0], h.shape[1], w.shape[0]
    g = buf.as_input(dlogps, dt, "dlogps", 1)
    if g.shape != (t,):
        raise buf.size_error(lib, "dlogps has shape %s, want (%d,)" % (g.shape, t))
    s = buf.as_input(lse, dt, "lse", 1)
    if s is not None and s.shape != (t,):
        raise buf.size_error(lib, "lse has shape %s, want (%d,)" % (s.shape, t))
    dh = _gradient(dhidden, dt, (t, hd), "dhidden")
    dw = _gradient(dweight, dt, (v, hd), "dweight")
    db = _gradient(dbias, dt, (v,), "dbias")
    with ctx._lock:
        _call(ctx, "rpo_linear_logps_backward", dt, t, hd, v, buf.address(h),
              buf.address(w), hd, buf.address(b), buf.address(y), buf.address(s),
              buf.address(g), buf.address(dh), buf.address(dw), buf.address(db))
    return dhidden, dweight, dbias
