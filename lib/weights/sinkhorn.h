/*
 * Optimal-transport weights (RPO_WEIGHTING_SINKHORN): the entropic OT plan
 * between the M chosen and the N rejected prompts, with cost
 * C_ij = 1 - cos_ij, uniform marginals 1/M and 1/N, and regularisation
 * epsilon = tau, by log-domain Sinkhorn iterations on the potentials
 *
 *     P_ij = exp((f_i + g_j - C_ij) / epsilon)
 *     f_i  = -epsilon log M - LSE_j(g_j - C_ij)      (rows sum to 1/M)
 *     g_j  = -epsilon log N - LSE_i(f_i - C_ij)      (columns to 1/N)
 *
 * with LSE_k(x_k) = max x + epsilon log sum_k exp((x_k - max x)/epsilon),
 * which never overflows, whatever epsilon. Rows rescaled to sum to 1, the
 * plan is W_ij = softmax_j((cos_ij + g_j) / epsilon): f cancels, and the
 * weights are the EMBEDDING softmax with a column bias g. So the engine
 * keeps only g and streams W by row blocks like the EMBEDDING weights
 * (weights.c); the constant 1 of the cost is dropped throughout.
 */
#ifndef RPO_SINKHORN_H
#define RPO_SINKHORN_H

#include <stddef.h>

#include "kernels.h"

/* Outcome of a run, for RPO_STAT_SINKHORN_*. */
typedef struct rpo_sinkhorn_run {
    size_t iterations;
    double error;   /* max_j |N * column sum_j of (W / M) - 1|             */
} rpo_sinkhorn_run;

/* The column potentials g (n) for the cosine matrix cos (m, n), m, n > 0.
 * Each iteration makes the rows exact for the current g, then measures
 * the columns; it stops when their error is <= tol or after max_iters
 * (>= 1) iterations, keeping the g that was measured, so run->error is
 * exactly the column error of the W the engine then uses. With
 * max_iters = 1, g = 0 and W is the EMBEDDING weighting.
 * Work: f (m), g_next (n), col_max (n), col_sum (n). The log-sum-exps
 * are k's kernels (kernels.h); each half-iteration runs on up to `workers`
 * threads (threads.h), each potential computed whole by one of them, so
 * the results do not depend on `workers`. */
rpo_sinkhorn_run rpo_sinkhorn(const double *cos, size_t m, size_t n,
                              double epsilon, size_t max_iters, double tol,
                              double *g, double *f, double *g_next,
                              double *col_max, double *col_sum,
                              const rpo_kernels *k, unsigned workers);

#endif /* RPO_SINKHORN_H */
