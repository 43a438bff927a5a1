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

# rpo._native (examples/python/rpo/_native.c): RPOLoss's per-step path in
# C, built beside the library, where rpo/_library.py looks for it (setup.py
# builds the installed package's own). Without Python's headers it is not
# built, and the package runs the same path in Python.
PY_NATIVE_VARS := $(shell $(PYTHON) -c 'import sysconfig as s; print(s.get_paths()["include"], s.get_config_var("EXT_SUFFIX"))' 2>/dev/null)
ifneq ($(wildcard $(word 1,$(PY_NATIVE_VARS))/Python.h),)
PY_NATIVE = $(BUILD)/_native$(word 2,$(PY_NATIVE_VARS))
WERROR_TARGETS += $(PY_NATIVE)
PYTHON_ENV += RPO_EXPECT_NATIVE=1

$(PY_NATIVE): examples/python/rpo/_native.c examples/python/rpo/_loss_call.h
	@mkdir -p $(dir $@)
	$(CC) $(STD) $(WARNINGS) $(CFLAGS) -fPIC -shared \
	    -isystem $(word 1,$(PY_NATIVE_VARS)) $< -o $@
endif

# rpo._autograd (examples/python/rpo/_autograd.cpp): RPOLoss's training
# step as a C++ autograd node, built beside the library where torch's C++
# headers are (Debian: libtorch-dev, and pybind11-dev, which they include);
# without them RPOLoss uses rpo._native or Python. Found without importing
# torch (seconds); the recipe asks torch for its C++ ABI. C++ with torch's
# headers: not one of the -Werror C builds (WERROR_TARGETS).
PY_TORCH_DIR := $(shell $(PYTHON) -c 'import importlib.util as u; s = u.find_spec("torch"); print(s.submodule_search_locations[0] if s else "")' 2>/dev/null)
ifneq ($(and $(PY_NATIVE),$(PY_TORCH_DIR),$(wildcard $(PY_TORCH_DIR)/include/torch/csrc/autograd/python_variable.h)),)
ifeq ($(shell echo '\#include <pybind11/pybind11.h>' | $(CXX) -E -x c++ -isystem $(word 1,$(PY_NATIVE_VARS)) - >/dev/null 2>&1 && echo yes),yes)
PY_AUTOGRAD = $(BUILD)/_autograd$(word 2,$(PY_NATIVE_VARS))
PYTHON_ENV += RPO_EXPECT_AUTOGRAD=1

$(PY_AUTOGRAD): examples/python/rpo/_autograd.cpp examples/python/rpo/_loss_call.h
	@mkdir -p $(dir $@)
	$(CXX) -std=c++17 -Wall -Wextra $(OPT) -fPIC -shared \
	    -D_GLIBCXX_USE_CXX11_ABI=$$($(PYTHON) -c 'import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))') \
	    -isystem $(word 1,$(PY_NATIVE_VARS)) -isystem $(PY_TORCH_DIR)/include \
	    -isystem $(PY_TORCH_DIR)/include/torch/csrc/api/include \
	    $< -o $@ -L$(PY_TORCH_DIR)/lib -ltorch_python -ltorch_cpu -lc10
endif
endif

.PHONY: check-python check-python-installed
CHECK_TARGETS += check-python check-python-installed

## check-python: the Python suites (ctypes, NumPy, torch), and the torch ones again on the per-step path in Python (RPO_NATIVE=0: neither rpo._native nor rpo._autograd)
check-python: $(LIB_FILES) $(PY_NATIVE) $(PY_AUTOGRAD)
	cd examples/python && $(PYTHON_ENV) $(PYTHON) -m unittest discover \
	    -s tests -t . -v
	cd examples/python && $(PYTHON_ENV) RPO_NATIVE=0 $(PYTHON) -m unittest \
	    tests.test_torch tests.test_objectives tests.test_extensions tests.test_cached

## check-python-installed: the wheel in a temporary venv, the Python suites run against it from elsewhere
check-python-installed: $(LIB_FILES)
	$(if $(PY_AUTOGRAD),RPO_EXPECT_AUTOGRAD=1) \
	    sh examples/python/check_installed.sh $(PYTHON) $(BUILD)

# The torch.distributed example (examples/python/ddp_rpo.py): one contrast
# matrix across gloo ranks on localhost, checked against one process to
# 1e-12 (the script exits 1 otherwise).
DDP_WORLD_SIZE ?= 3

.PHONY: check-ddp
CHECK_TARGETS += check-ddp

## check-ddp: the distributed loss on DDP_WORLD_SIZE (3) gloo ranks against one process
check-ddp: $(LIB_FILES) $(PY_NATIVE) $(PY_AUTOGRAD)
	$(PYTHON_ENV) $(PYTHON) examples/python/ddp_rpo.py --world-size $(DDP_WORLD_SIZE)
