"""Batches of related prompts (librpo 1.3, rpo_related_batches_*).

RPO weighs the contrasts between prompts by their similarity, and a batch
of unrelated prompts leaves little to weigh. related_batches orders a
dataset so that consecutive runs of batch_size prompts are similar in
cosine space; RelatedPromptSampler serves that order to a DataLoader:

    from rpo.torch import RelatedPromptSampler
    sampler = RelatedPromptSampler(prompt_embeddings, batch_size=32, seed=0)
    loader = torch.utils.data.DataLoader(dataset, batch_sampler=sampler)

Each epoch yields every index exactly once; the batches keep their
contents and only their order is reshuffled from one epoch to the next.
NumPy only: torch is not imported here.
"""

import ctypes

import numpy as np

from . import _buffers as buf
from . import errors
from .context import Context

# RPO_PARAM_THREADS: not among Context's named settings, set by key.
_PARAM_THREADS = 7


def _embeddings(embeddings):
    """(P, D) float32 or float64, C-contiguous: a tensor is detached and
    moved to the CPU; float32 stays float32, anything else is float64."""
    if hasattr(embeddings, "detach"):
        embeddings = embeddings.detach().cpu().numpy()
    a = np.asarray(embeddings)
    dt = np.float32 if a.dtype == np.float32 else np.float64
    return buf.as_input(a, dt, "embeddings", 2)


def related_batches(embeddings, batch_size, seed=0, threads=1, context=None):
    """A permutation of 0 .. P-1 (int64) whose consecutive runs of
    batch_size are batches of similar prompts (the last one shorter when
    batch_size does not divide P). Deterministic for a seed, whatever
    `threads`. `context` (an rpo.Context) supplies the thread count and
    scratch memory instead of a new one. Raises rpo.SizeError for an empty
    dataset, batch_size 0 or larger than P; rpo.NonFiniteError for NaN or
    infinity; the message carries librpo's detail."""
    x = _embeddings(embeddings)
    p, d = x.shape
    b = int(batch_size)
    if b < 0:
        raise ValueError("batch_size must be positive, not %d" % b)
    ctx = context
    if ctx is None:
        ctx = Context()
        ctx.library.call("rpo_ctx_set", ctx._handle(), _PARAM_THREADS,
                         float(threads), detail="threads = %r" % (threads,))
    lib = ctx.library
    name = "rpo_related_batches_" + ("f32" if x.dtype == np.float32 else "f64")
    order = np.empty(p, dtype=np.uintp)
    fn = lib.function(name)
    with ctx._lock:
        status = fn(ctx._handle(), p, d, x.ctypes.data, b,
                    ctypes.c_uint64(int(seed) % (1 << 64)), order.ctypes.data)
        detail = None
        if status != errors.OK and lib.has("rpo_ctx_error_detail"):
            detail = lib.function("rpo_ctx_error_detail")(ctx._handle()).decode()
    if status != errors.OK:
        raise lib.error(status, detail)
    return order.astype(np.int64)


class RelatedPromptSampler:
    """A batch sampler (DataLoader(batch_sampler=...)) of related prompts.

    RelatedPromptSampler(embeddings, batch_size, seed=0, drop_last=False,
    threads=1): embeddings (P, D), a NumPy array or tensor, one row per
    dataset index. The batches are computed once, by related_batches;
    iterating yields them as lists of indices, each index once per epoch,
    in an order reshuffled per epoch from (seed, epoch). The epoch advances
    at the end of each full iteration, or is set with set_epoch (as
    DistributedSampler's, for resuming). drop_last drops the one short
    batch when batch_size does not divide P.
    """

    def __init__(self, embeddings, batch_size, seed=0, drop_last=False,
                 threads=1):
        order = related_batches(embeddings, batch_size, seed=seed,
                                threads=threads)
        b = int(batch_size)
        self.batches = [order[s:s + b].tolist()
                        for s in range(0, len(order), b)]
        if drop_last and len(self.batches[-1]) < b:
            self.batches.pop()
        self.seed = int(seed)
        self.epoch = 0

    def set_epoch(self, epoch):
        self.epoch = int(epoch)

    def __len__(self):
        return len(self.batches)

    def __iter__(self):
        shuffle = np.random.default_rng([self.seed % (1 << 64), self.epoch])
        for k in shuffle.permutation(len(self.batches)):
            yield list(self.batches[k])
        self.epoch += 1
