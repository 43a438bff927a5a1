# Line and branch coverage of lib/ by the C suites (gcov). Included by the
# top Makefile. Not yet part of `make check`: the gate of 99% of lines and
# 90% of branches waits until lib/ reaches it (docs/hardening.md lists
# what is not covered and why).

COVERAGE_BUILD := $(BUILD)/coverage

.PHONY: coverage
## coverage: run the C suites on a --coverage build; print lib/'s line and branch coverage last
coverage:
	@rm -f $$(find $(COVERAGE_BUILD) -name '*.gcda' 2>/dev/null)
	@$(MAKE) --no-print-directory -s BUILD=$(COVERAGE_BUILD) \
	    CFLAGS="-O1 -g --coverage" LDFLAGS="--coverage" check-c >$(COVERAGE_BUILD).log 2>&1 \
	    || { tail -n 40 $(COVERAGE_BUILD).log; exit 1; }
	@/usr/bin/python3 tests/coverage/summary.py $(COVERAGE_BUILD) $(COVERAGE_ARGS)
