/*
 * The context: settings, last metrics and scratch memory (the arena's
 * plans are scratch.h).
 *
 * Settings live in a table indexed by their public key (RPO_PARAM_*), so a
 * new setting is one row in context.c's table and one header macro; no
 * signature changes.
 */
#ifndef RPO_CONTEXT_H
#define RPO_CONTEXT_H

#include <stddef.h>

#include "kernels.h"
#include "rpo.h"
#include "scratch.h"

/* Room for one rpo_ctx_error_detail text, its NUL included; a longer
 * detail is cut, never overrun. */
#define RPO_DETAIL_BYTES 256

/* One past the largest RPO_PARAM_* key. */
#define RPO_PARAM_END 21

/* Metrics of the last successful loss call (RPO_STAT_*). */
typedef struct rpo_metrics {
    double loss;
    double reward_chosen;
    double reward_rejected;
    double margin;
    double accuracy;
    double sinkhorn_iterations;  /* RPO_STAT_SINKHORN_*: 0 when no plan */
    double sinkhorn_error;
    double logps_chosen;         /* RPO_STAT_LOGPS_*, RPO_STAT_KL: set by
                                    rpo_objective_* only                  */
    double logps_rejected;
    double kl;
    double effective_contrasts;  /* RPO_STAT_EFFECTIVE_CONTRASTS          */
    double diagonal_weight;      /* RPO_STAT_DIAGONAL_WEIGHT              */
} rpo_metrics;

struct rpo_ctx {
    double param[RPO_PARAM_END];  /* indexed by RPO_PARAM_*; [0] unused */
    rpo_metrics last;
    void *scratch_block;          /* as returned by malloc                 */
    unsigned char *scratch;       /* scratch_block aligned to RPO_ALIGN    */
    size_t scratch_bytes;         /* usable bytes at scratch               */
    const rpo_kernels *kernels;   /* chosen at creation for this CPU       */
    int generic_pairs;            /* per-pair stage through contrast.c     */
    char error_detail[RPO_DETAIL_BYTES]; /* rpo_ctx_error_detail's text: "" */
};

/* Error details (rpo_ctx_error_detail). Every public entry point that takes
 * a context clears the detail first (rpo_detail_clear), so a successful call
 * leaves "". A check that fails returns rpo_fail(ctx, status, fmt, ...):
 * it formats the detail into the context (when ctx is not NULL) and
 * returns status, so a check reads `return rpo_fail(ctx, RPO_ERR_SIZE,
 * "DIAGONAL weighting needs m == n (m = %zu, n = %zu)", m, n);`. */
static inline void rpo_detail_clear(rpo_ctx *ctx)
{
    if (ctx != NULL)
        ctx->error_detail[0] = '\0';
}
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
int rpo_fail(rpo_ctx *ctx, int status, const char *fmt, ...);

/* Typed readers of the settings, so the engine never sees raw keys. */
static inline int rpo_weighting(const rpo_ctx *ctx)
{
    return (int)ctx->param[RPO_PARAM_WEIGHTING];
}
static inline int rpo_reduction(const rpo_ctx *ctx)
{
    return (int)ctx->param[RPO_PARAM_REDUCTION];
}
static inline unsigned rpo_threads(const rpo_ctx *ctx)
{
    return (unsigned)ctx->param[RPO_PARAM_THREADS];
}
static inline int rpo_loss_kind(const rpo_ctx *ctx)
{
    return (int)ctx->param[RPO_PARAM_LOSS];
}
static inline size_t rpo_linear_chunk(const rpo_ctx *ctx)
{
    return (size_t)ctx->param[RPO_PARAM_LINEAR_CHUNK];
}
/* k of RPO_PARAM_TARGET_CONTRASTS; 0: off */
static inline double rpo_target_contrasts(const rpo_ctx *ctx)
{
    return ctx->param[RPO_PARAM_TARGET_CONTRASTS];
}
static inline int rpo_logit_scale(const rpo_ctx *ctx)
{
    return (int)ctx->param[RPO_PARAM_LOGIT_SCALE];
}

/* The placement AUTO resolves to: the reference implementation puts
 * embedding weights inside the logit and the others on the loss. */
int rpo_resolved_placement(const rpo_ctx *ctx);

/* The logit scale k of LOGIT placement (1, or N for ROW_MEAN), and the
 * beta the sigmoid kernels see: beta k W_ij z_ij is the pair's logit. */
double rpo_logit_factor(const rpo_ctx *ctx, size_t n);
double rpo_pair_beta(const rpo_ctx *ctx, size_t n);

/* The eps of the pairs kernels' softplus(-u) + eps u, for SIGMOID and
 * ROBUST. SIGMOID's (1 - e) softplus(-u) + e softplus(u) has eps = e, since
 * softplus(u) = u + softplus(-u); ROBUST's ((1 - e) softplus(-u) - e
 * softplus(u)) / (1 - 2 e) is softplus(-u) - e u / (1 - 2 e): eps =
 * -e / (1 - 2 e). */
double rpo_sigmoid_smoothing(const rpo_ctx *ctx);

/* The region at offset (from rpo_scratch_add) after a successful reserve. */
static inline void *rpo_scratch_at(const rpo_ctx *ctx, size_t offset)
{
    return ctx->scratch + offset;
}

#endif /* RPO_CONTEXT_H */
