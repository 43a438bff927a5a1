/*
 * A call's settings, typed: what every stage below an entry point reads
 * instead of the context's raw table. Each public entry point resolves
 * the context once, at its start (rpo_config_of), and hands the result
 * down; only context.c (rpo_ctx_set, rpo_ctx_get) and config.c read
 * rpo_ctx's param[].
 */
#ifndef RPO_CONFIG_H
#define RPO_CONFIG_H

#include <stddef.h>

#include "context.h"
#include "kernels.h"

typedef struct rpo_config {
    /* the settings, one field each (RPO_PARAM_*) */
    int weighting;            /* RPO_WEIGHTING_*                           */
    double beta, tau, alpha;
    int placement;            /* RPO_PLACEMENT_LOGIT or _LOSS: AUTO is
                                 resolved from the context's weighting     */
    int reduction;            /* RPO_REDUCTION_*                           */
    unsigned threads;
    int loss;                 /* RPO_LOSS_*                                */
    double label_smoothing;
    double discopop_tau;
    int logit_scale;          /* RPO_LOGIT_SCALE_*                         */
    size_t sinkhorn_iters;
    double sinkhorn_tol;
    double simpo_gamma;
    int f_divergence;         /* RPO_FDIV_*                                */
    double f_alpha;
    double desirable_weight, undesirable_weight;
    size_t linear_chunk;
    double target_contrasts;  /* k; 0: off (tau as set)                    */
    /* derived once */
    int logit;                /* placement == RPO_PLACEMENT_LOGIT          */
    double sigmoid_eps;       /* the pairs kernels' eps (below)            */
    /* the context's kernel choice (rpo_ctx_use_kernels) */
    const rpo_kernels *kernels;
    int scalar_pairs;         /* RPO_KERNELS_GENERIC: the per-pair stage in
                                 scalar double (loss/pairs_scalar.c)       */
} rpo_config;

/* The context's settings now. */
rpo_config rpo_config_of(const rpo_ctx *ctx);

/* The logit scale k of LOGIT placement (1, or N for ROW_MEAN). */
static inline double rpo_logit_factor(const rpo_config *cfg, size_t n)
{
    return cfg->logit_scale == RPO_LOGIT_SCALE_ROW_MEAN ? (double)n : 1.0;
}

/* The beta the sigmoid kernels see: beta k W_ij z_ij is the pair's logit
 * in LOGIT placement, beta z_ij in LOSS placement. */
static inline double rpo_pair_beta(const rpo_config *cfg, size_t n)
{
    return cfg->logit ? cfg->beta * rpo_logit_factor(cfg, n) : cfg->beta;
}

#endif /* RPO_CONFIG_H */
