# The C test suites (cmocka). Included by the top Makefile.
#
# `make check` first makes sure the test dependencies are present
# (tests/deps.sh: installs them with apt-get when run as root, otherwise
# says what to install), then builds and runs every suite from the project
# root, where tests/data/vectors.txt is found.

CMOCKA_CFLAGS = $(shell pkg-config --cflags cmocka 2>/dev/null)
CMOCKA_LIBS   = $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)

TEST_NAMES  := $(patsubst tests/test_%.c,%,$(wildcard tests/test_*.c))
TEST_BINS   := $(TEST_NAMES:%=$(BUILD)/tests/test_%)
TEST_COMMON := $(BUILD)/tests/vectors.o $(BUILD)/tests/reference.o
TEST_CFLAGS  = $(PROG_CFLAGS) -Itests $(CMOCKA_CFLAGS)
.SECONDARY: $(TEST_COMMON)

$(BUILD)/tests/%.o: tests/%.c tests/%.h include/rpo.h
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -c $< -o $@

$(BUILD)/tests/test_%: tests/test_%.c $(wildcard tests/*.h) $(TEST_COMMON) $(LIB_FILES)
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -o $@ $< $(TEST_COMMON) $(PROG_LDFLAGS) -lrpo \
	    $(CMOCKA_LIBS) $(LDLIBS)

# The allocation-failure suite links librpo.a with the allocator and the
# pthread calls that can fail wrapped, so it can fail each in turn.
ALLOC_WRAP = -Wl,--wrap=malloc -Wl,--wrap=calloc -Wl,--wrap=free \
             -Wl,--wrap=pthread_create -Wl,--wrap=pthread_mutex_init \
             -Wl,--wrap=pthread_cond_init
$(BUILD)/tests/test_alloc_failure: tests/test_alloc_failure.c $(wildcard tests/*.h) $(BUILD)/librpo.a
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -o $@ $< $(BUILD)/librpo.a $(LDFLAGS) $(ALLOC_WRAP) \
	    $(CMOCKA_LIBS) $(LDLIBS)

.PHONY: check-c check-warnings check-layout
CHECK_TARGETS += check-layout check-c check-warnings

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

# The library, tests and examples must build without a warning under gcc
# and clang, in C99 and C11; each combination builds in its own folder.
WARN_COMPILERS ?= gcc clang
WARN_STDS ?= c99 c11
WARN_BUILDS := $(foreach cc,$(WARN_COMPILERS),$(foreach std,$(WARN_STDS),werror-$(cc)-$(std)))
.PHONY: $(WARN_BUILDS)
## check-warnings: build without a warning: gcc and clang, C99 and C11, -Werror
check-warnings:
	@$(SIDE_BY_SIDE) $(WARN_BUILDS)

# werror-<compiler>-<standard>; a warning's text reaches the log on stderr.
$(WARN_BUILDS): werror-%:
	@echo "== -Werror build: $(word 1,$(subst -, ,$*)) -std=$(word 2,$(subst -, ,$*))"
	@$(MAKE) --no-print-directory -s CC=$(word 1,$(subst -, ,$*)) \
	    STD=-std=$(word 2,$(subst -, ,$*)) WERROR=1 BUILD=$(BUILD)/werror-$* \
	    lib $(WERROR_TARGETS:$(BUILD)/%=$(BUILD)/werror-$*/%) >/dev/null
