"""Shared by the Python suites: the project's paths, the conformance vectors
and an independent NumPy float64 implementation of SPEC section 1."""

import os
import pathlib

import numpy as np

# The source tree the suites test against (header, guides, vectors): the one
# they sit in, unless RPO_SOURCE_ROOT names it, as `make check-python-installed`
# does when it runs a copy of the suites from a folder outside the tree.
PROJECT_ROOT = pathlib.Path(
    os.environ.get("RPO_SOURCE_ROOT")
    or pathlib.Path(__file__).resolve().parents[3])


def library():
    """The library under test: the one RPO_LIBRARY names (check-python, the
    source tree's build), else the one `import rpo` finds (the bundled one
    of an installed package)."""
    import rpo
    path = os.environ.get("RPO_LIBRARY")
    return rpo.load_library(path) if path else rpo.default_library()


def vectors_path():
    """The conformance vectors, the project's copy (RPO_VECTORS overrides,
    as for the C suites)."""
    return os.environ.get("RPO_VECTORS") or str(
        PROJECT_ROOT / "tests" / "data" / "vectors.txt")


# Tolerances of the conformance README (tests/data/README.md).
TOL = {np.float64: 1e-12, np.float32: 1e-5}


def load_vectors():
    """Every case as a dict; arrays as float64, absent ones None, and
    rejected_emb == "same" for paired embeddings."""
    cases, case = [], None
    with open(vectors_path()) as fp:
        for line in fp:
            words = line.split()
            if not words or words[0].startswith("#"):
                continue
            key, values = words[0], words[1:]
            if key == "case":
                case = {"name": values[0]}
            elif key == "end":
                cases.append(case)
                case = None
            elif key in ("weighting", "placement"):
                case[key] = values[0]
            elif key in ("m", "n", "d"):
                case[key] = int(values[0])
            elif key in ("beta", "tau", "alpha", "loss"):
                case[key] = float(values[0])
            elif values == ["none"]:
                case[key] = None
            elif values == ["same"]:
                case[key] = "same"
            else:
                case[key] = np.array([float(v) for v in values])
    for c in cases:
        if c["chosen_emb"] is not None:
            c["chosen_emb"] = c["chosen_emb"].reshape(c["m"], c["d"])
        if isinstance(c["rejected_emb"], np.ndarray):
            c["rejected_emb"] = c["rejected_emb"].reshape(c["n"], c["d"])
        c["weights"] = c["weights"].reshape(c["m"], c["n"])
    return cases


def assert_close_rel(test, got, want, tol, what):
    """Each |got - want| <= tol * max |want| (the conformance gradient rule)."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    bound = tol * (np.max(np.abs(want)) if want.size else 0.0)
    worst = np.max(np.abs(got - want)) if want.size else 0.0
    test.assertLessEqual(worst, bound, "%s: |diff| %.3g > %.3g" % (what, worst, bound))


def assert_loss_close(test, got, want, tol, what):
    bound = tol * max(1.0, abs(want))
    test.assertLessEqual(abs(got - want), bound,
                         "%s: %.17g, want %.17g" % (what, got, want))


# ---------------------------------------------------------------- reference
def ref_weights(weighting, m, n, alpha=0.8, tau=0.5, chosen_emb=None,
                rejected_emb=None):
    """W (m, n) by SPEC section 1, in float64."""
    if weighting == "uniform":
        return np.full((m, n), 1.0 / n)
    if weighting == "diagonal":
        if n == 1:
            return np.ones((m, n))
        w = np.full((m, n), (1.0 - alpha) / (n - 1))
        np.fill_diagonal(w, alpha)
        return w
    e = np.asarray(chosen_emb, np.float64)
    f = e if rejected_emb is None else np.asarray(rejected_emb, np.float64)
    e = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)
    f = f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)
    logits = -(1.0 - e @ f.T) / tau
    logits -= logits.max(axis=1, keepdims=True)
    w = np.exp(logits)
    return w / w.sum(axis=1, keepdims=True)


def _softplus(x):
    return np.logaddexp(0.0, x)


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def ref_loss(pc, pr, rc, rr, w, beta, placement, reduction="mean"):
    """(loss, dL/dpc, dL/dpr, metrics dict) by SPEC section 1 with the
    weights w and a resolved placement ("logit" or "loss")."""
    pc, pr = np.asarray(pc, np.float64), np.asarray(pr, np.float64)
    a = pc - (0.0 if rc is None else np.asarray(rc, np.float64))
    b = pr - (0.0 if rr is None else np.asarray(rr, np.float64))
    m, n = len(a), len(b)
    z = a[:, None] - b[None, :]
    scale = 1.0 / m if reduction == "mean" else 1.0
    if placement == "loss":
        loss = scale * np.sum(w * _softplus(-beta * z))
        g = -beta * scale * w * _sigmoid(-beta * z)
    else:
        loss = scale / n * np.sum(_softplus(-beta * w * z))
        g = -beta * scale / n * w * _sigmoid(-beta * w * z)
    metrics = {
        "reward_chosen": beta * a.mean(),
        "reward_rejected": beta * b.mean(),
        "margin": np.sum(w * beta * z) / m,
        "accuracy": np.sum(w * (z > 0)) / m,
    }
    return loss, g.sum(axis=1), -g.sum(axis=0), metrics


def resolved_placement(weighting, placement):
    if placement != "auto":
        return placement
    return "logit" if weighting == "embedding" else "loss"
