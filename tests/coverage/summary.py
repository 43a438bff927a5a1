#!/usr/bin/env python3
"""Line and branch coverage of lib/ by the C suites (docs/coverage.md).

usage: summary.py [--list] [--gate LINES BRANCHES] PROFDATA OBJECT...

PROFDATA is the merged profile of a clang source-based coverage build
(-fprofile-instr-generate -fcoverage-mapping); OBJECT the binaries that hold
lib/'s code (librpo.so, and the suites that link librpo.a).

Lines are llvm-cov's: a line of a header is run when any translation unit
that includes it ran it. Branches are the source's conditions (each leaf of
an if, loop, ?:, && or ||), two outcomes each, true and false; a condition
spelt once in a template or macro and instantiated several times (the SIMD
templates: three kernel sets times float and double) is one condition whose
outcome is taken when any instantiation took it. The exclusions are the
table of docs/coverage.md, each entry matched to exactly one line.

Prints a line per file, with --list every line and branch outcome not
covered, and last `coverage: lines N.N% branches N.N%`. With --gate, fails
(exit 1) below either percentage and lists, before that last line, what
each file that falls short leaves uncovered.
"""
import json
import os
import re
import subprocess
import sys

DOC = "docs/coverage.md"
ROOT = os.getcwd()


def llvm_cov(fmt, profdata, objects):
    args = ["llvm-cov", "export", "-format=" + fmt, "-instr-profile", profdata, objects[0]]
    for obj in objects[1:]:
        args += ["-object", obj]
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


def in_lib(path):
    rel = os.path.relpath(os.path.normpath(path), ROOT)
    return rel if rel.startswith("lib/") else None


def read_lines(profdata, objects):
    """{(file, line): run?} from llvm-cov's own line coverage (lcov form)."""
    lines, current = {}, None
    for row in llvm_cov("lcov", profdata, objects).splitlines():
        if row.startswith("SF:"):
            current = in_lib(row[3:])
        elif row.startswith("DA:") and current:
            number, count = row[3:].split(",")[:2]
            key = (current, int(number))
            lines[key] = lines.get(key, False) or int(count) > 0
    return lines


def read_branches(profdata, objects):
    """{(file, line, col, end_line, end_col): [true taken?, false taken?]},
    merged over the functions (instantiations) that contain the condition."""
    data = json.loads(llvm_cov("text", profdata, objects))["data"][0]
    branches = {}
    for fn in data["functions"]:
        for ls, cs, le, ce, true_count, false_count, file_id, _, _ in fn["branches"]:
            name = in_lib(fn["filenames"][file_id])
            if name is None:
                continue
            taken = branches.setdefault((name, ls, cs, le, ce), [False, False])
            taken[0] = taken[0] or true_count > 0
            taken[1] = taken[1] or false_count > 0
    return branches


def read_exclusions():
    """The table between the markers of docs/coverage.md: file, code, what.
    Each code names exactly one line of its file: the line that is the code,
    or else the one line that contains it."""
    text = open(os.path.join(ROOT, DOC)).read()
    table = re.search(r"<!-- coverage exclusions: begin -->(.*?)<!-- coverage exclusions: end -->",
                      text, re.S)
    if table is None:
        sys.exit(f"{DOC}: no exclusions table")
    entries, errors = [], []
    for row in table.group(1).splitlines():
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        if len(cells) < 4 or not cells[0].startswith("`lib/"):
            continue
        name, code, what = cells[0].strip("`"), cells[1][1:-1].replace("\\|", "|"), cells[2]
        source = open(os.path.join(ROOT, name)).read().splitlines()
        # a line that is the code, else the lines that contain it
        hits = [(k + 1, line.index(code) + 1) for k, line in enumerate(source)
                if line.strip() == code]
        if not hits:
            hits = [(k + 1, line.index(code) + 1) for k, line in enumerate(source)
                    if code in line]
        if len(hits) != 1 or not re.fullmatch(r"line|lines \d+|true|false|branch", what):
            errors.append(f"{DOC}: `{code}` in {name} ({what}) matches {len(hits)} lines, not one")
            continue
        entries.append((name, hits[0][0], hits[0][1], what))
    if errors:
        sys.exit("\n".join(errors))
    return entries


def apply_exclusions(lines, branches, entries):
    for name, number, col, what in entries:
        if what.startswith("line"):
            span = range(number, number + (int(what.split()[1]) if " " in what else 1))
            found = False
            for key in [k for k in lines if k[0] == name and k[1] in span]:
                if not lines.pop(key):
                    found = True   # an entry must leave out a line not run
            for key in [k for k in branches if k[0] == name and k[1] in span]:
                del branches[key]
        else:
            key = next((k for k in branches if k[:3] == (name, number, col)), None)
            found = key is not None and all(
                branches[key][o] is False for o in {"true": [0], "false": [1], "branch": [0, 1]}[what])
            if found:
                for o in {"true": [0], "false": [1], "branch": [0, 1]}[what]:
                    branches[key][o] = None  # left out
        if not found:
            sys.exit(f"{DOC}: {name}:{number} ({what}) leaves out nothing that the suites "
                     "miss (run, taken, or not measured): remove the entry")


def condition_text(key):
    name, ls, cs, le, ce = key
    if ls != le:
        return "..."
    return open(os.path.join(ROOT, name)).read().splitlines()[ls - 1][cs - 1:ce - 1]


def uncovered(lines, branches, names):
    out = []
    for (name, number), run in sorted(lines.items()):
        if name in names and not run:
            out.append(f"{name}:{number}: line not run")
    for key, taken in sorted(branches.items()):
        if key[0] not in names:
            continue
        for outcome, flag in zip(("true", "false"), taken):
            if flag is False:
                out.append(f"{key[0]}:{key[1]}:{key[2]}: ({condition_text(key)}) never {outcome}")
    return out


def main():
    args = sys.argv[1:]
    listing = "--list" in args
    gate = None
    if "--gate" in args:
        at = args.index("--gate")
        gate = (float(args[at + 1]), float(args[at + 2]))
        del args[at:at + 3]
    args = [a for a in args if a != "--list"]
    profdata, objects = args[0], args[1:]

    lines = read_lines(profdata, objects)
    branches = read_branches(profdata, objects)
    apply_exclusions(lines, branches, read_exclusions())

    per_file = {}
    for (name, _), run in lines.items():
        t = per_file.setdefault(name, [0, 0, 0, 0])
        t[0] += run
        t[1] += 1
    for key, taken in branches.items():
        t = per_file.setdefault(key[0], [0, 0, 0, 0])
        for flag in taken:
            if flag is not None:
                t[2] += flag
                t[3] += 1
    for name, (lr, lt, bt, bn) in sorted(per_file.items()):
        lpct = f"{100.0 * lr / lt:6.1f}%" if lt else "     -"
        bpct = f"{100.0 * bt / bn:6.1f}%" if bn else "     -"
        print(f"{name:36s} lines {lpct} of {lt:5d}   branches {bpct} of {bn:5d}")
    if listing:
        print("\n".join(uncovered(lines, branches, set(per_file))))

    run = sum(t[0] for t in per_file.values())
    total_lines = sum(t[1] for t in per_file.values())
    taken = sum(t[2] for t in per_file.values())
    total_branches = sum(t[3] for t in per_file.values())
    line_pct = 100.0 * run / max(1, total_lines)
    branch_pct = 100.0 * taken / max(1, total_branches)
    failed = gate is not None and (line_pct < gate[0] or branch_pct < gate[1])
    if failed:
        short = {name for name, (lr, lt, bt, bn) in per_file.items()
                 if (lt and 100.0 * lr / lt < gate[0]) or (bn and 100.0 * bt / bn < gate[1])}
        print(f"\nmake coverage: below the gate of {gate[0]:g}% of lines and {gate[1]:g}% of "
              f"branch outcomes: lines {run} of {total_lines} run ({line_pct:.2f}%), branch "
              f"outcomes {taken} of {total_branches} taken ({branch_pct:.2f}%). What the files "
              f"short of the gate leave uncovered (test it, or list it with its reason in "
              f"{DOC}):")
        if not listing:
            print("\n".join(uncovered(lines, branches, short)))
    print(f"coverage: lines {line_pct:.1f}% branches {branch_pct:.1f}%")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
