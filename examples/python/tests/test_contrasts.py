"""Effective contrasts from Python (docs/extensions.md section 10): the
target_contrasts setting of Context and RPOLoss, and the metrics
weights/effective_contrasts and weights/diagonal, judged against the
entropy and diagonal of W computed here with NumPy; and a target librpo
refuses (in (0, 1) when set, above N at call time) as ParamError."""

import unittest

import numpy as np
import torch

import rpo
from rpo.torch import RPOLoss
from tests import support

LIB = support.library()


def effective(w):
    """Mean over rows of exp(-sum_j w_ij log w_ij), 0 log 0 = 0."""
    plogp = np.where(w > 0, w * np.log(np.where(w > 0, w, 1.0)), 0.0)
    return float(np.mean(np.exp(-plogp.sum(axis=1))))


def batch(seed, m, n, d, unpaired):
    g = torch.Generator().manual_seed(seed)
    mk = lambda *shape: torch.randn(*shape, generator=g, dtype=torch.float64)
    pc, rc, pr, rr = mk(m) - 40, mk(m) - 40, mk(n) - 45, mk(n) - 45
    ce = mk(m, d)
    re = mk(n, d) if unpaired else None
    return pc, pr, rc, rr, ce, re


class TargetContrasts(unittest.TestCase):
    def test_rpoloss_solves_the_rows_and_reports_their_shape(self):
        for unpaired in (False, True):
            pc, pr, rc, rr, ce, re = batch(3, 6, 8 if unpaired else 6, 5, unpaired)
            ce.requires_grad_(True)
            loss_fn = RPOLoss(library=LIB, target_contrasts=4, weighting="embedding")
            self.assertEqual(loss_fn.context.target_contrasts, 4.0)
            loss = loss_fn(pc, pr, rc, rr, chosen_emb=ce, rejected_emb=re)
            loss.backward()
            metrics = loss_fn.metrics
            w = loss_fn.context.weights(ce.detach().numpy(),
                                        None if re is None else re.numpy())
            self.assertAlmostEqual(effective(w), 4.0, delta=1e-9)
            self.assertAlmostEqual(metrics["weights/effective_contrasts"], effective(w),
                                   delta=1e-12)
            diagonal = 0.0 if unpaired else float(np.mean(np.diag(w)))
            self.assertAlmostEqual(metrics["weights/diagonal"], diagonal, delta=1e-15)
            self.assertTrue(torch.isfinite(ce.grad).all())

    def test_without_a_target_the_metrics_describe_tau(self):
        pc, pr, rc, rr, ce, re = batch(4, 5, 5, 3, False)
        loss_fn = RPOLoss(library=LIB, tau=0.2)
        loss_fn(pc, pr, rc, rr, chosen_emb=ce)
        w = loss_fn.context.weights(ce.numpy())
        self.assertAlmostEqual(loss_fn.metrics["weights/effective_contrasts"],
                               effective(w), delta=1e-12)
        self.assertAlmostEqual(loss_fn.metrics["weights/diagonal"],
                               float(np.mean(np.diag(w))), delta=1e-15)

    def test_refused_targets(self):
        with self.assertRaises(rpo.ParamError):
            rpo.Context(LIB, target_contrasts=0.5)
        ctx = rpo.Context(LIB, target_contrasts=9)
        pc, pr, rc, rr, ce, re = batch(5, 4, 4, 3, False)
        with self.assertRaisesRegex(rpo.ParamError, "exceeds n = 4"):
            ctx.loss(pc.numpy(), pr.numpy(), rc.numpy(), rr.numpy(), ce.numpy())


if __name__ == "__main__":
    unittest.main()
