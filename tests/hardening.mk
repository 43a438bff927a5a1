# Build needs of the hardening suites (docs/hardening.md). Included by the
# top Makefile after tests/tests.mk, whose pattern rule builds every
# tests/test_*.c; this file only adds what some of them need besides.

# The suites judged by the long double reference rebuild when it changes.
HARDENING_REF_HDRS := tests/streamref.h tests/refcheck.h
$(BUILD)/tests/test_extremes $(BUILD)/tests/test_shapes: $(HARDENING_REF_HDRS)

# The thread suite starts POSIX threads.
$(BUILD)/tests/test_threads: LDLIBS += -pthread
$(BUILD)/tests/test_threads $(BUILD)/tests/test_determinism: tests/replay.h
