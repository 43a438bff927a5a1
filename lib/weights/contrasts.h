/*
 * Effective contrasts: how many rejected responses a chosen response is
 * contrasted with, exp(H_i) with H_i = -sum_j W_ij log W_ij the entropy of
 * row i of W (RPO_STAT_EFFECTIVE_CONTRASTS), and the per-row temperature
 * that makes it a chosen k (RPO_PARAM_TARGET_CONTRASTS), as t-SNE sets each
 * point's bandwidth from a perplexity. docs/extensions.md gives the algebra.
 *
 * Softmax rows get their entropy from the softmax kernel itself
 * (weights_softmax.h); what is here serves the rest: the solve, the
 * caller's weights (a log per weight, 0 log 0 = 0) and DIAGONAL's closed
 * form.
 */
#ifndef RPO_CONTRASTS_H
#define RPO_CONTRASTS_H

#include <stddef.h>

#include "arrays.h"
#include "kernels.h"

/* The solve's bracket: every solved temperature lies in [TAU_MIN,
 * TAU_MAX] (or is +infinity, below). Cosines lie in [-1, 1], so at
 * TAU_MIN = 2^-20 a column 7e-4 below the row's maximum already weighs
 * e^-700 of it, and at TAU_MAX = 2^20 a row differs from uniform by less
 * than 2^-40 in exp(H) / N. Both keep 1 / tau far inside float's range,
 * so the float32 path stays open (plan.c). */
#define RPO_CONTRASTS_TAU_MIN 0x1p-20
#define RPO_CONTRASTS_TAU_MAX 0x1p20
/* The solve stops once |H_i - log k| <= RPO_CONTRASTS_TOL, evaluated in
 * double on the row's similarities, or after RPO_CONTRASTS_MAX_STEPS
 * evaluations: bisection alone narrows the bracket below 1e-13 in log tau
 * within 48, so the limit is never what ends a solvable row. */
#define RPO_CONTRASTS_TOL 1e-10
#define RPO_CONTRASTS_MAX_STEPS 64

/* The temperature tau at which the softmax row w_j = softmax_j(s_j / tau)
 * of the similarities s (n) in type has exp(entropy) = k, 1 <= k <= n:
 *   n == 1          tau0 (the row is 1 whatever tau is)
 *   k >= n          +infinity: the uniform row, exactly
 *   k unreachable   TAU_MIN when the row's maximum is shared by more than k
 *                   columns (exp(H) >= their count at every tau)
 *   otherwise       a safeguarded Newton on log tau inside the bracket,
 *                   started at tau0 (clamped into it)
 * entropy_at is the kernel set's row_entropy of the element type
 * (kernels.h), which evaluates H and its slope in double. Deterministic:
 * the same bits for the same row and kernel set, whatever thread runs it. */
double rpo_solve_row_tau(rpo_row_entropy_fn entropy_at, rpo_dtype type,
                         const void *s, size_t n, double k, double tau0);

/* The entropy of a row of the caller's weights w (n) in type, normalised
 * by the sum of their magnitudes: -sum_j p_j log p_j, p_j = |w_j| / sum
 * |w|, 0 log 0 = 0; -infinity for a row of zeros, which contrasts nothing
 * (exp gives 0 effective contrasts). */
double rpo_caller_row_entropy(rpo_dtype type, const void *w, size_t n);

/* The entropy of a DIAGONAL row: alpha on the diagonal, (1 - alpha) /
 * (n - 1) elsewhere; 0 for n == 1 (the row is 1). */
double rpo_diagonal_row_entropy(double alpha, size_t n);

#endif /* RPO_CONTRASTS_H */
