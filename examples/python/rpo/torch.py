"""rpo.torch: the RPO loss as a PyTorch module, computed by librpo.

    from rpo.torch import RPOLoss
    loss_fn = RPOLoss(beta=0.1, tau=0.5, weighting="embedding")
    loss = loss_fn(policy_chosen_logps, policy_rejected_logps,
                   reference_chosen_logps, reference_rejected_logps,
                   chosen_emb)            # rejected_emb None: paired data
    loss.backward()
    loss_fn.metrics   # {"rewards/chosen": ..., "rewards/margins": ..., ...}

The arguments follow TRL's DPO loss order. Tensors may live on any device
and be float32 or float64 (other floating types are computed in float32):
they are moved to the CPU for the call, read there without a copy when
they already are contiguous CPU tensors of the computed type, and the
gradients are moved back to each input's device and dtype. Prompt
embeddings are constants: no gradient flows to them.
"""

import torch

from .context import Context

# TRL's metric names -> fields of rpo.Metrics.
TRL_METRICS = (
    ("rewards/chosen", "reward_chosen"),
    ("rewards/rejected", "reward_rejected"),
    ("rewards/margins", "margin"),
    ("rewards/accuracies", "accuracy"),
)

_LOGP_ARGS = ("policy_chosen_logps", "policy_rejected_logps",
              "reference_chosen_logps", "reference_rejected_logps")


def _compute_dtype(tensors):
    """float64 when any log-prob tensor is float64, else float32."""
    present = [t.dtype for t in tensors if t is not None]
    return torch.float64 if torch.float64 in present else torch.float32


def _cpu_array(t, dtype):
    """A NumPy view of t on the CPU as a contiguous `dtype` tensor; no copy
    when t already is one."""
    if t is None:
        return None
    if not isinstance(t, torch.Tensor):
        t = torch.as_tensor(t)
    return t.detach().to(device="cpu", dtype=dtype).contiguous().numpy()


class _RPOFunction(torch.autograd.Function):
    """forward(module, pc, pr, rc, rr, chosen_emb, rejected_emb) -> loss.
    librpo returns dL/dpc and dL/dpr with the loss; backward scales them
    by the incoming gradient (dL/drc = -dL/dpc, dL/drr = -dL/dpr)."""

    @staticmethod
    def forward(fctx, module, pc, pr, rc, rr, chosen_emb, rejected_emb):
        logps = (pc, pr, rc, rr)
        want_grad = any(fctx.needs_input_grad[1:5])
        dt = _compute_dtype(logps)
        paired = rejected_emb is None or rejected_emb is chosen_emb
        arrays = [_cpu_array(t, dt) for t in logps]
        ce = _cpu_array(chosen_emb, dt)
        re = None if paired else _cpu_array(rejected_emb, dt)
        out = None
        if want_grad:
            gc = torch.empty(arrays[0].shape[0], dtype=dt)
            gr = torch.empty(arrays[1].shape[0], dtype=dt)
            out = (gc.numpy(), gr.numpy())  # librpo writes into gc, gr
        result = module.context.loss(*arrays, ce, re, grad=want_grad, out=out)
        module._last_metrics = result.metrics
        if want_grad:
            fctx.save_for_backward(gc, gr)
        fctx.targets = [None if t is None else (t.device, t.dtype) for t in logps]
        out_dtype = torch.promote_types(pc.dtype, pr.dtype)
        return torch.tensor(result.loss, dtype=out_dtype, device=pc.device)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(fctx, grad_loss):
        gc, gr = fctx.saved_tensors
        g = grad_loss.detach().to(device="cpu", dtype=gc.dtype)
        sides = (gc * g, gr * g, -(gc * g), -(gr * g))
        grads = []
        for k, grad in enumerate(sides):
            target = fctx.targets[k]
            if fctx.needs_input_grad[1 + k] and target is not None:
                grads.append(grad.to(device=target[0], dtype=target[1]))
            else:
                grads.append(None)
        return (None, *grads, None, None)


class RPOLoss(torch.nn.Module):
    """Relative Preference Optimization loss (arXiv 2402.10958) by librpo.

    RPOLoss(beta=0.1, tau=0.5, alpha=0.8, weighting="embedding",
            placement="auto", reduction="mean", *, library=None, **settings)

    weighting: "uniform", "diagonal" (alpha on the true pairs; alpha=1 is
    DPO) or "embedding" (softmax over prompt-embedding cosine distance with
    temperature tau). placement: "auto", "logit" or "loss". reduction:
    "mean" or "sum" over chosen rows. Any other setting of rpo.SETTINGS may
    be passed by name; `library` as for rpo.Context. The settings can be
    changed later through `self.context` (e.g. loss_fn.context.beta = 0.2).
    """

    def __init__(self, beta=0.1, tau=0.5, alpha=0.8, weighting="embedding",
                 placement="auto", reduction="mean", *, library=None,
                 **settings):
        super().__init__()
        self.context = Context(library, beta=beta, tau=tau, alpha=alpha,
                               weighting=weighting, placement=placement,
                               reduction=reduction, **settings)
        self._last_metrics = None

    def forward(self, policy_chosen_logps, policy_rejected_logps,
                reference_chosen_logps=None, reference_rejected_logps=None,
                chosen_emb=None, rejected_emb=None):
        """The loss, a 0-dim tensor on policy_chosen_logps' device.

        *_logps: (M) chosen and (N) rejected per-sequence log-probs; the
        references may be None (reference-free). chosen_emb (M, D) and
        rejected_emb (N, D): prompt embeddings for embedding weighting;
        rejected_emb None means paired data (M == N, the same prompts)."""
        logps = (policy_chosen_logps, policy_rejected_logps,
                 reference_chosen_logps, reference_rejected_logps)
        for name, t in zip(_LOGP_ARGS, logps):
            if t is not None and (not isinstance(t, torch.Tensor) or t.dim() != 1):
                raise ValueError("%s must be a 1-dimensional tensor" % name)
        return _RPOFunction.apply(self, *logps, chosen_emb, rejected_emb)

    @property
    def metrics(self):
        """The last forward's metrics under TRL's names, as floats ({}
        before the first call)."""
        if self._last_metrics is None:
            return {}
        return {trl: getattr(self._last_metrics, field)
                for trl, field in TRL_METRICS}

    def extra_repr(self):
        return ", ".join("%s=%r" % kv for kv in self.context.settings().items())
