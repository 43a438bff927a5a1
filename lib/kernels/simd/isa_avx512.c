/* The AVX-512F kernels: 64-byte vectors, 32 registers, so a 12-row tile.
 * Compiled with -mavx512f -mfma (Makefile) and run only where the CPU and
 * the OS support AVX-512F (kernels.c). */
#if defined(__x86_64__)
#if !(defined(__AVX512F__))
#  error "compile this file with -mavx512f -mfma (see the Makefile)"
#endif
#define RPO_SIMD_BYTES 64
#define RPO_MR 12
#define RPO_ISA_TABLE rpo_kernels_avx512
#define RPO_ISA_NAME "avx512"
#define RPO_ISA_ID RPO_KERNELS_AVX512
#include "instantiate.h"
#else
/* Not an x86-64 build: no table here (kernels.c does not ask for it).
 * ISO C wants a translation unit to declare something. */
typedef int rpo_no_avx512_kernels;
#endif
