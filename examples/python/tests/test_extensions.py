"""librpo 1.2 through the binding (docs/extensions.md): TRL's loss family, the
logit scale, embedding gradients, Sinkhorn weights, per-token averages and
row blocks, against a pure-torch implementation of TRL's formulas whose
gradients autograd supplies (torch.nn.functional.normalize, softmax,
logsigmoid), in float64 to 1e-12."""

import unittest

import numpy as np
import torch
import torch.nn.functional as F

import rpo
from rpo.torch import RPOLoss, per_token
from tests import support

LIB = support.library()
TOL = 1e-12


def trl_pair(loss_type, a, b, beta, eps, tau):
    """TRL's per-sequence loss of chosen log-ratios a and rejected b
    (broadcast), written as TRL writes it (dpo_trainer.py)."""
    logits = a - b
    x = beta * logits
    ra, rb = beta * a, beta * b
    if loss_type == "sigmoid":
        return -F.logsigmoid(x) * (1 - eps) - F.logsigmoid(-x) * eps
    if loss_type == "hinge":
        return torch.relu(1 - x)
    if loss_type == "ipo":
        return (logits - 1 / (2 * beta)) ** 2
    if loss_type == "robust":
        return (-(1 - eps) * F.logsigmoid(x) + eps * F.logsigmoid(-x)) / (1 - 2 * eps)
    if loss_type == "exo_pair":
        return (torch.sigmoid(x) * (F.logsigmoid(x) - np.log1p(-eps))
                + torch.sigmoid(-x) * (F.logsigmoid(-x) - np.log(eps)))
    if loss_type == "bco_pair":
        return -F.logsigmoid(ra) - F.logsigmoid(-rb)
    if loss_type == "sppo_hard":
        return (a - 0.5 / beta) ** 2 + (b + 0.5 / beta) ** 2
    if loss_type == "nca_pair":
        return -F.logsigmoid(ra) - 0.5 * F.logsigmoid(-ra) - 0.5 * F.logsigmoid(-rb)
    if loss_type == "apo_zero":
        return (1 - torch.sigmoid(ra)) + torch.sigmoid(rb)
    if loss_type == "apo_down":
        return torch.sigmoid(ra) + (1 - torch.sigmoid(x))
    if loss_type == "discopop":
        mod = torch.sigmoid(x / tau)
        return -F.logsigmoid(x) * (1 - mod) + torch.exp(-x) * mod
    raise ValueError(loss_type)


def torch_weights(weighting, m, n, alpha, tau, ce, re):
    if weighting == "uniform":
        return torch.full((m, n), 1.0 / n, dtype=torch.float64)
    if weighting == "diagonal":
        w = torch.full((m, n), (1.0 - alpha) / (n - 1), dtype=torch.float64)
        return w.fill_diagonal_(alpha)
    e = F.normalize(ce, dim=1, eps=1e-12)
    f = e if re is None else F.normalize(re, dim=1, eps=1e-12)
    return torch.softmax(-(1.0 - e @ f.T) / tau, dim=1)


def torch_family_loss(pc, pr, rc, rr, ce=None, re=None, beta=0.1, tau=0.5,
                      alpha=0.8, weighting="embedding", placement="auto",
                      reduction="mean", loss_type="sigmoid",
                      label_smoothing=0.0, discopop_tau=0.05,
                      logit_scale="row_sum"):
    """docs/extensions.md section 1 in torch; differentiable in everything."""
    a, b = pc - rc, pr - rr
    m, n = a.shape[0], b.shape[0]
    w = torch_weights(weighting, m, n, alpha, tau, ce, re)
    scale = 1.0 / m if reduction == "mean" else 1.0
    f = lambda x, y: trl_pair(loss_type, x, y, beta, label_smoothing, discopop_tau)
    if support.resolved_placement(weighting, placement) == "loss":
        return scale * (w * f(a[:, None], b[None, :])).sum()
    k = n if logit_scale == "row_mean" else 1.0
    return scale / n * f(k * w * a[:, None], k * w * b[None, :]).sum()


def batch(seed, m, n, d=4, unpaired=True):
    g = torch.Generator().manual_seed(seed)
    rnd = lambda *shape: torch.rand(*shape, generator=g, dtype=torch.float64)
    rc, rr = -10 - 30 * rnd(m), -10 - 30 * rnd(n)
    pc, pr = rc + 6 * rnd(m) - 3, rr + 6 * rnd(n) - 3
    ce = 2 * rnd(m, d) - 1
    re = 2 * rnd(n, d) - 1 if unpaired else None
    return pc, pr, rc, rr, ce, re


def leaves(*tensors):
    return [None if t is None else t.clone().requires_grad_(True) for t in tensors]


def smoothing(loss_type):
    return 1e-3 if loss_type == "exo_pair" else 0.1


class LossFamily(unittest.TestCase):
    def compare(self, settings, data, what, emb_grad=True):
        """RPOLoss against torch_family_loss; the embeddings require
        gradients when emb_grad (rpo_loss_embed_grad_*), else they are
        constants (rpo_loss_*)."""
        ours_in, ref_in = leaves(*data), leaves(*data)
        if not emb_grad:
            ours_in[4:] = data[4:]
            ref_in[4:] = data[4:]
        ours = RPOLoss(library=LIB, **settings)(*ours_in)
        ref = torch_family_loss(*ref_in, **settings)
        ours.backward()
        ref.backward()
        support.assert_loss_close(self, ours.item(), ref.item(), TOL, what)
        for name, x, y in zip(("pc", "pr", "rc", "rr", "ce", "re"), ours_in, ref_in):
            if x is None or not x.requires_grad:
                continue
            # uniform weights do not read the embeddings: librpo says zeros
            want = torch.zeros_like(x) if y.grad is None else y.grad
            self.assertTrue(x.grad is not None, "%s: no d/d%s" % (what, name))
            support.assert_close_rel(self, x.grad.numpy(), want.numpy(),
                                     TOL, "%s d/d%s" % (what, name))
            if y.grad is None:
                self.assertFalse(x.grad.any(), "%s d/d%s" % (what, name))

    def test_trl_paired_is_diagonal_alpha_one(self):
        for k, loss_type in enumerate(rpo.LOSS_TYPES):
            pc, pr, rc, rr, _, _ = batch(k, 6, 6)
            settings = dict(beta=0.3, weighting="diagonal", alpha=1.0,
                            loss_type=loss_type,
                            label_smoothing=smoothing(loss_type),
                            discopop_tau=0.2)
            ours_in = leaves(pc, pr, rc, rr)
            ours = RPOLoss(library=LIB, **settings)(*ours_in)
            ours.backward()
            ref_in = leaves(pc, pr, rc, rr)
            a, b = ref_in[0] - ref_in[2], ref_in[1] - ref_in[3]
            ref = trl_pair(loss_type, a, b, 0.3, smoothing(loss_type), 0.2).mean()
            ref.backward()
            support.assert_loss_close(self, ours.item(), ref.item(), TOL, loss_type)
            for x, y in zip(ours_in, ref_in):
                support.assert_close_rel(self, x.grad.numpy(), y.grad.numpy(),
                                         TOL, loss_type)

    def test_every_member_placement_and_scale(self):
        k = 0
        for loss_type in rpo.LOSS_TYPES:
            for weighting in ("uniform", "embedding"):
                for placement in ("logit", "loss"):
                    for logit_scale in ("row_sum", "row_mean"):
                        k += 1
                        settings = dict(beta=0.2, tau=0.4, weighting=weighting,
                                        placement=placement, loss_type=loss_type,
                                        label_smoothing=smoothing(loss_type),
                                        discopop_tau=0.3, logit_scale=logit_scale,
                                        reduction=("mean", "sum")[k % 2])
                        self.compare(settings, batch(k, 4, 5),
                                     "%s/%s/%s/%s" % (loss_type, weighting,
                                                      placement, logit_scale),
                                     emb_grad=k % 3 == 0)


class EmbeddingGradients(unittest.TestCase):
    def test_against_autograd(self):
        for k, loss_type in enumerate(("sigmoid", "ipo", "nca_pair", "discopop")):
            for placement in ("logit", "loss"):
                for unpaired in (True, False):
                    data = batch(10 + k, 5, 5 if not unpaired else 3, unpaired=unpaired)
                    settings = dict(beta=0.5, tau=0.3, weighting="embedding",
                                    placement=placement, loss_type=loss_type,
                                    discopop_tau=0.5, logit_scale="row_mean")
                    LossFamily.compare(self, settings, data,
                                       "emb %s/%s/%s" % (loss_type, placement, unpaired))

    def test_zero_row_is_divided_by_the_floor(self):
        pc, pr, rc, rr, ce, re = batch(3, 4, 4)
        ce[2] = 0.0
        LossFamily.compare(self, dict(weighting="embedding"),
                           (pc, pr, rc, rr, ce, re), "zero row")

    def test_same_tensor_twice_gets_both_roles_once(self):
        pc, pr, rc, rr, ce, _ = batch(4, 4, 4)
        e1, = leaves(ce)
        RPOLoss(library=LIB)(pc, pr, rc, rr, e1, e1).backward()
        e2, = leaves(ce)
        RPOLoss(library=LIB)(pc, pr, rc, rr, e2).backward()
        e3, = leaves(ce)
        torch_family_loss(pc, pr, rc, rr, e3, None).backward()
        support.assert_close_rel(self, e1.grad.numpy(), e3.grad.numpy(), TOL, "same tensor")
        support.assert_close_rel(self, e2.grad.numpy(), e3.grad.numpy(), TOL, "paired")

    def test_sinkhorn_refuses_embedding_gradients(self):
        pc, pr, rc, rr, ce, re = batch(5, 3, 4)
        ce_leaf, = leaves(ce)
        with self.assertRaises(rpo.UnsupportedError):
            RPOLoss(library=LIB, weighting="sinkhorn")(pc, pr, rc, rr, ce_leaf, re)


class PerTokenAverages(unittest.TestCase):
    def test_per_token_divides_policy_and_reference(self):
        """rpo.torch.per_token, librpo 1.2's chosen_lengths= (librpo 1.3
        refuses a zero length; per_token clamps it to 1, as TRL does)."""
        pc, pr, rc, rr, _, _ = batch(6, 5, 5)
        lc = torch.tensor([3, 10, 1, 7, 20])
        lr = torch.tensor([4, 0, 9, 2, 5])   # 0 is clamped to 1, as in TRL
        settings = dict(weighting="diagonal", alpha=1.0, loss_type="ipo", beta=0.5)
        ours_in = leaves(pc, pr, rc, rr)
        RPOLoss(library=LIB, **settings)(
            per_token(ours_in[0], lc), per_token(ours_in[1], lr),
            per_token(ours_in[2], lc), per_token(ours_in[3], lr)).backward()
        ref_in = leaves(pc, pr, rc, rr)
        lcf, lrf = lc.double().clamp(min=1), lr.double().clamp(min=1)
        a = ref_in[0] / lcf - ref_in[2] / lcf
        b = ref_in[1] / lrf - ref_in[3] / lrf
        trl_pair("ipo", a, b, 0.5, 0.0, 0.05).mean().backward()
        for x, y in zip(ours_in, ref_in):
            support.assert_close_rel(self, x.grad.numpy(), y.grad.numpy(), TOL, "lengths")


class Sinkhorn(unittest.TestCase):
    def test_loss_is_the_loss_over_the_plan(self):
        pc, pr, rc, rr, ce, re = (t.numpy() for t in batch(7, 5, 6))
        ctx = rpo.Context(LIB, weighting="sinkhorn", tau=0.3, sinkhorn_tol=1e-12,
                          sinkhorn_iters=1000)
        plan = ctx.weights(ce, re)
        run = ctx.sinkhorn
        self.assertGreater(run.iterations, 1)
        self.assertLessEqual(run.error, 1e-12)
        np.testing.assert_allclose(plan.sum(axis=1), 1.0, rtol=0, atol=1e-14)
        np.testing.assert_allclose(plan.sum(axis=0) * 6 / 5, 1.0, rtol=0, atol=1e-11)
        r1 = ctx.loss(pc, pr, rc, rr, ce, re)
        r2 = ctx.loss_weighted(pc, pr, rc, rr, weights=plan)
        support.assert_loss_close(self, r1.loss, r2.loss, 1e-14, "plan loss")
        support.assert_close_rel(self, r1.grad_chosen, r2.grad_chosen, 1e-14, "plan")


class RowBlocks(unittest.TestCase):
    def test_blocks_sum_to_the_whole(self):
        for paired in (False, True):
            n = 7 if paired else 5
            pc, pr, rc, rr, ce, re = (None if t is None else t.numpy()
                                      for t in batch(8, 7, n, unpaired=not paired))
            d = ce.shape[1]
            ctx = rpo.Context(LIB, weighting="embedding", loss_type="robust",
                              label_smoothing=0.2, logit_scale="row_mean")
            whole = ctx.loss_embed_grad(pc, pr, rc, rr, ce, re)
            # paired: the gathered rejected embeddings are the chosen ones
            gathered = ce if paired else re
            summed = np.zeros(rpo.partial_length(n, d))
            gc, ge = np.zeros(7), np.zeros((7, d))
            shape = np.zeros(2)  # the blocks' shares of W's shape
            for start, stop in ((0, 3), (3, 3), (3, 7)):
                r = ctx.loss_rows(7, start, pc[start:stop], pr, rc[start:stop], rr,
                                  ce[start:stop], gathered, emb_grad=True)
                summed += r.partial   # what an all-reduce would do
                gc[start:stop], ge[start:stop] = r.grad_chosen, r.grad_chosen_emb
                shape += (ctx.metrics.effective_contrasts, ctx.metrics.diagonal_weight)
            total = rpo.split_partial(summed, n, d)
            what = "paired" if paired else "unpaired"
            support.assert_loss_close(self, total.loss, whole.loss, TOL, what)
            metrics = total.metrics._replace(effective_contrasts=shape[0],
                                             diagonal_weight=shape[1])
            for field in whole.metrics._fields:
                support.assert_loss_close(self, getattr(metrics, field),
                                          getattr(whole.metrics, field), TOL, field)
            support.assert_close_rel(self, gc, whole.grad_chosen, TOL, what)
            support.assert_close_rel(self, total.grad_rejected, whole.grad_rejected,
                                     TOL, what)
            if paired:   # pair i's one embedding played both roles
                ge += total.grad_rejected_emb
            else:
                support.assert_close_rel(self, total.grad_rejected_emb,
                                         whole.grad_rejected_emb, TOL, what)
            support.assert_close_rel(self, ge, whole.grad_chosen_emb, TOL, what)

    def test_block_outside_the_problem_is_a_size_error(self):
        pc, pr, rc, rr, ce, re = (t.numpy() for t in batch(9, 4, 4))
        ctx = rpo.Context(LIB)
        with self.assertRaises(rpo.SizeError):
            ctx.loss_rows(5, 3, pc, pr, rc, rr, ce, re)


if __name__ == "__main__":
    unittest.main()
