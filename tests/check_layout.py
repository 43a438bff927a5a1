#!/usr/bin/env python3
"""The layout of lib/ keeps to lib/README.md's include rule.

Reads the rule from the table of lib/README.md ("| folder | may include |"),
so the rule is written once, then checks every file under lib/:
  - it lies in one of the folders the table names;
  - each `#include "x.h"` names a header that exists, in the file's own
    folder or in a folder the table lets that folder include (rpo.h, the
    public header, is open to every folder);
  - no two headers under lib/ share a name, since every folder is on the
    include path and a header is named alone.
Prints each violation and exits 1 if there is any.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIB = os.path.join(ROOT, "lib")


def read_rule():
    rule = {}
    with open(os.path.join(LIB, "README.md"), encoding="utf-8") as f:
        for line in f:
            m = re.match(r"\|\s*`(\w+)/`\s*\|\s*(.*?)\s*\|\s*$", line)
            if m:
                allowed = re.findall(r"`(\w+)/`", m.group(2))
                rule[m.group(1)] = set(allowed) | {m.group(1)}
    if not rule:
        sys.exit("check_layout: no rule table found in lib/README.md")
    return rule


def folder_of(path):
    """The concern a file under lib/ belongs to: its first folder."""
    rel = os.path.relpath(path, LIB).split(os.sep)
    return rel[0] if len(rel) > 1 else None


def main():
    rule = read_rule()
    problems = []
    headers = {}  # name -> [paths]
    sources = []
    for dirpath, _, names in os.walk(LIB):
        for name in sorted(names):
            path = os.path.join(dirpath, name)
            if not name.endswith((".c", ".h")):
                continue
            sources.append(path)
            if name.endswith(".h"):
                headers.setdefault(name, []).append(path)
            folder = folder_of(path)
            if folder not in rule:
                problems.append(f"{os.path.relpath(path, ROOT)}: not in a folder of lib/README.md's table")
    for name, paths in sorted(headers.items()):
        if len(paths) > 1:
            problems.append(f"{name}: one name for {len(paths)} headers: "
                            + ", ".join(os.path.relpath(p, ROOT) for p in paths))
    for path in sorted(sources):
        folder = folder_of(path)
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
                if not m or m.group(1) == "rpo.h":
                    continue
                target = os.path.normpath(os.path.join(os.path.dirname(path), m.group(1)))
                if not os.path.exists(target):
                    found = headers.get(os.path.basename(m.group(1)), [])
                    if not found:
                        problems.append(f"{os.path.relpath(path, ROOT)}:{number}: {m.group(1)} not found")
                        continue
                    target = found[0]
                to = folder_of(target)
                if folder in rule and to not in rule[folder]:
                    problems.append(f"{os.path.relpath(path, ROOT)}:{number}: {folder}/ includes "
                                    f"{os.path.relpath(target, ROOT)}, outside the rule "
                                    f"({folder}/ may include {', '.join(sorted(rule[folder]))})")
    for p in problems:
        print(p)
    if problems:
        print(f"check_layout: {len(problems)} problem(s); see lib/README.md")
        return 1
    print(f"check_layout: {len(sources)} files in {len(rule)} folders keep lib/README.md's include rule")
    return 0


if __name__ == "__main__":
    sys.exit(main())
