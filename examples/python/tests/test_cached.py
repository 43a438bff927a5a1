"""rpo.torch.cached_backward: the parameter gradients equal those of one
backward through the same forwards (the same dropout masks) on the
concatenated batch, to 1e-12 in float64, for 1, 2 and 5 micro-batches,
paired and unpaired data, every weighting, with and without a learned
prompt encoder; and the loss and metrics are those of one call."""

import socket
import unittest

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from rpo.distributed import GlobalRPOLoss
from rpo.torch import RPOLoss, cached_backward

D_IN, HIDDEN, D_EMB = 6, 16, 4


class Policy(torch.nn.Module):
    """Log-probs and prompt embeddings from features, through dropout."""

    def __init__(self):
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(D_IN, HIDDEN),
                                        torch.nn.Tanh(), torch.nn.Dropout(0.3))
        self.head = torch.nn.Linear(HIDDEN, 1)
        self.encoder = torch.nn.Sequential(torch.nn.Dropout(0.2),
                                           torch.nn.Linear(D_IN, D_EMB))

    def logps(self, x):
        return -torch.nn.functional.softplus(self.head(self.body(x))).squeeze(-1) - 1.0


def make_data(examples, seed):
    g = torch.Generator().manual_seed(seed)
    rand = lambda *shape: torch.randn(*shape, generator=g, dtype=torch.float64)
    return {"chosen": rand(examples, D_IN), "rejected": rand(examples, D_IN),
            "prompt": rand(examples, D_IN), "rejected_prompt": rand(examples, D_IN),
            "ref_chosen": rand(examples) - 2.0, "ref_rejected": rand(examples) - 2.0}


def slices(data, parts):
    n = data["chosen"].shape[0]
    cuts = [round(k * n / parts) for k in range(parts + 1)]
    return [{k: v[cuts[i]:cuts[i + 1]] for k, v in data.items()}
            for i in range(parts)]


def computer(model, paired, learned):
    """compute(batch) -> RPOLoss's forward arguments."""
    def compute(batch):
        if learned:
            emb = model.encoder(batch["prompt"])
            remb = None if paired else model.encoder(batch["rejected_prompt"])
        else:
            emb = batch["prompt"]
            remb = None if paired else batch["rejected_prompt"]
        return (model.logps(batch["chosen"]), model.logps(batch["rejected"]),
                batch["ref_chosen"], batch["ref_rejected"], emb, remb)
    return compute


def one_backward(model, loss_fn, compute, batches):
    """The reference: the same forwards with autograd, one loss, one
    backward."""
    outs = [compute(b) for b in batches]
    args = [None if outs[0][k] is None else torch.cat([o[k] for o in outs])
            for k in range(len(outs[0]))]
    loss = loss_fn(*args)
    loss.backward()
    return loss.detach(), dict(loss_fn.metrics)


def grads(model):
    return [p.grad.clone() if p.grad is not None else torch.zeros_like(p)
            for p in model.parameters()]


class CachedBackward(unittest.TestCase):
    def compare(self, weighting, paired, learned, parts, examples=10):
        data = make_data(examples, 1)
        batches = slices(data, parts)
        results = []
        for cached in (False, True):
            torch.manual_seed(0)
            model = Policy().double()
            model.train()
            torch.manual_seed(123)  # the dropout masks
            loss_fn = RPOLoss(weighting=weighting, beta=0.5)
            compute = computer(model, paired, learned)
            if cached:
                loss, metrics = cached_backward(loss_fn, compute, batches)
            else:
                loss, metrics = one_backward(model, loss_fn, compute, batches)
            results.append((loss, metrics, grads(model), torch.get_rng_state()))
        (loss, metrics, want, rng), (got_loss, got_metrics, got, got_rng) = results
        what = "%s paired=%s learned=%s parts=%d" % (weighting, paired, learned, parts)
        self.assertEqual(got_loss.item(), loss.item(), what)
        self.assertEqual(got_metrics, metrics, what)
        self.assertFalse(got_loss.requires_grad)
        # The random stream continues as after the plain forwards.
        self.assertTrue(torch.equal(got_rng, rng), what)
        scale = max(g.abs().max().item() for g in want)
        self.assertGreater(scale, 0.0, what)
        for g, w in zip(got, want):
            self.assertLessEqual((g - w).abs().max().item(), 1e-12 * scale, what)
        encoder_grad = sum(g.abs().sum().item() for g in want[-2:])
        self.assertEqual(encoder_grad > 0, learned and weighting in
                         ("embedding",), what)

    def test_every_weighting_and_split(self):
        for weighting in ("uniform", "diagonal", "embedding", "sinkhorn"):
            for paired in (True, False):
                for learned in (False, True):
                    if learned and weighting == "sinkhorn":
                        continue  # its plan is a constant: no embedding gradient
                    for parts in (1, 2, 5):
                        self.compare(weighting, paired, learned, parts)

    def test_keyword_arguments_and_grad_accumulation(self):
        data = make_data(8, 2)
        torch.manual_seed(0)
        model = Policy().double()
        loss_fn = RPOLoss(weighting="embedding")

        def compute(batch):
            return {"policy_chosen_logps": model.logps(batch["chosen"]),
                    "policy_rejected_logps": model.logps(batch["rejected"]),
                    "chosen_emb": model.encoder(batch["prompt"])}

        model.eval()  # no dropout: two calls give the same gradient
        cached_backward(loss_fn, compute, slices(data, 4))
        once = grads(model)
        cached_backward(loss_fn, compute, slices(data, 4))
        for g, w in zip(grads(model), once):  # .grad accumulates
            self.assertLessEqual((g - 2 * w).abs().max().item(), 1e-12)

    def test_refusals(self):
        loss_fn = RPOLoss()
        with self.assertRaises(ValueError):
            cached_backward(loss_fn, lambda b: b, [])
        with self.assertRaises(TypeError):
            cached_backward(loss_fn, lambda b: torch.zeros(2), [1])


def rank_worker(rank, world, port, results):
    """One gloo rank: its shard in 3 micro-batches through GlobalRPOLoss,
    cached and plain; puts (rank, largest gradient difference, scale)."""
    dist.init_process_group("gloo", init_method="tcp://127.0.0.1:%d" % port,
                            rank=rank, world_size=world)
    torch.set_num_threads(1)
    data = make_data(7 + 3 * rank, 10 + rank)  # shards of different sizes
    worst, scale = 0.0, 0.0
    for paired, learned in ((True, True), (False, False)):
        found = []
        for cached in (False, True):
            torch.manual_seed(0)
            model = Policy().double()
            torch.manual_seed(50 + rank)  # each rank's dropout masks
            loss_fn = GlobalRPOLoss(weighting="embedding", beta=0.5)
            compute = computer(model, paired, learned)
            batches = slices(data, 3)
            if cached:
                cached_backward(loss_fn, compute, batches)
            else:
                one_backward(model, loss_fn, compute, batches)
            found.append(grads(model))
        for g, w in zip(found[1], found[0]):
            worst = max(worst, (g - w).abs().max().item())
            scale = max(scale, w.abs().max().item())
    results.put((rank, worst, scale))
    dist.destroy_process_group()


class CachedAcrossRanks(unittest.TestCase):
    def test_two_gloo_ranks(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        results = mp.get_context("fork").SimpleQueue()
        mp.start_processes(rank_worker, args=(2, port, results), nprocs=2,
                           join=True, start_method="fork")
        for _ in range(2):
            rank, worst, scale = results.get()
            self.assertGreater(scale, 0.0)
            self.assertLessEqual(worst, 1e-12 * scale, "rank %d" % rank)


if __name__ == "__main__":
    unittest.main()
