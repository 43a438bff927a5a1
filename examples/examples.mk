# The example programs of examples/ (demo.c, train_toy.c, experiment.c).
# Included by the top Makefile; the bindings and the MPI example have their
# own make files in their folders (examples/python, examples/rust,
# examples/mpi).

# Each program links the shared library of the tree, and the other C files
# it depends on (listed below).
$(BUILD)/examples/%: examples/%.c include/rpo.h $(LIB_FILES)
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) -o $@ $(filter %.c,$^) $(PROG_LDFLAGS) -lrpo $(LDLIBS)
# train_toy and experiment share the toy task and its policy.
$(BUILD)/examples/train_toy $(BUILD)/examples/experiment: examples/toy_task.c examples/toy_task.h

WERROR_TARGETS += $(BUILD)/examples/demo $(BUILD)/examples/train_toy \
    $(BUILD)/examples/experiment

.PHONY: demo check-demo
CHECK_TARGETS += check-demo

# The built-in batch, then a small policy trained end to end (train_toy).
## demo: run librpo on a built-in batch, then train a toy policy
demo: $(BUILD)/examples/demo $(BUILD)/examples/train_toy
	$(BUILD)/examples/demo
	$(BUILD)/examples/train_toy

# `make demo` as a test: both programs run and succeed, and train_toy
# prints the table README.md shows, and demo the LM head section it shows
# (so the README cannot go stale): the same words, and numbers within
# 0.002, which a different CPU's kernels or libm cannot move but a change
# of the program or the library's results would.
# README's copy of one output: the fenced block between its markers.
readme_block = sed -n '/<!-- $(1) output: begin -->/,/<!-- $(1) output: end -->/p' \
               README.md | sed -e '1,2d' -e '$$d' | sed -e '$$d'

## check-demo: make demo's output must match README's copy
check-demo: $(BUILD)/examples/demo $(BUILD)/examples/train_toy
	@$(BUILD)/examples/demo > $(BUILD)/examples/demo.out
	@$(BUILD)/examples/train_toy > $(BUILD)/examples/train_toy.out
	@$(call readme_block,train_toy) > $(BUILD)/examples/train_toy.readme
	@awk -v tol=0.002 -f tests/support/same_table.awk $(BUILD)/examples/train_toy.readme \
	    $(BUILD)/examples/train_toy.out \
	    || { echo "README.md's train_toy output differs from the program's:" \
	              "update README.md"; exit 1; }
	@$(call readme_block,demo lm head) > $(BUILD)/examples/demo_lm_head.readme
	@sed -n '/^LM head:/,$$p' $(BUILD)/examples/demo.out > $(BUILD)/examples/demo_lm_head.out
	@awk -v tol=0.002 -f tests/support/same_table.awk $(BUILD)/examples/demo_lm_head.readme \
	    $(BUILD)/examples/demo_lm_head.out \
	    || { echo "README.md's demo LM head output differs from the program's:" \
	              "update README.md"; exit 1; }
	@echo "demo and train_toy ran; README.md shows train_toy's output and demo's LM head"

# The evidence of docs/extensions.md's section 11: the toy task over seeds,
# trained with DPO and with RPO's 1.3 features at several step sizes
# (examples/experiment.c). Not part of `make demo`: it takes a minute, not
# a moment; README.md and docs/extensions.md show its tables.
.PHONY: experiment check-experiment
CHECK_TARGETS += check-experiment

## experiment: train the toy task over seeds with DPO and RPO's 1.3 features; print the table
experiment: $(BUILD)/examples/experiment
	$(BUILD)/examples/experiment

# A smoke run (2 seeds, 40 steps, a few seconds): the program runs, its
# cached micro-batches equal one large step (it checks that itself), and
# every row of its three tables (one per arm in the first two, one per
# feature in the third) holds numbers, none of them nan or inf.
EXPERIMENT_ROWS = 20
## check-experiment: a 2-seed smoke run of make experiment: runs, every row finite
check-experiment: $(BUILD)/examples/experiment
	@$(BUILD)/examples/experiment 2 40 > $(BUILD)/examples/experiment.out
	@awk -v want=$(EXPERIMENT_ROWS) \
	    '/^\(/ { rows++; if (tolower($$0) ~ /nan|inf/ || $$0 !~ /[0-9]\.[0-9][0-9][0-9]/) bad = bad "\n" $$0 } \
	     END { if (rows != want || bad != "") { printf "experiment: %d rows, want %d%s\n", rows, want, bad; exit 1 } }' \
	    $(BUILD)/examples/experiment.out
	@echo "experiment: the smoke run printed $(EXPERIMENT_ROWS) rows of finite numbers"
