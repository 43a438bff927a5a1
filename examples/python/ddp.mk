# The torch.distributed example (examples/python/ddp_rpo.py): one contrast
# matrix across gloo ranks on localhost, checked against one process to
# 1e-12 (the script exits 1 otherwise). Included by the top Makefile after
# examples/python/python.mk, whose interpreter and environment it uses.

DDP_WORLD_SIZE ?= 3

.PHONY: check-ddp
CHECK_TARGETS += check-ddp

## check-ddp: the distributed loss on 2 gloo ranks
check-ddp: lib
	$(PYTHON_ENV) $(PYTHON) examples/python/ddp_rpo.py --world-size $(DDP_WORLD_SIZE)
