"""docs/ links to include/rpo.h instead of copying its prototypes.

The header is the one copy of each function's signature (docs/api.md is a
guide that names the functions and shows calls). This fails when a Markdown
file under docs/ declares a function rpo.h declares: a return type followed
by the function's name and "(", as in `int rpo_loss_f32(` or
`const char *rpo_status_string(`. Calls (`status = rpo_loss_f32(`,
`(void)rpo_ctx_set(`) do not match.

Run from the project root: python3 tests/check_docs.py
"""
import pathlib
import re
import sys

HEADER = pathlib.Path("include/rpo.h")
DOCS = pathlib.Path("docs")

# A declaration in rpo.h: RPO_API, a return type, the name, "(".
DECLARED = re.compile(r"^RPO_API\s+[\w\s]*?\**\s*(rpo_\w+)\s*\(", re.M)
# The same shape anywhere in a doc: a C type word, stars, the name, "(".
TYPE = r"(?:int|unsigned|void|char|double|float|size_t|rpo_ctx|const)"


def main():
    header = HEADER.read_text()
    names = set(DECLARED.findall(header))
    # the static-linking-only functions are declared without RPO_API
    names |= set(re.findall(r"^(?:int|void|const char \*)\s*\**(rpo_\w+)\s*\(",
                            header, re.M))
    if not names:
        print("check_docs: found no declarations in include/rpo.h", file=sys.stderr)
        return 1
    pattern = re.compile(r"\b%s\s*\**\s*(%s)\s*\(" % (TYPE, "|".join(sorted(names))))
    found = []
    for doc in sorted(DOCS.glob("*.md")):
        for number, line in enumerate(doc.read_text().splitlines(), 1):
            for match in pattern.finditer(line):
                found.append("%s:%d: declares %s: link to include/rpo.h instead"
                             % (doc, number, match.group(1)))
    if found:
        print("\n".join(found), file=sys.stderr)
        return 1
    print("check_docs: docs/ declares none of rpo.h's %d functions" % len(names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
