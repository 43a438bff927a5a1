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
embeddings get gradients when they require them (a prompt encoder being
trained; librpo 1.2), otherwise they are constants.

TRL's loss family (loss_type=, label_smoothing=, discopop_tau=), the logit
scale, optimal-transport weights (weighting="sinkhorn") and per-token
averages (chosen_lengths=, rejected_lengths=) are explained in
docs/beyond.md; rpo.distributed.GlobalRPOLoss spans data-parallel ranks.
"""

import torch

from .context import Context
from .sampling import RelatedPromptSampler  # noqa: F401 (re-exported)
from .cached import cached_backward  # noqa: F401 (re-exported)
from .torch_linear import linear_token_logps  # noqa: F401 (librpo 1.3)

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


def _target(t):
    """Where a gradient for t goes back to: (device, dtype), or None."""
    return None if t is None else (t.device, t.dtype)


def _scaled_back(grads, g, targets, needed):
    """Each gradient times the incoming g, on its input's device and dtype;
    None where no gradient is needed."""
    out = []
    for grad, target, need in zip(grads, targets, needed):
        if need and target is not None and grad is not None:
            out.append((grad * g).to(device=target[0], dtype=target[1]))
        else:
            out.append(None)
    return out


class _RPOFunction(torch.autograd.Function):
    """forward(module, pc, pr, rc, rr, chosen_emb, rejected_emb) -> loss.
    librpo returns dL/dpc and dL/dpr with the loss (and dL/d embeddings
    when they require gradients); backward scales them by the incoming
    gradient (dL/drc = -dL/dpc, dL/drr = -dL/dpr)."""

    @staticmethod
    def forward(fctx, module, pc, pr, rc, rr, chosen_emb, rejected_emb):
        logps = (pc, pr, rc, rr)
        want_grad = any(fctx.needs_input_grad[1:5])
        want_emb = any(fctx.needs_input_grad[5:7])
        dt = _compute_dtype(logps)
        paired = rejected_emb is None or rejected_emb is chosen_emb
        arrays = [_cpu_array(t, dt) for t in logps]
        ce = _cpu_array(chosen_emb, dt)
        re = None if paired else _cpu_array(rejected_emb, dt)
        gc = gr = ge = gf = None
        if want_emb:
            result = module.context.loss_embed_grad(*arrays, ce, re)
            gc, gr = torch.from_numpy(result.grad_chosen), torch.from_numpy(result.grad_rejected)
            ge = torch.from_numpy(result.grad_chosen_emb)  # paired: both roles
            if result.grad_rejected_emb is not None:
                gf = torch.from_numpy(result.grad_rejected_emb)
        else:
            out = None
            if want_grad:
                gc = torch.empty(arrays[0].shape[0], dtype=dt)
                gr = torch.empty(arrays[1].shape[0], dtype=dt)
                out = (gc.numpy(), gr.numpy())  # librpo writes into gc, gr
            result = module.context.loss(*arrays, ce, re, grad=want_grad, out=out)
        module._last_metrics = result.metrics
        fctx.save_for_backward(gc, gr, ge, gf)
        # the same tensor passed as both embeddings gets its gradient once
        fctx.targets = [_target(t) for t in logps] + [
            _target(chosen_emb), None if paired else _target(rejected_emb)]
        out_dtype = torch.promote_types(pc.dtype, pr.dtype)
        return torch.tensor(result.loss, dtype=out_dtype, device=pc.device)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(fctx, grad_loss):
        gc, gr, ge, gf = fctx.saved_tensors
        dt = gc.dtype
        g = grad_loss.detach().to(device="cpu", dtype=dt)
        grads = _scaled_back((gc, gr, -gc, -gr, ge, gf), g, fctx.targets,
                             fctx.needs_input_grad[1:7])
        return (None, *grads)


def per_token(logps, lengths):
    """Per-sequence log-probs divided by their completion lengths (clamped
    to at least 1, as TRL does): TRL's ipo and sigmoid_norm read these.
    Differentiable; None stays None."""
    if logps is None or lengths is None:
        return logps
    lengths = torch.as_tensor(lengths, device=logps.device)
    return logps / lengths.to(logps.dtype).clamp(min=1)


def prepared_logps(logps, chosen_lengths, rejected_lengths):
    """The four log-prob arguments of a forward (policy chosen, policy
    rejected, reference chosen, reference rejected) checked to be 1-D
    tensors or None, then divided by their lengths when given."""
    for name, t in zip(_LOGP_ARGS, logps):
        if t is not None and (not isinstance(t, torch.Tensor) or t.dim() != 1):
            raise ValueError("%s must be a 1-dimensional tensor" % name)
    lengths = (chosen_lengths, rejected_lengths, chosen_lengths, rejected_lengths)
    return tuple(per_token(t, n) for t, n in zip(logps, lengths))


class RPOLoss(torch.nn.Module):
    """Relative Preference Optimization loss (arXiv 2402.10958) by librpo.

    RPOLoss(beta=0.1, tau=0.5, alpha=0.8, weighting="embedding",
            placement="auto", reduction="mean", *, loss_type=None,
            label_smoothing=None, discopop_tau=None, logit_scale=None,
            library=None, **settings)

    weighting: "uniform", "diagonal" (alpha on the true pairs; alpha=1 is
    DPO), "embedding" (softmax over prompt-embedding cosine distance with
    temperature tau) or "sinkhorn" (the optimal-transport plan between the
    prompts, epsilon = tau). placement: "auto", "logit" or "loss".
    reduction: "mean" or "sum" over chosen rows. loss_type: the per-pair
    loss by TRL's name (rpo.LOSS_TYPES; "sigmoid" by default);
    label_smoothing: eps of sigmoid, robust and exo_pair; discopop_tau:
    discopop's temperature; logit_scale: "row_sum" (the reference) or
    "row_mean" (beta keeps its meaning as N grows). None leaves librpo's
    default. Any other setting of rpo.SETTINGS may be passed by name;
    `library` as for rpo.Context. The settings can be changed later through
    `self.context` (e.g. loss_fn.context.beta = 0.2).
    """

    def __init__(self, beta=0.1, tau=0.5, alpha=0.8, weighting="embedding",
                 placement="auto", reduction="mean", *, loss_type=None,
                 label_smoothing=None, discopop_tau=None, logit_scale=None,
                 library=None, **settings):
        super().__init__()
        for name, value in (("loss_type", loss_type),
                            ("label_smoothing", label_smoothing),
                            ("discopop_tau", discopop_tau),
                            ("logit_scale", logit_scale)):
            if value is not None:
                settings[name] = value
        self.context = Context(library, beta=beta, tau=tau, alpha=alpha,
                               weighting=weighting, placement=placement,
                               reduction=reduction, **settings)
        self._last_metrics = None

    def forward(self, policy_chosen_logps, policy_rejected_logps,
                reference_chosen_logps=None, reference_rejected_logps=None,
                chosen_emb=None, rejected_emb=None, *, chosen_lengths=None,
                rejected_lengths=None):
        """The loss, a 0-dim tensor on policy_chosen_logps' device.

        *_logps: (M) chosen and (N) rejected per-sequence log-probs; the
        references may be None (reference-free). chosen_emb (M, D) and
        rejected_emb (N, D): prompt embeddings for embedding and sinkhorn
        weighting; rejected_emb None means paired data (M == N, the same
        prompts). Embeddings that require grad receive dL/d embedding
        (paired: both roles, on chosen_emb). chosen_lengths (M) and
        rejected_lengths (N): completion token counts; when given, the
        log-probs (policy and reference) are divided by them first, TRL's
        per-token averages for ipo and sigmoid_norm."""
        logps = prepared_logps((policy_chosen_logps, policy_rejected_logps,
                                reference_chosen_logps, reference_rejected_logps),
                               chosen_lengths, rejected_lengths)
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
