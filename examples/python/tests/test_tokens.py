"""rpo.token_logps / token_logps_backward / seq_logps / seq_logps_backward
against torch.log_softmax with autograd and direct NumPy sums, in place on
strided views, and their errors."""

import os
import unittest

import numpy as np
import torch

import rpo
from tests import support

LIB = rpo.load_library(os.environ["RPO_LIBRARY"]) if os.environ.get("RPO_LIBRARY") else None


class TokenLogps(unittest.TestCase):
    def setUp(self):
        self.ctx = rpo.Context(LIB)
        rng = np.random.default_rng(21)
        self.t, self.v = 12, 9
        self.wide = rng.normal(0, 4, size=(self.t, self.v + 5))   # padded rows
        self.logits = self.wide[:, :self.v]                        # a view
        self.targets = rng.integers(0, self.v, self.t)             # int64
        self.targets[[2, 7]] = -100                                # no token

    def torch_reference(self, dlogps):
        x = torch.tensor(self.logits, requires_grad=True)
        y = torch.tensor(self.targets)
        keep = y >= 0
        logp = torch.zeros(self.t, dtype=torch.float64)
        logp[keep] = torch.log_softmax(x[keep], dim=1).gather(1, y[keep, None])[:, 0]
        (logp * torch.tensor(dlogps)).sum().backward()
        return logp.detach().numpy(), x.grad.numpy()

    def test_forward_and_backward_match_torch(self):
        dlogps = np.random.default_rng(22).normal(size=self.t)
        want_logp, want_grad = self.torch_reference(dlogps)
        got = rpo.token_logps(self.logits, self.targets, context=self.ctx)
        support.assert_close_rel(self, got, want_logp, 1e-13, "logps")
        self.assertEqual(got[2], 0.0)

        dwide = np.full_like(self.wide, 0.5)
        dlogits = dwide[:, :self.v]
        rpo.token_logps_backward(self.logits, self.targets, dlogps, dlogits,
                                 context=self.ctx)
        support.assert_close_rel(self, dlogits - 0.5, want_grad, 1e-13, "dlogits")
        # accumulated into the view; the padding columns are untouched
        np.testing.assert_array_equal(dwide[:, self.v:], 0.5)

    def test_float32(self):
        x32 = self.logits.astype(np.float32)
        got = rpo.token_logps(x32, self.targets, context=self.ctx)
        self.assertEqual(got.dtype, np.float32)
        want = rpo.token_logps(x32.astype(np.float64), self.targets, context=self.ctx)
        support.assert_close_rel(self, got, want, 1e-6, "float32 logps")

    def test_backward_with_different_row_strides(self):
        """Contiguous logits, dlogits a slice of wider rows: still in place."""
        logits = np.ascontiguousarray(self.logits)
        dwide = np.zeros((self.t, self.v + 3))
        g = np.ones(self.t)
        rpo.token_logps_backward(logits, self.targets, g, dwide[:, :self.v],
                                 context=self.ctx)
        _, want = self.torch_reference(g)
        support.assert_close_rel(self, dwide[:, :self.v], want, 1e-13, "dlogits")
        with self.assertRaises(ValueError):       # a copy would be left unwritten
            rpo.token_logps_backward(logits, self.targets, g,
                                     np.zeros((self.t, self.v))[:, ::-1],
                                     context=self.ctx)

    def test_errors(self):
        bad = self.targets.copy()
        bad[0] = self.v
        with self.assertRaises(rpo.SizeError):
            rpo.token_logps(self.logits, bad, context=self.ctx)
        nan = self.logits.copy()
        nan[0, 0] = np.nan
        with self.assertRaises(rpo.NonFiniteError):
            rpo.token_logps(nan, self.targets, context=self.ctx)
        huge = np.array([[0.0, 1.0]])
        with self.assertRaises(rpo.SizeError):
            rpo.token_logps(huge, np.array([2**40]), context=self.ctx)
        with self.assertRaises(rpo.RangeError):
            rpo.token_logps(np.array([[3e38, -3e38]], np.float32), [1], context=self.ctx)


class SeqLogps(unittest.TestCase):
    def test_sum_mean_and_backward(self):
        rng = np.random.default_rng(23)
        x = rng.normal(-2, 1, size=(4, 6))
        mask = rng.random((4, 6)) > 0.3
        mask[3] = False
        for reduce in ("sum", "mean"):
            got = rpo.seq_logps(x, mask, reduce)
            count = mask.sum(axis=1)
            want = (x * mask).sum(axis=1)
            if reduce == "mean":
                want = np.where(count > 0, want / np.maximum(count, 1), 0.0)
            np.testing.assert_allclose(got, want, rtol=1e-15, atol=0)
            g = rng.normal(size=4)
            d = rpo.seq_logps_backward(g, mask, reduce)
            scale = g if reduce == "sum" else np.where(count > 0, g / np.maximum(count, 1), 0)
            np.testing.assert_allclose(d, scale[:, None] * mask, rtol=1e-15, atol=0)

    def test_no_mask_and_errors(self):
        x = np.arange(6.0).reshape(2, 3)
        np.testing.assert_array_equal(rpo.seq_logps(x), [3.0, 12.0])
        np.testing.assert_array_equal(rpo.seq_logps_backward(np.ones(2), length=3,
                                                             reduce="mean"),
                                      np.full((2, 3), 1 / 3))
        with self.assertRaises(ValueError):
            rpo.seq_logps(x, reduce="max")
        x[1, 1] = np.inf
        with self.assertRaises(rpo.NonFiniteError):
            rpo.seq_logps(x)
        # off the mask the infinity is not read
        np.testing.assert_array_equal(rpo.seq_logps(x, x < 4), [3.0, 3.0])


if __name__ == "__main__":
    unittest.main()
