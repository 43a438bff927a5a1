# librpo: build, test, install. Run `make help` for the targets.
#
# Everything built goes to $(BUILD) (default build/), which git ignores.
# The version is read from include/rpo.h, where it is written once.

CC      ?= cc
# A CBLAS build (USE_CBLAS=1, below) gets its own folder so the two never mix.
ifeq ($(USE_CBLAS),1)
BUILD   ?= build/cblas
else
BUILD   ?= build
endif
PREFIX  ?= /usr/local
LIBDIR  ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
CMAKEDIR ?= $(LIBDIR)/cmake/rpo
DESTDIR ?=

version_part = $(shell sed -n 's/^\#define RPO_VERSION_$(1) \([0-9]*\)$$/\1/p' include/rpo.h)
MAJOR   := $(call version_part,MAJOR)
MINOR   := $(call version_part,MINOR)
PATCH   := $(call version_part,PATCH)
VERSION := $(MAJOR).$(MINOR).$(PATCH)

SONAME  := librpo.so.$(MAJOR)
SHLIB   := librpo.so.$(VERSION)

STD      ?= -std=c99
OPT      ?= -O2
WARNINGS := -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion \
            -Wstrict-prototypes -Wmissing-prototypes -Wdouble-promotion \
            -Wcast-qual -Wundef -Wvla
# CI sets WERROR=1: warnings are errors there, with gcc and with clang.
ifeq ($(WERROR),1)
WARNINGS += -Werror
endif
CFLAGS   ?= $(OPT) -g
ALL_CFLAGS = $(STD) $(WARNINGS) $(CFLAGS) -D_POSIX_C_SOURCE=200809L -pthread
# The library sees rpo.h's static-linking-only section (it implements it);
# those functions are not in lib/rpo.map, so librpo.so does not export them.
LIB_CFLAGS = $(ALL_CFLAGS) -fPIC -fvisibility=hidden -Iinclude -DRPO_STATIC_LINKING_ONLY
LDLIBS  += -lm -pthread

# make USE_CBLAS=1: large similarity products through OpenBLAS's CBLAS
# (lib/weights/similarity.c); header and ABI are the same as without.
ifeq ($(USE_CBLAS),1)
CBLAS_PKG  ?= openblas
CBLAS_CFLAGS := $(shell pkg-config --cflags $(CBLAS_PKG))
CBLAS_LIBS   := $(shell pkg-config --libs $(CBLAS_PKG))
LIB_CFLAGS += -DRPO_USE_CBLAS $(CBLAS_CFLAGS)
LDLIBS     += $(CBLAS_LIBS)
endif

# lib/ is grouped in folders by concern (lib/README.md). Each folder is on
# the include path, so a header is named alone ("context.h") wherever it is
# included from; check-layout keeps the names unique and the includes within
# the rule of lib/README.md. The SIMD templates (lib/kernels/simd/) are not
# on the path: only the kernel units include them.
LIB_DIRS := $(sort $(patsubst %/,%,$(dir $(wildcard lib/*/*.c lib/*/*.h))))
LIB_SRC := $(wildcard lib/*/*.c) $(wildcard lib/kernels/simd/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB_HDR := include/rpo.h $(wildcard lib/*/*.h) $(wildcard lib/kernels/simd/*.h)
LIB_CFLAGS += $(addprefix -I,$(LIB_DIRS))

# The kernels in lib/kernels/simd/ are compiled once per instruction set,
# each file with its own flags; the rest of the library stays baseline (no
# -march=native), and kernels.c picks a table at run time. -ffp-contract=fast
# lets a * b + c become one fused multiply-add where the target has it.
TARGET_ARCH_NAME := $(shell $(CC) -dumpmachine 2>/dev/null)
$(BUILD)/lib/kernels/simd/%.o: KERNEL_CFLAGS = -ffp-contract=fast
ifneq (,$(findstring x86_64,$(TARGET_ARCH_NAME)))
$(BUILD)/lib/kernels/simd/isa_avx2.o: KERNEL_CFLAGS += -mavx2 -mfma
$(BUILD)/lib/kernels/simd/isa_avx512.o: KERNEL_CFLAGS += -mavx512f -mfma
endif

.PHONY: all lib check test install uninstall clean help
.DEFAULT_GOAL := all

## all: build the static and shared library (the default)
all: lib
# The library's files: programs depend on these (not on the phony `lib`), so
# a program is relinked only when the library changed.
LIB_FILES = $(BUILD)/librpo.a $(BUILD)/$(SHLIB) $(BUILD)/$(SONAME) $(BUILD)/librpo.so
## lib: the same as all
lib: $(LIB_FILES)

# Each object depends on the headers it includes, as the compiler lists
# them (-MMD, beside the object; -MP keeps a deleted header from breaking
# the build).
$(BUILD)/lib/%.o: lib/%.c Makefile
	@mkdir -p $(@D)
	$(CC) $(LIB_CFLAGS) $(KERNEL_CFLAGS) -MMD -MP -c $< -o $@
-include $(LIB_OBJ:.o=.d)

$(BUILD)/librpo.a: $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/$(SHLIB): $(LIB_OBJ) lib/rpo.map
	$(CC) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=lib/rpo.map \
	    -Wl,-z,defs -Wl,-z,relro -Wl,-z,now $(LDFLAGS) -o $@ $(LIB_OBJ) $(LDLIBS)

$(BUILD)/$(SONAME): $(BUILD)/$(SHLIB)
	ln -sf $(SHLIB) $@
$(BUILD)/librpo.so: $(BUILD)/$(SONAME)
	ln -sf $(SONAME) $@

# Programs linked against the shared library of this tree, found at run time
# through an rpath relative to the program.
PROG_CFLAGS = $(ALL_CFLAGS) -Iinclude
PROG_LDFLAGS = -L$(BUILD) -Wl,-rpath,'$$ORIGIN/..' $(LDFLAGS)

# ---------------------------------------------------------------- tests
# One make file per folder, each for what lives there. Each adds its own
# targets to CHECK_TARGETS (`make check` installs what they need,
# tests/deps.sh, then runs them all) and its programs to WERROR_TARGETS
# (what the -Werror builds of check-warnings compile besides the library).
# A make file uses only the variables defined above, or its own; the
# others' only inside recipes, so the order below is only the order in
# which `make check` runs the suites.
CHECK_TARGETS :=
WERROR_TARGETS :=
# The independent builds inside a suite (the four -Werror builds, the four
# sanitizer runs) go side by side, one per core, each one's output printed
# whole when it ends. `make check CHECK_JOBS=1` runs them one by one.
CHECK_JOBS ?= $(shell nproc 2>/dev/null || echo 1)
SIDE_BY_SIDE = $(MAKE) --no-print-directory --output-sync=recurse \
    $(if $(findstring jobserver,$(MAKEFLAGS)),,-j$(CHECK_JOBS))
include tests/tests.mk
include tests/data/vectors.mk
include examples/examples.mk
include examples/python/python.mk
include examples/rust/rust.mk
include examples/mpi/mpi.mk
include tests/fuzz/fuzz.mk
include tests/abi/abi.mk
include tests/coverage/coverage.mk
include bench/bench.mk

.PHONY: check-deps
## check-deps: install the test dependencies (as root) or say which are missing
check-deps:
	@sh tests/deps.sh

## check: every test (CI runs this): all of the check-* targets below
check: check-deps
	@$(MAKE) --no-print-directory $(CHECK_TARGETS)
	@echo "make check: every suite passed ($(CHECK_TARGETS))"

# The fast tier, for the edit loop: the layout rule, the C suites, the
# Python and Rust bindings, the docs' code, the demo and the experiment's
# smoke run (no -Werror builds, sanitizers, fuzzing, ABI gate or install
# test: `make check` runs those too, and CI runs `make check`).
TEST_TIER = check-layout check-help check-c check-python check-rust check-docs check-demo \
    check-experiment
## test: the fast tier for the edit loop: C suites, bindings, docs, demo, experiment smoke run
test: check-deps
	@$(MAKE) --no-print-directory $(TEST_TIER)
	@echo "make test: the fast tier passed ($(TEST_TIER)); make check runs everything"

# ---------------------------------------------------------------- install
# The CMake package files locate the header and libraries relative to
# themselves (so DESTDIR staging and moved prefixes work), and record the
# pointer size the library was built for.
CMAKE_SUBST = sed -e 's|@VERSION@|$(VERSION)|g' -e 's|@MAJOR@|$(MAJOR)|g' \
    -e 's|@REL_INCLUDEDIR@|$(shell realpath -m --relative-to=$(CMAKEDIR) $(INCLUDEDIR))|g' \
    -e 's|@REL_LIBDIR@|$(shell realpath -m --relative-to=$(CMAKEDIR) $(LIBDIR))|g' \
    -e 's|@POINTER_BYTES@|$(shell echo __SIZEOF_POINTER__ | $(CC) -E -P - | tail -n 1)|g'

## install: install header, libraries, pkg-config and CMake files (PREFIX, DESTDIR)
install: $(LIB_FILES)
	install -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 644 include/rpo.h $(DESTDIR)$(INCLUDEDIR)/rpo.h
	install -m 644 $(BUILD)/librpo.a $(DESTDIR)$(LIBDIR)/librpo.a
	install -m 755 $(BUILD)/$(SHLIB) $(DESTDIR)$(LIBDIR)/$(SHLIB)
	ln -sf $(SHLIB) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/librpo.so
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	    -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@VERSION@|$(VERSION)|' \
	    -e 's|@LIBS_PRIVATE@|$(strip $(LDLIBS))|' \
	    rpo.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/rpo.pc
	chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/rpo.pc
	install -d $(DESTDIR)$(CMAKEDIR)
	for f in rpoConfig rpoConfigVersion; do \
	    $(CMAKE_SUBST) cmake/$$f.cmake.in > $(DESTDIR)$(CMAKEDIR)/$$f.cmake && \
	    chmod 644 $(DESTDIR)$(CMAKEDIR)/$$f.cmake || exit 1; \
	done
	@$(INSTALL_HINT)

# How installed programs will find librpo.so.1 (README, "Installing"): the
# loader reads the folders ldconfig lists through its cache, so an install
# there needs `ldconfig`; any other folder needs an rpath or
# LD_LIBRARY_PATH. Staged installs (DESTDIR) print nothing: their package
# runs ldconfig where it is installed.
INSTALL_HINT = [ -n "$(DESTDIR)" ] || { \
    libdir=$$(realpath -m "$(LIBDIR)"); \
    if ldconfig -v -N -X 2>/dev/null | grep -q "^$$libdir:"; then \
        echo "librpo: run 'ldconfig' (as root) so that programs find librpo.so.1 in $$libdir"; \
    else \
        echo "librpo: $$libdir is not a folder the loader searches; programs linked with -lrpo"; \
        echo "  find librpo.so.1 there only through an rpath (cc ... -Wl,-rpath,$$libdir)"; \
        echo "  or LD_LIBRARY_PATH=$$libdir, or once the folder is listed in"; \
        echo "  /etc/ld.so.conf.d/ and 'ldconfig' has run (README, \"Installing\")"; \
    fi; }

## uninstall: remove what install put there
uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/rpo.h
	rm -f $(DESTDIR)$(LIBDIR)/librpo.a $(DESTDIR)$(LIBDIR)/$(SHLIB)
	rm -f $(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/librpo.so
	rm -f $(DESTDIR)$(PKGCONFIGDIR)/rpo.pc
	rm -f $(DESTDIR)$(CMAKEDIR)/rpoConfig.cmake $(DESTDIR)$(CMAKEDIR)/rpoConfigVersion.cmake
	rmdir $(DESTDIR)$(CMAKEDIR) 2>/dev/null || true

## clean: remove the build folder
clean:
	rm -rf $(BUILD)

# Every .PHONY target must have its `## target:` line, or help would not
# list it: check-help (in make test and make check) says which lacks one.
.PHONY: check-help
CHECK_TARGETS += check-help
## check-help: every .PHONY target has a `## target: what it does` line for make help
check-help:
	@phony=$$($(MAKE) --no-print-directory -pnq help 2>/dev/null | sed -n 's/^\.PHONY: //p'); \
	missing=$$(for t in $$phony; do case $$t in werror-*) continue;; esac; \
	    grep -q "^## $$t:" $(MAKEFILE_LIST) || echo $$t; done); \
	if [ -n "$$missing" ]; then echo "make help lacks:" $$missing; exit 1; fi; \
	echo "check-help: every target has its line in make help"

## help: this list
# Every target is listed from the `## target: what it does` line above its
# rule, in whichever make file it lives, so the list cannot drift.
help:
	@echo "make [target]; the targets, by the file that defines them:"
	@for f in $(MAKEFILE_LIST); do \
	    sed -n 's/^## \([^:]*\): \(.*\)/\1|\2/p' $$f | \
	    awk -F'|' '{ printf "  %-22s %s\n", $$1, $$2 }'; \
	done
