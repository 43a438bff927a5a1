/*
 * The scalar pairs kernel: losses, gradient contributions and metric sums for a
 * block of rows of the M x N contrast matrix z_ij = a_i - b_j, given the
 * block's weights. Forward and backward sit side by side in one pass, so
 * each pair costs one exp and (only when the loss is wanted) one log1p.
 */
#ifndef RPO_PAIRS_SCALAR_H
#define RPO_PAIRS_SCALAR_H

#include <stddef.h>

#include "kernels.h" /* rpo_sums, the sums every pairs kernel returns */

typedef struct rpo_pairs_scalar {
    size_t n;           /* columns                                       */
    const double *a;    /* (M) chosen log-ratios                         */
    const double *b;    /* (N) rejected log-ratios                       */
    double beta;        /* the pair's: times the logit scale in logit
                           placement                                     */
    double smoothing;   /* label smoothing eps (0: the plain loss)       */
    int logit;          /* 1: logit placement, 0: loss placement         */
    int want_loss;      /* 0: skip softplus (gradient-only call)         */
    int want_grad;      /* 0: skip sigmoid and gradient accumulation     */
} rpo_pairs_scalar;


/* Processes rows i0 .. i0 + rows - 1 with their weights w (rows, n):
 * adds to *sums, writes row_g[r] = sum_j s_ij (when want_grad) and adds
 * s_ij to col_g[j] (when want_grad). The driver applies -beta and the
 * reduction's scale afterwards. */
void rpo_pairs_scalar_rows(const rpo_pairs_scalar *c, size_t i0, size_t rows,
                       const double *w, rpo_sums *sums, double *row_g,
                       double *col_g);

#endif /* RPO_PAIRS_SCALAR_H */
