"""rpo: Python bindings of librpo, Relative Preference Optimization
(Yin et al. 2024, arXiv 2402.10958), over ctypes: no compile step.

    import numpy as np, rpo
    ctx = rpo.Context(beta=0.1, weighting="embedding")
    r = ctx.loss(policy_chosen, policy_rejected, ref_chosen, ref_rejected,
                 chosen_emb)
    r.loss, r.grad_chosen, r.grad_rejected, r.metrics

The library is found by rpo.load_library's search order: an explicit path,
the RPO_LIBRARY environment variable, the copy bundled in the installed
package (pip install examples/python), the build folder of the source tree
the package sits in, the system's loader. rpo.token_logps, rpo.seq_logps and their backwards are
the token-level helpers (librpo 1.1). rpo.torch holds the PyTorch loss module (imported on
demand, so NumPy users never load torch).
"""

from ._library import (ABI_MAJOR, ENV_VAR, SONAME, Library,
                       LibraryNotFoundError, candidates, default_library,
                       load_library)
from .context import (LOSS_TYPES, PARTIAL_COUNT, SETTINGS, Context,
                      EmbedGradResult, LossResult, Metrics, RowsResult,
                      RowsTotal, Setting, SinkhornRun, partial_length,
                      split_partial)
from .linear import linear_token_logps, linear_token_logps_backward
from .tokens import (packed_seq_logps, packed_seq_logps_backward, seq_logps,
                     seq_logps_backward, token_logps, token_logps_backward,
                     token_logps_grad, token_logps_lse)
from .errors import (NonFiniteError, NullPointerError, OutOfMemoryError,
                     ParamError, RangeError, RPOError, SizeError,
                     UnsupportedError)


def version():
    """The version string of the library the default search loads."""
    return default_library().version


__all__ = [
    "ABI_MAJOR", "ENV_VAR", "SONAME", "Library", "LibraryNotFoundError",
    "candidates", "default_library", "load_library", "version",
    "SETTINGS", "Setting", "Context", "LossResult", "Metrics",
    "LOSS_TYPES", "EmbedGradResult", "SinkhornRun", "PARTIAL_COUNT",
    "RowsResult", "RowsTotal", "partial_length", "split_partial",
    "RPOError", "NullPointerError", "SizeError", "ParamError",
    "NonFiniteError", "OutOfMemoryError", "UnsupportedError", "RangeError",
    "token_logps", "token_logps_backward", "seq_logps", "seq_logps_backward",
    "linear_token_logps", "linear_token_logps_backward",
    "token_logps_lse", "token_logps_grad", "packed_seq_logps",
    "packed_seq_logps_backward",
]
