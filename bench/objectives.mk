# Timing of rpo_objective_* against the plain call (bench/bench_objectives.c,
# docs/objectives.md); `make bench` prints the ratio first. Not part of
# `make check`, which only builds the program (with -Werror, under gcc and
# clang) so that it cannot rot. Included by the top Makefile after
# bench/tokens.mk, whose rule builds bench/*.c.

.PHONY: bench-objectives
WERROR_TARGETS += $(BUILD)/bench/bench_objectives

## bench-objectives: an objective with lengths, weights and two terms against the plain call (4096 x 4096)
bench-objectives: $(BUILD)/bench/bench_objectives
	$(BUILD)/bench/bench_objectives

bench: bench-objectives
