"""rpo.objectives: librpo 1.3's objectives (docs/objectives.md) from Python.

    import rpo.objectives as ro
    r = ro.objective(ctx, pc, pr, rc, rr, chosen_emb,
                     loss_type=["sigmoid", "sft"], loss_weights=[1, 0.5],
                     chosen_lengths=lc, rejected_lengths=lr)
    r.loss, r.grad_chosen, r.grad_rejected, r.losses, r.metrics

and, with PyTorch, the loss modules under TRL's names:

    from rpo.objectives import RPOLoss, KTOLoss
    loss_fn = RPOLoss(beta=0.1, weighting="embedding",
                      loss_type=["sigmoid", "sft"], loss_weights=[1, 0.5])
    loss = loss_fn(pc, pr, rc, rr, chosen_emb, chosen_lengths=lc,
                   rejected_lengths=lr, chosen_weights=wc, rejected_weights=wr)

Here chosen_lengths and rejected_lengths are what librpo 1.3 reads: only the
terms TRL defines on per-token averages (ipo, sigmoid_norm, simpo, orpo)
divide by them, and sft needs them. rpo.torch.RPOLoss keeps the meaning of
1.2, where they divided every log-prob. NumPy users never load torch: the
modules are built on first use.
"""

import collections
import ctypes

import numpy as np

from . import errors
from .context import LOSS_TYPES, SETTINGS_BY_NAME

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
        ("sft_tokens", _p)]


class _Results(ctypes.Structure):
    """rpo_results_f32 / rpo_results_f64."""
    _fields_ = [("size", _size)] + [(name, _p) for name in (
        "loss", "grad_chosen", "grad_rejected", "grad_chosen_emb",
        "grad_rejected_emb", "losses", "chosen_rewards", "rejected_rewards",
        "partial_stats")]


ObjectiveResult = collections.namedtuple(
    "ObjectiveResult", "loss grad_chosen grad_rejected grad_chosen_emb "
    "grad_rejected_emb losses chosen_rewards rejected_rewards metrics")


def _bound(lib, name, argtypes):
    """The entry point `name` of lib with its prototype; UnsupportedError
    when the loaded library predates 1.3."""
    cdll = lib._cdll
    fn = getattr(cdll, name, None)
    if fn is None:
        raise errors.UnsupportedError(
            errors.ERR_UNSUPPORTED, lib.status_string(errors.ERR_UNSUPPORTED),
            "librpo %s at %s has no %s" % (lib.version, lib.path, name))
    fn.restype = ctypes.c_int if name != "rpo_ctx_error_detail" else ctypes.c_char_p
    fn.argtypes = argtypes
    return fn


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
    lib = context.library
    for name, value in settings.items():
        if value is None:
            continue
        if name not in _NEW_SETTINGS:
            raise ValueError("unknown objective setting %r" % name)
        if name == "f_divergence_type" and isinstance(value, str):
            value = F_DIVERGENCES.index(value)
        key = SETTINGS_BY_NAME[_NEW_SETTINGS[name]].key
        lib.call("rpo_ctx_set", context._handle(), key, float(value),
                 detail=name)


def objective(context, policy_chosen, policy_rejected, ref_chosen=None,
              ref_rejected=None, chosen_emb=None, rejected_emb=None, *,
              loss_type="sigmoid", loss_weights=None, weights=None,
              chosen_lengths=None, rejected_lengths=None, chosen_weights=None,
              rejected_weights=None, policy_kl=None, ref_kl=None, kl=None,
              grad=True, grad_emb=False):
    """One rpo_objective_* call on `context` (an rpo.Context), in float64
    when policy_chosen is float64, else float32. Returns an ObjectiveResult
    of NumPy arrays (None where not computed); `losses` holds M values for a
    term list, M + N for kto and apo_zero_unpaired. Raises the status's
    rpo.RPOError with librpo's detail."""
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
    }
    numbers, term_weights = terms_of(loss_type, loss_weights)
    if len(numbers) > _MAX_TERMS:
        raise ValueError("at most %d loss types" % _MAX_TERMS)
    losses_arr = (ctypes.c_int * len(numbers))(*numbers)
    weights_arr = (ctypes.c_double * len(numbers))(*term_weights)
    d = 0
    if arrays["chosen_emb"] is not None:
        d = arrays["chosen_emb"].size // m if m else arrays["chosen_emb"].shape[-1]
    batch = _Batch(size=ctypes.sizeof(_Batch), m=m, n=n, d=d,
                   terms=len(numbers), term_losses=ctypes.addressof(losses_arr),
                   term_weights=ctypes.addressof(weights_arr))
    for name, a in arrays.items():
        setattr(batch, name, _ptr(a))
    batch.k = 0 if arrays["policy_kl"] is None else arrays["policy_kl"].size
    unpaired = numbers[0] in (TERM_NUMBERS["kto"], TERM_NUMBERS["apo_zero_unpaired"])
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
    }
    results = _Results(size=ctypes.sizeof(_Results))
    for name, a in out.items():
        setattr(results, name, _ptr(a))
    lib = context.library
    suffix = "f64" if dt == np.float64 else "f32"
    fn = _bound(lib, "rpo_objective_" + suffix, [_p, _p, _p])
    with context._lock:
        status = fn(context._handle(), ctypes.byref(batch), ctypes.byref(results))
        if status != errors.OK:
            detail = _bound(lib, "rpo_ctx_error_detail", [_p])(context._handle())
            raise lib.error(status, detail.decode() if detail else None)
        metrics = {}
        v = ctypes.c_double()
        for name, key in (("loss", 1), ("rewards/chosen", 2), ("rewards/rejected", 3),
                          ("rewards/margins", 4), ("rewards/accuracies", 5),
                          ("logps/chosen", _STAT_LOGPS_CHOSEN),
                          ("logps/rejected", _STAT_LOGPS_REJECTED), ("kl", _STAT_KL)):
            lib.call("rpo_ctx_stat", context._handle(), key, ctypes.byref(v))
            metrics[name] = v.value
    return ObjectiveResult(float(out["loss"][0]), out["grad_chosen"],
                           out["grad_rejected"], out["grad_chosen_emb"],
                           out["grad_rejected_emb"], out["losses"],
                           out["chosen_rewards"], out["rejected_rewards"], metrics)


def __getattr__(name):
    """RPOLoss and KTOLoss need torch: built on first use."""
    if name in ("RPOLoss", "KTOLoss"):
        from . import objectives_torch
        return getattr(objectives_torch, name)
    raise AttributeError(name)
