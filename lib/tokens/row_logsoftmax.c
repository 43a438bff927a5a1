/* Log-softmax of one row: forward and backward side by side. */
#include <math.h>

#include "row_logsoftmax.h"

static size_t row_argmax(const double *x, size_t v)
{
    size_t arg = 0;
    for (size_t k = 1; k < v; k++)
        if (x[k] > x[arg])
            arg = k;
    return arg;
}

/* sum of exp(x[k] - top) for k in [from, to) */
static double sum_exp_shifted(const double *x, size_t from, size_t to, double top)
{
    double sum = 0.0;
    for (size_t k = from; k < to; k++)
        sum += exp(x[k] - top);
    return sum;
}

/* The same, keeping each term in e[k]. */
static double keep_exp_shifted(const double *x, size_t from, size_t to,
                               double top, double *e)
{
    double sum = 0.0;
    for (size_t k = from; k < to; k++) {
        e[k] = exp(x[k] - top);
        sum += e[k];
    }
    return sum;
}

rpo_lse rpo_row_lse(const double *x, size_t v)
{
    size_t arg = row_argmax(x, v);
    /* The sum is 1 (the top's own term) plus the rest; log1p of the rest
     * keeps the rest's digits when it is far below the ulp of 1, which is
     * what a confident model's log-probs and gradients are made of. */
    double rest = sum_exp_shifted(x, 0, arg, x[arg]) +
                  sum_exp_shifted(x, arg + 1, v, x[arg]);
    rpo_lse lse;
    lse.top = x[arg];
    lse.log_sum = log1p(rest);
    return lse;
}

static void subtract_scaled(const double *e, size_t from, size_t to,
                            double scale, double *d)
{
    for (size_t k = from; k < to; k++)
        d[k] -= scale * e[k];
}

void rpo_row_logp_backward(const double *x, size_t v, size_t y, double g,
                           double *e, double *d)
{
    /* The log-sum-exp as in rpo_row_lse, keeping the exponentials, so that
     * softmax(x)[k] = e[k] / (1 + rest) costs no second exp. */
    size_t arg = row_argmax(x, v);
    double rest = keep_exp_shifted(x, 0, arg, x[arg], e) +
                  keep_exp_shifted(x, arg + 1, v, x[arg], e);
    e[arg] = 1.0;
    rpo_lse lse;
    lse.top = x[arg];
    lse.log_sum = log1p(rest);

    const double scale = g / (1.0 + rest);
    subtract_scaled(e, 0, y, scale, d);
    subtract_scaled(e, y + 1, v, scale, d);
    /* The target's 1 - p_y as -expm1(log p_y): accurate even when the
     * model is confident (p_y near 1), where 1 - p_y would cancel. */
    d[y] -= g * expm1(rpo_row_logp(x, y, lse));
}
