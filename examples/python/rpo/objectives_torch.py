"""The PyTorch modules of rpo.objectives (docs/objectives.md), under TRL's
names: RPOLoss (DPOTrainer's loss_type lists, CPO's simpo, ORPO, the
f-divergences, WPO's weights, reduction="none") and KTOLoss (KTOTrainer's
kto_loss). Gradients come from librpo with the loss; backward scales them.
"""

import torch

from .context import Context
from .objectives import objective, set_objective_settings


def _cpu(t, dtype):
    if t is None:
        return None
    if not isinstance(t, torch.Tensor):
        t = torch.as_tensor(t)
    return t.detach().to(device="cpu", dtype=dtype).contiguous().numpy()


def _dtype(*tensors):
    present = [t.dtype for t in tensors if isinstance(t, torch.Tensor)]
    return torch.float64 if torch.float64 in present else torch.float32


def _back(grad, g, like):
    """grad times the incoming g, on like's device and dtype."""
    if like is None or grad is None:
        return None
    return (grad * g).to(device=like.device, dtype=like.dtype)


class _ObjectiveFunction(torch.autograd.Function):
    """forward(call, pc, pr, rc, rr, chosen_emb, rejected_emb) -> the loss,
    or the per-sequence losses for reduction="none"; call(dtype) runs
    librpo and returns an ObjectiveResult. d/d reference = -d/d policy for
    the terms that read a log-ratio, 0 for simpo, orpo and sft: `ref_sign`
    says which (1: every term reads the reference, 0: none does, None: a
    mix, whose reference gradient librpo does not give)."""

    @staticmethod
    def forward(fctx, call, none, ref_sign, pc, pr, rc, rr, chosen_emb, rejected_emb):
        dt = _dtype(pc, pr, rc, rr)
        want_emb = any(fctx.needs_input_grad[7:9])
        r = call(dt, want_emb)
        gc, gr = torch.from_numpy(r.grad_chosen), torch.from_numpy(r.grad_rejected)
        ge = None if r.grad_chosen_emb is None else torch.from_numpy(r.grad_chosen_emb)
        gf = None if r.grad_rejected_emb is None else torch.from_numpy(r.grad_rejected_emb)
        fctx.save_for_backward(gc, gr, ge, gf)
        fctx.inputs = (pc, pr, rc, rr, chosen_emb,
                       None if rejected_emb is chosen_emb else rejected_emb)
        fctx.none = none
        fctx.ref_sign = ref_sign
        fctx.m = gc.shape[0]
        out_dtype = torch.promote_types(pc.dtype, pr.dtype)
        if none:
            return torch.from_numpy(r.losses).to(device=pc.device, dtype=out_dtype)
        return torch.tensor(r.loss, dtype=out_dtype, device=pc.device)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(fctx, grad_out):
        gc, gr, ge, gf = fctx.saved_tensors
        g = grad_out.detach().to(device="cpu", dtype=gc.dtype)
        if fctx.none:
            # the library's gradients are those of the mean of the rows;
            # sum_i g_i losses_i has them times M g when g is constant,
            # which is what .mean(), .sum() and scalar weights give
            if g.numel() > 1 and not bool((g == g[0]).all()):
                raise RuntimeError("rpo.objectives.RPOLoss(reduction='none'): "
                                   "backward needs the same weight on every row")
            g = (g[0] if g.numel() else g.sum()) * fctx.m
        pc, pr, rc, rr, ce, re = fctx.inputs
        s = fctx.ref_sign
        if s is None and any(fctx.needs_input_grad[5:7]):
            # frozen references never ask; a list mixing simpo, orpo or
            # sft with the others has no gradient by reference from librpo
            raise RuntimeError("rpo.objectives.RPOLoss: no reference gradient "
                               "for a list mixing reference-free terms with others")
        s = 0.0 if s is None else s
        grads = [_back(gc, g, pc), _back(gr, g, pr),
                 None if rc is None else _back(-s * gc, g, rc),
                 None if rr is None else _back(-s * gr, g, rr),
                 _back(ge, g, ce), _back(gf, g, re)]
        needed = fctx.needs_input_grad[3:9]
        return (None, None, None) + tuple(x if need else None
                                          for x, need in zip(grads, needed))


_REFERENCE_FREE = ("simpo", "orpo", "sft")


class RPOLoss(torch.nn.Module):
    """The RPO contrast matrix under any of TRL's objectives (librpo 1.3).

    RPOLoss(beta=0.1, tau=0.5, alpha=0.8, weighting="embedding",
            placement="auto", reduction="mean", *, loss_type="sigmoid",
            loss_weights=None, simpo_gamma=None, f_divergence_type=None,
            f_alpha_divergence_coef=None, library=None, **settings)

    loss_type: a name of rpo.objectives.TERMS or a list of them (TRL's
    loss_type list); loss_weights: one weight per name (TRL's). reduction:
    "mean", "sum", or "none" (the M per-row losses, whose mean is the
    "mean" loss). simpo_gamma, f_divergence_type ("reverse_kl",
    "forward_kl", "js_divergence", "alpha_divergence") and
    f_alpha_divergence_coef as TRL's; the other settings as rpo.torch's
    RPOLoss. With DIAGONAL weighting and alpha=1 every objective is TRL's
    paired one.
    """

    def __init__(self, beta=0.1, tau=0.5, alpha=0.8, weighting="embedding",
                 placement="auto", reduction="mean", *, loss_type="sigmoid",
                 loss_weights=None, simpo_gamma=None, f_divergence_type=None,
                 f_alpha_divergence_coef=None, library=None, **settings):
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ValueError("reduction must be 'mean', 'sum' or 'none'")
        self.none = reduction == "none"
        self.context = Context(library, beta=beta, tau=tau, alpha=alpha,
                               weighting=weighting, placement=placement,
                               reduction="mean" if self.none else reduction,
                               **settings)
        set_objective_settings(self.context, simpo_gamma=simpo_gamma,
                               f_divergence_type=f_divergence_type,
                               f_alpha_divergence_coef=f_alpha_divergence_coef)
        self.loss_type = loss_type
        self.loss_weights = loss_weights
        self.metrics = {}

    def forward(self, policy_chosen_logps, policy_rejected_logps,
                reference_chosen_logps=None, reference_rejected_logps=None,
                chosen_emb=None, rejected_emb=None, *, chosen_lengths=None,
                rejected_lengths=None, chosen_weights=None, rejected_weights=None):
        """The loss (0-dim), or the M per-row losses for reduction="none".
        chosen_lengths (M), rejected_lengths (N): completion token counts,
        read by ipo, sigmoid_norm, simpo, orpo and sft only. chosen_weights
        (M), rejected_weights (N): sample weights, pair (i, j) weighed by
        their product; constants."""
        names = [self.loss_type] if isinstance(self.loss_type, str) else list(self.loss_type)
        free = [n in _REFERENCE_FREE for n in names]
        ref_sign = 0.0 if all(free) else 1.0 if not any(free) else None
        paired = rejected_emb is None or rejected_emb is chosen_emb

        def call(dt, want_emb):
            r = objective(self.context,
                          _cpu(policy_chosen_logps, dt), _cpu(policy_rejected_logps, dt),
                          _cpu(reference_chosen_logps, dt), _cpu(reference_rejected_logps, dt),
                          _cpu(chosen_emb, dt), None if paired else _cpu(rejected_emb, dt),
                          loss_type=self.loss_type, loss_weights=self.loss_weights,
                          chosen_lengths=_cpu(chosen_lengths, dt),
                          rejected_lengths=_cpu(rejected_lengths, dt),
                          chosen_weights=_cpu(chosen_weights, dt),
                          rejected_weights=_cpu(rejected_weights, dt),
                          grad=True, grad_emb=want_emb)
            self.metrics = r.metrics
            self.chosen_rewards = torch.from_numpy(r.chosen_rewards)
            self.rejected_rewards = torch.from_numpy(r.rejected_rewards)
            return r

        return _ObjectiveFunction.apply(call, self.none, ref_sign,
                                        policy_chosen_logps, policy_rejected_logps,
                                        reference_chosen_logps, reference_rejected_logps,
                                        chosen_emb, rejected_emb)


class KTOLoss(torch.nn.Module):
    """TRL's KTOTrainer loss (and loss_type="apo_zero_unpaired") by librpo.

    KTOLoss(beta=0.1, desirable_weight=1.0, undesirable_weight=1.0,
            loss_type="kto", library=None)

    forward(policy_chosen_logps, policy_rejected_logps, policy_KL_logps,
            reference_chosen_logps, reference_rejected_logps,
            reference_KL_logps, *, kl=None): chosen = desirable, rejected =
    undesirable, in the order of TRL's former kto_loss; the KL log-probs may
    be None for apo_zero_unpaired, and `kl` (a gathered, unclamped mean)
    replaces them. Returns the mean loss; `metrics` holds "kl" and the
    rewards, `chosen_rewards` and `rejected_rewards` the per-sequence ones.
    """

    def __init__(self, beta=0.1, desirable_weight=1.0, undesirable_weight=1.0,
                 loss_type="kto", library=None):
        super().__init__()
        if loss_type not in ("kto", "apo_zero_unpaired"):
            raise ValueError("loss_type must be 'kto' or 'apo_zero_unpaired'")
        self.loss_type = loss_type
        self.context = Context(library, beta=beta)
        set_objective_settings(self.context, desirable_weight=desirable_weight,
                               undesirable_weight=undesirable_weight)
        self.metrics = {}

    def forward(self, policy_chosen_logps, policy_rejected_logps, policy_KL_logps,
                reference_chosen_logps, reference_rejected_logps,
                reference_KL_logps, *, kl=None):
        def call(dt, want_emb):
            r = objective(self.context,
                          _cpu(policy_chosen_logps, dt), _cpu(policy_rejected_logps, dt),
                          _cpu(reference_chosen_logps, dt), _cpu(reference_rejected_logps, dt),
                          loss_type=self.loss_type, policy_kl=_cpu(policy_KL_logps, dt),
                          ref_kl=_cpu(reference_KL_logps, dt),
                          kl=None if kl is None else [float(kl)])
            self.metrics = r.metrics
            self.chosen_rewards = torch.from_numpy(r.chosen_rewards)
            self.rejected_rewards = torch.from_numpy(r.rejected_rewards)
            return r

        return _ObjectiveFunction.apply(call, False, 1.0, policy_chosen_logps,
                                        policy_rejected_logps, reference_chosen_logps,
                                        reference_rejected_logps, None, None)
