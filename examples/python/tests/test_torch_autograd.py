"""rpo._autograd, RPOLoss's training step as a C++ autograd node, against
the same step through the Python autograd.Function (with rpo._native and
with the per-step path in Python): the same bits for the loss and every
gradient, the same refusals and errors, gradcheck in float64, the pure-torch
formulas, and once-differentiable."""

import os
import unittest

import torch

import rpo
import rpo.torch as rpo_torch
from rpo.torch import RPOLoss
from tests import support
from tests.test_torch import batch, torch_rpo_loss, with_grad

LIB = support.library()
NODE = "RPOLossBackward"          # the C++ node's name


class AutogradNode(unittest.TestCase):
    def setUp(self):
        if LIB.autograd() is None:
            if (os.environ.get("RPO_EXPECT_AUTOGRAD")
                    and os.environ.get("RPO_NATIVE") != "0"):
                self.fail("rpo._autograd was not found beside %s" % LIB.path)
            self.skipTest("rpo._autograd is not built (no torch C++ headers)")

    def modules(self, **settings):
        """The same RPOLoss three times: the C++ node (the default where
        built), rpo._native in the Python autograd.Function, and the
        per-step path in Python."""
        node = RPOLoss(library=LIB, **settings)
        native = RPOLoss(library=LIB, **settings)
        entry = native._resolve_entry()
        native.__dict__["_entry"] = entry[:10] + (None,)
        python = RPOLoss(library=LIB, **settings)
        entry = python._resolve_entry()
        python.__dict__["_entry"] = (entry[:7] + (rpo_torch._python_loss,)
                                     + entry[8:10] + (None,))
        return node, native, python

    def step(self, module, args, need, scale):
        """The loss and the gradients of the inputs flagged in `need`
        (None elsewhere), after backward with incoming gradient `scale`
        (None: loss.backward())."""
        inputs = [t.clone().requires_grad_(True) if t is not None and k in need
                  else t for k, t in enumerate(args[:4])]
        loss = module(*inputs, *args[4:])
        if scale is None:
            loss.backward()
        else:
            loss.backward(torch.tensor(scale, dtype=loss.dtype))
        return loss, loss.grad_fn.name(), [t.grad if k in need else None
                                           for k, t in enumerate(inputs)]

    def test_same_bits_as_the_python_function(self):
        for dtype in (torch.float32, torch.float64):
            for unpaired in (False, True):
                pc, pr, rc, rr, ce, re = batch(21, 5, 5, unpaired=unpaired, dtype=dtype)
                for args in ((pc, pr, rc, rr, ce, re), (pc, pr, None, None, ce, re)):
                    for need in ((0, 1), (0, 1, 2, 3), (1,), (2,)):
                        if args[2] is None and max(need) > 1:
                            continue
                        for scale in (None, 1.0, 3.0, -0.5):
                            got = [self.step(m, args, need, scale) for m in self.modules()]
                            where = dict(dtype=dtype, unpaired=unpaired,
                                         refs=args[2] is not None, need=need, scale=scale)
                            with self.subTest(**where):
                                self.assertEqual(got[0][1], NODE)
                                self.assertNotEqual(got[1][1], NODE)
                                for loss, _, grads in got[1:]:
                                    self.assertEqual(got[0][0].dtype, loss.dtype)
                                    self.assertTrue(torch.equal(got[0][0], loss))
                                    for a, b in zip(got[0][2], grads):
                                        self.assertEqual(a is None, b is None)
                                        if a is not None:
                                            self.assertEqual(a.dtype, b.dtype)
                                            self.assertTrue(torch.equal(a, b))

    def test_against_pure_torch(self):
        pc, pr, rc, rr, ce, re = batch(22, 4, 6, unpaired=True)
        node = RPOLoss(library=LIB)
        a = with_grad(pc, pr, rc, rr)
        b = with_grad(pc, pr, rc, rr)
        loss = node(*a, ce, re)
        self.assertEqual(loss.grad_fn.name(), NODE)
        (2.0 * loss).backward()
        (2.0 * torch_rpo_loss(*b, ce, re)).backward()
        support.assert_loss_close(self, loss.item(), torch_rpo_loss(pc, pr, rc, rr, ce, re).item(),
                                  1e-12, "node")
        for x, y in zip(a, b):
            torch.testing.assert_close(x.grad, y.grad, rtol=1e-10, atol=1e-13)

    def test_gradients_flow_on_through_non_leaf_inputs(self):
        """Log-probs a model computed (not leaves): the node's edges lead
        to their own backward."""
        pc, pr, rc, rr, ce, _ = batch(28, 5, 5)
        x, y = with_grad(pc, pr)
        loss = RPOLoss(library=LIB)(x * 2.0, y * 1.0, rc, rr, ce)
        self.assertEqual(loss.grad_fn.name(), NODE)
        loss.backward()
        a, b = with_grad(2.0 * pc, pr)
        RPOLoss(library=LIB)(a, b, rc, rr, ce).backward()
        torch.testing.assert_close(x.grad, 2.0 * a.grad, rtol=0, atol=0)
        torch.testing.assert_close(y.grad, b.grad, rtol=0, atol=0)

    def test_gradcheck_float64(self):
        pc, pr, rc, rr, ce, _ = batch(23, 4, 4)
        node = RPOLoss(library=LIB)

        def f(*logps):
            loss = node(*logps, ce)
            self.assertEqual(loss.grad_fn.name(), NODE)
            return loss

        self.assertTrue(torch.autograd.gradcheck(f, tuple(with_grad(pc, pr, rc, rr)),
                                                 eps=1e-6, atol=1e-8, rtol=1e-6))

    def test_refused_inputs_take_the_python_function(self):
        """What librpo cannot read in place (here: strided, half) is
        converted by the Python path, with the same values."""
        pc, pr, rc, rr, ce, _ = batch(24, 6, 6)
        node = RPOLoss(library=LIB)
        entry = node._resolve_entry()
        strided = torch.stack((pc, pc), 1)[:, 0].requires_grad_(True)
        self.assertIsNone(entry[10](entry, strided, pr, rc, rr, ce, None))
        self.assertIsNone(entry[10](entry, pc.half().requires_grad_(True), pr.half(),
                                    None, None, ce.half(), None))
        loss = node(strided, pr, rc, rr, ce)
        self.assertNotEqual(loss.grad_fn.name(), NODE)
        loss.backward()
        (a,) = with_grad(pc)
        want = node(a, pr, rc, rr, ce)
        want.backward()
        self.assertTrue(torch.equal(loss, want))
        self.assertTrue(torch.equal(strided.grad, a.grad))

    def test_errors_carry_their_detail(self):
        pc, pr, rc, rr, ce, _ = batch(25, 4, 4)
        node = RPOLoss(library=LIB)
        bad = pc.clone()
        bad[2] = float("nan")
        with self.assertRaisesRegex(rpo.NonFiniteError, r"policy_chosen\[2\]"):
            node(*with_grad(bad, pr), rc, rr, ce)
        with self.assertRaises(rpo.SizeError):
            RPOLoss(library=LIB, weighting="diagonal")(*with_grad(pc, pr[:3]))
        node.context.close()
        with self.assertRaisesRegex(ValueError, "closed"):
            node(*with_grad(pc, pr), rc, rr, ce)

    def test_once_differentiable(self):
        pc, pr, rc, rr, ce, _ = batch(26, 4, 4)
        x = with_grad(pc)[0]
        loss = RPOLoss(library=LIB)(x, pr, rc, rr, ce)
        self.assertEqual(loss.grad_fn.name(), NODE)
        scale = torch.tensor(2.0, dtype=loss.dtype, requires_grad=True)
        (g,) = torch.autograd.grad(loss, x, grad_outputs=scale, create_graph=True)
        (want,) = torch.autograd.grad(RPOLoss(library=LIB)(x, pr, rc, rr, ce), x)
        self.assertTrue(torch.equal(g, 2.0 * want))
        with self.assertRaisesRegex(RuntimeError, "once_differentiable"):
            g.sum().backward()

    def test_second_backward_needs_retain_graph(self):
        """A retained graph gives the same bits again, in new tensors; the
        backward that frees the graph hands librpo's tensors to autograd,
        and another backward then raises, as PyTorch's operators do."""
        pc, pr, rc, rr, ce, _ = batch(27, 4, 4)
        a, b = with_grad(pc, pr)
        loss = RPOLoss(library=LIB)(a, b, rc, rr, ce)
        loss.backward(retain_graph=True)
        first = a.grad
        a.grad = b.grad = None
        loss.backward()
        self.assertTrue(torch.equal(a.grad, first))
        self.assertIsNot(a.grad, first)
        with self.assertRaisesRegex(RuntimeError, "retain_graph=True"):
            loss.backward()
        loss = RPOLoss(library=LIB)(a, b, rc, rr, ce)   # scaled: not handed over
        loss.backward(torch.tensor(3.0, dtype=loss.dtype))
        with self.assertRaisesRegex(RuntimeError, "retain_graph=True"):
            loss.backward()


if __name__ == "__main__":
    unittest.main()
