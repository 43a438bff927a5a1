"""docs/pytorch.md's code blocks, run in order in one namespace: the guide
cannot drift from the package."""

import contextlib
import io
import pathlib
import re
import unittest

GUIDE = pathlib.Path(__file__).resolve().parents[3] / "docs" / "pytorch.md"


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


if __name__ == "__main__":
    unittest.main()
