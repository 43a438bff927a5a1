"""librpo 1.3's objectives through the binding (docs/objectives.md):
rpo.torch.RPOLoss (its objective route) and KTOLoss against pure-torch transcriptions of
TRL's formulas (DPOTrainer with loss_type lists and f-divergences, CPO's
simpo, ORPO, KTOTrainer's kto_loss), whose gradients autograd supplies, in
float64 to 1e-12; and the trainer-style check that a list is the weighted
sum of its terms."""

import os
import unittest

import numpy as np
import torch
import torch.nn.functional as F

import rpo
import rpo.objectives as ro
from rpo.torch import KTOLoss, RPOLoss, per_token

LIB = rpo.load_library(os.environ["RPO_LIBRARY"]) if os.environ.get("RPO_LIBRARY") else None
TOL = 1e-12
BETA = 0.3


def batch(m=6, n=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    def logps(k):
        return (-6 * torch.rand(k, generator=g, dtype=torch.float64) - 0.5).requires_grad_()
    data = {"pc": logps(m), "pr": logps(n), "rc": logps(m), "rr": logps(n)}
    data["lc"] = torch.randint(1, 30, (m,), generator=g).double()
    data["lr"] = torch.randint(1, 30, (n,), generator=g).double()
    data["wc"] = 0.5 + torch.rand(m, generator=g, dtype=torch.float64)
    data["wr"] = 0.5 + torch.rand(n, generator=g, dtype=torch.float64)
    return data


def grads(loss, tensors):
    return torch.autograd.grad(loss, tensors)


class TestTRLFormulas(unittest.TestCase):
    """DIAGONAL weighting, alpha = 1, LOSS placement: TRL's paired losses."""

    def dpo_module(self, **kw):
        return RPOLoss(beta=BETA, alpha=1.0, weighting="diagonal", library=LIB, **kw)

    def check(self, got, want, tensors):
        self.assertLess(abs(got.item() - want.item()), TOL * max(1.0, abs(want.item())))
        for a, b in zip(grads(got, tensors), grads(want, tensors)):
            self.assertLess((a - b).abs().max().item(), TOL)

    def test_sigmoid_with_divergences(self):
        d = batch()
        pc, pr, rc, rr = d["pc"], d["pr"], d["rc"], d["rr"]
        a, b = pc - rc, pr - rr
        cases = {
            "reverse_kl": (pc - pr) - (rc - rr),
            # logits -= F.softplus(chosen_logratios) - F.softplus(rejected_logratios)
            "js_divergence": (pc - pr) - (rc - rr) - (F.softplus(a) - F.softplus(b)),
            # (cap_exp(rejected * -alpha) - cap_exp(chosen * -alpha)) / alpha
            "alpha_divergence": (torch.exp(b * -0.5) - torch.exp(a * -0.5)) / 0.5,
        }
        for fdiv, logits in cases.items():
            with self.subTest(fdiv):
                loss_fn = self.dpo_module(f_divergence_type=fdiv, f_alpha_divergence_coef=0.5)
                want = (-F.logsigmoid(BETA * logits)).mean()
                self.check(loss_fn(pc, pr, rc, rr), want, (pc, pr))

    def test_simpo_and_orpo(self):
        d = batch()
        pc, pr, lc, lr = d["pc"], d["pr"], d["lc"], d["lr"]
        x, y = pc / lc, pr / lr
        # CPOTrainer simpo: logits = (x - y) - gamma / beta
        gamma = 0.5
        want = (-F.logsigmoid(BETA * ((x - y) - gamma / BETA))).mean()
        got = self.dpo_module(loss_type="simpo", simpo_gamma=gamma)(
            pc, pr, chosen_lengths=lc, rejected_lengths=lr)
        self.check(got, want, (pc, pr))
        # ORPOTrainer: nll - beta * logsigmoid(log_odds).mean()
        x, y = pc / lc, pr / lr
        log_odds = (x - y) - (torch.log1p(-torch.exp(x)) - torch.log1p(-torch.exp(y)))
        want = -pc.sum() / lc.sum() - (BETA * F.logsigmoid(log_odds)).mean()
        got = self.dpo_module(loss_type=["orpo", "sft"])(
            pc, pr, chosen_lengths=lc, rejected_lengths=lr)
        self.check(got, want, (pc, pr))

    def test_list_is_the_sum_of_its_terms(self):
        """RPOLoss(loss_type=["sigmoid", "sft"], loss_weights=[1, 0.5]) is
        the sigmoid call plus half the sft call, as a trainer sums them."""
        d = batch()
        args = (d["pc"], d["pr"], d["rc"].detach(), d["rr"].detach())
        kw = {"chosen_lengths": d["lc"], "rejected_lengths": d["lr"],
              "chosen_weights": d["wc"], "rejected_weights": d["wr"]}
        both = RPOLoss(beta=BETA, library=LIB, weighting="uniform",
                       loss_type=["sigmoid", "sft"], loss_weights=[1, 0.5])(*args, **kw)
        sig = RPOLoss(beta=BETA, library=LIB, weighting="uniform")(*args, **kw)
        sft = RPOLoss(beta=BETA, library=LIB, weighting="uniform", loss_type="sft")(*args, **kw)
        self.check(both, sig + 0.5 * sft, (d["pc"], d["pr"]))

    def test_reduction_none(self):
        d = batch()
        mean = RPOLoss(beta=BETA, library=LIB, weighting="uniform")
        none = RPOLoss(beta=BETA, library=LIB, weighting="uniform", reduction="none")
        rows = none(d["pc"], d["pr"], d["rc"], d["rr"])
        self.assertEqual(rows.shape, (6,))
        self.check(rows.mean(), mean(d["pc"], d["pr"], d["rc"], d["rr"]),
                   (d["pc"], d["pr"], d["rc"]))


class TestKTO(unittest.TestCase):
    def test_kto_and_apo_zero_unpaired(self):
        d = batch(5, 3)
        g = torch.Generator().manual_seed(7)
        pk = -6 * torch.rand(4, generator=g, dtype=torch.float64) - 0.5
        rk = -6 * torch.rand(4, generator=g, dtype=torch.float64) - 0.5
        pk[0] += 4.0
        pc, pr, rc, rr = d["pc"], d["pr"], d["rc"], d["rr"]
        for loss_type in ("kto", "apo_zero_unpaired"):
            with self.subTest(loss_type):
                # KTOTrainer.kto_loss: kl detached, clamped at 0
                kl = (pk - rk).mean().clamp(min=0)
                a, b = pc - rc, pr - rr
                if loss_type == "kto":
                    chosen = 1 - torch.sigmoid(BETA * (a - kl))
                    rejected = 1 - torch.sigmoid(BETA * (kl - b))
                else:
                    chosen = 1 - torch.sigmoid(BETA * a)
                    rejected = torch.sigmoid(BETA * b)
                want = torch.cat((1.5 * chosen, 0.7 * rejected)).mean()
                loss_fn = KTOLoss(beta=BETA, desirable_weight=1.5, undesirable_weight=0.7,
                                  loss_type=loss_type, library=LIB)
                got = loss_fn(pc, pr, pk, rc, rr, rk)
                self.assertLess(abs(got.item() - want.item()), TOL)
                for x, y in zip(grads(got, (pc, pr, rc)), grads(want, (pc, pr, rc))):
                    self.assertLess((x - y).abs().max().item(), TOL)
                self.assertAlmostEqual(loss_fn.metrics["kl"],
                                       kl.item() if loss_type == "kto" else 0.0, places=12)
                self.assertLess((loss_fn.chosen_rewards - BETA * a.detach()).abs().max(), TOL)


class TestErrors(unittest.TestCase):
    def test_detail_reaches_python(self):
        d = batch()
        loss_fn = RPOLoss(beta=BETA, library=LIB, loss_type="sft")
        with self.assertRaises(rpo.NullPointerError) as caught:
            loss_fn(d["pc"], d["pr"])   # sft needs chosen_lengths
        self.assertIn("chosen_lengths", str(caught.exception))


class TestReductionNone(unittest.TestCase):
    """reduction="none" back-propagates any incoming gradient (librpo's
    losses_grad): the gradients are those of sum_i g_i losses_i."""

    def test_gradcheck_float64(self):
        # gradcheck's backward passes one-hot incoming gradients, row by row
        d = batch(5, 4)
        e = torch.randn(5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
        f = torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
        for kw in ({"loss_type": "sigmoid"}, {"loss_type": ["ipo", "sft"], "loss_weights": [1, 0.3]}):
            with self.subTest(**kw):
                loss_fn = RPOLoss(beta=BETA, library=LIB, reduction="none", **kw)
                fn = lambda pc, pr: loss_fn(pc, pr, d["rc"].detach(), d["rr"].detach(), e, f,
                                            chosen_lengths=d["lc"], rejected_lengths=d["lr"])
                self.assertTrue(torch.autograd.gradcheck(
                    fn, (d["pc"], d["pr"]), eps=1e-6, atol=1e-7, rtol=1e-6))

    def test_random_incoming_gradient_is_trl_per_example(self):
        """DIAGONAL, alpha 1: the rows are TRL's per-example DPO losses, and
        rows.backward(g) gives the gradients of sum_i g_i losses_i."""
        d = batch()
        g = torch.rand(6, dtype=torch.float64, generator=torch.Generator().manual_seed(9)) - 0.3
        rows = RPOLoss(beta=BETA, alpha=1.0, weighting="diagonal", library=LIB,
                       reduction="none")(d["pc"], d["pr"], d["rc"], d["rr"])
        logits = (d["pc"] - d["pr"]) - (d["rc"] - d["rr"])
        want = -F.logsigmoid(BETA * logits)
        self.assertLess((rows - want).abs().max().item(), TOL)
        ours = grads((rows * g).sum(), (d["pc"], d["pr"], d["rc"], d["rr"]))
        theirs = grads((want * g).sum(), (d["pc"], d["pr"], d["rc"], d["rr"]))
        for a, b in zip(ours, theirs):
            self.assertLess((a - b).abs().max().item(), TOL)

    def test_list_rows_are_the_sum_of_the_terms_rows(self):
        d = batch()
        args = (d["pc"], d["pr"], d["rc"].detach(), d["rr"].detach())
        kw = {"chosen_lengths": d["lc"], "rejected_lengths": d["lr"]}
        g = torch.rand(6, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
        both = RPOLoss(beta=BETA, library=LIB, weighting="uniform", reduction="none",
                       loss_type=["sigmoid", "sft"], loss_weights=[1, 0.5])(*args, **kw)
        sig = RPOLoss(beta=BETA, library=LIB, weighting="uniform", reduction="none")(*args, **kw)
        sft = RPOLoss(beta=BETA, library=LIB, weighting="uniform", reduction="none",
                      loss_type="sft")(*args, **kw)
        self.assertLess((both - (sig + 0.5 * sft)).abs().max().item(), TOL)
        for a, b in zip(grads((both * g).sum(), (d["pc"], d["pr"])),
                        grads(((sig + 0.5 * sft) * g).sum(), (d["pc"], d["pr"]))):
            self.assertLess((a - b).abs().max().item(), TOL)


class TestRouting(unittest.TestCase):
    """One module: the plain call is rpo_loss_*, the objectives' names
    route to rpo_objective_*."""

    def test_lengths_meaning_of_1_3_and_the_1_2_recipe(self):
        d = batch()
        pc, pr, rc, rr, lc, lr = d["pc"], d["pr"], d["rc"], d["rr"], d["lc"], d["lr"]
        # 1.3: sigmoid reads sums, so lengths leave it as it is
        plain = RPOLoss(beta=BETA, library=LIB, weighting="uniform")
        self.assertLess(abs(plain(pc, pr, rc, rr, chosen_lengths=lc, rejected_lengths=lr).item()
                            - plain(pc, pr, rc, rr).item()), TOL)
        # 1.2 divided every log-prob: per_token does, for any loss type
        # (hinge on DPO pairs, TRL's formula on the per-token log-ratios)
        hinge = RPOLoss(beta=BETA, alpha=1.0, weighting="diagonal", loss_type="hinge",
                        library=LIB)
        got = hinge(per_token(pc, lc), per_token(pr, lr), per_token(rc, lc), per_token(rr, lr))
        logits = (pc / lc - pr / lr) - (rc / lc - rr / lr)
        want = torch.relu(1 - BETA * logits).mean()
        self.assertLess(abs(got.item() - want.item()), TOL)
        for a, b in zip(grads(got, (pc, pr)), grads(want, (pc, pr))):
            self.assertLess((a - b).abs().max().item(), TOL)
        # and 1.2's sigmoid with lengths is 1.3's sigmoid_norm
        norm = RPOLoss(beta=BETA, library=LIB, weighting="uniform", loss_type="sigmoid_norm")
        old = plain(per_token(pc, lc), per_token(pr, lr), per_token(rc, lc), per_token(rr, lr))
        self.assertLess(abs(norm(pc, pr, rc, rr, chosen_lengths=lc, rejected_lengths=lr).item()
                            - old.item()), TOL)

    def test_objective_settings_route_while_they_change_the_result(self):
        d = batch()
        args = (d["pc"].detach(), d["pr"].detach(), d["rc"], d["rr"])
        loss_fn = RPOLoss(beta=BETA, library=LIB, weighting="uniform")
        plain = loss_fn(*args).item()
        self.assertNotIn("logps/chosen", loss_fn.metrics)     # rpo_loss_*
        loss_fn.context.simpo_gamma = 0.5
        a, b = args[0] - args[2], args[1] - args[3]
        want = F.softplus(-(BETA * (a[:, None] - b[None, :]) - 0.5)).mean()
        self.assertLess(abs(loss_fn(*args).item() - want.item()), TOL)
        self.assertIn("logps/chosen", loss_fn.metrics)        # rpo_objective_*
        loss_fn.context.simpo_gamma = 0.0
        self.assertEqual(loss_fn(*args).item(), plain)        # the same bits
        self.assertNotIn("logps/chosen", loss_fn.metrics)

    def test_embedding_gradient_alone(self):
        """A prompt encoder trained with frozen log-probs: only the
        embeddings ask for a gradient (librpo is asked for no log-prob
        gradient), checked by finite differences."""
        d = batch(4, 4)
        e = torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(6),
                        requires_grad=True)
        loss_fn = RPOLoss(beta=BETA, library=LIB, loss_type=["sigmoid", "sft"],
                          loss_weights=[1, 0.5])
        args = [d[k].detach() for k in ("pc", "pr", "rc", "rr")]
        self.assertTrue(torch.autograd.gradcheck(
            lambda emb: loss_fn(*args, emb, chosen_lengths=d["lc"], rejected_lengths=d["lr"]),
            (e,), eps=1e-6, atol=1e-8, rtol=1e-6))

    def test_kto_is_refused_by_rpoloss(self):
        with self.assertRaises(ValueError):
            RPOLoss(library=LIB, loss_type="kto")


class TestRowBlocks(unittest.TestCase):
    """rpo.objectives.objective_rows: row blocks add up to the whole call."""

    def test_blocks_add_up(self):
        g = np.random.default_rng(5)
        m, n, d = 7, 5, 4
        pc, rc = -6 * g.random(m) - 0.5, -6 * g.random(m) - 0.5
        pr, rr = -6 * g.random(n) - 0.5, -6 * g.random(n) - 0.5
        ce, re = g.standard_normal((m, d)), g.standard_normal((n, d))
        lc, lr = g.integers(1, 30, m).astype(float), g.integers(1, 30, n).astype(float)
        wc, wr = 0.5 + g.random(m), 0.5 + g.random(n)
        ctx = rpo.Context(LIB, beta=BETA, weighting="embedding")
        kw = dict(loss_type=["sigmoid", "sft"], loss_weights=[1.0, 0.25],
                  chosen_lengths=lc, rejected_lengths=lr, chosen_weights=wc,
                  rejected_weights=wr)
        whole = ro.objective(ctx, pc, pr, rc, rr, ce, re, grad_emb=True, **kw)
        stats = np.zeros(rpo.PARTIAL_COUNT)
        grad_rejected, grad_rejected_emb = np.zeros(n), np.zeros((n, d))
        grad_chosen, grad_chosen_emb, losses = [], [], []
        for lo, hi in ((0, 3), (3, 4), (4, 7)):
            rows = slice(lo, hi)
            block = ro.objective_rows(
                ctx, m, lo, pc[rows], pr, rc[rows], rr, ce[rows], re, grad_emb=True,
                sft_tokens=[lc.sum()], **dict(kw, chosen_lengths=lc[rows],
                                              chosen_weights=wc[rows]))
            stats += block.partial_stats
            grad_rejected += block.grad_rejected
            grad_rejected_emb += block.grad_rejected_emb
            grad_chosen.append(block.grad_chosen)
            grad_chosen_emb.append(block.grad_chosen_emb)
            losses.append(block.losses)
        np.testing.assert_allclose(stats[0], whole.loss, rtol=1e-12)
        np.testing.assert_allclose(stats[1:3], [whole.metrics["rewards/chosen"],
                                                whole.metrics["rewards/rejected"]], rtol=1e-12)
        np.testing.assert_allclose(grad_rejected, whole.grad_rejected, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(grad_rejected_emb, whole.grad_rejected_emb, rtol=1e-10, atol=1e-15)
        np.testing.assert_allclose(np.concatenate(grad_chosen), whole.grad_chosen, rtol=1e-12)
        np.testing.assert_allclose(np.concatenate(grad_chosen_emb), whole.grad_chosen_emb,
                                   rtol=1e-10, atol=1e-15)
        np.testing.assert_allclose(np.concatenate(losses), whole.losses, rtol=1e-12)


if __name__ == "__main__":
    unittest.main()
