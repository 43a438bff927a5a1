/* Which kernel tables this build has and this CPU runs. */
#include "kernels.h"

#if defined(__x86_64__) && defined(__GNUC__)
#  define RPO_X86_KERNELS 1
#else
#  define RPO_X86_KERNELS 0
#endif

/* Asking the CPU costs a few loads (libgcc fills __cpu_model once at load
 * time), so nothing is cached here: the library keeps no global state. The
 * AVX-512 test includes the OS's consent to save the wide registers. */
static int cpu_runs(int id)
{
    switch (id) {
    case RPO_KERNELS_PORTABLE:
        return 1;
#if RPO_X86_KERNELS
    case RPO_KERNELS_AVX2:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case RPO_KERNELS_AVX512:
        return __builtin_cpu_supports("avx512f");
#endif
    default:
        return 0;
    }
}

static const rpo_kernels *table_of(int id)
{
    switch (id) {
    case RPO_KERNELS_PORTABLE: return rpo_kernels_portable();
#if RPO_X86_KERNELS
    case RPO_KERNELS_AVX2:     return rpo_kernels_avx2();
    case RPO_KERNELS_AVX512:   return rpo_kernels_avx512();
#endif
    default:                   return NULL;
    }
}

const rpo_kernels *rpo_kernels_get(int id)
{
    return cpu_runs(id) ? table_of(id) : NULL;
}

const rpo_kernels *rpo_kernels_best(void)
{
    for (int id = RPO_KERNEL_TABLES - 1; id > RPO_KERNELS_PORTABLE; id--) {
        const rpo_kernels *k = rpo_kernels_get(id);
        if (k != NULL)
            return k;
    }
    return rpo_kernels_portable();
}
