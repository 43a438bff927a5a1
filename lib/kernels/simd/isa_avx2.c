/* The AVX2 + FMA kernels: 32-byte vectors, 16 registers. Compiled with
 * -mavx2 -mfma (Makefile) and run only where the CPU has both (kernels.c). */
#if defined(__x86_64__)
#if !(defined(__AVX2__) && defined(__FMA__))
#  error "compile this file with -mavx2 -mfma (see the Makefile)"
#endif
#define RPO_SIMD_BYTES 32
#define RPO_MR 6
#define RPO_ISA_TABLE rpo_kernels_avx2
#define RPO_ISA_NAME "avx2"
#define RPO_ISA_ID RPO_KERNELS_AVX2
#include "instantiate.h"
#else
/* Not an x86-64 build: no table here (kernels.c does not ask for it).
 * ISO C wants a translation unit to declare something. */
typedef int rpo_no_avx2_kernels;
#endif
