# The conformance vectors live in this repository (tests/data/vectors.txt,
# origin in tests/data/README.md). Upstream publishes them beside the
# project root; where that copy exists, the two must be identical, so a new
# upstream version cannot go unnoticed. Included by the top Makefile.

UPSTREAM_VECTORS ?= ../shared/conformance/vectors.txt

.PHONY: check-vectors
CHECK_TARGETS += check-vectors

# check-vectors: fail if the upstream conformance vectors beside the project differ from tests/data/vectors.txt
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
