# The C test suites under the sanitizers and valgrind (docs/hardening.md).
# Included by the top Makefile; `make check` runs `make sanitize`.
#
#   make sanitize             all of the below
#   make sanitize-asan-clang  every suite, -fsanitize=address,undefined, clang
#   make sanitize-asan-gcc    the same with gcc
#   make sanitize-valgrind    every suite once under valgrind memcheck
#   make sanitize-thread      every suite under -fsanitize=thread (clang)
#
# Each builds the library and the suites in its own folder under $(BUILD)
# with the Makefile's own rules, so a new source file or suite is covered
# without touching this file. Any report fails the run: the sanitizers do
# not recover, valgrind exits with 1 on any error or leak.

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
            --suppressions=tests/valgrind.supp

.PHONY: sanitize sanitize-asan-clang sanitize-asan-gcc sanitize-valgrind \
        sanitize-thread
CHECK_TARGETS += sanitize

# The four are independent: side by side (SIDE_BY_SIDE, in the Makefile).
## sanitize: every C suite under ASan+UBSan (clang, gcc), valgrind and TSan
sanitize:
	@$(SIDE_BY_SIDE) sanitize-asan-clang sanitize-asan-gcc sanitize-valgrind \
	    sanitize-thread

## sanitize-asan-clang: every C suite under ASan+UBSan, clang
## sanitize-asan-gcc: every C suite under ASan+UBSan, gcc
sanitize-asan-clang sanitize-asan-gcc: sanitize-asan-%:
	@echo "== every suite under -fsanitize=address,undefined ($*)"
	@$(SAN_ENV) $(MAKE) --no-print-directory CC=$* BUILD=$(BUILD)/asan-$* \
	    CFLAGS="-O1 -g $(SAN_FLAGS)" LDFLAGS="$(SAN_FLAGS) $(SAN_LDFLAGS_$*)" \
	    check-c

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
