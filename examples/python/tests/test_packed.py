"""The 1.3 token path from Python: token_logps_lse, token_logps_grad (in
place, on NumPy arrays and torch tensors) and packed sequences, against
torch.log_softmax with autograd and segment sums over cu_seqlens; and
their errors."""

import os
import unittest

import numpy as np
import torch

import rpo
from tests import support

LIB = rpo.load_library(os.environ["RPO_LIBRARY"]) if os.environ.get("RPO_LIBRARY") else None


class PackedTokenPath(unittest.TestCase):
    def setUp(self):
        self.ctx = rpo.Context(LIB)
        rng = np.random.default_rng(31)
        self.t, self.v = 17, 11
        self.logits = rng.normal(0, 3, size=(self.t, self.v))
        self.targets = rng.integers(0, self.v, self.t)
        self.targets[[0, 9]] = -100
        self.offsets = np.array([1, 5, 5, 12, 16])       # 4 sequences, one empty
        self.mask = rng.random(self.t) < 0.8
        self.w = rng.normal(size=4)

    def torch_reference(self, reduce):
        """sum_b w_b seq_b and its gradient with respect to the logits."""
        x = torch.tensor(self.logits, requires_grad=True)
        y = torch.tensor(self.targets)
        keep = y >= 0
        logp = torch.zeros(self.t, dtype=torch.float64)
        logp[keep] = torch.log_softmax(x[keep], dim=1).gather(1, y[keep, None])[:, 0]
        m = torch.tensor(self.mask, dtype=torch.float64)
        seqs = []
        for b in range(4):
            lo, hi = self.offsets[b], self.offsets[b + 1]
            s = (logp[lo:hi] * m[lo:hi]).sum()
            if reduce == "mean":
                s = s / m[lo:hi].sum() if m[lo:hi].sum() > 0 else s * 0
            seqs.append(s)
        seq = torch.stack(seqs)
        (seq * torch.tensor(self.w)).sum().backward()
        return seq.detach().numpy(), x.grad.numpy()

    def chain(self, logits, reduce, in_place):
        logps, lse = rpo.token_logps_lse(logits, self.targets, context=self.ctx)
        seq = rpo.packed_seq_logps(logps, self.offsets, self.mask, reduce, context=self.ctx)
        dtok = rpo.packed_seq_logps_backward(self.w, self.offsets, self.t, self.mask, reduce,
                                             context=self.ctx)
        grad = rpo.token_logps_grad(logits, self.targets, dtok, lse=lse, in_place=in_place,
                                    context=self.ctx)
        return seq, grad

    def test_numpy_chain_matches_torch(self):
        for reduce in ("sum", "mean"):
            want_seq, want_grad = self.torch_reference(reduce)
            seq, grad = self.chain(self.logits.copy(), reduce, in_place=False)
            support.assert_close_rel(self, seq, want_seq, 1e-13, "seq " + reduce)
            support.assert_close_rel(self, grad, want_grad, 1e-13, "grad " + reduce)
            x = self.logits.copy()
            _, same = self.chain(x, reduce, in_place=True)
            self.assertIs(same, x)                      # the logits became the gradient
            np.testing.assert_array_equal(x, grad)

    def test_torch_tensors_in_place_float32(self):
        want_seq, want_grad = self.torch_reference("sum")
        x = torch.tensor(self.logits, dtype=torch.float32)
        seq, grad = self.chain(x, "sum", in_place=True)
        self.assertIsInstance(seq, torch.Tensor)
        self.assertIs(grad, x)
        support.assert_close_rel(self, seq.numpy(), want_seq, 1e-5, "float32 seq")
        np.testing.assert_allclose(x.numpy(), want_grad, rtol=1e-4, atol=1e-6)

    def test_accumulate_with_lse_equals_without(self):
        logps, lse = rpo.token_logps_lse(self.logits, self.targets, context=self.ctx)
        g = np.linspace(-1, 1, self.t)
        a = np.full_like(self.logits, 0.25)
        b = a.copy()
        rpo.token_logps_backward(self.logits, self.targets, g, a, context=self.ctx)
        rpo.token_logps_backward(self.logits, self.targets, g, b, lse=lse, context=self.ctx)
        support.assert_close_rel(self, b, a, 1e-14, "with lse")

    def test_errors(self):
        logps = np.zeros(self.t)
        with self.assertRaises(rpo.SizeError):           # out of order
            rpo.packed_seq_logps(logps, [0, 5, 3], context=self.ctx)
        with self.assertRaises(rpo.SizeError):           # past T
            rpo.packed_seq_logps(logps, [0, 5, self.t + 1], context=self.ctx)
        with self.assertRaises(rpo.SizeError):
            rpo.packed_seq_logps_backward(np.ones(3), [0, 5, 9], self.t, context=self.ctx)
        _, lse = rpo.token_logps_lse(self.logits, self.targets, context=self.ctx)
        with self.assertRaises(rpo.RangeError):          # not these logits' lse
            rpo.token_logps_grad(self.logits, self.targets, np.ones(self.t), lse=lse - 50,
                                 context=self.ctx)
        with self.assertRaises(ValueError):              # a copy cannot be written in place
            rpo.token_logps_grad(self.logits[:, ::-1], self.targets, np.ones(self.t),
                                 in_place=True, context=self.ctx)


if __name__ == "__main__":
    unittest.main()
