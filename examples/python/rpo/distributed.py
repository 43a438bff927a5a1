"""rpo.distributed: one RPO contrast matrix across torch.distributed ranks.

The reference implementation builds its contrast matrix per GPU; with a
batch of 64 on 8 GPUs that is eight 8 x 8 matrices. GlobalRPOLoss builds the
64 x 64 one: each rank passes its own shard of the batch, and

  1. the rejected log-probs and prompt embeddings of every rank are
     all-gathered (a few numbers per response);
  2. librpo computes this rank's chosen rows against all the rejected
     columns (rpo_loss_rows_*), knowing the rows' global offset and the
     global number of chosen rows;
  3. one all-reduce (sum) of a single vector [loss and metrics | dL/d
     rejected log-probs | dL/d rejected embeddings] completes everything.

Every rank then holds the loss and metrics of the whole batch, and
backward() gives each rank's tensors exactly the gradients of the global
loss (docs/extensions.md section 5):

    import torch.distributed as dist
    from rpo.distributed import GlobalRPOLoss
    loss_fn = GlobalRPOLoss(beta=0.1, weighting="embedding",
                            logit_scale="row_mean")
    loss = loss_fn(policy_chosen_logps, policy_rejected_logps,
                   reference_chosen_logps, reference_rejected_logps,
                   chosen_emb, rejected_emb)        # this rank's shard
    (loss * dist.get_world_size()).backward()

The last line: DistributedDataParallel averages parameter gradients over the
ranks, while each rank's backward already carries its share of the one
global loss, so multiply by the world size to train on that loss's gradient
(or omit it and read the learning rate as divided by the world size).

Shards may differ in size. Paired data (rejected_emb None): each rank's
rejected responses are its chosen ones' pairs (same count, same prompts);
the diagonal weighting needs paired shards. The gathered columns are in
rank order. Sinkhorn weights gather the chosen embeddings too and compute
the global plan on every rank; they give no embedding gradients.
"""

import numpy as np
import torch
import torch.distributed as dist

from . import errors
from .context import split_partial
from .torch import (RPOLoss, _compute_dtype, _cpu_array, _scaled_back,
                    _target, prepared_logps)


def _gather_rows(t, counts, group):
    """Every rank's t (rows, ...) concatenated in rank order; t may have a
    different number of rows on each rank (padded for the transfer)."""
    most = max(counts)
    padded = t.new_zeros((most,) + tuple(t.shape[1:]))
    padded[:t.shape[0]] = t
    parts = [torch.empty_like(padded) for _ in counts]
    dist.all_gather(parts, padded, group=group)
    return torch.cat([p[:c] for p, c in zip(parts, counts)])


def _row_counts(m, n, device, group):
    """Every rank's (M, N)."""
    mine = torch.tensor([m, n], dtype=torch.int64, device=device)
    parts = [torch.empty_like(mine) for _ in range(dist.get_world_size(group))]
    dist.all_gather(parts, mine, group=group)
    return [int(p[0]) for p in parts], [int(p[1]) for p in parts]


class _GlobalFunction(torch.autograd.Function):
    """forward(module, group, pc, pr, rc, rr, chosen_emb, rejected_emb) ->
    the global loss; backward returns this rank's shares."""

    @staticmethod
    def forward(fctx, module, group, pc, pr, rc, rr, chosen_emb, rejected_emb):
        logps = (pc, pr, rc, rr)
        want_emb = any(fctx.needs_input_grad[6:8])
        # the log-prob gradients come along with the embeddings' (backward
        # reads their dtype)
        want_grad = any(fctx.needs_input_grad[2:6]) or want_emb
        dt = _compute_dtype(logps)
        paired = rejected_emb is None or rejected_emb is chosen_emb
        ctx = module.context
        sinkhorn = ctx.weighting == "sinkhorn"
        if sinkhorn and want_emb:
            raise ctx.library.error(errors.ERR_UNSUPPORTED,
                                    "sinkhorn weights give no embedding gradients")
        rank = dist.get_rank(group)
        device = pc.device
        detach = lambda t: None if t is None else t.detach().to(dt)
        pc_, pr_, rc_, rr_ = (detach(t) for t in logps)
        ce_ = detach(chosen_emb)
        re_ = ce_ if paired else detach(rejected_emb)

        # 1. gather the rejected side (and, for the plan, the chosen prompts)
        ms, ns = _row_counts(pc.shape[0], pr.shape[0], device, group)
        m_total, row_offset = sum(ms), sum(ms[:rank])
        col_offset, n_mine = sum(ns[:rank]), ns[rank]
        pr_all = _gather_rows(pr_, ns, group)
        rr_all = None if rr_ is None else _gather_rows(rr_, ns, group)
        re_all = None if re_ is None else _gather_rows(re_, ns, group)
        d = 0 if re_all is None else re_all.shape[1]

        # 2. this rank's rows against every column
        cpu = lambda t: _cpu_array(t, dt)
        if sinkhorn:
            ce_all = _gather_rows(ce_, ms, group)
            plan = ctx.weights(cpu(ce_all), cpu(re_all))
            rows = ctx.loss_rows_weighted(
                m_total, row_offset, cpu(pc_), cpu(pr_all), cpu(rc_),
                cpu(rr_all), weights=plan[row_offset:row_offset + ms[rank]],
                grad=want_grad)
        else:
            rows = ctx.loss_rows(m_total, row_offset, cpu(pc_), cpu(pr_all),
                                 cpu(rc_), cpu(rr_all), cpu(ce_), cpu(re_all),
                                 grad=want_grad, emb_grad=want_emb)

        # 3. one all-reduce completes the loss, metrics and column gradients,
        # and the shares of W's shape, which this rank's context holds
        # (the partial vector has no room for them)
        shape = ctx.metrics
        shares = np.array([shape.effective_contrasts, shape.diagonal_weight],
                          dtype=rows.partial.dtype)
        partial = torch.from_numpy(np.concatenate([rows.partial, shares])).to(device)
        dist.all_reduce(partial, group=group)
        summed = partial.cpu().numpy()
        total = split_partial(summed[:-2], pr_all.shape[0], d if want_emb else 0)
        module._last_metrics = total.metrics._replace(
            effective_contrasts=float(summed[-2]), diagonal_weight=float(summed[-1]))

        gc = gr = ge = gf = None
        if want_grad or want_emb:
            cols = slice(col_offset, col_offset + n_mine)
            gc = torch.from_numpy(rows.grad_chosen)
            gr = torch.from_numpy(total.grad_rejected[cols].copy())
            if want_emb:
                ge = torch.from_numpy(rows.grad_chosen_emb)
                gf = torch.from_numpy(total.grad_rejected_emb[cols].copy())
                if paired:  # this rank's pairs' one embedding: both roles
                    ge, gf = ge + gf, None
        fctx.save_for_backward(gc, gr, ge, gf)
        fctx.targets = [_target(t) for t in logps] + [
            _target(chosen_emb), None if paired else _target(rejected_emb)]
        out_dtype = torch.promote_types(pc.dtype, pr.dtype)
        return torch.tensor(total.loss, dtype=out_dtype, device=device)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(fctx, grad_loss):
        gc, gr, ge, gf = fctx.saved_tensors
        g = grad_loss.detach().to(device="cpu", dtype=gc.dtype)
        grads = _scaled_back((gc, gr, -gc, -gr, ge, gf), g, fctx.targets,
                             fctx.needs_input_grad[2:8])
        return (None, None, *grads)


class GlobalRPOLoss(RPOLoss):
    """RPOLoss over the whole data-parallel batch: every rank passes its own
    shard, gets the loss of the global M_total x N_total contrast matrix,
    and backward() gives its tensors their gradients of that loss.

    GlobalRPOLoss(..., group=None, **RPOLoss arguments): `group` is the
    torch.distributed process group (None: the default one), which must be
    initialised. Consider logit_scale="row_mean": the gathered matrix has
    world-size times more columns (docs/extensions.md section 2). metrics are
    those of the whole batch, the same on every rank.
    """

    def __init__(self, *args, group=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.group = group

    def forward(self, policy_chosen_logps, policy_rejected_logps,
                reference_chosen_logps=None, reference_rejected_logps=None,
                chosen_emb=None, rejected_emb=None, *, chosen_lengths=None,
                rejected_lengths=None):
        """As RPOLoss.forward, on this rank's shard; every rank must call it
        (it communicates). Its chosen_lengths and rejected_lengths divide
        every log-prob (librpo 1.2's meaning: RPOLoss's are 1.3's, and
        RPOLoss on rpo.torch.per_token's log-probs is this call on one
        process); the objectives' other names are RPOLoss's alone."""
        logps = prepared_logps((policy_chosen_logps, policy_rejected_logps,
                                reference_chosen_logps, reference_rejected_logps),
                               chosen_lengths, rejected_lengths)
        return _GlobalFunction.apply(self, self.group, *logps, chosen_emb,
                                     rejected_emb)
