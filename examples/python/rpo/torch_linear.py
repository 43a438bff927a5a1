"""rpo.torch.linear_token_logps: the fused linear log-probs of librpo 1.3 as
a differentiable PyTorch function (CPU tensors, float32 or float64).

    logps = linear_token_logps(hidden, lm_head.weight, targets, lm_head.bias)
    # (T,) from hidden (T, H), weight (V, H), targets (T,) int64 (negative:
    # no token), bias (V,) or None; backward fills hidden.grad,
    # weight.grad and bias.grad through librpo's backward

It equals linear + log_softmax + gather, but librpo never holds more than a
chunk of the T x V logits (include/rpo.h, rpo_linear_logps_*).
"""

import torch

from .linear import linear_token_logps as _forward
from .linear import linear_token_logps_backward as _backward

_TYPES = (torch.float32, torch.float64)


def _array(t):
    return None if t is None else t.detach().contiguous().numpy()


class _LinearLogps(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, bias, targets, context):
        logps, lse = _forward(_array(hidden), _array(weight), _array(targets),
                              _array(bias), return_lse=True, context=context)
        ctx.save_for_backward(hidden, weight, bias, targets)
        ctx.lse = lse
        ctx.context = context
        return torch.from_numpy(logps)

    @staticmethod
    def backward(ctx, grad):
        hidden, weight, bias, targets = ctx.saved_tensors
        dhidden = torch.zeros_like(hidden)
        dweight = torch.zeros(weight.shape, dtype=weight.dtype)
        dbias = torch.zeros_like(bias) if bias is not None else None
        _backward(_array(hidden), _array(weight), _array(targets),
                  _array(grad.to(hidden.dtype)), dhidden.numpy(), dweight.numpy(),
                  None if dbias is None else dbias.numpy(), bias=_array(bias),
                  lse=ctx.lse, context=ctx.context)
        need = ctx.needs_input_grad
        return (dhidden if need[0] else None, dweight if need[1] else None,
                dbias if need[2] else None, None, None)


def linear_token_logps(hidden, weight, targets, bias=None, *, context=None):
    """Per-token log-probs log softmax(hidden @ weight.T + bias)[targets]
    (0 where a target is negative), differentiable with respect to hidden,
    weight and bias. CPU tensors of one type, float32 or float64; context:
    an rpo.Context for the settings (threads, linear_chunk), or None."""
    tensors = [hidden, weight] + ([bias] if bias is not None else [])
    for t in tensors:
        if t.device.type != "cpu":
            raise ValueError("linear_token_logps takes CPU tensors, not %s" % t.device)
        if t.dtype != hidden.dtype or t.dtype not in _TYPES:
            raise TypeError("hidden, weight and bias must all be float32 or all "
                            "float64, not %s" % [x.dtype for x in tensors])
    targets = torch.as_tensor(targets)
    if targets.dtype.is_floating_point:
        raise TypeError("targets must be integers, not %s" % targets.dtype)
    return _LinearLogps.apply(hidden, weight, bias, targets.to(torch.int64), context)


__all__ = ["linear_token_logps"]
