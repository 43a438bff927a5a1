"""rpo.objectives: librpo 1.3's objectives (docs/objectives.md) from Python.

    import rpo.objectives as ro
    r = ro.objective(ctx, pc, pr, rc, rr, chosen_emb,
                     loss_type=["sigmoid", "sft"], loss_weights=[1, 0.5],
                     chosen_lengths=lc, rejected_lengths=lr)
    r.loss, r.grad_chosen, r.grad_rejected, r.losses, r.metrics

objective_rows() is one row block of it across data-parallel ranks. The
PyTorch modules are rpo.torch.RPOLoss (which routes to these entry points
when a loss_type list, loss_weights, lengths or sample weights are used)
and rpo.torch.KTOLoss; this module does not import torch.
"""

import collections
import ctypes

import numpy as np

from . import errors
from .context import LOSS_TYPES, PARTIAL_COUNT

# The term names, TRL's loss_type vocabulary (rpo.h RPO_LOSS_*).
TERMS = LOSS_TYPES + ("sigmoid_norm", "simpo", "orpo", "sft", "kto",
                      "apo_zero_unpaired")
TERM_NUMBERS = {name: number for number, name in enumerate(TERMS)}
F_DIVERGENCES = ("reverse_kl", "forward_kl", "js_divergence", "alpha_divergence")

# TRL's names of the settings of 1.3, and the Context settings they are
# (rpo.context.SETTINGS holds their keys).
_NEW_SETTINGS = {"simpo_gamma": "simpo_gamma", "f_divergence_type": "f_divergence",
                 "f_alpha_divergence_coef": "f_alpha",
                 "desirable_weight": "desirable_weight",
                 "undesirable_weight": "undesirable_weight"}
_STAT_LOGPS_CHOSEN, _STAT_LOGPS_REJECTED, _STAT_KL = 8, 9, 10
_MAX_TERMS = 8

_p = ctypes.c_void_p
_size = ctypes.c_size_t


class _Batch(ctypes.Structure):
    """rpo_batch_f32 / rpo_batch_f64: the same layout, arrays as pointers."""
    _fields_ = [("size", _size), ("m", _size), ("n", _size), ("d", _size)] + [
        (name, _p) for name in (
            "policy_chosen", "ref_chosen", "policy_rejected", "ref_rejected",
            "chosen_emb", "rejected_emb", "weights", "chosen_lengths",
            "rejected_lengths", "chosen_weights", "rejected_weights")] + [
        ("terms", _size), ("term_losses", _p), ("term_weights", _p),
        ("k", _size), ("policy_kl", _p), ("ref_kl", _p), ("kl", _p),
        ("sft_tokens", _p), ("losses_grad", _p)]


class _Results(ctypes.Structure):
    """rpo_results_f32 / rpo_results_f64."""
    _fields_ = [("size", _size)] + [(name, _p) for name in (
        "loss", "grad_chosen", "grad_rejected", "grad_chosen_emb",
        "grad_rejected_emb", "losses", "chosen_rewards", "rejected_rewards",
        "partial_stats")]


ObjectiveResult = collections.namedtuple(
    "ObjectiveResult", "loss grad_chosen grad_rejected grad_chosen_emb "
    "grad_rejected_emb losses chosen_rewards rejected_rewards metrics")


def _array(x, dtype, name, count=None):
    """A contiguous NumPy array of dtype (no copy when it is one), or None."""
    if x is None:
        return None
    a = np.ascontiguousarray(np.asarray(x, dtype=dtype))
    if count is not None and a.size != count:
        raise ValueError("%s has %d entries, expected %d" % (name, a.size, count))
    return a


def _ptr(a):
    return None if a is None else a.ctypes.data


def terms_of(loss_type, loss_weights=None):
    """(numbers, weights) of a TRL loss_type (a name or a list) and its
    loss_weights (None: all 1)."""
    names = [loss_type] if isinstance(loss_type, str) else list(loss_type)
    try:
        numbers = [TERM_NUMBERS[n] for n in names]
    except KeyError as exc:
        raise ValueError("unknown loss_type %s; known: %s"
                         % (exc, ", ".join(TERMS))) from None
    weights = [1.0] * len(names) if loss_weights is None else [float(w) for w in loss_weights]
    if len(weights) != len(names):
        raise ValueError("loss_weights has %d entries for %d loss types"
                         % (len(weights), len(names)))
    return numbers, weights


def set_objective_settings(context, **settings):
    """Sets the settings of 1.3 by TRL's names (simpo_gamma,
    f_divergence_type by name or number, f_alpha_divergence_coef,
    desirable_weight, undesirable_weight); None leaves a setting alone."""
    for name, value in settings.items():
        if value is None:
            continue
        if name not in _NEW_SETTINGS:
            raise ValueError("unknown objective setting %r" % name)
        if name == "f_divergence_type" and isinstance(value, str):
            if value not in F_DIVERGENCES:
                raise ValueError("f_divergence_type must be one of %s, not %r"
                                 % (", ".join(F_DIVERGENCES), value))
            value = F_DIVERGENCES.index(value)
        context.set(_NEW_SETTINGS[name], value)


# The metrics of an objective call: TRL's name, RPO_STAT_* key.
METRICS = (("loss", 1), ("rewards/chosen", 2), ("rewards/rejected", 3),
           ("rewards/margins", 4), ("rewards/accuracies", 5),
           ("logps/chosen", _STAT_LOGPS_CHOSEN),
           ("logps/rejected", _STAT_LOGPS_REJECTED), ("kl", _STAT_KL),
           # the shape of W, as rpo.torch.TRL_METRICS names it
           ("weights/effective_contrasts", 11), ("weights/diagonal", 12))


def call(context, f64, batch, results, rows=None):
    """rpo_objective_* (rows None) or rpo_objective_rows_* (rows = (m_total,
    row_offset)) on `context` with the filled _Batch and _Results. Returns
    the metrics as a dict under TRL's names (None for a row block, which
    leaves them unchanged); raises the status's rpo.RPOError with librpo's
    detail."""
    lib = context.library
    with context._lock:
        handle = context._handle()
        if rows is None:
            status = lib.function("rpo_objective_f64" if f64 else "rpo_objective_f32")(
                handle, ctypes.byref(batch), ctypes.byref(results))
        else:
            status = lib.function("rpo_objective_rows_f64" if f64
                                  else "rpo_objective_rows_f32")(
                handle, rows[0], rows[1], ctypes.byref(batch),
                ctypes.byref(results))
        if status != errors.OK:
            raise lib.error(status, None, handle)
        if rows is not None:
            return None
        metrics = {}
        v = ctypes.c_double()
        for name, key in METRICS:
            lib.call("rpo_ctx_stat", handle, key, ctypes.byref(v))
            metrics[name] = v.value
    return metrics


def term_arrays(loss_type, loss_weights):
    """The term list as the ctypes arrays _Batch points to: (count,
    RPO_LOSS_* array, weight array, unpaired), unpaired when the one term
    is kto or apo_zero_unpaired (whose losses are M + N)."""
    numbers, weights = terms_of(loss_type, loss_weights)
    if len(numbers) > _MAX_TERMS:
        raise ValueError("at most %d loss types" % _MAX_TERMS)
    unpaired = numbers[0] in (TERM_NUMBERS["kto"], TERM_NUMBERS["apo_zero_unpaired"])
    return (len(numbers), (ctypes.c_int * len(numbers))(*numbers),
            (ctypes.c_double * len(numbers))(*weights), unpaired)


def _numpy_call(context, rows, policy_chosen, policy_rejected, ref_chosen,
                ref_rejected, chosen_emb, rejected_emb, loss_type,
                loss_weights, weights, chosen_lengths, rejected_lengths,
                chosen_weights, rejected_weights, policy_kl, ref_kl, kl,
                sft_tokens, grad, grad_emb, losses_grad=None):
    dt = np.float64 if np.asarray(policy_chosen).dtype == np.float64 else np.float32
    pc = _array(policy_chosen, dt, "policy_chosen")
    pr = _array(policy_rejected, dt, "policy_rejected")
    m, n = pc.size, pr.size
    arrays = {
        "policy_chosen": pc, "policy_rejected": pr,
        "ref_chosen": _array(ref_chosen, dt, "ref_chosen", m),
        "ref_rejected": _array(ref_rejected, dt, "ref_rejected", n),
        "chosen_emb": _array(chosen_emb, dt, "chosen_emb"),
        "rejected_emb": _array(rejected_emb, dt, "rejected_emb"),
        "weights": _array(weights, dt, "weights", m * n),
        "chosen_lengths": _array(chosen_lengths, dt, "chosen_lengths", m),
        "rejected_lengths": _array(rejected_lengths, dt, "rejected_lengths", n),
        "chosen_weights": _array(chosen_weights, dt, "chosen_weights", m),
        "rejected_weights": _array(rejected_weights, dt, "rejected_weights", n),
        "policy_kl": _array(policy_kl, dt, "policy_kl"),
        "ref_kl": _array(ref_kl, dt, "ref_kl"),
        "kl": _array(kl, dt, "kl", 1),
        "sft_tokens": _array(sft_tokens, dt, "sft_tokens", 1),
    }
    count, numbers, term_weights, unpaired = term_arrays(loss_type, loss_weights)
    d = 0
    if arrays["chosen_emb"] is not None:
        d = arrays["chosen_emb"].size // m if m else arrays["chosen_emb"].shape[-1]
    batch = _Batch(size=ctypes.sizeof(_Batch), m=m, n=n, d=d, terms=count,
                   term_losses=ctypes.addressof(numbers),
                   term_weights=ctypes.addressof(term_weights))
    for name, a in arrays.items():
        setattr(batch, name, _ptr(a))
    batch.k = 0 if arrays["policy_kl"] is None else arrays["policy_kl"].size
    lg = _array(losses_grad, dt, "losses_grad", m + n if unpaired else m)
    batch.losses_grad = _ptr(lg)
    out = {
        "loss": np.zeros(1, dt),
        "grad_chosen": np.zeros(m, dt) if grad else None,
        "grad_rejected": np.zeros(n, dt) if grad else None,
        "grad_chosen_emb": np.zeros((m, d), dt) if grad_emb else None,
        "grad_rejected_emb": (np.zeros((n, d), dt) if grad_emb and
                              arrays["rejected_emb"] is not None else None),
        "losses": np.zeros(m + n if unpaired else m, dt),
        "chosen_rewards": np.zeros(m, dt),
        "rejected_rewards": np.zeros(n, dt),
        "partial_stats": np.zeros(PARTIAL_COUNT, dt) if rows else None,
    }
    results = _Results(size=ctypes.sizeof(_Results))
    for name, a in out.items():
        setattr(results, name, _ptr(a))
    metrics = call(context, dt == np.float64, batch, results, rows)
    return out, metrics


def objective(context, policy_chosen, policy_rejected, ref_chosen=None,
              ref_rejected=None, chosen_emb=None, rejected_emb=None, *,
              loss_type="sigmoid", loss_weights=None, weights=None,
              chosen_lengths=None, rejected_lengths=None, chosen_weights=None,
              rejected_weights=None, policy_kl=None, ref_kl=None, kl=None,
              grad=True, grad_emb=False, losses_grad=None):
    """One rpo_objective_* call on `context` (an rpo.Context), in float64
    when policy_chosen is float64, else float32. Returns an ObjectiveResult
    of NumPy arrays (None where not computed); `losses` holds M values for a
    term list, M + N for kto and apo_zero_unpaired. losses_grad (as many
    values as losses): the gradients are those of sum_i losses_grad[i]
    losses[i] (the incoming gradient of reduction="none"). Raises the status's rpo.RPOError with
    librpo's detail."""
    out, metrics = _numpy_call(
        context, None, policy_chosen, policy_rejected, ref_chosen,
        ref_rejected, chosen_emb, rejected_emb, loss_type, loss_weights,
        weights, chosen_lengths, rejected_lengths, chosen_weights,
        rejected_weights, policy_kl, ref_kl, kl, None, grad, grad_emb,
        losses_grad)
    return ObjectiveResult(float(out["loss"][0]), out["grad_chosen"],
                           out["grad_rejected"], out["grad_chosen_emb"],
                           out["grad_rejected_emb"], out["losses"],
                           out["chosen_rewards"], out["rejected_rewards"], metrics)


RowsObjectiveResult = collections.namedtuple(
    "RowsObjectiveResult", "partial_stats grad_chosen grad_rejected "
    "grad_chosen_emb grad_rejected_emb losses chosen_rewards rejected_rewards")
RowsObjectiveResult.__doc__ = (
    "One row block of objective_rows: partial_stats (rpo.PARTIAL_COUNT: "
    "loss, rewards/chosen, rewards/rejected, margin, accuracy), "
    "grad_rejected and grad_rejected_emb are this block's shares, to be "
    "summed over all blocks; grad_chosen, grad_chosen_emb, losses (times "
    "m_total under MEAN) and the rewards are complete for its rows.")


def objective_rows(context, m_total, row_offset, policy_chosen,
                   policy_rejected, ref_chosen=None, ref_rejected=None,
                   chosen_emb=None, rejected_emb=None, *, loss_type="sigmoid",
                   loss_weights=None, weights=None, chosen_lengths=None,
                   rejected_lengths=None, chosen_weights=None,
                   rejected_weights=None, sft_tokens=None, grad=True,
                   grad_emb=False):
    """One row block of an objective across data-parallel ranks
    (rpo_objective_rows_*): this block's chosen rows row_offset ..
    row_offset + M - 1 of m_total (policy_chosen, ref_chosen, chosen_emb,
    chosen_lengths, chosen_weights, and weights' rows), against every
    rank's rejected rows, gathered (rejected_emb too: no paired
    shorthand). sft_tokens: the chosen token count of all blocks, for sft
    (None: this block's own). Returns a RowsObjectiveResult; summing its
    shares over all blocks gives objective()'s loss, metrics and
    gradients of the whole batch. kto and apo_zero_unpaired are
    UnsupportedError here (docs/objectives.md)."""
    out, _ = _numpy_call(
        context, (m_total, row_offset), policy_chosen, policy_rejected,
        ref_chosen, ref_rejected, chosen_emb, rejected_emb, loss_type,
        loss_weights, weights, chosen_lengths, rejected_lengths,
        chosen_weights, rejected_weights, None, None, None, sft_tokens, grad,
        grad_emb)
    return RowsObjectiveResult(out["partial_stats"], out["grad_chosen"],
                               out["grad_rejected"], out["grad_chosen_emb"],
                               out["grad_rejected_emb"], out["losses"],
                               out["chosen_rewards"], out["rejected_rewards"])
