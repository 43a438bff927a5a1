/* Context lifetime, settings with their bounds, metrics (the scratch
 * arena is scratch.c). */
#include <float.h>
#include <stdarg.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"

/* The smallest positive double: the inclusive lower bound of a "> 0"
 * setting. Written out because DBL_TRUE_MIN is C11. */
#define POSITIVE_MIN 4.9406564584124654e-324

/* The largest double below 0.5: label smoothing is a flip probability,
 * and ROBUST divides by 1 - 2 eps. */
#define BELOW_HALF 0.49999999999999994

typedef struct param_spec {
    const char *name;       /* as rpo.h spells the key, for error details */
    double default_value;
    double lo, hi;          /* inclusive */
    int is_enum;            /* the value must be an integer in [lo, hi]
                               (an enumeration or a count)              */
} param_spec;

static const param_spec param_specs[RPO_PARAM_END] = {
    [RPO_PARAM_WEIGHTING] =
        {"RPO_PARAM_WEIGHTING", RPO_WEIGHTING_EMBEDDING, 0, 3, 1},
    [RPO_PARAM_BETA] =
        {"RPO_PARAM_BETA", 0.1, POSITIVE_MIN, DBL_MAX, 0},
    [RPO_PARAM_TAU] =
        {"RPO_PARAM_TAU", 0.5, POSITIVE_MIN, DBL_MAX, 0},
    [RPO_PARAM_ALPHA] =
        {"RPO_PARAM_ALPHA", 0.8, 0.0, 1.0, 0},
    [RPO_PARAM_PLACEMENT] =
        {"RPO_PARAM_PLACEMENT", RPO_PLACEMENT_AUTO, 0, 2, 1},
    [RPO_PARAM_REDUCTION] =
        {"RPO_PARAM_REDUCTION", RPO_REDUCTION_MEAN, 0, 1, 1},
    [RPO_PARAM_THREADS] =
        {"RPO_PARAM_THREADS", 1, 1, 256, 1},
    [RPO_PARAM_LOSS] =
        {"RPO_PARAM_LOSS", RPO_LOSS_SIGMOID, 0, RPO_LOSS_DISCOPOP, 1},
    [RPO_PARAM_LABEL_SMOOTHING] =
        {"RPO_PARAM_LABEL_SMOOTHING", 0.0, 0.0, BELOW_HALF, 0},
    [RPO_PARAM_DISCOPOP_TAU] =
        {"RPO_PARAM_DISCOPOP_TAU", 0.05, POSITIVE_MIN, DBL_MAX, 0},
    [RPO_PARAM_LOGIT_SCALE] =
        {"RPO_PARAM_LOGIT_SCALE", RPO_LOGIT_SCALE_ROW_SUM, 0, 1, 1},
    [RPO_PARAM_SINKHORN_ITERS] =
        {"RPO_PARAM_SINKHORN_ITERS", 200, 1, 1e6, 1},
    [RPO_PARAM_SINKHORN_TOL] =
        {"RPO_PARAM_SINKHORN_TOL", 1e-9, 0.0, 1.0, 0},
    [RPO_PARAM_SIMPO_GAMMA] =
        {"RPO_PARAM_SIMPO_GAMMA", 0.0, 0.0, DBL_MAX, 0},
    [RPO_PARAM_F_DIVERGENCE] =
        {"RPO_PARAM_F_DIVERGENCE", RPO_FDIV_REVERSE_KL, 0, RPO_FDIV_ALPHA, 1},
    [RPO_PARAM_F_ALPHA] =
        {"RPO_PARAM_F_ALPHA", 1.0, POSITIVE_MIN, DBL_MAX, 0},
    [RPO_PARAM_DESIRABLE_WEIGHT] =
        {"RPO_PARAM_DESIRABLE_WEIGHT", 1.0, 0.0, DBL_MAX, 0},
    [RPO_PARAM_UNDESIRABLE_WEIGHT] =
        {"RPO_PARAM_UNDESIRABLE_WEIGHT", 1.0, 0.0, DBL_MAX, 0},
    /* 16: a chunk at least one vector of columns wide; 4096: a float
     * chunk of logits of 64 MiB per thread is as far as chunking helps */
    [RPO_PARAM_LINEAR_CHUNK] =
        {"RPO_PARAM_LINEAR_CHUNK", 256, 16, 4096, 1},
    /* 0 is off; an effective number of contrasts below 1 means nothing,
     * so (0, 1) is refused at set time (rpo_ctx_set) */
    [RPO_PARAM_TARGET_CONTRASTS] =
        {"RPO_PARAM_TARGET_CONTRASTS", 0.0, 0.0, DBL_MAX, 0},
};

static const param_spec *find_param(int param)
{
    if (param <= 0 || param >= RPO_PARAM_END)
        return NULL;
    /* a key without a row is not a setting */
    if (param_specs[param].name == NULL)
        return NULL;
    return &param_specs[param];
}

rpo_ctx *rpo_ctx_create(void)
{
    rpo_ctx *ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL)
        return NULL;
    for (int p = 1; p < RPO_PARAM_END; p++)
        ctx->param[p] = param_specs[p].default_value;
    ctx->kernels = rpo_kernels_best();
    return ctx;
}

int rpo_fail(rpo_ctx *ctx, int status, const char *fmt, ...)
{
    if (ctx != NULL) {
        va_list args;
        va_start(args, fmt);
        /* vsnprintf cuts a long detail and always ends it with a NUL. */
        (void)vsnprintf(ctx->error_detail, sizeof ctx->error_detail, fmt, args);
        va_end(args);
    }
    return status;
}

const char *rpo_ctx_error_detail(const rpo_ctx *ctx)
{
    return ctx != NULL ? ctx->error_detail : "";
}

int rpo_ctx_use_kernels(rpo_ctx *ctx, int kernels)
{
    if (ctx == NULL)
        return RPO_ERR_NULL_POINTER;
    rpo_detail_clear(ctx);
    if (kernels < RPO_KERNELS_AUTO || kernels > RPO_KERNELS_GENERIC)
        return rpo_fail(ctx, RPO_ERR_PARAM, "kernels = %d is not an "
                        "RPO_KERNELS_* value (%d to %d)", kernels,
                        RPO_KERNELS_AUTO, RPO_KERNELS_GENERIC);
    const rpo_kernels *k =
        kernels == RPO_KERNELS_AUTO    ? rpo_kernels_best()
        : kernels == RPO_KERNELS_GENERIC ? rpo_kernels_get(RPO_KERNELS_PORTABLE)
                                         : rpo_kernels_get(kernels);
    if (k == NULL)
        return rpo_fail(ctx, RPO_ERR_UNSUPPORTED, "kernel set %d is not "
                        "available: this build or this CPU cannot run it",
                        kernels);
    ctx->kernels = k;
    ctx->scalar_pairs = kernels == RPO_KERNELS_GENERIC;
    return RPO_OK;
}

const char *rpo_ctx_kernels(const rpo_ctx *ctx)
{
    if (ctx == NULL)
        return "";
    return ctx->scalar_pairs ? "generic" : ctx->kernels->name;
}

void rpo_ctx_free(rpo_ctx *ctx)
{
    if (ctx == NULL)
        return;
    free(ctx->scratch_block);
    free(ctx);
}

int rpo_param_bounds(int param, double *lo, double *hi)
{
    if (lo == NULL || hi == NULL)
        return RPO_ERR_NULL_POINTER;
    const param_spec *spec = find_param(param);
    if (spec == NULL)
        return RPO_ERR_PARAM;
    *lo = spec->lo;
    *hi = spec->hi;
    return RPO_OK;
}

/* The values a setting takes, in words: "an integer in [1, 256]", "a
 * finite value > 0", "in [0, 0.5)". */
static void describe_range(const param_spec *spec, char *text, size_t size)
{
    if (spec->is_enum)
        (void)snprintf(text, size, "an integer in [%.17g, %.17g]", spec->lo,
                       spec->hi);
    else if (spec->lo == POSITIVE_MIN && spec->hi == DBL_MAX)
        (void)snprintf(text, size, "a finite value > 0");
    else if (spec->hi == BELOW_HALF)
        (void)snprintf(text, size, "in [%.17g, 0.5)", spec->lo);
    else
        (void)snprintf(text, size, "in [%.17g, %.17g]", spec->lo, spec->hi);
}

int rpo_ctx_set(rpo_ctx *ctx, int param, double value)
{
    if (ctx == NULL)
        return RPO_ERR_NULL_POINTER;
    rpo_detail_clear(ctx);
    const param_spec *spec = find_param(param);
    if (spec == NULL)
        return rpo_fail(ctx, RPO_ERR_PARAM, "no setting has the key %d "
                        "(RPO_PARAM_* keys run from 1 to %d)", param,
                        RPO_PARAM_END - 1);
    /* Written so that NaN fails every comparison and is rejected. */
    if (!(value >= spec->lo && value <= spec->hi) ||
        (spec->is_enum && value != floor(value))) {
        char range[80];
        describe_range(spec, range, sizeof range);
        return rpo_fail(ctx, RPO_ERR_PARAM, "%s = %.17g is not %s", spec->name,
                        value, range);
    }
    if (param == RPO_PARAM_TARGET_CONTRASTS && value > 0.0 && value < 1.0)
        return rpo_fail(ctx, RPO_ERR_PARAM, "RPO_PARAM_TARGET_CONTRASTS = "
                        "%.17g is not 0 (off) nor >= 1: a row has at least "
                        "one effective contrast", value);
    ctx->param[param] = value;
    return RPO_OK;
}

int rpo_ctx_get(const rpo_ctx *ctx, int param, double *value)
{
    if (ctx == NULL || value == NULL)
        return RPO_ERR_NULL_POINTER;
    if (find_param(param) == NULL)
        return RPO_ERR_PARAM;
    *value = ctx->param[param];
    return RPO_OK;
}

int rpo_ctx_stat(const rpo_ctx *ctx, int stat, double *value)
{
    if (ctx == NULL || value == NULL)
        return RPO_ERR_NULL_POINTER;
    switch (stat) {
    case RPO_STAT_LOSS:            *value = ctx->last.loss;            break;
    case RPO_STAT_REWARD_CHOSEN:   *value = ctx->last.reward_chosen;   break;
    case RPO_STAT_REWARD_REJECTED: *value = ctx->last.reward_rejected; break;
    case RPO_STAT_MARGIN:          *value = ctx->last.margin;          break;
    case RPO_STAT_ACCURACY:        *value = ctx->last.accuracy;        break;
    case RPO_STAT_SINKHORN_ITERATIONS:
        *value = ctx->last.sinkhorn_iterations;
        break;
    case RPO_STAT_SINKHORN_ERROR:  *value = ctx->last.sinkhorn_error;  break;
    case RPO_STAT_LOGPS_CHOSEN:    *value = ctx->last.logps_chosen;    break;
    case RPO_STAT_LOGPS_REJECTED:  *value = ctx->last.logps_rejected;  break;
    case RPO_STAT_KL:              *value = ctx->last.kl;              break;
    case RPO_STAT_EFFECTIVE_CONTRASTS:
        *value = ctx->last.effective_contrasts;
        break;
    case RPO_STAT_DIAGONAL_WEIGHT: *value = ctx->last.diagonal_weight; break;
    default:                       return RPO_ERR_PARAM;
    }
    return RPO_OK;
}

