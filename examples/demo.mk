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
