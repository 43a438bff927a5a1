/* Context lifetime, settings with their bounds, metrics and scratch. */
#include <float.h>
#include <stdarg.h>
#include <stdio.h>
#include <math.h>
#include <stdint.h>
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
    double default_value;
    double lo, hi;          /* inclusive */
    int is_enum;            /* the value must be an integer in [lo, hi]
                               (an enumeration or a count)              */
} param_spec;

static const param_spec param_specs[RPO_PARAM_END] = {
    [RPO_PARAM_WEIGHTING] = {RPO_WEIGHTING_EMBEDDING, 0, 3, 1},
    [RPO_PARAM_BETA]      = {0.1, POSITIVE_MIN, DBL_MAX, 0},
    [RPO_PARAM_TAU]       = {0.5, POSITIVE_MIN, DBL_MAX, 0},
    [RPO_PARAM_ALPHA]     = {0.8, 0.0, 1.0, 0},
    [RPO_PARAM_PLACEMENT] = {RPO_PLACEMENT_AUTO, 0, 2, 1},
    [RPO_PARAM_REDUCTION] = {RPO_REDUCTION_MEAN, 0, 1, 1},
    [RPO_PARAM_THREADS]   = {1, 1, 256, 1},
    [RPO_PARAM_LOSS]            = {RPO_LOSS_SIGMOID, 0, RPO_LOSS_DISCOPOP, 1},
    [RPO_PARAM_LABEL_SMOOTHING] = {0.0, 0.0, BELOW_HALF, 0},
    [RPO_PARAM_DISCOPOP_TAU]    = {0.05, POSITIVE_MIN, DBL_MAX, 0},
    [RPO_PARAM_LOGIT_SCALE]     = {RPO_LOGIT_SCALE_ROW_SUM, 0, 1, 1},
    [RPO_PARAM_SINKHORN_ITERS]  = {200, 1, 1e6, 1},
    [RPO_PARAM_SINKHORN_TOL]    = {1e-9, 0.0, 1.0, 0},
    [RPO_PARAM_SIMPO_GAMMA]     = {0.0, 0.0, DBL_MAX, 0},
    [RPO_PARAM_F_DIVERGENCE]    = {RPO_FDIV_REVERSE_KL, 0, RPO_FDIV_ALPHA, 1},
    [RPO_PARAM_F_ALPHA]         = {1.0, POSITIVE_MIN, DBL_MAX, 0},
    [RPO_PARAM_DESIRABLE_WEIGHT]   = {1.0, 0.0, DBL_MAX, 0},
    [RPO_PARAM_UNDESIRABLE_WEIGHT] = {1.0, 0.0, DBL_MAX, 0},
};

static const param_spec *find_param(int param)
{
    if (param <= 0 || param >= RPO_PARAM_END)
        return NULL;
    /* A key without a row (every field 0) is not a setting: no real
     * setting has the range [0, 0]. */
    if (param_specs[param].lo == 0.0 && param_specs[param].hi == 0.0)
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
    if (kernels < RPO_KERNELS_AUTO || kernels > RPO_KERNELS_GENERIC)
        return RPO_ERR_PARAM;
    const rpo_kernels *k =
        kernels == RPO_KERNELS_AUTO    ? rpo_kernels_best()
        : kernels == RPO_KERNELS_GENERIC ? rpo_kernels_get(RPO_KERNELS_PORTABLE)
                                         : rpo_kernels_get(kernels);
    if (k == NULL)
        return RPO_ERR_UNSUPPORTED;
    ctx->kernels = k;
    ctx->generic_pairs = kernels == RPO_KERNELS_GENERIC;
    return RPO_OK;
}

const char *rpo_ctx_kernels(const rpo_ctx *ctx)
{
    if (ctx == NULL)
        return "";
    return ctx->generic_pairs ? "generic" : ctx->kernels->name;
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

int rpo_ctx_set(rpo_ctx *ctx, int param, double value)
{
    if (ctx == NULL)
        return RPO_ERR_NULL_POINTER;
    const param_spec *spec = find_param(param);
    if (spec == NULL)
        return RPO_ERR_PARAM;
    /* Written so that NaN fails every comparison and is rejected. */
    if (!(value >= spec->lo && value <= spec->hi))
        return RPO_ERR_PARAM;
    if (spec->is_enum && value != floor(value))
        return RPO_ERR_PARAM;
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
    default:                       return RPO_ERR_PARAM;
    }
    return RPO_OK;
}

int rpo_resolved_placement(const rpo_ctx *ctx)
{
    int placement = (int)ctx->param[RPO_PARAM_PLACEMENT];
    if (placement != RPO_PLACEMENT_AUTO)
        return placement;
    return rpo_weighting(ctx) == RPO_WEIGHTING_EMBEDDING ? RPO_PLACEMENT_LOGIT
                                                         : RPO_PLACEMENT_LOSS;
}

double rpo_logit_factor(const rpo_ctx *ctx, size_t n)
{
    return rpo_logit_scale(ctx) == RPO_LOGIT_SCALE_ROW_MEAN ? (double)n : 1.0;
}

double rpo_pair_beta(const rpo_ctx *ctx, size_t n)
{
    const double beta = ctx->param[RPO_PARAM_BETA];
    return rpo_resolved_placement(ctx) == RPO_PLACEMENT_LOGIT
               ? beta * rpo_logit_factor(ctx, n)
               : beta;
}

double rpo_sigmoid_smoothing(const rpo_ctx *ctx)
{
    const double e = ctx->param[RPO_PARAM_LABEL_SMOOTHING];
    return rpo_loss_kind(ctx) == RPO_LOSS_ROBUST ? -e / (1.0 - 2.0 * e) : e;
}

size_t rpo_scratch_add(rpo_scratch_plan *plan, size_t count, size_t elem_size)
{
    size_t offset = plan->bytes;
    if (elem_size != 0 && count > (SIZE_MAX - RPO_ALIGN) / elem_size) {
        plan->overflow = 1;
        return 0;
    }
    size_t bytes = (count * elem_size + RPO_ALIGN - 1) / RPO_ALIGN * RPO_ALIGN;
    if (bytes > SIZE_MAX - RPO_ALIGN - plan->bytes) {
        plan->overflow = 1;
        return 0;
    }
    plan->bytes += bytes;
    return offset;
}

int rpo_scratch_reserve(rpo_ctx *ctx, const rpo_scratch_plan *plan)
{
    if (plan->overflow)
        return RPO_ERR_SIZE;
    if (plan->bytes <= ctx->scratch_bytes)
        return RPO_OK;
    /* Grow geometrically so sizes that creep up step by step settle after a
     * few calls; the contents need not survive, so no realloc. */
    size_t want = plan->bytes;
    if (ctx->scratch_bytes <= (SIZE_MAX - RPO_ALIGN) / 2 &&
        ctx->scratch_bytes + ctx->scratch_bytes / 2 > want)
        want = ctx->scratch_bytes + ctx->scratch_bytes / 2;
    void *block = malloc(want + RPO_ALIGN);
    if (block == NULL)
        return RPO_ERR_NOMEM;
    free(ctx->scratch_block);
    ctx->scratch_block = block;
    uintptr_t p = (uintptr_t)block;
    ctx->scratch = (unsigned char *)block + ((RPO_ALIGN - p % RPO_ALIGN) % RPO_ALIGN);
    ctx->scratch_bytes = want;
    return RPO_OK;
}
