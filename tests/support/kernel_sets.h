/*
 * What the engine suites (test_kernels.c, test_extensions_engine.c) share:
 * the kernel sets to run, a context on one of them, and the reduced run
 * that valgrind and ThreadSanitizer ask for. Needs RPO_STATIC_LINKING_ONLY
 * (rpo_ctx_use_kernels) and testutil.h before it.
 */
#ifndef RPO_TEST_KERNEL_SETS_H
#define RPO_TEST_KERNEL_SETS_H

#include <stdlib.h>

/* RPO_TEST_SMALL=1 (set by make sanitize-valgrind and sanitize-thread,
 * docs/hardening.md): the largest problems shrink and fewer kernel sets
 * and thread counts repeat the same checks, since valgrind runs some fifty
 * times slower and ThreadSanitizer some ten. */
static int small_run(void)
{
    const char *small = getenv("RPO_TEST_SMALL");
    return small != NULL && small[0] == '1';
}

/* Fastest first: a suite that runs one set only takes the one users get. */
static const int kernel_sets[] = {RPO_KERNELS_AVX512, RPO_KERNELS_AVX2,
                                  RPO_KERNELS_PORTABLE, RPO_KERNELS_GENERIC};
#define KERNEL_SETS (sizeof kernel_sets / sizeof kernel_sets[0])

/* A context on kernel set ks, or NULL when this build or CPU lacks it. */
static rpo_ctx *context_on(int ks)
{
    rpo_ctx *ctx = rpo_ctx_create();
    assert_non_null(ctx);
    int status = rpo_ctx_use_kernels(ctx, ks);
    if (status == RPO_ERR_UNSUPPORTED) {
        rpo_ctx_free(ctx);
        return NULL;
    }
    assert_status(status, RPO_OK);
    return ctx;
}

#endif /* RPO_TEST_KERNEL_SETS_H */
