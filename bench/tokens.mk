# Timing of the token-level helpers (bench/bench_tokens.c) and PyTorch
# eager on the same logits (bench/tokens_torch.py). Not part of
# `make check`, which only builds the program (with -Werror, under gcc and
# clang) so that it cannot rot. Included by the top Makefile.

.PHONY: bench-tokens
WERROR_TARGETS += $(BUILD)/bench/bench_tokens

$(BUILD)/bench/%: bench/%.c include/rpo.h $(LIB_FILES)
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) -o $@ $< $(PROG_LDFLAGS) -lrpo $(LDLIBS)

## bench-tokens: token helpers at T = 1024, V = 50257: the memory floor, 2 threads vs 1, PyTorch eager
bench-tokens: $(BUILD)/bench/bench_tokens
	@dir=$$(mktemp -d) && trap 'rm -rf "$$dir"' EXIT && \
	    $(BUILD)/bench/bench_tokens --dump "$$dir" && \
	    /usr/bin/python3 bench/tokens_torch.py "$$dir"
