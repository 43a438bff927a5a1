# The example programs of examples/ (demo.c, train_toy.c). Included by the
# top Makefile; the bindings and the MPI example have their own make files
# in their folders (examples/python, examples/rust, examples/mpi).

# Each program links the shared library of the tree.
$(BUILD)/examples/%: examples/%.c include/rpo.h $(LIB_FILES)
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) -o $@ $< $(PROG_LDFLAGS) -lrpo $(LDLIBS)

WERROR_TARGETS += $(BUILD)/examples/demo $(BUILD)/examples/train_toy

.PHONY: demo check-demo
CHECK_TARGETS += check-demo

# The built-in batch, then a small policy trained end to end (train_toy).
## demo: run librpo on a built-in batch, then train a toy policy
demo: $(BUILD)/examples/demo $(BUILD)/examples/train_toy
	$(BUILD)/examples/demo
	$(BUILD)/examples/train_toy

# `make demo` as a test: both programs run and succeed, and train_toy
# prints the table README.md shows (so the README cannot go stale): the
# same words, and numbers within 0.002, which a different CPU's kernels or
# libm cannot move but a change of the program or the library's results
# would.
README_TOY = sed -n '/<!-- train_toy output: begin -->/,/<!-- train_toy output: end -->/p' \
             README.md | sed -e '1,2d' -e '$$d' | sed -e '$$d'

## check-demo: make demo's output must match README's copy
check-demo: $(BUILD)/examples/demo $(BUILD)/examples/train_toy
	@$(BUILD)/examples/demo > $(BUILD)/examples/demo.out
	@$(BUILD)/examples/train_toy > $(BUILD)/examples/train_toy.out
	@$(README_TOY) > $(BUILD)/examples/train_toy.readme
	@awk -v tol=0.002 -f tests/support/same_table.awk $(BUILD)/examples/train_toy.readme \
	    $(BUILD)/examples/train_toy.out \
	    || { echo "README.md's train_toy output differs from the program's:" \
	              "update README.md"; exit 1; }
	@echo "demo and train_toy ran; README.md shows train_toy's output"
