# The kernel-variant and thread tests (tests/test_kernels.c,
# tests/test_beyond_engine.c for the paths of 1.2, tests/test_token_kernels.c,
# tests/test_linear.c, tests/test_objectives.c and tests/test_losses_grad.c
# for those of 1.3) choose kernel sets with
# rpo_ctx_use_kernels, which is static-linking-only: these suites link
# librpo.a instead of the shared library. Included by the top Makefile
# after tests.mk, whose TEST_BINS already lists them.

STATIC_TEST_BINS := $(BUILD)/tests/test_kernels $(BUILD)/tests/test_beyond_engine \
                    $(BUILD)/tests/test_linear \
                    $(BUILD)/tests/test_objectives \
                    $(BUILD)/tests/test_losses_grad \
                    $(BUILD)/tests/test_token_kernels
$(STATIC_TEST_BINS): $(BUILD)/tests/test_%: tests/test_%.c $(wildcard tests/*.h) $(TEST_COMMON) $(BUILD)/librpo.a
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -o $@ $< $(TEST_COMMON) $(BUILD)/librpo.a \
	    $(CMOCKA_LIBS) $(LDLIBS)

# The CBLAS build (make USE_CBLAS=1, in its own folder): the C suites must
# pass there too, and it must export exactly the symbols of the default
# build (the header and the ABI do not depend on the option).
.PHONY: check-cblas
CHECK_TARGETS += check-cblas
## check-cblas: the suites against a USE_CBLAS=1 build
check-cblas: lib
	@$(MAKE) --no-print-directory USE_CBLAS=1 BUILD=$(BUILD)/cblas check-c
	@nm -D --defined-only $(BUILD)/$(SHLIB) | awk '{print $$NF}' | sort > $(BUILD)/exports.txt
	@nm -D --defined-only $(BUILD)/cblas/$(SHLIB) | awk '{print $$NF}' | sort > $(BUILD)/cblas/exports.txt
	@cmp -s $(BUILD)/exports.txt $(BUILD)/cblas/exports.txt || \
	    { echo "check-cblas: the CBLAS build exports other symbols"; \
	      diff $(BUILD)/exports.txt $(BUILD)/cblas/exports.txt; exit 1; }
	@echo "check-cblas: the CBLAS build passes and exports the same symbols"
