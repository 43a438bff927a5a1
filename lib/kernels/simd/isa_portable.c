/* The portable kernels: 16-byte vectors, which every target gcc and clang
 * know lower to SSE2 (x86-64 baseline), NEON (ARM64) or plain scalar code. */
#define RPO_SIMD_BYTES 16
#define RPO_MR 6
#define RPO_ISA_TABLE rpo_kernels_portable
#define RPO_ISA_NAME "portable"
#define RPO_ISA_ID RPO_KERNELS_PORTABLE
#include "instantiate.h"
