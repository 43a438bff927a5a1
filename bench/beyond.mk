# Timing of the 1.2 paths (bench/bench_beyond.c, docs/beyond.md). Not part
# of `make check`, which only builds the program (with -Werror, under gcc
# and clang) so that it cannot rot. Included by the top Makefile after
# bench/tokens.mk, whose rule builds bench/*.c.

.PHONY: bench-beyond
WERROR_TARGETS += $(BUILD)/bench/bench_beyond

## bench-beyond: time the 1.2 paths: loss family, Sinkhorn, embedding gradients
bench-beyond: $(BUILD)/bench/bench_beyond
	$(BUILD)/bench/bench_beyond
