# Benchmarks (bench/). Included by the top Makefile. Timing never runs in
# `make check`, which only builds each program (through the -Werror builds,
# under gcc and clang: WERROR_TARGETS) so that none can rot.
#
#   make bench          bench-objectives and bench-batching, then the full
#                       sweep (several minutes; bench/bench.c)
#   make bench-quick    a short sweep (a minute or so)
#   make bench-torch    librpo against PyTorch on the issue's target shapes
#                       (bench/compare_torch.py; add ARGS=--full for all)
#   make bench-python   what a PyTorch user pays: RPOLoss, the bare C call
#                       and PyTorch eager side by side (bench/bench_python.py;
#                       ARGS=--full for every compare_torch.py --full shape)
#   make bench-tokens, bench-linear, bench-extensions, bench-batching,
#        bench-objectives, bench-cached   one path each (below)
# BENCH_ARGS passes options to rpo_bench, e.g. BENCH_ARGS="--threads 2 --blas".
#
# The bench links librpo.a (it uses the static-linking-only
# rpo_similarity_*) and, when pkg-config finds OpenBLAS, OpenBLAS too, to
# time cblas_?syrk / ?gemm alone beside librpo's similarity stage (--blas).

BENCH_BIN := $(BUILD)/bench/rpo_bench
BENCH_ARGS ?=
ifeq ($(shell pkg-config --exists openblas 2>/dev/null && echo yes),yes)
BENCH_CBLAS_CFLAGS := -DBENCH_CBLAS $(shell pkg-config --cflags openblas)
BENCH_CBLAS_LIBS   := $(shell pkg-config --libs openblas)
# `make bench` then shows OpenBLAS beside the native similarity stage (the
# "blas x" column: the stage's time over OpenBLAS's on the same rows), so
# that whether `make USE_CBLAS=1` would help this machine is read off the
# sweep (docs/performance.md, "When USE_CBLAS=1 helps"). OpenBLAS gets one
# thread, as librpo by default; with --threads N in BENCH_ARGS, set
# OPENBLAS_NUM_THREADS=N too.
BENCH_BLAS := --blas
BENCH_BLAS_ENV := OPENBLAS_NUM_THREADS=$${OPENBLAS_NUM_THREADS:-1}
endif

$(BENCH_BIN): bench/bench.c include/rpo.h $(BUILD)/librpo.a
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(BENCH_CBLAS_CFLAGS) -o $@ $< $(BUILD)/librpo.a \
	    $(LDLIBS) $(BENCH_CBLAS_LIBS)

WERROR_TARGETS += $(BENCH_BIN)

# The other programs, bench/bench_*.c, link the shared library of the tree.
$(BUILD)/bench/%: bench/%.c include/rpo.h $(LIB_FILES)
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) -o $@ $< $(PROG_LDFLAGS) -lrpo $(LDLIBS)

.PHONY: bench bench-quick bench-torch bench-python
## bench: time librpo against the FMA and memory floors (BENCH_ARGS)
bench: $(BENCH_BIN)
	$(BENCH_BLAS_ENV) $(BENCH_BIN) $(BENCH_BLAS) $(BENCH_ARGS)

## bench-quick: a shorter bench
bench-quick: $(BENCH_BIN)
	$(BENCH_BLAS_ENV) $(BENCH_BIN) --quick $(BENCH_BLAS) $(BENCH_ARGS)

## bench-torch: librpo against PyTorch eager on the same inputs (ARGS)
bench-torch: $(BENCH_BIN)
	/usr/bin/python3 bench/compare_torch.py --bench $(BENCH_BIN) $(ARGS)

## bench-python: RPOLoss, the bare C call and PyTorch eager side by side (ARGS=--full)
bench-python: $(LIB_FILES) $(PY_NATIVE) $(PY_AUTOGRAD)
	RPO_LIBRARY=$(abspath $(BUILD)/$(SONAME)) PYTHONPATH=examples/python \
	    PYTHONPYCACHEPREFIX=$(abspath $(BUILD)/pycache) \
	    $(PYTHON) bench/bench_python.py $(ARGS)

# ---------------------------------------------------------------- token helpers
# The token-level helpers (bench/bench_tokens.c) and PyTorch eager on the
# same logits (bench/tokens_torch.py).
.PHONY: bench-tokens
WERROR_TARGETS += $(BUILD)/bench/bench_tokens

## bench-tokens: token helpers at T = 1024, V = 50257: the memory floor, 2 threads vs 1, PyTorch eager
bench-tokens: $(BUILD)/bench/bench_tokens
	@dir=$$(mktemp -d) && trap 'rm -rf "$$dir"' EXIT && \
	    $(BUILD)/bench/bench_tokens --dump "$$dir" && \
	    /usr/bin/python3 bench/tokens_torch.py "$$dir"

# ---------------------------------------------------------------- fused linear
# The fused linear log-probs against PyTorch eager (bench/bench_linear.c,
# bench/compare_linear.py). bench_linear also times the library's chunk
# products by calling them itself (its `products` mode), so it links
# librpo.a and sees lib/'s headers; with OpenBLAS it times cblas_sgemm on
# the same chunks beside them.
.PHONY: bench-linear
WERROR_TARGETS += $(BUILD)/bench/bench_linear

$(BUILD)/bench/bench_linear: bench/bench_linear.c $(LIB_HDR) $(BUILD)/librpo.a
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) -DRPO_STATIC_LINKING_ONLY $(addprefix -I,$(LIB_DIRS)) \
	    $(BENCH_CBLAS_CFLAGS) -o $@ $< $(BUILD)/librpo.a $(LDLIBS) $(BENCH_CBLAS_LIBS)

## bench-linear: fused linear log-probs against PyTorch eager at a GPT-2 small head, and its three products alone (with OpenBLAS beside them)
bench-linear: $(BUILD)/bench/bench_linear $(LIB_FILES)
	/usr/bin/python3 bench/compare_linear.py $(BUILD)/bench/bench_linear

# ---------------------------------------------------------------- the 1.2 paths
# The loss family, Sinkhorn and embedding gradients (bench/bench_extensions.c,
# docs/extensions.md).
.PHONY: bench-extensions
WERROR_TARGETS += $(BUILD)/bench/bench_extensions

## bench-extensions: time the extensions: loss family, Sinkhorn, embedding gradients
bench-extensions: $(BUILD)/bench/bench_extensions
	$(BUILD)/bench/bench_extensions

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

# ---------------------------------------------------------------- objectives
# rpo_objective_* against the plain call (bench/bench_objectives.c,
# docs/objectives.md); `make bench` prints the ratio first.
.PHONY: bench-objectives
WERROR_TARGETS += $(BUILD)/bench/bench_objectives

## bench-objectives: an objective with lengths, weights and two terms against the plain call (4096 x 4096)
bench-objectives: $(BUILD)/bench/bench_objectives
	$(BUILD)/bench/bench_objectives

bench: bench-objectives

# ---------------------------------------------------------------- bit digest
# bit_digest (bench/bit_digest.c): one 64-bit digest per family of entry
# points over many configurations. Not a benchmark: it prints no time, and
# two builds give the same lines exactly when their results are bitwise
# identical (docs/hardening.md). Links librpo.a for the kernel choice.
BIT_DIGEST_BIN := $(BUILD)/bench/bit_digest
$(BIT_DIGEST_BIN): bench/bit_digest.c tests/support/vectors.c tests/support/vectors.h include/rpo.h $(BUILD)/librpo.a
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) -Itests/support -o $@ $< tests/support/vectors.c $(BUILD)/librpo.a $(LDLIBS)

WERROR_TARGETS += $(BIT_DIGEST_BIN)

.PHONY: bit-digest
## bit-digest: print one digest of the results per family of entry points (compare two builds)
bit-digest: $(BIT_DIGEST_BIN)
	$(BIT_DIGEST_BIN)
