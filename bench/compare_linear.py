"""The fused linear log-probs against PyTorch eager (make bench-linear).

At a GPT-2 small head (T = 1024 tokens, H = 768, V = 50257 words, float32)
it runs, each in a fresh process so that its peak memory is its own, and
alternating so that both see the same machine load:

  librpo   rpo_linear_logps_f32, then rpo_linear_logps_backward_f32
           (bench/bench_linear.c)
  PyTorch  F.linear + log_softmax + gather, then backward through autograd
           (this file, --torch)

with 1 thread each and 2 threads each, and prints the medians: seconds of
the forward and the backward, peak resident memory above the inputs and
outputs ("extra MiB": librpo's scratch, PyTorch's logits and their
gradients), the ratios PyTorch / librpo, and librpo's GFLOP/s against the
single-core FMA peak that bench_linear measures.

Then, on one thread, the three products of the fused path timed alone as
the library runs them (bench_linear products: the same kernels on the same
C x C chunks, C = 256, the default RPO_PARAM_LINEAR_CHUNK), each with its
GFLOP/s and share of the peak, and what is left of the 1-thread forward
and backward outside them: packing, and the rest (the softmax's
log-sum-exp or gradient kernel, merging, checks). When bench_linear was
built with OpenBLAS, cblas_sgemm on the same chunks stands beside each
product, with the ratio that says whether a CBLAS path would help.

usage: compare_linear.py BENCH_LINEAR [ROUNDS]
"""
import resource
import statistics
import subprocess
import sys
import time

T, H, V = 1024, 768, 50257
REPS = 2          # timed calls per process, after none for warm-up: the
                  # first call's page faults are part of what a user pays
C = 256           # RPO_PARAM_LINEAR_CHUNK's default
PRODUCT_REPS = 1  # passes over every chunk per round, after one to warm up


def torch_run(threads, reps):
    """One PyTorch measurement, printed as bench_linear prints its own."""
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(0)
    hidden = (torch.rand(T, H, generator=g) - 0.5) * 2.0
    weight = (torch.rand(V, H, generator=g) - 0.5) * 0.2
    targets = (torch.arange(T) * 7919) % V
    dlogps = torch.rand(T, generator=g) - 0.5
    hidden.requires_grad_(True)
    weight.requires_grad_(True)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    fwd, bwd = [], []
    for _ in range(reps):
        hidden.grad = None
        weight.grad = None
        t0 = time.perf_counter()
        logits = F.linear(hidden, weight)
        logps = logits.log_softmax(-1).gather(1, targets[:, None]).squeeze(1)
        t1 = time.perf_counter()
        logps.backward(dlogps)
        t2 = time.perf_counter()
        fwd.append(t1 - t0)
        bwd.append(t2 - t1)
        del logits, logps
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # the gradients are outputs (librpo's are allocated before its
    # baseline): count only what exceeds them
    grads_mib = (T * H + V * H) * 4 / 2**20
    extra = (peak - base) / 1024 - grads_mib
    print(f"{statistics.median(fwd):.4f}\t{statistics.median(bwd):.4f}\t{extra:.1f}")


def measure(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [float(x) for x in out.split()[:5]]


def measure_products(bench):
    out = subprocess.run([bench, "products", str(T), str(H), str(V), str(C),
                          str(PRODUCT_REPS)], check=True, capture_output=True,
                         text=True).stdout
    return {name: float(sec) for name, sec in (line.split() for line in out.splitlines())}


def print_products(stages, peak):
    """The products' table, and the whole calls' shares outside them."""
    flops = 2.0 * T * H * V
    have_blas = "blas_logits" in stages
    print(f"\nthe three products alone, 1 thread, C = {C} (medians; {2 * T * H * V / 1e9:.0f} GFLOP each)")
    print("product                         librpo s  GF/s  % peak" +
          ("   OpenBLAS s  GF/s  its time / librpo's" if have_blas else ""))
    for name, what in (("logits", "logits  = hidden W^T"),
                       ("dhidden", "dhidden = dlogits W"),
                       ("dweight", "dweight = dlogits^T hidden")):
        sec = stages[name]
        line = (f"{what:30s}  {sec:8.3f}  {flops / sec * 1e-9:4.1f}"
                f"  {100 * flops / sec * 1e-9 / peak:5.0f}%")
        if have_blas:
            b = stages["blas_" + name]
            line += f"   {b:10.3f}  {flops / b * 1e-9:4.1f}  {b / sec:14.2f}x"
        print(line)
    fwd, bwd = stages["call_fwd"], stages["call_bwd"]
    fwd_prod = stages["logits"]
    bwd_prod = stages["logits"] + stages["dhidden"] + stages["dweight"]
    for who, total, prod, pack in (("forward", fwd, fwd_prod, stages["pack_fwd"]),
                                   ("backward", bwd, bwd_prod, stages["pack_bwd"])):
        rest = max(total - prod - pack, 0.0)
        print(f"{who:8s} {total:6.3f} s: products {100 * prod / total:3.0f}%, packing "
              f"{100 * pack / total:3.0f}%, softmax/lse, merges and checks "
              f"{100 * rest / total:3.0f}%")
    if have_blas:
        faster = [n for n in ("logits", "dhidden", "dweight")
                  if stages["blas_" + n] < stages[n]]
        print("OpenBLAS is faster on: " + (", ".join(faster) if faster else
              "none of the three (a CBLAS route would not help here)"))


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "--torch":
        torch_run(int(sys.argv[2]), int(sys.argv[3]))
        return
    bench = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    peak = subprocess.run([bench, "peak"], check=True, capture_output=True,
                          text=True).stdout.split()
    print(f"T = {T}, H = {H}, V = {V}, float32; single-core FMA peak "
          f"{peak[0]} GFLOP/s ({peak[1]}); medians of {rounds} rounds")
    results, product_runs = {}, []
    for _ in range(rounds):
        for threads in (1, 2):
            rpo = measure([bench, "run", str(T), str(H), str(V), str(threads), str(REPS)])
            torch = measure([sys.executable, __file__, "--torch", str(threads), str(REPS)])
            results.setdefault(threads, []).append((rpo, torch))
        product_runs.append(measure_products(bench))
    print("threads  who      fwd s   bwd s   total s  extra MiB  fwd GF/s  bwd GF/s")
    for threads, runs in results.items():
        rpo = [statistics.median(r[0][k] for r in runs) for k in range(5)]
        torch = [statistics.median(r[1][k] for r in runs) for k in range(3)]
        print(f"{threads:7d}  librpo  {rpo[0]:6.3f}  {rpo[1]:6.3f}  {rpo[0] + rpo[1]:7.3f}"
              f"  {rpo[2]:9.1f}  {rpo[3]:8.1f}  {rpo[4]:8.1f}")
        print(f"{threads:7d}  torch   {torch[0]:6.3f}  {torch[1]:6.3f}"
              f"  {torch[0] + torch[1]:7.3f}  {torch[2]:9.1f}")
        ratio = (torch[0] + torch[1]) / (rpo[0] + rpo[1])
        print(f"{threads:7d}  torch/librpo: time {ratio:.2f}x, extra memory "
              f"{torch[2] / max(rpo[2], 0.1):.0f}x; librpo at "
              f"{100 * rpo[3] / float(peak[0]) / threads:.0f}% (fwd) and "
              f"{100 * rpo[4] / float(peak[0]) / threads:.0f}% (bwd) of {threads} x peak")
    stages = {name: statistics.median(run[name] for run in product_runs)
              for name in product_runs[0]}
    print_products(stages, float(peak[0]))


if __name__ == "__main__":
    main()
