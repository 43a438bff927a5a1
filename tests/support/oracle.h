/*
 * The long-double oracle of the loss's elementary functions, shared by
 * every suite that recomputes the loss independently (reference.c,
 * streamref.h, test_kernels.c): softplus(-u) and sigmoid(-u), written from
 * their definitions with no formulation in common with
 * lib/common/numerics.h.
 *
 * The exponentials and logarithms are libm's double functions, correct to
 * about an ulp: the suites compare float64 results at 1e-12 or coarser, and
 * long double's expl is ten times slower, which the 16 million pairs of the
 * large-shape suites cannot afford. Products, differences and sums run in
 * long double (a 64-bit significand on x86-64; under valgrind, which
 * computes long double with 53 bits, no worse than the library's float64).
 * softplus and sigmoid come from series and direct formulas picked by
 * range, so neither overflows nor loses a small term.
 *
 * (family_ref.h is deliberately not built on this: it transcribes TRL's
 * own formulas, logsigmoid and all, as TRL writes them.)
 */
#ifndef RPO_TEST_ORACLE_H
#define RPO_TEST_ORACLE_H

#include <math.h>

/* e^x and log x: libm's double functions (see above). */
static inline long double oracle_exp(long double x)
{
    return (long double)exp((double)x);
}
static inline long double oracle_log(long double x)
{
    return (long double)log((double)x);
}

/* log(1 + t) for t in [0, 1]: a direct log where 1 + t keeps t's digits,
 * the alternating series where t is so small that it would not. */
static inline long double oracle_log1p_small(long double t)
{
    if (t > 1e-4L)
        return oracle_log(1.0L + t);
    return t - t * t / 2.0L + t * t * t / 3.0L - t * t * t * t / 4.0L;
}

/* softplus(-u) = log(1 + exp(-u)), split by the sign of u so that the
 * exponential never overflows and the small term is never swamped. */
static inline long double oracle_softplus_neg(long double u)
{
    if (u >= 0.0L)
        return oracle_log1p_small(oracle_exp(-u));
    return -u + oracle_log1p_small(oracle_exp(u));
}

/* sigmoid(-u) = 1 / (1 + exp(u)); where exp(u) overflows the quotient is
 * its limit 0. */
static inline long double oracle_sigmoid_neg(long double u)
{
    return 1.0L / (1.0L + oracle_exp(u));
}

#endif /* RPO_TEST_ORACLE_H */
