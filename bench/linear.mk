# The fused linear log-probs against PyTorch eager (bench/bench_linear.c,
# bench/compare_linear.py). Not part of `make check`, which only builds the
# program (with -Werror, under gcc and clang) so that it cannot rot.
# Included by the top Makefile.
#
# bench_linear times the library's chunk products by calling them itself
# (its `products` mode), so it links librpo.a and sees lib/'s headers;
# with OpenBLAS (BENCH_CBLAS_*, bench/bench.mk) it times cblas_sgemm on the
# same chunks beside them.

.PHONY: bench-linear
WERROR_TARGETS += $(BUILD)/bench/bench_linear

$(BUILD)/bench/bench_linear: bench/bench_linear.c $(LIB_HDR) $(BUILD)/librpo.a
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) -DRPO_STATIC_LINKING_ONLY $(addprefix -I,$(LIB_DIRS)) \
	    $(BENCH_CBLAS_CFLAGS) -o $@ $< $(BUILD)/librpo.a $(LDLIBS) $(BENCH_CBLAS_LIBS)

## bench-linear: fused linear log-probs against PyTorch eager at a GPT-2 small head
bench-linear: $(BUILD)/bench/bench_linear $(LIB_FILES)
	/usr/bin/python3 bench/compare_linear.py $(BUILD)/bench/bench_linear
