"""Context: librpo's settings, its scratch memory and the last metrics.

Settings are a table (SETTINGS): each row becomes a property of Context and
a keyword of Context(...) and of rpo.torch.RPOLoss, so a setting the C
library gains is one row here.
"""

import collections
import ctypes
import threading

import numpy as np

from . import _buffers as buf
from . import _library
from . import errors

Setting = collections.namedtuple("Setting", "name key choices doc integer")
Setting.__new__.__defaults__ = ((), "", False)

# TRL's loss_type names, in RPO_LOSS_* order (docs/extensions.md).
LOSS_TYPES = ("sigmoid", "hinge", "ipo", "robust", "exo_pair", "bco_pair",
              "sppo_hard", "nca_pair", "apo_zero", "apo_down", "discopop")

# name, RPO_PARAM_* key, names of an enumeration's values (index = value).
SETTINGS = (
    Setting("weighting", 1, ("uniform", "diagonal", "embedding", "sinkhorn"),
            "how the M x N contrasts are weighted (RPO_PARAM_WEIGHTING)"),
    Setting("beta", 2, (), "beta > 0 (RPO_PARAM_BETA)"),
    Setting("tau", 3, (), "embedding-distance temperature > 0 (RPO_PARAM_TAU)"),
    Setting("alpha", 4, (), "diagonal weight in [0, 1] (RPO_PARAM_ALPHA)"),
    Setting("placement", 5, ("auto", "logit", "loss"),
            "where the weights enter the loss (RPO_PARAM_PLACEMENT)"),
    Setting("reduction", 6, ("mean", "sum"),
            "mean or sum over the chosen rows (RPO_PARAM_REDUCTION)"),
    # librpo 1.1
    Setting("threads", 7, (),
            "threads per call, an integer in [1, 256]; results are bitwise "
            "identical for every value (RPO_PARAM_THREADS)", True),
    # librpo 1.2, docs/extensions.md
    Setting("loss_type", 8, LOSS_TYPES,
            "the per-pair loss, TRL's loss_type names (RPO_PARAM_LOSS)"),
    Setting("label_smoothing", 9, (),
            "eps in [0, 0.5) of sigmoid, robust and exo_pair "
            "(RPO_PARAM_LABEL_SMOOTHING)"),
    Setting("discopop_tau", 10, (),
            "discopop's temperature > 0 (RPO_PARAM_DISCOPOP_TAU)"),
    Setting("logit_scale", 11, ("row_sum", "row_mean"),
            "the factor on W inside the logit: rows sum to 1, or average 1 "
            "(RPO_PARAM_LOGIT_SCALE)"),
    Setting("sinkhorn_iters", 12, (),
            "most Sinkhorn iterations, an integer in [1, 1e6] "
            "(RPO_PARAM_SINKHORN_ITERS)", True),
    Setting("sinkhorn_tol", 13, (),
            "Sinkhorn's column-marginal tolerance in [0, 1] "
            "(RPO_PARAM_SINKHORN_TOL)"),
    # librpo 1.3: read by the objectives alone (docs/objectives.md)
    Setting("simpo_gamma", 14, (),
            "the margin gamma >= 0 of simpo, sigmoid and sigmoid_norm "
            "(RPO_PARAM_SIMPO_GAMMA)"),
    Setting("f_divergence", 15, ("reverse_kl", "forward_kl", "js", "alpha"),
            "the f-divergence of the scores (RPO_PARAM_F_DIVERGENCE)"),
    Setting("f_alpha", 16, (),
            "the alpha > 0 of the alpha divergence (RPO_PARAM_F_ALPHA)"),
    Setting("desirable_weight", 17, (),
            "KTO's weight >= 0 of the desirable sequences "
            "(RPO_PARAM_DESIRABLE_WEIGHT)"),
    Setting("undesirable_weight", 18, (),
            "KTO's weight >= 0 of the undesirable sequences "
            "(RPO_PARAM_UNDESIRABLE_WEIGHT)"),
    # librpo 1.3: the fused linear log-probs
    Setting("linear_chunk", 19, (),
            "tokens and words per chunk of logits of the fused linear "
            "log-probs, an integer in [16, 4096] (RPO_PARAM_LINEAR_CHUNK)",
            True),
    # librpo 1.3: effective contrasts (docs/extensions.md)
    Setting("target_contrasts", 20, (),
            "0 (off) or k >= 1: embedding weighting solves each row's "
            "temperature so that exp(entropy of the row) = k "
            "(RPO_PARAM_TARGET_CONTRASTS)"),
)
SETTINGS_BY_NAME = {s.name: s for s in SETTINGS}

# Settings only rpo_objective_* reads, with the value at which the result
# is that of rpo_loss_* (rpo.torch.RPOLoss calls rpo_loss_* while every
# one has it; desirable_weight and undesirable_weight are KTO's alone, and
# f_alpha matters only with f_divergence "alpha").
OBJECTIVE_ONLY = {"simpo_gamma": 0.0, "f_divergence": 0.0}

# Metrics of the last successful loss call: field name, RPO_STAT_* key.
_STATS = (("loss", 1), ("reward_chosen", 2), ("reward_rejected", 3),
          ("margin", 4), ("accuracy", 5),
          # librpo 1.3: the shape of W
          ("effective_contrasts", 11), ("diagonal_weight", 12))
Metrics = collections.namedtuple("Metrics", [name for name, _ in _STATS])
Metrics.__doc__ = ("Metrics of the last successful loss call, weighted by W "
                   "(include/rpo.h, RPO_STAT_*). effective_contrasts and "
                   "diagonal_weight are NaN where unknown: the partial "
                   "vector of a row block (split_partial) has no room for "
                   "them; a block's shares are its context's metrics.")
Metrics.__new__.__defaults__ = (float("nan"), float("nan"))

# The last Sinkhorn run: field name, RPO_STAT_SINKHORN_* key.
_SINKHORN_STATS = (("iterations", 6), ("error", 7))
SinkhornRun = collections.namedtuple(
    "SinkhornRun", [name for name, _ in _SINKHORN_STATS])

LossResult = collections.namedtuple(
    "LossResult", "loss grad_chosen grad_rejected metrics")
LossResult.__doc__ = ("loss (float), dL/d policy_chosen (M) and "
                      "dL/d policy_rejected (N) as arrays (None when grad="
                      "False), and the call's Metrics. The gradients with "
                      "respect to the reference log-probs are their negatives.")

EmbedGradResult = collections.namedtuple(
    "EmbedGradResult",
    "loss grad_chosen grad_rejected grad_chosen_emb grad_rejected_emb metrics")
EmbedGradResult.__doc__ = ("LossResult plus dL/d chosen_emb (M, D) and "
                           "dL/d rejected_emb (N, D); with paired embeddings "
                           "grad_chosen_emb holds both roles and "
                           "grad_rejected_emb is None.")

# Row blocks of a global problem (docs/extensions.md section 5).
PARTIAL_COUNT = 5   # RPO_PARTIAL_COUNT: loss and the four metrics

RowsResult = collections.namedtuple(
    "RowsResult", "partial grad_chosen grad_chosen_emb")
RowsResult.__doc__ = (
    "One row block's results. partial: one 1-D array, [partial stats (5) | "
    "dL/d policy_rejected share (N) | dL/d rejected_emb share (N*D, only "
    "with emb_grad)], to be summed over all blocks (one all-reduce) and "
    "read with rpo.split_partial. grad_chosen (M) and grad_chosen_emb "
    "(M, D) are complete for the block's rows (None when not asked for).")

RowsTotal = collections.namedtuple(
    "RowsTotal", "loss metrics grad_rejected grad_rejected_emb")
RowsTotal.__doc__ = ("The whole problem, from the summed partial vector: "
                     "loss, Metrics, dL/d policy_rejected (N) and "
                     "dL/d rejected_emb (N, D) or None.")


def partial_length(n, d=0):
    """Length of RowsResult.partial for N gathered columns (and D with
    embedding gradients)."""
    return PARTIAL_COUNT + n + n * d


def split_partial(partial, n, d=0):
    """The summed partial vector of every row block as a RowsTotal (views
    into `partial`). d: the embedding width when the blocks were run with
    emb_grad=True, else 0."""
    partial = np.asarray(partial)
    if partial.shape != (partial_length(n, d),):
        raise ValueError("partial has shape %s, want (%d,) for n = %d, d = %d"
                         % (partial.shape, partial_length(n, d), n, d))
    stats = [float(v) for v in partial[:PARTIAL_COUNT]]
    grad_re = partial[PARTIAL_COUNT + n:].reshape(n, d) if d else None
    return RowsTotal(stats[0], Metrics(*stats),
                     partial[PARTIAL_COUNT:PARTIAL_COUNT + n], grad_re)


def _encode(setting, value):
    """A Python value of a setting as the double librpo takes."""
    if setting.choices and isinstance(value, str):
        try:
            return float(setting.choices.index(value))
        except ValueError:
            raise ValueError("%s must be one of %s, not %r"
                             % (setting.name, ", ".join(setting.choices),
                                value)) from None
    return float(value)


def _decode(setting, value):
    """librpo's double as the Python value: a name for an enumeration."""
    if setting.choices and value == int(value) and 0 <= value < len(setting.choices):
        return setting.choices[int(value)]
    if setting.integer:
        return int(value)
    return value


class Context:
    """Settings, reusable scratch memory and the last call's metrics.

    Context(library=None, **settings): `library` is None (search, see
    rpo.load_library), a path, or a loaded rpo.Library. Each keyword sets
    one setting (see SETTINGS; enumerations take their names, e.g.
    weighting="diagonal"). Every setting is also a property.

    A Context may be shared between threads: calls on it are serialised by
    a lock (librpo itself allows one thread per context at a time).

    Only the settings can be assigned: a misspelt name (ctx.bta = 0.2)
    raises AttributeError instead of creating an attribute librpo never
    reads.
    """

    __slots__ = ("_lib", "_ptr", "_lock", "_objective_only", "__weakref__")

    def __setattr__(self, name, value):
        try:
            object.__setattr__(self, name, value)
        except AttributeError:
            raise AttributeError(
                "rpo.Context has no setting %r; the settings are %s"
                % (name, ", ".join(SETTINGS_BY_NAME))) from None

    def __init__(self, library=None, **settings):
        self._lib = _library.resolve(library)
        self._ptr = None
        self._lock = threading.Lock()
        self._objective_only = set()   # OBJECTIVE_ONLY names set otherwise
        ptr = self._lib.function("rpo_ctx_create")()
        if not ptr:
            raise self._lib.error(errors.ERR_NOMEM, "rpo_ctx_create")
        self._ptr = ctypes.c_void_p(ptr)
        for name, value in settings.items():
            self.set(name, value)

    # ------------------------------------------------------------ lifetime
    def close(self):
        """Frees the C context now (also done when the object is collected)."""
        ptr, self._ptr = getattr(self, "_ptr", None), None
        if ptr is not None:
            self._lib.function("rpo_ctx_free")(ptr)

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _handle(self):
        if self._ptr is None:
            raise ValueError("the Context is closed")
        return self._ptr

    # Pickling and deep copies (torch's DDP, multiprocessing) rebuild a
    # context with the same settings and library path; scratch and metrics
    # are per-process state and start afresh.
    def __reduce__(self):
        return (_restore, (self._lib.path, self.settings()))

    def __deepcopy__(self, memo):
        return Context(self._lib, **self.settings())

    def __repr__(self):
        items = ", ".join("%s=%r" % kv for kv in self.settings().items())
        return "rpo.Context(%s)" % items

    @property
    def library(self):
        """The rpo.Library this context calls."""
        return self._lib

    # ------------------------------------------------------------ settings
    @staticmethod
    def _setting(name):
        try:
            return SETTINGS_BY_NAME[name]
        except KeyError:
            raise TypeError("unknown setting %r; settings are %s"
                            % (name, ", ".join(SETTINGS_BY_NAME))) from None

    def set(self, name, value):
        """Sets setting `name`; ParamError (and the old value kept) when the
        library rejects the value."""
        s = self._setting(name)
        encoded = _encode(s, value)
        with self._lock:
            self._lib.call("rpo_ctx_set", self._handle(), s.key, encoded,
                           detail="%s = %r" % (name, value))
            if name in OBJECTIVE_ONLY:
                if encoded == OBJECTIVE_ONLY[name]:
                    self._objective_only.discard(name)
                else:
                    self._objective_only.add(name)

    @property
    def objective_only(self):
        """The settings only rpo_objective_* reads (OBJECTIVE_ONLY) that
        are set to a value that changes the result: while there are any,
        rpo.torch.RPOLoss calls rpo_objective_*."""
        return frozenset(self._objective_only)

    def get(self, name):
        s = self._setting(name)
        value = ctypes.c_double()
        with self._lock:
            self._lib.call("rpo_ctx_get", self._handle(), s.key,
                           ctypes.byref(value), detail=name)
        return _decode(s, value.value)

    def settings(self):
        """Every setting as a dict, name -> value."""
        return {s.name: self.get(s.name) for s in SETTINGS}

    def bounds(self, name):
        """The inclusive range (lo, hi) librpo accepts for setting `name`."""
        s = self._setting(name)
        lo, hi = ctypes.c_double(), ctypes.c_double()
        self._lib.call("rpo_param_bounds", s.key, ctypes.byref(lo),
                       ctypes.byref(hi), detail=name)
        return lo.value, hi.value

    @property
    def metrics(self):
        """Metrics of the last successful loss call (zeros before one)."""
        with self._lock:
            return self._read_metrics()

    @property
    def sinkhorn(self):
        """The last Sinkhorn run as SinkhornRun(iterations, error): the plan
        of the last SINKHORN call (0, 0.0 after a loss call with another
        weighting)."""
        values = []
        with self._lock:
            for _, key in _SINKHORN_STATS:
                v = ctypes.c_double()
                self._lib.call("rpo_ctx_stat", self._handle(), key, ctypes.byref(v))
                values.append(v.value)
        return SinkhornRun(int(values[0]), values[1])

    def _read_metrics(self):
        values = []
        for _, key in _STATS:
            v = ctypes.c_double()
            self._lib.call("rpo_ctx_stat", self._handle(), key, ctypes.byref(v))
            values.append(v.value)
        return Metrics(*values)

    # ------------------------------------------------------------ the loss
    def _sides(self, dt, policy_chosen, policy_rejected, ref_chosen,
               ref_rejected):
        pc = buf.as_input(policy_chosen, dt, "policy_chosen", 1)
        pr = buf.as_input(policy_rejected, dt, "policy_rejected", 1)
        m, n = pc.shape[0], pr.shape[0]
        rc = buf.as_input(ref_chosen, dt, "ref_chosen", 1)
        rr = buf.as_input(ref_rejected, dt, "ref_rejected", 1)
        if rc is not None and rc.shape[0] != m:
            raise buf.size_error(self._lib, "ref_chosen has %d entries, "
                                 "policy_chosen %d" % (rc.shape[0], m))
        if rr is not None and rr.shape[0] != n:
            raise buf.size_error(self._lib, "ref_rejected has %d entries, "
                                 "policy_rejected %d" % (rr.shape[0], n))
        return pc, pr, rc, rr, m, n

    def _embeddings(self, dt, chosen_emb, rejected_emb, m, n):
        """(chosen, rejected, d); rejected is None for paired embeddings
        (rejected_emb None or the chosen object itself)."""
        if chosen_emb is None:
            return None, None, 0
        ce = buf.as_input(chosen_emb, dt, "chosen_emb", 2)
        if ce.shape[0] != m:
            raise buf.size_error(self._lib, "chosen_emb has %d rows, want %d"
                                 % (ce.shape[0], m))
        d = ce.shape[1]
        if rejected_emb is None or rejected_emb is chosen_emb:
            return ce, None, d
        re = buf.as_input(rejected_emb, dt, "rejected_emb", 2)
        if re.shape != (n, d):
            raise buf.size_error(self._lib, "rejected_emb has shape %s, want "
                                 "(%d, %d)" % (re.shape, n, d))
        return ce, re, d

    def _gradient_outputs(self, dt, m, n, grad, out):
        if not grad:
            if out is not None:
                raise ValueError("out= given with grad=False")
            return None, None
        gc_out, gr_out = (None, None) if out is None else out
        return (buf.as_output(gc_out, dt, (m,), "out[0] (grad_chosen)"),
                buf.as_output(gr_out, dt, (n,), "out[1] (grad_rejected)"))

    def _run(self, name, dt, args, gc, gr):
        suffix = "f32" if dt == np.float32 else "f64"
        loss = np.empty(1, dtype=dt)
        with self._lock:
            self._lib.call("%s_%s" % (name, suffix), self._handle(), *args,
                           buf.address(loss), buf.address(gc), buf.address(gr))
            metrics = self._read_metrics()
        return LossResult(float(loss[0]), gc, gr, metrics)

    def loss(self, policy_chosen, policy_rejected, ref_chosen=None,
             ref_rejected=None, chosen_emb=None, rejected_emb=None, *,
             grad=True, dtype=None, out=None):
        """The RPO loss, its gradients and metrics (rpo_loss_f32/_f64).

        policy_chosen (M), policy_rejected (N): per-sequence log-probs.
        ref_chosen (M), ref_rejected (N): reference log-probs; None is
            reference-free (zeros).
        chosen_emb (M, D), rejected_emb (N, D): prompt embeddings, read by
            embedding weighting; rejected_emb None (or chosen_emb itself)
            means paired data.
        grad: False skips the gradients (a loss-only call).
        dtype: float32 or float64; by default float32 when every input is
            float32, else float64. Inputs of that type and C layout are read
            in place.
        out: (grad_chosen, grad_rejected) arrays to write the gradients to.
        Returns a LossResult; raises an rpo.RPOError subclass on failure.
        """
        dt = buf.call_dtype((policy_chosen, policy_rejected, ref_chosen,
                             ref_rejected, chosen_emb, rejected_emb), dtype)
        pc, pr, rc, rr, m, n = self._sides(dt, policy_chosen, policy_rejected,
                                           ref_chosen, ref_rejected)
        ce, re, d = self._embeddings(dt, chosen_emb, rejected_emb, m, n)
        gc, gr = self._gradient_outputs(dt, m, n, grad, out)
        args = (m, buf.address(pc), buf.address(rc),
                n, buf.address(pr), buf.address(rr),
                d, buf.address(ce), buf.address(re))
        return self._run("rpo_loss", dt, args, gc, gr)

    def loss_weighted(self, policy_chosen, policy_rejected, ref_chosen=None,
                      ref_rejected=None, *, weights, grad=True, dtype=None,
                      out=None):
        """The loss over your own weight matrix `weights` (M, N)
        (rpo_loss_weighted_f32/_f64); other arguments as for loss()."""
        dt = buf.call_dtype((policy_chosen, policy_rejected, ref_chosen,
                             ref_rejected, weights), dtype)
        pc, pr, rc, rr, m, n = self._sides(dt, policy_chosen, policy_rejected,
                                           ref_chosen, ref_rejected)
        w = buf.as_input(weights, dt, "weights", 2)
        if w.shape != (m, n):
            raise buf.size_error(self._lib, "weights has shape %s, want "
                                 "(%d, %d)" % (w.shape, m, n))
        gc, gr = self._gradient_outputs(dt, m, n, grad, out)
        args = (m, buf.address(pc), buf.address(rc),
                n, buf.address(pr), buf.address(rr), buf.address(w))
        return self._run("rpo_loss_weighted", dt, args, gc, gr)

    def weights(self, chosen_emb=None, rejected_emb=None, *, m=None, n=None,
                dtype=None, out=None):
        """The weight matrix W (M, N) of this context's weighting
        (rpo_weights_f32/_f64). With embeddings, M and N are their row
        counts; without (uniform, diagonal), pass m and n (n defaults to m).
        """
        dt = buf.call_dtype((chosen_emb, rejected_emb), dtype)
        if chosen_emb is not None:
            rows = np.asarray(chosen_emb).shape[0]
            if m is not None and m != rows:
                raise buf.size_error(self._lib, "m = %d but chosen_emb has %d "
                                     "rows" % (m, rows))
            m = rows
            if rejected_emb is not None and rejected_emb is not chosen_emb:
                n = np.asarray(rejected_emb).shape[0] if n is None else n
        if m is None:
            raise TypeError("weights() needs embeddings or m")
        n = m if n is None else n
        ce, re, d = self._embeddings(dt, chosen_emb, rejected_emb, m, n)
        w = buf.as_output(out, dt, (m, n), "out")
        suffix = "f32" if dt == np.float32 else "f64"
        with self._lock:
            self._lib.call("rpo_weights_" + suffix, self._handle(), m, n, d,
                           buf.address(ce), buf.address(re), buf.address(w))
        return w


    # ------------------------------------------------ beyond the paper (1.2)
    def loss_embed_grad(self, policy_chosen, policy_rejected, ref_chosen=None,
                        ref_rejected=None, chosen_emb=None, rejected_emb=None,
                        *, grad=True, dtype=None):
        """loss() plus the gradients with respect to the prompt embeddings
        (rpo_loss_embed_grad_f32/_f64), for a prompt encoder being trained.
        Embedding weighting differentiates through the softmax and the row
        normalisation; uniform and diagonal give zeros; sinkhorn raises
        UnsupportedError. Returns an EmbedGradResult."""
        dt = buf.call_dtype((policy_chosen, policy_rejected, ref_chosen,
                             ref_rejected, chosen_emb, rejected_emb), dtype)
        pc, pr, rc, rr, m, n = self._sides(dt, policy_chosen, policy_rejected,
                                           ref_chosen, ref_rejected)
        ce, re, d = self._embeddings(dt, chosen_emb, rejected_emb, m, n)
        gc, gr = self._gradient_outputs(dt, m, n, grad, None)
        ge = np.empty((m, d), dtype=dt)
        gf = None if re is None else np.empty((n, d), dtype=dt)
        loss = np.empty(1, dtype=dt)
        with self._lock:
            self._lib.call("rpo_loss_embed_grad_" + _suffix(dt), self._handle(),
                           m, buf.address(pc), buf.address(rc),
                           n, buf.address(pr), buf.address(rr),
                           d, buf.address(ce), buf.address(re),
                           buf.address(loss), buf.address(gc), buf.address(gr),
                           buf.address(ge), buf.address(gf))
            metrics = self._read_metrics()
        return EmbedGradResult(float(loss[0]), gc, gr, ge, gf, metrics)

    def _block(self, m_total, row_offset, m):
        if not 0 <= row_offset <= m_total or m > m_total - row_offset:
            raise buf.size_error(self._lib, "rows %d .. %d of %d" % (
                row_offset, row_offset + m - 1, m_total))

    def loss_rows(self, m_total, row_offset, policy_chosen, policy_rejected,
                  ref_chosen=None, ref_rejected=None, chosen_emb=None,
                  rejected_emb=None, *, grad=True, emb_grad=False, dtype=None):
        """One row block of a global problem (rpo_loss_rows_f32/_f64): this
        rank's chosen rows row_offset .. row_offset + M - 1 of m_total,
        against all N rejected responses gathered from every rank.

        policy_chosen, ref_chosen (M), chosen_emb (M, D): this block's rows.
        policy_rejected, ref_rejected (N), rejected_emb (N, D): gathered;
            rejected_emb is always the gathered matrix (no paired shorthand).
        grad: the log-prob gradients; emb_grad: the embedding gradients.
        Returns a RowsResult: sum its `partial` over all blocks (one
        all-reduce), then rpo.split_partial(summed, N, D if emb_grad else 0).
        """
        dt = buf.call_dtype((policy_chosen, policy_rejected, ref_chosen,
                             ref_rejected, chosen_emb, rejected_emb), dtype)
        pc, pr, rc, rr, m, n = self._sides(dt, policy_chosen, policy_rejected,
                                           ref_chosen, ref_rejected)
        self._block(m_total, row_offset, m)
        ce = buf.as_input(chosen_emb, dt, "chosen_emb", 2)
        re = buf.as_input(rejected_emb, dt, "rejected_emb", 2)
        d = ce.shape[1] if ce is not None else (re.shape[1] if re is not None else 0)
        if ce is not None and ce.shape != (m, d):
            raise buf.size_error(self._lib, "chosen_emb has shape %s, want "
                                 "(%d, %d)" % (ce.shape, m, d))
        if re is not None and re.shape != (n, d):
            raise buf.size_error(self._lib, "rejected_emb has shape %s, want "
                                 "(%d, %d)" % (re.shape, n, d))
        partial = np.zeros(partial_length(n, d if emb_grad else 0), dtype=dt)
        gc = np.empty(m, dtype=dt) if grad else None
        ge = np.empty((m, d), dtype=dt) if emb_grad else None
        with self._lock:
            self._lib.call("rpo_loss_rows_" + _suffix(dt), self._handle(),
                           m_total, row_offset,
                           m, buf.address(pc), buf.address(rc),
                           n, buf.address(pr), buf.address(rr),
                           d, buf.address(ce), buf.address(re),
                           buf.address(gc), buf.address(ge),
                           buf.address(partial[:PARTIAL_COUNT]),
                           buf.address(partial[PARTIAL_COUNT:PARTIAL_COUNT + n])
                           if grad else None,
                           buf.address(partial[PARTIAL_COUNT + n:])
                           if emb_grad else None)
        return RowsResult(partial, gc, ge)

    def loss_rows_weighted(self, m_total, row_offset, policy_chosen,
                           policy_rejected, ref_chosen=None, ref_rejected=None,
                           *, weights, grad=True, dtype=None):
        """loss_rows over the caller's weights (M, N), this block's rows of
        the global matrix (rpo_loss_rows_weighted_f32/_f64); the recipe for
        sinkhorn weights across ranks (docs/extensions.md section 5)."""
        dt = buf.call_dtype((policy_chosen, policy_rejected, ref_chosen,
                             ref_rejected, weights), dtype)
        pc, pr, rc, rr, m, n = self._sides(dt, policy_chosen, policy_rejected,
                                           ref_chosen, ref_rejected)
        self._block(m_total, row_offset, m)
        w = buf.as_input(weights, dt, "weights", 2)
        if w.shape != (m, n):
            raise buf.size_error(self._lib, "weights has shape %s, want "
                                 "(%d, %d)" % (w.shape, m, n))
        partial = np.zeros(partial_length(n), dtype=dt)
        gc = np.empty(m, dtype=dt) if grad else None
        with self._lock:
            self._lib.call("rpo_loss_rows_weighted_" + _suffix(dt),
                           self._handle(), m_total, row_offset,
                           m, buf.address(pc), buf.address(rc),
                           n, buf.address(pr), buf.address(rr), buf.address(w),
                           buf.address(gc), buf.address(partial[:PARTIAL_COUNT]),
                           buf.address(partial[PARTIAL_COUNT:]) if grad else None)
        return RowsResult(partial, gc, None)


def _suffix(dt):
    return "f32" if dt == np.float32 else "f64"


def _restore(library_path, settings):
    return Context(library_path, **settings)


def _setting_property(setting):
    def fget(self):
        return self.get(setting.name)

    def fset(self, value):
        self.set(setting.name, value)

    doc = setting.doc
    if setting.choices:
        doc += "; one of: " + ", ".join(setting.choices)
    return property(fget, fset, doc=doc)


for _s in SETTINGS:
    setattr(Context, _s.name, _setting_property(_s))
del _s
