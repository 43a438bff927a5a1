# Timing of the token-level helpers (bench/bench_tokens.c). Not part of
# `make check`, which only builds the program (with -Werror, under gcc and
# clang) so that it cannot rot. Included by the top Makefile.

.PHONY: bench-tokens
WERROR_TARGETS += $(BUILD)/bench/bench_tokens

$(BUILD)/bench/%: bench/%.c include/rpo.h $(LIB_FILES)
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) -o $@ $< $(PROG_LDFLAGS) -lrpo $(LDLIBS)

## bench-tokens: time the token helpers on a GPT-2-sized batch
bench-tokens: $(BUILD)/bench/bench_tokens
	$(BUILD)/bench/bench_tokens
