# `make install` / `make uninstall` exercised end to end (tests/install_test.sh).
.PHONY: check-install
CHECK_TARGETS += check-install

## check-install: install into a staging folder and build against it
check-install: lib
	@sh tests/install_test.sh $(BUILD)
