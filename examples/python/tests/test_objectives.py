"""librpo 1.3's objectives through the binding (docs/objectives.md):
rpo.torch.RPOLoss (its objective route) and KTOLoss against pure-torch transcriptions of
TRL's formulas (DPOTrainer with loss_type lists and f-divergences, CPO's
simpo, ORPO, KTOTrainer's kto_loss), whose gradients autograd supplies, in
float64 to 1e-12; and the trainer-style check that a list is the weighted
sum of its terms."""

import os
import unittest

import torch
import torch.nn.functional as F

import rpo
from rpo.torch import KTOLoss, RPOLoss

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


if __name__ == "__main__":
    unittest.main()
