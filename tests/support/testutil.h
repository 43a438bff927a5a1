/*
 * Shared helpers of the C test suites: tolerance checks in the conformance
 * README's terms, a deterministic random generator, sentinel buffers.
 * Include after <cmocka.h>'s prerequisites; every suite is one program.
 */
#ifndef RPO_TESTUTIL_H
#define RPO_TESTUTIL_H

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>

#include "rpo.h"

/* Conformance tolerances (tests/data/README.md). */
#define TOL_F64 1e-12
#define TOL_F32 1e-5

/* |got - want| <= tol * max(1, |want|), the loss rule. */
static inline void check_loss(const char *what, double got, double want, double tol)
{
    double bound = tol * fmax(1.0, fabs(want));
    if (!(fabs(got - want) <= bound))
        fail_msg("%s: loss %.17g, want %.17g (|diff| %.3g > %.3g)", what, got,
                 want, fabs(got - want), bound);
}

/* Every |got_k - want_k| <= tol * max_k |want_k|, the gradient rule. */
static inline void check_vector_rel(const char *what, const double *got,
                                    const double *want, size_t count, double tol)
{
    double scale = 0.0;
    for (size_t k = 0; k < count; k++)
        scale = fmax(scale, fabs(want[k]));
    double bound = tol * scale;
    for (size_t k = 0; k < count; k++)
        if (!(fabs(got[k] - want[k]) <= bound))
            fail_msg("%s[%zu]: %.17g, want %.17g (|diff| %.3g > %.3g)", what, k,
                     got[k], want[k], fabs(got[k] - want[k]), bound);
}

/* Every |got_k - want_k| <= tol, the weight rule. */
static inline void check_vector_abs(const char *what, const double *got,
                                    const double *want, size_t count, double tol)
{
    for (size_t k = 0; k < count; k++)
        if (!(fabs(got[k] - want[k]) <= tol))
            fail_msg("%s[%zu]: %.17g, want %.17g (|diff| %.3g > %.3g)", what, k,
                     got[k], want[k], fabs(got[k] - want[k]), tol);
}

/* Status equality that names both statuses on failure. */
#define assert_status(got, want)                                              \
    do {                                                                      \
        int got_ = (got), want_ = (want);                                     \
        if (got_ != want_)                                                    \
            fail_msg("status %d (%s), want %d (%s)", got_,                    \
                     rpo_status_string(got_), want_, rpo_status_string(want_)); \
    } while (0)

/* A small deterministic generator (splitmix64), so failures reproduce. */
typedef struct test_rng { uint64_t state; } test_rng;

static inline uint64_t rng_next(test_rng *r)
{
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi). */
static inline double rng_uniform(test_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * (double)(rng_next(r) >> 11) * 0x1p-53;
}

static inline void rng_fill(test_rng *r, double *x, size_t count, double lo, double hi)
{
    for (size_t k = 0; k < count; k++)
        x[k] = rng_uniform(r, lo, hi);
}

/* Narrowing copies for feeding float32 entry points. */
static inline void to_f32(float *dst, const double *src, size_t count)
{
    for (size_t k = 0; k < count; k++)
        dst[k] = (float)src[k];
}
static inline void to_f64(double *dst, const float *src, size_t count)
{
    for (size_t k = 0; k < count; k++)
        dst[k] = (double)src[k];
}

/* Sets every setting or fails the test. */
static inline void configure(rpo_ctx *ctx, int weighting, int placement,
                             double beta, double tau, double alpha, int reduction)
{
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_WEIGHTING, weighting), RPO_OK);
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_PLACEMENT, placement), RPO_OK);
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_BETA, beta), RPO_OK);
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_TAU, tau), RPO_OK);
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_ALPHA, alpha), RPO_OK);
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_REDUCTION, reduction), RPO_OK);
}

#endif /* RPO_TESTUTIL_H */
