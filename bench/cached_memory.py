"""Peak memory of rpo.torch.cached_backward against one backward pass.

    /usr/bin/python3 bench/cached_memory.py        (make bench-cached)

A policy whose activations dominate memory (an MLP of width 4096 over 64
positions per sequence) is trained one step on batches of 32 and 128
pairs: with one backward over the whole batch, and with cached
micro-batches of 8 pairs. Each configuration runs in its own process, and
the figure is that process's peak resident memory minus the peak of a
process that builds the same model and data and takes no step (glibc's
mmap threshold fixed, so that freed memory leaves). Expected:
the one-shot figure grows with the batch, the cached one stays at about
one micro-batch's.
"""

import os
import resource
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "examples", "python"))

WIDTH, POSITIONS, D_IN, D_EMB, MICRO = 4096, 64, 64, 16, 8


def step(pairs, mode):
    import torch
    from rpo.torch import RPOLoss, cached_backward

    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = torch.nn.Sequential(torch.nn.Linear(D_IN, WIDTH), torch.nn.GELU(),
                                torch.nn.Dropout(0.1), torch.nn.Linear(WIDTH, 1))
    encoder = torch.nn.Linear(D_IN, D_EMB)
    data = {k: torch.randn(pairs, POSITIONS, D_IN) for k in ("chosen", "rejected")}
    data["prompt"] = torch.randn(pairs, D_IN)

    def compute(batch):
        logp = lambda x: -torch.nn.functional.softplus(model(x)).sum(dim=(1, 2))
        return (logp(batch["chosen"]), logp(batch["rejected"]), None, None,
                encoder(batch["prompt"]))

    loss_fn = RPOLoss(weighting="embedding")
    if mode == "one backward":
        loss_fn(*compute(data)).backward()
    elif mode == "cached":
        parts = [{k: v[s:s + MICRO] for k, v in data.items()}
                 for s in range(0, pairs, MICRO)]
        cached_backward(loss_fn, compute, parts)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB


def measure(pairs, mode):
    # A fixed mmap threshold: glibc's adaptive one lets freed activations
    # stay resident in the heap on some runs and not on others.
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_=str(1 << 16))
    out = subprocess.run([sys.executable, __file__, str(pairs), mode],
                         check=True, capture_output=True, text=True, env=env)
    return int(out.stdout.split()[-1])


def main():
    if len(sys.argv) == 3:
        print(step(int(sys.argv[1]), sys.argv[2]))
        return
    print("peak resident memory above a process that takes no step (MiB);")
    print("MLP width %d, %d positions per sequence, micro-batches of %d pairs"
          % (WIDTH, POSITIONS, MICRO))
    print("%8s  %14s  %14s" % ("pairs", "one backward", "cached"))
    for pairs in (32, 128):
        base = measure(pairs, "none")
        row = [(measure(pairs, mode) - base) / 1024.0
               for mode in ("one backward", "cached")]
        print("%8d  %14.0f  %14.0f" % (pairs, row[0], row[1]))


if __name__ == "__main__":
    main()
