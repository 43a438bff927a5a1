/*
 * The per-pair kernel of an objective's term list (objective.h): the
 * pairs_family.c kernel with several terms, each reading its own scores,
 * and the sample weights. Same streaming contract: one block of rows at a
 * time, given its weights W.
 *
 * With term t's function f_t, weight w_t and scores sa_ti, sb_tj,
 *   LOSS placement : p_ij = wc_i wr_j W_ij sum_t w_t f_t(sa_ti, sb_tj)
 *   LOGIT placement: p_ij = wc_i wr_j sum_t w_t f_t(k W_ij sa_ti, k W_ij sb_tj)
 * and the derivatives with respect to the policy log-probs chain through
 * the slopes da_ti = d sa_ti / d policy_chosen[i] (db likewise).
 */
#ifndef RPO_OBJECTIVE_PAIRS_H
#define RPO_OBJECTIVE_PAIRS_H

#include <stddef.h>

#include "kernels.h" /* rpo_sums */
#include "objective.h"

typedef struct rpo_objective_pairs {
    size_t m, n;             /* the strides of sa, da and sb, db          */
    const rpo_objective *o;  /* the terms                                 */
    const double *a, *b;     /* (M), (N) log-ratios                       */
    const double *za, *zb;   /* (M), (N) what the metrics contrast: term
                                0's scores (a, b without pair terms)      */
    const double *sa, *da;   /* (T, M) scores and slopes                  */
    const double *sb, *db;   /* (T, N)                                    */
    const double *wc, *wr;   /* (M), (N) sample weights                   */
    int logit;               /* 1: logit placement, 0: loss placement     */
    double logit_scale;      /* k                                         */
    int want_grad;
} rpo_objective_pairs;

/* Rows i0 .. i0 + rows - 1 with their weights w (rows, n): adds the pair
 * terms and metric sums to *sums (metrics as pairs_scalar.h, on za - zb and W),
 * writes row_loss[r] = sum_j p_ij; when want_grad writes row_g[r] =
 * sum_j dp_ij / d policy_chosen[i] and adds dp_ij / d policy_rejected[j]
 * to col_g[j]; when gw is not NULL writes gw (rows, n) = dp_ij / dW_ij.
 * With the objective's losses_grad, every derivative of row i is
 * multiplied by g_i (the gradients of sum_i g_i row_loss_i). */
void rpo_objective_pairs_rows(const rpo_objective_pairs *c, size_t i0, size_t rows,
                        const double *w, rpo_sums *sums, double *row_loss,
                        double *row_g, double *col_g, double *gw);

#endif /* RPO_OBJECTIVE_PAIRS_H */
