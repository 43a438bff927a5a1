"""Per-token log-probs from logits as a differentiable PyTorch function over
librpo 1.3's token path (CPU tensors, float32 or float64):

    logps = token_logps(logits, targets)
    # (T,) from logits (T, V), targets (T,) int64 (negative: no token,
    # log-prob 0); backward fills logits.grad through librpo's backward,
    # given the forward's log-sum-exps (rpo_token_logps_lse_*), so each row
    # of logits is read once more, not twice

It equals log_softmax(logits).gather(targets). With in_place_backward=True
the backward writes the gradient over the logits tensor itself and hands
that tensor to autograd as logits.grad (llm.c's fused classifier): no second
T x V buffer, but the logits' values are gone after backward(), so use it
only when nothing reads them afterwards.
"""

import torch

from .tokens import token_logps_grad, token_logps_lse

_TYPES = (torch.float32, torch.float64)


class _TokenLogps(torch.autograd.Function):
    @staticmethod
    def forward(ctx, logits, targets, in_place, context):
        logps, lse = token_logps_lse(logits.detach(), targets, context=context)
        ctx.save_for_backward(logits, targets, lse)
        ctx.in_place = in_place
        ctx.context = context
        return logps

    @staticmethod
    def backward(ctx, grad):
        logits, targets, lse = ctx.saved_tensors
        if not ctx.needs_input_grad[0]:
            return None, None, None, None
        dlogps = grad.to(logits.dtype).contiguous()
        if ctx.in_place:
            dlogits = logits.detach()
            token_logps_grad(dlogits, targets, dlogps, lse=lse, in_place=True,
                             context=ctx.context)
        else:
            dlogits = token_logps_grad(logits.detach(), targets, dlogps, lse=lse,
                                       context=ctx.context)
        return dlogits, None, None, None


def token_logps(logits, targets, *, in_place_backward=False, context=None):
    """log softmax(logits[t])[targets[t]] (0 where a target is negative),
    differentiable with respect to the logits. logits: a contiguous (T, V)
    CPU tensor, float32 or float64; targets: (T,) integers; context: an
    rpo.Context for the settings (threads), or None. in_place_backward:
    see the module's docstring."""
    if logits.device.type != "cpu":
        raise ValueError("token_logps takes CPU tensors, not %s" % logits.device)
    if logits.dtype not in _TYPES:
        raise TypeError("logits must be float32 or float64, not %s" % logits.dtype)
    if logits.dim() != 2 or not logits.is_contiguous():
        raise ValueError("logits must be a contiguous (T, V) tensor, not %s"
                         % (tuple(logits.shape),))
    targets = torch.as_tensor(targets)
    if targets.dtype.is_floating_point:
        raise TypeError("targets must be integers, not %s" % targets.dtype)
    return _TokenLogps.apply(logits, targets.to(torch.int64), bool(in_place_backward),
                             context)


__all__ = ["token_logps"]
