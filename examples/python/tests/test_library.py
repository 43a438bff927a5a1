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

BUILT = support.library().path
INSTALLED = bool(os.environ.get("RPO_EXPECT_INSTALLED"))


def fake_tree(bundled, source_tree):
    """A folder standing in for the package's own folder (with a file named
    like the bundled library when `bundled`) and one for the project root
    (with include/rpo.h when `source_tree`)."""
    top = pathlib.Path(tempfile.mkdtemp())
    package, root = top / "rpo", top / "root"
    package.mkdir()
    (root / "include").mkdir(parents=True)
    if bundled:
        (package / rpo.SONAME).write_bytes(b"")
    if source_tree:
        (root / "include" / "rpo.h").write_text("")
    return package, root


class SearchOrder(unittest.TestCase):
    def candidates(self, bundled, source_tree, path=None, env=None):
        package, root = fake_tree(bundled, source_tree)
        with mock.patch.dict(os.environ, env or {}, clear=env is None), \
                mock.patch.object(_library, "_PACKAGE_DIR", package), \
                mock.patch.object(_library, "_PROJECT_ROOT", root):
            return rpo.candidates(path), package, root

    def test_candidates_in_documented_order(self):
        got, package, root = self.candidates(
            True, True, "/x/librpo.so.1", {"RPO_LIBRARY": "/env/librpo.so.1"})
        self.assertEqual(got, [("explicit path", "/x/librpo.so.1"),
                               ("RPO_LIBRARY", "/env/librpo.so.1"),
                               ("bundled", str(package / rpo.SONAME)),
                               ("build folder", str(root / "build" / rpo.SONAME)),
                               ("system", "librpo.so.1")])

    def test_installed_package_has_no_build_folder(self):
        got, package, _ = self.candidates(True, False)
        self.assertEqual(got, [("bundled", str(package / rpo.SONAME)),
                               ("system", "librpo.so.1")])

    def test_source_tree_without_bundle(self):
        got, _, root = self.candidates(False, True)
        self.assertEqual(got, [("build folder", str(root / "build" / rpo.SONAME)),
                               ("system", "librpo.so.1")])

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
        package, missing_root = fake_tree(False, True)
        with mock.patch.dict(os.environ, {"RPO_LIBRARY": "/nonexistent/env.so"}), \
                mock.patch.object(_library, "_PACKAGE_DIR", package), \
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
                mock.patch.object(_library, "_PACKAGE_DIR", pathlib.Path("/nonexistent")), \
                mock.patch.object(_library, "SONAME", "librpo-absent.so.1"):
            rpo.load_library("libm.so.6")
        self.assertIn("not librpo", cm.exception.attempts[0][2])


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


@unittest.skipUnless(INSTALLED, "runs against the pip-installed package "
                     "(make check-python-installed)")
class InstalledPackage(unittest.TestCase):
    """What `pip install examples/python` gives: rpo imported from the
    installed package, not the source tree, loading the librpo.so.1 bundled
    inside it; an explicit path or RPO_LIBRARY still wins."""

    def test_imported_from_the_installation(self):
        package = pathlib.Path(rpo.__file__).resolve().parent
        self.assertNotIn(support.PROJECT_ROOT.resolve(), package.parents)
        self.assertIsNone(os.environ.get("RPO_LIBRARY"))
        lib = rpo.default_library()
        self.assertEqual(lib.source, "bundled")
        self.assertEqual(pathlib.Path(lib.path).parent, package)
        self.assertEqual(lib.version, rpo.version())

    def test_native_step_is_built_into_the_package(self):
        """setup.py builds rpo._native where Python's headers are (they
        are on every machine `make check` runs on)."""
        native = rpo.default_library().native()
        self.assertIsNotNone(native)
        package = pathlib.Path(rpo.__file__).resolve().parent
        self.assertEqual(pathlib.Path(native.__file__).resolve().parent, package)

    def test_autograd_node_is_built_into_the_package(self):
        """setup.py builds rpo._autograd where torch's C++ headers are
        (the Makefile says so by RPO_EXPECT_AUTOGRAD)."""
        if not os.environ.get("RPO_EXPECT_AUTOGRAD"):
            self.skipTest("torch's C++ headers are not installed")
        autograd = rpo.default_library().autograd()
        self.assertIsNotNone(autograd)
        package = pathlib.Path(rpo.__file__).resolve().parent
        self.assertEqual(pathlib.Path(autograd.__file__).resolve().parent, package)

    def test_environment_and_explicit_path_override_the_bundle(self):
        built = str(support.PROJECT_ROOT / "build" / rpo.SONAME)
        if not os.path.exists(built):
            self.skipTest("no build folder library to point at")
        with mock.patch.dict(os.environ, {"RPO_LIBRARY": built}):
            self.assertEqual(rpo.load_library().source, "RPO_LIBRARY")
        self.assertEqual(rpo.load_library(built).source, "explicit path")


if __name__ == "__main__":
    unittest.main()
