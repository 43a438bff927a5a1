# The MPI example (examples/mpi/mpi_rpo.c): one contrast matrix across
# ranks, checked against a single process. Included by the top Makefile.
#
# It builds with the compiler of the build ($(CC), so the -Werror builds of
# check-warnings cover it too) and Open MPI's flags; the MPI headers are
# system headers, so their own warnings are not ours.

MPI_CFLAGS = $(patsubst -I%,-isystem %,$(shell mpicc --showme:compile 2>/dev/null))
MPI_LIBS   = $(shell mpicc --showme:link 2>/dev/null || echo -lmpi)
MPI_RANKS ?= 1 3
# Open MPI refuses root without this flag; --oversubscribe lets 3 ranks share
# fewer cores.
MPIRUN = mpirun $(if $(filter 0,$(shell id -u)),--allow-run-as-root) --oversubscribe

$(BUILD)/examples/mpi/mpi_rpo: examples/mpi/mpi_rpo.c include/rpo.h $(LIB_FILES)
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(MPI_CFLAGS) -o $@ $< -L$(BUILD) \
	    -Wl,-rpath,'$$ORIGIN/../..' $(LDFLAGS) -lrpo $(MPI_LIBS) $(LDLIBS)

WERROR_TARGETS += $(BUILD)/examples/mpi/mpi_rpo

.PHONY: check-mpi
CHECK_TARGETS += check-mpi

# Each world size must agree with one process to 1e-12 (the program fails
# otherwise).
## check-mpi: the MPI example on 1 and 3 ranks (MPI_RANKS) against one process
check-mpi: $(BUILD)/examples/mpi/mpi_rpo
	@for np in $(MPI_RANKS); do \
	    echo "== mpirun -np $$np $<"; \
	    $(MPIRUN) -np $$np $< || exit 1; \
	done
