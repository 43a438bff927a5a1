#!/usr/bin/env python3
"""Line and branch coverage of lib/ from a --coverage build's .gcda files.

usage: summary.py OBJDIR [--list]

gcov is run once per object file in JSON mode; a header that several
translation units include (the SIMD templates, instantiated once per kernel
set) counts a line as run, or a branch as taken, when any unit ran it. The
last line printed is `coverage: lines N.N% branches N.N%`.
"""
import glob
import json
import os
import subprocess
import sys


def gcov_json(objdir, source):
    out = subprocess.run(
        ["gcov", "--json-format", "--stdout", "--branch-probabilities",
         "--object-directory", os.path.join(objdir, os.path.dirname(source)), source],
        capture_output=True, text=True, check=True).stdout
    # one JSON document per line, one per object file
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def main():
    objdir = sys.argv[1]
    listing = "--list" in sys.argv[2:]
    lines = {}     # (file, line) -> executed anywhere
    branches = {}  # (file, line, k) -> taken anywhere
    sources = sorted(glob.glob("lib/*.c") + glob.glob("lib/*/*.c") + glob.glob("lib/*/*/*.c"))
    for source in sources:
        for doc in gcov_json(objdir, source):
            for f in doc["files"]:
                name = os.path.normpath(f["file"])
                if not name.startswith("lib/"):
                    continue
                for ln in f["lines"]:
                    key = (name, ln["line_number"])
                    lines[key] = lines.get(key, False) or ln["count"] > 0
                    for k, br in enumerate(ln.get("branches", [])):
                        bkey = (name, ln["line_number"], k)
                        branches[bkey] = branches.get(bkey, False) or br["count"] > 0
    if listing:
        for (name, number), run in sorted(lines.items()):
            if not run:
                print(f"{name}:{number}: line not run")
    per_file = {}
    for (name, _), run in lines.items():
        t = per_file.setdefault(name, [0, 0, 0, 0])
        t[0] += run
        t[1] += 1
    for (name, _, _), taken in branches.items():
        t = per_file.setdefault(name, [0, 0, 0, 0])
        t[2] += taken
        t[3] += 1
    for name, (lr, lt, bt_, bn) in sorted(per_file.items()):
        bpct = f"{100.0 * bt_ / bn:6.1f}%" if bn else "     -"
        print(f"{name:32s} lines {100.0 * lr / lt:6.1f}% of {lt:5d}   branches {bpct} of {bn:5d}")
    run = sum(lines.values())
    taken = sum(branches.values())
    print(f"coverage: lines {100.0 * run / max(1, len(lines)):.1f}% "
          f"branches {100.0 * taken / max(1, len(branches)):.1f}%")


if __name__ == "__main__":
    main()
