# check-vectors: the in-repository conformance vectors equal upstream's.
# Included by the top Makefile. Every suite reads tests/data/vectors.txt
# (origin in tests/data/README.md), so a clone with nothing beside it tests
# itself. Upstream publishes the vectors beside the project root; where that
# copy exists the two must be identical, so a new upstream version cannot go
# unnoticed. This recipe is the only place in the project that looks outside
# the repository, and only to compare (RPO_UPSTREAM_VECTORS names another
# copy).

.PHONY: check-vectors
CHECK_TARGETS += check-vectors

## check-vectors: the in-repo conformance vectors equal upstream's copy beside the project, where it exists
check-vectors:
	@upstream="$${RPO_UPSTREAM_VECTORS:-../shared/conformance/vectors.txt}"; \
	if [ ! -e "$$upstream" ]; then \
	    echo "check-vectors: skipped, no upstream copy at $$upstream"; \
	elif cmp -s "$$upstream" tests/data/vectors.txt; then \
	    echo "check-vectors: tests/data/vectors.txt is the upstream copy"; \
	else \
	    echo "check-vectors: $$upstream differs from tests/data/vectors.txt;" \
	         "copy the new version into the repository" >&2; exit 1; \
	fi
