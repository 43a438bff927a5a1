# Timing of the 1.2 paths (bench/bench_beyond.c, docs/beyond.md). Not part
# of `make check`, which only builds the program (with -Werror, under gcc
# and clang) so that it cannot rot. Included by the top Makefile after
# bench/tokens.mk, whose rule builds bench/*.c.

.PHONY: bench-beyond
WERROR_TARGETS += $(BUILD)/bench/bench_beyond

## bench-beyond: time the 1.2 paths: loss family, Sinkhorn, embedding gradients
bench-beyond: $(BUILD)/bench/bench_beyond
	$(BUILD)/bench/bench_beyond

# Related-prompt batches (bench/bench_batching.c): time at P = 100000,
# D = 384, B = 32 on one thread, and the mean within-batch cosine of its
# batches against random ones on clustered data. `make bench` runs it too.
.PHONY: bench-batching
WERROR_TARGETS += $(BUILD)/bench/bench_batching

## bench-batching: related-prompt batches at P = 100000, D = 384: time and batch similarity
bench-batching: $(BUILD)/bench/bench_batching
	$(BUILD)/bench/bench_batching
bench: bench-batching

# Peak memory of rpo.torch.cached_backward against one backward pass
# (bench/cached_memory.py): grows with the micro-batch, not the batch.
.PHONY: bench-cached
## bench-cached: peak memory of cached micro-batches against one backward pass
bench-cached: $(LIB_FILES)
	$(PYTHON_ENV) $(PYTHON) bench/cached_memory.py
