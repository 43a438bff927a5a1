# Line and branch coverage of lib/ by the C suites, and its gate
# (docs/coverage.md). Included by the top Makefile; `make check` runs it.
#
# clang's source-based coverage: the counters are placed by the compiler's
# front end on the source's lines and conditions, so what is measured does
# not depend on the optimisation level or on what the optimiser inlined or
# duplicated (docs/coverage.md says why not gcov's branch counts).
# Every process writes its counts into one file per instrumented binary
# (%m: merged in place), which llvm-profdata merges into one profile.

# Its own folder: objects of another build's flags (the gcov build that
# this target once made) must not be linked in.
COVERAGE_BUILD := $(BUILD)/coverage-clang
COVERAGE_FLAGS := -fprofile-instr-generate -fcoverage-mapping
# The gate: percentages of lines and of branch outcomes, after the
# exclusions of docs/coverage.md.
COVERAGE_GATE  := 99 90
# The binaries that hold lib/'s code: the shared library, and the suites
# that link the static one (tests/tests.mk).
COVERAGE_OBJECTS = $(COVERAGE_BUILD)/librpo.so \
    $(patsubst $(BUILD)/%,$(COVERAGE_BUILD)/%,$(STATIC_TEST_BINS)) \
    $(COVERAGE_BUILD)/tests/test_alloc_failure

.PHONY: coverage
CHECK_TARGETS += coverage
## coverage: run the C suites on a coverage build; print lib/'s line and branch coverage last, fail below the gate
coverage:
	@rm -rf $(COVERAGE_BUILD)/profiles && mkdir -p $(COVERAGE_BUILD)/profiles
	@LLVM_PROFILE_FILE=$(abspath $(COVERAGE_BUILD))/profiles/%m.profraw \
	    $(MAKE) --no-print-directory -s CC=clang BUILD=$(COVERAGE_BUILD) \
	    CFLAGS="-O1 -g $(COVERAGE_FLAGS)" LDFLAGS="$(COVERAGE_FLAGS)" \
	    check-c >$(COVERAGE_BUILD)/suites.log 2>&1 \
	    || { tail -n 40 $(COVERAGE_BUILD)/suites.log; exit 1; }
	@llvm-profdata merge -sparse -o $(COVERAGE_BUILD)/suites.profdata \
	    $(COVERAGE_BUILD)/profiles/*.profraw
	@/usr/bin/python3 tests/coverage/summary.py --gate $(COVERAGE_GATE) $(COVERAGE_ARGS) \
	    $(COVERAGE_BUILD)/suites.profdata $(COVERAGE_OBJECTS)
