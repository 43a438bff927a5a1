/*
 * The fused linear log-probs' entry points (rpo_linear_logps_*,
 * rpo_linear_logps_backward_*): every check, then the chunked computation
 * of fused_linear_run.c, then the outputs.
 *
 * The forward needs no pass over the weights of its own: a non-finite
 * weight row shows in its chunk's logits, and the results are staged in
 * scratch until the last chunk has passed (the weights are scanned only on
 * that error path, to name the status). The backward accumulates into
 * dweight chunk by chunk, which cannot be undone, so it reads the weight
 * and dweight rows once before anything else: finiteness and the bounds
 * that keep every update in range (rpo.h). That pass is memory-bound and
 * costs about what packing the weights for the products does.
 */
#include <float.h>
#include <math.h>

#include "fused_linear.h"

/* One call's arguments as the caller gave them. */
typedef struct linear_args {
    rpo_dtype type;
    size_t t, h, v, ldw;
    const void *hidden, *weight, *bias;
    const int32_t *targets;
} linear_args;

static const char *type_name(rpo_dtype type)
{
    return type == RPO_F32 ? "float32" : "float64";
}

/* Pointer and size checks of the arguments both directions share. */
static int check_args(rpo_ctx *ctx, const linear_args *a)
{
    if (a->hidden == NULL || a->weight == NULL || a->targets == NULL)
        return rpo_fail(ctx, RPO_ERR_NULL_POINTER, "%s is NULL",
                        a->hidden == NULL ? "hidden"
                        : a->weight == NULL ? "weight" : "targets");
    if (a->h == 0 || a->v == 0)
        return rpo_fail(ctx, RPO_ERR_SIZE, "H and V must be positive (H = %zu, V = %zu)",
                        a->h, a->v);
    if (a->ldw < a->h)
        return rpo_fail(ctx, RPO_ERR_SIZE, "the weight's row stride %zu is below H = %zu",
                        a->ldw, a->h);
    if (rpo_mul_overflows(a->t, a->h) || rpo_mul_overflows(a->v, a->ldw))
        return rpo_fail(ctx, RPO_ERR_SIZE,
                        "(T, H) = (%zu, %zu) or (V, ldw) = (%zu, %zu) overflows size_t",
                        a->t, a->h, a->v, a->ldw);
    for (size_t k = 0; k < a->t; k++)
        if (a->targets[k] >= 0 && (size_t)a->targets[k] >= a->v)
            return rpo_fail(ctx, RPO_ERR_SIZE, "targets[%zu] = %d is not below V = %zu",
                            k, (int)a->targets[k], a->v);
    return RPO_OK;
}

static double value_at(rpo_dtype type, const void *p, size_t at)
{
    return type == RPO_F32 ? (double)((const float *)p)[at] : ((const double *)p)[at];
}

/* The largest |x_k| and the norm of x (n); stats_of returns 0 when x
 * holds NaN or an infinity. */
typedef struct row_stats {
    double max_abs, norm;
} row_stats;

/* Typed, so that the pass over the weights runs at memory speed. A NaN
 * fails every comparison and makes all_finite 0. */
#define STATS_OF(NAME, REAL)                                                   \
    static int NAME(const REAL *x, size_t n, row_stats *out)                   \
    {                                                                          \
        double max_abs = 0.0, sumsq = 0.0;                                     \
        int all_finite = 1;                                                    \
        for (size_t k = 0; k < n; k++) {                                       \
            const double a = fabs((double)x[k]);                               \
            all_finite &= a <= DBL_MAX;                                        \
            max_abs = a > max_abs ? a : max_abs;                               \
            sumsq += a * a;                                                    \
        }                                                                      \
        out->max_abs = max_abs;                                                \
        out->norm = sqrt(sumsq);                                               \
        if (all_finite && !(sumsq <= DBL_MAX) && max_abs > 0.0) {              \
            /* a float64 row beyond 1e154: its squares overflowed; scaled by   \
             * the largest entry, the norm is exact to rounding (infinite only \
             * beyond DBL_MAX). Below 1e-154 they may underflow to a norm of 0:\
             * harmless, its logits are then far inside the range */           \
            double scaled = 0.0;                                               \
            for (size_t k = 0; k < n; k++) {                                   \
                const double q = (double)x[k] / max_abs;                       \
                scaled += q * q;                                               \
            }                                                                  \
            out->norm = max_abs * sqrt(scaled);                                \
        }                                                                      \
        return all_finite;                                                     \
    }
STATS_OF(stats_of_f32, float)
STATS_OF(stats_of_f64, double)

static int stats_of(rpo_dtype type, const void *x, size_t n, row_stats *out)
{
    return type == RPO_F32 ? stats_of_f32(x, n, out) : stats_of_f64(x, n, out);
}

/* The maxima of stats_of over rows (given by index, or 0 .. count - 1) of a
 * (count, ld) array with n used per row; the row that is not finite as
 * *bad when there is one (then returns 0). */
static int stats_of_rows(rpo_dtype type, const void *x, size_t ld, size_t n,
                         const size_t *index, size_t count, row_stats *out,
                         size_t *bad)
{
    const size_t e = type == RPO_F32 ? sizeof(float) : sizeof(double);
    out->max_abs = 0.0;
    out->norm = 0.0;
    for (size_t r = 0; r < count; r++) {
        const size_t row = index != NULL ? index[r] : r;
        row_stats s;
        if (!stats_of(type, (const char *)x + row * ld * e, n, &s)) {
            *bad = row;
            return 0;
        }
        out->max_abs = s.max_abs > out->max_abs ? s.max_abs : out->max_abs;
        out->norm = s.norm > out->norm ? s.norm : out->norm;
    }
    return 1;
}

static double type_max(rpo_dtype type)
{
    return type == RPO_F32 ? (double)FLT_MAX : DBL_MAX;
}

/* The live tokens' positions into rows; returns how many. The backward
 * also skips tokens whose dlogps is 0. */
static size_t live_rows(const linear_args *a, const void *dlogps, size_t *rows)
{
    size_t live = 0;
    for (size_t k = 0; k < a->t; k++) {
        if (a->targets[k] < 0)
            continue;
        if (dlogps != NULL && value_at(a->type, dlogps, k) == 0.0)
            continue;
        if (rows != NULL)
            rows[live] = k;
        live++;
    }
    return live;
}

/* The call of args for `live` tokens, and its scratch: the rows, then the
 * layout of fused_linear_run.c. */
static int prepare(rpo_ctx *ctx, const linear_args *a, const void *dlogps,
                   int backward, rpo_linear_call *c, rpo_linear_layout *lay)
{
    c->type = a->type;
    const rpo_config cfg = rpo_config_of(ctx);
    c->k = a->type == RPO_F32 ? &cfg.kernels->f32 : &cfg.kernels->f64;
    c->h = a->h;
    c->v = a->v;
    c->ldw = a->ldw;
    c->hidden = a->hidden;
    c->weight = a->weight;
    c->bias = a->bias;
    c->targets = a->targets;
    c->live = live_rows(a, dlogps, NULL);
    c->chunk = cfg.linear_chunk;
    c->threads = cfg.threads;
    rpo_scratch_plan plan = {0};
    const size_t rows_at = rpo_scratch_add(&plan, c->live, sizeof(size_t));
    rpo_linear_plan(c, backward, &plan, lay);
    const int status = rpo_scratch_reserve(ctx, &plan);
    if (status != RPO_OK)
        return rpo_fail(ctx, status, "scratch of %zu bytes for %zu tokens, chunk %zu",
                        plan.bytes, c->live, c->chunk);
    size_t *rows = rpo_scratch_at(ctx, rows_at);
    live_rows(a, dlogps, rows);
    c->rows = rows;
    return RPO_OK;
}

/* NaN or infinity in a hidden row that is read, or in the bias when it is. */
static int check_finite_inputs(rpo_ctx *ctx, const rpo_linear_call *c,
                               row_stats *hidden, row_stats *bias)
{
    size_t bad = 0;
    if (!stats_of_rows(c->type, c->hidden, c->h, c->h, c->rows, c->live, hidden, &bad))
        return rpo_fail(ctx, RPO_ERR_NONFINITE, "hidden row %zu holds NaN or infinity", bad);
    bias->max_abs = bias->norm = 0.0;
    /* the bias is read only with the logits of a scored token */
    if (c->bias != NULL && c->live > 0 && !stats_of(c->type, c->bias, c->v, bias))
        return rpo_fail(ctx, RPO_ERR_NONFINITE, "the bias holds NaN or infinity");
    return RPO_OK;
}

static double *scratch_doubles(rpo_ctx *ctx, size_t offset)
{
    return rpo_scratch_at(ctx, offset);
}

static void put(rpo_dtype type, void *p, size_t at, double value)
{
    if (type == RPO_F32)
        ((float *)p)[at] = (float)value;
    else
        ((double *)p)[at] = value;
}

static int linear_forward(rpo_ctx *ctx, const linear_args *a, void *logps, void *lse)
{
    if (ctx == NULL)
        return RPO_ERR_NULL_POINTER;
    rpo_detail_clear(ctx);
    if (a->t == 0)
        return RPO_OK;
    if (logps == NULL)
        return rpo_fail(ctx, RPO_ERR_NULL_POINTER, "logps is NULL");
    int status = check_args(ctx, a);
    if (status != RPO_OK)
        return status;
    rpo_linear_call c;
    rpo_linear_layout lay;
    status = prepare(ctx, a, NULL, 0, &c, &lay);
    if (status != RPO_OK)
        return status;
    row_stats hidden, bias;
    status = check_finite_inputs(ctx, &c, &hidden, &bias);
    if (status != RPO_OK)
        return status;
    if (c.live > 0) {
        status = rpo_linear_forward_run(ctx, &c, &lay);
        if (status != RPO_OK)
            return status;
    }
    const double *logp = scratch_doubles(ctx, lay.target_x);
    const double *row_lse = scratch_doubles(ctx, lay.run_max);
    const double top = type_max(a->type);
    for (size_t i = 0; i < c.live; i++)
        if (!(logp[i] >= -top) || (lse != NULL && !(fabs(row_lse[i]) <= top)))
            return rpo_fail(ctx, RPO_ERR_RANGE,
                            "token %zu: log-prob %g or lse %g outside the %s range",
                            c.rows[i], logp[i], row_lse[i], type_name(a->type));
    for (size_t k = 0, i = 0; k < a->t; k++) {
        const int scored = i < c.live && c.rows[i] == k;
        put(a->type, logps, k, scored ? logp[i] : 0.0);
        if (lse != NULL)
            put(a->type, lse, k, scored ? row_lse[i] : 0.0);
        i += scored ? 1u : 0u;
    }
    return RPO_OK;
}

/* Outputs and per-token inputs of the backward. */
typedef struct backward_args {
    const void *lse, *dlogps;
    void *dhidden, *dweight, *dbias;
} backward_args;

/* Every check of the backward that reads data: finiteness, then the
 * bounds of rpo.h, each within half the type's range so that the
 * rounding of long sums cannot carry it over. */
static int check_backward_data(rpo_ctx *ctx, const rpo_linear_call *c,
                               const backward_args *b)
{
    row_stats hidden, bias, weight, dweight, dbias = {0.0, 0.0}, row;
    int status = check_finite_inputs(ctx, c, &hidden, &bias);
    if (status != RPO_OK)
        return status;
    size_t bad = 0;
    if (!stats_of_rows(c->type, c->weight, c->ldw, c->h, NULL, c->v, &weight, &bad))
        return rpo_fail(ctx, RPO_ERR_NONFINITE, "weight row %zu holds NaN or infinity", bad);
    if (!stats_of_rows(c->type, b->dweight, c->ldw, c->h, NULL, c->v, &dweight, &bad))
        return rpo_fail(ctx, RPO_ERR_NONFINITE, "dweight row %zu holds NaN or infinity", bad);
    if (b->dbias != NULL && !stats_of(c->type, b->dbias, c->v, &dbias))
        return rpo_fail(ctx, RPO_ERR_NONFINITE, "dbias holds NaN or infinity");
    /* sum_t |dlogps[t]|, and that sum times max |hidden| formed term by
     * term: it overflows only where the bound itself does */
    double dlogp_sum = 0.0, dlogp_hidden = 0.0;
    for (size_t i = 0; i < c->live; i++) {
        const size_t t = c->rows[i];
        const double d = value_at(c->type, b->dlogps, t);
        const double l = b->lse != NULL ? value_at(c->type, b->lse, t) : 0.0;
        if (!isfinite(d) || !isfinite(l))
            return rpo_fail(ctx, RPO_ERR_NONFINITE, "dlogps[%zu] or lse[%zu] is NaN or infinite",
                            t, t);
        if (!stats_of(c->type, (const char *)b->dhidden + t * c->h * (c->type == RPO_F32 ? 4 : 8),
                      c->h, &row))
            return rpo_fail(ctx, RPO_ERR_NONFINITE, "dhidden row %zu holds NaN or infinity", t);
        dlogp_sum += fabs(d);
        dlogp_hidden += fabs(d) * hidden.max_abs;
    }
    const double half = type_max(c->type) / 2.0;
    /* |logit| <= |hidden|_2 |weight|_2 <= H max|hidden| max|weight|: the
     * second stands in where a norm is beyond DBL_MAX (infinite) while the
     * bound is not, e.g. weights near DBL_MAX times hidden near 1e-300
     * (fmin takes it when the first is infinity times an underflowed 0) */
    const double logit = fmin(hidden.norm * weight.norm,
                              (double)c->h * (hidden.max_abs * weight.max_abs)) +
                         bias.max_abs;
    if (!(logit + log((double)c->v) <= half))
        return rpo_fail(ctx, RPO_ERR_RANGE,
                        "logits up to |hidden| |weight| + |bias| = %g may overflow %s",
                        logit, type_name(c->type));
    for (size_t i = 0; i < c->live; i++) {
        const size_t t = c->rows[i];
        const double d = fabs(value_at(c->type, b->dlogps, t));
        stats_of(c->type, (const char *)b->dhidden + t * c->h * (c->type == RPO_F32 ? 4 : 8),
                 c->h, &row);
        /* each |g[t, v]| <= |dlogps[t]|, but not their sum: a caller's lse
         * (or one rounded to float at 1e38) may leave every clamped
         * softmax entry at 1 */
        if (!(row.max_abs + d * weight.max_abs * (double)c->v <= half))
            return rpo_fail(ctx, RPO_ERR_RANGE, "dhidden row %zu may overflow %s", t,
                            type_name(c->type));
    }
    if (!(dweight.max_abs + dlogp_hidden <= half))
        return rpo_fail(ctx, RPO_ERR_RANGE,
                        "dweight may overflow %s (sum |dlogps| max |hidden| = %g)",
                        type_name(c->type), dlogp_hidden);
    if (b->dbias != NULL && !(dbias.max_abs + dlogp_sum <= half))
        return rpo_fail(ctx, RPO_ERR_RANGE, "dbias may overflow %s (sum |dlogps| = %g)",
                        type_name(c->type), dlogp_sum);
    return RPO_OK;
}

static int linear_backward(rpo_ctx *ctx, const linear_args *a, const backward_args *b)
{
    if (ctx == NULL)
        return RPO_ERR_NULL_POINTER;
    rpo_detail_clear(ctx);
    if (a->t == 0)
        return RPO_OK;
    if (b->dlogps == NULL || b->dhidden == NULL || b->dweight == NULL)
        return rpo_fail(ctx, RPO_ERR_NULL_POINTER, "%s is NULL",
                        b->dlogps == NULL ? "dlogps"
                        : b->dhidden == NULL ? "dhidden" : "dweight");
    int status = check_args(ctx, a);
    if (status != RPO_OK)
        return status;
    rpo_linear_call c;
    rpo_linear_layout lay;
    status = prepare(ctx, a, b->dlogps, 1, &c, &lay);
    if (status != RPO_OK)
        return status;
    if (c.live == 0)
        return RPO_OK;
    status = check_backward_data(ctx, &c, b);
    if (status != RPO_OK)
        return status;
    if (b->lse == NULL) {
        /* finite inputs within the bounds just checked: cannot fail */
        status = rpo_linear_forward_run(ctx, &c, &lay);
        if (status != RPO_OK)
            return status;
    } else {
        double *lse = scratch_doubles(ctx, lay.run_max);
        for (size_t i = 0; i < c.live; i++)
            lse[i] = value_at(a->type, b->lse, c.rows[i]);
    }
    double *dlogp = scratch_doubles(ctx, lay.dlogp);
    for (size_t i = 0; i < c.live; i++)
        dlogp[i] = value_at(a->type, b->dlogps, c.rows[i]);
    rpo_linear_grads g;
    g.dhidden = b->dhidden;
    g.dweight = b->dweight;
    g.dbias = b->dbias;
    rpo_linear_backward_run(ctx, &c, &lay, &g);
    return RPO_OK;
}

static linear_args args_of(rpo_dtype type, size_t t, size_t h, size_t v,
                           const void *hidden, const void *weight, size_t ldw,
                           const void *bias, const int32_t *targets)
{
    linear_args a;
    a.type = type;
    a.t = t;
    a.h = h;
    a.v = v;
    a.ldw = ldw;
    a.hidden = hidden;
    a.weight = weight;
    a.bias = bias;
    a.targets = targets;
    return a;
}

int rpo_linear_logps_f32(rpo_ctx *ctx, size_t t, size_t h, size_t v,
                         const float *hidden, const float *weight, size_t ldw,
                         const float *bias, const int32_t *targets,
                         float *logps, float *lse)
{
    const linear_args a = args_of(RPO_F32, t, h, v, hidden, weight, ldw, bias, targets);
    return linear_forward(ctx, &a, logps, lse);
}

int rpo_linear_logps_f64(rpo_ctx *ctx, size_t t, size_t h, size_t v,
                         const double *hidden, const double *weight, size_t ldw,
                         const double *bias, const int32_t *targets,
                         double *logps, double *lse)
{
    const linear_args a = args_of(RPO_F64, t, h, v, hidden, weight, ldw, bias, targets);
    return linear_forward(ctx, &a, logps, lse);
}

int rpo_linear_logps_backward_f32(rpo_ctx *ctx, size_t t, size_t h, size_t v,
                                  const float *hidden, const float *weight,
                                  size_t ldw, const float *bias,
                                  const int32_t *targets, const float *lse,
                                  const float *dlogps, float *dhidden,
                                  float *dweight, float *dbias)
{
    const linear_args a = args_of(RPO_F32, t, h, v, hidden, weight, ldw, bias, targets);
    const backward_args b = {lse, dlogps, dhidden, dweight, dbias};
    return linear_backward(ctx, &a, &b);
}

int rpo_linear_logps_backward_f64(rpo_ctx *ctx, size_t t, size_t h, size_t v,
                                  const double *hidden, const double *weight,
                                  size_t ldw, const double *bias,
                                  const int32_t *targets, const double *lse,
                                  const double *dlogps, double *dhidden,
                                  double *dweight, double *dbias)
{
    const linear_args a = args_of(RPO_F64, t, h, v, hidden, weight, ldw, bias, targets);
    const backward_args b = {lse, dlogps, dhidden, dweight, dbias};
    return linear_backward(ctx, &a, &b);
}
