# Benchmarks (bench/). Timing never runs in `make check`; check only builds
# the bench program (through the -Werror builds) so it cannot rot.
#
#   make bench          the full sweep (several minutes; bench/bench.c)
#   make bench-quick    a short sweep (a minute or so)
#   make bench-torch    librpo against PyTorch on the issue's target shapes
#                       (bench/compare_torch.py; add ARGS=--full for all)
#   make bench-python   what a PyTorch user pays: RPOLoss, the bare C call
#                       and PyTorch eager side by side (bench/bench_python.py;
#                       ARGS=--full for every compare_torch.py --full shape)
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
bench-python: $(LIB_FILES)
	RPO_LIBRARY=$(abspath $(BUILD)/$(SONAME)) PYTHONPATH=examples/python \
	    PYTHONPYCACHEPREFIX=$(abspath $(BUILD)/pycache) \
	    $(PYTHON) bench/bench_python.py $(ARGS)

# bit_digest (bench/bit_digest.c): one 64-bit digest per family of entry
# points over many configurations. Not a benchmark: it prints no time, and
# two builds give the same lines exactly when their results are bitwise
# identical (docs/hardening.md). Links librpo.a for the kernel choice.
BIT_DIGEST_BIN := $(BUILD)/bench/bit_digest
$(BIT_DIGEST_BIN): bench/bit_digest.c tests/vectors.c tests/vectors.h include/rpo.h $(BUILD)/librpo.a
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) -Itests -o $@ $< tests/vectors.c $(BUILD)/librpo.a $(LDLIBS)

WERROR_TARGETS += $(BIT_DIGEST_BIN)

.PHONY: bit-digest
## bit-digest: print one digest of the results per family of entry points (compare two builds)
bit-digest: $(BIT_DIGEST_BIN)
	$(BIT_DIGEST_BIN)
