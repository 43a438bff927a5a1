"""What a PyTorch user pays: rpo.torch.RPOLoss, the bare C call under it
and the same formulas in PyTorch eager, side by side in one run.

    /usr/bin/python3 bench/bench_python.py [--full] [--min-time S]
        [--block S] [--threads T] [--sizes 8,64,...] [--python-path]

Each configuration times three things on the same float inputs, on 1
thread (torch.set_num_threads(1); OMP_NUM_THREADS, MKL_NUM_THREADS and
OPENBLAS_NUM_THREADS set to 1 before torch is imported):

  RPOLoss   loss_fn(pc, pr, rc, rr, e).backward(), policy log-probs that
            require grad (embedding weighting, paired unless --full says
            otherwise), RPOLoss(threads=T);
  C call    rpo_loss_f32/_f64 through ctypes on the same tensors'
            addresses, outputs preallocated: the floor any binding has;
  eager     bench/compare_torch.py's torch_rpo_loss(...).backward(), the
            formulas a user without librpo writes;
  and with --python-path, RPOLoss again on its slower paths, printed
  under each row: rpo._native (C) inside a Python autograd.Function (what
  runs without rpo._autograd, the C++ autograd node), and the per-step
  path in Python (without either).

Calls are timed one by one. The three take turns in short blocks (about
--block seconds of calls each, so each runs with its own data in cache, as
in a training step) for at least --min-time seconds and 5 turns, so a busy
neighbour slows all three alike; each column is the median of its calls. The
layer's overhead is RPOLoss minus the C call; the speed-up is eager over
RPOLoss. By default M = N = 8, 64, 512 (D = 384) and 4096 (D = 768), float32,
paired; --full adds D in {384, 768, 4096}, unpaired and float64 (the shapes
of compare_torch.py --full). The library is the one `import rpo` finds
(RPO_LIBRARY, the bundled one, the build folder).
"""
import argparse
import os
import sys
import time

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare_torch import torch_rpo_loss  # noqa: E402

import rpo  # noqa: E402
import rpo.torch  # noqa: E402
from rpo.torch import RPOLoss  # noqa: E402


def inputs(m, d, dtype, paired, seed=0):
    """Log-probs of a plausible scale and random prompt embeddings."""
    g = torch.Generator().manual_seed(seed)
    logp = lambda: -(20 + 60 * torch.rand(m, generator=g, dtype=torch.float64)).to(dtype)
    pc, pr = logp().requires_grad_(True), logp().requires_grad_(True)
    rc, rr = logp(), logp()
    e = torch.randn(m, d, generator=g, dtype=torch.float64).to(dtype)
    f = e if paired else torch.randn(m, d, generator=g, dtype=torch.float64).to(dtype)
    return pc, pr, rc, rr, e, f


def contenders(m, d, dtype, paired, threads, python_path):
    """name -> a function doing one call, on the same inputs."""
    pc, pr, rc, rr, e, f = inputs(m, d, dtype, paired)
    loss_fn = RPOLoss(threads=threads)
    emb = (e,) if paired else (e, f)

    def layer():
        pc.grad = None
        pr.grad = None
        loss_fn(pc, pr, rc, rr, *emb).backward()

    # the same module on the slower paths, in the same run: rpo._native
    # in a Python autograd.Function (a build without torch's C++ headers),
    # and all in Python (RPO_NATIVE=0, or a build without Python's headers)
    def layer_with(step):
        module = RPOLoss(threads=threads)
        entry = module._resolve_entry()
        module.__dict__["_entry"] = entry[:7] + (step or entry[7],) + entry[8:10] + (None,)

        def layer_path():
            pc.grad = None
            pr.grad = None
            module(pc, pr, rc, rr, *emb).backward()
        return layer_path

    ctx = rpo.Context(threads=threads)
    name = "rpo_loss_f32" if dtype is torch.float32 else "rpo_loss_f64"
    fn = ctx.library.function(name)
    out = [torch.empty((), dtype=dtype), torch.empty(m, dtype=dtype),
           torch.empty(m, dtype=dtype)]
    args = (ctx._ptr, m, pc.data_ptr(), rc.data_ptr(), m, pr.data_ptr(),
            rr.data_ptr(), d, e.data_ptr(), None if paired else f.data_ptr(),
            *(t.data_ptr() for t in out))

    def c_call():
        if fn(*args):
            raise RuntimeError("rpo_loss failed")

    def eager():
        pc.grad = None
        pr.grad = None
        torch_rpo_loss(pc, rc, pr, rr, e, f).backward()

    # the same loss from all three, as a check that they agree
    c_call()
    with torch.no_grad():
        losses = (loss_fn(pc, pr, rc, rr, *emb).item(), out[0].item(),
                  torch_rpo_loss(pc, rc, pr, rr, e, f).item())
    keep = (ctx, loss_fn, out)   # what the C call's addresses point into
    calls = {"RPOLoss": layer, "C call": c_call, "eager": eager}
    if python_path:
        if rpo.default_library().native() is not None:
            calls["rpo._native path"] = layer_with(None)
        calls["Python path"] = layer_with(rpo.torch._python_loss)
    return calls, losses, keep


def taking_turns(calls, min_time, block, at_least=5):
    """name -> the durations of its calls, the contenders taking turns in
    blocks of about `block` seconds."""
    per_block = {}
    for name, fn in calls.items():
        fn()   # untimed: first-call costs (sizing the block by this call
        # made the first configuration's blocks a call or two long, each
        # call then running cold after the others: 5x the steady time)
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        per_block[name] = max(1, int(block / median(times)))
    samples = {name: [] for name in calls}
    start, turns = time.perf_counter(), 0
    while turns < at_least or time.perf_counter() - start < min_time:
        for name, fn in calls.items():
            for _ in range(per_block[name]):
                t0 = time.perf_counter()
                fn()
                samples[name].append(time.perf_counter() - t0)
        turns += 1
    return samples


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--min-time", type=float, default=2.0)
    parser.add_argument("--block", type=float, default=0.02)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--python-path", action="store_true",
                        help="also time RPOLoss on its slower paths: "
                        "rpo._native in a Python autograd.Function (as without "
                        "rpo._autograd), and all in Python (as without either)")
    parser.add_argument("--sizes", type=lambda v: {int(x) for x in v.split(",")},
                        help="only these M = N, e.g. 8,64 (eager at 4096 takes"
                        " tens of seconds a call)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)

    if args.full:
        configs = [(m, d, t, p) for t in (torch.float32, torch.float64)
                   for p in (True, False) for m in (8, 64, 512, 4096)
                   for d in (384, 768, 4096)]
    else:
        configs = [(8, 384, torch.float32, True), (64, 384, torch.float32, True),
                   (512, 384, torch.float32, True), (4096, 768, torch.float32, True)]

    lib = rpo.default_library()
    if args.sizes:
        configs = [c for c in configs if c[0] in args.sizes]

    print("# librpo %s (%s), PyTorch %s, 1 torch thread, librpo threads %d;"
          " RPOLoss's per-step path: %s" % (
              rpo.version(), lib.source, torch.__version__, args.threads,
              "rpo._autograd (a C++ autograd node)" if lib.autograd()
              else "rpo._native (C) in a Python autograd.Function" if lib.native()
              else "Python (RPO_NATIVE=0 or not built)"))
    print("# loss and dL/d policy log-probs, embedding weighting; medians, the"
          " three taking turns in %g s blocks for %g s" % (args.block, args.min_time))
    print("%-8s %-7s %5s %5s %12s %12s %12s %10s %10s %14s" % (
        "pairing", "type", "M=N", "D", "RPOLoss us", "C call us", "eager us",
        "overhead", "speed-up", "loss (check)"))
    for m, d, dtype, paired in configs:
        calls, losses, keep = contenders(m, d, dtype, paired, args.threads,
                                         args.python_path)
        samples = taking_turns(calls, args.min_time, args.block)
        t = {name: median(xs) * 1e6 for name, xs in samples.items()}
        print("%-8s %-7s %5d %5d %12.1f %12.1f %12.1f %10.1f %9.2fx %14.7g" % (
            "paired" if paired else "unpaired", str(dtype).replace("torch.", ""),
            m, d, t["RPOLoss"], t["C call"], t["eager"],
            t["RPOLoss"] - t["C call"], t["eager"] / t["RPOLoss"], losses[0]))
        for path, what in (("rpo._native path", "rpo._native in a Python autograd.Function"),
                           ("Python path", "per-step path in Python")):
            if path in t:
                print("#   %s: RPOLoss %.1f us, overhead %.1f us, speed-up %.2fx"
                      % (what, t[path], t[path] - t["C call"], t["eager"] / t[path]))
        if max(losses) - min(losses) > 1e-4 * max(1.0, abs(losses[2])):
            print("#   the three losses differ: %r" % (losses,))
        sys.stdout.flush()
        del keep
    return 0


if __name__ == "__main__":
    sys.exit(main())
