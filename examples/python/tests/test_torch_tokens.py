"""rpo.torch_tokens.token_logps (autograd over rpo_token_logps_lse_* and its
in-place backward) against log_softmax + gather through PyTorch's autograd,
in float64 and float32, with tokens that have no target; the in-place
backward against the one into a new buffer; torch's gradcheck."""

import os
import unittest

import torch

import rpo
from rpo.torch_tokens import token_logps

LIB = rpo.load_library(os.environ["RPO_LIBRARY"]) if os.environ.get("RPO_LIBRARY") else None


def torch_reference(logits, targets, dlogps):
    """logps and the gradient of sum(dlogps * logps), by PyTorch."""
    x = logits.detach().clone().requires_grad_(True)
    keep = targets >= 0
    logp = torch.zeros(len(targets), dtype=x.dtype)
    logp[keep] = x[keep].log_softmax(-1).gather(1, targets[keep, None])[:, 0]
    (logp * dlogps).sum().backward()
    return logp.detach(), x.grad


class TorchTokenLogps(unittest.TestCase):
    def setUp(self):
        self.ctx = rpo.Context(LIB)
        g = torch.Generator().manual_seed(3)
        self.t, self.v = 23, 61
        self.logits = torch.randn(self.t, self.v, generator=g, dtype=torch.float64) * 3
        self.targets = torch.randint(0, self.v, (self.t,), generator=g)
        self.targets[[2, 9]] = -100
        self.dlogps = torch.randn(self.t, generator=g, dtype=torch.float64)

    def check(self, dtype, tol, in_place):
        x = self.logits.to(dtype).clone().requires_grad_(True)
        want, want_grad = torch_reference(x, self.targets, self.dlogps.to(dtype))
        logp = token_logps(x, self.targets, in_place_backward=in_place, context=self.ctx)
        self.assertEqual(logp.dtype, dtype)
        torch.testing.assert_close(logp.detach(), want, rtol=tol, atol=tol)
        (logp * self.dlogps.to(dtype)).sum().backward()
        torch.testing.assert_close(x.grad, want_grad, rtol=tol, atol=tol)
        return x

    def test_matches_autograd(self):
        for dtype, tol in ((torch.float64, 1e-12), (torch.float32, 1e-5)):
            with self.subTest(dtype=dtype):
                x = self.check(dtype, tol, in_place=False)
                torch.testing.assert_close(x.detach(), self.logits.to(dtype))

    def test_in_place_backward_overwrites_the_logits_with_their_gradient(self):
        for dtype, tol in ((torch.float64, 1e-12), (torch.float32, 1e-5)):
            with self.subTest(dtype=dtype):
                x = self.check(dtype, tol, in_place=True)
                self.assertEqual(x.grad.data_ptr(), x.data_ptr())
                # rows without a target: zeros
                self.assertTrue(bool((x.grad[[2, 9]] == 0).all()))

    def test_gradcheck(self):
        x = self.logits[:5, :7].clone().requires_grad_(True)
        y = self.targets[:5] % 7
        self.assertTrue(torch.autograd.gradcheck(
            lambda a: token_logps(a, y, context=self.ctx), (x,)))

    def test_errors(self):
        with self.assertRaises(TypeError):
            token_logps(self.logits.to(torch.int32), self.targets)
        with self.assertRaises(ValueError):
            token_logps(self.logits.t(), self.targets[:self.v])
        bad = self.targets.clone()
        bad[4] = self.v
        with self.assertRaises(rpo.RPOError) as err:
            token_logps(self.logits, bad, context=self.ctx)
        self.assertIn("targets[4]", str(err.exception))


if __name__ == "__main__":
    unittest.main()
