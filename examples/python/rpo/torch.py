"""rpo.torch: the RPO loss as a PyTorch module, computed by librpo.

    from rpo.torch import RPOLoss
    loss_fn = RPOLoss(beta=0.1, tau=0.5, weighting="embedding")
    loss = loss_fn(policy_chosen_logps, policy_rejected_logps,
                   reference_chosen_logps, reference_rejected_logps,
                   chosen_emb)            # rejected_emb None: paired data
    loss.backward()
    loss_fn.metrics   # {"rewards/chosen": ..., "rewards/margins": ..., ...}

The arguments follow TRL's DPO loss order. Tensors may live on any device
and be float32 or float64 (other floating types are computed in float32;
integer, bool and complex ones are a TypeError): they are moved to the CPU
for the call, read there without a copy when they already are contiguous
CPU tensors of the computed type, and the gradients are moved back to each
input's device and dtype. Prompt embeddings get gradients when they require
them (a prompt encoder being trained; librpo 1.2), otherwise they are
constants. Under torch.no_grad() or torch.inference_mode(), or when no
input requires grad, the call is loss-only. The loss is once-differentiable
and opaque to TorchScript, tracing and vmap (docs/pytorch.md).

TRL's loss family (loss_type=, label_smoothing=, discopop_tau=), the logit
scale and optimal-transport weights (weighting="sinkhorn") are explained in
docs/extensions.md; the objectives of librpo 1.3 under TRL's names (loss_type
lists, loss_weights, simpo, orpo, sft, f-divergences, lengths, sample
weights, reduction="none", KTOLoss) in docs/objectives.md: RPOLoss calls
rpo_objective_* for them (objectives_torch.py) and the plain rpo_loss_*
otherwise. The plain training step is a C++ autograd node, rpo._autograd
(_autograd.cpp), where that was built (it needs torch's C++ headers);
elsewhere a Python autograd.Function (_RPOFunction) whose per-step part is
rpo._native (_native.c) where that was built, or Python. All give the same
bits. rpo.distributed.GlobalRPOLoss spans data-parallel ranks.
"""

import torch

from . import errors
from .context import LOSS_TYPES, Context
from .objectives import set_objective_settings, term_arrays
from .sampling import RelatedPromptSampler  # noqa: F401 (re-exported)
from .cached import cached_backward  # noqa: F401 (re-exported)
from .torch_linear import linear_token_logps  # noqa: F401 (librpo 1.3)

# TRL's metric names -> fields of rpo.Metrics.
TRL_METRICS = (
    ("rewards/chosen", "reward_chosen"),
    ("rewards/rejected", "reward_rejected"),
    ("rewards/margins", "margin"),
    ("rewards/accuracies", "accuracy"),
    # librpo 1.3: the shape of W (not TRL's)
    ("weights/effective_contrasts", "effective_contrasts"),
    ("weights/diagonal", "diagonal_weight"),
)

_LOGP_ARGS = ("policy_chosen_logps", "policy_rejected_logps",
              "reference_chosen_logps", "reference_rejected_logps")
_EMB_ARGS = ("chosen_emb", "rejected_emb")
_F32, _F64 = torch.float32, torch.float64
_COMPUTED = (_F32, _F64)
_empty = torch.empty
_grad_enabled = torch.is_grad_enabled       # looked up once: per-step calls
_tracing_state = torch._C._get_tracing_state
_SUFFIX = {torch.float32: "f32", torch.float64: "f64"}


def _floating(t, name):
    """TypeError unless t is a floating (real) tensor or array: integer,
    bool and complex log-probs or embeddings are a caller's mistake that a
    silent conversion would hide (int64 log-probs truncate to a zero loss)."""
    dtype = getattr(t, "dtype", None)
    if isinstance(dtype, torch.dtype):
        ok = dtype.is_floating_point
    else:
        kind = getattr(dtype, "kind", None)   # NumPy arrays
        ok = kind == "f"
        if kind is None:                       # lists, scalars
            ok = torch.as_tensor(t).dtype.is_floating_point
    if not ok:
        raise TypeError("%s must hold floating-point numbers, not %s"
                        % (name, dtype if dtype is not None else type(t).__name__))


def _compute_dtype(tensors, names=_LOGP_ARGS):
    """float64 when any log-prob tensor is float64, else float32 (other
    floating types are computed in float32); TypeError for a non-floating
    one."""
    present = []
    for t, name in zip(tensors, names):
        if t is not None:
            _floating(t, name)
            present.append(t.dtype)
    return torch.float64 if torch.float64 in present else torch.float32


def _cpu_array(t, dtype):
    """A NumPy view of t on the CPU as a contiguous `dtype` tensor; no copy
    when t already is one."""
    if t is None:
        return None
    if not isinstance(t, torch.Tensor):
        t = torch.as_tensor(t)
    return t.detach().to(device="cpu", dtype=dtype).contiguous().numpy()


def _cpu(t, dtype):
    """t as a contiguous CPU tensor of dtype (t itself when it is one), for
    its data_ptr(); None stays None."""
    if t is None:
        return None
    if not isinstance(t, torch.Tensor):
        t = torch.as_tensor(t)
    if t.dtype is not dtype or t.device.type != "cpu" or not t.is_contiguous():
        t = t.detach().to(device="cpu", dtype=dtype).contiguous()
    return t


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


def _address(t):
    return None if t is None else t.data_ptr()


def _prepared(module, pc, pr, rc, rr, ce, re):
    """The general path of a call: every array as a contiguous CPU tensor
    of the computed dtype, and the shapes the C API cannot see (it
    takes sizes, not shapes) checked; TypeError for non-floating arrays."""
    dt = _compute_dtype((pc, pr, rc, rr))
    if ce is not None:
        _floating(ce, "chosen_emb")
    if re is not None:
        _floating(re, "rejected_emb")
    pc, pr, rc, rr, ce, re = (_cpu(t, dt) for t in (pc, pr, rc, rr, ce, re))
    lib = module.context.library
    for name, t in zip(_LOGP_ARGS, (pc, pr, rc, rr)):
        if t is not None and t.dim() != 1:
            raise ValueError("%s must be a 1-dimensional tensor" % name)
    if rc is not None and rc.shape != pc.shape:
        raise lib.error(errors.ERR_SIZE, "reference_chosen_logps has shape %s, "
                        "policy_chosen_logps %s" % (tuple(rc.shape), tuple(pc.shape)))
    if rr is not None and rr.shape != pr.shape:
        raise lib.error(errors.ERR_SIZE, "reference_rejected_logps has shape %s, "
                        "policy_rejected_logps %s" % (tuple(rr.shape), tuple(pr.shape)))
    if ce is None and re is not None:
        raise lib.error(errors.ERR_NULL_POINTER, "rejected_emb is given but "
                        "chosen_emb is None")
    if ce is not None:
        m, n = pc.shape[0], pr.shape[0]
        if ce.dim() != 2 or ce.shape[0] != m:
            raise lib.error(errors.ERR_SIZE, "chosen_emb has shape %s, want "
                            "(%d, D)" % (tuple(ce.shape), m))
        if re is not None and tuple(re.shape) != (n, ce.shape[1]):
            raise lib.error(errors.ERR_SIZE, "rejected_emb has shape %s, want "
                            "(%d, %d)" % (tuple(re.shape), n, ce.shape[1]))
    return pc, pr, rc, rr, ce, re


def _python_loss(entry, pc, pr, rc, rr, ce, re, grad):
    """rpo._native.loss (rpo/_native.c) in Python, for where it was not
    built: (loss, grad_chosen, grad_rejected) written by librpo, None when
    an input is not what librpo reads in place (contiguous 1-D / 2-D CPU
    tensors of one floating dtype, shapes agreeing), or the failing
    status. The test is written out, not a helper per array: at the
    paper's batch sizes this Python is most of a training step's loss."""
    # A tensor subclass passes; anything without these attributes (lists,
    # NumPy arrays fail the dtype test) takes the general path.
    try:
        dt = pc.dtype
        if not ((dt is _F32 or dt is _F64)
                and pc.is_cpu and pc.ndim == 1 and pc.is_contiguous()
                and pr.dtype is dt and pr.is_cpu and pr.ndim == 1
                and pr.is_contiguous()
                and (rc is None or (rc.dtype is dt and rc.is_cpu
                                    and rc.shape == pc.shape
                                    and rc.is_contiguous()))
                and (rr is None or (rr.dtype is dt and rr.is_cpu
                                    and rr.shape == pr.shape
                                    and rr.is_contiguous()))
                and (ce is None or (ce.dtype is dt and ce.is_cpu
                                    and ce.ndim == 2
                                    and ce.shape[0] == pc.shape[0]
                                    and ce.is_contiguous()))
                and (re is None or (ce is not None and re.dtype is dt
                                    and re.is_cpu and re.ndim == 2
                                    and re.shape[0] == pr.shape[0]
                                    and re.shape[1] == ce.shape[1]
                                    and re.is_contiguous()))):
            return None
    except AttributeError:
        return None
    m = pc.shape[0]
    n = pr.shape[0]
    loss = _empty((), dtype=dt)
    if grad:
        gc = _empty(m, dtype=dt)
        gr = _empty(n, dtype=dt)
        gc_p = gc.data_ptr()
        gr_p = gr.data_ptr()
    else:
        gc = gr = gc_p = gr_p = None
    ctx = entry[0]
    with entry[1]:
        handle = ctx._ptr
        if handle is None:
            raise ValueError("the Context is closed")
        status = entry[8 if dt is _F32 else 9](
            handle, m, pc.data_ptr(), None if rc is None else rc.data_ptr(),
            n, pr.data_ptr(), None if rr is None else rr.data_ptr(),
            0 if ce is None else ce.shape[1],
            None if ce is None else ce.data_ptr(),
            None if re is None else re.data_ptr(),
            loss.data_ptr(), gc_p, gr_p)
    return status or (loss, gc, gr)


def _loss_call(module, pc, pr, rc, rr, ce, re, grad):
    """One rpo_loss_f32/_f64 call: (loss, dL/dpc, dL/dpr, converted), a
    0-dim CPU tensor and two 1-D CPU tensors librpo wrote into (None
    without grad), and whether any input had to be converted first (then
    the loss goes back through _output and the gradients through .to()).
    Inputs librpo reads in place take the per-step path (module._entry)."""
    entry = module._entry
    if entry[0] is not module.context:
        entry = module._resolve_entry()
    r = entry[7](entry, pc, pr, rc, rr, ce, re, grad)
    converted = r is None
    if converted:
        pc, pr, rc, rr, ce, re = _prepared(module, pc, pr, rc, rr, ce, re)
        r = entry[7](entry, pc, pr, rc, rr, ce, re, grad)
    if r.__class__ is not tuple:
        raise _failure(entry, r, pc)
    module.__dict__["_last_metrics"] = _FROM_CONTEXT   # nn.Module.__setattr__ is slow
    return r[0], r[1], r[2], converted


def _failure(entry, status, pc):
    """The exception of librpo's failing status, with the context's
    detail (read under the lock, as the call was)."""
    ctx = entry[0]
    with entry[1]:
        return ctx.library.error(status, "rpo_loss_%s" % _SUFFIX[pc.dtype],
                                 ctx._ptr)


def _output(loss, pc, pr):
    """The loss as the caller's tensor: on policy_chosen_logps' device, in
    the promoted dtype of the policy log-probs."""
    out_dtype = torch.promote_types(pc.dtype, pr.dtype)
    if out_dtype is not loss.dtype or not pc.is_cpu:
        loss = loss.to(device=pc.device, dtype=out_dtype)
    return loss


def _scaled_to_inputs(fctx, grad_loss):
    """backward's general case: the gradients scaled by grad_loss and moved
    to each input's device and dtype; the references get the negatives."""
    grads = fctx.grads
    if grads is None:   # handed to autograd by an earlier backward
        grads = _loss_call(*fctx.args, True)[1:3]   # (retain_graph): again
    gc, gr = grads
    g = grad_loss.to(device="cpu", dtype=gc.dtype)
    gc, gr = gc * g, gr * g
    out = [None]
    pc, pr, rc, rr = fctx.args[1:5]
    for k, (grad, t) in enumerate(zip((gc, gr, -gc, -gr), (pc, pr, rc, rr))):
        if not fctx.needs_input_grad[k + 1]:
            out.append(None)
        elif not fctx.converted:   # read in place: CPU, the computed dtype
            out.append(grad)
        else:
            out.append(grad.to(device=t.device, dtype=t.dtype))
    return (*out, None, None)


@torch.autograd.function.once_differentiable
def _backward_once(fctx, grad_loss):
    """backward under create_graph=True: its result is not differentiable
    again, and saying so beats a silently wrong second derivative."""
    return _scaled_to_inputs(fctx, grad_loss)


class _RPOFunction(torch.autograd.Function):
    """forward(module, pc, pr, rc, rr, ce, re) -> loss, embeddings
    constant. librpo returns dL/dpc and dL/dpr with the loss; backward
    scales them by the incoming gradient (dL/drc = -dL/dpc, dL/drr =
    -dL/dpr). Kept lean, since at training batch sizes the Python around
    the C call is most of the time. The common backward (loss.backward():
    an incoming 1, inputs read in place, no reference needing a gradient)
    hands librpo's gradient tensors to autograd and keeps no reference, so
    that autograd stores them as .grad without the copy it makes of a
    tensor someone else holds; a second backward through the same graph
    (retain_graph=True) computes them again from fctx.args, the inputs
    (neither outputs nor tensors that hold this node: no reference
    cycle)."""

    @staticmethod
    def forward(fctx, module, pc, pr, rc, rr, ce, re):
        fctx.args = (module, pc, pr, rc, rr, ce, re)
        # _loss_call's per-step path inlined (a Python call less per step);
        # inputs to convert and failures (raised with their detail) go
        # through _loss_call
        entry = module._entry
        if entry[0] is module.context:
            r = entry[7](entry, pc, pr, rc, rr, ce, re, True)
            if r.__class__ is tuple:
                module.__dict__["_last_metrics"] = _FROM_CONTEXT
                fctx.converted = False
                fctx.grads = (r[1], r[2])
                return r[0]
        loss, gc, gr, fctx.converted = _loss_call(module, pc, pr, rc, rr,
                                                  ce, re, True)
        fctx.grads = (gc, gr)
        if fctx.converted:   # back to the caller's device and dtype
            return _output(loss, pc, pr)
        return loss

    @staticmethod
    def backward(fctx, grad_loss):
        if _grad_enabled():      # create_graph=True
            return _backward_once(fctx, grad_loss)
        need = fctx.needs_input_grad
        if (fctx.converted or need[3] or need[4] or grad_loss.item() != 1.0
                or fctx.grads is None):
            return _scaled_to_inputs(fctx, grad_loss)
        gc, gr = fctx.grads
        fctx.grads = None
        return (None, gc if need[1] else None, gr if need[2] else None,
                None, None, None, None)


class _RPOEmbedFunction(torch.autograd.Function):
    """forward(module, pc, pr, rc, rr, chosen_emb, rejected_emb) -> loss,
    for embeddings that require gradients (a prompt encoder being trained;
    rpo_loss_embed_grad_*): dL/d embeddings come with dL/dpc and dL/dpr,
    written by librpo into tensors by address, as on the plain path."""

    @staticmethod
    def forward(fctx, module, pc, pr, rc, rr, chosen_emb, rejected_emb):
        paired = rejected_emb is None or rejected_emb is chosen_emb
        if chosen_emb is None:
            raise module.context.library.error(
                errors.ERR_NULL_POINTER, "rejected_emb requires grad but "
                "chosen_emb is None")
        args = _prepared(module, pc, pr, rc, rr, chosen_emb,
                         None if paired else rejected_emb)
        cpc, cpr, crc, crr, ce, re = args
        dt, m, n, d = cpc.dtype, cpc.shape[0], cpr.shape[0], ce.shape[1]
        loss = torch.empty((), dtype=dt)
        gc, gr = torch.empty(m, dtype=dt), torch.empty(n, dtype=dt)
        ge = torch.empty((m, d), dtype=dt)   # paired: both roles
        gf = None if re is None else torch.empty((n, d), dtype=dt)
        ctx = module.context
        fn = ctx.library.function("rpo_loss_embed_grad_" + _SUFFIX[dt])
        with ctx._lock:
            handle = ctx._handle()
            status = fn(handle, m, cpc.data_ptr(), _address(crc),
                        n, cpr.data_ptr(), _address(crr), d, ce.data_ptr(),
                        _address(re), loss.data_ptr(), gc.data_ptr(),
                        gr.data_ptr(), ge.data_ptr(), _address(gf))
            if status:
                raise ctx.library.error(status, "rpo_loss_embed_grad_" + _SUFFIX[dt],
                                        handle)
        module.__dict__["_last_metrics"] = _FROM_CONTEXT
        fctx.grads = (gc, gr, -gc, -gr, ge, gf)
        # the same tensor passed as both embeddings gets its gradient once
        fctx.targets = [_target(t) for t in (pc, pr, rc, rr)] + [
            _target(chosen_emb), None if paired else _target(rejected_emb)]
        return _output(loss, pc, pr)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(fctx, grad_loss):
        g = grad_loss.detach().to(device="cpu", dtype=fctx.grads[0].dtype)
        grads = _scaled_back(fctx.grads, g, fctx.targets,
                             fctx.needs_input_grad[1:7])
        return (None, *grads)


# RPOLoss._last_metrics when the metrics are the context's own (read on
# demand: most steps never look at them).
_FROM_CONTEXT = object()


def per_token(logps, lengths):
    """Per-sequence log-probs divided by their completion lengths (clamped
    to at least 1, as TRL does). Differentiable; None stays None. This is
    what RPOLoss's chosen_lengths= did in librpo 1.2, to every log-prob
    and for every loss_type: RPOLoss()(per_token(pc, lc), per_token(pr,
    lr), per_token(rc, lc), per_token(rr, lr), ...) is that call
    (docs/pytorch.md)."""
    if logps is None or lengths is None:
        return logps
    lengths = torch.as_tensor(lengths, device=logps.device)
    return logps / lengths.to(logps.dtype).clamp(min=1)


def prepared_logps(logps, chosen_lengths, rejected_lengths):
    """The four log-prob arguments of a forward (policy chosen, policy
    rejected, reference chosen, reference rejected) checked to be 1-D
    tensors or None, then divided by their lengths when given (the 1.2
    meaning, which rpo.distributed.GlobalRPOLoss keeps)."""
    for name, t in zip(_LOGP_ARGS, logps):
        if t is not None and (not isinstance(t, torch.Tensor) or t.dim() != 1):
            raise ValueError("%s must be a 1-dimensional tensor" % name)
    lengths = (chosen_lengths, rejected_lengths, chosen_lengths, rejected_lengths)
    return tuple(per_token(t, n) for t, n in zip(logps, lengths))


class RPOLoss(torch.nn.Module):
    """Relative Preference Optimization loss (arXiv 2402.10958) by librpo,
    under any of TRL's objectives (docs/objectives.md).

    RPOLoss(beta=0.1, tau=0.5, alpha=0.8, weighting="embedding",
            placement="auto", reduction="mean", *, loss_type=None,
            loss_weights=None, label_smoothing=None, discopop_tau=None,
            logit_scale=None, simpo_gamma=None, f_divergence_type=None,
            f_alpha_divergence_coef=None, threads=None, library=None,
            **settings)

    weighting: "uniform", "diagonal" (alpha on the true pairs; alpha=1 is
    DPO), "embedding" (softmax over prompt-embedding cosine distance with
    temperature tau) or "sinkhorn" (the optimal-transport plan between the
    prompts, epsilon = tau). placement: "auto", "logit" or "loss".
    reduction: "mean" or "sum" over chosen rows, or "none": the M per-row
    losses, whose mean is the "mean" loss. loss_type: TRL's name of the
    per-pair loss (rpo.objectives.TERMS; "sigmoid" by default) or a list
    of them, summed with loss_weights (one each, TRL's). label_smoothing:
    eps of sigmoid, robust and exo_pair; discopop_tau: discopop's
    temperature; logit_scale: "row_sum" (the reference) or "row_mean"
    (beta keeps its meaning as N grows); simpo_gamma, f_divergence_type
    ("reverse_kl", "forward_kl", "js_divergence", "alpha_divergence") and
    f_alpha_divergence_coef as TRL's; threads: how many threads one call
    may use (results are bitwise the same for any). None leaves librpo's
    default. Any other setting of rpo.SETTINGS may be passed by name;
    `library` as for rpo.Context. The settings can be changed later through
    `self.context` (e.g. loss_fn.context.beta = 0.2).

    One loss type of librpo 1.2 (rpo.LOSS_TYPES), no list, no weights,
    lengths or sample weights, and reduction "mean" or "sum" is the plain
    call (rpo_loss_*, the fast path); anything else is rpo_objective_*.
    """

    def __init__(self, beta=0.1, tau=0.5, alpha=0.8, weighting="embedding",
                 placement="auto", reduction="mean", *, loss_type=None,
                 loss_weights=None, label_smoothing=None, discopop_tau=None,
                 logit_scale=None, simpo_gamma=None, f_divergence_type=None,
                 f_alpha_divergence_coef=None, threads=None, library=None,
                 **settings):
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ValueError("reduction must be 'mean', 'sum' or 'none', not %r"
                             % (reduction,))
        names = ("sigmoid",) if loss_type is None else (
            (loss_type,) if isinstance(loss_type, str) else tuple(loss_type))
        plain = loss_weights is None and len(names) == 1 and names[0] in LOSS_TYPES
        if plain and loss_type is not None:
            settings["loss_type"] = loss_type
        for name, value in (("label_smoothing", label_smoothing),
                            ("discopop_tau", discopop_tau),
                            ("logit_scale", logit_scale),
                            ("threads", threads)):
            if value is not None:
                settings[name] = value
        self.context = Context(library, beta=beta, tau=tau, alpha=alpha,
                               weighting=weighting, placement=placement,
                               reduction="mean" if reduction == "none" else reduction,
                               **settings)
        set_objective_settings(self.context, simpo_gamma=simpo_gamma,
                               f_divergence_type=f_divergence_type,
                               f_alpha_divergence_coef=f_alpha_divergence_coef)
        self._term_names = names
        self._loss_weights = None if loss_weights is None else tuple(loss_weights)
        if term_arrays(names, loss_weights)[3]:   # checks names and weights
            raise ValueError("%s stands alone on unpaired data: use "
                             "rpo.torch.KTOLoss" % names[0])
        self._none = reduction == "none"
        # the objective route whatever forward is given (the settings only
        # rpo_objective_* reads are checked per call: they can change)
        self._objective = not plain or self._none
        self._kl = None
        self._last_metrics = None
        self._entry = (None,)

    def _resolve_entry(self):
        """What the per-step path needs, looked up once per context, not
        per call (a new self.context is noticed by _loss_call): (context,
        its lock, the addresses of rpo_loss_f32 and _f64, torch.float32,
        torch.float64, torch.empty) as rpo._native.loss reads them, then
        the function doing the step (rpo._native.loss, or _python_loss
        where that was not built), the ctypes rpo_loss_f32 and _f64
        _python_loss calls, and rpo._autograd.loss (the training step as
        a C++ autograd node) or None where that was not built."""
        ctx = self.context
        lib = ctx.library
        native = lib.native()
        autograd = lib.autograd()
        entry = (ctx, ctx._lock, lib.address("rpo_loss_f32"),
                 lib.address("rpo_loss_f64"), _F32, _F64, _empty,
                 _python_loss if native is None else native.loss,
                 lib.function("rpo_loss_f32"), lib.function("rpo_loss_f64"),
                 None if autograd is None else autograd.loss)
        self.__dict__["_entry"] = entry
        return entry

    def __getstate__(self):
        """Copies and pickles (DDP, multiprocessing) leave the per-step
        entry behind: it holds the context's lock and this process's
        addresses; the copy looks its own up on its first call."""
        state = self.__dict__.copy()
        state["_entry"] = (None,)
        return state

    def forward(self, policy_chosen_logps, policy_rejected_logps,
                reference_chosen_logps=None, reference_rejected_logps=None,
                chosen_emb=None, rejected_emb=None, *, chosen_lengths=None,
                rejected_lengths=None, chosen_weights=None,
                rejected_weights=None):
        """The loss, a 0-dim tensor on policy_chosen_logps' device (for
        reduction="none", the M per-row losses).

        *_logps: (M) chosen and (N) rejected per-sequence log-probs; the
        references may be None (reference-free). chosen_emb (M, D) and
        rejected_emb (N, D): prompt embeddings for embedding and sinkhorn
        weighting; rejected_emb None means paired data (M == N, the same
        prompts). Embeddings that require grad receive dL/d embedding
        (paired: both roles, on chosen_emb). chosen_lengths (M) and
        rejected_lengths (N): completion token counts, read by the terms
        TRL defines on per-token averages (ipo, sigmoid_norm, simpo, orpo)
        and by sft (librpo 1.3's meaning; 1.2 divided every log-prob:
        rpo.torch.per_token does that). chosen_weights (M) and
        rejected_weights (N): sample weights, the pair (i, j) term weighed
        by their product (WPO); constants."""
        pc, pr, rc, rr = (policy_chosen_logps, policy_rejected_logps,
                          reference_chosen_logps, reference_rejected_logps)
        if rejected_emb is chosen_emb:
            rejected_emb = None          # paired: one matrix, both roles
        if _tracing_state() is not None:   # torch.jit.trace
            raise RuntimeError(
                "RPOLoss cannot be traced: librpo computes outside the "
                "operations the tracer records, so a trace would replay a "
                "constant loss; call it outside the traced function")
        if (self._objective or self.context._objective_only
                or chosen_lengths is not None or rejected_lengths is not None
                or chosen_weights is not None or rejected_weights is not None):
            if type(pc) is not torch.Tensor or type(pr) is not torch.Tensor:
                pc, pr, rc, rr = prepared_logps((pc, pr, rc, rr), None, None)
            return objective_forward(self, pc, pr, rc, rr, chosen_emb,
                                     rejected_emb, chosen_lengths,
                                     rejected_lengths, chosen_weights,
                                     rejected_weights)
        if type(pc) is not torch.Tensor or type(pr) is not torch.Tensor:
            pc, pr, rc, rr = prepared_logps((pc, pr, rc, rr), None, None)
        if not _grad_enabled():  # no_grad, inference_mode: loss only
            return self._loss_only(pc, pr, rc, rr, chosen_emb, rejected_emb)
        if (getattr(chosen_emb, "requires_grad", False)
                or getattr(rejected_emb, "requires_grad", False)):
            return _RPOEmbedFunction.apply(self, pc, pr, rc, rr, chosen_emb,
                                           rejected_emb)
        if not (pc.requires_grad or pr.requires_grad
                or (rc is not None and rc.requires_grad)
                or (rr is not None and rr.requires_grad)):
            return self._loss_only(pc, pr, rc, rr, chosen_emb, rejected_emb)
        entry = self._entry
        if entry[0] is not self.context:
            entry = self._resolve_entry()
        if entry[10] is not None:
            # rpo._autograd: the graph node in C++ (what PyTorch's own
            # operators are), half the fixed cost of an autograd.Function;
            # None for inputs to convert, which _RPOFunction takes
            r = entry[10](entry, pc, pr, rc, rr, chosen_emb, rejected_emb)
            if r.__class__ is int:
                raise _failure(entry, r, pc)
            if r is not None:
                self.__dict__["_last_metrics"] = _FROM_CONTEXT
                return r
        return _RPOFunction.apply(self, pc, pr, rc, rr, chosen_emb, rejected_emb)

    def _loss_only(self, pc, pr, rc, rr, ce, re):
        """The loss without gradients (librpo is passed no gradient
        outputs and skips computing them)."""
        loss, _, _, converted = _loss_call(self, pc, pr, rc, rr, ce, re, False)
        return _output(loss, pc, pr) if converted else loss

    @property
    def metrics(self):
        """The last forward's metrics under TRL's names, as floats ({}
        before the first call); the objective route adds logps/chosen and
        logps/rejected. The plain path's are read from the context when
        asked, so they are those of the last successful loss call on
        self.context."""
        last = self._last_metrics
        if last is None:
            return {}
        if isinstance(last, dict):
            return dict(last)
        if last is _FROM_CONTEXT:
            last = self.context.metrics
        return {trl: getattr(last, field) for trl, field in TRL_METRICS}

    def extra_repr(self):
        return ", ".join("%s=%r" % kv for kv in self.context.settings().items())


# The objective route and KTOLoss (they use the helpers above).
from .objectives_torch import KTOLoss, objective_forward  # noqa: E402,F401
