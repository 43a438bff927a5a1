"""rpo.torch's objective route (docs/objectives.md): rpo_objective_* under
autograd. RPOLoss takes it when a loss_type list or a term of 1.3
(sigmoid_norm, simpo, orpo, sft), loss_weights, a setting only the
objectives read (simpo_gamma, f_divergence_type), reduction="none",
lengths or sample weights are used; KTOLoss (TRL's KTOTrainer loss)
always. Inputs are passed by address as on the plain path; gradients come
from librpo with the loss and backward scales them.
"""

import ctypes

import torch

from . import errors
from .context import Context
from .objectives import _Batch, _Results, call, set_objective_settings, term_arrays
from .torch import _address, _compute_dtype, _cpu, _floating

_REFERENCE_FREE = ("simpo", "orpo", "sft")


def _inputs(lib, pc, pr, rc, rr, ce, re, lc, lr, wc, wr, pk, rk):
    """Every array as a contiguous CPU tensor of the computed dtype (no
    copy when it is one), sizes checked against M, N and D: librpo takes
    sizes, not shapes, so a short array would be read past its end."""
    dt = _compute_dtype((pc, pr, rc, rr))
    for t, name in ((ce, "chosen_emb"), (re, "rejected_emb"),
                    (wc, "chosen_weights"), (wr, "rejected_weights"),
                    (pk, "policy_KL_logps"), (rk, "reference_KL_logps")):
        if t is not None:
            _floating(t, name)   # lengths may be token counts of any type
    arrays = [_cpu(t, dt) for t in (pc, pr, rc, rr, ce, re, lc, lr, wc, wr, pk, rk)]
    pc, pr = arrays[0], arrays[1]
    m, n = pc.numel(), pr.numel()
    d = arrays[4].shape[-1] if arrays[4] is not None and arrays[4].dim() == 2 else 0
    k = arrays[10].numel() if arrays[10] is not None else 0
    want = {"policy_chosen_logps": (m,), "policy_rejected_logps": (n,),
            "reference_chosen_logps": (m,), "reference_rejected_logps": (n,),
            "chosen_emb": (m, d), "rejected_emb": (n, d),
            "chosen_lengths": (m,), "rejected_lengths": (n,),
            "chosen_weights": (m,), "rejected_weights": (n,),
            "policy_KL_logps": (k,), "reference_KL_logps": (k,)}
    for t, (name, shape) in zip(arrays, want.items()):
        if t is not None and tuple(t.shape) != shape:
            raise lib.error(errors.ERR_SIZE, "%s has shape %s, want %s"
                            % (name, tuple(t.shape), shape))
    return dt, m, n, d, k, arrays


_FIELDS = ("policy_chosen", "policy_rejected", "ref_chosen", "ref_rejected",
           "chosen_emb", "rejected_emb", "chosen_lengths", "rejected_lengths",
           "chosen_weights", "rejected_weights", "policy_kl", "ref_kl")


def _run(module, prepared, grad, grad_emb, losses_grad=None):
    """One rpo_objective_* call on the _inputs() of a forward: a dict of
    the output tensors (None where not computed) and the metrics."""
    dt, m, n, d, k, arrays = prepared
    count, numbers, weights, unpaired = term_arrays(module._term_names,
                                                    module._loss_weights)
    kl = None if module._kl is None else torch.tensor([float(module._kl)], dtype=dt)
    batch = _Batch(size=ctypes.sizeof(_Batch), m=m, n=n, d=d, terms=count,
                   term_losses=ctypes.addressof(numbers),
                   term_weights=ctypes.addressof(weights), k=k,
                   kl=_address(kl), losses_grad=_address(losses_grad))
    for name, t in zip(_FIELDS, arrays):
        setattr(batch, name, _address(t))
    out = {"loss": torch.empty((), dtype=dt),
           "grad_chosen": torch.empty(m, dtype=dt) if grad else None,
           "grad_rejected": torch.empty(n, dtype=dt) if grad else None,
           "grad_chosen_emb": torch.empty((m, d), dtype=dt) if grad_emb else None,
           "grad_rejected_emb": (torch.empty((n, d), dtype=dt)
                                 if grad_emb and arrays[5] is not None else None),
           "losses": torch.empty(m + n if unpaired else m, dtype=dt),
           "chosen_rewards": torch.empty(m, dtype=dt),
           "rejected_rewards": torch.empty(n, dtype=dt)}
    results = _Results(size=ctypes.sizeof(_Results))
    for name, t in out.items():
        setattr(results, name, _address(t))
    return out, call(module.context, dt is torch.float64, batch, results)


class _ObjectiveFunction(torch.autograd.Function):
    """forward(module, pc, pr, rc, rr, ce, re, lc, lr, wc, wr, pk, rk) ->
    the loss, or the per-sequence losses for reduction="none". module:
    RPOLoss or KTOLoss, whose _term_names, _loss_weights, _none and _kl
    it reads. The reduced loss's gradients come with it and backward
    scales them; those of reduction="none" depend on the incoming gradient
    g of every row, so backward calls librpo again with losses_grad = g
    (the gradients of sum_i g_i losses_i). d/d reference = -d/d policy for
    the terms that read a log-ratio, 0 for simpo, orpo and sft; a list
    mixing the two has no reference gradient from librpo (frozen
    references never ask)."""

    @staticmethod
    def forward(fctx, module, pc, pr, rc, rr, ce, re, lc, lr, wc, wr, pk, rk):
        paired = re is None or re is ce
        prepared = _inputs(module.context.library, pc, pr, rc, rr, ce,
                           None if paired else re, lc, lr, wc, wr, pk, rk)
        need = fctx.needs_input_grad    # all False under no_grad: loss only
        want_emb = need[5] or need[6]
        reduced = not module._none
        out, metrics = _run(module, prepared, reduced and any(need[1:5]),
                            want_emb and reduced)
        module.__dict__["_last_metrics"] = metrics
        module.__dict__["chosen_rewards"] = out["chosen_rewards"]
        module.__dict__["rejected_rewards"] = out["rejected_rewards"]
        fctx.grads = (out["grad_chosen"], out["grad_rejected"],
                      out["grad_chosen_emb"], out["grad_rejected_emb"])
        fctx.prepared = None if reduced else prepared
        fctx.dtype = prepared[0]
        fctx.want_emb = want_emb
        fctx.targets = (pc, pr, rc, rr, ce, None if paired else re)
        fctx.module = module
        out_dtype = torch.promote_types(pc.dtype, pr.dtype)
        value = out["loss"] if reduced else out["losses"]
        return value.to(device=pc.device, dtype=out_dtype)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(fctx, grad_out):
        module = fctx.module
        g = grad_out.detach().to(device="cpu", dtype=fctx.dtype)
        if fctx.prepared is None:
            gc, gr, ge, gf = fctx.grads
        else:   # reduction="none": the gradients of sum_i g_i losses_i
            out, _ = _run(module, fctx.prepared, True, fctx.want_emb,
                          g.contiguous())
            gc, gr = out["grad_chosen"], out["grad_rejected"]
            ge, gf = out["grad_chosen_emb"], out["grad_rejected_emb"]
            g = None
        free = [name in _REFERENCE_FREE for name in module._term_names]
        need = fctx.needs_input_grad
        if any(free) and not all(free) and (need[3] or need[4]):
            raise RuntimeError("RPOLoss: no reference gradient for a "
                               "loss_type list mixing reference-free terms "
                               "(simpo, orpo, sft) with others")
        s = 0.0 if all(free) else 1.0
        grads = (gc, gr, None if gc is None else -s * gc,
                 None if gr is None else -s * gr, ge, gf)
        result = [None]
        for grad, t, need_k in zip(grads, fctx.targets, need[1:7]):
            if need_k and t is not None and grad is not None:
                grad = grad if g is None else grad * g
                result.append(grad.to(device=t.device, dtype=t.dtype))
            else:
                result.append(None)
        return (*result, None, None, None, None, None, None)


def objective_forward(module, pc, pr, rc, rr, ce, re, lc=None, lr=None,
                      wc=None, wr=None, pk=None, rk=None):
    """The objective route's loss (or per-sequence losses) as a tensor
    autograd differentiates; under no_grad the same call, whose gradients
    are dropped."""
    return _ObjectiveFunction.apply(module, pc, pr, rc, rr, ce, re, lc, lr,
                                    wc, wr, pk, rk)


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
        self.context = Context(library, beta=beta)
        set_objective_settings(self.context, desirable_weight=desirable_weight,
                               undesirable_weight=undesirable_weight)
        self._term_names = (loss_type,)
        self._loss_weights = None
        self._none = False
        self._kl = None
        self._last_metrics = {}

    @property
    def metrics(self):
        """The last forward's metrics under TRL's names ({} before one)."""
        return dict(self._last_metrics)

    def forward(self, policy_chosen_logps, policy_rejected_logps, policy_KL_logps,
                reference_chosen_logps, reference_rejected_logps,
                reference_KL_logps, *, kl=None):
        self.__dict__["_kl"] = kl
        return objective_forward(self, policy_chosen_logps, policy_rejected_logps,
                                 reference_chosen_logps, reference_rejected_logps,
                                 None, None, pk=policy_KL_logps,
                                 rk=reference_KL_logps)
