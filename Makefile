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
# (lib/similarity.c); header and ABI are the same as without.
ifeq ($(USE_CBLAS),1)
CBLAS_PKG  ?= openblas
CBLAS_CFLAGS := $(shell pkg-config --cflags $(CBLAS_PKG))
CBLAS_LIBS   := $(shell pkg-config --libs $(CBLAS_PKG))
LIB_CFLAGS += -DRPO_USE_CBLAS $(CBLAS_CFLAGS)
LDLIBS     += $(CBLAS_LIBS)
endif

LIB_SRC := $(wildcard lib/*.c) $(wildcard lib/simd/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB_HDR := include/rpo.h $(wildcard lib/*.h) $(wildcard lib/simd/*.h)

# The kernels in lib/simd/ are compiled once per instruction set, each file
# with its own flags; the rest of the library stays baseline (no
# -march=native), and kernels.c picks a table at run time. -ffp-contract=fast
# lets a * b + c become one fused multiply-add where the target has it.
TARGET_ARCH_NAME := $(shell $(CC) -dumpmachine 2>/dev/null)
$(BUILD)/lib/simd/%.o: KERNEL_CFLAGS = -ffp-contract=fast
ifneq (,$(findstring x86_64,$(TARGET_ARCH_NAME)))
$(BUILD)/lib/simd/isa_avx2.o: KERNEL_CFLAGS += -mavx2 -mfma
$(BUILD)/lib/simd/isa_avx512.o: KERNEL_CFLAGS += -mavx512f -mfma
endif

.PHONY: all lib demo check test install uninstall clean help compilers
.DEFAULT_GOAL := all

all: lib
lib: $(BUILD)/librpo.a $(BUILD)/$(SHLIB) $(BUILD)/$(SONAME) $(BUILD)/librpo.so

$(BUILD)/lib/%.o: lib/%.c $(LIB_HDR) Makefile
	@mkdir -p $(@D)
	$(CC) $(LIB_CFLAGS) $(KERNEL_CFLAGS) -c $< -o $@

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

# ---------------------------------------------------------------- demo
$(BUILD)/examples/%: examples/%.c include/rpo.h lib
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) -o $@ $< $(PROG_LDFLAGS) -lrpo $(LDLIBS)

# The built-in batch, then a small policy trained end to end (train_toy).
demo: $(BUILD)/examples/demo $(BUILD)/examples/train_toy
	$(BUILD)/examples/demo
	$(BUILD)/examples/train_toy

# Programs the -Werror builds of `make check` compile besides the library.
WERROR_TARGETS = $(BUILD)/examples/demo $(BUILD)/examples/train_toy $(TEST_BINS)

# ---------------------------------------------------------------- tests
# Each concern adds its own targets to CHECK_TARGETS in its own .mk file;
# `make check` installs what they need (tests/deps.sh), then runs them all.
CHECK_TARGETS :=
# The independent builds inside a suite (the four -Werror builds, the four
# sanitizer runs) go side by side, one per core, each one's output printed
# whole when it ends. `make check CHECK_JOBS=1` runs them one by one.
CHECK_JOBS ?= $(shell nproc 2>/dev/null || echo 1)
SIDE_BY_SIDE = $(MAKE) --no-print-directory --output-sync=recurse \
    $(if $(findstring jobserver,$(MAKEFLAGS)),,-j$(CHECK_JOBS))
include tests/tests.mk
include tests/data/vectors.mk
include tests/install.mk
include examples/python/python.mk
include examples/demo.mk
include examples/rust/rust.mk
include tests/docs.mk
include bench/tokens.mk
include tests/hardening.mk
include tests/sanitize.mk
include tests/fuzz/fuzz.mk
include tests/abi/abi.mk
include tests/kernels.mk
include bench/bench.mk
include bench/beyond.mk
include examples/python/ddp.mk
include examples/mpi/mpi.mk

.PHONY: check-deps
check-deps:
	@sh tests/deps.sh

check: check-deps
	@$(MAKE) --no-print-directory $(CHECK_TARGETS)
	@echo "make check: every suite passed ($(CHECK_TARGETS))"

# ---------------------------------------------------------------- install
# The CMake package files locate the header and libraries relative to
# themselves (so DESTDIR staging and moved prefixes work), and record the
# pointer size the library was built for.
CMAKE_SUBST = sed -e 's|@VERSION@|$(VERSION)|g' -e 's|@MAJOR@|$(MAJOR)|g' \
    -e 's|@REL_INCLUDEDIR@|$(shell realpath -m --relative-to=$(CMAKEDIR) $(INCLUDEDIR))|g' \
    -e 's|@REL_LIBDIR@|$(shell realpath -m --relative-to=$(CMAKEDIR) $(LIBDIR))|g' \
    -e 's|@POINTER_BYTES@|$(shell echo __SIZEOF_POINTER__ | $(CC) -E -P - | tail -n 1)|g'

install: lib
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

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/rpo.h
	rm -f $(DESTDIR)$(LIBDIR)/librpo.a $(DESTDIR)$(LIBDIR)/$(SHLIB)
	rm -f $(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/librpo.so
	rm -f $(DESTDIR)$(PKGCONFIGDIR)/rpo.pc
	rm -f $(DESTDIR)$(CMAKEDIR)/rpoConfig.cmake $(DESTDIR)$(CMAKEDIR)/rpoConfigVersion.cmake
	rmdir $(DESTDIR)$(CMAKEDIR) 2>/dev/null || true

clean:
	rm -rf $(BUILD)

help:
	@echo "make            build $(BUILD)/librpo.a and $(BUILD)/$(SHLIB)"
	@echo "make demo       run the library on a built-in batch, then train a toy policy"
	@echo "make check      install test dependencies if root, build and run every test"
	@echo "make bench      time librpo (bench-quick: shorter; bench-torch: against PyTorch)"
	@echo "make bench-python  RPOLoss, the bare C call and PyTorch eager, side by side"
	@echo "make install    PREFIX=$(PREFIX) DESTDIR=; make uninstall undoes it"
	@echo "make bench-tokens  time the token-level helpers on a GPT-2-sized batch"
	@echo "make clean      remove $(BUILD)"
