"""rpo.torch.RPOLoss against a pure-torch implementation of SPEC section 1
(autograd supplies its gradients), torch.autograd.gradcheck in float64, the
conformance vectors, dtypes, layouts and the TRL-named metrics."""

import copy
import os
import pickle
import unittest

import numpy as np
import torch
import torch.nn.functional as F

import rpo
import rpo.torch as rpo_torch
from rpo.torch import RPOLoss, TRL_METRICS
from tests import support

LIB = support.library()


def torch_weights(weighting, m, n, alpha, tau, chosen_emb, rejected_emb, dtype):
    """W (m, n) of SPEC section 1 in torch."""
    if weighting == "uniform":
        return torch.full((m, n), 1.0 / n, dtype=dtype)
    if weighting == "diagonal":
        if n == 1:
            return torch.ones((m, n), dtype=dtype)
        w = torch.full((m, n), (1.0 - alpha) / (n - 1), dtype=dtype)
        return w.fill_diagonal_(alpha)
    e = F.normalize(chosen_emb.to(dtype), dim=1, eps=1e-12)
    f = e if rejected_emb is None else F.normalize(rejected_emb.to(dtype), dim=1, eps=1e-12)
    return torch.softmax(-(1.0 - e @ f.T) / tau, dim=1)


def torch_rpo_loss(pc, pr, rc, rr, chosen_emb=None, rejected_emb=None,
                   beta=0.1, tau=0.5, alpha=0.8, weighting="embedding",
                   placement="auto", reduction="mean"):
    """SPEC section 1 written directly in torch; differentiable."""
    a = pc - (0 if rc is None else rc)
    b = pr - (0 if rr is None else rr)
    m, n = a.shape[0], b.shape[0]
    w = torch_weights(weighting, m, n, alpha, tau, chosen_emb, rejected_emb, a.dtype)
    z = a[:, None] - b[None, :]
    placement = support.resolved_placement(weighting, placement)
    scale = 1.0 / m if reduction == "mean" else 1.0
    if placement == "loss":
        return scale * (w * F.softplus(-beta * z)).sum()
    return scale / n * F.softplus(-beta * w * z).sum()


def batch(seed, m, n, d=4, unpaired=False, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    mk = lambda *shape, mean=0.0, std=1.0: (torch.randn(*shape, generator=g,
                                                        dtype=torch.float64) * std + mean).to(dtype)
    pc, rc = mk(m, mean=-40, std=5), mk(m, mean=-40, std=5)
    pr, rr = mk(n, mean=-45, std=5), mk(n, mean=-45, std=5)
    ce = mk(m, d)
    re = mk(n, d) if unpaired else None
    return pc, pr, rc, rr, ce, re


def with_grad(*tensors):
    return [None if t is None else t.clone().requires_grad_(True) for t in tensors]


CONFIGS = [(w, p, r, u)
           for w in ("uniform", "diagonal", "embedding")
           for p in ("auto", "logit", "loss")
           for r in ("mean", "sum")
           for u in (False, True) if not (u and w == "diagonal")]


class AgainstPureTorch(unittest.TestCase):
    def test_loss_and_gradients_equal(self):
        for k, (weighting, placement, reduction, unpaired) in enumerate(CONFIGS):
            m, n = (3, 6) if unpaired else (5, 5)
            data = batch(k, m, n, unpaired=unpaired)
            settings = dict(beta=0.25, tau=0.6, alpha=0.7, weighting=weighting,
                            placement=placement, reduction=reduction)
            what = "%s/%s/%s/%s" % (weighting, placement, reduction, unpaired)

            ours_in = with_grad(*data[:4])
            ours = RPOLoss(library=LIB, **settings)(*ours_in, *data[4:])
            ours.backward()
            ref_in = with_grad(*data[:4])
            ref = torch_rpo_loss(*ref_in, *data[4:], **settings)
            ref.backward()

            support.assert_loss_close(self, ours.item(), ref.item(), 1e-12, what)
            for name, x, y in zip(("pc", "pr", "rc", "rr"), ours_in, ref_in):
                support.assert_close_rel(self, x.grad.numpy(), y.grad.numpy(),
                                         1e-12, what + " d/d" + name)

    def test_reference_free(self):
        pc, pr, _, _, ce, _ = batch(1, 4, 4)
        ours = RPOLoss(library=LIB)(pc, pr, None, None, ce)
        ref = torch_rpo_loss(pc, pr, None, None, ce)
        support.assert_loss_close(self, ours.item(), ref.item(), 1e-12, "reference-free")

    def test_metrics_under_trl_names(self):
        loss_fn = RPOLoss(library=LIB, weighting="diagonal", alpha=1.0)
        self.assertEqual(loss_fn.metrics, {})
        pc, pr, rc, rr, _, _ = batch(2, 6, 6)
        loss_fn(pc, pr, rc, rr)
        got = loss_fn.metrics
        self.assertEqual(sorted(got), sorted(name for name, _ in TRL_METRICS))
        # diagonal with alpha = 1 is DPO: TRL's own definitions apply.
        chosen, rejected = 0.1 * (pc - rc), 0.1 * (pr - rr)
        self.assertAlmostEqual(got["rewards/chosen"], chosen.mean().item(), delta=1e-12)
        self.assertAlmostEqual(got["rewards/rejected"], rejected.mean().item(), delta=1e-12)
        self.assertAlmostEqual(got["rewards/margins"], (chosen - rejected).mean().item(), delta=1e-12)
        self.assertAlmostEqual(got["rewards/accuracies"],
                               (chosen > rejected).double().mean().item(), delta=1e-12)


class Gradcheck(unittest.TestCase):
    def test_gradcheck_float64(self):
        for weighting, placement, _, unpaired in CONFIGS[::2]:
            m, n = (2, 3) if unpaired else (3, 3)
            pc, pr, rc, rr, ce, re = batch(7, m, n, unpaired=unpaired)
            # log-ratios near zero keep beta * z in the curved part of softplus
            rc, rr = pc + 0.3 * torch.randn(m, dtype=torch.float64), pr + 0.3 * torch.randn(n, dtype=torch.float64)
            loss_fn = RPOLoss(library=LIB, beta=2.0, weighting=weighting, placement=placement)
            inputs = tuple(with_grad(pc, pr, rc, rr))
            self.assertTrue(torch.autograd.gradcheck(
                lambda *x: loss_fn(*x, ce, re), inputs, eps=1e-6, atol=1e-8),
                "%s/%s" % (weighting, placement))


class Conformance(unittest.TestCase):
    def test_vectors_through_the_module(self):
        for c in support.load_vectors():
            for dt, tol in ((torch.float64, 1e-12), (torch.float32, 1e-5)):
                t = lambda x: None if x is None else torch.tensor(x, dtype=dt)
                pc, pr = t(c["policy_chosen"]), t(c["policy_rejected"])
                pc.requires_grad_(True)
                pr.requires_grad_(True)
                ce = t(c["chosen_emb"])
                re = ce if isinstance(c["rejected_emb"], str) else t(c["rejected_emb"])
                loss_fn = RPOLoss(beta=c["beta"], tau=c["tau"], alpha=c["alpha"],
                                  weighting=c["weighting"], placement=c["placement"],
                                  library=LIB)
                loss = loss_fn(pc, pr, t(c["ref_chosen"]), t(c["ref_rejected"]), ce, re)
                loss.backward()
                what = "%s %s" % (c["name"], dt)
                self.assertEqual(loss.dtype, dt)
                support.assert_loss_close(self, loss.item(), c["loss"], tol, what)
                support.assert_close_rel(self, pc.grad.double().numpy(), c["grad_chosen"], tol, what)
                support.assert_close_rel(self, pr.grad.double().numpy(), c["grad_rejected"], tol, what)


class TypesAndLayouts(unittest.TestCase):
    def test_float32_in_float32_out(self):
        data = batch(3, 4, 4, dtype=torch.float32)
        inputs = with_grad(*data[:4])
        loss = RPOLoss(library=LIB)(*inputs, data[4])
        loss.backward()
        self.assertEqual(loss.dtype, torch.float32)
        for x in inputs:
            self.assertEqual(x.grad.dtype, torch.float32)
        ref = torch_rpo_loss(*[x.double() for x in data[:4]], data[4].double())
        support.assert_loss_close(self, loss.item(), ref.item(), 1e-5, "float32")

    def test_mixed_and_half_dtypes_get_their_own_gradients(self):
        pc, pr, rc, rr, ce, _ = batch(4, 3, 3)
        pc16 = pc.half().requires_grad_(True)
        pr16 = pr.half().requires_grad_(True)
        rc64 = rc.clone().requires_grad_(True)
        loss = RPOLoss(library=LIB, weighting="uniform")(pc16, pr16, rc64, rr.float())
        loss.backward()
        self.assertEqual(pc16.grad.dtype, torch.float16)
        self.assertEqual(rc64.grad.dtype, torch.float64)
        # computed in float64 (one input is float64); the ref gradient is -pc's
        torch.testing.assert_close(rc64.grad, -pc16.grad.double(), rtol=1e-3, atol=1e-6)

    def test_non_contiguous_inputs(self):
        pc, pr, rc, rr, ce, _ = batch(5, 6, 6)
        strided = [torch.stack([x, x], dim=1)[:, 0] for x in (pc, pr, rc, rr)]
        self.assertFalse(strided[0].is_contiguous())
        inputs = with_grad(*strided)
        loss = RPOLoss(library=LIB)(*inputs, ce)
        loss.backward()
        ref = torch_rpo_loss(pc, pr, rc, rr, ce)
        support.assert_loss_close(self, loss.item(), ref.item(), 1e-12, "strided")
        self.assertEqual(inputs[0].grad.shape, (6,))

    def test_no_grad_and_partial_grad(self):
        pc, pr, rc, rr, ce, _ = batch(6, 3, 3)
        loss_fn = RPOLoss(library=LIB)
        with torch.no_grad():
            self.assertFalse(loss_fn(pc, pr, rc, rr, ce).requires_grad)
        pcg = pc.clone().requires_grad_(True)
        loss_fn(pcg, pr, rc, rr, ce).backward()
        self.assertIsNotNone(pcg.grad)

    def test_backward_scales_by_incoming_gradient(self):
        pc, pr, rc, rr, ce, _ = batch(9, 3, 3)
        a, b = with_grad(pc), with_grad(pc)
        loss_fn = RPOLoss(library=LIB)
        loss_fn(a[0], pr, rc, rr, ce).backward()
        (3.0 * loss_fn(b[0], pr, rc, rr, ce)).backward()
        torch.testing.assert_close(b[0].grad, 3.0 * a[0].grad, rtol=1e-14, atol=0.0)

    def test_no_grad_and_inference_mode_compute_the_loss_only(self):
        """Under no_grad or inference_mode, or with no input requiring
        grad, librpo is called without gradient outputs (it skips that
        work) and gives the same loss."""
        pc, pr, rc, rr, ce, _ = batch(12, 5, 5)
        loss_fn = RPOLoss(library=LIB)
        asked = []
        want = loss_fn(*with_grad(pc, pr), rc, rr, ce)
        entry = loss_fn._entry
        step = entry[7]         # the per-step call; its last argument: grad

        def spy(*args):
            asked.append(args[-1])
            return step(*args)

        # (no rpo._autograd: its node always computes the gradients)
        loss_fn.__dict__["_entry"] = entry[:7] + (spy,) + entry[8:10] + (None,)
        with torch.no_grad():
            a = loss_fn(*with_grad(pc, pr), rc, rr, ce)
        with torch.inference_mode():
            b = loss_fn(*with_grad(pc, pr), rc, rr, ce)
        c = loss_fn(pc, pr, rc, rr, ce)
        loss_fn(*with_grad(pc, pr), rc, rr, ce)
        self.assertEqual(asked, [False, False, False, True])
        for got in (a, b, c):
            self.assertFalse(got.requires_grad)
            self.assertEqual(got.item(), want.item())

    def test_non_floating_inputs_are_type_errors(self):
        pc, pr, rc, rr, ce, _ = batch(13, 4, 4)
        loss_fn = RPOLoss(library=LIB)
        for bad in (torch.tensor([-3, -4, -5, -6]), torch.ones(4, dtype=torch.bool),
                    pc.to(torch.complex128)):
            for k in range(4):
                args = [pc, pr, rc, rr]
                args[k] = bad
                with self.assertRaises(TypeError, msg="%s at %d" % (bad.dtype, k)):
                    loss_fn(*args, ce)
            with self.assertRaises(TypeError, msg="embeddings %s" % bad.dtype):
                loss_fn(pc, pr, rc, rr, bad.reshape(4, 1))
            with self.assertRaises(TypeError, msg="numpy embeddings"):
                loss_fn(pc, pr, rc, rr, bad.reshape(4, 1).numpy())

    def test_references_get_the_negative_gradients(self):
        pc, pr, rc, rr, ce, _ = batch(14, 5, 4, unpaired=True)
        _, _, _, _, _, re = batch(14, 5, 4, unpaired=True)
        inputs = with_grad(pc, pr, rc, rr)
        RPOLoss(library=LIB)(*inputs, ce, re).backward()
        torch.testing.assert_close(inputs[2].grad, -inputs[0].grad, rtol=0, atol=0)
        torch.testing.assert_close(inputs[3].grad, -inputs[1].grad, rtol=0, atol=0)

    def test_once_differentiable(self):
        pc, pr, rc, rr, ce, _ = batch(15, 4, 4)
        x = with_grad(pc)[0]
        loss = RPOLoss(library=LIB)(x, pr, rc, rr, ce)
        # an incoming gradient that itself requires grad: without the
        # guard, its product with librpo's constants would make a silently
        # wrong second derivative
        scale = torch.tensor(2.0, dtype=loss.dtype, requires_grad=True)
        (g,) = torch.autograd.grad(loss, x, grad_outputs=scale, create_graph=True)
        with self.assertRaisesRegex(RuntimeError, "once_differentiable"):
            g.sum().backward()

    def test_tracing_is_refused(self):
        """librpo runs outside the traced operations: a trace would replay
        the first call's loss as a constant, so tracing is an error."""
        pc, pr, rc, rr, ce, _ = batch(16, 4, 4)
        loss_fn = RPOLoss(library=LIB)
        for x in (pc, with_grad(pc)[0]):
            with self.assertRaisesRegex(RuntimeError, "cannot be traced"):
                torch.jit.trace(lambda a: loss_fn(a, pr, rc, rr, ce), (x,),
                                check_trace=False)

    def test_threads_setting(self):
        loss_fn = RPOLoss(library=LIB, threads=2)
        self.assertEqual(loss_fn.context.threads, 2)
        self.assertIn("threads=2", repr(loss_fn))

    def test_errors_surface_as_rpo_errors(self):
        loss_fn = RPOLoss(library=LIB, weighting="diagonal")
        with self.assertRaises(rpo.SizeError):
            loss_fn(torch.zeros(2), torch.zeros(3))
        with self.assertRaises(rpo.NonFiniteError):
            loss_fn(torch.tensor([float("nan"), 0.0]), torch.zeros(2))
        with self.assertRaises(ValueError):
            loss_fn(torch.zeros(2, 1), torch.zeros(2))
        with self.assertRaises(rpo.ParamError):
            RPOLoss(library=LIB, beta=-1.0)

    def test_settings_pass_through_and_copies(self):
        loss_fn = RPOLoss(library=LIB, weighting="diagonal", alpha=0.9, beta=0.5)
        self.assertEqual(loss_fn.context.alpha, 0.9)
        self.assertIn("alpha=0.9", repr(loss_fn))
        for clone in (copy.deepcopy(loss_fn), pickle.loads(pickle.dumps(loss_fn))):
            self.assertEqual(clone.context.settings(), loss_fn.context.settings())
        with self.assertRaises(TypeError):
            RPOLoss(library=LIB, gamma=1.0)


class PerStepPath(unittest.TestCase):
    """rpo._native.loss (C) and _python_loss, the per-step path with and
    without the extension, give the same bits, refuse the same inputs
    (None: the caller converts them) and report the same failures."""

    def setUp(self):
        self.loss_fn = RPOLoss(library=LIB)
        self.entry = self.loss_fn._resolve_entry()
        native = self.loss_fn.context.library.native()
        if native is None:
            if (os.environ.get("RPO_EXPECT_NATIVE")
                    and os.environ.get("RPO_NATIVE") != "0"):
                self.fail("rpo._native was not found beside %s"
                          % self.loss_fn.context.library.path)
            self.skipTest("rpo._native is not built (no Python headers)")
        self.native = native.loss

    def both(self, *args):
        got = self.native(self.entry, *args)
        want = rpo_torch._python_loss(self.entry, *args)
        if isinstance(want, tuple):
            self.assertIsInstance(got, tuple)
            for a, b in zip(got, want):
                if b is None:
                    self.assertIsNone(a)
                else:
                    self.assertEqual(a.dtype, b.dtype)
                    self.assertEqual(a.shape, b.shape)
                    self.assertTrue(torch.equal(a, b))
        else:
            self.assertEqual(got, want)
        return got

    def test_same_bits_same_refusals(self):
        for dtype in (torch.float32, torch.float64):
            pc, pr, rc, rr, ce, re = batch(11, 5, 4, unpaired=True, dtype=dtype)
            for args in ((pc, pr, rc, rr, ce, re), (pc, pr, None, None, ce, re),
                         (pc[:4], pr, rc[:4], rr, ce[:4], None)):
                for grad in (True, False):
                    self.assertIsInstance(self.both(*args, grad), tuple)
            refused = [
                (pc.float() if dtype is torch.float64 else pc.double(), pr, rc, rr, ce, re),
                (pc, pr, rc[:3], rr, ce, re),                      # shapes differ
                (pc, pr, rc, rr, ce[:, :2], re),                   # widths differ
                (pc, pr, rc, rr, ce.t().contiguous().t(), re),     # not contiguous
                (torch.stack((pc, pc), 1)[:, 0], pr, rc, rr, ce, re),
                (pc, pr.reshape(2, 2), rc, rr, ce, re),            # not 1-D
                (pc, pr, rc, rr, None, re),                        # re without ce
                (pc.numpy(), pr, rc, rr, ce, re),                  # not a tensor
                (pc.to(torch.float16), pr, rc, rr, ce, re),
            ]
            for k, args in enumerate(refused):
                with self.subTest(dtype=dtype, case=k):
                    self.assertIsNone(self.both(*args, True))
            bad = pc.clone()
            bad[1] = float("nan")
            self.assertEqual(self.both(bad, pr, rc, rr, ce, re, True), rpo.errors.ERR_NONFINITE)

    def test_closed_context(self):
        pc, pr, rc, rr, ce, _ = batch(12, 3, 3)
        self.loss_fn.context.close()
        for fn in (self.native, rpo_torch._python_loss):
            with self.assertRaises(ValueError):
                fn(self.entry, pc, pr, rc, rr, ce, None, True)



class CopiesAfterACall(unittest.TestCase):
    def test_deepcopy_and_pickle_after_a_forward(self):
        """A module that has run holds its per-step entry (the context's
        lock, this process's addresses); copies start without it and give
        the same loss."""
        pc, pr, rc, rr, ce, _ = batch(14, 4, 4)
        loss_fn = RPOLoss(library=LIB)
        want = loss_fn(pc, pr, rc, rr, ce).item()
        for clone in (copy.deepcopy(loss_fn), pickle.loads(pickle.dumps(loss_fn))):
            self.assertIsNot(clone.context, loss_fn.context)
            self.assertEqual(clone(pc, pr, rc, rr, ce).item(), want)


class SecondBackward(unittest.TestCase):
    def test_second_backward_through_the_graph(self):
        """The backward that hands librpo's gradients to autograd keeps
        none, and a second backward (retain_graph=True) computes them
        again: the same bits, in new tensors."""
        pc, pr, rc, rr, ce, _ = batch(13, 4, 4)
        a, b = with_grad(pc, pr)
        loss = RPOLoss(library=LIB)(a, b, rc, rr, ce)
        loss.backward(retain_graph=True)
        first = a.grad, b.grad
        a.grad = b.grad = None
        loss.backward()
        self.assertTrue(torch.equal(a.grad, first[0]))
        self.assertTrue(torch.equal(b.grad, first[1]))
        self.assertIsNot(a.grad, first[0])


if __name__ == "__main__":
    unittest.main()
