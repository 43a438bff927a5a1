# The check that the in-repository conformance vectors equal upstream's.
# Included by the top Makefile. It is the one file of the project that
# looks outside the repository (../shared), and only to compare: every
# suite reads tests/data/vectors.txt, so a clone with nothing beside it
# tests itself; it keeps its own file so that the rule is easy to check.
#
# The conformance vectors live in this repository (tests/data/vectors.txt,
# origin in tests/data/README.md). Upstream publishes them beside the
# project root; where that copy exists, the two must be identical, so a new
# upstream version cannot go unnoticed.
UPSTREAM_VECTORS ?= ../shared/conformance/vectors.txt

.PHONY: check-vectors
CHECK_TARGETS += check-vectors

## check-vectors: the in-repo conformance vectors equal ../shared/conformance/vectors.txt when it exists
check-vectors:
	@if [ ! -e $(UPSTREAM_VECTORS) ]; then \
	    echo "check-vectors: skipped, no upstream copy at $(UPSTREAM_VECTORS)"; \
	elif cmp -s $(UPSTREAM_VECTORS) tests/data/vectors.txt; then \
	    echo "check-vectors: tests/data/vectors.txt is the upstream copy"; \
	else \
	    echo "check-vectors: $(UPSTREAM_VECTORS) differs from tests/data/vectors.txt;" \
	         "copy the new version into the repository" >&2; exit 1; \
	fi
