# `make demo` as a test: both example programs run and succeed, and
# train_toy prints the table README.md shows, and demo the LM head section
# it shows (so the README cannot go stale): the same words, and numbers within 0.002, which a different CPU's
# kernels or libm cannot move but a change of the program or the library's
# results would. Included by the top Makefile.

.PHONY: check-demo
CHECK_TARGETS += check-demo

# README's copy of one output: the fenced block between its markers.
readme_block = sed -n '/<!-- $(1) output: begin -->/,/<!-- $(1) output: end -->/p' \
               README.md | sed -e '1,2d' -e '$$d' | sed -e '$$d'

## check-demo: make demo's output must match README's copy
check-demo: $(BUILD)/examples/demo $(BUILD)/examples/train_toy
	@$(BUILD)/examples/demo > $(BUILD)/examples/demo.out
	@$(BUILD)/examples/train_toy > $(BUILD)/examples/train_toy.out
	@$(call readme_block,train_toy) > $(BUILD)/examples/train_toy.readme
	@awk -v tol=0.002 -f tests/same_table.awk $(BUILD)/examples/train_toy.readme \
	    $(BUILD)/examples/train_toy.out \
	    || { echo "README.md's train_toy output differs from the program's:" \
	              "update README.md"; exit 1; }
	@$(call readme_block,demo lm head) > $(BUILD)/examples/demo_lm_head.readme
	@sed -n '/^LM head:/,$$p' $(BUILD)/examples/demo.out > $(BUILD)/examples/demo_lm_head.out
	@awk -v tol=0.002 -f tests/same_table.awk $(BUILD)/examples/demo_lm_head.readme \
	    $(BUILD)/examples/demo_lm_head.out \
	    || { echo "README.md's demo LM head output differs from the program's:" \
	              "update README.md"; exit 1; }
	@echo "demo and train_toy ran; README.md shows train_toy's output and demo's LM head"
