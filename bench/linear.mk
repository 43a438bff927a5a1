# The fused linear log-probs against PyTorch eager (bench/bench_linear.c,
# bench/compare_linear.py). Not part of `make check`, which only builds the
# program (with -Werror, under gcc and clang) so that it cannot rot.
# Included by the top Makefile.

.PHONY: bench-linear
WERROR_TARGETS += $(BUILD)/bench/bench_linear

## bench-linear: fused linear log-probs against PyTorch eager at a GPT-2 small head
bench-linear: $(BUILD)/bench/bench_linear $(LIB_FILES)
	LD_LIBRARY_PATH=$(BUILD) /usr/bin/python3 bench/compare_linear.py $(BUILD)/bench/bench_linear
