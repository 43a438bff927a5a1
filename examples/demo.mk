# `make demo` as a test: both example programs run and succeed, and
# train_toy prints the table README.md shows (so the README cannot go
# stale): the same words, and numbers within 0.002, which a different CPU's
# kernels or libm cannot move but a change of the program or the library's
# results would. Included by the top Makefile.

.PHONY: check-demo
CHECK_TARGETS += check-demo

README_TOY = sed -n '/<!-- train_toy output: begin -->/,/<!-- train_toy output: end -->/p' \
             README.md | sed -e '1,2d' -e '$$d' | sed -e '$$d'

## check-demo: make demo's output must match README's copy
check-demo: $(BUILD)/examples/demo $(BUILD)/examples/train_toy
	@$(BUILD)/examples/demo > $(BUILD)/examples/demo.out
	@$(BUILD)/examples/train_toy > $(BUILD)/examples/train_toy.out
	@$(README_TOY) > $(BUILD)/examples/train_toy.readme
	@awk -v tol=0.002 -f tests/same_table.awk $(BUILD)/examples/train_toy.readme \
	    $(BUILD)/examples/train_toy.out \
	    || { echo "README.md's train_toy output differs from the program's:" \
	              "update README.md"; exit 1; }
	@echo "demo and train_toy ran; README.md shows train_toy's output"

# The evidence of docs/beyond.md's section 10: the toy task over seeds, five
# ways to train on it (examples/experiment.c). Not part of `make demo`: it
# takes seconds, not a moment; README.md and docs/beyond.md show its table.
.PHONY: experiment check-experiment
CHECK_TARGETS += check-experiment

## experiment: train the toy task over seeds with DPO and RPO's 1.3 features; print the table
experiment: $(BUILD)/examples/experiment
	$(BUILD)/examples/experiment

# A smoke run (2 seeds, 40 steps): the program runs, its cached micro-batches
# equal one large step (it checks that itself), and every row of both tables
# holds numbers, none of them nan or inf.
EXPERIMENT_ROWS = 17
## check-experiment: a 2-seed smoke run of make experiment: runs, every row finite
check-experiment: $(BUILD)/examples/experiment
	@$(BUILD)/examples/experiment 2 40 > $(BUILD)/examples/experiment.out
	@awk -v want=$(EXPERIMENT_ROWS) \
	    '/^\(/ { rows++; if (tolower($$0) ~ /nan|inf/ || $$0 !~ /[0-9]\.[0-9][0-9][0-9]/) bad = bad "\n" $$0 } \
	     END { if (rows != want || bad != "") { printf "experiment: %d rows, want %d%s\n", rows, want, bad; exit 1 } }' \
	    $(BUILD)/examples/experiment.out
	@echo "experiment: the smoke run printed $(EXPERIMENT_ROWS) rows of finite numbers"
