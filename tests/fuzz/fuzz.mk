# The libFuzzer harness of the public API (docs/hardening.md). Included by
# the top Makefile; `make check` runs `make check-fuzz`.
#
#   make check-fuzz              the committed corpus, then FUZZ_SECONDS (60)
#                                of fuzzing; any finding fails
#   make fuzz FUZZ_SECONDS=14400 the same for as long as you like; add
#                                FUZZ_FLAGS=-fork=2 to use two cores
#   make fuzz-merge              folds what a long run found into the
#                                committed seeds, minimised to edge cover
#
# The library is built by the Makefile's own rules with clang, coverage
# instrumentation and the address and undefined-behaviour sanitizers into
# $(FUZZ_BUILD), the harness is linked against that librpo.a. New inputs
# go to $(FUZZ_BUILD)/corpus; a crash is saved as $(FUZZ_BUILD)/crash-*,
# and `$(FUZZ_BIN) FILE` replays it.

FUZZ_BUILD := $(BUILD)/fuzz
FUZZ_BIN   := $(FUZZ_BUILD)/fuzz_api
FUZZ_SAN   := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_SECONDS ?= 60
FUZZ_FLAGS ?=
FUZZ_RUN = $(FUZZ_BIN) -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
           -print_final_stats=1 -artifact_prefix=$(FUZZ_BUILD)/ $(FUZZ_FLAGS)

.PHONY: fuzz-build check-fuzz fuzz fuzz-merge
CHECK_TARGETS += check-fuzz

## fuzz-build: build the libFuzzer harness
fuzz-build:
	@$(MAKE) --no-print-directory -s CC=clang BUILD=$(FUZZ_BUILD) \
	    CFLAGS="-O1 -g $(FUZZ_SAN) -fsanitize=fuzzer-no-link" $(FUZZ_BUILD)/librpo.a
	@clang $(STD) $(WARNINGS) -Werror -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer \
	    -D_POSIX_C_SOURCE=200809L -Iinclude -Itests/fuzz $(wildcard tests/fuzz/*.c) \
	    $(FUZZ_BUILD)/librpo.a -lm -pthread -o $(FUZZ_BIN)

## check-fuzz: fuzz the API for FUZZ_SECONDS from the committed corpus
## fuzz: fuzz the API until stopped or FUZZ_SECONDS (docs/hardening.md)
check-fuzz fuzz: fuzz-build
	@mkdir -p $(FUZZ_BUILD)/corpus
	@echo "== fuzzing the API for $(FUZZ_SECONDS) s (corpus: tests/fuzz/corpus)"
	@$(FUZZ_RUN) -max_total_time=$(FUZZ_SECONDS) $(FUZZ_BUILD)/corpus tests/fuzz/corpus

# The committed seeds are the smallest set that keeps every covered edge
# (hit counts and comparison features are left to the working corpus), so
# they stay a few hundred bytes.
## fuzz-merge: shrink the working corpus into tests/fuzz/corpus
fuzz-merge: fuzz-build
	@rm -rf $(FUZZ_BUILD)/merged && mkdir -p $(FUZZ_BUILD)/merged $(FUZZ_BUILD)/corpus
	@$(FUZZ_RUN) -merge=1 -use_counters=0 -use_cmp=0 $(FUZZ_BUILD)/merged \
	    tests/fuzz/corpus $(FUZZ_BUILD)/corpus
	@rm -f tests/fuzz/corpus/* && cp $(FUZZ_BUILD)/merged/* tests/fuzz/corpus/
	@echo "tests/fuzz/corpus: $$(ls tests/fuzz/corpus | wc -l) inputs, $$(du -sk tests/fuzz/corpus | cut -f1) KiB; review and commit"
