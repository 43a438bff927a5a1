"""The library search: its order, its failure report, version checks and
entry points a loaded library lacks."""

import os
import pathlib
import tempfile
import unittest
import warnings
from unittest import mock

import rpo
from rpo import _library
from tests import support

BUILT = os.environ.get("RPO_LIBRARY")


@unittest.skipUnless(BUILT, "RPO_LIBRARY must name the built library")
class SearchOrder(unittest.TestCase):
    def test_candidates_in_documented_order(self):
        with mock.patch.dict(os.environ, {"RPO_LIBRARY": "/env/librpo.so.1"}):
            got = [source for source, _ in rpo.candidates("/x/librpo.so.1")]
        self.assertEqual(got, ["explicit path", "RPO_LIBRARY", "build folder",
                               "system"])
        with mock.patch.dict(os.environ, {}, clear=True):
            got = rpo.candidates()
        self.assertEqual([s for s, _ in got], ["build folder", "system"])
        build = pathlib.Path(got[0][1])
        self.assertEqual(build.name, rpo.SONAME)
        self.assertEqual(build.parent.name, "build")
        self.assertEqual(got[1][1], "librpo.so.1")

    def test_explicit_path_wins_over_environment(self):
        with mock.patch.dict(os.environ, {"RPO_LIBRARY": "/nonexistent/librpo.so.1"}):
            lib = rpo.load_library(BUILT)
        self.assertEqual(lib.source, "explicit path")
        self.assertEqual(lib.path, BUILT)

    def test_environment_is_used_without_explicit_path(self):
        with mock.patch.dict(os.environ, {"RPO_LIBRARY": BUILT}):
            lib = rpo.load_library()
        self.assertEqual(lib.source, "RPO_LIBRARY")

    def test_failed_named_candidate_warns_and_falls_through(self):
        """A path the user named that does not load is not silently
        replaced: the next candidate loads, with a warning naming both."""
        with mock.patch.dict(os.environ, {"RPO_LIBRARY": BUILT}):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                lib = rpo.load_library("/nonexistent/librpo.so.1")
        self.assertEqual(lib.source, "RPO_LIBRARY")
        self.assertEqual(len(caught), 1)
        self.assertIn("/nonexistent/librpo.so.1", str(caught[0].message))
        self.assertIn(BUILT, str(caught[0].message))

    def test_nothing_loads_lists_every_attempt(self):
        missing_root = pathlib.Path(tempfile.mkdtemp())
        with mock.patch.dict(os.environ, {"RPO_LIBRARY": "/nonexistent/env.so"}), \
                mock.patch.object(_library, "_PROJECT_ROOT", missing_root), \
                mock.patch.object(_library, "SONAME", "librpo-absent.so.1"):
            with self.assertRaises(rpo.LibraryNotFoundError) as cm:
                rpo.load_library("/nonexistent/explicit.so")
        sources = [a[0] for a in cm.exception.attempts]
        self.assertEqual(sources, ["explicit path", "RPO_LIBRARY",
                                   "build folder", "system"])
        text = str(cm.exception)
        for needle in ("/nonexistent/explicit.so", "/nonexistent/env.so",
                       str(missing_root / "build"), "librpo-absent.so.1"):
            self.assertIn(needle, text)
        self.assertIsInstance(cm.exception, OSError)

    def test_a_library_that_is_not_librpo_is_refused(self):
        # libm loads but exports no rpo_version_number.
        with self.assertRaises(rpo.LibraryNotFoundError) as cm, \
                mock.patch.dict(os.environ, {}, clear=True), \
                mock.patch.object(_library, "_PROJECT_ROOT", pathlib.Path("/nonexistent")), \
                mock.patch.object(_library, "SONAME", "librpo-absent.so.1"):
            rpo.load_library("libm.so.6")
        self.assertIn("not librpo", cm.exception.attempts[0][2])


@unittest.skipUnless(BUILT, "RPO_LIBRARY must name the built library")
class LoadedLibrary(unittest.TestCase):
    def setUp(self):
        self.lib = rpo.load_library(BUILT)

    def test_version_matches_header(self):
        header = (support.PROJECT_ROOT / "include" / "rpo.h").read_text()
        parts = {}
        for line in header.splitlines():
            words = line.split()
            if len(words) == 3 and words[0] == "#define" and \
                    words[1].startswith("RPO_VERSION_") and words[2].isdigit():
                parts[words[1][len("RPO_VERSION_"):]] = int(words[2])
        want = "%d.%d.%d" % (parts["MAJOR"], parts["MINOR"], parts["PATCH"])
        self.assertEqual(self.lib.version, want)
        self.assertEqual(self.lib.version_number,
                         parts["MAJOR"] * 10000 + parts["MINOR"] * 100 + parts["PATCH"])

    def test_every_prototype_is_exported(self):
        for name in _library.PROTOTYPES:
            self.assertTrue(self.lib.has(name), name)

    def test_missing_entry_point_is_unsupported(self):
        with self.assertRaises(rpo.UnsupportedError) as cm:
            self.lib.function("rpo_does_not_exist")
        self.assertEqual(cm.exception.status, -6)
        self.assertIn("rpo_does_not_exist", str(cm.exception))


if __name__ == "__main__":
    unittest.main()
