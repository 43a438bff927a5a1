"""PyTorch eager on the logits bench_tokens times librpo on, in the same run.

    build/bench/bench_tokens --dump DIR && /usr/bin/python3 bench/tokens_torch.py DIR

bench_tokens writes its logits (T, V) float32, targets, dlogps, its
log-probs and its own times into DIR; this times, on 1 thread as
bench/compare_torch.py does, what a PyTorch user writes for the same
results:

    forward            torch.log_softmax(x, -1).gather(1, y[:, None])
    forward + backward the same with x.requires_grad, then
                       .backward(dlogps): autograd's gradient of the logits

and prints librpo's time as a multiple of PyTorch's. Also log_softmax
into a buffer allocated once (torch._log_softmax(..., out=)): the op's own
cost, without the fresh (T, V) result eager mode allocates on each call,
which on some machines costs more than the op (page faults). The forward is
compared with rpo_token_logps_f32; forward + backward with a trainer's two
librpo calls: rpo_token_logps_lse_f32, then rpo_token_logps_backward_lse_f32
overwriting the logits in place (and, second, the 1.1 pair: forward and the
accumulating backward). The largest difference of the log-probs is printed
as a check that both computed the same thing. Best of RUNS calls each.
"""
import os
import sys
import time

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

import numpy as np  # noqa: E402
import torch  # noqa: E402

RUNS = 5


def best(fn):
    fn()
    times = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main(folder):
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    info = {}
    with open(os.path.join(folder, "times.txt")) as f:
        for line in f:
            key, value = line.split()
            info[key] = float(value)
    t, v = int(info["t"]), int(info["v"])
    logits = torch.from_numpy(np.fromfile(os.path.join(folder, "logits.f32"), np.float32).reshape(t, v))
    targets = torch.from_numpy(np.fromfile(os.path.join(folder, "targets.i32"), np.int32).astype(np.int64))
    dlogps = torch.from_numpy(np.fromfile(os.path.join(folder, "dlogps.f32"), np.float32))
    rpo_logps = np.fromfile(os.path.join(folder, "logps.f32"), np.float32)

    def forward():
        with torch.no_grad():
            return torch.log_softmax(logits, -1).gather(1, targets[:, None])[:, 0]

    # The same op into a buffer allocated once: log_softmax's own cost,
    # without the fresh (T, V) output eager mode allocates (and the
    # machine then faults in) on every call.
    out = torch.empty_like(logits)

    def forward_preallocated():
        with torch.no_grad():
            torch._log_softmax(logits, -1, False, out=out)
            return out.gather(1, targets[:, None])[:, 0]

    x = logits.clone().requires_grad_(True)

    def forward_backward():
        x.grad = None
        lp = torch.log_softmax(x, -1).gather(1, targets[:, None])[:, 0]
        lp.backward(dlogps)

    fwd = best(forward)
    fwd_pre = best(forward_preallocated)
    both = best(forward_backward)
    diff = float(np.max(np.abs(forward().numpy() - rpo_logps)))
    print("\nPyTorch %s eager, 1 thread, on the same logits (best of %d)" % (torch.__version__, RUNS))
    print("%-44s %9s %9s %9s" % ("", "torch ms", "rpo ms", "speed-up"))
    rows = [("forward: log_softmax + gather", fwd, info["forward"]),
            ("forward, log_softmax into a kept buffer", fwd_pre, info["forward"]),
            ("fwd + bwd: autograd vs lse + in place", both, info["fwd_bwd_in_place"]),
            ("fwd + bwd: autograd vs 1.1 accumulate", both, info["fwd_bwd_accumulate"])]
    for name, theirs, ours in rows:
        print("%-44s %9.2f %9.2f %8.2fx" % (name, 1e3 * theirs, 1e3 * ours, theirs / ours))
    print("largest |log-prob difference|: %.3g" % diff)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
