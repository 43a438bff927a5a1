# The tests of tests/: the C suites (cmocka) and the checks around them.
# Included by the top Makefile; tests/fuzz, tests/abi and tests/coverage
# keep their own make files (each builds the library its own way and has
# its own tools beside it), and tests/data/vectors.mk holds check-vectors,
# the one rule that looks outside the repository.
#
#   check-layout    lib/README.md's include rule (tests/check_layout.py)
#   check-c         every C suite, tests/test_*.c
#   check-warnings  the -Werror builds: gcc and clang, C99 and C11
#   sanitize        every suite under ASan+UBSan (clang, gcc; the examples
#                   too), valgrind, TSan
#   check-cblas     every suite against a USE_CBLAS=1 build
#   check-install   make install into a staging folder, built against
#   check-docs      the C guide's code compiles and runs
#
# `make check` first makes sure the test dependencies are present
# (tests/deps.sh: installs them with apt-get when run as root, otherwise
# says what to install), then runs every suite from the project root,
# where tests/data/vectors.txt is found.

# ---------------------------------------------------------------- the C suites
# Each suite is one program, built against the shared library of the tree.
# The code they share (references, oracles, helpers, the vector reader)
# lives in tests/support/, on the include path, so a suite includes
# "testutil.h" by its name alone.
CMOCKA_CFLAGS = $(shell pkg-config --cflags cmocka 2>/dev/null)
CMOCKA_LIBS   = $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)

TEST_NAMES   := $(patsubst tests/test_%.c,%,$(wildcard tests/test_*.c))
TEST_BINS    := $(TEST_NAMES:%=$(BUILD)/tests/test_%)
TEST_SUPPORT_HDRS := $(wildcard tests/support/*.h)
TEST_COMMON  := $(patsubst tests/support/%.c,$(BUILD)/tests/support/%.o,$(wildcard tests/support/*.c))
TEST_CFLAGS   = $(PROG_CFLAGS) -Itests/support $(CMOCKA_CFLAGS)
.SECONDARY: $(TEST_COMMON)
WERROR_TARGETS += $(TEST_BINS)

$(BUILD)/tests/support/%.o: tests/support/%.c $(TEST_SUPPORT_HDRS) include/rpo.h
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -c $< -o $@

$(BUILD)/tests/test_%: tests/test_%.c $(TEST_SUPPORT_HDRS) $(TEST_COMMON) $(LIB_FILES)
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -o $@ $< $(TEST_COMMON) $(PROG_LDFLAGS) -lrpo \
	    $(CMOCKA_LIBS) $(LDLIBS)

# The suites that choose kernel sets with rpo_ctx_use_kernels, which is
# static-linking-only (test_kernels; test_extensions_engine for the paths of
# 1.2; test_token_kernels, test_linear, test_objectives, test_losses_grad
# and test_contrasts for those of 1.3), link librpo.a instead of the shared
# library.
STATIC_TEST_BINS := $(BUILD)/tests/test_kernels $(BUILD)/tests/test_extensions_engine \
                    $(BUILD)/tests/test_linear \
                    $(BUILD)/tests/test_objectives \
                    $(BUILD)/tests/test_losses_grad \
                    $(BUILD)/tests/test_contrasts \
                    $(BUILD)/tests/test_token_kernels
$(STATIC_TEST_BINS): $(BUILD)/tests/test_%: tests/test_%.c $(TEST_SUPPORT_HDRS) $(TEST_COMMON) $(BUILD)/librpo.a
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -o $@ $< $(TEST_COMMON) $(BUILD)/librpo.a \
	    $(CMOCKA_LIBS) $(LDLIBS)

# The scratch arena's suite checks the arena itself (lib/context/scratch.c):
# it sees the library's headers and links librpo.a, whose internal
# functions the shared library does not export.
$(BUILD)/tests/test_scratch: tests/test_scratch.c $(TEST_SUPPORT_HDRS) $(LIB_HDR) $(BUILD)/librpo.a
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) $(addprefix -I,$(LIB_DIRS)) -o $@ $< $(BUILD)/librpo.a \
	    $(CMOCKA_LIBS) $(LDLIBS)

# The allocation-failure suite links librpo.a with the allocator and the
# pthread calls that can fail wrapped, so it can fail each in turn.
ALLOC_WRAP = -Wl,--wrap=malloc -Wl,--wrap=calloc -Wl,--wrap=free \
             -Wl,--wrap=pthread_create -Wl,--wrap=pthread_mutex_init \
             -Wl,--wrap=pthread_cond_init
$(BUILD)/tests/test_alloc_failure: tests/test_alloc_failure.c $(TEST_SUPPORT_HDRS) $(BUILD)/librpo.a
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -o $@ $< $(BUILD)/librpo.a $(LDFLAGS) $(ALLOC_WRAP) \
	    $(CMOCKA_LIBS) $(LDLIBS)

.PHONY: check-c check-layout
CHECK_TARGETS += check-layout check-c

## check-layout: every #include under lib/ keeps lib/README.md's include rule
check-layout:
	@/usr/bin/python3 tests/check_layout.py

# Runs every suite even when one fails, then fails if any did.
## check-c: build and run every C suite (tests/test_*.c)
check-c: $(TEST_BINS)
	@failed=""; for t in $(TEST_BINS); do \
	    echo "== $$t"; $$t || failed="$$failed $$t"; \
	done; \
	if [ -n "$$failed" ]; then echo "FAILED:$$failed"; exit 1; fi

# ---------------------------------------------------------------- -Werror builds
# The library, tests, examples and benchmarks must build without a warning
# under gcc and clang, in C99 and C11; each combination builds in its own
# folder. Every make file adds its programs to WERROR_TARGETS.
WARN_COMPILERS ?= gcc clang
WARN_STDS ?= c99 c11
WARN_BUILDS := $(foreach cc,$(WARN_COMPILERS),$(foreach std,$(WARN_STDS),werror-$(cc)-$(std)))
.PHONY: check-warnings $(WARN_BUILDS)
CHECK_TARGETS += check-warnings
## check-warnings: build without a warning: gcc and clang, C99 and C11, -Werror
check-warnings:
	@$(SIDE_BY_SIDE) $(WARN_BUILDS)

# werror-<compiler>-<standard>; a warning's text reaches the log on stderr.
$(WARN_BUILDS): werror-%:
	@echo "== -Werror build: $(word 1,$(subst -, ,$*)) -std=$(word 2,$(subst -, ,$*))"
	@$(MAKE) --no-print-directory -s CC=$(word 1,$(subst -, ,$*)) \
	    STD=-std=$(word 2,$(subst -, ,$*)) WERROR=1 BUILD=$(BUILD)/werror-$* \
	    lib $(WERROR_TARGETS:$(BUILD)/%=$(BUILD)/werror-$*/%) >/dev/null

# ---------------------------------------------------------------- sanitizers
# The C suites under the sanitizers and valgrind (docs/hardening.md):
#
#   make sanitize             all of the below
#   make sanitize-asan-clang  every suite, -fsanitize=address,undefined, clang
#   make sanitize-asan-gcc    the same with gcc
#   make sanitize-valgrind    every suite once under valgrind memcheck
#   make sanitize-thread      every suite under -fsanitize=thread (clang)
#
# Each builds the library and the suites in its own folder under $(BUILD)
# with the Makefile's own rules, so a new source file or suite is covered
# without touching this section. Any report fails the run: the sanitizers
# do not recover, valgrind exits with 1 on any error or leak.

SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all \
             -fno-omit-frame-pointer
# clang links its sanitizer runtimes into programs, not into shared
# libraries: librpo.so gets those symbols from the test program at load
# time, so its link must accept them undefined (this overrides the
# Makefile's -z defs for the sanitizer builds only). gcc links the shared
# runtime into both and needs nothing.
SAN_LDFLAGS_clang := -Wl,-z,undefs
SAN_LDFLAGS_gcc   :=
# Some suites ask for impossibly large scratch on purpose and expect
# RPO_ERR_NOMEM: the allocator must then return NULL, as malloc does (for
# ThreadSanitizer's allocator too, below).
SAN_ENV := ASAN_OPTIONS=allocator_may_return_null=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1 \
           UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

TSAN_FLAGS := -fsanitize=thread
TSAN_ENV   := TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:allocator_may_return_null=1

VALGRIND := valgrind --quiet --error-exitcode=1 --leak-check=full \
            --show-leak-kinds=definite,indirect,possible \
            --errors-for-leak-kinds=definite,indirect,possible \
            --suppressions=tests/support/valgrind.supp

.PHONY: sanitize sanitize-asan-clang sanitize-asan-gcc sanitize-valgrind \
        sanitize-thread
CHECK_TARGETS += sanitize

# The four are independent: side by side (SIDE_BY_SIDE, in the Makefile).
## sanitize: every C suite under ASan+UBSan (clang, gcc), valgrind and TSan
sanitize:
	@$(SIDE_BY_SIDE) sanitize-asan-clang sanitize-asan-gcc sanitize-valgrind \
	    sanitize-thread

# The example programs too (demo, train_toy and the experiment's smoke
# run, a few seconds): they drive the library as a trainer does, and their
# own buffers are checked with it.
## sanitize-asan-clang: every C suite and the example programs under ASan+UBSan, clang
## sanitize-asan-gcc: every C suite and the example programs under ASan+UBSan, gcc
sanitize-asan-clang sanitize-asan-gcc: sanitize-asan-%:
	@echo "== every suite and example under -fsanitize=address,undefined ($*)"
	@$(SAN_ENV) $(MAKE) --no-print-directory CC=$* BUILD=$(BUILD)/asan-$* \
	    CFLAGS="-O1 -g $(SAN_FLAGS)" LDFLAGS="$(SAN_FLAGS) $(SAN_LDFLAGS_$*)" \
	    check-c check-demo check-experiment

# The large suites take their reduced sizes (RPO_TEST_SMALL=1): valgrind
# runs some fifty times slower than native code.
## sanitize-valgrind: every C suite under valgrind memcheck (reduced sizes)
sanitize-valgrind:
	@echo "== every suite under valgrind memcheck"
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/valgrind CFLAGS="-O1 -g" \
	    $(TEST_NAMES:%=$(BUILD)/valgrind/tests/test_%)
	@failed=""; for t in $(TEST_NAMES:%=$(BUILD)/valgrind/tests/test_%); do \
	    echo "== valgrind $$t"; \
	    RPO_TEST_SMALL=1 $(VALGRIND) $$t || failed="$$failed $$t"; \
	done; \
	if [ -n "$$failed" ]; then echo "FAILED under valgrind:$$failed"; exit 1; fi

# Every suite, the threads suite above all, under ThreadSanitizer, at the
# reduced sizes (ThreadSanitizer runs some ten times slower).
## sanitize-thread: the threaded suites under ThreadSanitizer
sanitize-thread:
	@echo "== every suite under -fsanitize=thread (clang)"
	@RPO_TEST_SMALL=1 $(TSAN_ENV) $(MAKE) --no-print-directory CC=clang \
	    BUILD=$(BUILD)/tsan-clang CFLAGS="-O1 -g $(TSAN_FLAGS)" \
	    LDFLAGS="$(TSAN_FLAGS) $(SAN_LDFLAGS_clang)" check-c

# ---------------------------------------------------------------- CBLAS build
# The CBLAS build (make USE_CBLAS=1, in its own folder): the C suites must
# pass there too, and it must export exactly the symbols of the default
# build (the header and the ABI do not depend on the option).
.PHONY: check-cblas
CHECK_TARGETS += check-cblas
## check-cblas: the suites against a USE_CBLAS=1 build
check-cblas: $(LIB_FILES)
	@$(MAKE) --no-print-directory USE_CBLAS=1 BUILD=$(BUILD)/cblas check-c
	@nm -D --defined-only $(BUILD)/$(SHLIB) | awk '{print $$NF}' | sort > $(BUILD)/exports.txt
	@nm -D --defined-only $(BUILD)/cblas/$(SHLIB) | awk '{print $$NF}' | sort > $(BUILD)/cblas/exports.txt
	@cmp -s $(BUILD)/exports.txt $(BUILD)/cblas/exports.txt || \
	    { echo "check-cblas: the CBLAS build exports other symbols"; \
	      diff $(BUILD)/exports.txt $(BUILD)/cblas/exports.txt; exit 1; }
	@echo "check-cblas: the CBLAS build passes and exports the same symbols"

# ---------------------------------------------------------------- install
# `make install` / `make uninstall` exercised end to end (tests/install_test.sh).
.PHONY: check-install
CHECK_TARGETS += check-install

## check-install: install into a staging folder and build against it
check-install: $(LIB_FILES)
	@sh tests/install_test.sh $(BUILD)

# ---------------------------------------------------------------- docs
# The guides' code runs, so the docs cannot rot:
#   docs/c-trainer.md  its c blocks, concatenated in order, are one program,
#                      compiled here with -Werror against this build and run
#   docs/pytorch.md    run by examples/python/tests/test_docs.py (check-python)
#   docs/rust.md       run as doc tests of the crate (check-rust)
# and no doc copies a prototype of include/rpo.h, the one copy of each
# signature (tests/check_docs.py).
.PHONY: check-docs
CHECK_TARGETS += check-docs

$(BUILD)/docs/c_trainer.c: docs/c-trainer.md
	@mkdir -p $(@D)
	awk '/^```c$$/ {on = 1; next} /^```$$/ {on = 0} on' $< > $@

$(BUILD)/docs/c_trainer: $(BUILD)/docs/c_trainer.c include/rpo.h $(LIB_FILES)
	$(CC) $(PROG_CFLAGS) -Werror -o $@ $< $(PROG_LDFLAGS) -lrpo $(LDLIBS)

## check-docs: the docs' code blocks compile and run as shown; no doc copies an rpo.h prototype
check-docs: $(BUILD)/docs/c_trainer
	@/usr/bin/python3 tests/check_docs.py
	@$(BUILD)/docs/c_trainer
	@echo "docs/c-trainer.md: its program builds without a warning and runs"
