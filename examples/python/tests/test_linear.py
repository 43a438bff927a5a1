"""rpo.linear_token_logps (NumPy) and rpo.torch.linear_token_logps (autograd)
against F.linear + log_softmax + gather through PyTorch's autograd, in
float64 and float32, with and without bias, with tokens that have no
target; torch's gradcheck; and errors (NaN weight, target out of range)
that leave the gradients untouched."""

import os
import unittest

import numpy as np
import torch
import torch.nn.functional as F

import rpo
import rpo.torch
from tests import support

LIB = rpo.load_library(os.environ["RPO_LIBRARY"]) if os.environ.get("RPO_LIBRARY") else None


def torch_reference(hidden, weight, bias, targets, dlogps):
    """logps and the gradients of sum(dlogps * logps), by PyTorch."""
    h = torch.tensor(hidden, requires_grad=True)
    w = torch.tensor(weight, requires_grad=True)
    b = torch.tensor(bias, requires_grad=True) if bias is not None else None
    y = torch.tensor(targets)
    keep = y >= 0
    logits = F.linear(h, w, b)
    logp = torch.zeros(len(y), dtype=h.dtype)
    logp[keep] = logits[keep].log_softmax(-1).gather(1, y[keep, None])[:, 0]
    (logp * torch.tensor(dlogps)).sum().backward()
    return (logp.detach().numpy(), h.grad.numpy(), w.grad.numpy(),
            None if b is None else b.grad.numpy())


class LinearLogps(unittest.TestCase):
    def setUp(self):
        self.ctx = rpo.Context(LIB, linear_chunk=16)   # several chunks
        rng = np.random.default_rng(7)
        self.t, self.h, self.v = 37, 11, 70
        self.hidden = rng.normal(size=(self.t, self.h))
        self.weight = rng.normal(size=(self.v, self.h)) * 0.5
        self.bias = rng.normal(size=self.v)
        self.targets = rng.integers(0, self.v, self.t)
        self.targets[[3, 20]] = -100
        self.dlogps = rng.normal(size=self.t)

    def check_numpy(self, dt, bias, tol):
        want = torch_reference(self.hidden, self.weight, bias, self.targets, self.dlogps)
        cast = (lambda a: None if a is None else a.astype(dt))
        logps, lse = rpo.linear_token_logps(cast(self.hidden), cast(self.weight),
                                            self.targets, cast(bias), return_lse=True,
                                            context=self.ctx)
        self.assertEqual(logps.dtype, dt)
        support.assert_close_rel(self, logps, want[0], tol, "logps")
        dh = np.zeros((self.t, self.h), dt)
        dw = np.zeros((self.v, self.h), dt)
        db = np.zeros(self.v, dt) if bias is not None else None
        rpo.linear_token_logps_backward(cast(self.hidden), cast(self.weight), self.targets,
                                        cast(self.dlogps), dh, dw, db, bias=cast(bias),
                                        lse=lse, context=self.ctx)
        support.assert_close_rel(self, dh, want[1], tol, "dhidden")
        support.assert_close_rel(self, dw, want[2], tol, "dweight")
        if bias is not None:
            support.assert_close_rel(self, db, want[3], tol, "dbias")

    def test_numpy_matches_torch(self):
        for bias in (self.bias, None):
            self.check_numpy(np.float64, bias, 1e-12)
            self.check_numpy(np.float32, bias, 1e-5)

    def test_autograd_matches_torch(self):
        want = torch_reference(self.hidden, self.weight, self.bias, self.targets, self.dlogps)
        for dt, tol in ((torch.float64, 1e-12), (torch.float32, 1e-5)):
            h = torch.tensor(self.hidden, dtype=dt, requires_grad=True)
            w = torch.tensor(self.weight, dtype=dt, requires_grad=True)
            b = torch.tensor(self.bias, dtype=dt, requires_grad=True)
            logp = rpo.torch.linear_token_logps(h, w, torch.tensor(self.targets), b,
                                                context=self.ctx)
            (logp * torch.tensor(self.dlogps, dtype=dt)).sum().backward()
            for got, ref, name in ((logp.detach(), want[0], "logps"), (h.grad, want[1], "dhidden"),
                                   (w.grad, want[2], "dweight"), (b.grad, want[3], "dbias")):
                support.assert_close_rel(self, got.numpy().astype(np.float64), ref, tol, name)

    def test_gradcheck(self):
        rng = np.random.default_rng(8)
        h = torch.tensor(rng.normal(size=(5, 4)), requires_grad=True)
        w = torch.tensor(rng.normal(size=(19, 4)), requires_grad=True)
        b = torch.tensor(rng.normal(size=19), requires_grad=True)
        y = torch.tensor([3, -1, 18, 0, 7])
        self.assertTrue(torch.autograd.gradcheck(
            lambda h, w, b: rpo.torch.linear_token_logps(h, w, y, b, context=self.ctx),
            (h, w, b)))

    def test_errors_write_nothing(self):
        weight = self.weight.copy()
        weight[50, 2] = np.nan
        with self.assertRaises(rpo.NonFiniteError) as cm:
            rpo.linear_token_logps(self.hidden, weight, self.targets, context=self.ctx)
        self.assertIn("weight", cm.exception.detail)
        dh = np.ones((self.t, self.h))
        dw = np.ones((self.v, self.h))
        with self.assertRaises(rpo.NonFiniteError):
            rpo.linear_token_logps_backward(self.hidden, weight, self.targets, self.dlogps,
                                            dh, dw, context=self.ctx)
        self.assertTrue((dh == 1).all() and (dw == 1).all())
        targets = self.targets.copy()
        targets[0] = self.v
        with self.assertRaises(rpo.SizeError):
            rpo.linear_token_logps(self.hidden, self.weight, targets, context=self.ctx)
        with self.assertRaises(TypeError):
            rpo.torch.linear_token_logps(torch.zeros(2, 3), torch.zeros(4, 3, dtype=torch.float64),
                                         torch.tensor([0, 1]))


if __name__ == "__main__":
    unittest.main()
