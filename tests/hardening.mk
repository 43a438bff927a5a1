# Build needs of the hardening suites (docs/hardening.md). Included by the
# top Makefile after tests/tests.mk, whose pattern rule builds every
# tests/test_*.c; this file only adds what some of them need besides.

# The suites judged by the long double reference rebuild when it changes.
HARDENING_REF_HDRS := tests/longref.h tests/refcheck.h
$(BUILD)/tests/test_extremes $(BUILD)/tests/test_shapes: $(HARDENING_REF_HDRS)
