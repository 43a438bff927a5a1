# The Python bindings' suites (unittest), under Debian's interpreter, which
# has python3-numpy and python3-torch (tests/deps.sh). Included by the top
# Makefile. Byte code goes under $(BUILD), not into the source tree.
#   check-python            the suites on the source tree's package, loading
#                           the library of this build through RPO_LIBRARY
#   check-python-installed  the same suites against the package as pip
#                           installs it (check_installed.sh): wheel built,
#                           installed into a temporary venv, run elsewhere
#   check-ddp               the torch.distributed example (ddp_rpo.py)

PYTHON ?= /usr/bin/python3
PYTHON_ENV = RPO_LIBRARY=$(abspath $(BUILD)/$(SONAME)) \
             PYTHONPYCACHEPREFIX=$(abspath $(BUILD)/pycache)

.PHONY: check-python check-python-installed
CHECK_TARGETS += check-python check-python-installed

## check-python: the Python suites (ctypes, NumPy, torch)
check-python: $(LIB_FILES)
	cd examples/python && $(PYTHON_ENV) $(PYTHON) -m unittest discover \
	    -s tests -t . -v

## check-python-installed: the wheel in a temporary venv, the Python suites run against it from elsewhere
check-python-installed: $(LIB_FILES)
	sh examples/python/check_installed.sh $(PYTHON) $(BUILD)

# The torch.distributed example (examples/python/ddp_rpo.py): one contrast
# matrix across gloo ranks on localhost, checked against one process to
# 1e-12 (the script exits 1 otherwise).
DDP_WORLD_SIZE ?= 3

.PHONY: check-ddp
CHECK_TARGETS += check-ddp

## check-ddp: the distributed loss on DDP_WORLD_SIZE (3) gloo ranks against one process
check-ddp: $(LIB_FILES)
	$(PYTHON_ENV) $(PYTHON) examples/python/ddp_rpo.py --world-size $(DDP_WORLD_SIZE)
