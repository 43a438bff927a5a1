# The Python bindings' suites (unittest), under Debian's interpreter, which
# has python3-numpy and python3-torch (tests/deps.sh). Included by the top
# Makefile. Byte code goes under $(BUILD), not into the source tree; the
# suites load the library of this build through RPO_LIBRARY.

PYTHON ?= /usr/bin/python3
PYTHON_ENV = RPO_LIBRARY=$(abspath $(BUILD)/$(SONAME)) \
             PYTHONPYCACHEPREFIX=$(abspath $(BUILD)/pycache)

.PHONY: check-python
CHECK_TARGETS += check-python

## check-python: the Python suites (ctypes, NumPy, torch)
check-python: lib
	cd examples/python && $(PYTHON_ENV) $(PYTHON) -m unittest discover \
	    -s tests -t . -v
