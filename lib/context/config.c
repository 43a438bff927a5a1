/* A context's settings, typed once per call (config.h). */
#include "config.h"
#include "rpo.h"

rpo_config rpo_config_of(const rpo_ctx *ctx)
{
    const double *param = ctx->param;
    rpo_config c;
    c.weighting = (int)param[RPO_PARAM_WEIGHTING];
    c.beta = param[RPO_PARAM_BETA];
    c.tau = param[RPO_PARAM_TAU];
    c.alpha = param[RPO_PARAM_ALPHA];
    /* The reference implementation puts embedding weights inside the
     * logit and the others on the loss. */
    c.placement = (int)param[RPO_PARAM_PLACEMENT];
    if (c.placement == RPO_PLACEMENT_AUTO)
        c.placement = c.weighting == RPO_WEIGHTING_EMBEDDING ? RPO_PLACEMENT_LOGIT
                                                             : RPO_PLACEMENT_LOSS;
    c.reduction = (int)param[RPO_PARAM_REDUCTION];
    c.threads = (unsigned)param[RPO_PARAM_THREADS];
    c.loss = (int)param[RPO_PARAM_LOSS];
    c.label_smoothing = param[RPO_PARAM_LABEL_SMOOTHING];
    c.discopop_tau = param[RPO_PARAM_DISCOPOP_TAU];
    c.logit_scale = (int)param[RPO_PARAM_LOGIT_SCALE];
    c.sinkhorn_iters = (size_t)param[RPO_PARAM_SINKHORN_ITERS];
    c.sinkhorn_tol = param[RPO_PARAM_SINKHORN_TOL];
    c.simpo_gamma = param[RPO_PARAM_SIMPO_GAMMA];
    c.f_divergence = (int)param[RPO_PARAM_F_DIVERGENCE];
    c.f_alpha = param[RPO_PARAM_F_ALPHA];
    c.desirable_weight = param[RPO_PARAM_DESIRABLE_WEIGHT];
    c.undesirable_weight = param[RPO_PARAM_UNDESIRABLE_WEIGHT];
    c.linear_chunk = (size_t)param[RPO_PARAM_LINEAR_CHUNK];
    c.target_contrasts = param[RPO_PARAM_TARGET_CONTRASTS];
    c.logit = c.placement == RPO_PLACEMENT_LOGIT;
    /* The eps of the pairs kernels' softplus(-u) + eps u, for SIGMOID and
     * ROBUST. SIGMOID's (1 - e) softplus(-u) + e softplus(u) has eps = e,
     * since softplus(u) = u + softplus(-u); ROBUST's ((1 - e) softplus(-u)
     * - e softplus(u)) / (1 - 2 e) is softplus(-u) - e u / (1 - 2 e): eps =
     * -e / (1 - 2 e). */
    const double e = c.label_smoothing;
    c.sigmoid_eps = c.loss == RPO_LOSS_ROBUST ? -e / (1.0 - 2.0 * e) : e;
    c.kernels = ctx->kernels;
    c.scalar_pairs = ctx->scalar_pairs;
    return c;
}
