"""docs/pytorch.md's code blocks, run in order in one namespace, and the
README's Python block: the guides cannot drift from the package."""

import contextlib
import io
import re
import unittest

from tests import support

ROOT = support.PROJECT_ROOT
GUIDE = ROOT / "docs" / "pytorch.md"
README = ROOT / "README.md"


def python_blocks(text):
    return re.findall(r"^```python\n(.*?)^```$", text, flags=re.S | re.M)


class PyTorchGuide(unittest.TestCase):
    def test_every_block_runs(self):
        blocks = python_blocks(GUIDE.read_text())
        self.assertGreaterEqual(len(blocks), 5)
        namespace = {"__name__": "pytorch_guide"}
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            for k, block in enumerate(blocks):
                code = compile(block, "%s, python block %d" % (GUIDE.name, k + 1), "exec")
                exec(code, namespace)   # noqa: S102 - the guide's own code
        self.assertIn("librpo", printed.getvalue())

    def test_readme_block_runs(self):
        blocks = python_blocks(README.read_text())
        self.assertEqual(len(blocks), 1)
        namespace = {"__name__": "readme"}
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(blocks[0], "README.md, python block", "exec"), namespace)  # noqa: S102
        loss, accuracy = (float(x) for x in printed.getvalue().split())
        self.assertGreater(loss, 0.0)
        self.assertTrue(0.0 <= accuracy <= 1.0)
        # the backward reached the policy tensors
        self.assertIsNotNone(namespace["policy_chosen"].grad)
        self.assertIsNotNone(namespace["policy_rejected"].grad)


if __name__ == "__main__":
    unittest.main()
