/* The temperature of a target number of effective contrasts, and the
 * entropies that need a log per weight. */
#include <math.h>

#include "contrasts.h"

static double at(rpo_dtype type, const void *x, size_t j)
{
    return type == RPO_F32 ? (double)((const float *)x)[j] : ((const double *)x)[j];
}

double rpo_solve_row_tau(rpo_row_entropy_fn entropy_at, rpo_dtype type,
                         const void *s, size_t n, double k, double tau0)
{
    if (n == 1)
        return tau0;
    if (k >= (double)n)
        return HUGE_VAL;
    double top = at(type, s, 0);
    for (size_t j = 1; j < n; j++)
        if (at(type, s, j) > top)
            top = at(type, s, j);

    /* u = log(1 / tau): H falls as u grows. [lo, hi] brackets the root;
     * an end is known to be on its side once it was evaluated. */
    const double u_min = -log(RPO_CONTRASTS_TAU_MAX), u_max = -log(RPO_CONTRASTS_TAU_MIN);
    const double target = log(k);
    double lo = u_min, hi = u_max;
    int lo_seen = 0, hi_seen = 0;
    double u = -log(tau0);
    u = u < lo ? lo : u > hi ? hi : u;
    double step_before = hi - lo, step = step_before;
    for (int i = 0; i < RPO_CONTRASTS_MAX_STEPS; i++) {
        double h, slope;  /* slope: dH/du, which steers Newton alone */
        entropy_at(s, n, top, exp(u), &h, &slope);
        const double f = h - target;
        if (fabs(f) <= RPO_CONTRASTS_TOL)
            break;
        if (f > 0.0) {          /* too many contrasts: a colder row */
            lo = u;
            lo_seen = 1;
            if (u == u_max)     /* ties at the maximum: k is out of reach */
                break;
        } else {
            hi = u;
            hi_seen = 1;
            if (u == u_min)     /* the root is not in the bracket (at
                                   TAU_MAX, H is within 2^-41 of log N,
                                   so only a k the tolerance cannot
                                   tell from N could end here) */
                break;
        }
        /* Newton, unless it leaves the bracket or did not halve the step
         * before last (Numerical Recipes' rtsafe); an end never evaluated
         * is tried first, so an unreachable k ends in one more step. */
        double next = slope < 0.0 ? u - f / slope : (f > 0.0 ? hi : lo);
        if (next >= hi && !hi_seen)
            next = hi;
        else if (next <= lo && !lo_seen)
            next = lo;
        else if (!(next > lo && next < hi) || fabs(2.0 * (next - u)) > fabs(step_before))
            next = 0.5 * (lo + hi);
        step_before = step;
        step = next - u;
        if (next == u)  /* the bracket is as narrow as doubles go */
            break;
        u = next;
    }
    return exp(-u);
}

double rpo_caller_row_entropy(rpo_dtype type, const void *w, size_t n)
{
    /* in units of the largest magnitude, so that no sum overflows */
    double top = 0.0;
    for (size_t j = 0; j < n; j++)
        if (fabs(at(type, w, j)) > top)
            top = fabs(at(type, w, j));
    if (top == 0.0)
        return -HUGE_VAL;
    /* H = log sum - (sum_j a_j log a_j) / sum with a_j = |w_j| / top,
     * 0 log 0 = 0 */
    double sum = 0.0, alog = 0.0;
    for (size_t j = 0; j < n; j++) {
        const double a = fabs(at(type, w, j)) / top;
        sum += a;
        if (a > 0.0)
            alog += a * log(a);
    }
    return log(sum) - alog / sum;
}

double rpo_diagonal_row_entropy(double alpha, size_t n)
{
    if (n == 1)
        return 0.0;
    const double off = (1.0 - alpha) / (double)(n - 1);
    double h = 0.0;
    if (alpha > 0.0)
        h -= alpha * log(alpha);
    if (off > 0.0)
        h -= (1.0 - alpha) * log(off);
    return h;
}
