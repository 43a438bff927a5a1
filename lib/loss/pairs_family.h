/*
 * The pairs kernel for any member of the loss family (pair_loss.h): the
 * generic counterpart of the pairs kernels (kernels/simd/pairs.h and its
 * scalar twin pairs_scalar.c), which serve SIGMOID and ROBUST alone. Same
 * streaming contract: one block of rows at a time, given its weights.
 *
 * With p_ij the pair's term of the loss before the reduction's scale,
 *   LOSS placement : p_ij = W_ij f(a_i, b_j)
 *   LOGIT placement: p_ij = f(k W_ij a_i, k W_ij b_j)   (k: logit scale)
 * the kernel sums p_ij, its derivatives with respect to a_i and b_j, and
 * (for embedding gradients) its derivative with respect to W_ij. The value
 * f is always evaluated: it shares its exp with the derivatives, and the
 * embedding gradient of LOSS placement needs it.
 */
#ifndef RPO_PAIRS_FAMILY_H
#define RPO_PAIRS_FAMILY_H

#include <stddef.h>

#include "kernels.h" /* rpo_sums */
#include "pair_loss.h"

typedef struct rpo_pairs_family {
    size_t n;               /* columns                                   */
    const double *a;        /* (M) chosen log-ratios                     */
    const double *b;        /* (N) rejected log-ratios                   */
    const rpo_pair_loss *f;  /* the per-pair function                     */
    int logit;              /* 1: logit placement, 0: loss placement     */
    double logit_scale;     /* k: 1 (rows of W sum to 1) or N            */
    int want_grad;          /* 0: skip the derivatives for a and b       */
} rpo_pairs_family;

/* Rows i0 .. i0 + rows - 1 with their weights w (rows, n): adds the pair
 * terms and the metric sums (as pairs_scalar.h defines them) to *sums; when
 * want_grad writes row_g[r] = sum_j dp_ij/da_i and adds dp_ij/db_j to
 * col_g[j]; when gw is not NULL writes gw (rows, n) = dp_ij/dW_ij. */
void rpo_pairs_family_rows(const rpo_pairs_family *c, size_t i0, size_t rows,
                     const double *w, rpo_sums *sums, double *row_g,
                     double *col_g, double *gw);

#endif /* RPO_PAIRS_FAMILY_H */
