"""rpo.Context over NumPy: settings, the conformance vectors through every
entry point, an independent float64 reference on random batches, buffers
read and written in place, and each status as its exception."""

import array
import copy
import ctypes
import pickle
import threading
import unittest
from unittest import mock

import numpy as np

import rpo
from rpo import _buffers
from tests import support

LIB = support.library()


def context(**settings):
    return rpo.Context(LIB, **settings)


class Settings(unittest.TestCase):
    def test_defaults_are_the_specs(self):
        self.assertEqual(context().settings(), {
            "weighting": "embedding", "beta": 0.1, "tau": 0.5, "alpha": 0.8,
            "placement": "auto", "reduction": "mean", "threads": 1,
            # librpo 1.2 (docs/extensions.md)
            "loss_type": "sigmoid", "label_smoothing": 0.0,
            "discopop_tau": 0.05, "logit_scale": "row_sum",
            "sinkhorn_iters": 200, "sinkhorn_tol": 1e-9,
            # librpo 1.3: the objectives, the fused linear log-probs
            "simpo_gamma": 0.0, "f_divergence": "reverse_kl", "f_alpha": 1.0,
            "desirable_weight": 1.0, "undesirable_weight": 1.0,
            "linear_chunk": 256,
            # librpo 1.3: effective contrasts (docs/extensions.md section 10)
            "target_contrasts": 0.0})

    def test_every_setting_is_a_property_that_round_trips(self):
        ctx = context()
        # numbers inside each range (label smoothing < 0.5; whole iterations)
        samples = {"label_smoothing": (0.0, 0.25), "sinkhorn_iters": (1, 500),
                   "linear_chunk": (16, 300), "threads": (1, 4),
                   "target_contrasts": (0.0, 2.5)}
        for s in rpo.SETTINGS:
            values = s.choices or samples.get(s.name, (0.25, 0.75))
            for v in values:
                setattr(ctx, s.name, v)
                self.assertEqual(getattr(ctx, s.name), v, s.name)
                self.assertEqual(ctx.get(s.name), v, s.name)

    def test_enumerations_take_their_numbers_too(self):
        ctx = context(weighting=1)
        self.assertEqual(ctx.weighting, "diagonal")

    def test_rejected_value_raises_and_keeps_old(self):
        ctx = context(beta=0.3)
        for bad in (0.0, -1.0, float("nan"), float("inf")):
            with self.assertRaises(rpo.ParamError) as cm:
                ctx.beta = bad
            self.assertEqual(cm.exception.status, -3)
            self.assertEqual(cm.exception.message, LIB.status_string(-3))
            self.assertEqual(ctx.beta, 0.3)
        with self.assertRaises(rpo.ParamError):
            ctx.alpha = 1.5
        with self.assertRaises(ValueError):
            ctx.weighting = "cosine"
        self.assertEqual(ctx.weighting, "embedding")

    def test_unknown_setting_is_a_type_error(self):
        with self.assertRaises(TypeError):
            context(betta=0.1)

    def test_bounds(self):
        ctx = context()
        self.assertEqual(ctx.bounds("alpha"), (0.0, 1.0))
        lo, hi = ctx.bounds("beta")
        self.assertGreater(lo, 0.0)
        self.assertEqual(ctx.bounds("weighting"), (0.0, 3.0))   # 3: sinkhorn

    def test_pickle_and_deepcopy_keep_settings(self):
        ctx = context(weighting="diagonal", alpha=0.6, beta=0.7)
        for clone in (pickle.loads(pickle.dumps(ctx)), copy.deepcopy(ctx)):
            self.assertEqual(clone.settings(), ctx.settings())
            self.assertIsNot(clone, ctx)

    def test_misspelt_attribute_raises_instead_of_being_ignored(self):
        ctx = context(beta=0.3)
        with self.assertRaises(AttributeError) as cm:
            ctx.bta = 0.2
        self.assertIn("bta", str(cm.exception))
        self.assertIn("beta", str(cm.exception))   # the settings are listed
        self.assertFalse(hasattr(ctx, "bta"))
        self.assertEqual(ctx.beta, 0.3)

    def test_threads_is_a_setting_with_identical_results(self):
        """RPO_PARAM_THREADS through Context(threads=): the value reaches
        librpo (out of range is refused) and, as rpo.h promises, the loss
        and gradients are bitwise those of one thread."""
        with self.assertRaises(rpo.ParamError):
            context(threads=0)
        rng = np.random.default_rng(7)
        m, n, d = 300, 280, 48
        args = (rng.normal(-40, 5, m), rng.normal(-45, 5, n),
                rng.normal(-40, 5, m), rng.normal(-45, 5, n),
                rng.normal(size=(m, d)), rng.normal(size=(n, d)))
        one, four = context(threads=1), context(threads=4)
        self.assertEqual((one.threads, four.threads), (1, 4))
        self.assertIsInstance(four.threads, int)
        r1, r4 = one.loss(*args), four.loss(*args)
        self.assertEqual(r1.loss, r4.loss)
        np.testing.assert_array_equal(r1.grad_chosen, r4.grad_chosen)
        np.testing.assert_array_equal(r1.grad_rejected, r4.grad_rejected)

    def test_closed_context_refuses_calls(self):
        ctx = context()
        ctx.close()
        ctx.close()
        with self.assertRaises(ValueError):
            ctx.beta = 0.2


class Conformance(unittest.TestCase):
    """Every case of the conformance vectors through the binding, float64
    and float32, within the tolerances of tests/data/README.md."""

    @classmethod
    def setUpClass(cls):
        cls.cases = support.load_vectors()

    def context_for(self, c):
        return context(weighting=c["weighting"], placement=c["placement"],
                       beta=c["beta"], tau=c["tau"], alpha=c["alpha"])

    def inputs(self, c, dt):
        conv = lambda x: None if x is None else np.asarray(x, dt)
        re = c["rejected_emb"]
        ce = conv(c["chosen_emb"])
        return (conv(c["policy_chosen"]), conv(c["policy_rejected"]),
                conv(c["ref_chosen"]), conv(c["ref_rejected"]),
                ce, ce if isinstance(re, str) else conv(re))

    def check(self, c, r, dt, entry):
        tol = support.TOL[dt]
        what = "%s [%s %s]" % (c["name"], entry, np.dtype(dt).name)
        support.assert_loss_close(self, r.loss, c["loss"], tol, what + " loss")
        support.assert_close_rel(self, r.grad_chosen, c["grad_chosen"], tol,
                                 what + " grad_chosen")
        support.assert_close_rel(self, r.grad_rejected, c["grad_rejected"], tol,
                                 what + " grad_rejected")
        self.assertEqual(r.grad_chosen.dtype, dt)
        self.assertAlmostEqual(r.metrics.loss, r.loss, delta=tol * max(1.0, abs(r.loss)))

    def test_vectors_exist(self):
        self.assertGreater(len(self.cases), 0)

    def test_loss(self):
        for c in self.cases:
            for dt in (np.float64, np.float32):
                pc, pr, rc, rr, ce, re = self.inputs(c, dt)
                r = self.context_for(c).loss(pc, pr, rc, rr, ce, re)
                self.check(c, r, dt, "loss")

    def test_weights_and_loss_weighted(self):
        for c in self.cases:
            for dt in (np.float64, np.float32):
                pc, pr, rc, rr, ce, re = self.inputs(c, dt)
                ctx = self.context_for(c)
                if ce is None:
                    w = ctx.weights(m=c["m"], n=c["n"], dtype=dt)
                else:
                    w = ctx.weights(ce, re)
                self.assertEqual(w.dtype, dt)
                np.testing.assert_allclose(w, c["weights"], rtol=0,
                                           atol=support.TOL[dt], err_msg=c["name"])
                r = ctx.loss_weighted(pc, pr, rc, rr,
                                      weights=np.asarray(c["weights"], dt))
                self.check(c, r, dt, "loss_weighted")


class Reference(unittest.TestCase):
    """Random batches against tests/support.py's float64 implementation,
    including the metrics and the sum reduction."""

    def batch(self, rng, m, n, d, unpaired):
        pc, rc = rng.normal(-40, 5, m), rng.normal(-40, 5, m)
        pr, rr = rng.normal(-45, 5, n), rng.normal(-45, 5, n)
        ce = rng.normal(size=(m, d))
        re = rng.normal(size=(n, d)) if unpaired else None
        return pc, pr, rc, rr, ce, re

    def test_random_batches(self):
        rng = np.random.default_rng(5)
        for weighting in ("uniform", "diagonal", "embedding"):
            for placement in ("auto", "logit", "loss"):
                for reduction in ("mean", "sum"):
                    for unpaired in (False, True):
                        if unpaired and weighting == "diagonal":
                            continue
                        m, n = (3, 7) if unpaired else (5, 5)
                        pc, pr, rc, rr, ce, re = self.batch(rng, m, n, 4, unpaired)
                        ctx = context(weighting=weighting, placement=placement,
                                      reduction=reduction, beta=0.3, tau=0.7,
                                      alpha=0.6)
                        r = ctx.loss(pc, pr, rc, rr, ce, re)
                        w = support.ref_weights(weighting, m, n, 0.6, 0.7, ce, re)
                        want = support.ref_loss(
                            pc, pr, rc, rr, w, 0.3,
                            support.resolved_placement(weighting, placement),
                            reduction)
                        what = "%s/%s/%s/%s" % (weighting, placement, reduction,
                                                "unpaired" if unpaired else "paired")
                        support.assert_loss_close(self, r.loss, want[0], 1e-12, what)
                        support.assert_close_rel(self, r.grad_chosen, want[1], 1e-12, what)
                        support.assert_close_rel(self, r.grad_rejected, want[2], 1e-12, what)
                        for k, v in want[3].items():
                            self.assertAlmostEqual(getattr(r.metrics, k), v,
                                                   delta=1e-12, msg=what + " " + k)
                        self.assertEqual(ctx.metrics, r.metrics)

    def test_reference_free_and_loss_only(self):
        rng = np.random.default_rng(6)
        pc, pr, _, _, ce, _ = self.batch(rng, 4, 4, 3, False)
        ctx = context()
        r = ctx.loss(pc, pr, chosen_emb=ce, grad=False)
        self.assertIsNone(r.grad_chosen)
        self.assertIsNone(r.grad_rejected)
        want = support.ref_loss(pc, pr, None, None,
                                support.ref_weights("embedding", 4, 4, chosen_emb=ce),
                                0.1, "logit")
        support.assert_loss_close(self, r.loss, want[0], 1e-12, "reference-free")

    def test_empty_side_is_zero(self):
        r = context(weighting="uniform").loss(np.zeros(0), np.array([-1.0, -2.0]))
        self.assertEqual(r.loss, 0.0)
        self.assertEqual(r.grad_chosen.shape, (0,))
        np.testing.assert_array_equal(r.grad_rejected, [0.0, 0.0])


class Buffers(unittest.TestCase):
    """Inputs of the call's type and layout are read in place; outputs
    given with out= are written in place."""

    def test_matching_inputs_are_not_copied(self):
        x64 = np.arange(6, dtype=np.float64)
        self.assertIs(_buffers.as_input(x64, np.dtype(np.float64), "x", 1), x64)
        for source in (memoryview(np.arange(4, dtype=np.float32)),
                       array.array("f", [1.0, 2.0, 3.0]),
                       array.array("d", [1.0, 2.0, 3.0])):
            dt = np.dtype("f4" if source.format == "f" else "f8") \
                if isinstance(source, memoryview) else \
                np.dtype("f4" if source.typecode == "f" else "f8")
            view = _buffers.as_input(source, dt, "x", 1)
            self.assertTrue(np.shares_memory(view, np.asarray(source)))
            np.asarray(source)[0] = 42.0
            self.assertEqual(view[0], 42.0)

    def test_other_layouts_are_converted(self):
        x = np.arange(10, dtype=np.float64)[::2]        # strided
        a = _buffers.as_input(x, np.dtype(np.float64), "x", 1)
        self.assertFalse(np.shares_memory(a, x))
        np.testing.assert_array_equal(a, x)
        i = _buffers.as_input([1, 2, 3], np.dtype(np.float32), "x", 1)
        self.assertEqual(i.dtype, np.float32)

    def test_call_type_follows_inputs(self):
        f32 = np.ones(2, np.float32)
        self.assertEqual(_buffers.call_dtype((f32, None, f32)), np.float32)
        self.assertEqual(_buffers.call_dtype((f32, np.ones(2))), np.float64)
        self.assertEqual(_buffers.call_dtype(([1.0, 2.0],)), np.float64)
        with self.assertRaises(TypeError):
            _buffers.call_dtype((f32,), np.int32)

    def test_buffers_in_and_out(self):
        pc, pr = array.array("f", [-1.0, -2.0]), array.array("f", [-3.0, -1.5])
        gc, gr = np.full(2, np.nan, np.float32), np.full(2, np.nan, np.float32)
        r = context(weighting="uniform").loss(pc, pr, out=(gc, gr))
        self.assertIs(r.grad_chosen, gc)
        self.assertTrue(np.all(np.isfinite(gc)) and np.all(np.isfinite(gr)))
        want = support.ref_loss(pc, pr, None, None,
                                support.ref_weights("uniform", 2, 2), 0.1, "loss")
        support.assert_close_rel(self, gc, want[1], 1e-5, "grad_chosen")

    def test_unsuitable_outputs_are_refused(self):
        ctx = context(weighting="uniform")
        pc = np.ones(3)
        for bad in (np.empty(3, np.float32), np.empty(4), np.empty(6)[::2]):
            with self.assertRaises(ValueError):
                ctx.loss(pc, pc, out=(bad, np.empty(3)))


class Errors(unittest.TestCase):
    """Each status the library returns becomes its exception, carrying the
    library's rpo_status_string; nothing is written on failure."""

    def assert_status(self, cm, cls, status):
        self.assertIsInstance(cm.exception, cls)
        self.assertIsInstance(cm.exception, rpo.RPOError)
        self.assertEqual(cm.exception.status, status)
        self.assertEqual(cm.exception.message, LIB.status_string(status))
        self.assertIn(LIB.status_string(status), str(cm.exception))

    def test_detail_of_the_context_is_in_the_message(self):
        """A failure carries the context's rpo_ctx_error_detail, the text
        the library keeps for its last failed call ("" when it gives
        none); the plumbing is checked with a library detail that says
        something, standing in for librpo's."""
        ctx = context()
        with self.assertRaises(rpo.NullPointerError) as cm:
            ctx.loss(np.ones(2), np.ones(2))   # embedding, no embeddings
        self.assertEqual(cm.exception.library_detail,
                         LIB.error_detail(ctx._handle()))
        said = b"chosen_emb is NULL: EMBEDDING weighting needs embeddings"
        fake = lambda handle: said
        with mock.patch.dict(LIB._functions, {"rpo_ctx_error_detail": fake}):
            with self.assertRaises(rpo.NullPointerError) as cm:
                ctx.loss(np.ones(2), np.ones(2))
        self.assertEqual(cm.exception.library_detail, said.decode())
        self.assertIn(LIB.status_string(-1) + ": " + said.decode(),
                      str(cm.exception))
        ctx.loss(np.ones(2), np.ones(2), chosen_emb=np.eye(2))
        self.assertEqual(LIB.error_detail(ctx._handle()), "")

    def test_null_pointer(self):
        with self.assertRaises(rpo.NullPointerError) as cm:
            context().loss(np.ones(2), np.ones(2))   # embedding, no embeddings
        self.assert_status(cm, rpo.NullPointerError, -1)

    def test_size(self):
        with self.assertRaises(rpo.SizeError) as cm:
            context(weighting="diagonal").loss(np.ones(2), np.ones(3))
        self.assert_status(cm, rpo.SizeError, -2)
        with self.assertRaises(rpo.SizeError) as cm:   # seen by the binding
            context(weighting="uniform").loss(np.ones(2), np.ones(3), np.ones(3))
        self.assert_status(cm, rpo.SizeError, -2)
        self.assertIn("ref_chosen", str(cm.exception))

    def test_param(self):
        with self.assertRaises(rpo.ParamError) as cm:
            context(tau=-1.0)
        self.assert_status(cm, rpo.ParamError, -3)

    def test_nonfinite_writes_nothing(self):
        gc, gr = np.full(2, 7.0), np.full(2, 7.0)
        ctx = context(weighting="uniform")
        before = ctx.metrics
        with self.assertRaises(rpo.NonFiniteError) as cm:
            ctx.loss(np.array([np.nan, 1.0]), np.ones(2), out=(gc, gr))
        self.assert_status(cm, rpo.NonFiniteError, -4)
        np.testing.assert_array_equal(gc, [7.0, 7.0])
        self.assertEqual(ctx.metrics, before)

    def test_nomem(self):
        """Sizes whose scratch cannot exist fail with RPO_ERR_NOMEM before
        any array is read, so small real buffers stand in for them."""
        ctx = context()
        small = np.ones(4)
        rows, width = 1 << 20, 1 << 40    # 2^63 bytes of embeddings
        with self.assertRaises(rpo.OutOfMemoryError) as cm:
            LIB.call("rpo_loss_f64", ctx._handle(), rows, small.ctypes.data, None,
                     rows, small.ctypes.data, None, width, small.ctypes.data,
                     None, None, None, None)
        self.assert_status(cm, rpo.OutOfMemoryError, -5)
        self.assertIsInstance(cm.exception, MemoryError)

    def test_range(self):
        ctx = context(weighting="uniform", beta=1e30)
        with self.assertRaises(rpo.RangeError) as cm:
            ctx.loss(np.array([-1e10], np.float32), np.array([0.0], np.float32))
        self.assert_status(cm, rpo.RangeError, -7)

    def test_unknown_status_is_base_error(self):
        err = LIB.error(-99)
        self.assertIs(type(err), rpo.RPOError)
        self.assertEqual(err.message, LIB.status_string(-99))


class Threads(unittest.TestCase):
    def test_shared_context_is_serialised(self):
        """Threads sharing one Context get their own, correct results."""
        ctx = context(weighting="uniform")
        rng = np.random.default_rng(8)
        batches = [(rng.normal(size=50), rng.normal(size=60)) for _ in range(8)]
        wants = [support.ref_loss(pc, pr, None, None,
                                  support.ref_weights("uniform", 50, 60), 0.1,
                                  "loss")[0] for pc, pr in batches]
        results = [None] * len(batches)

        def work(k):
            for _ in range(20):
                results[k] = ctx.loss(*batches[k]).loss

        threads = [threading.Thread(target=work, args=(k,)) for k in range(len(batches))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for got, want in zip(results, wants):
            support.assert_loss_close(self, got, want, 1e-12, "threaded")


if __name__ == "__main__":
    unittest.main()
