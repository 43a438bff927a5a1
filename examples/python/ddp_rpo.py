"""One RPO contrast matrix across torch.distributed ranks, checked against
a single process.

    /usr/bin/python3 examples/python/ddp_rpo.py --world-size 3

Starts N processes (gloo on localhost). Each holds its own shard of a
preference batch (shards of different sizes) and computes the loss of the
whole batch's contrast matrix with rpo.distributed.GlobalRPOLoss: the
rejected log-probs and prompt embeddings are all-gathered, librpo computes
this rank's chosen rows against every rejected column, and one all-reduce
of a single vector completes the loss, the metrics and the gradients.

Every scenario is also computed by one process on the whole batch with
rpo.torch.RPOLoss, and each rank compares the loss, the metrics and the
gradients autograd gives its own tensors (log-probs, references and
embeddings) with the matching slices of the single-process ones. The last
line printed is the largest absolute difference over all ranks and
scenarios; the exit status is 1 when it exceeds 1e-12.

The library is found as rpo.load_library finds it (RPO_LIBRARY, or the
build folder of this source tree).
"""

import argparse
import os
import socket
import sys

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from rpo.distributed import GlobalRPOLoss  # noqa: E402
from rpo.torch import RPOLoss, per_token  # noqa: E402

TOLERANCE = 1e-12
D = 6  # prompt embedding width

SCENARIOS = (
    dict(name="embedding, unpaired, sigmoid, row-mean scale",
         settings=dict(weighting="embedding", logit_scale="row_mean"),
         paired=False),
    dict(name="embedding, paired, exo_pair",
         settings=dict(weighting="embedding", loss_type="exo_pair",
                       label_smoothing=1e-3),
         paired=True),
    dict(name="diagonal, paired, hinge",
         settings=dict(weighting="diagonal", loss_type="hinge"),
         paired=True),
    dict(name="uniform, unpaired, ipo on per-token averages",
         settings=dict(weighting="uniform", loss_type="ipo"),
         paired=False, lengths=True),
    dict(name="sinkhorn, unpaired, robust",
         settings=dict(weighting="sinkhorn", loss_type="robust",
                       label_smoothing=0.1),
         paired=False, constant_embeddings=True),
)


def shard_sizes(world, base, spread):
    """Rows per rank, uneven on purpose."""
    return [base + (r * 7 + spread) % 3 for r in range(world)]


def make_batch(seed, m, n, paired):
    """The whole batch (float64), the same on every rank."""
    g = torch.Generator().manual_seed(seed)
    rnd = lambda *shape: torch.rand(*shape, generator=g, dtype=torch.float64)
    rc = -10.0 - 30.0 * rnd(m)
    rr = -10.0 - 30.0 * rnd(n)
    batch = dict(pc=rc + 6.0 * rnd(m) - 3.0, rc=rc, pr=rr + 6.0 * rnd(n) - 3.0,
                 rr=rr, ce=2.0 * rnd(m, D) - 1.0,
                 chosen_lengths=torch.randint(1, 40, (m,), generator=g),
                 rejected_lengths=torch.randint(1, 40, (n,), generator=g))
    batch["re"] = None if paired else 2.0 * rnd(n, D) - 1.0
    return batch


def leaf(t, requires_grad=True):
    return None if t is None else t.detach().clone().requires_grad_(requires_grad)


def run(scenario, seed, rank, world):
    """This rank's largest difference from the single process, and the
    loss and sizes for the report."""
    paired = scenario["paired"]
    ms = shard_sizes(world, 3, 0)
    ns = ms if paired else shard_sizes(world, 2, 1)
    i0, j0 = sum(ms[:rank]), sum(ns[:rank])
    rows, cols = slice(i0, i0 + ms[rank]), slice(j0, j0 + ns[rank])
    batch = make_batch(seed, sum(ms), sum(ns), paired)
    emb_grad = not scenario.get("constant_embeddings", False)
    lengths = scenario.get("lengths", False)

    # One process, the whole batch.
    whole = {k: leaf(batch[k]) for k in ("pc", "pr", "rc", "rr")}
    whole["ce"], whole["re"] = leaf(batch["ce"], emb_grad), leaf(batch["re"], emb_grad)
    single = RPOLoss(**scenario["settings"])
    # GlobalRPOLoss's lengths divide every log-prob (librpo 1.2's meaning;
    # RPOLoss's are 1.3's): the same call on one process is per_token's
    lc = batch["chosen_lengths"] if lengths else None
    lr = batch["rejected_lengths"] if lengths else None
    loss_single = single(per_token(whole["pc"], lc), per_token(whole["pr"], lr),
                         per_token(whole["rc"], lc), per_token(whole["rr"], lr),
                         whole["ce"], whole["re"])
    loss_single.backward()

    # This rank's shard only.
    mine = {"pc": leaf(batch["pc"][rows]), "rc": leaf(batch["rc"][rows]),
            "pr": leaf(batch["pr"][cols]), "rr": leaf(batch["rr"][cols]),
            "ce": leaf(batch["ce"][rows], emb_grad),
            "re": None if paired else leaf(batch["re"][cols], emb_grad)}
    global_loss = GlobalRPOLoss(**scenario["settings"])
    loss = global_loss(mine["pc"], mine["pr"], mine["rc"], mine["rr"],
                       mine["ce"], mine["re"],
                       chosen_lengths=batch["chosen_lengths"][rows] if lengths else None,
                       rejected_lengths=batch["rejected_lengths"][cols] if lengths else None)
    loss.backward()

    diffs = [abs(loss.item() - loss_single.item())]
    diffs += [abs(global_loss.metrics[k] - single.metrics[k]) for k in single.metrics]
    where = {"pc": rows, "rc": rows, "ce": rows, "pr": cols, "rr": cols, "re": cols}
    for name, t in mine.items():
        if t is not None and t.requires_grad:
            want = whole[name].grad[where[name]]
            diffs.append((t.grad - want).abs().max().item())
    return max(diffs), loss.item(), sum(ms), sum(ns)


def worker(rank, world, port, results):
    dist.init_process_group("gloo", init_method="tcp://127.0.0.1:%d" % port,
                            rank=rank, world_size=world)
    torch.set_num_threads(1)
    worst = 0.0
    for k, scenario in enumerate(SCENARIOS):
        diff, loss, m, n = run(scenario, 100 + k, rank, world)
        t = torch.tensor([diff], dtype=torch.float64)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        worst = max(worst, t.item())
        if rank == 0:
            print("%-46s M %2d N %2d  loss %.12f" % (scenario["name"], m, n, loss),
                  flush=True)
    if rank == 0:
        results.put(worst)
    dist.destroy_process_group()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--world-size", type=int, default=2,
                        help="number of processes (default 2)")
    args = parser.parse_args()
    if args.world_size < 1:
        parser.error("--world-size must be at least 1")
    # fork: the workers inherit the imported torch instead of importing it
    # again (seconds each); nothing has started a thread before this point
    results = mp.get_context("fork").SimpleQueue()
    mp.start_processes(worker, args=(args.world_size, free_port(), results),
                       nprocs=args.world_size, join=True, start_method="fork")
    worst = results.get()
    print("%d ranks: largest absolute difference from a single process: %.3g"
          % (args.world_size, worst))
    return 0 if worst <= TOLERANCE else 1


if __name__ == "__main__":
    sys.exit(main())
