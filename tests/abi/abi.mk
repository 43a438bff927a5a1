# The ABI gate (docs/abi.md). Included by the top Makefile.
#
#   make check-abi    (part of make check) the library built here must match
#                     the baseline in tests/abi/, and the gate must catch a
#                     removed symbol, a changed signature, an unlisted export
#                     and a renumbered constant (its self-test)
#   make abi-update   records a compatible change (new symbols in a new
#                     version node, new constants) as the new baseline
#
# The library is built in its own folder with debug information, which
# abidw needs, whatever CFLAGS the caller uses elsewhere.

ABI_BUILD := $(BUILD)/abi
ABI_LIB    = $(ABI_BUILD)/$(SHLIB)
ABI_MAKE   = $(MAKE) --no-print-directory -s BUILD=$(ABI_BUILD) CFLAGS="-O2 -g" STD=-std=c99

.PHONY: check-abi abi-lib abi-update check-abi-selftest
CHECK_TARGETS += check-abi

## abi-lib: build the library the ABI gate inspects
abi-lib:
	@$(ABI_MAKE) lib

## check-abi: the library must match the ABI baseline in tests/abi/
check-abi: abi-lib
	@CC="$(CC)" sh tests/abi/abi.sh check $(ABI_LIB)
	@$(MAKE) --no-print-directory check-abi-selftest

## abi-update: record a compatible ABI change as the new baseline
abi-update: abi-lib
	@CC="$(CC)" sh tests/abi/abi.sh update $(ABI_LIB)

# Breaks a copy of the tree in four ways and expects the gate to refuse each.
## check-abi-selftest: the ABI gate must refuse four kinds of breakage
check-abi-selftest:
	@sh tests/abi/selftest.sh $(BUILD)/abi-selftest
