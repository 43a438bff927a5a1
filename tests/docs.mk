# The guides' code runs, so the docs cannot rot:
#   docs/c-trainer.md  its c blocks, concatenated in order, are one program,
#                      compiled here with -Werror against this build and run
#   docs/pytorch.md    run by examples/python/tests/test_docs.py (check-python)
#   docs/rust.md       run as doc tests of the crate (check-rust)
# Included by the top Makefile.

.PHONY: check-docs
CHECK_TARGETS += check-docs

$(BUILD)/docs/c_trainer.c: docs/c-trainer.md
	@mkdir -p $(@D)
	awk '/^```c$$/ {on = 1; next} /^```$$/ {on = 0} on' $< > $@

$(BUILD)/docs/c_trainer: $(BUILD)/docs/c_trainer.c include/rpo.h $(LIB_FILES)
	$(CC) $(PROG_CFLAGS) -Werror -o $@ $< $(PROG_LDFLAGS) -lrpo $(LDLIBS)

## check-docs: the docs' code blocks compile and run as shown
check-docs: $(BUILD)/docs/c_trainer
	@$(BUILD)/docs/c_trainer
	@echo "docs/c-trainer.md: its program builds without a warning and runs"
