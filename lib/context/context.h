/*
 * The context: settings, last metrics and scratch memory (the arena's
 * plans are scratch.h).
 *
 * Settings live in a table indexed by their public key (RPO_PARAM_*), so a
 * new setting is one row in context.c's table, one field of rpo_config
 * and one header macro; no signature changes. Only context.c (set, get)
 * and config.c read the table: every entry point resolves it once into an
 * rpo_config (config.h), which is what the stages below it read.
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
    int scalar_pairs;             /* RPO_KERNELS_GENERIC: the per-pair
                                     stage in scalar double (config.h)    */
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


/* The region at offset (from rpo_scratch_add) after a successful reserve. */
static inline void *rpo_scratch_at(const rpo_ctx *ctx, size_t offset)
{
    return ctx->scratch + offset;
}

#endif /* RPO_CONTEXT_H */
