"""Every number the Python layer hands librpo, against include/rpo.h read
as text: the RPO_PARAM_* key and the enumeration values of each setting,
the RPO_STAT_* keys, the status codes, the sequence reductions, the
partial-statistics count and the ABI major version. A constant that drifted
from the header would set the wrong setting or read the wrong metric
without any error (the Rust crate's tests/header.rs does the same)."""

import re
import unittest

from rpo import _library, context, errors, objectives, tokens
from tests import support


def header_constants():
    """#define RPO_X <integer> of the header's stable part (before the
    static-linking-only section), comments removed."""
    text = (support.PROJECT_ROOT / "include" / "rpo.h").read_text()
    text = text[:text.index("#if defined(RPO_STATIC_LINKING_ONLY)")]
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    found = {}
    for name, value in re.findall(r"^#define (RPO_\w+)\s+\(?(-?\d+)\)?\s*$",
                                  text, flags=re.M):
        found[name] = int(value)
    return found


# A setting's enumeration prefix where it is not RPO_<SETTING NAME>_.
ENUM_PREFIX = {"loss_type": "RPO_LOSS_", "f_divergence": "RPO_FDIV_"}
# A setting's key name where it is not RPO_PARAM_<SETTING NAME>.
PARAM_NAME = {"loss_type": "RPO_PARAM_LOSS"}


class Header(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.h = header_constants()

    def test_every_setting_key_and_choice(self):
        for s in context.SETTINGS:
            param = PARAM_NAME.get(s.name, "RPO_PARAM_" + s.name.upper())
            self.assertEqual(s.key, self.h[param], param)
            prefix = ENUM_PREFIX.get(s.name, "RPO_%s_" % s.name.upper())
            for value, choice in enumerate(s.choices):
                self.assertEqual(value, self.h[prefix + choice.upper()],
                                 "%s %s" % (s.name, choice))
            if s.choices:   # and the header has no value the binding lacks
                values = [n for n in self.h if n.startswith(prefix)]
                # RPO_PARAM_LOSS takes the pair losses of 1.2; the
                # objectives' term list takes every RPO_LOSS_* (TERMS).
                names = objectives.TERMS if s.name == "loss_type" else s.choices
                self.assertEqual(len(values), len(names), prefix)
        for value, term in enumerate(objectives.TERMS):
            self.assertEqual(value, self.h["RPO_LOSS_" + term.upper()], term)

    def test_every_header_setting_is_a_python_setting(self):
        keys = {s.key for s in context.SETTINGS}
        for name, value in self.h.items():
            if name.startswith("RPO_PARAM_"):
                self.assertIn(value, keys, name)

    def test_stat_keys(self):
        for field, key in context._STATS:
            self.assertEqual(key, self.h["RPO_STAT_" + field.upper()], field)
        for field, key in context._SINKHORN_STATS:
            self.assertEqual(key, self.h["RPO_STAT_SINKHORN_" + field.upper()],
                             field)
        for name, key in (("LOGPS_CHOSEN", objectives._STAT_LOGPS_CHOSEN),
                          ("LOGPS_REJECTED", objectives._STAT_LOGPS_REJECTED),
                          ("KL", objectives._STAT_KL)):
            self.assertEqual(key, self.h["RPO_STAT_" + name], name)
        stats = {k for n, k in self.h.items() if n.startswith("RPO_STAT_")}
        used = {k for _, k in context._STATS + context._SINKHORN_STATS} | {
            objectives._STAT_LOGPS_CHOSEN, objectives._STAT_LOGPS_REJECTED,
            objectives._STAT_KL}
        self.assertEqual(stats, used)

    def test_status_codes(self):
        named = {n: v for n, v in vars(errors).items()
                 if n == "OK" or n.startswith("ERR_")}
        for name, value in named.items():
            self.assertEqual(value, self.h["RPO_" + name], name)
        header = {n for n in self.h if n == "RPO_OK" or n.startswith("RPO_ERR_")}
        self.assertEqual(header, {"RPO_" + n for n in named})

    def test_sequence_reductions(self):
        for name, value in tokens._SEQ_REDUCE.items():
            self.assertEqual(value, self.h["RPO_SEQ_" + name.upper()], name)

    def test_partial_count_and_abi_major(self):
        self.assertEqual(context.PARTIAL_COUNT, self.h["RPO_PARTIAL_COUNT"])
        self.assertEqual(_library.ABI_MAJOR, self.h["RPO_VERSION_MAJOR"])


if __name__ == "__main__":
    unittest.main()
