"""librpo against PyTorch eager on the same inputs, in the same run.

    /usr/bin/python3 bench/compare_torch.py --bench build/bench/rpo_bench
        [--full] [--threads T] [--min-time S]

For each configuration, rpo_bench (--one ... --dump DIR) times librpo and
writes its inputs; then a fresh Python process times PyTorch on exactly
those numbers: the SPEC formulas written with torch operations (row
normalisation, cosine similarity, softmax weights, logit placement, mean),
the loss and its gradients with respect to both policy log-probs by
autograd, on 1 thread (torch.set_num_threads(1), and OMP_NUM_THREADS,
MKL_NUM_THREADS, OPENBLAS_NUM_THREADS set to 1 before torch is imported,
since Debian's torch calls the system BLAS). librpo runs with
RPO_PARAM_THREADS = --threads (default 1).

Both sides are measured the same way: one untimed call, then at least 3
timed calls and until --min-time seconds have passed; the median is
reported. With --repeat K each side is measured K times, alternating, and
the smallest median of each is kept: on a machine shared with other work
(a busy neighbour on the same physical core halves a run's speed) that
filters the interference out of both sides alike. Peak extra memory is the process's peak resident size
(getrusage) minus its resident size just before the calls, with inputs
already loaded. The losses of the two are printed side by side as a check
that both computed the same thing.

By default the configurations are the issue's targets: float32, embedding
weighting, paired, loss and both gradients, at M = N = 8, 64, 512, 4096
with D = 384, 384, 384, 768. --full adds every M in {8, 64, 512, 4096}
with D in {384, 768, 4096}, paired and unpaired, float32 and float64.
Needs Debian's python3-torch and python3-numpy (/usr/bin/python3).
"""
import argparse
import os
import subprocess
import sys
import tempfile

BETA = 0.1      # the library's defaults, which rpo_bench uses
TAU = 0.5

TARGETS = [(8, 384, 30.0), (64, 384, 3.0), (512, 384, None), (4096, 768, 2.5)]


def torch_rpo_loss(pc, rc, pr, rr, e, f):
    """The SPEC formulas in PyTorch eager operations: what a user without
    librpo would write (embedding weighting, logit placement, mean). f is
    e for paired data. bench/bench_python.py times the same function."""
    import torch
    import torch.nn.functional as F
    a = pc - rc
    b = pr - rr
    en = e / e.norm(dim=1, keepdim=True).clamp_min(1e-12)
    fn = en if f is e else f / f.norm(dim=1, keepdim=True).clamp_min(1e-12)
    dist = 1 - en @ fn.T
    w = torch.softmax(-dist / TAU, dim=1)
    z = a[:, None] - b[None, :]
    return F.softplus(-BETA * w * z).mean()   # logit placement, mean


def torch_child(args):
    """Runs in a fresh process: times PyTorch, prints one line."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = "1"
    import resource
    import time

    import numpy as np
    import torch

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    dtype = np.float32 if args.type == "f32" else np.float64
    m, d = args.m, args.d

    def load(name, shape):
        return torch.from_numpy(np.fromfile(os.path.join(args.dir, name), dtype=dtype).reshape(shape))

    pc = load("pc", (m,)).requires_grad_(True)
    pr = load("pr", (m,)).requires_grad_(True)
    rc, rr = load("rc", (m,)), load("rr", (m,))
    e = load("e", (m, d))
    f = e if args.pairing == "paired" else load("f", (m, d))

    rpo_loss = torch_rpo_loss
    def step():
        pc.grad = None
        pr.grad = None
        loss = rpo_loss(pc, rc, pr, rr, e, f)
        loss.backward()
        return loss

    # load the code paths on a tiny problem, then take the baseline
    tiny = [torch.zeros(4, dtype=pc.dtype, requires_grad=True) for _ in range(2)]
    small_e = torch.ones(4, 4, dtype=pc.dtype)
    rpo_loss(tiny[0], tiny[0].detach(), tiny[1], tiny[1].detach(), small_e, small_e).backward()
    with open("/proc/self/statm") as fp:
        base = int(fp.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    loss = step()  # untimed, as for librpo
    times = []
    start = time.perf_counter()
    while len(times) < 3 or time.perf_counter() - start < args.min_time:
        t0 = time.perf_counter()
        loss = step()
        times.append(time.perf_counter() - t0)
        if len(times) >= 4000:
            break
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    times.sort()
    print("%.9g %.9g %.17g" % (times[len(times) // 2], (peak - base) / 2**20, loss.item()))


def run_librpo(bench, config, threads, min_time, dump_dir):
    pairing, typ, m, d = config
    out = subprocess.run(
        [bench, "--one", "loss", pairing, typ, "embedding", str(m), str(d),
         "--dump", dump_dir, "--tsv", "--threads", str(threads),
         "--min-time", str(min_time)],
        check=True, capture_output=True, text=True).stdout
    rows = [line.split("\t") for line in out.splitlines() if line and not line.startswith("#")]
    header, row = rows[0], rows[1]
    return dict(zip(header, row)), [line for line in out.splitlines() if line.startswith("#")]


def run_torch(config, min_time, dump_dir):
    pairing, typ, m, d = config
    out = subprocess.run(
        [sys.executable, __file__, "--torch-child", dump_dir, pairing, typ, str(m), str(d),
         "--min-time", str(min_time)],
        check=True, capture_output=True, text=True).stdout.split()
    return float(out[0]), float(out[1]), float(out[2])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", default="build/bench/rpo_bench")
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--min-time", type=float, default=0.5)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--torch-child", nargs=5, metavar=("DIR", "PAIRING", "TYPE", "M", "D"))
    args = parser.parse_args()
    if args.torch_child:
        a = args.torch_child
        torch_child(argparse.Namespace(dir=a[0], pairing=a[1], type=a[2], m=int(a[3]),
                                       d=int(a[4]), min_time=args.min_time))
        return 0

    if args.full:
        configs = [(p, t, m, d) for t in ("f32", "f64") for p in ("paired", "unpaired")
                   for m in (8, 64, 512, 4096) for d in (384, 768, 4096)]
    else:
        configs = [("paired", "f32", m, d) for m, d, _ in TARGETS]
    targets = {(m, d): x for m, d, x in TARGETS}

    import torch
    printed_header = False
    for config in configs:
        best_rpo, best_torch = None, None
        with tempfile.TemporaryDirectory() as dump_dir:
            for _ in range(max(1, args.repeat)):
                row, comments = run_librpo(args.bench, config, args.threads, args.min_time,
                                           dump_dir)
                if best_rpo is None or float(row["median_s"]) < float(best_rpo["median_s"]):
                    best_rpo = row
                measured = run_torch(config, args.min_time, dump_dir)
                if best_torch is None or measured[0] < best_torch[0]:
                    best_torch = measured
        row = best_rpo
        t_torch, mem_torch, loss_torch = best_torch
        if not printed_header:
            for line in comments:
                print(line)
            print("# PyTorch %s, 1 thread; librpo %d thread(s); loss and both gradients,"
                  " embedding weighting, tau %g, beta %g; best of %d" % (
                      torch.__version__, args.threads, TAU, BETA, max(1, args.repeat)))
            print("%-8s %-4s %5s %5s %11s %11s %9s %10s %10s %8s %16s %16s %6s" % (
                "pairing", "type", "M=N", "D", "librpo ms", "torch ms", "speed-up",
                "librpo MiB", "torch MiB", "mem x", "librpo loss", "torch loss", "target"))
            printed_header = True
        pairing, typ, m, d = config
        t_rpo, mem_rpo = float(row["median_s"]), float(row["peak_mib"])
        loss_rpo = float(row["value"])
        speedup = t_torch / t_rpo
        # below a page or two the resident-size difference is noise
        ratio = mem_rpo / mem_torch if mem_torch >= 0.05 else float("nan")
        goal = targets.get((m, d)) if (pairing, typ) == ("paired", "f32") else None
        verdict = "-" if goal is None else ("met" if speedup >= goal else "MISSED")
        print("%-8s %-4s %5d %5d %11.4g %11.4g %8.1fx %10.2f %10.2f %8.3f %16.9g %16.9g %6s" % (
            pairing, typ, m, d, t_rpo * 1e3, t_torch * 1e3, speedup, mem_rpo, mem_torch,
            ratio, loss_rpo, loss_torch, verdict))
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
