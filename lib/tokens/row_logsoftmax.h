/*
 * The stable log-softmax of one row of logits, forward and backward, in
 * double. The token helpers (tokens.c) stream rows of a (T, V) matrix
 * through these two kernels and never hold more than a few rows.
 *
 * With top = max_v x[v] and log_sum = log sum_v exp(x[v] - top):
 *
 *     log softmax(x)[v] = (x[v] - top) - log_sum
 *     softmax(x)[v]     = exp((x[v] - top) - log_sum)
 *
 * Every exponent is <= 0, so nothing overflows, and the sum lies in [1, V]
 * (its largest term is exp(0) = 1), so its log neither overflows nor
 * vanishes; it is taken as log1p of the terms other than the top's, which
 * keeps them when they are tiny. Keeping top and log_sum apart, rather than
 * adding them into one log-sum-exp, keeps log_sum's digits when |top| is
 * huge.
 */
#ifndef RPO_ROW_LOGSOFTMAX_H
#define RPO_ROW_LOGSOFTMAX_H

#include <stddef.h>

/* The two halves of a row's log-sum-exp. */
typedef struct rpo_lse {
    double top;      /* max_v x[v]                        */
    double log_sum;  /* log sum_v exp(x[v] - top), >= 0   */
} rpo_lse;

/* x: (V), V > 0, finite. */
rpo_lse rpo_row_lse(const double *x, size_t v);

/* The log-probability of class y under softmax(x). */
static inline double rpo_row_logp(const double *x, size_t y, rpo_lse lse)
{
    return (x[y] - lse.top) - lse.log_sum;
}

/* d[v] += g * ([v == y] - softmax(x)[v]) for v < V: the gradient of
 * g * log softmax(x)[y] with respect to x, accumulated. Computes the row's
 * log-sum-exp itself, keeping its exponentials in e, so each entry costs
 * one exp.   x: (V)   e: (V) scratch   d: (V) */
void rpo_row_logp_backward(const double *x, size_t v, size_t y, double g,
                           double *e, double *d);

#endif /* RPO_ROW_LOGSOFTMAX_H */
