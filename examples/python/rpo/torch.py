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
scale, optimal-transport weights (weighting="sinkhorn") and per-token
averages (chosen_lengths=, rejected_lengths=) are explained in
docs/beyond.md; rpo.distributed.GlobalRPOLoss spans data-parallel ranks.
"""

import torch

from . import errors
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
    # librpo 1.3: the shape of W (not TRL's)
    ("weights/effective_contrasts", "effective_contrasts"),
    ("weights/diagonal", "diagonal_weight"),
)

_LOGP_ARGS = ("policy_chosen_logps", "policy_rejected_logps",
              "reference_chosen_logps", "reference_rejected_logps")
_EMB_ARGS = ("chosen_emb", "rejected_emb")
_COMPUTED = (torch.float32, torch.float64)
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
    """The general path of a call: the computed dtype, every array as a
    contiguous CPU tensor of it, and the shapes the C API cannot see (it
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
    if ce is not None:
        m, n = pc.shape[0], pr.shape[0]
        if ce.dim() != 2 or ce.shape[0] != m:
            raise lib.error(errors.ERR_SIZE, "chosen_emb has shape %s, want "
                            "(%d, D)" % (tuple(ce.shape), m))
        if re is not None and tuple(re.shape) != (n, ce.shape[1]):
            raise lib.error(errors.ERR_SIZE, "rejected_emb has shape %s, want "
                            "(%d, %d)" % (tuple(re.shape), n, ce.shape[1]))
    return dt, pc, pr, rc, rr, ce, re


def _loss_call(module, pc, pr, rc, rr, ce, re, grad):
    """One rpo_loss_f32/_f64 call: (loss, dL/dpc, dL/dpr, converted), a
    0-dim CPU tensor and two 1-D CPU tensors librpo wrote into (None
    without grad), and whether any input had to be converted (then the
    loss goes back through _output and the gradients through .to(); when
    none was, the loss already has the caller's dtype and device). Inputs that already are what
    librpo reads (contiguous 1-D / 2-D CPU tensors of one floating dtype,
    shapes agreeing) take the fast path: a few attribute reads, no copy."""
    # written out, not a helper per array: this test runs on every call.
    # A tensor subclass passes; anything without these attributes (lists,
    # NumPy arrays fail the dtype test) takes the general path.
    try:
        dt = pc.dtype
        fast = ((dt is torch.float32 or dt is torch.float64)
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
                                    and re.is_contiguous())))
    except AttributeError:
        fast = False
    if not fast:
        dt, pc, pr, rc, rr, ce, re = _prepared(module, pc, pr, rc, rr, ce, re)
    m = pc.shape[0]
    n = pr.shape[0]
    loss = torch.empty((), dtype=dt)
    if grad:
        gc = torch.empty(m, dtype=dt)
        gr = torch.empty(n, dtype=dt)
        gc_p, gr_p = gc.data_ptr(), gr.data_ptr()
    else:
        gc = gr = gc_p = gr_p = None
    ctx = module.context
    entry = module._entry
    if entry[0] is not ctx:
        entry = module._resolve_entry()
    fn = entry[1] if dt is torch.float32 else entry[2]
    with ctx._lock:
        handle = ctx._ptr
        if handle is None:
            raise ValueError("the Context is closed")
        status = fn(handle, m, pc.data_ptr(),
                    None if rc is None else rc.data_ptr(),
                    n, pr.data_ptr(), None if rr is None else rr.data_ptr(),
                    0 if ce is None else ce.shape[1],
                    None if ce is None else ce.data_ptr(),
                    None if re is None else re.data_ptr(),
                    loss.data_ptr(), gc_p, gr_p)
        if status:
            raise ctx.library.error(status, "rpo_loss_%s" % _SUFFIX[dt], handle)
    module.__dict__["_last_metrics"] = _FROM_CONTEXT   # nn.Module.__setattr__ is slow
    return loss, gc, gr, not fast


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
    g = grad_loss.to(device="cpu", dtype=fctx.gc.dtype)
    gc, gr = fctx.gc * g, fctx.gr * g
    out = [None]
    for k, grad in enumerate((gc, gr, -gc, -gr)):
        if not fctx.needs_input_grad[k + 1]:
            out.append(None)
        elif fctx.inputs is None:   # read in place: CPU, the computed dtype
            out.append(grad)
        else:
            t = fctx.inputs[k]
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
    the C call is most of the time: the gradients stay on fctx (they are
    neither inputs nor outputs, so no reference cycle), and the common
    backward (loss.backward(): an incoming 1, CPU float inputs that were
    read in place, no reference needing a gradient) returns them as they
    are."""

    @staticmethod
    def forward(fctx, module, pc, pr, rc, rr, ce, re):
        loss, fctx.gc, fctx.gr, converted = _loss_call(module, pc, pr, rc,
                                                       rr, ce, re, True)
        if converted:   # the gradients go back to these devices and dtypes
            fctx.inputs = (pc, pr, rc, rr)
            return _output(loss, pc, pr)
        fctx.inputs = None
        return loss

    @staticmethod
    def backward(fctx, grad_loss):
        if torch.is_grad_enabled():      # create_graph=True
            return _backward_once(fctx, grad_loss)
        need = fctx.needs_input_grad
        if (fctx.inputs is not None or need[3] or need[4]
                or grad_loss.item() != 1.0):
            return _scaled_to_inputs(fctx, grad_loss)
        return (None, fctx.gc if need[1] else None,
                fctx.gr if need[2] else None, None, None, None, None)


class _RPOEmbedFunction(torch.autograd.Function):
    """forward(module, pc, pr, rc, rr, chosen_emb, rejected_emb) -> loss,
    for embeddings that require gradients (a prompt encoder being trained;
    rpo_loss_embed_grad): dL/d embeddings come with dL/dpc and dL/dpr."""

    @staticmethod
    def forward(fctx, module, pc, pr, rc, rr, chosen_emb, rejected_emb):
        logps = (pc, pr, rc, rr)
        dt = _compute_dtype(logps)
        _floating(chosen_emb, "chosen_emb")
        paired = rejected_emb is None or rejected_emb is chosen_emb
        if not paired:
            _floating(rejected_emb, "rejected_emb")
        arrays = [_cpu_array(t, dt) for t in logps]
        ce = _cpu_array(chosen_emb, dt)
        re = None if paired else _cpu_array(rejected_emb, dt)
        result = module.context.loss_embed_grad(*arrays, ce, re)
        gc, gr = torch.from_numpy(result.grad_chosen), torch.from_numpy(result.grad_rejected)
        ge = torch.from_numpy(result.grad_chosen_emb)  # paired: both roles
        gf = None
        if result.grad_rejected_emb is not None:
            gf = torch.from_numpy(result.grad_rejected_emb)
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
        g = grad_loss.detach().to(device="cpu", dtype=gc.dtype)
        grads = _scaled_back((gc, gr, -gc, -gr, ge, gf), g, fctx.targets,
                             fctx.needs_input_grad[1:7])
        return (None, *grads)


# RPOLoss._last_metrics when the metrics are the context's own (read on
# demand: most steps never look at them).
_FROM_CONTEXT = object()


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
            threads=None, library=None, **settings)

    weighting: "uniform", "diagonal" (alpha on the true pairs; alpha=1 is
    DPO), "embedding" (softmax over prompt-embedding cosine distance with
    temperature tau) or "sinkhorn" (the optimal-transport plan between the
    prompts, epsilon = tau). placement: "auto", "logit" or "loss".
    reduction: "mean" or "sum" over chosen rows. loss_type: the per-pair
    loss by TRL's name (rpo.LOSS_TYPES; "sigmoid" by default);
    label_smoothing: eps of sigmoid, robust and exo_pair; discopop_tau:
    discopop's temperature; logit_scale: "row_sum" (the reference) or
    "row_mean" (beta keeps its meaning as N grows); threads: how many
    threads one call may use (results are bitwise the same for any). None
    leaves librpo's default. Any other setting of rpo.SETTINGS may be passed by name;
    `library` as for rpo.Context. The settings can be changed later through
    `self.context` (e.g. loss_fn.context.beta = 0.2).
    """

    def __init__(self, beta=0.1, tau=0.5, alpha=0.8, weighting="embedding",
                 placement="auto", reduction="mean", *, loss_type=None,
                 label_smoothing=None, discopop_tau=None, logit_scale=None,
                 threads=None, library=None, **settings):
        super().__init__()
        for name, value in (("loss_type", loss_type),
                            ("label_smoothing", label_smoothing),
                            ("discopop_tau", discopop_tau),
                            ("logit_scale", logit_scale),
                            ("threads", threads)):
            if value is not None:
                settings[name] = value
        self.context = Context(library, beta=beta, tau=tau, alpha=alpha,
                               weighting=weighting, placement=placement,
                               reduction=reduction, **settings)
        self._last_metrics = None
        self._entry = (None, None, None)

    def _resolve_entry(self):
        """(context, rpo_loss_f32, rpo_loss_f64) of the context's library:
        looked up once per context, not per call (a new self.context is
        noticed by _loss_call and looked up again)."""
        lib = self.context.library
        entry = (self.context, lib.function("rpo_loss_f32"),
                 lib.function("rpo_loss_f64"))
        self.__dict__["_entry"] = entry
        return entry

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
        logps = pc, pr, rc, rr = (policy_chosen_logps, policy_rejected_logps,
                                  reference_chosen_logps, reference_rejected_logps)
        if (chosen_lengths is not None or rejected_lengths is not None
                or type(pc) is not torch.Tensor or type(pr) is not torch.Tensor):
            logps = pc, pr, rc, rr = prepared_logps(logps, chosen_lengths,
                                                    rejected_lengths)
        if rejected_emb is chosen_emb:
            rejected_emb = None          # paired: one matrix, both roles
        if torch._C._get_tracing_state() is not None:   # torch.jit.trace
            raise RuntimeError(
                "RPOLoss cannot be traced: librpo computes outside the "
                "operations the tracer records, so a trace would replay a "
                "constant loss; call it outside the traced function")
        if not torch.is_grad_enabled():  # no_grad, inference_mode: loss only
            return self._loss_only(pc, pr, rc, rr, chosen_emb, rejected_emb)
        if (getattr(chosen_emb, "requires_grad", False)
                or getattr(rejected_emb, "requires_grad", False)):
            return _RPOEmbedFunction.apply(self, *logps, chosen_emb, rejected_emb)
        if not (pc.requires_grad or pr.requires_grad
                or (rc is not None and rc.requires_grad)
                or (rr is not None and rr.requires_grad)):
            return self._loss_only(pc, pr, rc, rr, chosen_emb, rejected_emb)
        return _RPOFunction.apply(self, pc, pr, rc, rr, chosen_emb, rejected_emb)

    def _loss_only(self, pc, pr, rc, rr, ce, re):
        """The loss without gradients (librpo is passed no gradient
        outputs and skips computing them)."""
        loss, _, _, converted = _loss_call(self, pc, pr, rc, rr, ce, re, False)
        return _output(loss, pc, pr) if converted else loss

    @property
    def metrics(self):
        """The last forward's metrics under TRL's names, as floats ({}
        before the first call). Read from the context when asked, so they
        are those of the last successful loss call on self.context."""
        last = self._last_metrics
        if last is None:
            return {}
        if last is _FROM_CONTEXT:
            last = self.context.metrics
        return {trl: getattr(last, field) for trl, field in TRL_METRICS}

    def extra_repr(self):
        return ", ".join("%s=%r" % kv for kv in self.context.settings().items())
